package dhcp

import (
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// PXE vendor options inside option 43 (PXE specification 2.1, table 2-1).
const (
	pxeDiscoveryControl = 6
	pxeBootMenu         = 9
	pxeMenuPrompt       = 10
	pxeEnd              = 255
)

// pxeBypass is option 43 with PXE_DISCOVERY_CONTROL = 8: "download the boot
// file named in this offer, skip boot server discovery".
var pxeBypass = []byte{pxeDiscoveryControl, 1, 8, pxeEnd}

// ipxeNoProxyDHCP is option 175 (iPXE's encapsulated options) with
// sub-option 176, no-pxedhcp, set: iPXE requests the offered address at
// once instead of waiting up to 2 s for ProxyDHCP offers after a plain
// DHCP offer (iPXE src/net/udp/dhcp.c, dhcp_discovery_rx; the setting
// no-pxedhcp in iPXE's documentation). Only a full-mode server sends it: it
// is then the one DHCP server, and no proxy will answer.
var ipxeNoProxyDHCP = []byte{176, 1, 1}

// optionIPXE is iPXE's encapsulated option space.
const optionIPXE = dhcpv4.GenericOptionCode(175)

// rpiBoot is option 43 as the Raspberry Pi 4 bootloader requires it: PXE
// vendor options whose boot menu item is "Raspberry Pi Boot" (Raspberry Pi
// documentation, network boot: discovery control 3, prompt "PXE" with no
// wait, one menu item of type 0).
var rpiBoot = func() []byte {
	const item = "Raspberry Pi Boot"
	b := []byte{pxeDiscoveryControl, 1, 3}
	b = append(b, pxeMenuPrompt, 4, 0, 'P', 'X', 'E')
	b = append(b, pxeBootMenu, byte(3+len(item)), 0, 0, byte(len(item)))
	b = append(b, item...)
	return append(b, pxeEnd)
}()

// setBoot puts the boot information the policy gives c into reply r: a
// TFTP file name, a URL, or the Raspberry Pi options. It returns what was
// handed out ("tftp" for the Pi, which names no file) and false when the
// client gets nothing.
func (s *Server) setBoot(r *dhcpv4.DHCPv4, req *dhcpv4.DHCPv4, c Client, a Answer) (string, bool) {
	b := s.policy.Boot(c, a)
	server := s.cfg.ServerIP.AsSlice()
	switch b.Via {
	case ViaNone:
		return "", false
	case ViaRPi:
		// The Pi reads only option 43, option 60 and the TFTP server.
		r.ServerIPAddr = server
		r.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionVendorSpecificInformation, rpiBoot))
		r.UpdateOption(dhcpv4.OptTFTPServerName(s.cfg.ServerIP.String()))
	case ViaTFTP:
		r.ServerIPAddr = server
		r.ServerHostName = s.cfg.ServerIP.String()
		r.BootFileName = b.File
	case ViaHTTP, ViaScript:
		if b.Via == ViaHTTP {
			// The next server, as a PXE answer names it: a loader started
			// by HTTP boot that looks for a TFTP server finds bootd.
			r.ServerIPAddr = server
		}
		r.BootFileName = b.File
		r.UpdateOption(dhcpv4.OptBootFileName(b.File))
		if b.Via == ViaScript && s.cfg.Mode == ModeFull {
			r.UpdateOption(dhcpv4.OptGeneric(optionIPXE, ipxeNoProxyDHCP))
		}
	}
	if b.Bypass {
		r.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionVendorSpecificInformation, pxeBypass))
	}
	if b.VendorClass != "" {
		r.UpdateOption(dhcpv4.OptClassIdentifier(b.VendorClass))
	}
	if s.cfg.Mode == ModeProxy && (b.Via == ViaTFTP || b.Via == ViaScript) {
		if g := req.Options.Get(dhcpv4.OptionClientMachineIdentifier); g != nil {
			r.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionClientMachineIdentifier, g)) // PXE 2.1: echo the GUID
		}
	}
	return b.reported(), true
}
