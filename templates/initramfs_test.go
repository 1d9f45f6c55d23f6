package templates

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBootScriptUnderBusybox runs scripts/bootd's mountroot under busybox sh
// with stand-ins for initramfs-tools' functions and for bootd-init, and
// checks the order of the steps and the root it mounts.
func TestBootScriptUnderBusybox(t *testing.T) {
	t.Parallel()
	busybox := lookBusybox(t)
	for _, tc := range []struct {
		name, mapExit, root, bootif, want string
	}{
		{"maps then mounts", "0", "/dev/rbd0", "", "net|map|mount /dev/rbd0|report root /dev/rbd0 mounted on /root|"},
		{"no root= uses the device", "0", "", "", "net|map|mount /dev/rbd0|report root /dev/rbd0 mounted on /root|"},
		{"map failure panics", "1", "/dev/rbd0", "", "net|map|panic bootd: this node's volume could not be mapped"},
		{"BOOTIF's NIC up first", "0", "/dev/rbd0", "01-DC-A6-32-B0-07-11",
			"ip link set eth1 up|net|map|mount /dev/rbd0|report root /dev/rbd0 mounted on /root|"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			script, err := Initramfs.ReadFile("initramfs/scripts/bootd")
			if err != nil {
				t.Fatal(err)
			}
			files := map[string]string{
				"scripts/bootd": string(script),
				"scripts/local": "local_mount_root() { echo \"mount ${ROOT}\" >>\"$LOG\"; }\n" +
					"configure_networking() { echo net >>\"$LOG\"; }\n" +
					"panic() { echo \"panic $*\" >>\"$LOG\"; exit 1; }\n" +
					// A function: busybox sh would run its own ip applet before a file in PATH.
					"ip() { echo \"ip $*\" >>\"$LOG\"; }\n",
				"bin/bootd-init":               bootdInitStub(busybox, tc.mapExit),
				"bin/ip":                       "#!" + busybox + " sh\necho \"ip $*\" >>\"$LOG\"\n",
				"sys/class/net/eth0/address":   "52:54:00:00:00:01\n",
				"sys/class/net/eth1/address":   "dc:a6:32:b0:07:11\n",
				"sys/class/net/eth1/operstate": "up\n",
			}
			for name, body := range files {
				p := filepath.Join(root, name)
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			steps, out := runSteps(t, busybox, ". \"$BOOTD_INIT_ROOT/scripts/bootd\"; mountroot; echo >>\"$LOG\"",
				[]string{"PATH=" + filepath.Join(root, "bin") + ":/usr/bin:/bin", "BOOTD_INIT_ROOT=" + root,
					"ROOT=" + tc.root, "rootmnt=/root", "BOOTIF=" + tc.bootif})
			if !strings.HasPrefix(steps, tc.want) {
				t.Errorf("steps = %q, want %q (output %s)", steps, tc.want, out)
			}
		})
	}
}
