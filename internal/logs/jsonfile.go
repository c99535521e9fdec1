package logs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonCodec is Docker's json-file format: one JSON object per line,
//
//	{"log":"hello\n","stream":"stdout","attrs":{"k":"v"},"time":"2026-01-02T03:04:05.123456789Z"}
//
// keys in that order, "attrs" only when there are any, "log" without the final
// "\n" for a partial line, the time in RFC 3339 with nanoseconds (trailing zeros
// trimmed) in UTC. Strings are escaped as Docker's jsonlog encoder escapes them:
// \" \\ \n \r, every other byte below 0x20 and < > & as \u00XX, invalid UTF-8 as
// \ufffd, U+2028 and U+2029 as \u2028 and \u2029; everything else is written raw.
type jsonCodec struct{}

func (jsonCodec) encoder(attrs map[string]string) ([]byte, entryEncoder, error) {
	var raw []byte
	if len(attrs) > 0 {
		var err error
		// encoding/json sorts keys and escapes HTML, as Docker's json.Marshal does.
		if raw, err = json.Marshal(attrs); err != nil {
			return nil, nil, fmt.Errorf("encode log attrs: %w", err)
		}
	}
	// Lines cut from one read share a time: format it once.
	var lastT time.Time
	var lastTS []byte
	enc := func(dst []byte, stream string, line []byte, partial bool, t time.Time) ([]byte, error) {
		if !t.Equal(lastT) || lastTS == nil {
			ts, err := appendJSONTime(lastTS[:0], t)
			if err != nil {
				return dst, err
			}
			lastT, lastTS = t, ts
		}
		return appendJSONEntryTS(dst, stream, line, partial, raw, lastTS), nil
	}
	return nil, enc, nil
}

func appendJSONTime(dst []byte, t time.Time) ([]byte, error) {
	t = t.UTC()
	if y := t.Year(); y < 0 || y >= 10000 {
		return dst, fmt.Errorf("log time %v: year outside of range [0,9999]", t)
	}
	return t.AppendFormat(dst, time.RFC3339Nano), nil
}

func appendJSONEntry(dst []byte, stream string, line []byte, partial bool, attrs []byte, t time.Time) ([]byte, error) {
	ts, err := appendJSONTime(nil, t)
	if err != nil {
		return dst, err
	}
	return appendJSONEntryTS(dst, stream, line, partial, attrs, ts), nil
}

// appendJSONEntryTS appends an entry whose time is already formatted.
func appendJSONEntryTS(dst []byte, stream string, line []byte, partial bool, attrs, ts []byte) []byte {
	dst = append(dst, '{')
	first := true
	if len(line) > 0 || !partial {
		dst = append(dst, `"log":`...)
		dst = appendJSONString(dst, line, !partial)
		first = false
	}
	if stream != "" {
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, `"stream":`...)
		dst = appendJSONString(dst, []byte(stream), false)
		first = false
	}
	if len(attrs) > 0 {
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, `"attrs":`...)
		dst = append(dst, attrs...)
		first = false
	}
	if !first {
		dst = append(dst, ',')
	}
	dst = append(dst, `"time":"`...)
	dst = append(dst, ts...)
	return append(dst, '"', '}', '\n')
}

// jsonPlain marks the ASCII bytes Docker's encoder writes unescaped.
var jsonPlain = func() (t [256]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '\\' && b != '"' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

// appendJSONString appends s as a JSON string escaped as Docker's jsonlog does,
// with an escaped newline at its end if nl.
func appendJSONString(dst, s []byte, nl bool) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		for i < len(s) && jsonPlain[s[i]] {
			i++
		}
		if i == len(s) {
			break
		}
		b := s[i]
		if b < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	if nl {
		dst = append(dst, '\\', 'n')
	}
	return append(dst, '"')
}

func (jsonCodec) readHeader(b []byte, eof bool) (int, map[string]string, error) {
	return 0, nil, nil
}

func (jsonCodec) selfSyncing() bool { return true }

func (jsonCodec) next(b []byte, _ map[string]string, m *Message) (int, error) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return 0, nil
	}
	if err := decodeJSONEntry(b[:i], m); err != nil {
		return 0, err
	}
	return i + 1, nil
}

func (jsonCodec) lastLen(b []byte, atStart bool) (int, error) {
	if len(b) == 0 || b[len(b)-1] != '\n' {
		return 0, fmt.Errorf("json-file entry does not end in a newline: %w", errCorrupt)
	}
	i := bytes.LastIndexByte(b[:len(b)-1], '\n')
	if i < 0 {
		if atStart {
			return len(b), nil
		}
		return -1, nil
	}
	return len(b) - 1 - i, nil
}

