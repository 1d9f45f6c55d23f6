package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// adminListenAddr is where the admin listener listens: admin_listen, else
// loopback port 9443 (an ephemeral loopback port when http_listen's port
// is 0, as in tests that run several daemons).
func adminListenAddr(c serveConfig) string {
	if c.AdminListen != "" {
		return c.AdminListen
	}
	if _, port, err := net.SplitHostPort(c.HTTPListen); err == nil && port == "0" {
		return "127.0.0.1:0"
	}
	return "127.0.0.1:9443"
}

// adminTLS reports whether the admin listener speaks TLS.
func (c serveConfig) adminTLS() bool { return !strings.EqualFold(c.AdminTLS, "off") }

// trustedProxies parses trusted_proxies.
func (c serveConfig) trustedProxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(c.TrustedProxies, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("--trusted-proxies: %q is not an address or a CIDR prefix", s)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxies: %q is not an address or a CIDR prefix", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// sessionTTL is the dashboard login's lifetime.
func (c serveConfig) sessionTTL() time.Duration {
	d, _ := time.ParseDuration(c.SessionTTL)
	return d
}

func (c serveConfig) validateAdmin() error {
	switch strings.ToLower(c.AdminTLS) {
	case "on", "off":
	default:
		return fmt.Errorf("--admin-tls %q: want on or off", c.AdminTLS)
	}
	if (c.AdminTLSCert == "") != (c.AdminTLSKey == "") {
		return errors.New("--admin-tls-cert and --admin-tls-key go together")
	}
	addr := adminListenAddr(c)
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--admin-listen %q: want host:port", addr)
	}
	if !c.adminTLS() {
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.IsLoopback() {
			return fmt.Errorf("--admin-tls off needs a loopback --admin-listen (a proxy on this host terminates TLS), not %q", addr)
		}
	}
	if _, port, _ := net.SplitHostPort(addr); port != "0" && addr == c.HTTPListen {
		return fmt.Errorf("--admin-listen and --http-listen are both %s: the admin listener must be apart from the boot listener", addr)
	}
	if _, err := c.trustedProxies(); err != nil {
		return err
	}
	if d, err := time.ParseDuration(c.SessionTTL); err != nil || d < time.Minute || d > 7*24*time.Hour {
		return fmt.Errorf("--session-ttl %q: want a duration between 1m and 168h, such as 2h", c.SessionTTL)
	}
	return nil
}
