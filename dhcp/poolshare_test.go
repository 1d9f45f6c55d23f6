package dhcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestPoolsShareStore runs two pools, two instances' as it were, over one
// lease store that each started before the other leased anything: a claim
// the store refuses is no lease and teaches the pool the holder; a client
// another instance leased renews at this one; a decline is claimed for the
// client that declines; refresh learns the others' leases.
func TestPoolsShareStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	leases := newMemLeases()
	a, b := testPoolOf(t, testPool, leases, now), testPoolOf(t, testPool, leases, now)
	m1, m2, m3 := MACfor(1), MACfor(2), MACfor(3)
	offer := func(pl *pool, name string, mac net.HardwareAddr, want string) {
		t.Helper()
		got, err := pl.offer(mac, netip.Addr{}, true, now)
		if err != nil || got.String() != want {
			t.Fatalf("%s.offer(%v) = %v, %v; want %s", name, mac, got, err, want)
		}
	}
	bind := func(pl *pool, name string, mac net.HardwareAddr, ip string, want error) {
		t.Helper()
		err := pl.bind(ctx, mac, netip.MustParseAddr(ip), true, now.Add(time.Hour), now)
		if !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Fatalf("%s.bind(%v, %s) = %v, want %v", name, mac, ip, err, want)
		}
	}
	stored := func(ip string) string {
		t.Helper()
		l := leases.m[netip.MustParseAddr(ip)]
		return fmt.Sprintf("%v until %v", l.mac, l.expiry.Sub(now))
	}

	offer(a, "a", m1, "198.18.0.100")
	bind(a, "a", m1, "198.18.0.100", nil)
	offer(b, "b", m2, "198.18.0.100") // b does not know of a's lease
	bind(b, "b", m2, "198.18.0.100", errHeld)
	if got, want := stored("198.18.0.100"), m1.String()+" until 1h0m0s"; got != want {
		t.Errorf("stored lease of .100 = %s, want %s", got, want)
	}
	offer(b, "b", m2, "198.18.0.101") // b learned the holder of .100
	bind(b, "b", m2, "198.18.0.101", nil)
	// m1 renews at b (a died): b learned its address, and the store grants
	// the same MAC.
	offer(b, "b", m1, "198.18.0.100")
	bind(b, "b", m1, "198.18.0.100", nil)
	// m1 declines .100 at b: the quarantine is claimed for m1, so the
	// store takes it; a, which still believes m1 holds .100, is refused.
	if _, err := b.decline(ctx, m1, netip.MustParseAddr("198.18.0.100"), now.Add(time.Hour), now); err != nil {
		t.Fatal(err)
	}
	if got, want := stored("198.18.0.100"), " until 1h0m0s"; got != want {
		t.Errorf("stored lease of .100 after the decline = %s, want %s", got, want)
	}
	bind(a, "a", m1, "198.18.0.100", errHeld)
	// A release by a MAC that holds nothing in the store stores nothing.
	if err := a.release(ctx, m1, netip.MustParseAddr("198.18.0.100"), now); err != nil {
		t.Errorf("release of an address held elsewhere = %v, want nil", err)
	}

	// b leases .102 and .103; a learns them at its refresh and offers
	// past them.
	bind(b, "b", m3, "198.18.0.102", nil)
	bind(b, "b", MACfor(4), "198.18.0.103", nil)
	n, err := a.refresh(ctx, now)
	if err != nil || n != 3 {
		t.Errorf("a.refresh = %d, %v; want 3 leases learned (.101, .102, .103)", n, err)
	}
	offer(a, "a", MACfor(5), "198.18.0.104")
	offer(a, "a", m3, "198.18.0.102") // its own address, learned
	if st := a.stats(now); st.Free != testPool.size()-5 {
		t.Errorf("a's free addresses = %d, want %d", st.Free, testPool.size()-5)
	}
}

// TestPoolsRaceForAddresses: clients of two pools over one store bind
// concurrently, each going to the other pool when refused, until every one
// holds an address: no address is held by two, and the store agrees with
// every lease granted.
func TestPoolsRaceForAddresses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	leases := newMemLeases()
	pools := []*pool{testPoolOf(t, testPool, leases, now), testPoolOf(t, testPool, leases, now)}
	const clients = 90 // of the 98 addresses the test pool has free
	got := make([]netip.Addr, clients)
	var wg sync.WaitGroup
	var refused sync.Map
	for i := range clients {
		wg.Go(func() {
			mac := MACfor(100 + i)
			for try := 0; try < 200; try++ {
				pl := pools[(i+try)%2]
				ip, err := pl.offer(mac, netip.Addr{}, true, now)
				if err != nil {
					continue
				}
				err = pl.bind(ctx, mac, ip, true, now.Add(time.Hour), now)
				if err == nil {
					got[i] = ip
					return
				}
				if !errors.Is(err, errHeld) {
					t.Errorf("bind(%v, %v) = %v, want nil or errHeld", mac, ip, err)
					return
				}
				refused.Store(ip, true)
			}
			t.Errorf("client %v got no address in 200 tries", mac)
		})
	}
	wg.Wait()
	holder := map[netip.Addr]int{}
	for i, ip := range got {
		if !ip.IsValid() {
			continue
		}
		if j, ok := holder[ip]; ok {
			t.Errorf("%v leased to clients %d and %d", ip, j, i)
		}
		holder[ip] = i
		if l := leases.m[ip]; l.mac.String() != MACfor(100+i).String() {
			t.Errorf("stored lease of %v = %v, want %v", ip, l.mac, MACfor(100+i))
		}
	}
	t.Logf("%d clients leased; %d addresses were refused at least once", len(holder), lenMap(&refused))
}

