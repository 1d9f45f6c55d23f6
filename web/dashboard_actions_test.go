package web

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/bootd/bootd/boot"
)

func TestDashboardEnroll(t *testing.T) {
	t.Parallel()
	const disc = "52:54:00:00:00:0a"
	tests := []struct {
		name      string
		form      []string
		want      int
		wantField string // the id of the field whose message must show
		wantMsg   string
	}{
		{"by MAC", []string{"mac", "52-54-00-00-00-0B", "image", "debian", "hostname", "web9", "size", "30G"}, 303, "", ""},
		{"discovered, defaults", []string{"from", "discovered", "mac", disc, "image", "alpine"}, 303, "", ""},
		{"bad MAC", []string{"mac", "52:54:00", "image", "debian"}, 400, "manual-mac", "bad MAC address"},
		{"no image", []string{"mac", "52:54:00:00:00:0b"}, 400, "manual-image", "choose an image"},
		{"unknown image", []string{"mac", "52:54:00:00:00:0b", "image", "gentoo"}, 400, "manual-image", `unknown image "gentoo"`},
		{"bad hostname", []string{"mac", "52:54:00:00:00:0b", "image", "debian", "hostname", "Web_9"}, 400, "manual-hostname", "bad hostname"},
		{"bad size", []string{"mac", "52:54:00:00:00:0b", "image", "debian", "size", "lots"}, 400, "manual-size", "bad size"},
		{"already enrolled", []string{"mac", "52:54:00:12:34:56", "image", "debian"}, 409, "manual-mac", "already enrolled"},
		{"discovered, bad hostname", []string{"from", "discovered", "mac", disc, "image", "alpine", "hostname", "-x"}, 400,
			"d-" + disc + "-hostname", "bad hostname"},
		{"detail page, no image", []string{"from", "detail", "mac", disc}, 400, "detail-image", "choose an image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newDashFixture(t, true, nil)
			f.enroll(t, "52:54:00:12:34:56", "alpine")
			if _, err := f.svc.Discover(t.Context(), boot.Sighting{MAC: mustMAC(t, disc), Arch: "rpi4"}); err != nil {
				t.Fatal(err)
			}
			b := login(t, f)
			rec := b.post(t, "/machines", tt.form...)
			if rec.Code != tt.want {
				t.Fatalf("POST /machines %v = %d, want %d\n%s", tt.form, rec.Code, tt.want, text(rec))
			}
			if tt.want == http.StatusSeeOther {
				mac := mustMAC(t, formValue(tt.form, "mac"))
				if loc := rec.Header().Get("Location"); loc != "/machines?done=enrolled&mac="+strings.ReplaceAll(mac.String(), ":", "%3A") {
					t.Errorf("Location = %q", loc)
				}
				n, err := f.svc.Node(t.Context(), mac)
				if err != nil || n.State != boot.StateEnrolled || n.Volume == "" {
					t.Fatalf("after enroll: %+v, %v; want enrolled with a volume", n, err)
				}
				page := b.get(t, rec.Header().Get("Location"))
				if !strings.Contains(text(page), "Enrolled "+mac.String()) || !strings.Contains(page.Body.String(), `<tr data-mac="`+mac.String()+`" class="fresh">`) {
					t.Errorf("machines page after enroll lacks the message or the highlighted row")
				}
				return
			}
			if got := fieldError(rec, tt.wantField); !strings.Contains(got, tt.wantMsg) {
				t.Errorf("message next to %s = %q, want one containing %q\n%s", tt.wantField, got, tt.wantMsg, rec.Body)
			}
			if nodes, _ := f.svc.Nodes(t.Context(), boot.StateEnrolled); len(nodes) != 1 {
				t.Errorf("a refused enroll enrolled a machine: %d enrolled", len(nodes))
			}
		})
	}
}

