package daemon

import (
	"encoding/base64"
	"slices"
	"testing"

	"github.com/moby/moby/api/types/registry"

	"github.com/berth-engine/berth/internal/distribution/auth"
)

func TestWithTagJoinsAsTheAPIPassesThem(t *testing.T) {
	for _, c := range []struct{ ref, tag, want string }{
		{"busybox", "", "docker.io/library/busybox:latest"},
		{"busybox", "1.36", "docker.io/library/busybox:1.36"},
		{"127.0.0.1:5000/a/b", "v1", "127.0.0.1:5000/a/b:v1"},
		{"busybox", "sha256:" + sixtyFour('a'), "docker.io/library/busybox@sha256:" + sixtyFour('a')},
	} {
		if got, err := withTag(c.ref, c.tag); err != nil || got != c.want {
			t.Errorf("withTag(%q, %q) = %q, %v; want %q", c.ref, c.tag, got, err, c.want)
		}
	}
	if _, err := withTag("busy box", ""); err == nil {
		t.Error("an invalid reference was accepted")
	}
}

func sixtyFour(c byte) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return string(b)
}

func TestMatchingKeepsOnlyFilteredTags(t *testing.T) {
	tags := []string{"busybox:latest", "other/bbox:v1", "busybox:1.36"}
	if got := matching(tags, nil); !slices.Equal(got, tags) {
		t.Errorf("no filter: %q", got)
	}
	if got := matching(tags, []string{"busybox"}); !slices.Equal(got, []string{"busybox:latest", "busybox:1.36"}) {
		t.Errorf("busybox: %q", got)
	}
	if got := matching(tags, []string{"other/*:v1"}); !slices.Equal(got, []string{"other/bbox:v1"}) {
		t.Errorf("other/*:v1: %q", got)
	}
	if got := matching(nil, []string{"x"}); got == nil || len(got) != 0 {
		t.Errorf("no tags: %#v, want an empty list (JSON [])", got)
	}
}

func TestCredentialsFromXRegistryAuth(t *testing.T) {
	user := func(c auth.Credentials) (string, string) {
		if c == nil {
			return "", ""
		}
		u, p, _ := c.Credentials("127.0.0.1:5000")
		return u, p
	}
	if c := credentials(nil); c != nil {
		t.Error("no header gave credentials")
	}
	if u, p := user(credentials(&registry.AuthConfig{Username: "u", Password: "p"})); u != "u" || p != "p" {
		t.Errorf("username/password: %q %q", u, p)
	}
	enc := base64.StdEncoding.EncodeToString([]byte("v:w"))
	if u, p := user(credentials(&registry.AuthConfig{Auth: enc})); u != "v" || p != "w" {
		t.Errorf("auth field: %q %q", u, p)
	}
	if u, p := user(credentials(&registry.AuthConfig{IdentityToken: "tok"})); u != auth.IdentityTokenUser || p != "tok" {
		t.Errorf("identity token: %q %q", u, p)
	}
	if c := credentials(&registry.AuthConfig{ServerAddress: "x"}); c != nil {
		t.Error("an empty login gave credentials")
	}
}
