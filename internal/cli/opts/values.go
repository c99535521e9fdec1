// Package opts parses the command-line options of berth's container verbs the
// way docker's CLI does, into the Engine API's types.
//
// It has two layers. The flag values (List, Map, MemBytes, NanoCPUs, Ulimits,
// Mounts, ...) implement pflag.Value: each checks one value as it is parsed,
// so a malformed one is a command-line error with pflag's wording, e.g.
//
//	invalid argument "1x" for "-m, --memory" flag: invalid size: '1x'
//
// Container (container.go) gathers the flags of `create` and `run` and turns
// them, with the image and command, into the create request's Config,
// HostConfig and NetworkingConfig; what can only be checked once every flag is
// known (conflicts, files to read, devices) is checked there, and its errors
// are docker's sentences ("conflicting options: cannot specify both --restart
// and --rm").
package opts

import (
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
)

// Validator checks (and may normalise) one value of a List or Map.
type Validator func(string) (string, error)

// List is a repeatable flag keeping its values in order ("-e A -e B").
type List struct {
	values   []string
	validate Validator
}

// NewList returns a List whose values pass validate (nil accepts all).
func NewList(validate Validator) *List { return &List{validate: validate} }

func (l *List) String() string {
	if len(l.values) == 0 {
		return "[]"
	}
	return "[" + strings.Join(l.values, " ") + "]"
}

func (l *List) Set(v string) error {
	if l.validate != nil {
		var err error
		if v, err = l.validate(v); err != nil {
			return err
		}
	}
	l.values = append(l.values, v)
	return nil
}

func (l *List) Type() string { return "list" }

// Values returns the values in the order given.
func (l *List) Values() []string { return slices.Clone(l.values) }

// Len is the number of values.
func (l *List) Len() int { return len(l.values) }

// Contains reports whether v was given.
func (l *List) Contains(v string) bool { return slices.Contains(l.values, v) }

// Map is a repeatable key=value flag ("--sysctl a=b"); a later key wins.
type Map struct {
	values   map[string]string
	validate Validator
}

// NewMap returns a Map whose values pass validate (nil accepts all).
func NewMap(validate Validator) *Map { return &Map{values: map[string]string{}, validate: validate} }

func (m *Map) String() string {
	var parts []string
	for _, k := range sortedKeys(m.values) {
		parts = append(parts, k+"="+m.values[k])
	}
	return "map[" + strings.Join(parts, " ") + "]"
}

func (m *Map) Set(v string) error {
	if m.validate != nil {
		var err error
		if v, err = m.validate(v); err != nil {
			return err
		}
	}
	k, val, _ := strings.Cut(v, "=")
	m.values[k] = val
	return nil
}

func (m *Map) Type() string { return "map" }

// Values returns the map (nil when empty, so it stays out of the JSON).
func (m *Map) Values() map[string]string {
	if len(m.values) == 0 {
		return nil
	}
	out := make(map[string]string, len(m.values))
	for k, v := range m.values {
		out[k] = v
	}
	return out
}

// MemBytes is a size in bytes written with docker's units ("512m", "1g").
type MemBytes int64

func (m *MemBytes) String() string {
	if *m == 0 {
		return "0"
	}
	return units.BytesSize(float64(*m))
}

func (m *MemBytes) Set(v string) error {
	n, err := units.RAMInBytes(v)
	*m = MemBytes(n)
	return err
}

func (m *MemBytes) Type() string { return "bytes" }

// MemSwapBytes is a MemBytes that may also be -1 (unlimited swap).
type MemSwapBytes int64

func (m *MemSwapBytes) String() string { b := MemBytes(*m); return b.String() }

func (m *MemSwapBytes) Set(v string) error {
	if v == "-1" {
		*m = -1
		return nil
	}
	n, err := units.RAMInBytes(v)
	*m = MemSwapBytes(n)
	return err
}

func (m *MemSwapBytes) Type() string { return "bytes" }

// NanoCPUs is a number of CPUs as a decimal ("1.5"), kept in billionths.
type NanoCPUs int64

func (c *NanoCPUs) String() string {
	if *c == 0 {
		return ""
	}
	return big.NewRat(int64(*c), 1e9).FloatString(3)
}

func (c *NanoCPUs) Set(v string) error {
	r, ok := new(big.Rat).SetString(v)
	if !ok {
		return fmt.Errorf("failed to parse %v as a rational number", v)
	}
	nano := r.Mul(r, big.NewRat(1e9, 1))
	if !nano.IsInt() {
		return fmt.Errorf("value is too precise")
	}
	*c = NanoCPUs(nano.Num().Int64())
	return nil
}

func (c *NanoCPUs) Type() string { return "decimal" }

// Ulimits is the repeatable --ulimit name=soft[:hard]; a later name wins.
type Ulimits struct {
	values map[string]*container.Ulimit
}

func (u *Ulimits) String() string {
	var out []string
	for _, k := range sortedKeys(u.values) {
		out = append(out, u.values[k].String())
	}
	return "[" + strings.Join(out, " ") + "]"
}

func (u *Ulimits) Set(v string) error {
	l, err := units.ParseUlimit(v)
	if err != nil {
		return err
	}
	if u.values == nil {
		u.values = map[string]*container.Ulimit{}
	}
	u.values[l.Name] = l
	return nil
}

func (u *Ulimits) Type() string { return "ulimit" }

// Values returns the limits sorted by name (an empty list, not nil, as
// docker sends it).
func (u *Ulimits) Values() []*container.Ulimit {
	out := []*container.Ulimit{}
	for _, k := range sortedKeys(u.values) {
		out = append(out, u.values[k])
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
