#!/usr/bin/env bash
# ceph-tags.sh: prints the go-ceph build tag for the installed Ceph release
# (go-ceph builds against the newest release unless told an older one):
# 14 nautilus, 15 octopus, 16 pacific (Debian 12), 17 quincy, 18 reef,
# 19 squid, nothing for newer ones. The version comes from `ceph --version`,
# else from the librbd-dev package; with neither installed it prints nothing.
set -uo pipefail
v=$(ceph --version 2>/dev/null | sed -n 's/^ceph version \([0-9][0-9]*\)\..*/\1/p')
if [ -z "$v" ]; then
  v=$(dpkg-query -W -f='${Version}' librbd-dev 2>/dev/null | sed -n 's/^\([0-9]*:\)\{0,1\}\([0-9][0-9]*\)\..*/\2/p')
fi
case "$v" in
  14) echo nautilus ;;
  15) echo octopus ;;
  16) echo pacific ;;
  17) echo quincy ;;
  18) echo reef ;;
  19) echo squid ;;
  *) echo ;;
esac
