#!/usr/bin/env bash
# golden-rootfs.sh OUT.img [SIZE]: builds a tiny ext4 root file system from
# Debian's busybox-static, for tests and the demo: its init prints a marker,
# where / is mounted from and the hostname bootd gave, shows and rewrites a
# file that survives reboots, then powers the machine off. Lines start with
# BOOTD- so a harness can read them off the serial console. With bootd.stay
# on the kernel command line (the demo) it leaves a shell on the console
# instead of powering off.
set -euo pipefail
OUT=${1:?usage: golden-rootfs.sh OUT.img [SIZE]}
SIZE=${2:-64M}
BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] || { echo "golden-rootfs.sh: busybox is missing: run make deps" >&2; exit 1; }
file -L "$BUSYBOX" 2>/dev/null | grep -q 'dynamically' && { echo "golden-rootfs.sh: $BUSYBOX is not static (install busybox-static)" >&2; exit 1; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,root,run}
cp "$BUSYBOX" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cat > "$root/sbin/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "BOOTD-MARKER: the golden root file system is running"
echo "BOOTD-ROOT: $(awk '$2 == "/" { dev = $1 } END { print dev }' /proc/mounts)"
echo "BOOTD-HOSTNAME: $(hostname)"
mount -o remount,rw /
if [ -f /persist.txt ]; then echo "BOOTD-PERSIST: $(cat /persist.txt)"; else echo "BOOTD-PERSIST: none"; fi
echo "written by boot at $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)" > /persist.txt
cat /persist.txt >/dev/null
sync
mount -o remount,ro /
sync
echo "BOOTD-DONE"
if grep -q bootd.stay /proc/cmdline; then
	echo "bootd.stay on the command line: a shell on the console instead of powering off"
	exec setsid sh -c 'exec sh </dev/ttyS0 >/dev/ttyS0 2>&1'
fi
poweroff -f
INIT
chmod 755 "$root/sbin/init"
echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
rm -f "$OUT"
mkfs.ext4 -q -F -L golden -d "$root" "$OUT" "$SIZE"
echo "golden root file system: $OUT ($SIZE)"
