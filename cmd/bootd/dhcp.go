package main

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/store"
	"github.com/bootd/bootd/bootfs"
	"github.com/bootd/bootd/dhcp"
	"github.com/bootd/bootd/tftp"
	"github.com/prometheus/client_golang/prometheus"
)

// The bbolt store keeps full mode's leases.
var _ dhcp.LeaseStore = (*store.DB)(nil)

// startDHCP starts the DHCP server dc describes. It returns a channel
// that receives the server's error if it stops on its own (nil when DHCP is
// off), and a function that stops it and waits for it, to be called before
// the store closes. Bind errors are returned at once.
func startDHCP(ctx context.Context, dc dhcp.Config, svc *boot.Service, peers *tftp.Recent, log *slog.Logger) (<-chan error, func(), error) {
	if dc.Mode != dhcp.ModeProxy && dc.Mode != dhcp.ModeFull {
		return nil, func() {}, nil
	}
	rec := newRecorder(svc, dc.Mode, log)
	rec.peers = peers
	dc.Report = rec.report
	srv, err := dhcp.New(dc)
	if err != nil {
		rec.close()
		return nil, nil, err
	}
	conn, pxe, err := srv.Listen()
	if err != nil {
		rec.close()
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	errc, done := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ctx, conn, pxe); err != nil {
			errc <- fmt.Errorf("dhcp server: %w", err)
		}
	}()
	stop := func() {
		cancel()
		<-done
		rec.close()
	}
	return errc, stop, nil
}

// dhcpConfig builds the dhcp package's configuration from bootd's, all but
// the Report hook (startDHCP's recorder). With --dhcp-mode off it has no
// Mode, and only what explain asks of it: the decider and the policy's
// settings, with the script URL on the advertised address when known.
func dhcpConfig(cfg serveConfig, svc *boot.Service, leases dhcp.LeaseStore, reg prometheus.Registerer,
	httpAddr net.Addr, log *slog.Logger) (dhcp.Config, error) {
	var ifNet netip.Prefix
	var err error
	if cfg.DHCPMode != "off" {
		if ifNet, err = interfaceIPv4(cfg.DHCPInterface); err != nil {
			return dhcp.Config{}, err
		}
	}
	adv, err := advertiseAddr(cfg, ifNet, httpAddr)
	if err != nil && cfg.DHCPMode != "off" {
		return dhcp.Config{}, err
	}
	httpPort := 80
	if ta, ok := httpAddr.(*net.TCPAddr); ok {
		httpPort = ta.Port
		if ta.IP.IsLoopback() && adv.IsValid() && !adv.IsLoopback() && cfg.DHCPMode != "off" {
			log.Warn("machines are told to fetch boot files from the advertised address, but HTTP listens on loopback only",
				"advertise", adv.String(), "http_listen", ta.String())
		}
	}
	base := ""
	if adv.IsValid() {
		base = "http://" + net.JoinHostPort(adv.String(), strconv.Itoa(httpPort))
	}
	port, _ := strconv.Atoi(cfg.DHCPPort)
	adm, err := cfg.dhcpAdmission()
	if err != nil {
		return dhcp.Config{}, err
	}
	dc := dhcp.Config{
		Clients: adm.clients, AllowOUI: adm.ouis, Window: &dhcp.Window{},
		ServerIP: adv, Interface: cfg.DHCPInterface, Port: port,
		Files:    dhcp.Files{BIOS: "undionly.kpxe", UEFI64: cfg.DHCPEFIBinary, ARM64: cfg.DHCPARM64Binary},
		HTTPBoot: bootfs.NewLayout(base).IPXEFolder(),
		Leases:   leases,
		Decider:  decider{svc: svc, urls: bootfs.NewLayout(base), bootUnknown: cfg.DHCPUnknown == "boot"},
		Logger:   log, Registerer: reg,
	}
	if cfg.DHCPMode == "off" {
		return dc, nil
	}
	dc.Mode = dhcp.Mode(cfg.DHCPMode)
	if dc.Mode == dhcp.ModeFull {
		if dc.Pool, err = cfg.dhcpPool(ifNet.Masked()); err != nil {
			return dhcp.Config{}, err
		}
	}
	log.Info("dhcp configured", "mode", cfg.DHCPMode, "interface", cfg.DHCPInterface, "advertise", adv.String(),
		"unknown", cfg.DHCPUnknown, "clients", cfg.DHCPClients, "pool", poolString(dc.Pool))
	return dc, nil
}

