#!/usr/bin/env bash
# bench-delivery.sh: compares bootd's boot file delivery with the servers
# people use today, in one run on this machine's loopback, and prints ratios.
#
#   TFTP, one 30 MiB file (curl, blksize 1468):  bootd vs tftpd-hpa and dnsmasq
#     - one download
#     - 100 concurrent downloads
#   HTTP, 50 concurrent downloads of a 64 MiB file (curl):  bootd vs nginx
#
# Each measurement is the median of REPS runs (default 3), after one warm-up
# download, the servers taking turns in each repetition; the load average before and after is printed, since the figures
# mean little on a machine busy with other work. A ratio above 1
# means bootd is faster (peer time / bootd time). Run it by hand, as root (it
# installs tftpd-hpa, dnsmasq-base and nginx when missing, with no service
# started); it is not part of make test. Usage:
#
#   sudo scripts/bench-delivery.sh            # REPS=3 CONCURRENT=100 HTTP_CLIENTS=50
#
# Ports: bootd TFTP 127.0.0.1:6901 and HTTP 127.0.0.1:8081, tftpd-hpa
# 127.0.0.1:6903, nginx 127.0.0.1:8082, dnsmasq 127.0.0.2:69 (dnsmasq's TFTP
# port cannot be changed, so it gets its own loopback address).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
REPS=${REPS:-3}
CONCURRENT=${CONCURRENT:-100}
HTTP_CLIENTS=${HTTP_CLIENTS:-50}
BLKSIZE=${BLKSIZE:-1468}

# --- peers, installed without starting their services ---------------------
need=()
command -v in.tftpd >/dev/null || need+=(tftpd-hpa)
command -v dnsmasq >/dev/null || need+=(dnsmasq-base) # the binary, without the dnsmasq service
command -v nginx >/dev/null || need+=(nginx)
command -v curl >/dev/null || need+=(curl)
bench_install "${need[@]}"
# Should a service have started all the same (a machine without policy-rc.d
# support), stop and disable it: nothing of these packages may keep running.
for svc in tftpd-hpa nginx; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" && systemctl disable --quiet "$svc" || true
  elif command -v service >/dev/null && service "$svc" status >/dev/null 2>&1; then
    service "$svc" stop || true
  fi
done

# --- files and servers -----------------------------------------------------
bench_work bench-delivery

