package caps

import (
	"slices"
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	known := Known()
	if len(known) != 41 || known[40] != "CAP_CHECKPOINT_RESTORE" {
		t.Fatalf("Known() has %d names ending in %q, want 41 up to CAP_CHECKPOINT_RESTORE", len(known), known[len(known)-1])
	}
	for i, name := range known {
		c, err := Parse(name)
		if err != nil || c != Cap(i) {
			t.Errorf("Parse(%q) = %d, %v; want %d", name, c, err, i)
		}
		if c.String() != name {
			t.Errorf("Cap(%d).String() = %q, want %q", i, c.String(), name)
		}
	}
	for _, tt := range []struct {
		name string
		want Cap
	}{{"CAP_CHOWN", 0}, {"CAP_KILL", 5}, {"CAP_SYS_ADMIN", 21}, {"CAP_AUDIT_WRITE", 29}, {"CAP_BPF", 39}} {
		if c, _ := Parse(tt.name); c != tt.want {
			t.Errorf("Parse(%q) = %d, want %d", tt.name, c, tt.want)
		}
	}
	for _, bad := range []string{"CAP_NOPE", "cap_kill", "KILL", ""} {
		if _, err := Parse(bad); err == nil || !strings.Contains(err.Error(), "unknown capability") {
			t.Errorf("Parse(%q) error = %v, want unknown capability", bad, err)
		}
	}
	if s := Cap(45).String(); s != "CAP_45" {
		t.Errorf("Cap(45).String() = %q", s)
	}
}

func TestSet(t *testing.T) {
	var s Set
	s = s.Add(5).Add(29).Add(10)
	if !s.Has(5) || s.Has(6) || !s.Has(29) {
		t.Errorf("Has on %b is wrong", s)
	}
	if got := s.List(); !slices.Equal(got, []Cap{5, 10, 29}) {
		t.Errorf("List = %v", got)
	}
	if s.String() != "CAP_KILL,CAP_NET_BIND_SERVICE,CAP_AUDIT_WRITE" || Set(0).String() != "none" {
		t.Errorf("String = %q", s)
	}
	if uint64(s) != 1<<5|1<<10|1<<29 {
		t.Errorf("bit layout %b differs from the kernel's", s)
	}
}

func TestFromNames(t *testing.T) {
	def := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	defSet := Set(1<<29 | 1<<5 | 1<<10)
	tests := []struct {
		name     string
		in       capNames
		last     Cap
		want     Sets
		warnings []string // substrings, one per warning
		err      string
	}{
		{name: "empty", last: 40},
		{
			name: "runc default", last: 40,
			in:   capNames{Bounding: def, Effective: def, Permitted: def},
			want: Sets{Bounding: defSet, Effective: defSet, Permitted: defSet},
		},
		{
			name: "unknown name", last: 40,
			in:  capNames{Permitted: []string{"CAP_KILL", "CAP_NOPE"}},
			err: `permitted capabilities: unknown capability "CAP_NOPE"`,
		},
		{
			name: "newer than the kernel", last: 38,
			in:       capNames{Bounding: []string{"CAP_KILL", "CAP_BPF"}, Permitted: []string{"CAP_BPF", "CAP_CHECKPOINT_RESTORE"}},
			want:     Sets{Bounding: 1 << 5},
			warnings: []string{"CAP_BPF is not supported", "CAP_CHECKPOINT_RESTORE is not supported"},
		},
		{
			name: "effective not permitted", last: 40,
			in:  capNames{Effective: []string{"CAP_KILL"}, Permitted: []string{"CAP_CHOWN"}},
			err: "effective capabilities CAP_KILL are not in the permitted set",
		},
		{
			name: "ambient not inheritable", last: 40,
			in: capNames{Permitted: []string{"CAP_KILL", "CAP_CHOWN"}, Inheritable: []string{"CAP_CHOWN"},
				Ambient: []string{"CAP_KILL", "CAP_CHOWN"}},
			want:     Sets{Permitted: 1<<5 | 1, Inheritable: 1, Ambient: 1},
			warnings: []string{"ambient capabilities CAP_KILL are not both permitted and inheritable"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warnings, err := fromNames(tt.in, tt.last)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *got != tt.want {
				t.Errorf("sets = %+v, want %+v", *got, tt.want)
			}
			if len(warnings) != len(tt.warnings) {
				t.Fatalf("warnings = %q, want %d matching %q", warnings, len(tt.warnings), tt.warnings)
			}
			for i, w := range tt.warnings {
				if !strings.Contains(warnings[i], w) {
					t.Errorf("warning %d = %q, want it to say %q", i, warnings[i], w)
				}
			}
		})
	}
}
