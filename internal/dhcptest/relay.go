// Package dhcptest simulates many DHCP clients behind a relay agent on
// 127.0.0.1, for tests of a full-mode DHCP server: every request carries
// the relay's address in giaddr, so every reply comes back to the relay's
// socket (RFC 2131 section 4.1), with no broadcast and no address beyond
// loopback.
package dhcptest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// A Result is what one client got.
type Result struct {
	MAC net.HardwareAddr
	// IP is the acknowledged address; nil when the client got none.
	IP net.IP
	// Server is option 54 of the ACK.
	Server net.IP
	// Ack is the acknowledgement itself; nil when the client got none.
	Ack *dhcpv4.DHCPv4
	// Err says why the client got no address.
	Err error
}

// Relay is a fake relay agent: a UDP socket on 127.0.0.1 that sends
// clients' requests to a server and receives the replies.
type Relay struct {
	conn   *net.UDPConn
	server *net.UDPAddr
	giaddr net.IP

	mu      sync.Mutex
	waiting map[dhcpv4.TransactionID]chan *dhcpv4.DHCPv4
	xid     atomic.Uint32
	done    chan struct{}
}

// NewRelay opens the relay's socket; the server must send replies to
// 127.0.0.1 at Port.
func NewRelay(server *net.UDPAddr) (*Relay, error) {
	return NewRelayAt(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, server)
}

// NewRelayAt opens the relay's socket at local, whose address is the
// giaddr of every request: a relay agent on port 67 of a router, as a
// server on another network sees one (the boot-storm simulator's).
func NewRelayAt(local, server *net.UDPAddr) (*Relay, error) {
	c, err := net.ListenUDP("udp4", local)
	if err != nil {
		return nil, err
	}
	c.SetReadBuffer(4 << 20)
	r := &Relay{conn: c, server: server, giaddr: local.IP.To4(),
		waiting: map[dhcpv4.TransactionID]chan *dhcpv4.DHCPv4{}, done: make(chan struct{})}
	go r.read()
	return r, nil
}

// Port is the relay's UDP port.
func (r *Relay) Port() int { return r.conn.LocalAddr().(*net.UDPAddr).Port }

// Close closes the socket.
func (r *Relay) Close() error {
	err := r.conn.Close()
	<-r.done
	return err
}

func (r *Relay) read() {
	defer close(r.done)
	buf := make([]byte, 1500)
	for {
		n, _, err := r.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		p, err := dhcpv4.FromBytes(buf[:n])
		if err != nil {
			continue
		}
		r.mu.Lock()
		ch := r.waiting[p.TransactionID]
		r.mu.Unlock()
		if ch != nil {
			select {
			case ch <- p:
			default:
			}
		}
	}
}

// RandomMACs returns n distinct random locally administered unicast MAC
// addresses drawn from seed, as a flood of forged clients sends.
func RandomMACs(seed uint64, n int) []net.HardwareAddr {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	seen := map[[6]byte]bool{}
	out := make([]net.HardwareAddr, 0, n)
	for len(out) < n {
		var m [6]byte
		v := rng.Uint64()
		for i := range m {
			m[i] = byte(v >> (8 * i))
		}
		m[0] = m[0]&^1 | 2 // unicast, locally administered
		if !seen[m] {
			seen[m] = true
			out = append(out, net.HardwareAddr(m[:]))
		}
	}
	return out
}

