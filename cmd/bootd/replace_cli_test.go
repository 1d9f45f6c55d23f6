package main

import (
	"strings"
	"testing"
)

// TestCLIReplace moves a machine's node to another MAC with the CLI against
// a real bootd: show tells both sides; a second replace of the retired MAC,
// an enrolled target and a bad MAC are refused with a message and exit 1.
func TestCLIReplace(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	const old, next, other = "52:54:00:00:00:01", "52:54:00:00:00:02", "52:54:00:00:00:03"
	for _, m := range []string{old, other} {
		if r := d.cli(t, "enroll", m, "--image", "debian-12", "--hostname", "db"+m[len(m)-1:]); r.code != 0 {
			t.Fatalf("enroll %s = %+v", m, r)
		}
	}
	r := d.cli(t, "replace", old, next)
	if r.code != 0 || !strings.Contains(r.stdout, "replaced "+old+" by "+next) || !strings.Contains(r.stdout, old+" is retired") {
		t.Fatalf("replace = %+v", r)
	}
	if r = d.cli(t, "show", next); !strings.Contains(r.stdout, "db1") || !strings.Contains(r.stdout, "replaces:") {
		t.Errorf("show %s = %s, want db1 replacing %s", next, r.stdout, old)
	}
	if r = d.cli(t, "show", old); !strings.Contains(r.stdout, "retired") || !strings.Contains(r.stdout, "replaced by:") {
		t.Errorf("show %s = %s, want retired, replaced by %s", old, r.stdout, next)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"replace", old, "52:54:00:00:00:04"}, "not enrolled"},
		{[]string{"replace", next, other}, "enrolled already"},
		{[]string{"replace", next, "52:54:zz"}, "bad MAC address"},
	} {
		r := d.cli(t, tc.args...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("bootd %s = exit %d, %q; want exit 1 and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
		}
	}
	if r = d.cli(t, "audit"); !strings.Contains(r.stdout, "replace") {
		t.Errorf("audit has no replace:\n%s", r.stdout)
	}
}
