package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
)

// The API versions served: every one from MinAPIVersion to APIVersion, as a
// "/v1.xx" path prefix, and APIVersion when the path has none.
const (
	APIVersion    = "1.50"
	MinAPIVersion = "1.24"
)

type versionKey struct{}

// requestVersion returns the API version the client asked for (APIVersion when
// it named none).
func requestVersion(ctx context.Context) string {
	if v, ok := ctx.Value(versionKey{}).(string); ok {
		return v
	}
	return APIVersion
}

// negotiateVersion takes the "/v1.xx" prefix off r's path and returns a request
// carrying that version in its context; a version outside the supported range
// is an invalid-argument error with Docker's message. r itself is not changed.
func negotiateVersion(r *http.Request) (*http.Request, error) {
	version := APIVersion
	if rest, ok := strings.CutPrefix(r.URL.Path, "/v"); ok {
		seg, _, _ := strings.Cut(rest, "/")
		if isVersion(seg) {
			version = seg
			prefix := "/v" + seg
			u := *r.URL
			u.Path = strings.TrimPrefix(u.Path, prefix)
			u.RawPath = strings.TrimPrefix(u.RawPath, prefix)
			if u.Path == "" {
				u.Path = "/"
			}
			r = r.Clone(r.Context())
			r.URL = &u
		}
	}
	switch {
	case compareVersions(version, APIVersion) > 0:
		return r, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf(
			"client version %s is too new. Maximum supported API version is %s", version, APIVersion))
	case compareVersions(version, MinAPIVersion) < 0:
		return r, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf(
			"client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version",
			version, MinAPIVersion))
	}
	return r.WithContext(context.WithValue(r.Context(), versionKey{}, version)), nil
}

// isVersion reports whether s looks like an API version: digits and dots, as
// Docker's router accepts ("1.50", "1").
func isVersion(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	return true
}

// compareVersions compares dotted versions numerically, part by part, a
// missing part counting as 0: -1 when a < b, 0 when equal, +1 when a > b.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// versionBefore reports whether the request's API version is older than v.
func versionBefore(ctx context.Context, v string) bool {
	return compareVersions(requestVersion(ctx), v) < 0
}
