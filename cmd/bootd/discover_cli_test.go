package main

import (
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// freeUDPPort is a loopback UDP port nothing listens on as of the call.
func freeUDPPort(t *testing.T) string {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port)
}

// TestCLIDiscover drives the discover window with the CLI against bootd
// serving full DHCP in known mode: status, open for a while (in text and
// JSON), a length past a day refused with a message, close; a word the
// command does not know is a usage error. Without DHCP there is no window,
// and the CLI says so.
func TestCLIDiscover(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "--dhcp-mode", "full", "--dhcp-interface", "lo", "--advertise", "127.0.0.1",
		"--dhcp-port", freeUDPPort(t), "--dhcp-pool-start", "127.65.0.10", "--dhcp-pool-end", "127.65.0.20",
		"--dhcp-clients", "known")
	if r := d.cli(t, "discover", "status"); r.code != 0 || strings.TrimSpace(r.stdout) != "discover window closed" {
		t.Errorf("discover status = %+v, want closed", r)
	}
	r := d.cli(t, "discover", "open", "--for", "30m")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "discover window open until ") {
		t.Fatalf("discover open --for 30m = %+v", r)
	}
	r = d.cli(t, "discover", "status", "-o", "json")
	var st struct {
		Open  bool      `json:"open"`
		Until time.Time `json:"until"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || !st.Open {
		t.Fatalf("discover status -o json = %+v (%v), want open", r, err)
	}
	if left := time.Until(st.Until); left < 29*time.Minute || left > 30*time.Minute {
		t.Errorf("window open for another %v, want 30 minutes", left)
	}
	if r = d.cli(t, "discover", "open", "--for", "48h"); r.code != 1 || !strings.Contains(r.stderr, "from 1s to 24h") {
		t.Errorf("discover open --for 48h = %+v, want exit 1 and the bounds", r)
	}
	if r = d.cli(t, "discover", "close"); r.code != 0 || strings.TrimSpace(r.stdout) != "discover window closed" {
		t.Errorf("discover close = %+v", r)
	}
	if r = d.cli(t, "discover", "status"); !strings.Contains(r.stdout, "closed") {
		t.Errorf("discover status after close = %+v", r)
	}
	if r = d.cli(t, "discover", "maybe"); r.code != 2 || !strings.Contains(r.stderr, "open|close|status") {
		t.Errorf("discover maybe = %+v, want a usage error", r)
	}
	if r = d.cli(t, "audit"); !strings.Contains(r.stdout, "discover") {
		t.Errorf("audit after opening the window has no discover record:\n%s", r.stdout)
	}

	noDHCP := startDaemon(t)
	if r = noDHCP.cli(t, "discover", "status"); r.code != 1 || !strings.Contains(r.stderr, "runs no DHCP server") {
		t.Errorf("discover status without DHCP = %+v, want exit 1 saying there is no DHCP server", r)
	}
}
