package web

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
)

const (
	testPassword   = "correct horse battery staple"
	testSessionKey = "a session key for the dashboard tests, 32+ bytes"
)

// newDashFixture is the dashboard's fixture: the real clock, a dashboard
// password, a Closing channel and, with volumes, boottest's in-memory
// backend in f.vols.
func newDashFixture(t *testing.T, withVolumes bool, closing <-chan struct{}) *fixture {
	t.Helper()
	return buildFixture(t, withVolumes, nil, Config{SessionKey: []byte(testSessionKey), Closing: closing})
}

// browser is a dashboard client: it keeps cookies and the page's CSRF token.
type browser struct {
	f       *fixture
	cookies map[string]*http.Cookie
	csrf    string
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// send serves one request with the browser's cookies and keeps the cookies
// it sets; a form is sent url-encoded.
func (b *browser) send(t *testing.T, method, path string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	b.f.h.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	if m := csrfRE.FindStringSubmatch(rec.Body.String()); m != nil {
		b.csrf = m[1]
	}
	return rec
}

func (b *browser) get(t *testing.T, path string) *httptest.ResponseRecorder {
	t.Helper()
	return b.send(t, http.MethodGet, path, nil)
}

// post sends a form with the browser's CSRF token added.
func (b *browser) post(t *testing.T, path string, kv ...string) *httptest.ResponseRecorder {
	t.Helper()
	form := url.Values{csrfField: {b.csrf}}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Set(kv[i], kv[i+1])
	}
	return b.send(t, http.MethodPost, path, form)
}

// newBrowser returns a browser that has not logged in.
func newBrowser(f *fixture) *browser {
	return &browser{f: f, cookies: map[string]*http.Cookie{}}
}

// login returns a browser logged in with the API token.
func login(t *testing.T, f *fixture) *browser {
	t.Helper()
	b := newBrowser(f)
	b.get(t, "/login")
	if rec := b.post(t, "/login", "secret", testToken, "next", "/machines"); rec.Code != http.StatusSeeOther {
		t.Fatalf("POST /login = %d %s, want %d", rec.Code, rec.Body, http.StatusSeeOther)
	}
	if rec := b.get(t, "/machines"); rec.Code != http.StatusOK {
		t.Fatalf("GET /machines after login = %d, want %d", rec.Code, http.StatusOK)
	}
	return b
}

// text returns a page's text with tags removed and entities decoded, for
// finding messages.
func text(rec *httptest.ResponseRecorder) string {
	s := regexp.MustCompile(`<[^>]*>`).ReplaceAllString(rec.Body.String(), "")
	return html.UnescapeString(s)
}

// fieldError returns the message shown next to the field with id prefix-field.
func fieldError(rec *httptest.ResponseRecorder, id string) string {
	m := regexp.MustCompile(`<span class="field-error" id="` + regexp.QuoteMeta(id) + `-err"[^>]*>([^<]*)</span>`).
		FindStringSubmatch(rec.Body.String())
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func TestDashboardLogin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		secret     string
		next       string
		badCSRF    bool
		noCookie   bool
		want       int
		wantWhere  string // Location on success
		wantInPage string // on refusal
		user       string
	}{
		{"token", testToken, "/machines/52:54:00:12:34:56", false, false, 303, "/machines/52:54:00:12:34:56", "", ""},
		{"password", testPassword, "", false, false, 303, "/machines", "", "admin"},
		{"token with spaces", " " + testToken + "\n", "/images", false, false, 303, "/images", "", ""},
		{"open redirect", testToken, "//evil.example/", false, false, 303, "/machines", "", ""},
		{"open redirect, tab", testToken, "/\t/evil.example/", false, false, 303, "/machines", "", ""},
		{"open redirect, backslash", testToken, "/\\evil.example/", false, false, 303, "/machines", "", ""},
		{"wrong secret", "guess", "/images", false, false, 401, "", "Wrong user name, password or token.", ""},
		{"empty secret", "", "", false, false, 401, "", "Wrong user name, password or token.", ""},
		{"bad CSRF token", testToken, "", true, false, 403, "", "login form has expired", ""},
		{"no login cookie", testToken, "", false, true, 403, "", "does not keep cookies", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newDashFixture(t, false, nil)
			b := newBrowser(f)
			if rec := b.get(t, "/login"); rec.Code != http.StatusOK || b.cookies[loginCookie] == nil {
				t.Fatalf("GET /login = %d, login cookie %v; want 200 and a cookie", rec.Code, b.cookies[loginCookie])
			}
			if tt.badCSRF {
				b.csrf = "forged"
			}
			if tt.noCookie {
				delete(b.cookies, loginCookie)
			}
			rec := b.post(t, "/login", "user", tt.user, "secret", tt.secret, "next", tt.next)
			if rec.Code != tt.want {
				t.Fatalf("POST /login = %d, want %d\n%s", rec.Code, tt.want, text(rec))
			}
			sess := b.cookies[sessionCookie]
			if tt.want != http.StatusSeeOther {
				if sess != nil {
					t.Errorf("refused login set a session cookie")
				}
				if !strings.Contains(text(rec), tt.wantInPage) {
					t.Errorf("refused login page lacks %q:\n%s", tt.wantInPage, text(rec))
				}
				if tt.want == http.StatusUnauthorized && fieldError(rec, "secret") == "" {
					t.Errorf("wrong secret: no message next to the field")
				}
				return
			}
			if got := rec.Header().Get("Location"); got != tt.wantWhere {
				t.Errorf("POST /login: Location = %q, want %q", got, tt.wantWhere)
			}
			if sess == nil || !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode || sess.Path != "/" || sess.MaxAge <= 0 {
				t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Strict, Path=/, with a lifetime", sess)
			}
			if strings.Contains(sess.Value, testToken) || strings.Contains(f.log.String(), testToken) {
				t.Errorf("the token leaked into the cookie or the log")
			}
			if rec := b.get(t, "/machines"); rec.Code != http.StatusOK {
				t.Errorf("GET /machines with the session = %d, want 200", rec.Code)
			}
		})
	}
}

