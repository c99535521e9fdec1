package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
)

// boolValue reads a boolean query parameter the way Docker does: absent, "",
// "0", "no", "false" and "none" are false, anything else true.
func boolValue(r *http.Request, key string) bool {
	switch strings.ToLower(strings.TrimSpace(r.URL.Query().Get(key))) {
	case "", "0", "no", "false", "none":
		return false
	}
	return true
}

// parseFilters decodes the "filters" query parameter, a JSON object mapping
// each filter to its values. Both of Docker's encodings are accepted:
// {"type":{"image":true}} and the older {"type":["image"]}. Values come back
// sorted; no parameter gives nil.
func parseFilters(r *http.Request) (map[string][]string, error) {
	raw := r.URL.Query().Get("filters")
	if raw == "" {
		return nil, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &fields); err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter: %v", err))
	}
	out := make(map[string][]string, len(fields))
	for k, v := range fields {
		var set map[string]bool
		var list []string
		switch {
		case json.Unmarshal(v, &set) == nil:
			for val := range set {
				list = append(list, val)
			}
		case json.Unmarshal(v, &list) == nil:
		default:
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter: the values of %q are neither a list nor a set", k))
		}
		slices.Sort(list)
		out[k] = list
	}
	return out, nil
}

// parseTime reads a point in time as Docker's API takes it (--since, --until):
// Unix seconds with an optional fraction ("1700000000.5"), an RFC 3339 date or
// date-time (local time when it has no zone), or a Go duration meaning that long
// before now ("10m"). "" is the zero time.
func parseTime(value string, now time.Time) (time.Time, error) {
	if value == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(value); err == nil && value != "0" {
		return now.Add(-d), nil
	}
	if sec, frac, ok := cutNumber(value); ok {
		return time.Unix(sec, frac), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, value, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a timestamp (seconds[.nanoseconds]), an RFC 3339 date or a duration", value)
}

// cutNumber parses "seconds[.fraction]" into seconds and nanoseconds.
func cutNumber(value string) (sec, nsec int64, ok bool) {
	s, f, hasFrac := strings.Cut(value, ".")
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil || sec < 0 {
		return 0, 0, false
	}
	if !hasFrac {
		return sec, 0, true
	}
	if f == "" || len(f) > 9 {
		return 0, 0, false
	}
	for _, c := range f {
		if c < '0' || c > '9' {
			return 0, 0, false
		}
	}
	nsec, _ = strconv.ParseInt(f+strings.Repeat("0", 9-len(f)), 10, 64)
	return sec, nsec, true
}

// queryValues returns every value of a repeated query parameter, ignoring empty ones.
func queryValues(r *http.Request, key string) []string {
	var out []string
	for _, v := range r.URL.Query()[key] {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