// dhcpExplainer answers bootd explain's DHCP part with the server's own
// decider and policy (dhcp.Policy.Explain), so that it cannot disagree
// with what the server sends.
func dhcpExplainer(dc dhcp.Config) bootfs.DHCPExplainer {
	pol := dc.Policy()
	return func(ctx context.Context, mac boot.MAC) ([]bootfs.DHCPAnswer, error) {
		a, err := dc.Decider.Decide(ctx, dhcp.Client{MAC: net.HardwareAddr(mac), Arch: -1})
		if err != nil {
			return nil, err
		}
		var out []bootfs.DHCPAnswer
		for _, ca := range pol.Explain(a) {
			out = append(out, bootfs.DHCPAnswer{Class: ca.Class, Answer: ca.Text})
		}
		return out, nil
	}
}

func poolString(p dhcp.Pool) string {
	if !p.Start.IsValid() {
		return ""
	}
	return p.Start.String() + "-" + p.End.String() + " in " + p.Subnet.String()
}

// decider answers the DHCP server from boot's plans: an enrolled node boots
// when its netboot is on; an unknown machine boots the "not enrolled"
// script only if configured so.
type decider struct {
	svc         *boot.Service
	urls        bootfs.Layout // the script's URL (served for unknown MACs too)
	bootUnknown bool
}

func (d decider) Decide(ctx context.Context, c dhcp.Client) (dhcp.Answer, error) {
	mac, err := boot.FromHardwareAddr(c.MAC)
	if err != nil {
		return dhcp.Answer{}, nil
	}
	a := dhcp.Answer{Script: d.urls.Script(mac)}
	plan, err := d.svc.Resolve(ctx, mac)
	switch {
	case errors.Is(err, boot.ErrUnknown):
		a.Boot = d.bootUnknown
		return a, nil
	case err != nil:
		return dhcp.Answer{}, err
	}
	a.Boot, a.Hostname, a.Known = plan.Netboot, plan.Node.Hostname, true
	if plan.Image != nil && plan.Image.SecureBoot != nil {
		// A signed chain for x64 UEFI: shim, GRUB, the kernel (bootfs/secureboot.go).
		a.SecureBoot = dhcp.Loader{TFTP: bootfs.TFTPName(bootfs.MACName(mac), bootfs.ShimFile),
			HTTP: d.urls.File(mac, bootfs.ShimFile)}
	}
	return a, nil
}

// Throttles for the store writes DHCP causes: a boot storm of retries must
// not turn into a write per packet.
const (
	sightingEvery = time.Minute      // last-seen refresh per MAC
	recordEvery   = 5 * time.Second  // timeline event per MAC and message
	recordQueue   = 256              // events waiting for the store, per writer
	recordWorkers = 16               // concurrent writers (bbolt batches them)
	forgetAfter   = 10 * time.Minute // throttle entries kept
)

// recorder turns DHCP events into Discover (an unknown network-booting
// machine is recorded; a known one's last-seen refreshed) and Record (a
// "dhcp" timeline event per OFFER or ACK that carried boot information),
// off the packet path and throttled per MAC. Each MAC's events go to one
// writer, so they are stored in the order they happened.
type recorder struct {
	svc     *boot.Service
	mode    dhcp.Mode
	log     *slog.Logger
	peers   *tftp.Recent // addresses the TFTP guard knows (limits.go); nil for none
	queues  [recordWorkers]chan dhcp.Event
	wg      sync.WaitGroup
	mu      sync.Mutex
	last    map[string]time.Time
	swept   time.Time
	dropped atomic.Int64
	warned  atomic.Int64
}

func newRecorder(svc *boot.Service, mode dhcp.Mode, log *slog.Logger) *recorder {
	r := &recorder{svc: svc, mode: mode, log: log, last: map[string]time.Time{}}
	for i := range r.queues {
		q := make(chan dhcp.Event, recordQueue)
		r.queues[i] = q
		r.wg.Go(func() {
			for ev := range q {
				r.write(ev)
			}
		})
	}
	return r
}

