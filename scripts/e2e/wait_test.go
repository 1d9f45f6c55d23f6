//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWaitForCeph: with the cluster's only OSD stopped (SIGSTOP, a hung
// OSD), a node powered on gets bootd's wait-and-retry script: its console
// says it waits for Ceph, and its timeline too. Once the OSD goes on, the
// same boot carries on to its root on the cloud disk; bootd never stopped.
func TestWaitForCeph(t *testing.T) {
	r := setUp(t)
	const mac, host = "52:54:00:b0:07:0c", "e2e-wait"
	r.cli(t, "enroll", mac, "--image", "debian-12", "--hostname", host, "--size", "1G")
	b, err := os.ReadFile(filepath.Join(filepath.Dir(r.cephConf), "pids"))
	if err != nil {
		t.Fatal(err)
	}
	osd := 0
	for _, line := range strings.Split(string(b), "\n") {
		if name, pid, ok := strings.Cut(line, " "); ok && strings.HasPrefix(name, "osd.") {
			osd, _ = strconv.Atoi(pid)
		}
	}
	if osd == 0 {
		t.Fatalf("no OSD in the pids file:\n%s", b)
	}
	if err := syscall.Kill(osd, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			syscall.Kill(osd, syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)
	// bootd probes Ceph every 5 s and gives a probe 5 s: it knows within 10 s.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(r.ns.logTail("bootd", 400), "ceph cannot take boots") {
		if time.Now().After(deadline) {
			t.Fatalf("bootd did not notice the stopped OSD; its log:\n%s", r.ns.logTail("bootd", 40))
		}
		time.Sleep(500 * time.Millisecond)
	}
	v := bootVM(t, r.ns, bios, "tap0", mac, "wait")
	v.wait(t, regexp.MustCompile(`waiting for Ceph: Ceph did not answer`), 3*time.Minute)
	v.wait(t, regexp.MustCompile(`asking again in \d+ seconds`), 30*time.Second)
	resume()
	v.wait(t, reMarker, 4*time.Minute)
	if got := v.wait(t, reRoot, 10*time.Second)[1]; got != "/dev/rbd0" {
		t.Errorf("/ is mounted from %s, want /dev/rbd0", got)
	}
	stop(v.proc)
	if !strings.Contains(r.cli(t, "timeline", mac), "waiting for Ceph") {
		t.Error("the timeline does not say the node waited for Ceph")
	}
	if r.bootd.exited() {
		t.Error("bootd exited")
	}
}
