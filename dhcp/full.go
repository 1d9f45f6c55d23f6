package dhcp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// full answers as the network's DHCP server (RFC 2131).
func (s *Server) full(ctx context.Context, req *dhcpv4.DHCPv4, c Client, mt dhcpv4.MessageType) *reply {
	if c.Relay != nil && !s.pool.inSubnet(ip4(toAddr(c.Relay))) {
		s.met.drop(dropSubnet)
		s.log.Debug("dhcp relayed request from another network dropped", "mac", c.MAC.String(), "relay", c.Relay.String())
		return nil
	}
	now := s.cfg.Now()
	switch mt {
	case dhcpv4.MessageTypeDiscover:
		return s.discover(ctx, req, c, now)
	case dhcpv4.MessageTypeRequest:
		return s.request(ctx, req, c, now)
	case dhcpv4.MessageTypeDecline:
		ip := toAddr(req.RequestedIPAddress())
		if !s.forUs(req) || !ip.IsValid() {
			return nil
		}
		limited, err := s.pool.decline(ctx, c.MAC, ip, now.Add(s.cfg.Pool.DeclineHold), now)
		switch {
		case err != nil:
			s.met.drop(dropStore)
			s.log.Error("dhcp decline not stored", "mac", c.MAC.String(), "ip", ip.String(), "err", err)
		case limited:
			s.met.drop(dropDeclines)
			s.log.Debug("dhcp decline past the quarantine's limits: address not quarantined", "mac", c.MAC.String(), "ip", ip.String())
		default:
			s.log.Info("dhcp address declined: in use by another host", "mac", c.MAC.String(), "ip", ip.String())
		}
	case dhcpv4.MessageTypeRelease:
		ip := toAddr(req.ClientIPAddr)
		if !s.forUs(req) || !ip.IsValid() {
			return nil
		}
		if err := s.pool.release(ctx, c.MAC, ip, now); err != nil {
			s.met.drop(dropStore)
			s.log.Error("dhcp release not stored", "mac", c.MAC.String(), "ip", ip.String(), "err", err)
		}
	case dhcpv4.MessageTypeInform:
		return s.inform(ctx, req, c)
	}
	return nil
}

// forUs reports whether req names this server in option 54, or none.
func (s *Server) forUs(req *dhcpv4.DHCPv4) bool {
	sid := req.ServerIdentifier()
	return sid == nil || toAddr(sid) == s.cfg.ServerIP
}

func (s *Server) discover(ctx context.Context, req *dhcpv4.DHCPv4, c Client, now time.Time) *reply {
	a, ok := s.decide(ctx, c)
	if !ok {
		return nil
	}
	ip, err := s.pool.offer(c.MAC, toAddr(req.RequestedIPAddress()), a.Known, now)
	if errors.Is(err, errLimit) {
		s.met.drop(dropOffers)
		return nil
	}
	if err != nil {
		s.met.drop(dropExhausted)
		s.warnExhausted(now)
		return nil
	}
	r := s.newReply(req, dhcpv4.MessageTypeOffer)
	r.YourIPAddr = ip.AsSlice()
	s.leaseOptions(r, a, true)
	file, _ := s.setBoot(r, req, c, a)
	return &reply{pkt: r, to: s.dest(req, false), client: c, file: file}
}

