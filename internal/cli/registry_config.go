package cli

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/registry"
)

// Credentials live where the docker CLI keeps them, and berth finds them the
// way docker 28 does, so both CLIs share one login. <config dir>/config.json:
//
//	{
//		"auths": {
//			"https://index.docker.io/v1/": {"auth": "base64(user:password)"},
//			"reg.example:5000": {"auth": "...", "identitytoken": "..."},
//			"ghcr.io": {}
//		},
//		"credsStore": "pass",
//		"credHelpers": {"123456789012.dkr.ecr.eu-west-1.amazonaws.com": "ecr-login"},
//		...other keys, kept as they are
//	}
//
// Every registry has a key: Docker Hub's is its historical index address
// "https://index.docker.io/v1/", any other registry's is its host[:port].
// The key chooses the store that holds the registry's credentials:
//
//   - credHelpers[key], when present, names the credential helper of that
//     registry alone (an empty name means the file itself);
//   - else credsStore names the helper of every registry;
//   - else the credentials sit in "auths", in the file (fileStore).
//
// A helper is the program docker-credential-<name> found along PATH, spoken
// to with the docker-credential-helpers protocol (registry_credhelper.go).
// A login through a helper leaves an empty entry under "auths" ("ghcr.io"
// above): a marker of where one is logged in; the secret is in the helper.
//
// A file without any credentials setting (no auths, credsStore nor
// credHelpers) gets the platform's default helper when it is installed: on
// Linux docker-credential-pass when `pass` is on PATH, else
// docker-credential-secretservice. The next save writes it as credsStore, as
// docker does.
//
// Pull and push send the credentials they find (nothing when a store fails:
// docker 28 pulls anonymously then); login stores; logout erases.

// dockerHubServer is the key of Docker Hub's credentials.
const dockerHubServer = "https://index.docker.io/v1/"

// authEntry is one registry's entry under "auths", decoded: "auth" holds
// base64("username:password"), written back the same way.
type authEntry struct {
	Username      string
	Password      string
	Email         string // deprecated by docker, kept as found
	IdentityToken string
	RegistryToken string
}

