#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The automatic policy's rules (toectl policy, the toe netlink family's
# rule-* operations): a rule set that offloads some ports and not others,
# connections this host opens and connections it accepts, over IPv4 and
# IPv6, with a catch-all; then the direction alone, the owner of an
# accepted connection, a remote prefix, and the socket's cgroup. The device's own min_bytes
# is more than any transfer here: a connection offloaded was offloaded by
# its rule's min_bytes. Each connection is seen offloaded or not by the
# device's auto_offloads counter, each rule's hits counted, every transfer
# intact by SHA-256. Bad rules are refused with the kernel's message,
# and an unprivileged user cannot add one.

source "$(dirname "$0")/lib.sh"

toe_sim_prereq ip python3 nsenter setpriv

XFER=$(dirname "$0")/toe_xfer.py
toe_toectl
H=toe-rul-h-$$
P=toe-rul-p-$$
TOE_DIAG_NS="$H $P"
TMP=$(mktemp -d)
defer rm -rf "$TMP"
MB=$((1024 * 1024))

toe_load toe toesim || fail "cannot load toe, toesim"
defer toe_unload toesim

toe_pair "$H" "$P" 10.84.0 2001:db8:84 ||
	fail "cannot create the namespaces and veth pair"
toe_sim_up "$H" vh || fail "cannot create and enable a toesim instance"
echo 1 > "/sys/class/toe/$TOE/auto_offload" || fail "cannot turn auto_offload on"
echo $((64 * MB)) > "/sys/class/toe/$TOE/min_bytes"

hctl() { ip netns exec "$H" "$TOECTL" "$@"; }

stat() {
	toe_dev_stat "$H" "$1"
}

expect() {
	[ "$2" = "$3" ]
	check_err $? "$1: got '$2', want '$3'"
}

# xfer NAME {active|passive} ADDR PORT: 2 MB each way at 1 MB/s (the
# policy looks every 100 ms: it sees the connection established, and
# past a rule's 1 MB); active, this host connects to the peer's server;
# passive, the peer connects to ours (run by setpriv $AS if set, in the
# cgroup v2 directory $CG_RUN if set). Prints "offloaded" or "software",
# by the device's auto_offloads.
xfer() {
	local name=$1 dir=$2 addr=$3 port=$4 six= a0 srv cli sns cns as=() cg=()

	case $addr in *:*) six=--v6 ;; esac
	if [ "$dir" = active ]; then
		sns=$P cns=$H
	else
		sns=$H cns=$P
		[ -n "${AS:-}" ] && as=(setpriv $AS)
		# Before ip netns exec, which mounts a /sys of its own.
		[ -n "${CG_RUN:-}" ] &&
			cg=(sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$CG_RUN")
	fi
	a0=$(stat auto_offloads)
	"${cg[@]}" timeout 60 ip netns exec "$sns" "${as[@]}" python3 "$XFER" server "$port" $six \
		--send $((2 * MB)) --rate $MB --late-shutdown > "$TMP/$name.s" 2>&1 &
	srv=$!
	toe_wait_listen "$sns" "$port" || return 1
	timeout 60 ip netns exec "$cns" python3 "$XFER" client "$addr" "$port" \
		--send $((2 * MB)) --rate $MB > "$TMP/$name.c" 2>&1 &
	cli=$!
	toe_wait_pid 60 "$cli" && toe_wait_pid 60 "$srv" &&
		toe_xfer_ok "$TMP/$name.c" "$TMP/$name.s" $((2 * MB)) $((2 * MB)) ||
		echo "broken"
	[ "$(stat auto_offloads)" -gt "$a0" ] && echo offloaded || echo software
}

# hits ID: the hits of rule ID, from toectl's JSON.
hits() {
	hctl -j policy show dev "$TOE" | python3 -c '
import json, sys
print([r["hits"] for r in json.load(sys.stdin) if r["id"] == int(sys.argv[1])][0])' "$1"
}

# --- a rule set --------------------------------------------------------------------

hctl policy add dev "$TOE" rport 5500 dir active action offload min_bytes 0 \
	> "$TMP/r1"
