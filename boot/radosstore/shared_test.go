//go:build integration && cgo

package radosstore

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/boottest"
)

// Several instances on one namespace, as bootd serve runs them: two
// Services, each on a Store of its own (its own connection), one volume
// backend between them as one Ceph cluster is.

type oneImage struct{ img *boot.Image }

func (c oneImage) Image(_ context.Context, name string) (*boot.Image, error) {
	if name != c.img.Name {
		return nil, fmt.Errorf("%w: %s", boot.ErrUnknownImage, name)
	}
	return c.img, nil
}

func (c oneImage) Images(context.Context) ([]*boot.Image, error) { return []*boot.Image{c.img}, nil }

var testImage = &boot.Image{Name: "debian-12", Flavour: boot.FlavourInitramfsTools, Arch: "amd64", Kernel: "/k",
	Golden: boot.GoldenRef{Pool: "rbd", Namespace: "golden", Image: "debian-12", Snapshot: "v1"}, SizeBytes: 1 << 30}

// instances returns two Services sharing a fresh namespace, each following
// the other's changes, and a third Store on it to look at the state.
func instances(t *testing.T) (a, b *boot.Service, vols *boottest.Volumes, st *Store) {
	t.Helper()
	cfg := testConfig(t)
	vols = boottest.NewVolumes()
	open := func(name string) *boot.Service {
		s, err := boot.NewService(boot.Config{Store: openTest(t, cfg), Catalog: oneImage{testImage}, Volumes: vols,
			Leases: true, Instance: name})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); s.FollowChanges(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		return s
	}
	return open("boot-a"), open("boot-b"), vols, openTest(t, cfg)
}

var (
	sharedMAC  = boot.MAC{0x52, 0x54, 0, 0x5e, 0, 1}
	sharedAddr = netip.MustParseAddr("198.18.0.101")
)

