#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The TOE core's registry, activation, notifications and stack events,
# driven through toe_test (a driver without an engine that records what
# the core delivers to it). Every check reads an outcome back: the
# driver's counters, /proc/net/toe/devices, sysfs, errno values, frames
# captured on the wire.

source "$(dirname "$0")/lib.sh"

require_root
require_cmd ip python3 nsenter tcpdump
toe_mod_available toe || skip "module toe not found"
toe_mod_available toe_test || skip "module toe_test not found"

DBG=/sys/kernel/debug/toe_test
NSA=toe-core-a-$$
NSB=toe-core-b-$$
NSC=toe-core-c-$$

toe_load toe toe_test || fail "cannot load toe, toe_test"
defer toe_unload toe_test

# ttctl NS CMD: run a toe_test command from netns NS; prints OK or the
# errno name. nsenter keeps the debugfs mount that ip netns exec hides.
ttctl() {
	nsenter --net="/run/netns/$1" python3 -c "$TOE_WRITE_PY" "$DBG/ctl" "$2"
}

# ev ID KEY: a value from toe_test's record of device ID.
ev() {
	awk -v k="$2" '$1 == k { print $2 }' "$DBG/$1/events"
}

# expect WHAT GOT WANT: record a failure unless GOT equals WANT.
expect() {
	[ "$2" = "$3" ]
	check_err $? "$1: got '$2', want '$3'"
}

sysfs_write() {
	toe_write "$@"
}

# tt_devices: the toedevs toe_test registered (others may exist beside).
tt_devices() {
	local d

	for d in /sys/class/toe/*; do
		[ "$(cat "$d/driver" 2> /dev/null)" = toe_test ] && echo "${d##*/}"
	done
	return 0
}

[ -w "$DBG/ctl" ] || skip "debugfs not mounted or toe_test has no control file"

toe_ns_create "$NSA"
toe_ns_create "$NSB"
toe_ns_create "$NSC"
ip link add va netns "$NSA" type veth peer name vb netns "$NSB" ||
	fail "cannot create veth pair"
ip link add wa netns "$NSA" type veth peer name wb netns "$NSB" ||
	fail "cannot create second veth pair"
for ns in "$NSA" "$NSB"; do
	ip -n "$ns" link set dev "$([ "$ns" = "$NSA" ] && echo va || echo vb)" up
	ip -n "$ns" link set dev "$([ "$ns" = "$NSA" ] && echo wa || echo wb)" up
done
ip -n "$NSA" addr add 10.71.0.1/24 dev va
ip -n "$NSB" addr add 10.71.0.2/24 dev vb
ip -n "$NSA" addr add 2001:db8:71::1/64 dev va nodad
ip -n "$NSB" addr add 2001:db8:71::2/64 dev vb nodad
ip -n "$NSA" addr add 10.72.0.1/24 dev wa
ip -n "$NSB" addr add 10.72.0.2/24 dev wb

# --- registration, binding and bad calls ------------------------------------

expect "add device 0" "$(ttctl "$NSA" "add 0")" OK
expect "add device 1" "$(ttctl "$NSA" "add 1")" OK
name0=$(ev 0 name)
name1=$(ev 1 name)
[ -n "$name0" ] && [ "$name0" != "$name1" ] && [ -d "/sys/class/toe/$name0" ]
check_err $? "devices not named uniquely or missing from /sys/class/toe"
expect "bind va to device 0" "$(ttctl "$NSA" "bind 0 va")" OK
expect "bind wa to device 1" "$(ttctl "$NSA" "bind 1 wa")" OK
expect "ports of device 0" "$(cat "/sys/class/toe/$name0/ports")" va
expect "driver of device 0" "$(cat "/sys/class/toe/$name0/driver")" toe_test
log_test "register two devices and bind one port each"

expect "second registration" "$(ttctl "$NSA" "reregister 0")" EINVAL
expect "bind a port bound elsewhere" "$(ttctl "$NSA" "bind 1 va")" EBUSY
expect "bind a port twice" "$(ttctl "$NSA" "bind 0 va")" EBUSY
expect "unbind a port not bound" "$(ttctl "$NSA" "unbind 0 wa")" ENOENT
expect "bind a missing device" "$(ttctl "$NSA" "bind 0 nosuchdev")" ENODEV
expect "bind loopback (not Ethernet)" "$(ttctl "$NSA" "bind 0 lo")" EINVAL
expect "register without open()" "$(ttctl "$NSA" nullops)" OK
refused=$(dmesg | grep -c "unregister of a device that is not registered")
expect "unregister an unknown device" "$(ttctl "$NSA" unreg_unknown)" OK
expect "unregister an unknown device: refused in the log" \
	"$(dmesg | grep -c "unregister of a device that is not registered")" $((refused + 1))
