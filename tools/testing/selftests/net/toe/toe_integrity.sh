#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Integrity across transitions: TOE_INTEGRITY_MB (default 512) each way
# between toesim and a Linux peer, IPv4 then IPv6, while the connection is
# handed back at random moments (toesim's force_handback and fail_device)
# and the policy offloads it again each time, bytes queued and in flight
# included, under conntrack rules that drop what it finds INVALID; then a
# quarter of that at MTU 9000, offloaded throughout. Both directions are
# compared by SHA-256; the device's counters show that the transitions
# happened and that the engine carried the data (at MTU 9000, the one
# handback's toe:toe_handback event: every byte sent went through the
# engine), conntrack's that it tracked the connections and found none of
# their segments invalid.

source "$(dirname "$0")/lib.sh"

toe_sim_prereq ip python3 nsenter nft sysctl

XFER=$(dirname "$0")/toe_xfer.py
H=toe-int-h-$$
P=toe-int-p-$$
TOE_DIAG_NS="$H $P"
TMP=$(mktemp -d)
defer rm -rf "$TMP"
DBG=/sys/kernel/debug/toesim/0
BYTES=$((${TOE_INTEGRITY_MB:-512} * 1024 * 1024))
JUMBO=$((BYTES / 4))

toe_load toe toesim || fail "cannot load toe, toesim"
defer toe_unload toesim

TRACEFS=/sys/kernel/tracing
[ -d "$TRACEFS/instances" ] || TRACEFS=/sys/kernel/debug/tracing
INST=$TRACEFS/instances/toe-int-$$
mkdir "$INST" || fail "cannot create a tracefs instance"
defer "rmdir $INST"
defer "echo 0 > $INST/events/toe/toe_handback/enable"
echo 1 > "$INST/events/toe/toe_handback/enable" || fail "no toe:toe_handback event"

toe_pair "$H" "$P" 10.76.0 2001:db8:76 ||
	fail "cannot create the namespaces and veth pair"
toe_sim_up "$H" vh || fail "cannot create and enable a toesim instance"
[ -w "$DBG/force_handback" ] || skip "no toesim debugfs (mount debugfs)"
echo 1 > "/sys/class/toe/$TOE/auto_offload" || fail "cannot turn auto_offload on"
echo $((1024 * 1024)) > "/sys/class/toe/$TOE/min_bytes"

stat() {
	toe_dev_stat "$H" "$1"
}

# conntrack follows the connections through every transition: with
# nf_conntrack_tcp_be_liberal 0 it marks INVALID a segment outside the
# window it tracked, and this table drops those both ways, counted, as
# an administrator's "ct state invalid drop" does (toesim runs the
# host's hooks on its frames). None may be, whoever carries them.
ip netns exec "$H" nft -f - <<EOT || fail "cannot set up the conntrack rules"
table inet toe_int {
	counter invalid {}
	counter tracked {}
	chain in {
		type filter hook input priority 0;
		ct state invalid counter name invalid drop
		ct state established counter name tracked
	}
	chain out {
		type filter hook output priority 0;
		ct state invalid counter name invalid drop
		ct state established counter name tracked
	}
}
EOT
ip netns exec "$H" sysctl -qw net.netfilter.nf_conntrack_tcp_be_liberal=0 ||
	fail "no conntrack sysctls"
echo 1 > "$DBG/netfilter" || fail "cannot have toesim run the hooks"

# ct_packets NAME: what counter NAME of the table saw.
ct_packets() {
	ip netns exec "$H" nft list counter inet toe_int "$1" |
		sed -n 's/.*packets \([0-9]*\).*/\1/p'
}

# chaos PID: until PID ends, hand every connection back at random moments
# (0.2 to 1.2 s apart), once it is offloaded: as the administrator does
# (the engine drains first) or as a device error does (no drain: bytes in
# flight go back to Linux TCP). Prints how many it forced.
chaos() {
	local pid=$1 n=0 knob

	while kill -0 "$pid" 2> /dev/null; do
		sleep "$((RANDOM % 11 + 2))e-1"
		[ "$(cat "/sys/class/toe/$TOE/conns")" -gt 0 ] || continue
		((RANDOM % 2)) && knob=force_handback || knob=fail_device
		echo 1 > "$DBG/$knob" && n=$((n + 1))
	done
	echo "$n"
}