root=$work/root
mkdir -p "$root" "$work/catalog" "$work/data"
chmod 755 "$root"
head -c $((30 << 20)) /dev/urandom >"$root/kernel30"
head -c $((64 << 20)) /dev/urandom >"$root/initrd64"
chmod 644 "$root"/*
cat >"$work/catalog/bench.yaml" <<EOF
name: bench
flavour: initramfs-tools
arch: amd64
kernel: $root/kernel30
initrds: [$root/initrd64]
golden: {image: bench, snapshot: v1}
size: 8G
EOF

echo "bench: building bootd"
go build -tags "$(./scripts/ceph-tags.sh)" -o "$work/bootd" ./cmd/bootd
"$work/bootd" serve --data-dir "$work/data" --images-dir "$work/catalog" --log-level warn \
  --http-listen 127.0.0.1:8081 --admin-listen 127.0.0.1:8083 --admin-tls off --tftp-listen 127.0.0.1:6901 --ipxe-dir "$root" \
  --tftp-max-per-client "$((CONCURRENT + HTTP_CLIENTS))" --http-max-per-client "$((CONCURRENT + HTTP_CLIENTS))" \
  >"$work/bootd.out" 2>"$work/bootd.log" &
# Every client here is 127.0.0.1, where a rack's machines each have an
# address: the per-client caps are raised to let them all through, as the
# peers (which have none) do. The caps in all keep their defaults.
pids+=($!)
in.tftpd --listen --foreground --address 127.0.0.1:6903 --secure "$root" 2>"$work/tftpd-hpa.log" &
pids+=($!)
dnsmasq --no-daemon --conf-file=/dev/null --port=0 --listen-address=127.0.0.2 --bind-interfaces \
  --enable-tftp --tftp-root="$root" --tftp-max=1000 --quiet-tftp --pid-file= --user=root --log-facility=- 2>"$work/dnsmasq.log" &
pids+=($!)
bench_nginx 127.0.0.1:8082 "$root" "sendfile on; tcp_nopush on; types { application/octet-stream bin; } default_type application/octet-stream;"

bench_wait_bootd "$work/bootd.out"
# The admin listener in plain HTTP on loopback: the benchmark measures
# delivery, not the API's TLS.
export BOOTD_SERVER=http://127.0.0.1:8083 BOOTD_TOKEN_FILE=$work/data/api-token
"$work/bootd" enroll 52:54:00:12:34:56 --image bench >/dev/null
sleep 0.5

# --- measurements ------------------------------------------------------------
declare -A TFTP_URL=(
  [bootd]=tftp://127.0.0.1:6901/52-54-00-12-34-56/kernel
  [tftpd-hpa]=tftp://127.0.0.1:6903/kernel30
  [dnsmasq]=tftp://127.0.0.2:69/kernel30
)
declare -A HTTP_URL=(
  [bootd]=http://127.0.0.1:8081/boot/52-54-00-12-34-56/initrd/0
  [nginx]=http://127.0.0.1:8082/initrd64
)

now() { date +%s.%N; }
# batch N URL [curl options...]: N concurrent downloads; prints the seconds taken.
batch() {
  local n=$1 url=$2; shift 2
  local start fails=0 p
  local cpids=()
  start=$(now)
  for _ in $(seq "$n"); do
    curl -sS --fail --max-time 600 -o /dev/null "$@" "$url" &
    cpids+=($!)
  done
  for p in "${cpids[@]}"; do wait "$p" || fails=$((fails + 1)); done
  [ "$fails" = 0 ] || echo "bench: $fails of $n downloads from $url failed" >&2
  awk -v s="$start" -v e="$(now)" 'BEGIN { printf "%.3f\n", e - s }'
}
# median of the numbers on stdin
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# scenario KEY N URLVAR [curl options...]: for each server of the associative
# array named URLVAR, one warm-up download, then REPS batches of N downloads,
# the servers taking turns in each repetition so that a change in the
# machine's load falls on all of them alike. Sets R[KEY_server] to the median.
scenario() {
  local key=$1 n=$2; local -n urls=$3; shift 3
  local s rep
  local -A times=()
  for s in "${!urls[@]}"; do batch 1 "${urls[$s]}" "$@" >/dev/null; done
  for rep in $(seq "$REPS"); do
    for s in "${!urls[@]}"; do times[$s]+="$(batch "$n" "${urls[$s]}" "$@") "; done
  done
  for s in $(printf '%s\n' "${!urls[@]}" | sort); do
    R[${key}_$s]=$(printf '%s\n' ${times[$s]} | median)
    printf '  %-10s %8.3f s   (runs: %s)\n' "$s" "${R[${key}_$s]}" "${times[$s]% }"
  done
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

declare -A R
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "TFTP, one download of 30 MiB (blksize $BLKSIZE), median of $REPS:"
scenario tftp1 1 TFTP_URL --tftp-blksize "$BLKSIZE"
echo "TFTP, $CONCURRENT concurrent downloads of 30 MiB (blksize $BLKSIZE), median of $REPS:"
scenario tftpN "$CONCURRENT" TFTP_URL --tftp-blksize "$BLKSIZE"
echo "HTTP, $HTTP_CLIENTS concurrent downloads of 64 MiB, median of $REPS:"
scenario http "$HTTP_CLIENTS" HTTP_URL

best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b ? a : b) }'; }
gbs() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.2f", n * 64 * 1048576 / t / 1e9 }'; }
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "Ratios (peer time / bootd time; above 1 means bootd is faster):"
printf '  TFTP 1 x 30 MiB:    %s vs tftpd-hpa, %s vs dnsmasq, %s vs the best (target >= 1.0)\n' \
  "$(ratio "${R[tftp1_tftpd-hpa]}" "${R[tftp1_bootd]}")" "$(ratio "${R[tftp1_dnsmasq]}" "${R[tftp1_bootd]}")" \
  "$(ratio "$(best "${R[tftp1_tftpd-hpa]}" "${R[tftp1_dnsmasq]}")" "${R[tftp1_bootd]}")"
printf '  TFTP %s x 30 MiB:  %s vs tftpd-hpa, %s vs dnsmasq, %s vs the best (target >= 1.2)\n' "$CONCURRENT" \
  "$(ratio "${R[tftpN_tftpd-hpa]}" "${R[tftpN_bootd]}")" "$(ratio "${R[tftpN_dnsmasq]}" "${R[tftpN_bootd]}")" \
  "$(ratio "$(best "${R[tftpN_tftpd-hpa]}" "${R[tftpN_dnsmasq]}")" "${R[tftpN_bootd]}")"
printf '  HTTP %s x 64 MiB:   %s vs nginx (bootd %s GB/s, nginx %s GB/s; target >= 0.95)\n' "$HTTP_CLIENTS" \
  "$(ratio "${R[http_nginx]}" "${R[http_bootd]}")" "$(gbs "$HTTP_CLIENTS" "${R[http_bootd]}")" "$(gbs "$HTTP_CLIENTS" "${R[http_nginx]}")"
