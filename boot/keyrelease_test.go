package boot

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// keyRig is a Service with volumes, bootd's DHCP reporting leases, and a
// clock the test moves.
type keyRig struct {
	s    *Service
	vols *fakeVolumes
	now  *time.Time
	ctx  context.Context
}

var (
	nodeAddr     = netip.MustParseAddr("198.18.0.100")
	attackerAddr = netip.MustParseAddr("198.18.0.150")
)

func newKeyRig(t *testing.T, rule KeyRelease) *keyRig {
	t.Helper()
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	vols := &fakeVolumes{}
	vols.init()
	s, err := NewService(Config{Store: newMemStore(), Catalog: catalog{"debian": debian}, Volumes: vols,
		Now: func() time.Time { return now }, Leases: true, KeyRelease: rule})
	if err != nil {
		t.Fatal(err)
	}
	r := &keyRig{s: s, vols: vols, now: &now, ctx: context.Background()}
	enrollTest(t, s, testMAC)
	return r
}

func (r *keyRig) token(t *testing.T, addr netip.Addr) string {
	t.Helper()
	tok, err := r.s.IssueBootToken(testMAC, addr)
	if err != nil {
		t.Fatalf("IssueBootToken(%s) = %v", addr, err)
	}
	return tok
}

func (r *keyRig) events(t *testing.T) []Event {
	t.Helper()
	if err := r.s.Flush(r.ctx); err != nil {
		t.Fatal(err)
	}
	boots, err := r.s.Timeline(r.ctx, testMAC)
	if err != nil {
		t.Fatal(err)
	}
	var out []Event
	for _, b := range boots {
		out = append(out, b.Events...)
	}
	return out
}

func TestKeyBoundToTheLease(t *testing.T) {
	t.Parallel()
	r := newKeyRig(t, KeyReleaseLease)
	// No boot seen: nobody gets a token, so nobody a key.
	if _, err := r.s.IssueBootToken(testMAC, nodeAddr); !errors.Is(err, ErrNotBound) {
		t.Fatalf("IssueBootToken before any DHCP = %v, want ErrNotBound", err)
	}
	// An operating system's renewal opens no boot.
	r.s.SawLease(testMAC, nodeAddr, false, false)
	if _, err := r.s.IssueBootToken(testMAC, nodeAddr); !errors.Is(err, ErrNotBound) {
		t.Fatalf("IssueBootToken after a non-PXE ACK = %v, want ErrNotBound", err)
	}
	r.s.SawLease(testMAC, nodeAddr, true, false)
	// A stranger fetching the script many times gets no token and evicts nothing.
	for range 50 {
		if _, err := r.s.IssueBootToken(testMAC, attackerAddr); !errors.Is(err, ErrNotBound) {
			t.Fatalf("IssueBootToken from another address = %v, want ErrNotBound", err)
		}
	}
	tok := r.token(t, nodeAddr)
	// The node's token from another address: refused, and the node still boots.
	if _, err := r.s.RedeemBootKey(r.ctx, testMAC, tok, attackerAddr); !errors.Is(err, ErrTokenRefused) {
		t.Fatalf("RedeemBootKey from another address = %v, want ErrTokenRefused", err)
	}
	if _, err := r.s.RedeemBootKey(r.ctx, testMAC, "0123", nodeAddr); !errors.Is(err, ErrTokenRefused) {
		t.Fatalf("RedeemBootKey with a made-up token = %v, want ErrTokenRefused", err)
	}
	g, err := r.s.RedeemBootKey(r.ctx, testMAC, tok, nodeAddr)
	if err != nil || g.Key == "" || len(g.Report) != 48 {
		t.Fatalf("RedeemBootKey from the node = %+v, %v; want the key and a report secret", g, err)
	}
	if got := r.vols.confined[VolumeName(testMAC)]; got != nodeAddr {
		t.Errorf("node user confined to %v, want %v", got, nodeAddr)
	}
	if n := r.s.Trust().KeysReleased.Load(); n != 1 {
		t.Errorf("KeysReleased = %d, want 1", n)
	}
}

