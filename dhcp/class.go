package dhcp

import (
	"bytes"
	"net"
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// Class is a client's firmware class: what kind of boot firmware sent the
// packet, which decides the boot file it gets.
type Class string

// The firmware classes. Option 93 values are from RFC 4578 and the IANA
// "Processor Architecture Types" registry.
const (
	// ClassNone is a client that is not network-booting (no PXE or HTTP
	// boot vendor class): an operating system's own DHCP client.
	ClassNone Class = ""
	// ClassBIOS is x86 BIOS PXE (option 93 = 0).
	ClassBIOS Class = "x86-bios"
	// ClassUEFI32 is 32-bit x86 UEFI PXE (option 93 = 6).
	ClassUEFI32 Class = "x86-uefi"
	// ClassUEFI64 is x64 UEFI PXE (option 93 = 7, or 9 which some x64 firmware sends).
	ClassUEFI64 Class = "x64-uefi"
	// ClassARM64 is arm64 UEFI PXE (option 93 = 11).
	ClassARM64 Class = "arm64-uefi"
	// ClassHTTP32, ClassHTTP64 and ClassHTTPARM64 are UEFI HTTP boot
	// (vendor class HTTPClient, option 93 = 15, 16, 19).
	ClassHTTP32    Class = "x86-uefi-http"
	ClassHTTP64    Class = "x64-uefi-http"
	ClassHTTPARM64 Class = "arm64-uefi-http"
	// ClassRPi4 is the Raspberry Pi 4 bootloader (option 97 "RPi4" or a
	// Raspberry Pi MAC prefix, with PXE vendor class and option 93 = 0).
	ClassRPi4 Class = "rpi4"
	// ClassOther is a PXE client of an architecture bootd has nothing for.
	ClassOther Class = "other"
)

// HTTP reports whether the class is a UEFI HTTP boot client, which gets
// URLs instead of TFTP file names.
func (c Class) HTTP() bool {
	return c == ClassHTTP32 || c == ClassHTTP64 || c == ClassHTTPARM64
}

// A Client is what a DHCP packet says about the machine that sent it.
type Client struct {
	// MAC is the client hardware address (chaddr), 6 bytes.
	MAC net.HardwareAddr
	// Class is the firmware class.
	Class Class
	// IPXE is true when the client is iPXE (user class "iPXE"), which gets
	// the URL of its iPXE script instead of a binary.
	IPXE bool
	// Arch is the first option 93 value, or -1 when the option is absent.
	Arch int
	// VendorClass is option 60 as sent.
	VendorClass string
	// Relay is the relay agent's address (giaddr); nil when not relayed.
	Relay net.IP
}

// PXE reports whether the client is network-booting (a PXE, HTTP boot or
// iPXE client).
func (c Client) PXE() bool { return c.Class != ClassNone || c.IPXE }

// Label is the class as metrics and logs show it: "ipxe" for iPXE, "none"
// for a client that is not booting, else the firmware class.
func (c Client) Label() string {
	switch {
	case c.IPXE:
		return "ipxe"
	case c.Class == ClassNone:
		return "none"
	}
	return string(c.Class)
}

// rpiOUIs are the MAC prefixes of Raspberry Pi Ltd and Raspberry Pi
// Trading (IEEE registry); a Raspberry Pi 4 uses one of them.
var rpiOUIs = [][3]byte{
	{0xb8, 0x27, 0xeb}, {0xdc, 0xa6, 0x32}, {0xe4, 0x5f, 0x01},
	{0xd8, 0x3a, 0xdd}, {0x28, 0xcd, 0xc1}, {0x2c, 0xcf, 0x67},
}

// rpi4Tag is the fourcc the Raspberry Pi 4 bootloader puts at the start of
// option 97 (0x34695052 little-endian; Raspberry Pi bootloader
// documentation, DHCP_OPTION97).
var rpi4Tag = []byte("RPi4")

func isRPiMAC(mac net.HardwareAddr) bool {
	if len(mac) < 3 {
		return false
	}
	for _, o := range rpiOUIs {
		if mac[0] == o[0] && mac[1] == o[1] && mac[2] == o[2] {
			return true
		}
	}
	return false
}

// classify reads the client's identity from a request.
func classify(p *dhcpv4.DHCPv4) Client {
	c := Client{MAC: p.ClientHWAddr, Arch: -1, VendorClass: p.ClassIdentifier()}
	if gi := p.GatewayIPAddr.To4(); gi != nil && !gi.IsUnspecified() {
		c.Relay = gi
	}
	if a := p.ClientArch(); len(a) > 0 {
		c.Arch = int(a[0])
	}
	// iPXE sends user class 77 as the raw bytes "iPXE", not the RFC 3004
	// length-prefixed list; UserClass decodes both.
	for _, uc := range p.UserClass() {
		if uc == "iPXE" {
			c.IPXE = true
		}
	}
	pxe := strings.HasPrefix(c.VendorClass, "PXEClient")
	http := strings.HasPrefix(c.VendorClass, "HTTPClient")
	switch {
	case http:
		c.Class = httpClass(c.Arch)
	case pxe && (c.Arch == 0 || c.Arch == -1) && isRPi4(p):
		c.Class = ClassRPi4
	case pxe:
		c.Class = pxeClass(c.Arch)
	}
	return c
}

// isRPi4 recognises the Raspberry Pi 4 bootloader, which sends the same
// vendor class and architecture as x86 BIOS PXE: by option 97 starting
// with "RPi4" (after the optional type byte), else by the MAC prefix.
func isRPi4(p *dhcpv4.DHCPv4) bool {
	o97 := p.Options.Get(dhcpv4.OptionClientMachineIdentifier)
	if bytes.HasPrefix(o97, rpi4Tag) || len(o97) > 0 && bytes.HasPrefix(o97[1:], rpi4Tag) {
		return true
	}
	return isRPiMAC(p.ClientHWAddr)
}

func pxeClass(arch int) Class {
	switch iana.Arch(arch) {
	case iana.INTEL_X86PC:
		return ClassBIOS
	case iana.EFI_IA32:
		return ClassUEFI32
	case iana.EFI_X86_64, iana.EFI_BC:
		return ClassUEFI64
	case iana.EFI_ARM64:
		return ClassARM64
	}
	if arch == -1 { // a PXE client that names no architecture: assume BIOS
		return ClassBIOS
	}
	return ClassOther
}

func httpClass(arch int) Class {
	switch iana.Arch(arch) {
	case iana.EFI_X86_HTTP:
		return ClassHTTP32
	case iana.EFI_X86_64_HTTP:
		return ClassHTTP64
	case iana.EFI_ARM64_HTTP:
		return ClassHTTPARM64
	}
	return ClassOther
}
