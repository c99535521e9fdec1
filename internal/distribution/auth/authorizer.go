package auth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
)

// Authorizer answers registries' authentication challenges the way Docker does.
//
// A registry tells a client how to authenticate only when it refuses a request: the 401
// reply carries a WWW-Authenticate challenge. The Authorizer remembers the challenge of
// each endpoint host, so that later requests to that host carry credentials from the
// start instead of paying a refused round trip each:
//
//   - Basic: the login from Credentials goes in every request.
//   - Bearer: a token is fetched from the challenge's realm (the token server), asking
//     for the scopes the request needs ("repository:library/busybox:pull", or
//     "repository:me/app:pull,push" plus "repository:me/base:pull" for a cross-repository
//     mount), with the login as Basic auth when there is one (and offline_token=true, so
//     that a login also yields a refresh token), or by an OAuth2 POST with
//     grant_type=refresh_token when the login is an identity token. Tokens are cached per
//     realm, service, scope set and login until they expire (expires_in, at least 60 s,
//     counted from issued_at), and concurrent requests for the same token share one fetch.
//
// An Authorizer is safe for concurrent use; one serves every registry of a client.
type Authorizer struct {
	client    *http.Client
	userAgent string
	clientID  string
	now       func() time.Time

	mu         sync.Mutex
	challenges map[string]Challenge // by endpoint host (URL.Host)
	tokens     map[tokenKey]*tokenEntry
}

// Access describes what one request needs: whose login and which token scopes.
type Access struct {
	// Registry is the registry's name in references ("docker.io"); Credentials are
	// asked for this name whichever endpoint (mirror, token server) is talked to.
	Registry    string
	Credentials Credentials // nil means anonymous
	// Scopes are token scopes, "repository:<path>:<actions>".
	Scopes []string
}

// Token is an access token from a token server.
type Token struct {
	Token        string
	RefreshToken string // set when the server returned an offline (refresh) token
	Expires      time.Time
}

// NewAuthorizer returns an Authorizer that talks to token servers with client.
// userAgent is sent with token requests; it also serves as the OAuth client_id.
func NewAuthorizer(client *http.Client, userAgent string) *Authorizer {
	clientID := userAgent
	if i := strings.IndexByte(clientID, '/'); i > 0 {
		clientID = clientID[:i]
	}
	if clientID == "" {
		clientID = "berth"
	}
	return &Authorizer{
		client:     client,
		userAgent:  userAgent,
		clientID:   clientID,
		now:        time.Now,
		challenges: map[string]Challenge{},
		tokens:     map[tokenKey]*tokenEntry{},
	}
}

// Authorize sets req's Authorization header from what is known of req.URL.Host's
// challenge. Before any challenge is known it leaves req alone (anonymous).
func (a *Authorizer) Authorize(ctx context.Context, req *http.Request, acc Access) error {
	a.mu.Lock()
	ch, ok := a.challenges[req.URL.Host]
	a.mu.Unlock()
	if !ok {
		return nil
	}
	switch ch.Scheme {
	case "basic":
		user, pass, err := lookup(acc.Credentials, acc.Registry)
		if err != nil {
			return fmt.Errorf("credentials for %s: %w", acc.Registry, err)
		}
		if user != "" && user != IdentityTokenUser {
			req.SetBasicAuth(user, pass)
		}
	case "bearer":
		tok, err := a.Token(ctx, ch, acc)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok.Token)
	}
	return nil
}

