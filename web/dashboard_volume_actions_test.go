package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/bootd/bootd/boot"
)

func TestDashboardVolumeActions(t *testing.T) {
	t.Parallel()
	const m = volPage
	tests := []struct {
		name      string
		volumes   bool
		setup     func(*testing.T, *fixture)
		path      string
		form      []string
		want      int
		wantWhere string // the start of the redirect's Location
		wantField string // on refusal: the id of the field with the message
		wantMsg   string // the message next to the field, or the done message on the page redirected to
		check     func(*testing.T, *fixture)
	}{
		// Snapshot, on the machine's page.
		{"snapshot", true, nil, m + "/snapshots", []string{"name", " before-upgrade "}, 303, m + "?done=snapshot&name=before-upgrade", "",
			"Took a snapshot of 52:54:00:12:34:56's volume. Its name: before-upgrade.", snapshotsAre("s1", "before-upgrade")},
		{"snapshot, default name", true, nil, m + "/snapshots", nil, 303, m + "?done=snapshot&name=snap-", "", "Its name: snap-",
			func(t *testing.T, f *fixture) {
				if got := snapshotNames(t, f); len(got) != 2 || !strings.HasPrefix(got[1], "snap-") {
					t.Errorf("snapshots = %v, want s1 and a snap-<time>", got)
				}
			}},
		{"snapshot, bad name", true, nil, m + "/snapshots", []string{"name", "not a name"}, 400, "", "act-snapshot", "bad snapshot name",
			snapshotsAre("s1")},
		{"snapshot, name taken", true, nil, m + "/snapshots", []string{"name", "s1"}, 409, "", "act-snapshot", "already has a snapshot called s1",
			snapshotsAre("s1")},
		{"snapshot, no volume backend", false, nil, m + "/snapshots", []string{"name", "x"}, 409, "", "act-snapshot", "no volume backend", nil},

		// Roll back, through its confirmation page.
		{"rollback unconfirmed", true, nil, m + "/rollback", []string{"snapshot", "s1"}, 303, m + "/rollback?snapshot=s1", "", "", nil},
		{"rollback", true, nil, m + "/rollback", []string{"confirm", "yes", "snapshot", "s1"}, 303, m + "?done=rolled-back&name=s1", "",
			"Rolled 52:54:00:12:34:56's volume back: what was written since is gone. It is back at s1.", snapshotsAre("s1")},
		{"rollback, no snapshot chosen", true, nil, m + "/rollback", []string{"confirm", "yes"}, 400, "", "confirm-snapshot", "choose a snapshot", nil},
		{"rollback, unknown snapshot", true, nil, m + "/rollback", []string{"confirm", "yes", "snapshot", "nope"}, 404, "", "confirm-snapshot",
			"not found: snapshot nope", nil},
		{"rollback, bad name", true, nil, m + "/rollback", []string{"confirm", "yes", "snapshot", "../x"}, 400, "", "confirm-snapshot",
			"bad snapshot name", nil},
		{"rollback, volume in use", true, held, m + "/rollback", []string{"confirm", "yes", "snapshot", "s1"}, 409, "", "confirm-rollback",
			"is in use by client.4123 at 198.18.0.5:0/4242 (lock owner); power the node off first", nil},
		{"rollback, no volume backend", false, nil, m + "/rollback", []string{"confirm", "yes", "snapshot", "s1"}, 409, "", "confirm-rollback",
			"no volume backend", nil},

		// Reimage: delete or keep the old volume.
		{"reimage, delete the old volume", true, nil, m + "/reimage", []string{"confirm", "yes", "old", "delete"}, 303, m + "?done=reimaged", "",
			"its volume is a fresh clone", func(t *testing.T, f *fixture) {
				snapshotsAre()(t, f)
				if f.vols.Creates() != 2 {
					t.Errorf("%d volumes created, want 2 (enroll, reimage)", f.vols.Creates())
				}
			}},
		{"reimage, keep the old volume", true, nil, m + "/reimage", []string{"confirm", "yes", "old", "keep", "keep", "old-root"}, 303,
			m + "?done=reimaged-kept&name=old-root", "", "the old one is kept, listed with the snapshots. Its name: old-root.",
			snapshotsAre("s1", "+old-root")},
		{"reimage, keep with the default name", true, nil, m + "/reimage", []string{"confirm", "yes", "old", "keep"}, 303,
			m + "?done=reimaged-kept", "", "the old one is kept", func(t *testing.T, f *fixture) {
				if got := snapshotNames(t, f); len(got) != 2 || !strings.HasPrefix(got[1], "+reimage-") {
					t.Errorf("snapshots = %v, want s1 and a kept reimage-<time>", got)
				}
			}},
		{"reimage, no choice", true, nil, m + "/reimage", []string{"confirm", "yes"}, 400, "", "confirm-old",
			"choose whether to keep the old volume or delete it", snapshotsAre("s1")},
		{"reimage, bad name to keep", true, nil, m + "/reimage", []string{"confirm", "yes", "old", "keep", "keep", "old root"}, 400, "",
			"confirm-keep", "bad snapshot name", snapshotsAre("s1")},
		{"reimage, name to keep taken", true, nil, m + "/reimage", []string{"confirm", "yes", "old", "keep", "keep", "s1"}, 409, "",
			"confirm-keep", "already has a snapshot called s1", snapshotsAre("s1")},
		{"reimage, volume in use", true, held, m + "/reimage", []string{"confirm", "yes", "old", "delete"}, 409, "", "confirm-reimage",
			"power the node off first", snapshotsAre("s1")},

		// Retire.
		{"retire unconfirmed", true, nil, m + "/retire", nil, 303, m + "/retire", "", "", stateIs(boot.StateEnrolled)},
		{"retire", true, nil, m + "/retire", []string{"confirm", "yes"}, 303, m + "?done=retired", "",
			"Retired 52:54:00:12:34:56: its volume, snapshots and Ceph user are gone", func(t *testing.T, f *fixture) {
				stateIs(boot.StateRetired)(t, f)
				if names, _ := f.vols.List(t.Context()); len(names) != 0 {
					t.Errorf("volumes after retire: %v, want none", names)
				}
			}},
		{"retire, volume in use", true, held, m + "/retire", []string{"confirm", "yes"}, 409, "", "confirm-retire", "power the node off first",
			stateIs(boot.StateEnrolled)},
		{"retire without a volume backend", false, nil, m + "/retire", []string{"confirm", "yes"}, 303, m + "?done=retired", "", "Retired",
			stateIs(boot.StateRetired)},
		{"retire twice", true, func(t *testing.T, f *fixture) {
			if _, err := f.svc.Retire(t.Context(), mustMAC(t, volMAC)); err != nil {
				t.Fatal(err)
			}
		}, m + "/retire", []string{"confirm", "yes"}, 400, "", "confirm-retire", "not enrolled", stateIs(boot.StateRetired)},

		// Unfence.
		{"unfence unconfirmed", true, held, m + "/unfence", nil, 303, m + "/unfence", "", "", nil},
		{"unfence", true, held, m + "/unfence", []string{"confirm", "yes"}, 303, m + "?done=unfenced", "",
			"the clients that held its volume are cut off", func(t *testing.T, f *fixture) {
				if hs, _ := f.vols.Holders(t.Context(), volName); len(hs) != 0 {
					t.Errorf("holders after unfence: %v", hs)
				}
			}},
		{"unfence, nothing holds it", true, nil, m + "/unfence", []string{"confirm", "yes"}, 303, m + "?done=unfenced-none", "",
			"there was nobody to cut off", nil},
		{"unfence, no volume backend", false, nil, m + "/unfence", []string{"confirm", "yes"}, 409, "", "confirm-unfence", "no volume backend", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := volFixture(t, tt.volumes)
			if tt.setup != nil {
				tt.setup(t, f)
			}
			b := login(t, f)
			rec := b.post(t, tt.path, tt.form...)
			if rec.Code != tt.want {
				t.Fatalf("POST %s %v = %d, want %d\n%s", tt.path, tt.form, rec.Code, tt.want, text(rec))
			}
			loc := rec.Header().Get("Location")
			if tt.wantWhere == "" && loc != "" || !strings.HasPrefix(loc, tt.wantWhere) {
				t.Errorf("POST %s: Location = %q, want one starting %q", tt.path, loc, tt.wantWhere)
			}
			switch {
			case tt.wantField != "":
				if got := fieldError(rec, tt.wantField); !strings.Contains(got, tt.wantMsg) {
					t.Errorf("message next to %s = %q, want one containing %q\n%s", tt.wantField, got, tt.wantMsg, text(rec))
				}
			case tt.wantMsg != "":
				page := b.get(t, loc)
				if page.Code != http.StatusOK || !strings.Contains(strings.Join(strings.Fields(text(page)), " "), tt.wantMsg) {
					t.Errorf("GET %s = %d, want a page saying %q", loc, page.Code, tt.wantMsg)
				}
			}
			if tt.want == http.StatusBadRequest && tt.form != nil {
				for _, v := range []string{"not a name", "old root"} { // a refused value is shown again
					if strings.Contains(strings.Join(tt.form, "|"), v) && !strings.Contains(rec.Body.String(), `value="`+v+`"`) {
						t.Errorf("the refused page does not show %q again", v)
					}
				}
			}
			if tt.check != nil {
				tt.check(t, f)
			}
		})
	}
}
