#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Torture test of the core's transitions, in the locktorture pattern: for
# TOE_TORTURE_SECS seconds (60; make test-debug sets 15) toe_torture.py
# runs TOE_TORTURE_THREADS (48) workers that connect, offload explicitly
# or leave it to the automatic policy, echo and verify data and close
# early at random, over IPv4 and IPv6, while this script, at random
# moments, disables and enables the device, forces handbacks, unbinds and
# rebinds its port, deletes and re-creates the toesim instance, unloads
# and reloads toesim, and moves the peer's route. A short tail of
# explicitly offloaded connections then runs on the instance left at the
# end. It passes when every connection not closed early came back intact
# (SHA-256), no admin command failed or hung, the engine ends with no
# connection and its handovers and handbacks agree, and both modules
# unload; the runner fails it on any kernel splat (KASAN, lockdep, hung
# task, ...).

source "$(dirname "$0")/lib.sh"

toe_sim_prereq ip python3 nsenter timeout

PY=$(dirname "$0")/toe_torture.py
H=toe-tor-h-$$
P=toe-tor-p-$$
SECS=${TOE_TORTURE_SECS:-60}
THREADS=${TOE_TORTURE_THREADS:-48}
PORT=5300
DBG=/sys/kernel/debug/toesim/0
TMP=$(mktemp -d)
defer rm -rf "$TMP"

[ -d /sys/kernel/debug/toesim ] || mountpoint -q /sys/kernel/debug ||
	mount -t debugfs none /sys/kernel/debug 2> /dev/null

toe_load toe toesim || fail "cannot load toe, toesim"
defer toe_unload toesim toe

toe_pair "$H" "$P" 10.75.0 2001:db8:75 ||
	fail "cannot create the namespaces and veth pair"

# up: toesim instance 0 on vh, enabled, automatic offload after 32 KB.
up() {
	nsenter --net="/run/netns/$H" sh -c "echo '0 vh' > /sys/bus/toesim/new_device" &&
		TOE=$(toe_sim_name) &&
		echo 1 > "/sys/class/toe/$TOE/enabled" &&
		echo 32768 > "/sys/class/toe/$TOE/min_bytes" &&
		echo 1 > "/sys/class/toe/$TOE/auto_offload"
}

down() {
	echo 0 > /sys/bus/toesim/del_device
}

up || fail "cannot create and enable a toesim instance"
defer 'echo 0 > /sys/bus/toesim/del_device'
[ -w "$DBG/force_handback" ] || fail "no toesim debugfs under $DBG"
{ toe_ping "$H" 10.75.0.2 && toe_ping "$H" 2001:db8:75::2; } ||
	fail "the peer does not answer"

ip netns exec "$P" python3 "$PY" server "$PORT" > "$TMP/server" 2>&1 &
server=$!
defer kill "$server"
toe_wait_listen "$P" "$PORT" || fail "the echo server does not listen"

toe_bounded $((SECS + 240)) ip netns exec "$H" python3 "$PY" client \
	10.75.0.2,2001:db8:75::2 "$PORT" "$THREADS" "$SECS" > "$TMP/client" 2>&1 &
client=$!

# admin ACTION: one administrator's action, bounded to 60 s (a hang is a
# failure, not a stuck test). The log says what was done, in order.
# The slowest action so far and its time are kept in $slowest, $slowest_ms.
admin() {
	local t0=$(date +%s%N) rc=0 ms

	echo "$*" >> "$TMP/actions"
	timeout -k 10 60 bash -ec "$*" >> "$TMP/actions" 2>&1 || rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	echo "took $ms ms" >> "$TMP/actions"
	if [ "$ms" -gt "$slowest_ms" ]; then
		slowest_ms=$ms
		slowest=$*
	fi
	if [ "$rc" != 0 ]; then
		echo "FAILED ($rc): $*" >> "$TMP/actions"
		return 1
	fi
}
slowest_ms=0
slowest=none