check_err $? "policy add failed"
hctl policy add dev "$TOE" rport 5501 action skip > "$TMP/r2" &&
	hctl policy add dev "$TOE" lport 5502 dir passive action offload \
		min_bytes $MB > "$TMP/r3" &&
	hctl policy add dev "$TOE" lport 5503 dir passive action skip > "$TMP/r4" &&
	hctl policy add dev "$TOE" action skip > "$TMP/r5"
check_err $? "policy add failed"
grep -q "^$TOE rule 1 index 0: rport 5500 dir active action offload min_bytes 0 hits 0$" "$TMP/r1"
check_err $? "policy add's reply: $(cat "$TMP/r1")"
hctl -j policy show > "$TMP/rules.json"
expect "rules, in order" "$(python3 -c '
import json, sys
print(" ".join("%d:%d:%s" % (r["index"], r["id"], r["action"]) for r in json.load(open(sys.argv[1]))))' "$TMP/rules.json")" \
	"0:1:offload 1:2:skip 2:3:offload 3:4:skip 4:5:skip"
log_test "rules: added in order, shown with their fields"

expect "IPv4, active, rport 5500 (offload)" "$(xfer a4 active 10.84.0.2 5500)" offloaded
expect "IPv4, active, rport 5501 (skip)" "$(xfer b4 active 10.84.0.2 5501)" software
expect "IPv4, passive, lport 5502 (offload after 1 MB)" "$(xfer c4 passive 10.84.0.1 5502)" offloaded
expect "IPv4, passive, lport 5503 (skip)" "$(xfer d4 passive 10.84.0.1 5503)" software
expect "IPv4, active, rport 5504 (catch-all skip)" "$(xfer e4 active 10.84.0.2 5504)" software
expect "IPv6, active, rport 5500 (offload)" "$(xfer a6 active 2001:db8:84::2 5500)" offloaded
expect "IPv6, active, rport 5501 (skip)" "$(xfer b6 active 2001:db8:84::2 5501)" software
expect "IPv6, passive, lport 5502 (offload after 1 MB)" "$(xfer c6 passive 2001:db8:84::1 5502)" offloaded
expect "IPv6, passive, lport 5503 (skip)" "$(xfer d6 passive 2001:db8:84::1 5503)" software
expect "hits" "$(hits 1) $(hits 2) $(hits 3) $(hits 4) $(hits 5)" "2 2 2 2 1"
log_test "rules: ports offloaded and not, both directions, IPv4 and IPv6, hits counted"

# --- the direction alone -------------------------------------------------------------

hctl policy del dev "$TOE"
check_err $? "policy del (all) failed"
expect "rules after a flush" "$(hctl -j policy show | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')" 0
hctl policy add dev "$TOE" action offload min_bytes 0 > /dev/null &&
	hctl policy add dev "$TOE" index 0 dir passive action skip > "$TMP/r7"
check_err $? "policy add failed"
grep -q "^$TOE rule 7 index 0: dir passive action skip hits 0$" "$TMP/r7"
check_err $? "policy add at index 0: $(cat "$TMP/r7")"
expect "active, any port (offload)" "$(xfer f4 active 10.84.0.2 5506)" offloaded
expect "passive, any port (skip)" "$(xfer g4 passive 10.84.0.1 5507)" software
expect "hits" "$(hits 7) $(hits 6)" "1 1"
log_test "rules: the direction alone decides, first match wins"

# The owner of a connection this host accepts is its listener's, known
# before accept(): a server run by nobody is offloaded by its rule, one
# run by root goes on to the next. And a remote prefix.
hctl policy del dev "$TOE"
hctl policy add dev "$TOE" dir passive uid 65534 action offload min_bytes 0 \
	> /dev/null &&
	hctl policy add dev "$TOE" dir passive action skip > /dev/null &&
	hctl policy add dev "$TOE" remote 2001:db8:84::/64 action skip > /dev/null &&
	hctl policy add dev "$TOE" action offload min_bytes 0 > /dev/null
check_err $? "policy add failed"
expect "passive, served by nobody (offload)" \
	"$(AS="--reuid=65534 --regid=65534 --clear-groups" xfer h4 passive 10.84.0.1 5508)" \
	offloaded
expect "passive, served by root (skip)" "$(xfer i4 passive 10.84.0.1 5509)" software
expect "active IPv6 to the skipped prefix" "$(xfer j6 active 2001:db8:84::2 5510)" software
expect "active IPv4, outside the prefix" "$(xfer k4 active 10.84.0.2 5511)" offloaded
expect "hits" "$(hits 8) $(hits 9) $(hits 10) $(hits 11)" "1 1 1 1"
log_test "rules: the owner of an accepted connection, a remote prefix"

