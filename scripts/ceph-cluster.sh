#!/usr/bin/env bash
# ceph-cluster.sh: a single-node Ceph cluster for tests, the demo and the
# end-to-end harness: one monitor, one OSD (memstore, in RAM), cephx on, every
# daemon bound to the one address given, pool "rbd" ready for RBD namespaces
# and cross-namespace clones (clone format v2).
#
#   scripts/ceph-cluster.sh start DIR [ADDR]   # ADDR defaults to 127.0.0.1
#   scripts/ceph-cluster.sh stop DIR
#   scripts/ceph-cluster.sh env DIR            # prints: export CEPH_CONF=DIR/ceph.conf
#
# Clients then use DIR/ceph.conf (client.admin's keyring is DIR/client.admin.keyring):
#   CEPH_CONF=DIR/ceph.conf ceph -s ; CEPH_CONF=DIR/ceph.conf rbd ls
# bootd runs as client.bootd, with the least-privilege caps of docs/ceph.md:
#   bootd serve --ceph-conf DIR/ceph.conf --ceph-user bootd --ceph-keyring DIR/client.bootd.keyring
#
# Daemons are started with setsid (so a timeout or Ctrl-C around this script
# does not reach them) and their PIDs recorded in DIR/pids; stop sends TERM to
# exactly those PIDs, then KILL to any left after 10 s. Nothing else is touched.
# Settings: CEPH_MGR=1 also starts a ceph-mgr (needed only by `ceph pg stat`,
# `ceph -s` usage figures and rbd/admin; about 300 MB more);
# CEPH_OSD_BYTES sizes the memstore (default 2 GiB).
set -euo pipefail

usage() { echo "usage: $0 start DIR [ADDR] | stop DIR | env DIR" >&2; exit 2; }
CMD=${1:-}
DIR=${2:-}
[ -n "$CMD" ] && [ -n "$DIR" ] || usage
ADDR=${3:-127.0.0.1}
OSD_BYTES=${CEPH_OSD_BYTES:-2147483648}
DIR=$(mkdir -p "$DIR" && cd "$DIR" && pwd)
export CEPH_CONF="$DIR/ceph.conf"
ceph_() { timeout 60 ceph --connect-timeout 20 "$@"; }
say() { printf '[ceph-cluster %5.1fs] %s\n' "$(($(date +%s%N) - T0))e-9" "$*"; }
T0=$(date +%s%N)

# stop_daemons: TERM the recorded PIDs, newest first; KILL those still alive after 10 s.
stop_daemons() {
  [ -f "$DIR/pids" ] || return 0
  local name pid alive
  while read -r name pid; do
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; fi
  done < <(tac "$DIR/pids")
  for _ in $(seq 1 50); do
    alive=0
    while read -r name pid; do kill -0 "$pid" 2>/dev/null && alive=1; done < "$DIR/pids"
    [ $alive = 0 ] && break
    sleep 0.2
  done
  while read -r name pid; do
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; say "killed $name ($pid)"; fi
  done < "$DIR/pids"
  rm -f "$DIR/pids" "$DIR/.ready"
}

# launch NAME CMD...: start a daemon in the foreground (-f) of its own session, recording its PID.
launch() {
  local name=$1; shift
  setsid "$@" -f >>"$DIR/log/$name.out" 2>&1 </dev/null &
  echo "$name $!" >>"$DIR/pids"
}

# wait_for SECONDS CMD...: run CMD every 0.2 s until it succeeds.
wait_for() {
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then say "timed out waiting for: $*"; return 1; fi
    sleep 0.2
  done
}
osd_up() { ceph_ osd stat -f json | grep -q '"num_up_osds":1'; }

case "$CMD" in
  stop) stop_daemons; exit 0 ;;
  env) echo "export CEPH_CONF=$CEPH_CONF"; exit 0 ;;
  start) ;;
  *) usage ;;
esac

for tool in ceph-mon ceph-osd ceph ceph-authtool monmaptool rbd uuidgen; do
  command -v "$tool" >/dev/null || { echo "ceph-cluster: $tool is missing; run make deps" >&2; exit 1; }
done

stop_daemons
# Only ever wipe a folder this script made (or an empty one).
if [ -n "$(ls -A "$DIR")" ] && [ ! -f "$DIR/.ceph-cluster" ]; then
  echo "ceph-cluster: $DIR is not empty and was not made by this script; refusing to wipe it" >&2
  exit 1
