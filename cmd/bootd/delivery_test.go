package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"github.com/bootd/bootd/boot/access"
	"github.com/bootd/bootd/boot/access/accesstest"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/bootfs/bootfstest"
	"github.com/bootd/bootd/tftp/tftptest"
	"github.com/bootd/bootd/web"
	"github.com/prometheus/client_golang/prometheus"
)

// delivery is a fixture served over TFTP and HTTP on loopback, wired as
// bootd serve wires them.
type delivery struct {
	fx       *bootfstest.Fixture
	tftpAddr string
	http     *httptest.Server
}

func startDelivery(t testing.TB, o bootfstest.Options) *delivery {
	t.Helper()
	fx := bootfstest.New(t, o)
	reg := prometheus.NewRegistry()
	log := slog.New(slog.DiscardHandler)
	srv, conn, err := listenTFTP("127.0.0.1:0", fx.Service, fx.Files, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(conn) }()
	t.Cleanup(func() {
		srv.Shutdown()
		if err := <-done; err != nil {
			t.Errorf("tftp Serve = %v", err)
		}
	})
	h, err := web.New(webDomain(web.Config{Users: testDirectory(t), Audit: accesstest.NewAuditLog(access.Retention{}), Registry: reg, Logger: log, Files: fx.Files}, fx.Service))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h.Boot)
	t.Cleanup(hs.Close)
	return &delivery{fx: fx, tftpAddr: conn.LocalAddr().String(), http: hs}
}

// tftpEvents waits for n tftp events in mac's newest boot and returns their details.
func (d *delivery) tftpEvents(t *testing.T, mac string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		boots, err := d.fx.Service.Timeline(t.Context(), bootfstest.MAC(mac))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		if len(boots) > 0 {
			for _, ev := range boots[len(boots)-1].Events {
				if ev.Stage == boot.StageTFTP {
					got = append(got, ev.Text())
				}
			}
		}
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPiBootSequence replays what a Raspberry Pi 4 bootloader asks for
// (Raspberry Pi documentation, "Network booting" and the bcm2711 bootloader's
// TFTP_PREFIX): probes of start4.elf and start.elf, then config.txt,
// firmware, device tree, overlays, cmdline.txt, kernel and initramfs, all
// under its serial, with octet, tsize 0 and blksize 1024.
func TestPiBootSequence(t *testing.T) {
	t.Parallel()
	d := startDelivery(t, bootfstest.Options{}) // the Pi was seen at 127.0.0.1
	fx := d.fx
	s := bootfstest.PiSerial + "/"
	tests := []struct {
		name  string
		probe bool
		want  string // a fixture file, "gen" for a generated one, "" for file not found
	}{
		{"start4.elf", true, "pi/start4.elf"},
		{"start.elf", true, ""},
		{"config.txt", false, "gen"},
		{"pieeprom.sig", false, ""},
		{"recovery.elf", false, ""},
		{"start4.elf", false, "pi/start4.elf"},
		{"fixup4.dat", false, "pi/fixup4.dat"},
		{"dt-blob.bin", false, ""},
		{"bcm2711-rpi-4-b.dtb", false, "pi/bcm2711-rpi-4-b.dtb"},
		{"overlays/overlay_map.dtb", false, "pi/overlays/overlay_map.dtb"},
		{"config.txt", false, "gen"},
		{"overlays/vc4-kms-v3d.dtbo", false, "pi/overlays/vc4-kms-v3d.dtbo"},
		{"cmdline.txt", false, "gen"},
		{"armstub8-gic.bin", false, ""},
		{"kernel8.img", false, "pi/kernel8.img"},
		{"initrd.img", false, "pi/initrd.img"},
	}
	var cfg, cmdline string
	for i, tt := range tests {
		o := tftptest.Options{BlockSize: 1024, TSize: true}
		if tt.probe {
			o.AbortAfter = 1
		}
		res, err := tftptest.Get(d.tftpAddr, s+tt.name, o)
		switch {
		case tt.want == "":
			var ep *tftptest.ErrorPacket
			if !errors.As(err, &ep) || ep.Code != 1 || ep.Message != "file not found" {
				t.Errorf("%d %s = %v, want TFTP error 1 file not found", i, tt.name, err)
			}
		case tt.probe:
			if !errors.Is(err, tftptest.ErrAborted) || !bytes.Equal(res.Data, fx.Want[tt.want][:1024]) {
				t.Errorf("%d probe %s = %v, want its first block", i, tt.name, err)
			}
		case err != nil:
			t.Errorf("%d %s = %v", i, tt.name, err)
		case tt.want == "gen":
			if tt.name == "config.txt" {
				cfg = string(res.Data)
			} else {
				cmdline = string(res.Data)
			}
		default:
			if !bytes.Equal(res.Data, fx.Want[tt.want]) || res.OACK["tsize"] != fmt.Sprint(len(fx.Want[tt.want])) || res.OACK["blksize"] != "1024" {
				t.Errorf("%d %s = %d bytes, OACK %v; want the %d of %s", i, tt.name, len(res.Data), res.OACK, len(fx.Want[tt.want]), tt.want)
			}
		}
	}
	for _, want := range []string{"arm_64bit=1\n", "enable_uart=1\n", "kernel=kernel8.img\n", "initramfs initrd.img followkernel\n", "cmdline=cmdline.txt\n"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config.txt lacks %q:\n%s", want, cfg)
		}
	}
	if cmdline != "console=serial0,115200 root=/dev/rbd0 rw hostname=pi1\n" {
		t.Errorf("cmdline.txt = %q", cmdline)
	}
	n, err := fx.Service.Node(t.Context(), bootfstest.MAC(bootfstest.Pi))
	if err != nil || n.PiSerial != bootfstest.PiSerial {
		t.Errorf("Pi node = %+v, %v; want serial %s bound", n, err, bootfstest.PiSerial)
	}
	evs := d.tftpEvents(t, bootfstest.Pi, len(tests))
	if len(evs) != len(tests) {
		t.Fatalf("timeline has %d tftp events, want %d: %q", len(evs), len(tests), evs)
	}
	all := strings.Join(evs, "\n")
	for _, want := range []string{ // a probe's end may be recorded after the next request
		"tftp d1c4f2a9/start4.elf: ended by the client after 1024 of 2500 bytes (a probe)",
		"tftp d1c4f2a9/start.elf: not found", "tftp d1c4f2a9/config.txt: ", "tftp d1c4f2a9/initrd.img: 7000 bytes in ",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("tftp events lack %q:\n%s", want, all)
		}
	}
}

