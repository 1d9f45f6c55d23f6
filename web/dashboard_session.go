package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bootd/bootd/boot/access"
)

// Dashboard sessions. A user logs in with their name and password, or with
// an API token alone, and gets a session cookie: a random session id, an
// expiry and the user's name, signed with the session key (Config.
// SessionKey, kept in the data folder so logins survive a restart). The
// user is looked up on every request, so a user removed or demoted loses
// what they lost at once. Every form carries a CSRF token derived from the
// session id, and the login form one derived from a pre-session cookie, so
// no form can be submitted from another site (on top of the Sec-Fetch-Site
// check of http.CrossOriginProtection). Failed logins are throttled per
// address and per user name (throttle.go) and written to the audit log.

const (
	sessionCookie = "bootd_session"
	loginCookie   = "bootd_login"
	// DefaultSessionTTL is how long a login lasts unless
	// Config.SessionTTL says otherwise.
	DefaultSessionTTL = 2 * time.Hour
	idSize            = 16
	// csrfField is the form field of the CSRF token.
	csrfField = "csrf"
	// maxForm is the largest form body the dashboard reads.
	maxForm = 64 << 10
)

// sessions issues and checks session cookies and CSRF tokens.
type sessions struct {
	key [sha256.Size]byte
	now func() time.Time
	ttl time.Duration
}

func newSessions(key []byte, ttl time.Duration) sessions {
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	if len(key) == 0 {
		key = make([]byte, 32)
		rand.Read(key) // never fails (crypto/rand)
	}
	s := sessions{now: time.Now, ttl: ttl}
	mac := hmac.New(sha256.New, []byte("bootd dashboard session key v2"))
	mac.Write(key)
	copy(s.key[:], mac.Sum(nil))
	return s
}

func (s sessions) sign(purpose string, msg []byte) []byte {
	m := hmac.New(sha256.New, s.key[:])
	m.Write([]byte(purpose))
	m.Write(msg)
	return m.Sum(nil)
}

var b64 = base64.RawURLEncoding

// issue returns a new session cookie value for user: id, expiry and user
// name, then the signature.
func (s sessions) issue(user string) string {
	msg := make([]byte, idSize+8, idSize+8+len(user))
	rand.Read(msg[:idSize]) // never fails (crypto/rand)
	binary.BigEndian.PutUint64(msg[idSize:], uint64(s.now().Add(s.ttl).Unix()))
	msg = append(msg, user...)
	return b64.EncodeToString(msg) + "." + b64.EncodeToString(s.sign("session", msg))
}

// check returns the session id and user name of a cookie value that is
// well signed and not expired.
func (s sessions) check(value string) (id []byte, user string, ok bool) {
	m, sig, ok := strings.Cut(value, ".")
	if !ok {
		return nil, "", false
	}
	msg, err1 := b64.DecodeString(m)
	got, err2 := b64.DecodeString(sig)
	if err1 != nil || err2 != nil || len(msg) <= idSize+8 || !hmac.Equal(got, s.sign("session", msg)) {
		return nil, "", false
	}
	if exp := int64(binary.BigEndian.Uint64(msg[idSize:])); s.now().Unix() >= exp {
		return nil, "", false
	}
	return msg[:idSize], string(msg[idSize+8:]), true
}

type ctxKey int

const authKey ctxKey = 0

// reqAuth is what requireSession (or the login page) learnt of a request.
type reqAuth struct {
	csrf    string       // the token r's forms carry
	session bool         // r has a valid session
	user    *access.User // its user
}

func withAuth(r *http.Request, a reqAuth) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), authKey, a))
}

func authOf(r *http.Request) reqAuth {
	a, _ := r.Context().Value(authKey).(reqAuth)
	return a
}

func (s sessions) tokenFor(purpose string, id []byte) string {
	return b64.EncodeToString(s.sign(purpose, id))
}

// formToken reads the POSTed form (at most maxForm bytes) and reports
// whether its CSRF token is want.
func formToken(w http.ResponseWriter, r *http.Request, want string) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return false
	}
	got := r.PostForm.Get(csrfField)
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// refusal is a refusal of the dashboard's own checks (session, CSRF),
// with a message for the operator; it wraps the error status() maps.
type refusal struct {
	msg  string
	kind error
}

func (e *refusal) Error() string { return e.msg }
func (e *refusal) Unwrap() error { return e.kind }

func forbidden(msg string) error    { return &refusal{msg, errForbidden} }
func unauthorized(msg string) error { return &refusal{msg, errToken} }

// errCSRF and errSession are the refusals of forms and pages.
var (
	errCSRF    = forbidden("This form has expired or was not sent from this dashboard. Go back, reload the page and try again.")
	errSession = unauthorized("Your session has ended: log in again.")
)

// requireSession lets requests with a valid session through, with their
// CSRF token in the context; it checks the token of every POST. A page
// request without a session is sent to the login page; anything else is
// refused with a 401.
func (d *dashboard) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var id []byte
		var u *access.User
		if c, err := r.Cookie(sessionCookie); err == nil {
			if sid, name, ok := d.sess.check(c.Value); ok {
				if user, err := d.users.User(r.Context(), name); err == nil {
					id, u = sid, user
				} else if !errors.Is(err, access.ErrUnknownUser) {
					d.fail(w, r, err)
					return
				}
			}
		}
		switch {
		case u == nil && r.Method == http.MethodGet && r.Header.Get("Accept") != "text/event-stream":
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		case u == nil:
			d.fail(w, r, errSession)
			return
		}
		tok := d.sess.tokenFor("csrf", id)
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !formToken(w, r, tok) {
			d.fail(w, r, errCSRF)
			return
		}
		r = withPrincipal(r, principal{user: u, via: access.ViaDashboard})
		next.ServeHTTP(w, withAuth(r, reqAuth{csrf: tok, session: true, user: u}))
	})
}

