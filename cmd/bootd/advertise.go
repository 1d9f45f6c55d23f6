package main

import (
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
)

// bootURL is bootd's HTTP base URL as machines reach it: the advertised
// address (or http_listen's own address) with http_listen's port. "" when
// neither names an address, which leaves the RBD boot out.
func bootURL(cfg serveConfig, log *slog.Logger) string {
	return advertisedURL(cfg, "http", cfg.HTTPListen, log)
}

// nodeURL is the node listener's base URL as machines reach it, the same
// way (https, the port the node listener has).
func nodeURL(cfg serveConfig, node net.Addr, log *slog.Logger) string {
	return advertisedURL(cfg, "https", node.String(), log)
}

func advertisedURL(cfg serveConfig, scheme, listen string, log *slog.Logger) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return ""
	}
	if cfg.Advertise != "" {
		host = cfg.Advertise
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.IsUnspecified() {
		log.Warn("nodes cannot be told where bootd is (set --advertise): volumes are not mapped at boot", "listen", listen)
		return ""
	}
	return scheme + "://" + net.JoinHostPort(a.String(), port)
}

// initDir is the folder of the bootd-init binaries: --init-dir, else the
// folder bootd itself is in (make build puts them side by side).
func initDir(cfg serveConfig) string {
	if cfg.InitDir != "" {
		return cfg.InitDir
	}
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	return filepath.Dir(exe)
}
