package dhcp

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/bootd/bootd/internal/dhcptest"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// The firmwares' requests live in internal/dhcptest, shared with bootd's
// wiring tests; these are their short names here.
var (
	macOVMF = dhcptest.MACOVMF
	macIPXE = dhcptest.MACIPXE
	macBIOS = dhcptest.MACBIOS
	macPi   = dhcptest.MACPi
	macARM  = dhcptest.MACARM
	macHost = dhcptest.MACHost
	guid    = dhcptest.GUID
	piGUID  = dhcptest.PiGUID
)

// fixture is one firmware's request.
type fixture struct {
	name string
	pkt  func(mt dhcpv4.MessageType) *dhcpv4.DHCPv4
}

var fixtures = func() []fixture {
	var fs []fixture
	for _, f := range dhcptest.Fixtures {
		fs = append(fs, fixture{f.Name, f.Packet})
	}
	return fs
}()

func fixtureByName(name string) fixture {
	f := dhcptest.FixtureByName(name)
	return fixture{f.Name, f.Packet}
}

func request(mac net.HardwareAddr, mt dhcpv4.MessageType, xid byte, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	return dhcptest.Request(mac, mt, xid, mods...)
}

func mustMAC(s string) net.HardwareAddr {
	hw, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return hw
}

func prl(codes ...uint8) dhcpv4.Modifier { return dhcptest.PRL(codes...) }

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

// ClaimLease stores the lease when ip is free for client at now, as a
// real store does.
func (l *memLeases) ClaimLease(_ context.Context, ip netip.Addr, client, mac net.HardwareAddr, expiry, now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.m[ip]; ok && cur.expiry.After(now) && (len(cur.mac) == 0 || !bytes.Equal(cur.mac, client)) {
		return &heldError{cur.mac, cur.expiry}
	}
	l.m[ip] = memLease{append(net.HardwareAddr(nil), mac...), expiry}
	l.puts++
	return nil
}

// heldError is memLeases' HeldError.
type heldError struct {
	mac    net.HardwareAddr
	expiry time.Time
}

func (e *heldError) Error() string { return fmt.Sprintf("held by %v until %v", e.mac, e.expiry) }

func (e *heldError) LeaseHolder() (net.HardwareAddr, time.Time) { return e.mac, e.expiry }
