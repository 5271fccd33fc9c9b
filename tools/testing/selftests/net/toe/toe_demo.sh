#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The project's main job, shown step by step and checked at each: an
# unmodified web server (Python's http.server) in the host namespace,
# whose connection to a peer's curl is offloaded to toesim automatically;
# the device and the live connection as the administrator sees them
# (toectl, sysfs, /proc/net/toe, ss); tcpdump on the host's port seeing
# the engine's frames both ways; the administrator's handback in the
# middle of the download (toectl conn handback), seen by toectl monitor
# and traced (toe:toe_handback); the file arriving intact by SHA-256. `make demo` runs it in a guest with its commands shown; the
# suite runs it as one of its tests.

source "$(dirname "$0")/lib.sh"

toe_sim_prereq ip python3 nsenter curl tcpdump ss sha256sum
toe_toectl

H=toe-demo-h-$$
P=toe-demo-p-$$
TOE_DIAG_NS="$H $P"
TMP=$(mktemp -d)
defer rm -rf "$TMP"
MB=$((1024 * 1024))
SIZE_MB=${TOE_DEMO_MB:-48}
TRACEFS=/sys/kernel/tracing
[ -d "$TRACEFS/instances" ] || TRACEFS=/sys/kernel/debug/tracing

say() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; eval "$@"; }
hns() { ip netns exec "$H" "$@"; }
# toectl in the host namespace, shown as the administrator types it.
ctl() { printf '$ toectl %s\n' "$*"; ip netns exec "$H" "$TOECTL" "$@"; }
pns() { ip netns exec "$P" "$@"; }

say "Two network namespaces, host and peer, joined by a veth pair"
toe_pair "$H" "$P" 10.82.0 || fail "cannot create the namespaces and veth pair"
run ip -n "$H" -br addr show dev vh
run ip -n "$P" -br addr show dev vp

say "Load the framework and toesim; an engine on the host's port"
toe_load toe toesim || fail "cannot load toe, toesim"
defer toe_unload toesim toe
toe_sim_up "$H" vh || fail "cannot create and enable a toesim instance"
run "cat /sys/class/toe/$TOE/{driver,ports,state,families}"
[ "$(cat "/sys/class/toe/$TOE/state")" = up ]
check_err $? "the device is $(cat "/sys/class/toe/$TOE/state"), not up"
log_test "demo: toesim registered a device on the host's port, enabled"

say "Automatic offload: a connection that carried 1 MB goes to the engine"
ctl dev set "$TOE" auto on min_bytes "$MB"
check_err $? "toectl dev set failed"
ctl dev show "$TOE"
[ "$(cat "/sys/class/toe/$TOE/auto_offload")/$(cat "/sys/class/toe/$TOE/min_bytes")" = "1/$MB" ]
check_err $? "sysfs does not show what toectl set"
log_test "demo: toectl turns automatic offload on, sysfs agrees"

# The server closes once the last of the file is queued, and the FIN
# hands the connection back (teardown is Linux TCP's): the download is
# paced so that it is still offloaded for the steps below.
say "An unmodified web server in the host namespace, a ${SIZE_MB} MB file"
mkdir "$TMP/www" && head -c $((SIZE_MB * MB)) /dev/urandom > "$TMP/www/blob" ||
	fail "cannot write the file"
run "sha256sum $TMP/www/blob | cut -c1-64 | tee $TMP/sum.served"
# Not through hns (a function in the background is a subshell, and $!
# would be its pid), and without the test's output: a server left over
# would hold the runner's pipe open.
ip netns exec "$H" python3 -m http.server 8080 --bind 10.82.0.1 \
	--directory "$TMP/www" > "$TMP/httpd.log" 2>&1 {TOE_STDOUT}>&- &
httpd=$!
defer "kill $httpd 2> /dev/null; wait $httpd"
toe_wait_listen "$H" 8080 || fail "the web server is not listening"

INST=$TRACEFS/instances/toe-demo-$$
mkdir "$INST" || fail "cannot create a tracefs instance"
defer "rmdir $INST"
defer "echo 0 > $INST/events/toe/enable"
echo 1 > "$INST/events/toe/enable"

say "The peer downloads it with curl, at 4 MB/s"
printf '$ %s\n' "curl --limit-rate 4M -o blob http://10.82.0.1:8080/blob"
pns curl -sS --max-time 120 --limit-rate 4M -o "$TMP/blob.got" \
	http://10.82.0.1:8080/blob > "$TMP/curl.log" 2>&1 &
curl=$!
toe_wait_conns 1 $((30 * TOE_SLOW))
check_err $? "the download was not offloaded"
run "cat /sys/class/toe/$TOE/conns"
ctl conn show
run "nsenter --net=/run/netns/$H cat /proc/net/toe/connections"
nsenter --net="/run/netns/$H" grep -q "^10\.82\.0\.1:8080 .* $TOE offloaded " \
	/proc/net/toe/connections
