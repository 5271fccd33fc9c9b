#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# toesim's fault injection knobs (debugfs), each triggering its documented
# reaction with no byte lost: frames dropped or delayed on receive,
# connections refused, the engine stalled, every connection handed back by
# the administrator, a device error, the table shrunk; bad values refused.
# And a driver bug: bytes lost at handback reset the connection.

source "$(dirname "$0")/lib.sh"

toe_sim_prereq ip python3 nsenter

XFER=$(dirname "$0")/toe_xfer.py
H=toe-flt-h-$$
P=toe-flt-p-$$
TOE_DIAG_NS="$H $P"
TMP=$(mktemp -d)
defer rm -rf "$TMP"
DBG=/sys/kernel/debug/toesim/0
MB=$((1024 * 1024))

toe_load toe toesim || fail "cannot load toe, toesim"
defer toe_unload toesim

toe_pair "$H" "$P" 10.75.0 || fail "cannot create the namespaces and veth pair"
toe_sim_up "$H" vh || fail "cannot create and enable a toesim instance"

counter() {
	cat "$DBG/$1"
}

stat() {
	toe_dev_stat "$H" "$1"
}

wr() {
	toe_write "$@"
}

expect() {
	[ "$2" = "$3" ]
	check_err $? "$1: got '$2', want '$3'"
}

# xfer NAME PORT BYTES [client options]: BYTES each way, server paced by RATE.
xfer() {
	local name=$1 port=$2 bytes=$3

	shift 3
	timeout 300 ip netns exec "$P" python3 "$XFER" server "$port" \
		--send "$bytes" ${RATE:+--rate "$RATE"} > "$TMP/$name.s" 2>&1 &
	server=$!
	toe_wait_listen "$P" "$port" || return 1
	toe_bounded 200 ip netns exec "$H" python3 "$XFER" client 10.75.0.2 "$port" \
		--send "$bytes" ${RATE:+--rate "$RATE"} --late-shutdown "$@" \
		> "$TMP/$name.c" 2>&1
	wait "$server"
}

check_xfer() {
	toe_xfer_ok "$TMP/$1.c" "$TMP/$1.s" "$2" "$2"
}

ulp() {
	toe_xfer_ulp "$TMP/$1.c"
}

# during NAME PORT ACTION: a paced offloaded transfer with ACTION midway.
during() {
	local name=$1 port=$2 action=$3

	RATE=$MB xfer "$name" "$port" $((${DURING_MB:-4} * MB)) --ulp &
	local pid=$!
	# Act once the engine carries the connection and data flows.
	toe_wait_carried "$H" "10.75.0.2:$port" $((MB / 2)) 20
	check_err $? "$name: the engine did not carry 512 KB before the action"
	eval "$action"
	wait "$pid"
}

# --- bad values ------------------------------------------------------------------

expect "fail_rx_drop -1" "$(wr "$DBG/fail_rx_drop" -1)" EINVAL
expect "fail_connect 2^32" "$(wr "$DBG/fail_connect" 4294967296)" EINVAL
expect "stall_ms 60000" "$(wr "$DBG/stall_ms" 60000)" EINVAL
expect "fail_rx_delay_ms 10001" "$(wr "$DBG/fail_rx_delay_ms" 10001)" EINVAL
expect "connect_delay_ms 10001" "$(wr "$DBG/connect_delay_ms" 10001)" EINVAL
expect "force_handback 2" "$(wr "$DBG/force_handback" 2)" EINVAL
expect "fail_device 0" "$(wr "$DBG/fail_device" 0)" EINVAL
expect "handback_port 0" "$(wr "$DBG/handback_port" 0)" EINVAL
expect "handback_port 65536" "$(wr "$DBG/handback_port" 65536)" EINVAL
expect "handback_port, no connection" "$(wr "$DBG/handback_port" 5299)" ENOENT
expect "table_size 0" "$(wr "$DBG/table_size" 0)" EINVAL
expect "table_size above the table" \
	"$(wr "$DBG/table_size" $(($(cat "$DBG/table_size") + 1)))" EINVAL