func TestSecondKeyOfABootRefusedAndReported(t *testing.T) {
	t.Parallel()
	r := newKeyRig(t, KeyReleaseLease)
	r.s.SawLease(testMAC, nodeAddr, true, false)
	first, second := r.token(t, nodeAddr), r.token(t, nodeAddr)
	if _, err := r.s.RedeemBootKey(r.ctx, testMAC, first, nodeAddr); err != nil {
		t.Fatalf("first RedeemBootKey = %v", err)
	}
	if _, err := r.s.RedeemBootKey(r.ctx, testMAC, second, nodeAddr); !errors.Is(err, ErrTokenRefused) {
		t.Fatalf("second RedeemBootKey in one boot = %v, want ErrTokenRefused", err)
	}
	if n := r.s.Trust().SecondKeys.Load(); n != 1 {
		t.Errorf("SecondKeys = %d, want 1", n)
	}
	evs := r.events(t)
	last := evs[len(evs)-1]
	if last.Stage != StageWarning || !strings.Contains(last.Detail, "second key request") || !strings.Contains(last.Detail, nodeAddr.String()) {
		t.Errorf("last event %+v, want a warning about the second key request naming the addresses", last)
	}
	if n, _ := r.s.Node(r.ctx, testMAC); n.LastStage != StageKey {
		t.Errorf("node's last stage %s after a warning, want key (warnings leave the summary alone)", n.LastStage)
	}
	// A new boot (a firmware DHCP exchange after the key went out) gets a key again.
	r.s.SawLease(testMAC, nodeAddr, true, false)
	if _, err := r.s.RedeemBootKey(r.ctx, testMAC, r.token(t, nodeAddr), nodeAddr); err != nil {
		t.Errorf("RedeemBootKey in the next boot = %v", err)
	}
}

func TestBootWindow(t *testing.T) {
	t.Parallel()
	r := newKeyRig(t, KeyReleaseLease)
	r.s.SawLease(testMAC, nodeAddr, true, false)
	tok := r.token(t, nodeAddr)
	*r.now = r.now.Add(DefaultBootWindow + time.Second)
	if _, err := r.s.RedeemBootKey(r.ctx, testMAC, tok, nodeAddr); !errors.Is(err, ErrTokenRefused) {
		t.Errorf("RedeemBootKey after the window = %v, want ErrTokenRefused", err)
	}
	// Within a boot, each DHCP exchange (iPXE's, the initramfs's) keeps it open.
	r.s.SawLease(testMAC, nodeAddr, true, false)
	*r.now = r.now.Add(DefaultBootWindow - time.Second)
	r.s.SawLease(testMAC, netip.MustParseAddr("198.18.0.101"), false, false)
	tok = r.token(t, netip.MustParseAddr("198.18.0.101"))
	*r.now = r.now.Add(DefaultBootWindow - time.Second)
	if _, err := r.s.RedeemBootKey(r.ctx, testMAC, tok, netip.MustParseAddr("198.18.0.101")); err != nil {
		t.Errorf("RedeemBootKey from the initramfs's address = %v", err)
	}
}

func TestProxyClaimStands(t *testing.T) {
	t.Parallel()
	r := newKeyRig(t, KeyReleaseLease)
	r.s.SawLease(testMAC, nodeAddr, true, true)
	r.s.SawLease(testMAC, attackerAddr, true, true) // another claim for the same boot
	if _, err := r.s.IssueBootToken(testMAC, attackerAddr); !errors.Is(err, ErrNotBound) {
		t.Errorf("IssueBootToken for a later proxy claim = %v, want ErrNotBound", err)
	}
	if n := r.s.Trust().ProxyConflicting.Load(); n != 1 {
		t.Errorf("ProxyConflicting = %d, want 1", n)
	}
	r.token(t, nodeAddr)
}

