package main

import (
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
	"os"
	"path/filepath"
	"time"
)

// The listeners' certificates in the data folder, made at first start when
// the operator gives none.
const (
	nodeCertFile  = "node-tls.crt"
	nodeKeyFile   = "node-tls.key"
	adminCertFile = "admin-tls.crt"
	adminKeyFile  = "admin-tls.key"
)

// listenerCert describes one listener's certificate.
type listenerCert struct {
	what            string   // "node listener", "admin listener"
	flag            string   // the flags' prefix, e.g. "node-tls"
	cert, key       string   // the operator's files; empty means bootd's own
	ownCert, ownKey string   // bootd's own, in the data folder
	hosts           []string // names and addresses bootd's own certificate is for
}

// nodeCert loads the node listener's certificate: the operator's
// (node_tls_cert and node_tls_key), or bootd's own from the data folder,
// made at first start (ECDSA P-256, self-signed: nodes pin its fingerprint
// rather than trust a CA). It returns the certificate and the SHA-256 of
// its leaf in hex.
func nodeCert(cfg serveConfig, log *slog.Logger) (tls.Certificate, string, error) {
	return loadCert(listenerCert{what: "node listener", flag: "node-tls", cert: cfg.NodeTLSCert, key: cfg.NodeTLSKey,
		ownCert: filepath.Join(cfg.DataDir, nodeCertFile), ownKey: filepath.Join(cfg.DataDir, nodeKeyFile)}, log)
}

// adminCert loads the admin listener's certificate the same way. bootd's
// own names loopback and the admin listener's host, so a CLI on this host
// can verify it by name as well as pin it.
func adminCert(cfg serveConfig, log *slog.Logger) (tls.Certificate, string, error) {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if h, _, err := net.SplitHostPort(adminListenAddr(cfg)); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	if name, err := os.Hostname(); err == nil {
		hosts = append(hosts, name)
	}
	return loadCert(listenerCert{what: "admin listener", flag: "admin-tls", cert: cfg.AdminTLSCert, key: cfg.AdminTLSKey,
		ownCert: filepath.Join(cfg.DataDir, adminCertFile), ownKey: filepath.Join(cfg.DataDir, adminKeyFile), hosts: hosts}, log)
}

func loadCert(c listenerCert, log *slog.Logger) (tls.Certificate, string, error) {
	certPath, keyPath := c.cert, c.key
	if (certPath == "") != (keyPath == "") {
		return tls.Certificate{}, "", fmt.Errorf("--%s-cert and --%s-key go together", c.flag, c.flag)
	}
	if certPath == "" {
		certPath, keyPath = c.ownCert, c.ownKey
		if _, err := os.Stat(certPath); errors.Is(err, os.ErrNotExist) {
			if err := makeCert(certPath, keyPath, "bootd "+c.what, c.hosts); err != nil {
				return tls.Certificate{}, "", fmt.Errorf("%s certificate: %w", c.what, err)
			}
			log.Info(c.what+" certificate made", "cert", certPath)
		}
	}
	if fi, err := os.Stat(keyPath); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return tls.Certificate{}, "", fmt.Errorf("%s key %s is readable by others (mode %o): chmod 600 it", c.what, keyPath, fi.Mode().Perm())
	}
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("%s certificate: %w", c.what, err)
	}
	return cert, fingerprint(cert.Certificate[0]), nil
}

// fingerprint is the SHA-256 of a DER certificate, in hex: what nodes and
// the CLI pin.
func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// makeCert writes a new self-signed certificate for hosts and its key
// (mode 0600).
func makeCert(certPath, keyPath, name string, hosts []string) error {
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
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(20, 0, 0), // pinned, not checked against a clock a Pi lacks
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			if !ip.IsUnspecified() {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
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

// adminCertPath is bootd's own admin certificate in dataDir.
func adminCertPath(dataDir string) string { return filepath.Join(dataDir, adminCertFile) }
