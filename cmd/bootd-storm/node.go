package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bootd/bootd/images"
	"github.com/bootd/bootd/internal/dhcptest"
	"github.com/bootd/bootd/tftp/tftptest"
	"github.com/insomniacslk/dhcp/dhcpv4"
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
		body, err := retrying(ctx, 100, 0, 0, &r.retries, func() ([]byte, error) { return get(ctx, hc, su.String(), nil) })
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

// dora runs a DHCP exchange as a client does: each packet sent again when
// no answer comes (after 4 s, doubling, as RFC 2131 section 4.1 asks and
// PXE ROMs do), and the whole exchange started again after a DHCPNAK
// (section 3.1, step 5), a few times.
func (c *chain) dora(ctx context.Context, mac net.HardwareAddr, opts func(*dhcpv4.DHCPv4)) dhcptest.Result {
	var res dhcptest.Result
	for try := 0; try < 8; try++ {
		res = c.relay.One(ctx, mac, dhcptest.Opts{Tries: 5, Wait: 4 * time.Second, MaxWait: 64 * time.Second, Options: opts})
		if !errors.Is(res.Err, dhcptest.ErrNak) {
			break
		}
		// Not at once: clients that collided on one address would collide again.
		if sleep(ctx, time.Duration(rand.Int64N(int64(time.Second)))) != nil {
			break
		}
	}
	return res
}

// release does what bootd-init does in the initramfs: the server's time,
// the "network" report with the boot's token, the key for that token, the
// "volume" report with the secret that came with it; then, as a second
// process would, the "root" report. Every call goes over TLS to the node
// listener, whose certificate node.conf pins.
func (c *chain) release(ctx context.Context, r *result, ip net.IP, sc *ipxeScript, cpio []byte) error {
	t0 := time.Now()
	base, token := sc.arg("bootd"), sc.arg("bootd.token")
	if base == "" || token == "" {
		r.stages[stageKey] += time.Since(t0)
		r.fail(stageKey, fmt.Errorf("the kernel command line has no bootd= or bootd.token=: %q", sc.cmdline))
		return r.err
	}
	pin, err := fingerprint(cpio)
	if err != nil {
		r.fail(stageKey, err)
		return err
	}
	hc := httpClient(ip, pin)
	hc.Timeout = bootdInitTimeout
	defer hc.CloseIdleConnections()
	step := func(stage, path string, form url.Values) ([]byte, error) {
		b, err := post(ctx, hc, base+"/"+path, form)
		var retry *errRetry
		if err != nil && !errors.As(err, &retry) {
			r.fail(stage, fmt.Errorf("%s: %w", path, err))
		}
		return b, err
	}
	if _, err := get(ctx, hc, base+"/time", nil); err != nil {
		r.fail(stageKey, fmt.Errorf("time: %w", err))
		return err
	}
	if _, err := step(stageKey, "report", url.Values{"stage": {"network"}, "auth": {token}}); err != nil {
		return err
	}
	b, err := retrying(ctx, keyTries, 5*time.Second, 30*time.Second, &r.retries, func() ([]byte, error) {
		return step(stageKey, "key", url.Values{"token": {token}})
	})
	if err != nil {
		if r.failed == "" {
			r.fail(stageKey, fmt.Errorf("key: %w", err))
		}
		return err
	}
	var key, secret string
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "key="); ok {
			key = v
		} else if v, ok := strings.CutPrefix(line, "report="); ok {
			secret = v
		}
	}
	r.stages[stageKey] += time.Since(t0)
	if key == "" || secret == "" {
		r.fail(stageKey, errors.New("the key answer has no key or no report secret"))
		return r.err
	}
	t0 = time.Now()
	if _, err := step(stageReports, "report", url.Values{"stage": {"volume"}, "detail": {"/dev/rbd0"}, "auth": {secret}}); err != nil {
		return err
	}
	hc.CloseIdleConnections() // bootd-init report root is another process: another connection
	if _, err := step(stageReports, "report", url.Values{"stage": {"root"}, "detail": {"/dev/rbd0 mounted on /root"}, "auth": {secret}}); err != nil {
		return err
	}
	r.stages[stageReports] += time.Since(t0)
	return nil
}

