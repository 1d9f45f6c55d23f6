#!/usr/bin/env bash
# image-debian.sh OUT [NAME]: builds an amd64 initramfs-tools image for bootd
# from Debian's packages: the kernel of linux-image-amd64, the stock initrd
# made by Debian's own mkinitramfs, and the kernel's modules tree (bootd takes
# the rbd modules from it at boot), and the signed first stages of a Secure
# Boot chain: shim (shim-signed) and network GRUB (grub-efi-amd64-signed,
# Debian 13's: Debian 12's network GRUB has no HTTP client, so a machine
# started by UEFI HTTP boot could not read its grub.cfg).
# Writes OUT/NAME.yaml (the catalog entry), OUT/NAME-sb.yaml (the same image
# booting x64 UEFI machines through shim and GRUB: secure_boot) and
# OUT/NAME/{vmlinuz,initrd.img,modules/,efi/}. Idempotent: a finished image
# is left alone; delete OUT/NAME to rebuild. Needs root (apt, mount namespace).
set -euo pipefail
OUT=${1:?usage: image-debian.sh OUT [NAME]}
. "$(dirname "$0")/image-lib.sh"
image_begin "$OUT" "${2:-debian-12}" sb2
[ "$(id -u)" = 0 ] || die "run as root (it uses apt and a private mount namespace)"
need_tools mkinitramfs depmod unshare dpkg-deb

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)/\1/p' | head -n1)
if [ -z "$pkg" ]; then apt-get update -qq; pkg=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)/\1/p' | head -n1); fi
[ -n "$pkg" ] || die "cannot find the kernel package behind linux-image-amd64"
echo "image $NAME: kernel package $pkg"
(cd "$work" && apt-get download -q "$pkg" shim-signed 2>&1 |
  grep -v '^W: Download is performed unsandboxed' || true)
# GRUB from Debian 13 (trixie), through an apt of its own that checks the
# archive's signature with Debian's keyring like the system's apt does:
# its signed network GRUB (2.12) reads its configuration, the kernel and
# the initrds over HTTP when UEFI HTTP boot started it, over TFTP when PXE
# did. Debian 12's (2.06) only has TFTP. Debian signs both with the key
# Debian 12's shim trusts; the kernel stays Debian 12's.
grub_suite=trixie
apt_dir=$work/apt
mkdir -p "$apt_dir/sources" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
: > "$apt_dir/none"
cat > "$apt_dir/sources/$grub_suite.sources" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: $grub_suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
apt_grub=(apt-get -q -o "Dir::Etc::SourceList=$apt_dir/none" -o "Dir::Etc::SourceParts=$apt_dir/sources"
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "Dir::State::Status=$apt_dir/none"
  -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false" -o "Acquire::Languages=none"
  -o "APT::Sandbox::User=root")
"${apt_grub[@]}" update > "$apt_dir/update.log" 2>&1 || { cat "$apt_dir/update.log"; die "cannot read Debian $grub_suite's package list"; }
if grep -q '^[WE]:' "$apt_dir/update.log"; then cat "$apt_dir/update.log"; die "apt for Debian $grub_suite: see above"; fi
(cd "$work" && "${apt_grub[@]}" download grub-efi-amd64-signed 2>&1 |
  grep -v '^W: Download is performed unsandboxed' || true)
dpkg-deb -x "$work"/"$pkg"_*.deb "$work/root"
for deb in "$work"/shim-signed_*.deb "$work"/grub-efi-amd64-signed_*.deb; do dpkg-deb -x "$deb" "$work/efi"; done
ver=$(ls "$work/root/lib/modules")
depmod -b "$work/root" "$ver"

# The stock initrd, as Debian's mkinitramfs makes it, with a short module list
# (the NICs QEMU and common servers use, ext4) to keep it small.
conf=$work/conf
initramfs_conf "$conf" e1000 e1000e igb ixgbe bnx2 tg3 virtio_net virtio_pci virtio_blk ext4 crc32c_generic
mkdir -p /lib/modules
unshare -m sh -c "mount --bind '$work/root/lib/modules' /lib/modules && mount --bind '$work/root/boot' /boot && \
  mkinitramfs -d '$conf' -o '$work/initrd.img' '$ver'"

rm -rf "$DIR"
mkdir -p "$DIR"
cp "$work/root/boot/vmlinuz-$ver" "$DIR/vmlinuz"
cp "$work/initrd.img" "$DIR/initrd.img"
mv "$work/root/lib/modules/$ver" "$DIR/modules"
# Signed by Microsoft's UEFI CA (shim) and by Debian (GRUB, the kernel above).
mkdir -p "$DIR/efi"
cp "$work/efi/usr/lib/shim/shimx64.efi.signed" "$DIR/efi/shimx64.efi"
cp "$work/efi/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed" "$DIR/efi/grubx64.efi"
cat > "$OUT/$NAME.yaml" <<YAML
# Built by scripts/image-debian.sh from $pkg ($ver).
# recipe sb2
name: $NAME
flavour: initramfs-tools
arch: amd64
kernel: $NAME/vmlinuz
initrds:
  - $NAME/initrd.img
modules: $NAME/modules
# bootd adds bootd=, bootd.token= and BOOTIF= itself.
cmdline: "console=ttyS0 boot=bootd root=/dev/rbd0 rw ip=dhcp"
$(catalog_golden "$NAME")
YAML
# The same image for machines with UEFI Secure Boot on: x64 UEFI firmware
# gets Debian's signed shim, which loads its signed network GRUB, which
# loads the signed kernel (docs/images.md, Secure Boot).
sed -e "s/^name: $NAME\$/name: $NAME-sb/" "$OUT/$NAME.yaml" > "$OUT/$NAME-sb.yaml"
cat >> "$OUT/$NAME-sb.yaml" <<YAML
secure_boot:
  shim: $NAME/efi/shimx64.efi
  grub: $NAME/efi/grubx64.efi
YAML
echo "image $NAME: built in $DIR ($(du -sh "$DIR" | cut -f1)), catalog entry $OUT/$NAME.yaml"
