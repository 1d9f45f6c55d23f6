package dist

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// maxExposure is the highest overall exposure systemd-analyze security may
// give bootd.service. systemd rates up to 4.9 "OK"; the unit scores 1.5 with
// systemd 252 (Debian 12), and the margin is for newer systemd versions,
// which add checks. A change to the unit that raises it past this is a
// sandbox weakened: say why in docs/operations.md and here, or put it back.
const maxExposure = 2.0

// exposure runs systemd-analyze security --offline=true on the unit file at
// path and returns its overall exposure and rating (e.g. 1.5, "OK").
func exposure(t *testing.T, path string) (float64, string) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Fatalf("systemd-analyze is needed (Debian package systemd, scripts/deps.d/unit.txt): %v", err)
	}
	out, err := exec.Command("systemd-analyze", "security", "--offline=true", "--no-pager", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security --offline=true %s: %v\n%s", path, err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+) ([A-Z]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security --offline=true %s: no overall exposure in\n%s", path, out)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatalf("exposure %q: %v", m[1], err)
	}
	return v, string(m[2])
}

// acceptable reports whether an exposure and rating pass the threshold.
func acceptable(v float64, rating string) bool {
	return v <= maxExposure && slices.Contains([]string{"PERFECT", "SAFE", "OK"}, rating)
}

func TestUnitExposure(t *testing.T) {
	t.Parallel()
	v, rating := exposure(t, "bootd.service")
	t.Logf("systemd-analyze security --offline=true bootd.service: %.1f %s", v, rating)
	if !acceptable(v, rating) {
		t.Errorf("bootd.service exposure = %.1f %s, want at most %.1f and OK or better", v, rating, maxExposure)
	}
}

// TestUnitExposureCatchesWeakening rates the unit with its sandbox removed
// (every line from User= on, as the unit shipped before it had one): the
// threshold must refuse it, or TestUnitExposure proves nothing.
func TestUnitExposureCatchesWeakening(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("bootd.service")
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	inSandbox := false
	for line := range strings.Lines(string(b)) {
		switch {
		case strings.HasPrefix(line, "User="):
			inSandbox = true
		case strings.HasPrefix(line, "["):
			inSandbox = false
		}
		if !inSandbox {
			kept = append(kept, line)
		}
	}
	weak := filepath.Join(t.TempDir(), "bootd.service")
	if err := os.WriteFile(weak, []byte(strings.Join(kept, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	if v, rating := exposure(t, weak); acceptable(v, rating) {
		t.Errorf("unit without its sandbox: exposure = %.1f %s, accepted; want refused", v, rating)
	}
}

// service returns the [Service] settings of a unit file, each key's values
// in order (systemd joins repeated keys).
func service(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: %q is not key=value", path, line)
			}
			m[k] = append(m[k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestUnitUserAndCapabilities checks what scripts/demo.sh reads from the
// unit and what an operator relies on: bootd runs as the user
// bootd.sysusers creates, with CAP_NET_BIND_SERVICE and nothing else.
func TestUnitUserAndCapabilities(t *testing.T) {
	t.Parallel()
	s := service(t, "bootd.service")
	users, err := os.ReadFile("bootd.sysusers")
	if err != nil {
		t.Fatal(err)
	}
	var sysuser string
	for line := range strings.Lines(string(users)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "u" {
			sysuser = f[1]
		}
	}
	for _, c := range []struct {
		key  string
		want []string
	}{
		{"User", []string{sysuser}},
		{"Group", []string{sysuser}},
		{"CapabilityBoundingSet", []string{"CAP_NET_BIND_SERVICE"}},
		{"AmbientCapabilities", []string{"CAP_NET_BIND_SERVICE"}},
		{"NoNewPrivileges", []string{"yes"}},
		{"StateDirectory", []string{"bootd"}},
		{"DynamicUser", nil},
	} {
		if got := s[c.key]; fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("bootd.service %s = %q, want %q", c.key, got, c.want)
		}
	}
	if sysuser == "" || sysuser == "root" {
		t.Errorf("bootd.sysusers creates user %q, want a system user of its own", sysuser)
	}
}
