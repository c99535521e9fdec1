// Package platform parses, normalises and matches image platforms (os/architecture/
// variant) and picks the manifest that suits a platform from an image index or a Docker
// manifest list.
//
// The same platform has several spellings: uname says x86_64 and aarch64, Go says amd64
// and arm64, manifest lists say arm64 with or without the variant v8, and 32-bit arm
// without a variant means ARMv7. Normalize maps them all to one form before comparing:
//
//	x86_64, x86-64, amd64          -> amd64    (variant v1 -> "")
//	aarch64, arm64 (v8, 8, v8.0)   -> arm64    (variant "")
//	armhf, arm ("", 7)             -> arm/v7;  armel -> arm/v6
//	i386, 386                      -> 386
//
// A host can run images built for an older level of its architecture: an arm/v7 host
// runs arm/v6 and arm/v5 images, an amd64/v3 host runs v2 and v1. Select prefers the
// highest level that the wanted platform can run, and exact matches above all.
package platform

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Parse reads a platform the way docker's --platform flag spells it: "os/arch",
// "os/arch/variant", or one word that is either an operating system ("linux": the host's
// architecture) or an architecture ("arm64": the host's operating system). The result
// is normalised.
func Parse(s string) (ocispec.Platform, error) {
	if s == "" {
		return ocispec.Platform{}, fmt.Errorf("empty platform: %w", errdefs.ErrInvalidArgument)
	}
	parts := strings.Split(s, "/")
	for _, p := range parts {
		if !validPart(p) {
			return ocispec.Platform{}, fmt.Errorf("invalid platform %q: each part must be letters, digits, '_', '-' or '.': %w", s, errdefs.ErrInvalidArgument)
		}
	}
	var p ocispec.Platform
	switch len(parts) {
	case 1:
		w := strings.ToLower(parts[0])
		switch {
		case knownOS[w]:
			p = ocispec.Platform{OS: w, Architecture: runtime.GOARCH}
			if p.OS == runtime.GOOS {
				p = Default()
			}
		case knownArch[w]:
			p = ocispec.Platform{OS: runtime.GOOS, Architecture: w}
		default:
			return ocispec.Platform{}, fmt.Errorf("invalid platform %q: unknown operating system or architecture: %w", s, errdefs.ErrInvalidArgument)
		}
	case 2:
		p = ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	case 3:
		p = ocispec.Platform{OS: parts[0], Architecture: parts[1], Variant: parts[2]}
	default:
		return ocispec.Platform{}, fmt.Errorf("invalid platform %q: want os/arch[/variant]: %w", s, errdefs.ErrInvalidArgument)
	}
	if p.OS == "" || p.Architecture == "" {
		return ocispec.Platform{}, fmt.Errorf("invalid platform %q: want os/arch[/variant]: %w", s, errdefs.ErrInvalidArgument)
	}
	return Normalize(p), nil
}

func validPart(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}

var knownOS = map[string]bool{
	"aix": true, "android": true, "darwin": true, "dragonfly": true, "freebsd": true,
	"illumos": true, "ios": true, "js": true, "linux": true, "netbsd": true, "openbsd": true,
	"plan9": true, "solaris": true, "wasip1": true, "windows": true,
}

var knownArch = map[string]bool{
	"386": true, "i386": true, "amd64": true, "x86_64": true, "x86-64": true, "arm": true,
	"armhf": true, "armel": true, "arm64": true, "aarch64": true, "loong64": true,
	"mips": true, "mipsle": true, "mips64": true, "mips64le": true, "ppc64": true,
	"ppc64le": true, "riscv64": true, "s390x": true, "wasm": true,
}

