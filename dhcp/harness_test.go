package dhcp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// The test network: bootd at 198.18.0.1 (only written into packets; every
// packet travels on 127.0.0.1, replies "broadcast" to the test client).
var (
	serverIP = netip.MustParseAddr("198.18.0.1")
	testPool = Pool{
		Subnet: netip.MustParsePrefix("198.18.0.0/24"),
		Start:  netip.MustParseAddr("198.18.0.100"), End: netip.MustParseAddr("198.18.0.199"),
		Router: netip.MustParseAddr("198.18.0.254"),
		DNS:    []netip.Addr{netip.MustParseAddr("198.18.0.53")},
		NTP:    []netip.Addr{netip.MustParseAddr("198.18.0.123")},
		Domain: "boot.test", LeaseTime: time.Hour,
	}
)

func scriptURL(mac net.HardwareAddr) string {
	return "http://198.18.0.1:8080/boot/" + strings.ReplaceAll(mac.String(), ":", "-") + "/boot.ipxe"
}

// bootAll boots every client; the OVMF machine is called web1.
var bootAll = DeciderFunc(func(_ context.Context, c Client) (Answer, error) {
	a := Answer{Boot: true, Script: scriptURL(c.MAC)}
	if bytes.Equal(c.MAC, macOVMF) {
		a.Hostname = "web1"
	}
	return a, nil
})

// harness is a Server on loopback sockets and a client socket that
// receives its "broadcast" and relayed replies.
type harness struct {
	t             *testing.T
	srv           *Server
	dhcpTo, pxeTo *net.UDPAddr
	client        *net.UDPConn
	leases        *memLeases
	cancel        context.CancelFunc
	done          chan error
}

func newHarness(t *testing.T, mode Mode, mod func(*Config)) *harness {
	t.Helper()
	client, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, client: client, leases: newMemLeases(), done: make(chan error, 1),
		dhcpTo: conn.LocalAddr().(*net.UDPAddr)}
	var pxe net.PacketConn
	if mode == ModeProxy {
		pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		pxe, h.pxeTo = pc, pc.LocalAddr().(*net.UDPAddr)
	}
	port := client.LocalAddr().(*net.UDPAddr).Port
	cfg := Config{
		Mode: mode, ServerIP: serverIP, ClientPort: port, RelayPort: port,
		Broadcast: netip.MustParseAddr("127.0.0.1"), HTTPBoot: "http://198.18.0.1:8080/boot/ipxe/",
		Pool: testPool, Leases: h.leases, Decider: bootAll,
	}
	if mod != nil {
		mod(&cfg)
	}
	if h.srv, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	var ctx context.Context
	ctx, h.cancel = context.WithCancel(context.Background())
	go func() { h.done <- h.srv.Serve(ctx, conn, pxe) }()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	if err := <-h.done; err != nil {
		h.t.Errorf("Serve = %v, want nil after cancel", err)
	}
	h.client.Close()
}

// exchange sends p to the DHCP port (or the PXE port) and returns the
// reply with p's transaction ID, or nil when none comes within wait.
func (h *harness) exchange(p *dhcpv4.DHCPv4, pxePort bool, wait time.Duration) *dhcpv4.DHCPv4 {
	h.t.Helper()
	to := h.dhcpTo
	if pxePort {
		to = h.pxeTo
	}
	if _, err := h.client.WriteToUDP(p.ToBytes(), to); err != nil {
		h.t.Fatal(err)
	}
	buf := make([]byte, 1500)
	deadline := time.Now().Add(wait)
	for {
		h.client.SetReadDeadline(deadline)
		n, _, err := h.client.ReadFromUDP(buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		if err != nil {
			h.t.Fatal(err)
		}
		r, err := dhcpv4.FromBytes(buf[:n])
		if err != nil {
			h.t.Fatalf("reply does not parse: %v", err)
		}
		if r.TransactionID == p.TransactionID {
			return r
		}
	}
}

// want is an exact reply: the header fields that carry boot information
// and every option, by code.
type want struct {
	typ    dhcpv4.MessageType // MessageTypeNone: no reply at all
	yiaddr string
	siaddr string
	sname  string
	file   string
	opts   map[uint8][]byte
}

func checkReply(t *testing.T, name string, got *dhcpv4.DHCPv4, w want) {
	t.Helper()
	if w.typ == dhcpv4.MessageTypeNone {
		if got != nil {
			t.Errorf("%s: got %s, want no reply", name, got.Summary())
		}
		return
	}
	if got == nil {
		t.Errorf("%s: no reply, want %s", name, w.typ)
		return
	}
	field := func(what, g, w string) {
		if g != w {
			t.Errorf("%s: %s = %q, want %q", name, what, g, w)
		}
	}
	field("yiaddr", got.YourIPAddr.String(), or(w.yiaddr, "0.0.0.0"))
	field("siaddr", got.ServerIPAddr.String(), or(w.siaddr, "0.0.0.0"))
	field("sname", got.ServerHostName, w.sname)
	field("file", got.BootFileName, w.file)
	if got.OpCode != dhcpv4.OpcodeBootReply {
		t.Errorf("%s: op = %v, want BootReply", name, got.OpCode)
	}
	var codes []int
	for c := range got.Options {
		codes = append(codes, int(c))
	}
	slices.Sort(codes)
	for _, c := range codes {
		wv, ok := w.opts[uint8(c)]
		if !ok {
			t.Errorf("%s: unexpected option %d = %q", name, c, got.Options[uint8(c)])
		} else if !bytes.Equal(got.Options[uint8(c)], wv) {
			t.Errorf("%s: option %d = % x, want % x", name, c, got.Options[uint8(c)], wv)
		}
	}
	for c := range w.opts {
		if _, ok := got.Options[c]; !ok {
			t.Errorf("%s: option %d missing, want % x", name, c, w.opts[c])
		}
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Option values spelled out as the specifications give them.
var (
	optOffer  = []byte{byte(dhcpv4.MessageTypeOffer)}
	optAck    = []byte{byte(dhcpv4.MessageTypeAck)}
	optServer = []byte{198, 18, 0, 1}
	// PXE vendor options: discovery control (6) = 8, end.
	optPXEBypass = []byte{0x06, 0x01, 0x08, 0xff}
	// The Raspberry Pi documentation's option 43.
	optPiBoot = append(append([]byte{0x06, 0x01, 0x03, 0x0a, 0x04, 0x00, 0x50, 0x58, 0x45, 0x09, 0x14, 0x00, 0x00, 0x11},
		"Raspberry Pi Boot"...), 0xff)
)

// withLease adds full mode's network options to opts.
func withLease(opts map[uint8][]byte, hostname string) map[uint8][]byte {
	out := map[uint8][]byte{
		1:  {255, 255, 255, 0},
		3:  {198, 18, 0, 254},
		6:  {198, 18, 0, 53},
		15: []byte("boot.test"),
		42: {198, 18, 0, 123},
		51: {0, 0, 0x0e, 0x10},
	}
	if hostname != "" {
		out[12] = []byte(hostname)
	}
	for k, v := range opts {
		out[k] = v
	}
	return out
}

func s(v string) []byte { return []byte(v) }
