package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/berth-engine/berth/internal/atomicfile"
)

// DockerHubConfigKey is the key under which Docker stores the login for docker.io in
// config.json (a URL for historical reasons).
const DockerHubConfigKey = "https://index.docker.io/v1/"

// ConfigFile is a Docker CLI config.json, read for its "auths" section:
//
//	{
//	  "auths": {
//	    "https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"},
//	    "registry.example.com:5000": {"auth": "...", "identitytoken": "..."}
//	  },
//	  "credsStore": "desktop", ...
//	}
//
// "auth" is base64("user:password"). An "identitytoken" takes the place of the password
// and is returned with the user IdentityTokenUser. Credential helpers (credsStore,
// credHelpers) are not run: a host whose login lives only in a helper reads as anonymous.
// Every other key of the file is kept untouched when the file is saved again.
type ConfigFile struct {
	path  string
	raw   map[string]json.RawMessage
	auths map[string]AuthEntry
}

// AuthEntry is one login of config.json's "auths".
type AuthEntry struct {
	Auth          string `json:"auth,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
	// Username and Password are read for old files that stored them in clear; they
	// are never written.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
}

// DefaultConfigPath is where the docker CLI keeps its config: $DOCKER_CONFIG/config.json,
// or ~/.docker/config.json.
func DefaultConfigPath() string {
	if dir := os.Getenv("DOCKER_CONFIG"); dir != "" {
		return filepath.Join(dir, "config.json")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "/root"
	}
	return filepath.Join(home, ".docker", "config.json")
}

// LoadConfigFile reads path. A missing file is an empty config, not an error, so that a
// user who never logged in pulls anonymously.
func LoadConfigFile(path string) (*ConfigFile, error) {
	cf := &ConfigFile{path: path, raw: map[string]json.RawMessage{}, auths: map[string]AuthEntry{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cf, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read docker config: %w", err)
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return cf, nil
	}
	if err := json.Unmarshal(data, &cf.raw); err != nil {
		return nil, fmt.Errorf("parse docker config %s: %w", path, err)
	}
	if a, ok := cf.raw["auths"]; ok {
		if err := json.Unmarshal(a, &cf.auths); err != nil {
			return nil, fmt.Errorf("parse docker config %s: auths: %w", path, err)
		}
		if cf.auths == nil {
			cf.auths = map[string]AuthEntry{}
		}
	}
	return cf, nil
}

// Credentials returns the login stored for host, or empty strings for anonymous.
func (cf *ConfigFile) Credentials(host string) (string, string, error) {
	key, ok := cf.find(host)
	if !ok {
		return "", "", nil
	}
	e := cf.auths[key]
	if e.IdentityToken != "" {
		return IdentityTokenUser, e.IdentityToken, nil
	}
	if e.Auth == "" {
		return e.Username, e.Password, nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(e.Auth))
	if err != nil {
		return "", "", fmt.Errorf("docker config %s: login for %s: auth is not base64: %w", cf.path, key, err)
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", fmt.Errorf("docker config %s: login for %s: auth is not user:password", cf.path, key)
	}
	return user, pass, nil
}

// Set stores a login for host (replacing any other key naming the same host). A user of
// IdentityTokenUser stores pass as the identity token.
func (cf *ConfigFile) Set(host, user, pass string) {
	cf.Remove(host)
	e := AuthEntry{Auth: base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}
	if user == IdentityTokenUser {
		e = AuthEntry{Auth: base64.StdEncoding.EncodeToString([]byte(":")), IdentityToken: pass}
	}
	cf.auths[configKey(host)] = e
}

// Remove forgets every login stored for host. It reports whether there was one.
func (cf *ConfigFile) Remove(host string) bool {
	found := false
	for {
		key, ok := cf.find(host)
		if !ok {
			return found
		}
		delete(cf.auths, key)
		found = true
	}
}

// Hosts lists the registries config.json holds a login for, as registry names.
func (cf *ConfigFile) Hosts() []string {
	var hosts []string
	for k := range cf.auths {
		hosts = append(hosts, keyHost(k))
	}
	sort.Strings(hosts)
	return hosts
}

// Save writes the file back atomically with mode 0600, creating its directory.
func (cf *ConfigFile) Save() error {
	auths, err := json.Marshal(cf.auths)
	if err != nil {
		return err
	}
	cf.raw["auths"] = auths
	data, err := json.MarshalIndent(cf.raw, "", "\t")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(cf.path), 0o700); err != nil {
		return fmt.Errorf("save docker config: %w", err)
	}
	if err := atomicfile.WriteFile(cf.path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save docker config: %w", err)
	}
	return nil
}

// find returns the key of auths that names host: the exact key first, then any key
// whose host part matches (keys may be written "https://host/v1/" or "host").
func (cf *ConfigFile) find(host string) (string, bool) {
	want := canonicalHost(host)
	if _, ok := cf.auths[configKey(host)]; ok {
		return configKey(host), true
	}
	keys := make([]string, 0, len(cf.auths))
	for k := range cf.auths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if canonicalHost(keyHost(k)) == want {
			return k, true
		}
	}
	return "", false
}

// configKey is the key Docker writes for host.
func configKey(host string) string {
	if canonicalHost(host) == "docker.io" {
		return DockerHubConfigKey
	}
	return host
}

// keyHost strips a scheme and a path from a config key.
func keyHost(key string) string {
	k := key
	if i := strings.Index(k, "://"); i >= 0 {
		k = k[i+3:]
	}
	if i := strings.IndexByte(k, '/'); i >= 0 {
		k = k[:i]
	}
	return canonicalHost(k)
}

// canonicalHost maps Docker Hub's several names to docker.io.
func canonicalHost(h string) string {
	h = strings.ToLower(h)
	switch h {
	case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return "docker.io"
	}
	return h
}
