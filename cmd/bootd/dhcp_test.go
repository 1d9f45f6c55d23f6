package main

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/store"
	"github.com/bootd/bootd/bootfs"
	"github.com/bootd/bootd/dhcp"
	"github.com/bootd/bootd/images"
	"github.com/bootd/bootd/internal/dhcptest"
)

func TestDHCPConfigValidate(t *testing.T) {
	t.Parallel()
	full := []string{"--dhcp-mode", "full", "--dhcp-interface", "lo", "--dhcp-pool-start", "198.18.0.100", "--dhcp-pool-end", "198.18.0.199"}
	for _, tc := range []struct {
		args []string
		want string // "" for valid
	}{
		{[]string{"--dhcp-mode", "proxy", "--dhcp-interface", "eth0"}, ""},
		{full, ""},
		{append(full, "--dhcp-netmask", "255.255.255.0", "--dhcp-router", "198.18.0.1", "--dhcp-dns", "198.18.0.1, 198.18.0.2",
			"--dhcp-reservations", "52:54:00:12:34:56=198.18.0.10,aa-bb-cc-dd-ee-ff=198.18.0.11", "--dhcp-lease-time", "12h"), ""},
		{[]string{"--dhcp-mode", "proxy"}, "needs --dhcp-interface"},
		{[]string{"--dhcp-mode", "full", "--dhcp-interface", "lo"}, "needs --dhcp-pool-start"},
		{[]string{"--dhcp-mode", "proxy", "--dhcp-interface", "lo", "--dhcp-unknown", "maybe"}, `--dhcp-unknown "maybe"`},
		{[]string{"--dhcp-mode", "proxy", "--dhcp-interface", "lo", "--dhcp-port", "99999"}, "--dhcp-port"},
		{[]string{"--dhcp-mode", "proxy", "--dhcp-interface", "lo", "--dhcp-efi-binary", "../x"}, "--dhcp-efi-binary"},
		{[]string{"--advertise", "example.org"}, "--advertise"},
		{append(full, "--dhcp-lease-time", "5s"), "--dhcp-lease-time"},
		{append(full, "--dhcp-netmask", "255.0.255.0"), "not a contiguous mask"},
		{append(full, "--dhcp-reservations", "52:54:00:12:34:56"), "want mac=ip"},
		{append(full, "--dhcp-dns", "one.one.one.one"), "--dhcp-dns"},
		{[]string{"--dhcp-mode", "full", "--dhcp-interface", "lo", "--dhcp-pool-start", "198.18.0.199", "--dhcp-pool-end", "198.18.0.100"}, "is after"},
		{append(full, "--dhcp-clients", "known", "--dhcp-allow-oui", "52:54:00, b8-27-eb", "--dhcp-max-offers", "20",
			"--dhcp-max-unknown-leases", "10", "--dhcp-max-declined", "5", "--dhcp-decline-hold", "2m"), ""},
		{[]string{"--dhcp-mode", "proxy", "--dhcp-interface", "lo", "--dhcp-clients", "some"}, `--dhcp-clients "some"`},
		{[]string{"--dhcp-mode", "proxy", "--dhcp-interface", "lo", "--dhcp-allow-oui", "52:54"}, "--dhcp-allow-oui"},
		{append(full, "--dhcp-max-offers", "0"), "--dhcp-max-offers"},
		{append(full, "--dhcp-max-unknown-leases", "many"), "--dhcp-max-unknown-leases"},
		{append(full, "--dhcp-decline-hold", "48h"), "--dhcp-decline-hold"},
	} {
		_, err := loadServeConfig(tc.args, func(string) string { return "" })
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("loadServeConfig(%q) = %v, want valid", tc.args, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("loadServeConfig(%q) = %v, want an error mentioning %q", tc.args, err, tc.want)
		}
	}
}

// countingStore counts the writes the DHCP glue causes.
type countingStore struct {
	*store.DB
	updates, appends atomic.Int64
}

func (s *countingStore) Update(ctx context.Context, mac boot.MAC, fn func(*boot.Node) (*boot.Node, error)) (*boot.Node, error) {
	s.updates.Add(1)
	return s.DB.Update(ctx, mac, fn)
}

