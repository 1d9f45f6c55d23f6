package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAdminListenerApart runs the real bootd and asks its boot listener,
// as a machine of the boot network would, for the admin routes: every one
// is a 404 there, even with the API token, while the admin listener
// answers them over TLS.
func TestAdminListenerApart(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	if !strings.HasPrefix(d.url, "https://") {
		t.Fatalf("admin listener %s: want https", d.url)
	}
	token, err := os.ReadFile(d.tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	get := func(c *http.Client, url string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	pinned := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: pinnedTLS(adminFingerprint(d.dataDir), "test")}}
	for _, p := range []string{"/healthz", "/metrics", "/api/v1/nodes", "/api/v1/images", "/machines", "/images", "/login"} {
		if code := get(http.DefaultClient, d.bootURL+p); code != http.StatusNotFound {
			t.Errorf("boot listener GET %s: %d, want 404", p, code)
		}
		if code := get(pinned, d.url+p); code == http.StatusNotFound {
			t.Errorf("admin listener GET %s: 404, want it served", p)
		}
	}
	if code := get(http.DefaultClient, d.bootURL+"/boot/ipxe/none.efi"); code != http.StatusNotFound {
		t.Errorf("boot listener /boot route: %d", code)
	}
	// Plain HTTP to the admin listener gets no API answer.
	if resp, err := http.Get(strings.Replace(d.url, "https://", "http://", 1) + "/healthz"); err == nil {
		if resp.StatusCode == http.StatusOK {
			t.Errorf("admin listener answered plain HTTP with 200")
		}
		resp.Body.Close()
	}
}

// TestCLIVerifiesAdminCertificate checks that the CLI talks to the admin
// listener over TLS only with the certificate it expects: pinned from the
// data folder, pinned by --fingerprint, or signed by --ca-file's CA; and
// that it refuses another certificate before sending the token.
func TestCLIVerifiesAdminCertificate(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	other := startDaemon(t) // another bootd: a certificate of the same kind, not this one
	fp := adminFingerprint(d.dataDir)
	if len(fp) != 64 {
		t.Fatalf("no admin certificate fingerprint in %s", d.dataDir)
	}
	if r := d.cli(t, "version"); !strings.Contains(r.stdout, fp) {
		t.Errorf("bootd version does not show the admin certificate's SHA-256 %s:\n%s", fp, r.stdout)
	}
	run := func(env ...string) result {
		t.Helper()
		return runBootdEnv(t, append([]string{"BOOTD_SERVER=" + d.url, "BOOTD_TOKEN_FILE=" + d.tokenFile}, env...), "list")
	}
	if r := run("BOOTD_DATA_DIR=" + d.dataDir); r.code != 0 {
		t.Errorf("pinned from the data folder: exit %d: %s", r.code, r.stderr)
	}
	if r := run("BOOTD_DATA_DIR="+t.TempDir(), "BOOTD_FINGERPRINT="+strings.ToUpper(fp)); r.code != 0 {
		t.Errorf("pinned with BOOTD_FINGERPRINT: exit %d: %s", r.code, r.stderr)
	}
	// bootd's own certificate names 127.0.0.1, so it is its own CA here.
	if r := run("BOOTD_DATA_DIR="+t.TempDir(), "BOOTD_CA_FILE="+filepath.Join(d.dataDir, adminCertFile)); r.code != 0 {
		t.Errorf("verified with BOOTD_CA_FILE: exit %d: %s", r.code, r.stderr)
	}
	// Refusals: another bootd's certificate, as pin or as CA; no pin at all.
	for name, env := range map[string][]string{
		"wrong data folder": {"BOOTD_DATA_DIR=" + other.dataDir},
		"wrong fingerprint": {"BOOTD_DATA_DIR=" + t.TempDir(), "BOOTD_FINGERPRINT=" + adminFingerprint(other.dataDir)},
		"wrong CA":          {"BOOTD_DATA_DIR=" + t.TempDir(), "BOOTD_CA_FILE=" + filepath.Join(other.dataDir, adminCertFile)},
		"nothing to verify": {"BOOTD_DATA_DIR=" + t.TempDir()},
	} {
		r := run(env...)
		if r.code == 0 {
			t.Errorf("%s: the CLI accepted the certificate", name)
			continue
		}
		if !strings.Contains(r.stderr, "certificate") {
			t.Errorf("%s: exit %d without saying why: %s", name, r.code, r.stderr)
		}
	}
	// A wrong pin fails in the TLS handshake, before the request (and the
	// token) is sent, and says so.
	if r := run("BOOTD_DATA_DIR="+t.TempDir(), "BOOTD_FINGERPRINT="+adminFingerprint(other.dataDir)); !strings.Contains(r.stderr, "refusing to send the token") {
		t.Errorf("wrong pin: %q, want the refusal explained", r.stderr)
	}
}
