package dhcp

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// A reply is a packet to send and where to.
type reply struct {
	pkt    *dhcpv4.DHCPv4
	to     *net.UDPAddr
	client Client
	file   string
	proxy  bool
}

// decideTimeout bounds one call of the Decider.
const decideTimeout = 2 * time.Second

// handle turns one received packet into the reply to send, or nil. from is
// the sender (nil when unknown); pxePort marks packets that came to port
// 4011. Network input never panics it: what cannot be parsed is counted
// and dropped.
func (s *Server) handle(ctx context.Context, b []byte, from *net.UDPAddr, pxePort bool) *reply {
	req, err := dhcpv4.FromBytes(b)
	if err != nil || req.OpCode != dhcpv4.OpcodeBootRequest || req.HWType != iana.HWTypeEthernet ||
		len(req.ClientHWAddr) != 6 {
		s.met.drop(dropMalformed)
		s.log.Debug("dhcp packet dropped", "from", addrString(from), "reason", dropMalformed, "err", err)
		return nil
	}
	mt := req.MessageType()
	c := s.seen.recall(classify(req), mt)
	s.met.received.WithLabelValues(typeLabel(mt), c.Label()).Inc()
	if s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.Debug("dhcp request", "type", typeLabel(mt), "mac", c.MAC.String(), "class", c.Label(),
			"vendor_class", c.VendorClass, "relay", ipString(c.Relay))
	}
	if s.cfg.Report != nil {
		s.cfg.Report(Event{Type: typeLabel(mt), Client: c, ClientIP: sawAt(req, from),
			Requested: req.RequestedIPAddress(), Time: s.cfg.Now()})
	}
	if s.cfg.Mode == ModeProxy {
		return s.proxy(ctx, req, c, mt, from, pxePort)
	}
	if pxePort {
		return nil
	}
	return s.full(ctx, req, c, mt)
}

// sent counts and reports a reply that left.
func (s *Server) sent(r *reply) {
	mt := r.pkt.MessageType()
	s.met.sent.WithLabelValues(typeLabel(mt), r.client.Label()).Inc()
	if mt == dhcpv4.MessageTypeNak {
		s.log.Info("dhcp nak sent", "mac", r.client.MAC.String(), "msg", r.pkt.Message())
	} else if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("dhcp reply sent", "type", typeLabel(mt), "mac", r.client.MAC.String(),
			"ip", r.pkt.YourIPAddr.String(), "file", r.file, "to", r.to.String())
	}
	if s.cfg.Report != nil {
		s.cfg.Report(Event{Type: typeLabel(mt), Client: r.client, YourIP: r.pkt.YourIPAddr,
			BootFile: r.file, Proxy: r.proxy, Time: s.cfg.Now()})
	}
}

// sawAt is where req showed its sender to be (Event.ClientIP): ciaddr,
// else the source of a packet that came straight from the client.
func sawAt(req *dhcpv4.DHCPv4, from *net.UDPAddr) net.IP {
	if ci := req.ClientIPAddr.To4(); ci != nil && !ci.IsUnspecified() {
		return ci
	}
	if gi := req.GatewayIPAddr.To4(); gi != nil && !gi.IsUnspecified() || from == nil {
		return nil // relayed: the source is the relay
	}
	if ip := from.IP.To4(); ip != nil && !ip.IsUnspecified() && !ip.Equal(net.IPv4bcast) {
		return ip
	}
	return nil
}

// decide asks the Decider, counting a failure as a drop, and applies
// known mode: a client it does not admit is dropped and counted.
func (s *Server) decide(ctx context.Context, c Client) (Answer, bool) {
	ctx, cancel := context.WithTimeout(ctx, decideTimeout)
	defer cancel()
	a, err := s.cfg.Decider.Decide(ctx, c)
	if err != nil {
		s.met.drop(dropDecider)
		s.log.Warn("dhcp decision failed; packet dropped", "mac", c.MAC.String(), "err", err)
		return Answer{}, false
	}
	if !s.admitted(c, a) {
		s.met.drop(dropUnknown)
		s.log.Debug("dhcp client not enrolled: no reply (dhcp_clients known)", "mac", c.MAC.String())
		return Answer{}, false
	}
	return a, true
}

