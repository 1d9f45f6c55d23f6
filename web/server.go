package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/bootd/bootd/boot/access"
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
	// Users are who may use the admin listener (an *access.Directory);
	// required. API requests carry a user's token ("Authorization: Bearer
	// <token>"); the dashboard logs users in with a password or a token.
	Users Identities
	// Audit keeps the record of every state-changing action; required.
	Audit access.AuditLog
	// SessionKey signs dashboard sessions; at least 32 random bytes, kept
	// across restarts so that logins survive them. Empty means a random key
	// for this process.
	SessionKey []byte
	// Registry receives the HTTP metrics and is served at /metrics; nil means
	// a fresh private registry (never the global one).
	Registry *prometheus.Registry
	// Logger receives one Debug record per request and the causes of 500s;
	// nil discards them.
	Logger *slog.Logger
	// Version is reported by /healthz.
	Version string
	// Closing, when closed, ends the dashboard's live-update streams, so that
	// http.Server.Shutdown need not wait for them; nil means never.
	Closing <-chan struct{}
	// Files serves the boot files under /boot; nil leaves /boot out.
	Files *bootfs.Files
	// BootMaxDownloads and BootMaxPerClient cap the requests under /boot
	// in progress, in all and per client address (bootlimit.go); zero
	// means DefaultBootMaxDownloads and DefaultBootMaxPerClient.
	BootMaxDownloads, BootMaxPerClient int
	// DHCP tells explain what the DHCP server hands each node; nil says
	// it is not known.
	DHCP bootfs.DHCPExplainer
	// TrustedProxies are the reverse proxies in front of the admin
	// listener: from them, and only them, X-Forwarded-For names the client
	// and X-Forwarded-Proto says whether it used TLS.
	TrustedProxies []netip.Prefix
	// SessionTTL is how long a dashboard login lasts; zero means
	// DefaultSessionTTL.
	SessionTTL time.Duration
	// Backup serves GET /api/v1/backup, a copy of the store (api_backup.go),
	// to admins; nil leaves the route out.
	Backup Backup
	// Discover is the DHCP discover window (api_discover.go); nil leaves
	// its routes out.
	Discover DiscoverWindow
	// Power drives machines' power (api_power.go); nil: bootd runs without
	// power control, and its routes say so.
	Power PowerOps
	// Admission is exported on /metrics (admitmetrics.go); nil leaves
	// those metrics out.
	Admission Admission
}

// server holds what the API, /healthz and /boot handlers share. It has no
// mutable state of its own.
type server struct {
	nodes      NodeReader
	enrollment Enrollment
	volumes    VolumeOps
	fetches    FetchRecorder
	resolver   bootfs.Nodes
	log        *slog.Logger
	metrics    *metrics
	version    string
	files      *bootfs.Files
	dhcp       bootfs.DHCPExplainer
	users      Identities
	audit      access.AuditLog
	guard      *guard
	store      Backup
	bootLimit  *bootLimit
	window     DiscoverWindow
	power      PowerOps
	// throttle counts failed logins and tokens (throttle.go).
	throttle *throttle
}

// Handlers are bootd's two HTTP faces, served on two listeners so that
// nothing administrative answers where the machines of the boot network
// reach bootd.
type Handlers struct {
	// Admin serves /healthz, /metrics, the JSON API under /api/v1 and the
	// dashboard (/machines, /images, /login): the admin listener.
	Admin http.Handler
	// Boot serves the boot files under /boot and nothing else: the boot
	// listener. Nil when Config.Files is nil.
	Boot http.Handler
	// guard is the admin listener's: its table of routes and their actions.
	guard *guard
}

// New returns the handlers of the admin and the boot listener. It fails
// when cfg lacks a part of the domain or a Token, or when the metrics
// cannot be registered on cfg.Registry (for example because another
// handler already registered them there).
func New(cfg Config) (*Handlers, error) {
	if err := cfg.checkDomain(); err != nil {
		return nil, err
	}
	if cfg.Users == nil || cfg.Audit == nil {
		return nil, errors.New("web: Config needs Users and an Audit log")
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	if cfg.Admission != nil {
		if err := registerAdmitMetrics(reg, cfg.Admission); err != nil {
			return nil, err
		}
	}
	s := &server{nodes: cfg.Nodes, enrollment: cfg.Enrollment, volumes: cfg.Volumes, fetches: cfg.Fetches,
		resolver: cfg.Resolver, users: cfg.Users, audit: cfg.Audit, log: cfg.Logger, store: cfg.Backup,
		window: cfg.Discover, power: cfg.Power,
		metrics: m, version: cfg.Version, files: cfg.Files, dhcp: cfg.DHCP, throttle: newThrottle()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.bootLimit, err = newBootLimit(reg, cfg.BootMaxDownloads, cfg.BootMaxPerClient); err != nil {
		return nil, err
	}
	s.guard = newGuard(cfg.Audit, s.log)

	r := s.router()
	r.Use(forwarded(cfg.TrustedProxies))
	r.Get("/healthz", s.handle(s.healthz))
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	r.Route("/api/v1", s.routesAPI)
	dash, err := newDashboard(cfg, s)
	if err != nil {
		return nil, err
	}
	dash.routes(r)
	h := &Handlers{Admin: r, guard: s.guard}
	if s.files != nil {
		b := s.router()
		b.Route(bootfs.Root, s.routesBoot)
		b.Route("/grub", s.routesGrub)
		h.Boot = b
	}
	return h, nil
}

// router returns a router with the middleware and error answers both
// listeners share.
func (s *server) router() *chi.Mux {
	r := chi.NewRouter()
	r.Use(s.observe, s.recoverer)
	r.NotFound(s.notFound)
	r.MethodNotAllowed(s.methodNotAllowed(r))
	return r
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
