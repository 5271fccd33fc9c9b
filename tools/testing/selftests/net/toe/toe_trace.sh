#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The toe:* tracepoints, read from a tracefs instance of their own while
# toesim carries connections: one toe_handover and one toe_handback per
# connection, with its 4-tuple, the right reason and byte counts; a
# handback asked for (toe_handback_request) before it runs; a handover
# refused (toe_refused) with why. Each event's format is there for the
# tools that parse it (perf, trace-cmd, bpftrace). And toesim's own
# (toesim:*): frames dropped with why, RTOs and retransmissions, each
# matching what the engine counts in debugfs.

source "$(dirname "$0")/lib.sh"

toe_sim_prereq ip python3 nsenter

XFER=$(dirname "$0")/toe_xfer.py
H=toe-trc-h-$$
P=toe-trc-p-$$
TOE_DIAG_NS="$H $P"
TMP=$(mktemp -d)
defer rm -rf "$TMP"
DBG=/sys/kernel/debug/toesim/0
MB=$((1024 * 1024))
TRACEFS=/sys/kernel/tracing
[ -d "$TRACEFS/instances" ] || TRACEFS=/sys/kernel/debug/tracing
[ -d "$TRACEFS/instances" ] || fail "no tracefs"

toe_load toe toesim || fail "cannot load toe, toesim"
defer toe_unload toesim

toe_pair "$H" "$P" 10.81.0 || fail "cannot create the namespaces and veth pair"
toe_sim_up "$H" vh || fail "cannot create and enable a toesim instance"

INST=$TRACEFS/instances/toe-$$
mkdir "$INST" || fail "cannot create a tracefs instance"
defer rmdir "$INST"
defer "echo 0 > $INST/events/toe/enable; echo 0 > $INST/events/toesim/enable"

# xfer NAME PORT BYTES [client options]: BYTES each way; the server
# keeps its side open until the client's bytes are in (its FIN would
# hand the connection back first), paced by RATE if set.
xfer() {
	local name=$1 port=$2 bytes=$3

	shift 3
	timeout 120 ip netns exec "$P" python3 "$XFER" server "$port" \
		--send "$bytes" --late-shutdown ${RATE:+--rate "$RATE"} \
		> "$TMP/$name.s" 2>&1 &
	server=$!
	toe_wait_listen "$P" "$port" || return 1
	toe_bounded 120 ip netns exec "$H" python3 "$XFER" client 10.81.0.2 \
		"$port" --send "$bytes" ${RATE:+--rate "$RATE"} "$@" \
		> "$TMP/$name.c" 2>&1
	wait "$server"
}

check_xfer() {
	toe_xfer_ok "$TMP/$1.c" "$TMP/$1.s" "$2" "$2"
}

# events NAME PORT: the recorded toe:NAME events of the connection to PORT.
events() {
	grep -E " $1: .* dst=10\.81\.0\.2:$2 " "$TMP/trace"
}

# field NAME VALUE-OF: the value of field NAME in the lines on stdin.
field() {
	sed -n "s/.* $1=\([^ ]*\).*/\1/p"
}

expect() {
	[ "$2" = "$3" ]
	check_err $? "$1: got '$2', want '$3'"
}

record() {
	echo > "$INST/trace"
	echo 1 > "$INST/events/toe/enable"
}

stop() {
	echo 0 > "$INST/events/toe/enable"
	cat "$INST/trace" > "$TMP/trace"
}

for e in toe_handover toe_refused toe_handback_request toe_handback; do
	[ -r "$INST/events/toe/$e/format" ]
	check_err $? "no toe:$e tracepoint"
done
grep -q "field:int reason;" "$INST/events/toe/toe_handback/format" &&
	grep -q "field:u32 given_back;" "$INST/events/toe/toe_handback/format" &&
	grep -q "field:int why;" "$INST/events/toe/toe_refused/format"
check_err $? "the formats lack their fields"
log_test "toe:* tracepoints: all four, with their fields"

# The client hands it back at its shutdown, after all its bytes went to
# the engine.
record
xfer plain 5300 $MB --ulp --drain
check_err $? "transfer did not complete"
check_xfer plain $MB
check_err $? "bytes differ"
stop
expect "handovers" "$(events toe_handover 5300 | wc -l)" 1
expect "handbacks" "$(events toe_handback 5300 | wc -l)" 1
expect "reason" "$(events toe_handback 5300 | field reason)" fin
expect "err" "$(events toe_handback 5300 | field err)" 0
expect "tx_bytes" "$(events toe_handback 5300 | field tx_bytes)" $MB
expect "given_back (drained)" "$(events toe_handback 5300 | field given_back)" 0
expect "device" "$(events toe_handover 5300 | field dev)" "$TOE"
expect "source" "$(events toe_handover 5300 | field src | cut -d: -f1)" 10.81.0.1
expect "requests (the application's own shutdown)" \
	"$(events toe_handback_request 5300 | wc -l)" 0
expect "refusals" "$(grep -c " toe_refused: " "$TMP/trace")" 0
[ "$RET" = 0 ] || cat "$TMP/trace" >&"$TOE_STDOUT"
log_test "explicit offload: one handover, one handback at the FIN, bytes counted"

