package logs

import (
	"errors"
	"testing"

	"github.com/containerd/errdefs"
)

// Bad options get Docker's messages (moby daemon/logger/jsonfilelog, local,
// factory.go; sizes parsed by go-units v0.5.0 as in Docker 28) as
// invalid-argument errors.
func TestBadOptions(t *testing.T) {
	cases := []struct {
		driver string
		opts   []string
		want   string
	}{
		{JSONFile, []string{"max-size=1x"}, "invalid suffix: 'x'"},
		{JSONFile, []string{"max-size=-1"}, "invalid size: '-1'"},
		{JSONFile, []string{"max-size=0"}, "max-size must be a positive number"},
		{JSONFile, []string{"max-file=0"}, "max-file cannot be less than 1"},
		{JSONFile, []string{"max-file=x"}, `strconv.Atoi: parsing "x": invalid syntax`},
		{JSONFile, []string{"compress=maybe"}, `strconv.ParseBool: parsing "maybe": invalid syntax`},
		{JSONFile, []string{"max-size=10m", "compress=true"}, "compress cannot be true when max-file is less than 2 or max-size is not set"},
		{JSONFile, []string{"foo=bar"}, "unknown log opt 'foo' for json-file log driver"},
		{JSONFile, []string{"mode=fast"}, "logger: logging mode not supported: fast"},
		{JSONFile, []string{"max-buffer-size=4m"}, "logger: max-buffer-size option is only supported with 'mode=non-blocking'"},
		{JSONFile, []string{"mode=non-blocking", "max-buffer-size=4x"}, "error parsing option max-buffer-size: invalid suffix: 'x'"},
		{Local, []string{"max-size=1x"}, "invalid value for max-size: 1x: invalid suffix: 'x'"},
		{Local, []string{"max-size=0"}, "max-size must be a positive number"},
		{Local, []string{"max-file=x"}, `invalid value for max-file: x: strconv.Atoi: parsing "x": invalid syntax`},
		{Local, []string{"max-file=-1"}, "max-file must not be negative"},
		{Local, []string{"max-file=1"}, "compression cannot be enabled when max file count is 1"},
		{Local, []string{"compress=maybe"}, `invalid boolean value for compress: strconv.ParseBool: parsing "maybe": invalid syntax`},
		{Local, []string{"foo=bar"}, "unknown log opt 'foo' for log driver local"},
		{"syslogx", nil, "logger: no log driver named 'syslogx' is registered"},
	}
	for _, tc := range cases {
		_, err := ParseOptions(tc.driver, optMap(tc.opts))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s %v: got %v, want %q", tc.driver, tc.opts, err, tc.want)
			continue
		}
		if !errdefs.IsInvalidArgument(err) {
			t.Errorf("%s %v: %v is not an invalid-argument error", tc.driver, tc.opts, err)
		}
		if _, err := OpenWriter(Config{Driver: tc.driver, Path: t.TempDir() + "/x.log", Opts: optMap(tc.opts)}, nil); err == nil || err.Error() != tc.want {
			t.Errorf("OpenWriter %s %v: got %v", tc.driver, tc.opts, err)
		}
	}
}

func TestOptionDefaults(t *testing.T) {
	cases := []struct {
		driver string
		opts   []string
		want   Options
	}{
		// Bounded and compressed by default, where Docker's json-file keeps everything.
		{JSONFile, nil, Options{MaxSize: 20 << 20, MaxFiles: 5, Compress: true, Mode: "blocking"}},
		{JSONFile, []string{"max-file=3"}, Options{MaxSize: 20 << 20, MaxFiles: 3, Mode: "blocking"}},
		{JSONFile, []string{"compress=true"}, Options{MaxSize: 20 << 20, MaxFiles: 5, Compress: true, Mode: "blocking"}},
		// Docker's meaning once max-size is given: units are decimal, max-file 1.
		{JSONFile, []string{"max-size=10m"}, Options{MaxSize: 10_000_000, MaxFiles: 1, Mode: "blocking"}},
		{JSONFile, []string{"max-size=1k", "max-file=4", "compress=1"}, Options{MaxSize: 1000, MaxFiles: 4, Compress: true, Mode: "blocking"}},
		{JSONFile, []string{"compress=false"}, Options{MaxSize: 20 << 20, MaxFiles: 5, Mode: "blocking"}},
		{JSONFile, []string{"labels=a", "env=B", "tag={{.Name}}", "mode=non-blocking", "max-buffer-size=4m"},
			Options{MaxSize: 20 << 20, MaxFiles: 5, Compress: true, Mode: "non-blocking", MaxBufferSize: 4 << 20}},
		{Local, nil, Options{MaxSize: 20 << 20, MaxFiles: 5, Compress: true, Mode: "blocking"}},
		{Local, []string{"max-file=0", "compress=false"}, Options{MaxSize: 20 << 20, MaxFiles: 1, Mode: "blocking"}},
		{None, []string{"anything=goes"}, Options{Mode: "blocking"}},
	}
	for _, tc := range cases {
		got, err := ParseOptions(tc.driver, optMap(tc.opts))
		if err != nil || got != tc.want {
			t.Errorf("%s %v: got %+v, %v; want %+v", tc.driver, tc.opts, got, err, tc.want)
		}
	}
}

func TestFileName(t *testing.T) {
	if got := FileName(JSONFile, "abc"); got != "abc-json.log" {
		t.Errorf("json-file: %q", got)
	}
	if got := FileName(Local, "abc"); got != "local-logs/container.log" {
		t.Errorf("local: %q", got)
	}
}

func TestNoneDriver(t *testing.T) {
	w, err := OpenWriter(Config{Driver: None}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Log(Message{Stream: Stdout, Line: []byte("x\n")}); err != nil {
		t.Error(err)
	}
	w.Close()
	_, err = NewReader(Config{Driver: None})
	if !errors.Is(err, ErrReadNotSupported) || !errdefs.IsNotImplemented(err) ||
		err.Error() != "configured logging driver does not support reading" {
		t.Errorf("NewReader(none) = %v", err)
	}
}
