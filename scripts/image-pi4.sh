#!/usr/bin/env bash
# image-pi4.sh OUT [NAME]: builds a Raspberry Pi 4 (arm64) initramfs-tools
# image for bootd from Debian 12's packages: the kernel of linux-image-arm64,
# the Pi 4 device trees it ships, the Pi firmware of raspi-firmware (component
# non-free-firmware), the kernel's modules tree (bootd takes the rbd modules
# from it at boot) and a stock arm64 initrd made by Debian's own mkinitramfs,
# run in a throwaway arm64 root under qemu-user (binfmt_misc).
# Writes OUT/NAME.yaml (the catalog entry) and
# OUT/NAME/{vmlinuz,initrd.img,firmware/,modules/}. Idempotent: a finished
# image of the current RECIPE is left alone; delete OUT/NAME.yaml to rebuild.
# Needs root (chroot, a private mount namespace, binfmt_misc). The host's apt
# configuration is not touched: apt runs with its own sources list, state and
# cache in a temporary folder (scripts/apt-lib.sh), and checks signatures
# with Debian's archive keyring.
set -euo pipefail
OUT=${1:?usage: image-pi4.sh OUT [NAME]}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
. "$(dirname "$0")/image-lib.sh"
# RECIPE changes when what the script puts in the image changes, so that an
# image an older recipe built is rebuilt (2: virtio-net in the initrd).
RECIPE=2
image_begin "$OUT" "${2:-debian-12-pi4}" "$RECIPE"
[ "$(id -u)" = 0 ] || die "run as root (it uses chroot, a private mount namespace and binfmt_misc)"
need_tools apt-get dpkg-deb depmod unshare chroot
[ -r "$KEYRING" ] || die "$KEYRING is missing: run make deps (debian-archive-keyring)"

