#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs after every other test but kmemleak.sh: what the tests before it
# left behind. No connection may still be offloaded on any toedev, no
# test's network namespace may remain, and every TOE module loaded must
# unload (a reference leaked by a test shows here as a module in use).
# Each test unloads what it loaded on exit, quietly: this is where a
# failed unload becomes a failure.

source "$(dirname "$0")/lib.sh"

require_root

# Offloaded connections left on any device, as "name:conns".
left=
for d in /sys/class/toe/*; do
	[ -r "$d/conns" ] || continue
	n=$(cat "$d/conns")
	[ "$n" = 0 ] || left="$left ${d##*/}:$n"
done
[ -z "$left" ]
check_err $? "connections still offloaded:$left"
log_test "no connection left offloaded"

# lib.sh's tests name their namespaces toe-*.
left=$(ip netns list 2> /dev/null | awk '$1 ~ /^toe-/ { printf " %s", $1 }')
[ -z "$left" ]
check_err $? "namespaces left:$left"
log_test "no test namespace left"

left=
for m in toesim toe_test toe; do
	toe_mod_builtin "$m" && continue
	toe_mod_loaded "$m" || continue
	if ! toe_rmmod "$m"; then
		left="$left $m ($(awk -v m="$m" '$1 == m { print "refcount " $3 }' /proc/modules))"
	fi
done
[ -z "$left" ]
check_err $? "cannot unload:$left"
log_test "every TOE module unloads"

exit "$EXIT_STATUS"