// newReply starts a reply of type mt to req, with the server identifier
// (option 54), and the relay agent information (RFC 3046) and client
// identifier (RFC 6842) echoed.
func (s *Server) newReply(req *dhcpv4.DHCPv4, mt dhcpv4.MessageType) *dhcpv4.DHCPv4 {
	r := &dhcpv4.DHCPv4{
		OpCode: dhcpv4.OpcodeBootReply, HWType: req.HWType, TransactionID: req.TransactionID,
		Flags: req.Flags, ClientHWAddr: req.ClientHWAddr,
		ClientIPAddr: net.IPv4zero, YourIPAddr: net.IPv4zero, ServerIPAddr: net.IPv4zero,
		GatewayIPAddr: req.GatewayIPAddr, Options: dhcpv4.Options{},
	}
	r.UpdateOption(dhcpv4.OptMessageType(mt))
	r.UpdateOption(dhcpv4.OptServerIdentifier(s.cfg.ServerIP.AsSlice()))
	for _, code := range []dhcpv4.OptionCode{dhcpv4.OptionRelayAgentInformation, dhcpv4.OptionClientIdentifier} {
		if v := req.Options.Get(code); v != nil {
			r.UpdateOption(dhcpv4.OptGeneric(code, v))
		}
	}
	return r
}

// dest is where a reply to req goes (RFC 2131 section 4.1): to the relay
// when relayed, to the client's own address when it has one, else broadcast.
func (s *Server) dest(req *dhcpv4.DHCPv4, nak bool) *net.UDPAddr {
	if gi := req.GatewayIPAddr.To4(); gi != nil && !gi.IsUnspecified() {
		return &net.UDPAddr{IP: gi, Port: s.cfg.RelayPort}
	}
	if ci := req.ClientIPAddr.To4(); !nak && ci != nil && !ci.IsUnspecified() {
		return &net.UDPAddr{IP: ci, Port: s.cfg.ClientPort}
	}
	return &net.UDPAddr{IP: s.cfg.Broadcast.AsSlice(), Port: s.cfg.ClientPort}
}

// typeLabel names a message type from a fixed set.
func typeLabel(mt dhcpv4.MessageType) string {
	switch mt {
	case dhcpv4.MessageTypeDiscover:
		return "DISCOVER"
	case dhcpv4.MessageTypeOffer:
		return "OFFER"
	case dhcpv4.MessageTypeRequest:
		return "REQUEST"
	case dhcpv4.MessageTypeDecline:
		return "DECLINE"
	case dhcpv4.MessageTypeAck:
		return "ACK"
	case dhcpv4.MessageTypeNak:
		return "NAK"
	case dhcpv4.MessageTypeRelease:
		return "RELEASE"
	case dhcpv4.MessageTypeInform:
		return "INFORM"
	case dhcpv4.MessageTypeNone:
		return "BOOTP"
	}
	return "OTHER"
}

func addrString(a *net.UDPAddr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

func ipString(ip net.IP) string {
	if ip == nil {
		return ""
	}
	return ip.String()
}

func toAddr(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip.To4())
	if !ok {
		return netip.Addr{}
	}
	return a
}

// memory remembers, for a few minutes, the MACs classified as Raspberry
// Pi 4: its DHCP REQUEST carries no option 60, so the class of its
// DISCOVER is carried over by MAC.
type memory struct {
	mu sync.Mutex
	m  map[string]time.Time
}

const (
	memoryTTL = 5 * time.Minute
	memoryCap = 1 << 16
)

func newMemory() *memory { return &memory{m: map[string]time.Time{}} }

func (m *memory) recall(c Client, mt dhcpv4.MessageType) Client {
	now := time.Now()
	key := c.MAC.String()
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.Class == ClassRPi4 {
		if len(m.m) >= memoryCap {
			for k, t := range m.m {
				if now.Sub(t) > memoryTTL {
					delete(m.m, k)
				}
			}
			if len(m.m) >= memoryCap {
				clear(m.m)
			}
		}
		m.m[key] = now
		return c
	}
	if c.VendorClass == "" && mt == dhcpv4.MessageTypeRequest {
		if t, ok := m.m[key]; ok && now.Sub(t) < memoryTTL {
			c.Class = ClassRPi4
		}
	}
	return c
}