expect "malformed command" "$(ttctl "$NSA" "add 99")" EINVAL
log_test "bad calls fail cleanly with the documented errno"

expect "enabled: bad value" "$(sysfs_write "/sys/class/toe/$name0/enabled" 2)" EINVAL
expect "families: bad value" "$(sysfs_write "/sys/class/toe/$name0/families" ipx)" EINVAL
expect "families: too long" "$(sysfs_write "/sys/class/toe/$name0/families" \
	"ipv4 ipv4 ipv4 ipv4 ipv4 ipv4 ipv4 ipv4")" EINVAL
expect "families: ipv6 only" "$(sysfs_write "/sys/class/toe/$name0/families" ipv6)" OK
expect "families read back" "$(cat "/sys/class/toe/$name0/families")" ipv6
expect "families: both" "$(sysfs_write "/sys/class/toe/$name0/families" "ipv4 ipv6")" OK
expect "families read back" "$(cat "/sys/class/toe/$name0/families")" "ipv4 ipv6"
log_test "sysfs rejects bad values and takes good ones"

# --- activation and the notifier chain ---------------------------------------

up0=$(awk '$1 == "up" { print $2 }' "$DBG/notifier")
expect "enable" "$(sysfs_write "/sys/class/toe/$name0/enabled" 1)" OK
expect "enable again" "$(sysfs_write "/sys/class/toe/$name0/enabled" 1)" OK
expect "open() calls" "$(ev 0 opens)" 1
expect "state" "$(cat "/sys/class/toe/$name0/state")" up
expect "TOEDEV_UP notified" "$(awk '$1 == "up" { print $2 }' "$DBG/notifier")" $((up0 + 1))
expect "disable" "$(sysfs_write "/sys/class/toe/$name0/enabled" 0)" OK
expect "close() calls" "$(ev 0 closes)" 1
expect "state" "$(cat "/sys/class/toe/$name0/state")" down
log_test "enable and disable call open() and close() once each, notify up/down"

# --- /proc/net/toe/devices is per netns --------------------------------------

nsenter --net="/run/netns/$NSA" grep -q "^$name0 toe_test va down" /proc/net/toe/devices
check_err $? "device 0 missing from /proc/net/toe/devices in its port's netns"
nsenter --net="/run/netns/$NSC" grep -q "^$name0 " /proc/net/toe/devices
check_fail $? "device 0 visible in a netns without its ports"
log_test "/proc/net/toe/devices shows a device only where its ports are"

# --- neighbour updates reach neigh_update() of the right device -------------

n0=$(ev 0 neigh_updates)
n1=$(ev 1 neigh_updates)
toe_ping "$NSA" 10.71.0.2 || check_err 1 "ping over va failed"
macb=$(ip -n "$NSB" -br link show vb | awk '{ print $3 }')
[ "$(ev 0 neigh_updates)" -gt "$n0" ]
check_err $? "resolving a neighbour on va did not reach device 0"
expect "neighbour address" "$(ev 0 last_neigh_addr)" 10.71.0.2
expect "neighbour link address" "$(ev 0 last_neigh_ha)" "$macb"
expect "neighbour device" "$(ev 0 last_neigh_dev)" va
expect "device 1 saw nothing" "$(ev 1 neigh_updates)" "$n1"
log_test "neighbour resolution reaches neigh_update() of the bound device only"

ip -n "$NSB" link set dev vb address 02:00:00:71:00:02
ip -n "$NSA" neigh replace 10.71.0.2 lladdr 02:00:00:71:00:02 dev va nud reachable
expect "new link address" "$(ev 0 last_neigh_ha)" 02:00:00:71:00:02
toe_ping "$NSA" 10.71.0.2 || check_err 1 "ping after the MAC change failed"
ip -n "$NSA" neigh del 10.71.0.2 dev va
expect "NUD state after delete (NUD_FAILED)" "$(ev 0 last_neigh_nud)" 0x20
expect "device 1 saw nothing" "$(ev 1 neigh_updates)" "$n1"
log_test "peer MAC change and neighbour deletion reach neigh_update()"

