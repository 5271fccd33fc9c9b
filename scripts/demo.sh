#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: boot a guest, join two network namespaces with veth, load the
# framework and show what it does today. Runs the guest half of this
# script inside the VM (scripts/demo.sh --guest).

set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)

if [ "${1:-}" != --guest ]; then
	exec "$TOP/scripts/vm.sh" --timeout 600 -- "bash scripts/demo.sh --guest"
fi

# --- inside the guest ---------------------------------------------------------
export TOE_MODDIR=$TOP
# shellcheck source=../tools/testing/selftests/net/toe/lib.sh
source "$TOP/tools/testing/selftests/net/toe/lib.sh"
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; eval "$@"; }

say "Two network namespaces, host and peer, joined by a veth pair"
toe_ns_create host
toe_ns_create peer
run ip link add veth0 netns host type veth peer name veth1 netns peer
run ip -n host addr add 10.0.0.1/24 dev veth0
run ip -n peer addr add 10.0.0.2/24 dev veth1
run ip -n host link set veth0 up
run ip -n peer link set veth1 up

say "Load the TOE core and the test driver"
run toe_load toe toe_test
run "lsmod | grep -E '^toe'"

say "A driver registers a toedev and binds the host's port"
ctl=/sys/kernel/debug/toe_test/ctl
run "nsenter --net=/run/netns/host sh -c 'echo add 0 > $ctl; echo bind 0 veth0 > $ctl'"
run ls /sys/class/toe
run "cat /sys/class/toe/toe0/{driver,ports,state,families,supported}"

say "The administrator enables it (the driver's open() runs)"
run "echo 1 > /sys/class/toe/toe0/enabled"
run cat /sys/class/toe/toe0/state

say "Neighbour resolution reaches the engine (neigh_update)"
run toe_ping host 10.0.0.2
run "grep -E 'neigh' /sys/kernel/debug/toe_test/0/events"
run "ip -n peer link set veth1 address 02:00:00:00:00:02"
run "ip -n host neigh replace 10.0.0.2 lladdr 02:00:00:00:00:02 dev veth0"
run "grep -E 'neigh_ha' /sys/kernel/debug/toe_test/0/events"

say "Link and MTU changes reach the engine (port_change)"
run ip -n host link set veth0 mtu 9000
run "grep -E 'port_mtu|last_mtu' /sys/kernel/debug/toe_test/0/events"

say "/proc/net/toe/devices, as seen from the host namespace"
run "nsenter --net=/run/netns/host cat /proc/net/toe/devices"

say "Unloading the driver with a bound, enabled device is a normal operation"
run toe_unload toe_test
run "ls /sys/class/toe | wc -l"
run toe_ping host 10.0.0.2 && echo "ping ok"

say "Not there yet: offloaded sockets and the toesim engine (see README)"
