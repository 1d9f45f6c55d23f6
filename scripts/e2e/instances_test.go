//go:build e2e

package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Two bootd instances sharing one state in Ceph (--store rados), each in a
// network namespace of its own whose veth is bridged onto the boot LAN
// (br0, where Ceph listens at 198.18.0.1): two boot servers of one rack.

// instance is one bootd of TestTwoInstances.
type instance struct {
	name, addr string
	ns         *netns
	data       string
	proc       *proc
}

// startInstance makes the namespace of instance name at addr, bridged onto
// br0, and starts bootd serve in it: full DHCP on the LAN, the RADOS store,
// the rig's Ceph and images, and token in its api-token file (one store,
// one api-token: docs/operations.md).
func (r *rig) startInstance(t *testing.T, name, addr, token string) *instance {
	t.Helper()
	in := &instance{name: "boot-" + name, addr: addr,
		ns: &netns{name: r.ns.name + "-" + name, dir: filepath.Join(r.ns.dir, name)}}
	if err := os.MkdirAll(in.ns.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "ip", "netns", "add", in.ns.name)
	t.Cleanup(in.ns.teardown)
	veth := "veth-" + name
	run(t, "ip", "-n", r.ns.name, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", in.ns.name)
	run(t, "ip", "-n", r.ns.name, "link", "set", veth, "master", "br0", "up")
	run(t, "ip", "-n", in.ns.name, "link", "set", "lo", "up")
	run(t, "ip", "-n", in.ns.name, "addr", "add", addr+"/15", "dev", "eth0")
	run(t, "ip", "-n", in.ns.name, "link", "set", "eth0", "up")
	in.data = filepath.Join(in.ns.dir, "bootd")
	if err := os.MkdirAll(in.data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in.data, "api-token"), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	argv := []string{filepath.Join(repo, "bin/bootd"), "serve", "--instance-name", in.name,
		"--data-dir", in.data, "--http-listen", addr + ":8080", "--advertise", addr,
		"--images-dir", r.images, "--log-level", "debug",
		"--dhcp-mode", "full", "--dhcp-interface", "eth0",
		"--dhcp-pool-start", "198.18.0.100", "--dhcp-pool-end", "198.18.0.199",
		"--tftp-listen", addr + ":69", "--ipxe-dir", "/usr/lib/ipxe",
		"--store", "rados", "--ceph-conf", r.cephConf, "--ceph-user", "bootd",
		"--ceph-keyring", filepath.Join(filepath.Dir(r.cephConf), "client.bootd.keyring")}
	in.proc = in.ns.start(t, "bootd", argv...)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(in.ns.logTail("bootd", 200), "bootd serving") {
		if time.Now().After(deadline) || in.proc.exited() {
			t.Fatalf("%s did not start; its log:\n%s", in.name, in.ns.logTail("bootd", 60))
		}
		time.Sleep(200 * time.Millisecond)
	}
	return in
}

// twoInstances starts instances a (198.18.0.2) and b (198.18.0.3) with
// one fresh api-token; their logs are printed when the test fails.
func (r *rig) twoInstances(t *testing.T) (a, b *instance) {
	t.Helper()
	secret := make([]byte, 32)
	rand.Read(secret)
	token := hex.EncodeToString(secret)
	a = r.startInstance(t, "a", "198.18.0.2", token)
	b = r.startInstance(t, "b", "198.18.0.3", token)
	t.Cleanup(func() { // before the namespaces' teardown, registered earlier
		if t.Failed() {
			for _, in := range []*instance{a, b} {
				t.Logf("%s's log:\n%s", in.name, in.ns.logTail("bootd", 60))
			}
		}
	})
	return a, b
}

// kill stops the instance at once (SIGKILL, its process group too), as a
// crash or a power cut of its host would, and waits for it to be gone.
func (in *instance) kill() {
	pid := in.proc.cmd.Process.Pid
	syscall.Kill(-pid, syscall.SIGKILL)
	syscall.Kill(pid, syscall.SIGKILL)
	<-in.proc.done
}

// cli runs the bootd CLI against the instance, inside its namespace.
func (in *instance) cli(t *testing.T, args ...string) string {
	t.Helper()
	out, err := in.ns.exec(t, []string{"BOOTD_SERVER=https://127.0.0.1:9443",
		"BOOTD_TOKEN_FILE=" + filepath.Join(in.data, "api-token"), "BOOTD_DATA_DIR=" + in.data},
		append([]string{filepath.Join(repo, "bin/bootd")}, args...)...)
	if err != nil {
		t.Fatalf("%s: bootd %s: %v\n%s\nits log:\n%s", in.name, strings.Join(args, " "), err, out, in.ns.logTail("bootd", 40))
	}
	return out
}

// holdHTTP drops (on) or lets through (off) TCP to the instance's boot
// listener, with an nftables table in its namespace.
func (in *instance) holdHTTP(t *testing.T, on bool) {
	t.Helper()
	if on {
		for _, args := range [][]string{
			{"add", "table", "inet", "hold"},
			{"add", "chain", "inet", "hold", "input", "{ type filter hook input priority 0; }"},
			{"add", "rule", "inet", "hold", "input", "tcp", "dport", "8080", "drop"},
		} {
			run(t, "ip", append([]string{"netns", "exec", in.ns.name, "nft"}, args...)...)
		}
		return
	}
	run(t, "ip", "netns", "exec", in.ns.name, "nft", "delete", "table", "inet", "hold")
}

// waitFetch waits until the instance has recorded a script, kernel or
// initrd fetch of mac after since, from another address than notFrom.
func (in *instance) waitFetch(t *testing.T, mac, notFrom string, since time.Time, timeout time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		var tl timeline
		if err := json.Unmarshal([]byte(in.cli(t, "timeline", mac, "-o", "json")), &tl); err != nil {
			t.Fatal(err)
		}
		for _, b := range tl.Boots {
			for _, ev := range b.Events {
				if (ev.Stage == "script" || ev.Stage == "kernel" || ev.Stage == "initrd") && ev.Source != notFrom && ev.Time.After(since) {
					return
				}
			}
		}
	}
	t.Fatalf("%s: no script, kernel or initrd fetch of %s within %s", in.name, mac, timeout)
}

