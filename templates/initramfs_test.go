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
	const bootif = "01-DC-A6-32-B0-07-11" // eth1's MAC
	const lease = "console=ttyS0 bootd.ip=198.18.0.100:255.254.0.0:198.18.0.254 BOOTIF=" + bootif
	const mounted = "map|mount /dev/rbd0|report root /dev/rbd0 mounted on /root|"
	for _, tc := range []struct {
		name, mapExit, root, bootif, want string
		ip, cmdline                       string // IP as init parsed ip=, and /proc/cmdline
	}{
		{"maps then mounts", "0", "/dev/rbd0", "", "net|" + mounted, "", ""},
		{"no root= uses the device", "0", "", "", "net|" + mounted, "", ""},
		{"map failure panics", "1", "/dev/rbd0", "", "net|map|panic bootd: this node's volume could not be mapped", "", ""},
		{"BOOTIF's NIC up first", "0", "/dev/rbd0", bootif, "ip link set eth1 up|net|" + mounted, "", ""},
		// iPXE's lease (bootd.ip=) replaces the initramfs's own DHCP on BOOTIF's NIC.
		{"iPXE's lease for ip=dhcp", "0", "/dev/rbd0", bootif,
			"ip link set eth1 up|net 198.18.0.100::198.18.0.254:255.254.0.0::eth1:off|" + mounted, "dhcp", lease},
		{"iPXE's lease without ip=", "0", "/dev/rbd0", bootif,
			"ip link set eth1 up|net 198.18.0.100::198.18.0.254:255.254.0.0::eth1:off|" + mounted, "", lease},
		{"iPXE's lease with no gateway", "0", "/dev/rbd0", bootif,
			"ip link set eth1 up|net 198.18.0.100:::255.254.0.0::eth1:off|" + mounted, "dhcp", "bootd.ip=198.18.0.100:255.254.0.0:"},
		{"the operator's static ip= stays", "0", "/dev/rbd0", bootif,
			"ip link set eth1 up|net 10.0.0.5::10.0.0.1:255.0.0.0::eth1:off|" + mounted, "10.0.0.5::10.0.0.1:255.0.0.0::eth1:off", lease},
		{"ip=none stays", "0", "/dev/rbd0", bootif, "ip link set eth1 up|net none|" + mounted, "none", lease},
		{"bootd.ip not expanded (no iPXE): DHCP", "0", "/dev/rbd0", bootif,
			"ip link set eth1 up|net dhcp|" + mounted, "dhcp", "bootd.ip=${ip}:${netmask}:${gateway}"},
		{"bootd.ip without netmask: DHCP", "0", "/dev/rbd0", bootif, "ip link set eth1 up|net dhcp|" + mounted, "dhcp", "bootd.ip=198.18.0.100"},
		{"no BOOTIF: DHCP", "0", "/dev/rbd0", "", "net dhcp|" + mounted, "dhcp", lease},
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
					"configure_networking() { echo \"net${IP:+ $IP}\" >>\"$LOG\"; }\n" +
					"panic() { echo \"panic $*\" >>\"$LOG\"; exit 1; }\n" +
					// A function: busybox sh would run its own ip applet before a file in PATH.
					"ip() { echo \"ip $*\" >>\"$LOG\"; }\n",
				"bin/bootd-init":               bootdInitStub(busybox, tc.mapExit),
				"bin/ip":                       "#!" + busybox + " sh\necho \"ip $*\" >>\"$LOG\"\n",
				"sys/class/net/eth0/address":   "52:54:00:00:00:01\n",
				"sys/class/net/eth1/address":   "dc:a6:32:b0:07:11\n",
				"sys/class/net/eth1/operstate": "up\n",
				"proc/cmdline":                 tc.cmdline + "\n",
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
					"ROOT=" + tc.root, "rootmnt=/root", "BOOTIF=" + tc.bootif, "IP=" + tc.ip})
			if !strings.HasPrefix(steps, tc.want) {
				t.Errorf("steps = %q, want %q (output %s)", steps, tc.want, out)
			}
		})
	}
}