func (jsonCodec) lastBoundary(b []byte, atStart bool) int {
	i := bytes.LastIndexByte(b, '\n')
	if i < 0 {
		if atStart {
			return 0
		}
		return -1
	}
	return i + 1
}

// decodeJSONEntry decodes one line (without its newline). Lines shaped as berth
// and Docker write them take a fast path; anything else goes through encoding/json.
func decodeJSONEntry(line []byte, m *Message) error {
	*m = Message{}
	if decodeJSONFast(line, m) {
		return nil
	}
	var v struct {
		Log    string            `json:"log"`
		Stream string            `json:"stream"`
		Attrs  map[string]string `json:"attrs"`
		Time   time.Time         `json:"time"`
	}
	if err := json.Unmarshal(line, &v); err != nil {
		return fmt.Errorf("json-file entry: %w: %w", errCorrupt, err)
	}
	*m = Message{Stream: v.Stream, Line: []byte(v.Log), Time: v.Time.UTC(), Attrs: v.Attrs}
	return nil
}

// decodeJSONFast parses {"key":value,...} where values are strings or, for
// attrs, an object of strings. It reports false on anything else.
func decodeJSONFast(b []byte, m *Message) bool {
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return false
	}
	i := 1
	haveTime := false
	for {
		key, n, ok := parseJSONString(b, i)
		if !ok || n >= len(b) || b[n] != ':' {
			return false
		}
		i = n + 1
		if i >= len(b) {
			return false
		}
		switch string(key) {
		case "log":
			v, n, ok := parseJSONString(b, i)
			if !ok {
				return false
			}
			m.Line, i = bytes.Clone(v), n
		case "stream":
			v, n, ok := parseJSONString(b, i)
			if !ok {
				return false
			}
			switch string(v) {
			case Stdout:
				m.Stream = Stdout
			case Stderr:
				m.Stream = Stderr
			default:
				m.Stream = string(v)
			}
			i = n
		case "time":
			v, n, ok := parseJSONString(b, i)
			if !ok {
				return false
			}
			t, err := time.Parse(time.RFC3339Nano, string(v))
			if err != nil {
				return false
			}
			m.Time, i, haveTime = t.UTC(), n, true
		case "attrs":
			attrs, n, ok := parseJSONStringMap(b, i)
			if !ok {
				return false
			}
			m.Attrs, i = attrs, n
		default:
			return false
		}
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			return i == len(b)-1 && haveTime
		default:
			return false
		}
	}
}

// parseJSONStringMap parses {"k":"v",...} at b[i].
func parseJSONStringMap(b []byte, i int) (map[string]string, int, bool) {
	if b[i] != '{' {
		return nil, 0, false
	}
	i++
	m := map[string]string{}
	if i < len(b) && b[i] == '}' {
		return m, i + 1, true
	}
	for {
		k, n, ok := parseJSONString(b, i)
		if !ok || n >= len(b) || b[n] != ':' {
			return nil, 0, false
		}
		v, n, ok := parseJSONString(b, n+1)
		if !ok || n >= len(b) {
			return nil, 0, false
		}
		m[string(k)] = string(v)
		switch b[n] {
		case ',':
			i = n + 1
		case '}':
			return m, n + 1, true
		default:
			return nil, 0, false
		}
	}
}

// parseJSONString parses the string starting at b[i] (a '"'). It returns the
// unescaped value (aliasing b when there was nothing to unescape) and the index
// after the closing quote. Unescaping follows encoding/json: a lone surrogate
// becomes U+FFFD. Raw control bytes and invalid UTF-8 are refused (ok false), so
// encoding/json decides.
func parseJSONString(b []byte, i int) (val []byte, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	i++
	start := i
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return b[start:i], i + 1, true
		case c == '\\':
			return unescapeJSONString(b, start, i)
		case c < 0x20:
			return nil, 0, false
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return nil, 0, false
			}
			i += size
		default:
			i++
		}
	}
	return nil, 0, false
}

func unescapeJSONString(b []byte, start, i int) ([]byte, int, bool) {
	out := make([]byte, 0, i-start+64)
	out = append(out, b[start:i]...)
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return out, i + 1, true
		case c < 0x20:
			return nil, 0, false
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return nil, 0, false
			}
			out = append(out, b[i:i+size]...)
			i += size
		case c != '\\':
			out = append(out, c)
			i++
		default:
			if i+1 >= len(b) {
				return nil, 0, false
			}
			switch e := b[i+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := hex4(b, i+2)
				if !ok {
					return nil, 0, false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if r2, ok := hex4(b, i+2); ok && i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							out = utf8.AppendRune(out, dec)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
				continue
			default:
				return nil, 0, false
			}
			i += 2
		}
	}
	return nil, 0, false
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
