package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ansiRE matches the terminal escapes of the serial console (sgabios
// positions every character).
var ansiRE = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]|\r")

// netns is a network namespace made for one test, with a bridge br0 at
// 198.18.0.1/24 and a tap device tap0 on it.
type netns struct{ name string }

func newNetns(t *testing.T) *netns {
	t.Helper()
	for _, tool := range []string{"ip", "qemu-system-x86_64"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (make deps installs it): %v", tool, err)
		}
	}
	if os.Geteuid() != 0 {
		t.Fatal("this test makes a network namespace and needs root (make test runs as root)")
	}
	ns := &netns{name: fmt.Sprintf("bootd-dhcp-test-%d", os.Getpid())}
	runCmd(t, "ip", "netns", "add", ns.name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns.name).Run() })
	for _, c := range []string{
		"ip link set lo up",
		"ip link add br0 type bridge",
		"ip addr add 198.18.0.1/24 dev br0",
		"ip link set br0 up",
		"ip tuntap add dev tap0 mode tap",
		"ip link set tap0 master br0",
		"ip link set tap0 up",
	} {
		runCmd(t, append([]string{"ip", "netns", "exec", ns.name}, strings.Fields(c)...)...)
	}
	return ns
}

func (ns *netns) command(args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.name}, args...)...)
}

func runCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// stopByPID ends a process this test started and waits for it.
func stopByPID(cmd *exec.Cmd, sig syscall.Signal) {
	if cmd.Process == nil || cmd.ProcessState != nil {
		return
	}
	cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// TestQEMUiPXEFullMode boots a QEMU machine (SeaBIOS with the e1000's iPXE
// ROM from ipxe-qemu) on a bridge in a network namespace, with bootd serve
// as the bridge's full-mode DHCP server: iPXE must get an address from the
// pool and the URL of its iPXE script, and fetch it from bootd.
func TestQEMUiPXEFullMode(t *testing.T) {
	t.Parallel()
	const (
		mac  = "52:54:00:12:34:56"
		rom  = "/usr/lib/ipxe/qemu/pxe-e1000.rom" // package ipxe-qemu
		path = "/boot/52-54-00-12-34-56/boot.ipxe"
	)
	if _, err := os.Stat(rom); err != nil {
		t.Fatalf("iPXE ROM missing (make deps installs ipxe-qemu): %v", err)
	}
	ns := newNetns(t)
	dataDir := t.TempDir()
	bootd := ns.command(bootdBin, "serve", "--data-dir", dataDir, "--http-listen", "198.18.0.1:8080",
		"--dhcp-mode", "full", "--dhcp-interface", "br0", "--dhcp-pool-start", "198.18.0.100",
		"--dhcp-pool-end", "198.18.0.150", "--dhcp-router", "198.18.0.1", "--log-level", "debug")
	bootd.Env = cleanEnv()
	blog := new(syncBuffer)
	bootd.Stderr = blog
	out, err := bootd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := bootd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopByPID(bootd, syscall.SIGTERM) })
	sc := bufio.NewScanner(out)
	for sc.Scan() && !strings.Contains(sc.Text(), "admin listener serving on") {
	}
	go func() {
		for sc.Scan() {
		}
	}()

	cli := func(args ...string) string {
		t.Helper()
		c := ns.command(append([]string{bootdBin}, args...)...)
		c.Env = append(cleanEnv(), "BOOTD_SERVER=https://127.0.0.1:9443", "BOOTD_TOKEN_FILE="+dataDir+"/api-token",
			"BOOTD_DATA_DIR="+dataDir)
		b, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("bootd %s: %v\n%s\nbootd log:\n%s", strings.Join(args, " "), err, b, blog)
		}
		return string(b)
	}
	cli("enroll", mac, "--image", "debian-12", "--hostname", "vm1")

	console := new(syncBuffer)
	qemu := ns.command("qemu-system-x86_64", "-machine", "pc,accel=tcg", "-m", "256", "-nographic", "-device", "sga",
		"-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no",
		"-device", "e1000,netdev=n0,mac="+mac+",romfile="+rom, "-boot", "n")
	qemu.Stdout, qemu.Stderr = console, console
	start := time.Now()
	if err := qemu.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopByPID(qemu, syscall.SIGKILL) })

	wants := []string{"net0: 198.18.0.100/255.255.255.0 gw 198.18.0.1", "Filename: http://198.18.0.1:8080" + path}
	fetched := regexp.MustCompile(`msg="http request" method=GET path=` + regexp.QuoteMeta(path) + `.* remote=198\.18\.0\.100:`)
	deadline := time.Now().Add(90 * time.Second)
	for {
		text := ansiRE.ReplaceAllString(console.String(), "")
		ok := fetched.MatchString(blog.String())
		for _, w := range wants {
			ok = ok && strings.Contains(text, w)
		}
		if ok {
			t.Logf("iPXE fetched its script %.1f s after QEMU started", time.Since(start).Seconds())
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 90 s: want console lines %q and the script fetched from bootd\nconsole:\n%s\nbootd log:\n%s",
				wants, text, blog)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// bootd's timeline for the node holds the DHCP exchange.
	var tl struct {
		Boots []struct {
			Events []struct{ Stage, Source, Detail string }
		}
	}
	if err := json.Unmarshal([]byte(cli("timeline", mac, "-o", "json")), &tl); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, b := range tl.Boots {
		for _, e := range b.Events {
			found = found || e.Stage == "dhcp" && e.Source == "198.18.0.100" && strings.Contains(e.Detail, path)
		}
	}
	if !found {
		t.Errorf("timeline = %+v, want a dhcp event from 198.18.0.100 naming the script", tl)
	}
}
