package dhcp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/bootd/bootd/internal/dhcptest"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

func testPoolOf(t *testing.T, p Pool, leases LeaseStore, now time.Time) *pool {
	t.Helper()
	pl, err := newPool(context.Background(), p, serverIP, leases, now)
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

// TestPoolLifecycle walks the pool through offers, leases, a decline, a
// release and a reservation, restarting it from its stored leases.
func TestPoolLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p := testPool
	p.Reservations = map[string]netip.Addr{"52-54-00-00-00-0f": netip.MustParseAddr("198.18.0.150")}
	leases := newMemLeases()
	pl := testPoolOf(t, p, leases, now)
	a, b, c, d := MACfor(1), MACfor(2), MACfor(3), MACfor(4)
	res := mustMAC("52:54:00:00:00:0f")

	offer := func(pl *pool, mac net.HardwareAddr, want string) {
		t.Helper()
		got, err := pl.offer(mac, netip.Addr{}, true, now)
		if err != nil || got.String() != want {
			t.Fatalf("offer(%v) = %v, %v; want %s", mac, got, err, want)
		}
	}
	bind := func(pl *pool, mac net.HardwareAddr, ip string, want error) {
		t.Helper()
		err := pl.bind(ctx, mac, netip.MustParseAddr(ip), true, now.Add(time.Hour), now)
		if !errors.Is(err, want) {
			t.Fatalf("bind(%v, %s) = %v, want %v", mac, ip, err, want)
		}
	}

	offer(pl, a, "198.18.0.100")
	offer(pl, a, "198.18.0.100") // a retransmitted DISCOVER gets the same
	offer(pl, b, "198.18.0.101") // .100 is held for a
	bind(pl, b, "198.18.0.100", errTaken)
	bind(pl, a, "198.18.0.100", nil)
	bind(pl, b, "198.18.0.101", nil)
	offer(pl, res, "198.18.0.150")
	bind(pl, res, "198.18.0.120", errTaken) // a reserved client gets only its address
	bind(pl, c, "198.18.0.150", errTaken)   // nobody else gets a reserved address

	// b declines .101: it stays out of use, across a restart too.
	if _, err := pl.decline(ctx, b, netip.MustParseAddr("198.18.0.101"), now.Add(24*time.Hour), now); err != nil {
		t.Fatal(err)
	}
	// c is not the holder of .100: its decline is ignored.
	if _, err := pl.decline(ctx, c, netip.MustParseAddr("198.18.0.100"), now.Add(24*time.Hour), now); err != nil {
		t.Fatal(err)
	}
	pl = testPoolOf(t, p, leases, now)
	offer(pl, c, "198.18.0.102")
	bind(pl, c, "198.18.0.101", errTaken)
	bind(pl, d, "198.18.0.100", errTaken) // a's lease survived the restart

	// a releases .100: another client does not get it while others are
	// free, a itself does.
	bind(pl, c, "198.18.0.102", nil)
	if err := pl.release(ctx, a, netip.MustParseAddr("198.18.0.100"), now); err != nil {
		t.Fatal(err)
	}
	offer(pl, d, "198.18.0.103")
	offer(pl, a, "198.18.0.100")

	if n := len(leases.m); n != 3 {
		t.Errorf("stored leases = %d, want 3 (.100, .101 declined, .102)", n)
	}
	if l := leases.m[netip.MustParseAddr("198.18.0.101")]; l.mac != nil {
		t.Errorf("declined .101 stored with MAC %v, want none", l.mac)
	}
}

func TestPoolExhausted(t *testing.T) {
	t.Parallel()
	now := time.Now()
	p := testPool
	p.Start, p.End = netip.MustParseAddr("198.18.0.100"), netip.MustParseAddr("198.18.0.101")
	pl := testPoolOf(t, p, newMemLeases(), now)
	for i := 0; i < 2; i++ {
		if _, err := pl.offer(MACfor(i), netip.Addr{}, true, now); err != nil {
			t.Fatalf("offer %d: %v", i, err)
		}
	}
	if ip, err := pl.offer(MACfor(9), netip.Addr{}, true, now); !errors.Is(err, errNoAddress) {
		t.Errorf("offer on a full pool = %v, %v; want errNoAddress", ip, err)
	}
	// Offers lapse: a minute later the pool has room again.
	if _, err := pl.offer(MACfor(9), netip.Addr{}, true, now.Add(2*offerHold)); err != nil {
		t.Errorf("offer after the holds lapsed = %v", err)
	}
}

