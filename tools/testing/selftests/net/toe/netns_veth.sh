#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Two network namespaces joined by a veth pair, IPv4 and IPv6: ping both
# ways, then move a few MB over TCP in each family and compare the SHA-256
# of what was sent and what arrived. The baseline every offload test
# builds on; runs with the TOE core and toesim loaded when they exist.

source "$(dirname "$0")/lib.sh"

size_mb=${TOE_XFER_MB:-4}
port=7100

require_root
require_cmd ip ss socat sha256sum timeout

# The TOE modules, if present, are loaded so their hooks see real traffic.
for m in toe toesim; do
	toe_mod_available "$m" || continue
	toe_mod_loaded "$m" || toe_mod_builtin "$m" || defer toe_unload "$m"
	toe_load "$m" || fail "cannot load $m"
	log_info "$m loaded"
done

modprobe -q veth 2>/dev/null
ns1=toe-$$-a
ns2=toe-$$-b
toe_ns_create "$ns1" || skip "cannot create network namespaces"
toe_ns_create "$ns2" || skip "cannot create network namespaces"
ip link add veth0 netns "$ns1" type veth peer name veth1 netns "$ns2" ||
	skip "cannot create a veth pair"

ip -n "$ns1" addr add 10.71.0.1/24 dev veth0
ip -n "$ns2" addr add 10.71.0.2/24 dev veth1
ip -n "$ns1" addr add fd00:71::1/64 dev veth0 nodad
ip -n "$ns2" addr add fd00:71::2/64 dev veth1 nodad
ip -n "$ns1" link set veth0 up
ip -n "$ns2" link set veth1 up

toe_ping "$ns1" 10.71.0.2
check_err $? "$ns1 -> 10.71.0.2"
toe_ping "$ns2" 10.71.0.1
check_err $? "$ns2 -> 10.71.0.1"
log_test "IPv4 ping both ways"

toe_ping "$ns1" fd00:71::2
check_err $? "$ns1 -> fd00:71::2"
toe_ping "$ns2" fd00:71::1
check_err $? "$ns2 -> fd00:71::1"
log_test "IPv6 ping both ways"

tmp=$(mktemp -d) || fail "mktemp"
defer rm -rf "$tmp"
head -c "${size_mb}M" /dev/urandom > "$tmp/sent" || fail "cannot make the payload"
sent=$(sha256sum < "$tmp/sent")

# xfer FAMILY LISTEN CONNECT: send the payload ns1 -> ns2 over TCP.
xfer() {
	local family=$1 listen=$2 connect=$3 srv rc got

	rm -f "$tmp/received"
	timeout 60 ip netns exec "$ns2" \
		socat -u "$listen" "OPEN:$tmp/received,creat,trunc" &
	srv=$!
	if ! toe_wait_listen "$ns2" "$port"; then
		kill "$srv" 2>/dev/null
		wait "$srv" 2>/dev/null
		check_err 1 "no $family listener on port $port"
		return
	fi
	timeout 60 ip netns exec "$ns1" socat -u "OPEN:$tmp/sent" "$connect"
	rc=$?
	check_err $rc "$family: sender failed ($rc)"
	wait "$srv"
	rc=$?
	check_err $rc "$family: receiver failed ($rc)"
	got=$(sha256sum < "$tmp/received")
	[ "$got" = "$sent" ]
	check_err $? "$family: received data differs ($(stat -c %s "$tmp/received") bytes)"
	port=$((port + 1))
}

xfer IPv4 "TCP4-LISTEN:$port,bind=10.71.0.2,reuseaddr" "TCP4:10.71.0.2:$port"
log_test "IPv4 TCP transfer of $size_mb MB, SHA-256 matches"

xfer IPv6 "TCP6-LISTEN:$port,bind=[fd00:71::2],reuseaddr" "TCP6:[fd00:71::2]:$port"
log_test "IPv6 TCP transfer of $size_mb MB, SHA-256 matches"

exit $EXIT_STATUS
