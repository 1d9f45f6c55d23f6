package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/bootfs/bootfstest"
)

// TestIPXEInQEMU runs the generated scripts in the real iPXE: Debian's
// ipxe.lkrn boots in QEMU (TCG) with user networking, whose DHCP gives it an
// address and whose 10.0.2.2 is this machine's loopback, and chains
// /boot/${mac:hexhyp}/boot.ipxe from bootd. The x86 image's "kernel" here is
// an iPXE script that prints a line and fails, so the node's script must
// fetch kernel and initrds, boot, fail, and fetch them again.
func TestIPXEInQEMU(t *testing.T) {
	t.Parallel()
	d := startDelivery(t, bootfstest.Options{})
	kernel := filepath.Join(d.fx.Dir, "images/debian-12/vmlinuz")
	if err := os.WriteFile(kernel, []byte("#!ipxe\necho bootd-test: the kernel ran\nexit 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(d.http.Listener.Addr().String())
	tests := []struct {
		mac  string
		want []string // console lines, in order
	}{
		{bootfstest.X86, []string{
			"bootd: web1 (52:54:00:12:34:56) boots debian-12", "kernel... ok", "initrd/0... ok", "initrd/1... ok",
			"bootd-test: the kernel ran", "bootd: fetching or booting debian-12 failed; trying again in 7 seconds",
			"kernel... ok", "initrd/0... ok"}},
		{bootfstest.Unknown, []string{
			"bootd: this machine (52:54:00:99:99:99) is not enrolled.", "bootd: asking again in 7 seconds",
			"boot.ipxe... ok", "bootd: this machine (52:54:00:99:99:99) is not enrolled."}},
		{bootfstest.Off, []string{"bootd: network boot is off for 52:54:00:00:00:0f; booting from the next device"}},
	}
	t.Run("machines", func(t *testing.T) { // returns when its parallel subtests have
		for _, tt := range tests {
			t.Run(tt.mac, func(t *testing.T) {
				t.Parallel()
				url := "http://10.0.2.2:" + port + "/boot/${mac:hexhyp}/boot.ipxe"
				got, err := qemuIPXE(t, tt.mac, "dhcp && chain "+url, tt.want, 90*time.Second)
				if err != nil {
					t.Errorf("iPXE on %s: %v\nconsole:\n%s", tt.mac, err, got)
				}
			})
		}
	})
	if err := d.fx.Service.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	boots, err := d.fx.Service.Timeline(t.Context(), bootfstest.MAC(bootfstest.X86))
	if err != nil || len(boots) == 0 {
		t.Fatalf("x86 timeline = %v, %v", boots, err)
	}
	kernels := 0
	for _, ev := range boots[len(boots)-1].Events {
		if ev.Stage == boot.StageKernel {
			kernels++
		}
		if ev.Source != "127.0.0.1" {
			t.Errorf("event %+v from %s, want 127.0.0.1 (QEMU's user networking)", ev, ev.Source)
		}
	}
	if kernels < 2 {
		t.Errorf("x86 timeline has %d kernel fetches, want the first and the retry", kernels)
	}
}

// qemuIPXE boots ipxe.lkrn with script as its command line and a NIC with
// mac, and waits until the console has shown every line of want, in order.
// It returns the console text.
func qemuIPXE(t *testing.T, mac, script string, want []string, limit time.Duration) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", "-machine", "pc,accel=tcg", "-m", "128",
		"-nographic", "-no-reboot", "-kernel", "/usr/lib/ipxe/ipxe.lkrn", "-append", script,
		"-netdev", "user,id=n0", "-device", "e1000,netdev=n0,romfile=,mac="+mac)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("qemu: %v", err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	var mu sync.Mutex
	var console strings.Builder
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		next := 0
		for sc.Scan() {
			line := strings.TrimSpace(strings.ReplaceAll(sc.Text(), "\r", ""))
			mu.Lock()
			console.WriteString(line + "\n")
			mu.Unlock()
			if next < len(want) && strings.Contains(line, want[next]) {
				if next++; next == len(want) {
					close(found)
				}
			}
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case <-found:
		return "", nil
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		return console.String(), fmt.Errorf("did not show %q within %s", want, limit)
	}
}
