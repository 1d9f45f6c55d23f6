package templates

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAlpineServiceUnderBusybox runs the OpenRC service's start() under
// busybox sh with stand-ins for OpenRC's helpers, modprobe, mount and
// bootd-init.
func TestAlpineServiceUnderBusybox(t *testing.T) {
	t.Parallel()
	busybox := lookBusybox(t)
	service, err := Alpine.ReadFile("alpine/bootd-rbd")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, mapExit, want string }{
		{"maps and mounts", "0", "ebegin|modprobe rbd|map|mount /dev/rbd0 MNT|report root /dev/rbd0 mounted on MNT|eend 0|"},
		{"map failure", "1", "ebegin|modprobe rbd|map|eend 1 bootd: the volume could not be mapped; see bootd's timeline|"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			bin := filepath.Join(dir, "bin")
			os.MkdirAll(bin, 0o755)
			os.WriteFile(filepath.Join(bin, "bootd-init"), []byte(bootdInitStub(busybox, tc.mapExit)), 0o755)
			mnt := filepath.Join(dir, "mnt")
			script := strings.Replace(string(service), "MOUNTPOINT=/media/rbd", "MOUNTPOINT="+mnt, 1)
			// busybox sh runs its own applets before $PATH, so the stand-ins are functions.
			prelude := `ebegin() { echo ebegin >>"$LOG"; }; eend() { echo "eend $*" >>"$LOG"; return $1; }
modprobe() { echo "modprobe $*" >>"$LOG"; }; mount() { echo "mount $*" >>"$LOG"; }; mkdir() { :; }` + "\n"
			os.WriteFile(filepath.Join(dir, "svc"), []byte(prelude+script), 0o644)
			steps, out := runSteps(t, busybox, `. "$DIR/svc"; start`, []string{"PATH=" + bin + ":/usr/bin:/bin", "DIR=" + dir})
			if s := strings.ReplaceAll(steps, mnt, "MNT"); s != tc.want {
				t.Errorf("steps = %q\nwant    %q (output %s)", s, tc.want, out)
			}
		})
	}
}
