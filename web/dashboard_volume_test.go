package web

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/bootd/bootd/boot"
)

const (
	volMAC  = "52:54:00:12:34:56"
	volPage = "/machines/" + volMAC
	volName = "node-525400123456"
)

// holder is a client that holds a volume, as Ceph reports one.
var holder = boot.Holder{Addr: "198.18.0.5:0/4242", Client: "client.4123", Lock: true}

// volFixture is a dashboard with volMAC enrolled with alpine and, with
// volumes, a snapshot s1 of its volume.
func volFixture(t *testing.T, withVolumes bool) *fixture {
	t.Helper()
	f := newDashFixture(t, withVolumes, nil)
	f.enroll(t, volMAC, "alpine")
	if withVolumes {
		if _, err := f.svc.Snapshot(t.Context(), mustMAC(t, volMAC), "s1"); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// snapshotNames lists the names of volMAC's snapshots and kept volumes, kept ones marked with a +.
func snapshotNames(t *testing.T, f *fixture) []string {
	t.Helper()
	snaps, err := f.vols.Snapshots(t.Context(), volName)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range snaps {
		if s.Kept {
			s.Name = "+" + s.Name
		}
		out = append(out, s.Name)
	}
	return out
}

func TestDashboardVolumeCard(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		volumes bool
		setup   func(t *testing.T, f *fixture)
		path    string
		has     []string // in the page's text
		hasHTML []string // in its HTML
		lacks   []string // in its HTML
	}{
		{"volume with snapshots and a holder", true, func(t *testing.T, f *fixture) {
			if _, err := f.svc.ReimageKeep(t.Context(), mustMAC(t, volMAC), "old-root"); err != nil {
				t.Fatal(err)
			}
			f.vols.Hold(volName, holder)
		}, volPage,
			[]string{"node-525400123456", "Size8G", "Cloned fromrbd/alpine@golden", "◐ yes by client.4123 at 198.18.0.5:0/4242 (lock owner)",
				"Unfence…", "kept volume", "Take snapshot"},
			[]string{`<tr data-snapshot="old-root">`, `href="/machines/52:54:00:12:34:56/rollback?snapshot=old-root"`,
				`href="/machines/52:54:00:12:34:56/unfence"`, `action="/machines/52:54:00:12:34:56/snapshots"`, `href="/machines/52:54:00:12:34:56/retire"`},
			[]string{`id="no-snapshots"`}},
		{"volume, free, one snapshot", true, nil, volPage,
			[]string{"In useno: no machine has it open", "s1", "snapshot"},
			[]string{`<tr data-snapshot="s1">`, `id="take-snapshot"`},
			[]string{`id="unfence"`, `id="no-backend"`}},
		{"volume missing from the cluster", true, func(t *testing.T, f *fixture) {
			if err := f.vols.Remove(t.Context(), volName); err != nil {
				t.Fatal(err)
			}
		}, volPage, []string{"Volume node-525400123456 is missing from the cluster", "A reimage clones a fresh one"}, nil,
			[]string{`id="take-snapshot"`}},
		{"no volume backend", false, nil, volPage,
			[]string{"No volume backend: this bootd runs without Ceph", "Reimage needs a volume backend", "Retire…"}, nil,
			[]string{`id="take-snapshot"`, `id="reimage"`, `id="snapshots"`}},
		{"discovered", true, func(t *testing.T, f *fixture) {
			if _, err := f.svc.Discover(t.Context(), boot.Sighting{MAC: mustMAC(t, "52:54:00:00:00:0a")}); err != nil {
				t.Fatal(err)
			}
		}, "/machines/52:54:00:00:00:0a", []string{"None: the machine is discovered.", "Enroll this machine"}, nil,
			[]string{`id="take-snapshot"`, `id="retire"`}},
		{"retired", true, func(t *testing.T, f *fixture) {
			if _, err := f.svc.Retire(t.Context(), mustMAC(t, volMAC)); err != nil {
				t.Fatal(err)
			}
		}, volPage, []string{"None: the machine is retired.", "Forget…"}, nil, []string{`id="take-snapshot"`, `id="retire"`}},
		{"done message with a name", true, nil, volPage + "?done=snapshot&name=s1",
			[]string{"Took a snapshot of 52:54:00:12:34:56's volume. Its name: s1."}, nil, nil},
		{"done message with a name bootd could not have made", true, nil, volPage + "?done=snapshot&name=%3Cb%3Ehi",
			[]string{"Took a snapshot of 52:54:00:12:34:56's volume."}, nil, []string{"Its name", "&lt;b&gt;hi"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := volFixture(t, tt.volumes)
			if tt.setup != nil {
				tt.setup(t, f)
			}
			rec := login(t, f).get(t, tt.path)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200\n%s", tt.path, rec.Code, text(rec))
			}
			page, body := strings.Join(strings.Fields(text(rec)), " "), rec.Body.String()
			for _, want := range tt.has {
				if !strings.Contains(page, want) && !strings.Contains(strings.ReplaceAll(page, " ", ""), strings.ReplaceAll(want, " ", "")) {
					t.Errorf("GET %s lacks %q", tt.path, want)
				}
			}
			for _, want := range tt.hasHTML {
				if !strings.Contains(body, want) {
					t.Errorf("GET %s: HTML lacks %s", tt.path, want)
				}
			}
			for _, bad := range tt.lacks {
				if strings.Contains(body, bad) {
					t.Errorf("GET %s: HTML has %s", tt.path, bad)
				}
			}
		})
	}
}

