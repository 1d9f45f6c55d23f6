package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/bootfs"
)

// testMAC is the node of the tests: its URLs are bootfs's layout, so a
// path bootd-init spells differently from web's routes fails them.
var testMAC, _ = boot.ParseMAC("52:54:00:12:34:56")

// fakeBootd is the node side of bootd's boot endpoints, for tests.
type fakeBootd struct {
	mu      sync.Mutex
	token   string
	key     []byte
	used    bool
	reports []string
	auths   []string // each report's auth
	now     time.Time
	// keyAsked counts key requests that reached the handler.
	keyAsked int
	// inventories are the auths of the inventory reports.
	inventories []string
	// unavailable is how many key requests get bootd's "Ceph unavailable,
	// retry" (503, Retry-After) before one is answered; keyTries counts
	// all of them.
	unavailable, keyTries int
	// drop is how many key requests get their connection closed with no
	// answer (bootd's release outlasting the client, a broken link).
	drop int
}

// pin is the hex SHA-256 of a test server's certificate.
func pin(srv *httptest.Server) string {
	sum := sha256.Sum256(srv.Certificate().Raw)
	return hex.EncodeToString(sum[:])
}

func (f *fakeBootd) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	at := bootfs.NewLayout("")
	switch r.URL.Path {
	case at.File(testMAC, bootfs.TimeEndpoint):
		fmt.Fprint(w, strconv.FormatInt(f.now.UnixNano(), 10))
	case at.File(testMAC, bootfs.KeyEndpoint):
		f.keyTries++
		if f.drop > 0 {
			f.drop--
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
			return
		}
		if f.unavailable > 0 && r.FormValue("token") == f.token {
			f.unavailable--
			w.Header().Set("Retry-After", "7")
			http.Error(w, "Ceph unavailable, retry: bootd cannot release the key now", http.StatusServiceUnavailable)
			return
		}
		if r.Method != http.MethodPost || r.FormValue("token") != f.token || f.used {
			http.Error(w, "token refused", http.StatusForbidden)
			return
		}
		f.used = true
		f.keyAsked++
		fmt.Fprintf(w, "key=%s\nreport=secret42\n", base64.StdEncoding.EncodeToString(f.key))
	case at.File(testMAC, bootfs.ReportEndpoint):
		f.reports = append(f.reports, r.FormValue("stage")+":"+r.FormValue("detail"))
		f.auths = append(f.auths, r.FormValue("auth"))
	case at.File(testMAC, bootfs.InventoryEndpoint):
		f.inventories = append(f.inventories, r.FormValue("auth"))
	default:
		http.NotFound(w, r)
	}
}

// recKernel records the kernel calls.
type recKernel struct {
	calls []string
	key   []byte
}

func (k *recKernel) loadModule(p string) error {
	k.calls = append(k.calls, "module "+filepath.Base(p))
	return nil
}
func (k *recKernel) addCephKey(user string, secret []byte) error {
	k.calls = append(k.calls, "key client."+user)
	k.key = append([]byte(nil), secret...)
	return nil
}
func (k *recKernel) clearKeys() error           { k.calls = append(k.calls, "clear"); return nil }
func (k *recKernel) setClock(t time.Time) error { k.calls = append(k.calls, "clock"); return nil }
func (k *recKernel) setHostname(name string) error {
	k.calls = append(k.calls, "hostname "+name)
	return nil
}

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fakeNode makes a root folder with /proc/cmdline, node.conf, a fake sysfs
// (add_single_major as a plain file, device 0 already listed) and modules.
func fakeNode(t *testing.T, url, token, fingerprint string) string {
	t.Helper()
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"proc/cmdline": "console=ttyS0 root=/dev/rbd0 rw bootd=" + bootfs.NewLayout(url).Node(testMAC) + " bootd.token=" + token + "\n",
		"etc/bootd/node.conf": "# written by bootd\nmonitors=198.18.0.1:6789\npool=rbd\nnamespace=node-525400123456\n" +
			"image=root\nuser=node-525400123456\nhostname=web1\nfingerprint=" + fingerprint + "\n",
		"sys/bus/rbd/add_single_major":      "",
		"sys/bus/rbd/devices/0/pool":        "rbd\n",
		"sys/bus/rbd/devices/0/pool_ns":     "node-525400123456\n",
		"sys/bus/rbd/devices/0/name":        "root\n",
		"dev/rbd0":                          "",
		modulesDir[1:] + "/02-libcrc32c.ko": "x",
		modulesDir[1:] + "/01-crc32c.ko":    "x",
		modulesDir[1:] + "/03-libceph.ko":   "x",
		modulesDir[1:] + "/04-rbd.ko":       "x",
	})
	return root
}

