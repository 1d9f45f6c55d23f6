//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// piImage is the Raspberry Pi 4 image scripts/image-pi4.sh builds (make image-pi4).
const piImage = "debian-12-pi4"

// explanation is the part of bootd explain -o json the harness checks.
type explanation struct {
	Explain struct {
		Image   string `json:"image"`
		RBDBoot bool   `json:"rbd_boot"`
		Files   []struct{ Name, Source string }
		Checks  []struct {
			Name    string `json:"name"`
			OK      bool   `json:"ok"`
			Problem string `json:"problem"`
		} `json:"checks"`
	} `json:"explain"`
}

// testExplain: the images make image-debian and make image-pi4 built load
// in bootd's catalog, and bootd explain passes every check for an enrolled
// node of each; the Pi node's tree has what its bootloader reads, and its
// config.txt, cmdline.txt and start4.elf come over TFTP.
//
// The Pi image's golden volume is an arm64 busybox ext4 file system
// (scripts/golden-rootfs.sh with ARCH arm64), which the pi4-arm64 subtest
// (arm64_test.go) boots.
func (r *rig) testExplain(t *testing.T) {
	r.piGolden(t)
	images := r.cli(t, "images")
	for _, img := range []string{"debian-12", piImage} {
		if !strings.Contains(images, img) {
			t.Errorf("bootd images does not list %s:\n%s", img, images)
		}
	}
	nodes := []struct {
		mac, image, host string
		files            []string // must be in the node's tree
	}{
		{"52:54:00:b0:07:09", "debian-12", "e2e-explain", []string{"boot.ipxe", "kernel", "initrd/0", "overlay.cpio", "node.cpio"}},
		{"dc:a6:32:b0:07:10", piImage, "e2e-pi4", []string{"config.txt", "cmdline.txt", "kernel8.img", "initrd.img",
			"start4.elf", "fixup4.dat", "bcm2711-rpi-4-b.dtb"}},
	}
	for _, n := range nodes {
		r.cli(t, "enroll", n.mac, "--image", n.image, "--hostname", n.host, "--size", "1G")
		// The table form exits non-zero when a check fails (r.cli fails the test then).
		fmt.Printf("e2e: bootd explain %s (%s):\n%s\n", n.mac, n.image, redactToken(r.cli(t, "explain", n.mac)))
		var e explanation
		if err := json.Unmarshal([]byte(r.cli(t, "explain", n.mac, "-o", "json")), &e); err != nil {
			t.Fatalf("explain %s -o json: %v", n.mac, err)
		}
		if e.Explain.Image != n.image || !e.Explain.RBDBoot || len(e.Explain.Checks) < 8 {
			t.Errorf("explain %s: image %q, rbd boot %v, %d checks; want %s, true, at least 8",
				n.mac, e.Explain.Image, e.Explain.RBDBoot, len(e.Explain.Checks), n.image)
		}
		for _, c := range e.Explain.Checks {
			if !c.OK {
				t.Errorf("explain %s: check %q failed: %s", n.mac, c.Name, c.Problem)
			}
		}
		var names []string
		for _, f := range e.Explain.Files {
			names = append(names, f.Name)
		}
		for _, want := range n.files {
			if !slices.Contains(names, want) {
				t.Errorf("explain %s: the tree %v lacks %s", n.mac, names, want)
			}
		}
	}
	r.piTFTP(t, nodes[1].mac)
}

// piTFTP fetches a Pi node's config.txt, cmdline.txt and start4.elf over
// TFTP under its MAC prefix, as the bootloader does with TFTP_PREFIX=2,
// from a host of the boot network that took a lease from bootd first (bootd
// serves TFTP only to addresses its DHCP dealt with: tftp_unknown).
func (r *rig) piTFTP(t *testing.T, mac string) {
	prefix := strings.ReplaceAll(mac, ":", "-")
	host := r.ns.name + "-pi"
	_, remove := r.lanHost(t, host, "pi0", "52:54:00:e2:e0:70")
	t.Cleanup(remove)
	dir := t.TempDir()
	fetch := func(name string) []byte {
		t.Helper()
		out := filepath.Join(dir, name)
		if o, err := exec.Command("ip", "netns", "exec", host, "curl", "-sS", "--tftp-blksize", "1024", "-o", out,
			"tftp://"+bridgeAddr+"/"+prefix+"/"+name).CombinedOutput(); err != nil {
			t.Fatalf("TFTP %s/%s: %v\n%s", prefix, name, err, o)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	config := string(fetch("config.txt"))
	for _, want := range []string{"arm_64bit=1", "kernel=kernel8.img", "initramfs initrd.img followkernel"} {
		if !strings.Contains(config, want) {
			t.Errorf("config.txt over TFTP lacks %q:\n%s", want, config)
		}
	}
	cmdline := string(fetch("cmdline.txt"))
	for _, want := range []string{"console=ttyS1,115200", "boot=bootd", "root=/dev/rbd0", "bootd=https://"} {
		if !strings.Contains(cmdline, want) {
			t.Errorf("cmdline.txt over TFTP lacks %q: %s", want, redactToken(cmdline))
		}
	}
	// Fetched from bootd's own address, not one bootd's DHCP leased this
	// Pi in a boot: served, but without a token.
	if strings.Contains(cmdline, "bootd.token=") {
		t.Errorf("cmdline.txt fetched by a stranger has a token: %s", redactToken(cmdline))
	}
	start4 := fetch("start4.elf")
	want, err := os.ReadFile(filepath.Join(r.images, piImage, "firmware", "start4.elf"))
	if err != nil {
		t.Fatal(err)
	}
	if string(start4) != string(want) {
		t.Errorf("start4.elf over TFTP: %d bytes differing from the image's %d", len(start4), len(want))
	}
	t.Logf("TFTP %s/: config.txt %d bytes, cmdline.txt %d bytes, start4.elf %d bytes",
		prefix, len(config), len(cmdline), len(start4))
}

var tokenRE = regexp.MustCompile(`bootd\.token=\S+`)

// redactToken hides a real one-time token (explain shows only a placeholder anyway).
func redactToken(s string) string {
	return tokenRE.ReplaceAllStringFunc(s, func(m string) string {
		if strings.Contains(m, "<one-time>") {
			return m
		}
		return "bootd.token=REDACTED"
	})
}