# The work folder is beside the image (a dot folder, which the catalog
# ignores), so the finished parts move into place without copying. The
# mounts the build needs live in a private mount namespace that ends with
# its process, so nothing is left mounted whatever happens.
work=$(mktemp -d "$OUT/.$NAME.build.XXXXXX")
# Long steps run through run: in the background in their own process group
# (setsid), so that a signal interrupts the wait at once and cleanup stops
# the whole step (bash would otherwise finish a foreground step first).
child=
run() {
  setsid -w "$@" &
  child=$!
  wait "$child"
  child=
}
cleanup() {
  if [ -n "$child" ]; then
    kill -TERM -- "-$child" "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
    for _ in $(seq 20); do # the rest of the group (mkinitramfs's children) goes soon after
      kill -0 -- "-$child" 2>/dev/null || break
      sleep 0.5
    done
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
t0=$(date +%s)

# arm64 programs run under qemu-user through binfmt_misc (the F flag opens
# the interpreter at registration, so the chroot needs no copy of it).
if [ "$(dpkg --print-architecture)" != arm64 ]; then
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    conf=/usr/lib/binfmt.d/qemu-aarch64.conf
    [ -r "$conf" ] || die "$conf is missing: run make deps (qemu-user-static)"
    echo "image $NAME: registering qemu-aarch64 with binfmt_misc ($conf)"
    cat "$conf" > /proc/sys/fs/binfmt_misc/register
  fi
fi

# A private apt: arm64, main and non-free-firmware, state and cache in $work.
apt=$work/apt
. "$(dirname "$0")/apt-lib.sh"
private_apt "$apt" arm64 "main non-free-firmware"
# The kernel, the firmware, and a root just big enough for mkinitramfs: an
# empty dpkg status pulls in dependencies but not the Essential set, so the
# few essential programs mkinitramfs and its hooks call are named here.
run apt-get install -qq -y --download-only linux-image-arm64 raspi-firmware \
  initramfs-tools busybox e2fsprogs dash bash coreutils sed grep findutils gzip \
  libc-bin util-linux mawk debianutils >/dev/null
debs=$apt/cache/archives
kdeb=$(ls "$debs"/linux-image-[0-9]*-arm64_*.deb 2>/dev/null | head -n1)
[ -n "$kdeb" ] || die "no kernel package behind linux-image-arm64"
echo "image $NAME: kernel package $(basename "$kdeb"), $(ls "$debs"/*.deb | wc -l) packages downloaded"

root=$work/root
fw=$work/raspi-firmware
mkdir -p "$root" "$fw"
for d in "$debs"/*.deb; do
  case $(basename "$d") in
    raspi-firmware_*) nice -n 19 dpkg-deb -x "$d" "$fw" ;;
    *) nice -n 19 dpkg-deb -x "$d" "$root" ;;
  esac
done
ver=$(ls "$root/lib/modules")
[ "$(echo "$ver" | wc -l)" = 1 ] || die "expected one kernel in the arm64 root, found: $ver"
run nice -n 19 depmod -b "$root" "$ver"

# The stock initrd, as Debian's mkinitramfs makes it, with a short module
# list: the Pi 4's Ethernet (genet, its PHY and MDIO bus) and ext4, plus
# virtio-net on PCI (virtio_net, virtio_pci; the generic PCI host and the
# PL011 UART are built in) for the end-to-end test, which boots this kernel
# and initrd under qemu-system-aarch64 -M virt since QEMU here has no Pi 4
# machine. A real Pi loads them to no effect (it has no virtio device); they add ~75 KB.
initramfs_conf "$root/tmp/initramfs-conf" genet broadcom mdio-bcm-unimac ext4 crc32c_generic virtio_net virtio_pci
echo "image $NAME: running mkinitramfs $ver in the arm64 root"
run nice -n 19 unshare -m --propagation private sh -c \
  "mount -t proc proc '$root/proc' && mount --bind /dev '$root/dev' && \
   chroot '$root' /usr/sbin/mkinitramfs -d /tmp/initramfs-conf -o /tmp/initrd.img '$ver'"
[ -s "$root/tmp/initrd.img" ] || die "mkinitramfs made no initrd"

# What the Pi 4 reads from the firmware folder: start4*.elf, fixup4*.dat
# and the BCM2711 device trees (Pi 4 B, Pi 400, CM4).
firmware=$work/image/firmware
mkdir -p "$firmware"
cp "$fw"/usr/lib/raspi-firmware/start4*.elf "$fw"/usr/lib/raspi-firmware/fixup4*.dat "$firmware/"
cp "$root/usr/lib/linux-image-$ver"/broadcom/bcm2711-*.dtb "$firmware/"
[ -f "$firmware/bcm2711-rpi-4-b.dtb" ] || die "the kernel package has no bcm2711-rpi-4-b.dtb"
cp "$root/boot/vmlinuz-$ver" "$work/image/vmlinuz"
cp "$root/tmp/initrd.img" "$work/image/initrd.img"
mv "$root/lib/modules/$ver" "$work/image/modules"

rm -rf "$DIR"
mv "$work/image" "$DIR"
cat > "$work/$NAME.yaml" <<YAML
# recipe $RECIPE
# Built by scripts/image-pi4.sh from $(basename "$kdeb" .deb) and $(basename "$(ls "$debs"/raspi-firmware_*.deb)" .deb).
name: $NAME
flavour: initramfs-tools
arch: arm64
kernel: $NAME/vmlinuz
initrds:
  - $NAME/initrd.img
firmware: $NAME/firmware
modules: $NAME/modules
# The Pi 4's UART is ttyS1 under Debian's kernel (as raspi-firmware writes it).
# bootd adds bootd=, bootd.token= and BOOTIF= itself.
cmdline: "console=tty0 console=ttyS1,115200 boot=bootd root=/dev/rbd0 rw ip=dhcp net.ifnames=0"
$(catalog_golden "$NAME")
YAML
mv "$work/$NAME.yaml" "$OUT/$NAME.yaml"
echo "image $NAME: built in $DIR ($(du -sh "$DIR" | cut -f1)) in $(( $(date +%s) - t0 )) s, catalog entry $OUT/$NAME.yaml"