// logged reports whether a line of the instance's log holds every word.
func (in *instance) logged(words ...string) bool {
	for _, l := range strings.Split(in.ns.logTail("bootd", 400), "\n") {
		if !slices.ContainsFunc(words, func(w string) bool { return !strings.Contains(l, w) }) {
			return true
		}
	}
	return false
}

// ackedBy reports whether the instance's log shows a DHCP ACK sent to mac.
func (in *instance) ackedBy(mac string) bool { return in.logged("dhcp reply sent", "type=ACK", mac) }

// servedFile reports whether the instance's log shows a GET of mac's file
// answered 200.
func (in *instance) servedFile(mac, file string) bool {
	return in.logged("method=GET", "path=/boot/"+strings.ReplaceAll(mac, ":", "-")+"/"+file+" ", "status=200")
}

// TestTwoInstances: a BIOS machine boots its RBD volume to root while the
// instance that answered its DHCP is killed (SIGKILL) between the DHCP
// exchange and the script fetch: both instances' boot listeners are held
// (nftables) until one ACKs, that one is killed and the hold lifted, the
// firmware's fetch fails, SeaBIOS retries the network boot (as a server's
// boot order does), and the other instance serves the whole boot from the
// shared state, while an outsider on the LAN attacks it there (the trust
// chain's mid-boot attack, trust_test.go) and gets nothing. The timeline
// shows both instances, no event of the outsider's, and one key release.
func TestTwoInstances(t *testing.T) {
	r := setUpCeph(t, 1)
	a, b := r.twoInstances(t)
	const mac, host = "52:54:00:b0:07:21", "e2e-two"
	a.cli(t, "enroll", mac, "--image", "debian-12", "--hostname", host, "--size", "1G")
	// B sees the enrollment A made: one state.
	if out := b.cli(t, "list"); !strings.Contains(out, mac) {
		t.Fatalf("instance B's node list lacks the machine enrolled at A:\n%s", out)
	}
	// Each lists both, alive, with their boot listeners (bootd status).
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Second) {
		out := b.cli(t, "status")
		if strings.Contains(out, "boot-a ") && strings.Contains(out, "boot-b *") &&
			strings.Count(out, "alive") == 2 && strings.Contains(out, "http://198.18.0.2:8080") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bootd status at B does not list both instances alive:\n%s", out)
		}
	}
	// The outsider of the trust chain's attack below takes its lease now,
	// from either instance, as any host on the LAN has one.
	atk := r.newAttacker(t)
	for _, in := range []*instance{a, b} {
		in.holdHTTP(t, true)
	}
	// SeaBIOS with the e1000's iPXE ROM, rebooting 2 s after a failed
	// network boot (no -no-reboot: the guest's poweroff still ends QEMU).
	v := startQEMU(t, r.ns, "two", []string{"-accel", "tcg", "-cpu", "qemu64,+rdrand", "-m", "768", "-smp", "1",
		"-nographic", "-serial", "mon:stdio", "-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no",
		"-machine", "pc", "-boot", "order=n,reboot-timeout=2000", "-device", "e1000,netdev=n0,mac=" + mac})
	var answered, other *instance
	for deadline := time.Now().Add(2 * time.Minute); answered == nil; time.Sleep(20 * time.Millisecond) {
		switch {
		case a.ackedBy(mac):
			answered, other = a, b
		case b.ackedBy(mac):
			answered, other = b, a
		case time.Now().After(deadline):
			t.Fatalf("no instance ACKed the machine; A's log:\n%s\nB's log:\n%s", a.ns.logTail("bootd", 30), b.ns.logTail("bootd", 30))
		}
	}
	answered.kill()
	t.Logf("%s answered the DHCP and was killed (SIGKILL) before the script fetch", answered.name)
	answered.holdHTTP(t, false)
	other.holdHTTP(t, false)

	// The trust chain with two instances: while the machine boots at the
	// survivor (its session opened by the instance killed), an outsider on
	// the LAN fetches its script there and tries the key and reports with
	// every token found, none and a made-up one; it gets nothing.
	key := r.nodeKey(t, mac)
	other.waitFetch(t, mac, atk.addr, v.started, 3*time.Minute)
	attackAt(t, atk, mac, key, 5, "http://"+other.addr+":8080", "https://"+other.addr+":8443", "http://"+other.addr+":8080")

	v.wait(t, reMarker, 5*time.Minute)
	v.atRoot(t, host)
	v.wait(t, reDone, 30*time.Second)
	v.finish(t, time.Minute)

	var tl struct {
		Boots []struct {
			Events []struct{ Stage, Instance, Detail, Source string }
		}
	}
	if err := json.Unmarshal([]byte(other.cli(t, "timeline", mac, "-o", "json")), &tl); err != nil {
		t.Fatal(err)
	}
	by := map[string][]string{} // instance -> stages it recorded
	keys := 0
	for _, bt := range tl.Boots {
		for _, ev := range bt.Events {
			by[ev.Instance] = append(by[ev.Instance], ev.Stage)
			if ev.Source == atk.addr || strings.Contains(ev.Detail, spoofDetail) {
				t.Errorf("the timeline has the outsider's event: stage %s from %s: %q", ev.Stage, ev.Source, ev.Detail)
			}
			if ev.Stage == "key" && strings.HasPrefix(ev.Detail, "key released") {
				keys++
			}
		}
	}
	t.Logf("timeline by instance: %v", by)
	if len(by[answered.name]) == 0 || by[answered.name][0] != "dhcp" {
		t.Errorf("the timeline shows no DHCP answered by %s: %v", answered.name, by)
	}
	for _, st := range []string{"dhcp", "script", "kernel", "key", "volume", "root"} {
		if !strings.Contains(" "+strings.Join(by[other.name], " ")+" ", " "+st+" ") {
			t.Errorf("the timeline shows no %s stage served or recorded by %s: %v", st, other.name, by[other.name])
		}
	}
	if keys != 1 {
		t.Errorf("%d key releases on the timeline, want 1", keys)
	}
}

