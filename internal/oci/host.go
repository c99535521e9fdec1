package oci

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strconv"
	"strings"
)

// KernelVersion is a kernel's version as "<major>.<minor>"; the patch level
// and any suffix ("-amd64", "-rc5") are ignored, as Docker's seccomp
// minKernel conditions do.
type KernelVersion struct {
	Major, Minor uint
}

// ParseKernelVersion reads a release such as "6.18.3-amd64" or "5.8".
func ParseKernelVersion(s string) (KernelVersion, error) {
	major, rest, ok := strings.Cut(s, ".")
	if !ok {
		return KernelVersion{}, fmt.Errorf("kernel version %q: want <major>.<minor>", s)
	}
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	a, err1 := strconv.ParseUint(major, 10, 16)
	b, err2 := strconv.ParseUint(rest[:end], 10, 16)
	if err1 != nil || err2 != nil {
		return KernelVersion{}, fmt.Errorf("kernel version %q: want <major>.<minor>", s)
	}
	return KernelVersion{Major: uint(a), Minor: uint(b)}, nil
}

// String returns "<major>.<minor>".
func (k KernelVersion) String() string { return fmt.Sprintf("%d.%d", k.Major, k.Minor) }

// AtLeast reports whether k is v or newer. An unknown (zero) k is taken to be
// newer than anything.
func (k KernelVersion) AtLeast(v KernelVersion) bool {
	if k == (KernelVersion{}) {
		return true
	}
	return k.Major > v.Major || (k.Major == v.Major && k.Minor >= v.Minor)
}

// MarshalJSON writes "<major>.<minor>", the form of a profile's minKernel.
func (k KernelVersion) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }

// UnmarshalJSON reads "<major>.<minor>" exactly; 0.0 is refused.
func (k *KernelVersion) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf(`invalid kernel version: %s, expected "<kernel>.<major>": %w`, b, err)
	}
	if s == "" {
		*k = KernelVersion{}
		return nil
	}
	parts := strings.Split(s, ".")
	if len(parts) != 2 {
		return fmt.Errorf(`invalid kernel version: %s, expected "<kernel>.<major>"`, b)
	}
	a, err1 := strconv.ParseUint(parts[0], 10, 8)
	c, err2 := strconv.ParseUint(parts[1], 10, 8)
	if err1 != nil || err2 != nil {
		return fmt.Errorf(`invalid kernel version: %s, expected "<kernel>.<major>"`, b)
	}
	if a == 0 && c == 0 {
		return fmt.Errorf(`invalid kernel version: %s, expected "<kernel>.<major>": version cannot be 0.0`, b)
	}
	*k = KernelVersion{Major: uint(a), Minor: uint(c)}
	return nil
}

// arch returns the GOARCH containers run as.
func (h Host) arch() string {
	if h.Arch != "" {
		return h.Arch
	}
	return runtime.GOARCH
}

// numCPU returns the number of CPUs --cpus may use.
func (h Host) numCPU() int {
	if h.NumCPU > 0 {
		return h.NumCPU
	}
	return runtime.NumCPU()
}
