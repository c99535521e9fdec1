package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-engine/berth/internal/timestamp"
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

// parseTime reads a point in time as Docker's API takes it (see timestamp.Parse).
func parseTime(value string, now time.Time) (time.Time, error) { return timestamp.Parse(value, now) }

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
