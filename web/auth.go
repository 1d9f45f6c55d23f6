package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"time"
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
		key := "addr:" + clientAddr(r)
		if blocked, wait := s.throttle.blocked(key); blocked {
			s.throttled(w, r, wait)
			return
		}
		if !s.auth.allowed(r) {
			s.throttle.failed(key)
			s.fail(w, r, errToken)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// throttled refuses a request whose address or user failed too often
// (throttle.go), saying when to try again (RFC 6585 section 4).
func (s *server) throttled(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
	s.log.Info("throttled after failed attempts", "remote", clientAddr(r), "path", r.URL.Path)
	s.fail(w, r, errThrottled)
}