toe_ping "$NSA" 2001:db8:71::2 || check_err 1 "ping over IPv6 failed"
expect "IPv6 neighbour address" "$(ev 0 last_neigh_addr)" 2001:db8:71::2
n1=$(ev 1 neigh_updates)
toe_ping "$NSA" 10.72.0.2 || check_err 1 "ping over wa failed"
[ "$(ev 1 neigh_updates)" -gt "$n1" ]
check_err $? "resolving a neighbour on wa did not reach device 1"
expect "device 1 neighbour" "$(ev 1 last_neigh_addr)" 10.72.0.2
log_test "IPv6 neighbours, and each of two devices sees only its own port"

# --- link, MTU, address and netns changes ------------------------------------

ip -n "$NSA" link set dev va down
expect "port_down" "$(ev 0 port_down)" 1
ip -n "$NSA" link set dev va up
expect "port_up" "$(ev 0 port_up)" 1
ip -n "$NSA" link set dev va mtu 9000
expect "port_mtu" "$(ev 0 port_mtu)" 1
expect "MTU seen by the driver" "$(ev 0 last_mtu)" 9000
ip -n "$NSA" link set dev va address 02:00:00:71:00:01
expect "port_addr" "$(ev 0 port_addr)" 1
expect "device 1 saw no port change" "$(ev 1 port_down)/$(ev 1 port_mtu)" 0/0
log_test "link down/up, MTU and MAC changes reach port_change()"

ip -n "$NSA" link set dev va netns "$NSC"
expect "port_netns" "$(ev 0 port_netns)" 1
expect "port still bound" "$(cat "/sys/class/toe/$name0/ports")" va
nsenter --net="/run/netns/$NSC" grep -q "^$name0 toe_test va " /proc/net/toe/devices
check_err $? "device 0 not visible in the netns its port moved to"
nsenter --net="/run/netns/$NSA" grep -q "^$name0 " /proc/net/toe/devices
check_fail $? "device 0 still visible in the netns its port left"
ip -n "$NSC" link del va
expect "ports after the port is deleted" "$(cat "/sys/class/toe/$name0/ports")" ""
log_test "netns move and deletion of a bound port"

# --- packet taps --------------------------------------------------------------

defer rm -f "/tmp/toe-core-$$.pcap"
toe_capture_start "$NSA" wa "/tmp/toe-core-$$.pcap" udp port 9
expect "tap command" "$(ttctl "$NSA" "tap 1 wa")" OK
toe_capture_stop "$TOE_CAPTURE" "/tmp/toe-core-$$.pcap"
seen=$(tcpdump -n -r "/tmp/toe-core-$$.pcap" 2> /dev/null | grep -c '192.0.2.1.9 > 192.0.2.2.9')
expect "frames seen by tcpdump (one each way)" "$seen" 2
stats=$(toe_dev_stat "$NSA" tap_tx "$name1")/$(toe_dev_stat "$NSA" tap_rx "$name1")
expect "tap_tx/tap_rx counters" "$stats" 1/1
expect "tap without a listener" "$(ttctl "$NSA" "tap 1 wa")" OK
stats=$(toe_dev_stat "$NSA" tap_tx "$name1")/$(toe_dev_stat "$NSA" tap_rx "$name1")
expect "counters unchanged without taps" "$stats" 1/1
log_test "toe_tap_tx/rx show engine frames to tcpdump, nothing without taps"

# --- register/unregister under concurrent lookups ----------------------------

