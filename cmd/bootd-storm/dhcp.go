package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/bootd/bootd/internal/dhcptest"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// dora runs a DHCP exchange as a client does: each packet sent again when
// no answer comes (after 4 s, doubling, as RFC 2131 section 4.1 asks and
// PXE ROMs do), and the whole exchange started again after a DHCPNAK
// (section 3.1, step 5), a few times.
func (c *chain) dora(ctx context.Context, mac net.HardwareAddr, opts func(*dhcpv4.DHCPv4)) dhcptest.Result {
	var res dhcptest.Result
	for try := 0; try < 8; try++ {
		res = c.relay.One(ctx, mac, dhcptest.Opts{Tries: 5, Wait: 4 * time.Second, MaxWait: 64 * time.Second, Options: opts})
		if !errors.Is(res.Err, dhcptest.ErrNak) {
			break
		}
		// Not at once: clients that collided on one address would collide again.
		if sleep(ctx, time.Duration(rand.Int64N(int64(time.Second)))) != nil {
			break
		}
	}
	return res
}

// nextServer is where the firmware fetches its boot file: siaddr, else
// option 66, else the server identifier.
func nextServer(p *dhcpv4.DHCPv4) net.IP {
	if ip := p.ServerIPAddr.To4(); ip != nil && !ip.IsUnspecified() {
		return ip
	}
	if ip := net.ParseIP(p.TFTPServerName()).To4(); ip != nil {
		return ip
	}
	return p.ServerIdentifier()
}

// bootFile is option 67, else the file field.
func bootFile(p *dhcpv4.DHCPv4) string {
	if f := p.BootFileNameOption(); f != "" {
		return f
	}
	return strings.TrimRight(p.BootFileName, "\x00")
}

// firmwareOptions are a BIOS PXE ROM's options (RFC 4578): architecture 0,
// UNDI 2.1, a client GUID made of the MAC.
func firmwareOptions(mac net.HardwareAddr) func(*dhcpv4.DHCPv4) {
	return func(p *dhcpv4.DHCPv4) {
		p.UpdateOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00000:UNDI:002001"))
		p.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionClientSystemArchitectureType, []byte{0, 0}))
		p.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionClientNetworkInterfaceIdentifier, []byte{1, 2, 1}))
		guid := append([]byte{0}, make([]byte, 16)...)
		copy(guid[11:], mac)
		p.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionClientMachineIdentifier, guid))
		p.UpdateOption(dhcpv4.OptParameterRequestList(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter,
			dhcpv4.OptionTFTPServerName, dhcpv4.OptionBootfileName, dhcpv4.OptionVendorSpecificInformation,
			dhcpv4.OptionClassIdentifier))
	}
}

// ipxeOptions are iPXE's own: the firmware's, plus user class "iPXE"
// (sent as raw bytes, as iPXE does).
func ipxeOptions(mac net.HardwareAddr) func(*dhcpv4.DHCPv4) {
	fw := firmwareOptions(mac)
	return func(p *dhcpv4.DHCPv4) {
		fw(p)
		p.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionUserClassInformation, []byte("iPXE")))
	}
}
