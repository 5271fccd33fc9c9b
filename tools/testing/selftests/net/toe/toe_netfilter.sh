#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Offloaded connections and the host's security policy: IPsec, and the
# firewall (nf_tables). A connection whose route has an xfrm bundle (ESP
# in transport mode) is not offloaded, one that gains it goes back, and
# both stay intact. toesim runs
# the netfilter hooks on its frames (toe_diff's nft_* cases show rules
# stopping offloaded connections as they stop software ones); here it also
# plays silicon that cannot (debugfs netfilter 0), and the core must then
# refuse to offload a connection whose netns has hooks, hand one back when
# hooks appear, and count both in nf_refused, every byte intact.

source "$(dirname "$0")/lib.sh"

toe_sim_prereq ip python3 nsenter nft tcpdump

H=toe-nf-h-$$
P=toe-nf-p-$$
DBG=/sys/kernel/debug/toesim/0
TMP=$(mktemp -d)
defer rm -rf "$TMP"

[ -d /sys/kernel/debug/toesim ] || mountpoint -q /sys/kernel/debug ||
	mount -t debugfs none /sys/kernel/debug 2> /dev/null

toe_load toe toesim || fail "cannot load toe, toesim"
defer toe_unload toesim

toe_pair "$H" "$P" 10.76.0 2001:db8:76 ||
	fail "cannot create the namespaces and veth pair"
toe_sim_up "$H" vh || fail "cannot create and enable a toesim instance"
[ -w "$DBG/netfilter" ] || fail "no toesim netfilter knob under $DBG"

conns() {
	cat "/sys/class/toe/$TOE/conns"
}

# remote ADDR PORT: the peer as /proc/net/toe/connections prints it.
remote() {
	case $1 in
	*:*) echo "[$1]:$2" ;;
	*) echo "$1:$2" ;;
	esac
}

nfh() {
	ip netns exec "$H" nft "$@"
}

# table_up: an input chain in our netns that accepts and counts.
table_up() {
	nfh add table inet toe_nf &&
		nfh add chain inet toe_nf in '{ type filter hook input priority 0; }' &&
		nfh add rule inet toe_nf in counter accept
}

table_down() {
	nfh delete table inet toe_nf
}

# packets: what the chain's counter saw.
packets() {
	nfh list chain inet toe_nf in | sed -n 's/.*counter packets \([0-9]*\).*/\1/p'
}

# --- silicon without the hooks: refused while a hook is there ------------------

echo 0 > "$DBG/netfilter"
table_up || fail "cannot set up nf_tables in $H"
port=5400
for addr in 10.76.0.2 2001:db8:76::2; do
	r0=$(toe_dev_stat "$H" nf_refused)
	toe_xfer_start "refused$port" "$addr" "$port" $((1 << 20)) --ulp
	toe_xfer_finish "refused$port" $((1 << 20))
	check_err $? "$addr: the transfer did not arrive intact"
	ulp=$(toe_xfer_ulp "$TMP/refused$port.c")
	[ "$ulp" = ENOTSUP ]
	check_err $? "$addr: TCP_ULP toe with a hook in the netns: $ulp, not EOPNOTSUPP"
	[ "$(toe_dev_stat "$H" nf_refused)" = $((r0 + 1)) ]
	check_err $? "$addr: nf_refused $(toe_dev_stat "$H" nf_refused), was $r0"
	port=$((port + 1))
done
[ "$(packets)" -gt 100 ]
check_err $? "the input chain saw $(packets) packets"
log_test "engine without netfilter: a filtered netns is not offloaded, counted, intact"

# --- ... and handed back when one appears ---------------------------------------

table_down
for addr in 10.76.0.2 2001:db8:76::2; do
	r0=$(toe_dev_stat "$H" nf_refused)
	hb0=$(toe_dev_stat "$H" handbacks)
	# Both ways for 8 s (times TOE_SLOW): no FIN hands it back before
	# the hook comes.
	RATE=$((512 << 10)) toe_xfer_start "back$port" "$addr" "$port" $((TOE_SLOW << 22)) --ulp \
		--rate $((512 << 10))
	toe_wait_conns 1
	check_err $? "$addr: not offloaded without a hook: $(conns)"
	toe_wait_carried "$H" "$(remote "$addr" "$port")" $((256 << 10))
	check_err $? "$addr: the engine carried no 256 KB before the hook came"
	table_up
	toe_wait_conns 0
	check_err $? "$addr: still offloaded 5 s after a hook came: $(conns)"
	toe_xfer_finish "back$port" $((TOE_SLOW << 22))
	check_err $? "$addr: the transfer did not arrive intact"
	[ "$(toe_xfer_ulp "$TMP/back$port.c")" = ok ] &&
		[ "$(toe_dev_stat "$H" nf_refused)" = $((r0 + 1)) ] &&
		[ "$(toe_dev_stat "$H" handbacks)" -gt "$hb0" ]
	check_err $? "$addr: ulp $(toe_xfer_ulp "$TMP/back$port.c"), nf_refused $(toe_dev_stat "$H" nf_refused) (was $r0)"
	[ "$(packets)" -gt 100 ]
	check_err $? "$addr: the input chain saw $(packets) packets after the handback"
	table_down
	port=$((port + 1))
