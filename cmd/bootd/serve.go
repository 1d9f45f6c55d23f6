package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/store"
	"github.com/bootd/bootd/images"
	"github.com/bootd/bootd/web"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// tokenFileName is the API token's file name inside the data folder.
const tokenFileName = "api-token"

// runServe runs the daemon until ctx is cancelled (SIGINT, SIGTERM).
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg, err := loadServeConfig(args, getenv)
	if err != nil {
		return err
	}
	if cfg.DataDir, err = filepath.Abs(cfg.DataDir); err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)

	db, err := store.Open(filepath.Join(cfg.DataDir, store.FileName), store.Options{})
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
	svc, err := boot.NewService(boot.Config{Store: db, Catalog: cat, Logger: log, Volumes: vols, Checkpoint: checkpoint})
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
	password, err := readPasswordFile(cfg.DashboardPasswordFile)
	if err != nil {
		return err
	}
	files, err := newBootFiles(cfg, svc, log)
	if err != nil {
		return err
	}
	handler, err := web.New(web.Config{Service: svc, Token: token, Registry: reg, Logger: log, Version: version,
		Password: password, Closing: ctx.Done(), Files: files})
	if err != nil {
		return err
	}
	stopTFTP, err := startTFTP(cfg.TFTPListen, svc, files, reg, log, stdout)
	if err != nil {
		return err
	}
	defer stopTFTP()
	ln, err := net.Listen("tcp", cfg.HTTPListen)
	if err != nil {
		return fmt.Errorf("http listen: %w", err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	dhcpErr, stopDHCP, err := startDHCP(ctx, cfg, svc, db, reg, ln.Addr(), log)
	if err != nil {
		srv.Close()
		return err
	}
	defer stopDHCP()

	url := "http://" + ln.Addr().String()
	log.Info("bootd serving", "http", url, "data_dir", cfg.DataDir)
	fmt.Fprintf(stdout, "bootd is serving on %s (data in %s)\nPoint the CLI at it:\n  export BOOTD_SERVER=%s BOOTD_TOKEN_FILE=%s\n",
		url, cfg.DataDir, url, tokenPath)
	fmt.Fprintf(stdout, "Dashboard: %s/ (log in with the token in %s)\n", url, tokenPath)

	select {
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	case err := <-dhcpErr:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
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
