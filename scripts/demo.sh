#!/usr/bin/env bash
# demo.sh up|down: bootd's whole promise on one machine, left running.
#   up:   a network namespace "bootd-demo" with a boot network (bridge br0,
#         198.18.0.1/24, router advertisements), a single-node Ceph cluster on
#         it, a golden root file system in RBD, the Debian initramfs-tools boot
#         image, bootd serve (full DHCP, TFTP, HTTP, dashboard), and one QEMU VM
#         (BIOS, iPXE) enrolled with the CLI, which boots from its own RBD clone.
#   down: stops all of it (by PID) and removes the namespace.
# The host reaches the namespace over a veth pair: bootd's dashboard is at
# https://198.18.1.1:9443 from the host (the admin listener; machines fetch
# their files from the boot listener, port 8080 on the boot network). State lives in .demo/ in the repo.
# bootd runs as the shipped unit (dist/bootd.service) would run it: as its
# User= (created from dist/bootd.sysusers if missing, and left in place by
# down), with its capabilities and NoNewPrivileges, all read from the unit;
# the demo stops if the running bootd has another user or more capabilities.
# (Without systemd as PID 1 the unit's other sandboxing is not applied here.)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
DEMO=$REPO/.demo
NS=bootd-demo
MAC=52:54:00:de:e0:01
say() { printf 'demo: %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

down() {
  if [ -f "$DEMO/pids" ]; then
    local name pid
    while read -r name pid; do
      if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; say "stopped $name ($pid)"; fi
    done < <(tac "$DEMO/pids")
    sleep 2
    while read -r name pid; do
      if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    done < "$DEMO/pids"
    rm -f "$DEMO/pids"
  fi
  if [ -d "$DEMO/ceph" ]; then scripts/ceph-cluster.sh stop "$DEMO/ceph" >/dev/null 2>&1 || true; say "stopped Ceph"; fi
  if ip netns delete "$NS" 2>/dev/null; then say "removed namespace $NS"; fi
  ip link delete bootd-demo0 2>/dev/null || true
}

# launch NAME CMD...: run CMD in the namespace in its own session, logging to
# .demo/NAME.log, and record its PID.
launch() {
  local name=$1; shift
  # The inner shell writes its own PID, then execs ip netns exec, which execs
  # the program: the recorded PID is the program's, whatever setsid does.
  setsid bash -c 'echo "$1 $$" >> "$2"; shift 2; exec ip netns exec "$@"' launch "$name" "$DEMO/pids" "$NS" "$@" \
    >>"$DEMO/$name.log" 2>&1 < /dev/null &
  for _ in 1 2 3 4 5 6 7 8 9 10; do grep -q "^$name " "$DEMO/pids" 2>/dev/null && return 0; sleep 0.1; done
}

UNIT=$REPO/dist/bootd.service
# unit KEY: the values of KEY in the unit's [Service] section, space-separated.
unit() {
  awk -v key="$1" '/^\[/ { section = $0; next }
    section == "[Service]" && index($0, key "=") == 1 { sub(/^[^=]*=/, ""); print }' "$UNIT" | paste -sd' '
}

# setpriv_caps "CAP_A CAP_B": setpriv's form, -all,+a,+b.
setpriv_caps() {
  local out=-all c
  for c in $1; do c=${c#CAP_}; out+=",+${c,,}"; done
  echo "$out"
}

# as_unit: the setpriv command (in array AS_UNIT) that runs a program as the
# unit's User= and Group= (with the user's supplementary groups), with
# exactly the unit's capabilities, and NoNewPrivileges.
as_unit() {
  local amb bnd
  amb=$(unit AmbientCapabilities); bnd=$(unit CapabilityBoundingSet)
  AS_UNIT=(setpriv --reuid="$BOOTD_USER" --regid="$(unit Group)" --init-groups
    --inh-caps="$(setpriv_caps "$amb")" --ambient-caps="$(setpriv_caps "$amb")"
    --bounding-set="$(setpriv_caps "$bnd")")
  [ "$(unit NoNewPrivileges)" != yes ] || AS_UNIT+=(--no-new-privs)
  AS_UNIT+=(--)
}

# check_confined PID: bootd at PID runs as the unit's user (real, effective,
# saved and file system uid), with exactly the unit's capabilities
# (effective, permitted, bounding and ambient sets) and with no_new_privs;
# anything else stops the demo.
check_confined() {
  local pid=$1 st uid ids want got field key
  st=$(cat "/proc/$pid/status" 2>/dev/null) || die "bootd ($pid) is not running: see $DEMO/bootd.log"
  uid=$(id -u "$BOOTD_USER")
  ids=$(awk '$1 == "Uid:" { print $2, $3, $4, $5 }' <<<"$st")
  [ "$ids" = "$uid $uid $uid $uid" ] || die "bootd ($pid) runs as uid $ids, not $BOOTD_USER ($uid) as $UNIT says"
  for field in CapEff CapPrm CapAmb CapBnd; do
    key=AmbientCapabilities; [ $field != CapBnd ] || key=CapabilityBoundingSet
    want=$(for c in $(unit $key); do echo "${c,,}"; done | sort | paste -sd,)
    got=$(capsh --decode="$(awk -v f="$field:" '$1 == f { print $2 }' <<<"$st")" | sed 's/^[^=]*=\{0,1\}//' | tr , '\n' | sort | paste -sd,)
    [ "$got" = "$want" ] || die "bootd ($pid) has $field {$got}, want {$want} ($key of $UNIT)"
  done
  [ "$(awk '$1 == "NoNewPrivs:" { print $2 }' <<<"$st")" = 1 ] || die "bootd ($pid) runs without no_new_privs"
  say "bootd ($pid) runs as $BOOTD_USER (uid $uid) with only {$want} and no_new_privs, as $UNIT says"
}

up() {
  [ "$(id -u)" = 0 ] || die "run as root (it makes a network namespace, tap devices and a Ceph cluster): sudo make demo"
  command -v apt-get >/dev/null || die "this demo needs Debian 12 or Ubuntu (apt-get)"
  down >/dev/null 2>&1 || true
  # Each demo starts afresh: a new Ceph cluster, so a new bootd store and logs too.
  # The bootd user reads the demo's files: whatever the caller's umask, make them readable.
  umask 022
  rm -rf "$DEMO"
  mkdir -p "$DEMO"
  say "installing what is missing (scripts/deps.sh)"
  scripts/deps.sh || die "a package could not be installed: see the message above"
  BOOTD_USER=$(unit User)
  [ -n "$BOOTD_USER" ] && [ "$BOOTD_USER" != root ] || die "$UNIT runs bootd as '${BOOTD_USER:-root}'; it must name a user of its own"
  if ! id -u "$BOOTD_USER" >/dev/null 2>&1; then
    say "creating the system user $BOOTD_USER (systemd-sysusers dist/bootd.sysusers; make demo-down leaves it)"
    systemd-sysusers "$REPO/dist/bootd.sysusers" || die "systemd-sysusers could not create $BOOTD_USER"
    id -u "$BOOTD_USER" >/dev/null 2>&1 || die "dist/bootd.sysusers does not create $UNIT's user $BOOTD_USER"
  fi
  say "building bootd"
  make -s build
  say "building the boot image (Debian kernel, stock initrd) into .cache/e2e/images"
  scripts/image-debian.sh "$REPO/.cache/e2e/images" debian-12 >/dev/null
  mkdir -p "$DEMO/images"
  sed 's|cmdline: "\(.*\)"|cmdline: "\1 bootd.stay"|; s|debian-12/|'"$REPO"'/.cache/e2e/images/debian-12/|g' \
    "$REPO/.cache/e2e/images/debian-12.yaml" > "$DEMO/images/debian-12.yaml"

  say "network namespace $NS: br0 198.18.0.1/24 (boot network), host link 198.18.1.2 <-> 198.18.1.1"
  ip netns add "$NS"
  ip -n "$NS" link set lo up
  ip -n "$NS" link add br0 type bridge
  ip -n "$NS" addr add 198.18.0.1/24 dev br0
  ip -n "$NS" addr add fd00:b007::1/64 dev br0 nodad
  ip -n "$NS" link set br0 up
  ip -n "$NS" tuntap add dev tap0 mode tap
  ip -n "$NS" link set tap0 master br0
  ip -n "$NS" link set tap0 up
  ip link add bootd-demo0 type veth peer name host0 netns "$NS"
  ip addr add 198.18.1.2/30 dev bootd-demo0
  ip link set bootd-demo0 up
  ip -n "$NS" addr add 198.18.1.1/30 dev host0
  ip -n "$NS" link set host0 up
  ip netns exec "$NS" sysctl -q -w net.ipv6.conf.all.forwarding=1
  printf 'interface br0 {\n AdvSendAdvert on;\n MinRtrAdvInterval 3;\n MaxRtrAdvInterval 4;\n prefix fd00:b007::/64 { AdvOnLink on; AdvAutonomous on; };\n};\n' > "$DEMO/radvd.conf"
  launch radvd radvd --nodaemon -C "$DEMO/radvd.conf" -p "$DEMO/radvd.pid" -m stderr

  say "Ceph: one monitor, one OSD on 198.18.0.1"
  ip netns exec "$NS" scripts/ceph-cluster.sh start "$DEMO/ceph" 198.18.0.1 >"$DEMO/ceph.log" 2>&1 || die "Ceph did not start: see $DEMO/ceph.log"
  export CEPH_CONF=$DEMO/ceph/ceph.conf
  scripts/golden-rootfs.sh "$DEMO/golden.img" >/dev/null
  ip netns exec "$NS" rbd namespace create rbd/golden
  ip netns exec "$NS" rbd import --no-progress --image-feature layering "$DEMO/golden.img" rbd/golden/debian-12
  ip netns exec "$NS" rbd snap create --no-progress rbd/golden/debian-12@v1
  ip netns exec "$NS" rbd snap protect rbd/golden/debian-12@v1

  say "bootd serve as user $BOOTD_USER: full DHCP on br0, TFTP and HTTP on 198.18.0.1, dashboard also on 198.18.1.1"
  # What the unit's StateDirectory= and an installation give that user: its
  # own data folder (mode 0700) and client.bootd's keyring (mode 0600). The
  # cluster's ceph.conf names root's run and log folders, so bootd gets the
  # monitors' address instead, as with ceph_monitors in a real setup; it
  # reads no file of the cluster's but its keyring.
  install -d -o "$BOOTD_USER" -g "$(unit Group)" -m "$(unit StateDirectoryMode)" "$DEMO/bootd"
  chown "$BOOTD_USER:$(unit Group)" "$DEMO/ceph/client.bootd.keyring"
  chmod 0600 "$DEMO/ceph/client.bootd.keyring"
  as_unit
  unreadable=$("${AS_UNIT[@]}" find "$REPO/bin/bootd" "$DEMO/images" "$REPO/.cache/e2e/images/debian-12" \
    "$DEMO/ceph/client.bootd.keyring" ! -readable 2>&1) || die "setpriv cannot start a process as $UNIT says: $unreadable"
  [ -z "$unreadable" ] || die "user $BOOTD_USER cannot read: $unreadable"
  # The unit's UMask= too (setpriv keeps the umask it is given).
  ( umask "$(unit UMask)"
    launch bootd "${AS_UNIT[@]}" "$REPO/bin/bootd" serve --data-dir "$DEMO/bootd" --http-listen 0.0.0.0:8080 --admin-listen 198.18.1.1:9443 \
      --advertise 198.18.0.1 --images-dir "$DEMO/images" --dhcp-mode full --dhcp-interface br0 \
      --dhcp-pool-start 198.18.0.100 --dhcp-pool-end 198.18.0.199 --tftp-listen 198.18.0.1:69 \
      --ceph-monitors 198.18.0.1 --ceph-user bootd --ceph-keyring "$DEMO/ceph/client.bootd.keyring" )
  for _ in $(seq 1 50); do grep -q "bootd serving" "$DEMO/bootd.log" 2>/dev/null && break; sleep 0.2; done
  grep -q "bootd serving" "$DEMO/bootd.log" || die "bootd did not start: see $DEMO/bootd.log"
  check_confined "$(awk '$1 == "bootd" { print $2 }' "$DEMO/pids")"
  # The CLI pins the admin listener's certificate from the data folder.
  export BOOTD_SERVER=https://198.18.1.1:9443 BOOTD_TOKEN_FILE=$DEMO/bootd/api-token BOOTD_DATA_DIR=$DEMO/bootd
  FINGERPRINT=$(bin/bootd version | sed -n 's/^admin certificate SHA-256: \([0-9a-f]*\).*/\1/p')
  bin/bootd enroll "$MAC" --image debian-12 --hostname demo1 --size 1G

  say "starting the VM (QEMU, BIOS + iPXE, no disk): console in $DEMO/vm-console.log"
  launch vm qemu-system-x86_64 -accel tcg -cpu qemu64,+rdrand -m 768 -machine pc -boot n -display none -no-reboot \
    -serial "file:$DEMO/vm-console.log" -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
    -device e1000,netdev=n0,mac=$MAC
  cat <<MSG

bootd is running, and the VM demo1 ($MAC) is booting from its RBD clone.
  Dashboard:     https://198.18.1.1:9443/machines  (log in with the token in $DEMO/bootd/api-token;
                 bootd's own certificate, SHA-256 $FINGERPRINT)
  VM console:    tail -f $DEMO/vm-console.log      (about 40 s to BOOTD-MARKER; then a shell)
  CLI:           export BOOTD_SERVER=$BOOTD_SERVER BOOTD_TOKEN_FILE=$BOOTD_TOKEN_FILE BOOTD_DATA_DIR=$BOOTD_DATA_DIR
                 bin/bootd list ; bin/bootd timeline $MAC
  Logs:          $DEMO/bootd.log, $DEMO/ceph.log
  Stop it all:   make demo-down
MSG
}

case "${1:-}" in
  up) up ;;
  down) down; say "down" ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