func TestDashboardActions(t *testing.T) {
	t.Parallel()
	const m = "/machines/52:54:00:12:34:56"
	tests := []struct {
		name      string
		volumes   bool
		path      string
		form      []string
		want      int
		wantWhere string                // Location of a redirect
		wantField string                // id of the field with the message
		wantMsg   string                // the message, next to the field or on the page
		check     func(*boot.Node) bool // the node after, nil: forgotten
	}{
		{"assign", false, m + "/assign", []string{"image", "debian"}, 303, m + "?done=assigned", "", "",
			func(n *boot.Node) bool { return n.Image == "debian" }},
		{"assign unknown image", false, m + "/assign", []string{"image", "gentoo"}, 400, "", "act-image", `unknown image "gentoo"`,
			func(n *boot.Node) bool { return n.Image == "alpine" }},
		{"assign no image", false, m + "/assign", nil, 400, "", "act-image", "choose an image",
			func(n *boot.Node) bool { return n.Image == "alpine" }},
		{"netboot off", false, m + "/netboot", []string{"netboot", "off"}, 303, m + "?done=netboot-off", "", "",
			func(n *boot.Node) bool { return !n.Netboot }},
		{"netboot bogus", false, m + "/netboot", []string{"netboot", "maybe"}, 400, "", "act-netboot", "on, off or once",
			func(n *boot.Node) bool { return n.Netboot }},
		{"netboot once", false, m + "/netboot", []string{"netboot", "once"}, 303, m + "?done=netboot-once", "", "",
			func(n *boot.Node) bool { return n.Netboot && !n.ArmedUntil.IsZero() }},
		{"reimage unconfirmed", true, m + "/reimage", nil, 303, m + "/reimage", "", "",
			func(n *boot.Node) bool { return n.State == boot.StateBooting }},
		{"reimage", true, m + "/reimage", []string{"confirm", "yes", "old", "delete"}, 303, m + "?done=reimaged", "", "",
			func(n *boot.Node) bool { return n.State == boot.StateEnrolled && n.Volume == "node-525400123456" }},
		{"reimage without volumes", false, m + "/reimage", []string{"confirm", "yes"}, 409, "", "confirm-reimage", "no volume backend",
			func(n *boot.Node) bool { return n.State == boot.StateBooting }},
		{"forget unconfirmed", false, m + "/forget", nil, 303, m + "/forget", "", "",
			func(n *boot.Node) bool { return true }},
		{"forget", false, m + "/forget", []string{"confirm", "yes"}, 303, "/machines?done=forgotten&mac=52:54:00:12:34:56", "", "", nil},
		{"forget with a volume", true, m + "/forget", []string{"confirm", "yes"}, 400, "", "confirm-forget", "retire it first",
			func(n *boot.Node) bool { return true }},
		{"unknown machine", false, "/machines/52:54:00:00:00:99/netboot", []string{"netboot", "off"}, 404, "", "", "unknown machine",
			func(n *boot.Node) bool { return n.Netboot }},
		{"bad MAC", false, "/machines/xyz/assign", []string{"image", "debian"}, 400, "", "", "bad MAC address",
			func(n *boot.Node) bool { return n.Image == "alpine" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newDashFixture(t, tt.volumes, nil)
			f.enroll(t, "52:54:00:12:34:56", "alpine")
			mac := mustMAC(t, "52:54:00:12:34:56")
			if _, err := f.svc.Record(t.Context(), mac, boot.Event{Stage: boot.StageKernel}); err != nil {
				t.Fatal(err)
			}
			b := login(t, f)
			rec := b.post(t, tt.path, tt.form...)
			if rec.Code != tt.want {
				t.Fatalf("POST %s %v = %d, want %d\n%s", tt.path, tt.form, rec.Code, tt.want, text(rec))
			}
			if loc := rec.Header().Get("Location"); loc != tt.wantWhere {
				t.Errorf("POST %s: Location = %q, want %q", tt.path, loc, tt.wantWhere)
			}
			if tt.wantField != "" {
				if got := fieldError(rec, tt.wantField); !strings.Contains(got, tt.wantMsg) {
					t.Errorf("message next to %s = %q, want one containing %q", tt.wantField, got, tt.wantMsg)
				}
			} else if !strings.Contains(text(rec), tt.wantMsg) {
				t.Errorf("POST %s: page lacks %q", tt.path, tt.wantMsg)
			}
			n, err := f.svc.Node(t.Context(), mac)
			switch {
			case tt.check == nil && !errors.Is(err, boot.ErrUnknown):
				t.Errorf("after %s: node %+v, %v; want it gone", tt.name, n, err)
			case tt.check != nil && (err != nil || !tt.check(n)):
				t.Errorf("after %s: node %+v, %v", tt.name, n, err)
			}
			if tt.want == http.StatusSeeOther && strings.Contains(tt.wantWhere, "done=") {
				if page := b.get(t, tt.wantWhere); page.Code != http.StatusOK || !strings.Contains(page.Body.String(), `class="flash ok"`) {
					t.Errorf("GET %s = %d without a done message", tt.wantWhere, page.Code)
				}
			}
		})
	}
}

// formValue returns the value of key in a list of key, value pairs.
func formValue(kv []string, key string) string {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == key {
			return kv[i+1]
		}
	}
	return ""
}
