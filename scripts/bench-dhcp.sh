#!/usr/bin/env bash
# bench-dhcp.sh: full-mode DHCP throughput of bootd against Kea (kea-dhcp4,
# memfile lease file, persisted) and dnsmasq (lease file), measured in one
# run on this machine with Kea's perfdhcp. Run by hand, as root, from the
# repository root (not part of make test):
#
#   scripts/bench-dhcp.sh                       # default rates
#   RATES="1000 5000 20000" PERIOD=10 scripts/bench-dhcp.sh
#   SERVERS="bootd kea" KEEP=/tmp/perfdhcp scripts/bench-dhcp.sh  # keep perfdhcp's reports
#   PERFDHCP_RCVBUF=8388608 scripts/bench-dhcp.sh  # see below
#
# Two network namespaces joined by a veth pair: the server under test on
# 198.18.1.1 (port 67) in one, perfdhcp acting as a relay on 198.18.1.2 in
# the other (giaddr 198.18.1.2, so every reply is unicast back to it). At
# each rate perfdhcp drives DISCOVER-OFFER-REQUEST-ACK exchanges from
# CLIENTS simulated clients for PERIOD seconds against a fresh server (empty
# lease file). A rate passes when under 0.1 % of the exchanges started got
# no ACK. The script prints a table per server, the highest passing rate of
# each, and the ratio bootd/peer. No traffic leaves the namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."

RATES=${RATES:-"250 500 1000 2000 4000 6000 8000 10000 12000 14000 16000 18000 20000"}
PERIOD=${PERIOD:-5}
CLIENTS=${CLIENTS:-100000}
SERVERS=${SERVERS:-"bootd kea dnsmasq"}
POOL_START=198.18.2.1
POOL_END=198.19.255.254 # 130,558 addresses in 198.18.0.0/15, the relay's network
SRV=bench-dhcp-srv-$$
CLI=bench-dhcp-cli-$$

[ "$(id -u)" = 0 ] || { echo "bench-dhcp: run as root (perfdhcp binds port 67)" >&2; exit 1; }

# Packages: installed with service start-up forbidden (policy-rc.d), and any
# service that got started anyway is stopped, so nothing keeps port 67.
need=()
for p in kea-admin kea-dhcp4-server dnsmasq-base; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  made_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  echo "bench-dhcp: installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
fi
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl disable --now kea-dhcp4-server.service dnsmasq.service >/dev/null 2>&1 || true
fi

# perfdhcp reads every reply on one socket with the default receive buffer
# (net.core.rmem_default, not settable per namespace here): on a busy
# machine a burst of replies overflows it and counts as drops no server
# caused (KEEP's kernel counters show them as UdpRcvbufErrors on the client
# side). PERFDHCP_RCVBUF=8388608 raises that default for the length of the
# run, machine-wide, and puts it back at the end.
old_rmem=
if [ -n "${PERFDHCP_RCVBUF:-}" ]; then
  old_rmem=$(sysctl -n net.core.rmem_default)
  sysctl -q -w net.core.rmem_default="$PERFDHCP_RCVBUF"
fi

