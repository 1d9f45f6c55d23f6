package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The CLI verifies the admin listener's certificate one of three ways, the
// first that applies:
//
//   - --ca-file (BOOTD_CA_FILE): the certificate must chain to the CAs in
//     that PEM file and name the host of --server, as any TLS client checks;
//   - --fingerprint (BOOTD_FINGERPRINT): the certificate's SHA-256 must be
//     this one (what `bootd serve` prints and `bootd version` shows on the
//     server's host): a pin, for bootd's own self-signed certificate seen
//     from another host;
//   - else bootd's own certificate in the data folder (readable on the
//     server's host): its SHA-256 is pinned.
//
// Without any of them the CLI refuses to talk, and says how to pin. It never
// skips verification.

// tlsConfig returns the client's TLS configuration.
func (o clientOptions) tlsConfig() (*tls.Config, error) {
	if o.caFile != "" {
		b, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("--ca-file %s holds no PEM certificate", o.caFile)
		}
		return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
	}
	pin, from := normalizeFingerprint(o.fingerprint), "--fingerprint"
	if o.fingerprint != "" && len(pin) != 64 {
		return nil, fmt.Errorf("--fingerprint %q: want the certificate's SHA-256, 64 hex digits (colons allowed)", o.fingerprint)
	}
	if pin == "" {
		path := adminCertPath(o.dataDir)
		der, err := readCertDER(path)
		if err != nil {
			return nil, fmt.Errorf("cannot verify bootd's admin certificate: no --ca-file or --fingerprint, and %v.\n"+
				"On the server's host, `bootd version` prints the certificate's SHA-256; pin it with --fingerprint or BOOTD_FINGERPRINT", err)
		}
		pin, from = fingerprint(der), path
	}
	return pinnedTLS(pin, from), nil
}

// pinnedTLS accepts exactly the certificate whose SHA-256 is pin. The chain
// and name checks are replaced by the pin, which is stricter: no other
// certificate, whoever signed it, passes.
func pinnedTLS(pin, from string) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return &pinError{want: pin, from: from}
			}
			if got := fingerprint(cs.PeerCertificates[0].Raw); got != pin {
				return &pinError{want: pin, got: got, from: from}
			}
			return nil
		}}
}

// pinError is a certificate that is not the pinned one.
type pinError struct{ want, got, from string }

func (e *pinError) Error() string {
	return fmt.Sprintf("the server's certificate (SHA-256 %s) is not the one pinned by %s (%s): refusing to send the token. "+
		"If bootd's certificate was changed on purpose, pin the new one", e.got, e.from, e.want)
}

// normalizeFingerprint accepts hex with or without colons, any case.
func normalizeFingerprint(s string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
}

// readCertDER reads the first certificate of a PEM file.
func readCertDER(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return blk.Bytes, nil
}

// adminFingerprint is the SHA-256 of bootd's own admin certificate in
// dataDir, for `bootd version`; empty when there is none to read.
func adminFingerprint(dataDir string) string {
	der, err := readCertDER(filepath.Join(dataDir, adminCertFile))
	if err != nil {
		return ""
	}
	return fingerprint(der)
}
