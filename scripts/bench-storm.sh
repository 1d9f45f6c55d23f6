#!/usr/bin/env bash
# bench-storm.sh: a whole rack boots at once (make storm). N simulated BIOS
# machines (bin/bootd-storm) each do the whole chain a real one does:
# firmware DHCP through a relay, TFTP of undionly.kpxe, iPXE's DHCP, the
# script, kernel and initrds over HTTP, the key release over TLS against a
# real Ceph cluster, and the boot reports. In the same run it measures the
# physical limit (the same bytes over plain TCP, from the same addresses)
# and, as a peer, the same chain without keys served by dnsmasq (DHCP, TFTP)
# and nginx (HTTP) with the same files. By hand, as root; not in make test.
#
#   scripts/bench-storm.sh              # N=1000
#   N=100 scripts/bench-storm.sh        # a smaller rack
#   PEER=0 scripts/bench-storm.sh       # bootd and the limit only
#   KEEP=/tmp/storm scripts/bench-storm.sh   # keep the summaries and logs
#   BOOTD_ARGS="--max-boots-in-flight 10" scripts/bench-storm.sh  # more flags for bootd serve
#
# Two network namespaces joined by a veth pair, as a rack behind a router:
# the servers (Ceph, bootd, copy-serve, then dnsmasq and nginx) on
# 198.18.1.1; the simulator on 198.18.1.2, the relay's address (giaddr),
# with 198.18.128.0/17 routed to it and local there, so that each node's
# traffic leaves from the address it was leased. Nothing leaves the
# namespaces. Everything the run starts is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

N=${N:-1000}
PEER=${PEER:-1}
# The sizes of the e2e Debian 12 image's kernel and initrd, and of the
# modules bootd puts in its overlay (Debian 12's 6.1 kernel).
KERNEL_BYTES=${KERNEL_BYTES:-8247232}
INITRD_BYTES=${INITRD_BYTES:-11943700}
SRV=bootd-storm-srv-$$
CLI=bootd-storm-cli-$$
SRV_IP=198.18.1.1
CLI_IP=198.18.1.2

[ "$(id -u)" = 0 ] || { echo "bench-storm: run as root (namespaces, port 67)" >&2; exit 1; }
need=()
if [ "$PEER" = 1 ]; then
  command -v dnsmasq >/dev/null || need+=(dnsmasq-base)
  command -v nginx >/dev/null || need+=(nginx-light)
fi
[ -e /usr/lib/ipxe/undionly.kpxe ] || need+=(ipxe)
bench_install "${need[@]}"