// Challenged records the challenge of a 401 reply from host and reports whether
// sending the request again, with the Authorization that Authorize will now set, may
// succeed. sent is the Authorization header the refused request carried.
func (a *Authorizer) Challenged(host string, resp *http.Response, sent string, acc Access) bool {
	ch, ok := pick(ParseChallenges(resp.Header))
	if !ok {
		return false
	}
	a.mu.Lock()
	a.challenges[host] = ch
	if tok, isBearer := strings.CutPrefix(sent, "Bearer "); isBearer {
		for k, e := range a.tokens {
			if e.ready() && e.tok.Token == tok {
				delete(a.tokens, k)
			}
		}
	}
	a.mu.Unlock()
	switch ch.Scheme {
	case "basic":
		if strings.HasPrefix(sent, "Basic ") {
			return false // the login itself was refused
		}
		user, _, err := lookup(acc.Credentials, acc.Registry)
		return err == nil && user != "" && user != IdentityTokenUser
	case "bearer":
		return true
	}
	return false
}

// Challenge returns the challenge last seen from host.
func (a *Authorizer) Challenge(host string) (Challenge, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ch, ok := a.challenges[host]
	return ch, ok
}

// pick chooses Bearer over Basic, ignoring schemes berth cannot answer.
func pick(chs []Challenge) (Challenge, bool) {
	var basic *Challenge
	for i := range chs {
		switch chs[i].Scheme {
		case "bearer":
			if chs[i].Params["realm"] != "" {
				return chs[i], true
			}
		case "basic":
			if basic == nil {
				basic = &chs[i]
			}
		}
	}
	if basic != nil {
		return *basic, true
	}
	return Challenge{}, false
}

type tokenKey struct {
	realm, service, scopes, user string
	pass                         [32]byte
}

type tokenEntry struct {
	done chan struct{}
	tok  Token
	err  error
}

func (e *tokenEntry) ready() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

// Token returns a token for ch (a Bearer challenge) and acc's scopes, from the cache when
// one is still valid.
func (a *Authorizer) Token(ctx context.Context, ch Challenge, acc Access) (Token, error) {
	user, pass, err := lookup(acc.Credentials, acc.Registry)
	if err != nil {
		return Token{}, fmt.Errorf("credentials for %s: %w", acc.Registry, err)
	}
	scopes := append([]string(nil), acc.Scopes...)
	sort.Strings(scopes)
	key := tokenKey{
		realm:   ch.Params["realm"],
		service: ch.Params["service"],
		scopes:  strings.Join(scopes, " "),
		user:    user,
		pass:    sha256.Sum256([]byte(pass)),
	}
	for {
		a.mu.Lock()
		e, ok := a.tokens[key]
		if ok && e.ready() && (e.err != nil || !a.now().Before(e.tok.Expires)) {
			delete(a.tokens, key) // expired or failed: fetch again
			ok = false
		}
		if !ok {
			a.pruneLocked()
			e = &tokenEntry{done: make(chan struct{})}
			a.tokens[key] = e
			a.mu.Unlock()
			e.tok, e.err = a.fetch(ctx, key.realm, key.service, scopes, user, pass)
			close(e.done)
			if e.err != nil {
				a.mu.Lock()
				if a.tokens[key] == e {
					delete(a.tokens, key)
				}
				a.mu.Unlock()
			}
			return e.tok, e.err
		}
		a.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return Token{}, ctx.Err()
		}
		if e.err == nil {
			return e.tok, nil
		}
		// Fetch again ourselves only if the shared fetch died with its caller's context.
		if ctx.Err() != nil || !(errors.Is(e.err, context.Canceled) || errors.Is(e.err, context.DeadlineExceeded)) {
			return Token{}, e.err
		}
	}
}

// pruneLocked drops expired tokens so the cache does not grow without bound.
func (a *Authorizer) pruneLocked() {
	now := a.now()
	for k, e := range a.tokens {
		if e.ready() && (e.err != nil || !now.Before(e.tok.Expires)) {
			delete(a.tokens, k)
		}
	}
}

// tokenReply is a token server's answer (Docker token spec and OAuth2).
type tokenReply struct {
	Token        string    `json:"token"`
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	ExpiresIn    int       `json:"expires_in"`
	IssuedAt     time.Time `json:"issued_at"`
}

// minTokenLife is the lifetime assumed when a server says less or nothing (the token
// spec's default is 60 s).
const minTokenLife = 60 * time.Second

