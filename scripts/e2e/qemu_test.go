//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// firmware is how a virtual machine network-boots.
type firmware string

const (
	// bios: SeaBIOS with the e1000's iPXE option ROM (ipxe-qemu) doing DHCP itself.
	bios firmware = "bios"
	// uefi: OVMF's own PXE client (no NIC ROM), which fetches snponly.efi over TFTP.
	uefi firmware = "uefi"
)

// vm is one QEMU run and its serial console.
type vm struct {
	proc    *proc
	mu      sync.Mutex
	console []string
	at      []time.Time // when each console line arrived
	log     string
	started time.Time
	done    chan struct{}
}

// bootVM starts QEMU (TCG) on tap in the namespace and collects its console.
func bootVM(t *testing.T, ns *netns, fw firmware, tap, mac, name string) *vm {
	t.Helper()
	// RDRAND, as every server bootd targets has: the guest kernel seeds its
	// random number generator at once, which TLS to bootd's node listener
	// needs (without it, a TCG guest may wait many seconds).
	args := []string{"qemu-system-x86_64", "-accel", "tcg", "-cpu", "qemu64,+rdrand", "-m", "768", "-smp", "1",
		"-nographic", "-no-reboot", "-serial", "mon:stdio",
		"-netdev", "tap,id=n0,ifname=" + tap + ",script=no,downscript=no"}
	switch fw {
	case bios:
		args = append(args, "-machine", "pc", "-boot", "n", "-device", "e1000,netdev=n0,mac="+mac)
	case uefi:
		vars := filepath.Join(ns.dir, name+"-OVMF_VARS.fd")
		b, err := os.ReadFile("/usr/share/OVMF/OVMF_VARS_4M.fd")
		if err != nil {
			t.Fatalf("OVMF is needed (package ovmf): %v", err)
		}
		os.WriteFile(vars, b, 0o644)
		args = append(args, "-machine", "q35",
			"-drive", "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
			"-drive", "if=pflash,format=raw,file="+vars,
			"-device", "virtio-net-pci,netdev=n0,mac="+mac+",romfile=,bootindex=1")
	}
	return startQEMU(t, ns, name, args[1:])
}

// startQEMU runs qemu-system-x86_64 (TCG) with args in the namespace and
// collects its serial console.
func startQEMU(t *testing.T, ns *netns, name string, args []string) *vm {
	t.Helper()
	if args[0] != "-accel" {
		args = append([]string{"-accel", "tcg", "-cpu", "qemu64,+rdrand", "-m", "768", "-smp", "1", "-nographic", "-no-reboot", "-serial", "mon:stdio"}, args...)
	}
	return runQEMU(t, ns, name, append([]string{"qemu-system-x86_64"}, args...))
}

// runQEMU runs argv (a qemu-system binary and its arguments) in the
// namespace and collects its serial console (-serial mon:stdio).
func runQEMU(t *testing.T, ns *netns, name string, args []string) *vm {
	t.Helper()
	v := &vm{log: filepath.Join(ns.dir, name+".console.log"), started: time.Now(), done: make(chan struct{})}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.name}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start qemu: %v", err)
	}
	v.proc = &proc{cmd: cmd, done: v.done}
	ns.procs = append(ns.procs, v.proc)
	logf, _ := os.Create(v.log)
	go func() {
		defer close(v.done)
		defer logf.Close()
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := strings.TrimRight(sc.Text(), "\r")
			fmt.Fprintln(logf, line)
			v.mu.Lock()
			v.console = append(v.console, line)
			v.at = append(v.at, time.Now())
			v.mu.Unlock()
		}
		cmd.Wait()
	}()
	return v
}

// wait returns the first console line matching re, waiting up to timeout,
// or fails the test with the console's end.
func (v *vm) wait(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	seen := 0
	for {
		v.mu.Lock()
		lines := v.console[seen:]
		seen = len(v.console)
		v.mu.Unlock()
		for _, l := range lines {
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		}
		select {
		case <-v.done:
			v.mu.Lock()
			n := len(v.console)
			v.mu.Unlock()
			if n == seen {
				t.Fatalf("the VM stopped before %q; console:\n%s", re, v.tail(60))
			}
			continue
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q on the console within %s; console:\n%s", re, timeout, v.tail(60))
		}
	}
}

// atRoot checks what the guest says once it is up (after reMarker): its /
// is its RBD volume and its hostname is host, as bootd gave it.
func (v *vm) atRoot(t *testing.T, host string) {
	t.Helper()
	if got := v.wait(t, reRoot, 10*time.Second)[1]; got != "/dev/rbd0" {
		t.Errorf("/ is mounted from %s, want /dev/rbd0", got)
	}
	if got := v.wait(t, reHostname, 10*time.Second)[1]; got != host {
		t.Errorf("hostname %s, want %s (given by bootd)", got, host)
	}
}

// finish waits for the VM to power off by itself.
func (v *vm) finish(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case <-v.done:
	case <-time.After(timeout):
		stop(v.proc)
		t.Fatalf("the VM did not power off within %s; console:\n%s", timeout, v.tail(40))
	}
}

func (v *vm) tail(n int) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	lines := v.console
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