// TestTFTPClientsThroughGlue fetches node files with curl and atftp through
// bootd's wiring and finds the transfers in the right timelines.
func TestTFTPClientsThroughGlue(t *testing.T) {
	t.Parallel()
	d := startDelivery(t, bootfstest.Options{PiAddr: net.IPv4(198, 18, 0, 9)})
	out := filepath.Join(t.TempDir(), "kernel")
	host, port, _ := net.SplitHostPort(d.tftpAddr)
	for _, cmd := range []*exec.Cmd{
		exec.Command("curl", "-sS", "--max-time", "20", "--tftp-blksize", "1468", "-o", out, "tftp://"+d.tftpAddr+"/52-54-00-12-34-56/kernel"),
		exec.Command("atftp", "--get", "-r", "52-54-00-12-34-56/kernel", "-l", out, "--option", "blksize 512", host, port),
	} {
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v %s", cmd, err, msg)
		}
		if got, _ := os.ReadFile(out); !bytes.Equal(got, d.fx.Want["x86/kernel"]) {
			t.Errorf("%s got %d bytes, want the kernel's %d", cmd.Args[0], len(got), len(d.fx.Want["x86/kernel"]))
		}
		os.Remove(out)
	}
	evs := d.tftpEvents(t, bootfstest.X86, 2)
	want := fmt.Sprintf("tftp 52-54-00-12-34-56/kernel: %d bytes in ", len(d.fx.Want["x86/kernel"]))
	if len(evs) != 2 || !strings.HasPrefix(evs[0], want) || !strings.HasPrefix(evs[1], want) {
		t.Errorf("x86 tftp events = %q, want two starting %q", evs, want)
	}
}

// hostileNames are names a client may try in order to escape a root, or
// to crash the server.
var hostileNames = []string{
	"../secret", "../../secret", "../../../../../../../../etc/passwd", "/etc/passwd", "//etc/passwd",
	"initrd/../../secret", "overlays/../../../secret", "./kernel", "..", ".", "...", ".hidden",
	"overlays/../.hidden", `..\..\secret`, `\etc\passwd`, `C:\Windows\win.ini`, "../secret\x00kernel",
	"\x00", "%2e%2e/secret", "%2e%2e%2fsecret", "..%2fsecret", "%252e%252e/secret", "..%c0%afsecret",
	"..%5csecret", "%00", "escape-abs", "escape-rel", "escape", "escape/", "a-folder", "fifo", "kernel/",
	strings.Repeat("a", 300), strings.Repeat("../", 100) + "etc/passwd", strings.Repeat("a/", 40) + "x",
	"kernel\r\nX-Injected: 1", "\xff\xfe", "~root/.ssh/id_rsa", "$(reboot)", "kernel;reboot",
	"\u2025/secret", "secret", "../boot.ipxe", "ipxe/../../secret",
}

