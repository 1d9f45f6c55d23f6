package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bootd/bootd/bootfs/bootfstest"
	"github.com/bootd/bootd/tftp/tftptest"
)

var tftpRE = regexp.MustCompile(`^TFTP on (\S+)`)

// startServeDelivery runs bootd serve with a TFTP server on a free loopback
// port and returns it with the TFTP address it printed.
func startServeDelivery(t *testing.T, extra ...string) (*daemon, string) {
	t.Helper()
	tftpAddr := ""
	d := startDaemonSaw(t, func(line string) {
		if m := tftpRE.FindStringSubmatch(line); m != nil {
			tftpAddr = m[1]
		}
	}, append([]string{"--tftp-listen", "127.0.0.1:0"}, extra...)...)
	if tftpAddr == "" {
		t.Fatalf("bootd serve printed no TFTP address")
	}
	return d, tftpAddr
}

// TestServeDelivers runs the real daemon with Debian's iPXE folder (the
// default ipxe_dir) and an image catalog, and fetches over both protocols.
func TestServeDelivers(t *testing.T) {
	t.Parallel()
	fx := bootfstest.New(t, bootfstest.Options{})
	d, tftpAddr := startServeDelivery(t, "--images-dir", filepath.Join(fx.Dir, "catalog"), "--log-level", "debug")
	if r := d.cli(t, "enroll", "52:54:00:12:34:56", "--image", "debian-12", "--hostname", "web1"); r.code != 0 {
		t.Fatalf("enroll = %+v", r)
	}
	// Debian's ipxe package: undionly.kpxe is a file, ipxe.efi a link to /boot/ipxe.efi.
	for name, path := range map[string]string{"undionly.kpxe": "/usr/lib/ipxe/undionly.kpxe", "snponly.efi": "/usr/lib/ipxe/snponly.efi",
		"ipxe.efi": "/usr/lib/ipxe/ipxe.efi"} {
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("Debian's ipxe package: %v", err)
		}
		res, err := tftptest.Get(tftpAddr, name, tftptest.Options{BlockSize: 1468, TSize: true})
		if err != nil || !bytes.Equal(res.Data, want) {
			t.Errorf("TFTP %s = %v, want the %d bytes of %s", name, err, len(want), path)
		}
		resp, err := http.Get(d.bootURL + "/boot/ipxe/" + name)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(body, want) {
			t.Errorf("GET /boot/ipxe/%s = %d with %d bytes, want %s", name, resp.StatusCode, len(body), path)
		}
	}
	script, err := exec.Command("curl", "-fsS", d.bootURL+"/boot/52-54-00-12-34-56/boot.ipxe").Output()
	if err != nil || !strings.Contains(string(script), "kernel kernel initrd=initrd0 initrd=initrd1 console=ttyS0") {
		t.Errorf("curl boot.ipxe = %q, %v", script, err)
	}
	res, err := tftptest.Get(tftpAddr, "52-54-00-12-34-56/kernel", tftptest.Options{BlockSize: 1468})
	if err != nil || !bytes.Equal(res.Data, fx.Want["x86/kernel"]) {
		t.Errorf("TFTP 52-54-00-12-34-56/kernel = %v", err)
	}
	wants := []string{"script", "http boot.ipxe: ", "tftp", "tftp 52-54-00-12-34-56/kernel: 5000 bytes in "}
	var r result
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		// Events are recorded once the client has its file.
		if r = d.cli(t, "timeline", "52:54:00:12:34:56"); strings.Contains(r.stdout, wants[1]) && strings.Contains(r.stdout, wants[3]) {
			break
		}
	}
	for _, want := range wants {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("bootd timeline lacks %q:\n%s", want, r.stdout)
		}
	}
	d.stop(t)
	if !strings.Contains(d.stderr.String(), "tftp serving") {
		t.Errorf("log lacks the TFTP start:\n%s", d.stderr)
	}
}
