// Package storetest is the contract of bootd's store backends: one table of
// tests that every backend (boot/store on bbolt, boot/radosstore on RADOS)
// runs, so that both are held to the same behaviour.
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) (a, b storetest.Backend) { ... })
//	}
//
// A backend's factory returns two handles on one fresh, empty state: two
// instances where the backend allows several (RADOS), or the same one twice
// (bbolt, whose file one process holds). Changes made through a must be
// seen through b.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/access"
	"github.com/bootd/bootd/boot/access/accesstest"
)

// LeaseStore is the DHCP server's lease store (dhcp.LeaseStore), restated
// with standard types so that this package does not import dhcp.
type LeaseStore interface {
	Leases(ctx context.Context, fn func(ip netip.Addr, mac net.HardwareAddr, expiry time.Time) error) error
	// ClaimLease stores the lease of ip when ip is free for client at now
	// (no lease, an ended one, or client's own), atomically; otherwise it
	// returns an error with LeaseHolder (HeldError).
	ClaimLease(ctx context.Context, ip netip.Addr, client, mac net.HardwareAddr, expiry, now time.Time) error
}

// HeldError is what ClaimLease's error satisfies when another client holds
// the address (dhcp.HeldError).
type HeldError interface {
	error
	LeaseHolder() (mac net.HardwareAddr, expiry time.Time)
}

// Backend is one handle on a store: everything a backend keeps.
type Backend struct {
	Store  boot.Store
	Leases LeaseStore
	Users  access.UserStore
	Audit  func(access.Retention) access.AuditLog
	// Instances keeps the instances' heartbeats (the store, in both backends).
	Instances boot.InstanceStore
}

// Factory returns two handles on one fresh, empty state.
type Factory func(t *testing.T) (a, b Backend)

// Run runs every contract test, each in parallel on a state of its own.
func Run(t *testing.T, open Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, a, b Backend)
	}{
		{"UpdateDeleteAndAbort", testUpdateDeleteAndAbort},
		{"ConcurrentUpdate", testConcurrentUpdate},
		{"Nodes", testNodes},
		{"TimelineGroupsAndTrims", testTimelineGroupsAndTrims},
		{"TimelineDeletedWithNode", testTimelineDeletedWithNode},
		{"Intents", testIntents},
		{"Leases", testLeases},
		{"LeaseClaims", testLeaseClaims},
		{"LeaseClaimRace", testLeaseClaimRace},
		{"AuditAgeDropped", testAuditAgeDropped},
		{"Instances", testInstances},
		{"Heartbeat", testHeartbeat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := open(t)
			tc.fn(t, a, b)
		})
	}
	t.Run("UserStore", func(t *testing.T) {
		t.Parallel()
		accesstest.TestUserStore(t, func(t *testing.T) access.UserStore { a, _ := open(t); return a.Users })
	})
	t.Run("AuditLog", func(t *testing.T) {
		t.Parallel()
		accesstest.TestAuditLog(t, func(t *testing.T, rt access.Retention) access.AuditLog {
			a, _ := open(t)
			return a.Audit(rt)
		})
	})
}

// MAC returns a test MAC address numbered i.
func MAC(i int) boot.MAC {
	return boot.MAC{0x52, 0x54, 0x00, byte(i >> 16), byte(i >> 8), byte(i)}
}

// Catalog is a one-image boot.Catalog for tests; its image is "debian".
type Catalog struct{}

// TestImage is Catalog's one image.
var TestImage = &boot.Image{Name: "debian", Flavour: boot.FlavourInitramfsTools, Arch: "amd64",
	Kernel: "/k", Golden: boot.GoldenRef{Image: "debian", Snapshot: "v1"}, SizeBytes: 1 << 30}

// Image implements boot.Catalog.
func (Catalog) Image(_ context.Context, name string) (*boot.Image, error) {
	if name != TestImage.Name {
		return nil, fmt.Errorf("%w %q", boot.ErrUnknownImage, name)
	}
	return TestImage, nil
}

// Images implements boot.Catalog.
func (Catalog) Images(context.Context) ([]*boot.Image, error) { return []*boot.Image{TestImage}, nil }

