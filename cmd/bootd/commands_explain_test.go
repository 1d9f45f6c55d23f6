package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestExplainCommand: bootd explain prints a table or JSON and exits
// non-zero when a check fails (the example catalog's files are absent
// here, so the kernel check fails; web's tests cover a node that passes).
func TestExplainCommand(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	if r := d.cli(t, "enroll", "52:54:00:12:34:56", "--image", "debian-12"); r.code != 0 {
		t.Fatalf("enroll = %+v", r)
	}
	r := d.cli(t, "explain", "52:54:00:12:34:56")
	if r.code != 1 || !strings.Contains(r.stderr, "check(s) failed") {
		t.Errorf("explain = exit %d, stderr %q; want exit 1 saying checks failed", r.code, r.stderr)
	}
	for _, want := range []string{"DHCP", "FILES", "CHECK", "kernel file", "PROBLEM", "boot.ipxe:", "script URL"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("explain table lacks %q:\n%s", want, r.stdout)
		}
	}
	r = d.cli(t, "explain", "52:54:00:12:34:56", "-o", "json")
	var a struct {
		Explain struct {
			Checks []struct{ Name string } `json:"checks"`
		} `json:"explain"`
		Failed bool `json:"failed"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &a); err != nil || r.code != 1 || !a.Failed || len(a.Explain.Checks) == 0 {
		t.Errorf("explain -o json = exit %d, %+v (%v):\n%s", r.code, a, err, r.stdout)
	}
	if r := d.cli(t, "explain", "52:54:00:99:99:99"); r.code != 1 || !strings.Contains(r.stderr, "unknown machine") {
		t.Errorf("explain of an unknown machine = %+v", r)
	}
}
