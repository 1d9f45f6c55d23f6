package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bootd/bootd/power/powertest"
)

// TestPowerCLI drives a real ipmi_sim through a real bootd serve with the
// CLI: power set (the password from a 0600 file, kept sealed), status, on,
// cycle, off, netboot once on the BMC, the timeline and the audit log; then
// a wrong password: exit 1 with a clear message, and the BMC not asked again.
func TestPowerCLI(t *testing.T) {
	t.Parallel()
	const mac, bmcPW, wrongPW = "52:54:00:aa:00:01", "bmc-pass-42", "not-the-pass-17"
	sim := powertest.StartSim(t, "admin", bmcPW)
	d := startDaemon(t)
	if r := d.cli(t, "enroll", mac, "--image", "debian-12"); r.code != 0 {
		t.Fatalf("enroll = %+v", r)
	}
	if r := d.cli(t, "power", mac, "on"); r.code != 1 || !strings.Contains(r.stderr, "no power driver") {
		t.Errorf("power on without a driver = %+v, want exit 1 saying so", r)
	}
	pwFile := filepath.Join(t.TempDir(), "bmc.pw")
	if err := os.WriteFile(pwFile, []byte(bmcPW+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := d.cli(t, "power", "set", mac, "--driver", "ipmi", "--address", sim.Addr, "--user", "admin", "--password-file", pwFile)
	if r.code != 0 || !strings.Contains(r.stdout, "ipmi "+sim.Addr+" user admin, password sealed") {
		t.Fatalf("power set = %+v", r)
	}
	if fi, err := os.Stat(filepath.Join(d.dataDir, "power-key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("power key: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	steps := []struct{ action, out, sim string }{
		{"status", mac + ": power off", "0"},
		{"on", "power on of " + mac + ": done; power is on", "1"},
		{"status", mac + ": power on", "1"},
		{"off", "power off of " + mac + ": done; power is off", "0"},
		{"cycle", "power cycle of " + mac + ": done; power is on", "1"},
	}
	for _, s := range steps {
		if r := d.cli(t, "power", mac, s.action); r.code != 0 || !strings.Contains(r.stdout, s.out) || sim.Power() != s.sim {
			t.Fatalf("power %s = %+v (sim power %s), want %q and sim power %s", s.action, r, sim.Power(), s.out, s.sim)
		}
	}
	r = d.cli(t, "netboot", mac, "once")
	if r.code != 0 || !strings.Contains(r.stdout, "bmc: the BMC boots it from the network at its next boot") || sim.Boot() != "pxe" {
		t.Errorf("netboot once = %+v (sim boot %s), want the BMC's one-time network boot", r, sim.Boot())
	}
	if r := d.cli(t, "timeline", mac); !strings.Contains(r.stdout, "power cycle requested by admin") ||
		!strings.Contains(r.stdout, "one-time network boot requested by admin") {
		t.Errorf("timeline = %s", r.stdout)
	}
	if r := d.cli(t, "audit", "--mac", mac); !strings.Contains(r.stdout, "power.set") || strings.Count(r.stdout, " power ") < 3 {
		t.Errorf("audit = %s", r.stdout)
	}
	if r := d.cli(t, "reimage", mac, "--reboot"); r.code != 1 || !strings.Contains(r.stderr, "no volume backend") {
		t.Errorf("reimage --reboot without volumes = %+v, want exit 1", r)
	}

	// A wrong password: a clear error, exit 1, and no retry storm.
	if err := os.WriteFile(pwFile, []byte(wrongPW), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := d.cli(t, "power", "set", mac, "--driver", "ipmi", "--address", sim.Addr, "--user", "admin", "--password-file", pwFile); r.code != 0 {
		t.Fatalf("power set = %+v", r)
	}
	calls := len(sim.Calls())
	r = d.cli(t, "power", mac, "on")
	if r.code != 1 || !strings.Contains(r.stderr, "the BMC refused the user name or password") {
		t.Errorf("power on with a wrong password = %+v, want exit 1 and the BMC's refusal", r)
	}
	r = d.cli(t, "power", mac, "on")
	if r.code != 1 || !strings.Contains(r.stderr, "not asked again until") {
		t.Errorf("power on again = %+v, want it held back", r)
	}
	if got := sim.Calls(); len(got) != calls || slices.Contains(got[calls-1:], "set power 1") {
		t.Errorf("the BMC's chassis was reached with a wrong password: %q", got[calls-1:])
	}
	// Never the password: not in an answer, the store file or the log.
	for _, args := range [][]string{{"show", mac, "-o", "json"}, {"list", "-o", "json"}, {"audit", "-o", "json"}} {
		if r := d.cli(t, args...); strings.Contains(r.stdout, bmcPW) || strings.Contains(r.stdout, wrongPW) ||
			strings.Contains(r.stdout, "sealed:v1") {
			t.Errorf("%v shows the password or its sealed form: %s", args, r.stdout)
		}
	}
	d.stop(t) // its log is whole
	db, err := os.ReadFile(filepath.Join(d.dataDir, "bootd.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{bmcPW, wrongPW} {
		if strings.Contains(string(db), pw) {
			t.Errorf("the store file holds the BMC password %q in clear", pw)
		}
		if strings.Contains(d.stderr.String(), pw) {
			t.Errorf("bootd's log shows the BMC password %q", pw)
		}
	}
}
