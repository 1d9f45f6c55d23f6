package web

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/bootd/bootd/boot"
)

func mustMAC(t *testing.T, s string) boot.MAC {
	t.Helper()
	mac, err := boot.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return mac
}

func TestEnroll(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		volumes      bool
		body         string
		wantHostname string
		wantSize     int64
		wantVolume   string
		wantWarnings []string
	}{
		{"no volumes", false, `{"mac":"52-54-00-AA-BB-CC","image":"alpine"}`,
			"node-525400aabbcc", 8 << 30, "", []string{warnNoVolumes}},
		{"volumes", true, `{"mac":"525400aabbcc","image":"debian","hostname":"web1","size":"40G"}`,
			"web1", 40 << 30, "node-525400aabbcc", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tt.volumes)
			rec := f.do(t, http.MethodPost, "/api/v1/nodes", tt.body)
			if rec.Code != http.StatusCreated {
				t.Fatalf("POST /api/v1/nodes = %d %s, want %d", rec.Code, rec.Body, http.StatusCreated)
			}
			if got, want := rec.Header().Get("Location"), "/api/v1/nodes/52:54:00:aa:bb:cc"; got != want {
				t.Errorf("Location = %q, want %q", got, want)
			}
			var body enrolledBody
			decode(t, rec, &body)
			n := body.Node
			if n.MAC.String() != "52:54:00:aa:bb:cc" || n.Hostname != tt.wantHostname || n.SizeBytes != tt.wantSize ||
				n.Volume != tt.wantVolume || n.State != boot.StateEnrolled || !n.Netboot {
				t.Errorf("node = %+v, want mac 52:54:00:aa:bb:cc, hostname %s, size %d, volume %q, enrolled, netboot",
					n, tt.wantHostname, tt.wantSize, tt.wantVolume)
			}
			if !slices.Equal(body.Warnings, tt.wantWarnings) || body.Warnings == nil {
				t.Errorf("warnings = %#v, want %#v", body.Warnings, tt.wantWarnings)
			}
		})
	}
}

func TestGetNodeAnySpelling(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	f.enroll(t, "52:54:00:12:34:56", "alpine")
	for _, spelling := range []string{"52:54:00:12:34:56", "52-54-00-12-34-56", "5254.0012.3456",
		"525400123456", "52:54:00:12:34:56", "52%3A54%3A00%3A12%3A34%3A56", "52:54:00:12:34:56"} {
		path := "/api/v1/nodes/" + spelling
		rec := f.do(t, http.MethodGet, path, "")
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s = %d %s, want %d", path, rec.Code, rec.Body, http.StatusOK)
			continue
		}
		var body nodeBody
		decode(t, rec, &body)
		if got := body.Node.MAC.String(); got != "52:54:00:12:34:56" {
			t.Errorf("GET %s: mac = %s, want 52:54:00:12:34:56", path, got)
		}
	}
}

