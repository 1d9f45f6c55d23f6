package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/web"
)

// nodeListenAddr is where the node listener listens: node_listen, else
// http_listen's host with port 8443 (an ephemeral port when http_listen's
// is, as in tests).
func nodeListenAddr(cfg serveConfig) string {
	if cfg.NodeListen != "" {
		return cfg.NodeListen
	}
	host, port, err := net.SplitHostPort(cfg.HTTPListen)
	if err != nil {
		return ":8443"
	}
	if port != "0" {
		port = "8443"
	}
	return net.JoinHostPort(host, port)
}

// startNode starts the node listener (TLS): the endpoints bootd-init uses
// for the clock, the key and reports. It returns the server's error channel
// and a function that stops it.
func startNode(cfg serveConfig, svc *boot.Service, cert tls.Certificate, log *slog.Logger) (net.Addr, <-chan error, func(), error) {
	h, err := web.NewNode(web.NodeConfig{Service: svc, Logger: log})
	if err != nil {
		return nil, nil, nil, err
	}
	ln, err := net.Listen("tcp", nodeListenAddr(cfg))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("node listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13},
		ErrorLog:  slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	errc := make(chan error, 1)
	go func() {
		if err := srv.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("node listener: %w", err)
		}
	}()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}
	return ln.Addr(), errc, stop, nil
}
