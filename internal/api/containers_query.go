package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/berth-engine/berth/internal/daemon"
)

// readJSON decodes the request body into out as Docker's routes do. It reports
// whether there was a body at all: an empty one leaves out as it was, which the
// routes whose body is optional (update, commit, exec start) accept. A
// Content-Type other than JSON (none is accepted), malformed JSON or content
// after the JSON value is refused with 400.
func readJSON(r *http.Request, out any) (present bool, err error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return false, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("malformed Content-Type header (%s): %v", ct, err))
		}
		if mt != "application/json" {
			return false, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unsupported Content-Type header (%s): must be 'application/json'", ct))
		}
	}
	if r.Body == nil || r.ContentLength == 0 {
		return false, nil
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(out); err != nil {
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, errdefs.ErrInvalidArgument.WithMessage("invalid JSON: " + err.Error())
	}
	if dec.More() {
		return false, errdefs.ErrInvalidArgument.WithMessage("unexpected content after JSON")
	}
	return true, nil
}

// stopOptions reads stop's and restart's query: ?signal (API 1.42 on) and ?t,
// the seconds to wait before SIGKILL.
func stopOptions(r *http.Request) (daemon.StopOptions, error) {
	var opts daemon.StopOptions
	q := r.URL.Query()
	if !versionBefore(r.Context(), "1.42") {
		opts.Signal = q.Get("signal")
	}
	if t := q.Get("t"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil {
			return opts, errdefs.ErrInvalidArgument.WithMessage(err.Error())
		}
		opts.Timeout = &n
	}
	return opts, nil
}

// terminalSize reads resize's ?h and ?w, both required, as Docker words their errors.
func terminalSize(r *http.Request) (height, width uint, err error) {
	h, err := uint32Query(r, "h")
	if err != nil {
		return 0, 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid resize height %q: %v", r.URL.Query().Get("h"), err))
	}
	w, err := uint32Query(r, "w")
	if err != nil {
		return 0, 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid resize width %q: %v", r.URL.Query().Get("w"), err))
	}
	return uint(h), uint(w), nil
}

// uint32Query parses a required unsigned 32-bit query value; the error is
// strconv's bare reason ("invalid syntax", "value out of range").
func uint32Query(r *http.Request, key string) (uint32, error) {
	v, negative := strings.CutPrefix(r.URL.Query().Get(key), "-")
	if v == "" || v[0] == '+' {
		return 0, strconv.ErrSyntax
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) {
			return 0, ne.Err
		}
		return 0, err
	}
	if negative {
		return 0, strconv.ErrRange
	}
	return uint32(n), nil
}

// boolValueOrDefault is boolValue, except that an absent parameter is def.
func boolValueOrDefault(r *http.Request, key string, def bool) bool {
	if !r.URL.Query().Has(key) {
		return def
	}
	return boolValue(r, key)
}

// unixTimestamp parses logs' ?since and ?until: Unix seconds with an optional
// fraction of up to nine digits (more are cut off, as Docker does).
func unixTimestamp(key, value string) (sec, nsec int64, err error) {
	s, frac, _ := strings.Cut(value, ".")
	sec, err = strconv.ParseInt(s, 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) {
			err = ne.Err
		}
		return 0, 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid value for %q: invalid timestamp %q: invalid seconds %q: %v", key, value, s, err))
	}
	if len(frac) > 20 {
		return 0, 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid value for %q: invalid timestamp %q: invalid nanoseconds: length %d exceeds maximum 20", key, value, len(frac)))
	}
	for i, c := range frac {
		if c < '0' || c > '9' {
			return 0, 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid value for %q: invalid timestamp %q: invalid nanoseconds: invalid character %q at position %d", key, value, c, i))
		}
	}
	frac = (frac + "000000000")[:9]
	nsec, _ = strconv.ParseInt(frac, 10, 64)
	return sec, nsec, nil
}
