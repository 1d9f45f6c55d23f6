//go:build integration

package rbd

import (
	"slices"
	"strings"
	"testing"

	"github.com/bootd/bootd/boot"
)

// TestReconcileGuard runs the real bootd serve, with a store of its own,
// against a pool that holds volumes of nodes it does not know (enrolled
// through another store), and checks through librbd that bootd reconcile
// --repair removes none of them: with no node stored it refuses and says
// why; with one node stored, four unknown volumes are more than it removes;
// --dry-run removes nothing even when mass deletion is allowed. Not
// parallel: reconcile judges the whole pool.
func TestReconcileGuard(t *testing.T) {
	f := newFixture(t)
	var theirs []boot.MAC
	for range 4 {
		theirs = append(theirs, f.enroll(t, 0))
	}
	stillThere := func(when string) {
		t.Helper()
		for _, mac := range theirs {
			if imgs := imagesIn(t, boot.VolumeName(mac)); !slices.Equal(imgs, []string{"root"}) {
				t.Fatalf("%s: volume %s has images %v, want root untouched", when, boot.VolumeName(mac), imgs)
			}
		}
	}
	d := newDaemon(t)
	d.start(t, "")
	run := func(wantFail bool, want []string, args ...string) {
		t.Helper()
		out, err := d.cli(append([]string{"reconcile"}, args...)...)
		if (err != nil) != wantFail {
			t.Fatalf("bootd reconcile %v = %v, want failure %v:\n%s", args, err, wantFail, out)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("bootd reconcile %v says:\n%s\nwant it to say %q", args, out, w)
			}
		}
		for _, mac := range theirs { // each volume it would remove is listed
			if !strings.Contains(out, boot.VolumeName(mac)) {
				t.Errorf("bootd reconcile %v does not list %s:\n%s", args, boot.VolumeName(mac), out)
			}
		}
	}

	run(true, []string{"the store holds no nodes", "refused", "--allow-mass-delete"}, "--repair")
	stillThere("repair with an empty store")
	run(false, []string{"dry run: a repair would remove no volume", "the store holds no nodes"}, "--dry-run")
	run(false, []string{"would remove", "dry run: nothing was changed"}, "--dry-run", "--allow-mass-delete")
	stillThere("dry runs")

	mine := randMAC()
	if out, err := d.cli("enroll", mine.String(), "--image", "base"); err != nil {
		t.Fatalf("bootd enroll: %v: %s", err, out)
	}
	defer d.cli("retire", mine.String())
	run(true, []string{"have no node, more than the 3 a repair removes", "refused"}, "--repair")
	run(true, []string{"more than the 2 a repair removes", "--max-delete 4"}, "--repair", "--max-delete", "2")
	stillThere("repair of a store that would remove too many")
	checkWhole(t, mine, true)
}
