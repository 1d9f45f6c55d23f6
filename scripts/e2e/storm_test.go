//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStorm runs make storm's script on a small rack: 50 simulated
// machines at once through the whole chain (firmware DHCP through a relay,
// TFTP, iPXE's DHCP, script, kernel and initrds, the key release against
// its own Ceph cluster, the reports), then the physical limit of the same
// bytes. bootd's caps are set small (10 TFTP transfers, 10 boots in
// flight), so that the storm goes through the TFTP queue and the wait
// scripts as a thousand machines do against the defaults. Every machine
// must finish, some must have been told to wait, and the simulator must
// have measured the limit; the figures of N=1,000 are in
// docs/performance.md. The peer (dnsmasq and nginx) is left out here: it
// measures, it proves nothing.
func TestStorm(t *testing.T) {
	// The script, its bootd and simulators run in a process group of their
	// own, sent SIGTERM (the script's EXIT trap removes its namespaces)
	// before go test's own timeout would kill the test and leave them.
	deadline := time.Now().Add(20 * time.Minute)
	if d, ok := t.Deadline(); ok {
		deadline = d.Add(-2 * time.Minute)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(repo, "scripts/bench-storm.sh"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = time.Minute
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "N=50", "PEER=0", "BOOTD_ARGS=--max-boots-in-flight 10 --tftp-max-transfers 10")
	out, err := cmd.CombinedOutput()
	t.Logf("bench-storm.sh N=50:\n%s", tail(string(out), 25))
	if err != nil {
		t.Fatalf("bench-storm.sh: %v", err)
	}
	m := regexp.MustCompile(`bootd: (\d+) nodes at once, the whole chain with key release and reports: (\d+) failed, (\d+) wait scripts`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatal("no summary of the bootd run")
	}
	if n, _ := strconv.Atoi(m[1]); n != 50 {
		t.Errorf("%d nodes ran, want 50", n)
	}
	if m[2] != "0" {
		t.Errorf("%s machines failed, want none", m[2])
	}
	if m[3] == "0" {
		t.Errorf("no machine was told to wait with 10 boots in flight at most")
	}
	if !regexp.MustCompile(`ratio to the physical limit: \d+\.\d\d`).MatchString(string(out)) {
		t.Error("no ratio to the physical limit")
	}
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