// TestSessionsShared: concurrent changes of one session from two Stores
// lose none, and nil deletes it.
func TestSessionsShared(t *testing.T) {
	cfg := testConfig(t)
	stores := []*Store{openTest(t, cfg), openTest(t, cfg)}
	ctx := context.Background()
	const each = 25
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				err := s.UpdateSession(ctx, sharedMAC, func(cur *boot.Session) (*boot.Session, error) {
					if cur == nil {
						cur = &boot.Session{ID: "one"}
					}
					cur.Tokens = append(cur.Tokens, boot.Grant{Token: fmt.Sprintf("%d-%d", i, j)})
					return cur, nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got, err := stores[1].Session(ctx, sharedMAC)
	if err != nil || got == nil {
		t.Fatalf("Session = %v, %v", got, err)
	}
	if len(got.Tokens) != 2*each {
		t.Errorf("%d changes kept of %d made at once from two stores", len(got.Tokens), 2*each)
	}
	if err := stores[0].UpdateSession(ctx, sharedMAC, func(*boot.Session) (*boot.Session, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if got, err := stores[1].Session(ctx, sharedMAC); got != nil || err != nil {
		t.Errorf("Session after delete = %v, %v; want none", got, err)
	}
}

// TestKeyOnceAcrossInstances is the trust chain with two instances: the
// boot's DHCP seen by A, its token issued by B; many key requests with
// that token at once, at both, release the key once; reports go to
// either; nobody else gets a token from either.
func TestKeyOnceAcrossInstances(t *testing.T) {
	a, b, _, _ := instances(t)
	ctx := context.Background()
	if _, err := a.Enroll(ctx, boot.EnrollRequest{MAC: sharedMAC, Image: testImage.Name}); err != nil {
		t.Fatal(err)
	}
	a.SawLease(sharedMAC, sharedAddr, true, false)
	stranger := netip.MustParseAddr("198.18.0.150")
	for _, s := range []*boot.Service{a, b} {
		if _, err := s.IssueBootToken(sharedMAC, stranger); !errors.Is(err, boot.ErrNotBound) {
			t.Fatalf("a token for a stranger = %v, want ErrNotBound", err)
		}
	}
	tok, err := b.AdmitBoot(sharedMAC, sharedAddr)
	if err != nil {
		t.Fatalf("B: token for the boot A saw = %v", err)
	}
	const requests = 16
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		grants  []*boot.KeyGrant
		refused int
	)
	for i := range requests {
		s := []*boot.Service{a, b}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			g, err := s.RedeemBootKey(ctx, sharedMAC, tok, sharedAddr)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				grants = append(grants, g)
			case errors.Is(err, boot.ErrTokenRefused), errors.Is(err, boot.ErrCephUnavailable):
				refused++
			default:
				t.Errorf("RedeemBootKey = %v", err)
			}
		}()
	}
	wg.Wait()
	if len(grants) != 1 || refused != requests-1 {
		t.Fatalf("%d keys released and %d refused of %d requests at both instances; want 1 key", len(grants), refused, requests)
	}
	for _, s := range []*boot.Service{a, b} {
		if err := s.Report(ctx, sharedMAC, boot.StageRoot, "mounted", grants[0].Report, sharedAddr); err != nil {
			t.Errorf("a report with the boot's secret = %v", err)
		}
		if err := s.Report(ctx, sharedMAC, boot.StageRoot, "mounted", grants[0].Report, stranger); !errors.Is(err, boot.ErrReportRefused) {
			t.Errorf("the secret from a stranger = %v, want refused", err)
		}
	}
	if _, err := a.RedeemBootKey(ctx, sharedMAC, tok, sharedAddr); !errors.Is(err, boot.ErrTokenRefused) {
		t.Errorf("a key request after the boot's key went out = %v, want refused", err)
	}
}

// TestChangesReachTheOtherInstance: an enrollment at A is among B's changes
// within a second (the dashboard's node list reads it), and an event A
// records reaches B's subscriptions (the dashboard's live updates).
func TestChangesReachTheOtherInstance(t *testing.T) {
	a, b, _, _ := instances(t)
	ctx := context.Background()
	sub := b.Watch(nil)
	defer sub.Close()
	time.Sleep(500 * time.Millisecond) // both watches up
	mark := b.ChangeMark()
	start := time.Now()
	if _, err := a.Enroll(ctx, boot.EnrollRequest{MAC: sharedMAC, Image: testImage.Name}); err != nil {
		t.Fatal(err)
	}
	for {
		changed, _, ok := b.ChangesSince(mark)
		if !ok {
			mark = b.ChangeMark() // the feed's watch came up again: B re-reads; keep waiting for the MAC
		}
		if slices.ContainsFunc(changed, func(m boot.MAC) bool { return m.String() == sharedMAC.String() }) {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatal("B did not learn of A's enrollment within a second")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("A's enrollment reached B in %v", time.Since(start).Round(time.Millisecond))
	if _, err := a.Record(ctx, sharedMAC, boot.Event{Stage: boot.StageDHCP, Source: "198.18.0.101"}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev, ok := <-sub.Events():
		if !ok || ev.MAC.String() != sharedMAC.String() || ev.Event.Stage != boot.StageDHCP || ev.Event.Instance != "boot-a" {
			t.Errorf("B's subscription got %+v (open %v), want A's dhcp event", ev, ok)
		}
	case <-time.After(time.Second):
		t.Error("A's event did not reach B's subscription within a second")
	}
}

// TestConflictingEnrollments: the same machine enrolled at both instances
// at once, with different hostnames: one wins, the other gets a clear
// error, and nothing of the loser is left (one node, its hostname the
// winner's, one volume, no operation under way). The loser meets the
// winner's intent (its enrollment under way) or its node (enrolled).
func TestConflictingEnrollments(t *testing.T) {
	a, b, vols, st := instances(t)
	ctx := context.Background()
	for round := range 5 {
		mac := boot.MAC{0x52, 0x54, 0, 0x5e, 1, byte(round)}
		type result struct {
			host string
			err  error
		}
		results := make(chan result, 2)
		for i, s := range []*boot.Service{a, b} {
			host := fmt.Sprintf("r%d-%c", round, 'a'+i)
			go func() {
				_, err := s.Enroll(ctx, boot.EnrollRequest{MAC: mac, Image: testImage.Name, Hostname: host})
				results <- result{host, err}
			}()
		}
		var won []string
		for range 2 {
			r := <-results
			switch {
			case r.err == nil:
				won = append(won, r.host)
			case errors.Is(r.err, boot.ErrExists), errors.Is(r.err, boot.ErrBusy):
				// enrolled already, or its enrollment under way at the other instance
				t.Logf("round %d: the loser was told: %v", round, r.err)
			default:
				t.Errorf("round %d: the losing enroll's error = %v, want enrolled already or under way", round, r.err)
			}
		}
		if len(won) != 1 {
			t.Fatalf("round %d: %d enrollments won, want 1", round, len(won))
		}
		n, err := b.Node(ctx, mac)
		if err != nil || n.Hostname != won[0] {
			t.Errorf("round %d: node = %+v, %v; want the winner's hostname %s", round, n, err, won[0])
		}
	}
	names, err := vols.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	if len(names) != 5 {
		t.Errorf("volumes after 5 contested enrollments: %v, want 5", names)
	}
	intents, err := st.Intents(ctx)
	if err != nil || len(intents) != 0 {
		t.Errorf("operations left under way: %v, %v", intents, err)
	}
}
