#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Path MTU discovery stays Linux's. An offloaded connection crosses a
# router; midway, the router's next link shrinks to 1280 bytes. The
# router answers the engine's full-size segments with ICMP "fragmentation
# needed" (IPv4) or "packet too big" (IPv6), Linux TCP lowers the socket's
# MSS, and the engine must take the new MSS at its next retransmission
# timeout (mss_drops counts it) and finish the transfer, still offloaded,
# every byte intact. Without that the path is a black hole.

source "$(dirname "$0")/lib.sh"

toe_sim_prereq ip python3 nsenter

XFER=$(dirname "$0")/toe_xfer.py
H=toe-mtu-h-$$
R=toe-mtu-r-$$
P=toe-mtu-p-$$
TOE_DIAG_NS="$H $R $P"
DBG=/sys/kernel/debug/toesim/0
MB=$((1024 * 1024))
TMP=$(mktemp -d)
defer rm -rf "$TMP"

toe_load toe toesim || fail "cannot load toe, toesim"
defer toe_unload toesim

# H -- vh/vr1 -- R -- vr2/vp -- P
for ns in "$H" "$R" "$P"; do
	toe_ns_create "$ns"
done
ip link add vh netns "$H" type veth peer name vr1 netns "$R" &&
	ip link add vr2 netns "$R" type veth peer name vp netns "$P" ||
	fail "cannot create the veth pairs"
ip -n "$H" addr add 10.78.1.1/24 dev vh
ip -n "$R" addr add 10.78.1.2/24 dev vr1
ip -n "$R" addr add 10.78.2.2/24 dev vr2
ip -n "$P" addr add 10.78.2.1/24 dev vp
ip -n "$H" addr add 2001:db8:78:1::1/64 dev vh nodad
ip -n "$R" addr add 2001:db8:78:1::2/64 dev vr1 nodad
ip -n "$R" addr add 2001:db8:78:2::2/64 dev vr2 nodad
ip -n "$P" addr add 2001:db8:78:2::1/64 dev vp nodad
ip -n "$H" link set vh up
ip -n "$R" link set vr1 up
ip -n "$R" link set vr2 up
ip -n "$P" link set vp up
ip -n "$H" route add default via 10.78.1.2
ip -n "$H" -6 route add default via 2001:db8:78:1::2
ip -n "$P" route add default via 10.78.2.2
ip -n "$P" -6 route add default via 2001:db8:78:2::2
ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
# Neighbour discovery on two links, and IPv6 link-local addresses still
# tentative: give the first pings a few tries.
for ((i = 0; i < 5; i++)); do
	toe_ping "$H" 10.78.2.1 && toe_ping "$H" 2001:db8:78:2::1 && break
done
[ $i -lt 5 ] || fail "no route through the router"

toe_sim_up "$H" vh || fail "cannot create and enable a toesim instance"

offloaded() {
	nsenter --net="/run/netns/$H" grep -q ":$1 $TOE offloaded " \
		/proc/net/toe/connections
}

# set_mtu MTU: the router's link to the peer, both ends.
set_mtu() {
	ip -n "$R" link set vr2 mtu "$1" && ip -n "$P" link set vp mtu "$1"
}

for fam in 4 6; do
	if [ $fam = 4 ]; then addr=10.78.2.1; six=; else addr=2001:db8:78:2::1; six=--v6; fi
	port=530$fam
	set_mtu 1500 || fail "cannot reset the MTU"
	m0=$(cat "$DBG/mss_drops")

	# 24 MB up and 4 MB down at 1 MB/s; the peer holds its FIN (which
	# ends the offload) until our data is in, and ours comes after 24 s:
	# the MTU drops once 512 KB have passed, and the checks below come
	# before the end on a slow guest too (12 s was not enough for the
	# debug kernel under load).
	timeout 300 ip netns exec "$P" python3 "$XFER" server "$port" $six \
		--send $((4 * MB)) --rate "$MB" --late-shutdown > "$TMP/v$fam.s" 2>&1 &
	server=$!
	toe_wait_listen "$P" "$port" || fail "IPv$fam: the server did not start"
	timeout 120 ip netns exec "$H" python3 "$XFER" client "$addr" "$port" \
		$six --send $((24 * MB)) --rate "$MB" --ulp \
		> "$TMP/v$fam.c" 2>&1 &
	client=$!
	# The MTU drops once the engine carries the connection's data.
	if ! toe_wait_carried "$H" ":$port" $((MB / 2)); then
		toe_diag "$H" >&"$TOE_STDOUT"
		check_err 1 "IPv$fam: the engine did not carry 512 KB of the connection"
	fi
	set_mtu 1280
	check_err $? "IPv$fam: cannot lower the MTU"

	# The engine takes the lower MSS at its next timeout, still offloaded.
	for ((i = 0; i < 100; i++)); do
		[ "$(cat "$DBG/mss_drops")" -gt "$m0" ] && break
		sleep 0.1
	done
	[ "$(cat "$DBG/mss_drops")" -gt "$m0" ]
	check_err $? "IPv$fam: the engine did not take the lower MSS"
	if ! offloaded "$port"; then
		toe_diag "$H" >&"$TOE_STDOUT"
		check_err 1 "IPv$fam: the connection left the engine instead"
	fi

	wait "$client" && wait "$server"
	check_err $? "IPv$fam: the transfer did not finish (black hole?)"
	toe_xfer_ok "$TMP/v$fam.c" "$TMP/v$fam.s" $((24 * MB)) $((4 * MB))
	check_err $? "IPv$fam: bytes differ"
	log_test "IPv$fam: the path MTU drops to 1280 midway, the engine follows"
done

exit "$EXIT_STATUS"
