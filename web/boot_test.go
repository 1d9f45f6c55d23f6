package web

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/bootfs/bootfstest"
	"github.com/prometheus/client_golang/prometheus"
)

// bootServer serves a bootfstest fixture over a real HTTP server.
func bootServer(t *testing.T) (*bootfstest.Fixture, *httptest.Server, *prometheus.Registry) {
	t.Helper()
	fx := bootfstest.New(t, bootfstest.Options{})
	reg := prometheus.NewRegistry()
	h, err := New(withDomain(Config{Registry: reg, Files: fx.Files}, fx.Service))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Boot)
	t.Cleanup(srv.Close)
	return fx, srv, reg
}

func get(t *testing.T, srv *httptest.Server, method, path string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestBootFiles(t *testing.T) {
	t.Parallel()
	fx, srv, _ := bootServer(t)
	tests := []struct {
		path, want string // want: a fixture file, "" for 404
		ctype      string
		static     bool
	}{
		{"/boot/52-54-00-12-34-56/kernel", "x86/kernel", "application/octet-stream", true},
		{"/boot/52-54-00-12-34-56/initrd/0", "x86/initrd/0", "application/octet-stream", true},
		{"/boot/52-54-00-12-34-56/initrd/1", "x86/initrd/1", "application/octet-stream", true},
		{"/boot/dc-a6-32-01-02-03/initrd.img", "pi/initrd.img", "application/octet-stream", true},
		{"/boot/dc-a6-32-01-02-03/overlays/vc4-kms-v3d.dtbo", "pi/overlays/vc4-kms-v3d.dtbo", "application/octet-stream", true},
		{"/boot/ipxe/snponly.efi", "ipxe/snponly.efi", "application/octet-stream", true},
		{"/boot/ipxe/ipxe.efi", "ipxe/ipxe.efi", "application/octet-stream", true},
		{"/boot/52-54-00-12-34-56/initrd/2", "", "", false},
		{"/boot/52-54-00-00-00-0f/kernel", "", "", false}, // netboot off
		{"/boot/52-54-00-99-99-99/kernel", "", "", false}, // unknown
		{"/boot/not-a-mac/kernel", "", "", false},
		{"/boot/ipxe/README", "", "", false},
	}
	for _, tt := range tests {
		resp, body := get(t, srv, http.MethodGet, tt.path)
		if tt.want == "" {
			if resp.StatusCode != http.StatusNotFound || string(body) != "not found\n" {
				t.Errorf("GET %s = %d %q, want 404 \"not found\"", tt.path, resp.StatusCode, body)
			}
			continue
		}
		h := resp.Header
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, fx.Want[tt.want]) {
			t.Errorf("GET %s = %d with %d bytes, want 200 with the %d of %s", tt.path, resp.StatusCode, len(body), len(fx.Want[tt.want]), tt.want)
		}
		if h.Get("Content-Type") != tt.ctype || h.Get("ETag") == "" || h.Get("Last-Modified") == "" ||
			h.Get("Accept-Ranges") != "bytes" || h.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s headers = %v", tt.path, h)
		}
	}
}

func TestBootScripts(t *testing.T) {
	t.Parallel()
	_, srv, _ := bootServer(t)
	for _, spelling := range []string{"52-54-00-12-34-56", "52:54:00:12:34:56", "52%3A54%3A00%3A12%3A34%3A56",
		"525400123456", "5254.0012.3456", "52-54-00-12-34-56"} {
		path := "/boot/" + spelling + "/boot.ipxe"
		resp, body := get(t, srv, http.MethodGet, path)
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "#!ipxe\n") || !strings.Contains(string(body), "hostname=web1") {
			t.Errorf("GET %s = %d %q, want web1's script", path, resp.StatusCode, body)
		}
		if h := resp.Header; h.Get("Cache-Control") != "no-store" || h.Get("ETag") != "" ||
			h.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Errorf("GET %s headers = %v, want no-store, no ETag, text/plain", path, h)
		}
	}
	for path, want := range map[string]string{
		"/boot/52-54-00-99-99-99/boot.ipxe":  "is not enrolled",
		"/boot/52-54-00-00-00-0f/boot.ipxe":  "\nexit\n",
		"/boot/52-54-00-00-00-0e/boot.ipxe":  `cannot boot: image "gone" is not in bootd's catalog`,
		"/boot/dc-a6-32-01-02-03/config.txt": "initramfs initrd.img followkernel\n",
	} {
		resp, body := get(t, srv, http.MethodGet, path)
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s = %d %q, want it to contain %q", path, resp.StatusCode, body, want)
		}
	}
}

