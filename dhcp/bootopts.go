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

// bootFile returns the iPXE binary for a firmware class, "" for none.
func (s *Server) bootFile(c Class) string {
	f := s.cfg.Files
	switch c {
	case ClassBIOS:
		return f.BIOS
	case ClassUEFI64, ClassHTTP64:
		return f.UEFI64
	case ClassUEFI32, ClassHTTP32:
		return f.UEFI32
	case ClassARM64, ClassHTTPARM64:
		return f.ARM64
	}
	return ""
}

// setBoot puts the boot information for c into reply r: a TFTP file name,
// an HTTP URL, or the Raspberry Pi options. It returns what was handed
// out ("tftp" for the Pi, which names no file) and false when the client's
// firmware gets nothing. proxy marks a proxyDHCP reply, which must carry
// option 60 "PXEClient" (PXE 2.1 section 2.2.5).
func (s *Server) setBoot(r *dhcpv4.DHCPv4, req *dhcpv4.DHCPv4, c Client, a Answer, proxy bool) (string, bool) {
	if !a.Boot {
		return "", false
	}
	server := s.cfg.ServerIP.AsSlice()
	url := func(u string) {
		r.BootFileName = u
		r.UpdateOption(dhcpv4.OptBootFileName(u))
	}
	var file string
	switch {
	case c.IPXE:
		// iPXE gets its script over HTTP: this ends the chain-load loop.
		if a.Script == "" {
			return "", false
		}
		file = a.Script
		url(file)
		if proxy {
			r.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionVendorSpecificInformation, pxeBypass))
		}
	case c.Class == ClassRPi4:
		// The Pi reads only option 43, option 60 and the TFTP server.
		r.ServerIPAddr = server
		r.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionVendorSpecificInformation, rpiBoot))
		r.UpdateOption(dhcpv4.OptClassIdentifier("PXEClient"))
		r.UpdateOption(dhcpv4.OptTFTPServerName(s.cfg.ServerIP.String()))
		return "tftp", true
	case c.Class.HTTP():
		// UEFI HTTP boot wants option 60 "HTTPClient" and a URI (UEFI 2.x
		// section 24.7).
		name := s.bootFile(c.Class)
		if name == "" || s.cfg.HTTPBoot == "" {
			return "", false
		}
		file = s.cfg.HTTPBoot + name
		url(file)
		r.UpdateOption(dhcpv4.OptClassIdentifier("HTTPClient"))
		return file, true
	default:
		file = s.bootFile(c.Class)
		if file == "" {
			return "", false
		}
		r.ServerIPAddr = server
		r.ServerHostName = s.cfg.ServerIP.String()
		r.BootFileName = file
		// BIOS PXE takes the file from a proxy offer only when told to skip
		// discovery; edk2 (UEFI) wants no option 43 and asks again on port
		// 4011 instead, where it gets the same file.
		if proxy && c.Class == ClassBIOS {
			r.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionVendorSpecificInformation, pxeBypass))
		}
	}
	if proxy {
		r.UpdateOption(dhcpv4.OptClassIdentifier("PXEClient"))
		if g := req.Options.Get(dhcpv4.OptionClientMachineIdentifier); g != nil {
			r.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionClientMachineIdentifier, g)) // PXE 2.1: echo the GUID
		}
	}
	return file, true
}
