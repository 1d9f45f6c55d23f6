package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/bootd/bootd/dhcp"
)

// validateDHCP checks the DHCP settings without touching the network; the
// interface and the pool's subnet are checked when the server starts.
func (c serveConfig) validateDHCP() error {
	switch c.DHCPMode {
	case "off", "proxy", "full":
	default:
		return fmt.Errorf("--dhcp-mode %q: want off, proxy or full", c.DHCPMode)
	}
	if c.Advertise != "" {
		if _, err := parseIPv4("--advertise", c.Advertise); err != nil {
			return err
		}
	}
	if c.DHCPMode == "off" {
		return nil
	}
	if c.DHCPInterface == "" {
		return fmt.Errorf("--dhcp-mode %s needs --dhcp-interface: bootd binds its DHCP server to one interface", c.DHCPMode)
	}
	if p, err := strconv.Atoi(c.DHCPPort); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("--dhcp-port %q: want a port number", c.DHCPPort)
	}
	switch c.DHCPUnknown {
	case "ignore", "boot":
	default:
		return fmt.Errorf("--dhcp-unknown %q: want ignore or boot", c.DHCPUnknown)
	}
	if c.DHCPEFIBinary == "" || strings.ContainsAny(c.DHCPEFIBinary, "/ ") {
		return fmt.Errorf("--dhcp-efi-binary %q: want a file name such as snponly.efi or ipxe.efi", c.DHCPEFIBinary)
	}
	if strings.ContainsAny(c.DHCPARM64Binary, "/ ") {
		return fmt.Errorf("--dhcp-arm64-binary %q: want a file name", c.DHCPARM64Binary)
	}
	if _, err := c.dhcpAdmission(); err != nil {
		return err
	}
	if c.DHCPMode == "proxy" {
		return nil
	}
	_, err := c.dhcpPool(netip.Prefix{})
	return err
}

// admission is who the DHCP server answers (dhcp.Config's Clients and AllowOUI).
type admission struct {
	clients dhcp.Clients
	ouis    [][3]byte
}

// dhcpAdmission reads --dhcp-clients and --dhcp-allow-oui.
func (c serveConfig) dhcpAdmission() (admission, error) {
	var a admission
	switch c.DHCPClients {
	case "all", "known":
		a.clients = dhcp.Clients(c.DHCPClients)
	default:
		return a, fmt.Errorf("--dhcp-clients %q: want all or known", c.DHCPClients)
	}
	for _, f := range strings.Split(c.DHCPAllowOUI, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		sep := ":"
		if strings.Contains(f, "-") {
			sep = "-"
		}
		hw, err := net.ParseMAC(f + strings.Repeat(sep+"00", 3))
		if err != nil || len(hw) != 6 {
			return a, fmt.Errorf("--dhcp-allow-oui %q: want MAC prefixes of three bytes, e.g. 52:54:00", f)
		}
		a.ouis = append(a.ouis, [3]byte{hw[0], hw[1], hw[2]})
	}
	return a, nil
}

// poolLimits reads full mode's limits for unknown clients into p.
func (c serveConfig) poolLimits(p *dhcp.Pool) error {
	for _, l := range []struct {
		flag, v string
		p       *int
	}{{"--dhcp-max-offers", c.DHCPMaxOffers, &p.MaxOffers}, {"--dhcp-max-unknown-leases", c.DHCPMaxUnknownLeases, &p.MaxUnknownLeases},
		{"--dhcp-max-declined", c.DHCPMaxDeclined, &p.MaxQuarantined}} {
		if l.v == "" {
			continue
		}
		n, err := strconv.Atoi(l.v)
		if err != nil || n < 1 {
			return fmt.Errorf("%s %q: want a positive number (empty: the default)", l.flag, l.v)
		}
		*l.p = n
	}
	d, err := time.ParseDuration(c.DHCPDeclineHold)
	if err != nil || d < time.Second || d > 24*time.Hour {
		return fmt.Errorf("--dhcp-decline-hold %q: want a duration from 1s to 24h, e.g. 10m", c.DHCPDeclineHold)
	}
	p.DeclineHold = d
	r, err := time.ParseDuration(c.DHCPLeaseRefresh)
	if err != nil || r < time.Second || r > time.Hour {
		return fmt.Errorf("--dhcp-lease-refresh %q: want a duration from 1s to 1h, e.g. 30s", c.DHCPLeaseRefresh)
	}
	if c.Store == "rados" {
		p.Refresh = r // instances may share the segment; bbolt's file is one bootd's
	}
	return nil
}