// TestKeyAtTheOtherInstance: the instance that served a machine its
// script, kernel and initrds is killed (SIGKILL) before the machine's
// initramfs asks for its key. bootd-init finds that instance gone and asks
// the other, which node.conf names (fallback=, with its certificate's
// pin); the other releases the key of the boot the first one began, and the
// machine reaches its root on the RBD volume.
func TestKeyAtTheOtherInstance(t *testing.T) {
	r := setUpCeph(t, 1)
	a, b := r.twoInstances(t)
	const mac, host = "52:54:00:b0:07:22", "e2e-fallback"
	a.cli(t, "enroll", mac, "--image", "debian-12", "--hostname", host, "--size", "1G")
	// Both heartbeats are in the store, with their node listeners, before
	// the machine's node.conf is made.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Second) {
		out := a.cli(t, "status", "-o", "json")
		if strings.Count(out, `"node_pin"`) == 2 && strings.Count(out, `"alive"`) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bootd status at A does not list both instances alive with their node listeners:\n%s", out)
		}
	}
	v := bootVM(t, r.ns, bios, "tap0", mac, "fallback")
	var served, other *instance
	for deadline := time.Now().Add(3 * time.Minute); served == nil; time.Sleep(50 * time.Millisecond) {
		switch {
		case a.servedFile(mac, "initrd/0"):
			served, other = a, b
		case b.servedFile(mac, "initrd/0"):
			served, other = b, a
		case time.Now().After(deadline):
			t.Fatalf("no instance served the machine its initrd; console:\n%s", v.tail(40))
		}
	}
	served.kill()
	t.Logf("%s served the boot files and was killed (SIGKILL) before the key", served.name)

	v.wait(t, reMarker, 5*time.Minute)
	v.atRoot(t, host)
	v.wait(t, reDone, 30*time.Second)
	v.finish(t, time.Minute)

	var tl timeline
	if err := json.Unmarshal([]byte(other.cli(t, "timeline", mac, "-o", "json")), &tl); err != nil {
		t.Fatal(err)
	}
	// One boot: the machine did not start over at the other instance.
	if len(tl.Boots) != 1 {
		t.Errorf("%d boots on the timeline, want 1:\n%s", len(tl.Boots), other.cli(t, "timeline", mac))
	}
	keys := 0
	for _, bt := range tl.Boots {
		for _, ev := range bt.Events {
			if ev.Stage == "script" && ev.Instance != served.name {
				t.Errorf("a script fetch recorded by %q, want only %s's", ev.Instance, served.name)
			}
			if ev.Stage == "key" && strings.HasPrefix(ev.Detail, "key released") {
				keys++
				if ev.Instance != other.name {
					t.Errorf("the key was released by %q, want %s (the one alive)", ev.Instance, other.name)
				}
			}
		}
	}
	if keys != 1 {
		t.Errorf("%d key releases on the timeline, want 1:\n%s", keys, other.cli(t, "timeline", mac))
	}
}