func TestArmedRules(t *testing.T) {
	t.Parallel()
	for _, rule := range []KeyRelease{KeyReleaseArmed, KeyReleaseLeaseArmed} {
		r := newKeyRig(t, rule)
		r.s.SawLease(testMAC, nodeAddr, true, false)
		if rule == KeyReleaseArmed {
			if _, err := r.s.IssueBootToken(testMAC, nodeAddr); !errors.Is(err, ErrNotBound) {
				t.Errorf("%s: IssueBootToken of an unarmed node = %v, want ErrNotBound", rule, err)
			}
		} else if _, err := r.s.RedeemBootKey(r.ctx, testMAC, r.token(t, nodeAddr), nodeAddr); !errors.Is(err, ErrTokenRefused) {
			t.Errorf("%s: RedeemBootKey of an unarmed node = %v, want ErrTokenRefused", rule, err)
		}
		r.s.SawLease(testMAC, nodeAddr, true, false)
		if _, err := r.s.Arm(r.ctx, testMAC, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := r.s.RedeemBootKey(r.ctx, testMAC, r.token(t, nodeAddr), nodeAddr); err != nil {
			t.Errorf("%s: RedeemBootKey of an armed node = %v", rule, err)
		}
		if n, _ := r.s.Node(r.ctx, testMAC); !n.ArmedUntil.IsZero() {
			t.Errorf("%s: node still armed after its key release", rule)
		}
	}
}

func TestKeyReleaseFreesTheNodesOwnPreviousBoot(t *testing.T) {
	t.Parallel()
	r := newKeyRig(t, KeyReleaseLease)
	name := VolumeName(testMAC)
	own := Holder{Addr: "198.18.0.100:0/111", Client: "client.4100", Lock: true}
	other := Holder{Addr: "198.18.0.9:0/222", Client: "client.4200"}

	r.vols.holders[name] = []Holder{other}
	r.s.SawLease(testMAC, nodeAddr, true, false)
	_, err := r.s.RedeemBootKey(r.ctx, testMAC, r.token(t, nodeAddr), nodeAddr)
	if !errors.Is(err, ErrFenced) || !strings.Contains(err.Error(), "bootd unfence 52:54:00:12:34:56") ||
		strings.Contains(err.Error(), "198.18.0.9") {
		t.Errorf("RedeemBootKey with another holder = %v, want ErrFenced with the way out and no holder's address", err)
	}
	if len(r.vols.released) != 0 {
		t.Errorf("released %v for a fenced node, want nothing", r.vols.released)
	}
	evs := r.events(t)
	if last := evs[len(evs)-1]; last.Stage != StageFailed || !strings.Contains(last.Detail, "198.18.0.9") {
		t.Errorf("last event %+v, want the failure naming the holder (for the operator)", last)
	}

	r.vols.holders[name] = []Holder{own}
	r.s.SawLease(testMAC, nodeAddr, true, false)
	if _, err := r.s.RedeemBootKey(r.ctx, testMAC, r.token(t, nodeAddr), nodeAddr); err != nil {
		t.Fatalf("RedeemBootKey with the node's own previous boot holding = %v", err)
	}
	if len(r.vols.released) != 1 || r.vols.released[0] != own {
		t.Errorf("released %v, want the node's own previous boot", r.vols.released)
	}
	if n := r.s.Trust().StaleReleased.Load(); n != 1 {
		t.Errorf("StaleReleased = %d, want 1", n)
	}
}

func TestReportsNeedTheBoot(t *testing.T) {
	t.Parallel()
	r := newKeyRig(t, KeyReleaseLease)
	report := func(auth string, addr netip.Addr) error {
		return r.s.Report(r.ctx, testMAC, StageNetwork, "", auth, addr)
	}
	if err := report("", nodeAddr); !errors.Is(err, ErrReportRefused) {
		t.Errorf("report with no boot = %v, want ErrReportRefused", err)
	}
	r.s.SawLease(testMAC, nodeAddr, true, false)
	tok := r.token(t, nodeAddr)
	if err := report("", nodeAddr); !errors.Is(err, ErrReportRefused) {
		t.Errorf("report without a token = %v, want ErrReportRefused", err)
	}
	if err := report(tok, attackerAddr); !errors.Is(err, ErrReportRefused) {
		t.Errorf("report with the node's token from another address = %v, want ErrReportRefused", err)
	}
	if err := report(tok, nodeAddr); err != nil {
		t.Errorf("report with the boot's token = %v", err)
	}
	g, err := r.s.RedeemBootKey(r.ctx, testMAC, tok, nodeAddr)
	if err != nil {
		t.Fatal(err)
	}
	if err := report(tok, nodeAddr); !errors.Is(err, ErrReportRefused) {
		t.Errorf("report with the token after the key went out = %v, want ErrReportRefused (it is on /proc/cmdline)", err)
	}
	if err := r.s.Report(r.ctx, testMAC, StageRoot, "mounted", g.Report, nodeAddr); err != nil {
		t.Errorf("report with the boot's secret = %v", err)
	}
	if n := r.s.Trust().ReportsRefused.Load(); n != 4 {
		t.Errorf("ReportsRefused = %d, want 4", n)
	}
}

func TestStrangersFetchesNotRecorded(t *testing.T) {
	t.Parallel()
	r := newKeyRig(t, KeyReleaseLease)
	before, _ := r.s.Node(r.ctx, testMAC)
	script := Fetch{Transport: HTTP, File: "boot.ipxe", Outcome: FetchDone, Bytes: 436}
	r.s.RecordFetch(testMAC, StageScript, attackerAddr, script)
	if evs := r.events(t); len(evs) != 0 {
		t.Errorf("a stranger's fetch wrote the timeline: %+v", evs)
	}
	if after, _ := r.s.Node(r.ctx, testMAC); after.State != before.State || after.Addr != before.Addr {
		t.Errorf("a stranger's fetch changed the node: %+v -> %+v", before, after)
	}
	r.s.SawLease(testMAC, nodeAddr, true, false)
	r.s.RecordFetch(testMAC, StageScript, nodeAddr, script)
	r.s.RecordFetch(testMAC, StageScript, attackerAddr, script)
	if evs := r.events(t); len(evs) != 1 || evs[0].Source != nodeAddr.String() {
		t.Errorf("timeline %+v, want the node's own fetch only", evs)
	}
	if n := r.s.Trust().FetchesUnbound.Load(); n != 2 {
		t.Errorf("FetchesUnbound = %d, want 2", n)
	}
}

// TestKeyReleaseCephDownKeepsToken: a key request of the node's own boot
// that meets Ceph down (a Ceph call of the release fails, or the last probe
// did) gets ErrCephUnavailable and spends nothing: the same token gets the
// key once Ceph is back, within the window, once; a stranger still gets the
// uniform refusal and Ceph is not asked while the probe says it is down.
func TestKeyReleaseCephDownKeepsToken(t *testing.T) {
	t.Parallel()
	for _, step := range []string{"holders", "confine", "probe"} {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			r := newKeyRig(t, KeyReleaseLease)
			r.s.SawLease(testMAC, nodeAddr, true, false)
			tok := r.token(t, nodeAddr)
			if step == "probe" {
				r.s.SetCephHealth(CephHealth{Reason: "monitors do not answer"})
				r.vols.failAt = "holders" // Ceph is not asked at all: this would not be reached
			} else {
				r.vols.failAt = step
			}
			for range 2 {
				if _, err := r.s.RedeemBootKey(r.ctx, testMAC, tok, nodeAddr); !errors.Is(err, ErrCephUnavailable) ||
					errors.Is(err, ErrTokenRefused) {
					t.Fatalf("RedeemBootKey with Ceph failing at %s = %v, want ErrCephUnavailable", step, err)
				}
			}
			if _, err := r.s.RedeemBootKey(r.ctx, testMAC, "0123", attackerAddr); !errors.Is(err, ErrTokenRefused) ||
				errors.Is(err, ErrCephUnavailable) {
				t.Errorf("a stranger's key request while Ceph is down = %v, want only ErrTokenRefused", err)
			}
			if step == "probe" && len(r.vols.confined) != 0 {
				t.Errorf("Ceph was asked while the probe said it was down: confined %v", r.vols.confined)
			}
			if d, ref := r.s.Trust().KeysDeferred.Load(), r.s.Trust().KeysRefused.Load(); d != 2 || ref != 1 {
				t.Errorf("keys deferred %d, refused %d; want 2, 1", d, ref)
			}
			// Reports before the key still take the token: the boot is not over.
			if err := r.s.Report(r.ctx, testMAC, StageNetwork, "", tok, nodeAddr); err != nil {
				t.Errorf("report with the token after a deferred key = %v", err)
			}
			r.vols.failAt = ""
			r.s.SetCephHealth(CephHealth{OK: true})
			*r.now = r.now.Add(time.Minute)
			g, err := r.s.RedeemBootKey(r.ctx, testMAC, tok, nodeAddr)
			if err != nil || g.Key == "" {
				t.Fatalf("RedeemBootKey with the same token once Ceph is back = %+v, %v; want the key", g, err)
			}
			if _, err := r.s.RedeemBootKey(r.ctx, testMAC, tok, nodeAddr); !errors.Is(err, ErrTokenRefused) {
				t.Errorf("a second key request after the release = %v, want ErrTokenRefused", err)
			}
			waits := 0
			for _, ev := range r.events(t) {
				if ev.Stage == StageWarning && strings.HasPrefix(ev.Detail, "waiting for Ceph at the key") {
					waits++
				}
			}
			if waits != 1 {
				t.Errorf("timeline has %d notes of waiting for Ceph at the key, want 1 for two tries", waits)
			}
		})
	}
}