// MAC returns the i-th simulated MAC address of a run: 02:<run>:<i>, a
// locally administered address.
func MAC(run byte, i int) net.HardwareAddr {
	m := net.HardwareAddr{0x02, run, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(m[2:], uint32(i))
	return m
}

// Opts change how Run's clients behave.
type Opts struct {
	// Tries and Wait are how often a client sends each request and how
	// long it first waits for the reply (doubled up to MaxWait): default 6
	// and 250 ms. A flood sends once and waits briefly.
	Tries int
	Wait  time.Duration
	// MaxWait caps the doubled wait; zero means 2 s. A firmware client
	// (RFC 2131 section 4.1) waits 4 s first and doubles up to 64 s.
	MaxWait time.Duration
	// Decline makes each client decline the address it was acknowledged
	// (RFC 2131 section 4.3.3) at once; its Result keeps the address.
	Decline bool
	// Options, when not nil, adds options to each DISCOVER and REQUEST
	// (a firmware's vendor class, architecture, user class).
	Options func(*dhcpv4.DHCPv4)
}

// One runs DISCOVER, OFFER, REQUEST, ACK for one client with o's
// behaviour; the boot-storm simulator runs each node's exchanges itself.
func (r *Relay) One(ctx context.Context, mac net.HardwareAddr, o Opts) Result {
	if o.Tries <= 0 {
		o.Tries = 6
	}
	if o.Wait <= 0 {
		o.Wait = 250 * time.Millisecond
	}
	return r.one(ctx, mac, o)
}

// DORA runs DISCOVER, OFFER, REQUEST, ACK for every MAC, window clients at
// a time, each retrying a lost packet a few times. It stops early when ctx
// is done.
func (r *Relay) DORA(ctx context.Context, macs []net.HardwareAddr, window int) []Result {
	return r.Run(ctx, macs, window, Opts{})
}

// Run is DORA with o's behaviour.
func (r *Relay) Run(ctx context.Context, macs []net.HardwareAddr, window int, o Opts) []Result {
	if o.Tries <= 0 {
		o.Tries = 6
	}
	if o.Wait <= 0 {
		o.Wait = 250 * time.Millisecond
	}
	out := make([]Result, len(macs))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < window; w++ {
		wg.Go(func() {
			for i := range next {
				out[i] = r.one(ctx, macs[i], o)
			}
		})
	}
	for i := range macs {
		if ctx.Err() != nil {
			out[i] = Result{MAC: macs[i], Err: ctx.Err()}
			continue
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

func (r *Relay) one(ctx context.Context, mac net.HardwareAddr, o Opts) Result {
	res := Result{MAC: mac}
	var xid dhcpv4.TransactionID
	binary.BigEndian.PutUint32(xid[:], r.xid.Add(1))
	ch := make(chan *dhcpv4.DHCPv4, 4)
	r.mu.Lock()
	r.waiting[xid] = ch
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.waiting, xid)
		r.mu.Unlock()
	}()
	disc := r.packet(mac, xid, dhcpv4.MessageTypeDiscover)
	if o.Options != nil {
		o.Options(disc)
	}
	offer, err := r.ask(ctx, disc, ch, dhcpv4.MessageTypeOffer, o)
	if err != nil {
		res.Err = fmt.Errorf("discover: %w", err)
		return res
	}
	req := r.packet(mac, xid, dhcpv4.MessageTypeRequest)
	req.UpdateOption(dhcpv4.OptServerIdentifier(offer.ServerIdentifier()))
	req.UpdateOption(dhcpv4.OptRequestedIPAddress(offer.YourIPAddr))
	if o.Options != nil {
		o.Options(req)
	}
	ack, err := r.ask(ctx, req, ch, dhcpv4.MessageTypeAck, o)
	if err != nil {
		res.Err = fmt.Errorf("request %v: %w", offer.YourIPAddr, err)
		return res
	}
	res.IP, res.Server, res.Ack = ack.YourIPAddr, ack.ServerIdentifier(), ack
	if o.Decline {
		dec := r.packet(mac, xid, dhcpv4.MessageTypeDecline)
		dec.UpdateOption(dhcpv4.OptServerIdentifier(ack.ServerIdentifier()))
		dec.UpdateOption(dhcpv4.OptRequestedIPAddress(ack.YourIPAddr))
		if _, err := r.conn.WriteToUDP(dec.ToBytes(), r.server); err != nil {
			res.Err = err
		}
	}
	return res
}

// ErrNak reports a DHCPNAK.
var ErrNak = errors.New("got DHCPNAK")

func (r *Relay) ask(ctx context.Context, p *dhcpv4.DHCPv4, ch chan *dhcpv4.DHCPv4, want dhcpv4.MessageType, o Opts) (*dhcpv4.DHCPv4, error) {
	b := p.ToBytes()
	for try := 0; try < o.Tries; try++ {
		if _, err := r.conn.WriteToUDP(b, r.server); err != nil {
			return nil, err
		}
		maxWait := o.MaxWait
		if maxWait <= 0 {
			maxWait = 2 * time.Second
		}
		got, err := wait(ctx, ch, want, min(o.Wait<<try, maxWait))
		if got != nil || err != nil {
			return got, err
		}
	}
	return nil, errors.New("no reply")
}

// wait returns the reply of type want, an error for a NAK, or nil, nil
// when d passes first.
func wait(ctx context.Context, ch chan *dhcpv4.DHCPv4, want dhcpv4.MessageType, d time.Duration) (*dhcpv4.DHCPv4, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
			return nil, nil
		case got := <-ch:
			switch got.MessageType() {
			case want:
				return got, nil
			case dhcpv4.MessageTypeNak:
				return nil, fmt.Errorf("%w: %s", ErrNak, got.Message())
			}
			// a late reply to an earlier step: keep waiting
		}
	}
}

func (r *Relay) packet(mac net.HardwareAddr, xid dhcpv4.TransactionID, mt dhcpv4.MessageType) *dhcpv4.DHCPv4 {
	p := &dhcpv4.DHCPv4{
		OpCode: dhcpv4.OpcodeBootRequest, HWType: iana.HWTypeEthernet, HopCount: 1,
		ClientHWAddr: mac, TransactionID: xid, ClientIPAddr: net.IPv4zero, YourIPAddr: net.IPv4zero,
		ServerIPAddr: net.IPv4zero, GatewayIPAddr: r.giaddr, Options: dhcpv4.Options{},
	}
	p.UpdateOption(dhcpv4.OptMessageType(mt))
	return p
}

// CheckUnique returns an error naming the first address given to two MACs.
func CheckUnique(results ...[]Result) error {
	owner := map[string]string{}
	for _, rs := range results {
		for _, r := range rs {
			if r.IP == nil {
				continue
			}
			ip, mac := r.IP.String(), r.MAC.String()
			if o, ok := owner[ip]; ok && o != mac {
				return fmt.Errorf("%s given to both %s and %s", ip, o, mac)
			}
			owner[ip] = mac
		}
	}
	return nil
}
