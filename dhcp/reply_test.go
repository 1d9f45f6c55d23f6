package dhcp

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

const (
	replyWait   = 2 * time.Second
	silenceWait = 300 * time.Millisecond
)

var (
	urlSnponly = "http://198.18.0.1:8080/boot/ipxe/snponly.efi"
	urlIPXE    = "http://198.18.0.1:8080/boot/52-54-00-aa-bb-01/boot.ipxe"
)

// TestProxyReplies sends each firmware's DISCOVER to a proxy-mode server
// and checks the OFFER exactly: no address, option 60, the boot file.
func TestProxyReplies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		fixture string
		want    want
	}{
		{"ovmf-pxe", want{typ: dhcpv4.MessageTypeOffer, siaddr: "198.18.0.1", sname: "198.18.0.1", file: "snponly.efi",
			opts: map[uint8][]byte{53: optOffer, 54: optServer, 60: s("PXEClient"), 97: guid}}},
		{"ovmf-http", want{typ: dhcpv4.MessageTypeOffer, siaddr: "198.18.0.1", file: urlSnponly,
			opts: map[uint8][]byte{53: optOffer, 54: optServer, 60: s("HTTPClient"), 67: s(urlSnponly)}}},
		{"ipxe-bios", want{typ: dhcpv4.MessageTypeOffer, file: urlIPXE,
			opts: map[uint8][]byte{53: optOffer, 54: optServer, 60: s("PXEClient"), 43: optPXEBypass, 67: s(urlIPXE), 97: guid}}},
		{"ipxe-efi", want{typ: dhcpv4.MessageTypeOffer, file: urlIPXE,
			opts: map[uint8][]byte{53: optOffer, 54: optServer, 60: s("PXEClient"), 43: optPXEBypass, 67: s(urlIPXE), 97: guid}}},
		{"bios-pxe", want{typ: dhcpv4.MessageTypeOffer, siaddr: "198.18.0.1", sname: "198.18.0.1", file: "undionly.kpxe",
			opts: map[uint8][]byte{53: optOffer, 54: optServer, 60: s("PXEClient"), 43: optPXEBypass, 97: guid}}},
		{"rpi4", want{typ: dhcpv4.MessageTypeOffer, siaddr: "198.18.0.1",
			opts: map[uint8][]byte{53: optOffer, 54: optServer, 60: s("PXEClient"), 43: optPiBoot, 66: s("198.18.0.1")}}},
		// Debian ships no arm64 iPXE: such a client gets nothing (see TestARM64Binary).
		{"arm64-uefi", want{}},
		// Not network-booting: the site's DHCP server answers it.
		{"plain", want{}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, ModeProxy, nil)
			wait := replyWait
			if tc.want.typ == dhcpv4.MessageTypeNone {
				wait = silenceWait
			}
			got := h.exchange(fixtureByName(tc.fixture).pkt(dhcpv4.MessageTypeDiscover), false, wait)
			checkReply(t, tc.fixture+" DISCOVER", got, tc.want)
		})
	}
}

// TestProxyPXEPort checks the second half of proxyDHCP: UEFI firmware,
// offered a boot file without option 43, asks again on port 4011 with its
// new address and gets an ACK sent back to where it asked from.
func TestProxyPXEPort(t *testing.T) {
	t.Parallel()
	h := newHarness(t, ModeProxy, nil)
	req := fixtureByName("ovmf-pxe").pkt(dhcpv4.MessageTypeRequest)
	req.ClientIPAddr = net.IPv4(198, 18, 0, 77)
	got := h.exchange(req, true, replyWait)
	checkReply(t, "ovmf-pxe REQUEST on 4011", got, want{typ: dhcpv4.MessageTypeAck,
		siaddr: "198.18.0.1", sname: "198.18.0.1", file: "snponly.efi",
		opts: map[uint8][]byte{53: optAck, 54: optServer, 60: s("PXEClient"), 97: guid}})
	if got != nil && !got.ClientIPAddr.Equal(req.ClientIPAddr) {
		t.Errorf("ACK ciaddr = %v, want %v", got.ClientIPAddr, req.ClientIPAddr)
	}
	// A DISCOVER on 4011, and a REQUEST on 67 (meant for the site's
	// server), get nothing.
	if r := h.exchange(fixtureByName("ovmf-pxe").pkt(dhcpv4.MessageTypeDiscover), true, silenceWait); r != nil {
		t.Errorf("DISCOVER on 4011 got %s, want no reply", r.Summary())
	}
	pi := fixtureByName("rpi4")
	h.exchange(pi.pkt(dhcpv4.MessageTypeDiscover), false, replyWait)
	piReq := pi.pkt(dhcpv4.MessageTypeRequest)
	piReq.UpdateOption(dhcpv4.OptServerIdentifier(net.IPv4(198, 18, 0, 254)))
	piReq.UpdateOption(dhcpv4.OptRequestedIPAddress(net.IPv4(198, 18, 0, 60)))
	if r := h.exchange(piReq, false, silenceWait); r != nil {
		t.Errorf("Pi REQUEST to the site's server got %s, want no reply", r.Summary())
	}
}

