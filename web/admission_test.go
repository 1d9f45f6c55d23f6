package web

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bootd/bootd/boot"
)

// TestAdmissionAnswers: over the cap on boots in flight, a node's script is
// the wait-and-retry one, saying why and sleeping 2 to 6 seconds (busyWait),
// not Ceph's Retry to twice Retry; the boot in flight still gets its token when it asks again. A
// key request of that boot while Ceph is down is 503 with Retry-After and
// spends nothing (a stranger still gets the uniform 403); the metrics show
// the boots in flight and the wait scripts by reason.
func TestAdmissionAnswers(t *testing.T) {
	t.Parallel()
	srv, node, svc, _ := rbdBootServerWith(t, boot.Config{MaxBootsInFlight: 1})
	ctx := context.Background()
	first, _ := boot.ParseMAC("52:54:00:12:34:56")
	second, _ := boot.ParseMAC("52:54:00:12:34:57")
	for _, mac := range []boot.MAC{first, second} {
		if _, err := svc.Enroll(ctx, boot.EnrollRequest{MAC: mac, Image: "deb"}); err != nil {
			t.Fatal(err)
		}
		svc.SawLease(mac, netip.MustParseAddr("127.0.0.1"), true, false) // where the test's requests come from
	}
	script := func(mac string) string {
		t.Helper()
		resp, b := get(t, srv, http.MethodGet, "/boot/"+mac+"/boot.ipxe")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s's script = %d", mac, resp.StatusCode)
		}
		return string(b)
	}
	metric := func(name string) float64 {
		t.Helper()
		_, b := get(t, srv, http.MethodGet, "/metrics")
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(string(b))
		if m == nil {
			t.Fatalf("metrics lack %s", name)
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}

	s1 := script("52-54-00-12-34-56")
	tok := tokenRE.FindStringSubmatch(s1)
	if tok == nil {
		t.Fatalf("the first boot's script has no token:\n%s", s1)
	}
	s2 := script("52-54-00-12-34-57")
	sleep := regexp.MustCompile(`(?m)^sleep (\d+)$`).FindStringSubmatch(s2)
	if !strings.Contains(s2, "too many boots in flight (1)") || sleep == nil || tokenRE.MatchString(s2) ||
		strings.Contains(s2, "kernel ") || !strings.Contains(s2, "chain --replace --autofree boot.ipxe") {
		t.Fatalf("the second boot's script over the cap:\n%s", s2)
	}
	if n, _ := strconv.Atoi(sleep[1]); n < 2 || n > 6 {
		t.Errorf("the wait script sleeps %d s, want 2 to 6 (a place comes back as soon as a key goes out)", n)
	}
	if s := script("52-54-00-12-34-56"); !tokenRE.MatchString(s) {
		t.Errorf("the boot in flight asking again got no token:\n%s", s)
	}
	for name, want := range map[string]float64{"bootd_boots_in_flight": 1, "bootd_boots_in_flight_max": 1,
		`bootd_boot_wait_scripts_total{reason="busy"}`: 1, `bootd_boot_wait_scripts_total{reason="ceph"}`: 0} {
		if got := metric(name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}

	// Ceph down: the boot in flight waits at its key, the other at its script.
	svc.SetCephHealth(boot.CephHealth{Reason: "monitors do not answer"})
	base := "/boot/52-54-00-12-34-56/key"
	resp, err := node.Client().PostForm(node.URL+base, url.Values{"token": {tok[1]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "10" {
		t.Errorf("key while Ceph is down = %d, Retry-After %q; want 503, 10", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if code, body := post(t, node, base, url.Values{"token": {"0123"}}); code != http.StatusForbidden || strings.Contains(body, "Ceph") {
		t.Errorf("a stranger's key request while Ceph is down = %d %q, want the uniform 403", code, body)
	}
	if s := script("52-54-00-12-34-57"); !strings.Contains(s, "waiting for Ceph: monitors do not answer") {
		t.Errorf("script while Ceph is down:\n%s", s)
	}
	if got := metric(`bootd_boot_wait_scripts_total{reason="ceph"}`); got != 1 {
		t.Errorf(`bootd_boot_wait_scripts_total{reason="ceph"} = %v, want 1`, got)
	}

	// Ceph back: the same token gets the key, and the place is free.
	svc.SetCephHealth(boot.CephHealth{OK: true})
	if code, body := post(t, node, base, url.Values{"token": {tok[1]}}); code != http.StatusOK || !strings.Contains(body, "key=") {
		t.Fatalf("key with the same token once Ceph is back = %d %q, want 200 and the key", code, body)
	}
	if got := metric("bootd_boots_in_flight"); got != 0 {
		t.Errorf("bootd_boots_in_flight after the key = %v, want 0", got)
	}
	if s := script("52-54-00-12-34-57"); !tokenRE.MatchString(s) {
		t.Errorf("the second boot's script once a place is free has no token:\n%s", s)
	}
}
