package web

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/access"
	"github.com/bootd/bootd/boot/access/accesstest"
	"github.com/go-chi/chi/v5"
)

// guardFixture is a dashboard fixture with its users and audit log at hand,
// and one user of each role with an API token.
type guardFixture struct {
	*fixture
	users  *access.Directory
	audit  *accesstest.AuditLog
	tokens map[access.Role]string // a token of the user named after the role
	win    *window                // the discover window
}

func newGuardFixture(t *testing.T, opts ...func(*boot.Config)) *guardFixture {
	t.Helper()
	g := &guardFixture{users: testUsers(), audit: accesstest.NewAuditLog(access.Retention{}), tokens: map[access.Role]string{},
		win: &window{}}
	g.fixture = buildFixture(t, true, nil, Config{SessionKey: []byte(testSessionKey), Users: g.users, Audit: g.audit,
		Backup: fakeBackup{}, Discover: g.win}, opts...)
	ctx := context.Background()
	for _, role := range access.Roles() {
		name := "the-" + string(role)
		if _, err := g.users.AddUser(ctx, name, role, ""); err != nil {
			t.Fatal(err)
		}
		raw, _, err := g.users.NewToken(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		g.tokens[role] = raw
	}
	return g
}

// records returns the audit log, newest first.
func (g *guardFixture) records(t *testing.T) []access.Record {
	t.Helper()
	recs, err := g.audit.Query(context.Background(), access.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// api sends an API request with the token of role.
func (g *guardFixture) api(t *testing.T, role access.Role, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	return g.doAuth(t, method, path, body, "Bearer "+g.tokens[role])
}

// dashboardAs returns a browser logged in with the token of role.
func (g *guardFixture) dashboardAs(t *testing.T, role access.Role) *browser {
	t.Helper()
	b := newBrowser(g.fixture)
	b.get(t, "/login")
	if rec := b.post(t, "/login", "secret", g.tokens[role]); rec.Code != http.StatusSeeOther {
		t.Fatalf("log in as %s: %d", role, rec.Code)
	}
	b.get(t, "/machines") // the session's CSRF token
	return b
}

// TestEveryChangeAudited walks every route of the admin listener. Each must
// be registered with its action (guard.act), but for the login page, the
// logout and the assets; and each request to a route whose action changes
// state writes exactly one audit record, with the requester's name, whatever
// the outcome. A route added without act, or that forgets its record, fails
// here.
func TestEveryChangeAudited(t *testing.T) {
	t.Parallel()
	g := newGuardFixture(t)
	api := g.dashboardAs(t, access.RoleAdmin) // one login: its record is before the walk
	exempt := map[string]bool{"GET /login": true, "POST /login": true, "POST /logout": true,
		"GET /static/{file}": true, "GET /": true, "GET /healthz": true, "GET /metrics": true}
	routes, ok := g.h.(chi.Routes)
	if !ok {
		t.Fatalf("admin handler is a %T", g.h)
	}
	s := g.fixture.guard
	changing := map[access.Action]bool{}
	err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		key := method + " " + route
		if exempt[key] {
			return nil
		}
		a, ok := s.action(method, route)
		if !ok {
			t.Errorf("%s is not registered with its action (guard.act)", key)
			return nil
		}
		path := strings.NewReplacer("{mac}", "52:54:00:12:34:56", "{name}", "alpine", "{user}", "the-viewer",
			"{id}", "0123456789ab", "{file}", "x").Replace(route)
		before := len(g.records(t))
		var rec *httptest.ResponseRecorder
		if strings.HasPrefix(route, "/api/") {
			body := "{}"
			if key == "POST /api/v1/reconcile" {
				body = `{"repair":true}` // the state-changing form of the route
			}
			rec = g.api(t, access.RoleAdmin, method, path, body)
		} else if method == http.MethodGet {
			if strings.HasSuffix(route, "events") {
				return nil // streams: GET, and never a change
			}
			rec = api.get(t, path)
		} else {
			rec = api.post(t, path, "confirm", "yes", "mac", "52:54:00:00:00:77", "image", "alpine",
				"netboot", "off", "old", "delete", "snapshot", "s1", "name", "s2")
		}
		recs := g.records(t)
		want := 0
		if a.Changes() || key == "POST /api/v1/reconcile" {
			want = 1
			changing[a] = true
		}
		if got := len(recs) - before; got != want {
			t.Errorf("%s (%s, answered %d): %d audit records, want %d", key, a, rec.Code, got, want)
			return nil
		}
		if want == 1 && recs[0].User != "the-admin" {
			t.Errorf("%s: audit record by %q, want the-admin", key, recs[0].User)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range access.Actions() {
		if a.Changes() && !changing[a] && a != access.ActionLogin && a != access.ActionArm && a != access.ActionRepair {
			t.Errorf("no route performs %s", a)
		}
	}
}

// TestRoles: a viewer can look but not enroll, an operator can enroll but
// not retire, through the API and the dashboard; each refusal is a 403
// written to the audit log as denied.
func TestRoles(t *testing.T) {
	t.Parallel()
	g := newGuardFixture(t)
	enroll := `{"mac":"52:54:00:00:00:42","image":"alpine"}`
	if rec := g.api(t, access.RoleViewer, "GET", "/api/v1/nodes", ""); rec.Code != http.StatusOK {
		t.Errorf("viewer lists nodes: %d", rec.Code)
	}
	if rec := g.api(t, access.RoleViewer, "POST", "/api/v1/nodes", enroll); rec.Code != http.StatusForbidden {
		t.Errorf("viewer enrolls: %d, want 403", rec.Code)
	}
	if r := g.records(t)[0]; r.User != "the-viewer" || r.Action != access.ActionEnroll || r.Outcome != access.OutcomeDenied {
		t.Errorf("viewer's enroll recorded as %+v", r)
	}
	if rec := g.api(t, access.RoleOperator, "POST", "/api/v1/nodes", enroll); rec.Code != http.StatusCreated {
		t.Errorf("operator enrolls: %d %s", rec.Code, rec.Body)
	}
	if rec := g.api(t, access.RoleOperator, "POST", "/api/v1/nodes/52:54:00:00:00:42/retire", ""); rec.Code != http.StatusForbidden {
		t.Errorf("operator retires: %d, want 403", rec.Code)
	}
	if rec := g.api(t, access.RoleOperator, "POST", "/api/v1/reconcile", `{"repair":true}`); rec.Code != http.StatusForbidden {
		t.Errorf("operator repairs: %d, want 403", rec.Code)
	}
	if rec := g.api(t, access.RoleOperator, "POST", "/api/v1/reconcile", `{}`); rec.Code != http.StatusOK {
		t.Errorf("operator reconciles (report): %d %s", rec.Code, rec.Body)
	}
	if rec := g.api(t, access.RoleOperator, "POST", "/api/v1/users", `{"name":"x","role":"admin"}`); rec.Code != http.StatusForbidden {
		t.Errorf("operator adds a user: %d, want 403", rec.Code)
	}
	if rec := g.api(t, access.RoleAdmin, "POST", "/api/v1/nodes/52:54:00:00:00:42/retire", ""); rec.Code != http.StatusOK {
		t.Errorf("admin retires: %d %s", rec.Code, rec.Body)
	}
	// The dashboard: the same rules, shown on the page.
	viewer := g.dashboardAs(t, access.RoleViewer)
	rec := viewer.post(t, "/machines", "mac", "52:54:00:00:00:43", "image", "alpine")
	if rec.Code != http.StatusForbidden || !strings.Contains(text(rec), "operator role") {
		t.Errorf("viewer enrolls on the dashboard: %d\n%s", rec.Code, text(rec))
	}
	if r := g.records(t)[0]; r.User != "the-viewer" || r.Via != access.ViaDashboard || r.Outcome != access.OutcomeDenied {
		t.Errorf("viewer's dashboard enroll recorded as %+v", r)
	}
	op := g.dashboardAs(t, access.RoleOperator)
	if rec := op.post(t, "/machines", "mac", "52:54:00:00:00:43", "image", "alpine"); rec.Code != http.StatusSeeOther {
		t.Errorf("operator enrolls on the dashboard: %d\n%s", rec.Code, text(rec))
	}
	if rec := op.post(t, "/machines/52:54:00:00:00:43/retire", "confirm", "yes"); rec.Code != http.StatusForbidden {
		t.Errorf("operator retires on the dashboard: %d", rec.Code)
	}
	if rec := op.get(t, "/audit"); rec.Code != http.StatusOK || !strings.Contains(text(rec), "52:54:00:00:00:43") {
		t.Errorf("operator's audit page: %d\n%s", rec.Code, text(rec))
	}
}

// TestLoginThrottled: ten wrong passwords in a minute are answered; the
// eleventh, even a right one, is throttled, for the address and for the
// user; a right password from elsewhere for another user still works.
func TestLoginThrottled(t *testing.T) {
	t.Parallel()
	g := newGuardFixture(t)
	b := newBrowser(g.fixture)
	b.get(t, "/login")
	for i := 1; i <= FailureLimit; i++ {
		if rec := b.post(t, "/login", "user", "admin", "secret", "wrong password"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d, want 401", i, rec.Code)
		}
	}
	rec := b.post(t, "/login", "user", "admin", "secret", testPassword)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Errorf("11th attempt: %d (Retry-After %q), want 429 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	denied := 0
	for _, r := range g.records(t) {
		if r.Action == access.ActionLogin && r.Outcome == access.OutcomeDenied {
			denied++
		}
	}
	if denied != FailureLimit {
		t.Errorf("%d failed logins in the audit log, want %d", denied, FailureLimit)
	}
	// API tokens: the 11th wrong one from an address is throttled too.
	g = newGuardFixture(t)
	for i := 1; i <= FailureLimit; i++ {
		if rec := g.doAuth(t, "GET", "/api/v1/nodes", "", "Bearer wrong"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d, want 401", i, rec.Code)
		}
	}
	if rec := g.doAuth(t, "GET", "/api/v1/nodes", "", "Bearer "+g.tokens[access.RoleViewer]); rec.Code != http.StatusTooManyRequests {
		t.Errorf("API after ten wrong tokens: %d, want 429", rec.Code)
	}
}

// fakeBackup is a store whose copy is a few bytes.
type fakeBackup struct{}

func (fakeBackup) WriteTo(w io.Writer) (int64, error) {
	n, err := io.WriteString(w, "a store")
	return int64(n), err
}
