package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/bootd/bootd/bootfs"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config configures the HTTP handler built by New.
type Config struct {
	// The domain, as the handlers use it (domain.go); each is required, and
	// *boot.Service is all of them.
	Nodes      NodeReader    // nodes, timelines, images
	Enrollment Enrollment    // enroll, assign, netboot, forget
	Volumes    VolumeOps     // the volume operations and checks
	Events     Events        // live updates of the dashboard
	Fetches    FetchRecorder // the timeline events of /boot fetches
	// Resolver tells explain which machine is which and what it boots,
	// when Files is nil.
	Resolver bootfs.Nodes
	// Token is the API token every /api/v1 request must present as
	// "Authorization: Bearer <token>"; required. See LoadOrCreateToken.
	Token string
	// Registry receives the HTTP metrics and is served at /metrics; nil means
	// a fresh private registry (never the global one).
	Registry *prometheus.Registry
	// Logger receives one Debug record per request and the causes of 500s;
	// nil discards them.
	Logger *slog.Logger
	// Version is reported by /healthz.
	Version string
	// Password, when not empty, logs in to the dashboard as well as Token does.
	Password string
	// Closing, when closed, ends the dashboard's live-update streams, so that
	// http.Server.Shutdown need not wait for them; nil means never.
	Closing <-chan struct{}
	// Files serves the boot files under /boot; nil leaves /boot out.
	Files *bootfs.Files
	// DHCP tells explain what the DHCP server hands each node; nil says
	// it is not known.
	DHCP bootfs.DHCPExplainer
	// Backup serves GET /api/v1/backup, a copy of the store (api_backup.go);
	// nil leaves the route out.
	Backup Backup
}

// server holds what the API, /healthz and /boot handlers share. It has no
// mutable state of its own.
type server struct {
	nodes      NodeReader
	enrollment Enrollment
	volumes    VolumeOps
	fetches    FetchRecorder
	resolver   bootfs.Nodes
	auth       tokenChecker
	log        *slog.Logger
	metrics    *metrics
	version    string
	files      *bootfs.Files
	dhcp       bootfs.DHCPExplainer
	store      Backup
}

// New returns the handler for bootd's HTTP routes: /healthz, /metrics, the
// JSON API under /api/v1, the dashboard (/machines, /images, /login), and
// the boot files under /boot when cfg.Files is set. It fails when cfg lacks
// a part of the domain or a Token, or when the metrics cannot be registered on cfg.Registry (for example because
// another handler already registered them there).
func New(cfg Config) (http.Handler, error) {
	if err := cfg.checkDomain(); err != nil {
		return nil, err
	}
	if cfg.Token == "" {
		return nil, errors.New("web: Config needs an API token")
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	s := &server{nodes: cfg.Nodes, enrollment: cfg.Enrollment, volumes: cfg.Volumes, fetches: cfg.Fetches,
		resolver: cfg.Resolver, auth: newTokenChecker(cfg.Token), log: cfg.Logger,
		metrics: m, version: cfg.Version, files: cfg.Files, dhcp: cfg.DHCP, store: cfg.Backup}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}

	r := chi.NewRouter()
	r.Use(s.observe, s.recoverer)
	r.NotFound(s.notFound)
	r.MethodNotAllowed(s.methodNotAllowed(r))
	r.Get("/healthz", s.handle(s.healthz))
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	r.Route("/api/v1", s.routesAPI)
	dash, err := newDashboard(cfg, s.log)
	if err != nil {
		return nil, err
	}
	dash.routes(r)
	if s.files != nil {
		r.Route(bootfs.Root, s.routesBoot)
	}
	return r, nil
}

// checkDomain fails when cfg lacks a part of the domain.
func (cfg Config) checkDomain() error {
	for _, p := range []struct {
		name string
		nil  bool
	}{
		{"Nodes", cfg.Nodes == nil}, {"Enrollment", cfg.Enrollment == nil}, {"Volumes", cfg.Volumes == nil},
		{"Events", cfg.Events == nil}, {"Fetches", cfg.Fetches == nil}, {"Resolver", cfg.Resolver == nil},
	} {
		if p.nil {
			return fmt.Errorf("web: Config needs %s", p.name)
		}
	}
	return nil
}

// health is the body of GET /healthz.
type health struct {
	Status  string `json:"status"`
	Volumes string `json:"volumes"`
	Version string `json:"version"`
	// Warnings lists degraded modes bootd runs in; empty when there are none.
	Warnings []string `json:"warnings"`
}

// healthz answers GET /healthz without authentication: the service is up,
// and whether it runs with a volume backend.
func (s *server) healthz(w http.ResponseWriter, r *http.Request) error {
	h := health{Status: "ok", Volumes: "configured", Version: s.version, Warnings: []string{}}
	if !s.volumes.HasVolumes() {
		h.Volumes = "none"
		h.Warnings = append(h.Warnings, "no volume backend: nodes are enrolled without a volume")
	}
	s.writeJSON(w, r, http.StatusOK, h)
	return nil
}

// notFound answers requests for routes that do not exist.
func (s *server) notFound(w http.ResponseWriter, r *http.Request) {
	s.fail(w, r, errNoRoute)
}

// methodNotAllowed answers requests whose path exists for other methods,
// listing those in the Allow header as RFC 9110 section 15.5.6 requires.
func (s *server) methodNotAllowed(mux *chi.Mux) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.RawPath
		if path == "" {
			path = r.URL.Path
		}
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if mux.Match(chi.NewRouteContext(), m, path) {
				w.Header().Add("Allow", m)
			}
		}
		s.fail(w, r, errMethod)
	}
}
