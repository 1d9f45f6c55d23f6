# bench-lib.sh: what the benchmark scripts share; source it.
#
#   bench_install PKG...   installs Debian packages (as root) without letting
#                          apt start their services (policy-rc.d)
#   bench_work NAME        makes $work (a temporary folder) and the array
#                          $pids; on exit every PID in it is stopped and
#                          waited for, and $work removed

bench_install() {
  [ $# -gt 0 ] || return 0
  [ "$(id -u)" = 0 ] || { echo "bench: missing $*; run as root" >&2; exit 1; }
  local own_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
  fi
  echo "bench: installing $*"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  if [ -n "$own_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
}

bench_work() {
  work=$(mktemp -d "/tmp/$1.XXXXXX")
  chmod 755 "$work"
  pids=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}

# bench_nginx ADDR ROOT [DIRECTIVES]: starts nginx (its own config under
# $work/nginx, no access log) serving ROOT on ADDR, with DIRECTIVES added to
# its http block; its PID goes into $pids.
bench_nginx() {
  mkdir -p "$work/nginx/logs"
  cat >"$work/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  ${3:-}
  server { listen $1; root $2; }
}
CONF
  nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' 2>"$work/nginx.log" &
  pids+=($!)
}

# bench_wait_bootd OUT: waits up to 5 s for bootd to say it serves (in its
# standard output OUT); fails with its log otherwise.
bench_wait_bootd() {
  local _
  for _ in $(seq 50); do
    grep -q "admin listener serving on" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench: bootd did not start" >&2
  cat "${1%.out}.log" >&2 2>/dev/null || true
  exit 1
}
