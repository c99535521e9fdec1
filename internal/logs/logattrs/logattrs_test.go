package logattrs

import (
	"maps"
	"testing"

	"github.com/containerd/errdefs"
)

func TestAttrs(t *testing.T) {
	c := Container{
		ID:        "0123456789abcdef0123456789abcdef",
		Name:      "/web",
		ImageID:   "sha256:fedcba9876543210",
		ImageName: "nginx:latest",
		Labels:    map[string]string{"com.example.team": "core", "com.example.tier": "front", "other": "x"},
		Env:       []string{"PATH=/bin", "APP_MODE=prod", "APP_DEBUG=0", "EMPTY="},
	}
	cases := []struct {
		opts map[string]string
		want map[string]string
	}{
		{nil, nil},
		{map[string]string{"labels": "com.example.team,missing"}, map[string]string{"com.example.team": "core"}},
		{map[string]string{"labels-regex": "^com\\.example\\."}, map[string]string{"com.example.team": "core", "com.example.tier": "front"}},
		{map[string]string{"env": "APP_MODE,EMPTY,NOPE"}, map[string]string{"APP_MODE": "prod", "EMPTY": ""}},
		{map[string]string{"env-regex": "^APP_"}, map[string]string{"APP_MODE": "prod", "APP_DEBUG": "0"}},
		{map[string]string{"tag": "{{.Name}}/{{.ID}}/{{.ImageID}}/{{.ImageName}}"}, map[string]string{"tag": "web/0123456789ab/fedcba987654/nginx:latest"}},
		{map[string]string{"tag": "{{.FullID}} {{upper .Name}}"}, map[string]string{"tag": "0123456789abcdef0123456789abcdef WEB"}},
	}
	for _, tc := range cases {
		got, err := Attrs(tc.opts, c)
		if err != nil || !maps.Equal(got, tc.want) {
			t.Errorf("%v: got %v, %v; want %v", tc.opts, got, err, tc.want)
		}
	}
	for _, opts := range []map[string]string{{"labels-regex": "("}, {"env-regex": "["}, {"tag": "{{.Nope}}"}, {"tag": "{{"}} {
		if _, err := Attrs(opts, c); !errdefs.IsInvalidArgument(err) {
			t.Errorf("%v: %v, want an invalid-argument error", opts, err)
		}
	}
}

// As `docker logs --details` prints them: sorted, query-escaped, comma-joined.
func TestDetails(t *testing.T) {
	got := string(Details(map[string]string{"tag": "web", "com.example": "a b&c=d", "Z": ","}))
	if want := "Z=%2C,com.example=a+b%26c%3Dd,tag=web"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := Details(nil); len(got) != 0 {
		t.Errorf("no attrs: %q", got)
	}
}
