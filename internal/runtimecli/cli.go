// Package runtimecli is berth-runtime's command line: runc's verbs, flags, output and
// exit codes, so that engines and test suites written for runc drive it unchanged.
// Each verb parses its flags into options and calls the runtime library; nothing
// here knows how containers are made.
package runtimecli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/berth-engine/berth/internal/runtime"
	"github.com/berth-engine/berth/internal/runtime/shim"
)

// Version is set at build time.
var Version = "0.1.0-dev"

// globals are the flags accepted before the verb.
type globals struct {
	root      string
	logPath   string
	logFormat string
	debug     bool
	stdout    io.Writer
	stderr    io.Writer
}

// command is one verb.
type command struct {
	name  string
	usage string
	run   func(g *globals, args []string) error
}

// commands is the verb table; each verb's flags live in its own file.
func commands() []command {
	return []command{
		{"create", "create [flags] <id>", cmdCreate},
		{"start", "start <id>", cmdStart},
		{"run", "run [flags] <id>", cmdRun},
		{"state", "state <id>", cmdState},
		{"kill", "kill [--all] <id> [signal]", cmdKill},
		{"delete", "delete [--force] <id>", cmdDelete},
		{"exec", "exec [flags] <id> [command...]", cmdExec},
		{"ps", "ps [--format table|json] <id> [ps options]", cmdPs},
		{"list", "list [--format table|json] [-q]", cmdList},
		{"pause", "pause <id>", cmdPause},
		{"resume", "resume <id>", cmdResume},
		{"update", "update [flags] <id>", cmdUpdate},
		{"events", "events [--stats] [--interval 5s] <id>", cmdEvents},
		{"spec", "spec [--bundle dir] [--rootless]", cmdSpec},
		{"features", "features", cmdFeatures},
		{"version", "version", cmdVersion},
	}
}

// exitError carries a specific exit status (run and exec exit with the program's).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Main runs the command line and returns the process exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("berth-runtime", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&g.root, "root", defaultRoot(), "state directory")
	fs.StringVar(&g.logPath, "log", "", "log file for errors (default: stderr only)")
	fs.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	fs.BoolVar(&g.debug, "debug", false, "log each command and its outcome")
	fs.Bool("systemd-cgroup", false, "accepted for runc compatibility; berth manages cgroupfs itself")
	fs.String("rootless", "auto", "accepted for runc compatibility")
	fs.String("criu", "", "accepted for runc compatibility")
	versionFlag := fs.Bool("version", false, "print the version")
	fs.BoolVar(versionFlag, "v", false, "print the version")
	if err := fs.Parse(args); err != nil {
		return g.fail(fmt.Errorf("%v (see berth-runtime --help)", err))
	}
	if *versionFlag {
		cmdVersion(g, nil)
		return 0
	}
	rest := fs.Args()
	if len(rest) == 0 || rest[0] == "help" {
		usage(stdout)
		return 0
	}
	if rest[0] == "shim" {
		// Hidden: the containers' monitor berthd launches (internal/runtime/shim).
		return shim.Main(rest[1:])
	}
	if g.debug {
		g.logDebug("command: %q", rest)
	}
	for _, c := range commands() {
		if c.name == rest[0] {
			err := c.run(g, rest[1:])
			if g.debug {
				g.logDebug("%s: done: %v", c.name, err)
			}
			var ee exitError
			if errors.As(err, &ee) {
				return ee.code
			}
			if err != nil {
				return g.fail(err)
			}
			return 0
		}
	}
	return g.fail(fmt.Errorf("unknown command %q (see berth-runtime --help)", rest[0]))
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "berth-runtime: an OCI runtime with runc's command line\n\nUsage: berth-runtime [--root dir] [--log file] [--log-format text|json] <command>\n\nCommands:")
	var names []string
	for _, c := range commands() {
		names = append(names, "  "+c.usage)
	}
	sort.Strings(names)
	fmt.Fprintln(w, strings.Join(names, "\n"))
}

// fail reports err on stderr as one line and in the log file, and returns exit 1.
func (g *globals) fail(err error) int {
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	fmt.Fprintln(g.stderr, "berth-runtime: "+msg)
	if g.logPath != "" {
		g.log("error", msg)
	}
	return 1
}

// log appends one entry to the --log file in runc's text or json form.
func (g *globals) log(level, msg string) {
	f, err := os.OpenFile(g.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_SYNC, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if g.logFormat == "json" {
		b, _ := json.Marshal(map[string]string{"level": level, "msg": msg, "time": now})
		f.Write(append(b, '\n'))
		return
	}
	fmt.Fprintf(f, "time=%q level=%s msg=%q\n", now, level, msg)
}

// logDebug writes a debug entry to the --log file, or to stderr without one.
func (g *globals) logDebug(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if g.logPath != "" {
		g.log("debug", msg)
		return
	}
	fmt.Fprintln(g.stderr, "berth-runtime: debug: "+msg)
}

func (g *globals) runtime() *runtime.Runtime {
	r := runtime.New(g.root)
	r.Warn = func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		fmt.Fprintln(g.stderr, "berth-runtime: warning: "+msg)
		if g.logPath != "" {
			g.log("warning", msg)
		}
	}
	return r
}

func defaultRoot() string {
	if os.Geteuid() != 0 {
		if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
			return d + "/berth-runtime"
		}
	}
	return "/run/berth-runtime"
}

// parse parses a verb's flags, allowing flags after positional arguments as runc does,
// and checks the number of positional arguments.
func parse(fs *flag.FlagSet, args []string, minArgs, maxArgs int) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) < minArgs {
		if minArgs == 1 {
			return nil, fmt.Errorf("%s: container id is required", fs.Name())
		}
		return nil, fmt.Errorf("%s: %d arguments required, got %d", fs.Name(), minArgs, len(pos))
	}
	if maxArgs >= 0 && len(pos) > maxArgs {
		return nil, fmt.Errorf("%s: unexpected arguments %q", fs.Name(), pos[maxArgs:])
	}
	return pos, nil
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}
