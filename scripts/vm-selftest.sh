#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Self-test of the VM runner (make vm-selftest): a runner that misses a
# splat or loses an exit status would let broken code pass every test.
#
#   1. splat-check.sh on canned logs: kernel formats trip it, test output
#      that merely says "warn" does not;
#   2. a clean boot running `true` returns 0;
#   3. `exit 7` returns 7 (and chatty test output is no splat);
#   4. loading a module whose init does WARN_ON(1) makes vm.sh fail with 3
#      although insmod succeeds;
#   5. a command that outlives --timeout returns 124.
#
# KERNEL=, MODULES= and KDIR= select another kernel, its modules and the
# build tree for the warn module.

set -u

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
OUT=${OUT:-$TOP/out}
KVER=${KVER:-$("$TOP/scripts/kver.sh")}
KDIR=${KDIR:-/lib/modules/$KVER/build}
work=$OUT/vm-selftest

vmopts=()
[ -n "${KERNEL:-}" ] && vmopts+=(--kernel "$KERNEL")
[ -n "${MODULES:-}" ] && vmopts+=(--modules "$MODULES")

fails=0
passes=0
check() {
	local what=$1 want=$2 got=$3
	if [ "$got" = "$want" ]; then
		echo "vm-selftest: PASS $what (status $got)"
		passes=$((passes + 1))
	else
		echo "vm-selftest: FAIL $what: status $got, want $want"
		fails=$((fails + 1))
	fi
}

mkdir -p "$work" || exit 1

# 1. splat-check.sh alone.
cat > "$work/clean.log" <<'EOF'
[    1.000000] Run /init as init process
TAP version 13
# selftests: net/toe: warn_on.sh
# WARNING: this is what a test prints, not the kernel
# BUG: neither is this; Call Trace: nor this
ok 1 selftests: net/toe: warn_on.sh
not ok 2 selftests: net/toe: oops_bug_warn.sh # exit=1
[    2.000000] toe: warn_threshold=3 oops_count=0
EOF
cat > "$work/splat.log" <<'EOF'
[    2.000000] ------------[ cut here ]------------
[    2.000001] WARNING: CPU: 0 PID: 1 at net/toe/core.c:10 toe_init+0x5/0x10 [toe]
[    2.000002] Call Trace:
EOF
"$TOP/scripts/splat-check.sh" "$work/clean.log" > "$work/clean.out"
check "splat-check on test output" 0 $?
"$TOP/scripts/splat-check.sh" "$work/splat.log" > "$work/splat.out"
check "splat-check on a WARN" 1 $?
for l in \
	'[    3.1] BUG: kernel NULL pointer dereference, address: 0000000000000008' \
	'[    3.1] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [x:1]' \
	'[    3.1] Oops: 0002 [#1] PREEMPT SMP NOPTI' \
	'[    3.1] UBSAN: shift-out-of-bounds in net/toe/core.c:5:7' \
	'[    3.1] BUG: KASAN: slab-use-after-free in toe_x+0x1/0x2' \
	'[    3.1] WARNING: possible circular locking dependency detected' \
	'[    3.1] WARNING: suspicious RCU usage' \
	'[    3.1] INFO: task kworker/0:1:12 blocked for more than 120 seconds.' \
	'[    3.1] refcount_t: underflow; use-after-free.' \
	'[    3.1] list_del corruption, ffff8880 ->next is LIST_POISON1' \
	'unreferenced object 0xffff888003a4c000 (size 64):' \
	'[    3.1] general protection fault, probably for non-canonical address' \
	'[    3.1] Kernel panic - not syncing: Fatal exception' \
	'[    3.1] Call Trace:'; do
	printf '%s\n' "$l" > "$work/one.log"
	if ! "$TOP/scripts/splat-check.sh" "$work/one.log" > /dev/null; then
		:
	else
		echo "vm-selftest: FAIL splat-check missed: $l"
		fails=$((fails + 1))
	fi
done

# The warn module, built out of the source tree.
rm -rf "$work/warn"
cp -r "$TOP/scripts/selftest/warn" "$work/warn" || exit 1
if ! make -s -C "$KDIR" M="$work/warn" modules > "$work/build.log" 2>&1; then
	cat "$work/build.log"
	echo "vm-selftest: FAIL building the warn module against $KDIR"
	exit 1
fi

# 2-5. Boots. Each boot's output, deliberate splat included, goes to a
# file and is shown only when its check fails: the lane's log (CI's) holds
# no kernel splat when the runner works.
# boot WHAT WANT VMARGS...: run scripts/vm.sh VMARGS, want status WANT.
boot() {
	local what=$1 want=$2 rc out

	shift 2
	out=$work/boot-$((passes + fails)).log
	"$TOP/scripts/vm.sh" "${vmopts[@]}" "$@" > "$out" 2>&1
	rc=$?
	[ "$rc" = "$want" ] || sed 's/^/vm-selftest: | /' "$out"
	check "$what" "$want" "$rc"
}

boot "clean boot" 0 --timeout 300 -- true
boot "exit status" 7 --timeout 300 -- \
	'echo "ok 1 selftests: net/toe: warn_on.sh"; echo "WARNING: user text"; exit 7'
boot "WARN_ON() in a module" 3 --timeout 300 -- insmod "$work/warn/warn_mod.ko"
boot "timeout" 124 --timeout 30 -- sleep 600

# As a .ci/run lane (LANE set): "LANE PASSED FAILED 0" in
# out/results/counts, as scripts/run-tests.sh records its lane.
if [ -n "${LANE:-}" ]; then
	counts=$OUT/results/counts
	mkdir -p "$OUT/results"
	{
		grep -v "^$LANE " "$counts" 2> /dev/null
		echo "$LANE $passes $fails 0"
	} > "$counts.tmp.$$" && mv -f "$counts.tmp.$$" "$counts"
fi
if [ "$fails" -ne 0 ]; then
	echo "vm-selftest: $fails check(s) failed"
	exit 1
fi
echo "vm-selftest: all checks passed"