// report is the dhcp server's Report hook. It tells the Service at once
// which address each machine took (the trust chain binds the boot to it;
// with store: rados that is one session write, before the reply leaves),
// then queues the timeline's writes, never waiting for them.
func (r *recorder) report(ev dhcp.Event) {
	r.peers.Add(dhcpPeer(r.mode, ev))
	r.sawLease(ev)
	if ev.Type == "DISCOVER" && ev.Client.PXE() {
		if mac, err := boot.FromHardwareAddr(ev.Client.MAC); err == nil {
			// A firmware asking again soon after it fetched iPXE did not run it.
			r.svc.FirmwareAsked(context.Background(), mac, ev.Client.IPXE)
		}
	}
	if !r.wanted(ev) {
		return
	}
	h := fnv.New32a()
	h.Write(ev.Client.MAC)
	select {
	case r.queues[h.Sum32()%recordWorkers] <- ev:
	default:
		n := r.dropped.Add(1)
		if now := time.Now().Unix(); now-r.warned.Load() >= 60 {
			r.warned.Store(now)
			r.log.Warn("dhcp events not recorded: the store is behind", "dropped_total", n)
		}
	}
}

// sawLease passes on what binds a boot to an address: in full mode the
// address of each ACK bootd sends; in proxy mode the address a
// network-booting client's REQUEST showed (its ciaddr, or the packet's
// source), since bootd leases nothing there. A BIOS PXE REQUEST shows
// neither (it comes from 0.0.0.0 before the site's server has answered):
// only then the address it asks the site's server for (option 50) binds
// the boot, the weakest binding, which docs/security.md names. It is never
// a machine's recorded address (Event.ClientIP stays the seen one).
func (r *recorder) sawLease(ev dhcp.Event) {
	var ip net.IP
	proxy := r.mode == dhcp.ModeProxy
	switch {
	case !proxy && ev.Type == "ACK":
		ip = ev.YourIP
	case proxy && ev.Type == "REQUEST" && ev.Client.PXE():
		ip = ev.ClientIP
		if ip == nil || ip.IsUnspecified() {
			ip = ev.Requested
		}
	default:
		return
	}
	a, ok := netip.AddrFromSlice(ip.To4())
	mac, err := boot.FromHardwareAddr(ev.Client.MAC)
	if !ok || err != nil {
		return
	}
	r.svc.SawLease(mac, a, ev.Client.PXE(), proxy)
}

// wanted decides, under the throttle, whether ev needs a store write.
func (r *recorder) wanted(ev dhcp.Event) bool {
	var key string
	var every time.Duration
	switch ev.Type {
	case "DISCOVER", "REQUEST":
		if !ev.Client.PXE() {
			return false // an operating system's DHCP client: not a boot
		}
		key, every = ev.Client.MAC.String(), sightingEvery
	case "OFFER", "ACK":
		if ev.BootFile == "" {
			return false
		}
		key, every = ev.Client.MAC.String()+"/"+ev.Type+"/"+ev.Client.Label(), recordEvery
	default:
		return false
	}
	now := ev.Time
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.swept) > forgetAfter {
		for k, t := range r.last {
			if now.Sub(t) > forgetAfter {
				delete(r.last, k)
			}
		}
		r.swept = now
	}
	if t, ok := r.last[key]; ok && now.Sub(t) < every {
		return false
	}
	r.last[key] = now
	return true
}

func (r *recorder) write(ev dhcp.Event) {
	mac, err := boot.FromHardwareAddr(ev.Client.MAC)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if ev.Type == "DISCOVER" || ev.Type == "REQUEST" {
		_, err = r.svc.Discover(ctx, boot.Sighting{MAC: mac, Arch: string(ev.Client.Class),
			VendorClass: ev.Client.VendorClass, Addr: ev.ClientIP})
	} else {
		detail := strings.ToLower(ev.Type) + " " + ev.Client.Label() + " " + ev.BootFile
		source := ""
		if a, ok := netip.AddrFromSlice(ev.YourIP.To4()); ok && !a.IsUnspecified() {
			source = a.String()
		}
		_, err = r.svc.Record(ctx, mac, boot.Event{Stage: boot.StageDHCP, Time: ev.Time, Source: source, Detail: detail})
	}
	if err != nil {
		r.log.Warn("dhcp event not recorded", "mac", mac.String(), "type", ev.Type, "err", err)
	}
}

// close waits for the queued events to be written.
func (r *recorder) close() {
	for _, q := range r.queues {
		close(q)
	}
	r.wg.Wait()
}
