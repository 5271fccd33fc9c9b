#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs last: ask kmemleak for objects the tests before it leaked. Scans
# twice (kmemleak never reports an object younger than 5 s, and one scan
# may see a pointer in flight), prints /sys/kernel/debug/kmemleak and fails
# on any "unreferenced object". Skips on kernels without
# CONFIG_DEBUG_KMEMLEAK, such as Debian's: it is meant for the debug kernel
# (scripts/debug.config), where the VM runner's splat check also sees the
# printed report.

source "$(dirname "$0")/lib.sh"

kml=/sys/kernel/debug/kmemleak

require_root
[ -e "$kml" ] ||
	mount -t debugfs debugfs /sys/kernel/debug 2> /dev/null
[ -w "$kml" ] || skip "no $kml (kernel without CONFIG_DEBUG_KMEMLEAK)"

echo scan > "$kml" || fail "cannot scan (kmemleak disabled itself?)"
sleep 6
echo scan > "$kml" || fail "cannot scan a second time"
report=$(cat "$kml")
count=$(grep -c 'unreferenced object' <<< "$report")
if [ "$count" -ne 0 ]; then
	echo "$report"
	check_err 1 "$count unreferenced object(s)"
fi
log_test "kmemleak finds no unreferenced object"

exit $EXIT_STATUS
