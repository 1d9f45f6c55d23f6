package web

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
)

// TestDiscoveredBoundShown: when the bound on discovered machines forgets
// or refuses some, the machines page says so by the discovered table, and
// GET /api/v1/discovered gives the same figures beside its nodes.
func TestDiscoveredBoundShown(t *testing.T) {
	t.Parallel()
	clock := time.Date(2025, 1, 2, 10, 42, 0, 0, time.UTC)
	f := buildFixture(t, false, func() time.Time { return clock }, Config{SessionKey: []byte(testSessionKey)},
		func(c *boot.Config) { c.DiscoveredMax, c.DiscoveredRate = 50, 1062 })
	b := login(t, f)
	if page := text(b.get(t, "/machines")); strings.Contains(page, "forgotten") || strings.Contains(page, "not recorded") ||
		!strings.Contains(page, "bootd keeps at most 50 and records at most 1,062 new ones a minute.") {
		t.Errorf("machines page before any pruning:\n%s\nwant the bound stated and nothing forgotten or refused", page)
	}
	for i := range 1070 { // the rate lets 1,062 in: 1,012 forgotten, 8 refused
		mac := mustMAC(t, fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8, i&0xff))
		if _, err := f.svc.Discover(t.Context(), boot.Sighting{MAC: mac}); err != nil {
			t.Fatal(err)
		}
	}
	rec := b.get(t, "/machines")
	page := text(rec)
	for _, want := range []string{
		"Discovered machines (50)",
		"1,012 older discovered machines were forgotten to stay under 50; last at",
		"8 sightings of new machines were not recorded: they came faster than 1,062 a minute.",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("machines page lacks %q:\n%s", want, page)
		}
	}
	if want := `<time datetime="2025-01-02T10:42:00Z"`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("the pruning notice does not say when: no %s", want)
	}

	api := f.do(t, http.MethodGet, "/api/v1/discovered", "")
	var body discoveredBody
	decode(t, api, &body)
	want := boot.DiscoveryStats{Max: 50, PerMinute: 1062, Pruned: 1012, Refused: 8, LastPruned: clock}
	if body.Bound != want || len(body.Nodes) != 50 {
		t.Errorf("GET /api/v1/discovered = %d nodes, bound %+v; want 50 nodes, bound %+v", len(body.Nodes), body.Bound, want)
	}
}

func TestThousands(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0", 12: "12", 999: "999", 1000: "1,000", 1234567: "1,234,567", -45678: "-45,678"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