// authEntryJSON is an entry as config.json spells it. Docker also reads
// "username" and "password" written out in clear, and writes them as "auth".
type authEntryJSON struct {
	Auth          string `json:"auth,omitempty"`
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	Email         string `json:"email,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
	RegistryToken string `json:"registrytoken,omitempty"`
}

func (e *authEntry) UnmarshalJSON(b []byte) error {
	var j authEntryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*e = authEntry{Username: j.Username, Password: j.Password, Email: j.Email, IdentityToken: j.IdentityToken, RegistryToken: j.RegistryToken}
	if j.Auth != "" {
		// An undecodable "auth" reads as no username and password.
		b, err := base64.StdEncoding.DecodeString(j.Auth)
		if err != nil {
			b = nil
		}
		e.Username, e.Password, _ = strings.Cut(string(b), ":")
		e.Password = strings.Trim(e.Password, "\x00")
	}
	return nil
}

func (e authEntry) MarshalJSON() ([]byte, error) {
	j := authEntryJSON{Email: e.Email, IdentityToken: e.IdentityToken, RegistryToken: e.RegistryToken}
	if e.Username != "" || e.Password != "" {
		j.Auth = base64.StdEncoding.EncodeToString([]byte(e.Username + ":" + e.Password))
	}
	return json.Marshal(j)
}

// clientConfig is config.json: its credentials settings, every other key
// untouched, and what it takes to run credential helpers.
type clientConfig struct {
	path        string
	other       map[string]json.RawMessage
	auths       map[string]authEntry
	credsStore  string
	credHelpers map[string]string

	// searchPath is the PATH along which helper programs are found.
	searchPath string
	// stderr receives helpers' own messages and the warning about
	// credentials stored in clear.
	stderr io.Writer
}

func (c *CLI) configPath() string { return filepath.Join(c.ConfigDir(), "config.json") }

// loadConfig reads the CLI's config.json (a missing file is an empty
// configuration) with its default credential helper chosen, ready to run
// helpers along the CLI's PATH.
func (c *CLI) loadConfig() (*clientConfig, error) {
	cfg, err := loadClientConfig(c.configPath())
	if err != nil {
		return nil, err
	}
	cfg.searchPath = c.env.Getenv("PATH")
	cfg.stderr = c.env.Stderr
	if cfg.stderr == nil {
		cfg.stderr = io.Discard
	}
	if !cfg.containsAuth() {
		if name := defaultCredentialsStore(cfg.searchPath); name != "" {
			cfg.credsStore = name
			raw, _ := json.Marshal(name)
			cfg.other["credsStore"] = raw
		}
	}
	return cfg, nil
}

// loadClientConfig reads path; a missing file is an empty configuration.
func loadClientConfig(path string) (*clientConfig, error) {
	cfg := &clientConfig{path: path, other: map[string]json.RawMessage{}, auths: map[string]authEntry{}, stderr: io.Discard}
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
	for key, dst := range map[string]any{"auths": &cfg.auths, "credsStore": &cfg.credsStore, "credHelpers": &cfg.credHelpers} {
		if raw, ok := cfg.other[key]; ok {
			if err := json.Unmarshal(raw, dst); err != nil {
				return nil, fmt.Errorf("client configuration %s: %s: %w", path, key, err)
			}
		}
	}
	if cfg.auths == nil {
		cfg.auths = map[string]authEntry{}
	}
	return cfg, nil
}

// containsAuth reports whether the file says anything about credentials.
func (cfg *clientConfig) containsAuth() bool {
	return cfg.credsStore != "" || len(cfg.credHelpers) > 0 || len(cfg.auths) > 0
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

// credentialStore holds registries' credentials by key. get of a key it has
// nothing for returns empty credentials and no error.
type credentialStore interface {
	get(key string) (registry.AuthConfig, error)
	// store keeps ac under ac.ServerAddress.
	store(ac registry.AuthConfig) error
	erase(key string) error
}

// storeFor is the store that holds the credentials of key: its own helper,
// else the common one, else the file.
func (cfg *clientConfig) storeFor(key string) credentialStore {
	name := cfg.credsStore
	if h, ok := cfg.credHelpers[key]; ok && key != "" {
		name = h
	}
	file := fileStore{cfg}
	if name == "" {
		return file
	}
	return helperStore{helper: credentialHelper{name: "docker-credential-" + name, searchPath: cfg.searchPath, stderr: cfg.stderr}, file: file}
}

// fileStore keeps credentials in clear under "auths".
type fileStore struct{ cfg *clientConfig }

// get finds key's entry, else one written under an older spelling of the
// same registry ("https://reg.example:5000", "http://reg.example/v1/"); the
// credentials carry the key they were found under.
func (s fileStore) get(key string) (registry.AuthConfig, error) {
	if e, ok := s.cfg.auths[key]; ok {
		return e.authConfig(key), nil
	}
	for _, k := range slices.Sorted(maps.Keys(s.cfg.auths)) {
		if convertToHostname(k) == key {
			return s.cfg.auths[k].authConfig(k), nil
		}
	}
	return registry.AuthConfig{}, nil
}

// store writes the file only when the entry changes, and then warns that a
// password is kept in clear, as docker does.
func (s fileStore) store(ac registry.AuthConfig) error {
	old, had := s.cfg.auths[ac.ServerAddress]
	e := authEntry{Username: ac.Username, Password: ac.Password, Email: old.Email, IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken}
	if had && old == e {
		return nil
	}
	s.cfg.auths[ac.ServerAddress] = e
	if err := s.cfg.save(); err != nil {
		return err
	}
	if ac.Password != "" {
		fmt.Fprintf(s.cfg.stderr, "\nWARNING! Your credentials are stored unencrypted in '%s'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n", s.cfg.path)
	}
	return nil
}

// erase removes key's entry; the file is written only if it had one.
func (s fileStore) erase(key string) error {
	if _, ok := s.cfg.auths[key]; !ok {
		return nil
	}
	delete(s.cfg.auths, key)
	return s.cfg.save()
}

func (e authEntry) authConfig(key string) registry.AuthConfig {
	return registry.AuthConfig{Username: e.Username, Password: e.Password, ServerAddress: key,
		IdentityToken: e.IdentityToken, RegistryToken: e.RegistryToken}
}

// convertToHostname is the host[:port] of a server address as users write
// it: "https://reg.example:5000/v2/" -> "reg.example:5000", "reg.example/x"
// -> "reg.example".
func convertToHostname(server string) string {
	if strings.Contains(server, "://") {
		if u, err := url.Parse(server); err == nil && u.Hostname() != "" {
			if u.Port() == "" {
				return u.Hostname()
			}
			return net.JoinHostPort(u.Hostname(), u.Port())
		}
	}
	host, _, _ := strings.Cut(server, "/")
	return host
}

// serverKey is the config.json key of the registry that serves ref.
func serverKey(ref reference.Named) string {
	if d := reference.Domain(ref); d != "docker.io" && d != "index.docker.io" {
		return d
	}
	return dockerHubServer
}

// registryAuth is the X-Registry-Auth value for pulling or pushing ref: the
// stored credentials for its registry (or none) as base64url JSON, the form
// moby's client passes on. A store that fails (a helper missing or broken)
// means anonymous, as with docker 28; the helper's own messages reach stderr.
func (c *CLI) registryAuth(ref reference.Named) (string, error) {
	cfg, err := c.loadConfig()
	if err != nil {
		return "", err
	}
	key := serverKey(ref)
	ac, _ := cfg.storeFor(key).get(key)
	return encodeAuthConfig(ac)
}

func encodeAuthConfig(ac registry.AuthConfig) (string, error) {
	b, err := json.Marshal(ac)
	if err != nil {
		return "", err
	}
	return base64.URLEncoding.EncodeToString(b), nil
}
