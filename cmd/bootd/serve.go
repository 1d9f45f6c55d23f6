package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/images"
	"github.com/bootd/bootd/tftp"
	"github.com/bootd/bootd/web"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// tokenFileName is the API token's file name inside the data folder.
const tokenFileName = "api-token"

// runServe runs the daemon until ctx is cancelled (SIGINT, SIGTERM).
func runServe(ctx context.Context, inv invocation) error {
	stdout, stderr, getenv := inv.out, inv.errOut, inv.getenv
	cfg, err := inv.flags.(*serveFlags).load(getenv)
	if err != nil {
		return err
	}
	if cfg.DataDir, err = filepath.Abs(cfg.DataDir); err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)

	db, audit, backup, err := openState(cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	cat, err := loadCatalog(cfg.ImagesDir, log)
	if err != nil {
		return err
	}
	checkpoint := crashPoint(getenv, log)
	vols, closeVols, err := openVolumes(cfg, log, checkpoint)
	if err != nil {
		return err
	}
	defer closeVols()
	rule, window := cfg.keyRelease()
	leases := cfg.DHCPMode != "off"
	if !leases && rule != boot.KeyReleaseArmed {
		log.Warn("no DHCP server in bootd: no boot can be bound to a lease, so no key is released unless key_release is armed",
			"key_release", string(rule))
	}
	discMax, discRate := cfg.discovered()
	pwr, err := newPower(cfg, log)
	if err != nil {
		return err
	}
	instance, err := instanceName(cfg)
	if err != nil {
		return err
	}
	svc, err := boot.NewService(boot.Config{Store: db, Catalog: cat, Logger: log, Volumes: vols, Checkpoint: checkpoint,
		KeyRelease: rule, BootWindow: window, Leases: leases, DiscoveredMax: discMax, DiscoveredRate: discRate, Power: pwr,
		MaxBootsInFlight: cfg.maxBootsInFlight(), Instance: instance})
	if err != nil {
		return err
	}
	defer func() { // runs after the servers have stopped, before the store closes
		fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := svc.Flush(fctx); err != nil {
			log.Warn("timeline events not all written before shutdown", "err", err)
		}
	}()
	if err := startupChecks(ctx, svc, log); err != nil {
		return err
	}
	if p, ok := vols.(cephProber); ok {
		go p.ProbeEvery(ctx, cephProbeEvery, cephProbeDeadline, svc.SetCephHealth)
	}

	tokenPath := filepath.Join(cfg.DataDir, tokenFileName)
	token, err := web.LoadOrCreateToken(tokenPath)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "bootd_timeline_events_dropped_total",
		Help: "Fetch events not written to a timeline because their node had too many waiting (see boot.RecordSoon).",
	}, func() float64 { return float64(svc.DroppedEvents()) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "bootd_discovered_refused_total",
		Help: "Sightings of new machines not recorded because new ones came faster than discovered_rate.",
	}, func() float64 { return float64(svc.DiscoveryStats().Refused) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "bootd_discovered_pruned_total",
		Help: "Discovered machines forgotten, the ones seen longest ago first, to stay under discovered_max.",
	}, func() float64 { return float64(svc.DiscoveryStats().Pruned) }))
	password, err := readPasswordFile(cfg.DashboardPasswordFile)
	if err != nil {
		return err
	}
	users, err := identities(ctx, db, token, password, log)
	if err != nil {
		return err
	}
	sessionKey, err := loadOrCreateSessionKey(cfg.DataDir)
	if err != nil {
		return err
	}
	cert, fingerprint, err := nodeCert(cfg, log)
	if err != nil {
		return err
	}
	registerTrustMetrics(reg, svc)
	registerHealthMetrics(reg, svc)
	nodeAddr, nodeErr, stopNode, err := startNode(cfg, svc, cert, log)
	if err != nil {
		return err
	}
	defer stopNode()
	files, err := newBootFiles(cfg, svc, nodeAddr, fingerprint, log)
	if err != nil {
		return err
	}
	// The boot listener listens first: DHCP tells machines its address and
	// port, and explain tells what DHCP answers.
	ln, err := net.Listen("tcp", cfg.HTTPListen)
	if err != nil {
		return fmt.Errorf("http listen: %w", err)
	}
	defer ln.Close()
	admin, err := listenAdmin(cfg, log)
	if err != nil {
		return err
	}
	defer admin.ln.Close()
	dc, err := dhcpConfig(cfg, svc, db, reg, ln.Addr(), log)
	if err != nil {
		return err
	}
	proxies, _ := cfg.trustedProxies() // validated with the configuration
	bootMax, bootPerClient := cfg.httpLimits()
	// The addresses bootd's DHCP saw lately: the TFTP guard's knowledge.
	dhcpPeers := tftp.NewRecent(dhcpWindow, dhcpPeersMax)
	var discover web.DiscoverWindow // only a DHCP server that runs has a window worth showing
	if dc.Mode != "" {
		discover = dc.Window
	}
	handlers, err := web.New(webDomain(web.Config{Users: users, Audit: audit, SessionKey: sessionKey,
		Registry: reg, Logger: log, Version: version, Closing: ctx.Done(), Files: files, DHCP: dhcpExplainer(dc), Discover: discover,
		TrustedProxies: proxies, SessionTTL: cfg.sessionTTL(), Backup: backup,
		BootMaxDownloads: bootMax, BootMaxPerClient: bootPerClient}, svc))
	if err != nil {
		return err
	}
	stopTFTP, err := startTFTP(cfg, dhcpPeers, svc, files, reg, log, stdout)
	if err != nil {
		return err
	}
	defer stopTFTP()
	srv := bootServer(handlers.Boot, log)
	serveErr := make(chan error, 2)
	go func() { serveErr <- fmt.Errorf("boot listener: %w", srv.Serve(ln)) }()
	adminSrv := admin.server(handlers.Admin, log)
	go func() { serveErr <- fmt.Errorf("admin listener: %w", admin.serve(adminSrv)) }()
	dhcpErr, stopDHCP, err := startDHCP(ctx, dc, svc, dhcpPeers, log)
	if err != nil {
		srv.Close()
		adminSrv.Close()
		return err
	}
	defer stopDHCP()

	// The heartbeat ends (writing its last record) before the store closes.
	hbCtx, stopHeartbeat := context.WithCancel(ctx)
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		self := boot.Instance{Addr: instanceAddr(cfg, ln.Addr()), Version: version}
		// Where the other instances' nodes ask for their keys when theirs does not answer.
		if u := nodeURL(cfg, nodeAddr, slog.New(slog.DiscardHandler)); u != "" {
			self.Node, self.NodePin = u, fingerprint
		}
		svc.Heartbeat(hbCtx, self)
	}()
	defer func() { stopHeartbeat(); <-hbDone }()
	// Other instances' changes reach this one's dashboard (a shared store only).
	go svc.FollowChanges(hbCtx)

	bootURL, adminURL := "http://"+ln.Addr().String(), admin.url()
	log.Info("bootd serving", "boot", bootURL, "admin", adminURL, "admin_tls_sha256", admin.fingerprint,
		"node", nodeAddr.String(), "node_tls_sha256", fingerprint, "data_dir", cfg.DataDir, "instance", instance)
	printServing(stdout, bootURL, admin, cfg.DataDir, tokenPath)

	select {
	case err := <-serveErr:
		return err
	case err := <-dhcpErr:
		return err
	case err := <-nodeErr:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := errors.Join(srv.Shutdown(shutCtx), adminSrv.Shutdown(shutCtx)); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func loadCatalog(dir string, log *slog.Logger) (*images.Catalog, error) {
	if dir == "" {
		log.Info("using the embedded example image catalog (set --images-dir for your own)")
		return images.Example()
	}
	cat, err := images.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("image catalog: %w", err)
	}
	return cat, nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// registerTrustMetrics exports the trust chain's counters (boot.TrustCounters).
// cephProber is the volume backend's health probe (rbd.Client.ProbeEvery):
// its answers decide whether booting nodes are told to wait (boot/health.go).
type cephProber interface {
	ProbeEvery(ctx context.Context, interval, deadline time.Duration, report func(boot.CephHealth))
}

// How often bootd probes Ceph, and how long a probe may take before Ceph
// counts as not answering: a boot that starts while Ceph is down waits at
// most about this long more than it must.
const (
	cephProbeEvery    = 5 * time.Second
	cephProbeDeadline = 5 * time.Second
)

// registerHealthMetrics registers Ceph's health as bootd last probed it (the
// wait-and-retry scripts served and the boots in flight are web's:
// web/admitmetrics.go).
func registerHealthMetrics(reg prometheus.Registerer, svc *boot.Service) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "bootd_ceph_can_boot",
		Help: "1 when the last probe found that Ceph can take boots (monitors answer, not HEALTH_ERR, the pool takes a write), else 0."},
		func() float64 {
			if svc.CephHealth().OK {
				return 1
			}
			return 0
		}))
}