log_test "fault knobs refuse bad values"

# --- the knobs ---------------------------------------------------------------------

offloaded() {
	nsenter --net="/run/netns/$H" grep -q ":$1 $TOE offloaded " \
		/proc/net/toe/connections
}

# A few frames in a row, of both directions' data and acknowledgments:
# the engine recovers them itself (SACK, fast retransmit), and keeps the
# connection. (A long outage, three of its retransmission timeouts in a
# row, sends the connection back to Linux TCP: toe_diff's peer_gone
# cases.)
dropped() {
	local i

	echo 5 > "$DBG/fail_rx_drop"
	for ((i = 0; i < 50; i++)); do
		[ "$(counter fail_rx_drop)" = 0 ] && break
		sleep 0.1
	done
	sleep 1
	offloaded 5200 && kept=yes ||
		kept="no: $(nsenter --net="/run/netns/$H" grep ":5200 " \
			/proc/net/toe/connections)"
}
d0=$(counter rx_drops)
kept=no
DURING_MB=$((8 * TOE_SLOW)) during drop 5200 dropped
check_xfer drop $((8 * TOE_SLOW * MB))
check_err $? "bytes differ after dropped frames"
expect "frames dropped" "$(( $(counter rx_drops) - d0 ))" 5
expect "still offloaded 1 s after" "$kept" yes
log_test "fail_rx_drop: 5 frames dropped, the engine recovers, intact"

expect "fail_connect 1" "$(wr "$DBG/fail_connect" 1)" OK
xfer refused 5201 $MB --ulp
expect "TCP_ULP toe while connects fail" "$(ulp refused)" EIO
check_xfer refused $MB
check_err $? "bytes differ in software after a refused connect"
expect "knob used up" "$(counter fail_connect)" 0
log_test "fail_connect: the connection stays in software and works"

# The peer's retransmission timeouts: while the engine stands still, the
# peer's data goes unacknowledged for 1.5 s, far past its RTO (at least
# 200 ms): a stall that did not happen leaves the count where it was.
peer_timeouts() {
	ip netns exec "$P" nstat -asz TcpExtTCPTimeouts |
		awk '$1 == "TcpExtTCPTimeouts" { n = $2 } END { print n + 0 }'
}
to0=$(peer_timeouts)
during stall 5202 'echo 1500 > $DBG/stall_ms'
check_xfer stall $((4 * MB))
check_err $? "bytes differ after an engine stall"
expect "knob used up" "$(counter stall_ms)" 0
[ "$(peer_timeouts)" -gt "$to0" ]
check_err $? "the peer saw no retransmission timeout ($to0 before, $(peer_timeouts) after): no stall"
log_test "stall_ms: the engine stalls 1.5 s, the peer times out, intact"

# rtt_ms PORT: the RTT ss shows for the connection to PORT, whole ms.
rtt_ms() {
	ip netns exec "$H" ss -tinH dport = ":$1" |
		sed -n 's/.* rtt:\([0-9]*\).*/\1/p' | head -n 1
}
# Up to 6 s, however slow ss is: the transfer lasts 12 s (times
# TOE_SLOW: on the debug kernel the wait for the handover and each ss
# take seconds) or more.
delayed() {
	local end=$((SECONDS + 6))

	offloaded 5207 || sstin="not offloaded when the delay began"
	echo 100 > "$DBG/fail_rx_delay_ms"
	while [ "$SECONDS" -lt "$end" ]; do
		sleep 0.2
		rtt=$(rtt_ms 5207)
		[ "${rtt:-0}" -ge 50 ] && break
	done
	[ "${rtt:-0}" -ge 50 ] || sstin="${sstin:-} $(ip netns exec "$H" ss -tin 2>&1)"
	echo 0 > "$DBG/fail_rx_delay_ms"
}
DURING_MB=$((12 * TOE_SLOW)) during delay 5207 delayed
check_xfer delay $((12 * TOE_SLOW * MB))
check_err $? "bytes differ after delayed frames"
[ "${rtt:-0}" -ge 50 ]
check_err $? "the engine's RTT while frames were held 100 ms: '${rtt}' ms; ss: ${sstin:-}"
expect "delay off again" "$(counter fail_rx_delay_ms)" 0
log_test "fail_rx_delay_ms: frames held 100 ms, the engine's RTT shows it, intact"

