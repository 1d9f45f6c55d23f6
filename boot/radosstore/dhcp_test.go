//go:build integration && cgo

package radosstore_test

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bootd/bootd/boot/radosstore"
	"github.com/bootd/bootd/dhcp"
	"github.com/bootd/bootd/internal/dhcptest"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// TestTwoFullInstances is issue 16's acceptance test of full mode: 10,000
// simulated DHCP clients at two full-mode servers on one segment, sharing
// one lease store in RADOS, while each server is stopped and started again
// (a new server, built from the store) in turn, and clients keep coming.
// Each client takes one of the offers it got, as a real client does; a
// third of them renew a lease (their own or another's) later, through the
// server that gave it when it is up, else through any (rebinding). No
// address may be leased to two MACs: not in any ACK seen, not in the store
// at the end; every client must end with a lease; a renewal is never
// refused.
//
// The servers run in this process on in-memory packet connections (the
// segment below), through Server.Serve: no sockets. The address pool has
// 4% more addresses than clients and the servers learn each other's leases
// every 5 s only, so that their picks meet: run against a store that
// writes leases without the claim's check, the test finds duplicates.
func TestTwoFullInstances(t *testing.T) {
	const (
		clients = 10000
		workers = 48
	)
	conf := os.Getenv("BOOTD_TEST_CEPH_CONF")
	if conf == "" {
		t.Fatal("BOOTD_TEST_CEPH_CONF is not set: run these tests with make integration, which starts a cluster")
	}
	var nb [6]byte
	_, _ = crand.Read(nb[:])
	cfg := radosstore.Config{ConfFile: conf, Keyring: filepath.Join(filepath.Dir(conf), "client.bootd.keyring"),
		Namespace: "bootd-test-" + hex.EncodeToString(nb[:])}
	pool := dhcp.Pool{Subnet: netip.MustParsePrefix("10.9.0.0/16"),
		Start: netip.MustParseAddr("10.9.0.10"), End: netip.MustParseAddr("10.9.41.0"), // 10,487 addresses
		LeaseTime: time.Hour, Refresh: 5 * time.Second}
	seg := newSegment()
	insts := []*instance{
		{t: t, seg: seg, cfg: cfg, ip: netip.MustParseAddr("10.9.0.1"), pool: pool},
		{t: t, seg: seg, cfg: cfg, ip: netip.MustParseAddr("10.9.0.2"), pool: pool},
	}
	for _, in := range insts {
		in.start()
		defer in.stop()
	}

	led := newLedger()
	start := time.Now()
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 16))
			for {
				i := int(next.Add(1)) - 1
				if i >= clients {
					return
				}
				c := &client{seg: seg, led: led, rng: rng, mac: dhcptest.MAC(0x16, i)}
				if err := c.lease(); err != nil {
					t.Errorf("client %v: %v", c.mac, err)
				}
				done.Add(1)
				if rng.IntN(3) == 0 {
					if err := led.renewSome(seg, rng); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	// Restarts: at each fifth of the clients, stop one server (in turn),
	// let the other serve alone for a while (a fortieth of the clients'
	// ACKs, at most 5 s), and start it again.
	for k := 1; k <= 4; k++ {
		for done.Load() < int64(k*clients/5) && done.Load() < clients {
			time.Sleep(10 * time.Millisecond)
		}
		in := insts[k%2]
		in.stop()
		before := led.acks.Load()
		for until := time.Now().Add(5 * time.Second); led.acks.Load()-before < clients/40 && time.Now().Before(until); {
			time.Sleep(10 * time.Millisecond)
		}
		alone := led.acks.Load() - before
		in.start()
		t.Logf("server %s restarted after %d clients; the other acknowledged %d meanwhile", in.ip, done.Load(), alone)
		if alone == 0 {
			t.Errorf("no ACK while server %s was down: the other did not serve alone", in.ip)
		}
	}
	wg.Wait()
	took := time.Since(start)

	led.check(t, clients)
	// The store at the end, read by a new instance: every lease is the
	// one acknowledged, and every client's lease is there.
	s, err := radosstore.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stored := map[netip.Addr]string{}
	if err := s.Leases(t.Context(), func(ip netip.Addr, mac net.HardwareAddr, _ time.Time) error {
		stored[ip] = mac.String()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	perServer := led.byServer()
	led.mu.Lock()
	defer led.mu.Unlock()
	for ip, mac := range stored {
		if h, ok := led.holder[ip]; ok && h != mac {
			t.Errorf("store: %v leased to %s, but acknowledged to %s", ip, mac, h)
		}
	}
	for mac, ip := range led.addr {
		if stored[ip] != mac {
			t.Errorf("store: %s's lease of %v is not there (%q holds it)", mac, ip, stored[ip])
		}
	}
	t.Logf("%d clients leased in %v: %d ACKs (%v by server), %d NAKs at SELECTING (claims refused or addresses learned), %d renewals, %d leases stored",
		len(led.addr), took.Round(time.Millisecond), led.acks.Load(), perServer, led.naks.Load(), led.renewals.Load(), len(stored))
}

// instance is one bootd's DHCP server, stopped and started again.
type instance struct {
	t      *testing.T
	seg    *segment
	cfg    radosstore.Config
	ip     netip.Addr
	pool   dhcp.Pool
	store  *radosstore.Store
	cancel context.CancelFunc
	done   chan error
}

func (in *instance) start() {
	in.t.Helper()
	var err error
	if in.store, err = radosstore.Open(in.cfg); err != nil {
		in.t.Fatal(err)
	}
	srv, err := dhcp.New(dhcp.Config{Mode: dhcp.ModeFull, ServerIP: in.ip, Pool: in.pool, Leases: in.store,
		Decider: dhcp.DeciderFunc(func(context.Context, dhcp.Client) (dhcp.Answer, error) {
			return dhcp.Answer{Known: true}, nil
		})})
	if err != nil {
		in.t.Fatal(err)
	}
	conn := in.seg.attach(in.ip)
	ctx, cancel := context.WithCancel(context.Background())
	in.cancel, in.done = cancel, make(chan error, 1)
	go func() { in.done <- srv.Serve(ctx, conn, nil) }()
}

func (in *instance) stop() {
	if in.cancel == nil {
		return
	}
	in.seg.detach(in.ip)
	in.cancel()
	if err := <-in.done; err != nil {
		in.t.Errorf("server %s: Serve = %v", in.ip, err)
	}
	in.cancel = nil
	in.store.Close()
}

// segment is the broadcast domain: the servers attached to it, and the
// clients waiting for replies, by transaction ID.
type segment struct {
	mu      sync.Mutex
	servers map[netip.Addr]*pipe
	waiting map[dhcpv4.TransactionID]chan *dhcpv4.DHCPv4
}

func newSegment() *segment {
	return &segment{servers: map[netip.Addr]*pipe{}, waiting: map[dhcpv4.TransactionID]chan *dhcpv4.DHCPv4{}}
}

func (g *segment) attach(ip netip.Addr) *pipe {
	p := &pipe{g: g, in: make(chan []byte, 1024), closed: make(chan struct{})}
	g.mu.Lock()
	g.servers[ip] = p
	g.mu.Unlock()
	return p
}

func (g *segment) detach(ip netip.Addr) {
	g.mu.Lock()
	delete(g.servers, ip)
	g.mu.Unlock()
}

// send broadcasts p to every server up, or sends it to server only when
// it is valid and up (a client's unicast); it reports how many got it.
func (g *segment) send(p *dhcpv4.DHCPv4, server netip.Addr) int {
	b := p.ToBytes()
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for ip, s := range g.servers {
		if server.IsValid() && ip != server {
			continue
		}
		select {
		case s.in <- b:
			n++
		default: // a full queue drops, as a socket does
		}
	}
	return n
}

// listen registers a transaction's replies; the returned func ends it.
func (g *segment) listen(xid dhcpv4.TransactionID) (chan *dhcpv4.DHCPv4, func()) {
	ch := make(chan *dhcpv4.DHCPv4, 8)
	g.mu.Lock()
	g.waiting[xid] = ch
	g.mu.Unlock()
	return ch, func() {
		g.mu.Lock()
		delete(g.waiting, xid)
		g.mu.Unlock()
	}
}

func (g *segment) deliver(b []byte) {
	r, err := dhcpv4.FromBytes(b)
	if err != nil {
		return
	}
	g.mu.Lock()
	ch := g.waiting[r.TransactionID]
	g.mu.Unlock()
	if ch != nil {
		select {
		case ch <- r:
		default:
		}
	}
}

// pipe is a server's end of the segment: a net.PacketConn in memory.
type pipe struct {
	g      *segment
	in     chan []byte
	closed chan struct{}
	once   sync.Once
}

var clientAddr = &net.UDPAddr{IP: net.IPv4zero, Port: 68}

func (p *pipe) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case pkt := <-p.in:
		return copy(b, pkt), clientAddr, nil
	case <-p.closed:
		return 0, nil, net.ErrClosed
	}
}

func (p *pipe) WriteTo(b []byte, _ net.Addr) (int, error) {
	p.g.deliver(b)
	return len(b), nil
}

func (p *pipe) Close() error                     { p.once.Do(func() { close(p.closed) }); return nil }
func (p *pipe) LocalAddr() net.Addr              { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 67} }
func (p *pipe) SetDeadline(time.Time) error      { return nil }
func (p *pipe) SetReadDeadline(time.Time) error  { return nil }
func (p *pipe) SetWriteDeadline(time.Time) error { return nil }

