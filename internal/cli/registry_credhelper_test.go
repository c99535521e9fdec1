package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"
)

// fakeHelperScript is a credential helper in the protocol's terms. It logs
// each call ("action stdin") and keeps credentials in a directory, one file
// per server URL (named by its hex) holding the JSON that get prints.
const fakeHelperScript = `#!/bin/sh
log='@LOG@' db='@DB@'
in=$(cat)
printf '%s %s\n' "$1" "$in" >>"$log"
key() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
case "$1" in
store)
	url=$(printf '%s' "$in" | sed -n 's/^{"ServerURL":"\([^"]*\)".*/\1/p')
	[ -n "$url" ] || { echo "no credentials server URL"; exit 1; }
	printf '%s' "$in" >"$db/$(key "$url")" ;;
get|erase)
	f="$db/$(key "$in")"
	[ -f "$f" ] || { echo "credentials not found in native keychain"; exit 1; }
	if [ "$1" = get ]; then cat "$f"; else rm "$f"; fi ;;
*)
	echo "unknown action $1" >&2; exit 1 ;;
esac
`

// fakeHelper is docker-credential-<name> in a PATH directory of its own.
type fakeHelper struct {
	t            *testing.T
	bin, log, db string
}

func newFakeHelper(t *testing.T, name string) *fakeHelper {
	t.Helper()
	dir := t.TempDir()
	h := &fakeHelper{t: t, bin: filepath.Join(dir, "bin"), log: filepath.Join(dir, "calls.log"), db: filepath.Join(dir, "db")}
	for _, d := range []string{h.bin, h.db} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script := strings.NewReplacer("@LOG@", h.log, "@DB@", h.db).Replace(fakeHelperScript)
	if err := os.WriteFile(filepath.Join(h.bin, "docker-credential-"+name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return h
}

// put stores credentials as a login through the helper would have.
func (h *fakeHelper) put(server, user, secret string) {
	b, _ := json.Marshal(helperCredentials{ServerURL: server, Username: user, Secret: secret})
	if err := os.WriteFile(filepath.Join(h.db, hex.EncodeToString([]byte(server))), b, 0o600); err != nil {
		h.t.Fatal(err)
	}
}

// stored returns what the helper holds for server.
func (h *fakeHelper) stored(server string) (helperCredentials, bool) {
	var c helperCredentials
	b, err := os.ReadFile(filepath.Join(h.db, hex.EncodeToString([]byte(server))))
	if err != nil {
		return c, false
	}
	if err := json.Unmarshal(b, &c); err != nil {
		h.t.Fatalf("helper entry for %s: %v", server, err)
	}
	return c, true
}

// calls returns the calls made since the last calls, one "action stdin"
// line each.
func (h *fakeHelper) calls() []string {
	b, err := os.ReadFile(h.log)
	if err != nil && !os.IsNotExist(err) {
		h.t.Fatal(err)
	}
	os.Remove(h.log)
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// runWith runs berth against d with the environment env and stdin.
func runWith(t *testing.T, d *fakeDaemon, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), append([]string{"-H", d.Host()}, args...), Env{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string { return env[k] },
	})
	return result{out.String(), errOut.String(), code}
}

// writeConfig writes config.json in a new config directory.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// readConfig returns config.json of dir, decoded.
func readConfig(t *testing.T, dir string) map[string]any {
	t.Helper()
	var cfg map[string]any
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("config.json: %v\n%s", err, data)
	}
	return cfg
}

// sentAuth decodes the X-Registry-Auth header of d's last request to path.
func sentAuth(t *testing.T, d *fakeDaemon, path string) registry.AuthConfig {
	t.Helper()
	var auth registry.AuthConfig
	h := d.lastRequest(path).Header.Get(registry.AuthHeader)
	b, err := base64.URLEncoding.DecodeString(h)
	if err != nil || json.Unmarshal(b, &auth) != nil {
		t.Fatalf("X-Registry-Auth %q: %v", h, err)
	}
	return auth
}

// credsDaemon is a fake daemon that logs in (answering token as identity
// token, if any), pulls and pushes.
func credsDaemon(t *testing.T, token string) (*fakeDaemon, *[]registry.AuthConfig) {
	d := newFakeDaemon(t)
	logins := &[]registry.AuthConfig{}
	d.mux.HandleFunc("POST /auth", func(w http.ResponseWriter, r *http.Request) {
		var got registry.AuthConfig
		json.NewDecoder(r.Body).Decode(&got)
		*logins = append(*logins, got)
		json.NewEncoder(w).Encode(registry.AuthResponse{Status: "Login Succeeded", IdentityToken: token})
	})
	d.streamJSON("POST /images/create", jsonstream.Message{Status: "Status: Image is up to date for x"})
	d.streamJSON("POST /images/{name...}", jsonstream.Message{Status: "latest: digest: " + bboxDgt + " size: 527"})
	return d, logins
}

