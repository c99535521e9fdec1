package distribution

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
)

// Error is a registry's refusal: the HTTP status of its reply and the error codes of
// the reply's body,
//
//	{"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown", "detail": ...}]}
//
// It unwraps to the containerd/errdefs class that the codes (or, without codes, the
// status) stand for, so callers test errdefs.IsNotFound(err) and the like.
type Error struct {
	Method string
	URL    string // without the query, which may hold upload state
	Status int
	Errors []ErrorDetail
	class  error
}

// ErrorDetail is one entry of a registry's error body.
type ErrorDetail struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Detail  json.RawMessage `json:"detail,omitempty"`
}

// Error reads as Docker prints registry errors: "manifest unknown: manifest unknown".
func (e *Error) Error() string {
	if len(e.Errors) == 0 {
		return fmt.Sprintf("unexpected status from %s request to %s: %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
	}
	parts := make([]string, 0, len(e.Errors))
	for _, d := range e.Errors {
		code := strings.ToLower(strings.ReplaceAll(d.Code, "_", " "))
		switch {
		case code == "":
			parts = append(parts, d.Message)
		case d.Message == "":
			parts = append(parts, code)
		default:
			parts = append(parts, code+": "+d.Message)
		}
	}
	return strings.Join(parts, "; ")
}

// Unwrap returns the error's errdefs class.
func (e *Error) Unwrap() error { return e.class }

// Has reports whether the registry gave the error code (e.g. "BLOB_UNKNOWN").
func (e *Error) Has(code string) bool {
	for _, d := range e.Errors {
		if d.Code == code {
			return true
		}
	}
	return false
}

// codeClass maps the distribution spec's error codes (and Docker Hub's extras) to
// errdefs classes.
var codeClass = map[string]error{
	"BLOB_UNKNOWN":              errdefs.ErrNotFound,
	"BLOB_UPLOAD_UNKNOWN":       errdefs.ErrNotFound,
	"MANIFEST_UNKNOWN":          errdefs.ErrNotFound,
	"NAME_UNKNOWN":              errdefs.ErrNotFound,
	"MANIFEST_BLOB_UNKNOWN":     errdefs.ErrFailedPrecondition,
	"UNAUTHORIZED":              errdefs.ErrUnauthenticated,
	"DENIED":                    errdefs.ErrPermissionDenied,
	"BLOB_UPLOAD_INVALID":       errdefs.ErrInvalidArgument,
	"DIGEST_INVALID":            errdefs.ErrInvalidArgument,
	"MANIFEST_INVALID":          errdefs.ErrInvalidArgument,
	"MANIFEST_UNVERIFIED":       errdefs.ErrInvalidArgument,
	"NAME_INVALID":              errdefs.ErrInvalidArgument,
	"SIZE_INVALID":              errdefs.ErrInvalidArgument,
	"TAG_INVALID":               errdefs.ErrInvalidArgument,
	"RANGE_INVALID":             errdefs.ErrInvalidArgument,
	"PAGINATION_NUMBER_INVALID": errdefs.ErrInvalidArgument,
	"UNSUPPORTED":               errdefs.ErrNotImplemented,
	"TOOMANYREQUESTS":           errdefs.ErrResourceExhausted,
	"UNAVAILABLE":               errdefs.ErrUnavailable,
}

// statusClass maps an HTTP status to an errdefs class when the body names no code.
func statusClass(status int) error {
	switch status {
	case http.StatusBadRequest, http.StatusRequestedRangeNotSatisfiable, http.StatusRequestEntityTooLarge:
		return errdefs.ErrInvalidArgument
	case http.StatusUnauthorized:
		return errdefs.ErrUnauthenticated
	case http.StatusForbidden:
		return errdefs.ErrPermissionDenied
	case http.StatusNotFound:
		return errdefs.ErrNotFound
	case http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return errdefs.ErrNotImplemented
	case http.StatusConflict:
		return errdefs.ErrConflict
	case http.StatusPreconditionFailed:
		return errdefs.ErrFailedPrecondition
	case http.StatusTooManyRequests:
		return errdefs.ErrResourceExhausted
	}
	if status >= 500 {
		return errdefs.ErrUnavailable
	}
	return errdefs.ErrUnknown
}

// newError reads resp's body (a little of it) into an Error and closes the body.
func newError(resp *http.Response) *Error {
	defer resp.Body.Close()
	e := &Error{Status: resp.StatusCode}
	if req := resp.Request; req != nil {
		e.Method = req.Method
		u := *req.URL
		u.RawQuery, u.User = "", nil
		e.URL = u.String()
	}
	if resp.Request == nil || resp.Request.Method != http.MethodHead {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var parsed struct {
			Errors []ErrorDetail `json:"errors"`
		}
		if json.Unmarshal(body, &parsed) == nil {
			e.Errors = parsed.Errors
		}
	}
	for _, d := range e.Errors {
		if c, ok := codeClass[d.Code]; ok {
			e.class = c
			break
		}
	}
	if e.class == nil {
		e.class = statusClass(resp.StatusCode)
	}
	return e
}

// VerifyError says that content did not match its descriptor: its digest or its size
// differ. Content that fails verification is never handed over as good. It unwraps to
// errdefs.ErrDataLoss.
type VerifyError struct {
	Digest  digest.Digest // expected
	Actual  digest.Digest // computed; empty when the size was already wrong
	Size    int64         // expected, -1 when unknown
	GotSize int64         // received so far
}

func (e *VerifyError) Error() string {
	if e.Actual == "" {
		return fmt.Sprintf("verification failed for %s: size mismatch: got %d bytes, want %d", e.Digest, e.GotSize, e.Size)
	}
	return fmt.Sprintf("verification failed for %s: digest mismatch: content hashes to %s", e.Digest, e.Actual)
}

// Unwrap returns errdefs.ErrDataLoss.
func (e *VerifyError) Unwrap() error { return errdefs.ErrDataLoss }