// ledger is what the clients saw: every ACK's address and MAC.
type ledger struct {
	mu       sync.Mutex
	holder   map[netip.Addr]string // address -> the MAC acknowledged
	addr     map[string]netip.Addr // MAC -> its address
	server   map[string]netip.Addr // MAC -> the server that acknowledged it last
	dups     []string
	perSrv   map[netip.Addr]int
	acks     atomic.Int64
	naks     atomic.Int64
	renewals atomic.Int64
}

func newLedger() *ledger {
	return &ledger{holder: map[netip.Addr]string{}, addr: map[string]netip.Addr{},
		server: map[string]netip.Addr{}, perSrv: map[netip.Addr]int{}}
}

// ack records an ACK of ip to mac by server; a second MAC on one address
// (no lease ends during the test) or a second address for one MAC is a
// failure.
func (l *ledger) ack(mac string, ip, server netip.Addr) {
	l.acks.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if h, ok := l.holder[ip]; ok && h != mac {
		l.dups = append(l.dups, fmt.Sprintf("%v acknowledged to %s and to %s", ip, h, mac))
	}
	if a, ok := l.addr[mac]; ok && a != ip {
		l.dups = append(l.dups, fmt.Sprintf("%s acknowledged %v and %v", mac, a, ip))
	}
	l.holder[ip], l.addr[mac], l.server[mac] = mac, ip, server
	l.perSrv[server]++
}

