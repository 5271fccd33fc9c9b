#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# toesim instances: created and deleted through /sys/bus/toesim, several
# at once, every bad input refused with its documented errno, table sizes
# read back from debugfs and /proc/net/toe/devices. Then two drivers side
# by side: a toesim instance and a toe_test device bound to two veth
# ports of one netns each see the stack events of their own port only,
# and unloading toesim with live instances leaves toe_test's device
# working.

source "$(dirname "$0")/lib.sh"

require_root
require_cmd ip python3 nsenter
toe_mod_available toe || skip "module toe not found"
toe_mod_available toesim || skip "module toesim not found"
toe_mod_available toe_test || skip "module toe_test not found"

BUS=/sys/bus/toesim
SIM=/sys/kernel/debug/toesim
TT=/sys/kernel/debug/toe_test
NSA=toesim-a-$$
NSB=toesim-b-$$

toe_load toe toesim toe_test || fail "cannot load toe, toesim, toe_test"
defer toe_unload toe_test toesim

[ -w "$BUS/new_device" ] || fail "toesim has no $BUS/new_device"
[ -d "$SIM" ] || skip "debugfs not mounted"
[ -w "$TT/ctl" ] || skip "debugfs not mounted or toe_test has no control file"

# wr NS FILE DATA [FILE DATA]...: write each DATA to its FILE from netns
# NS, all in one python3 run (each start costs a second under TCG); one
# line per write: OK or the errno name. nsenter keeps the debugfs mount
# that ip netns exec hides.
wr() {
	local ns=$1

	shift
	nsenter --net="/run/netns/$ns" python3 -c '
import errno, os, sys
a = sys.argv[1:]
for path, data in zip(a[0::2], a[1::2]):
    try:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, data.encode())
        finally:
            os.close(fd)
        print("OK")
    except OSError as e:
        print(errno.errorcode[e.errno])
' "$@"
}

# expect WHAT GOT WANT: record a failure unless GOT equals WANT.
expect() {
	[ "$2" = "$3" ]
	check_err $? "$1: got '$2', want '$3'"
}