func newService(t *testing.T, s boot.Store) *boot.Service {
	t.Helper()
	svc, err := boot.NewService(boot.Config{Store: s, Catalog: Catalog{}})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func testUpdateDeleteAndAbort(t *testing.T, a, b Backend) {
	db, ctx, mac := a.Store, t.Context(), MAC(7)
	if _, err := db.Update(ctx, mac, func(cur *boot.Node) (*boot.Node, error) {
		if cur != nil {
			return nil, fmt.Errorf("Update saw %+v in a new store, want nil", cur)
		}
		return &boot.Node{MAC: mac, State: boot.StateDiscovered}, nil
	}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if _, err := db.Update(ctx, mac, func(cur *boot.Node) (*boot.Node, error) {
		cur.Hostname = "changed"
		return nil, boom
	}); !errors.Is(err, boom) {
		t.Fatalf("aborted Update = %v, want boom", err)
	}
	if n, err := b.Store.Node(ctx, mac); err != nil || n.Hostname != "" {
		t.Errorf("Node after an aborted Update = %+v, %v; want hostname empty", n, err)
	}
	if _, err := db.Update(ctx, mac, func(cur *boot.Node) (*boot.Node, error) {
		return &boot.Node{MAC: MAC(8)}, nil
	}); err == nil {
		t.Errorf("Update changing the MAC = nil error, want refusal")
	}
	if _, err := db.Update(ctx, mac, func(*boot.Node) (*boot.Node, error) { return nil, nil }); err == nil {
		t.Errorf("Update returning no node = nil error, want refusal (Delete deletes)")
	}
	if err := db.Delete(ctx, mac, func(cur *boot.Node) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("aborted Delete = %v, want boom", err)
	}
	if _, err := b.Store.Node(ctx, mac); err != nil {
		t.Errorf("Node after an aborted Delete = %v, want the node", err)
	}
	var seen *boot.Node
	if err := db.Delete(ctx, mac, func(cur *boot.Node) error { seen = cur; return nil }); err != nil {
		t.Fatal(err)
	}
	if seen == nil || seen.MAC.String() != mac.String() {
		t.Errorf("Delete's check saw %v, want the node %s", seen, mac)
	}
	if _, err := b.Store.Node(ctx, mac); !errors.Is(err, boot.ErrUnknown) {
		t.Errorf("Node after delete = %v, want ErrUnknown", err)
	}
	if err := db.Delete(ctx, mac, nil); err != nil {
		t.Errorf("Delete of a node not stored = %v, want nil", err)
	}
}

// testConcurrentUpdate increments a counter in one node from both handles
// at once: every increment is there (no lost update), though fn may have
// run more often.
func testConcurrentUpdate(t *testing.T, a, b Backend) {
	ctx, mac := t.Context(), MAC(9)
	const each = 25
	var wg sync.WaitGroup
	for _, s := range []boot.Store{a.Store, b.Store, a.Store, b.Store} {
		wg.Go(func() {
			for range each {
				_, err := s.Update(ctx, mac, func(cur *boot.Node) (*boot.Node, error) {
					if cur == nil {
						cur = &boot.Node{MAC: mac, Hostname: "0"}
					}
					n, err := strconv.Atoi(cur.Hostname)
					if err != nil {
						return nil, err
					}
					cur.Hostname = strconv.Itoa(n + 1)
					return cur, nil
				})
				if err != nil {
					t.Errorf("Update = %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n, err := b.Store.Node(ctx, mac); err != nil || n.Hostname != strconv.Itoa(4*each) {
		t.Errorf("counter after 4×%d concurrent increments = %+v, %v; want %d", each, n, err, 4*each)
	}
}

func testNodes(t *testing.T, a, b Backend) {
	ctx := t.Context()
	if got, err := b.Store.Nodes(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Nodes() of a new store = %v, %v; want none", got, err)
	}
	svc := newService(t, a.Store)
	const count = 40
	var wg sync.WaitGroup
	for i := range count {
		wg.Go(func() {
			if _, err := svc.Enroll(ctx, boot.EnrollRequest{MAC: MAC(count - i), Image: "debian"}); err != nil {
				t.Errorf("Enroll = %v", err)
			}
		})
	}
	wg.Wait()
	// An event for a MAC that is no node keeps a timeline but makes no node.
	if _, err := a.Store.AppendEvent(ctx, MAC(1000), boot.Event{Stage: boot.StageDHCP}, boot.DefaultTimelinePolicy()); err != nil {
		t.Fatal(err)
	}
	nodes, err := b.Store.Nodes(ctx)
	if err != nil || len(nodes) != count {
		t.Fatalf("Nodes() = %d nodes, %v; want %d", len(nodes), err, count)
	}
	for i, n := range nodes {
		if n.MAC.String() != MAC(i+1).String() || n.State != boot.StateEnrolled {
			t.Errorf("Nodes()[%d] = %s %s, want %s enrolled (sorted by MAC)", i, n.MAC, n.State, MAC(i+1))
		}
	}
	if _, err := b.Store.Node(ctx, MAC(1000)); !errors.Is(err, boot.ErrUnknown) {
		t.Errorf("Node(a MAC with only a timeline) = %v, want ErrUnknown", err)
	}
}

func testTimelineGroupsAndTrims(t *testing.T, a, b Backend) {
	ctx, mac := t.Context(), MAC(3)
	if _, err := newService(t, a.Store).Enroll(ctx, boot.EnrollRequest{MAC: mac, Image: "debian"}); err != nil {
		t.Fatal(err)
	}
	p := boot.DefaultTimelinePolicy()
	p.KeepBoots, p.KeepEvents = 3, 4
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	stages := []boot.Stage{boot.StageDHCP, boot.StageTFTP, boot.StageDHCP, boot.StageScript,
		boot.StageKernel, boot.StageInitrd, boot.StageRoot}
	for n := range 5 {
		for i, st := range stages {
			s := []boot.Store{a.Store, b.Store}[i%2] // both instances write one timeline
			ev := boot.Event{Stage: st, Time: t0.Add(time.Duration(n*100+i) * time.Second), Source: "198.18.0.10"}
			got, err := s.AppendEvent(ctx, mac, ev, p)
			if err != nil {
				t.Fatal(err)
			}
			if got.Boot != n+1 {
				t.Fatalf("boot %d event %d (%s) got boot number %d", n+1, i, st, got.Boot)
			}
		}
	}
	boots, err := b.Store.Timeline(ctx, mac)
	if err != nil {
		t.Fatal(err)
	}
	if len(boots) != 3 || boots[0].Seq != 3 || boots[2].Seq != 5 {
		t.Fatalf("Timeline kept boots %v, want 3, 4, 5", seqs(boots))
	}
	for _, bt := range boots {
		if len(bt.Events) != 4 || bt.Events[0].Stage != boot.StageDHCP || bt.Events[3].Stage != boot.StageRoot {
			t.Errorf("boot %d has %d events %v, want the first 3 and the newest (root)", bt.Seq, len(bt.Events), bt.Events)
		}
	}
	n, err := b.Store.Node(ctx, mac)
	if err != nil || n.LastStage != boot.StageRoot || n.State != boot.StateUp || n.Addr != "198.18.0.10" {
		t.Errorf("node after boots = %+v, %v; want last stage root, state up, addr 198.18.0.10", n, err)
	}
}

func seqs(bs []boot.Boot) []int {
	var out []int
	for _, b := range bs {
		out = append(out, b.Seq)
	}
	return out
}

func testTimelineDeletedWithNode(t *testing.T, a, b Backend) {
	ctx, mac := t.Context(), MAC(4)
	svc := newService(t, a.Store)
	if _, err := svc.Discover(ctx, boot.Sighting{MAC: mac, Arch: "x86-bios"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Record(ctx, mac, boot.Event{Stage: boot.StageDHCP}); err != nil {
		t.Fatal(err)
	}
	if boots, err := b.Store.Timeline(ctx, mac); err != nil || len(boots) != 1 {
		t.Fatalf("Timeline after one event = %v, %v; want one boot", boots, err)
	}
	if err := svc.Forget(ctx, mac); err != nil {
		t.Fatal(err)
	}
	boots, err := b.Store.Timeline(ctx, mac)
	if err != nil || len(boots) != 0 {
		t.Errorf("Timeline after Forget = %v, %v; want empty", boots, err)
	}
}

func testIntents(t *testing.T, a, b Backend) {
	ctx := t.Context()
	if got, err := a.Store.Intents(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Intents() of a new store = %v, %v; want none", got, err)
	}
	m1, m2 := MAC(2), MAC(1)
	started := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	in := boot.Intent{Op: boot.IntentReimage, MAC: m1, Keep: "old", OldID: "abc", Started: started,
		Volume: boot.VolumeRequest{Name: boot.VolumeName(m1), Node: m1, SizeBytes: 1 << 30,
			Golden: boot.GoldenRef{Pool: "rbd", Namespace: "golden", Image: "debian", Snapshot: "v1"}}}
	if err := a.Store.PutIntent(ctx, in); err != nil {
		t.Fatalf("PutIntent: %v", err)
	}
	if err := b.Store.PutIntent(ctx, boot.Intent{Op: boot.IntentRetire, MAC: m1}); !errors.Is(err, boot.ErrBusy) {
		t.Errorf("second PutIntent for %s = %v, want ErrBusy", m1, err)
	}
	if err := b.Store.PutIntent(ctx, boot.Intent{Op: boot.IntentEnroll, MAC: m2, Started: started}); err != nil {
		t.Fatalf("PutIntent(%s): %v", m2, err)
	}
	got, err := a.Store.Intents(ctx)
	if err != nil || len(got) != 2 {
		t.Fatalf("Intents() = %v, %v; want 2", got, err)
	}
	if got[0].MAC.String() != m2.String() || got[1].MAC.String() != m1.String() {
		t.Errorf("Intents() order = %s, %s; want %s, %s", got[0].MAC, got[1].MAC, m2, m1)
	}
	g := got[1]
	if g.Op != in.Op || g.Keep != "old" || g.OldID != "abc" || !g.Started.Equal(started) ||
		g.Volume.Golden != in.Volume.Golden || g.Volume.SizeBytes != 1<<30 || g.Volume.Node.String() != m1.String() {
		t.Errorf("Intents()[1] = %+v, want %+v", g, in)
	}
	for _, mac := range []boot.MAC{m1, m1, m2} { // deleting twice is fine
		if err := a.Store.DeleteIntent(ctx, mac); err != nil {
			t.Errorf("DeleteIntent(%s): %v", mac, err)
		}
	}
	if got, err := b.Store.Intents(ctx); err != nil || len(got) != 0 {
		t.Errorf("Intents() after deletes = %v, %v; want none", got, err)
	}
}