fi
find "$DIR" -mindepth 1 -delete
mkdir -p "$DIR"/{mon,osd,mgr,run,log}
touch "$DIR/.ceph-cluster"
# If anything below fails, leave no daemon behind.
trap 'rc=$?; if [ $rc != 0 ]; then say "start failed; logs in $DIR/log"; stop_daemons; fi' EXIT

FSID=$(uuidgen)
cat >"$CEPH_CONF" <<EOF
[global]
fsid = $FSID
mon host = [v2:$ADDR:3300,v1:$ADDR:6789]
# Bind every daemon to ADDR itself: it need not be on an interface (any of
# 127.0.0.0/8 works on loopback), so no network is searched for an address.
public addr = $ADDR
cluster addr = $ADDR
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
keyring = $DIR/\$name.keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
mon data avail warn = 1
mon data avail crit = 0
# Commit monitor changes every 50 ms instead of every second: bring-up in
# seconds, and user creation at benchmark rates.
paxos propose interval = 0.05
[mon.a]
mon data = $DIR/mon
[mgr.x]
mgr data = $DIR/mgr
[osd.0]
osd data = $DIR/osd
osd objectstore = memstore
memstore device bytes = $OSD_BYTES
osd memory target = 939524096
EOF

ceph-authtool --create-keyring "$DIR/mon.a.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool --create-keyring "$DIR/client.admin.keyring" --gen-key -n client.admin \
  --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
chmod 600 "$DIR"/*.keyring
ceph-authtool "$DIR/mon.a.keyring" --import-keyring "$DIR/client.admin.keyring" >/dev/null
monmaptool --create --fsid "$FSID" --addv a "[v2:$ADDR:3300,v1:$ADDR:6789]" "$DIR/monmap" >/dev/null
ceph-mon --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/mon.a.keyring"
launch mon.a ceph-mon -i a
wait_for 30 ceph_ mon stat
say "monitor up on $ADDR"

if [ "${CEPH_MGR:-0}" = 1 ]; then
  ceph_ auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' -o "$DIR/mgr.x.keyring"
  launch mgr.x ceph-mgr -i x
  say "manager started"
fi

OSD_UUID=$(uuidgen)
OSD_SECRET=$(ceph-authtool --gen-print-key)
OSD_ID=$(echo "{\"cephx_secret\": \"$OSD_SECRET\"}" | ceph_ osd new "$OSD_UUID" -i -)
ceph-authtool --create-keyring "$DIR/osd.$OSD_ID.keyring" --name "osd.$OSD_ID" --add-key "$OSD_SECRET" >/dev/null
chmod 600 "$DIR/osd.$OSD_ID.keyring"
ceph-osd -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" >>"$DIR/log/osd-mkfs.log" 2>&1
launch "osd.$OSD_ID" ceph-osd -i "$OSD_ID"
wait_for 60 osd_up
say "OSD up"

ceph_ osd pool create rbd 16 16 >/dev/null
rbd pool init rbd
# Clones across RBD namespaces need clone format v2.
ceph_ osd set-require-min-compat-client mimic >/dev/null

# bootd's own user, with the caps docs/ceph.md gives it for pool rbd: read
# the maps, blocklist one client (address and nonce, never a whole host),
# RBD in pool rbd, and the five auth commands on client.node-<12 hex digits>
# only, which may give such a user node caps (rbd/identity.go nodeCaps) and
# no others on mon and osd.
NODE='"^client\.node-[0-9a-f]{12}$"'
NET='( network [0-9a-f.:]+/[0-9]+)?'
NODE_CAPS="caps_mon regex \"^allow r$NET\$\" caps_osd regex \"^profile rbd pool=rbd namespace=node-[0-9a-f]{12}$NET, profile rbd-read-only pool=rbd namespace=[^ ,]+$NET\$\""
BOOTD_MON="profile simple-rados-client, \
allow command \"osd blocklist\" with blocklistop=add addr regex \"^[^/]+/[1-9][0-9]*\$\", \
allow command \"auth get-or-create\" with entity regex $NODE $NODE_CAPS, \
allow command \"auth caps\" with entity regex $NODE $NODE_CAPS, \
allow command \"auth get-key\" with entity regex $NODE, \
allow command \"auth get\" with entity regex $NODE, \
allow command \"auth rm\" with entity regex $NODE"
ceph_ auth get-or-create client.bootd mon "$BOOTD_MON" osd 'profile rbd pool=rbd' -o "$DIR/client.bootd.keyring"
chmod 600 "$DIR/client.bootd.keyring"
touch "$DIR/.ready"
say "cluster ready: export CEPH_CONF=$CEPH_CONF"
