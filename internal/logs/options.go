package logs

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/containerd/errdefs"
	units "github.com/docker/go-units"
)

// The drivers, by the names `--log-driver` takes.
const (
	JSONFile = "json-file" // Docker's default: one JSON object per line
	Local    = "local"     // compact binary framing, compressed rotation
	None     = "none"      // nothing is kept; logs cannot be read
)

// DefaultDriver is the driver of containers when neither they nor the daemon's
// configuration choose one: json-file, Docker's default, whose files tools read
// and whose name clients check (docker-py's containers.run returns the output
// only for json-file or journald). berth bounds it and compresses its rotated
// files by default (ParseOptions); local, more compact while a log is young
// (1.15 bytes on disk per byte logged where json-file needs 1.7), is one
// --log-driver away.
const DefaultDriver = JSONFile

// Defaults. Docker's json-file keeps everything unless max-size is given (moby#40207);
// berth bounds it as Docker's local driver is bounded.
const (
	// DefaultMaxSize is the size at which a log file is rotated when max-size is not
	// configured: 20 MiB, Docker's local driver default.
	DefaultMaxSize int64 = 20 << 20
	// DefaultMaxFiles is the number of files kept (the current one included) when
	// neither max-size nor max-file is configured.
	DefaultMaxFiles = 5
)

// Config names a container's log: its driver, its file and its --log-opt options.
// The writer (the shim) and the readers (berthd) open the same Config.
type Config struct {
	Driver string            // JSONFile, Local or None
	Path   string            // the current log file; rotated ones are Path.1, Path.2[.gz], ...
	Opts   map[string]string // --log-opt key=value
}

// Options are the parsed file options of a json-file or local log.
type Options struct {
	// MaxSize is the size in bytes at which the current file is rotated. The check is
	// made before each write, as Docker makes it, so a file may exceed MaxSize by
	// the last entry written into it.
	MaxSize int64
	// MaxFiles is the number of files kept, the current one included. With 1 the
	// current file is replaced by an empty one when full.
	MaxFiles int
	// Compress gzip-compresses rotated files (Path.1.gz ...) in the background.
	Compress bool
	// Mode is "blocking" (default) or "non-blocking"; with non-blocking, a writer
	// that cannot keep up drops messages beyond MaxBufferSize bytes. Parsed here,
	// applied by whoever feeds the Writer.
	Mode          string
	MaxBufferSize int64
}

// FileName returns the log file of container id relative to the container's
// directory, as Docker names it: "<id>-json.log" for json-file and
// "local-logs/container.log" for local. None has no file ("").
func FileName(driver, id string) string {
	switch driver {
	case JSONFile:
		return id + "-json.log"
	case Local:
		return filepath.Join("local-logs", "container.log")
	}
	return ""
}

// keys each driver accepts besides the common "mode" and "max-buffer-size".
var driverKeys = map[string]map[string]bool{
	JSONFile: {"max-file": true, "max-size": true, "compress": true, "labels": true,
		"labels-regex": true, "env": true, "env-regex": true, "tag": true},
	Local: {"max-file": true, "max-size": true, "compress": true, "labels": true,
		"labels-regex": true, "env": true, "env-regex": true, "tag": true},
	None: nil,
}

// invalid returns an errdefs.ErrInvalidArgument whose text is exactly msg, so the
// API can show Docker's message unchanged.
func invalid(format string, args ...any) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf(format, args...))
}

