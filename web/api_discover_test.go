package web

import (
	"net/http"
	"sync"
	"testing"
	"time"
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
