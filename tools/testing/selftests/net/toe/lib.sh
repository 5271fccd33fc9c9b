#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Helpers shared by the net/toe selftests. A test sources it first:
#
#	source "$(dirname "$0")/lib.sh"
#
# then creates, acts, records each check with check_err/check_fail and
# ends a group of checks with log_test, as net/forwarding/lib.sh does.
# Cleanup steps registered with defer run in reverse order on any exit.
# A missing prerequisite ends the test with skip (KSFT_SKIP, 4), checked
# before the first group runs; a group whose own prerequisite is missing
# reports log_skip instead. The exit status is otherwise 0 when every
# log_test passed and 1 when one failed.
#
# Each log_test and log_skip is also a KTAP subtest result ("ok N name",
# "not ok N name", "ok N name # SKIP why"), nested under the test's own
# result by the kselftest runner; the plan "1..N" follows the last one,
# as the number of groups is known only at the end.
#
# Modules: with TOE_MODDIR set (out of tree: the build output, laid out as
# the source tree, e.g. $TOE_MODDIR/net/toe/toe.ko) toe_load insmods from
# there; without it, modprobe loads the kernel's own modules.

# shellcheck disable=SC2034 # used by the tests
ksft_pass=0
ksft_fail=1
ksft_skip=4

RET=0
# shellcheck disable=SC2034 # the tests exit with it
EXIT_STATUS=0
retmsg=
# KTAP subtests reported so far (log_test, log_skip); TOE_KTAP=0 before
# sourcing lib.sh leaves KTAP to a program the test runs (toe_diff.sh).
TOE_KTAP_N=0
TOE_KTAP=${TOE_KTAP:-1}
TOE_TEST=$(basename "$0" .sh)
# How much longer than on the stock kernel a transfer must last to
# outlast the test's own steps around it (1; make test-debug sets 2: a
# command such as nft or nsenter takes seconds under KASAN and lockdep).
TOE_SLOW=${TOE_SLOW:-1}
# The test's standard output, for diagnostics from redirected helpers.
exec {TOE_STDOUT}>&1
# The kselftest runner kills a test after the settings file's timeout;
# toe_wait_pid gives up 30 s before that, so that a stall is reported,
# with its diagnostics, by the test rather than by the runner's kill.
TOE_TIMEOUT=$(sed -n 's/^timeout=//p' "$(dirname "$0")/settings" 2> /dev/null)
TOE_TIMEOUT=${TOE_TIMEOUT:-45}

log_info() {
	echo "INFO: $*"
}

# check_err ERR MSG: record a failure when ERR is non-zero.
check_err() {
	local err=$1 msg=$2

	if [ "$RET" -eq 0 ] && [ "$err" -ne 0 ]; then
		RET=$err
		retmsg=$msg
	fi
}

# check_fail ERR MSG: record a failure when ERR is zero (it should fail).
check_fail() {
	local err=$1 msg=$2

	if [ "$RET" -eq 0 ] && [ "$err" -eq 0 ]; then
		RET=1
		retmsg=$msg
	fi
}

# toe_ktap_begin: the KTAP version line, before the first subtest's
# output.
toe_ktap_begin() {
	[ "$TOE_KTAP" = 1 ] && [ "$TOE_KTAP_N" -eq 0 ] && echo "TAP version 13"
	return 0
}

# toe_ktap RESULT NAME [DIRECTIVE]: one KTAP subtest line. A '#' in NAME
# would start a directive: it is replaced.
toe_ktap() {
	local res=$1 name=${2//#/_} directive=${3:-}

	[ "$TOE_KTAP" = 1 ] || return 0
	TOE_KTAP_N=$((TOE_KTAP_N + 1))
	echo "$res $TOE_KTAP_N $name${directive:+ # $directive}"
}

# log_test NAME: report the checks recorded since the last log_test.
log_test() {
	local name=$1

	toe_ktap_begin
	if [ "$RET" -ne 0 ]; then
		# shellcheck disable=SC2034 # the tests exit with it
		EXIT_STATUS=$ksft_fail
		printf "TEST: %-60s  [FAIL]\n" "$name"
		[ -n "$retmsg" ] && printf "\t%s\n" "$retmsg"
		toe_ktap "not ok" "$name"
	else
		printf "TEST: %-60s  [ OK ]\n" "$name"
		toe_ktap ok "$name"
	fi
	RET=0
	retmsg=
}

# log_skip NAME WHY: the group NAME could not run here (a kernel feature
# it needs is missing). The test goes on; scripts/run-tests.sh fails the
# run on a skip its lane does not expect.
log_skip() {
	local name=$1 why=$2

	toe_ktap_begin
	printf "TEST: %-60s  [SKIP]\n" "$name"
	printf "\t%s\n" "$why"
	toe_ktap ok "$name" "SKIP $why"
	RET=0
	retmsg=
}

# skip REASON: a prerequisite is missing; cleanup still runs.
skip() {
	echo "SKIP: $TOE_TEST: $*"
	exit $ksft_skip
}

# fail REASON: give up on the whole test.
fail() {
	echo "FAIL: $TOE_TEST: $*"
	exit $ksft_fail
}

require_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
}

