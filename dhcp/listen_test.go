package dhcp

import (
	"net"
	"strings"
	"testing"
)

// TestListenRefusesSharing: a second server on the same interface and port
// fails to start instead of silently sharing the port (as SO_REUSEPORT
// would let it).
func TestListenRefusesSharing(t *testing.T) {
	t.Parallel()
	probe, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	port := probe.LocalAddr().(*net.UDPAddr).Port
	probe.Close()
	first, err := Listen("lo", port)
	if err != nil {
		t.Fatalf("Listen(lo, %d) = %v", port, err)
	}
	defer first.Close()
	for _, iface := range []string{"lo", ""} {
		c, err := Listen(iface, port)
		if err == nil {
			c.Close()
			t.Errorf("second Listen(%q, %d) = nil error, want the port refused", iface, port)
		} else if !strings.Contains(err.Error(), "taken by another DHCP server") {
			t.Errorf("second Listen(%q, %d) = %v, want it to say the port is taken", iface, port, err)
		}
	}
	if _, err := Listen("no-such-if0", port+1); err == nil || !strings.Contains(err.Error(), "no-such-if0") {
		t.Errorf("Listen(no-such-if0) = %v, want an error naming the interface", err)
	}
}