func lenMap(m *sync.Map) int {
	n := 0
	m.Range(func(any, any) bool { n++; return true })
	return n
}

// TestStartOffset: with Refresh set, pools of two servers start their picks
// at different places of the range, and either alone hands out all of it.
func TestStartOffset(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p := testPool
	p.Refresh = time.Minute
	first := map[string]netip.Addr{}
	for _, srv := range []string{"198.18.0.1", "198.18.0.2"} {
		pl, err := newPool(ctx, p, netip.MustParseAddr(srv), newMemLeases(), now)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[netip.Addr]bool{}
		for i := range p.size() {
			ip, err := pl.offer(MACfor(i), netip.Addr{}, true, now)
			if err != nil {
				t.Fatalf("server %s: offer %d = %v, want an address", srv, i, err)
			}
			if err := pl.bind(ctx, MACfor(i), ip, true, now.Add(time.Hour), now); err != nil {
				t.Fatalf("server %s: bind %v = %v", srv, ip, err)
			}
			if i == 0 {
				first[srv] = ip
			}
			seen[ip] = true
		}
		if len(seen) != p.size() {
			t.Errorf("server %s leased %d addresses, want %d", srv, len(seen), p.size())
		}
	}
	t.Logf("first picks: %v", first)
	if first["198.18.0.1"] == first["198.18.0.2"] {
		t.Errorf("both servers start at %v, want different places", first["198.18.0.1"])
	}
}

// TestNakWhenHeldElsewhere: a REQUEST for an address the store gives
// another client (leased through another instance after this one started)
// gets a NAK and is counted; one for an address the store gives the same
// client (its lease from an instance that died) gets the ACK.
func TestNakWhenHeldElsewhere(t *testing.T) {
	t.Parallel()
	h := newHarness(t, ModeFull, nil)
	exp := time.Now().Add(time.Hour)
	other, mine := netip.MustParseAddr("198.18.0.100"), netip.MustParseAddr("198.18.0.101")
	h.leases.mu.Lock()
	h.leases.m[other] = memLease{MACfor(7), exp}
	h.leases.m[mine] = memLease{macIPXE, exp}
	h.leases.mu.Unlock()
	ask := func(ip netip.Addr, xid byte) *dhcpv4.DHCPv4 {
		return h.exchange(request(macIPXE, dhcpv4.MessageTypeRequest, xid,
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip.AsSlice())),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(serverIP.AsSlice()))), false, 5*time.Second)
	}
	if r := ask(other, 1); r == nil || r.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("REQUEST of an address held elsewhere: got %v, want a NAK", r)
	}
	if n := testutil.ToFloat64(h.srv.met.refused); n != 1 {
		t.Errorf("claims refused = %v, want 1", n)
	}
	if r := ask(mine, 2); r == nil || r.MessageType() != dhcpv4.MessageTypeAck || !r.YourIPAddr.Equal(mine.AsSlice()) {
		t.Errorf("REQUEST of its own address leased elsewhere: got %v, want an ACK of %v", r, mine)
	}
	h.leases.mu.Lock()
	l := h.leases.m[other]
	h.leases.mu.Unlock()
	if l.mac.String() != MACfor(7).String() {
		t.Errorf("stored lease of %v = %v, want %v's, untouched", other, l.mac, MACfor(7))
	}
}

// TestRenewalBeatsStaleOffer: with a shared store, an address this pool
// offered to one client, or believes leased to one, is still renewed to the
// client whose lease the store holds (made through another instance), and
// the other client is then refused.
func TestRenewalBeatsStaleOffer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p := testPool
	p.Refresh = time.Minute
	leases := newMemLeases()
	a, b := testPoolOf(t, p, leases, now), testPoolOf(t, p, leases, now)
	m1, m2 := MACfor(1), MACfor(2)
	x, err := a.offer(m1, netip.Addr{}, true, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.bind(ctx, m1, x, true, now.Add(time.Hour), now); err != nil {
		t.Fatal(err)
	}
	if y, err := b.offer(m2, netip.Addr{}, true, now); err != nil || y != x {
		t.Fatalf("b.offer(m2) = %v, %v; want %v (b does not know a's lease)", y, err, x)
	}
	if err := b.bind(ctx, m1, x, true, now.Add(time.Hour), now); err != nil {
		t.Errorf("b.bind(m1, %v), its renewal = %v, want nil", x, err)
	}
	if err := b.bind(ctx, m2, x, true, now.Add(time.Hour), now); !errors.Is(err, errTaken) {
		t.Errorf("b.bind(m2, %v) = %v, want errTaken", x, err)
	}
	// m1 releases x through a, and m3 leases it there: b, which still
	// believes m1 holds it, asks the store and renews m3, then refuses m1.
	m3 := MACfor(3)
	if err := a.release(ctx, m1, x, now); err != nil {
		t.Fatal(err)
	}
	if err := a.bind(ctx, m3, x, true, now.Add(time.Hour), now); err != nil {
		t.Fatal(err)
	}
	if err := b.bind(ctx, m3, x, true, now.Add(time.Hour), now); err != nil {
		t.Errorf("b.bind(m3, %v), its renewal = %v, want nil", x, err)
	}
	if err := b.bind(ctx, m1, x, true, now.Add(time.Hour), now); !errors.Is(err, errHeld) {
		t.Errorf("b.bind(m1, %v) after its release = %v, want errHeld", x, err)
	}
}
