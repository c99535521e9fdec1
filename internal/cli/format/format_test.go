package format

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden want files")

// item is the object the golden list cases render.
type item struct {
	ID     string
	Name   string
	Size   string
	Tags   []string
	Labels map[string]string
}

var items = []item{
	{ID: "3f57d9401f8d", Name: "busybox", Size: "4.26MB", Tags: []string{"latest", "1.36"}, Labels: map[string]string{"a": "<b>&"}},
	{ID: "a416a98b71e2", Name: "debian-minbase", Size: "199MB", Tags: nil, Labels: nil},
}

var header = map[string]string{"ID": "IMAGE ID", "Name": "NAME", "Size": "SIZE", "Tags": "TAGS", "Labels": "LABELS"}

// TestGolden renders items with testdata/list/<case>/format (a List) and
// testdata/object/<case>/format (Execute over the first item) and compares the
// output with want. `go test -update` rewrites want.
func TestGolden(t *testing.T) {
	for _, kind := range []string{"list", "object"} {
		dirs, err := filepath.Glob(filepath.Join("testdata", kind, "*"))
		if err != nil || len(dirs) == 0 {
			t.Fatalf("no golden cases for %s: %v", kind, err)
		}
		for _, dir := range dirs {
			t.Run(kind+"/"+filepath.Base(dir), func(t *testing.T) {
				f, err := os.ReadFile(filepath.Join(dir, "format"))
				if err != nil {
					t.Fatal(err)
				}
				format := strings.TrimSuffix(string(f), "\n")
				var out bytes.Buffer
				if kind == "list" {
					l, err := NewList(&out, "golden", format, header)
					if err != nil {
						t.Fatal(err)
					}
					for _, it := range items {
						if err := l.Add(it); err != nil {
							t.Fatal(err)
						}
					}
					if err := l.Flush(); err != nil {
						t.Fatal(err)
					}
				} else if err := Execute(&out, "golden", format, items[0]); err != nil {
					t.Fatal(err)
				}
				wantFile := filepath.Join(dir, "want")
				if *update {
					if err := os.WriteFile(wantFile, out.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(wantFile)
				if err != nil {
					t.Fatal(err)
				}
				if out.String() != string(want) {
					t.Errorf("format %q:\ngot:\n%s\nwant:\n%s", format, out.String(), want)
				}
			})
		}
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct{ format, want string }{
		{"{{.Name", "template parsing error: template: t:1: unclosed action"},
		{"{{.Nope}}", `can't evaluate field Nope in type format.item`},
		{"table {{nosuchfunc .}}", `function "nosuchfunc" not defined`},
	} {
		var out bytes.Buffer
		err := Execute(&out, "t", tc.format, items[0])
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Execute(%q) = %v, want an error containing %q", tc.format, err, tc.want)
		}
		if out.Len() != 0 {
			t.Errorf("Execute(%q) wrote %q despite failing", tc.format, out.String())
		}
	}
	// A list failing on its second item prints nothing, not half a table.
	var out bytes.Buffer
	l, err := NewList(&out, "t", "table {{index .Tags 0}}", header)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Add(items[0]); err != nil {
		t.Fatal(err)
	}
	if err := l.Add(items[1]); err == nil {
		t.Error("index of nil Tags succeeded")
	}
	if out.Len() != 0 {
		t.Errorf("list wrote %q before Flush", out.String())
	}
	if _, err := NewList(&out, "t", "", header); err == nil {
		t.Error("NewList accepted an empty format")
	}
}

func TestFormatWords(t *testing.T) {
	for _, tc := range []struct {
		format      string
		table, json bool
	}{
		{"table", true, false}, {"table {{.ID}}", true, false}, {"json", false, true},
		{" json ", false, true}, {"{{json .}}", false, false}, {"", false, false},
	} {
		if IsTable(tc.format) != tc.table || IsJSON(tc.format) != tc.json {
			t.Errorf("%q: IsTable %v IsJSON %v, want %v %v", tc.format, IsTable(tc.format), IsJSON(tc.format), tc.table, tc.json)
		}
	}
}
