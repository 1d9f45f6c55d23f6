//go:build integration

package rbd

import (
	"testing"

	"github.com/bootd/bootd/boot"
	"github.com/ceph/go-ceph/rbd"
)

// TestReconcileRepairs makes a volume without a node and a node without a
// volume behind bootd's back, as admin, and checks that reconcile reports
// both and --repair mends both. Not parallel: repair judges the whole pool.
func TestReconcileRepairs(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	orphan := randMAC()
	ons := boot.VolumeName(orphan)
	io, err := testCluster.admin.OpenIOContext("rbd")
	if err != nil {
		t.Fatal(err)
	}
	defer io.Destroy()
	if err := rbd.NamespaceCreate(io, ons); err != nil {
		t.Fatal(err)
	}
	if err := adminCommand(testCluster.admin, map[string]any{"prefix": "auth get-or-create", "entity": "client." + ons,
		"caps": []string{"mon", "profile rbd"}}, nil); err != nil {
		t.Fatal(err)
	}
	mac := f.enroll(t, 0)
	ns := boot.VolumeName(mac)
	nio, err := testCluster.admin.OpenIOContext("rbd")
	if err != nil {
		t.Fatal(err)
	}
	defer nio.Destroy()
	nio.SetNamespace(ns)
	if err := rbd.RemoveImage(nio, "root"); err != nil {
		t.Fatal(err)
	}
	findings := func(repair bool) map[string]boot.Finding {
		r, err := f.svc.Reconcile(ctx, boot.ReconcileOptions{Repair: repair})
		if err != nil {
			t.Fatalf("Reconcile(%v): %v", repair, err)
		}
		out := map[string]boot.Finding{}
		for _, fd := range r.Findings {
			if fd.Volume == ons || fd.Volume == ns {
				out[fd.Volume] = fd
			}
		}
		return out
	}
	got := findings(false)
	if got[ons].Problem != boot.ProblemOrphanVolume || got[ns].Problem != boot.ProblemMissingVolume {
		t.Fatalf("Reconcile = %+v, want %s without node and %s without volume", got, ons, ns)
	}
	got = findings(true)
	if got[ons].Action != "removed" || got[ns].Action != "created" {
		t.Fatalf("Reconcile(repair) = %+v, want removed and created", got)
	}
	if imgs, caps := imagesIn(t, ons), userCaps(t, "client."+ons); imgs != nil || caps != nil {
		t.Errorf("orphan %s after repair: namespace %v, user %v; want gone", ons, imgs, caps)
	}
	checkWhole(t, mac, true)
	if got := findings(false); len(got) != 0 {
		t.Errorf("Reconcile after repair = %+v, want nothing", got)
	}
}
