package distribution

import (
	"context"
	"fmt"
	"net/http"

	"github.com/berth-engine/berth/internal/distribution/auth"
	"github.com/containerd/errdefs"
)

// Login checks creds against the registry named registry ("docker.io",
// "myreg:5000"), as `docker login` asks the daemon to: it GETs /v2/ and answers the
// challenge. A registry that asks for nothing accepts any login. When the token server
// hands out a refresh token for the login, it is returned as identityToken; clients
// store it (see auth.IdentityTokenUser) instead of the password.
//
// A refused login is an error of class Unauthenticated.
func (c *Client) Login(ctx context.Context, registry string, creds auth.Credentials) (identityToken string, err error) {
	if creds == nil {
		return "", fmt.Errorf("login to %s: no credentials: %w", registry, errdefs.ErrInvalidArgument)
	}
	r := &Repository{c: c, domain: registry, creds: creds}
	r.push = c.registryEndpoints(ctx, registry)
	acc := r.access(nil)
	err = r.try(ctx, r.push, &r.pushPref, func(ep endpoint) error {
		resp, err := r.send(ctx, ep, request{method: http.MethodGet, path: "/v2/", idempotent: true})
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return newError(resp)
		}
		drain(resp)
		if ch, ok := c.authz.Challenge(resp.Request.URL.Host); ok && ch.Scheme == "bearer" {
			tok, err := c.authz.Token(ctx, ch, acc)
			if err != nil {
				return err
			}
			identityToken = tok.RefreshToken
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("login to %s: %w", registry, err)
	}
	return identityToken, nil
}
