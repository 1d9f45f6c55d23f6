package web

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bootd/bootd/boot/access"
)

// window is a DiscoverWindow in memory.
type window struct {
	mu    sync.Mutex
	until time.Time
}

func (w *window) Open(t time.Time) { w.mu.Lock(); w.until = t; w.mu.Unlock() }
func (w *window) Close()           { w.Open(time.Time{}) }
func (w *window) Until(now time.Time) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.until.After(now) {
		return time.Time{}
	}
	return w.until
}

// TestDiscoverWindow opens the window for a while, reads it and closes it
// through the API; a bad length is refused and leaves it closed.
func TestDiscoverWindow(t *testing.T) {
	t.Parallel()
	win := &window{}
	f := buildFixture(t, false, nil, Config{Discover: win})
	var got discoverBody
	if rec := f.do(t, http.MethodPost, "/api/v1/discover", `{"for":"48h"}`); rec.Code != http.StatusBadRequest {
		t.Errorf("POST /discover for 48h = %d, want 400", rec.Code)
	}
	if !win.Until(time.Now()).IsZero() {
		t.Error("a refused request opened the window")
	}
	rec := f.do(t, http.MethodPost, "/api/v1/discover", `{"for":"5m"}`)
	decode(t, rec, &got)
	if rec.Code != http.StatusOK || !got.Open || time.Until(got.Until) > 5*time.Minute || time.Until(got.Until) < 4*time.Minute {
		t.Errorf("POST /discover for 5m = %d %+v, want open for 5 minutes", rec.Code, got)
	}
	rec = f.do(t, http.MethodGet, "/api/v1/discover", "")
	decode(t, rec, &got)
	if !got.Open {
		t.Errorf("GET /discover = %+v, want open", got)
	}
	rec = f.do(t, http.MethodDelete, "/api/v1/discover", "")
	decode(t, rec, &got)
	if got.Open || !win.Until(time.Now()).IsZero() {
		t.Errorf("DELETE /discover = %+v, want closed", got)
	}
}

// TestDiscoverWindowDashboard: the machines page shows the window and
// opens it for an offered length or closes it, for an operator, with an
// audit record naming the length; a length not offered is refused and a
// viewer may not open it.
func TestDiscoverWindowDashboard(t *testing.T) {
	t.Parallel()
	g := newGuardFixture(t)
	win := g.win
	op := g.dashboardAs(t, access.RoleOperator)
	if page := text(op.get(t, "/machines")); !strings.Contains(page, "Discover window closed") {
		t.Fatalf("machines page does not say the window is closed:\n%s", page)
	}
	if rec := op.post(t, "/discover", "for", "48h"); rec.Code != http.StatusBadRequest || !win.Until(time.Now()).IsZero() {
		t.Errorf("POST /discover for 48h = %d, window until %v; want 400 and closed", rec.Code, win.Until(time.Now()))
	}
	if rec := op.post(t, "/discover", "for", "1h"); rec.Code != http.StatusSeeOther {
		t.Fatalf("POST /discover for 1h = %d %s", rec.Code, rec.Body)
	}
	if left := time.Until(win.Until(time.Now())); left < 59*time.Minute || left > time.Hour {
		t.Errorf("window open for %v, want an hour", left)
	}
	if recs := g.records(t); recs[0].Action != access.ActionDiscover || !strings.Contains(recs[0].Target, "1h0m0s") {
		t.Errorf("audit record %+v, want discover for 1h0m0s", recs[0])
	}
	if page := text(op.get(t, "/machines?done=discover-open")); !strings.Contains(page, "Discover window open until") ||
		!strings.Contains(page, "The discover window is open") {
		t.Errorf("machines page after opening:\n%s", page)
	}
	if rec := op.post(t, "/discover/close"); rec.Code != http.StatusSeeOther || !win.Until(time.Now()).IsZero() {
		t.Errorf("POST /discover/close = %d, window until %v; want closed", rec.Code, win.Until(time.Now()))
	}
	viewer := g.dashboardAs(t, access.RoleViewer)
	if rec := viewer.post(t, "/discover", "for", "10m"); rec.Code != http.StatusForbidden || !win.Until(time.Now()).IsZero() {
		t.Errorf("viewer POST /discover = %d, want 403 and the window closed", rec.Code)
	}
}