func TestMapWritesExactString(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{0xAB}, 28)
	fb := &fakeBootd{token: "tok123", key: key, now: time.Now().Add(-time.Hour)}
	srv := httptest.NewTLSServer(fb)
	defer srv.Close()
	root := fakeNode(t, srv.URL, "tok123", pin(srv))
	k := &recKernel{}
	var out bytes.Buffer
	e := &env{root: root, kernel: k, out: os.Stderr, deviceWait: time.Second}
	s, err := e.readSettings()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := newClient(s.url, s.fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	cl.auth = s.token
	dev, err := e.mapWith(context.Background(), s, cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.postInventory(context.Background(), cl); err != nil || len(fb.inventories) != 1 || fb.inventories[0] != "secret42" {
		t.Errorf("inventory after the key: %v, sent with %q; want once with the report secret", err, fb.inventories)
	}
	if dev != "/dev/rbd0" {
		t.Errorf("map found device %q, want /dev/rbd0", dev)
	}
	written, _ := os.ReadFile(filepath.Join(root, "sys/bus/rbd/add_single_major"))
	want := "198.18.0.1:6789 name=node-525400123456,key=client.node-525400123456,_pool_ns=node-525400123456 rbd root -"
	if string(written) != want {
		t.Errorf("add_single_major got\n%q\nwant\n%q", written, want)
	}
	if bytes.Contains(written, []byte(base64.StdEncoding.EncodeToString(key))) || bytes.Contains(out.Bytes(), key) {
		t.Errorf("the key leaked into sysfs or output")
	}
	wantCalls := "clock|hostname web1|module 01-crc32c.ko|module 02-libcrc32c.ko|module 03-libceph.ko|module 04-rbd.ko|key client.node-525400123456|clear"
	if got := strings.Join(k.calls, "|"); got != wantCalls {
		t.Errorf("kernel calls = %s\nwant %s", got, wantCalls)
	}
	if !bytes.Equal(k.key, key) {
		t.Errorf("add_key got %x, want the decoded key", k.key)
	}
	if got := strings.Join(fb.reports, "|"); got != "network:|volume:/dev/rbd0" {
		t.Errorf("reports = %s, want network then volume", got)
	}
	// Before the key, reports carry the token; after it, the boot's secret.
	if got := strings.Join(fb.auths, "|"); got != "tok123|secret42" {
		t.Errorf("report auths = %s, want the token then the secret", got)
	}
	fi, err := os.Stat(filepath.Join(root, reportSecretFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("report secret file: %v, %v; want mode 600", fi, err)
	}
	// A later call (report root) takes the saved secret.
	later, err := e.client()
	if err != nil || later.auth != "secret42" {
		t.Errorf("client() auth = %q, %v; want the saved secret", later.auth, err)
	}
}

// TestPinRefusesAnotherServer: a server with another certificate (a man in
// the middle on the boot LAN) never sees the token: the TLS handshake fails.
func TestPinRefusesAnotherServer(t *testing.T) {
	t.Parallel()
	fb := &fakeBootd{token: "tok", key: make([]byte, 28), now: time.Now()}
	srv := httptest.NewTLSServer(fb)
	defer srv.Close()
	// The overlay names another certificate than the one srv presents.
	root := fakeNode(t, srv.URL, "tok", strings.Repeat("ab", sha256.Size))
	e := &env{root: root, kernel: &recKernel{}, out: os.Stderr, deviceWait: time.Second}
	err := e.mapVolume(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not the one this node's overlay names") {
		t.Errorf("map against an unpinned certificate = %v, want the pin refusal", err)
	}
	if fb.keyAsked != 0 || len(fb.reports) != 0 {
		t.Errorf("the server got %d key requests and reports %v past a failed pin", fb.keyAsked, fb.reports)
	}
	if _, err := newClient(strings.Replace(srv.URL, "https:", "http:", 1), pin(srv)); err == nil {
		t.Errorf("newClient accepted a plain http URL")
	}
}

func TestMapFailuresAreReported(t *testing.T) {
	t.Parallel()
	fb := &fakeBootd{token: "right", key: make([]byte, 28), now: time.Now()}
	srv := httptest.NewTLSServer(fb)
	defer srv.Close()
	root := fakeNode(t, srv.URL, "wrong", pin(srv))
	e := &env{root: root, kernel: &recKernel{}, out: os.Stderr, deviceWait: time.Second}
	err := e.mapVolume(context.Background())
	if err == nil || !strings.Contains(err.Error(), "token refused") {
		t.Fatalf("map with a wrong token = %v, want bootd's refusal", err)
	}
	if n := len(fb.reports); n == 0 || !strings.HasPrefix(fb.reports[n-1], "failed:") {
		t.Errorf("reports = %v, want a failed report last", fb.reports)
	}
	written, _ := os.ReadFile(filepath.Join(root, "sys/bus/rbd/add_single_major"))
	if len(written) != 0 {
		t.Errorf("a refused key still mapped: %q", written)
	}
}

func TestSettingsRefusals(t *testing.T) {
	t.Parallel()
	for name, files := range map[string]map[string]string{
		"no bootd=":        {"proc/cmdline": "root=/dev/sda1", "etc/bootd/node.conf": ""},
		"not http":         {"proc/cmdline": "bootd=ftp://x", "etc/bootd/node.conf": ""},
		"plain http":       {"proc/cmdline": "bootd=http://198.18.0.1/boot/x", "etc/bootd/node.conf": "monitors=1.2.3.4:6789\npool=rbd\nimage=root\nuser=u\n"},
		"no node.conf":     {"proc/cmdline": "bootd=https://198.18.0.1/boot/x"},
		"missing monitors": {"proc/cmdline": "bootd=https://198.18.0.1/boot/x", "etc/bootd/node.conf": "pool=rbd\nimage=root\nuser=u\n"},
		"bad line":         {"proc/cmdline": "bootd=https://198.18.0.1/boot/x", "etc/bootd/node.conf": "monitors 1.2.3.4\n"},
	} {
		root := t.TempDir()
		writeFiles(t, root, files)
		if _, err := (&env{root: root}).readSettings(); err == nil {
			t.Errorf("%s: readSettings = nil error", name)
		}
	}
}

// TestMapStringOptions: node.conf's options= (ms_mode from bootd's
// ceph_ms_mode, '=' and all) end the options word of the map string.
func TestMapStringOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ conf, want string }{
		{"monitors=198.18.0.1:6789\npool=rbd\nnamespace=n1\nimage=root\nuser=n1\n",
			"198.18.0.1:6789 name=n1,key=client.n1,_pool_ns=n1 rbd root -"},
		{"monitors=198.18.0.1:3300\npool=rbd\nnamespace=n1\nimage=root\nuser=n1\noptions=ms_mode=secure\n",
			"198.18.0.1:3300 name=n1,key=client.n1,_pool_ns=n1,ms_mode=secure rbd root -"},
		{"monitors=198.18.0.1:3300,198.18.0.2:3300\npool=rbd\nimage=root\nuser=n1\noptions=ms_mode=crc\n",
			"198.18.0.1:3300,198.18.0.2:3300 name=n1,key=client.n1,ms_mode=crc rbd root -"},
	} {
		root := t.TempDir()
		writeFiles(t, root, map[string]string{"proc/cmdline": "bootd=https://198.18.0.1/boot/x\n", "etc/bootd/node.conf": tc.conf})
		s, err := (&env{root: root}).readSettings()
		if err != nil {
			t.Fatalf("readSettings(%q): %v", tc.conf, err)
		}
		if got := s.mapString(); got != tc.want {
			t.Errorf("mapString() from %q = %q, want %q", tc.conf, got, tc.want)
		}
	}
}

