package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"github.com/bootd/bootd/boot/access"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/store"
	"github.com/bootd/bootd/dhcp"
	"github.com/bootd/bootd/images"
	"github.com/bootd/bootd/web"
)

// inProcess is a bootd running inside the test: the real store (bbolt in a
// temporary folder), the example catalog, the real HTTP handler on a
// loopback port, and whatever volume backend the test gives it. Tests use
// it where they need the Service itself: to report what DHCP and TFTP would
// (Discover, Record), or to give bootd a fake volume backend.
type inProcess struct {
	url, token string
	svc        *boot.Service
	users      *access.Directory
	// spki is the base64 SHA-256 of the certificate's public key, which
	// Chromium's --ignore-certificate-errors-spki-list trusts.
	spki string
}

func startInProcess(tb testing.TB, vols boot.Volumes) *inProcess {
	tb.Helper()
	db, err := store.Open(filepath.Join(tb.TempDir(), store.FileName), store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return startInProcessOn(tb, db, db.AuditLog(access.Retention{}), vols, "")
}

// inProcessStore is what startInProcessOn needs of a store backend.
type inProcessStore interface {
	boot.Store
	access.UserStore
	Close() error
}

// startInProcessOn is startInProcess on the store db (closed at the end)
// and its audit log,
// named instance among those sharing it (empty: unnamed). The Service
// follows other instances' changes when the store is shared.
func startInProcessOn(tb testing.TB, db inProcessStore, audit access.AuditLog, vols boot.Volumes, instance string) *inProcess {
	tb.Helper()
	dir := tb.TempDir()
	cat, err := images.Example()
	if err != nil {
		tb.Fatal(err)
	}
	cfg := boot.Config{Store: db, Catalog: cat, Instance: instance}
	if vols != nil {
		cfg.Volumes = vols
	}
	svc, err := boot.NewService(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	followCtx, stopFollowing := context.WithCancel(context.Background())
	followed := make(chan struct{})
	go func() { defer close(followed); svc.FollowChanges(followCtx) }()
	token, err := web.LoadOrCreateToken(filepath.Join(dir, tokenFileName))
	if err != nil {
		tb.Fatal(err)
	}
	users, err := identities(context.Background(), db, token, "", slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	closing := make(chan struct{})
	h, err := web.New(webDomain(web.Config{Users: users, Audit: audit, Closing: closing, Version: "test",
		Discover: &dhcp.Window{}}, svc))
	if err != nil {
		tb.Fatal(err)
	}
	// TLS, as the admin listener serves it, with bootd's own kind of certificate.
	certPath, keyPath := filepath.Join(dir, adminCertFile), filepath.Join(dir, adminKeyFile)
	if err := makeCert(certPath, keyPath, "bootd admin listener", []string{"127.0.0.1"}); err != nil {
		tb.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		tb.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		tb.Fatal(err)
	}
	spki := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: h.Admin, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()
	tb.Cleanup(func() {
		stopFollowing()
		<-followed
		close(closing)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			tb.Errorf("shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			tb.Errorf("serve: %v", err)
		}
		if err := db.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return &inProcess{url: "https://" + ln.Addr().String(), token: token, svc: svc, users: users,
		spki: base64.StdEncoding.EncodeToString(spki[:])}
}