actions=0
failed=0
end=$((SECONDS + SECS))
while [ "$SECONDS" -lt "$end" ] && kill -0 "$client" 2> /dev/null; do
	sleep "0.$((RANDOM % 10))"
	case $((RANDOM % 8)) in
	0) admin "echo 0 > /sys/class/toe/$TOE/enabled; sleep 0.3;" \
		"echo 1 > /sys/class/toe/$TOE/enabled" ;;
	1 | 2) admin "echo 1 > $DBG/force_handback" ;;
	3) admin "echo 0 > $DBG/port_bound; sleep 0.3; echo 1 > $DBG/port_bound" ;;
	4) admin "echo 0 > /sys/bus/toesim/del_device" && { sleep 0.3; up; } ;;
	5) [ $((RANDOM % 3)) = 0 ] || continue
	   admin "echo 0 > /sys/bus/toesim/del_device; rmmod toesim" &&
		{ sleep 0.3; toe_load toesim && up; } ;;
	6) admin "ip -n $H route replace 10.75.0.0/24 dev vh metric 0 &&" \
		"ip -n $H -6 route replace 2001:db8:75::/64 dev vh metric 256" ;;
	7) admin "echo 0 > /sys/class/toe/$TOE/auto_offload; sleep 0.2;" \
		"echo 1 > /sys/class/toe/$TOE/auto_offload" ;;
	esac
	rc=$?
	actions=$((actions + 1))
	[ "$rc" = 0 ] || failed=$((failed + 1))
	# Whatever failed, the next action wants a device.
	[ -d /sys/bus/toesim/devices/toesim0 ] || up || break
	TOE=$(toe_sim_name)
done

wait "$client"
check_err $? "the load failed: $(tail -c 2000 "$TMP/client")"
log_info "$(tail -n 1 "$TMP/client"), $actions admin actions"
log_info "slowest action: $slowest_ms ms: $slowest"
[ "$failed" = 0 ]
check_err $? "$failed admin actions failed or hung: $(grep -B4 FAILED "$TMP/actions" | head -20)"
python3 -c '
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
sys.exit(0 if r["verified"] >= 5 and r["explicit"] >= 3 and r["early"] >= 1 else 1)
' "$TMP/client"
check_err $? "too little load to tell: $(tail -n 1 "$TMP/client")"
log_test "$THREADS workers for $SECS s under admin changes: every connection intact"

# The instance left at the end may be new: a tail of connections that all
# ask for the engine gives its handovers and handbacks something to count.
ip netns exec "$H" timeout 120 python3 "$PY" client 10.75.0.2,2001:db8:75::2 \
	"$PORT" 4 3 1 > "$TMP/tail" 2>&1
check_err $? "the tail failed: $(tail -c 2000 "$TMP/tail")"
python3 -c '
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
sys.exit(0 if r["explicit"] >= 1 else 1)
' "$TMP/tail"
check_err $? "no connection of the tail was offloaded: $(tail -n 1 "$TMP/tail")"
log_info "tail: $(tail -n 1 "$TMP/tail")"
log_test "a tail of 4 workers for 3 s asking for the engine: every connection intact"

# The engine is left with nothing, its counters agree, nothing is held.
for _ in $(seq 50); do
	[ "$(cat "/sys/class/toe/$TOE/conns")" = 0 ] && break
	sleep 0.1
done
[ "$(cat "/sys/class/toe/$TOE/conns")" = 0 ]
check_err $? "$(cat "/sys/class/toe/$TOE/conns") connections left on the engine"
ho=$(toe_dev_stat "$H" handovers)
hb=$(toe_dev_stat "$H" handbacks)
[ -n "$ho" ] && [ "$ho" -gt 0 ] && [ "$ho" = "$hb" ]
check_err $? "handovers ($ho) and handbacks ($hb) of $TOE differ"
log_test "engine empty at the end, handovers = handbacks ($ho)"

kill "$server" 2> /dev/null
wait "$server" 2> /dev/null
ip netns del "$H"
ip netns del "$P"
echo 0 > /sys/bus/toesim/del_device
ok=0
for _ in $(seq 100); do
	if toe_unload toesim toe 2> /dev/null; then
		ok=1
		break
	fi
	sleep 0.1
done
[ "$ok" = 1 ]
check_err $? "modules still held: $(grep -E '^(toe|toesim) ' /proc/modules)"
log_test "toesim and toe unload after the torture"

exit "$EXIT_STATUS"
