//go:build integration

package rbd

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
)

// osdPID is the test cluster's OSD, from the PIDs scripts/ceph-cluster.sh records.
func osdPID(t *testing.T) int {
	t.Helper()
	f, err := os.Open(filepath.Join(filepath.Dir(testCluster.conf), "pids"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, pid, ok := strings.Cut(sc.Text(), " "); ok && strings.HasPrefix(name, "osd.") {
			n, err := strconv.Atoi(pid)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no OSD in the cluster's pids file")
	return 0
}

// TestProbeOSDStopped (not parallel: it stops the cluster's only OSD) runs
// bootd's Ceph probe against the real cluster as client.bootd: healthy; with
// the OSD stopped (SIGSTOP: a hung OSD), "not answering" within the probe's
// deadline, a node with a volume is told to wait, and probes do not pile up;
// with the OSD going again, healthy, no wait, and the volume works.
func TestProbeOSDStopped(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	mac := f.enroll(t, 0)
	if h := f.client.Probe(ctx); !h.OK {
		t.Fatalf("probe of a healthy cluster: %+v", h)
	}
	results := make(chan boot.CephHealth, 256)
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go f.client.ProbeEvery(pctx, 200*time.Millisecond, 2*time.Second, func(h boot.CephHealth) {
		f.svc.SetCephHealth(h)
		select {
		case results <- h:
		default:
		}
	})
	await := func(ok bool, within time.Duration) boot.CephHealth {
		t.Helper()
		deadline := time.After(within)
		for {
			select {
			case h := <-results:
				if h.OK == ok {
					return h
				}
			case <-deadline:
				t.Fatalf("no probe said ok=%v within %v", ok, within)
			}
		}
	}
	await(true, 10*time.Second)
	osd := osdPID(t)
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
	h := await(false, 10*time.Second)
	if !strings.Contains(h.Reason, "did not answer") {
		t.Errorf("reason %q, want Ceph not answering", h.Reason)
	}
	plan, err := f.svc.Resolve(ctx, mac)
	if err != nil || !strings.HasPrefix(plan.Wait, "waiting for Ceph: ") {
		t.Fatalf("plan while the OSD is stopped: %+v, %v; want told to wait", plan, err)
	}
	before := runtime.NumGoroutine()
	time.Sleep(3 * time.Second) // fifteen ticks: none may start a probe while one hangs
	if after := runtime.NumGoroutine(); after > before+3 {
		t.Errorf("goroutines grew from %d to %d while Ceph hung: probes pile up", before, after)
	}
	resume()
	await(true, 30*time.Second)
	if plan, _ := f.svc.Resolve(ctx, mac); plan.Wait != "" {
		t.Errorf("plan after the OSD is back: wait %q", plan.Wait)
	}
	if _, err := f.svc.Snapshot(ctx, mac, "after-stall"); err != nil {
		t.Errorf("snapshot after the OSD is back: %v", err)
	}
}