// consoleFile is a file standing for the console, and a function that reads it.
func consoleFile(t *testing.T) (*os.File, func() string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "console")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, func() string {
		b, _ := os.ReadFile(f.Name())
		return string(b)
	}
}

// TestKeyWaitsForCeph: bootd answering the key request "Ceph unavailable,
// retry" (503) twice, then the key: bootd-init says on the console that it
// waits for Ceph, waits at least bootd's Retry-After, asks again with the
// same token and maps. Answering it always: it gives up after keyTries,
// having waited no longer than bootd's default boot window. A 403 is not
// asked again. No answer at all (the connection closed) is asked again too,
// after bootd-init's own first wait.
func TestKeyWaitsForCeph(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		unavailable int
		token       string
		wantErr     string
		wantTries   int
		drop        int
	}{
		{"503 then 200", 2, "tok", "", 3, 0},
		{"503 always", 1000, "tok", "gave up waiting for Ceph after 12 tries", keyTries, 0},
		{"403", 0, "wrong", "token refused", 1, 0},
		{"no answer then 200", 0, "tok", "", 3, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fb := &fakeBootd{token: "tok", key: bytes.Repeat([]byte{0xAB}, 28), now: time.Now(), unavailable: tc.unavailable, drop: tc.drop}
			srv := httptest.NewTLSServer(fb)
			defer srv.Close()
			out, console := consoleFile(t)
			var slept []time.Duration
			root := fakeNode(t, srv.URL, tc.token, pin(srv))
			e := &env{root: root, kernel: &recKernel{}, out: out, deviceWait: time.Second,
				sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
			err := e.mapVolume(context.Background())
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("map = %v, want the volume mapped", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("map = %v, want %q", err, tc.wantErr)
			}
			if fb.keyTries != tc.wantTries || len(slept) != tc.wantTries-1 {
				t.Errorf("%d key requests and %d waits, want %d and %d", fb.keyTries, len(slept), tc.wantTries, tc.wantTries-1)
			}
			var total time.Duration
			least := 7 * time.Second // bootd's Retry-After
			if tc.drop > 0 {
				least = keyFirstWait // no answer, no Retry-After
			}
			for _, d := range slept {
				if d < least || d > keyMaxWait {
					t.Errorf("waited %s, want %s to %s", d, least, keyMaxWait)
				}
				total += d
			}
			if total >= 5*time.Minute {
				t.Errorf("waited %s in all, want less than bootd's default boot window", total)
			}
			if n := strings.Count(console(), "bootd: waiting for Ceph"); n != len(slept) {
				t.Errorf("console says it waits for Ceph %d times for %d waits:\n%s", n, len(slept), console())
			}
			written, _ := os.ReadFile(filepath.Join(root, "sys/bus/rbd/add_single_major"))
			if mapped := len(written) != 0; mapped != (tc.wantErr == "") {
				t.Errorf("mapped %v (%q), want %v", mapped, written, tc.wantErr == "")
			}
		})
	}
}

