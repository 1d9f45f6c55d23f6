package main

import (
	"strings"
	"testing"
)

// TestVolumeCommandsWithoutBackend: the cloud-disk commands parse their
// arguments, reach the daemon, and report plainly that it has no volume
// backend (the commands against a real cluster are exercised by the rbd
// package's kill -9 tests, which drive this CLI).
func TestVolumeCommandsWithoutBackend(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	if r := d.cli(t, "enroll", "52:54:00:12:34:56", "--image", "debian-12"); r.code != 0 {
		t.Fatalf("enroll = %+v", r)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string // in stderr
	}{
		{[]string{"snapshot", "52:54:00:12:34:56"}, 1, "no volume backend"},
		{[]string{"snapshot", "52:54:00:12:34:56", "before"}, 1, "no volume backend"},
		{[]string{"snapshots", "52:54:00:12:34:56"}, 1, "no volume backend"},
		{[]string{"rollback", "52:54:00:12:34:56", "before"}, 1, "no volume backend"},
		{[]string{"volume", "52:54:00:12:34:56"}, 1, "no volume backend"},
		{[]string{"unfence", "52:54:00:12:34:56"}, 1, "no volume backend"},
		{[]string{"reconcile"}, 1, "no volume backend"},
		{[]string{"reconcile", "--repair"}, 1, "no volume backend"},
		{[]string{"golden", "debian-12"}, 1, "no volume backend"},
		{[]string{"golden", "gentoo", "--protect"}, 1, `unknown image "gentoo"`},
		{[]string{"reimage", "52:54:00:12:34:56", "--keep", "--name", "old"}, 1, "no volume backend"},
		{[]string{"reimage", "52:54:00:12:34:56", "--name", "old"}, 2, "--name needs --keep"},
		{[]string{"snapshot", "52:54:00:12:34:56", "a/b"}, 1, "bad snapshot name"},
		{[]string{"snapshot", "52:54:00:12:34:56", "a", "b"}, 2, "bootd snapshot <mac> [name]"},
		{[]string{"rollback", "52:54:00:12:34:56"}, 2, "bootd rollback <mac> <snapshot>"},
		{[]string{"retire", "nope"}, 1, "bad MAC address"},
		{[]string{"reconcile", "extra"}, 2, "bootd reconcile [--repair]"},
	} {
		r := d.cli(t, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("bootd %s = exit %d, stderr %q; want exit %d saying %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.code, tc.want)
		}
	}
	// Retire works without a backend for a node without a volume: it is marked retired.
	r := d.cli(t, "retire", "52:54:00:12:34:56")
	if r.code != 0 || !strings.Contains(r.stdout, "retired") {
		t.Errorf("retire of a node without volume = %+v, want it retired", r)
	}
	if r := d.cli(t, "forget", "52:54:00:12:34:56"); r.code != 0 {
		t.Errorf("forget after retire = %+v", r)
	}
}