// TestKeyReleaseCephDownWindow: the token kept after Ceph failed is good
// within the boot's window only.
func TestKeyReleaseCephDownWindow(t *testing.T) {
	t.Parallel()
	r := newKeyRig(t, KeyReleaseLease)
	r.s.SawLease(testMAC, nodeAddr, true, false)
	tok := r.token(t, nodeAddr)
	r.vols.failAt = "holders"
	if _, err := r.s.RedeemBootKey(r.ctx, testMAC, tok, nodeAddr); !errors.Is(err, ErrCephUnavailable) {
		t.Fatalf("RedeemBootKey with Ceph failing = %v, want ErrCephUnavailable", err)
	}
	r.vols.failAt = ""
	*r.now = r.now.Add(DefaultBootWindow + time.Second)
	if _, err := r.s.RedeemBootKey(r.ctx, testMAC, tok, nodeAddr); !errors.Is(err, ErrTokenRefused) {
		t.Errorf("RedeemBootKey after the window = %v, want ErrTokenRefused", err)
	}
}

// TestKeyReleaseUnderWay: while a release is with a hung cluster (longer
// than bootd-init waits for an answer), the same token from the same
// address is told to ask again (ErrCephUnavailable), not taken for a second
// key with its warning; the token from another address is refused and
// warned of as ever; the first
// release then finishes and the key goes out once.
func TestKeyReleaseUnderWay(t *testing.T) {
	t.Parallel()
	r := newKeyRig(t, KeyReleaseLease)
	r.s.SawLease(testMAC, nodeAddr, true, false)
	tok := r.token(t, nodeAddr)
	stall, stalled := make(chan struct{}), make(chan struct{}, 1)
	r.vols.mu.Lock()
	r.vols.stall, r.vols.stalled = stall, stalled
	r.vols.mu.Unlock()
	first := make(chan error, 1)
	go func() {
		g, err := r.s.RedeemBootKey(r.ctx, testMAC, tok, nodeAddr)
		if err == nil && g.Key == "" {
			err = errors.New("no key")
		}
		first <- err
	}()
	<-stalled
	r.vols.mu.Lock()
	r.vols.stall = nil
	r.vols.mu.Unlock()
	if _, err := r.s.RedeemBootKey(r.ctx, testMAC, tok, nodeAddr); !errors.Is(err, ErrCephUnavailable) || errors.Is(err, ErrTokenRefused) {
		t.Errorf("the same request while the first is with Ceph = %v, want ErrCephUnavailable", err)
	}
	if _, err := r.s.RedeemBootKey(r.ctx, testMAC, tok, attackerAddr); !errors.Is(err, ErrTokenRefused) || errors.Is(err, ErrCephUnavailable) {
		t.Errorf("the token from another address meanwhile = %v, want ErrTokenRefused only", err)
	}
	close(stall)
	if err := <-first; err != nil {
		t.Fatalf("the first release = %v, want the key", err)
	}
	if n := r.s.Trust().SecondKeys.Load(); n != 1 {
		t.Errorf("%d second key requests counted, want 1 (the token from another address)", n)
	}
	for _, ev := range r.events(t) {
		if strings.Contains(ev.Text(), "second key request in one boot from "+nodeAddr.String()) {
			t.Errorf("the node's own retry is on its timeline as %q", ev.Text())
		}
	}
	if _, err := r.s.RedeemBootKey(r.ctx, testMAC, tok, nodeAddr); !errors.Is(err, ErrTokenRefused) {
		t.Errorf("a request after the release = %v, want ErrTokenRefused", err)
	}
}