func (l *ledger) byServer() map[netip.Addr]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[netip.Addr]int{}
	for k, v := range l.perSrv {
		out[k] = v
	}
	return out
}

func (l *ledger) check(t *testing.T, clients int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, d := range l.dups {
		t.Errorf("duplicate: %s", d)
	}
	if len(l.addr) != clients {
		t.Errorf("%d clients leased, want %d", len(l.addr), clients)
	}
	for srv, n := range l.perSrv {
		if n < clients/10 {
			t.Errorf("server %v acknowledged %d leases, want both to answer (at least %d)", srv, n, clients/10)
		}
	}
}

// renewSome renews the lease of a client leased before (RFC 2131 section
// 4.4.5): a REQUEST with its address in ciaddr, to the server that gave it
// when that one is up (RENEWING), else to all (REBINDING). It must be
// acknowledged with the same address.
func (l *ledger) renewSome(g *segment, rng *rand.Rand) error {
	l.mu.Lock()
	if len(l.addr) == 0 {
		l.mu.Unlock()
		return nil
	}
	// A random MAC of those leased: pick by index from a random start.
	var mac string
	var ip, srv netip.Addr
	skip := rng.IntN(len(l.addr))
	for m, a := range l.addr {
		if skip == 0 {
			mac, ip, srv = m, a, l.server[m]
			break
		}
		skip--
	}
	l.mu.Unlock()
	hw, _ := net.ParseMAC(mac)
	c := &client{seg: g, led: l, rng: rng, mac: hw}
	for try := 0; try < 10; try++ {
		req := c.packet(dhcpv4.MessageTypeRequest)
		req.ClientIPAddr = ip.AsSlice()
		to := srv
		if try > 0 {
			to = netip.Addr{} // rebinding: to every server
		}
		r, from := c.ask(req, to, dhcpv4.MessageTypeAck, 2*time.Second)
		switch {
		case r == nil:
			continue // the server went down: rebind
		case r.MessageType() == dhcpv4.MessageTypeNak:
			return fmt.Errorf("renewal of %s's %v: NAK from %v", mac, ip, from)
		case toAddr(r.YourIPAddr) != ip:
			return fmt.Errorf("renewal of %s's %v: ACK of %v from %v", mac, ip, r.YourIPAddr, from)
		}
		l.renewals.Add(1)
		l.ack(mac, ip, from)
		return nil
	}
	return fmt.Errorf("renewal of %s's %v: no answer in 10 tries", mac, ip)
}

