#!/usr/bin/env bash
# deps.sh: installs what bootd's build and tests need on Debian 12 or Ubuntu,
# idempotently: a package already installed is left alone, and apt-get is
# not called at all when nothing is missing.
# The Debian packages are listed in scripts/deps.d/*.txt, one file per part of
# bootd (one package per line, # starts a comment). With arguments, only those
# parts are installed (deps.sh base build: what make build needs); without,
# all of them (what make test needs).
set -euo pipefail
GO_VERSION=1.26.8
parts=()
for p in "$@"; do
  f="$(dirname "$0")/deps.d/$p.txt"
  [ -f "$f" ] || { echo "deps: no part $p (scripts/deps.d/$p.txt)" >&2; exit 2; }
  parts+=("$f")
done
[ ${#parts[@]} -gt 0 ] || parts=("$(dirname "$0")"/deps.d/*.txt)
mapfile -t PKGS < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "${parts[@]}" | sort -u)

need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "deps: missing $*; run as root (or install them yourself) and try again" >&2
    exit 1
  fi
}

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  need_root "Debian packages: ${missing[*]}"
  echo "deps: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Go: Debian 12's own Go is too old; take the toolchain from the Go module
# proxy (the same module the go command fetches for GOTOOLCHAIN).
go_ok() {
  command -v go >/dev/null 2>&1 || return 1
  local v; v=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
  [ "$(printf '%s\n' 1.26 "$v" | sort -V | head -n1)" = 1.26 ]
}
if ! go_ok; then
  need_root "Go >= 1.26"
  dest=/usr/local/lib/bootd-go$GO_VERSION
  if [ ! -x "$dest/bin/go" ]; then
    echo "deps: installing Go $GO_VERSION from the Go module proxy into $dest"
    tmp=$(mktemp -d)
    curl -fsSL -o "$tmp/go.zip" "https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go$GO_VERSION.linux-$(dpkg --print-architecture).zip"
    unzip -q "$tmp/go.zip" -d "$tmp"
    mkdir -p "$dest"
    cp -a "$tmp"/golang.org/toolchain@*/. "$dest/"
    chmod +x "$dest"/bin/* "$dest"/pkg/tool/*/* 2>/dev/null || true
    rm -rf "$tmp"
  fi
  ln -sf "$dest/bin/go" /usr/local/bin/go
  ln -sf "$dest/bin/gofmt" /usr/local/bin/gofmt
  go_ok || { echo "deps: Go $GO_VERSION did not install" >&2; exit 1; }
fi
echo "deps: ok ($(go env GOVERSION))"