// request handles the three kinds of DHCPREQUEST (RFC 2131 section 4.3.2):
// SELECTING (option 54 set), INIT-REBOOT (option 50, no ciaddr) and
// RENEWING/REBINDING (ciaddr).
func (s *Server) request(ctx context.Context, req *dhcpv4.DHCPv4, c Client, now time.Time) *reply {
	sid := req.ServerIdentifier()
	var ip netip.Addr
	switch {
	case sid != nil && toAddr(sid) != s.cfg.ServerIP:
		s.pool.cancelOffer(c.MAC, now) // the client took another server's offer
		return nil
	case sid != nil:
		ip = toAddr(req.RequestedIPAddress())
	case toAddr(req.ClientIPAddr).IsValid() && !req.ClientIPAddr.IsUnspecified():
		ip = toAddr(req.ClientIPAddr)
	default:
		ip = toAddr(req.RequestedIPAddress())
		if !ip.IsValid() {
			return nil
		}
	}
	if !ip.IsValid() || !s.pool.inSubnet(ip4(ip)) {
		return s.nak(req, c, "requested address is not on this network")
	}
	a, ok := s.decide(ctx, c)
	if !ok {
		return nil
	}
	err := s.pool.bind(ctx, c.MAC, ip, a.Known, now.Add(s.cfg.Pool.LeaseTime), now)
	if errors.Is(err, errHeld) {
		s.met.refused.Inc()
		s.log.Info("dhcp address held by a client of another instance; nak", "mac", c.MAC.String(), "ip", ip.String())
	}
	if errors.Is(err, errTaken) {
		return s.nak(req, c, "requested address is not available")
	}
	if errors.Is(err, errLimit) {
		s.met.drop(dropLeases)
		return nil
	}
	if err != nil {
		s.met.drop(dropStore)
		s.log.Error("dhcp lease not stored; no ACK sent", "mac", c.MAC.String(), "ip", ip.String(), "err", err)
		return nil
	}
	r := s.newReply(req, dhcpv4.MessageTypeAck)
	r.ClientIPAddr, r.YourIPAddr = req.ClientIPAddr, ip.AsSlice()
	s.leaseOptions(r, a, true)
	file, _ := s.setBoot(r, req, c, a)
	return &reply{pkt: r, to: s.dest(req, false), client: c, file: file}
}

// inform answers DHCPINFORM with the network's options and no lease
// (RFC 2131 section 3.4), sent to the client's address.
func (s *Server) inform(ctx context.Context, req *dhcpv4.DHCPv4, c Client) *reply {
	if req.ClientIPAddr.To4() == nil || req.ClientIPAddr.IsUnspecified() {
		return nil
	}
	a, ok := s.decide(ctx, c)
	if !ok {
		return nil
	}
	r := s.newReply(req, dhcpv4.MessageTypeAck)
	r.ClientIPAddr = req.ClientIPAddr
	s.leaseOptions(r, a, false)
	return &reply{pkt: r, to: s.dest(req, false), client: c}
}

func (s *Server) nak(req *dhcpv4.DHCPv4, c Client, why string) *reply {
	r := s.newReply(req, dhcpv4.MessageTypeNak)
	r.UpdateOption(dhcpv4.OptMessage(why))
	return &reply{pkt: r, to: s.dest(req, true), client: c}
}

// leaseOptions adds the network's options, and with lease the lease time.
func (s *Server) leaseOptions(r *dhcpv4.DHCPv4, a Answer, lease bool) {
	p := s.cfg.Pool
	if lease {
		r.UpdateOption(dhcpv4.OptIPAddressLeaseTime(p.LeaseTime))
	}
	r.UpdateOption(dhcpv4.OptSubnetMask(net.CIDRMask(p.Subnet.Bits(), 32)))
	if p.Router.IsValid() {
		r.UpdateOption(dhcpv4.OptRouter(p.Router.AsSlice()))
	}
	if len(p.DNS) > 0 {
		r.UpdateOption(dhcpv4.OptDNS(ips(p.DNS)...))
	}
	if len(p.NTP) > 0 {
		r.UpdateOption(dhcpv4.OptNTPServers(ips(p.NTP)...))
	}
	if p.Domain != "" {
		r.UpdateOption(dhcpv4.OptDomainName(p.Domain))
	}
	if a.Hostname != "" {
		r.UpdateOption(dhcpv4.OptHostName(a.Hostname))
	}
}

func ips(as []netip.Addr) []net.IP {
	out := make([]net.IP, len(as))
	for i, a := range as {
		out[i] = a.AsSlice()
	}
	return out
}

// warnExhausted logs an exhausted pool at most once a minute.
func (s *Server) warnExhausted(now time.Time) {
	last := s.lastExhausted.Load()
	if now.Unix()-last < 60 || !s.lastExhausted.CompareAndSwap(last, now.Unix()) {
		return
	}
	s.log.Warn("dhcp pool exhausted: clients get no address", "start", s.cfg.Pool.Start.String(), "end", s.cfg.Pool.End.String())
}
