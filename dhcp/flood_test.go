package dhcp

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bootd/bootd/internal/dhcptest"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// clock is a test's clock, moved by hand.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// floodPool is 200 addresses in 127.0.0.0/8, where the relay's giaddr
// (127.0.0.1) is: the addresses are only written into packets.
var floodPool = Pool{Subnet: netip.MustParsePrefix("127.0.0.0/8"),
	Start: netip.MustParseAddr("127.64.0.1"), End: netip.MustParseAddr("127.64.0.200"), LeaseTime: time.Hour}

// enrolled is the machine an operator enrolled; the flood's MACs are not.
var enrolled = mustMAC("52:54:00:aa:00:01")

var knownOnly = DeciderFunc(func(_ context.Context, c Client) (Answer, error) {
	return Answer{Boot: true, Script: scriptURL(c.MAC), Known: bytes.Equal(c.MAC, enrolled)}, nil
})

// relayServer is a full-mode server on loopback with a relay in front.
type relayServer struct {
	srv   *Server
	relay *dhcptest.Relay
	addr  *net.UDPAddr
	clk   *clock
}

func newRelayServer(t *testing.T, mod func(*Config)) *relayServer {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	rs := &relayServer{addr: conn.LocalAddr().(*net.UDPAddr), clk: newClock()}
	if rs.relay, err = dhcptest.NewRelay(rs.addr); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Mode: ModeFull, ServerIP: netip.MustParseAddr("127.0.0.1"), RelayPort: rs.relay.Port(),
		Pool: floodPool, Leases: newMemLeases(), Decider: knownOnly, Now: rs.clk.now}
	if mod != nil {
		mod(&cfg)
	}
	if rs.srv, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rs.srv.Serve(ctx, conn, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v", err)
		}
		rs.relay.Close()
	})
	return rs
}

// flood sends DISCOVER and REQUEST from n random MACs (and with decline a
// DECLINE of each address acknowledged), each packet once with a short
// wait: bounded in count and time.
func (rs *relayServer) flood(seed uint64, n int, decline bool) []dhcptest.Result {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	return rs.relay.Run(ctx, dhcptest.RandomMACs(seed, n), 128,
		dhcptest.Opts{Tries: 1, Wait: 100 * time.Millisecond, Decline: decline})
}

// lease runs one client's DORA with the usual retries.
func (rs *relayServer) lease(t *testing.T, mac net.HardwareAddr) dhcptest.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return rs.relay.DORA(ctx, []net.HardwareAddr{mac}, 1)[0]
}

// checkBounded fails when the pool's state passes its limits.
func checkBounded(t *testing.T, when string, st PoolStats, lim limits, size int) {
	t.Helper()
	if st.UnknownOffers > lim.offers || st.UnknownLeases > lim.unknownLeases || st.Quarantined > lim.quarantined ||
		st.Clients > 2*size || st.Addresses > size || st.Wakeups > 2*st.Addresses+64 ||
		st.Decliners > st.Quarantined {
		t.Errorf("%s: %+v; want at most %d unknown offers, %d unknown leases, %d quarantined, %d clients, %d addresses",
			when, st, lim.offers, lim.unknownLeases, lim.quarantined, 2*size, size)
	}
}

// TestRandomMACFlood: 5,000 random MACs DISCOVER and REQUEST while an
// enrolled machine boots. The machine gets its lease, during and after;
// unknown clients never hold more than the limits; refusals are counted;
// once the leases end (the clock moved on) every address is free and the
// state of the flood's MACs is gone.
func TestRandomMACFlood(t *testing.T) {
	t.Parallel()
	rs := newRelayServer(t, nil)
	lim, size := floodPool.limits(), floodPool.size()
	var wg sync.WaitGroup
	var res []dhcptest.Result
	wg.Go(func() { res = rs.flood(1, 5000, false) })
	time.Sleep(200 * time.Millisecond)
	during := rs.lease(t, enrolled)
	wg.Wait()
	if during.Err != nil {
		t.Fatalf("enrolled machine during the flood: %v", during.Err)
	}
	checkBounded(t, "after the flood", rs.srv.Stats(), lim, size)
	got := 0
	for _, r := range res {
		if r.IP != nil {
			got++
		}
	}
	if got > lim.unknownLeases || got == 0 {
		t.Errorf("flood clients leased %d addresses, want 1 to %d", got, lim.unknownLeases)
	}
	if err := dhcptest.CheckUnique(res, []dhcptest.Result{during}); err != nil {
		t.Error(err)
	}
	refused := testutil.ToFloat64(rs.srv.met.dropped.WithLabelValues(dropOffers)) +
		testutil.ToFloat64(rs.srv.met.dropped.WithLabelValues(dropLeases))
	if refused == 0 {
		t.Error("no refusal counted")
	}
	after := rs.lease(t, enrolled)
	if after.Err != nil || !after.IP.Equal(during.IP) {
		t.Errorf("enrolled machine after the flood: %v, %v; want %v again", after.IP, after.Err, during.IP)
	}
	// Pruning: past the lease time everything the flood held has ended.
	rs.clk.advance(floodPool.LeaseTime + time.Minute)
	st := rs.srv.Stats()
	if st.Offers != 0 || st.UnknownLeases != 0 || st.Free != size {
		t.Errorf("an hour later: %+v; want no offers, no leases, %d free", st, size)
	}
	checkBounded(t, "an hour later", st, lim, size)
}
