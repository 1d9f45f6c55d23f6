package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// bootServer is the boot listener's HTTP server. Its requests have no
// bodies, so reads are short; its answers can be initrds of hundreds of
// megabytes to slow firmware, so writes have no overall deadline and an
// idle connection is closed after a minute.
func bootServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
}

// adminListener is the admin listener: bound, with its certificate when it
// speaks TLS.
type adminListener struct {
	ln          net.Listener
	tls         *tls.Config // nil when admin_tls is off
	fingerprint string      // SHA-256 of the certificate's leaf, hex; empty without TLS
	certPath    string      // bootd's own certificate file, empty for the operator's
}

func listenAdmin(cfg serveConfig, log *slog.Logger) (*adminListener, error) {
	a := &adminListener{}
	if cfg.adminTLS() {
		cert, fp, err := adminCert(cfg, log)
		if err != nil {
			return nil, err
		}
		a.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		a.fingerprint = fp
		if cfg.AdminTLSCert == "" {
			a.certPath = adminCertPath(cfg.DataDir)
		}
	}
	ln, err := net.Listen("tcp", adminListenAddr(cfg))
	if err != nil {
		return nil, fmt.Errorf("admin listen: %w", err)
	}
	a.ln = ln
	return a, nil
}

// server is the admin listener's HTTP server: short requests, with
// deadlines on reading and on idle connections. Writes have no overall
// deadline because the dashboard's live updates are long-lived streams;
// every other answer is small.
func (a *adminListener) server(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 32 << 10, TLSConfig: a.tls,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
}

func (a *adminListener) serve(srv *http.Server) error {
	var err error
	if a.tls != nil {
		err = srv.ServeTLS(a.ln, "", "")
	} else {
		err = srv.Serve(a.ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (a *adminListener) url() string {
	if a.tls != nil {
		return "https://" + a.ln.Addr().String()
	}
	return "http://" + a.ln.Addr().String()
}

// printServing tells the operator where bootd listens and how to point the
// CLI and a browser at it.
func printServing(w io.Writer, bootURL string, a *adminListener, dataDir, tokenPath string) {
	fmt.Fprintf(w, "bootd is serving (data in %s)\n", dataDir)
	fmt.Fprintf(w, "  boot files: boot listener serving on %s\n", bootURL)
	fmt.Fprintf(w, "  API and dashboard: admin listener serving on %s\n", a.url())
	env := "BOOTD_SERVER=" + a.url() + " BOOTD_TOKEN_FILE=" + tokenPath
	if a.fingerprint != "" {
		fmt.Fprintf(w, "  admin certificate SHA-256: %s\n", a.fingerprint)
		env += " BOOTD_FINGERPRINT=" + a.fingerprint
	}
	fmt.Fprintf(w, "Point the CLI at it:\n  export %s\n", env)
	fmt.Fprintf(w, "Dashboard: %s/ (log in with the token in %s)\n", a.url(), tokenPath)
}
