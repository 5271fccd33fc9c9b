#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The differential test: toe_diff runs each scripted sequence of socket
# calls on a software and on an offloaded connection (IPv4 and IPv6) to an
# unmodified Linux peer and expects the same results from both. This
# script gives it the two namespaces joined by veth and a toesim instance
# on our side; toe_diff runs in our namespace (nsenter: ip netns exec
# would hide debugfs under a new /sys) and reaches the peer's.
#
# TOE_DIFF_BIN overrides where the toe_diff binary is.

source "$(dirname "$0")/lib.sh"

require_root
require_cmd ip nsenter
toe_mod_available toe || skip "module toe not found"
toe_mod_available toesim || skip "module toesim not found"

BIN=${TOE_DIFF_BIN:-$(dirname "$0")/toe_diff}
[ -x "$BIN" ] || skip "$BIN not built"
H=toe-diff-h-$$
P=toe-diff-p-$$
DBG=/sys/kernel/debug/toesim/0

[ -d /sys/kernel/debug/toesim ] || mountpoint -q /sys/kernel/debug ||
	mount -t debugfs none /sys/kernel/debug 2> /dev/null

toe_load toe toesim || fail "cannot load toe, toesim"
defer toe_unload toesim

toe_ns_create "$H"
toe_ns_create "$P"
ip link add vh netns "$H" type veth peer name vp netns "$P" ||
	fail "cannot create the veth pair"
ip -n "$H" addr add 10.74.0.1/24 dev vh
ip -n "$P" addr add 10.74.0.2/24 dev vp
ip -n "$H" addr add 2001:db8:74::1/64 dev vh nodad
ip -n "$P" addr add 2001:db8:74::2/64 dev vp nodad
ip -n "$H" link set vh up
ip -n "$P" link set vp up

nsenter --net="/run/netns/$H" sh -c "echo '0 vh' > /sys/bus/toesim/new_device" ||
	fail "cannot create a toesim instance"
defer 'echo 0 > /sys/bus/toesim/del_device'
TOE=$(ls /sys/class/toe)
echo 1 > "/sys/class/toe/$TOE/enabled" || fail "cannot enable $TOE"
[ -r "$DBG/rx_frames" ] || fail "no toesim counters under $DBG (debugfs)"
{ toe_ping "$H" 10.74.0.2 && toe_ping "$H" 2001:db8:74::2; } ||
	fail "the peer does not answer"

TOE_DIFF_PEER_NS=/run/netns/$P TOE_DIFF_PEER4=10.74.0.2 \
	TOE_DIFF_PEER6=2001:db8:74::2 TOE_DIFF_DEBUGFS=$DBG \
	nsenter --net="/run/netns/$H" "$BIN"
rc=$?
[ "$(cat "/sys/class/toe/$TOE/conns")" = 0 ]
check_err $? "connections left offloaded after the tests"
log_test "no connection left offloaded"
[ "$EXIT_STATUS" = 0 ] || rc=$EXIT_STATUS
exit "$rc"
