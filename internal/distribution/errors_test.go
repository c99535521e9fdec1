package distribution

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestRegistryErrorClasses(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		is     func(error) bool
		text   string
	}{
		{404, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`, errdefs.IsNotFound, "manifest unknown: manifest unknown"},
		{404, `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}`, errdefs.IsNotFound, "blob unknown: blob unknown to registry"},
		{401, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, errdefs.IsUnauthorized, "unauthorized: authentication required"},
		{403, `{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`, errdefs.IsPermissionDenied, "denied: requested access to the resource is denied"},
		{400, `{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry"}]}`, errdefs.IsFailedPrecondition, "manifest blob unknown"},
		{400, `{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"}]}`, errdefs.IsInvalidArgument, "digest invalid"},
		{429, `{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit."}]}`, errdefs.IsResourceExhausted, "toomanyrequests: You have reached"},
		{405, `{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}`, errdefs.IsNotImplemented, "unsupported"},
		{404, `not json`, errdefs.IsNotFound, "unexpected status from GET request to https://reg/v2/x/manifests/y: 404 Not Found"},
		{503, ``, errdefs.IsUnavailable, "503 Service Unavailable"},
		{409, ``, errdefs.IsConflict, "409 Conflict"},
		{418, ``, errdefs.IsUnknown, "418"},
	} {
		u, _ := url.Parse("https://reg/v2/x/manifests/y?_state=secret")
		resp := &http.Response{
			StatusCode: tc.status,
			Body:       io.NopCloser(strings.NewReader(tc.body)),
			Request:    &http.Request{Method: http.MethodGet, URL: u},
		}
		err := newError(resp)
		if !tc.is(err) {
			t.Errorf("%d %s: class not as expected for %v", tc.status, tc.body, err)
		}
		if !strings.Contains(err.Error(), tc.text) || strings.Contains(err.Error(), "secret") {
			t.Errorf("%d %s: message %q, want it to contain %q and no query", tc.status, tc.body, err, tc.text)
		}
		var e *Error
		if !errors.As(error(err), &e) || e.Status != tc.status {
			t.Errorf("%d: not an *Error with the status", tc.status)
		}
	}
}
