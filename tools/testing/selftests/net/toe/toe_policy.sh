#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Automatic offload and handback on toesim against a Linux peer: the
# policy (auto_offload, min_bytes, the "notoe" opt-out) read back from
# the device's counters, who may ask for offload (ulp_access, as root and
# as an unprivileged user), and connections handed back in the middle of a
# transfer (administrator, route moved, port down, driver unload), each
# arriving intact by SHA-256. Disabling the device while its peers are
# slow to acknowledge hands every connection back at once: the
# administrator waits for one drain, not one per connection.

source "$(dirname "$0")/lib.sh"

toe_sim_prereq ip python3 nsenter setpriv unshare tc

XFER=$(dirname "$0")/toe_xfer.py
H=toe-pol-h-$$
P=toe-pol-p-$$
TOE_DIAG_NS="$H $P"
TMP=$(mktemp -d)
defer rm -rf "$TMP"
BIG=$((8 * 1024 * 1024))
SMALL=4096

toe_load toe toesim || fail "cannot load toe, toesim"
defer toe_unload toesim

toe_pair "$H" "$P" 10.74.0 || fail "cannot create the namespaces and veth pair"
toe_sim_up "$H" vh || fail "cannot create and enable a toesim instance"

# stat NAME: a counter of the device from /proc/net/toe/devices.
stat() {
	toe_dev_stat "$H" "$1"
}

# xfer NAME PORT CLIENT_BYTES SERVER_BYTES [client options]; the server
# at $RATE bytes/s if set, with $SERVER_OPTS.
xfer() {
	local name=$1 port=$2 cb=$3 sb=$4

	shift 4
	timeout 300 ip netns exec "$P" python3 "$XFER" server "$port" \
		--send "$sb" ${RATE:+--rate "$RATE"} $SERVER_OPTS > "$TMP/$name.s" 2>&1 &
	server=$!
	toe_wait_listen "$P" "$port" || return 1
	toe_bounded 200 ip netns exec "$H" python3 "$XFER" client 10.74.0.2 "$port" \
		--send "$cb" "$@" > "$TMP/$name.c" 2>&1
	wait "$server"
}

check_xfer() {
	toe_xfer_ok "$TMP/$1.c" "$TMP/$1.s" "$2" "$3"
}

# --- automatic offload --------------------------------------------------------

echo 1 > "/sys/class/toe/$TOE/auto_offload"
check_err $? "cannot turn auto_offload on"
a0=$(stat auto_offloads)
xfer auto 5100 $SMALL $BIG
check_err $? "transfer did not complete"
check_xfer auto $SMALL $BIG
check_err $? "bytes differ"
[ "$(stat auto_offloads)" -gt "$a0" ]
check_err $? "auto_offloads did not move: the connection was not offloaded"
log_test "auto_offload: an unmodified application's connection is offloaded"

echo $((2 * 1024 * 1024)) > "/sys/class/toe/$TOE/min_bytes"
a0=$(stat auto_offloads)
xfer threshold 5101 $SMALL $BIG --late-shutdown
check_err $? "transfer did not complete"
check_xfer threshold $SMALL $BIG
check_err $? "bytes differ"
[ "$(stat auto_offloads)" -gt "$a0" ]
check_err $? "auto_offloads did not move after min_bytes"
a0=$(stat auto_offloads)
xfer below 5102 $SMALL $((BIG / 8)) --late-shutdown
check_xfer below $SMALL $((BIG / 8))
check_err $? "bytes differ below the threshold"
[ "$(stat auto_offloads)" = "$a0" ]
check_err $? "a connection below min_bytes was offloaded"
echo 0 > "/sys/class/toe/$TOE/min_bytes"
log_test "min_bytes: offloaded once the threshold passed, not before"

# The table limited to 8: eight connections go to the engine, the ninth
# stays in software, counted in table_full, and every one of them works.
DBG=/sys/kernel/debug/toesim/0
echo 8 > "$DBG/table_size"
check_err $? "cannot limit the table to 8"
t0=$(stat table_full)
ip netns exec "$P" python3 "$(dirname "$0")/toe_many.py" server 5120 > /dev/null 2>&1 &
defer kill $!
toe_wait_listen "$P" 5120 || fail "the echo server did not start"
ip netns exec "$H" timeout 120 python3 "$(dirname "$0")/toe_many.py" client \
	10.74.0.2 5120 9 65536 --auto --hold 8 > "$TMP/table" 2>&1 &
