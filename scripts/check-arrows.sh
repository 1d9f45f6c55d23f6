#!/usr/bin/env bash
# check-arrows.sh: keeps the package arrows of docs/architecture.md honest.
#   The doc's arrows block lists, for each package, every package of ours it
#   imports; go list must say the same. Besides: dhcp and tftp never import
#   boot, web, images, bootfs or rbd; boot and boot/access import no server,
#   database or cgo package; the two store backends do not import each
#   other, and their contract (boot/storetest) imports neither; every Go file the doc names exists. Exits
#   non-zero when any rule is broken, after checking them all.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
fail=0

# forbid PKG DEP...: PKG (if it exists) must not depend on any DEP, even indirectly.
forbid() {
  local pkg=$1; shift
  ls "${pkg#./}"/*.go >/dev/null 2>&1 || return 0
  local deps
  deps=$(go list -deps "$pkg")
  for dep in "$@"; do
    if grep -qxF "$dep" <<<"$deps"; then
      echo "arrow broken: $pkg imports $dep (directly or indirectly)"
      fail=1
    fi
  done
}

forbid ./boot "$mod/web" "$mod/dhcp" "$mod/tftp" "$mod/rbd" "$mod/images" "$mod/boot/store" "$mod/bootfs" \
  go.etcd.io/bbolt github.com/ceph/go-ceph/rbd github.com/ceph/go-ceph/rados net/http \
  github.com/insomniacslk/dhcp/dhcpv4 github.com/pin/tftp/v3
forbid ./boot/access "$mod/web" "$mod/dhcp" "$mod/tftp" "$mod/rbd" "$mod/images" "$mod/boot/store" \
  "$mod/bootfs" go.etcd.io/bbolt github.com/ceph/go-ceph/rbd github.com/ceph/go-ceph/rados net/http \
  github.com/insomniacslk/dhcp/dhcpv4 github.com/pin/tftp/v3
forbid ./boot/access/accesstest "$mod/web" "$mod/boot/store" go.etcd.io/bbolt net/http
forbid ./boot/radosstore "$mod/web" "$mod/dhcp" "$mod/tftp" "$mod/rbd" "$mod/images" "$mod/bootfs" \
  "$mod/boot/store" go.etcd.io/bbolt
forbid ./boot/storetest "$mod/web" "$mod/dhcp" "$mod/tftp" "$mod/rbd" "$mod/boot/store" \
  "$mod/boot/radosstore" github.com/ceph/go-ceph/rados go.etcd.io/bbolt
forbid ./boot/storedump "$mod/web" "$mod/dhcp" "$mod/tftp" "$mod/rbd" "$mod/boot/store" \
  "$mod/boot/radosstore" github.com/ceph/go-ceph/rados go.etcd.io/bbolt net/http
forbid ./boot/store "$mod/web" "$mod/dhcp" "$mod/tftp" "$mod/rbd" "$mod/images" "$mod/bootfs"
forbid ./images "$mod/web" "$mod/dhcp" "$mod/tftp" "$mod/rbd" "$mod/boot/store" "$mod/bootfs"
forbid ./web "$mod/dhcp" "$mod/tftp" "$mod/rbd" "$mod/boot/store"
forbid ./dhcp "$mod/boot" "$mod/web" "$mod/images" "$mod/bootfs" "$mod/rbd" "$mod/tftp"
forbid ./tftp "$mod/boot" "$mod/web" "$mod/images" "$mod/bootfs" "$mod/rbd" "$mod/dhcp"
forbid ./rbd "$mod/web" "$mod/dhcp" "$mod/tftp" "$mod/boot/store" "$mod/bootfs"
forbid ./templates "$mod/boot" "$mod/web" "$mod/bootfs"
forbid ./power "$mod/web" "$mod/dhcp" "$mod/tftp" "$mod/rbd" "$mod/boot/store" "$mod/bootfs" "$mod/images"
# bootd-init stays a small static binary: no power control in it.
forbid ./cmd/bootd-init "$mod/power" github.com/bougou/go-ipmi/pkg/client
forbid ./bootfs "$mod/web" "$mod/dhcp" "$mod/tftp" "$mod/rbd" "$mod/boot/store"

# The arrows block of docs/architecture.md ("pkg -> dep dep ...") is exactly
# what each listed package imports of ours.
doc=docs/architecture.md
arrows=$(sed -n '/^<!-- arrows -->$/,/^<!-- \/arrows -->$/p' "$doc" | grep -v '^<!--' | grep -e ' ->' || true)
if [ -z "$arrows" ]; then echo "$doc: no arrows block"; fail=1; fi
while read -r pkg _ deps; do
  want=$(tr ' ' '\n' <<<"$deps" | grep -v '^$' | sort || true)
  have=$(go list -f '{{join .Imports "\n"}}' "./$pkg" | sed -n "s#^$mod/##p" | sort)
  if [ "$want" != "$have" ]; then
    echo "$doc says $pkg -> $(echo $want), but it imports: $(echo $have)"; fail=1
  fi
done <<<"$arrows"

# Every Go file the doc names exists.
for f in $(grep -o '[a-z0-9_/-]*\.go\b' "$doc" | sort -u); do
  [ -e "$f" ] || { echo "$doc names $f, which does not exist"; fail=1; }
done

# Only rbd and boot/radosstore (and go-ceph under them) may use cgo, outside
# the standard library.
for pkg in $(go list ./...); do
  cgo=$(go list -deps -f '{{if and (not .Standard) .CgoFiles}}{{.ImportPath}}{{end}}' "$pkg" |
    grep -v -e "^$mod/rbd\$" -e "^$mod/boot/radosstore\$" -e '^github.com/ceph/go-ceph/' || true)
  if [ -n "$cgo" ]; then echo "cgo outside rbd and boot/radosstore: $pkg uses $cgo"; fail=1; fi
done

# boot builds without cgo.
if ! CGO_ENABLED=0 go build ./boot/... ; then
  echo "boot does not build with CGO_ENABLED=0"; fail=1
fi
[ $fail = 0 ] && echo "package arrows: ok"
exit $fail