func (s *countingStore) AppendEvent(ctx context.Context, mac boot.MAC, ev boot.Event, p boot.TimelinePolicy) (boot.Event, error) {
	s.appends.Add(1)
	return s.DB.AppendEvent(ctx, mac, ev, p)
}

func newTestService(t *testing.T, path string) (*boot.Service, *countingStore) {
	t.Helper()
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cat, err := images.Example()
	if err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{DB: db}
	svc, err := boot.NewService(boot.Config{Store: cs, Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	return svc, cs
}

func TestDecider(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, _ := newTestService(t, filepath.Join(t.TempDir(), "bootd.db"))
	on, off, unknown := mustParseMAC(t, "52:54:00:00:00:01"), mustParseMAC(t, "52:54:00:00:00:02"), mustParseMAC(t, "52:54:00:00:00:03")
	for _, m := range []boot.MAC{on, off} {
		if _, err := svc.Enroll(ctx, boot.EnrollRequest{MAC: m, Image: "debian-12"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.SetNetboot(ctx, off, false); err != nil {
		t.Fatal(err)
	}
	base := "http://198.18.0.1:8080"
	for _, tc := range []struct {
		mac         boot.MAC
		bootUnknown bool
		want        dhcp.Answer
	}{
		{on, false, dhcp.Answer{Boot: true, Script: base + "/boot/52-54-00-00-00-01/boot.ipxe", Hostname: "node-525400000001", Known: true}},
		{off, false, dhcp.Answer{Boot: false, Script: base + "/boot/52-54-00-00-00-02/boot.ipxe", Hostname: "node-525400000002", Known: true}},
		{unknown, false, dhcp.Answer{Boot: false, Script: base + "/boot/52-54-00-00-00-03/boot.ipxe"}},
		{unknown, true, dhcp.Answer{Boot: true, Script: base + "/boot/52-54-00-00-00-03/boot.ipxe"}},
	} {
		d := decider{svc: svc, urls: bootfs.NewLayout(base), bootUnknown: tc.bootUnknown}
		got, err := d.Decide(ctx, dhcp.Client{MAC: net.HardwareAddr(tc.mac), Class: dhcp.ClassUEFI64})
		if err != nil || got != tc.want {
			t.Errorf("Decide(%v, bootUnknown=%v) = %+v, %v; want %+v", tc.mac, tc.bootUnknown, got, err, tc.want)
		}
	}
}

func mustParseMAC(t *testing.T, s string) boot.MAC {
	m, err := boot.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRecorderThrottle: a storm of packets from one machine becomes one
// sighting and one timeline event per message kind, not a write per packet.
func TestRecorderThrottle(t *testing.T) {
	t.Parallel()
	svc, cs := newTestService(t, filepath.Join(t.TempDir(), "bootd.db"))
	rec := newRecorder(svc, dhcp.ModeFull, slog.New(slog.DiscardHandler))
	mac := mustParseMAC(t, "52:54:00:00:00:07")
	pxe := dhcp.Client{MAC: net.HardwareAddr(mac), Class: dhcp.ClassUEFI64, VendorClass: "PXEClient:Arch:00007:UNDI:003000"}
	plain := dhcp.Client{MAC: net.HardwareAddr(mustParseMAC(t, "52:54:00:00:00:08"))}
	t0 := time.Now()
	for i := range 200 {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		rec.report(dhcp.Event{Type: "DISCOVER", Client: pxe, Time: at})
		rec.report(dhcp.Event{Type: "OFFER", Client: pxe, BootFile: "snponly.efi", YourIP: net.IPv4(198, 18, 0, 100), Time: at})
		rec.report(dhcp.Event{Type: "DISCOVER", Client: plain, Time: at})
		rec.report(dhcp.Event{Type: "OFFER", Client: plain, YourIP: net.IPv4(198, 18, 0, 101), Time: at})
	}
	rec.report(dhcp.Event{Type: "OFFER", Client: pxe, BootFile: "snponly.efi", Time: t0.Add(recordEvery + time.Second)})
	rec.close()
	if n := cs.updates.Load(); n != 1 {
		t.Errorf("node writes = %d, want 1", n)
	}
	if n := cs.appends.Load(); n != 2 {
		t.Errorf("timeline writes = %d, want 2", n)
	}
	ctx := context.Background()
	n, err := svc.Node(ctx, mac)
	if err != nil || n.State != boot.StateDiscovered || n.Arch != "x64-uefi" || n.VendorClass != pxe.VendorClass {
		t.Errorf("Node(%v) = %+v, %v; want discovered x64-uefi", mac, n, err)
	}
	if _, err := svc.Node(ctx, mustParseMAC(t, "52:54:00:00:00:08")); err == nil {
		t.Error("a client that is not network-booting was recorded as discovered")
	}
	boots, err := svc.Timeline(ctx, mac)
	if err != nil || len(boots) != 1 || len(boots[0].Events) != 2 || boots[0].Events[0].Stage != boot.StageDHCP ||
		boots[0].Events[0].Detail != "offer x64-uefi snponly.efi" || boots[0].Events[0].Source != "198.18.0.100" {
		t.Errorf("Timeline = %+v, %v; want one boot with two dhcp events", boots, err)
	}
}

// TestFullModeClientsAcrossRestart: 10,000 simulated clients behind a relay
// get addresses from a full-mode server wired as bootd serve wires it, on
// the bbolt store; after a restart 10,000 more join and the first ones ask
// again. No address goes to two MACs, every first client keeps its
// address, and the store holds every lease.
func TestFullModeClientsAcrossRestart(t *testing.T) {
	t.Parallel()
	const n = 10000
	path := filepath.Join(t.TempDir(), "bootd.db")
	cfg := defaultServeConfig()
	cfg.DHCPMode, cfg.DHCPInterface, cfg.Advertise = "full", "lo", "127.0.0.1"
	cfg.DHCPPoolStart, cfg.DHCPPoolEnd = "127.64.0.1", "127.64.255.254"
	// None of the 20,000 clients is enrolled: past the default limit (a
	// quarter of the pool) they would get no lease, which is not what this
	// test is about (TestRandomMACFlood in dhcp is).
	cfg.DHCPMaxUnknownLeases = "65534"
	run := func(macs []net.HardwareAddr) []dhcptest.Result {
		db, err := store.Open(path, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		cat, _ := images.Example()
		svc, _ := boot.NewService(boot.Config{Store: db, Catalog: cat})
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		relay, err := dhcptest.NewRelay(conn.LocalAddr().(*net.UDPAddr))
		if err != nil {
			t.Fatal(err)
		}
		defer relay.Close()
		dc, err := dhcpConfig(cfg, svc, db, nil, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		rec := newRecorder(svc, dc.Mode, slog.New(slog.DiscardHandler))
		defer rec.close()
		dc.Report = rec.report
		dc.RelayPort = relay.Port()
		srv, err := dhcp.New(dc)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ctx, conn, nil) }()
		res := relay.DORA(ctx, macs, 256)
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v", err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("client %v: %v", r.MAC, r.Err)
			}
		}
		return res
	}
	var first, second []net.HardwareAddr
	for i := range n {
		first = append(first, dhcptest.MAC(1, i))
		second = append(second, dhcptest.MAC(2, i))
	}
	r1 := run(first)
	r2 := run(append(append([]net.HardwareAddr(nil), first...), second...))
	if err := dhcptest.CheckUnique(r1, r2); err != nil {
		t.Error(err)
	}
	for i := range r1 {
		if !r1[i].IP.Equal(r2[i].IP) {
			t.Fatalf("client %v had %v, got %v after the restart", r1[i].MAC, r1[i].IP, r2[i].IP)
		}
	}
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stored := map[netip.Addr]string{}
	db.Leases(context.Background(), func(ip netip.Addr, mac net.HardwareAddr, _ time.Time) error {
		stored[ip] = mac.String()
		return nil
	})
	if len(stored) != 2*n {
		t.Errorf("stored leases = %d, want %d", len(stored), 2*n)
	}
	for _, r := range r2 {
		if ip, _ := netip.AddrFromSlice(r.IP.To4()); stored[ip] != r.MAC.String() {
			t.Fatalf("stored lease of %v = %q, want %v", ip, stored[ip], r.MAC)
		}
	}
}

// TestRecorderBindsBoots: what the DHCP server reports binds a boot to an
// address: full mode's ACK (not an OFFER), proxy mode's PXE REQUEST (not an
// operating system's).
func TestRecorderBindsBoots(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, mode := range []dhcp.Mode{dhcp.ModeFull, dhcp.ModeProxy} {
		svc, _ := newTestService(t, filepath.Join(t.TempDir(), "bootd.db"))
		mac := mustParseMAC(t, "52:54:00:00:00:09")
		if _, err := svc.Enroll(ctx, boot.EnrollRequest{MAC: mac, Image: "debian-12"}); err != nil {
			t.Fatal(err)
		}
		rec := newRecorder(svc, mode, slog.New(slog.DiscardHandler))
		pxe := dhcp.Client{MAC: net.HardwareAddr(mac), Class: dhcp.ClassBIOS, IPXE: true}
		plain := dhcp.Client{MAC: net.HardwareAddr(mac)}
		addr, other := net.IPv4(198, 18, 0, 100), net.IPv4(198, 18, 0, 101)
		bound := func(ip net.IP) bool {
			a, _ := netip.AddrFromSlice(ip.To4())
			_, err := svc.IssueBootToken(mac, a)
			return err == nil
		}
		now := time.Now()
		// Not binding: an offer, and a non-PXE client's request.
		rec.report(dhcp.Event{Type: "OFFER", Client: pxe, YourIP: addr, Time: now})
		rec.report(dhcp.Event{Type: "REQUEST", Client: plain, ClientIP: addr, Time: now})
		if bound(addr) {
			t.Errorf("%s: an offer or an OS's request bound the boot", mode)
		}
		if mode == dhcp.ModeFull {
			rec.report(dhcp.Event{Type: "REQUEST", Client: pxe, ClientIP: other, Time: now}) // a claim, not a lease
			rec.report(dhcp.Event{Type: "ACK", Client: pxe, YourIP: addr, BootFile: "undionly.kpxe", Time: now})
		} else {
			rec.report(dhcp.Event{Type: "REQUEST", Client: pxe, ClientIP: addr, Time: now})
			rec.report(dhcp.Event{Type: "ACK", Client: pxe, BootFile: "undionly.kpxe", Proxy: true, Time: now})
		}
		// What a client asks for (option 50) is a claim: it binds nothing
		// and is not recorded as the machine's address.
		rec.report(dhcp.Event{Type: "REQUEST", Client: pxe, Requested: other, Time: now.Add(time.Minute)})
		rec.close()
		if n, err := svc.Node(ctx, mac); err != nil || n.Addr == other.String() {
			t.Errorf("%s: node = %+v, %v; want its address not taken from option 50", mode, n, err)
		}
		if !bound(addr) || bound(other) {
			t.Errorf("%s: bound(%s) = %v, bound(%s) = %v; want the leased address only", mode, addr, bound(addr), other, bound(other))
		}
	}
	// Proxy mode, a BIOS PXE REQUEST from 0.0.0.0 showing only option 50:
	// that claim binds the boot (the weakest binding, docs/security.md),
	// and is still not the machine's recorded address.
	svc, _ := newTestService(t, filepath.Join(t.TempDir(), "bootd.db"))
	mac := mustParseMAC(t, "52:54:00:00:00:0a")
	if _, err := svc.Enroll(ctx, boot.EnrollRequest{MAC: mac, Image: "debian-12"}); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(svc, dhcp.ModeProxy, slog.New(slog.DiscardHandler))
	claim := net.IPv4(198, 18, 0, 102)
	rec.report(dhcp.Event{Type: "REQUEST", Client: dhcp.Client{MAC: net.HardwareAddr(mac), Class: dhcp.ClassBIOS},
		Requested: claim, Time: time.Now()})
	rec.close()
	if _, err := svc.IssueBootToken(mac, netip.MustParseAddr("198.18.0.102")); err != nil {
		t.Errorf("proxy, BIOS PXE with option 50 only: %v, want its boot bound to the claim", err)
	}
	if n, err := svc.Node(ctx, mac); err != nil || n.Addr == claim.String() {
		t.Errorf("proxy, BIOS PXE: node = %+v, %v; want its address not taken from option 50", n, err)
	}
}