# --- bad rules ---------------------------------------------------------------------------

# refused WHAT MESSAGE ARGS...: toectl policy ARGS exits 2 with MESSAGE.
refused() {
	local what=$1 msg=$2

	shift 2
	hctl policy "$@" > /dev/null 2> "$TMP/err"
	expect "$what: exit" $? 2
	grep -q "$msg" "$TMP/err"
	check_err $? "$what: $(cat "$TMP/err")"
}
n=$(hctl -j policy show | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
refused "a port range backwards" "the port range ends before it starts" \
	add dev "$TOE" lport 600-500 action skip
refused "min_bytes on a skip" "min_bytes is for a rule that offloads" \
	add dev "$TOE" action skip min_bytes 5
refused "a prefix too long" "prefix longer than the address" \
	add dev "$TOE" remote 10.0.0.0/33 action skip
refused "an index past the end" "index past the end of the rules" \
	add dev "$TOE" index 99 action skip
refused "an unknown device" "no such offload device here" \
	add dev toe99 action skip
refused "deleting a rule that is not there" "no such rule on the device" \
	del dev "$TOE" id 999
ip netns exec "$H" setpriv --reuid=65534 --regid=65534 --clear-groups \
	--inh-caps=-all "$TOECTL" policy add dev "$TOE" action skip 2> "$TMP/err"
expect "unprivileged add: exit" $? 2
grep -q "Operation not permitted" "$TMP/err"
check_err $? "unprivileged add: $(cat "$TMP/err")"
expect "rules after the refusals" "$(hctl -j policy show | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')" "$n"
hctl policy del dev "$TOE" id 9
check_err $? "policy del id 9 failed"
expect "rules after a delete" "$(hctl -j policy show | python3 -c 'import json, sys; print(" ".join(str(r["id"]) for r in json.load(sys.stdin)))')" "8 10 11"
log_test "rules: bad ones refused with the kernel's message, nothing added"

# --- the socket's cgroup -----------------------------------------------------------

# A server started in a cgroup below the rule's is offloaded by it; one in
# the root cgroup goes on to the next rule. The rule takes the cgroup by
# its directory (toectl finds its ID) and shows the ID.
CG=$TMP/cg
if ! mkdir "$CG" || ! mount -t cgroup2 none "$CG"; then
	log_skip "rules: the socket's cgroup v2" "cannot mount cgroup2"
	exit "$EXIT_STATUS"
fi
defer "umount $CG"
mkdir -p "$CG/toe-rul-$$/srv" || fail "cannot create a cgroup"
defer "rmdir $CG/toe-rul-$$/srv $CG/toe-rul-$$"
hctl policy del dev "$TOE"
hctl policy add dev "$TOE" dir passive cgroup "$CG/toe-rul-$$" action offload \
	min_bytes 0 > "$TMP/rcg" &&
	hctl policy add dev "$TOE" dir passive action skip > /dev/null
check_err $? "policy add with a cgroup failed"
grep -q "^$TOE rule 12 index 0: dir passive cgroup [1-9][0-9]* action offload min_bytes 0 hits 0$" "$TMP/rcg"
check_err $? "policy add's reply: $(cat "$TMP/rcg")"
expect "passive, served from a cgroup below the rule's (offload)" \
	"$(CG_RUN=$CG/toe-rul-$$/srv xfer l4 passive 10.84.0.1 5512)" offloaded
expect "passive, served from the root cgroup (skip)" \
	"$(xfer m4 passive 10.84.0.1 5513)" software
expect "hits" "$(hits 12) $(hits 13)" "1 1"
refused "a cgroup that is not there" "no such cgroup v2 here" \
	add dev "$TOE" cgroup 4000000000 action skip
hctl policy add dev "$TOE" cgroup "$TMP" action skip 2> "$TMP/err"
expect "a directory that is not a cgroup: exit" $? 1
grep -q "not a cgroup v2 directory" "$TMP/err"
check_err $? "a directory that is not a cgroup: $(cat "$TMP/err")"
log_test "rules: the socket's cgroup v2, or one above it"

exit "$EXIT_STATUS"