// loginData is the login page's data.
type loginData struct {
	Next, User, Error string
	TTL               time.Duration
}

// loginPage answers GET /login, setting the pre-session cookie its form's
// CSRF token is bound to.
func (d *dashboard) loginPage(w http.ResponseWriter, r *http.Request) error {
	var id []byte
	if c, err := r.Cookie(loginCookie); err == nil {
		id, _ = b64.DecodeString(c.Value)
	}
	if len(id) != idSize {
		id = make([]byte, idSize)
		rand.Read(id)
		http.SetCookie(w, d.cookie(r, loginCookie, b64.EncodeToString(id), time.Hour))
	}
	r = withAuth(r, reqAuth{csrf: d.sess.tokenFor("login", id)})
	d.render(w, r, http.StatusOK, "login", page{Title: "Log in", Data: loginData{Next: safeNext(r.URL.Query().Get("next")), TTL: d.sess.ttl}})
	return nil
}

// login answers POST /login: a user name and password, or an API token
// alone, buy a session cookie. Attempts are throttled per address and per
// user name; each is written to the audit log.
func (d *dashboard) login(w http.ResponseWriter, r *http.Request) error {
	var want string
	if c, err := r.Cookie(loginCookie); err == nil {
		if id, err := b64.DecodeString(c.Value); err == nil && len(id) == idSize {
			want = d.sess.tokenFor("login", id)
		}
	}
	if !formToken(w, r, want) {
		return forbidden("The login form has expired, or your browser does not keep cookies for this site. Reload the page and try again.")
	}
	next := safeNext(r.PostForm.Get("next"))
	name := strings.TrimSpace(r.PostForm.Get("user"))
	secret := r.PostForm.Get("secret")
	keys := []string{"addr:" + clientAddr(r)}
	if name != "" {
		keys = append(keys, "user:"+name)
	}
	refuse := func(code int, msg string) error {
		r = withAuth(r, reqAuth{csrf: want})
		d.render(w, r, code, "login", page{Title: "Log in", Data: loginData{Next: next, User: name, Error: msg, TTL: d.sess.ttl}})
		return nil
	}
	if blocked, wait := d.throttle.blocked(keys...); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		d.log.Info("dashboard login throttled", "remote", clientAddr(r), "user", name)
		return refuse(http.StatusTooManyRequests, "Too many failed attempts: wait a minute and try again.")
	}
	var u *access.User
	var err error
	if name == "" {
		u, err = d.users.Authenticate(r.Context(), strings.TrimSpace(secret))
	} else {
		u, err = d.users.Login(r.Context(), name, secret)
	}
	rec := access.Record{User: name, Via: access.ViaDashboard, Action: access.ActionLogin, Outcome: access.OutcomeOK}
	if a, perr := netip.ParseAddr(clientAddr(r)); perr == nil {
		rec.Remote = a.Unmap()
	}
	if err != nil {
		if !errors.Is(err, access.ErrUnauthenticated) {
			return err
		}
		d.throttle.failed(keys...)
		rec.Outcome, rec.Error = access.OutcomeDenied, "wrong user name, password or token"
		d.guard.record(r.Context(), rec)
		return refuse(http.StatusUnauthorized, "Wrong user name, password or token.")
	}
	rec.User = u.Name
	d.guard.record(r.Context(), rec)
	http.SetCookie(w, d.cookie(r, sessionCookie, d.sess.issue(u.Name), d.sess.ttl))
	http.SetCookie(w, d.cookie(r, loginCookie, "", -1))
	return seeOther(w, r, next)
}

// logout answers POST /logout.
func (d *dashboard) logout(w http.ResponseWriter, r *http.Request) error {
	http.SetCookie(w, d.cookie(r, sessionCookie, "", -1))
	return seeOther(w, r, "/login")
}

// cookie returns a dashboard cookie: HttpOnly, SameSite=Strict, Secure
// over TLS, for the whole site; a negative ttl deletes it.
func (d *dashboard) cookie(r *http.Request, name, value string, ttl time.Duration) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: overTLS(r), MaxAge: int(ttl.Seconds())}
	if ttl < 0 {
		c.MaxAge = -1
	}
	return c
}

// safeNext returns where to go after login: a path on this site, never
// another site, defaulting to the machines page. Browsers read "//host",
// "/\host" and "/<TAB>/host" (they drop tabs and newlines from URLs, WHATWG
// URL standard, "basic URL parser") as another host, so any control
// character, space or backslash is refused, and the path must not start
// with two slashes once parsed.
func safeNext(next string) string {
	const fallback = "/machines"
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || len(next) > 2048 {
		return fallback
	}
	for _, c := range next {
		if c < 0x21 || c == 0x7f || c == '\\' || (c >= 0x80 && c <= 0x9f) {
			return fallback
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") ||
		strings.HasPrefix(u.Path, "//") {
		return fallback
	}
	return next
}
