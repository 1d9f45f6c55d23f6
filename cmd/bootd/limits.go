package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/bootd/bootd/dhcp"
	"github.com/bootd/bootd/tftp"
)

// dhcpWindow is how long after a DHCP exchange an address counts as known
// to the TFTP server's reflection guard: longer than a boot's TFTP stage,
// short enough that an address given up is soon unknown again.
const dhcpWindow = 10 * time.Minute

// dhcpPeersMax bounds the addresses the guard remembers (about 100 bytes
// each); past it the oldest are forgotten first.
const dhcpPeersMax = 65536

// validateLimits checks the TFTP and HTTP limits.
func (c serveConfig) validateLimits() error {
	if c.TFTPUnknown != "" {
		if _, err := tftp.ParseUnknown(c.TFTPUnknown); err != nil {
			return fmt.Errorf("--tftp-unknown %q: want allow, limit or refuse", c.TFTPUnknown)
		}
	}
	for _, f := range []struct{ flag, v string }{
		{"tftp-max-transfers", c.TFTPMaxTransfers}, {"tftp-max-per-client", c.TFTPMaxPerClient},
		{"http-max-downloads", c.HTTPMaxDownloads}, {"http-max-per-client", c.HTTPMaxPerClient},
	} {
		if n, err := strconv.Atoi(f.v); err != nil || n < 1 {
			return fmt.Errorf("--%s %q: want a positive number", f.flag, f.v)
		}
	}
	if d, err := time.ParseDuration(c.TFTPQueueWait); err != nil || d < 0 {
		return fmt.Errorf("--tftp-queue-wait %q: want a duration like 10s (0s: refuse at once)", c.TFTPQueueWait)
	}
	return nil
}

// tftpUnknown is the policy for TFTP requests from addresses bootd's DHCP
// did not see lately: as configured, else refuse when bootd's DHCP answers
// the machines (it sees every legitimate one), and limit when another DHCP
// server does (bootd sees none of them).
func (c serveConfig) tftpUnknown() tftp.Unknown {
	if c.TFTPUnknown != "" {
		u, _ := tftp.ParseUnknown(c.TFTPUnknown)
		return u
	}
	if c.DHCPMode == "off" {
		return tftp.Limit
	}
	return tftp.Refuse
}

// tftpLimits fills cfg's caps and guard; known is the set the DHCP
// recorder feeds.
func (c serveConfig) tftpLimits(cfg tftp.Config, known *tftp.Recent) tftp.Config {
	cfg.MaxTransfers, _ = strconv.Atoi(c.TFTPMaxTransfers)
	cfg.MaxPerClient, _ = strconv.Atoi(c.TFTPMaxPerClient)
	if d, _ := time.ParseDuration(c.TFTPQueueWait); d > 0 {
		cfg.QueueWait = d
	} else {
		cfg.QueueWait = -1 // 0s: no wait at all
	}
	cfg.Unknown, cfg.Known = c.tftpUnknown(), known.Has
	return cfg
}

// httpLimits are the boot listener's caps on downloads.
func (c serveConfig) httpLimits() (total, perClient int) {
	total, _ = strconv.Atoi(c.HTTPMaxDownloads)
	perClient, _ = strconv.Atoi(c.HTTPMaxPerClient)
	return total, perClient
}

// dhcpPeer is the address a DHCP event shows a machine at, which the
// TFTP guard then knows: in full mode the address of an ACK bootd sends,
// in proxy mode the address a network-booting client's REQUEST shows
// (recorder.sawLease binds boots by the same rule). Invalid for others.
func dhcpPeer(mode dhcp.Mode, ev dhcp.Event) netip.Addr {
	var a netip.Addr
	switch {
	case mode == dhcp.ModeFull && ev.Type == "ACK":
		a, _ = netip.AddrFromSlice(ev.YourIP.To4())
	case mode == dhcp.ModeProxy && ev.Type == "REQUEST" && ev.Client.PXE():
		a, _ = netip.AddrFromSlice(ev.ClientIP.To4())
	}
	return a
}
