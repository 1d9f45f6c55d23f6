#!/usr/bin/env bash
# check-arrows.sh: keeps the package arrows of docs/architecture.md honest.
#   cmd -> web -> bootfs -> images -> boot <- rbd ; boot/store -> boot
#   web -> boot/access <- boot/store ; boot/access -> boot
#   dhcp and tftp never import boot, web, images or rbd; boot imports no
#   server, database or cgo package. Exits non-zero on the first broken rule set.
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

forbid ./boot "$mod/web" "$mod/dhcp" "$mod/tftp" "$mod/rbd" "$mod/images" "$mod/boot/store" \
  go.etcd.io/bbolt github.com/ceph/go-ceph/rbd github.com/ceph/go-ceph/rados net/http \
  github.com/insomniacslk/dhcp/dhcpv4 github.com/pin/tftp/v3
forbid ./boot/access "$mod/web" "$mod/dhcp" "$mod/tftp" "$mod/rbd" "$mod/images" "$mod/boot/store" \
  "$mod/bootfs" go.etcd.io/bbolt github.com/ceph/go-ceph/rbd github.com/ceph/go-ceph/rados net/http \
  github.com/insomniacslk/dhcp/dhcpv4 github.com/pin/tftp/v3
forbid ./boot/access/accesstest "$mod/web" "$mod/boot/store" go.etcd.io/bbolt net/http
forbid ./boot/store "$mod/web" "$mod/dhcp" "$mod/tftp" "$mod/rbd" "$mod/images"
forbid ./images "$mod/web" "$mod/dhcp" "$mod/tftp" "$mod/rbd" "$mod/boot/store"
forbid ./web "$mod/dhcp" "$mod/tftp" "$mod/rbd" "$mod/boot/store"
forbid ./dhcp "$mod/boot" "$mod/web" "$mod/images" "$mod/rbd" "$mod/tftp"
forbid ./tftp "$mod/boot" "$mod/web" "$mod/images" "$mod/rbd" "$mod/dhcp"
forbid ./rbd "$mod/web" "$mod/dhcp" "$mod/tftp" "$mod/boot/store"
forbid ./templates "$mod/boot" "$mod/web"
forbid ./bootfs "$mod/web" "$mod/dhcp" "$mod/tftp" "$mod/rbd" "$mod/boot/store"

# Only rbd (and go-ceph under it) may use cgo, outside the standard library.
for pkg in $(go list ./...); do
  cgo=$(go list -deps -f '{{if and (not .Standard) .CgoFiles}}{{.ImportPath}}{{end}}' "$pkg" |
    grep -v -e "^$mod/rbd\$" -e '^github.com/ceph/go-ceph/' || true)
  if [ -n "$cgo" ]; then echo "cgo outside rbd: $pkg uses $cgo"; fail=1; fi
done

# boot builds without cgo.
if ! CGO_ENABLED=0 go build ./boot/... ; then
  echo "boot does not build with CGO_ENABLED=0"; fail=1
fi
[ $fail = 0 ] && echo "package arrows: ok"
exit $fail