bench_work bootd-storm
cleanup_storm() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  ./scripts/ceph-cluster.sh stop "$work/ceph" >/dev/null 2>&1 || true
  ip netns delete "$CLI" 2>/dev/null || true
  ip netns delete "$SRV" 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp "$work"/*.json "$work"/*.log "$KEEP/" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup_storm EXIT

make -s build
go build -tags "${GOTAGS:-pacific}" -o bin/bootd-storm ./cmd/bootd-storm

ip netns add "$SRV"
ip netns add "$CLI"
ip -n "$SRV" link set lo up
ip -n "$CLI" link set lo up
ip -n "$SRV" link add bs-srv type veth peer name bs-cli netns "$CLI"
ip -n "$SRV" addr add $SRV_IP/15 dev bs-srv
ip -n "$CLI" addr add $CLI_IP/15 dev bs-cli
ip -n "$SRV" link set bs-srv up
ip -n "$CLI" link set bs-cli up
ip -n "$CLI" route add local 198.18.128.0/17 dev lo
ip -n "$SRV" route add 198.18.128.0/17 via $CLI_IP
# In the foreground only: a function put in the background would leave $!
# naming a subshell, not the process; background ones use ip netns exec,
# which execs the command under its own PID.
srv() { ip netns exec "$SRV" "$@"; }
cli() { ip netns exec "$CLI" "$@"; }

# Ceph in the servers' namespace; the golden image; bootd's own user.
srv ./scripts/ceph-cluster.sh start "$work/ceph" $SRV_IP >/dev/null
export CEPH_CONF=$work/ceph/ceph.conf
srv rbd namespace create rbd/golden
srv rbd create --size 64M rbd/golden/base
srv rbd snap create rbd/golden/base@v1
srv rbd snap protect rbd/golden/base@v1

# The image: a kernel, an initrd and a modules tree of the e2e Debian
# image's sizes, of random bytes: nothing boots them, every byte is served
# and counted, and bootd builds its overlay (bootd-init, the rbd modules) as
# for a real image.
mkdir -p "$work/images/base"
head -c "$KERNEL_BYTES" /dev/urandom >"$work/images/base/vmlinuz"
head -c "$INITRD_BYTES" /dev/urandom >"$work/images/base/initrd.img"
mods=$work/images/base/modules
while read -r path size; do
  mkdir -p "$mods/$(dirname "$path")"
  head -c "$size" /dev/urandom >"$mods/$path"
done <<MODS
kernel/net/ceph/libceph.ko 1007721
kernel/drivers/block/rbd.ko 283417
kernel/lib/libcrc32c.ko 8425
kernel/crypto/crc32c_generic.ko 9985
kernel/crypto/gf128mul.ko 16649
kernel/crypto/ghash-generic.ko 11049
kernel/crypto/ctr.ko 15745
kernel/crypto/gcm.ko 49577
MODS
cat >"$mods/modules.dep" <<DEP
kernel/crypto/gf128mul.ko:
kernel/crypto/ctr.ko:
kernel/crypto/gcm.ko:
kernel/crypto/crc32c_generic.ko:
kernel/crypto/ghash-generic.ko: kernel/crypto/gf128mul.ko
kernel/lib/libcrc32c.ko:
kernel/drivers/block/rbd.ko: kernel/net/ceph/libceph.ko kernel/lib/libcrc32c.ko
kernel/net/ceph/libceph.ko: kernel/lib/libcrc32c.ko
DEP
cat >"$work/images/base.yaml" <<YAML
name: base
flavour: initramfs-tools
arch: amd64
kernel: $work/images/base/vmlinuz
initrds: [$work/images/base/initrd.img]
modules: $mods
cmdline: "console=ttyS0 root=/dev/rbd0 rw hostname={{.Hostname}}"
golden: {pool: rbd, namespace: golden, image: base, snapshot: v1}
size: 64M
YAML

ip netns exec "$SRV" ./bin/bootd serve --data-dir "$work/data" --images-dir "$work/images" --init-dir "$PWD/bin" \
  --http-listen $SRV_IP:8080 --node-listen $SRV_IP:8443 --admin-listen 127.0.0.1:9443 --admin-tls off \
  --tftp-listen $SRV_IP:69 --ipxe-dir /usr/lib/ipxe \
  --dhcp-mode full --dhcp-interface bs-srv --dhcp-pool-start 198.18.128.1 --dhcp-pool-end 198.18.255.254 \
  --dhcp-netmask 255.254.0.0 --dhcp-lease-time 1h \
  --ceph-conf "$CEPH_CONF" --ceph-user bootd --ceph-keyring "$work/ceph/client.bootd.keyring" --log-level warn \
  ${BOOTD_ARGS:-} >"$work/bootd.out" 2>"$work/bootd.log" &
BOOTD_PID=$!
pids+=("$BOOTD_PID")
bench_wait_bootd "$work/bootd.out"
TOKEN=$(cat "$work/data/api-token")

# Enroll the nodes: each gets its clone and Ceph user.
./bin/bootd-storm macs -n "$N" >"$work/macs"
# The API token goes into curl's config: root's only from the start.
(umask 077; : >"$work/curl.conf")
{
  first=1
  while read -r mac; do
    [ -n "$first" ] || echo next
    first=
    echo "header = \"Authorization: Bearer $TOKEN\""
    echo 'header = "Content-Type: application/json"'
    echo "url = \"http://127.0.0.1:9443/api/v1/nodes\""
    echo "data = \"{\\\"mac\\\":\\\"$mac\\\",\\\"image\\\":\\\"base\\\"}\""
    echo 'output = "/dev/null"'
    echo 'write-out = "%{http_code}\n"'
  done <"$work/macs"
} >>"$work/curl.conf"
srv curl -sS --no-progress-meter --parallel --parallel-max 16 -K "$work/curl.conf" >"$work/codes"
ok=$(grep -c '^201$' "$work/codes" || true)
[ "$ok" = "$N" ] || { echo "bench-storm: only $ok of $N enrolls answered 201"; sort "$work/codes" | uniq -c; tail "$work/bootd.log"; exit 1; }
echo "bench-storm: $N nodes enrolled"

ip netns exec "$SRV" ./bin/bootd-storm copy-serve --listen $SRV_IP:9000 >"$work/copy.log" 2>&1 &
pids+=($!)
sleep 1

status=0
cli ./bin/bootd-storm run -n "$N" -relay $CLI_IP:67 -dhcp $SRV_IP:67 -limit $SRV_IP:9000 \
  -save "$work/peer" -json "$work/bootd.json" || status=$?
kill "$BOOTD_PID" 2>/dev/null || echo "bench-storm: bootd had stopped: $(tail -3 "$work/bootd.log")"
wait "$BOOTD_PID" 2>/dev/null || true
cp "$work/bootd.log" "$work/bootd-serve.log" 2>/dev/null || true

sums=("$work/bootd.json")
if [ "$PEER" = 1 ]; then
  # The peer: dnsmasq answers the firmware with undionly.kpxe over its own
  # TFTP and iPXE with nginx's copy of the first node's script (its token
  # taken off) and files: the same bytes, no key.
  ip netns exec "$SRV" dnsmasq --keep-in-foreground --no-daemon --port=0 --conf-file=/dev/null --pid-file="$work/dnsmasq.pid" \
    --interface=bs-srv --bind-interfaces \
    --dhcp-range=198.18.128.1,198.18.255.254,255.254.0.0,1h --dhcp-lease-max=100000 --no-ping --dhcp-authoritative \
    --dhcp-leasefile="$work/dnsmasq.leases" \
    --dhcp-userclass=set:ipxe,iPXE --dhcp-boot=tag:!ipxe,undionly.kpxe,,$SRV_IP \
    --dhcp-boot=tag:ipxe,http://$SRV_IP:8081/boot.ipxe \
    --enable-tftp --tftp-max=1024 --tftp-root="$work/peer/tftp" --quiet-dhcp --quiet-tftp --log-facility="$work/dnsmasq.log" 2>"$work/dnsmasq.err" &
  pids+=($!)
  chmod -R a+rX "$work/peer"
  mkdir -p "$work/nginx/logs"
  cat >"$work/nginx/nginx.conf" <<CONF
worker_processes auto;
worker_rlimit_nofile 16384;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  server { listen $SRV_IP:8081; root $work/peer/http; }
}
CONF
  ip netns exec "$SRV" nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' 2>"$work/nginx.log" &
  pids+=($!)
  sleep 1
  cli ./bin/bootd-storm run -n "$N" -relay $CLI_IP:67 -dhcp $SRV_IP:67 -keys=false -target dnsmasq+nginx \
    -json "$work/peer.json" || status=$?
  sums+=("$work/peer.json")
fi
./bin/bootd-storm report "${sums[@]}"
exit $status