func TestDashboardConfirmPages(t *testing.T) {
	t.Parallel()
	f := volFixture(t, true)
	f.vols.Hold(volName, holder)
	b := login(t, f)
	bare := volFixture(t, false)
	bb := login(t, bare)
	tests := []struct {
		b       *browser
		path    string
		want    int
		has     []string // text
		hasHTML []string
	}{
		{b, volPage + "/rollback?snapshot=s1", 200, []string{"Roll back node-525400123456", "everything written to it since is destroyed", "Cancel"},
			[]string{`<option value="s1" selected>`, `name="confirm" value="yes"`}},
		{b, volPage + "/rollback", 200, []string{"Snapshot to return to"}, []string{`<option value="s1">`}},
		{b, volPage + "/retire", 200, []string{"deletes this machine's volume", "Goes with it", "s1"}, []string{`id="confirm"`}},
		{b, volPage + "/unfence", 200, []string{"Held by", "client.4123 at 198.18.0.5:0/4242 (lock owner)", "a live one can no longer write"}, nil},
		{b, volPage + "/reimage", 200, []string{"Delete it, with its snapshots", "Keep it whole"},
			[]string{`name="old" value="delete"`, `name="old" value="keep"`, `name="keep"`}},
		{bb, volPage + "/rollback?snapshot=s1", 200, []string{"no volume backend"}, []string{`<option value="">choose…</option>` + "\n</select>"}},
		{bb, volPage + "/unfence", 200, []string{"nobody now"}, nil},
		{bb, volPage + "/reimage", 200, []string{"Reimage node-525400123456"}, nil},
		{b, "/machines/52:54:00:00:00:99/rollback?snapshot=s1", 404, []string{"unknown machine"}, nil},
		{b, "/machines/52:54:00:00:00:99/retire", 404, []string{"unknown machine"}, nil},
		{b, "/machines/52:54:00:00:00:99/unfence", 404, []string{"unknown machine"}, nil},
		{b, "/machines/nope/retire", 400, []string{"bad MAC address"}, nil},
	}
	for _, tt := range tests {
		rec := tt.b.get(t, tt.path)
		if rec.Code != tt.want {
			t.Errorf("GET %s = %d, want %d", tt.path, rec.Code, tt.want)
		}
		page := strings.Join(strings.Fields(text(rec)), " ")
		for _, want := range tt.has {
			if !strings.Contains(page, want) {
				t.Errorf("GET %s lacks %q", tt.path, want)
			}
		}
		for _, want := range tt.hasHTML {
			if !strings.Contains(rec.Body.String(), want) {
				t.Errorf("GET %s: HTML lacks %s", tt.path, want)
			}
		}
	}
	// The unconfirmed "unfence" page only looked: the holder still holds.
	if hs, _ := f.vols.Holders(t.Context(), volName); len(hs) != 1 {
		t.Errorf("GET of a confirmation page changed the holders: %v", hs)
	}
}

// TestDashboardVolumeRefusals sends every new action for a machine that
// is not there, or with a MAC that is not one.
func TestDashboardVolumeRefusals(t *testing.T) {
	t.Parallel()
	f := volFixture(t, true)
	b := login(t, f)
	for _, action := range []string{"snapshots", "rollback", "reimage", "retire", "unfence"} {
		for _, tt := range []struct {
			mac  string
			want int
			msg  string
		}{{"52:54:00:00:00:99", 404, "unknown machine"}, {"xyz", 400, "bad MAC address"}} {
			path := "/machines/" + tt.mac + "/" + action
			rec := b.post(t, path, "confirm", "yes", "snapshot", "s1", "name", "s2", "old", "delete")
			if rec.Code != tt.want || !strings.Contains(text(rec), tt.msg) {
				t.Errorf("POST %s = %d, want %d with %q", path, rec.Code, tt.want, tt.msg)
			}
		}
	}
	if got := snapshotNames(t, f); !slices.Equal(got, []string{"s1"}) {
		t.Errorf("refused actions changed the snapshots: %v", got)
	}
}

// snapshotsAre returns a check that volMAC's snapshots are want.
func snapshotsAre(want ...string) func(*testing.T, *fixture) {
	return func(t *testing.T, f *fixture) {
		t.Helper()
		if got := snapshotNames(t, f); !slices.Equal(got, want) {
			t.Errorf("snapshots = %v, want %v", got, want)
		}
	}
}

// stateIs returns a check that volMAC is in state want.
func stateIs(want boot.State) func(*testing.T, *fixture) {
	return func(t *testing.T, f *fixture) {
		t.Helper()
		n, err := f.svc.Node(t.Context(), mustMAC(t, volMAC))
		if err != nil || n.State != want {
			t.Errorf("node = %+v, %v; want state %s", n, err, want)
		}
	}
}

// held makes volMAC's volume held by another client.
func held(t *testing.T, f *fixture) { f.vols.Hold(volName, holder) }
