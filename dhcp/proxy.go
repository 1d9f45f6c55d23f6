package dhcp

import (
	"context"
	"net"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// proxy answers as a proxyDHCP server (PXE 2.1 section 2.2.5): a DISCOVER
// on port 67 from a network-booting client gets an OFFER with boot
// information and no address; a REQUEST (or INFORM) on port 4011 gets the
// same as an ACK sent back to where it came from. Everything else, and
// every client that is not network-booting, is left to the site's DHCP
// server.
func (s *Server) proxy(ctx context.Context, req *dhcpv4.DHCPv4, c Client, mt dhcpv4.MessageType, from *net.UDPAddr, pxePort bool) *reply {
	if !c.PXE() {
		return nil
	}
	var (
		typ dhcpv4.MessageType
		to  *net.UDPAddr
	)
	switch {
	case !pxePort && mt == dhcpv4.MessageTypeDiscover:
		typ, to = dhcpv4.MessageTypeOffer, s.dest(req, false)
	case pxePort && (mt == dhcpv4.MessageTypeRequest || mt == dhcpv4.MessageTypeInform) && from != nil:
		typ, to = dhcpv4.MessageTypeAck, from
	default:
		return nil
	}
	a, ok := s.decide(ctx, c)
	if !ok {
		return nil
	}
	r := s.newReply(req, typ)
	if typ == dhcpv4.MessageTypeAck {
		r.ClientIPAddr = req.ClientIPAddr
	}
	file, ok := s.setBoot(r, req, c, a)
	if !ok {
		s.log.Debug("dhcp proxy: nothing to boot", "mac", c.MAC.String(), "class", c.Label(), "boot", a.Boot)
		return nil
	}
	return &reply{pkt: r, to: to, client: c, file: file, proxy: true}
}
