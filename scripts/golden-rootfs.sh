#!/usr/bin/env bash
# golden-rootfs.sh OUT.img [SIZE] [ARCH]: builds a tiny ext4 root file system
# from Debian's busybox-static, for tests and the demo: its init prints a
# marker, where / is mounted from and the hostname bootd gave, shows and
# rewrites a file that survives reboots, then powers the machine off. It
# also prints its RBD map string and, for a hostname ending in -bench, the
# rates of writing and reading 64 MiB of its root device. Lines
# start with BOOTD- so a harness can read them off the serial console. With
# bootd.stay on the kernel command line (the demo) it leaves a shell on the
# console instead of powering off.
# ARCH (a Debian architecture, the host's by default) picks the busybox: the
# host's own (package busybox-static), or for another one (arm64, for the
# Raspberry Pi image) busybox-static_*_ARCH.deb downloaded through a private
# apt (scripts/apt-lib.sh; the host's apt and dpkg architectures are left
# alone) and kept in $GOLDEN_CACHE when that is set, so it is fetched once.
set -euo pipefail
OUT=${1:?usage: golden-rootfs.sh OUT.img [SIZE] [ARCH]}
SIZE=${2:-64M}
ARCH=${3:-$(dpkg --print-architecture)}
die() { echo "golden-rootfs.sh: $*" >&2; exit 1; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,root,run}
if [ "$ARCH" = "$(dpkg --print-architecture)" ]; then
  BUSYBOX=$(command -v busybox || true)
  [ -n "$BUSYBOX" ] || die "busybox is missing: run make deps"
  file -L "$BUSYBOX" 2>/dev/null | grep -q 'dynamically' && die "$BUSYBOX is not static (install busybox-static)"
  cp "$BUSYBOX" "$root/bin/busybox"
else
  debs=${GOLDEN_CACHE:-$root/.cache}/busybox-static-$ARCH
  deb=$(ls "$debs"/busybox-static_*_"$ARCH".deb 2>/dev/null | head -n1 || true)
  if [ -z "$deb" ]; then
    . "$(dirname "$0")/apt-lib.sh"
    private_apt "$root/.apt" "$ARCH" main
    apt-get install -qq -y --download-only busybox-static >/dev/null
    mkdir -p "$debs"
    cp "$root"/.apt/cache/archives/busybox-static_*_"$ARCH".deb "$debs/"
    deb=$(ls "$debs"/busybox-static_*_"$ARCH".deb | head -n1)
  fi
  dpkg-deb --fsys-tarfile "$deb" | tar -xO ./bin/busybox > "$root/bin/busybox"
  chmod 755 "$root/bin/busybox"
  rm -rf "$root/.apt" "$root/.cache"
fi
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
# How the root was mapped (kernel Documentation/ABI/testing/sysfs-bus-rbd:
# config_info is the map string, ms_mode included; with key= it holds no secret).
[ -r /sys/bus/rbd/devices/0/config_info ] && echo "BOOTD-RBD: $(cat /sys/bus/rbd/devices/0/config_info)"
# A node whose hostname ends in -bench also writes 64 MiB at 512 MiB into
# its root device (past this small file system; O_DIRECT, so each write is
# acknowledged by the cluster), reads them back uncached and prints both
# rates: the e2e ms_mode measurement. Written data, since a clone's unwritten
# blocks of a sparse golden image come back as holes, not as transferred bytes.
case $(hostname) in *-bench)
	dev=$(awk '$2 == "/" { dev = $1 } END { print dev }' /proc/mounts)
	rate() { awk -v a="$1" -v b="$2" 'BEGIN { d = b - a; if (d < 0.01) d = 0.01; printf "64 MiB in %.2f s, %.1f MiB/s", d, 64 / d }'; }
	t0=$(cut -d' ' -f1 /proc/uptime)
	dd if=/dev/zero of="$dev" bs=1M count=64 seek=512 oflag=direct 2>/dev/null
	t1=$(cut -d' ' -f1 /proc/uptime)
	dd if="$dev" of=/dev/null bs=1M count=64 skip=512 iflag=direct 2>/dev/null
	t2=$(cut -d' ' -f1 /proc/uptime)
	echo "BOOTD-WRITE: $(rate "$t0" "$t1")"
	echo "BOOTD-READ: $(rate "$t1" "$t2")"
esac
mount -o remount,rw /
if [ -f /persist.txt ]; then echo "BOOTD-PERSIST: $(cat /persist.txt)"; else echo "BOOTD-PERSIST: none"; fi
echo "written by boot at $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)" > /persist.txt
cat /persist.txt >/dev/null
sync
mount -o remount,ro /
sync
echo "BOOTD-DONE"
# bootd.stay on the command line, or a hostname ending in -stay (the e2e
# power test: the machine runs until its BMC cuts the power), keeps it up.
stay=
grep -q bootd.stay /proc/cmdline && stay="bootd.stay on the command line"
case $(hostname) in *-stay) stay="the hostname ends in -stay" ;; esac
if [ -n "$stay" ]; then
	echo "$stay: a shell on the console instead of powering off"
	tty=$(sed -n 's/.*console=\([^ ,]*\).*/\1/p' /proc/cmdline) # the last console= (ttyS0, ttyAMA0)
	tty=${tty:-ttyS0}
	exec setsid sh -c "exec sh </dev/$tty >/dev/$tty 2>&1"
fi
poweroff -f
INIT
chmod 755 "$root/sbin/init"
echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
rm -f "$OUT"
mkfs.ext4 -q -F -L golden -d "$root" "$OUT" "$SIZE"
echo "golden root file system: $OUT ($SIZE, $ARCH)"
