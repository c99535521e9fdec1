package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// File is a parsed daemon.json: the settings it holds and which keys it names.
type File struct {
	Path   string
	Config Config
	// Keys are the keys present in the file, each with its raw JSON value.
	Keys map[string]json.RawMessage
}

// ReadFile reads and parses the daemon.json at path. A missing file is reported
// with an error satisfying errors.Is(err, fs.ErrNotExist).
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration file: %w", err)
	}
	return ParseFile(path, data)
}

// ParseFile parses daemon.json content; path only names the file in errors. An
// empty file holds no settings. Unknown keys and values of the wrong type are
// errors of one line naming the key.
func ParseFile(path string, data []byte) (*File, error) {
	f := &File{Path: path, Keys: map[string]json.RawMessage{}}
	if len(bytes.TrimSpace(data)) == 0 {
		return f, nil
	}
	if err := json.Unmarshal(data, &f.Keys); err != nil {
		return nil, fmt.Errorf("parse %s: %s", path, describeJSONError(data, err))
	}
	fields := fieldsByKey()
	var unknown []string
	for k := range f.Keys {
		if _, ok := fields[k]; !ok {
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		noun := "key"
		if len(unknown) > 1 {
			noun = "keys"
		}
		return nil, fmt.Errorf("unknown %s in %s: %s", noun, path, strings.Join(unknown, ", "))
	}
	keys := make([]string, 0, len(f.Keys))
	for k := range f.Keys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	cv := reflect.ValueOf(&f.Config).Elem()
	for _, k := range keys {
		field := cv.FieldByIndex(fields[k])
		if err := json.Unmarshal(f.Keys[k], field.Addr().Interface()); err != nil {
			return nil, fmt.Errorf("invalid value for %q in %s: %s", k, path, describeJSONError(f.Keys[k], err))
		}
	}
	return f, nil
}

// fieldsByKey maps each daemon.json key to the index of its Config field.
func fieldsByKey() map[string][]int {
	m := map[string][]int{}
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		m[name] = t.Field(i).Index
	}
	return m
}

// Keys returns every key daemon.json may hold, sorted.
func Keys() []string {
	var keys []string
	for k := range fieldsByKey() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// describeJSONError turns a decoding error into a short message with a position
// for syntax errors and the expected type for type errors.
func describeJSONError(data []byte, err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		line, col := position(data, syn.Offset)
		return fmt.Sprintf("%s (line %d, column %d)", syn.Error(), line, col)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Sprintf("want %s, got %s %s", describeType(typ.Type), article(typ.Value), typ.Value)
	}
	return err.Error()
}

func article(s string) string {
	if s != "" && strings.ContainsRune("aeiou", rune(s[0])) {
		return "an"
	}
	return "a"
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(describeType(t.Elem()), "a "), "an ") + "s"
	case reflect.Map:
		return "an object"
	case reflect.Pointer:
		return describeType(t.Elem())
	case reflect.Struct:
		return "an object"
	}
	return t.String()
}

// position returns the 1-based line and column of byte offset off in data.
func position(data []byte, off int64) (line, col int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}