// TestBootServeContent checks what http.ServeContent brings: HEAD (which
// OVMF sends before an HTTP boot), ranges and conditional requests.
func TestBootServeContent(t *testing.T) {
	t.Parallel()
	fx, srv, _ := bootServer(t)
	const path = "/boot/52-54-00-12-34-56/kernel"
	want := fx.Want["x86/kernel"]
	resp, body := get(t, srv, http.MethodHead, path)
	if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(len(want)) {
		t.Errorf("HEAD %s = %d, %d body bytes, length %d; want 200, none, %d", path, resp.StatusCode, len(body), resp.ContentLength, len(want))
	}
	etag, lastMod := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	resp, body = get(t, srv, http.MethodGet, path, "Range", "bytes=100-199")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, want[100:200]) ||
		resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 100-199/%d", len(want)) {
		t.Errorf("GET %s bytes=100-199 = %d, %d bytes, %q", path, resp.StatusCode, len(body), resp.Header.Get("Content-Range"))
	}
	resp, _ = get(t, srv, http.MethodGet, path, "If-None-Match", etag)
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("GET %s If-None-Match = %d, want 304", path, resp.StatusCode)
	}
	resp, _ = get(t, srv, http.MethodGet, path, "If-Modified-Since", lastMod)
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("GET %s If-Modified-Since = %d, want 304", path, resp.StatusCode)
	}
	resp, body = get(t, srv, http.MethodGet, path, "Range", "bytes=0-9", "If-Range", `"stale"`)
	if resp.StatusCode != 200 || len(body) != len(want) {
		t.Errorf("GET %s with a stale If-Range = %d, %d bytes; want the whole file", path, resp.StatusCode, len(body))
	}
	resp, _ = get(t, srv, http.MethodPost, path)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST %s = %d, want 405", path, resp.StatusCode)
	}
}

