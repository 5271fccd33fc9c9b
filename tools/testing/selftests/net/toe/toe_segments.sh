#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Segment by segment, the engine answers as Linux TCP does. The peer's end
# of a connection is scripted with scapy (toe_segments.py): keepalive
# probes, old, out-of-window and bad-checksum data, RSTs and SYNs in and
# out of the window (RFC 5961), ACKs of unsent and of far too old data,
# PAWS, a burst of RSTs (the challenge ACK rate limit). The same script
# runs, over IPv4 and over IPv6, against a connection Linux TCP carries
# and one toesim carries;
# each step must draw the same replies (flags, relative sequence and
# acknowledgement numbers, payload length) from both, and the host's
# application must read the same bytes and see the same reset. A few
# steps are also checked against what Linux TCP is known to answer, so
# that a harness that records nothing cannot pass.

source "$(dirname "$0")/lib.sh"

toe_sim_prereq ip python3 nsenter nft
python3 -c 'import scapy.all' 2> /dev/null || skip "needs python3-scapy"

SEG=$(dirname "$0")/toe_segments.py
H=toe-seg-h-$$
P=toe-seg-p-$$
TOE_DIAG_NS="$H $P"
TMP=$(mktemp -d)
defer rm -rf "$TMP"

toe_load toe toesim || fail "cannot load toe, toesim"
defer toe_unload toesim

toe_pair "$H" "$P" 10.79.0 2001:db8:79 ||
	fail "cannot create the namespaces and veth pair"
toe_sim_up "$H" vh || fail "cannot create and enable a toesim instance"
# The peer's kernel has no socket for the scripted connection: its RSTs
# (to the host's SYN-ACK and every segment after) must not reach the host.
ip netns exec "$P" nft -f - <<-EOF || fail "cannot add the peer's nft table"
	table inet toe_seg {
		chain out {
			type filter hook output priority 0; policy accept;
			tcp flags rst drop
		}
	}
EOF
{ toe_ping "$P" 10.79.0.1 && toe_ping "$P" 2001:db8:79::1; } ||
	fail "no route between the namespaces"

# run CARRIER SPORT: the script against a host socket in software
# (native) or offloaded (toe), over IPv$fam; the peer's replies in
# $TMP/CARRIER$fam.json, the application's result in $TMP/CARRIER$fam.app.
run() {
	local carrier=$1 sport=$2 port=540$fam app off= six= src=10.79.0.2
	local dst=10.79.0.1 rc

	[ "$carrier" = toe ] && off=--offload
	[ $fam = 6 ] && six=--v6 src=2001:db8:79::2 dst=2001:db8:79::1
	rm -f "$TMP/$carrier$fam.status"
	ip netns exec "$H" timeout 120 python3 "$SEG" app $port \
		"$TMP/$carrier$fam.status" $off $six > "$TMP/$carrier$fam.app" 2>&1 &
	app=$!
	toe_wait_listen "$H" $port || return 1
	ip netns exec "$P" timeout 100 python3 "$SEG" peer vp $src \
		$dst $port "$sport" "$TMP/$carrier$fam.status" \
		"$TMP/$carrier$fam.json" > "$TMP/$carrier$fam.peer" 2>&1
	rc=$?
	toe_wait_pid 30 "$app" "$carrier application" && [ "$rc" = 0 ]
}

# field FILE KEY: a step's replies, one per line.
field() {
	python3 -c '
import json, sys
v = json.load(open(sys.argv[1])).get(sys.argv[2])
print("\n".join(v) if isinstance(v, list) else v)' "$1" "$2" 2> /dev/null
}

# expect_status CARRIER STATUS: what the application said.
expect_status() {
	[ "$(field "$TMP/$1$fam.json" status)" = "$2" ]
	check_err $? "$1: the application said '$(field "$TMP/$1$fam.json" status)', want '$2'"
}

# known STEP N: Linux TCP sends N replies to STEP, from its source
# (tcp_validate_incoming(), tcp_ack(), tcp_send_challenge_ack()): a
# check on the harness itself.
known() {
	local step=$1 want=$2 got

	got=$(field "$TMP/native$fam.json" "$step" | grep -c .)
	[ "$got" -eq "$want" ]
	check_err $? "software, $step: $got replies, Linux TCP sends $want"
}

for fam in 4 6; do
	h0=$(toe_dev_stat "$H" handovers)
	run native 4100$fam
	check_err $? "IPv$fam: the software run failed: $(tail -n 3 "$TMP/native$fam.peer")"
	run toe 4101$fam
	check_err $? "IPv$fam: the offloaded run failed: $(tail -n 3 "$TMP/toe$fam.peer")"
	log_test "IPv$fam: the script ran against both carriers"

	expect_status native "ready -"
	expect_status toe "ready ok"
	[ "$(toe_dev_stat "$H" handovers)" -eq $((h0 + 1)) ]
	check_err $? "the offloaded run was not handed over"
	# Every step but the last reset reached the engine, not Linux TCP.
	[ "$(field "$TMP/native$fam.json" carried)" = 0 ] &&
		[ "$(field "$TMP/toe$fam.json" carried)" = 1 ]
	check_err $? "offloaded before the reset: software run $(field "$TMP/native$fam.json" carried), offloaded run $(field "$TMP/toe$fam.json" carried)"
	log_test "IPv$fam: one connection in software, one offloaded"

	known data 1
	known keepalive 1
	known rst_outside 0
	known challenge_burst 1
	known bad_checksum 0
	log_test "IPv$fam: software carrier: the replies Linux TCP is known to send"

	for step in data keepalive keepalive_byte old_data beyond_window \
		ack_beyond_window rst_in_window rst_outside syn ack_unsent \
		ack_too_old paws bad_checksum data_after challenge_burst rst_exact; do
		native=$(field "$TMP/native$fam.json" "$step" | tr '\n' ',')
		toe=$(field "$TMP/toe$fam.json" "$step" | tr '\n' ',')
		[ "$native" = "$toe" ]
		check_err $? "software: '${native%,}', offloaded: '${toe%,}'"
		log_test "IPv$fam: $step: the same replies on both carriers (${native%,})"
	done

	# The application read the same bytes, then the reset.
	a_native=$(tail -n 1 "$TMP/native$fam.app" | sed 's/"ulp": "[^"]*", //')
	a_toe=$(tail -n 1 "$TMP/toe$fam.app" | sed 's/"ulp": "[^"]*", //')
	[ "$a_native" = "$a_toe" ]
	check_err $? "software: $a_native, offloaded: $a_toe"
	case $a_native in
	*'"received": 300,'*'"end": "ECONNRESET"'*) ;;
	*) check_err 1 "software: $a_native, want 300 bytes, then ECONNRESET" ;;
	esac
	log_test "IPv$fam: the application read the same 300 bytes and the reset"
done

exit "$EXIT_STATUS"
