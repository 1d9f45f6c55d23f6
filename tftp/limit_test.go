package tftp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bootd/bootd/tftp/tftptest"
	"github.com/prometheus/client_golang/prometheus"
)

// serveWith starts a Server for f with cfg (Opener, Report and Registry
// filled in) on 127.0.0.1 and returns its address.
func serveWith(t *testing.T, f *files, reg *prometheus.Registry, cfg Config) string {
	t.Helper()
	cfg.Opener, cfg.Report, cfg.Registry = f, f.report, reg
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(conn)
	t.Cleanup(srv.Shutdown)
	return conn.LocalAddr().String()
}

// rrq is a read request for name in octet mode with opts (name, value, ...).
func rrq(name string, opts ...string) []byte {
	p := binary.BigEndian.AppendUint16(nil, 1)
	p = append(append(p, name...), 0)
	p = append(append(p, "octet"...), 0)
	for _, o := range opts {
		p = append(append(p, o...), 0)
	}
	return p
}

// stall sends a read request from addr (on 127.0.0.0/8) and never answers:
// a client gone, or a forged source. It returns the socket, which counts
// what the server sends until closed.
func stall(t *testing.T, server string, from string, req []byte) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(from)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sa, _ := net.ResolveUDPAddr("udp4", server)
	if _, err := c.WriteToUDP(req, sa); err != nil {
		t.Fatal(err)
	}
	return c
}

// received reads what c gets until quiet for d, returning the payload bytes
// and the first packet.
func received(c *net.UDPConn, d time.Duration) (n int, first []byte) {
	buf := make([]byte, 65536)
	for {
		c.SetReadDeadline(time.Now().Add(d))
		m, _, err := c.ReadFromUDP(buf)
		if err != nil {
			return n, first
		}
		if first == nil {
			first = append([]byte(nil), buf[:m]...)
		}
		n += m
	}
}

// errorMessage is the message of an ERROR packet, or "" for another packet.
func errorMessage(p []byte) string {
	if len(p) < 4 || binary.BigEndian.Uint16(p) != 5 {
		return ""
	}
	return strings.TrimRight(string(p[4:]), "\x00")
}

// TestCaps: transfers beyond MaxTransfers, or beyond MaxPerClient from one
// address, get a short ERROR and are counted; the places come back once
// the stalled transfers time out (Timeout × Retries).
func TestCaps(t *testing.T) {
	t.Parallel()
	f := &files{data: map[string][]byte{"file": bytes.Repeat([]byte("x"), 4000)}}
	reg := prometheus.NewRegistry()
	addr := serveWith(t, f, reg, Config{Timeout: 500 * time.Millisecond, Retries: 2, MaxTransfers: 3, MaxPerClient: 1, QueueWait: -1})

	var stalled []*net.UDPConn
	for _, from := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		stalled = append(stalled, stall(t, addr, from, rrq("file", "blksize", "1024")))
		f.wait(t, len(stalled)) // started
		if from == "127.0.0.2" {
			again := stall(t, addr, from, rrq("file"))
			if _, p := received(again, 200*time.Millisecond); errorMessage(p) != "busy" {
				t.Errorf("second request from %s got %q, want ERROR busy", from, p)
			}
		}
	}
	fourth := stall(t, addr, "127.0.0.5", rrq("file"))
	if _, p := received(fourth, 200*time.Millisecond); errorMessage(p) != "busy" {
		t.Errorf("fourth transfer got %q, want ERROR busy", p)
	}
	for reason, want := range map[string]float64{"busy": 1, "client_busy": 1} {
		if got := refused(t, reg, reason); got != want {
			t.Errorf("bootd_tftp_refused_total{reason=%q} = %v, want %v", reason, got, want)
		}
	}
	f.wait(t, 6) // the stalled transfers failed
	res, err := tftptest.Get(addr, "file", tftptest.Options{From: net.ParseIP("127.0.0.5"), BlockSize: 1024})
	if err != nil || len(res.Data) != 4000 {
		t.Errorf("after the stalled transfers ended: Get = %v, %v", res, err)
	}
}

