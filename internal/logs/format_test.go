package logs

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)

func writeAll(t testing.TB, cfg Config, attrs map[string]string, msgs ...Message) {
	t.Helper()
	w, err := OpenWriter(cfg, attrs)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := w.Log(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func jsonCfg(t testing.TB, opts ...string) Config {
	return Config{Driver: JSONFile, Path: filepath.Join(t.TempDir(), "c-json.log"), Opts: optMap(opts)}
}

func localCfg(t testing.TB, opts ...string) Config {
	return Config{Driver: Local, Path: filepath.Join(t.TempDir(), "local-logs", "container.log"), Opts: optMap(opts)}
}

func optMap(kv []string) map[string]string {
	m := map[string]string{}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		m[k] = v
	}
	return m
}

// The json-file lines Docker's encoder writes for these messages (its escaping
// differs from encoding/json: \t is \u0009, invalid UTF-8 is \ufffd, < > & and
// U+2028/9 are \u-escaped, DEL is raw).
func TestJSONFileIsDockersFormat(t *testing.T) {
	cases := []struct {
		name string
		m    Message
		want string
	}{
		{"line", Message{Stream: Stdout, Line: []byte("hello\n"), Time: t0},
			`{"log":"hello\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}`},
		{"stderr, time with trailing zeros trimmed", Message{Stream: Stderr, Line: []byte("x\n"), Time: time.Date(2026, 1, 2, 3, 4, 5, 120000000, time.UTC)},
			`{"log":"x\n","stream":"stderr","time":"2026-01-02T03:04:05.12Z"}`},
		{"whole second", Message{Stream: Stdout, Line: []byte("x\n"), Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
			`{"log":"x\n","stream":"stdout","time":"2026-01-02T03:04:05Z"}`},
		{"local time stored as UTC", Message{Stream: Stdout, Line: []byte("x\n"), Time: t0.In(time.FixedZone("X", 2*3600))},
			`{"log":"x\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}`},
		{"partial: no newline", Message{Stream: Stdout, Line: []byte("no newline"), Time: t0},
			`{"log":"no newline","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}`},
		{"empty line", Message{Stream: Stdout, Line: []byte("\n"), Time: t0},
			`{"log":"\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}`},
		{"escapes", Message{Stream: Stdout, Line: []byte("q\" b\\ t\t r\r nul\x00 esc\x1b del\x7f <a&b> /\n"), Time: t0},
			`{"log":"q\" b\\ t\u0009 r\r nul\u0000 esc\u001b del` + "\x7f" + ` \u003ca\u0026b\u003e /\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}`},
		{"unicode", Message{Stream: Stdout, Line: []byte("é ✓ 𝄞 \u2028\u2029\n"), Time: t0},
			`{"log":"é ✓ 𝄞 \u2028\u2029\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}`},
		{"invalid utf-8", Message{Stream: Stdout, Line: []byte("a\xffb\xc3\n"), Time: t0},
			`{"log":"a\ufffdb\ufffd\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := jsonCfg(t)
			writeAll(t, cfg, nil, tc.m)
			got, err := os.ReadFile(cfg.Path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want+"\n" {
				t.Errorf("file:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestJSONFileAttrs(t *testing.T) {
	cfg := jsonCfg(t)
	writeAll(t, cfg, map[string]string{"b": "<2>", "a": "1"}, Message{Stream: Stdout, Line: []byte("x\n"), Time: t0})
	got, _ := os.ReadFile(cfg.Path)
	want := `{"log":"x\n","stream":"stdout","attrs":{"a":"1","b":"\u003c2\u003e"},"time":"2026-01-02T03:04:05.123456789Z"}` + "\n"
	if string(got) != want {
		t.Errorf("file:\n got %s\nwant %s", got, want)
	}
	ms := readAll(t, cfg, ReadOptions{Tail: -1})
	if len(ms) != 1 || ms[0].Attrs["b"] != "<2>" || ms[0].Attrs["a"] != "1" {
		t.Errorf("read back %+v", ms)
	}
}

// Everything written reads back as written (invalid UTF-8 as U+FFFD, as Docker
// reads it), through the fast decoder and through encoding/json alike.
func TestJSONFileDecode(t *testing.T) {
	lines := []string{"plain\n", "tab\tquote\"back\\slash\n", "nul\x00ctl\x01\x1f\n", "<&>\n",
		"é ✓ 𝄞\u2028\n", "partial", "\n", strings.Repeat("x", 5000) + "\n", "bad\xff\n"}
	for _, l := range lines {
		b, err := appendJSONEntry(nil, Stderr, []byte(strings.TrimSuffix(l, "\n")), !strings.HasSuffix(l, "\n"), []byte(`{"k":"v\u003c"}`), t0)
		if err != nil {
			t.Fatal(err)
		}
		var fast, slow Message
		if !decodeJSONFast(b[:len(b)-1], &fast) {
			t.Fatalf("fast decoder refused %q", b)
		}
		if err := json.Unmarshal(b[:len(b)-1], &struct{}{}); err != nil {
			t.Fatalf("not JSON: %q: %v", b, err)
		}
		var v struct {
			Log   string
			Attrs map[string]string
		}
		json.Unmarshal(b[:len(b)-1], &v)
		slow = Message{Line: []byte(v.Log), Attrs: v.Attrs}
		want := strings.ToValidUTF8(l, "\ufffd")
		if string(fast.Line) != want || string(slow.Line) != want {
			t.Errorf("%q: fast %q, encoding/json %q", l, fast.Line, slow.Line)
		}
		if fast.Stream != Stderr || !fast.Time.Equal(t0) || fast.Attrs["k"] != "v<" {
			t.Errorf("%q: decoded %+v", l, fast)
		}
	}
}

// Lines other tools wrote (other key order, spaces, escapes the fast path does
// not take) decode through encoding/json.
func TestJSONFileDecodeOtherShapes(t *testing.T) {
	for _, line := range []string{
		`{"time":"2026-01-02T03:04:05.123456789Z","stream":"stdout","log":"x\n"}`,
		`{ "log" : "x\n", "stream":"stdout", "time":"2026-01-02T03:04:05.123456789Z" }`,
		`{"log":"x\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z","extra":1}`,
		`{"\u006cog":"x\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}`,
		`{"log":"\ud834\udd1e\ud800x\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}`,
	} {
		var m Message
		if err := decodeJSONEntry([]byte(line), &m); err != nil {
			t.Errorf("%s: %v", line, err)
			continue
		}
		want := "x\n"
		if strings.Contains(line, "ud834") {
			want = "𝄞\ufffdx\n"
		}
		if string(m.Line) != want || m.Stream != Stdout || !m.Time.Equal(t0) {
			t.Errorf("%s: decoded %q %q %v", line, m.Line, m.Stream, m.Time)
		}
	}
	var m Message
	if err := decodeJSONEntry([]byte(`{"log":"x\n",`), &m); err == nil {
		t.Error("a broken line decoded")
	}
}

// The local format, byte by byte, as the package documentation draws it.
func TestLocalFormat(t *testing.T) {
	cfg := localCfg(t)
	writeAll(t, cfg, map[string]string{"tag": "web"},
		Message{Stream: Stdout, Line: []byte("hi\n"), Time: t0},
		Message{Stream: Stderr, Line: []byte("part"), Time: t0.Add(time.Second)})
	got, err := os.ReadFile(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	want = append(want, "BLOG\x01\x01\x03tag\x03web"...)
	entry := func(flags byte, tm time.Time, line string) {
		n := byte(1 + 8 + len(line))
		want = append(want, n, flags)
		body := len(want) - 1
		want = binary.BigEndian.AppendUint64(want, uint64(tm.UnixNano()))
		want = append(want, line...)
		want = binary.BigEndian.AppendUint32(want, crc32.Checksum(want[body:], crc32.MakeTable(crc32.Castagnoli)))
		want = append(want, n)
	}
	entry(0, t0, "hi")
	entry(3, t0.Add(time.Second), "part")
	if !bytes.Equal(got, want) {
		t.Errorf("file:\n got %q\nwant %q", got, want)
	}
	// A two-byte length: the suffix is the prefix reversed.
	b := appendRvarint(nil, 300)
	if p := binary.AppendUvarint(nil, 300); len(b) != 2 || b[0] != p[1] || b[1] != p[0] {
		t.Errorf("rvarint(300) = %x, uvarint %x", b, p)
	}
	if v, n := rvarint(append([]byte("junk"), b...)); v != 300 || n != 2 {
		t.Errorf("rvarint read back %d (%d bytes)", v, n)
	}
}

// A 100-byte line costs 115 bytes in local, about 1.7 times that in json-file.
func TestLocalIsCompact(t *testing.T) {
	line := []byte(strings.Repeat("x", 99) + "\n")
	var msgs []Message
	for i := range 1000 {
		msgs = append(msgs, Message{Stream: Stdout, Line: line, Time: t0.Add(time.Duration(i) * time.Millisecond)})
	}
	lc, jc := localCfg(t), jsonCfg(t)
	writeAll(t, lc, nil, msgs...)
	writeAll(t, jc, nil, msgs...)
	ls, _ := os.Stat(lc.Path)
	js, _ := os.Stat(jc.Path)
	if got := float64(ls.Size()) / 100000; got > 1.16 {
		t.Errorf("local: %.3f bytes on disk per byte logged", got)
	}
	t.Logf("bytes on disk per byte logged: local %.3f, json-file %.3f", float64(ls.Size())/100000, float64(js.Size())/100000)
}