func (a *Authorizer) fetch(ctx context.Context, realm, service string, scopes []string, user, pass string) (Token, error) {
	u, err := url.Parse(realm)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return Token{}, fmt.Errorf("token realm %q is not an http(s) URL: %w", realm, errdefs.ErrInvalidArgument)
	}
	var req *http.Request
	if user == IdentityTokenUser {
		form := url.Values{}
		form.Set("grant_type", "refresh_token")
		form.Set("refresh_token", pass)
		form.Set("client_id", a.clientID)
		form.Set("access_type", "offline")
		if service != "" {
			form.Set("service", service)
		}
		if len(scopes) > 0 {
			form.Set("scope", strings.Join(scopes, " "))
		}
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
		if err != nil {
			return Token{}, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	} else {
		q := u.Query()
		if service != "" {
			q.Set("service", service)
		}
		for _, s := range scopes {
			q.Add("scope", s)
		}
		if user != "" {
			q.Set("account", user)
			q.Set("offline_token", "true")
			q.Set("client_id", a.clientID)
		}
		u.RawQuery = q.Encode()
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return Token{}, err
		}
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
	}
	if a.userAgent != "" {
		req.Header.Set("User-Agent", a.userAgent)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return Token{}, fmt.Errorf("fetch token: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Token{}, fmt.Errorf("fetch token from %s: %w", u.Host, err)
	}
	if resp.StatusCode != http.StatusOK {
		return Token{}, tokenError(req, resp.StatusCode, body)
	}
	var r tokenReply
	if err := json.Unmarshal(body, &r); err != nil {
		return Token{}, fmt.Errorf("token from %s: bad reply: %w", u.Host, err)
	}
	tok := Token{Token: r.Token, RefreshToken: r.RefreshToken}
	if tok.Token == "" {
		tok.Token = r.AccessToken
	}
	if tok.Token == "" {
		return Token{}, fmt.Errorf("token from %s: reply holds no token", u.Host)
	}
	life := time.Duration(r.ExpiresIn) * time.Second
	if life < minTokenLife {
		life = minTokenLife
	}
	issued := r.IssuedAt
	now := a.now()
	if issued.IsZero() || issued.After(now) {
		issued = now
	}
	// Renew a little early so a token does not expire between the check and its use.
	tok.Expires = issued.Add(life - life/10)
	return tok, nil
}

// tokenError turns a token server's refusal into an error of the right class, with the
// server's own words when it gave some.
func tokenError(req *http.Request, status int, body []byte) error {
	var detail struct {
		Details string `json:"details"`
		Errors  []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
		ErrorDescription string `json:"error_description"`
	}
	msg := ""
	if json.Unmarshal(body, &detail) == nil {
		switch {
		case detail.Details != "":
			msg = detail.Details
		case len(detail.Errors) > 0:
			msg = detail.Errors[0].Message
		case detail.ErrorDescription != "":
			msg = detail.ErrorDescription
		}
	}
	where := fmt.Sprintf("%s %q", req.Method, req.URL.Scheme+"://"+req.URL.Host+req.URL.Path)
	switch status {
	case http.StatusUnauthorized:
		if msg == "" {
			msg = "incorrect username or password"
		}
		return fmt.Errorf("%s: unauthorized: %s: %w", where, msg, errdefs.ErrUnauthenticated)
	case http.StatusForbidden:
		if msg == "" {
			msg = "access denied"
		}
		return fmt.Errorf("%s: denied: %s: %w", where, msg, errdefs.ErrPermissionDenied)
	case http.StatusTooManyRequests:
		return fmt.Errorf("%s: too many requests: %w", where, errdefs.ErrResourceExhausted)
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	var class error = errdefs.ErrUnknown
	if status >= 500 {
		class = errdefs.ErrUnavailable
	}
	return fmt.Errorf("%s: token server answered %d: %s: %w", where, status, msg, class)
}