for fam in 4 6; do
	[ $fam = 4 ] && addr=10.76.0.2 || addr=2001:db8:76::2
	[ $fam = 4 ] && six= || six=--v6
	port=520$fam
	h0=$(stat handbacks)
	a0=$(stat auto_offloads)
	i0=$(ct_packets invalid)
	t0=$(ct_packets tracked)

	timeout 900 ip netns exec "$P" python3 "$XFER" server "$port" $six \
		--send "$BYTES" > "$TMP/$fam.s" 2>&1 &
	server=$!
	toe_wait_listen "$P" "$port" || fail "IPv$fam: no listener"
	ip netns exec "$H" python3 "$XFER" client "$addr" "$port" \
		--send "$BYTES" --late-shutdown > "$TMP/$fam.c" 2>&1 &
	client=$!
	chaos "$client" > "$TMP/$fam.chaos" &
	chaos_pid=$!
	toe_wait_pid "${TOE_INTEGRITY_WAIT:-800}" "$client" "IPv$fam transfer"
	check_err $? "IPv$fam: the client did not finish"
	wait "$server"
	check_err $? "IPv$fam: the server failed"
	wait "$chaos_pid"

	toe_xfer_ok "$TMP/$fam.c" "$TMP/$fam.s" "$BYTES" "$BYTES"
	check_err $? "IPv$fam: bytes differ"
	forced=$(cat "$TMP/$fam.chaos")
	handbacks=$(($(stat handbacks) - h0))
	reoffloads=$(($(stat auto_offloads) - a0))
	log_info "IPv$fam: $forced forced handbacks, $handbacks handbacks, $reoffloads automatic offloads"
	[ "$forced" -ge 3 ] && [ "$handbacks" -ge 3 ]
	check_err $? "IPv$fam: fewer than 3 handbacks during the transfer"
	# The first offload and one after each forced handback but the last
	# few, which may fall too close to the end of the transfer.
	[ "$reoffloads" -ge 3 ]
	check_err $? "IPv$fam: the connection was not offloaded again after handbacks"
	invalid=$(($(ct_packets invalid) - i0))
	tracked=$(($(ct_packets tracked) - t0))
	log_info "IPv$fam: conntrack: $tracked segments tracked, $invalid invalid"
	[ "$invalid" = 0 ] && [ "$tracked" -ge $((2 * BYTES >> 16)) ]
	check_err $? "IPv$fam: conntrack saw $invalid invalid segments, $tracked tracked"
	log_test "IPv$fam: $((BYTES >> 20)) MB each way across random handbacks and re-offloads, conntrack coherent, SHA-256 intact"
done

# Jumbo frames: JUMBO bytes each way at MTU 9000, offloaded from the
# first byte to the last (the peer keeps its side open and the client
# waits for every byte to be acknowledged before its FIN hands the
# connection back), the engine's frame counters moving with it.
ip -n "$H" link set vh mtu 9000 && ip -n "$P" link set vp mtu 9000 ||
	fail "cannot set MTU 9000"
for fam in 4 6; do
	[ $fam = 4 ] && addr=10.76.0.2 || addr=2001:db8:76::2
	[ $fam = 4 ] && six= || six=--v6
	port=521$fam
	tx0=$(cat "$DBG/tx_frames")
	rx0=$(cat "$DBG/rx_frames")

	timeout 900 ip netns exec "$P" python3 "$XFER" server "$port" $six \
		--send "$JUMBO" --late-shutdown > "$TMP/j$fam.s" 2>&1 &
	server=$!
	toe_wait_listen "$P" "$port" || fail "IPv$fam: no listener"
	ip netns exec "$H" python3 "$XFER" client "$addr" "$port" \
		--send "$JUMBO" --ulp --drain > "$TMP/j$fam.c" 2>&1 &
	client=$!
	toe_wait_pid "${TOE_INTEGRITY_WAIT:-800}" "$client" "IPv$fam transfer"
	check_err $? "IPv$fam, MTU 9000: the client did not finish"
	wait "$server"
	check_err $? "IPv$fam, MTU 9000: the server failed"

	[ "$(toe_xfer_ulp "$TMP/j$fam.c")" = ok ]
	check_err $? "IPv$fam, MTU 9000: TCP_ULP toe: $(toe_xfer_ulp "$TMP/j$fam.c")"
	toe_xfer_ok "$TMP/j$fam.c" "$TMP/j$fam.s" "$JUMBO" "$JUMBO"
	check_err $? "IPv$fam, MTU 9000: bytes differ"
	# At most 64 KB a frame either way.
	[ $(($(cat "$DBG/tx_frames") - tx0)) -ge $((JUMBO >> 16)) ] &&
		[ $(($(cat "$DBG/rx_frames") - rx0)) -ge $((JUMBO >> 16)) ]
	check_err $? "IPv$fam, MTU 9000: the engine did not carry the data"
	# Handed over at connect, back once, at the client's FIN: every byte
	# it sent went through the engine.
	[ $fam = 4 ] && dst=$addr:$port || dst=[$addr]:$port
	grep -F " dst=$dst " "$INST/trace" | grep " toe_handback: " > "$TMP/j$fam.hb"
	tx=$(sed -n 's/.* tx_bytes=\([0-9]*\) .*/\1/p' "$TMP/j$fam.hb")
	rx=$(sed -n 's/.* rx_bytes=\([0-9]*\) .*/\1/p' "$TMP/j$fam.hb")
	[ "$(grep -c . "$TMP/j$fam.hb")" = 1 ] && [ "$tx" = "$JUMBO" ] &&
		[ "$rx" -gt 0 ]
	check_err $? "IPv$fam, MTU 9000: not offloaded throughout: $(cat "$TMP/j$fam.hb")"
	log_test "IPv$fam, MTU 9000: $((JUMBO >> 20)) MB each way offloaded, SHA-256 intact"
done

exit "$EXIT_STATUS"
