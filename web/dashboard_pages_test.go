package web

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bootd/bootd/boot"
)

// rowMACs returns the MACs of the machines table's rows, in order.
func rowMACs(body string) []string {
	table := body
	if i := strings.Index(body, `id="discovered"`); i >= 0 {
		table = body[:i]
	}
	var out []string
	for _, m := range regexp.MustCompile(`<tr data-mac="([^"]+)"`).FindAllStringSubmatch(table, -1) {
		out = append(out, m[1])
	}
	return out
}

// seed enrolls and discovers a few machines and records boots.
func seed(t *testing.T, f *fixture) {
	t.Helper()
	ctx := t.Context()
	for _, n := range []struct{ mac, image, host string }{
		{"52:54:00:00:00:01", "debian", "web2"}, {"52:54:00:00:00:02", "alpine", "web1"}, {"52:54:00:00:00:03", "debian", "db1"},
	} {
		if _, err := f.svc.Enroll(ctx, boot.EnrollRequest{MAC: mustMAC(t, n.mac), Image: n.image, Hostname: n.host}); err != nil {
			t.Fatal(err)
		}
	}
	for _, ev := range []struct {
		mac   string
		stage boot.Stage
	}{{"52:54:00:00:00:01", boot.StageDHCP}, {"52:54:00:00:00:01", boot.StageRoot}, {"52:54:00:00:00:03", boot.StageDHCP},
		{"52:54:00:00:00:03", boot.StageFailed}} {
		if _, err := f.svc.Record(ctx, mustMAC(t, ev.mac), boot.Event{Stage: ev.stage, Source: "198.18.0.7", Detail: "no <root> found"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.Discover(ctx, boot.Sighting{MAC: mustMAC(t, "52:54:00:00:00:0a"), Arch: "x64-uefi", VendorClass: "PXEClient:Arch:00007"}); err != nil {
		t.Fatal(err)
	}
}

func TestDashboardMachinesPage(t *testing.T) {
	t.Parallel()
	f := newDashFixture(t, false, nil)
	seed(t, f)
	b := login(t, f)
	tests := []struct {
		path string
		want []string
	}{
		{"/machines", []string{"52:54:00:00:00:03", "52:54:00:00:00:02", "52:54:00:00:00:01"}}, // by hostname
		{"/machines?sort=hostname&dir=desc", []string{"52:54:00:00:00:01", "52:54:00:00:00:02", "52:54:00:00:00:03"}},
		{"/machines?sort=mac", []string{"52:54:00:00:00:01", "52:54:00:00:00:02", "52:54:00:00:00:03"}},
		{"/machines?sort=state", []string{"52:54:00:00:00:03", "52:54:00:00:00:02", "52:54:00:00:00:01"}}, // failed, enrolled, up
		{"/machines?sort=image&dir=desc", []string{"52:54:00:00:00:01", "52:54:00:00:00:03", "52:54:00:00:00:02"}},
		{"/machines?q=web", []string{"52:54:00:00:00:02", "52:54:00:00:00:01"}},
		{"/machines?q=DEBIAN&sort=mac", []string{"52:54:00:00:00:01", "52:54:00:00:00:03"}},
		{"/machines?state=failed", []string{"52:54:00:00:00:03"}},
		{"/machines?state=discovered", []string{"52:54:00:00:00:03", "52:54:00:00:00:02", "52:54:00:00:00:01"}}, // not a filter
		{"/machines?q=nothing-matches", nil},
		{"/machines?sort=bogus&page=-3", []string{"52:54:00:00:00:03", "52:54:00:00:00:02", "52:54:00:00:00:01"}},
	}
	for _, tt := range tests {
		rec := b.get(t, tt.path)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", tt.path, rec.Code)
			continue
		}
		if got := rowMACs(rec.Body.String()); !slices.Equal(got, tt.want) {
			t.Errorf("GET %s: rows %v, want %v", tt.path, got, tt.want)
		}
	}
	rec := b.get(t, "/machines")
	page := text(rec)
	for _, want := range []string{"✕ failed", "● up", "○ enrolled", "✓ root mounted", "✕ failed", "52:54:00:00:00:0a",
		"x64-uefi", "PXEClient:Arch:00007", "Discovered machines (1)", "198.18.0.7"} {
		if !strings.Contains(page, want) {
			t.Errorf("machines page lacks %q", want)
		}
	}
	if !strings.Contains(rec.Body.String(), `<input type="hidden" name="mac" value="52:54:00:00:00:0a">`) {
		t.Errorf("the discovered machine has no enroll form")
	}
	if !strings.Contains(rec.Body.String(), `data-live="/events"`) {
		t.Errorf("machines page does not name its live stream")
	}
}

func TestDashboardMachinesPaging(t *testing.T) {
	t.Parallel()
	f := newDashFixture(t, false, nil)
	for i := range pageSize + 5 {
		mac := boot.MAC{0x52, 0x54, 0, 0, byte(i >> 8), byte(i)}
		if _, err := f.svc.Enroll(t.Context(), boot.EnrollRequest{MAC: mac, Image: "alpine", Hostname: fmt.Sprintf("n%03d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	b := login(t, f)
	for _, tt := range []struct {
		path  string
		rows  int
		first string
	}{
		{"/machines", pageSize, "52:54:00:00:00:00"},
		{"/machines?page=2", 5, "52:54:00:00:00:64"},
		{"/machines?page=9", 5, "52:54:00:00:00:64"}, // past the end: the last page
	} {
		rec := b.get(t, tt.path)
		rows := rowMACs(rec.Body.String())
		if len(rows) != tt.rows || rows[0] != tt.first || !strings.Contains(text(rec), fmt.Sprintf("%d of %d machines", pageSize+5, pageSize+5)) {
			t.Errorf("GET %s: %d rows from %s, want %d from %s", tt.path, len(rows), rows[0], tt.rows, tt.first)
		}
	}
}

func TestDashboardMachinePage(t *testing.T) {
	t.Parallel()
	f := newDashFixture(t, true, nil)
	seed(t, f)
	b := login(t, f)
	tests := []struct {
		path string
		want int
		has  []string
	}{
		{"/machines/52-54-00-00-00-03", 200, []string{"db1", "✕ failed", "Boot 1", "→ DHCP", "✕ failed", "no <root> found",
			"node-525400000003", "Reimage…", "Turn netboot off", "Assign image"}},
		{"/machines/52:54:00:00:00:0a", 200, []string{"? discovered", "Enroll this machine", "No boot recorded yet"}},
		{"/machines/52:54:00:00:00:03/reimage", 200, []string{"Reimage db1", "replaces this machine's volume", "Delete it", "Keep it whole", "Cancel"}},
		{"/machines/52:54:00:00:00:0a/forget", 200, []string{"Forget", "deletes this machine's record"}},
		{"/machines/52:54:00:00:00:99", 404, []string{"unknown machine"}},
		{"/machines/52:54:00:00:00:99/reimage", 404, []string{"unknown machine"}},
		{"/machines/not-a-mac", 400, []string{"bad MAC address"}},
		{"/images", 200, []string{"alpine", "debian", "rbd/debian@golden", "20G"}},
	}
	for _, tt := range tests {
		rec := b.get(t, tt.path)
		if rec.Code != tt.want {
			t.Errorf("GET %s = %d, want %d", tt.path, rec.Code, tt.want)
		}
		page := text(rec)
		for _, want := range tt.has {
			if !strings.Contains(page, want) {
				t.Errorf("GET %s lacks %q", tt.path, want)
			}
		}
	}
	// Images count the machines that boot them.
	rec := b.get(t, "/images")
	if !regexp.MustCompile(`data-image="debian">(?s:.*?)<a href="/machines\?q=debian">2</a>`).MatchString(rec.Body.String()) {
		t.Errorf("images page does not count 2 machines for debian:\n%s", text(rec))
	}
}

func TestDashboardFailingStore(t *testing.T) {
	t.Parallel()
	f := newDashFixture(t, false, nil)
	b := newBrowser(f) // logs in without a page: the node index must meet the failing store first
	b.get(t, "/login")
	if rec := b.post(t, "/login", "secret", testToken); rec.Code != http.StatusSeeOther {
		t.Fatalf("POST /login = %d", rec.Code)
	}
	f.store.mu.Lock()
	f.store.err = errors.New("disk on fire at /var/lib/bootd")
	f.store.mu.Unlock()
	for _, path := range []string{"/machines", "/machines/52:54:00:00:00:01", "/images"} {
		rec := b.get(t, path)
		if rec.Code != http.StatusInternalServerError || !strings.Contains(text(rec), internalMessage) || strings.Contains(text(rec), "on fire") {
			t.Errorf("GET %s with a failing store = %d, want 500 with the generic message only", path, rec.Code)
		}
	}
	if !strings.Contains(f.log.String(), "disk on fire") {
		t.Errorf("the cause of the 500 is not in the log")
	}
}