many=$!
for ((i = 0; i < 70; i++)); do
	[ "$(cat "/sys/class/toe/$TOE/conns")" = 8 ] && [ "$(stat table_full)" -gt "$t0" ] && break
	sleep 0.1
done
conns=$(cat "/sys/class/toe/$TOE/conns")
wait "$many"
expect_many='{"connections": 9, "offloaded": 0, "intact": 9}'
[ "$conns" = 8 ] && [ "$(stat table_full)" -gt "$t0" ] &&
	[ "$(tail -n 1 "$TMP/table")" = "$expect_many" ]
check_err $? "conns $conns (want 8), table_full $t0 -> $(stat table_full), $(tail -n 1 "$TMP/table")"
# (The slots stay out of service: the tests below need one at a time.)
log_test "table of 8: the ninth connection stays in software, counted, all intact"

a0=$(stat handovers)
xfer notoe 5103 $SMALL $((BIG / 4)) --notoe
check_xfer notoe $SMALL $((BIG / 4))
check_err $? "bytes differ with the opt-out"
[ "$(stat handovers)" = "$a0" ]
check_err $? "a socket with TCP_ULP notoe was offloaded"
log_test "TCP_ULP notoe: the per-socket opt-out is honoured"

echo 0 > "/sys/class/toe/$TOE/auto_offload"
[ "$(cat "/sys/class/toe/$TOE/auto_offload")" = 0 ]
check_err $? "cannot turn auto_offload off"
echo 2 > "/sys/class/toe/$TOE/auto_offload" 2> /dev/null
check_fail $? "auto_offload took 2"
echo -1 > "/sys/class/toe/$TOE/min_bytes" 2> /dev/null
check_fail $? "min_bytes took -1"
log_test "policy knobs reject bad values"

# --- de-acceleration of slow connections ------------------------------------------

echo $((1024 * 1024)) > "/sys/class/toe/$TOE/low_rate"
echo 2 > "/sys/class/toe/$TOE/low_rate_secs"
l0=$(stat low_rate)
b0=$(stat handbacks)
RATE=$((64 * 1024)) xfer slow 5104 $SMALL $((384 * 1024)) --ulp --late-shutdown
check_xfer slow $SMALL $((384 * 1024))
check_err $? "bytes differ after a low-rate handback"
[ "$(stat low_rate)" -gt "$l0" ] && [ "$(stat handbacks)" -gt "$b0" ]
check_err $? "a connection at 64 KB/s under a 1 MB/s floor was not handed back"
echo 0 > "/sys/class/toe/$TOE/low_rate_secs" 2> /dev/null
check_fail $? "low_rate_secs took 0"
echo 0 > "/sys/class/toe/$TOE/low_rate"
log_test "low_rate: a slow connection goes back to software, intact"

# --- who may ask: ulp_access -------------------------------------------------------

# Explicit offload is for CAP_NET_ADMIN (in the initial user namespace)
# by default (ulp_access admin); "all" opens it to every user, "none"
# closes it to root too.

# ask NAME PORT USER: 64 KB each way, the client (root, nobody without
# capabilities, or root of its own user namespace) asking for the engine with TCP_ULP "toe" after connect.
ask() {
	local name=$1 port=$2 user=$3 as=() server

	case $user in
	nobody) as=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all) ;;
	# root of a user namespace of its own, as in a container
	userns) as=(unshare -U -r) ;;
	esac
	ip netns exec "$P" python3 "$XFER" server "$port" --send 65536 \
		> "$TMP/$name.s" 2>&1 &
	server=$!
	toe_wait_listen "$P" "$port" || return 1
	toe_bounded 60 ip netns exec "$H" "${as[@]}" python3 "$XFER" client \
		10.74.0.2 "$port" --send 65536 --ulp > "$TMP/$name.c" 2>&1
	toe_wait_pid 60 "$server"
}

