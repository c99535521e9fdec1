package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/moby/moby/api/types/registry"
)

// A credential helper is a program docker-credential-<name> ("pass",
// "secretservice", "desktop", "osxkeychain", "ecr-login", ...) that keeps
// secrets for the docker CLI, and for berth. It is run once per operation with
// the action as its only argument, the request on stdin and the answer on
// stdout (its stderr is the user's):
//
//	get    stdin: https://index.docker.io/v1/
//	       stdout: {"ServerURL":"https://index.docker.io/v1/","Username":"alice","Secret":"s3cret"}
//	store  stdin: {"ServerURL":"reg.example:5000","Username":"alice","Secret":"s3cret"}
//	erase  stdin: reg.example:5000
//	list   (not used by berth)
//
// A helper that has nothing for the server exits non-zero after printing
// "credentials not found in native keychain": no credentials, not a failure.
// The username "<token>" marks the secret as an identity token (the refresh
// token some registries give at login) rather than a password.
//
// Failures read as docker's, one line with the helper's output:
//
//	error getting credentials - err: exit status 1, out: `...`
//	error storing credentials - err: exec: "docker-credential-nosuch": executable file not found in $PATH, out: ``

// helperTokenUsername is the username under which a helper keeps an
// identity token.
const helperTokenUsername = "<token>"

// errCredentialsNotFound is a helper's answer when it has nothing for a
// server.
var errCredentialsNotFound = errors.New("credentials not found in native keychain")

// The helper messages that stand for a malformed request.
var (
	errMissingServerURL = errors.New("no credentials server URL")
	errMissingUsername  = errors.New("no credentials username")
)

// helperCredentials is the protocol's JSON document.
type helperCredentials struct {
	ServerURL string
	Username  string
	Secret    string
}

// credentialHelper runs one helper program.
type credentialHelper struct {
	name       string // "docker-credential-pass"
	searchPath string // PATH to find it along
	stderr     io.Writer
}

// run runs the helper for action with input on stdin and returns its stdout.
func (h credentialHelper) run(action string, input []byte) ([]byte, error) {
	prog, err := lookPath(h.name, h.searchPath)
	if err != nil {
		return nil, err
	}
	cmd := &exec.Cmd{Path: prog, Args: []string{h.name, action}, Stdin: bytes.NewReader(input), Stderr: h.stderr}
	return cmd.Output()
}

// helperError is the error of a failed action: err, unless the helper's output
// names one of the protocol's own errors, and the output itself.
func helperError(what string, err error, out []byte) error {
	msg := strings.TrimSpace(string(out))
	switch msg {
	case errMissingServerURL.Error():
		err = errMissingServerURL
	case errMissingUsername.Error():
		err = errMissingUsername
	}
	return fmt.Errorf("error %s credentials - err: %w, out: `%s`", what, err, msg)
}

// get returns the helper's credentials for server, errCredentialsNotFound
// when it has none.
func (h credentialHelper) get(server string) (helperCredentials, error) {
	out, err := h.run("get", []byte(server))
	if err != nil {
		if strings.TrimSpace(string(out)) == errCredentialsNotFound.Error() {
			return helperCredentials{}, errCredentialsNotFound
		}
		return helperCredentials{}, helperError("getting", err, out)
	}
	c := helperCredentials{ServerURL: server}
	if err := json.NewDecoder(bytes.NewReader(out)).Decode(&c); err != nil {
		return helperCredentials{}, fmt.Errorf("error getting credentials from %s: %w", h.name, err)
	}
	return c, nil
}

func (h credentialHelper) store(c helperCredentials) error {
	in, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if out, err := h.run("store", append(in, '\n')); err != nil {
		return helperError("storing", err, out)
	}
	return nil
}

func (h credentialHelper) erase(server string) error {
	if out, err := h.run("erase", []byte(server)); err != nil {
		return helperError("erasing", err, out)
	}
	return nil
}

// helperStore keeps secrets in a helper and, in the file, an empty entry
// per registry (with the email docker once kept there).
type helperStore struct {
	helper credentialHelper
	file   fileStore
}

// get asks the helper. When the helper fails it returns the file's entry
// with the error (docker's callers that ignore the error use that entry).
func (s helperStore) get(key string) (registry.AuthConfig, error) {
	ac, _ := s.file.get(key)
	c, err := s.helper.get(key)
	switch {
	case errors.Is(err, errCredentialsNotFound):
		// Nothing stored: no credentials, not even the file's address.
		ac.Username, ac.Password, ac.IdentityToken, ac.ServerAddress = "", "", "", ""
		return ac, nil
	case err != nil:
		return ac, err
	}
	ac.Username, ac.Password, ac.IdentityToken, ac.ServerAddress = c.Username, c.Secret, "", key
	if c.Username == helperTokenUsername {
		ac.Username, ac.Password, ac.IdentityToken = "", "", c.Secret
	}
	return ac, nil
}

// store hands the secret to the helper, then leaves the file's marker.
func (s helperStore) store(ac registry.AuthConfig) error {
	c := helperCredentials{ServerURL: ac.ServerAddress, Username: ac.Username, Secret: ac.Password}
	if ac.IdentityToken != "" {
		c.Username, c.Secret = helperTokenUsername, ac.IdentityToken
	}
	if err := s.helper.store(c); err != nil {
		return err
	}
	ac.Username, ac.Password, ac.IdentityToken = "", "", ""
	return s.file.store(ac)
}

// erase removes the secret from the helper, then the file's marker.
func (s helperStore) erase(key string) error {
	if err := s.helper.erase(key); err != nil {
		return err
	}
	return s.file.erase(key)
}

// defaultCredentialsStore is the helper docker uses on this platform when
// config.json names none, if that helper is installed along searchPath.
func defaultCredentialsStore(searchPath string) string {
	var name string
	switch runtime.GOOS {
	case "linux":
		name = "secretservice"
		if _, err := lookPath("pass", searchPath); err == nil {
			name = "pass"
		}
	case "darwin":
		name = "osxkeychain"
	case "windows":
		name = "wincred"
	default:
		return ""
	}
	if _, err := lookPath("docker-credential-"+name, searchPath); err != nil {
		return ""
	}
	return name
}

// lookPath finds the executable name in the directories of searchPath, a
// PATH value (the CLI's environment, not necessarily the process's).
// Relative entries are skipped, as os/exec refuses them. Not found is
// os/exec's error, so it reads as docker's.
func lookPath(name, searchPath string) (string, error) {
	names := []string{name}
	if runtime.GOOS == "windows" {
		names = []string{name + ".exe", name}
	}
	for _, dir := range filepath.SplitList(searchPath) {
		if !filepath.IsAbs(dir) {
			continue
		}
		for _, n := range names {
			p := filepath.Join(dir, n)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() && (runtime.GOOS == "windows" || fi.Mode().Perm()&0o111 != 0) {
				return p, nil
			}
		}
	}
	return "", &exec.Error{Name: name, Err: exec.ErrNotFound}
}
