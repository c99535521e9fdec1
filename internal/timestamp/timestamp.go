// Package timestamp reads points in time as Docker's API and filters take them
// (--since, --until, until=).
package timestamp

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Parse reads a point in time as Docker's API takes it (--since, --until):
// Unix seconds with an optional fraction ("1700000000.5"), an RFC 3339 date or
// date-time (local time when it has no zone), or a Go duration meaning that long
// before now ("10m"). "" is the zero time.
func Parse(value string, now time.Time) (time.Time, error) {
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
