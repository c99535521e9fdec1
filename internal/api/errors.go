package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/containerd/errdefs"
)

// errPageNotFound answers a path no route serves, as Docker does.
var errPageNotFound = errdefs.ErrNotFound.WithMessage("page not found")

// statusCode returns the HTTP status for err's class in the containerd/errdefs
// vocabulary (the classes are found through wrapping, and also through the
// moby-style marker methods NotFound(), InvalidParameter(), Conflict()...).
// What has no class is an internal fault: 500.
func statusCode(err error) int {
	switch {
	case errdefs.IsNotFound(err):
		return http.StatusNotFound
	case errdefs.IsInvalidArgument(err):
		return http.StatusBadRequest
	case errdefs.IsConflict(err), errdefs.IsAlreadyExists(err):
		return http.StatusConflict
	case errdefs.IsNotModified(err):
		return http.StatusNotModified
	case errdefs.IsUnauthorized(err):
		return http.StatusUnauthorized
	case errdefs.IsPermissionDenied(err):
		return http.StatusForbidden
	case errdefs.IsUnavailable(err):
		return http.StatusServiceUnavailable
	case errdefs.IsNotImplemented(err):
		return http.StatusNotImplemented
	}
	return http.StatusInternalServerError
}

// errorResponse is Docker's error body.
type errorResponse struct {
	Message string `json:"message"`
}

// writeError is the one place an error becomes an HTTP response: the status
// from statusCode and Docker's {"message": "..."} body holding err's text. The
// text is err.Error() as it stands, so code that wants Docker's exact wording
// returns an error whose message is that wording, e.g.
// errdefs.ErrNotFound.WithMessage("No such image: " + ref).
//
// When the response has already begun (a stream failing midway), the error can
// only be logged. A failure because the client went away is not an error.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := statusCode(err)
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		s.log.Debug("api request abandoned by the client", "method", r.Method, "path", r.URL.Path, "error", err)
		return
	}
	if code >= 500 {
		s.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "status", code, "error", err)
	} else {
		s.log.Debug("api request refused", "method", r.Method, "path", r.URL.Path, "status", code, "error", err)
	}
	if headerWritten(w) {
		return
	}
	if code == http.StatusNotModified {
		w.WriteHeader(code)
		return
	}
	writeJSON(w, code, errorResponse{Message: err.Error()})
}

// writeJSON sends v as a JSON body with the status code.
func writeJSON(w http.ResponseWriter, code int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	return json.NewEncoder(w).Encode(v)
}