done
log_test "engine without netfilter: a hook that appears sends the connection back, intact"

# --- an engine that runs the hooks: offloaded, every segment counted ------------

echo 1 > "$DBG/netfilter"
table_up
rx0=$(cat "$DBG/rx_frames")
toe_xfer_start hooked 10.76.0.2 "$port" $((1 << 20)) --ulp
toe_xfer_finish hooked $((1 << 20))
check_err $? "the transfer did not arrive intact"
[ "$(toe_xfer_ulp "$TMP/hooked.c")" = ok ]
check_err $? "TCP_ULP toe: $(toe_xfer_ulp "$TMP/hooked.c")"
rx=$(($(cat "$DBG/rx_frames") - rx0))
[ "$rx" -gt 10 ] && [ "$(packets)" -ge "$rx" ]
check_err $? "the engine took $rx frames, the input chain counted $(packets)"
table_down
log_test "engine with netfilter: offloaded, the input chain sees every frame it takes"

# --- IPsec: a connection through an xfrm bundle stays in Linux TCP -------------

# ESP in transport mode between the two ends, IPv4 only (one of each is
# enough: the test is on the socket's route).
k=0x$(printf '%064x' 0x70656e746f65)
a=0x$(printf '%064x' 0x746f65)
esp_up() {
	local ns dir

	for ns in "$H" "$P"; do
		for dir in "10.76.0.1 10.76.0.2 0x100" "10.76.0.2 10.76.0.1 0x200"; do
			set -- $dir
			ip -n "$ns" xfrm state add src "$1" dst "$2" proto esp \
				spi "$3" mode transport enc 'cbc(aes)' "$k" \
				auth 'hmac(sha256)' "$a" || return 1
		done
	done
	ip -n "$H" xfrm policy add src 10.76.0.1 dst 10.76.0.2 proto tcp dir out \
		tmpl src 10.76.0.1 dst 10.76.0.2 proto esp mode transport &&
		ip -n "$P" xfrm policy add src 10.76.0.2 dst 10.76.0.1 proto tcp \
		dir out tmpl src 10.76.0.2 dst 10.76.0.1 proto esp mode transport
}

esp_down() {
	local ns

	for ns in "$H" "$P"; do
		ip -n "$ns" xfrm policy flush
		ip -n "$ns" xfrm state flush
	done
}

# esp_seen PCAP: our ESP frames in a capture.
esp_seen() {
	tcpdump -n -r "$1" 2> /dev/null | grep -c 'ESP(spi=0x00000100'
}

esp_up || fail "cannot add the xfrm states and policies"
toe_capture_start "$P" vp "$TMP/esp.pcap" esp
port=$((port + 1))
toe_xfer_start ipsec 10.76.0.2 "$port" $((1 << 20)) --ulp
toe_xfer_finish ipsec $((1 << 20))
check_err $? "the transfer over ESP did not arrive intact"
toe_capture_stop "$TOE_CAPTURE" "$TMP/esp.pcap"
ulp=$(toe_xfer_ulp "$TMP/ipsec.c")
[ "$ulp" = ENOTSUP ]
check_err $? "TCP_ULP toe on a connection through ESP: $ulp, not EOPNOTSUPP"
seen=$(esp_seen "$TMP/esp.pcap")
[ "$seen" -gt 100 ]
check_err $? "$seen ESP frames of ours on the wire"
esp_down
log_test "IPsec transport mode: not offloaded, every segment in ESP, intact"

# --- ... and handed back when a policy comes ------------------------------------

# An xfrm policy added while a connection is offloaded applies to its next
# segment, as in software: the engine, which cannot encrypt, gives it back
# (reason route, counted in rerouted) and Linux TCP sends in ESP.
r0=$(toe_dev_stat "$H" rerouted)
port=$((port + 1))
RATE=$((512 << 10)) toe_xfer_start late 10.76.0.2 "$port" $((TOE_SLOW << 22)) --ulp \
	--rate $((512 << 10))
toe_wait_conns 1
check_err $? "not offloaded before the policy: $(conns)"
toe_wait_carried "$H" "10.76.0.2:$port" $((256 << 10))
check_err $? "the engine carried no 256 KB before the policy came"
toe_capture_start "$P" vp "$TMP/late.pcap" esp
esp_up || fail "cannot add the xfrm states and policies"
toe_wait_conns 0
check_err $? "still offloaded 5 s after an IPsec policy came: $(conns)"
toe_xfer_finish late $((TOE_SLOW << 22))
check_err $? "the transfer did not arrive intact"
toe_capture_stop "$TOE_CAPTURE" "$TMP/late.pcap"
[ "$(toe_xfer_ulp "$TMP/late.c")" = ok ]
check_err $? "TCP_ULP toe: $(toe_xfer_ulp "$TMP/late.c")"
[ "$(toe_dev_stat "$H" rerouted)" = $((r0 + 1)) ]
check_err $? "rerouted $(toe_dev_stat "$H" rerouted), was $r0"
seen=$(esp_seen "$TMP/late.pcap")
[ "$seen" -gt 100 ]
check_err $? "$seen ESP frames of ours on the wire after the policy came"
esp_down
log_test "IPsec policy added while offloaded: handed back, then in ESP, intact"

exit "$EXIT_STATUS"