func TestDashboardLogout(t *testing.T) {
	t.Parallel()
	f := newDashFixture(t, false, nil)
	b := login(t, f)
	if rec := b.post(t, "/logout"); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login" {
		t.Fatalf("POST /logout = %d to %q, want 303 to /login", rec.Code, rec.Header().Get("Location"))
	}
	if rec := b.get(t, "/machines"); rec.Code != http.StatusSeeOther {
		t.Errorf("GET /machines after logout = %d, want 303 to the login page", rec.Code)
	}
}

// TestDashboardNoSession checks that every page and action needs a session:
// pages send the browser to the login page, actions and streams are refused.
func TestDashboardNoSession(t *testing.T) {
	t.Parallel()
	f := newDashFixture(t, true, nil)
	f.enroll(t, "52:54:00:12:34:56", "alpine")
	const m = "/machines/52:54:00:12:34:56"
	tests := []struct {
		method, path string
		want         int
	}{
		{"GET", "/", 303}, {"GET", "/machines", 303}, {"GET", m, 303}, {"GET", "/images", 303},
		{"GET", m + "/reimage", 303}, {"GET", m + "/forget", 303},
		{"GET", m + "/rollback?snapshot=s1", 303}, {"GET", m + "/retire", 303}, {"GET", m + "/unfence", 303},
		{"POST", "/machines", 401}, {"POST", m + "/assign", 401}, {"POST", m + "/netboot", 401},
		{"POST", m + "/reimage", 401}, {"POST", m + "/forget", 401}, {"POST", "/logout", 401},
		{"POST", m + "/snapshots", 401}, {"POST", m + "/rollback", 401}, {"POST", m + "/retire", 401},
		{"POST", m + "/unfence", 401}, {"POST", "/images/alpine/protect", 401},
		{"GET", m + "/events", 401}, {"GET", "/events", 401},
	}
	sess := newSessions([]byte(testSessionKey), 0)
	sess.now = func() time.Time { return time.Now().Add(-DefaultSessionTTL - time.Minute) }
	other := newSessions([]byte("another key"), 0)
	for _, cookie := range []struct{ name, value string }{
		{"none", ""}, {"expired", sess.issue("admin")}, {"signed with another key", other.issue("admin")},
		{"garbage", "x.y"}, {"tampered", tamper(newSessions([]byte(testSessionKey), 0).issue("admin"))},
		{"unknown user", newSessions([]byte(testSessionKey), 0).issue("nobody")},
	} {
		for _, tt := range tests {
			req := httptest.NewRequest(tt.method, tt.path,
				strings.NewReader("csrf=x&confirm=yes&image=debian&netboot=off&mac=52:54:00:00:00:09&old=delete&snapshot=s1&name=s2"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if strings.HasSuffix(tt.path, "/events") {
				req.Header.Set("Accept", "text/event-stream")
			}
			if cookie.value != "" {
				req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie.value})
			}
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("%s %s with session cookie %s = %d, want %d", tt.method, tt.path, cookie.name, rec.Code, tt.want)
			}
			if loc := rec.Header().Get("Location"); tt.want == 303 && !strings.HasPrefix(loc, "/login?next=") {
				t.Errorf("%s %s: Location = %q, want the login page", tt.method, tt.path, loc)
			}
		}
	}
	n, err := f.svc.Node(t.Context(), mustMAC(t, "52:54:00:12:34:56"))
	if err != nil || n.Image != "alpine" || !n.Netboot || n.State != boot.StateEnrolled {
		t.Errorf("refused requests changed the node: %+v, %v", n, err)
	}
	if snaps, _ := f.vols.Snapshots(t.Context(), n.Volume); len(snaps) != 0 || f.vols.Creates() != 1 {
		t.Errorf("refused requests changed the volume: snapshots %v, %d created", snaps, f.vols.Creates())
	}
}

