package web

import (
	"slices"
	"testing"

	"github.com/bootd/bootd/boot"
)

func macsOf(nodes []*boot.Node) []string {
	out := []string{}
	for _, n := range nodes {
		out = append(out, n.MAC.String()+":"+string(n.State))
	}
	return out
}

// TestNodeIndex checks that the dashboard's copy of the node list follows
// every kind of change, keeps MAC order, and never changes a list it has
// handed out.
func TestNodeIndex(t *testing.T) {
	t.Parallel()
	f := newDashFixture(t, false, nil)
	ctx := t.Context()
	x := &nodeIndex{nodes: f.svc, changes: f.svc}
	f.enroll(t, "52:54:00:00:00:02", "alpine")
	first, err := x.snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	firstSeen := macsOf(first)
	steps := []struct {
		change func()
		want   []string
	}{
		{func() { f.enroll(t, "52:54:00:00:00:01", "alpine") },
			[]string{"52:54:00:00:00:01:enrolled", "52:54:00:00:00:02:enrolled"}},
		{func() { f.svc.Record(ctx, mustMAC(t, "52:54:00:00:00:02"), boot.Event{Stage: boot.StageRoot}) },
			[]string{"52:54:00:00:00:01:enrolled", "52:54:00:00:00:02:up"}},
		{func() { f.svc.Discover(ctx, boot.Sighting{MAC: mustMAC(t, "52:54:00:00:00:03")}) },
			[]string{"52:54:00:00:00:01:enrolled", "52:54:00:00:00:02:up", "52:54:00:00:00:03:discovered"}},
		{func() { f.svc.Forget(ctx, mustMAC(t, "52:54:00:00:00:01")) },
			[]string{"52:54:00:00:00:02:up", "52:54:00:00:00:03:discovered"}},
		{func() { f.svc.Record(ctx, mustMAC(t, "52:54:00:00:00:99"), boot.Event{Stage: boot.StageDHCP}) }, // no node
			[]string{"52:54:00:00:00:02:up", "52:54:00:00:00:03:discovered"}},
		{func() { // more changes than the change log keeps: the index reads everything again
			for range 5000 {
				f.svc.Discover(ctx, boot.Sighting{MAC: mustMAC(t, "52:54:00:00:00:04")})
			}
		}, []string{"52:54:00:00:00:02:up", "52:54:00:00:00:03:discovered", "52:54:00:00:00:04:discovered"}},
	}
	for i, s := range steps {
		s.change()
		got, err := x.snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(macsOf(got), s.want) {
			t.Errorf("step %d: snapshot = %v, want %v", i, macsOf(got), s.want)
		}
	}
	if !slices.Equal(macsOf(first), firstSeen) {
		t.Errorf("a snapshot handed out changed: %v, was %v", macsOf(first), firstSeen)
	}
}