// TestBootTimeline checks that fetches land in the node's timeline as
// script, kernel and initrd events, and that HEAD and 304s do not.
func TestBootTimeline(t *testing.T) {
	t.Parallel()
	fx, srv, reg := bootServer(t)
	for _, p := range []string{"boot.ipxe", "kernel", "initrd/0", "initrd/1"} {
		get(t, srv, http.MethodGet, "/boot/52-54-00-12-34-56/"+p)
	}
	get(t, srv, http.MethodHead, "/boot/52-54-00-12-34-56/kernel")
	get(t, srv, http.MethodGet, "/boot/52-54-00-99-99-99/boot.ipxe") // unknown: no timeline
	if err := fx.Service.Flush(t.Context()); err != nil {            // fetch events are written soon, not at once
		t.Fatal(err)
	}
	boots, err := fx.Service.Timeline(t.Context(), bootfstest.MAC(bootfstest.X86))
	if err != nil || len(boots) != 1 {
		t.Fatalf("Timeline = %+v, %v; want one boot", boots, err)
	}
	var got []string
	for _, ev := range boots[0].Events {
		if f := ev.Fetch; f == nil || f.Outcome != boot.FetchDone || f.Bytes == 0 || f.Bytes != f.Size {
			t.Errorf("event %+v: fetch %+v, want a whole file sent", ev, f)
			continue
		}
		got = append(got, string(ev.Stage)+" "+string(ev.Fetch.Transport)+" "+ev.Fetch.File)
		if ev.Source != "127.0.0.1" {
			t.Errorf("event %+v: source %q, want 127.0.0.1", ev, ev.Source)
		}
	}
	want := []string{"script http boot.ipxe", "kernel http kernel", "initrd http initrd/0", "initrd http initrd/1"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("timeline = %q, want %q", got, want)
	}
	if _, err := fx.Service.Timeline(t.Context(), bootfstest.MAC(bootfstest.Unknown)); err == nil {
		t.Errorf("an unknown machine got a timeline")
	}
	n, _ := fx.Service.Node(t.Context(), bootfstest.MAC(bootfstest.X86))
	if n.State != boot.StateBooting || n.LastStage != boot.StageInitrd {
		t.Errorf("node after the fetches = %s at %s, want booting at initrd", n.State, n.LastStage)
	}
	mfs, _ := reg.Gather()
	var text strings.Builder
	for _, mf := range mfs {
		fmt.Fprintln(&text, mf.String())
	}
	for _, want := range []string{`bootd_http_boot_transfers_total`, `value:"kernel"`, `value:"done"`, `bootd_http_boot_sent_bytes_total`} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestSecureBootTimeline checks the fetches of a node started by UEFI
// HTTP boot through shim and GRUB: shim and GRUB are loader events, as
// the firmware and shim fetch them (shim asks for GRUB with a doubled
// slash), GRUB's configuration a script event; the files shim probes for
// and does not find leave no event.
func TestSecureBootTimeline(t *testing.T) {
	t.Parallel()
	fx, srv, _ := bootServer(t)
	for _, p := range []string{"shimx64.efi", "revocations_sbat.efi", "/grubx64.efi", "grub.cfg", "kernel"} {
		get(t, srv, http.MethodGet, "/boot/52-54-00-00-00-0b/"+p)
	}
	if err := fx.Service.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	boots, err := fx.Service.Timeline(t.Context(), bootfstest.MAC(bootfstest.SB))
	if err != nil || len(boots) != 1 {
		t.Fatalf("Timeline = %+v, %v; want one boot", boots, err)
	}
	var got []string
	for _, ev := range boots[0].Events {
		got = append(got, string(ev.Stage)+" "+ev.Fetch.String())
	}
	want := []string{"loader http shimx64.efi: 2000 bytes", "loader http grubx64.efi: 2200 bytes", "script http grub.cfg:", "kernel http kernel:"}
	if len(got) != len(want) {
		t.Fatalf("timeline = %q, want %q", got, want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("timeline event %d = %q, want %q...", i, got[i], want[i])
		}
	}
	if n, _ := fx.Service.Node(t.Context(), bootfstest.MAC(bootfstest.SB)); n.LastStage != boot.StageKernel {
		t.Errorf("node after the fetches at %s, want kernel", n.LastStage)
	}
}

func TestBootWithCurl(t *testing.T) {
	t.Parallel()
	fx, srv, _ := bootServer(t)
	out := filepath.Join(t.TempDir(), "initrd")
	url := srv.URL + "/boot/dc-a6-32-01-02-03/initrd.img"
	if msg, err := exec.Command("curl", "-fsS", "--max-time", "20", "-o", out, url).CombinedOutput(); err != nil {
		t.Fatalf("curl %s: %v %s", url, err, msg)
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, fx.Want["pi/initrd.img"]) {
		t.Errorf("curl %s = %d bytes, %v; want the %d of the two initrds", url, len(got), err, len(fx.Want["pi/initrd.img"]))
	}
	// curl hangs up as soon as it has the file: the fetch is recorded all the same.
	var events []boot.Event
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && len(events) == 0; time.Sleep(20 * time.Millisecond) {
		if boots, _ := fx.Service.Timeline(t.Context(), bootfstest.MAC(bootfstest.Pi)); len(boots) > 0 {
			events = boots[0].Events
		}
	}
	if len(events) != 1 || events[0].Stage != boot.StageInitrd || !strings.HasPrefix(events[0].Text(), "http initrd.img: 7000 bytes in ") {
		t.Errorf("Pi timeline after curl = %+v, want one initrd event", events)
	}
	b, err := exec.Command("curl", "-fsS", "--max-time", "20", "-r", "2990-3009", url).Output()
	if err != nil || !bytes.Equal(b, fx.Want["pi/initrd.img"][2990:3010]) {
		t.Errorf("curl -r 2990-3009 %s = %d bytes, %v; want the 20 across the two files", url, len(b), err)
	}
}

// readerFromRecorder is a ResponseWriter that records what ReadFrom got.
type readerFromRecorder struct {
	*httptest.ResponseRecorder
	got io.Reader
}

// Hijack makes the recorder look like net/http's writer to chi's wrapper.
func (r *readerFromRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return nil, nil, errors.New("not hijackable")
}

func (r *readerFromRecorder) ReadFrom(src io.Reader) (int64, error) {
	r.got = src
	return io.Copy(r.ResponseRecorder, src)
}

// TestSendfilePath checks that a static file reaches the connection's
// ReadFrom (where net/http uses sendfile) through every wrapper.
func TestSendfilePath(t *testing.T) {
	t.Parallel()
	fx, _, _ := bootServer(t)
	h, err := New(withDomain(Config{Files: fx.Files}, fx.Service))
	if err != nil {
		t.Fatal(err)
	}
	rec := &readerFromRecorder{ResponseRecorder: httptest.NewRecorder()}
	h.Boot.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/boot/52-54-00-12-34-56/kernel", nil))
	lr, ok := rec.got.(*io.LimitedReader)
	if !ok {
		t.Fatalf("ReadFrom got %T, want the *io.LimitedReader of http.ServeContent", rec.got)
	}
	if _, ok := lr.R.(*os.File); !ok {
		t.Errorf("ReadFrom got a limited %T, want an *os.File for sendfile", lr.R)
	}
	if !bytes.Equal(rec.Body.Bytes(), fx.Want["x86/kernel"]) {
		t.Errorf("body = %d bytes, want the kernel's %d", rec.Body.Len(), len(fx.Want["x86/kernel"]))
	}
}
