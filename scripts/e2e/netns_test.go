//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test network: a bridge with bootd's and Ceph's address, tap devices
// for the machines, and IPv6 router advertisements so that iPXE does not
// wait ~13 s for them (measured here: docs/performance.md, Network boot).
const (
	bridgeAddr = "198.18.0.1"
	bridgeCIDR = "198.18.0.1/15"
	ipv6Prefix = "fd00:b007::/64"
)

// netns is a network namespace the test made and removes.
type netns struct {
	name  string
	dir   string
	procs []*proc
}

// proc is a process the harness started; done closes once it is reaped.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newNetns makes the namespace with br0 and taps tap0..tap<n-1>, and
// removes it (and every process started in it) when the test ends.
func newNetns(t *testing.T, taps int) *netns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the end-to-end harness needs root (network namespaces, tap devices)")
	}
	ns := &netns{name: fmt.Sprintf("bootd-e2e-%d", os.Getpid()), dir: t.TempDir()}
	run(t, "ip", "netns", "add", ns.name)
	t.Cleanup(ns.teardown)
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		// A bridge's own MAC follows its lowest port's unless set: a veth
		// joining later (an attacker, a second bootd) would change the MAC of
		// Ceph's and bootd's address under the clients already talking to it.
		{"link", "add", "br0", "address", "02:b0:07:00:00:01", "type", "bridge"},
		{"addr", "add", bridgeCIDR, "dev", "br0"},
		{"addr", "add", "fd00:b007::1/64", "dev", "br0", "nodad"},
		{"link", "set", "br0", "up"},
	} {
		run(t, "ip", append([]string{"-n", ns.name}, args...)...)
	}
	for i := range taps {
		tap := fmt.Sprintf("tap%d", i)
		run(t, "ip", "-n", ns.name, "tuntap", "add", "dev", tap, "mode", "tap")
		run(t, "ip", "-n", ns.name, "link", "set", tap, "master", "br0")
		run(t, "ip", "-n", ns.name, "link", "set", tap, "up")
	}
	// radvd refuses to run where IPv6 forwarding is off; this is the namespace's own setting.
	run(t, "ip", "netns", "exec", ns.name, "sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1")
	ns.startRadvd(t)
	return ns
}

func (ns *netns) startRadvd(t *testing.T) {
	t.Helper()
	conf := filepath.Join(ns.dir, "radvd.conf")
	os.WriteFile(conf, []byte("interface br0 {\n AdvSendAdvert on;\n MinRtrAdvInterval 3;\n MaxRtrAdvInterval 4;\n"+
		" prefix "+ipv6Prefix+" { AdvOnLink on; AdvAutonomous on; };\n};\n"), 0o644)
	p := ns.start(t, "radvd", "radvd", "--nodaemon", "-C", conf, "-p", filepath.Join(ns.dir, "radvd.pid"), "-m", "stderr")
	time.Sleep(500 * time.Millisecond)
	if p.exited() {
		t.Fatalf("radvd stopped at once; its log:\n%s", ns.logTail("radvd", 20))
	}
}

// start runs a command inside the namespace in its own process group, with
// its output in <dir>/<name>.log, and stops it by PID at teardown.
func (ns *netns) start(t *testing.T, name string, argv ...string) *proc {
	t.Helper()
	logf, err := os.Create(filepath.Join(ns.dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.name}, argv...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); logf.Close(); close(p.done) }()
	ns.procs = append(ns.procs, p)
	return p
}

// exec runs a command inside the namespace to completion.
func (ns *netns) exec(t *testing.T, env []string, argv ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.name}, argv...)...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends one process this harness started: SIGTERM to it and its group,
// SIGKILL after 10 s, and waits until it is reaped.
func stop(p *proc) {
	select {
	case <-p.done:
		return
	default:
	}
	pid := p.cmd.Process.Pid
	syscall.Kill(-pid, syscall.SIGTERM)
	syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-pid, syscall.SIGKILL)
		syscall.Kill(pid, syscall.SIGKILL)
		<-p.done
	}
}

func (ns *netns) teardown() {
	for i := len(ns.procs) - 1; i >= 0; i-- {
		stop(ns.procs[i])
	}
	exec.Command("ip", "netns", "delete", ns.name).Run()
}

// logTail returns the end of a log file the harness keeps, for failure messages.
func (ns *netns) logTail(name string, lines int) string {
	b, _ := os.ReadFile(filepath.Join(ns.dir, name+".log"))
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// lanHost makes a network namespace joined to the rig's br0 by a veth pair
// (vethName on the bridge's side, eth0 with mac inside) and takes a DHCP
// lease from bootd there (busybox udhcpc, which quits once bound and leaves
// the address on eth0; dhcpArgs add to its command line, e.g. a vendor
// class). It returns the leased address and a function removing the
// namespace, and the veth pair with it.
func (r *rig) lanHost(t *testing.T, name, vethName, mac string, dhcpArgs ...string) (string, func()) {
	t.Helper()
	run(t, "ip", "netns", "add", name)
	remove := func() { exec.Command("ip", "netns", "delete", name).Run() }
	run(t, "ip", "-n", r.ns.name, "link", "add", vethName, "type", "veth", "peer", "name", "eth0", "netns", name)
	run(t, "ip", "-n", r.ns.name, "link", "set", vethName, "master", "br0", "up")
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	run(t, "ip", "-n", name, "link", "set", "eth0", "address", mac, "up")
	dir := t.TempDir()
	script, lease := filepath.Join(dir, "udhcpc.sh"), filepath.Join(dir, "lease")
	os.WriteFile(script, []byte("#!/bin/sh\ncase $1 in bound|renew) ip addr add \"$ip/$mask\" dev \"$interface\" && echo \"$ip\" >"+
		lease+" ;; esac\n"), 0o755)
	args := append([]string{"netns", "exec", name, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n",
		"-t", "5", "-T", "2", "-s", script}, dhcpArgs...)
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		remove()
		t.Fatalf("DHCP for %s in %s: %v\n%s\nbootd's log:\n%s", mac, name, err, out, r.ns.logTail("bootd", 30))
	}
	b, err := os.ReadFile(lease)
	if err != nil {
		remove()
		t.Fatalf("DHCP for %s in %s: no lease: %v", mac, name, err)
	}
	return strings.TrimSpace(string(b)), remove
}
