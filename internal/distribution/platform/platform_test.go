package platform

import (
	"runtime"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"linux/amd64", "linux/amd64"},
		{"linux/x86_64", "linux/amd64"},
		{"Linux/AMD64", "linux/amd64"},
		{"linux/amd64/v1", "linux/amd64"},
		{"linux/amd64/v3", "linux/amd64/v3"},
		{"linux/arm64", "linux/arm64"},
		{"linux/aarch64", "linux/arm64"},
		{"linux/arm64/v8", "linux/arm64"},
		{"linux/arm", "linux/arm/v7"},
		{"linux/arm/7", "linux/arm/v7"},
		{"linux/arm/v6", "linux/arm/v6"},
		{"linux/armhf", "linux/arm/v7"},
		{"linux/armel", "linux/arm/v6"},
		{"linux/i386", "linux/386"},
		{"windows/amd64", "windows/amd64"},
		{"s390x", runtime.GOOS + "/s390x"},
		{"arm64", runtime.GOOS + "/arm64"},
	} {
		p, err := Parse(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got := Format(p); got != tc.want {
			t.Errorf("%q = %s, want %s", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"", "linux/", "/amd64", "linux/amd64/v8/x", "martian", "linux/am d64"} {
		if _, err := Parse(bad); !errdefs.IsInvalidArgument(err) {
			t.Errorf("%q: %v, want InvalidArgument", bad, err)
		}
	}
	if p, _ := Parse("linux"); runtime.GOOS == "linux" && p.Architecture != Default().Architecture {
		t.Errorf("linux = %s, want the host's architecture", Format(p))
	}
}

func TestRank(t *testing.T) {
	pl := func(s string) ocispec.Platform {
		parts := strings.Split(s, "/")
		p := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
		if len(parts) > 2 {
			p.Variant = parts[2]
		}
		return p
	}
	for _, tc := range []struct {
		want, have string
		ok         bool
	}{
		{"linux/amd64", "linux/amd64", true},
		{"linux/amd64", "linux/x86_64", true},
		{"linux/amd64", "linux/amd64/v2", false},
		{"linux/amd64/v3", "linux/amd64/v2", true},
		{"linux/amd64/v3", "linux/amd64", true},
		{"linux/arm64", "linux/arm64/v8", true},
		{"linux/arm64/v8", "linux/aarch64", true},
		{"linux/arm64", "linux/arm/v7", false},
		{"linux/arm/v7", "linux/arm/v6", true},
		{"linux/arm/v6", "linux/arm/v7", false},
		{"linux/arm", "linux/arm/v7", true},
		{"linux/amd64", "windows/amd64", false},
		{"linux/amd64", "unknown/unknown", false},
	} {
		if got := Match(pl(tc.want), pl(tc.have)); got != tc.ok {
			t.Errorf("Match(%s, %s) = %v, want %v", tc.want, tc.have, got, tc.ok)
		}
	}
}

func TestSelectPrefersTheBestLevel(t *testing.T) {
	d := func(s string, arch, variant string) ocispec.Descriptor {
		return ocispec.Descriptor{Digest: digest.Digest("sha256:" + strings.Repeat(s, 64)), Platform: &ocispec.Platform{OS: "linux", Architecture: arch, Variant: variant}}
	}
	list := []ocispec.Descriptor{
		d("1", "arm", "v5"), d("2", "arm", "v7"), d("3", "arm", "v6"),
		d("4", "amd64", ""), d("5", "amd64", "v3"),
		{Digest: digest.Digest("sha256:" + strings.Repeat("6", 64)), Platform: &ocispec.Platform{OS: "unknown", Architecture: "unknown"}},
	}
	for _, tc := range []struct {
		want   ocispec.Platform
		digest string
	}{
		{ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, "2"},
		{ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, "3"},
		{ocispec.Platform{OS: "linux", Architecture: "amd64"}, "4"},
		{ocispec.Platform{OS: "linux", Architecture: "amd64", Variant: "v4"}, "5"},
		{ocispec.Platform{OS: "linux", Architecture: "amd64", Variant: "v2"}, "4"},
	} {
		got, err := Select(list, tc.want)
		if err != nil {
			t.Fatalf("%s: %v", Format(tc.want), err)
		}
		if string(got.Digest) != "sha256:"+strings.Repeat(tc.digest, 64) {
			t.Errorf("%s: selected %s, want the one of %s", Format(tc.want), got.Digest[:8], tc.digest)
		}
	}
	_, err := Select(list, ocispec.Platform{OS: "linux", Architecture: "riscv64"})
	if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "available: linux/arm/v5, linux/arm/v7, linux/arm/v6, linux/amd64, linux/amd64/v3)") {
		t.Fatalf("no match: %v", err)
	}
}
