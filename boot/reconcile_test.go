package boot

import (
	"context"
	"strings"
	"testing"
)

// TestReconcileMassDeleteGuard: a repair removes no volume without a node
// when the store has no nodes or when more than the limit have none, says
// why and lists them; the limit and the override lift it; a dry run
// removes nothing.
func TestReconcileMassDeleteGuard(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		nodes   int
		opts    ReconcileOptions
		refused string // "" : not refused
		action  string
		removed bool
	}{
		{"empty store", 0, ReconcileOptions{Repair: true, MaxDelete: 100}, "the store holds no nodes", "refused", false},
		{"empty store, override", 0, ReconcileOptions{Repair: true, AllowMassDelete: true}, "", "removed", true},
		{"over the default limit", 1, ReconcileOptions{Repair: true}, "4 of the pool's 5 bootd volumes have no node, more than the 3", "refused", false},
		{"within a raised limit", 1, ReconcileOptions{Repair: true, MaxDelete: 4}, "", "removed", true},
		{"override", 1, ReconcileOptions{Repair: true, AllowMassDelete: true}, "", "removed", true},
		{"dry run", 1, ReconcileOptions{Repair: true, DryRun: true, AllowMassDelete: true}, "", "would remove", false},
		{"dry run refused", 0, ReconcileOptions{Repair: true, DryRun: true}, "the store holds no nodes", "refused", false},
		{"report only", 0, ReconcileOptions{}, "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, _, vols := newVolumeService(t)
			for i := range tc.nodes {
				enrollTest(t, s, MAC{0x52, 0, 0, 0, 1, byte(i)})
			}
			var orphans []string
			for i := range 4 {
				name := VolumeName(MAC{0x52, 0, 0, 0, 2, byte(i)})
				vols.Create(ctx, VolumeRequest{Name: name})
				orphans = append(orphans, name)
			}
			r, err := s.Reconcile(ctx, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if (tc.refused == "") != (r.Refused == "") || !strings.Contains(r.Refused, tc.refused) {
				t.Errorf("Reconcile(%+v).Refused = %q, want %q", tc.opts, r.Refused, tc.refused)
			}
			got := map[string]string{}
			for _, f := range r.Findings {
				if f.Problem == ProblemOrphanVolume {
					got[f.Volume] = f.Action
				}
			}
			for _, name := range orphans {
				if a, ok := got[name]; !ok || a != tc.action {
					t.Errorf("Reconcile(%+v): %s listed %v with action %q, want %q", tc.opts, name, ok, a, tc.action)
				}
				if _, there := vols.vols[name]; there == tc.removed {
					t.Errorf("Reconcile(%+v): volume %s there = %v, want %v", tc.opts, name, there, !tc.removed)
				}
			}
		})
	}
	if _, err := (&Service{volumes: &fakeVolumes{}}).Reconcile(context.Background(), ReconcileOptions{MaxDelete: -1}); err == nil {
		t.Error("Reconcile(MaxDelete -1) = nil error, want ErrInvalid")
	}
}
