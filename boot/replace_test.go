package boot

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var replacement = MAC{0x52, 0x54, 0x00, 0x65, 0x43, 0x21}

// timelineSays reports whether mac's timeline has an event containing want.
func timelineSays(t *testing.T, s *Service, mac MAC, want string) bool {
	t.Helper()
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	boots, err := s.Timeline(context.Background(), mac)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range boots {
		for _, ev := range b.Events {
			if strings.Contains(ev.Text(), want) {
				return true
			}
		}
	}
	return false
}

// TestReplace moves an enrolled node whose dead machine still holds its
// volume and has a boot under way to a discovered machine: the new MAC
// gets the node (hostname, image, volume and its snapshots), the holder is
// cut off, the key is new, the old MAC's boot gets no token and its record
// is retired with its timeline; both timelines say so; the old MAC cannot
// make the volume again; nothing is left for reconcile.
func TestReplace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, st, vols := newVolumeService(t)
	if _, err := s.Enroll(ctx, EnrollRequest{MAC: testMAC, Image: "debian", Hostname: "web1"}); err != nil {
		t.Fatal(err)
	}
	vol := VolumeName(testMAC)
	if _, err := s.Snapshot(ctx, testMAC, "before"); err != nil {
		t.Fatal(err)
	}
	dead := Holder{Addr: "198.18.0.5:0/1", Client: "client.4100", Lock: true}
	vols.holders[vol] = []Holder{dead}
	addr := netip.MustParseAddr("198.18.0.5")
	s.SawLease(testMAC, addr, true, false)
	if _, err := s.IssueBootToken(testMAC, addr); err != nil {
		t.Fatalf("token before the replace: %v", err)
	}
	oldKey, _ := vols.Key(ctx, vol)
	if _, err := s.Discover(ctx, Sighting{MAC: replacement, Arch: "x64-uefi"}); err != nil {
		t.Fatal(err)
	}

	n, err := s.Replace(ctx, testMAC, replacement)
	if err != nil {
		t.Fatal(err)
	}
	if n.MAC.String() != replacement.String() || n.Hostname != "web1" || n.Image != "debian" || n.Volume != vol ||
		n.State != StateEnrolled || !n.Netboot || n.Arch != "x64-uefi" || n.Replaces.String() != testMAC.String() {
		t.Errorf("Replace = %+v; want web1 on debian with volume %s under %s, enrolled, netboot on, arch kept", n, vol, replacement)
	}
	old, err := s.Node(ctx, testMAC)
	if err != nil || old.State != StateRetired || old.Volume != "" || old.Netboot || old.ReplacedBy.String() != replacement.String() {
		t.Errorf("old node = %+v, %v; want retired, no volume, netboot off, replaced by %s", old, err, replacement)
	}
	if len(vols.released) != 1 || vols.released[0] != dead {
		t.Errorf("released %v, want the dead machine %v", vols.released, dead)
	}
	if newKey, _ := vols.Key(ctx, vol); newKey == oldKey {
		t.Error("the volume's key was not made anew")
	}
	if snaps, _ := s.Snapshots(ctx, replacement); len(snaps) != 1 || snaps[0].Name != "before" {
		t.Errorf("snapshots of the new MAC = %+v, want the old machine's", snaps)
	}
	s.SawLease(testMAC, addr, true, false)
	if _, err := s.IssueBootToken(testMAC, addr); err == nil {
		t.Error("the old MAC still gets a boot token")
	}
	newAddr := netip.MustParseAddr("198.18.0.6")
	s.SawLease(replacement, newAddr, true, false)
	if _, err := s.IssueBootToken(replacement, newAddr); err != nil {
		t.Errorf("the new MAC gets no boot token: %v", err)
	}
	if !timelineSays(t, s, testMAC, "replaced by "+replacement.String()) ||
		!timelineSays(t, s, replacement, "replaces "+testMAC.String()) {
		t.Error("the timelines do not both say what happened")
	}
	if _, err := s.Enroll(ctx, EnrollRequest{MAC: testMAC, Image: "debian"}); !errors.Is(err, ErrExists) ||
		!strings.Contains(err.Error(), "belongs to "+replacement.String()) {
		t.Errorf("enrolling the old MAC again = %v, want ErrExists naming the replacement", err)
	}
	if _, ok := vols.vols[vol]; !ok {
		t.Fatal("the refused enroll removed the volume")
	}
	r, err := s.Reconcile(ctx, ReconcileOptions{Repair: true})
	if err != nil || len(r.Findings) != 0 {
		t.Errorf("reconcile after the replace = %+v, %v; want nothing", r, err)
	}
	if ins, _ := st.Intents(ctx); len(ins) != 0 {
		t.Errorf("intents left: %+v", ins)
	}
}

