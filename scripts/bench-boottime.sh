#!/usr/bin/env bash
# bench-boottime.sh [OLD_REV] [ROUNDS]: power-on to root mounted, before and
# after, in one run. For each round it runs make e2e's BIOS and UEFI boots
# (TestNetboot/bios and /uefi: three boots each, the first on a fresh clone,
# the second after a power-off that left the volume held, the third after a
# reimage) with bootd and its harness from OLD_REV (default: the commit
# before the trust chain, c5966ca) and from the working tree, alternating,
# and prints the mean seconds per firmware and the new/old ratio. Both
# harnesses run the same virtual machines: the old one is given RDRAND as
# the new one has (servers have it; TLS needs the guest's RNG seeded). As
# root, after make e2e has built the images once (.cache/e2e). About 7
# minutes a round.
set -euo pipefail
cd "$(dirname "$0")/.."
old=${1:-c5966ca}
rounds=${2:-1}
cache=${BOOTD_E2E_CACHE:-$PWD/.cache/e2e}
tags="$(./scripts/ceph-tags.sh) e2e"
. scripts/bench-lib.sh
bench_work bench-boottime
git worktree add -q --detach "$work/old" "$old"
grep -q '+rdrand' "$work/old/scripts/e2e/qemu_test.go" ||
  sed -i 's/"-accel", "tcg", "-m", "768"/"-accel", "tcg", "-cpu", "qemu64,+rdrand", "-m", "768"/' "$work/old/scripts/e2e/qemu_test.go"
trap 'git worktree remove --force "$work/old" >/dev/null 2>&1; bench_cleanup' EXIT
(cd "$work/old" && make -s build >/dev/null)
make -s build >/dev/null

# boots DIR LABEL: runs the two first boots in DIR, appends "LABEL fw secs" lines.
boots() {
  (cd "$1" && BOOTD_E2E_CACHE=$cache go test -tags "$tags" -count=1 -v -timeout 15m \
    -run 'TestNetboot/^(bios|uefi)$' ./scripts/e2e/) >"$work/$2.log" 2>&1 || {
    echo "bench-boottime: the $2 run failed; its log:" >&2; tail -40 "$work/$2.log" >&2; exit 1; }
  sed -n 's/.* \(bios\|uefi\)-[123]: marker \([0-9.]*\)s after power-on.*/\1 \2/p' "$work/$2.log" | sed "s/^/$2 /" >>"$work/times"
}
for ((i = 1; i <= rounds; i++)); do
  boots "$work/old" old
  boots "$PWD" new
done
cat "$work/times"
echo "power-on to the marker on the cloud disk (mean seconds of every boot above, make e2e's VMs):"
awk '{ s[$1" "$2] += $3; n[$1" "$2]++ }
  END { split("bios uefi", f, " ");
        for (i = 1; i <= 2; i++) { o = s["old " f[i]] / n["old " f[i]]; w = s["new " f[i]] / n["new " f[i]];
          printf "  %s: before %.1f s, after %.1f s, after/before %.2f\n", f[i], o, w, w / o } }' "$work/times"
