package dhcp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Mode is how the server takes part in a network's DHCP.
type Mode string

// The modes. ("off" is no server at all, decided in cmd.)
const (
	// ModeProxy answers network-booting clients only, with boot information
	// and no address, on port 67 and 4011 (PXE 2.1 proxyDHCP): the site's
	// DHCP server keeps handing out addresses.
	ModeProxy Mode = "proxy"
	// ModeFull is the network's DHCP server: addresses from a pool, static
	// reservations, leases stored durably, and boot information.
	ModeFull Mode = "full"
)

// Files names the iPXE binaries handed to each firmware (served over TFTP
// from the root, and over HTTP under Config.HTTPBoot). An empty name means
// that firmware gets no boot file.
type Files struct {
	BIOS   string // x86 BIOS PXE; default undionly.kpxe
	UEFI64 string // x64 UEFI; default snponly.efi
	UEFI32 string // 32-bit x86 UEFI; default none
	ARM64  string // arm64 UEFI; default none (Debian ships no arm64 iPXE)
}

// Pool is full mode's address plan for one subnet.
type Pool struct {
	// Subnet is the network the pool and reservations live in; its mask is
	// sent in option 1.
	Subnet netip.Prefix
	// Start and End bound the dynamic range, both included.
	Start, End netip.Addr
	// Router (option 3), DNS (6), NTP (42) and Domain (15) are sent when set.
	Router netip.Addr
	DNS    []netip.Addr
	NTP    []netip.Addr
	Domain string
	// LeaseTime is option 51; default one hour.
	LeaseTime time.Duration
	// Reservations gives fixed addresses by MAC (any common spelling); a
	// reserved address is never given to another client.
	Reservations map[string]netip.Addr
	// DeclineHold is how long an address a client declined (RFC 2131
	// section 4.3.3) stays out of use; default 10 minutes. It is stored,
	// so a restart within the hold keeps the address out.
	DeclineHold time.Duration
	// Limits on what clients that are not enrolled (Answer.Known false)
	// may hold of the pool, so that random MACs cannot drain it; enrolled
	// clients are never refused by them. A request past one gets no reply
	// and is counted. Zero takes the default.
	//
	// MaxOffers bounds outstanding offers (not yet requested) to unknown
	// clients: default half the range. MaxUnknownLeases bounds their live
	// leases: default a quarter of the range.
	MaxOffers, MaxUnknownLeases int
	// MaxQuarantined bounds the declined addresses out of use (default an
	// eighth of the range), MaxDeclinesPerClient those one client declined
	// (default 2). A DECLINE past either ends the client's lease without
	// quarantining the address.
	MaxQuarantined, MaxDeclinesPerClient int
	// Refresh, when set, is how often the pool reads the lease store again
	// to learn the leases other bootd instances sharing the store made (a
	// store in RADOS), and makes the pool start its picks at a place of
	// the range derived from ServerIP, so that instances rarely offer one
	// address at once. Zero: the store is this server's alone (bbolt).
	Refresh time.Duration
}

// size is the number of addresses of the dynamic range.
func (p *Pool) size() int { return int(ip4(p.End)-ip4(p.Start)) + 1 }

// limits returns the pool's caps, defaults filled in.
func (p *Pool) limits() limits {
	n := p.size()
	or := func(v, def int) int {
		if v > 0 {
			return v
		}
		return max(def, 1)
	}
	return limits{offers: or(p.MaxOffers, n/2), unknownLeases: or(p.MaxUnknownLeases, n/4),
		quarantined: or(p.MaxQuarantined, n/8), declinesPerClient: or(p.MaxDeclinesPerClient, 2)}
}