func TestCredentialHelperLoginPullPushLogout(t *testing.T) {
	d, logins := credsDaemon(t, "")
	h := newFakeHelper(t, "berthtest")
	config := writeConfig(t, `{"credsStore":"berthtest","detachKeys":"ctrl-x"}`)
	env := map[string]string{"PATH": h.bin, EnvConfigDir: config}

	// Login: the secret goes to the helper, config.json keeps a marker.
	r := runWith(t, d, env, "s3cret\n", "login", "-u", "alice", "--password-stdin", "https://reg.local:5000/v2/")
	if r.code != 0 || r.stdout != "Login Succeeded\n" || r.stderr != "" {
		t.Fatalf("login: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if want := []registry.AuthConfig{{Username: "alice", Password: "s3cret", ServerAddress: "reg.local:5000"}}; !reflect.DeepEqual(*logins, want) {
		t.Errorf("/auth got %+v", *logins)
	}
	if calls := h.calls(); !reflect.DeepEqual(calls, []string{`store {"ServerURL":"reg.local:5000","Username":"alice","Secret":"s3cret"}`}) {
		t.Errorf("helper calls: %q", calls)
	}
	want := map[string]any{"auths": map[string]any{"reg.local:5000": map[string]any{}}, "credsStore": "berthtest", "detachKeys": "ctrl-x"}
	if cfg := readConfig(t, config); !reflect.DeepEqual(cfg, want) {
		t.Errorf("config.json after login: %v", cfg)
	}

	// Pull and push send what the helper holds.
	if r := runWith(t, d, env, "", "pull", "-q", "reg.local:5000/tools/bbox"); r.code != 0 {
		t.Fatalf("pull: exit %d %q", r.code, r.stderr)
	}
	if got := sentAuth(t, d, "/images/create"); got != (registry.AuthConfig{Username: "alice", Password: "s3cret", ServerAddress: "reg.local:5000"}) {
		t.Errorf("pull sent %+v", got)
	}
	if r := runWith(t, d, env, "", "push", "-q", "reg.local:5000/tools/bbox"); r.code != 0 {
		t.Fatalf("push: exit %d %q", r.code, r.stderr)
	}
	if got := sentAuth(t, d, "/images/reg.local:5000/tools/bbox/push"); got.Username != "alice" || got.Password != "s3cret" {
		t.Errorf("push sent %+v", got)
	}
	if calls := h.calls(); !reflect.DeepEqual(calls, []string{"get reg.local:5000", "get reg.local:5000"}) {
		t.Errorf("helper calls: %q", calls)
	}

	// A second login without a username reuses the stored credentials.
	r = runWith(t, d, env, "", "login", "reg.local:5000")
	wantErr := "Authenticating with existing credentials... [Username: alice]\n\n" +
		" Info -> To login with a different account, run 'berth logout' followed by 'berth login'\n\n\n"
	if r.code != 0 || r.stdout != "Login Succeeded\n" || r.stderr != wantErr {
		t.Errorf("login with stored credentials: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if len(*logins) != 2 || (*logins)[1].Username != "alice" || (*logins)[1].Password != "s3cret" {
		t.Errorf("/auth got %+v", *logins)
	}
	h.calls()

	// Logout erases from the helper under each spelling, then the marker.
	r = runWith(t, d, env, "", "logout", "reg.local:5000")
	if r.code != 0 || r.stdout != "Removing login credentials for reg.local:5000\n" || r.stderr != "" {
		t.Errorf("logout: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if calls := h.calls(); !reflect.DeepEqual(calls, []string{"erase reg.local:5000", "erase http://reg.local:5000", "erase https://reg.local:5000"}) {
		t.Errorf("helper calls: %q", calls)
	}
	if _, ok := h.stored("reg.local:5000"); ok {
		t.Error("the helper still holds reg.local:5000")
	}
	want["auths"] = map[string]any{}
	if cfg := readConfig(t, config); !reflect.DeepEqual(cfg, want) {
		t.Errorf("config.json after logout: %v", cfg)
	}

	// Nothing in the helper: anonymous, not an error.
	if r := runWith(t, d, env, "", "pull", "-q", "reg.local:5000/tools/bbox"); r.code != 0 || r.stderr != "" {
		t.Fatalf("pull after logout: exit %d %q", r.code, r.stderr)
	}
	if got := sentAuth(t, d, "/images/create"); got != (registry.AuthConfig{}) {
		t.Errorf("pull after logout sent %+v", got)
	}
}

func TestCredentialHelperIdentityToken(t *testing.T) {
	d, _ := credsDaemon(t, "refresh-me")
	h := newFakeHelper(t, "berthtest")
	config := writeConfig(t, `{"credsStore":"berthtest"}`)
	env := map[string]string{"PATH": h.bin, EnvConfigDir: config}
	if r := runWith(t, d, env, "pw", "login", "-u", "alice", "--password-stdin", "reg.local:5000"); r.code != 0 {
		t.Fatalf("login: exit %d %q", r.code, r.stderr)
	}
	if c, _ := h.stored("reg.local:5000"); c != (helperCredentials{ServerURL: "reg.local:5000", Username: "<token>", Secret: "refresh-me"}) {
		t.Errorf("helper holds %+v", c)
	}
	if r := runWith(t, d, env, "", "pull", "-q", "reg.local:5000/x"); r.code != 0 {
		t.Fatalf("pull: exit %d %q", r.code, r.stderr)
	}
	if got := sentAuth(t, d, "/images/create"); got != (registry.AuthConfig{IdentityToken: "refresh-me", ServerAddress: "reg.local:5000"}) {
		t.Errorf("pull sent %+v", got)
	}
	// An identity token alone is not reused by login: it asks.
	if r := runWith(t, d, env, "", "login", "reg.local:5000"); r.code != 1 || r.stderr != "Error: Cannot perform an interactive login from a non TTY device\n" {
		t.Errorf("login with a stored token: exit %d %q", r.code, r.stderr)
	}
}

func TestCredentialHelperChoice(t *testing.T) {
	d, _ := credsDaemon(t, "")
	h := newFakeHelper(t, "berthtest")
	h.put("reg.local:5000", "alice", "from-helper")
	h.put(dockerHubServer, "hubuser", "hubpw")
	// credHelpers of a registry beats credsStore (a helper that is not
	// installed: a registry left to it pulls anonymously, as with docker).
	config := writeConfig(t, `{"credsStore":"nosuch","credHelpers":{"reg.local:5000":"berthtest","https://index.docker.io/v1/":"berthtest"},
		"auths":{"reg.local:5000":{"auth":"`+base64.StdEncoding.EncodeToString([]byte("alice:from-file"))+`"}}}`)
	env := map[string]string{"PATH": h.bin, EnvConfigDir: config}
	for _, tc := range []struct {
		image string
		want  registry.AuthConfig
	}{
		{"reg.local:5000/x", registry.AuthConfig{Username: "alice", Password: "from-helper", ServerAddress: "reg.local:5000"}},
		{"busybox", registry.AuthConfig{Username: "hubuser", Password: "hubpw", ServerAddress: dockerHubServer}},
		{"other.local/x", registry.AuthConfig{}},
	} {
		if r := runWith(t, d, env, "", "pull", "-q", tc.image); r.code != 0 || r.stderr != "" {
			t.Errorf("pull %s: exit %d %q", tc.image, r.code, r.stderr)
		}
		if got := sentAuth(t, d, "/images/create"); got != tc.want {
			t.Errorf("pull %s sent %+v, want %+v", tc.image, got, tc.want)
		}
	}
	if calls := h.calls(); !reflect.DeepEqual(calls, []string{"get reg.local:5000", "get " + dockerHubServer}) {
		t.Errorf("helper calls: %q", calls)
	}
}

func TestCredentialHelperMissing(t *testing.T) {
	d, logins := credsDaemon(t, "")
	const content = `{"credsStore":"nosuch"}`
	config := writeConfig(t, content)
	env := map[string]string{"PATH": t.TempDir(), EnvConfigDir: config}
	notFound := `exec: "docker-credential-nosuch": executable file not found in $PATH, out: ` + "``"

	r := runWith(t, d, env, "pw", "login", "-u", "alice", "--password-stdin", "reg.local:5000")
	if r.code != 1 || r.stdout != "" || r.stderr != "Error saving credentials: error storing credentials - err: "+notFound+"\n" {
		t.Errorf("login: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if len(*logins) != 1 {
		t.Errorf("/auth got %+v", *logins)
	}
	if b, _ := os.ReadFile(filepath.Join(config, "config.json")); string(b) != content {
		t.Errorf("config.json changed: %s", b)
	}
	// Pull goes anonymous, as docker 28's does.
	if r := runWith(t, d, env, "", "pull", "-q", "reg.local:5000/x"); r.code != 0 {
		t.Errorf("pull: exit %d %q", r.code, r.stderr)
	}
	if got := sentAuth(t, d, "/images/create"); got != (registry.AuthConfig{}) {
		t.Errorf("pull sent %+v", got)
	}
	// Logout warns and succeeds.
	r = runWith(t, d, env, "", "logout")
	if r.code != 0 || r.stdout != "Removing login credentials for https://index.docker.io/v1/\n" ||
		r.stderr != "WARNING: error getting credentials - err: "+notFound+"\nWARNING: could not erase credentials:\n"+
			"https://index.docker.io/v1/: error erasing credentials - err: "+notFound+"\n" {
		t.Errorf("logout: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
}

func TestCredentialHelperHubLogoutErasesOAuthTokens(t *testing.T) {
	d, _ := credsDaemon(t, "")
	h := newFakeHelper(t, "berthtest")
	h.put(dockerHubServer, "hubuser", "access")
	h.put(dockerHubServer+"access-token", "hubuser", "access")
	h.put(dockerHubServer+"refresh-token", "hubuser", "refresh..clientid")
	config := writeConfig(t, `{"credsStore":"berthtest","auths":{"https://index.docker.io/v1/":{}}}`)
	r := runWith(t, d, map[string]string{"PATH": h.bin, EnvConfigDir: config}, "", "logout")
	if r.code != 0 || r.stdout != "Removing login credentials for https://index.docker.io/v1/\n" || r.stderr != "" {
		t.Errorf("logout: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	for _, k := range []string{dockerHubServer, dockerHubServer + "access-token", dockerHubServer + "refresh-token"} {
		if _, ok := h.stored(k); ok {
			t.Errorf("the helper still holds %s", k)
		}
	}
	if cfg := readConfig(t, config); !reflect.DeepEqual(cfg["auths"], map[string]any{}) {
		t.Errorf("config.json after logout: %v", cfg)
	}
}

func TestDefaultCredentialHelper(t *testing.T) {
	d, _ := credsDaemon(t, "")
	h := newFakeHelper(t, "secretservice")
	env := map[string]string{"PATH": h.bin, EnvConfigDir: t.TempDir()}
	// A configuration without credentials gets the platform's helper, and
	// keeps it.
	if r := runWith(t, d, env, "pw", "login", "-u", "alice", "--password-stdin", "reg.local:5000"); r.code != 0 || r.stderr != "" {
		t.Fatalf("login: exit %d %q", r.code, r.stderr)
	}
	if c, ok := h.stored("reg.local:5000"); !ok || c.Secret != "pw" {
		t.Errorf("helper holds %+v %v", c, ok)
	}
	want := map[string]any{"auths": map[string]any{"reg.local:5000": map[string]any{}}, "credsStore": "secretservice"}
	if cfg := readConfig(t, env[EnvConfigDir]); !reflect.DeepEqual(cfg, want) {
		t.Errorf("config.json: %v", cfg)
	}
	// One that already holds credentials in the file keeps using the file.
	config := writeConfig(t, `{"auths":{"other.local":{}}}`)
	env[EnvConfigDir] = config
	r := runWith(t, d, env, "pw", "login", "-u", "alice", "--password-stdin", "reg.local:5000")
	if r.code != 0 || !strings.Contains(r.stderr, "WARNING! Your credentials are stored unencrypted") {
		t.Fatalf("login: exit %d %q", r.code, r.stderr)
	}
	if cfg := readConfig(t, config); cfg["credsStore"] != nil {
		t.Errorf("config.json: %v", cfg)
	}
	// Storing the same credentials again changes nothing and warns no more.
	if r := runWith(t, d, env, "pw", "login", "-u", "alice", "--password-stdin", "reg.local:5000"); r.code != 0 || r.stderr != "" {
		t.Errorf("second login: exit %d %q", r.code, r.stderr)
	}
}

func TestCredentialHelperErrors(t *testing.T) {
	for _, tc := range []struct {
		name, script, want string
	}{
		{"exit", "echo 'keychain locked'; exit 3", "error getting credentials - err: exit status 3, out: `keychain locked`"},
		{"protocol", "echo 'no credentials server URL'; exit 1", "error getting credentials - err: no credentials server URL, out: `no credentials server URL`"},
		{"not found", "echo 'credentials not found in native keychain'; exit 1", errCredentialsNotFound.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "docker-credential-x"), []byte("#!/bin/sh\n"+tc.script+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			_, err := credentialHelper{name: "docker-credential-x", searchPath: dir}.get("reg.local")
			if err == nil || err.Error() != tc.want {
				t.Errorf("get: %v, want %s", err, tc.want)
			}
		})
	}
}
