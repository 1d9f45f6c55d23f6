package web

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bootd/bootd/bootfs/bootfstest"
	"github.com/prometheus/client_golang/prometheus"
)

// TestBootLimit: downloads under /boot beyond the cap per client address,
// or beyond the cap in all, get 503 with Retry-After and are counted; the
// places come back when a download ends. Downloads are held in progress by
// clients that ask for a 32 MiB kernel and do not read it.
func TestBootLimit(t *testing.T) {
	t.Parallel()
	fx := bootfstest.New(t, bootfstest.Options{KernelSize: 32 << 20})
	reg := prometheus.NewRegistry()
	h, err := New(withDomain(Config{Registry: reg, Files: fx.Files, BootMaxDownloads: 3, BootMaxPerClient: 2}, fx.Service))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Boot)
	t.Cleanup(srv.Close)
	const kernel = "/boot/52-54-00-12-34-56/kernel"

	hold := func(from string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.(*net.TCPConn).SetReadBuffer(4096)
		c.Write([]byte("GET " + kernel + " HTTP/1.1\r\nHost: x\r\n\r\n"))
		return c
	}
	status := func(from string) (int, string) {
		t.Helper()
		c := hold(from)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		c.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	waitActive := func(n float64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if gathered(t, reg, "bootd_http_boot_transfers_active", "") == n {
				return
			}
		}
		t.Fatalf("boot transfers under way never reached %v", n)
	}

	hold("127.0.3.1")
	hold("127.0.3.1")
	waitActive(2)
	if code, ra := status("127.0.3.1"); code != http.StatusServiceUnavailable || ra == "" {
		t.Errorf("third download from 127.0.3.1 = %d (Retry-After %q), want 503 with Retry-After", code, ra)
	}
	last := hold("127.0.3.2")
	waitActive(3)
	if code, _ := status("127.0.3.3"); code != http.StatusServiceUnavailable {
		t.Errorf("fourth download = %d, want 503", code)
	}
	for reason, want := range map[string]float64{"busy": 1, "client_busy": 1} {
		if got := gathered(t, reg, "bootd_http_boot_refused_total", reason); got != want {
			t.Errorf("bootd_http_boot_refused_total{reason=%q} = %v, want %v", reason, got, want)
		}
	}
	last.Close()
	waitActive(2)
	if resp, body := get(t, srv, http.MethodGet, "/boot/52-54-00-12-34-56/initrd/0"); resp.StatusCode != http.StatusOK || len(body) == 0 {
		t.Errorf("after a download ended: GET = %d", resp.StatusCode)
	}
}

// gathered is the value of the metric name in reg: of its series whose
// first label is label, or of its only series when label is empty.
func gathered(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && (len(m.GetLabel()) == 0 || m.GetLabel()[0].GetValue() != label) {
				continue
			}
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
