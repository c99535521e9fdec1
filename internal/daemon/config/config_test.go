package config

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// load parses args as berthd's command line and loads the configuration. When
// configFile is "", the default location is replaced by a missing file without
// marking --config-file as given.
func load(t *testing.T, args []string, configFile string) (*Config, error) {
	t.Helper()
	set := pflag.NewFlagSet("berthd", pflag.ContinueOnError)
	set.SetOutput(new(strings.Builder))
	f := AddFlags(set)
	if configFile != "" {
		args = append(args, "--config-file="+configFile)
	}
	if err := set.Parse(args); err != nil {
		return nil, err
	}
	if configFile == "" {
		f.ConfigFile = filepath.Join(t.TempDir(), "absent.json")
	}
	return f.Load()
}

// TestLoadGolden runs each testdata/load/<case>: the flags in args (one a line)
// and daemon.json if present; want holds the configuration as JSON or the error.
func TestLoadGolden(t *testing.T) {
	cases, err := os.ReadDir("testdata/load")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name(), func(t *testing.T) {
			dir := filepath.Join("testdata/load", c.Name())
			data, err := os.ReadFile(filepath.Join(dir, "args"))
			if err != nil {
				t.Fatal(err)
			}
			var args []string
			for _, l := range strings.Split(string(data), "\n") {
				if l != "" {
					args = append(args, l)
				}
			}
			file := ""
			if _, err := os.Stat(filepath.Join(dir, "daemon.json")); err == nil {
				file = filepath.Join(dir, "daemon.json")
			}
			cfg, err := load(t, args, file)
			var got string
			if err != nil {
				got = "error: " + err.Error() + "\n"
			} else {
				b, err := json.MarshalIndent(cfg, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				got = string(b) + "\n"
			}
			wantPath := filepath.Join(dir, "want")
			if *update {
				if err := os.WriteFile(wantPath, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(wantPath)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
			if strings.Count(strings.TrimSuffix(got, "\n"), "\n") > 0 && strings.HasPrefix(got, "error:") {
				t.Errorf("error is not one line: %q", got)
			}
		})
	}
}

func TestUnknownKeyMessage(t *testing.T) {
	_, err := ParseFile("/etc/berth/daemon.json", []byte(`{"foo": true}`))
	if err == nil || err.Error() != `unknown key in /etc/berth/daemon.json: "foo"` {
		t.Fatalf("got %v", err)
	}
}

func TestExplicitMissingConfigFileFails(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.json")
	_, err := load(t, nil, missing)
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("got %v, want an error naming %s", err, missing)
	}
}

func TestRelativePathsBecomeAbsolute(t *testing.T) {
	cfg, err := load(t, []string{"--data-root=rel/root", "--pidfile=p.pid"}, "")
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if cfg.DataRoot != filepath.Join(wd, "rel/root") || cfg.Pidfile != filepath.Join(wd, "p.pid") {
		t.Fatalf("data-root %q pidfile %q not made absolute under %s", cfg.DataRoot, cfg.Pidfile, wd)
	}
}

func TestEveryKeyHasAFlag(t *testing.T) {
	set := pflag.NewFlagSet("berthd", pflag.ContinueOnError)
	AddFlags(set)
	for _, k := range Keys() {
		if set.Lookup(FlagName(k)) == nil {
			t.Errorf("daemon.json key %q has no flag %q", k, FlagName(k))
		}
	}
}

func TestLoadDoesNotAlterDefaults(t *testing.T) {
	if _, err := load(t, []string{"-H=unix://"}, ""); err != nil {
		t.Fatal(err)
	}
	if d := Default(); d.Hosts[0] != DefaultHost {
		t.Fatalf("Default().Hosts = %v", d.Hosts)
	}
}

func TestSlogLevel(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{LogLevel: "info"}, "INFO"},
		{Config{LogLevel: "warn"}, "WARN"},
		{Config{LogLevel: "fatal"}, "ERROR"},
		{Config{LogLevel: "error", Debug: true}, "DEBUG"},
	} {
		if got := c.cfg.SlogLevel().String(); got != c.want {
			t.Errorf("%+v: got %s, want %s", c.cfg, got, c.want)
		}
	}
}

func TestLogDefaultsAreChecked(t *testing.T) {
	c := Default()
	c.LogDriver = "json-file"
	c.LogOpts = map[string]string{"max-size": "1x"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "failed to set up the default log driver") {
		t.Errorf("log-opts max-size=1x: %v", err)
	}
	c.LogOpts = map[string]string{"max-size": "10m", "max-file": "3"}
	if err := c.Validate(); err != nil {
		t.Errorf("valid log-opts refused: %v", err)
	}
	c.LogDriver, c.LogOpts = "syslogx", nil
	if err := c.Validate(); err == nil {
		t.Error("an unknown log driver was accepted")
	}
	// Without a driver the options are checked against the default's (json-file)
	// rules: compress with max-size alone leaves one file, which json-file refuses
	// (local would take it).
	c.LogDriver, c.LogOpts = "", map[string]string{"max-size": "10m", "compress": "true"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "compress cannot be true") {
		t.Errorf("log-opts for the default driver: %v", err)
	}
}
