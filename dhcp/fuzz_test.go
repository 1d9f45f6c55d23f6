package dhcp

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// seedPackets are every fixture as each message type, direct and relayed.
func seedPackets() [][]byte {
	var out [][]byte
	for _, f := range fixtures {
		for _, mt := range []dhcpv4.MessageType{dhcpv4.MessageTypeDiscover, dhcpv4.MessageTypeRequest,
			dhcpv4.MessageTypeDecline, dhcpv4.MessageTypeRelease, dhcpv4.MessageTypeInform} {
			p := f.pkt(mt)
			out = append(out, p.ToBytes())
			p.UpdateOption(dhcpv4.OptServerIdentifier(serverIP.AsSlice()))
			p.UpdateOption(dhcpv4.OptRequestedIPAddress(net.IPv4(198, 18, 0, 100)))
			out = append(out, p.ToBytes())
			p.GatewayIPAddr = net.IPv4(198, 18, 0, 2)
			p.ClientIPAddr = net.IPv4(198, 18, 0, 100)
			out = append(out, p.ToBytes())
		}
	}
	return out
}

// FuzzHandle feeds arbitrary bytes to the packet path of a proxy-mode
// server (both ports) and a full-mode server: nothing may panic or hang,
// and every reply must encode and decode again.
func FuzzHandle(f *testing.F) {
	for _, b := range seedPackets() {
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{1, 1, 6, 0})
	var servers []*Server
	for _, mode := range []Mode{ModeProxy, ModeFull} {
		s, err := New(Config{Mode: mode, ServerIP: serverIP, HTTPBoot: "http://198.18.0.1:8080/boot/ipxe/",
			Pool: testPool, Leases: newMemLeases(), Decider: bootAll,
			Files: Files{BIOS: "undionly.kpxe", UEFI64: "snponly.efi", UEFI32: "ipxe32.efi", ARM64: "arm64.efi"}})
		if err != nil {
			f.Fatal(err)
		}
		servers = append(servers, s)
	}
	from := &net.UDPAddr{IP: net.IPv4(198, 18, 0, 100), Port: 68}
	f.Fuzz(func(t *testing.T, b []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, s := range servers {
			for _, pxePort := range []bool{false, true} {
				r := s.handle(ctx, b, from, pxePort)
				if r == nil {
					continue
				}
				if r.to == nil {
					t.Fatalf("reply to %x has no destination", b)
				}
				if _, err := dhcpv4.FromBytes(r.pkt.ToBytes()); err != nil {
					t.Fatalf("reply to %x does not decode: %v", b, err)
				}
			}
		}
	})
}

// TestMalformedDropped: bytes that are not a DHCP request are counted and
// dropped, and the server keeps answering.
func TestMalformedDropped(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	h := newHarness(t, ModeProxy, func(c *Config) { c.Registerer = reg })
	bad := [][]byte{
		{},
		[]byte("GET / HTTP/1.0\r\n\r\n"),
		fixtureByName("ovmf-pxe").pkt(dhcpv4.MessageTypeDiscover).ToBytes()[:100], // cut short
		func() []byte { // a reply, not a request
			p := fixtureByName("ovmf-pxe").pkt(dhcpv4.MessageTypeDiscover)
			p.OpCode = dhcpv4.OpcodeBootReply
			return p.ToBytes()
		}(),
		func() []byte { // a wrong magic cookie
			b := fixtureByName("ovmf-pxe").pkt(dhcpv4.MessageTypeDiscover).ToBytes()
			b[236] = 0
			return b
		}(),
		func() []byte { // an option running past the end
			b := fixtureByName("ovmf-pxe").pkt(dhcpv4.MessageTypeDiscover).ToBytes()
			return append(b[:240], 60, 200, 'P')
		}(),
	}
	for _, b := range bad {
		if _, err := h.client.WriteToUDP(b, h.dhcpTo); err != nil {
			t.Fatal(err)
		}
	}
	if r := h.exchange(fixtureByName("ovmf-pxe").pkt(dhcpv4.MessageTypeDiscover), false, replyWait); r == nil {
		t.Fatal("no OFFER after malformed packets")
	}
	// The bad packets are handled concurrently with the good one: give them a moment.
	dropped := func() float64 { return testutil.ToFloat64(h.srv.met.dropped.WithLabelValues(dropMalformed)) }
	for end := time.Now().Add(2 * time.Second); dropped() < float64(len(bad)) && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	if got := dropped(); got != float64(len(bad)) {
		t.Errorf("dropped{reason=malformed} = %v, want %d", got, len(bad))
	}
	if got := testutil.ToFloat64(h.srv.met.received.WithLabelValues("DISCOVER", "x64-uefi")); got != 1 {
		t.Errorf(`received{DISCOVER,x64-uefi} = %v, want 1`, got)
	}
	// The client can read the OFFER before the server has counted it as sent.
	sent := func() float64 { return testutil.ToFloat64(h.srv.met.sent.WithLabelValues("OFFER", "x64-uefi")) }
	for end := time.Now().Add(2 * time.Second); sent() < 1 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	if got := sent(); got != 1 {
		t.Errorf(`sent{OFFER,x64-uefi} = %v, want 1`, got)
	}
	if n := testutil.CollectAndCount(reg, "bootd_dhcp_reply_seconds"); n != 1 {
		t.Errorf("reply latency histogram series = %d, want 1", n)
	}
}