b0=$(stat handbacks)
during admin 5203 'echo 1 > $DBG/force_handback'
check_xfer admin $((4 * MB))
check_err $? "bytes differ after a forced handback"
[ "$(stat handbacks)" -gt "$b0" ]
check_err $? "force_handback handed nothing back"
log_test "force_handback: handed back midway, intact"

# One connection of two: the other stays offloaded. Both clients hold
# their connection idle (offloaded) for 10 s before moving data.
b0=$(stat handbacks)
xfer other 5208 "$MB" --ulp --hold $((10 * TOE_SLOW)) &
other=$!
xfer one 5209 "$MB" --ulp --hold $((10 * TOE_SLOW)) &
one=$!
for ((i = 0; i < 100; i++)); do
	offloaded 5208 && offloaded 5209 && break
	sleep 0.1
done
expect "handback_port 5209" "$(wr "$DBG/handback_port" 5209)" OK
for ((i = 0; i < 50; i++)); do
	offloaded 5209 || break
	sleep 0.1
done
! offloaded 5209 && offloaded 5208
check_err $? "not just the connection on port 5209 was handed back: $(nsenter --net="/run/netns/$H" cat /proc/net/toe/connections)"
wait "$one"
wait "$other"
check_xfer one "$MB" && check_xfer other "$MB"
check_err $? "bytes differ after a handback by port"
[ "$(stat handbacks)" -gt "$b0" ]
check_err $? "handback_port handed nothing back"
log_test "handback_port: one connection back, the other stays offloaded"

# A device error hands back without a drain: bytes in flight go back to
# Linux TCP, which sends them again; the peer's ACKs of them must not be
# taken for ACKs of data never sent. Several times, at different points.
b0=$(stat handbacks)
for i in 1 2 3; do
	during "fail$i" "521$i" 'echo 1 > $DBG/fail_device'
	check_xfer "fail$i" $((4 * MB))
	check_err $? "bytes differ after device error $i"
done
[ "$(stat handbacks)" -ge $((b0 + 3)) ]
check_err $? "fail_device handed nothing back"
log_test "fail_device: every connection back without a drain, intact"

# A driver that gives back fewer bytes than it holds: the core must not
# hand the peer a stream with a hole in it. The peer does not read, so the
# engine holds unsent bytes; the handback loses 1000 of them; the core
# resets the connection: the peer gets a RST, the application
# ECONNABORTED, and the device counts a handback error.
LOSE_PEER='
import os, socket, sys, time
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
# A small, fixed window: what the host writes stays queued in the engine
# however slowly it writes.
ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
ls.bind(("0.0.0.0", int(sys.argv[1])))
ls.listen(1)
print("listening", flush=True)
c, _ = ls.accept()
# Read only once the test says so (after the handback), however slow the
# guest: a peer that reads early would take the bytes the engine holds.
end = time.time() + 120
while not os.path.exists(sys.argv[2]) and time.time() < end:
    time.sleep(0.1)
n = 0
try:
    while True:
        b = c.recv(1 << 16)
        if not b:
            print("eof", n)
            break
        n += len(b)
except ConnectionResetError:
    print("reset", n)