func registerTrustMetrics(reg prometheus.Registerer, svc *boot.Service) {
	t := svc.Trust()
	for _, m := range []struct {
		name, help string
		v          interface{ Load() int64 }
	}{
		{"bootd_keys_released_total", "Node keys released to a bound boot.", &t.KeysReleased},
		{"bootd_keys_refused_total", "Node key requests refused (not the node's boot, fenced, no volume).", &t.KeysRefused},
		{"bootd_keys_deferred_total", "Key requests of a node's own boot answered \"Ceph unavailable, retry\" (503): the token stays good.", &t.KeysDeferred},
		{"bootd_keys_second_request_total", "Key requests with a token of a boot whose key had gone out already.", &t.SecondKeys},
		{"bootd_reports_refused_total", "Boot reports refused: no token or secret of the node's current boot.", &t.ReportsRefused},
		{"bootd_fetches_unbound_total", "Fetches of a node's files from an address outside its boot, not recorded on its timeline.", &t.FetchesUnbound},
		{"bootd_stale_sessions_released_total", "A node's own previous boot released from its volume at a key release.", &t.StaleReleased},
		{"bootd_proxy_claims_ignored_total", "Proxy mode: another address claimed for a boot under way, ignored.", &t.ProxyConflicting},
	} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: m.name, Help: m.help},
			func() float64 { return float64(m.v.Load()) }))
	}
}

// webDomain returns cfg with the one Service as every part of the domain
// that web's handlers ask for.
func webDomain(cfg web.Config, svc *boot.Service) web.Config {
	cfg.Nodes, cfg.Enrollment, cfg.Volumes, cfg.Events, cfg.Fetches, cfg.Resolver = svc, svc, svc, svc, svc, svc
	cfg.Power, cfg.Admission = svc, svc
	return cfg
}