// client is one simulated DHCP client.
type client struct {
	seg *segment
	led *ledger
	rng *rand.Rand
	mac net.HardwareAddr
}

func (c *client) packet(mt dhcpv4.MessageType) *dhcpv4.DHCPv4 {
	p := dhcptest.Request(c.mac, mt, 0)
	binary.BigEndian.PutUint32(p.TransactionID[:], c.rng.Uint32())
	return p
}

// ask sends p (to server only, when valid) and waits for the first reply
// of type want or a NAK; it returns it and the server that sent it.
func (c *client) ask(p *dhcpv4.DHCPv4, server netip.Addr, want dhcpv4.MessageType, wait time.Duration) (*dhcpv4.DHCPv4, netip.Addr) {
	ch, end := c.seg.listen(p.TransactionID)
	defer end()
	if c.seg.send(p, server) == 0 {
		time.Sleep(50 * time.Millisecond)
		return nil, netip.Addr{}
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case r := <-ch:
			if mt := r.MessageType(); mt == want || mt == dhcpv4.MessageTypeNak {
				return r, toAddr(r.ServerIdentifier())
			}
		case <-timer.C:
			return nil, netip.Addr{}
		}
	}
}

// lease runs DISCOVER, OFFER, REQUEST, ACK until the client is leased: it
// gathers offers until every server up offered or a short wait passed,
// takes one at random, and requests it from that server, broadcast (the
// other declines its own offer on seeing it); a NAK or silence starts over.
func (c *client) lease() error {
	for try := 0; try < 30; try++ {
		disc := c.packet(dhcpv4.MessageTypeDiscover)
		ch, end := c.seg.listen(disc.TransactionID)
		up := c.seg.send(disc, netip.Addr{})
		var offers []*dhcpv4.DHCPv4
		timer := time.NewTimer(time.Second)
	gather:
		for up > 0 && len(offers) < up {
			select {
			case r := <-ch:
				if r.MessageType() == dhcpv4.MessageTypeOffer {
					offers = append(offers, r)
					timer.Reset(100 * time.Millisecond) // the others get a moment more
				}
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		end()
		if len(offers) == 0 {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		o := offers[c.rng.IntN(len(offers))]
		req := c.packet(dhcpv4.MessageTypeRequest)
		req.TransactionID = disc.TransactionID
		req.UpdateOption(dhcpv4.OptServerIdentifier(o.ServerIdentifier()))
		req.UpdateOption(dhcpv4.OptRequestedIPAddress(o.YourIPAddr))
		r, from := c.ask(req, netip.Addr{}, dhcpv4.MessageTypeAck, 2*time.Second)
		switch {
		case r == nil:
			continue
		case r.MessageType() == dhcpv4.MessageTypeNak:
			c.led.naks.Add(1)
			continue
		}
		c.led.ack(c.mac.String(), toAddr(r.YourIPAddr), from)
		return nil
	}
	return errors.New("no lease in 30 tries")
}

func toAddr(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip.To4())
	return a
}