// What bootd-init does (cmd/bootd-init): each request times out after
// 15 s, and a 503 at the key is asked again up to 12 times in all.
const (
	bootdInitTimeout = 15 * time.Second
	keyTries         = 12
)

// fingerprint is the certificate pin in node.cpio's etc/bootd/node.conf.
func fingerprint(cpio []byte) ([]byte, error) {
	files, err := images.ReadCPIO(cpio)
	if err != nil {
		return nil, fmt.Errorf("node.cpio: %w", err)
	}
	for _, f := range files {
		if strings.TrimPrefix(f.Name, "/") != "etc/bootd/node.conf" {
			continue
		}
		for _, line := range strings.Split(string(f.Data), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "fingerprint="); ok {
				pin, err := hex.DecodeString(strings.TrimSpace(v))
				if err != nil || len(pin) != sha256.Size {
					return nil, fmt.Errorf("node.conf: bad fingerprint %q", v)
				}
				return pin, nil
			}
		}
	}
	return nil, errors.New("node.cpio has no etc/bootd/node.conf with a fingerprint")
}

// httpClient is one node's HTTP client: its connections leave from ip, and
// with pin its TLS is pinned to that certificate as bootd-init's is.
func httpClient(ip net.IP, pin []byte) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 10 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext, Proxy: nil, MaxIdleConnsPerHost: 1,
		DisableCompression: true, ResponseHeaderTimeout: time.Minute}
	if pin != nil {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return errors.New("no certificate")
				}
				sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
				if subtle.ConstantTimeCompare(sum[:], pin) != 1 {
					return errors.New("certificate does not match node.conf's fingerprint")
				}
				return nil
			}}
	}
	return &http.Client{Transport: tr}
}

func get(ctx context.Context, hc *http.Client, u string, _ url.Values) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return do(hc, req)
}

func post(ctx context.Context, hc *http.Client, u string, form url.Values) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(hc, req)
}

// errRetry is a 503 with Retry-After: the client waits and asks again,
// as iPXE does for a file and bootd-init for its key.
type errRetry struct{ after time.Duration }

func (e *errRetry) Error() string { return fmt.Sprintf("503, retry after %v", e.after) }

// retryAfter is a 503's Retry-After, or nil for any other answer.
func retryAfter(resp *http.Response) *errRetry {
	if resp.StatusCode != http.StatusServiceUnavailable {
		return nil
	}
	n, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || n < 0 || n > 300 {
		return nil
	}
	return &errRetry{after: time.Duration(n) * time.Second}
}

// retrying runs f again after each 503 with Retry-After, waiting at least
// floor (doubling up to ceil) or what the server asked, up to tries times
// in all; retries counts the waits.
func retrying[T any](ctx context.Context, tries int, floor, ceil time.Duration, retries *int, f func() (T, error)) (T, error) {
	wait := floor
	for try := 1; ; try++ {
		v, err := f()
		var r *errRetry
		if !errors.As(err, &r) || try >= tries {
			return v, err
		}
		*retries++
		d := max(wait, r.after, time.Second) // iPXE waits a second at least
		if ceil > 0 {
			d = min(d, ceil)
		}
		wait = min(2*wait, ceil)
		if err := sleep(ctx, d); err != nil {
			return v, err
		}
	}
}

// sleep waits d, or returns ctx's error when it ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func do(hc *http.Client, req *http.Request) ([]byte, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if r := retryAfter(resp); r != nil {
		resp.Body.Close()
		return nil, r
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}

// fetch downloads u, counting its bytes against Content-Length; keep, when
// not nil, gets every chunk (node.cpio's), and so does the saver when it
// is saving.
func (c *chain) fetch(ctx context.Context, hc *http.Client, u string, keep func([]byte)) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if r := retryAfter(resp); r != nil {
		return 0, r
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, fmt.Errorf("%s: %s: %s", u, resp.Status, strings.TrimSpace(string(b)))
	}
	w := c.save.writer(req.URL.Path)
	defer w.Close()
	buf := make([]byte, 64<<10)
	var n int64
	for {
		k, err := resp.Body.Read(buf)
		if k > 0 {
			n += int64(k)
			if keep != nil {
				keep(buf[:k])
			}
			w.Write(buf[:k])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, fmt.Errorf("%s after %d bytes: %w", u, n, err)
		}
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, fmt.Errorf("%s: %d bytes of %d", u, n, resp.ContentLength)
	}
	return n, nil
}