# The administrator's handback, asked for in mid-transfer: the request,
# then the handback, with the same reason.
record
RATE=$MB xfer admin 5301 $((4 * MB)) --ulp &
pid=$!
toe_wait_conns 1 $((30 * TOE_SLOW))
check_err $? "the connection was not offloaded"
echo 1 > "$DBG/force_handback"
wait "$pid"
check_err $? "transfer did not complete"
check_xfer admin $((4 * MB))
check_err $? "bytes differ after the handback"
stop
expect "handovers" "$(events toe_handover 5301 | wc -l)" 1
expect "requests" "$(events toe_handback_request 5301 | field reason)" admin
expect "handbacks" "$(events toe_handback 5301 | field reason)" admin
expect "err" "$(events toe_handback 5301 | field err)" 0
expect "request first" \
	"$(grep -oE "toe_handback(_request)?: .* dst=10\.81\.0\.2:5301 " "$TMP/trace" |
	   cut -d: -f1 | tr '\n' ' ')" "toe_handback_request toe_handback "
[ "$RET" = 0 ] || cat "$TMP/trace" >&"$TOE_STDOUT"
log_test "administrator's handback: requested, then handed back, reason admin"

# Refused: nobody may ask (ulp_access none), and a table of one that is
# full.
record
echo none > "/sys/class/toe/$TOE/ulp_access"
xfer denied 5302 $MB --ulp
echo admin > "/sys/class/toe/$TOE/ulp_access"
expect "TCP_ULP with ulp_access none" "$(toe_xfer_ulp "$TMP/denied.c")" EPERM
check_xfer denied $MB
check_err $? "bytes differ in software"
expect "table_size 1" "$(toe_write "$DBG/table_size" 1)" OK
xfer first 5303 $MB --ulp --wait-for "$TMP/second.done" &
first=$!
toe_wait_conns 1 $((30 * TOE_SLOW))
check_err $? "the first connection was not offloaded"
xfer second 5304 $MB --ulp
touch "$TMP/second.done"
wait "$first"
expect "TCP_ULP with the table full" "$(toe_xfer_ulp "$TMP/second.c")" ENOSPC
check_xfer first $MB && check_xfer second $MB
check_err $? "bytes differ with the table full"
stop
expect "denied" "$(events toe_refused 5302 | field why)/$(events toe_refused 5302 | field err)" perm/-1
expect "table full" "$(events toe_refused 5304 | field why)/$(events toe_refused 5304 | field err)" table_full/-28
expect "no handover of either" \
	"$(events toe_handover 5302 | wc -l)/$(events toe_handover 5304 | wc -l)" 0/0
[ "$RET" = 0 ] || cat "$TMP/trace" >&"$TOE_STDOUT"
log_test "refusals: permission and a full table, each traced with why"

# toesim's own: five received frames dropped by fault injection, then
# the peer's side shut for two and a half RTOs (its ACKs lost: the
# engine's retransmission timer fires once or twice, short of the three
# that hand a connection back: at 1 + 2 + 4 RTOs). Each event is counted
# in debugfs too: the trace and the counters agree.
sim_events() {
	grep -E " toesim_$1: src=10\.81\.0\.1:[0-9]+ dst=10\.81\.0\.2:$2 " "$TMP/trace"
}
echo > "$INST/trace"
echo 1 > "$INST/events/toesim/enable"
d0=$(cat "$DBG/rx_drops")
r0=$(cat "$DBG/rto")
x0=$(cat "$DBG/retrans")
RATE=$MB xfer loss 5305 $((4 * MB)) --ulp &
pid=$!
toe_wait_conns 1 $((30 * TOE_SLOW))
check_err $? "the connection was not offloaded"
echo 5 > "$DBG/fail_rx_drop"
sleep 0.5
rto=$(ip netns exec "$H" ss -tinH dport = :5305 | sed -n 's/.* rto:\([0-9]*\).*/\1/p')
ip netns exec "$P" tc qdisc add dev vp root netem loss 100%
sleep "$(awk -v r="${rto:-200}" 'BEGIN { print r * 2.5 / 1000 }')"
ip netns exec "$P" tc qdisc del dev vp root
wait "$pid"
check_err $? "transfer did not complete"
echo 0 > "$INST/events/toesim/enable"
cat "$INST/trace" > "$TMP/trace"
check_xfer loss $((4 * MB))
check_err $? "bytes differ after the drops"
expect "fault drops traced" "$(sim_events drop 5305 | grep -c "why=fault")" 5
expect "receive drops traced, counted" \
	"$(sim_events drop 5305 | grep -cE "why=(fault|queue|frame|nomem)")" \
	$(($(cat "$DBG/rx_drops") - d0))
n=$(sim_events rto 5305 | wc -l)
[ "$n" -ge 1 ]
check_err $? "no toesim_rto event in $rto x 2.5 ms of lost ACKs"
expect "RTOs traced, counted" "$n" $(($(cat "$DBG/rto") - r0))
expect "retransmissions traced, counted" "$(sim_events retransmit 5305 | wc -l)" \
	$(($(cat "$DBG/retrans") - x0))
sim_events retransmit 5305 | grep -q "kind=rto"
check_err $? "no retransmission after the RTO"
[ "$RET" = 0 ] || cat "$TMP/trace" >&"$TOE_STDOUT"
log_test "toesim:* tracepoints: drops with why, RTOs, retransmissions, as counted"

exit "$EXIT_STATUS"
