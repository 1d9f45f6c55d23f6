package web

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/boottest"
	"github.com/bootd/bootd/bootfs"
	"github.com/bootd/bootd/images"
)

// layoutServers serves, on the two listeners, nodes of every kind the
// layout has URLs for: RBD boots of initramfs-tools (x86 and a Pi 4) and
// Alpine, and a plain boot. bootfs is told the servers' own URLs, so every
// URL it writes into a script or command line points at them.
func layoutServers(t *testing.T) (*bootfs.Files, *boot.Service, *httptest.Server, *httptest.Server) {
	t.Helper()
	dir := t.TempDir()
	mods := "kernel/rbd.ko: kernel/libceph.ko\nkernel/libceph.ko:\nkernel/crc32c_generic.ko:\n"
	files := map[string]string{
		"deb.yaml": "name: deb\nflavour: initramfs-tools\narch: amd64\nkernel: k/vmlinuz\ninitrds: [k/initrd.img]\n" +
			"modules: k/modules\ncmdline: \"console=ttyS0 boot=bootd root=/dev/rbd0\"\ngolden: {image: deb, snapshot: v1}\nsize: 1G\n",
		"pi.yaml": "name: pi\nflavour: initramfs-tools\narch: arm64\nkernel: k/vmlinuz\ninitrds: [k/initrd.img]\n" +
			"modules: k/modules\nfirmware: fw\ncmdline: \"console=serial0 boot=bootd\"\ngolden: {image: pi, snapshot: v1}\nsize: 1G\n",
		"alp.yaml": "name: alp\nflavour: alpine\narch: amd64\nkernel: k/vmlinuz\ninitrds: [k/initrd.img]\nmodloop: k/modloop\n" +
			"repository: https://dl-cdn.alpinelinux.org/alpine/v3.20/main\ncmdline: \"console=ttyS0\"\n" +
			"golden: {image: alp, snapshot: v1}\nsize: 1G\n",
		"plain.yaml": "name: plain\nflavour: initramfs-tools\narch: amd64\nkernel: k/vmlinuz\ninitrds: [k/initrd.img, k/initrd.img]\n" +
			"cmdline: \"console=ttyS0\"\ngolden: {image: plain, snapshot: v1}\nsize: 1G\n",
		"k/vmlinuz": "K", "k/initrd.img": "I", "k/modloop": "M", "fw/start4.elf": "F", "fw/fixup4.dat": "F",
		"k/modules/modules.dep": mods, "k/modules/kernel/rbd.ko": "R", "k/modules/kernel/libceph.ko": "L",
		"k/modules/kernel/crc32c_generic.ko": "C",
		"init/bootd-init-amd64":              "HELPER", "init/bootd-init-arm64": "HELPER", "ipxe/snponly.efi": "EFI",
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
	svc, err := boot.NewService(boot.Config{Store: newMemStore(), Catalog: cat, Volumes: boottest.NewVolumes(), Leases: true})
	if err != nil {
		t.Fatal(err)
	}
	// The handlers need Files, which needs the servers' URLs: each server
	// calls its handler through a variable set once both are up.
	var plain, nodeh http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { plain.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	node := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { nodeh.ServeHTTP(w, r) }))
	t.Cleanup(node.Close)
	bf, err := bootfs.New(bootfs.Config{Nodes: svc, RBD: svc, BootURL: srv.URL, NodeURL: node.URL,
		NodeFingerprint: testFingerprint, InitDir: filepath.Join(dir, "init"), IPXEDir: filepath.Join(dir, "ipxe")})
	if err != nil {
		t.Fatal(err)
	}
	hs, err := New(withDomain(Config{Files: bf}, svc))
	if err != nil {
		t.Fatal(err)
	}
	plain = hs.Boot
	if nodeh, err = NewNode(NodeConfig{Service: svc}); err != nil {
		t.Fatal(err)
	}
	return bf, svc, srv, node
}