ip -n "$NSA" link add sa type veth peer name sb
ip -n "$NSA" link set sa up
ttctl "$NSA" "stress sa 1000" > "/tmp/toe-core-stress-$$" &
stress=$!
defer rm -f "/tmp/toe-core-stress-$$"
lookups=0
while kill -0 "$stress" 2> /dev/null; do
	nsenter --net="/run/netns/$NSA" sh -c \
		"echo lookup sa 1000 > $DBG/ctl; cat /proc/net/toe/devices" \
		> /dev/null 2>&1
	cat /sys/class/toe/*/state > /dev/null 2>&1
	lookups=$((lookups + 1))
done
wait "$stress"
expect "1000 register/bind/enable/unregister cycles" "$(cat "/tmp/toe-core-stress-$$")" OK
[ "$lookups" -gt 0 ]
check_err $? "no lookup ran while the stress loop ran"
log_info "$lookups lookup rounds of 1000 raced the stress loop"
left=$(tt_devices | grep -v -e "^$name0\$" -e "^$name1\$")
[ -z "$left" ]
check_err $? "toe_test devices left after the stress loop: ${left//$'\n'/ }"
log_test "register/unregister 1000 times racing lookups"

# --- a driver with the required ops only --------------------------------------

# The core uses the driver's const table as it is (toe_test checks the
# pointer) and calls no optional op it left NULL: port and neighbour
# events on such a device are counted, and a handover goes to connect().
expect "register with the required ops only" "$(ttctl "$NSA" "minimal 2")" OK
name2=$(ev 2 name)
ip -n "$NSA" link set sb netns "$NSB"
ip -n "$NSA" addr add 10.74.0.1/24 dev sa
ip -n "$NSB" addr add 10.74.0.2/24 dev sb
ip -n "$NSB" link set sb up
expect "bind sa to device 2" "$(ttctl "$NSA" "bind 2 sa")" OK
expect "enable device 2" "$(sysfs_write "/sys/class/toe/$name2/enabled" 1)" OK
ip -n "$NSA" link set dev sa mtu 1400
ip -n "$NSA" link set dev sa down
ip -n "$NSA" link set dev sa up
ip -n "$NSA" link set dev sa address 02:00:00:74:00:01
toe_ping "$NSA" 10.74.0.2
check_err $? "ping over a port of a device without neigh_update() failed"
ip -n "$NSA" neigh del 10.74.0.2 dev sa
# A handover over that port: no can_offload(), so toe_test's connect()
# is called, and refuses (EOPNOTSUPP, ENOTSUP to Python).
ip netns exec "$NSB" python3 -c '
import socket
ls = socket.create_server(("10.74.0.2", 5070))
print("listening", flush=True)
ls.accept()[0].recv(1)
' > /dev/null 2>&1 &
srv=$!
toe_wait_listen "$NSB" 5070 || check_err 1 "no listener in $NSB"
ulp=$(ip netns exec "$NSA" python3 -c '
import errno, socket
c = socket.create_connection(("10.74.0.2", 5070))
try:
    c.setsockopt(socket.IPPROTO_TCP, 31, b"toe")
    print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])
c.close()
' 2>&1)
wait "$srv"
expect "TCP_ULP toe refused by connect()" "$ulp" ENOTSUP
expect "connect() calls" "$(ev 2 connects)" 1
stats=$(nsenter --net="/run/netns/$NSA" awk -v n="$name2" '
	NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
	$1 == n { print ($col["port_changes"] >= 3) ($col["neigh_updates"] >= 1) }' \
	/proc/net/toe/devices)
expect "port changes and neighbour updates counted" "$stats" 11
expect "state" "$(cat "/sys/class/toe/$name2/state")" up
expect "disable device 2" "$(sysfs_write "/sys/class/toe/$name2/enabled" 0)" OK
expect "delete device 2" "$(ttctl "$NSA" "del 2")" OK
log_test "required ops only: the driver's own table; port, neighbour, handover events"

# --- unloading the driver with bound ports -------------------------------------

# Built in (the debug kernel), the core cannot unload at all: nothing
# to check there.
if ! toe_mod_builtin toe; then
	rmmod toe > /dev/null 2>&1
	check_fail $? "the core unloaded while a driver uses it"
	toe_mod_loaded toe
	check_err $? "the core is gone after a refused rmmod"
fi
toe_unload toe_test
check_err $? "unloading toe_test with bound devices failed"
[ -z "$(tt_devices)" ]
check_err $? "devices left behind after unloading toe_test"
nsenter --net="/run/netns/$NSA" awk 'NR > 1' /proc/net/toe/devices | grep -q .
check_fail $? "devices left in /proc/net/toe/devices"
toe_ping "$NSA" 10.72.0.2
check_err $? "the port does not work after the driver unloaded"
log_test "unload the driver while bound: devices gone, ports keep working"

exit "$EXIT_STATUS"