// TestHostileNames sends every hostile name over TFTP (bare, under a Pi
// serial and under a MAC) and HTTP (under a MAC and under /boot/ipxe/):
// none escapes its root, none crashes the server, no answer names a path
// of the server's disk.
func TestHostileNames(t *testing.T) {
	t.Parallel()
	d := startDelivery(t, bootfstest.Options{})
	fx := d.fx
	if err := syscall.Mkfifo(filepath.Join(fx.Dir, "images/pi/firmware/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	secret, _ := os.ReadFile(fx.Secret)
	leaks := func(b []byte) bool {
		return bytes.Contains(b, secret) || bytes.Contains(b, []byte(fx.Dir)) || bytes.Contains(b, []byte("/etc/")) ||
			bytes.Contains(b, []byte("root:"))
	}
	if len(hostileNames) < 30 {
		t.Fatalf("only %d hostile names", len(hostileNames))
	}
	for _, name := range hostileNames {
		for _, prefix := range []string{"", bootfstest.PiSerial + "/", "52-54-00-12-34-56/"} {
			res, err := tftptest.Get(d.tftpAddr, prefix+name, tftptest.Options{BlockSize: 1468, Timeout: 2 * time.Second})
			var ep *tftptest.ErrorPacket
			if !errors.As(err, &ep) || ep.Code != 1 || (ep.Message != "file not found" && ep.Message != "access violation") {
				t.Errorf("TFTP %q = %d bytes, %v; want TFTP error 1, file not found or access violation", prefix+name, len(res.Data), err)
			}
			if res != nil && leaks(res.Data) || ep != nil && leaks([]byte(ep.Message)) {
				t.Errorf("TFTP %q leaked: %q", prefix+name, res.Data)
			}
		}
		for _, prefix := range []string{"/boot/52-54-00-12-34-56/", "/boot/dc-a6-32-01-02-03/", "/boot/ipxe/"} {
			target := prefix + rawPath(name)
			code, body := rawGET(t, d.http.Listener.Addr().String(), target)
			if code != http.StatusNotFound && code != http.StatusBadRequest {
				t.Errorf("GET %q = %d %q, want 404 or 400", target, code, body)
			}
			if leaks(body) {
				t.Errorf("GET %q leaked: %q", target, body)
			}
		}
	}
	// Both servers still work.
	if res, err := tftptest.Get(d.tftpAddr, "undionly.kpxe", tftptest.Options{}); err != nil || !bytes.Equal(res.Data, fx.Want["ipxe/undionly.kpxe"]) {
		t.Errorf("TFTP undionly.kpxe after the hostile names = %v", err)
	}
	if code, _ := rawGET(t, d.http.Listener.Addr().String(), "/boot/52-54-00-12-34-56/boot.ipxe"); code != 200 {
		t.Errorf("GET boot.ipxe after the hostile names = %d", code)
	}
}

// rawPath percent-encodes only the bytes an HTTP request line cannot carry
// as they are, so the server sees "..", backslashes and % signs raw.
func rawPath(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || c == '#' || c == '?' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// rawGET sends a GET with target exactly as given, on a fresh connection.
func rawGET(t *testing.T, addr, target string) (int, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: bootd\r\nConnection: close\r\n\r\n", target)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %q: %v", target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func TestTFTPListenValidation(t *testing.T) {
	t.Parallel()
	for addr, ok := range map[string]bool{
		"": true, ":69": true, "127.0.0.1:6969": true, "0.0.0.0:69": true, ":tftp": true,
		"69": false, "[::1]:69": false, "localhost:69": false, "127.0.0.1:99999": false, "127.0.0.1:x": false,
	} {
		_, err := loadServeConfig([]string{"--data-dir", "/tmp/x", "--tftp-listen", addr}, func(string) string { return "" })
		if (err == nil) != ok {
			t.Errorf("--tftp-listen %q: %v, want ok=%v", addr, err, ok)
		}
	}
}

// testDirectory is a directory of users in memory, with no one in it.
func testDirectory(t testing.TB) *access.Directory {
	t.Helper()
	dir, err := access.NewDirectory(access.Config{Store: accesstest.NewUsers(), Hash: accesstest.FastHash})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
