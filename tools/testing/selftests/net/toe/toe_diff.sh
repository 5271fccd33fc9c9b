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

# The harness in toe_diff reports the subtests; lib.sh's checks here are
# plain TEST lines.
TOE_KTAP=0
source "$(dirname "$0")/lib.sh"

toe_sim_prereq ip nsenter nft

BIN=${TOE_DIFF_BIN:-$(dirname "$0")/toe_diff}
[ -x "$BIN" ] || skip "$BIN not built"
H=toe-diff-h-$$
P=toe-diff-p-$$
DBG=/sys/kernel/debug/toesim/0

[ -d /sys/kernel/debug/toesim ] || mountpoint -q /sys/kernel/debug ||
	mount -t debugfs none /sys/kernel/debug 2> /dev/null

toe_load toe toesim || fail "cannot load toe, toesim"
defer toe_unload toesim

toe_pair "$H" "$P" 10.74.0 2001:db8:74 ||
	fail "cannot create the namespaces and veth pair"
toe_sim_up "$H" vh || fail "cannot create and enable a toesim instance"
[ -r "$DBG/rx_frames" ] || fail "no toesim counters under $DBG (debugfs)"
{ toe_ping "$H" 10.74.0.2 && toe_ping "$H" 2001:db8:74::2; } ||
	fail "the peer does not answer"

TOE_DIFF_PEER_NS=/run/netns/$P TOE_DIFF_PEER4=10.74.0.2 \
	TOE_DIFF_PEER6=2001:db8:74::2 TOE_DIFF_DEBUGFS=$DBG TOE_DIFF_DEV=vh \
	nsenter --net="/run/netns/$H" "$BIN"
rc=$?
[ "$(cat "/sys/class/toe/$TOE/conns")" = 0 ]
check_err $? "connections left offloaded after the tests"
log_test "no connection left offloaded"
[ "$EXIT_STATUS" = 0 ] || rc=$EXIT_STATUS
exit "$rc"