require_cmd() {
	local cmd

	for cmd in "$@"; do
		command -v "$cmd" > /dev/null || skip "needs $cmd"
	done
}

# --- cleanup ----------------------------------------------------------------

TOE_CLEANUP=()

# defer CMD...: run CMD when the test exits, last registered first.
defer() {
	TOE_CLEANUP+=("$*")
}

toe_cleanup() {
	local i

	for ((i = ${#TOE_CLEANUP[@]} - 1; i >= 0; i--)); do
		eval "${TOE_CLEANUP[i]}" > /dev/null 2>&1
	done
	TOE_CLEANUP=()
	[ "$TOE_KTAP_N" -eq 0 ] || echo "1..$TOE_KTAP_N"
}

trap toe_cleanup EXIT
trap 'exit $ksft_fail' INT TERM HUP

# --- modules ----------------------------------------------------------------

# toe_mod_loaded NAME: NAME is a loaded module (not built in).
toe_mod_loaded() {
	local name=${1//-/_} mod rest

	while read -r mod rest; do
		[ "$mod" = "$name" ] && return 0
	done < /proc/modules
	return 1
}

# toe_mod_builtin NAME: NAME is built into the running kernel. Bash
# builtins only, and cached: under TCG every exec costs ~0.15 s.
declare -A TOE_BUILTIN
toe_mod_builtin() {
	local name=${1//-/_} rel line

	if [ -z "${TOE_BUILTIN[$name]:-}" ]; then
		TOE_BUILTIN[$name]=no
		if [ -d "/sys/module/$name" ] && [ ! -e "/sys/module/$name/refcnt" ]; then
			TOE_BUILTIN[$name]=yes
		else
			read -r rel < /proc/sys/kernel/osrelease
			while read -r line; do
				line=${line##*/}
				line=${line%.ko}
				if [ "${line//-/_}" = "$name" ]; then
					TOE_BUILTIN[$name]=yes
					break
				fi
			done < "/lib/modules/$rel/modules.builtin"
		fi 2>/dev/null
	fi
	[ "${TOE_BUILTIN[$name]}" = yes ]
}

# toe_insmod FILE, toe_rmmod NAME: the static busybox starts five times
# faster than kmod under TCG; both end in the same system calls.
toe_insmod() {
	if command -v busybox > /dev/null; then
		busybox insmod "$@"
	else
		insmod "$@"
	fi
}

toe_rmmod() {
	if command -v busybox > /dev/null; then
		busybox rmmod "$@"
	else
		rmmod "$@"
	fi
}

# toe_mod_path NAME: the module file under $TOE_MODDIR.
toe_mod_path() {
	local p

	case $1 in
	toe)		p=$TOE_MODDIR/net/toe/toe.ko ;;
	toesim)		p=$TOE_MODDIR/drivers/toe/toesim/toesim.ko ;;
	*)		p=$TOE_MODDIR/drivers/toe/$1.ko ;;
	esac
	[ -e "$p" ] || p=$(find "$TOE_MODDIR" -name "$1.ko" -print -quit 2>/dev/null)
	echo "$p"
}

# toe_mod_available NAME: NAME can be loaded (or is built in).
toe_mod_available() {
	toe_mod_builtin "$1" && return 0
	toe_mod_loaded "$1" && return 0
	if [ -n "${TOE_MODDIR:-}" ]; then
		[ -n "$(toe_mod_path "$1")" ]
	else
		modprobe -n "$1" > /dev/null 2>&1
	fi
}

# toe_require_modular NAME...: skip unless every NAME is a loadable module.
toe_require_modular() {
	local m

	for m in "$@"; do
		toe_mod_builtin "$m" &&
			skip "$m is built into the kernel, it cannot be loaded or unloaded"
		toe_mod_available "$m" || skip "module $m not found"
	done
}

# toe_load NAME...: load each module in order, unless loaded or built in.
toe_load() {
	local m p

	for m in "$@"; do
		toe_mod_builtin "$m" && continue
		toe_mod_loaded "$m" && continue
		if [ -n "${TOE_MODDIR:-}" ]; then
			p=$(toe_mod_path "$m")
			if [ -z "$p" ]; then
				echo "toe_load: $m.ko not found under $TOE_MODDIR"
				return 1
			fi
			toe_insmod "$p" || return 1
		else
			modprobe "$m" || return 1
		fi
	done
}

# toe_unload NAME...: unload each module in order, if loaded.
toe_unload() {
	local m

	for m in "$@"; do
		toe_mod_loaded "$m" || continue
		toe_rmmod "$m" || return 1
	done
}

# --- network namespaces -------------------------------------------------------

# toe_ns_create NAME: a fresh netns with lo up, deleted on exit. Loads
# veth too, which every test pairs namespaces with (the guest does not
# always autoload it).
toe_ns_create() {
	modprobe -q veth 2> /dev/null
	ip netns add "$1" || return 1
	defer ip netns del "$1"
	ip -n "$1" link set lo up
}

# --- the usual topology: a host and a peer, a toesim instance on the host ---

# toe_sim_prereq CMD...: root, the commands, and the modules toe and toesim.
toe_sim_prereq() {
	require_root
	require_cmd "$@"
	toe_mod_available toe || skip "module toe not found"
	toe_mod_available toesim || skip "module toesim not found"
}

# toe_pair H P NET4 [NET6]: namespaces H and P joined by veth (vh in H, vp
# in P), NET4.1/24 and NET4.2/24 on them, NET6::1/64 and NET6::2/64 if
# given, both up.
toe_pair() {
	local h=$1 p=$2 net4=$3 net6=${4:-}

	toe_ns_create "$h" && toe_ns_create "$p" &&
		ip link add vh netns "$h" type veth peer name vp netns "$p" &&
		ip -n "$h" addr add "$net4.1/24" dev vh &&
		ip -n "$p" addr add "$net4.2/24" dev vp || return 1
	if [ -n "$net6" ]; then
		ip -n "$h" addr add "$net6::1/64" dev vh nodad &&
			ip -n "$p" addr add "$net6::2/64" dev vp nodad || return 1
	fi
	ip -n "$h" link set vh up && ip -n "$p" link set vp up
}

# toe_sim_name [ID]: the toedev of toesim instance ID (default 0), the
# class device whose parent it is; other toedevs may exist beside it.
toe_sim_name() {
	local d inst

	inst=$(readlink -f "/sys/bus/toesim/devices/toesim${1:-0}") || return 1
	for d in /sys/class/toe/*; do
		[ "$(readlink -f "$d/device")" = "$inst" ] || continue
		echo "${d##*/}"
		return 0
	done
	return 1
}

# toe_sim_up NS DEV [TABLE_SIZE]: toesim instance 0 on DEV, looked up in
# NS, deleted on exit; its toedev, named in TOE, enabled.
toe_sim_up() {
	nsenter --net="/run/netns/$1" sh -c \
		"echo '0 $2 ${3:-}' > /sys/bus/toesim/new_device" || return 1
	defer 'echo 0 > /sys/bus/toesim/del_device'
	TOE=$(toe_sim_name) && echo 1 > "/sys/class/toe/$TOE/enabled"
}

# toe_dev_stat NS NAME [DEV]: column NAME of /proc/net/toe/devices in NS,
# for the toedev DEV (default $TOE).
toe_dev_stat() {
	nsenter --net="/run/netns/$1" awk -v k="$2" -v n="${3:-$TOE}" '
		NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
		$1 == n { print $col[k] }' /proc/net/toe/devices
}

# toe_conn_stat NS REMOTE KEY: column KEY (by its header) of the
# offloaded connection to REMOTE in NS: "addr:port" or "[addr6]:port" as
# /proc/net/toe/connections prints it, or ":port" for any peer address.
toe_conn_stat() {
	nsenter --net="/run/netns/$1" awk -v r="$2" -v k="$3" '
		NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
		$2 == r || (r ~ /^:/ && substr($2, length($2) - length(r) + 1) == r) {
			print $col[k]; exit
		}' /proc/net/toe/connections
}

# toe_ping NS ADDR: one ping from NS (iputils or busybox).
toe_ping() {
	local ns=$1 addr=$2 six=

	case $addr in *:*) six=-6 ;; esac
	if command -v ping > /dev/null; then
		ip netns exec "$ns" ping ${six:+"$six"} -q -c 1 -W 2 "$addr" > /dev/null
	else
		ip netns exec "$ns" busybox ping ${six:+"$six"} -q -c 1 -W 2 "$addr" > /dev/null
	fi
}

# toe_wait_listen NS PORT: wait up to 10 s for a TCP listener on PORT.
toe_wait_listen() {
	local ns=$1 port=$2 i

	for ((i = 0; i < 100; i++)); do
		if ip netns exec "$ns" ss -Htln "sport = :$port" | grep -q LISTEN; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# toe_diag NS...: what a stuck transfer looks like from the host side: the
# offloaded connections, the sockets, every toesim counter and the end of
# the kernel log. Printed as "# diag:" lines so TAP readers skip them.
toe_diag() {
	local ns f

	{
		for ns in "$@"; do
			echo "== netns $ns"
			ip netns exec "$ns" cat /proc/net/toe/devices
			ip netns exec "$ns" cat /proc/net/toe/connections
			ip netns exec "$ns" ss -tinoea
			ip netns exec "$ns" nstat -asz 2> /dev/null |
				awk '$2 != 0 && /Tcp|Ip/ { printf "%s=%s ", $1, $2 }
				     END { print "" }'
		done
		for f in /sys/kernel/debug/toesim/*/*; do
			[ -r "$f" ] && echo "$f: $(cat "$f" 2> /dev/null)"
		done
		dmesg | tail -n 20
	} 2>&1 | sed 's/^/# diag: /'
}

# toe_wait_pid SECS PID [WHAT]: wait at most SECS seconds for PID, a child
# of this shell, and never past 30 s before the runner's timeout. On expiry the state of the namespaces in $TOE_DIAG_NS is
# printed before PID is killed, so that a hang leaves evidence; returns
# 124 then, PID's exit status otherwise. It polls rather than `wait -n`
# on PID and a timer: bash 5.2's wait -n can fail at once with "no record
# of process" for a child reaped meanwhile, and took that for a timeout.
toe_wait_pid() {
	local secs=$1 pid=$2 what=${3:-process $2} end left

	left=$((TOE_TIMEOUT - 30 - SECONDS))
	[ "$left" -ge 1 ] || left=1
	[ "$secs" -le "$left" ] || secs=$left
	end=$((SECONDS + secs))
	while kill -0 "$pid" 2> /dev/null; do
		if [ "$SECONDS" -ge "$end" ]; then
			# To the test's own output, not wherever the caller's
			# output goes.
			{
				echo "# $what still running after $secs s"
				# shellcheck disable=SC2086 # a list of netns names
				toe_diag $TOE_DIAG_NS
			} >&"$TOE_STDOUT"
			kill "$pid" 2> /dev/null
			wait "$pid" 2> /dev/null
			return 124
		fi
		sleep 0.1
	done
	# Bash keeps the status of only so many finished background jobs;
	# wait returns 127 for one it no longer knows.
	wait "$pid" 2> /dev/null
}

# toe_bounded SECS CMD...: run CMD for at most SECS seconds (toe_wait_pid).
toe_bounded() {
	local secs=$1

	shift
	"$@" &
	toe_wait_pid "$secs" $! "$*"
}

# --- writes that report errno, and transfers ----------------------------------

# toe_write FILE VALUE: write VALUE to FILE in one write(); prints OK or the
# errno name (EINVAL, EBUSY, ...).
# TOE_WRITE_PY: the program, for callers that run it in another netns.
TOE_WRITE_PY='
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
try:
    os.write(fd, sys.argv[2].encode())
    print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])
'
toe_write() {
	python3 -c "$TOE_WRITE_PY" "$1" "$2"
}

# toe_xfer_start NAME ADDR PORT BYTES [client options]: toe_xfer.py both
# ways, BYTES each, the client in netns $H, the server in $P, in the
# background ($client, $server; their output in $TMP/NAME.c and .s); the
# server at $RATE bytes/s if set. toe_xfer_finish NAME BYTES waits for
# both and compares.
toe_xfer_start() {
	local name=$1 addr=$2 port=$3 bytes=$4 six=
	local xfer

	xfer=$(dirname "$0")/toe_xfer.py
	shift 4
	case $addr in *:*) six=--v6 ;; esac
	timeout 120 ip netns exec "$P" python3 "$xfer" server "$port" $six \
		--send "$bytes" ${RATE:+--rate "$RATE"} > "$TMP/$name.s" 2>&1 &
	server=$!
	toe_wait_listen "$P" "$port" || return 1
	timeout 120 ip netns exec "$H" python3 "$xfer" client "$addr" "$port" \
		--send "$bytes" "$@" > "$TMP/$name.c" 2>&1 &
	client=$!
}

toe_xfer_finish() {
	wait "$client" && wait "$server" &&
		toe_xfer_ok "$TMP/$1.c" "$TMP/$1.s" "$2" "$2"
}

# toe_toectl: set TOP to the source tree the calling test came from and
# TOECTL to the toectl built there (make -C tools/toe/toectl), else to
# the one in PATH; fail if there is none.
toe_toectl() {
	TOP=$(cd "$(dirname "$(readlink -f "$0")")/../../../../.." && pwd)
	TOECTL=$TOP/tools/toe/toectl/toectl
	[ -x "$TOECTL" ] || TOECTL=$(command -v toectl) ||
		fail "toectl is not built (make -C tools/toe/toectl)"
}

# toe_wait_conns N [SECS]: up to SECS (5) seconds for the device $TOE to
# carry N connections.
toe_wait_conns() {
	local i

	for ((i = 0; i < ${2:-5} * 10; i++)); do
		[ "$(cat "/sys/class/toe/$TOE/conns")" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# toe_busywait MS CMD...: run CMD every 0.1 s until it succeeds, for at
# most MS milliseconds (as net/forwarding/lib.sh's busywait); its status.
toe_busywait() {
	local ms=$1 i

	shift
	for ((i = 0; i <= ms / 100; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# toe_wait_carried NS REMOTE BYTES [SECS]: up to SECS (10) seconds for the
# offloaded connection to REMOTE ("addr:port", "[addr6]:port") in NS to
# have carried BYTES through the engine, both ways together.
toe_wait_carried() {
	local i tx rx

	for ((i = 0; i < ${4:-10} * 10; i++)); do
		tx=$(toe_conn_stat "$1" "$2" tx_bytes)
		rx=$(toe_conn_stat "$1" "$2" rx_bytes)
		[ -n "$tx" ] && [ $((tx + rx)) -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

# toe_capture_start NS IFACE FILE FILTER...: tcpdump on IFACE in NS into
# FILE, returning once it captures (tcpdump writes the pcap header after
# its filter is attached), each frame written as it comes (without
# --immediate-mode, libpcap holds frames up to a second); its pid in
# TOE_CAPTURE. Fails the test if the
# capture never starts.
toe_capture_start() {
	local ns=$1 dev=$2 file=$3

	shift 3
	rm -f "$file"
	ip netns exec "$ns" tcpdump --immediate-mode -U -n -i "$dev" -w "$file" "$@" \
		> /dev/null 2>&1 {TOE_STDOUT}>&- &
	TOE_CAPTURE=$!
	defer "kill $TOE_CAPTURE 2> /dev/null"
	toe_busywait 5000 test -s "$file" ||
		fail "tcpdump on $dev in $ns did not start"
}

# toe_capture_stop PID FILE: stop the capture PID once FILE has not grown
# for 0.5 s (at most 5 s), so that the frames already on the wire are in.
toe_capture_stop() {
	local size=-1 now i

	for ((i = 0; i < 50; i++)); do
		now=$(stat -c %s "$2" 2> /dev/null)
		[ "$now" = "$size" ] && [ $((i % 5)) -eq 0 ] && break
		[ $((i % 5)) -eq 0 ] && size=$now
		sleep 0.1
	done
	kill "$1" 2> /dev/null
	wait "$1" 2> /dev/null
	return 0
}

# toe_xfer_ok CLIENT_OUT SERVER_OUT CLIENT_BYTES SERVER_BYTES: the two ends
# of a toe_xfer.py transfer agree, byte counts and SHA-256, both ways.
toe_xfer_ok() {
	python3 - "$@" <<'PY'
import json, sys
c = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
s = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
cb, sb = int(sys.argv[3]), int(sys.argv[4])
ok = (c["sent"] == cb == s["received"] and s["sent"] == sb == c["received"]
      and c["sent_sha256"] == s["received_sha256"]
      and s["sent_sha256"] == c["received_sha256"])
if not ok:
    print("mismatch:", c, s)
sys.exit(0 if ok else 1)
PY
}

# toe_xfer_ulp CLIENT_OUT: what TCP_ULP "toe" gave the client (ok, ENODEV...).
toe_xfer_ulp() {
	python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]).get("ulp", "-"))' "$1"
}
