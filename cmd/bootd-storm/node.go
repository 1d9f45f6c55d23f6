package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/bootd/bootd/internal/dhcptest"
	"github.com/bootd/bootd/tftp/tftptest"
)

// The stages of one node's boot, in order, as the summary shows them.
const (
	stageDHCPFirmware = "dhcp (firmware)"
	stageTFTP         = "tftp (iPXE binary)"
	stageDHCPIPXE     = "dhcp (iPXE)"
	stageScript       = "script"
	stageKernel       = "kernel"
	stageInitrds      = "initrds"
	stageKey          = "key release"
	stageReports      = "reports"
	stageTotal        = "total"
)

var stageOrder = []string{stageDHCPFirmware, stageTFTP, stageDHCPIPXE, stageScript, stageKernel, stageInitrds, stageKey, stageReports, stageTotal}

// chain is what every node of a run shares: where the servers are and what
// to do.
type chain struct {
	relay *dhcptest.Relay
	// tftpPort is the TFTP server's port on the DHCP answer's next server.
	tftpPort int
	// keys makes nodes do the trust chain's key release and reports.
	keys bool
	// maxWaits bounds the wait-and-retry scripts a node follows.
	maxWaits int
	// save, when not nil, keeps this node's script (without its token)
	// and files, for a peer to serve the same bytes.
	save *saver
}

// result is one node's boot.
type result struct {
	mac    string
	ip     net.IP // the address iPXE was given
	stages map[string]time.Duration
	bytes  int64
	waits  int
	// retries counts the 503s it waited out (iPXE's and bootd-init's).
	retries int
	// fetched lists the sizes of the files it received, in order, for the
	// physical limit's copy.
	fetched []int64
	// failed is the stage that failed, err why; "" and nil for a boot that
	// reached its end.
	failed string
	err    error
}

func (r *result) fail(stage string, err error) *result {
	r.failed, r.err = stage, err
	return r
}

// node runs one simulated machine's boot from power-on to its last report.
func (c *chain) node(ctx context.Context, mac net.HardwareAddr) *result {
	r := &result{mac: mac.String(), stages: map[string]time.Duration{}}
	start := time.Now()
	mark := func(stage string, t0 time.Time) { r.stages[stage] += time.Since(t0) }

	// Firmware: a PXE BIOS client (RFC 4578 options 93, 94, 97; vendor
	// class PXEClient), as QEMU's e1000 ROM sends.
	t0 := time.Now()
	fw := c.dora(ctx, mac, firmwareOptions(mac))
	mark(stageDHCPFirmware, t0)
	if fw.Err != nil {
		return r.fail(stageDHCPFirmware, fw.Err)
	}
	ip := fw.IP
	next, bootfile := nextServer(fw.Ack), bootFile(fw.Ack)
	if bootfile == "" || next == nil {
		return r.fail(stageDHCPFirmware, fmt.Errorf("the answer to the firmware names no boot file or server (file %q, next server %v)", bootfile, next))
	}

	t0 = time.Now()
	tr, err := tftptest.Get(net.JoinHostPort(next.String(), fmt.Sprint(c.tftpPort)), bootfile,
		tftptest.Options{BlockSize: 1456, TSize: true, From: ip, Timeout: 2 * time.Second, Resend: 6, Retransmit: 5})
	mark(stageTFTP, t0)
	if err != nil {
		return r.fail(stageTFTP, fmt.Errorf("%s: %w", bootfile, err))
	}
	r.bytes += int64(len(tr.Data))
	r.fetched = append(r.fetched, int64(len(tr.Data)))
	c.save.file(bootfile, tr.Data)

	// iPXE: DHCP again, as iPXE does (user class "iPXE").
	t0 = time.Now()
	ipxe := c.dora(ctx, mac, ipxeOptions(mac))
	mark(stageDHCPIPXE, t0)
	if ipxe.Err != nil {
		return r.fail(stageDHCPIPXE, ipxe.Err)
	}
	ip = ipxe.IP
	r.ip = ip
	script := bootFile(ipxe.Ack)
	su, err := url.Parse(script)
	if err != nil || (su.Scheme != "http" && su.Scheme != "https") {
		return r.fail(stageDHCPIPXE, fmt.Errorf("iPXE's answer names no script URL: %q", script))
	}

	hc := httpClient(ip, nil)
	defer hc.CloseIdleConnections()

	// The script; a wait-and-retry script is followed as iPXE would.
	t0 = time.Now()
	var sc *ipxeScript
	for {
		body, err := retrying(ctx, 100, 0, 0, &r.retries, func() ([]byte, error) { return get(ctx, hc, su.String()) })
		if err != nil {
			mark(stageScript, t0)
			return r.fail(stageScript, err)
		}
		r.bytes += int64(len(body))
		r.fetched = append(r.fetched, int64(len(body)))
		s, err := parseScript(su, string(body))
		if err != nil {
			mark(stageScript, t0)
			return r.fail(stageScript, err)
		}
		if s.wait == nil {
			sc = s
			break
		}
		r.waits++
		if r.waits > c.maxWaits {
			mark(stageScript, t0)
			return r.fail(stageScript, fmt.Errorf("still told to wait after %d scripts: %s", c.maxWaits, s.message))
		}
		if err := sleep(ctx, s.sleep); err != nil {
			return r.fail(stageScript, err)
		}
		su = s.wait
	}
	mark(stageScript, t0)
	c.save.script(sc)

	t0 = time.Now()
	n, err := retrying(ctx, 100, 0, 0, &r.retries, func() (int64, error) { return c.fetch(ctx, hc, sc.kernel, nil) })
	mark(stageKernel, t0)
	if err != nil {
		return r.fail(stageKernel, err)
	}
	r.bytes += n
	r.fetched = append(r.fetched, n)

	t0 = time.Now()
	var nodeConf []byte
	for _, in := range sc.initrds {
		var keep func([]byte)
		if in.name == "node.cpio" {
			keep = func(b []byte) { nodeConf = append(nodeConf, b...) }
		}
		n, err := retrying(ctx, 100, 0, 0, &r.retries, func() (int64, error) {
			if keep != nil {
				nodeConf = nodeConf[:0]
			}
			return c.fetch(ctx, hc, in.url, keep)
		})
		if err != nil {
			mark(stageInitrds, t0)
			return r.fail(stageInitrds, err)
		}
		r.bytes += n
		r.fetched = append(r.fetched, n)
	}
	mark(stageInitrds, t0)

	if c.keys {
		if err := c.release(ctx, r, ip, sc, nodeConf); err != nil {
			return r
		}
	}
	r.stages[stageTotal] = time.Since(start)
	return r
}