func TestListNodes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	rec := f.do(t, http.MethodGet, "/api/v1/nodes", "")
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"nodes":[]}` {
		t.Fatalf("GET /api/v1/nodes with no nodes = %d %s, want 200 {\"nodes\":[]}", rec.Code, rec.Body)
	}
	f.enroll(t, "52:54:00:00:00:01", "alpine")
	f.enroll(t, "52:54:00:00:00:02", "debian")
	if _, err := f.svc.Discover(t.Context(), boot.Sighting{MAC: mustMAC(t, "52:54:00:00:00:03"), Arch: "x64-uefi"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Record(t.Context(), mustMAC(t, "52:54:00:00:00:02"), boot.Event{Stage: boot.StageRoot}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want []string
	}{
		{"/api/v1/nodes", []string{"52:54:00:00:00:01", "52:54:00:00:00:02", "52:54:00:00:00:03"}},
		{"/api/v1/nodes?state=enrolled", []string{"52:54:00:00:00:01"}},
		{"/api/v1/nodes?state=enrolled,up", []string{"52:54:00:00:00:01", "52:54:00:00:00:02"}},
		{"/api/v1/nodes?state=up&state=discovered", []string{"52:54:00:00:00:02", "52:54:00:00:00:03"}},
		{"/api/v1/nodes?state=failed", []string{}},
		{"/api/v1/nodes?state=", []string{"52:54:00:00:00:01", "52:54:00:00:00:02", "52:54:00:00:00:03"}},
		{"/api/v1/discovered", []string{"52:54:00:00:00:03"}},
	}
	for _, tt := range tests {
		rec := f.do(t, http.MethodGet, tt.path, "")
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s = %d %s, want %d", tt.path, rec.Code, rec.Body, http.StatusOK)
			continue
		}
		var body discoveredBody // nodesBody, with the bound that only /discovered adds
		decode(t, rec, &body)
		if bounded := body.Bound.Max != 0; bounded != (tt.path == "/api/v1/discovered") {
			t.Errorf("GET %s: bound %+v, want one on /api/v1/discovered alone", tt.path, body.Bound)
		}
		got := []string{}
		for _, n := range body.Nodes {
			got = append(got, n.MAC.String())
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("GET %s = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestChangeNode(t *testing.T) {
	t.Parallel()
	const path = "/api/v1/nodes/52:54:00:12:34:56"
	tests := []struct {
		method, path, body string
		check              func(*boot.Node) bool
	}{
		{http.MethodPost, path + "/assign", `{"image":"debian"}`, func(n *boot.Node) bool { return n.Image == "debian" }},
		{http.MethodPut, path + "/netboot", `{"enabled":false}`, func(n *boot.Node) bool { return !n.Netboot }},
		{http.MethodPut, path + "/netboot", `{"enabled":true}`, func(n *boot.Node) bool { return n.Netboot }},
		{http.MethodPut, path + "/netboot", `{"enabled":true,"once":true}`, func(n *boot.Node) bool {
			return n.Netboot && !n.ArmedUntil.IsZero()
		}},
		{http.MethodPost, path + "/reimage", "", func(n *boot.Node) bool {
			return n.Volume == "node-525400123456" && n.State == boot.StateEnrolled
		}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+" "+tt.body, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, true)
			f.enroll(t, "52:54:00:12:34:56", "alpine")
			rec := f.do(t, tt.method, tt.path, tt.body)
			if rec.Code != http.StatusOK {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, rec.Code, rec.Body, http.StatusOK)
			}
			var body nodeBody
			decode(t, rec, &body)
			if !tt.check(body.Node) {
				t.Errorf("%s %s: answered node %+v", tt.method, tt.path, body.Node)
			}
			stored, err := f.svc.Node(t.Context(), mustMAC(t, "52:54:00:12:34:56"))
			if err != nil || !tt.check(stored) {
				t.Errorf("%s %s: stored node %+v, %v", tt.method, tt.path, stored, err)
			}
		})
	}
}

func TestForget(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	f.enroll(t, "52:54:00:12:34:56", "alpine")
	const path = "/api/v1/nodes/52-54-00-12-34-56"
	if rec := f.do(t, http.MethodDelete, path, ""); rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
		t.Fatalf("DELETE %s = %d %q, want %d and no body", path, rec.Code, rec.Body, http.StatusNoContent)
	}
	if rec := f.do(t, http.MethodGet, path, ""); rec.Code != http.StatusNotFound {
		t.Errorf("GET %s after DELETE = %d, want %d", path, rec.Code, http.StatusNotFound)
	}
}

func TestTimeline(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	f.enroll(t, "52:54:00:12:34:56", "alpine")
	const path = "/api/v1/nodes/525400123456/timeline"
	rec := f.do(t, http.MethodGet, path, "")
	if got, want := strings.TrimSpace(rec.Body.String()), `{"mac":"52:54:00:12:34:56","boots":[]}`; rec.Code != http.StatusOK || got != want {
		t.Fatalf("GET %s = %d %s, want 200 %s", path, rec.Code, got, want)
	}
	mac := mustMAC(t, "52:54:00:12:34:56")
	for _, st := range []boot.Stage{boot.StageDHCP, boot.StageScript, boot.StageKernel} {
		if _, err := f.svc.Record(t.Context(), mac, boot.Event{Stage: st, Source: "10.0.0.9"}); err != nil {
			t.Fatal(err)
		}
	}
	initrd := boot.Fetch{Transport: boot.HTTP, File: "initrd", Outcome: boot.FetchDone, Bytes: 7, Size: 7}
	f.svc.RecordFetch(mac, boot.StageInitrd, netip.MustParseAddr("10.0.0.9"), initrd)
	if err := f.svc.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	rec = f.do(t, http.MethodGet, path, "")
	var body timelineBody
	decode(t, rec, &body)
	if rec.Code != http.StatusOK || body.MAC.String() != "52:54:00:12:34:56" || len(body.Boots) != 1 || len(body.Boots[0].Events) != 4 {
		t.Fatalf("GET %s = %d %+v, want one boot of 4 events", path, rec.Code, body)
	}
	// A fetch is sent as data and, for clients that read text, rendered in detail.
	if ev := body.Boots[0].Events[3]; ev.Fetch == nil || *ev.Fetch != initrd || ev.Detail != "http initrd: 7 bytes in 0s" {
		t.Errorf("GET %s: fetch event = %+v (fetch %+v), want its fetch and detail %q", path, ev, ev.Fetch, "http initrd: 7 bytes in 0s")
	}
}

func TestImages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	rec := f.do(t, http.MethodGet, "/api/v1/images", "")
	var list imagesBody
	decode(t, rec, &list)
	if rec.Code != http.StatusOK || len(list.Images) != 2 || list.Images[0].Name != "alpine" || list.Images[1].Name != "debian" {
		t.Errorf("GET /api/v1/images = %d %+v, want alpine and debian", rec.Code, list)
	}
	rec = f.do(t, http.MethodGet, "/api/v1/images/debian", "")
	var one imageBody
	decode(t, rec, &one)
	if rec.Code != http.StatusOK || one.Image.Name != "debian" || one.Image.Flavour != boot.FlavourInitramfsTools {
		t.Errorf("GET /api/v1/images/debian = %d %+v, want debian", rec.Code, one.Image)
	}
}
