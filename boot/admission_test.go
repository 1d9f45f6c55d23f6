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

// flightRig is a Service with volumes, bootd's DHCP reporting leases, a
// cap on boots in flight, n enrolled machines, and a clock the test moves.
type flightRig struct {
	s    *Service
	vols *fakeVolumes
	now  *time.Time
	macs []MAC
}

func newFlightRig(t *testing.T, max, n int) *flightRig {
	t.Helper()
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	vols := &fakeVolumes{}
	vols.init()
	s, err := NewService(Config{Store: newMemStore(), Catalog: catalog{"debian": debian}, Volumes: vols,
		Now: func() time.Time { return now }, Leases: true, MaxBootsInFlight: max})
	if err != nil {
		t.Fatal(err)
	}
	r := &flightRig{s: s, vols: vols, now: &now}
	for i := range n {
		mac := MAC{0x52, 0x54, 0, 0, 1, byte(i)}
		enrollTest(t, s, mac)
		r.macs = append(r.macs, mac)
	}
	return r
}

// addr is machine i's address.
func (r *flightRig) addr(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 18, 1, byte(i + 1)}) }

// boot starts machine i's boot (its firmware's DHCP) and asks for its iPXE script.
func (r *flightRig) boot(i int) (string, error) {
	r.s.SawLease(r.macs[i], r.addr(i), true, false)
	return r.s.AdmitBoot(r.macs[i], r.addr(i))
}

func (r *flightRig) inFlight() int {
	n, _ := r.s.BootsInFlight()
	return n
}

// TestAdmissionCap: over the cap, a boot gets ErrTooManyBoots saying how
// many are in flight; a retry of a boot in flight is neither refused nor
// counted twice; a Pi's cmdline.txt is counted but never refused; a
// stranger's request takes no place.
func TestAdmissionCap(t *testing.T) {
	t.Parallel()
	r := newFlightRig(t, 2, 4)
	for i := range 2 {
		if _, err := r.boot(i); err != nil {
			t.Fatalf("AdmitBoot(machine %d) under the cap = %v", i, err)
		}
	}
	_, err := r.boot(2)
	if !errors.Is(err, ErrTooManyBoots) || !strings.Contains(err.Error(), "too many boots in flight (2)") {
		t.Fatalf("AdmitBoot over the cap = %v, want ErrTooManyBoots saying (2)", err)
	}
	// The machines in flight ask again (iPXE retrying, a second DHCP of the
	// same boot): admitted, counted once.
	for i := range 2 {
		for range 3 {
			if _, err := r.boot(i); err != nil {
				t.Errorf("retry of machine %d in flight = %v, want a token", i, err)
			}
		}
	}
	if n := r.inFlight(); n != 2 {
		t.Errorf("BootsInFlight after retries = %d, want 2", n)
	}
	// A stranger asking for machine 3's script from its own address takes no place.
	for range 5 {
		if _, err := r.s.AdmitBoot(r.macs[3], attackerAddr); !errors.Is(err, ErrNotBound) {
			t.Fatalf("AdmitBoot from a stranger = %v, want ErrNotBound", err)
		}
	}
	if n := r.inFlight(); n != 2 {
		t.Errorf("BootsInFlight after a stranger's requests = %d, want 2", n)
	}
	// A Pi (IssueBootToken: its cmdline.txt) is not refused, and counts.
	r.s.SawLease(r.macs[3], r.addr(3), true, false)
	if _, err := r.s.IssueBootToken(r.macs[3], r.addr(3)); err != nil {
		t.Errorf("IssueBootToken (a Pi) over the cap = %v, want a token", err)
	}
	if n, max := r.s.BootsInFlight(); n != 3 || max != 2 {
		t.Errorf("BootsInFlight = %d, %d; want 3 over a cap of 2", n, max)
	}
}

// TestAdmissionFreedByTheKey: a boot leaves flight when its key goes out
// or it is fenced, not when a key request meets Ceph down; its machine's
// next boot needs a place again.
func TestAdmissionFreedByTheKey(t *testing.T) {
	t.Parallel()
	r := newFlightRig(t, 1, 3)
	ctx := context.Background()
	tok, err := r.boot(0)
	if err != nil {
		t.Fatal(err)
	}
	r.vols.failAt = "holders"
	if _, err := r.s.RedeemBootKey(ctx, r.macs[0], tok, r.addr(0)); !errors.Is(err, ErrCephUnavailable) {
		t.Fatalf("RedeemBootKey with Ceph failing = %v, want ErrCephUnavailable", err)
	}
	if _, err := r.boot(1); !errors.Is(err, ErrTooManyBoots) {
		t.Errorf("AdmitBoot while a boot waits at its key for Ceph = %v, want ErrTooManyBoots", err)
	}
	r.vols.failAt = ""
	if _, err := r.s.RedeemBootKey(ctx, r.macs[0], tok, r.addr(0)); err != nil {
		t.Fatalf("RedeemBootKey once Ceph is back = %v", err)
	}
	if n := r.inFlight(); n != 0 {
		t.Errorf("BootsInFlight after the key went out = %d, want 0", n)
	}
	tok, err = r.boot(1)
	if err != nil {
		t.Fatalf("AdmitBoot after the key freed the place = %v", err)
	}
	// Machine 0 boots again: a new boot, which needs a place.
	if _, err := r.boot(0); !errors.Is(err, ErrTooManyBoots) {
		t.Errorf("AdmitBoot of the next boot of a machine whose key went out = %v, want ErrTooManyBoots", err)
	}
	// A fenced volume ends the boot: its place is freed.
	r.vols.holders[VolumeName(r.macs[1])] = []Holder{{Addr: "198.18.0.9:0/222", Client: "client.4200"}}
	if _, err := r.s.RedeemBootKey(ctx, r.macs[1], tok, r.addr(1)); !errors.Is(err, ErrFenced) {
		t.Fatalf("RedeemBootKey of a held volume = %v, want ErrFenced", err)
	}
	if _, err := r.boot(2); err != nil {
		t.Errorf("AdmitBoot after a fenced boot = %v, want a token", err)
	}
}

