// Package format renders a command's output the way docker's --format flag
// does, so that every berth verb (version, info, system df, later images, ps,
// inspect) takes the same formats a Docker user already writes:
//
//	""                         the command's own layout (the caller's default)
//	"json"                     each object as one line of JSON
//	"{{.ID}} {{.Size}}"        a Go text/template per object, one line each
//	"table {{.ID}}\t{{.Size}}" the same, aligned in columns under a header row
//
// As in docker, the two-character sequences `\t` and `\n` typed on a command
// line become a tab and a newline, the word "table" and the spaces around the
// rest are dropped, and templates may call docker's functions (Funcs): json,
// split, join, title, lower, upper, pad, truncate and println.
//
// A single object (version, info) is rendered with Execute; a list with a
// List, whose table header is the same template executed over a value that
// maps each field to its column title (a map such as {"Size": "SIZE"}).
package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"
	"unicode"
	"unicode/utf8"
)

// The format words with a meaning of their own.
const (
	TableKey = "table"
	JSONKey  = "json"
)

// jsonTemplate is what "json" means for an object: itself, as JSON.
const jsonTemplate = "{{json .}}"

// IsTable reports whether format asks for columns under a header.
func IsTable(format string) bool { return strings.HasPrefix(format, TableKey) }

// IsJSON reports whether format is the word "json".
func IsJSON(format string) bool { return strings.TrimSpace(format) == JSONKey }

// Funcs returns the functions docker's templates may call.
func Funcs() template.FuncMap {
	return template.FuncMap{
		"json":     marshalJSON,
		"split":    strings.Split,
		"join":     strings.Join,
		"title":    title,
		"lower":    strings.ToLower,
		"upper":    strings.ToUpper,
		"pad":      pad,
		"truncate": truncate,
		"println":  func(args ...any) string { return fmt.Sprintln(args...) },
	}
}

// Parse parses text (already stripped of "table") as a template named name
// with docker's functions. A syntax error reads as docker's does:
// "template parsing error: template: version:1: unclosed action".
func Parse(name, text string) (*template.Template, error) {
	t, err := template.New(name).Funcs(Funcs()).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %w", err)
	}
	return t, nil
}

// templateText turns a --format value into template text: "json" becomes
// {{json .}}, "table" is dropped, the rest trimmed of spaces, and the escapes
// `\t` and `\n` become a tab and a newline.
func templateText(format string) string {
	if IsJSON(format) {
		return jsonTemplate
	}
	if IsTable(format) {
		format = format[len(TableKey):]
	}
	format = strings.Trim(format, " ")
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
}

// New parses a --format value (not empty) as a template with docker's
// functions, for a caller that renders objects one at a time as they come
// (events): "json" is {{json .}}, "table" and `\t`/`\n` are treated as in a List
// without a header.
func New(name, format string) (*template.Template, error) {
	return Parse(name, templateText(format))
}

// Execute renders one object v with format (not empty: the caller prints its
// own layout for "") followed by a newline, as docker's version and info do.
// The output is written only when the template succeeds.
func Execute(w io.Writer, name, format string, v any) error {
	t, err := Parse(name, templateText(format))
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err = buf.WriteTo(w)
	return err
}

// List renders a sequence of objects with one format: each Add executes the
// template for one object; Flush writes them, under the header and aligned in
// columns for a table format. Nothing reaches the writer before Flush, so a
// template failing on the third object prints nothing at all.
type List struct {
	w      io.Writer
	tmpl   *template.Template
	table  bool
	header any
	buf    bytes.Buffer
}

// NewList prepares a list rendered with format onto w; header is the value the
// template is executed over for a table's header row (a map of field names to
// column titles). An empty format is an error: the caller chooses its default.
func NewList(w io.Writer, name, format string, header any) (*List, error) {
	if format == "" {
		return nil, fmt.Errorf("format: empty format for %s", name)
	}
	t, err := Parse(name, templateText(format))
	if err != nil {
		return nil, err
	}
	return &List{w: w, tmpl: t, table: IsTable(format) && !IsJSON(format), header: header}, nil
}

// Add renders one object as one line.
func (l *List) Add(v any) error {
	if err := l.tmpl.Execute(&l.buf, v); err != nil {
		return err
	}
	l.buf.WriteByte('\n')
	return nil
}

// Flush writes what was added: for a table, the header row first (even with
// no rows, as docker does) and all of it aligned in columns three spaces apart.
func (l *List) Flush() error {
	if !l.table {
		_, err := l.buf.WriteTo(l.w)
		return err
	}
	tw := tabwriter.NewWriter(l.w, 10, 1, 3, ' ', 0)
	var head bytes.Buffer
	if err := l.tmpl.Execute(&head, l.header); err != nil {
		return err
	}
	head.WriteByte('\n')
	if _, err := head.WriteTo(tw); err != nil {
		return err
	}
	if _, err := l.buf.WriteTo(tw); err != nil {
		return err
	}
	return tw.Flush()
}

// marshalJSON is the template function json: v as compact JSON, with <, >
// and & left as they are.
func marshalJSON(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// title upper-cases the first letter of each space-separated word.
func title(s string) string {
	var b strings.Builder
	start := true
	for _, r := range s {
		if start && unicode.IsLetter(r) {
			r = unicode.ToTitle(r)
		}
		start = unicode.IsSpace(r) || unicode.IsPunct(r) && r != '\''
		b.WriteRune(r)
	}
	return b.String()
}

// pad surrounds a non-empty s with prefix spaces before and suffix after.
func pad(s string, prefix, suffix int) string {
	if s == "" {
		return s
	}
	return strings.Repeat(" ", max(prefix, 0)) + s + strings.Repeat(" ", max(suffix, 0))
}

// truncate keeps the first n characters of s.
func truncate(s string, n int) string {
	if n < 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
