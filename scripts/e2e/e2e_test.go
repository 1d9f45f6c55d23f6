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

// repo is the repository's top folder (this file is in scripts/e2e).
var repo = func() string {
	wd, _ := os.Getwd()
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}()

// cacheDir keeps the built image between runs (BOOTD_E2E_CACHE).
func cacheDir() string {
	if d := os.Getenv("BOOTD_E2E_CACHE"); d != "" {
		return d
	}
	return filepath.Join(repo, ".cache", "e2e")
}

// rig is everything one harness run starts: the namespace, Ceph, bootd.
type rig struct {
	ns       *netns
	cephConf string
	images   string
	data     string
	server   string // the admin listener (API), on the namespace's loopback
	bootURL  string // the boot listener, where machines fetch files
	bootd    *proc
	console  string // the end of the last boot's console, for messages
}

const httpAddr = bridgeAddr + ":8080"

// setUp builds the golden image and the boot images, starts Ceph and bootd.
func setUp(t *testing.T) *rig {
	t.Helper()
	r := setUpCeph(t, 3)
	t0 := time.Now()
	r.startBootd(t)
	t.Logf("bootd serve: %.1fs", time.Since(t0).Seconds())
	return r
}

// setUpCeph is setUp without bootd: the namespace with taps taps, the
// images, Ceph and the golden image.
func setUpCeph(t *testing.T, taps int) *rig {
	t.Helper()
	r := &rig{ns: newNetns(t, taps), images: filepath.Join(cacheDir(), "images"), server: "https://127.0.0.1:9443",
		bootURL: "http://" + httpAddr}
	step := func(name string, f func()) {
		t0 := time.Now()
		f()
		t.Logf("%s: %.1fs", name, time.Since(t0).Seconds())
	}
	step("boot image (scripts/image-debian.sh)", func() {
		out, err := exec.Command(filepath.Join(repo, "scripts/image-debian.sh"), r.images, "debian-12").CombinedOutput()
		if err != nil {
			t.Fatalf("image-debian.sh: %v\n%s", err, out)
		}
	})
	step("raspberry pi 4 image (scripts/image-pi4.sh)", func() {
		out, err := exec.Command(filepath.Join(repo, "scripts/image-pi4.sh"), r.images, piImage).CombinedOutput()
		if err != nil {
			t.Fatalf("image-pi4.sh: %v\n%s", err, out)
		}
	})
	cephDir := filepath.Join(r.ns.dir, "ceph")
	r.cephConf = filepath.Join(cephDir, "ceph.conf")
	step("ceph cluster", func() {
		out, err := r.ns.exec(t, nil, filepath.Join(repo, "scripts/ceph-cluster.sh"), "start", cephDir, bridgeAddr)
		t.Cleanup(func() { exec.Command(filepath.Join(repo, "scripts/ceph-cluster.sh"), "stop", cephDir).Run() })
		if err != nil {
			t.Fatalf("ceph-cluster.sh start: %v\n%s", err, out)
		}
	})
	step("golden image", func() { r.golden(t) })
	return r
}

// ceph runs a Ceph client command as the cluster's admin inside the namespace.
func (r *rig) ceph(t *testing.T, argv ...string) string {
	t.Helper()
	out, err := r.ns.exec(t, []string{"CEPH_CONF=" + r.cephConf}, argv...)
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return out
}

func (r *rig) golden(t *testing.T) {
	t.Helper()
	img := filepath.Join(r.ns.dir, "golden.img")
	if out, err := exec.Command(filepath.Join(repo, "scripts/golden-rootfs.sh"), img).CombinedOutput(); err != nil {
		t.Fatalf("golden-rootfs.sh: %v\n%s", err, out)
	}
	r.ceph(t, "rbd", "namespace", "create", "rbd/golden")
	r.ceph(t, "rbd", "import", "--no-progress", "--image-feature", "layering", img, "rbd/golden/debian-12")
	r.ceph(t, "rbd", "snap", "create", "--no-progress", "rbd/golden/debian-12@v1")
	r.ceph(t, "rbd", "snap", "protect", "rbd/golden/debian-12@v1")
}