// tamper flips the last character of a session cookie's id part.
func tamper(v string) string {
	b := []byte(v)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

// TestDashboardCSRF sends every action with a session but without the
// right CSRF token, and from another site.
func TestDashboardCSRF(t *testing.T) {
	t.Parallel()
	f := newDashFixture(t, true, nil)
	f.enroll(t, "52:54:00:12:34:56", "alpine")
	if _, err := f.svc.Snapshot(t.Context(), mustMAC(t, "52:54:00:12:34:56"), "s1"); err != nil {
		t.Fatal(err)
	}
	f.vols.Hold("node-525400123456", holder)
	b := login(t, f)
	const m = "/machines/52:54:00:12:34:56"
	actions := [][]string{
		{"/machines", "mac", "52:54:00:00:00:09", "image", "debian"},
		{m + "/assign", "image", "debian"}, {m + "/netboot", "netboot", "off"},
		{m + "/reimage", "confirm", "yes", "old", "delete"}, {m + "/forget", "confirm", "yes"}, {"/logout"},
		{m + "/snapshots", "name", "s2"}, {m + "/rollback", "confirm", "yes", "snapshot", "s1"},
		{m + "/retire", "confirm", "yes"}, {m + "/unfence", "confirm", "yes"}, {"/images/debian/protect"},
	}
	good := b.csrf
	for _, token := range []string{"", "forged", good[:len(good)-1]} {
		for _, a := range actions {
			b.csrf = token
			rec := b.post(t, a[0], a[1:]...)
			if rec.Code != http.StatusForbidden || !strings.Contains(text(rec), "form has expired") {
				t.Errorf("POST %s with CSRF token %q = %d, want 403 with a message", a[0], token, rec.Code)
			}
		}
	}
	// A cross-site form post is refused even with the right token (Sec-Fetch-Site).
	req := httptest.NewRequest(http.MethodPost, m+"/netboot", strings.NewReader("netboot=off&csrf="+url.QueryEscape(good)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.AddCookie(b.cookies[sessionCookie])
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("cross-site POST = %d, want 403", rec.Code)
	}
	n, err := f.svc.Node(t.Context(), mustMAC(t, "52:54:00:12:34:56"))
	if err != nil || n.Image != "alpine" || !n.Netboot || n.Volume == "" || n.State != boot.StateEnrolled {
		t.Errorf("refused forms changed the node: %+v, %v", n, err)
	}
	snaps, _ := f.vols.Snapshots(t.Context(), n.Volume)
	hs, _ := f.vols.Holders(t.Context(), n.Volume)
	if len(snaps) != 1 || f.vols.Creates() != 1 || len(hs) != 1 {
		t.Errorf("refused forms changed the volume: snapshots %v, %d created, holders %v", snaps, f.vols.Creates(), hs)
	}
	if _, err := f.svc.Node(t.Context(), mustMAC(t, "52:54:00:00:00:09")); err == nil {
		t.Errorf("a refused enroll form enrolled a machine")
	}
	if b.csrf = good; b.get(t, "/machines").Code != http.StatusOK {
		t.Errorf("the session did not survive refused forms")
	}
}

func TestDashboardStatic(t *testing.T) {
	t.Parallel()
	f := newDashFixture(t, false, nil)
	b := newBrowser(f)
	for _, tt := range []struct {
		path, wantType string
		want           int
	}{
		{"/static/dashboard.css", "text/css; charset=utf-8", 200},
		{"/static/dashboard.js", "text/javascript; charset=utf-8", 200},
		{"/static/nope.js", "", 404},
		{"/static/..%2ftemplates.go", "", 404},
	} {
		rec := b.get(t, tt.path)
		if rec.Code != tt.want || (tt.wantType != "" && rec.Header().Get("Content-Type") != tt.wantType) {
			t.Errorf("GET %s = %d %q, want %d %q", tt.path, rec.Code, rec.Header().Get("Content-Type"), tt.want, tt.wantType)
		}
	}
	page := b.get(t, "/login").Body.String()
	if !regexp.MustCompile(`href="/static/dashboard\.css\?v=[0-9a-f]{12}"`).MatchString(page) ||
		strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Errorf("login page links assets wrongly or off-site:\n%s", page)
	}
}

// TestLoginNextStaysHere sends the login form with next= values that
// browsers would follow to another site; each lands on the machines page.
func TestLoginNextStaysHere(t *testing.T) {
	t.Parallel()
	for _, next := range []string{"/\t/evil.example/", "//evil.example/", "/\\evil.example", "https://evil.example/",
		"/\n/evil.example", "/\r/evil.example", "/ /evil.example", "/%09/evil.example", "javascript:alert(1)",
		"evil.example", "/\u0085/evil.example"} {
		if got := safeNext(next); got != "/machines" && got != next {
			t.Errorf("safeNext(%q) = %q", next, got)
		} else if got == next && next != "/%09/evil.example" {
			t.Errorf("safeNext(%q) kept it", next)
		}
	}
	for _, next := range []string{"/machines/52:54:00:12:34:56", "/images?x=1", "/machines#top"} {
		if got := safeNext(next); got != next {
			t.Errorf("safeNext(%q) = %q, want it kept", next, got)
		}
	}
}