// TestFullReplies runs DISCOVER then REQUEST for each firmware against a
// full-mode server and checks OFFER and ACK exactly: iPXE's carry option
// 175.176 (no-pxedhcp), no other client's does (TestProxyReplies: nor
// iPXE's in proxy mode).
func TestFullReplies(t *testing.T) {
	t.Parallel()
	ip := "198.18.0.100"
	for _, tc := range []struct {
		fixture  string
		hostname string
		boot     want // the boot part of both replies
	}{
		{"ovmf-pxe", "web1", want{siaddr: "198.18.0.1", sname: "198.18.0.1", file: "snponly.efi"}},
		{"ovmf-http", "web1", want{siaddr: "198.18.0.1", file: urlSnponly, opts: map[uint8][]byte{60: s("HTTPClient"), 67: s(urlSnponly)}}},
		{"ipxe-bios", "", want{file: urlIPXE, opts: map[uint8][]byte{67: s(urlIPXE), 175: {176, 1, 1}}}},
		{"ipxe-efi", "", want{file: urlIPXE, opts: map[uint8][]byte{67: s(urlIPXE), 175: {176, 1, 1}}}},
		{"bios-pxe", "", want{siaddr: "198.18.0.1", sname: "198.18.0.1", file: "undionly.kpxe"}},
		{"rpi4", "", want{siaddr: "198.18.0.1", opts: map[uint8][]byte{60: s("PXEClient"), 43: optPiBoot, 66: s("198.18.0.1")}}},
		{"arm64-uefi", "", want{}},
		{"plain", "", want{}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, ModeFull, nil)
			f := fixtureByName(tc.fixture)
			for _, step := range []struct {
				send, get dhcpv4.MessageType
			}{{dhcpv4.MessageTypeDiscover, dhcpv4.MessageTypeOffer}, {dhcpv4.MessageTypeRequest, dhcpv4.MessageTypeAck}} {
				p := f.pkt(step.send)
				if step.send == dhcpv4.MessageTypeRequest {
					p.UpdateOption(dhcpv4.OptServerIdentifier(net.IPv4(198, 18, 0, 1)))
					p.UpdateOption(dhcpv4.OptRequestedIPAddress(net.ParseIP(ip)))
				}
				w := tc.boot
				w.typ, w.yiaddr = step.get, ip
				w.opts = withLease(tc.boot.opts, tc.hostname)
				w.opts[53], w.opts[54] = []byte{byte(step.get)}, optServer
				if v := p.Options.Get(dhcpv4.OptionClientIdentifier); v != nil {
					w.opts[61] = v // RFC 6842
				}
				checkReply(t, tc.fixture+" "+step.send.String(), h.exchange(p, false, replyWait), w)
			}
			var stored *memLease
			h.leases.mu.Lock()
			for a, l := range h.leases.m {
				if a.String() == ip {
					stored = &l
				}
			}
			h.leases.mu.Unlock()
			if stored == nil || stored.mac.String() != f.pkt(dhcpv4.MessageTypeDiscover).ClientHWAddr.String() {
				t.Errorf("stored lease of %s = %+v, want one for the client", ip, stored)
			}
		})
	}
}

// TestNetbootOff: a node that must not boot gets no boot information; in
// full mode it still gets its address, in proxy mode nothing at all.
func TestNetbootOff(t *testing.T) {
	t.Parallel()
	noBoot := func(c *Config) {
		c.Decider = DeciderFunc(func(_ context.Context, _ Client) (Answer, error) {
			return Answer{Hostname: "web1"}, nil
		})
	}
	p := fixtureByName("ovmf-pxe").pkt(dhcpv4.MessageTypeDiscover)
	proxy := newHarness(t, ModeProxy, noBoot)
	checkReply(t, "proxy", proxy.exchange(p, false, silenceWait), want{})
	full := newHarness(t, ModeFull, noBoot)
	checkReply(t, "full", full.exchange(p, false, replyWait), want{typ: dhcpv4.MessageTypeOffer,
		yiaddr: "198.18.0.100", opts: withLease(map[uint8][]byte{53: optOffer, 54: optServer}, "web1")})
}

// TestARM64Binary: arm64 UEFI gets the arm64 iPXE binary once one is named.
func TestARM64Binary(t *testing.T) {
	t.Parallel()
	h := newHarness(t, ModeProxy, func(c *Config) {
		c.Files = Files{BIOS: "undionly.kpxe", UEFI64: "ipxe.efi", ARM64: "snp-arm64.efi"}
	})
	checkReply(t, "arm64", h.exchange(fixtureByName("arm64-uefi").pkt(dhcpv4.MessageTypeDiscover), false, replyWait),
		want{typ: dhcpv4.MessageTypeOffer, siaddr: "198.18.0.1", sname: "198.18.0.1", file: "snp-arm64.efi",
			opts: map[uint8][]byte{53: optOffer, 54: optServer, 60: s("PXEClient"), 97: guid}})
	checkReply(t, "x64 with ipxe.efi", h.exchange(fixtureByName("ovmf-pxe").pkt(dhcpv4.MessageTypeDiscover), false, replyWait),
		want{typ: dhcpv4.MessageTypeOffer, siaddr: "198.18.0.1", sname: "198.18.0.1", file: "ipxe.efi",
			opts: map[uint8][]byte{53: optOffer, 54: optServer, 60: s("PXEClient"), 97: guid}})
}
