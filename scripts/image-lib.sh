# image-lib.sh: what the image builders (image-debian.sh, image-pi4.sh) share.
# Sourced, never run: . "$(dirname "$0")/image-lib.sh"

# die MESSAGE...: the message, named after the script, on stderr; exit 1.
die() { echo "$(basename "$0"): $*" >&2; exit 1; }

# image_begin OUT NAME [RECIPE]: makes OUT absolute (creating it) and sets
# DIR to OUT/NAME; exits 0 when that image is already built (its catalog
# entry and initrd are there, and the entry says "# recipe RECIPE" when a
# RECIPE is given, so that an image an older recipe built is rebuilt).
image_begin() {
  mkdir -p "$1"
  OUT=$(cd "$1" && pwd)
  NAME=$2
  DIR=$OUT/$NAME
  if [ -f "$OUT/$NAME.yaml" ] && [ -f "$DIR/initrd.img" ] &&
    { [ -z "${3:-}" ] || grep -q "^# recipe $3\$" "$OUT/$NAME.yaml"; }; then
    echo "image $NAME: already built in $DIR"
    exit 0
  fi
}

# need_tools TOOL...: dies unless every TOOL is on PATH.
need_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || die "$tool is missing: run make deps"
  done
}

# initramfs_conf CONF MODULE...: a configuration folder for Debian's
# mkinitramfs -d CONF: the stock initrd (busybox, gzip, ext4 root), with
# MODULES=list and only the modules named, to keep it small.
initramfs_conf() {
  local conf=$1; shift
  mkdir -p "$conf/conf.d" "$conf/hooks" "$conf/scripts"
  cat > "$conf/initramfs.conf" <<CONF
MODULES=list
BUSYBOX=y
COMPRESS=gzip
RUNSIZE=10%
FSTYPE=ext4
CONF
  printf '%s\n' "$@" > "$conf/modules"
}

# catalog_golden NAME: the end of a catalog entry, where image NAME's golden
# snapshot is (rbd/golden/NAME@v1, where the e2e harness and the demo put it)
# and the size of its nodes' volumes.
catalog_golden() {
  cat <<YAML
golden:
  pool: rbd
  namespace: golden
  image: $1
  snapshot: v1
size: 1G
YAML
}
