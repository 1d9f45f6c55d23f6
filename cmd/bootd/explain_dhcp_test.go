package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/bootfs"
	"github.com/bootd/bootd/dhcp"
	"github.com/bootd/bootd/internal/dhcptest"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// TestExplainDHCPMatchesServer guards bootd explain against the DHCP
// server as bootd serve wires them (dhcpConfig, dhcpExplainer): for each
// firmware of the shared fixtures, in proxy and full mode, with netboot on
// and off, the real server answers the fixture's DISCOVER on loopback (as
// if relayed), and explain's line for that class must name what was sent.
// Package dhcp's TestExplainMatchesServer checks the policy field by field.
func TestExplainDHCPMatchesServer(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"proxy", "full"} {
		for _, netboot := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/netboot=%v", mode, netboot), func(t *testing.T) {
				t.Parallel()
				checkExplainDHCP(t, mode, netboot)
			})
		}
	}
}

func checkExplainDHCP(t *testing.T, mode string, netboot bool) {
	ctx := context.Background()
	svc, leases := newTestService(t, filepath.Join(t.TempDir(), "bootd.db"))
	enrolled := map[string]bool{}
	for _, f := range dhcptest.Fixtures {
		mac := boot.MAC(f.Packet(dhcpv4.MessageTypeDiscover).ClientHWAddr)
		if enrolled[mac.String()] {
			continue
		}
		enrolled[mac.String()] = true
		if _, err := svc.Enroll(ctx, boot.EnrollRequest{MAC: mac, Image: "debian-12"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SetNetboot(ctx, mac, netboot); err != nil {
			t.Fatal(err)
		}
	}
	cfg := defaultServeConfig()
	cfg.DHCPMode, cfg.DHCPInterface, cfg.Advertise = mode, "lo", "127.0.0.1"
	cfg.DHCPPoolStart, cfg.DHCPPoolEnd = "127.64.0.1", "127.64.255.254"
	dc, err := dhcpConfig(cfg, svc, leases, nil, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	explain := dhcpExplainer(dc)
	client, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	dc.RelayPort = client.LocalAddr().(*net.UDPAddr).Port
	srv, err := dhcp.New(dc)
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, conn, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v", err)
		}
	}()
	for _, f := range dhcptest.Fixtures {
		if f.Class == "none" {
			continue // not network-booting: explain has no line for it
		}
		p := f.Packet(dhcpv4.MessageTypeDiscover)
		p.GatewayIPAddr = net.IPv4(127, 0, 0, 1) // relayed: the reply comes back to client
		got := relayExchange(t, client, conn.LocalAddr().(*net.UDPAddr), p)
		as, err := explain(ctx, boot.MAC(p.ClientHWAddr))
		if err != nil {
			t.Fatalf("explain(%s) = %v", f.Name, err)
		}
		line, ok := explainLine(as, f.Class)
		if !ok {
			t.Errorf("%s: explain has no line for %s: %+v", f.Name, f.Class, as)
			continue
		}
		var want string
		switch {
		case got == nil || got.BootFileName == "" && got.Options.Get(dhcpv4.OptionVendorSpecificInformation) == nil:
			want = "no boot information"
		case got.BootFileName == "":
			want = "Raspberry Pi options"
		case strings.HasPrefix(got.BootFileName, "http://"):
			want = "URL " + got.BootFileName
		default:
			want = "TFTP boot file " + got.BootFileName
		}
		if !strings.Contains(line, want) {
			t.Errorf("%s (%s): the server sent %q, explain says %q", f.Name, f.Class, want, line)
		}
	}
}

// relayExchange sends p to the server as a relay would and returns the
// reply, or nil when none comes soon.
func relayExchange(t *testing.T, c *net.UDPConn, to *net.UDPAddr, p *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	t.Helper()
	if _, err := c.WriteToUDP(p.ToBytes(), to); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	c.SetReadDeadline(time.Now().Add(time.Second))
	for {
		n, _, err := c.ReadFromUDP(buf)
		if err != nil {
			return nil
		}
		if r, err := dhcpv4.FromBytes(buf[:n]); err == nil && r.TransactionID == p.TransactionID {
			return r
		}
	}
}

// explainLine is explain's answer for class, or its answer for all.
func explainLine(as []bootfs.DHCPAnswer, class string) (string, bool) {
	for _, a := range as {
		if a.Class == class || a.Class == "all" {
			return a.Answer, true
		}
	}
	return "", false
}
