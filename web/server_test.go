package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/bootfs/bootfstest"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
)

func TestNewNeedsServiceAndToken(t *testing.T) {
	t.Parallel()
	svc, err := boot.NewService(boot.Config{Store: newMemStore(), Catalog: newCatalog()})
	if err != nil {
		t.Fatal(err)
	}
	noFetches := withDomain(Config{}, svc)
	noFetches.Fetches = nil
	noUsers := withDomain(Config{}, svc)
	noUsers.Users = nil
	noAudit := withDomain(Config{}, svc)
	noAudit.Audit = nil
	for name, cfg := range map[string]Config{"nothing": {}, "no fetches": noFetches, "no users": noUsers, "no audit": noAudit} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%s) = nil error, want one", name)
		}
	}
	if _, err := New(withDomain(Config{}, svc)); err != nil {
		t.Errorf("New with no registry or logger = %v, want nil", err)
	}
	reg := prometheus.NewRegistry()
	if _, err := New(withDomain(Config{Registry: reg}, svc)); err != nil {
		t.Fatal(err)
	}
	if _, err := New(withDomain(Config{Registry: reg}, svc)); err == nil {
		t.Errorf("New twice on one registry = nil error, want one")
	}
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	tests := []struct {
		volumes  bool
		want     string
		warnings []string
	}{
		{false, "none", []string{"no volume backend: nodes are enrolled without a volume"}},
		{true, "configured", []string{}},
	}
	for _, tt := range tests {
		f := newFixture(t, tt.volumes)
		rec := f.doAuth(t, http.MethodGet, "/healthz", "", "")
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /healthz = %d, want %d", rec.Code, http.StatusOK)
		}
		var h health
		decode(t, rec, &h)
		if h.Status != "ok" || h.Volumes != tt.want || h.Version != "v1.2.3" || !slices.Equal(h.Warnings, tt.warnings) || h.Warnings == nil {
			t.Errorf("GET /healthz = %+v, want ok, volumes %s, version v1.2.3, warnings %q", h, tt.want, tt.warnings)
		}
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	f.enroll(t, "52:54:00:12:34:56", "alpine")
	f.do(t, http.MethodGet, "/api/v1/nodes/525400123456", "")
	f.do(t, http.MethodGet, "/no/such/page", "")
	rec := f.doAuth(t, http.MethodGet, "/metrics", "", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d, want %d", rec.Code, http.StatusOK)
	}
	text := rec.Body.String()
	for _, want := range []string{
		`bootd_http_requests_total{code="201",method="POST",route="/api/v1/nodes"} 1`,
		`bootd_http_requests_total{code="200",method="GET",route="/api/v1/nodes/{mac}"} 1`,
		`bootd_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`bootd_http_request_duration_seconds_count{method="GET",route="/api/v1/nodes/{mac}"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("GET /metrics lacks %s:\n%s", want, text)
		}
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	tests := []struct {
		method, path string
		want         int
		wantAllow    []string
	}{
		{http.MethodGet, "/nope", 404, nil},
		{http.MethodGet, "/api/v1/nope", 404, nil},
		{http.MethodGet, "/api/v1/nodes/52:54:00:12:34:56/nope", 404, nil},
		{http.MethodDelete, "/healthz", 405, []string{"GET"}},
		{http.MethodPatch, "/api/v1/nodes", 405, []string{"GET", "POST"}},
		{http.MethodPost, "/api/v1/nodes/52:54:00:12:34:56", 405, []string{"GET", "DELETE"}},
		{http.MethodGet, "/api/v1/nodes/52:54:00:12:34:56/netboot", 405, []string{"PUT"}},
	}
	for _, tt := range tests {
		rec := f.do(t, tt.method, tt.path, "")
		if rec.Code != tt.want {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, rec.Code, tt.want)
			continue
		}
		errorOf(t, rec)
		if got := rec.Header().Values("Allow"); !slices.Equal(got, tt.wantAllow) {
			t.Errorf("%s %s: Allow = %q, want %q", tt.method, tt.path, got, tt.wantAllow)
		}
	}
}

func TestPanicIs500(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	f.catalog.panics = true
	rec := f.do(t, http.MethodGet, "/api/v1/images", "")
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("GET /api/v1/images = %d, want %d", rec.Code, http.StatusInternalServerError)
	}
	if msg := errorOf(t, rec); msg != internalMessage {
		t.Errorf("error = %q, want %q", msg, internalMessage)
	}
	if log := f.log.String(); !strings.Contains(log, "handler panicked") || !strings.Contains(log, "catalog on fire") {
		t.Errorf("log lacks the panic:\n%s", log)
	}
}

// TestOverHTTP runs requests through a real server, so the response writer
// wrapping and the body limit meet net/http itself.
func TestOverHTTP(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	srv := httptest.NewServer(f.h)
	t.Cleanup(srv.Close)
	tests := []struct {
		method, path, body string
		want               int
	}{
		{http.MethodGet, "/healthz", "", 200},
		{http.MethodPost, "/api/v1/nodes", `{"mac":"52:54:00:12:34:56","image":"alpine"}`, 201},
		{http.MethodPost, "/api/v1/nodes", `{"mac":"52:54:00:12:34:57","image":"alpine","hostname":"` + strings.Repeat("a", 1<<20) + `"}`, 400},
		{http.MethodGet, "/api/v1/nodes", "", 200},
	}
	for _, tt := range tests {
		req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tt.method, tt.path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, resp.StatusCode, tt.want)
		}
	}
}

// TestAdminRoutesNotOnBoot walks every route of the admin handler and asks
// the boot handler for it, with the API token: each is a 404 there, so
// nothing administrative answers where the boot network's machines reach
// bootd. The boot handler's own routes are all under /boot/.
func TestAdminRoutesNotOnBoot(t *testing.T) {
	t.Parallel()
	fx := bootfstest.New(t, bootfstest.Options{})
	h, err := New(withDomain(Config{Files: fx.Files}, fx.Service))
	if err != nil {
		t.Fatal(err)
	}
	admin, ok := h.Admin.(chi.Routes)
	if !ok {
		t.Fatalf("admin handler is a %T, not a chi router", h.Admin)
	}
	n := 0
	err = chi.Walk(admin, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		path := strings.NewReplacer("{mac}", "52:54:00:12:34:56", "{name}", "x", "{image}", "x",
			"{snap}", "x", "{file}", "x", "*", "x").Replace(route)
		req := httptest.NewRequest(method, path, strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+testToken)
		rec := httptest.NewRecorder()
		h.Boot.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s %s on the boot listener: %d, want 404", method, path, rec.Code)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Errorf("walked %d admin routes; the admin router has more", n)
	}
	for _, p := range []string{"/healthz", "/metrics", "/api/v1/nodes", "/machines", "/login", "/"} {
		rec := httptest.NewRecorder()
		h.Boot.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %s on the boot listener: %d, want 404", p, rec.Code)
		}
	}
	rec := httptest.NewRecorder()
	h.Boot.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/boot/52-54-00-12-34-56/kernel", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("GET a boot file on the boot listener: %d, want 200", rec.Code)
	}
}
