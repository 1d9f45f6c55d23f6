package dhcp

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Listen opens a UDP socket on 0.0.0.0:port bound to the interface iface
// (SO_BINDTODEVICE), able to send broadcasts. A socket bound to one of the
// interface's addresses would not receive the broadcasts clients send
// before they have an address.
//
// Unlike the DHCP library's own helper, it sets neither SO_REUSEADDR nor
// SO_REUSEPORT: a second server on the same interface and port (another
// bootd, dnsmasq, a DHCP server) makes Listen fail instead of silently
// sharing the port. Servers on different interfaces coexist. An empty
// iface binds no device, for tests.
func Listen(iface string, port int) (net.PacketConn, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("dhcp: socket: %w", err)
	}
	f := os.NewFile(uintptr(fd), "dhcp")
	defer f.Close() // FilePacketConn duplicates the descriptor
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1); err != nil {
		return nil, fmt.Errorf("dhcp: SO_BROADCAST: %w", err)
	}
	// A large receive buffer absorbs the bursts of a boot storm while the
	// handlers are busy; SO_RCVBUFFORCE (root) goes past net.core.rmem_max.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
	}
	if iface != "" {
		if err := unix.BindToDevice(fd, iface); err != nil {
			return nil, fmt.Errorf("dhcp: bind to interface %s: %w", iface, err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port}); err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("dhcp: port %d on %s is taken by another DHCP server (another bootd, dnsmasq?): %w",
				port, ifaceName(iface), err)
		}
		return nil, fmt.Errorf("dhcp: bind port %d on %s: %w", port, ifaceName(iface), err)
	}
	c, err := net.FilePacketConn(f)
	if err != nil {
		return nil, fmt.Errorf("dhcp: %w", err)
	}
	return c, nil
}

// rcvBuf is the socket receive buffer asked for: about 8,000 packets.
const rcvBuf = 8 << 20

func ifaceName(iface string) string {
	if iface == "" {
		return "all interfaces"
	}
	return iface
}