// TestFallbackInstances: with several bootd instances, node.conf names the
// others' node listeners. The instance on the command line is gone (its
// listener closed) and the first fallback presents a certificate other
// than its pin (a man in the middle): bootd-init maps the volume with the
// key of the second fallback, and the impostor never sees the token.
func TestFallbackInstances(t *testing.T) {
	t.Parallel()
	gone := httptest.NewTLSServer(http.NotFoundHandler())
	goneURL, gonePin := gone.URL, pin(gone)
	gone.Close()
	impostor := &fakeBootd{token: "tok", key: make([]byte, 28), now: time.Now()}
	isrv := httptest.NewTLSServer(impostor)
	defer isrv.Close()
	fb := &fakeBootd{token: "tok", key: bytes.Repeat([]byte{7}, 28), now: time.Now()}
	srv := httptest.NewTLSServer(fb)
	defer srv.Close()
	root := fakeNode(t, goneURL, "tok", gonePin)
	conf := filepath.Join(root, "etc/bootd/node.conf")
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	b = fmt.Appendf(b, "fallback=%s %s\nfallback=%s %s\n", bootfs.NewLayout(isrv.URL).Node(testMAC), strings.Repeat("ab", sha256.Size),
		bootfs.NewLayout(srv.URL).Node(testMAC), pin(srv))
	if err := os.WriteFile(conf, b, 0o644); err != nil {
		t.Fatal(err)
	}
	k := &recKernel{}
	e := &env{root: root, kernel: k, out: os.Stderr, deviceWait: time.Second}
	if err := e.mapVolume(context.Background()); err != nil {
		t.Fatalf("map with the first instance gone = %v, want the volume mapped by way of the other", err)
	}
	if fb.keyAsked != 1 || !bytes.Equal(k.key, fb.key) {
		t.Errorf("the fallback released %d keys, the kernel got %x; want its key once", fb.keyAsked, k.key)
	}
	if impostor.keyTries != 0 || len(impostor.reports) != 0 {
		t.Errorf("the impostor got %d key requests and reports %v", impostor.keyTries, impostor.reports)
	}
	if got := strings.Join(fb.reports, "|"); got != "network:|volume:/dev/rbd0" {
		t.Errorf("reports at the fallback = %s, want network then volume", got)
	}
	// A fallback that is not https is refused, as the command line's would be.
	b = append(b, "fallback=http://198.18.0.9:8443/boot/52-54-00-12-34-56 "+pin(srv)+"\n"...)
	os.WriteFile(conf, b, 0o644)
	if _, err := e.client(); err == nil || !strings.Contains(err.Error(), "not an https URL") {
		t.Errorf("client() with a plain http fallback = %v, want refused", err)
	}
}