# expect_writes NS FILE DATA WANT [FILE DATA WANT]...: the writes in one
# wr run, each result checked against its WANT.
expect_writes() {
	local ns=$1 args=() want=() got i

	shift
	while [ $# -ge 3 ]; do
		args+=("$1" "$2")
		want+=("$3")
		shift 3
	done
	mapfile -t got < <(wr "$ns" "${args[@]}")
	for ((i = 0; i < ${#want[@]}; i++)); do
		expect "write '${args[2 * i + 1]}' to ${args[2 * i]##*/}" \
			"${got[i]:-none}" "${want[i]}"
	done
}

# sim ID FILE: a debugfs value of toesim instance ID.
sim() {
	cat "$SIM/$1/$2"
}

# simall ID: every counter of toesim instance ID, one line.
simall() {
	echo "$(sim "$1" opens) $(sim "$1" closes) $(sim "$1" neigh_updates)" \
	     "$(sim "$1" port_changes) $(sim "$1" redirects)"
}

# tt ID KEY: a value from toe_test's record of device ID.
tt() {
	awk -v k="$2" '$1 == k { print $2 }' "$TT/$1/events"
}

# ttports ID: toe_test device ID's port changes, all kinds summed.
ttports() {
	awk '$1 ~ /^port_(up|down|mtu|addr|netns)$/ { n += $2 } END { print n + 0 }' \
		"$TT/$1/events"
}

# names DIR: the entries of DIR, sorted, on one line (bash only).
names() {
	local f out=()

	for f in "$1"/*; do
		[ -e "$f" ] && out+=("${f##*/}")
	done
	echo "${out[*]}"
}

# toedev ID: the toedev name of toesim instance ID.
toedev() {
	names "$BUS/devices/toesim$1/toe"
}

# proc NS NAME COL: column COL of toedev NAME in NS's /proc/net/toe/devices.
proc() {
	nsenter --net="/run/netns/$1" awk -v n="$2" -v c="$3" \
		'$1 == n { print $c }' /proc/net/toe/devices
}

toe_ns_create "$NSA"
toe_ns_create "$NSB"
for p in v w x y; do
	ip link add "${p}a" netns "$NSA" type veth peer name "${p}b" netns "$NSB" ||
		fail "cannot create veth pair ${p}a/${p}b"
	ip -n "$NSA" link set dev "${p}a" up
	ip -n "$NSB" link set dev "${p}b" up
done
ip -n "$NSA" addr add 10.81.0.1/24 dev va
ip -n "$NSB" addr add 10.81.0.2/24 dev vb
ip -n "$NSA" addr add 10.82.0.1/24 dev wa
ip -n "$NSB" addr add 10.82.0.2/24 dev wb

# --- instances ------------------------------------------------------------------

expect_writes "$NSA" \
	"$BUS/new_device" "1 va" OK \
	"$BUS/new_device" "2 xa 4096" OK
expect "instances on the bus" "$(names "$BUS/devices")" "toesim1 toesim2"
name1=$(toedev 1)
name2=$(toedev 2)
[ -n "$name1" ] && [ -n "$name2" ] && [ "$name1" != "$name2" ]
check_err $? "instances have no toedev or share one: '$name1' '$name2'"
expect "instance 1 port" "$(cat "/sys/class/toe/$name1/ports")" va
expect "instance 2 port" "$(cat "/sys/class/toe/$name2/ports")" xa
expect "instance 1 driver" "$(cat "/sys/class/toe/$name1/driver")" toesim
expect "instance 1 table_size (default)" "$(sim 1 table_size)" 2048
expect "instance 2 table_size" "$(sim 2 table_size)" 4096
expect "instance 1 limit in /proc" "$(proc "$NSA" "$name1" 7)" 2048
expect "instance 2 limit in /proc" "$(proc "$NSA" "$name2" 7)" 4096
expect "new instances' counters" "$(simall 1)/$(simall 2)" "0 0 0 0 0/0 0 0 0 0"
log_test "create two instances, each bound to its port, table sizes read back"

expect_writes "$NSA" \
	"$BUS/new_device" "1 ya" EEXIST \
	"$BUS/new_device" "3 va" EBUSY \
	"$BUS/new_device" "3 nosuchdev" ENODEV \
	"$BUS/new_device" "3 lo" EINVAL \
	"$BUS/new_device" "3" EINVAL \
	"$BUS/new_device" " " EINVAL \
	"$BUS/new_device" "x ya" EINVAL \
	"$BUS/new_device" "-1 ya" EINVAL \
	"$BUS/new_device" "2147483648 ya" EINVAL \
	"$BUS/new_device" "4294967297 ya" EINVAL \
	"$BUS/new_device" "3 ya 0" EINVAL \
	"$BUS/new_device" "3 ya 1000001" EINVAL \
	"$BUS/new_device" "3 ya 12x" EINVAL \
	"$BUS/new_device" "3 ya 16 extra" EINVAL \
	"$BUS/new_device" "3 ifnamewaytoolong0" EINVAL \
	"$BUS/new_device" "3 ../ya" EINVAL \
	"$BUS/new_device" "$(printf '%0100d' 3) ya" EINVAL \
	"$BUS/del_device" "9" ENOENT \
	"$BUS/del_device" "x" EINVAL \
	"$BUS/del_device" "-1" EINVAL \
	"$BUS/del_device" "1 2" EINVAL
expect "instances after bad writes" "$(names "$BUS/devices")" "toesim1 toesim2"
expect "debugfs after bad writes" "$(names "$SIM")" "1 2"
expect "toedevs after bad writes" "$(names /sys/class/toe | wc -w)" 2
log_test "bad input refused with the documented errno, nothing left behind"

expect_writes "$NSA" \
	"$BUS/new_device" "3 ya 1000000" OK \
	"$BUS/new_device" "4 yb" ENODEV
expect "largest table" "$(sim 3 table_size)" 1000000
expect_writes "$NSA" \
	"$BUS/del_device" "3" OK \
	"$BUS/del_device" "3" ENOENT \
	"$BUS/new_device" "3 ya 1" OK
expect "smallest table" "$(sim 3 table_size)" 1
expect_writes "$NSA" "$BUS/del_device" "3" OK
expect "instances" "$(names "$BUS/devices")" "toesim1 toesim2"
expect "debugfs" "$(names "$SIM")" "1 2"
expect "ya's toedev" "$(nsenter --net="/run/netns/$NSA" grep -c ' ya ' /proc/net/toe/devices)" 0
log_test "largest and smallest tables, delete, ID and port reusable"

expect_writes "$NSB" "$BUS/new_device" "5 yb 64" OK
expect "instance 5 port (netns of the writer)" "$(cat "/sys/class/toe/$(toedev 5)/ports")" yb
expect "visible in the writer's netns" "$(proc "$NSB" "$(toedev 5)" 3)" yb
expect "invisible elsewhere" "$(proc "$NSA" "$(toedev 5)" 3)" ""
expect_writes "$NSA" "$BUS/del_device" "5" OK
log_test "IFNAME resolved in the writer's netns"

# Three writers race on one ID and one port, a reader on its debugfs
# directory; builtins only, so the loops are quick under TCG.
for ((j = 0; j < 3; j++)); do
	nsenter --net="/run/netns/$NSA" bash -c "
		for ((i = 0; i < 100; i++)); do
			echo '7 ya 32' > $BUS/new_device
			echo 7 > $BUS/del_device
		done" 2> /dev/null &
done
for ((i = 0; i < 200; i++)); do
	read -r _ < "$SIM/7/table_size"
done 2> /dev/null
wait
expect "instances after the race" "$(names "$BUS/devices")" "toesim1 toesim2"
expect "debugfs after the race" "$(names "$SIM")" "1 2"
expect_writes "$NSA" \
	"$BUS/new_device" "7 ya" OK \
	"$BUS/del_device" "7" OK
log_test "racing create/delete of one ID and port leaves nothing behind"

# --- open/close ----------------------------------------------------------------

expect_writes "$NSA" \
	"/sys/class/toe/$name1/enabled" 1 OK \
	"/sys/class/toe/$name1/enabled" 1 OK
expect "state" "$(cat "/sys/class/toe/$name1/state")" up
expect "opens/closes" "$(sim 1 opens)/$(sim 1 closes)" 1/0
expect_writes "$NSA" "/sys/class/toe/$name1/enabled" 0 OK
expect "state" "$(cat "/sys/class/toe/$name1/state")" down
expect "opens/closes" "$(sim 1 opens)/$(sim 1 closes)" 1/1
log_test "enable and disable start and stop the engine once each"

# --- the engine's CPU -------------------------------------------------------------

# allowed NAME: the CPUs the engine thread NAME may run on.
allowed() {
	local pid

	pid=$(pgrep -x "$1" | head -n 1)
	[ -n "$pid" ] && awk '/^Cpus_allowed_list:/ { print $2 }' "/proc/$pid/status"
}
last=$(($(nproc) - 1))
expect_writes "$NSA" \
	"/sys/class/toe/$name1/enabled" 1 OK \
	"$SIM/1/engine_cpu" "$last" OK
expect "engine_cpu" "$(sim 1 engine_cpu)" "$last"
expect "running thread's CPUs" "$(allowed toesim/va)" "$last"
expect_writes "$NSA" \
	"$SIM/1/engine_cpu" -1 OK \
	"$SIM/1/engine_cpu" -2 EINVAL \
	"$SIM/1/engine_cpu" $((last + 1)) EINVAL \
	"$SIM/1/engine_cpu" 100000 EINVAL \
	"$SIM/1/engine_cpu" x EINVAL
expect "engine_cpu after bad values" "$(sim 1 engine_cpu)" -1
expect "unbound thread's CPUs" "$(allowed toesim/va)" "$(awk '/^Cpus_allowed_list:/ { print $2 }' /proc/1/status)"
# Set while stopped: the next start binds the new thread.
expect_writes "$NSA" \
	"/sys/class/toe/$name1/enabled" 0 OK \
	"$SIM/1/engine_cpu" 0 OK \
	"/sys/class/toe/$name1/enabled" 1 OK
expect "restarted thread's CPUs" "$(allowed toesim/va)" 0
expect_writes "$NSA" \
	"$SIM/1/engine_cpu" -1 OK \
	"/sys/class/toe/$name1/enabled" 0 OK
log_test "engine_cpu binds the engine thread, running or not; bad CPUs refused"

# --- two drivers coexist ----------------------------------------------------------

expect_writes "$NSA" \
	"$TT/ctl" "add 0" OK \
	"$TT/ctl" "bind 0 wa" OK \
	"$BUS/new_device" "6 wa" EBUSY
ttname=$(tt 0 name)
expect "toe_test in /proc" "$(proc "$NSA" "$ttname" 2)/$(proc "$NSA" "$ttname" 3)" toe_test/wa
expect "toesim in /proc" "$(proc "$NSA" "$name1" 2)/$(proc "$NSA" "$name1" 3)" toesim/va
log_test "toesim and toe_test devices side by side in one netns"

s1=$(sim 1 neigh_updates)
t0=$(tt 0 neigh_updates)
toe_ping "$NSA" 10.81.0.2 || check_err 1 "ping over va failed"
[ "$(sim 1 neigh_updates)" -gt "$s1" ]
check_err $? "resolving a neighbour on va did not reach toesim instance 1"
expect "toe_test saw nothing from va" "$(tt 0 neigh_updates)" "$t0"
s1=$(sim 1 neigh_updates)
toe_ping "$NSA" 10.82.0.2 || check_err 1 "ping over wa failed"
[ "$(tt 0 neigh_updates)" -gt "$t0" ]
check_err $? "resolving a neighbour on wa did not reach toe_test"
expect "toe_test's neighbour" "$(tt 0 last_neigh_dev)" wa
expect "toesim saw nothing from wa" "$(sim 1 neigh_updates)" "$s1"
t0=$(tt 0 neigh_updates)
ip -n "$NSA" neigh replace 10.81.0.2 lladdr 02:00:00:81:00:02 dev va nud permanent
[ "$(sim 1 neigh_updates)" -gt "$s1" ]
check_err $? "ip neigh replace on va did not reach toesim instance 1"
expect "toe_test saw nothing from va" "$(tt 0 neigh_updates)" "$t0"
s1=$(sim 1 neigh_updates)
ip -n "$NSA" neigh replace 10.82.0.2 lladdr 02:00:00:82:00:02 dev wa nud permanent
[ "$(tt 0 neigh_updates)" -gt "$t0" ]
check_err $? "ip neigh replace on wa did not reach toe_test"
expect "toesim saw nothing from wa" "$(sim 1 neigh_updates)" "$s1"
expect "toesim neigh_updates in /proc" "$(proc "$NSA" "$name1" 8)" "$(sim 1 neigh_updates)"
log_test "neighbour updates reach the driver of their port only"

s1=$(sim 1 port_changes)
t0=$(ttports 0)
ip -n "$NSA" link set dev va down
ip -n "$NSA" link set dev va up
ip -n "$NSA" link set dev va mtu 9000
expect "toesim port_changes after va down/up/mtu" "$(sim 1 port_changes)" $((s1 + 3))
expect "toe_test saw nothing from va" "$(ttports 0)" "$t0"
ip -n "$NSA" link set dev wa down
ip -n "$NSA" link set dev wa up
ip -n "$NSA" link set dev wa address 02:00:00:82:00:01
expect "toe_test port changes after wa down/up/addr" "$(ttports 0)" $((t0 + 3))
expect "toe_test port_addr" "$(tt 0 port_addr)" 1
expect "toesim saw nothing from wa" "$(sim 1 port_changes)" $((s1 + 3))
expect "toesim port_changes in /proc" "$(proc "$NSA" "$name1" 10)" $((s1 + 3))
expect "instance 2 (xa) saw nothing" "$(simall 2)" "0 0 0 0 0"
log_test "link changes reach the driver of their port only"

# --- unload toesim with live instances -------------------------------------------

expect_writes "$NSA" "/sys/class/toe/$name2/enabled" 1 OK
toe_unload toesim
check_err $? "unloading toesim with live instances failed"
[ ! -e "$BUS" ] && [ ! -e "$SIM" ]
check_err $? "the toesim bus or debugfs directory outlived the module"
expect "toedevs left" "$(names /sys/class/toe)" "$ttname"
expect "/proc/net/toe/devices" \
	"$(nsenter --net="/run/netns/$NSA" awk 'NR > 1 { print $1 "/" $2 }' /proc/net/toe/devices)" \
	"$ttname/toe_test"
t0=$(tt 0 neigh_updates)
ip -n "$NSA" neigh flush dev wa
toe_ping "$NSA" 10.82.0.2 || check_err 1 "ping over wa failed"
[ "$(tt 0 neigh_updates)" -gt "$t0" ]
check_err $? "toe_test got no neighbour update after toesim unloaded"
t0=$(ttports 0)
ip -n "$NSA" link set dev wa mtu 1400
expect "toe_test port change after toesim unloaded" "$(ttports 0)" $((t0 + 1))
toe_ping "$NSA" 10.81.0.2
check_err $? "va does not work after toesim unloaded"
log_test "unload toesim with live instances: gone, toe_test keeps working"

toe_load toesim || check_err 1 "cannot load toesim again"
expect_writes "$NSA" \
	"$BUS/new_device" "1 va" OK \
	"$BUS/new_device" "2 xa" OK \
	"$BUS/new_device" "3 wa" EBUSY
expect "instances" "$(names "$BUS/devices")" "toesim1 toesim2"
log_test "reload: ports and IDs of the unloaded instances are free again"

exit "$EXIT_STATUS"
