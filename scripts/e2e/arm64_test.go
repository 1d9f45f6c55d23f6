//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// piGolden imports an arm64 busybox root file system (scripts/golden-rootfs.sh
// with ARCH arm64; its busybox-static .deb is kept in the cache) as the Pi
// image's protected golden snapshot.
func (r *rig) piGolden(t *testing.T) {
	t.Helper()
	img := filepath.Join(r.ns.dir, "golden-arm64.img")
	cmd := exec.Command(filepath.Join(repo, "scripts/golden-rootfs.sh"), img, "64M", "arm64")
	cmd.Env = append(os.Environ(), "GOLDEN_CACHE="+filepath.Join(cacheDir(), "golden"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("golden-rootfs.sh arm64: %v\n%s", err, out)
	}
	r.ceph(t, "rbd", "import", "--no-progress", "--image-feature", "layering", img, "rbd/golden/"+piImage)
	r.ceph(t, "rbd", "snap", "create", "--no-progress", "rbd/golden/"+piImage+"@v1")
	r.ceph(t, "rbd", "snap", "protect", "rbd/golden/"+piImage+"@v1")
}

// piFirmware stands in for the Raspberry Pi 4 bootloader, which QEMU cannot
// run (Debian 12's QEMU has no raspi4b machine): from a namespace of its own,
// on a veth in br0 that carries the node's MAC, it asks bootd for an address
// as the bootloader does (PXE vendor class, client architecture 0), then
// fetches config.txt, cmdline.txt, kernel8.img and initrd.img over TFTP
// under the MAC's prefix from that address, into dir. The namespace is gone
// when it returns, so the VM can take the MAC and (from bootd's DHCP) the
// same address, the one the command line's one-time token is bound to.
func (r *rig) piFirmware(t *testing.T, mac, dir string) string {
	t.Helper()
	fw := r.ns.name + "-fw"
	addr, remove := r.lanHost(t, fw, "fw0", mac, "-V", "PXEClient:Arch:00000:UNDI:002001", "-x", "0x5d:0000")
	defer remove()
	prefix := strings.ReplaceAll(mac, ":", "-")
	for _, name := range []string{"config.txt", "cmdline.txt", "kernel8.img", "initrd.img"} {
		t0 := time.Now()
		out, err := exec.Command("ip", "netns", "exec", fw, "curl", "-sS", "--tftp-blksize", "1468",
			"-o", filepath.Join(dir, name), "tftp://"+bridgeAddr+"/"+prefix+"/"+name).CombinedOutput()
		if err != nil {
			t.Fatalf("TFTP %s/%s from %s: %v\n%s", prefix, name, addr, err, out)
		}
		fi, _ := os.Stat(filepath.Join(dir, name))
		t.Logf("TFTP %s/%s from %s: %d bytes in %.1fs", prefix, name, addr, fi.Size(), time.Since(t0).Seconds())
	}
	return addr
}

var reCPU = regexp.MustCompile(`Booting Linux on physical CPU`)

// testPi4 boots the Raspberry Pi 4 image's arm64 kernel and bootd's initrd
// for an enrolled Pi node under qemu-system-aarch64 -M virt (TCG), with the
// files and command line bootd serves the node over TFTP, and checks that
// bootd-init for arm64 maps the node's volume and the golden arm64 root
// file system runs from it, and that the node's timeline shows the boot.
// Only the Pi firmware stage is not emulated (piFirmware does its DHCP and
// TFTP); the command line gets console=ttyAMA0, the virt machine's UART.
func (r *rig) testPi4(t *testing.T) {
	mac, host := "dc:a6:32:b0:07:11", "e2e-pi4-virt"
	r.cli(t, "enroll", mac, "--image", piImage, "--hostname", host, "--size", "1G")
	dir := t.TempDir()
	t0 := time.Now()
	addr := r.piFirmware(t, mac, dir)
	fetch := time.Since(t0).Seconds()
	cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("command line: %s\nbootd's log:\n%s", redactToken(string(cmdline)), r.ns.logTail("bootd", 80))
		}
	}()
	v := runQEMU(t, r.ns, "pi4-arm64", []string{"qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a72",
		"-accel", "tcg", "-m", "1024", "-smp", "2", "-nographic", "-no-reboot", "-serial", "mon:stdio",
		"-netdev", "tap,id=n0,ifname=tap2,script=no,downscript=no",
		"-device", "virtio-net-pci,netdev=n0,mac=" + mac + ",romfile=",
		"-kernel", filepath.Join(dir, "kernel8.img"), "-initrd", filepath.Join(dir, "initrd.img"),
		"-append", strings.TrimSpace(string(cmdline)) + " console=ttyAMA0"})
	v.wait(t, reCPU, 2*time.Minute)
	kernel := time.Since(v.started).Seconds()
	v.wait(t, reMarker, 10*time.Minute)
	secs := time.Since(v.started).Seconds()
	if got := v.wait(t, reRoot, 30*time.Second)[1]; got != "/dev/rbd0" {
		t.Errorf("pi4-arm64: / is mounted from %s, want /dev/rbd0", got)
	}
	if got := v.wait(t, reHostname, 30*time.Second)[1]; got != host {
		t.Errorf("pi4-arm64: hostname %s, want %s (given by bootd)", got, host)
	}
	if got := v.wait(t, rePersist, 30*time.Second)[1]; got != "none" {
		t.Errorf("pi4-arm64: first boot found %q, want a fresh volume", got)
	}
	v.wait(t, reDone, time.Minute)
	v.finish(t, 2*time.Minute)
	fmt.Printf("e2e: pi4-arm64 (qemu-system-aarch64 -M virt, TCG): bootloader's DHCP and TFTP from %s %.1f s; "+
		"first kernel line %.1f s and the marker on the cloud disk %.1f s after QEMU's start\n", addr, fetch, kernel, secs)
	// The Pi fetches everything over TFTP, which records stage tftp per file
	// (the details name them); then the initramfs reports its own stages.
	got := r.stages(t, mac)
	t.Logf("timeline of %s: %v", mac, got)
	if want := []string{"dhcp", "tftp", "network", "key", "volume", "root"}; !inOrder(got, want) {
		t.Errorf("timeline stages %v, want %v in order", got, want)
	}
	details := strings.Join(r.details(t, mac, "tftp"), "\n")
	for _, f := range []string{"config.txt", "cmdline.txt", "kernel8.img", "initrd.img"} {
		if !strings.Contains(details, "/"+f+": ") {
			t.Errorf("the timeline's tftp events do not show %s:\n%s", f, details)
		}
	}
}

// details returns the details of the events of stage in the node's newest boot.
func (r *rig) details(t *testing.T, mac, stage string) []string {
	t.Helper()
	var tl struct {
		Boots []struct {
			Events []struct{ Stage, Detail string }
		}
	}
	if err := json.Unmarshal([]byte(r.cli(t, "timeline", mac, "-o", "json")), &tl); err != nil || len(tl.Boots) == 0 {
		t.Fatalf("timeline of %s: %v, %d boots", mac, err, len(tl.Boots))
	}
	var out []string
	for _, ev := range tl.Boots[len(tl.Boots)-1].Events {
		if ev.Stage == stage {
			out = append(out, ev.Detail)
		}
	}
	return out
}
