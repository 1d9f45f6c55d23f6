package power_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/power"
)

func testKey(t *testing.T) *power.Key {
	t.Helper()
	k, err := power.LoadKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func port(t *testing.T, addr string) int {
	t.Helper()
	var p int
	if _, err := fmt.Sscan(addr[strings.LastIndexByte(addr, ':')+1:], &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSeal: a sealed password is not the password, opens for its MAC only,
// and the key file is made with mode 0600 and refused when others can read it.
func TestSeal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k, err := power.LoadKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, power.KeyFileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("power key file: %v, mode %v, want 0600", err, fi.Mode().Perm())
	}
	sealed, err := k.Seal(testMAC, "hunter2-bmc")
	if err != nil || strings.Contains(sealed, "hunter2") || !strings.HasPrefix(sealed, "sealed:v1:") {
		t.Fatalf("Seal = %q, %v", sealed, err)
	}
	k2, err := power.LoadKey(dir) // the same key, read again
	if err != nil {
		t.Fatal(err)
	}
	if pw, err := k2.Open(testMAC, sealed); err != nil || pw != "hunter2-bmc" {
		t.Errorf("Open = %q, %v", pw, err)
	}
	other, _ := boot.ParseMAC("52:54:00:00:00:01")
	if _, err := k2.Open(other, sealed); err == nil {
		t.Error("a password sealed for one MAC opened for another")
	}
	if _, err := testKey(t).Open(testMAC, sealed); err == nil {
		t.Error("a password opened with another data folder's key")
	}
	if err := os.Chmod(filepath.Join(dir, power.KeyFileName), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := power.LoadKey(dir); err == nil {
		t.Error("LoadKey accepted a key file readable by others")
	}
}

// TestPasswordFile: a file: secret is read only from a file of mode 0600.
func TestPasswordFile(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "bmc.pw")
	if err := os.WriteFile(p, []byte("pw-from-file\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := power.ReadPasswordFile(p); err == nil {
		t.Error("ReadPasswordFile read a file of mode 0640")
	}
	os.Chmod(p, 0o600)
	if pw, err := power.ReadPasswordFile(p); err != nil || pw != "pw-from-file" {
		t.Errorf("ReadPasswordFile = %q, %v", pw, err)
	}
}