work=$(mktemp -d /tmp/bench-dhcp.XXXXXX)
pids=()
cleanup() {
  [ -n "$old_rmem" ] && sysctl -q -w net.core.rmem_default="$old_rmem"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # Anything still running in the script's own namespaces was started by it.
  for ns in "$SRV" "$CLI"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  done
  sleep 0.5
  ip netns del "$SRV" 2>/dev/null || true
  ip netns del "$CLI" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$SRV"
ip netns add "$CLI"
ip -n "$SRV" link add bd-srv type veth peer name bd-cli netns "$CLI"
ip -n "$SRV" addr add 198.18.1.1/15 dev bd-srv
ip -n "$CLI" addr add 198.18.1.2/15 dev bd-cli
for ns in "$SRV" "$CLI"; do ip -n "$ns" link set lo up; done
ip -n "$SRV" link set bd-srv up
ip -n "$CLI" link set bd-cli up
# Servers start as "ip netns exec ... &" directly, so that $! is the
# server itself (ip netns exec execs it) and kill reaches it.

go build -tags "$(./scripts/ceph-tags.sh)" -o "$work/bootd" ./cmd/bootd

start_bootd() {
  rm -rf "$work/bootd-data"
  ip netns exec "$SRV" "$work/bootd" serve --data-dir "$work/bootd-data" --http-listen 198.18.1.1:8080 --log-level warn \
    --dhcp-mode full --dhcp-interface bd-srv \
    --dhcp-pool-start $POOL_START --dhcp-pool-end $POOL_END --dhcp-lease-time 1h \
    >"$work/server.log" 2>&1 &
  echo $!
}

start_kea() {
  rm -f "$work"/kea-leases*
  cat >"$work/kea.json" <<EOF
{ "Dhcp4": {
    "interfaces-config": { "interfaces": [ "bd-srv" ], "dhcp-socket-type": "udp" },
    "lease-database": { "type": "memfile", "persist": true, "name": "$work/kea-leases.csv", "lfc-interval": 0 },
    "valid-lifetime": 3600,
    "subnet4": [ { "id": 1, "subnet": "198.18.0.0/15", "pools": [ { "pool": "$POOL_START - $POOL_END" } ] } ],
    "loggers": [ { "name": "kea-dhcp4", "severity": "WARN", "output_options": [ { "output": "$work/kea.log" } ] } ]
} }
EOF
  ip netns exec "$SRV" env KEA_LOCKFILE_DIR="$work" KEA_PIDFILE_DIR="$work" \
    kea-dhcp4 -c "$work/kea.json" >"$work/server.log" 2>&1 &
  echo $!
}

start_dnsmasq() {
  rm -f "$work/dnsmasq.leases"
  ip netns exec "$SRV" dnsmasq --no-daemon --conf-file=/dev/null --port=0 --interface=bd-srv \
    --dhcp-range=$POOL_START,$POOL_END,255.254.0.0,1h \
    --dhcp-leasefile="$work/dnsmasq.leases" --dhcp-lease-max=1100000 --no-ping --dhcp-authoritative \
    --pid-file="$work/dnsmasq.pid" --user=root --log-facility="$work/dnsmasq.log" \
    >"$work/server.log" 2>&1 &
  echo $!
}

# rcvbuf_errors NS BASE: the namespace's UDP receive-buffer drops since BASE.
rcvbuf_errors() {
  local n
  n=$(ip netns exec "$1" cat /proc/net/snmp | awk '/^Udp:/ { if (h) { print $6; exit } h = 1 }')
  echo $((n - $2))
}

# measure SERVER RATE: prints "acks_per_second drop_percent sent_per_second".
measure() {
  local server=$1 rate=$2 pid out
  pid=$("start_$server")
  pids+=("$pid")
  sleep 1
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "bench-dhcp: $server did not start:" >&2; cat "$work/server.log" >&2; exit 1
  fi
  local srv0 cli0
  srv0=$(rcvbuf_errors "$SRV" 0) cli0=$(rcvbuf_errors "$CLI" 0)
  out=$(ip netns exec "$CLI" perfdhcp -4 -l 198.18.1.2 -r "$rate" -p "$PERIOD" -R "$CLIENTS" -W 2000000 198.18.1.1 2>&1 || true)
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if [ -n "$(ip netns pids "$SRV")" ]; then
    echo "bench-dhcp: $server left processes behind: $(ip netns pids "$SRV")" >&2; exit 1
  fi
  echo "$out" >"$work/perfdhcp-$server-$rate.txt"
  if [ -n "${KEEP:-}" ]; then
    mkdir -p "$KEEP" && cp "$work/perfdhcp-$server-$rate.txt" "$KEEP/"
    { echo "server side: $(rcvbuf_errors "$SRV" "$srv0") receive-buffer drops"
      echo "perfdhcp side: $(rcvbuf_errors "$CLI" "$cli0") receive-buffer drops"; } >"$KEEP/kernel-$server-$rate.txt"
  fi
  # perfdhcp prints, per exchange, "sent packets: N" and "received packets: N":
  # DISCOVER-OFFER first, then REQUEST-ACK.
  echo "$out" | awk -v period="$PERIOD" '
    /^sent packets:/ { s[++ns] = $3 }
    /^received packets:/ { r[++nr] = $3 }
    END {
      if (ns < 2 || s[1] == 0) { print "0 100 0"; exit }
      drop = 100 * (s[1] - r[2]) / s[1]
      printf "%.0f %.3f %.0f\n", r[2] / period, drop, s[1] / period
    }'
}

# Servers take turns at each rate, so that a busy machine weighs on all of
# them alike; a server that failed a rate is not tried at higher ones.
declare -A best done
printf '\nPERIOD=%ss per run, CLIENTS=%s; each cell: full exchanges/s (drops %%)\n%8s' "$PERIOD" "$CLIENTS" rate
for server in $SERVERS; do best[$server]=0; printf ' %22s' "$server"; done
echo
for rate in $RATES; do
  printf '%8s' "$rate"
  for server in $SERVERS; do
    if [ -n "${done[$server]:-}" ]; then printf ' %22s' -; continue; fi
    read -r acks drop sent < <(measure "$server" "$rate")
    printf ' %22s' "$acks ($drop %)"
    if awk -v d="$drop" 'BEGIN { exit !(d < 0.1) }'; then
      [ "$acks" -gt "${best[$server]}" ] && best[$server]=$acks
    else
      done[$server]=1
    fi
  done
  echo
done

echo
echo "Highest rate of full exchanges with under 0.1 % drops (exchanges/s):"
for server in $SERVERS; do printf '  %-8s %s\n' "$server" "${best[$server]}"; done
if [ -n "${best[bootd]:-}" ]; then
  for server in $SERVERS; do
    [ "$server" = bootd ] && continue
    awk -v a="${best[bootd]}" -v b="${best[$server]}" -v s="$server" \
      'BEGIN { if (b > 0) printf "  bootd/%s = %.2f\n", s, a / b; else printf "  bootd/%s: %s passed no rate\n", s, s }'
  done
fi