func MACfor(i int) net.HardwareAddr { return dhcptest.MAC(0xee, i) }

// TestManyClientsAcrossRestart runs clients through a relay on loopback
// against a full-mode server, restarts it on the same lease store, and runs
// them again with as many new ones: no address is given to two MACs, and
// every client keeps its address.
func TestManyClientsAcrossRestart(t *testing.T) {
	t.Parallel()
	const n = 2000
	leases := newMemLeases()
	p := Pool{Subnet: netip.MustParsePrefix("127.0.0.0/8"),
		Start: netip.MustParseAddr("127.64.0.1"), End: netip.MustParseAddr("127.64.255.254")}
	run := func(macs []net.HardwareAddr) []dhcptest.Result {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		relay, err := dhcptest.NewRelay(conn.LocalAddr().(*net.UDPAddr))
		if err != nil {
			t.Fatal(err)
		}
		defer relay.Close()
		srv, err := New(Config{Mode: ModeFull, ServerIP: netip.MustParseAddr("127.0.0.1"), RelayPort: relay.Port(),
			Pool: p, Leases: leases, Decider: bootAll})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ctx, conn, nil) }()
		res := relay.DORA(ctx, macs, 64)
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v", err)
		}
		return res
	}
	var first, second []net.HardwareAddr
	for i := 0; i < n; i++ {
		first = append(first, dhcptest.MAC(1, i))
		second = append(second, dhcptest.MAC(2, i))
	}
	r1 := run(first)
	r2 := run(append(append([]net.HardwareAddr(nil), first...), second...))
	for _, rs := range [][]dhcptest.Result{r1, r2} {
		for _, r := range rs {
			if r.Err != nil {
				t.Fatalf("client %v: %v", r.MAC, r.Err)
			}
		}
	}
	if err := dhcptest.CheckUnique(r1, r2); err != nil {
		t.Error(err)
	}
	for i := range r1 {
		if !r1[i].IP.Equal(r2[i].IP) {
			t.Errorf("client %v had %v, got %v after the restart", r1[i].MAC, r1[i].IP, r2[i].IP)
		}
	}
}

// BenchmarkHandleDORA measures the packet path of one full exchange
// (DISCOVER then REQUEST) without sockets, with an in-memory lease store.
func BenchmarkHandleDORA(b *testing.B) {
	leases := newMemLeases()
	p := Pool{Subnet: netip.MustParsePrefix("10.0.0.0/8"),
		Start: netip.MustParseAddr("10.0.0.1"), End: netip.MustParseAddr("10.15.255.254")}
	srv, err := New(Config{Mode: ModeFull, ServerIP: netip.MustParseAddr("10.0.0.1"), Pool: p, Leases: leases, Decider: bootAll})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		mac := dhcptest.MAC(3, i)
		disc := request(mac, dhcpv4.MessageTypeDiscover, byte(i), prl(1, 3, 6, 15, 51))
		offer := srv.handle(ctx, disc.ToBytes(), nil, false)
		if offer == nil {
			b.Fatal("no offer")
		}
		req := request(mac, dhcpv4.MessageTypeRequest, byte(i), prl(1, 3, 6, 15, 51))
		req.UpdateOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 0, 0, 1)))
		req.UpdateOption(dhcpv4.OptRequestedIPAddress(offer.pkt.YourIPAddr))
		ack := srv.handle(ctx, req.ToBytes(), nil, false)
		if ack == nil {
			b.Fatal("no ack")
		}
		ack.pkt.ToBytes()
		offer.pkt.ToBytes()
	}
}
