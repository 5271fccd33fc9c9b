#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The TCP extensions a handshake negotiated and an engine carries. The
# device declares what it carries (/sys/class/toe/<dev>/features); a
# connection that negotiated something else must not be offloaded, since
# the peer would see it change behaviour: TCP_ULP "toe" fails with
# EOPNOTSUPP, feature_refused counts it, and the connection goes on in
# software, every byte intact. ECN, which toesim does not carry, with the
# offloading side asking for it; timestamps, SACK and window scaling with
# toesim playing silicon without each (debugfs tcp_features), and as the
# control the same connection with the extension off at the client,
# offloaded and intact. A device that withdraws an extension hands back
# the connections that use it within a second (reason feature). Last,
# what the socket asked of the IP header and of its frames' metadata
# (IP_TOS and IP_TTL or their IPv6 equivalents, SO_MARK, SO_PRIORITY):
# every segment, in software and offloaded alike, carries it, as counted
# by nft at the peer's input and at the host's output; and a tbf qdisc on
# the port shapes offloaded frames as it shapes Linux TCP's.

source "$(dirname "$0")/lib.sh"

toe_sim_prereq ip python3 nsenter sysctl nft tc

H=toe-feat-h-$$
P=toe-feat-p-$$
TOE_DIAG_NS="$H $P"
DBG=/sys/kernel/debug/toesim/0
TMP=$(mktemp -d)
defer rm -rf "$TMP"

[ -d /sys/kernel/debug/toesim ] || mountpoint -q /sys/kernel/debug ||
	mount -t debugfs none /sys/kernel/debug 2> /dev/null

toe_load toe toesim || fail "cannot load toe, toesim"
defer toe_unload toesim toe

toe_pair "$H" "$P" 10.77.0 2001:db8:77 ||
	fail "cannot create the namespaces and veth pair"
toe_sim_up "$H" vh || fail "cannot create and enable a toesim instance"
[ -w "$DBG/tcp_features" ] || fail "no toesim tcp_features knob under $DBG"

# As include/net/toe.h numbers them.
F_TIMESTAMPS=0x2
F_SACK=0x4
F_WSCALE=0x8
F_KEEPALIVE=0x20
ALL=$((F_TIMESTAMPS | F_SACK | F_WSCALE | F_KEEPALIVE))

stat() {
	toe_dev_stat "$H" "$1"
}

conns() {
	cat "/sys/class/toe/$TOE/conns"
}

hsysctl() {
	ip netns exec "$H" sysctl -qw "$@"
}

# expect NAME ADDR PORT ULP REFUSED [OPTION...]: a 1 MB transfer each way
# asking for the engine (with the client's toe_xfer.py OPTIONs); TCP_ULP
# gives ULP (ok, ENOTSUP), feature_refused grows by REFUSED, and the
# bytes arrive intact either way.
expect() {
	local name=$1 addr=$2 port=$3 want=$4 refused=$5 r0 h0 ulp

	shift 5
	r0=$(stat feature_refused)
	h0=$(stat handovers)
	toe_xfer_start "$name" "$addr" "$port" $((1 << 20)) --ulp "$@"
	toe_xfer_finish "$name" $((1 << 20))
	check_err $? "$addr: $name: the transfer did not arrive intact"
	ulp=$(toe_xfer_ulp "$TMP/$name.c")
	[ "$ulp" = "$want" ]
	check_err $? "$addr: $name: TCP_ULP toe gave $ulp, not $want"
	[ "$(stat feature_refused)" = $((r0 + refused)) ]
	check_err $? "$addr: $name: feature_refused $(stat feature_refused), was $r0"
	[ "$(stat handovers)" = $((h0 + 1 - refused)) ]
	check_err $? "$addr: $name: handovers $(stat handovers), was $h0"
}

features=$(cat "/sys/class/toe/$TOE/features")
[ "$features" = "netfilter timestamps sack wscale keepalive" ]
check_err $? "features: '$features'"
[ "$(cat "$DBG/tcp_features")" = "$(printf '%#x' $ALL)" ]
check_err $? "tcp_features: $(cat "$DBG/tcp_features")"
err=$(toe_write "$DBG/tcp_features" 0x10)
[ "$err" = EINVAL ]
check_err $? "tcp_features 0x10 (ECN, which the engine does not carry): $err"
log_test "the device declares what toesim carries, and no more"

# --- ECN: the peer accepts it (tcp_ecn 2, the default), the host asks -----------

port=5500
for addr in 10.77.0.2 2001:db8:77::2; do
	hsysctl net.ipv4.tcp_ecn=1
	expect "ecn$port" "$addr" $port ENOTSUP 1
	hsysctl net.ipv4.tcp_ecn=0
	expect "noecn$port" "$addr" $((port + 1)) ok 0
	port=$((port + 2))
done
hsysctl net.ipv4.tcp_ecn=2
log_test "ECN negotiated: not offloaded, counted, intact; without: offloaded"

# --- silicon without one of the others --------------------------------------------