// Normalize returns p in berth's one spelling (see the package comment). OS version and
// features are kept as they are.
func Normalize(p ocispec.Platform) ocispec.Platform {
	p.OS = strings.ToLower(p.OS)
	p.Architecture = strings.ToLower(p.Architecture)
	p.Variant = strings.ToLower(p.Variant)
	switch p.Architecture {
	case "i386", "386":
		p.Architecture, p.Variant = "386", ""
	case "x86_64", "x86-64", "amd64":
		p.Architecture = "amd64"
		if p.Variant == "v1" || p.Variant == "1" {
			p.Variant = ""
		}
	case "aarch64", "arm64":
		p.Architecture = "arm64"
		switch p.Variant {
		case "8", "v8", "v8.0":
			p.Variant = ""
		case "9", "9.0", "v9.0":
			p.Variant = "v9"
		}
	case "armhf":
		p.Architecture, p.Variant = "arm", "v7"
	case "armel":
		p.Architecture, p.Variant = "arm", "v6"
	case "arm":
		switch p.Variant {
		case "", "7":
			p.Variant = "v7"
		case "5", "6", "8":
			p.Variant = "v" + p.Variant
		}
	}
	return p
}

// Format spells p as "os/arch[/variant]", as docker prints platforms.
func Format(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Default is the host's platform (normalised), the platform pulled when none is asked.
func Default() ocispec.Platform {
	return Normalize(ocispec.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH, Variant: hostVariant()})
}

// hostVariant reads the ARM architecture level from /proc/cpuinfo, once.
var hostVariant = sync.OnceValue(func() string {
	if runtime.GOARCH != "arm" && runtime.GOARCH != "arm64" {
		return ""
	}
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "CPU architecture" {
			v = strings.TrimSpace(v)
			if runtime.GOARCH == "arm" && v == "AArch64" {
				return "v8"
			}
			return "v" + v
		}
	}
	return ""
})

// level is the architecture level of a normalised platform for the architectures whose
// variants form a ladder (an image of a lower level runs on a higher one), or -1.
func level(p ocispec.Platform) int {
	v := strings.TrimPrefix(p.Variant, "v")
	switch p.Architecture {
	case "amd64":
		if p.Variant == "" {
			return 1
		}
	case "arm64":
		if p.Variant == "" {
			return 8
		}
	case "arm":
	default:
		return -1
	}
	if i := strings.IndexByte(v, '.'); i >= 0 {
		v = v[:i]
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return n
}

// Rank says how well an image for have suits a host of platform want: -1 when it cannot
// run there, otherwise a score where higher is better (an exact match scores highest).
// Both are normalised first.
func Rank(want, have ocispec.Platform) int {
	want, have = Normalize(want), Normalize(have)
	if want.OS != have.OS || want.Architecture != have.Architecture {
		return -1
	}
	if want.Variant == have.Variant {
		return 1000
	}
	lw, lh := level(want), level(have)
	if lw < 0 || lh < 0 || lh > lw {
		return -1
	}
	return lh
}

// Match reports whether an image for have runs on a host of platform want.
func Match(want, have ocispec.Platform) bool { return Rank(want, have) >= 0 }

// Select picks, from the entries of an image index or manifest list, the manifest that
// best suits want. Entries without a platform are skipped (attestations carry
// "unknown/unknown" and never match). When none matches, the error (class NotFound)
// lists the platforms the index offers.
func Select(manifests []ocispec.Descriptor, want ocispec.Platform) (ocispec.Descriptor, error) {
	best, bestRank := -1, -1
	var avail []string
	for i, d := range manifests {
		if d.Platform == nil {
			continue
		}
		if d.Platform.OS != "unknown" {
			avail = append(avail, Format(*d.Platform))
		}
		if r := Rank(want, *d.Platform); r > bestRank {
			best, bestRank = i, r
		}
	}
	if best < 0 {
		list := "none"
		if len(avail) > 0 {
			list = strings.Join(avail, ", ")
		}
		return ocispec.Descriptor{}, fmt.Errorf("no matching manifest for %s in the manifest list entries (available: %s): %w",
			Format(want), list, errdefs.ErrNotFound)
	}
	return manifests[best], nil
}
