package dhcp

import (
	"context"
	"net"
	"time"
)

// An Answer is what a Decider wants one client to get.
type Answer struct {
	// Boot says whether the client gets boot information (a boot file, a
	// URL, the Raspberry Pi options). When false, a full-mode client still
	// gets its address and a proxy-mode client gets no reply.
	Boot bool
	// Script is the URL of the client's iPXE script, handed to iPXE clients.
	Script string
	// Hostname, when not empty, is sent in option 12 (full mode).
	Hostname string
	// Known says the MAC is enrolled. Known mode (ClientsKnown) answers
	// only known MACs, and the pool's limits for unknown clients spare them.
	Known bool
	// SecureBoot, when set, is the first stage an x64 UEFI firmware gets
	// instead of the iPXE binary: a signed shim, for Secure Boot.
	SecureBoot Loader
}

// A Loader is a boot file by transport: TFTP's name and UEFI HTTP boot's URL.
type Loader struct {
	TFTP, HTTP string
}

// A Decider decides what a client gets. It is called for every DISCOVER
// and REQUEST that bootd may answer (in proxy mode only from network-booting
// clients), concurrently, and must be quick and free of side effects. An
// error means "cannot tell now": the packet is dropped and counted, and the
// client retries.
type Decider interface {
	Decide(ctx context.Context, c Client) (Answer, error)
}

// DeciderFunc adapts a function to a Decider.
type DeciderFunc func(ctx context.Context, c Client) (Answer, error)

// Decide calls f.
func (f DeciderFunc) Decide(ctx context.Context, c Client) (Answer, error) { return f(ctx, c) }

// An Event reports one packet bootd received or sent.
type Event struct {
	// Type is the message type: DISCOVER, OFFER, REQUEST, ACK, NAK,
	// DECLINE, RELEASE or INFORM.
	Type   string
	Client Client
	// ClientIP is the address the packet showed the client at: its ciaddr,
	// else the packet's source when it came straight from the client (not
	// relayed, not 0.0.0.0); nil when neither. It is never the address the
	// client asks for (option 50), which is only a claim: Requested.
	ClientIP net.IP
	// Requested is option 50 of a request, the address the client asks for.
	Requested net.IP
	// YourIP is the address given (yiaddr) in an OFFER or ACK.
	YourIP net.IP
	// BootFile is the boot file or URL sent, empty when none.
	BootFile string
	// Proxy is true for replies sent as a proxyDHCP server (no address).
	Proxy bool
	Time  time.Time
}