// TestReplaceRefusals: the same MAC, an old MAC not enrolled, a new MAC
// enrolled already: each refused with its error, nothing changed.
func TestReplaceRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, st, vols := newVolumeService(t)
	enrollTest(t, s, testMAC)
	enrollTest(t, s, replacement)
	other := MAC{0x52, 0x54, 0, 0, 0, 9}
	for _, tc := range []struct {
		old, new MAC
		want     error
	}{
		{testMAC, testMAC, ErrInvalid},
		{other, replacement, ErrUnknown},
		{testMAC, replacement, ErrExists},
		{testMAC, MAC{1, 2}, ErrInvalid},
	} {
		if _, err := s.Replace(ctx, tc.old, tc.new); !errors.Is(err, tc.want) {
			t.Errorf("Replace(%s, %s) = %v, want %v", tc.old, tc.new, err, tc.want)
		}
	}
	if n, _ := s.Node(ctx, testMAC); n.State != StateEnrolled || n.Volume != VolumeName(testMAC) {
		t.Errorf("after refusals the old node is %+v", n)
	}
	if ins, _ := st.Intents(ctx); len(ins) != 0 || vols.keys[VolumeName(testMAC)] != 0 {
		t.Errorf("refusals left intents %v or made keys anew %v", ins, vols.keys)
	}
}

// TestReplaceCrash stops a replace at each of its steps (the checkpoint
// panics, as a crash would end it), then starts a new Service on the same
// store and backend: Recover finishes the replace.
func TestReplaceCrash(t *testing.T) {
	t.Parallel()
	for _, step := range []string{"replace:intent", "replace:rekeyed", "replace:moved", "replace:retired"} {
		t.Run(step, func(t *testing.T) {
			ctx := context.Background()
			st := newMemStore()
			vols := &fakeVolumes{}
			vols.init()
			cfg := Config{Store: st, Catalog: catalog{"debian": debian, "alpine": alpine}, Volumes: vols,
				Now: func() time.Time { return time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC) }}
			first := cfg
			first.Checkpoint = func(s string) {
				if s == step {
					panic("crash at " + s)
				}
			}
			s1, err := NewService(first)
			if err != nil {
				t.Fatal(err)
			}
			enrollTest(t, s1, testMAC)
			func() {
				defer func() { recover() }()
				s1.Replace(ctx, testMAC, replacement)
				t.Errorf("Replace did not reach %s", step)
			}()
			s2, err := NewService(cfg)
			if err != nil {
				t.Fatal(err)
			}
			fs, err := s2.Recover(ctx)
			if err != nil || len(fs) != 1 || fs[0].Action != "finished" || fs[0].Error != "" {
				t.Fatalf("Recover = %+v, %v; want the replace finished", fs, err)
			}
			n, err := s2.Node(ctx, replacement)
			old, _ := s2.Node(ctx, testMAC)
			if err != nil || n.Volume != VolumeName(testMAC) || n.State != StateEnrolled ||
				old.State != StateRetired || old.Volume != "" {
				t.Errorf("after Recover: new %+v (%v), old %+v; want the volume moved and the old node retired", n, err, old)
			}
			if vols.keys[VolumeName(testMAC)] == 0 {
				t.Error("after Recover the key was never made anew")
			}
			if ins, _ := st.Intents(ctx); len(ins) != 0 {
				t.Errorf("intents left: %v", ins)
			}
		})
	}
}