'
LOSE_HOST='
import errno, os, socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.setsockopt(socket.IPPROTO_TCP, 31, b"toe")
s.setblocking(False)
buf, n = os.urandom(1 << 16), 0
end = time.time() + 5
while time.time() < end:
    try:
        n += s.send(buf)
    except BlockingIOError:
        time.sleep(0.1)
print("stuck", n, flush=True)
sys.stdin.readline()
try:
    s.recv(1)
    print("no error")
except OSError as e:
    print(errno.errorcode[e.errno])
'
# stuck_writer NAME PORT: LOSE_PEER on PORT and LOSE_HOST writing to it
# until its send buffer stays full, offloaded; sets peer, host and go
# (the host's stdin: write a line to let it read).
stuck_writer() {
	local name=$1 port=$2 i

	ip netns exec "$P" python3 -c "$LOSE_PEER" "$port" "$TMP/$name.read" \
		> "$TMP/$name.s" 2>&1 &
	peer=$!
	toe_wait_listen "$P" "$port"
	mkfifo "$TMP/$name.in"
	ip netns exec "$H" python3 -c "$LOSE_HOST" 10.75.0.2 "$port" \
		< "$TMP/$name.in" > "$TMP/$name.c" 2>&1 &
	host=$!
	exec {go}> "$TMP/$name.in"
	for ((i = 0; i < 100; i++)); do
		grep -q stuck "$TMP/$name.c" && break
		sleep 0.1
	done
	nsenter --net="/run/netns/$H" grep -q ":$port $TOE offloaded " \
		/proc/net/toe/connections
	check_err $? "the connection was not offloaded when its writer stopped"
}
e0=$(stat handback_errors)
expect "fail_handback_lose 1000" "$(wr "$DBG/fail_handback_lose" 1000)" OK
stuck_writer lose 5216
ip netns exec "$H" ss -tinH dport = :5216 > "$TMP/lose.ss" 2>&1
expect "force_handback" "$(wr "$DBG/force_handback" 1)" OK
# The handback runs from a workqueue: let it finish before the read.
for ((i = 0; i < 100; i++)); do
	[ "$(stat handback_errors)" != "$e0" ] && break
	sleep 0.1
done
echo go >&"$go"
exec {go}>&-
toe_wait_pid 30 "$host"
touch "$TMP/lose.read"
toe_wait_pid 30 "$peer"
check_err $? "the peer did not finish"
expect "application" "$(tail -n 1 "$TMP/lose.c")" ECONNABORTED
[ "$RET" = 0 ] || { cat "$TMP/lose.c" "$TMP/lose.ss"; toe_diag "$H"; } >&"$TOE_STDOUT"
expect "peer" "$(cut -d' ' -f1 "$TMP/lose.s" | tail -n 1)" reset
expect "handback errors" "$(( $(stat handback_errors) - e0 ))" 1
expect "knob used up" "$(counter fail_handback_lose)" 0
log_test "fail_handback_lose: bytes missing at handback reset the connection"

# A driver may give back, first, bytes the peer acknowledged already
# (struct toe_handback allows it; toe_hb_check() lets them through): the
# core skips them, and every byte arrives once. The same writer stuck on
# the peer's small window, so that the handback has bytes to give back.
e0=$(stat handback_errors)
expect "fail_handback_stale 3000" "$(wr "$DBG/fail_handback_stale" 3000)" OK
stuck_writer stale 5217
expect "force_handback" "$(wr "$DBG/force_handback" 1)" OK
for ((i = 0; i < 100; i++)); do
	[ "$(counter fail_handback_stale)" = 0 ] &&
		! nsenter --net="/run/netns/$H" grep -q ":5217 $TOE offloaded " \
			/proc/net/toe/connections && break
	sleep 0.1