# Not a skip: the kernel the suite runs on must have user namespaces
# (the config file); without, the other cases still run.
cases=("admin root ok" "admin nobody EPERM" "admin userns EPERM"
	"all nobody ok" "none root EPERM")
if ! unshare -U -r true; then
	check_err 1 "no user namespace to be root of (CONFIG_USER_NS?)"
	unset 'cases[2]'
fi
[ "$(cat "/sys/class/toe/$TOE/ulp_access")" = admin ]
check_err $? "ulp_access is $(cat "/sys/class/toe/$TOE/ulp_access"), not admin by default"
[ "$(toe_write "/sys/class/toe/$TOE/ulp_access" bogus)" = EINVAL ]
check_err $? "ulp_access took a bad value"
port=5130
for c in "${cases[@]}"; do
	read -r access user want <<< "$c"
	echo "$access" > "/sys/class/toe/$TOE/ulp_access"
	d0=$(stat ulp_denied)
	ask "ulp-$access-$user" "$port" "$user"
	check_err $? "ulp_access $access, $user: the transfer failed: $(tail -c 300 "$TMP/ulp-$access-$user.c"; tail -c 300 "$TMP/ulp-$access-$user.s")"
	got=$(toe_xfer_ulp "$TMP/ulp-$access-$user.c")
	[ "$got" = "$want" ]
	check_err $? "ulp_access $access, $user: TCP_ULP toe got $got, want $want"
	check_xfer "ulp-$access-$user" 65536 65536
	check_err $? "ulp_access $access, $user: bytes differ"
	denied=$d0
	[ "$want" = ok ] || denied=$((d0 + 1))
	[ "$(stat ulp_denied)" = "$denied" ]
	check_err $? "ulp_access $access, $user: ulp_denied $(stat ulp_denied), was $d0"
	port=$((port + 1))
done
echo admin > "/sys/class/toe/$TOE/ulp_access"
log_test "ulp_access: admin by default, all, none; refusals counted, bytes intact"

# --- handback in the middle of a transfer ---------------------------------------

# midway NAME PORT ACTION: an offloaded transfer during which ACTION runs.
midway() {
	local name=$1 port=$2 action=$3

	# Paced, so that ACTION lands in the middle: 4 s, TOE_SLOW times
	# that where the test's own commands are slow.
	RATE=$((BIG / 2 / TOE_SLOW)) xfer "$name" "$port" $SMALL $((2 * BIG)) \
		--ulp --late-shutdown &
	local pid=$!

	# Act once the connection is offloaded and data flows.
	toe_wait_carried "$H" "10.74.0.2:$port" $((BIG / 8)) 20
	check_err $? "$name: the engine did not carry $((BIG / 8)) bytes before the action"
	nsenter --net="/run/netns/$H" cat /proc/net/toe/connections > "$TMP/conns"
	eval "$action"
	wait "$pid"
}

b0=$(stat handbacks)
midway admin 5110 'echo 0 > /sys/class/toe/$TOE/enabled'
grep -q "^10.74.0.1:[0-9]* 10.74.0.2:5110 $TOE offloaded " "$TMP/conns"
check_err $? "the connection was not listed in /proc/net/toe/connections: $(cat "$TMP/conns")"
check_xfer admin $SMALL $((2 * BIG))
check_err $? "bytes differ after an administrative handback"
[ "$(stat handbacks)" -gt "$b0" ]
check_err $? "no handback counted"
echo 1 > "/sys/class/toe/$TOE/enabled"
log_test "handback on disable in mid-transfer: nothing lost"

# A second link between the namespaces, and our route to the peer moved
# onto it (the peer answers through the first: no reverse path filter
# on either side): Linux TCP would send the next segment through it,
# where the engine cannot, so the connection goes back (reason route).
ip link add vh2 netns "$H" type veth peer name vp2 netns "$P" &&
	ip -n "$H" link set vh2 up && ip -n "$P" link set vp2 up &&
	ip netns exec "$H" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.vh.rp_filter=0 &&
	ip netns exec "$P" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.vp2.rp_filter=0 ||
	fail "cannot add the second link"