// startBootd starts bootd serve with the rig's settings and extra flags.
func (r *rig) startBootd(t *testing.T, extra ...string) {
	t.Helper()
	r.data = filepath.Join(r.ns.dir, "bootd")
	argv := []string{filepath.Join(repo, "bin/bootd"), "serve",
		"--data-dir", r.data, "--http-listen", httpAddr, "--advertise", bridgeAddr,
		"--images-dir", r.images, "--log-level", "debug",
		"--dhcp-mode", "full", "--dhcp-interface", "br0",
		"--dhcp-pool-start", "198.18.0.100", "--dhcp-pool-end", "198.18.0.199",
		"--tftp-listen", bridgeAddr + ":69", "--ipxe-dir", "/usr/lib/ipxe",
		"--ceph-conf", r.cephConf, "--ceph-user", "bootd",
		"--ceph-keyring", filepath.Join(filepath.Dir(r.cephConf), "client.bootd.keyring")}
	r.bootd = r.ns.start(t, "bootd", append(argv, extra...)...)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(r.ns.logTail("bootd", 200), "bootd serving") {
		if time.Now().After(deadline) || r.bootd.exited() {
			t.Fatalf("bootd serve did not start; its log:\n%s", r.ns.logTail("bootd", 60))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// cli runs the bootd CLI against the rig's daemon, inside the namespace.
func (r *rig) cli(t *testing.T, args ...string) string {
	t.Helper()
	out, err := r.ns.exec(t, []string{"BOOTD_SERVER=" + r.server, "BOOTD_TOKEN_FILE=" + filepath.Join(r.data, "api-token"),
		"BOOTD_DATA_DIR=" + r.data},
		append([]string{filepath.Join(repo, "bin/bootd")}, args...)...)
	if err != nil {
		t.Fatalf("bootd %s: %v\n%s\nbootd's log:\n%s", strings.Join(args, " "), err, out, r.ns.logTail("bootd", 40))
	}
	return out
}

var (
	reMarker   = regexp.MustCompile(`BOOTD-MARKER: (.*)`)
	reRoot     = regexp.MustCompile(`BOOTD-ROOT: (\S+)`)
	reHostname = regexp.MustCompile(`BOOTD-HOSTNAME: (\S+)`)
	rePersist  = regexp.MustCompile(`BOOTD-PERSIST: (.*)`)
	reDone     = regexp.MustCompile(`BOOTD-DONE`)
)

// boot powers a VM on and checks what its console says, returning the
// persisted line it found and the seconds from power-on to the marker.
func (r *rig) boot(t *testing.T, fw firmware, tap, mac, hostname, name string) (string, float64) {
	t.Helper()
	v := bootVM(t, r.ns, fw, tap, mac, name)
	defer func() {
		if t.Failed() {
			t.Logf("bootd's log:\n%s", r.ns.logTail("bootd", 80))
		}
	}()
	v.wait(t, reMarker, 4*time.Minute)
	secs := time.Since(v.started).Seconds()
	v.atRoot(t, hostname)
	persist := v.wait(t, rePersist, 10*time.Second)[1]
	v.wait(t, reDone, 30*time.Second)
	v.finish(t, time.Minute)
	r.console = v.tail(300)
	r.breakdown(t, v, mac, name)
	t.Logf("%s: marker %.1fs after power-on; persisted: %s", name, secs, persist)
	return persist, secs
}

// stages returns the stage names of the node's newest boot, in order.
func (r *rig) stages(t *testing.T, mac string) []string {
	t.Helper()
	var tl struct {
		Boots []struct {
			Events []struct{ Stage string }
		}
	}
	if err := json.Unmarshal([]byte(r.cli(t, "timeline", mac, "-o", "json")), &tl); err != nil || len(tl.Boots) == 0 {
		t.Fatalf("timeline of %s: %v, %d boots", mac, err, len(tl.Boots))
	}
	var out []string
	for _, ev := range tl.Boots[len(tl.Boots)-1].Events {
		if len(out) == 0 || out[len(out)-1] != ev.Stage {
			out = append(out, ev.Stage)
		}
	}
	return out
}

// inOrder reports whether want appears in got in this order (other stages may stand between).
func inOrder(got, want []string) bool {
	i := 0
	for _, s := range got {
		if i < len(want) && s == want[i] {
			i++
		}
	}
	return i == len(want)
}

func TestNetboot(t *testing.T) {
	r := setUp(t)
	t.Run("explain", r.testExplain) // explain_test.go
	local := r.localBaseline(t)
	runs := []struct {
		fw       firmware
		tap, mac string
		stages   []string
	}{
		{bios, "tap0", "52:54:00:b0:07:01", []string{"dhcp", "script", "kernel", "initrd", "network", "key", "volume", "root"}},
		{uefi, "tap1", "52:54:00:b0:07:02", []string{"dhcp", "tftp", "dhcp", "script", "kernel", "initrd", "network", "key", "volume", "root"}},
	}
	for _, run := range runs {
		t.Run(string(run.fw), func(t *testing.T) {
			host := "e2e-" + string(run.fw)
			r.cli(t, "enroll", run.mac, "--image", "debian-12", "--hostname", host, "--size", "1G")
			first, secs := r.boot(t, run.fw, run.tap, run.mac, host, string(run.fw)+"-1")
			if first != "none" {
				t.Errorf("first boot found %q, want a fresh volume", first)
			}
			fmt.Printf("e2e: %s: %.1f s from power-on to the marker on the cloud disk; local virtio disk %.1f s; ratio %.2f\n",
				run.fw, secs, local, secs/local)
			if got := r.stages(t, run.mac); !inOrder(got, run.stages) {
				t.Errorf("timeline stages %v, want %v in order", got, run.stages)
			}
			r.checkInventory(t, run.mac) // inventory_test.go
			second, _ := r.boot(t, run.fw, run.tap, run.mac, host, string(run.fw)+"-2")
			if !strings.Contains(second, "on "+host) {
				t.Errorf("second boot found %q, want the file the first boot wrote", second)
			}
			// The VM powered off without unmapping its root, so its watch lingers
			// (up to osd_client_watch_timeout, 30 s); the operator fences the dead client off.
			r.cli(t, "unfence", run.mac)
			r.cli(t, "reimage", run.mac)
			third, _ := r.boot(t, run.fw, run.tap, run.mac, host, string(run.fw)+"-3")
			if third != "none" {
				t.Errorf("boot after reimage found %q, want a fresh volume", third)
			}
		})
	}
	t.Run("pi4-arm64", r.testPi4) // arm64_test.go, on tap2
}

// localBaseline boots the same kernel and root file system from a local
// virtio disk (no network boot, no Ceph) and returns the seconds from QEMU's
// start to the marker, the baseline for docs/performance.md.
func (r *rig) localBaseline(t *testing.T) float64 {
	t.Helper()
	disk := filepath.Join(r.ns.dir, "local.img")
	if out, err := exec.Command(filepath.Join(repo, "scripts/golden-rootfs.sh"), disk).CombinedOutput(); err != nil {
		t.Fatalf("golden-rootfs.sh: %v\n%s", err, out)
	}
	img := filepath.Join(r.images, "debian-12")
	v := startQEMU(t, r.ns, "local", []string{"-machine", "pc", "-kernel", filepath.Join(img, "vmlinuz"),
		"-initrd", filepath.Join(img, "initrd.img"), "-append", "console=ttyS0 root=/dev/vda rw panic=-1",
		"-drive", "file=" + disk + ",if=virtio,format=raw"})
	v.wait(t, reMarker, 3*time.Minute)
	secs := time.Since(v.started).Seconds()
	if got := v.wait(t, reRoot, 10*time.Second)[1]; got != "/dev/vda" {
		t.Errorf("local boot: / on %s, want /dev/vda", got)
	}
	v.finish(t, time.Minute)
	r.breakdown(t, v, "", "local")
	t.Logf("local virtio disk: marker %.1fs after start", secs)
	return secs
}

// TestFenced: a node whose volume another client holds must not boot: its
// key release is refused (the script was served as to anyone), its console
// shows bootd's message and its timeline the failure.
func TestFenced(t *testing.T) {
	r := setUp(t)
	mac, vol := "52:54:00:b0:07:03", "node-525400b00703"
	r.cli(t, "enroll", mac, "--image", "debian-12", "--hostname", "e2e-fenced", "--size", "1G")
	// Another client takes a lock on the volume, as a second machine mapping it would.
	r.ceph(t, "rbd", "lock", "add", "rbd/"+vol+"/root", "other-machine")
	v := bootVM(t, r.ns, bios, "tap0", mac, "fenced")
	_ = vol
	v.wait(t, regexp.MustCompile(`volume fenced: volume \S+ is in use by another machine`), 3*time.Minute)
	v.wait(t, regexp.MustCompile(`run: bootd unfence `+mac), 30*time.Second)
	stop(v.proc)
	if strings.Contains(v.tail(1000), "BOOTD-MARKER") {
		t.Errorf("a fenced node reached its root file system")
	}
	got := r.stages(t, mac)
	if !inOrder(got, []string{"dhcp", "failed"}) || inOrder(got, []string{"root"}) {
		t.Errorf("timeline of the fenced node: %v, want a failed stage and no root", got)
	}
}