// dhcpPool builds full mode's pool; ifNet is the interface's network, used
// when no netmask is set (an invalid prefix during validation).
func (c serveConfig) dhcpPool(ifNet netip.Prefix) (dhcp.Pool, error) {
	var p dhcp.Pool
	var err error
	if c.DHCPPoolStart == "" || c.DHCPPoolEnd == "" {
		return p, errors.New("--dhcp-mode full needs --dhcp-pool-start and --dhcp-pool-end")
	}
	if p.Start, err = parseIPv4("--dhcp-pool-start", c.DHCPPoolStart); err != nil {
		return p, err
	}
	if p.End, err = parseIPv4("--dhcp-pool-end", c.DHCPPoolEnd); err != nil {
		return p, err
	}
	bits := ifNet.Bits()
	if c.DHCPNetmask != "" {
		m, err := parseIPv4("--dhcp-netmask", c.DHCPNetmask)
		if err != nil {
			return p, err
		}
		ones, size := net.IPMask(m.AsSlice()).Size()
		if size != 32 {
			return p, fmt.Errorf("--dhcp-netmask %s: not a contiguous mask", c.DHCPNetmask)
		}
		bits = ones
	}
	if bits > 0 {
		p.Subnet = netip.PrefixFrom(p.Start, bits).Masked()
	}
	if c.DHCPRouter != "" {
		if p.Router, err = parseIPv4("--dhcp-router", c.DHCPRouter); err != nil {
			return p, err
		}
	}
	if p.DNS, err = parseIPList("--dhcp-dns", c.DHCPDNS); err != nil {
		return p, err
	}
	if p.NTP, err = parseIPList("--dhcp-ntp", c.DHCPNTP); err != nil {
		return p, err
	}
	p.Domain = c.DHCPDomain
	if p.LeaseTime, err = time.ParseDuration(c.DHCPLeaseTime); err != nil || p.LeaseTime < time.Minute {
		return p, fmt.Errorf("--dhcp-lease-time %q: want a duration of at least 1m, e.g. 1h", c.DHCPLeaseTime)
	}
	if p.Reservations, err = parseReservations(c.DHCPReservations); err != nil {
		return p, err
	}
	if err := c.poolLimits(&p); err != nil {
		return p, err
	}
	if p.End.Less(p.Start) {
		return p, fmt.Errorf("--dhcp-pool-start %s is after --dhcp-pool-end %s", p.Start, p.End)
	}
	return p, nil
}

func parseIPv4(flag, s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("%s %q: want an IPv4 address", flag, s)
	}
	return a, nil
}

func parseIPList(flag, s string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, f := range strings.Split(s, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		a, err := parseIPv4(flag, f)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// parseReservations reads "mac=ip,mac=ip".
func parseReservations(s string) (map[string]netip.Addr, error) {
	out := map[string]netip.Addr{}
	for _, f := range strings.Split(s, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		macs, ips, ok := strings.Cut(f, "=")
		hw, err := net.ParseMAC(strings.TrimSpace(macs))
		if !ok || err != nil || len(hw) != 6 {
			return nil, fmt.Errorf("--dhcp-reservations %q: want mac=ip", f)
		}
		ip, err := parseIPv4("--dhcp-reservations", ips)
		if err != nil {
			return nil, err
		}
		out[hw.String()] = ip
	}
	return out, nil
}

// interfaceIPv4 returns the first IPv4 address of the named interface with
// its network.
func interfaceIPv4(name string) (netip.Prefix, error) {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("--dhcp-interface %s: %w", name, err)
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("--dhcp-interface %s: %w", name, err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP.To4()); ok {
				ones, _ := n.Mask.Size()
				return netip.PrefixFrom(ip, ones), nil
			}
		}
	}
	return netip.Prefix{}, fmt.Errorf("--dhcp-interface %s has no IPv4 address", name)
}

// advertiseAddr is the address machines reach bootd at: --advertise, else
// the DHCP interface's address, else the HTTP listener's own address.
func advertiseAddr(c serveConfig, ifAddr netip.Prefix, httpAddr net.Addr) (netip.Addr, error) {
	if c.Advertise != "" {
		return parseIPv4("--advertise", c.Advertise)
	}
	if ifAddr.IsValid() {
		return ifAddr.Addr(), nil
	}
	if ta, ok := httpAddr.(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP.To4()); ok && !a.IsUnspecified() {
			return a, nil
		}
	}
	return netip.Addr{}, errors.New("cannot tell which address machines reach bootd at: set --advertise")
}
