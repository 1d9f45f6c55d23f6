package boot

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func newVolumeService(t *testing.T) (*Service, *memStore, *fakeVolumes) {
	t.Helper()
	vols := &fakeVolumes{}
	vols.init()
	s, st := newTestService(t, vols)
	return s, st, vols
}

func enrollTest(t *testing.T, s *Service, mac MAC) *Node {
	t.Helper()
	n, err := s.Enroll(context.Background(), EnrollRequest{MAC: mac, Image: "debian"})
	if err != nil {
		t.Fatalf("Enroll(%s): %v", mac, err)
	}
	return n
}

// TestEnrollUndoneOnFailure: a backend failing halfway leaves no volume,
// no node and no intent.
func TestEnrollUndoneOnFailure(t *testing.T) {
	t.Parallel()
	for _, step := range []string{"namespace", "clone"} {
		s, st, vols := newVolumeService(t)
		vols.failAt = step
		if _, err := s.Enroll(context.Background(), EnrollRequest{MAC: testMAC, Image: "debian"}); err == nil {
			t.Fatalf("Enroll with a failure at %s = nil error", step)
		}
		if names, _ := vols.List(context.Background()); len(names) != 0 {
			t.Errorf("failure at %s left volumes %v", step, names)
		}
		if ins, _ := st.Intents(context.Background()); len(ins) != 0 {
			t.Errorf("failure at %s left intents %v", step, ins)
		}
		if _, err := s.Node(context.Background(), testMAC); !errors.Is(err, ErrUnknown) {
			t.Errorf("failure at %s left a node: %v", step, err)
		}
	}
}

func TestEnrollRefusesLeftoverAndBadGolden(t *testing.T) {
	t.Parallel()
	s, _, vols := newVolumeService(t)
	ctx := context.Background()
	vols.Create(ctx, VolumeRequest{Name: VolumeName(testMAC)})
	if _, err := s.Enroll(ctx, EnrollRequest{MAC: testMAC, Image: "debian"}); !errors.Is(err, ErrExists) ||
		!strings.Contains(err.Error(), "reconcile --repair") {
		t.Errorf("Enroll over a left-over volume = %v, want ErrExists pointing at reconcile", err)
	}
	if _, ok := vols.vols[VolumeName(testMAC)]; !ok {
		t.Errorf("the refused enroll removed the left-over volume")
	}
	vols.golden = ErrUnprotected
	other := MAC{0x52, 0x54, 0, 0, 0, 2}
	if _, err := s.Enroll(ctx, EnrollRequest{MAC: other, Image: "debian"}); !errors.Is(err, ErrUnprotected) {
		t.Errorf("Enroll with an unprotected golden = %v, want ErrUnprotected", err)
	}
}

