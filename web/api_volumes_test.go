package web

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/bootd/bootd/boot"
)

// volumeRoutes is every cloud-disk route, with a body it accepts once mac is enrolled.
func volumeRoutes(mac string) []route {
	node := "/api/v1/nodes/" + mac
	return []route{
		{http.MethodGet, node + "/volume", ""},
		{http.MethodGet, node + "/snapshots", ""},
		{http.MethodPost, node + "/snapshots", `{"name":"s1"}`},
		{http.MethodPost, node + "/rollback", `{"snapshot":"s1"}`},
		{http.MethodPost, node + "/retire", ""},
		{http.MethodPost, node + "/unfence", ""},
		{http.MethodPost, node + "/reimage", `{"keep":true,"name":"old"}`},
		{http.MethodPost, "/api/v1/reconcile", `{"repair":true}`},
		{http.MethodGet, "/api/v1/images/alpine/golden", ""},
		{http.MethodPost, "/api/v1/images/alpine/golden/protect", ""},
	}
}

func TestSnapshotRoutes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, true)
	f.enroll(t, "52:54:00:12:34:56", "alpine")
	const node = "/api/v1/nodes/52:54:00:12:34:56"
	rec := f.do(t, http.MethodPost, node+"/snapshots", `{"name":"before-upgrade"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST snapshots = %d %s, want 201", rec.Code, rec.Body)
	}
	var sb snapshotBody
	decode(t, rec, &sb)
	if sb.Snapshot.Name != "before-upgrade" {
		t.Errorf("snapshot = %+v, want before-upgrade", sb.Snapshot)
	}
	rec = f.do(t, http.MethodPost, node+"/snapshots", "") // no body: a name from the clock
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST snapshots without a body = %d %s, want 201", rec.Code, rec.Body)
	}
	decode(t, rec, &sb)
	if sb.Snapshot.Name != "snap-20250102-030405" {
		t.Errorf("default snapshot name = %q, want snap-20250102-030405", sb.Snapshot.Name)
	}
	rec = f.do(t, http.MethodGet, node+"/snapshots", "")
	var list snapshotsBody
	decode(t, rec, &list)
	if rec.Code != http.StatusOK || len(list.Snapshots) != 2 || list.MAC.String() != "52:54:00:12:34:56" {
		t.Errorf("GET snapshots = %d %+v, want two", rec.Code, list)
	}
	if rec := f.do(t, http.MethodPost, node+"/rollback", `{"snapshot":"before-upgrade"}`); rec.Code != http.StatusOK {
		t.Errorf("POST rollback = %d %s, want 200", rec.Code, rec.Body)
	}
	// Reimage keeping the old volume lists it as a kept snapshot.
	if rec := f.do(t, http.MethodPost, node+"/reimage", `{"keep":true,"name":"old"}`); rec.Code != http.StatusOK {
		t.Fatalf("POST reimage keep = %d %s, want 200", rec.Code, rec.Body)
	}
	decode(t, f.do(t, http.MethodGet, node+"/snapshots", ""), &list)
	if n := len(list.Snapshots); n == 0 || list.Snapshots[n-1].Name != "old" || !list.Snapshots[n-1].Kept {
		t.Errorf("snapshots after reimage keep = %+v, want kept volume old last", list.Snapshots)
	}
	rec = f.do(t, http.MethodPost, node+"/retire", "")
	var nb nodeBody
	decode(t, rec, &nb)
	if rec.Code != http.StatusOK || nb.Node.State != boot.StateRetired || nb.Node.Volume != "" {
		t.Errorf("POST retire = %d %+v, want a retired node without volume", rec.Code, nb.Node)
	}
	if rec := f.do(t, http.MethodDelete, node, ""); rec.Code != http.StatusNoContent {
		t.Errorf("DELETE after retire = %d %s, want 204", rec.Code, rec.Body)
	}
}

func TestReconcileAndGoldenRoutes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, true)
	f.enroll(t, "52:54:00:12:34:56", "alpine")
	rec := f.do(t, http.MethodPost, "/api/v1/reconcile", "")
	var r boot.Reconciliation
	decode(t, rec, &r)
	if rec.Code != http.StatusOK || r.Repair || len(r.Findings) != 0 {
		t.Errorf("POST reconcile = %d %+v, want no findings", rec.Code, r)
	}
	broken := boot.GoldenRef{Image: "unprotected", Snapshot: "v1"}
	f.catalog.images["broken"] = &boot.Image{Name: "broken", Golden: broken}
	f.vols.SetGolden(broken, fmt.Errorf("%w: golden snapshot %s is not protected", boot.ErrUnprotected, broken))
	for _, tc := range []struct {
		method, path string
		want         goldenBody
	}{
		{http.MethodGet, "/api/v1/images/alpine/golden", goldenBody{Image: "alpine", Golden: "rbd/alpine@golden", OK: true}},
		{http.MethodGet, "/api/v1/images/broken/golden", goldenBody{Image: "broken", Golden: "unprotected@v1",
			Problem: "golden snapshot not protected: golden snapshot unprotected@v1 is not protected"}},
		{http.MethodPost, "/api/v1/images/broken/golden/protect", goldenBody{Image: "broken", Golden: "unprotected@v1", OK: true}},
	} {
		rec := f.do(t, tc.method, tc.path, "")
		var got goldenBody
		decode(t, rec, &got)
		if rec.Code != http.StatusOK || got != tc.want {
			t.Errorf("%s %s = %d %+v, want 200 %+v", tc.method, tc.path, rec.Code, got, tc.want)
		}
	}
	if rec := f.do(t, http.MethodGet, "/api/v1/images/gentoo/golden", ""); rec.Code != http.StatusNotFound {
		t.Errorf("golden of an unknown image = %d, want 404", rec.Code)
	}
}

func TestVolumeRouteErrors(t *testing.T) {
	t.Parallel()
	const node = "/api/v1/nodes/52:54:00:12:34:56"
	checkErrors(t, []errorCase{
		{"snapshot without volumes", false, http.MethodPost, node + "/snapshots", `{"name":"a"}`, 409, "no volume backend"},
		{"bad snapshot name", true, http.MethodPost, node + "/snapshots", `{"name":"a/b"}`, 400, "bad snapshot name"},
		{"rollback without snapshot", true, http.MethodPost, node + "/rollback", `{}`, 400, `"snapshot" is required`},
		{"rollback missing snapshot", true, http.MethodPost, node + "/rollback", `{"snapshot":"nope"}`, 404, "snapshot nope"},
		{"reimage name without keep", true, http.MethodPost, node + "/reimage", `{"name":"x"}`, 400, `needs "keep": true`},
		{"reimage bad keep name", true, http.MethodPost, node + "/reimage", `{"keep":true,"name":"-x"}`, 400, "bad snapshot name"},
		{"retire unknown node", true, http.MethodPost, "/api/v1/nodes/52:54:00:00:00:99/retire", "", 404, "unknown machine"},
		{"reconcile without volumes", false, http.MethodPost, "/api/v1/reconcile", `{"repair":false}`, 409, "no volume backend"},
		{"unfence without volumes", false, http.MethodPost, node + "/unfence", "", 409, "no volume backend"},
	})
}

func TestVolumeErrorStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("x: %w", boot.ErrNotFound), http.StatusNotFound},
		{fmt.Errorf("x: %w", boot.ErrBusy), http.StatusConflict},
		{fmt.Errorf("x: %w", boot.ErrFenced), http.StatusConflict},
		{fmt.Errorf("x: %w", boot.ErrUnprotected), http.StatusConflict},
		{errors.New("ceph on fire"), http.StatusInternalServerError},
	} {
		if got, _ := status(tc.err); got != tc.want {
			t.Errorf("status(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
