package dhcp

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/bootd/bootd/internal/dhcptest"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// observed reads the boot information a reply carries back into a Boot,
// from the packet alone; nil (no reply) is no boot information.
func observed(r *dhcpv4.DHCPv4) Boot {
	if r == nil {
		return Boot{}
	}
	b := Boot{VendorClass: r.ClassIdentifier()}
	o43 := r.Options.Get(dhcpv4.OptionVendorSpecificInformation)
	b.Bypass = bytes.Equal(o43, optPXEBypass)
	switch {
	case bytes.Equal(o43, optPiBoot):
		b.Via = ViaRPi
	case r.BootFileName == "" && b.VendorClass == "":
		return Boot{}
	case b.VendorClass == "HTTPClient":
		b.Via, b.File = ViaHTTP, r.BootFileName
	case strings.HasPrefix(r.BootFileName, "http://"):
		b.Via, b.File = ViaScript, r.BootFileName
	default:
		b.Via, b.File = ViaTFTP, r.BootFileName
	}
	return b
}

// TestExplainMatchesServer is the guard between bootd explain and the
// server: for every fixture firmware, in both modes, with and without boot
// information, with and without an arm64 binary, it runs the real server
// on the fixture's packets and checks that what the server sent is what
// Policy.Explain (the DHCP part of bootd explain) says that class gets.
func TestExplainMatchesServer(t *testing.T) {
	t.Parallel()
	for _, mode := range []Mode{ModeProxy, ModeFull} {
		for _, boots := range []bool{true, false} {
			for _, arm := range []string{"", "ipxe-arm64.efi"} {
				for _, sb := range []bool{false, true} {
					name := fmt.Sprintf("%s/boot=%v/arm64=%q/secureboot=%v", mode, boots, arm, sb)
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						checkExplainMatches(t, mode, boots, arm, sb)
					})
				}
			}
		}
	}
}

// secureBootLoader is the shim a Secure Boot node's x64 UEFI firmware gets.
func secureBootLoader(mac []byte) Loader {
	name := fmt.Sprintf("%x/shimx64.efi", mac)
	return Loader{TFTP: name, HTTP: "http://198.18.0.1:8080/boot/" + name}
}

func checkExplainMatches(t *testing.T, mode Mode, boots bool, arm string, sb bool) {
	dec := DeciderFunc(func(_ context.Context, c Client) (Answer, error) {
		a := Answer{Boot: boots, Script: scriptURL(c.MAC)}
		if sb {
			a.SecureBoot = secureBootLoader(c.MAC)
		}
		return a, nil
	})
	var cfg Config
	h := newHarness(t, mode, func(c *Config) {
		c.Decider = dec
		c.Files = Files{BIOS: "undionly.kpxe", UEFI64: "snponly.efi", ARM64: arm}
		cfg = *c
	})
	pol := cfg.Policy()
	for _, f := range fixtures {
		disc := f.pkt(dhcpv4.MessageTypeDiscover)
		c := classify(disc)
		if !c.PXE() {
			continue // not network-booting: explain has no line for it
		}
		a, _ := dec(context.Background(), c)
		explain := pol.Explain(a)
		want, ok := lookup(explain, c.Label())
		if !ok {
			t.Errorf("%s: explain has no line for class %q: %+v", f.name, c.Label(), explain)
			continue
		}
		wait := replyWait
		if want.Boot.Via == ViaNone && mode == ModeProxy {
			wait = silenceWait
		}
		got := observed(h.exchange(disc, false, wait))
		check := func(stage string, got Boot) {
			if got != want.Boot || pol.Describe(got) != want.Text {
				t.Errorf("%s %s (class %s): server sent %+v (%q), explain says %+v (%q)",
					f.name, stage, c.Label(), got, pol.Describe(got), want.Boot, want.Text)
			}
		}
		check("DISCOVER", got)
		if mode == ModeProxy && f.name != "rpi4" { // the Pi's REQUEST goes to the site's server
			req := f.pkt(dhcpv4.MessageTypeRequest)
			req.ClientIPAddr = []byte{198, 18, 0, 50}
			check("REQUEST on the PXE port", observed(h.exchange(req, true, wait)))
		}
	}
}

// TestSecureBootAnswers: a node with a Secure Boot chain gets its shim
// where its x64 UEFI firmware would get iPXE, over TFTP (PXE) and over
// HTTP (UEFI HTTP boot); every other client, iPXE included, gets what it
// gets without one (TestExplainMatchesServer runs the real server on it).
func TestSecureBootAnswers(t *testing.T) {
	t.Parallel()
	pol := Policy{Mode: ModeFull, Files: Files{BIOS: "undionly.kpxe", UEFI64: "snponly.efi", ARM64: "ipxe-arm64.efi"},
		HTTPBoot: "http://198.18.0.1:8080/boot/ipxe/"}
	mac := []byte{0x52, 0x54, 0, 0, 1, 4}
	a := Answer{Boot: true, Script: scriptURL(mac), SecureBoot: secureBootLoader(mac)}
	for _, tt := range []struct {
		c    Client
		want Boot
	}{
		{Client{Class: ClassUEFI64}, Boot{Via: ViaTFTP, File: a.SecureBoot.TFTP}},
		{Client{Class: ClassHTTP64}, Boot{Via: ViaHTTP, File: a.SecureBoot.HTTP, VendorClass: "HTTPClient"}},
		{Client{Class: ClassBIOS}, Boot{Via: ViaTFTP, File: "undionly.kpxe"}},
		{Client{Class: ClassARM64}, Boot{Via: ViaTFTP, File: "ipxe-arm64.efi"}},
		{Client{Class: ClassUEFI64, IPXE: true}, Boot{Via: ViaScript, File: a.Script}},
	} {
		if got := pol.Boot(tt.c, a); got != tt.want {
			t.Errorf("Boot(%s) = %+v, want %+v", tt.c.Label(), got, tt.want)
		}
	}
	if got := pol.Boot(Client{Class: ClassUEFI64}, Answer{SecureBoot: a.SecureBoot}); got.Via != ViaNone {
		t.Errorf("Boot of a node that does not boot = %+v, want nothing", got)
	}
}

// lookup finds class's line in an explanation, or its "all" line.
func lookup(as []ClassAnswer, class string) (ClassAnswer, bool) {
	for _, a := range as {
		if a.Class == class || a.Class == "all" {
			return a, true
		}
	}
	return ClassAnswer{}, false
}

// TestExplainOff: with no DHCP served, explain says so and names the
// script URL another DHCP server must chain to.
func TestExplainOff(t *testing.T) {
	t.Parallel()
	got := Policy{}.Explain(Answer{Boot: true, Script: "http://x/boot.ipxe"})
	if len(got) != 1 || got[0].Class != "all" || !strings.Contains(got[0].Text, "script URL http://x/boot.ipxe") {
		t.Errorf("Policy{}.Explain = %+v, want one line naming the script URL", got)
	}
}

// TestFixtureClasses: each shared fixture's Class is what classify makes
// of it, so that tests outside this package can rely on it.
func TestFixtureClasses(t *testing.T) {
	t.Parallel()
	for _, f := range dhcptest.Fixtures {
		if got := classify(f.Packet(dhcpv4.MessageTypeDiscover)).Label(); got != f.Class {
			t.Errorf("classify(%s) = %q, want %q", f.Name, got, f.Class)
		}
	}
}
