//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bootd/bootd/power/powertest"
)

// The emulated BMC's LAN interface: bootd's side of the boot LAN, at the
// IPMI port (RMCP, UDP 623), inside the test's namespace.
const bmcAddr = bridgeAddr + ":623"

// TestPowerIPMI: a QEMU VM behind an emulated BMC (QEMU's ipmi-bmc-extern
// connected to OpenIPMI's ipmi_sim, which starts the VM's QEMU at power on
// and stops it at power off, as a chassis would) is driven only through
// bootd's CLI and the BMC's LAN interface (IPMI v2.0 lanplus):
//   - bootd power <mac> on starts it, and it boots its RBD disk;
//   - bootd power <mac> cycle restarts it, and it finds the file it wrote;
//   - bootd reimage <mac> --reboot cuts its power, reimages the volume and
//     powers it on: it comes back on a fresh clone (the file is gone);
//   - bootd power <mac> status follows it all along;
//   - a wrong BMC password is a clear error, and a second try within the
//     hold sends the BMC not one packet (a capture on the namespace's lo).
func TestPowerIPMI(t *testing.T) {
	r := setUp(t)
	const mac, host = "52:54:00:b0:07:1c", "e2e-ipmi-stay" // -stay: the guest runs until the BMC cuts it
	const bmcUser, bmcPW, wrongPW = "admin", "bmc-e2e-pw-31", "not-the-bmc-pw"
	r.cli(t, "enroll", mac, "--image", "debian-12", "--hostname", host, "--size", "1G")
	bmc := r.startBMC(t, "tap1", mac, bmcUser, bmcPW)

	pwFile := filepath.Join(r.ns.dir, "bmc.pw")
	if err := os.WriteFile(pwFile, []byte(bmcPW+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := r.cli(t, "power", "set", mac, "--driver", "ipmi", "--address", bmcAddr, "--user", bmcUser, "--password-file", pwFile)
	if !strings.Contains(out, "password sealed") {
		t.Fatalf("power set said:\n%s", out)
	}
	r.powerStatus(t, mac, "off")

	// On: the BMC starts the machine, which boots its disk, fresh.
	con := bmc.console(t)
	out = r.cli(t, "power", mac, "on")
	if !strings.Contains(out, "power is on") {
		t.Fatalf("power on said:\n%s", out)
	}
	if got := r.bootOnBMC(t, con, host, "ipmi-on"); got != "none" {
		t.Errorf("first boot found %q, want a fresh volume", got)
	}
	r.powerStatus(t, mac, "on")

	// Cycle: it restarts and finds the file its first boot wrote.
	con = bmc.console(t)
	r.cli(t, "power", mac, "cycle")
	if got := r.bootOnBMC(t, con, host, "ipmi-cycle"); !strings.Contains(got, "on "+host) {
		t.Errorf("after the power cycle the machine found %q, want the file its first boot wrote", got)
	}
	if n := bmc.starts(t); n != 2 {
		t.Errorf("the BMC started the machine %d times, want 2 (on, cycle)", n)
	}

	// Reimage --reboot: power cut, fresh clone, power on; the file is gone.
	con = bmc.console(t)
	out = r.cli(t, "reimage", mac, "--reboot")
	t.Logf("reimage --reboot said: %s", strings.TrimSpace(out))
	if got := r.bootOnBMC(t, con, host, "ipmi-reimage"); got != "none" {
		t.Errorf("after reimage --reboot the machine found %q, want a fresh clone", got)
	}
	r.powerStatus(t, mac, "on")
	if n := bmc.starts(t); n != 3 {
		t.Errorf("the BMC started the machine %d times, want 3 (on, cycle, reimage --reboot)", n)
	}
	tl := r.cli(t, "timeline", mac)
	if strings.Contains(tl, "refused the one-time network boot") {
		t.Log("the emulated BMC refused the one-time network boot (ipmi_sim's VM channel has no boot flags): a warning, and the power went on")
	}
	for _, want := range []string{"power on requested by", "power cycle requested by", "reimage and reboot requested by",
		"reimaged; powered on to boot the fresh clone"} {
		if !strings.Contains(tl, want) {
			t.Errorf("the timeline does not say %q:\n%s", want, tl)
		}
	}

	// Off: the BMC stops the machine.
	r.cli(t, "power", mac, "off")
	r.powerStatus(t, mac, "off")

	// A wrong password: the BMC refuses it once, and bootd holds back.
	if err := os.WriteFile(pwFile, []byte(wrongPW+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.cli(t, "power", "set", mac, "--driver", "ipmi", "--address", bmcAddr, "--user", bmcUser, "--password-file", pwFile)
	if out, err := r.cliErr(t, "power", mac, "status"); err == nil || !strings.Contains(out, "the BMC refused the user name or password") {
		t.Errorf("power status with a wrong password: %v\n%s\nwant exit 1 and the BMC's refusal", err, out)
	}
	capture := r.ns.start(t, "tcpdump-bmc", "tcpdump", "-i", "lo", "-n", "-l", "udp port 623")
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(r.ns.logTail("tcpdump-bmc", 5), "listening on"); {
		if time.Now().After(deadline) || capture.exited() {
			t.Fatalf("tcpdump did not start; its log:\n%s", r.ns.logTail("tcpdump-bmc", 10))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for range 3 {
		if out, err := r.cliErr(t, "power", mac, "on"); err == nil || !strings.Contains(out, "not asked again until") {
			t.Errorf("power on again with the wrong password: %v\n%s\nwant it held back", err, out)
		}
	}
	time.Sleep(500 * time.Millisecond) // tcpdump prints what it saw
	stop(capture)
	if n := strings.Count(r.ns.logTail("tcpdump-bmc", 1000), ".623:"); n != 0 {
		t.Errorf("bootd sent the BMC %d packets after it refused the password:\n%s", n, r.ns.logTail("tcpdump-bmc", 20))
	}
	if strings.Contains(r.ns.logTail("bootd", 100000), bmcPW) || strings.Contains(r.ns.logTail("bootd", 100000), wrongPW) {
		t.Error("bootd's log shows a BMC password")
	}
	r.powerStatus(t, mac, "") // not asked: still held
}

// powerStatus checks bootd power <mac> status says want (on, off); with
// want "", only that it exits non-zero.
func (r *rig) powerStatus(t *testing.T, mac, want string) {
	t.Helper()
	out, err := r.cliErr(t, "power", mac, "status")
	switch {
	case want == "" && err == nil:
		t.Errorf("power status = %q, want an error", out)
	case want != "" && (err != nil || !strings.Contains(out, mac+": power "+want)):
		t.Errorf("power status: %v %q, want power %s", err, out, want)
	}
}

// cliErr runs the bootd CLI like cli, returning its error instead of failing.
func (r *rig) cliErr(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return r.ns.exec(t, []string{"BOOTD_SERVER=" + r.server, "BOOTD_TOKEN_FILE=" + filepath.Join(r.data, "api-token"),
		"BOOTD_DATA_DIR=" + r.data},
		append([]string{filepath.Join(repo, "bin/bootd")}, args...)...)
}

// bootOnBMC waits on con for a boot of the BMC's machine to its marker and
// returns what it found persisted.
func (r *rig) bootOnBMC(t *testing.T, con *vm, hostname, name string) string {
	t.Helper()
	defer func() {
		if t.Failed() {
			t.Logf("bootd's log:\n%s", r.ns.logTail("bootd", 80))
		}
	}()
	con.wait(t, reMarker, 4*time.Minute)
	t.Logf("%s: marker %.1fs after the power command", name, time.Since(con.started).Seconds())
	con.atRoot(t, hostname)
	persist := con.wait(t, rePersist, 10*time.Second)[1]
	con.wait(t, reDone, 30*time.Second)
	con.wait(t, regexp.MustCompile(`a shell on the console instead of powering off`), 10*time.Second)
	return persist
}

// bmc is an ipmi_sim in the namespace whose chassis is one QEMU VM: power
// on runs vm.sh (startcmd), power off asks the VM to shut down over the
// IPMI VM channel and stops its process after poweroff_wait.
type bmc struct {
	dir, consoleLog string
}

// startBMC writes ipmi_sim's configuration and the VM's start script (a
// BIOS machine on tap with mac, as bootVM's, its serial console appended to
// a file across power cycles) and starts ipmi_sim, powered off.
func (r *rig) startBMC(t *testing.T, tap, mac, user, password string) *bmc {
	t.Helper()
	b := &bmc{dir: filepath.Join(r.ns.dir, "bmc")}
	b.consoleLog = filepath.Join(b.dir, "console.log")
	if err := os.MkdirAll(filepath.Join(b.dir, "state"), 0o700); err != nil {
		t.Fatal(err)
	}
	const chardev = "127.0.0.1:9002" // the VM channel, on the namespace's loopback
	vmScript := fmt.Sprintf(`#!/bin/sh
# ipmi_sim's startcmd: one power-on of the machine.
echo "start $(date +%%s)" >> %[1]s/starts
exec qemu-system-x86_64 -accel tcg -cpu qemu64,+rdrand -m 768 -smp 1 -nographic -monitor none -no-reboot \
  -chardev file,id=con,path=%[2]s,append=on -serial chardev:con \
  -chardev socket,id=ipmi0,host=%[3]s,port=%[4]s,reconnect=1 \
  -device ipmi-bmc-extern,id=bmc0,chardev=ipmi0 -device isa-ipmi-kcs,bmc=bmc0 \
  -netdev tap,id=n0,ifname=%[5]s,script=no,downscript=no \
  -machine pc -boot n -device e1000,netdev=n0,mac=%[6]s </dev/null
`, b.dir, b.consoleLog, strings.Split(chardev, ":")[0], strings.Split(chardev, ":")[1], tap, mac)
	// The VM codec on a serial system interface, startcmd run at power on;
	// poweroff_wait/kill_wait short: the guest has no ACPI daemon.
	conf := powertest.LANConf(strings.Replace(bmcAddr, ":", " ", 1), user, password, fmt.Sprintf(
		"serial kcs %s codec VM\nstartcmd %q\nstartnow false\npoweroff_wait 2\nkill_wait 2",
		strings.Replace(chardev, ":", " ", 1), filepath.Join(b.dir, "vm.sh")))
	emu := powertest.BMCEmu
	for name, body := range map[string]string{"vm.sh": vmScript, "lan.conf": conf, "bmc.emu": emu} {
		if err := os.WriteFile(filepath.Join(b.dir, name), []byte(body), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// ipmi_sim and the QEMU it starts share its process group: the
	// harness's teardown stops both.
	p := r.ns.start(t, "ipmi_sim", "ipmi_sim", "-c", filepath.Join(b.dir, "lan.conf"), "-f", filepath.Join(b.dir, "bmc.emu"),
		"-s", filepath.Join(b.dir, "state"), "-n")
	time.Sleep(time.Second)
	if p.exited() {
		t.Fatalf("ipmi_sim stopped at once; its log:\n%s", r.ns.logTail("ipmi_sim", 30))
	}
	return b
}

// console follows the VM's console from its current end: the lines the
// next power-on prints.
func (b *bmc) console(t *testing.T) *vm {
	t.Helper()
	off := int64(0)
	if fi, err := os.Stat(b.consoleLog); err == nil {
		off = fi.Size()
	}
	v := &vm{log: b.consoleLog, started: time.Now(), done: make(chan struct{})}
	stopped := make(chan struct{})
	t.Cleanup(func() { close(stopped) })
	go func() {
		var partial string
		for {
			select {
			case <-stopped:
				return
			case <-time.After(200 * time.Millisecond):
			}
			f, err := os.Open(b.consoleLog)
			if err != nil {
				continue
			}
			buf := make([]byte, 1<<20)
			n, _ := f.ReadAt(buf, off)
			f.Close()
			off += int64(n)
			lines := strings.Split(partial+string(buf[:n]), "\n")
			partial = lines[len(lines)-1]
			v.mu.Lock()
			for _, l := range lines[:len(lines)-1] {
				v.console = append(v.console, strings.TrimRight(l, "\r"))
				v.at = append(v.at, time.Now())
			}
			v.mu.Unlock()
		}
	}()
	return v
}

// starts counts the BMC's power-ons of the machine (vm.sh runs).
func (b *bmc) starts(t *testing.T) int {
	t.Helper()
	data, _ := os.ReadFile(filepath.Join(b.dir, "starts"))
	return strings.Count(string(data), "start ")
}