// TestKeyDeniedByCephSaysSo: a key release that Ceph refuses bootd's own
// user (ErrDenied: a cap it lacks) is deferred like one that meets Ceph
// down, since the boot goes on once the caps are put right, but the
// timeline names the caps, not a wait for Ceph; the token stays good.
func TestKeyDeniedByCephSaysSo(t *testing.T) {
	t.Parallel()
	r := newKeyRig(t, KeyReleaseLease)
	r.s.SawLease(testMAC, nodeAddr, true, false)
	tok := r.token(t, nodeAddr)
	r.vols.fail = fmt.Errorf("%w: osd blocklist: Permission denied", ErrDenied)
	_, err := r.s.RedeemBootKey(r.ctx, testMAC, tok, nodeAddr)
	if !errors.Is(err, ErrDenied) || !errors.Is(err, ErrCephUnavailable) {
		t.Fatalf("RedeemBootKey refused by Ceph = %v, want ErrDenied, deferred (ErrCephUnavailable)", err)
	}
	evs := r.events(t)
	last := evs[len(evs)-1]
	if last.Stage != StageWarning || !strings.Contains(last.Detail, "Ceph refused bootd's own user") || strings.Contains(last.Detail, "waiting for Ceph") {
		t.Errorf("last event %+v, want a warning naming bootd's Ceph user's caps", last)
	}
	r.vols.fail = nil
	if g, err := r.s.RedeemBootKey(r.ctx, testMAC, tok, nodeAddr); err != nil || g.Key == "" {
		t.Errorf("RedeemBootKey once the caps are right = %+v, %v; want the key", g, err)
	}
}