// gauge is the value of the gauge called name in reg.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}

// refused is bootd_tftp_refused_total{reason} in reg.
func refused(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "bootd_tftp_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestUnknownPolicies: what each policy does with a request from an
// address Known does not vouch for, with and without options (RFC 2347),
// and that a known address is always served.
func TestUnknownPolicies(t *testing.T) {
	t.Parallel()
	data := bytes.Repeat([]byte("y"), 3000)
	known := netip.MustParseAddr("127.0.1.1")
	for _, tc := range []struct {
		policy   Unknown
		from     string
		opts     tftptest.Options
		refusals float64 // wanted ERROR "denied"
	}{
		{Allow, "127.0.1.2", tftptest.Options{}, 0},
		{Limit, "127.0.1.2", tftptest.Options{BlockSize: 1024}, 0},
		{Limit, "127.0.1.2", tftptest.Options{TSize: true}, 0},
		{Limit, "127.0.1.2", tftptest.Options{}, 1},
		{Limit, "127.0.1.1", tftptest.Options{}, 0},
		{Refuse, "127.0.1.2", tftptest.Options{BlockSize: 1024, TSize: true}, 1},
		{Refuse, "127.0.1.1", tftptest.Options{}, 0},
	} {
		t.Run(string(tc.policy)+"/"+tc.from+"/"+optsName(tc.opts), func(t *testing.T) {
			t.Parallel()
			f := &files{data: map[string][]byte{"file": data}}
			reg := prometheus.NewRegistry()
			addr := serveWith(t, f, reg, Config{Unknown: tc.policy, Known: func(a netip.Addr) bool { return a == known }})
			tc.opts.From = net.ParseIP(tc.from)
			res, err := tftptest.Get(addr, "file", tc.opts)
			var ep *tftptest.ErrorPacket
			switch {
			case tc.refusals > 0 && (!errors.As(err, &ep) || ep.Message != "denied"):
				t.Errorf("Get = %v, want ERROR denied", err)
			case tc.refusals == 0 && (err != nil || !bytes.Equal(res.Data, data)):
				t.Errorf("Get = %v, want the file", err)
			}
			reason := "unknown"
			if tc.policy == Limit {
				reason = "no_options"
			}
			if got := refused(t, reg, reason); got != tc.refusals {
				t.Errorf("bootd_tftp_refused_total{reason=%q} = %v, want %v", reason, got, tc.refusals)
			}
		})
	}
}

func optsName(o tftptest.Options) string {
	s := "plain"
	if o.BlockSize > 0 {
		s = "blksize"
	}
	if o.TSize {
		s += "+tsize"
	}
	return s
}

// TestReflection: requests whose source is forged (their sender never
// answers) make the server send at most a few times what it received, with
// the library's timeout and retries as bootd runs them, under limit and
// refuse; under allow the same requests reflect far more (what the guard is for).
func TestReflection(t *testing.T) {
	t.Parallel()
	data := bytes.Repeat([]byte("z"), 100000)
	reqs := [][]byte{
		{0, 1, 0, 0}, // the smallest read request: no name, no mode
		rrq("file"),
		rrq("file", "tsize", "0"),
		rrq("file", "blksize", "1468"),
		rrq("file", "blksize", "65464", "tsize", "0"),
		rrq("f", "windowsize", "64"), // an option pin/tftp ignores
	}
	for _, tc := range []struct {
		policy   Unknown
		maxRatio float64
	}{{Refuse, 3}, {Limit, 5}, {Allow, 1000}} {
		t.Run(string(tc.policy), func(t *testing.T) {
			t.Parallel()
			f := &files{data: map[string][]byte{"file": data, "f": data}}
			addr := serveWith(t, f, prometheus.NewRegistry(), Config{Unknown: tc.policy, Timeout: 100 * time.Millisecond})
			var in, out int
			for i, req := range reqs {
				c := stall(t, addr, "127.0.2."+string(rune('1'+i)), req)
				n, _ := received(c, 300*time.Millisecond)
				t.Logf("%s: %q: %d bytes in, %d out", tc.policy, req, len(req), n)
				in, out = in+len(req), out+n
			}
			ratio := float64(out) / float64(in)
			t.Logf("%s: %d bytes received, %d sent back: %.1f×", tc.policy, in, out, ratio)
			if tc.policy != Allow && ratio > tc.maxRatio {
				t.Errorf("%s: sent %.1f× what was received, want at most %v×", tc.policy, ratio, tc.maxRatio)
			}
			if tc.policy == Allow && ratio < 10 {
				t.Errorf("allow: sent only %.1f× what was received; the test no longer measures reflection", ratio)
			}
		})
	}
}

// TestRecent: addresses expire after the window and the set keeps at most
// its bound, dropping the oldest first.
func TestRecent(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	r := NewRecent(10*time.Minute, 3)
	r.now = func() time.Time { return now }
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	r.Add(a("10.0.0.1"))
	r.Add(a("::ffff:10.0.0.2")) // stored unmapped
	if !r.Has(a("10.0.0.1")) || !r.Has(a("10.0.0.2")) || r.Has(a("10.0.0.3")) {
		t.Errorf("Has after Add: wrong")
	}
	now = now.Add(9 * time.Minute)
	r.Add(a("10.0.0.1")) // seen again: kept longer
	now = now.Add(2 * time.Minute)
	if !r.Has(a("10.0.0.1")) || r.Has(a("10.0.0.2")) {
		t.Errorf("Has(10.0.0.1) = %v, Has(10.0.0.2) = %v after 11 minutes, want true, false", r.Has(a("10.0.0.1")), r.Has(a("10.0.0.2")))
	}
	for _, s := range []string{"10.0.0.3", "10.0.0.4", "10.0.0.5"} {
		r.Add(a(s))
	}
	if r.Len() != 3 || r.Has(a("10.0.0.1")) || !r.Has(a("10.0.0.5")) {
		t.Errorf("Len = %d, Has(oldest) = %v, want 3 and false", r.Len(), r.Has(a("10.0.0.1")))
	}
	r.Add(netip.Addr{})
	r.Add(a("0.0.0.0"))
	if r.Len() != 3 {
		t.Errorf("Len = %d after adding invalid addresses, want 3", r.Len())
	}
}

// TestQueueForAPlace: with MaxTransfers under way, a known client's request
// waits for a place and is served when one comes back, where firmware
// would end its boot on an ERROR; an unknown address's request, and one
// that waits longer than QueueWait, get the short ERROR busy at once.
func TestQueueForAPlace(t *testing.T) {
	t.Parallel()
	f := &files{data: map[string][]byte{"file": bytes.Repeat([]byte("x"), 4000)}}
	reg := prometheus.NewRegistry()
	known := func(a netip.Addr) bool { return a != netip.MustParseAddr("127.0.0.9") }
	addr := serveWith(t, f, reg, Config{Timeout: 300 * time.Millisecond, Retries: 2, MaxTransfers: 1,
		QueueWait: 5 * time.Second, Known: known, Unknown: Limit})

	stall(t, addr, "127.0.0.2", rrq("file", "blksize", "1024"))
	f.wait(t, 1) // started; it fails within Timeout × Retries

	stranger := stall(t, addr, "127.0.0.9", rrq("file", "blksize", "1024"))
	if _, p := received(stranger, 200*time.Millisecond); errorMessage(p) != "busy" {
		t.Errorf("an unknown address got %q while the place was taken, want ERROR busy at once", p)
	}
	// Three known clients, more than the one place: all get in line.
	start := time.Now()
	errs := make(chan error, 3)
	for _, from := range []string{"127.0.0.3", "127.0.0.4", "127.0.0.5"} {
		go func() {
			res, err := tftptest.Get(addr, "file", tftptest.Options{From: net.ParseIP(from), BlockSize: 1024, Timeout: 5 * time.Second})
			if err == nil && len(res.Data) != 4000 {
				err = errors.New("short file")
			}
			if err != nil {
				err = fmt.Errorf("%s queued behind the stalled transfer: %w", from, err)
			}
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Errorf("served after %v: they did not wait for the place", waited)
	}
	if got := refused(t, reg, "busy"); got != 1 {
		t.Errorf("bootd_tftp_refused_total{reason=\"busy\"} = %v, want 1 (the unknown address only)", got)
	}

	// No wait at all: the same queue refuses at once.
	f2 := &files{data: f.data}
	reg2 := prometheus.NewRegistry()
	addr2 := serveWith(t, f2, reg2, Config{Timeout: 300 * time.Millisecond, Retries: 2, MaxTransfers: 1,
		QueueWait: -1, Known: known, Unknown: Limit})
	stall(t, addr2, "127.0.0.2", rrq("file", "blksize", "1024"))
	f2.wait(t, 1)
	again := stall(t, addr2, "127.0.0.3", rrq("file", "blksize", "1024"))
	if _, p := received(again, 200*time.Millisecond); errorMessage(p) != "busy" {
		t.Errorf("with QueueWait < 0 a known client got %q, want ERROR busy at once", p)
	}
}

// TestResentRequestHeld: a client that sends its request again (more times
// than the cap per client) while the
// first waits for a place gets one transfer, and its first answer is that
// transfer's, not an ERROR that would end a firmware's boot; the resent
// request is refused (counted as duplicate) only once the first ended.
func TestResentRequestHeld(t *testing.T) {
	t.Parallel()
	f := &files{data: map[string][]byte{"file": bytes.Repeat([]byte("x"), 4000)}}
	reg := prometheus.NewRegistry()
	addr := serveWith(t, f, reg, Config{Timeout: 300 * time.Millisecond, Retries: 2, MaxTransfers: 1, MaxPerClient: 2,
		QueueWait: 5 * time.Second, Known: func(netip.Addr) bool { return true }, Unknown: Limit})
	stall(t, addr, "127.0.0.2", rrq("file", "blksize", "1024"))
	f.wait(t, 1)

	// Three resends, more than the cap per client: held all the same.
	c := stall(t, addr, "127.0.0.3", rrq("file", "blksize", "1024"))
	sa, _ := net.ResolveUDPAddr("udp4", addr)
	for range 3 {
		time.Sleep(100 * time.Millisecond)
		if _, err := c.WriteToUDP(rrq("file", "blksize", "1024"), sa); err != nil {
			t.Fatal(err)
		}
	}
	// The last resend reaches the server a moment after it was sent; the
	// stalled transfer holds the place for another 300 ms at least.
	for try := 0; ; try++ {
		q, h := gauge(t, reg, "bootd_tftp_requests_waiting"), gauge(t, reg, "bootd_tftp_requests_held")
		if q == 1 && h == 3 {
			break
		}
		if try == 10 {
			t.Errorf("while the first request waits: %v waiting and %v held, want 1 and 3", q, h)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, first := received(c, 3*time.Second)
	if len(first) < 2 || binary.BigEndian.Uint16(first) != 6 {
		t.Fatalf("the client's first answer is %q, want the OACK of its one transfer (refused: busy %v, client_busy %v, duplicate %v)", first, refused(t, reg, "busy"), refused(t, reg, "client_busy"), refused(t, reg, "duplicate"))
	}
	deadline := time.Now().Add(5 * time.Second)
	for refused(t, reg, "duplicate") != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("bootd_tftp_refused_total{reason=\"duplicate\"} = %v, want 3", refused(t, reg, "duplicate"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, reason := range []string{"busy", "client_busy"} {
		if got := refused(t, reg, reason); got != 0 {
			t.Errorf("%s refusals = %v, want 0", reason, got)
		}
	}
}
