#!/usr/bin/env bash
# bench-scripts.sh: requests/s of bootd serving per-node iPXE scripts, beside
# nginx serving a static 200-byte file, in one run on this machine's loopback.
#
#   1. bootd (no Ceph: the scripts boot a kernel and initrd, without a volume
#      check or a one-time token) with NODES enrolled machines (default 5,000);
#   2. every node's script fetched once and checked: it names its own MAC and
#      hostname, and no other;
#   3. REPS rounds (default 3) of wrk (-t2 -cCONNS for DURATION) taking turns:
#      bootd's scripts, the wrk Lua script walking through all NODES MACs;
#      nginx's 200-byte file; and bootd's /healthz, the cheapest route of
#      bootd's own HTTP stack, as a reference for what Go's net/http and chi
#      cost before any script is made.
#   4. the medians, the ratio bootd / nginx (target >= 0.7), and checks that
#      no request failed and that every fetch was counted in bootd's metrics.
#
# Run it by hand, as root (it installs wrk, nginx and curl when missing, with
# no service started); it is not part of make test:
#
#   sudo scripts/bench-scripts.sh        # NODES=5000 REPS=3 CONNS=50 DURATION=5s
#
# Ports: bootd 127.0.0.1:8091, nginx 127.0.0.1:8092.
set -euo pipefail
cd "$(dirname "$0")/.."
NODES=${NODES:-5000}
REPS=${REPS:-3}
CONNS=${CONNS:-50}
DURATION=${DURATION:-5s}

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "bench: missing ${need[*]}; run as root" >&2; exit 1; }
  own_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then # keep apt from starting nginx
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  [ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d
fi

work=$(mktemp -d /tmp/bench-scripts.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# --- bootd, nginx ------------------------------------------------------------
root=$work/root
mkdir -p "$root" "$work/catalog" "$work/data" "$work/nginx/logs" "$work/got"
head -c 4096 /dev/urandom >"$root/vmlinuz"
head -c 4096 /dev/urandom >"$root/initrd.img"
head -c 150 /dev/urandom | base64 -w0 >"$root/static200" # 200 bytes
chmod 644 "$root"/*
cat >"$work/catalog/bench.yaml" <<EOF
name: bench
flavour: initramfs-tools
arch: amd64
kernel: $root/vmlinuz
initrds: [$root/initrd.img]
cmdline: "console=ttyS0 root=/dev/rbd0 rw hostname={{.Hostname}}"
golden: {image: bench, snapshot: v1}
size: 8G
EOF
echo "bench: building bootd"
go build -tags "$(./scripts/ceph-tags.sh)" -o "$work/bootd" ./cmd/bootd
"$work/bootd" serve --data-dir "$work/data" --images-dir "$work/catalog" --log-level warn \
  --http-listen 127.0.0.1:8091 --tftp-listen 127.0.0.1:6911 >"$work/bootd.out" 2>"$work/bootd.log" &
pids+=($!)
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  default_type text/plain;
  server { listen 127.0.0.1:8092; root $root; }
}
EOF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' 2>"$work/nginx.log" &
pids+=($!)
for _ in $(seq 50); do
  grep -q "serving on" "$work/bootd.out" 2>/dev/null && break
  sleep 0.1
done
grep -q "serving on" "$work/bootd.out" || { cat "$work/bootd.log" >&2; exit 1; }
token=$(cat "$work/data/api-token")

# mac I: the I-th benchmark MAC, 52:54:01:xx:xx:xx
mac() { printf '52:54:01:%02x:%02x:%02x' $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)); }

# --- enroll ------------------------------------------------------------------
echo "bench: enrolling $NODES machines"
start=$(date +%s.%N)
for i in $(seq 0 $((NODES - 1))); do
  printf '{"mac":"%s","image":"bench"}\n' "$(mac "$i")"
done | xargs -P 8 -d '\n' -I{} curl -sS -o /dev/null -w '%{http_code}\n' \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '{}' \
  http://127.0.0.1:8091/api/v1/nodes >"$work/enroll.codes"
bad=$(grep -vc '^201$' "$work/enroll.codes" || true)
[ "$bad" = 0 ] && [ "$(wc -l <"$work/enroll.codes")" = "$NODES" ] ||
  { echo "bench: $bad of $NODES enrolls failed: $(sort "$work/enroll.codes" | uniq -c | tr '\n' ' ')" >&2; exit 1; }
awk -v s="$start" -v e="$(date +%s.%N)" -v n="$NODES" 'BEGIN { printf "bench: enrolled %d in %.1f s\n", n, e - s }'

# --- every script, once, checked ---------------------------------------------
# One curl, one connection, NODES URLs; each script must name its own MAC
# and hostname in its header line and boot the bench image.
for i in $(seq 0 $((NODES - 1))); do
  m=$(mac "$i")
  printf 'url = "http://127.0.0.1:8091/boot/%s/boot.ipxe"\noutput = "%s/got/%d"\n' "${m//:/-}" "$work" "$i"
done >"$work/curl.conf"
curl -sS --fail -K "$work/curl.conf"
wrong=0
for i in $(seq 0 $((NODES - 1))); do
  m=$(mac "$i")
  host=node-${m//:/}
  want="# Generated by bootd for $host ($m), image bench."
  if [ "$(sed -n 2p "$work/got/$i")" != "$want" ] || ! grep -q "hostname=$host\$\|hostname=$host " "$work/got/$i" ||
    [ "$(grep -c '52:54:01' "$work/got/$i")" != 2 ]; then
    wrong=$((wrong + 1))
    [ "$wrong" -le 3 ] && { echo "bench: script of $m is wrong:" >&2; cat "$work/got/$i" >&2; }
  fi
done
[ "$wrong" = 0 ] || { echo "bench: $wrong of $NODES scripts wrong" >&2; exit 1; }
echo "bench: all $NODES scripts checked: each names its own MAC and hostname"

# --- load ----------------------------------------------------------------------
cat >"$work/paths.lua" <<EOF
local paths, n = {}, 0
for i = 0, $NODES - 1 do
  paths[#paths + 1] = string.format("/boot/52-54-01-%02x-%02x-%02x/boot.ipxe",
    math.floor(i / 65536) % 256, math.floor(i / 256) % 256, i % 256)
end
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1])
end
EOF
# run NAME URL [wrk options]: one wrk run; prints requests/s, and adds the
# requests made to $work/NAME.count (for the metrics check).
run() {
  local name=$1 url=$2; shift 2
  local out
  out=$(wrk -t2 -c"$CONNS" -d"$DURATION" "$@" "$url")
  if grep -q 'Non-2xx\|Socket errors' <<<"$out"; then
    echo "bench: $name had failures:" >&2
    echo "$out" >&2
    exit 1
  fi
  awk '/requests in/ { print $1 }' <<<"$out" >>"$work/$name.count"
  awk '/^Requests\/sec/ { print $2 }' <<<"$out"
}
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

declare -A T=()
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for rep in $(seq "$REPS"); do
  T[bootd]+="$(run bootd http://127.0.0.1:8091/ -s "$work/paths.lua") "
  T[nginx]+="$(run nginx http://127.0.0.1:8092/static200) "
  T[healthz]+="$(run healthz http://127.0.0.1:8091/healthz) "
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# Every script fetch of the runs (and of the check) is counted as done.
sleep 1
counted=$(curl -s http://127.0.0.1:8091/metrics |
  awk '/^bootd_http_boot_transfers_total\{kind="script",outcome="done"\}/ { print $2 }')
want=$(($(paste -sd+ "$work/bootd.count") + NODES))
if [ "${counted%.*}" -lt "$want" ]; then
  echo "bench: metrics count $counted script fetches, wrk and curl made $want" >&2
  exit 1
fi
dropped=$(curl -s http://127.0.0.1:8091/metrics | awk '/^bootd_timeline_events_dropped_total/ { print $2 }')

echo
echo "Requests/s, median of $REPS runs of wrk -t2 -c$CONNS -d$DURATION (runs in brackets):"
declare -A R
for s in bootd nginx healthz; do R[$s]=$(printf '%s\n' ${T[$s]} | median); done
printf '  bootd, per-node scripts of %d MACs  %10.0f   (%s)\n' "$NODES" "${R[bootd]}" "${T[bootd]% }"
printf '  nginx, static 200-byte file          %10.0f   (%s)\n' "${R[nginx]}" "${T[nginx]% }"
printf '  bootd, /healthz (its HTTP stack)     %10.0f   (%s)\n' "${R[healthz]}" "${T[healthz]% }"
echo "  script fetches counted in bootd's metrics: ${counted%.*} (wrk and the check made $want);" \
  "timeline events dropped: ${dropped:-0}"
awk -v b="${R[bootd]}" -v n="${R[nginx]}" -v h="${R[healthz]}" 'BEGIN {
  printf "Ratio bootd scripts / nginx: %.2f (target >= 0.7); bootd /healthz / nginx: %.2f\n", b / n, h / n }'