done
echo go >&"$go"
exec {go}>&-
toe_wait_pid 30 "$host"
touch "$TMP/stale.read"
toe_wait_pid 30 "$peer"
check_err $? "the peer did not finish"
expect "application" "$(tail -n 1 "$TMP/stale.c")" EAGAIN
expect "peer read" "$(tail -n 1 "$TMP/stale.s")" \
	"eof $(awk '/stuck/ { print $2 }' "$TMP/stale.c")"
expect "handback errors" "$(( $(stat handback_errors) - e0 ))" 0
expect "knob used up" "$(counter fail_handback_stale)" 0
log_test "fail_handback_stale: acknowledged bytes given back are skipped, stream intact"

# A driver whose rcv_nxt at handback is past what it delivered has
# acknowledged bytes the application never gets: Linux TCP taking over
# from there would leave a hole in the stream. The core compares the
# engine's rcv_nxt with the socket's and resets the connection instead.
e0=$(stat handback_errors)
expect "fail_handback_rcv_nxt 1000" "$(wr "$DBG/fail_handback_rcv_nxt" 1000)" OK
stuck_writer rcvnxt 5218
expect "force_handback" "$(wr "$DBG/force_handback" 1)" OK
toe_busywait 10000 eval '[ "$(stat handback_errors)" != "$e0" ]'
echo go >&"$go"
exec {go}>&-
toe_wait_pid 30 "$host"
touch "$TMP/rcvnxt.read"
toe_wait_pid 30 "$peer"
check_err $? "the peer did not finish"
expect "application" "$(tail -n 1 "$TMP/rcvnxt.c")" ECONNABORTED
expect "peer" "$(cut -d' ' -f1 "$TMP/rcvnxt.s" | tail -n 1)" reset
expect "handback errors" "$(( $(stat handback_errors) - e0 ))" 1
expect "knob used up" "$(counter fail_handback_rcv_nxt)" 0
[ "$RET" = 0 ] || { cat "$TMP/rcvnxt.c" "$TMP/rcvnxt.s"; toe_diag "$H"; } >&"$TOE_STDOUT"
log_test "fail_handback_rcv_nxt: an engine ahead of the socket resets the connection"

# close() looks the proto up before it takes the socket lock: one that
# comes while the automatic policy's handover holds the lock (a slow
# connect()) runs Linux TCP's close on what is offloaded by the time it
# gets the lock. The handover sees the file going and hands the
# connection back at once; Linux TCP then closes it as it would have:
# with bytes unread, a reset.
CLOSE_PEER='
import errno, socket, sys
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", int(sys.argv[1])))
l.listen(1)
c, _ = l.accept()
c.sendall(b"x" * 65536)
try:
    print("eof" if not c.recv(1) else "data")
except OSError as e:
    print(errno.errorcode[e.errno])
'
CLOSE_HOST='
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
time.sleep(0.5)
t = time.monotonic()
s.close()
print(int((time.monotonic() - t) * 1000))
'
ho0=$(stat handovers)
hb0=$(stat handbacks)
echo 1 > "/sys/class/toe/$TOE/min_bytes"
echo 1 > "/sys/class/toe/$TOE/auto_offload"
expect "connect_delay_ms 2000" "$(wr "$DBG/connect_delay_ms" 2000)" OK
ip netns exec "$P" python3 -c "$CLOSE_PEER" 5220 > "$TMP/close.s" 2>&1 &
peer=$!
toe_wait_listen "$P" 5220
ip netns exec "$H" timeout 30 python3 -c "$CLOSE_HOST" 10.75.0.2 5220 \
	> "$TMP/close.c" 2>&1
toe_wait_pid 30 "$peer"
check_err $? "the peer did not finish"
echo 0 > "/sys/class/toe/$TOE/auto_offload"
took=$(tail -n 1 "$TMP/close.c")
[ "${took:-0}" -ge 500 ] 2> /dev/null
check_err $? "close() took '$took' ms: it did not wait for the handover"
expect "peer read" "$(tail -n 1 "$TMP/close.s")" ECONNRESET
expect "handovers" "$(( $(stat handovers) - ho0 ))" 1
expect "handbacks" "$(( $(stat handbacks) - hb0 ))" 1
expect "engine connections" "$(cat "/sys/class/toe/$TOE/conns")" 0
log_test "close() during an automatic handover: handed back, reset as in software"

