package boot

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// sharedStore is a Store that keeps sessions too, as RADOS does: two
// Services on one sharedStore are two instances sharing a state.
type sharedStore struct {
	*memStore
	*memSessions
}

// twoInstances returns two Services on one shared state, with one set of
// volumes, one clock the test moves, and testMAC enrolled.
func twoInstances(t *testing.T) (a, b *Service, vols *fakeVolumes, now *time.Time) {
	t.Helper()
	clock := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	now = &clock
	vols = &fakeVolumes{}
	vols.init()
	st := sharedStore{newMemStore(), newMemSessions(func() time.Time { return *now })}
	open := func(name string) *Service {
		s, err := NewService(Config{Store: st, Catalog: catalog{"debian": debian}, Volumes: vols,
			Now: func() time.Time { return *now }, Leases: true, Instance: name})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b = open("boot-a"), open("boot-b")
	enrollTest(t, a, testMAC)
	return a, b, vols, now
}

// TestSessionAcrossInstances: a boot whose DHCP one instance answered takes
// its token from the other and its key from either, once; reports go to
// either; an attacker gets nothing from either.
func TestSessionAcrossInstances(t *testing.T) {
	t.Parallel()
	a, b, _, _ := twoInstances(t)
	ctx := context.Background()
	a.SawLease(testMAC, nodeAddr, true, false)
	if _, err := b.IssueBootToken(testMAC, attackerAddr); !errors.Is(err, ErrNotBound) {
		t.Fatalf("B: token for an attacker's address = %v, want ErrNotBound", err)
	}
	tok, err := b.AdmitBoot(testMAC, nodeAddr)
	if err != nil {
		t.Fatalf("B: token for the address A leased = %v", err)
	}
	if n, _ := b.BootsInFlight(); n != 1 {
		t.Errorf("B: %d boots in flight, want 1", n)
	}
	if err := a.Report(ctx, testMAC, StageNetwork, "up", tok, nodeAddr); err != nil {
		t.Errorf("A: a report with B's token = %v", err)
	}
	if _, err := a.RedeemBootKey(ctx, testMAC, tok, attackerAddr); !errors.Is(err, ErrTokenRefused) {
		t.Fatalf("A: the token from an attacker's address = %v, want ErrTokenRefused", err)
	}
	g, err := a.RedeemBootKey(ctx, testMAC, tok, nodeAddr)
	if err != nil {
		t.Fatalf("A: key with B's token = %v", err)
	}
	if _, err := b.RedeemBootKey(ctx, testMAC, tok, nodeAddr); !errors.Is(err, ErrTokenRefused) {
		t.Fatalf("B: the same boot's key again = %v, want refused", err)
	}
	if err := b.Report(ctx, testMAC, StageRoot, "mounted", g.Report, nodeAddr); err != nil {
		t.Errorf("B: a report with A's report secret = %v", err)
	}
	if err := b.Report(ctx, testMAC, StageRoot, "mounted", tok, nodeAddr); !errors.Is(err, ErrReportRefused) {
		t.Errorf("B: a report with the token after the key = %v, want refused", err)
	}
	if n := a.Trust().SecondKeys.Load() + b.Trust().SecondKeys.Load(); n != 1 {
		t.Errorf("second key requests counted %d, want 1", n)
	}
}

// TestSessionKeepsNoSecret: the shared store holds tokens and report
// secrets only as hashes, so whoever reads it cannot present them.
func TestSessionKeepsNoSecret(t *testing.T) {
	t.Parallel()
	a, b, _, _ := twoInstances(t)
	ctx := context.Background()
	a.SawLease(testMAC, nodeAddr, true, false)
	tok, err := b.IssueBootToken(testMAC, nodeAddr)
	if err != nil {
		t.Fatal(err)
	}
	g, err := a.RedeemBootKey(ctx, testMAC, tok, nodeAddr)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := a.sess.store.Session(ctx, testMAC)
	if err != nil || ss == nil {
		t.Fatalf("session = %v, %v", ss, err)
	}
	dump := ss.Secret
	for _, gr := range ss.Tokens {
		dump += " " + gr.Token
	}
	for _, secret := range []string{tok, g.Report} {
		if strings.Contains(dump, secret) {
			t.Errorf("the stored session holds a secret in clear: %s", dump)
		}
	}
}

// TestReleaseTakenOverAfterItsHold: an instance that died mid-release
// leaves the boot marked "under way"; the node's retry at the other
// instance is told to retry until the hold ends, then gets its key; the
// dead release, had it finished late, gives no key.
func TestReleaseTakenOverAfterItsHold(t *testing.T) {
	t.Parallel()
	a, b, _, now := twoInstances(t)
	ctx := context.Background()
	a.SawLease(testMAC, nodeAddr, true, false)
	tok, err := a.IssueBootToken(testMAC, nodeAddr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := a.enrolled(ctx, testMAC)
	if err != nil {
		t.Fatal(err)
	}
	// A claims the release and dies before it ends.
	deadSecret, _, _, err := a.claim(testMAC, tok, nodeAddr, n)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.RedeemBootKey(ctx, testMAC, tok, nodeAddr); !errors.Is(err, ErrCephUnavailable) {
		t.Fatalf("B during A's hold = %v, want ErrCephUnavailable (retry)", err)
	}
	*now = now.Add(releaseHold + time.Second)
	g, err := b.RedeemBootKey(ctx, testMAC, tok, nodeAddr)
	if err != nil {
		t.Fatalf("B after A's hold = %v, want the key", err)
	}
	if a.keyOut(testMAC, deadSecret) {
		t.Error("the dead release's late end was taken: the key would go out twice")
	}
	if err := a.Report(ctx, testMAC, StageRoot, "mounted", g.Report, nodeAddr); err != nil {
		t.Errorf("a report with B's secret = %v", err)
	}
	if _, err := a.RedeemBootKey(ctx, testMAC, tok, nodeAddr); !errors.Is(err, ErrTokenRefused) {
		t.Errorf("a third request = %v, want refused", err)
	}
}
