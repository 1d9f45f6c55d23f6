#!/usr/bin/env bash
# demo.sh up|down: bootd's whole promise on one machine, left running.
#   up:   a network namespace "bootd-demo" with a boot network (bridge br0,
#         198.18.0.1/24, router advertisements), a single-node Ceph cluster on
#         it, a golden root file system in RBD, the Debian initramfs-tools boot
#         image, bootd serve (full DHCP, TFTP, HTTP, dashboard), and one QEMU VM
#         (BIOS, iPXE) enrolled with the CLI, which boots from its own RBD clone.
#   down: stops all of it (by PID) and removes the namespace.
# The host reaches the namespace over a veth pair: bootd's dashboard is at
# http://198.18.1.1:8080 from the host. State lives in .demo/ in the repo.
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

up() {
  [ "$(id -u)" = 0 ] || die "run as root (it makes a network namespace, tap devices and a Ceph cluster): sudo make demo"
  command -v apt-get >/dev/null || die "this demo needs Debian 12 or Ubuntu (apt-get)"
  down >/dev/null 2>&1 || true
  # Each demo starts afresh: a new Ceph cluster, so a new bootd store and logs too.
  rm -rf "$DEMO"
  mkdir -p "$DEMO"
  say "installing what is missing (scripts/deps.sh)"
  scripts/deps.sh || die "a package could not be installed: see the message above"
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

  say "bootd serve: full DHCP on br0, TFTP and HTTP on 198.18.0.1, dashboard also on 198.18.1.1"
  launch bootd "$REPO/bin/bootd" serve --data-dir "$DEMO/bootd" --http-listen 0.0.0.0:8080 --advertise 198.18.0.1 \
    --images-dir "$DEMO/images" --dhcp-mode full --dhcp-interface br0 \
    --dhcp-pool-start 198.18.0.100 --dhcp-pool-end 198.18.0.199 --tftp-listen 198.18.0.1:69 \
    --ceph-conf "$CEPH_CONF" --ceph-user bootd --ceph-keyring "$DEMO/ceph/client.bootd.keyring"
  for _ in $(seq 1 50); do grep -q "bootd serving" "$DEMO/bootd.log" 2>/dev/null && break; sleep 0.2; done
  grep -q "bootd serving" "$DEMO/bootd.log" || die "bootd did not start: see $DEMO/bootd.log"
  export BOOTD_SERVER=http://198.18.1.1:8080 BOOTD_TOKEN_FILE=$DEMO/bootd/api-token
  bin/bootd enroll "$MAC" --image debian-12 --hostname demo1 --size 1G

  say "starting the VM (QEMU, BIOS + iPXE, no disk): console in $DEMO/vm-console.log"
  launch vm qemu-system-x86_64 -accel tcg -cpu qemu64,+rdrand -m 768 -machine pc -boot n -display none -no-reboot \
    -serial "file:$DEMO/vm-console.log" -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
    -device e1000,netdev=n0,mac=$MAC
  cat <<MSG

bootd is running, and the VM demo1 ($MAC) is booting from its RBD clone.
  Dashboard:     http://198.18.1.1:8080/machines   (log in with the token in $DEMO/bootd/api-token)
  VM console:    tail -f $DEMO/vm-console.log      (about 40 s to BOOTD-MARKER; then a shell)
  CLI:           export BOOTD_SERVER=$BOOTD_SERVER BOOTD_TOKEN_FILE=$BOOTD_TOKEN_FILE
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
