package dhcp

import "fmt"

// A Policy decides what boot information each kind of client gets, at
// every DHCP stage: the firmware's DISCOVER and REQUEST (and in proxy mode
// its REQUEST on the PXE port), then iPXE's own DHCP. The Server builds its
// replies from it, and bootd explain describes them with Explain, so that
// the two cannot disagree. The zero Mode describes a bootd that serves no
// DHCP.
type Policy struct {
	// Mode is the server's mode; ModeProxy answers as a proxyDHCP server.
	Mode Mode
	// Files are the iPXE binaries per firmware.
	Files Files
	// HTTPBoot is the URL prefix of the iPXE binaries for UEFI HTTP boot;
	// empty means no HTTP boot.
	HTTPBoot string
	// PXEPort is where proxy mode answers the PXE client's REQUEST.
	PXEPort int
}

// Policy returns the policy the Server built from c uses.
func (c Config) Policy() Policy {
	c.setDefaults()
	return Policy{Mode: c.Mode, Files: c.Files, HTTPBoot: c.HTTPBoot, PXEPort: c.PXEPort}
}

// Via says how a client gets its boot program.
type Via string

// The ways of booting.
const (
	// ViaNone is no boot information: in full mode an address only, in
	// proxy mode no reply.
	ViaNone Via = ""
	// ViaTFTP is a TFTP file name in the file field, with siaddr naming
	// bootd (RFC 2131 section 2).
	ViaTFTP Via = "tftp"
	// ViaHTTP is UEFI HTTP boot: a URL, with option 60 "HTTPClient"
	// (UEFI 2.x section 24.7).
	ViaHTTP Via = "http"
	// ViaScript is iPXE's second DHCP: the URL of the client's iPXE script.
	ViaScript Via = "script"
	// ViaRPi is the Raspberry Pi 4 bootloader: option 43's boot menu and
	// the TFTP server in option 66 and siaddr; it ignores option 67.
	ViaRPi Via = "rpi"
)

// A Boot is the boot information one reply carries.
type Boot struct {
	Via Via
	// File is the TFTP file name or the URL; empty for ViaNone and ViaRPi.
	File string
	// VendorClass is option 60 of the reply: "PXEClient" in proxyDHCP
	// replies (PXE 2.1 section 2.2.5) and for the Pi, "HTTPClient" for HTTP
	// boot; empty for none.
	VendorClass string
	// Bypass is option 43 with PXE discovery control 8: take the file of
	// this offer, skip boot server discovery (PXE 2.1 table 2-1).
	Bypass bool
}

// reported is what an Event's BootFile says of b: the file or URL, "tftp"
// for the Pi, which names no file.
func (b Boot) reported() string {
	if b.Via == ViaRPi {
		return "tftp"
	}
	return b.File
}

// forClass returns the iPXE binary for a firmware class, "" for none.
func (f Files) forClass(c Class) string {
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

// Boot returns what client c gets when the Decider answered a.
func (p Policy) Boot(c Client, a Answer) Boot {
	if !a.Boot {
		return Boot{}
	}
	proxy := p.Mode == ModeProxy
	var b Boot
	switch {
	case c.IPXE:
		// iPXE gets its script over HTTP: this ends the chain-load loop.
		if a.Script == "" {
			return Boot{}
		}
		b = Boot{Via: ViaScript, File: a.Script, Bypass: proxy}
	case c.Class == ClassRPi4:
		return Boot{Via: ViaRPi, VendorClass: "PXEClient"}
	case c.Class == ClassHTTP64 && a.SecureBoot.HTTP != "":
		return Boot{Via: ViaHTTP, File: a.SecureBoot.HTTP, VendorClass: "HTTPClient"}
	case c.Class == ClassUEFI64 && a.SecureBoot.TFTP != "":
		b = Boot{Via: ViaTFTP, File: a.SecureBoot.TFTP}
	case c.Class.HTTP():
		name := p.Files.forClass(c.Class)
		if name == "" || p.HTTPBoot == "" {
			return Boot{}
		}
		return Boot{Via: ViaHTTP, File: p.HTTPBoot + name, VendorClass: "HTTPClient"}
	default:
		name := p.Files.forClass(c.Class)
		if name == "" {
			return Boot{}
		}
		// BIOS PXE takes the file from a proxy offer only when told to skip
		// discovery; edk2 (UEFI) wants no option 43 and asks again on the
		// PXE port instead, where it gets the same file.
		b = Boot{Via: ViaTFTP, File: name, Bypass: proxy && c.Class == ClassBIOS}
	}
	if proxy {
		b.VendorClass = "PXEClient"
	}
	return b
}

// A ClassAnswer is what one kind of client gets, as bootd explain shows it.
type ClassAnswer struct {
	// Class is the client's Label ("x86-bios", "ipxe", ...), or "all".
	Class string
	Boot  Boot
	// Text is Describe(Boot).
	Text string
}

// explained are the clients Explain describes: one per firmware class,
// then iPXE.
func explained() []Client {
	var cs []Client
	for _, c := range []Class{ClassBIOS, ClassUEFI32, ClassUEFI64, ClassARM64,
		ClassHTTP32, ClassHTTP64, ClassHTTPARM64, ClassRPi4} {
		cs = append(cs, Client{Class: c, Arch: -1})
	}
	return append(cs, Client{Class: ClassBIOS, IPXE: true, Arch: -1})
}

// Explain describes what each kind of client gets when the Decider
// answers a: one ClassAnswer per firmware class and one for iPXE, or a
// single "all" when a gives no boot information or bootd serves no DHCP.
func (p Policy) Explain(a Answer) []ClassAnswer {
	if p.Mode != ModeProxy && p.Mode != ModeFull {
		return []ClassAnswer{{Class: "all", Text: "bootd serves no DHCP: the network's DHCP server must hand out " +
			"an iPXE binary, then to iPXE the script URL " + a.Script}}
	}
	if !a.Boot {
		return []ClassAnswer{{Class: "all", Text: p.Describe(Boot{})}}
	}
	var out []ClassAnswer
	for _, c := range explained() {
		b := p.Boot(c, a)
		out = append(out, ClassAnswer{Class: c.Label(), Boot: b, Text: p.Describe(b)})
	}
	return out
}

// Describe says in words what a client handed b gets.
func (p Policy) Describe(b Boot) string {
	if b.Via == ViaNone {
		if p.Mode == ModeProxy {
			return "no reply (no boot information): the firmware boots its next device"
		}
		return "an address, no boot information: the firmware boots its next device"
	}
	var s string
	switch b.Via {
	case ViaTFTP:
		s = "TFTP boot file " + b.File
		if b.Bypass {
			s += " (option 43: skip discovery)"
		}
		s += ", then the ipxe answer"
	case ViaHTTP:
		s = "HTTP boot URL " + b.File + " (option 60 HTTPClient), then the ipxe answer"
	case ViaScript:
		s = "script URL " + b.File
	case ViaRPi:
		s = "Raspberry Pi options (option 43 boot menu, TFTP server in option 66)"
	}
	if p.Mode == ModeProxy {
		s = fmt.Sprintf("proxyDHCP (OFFER from port 67, ACK to a REQUEST on port %d): %s", p.PXEPort, s)
	}
	return s
}
