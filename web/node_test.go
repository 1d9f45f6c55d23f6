package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/boottest"
	"github.com/bootd/bootd/bootfs"
	"github.com/bootd/bootd/images"
)

// rbdBootServer serves an initramfs-tools image with a (fake) modules tree
// and bootd-init, for a service with an in-memory volume backend whose
// DHCP reports leases: the plain listener (boot files) and the node
// listener (TLS: clock, key, reports).
func rbdBootServer(t *testing.T) (*httptest.Server, *httptest.Server, *boot.Service, *boottest.Volumes) {
	t.Helper()
	return rbdBootServerWith(t, boot.Config{})
}

// rbdBootServerWith is rbdBootServer with a service configured as base says
// beyond its store, catalog, volumes and leases.
func rbdBootServerWith(t *testing.T, base boot.Config) (*httptest.Server, *httptest.Server, *boot.Service, *boottest.Volumes) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"deb.yaml": "name: deb\nflavour: initramfs-tools\narch: amd64\nkernel: k/vmlinuz\ninitrds: [k/initrd.img]\n" +
			"modules: k/modules\ncmdline: \"console=ttyS0 boot=bootd root=/dev/rbd0\"\n" +
			"golden: {image: deb, snapshot: v1}\nsize: 1G\n",
		"k/vmlinuz": "KERNEL", "k/initrd.img": "STOCK",
		"k/modules/modules.dep":              "kernel/rbd.ko: kernel/libceph.ko\nkernel/libceph.ko:\nkernel/crc32c_generic.ko:\n",
		"k/modules/kernel/rbd.ko":            "RBD",
		"k/modules/kernel/libceph.ko":        "LIBCEPH",
		"k/modules/kernel/crc32c_generic.ko": "CRC",
		"init/bootd-init-amd64":              "HELPER",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cat, err := images.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	vols := boottest.NewVolumes()
	base.Store, base.Catalog, base.Volumes, base.Leases = newMemStore(), cat, vols, true
	svc, err := boot.NewService(base)
	if err != nil {
		t.Fatal(err)
	}
	bf, err := bootfs.New(bootfs.Config{Nodes: svc, RBD: svc, BootURL: "http://198.18.0.1:8080",
		NodeURL: "https://198.18.0.1:8443", NodeFingerprint: testFingerprint, InitDir: filepath.Join(dir, "init")})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(withDomain(Config{Files: bf}, svc))
	if err != nil {
		t.Fatal(err)
	}
	// One test server for both listeners' routes, as the tests here ask
	// for scripts and the API alike; TestAdminRoutesNotOnBoot keeps them apart.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/boot/") {
			h.Boot.ServeHTTP(w, r)
			return
		}
		h.Admin.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	nh, err := NewNode(NodeConfig{Service: svc})
	if err != nil {
		t.Fatal(err)
	}
	node := httptest.NewTLSServer(nh)
	t.Cleanup(node.Close)
	return srv, node, svc, vols
}

// testFingerprint stands for the node listener's certificate fingerprint.
var testFingerprint = strings.Repeat("5a", 32)

