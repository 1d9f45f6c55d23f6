//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// reSecureBoot is what the guest kernel says of Secure Boot at start.
var reSecureBoot = regexp.MustCompile(`secureboot: Secure boot (enabled|disabled|could not be determined)`)

// secureBootVM starts a q35 VM with OVMF's Secure Boot firmware and
// variables with Microsoft's keys enrolled (Debian's ovmf: *.ms.fd), Secure
// Boot enforced, network-booting its virtio NIC (no option ROM: the
// firmware's own PXE and HTTP boot).
func secureBootVM(t *testing.T, ns *netns, tap, mac, name string, extra ...string) *vm {
	t.Helper()
	vars := filepath.Join(ns.dir, name+"-OVMF_VARS.ms.fd")
	b, err := os.ReadFile("/usr/share/OVMF/OVMF_VARS_4M.ms.fd")
	if err != nil {
		t.Fatalf("OVMF's Secure Boot variables are needed (package ovmf): %v", err)
	}
	if err := os.WriteFile(vars, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return startQEMU(t, ns, name, append([]string{"-machine", "q35,smm=on",
		"-global", "driver=cfi.pflash01,property=secure,value=on",
		"-drive", "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.ms.fd",
		"-drive", "if=pflash,format=raw,unit=1,file=" + vars,
		"-netdev", "tap,id=n0,ifname=" + tap + ",script=no,downscript=no",
		"-device", "virtio-net-pci,netdev=n0,mac=" + mac + ",romfile=,bootindex=1"}, extra...))
}

// secureBootToRoot powers on a Secure Boot VM on tap and waits, up to
// limit, for its kernel to say Secure Boot is enabled, then for its root on
// its RBD volume and its power-off.
func (r *rig) secureBootToRoot(t *testing.T, tap, mac, host, name string, limit time.Duration, extra ...string) {
	t.Helper()
	v := secureBootVM(t, r.ns, tap, mac, name, extra...)
	defer func() {
		if t.Failed() {
			t.Logf("console:\n%s\nbootd's log:\n%s", v.tail(60), r.ns.logTail("bootd", 60))
		}
	}()
	if got := v.wait(t, reSecureBoot, limit)[1]; got != "enabled" {
		t.Fatalf("the guest kernel says Secure boot %s, want enabled", got)
	}
	v.wait(t, reMarker, 4*time.Minute)
	v.atRoot(t, host)
	v.wait(t, reDone, 30*time.Second)
	v.finish(t, time.Minute)
}

// TestSecureBoot boots a UEFI VM with Secure Boot enforced from its RBD
// volume to root through Debian's signed chain, which bootd hands it for an
// image with a secure_boot section (debian-12-sb): the firmware's PXE
// fetches shim over TFTP, shim GRUB, GRUB its generated grub.cfg, then the
// signed kernel and the initrds. The guest kernel must say Secure Boot is
// enabled, and the timeline show GRUB's configuration as the script stage.
func TestSecureBoot(t *testing.T) {
	r := setUp(t)
	t.Run("tftp", r.testSecureBootTFTP)
	t.Run("http", r.testSecureBootHTTP)
	t.Run("refused", r.testSecureBootRefused)
}

func (r *rig) testSecureBootTFTP(t *testing.T) {
	const mac, host = "52:54:00:b0:07:31", "e2e-sb"
	r.cli(t, "enroll", mac, "--image", "debian-12-sb", "--hostname", host, "--size", "1G")
	// bootd explain names the chain and shows the grub.cfg (it exits non-zero when a check fails).
	ex := r.cli(t, "explain", mac)
	for _, want := range []string{"secure boot", "x64-uefi", "52-54-00-b0-07-31/shimx64.efi", "grub.cfg (GRUB, Secure Boot):", "linux /52-54-00-b0-07-31/kernel"} {
		if !strings.Contains(ex, want) {
			t.Errorf("bootd explain lacks %q:\n%s", want, ex)
		}
	}
	r.secureBootToRoot(t, "tap0", mac, host, "sb-tftp", 4*time.Minute)
	got := r.stages(t, mac)
	if want := []string{"dhcp", "tftp", "script", "kernel", "initrd", "network", "key", "volume", "root"}; !inOrder(got, want) {
		t.Errorf("timeline stages %v, want %v in order", got, want)
	}
	tl := r.cli(t, "timeline", mac)
	for _, f := range []string{"shimx64.efi", "grubx64.efi", "grub.cfg"} {
		if !strings.Contains(tl, f) {
			t.Errorf("the timeline does not show the fetch of %s:\n%s", f, tl)
		}
	}
}

// testSecureBootHTTP is the chain started by UEFI HTTP boot, without TFTP:
// OVMF's PXE is off and TFTP is closed to this VM besides (nftables in the
// namespace), so OVMF takes its HTTP boot option, whose DHCP (vendor class
// HTTPClient) gets shim's URL. shim fetches GRUB from the same folder over
// HTTP, and GRUB (its prefix is (http,server:port)/grub) its grub.cfg, the
// kernel and the initrds.
func (r *rig) testSecureBootHTTP(t *testing.T) {
	const mac, host = "52:54:00:b0:07:32", "e2e-sb-http"
	r.cli(t, "enroll", mac, "--image", "debian-12-sb", "--hostname", host, "--size", "1G")
	for _, args := range [][]string{
		{"add", "table", "inet", "notftp"},
		{"add", "chain", "inet", "notftp", "input", "{ type filter hook input priority 0; }"},
		{"add", "rule", "inet", "notftp", "input", "ether", "saddr", mac, "udp", "dport", "69", "drop"},
	} {
		run(t, "ip", append([]string{"netns", "exec", r.ns.name, "nft"}, args...)...)
	}
	defer run(t, "ip", "netns", "exec", r.ns.name, "nft", "delete", "table", "inet", "notftp")
	// OVMF's PXE is off (its fw_cfg knob), so it goes to HTTP boot at once
	// instead of after its PXE attempt times out on the closed TFTP.
	r.secureBootToRoot(t, "tap1", mac, host, "sb-http", 4*time.Minute,
		"-fw_cfg", "name=opt/org.tianocore/IPv4PXESupport,string=n")
	tl := r.cli(t, "timeline", mac)
	for _, want := range []string{"http://198.18.0.1:8080/boot/52-54-00-b0-07-32/shimx64.efi", "http shimx64.efi", "http grubx64.efi", "http grub.cfg", "http kernel"} {
		if !strings.Contains(tl, want) {
			t.Errorf("the timeline does not show %s:\n%s", want, tl)
		}
	}
	got := r.stages(t, mac)
	if want := []string{"dhcp", "loader", "script", "kernel", "initrd", "network", "key", "volume", "root"}; !inOrder(got, want) {
		t.Errorf("timeline stages %v, want %v in order", got, want)
	}
	if slices.Contains(got, "tftp") {
		t.Errorf("timeline stages %v: a TFTP fetch, with TFTP closed to the machine", got)
	}
}

// reAccessDenied is OVMF refusing an image Secure Boot does not allow.
var reAccessDenied = regexp.MustCompile(`failed to load Boot\S+ .*: Access Denied|Security Violation`)

// testSecureBootRefused is the negative case: the same firmware, Secure
// Boot enforced, on a node of the plain image, which hands it iPXE
// (snponly.efi, unsigned): the firmware fetches it and refuses to run it,
// and the node's timeline says so.
func (r *rig) testSecureBootRefused(t *testing.T) {
	const mac = "52:54:00:b0:07:33"
	r.cli(t, "enroll", mac, "--image", "debian-12", "--hostname", "e2e-sb-no", "--size", "1G")
	v := secureBootVM(t, r.ns, "tap2", mac, "sb-refused")
	defer stop(v.proc)
	v.wait(t, reAccessDenied, 3*time.Minute)
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Second) {
		tl := r.cli(t, "timeline", mac)
		if strings.Contains(tl, "snponly.efi and asked DHCP again instead of running it: UEFI Secure Boot refuses unsigned iPXE") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the timeline does not say the firmware refused iPXE:\n%s\nconsole:\n%s", tl, v.tail(40))
		}
	}
	if got := r.stages(t, mac); slices.Contains(got, "script") || slices.Contains(got, "kernel") {
		t.Errorf("a refused iPXE reached stages %v", got)
	}
}
