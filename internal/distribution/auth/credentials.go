package auth

// Credentials finds the login to present to a registry.
//
// host is the registry's name as it appears in image references ("docker.io",
// "registry.example.com:5000"), not the address of a mirror or of a token server: the
// same login is offered to every endpoint that serves that registry.
//
// An empty user and password mean anonymous access. A user of IdentityTokenUser means
// that pass is an OAuth2 refresh token (Docker's "identity token") rather than a
// password; it is exchanged for access tokens with grant_type=refresh_token.
type Credentials interface {
	Credentials(host string) (user, pass string, err error)
}

// IdentityTokenUser is the user name that marks the password as an identity (refresh)
// token, the convention Docker's credential helpers use.
const IdentityTokenUser = "<token>"

// CredentialsFunc adapts a function to the Credentials interface.
type CredentialsFunc func(host string) (user, pass string, err error)

// Credentials calls f.
func (f CredentialsFunc) Credentials(host string) (string, string, error) { return f(host) }

// Static returns Credentials that offer the same login to every registry. The daemon
// uses it for the login a client sends with one request (X-Registry-Auth).
func Static(user, pass string) Credentials {
	return CredentialsFunc(func(string) (string, string, error) { return user, pass, nil })
}

// lookup asks c for host's login; a nil c means anonymous.
func lookup(c Credentials, host string) (user, pass string, err error) {
	if c == nil {
		return "", "", nil
	}
	return c.Credentials(host)
}