# An administrator who disables the device, or a driver that unregisters
# it, while a handover is inside the engine's connect() (slow firmware:
# connect_delay_ms, the socket locked): the change waits for the
# handover (the core's handover semaphore) and then hands the connection
# back like any other, instead of leaving it on a stopped engine, where
# unregister_toedev() would wait for it for ever.
# race NAME PORT CHANGE: an explicit handover, CHANGE while it is inside
# connect(); sets took (ms CHANGE took).
race() {
	local name=$1 port=$2 change=$3 t

	expect "connect_delay_ms 2000" "$(wr "$DBG/connect_delay_ms" 2000)" OK
	xfer "$name" "$port" $((4 * MB)) --ulp &
	local pid=$!
	# The engine takes the delay (and zeroes the knob) as connect() starts.
	toe_busywait $((10000 * TOE_SLOW)) eval '[ "$(counter connect_delay_ms)" = 0 ]'
	check_err $? "$name: the handover did not reach connect()"
	t=$(date +%s%N)
	timeout 20 sh -c "$change"
	check_err $? "$name: '$change' failed or hung"
	took=$((($(date +%s%N) - t) / 1000000))
	wait "$pid"
	check_err $? "$name: the transfer failed"
	expect "$name: TCP_ULP toe" "$(ulp "$name")" ok
	check_xfer "$name" $((4 * MB))
	check_err $? "$name: bytes differ"
	# The delay (2 s), then a drain: not the 10 s of a wait for a reference.
	[ "$took" -lt $((8000 * TOE_SLOW)) ]
	check_err $? "$name: '$change' took $took ms"
}
ho0=$(stat handovers)
hb0=$(stat handbacks)
race disable 5221 "echo 0 > /sys/class/toe/$TOE/enabled"
expect "disable: handovers" "$(( $(stat handovers) - ho0 ))" 1
expect "disable: handbacks" "$(( $(stat handbacks) - hb0 ))" 1
expect "disable: engine connections" "$(cat "/sys/class/toe/$TOE/conns")" 0
echo 1 > "/sys/class/toe/$TOE/enabled"
log_test "disable during a handover's connect(): waits, then hands it back, intact"

race unregister 5222 "echo 0 > /sys/bus/toesim/del_device"
[ ! -e "/sys/class/toe/$TOE" ]
check_err $? "the device is still registered after del_device"
toe_sim_up "$H" vh || fail "cannot create the toesim instance again"
log_test "unregister during a handover's connect(): waits, then hands it back, intact"

expect "shrink the table to 1" "$(wr "$DBG/table_size" 1)" OK
expect "conn_limit follows" "$(cat "/sys/class/toe/$TOE/conn_limit")" 1
# The first holds the slot, idle, until the second is done: nothing in
# flight that a timer could hand back, however slow the guest.
xfer first 5205 $MB --ulp --wait-for "$TMP/second.done" &
first=$!
toe_wait_conns 1 30
check_err $? "the first connection was not offloaded"
rto0=$(counter rto)
xfer second 5206 $MB --ulp
offloaded 5205 && held=yes || {
	held="no, $(( $(counter rto) - rto0 )) RTOs meanwhile"
	toe_diag "$H" >&"$TOE_STDOUT"
}
touch "$TMP/second.done"
wait "$first"
expect "first/second with one slot (the first still offloaded after: $held)" \
	"$(ulp first)/$(ulp second)" ok/ENOSPC
check_xfer first $MB && check_xfer second $MB
check_err $? "bytes differ with the shrunk table"
log_test "table_size shrunk to 1: the second connection stays in software"

exit "$EXIT_STATUS"
