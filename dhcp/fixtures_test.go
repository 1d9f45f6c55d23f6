package dhcp

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// Packets as each firmware sends them, per the specifications and the
// values seen from real firmware (shared REFERENCE.md, "DHCP and PXE"):
// option 60 strings, option 93 (RFC 4578), option 94 (UNDI version),
// option 97 (a type byte 0 and a 16-byte GUID; the Pi's own layout).

var (
	macOVMF = mustMAC("52:54:00:12:34:56")
	macIPXE = mustMAC("52:54:00:aa:bb:01")
	macBIOS = mustMAC("00:1b:21:0a:0b:0c")
	macPi   = mustMAC("dc:a6:32:01:02:03")
	macARM  = mustMAC("52:54:00:aa:bb:0b")
	macHost = mustMAC("3c:07:71:a2:02:e3")
	guid    = append([]byte{0}, []byte("0123456789abcdef")...)
	// The Pi 4's option 97: "RPi4", board revision 0x00c03111, the last 4
	// bytes of its MAC and its serial number, little-endian.
	piGUID = []byte{'R', 'P', 'i', '4', 0x11, 0x31, 0xc0, 0x00, 0x32, 0x01, 0x02, 0x03, 0x78, 0x56, 0x34, 0x12}
)

func mustMAC(s string) net.HardwareAddr {
	hw, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return hw
}

// fixture is one firmware's request.
type fixture struct {
	name string
	pkt  func(mt dhcpv4.MessageType) *dhcpv4.DHCPv4
}

func request(mac net.HardwareAddr, mt dhcpv4.MessageType, xid byte, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
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
		dhcpv4.WithGeneric(dhcpv4.OptionClientMachineIdentifier, guid),
		dhcpv4.WithGeneric(dhcpv4.OptionMaximumDHCPMessageSize, []byte{0x05, 0xc0}),
		prl(1, 3, 43, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135),
	}
}

// ipxeOpts is what iPXE adds: user class 77 as the raw bytes "iPXE" and its
// feature list in option 175.
var ipxeOpts = []dhcpv4.Modifier{
	dhcpv4.WithGeneric(dhcpv4.OptionUserClassInformation, []byte("iPXE")),
	dhcpv4.WithGeneric(dhcpv4.GenericOptionCode(175), []byte{0xb1, 0x05, 0x01, 0x80, 0x86, 0x10, 0x0e, 0x13, 0x01, 0x01}),
}

var fixtures = []fixture{
	{"ovmf-pxe", func(mt dhcpv4.MessageType) *dhcpv4.DHCPv4 {
		return request(macOVMF, mt, 1, pxeOpts("PXEClient:Arch:00007:UNDI:003000", iana.EFI_X86_64, []byte{1, 3, 0})...)
	}},
	{"ovmf-http", func(mt dhcpv4.MessageType) *dhcpv4.DHCPv4 {
		return request(macOVMF, mt, 2, pxeOpts("HTTPClient:Arch:00016:UNDI:003000", iana.EFI_X86_64_HTTP, []byte{1, 3, 0})...)
	}},
	{"ipxe-bios", func(mt dhcpv4.MessageType) *dhcpv4.DHCPv4 {
		m := append(pxeOpts("PXEClient:Arch:00000:UNDI:002001", iana.INTEL_X86PC, []byte{1, 2, 1}), ipxeOpts...)
		return request(macIPXE, mt, 3, m...)
	}},
	{"ipxe-efi", func(mt dhcpv4.MessageType) *dhcpv4.DHCPv4 {
		m := append(pxeOpts("PXEClient:Arch:00007:UNDI:003010", iana.EFI_X86_64, []byte{1, 3, 16}), ipxeOpts...)
		return request(macIPXE, mt, 4, m...)
	}},
	{"bios-pxe", func(mt dhcpv4.MessageType) *dhcpv4.DHCPv4 {
		return request(macBIOS, mt, 5, pxeOpts("PXEClient:Arch:00000:UNDI:002001", iana.INTEL_X86PC, []byte{1, 2, 1})...)
	}},
	{"rpi4", func(mt dhcpv4.MessageType) *dhcpv4.DHCPv4 {
		if mt != dhcpv4.MessageTypeDiscover { // its REQUEST carries no option 60 (nor 93, 97)
			return request(macPi, mt, 6, prl(1, 3, 43, 60, 66, 67))
		}
		return request(macPi, mt, 6,
			dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00000:UNDI:002001")),
			dhcpv4.WithOption(dhcpv4.OptClientArch(iana.INTEL_X86PC)),
			dhcpv4.WithGeneric(dhcpv4.OptionClientMachineIdentifier, piGUID),
			prl(1, 3, 43, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135))
	}},
	{"arm64-uefi", func(mt dhcpv4.MessageType) *dhcpv4.DHCPv4 {
		return request(macARM, mt, 7, pxeOpts("PXEClient:Arch:00011:UNDI:003000", iana.EFI_ARM64, []byte{1, 3, 0})...)
	}},
	{"plain", func(mt dhcpv4.MessageType) *dhcpv4.DHCPv4 {
		return request(macHost, mt, 8,
			dhcpv4.WithGeneric(dhcpv4.OptionClientIdentifier, append([]byte{1}, macHost...)),
			dhcpv4.WithOption(dhcpv4.OptHostName("laptop")),
			prl(1, 3, 6, 15, 28, 42, 119))
	}},
}

func fixtureByName(name string) fixture {
	for _, f := range fixtures {
		if f.name == name {
			return f
		}
	}
	panic("no fixture " + name)
}

// memLeases is an in-memory LeaseStore.
type memLeases struct {
	mu   sync.Mutex
	m    map[netip.Addr]memLease
	puts int
}

type memLease struct {
	mac    net.HardwareAddr
	expiry time.Time
}

func newMemLeases() *memLeases { return &memLeases{m: map[netip.Addr]memLease{}} }

func (l *memLeases) Leases(_ context.Context, fn func(netip.Addr, net.HardwareAddr, time.Time) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ip, v := range l.m {
		if err := fn(ip, v.mac, v.expiry); err != nil {
			return err
		}
	}
	return nil
}

func (l *memLeases) PutLease(_ context.Context, ip netip.Addr, mac net.HardwareAddr, expiry time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.m[ip] = memLease{append(net.HardwareAddr(nil), mac...), expiry}
	l.puts++
	return nil
}

// prl is option 55, the parameter request list.
func prl(codes ...uint8) dhcpv4.Modifier {
	return dhcpv4.WithGeneric(dhcpv4.OptionParameterRequestList, codes)
}
