//go:build e2e

package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	reRBD   = regexp.MustCompile(`BOOTD-RBD: (.*)`)
	reRead  = regexp.MustCompile(`BOOTD-READ: 64 MiB in ([0-9.]+) s, ([0-9.]+) MiB/s`)
	reWrite = regexp.MustCompile(`BOOTD-WRITE: 64 MiB in ([0-9.]+) s, ([0-9.]+) MiB/s`)
)

// msModeRun is what one measured boot saw.
type msModeRun struct {
	secs   float64 // power-on to the marker
	config string  // the root's config_info (map string)
	write  string  // MiB/s writing 64 MiB to the root device (O_DIRECT)
	read   string  // MiB/s reading them back (O_DIRECT)
}

// TestMsModeSecure: with bootd serving --ceph-ms-mode secure, a BIOS node
// maps its root over msgr2 with encryption (port 3300, ms_mode=secure in
// its config_info) and runs from it. A node booted first in the same run
// with the default (legacy msgr v1) gives the cost: both times and read
// rates are printed for docs/performance.md. Each is a first boot of its
// own fresh clone; the bench hostnames make the golden init write and read
// 64 MiB of its root device (scripts/golden-rootfs.sh).
func TestMsModeSecure(t *testing.T) {
	r := setUp(t)
	legacy := r.measuredBoot(t, "tap0", "52:54:00:b0:07:21", "legacy-bench")
	if strings.Contains(legacy.config, "ms_mode=") || !strings.Contains(legacy.config, ":6789 ") {
		t.Errorf("legacy node mapped with %q, want msgr v1 (port 6789, no ms_mode)", legacy.config)
	}
	stop(r.bootd)
	r.startBootd(t, "--ceph-ms-mode", "secure")
	secure := r.measuredBoot(t, "tap1", "52:54:00:b0:07:22", "secure-bench")
	if !strings.Contains(secure.config, "ms_mode=secure") || !strings.Contains(secure.config, ":3300 ") {
		t.Errorf("secure node mapped with %q, want ms_mode=secure on port 3300", secure.config)
	}
	fmt.Printf("e2e: ms_mode: legacy %.1f s to the marker, 64 MiB written at %s MiB/s, read at %s MiB/s; "+
		"secure %.1f s, %s MiB/s, %s MiB/s; boot ratio %.2f\n",
		legacy.secs, legacy.write, legacy.read, secure.secs, secure.write, secure.read, secure.secs/legacy.secs)
}

// measuredBoot enrolls mac as hostname (which should end in -bench, so
// that the golden init reads its root), boots it once with the BIOS
// firmware and returns what it measured.
func (r *rig) measuredBoot(t *testing.T, tap, mac, hostname string) msModeRun {
	t.Helper()
	r.cli(t, "enroll", mac, "--image", "debian-12", "--hostname", hostname, "--size", "1G")
	v := bootVM(t, r.ns, bios, tap, mac, hostname)
	defer func() {
		if t.Failed() {
			t.Logf("bootd's log:\n%s", r.ns.logTail("bootd", 80))
		}
	}()
	v.wait(t, reMarker, 4*time.Minute)
	run := msModeRun{secs: time.Since(v.started).Seconds()}
	if got := v.wait(t, reRoot, 10*time.Second)[1]; got != "/dev/rbd0" {
		t.Errorf("%s: / is mounted from %s, want /dev/rbd0", hostname, got)
	}
	run.config = v.wait(t, reRBD, 10*time.Second)[1]
	w := v.wait(t, reWrite, 2*time.Minute)
	rd := v.wait(t, reRead, time.Minute)
	run.write, run.read = w[2], rd[2]
	v.wait(t, reDone, 30*time.Second)
	v.finish(t, time.Minute)
	t.Logf("%s: marker %.1fs after power-on; mapped %s; wrote 64 MiB in %s s (%s MiB/s), read them in %s s (%s MiB/s)",
		hostname, run.secs, run.config, w[1], w[2], rd[1], rd[2])
	return run
}
