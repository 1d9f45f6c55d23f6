package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/web"
)

// The node listener's certificate in the data folder, made at first start
// when the operator gives none.
const (
	nodeCertFile = "node-tls.crt"
	nodeKeyFile  = "node-tls.key"
)

// nodeCert loads the node listener's certificate: the operator's
// (node_tls_cert and node_tls_key), or bootd's own from the data folder,
// made at first start (ECDSA P-256, self-signed: nodes pin its fingerprint
// rather than trust a CA). It returns the certificate and the SHA-256 of
// its leaf in hex.
func nodeCert(cfg serveConfig, log *slog.Logger) (tls.Certificate, string, error) {
	certPath, keyPath := cfg.NodeTLSCert, cfg.NodeTLSKey
	if (certPath == "") != (keyPath == "") {
		return tls.Certificate{}, "", errors.New("--node-tls-cert and --node-tls-key go together")
	}
	if certPath == "" {
		certPath, keyPath = filepath.Join(cfg.DataDir, nodeCertFile), filepath.Join(cfg.DataDir, nodeKeyFile)
		if _, err := os.Stat(certPath); errors.Is(err, os.ErrNotExist) {
			if err := makeNodeCert(certPath, keyPath); err != nil {
				return tls.Certificate{}, "", fmt.Errorf("node listener certificate: %w", err)
			}
			log.Info("node listener certificate made", "cert", certPath)
		}
	}
	if fi, err := os.Stat(keyPath); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return tls.Certificate{}, "", fmt.Errorf("node listener key %s is readable by others (mode %o): chmod 600 it", keyPath, fi.Mode().Perm())
	}
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("node listener certificate: %w", err)
	}
	sum := sha256.Sum256(cert.Certificate[0])
	return cert, hex.EncodeToString(sum[:]), nil
}

// makeNodeCert writes a new self-signed certificate and its key (mode 0600).
func makeNodeCert(certPath, keyPath string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "bootd node listener"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(20, 0, 0), // pinned, not checked against a clock a Pi lacks
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(keyPath), 0o700); err != nil {
		return err
	}
	if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// writeFileAtomic writes b to path through a temporary file and a rename,
// so a crash leaves the old file or the new one, never half of one.
func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

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
