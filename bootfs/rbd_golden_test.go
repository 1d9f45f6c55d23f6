package bootfs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/boottest"
	"github.com/bootd/bootd/boot/store"
	"github.com/bootd/bootd/bootfs"
	"github.com/bootd/bootd/images"
)

// rbdFixture is bootd with an in-memory volume backend and three images
// that boot from RBD: initramfs-tools on x86 and on a Pi 4, and Alpine.
func rbdFixture(t *testing.T) (*bootfs.Files, *boot.Service) {
	t.Helper()
	f, svc, _ := rbdFixtureDB(t)
	return f, svc
}

// rbdFixtureDB is rbdFixture with its store.
func rbdFixtureDB(t *testing.T) (*bootfs.Files, *boot.Service, *store.DB) {
	t.Helper()
	dir := t.TempDir()
	mods := "kernel/rbd.ko: kernel/libceph.ko\nkernel/libceph.ko:\nkernel/crc32c_generic.ko:\n"
	files := map[string]string{
		"deb.yaml": "name: deb\nflavour: initramfs-tools\narch: amd64\nkernel: k/vmlinuz\ninitrds: [k/initrd.img]\n" +
			"modules: k/modules\ncmdline: \"console=ttyS0 boot=bootd root=/dev/rbd0 hostname={{.Hostname}}\"\n" +
			"golden: {image: deb, snapshot: v1}\nsize: 1G\n",
		"pi.yaml": "name: pi\nflavour: initramfs-tools\narch: arm64\nkernel: p/vmlinuz\ninitrds: [p/initrd.img]\n" +
			"modules: p/modules\nfirmware: p/fw\ncmdline: \"console=serial0,115200 boot=bootd root=/dev/rbd0\"\n" +
			"golden: {image: pi, snapshot: v1}\nsize: 1G\n",
		"alp.yaml": "name: alp\nflavour: alpine\narch: amd64\nkernel: a/vmlinuz-lts\ninitrds: [a/initramfs-lts]\n" +
			"modloop: a/modloop-lts\nrepository: https://dl-cdn.alpinelinux.org/alpine/v3.20/main\n" +
			"cmdline: \"console=ttyS0\"\ngolden: {image: alp, snapshot: v1}\nsize: 1G\n",
		"k/vmlinuz": "K", "k/initrd.img": "I", "p/vmlinuz": "K", "p/initrd.img": "I", "p/fw/start4.elf": "F", "p/fw/fixup4.dat": "F", "p/fw/bcm2711-rpi-4-b.dtb": "D",
		"sb.yaml": "name: sb\nflavour: initramfs-tools\narch: amd64\nkernel: k/vmlinuz\ninitrds: [k/initrd.img]\n" +
			"modules: k/modules\ncmdline: \"console=ttyS0 boot=bootd root=/dev/rbd0 hostname={{.Hostname}}\"\n" +
			"golden: {image: deb, snapshot: v1}\nsize: 1G\nsecure_boot: {shim: k/shimx64.efi, grub: k/grubx64.efi}\n",
		// A command line GRUB's script reader would take apart unquoted.
		"sbx.yaml": "name: sbx\nflavour: initramfs-tools\narch: amd64\nkernel: k/vmlinuz\ninitrds: [k/initrd.img]\n" +
			"modules: k/modules\ncmdline: \"console=ttyS0 boot=bootd x=$(reboot);y {a} #c h=${x}\"\n" +
			"golden: {image: deb, snapshot: v1}\nsize: 1G\nsecure_boot: {shim: k/shimx64.efi, grub: k/grubx64.efi}\n",
		// One GRUB would pass on escaped: refused with a message.
		"sbq.yaml": "name: sbq\nflavour: initramfs-tools\narch: amd64\nkernel: k/vmlinuz\n" +
			"cmdline: 'console=ttyS0 x=\"a b\"'\n" +
			"golden: {image: deb, snapshot: v1}\nsize: 1G\nsecure_boot: {shim: k/shimx64.efi, grub: k/grubx64.efi}\n",
		"k/shimx64.efi": "SHIM", "k/grubx64.efi": "GRUB",
		"a/vmlinuz-lts": "K", "a/initramfs-lts": "I", "a/modloop-lts": "M",
		"k/modules/modules.dep": mods, "k/modules/kernel/rbd.ko": "R", "k/modules/kernel/libceph.ko": "L",
		"k/modules/kernel/crc32c_generic.ko": "C",
		"p/modules/modules.dep":              mods, "p/modules/kernel/rbd.ko": "R", "p/modules/kernel/libceph.ko": "L",
		"p/modules/kernel/crc32c_generic.ko": "C",
		"init/bootd-init-amd64":              "HELPER", "init/bootd-init-arm64": "HELPER",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cat, err := images.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(dir, store.FileName), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	vols := boottest.NewVolumes()
	svc, err := boot.NewService(boot.Config{Store: db, Catalog: cat, Volumes: vols, Leases: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []struct{ mac, image, host string }{
		{rbdDeb, "deb", "web1"}, {rbdPi, "pi", "pi1"}, {rbdAlp, "alp", "alp1"},
		{rbdSB, "sb", "sb1"}, {rbdSBX, "sbx", "sbx1"}, {rbdSBQ, "sbq", "sbq1"},
	} {
		if _, err := svc.Enroll(context.Background(), boot.EnrollRequest{MAC: mustMAC(t, n.mac), Image: n.image, Hostname: n.host}); err != nil {
			t.Fatal(err)
		}
		// bootd's DHCP leased each node rbdAddr in the boot under way.
		svc.SawLease(mustMAC(t, n.mac), rbdAddr, true, false)
	}
	f, err := bootfs.New(bootfs.Config{Nodes: svc, RBD: svc, BootURL: "http://198.18.0.1:8080",
		NodeURL: "https://198.18.0.1:8443", NodeFingerprint: "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
		InitDir: filepath.Join(dir, "init")})
	if err != nil {
		t.Fatal(err)
	}
	return f, svc, db
}

const (
	rbdDeb = "52:54:00:00:01:01"
	rbdPi  = "dc:a6:32:00:01:02"
	rbdAlp = "52:54:00:00:01:03"
	rbdSB  = "52:54:00:00:01:04" // Secure Boot: shim and GRUB
	rbdSBX = "52:54:00:00:01:05" // Secure Boot, a command line to quote for GRUB
	rbdSBQ = "52:54:00:00:01:06" // Secure Boot, a command line GRUB would mangle
)

// rbdAddr is the address bootd's DHCP leased each node.
var rbdAddr = netip.MustParseAddr("198.18.0.50")

func mustMAC(t *testing.T, s string) boot.MAC {
	t.Helper()
	m, err := boot.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var bootTokenRE = regexp.MustCompile(`bootd\.token=[0-9a-f]+`)

// TestRBDGenerated compares the RBD boot's scripts and Pi cmdline.txt with
// their golden copies, the one-time token replaced by TOKEN.
func TestRBDGenerated(t *testing.T) {
	t.Parallel()
	f, _ := rbdFixture(t)
	stranger := net.IPv4(198, 18, 0, 51)
	tests := []struct {
		golden, mac, name string
		remote            net.IP
		tokens            int
	}{
		{"rbd-initramfs-tools.ipxe", rbdDeb, "boot.ipxe", rbdAddr.AsSlice(), 1},
		{"rbd-alpine.ipxe", rbdAlp, "boot.ipxe", rbdAddr.AsSlice(), 1},
		{"rbd-pi-cmdline.txt", rbdPi, "cmdline.txt", rbdAddr.AsSlice(), 1},
		{"rbd-pi-config.txt", rbdPi, "config.txt", rbdAddr.AsSlice(), 0},
		// Asked from an address bootd did not lease that MAC: the same
		// script, without a token (scripts are not secret; tokens are bound).
		{"rbd-unbound.ipxe", rbdDeb, "boot.ipxe", stranger, 0},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			t.Parallel()
			c, err := f.Node(context.Background(), mustMAC(t, tt.mac), tt.name, tt.remote)
			if err != nil {
				t.Fatalf("Node(%s, %s) = %v", tt.mac, tt.name, err)
			}
			raw := read(t, c)
			if n := len(bootTokenRE.FindAll(raw, -1)); n != tt.tokens {
				t.Errorf("%s has %d tokens, want %d:\n%s", tt.name, n, tt.tokens, raw)
			}
			if bytes.Contains(raw, []byte(boottest.TestKey)) {
				t.Fatalf("%s holds the key", tt.name)
			}
			got := bootTokenRE.ReplaceAll(raw, []byte("bootd.token=TOKEN"))
			checkGolden(t, tt.golden, got, "Node("+tt.mac+", "+tt.name+")")
		})
	}
}

// TestExplainRBD: every check passes for a node of each RBD-booting image,
// the token is the placeholder, and nothing secret is in the explanation.
func TestExplainRBD(t *testing.T) {
	t.Parallel()
	f, svc := rbdFixture(t)
	for _, mac := range []string{rbdDeb, rbdPi, rbdAlp} {
		e, err := f.Explain(context.Background(), mustMAC(t, mac), svc, nil)
		if err != nil {
			t.Fatalf("Explain(%s) = %v", mac, err)
		}
		if e.Failed() || !e.RBDBoot || len(e.Checks) < 5 {
			t.Errorf("Explain(%s): rbd %v, checks %+v", mac, e.RBDBoot, e.Checks)
		}
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(boottest.TestKey)) || bootTokenRE.Match(b) ||
			!bytes.Contains([]byte(e.Cmdline), []byte("bootd.token="+bootfs.TokenPlaceholder)) {
			t.Errorf("Explain(%s) leaks a secret or lacks the placeholder:\n%s", mac, b)
		}
	}
	if _, err := f.Explain(context.Background(), mustMAC(t, "52:54:00:99:99:99"), svc, nil); !errors.Is(err, boot.ErrUnknown) {
		t.Errorf("Explain(unknown) = %v, want ErrUnknown", err)
	}
}

// TestNodeConfFallbacks: with another instance alive on the store, a
// node's node.conf names its node listener and certificate, for bootd-init
// to ask when this instance does not answer; gone instances are left out.
func TestNodeConfFallbacks(t *testing.T) {
	t.Parallel()
	f, _, db := rbdFixtureDB(t)
	now := time.Now()
	pinB := strings.Repeat("b7", 32)
	for _, in := range []boot.Instance{
		{ID: "boot-b", Node: "https://198.18.0.3:8443", NodePin: pinB, Seen: now},
		{ID: "boot-c", Node: "https://198.18.0.4:8443", NodePin: strings.Repeat("c7", 32), Seen: now.Add(-time.Hour)},
	} {
		if err := db.PutInstance(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
	c, err := f.Node(context.Background(), mustMAC(t, rbdDeb), bootfs.NodeCPIOFile, rbdAddr.AsSlice())
	if err != nil {
		t.Fatal(err)
	}
	files, err := images.ReadCPIO(read(t, c))
	if err != nil {
		t.Fatal(err)
	}
	conf := ""
	for _, file := range files {
		if file.Name == "etc/bootd/node.conf" {
			conf = string(file.Data)
		}
	}
	want := "fallback=https://198.18.0.3:8443/boot/52-54-00-00-01-01 " + pinB + "\n"
	if !strings.Contains(conf, want) || strings.Count(conf, "fallback=") != 1 {
		t.Errorf("node.conf:\n%s\nwant one fallback line %q", conf, want)
	}
}