// TestAdmissionExpires: a boot whose window closed, or whose session was
// dropped, leaves flight.
func TestAdmissionExpires(t *testing.T) {
	t.Parallel()
	r := newFlightRig(t, 1, 3)
	if _, err := r.boot(0); err != nil {
		t.Fatal(err)
	}
	*r.now = r.now.Add(DefaultBootWindow - time.Second)
	if _, err := r.boot(1); !errors.Is(err, ErrTooManyBoots) {
		t.Fatalf("AdmitBoot within the first boot's window = %v, want ErrTooManyBoots", err)
	}
	*r.now = r.now.Add(2 * time.Second)
	if _, err := r.boot(1); err != nil {
		t.Fatalf("AdmitBoot after the first boot's window closed = %v, want a token", err)
	}
	r.s.dropSession(r.macs[1]) // as Replace does
	if n := r.inFlight(); n != 0 {
		t.Errorf("BootsInFlight after the session was dropped = %d, want 0", n)
	}
	if _, err := r.boot(2); err != nil {
		t.Errorf("AdmitBoot after a dropped session = %v, want a token", err)
	}
}

// TestAdmissionBounded: the set of boots in flight never has more entries
// than there are sessions, nor (once expired ones are dropped at an
// admission) more than the cap, however many machines boot and go.
func TestAdmissionBounded(t *testing.T) {
	t.Parallel()
	const machines, max = 40, 5
	r := newFlightRig(t, max, machines)
	check := func(when string) {
		t.Helper()
		mem := r.s.sess.store.(*memSessions)
		r.s.sess.mu.Lock()
		defer r.s.sess.mu.Unlock()
		if f, m := len(r.s.sess.flight), mem.len(); f > m || f > max {
			t.Fatalf("%s: %d boots in flight kept for %d sessions, cap %d", when, f, m, max)
		}
		for k, f := range r.s.sess.flight {
			mem.mu.Lock()
			c := mem.m[k]
			mem.mu.Unlock()
			if c == nil || c.ID != f.id {
				t.Fatalf("%s: boot in flight of %s is not its session", when, k)
			}
		}
	}
	for round := range 6 {
		admitted := 0
		for i := range machines {
			if _, err := r.boot(i); err == nil {
				admitted++
			} else if !errors.Is(err, ErrTooManyBoots) {
				t.Fatal(err)
			}
			check(fmt.Sprintf("round %d, machine %d", round, i))
		}
		if admitted != max {
			t.Errorf("round %d: %d admitted, want %d", round, admitted, max)
		}
		if round%2 == 1 {
			for i := range machines / 2 {
				r.s.dropSession(r.macs[i])
			}
			check(fmt.Sprintf("round %d, sessions dropped", round))
		}
		*r.now = r.now.Add(DefaultBootWindow + time.Second)
	}
	// Without a cap, every boot is in flight, and still bounded by the sessions.
	r.s.maxInFlight = 0
	for i := range machines {
		if _, err := r.boot(i); err != nil {
			t.Fatalf("AdmitBoot without a cap = %v", err)
		}
	}
	if n, max := r.s.BootsInFlight(); n != machines || max != 0 {
		t.Errorf("BootsInFlight without a cap = %d, %d; want %d, 0", n, max, machines)
	}
}

// TestNoteWaitingByCause: wait scripts are counted by cause, and a node's
// timeline gets one note a minute, or at once when the cause changes.
func TestNoteWaitingByCause(t *testing.T) {
	t.Parallel()
	r := newFlightRig(t, 1, 1)
	ctx := context.Background()
	mac := r.macs[0]
	for range 3 {
		r.s.NoteWaiting(mac, WaitBusy, "too many boots in flight (1)")
	}
	r.s.NoteWaiting(mac, WaitCeph, "waiting for Ceph: monitors do not answer")
	*r.now = r.now.Add(waitNoteEvery)
	r.s.NoteWaiting(mac, WaitCeph, "waiting for Ceph: monitors do not answer")
	if b, c := r.s.WaitScripts(WaitBusy), r.s.WaitScripts(WaitCeph); b != 3 || c != 2 {
		t.Errorf("WaitScripts = busy %d, ceph %d; want 3, 2", b, c)
	}
	if err := r.s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	boots, _ := r.s.Timeline(ctx, mac)
	var notes []string
	for _, b := range boots {
		for _, ev := range b.Events {
			if ev.Stage == StageWarning {
				notes = append(notes, ev.Detail)
			}
		}
	}
	want := []string{"too many boots in flight (1)", "waiting for Ceph: monitors do not answer", "waiting for Ceph: monitors do not answer"}
	if strings.Join(notes, "|") != strings.Join(want, "|") {
		t.Errorf("timeline warnings = %q, want %q", notes, want)
	}
}
