package dhcptest

import (
	"net"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// Packets as each firmware sends them, shared by the tests of package dhcp
// and of bootd's wiring, per the specifications and values seen from real
// firmware: option 60 strings, option 93 (RFC 4578), option 94 (UNDI
// version), option 97 (a type byte 0 and a 16-byte GUID, PXE 2.1; the
// Pi's own layout, Raspberry Pi bootloader documentation).

// The fixtures' MAC addresses (one per machine; iPXE's BIOS and EFI
// requests share one) and option 97 values.
var (
	MACOVMF = mustMAC("52:54:00:12:34:56")
	MACIPXE = mustMAC("52:54:00:aa:bb:01")
	MACBIOS = mustMAC("00:1b:21:0a:0b:0c")
	MACPi   = mustMAC("dc:a6:32:01:02:03")
	MACARM  = mustMAC("52:54:00:aa:bb:0b")
	MACHost = mustMAC("3c:07:71:a2:02:e3")
	GUID    = append([]byte{0}, []byte("0123456789abcdef")...)
	// The Pi 4's option 97: "RPi4", board revision 0x00c03111, the last 4
	// bytes of its MAC and its serial number, little-endian.
	PiGUID = []byte{'R', 'P', 'i', '4', 0x11, 0x31, 0xc0, 0x00, 0x32, 0x01, 0x02, 0x03, 0x78, 0x56, 0x34, 0x12}
)

func mustMAC(s string) net.HardwareAddr {
	hw, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return hw
}

// A Fixture is one firmware's requests.
type Fixture struct {
	// Name names the firmware ("ovmf-pxe", "rpi4", ...).
	Name string
	// Class is the client label package dhcp gives it ("x64-uefi", "ipxe",
	// "none" for a client that is not network-booting).
	Class string
	// Packet returns its request of type mt.
	Packet func(mt dhcpv4.MessageType) *dhcpv4.DHCPv4
}

func Request(mac net.HardwareAddr, mt dhcpv4.MessageType, xid byte, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	p := &dhcpv4.DHCPv4{
		OpCode: dhcpv4.OpcodeBootRequest, HWType: iana.HWTypeEthernet, ClientHWAddr: mac,
		TransactionID: dhcpv4.TransactionID{0xb0, 0x07, 0xd0, xid}, Flags: 0x8000,
		ClientIPAddr: net.IPv4zero, YourIPAddr: net.IPv4zero, ServerIPAddr: net.IPv4zero,
		GatewayIPAddr: net.IPv4zero, Options: dhcpv4.Options{},
	}
	p.UpdateOption(dhcpv4.OptMessageType(mt))
	for _, m := range mods {
		m(p)
	}
	return p
}

func pxeOpts(vendor string, arch iana.Arch, undi []byte) []dhcpv4.Modifier {
	return []dhcpv4.Modifier{
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier(vendor)),
		dhcpv4.WithOption(dhcpv4.OptClientArch(arch)),
		dhcpv4.WithGeneric(dhcpv4.OptionClientNetworkInterfaceIdentifier, undi),
		dhcpv4.WithGeneric(dhcpv4.OptionClientMachineIdentifier, GUID),
		dhcpv4.WithGeneric(dhcpv4.OptionMaximumDHCPMessageSize, []byte{0x05, 0xc0}),
		PRL(1, 3, 43, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135),
	}
}

// ipxeOpts is what iPXE adds: user class 77 as the raw bytes "iPXE" and its
// feature list in option 175.
var ipxeOpts = []dhcpv4.Modifier{
	dhcpv4.WithGeneric(dhcpv4.OptionUserClassInformation, []byte("iPXE")),
	dhcpv4.WithGeneric(dhcpv4.GenericOptionCode(175), []byte{0xb1, 0x05, 0x01, 0x80, 0x86, 0x10, 0x0e, 0x13, 0x01, 0x01}),
}

// Fixtures are the firmwares' requests.
var Fixtures = []Fixture{
	{"ovmf-pxe", "x64-uefi", func(mt dhcpv4.MessageType) *dhcpv4.DHCPv4 {
		return Request(MACOVMF, mt, 1, pxeOpts("PXEClient:Arch:00007:UNDI:003000", iana.EFI_X86_64, []byte{1, 3, 0})...)
	}},
	{"ovmf-http", "x64-uefi-http", func(mt dhcpv4.MessageType) *dhcpv4.DHCPv4 {
		return Request(MACOVMF, mt, 2, pxeOpts("HTTPClient:Arch:00016:UNDI:003000", iana.EFI_X86_64_HTTP, []byte{1, 3, 0})...)
	}},
	{"ipxe-bios", "ipxe", func(mt dhcpv4.MessageType) *dhcpv4.DHCPv4 {
		m := append(pxeOpts("PXEClient:Arch:00000:UNDI:002001", iana.INTEL_X86PC, []byte{1, 2, 1}), ipxeOpts...)
		return Request(MACIPXE, mt, 3, m...)
	}},
	{"ipxe-efi", "ipxe", func(mt dhcpv4.MessageType) *dhcpv4.DHCPv4 {
		m := append(pxeOpts("PXEClient:Arch:00007:UNDI:003010", iana.EFI_X86_64, []byte{1, 3, 16}), ipxeOpts...)
		return Request(MACIPXE, mt, 4, m...)
	}},
	{"bios-pxe", "x86-bios", func(mt dhcpv4.MessageType) *dhcpv4.DHCPv4 {
		return Request(MACBIOS, mt, 5, pxeOpts("PXEClient:Arch:00000:UNDI:002001", iana.INTEL_X86PC, []byte{1, 2, 1})...)
	}},
	{"rpi4", "rpi4", func(mt dhcpv4.MessageType) *dhcpv4.DHCPv4 {
		if mt != dhcpv4.MessageTypeDiscover { // its REQUEST carries no option 60 (nor 93, 97)
			return Request(MACPi, mt, 6, PRL(1, 3, 43, 60, 66, 67))
		}
		return Request(MACPi, mt, 6,
			dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00000:UNDI:002001")),
			dhcpv4.WithOption(dhcpv4.OptClientArch(iana.INTEL_X86PC)),
			dhcpv4.WithGeneric(dhcpv4.OptionClientMachineIdentifier, PiGUID),
			PRL(1, 3, 43, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135))
	}},
	{"arm64-uefi", "arm64-uefi", func(mt dhcpv4.MessageType) *dhcpv4.DHCPv4 {
		return Request(MACARM, mt, 7, pxeOpts("PXEClient:Arch:00011:UNDI:003000", iana.EFI_ARM64, []byte{1, 3, 0})...)
	}},
	{"plain", "none", func(mt dhcpv4.MessageType) *dhcpv4.DHCPv4 {
		return Request(MACHost, mt, 8,
			dhcpv4.WithGeneric(dhcpv4.OptionClientIdentifier, append([]byte{1}, MACHost...)),
			dhcpv4.WithOption(dhcpv4.OptHostName("laptop")),
			PRL(1, 3, 6, 15, 28, 42, 119))
	}},
}

// FixtureByName returns the fixture called name; it panics if there is none.
func FixtureByName(name string) Fixture {
	for _, f := range Fixtures {
		if f.Name == name {
			return f
		}
	}
	panic("no fixture " + name)
}

// PRL is option 55, the parameter request list.
func PRL(codes ...uint8) dhcpv4.Modifier {
	return dhcpv4.WithGeneric(dhcpv4.OptionParameterRequestList, codes)
}