func post(t *testing.T, srv *httptest.Server, path string, form url.Values) (int, string) {
	t.Helper()
	resp, err := srv.Client().PostForm(srv.URL+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}

var tokenRE = regexp.MustCompile(`bootd\.token=([0-9a-f]+)`)

func TestRBDBoot(t *testing.T) {
	t.Parallel()
	srv, node, svc, vols := rbdBootServer(t)
	ctx := context.Background()
	mac, _ := boot.ParseMAC("52:54:00:12:34:56")
	if _, err := svc.Enroll(ctx, boot.EnrollRequest{MAC: mac, Image: "deb", Hostname: "web1"}); err != nil {
		t.Fatal(err)
	}
	base := "/boot/52-54-00-12-34-56"
	here := netip.MustParseAddr("127.0.0.1") // where the test's requests come from

	// Before bootd's DHCP saw this machine boot, its script has no token.
	_, script := get(t, srv, http.MethodGet, base+"/boot.ipxe")
	if tokenRE.Match(script) {
		t.Errorf("script for an address bootd did not lease has a token:\n%s", script)
	}
	svc.SawLease(mac, here, true, false)
	_, script = get(t, srv, http.MethodGet, base+"/boot.ipxe")
	for _, want := range []string{"initrd --name overlay.cpio overlay.cpio", "initrd --name node.cpio node.cpio",
		"bootd=https://198.18.0.1:8443/boot/52-54-00-12-34-56", "BOOTIF=01-52-54-00-12-34-56",
		"initrd=overlay.cpio initrd=node.cpio initrd=initrd0"} {
		if !strings.Contains(string(script), want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	m := tokenRE.FindStringSubmatch(string(script))
	if m == nil {
		t.Fatalf("script has no token:\n%s", script)
	}

	_, ov := get(t, srv, http.MethodGet, base+"/overlay.cpio")
	entries, err := images.ReadCPIO(ov)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !e.Dir {
			names = append(names, e.Name)
		}
	}
	if got := strings.Join(names, " "); got != "scripts/bootd usr/bin/bootd-init usr/lib/bootd/modules/01-crc32c_generic.ko "+
		"usr/lib/bootd/modules/02-libceph.ko usr/lib/bootd/modules/03-rbd.ko" {
		t.Errorf("overlay.cpio holds %s", got)
	}
	_, nc := get(t, srv, http.MethodGet, base+"/node.cpio")
	entries, _ = images.ReadCPIO(nc)
	if len(entries) != 3 || !strings.Contains(string(entries[2].Data), "namespace=node-525400123456\n") ||
		!strings.Contains(string(entries[2].Data), "hostname=web1\n") ||
		!strings.Contains(string(entries[2].Data), "fingerprint="+testFingerprint+"\n") {
		t.Errorf("node.cpio = %+v", entries)
	}

	// The plain listener has no key or report route at all.
	for _, p := range []string{"/key", "/report"} {
		if code, body := post(t, srv, base+p, url.Values{"token": {m[1]}, "stage": {"root"}}); code == http.StatusOK ||
			strings.Contains(body, boottest.TestKey) {
			t.Errorf("plain listener POST %s: %d %q, want no such route", p, code, body)
		}
	}

	// A report before the key: with the boot's token only.
	if code, _ := post(t, node, base+"/report", url.Values{"stage": {"network"}}); code != http.StatusForbidden {
		t.Errorf("report without a token: %d, want 403", code)
	}
	if code, _ := post(t, node, base+"/report", url.Values{"stage": {"network"}, "auth": {m[1]}}); code != http.StatusOK {
		t.Errorf("report with the boot's token: %d, want 200", code)
	}

	// The key: refused with a wrong token, given once with the right one.
	if code, _ := post(t, node, base+"/key", url.Values{"token": {"nope"}}); code != http.StatusForbidden {
		t.Errorf("key with a wrong token: %d, want 403", code)
	}
	code, body := post(t, node, base+"/key", url.Values{"token": {m[1]}})
	secret := regexp.MustCompile(`(?m)^report=([0-9a-f]{48})$`).FindStringSubmatch(body)
	if code != http.StatusOK || !strings.Contains(body, "key="+boottest.TestKey+"\n") || secret == nil {
		t.Fatalf("key with the token: %d %q, want 200, the key and a report secret", code, body)
	}
	if code, _ := post(t, node, base+"/key", url.Values{"token": {m[1]}}); code != http.StatusForbidden {
		t.Errorf("key with a used token: %d, want 403", code)
	}
	for _, leak := range [][]byte{script, nc} {
		if strings.Contains(string(leak), boottest.TestKey) {
			t.Errorf("the key leaked into a served file")
		}
	}

	// Reports after the key: the secret, not the token (it is on /proc/cmdline).
	if code, _ := post(t, node, base+"/report", url.Values{"stage": {"root"}, "auth": {m[1]}}); code != http.StatusForbidden {
		t.Errorf("report root with the token after the key: %d, want 403", code)
	}
	if code, _ := post(t, node, base+"/report", url.Values{"stage": {"root"}, "detail": {"/dev/rbd0 on /root"},
		"auth": {secret[1]}}); code != 200 {
		t.Errorf("report root: %d", code)
	}
	if code, _ := post(t, node, base+"/report", url.Values{"stage": {"kernel"}, "auth": {secret[1]}}); code != http.StatusBadRequest {
		t.Errorf("report of a stage nodes do not report: %d, want 400", code)
	}
	if n, _ := svc.Node(ctx, mac); n.State != boot.StateUp || n.LastStage != boot.StageRoot {
		t.Errorf("after report root: state %s, last stage %s", n.State, n.LastStage)
	}

	// Fenced: another client holds the volume. The script is served as
	// ever (a GET looks at no holder); the key release refuses, with a
	// message for the console that names no other machine.
	vols.Hold("node-525400123456", boot.Holder{Addr: "198.18.0.77:0/1", Client: "client.99"})
	svc.SawLease(mac, here, true, false) // the next boot
	_, script = get(t, srv, http.MethodGet, base+"/boot.ipxe")
	m = tokenRE.FindStringSubmatch(string(script))
	if m == nil || strings.Contains(string(script), "fenced") {
		t.Fatalf("script of a node whose volume is held:\n%s", script)
	}
	code, body = post(t, node, base+"/key", url.Values{"token": {m[1]}})
	if code != http.StatusConflict || !strings.Contains(body, "bootd unfence 52:54:00:12:34:56") ||
		strings.Contains(body, "198.18.0.77") || strings.Contains(body, boottest.TestKey) {
		t.Errorf("key of a fenced node: %d %q, want 409 with the way out, no holder, no key", code, body)
	}
}