// nextServer is where the firmware fetches its boot file: siaddr, else
// option 66, else the server identifier.
func nextServer(p *dhcpv4.DHCPv4) net.IP {
	if ip := p.ServerIPAddr.To4(); ip != nil && !ip.IsUnspecified() {
		return ip
	}
	if ip := net.ParseIP(p.TFTPServerName()).To4(); ip != nil {
		return ip
	}
	return p.ServerIdentifier()
}

// bootFile is option 67, else the file field.
func bootFile(p *dhcpv4.DHCPv4) string {
	if f := p.BootFileNameOption(); f != "" {
		return f
	}
	return strings.TrimRight(p.BootFileName, "\x00")
}

// firmwareOptions are a BIOS PXE ROM's options (RFC 4578): architecture 0,
// UNDI 2.1, a client GUID made of the MAC.
func firmwareOptions(mac net.HardwareAddr) func(*dhcpv4.DHCPv4) {
	return func(p *dhcpv4.DHCPv4) {
		p.UpdateOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00000:UNDI:002001"))
		p.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionClientSystemArchitectureType, []byte{0, 0}))
		p.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionClientNetworkInterfaceIdentifier, []byte{1, 2, 1}))
		guid := append([]byte{0}, make([]byte, 16)...)
		copy(guid[11:], mac)
		p.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionClientMachineIdentifier, guid))
		p.UpdateOption(dhcpv4.OptParameterRequestList(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter,
			dhcpv4.OptionTFTPServerName, dhcpv4.OptionBootfileName, dhcpv4.OptionVendorSpecificInformation,
			dhcpv4.OptionClassIdentifier))
	}
}

// ipxeOptions are iPXE's own: the firmware's, plus user class "iPXE"
// (sent as raw bytes, as iPXE does).
func ipxeOptions(mac net.HardwareAddr) func(*dhcpv4.DHCPv4) {
	fw := firmwareOptions(mac)
	return func(p *dhcpv4.DHCPv4) {
		fw(p)
		p.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionUserClassInformation, []byte("iPXE")))
	}
}

// saver keeps the first finished boot's script and files, so that a peer
// can serve the same bytes; nil saves nothing.
type saver struct {
	dir  string
	base string // the script's folder (URL path): files are saved relative to it
}

func (s *saver) file(name string, b []byte) {
	if s == nil {
		return
	}
	os.MkdirAll(filepath.Join(s.dir, "tftp"), 0o755)
	os.WriteFile(filepath.Join(s.dir, "tftp", filepath.Base(name)), b, 0o644)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

func (s *saver) writer(urlPath string) io.WriteCloser {
	rel, ok := strings.CutPrefix(urlPath, s.baseOrNone())
	if s == nil || !ok || rel == "" || strings.Contains(rel, "..") {
		return nopWriteCloser{io.Discard}
	}
	p := filepath.Join(s.dir, "http", filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nopWriteCloser{io.Discard}
	}
	f, err := os.Create(p)
	if err != nil {
		return nopWriteCloser{io.Discard}
	}
	return f
}

// script saves the script a peer serves: bootd's, without its token and
// node URL (the peer releases no key).
func (s *saver) baseOrNone() string {
	if s == nil || s.base == "" {
		return "\x00"
	}
	return s.base
}

func (s *saver) script(sc *ipxeScript) {
	if s == nil {
		return
	}
	s.base = sc.base
	os.MkdirAll(filepath.Join(s.dir, "http"), 0o755)
	os.WriteFile(filepath.Join(s.dir, "http", "boot.ipxe"), []byte(sc.withoutSecrets()), 0o644)
}
