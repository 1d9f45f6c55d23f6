package dhcp

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/bootd/bootd/internal/dhcptest"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// TestDeclineFlood: 2,000 random MACs take an address and decline it at
// once. The quarantine never passes its limits, the enrolled machine still
// gets a lease, and once the hold is over no address and no decliner is
// left in quarantine.
func TestDeclineFlood(t *testing.T) {
	t.Parallel()
	rs := newRelayServer(t, nil)
	lim, size := floodPool.limits(), floodPool.size()
	rs.flood(2, 2000, true)
	time.Sleep(100 * time.Millisecond) // the last DECLINEs are in flight
	st := rs.srv.Stats()
	checkBounded(t, "after the decline flood", st, lim, size)
	if st.Quarantined != lim.quarantined {
		t.Errorf("quarantined = %d, want the limit %d reached", st.Quarantined, lim.quarantined)
	}
	if r := rs.lease(t, enrolled); r.Err != nil {
		t.Fatalf("enrolled machine after the decline flood: %v", r.Err)
	}
	rs.clk.advance(10*time.Minute + time.Second) // the default DeclineHold
	st = rs.srv.Stats()
	if st.Quarantined != 0 || st.Decliners != 0 {
		t.Errorf("after the hold: %+v; want nothing quarantined", st)
	}
}

// TestDeclineLimits: one client cannot take the pool away by declining
// address after address: past its own limit a DECLINE only ends its lease.
func TestDeclineLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	pl := testPoolOf(t, testPool, newMemLeases(), clk.now())
	mac := MACfor(1)
	quarantined := 0
	for i := range 10 {
		now := clk.now()
		ip, err := pl.offer(mac, netip.Addr{}, false, now)
		if err != nil {
			t.Fatalf("offer %d: %v", i, err)
		}
		if err := pl.bind(ctx, mac, ip, false, now.Add(time.Hour), now); err != nil {
			t.Fatalf("bind %d: %v", i, err)
		}
		limited, err := pl.decline(ctx, mac, ip, now.Add(10*time.Minute), now)
		if err != nil {
			t.Fatal(err)
		}
		if !limited {
			quarantined++
		}
	}
	if st := pl.stats(clk.now()); quarantined != 2 || st.Quarantined != 2 || st.Decliners != 1 {
		t.Errorf("quarantined %d, stats %+v; want 2 addresses of 1 client", quarantined, st)
	}
	clk.advance(11 * time.Minute)
	if st := pl.stats(clk.now()); st.Quarantined != 0 || st.Decliners != 0 || st.Free != testPool.size() {
		t.Errorf("after the hold: %+v; want none quarantined, every address free", st)
	}
}

// TestOfferStatePruned: offers nobody requested end after offerHold, and
// the MACs that held them are forgotten.
func TestOfferStatePruned(t *testing.T) {
	t.Parallel()
	clk := newClock()
	pl := testPoolOf(t, testPool, newMemLeases(), clk.now())
	lim := testPool.limits()
	for i := range 200 {
		pl.offer(dhcptest.MAC(7, i), netip.Addr{}, false, clk.now())
	}
	st := pl.stats(clk.now())
	if st.UnknownOffers != lim.offers || st.Clients != lim.offers {
		t.Errorf("after 200 offers: %+v; want %d offers and clients (the limit)", st, lim.offers)
	}
	clk.advance(offerHold)
	if st := pl.stats(clk.now()); st.Offers != 0 || st.Clients != 0 || st.Wakeups != 0 {
		t.Errorf("a minute later: %+v; want no offer, no client, no wakeup", st)
	}
}

// TestKnownMode: in known mode the server answers enrolled MACs, MACs of
// an allowed OUI and, while the discover window is open, any MAC; never
// another, in full and in proxy mode.
func TestKnownMode(t *testing.T) {
	t.Parallel()
	for _, mode := range []Mode{ModeFull, ModeProxy} {
		win := &Window{}
		clk := newClock()
		h := newHarness(t, mode, func(c *Config) {
			c.Decider, c.Clients, c.Now, c.Window = knownOnly, ClientsKnown, clk.now, win
			c.AllowOUI = [][3]byte{{0x52, 0x54, 0x01}}
		})
		ask := func(mac net.HardwareAddr, xid byte) bool {
			p := request(mac, dhcpv4.MessageTypeDiscover, xid,
				dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00000:UNDI:002001")))
			return h.exchange(p, false, 300*time.Millisecond) != nil
		}
		stranger, allowed := mustMAC("02:00:00:00:00:01"), mustMAC("52:54:01:00:00:01")
		for _, c := range []struct {
			mac  net.HardwareAddr
			want bool
		}{{enrolled, true}, {allowed, true}, {stranger, false}} {
			if got := ask(c.mac, 1); got != c.want {
				t.Errorf("%s: DISCOVER from %v answered %v, want %v", mode, c.mac, got, c.want)
			}
		}
		win.Open(clk.now().Add(10 * time.Minute))
		if !ask(stranger, 2) {
			t.Errorf("%s: window open: stranger not answered", mode)
		}
		clk.advance(11 * time.Minute)
		if ask(stranger, 3) {
			t.Errorf("%s: window lapsed: stranger answered", mode)
		}
		win.Open(clk.now().Add(time.Minute))
		win.Close()
		if ask(stranger, 4) {
			t.Errorf("%s: window closed: stranger answered", mode)
		}
		h.stop()
	}
}

// TestEventAddress: a REQUEST's option 50 is reported as Requested, never
// as the address the client was seen at; ciaddr or the source is.
func TestEventAddress(t *testing.T) {
	t.Parallel()
	evs := make(chan Event, 16)
	h := newHarness(t, ModeProxy, func(c *Config) { c.Report = func(e Event) { evs <- e } })
	claim := dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(198, 18, 0, 66)))
	vc := dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00000:UNDI:002001"))
	h.exchange(request(macBIOS, dhcpv4.MessageTypeRequest, 1, vc, claim), false, 200*time.Millisecond)
	withCI := request(macBIOS, dhcpv4.MessageTypeRequest, 2, vc, claim)
	withCI.ClientIPAddr = net.IPv4(198, 18, 0, 77)
	h.exchange(withCI, true, 200*time.Millisecond)
	var got []Event
	for len(got) < 2 {
		select {
		case e := <-evs:
			if e.Type == "REQUEST" {
				got = append(got, e)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("got %d REQUEST events, want 2", len(got))
		}
	}
	// The test's packets come from 127.0.0.1 (firmware's, from 0.0.0.0,
	// show none): the source is what bootd saw.
	if !got[0].ClientIP.Equal(net.IPv4(127, 0, 0, 1)) || !got[0].Requested.Equal(net.IPv4(198, 18, 0, 66)) {
		t.Errorf("option 50 only: ClientIP %v, Requested %v; want the source 127.0.0.1 and 198.18.0.66", got[0].ClientIP, got[0].Requested)
	}
	if !got[1].ClientIP.Equal(net.IPv4(198, 18, 0, 77)) {
		t.Errorf("ciaddr: ClientIP %v, want 198.18.0.77", got[1].ClientIP)
	}
}