// Config configures a Server.
type Config struct {
	Mode Mode
	// ServerIP is the address clients reach bootd at: siaddr, option 54,
	// the TFTP server. Required.
	ServerIP netip.Addr
	// Interface is the network interface ListenAndServe binds to.
	Interface string
	// Port and PXEPort are where ListenAndServe listens: default 67 and
	// 4011 (the PXE port, proxy mode only).
	Port, PXEPort int
	// ClientPort, RelayPort and Broadcast are where replies go: default 68,
	// 67 and 255.255.255.255. Tests on loopback change them.
	ClientPort, RelayPort int
	Broadcast             netip.Addr
	// Files are the iPXE binaries per firmware; zero fields take the defaults.
	Files Files
	// HTTPBoot is the URL prefix of the iPXE binaries for UEFI HTTP boot,
	// e.g. "http://198.18.0.1:8080/boot/ipxe/"; empty means no HTTP boot.
	HTTPBoot string
	// Pool is full mode's address plan.
	Pool Pool
	// Leases stores full mode's leases; required in full mode.
	Leases LeaseStore
	// Decider decides what each client gets; required.
	Decider Decider
	// Clients is who the server answers: ClientsAll (the default) or
	// ClientsKnown.
	Clients Clients
	// AllowOUI are MAC prefixes (the first three bytes) ClientsKnown
	// answers though not enrolled.
	AllowOUI [][3]byte
	// Window, when set, is the discover window: while it is open
	// ClientsKnown answers every MAC.
	Window *Window
	// Report, when set, receives an Event per packet received and per reply,
	// the reply's just before it is sent (so that what a client does on
	// receiving it finds it reported). It is called on the packet's path and
	// must not block.
	Report func(Event)
	// Logger gets state changes at Info and per-packet detail at Debug;
	// nil discards.
	Logger *slog.Logger
	// Registerer receives the metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	// MaxInFlight bounds the packets handled at once (default 8192);
	// packets beyond it are dropped and counted.
	MaxInFlight int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// maxPoolSize bounds the dynamic range (a /12).
const maxPoolSize = 1 << 20

func (c *Config) setDefaults() {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.Port, 67)
	def(&c.PXEPort, 4011)
	def(&c.ClientPort, 68)
	def(&c.RelayPort, 67)
	def(&c.MaxInFlight, 8192)
	if !c.Broadcast.IsValid() {
		c.Broadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})
	}
	if c.Files == (Files{}) {
		c.Files = Files{BIOS: "undionly.kpxe", UEFI64: "snponly.efi"}
	}
	if c.Pool.LeaseTime == 0 {
		c.Pool.LeaseTime = time.Hour
	}
	if c.Pool.DeclineHold == 0 {
		c.Pool.DeclineHold = 10 * time.Minute
	}
	if c.Clients == "" {
		c.Clients = ClientsAll
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

func (c *Config) validate() error {
	if c.Mode != ModeProxy && c.Mode != ModeFull {
		return fmt.Errorf("dhcp: mode %q: want proxy or full", c.Mode)
	}
	if c.Clients != ClientsAll && c.Clients != ClientsKnown {
		return fmt.Errorf("dhcp: clients %q: want all or known", c.Clients)
	}
	if !c.ServerIP.Is4() || c.ServerIP.IsUnspecified() {
		return fmt.Errorf("dhcp: server address %v: want an IPv4 address", c.ServerIP)
	}
	if c.Decider == nil {
		return errors.New("dhcp: Config needs a Decider")
	}
	if c.Mode == ModeFull {
		return c.Pool.validate(c.Leases)
	}
	return nil
}

func (p *Pool) validate(leases LeaseStore) error {
	if leases == nil {
		return errors.New("dhcp: full mode needs a LeaseStore")
	}
	if !p.Subnet.IsValid() || !p.Subnet.Addr().Is4() || p.Subnet.Bits() < 8 || p.Subnet.Bits() > 30 {
		return fmt.Errorf("dhcp: pool subnet %v: want an IPv4 network from /8 to /30", p.Subnet)
	}
	if !p.Start.Is4() || !p.End.Is4() || !p.Subnet.Contains(p.Start) || !p.Subnet.Contains(p.End) {
		return fmt.Errorf("dhcp: pool range %v-%v: both ends must be in %v", p.Start, p.End, p.Subnet)
	}
	if p.End.Less(p.Start) {
		return fmt.Errorf("dhcp: pool range %v-%v: the start is after the end", p.Start, p.End)
	}
	if ip4(p.End)-ip4(p.Start) >= maxPoolSize {
		return fmt.Errorf("dhcp: pool range %v-%v: more than %d addresses", p.Start, p.End, maxPoolSize)
	}
	if p.Router.IsValid() && !p.Subnet.Contains(p.Router) {
		return fmt.Errorf("dhcp: router %v is not in %v", p.Router, p.Subnet)
	}
	for mac, a := range p.Reservations {
		if hw, err := net.ParseMAC(mac); err != nil || len(hw) != 6 {
			return fmt.Errorf("dhcp: reservation %q: bad MAC address", mac)
		}
		if !p.Subnet.Contains(a) {
			return fmt.Errorf("dhcp: reservation %s=%v: not in %v", mac, a, p.Subnet)
		}
	}
	if p.Refresh < 0 {
		return fmt.Errorf("dhcp: lease refresh %v: must not be negative", p.Refresh)
	}
	if p.MaxOffers < 0 || p.MaxUnknownLeases < 0 || p.MaxQuarantined < 0 || p.MaxDeclinesPerClient < 0 {
		return errors.New("dhcp: pool limits must not be negative")
	}
	if p.LeaseTime < time.Minute {
		return fmt.Errorf("dhcp: lease time %v: want at least a minute", p.LeaseTime)
	}
	return nil
}
