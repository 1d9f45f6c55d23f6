#!/usr/bin/env bash
# bench-enroll.sh: enrolls N nodes through bootd's API and does the same by
# hand the way an operator would script it (rbd namespace create, rbd clone,
# ceph auth get-or-create per node), in one run on one cluster, and prints
# both times, the enrolls per second and the ratio. By hand, not in make test.
#
#   scripts/bench-enroll.sh                 # N=1000 each way, a fresh cluster on 127.0.0.1
#   N=200 PARALLEL=16 ADDR=127.0.0.9 scripts/bench-enroll.sh
#
# Needs what make deps installs, and bin/bootd (it runs make build).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000}
MANUAL_N=${MANUAL_N:-$N}
PARALLEL=${PARALLEL:-16}
ADDR=${ADDR:-127.0.0.1}
WORK=$(mktemp -d /tmp/bootd-bench.XXXXXX)
BOOTD_PID=
cleanup() {
  if [ -n "$BOOTD_PID" ] && kill -0 "$BOOTD_PID" 2>/dev/null; then kill -TERM "$BOOTD_PID"; wait "$BOOTD_PID" 2>/dev/null || true; fi
  ./scripts/ceph-cluster.sh stop "$WORK/ceph" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

make -s build
./scripts/ceph-cluster.sh start "$WORK/ceph" "$ADDR" >/dev/null
export CEPH_CONF=$WORK/ceph/ceph.conf

# Golden image (64 MiB, snapshot v1, protected). bootd runs as the cluster's
# client.bootd, with the caps of docs/ceph.md (ceph-cluster.sh makes it).
rbd namespace create rbd/golden
rbd create --size 64M rbd/golden/base
rbd snap create rbd/golden/base@v1
rbd snap protect rbd/golden/base@v1
mkdir -p "$WORK/images"
cat >"$WORK/images/base.yaml" <<YAML
name: base
flavour: initramfs-tools
arch: amd64
kernel: /nonexistent/vmlinuz
golden: {pool: rbd, namespace: golden, image: base, snapshot: v1}
size: 64M
YAML

# The admin listener in plain HTTP on loopback (--admin-tls off): the
# benchmark measures enrollment, not TLS.
./bin/bootd serve --data-dir "$WORK/data" --http-listen 127.0.0.1:0 --admin-tls off --images-dir "$WORK/images" \
  --ceph-conf "$CEPH_CONF" --ceph-user bootd --ceph-keyring "$WORK/ceph/client.bootd.keyring" --log-level warn \
  >"$WORK/bootd.out" 2>"$WORK/bootd.log" &
BOOTD_PID=$!
for _ in $(seq 1 100); do grep -q 'admin listener serving on' "$WORK/bootd.out" && break; sleep 0.1; done
URL=$(sed -n 's/.*admin listener serving on \(http:[^ ]*\).*/\1/p' "$WORK/bootd.out" | head -1)
[ -n "$URL" ] || { echo "bootd did not start:"; cat "$WORK/bootd.log"; exit 1; }
TOKEN=$(cat "$WORK/data/api-token")

mac() { printf '52:54:%02x:%02x:%02x:%02x' $(( $2 )) $(( $1 >> 16 & 255 )) $(( $1 >> 8 & 255 )) $(( $1 & 255 )); }

# bootd: N POSTs to /api/v1/nodes, PARALLEL at a time, from one curl process.
{
  echo "header = \"Authorization: Bearer $TOKEN\""
  echo 'header = "Content-Type: application/json"'
  for i in $(seq 1 "$N"); do
    [ "$i" = 1 ] || echo next
    echo "header = \"Authorization: Bearer $TOKEN\""
    echo 'header = "Content-Type: application/json"'
    echo "url = \"$URL/api/v1/nodes\""
    echo "data = \"{\\\"mac\\\":\\\"$(mac "$i" 1)\\\",\\\"image\\\":\\\"base\\\"}\""
    echo 'output = "/dev/null"'
    echo 'write-out = "%{http_code}\n"'
  done
} >"$WORK/curl.conf"
chmod 600 "$WORK/curl.conf"
t0=$(date +%s.%N)
curl -sS --no-progress-meter --parallel --parallel-max "$PARALLEL" -K "$WORK/curl.conf" >"$WORK/codes"
t1=$(date +%s.%N)
ok=$(grep -c '^201$' "$WORK/codes" || true)
[ "$ok" = "$N" ] || { echo "bootd: only $ok of $N enrolls answered 201:"; sort "$WORK/codes" | uniq -c; tail "$WORK/bootd.log"; exit 1; }
made=$(rbd namespace ls rbd | grep -c '^node-' || true)
[ "$made" = "$N" ] || { echo "bootd: $made namespaces for $N enrolls"; exit 1; }

# By hand: what an operator scripts, one node after the other.
t2=$(date +%s.%N)
for i in $(seq 1 "$MANUAL_N"); do
  ns=node-$(mac "$i" 2 | tr -d :)
  rbd namespace create "rbd/$ns"
  rbd clone --rbd-default-clone-format 2 rbd/golden/base@v1 "rbd/$ns/root"
  ceph auth get-or-create "client.$ns" mon 'allow r' \
    osd "profile rbd pool=rbd namespace=$ns, profile rbd-read-only pool=rbd namespace=golden" >/dev/null
done
t3=$(date +%s.%N)

awk -v n="$N" -v m="$MANUAL_N" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v p="$PARALLEL" 'BEGIN {
  api = b - a; man = d - c
  printf "bootd API: %d enrolls in %.1f s (%d at a time): %.1f enrolls/s, %.1f ms each\n", n, api, p, n/api, 1000*api/n
  printf "by hand:   %d nodes in %.1f s (rbd namespace create + rbd clone + ceph auth get-or-create): %.2f nodes/s\n", m, man, m/man
  printf "ratio: bootd is %.1f times faster per node\n", (man/m) / (api/n)
}'