for f in timestamps:$F_TIMESTAMPS:tcp_timestamps sack:$F_SACK:tcp_sack \
	 wscale:$F_WSCALE:tcp_window_scaling; do
	IFS=: read -r name bit knob <<< "$f"
	echo $((ALL & ~bit)) > "$DBG/tcp_features"
	for addr in 10.77.0.2 2001:db8:77::2; do
		expect "$name$port" "$addr" $port ENOTSUP 1
		hsysctl "net.ipv4.$knob=0"
		expect "no$name$port" "$addr" $((port + 1)) ok 0
		hsysctl "net.ipv4.$knob=1"
		port=$((port + 2))
	done
	echo $ALL > "$DBG/tcp_features"
	log_test "engine without $name: refused where negotiated, offloaded where not"
done

# --- silicon that sends no keepalive probes ---------------------------------------

echo $((ALL & ~F_KEEPALIVE)) > "$DBG/tcp_features"
for addr in 10.77.0.2 2001:db8:77::2; do
	expect "ka$port" "$addr" $port ENOTSUP 1 --keepalive
	expect "noka$port" "$addr" $((port + 1)) ok 0
	port=$((port + 2))
done
echo $ALL > "$DBG/tcp_features"
for addr in 10.77.0.2 2001:db8:77::2; do
	expect "ka$port" "$addr" $port ok 0 --keepalive
	port=$((port + 1))
done
log_test "engine without keepalive: SO_KEEPALIVE refused; with: offloaded"

# --- withdrawn while offloaded ---------------------------------------------------

for addr in 10.77.0.2 2001:db8:77::2; do
	r0=$(stat feature_refused)
	hb0=$(stat handbacks)
	# 8 s each way at 512 KB/s (times TOE_SLOW): no FIN hands it back
	# before the feature goes, nor within the 3 s the scan has.
	RATE=$((512 << 10)) toe_xfer_start "gone$port" "$addr" $port $((TOE_SLOW << 22)) \
		--ulp --rate $((512 << 10))
	toe_wait_conns 1
	check_err $? "$addr: not offloaded: $(conns)"
	echo $((ALL & ~F_TIMESTAMPS)) > "$DBG/tcp_features"
	toe_wait_conns 0 3
	check_err $? "$addr: still offloaded 3 s after timestamps went: $(conns)"
	echo $ALL > "$DBG/tcp_features"
	toe_xfer_finish "gone$port" $((TOE_SLOW << 22))
	check_err $? "$addr: the transfer did not arrive intact"
	[ "$(toe_xfer_ulp "$TMP/gone$port.c")" = ok ] &&
		[ "$(stat feature_refused)" = $((r0 + 1)) ] &&
		[ "$(stat handbacks)" = $((hb0 + 1)) ]
	check_err $? "$addr: ulp $(toe_xfer_ulp "$TMP/gone$port.c"), feature_refused $(stat feature_refused) (was $r0), handbacks $(stat handbacks) (was $hb0)"
	port=$((port + 1))
done
log_test "a withdrawn feature hands its connections back, counted, intact"

# --- the IP header and metadata the socket asked for -----------------------------

# count NS NAME: bytes nft counter NAME of table inet toe_feat saw in NS
# (frames are GSO frames: few packets, every byte).
count() {
	ip netns exec "$1" nft list counter inet toe_feat "$2" |
		sed -n 's/.*bytes \([0-9]*\).*/\1/p'
}

# packets NAME: the packets nft counter NAME saw at the peer.
packets() {
	ip netns exec "$P" nft list counter inet toe_feat "$1" |
		sed -n 's/.*packets \([0-9]*\).*/\1/p'
}

# tables PORT: counters of the client's segments to PORT, all of them and
# those with what it asked for: at the peer's input (DSCP CS5, TTL or hop
# limit 77, no DF) and at the host's output (mark 0x42, priority 0:5;
# toesim runs the host's hooks on its frames). And at the peer's input,
# IPv4 frames with ID 0 and others (Linux TCP numbers them up from a
# random start: one 0 at most), IPv6 frames with flow label 0 and others
# (automatic labels are on: none 0). The traffic class asked for, CS5
# (0xa0), leaves clear its low bits, next to the flow label.
tables() {
	ip netns exec "$P" nft -f - <<-EOT || return 1
		table inet toe_feat {
			counter segs {}
			counter asked {}
			counter zero_id {}
			counter id {}
			counter zero_label {}
			counter label {}
			chain in {
				type filter hook input priority 0;
				tcp dport $1 counter name segs
				tcp dport $1 ip dscp cs5 ip ttl 77 ip frag-off & 0x4000 == 0 counter name asked
				tcp dport $1 ip6 dscp cs5 ip6 hoplimit 77 counter name asked
				tcp dport $1 ip id 0 counter name zero_id
				tcp dport $1 ip id != 0 counter name id
				tcp dport $1 ip6 flowlabel 0 counter name zero_label
				tcp dport $1 ip6 flowlabel != 0 counter name label
			}
		}
	EOT
	ip netns exec "$H" nft -f - <<-EOT
		table inet toe_feat {
			counter segs {}
			counter asked {}
			chain out {
				type filter hook postrouting priority 0;
				tcp dport $1 counter name segs
				tcp dport $1 meta mark 0x42 meta priority 0:5 counter name asked
			}
		}
	EOT
}

