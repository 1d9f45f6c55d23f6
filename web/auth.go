package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// tokenChecker checks API tokens. It keeps a digest of the token, not the
// token, and compares digests so that the time taken says nothing about
// the token's length or contents.
type tokenChecker struct {
	want [sha256.Size]byte
}

func newTokenChecker(token string) tokenChecker {
	return tokenChecker{want: sha256.Sum256([]byte(token))}
}

// allowed reports whether r carries "Authorization: Bearer <token>" with the
// right token. The scheme is case-insensitive (RFC 9110 section 11.1).
func (c tokenChecker) allowed(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(got[:], c.want[:]) == 1
}

// requireToken refuses requests without the API token with a 401. It runs
// before routing inside /api/v1, so a client without the token learns
// nothing of which routes exist. Neither the token nor the header is logged.
func (s *server) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.auth.allowed(r) {
			s.fail(w, r, errToken)
			return
		}
		next.ServeHTTP(w, r)
	})
}
