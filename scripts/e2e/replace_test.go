//go:build e2e

package e2e

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestReplaceBox: a machine boots its cloud disk and writes a file, then
// "dies" (powered off, its watch on the volume left behind). bootd replace
// moves its node to a second VM with another MAC, which boots the same
// disk, under the same hostname, and finds the file the first one wrote.
// The old MAC, booted again, gets no key and never reaches the disk.
func TestReplaceBox(t *testing.T) {
	r := setUp(t)
	const old, next, host = "52:54:00:b0:07:0a", "52:54:00:b0:07:0b", "e2e-replace"
	r.cli(t, "enroll", old, "--image", "debian-12", "--hostname", host, "--size", "1G")
	if first, _ := r.boot(t, bios, "tap0", old, host, "replace-old"); first != "none" {
		t.Errorf("first boot found %q, want a fresh volume", first)
	}
	out := r.cli(t, "replace", old, next)
	if !strings.Contains(out, "replaced "+old+" by "+next) {
		t.Fatalf("bootd replace said:\n%s", out)
	}
	second, _ := r.boot(t, bios, "tap0", next, host, "replace-new")
	if !strings.Contains(second, "on "+host) {
		t.Errorf("the replacement found %q, want the file the first machine wrote", second)
	}
	r.checkInventory(t, next)

	v := bootVM(t, r.ns, bios, "tap0", old, "replace-old-again")
	// A retired MAC gets an address and no boot file: the firmware goes on
	// to its other devices, and this one has none.
	v.wait(t, regexp.MustCompile(`No bootable device|is not enrolled|network boot is off for `+old), 3*time.Minute)
	stop(v.proc)
	if strings.Contains(v.tail(1000), "BOOTD-MARKER") {
		t.Error("the replaced machine reached the disk")
	}
	// Its timeline keeps its own boot (one key) and the replace, nothing since.
	var tl struct {
		Boots []struct {
			Events []struct{ Stage, Detail string }
		}
	}
	if err := json.Unmarshal([]byte(r.cli(t, "timeline", old, "-o", "json")), &tl); err != nil {
		t.Fatal(err)
	}
	keys, replaced := 0, false
	for _, b := range tl.Boots {
		for _, ev := range b.Events {
			keys += map[bool]int{true: 1}[ev.Stage == "key"]
			replaced = replaced || strings.Contains(ev.Detail, "replaced by "+next)
		}
	}
	if keys != 1 || !replaced {
		t.Errorf("the replaced MAC's timeline has %d key releases (want the first boot's only) and the replace noted: %v", keys, replaced)
	}
}
