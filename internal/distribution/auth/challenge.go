package auth

import (
	"net/http"
	"strings"
)

// Challenge is one challenge of a WWW-Authenticate header (RFC 7235), for example
//
//	Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"
//
// Scheme is lower case ("bearer", "basic"); parameter names are lower case too.
type Challenge struct {
	Scheme string
	Params map[string]string
}

// ParseChallenges reads every challenge of every WWW-Authenticate header in h, in order.
// Malformed parts are skipped rather than failing the whole header.
func ParseChallenges(h http.Header) []Challenge {
	var out []Challenge
	for _, v := range h.Values("WWW-Authenticate") {
		out = append(out, parseChallengeHeader(v)...)
	}
	return out
}

func parseChallengeHeader(s string) []Challenge {
	var out []Challenge
	sc := scanner{s: s}
	for {
		sc.skip(" \t,")
		if sc.eof() {
			return out
		}
		tok := sc.token()
		if tok == "" {
			sc.i++ // not a token character: skip it
			continue
		}
		sc.skip(" \t")
		if sc.peek() == '=' {
			sc.i++
			sc.skip(" \t")
			var val string
			if sc.peek() == '"' {
				val = sc.quoted()
			} else {
				val = sc.token()
			}
			if len(out) > 0 {
				out[len(out)-1].Params[strings.ToLower(tok)] = val
			}
			continue
		}
		out = append(out, Challenge{Scheme: strings.ToLower(tok), Params: map[string]string{}})
	}
}

type scanner struct {
	s string
	i int
}

func (sc *scanner) eof() bool { return sc.i >= len(sc.s) }

func (sc *scanner) peek() byte {
	if sc.eof() {
		return 0
	}
	return sc.s[sc.i]
}

func (sc *scanner) skip(set string) {
	for !sc.eof() && strings.IndexByte(set, sc.s[sc.i]) >= 0 {
		sc.i++
	}
}

func (sc *scanner) token() string {
	start := sc.i
	for !sc.eof() && isTokenChar(sc.s[sc.i]) {
		sc.i++
	}
	return sc.s[start:sc.i]
}

// quoted reads a quoted-string starting at the opening quote, undoing backslash escapes.
func (sc *scanner) quoted() string {
	sc.i++ // opening quote
	var b strings.Builder
	for !sc.eof() {
		c := sc.s[sc.i]
		sc.i++
		switch {
		case c == '\\' && !sc.eof():
			b.WriteByte(sc.s[sc.i])
			sc.i++
		case c == '"':
			return b.String()
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~/", c) >= 0
}
