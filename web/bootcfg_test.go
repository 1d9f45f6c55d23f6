package web

import (
	"context"
	"net/http"
	"net/http/httptest"
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
// and bootd-init, for a service with an in-memory volume backend.
func rbdBootServer(t *testing.T) (*httptest.Server, *boot.Service, *boottest.Volumes) {
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
	svc, err := boot.NewService(boot.Config{Store: newMemStore(), Catalog: cat, Volumes: vols})
	if err != nil {
		t.Fatal(err)
	}
	bf, err := bootfs.New(bootfs.Config{Nodes: svc, RBD: svc, BootURL: "http://198.18.0.1:8080",
		InitDir: filepath.Join(dir, "init")})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{Service: svc, Token: testToken, Files: bf})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, svc, vols
}

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
	srv, svc, vols := rbdBootServer(t)
	ctx := context.Background()
	mac, _ := boot.ParseMAC("52:54:00:12:34:56")
	if _, err := svc.Enroll(ctx, boot.EnrollRequest{MAC: mac, Image: "deb", Hostname: "web1"}); err != nil {
		t.Fatal(err)
	}
	base := "/boot/52-54-00-12-34-56"

	_, script := get(t, srv, http.MethodGet, base+"/boot.ipxe")
	for _, want := range []string{"initrd --name overlay.cpio overlay.cpio", "initrd --name node.cpio node.cpio",
		"bootd=http://198.18.0.1:8080/boot/52-54-00-12-34-56", "BOOTIF=01-52-54-00-12-34-56",
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
		!strings.Contains(string(entries[2].Data), "hostname=web1\n") {
		t.Errorf("node.cpio = %+v", entries)
	}

	// The key: refused with a wrong token, given once with the right one.
	if code, _ := post(t, srv, base+"/key", url.Values{"token": {"nope"}}); code != http.StatusForbidden {
		t.Errorf("key with a wrong token: %d, want 403", code)
	}
	if code, body := post(t, srv, base+"/key", url.Values{"token": {m[1]}}); code != http.StatusOK ||
		strings.TrimSpace(body) != boottest.TestKey {
		t.Errorf("key with the token: %d %q, want 200 and the key", code, body)
	}
	if code, _ := post(t, srv, base+"/key", url.Values{"token": {m[1]}}); code != http.StatusForbidden {
		t.Errorf("key with a used token: %d, want 403", code)
	}
	for _, leak := range [][]byte{script, nc} {
		if strings.Contains(string(leak), boottest.TestKey) {
			t.Errorf("the key leaked into a served file")
		}
	}

	// Reports from the node: its stages only.
	if code, _ := post(t, srv, base+"/report", url.Values{"stage": {"root"}, "detail": {"/dev/rbd0 on /root"}}); code != 200 {
		t.Errorf("report root: %d", code)
	}
	if code, _ := post(t, srv, base+"/report", url.Values{"stage": {"kernel"}}); code != http.StatusBadRequest {
		t.Errorf("report of a stage nodes do not report: %d, want 400", code)
	}
	if n, _ := svc.Node(ctx, mac); n.State != boot.StateUp || n.LastStage != boot.StageRoot {
		t.Errorf("after report root: state %s, last stage %s", n.State, n.LastStage)
	}

	// Fenced: another client holds the volume; the script says so and loads nothing.
	vols.Hold("node-525400123456", boot.Holder{Addr: "198.18.0.77:0/1", Client: "client.99"})
	_, script = get(t, srv, http.MethodGet, base+"/boot.ipxe")
	if !strings.Contains(string(script), "cannot boot: volume fenced") || strings.Contains(string(script), "kernel kernel") {
		t.Errorf("script of a fenced node:\n%s", script)
	}
}