r0=$(stat rerouted)
b0=$(stat handbacks)
t0=$SECONDS
midway route 5113 'ip -n $H route add 10.74.0.2/32 dev vh2; t1=$SECONDS'
grep -q ":5113 $TOE offloaded " "$TMP/conns"
check_err $? "the connection was not offloaded before the route moved"
check_xfer route $SMALL $((2 * BIG))
check_err $? "bytes differ after the route moved"
[ "$(stat rerouted)" = $((r0 + 1)) ]
check_err $? "rerouted $(stat rerouted), was $r0; handbacks $(($(stat handbacks) - b0)); route moved after $((t1 - t0)) s of $((SECONDS - t0)) s"
ip -n "$H" route del 10.74.0.2/32
log_test "handback when the route moves to another link in mid-transfer: nothing lost"

b0=$(stat handbacks)
midway down 5111 'ip -n $H link set vh down; sleep 1; ip -n $H link set vh up'
grep -q ":5111 $TOE offloaded " "$TMP/conns"
check_err $? "the connection was not offloaded before the port went down"
check_xfer down $SMALL $((2 * BIG))
check_err $? "bytes differ after a port down/up"
[ "$(stat handbacks)" -gt "$b0" ]
check_err $? "no handback counted on port down"
log_test "handback on port down in mid-transfer: nothing lost"

# Eight connections sending to a peer whose ACKs take a second to come
# back (netem on its side; it keeps its side open, or its FIN would hand
# them back first): each handback drains until the peer acknowledged
# what the engine sent, a second. One by one, the disable would hold
# RTNL for eight of them; in parallel, for one. (A peer that stops
# answering does not show it: toesim hands such a connection back
# itself after three retransmission timeouts.)
N=8
b0=$(stat handbacks)
pids=
for ((i = 0; i < N; i++)); do
	SERVER_OPTS=--late-shutdown RATE=$((256 << 10)) \
		xfer "slow$i" $((5140 + i)) $((TOE_SLOW << 21)) \
		$SMALL --ulp --rate $((256 << 10)) &
	pids="$pids $!"
done
# Sixteen interpreters start at once: seconds each on a debug guest.
t0=$SECONDS
for ((i = 0; i < 300 * TOE_SLOW; i++)); do
	[ "$(cat "/sys/class/toe/$TOE/conns")" = $N ] && break
	sleep 0.1
done
[ "$(cat "/sys/class/toe/$TOE/conns")" = $N ]
check_err $? "$(cat "/sys/class/toe/$TOE/conns") of $N connections offloaded after $((SECONDS - t0)) s"
ip netns exec "$P" tc qdisc add dev vp root netem delay 1000ms limit 100000
sleep 0.3
t0=$(date +%s%N)
echo 0 > "/sys/class/toe/$TOE/enabled"
ms=$((($(date +%s%N) - t0) / 1000000))
ip netns exec "$P" tc qdisc del dev vp root
# One drain is a second (three at most, toesim's cap); eight one by one,
# seven seconds at least.
[ "$ms" -lt 6000 ]
check_err $? "disable took $ms ms"
[ "$(stat handbacks)" = $((b0 + N)) ]
check_err $? "handbacks $(stat handbacks), was $b0"
for p in $pids; do
	wait "$p"
done
for ((i = 0; i < N; i++)); do
	check_xfer "slow$i" $((TOE_SLOW << 21)) $SMALL
	check_err $? "connection $i: bytes differ after the handback"
done
echo 1 > "/sys/class/toe/$TOE/enabled"
log_info "disable with $N slow peers: $ms ms"
log_test "disable with slow peers: all handed back at once, nothing lost"

midway unload 5112 'echo 0 > /sys/bus/toesim/del_device; rmmod toesim'
grep -q ":5112 $TOE offloaded " "$TMP/conns"
check_err $? "the connection was not offloaded before the driver went away"
check_xfer unload $SMALL $((2 * BIG))
check_err $? "bytes differ after unloading the driver"
log_test "handback on driver unload in mid-transfer: nothing lost"

exit "$EXIT_STATUS"
