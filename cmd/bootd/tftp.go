package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/bootfs"
	"github.com/bootd/bootd/tftp"
	"github.com/prometheus/client_golang/prometheus"
)

// newBootFiles builds the boot files served over HTTP (/boot) and TFTP,
// warning when the iPXE folder has none of the binaries DHCP hands out.
func newBootFiles(cfg serveConfig, svc *boot.Service, node net.Addr, fingerprint string, log *slog.Logger) (*bootfs.Files, error) {
	found := false
	for _, name := range []string{"undionly.kpxe", "snponly.efi", "ipxe.efi"} {
		if _, err := os.Stat(filepath.Join(cfg.IPXEDir, name)); err == nil {
			found = true
		}
	}
	if !found {
		log.Warn("no iPXE binaries in ipxe_dir (install Debian's ipxe package, or set --ipxe-dir)", "ipxe_dir", cfg.IPXEDir)
	}
	return bootfs.New(bootfs.Config{Nodes: svc, IPXEDir: cfg.IPXEDir, Logger: log,
		BootURL: bootURL(cfg, log), NodeURL: nodeURL(cfg, node, log), NodeFingerprint: fingerprint, RBD: svc, InitDir: initDir(cfg)})
}

// startTFTP starts the TFTP server on cfg's tftp_listen when it is not
// empty, with cfg's caps and its guard asking known (the addresses bootd's
// DHCP saw lately), and returns a function that stops it.
func startTFTP(cfg serveConfig, known *tftp.Recent, svc *boot.Service, files *bootfs.Files, reg prometheus.Registerer,
	log *slog.Logger, stdout io.Writer) (stop func(), err error) {
	addr := cfg.TFTPListen
	if addr == "" {
		return func() {}, nil
	}
	limits := func(c tftp.Config) tftp.Config { return cfg.tftpLimits(c, known) }
	srv, conn, err := listenTFTP(addr, svc, files, reg, log, limits)
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(conn) }()
	log.Info("tftp serving", "tftp", conn.LocalAddr().String(), "unknown", string(cfg.tftpUnknown()),
		"max_transfers", cfg.TFTPMaxTransfers, "max_per_client", cfg.TFTPMaxPerClient)
	fmt.Fprintf(stdout, "TFTP on %s\n", conn.LocalAddr())
	return func() {
		srv.Shutdown()
		if err := <-done; err != nil {
			log.Error("tftp server", "err", err)
		}
	}, nil
}

// listenTFTP opens the TFTP socket and builds a server that finds files
// with files and records each transfer in the timeline of the node it
// concerns. Each of limits, when given, fills in the server's caps and guard.
func listenTFTP(addr string, svc *boot.Service, files *bootfs.Files, reg prometheus.Registerer,
	log *slog.Logger, limits ...func(tftp.Config) tftp.Config) (*tftp.Server, net.PacketConn, error) {
	d := &tftpDelivery{svc: svc, files: files, log: log}
	tc := tftp.Config{Opener: d, Report: d.report, Logger: log, Registry: reg}
	for _, l := range limits {
		tc = l(tc)
	}
	srv, err := tftp.New(tc)
	if err != nil {
		return nil, nil, err
	}
	conn, err := tftp.Listen(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("tftp listen: %w", err)
	}
	return srv, conn, nil
}

// tftpDelivery ties the TFTP server to the boot files and the timeline.
type tftpDelivery struct {
	svc   *boot.Service
	files *bootfs.Files
	log   *slog.Logger
}

// Open implements tftp.Opener; the owner of a transfer is the MAC of the
// node it concerns and, for GRUB's fetches (a Secure Boot chain, which
// fetches over TFTP what iPXE fetches over HTTP), the timeline stage they
// record: "<mac> <stage>".
func (d *tftpDelivery) Open(ctx context.Context, req tftp.Request) (tftp.File, error) {
	c, node, err := d.files.TFTP(ctx, req.Remote.Addr().AsSlice(), req.Name)
	owner := ""
	if node != nil {
		owner = node.MAC.String()
	}
	if err != nil {
		return tftp.File{Owner: owner}, err
	}
	switch {
	case grubFetch(c):
		owner += " " + string(c.Kind.Stage())
	case c.Kind == bootfs.KindIPXE && node != nil:
		owner += " " + ownerLoader
	}
	return tftp.File{Content: c, Size: c.Size, Close: func() { c.Close() }, Owner: owner}, nil
}

// ownerLoader marks, in a transfer's owner, an iPXE binary a node fetched.
const ownerLoader = "loader"

// grubFetch reports whether a TFTP transfer of c is one of GRUB's in a
// Secure Boot chain, which record the stages iPXE's HTTP fetches do: its
// grub.cfg, the kernel and the initrds. Other TFTP transfers (iPXE
// binaries, a Raspberry Pi's files) record stage tftp.
func grubFetch(c *bootfs.Content) bool {
	switch c.Kind {
	case bootfs.KindConfig, bootfs.KindKernel, bootfs.KindInitrd:
		return c.SecureBoot
	}
	return false
}

// report records a finished transfer in its node's timeline (stage tftp).
// Transfers of machines bootd does not know are only counted and logged.
func (d *tftpDelivery) report(ev tftp.Event) {
	if ev.Outcome == tftp.Started || ev.Owner == "" {
		return
	}
	owner, stage, _ := strings.Cut(ev.Owner, " ")
	mac, err := boot.ParseMAC(owner)
	if err != nil {
		return
	}
	st := boot.StageTFTP
	switch stage {
	case "":
	case ownerLoader:
		if ev.Outcome == tftp.Done && ev.Size > 0 && ev.Bytes >= ev.Size {
			d.svc.LoaderFetched(mac, ev.Request.Name) // Secure Boot may refuse to run it (boot/loaders.go)
		}
	default:
		st = boot.Stage(stage)
	}
	d.svc.RecordFetch(mac, st, ev.Request.Remote.Addr(), tftpFetch(ev))
}

// tftpFetch is a finished transfer as a fetch for the timeline.
func tftpFetch(ev tftp.Event) boot.Fetch {
	f := boot.Fetch{Transport: boot.TFTP, File: ev.Request.Name, Bytes: ev.Bytes,
		Size: max(ev.Size, 0), Duration: ev.Duration} // ev.Size is -1 when no file was opened
	switch ev.Outcome {
	case tftp.Done:
		f.Outcome = boot.FetchDone
	case tftp.NotFound:
		f.Outcome = boot.FetchNotFound
		if errors.Is(ev.Err, bootfs.ErrBadName) {
			f.Outcome = boot.FetchRefused
		}
	case tftp.Aborted:
		f.Outcome = boot.FetchAborted
	default:
		f.Outcome = boot.FetchFailed
		if ev.Err != nil {
			f.Err = ev.Err.Error()
		}
	}
	return f
}

// checkUDPAddr checks a TFTP listen address: empty, or [IPv4]:port.
func checkUDPAddr(addr string) error {
	if addr == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port, like :69 or 198.18.0.1:69")
	}
	if p, err := net.LookupPort("udp", port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("bad port %q", port)
	}
	if host != "" && net.ParseIP(host).To4() == nil {
		return fmt.Errorf("want an IPv4 address or none, not %q", host)
	}
	return nil
}