// ValidateOpts checks the option keys (and the common mode options) as Docker does
// when a container is created, with Docker's messages. ParseOptions also checks the
// values.
func ValidateOpts(driver string, opts map[string]string) error {
	keys, ok := driverKeys[driver]
	if !ok {
		return invalid("logger: no log driver named '%s' is registered", driver)
	}
	if driver == None {
		return nil // Docker skips every check for none
	}
	mode := opts["mode"]
	switch mode {
	case "", "blocking", "non-blocking":
	default:
		return invalid("logger: logging mode not supported: %s", mode)
	}
	if s, ok := opts["max-buffer-size"]; ok {
		if mode != "non-blocking" {
			return invalid("logger: max-buffer-size option is only supported with 'mode=non-blocking'")
		}
		if _, err := units.RAMInBytes(s); err != nil {
			return invalid("error parsing option max-buffer-size: %v", err)
		}
	}
	// Report the first unknown key in a stable order (Docker's map order is random).
	var unknown []string
	for k := range opts {
		if !keys[k] && k != "mode" && k != "max-buffer-size" {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		if driver == JSONFile {
			return invalid("unknown log opt '%s' for json-file log driver", unknown[0])
		}
		return invalid("unknown log opt '%s' for log driver %s", unknown[0], driver)
	}
	return nil
}

// ParseOptions validates opts for driver and returns the file options, with
// Docker's messages for bad values. Defaults:
//
//	json-file: max-size 20 MiB, max-file 5, compress true when none of them is given
//	           (Docker: unbounded); with max-size given, max-file defaults to 1 as in
//	           Docker; with any of them given, compress defaults to false as in Docker.
//	local:     max-size 20 MiB, max-file 5, compress true (Docker's local defaults).
//
// Sizes take Docker's units (decimal: 1k = 1000, "10m", "1g").
func ParseOptions(driver string, opts map[string]string) (Options, error) {
	if err := ValidateOpts(driver, opts); err != nil {
		return Options{}, err
	}
	o := Options{Mode: opts["mode"]}
	if o.Mode == "" {
		o.Mode = "blocking"
	}
	if s, ok := opts["max-buffer-size"]; ok {
		o.MaxBufferSize, _ = units.RAMInBytes(s) // checked by ValidateOpts
	}
	switch driver {
	case JSONFile:
		return parseJSONFile(o, opts)
	case Local:
		return parseLocal(o, opts)
	}
	return o, nil
}

func parseJSONFile(o Options, opts map[string]string) (Options, error) {
	o.MaxSize, o.MaxFiles = DefaultMaxSize, DefaultMaxFiles
	// berth's own bounds (none of the three given) compress the rotated files, as
	// Docker's local driver does: the log then costs well under a byte on disk
	// per byte logged once it has rotated. Any of them given: Docker's defaults.
	_, size := opts["max-size"]
	_, files := opts["max-file"]
	_, compress := opts["compress"]
	o.Compress = !size && !files && !compress
	if s, ok := opts["max-size"]; ok {
		n, err := units.FromHumanSize(s)
		if err != nil {
			return o, invalid("%v", err)
		}
		if n <= 0 {
			return o, invalid("max-size must be a positive number")
		}
		o.MaxSize, o.MaxFiles = n, 1
	}
	if s, ok := opts["max-file"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil {
			return o, invalid("%v", err)
		}
		if n < 1 {
			return o, invalid("max-file cannot be less than 1")
		}
		o.MaxFiles = n
	}
	if s, ok := opts["compress"]; ok {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return o, invalid("%v", err)
		}
		if b && o.MaxFiles == 1 {
			return o, invalid("compress cannot be true when max-file is less than 2 or max-size is not set")
		}
		o.Compress = b
	}
	return o, nil
}

func parseLocal(o Options, opts map[string]string) (Options, error) {
	o.MaxSize, o.MaxFiles, o.Compress = DefaultMaxSize, DefaultMaxFiles, true
	if s, ok := opts["max-size"]; ok {
		n, err := units.FromHumanSize(s)
		if err != nil {
			return o, invalid("invalid value for max-size: %s: %v", s, err)
		}
		if n == 0 {
			// Docker's local driver would rotate at every write; berth refuses it.
			return o, invalid("max-size must be a positive number")
		}
		o.MaxSize = n
	}
	if s, ok := opts["max-file"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil {
			return o, invalid("invalid value for max-file: %s: %v", s, err)
		}
		o.MaxFiles = n
	}
	if s, ok := opts["compress"]; ok {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return o, invalid("invalid boolean value for compress: %v", err)
		}
		o.Compress = b
	}
	if o.MaxFiles < 0 {
		return o, invalid("max-file must not be negative")
	}
	if o.Compress && o.MaxFiles <= 1 {
		return o, invalid("compression cannot be enabled when max file count is 1")
	}
	if o.MaxFiles == 0 {
		o.MaxFiles = 1 // what Docker's rotation does with 0
	}
	return o, nil
}
