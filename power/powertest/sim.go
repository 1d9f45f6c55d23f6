// Package powertest runs the BMCs power's tests drive: OpenIPMI's ipmi_sim
// (Debian package openipmi), started on 127.0.0.1 with a configuration the
// test writes, whose chassis control runs a script that keeps the
// machine's power and boot device in files and records every call.
package powertest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A Sim is a running ipmi_sim.
type Sim struct {
	// Addr is its LAN interface, 127.0.0.1:port.
	Addr string
	// Dir holds its configuration, state and the chassis script's files.
	Dir string
	cmd *exec.Cmd
}

// chassisScript is lan.conf's chassis_control program. ipmi_sim runs it as
// "PROG get power boot ..." (it prints "power:1 boot:pxe") and
// "PROG set power 1", "PROG set boot pxe", "PROG set reset 1".
const chassisScript = `#!/bin/sh
d=$(dirname "$0")
echo "$*" >> "$d/calls"
case "$1" in
get)
	shift; out=""
	for p in "$@"; do
		case $p in
		power) out="$out power:$(cat "$d/power" 2>/dev/null || echo 0)" ;;
		boot) out="$out boot:$(cat "$d/boot" 2>/dev/null || echo default)" ;;
		esac
	done
	echo $out ;;
set)
	shift
	while [ $# -ge 2 ]; do
		case $1 in power|boot) echo "$2" > "$d/$1" ;; esac
		shift 2
	done ;;
esac
`

// StartSim starts ipmi_sim with one user (number 2, administrator) and
// stops it when the test ends.
func StartSim(t testing.TB, user, password string) *Sim {
	t.Helper()
	bin, err := exec.LookPath("ipmi_sim")
	if err != nil {
		t.Fatalf("ipmi_sim not found (Debian package openipmi; make deps installs it): %v", err)
	}
	dir := t.TempDir()
	port := freeUDPPort(t)
	script := filepath.Join(dir, "chassis")
	if err := os.WriteFile(script, []byte(chassisScript), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := LANConf(fmt.Sprintf("127.0.0.1 %d", port), user, password, fmt.Sprintf("chassis_control %q", script))
	emu := BMCEmu
	for name, body := range map[string]string{"lan.conf": conf, "bmc.emu": emu} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, "sim.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", filepath.Join(dir, "lan.conf"), "-f", filepath.Join(dir, "bmc.emu"), "-s", state, "-n")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ipmi_sim: %v", err)
	}
	s := &Sim{Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, cmd: cmd}
	t.Cleanup(func() {
		cmd.Process.Kill() //nolint:errcheck // it may have exited
		cmd.Wait()         //nolint:errcheck // killed
		log.Close()
	})
	if err := s.waitPing(5 * time.Second); err != nil {
		b, _ := os.ReadFile(filepath.Join(dir, "sim.log"))
		t.Fatalf("ipmi_sim on %s: %v\n%s", s.Addr, err, b)
	}
	return s
}

// BMCEmu is ipmi_sim's emulator command file (-f): one BMC at 0x20.
const BMCEmu = "mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02\nmc_enable 0x20\n"

// LANConf is ipmi_sim's configuration (-c; lan.conf(5), ipmi_lan): one
// LAN channel at addr ("host port"), IPMI v2.0 with user number 2 as
// administrator, and chassis, the lines saying what the chassis is (a
// chassis_control program, or a VM serial channel and its startcmd).
func LANConf(addr, user, password, chassis string) string {
	return fmt.Sprintf(`name "bootdtest"
set_working_mc 0x20
  startlan 1
    addr %s
    priv_limit admin
    allowed_auths_callback md5
    allowed_auths_user md5
    allowed_auths_operator md5
    allowed_auths_admin md5
    guid a123456789abcdefa123456789abcdef
  endlan
  %s
  user 2 true %q %q admin 10 md5
`, addr, strings.ReplaceAll(strings.TrimSpace(chassis), "\n", "\n  "), user, password)
}

// waitPing sends RMCP presence pings (ASF, DMTF DSP0136 section 3.2.4.3)
// until ipmi_sim answers one.
func (s *Sim) waitPing(within time.Duration) error {
	c, err := net.Dial("udp", s.Addr)
	if err != nil {
		return err
	}
	defer c.Close()
	ping := []byte{0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, 0x01, 0x00, 0x00}
	buf := make([]byte, 64)
	for end := time.Now().Add(within); time.Now().Before(end); {
		c.Write(ping) //nolint:errcheck // retried
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := c.Read(buf); err == nil {
			return nil
		}
	}
	return fmt.Errorf("no answer to RMCP ping within %s", within)
}

func freeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// Calls returns the chassis script's calls, oldest first ("set power 1").
func (s *Sim) Calls() []string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "calls"))
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// Power returns the simulated machine's power: "1" on, "0" off.
func (s *Sim) Power() string { return s.file("power", "0") }

// Boot returns the boot device the BMC last set ("pxe"), "default" if none.
func (s *Sim) Boot() string { return s.file("boot", "default") }

// SetPower sets the simulated machine's power, as its button would.
func (s *Sim) SetPower(on bool) {
	v := "0"
	if on {
		v = "1"
	}
	os.WriteFile(filepath.Join(s.Dir, "power"), []byte(v+"\n"), 0o600) //nolint:errcheck // a test helper
}

// file reads one of the chassis script's files.
func (s *Sim) file(name, def string) string {
	b, err := os.ReadFile(filepath.Join(s.Dir, name))
	if err != nil {
		return def
	}
	return strings.TrimSpace(string(b))
}
