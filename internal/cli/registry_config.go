package cli

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/registry"
)

// Credentials live in <config dir>/config.json as docker keeps them:
//
//	{
//		"auths": {
//			"https://index.docker.io/v1/": {"auth": "base64(user:password)"},
//			"reg.example:5000": {"auth": "...", "identitytoken": "..."}
//		},
//		...other keys, kept as they are
//	}
//
// Docker Hub's key is its historical index address; any other registry's is
// its host[:port]. Credential helpers (credsStore, credHelpers) are not
// supported: berth reads and writes the file only.

// dockerHubServer is the key of Docker Hub's credentials.
const dockerHubServer = "https://index.docker.io/v1/"

// authEntry is one registry's stored credentials.
type authEntry struct {
	Auth          string `json:"auth,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
}

// clientConfig is config.json: its auths, and every other key untouched.
type clientConfig struct {
	path  string
	other map[string]json.RawMessage
	auths map[string]authEntry
}

func (c *CLI) configPath() string { return filepath.Join(c.ConfigDir(), "config.json") }

// loadClientConfig reads path; a missing file is an empty configuration.
func loadClientConfig(path string) (*clientConfig, error) {
	cfg := &clientConfig{path: path, other: map[string]json.RawMessage{}, auths: map[string]authEntry{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return nil, fmt.Errorf("client configuration: %w", err)
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return cfg, nil
	}
	if err := json.Unmarshal(data, &cfg.other); err != nil {
		return nil, fmt.Errorf("client configuration %s: %w", path, err)
	}
	if raw, ok := cfg.other["auths"]; ok {
		if err := json.Unmarshal(raw, &cfg.auths); err != nil {
			return nil, fmt.Errorf("client configuration %s: auths: %w", path, err)
		}
		if cfg.auths == nil {
			cfg.auths = map[string]authEntry{}
		}
	}
	return cfg, nil
}

// save writes the configuration atomically, readable by its owner only.
func (cfg *clientConfig) save() error {
	auths, err := json.Marshal(cfg.auths)
	if err != nil {
		return err
	}
	cfg.other["auths"] = auths
	data, err := json.MarshalIndent(cfg.other, "", "\t")
	if err != nil {
		return err
	}
	dir := filepath.Dir(cfg.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("client configuration: %w", err)
	}
	f, err := os.CreateTemp(dir, ".config.json-")
	if err != nil {
		return fmt.Errorf("client configuration: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("client configuration: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("client configuration: %w", err)
	}
	if err := os.Rename(f.Name(), cfg.path); err != nil {
		return fmt.Errorf("client configuration: %w", err)
	}
	return nil
}

// lookup finds the credentials for server (a key as login stores it), also
// under the older spellings "http://host" and "https://host/...".
func (cfg *clientConfig) lookup(server string) (registry.AuthConfig, bool) {
	if e, ok := cfg.auths[server]; ok {
		return e.decode(server), true
	}
	host := registryHostname(server)
	for _, k := range sortedKeys(cfg.auths) {
		if registryHostname(k) == host {
			return cfg.auths[k].decode(server), true
		}
	}
	return registry.AuthConfig{ServerAddress: server}, false
}

func (e authEntry) decode(server string) registry.AuthConfig {
	ac := registry.AuthConfig{ServerAddress: server, IdentityToken: e.IdentityToken}
	if b, err := base64.StdEncoding.DecodeString(e.Auth); err == nil {
		ac.Username, ac.Password, _ = strings.Cut(string(b), ":")
	}
	return ac
}

func encodeEntry(ac registry.AuthConfig) authEntry {
	e := authEntry{IdentityToken: ac.IdentityToken}
	if ac.Username != "" || ac.Password != "" {
		e.Auth = base64.StdEncoding.EncodeToString([]byte(ac.Username + ":" + ac.Password))
	}
	return e
}

// registryHostname is the host[:port] of a server address as users write
// it: "https://reg.example:5000/v2/" -> "reg.example:5000".
func registryHostname(server string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")
	s, _, _ = strings.Cut(s, "/")
	return s
}

// serverKey is the config.json key of the registry that serves ref.
func serverKey(ref reference.Named) string {
	if d := reference.Domain(ref); d != "docker.io" {
		return d
	}
	return dockerHubServer
}

// registryAuth is the X-Registry-Auth value for pulling or pushing ref: the
// stored credentials for its registry (or none) as base64url JSON, the form
// moby's client passes on.
func (c *CLI) registryAuth(ref reference.Named) (string, error) {
	cfg, err := loadClientConfig(c.configPath())
	if err != nil {
		return "", err
	}
	ac, _ := cfg.lookup(serverKey(ref))
	return encodeAuthConfig(ac)
}

func encodeAuthConfig(ac registry.AuthConfig) (string, error) {
	b, err := json.Marshal(ac)
	if err != nil {
		return "", err
	}
	return base64.URLEncoding.EncodeToString(b), nil
}