// TestRecover drives each intent through Recover from the states a crash
// can leave, and checks the outcome.
func TestRecover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("enroll undone", func(t *testing.T) {
		s, st, vols := newVolumeService(t)
		req := VolumeRequest{Name: VolumeName(testMAC), Node: testMAC, Golden: debian.Golden}
		st.PutIntent(ctx, Intent{Op: IntentEnroll, MAC: testMAC, Volume: req})
		vols.Create(ctx, req)
		fs, err := s.Recover(ctx)
		if err != nil || len(fs) != 1 || fs[0].Action != "undone" {
			t.Fatalf("Recover = %+v, %v; want the enroll undone", fs, err)
		}
		if names, _ := vols.List(ctx); len(names) != 0 {
			t.Errorf("volumes after undo: %v", names)
		}
	})
	t.Run("enroll finished", func(t *testing.T) {
		s, st, vols := newVolumeService(t)
		enrollTest(t, s, testMAC)
		st.PutIntent(ctx, Intent{Op: IntentEnroll, MAC: testMAC, Volume: VolumeRequest{Name: VolumeName(testMAC)}})
		fs, _ := s.Recover(ctx)
		if len(fs) != 1 || fs[0].Action != "finished" || len(vols.vols) != 1 {
			t.Errorf("Recover = %+v with volumes %v; want finished, volume kept", fs, vols.vols)
		}
		if ins, _ := st.Intents(ctx); len(ins) != 0 {
			t.Errorf("intents after Recover: %v", ins)
		}
	})
	for _, state := range []string{"not started", "discarded", "created"} {
		t.Run("reimage "+state, func(t *testing.T) {
			s, st, vols := newVolumeService(t)
			enrollTest(t, s, testMAC)
			name := VolumeName(testMAC)
			old := vols.ids[name]
			in := Intent{Op: IntentReimage, MAC: testMAC, Keep: "k", OldID: old,
				Volume: VolumeRequest{Name: name, Node: testMAC, Golden: alpine.Golden}}
			st.PutIntent(ctx, in)
			switch state {
			case "discarded":
				vols.Discard(ctx, name, "k")
			case "created":
				vols.Discard(ctx, name, "k")
				vols.Create(ctx, in.Volume)
			}
			if _, err := s.Recover(ctx); err != nil {
				t.Fatal(err)
			}
			if vols.ids[name] == old || vols.vols[name].Golden != alpine.Golden || vols.kept[name]["k"] != old {
				t.Errorf("after Recover: root id %s (old %s), golden %v, kept %v; want a fresh alpine root and old kept",
					vols.ids[name], old, vols.vols[name].Golden, vols.kept[name])
			}
			if ins, _ := st.Intents(ctx); len(ins) != 0 {
				t.Errorf("intents after Recover: %v", ins)
			}
		})
	}
	t.Run("retire", func(t *testing.T) {
		s, st, vols := newVolumeService(t)
		enrollTest(t, s, testMAC)
		st.PutIntent(ctx, Intent{Op: IntentRetire, MAC: testMAC, Volume: VolumeRequest{Name: VolumeName(testMAC)}})
		s.Recover(ctx)
		n, _ := s.Node(ctx, testMAC)
		if n.State != StateRetired || n.Volume != "" || len(vols.vols) != 0 {
			t.Errorf("after Recover node = %+v, volumes %v; want retired, none", n, vols.vols)
		}
	})
	t.Run("in flight left alone", func(t *testing.T) {
		s, st, _ := newVolumeService(t)
		st.PutIntent(ctx, Intent{Op: IntentEnroll, MAC: testMAC, Volume: VolumeRequest{Name: VolumeName(testMAC)}})
		s.inflight.begin(testMAC)
		if fs, _ := s.Recover(ctx); len(fs) != 0 {
			t.Errorf("Recover touched an operation in flight: %+v", fs)
		}
	})
}

func TestReconcile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, vols := newVolumeService(t)
	a, b, orphan := MAC{0x52, 0, 0, 0, 0, 0xa}, MAC{0x52, 0, 0, 0, 0, 0xb}, MAC{0x52, 0, 0, 0, 0, 0xc}
	enrollTest(t, s, a)
	enrollTest(t, s, b)
	vols.Create(ctx, VolumeRequest{Name: VolumeName(orphan)})
	vols.spaces["golden"] = true // not a node volume: never judged
	delete(vols.vols, VolumeName(b))
	r, err := s.Reconcile(ctx, ReconcileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{VolumeName(orphan): ProblemOrphanVolume, VolumeName(b): ProblemMissingVolume}
	if len(r.Findings) != 2 {
		t.Fatalf("Reconcile = %+v, want 2 findings", r.Findings)
	}
	for _, f := range r.Findings {
		if want[f.Volume] != f.Problem || f.Action != "" {
			t.Errorf("finding %+v, want problem %q and no action", f, want[f.Volume])
		}
	}
	if r, err = s.Reconcile(ctx, ReconcileOptions{Repair: true}); err != nil || len(r.Findings) != 2 {
		t.Fatalf("Reconcile(repair) = %+v, %v", r, err)
	}
	for _, f := range r.Findings {
		if f.Action == "" || f.Error != "" {
			t.Errorf("repair of %+v did nothing", f)
		}
	}
	if _, ok := vols.vols[VolumeName(orphan)]; ok {
		t.Errorf("orphan volume not removed")
	}
	if _, ok := vols.vols[VolumeName(b)]; !ok {
		t.Errorf("missing volume of %s not made", b)
	}
	if r, _ = s.Reconcile(ctx, ReconcileOptions{}); len(r.Findings) != 0 {
		t.Errorf("after repair Reconcile = %+v, want none", r.Findings)
	}
}

func TestVolumeOpsRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, vols := newVolumeService(t)
	enrollTest(t, s, testMAC)
	vols.holders[VolumeName(testMAC)] = []Holder{{Addr: "198.18.0.9:0/1"}}
	for name, err := range map[string]error{
		"reimage":  func() error { _, err := s.Reimage(ctx, testMAC); return err }(),
		"retire":   func() error { _, err := s.Retire(ctx, testMAC); return err }(),
		"rollback": func() error { _, err := s.Rollback(ctx, testMAC, "x"); return err }(),
	} {
		if !errors.Is(err, ErrBusy) {
			t.Errorf("%s of a held volume = %v, want ErrBusy", name, err)
		}
	}
	delete(vols.holders, VolumeName(testMAC))
	for _, bad := range []string{"", "-x", "a/b", "a@b", strings.Repeat("a", 65)} {
		if _, err := s.Rollback(ctx, testMAC, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Rollback(%q) = %v, want ErrInvalid", bad, err)
		}
		if bad != "" {
			if _, err := s.Snapshot(ctx, testMAC, bad); !errors.Is(err, ErrInvalid) {
				t.Errorf("Snapshot(%q) = %v, want ErrInvalid", bad, err)
			}
		}
	}
	if _, err := s.Snapshot(ctx, testMAC, "s"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Snapshot(ctx, testMAC, "s"); !errors.Is(err, ErrExists) {
		t.Errorf("second Snapshot s = %v, want ErrExists", err)
	}
	if _, err := s.ReimageKeep(ctx, testMAC, "s"); !errors.Is(err, ErrExists) {
		t.Errorf("ReimageKeep onto an existing snapshot name = %v, want ErrExists", err)
	}
	s.inflight.begin(testMAC)
	if _, err := s.Snapshot(ctx, testMAC, "t"); !errors.Is(err, ErrBusy) {
		t.Errorf("Snapshot during another operation = %v, want ErrBusy", err)
	}
	s.inflight.end(testMAC)
	n, err := s.Retire(ctx, testMAC)
	if err != nil || n.State != StateRetired || n.Netboot {
		t.Fatalf("Retire = %+v, %v", n, err)
	}
	if _, err := s.Retire(ctx, testMAC); !errors.Is(err, ErrInvalid) {
		t.Errorf("second Retire = %v, want ErrInvalid", err)
	}
}

func TestVolumeNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"node-525400123456", true}, {"golden", false}, {"node-52540012345", false},
		{"node-525400ABCDEF", false}, {"node-52540012345g", false}, {"xnode-525400123456", false},
	} {
		mac, ok := ParseVolumeName(tc.name)
		if ok != tc.ok || ok && VolumeName(mac) != tc.name {
			t.Errorf("ParseVolumeName(%q) = %v, %v; want ok %v", tc.name, mac, ok, tc.ok)
		}
	}
	for _, tc := range []struct{ addr, want string }{
		{"198.18.0.5:0/123", "198.18.0.5"}, {"[fd00::1]:6800/9", "fd00::1"}, {"10.0.0.1", "10.0.0.1"}, {"junk", "<nil>"},
	} {
		if got := (Holder{Addr: tc.addr}).IP().String(); got != tc.want {
			t.Errorf("Holder{%q}.IP() = %s, want %s", tc.addr, got, tc.want)
		}
	}
	tg := MapTarget{Monitors: []string{"198.18.0.1:6789", "198.18.0.2:6789"}, Pool: "rbd", Namespace: "node-a", Image: "root", User: "node-a"}
	if got, want := tg.Spec(), "198.18.0.1:6789,198.18.0.2:6789 name=node-a,key=client.node-a,_pool_ns=node-a rbd root -"; got != want {
		t.Errorf("Spec() = %q, want %q", got, want)
	}
	tg.Monitors, tg.Options = []string{"198.18.0.1:3300"}, "ms_mode=secure"
	if got, want := tg.Spec(), "198.18.0.1:3300 name=node-a,key=client.node-a,_pool_ns=node-a,ms_mode=secure rbd root -"; got != want {
		t.Errorf("Spec() = %q, want %q", got, want)
	}
}