check_err $? "/proc/net/toe/connections does not show the server's socket"
[ "$(hns "$TOECTL" -j conn show sport 8080 | python3 -c '
import json, sys
print(" ".join(c["local"] + "/" + c["dev"] for c in json.load(sys.stdin)))')" = "10.82.0.1:8080/$TOE" ]
check_err $? "toectl conn show does not show the server's socket"
log_test "demo: the web server's connection was offloaded automatically"

say "ss sees the socket, with the toe ULP on it"
run "ip netns exec $H ss -tniH state established sport = :8080 | tee $TMP/ss"
grep -q "tcp-ulp-toe" "$TMP/ss"
check_err $? "ss does not show the toe ULP"
log_test "demo: ss -ti shows the offloaded socket and its ULP"

say "tcpdump on the host's port sees the engine's frames, both ways"
run "ip netns exec $H timeout -s INT 2 tcpdump --immediate-mode -nn -l -i vh tcp port 8080 > $TMP/dump 2> $TMP/dump.err"
out=$(grep -c "IP 10\.82\.0\.1\.8080 > " "$TMP/dump")
in=$(grep -c " > 10\.82\.0\.1\.8080: " "$TMP/dump")
# "length N" is not the last field: tcpdump decodes port 8080 as HTTP.
bytes=$(awk '/IP 10\.82\.0\.1\.8080 > / && match($0, /length [0-9]+/) {
	n += substr($0, RSTART + 7, RLENGTH - 7) } END { print n + 0 }' "$TMP/dump")
run "tail -n 1 $TMP/dump.err"
printf '%s frames from the server (%s bytes of payload), %s to it\n' "$out" "$bytes" "$in"
# Two seconds at 4 MB/s are 8 MB; an eighth of that leaves room for what
# tcpdump drops under emulation, and the peer ACKs every other segment.
[ "$bytes" -ge $((1 << 20)) ] && [ "$in" -ge $((out / 8)) ]
check_err $? "tcpdump saw $out frames out ($bytes bytes), $in in"
nsenter --net="/run/netns/$H" grep -q "^10\.82\.0\.1:8080 .* offloaded " \
	/proc/net/toe/connections
check_err $? "the connection was no longer offloaded while tcpdump ran"
log_test "demo: tcpdump sees the offloaded connection's frames both ways"

say "The administrator hands the connection back in mid-transfer"
# Automatic offload off first, or the policy would offer the connection
# to the engine again (an administrator's handback is a passing reason).
# toectl monitor, in the background, prints the event.
ctl dev set "$TOE" auto off
hns "$TOECTL" -j monitor count 1 > "$TMP/mon" 2> "$TMP/mon.err" {TOE_STDOUT}>&- &
mon=$!
defer "kill $mon 2> /dev/null"
toe_busywait 10000 grep -q monitoring "$TMP/mon.err"
check_err $? "toectl monitor did not start"
ctl conn handback sport 8080
check_err $? "toectl conn handback failed"
toe_wait_conns 0 $((30 * TOE_SLOW))
check_err $? "the connection was not handed back"
toe_wait_pid 30 "$mon" "toectl monitor"
check_err $? "toectl monitor saw no event"
run "cat $TMP/mon"
[ "$(python3 -c '
import json, sys
e = json.loads(open(sys.argv[1]).readline())
print(e["event"], e["local"], e["reason"])' "$TMP/mon")" = "handback 10.82.0.1:8080 admin" ]
check_err $? "toectl monitor: $(cat "$TMP/mon")"
run "grep -o 'toe_handback: .*given_back=[0-9]*' $INST/trace"
grep -q "toe_handback: .* src=10\.82\.0\.1:8080 .* reason=admin err=0 " "$INST/trace"
check_err $? "no toe:toe_handback event with reason admin"
kill -0 "$curl" 2> /dev/null
check_err $? "the download ended before the handback"
log_test "demo: toectl hands it back in mid-transfer; monitored and traced"

say "Linux TCP finishes the download; the file arrives intact"
toe_wait_pid 120 "$curl" curl
check_err $? "curl failed: $(cat "$TMP/curl.log")"
run "sha256sum $TMP/blob.got | cut -c1-64 | tee $TMP/sum.got"
cmp -s "$TMP/sum.served" "$TMP/sum.got"
check_err $? "the file differs"
[ "$(toe_dev_stat "$H" handovers)" = 1 ]
check_err $? "offloaded again after the handback: $(toe_dev_stat "$H" handovers) handovers"
run "nsenter --net=/run/netns/$H cat /proc/net/toe/devices | cut -d' ' -f1,6,13-15"
log_test "demo: the file arrived intact (SHA-256), across the handback"

exit "$EXIT_STATUS"