for carrier in software offloaded; do
	for addr in 10.77.0.2 2001:db8:77::2; do
		ulp=
		[ $carrier = offloaded ] && ulp=--ulp
		tables $port || fail "cannot set up nft counters"
		h0=$(stat handovers)
		toe_xfer_start "ip$port" "$addr" $port $((1 << 20)) $ulp --tos 160 --ttl 77 \
			--mark 66 --priority 5 --no-df
		toe_xfer_finish "ip$port" $((1 << 20))
		check_err $? "$addr, $carrier: the transfer did not arrive intact"
		if [ $carrier = offloaded ]; then
			[ "$(toe_xfer_ulp "$TMP/ip$port.c")" = ok ] &&
				[ "$(stat handovers)" = $((h0 + 1)) ]
			check_err $? "$addr: not offloaded: $(toe_xfer_ulp "$TMP/ip$port.c")"
		fi
		zid=$(packets zero_id)
		zlabel=$(packets zero_label)
		nz=$(packets id)
		[ "${addr#*:}" = "$addr" ] || nz=$(packets label)
		log_info "$addr, $carrier: frames with IP ID 0 $zid, flow label 0 $zlabel, others $nz"
		[ "$zid" -le 1 ] && [ "$zlabel" = 0 ] && [ "$nz" -gt 1 ]
		check_err $? "$addr, $carrier: frames with IP ID 0 $zid, flow label 0 $zlabel, others $nz"
		for ns in "$P" "$H"; do
			all=$(count "$ns" segs)
			asked=$(count "$ns" asked)
			[ "$all" -gt $((1 << 20)) ] && [ "$asked" = "$all" ]
			check_err $? "$addr, $carrier: $asked of $all bytes as asked, seen in $ns"
			ip netns exec "$ns" nft delete table inet toe_feat
		done
		port=$((port + 1))
	done
	log_test "$carrier: every segment has the TOS, TTL, DF, mark and priority asked for, IP IDs and flow labels as Linux TCP's"
done

# --- the egress qdisc -----------------------------------------------------------

# sent, dropped: the bytes the root qdisc of our port sent, the packets
# it dropped.
sent() {
	tc -n "$H" -s qdisc show dev vh | sed -n 's/^ *Sent \([0-9]*\) bytes.*/\1/p' | head -n 1
}

dropped() {
	tc -n "$H" -s qdisc show dev vh | sed -n 's/.*(dropped \([0-9]*\),.*/\1/p' | head -n 1
}

# A tbf qdisc on the port shapes an offloaded connection's frames as it
# shapes Linux TCP's (toesim sends through dev_queue_xmit()): 2 MB up at
# 16 Mbit/s take at least a second on either carrier, the qdisc counts
# every byte, and the engine takes not much longer than Linux TCP (what
# the qdisc dropped, it sent again: it has no TCP small queues).
tc -n "$H" qdisc add dev vh root tbf rate 16mbit burst 16kb latency 50ms ||
	fail "cannot add a tbf qdisc"
for carrier in software offloaded; do
	ulp=
	[ $carrier = offloaded ] && ulp=--ulp
	s0=$(sent)
	f0=$(cat "$DBG/tx_frames")
	t0=$(date +%s%N)
	toe_xfer_start "tbf$port" 10.77.0.2 $port $((2 << 20)) $ulp ||
		fail "$carrier: cannot start a transfer"
	toe_xfer_finish "tbf$port" $((2 << 20))
	check_err $? "$carrier: the transfer did not arrive intact"
	took=$((($(date +%s%N) - t0) / 1000000))
	bytes=$(($(sent) - s0))
	if [ $carrier = offloaded ]; then
		# ... and the engine sent them: frames of 64 KB at most.
		frames=$(($(cat "$DBG/tx_frames") - f0))
		[ "$(toe_xfer_ulp "$TMP/tbf$port.c")" = ok ] &&
			[ "$frames" -ge $((2 << 4)) ]
		check_err $? "not offloaded: $(toe_xfer_ulp "$TMP/tbf$port.c"), the engine sent $frames frames"
	else
		sw_took=$took
	fi
	log_info "$carrier: 2 MB through tbf in $took ms, the qdisc sent $bytes bytes, $(dropped) dropped in all"
	[ "$took" -ge 1000 ] && [ "$bytes" -ge $((2 << 20)) ]
	check_err $? "$carrier: 2 MB in $took ms, $bytes bytes through the qdisc"
	port=$((port + 1))
done
[ "$took" -le $((sw_took * 2 + 1000)) ]
check_err $? "offloaded through tbf in $took ms, in software $sw_took ms"
tc -n "$H" qdisc del dev vh root
log_test "tbf on the port shapes offloaded frames as Linux TCP's"

exit "$EXIT_STATUS"
