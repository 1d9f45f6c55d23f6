package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bootd/bootd/boot/access"
	"github.com/go-chi/chi/v5"
)

// Identities are the users of the admin listener: who holds a token, whose
// password is right, and their management. *access.Directory satisfies it.
type Identities interface {
	// Authenticate returns the user holding the API token raw, or an error
	// wrapping access.ErrUnauthenticated.
	Authenticate(ctx context.Context, raw string) (*access.User, error)
	// Login returns the user name when password is theirs, or an error
	// wrapping access.ErrUnauthenticated.
	Login(ctx context.Context, name, password string) (*access.User, error)
	// User returns the user name, or an error wrapping access.ErrUnknownUser.
	User(ctx context.Context, name string) (*access.User, error)
	Users(ctx context.Context) ([]*access.User, error)
	AddUser(ctx context.Context, name string, role access.Role, password string) (*access.User, error)
	RemoveUser(ctx context.Context, name string) error
	SetRole(ctx context.Context, name string, role access.Role) error
	SetPassword(ctx context.Context, name, password string) error
	NewToken(ctx context.Context, name string) (raw string, t access.Token, err error)
	RevokeToken(ctx context.Context, name, id string) error
}

// bearer returns the token of "Authorization: Bearer <token>"; the scheme
// is case-insensitive (RFC 9110 section 11.1).
func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// requireToken lets through requests with a user's API token, with the
// user in their context, and refuses the others with a 401. It runs before
// routing inside /api/v1, so a client without a token learns nothing of
// which routes exist. Failures are throttled per client address
// (throttle.go). Neither the token nor the header is logged.
func (s *server) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := "addr:" + clientAddr(r)
		if blocked, wait := s.throttle.blocked(key); blocked {
			s.throttled(w, r, wait)
			return
		}
		var u *access.User
		err := errToken
		if token, ok := bearer(r); ok {
			u, err = s.users.Authenticate(r.Context(), token)
		}
		if err != nil {
			if !errors.Is(err, access.ErrUnauthenticated) && !errors.Is(err, errToken) {
				s.fail(w, r, err) // the store failed: not the client's fault, not counted
				return
			}
			s.throttle.failed(key)
			s.fail(w, r, errToken)
			return
		}
		next.ServeHTTP(w, withPrincipal(r, principal{user: u, via: viaOf(r)}))
	})
}

// throttled refuses a request whose address or user failed too often
// (throttle.go), saying when to try again (RFC 6585 section 4).
func (s *server) throttled(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
	s.log.Info("throttled after failed attempts", "remote", clientAddr(r), "path", r.URL.Path)
	s.fail(w, r, errThrottled)
}

// act registers an API route performing action a (guard.go).
func (s *server) act(r chi.Router, method, pattern string, a access.Action, fn apiFunc) {
	s.guard.note(method, "/api/v1"+pattern, a)
	r.Method(method, pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.guard.run(w, r, a, fn); err != nil {
			s.fail(w, r, err)
		}
	}))
}