// TestLayoutServed: every URL bootfs.Layout produces, whether handed out by
// DHCP (the script, the iPXE folder), written into a script, config.txt or
// kernel command line (kernel, initrds, overlays, modloop, apkovl, bootd=),
// listed by explain, or used by bootd-init (time, key, report), is served
// by web's handlers, and every file explain lists is served over TFTP.
func TestLayoutServed(t *testing.T) {
	t.Parallel()
	bf, svc, srv, node := layoutServers(t)
	ctx := context.Background()
	here := netip.MustParseAddr("127.0.0.1")
	plain, nodes := bootfs.NewLayout(srv.URL), bootfs.NewLayout(node.URL)
	seen := map[string]bool{} // the last element of each URL served

	// fetch asks for u on whichever server it points at and wants want.
	fetch := func(method, u string, want int) string {
		t.Helper()
		c := srv.Client()
		if strings.HasPrefix(u, node.URL+"/") {
			c = node.Client()
		} else if !strings.HasPrefix(u, srv.URL+"/") {
			t.Errorf("URL %s is on neither of bootd's listeners (%s, %s)", u, srv.URL, node.URL)
			return ""
		}
		var resp *http.Response
		var err error
		if method == http.MethodPost {
			resp, err = c.PostForm(u, url.Values{"token": {"wrong"}, "stage": {"network"}})
		} else {
			resp, err = c.Get(u)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != want {
			t.Errorf("%s %s = %d %q, want %d", method, u, resp.StatusCode, b, want)
		}
		seen[path.Base(u)] = true
		return string(b)
	}
	// cmdline fetches the URLs on a kernel command line.
	cmdline := func(mac boot.MAC, line string) {
		t.Helper()
		for _, arg := range strings.Fields(line) {
			k, v, _ := strings.Cut(arg, "=")
			switch {
			case k == "bootd":
				if v != nodes.Node(mac) {
					t.Errorf("bootd=%s, want %s", v, nodes.Node(mac))
				}
				fetch(http.MethodGet, nodes.File(mac, bootfs.TimeEndpoint), http.StatusOK)
				// Refused, not missing: the routes exist (403, not 404 or 405).
				fetch(http.MethodPost, nodes.File(mac, bootfs.KeyEndpoint), http.StatusForbidden)
				fetch(http.MethodPost, nodes.File(mac, bootfs.ReportEndpoint), http.StatusForbidden)
			case strings.HasPrefix(v, srv.URL+"/"):
				fetch(http.MethodGet, v, http.StatusOK)
			}
		}
	}

	fetch(http.MethodGet, plain.IPXE("snponly.efi"), http.StatusOK)
	if got, want := plain.IPXEFolder()+"snponly.efi", plain.IPXE("snponly.efi"); got != want {
		t.Errorf("IPXEFolder()+name = %s, want IPXE(name) = %s", got, want)
	}
	unknown := mustMAC(t, "52:54:00:99:99:99")
	script := fetch(http.MethodGet, plain.Script(unknown), http.StatusOK)
	if !strings.Contains(script, "chain --replace --autofree "+bootfs.ScriptFile+" ") {
		t.Errorf("unknown machine's script does not chain to itself:\n%s", script)
	}

	for i, image := range []string{"deb", "pi", "alp", "plain"} {
		mac := mustMAC(t, "52:54:00:00:00:0"+string(rune('1'+i)))
		if _, err := svc.Enroll(ctx, boot.EnrollRequest{MAC: mac, Image: image}); err != nil {
			t.Fatal(err)
		}
		svc.SawLease(mac, here, true, false)
		scriptURL, _ := url.Parse(plain.Script(mac))
		script := fetch(http.MethodGet, scriptURL.String(), http.StatusOK)
		for _, line := range strings.Split(script, "\n") {
			f := strings.Fields(line)
			var rel string
			switch {
			case len(f) > 1 && f[0] == "kernel":
				rel = f[1]
				cmdline(mac, line)
			case len(f) > 3 && f[0] == "initrd" && f[1] == "--name":
				rel = f[3]
			default:
				continue
			}
			ref, err := url.Parse(rel)
			if err != nil {
				t.Fatalf("%s in %s's script: %v", rel, image, err)
			}
			fetch(http.MethodGet, scriptURL.ResolveReference(ref).String(), http.StatusOK)
		}
		if image == "pi" {
			cmdline(mac, fetch(http.MethodGet, plain.File(mac, bootfs.PiCmdlineFile), http.StatusOK))
			for _, line := range strings.Split(fetch(http.MethodGet, plain.File(mac, bootfs.PiConfigFile), http.StatusOK), "\n") {
				for _, p := range []string{"kernel=", "initramfs ", "cmdline="} {
					if name, ok := strings.CutPrefix(line, p); ok {
						fetch(http.MethodGet, plain.File(mac, strings.Fields(name)[0]), http.StatusOK)
					}
				}
			}
		}

		e, err := bf.Explain(ctx, mac, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range e.Files {
			if file.URL == "" {
				continue
			}
			if file.URL != plain.File(mac, file.Name) {
				t.Errorf("explain lists %s at %s, want %s", file.Name, file.URL, plain.File(mac, file.Name))
			}
			fetch(http.MethodGet, file.URL, http.StatusOK)
			if file.Name == bootfs.ScriptFile {
				continue // TFTP clients get no iPXE scripts
			}
			name := bootfs.TFTPName(bootfs.MACName(mac), file.Name)
			c, _, err := bf.TFTP(ctx, here.AsSlice(), name)
			if err != nil {
				t.Errorf("TFTP(%s) = %v, want the file explain lists", name, err)
				continue
			}
			c.Close()
		}
	}

	// Every name of the layout was among the URLs served.
	for _, name := range []string{bootfs.ScriptFile, bootfs.KernelFile, path.Base(bootfs.InitrdFile(1)),
		bootfs.PiConfigFile, bootfs.PiCmdlineFile, bootfs.PiKernel, bootfs.PiInitramfs, bootfs.OverlayFile,
		bootfs.NodeCPIOFile, bootfs.ApkovlFile, bootfs.ModloopFile, bootfs.TimeEndpoint, bootfs.KeyEndpoint,
		bootfs.ReportEndpoint, "snponly.efi"} {
		if !seen[name] {
			t.Errorf("no URL ending in %s was fetched: the test misses part of the layout", name)
		}
	}
}
