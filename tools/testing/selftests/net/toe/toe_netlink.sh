#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The "toe" generic netlink family through toectl (tools/toe/toectl),
# against the kernel's state as sysfs and /proc/net/toe report it: the
# device, human and JSON, in its netns and not in another; settings
# changed and read back, bad values refused with the kernel's message
# and nothing changed, and by an unprivileged user not at all; the live
# connections with the engine's figures, filtered; the administrator's
# handback; and `toectl monitor` receiving one event per transition of a
# scripted sequence. Requests toectl would never send are refused
# (toe_nl_bad.py). And the YAML spec against the code (toe_spec.py),
# and the sysfs files against Documentation/ABI/testing/sysfs-class-toe.

source "$(dirname "$0")/lib.sh"

toe_sim_prereq ip python3 nsenter setpriv cc
python3 -c 'import yaml, pyroute2' 2> /dev/null ||
	fail "python3-yaml or python3-pyroute2 is missing (scripts/deps.sh)"

XFER=$(dirname "$0")/toe_xfer.py
toe_toectl
H=toe-nl-h-$$
P=toe-nl-p-$$
TOE_DIAG_NS="$H $P"
TMP=$(mktemp -d)
defer rm -rf "$TMP"
MB=$((1024 * 1024))

toe_load toe toesim || fail "cannot load toe, toesim"
defer toe_unload toesim

toe_pair "$H" "$P" 10.83.0 || fail "cannot create the namespaces and veth pair"
toe_sim_up "$H" vh || fail "cannot create and enable a toesim instance"
SYS=/sys/class/toe/$TOE

hctl() { ip netns exec "$H" "$TOECTL" "$@"; }
pctl() { ip netns exec "$P" "$TOECTL" "$@"; }

stat() {
	toe_dev_stat "$H" "$1"
}

expect() {
	[ "$2" = "$3" ]
	check_err $? "$1: got '$2', want '$3'"
}

# json FILE EXPR: EXPR (Python, over the parsed JSON as j) of FILE.
json() {
	python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# --- the spec ----------------------------------------------------------------------

python3 "$(dirname "$0")/toe_spec.py" "$TOP"
check_err $? "the YAML spec and the code differ"
log_test "netlink: the YAML spec matches the uapi header and the kernel's operations"

# --- devices -----------------------------------------------------------------------

# Every attribute the class has is in the ABI document, and the other
# way round.
for f in "$SYS"/*; do
	[ -f "$f" ] && [ "${f##*/}" != uevent ] && echo "${f##*/}"
done | sort > "$TMP/attrs"
sed -n 's|^What:[[:space:]]*/sys/class/toe/<toedev>/||p' \
	"$TOP/Documentation/ABI/testing/sysfs-class-toe" | sort > "$TMP/abi"
diff "$TMP/attrs" "$TMP/abi" > "$TMP/abi.diff"
check_err $? "sysfs and Documentation/ABI/testing/sysfs-class-toe differ: $(tr '\n' ' ' < "$TMP/abi.diff")"
log_test "netlink: sysfs attributes and their ABI document agree"

hctl -j dev show > "$TMP/dev.json"
check_err $? "toectl -j dev show failed"
expect "devices" "$(json "$TMP/dev.json" 'len(j)')" 1
expect "name/driver/state" \
	"$(json "$TMP/dev.json" 'j[0]["name"] + "/" + j[0]["driver"] + "/" + j[0]["state"]')" \
	"$TOE/toesim/up"
expect "ports" "$(json "$TMP/dev.json" '",".join(j[0]["ports"])')" vh
expect "conn_limit" "$(json "$TMP/dev.json" 'j[0]["conn_limit"]')" "$(cat "$SYS/conn_limit")"
expect "min_bytes" "$(json "$TMP/dev.json" 'j[0]["min_bytes"]')" "$(cat "$SYS/min_bytes")"
expect "ulp_access" "$(json "$TMP/dev.json" 'j[0]["ulp_access"]')" "$(cat "$SYS/ulp_access")"
expect "features" "$(json "$TMP/dev.json" '" ".join(j[0]["features"]) or "none"')" \
	"$(cat "$SYS/features")"
expect "stats.handovers" "$(json "$TMP/dev.json" 'j[0]["stats"]["handovers"]')" \
	"$(stat handovers)"
expect "stats.tap_tx" "$(json "$TMP/dev.json" 'j[0]["stats"]["tap_tx"]')" "$(stat tap_tx)"
hctl dev show "$TOE" > "$TMP/dev.txt"
check_err $? "toectl dev show $TOE failed"
grep -q "^$TOE: driver toesim state up ports vh " "$TMP/dev.txt"
check_err $? "human output: $(head -n 1 "$TMP/dev.txt")"
log_test "netlink: dev show, human and JSON, as sysfs and /proc report it"

pctl -j dev show > "$TMP/pdev.json"
expect "devices seen from the peer's netns" "$(json "$TMP/pdev.json" 'len(j)')" 0
pctl dev show "$TOE" > /dev/null 2> "$TMP/err"
expect "dev show from another netns: exit" $? 2
grep -q "no such offload device here" "$TMP/err"
check_err $? "no extack message: $(cat "$TMP/err")"
hctl dev show toe99 > /dev/null 2> "$TMP/err"
expect "unknown device: exit" $? 2
grep -q "no such offload device here" "$TMP/err"
check_err $? "no extack message: $(cat "$TMP/err")"
log_test "netlink: a device is visible only in its ports' netns"

hctl dev set "$TOE" min_bytes 12345 low_rate_secs 7 ulp_access all
check_err $? "dev set failed"
expect "min_bytes" "$(cat "$SYS/min_bytes")" 12345
expect "low_rate_secs" "$(cat "$SYS/low_rate_secs")" 7
expect "ulp_access" "$(cat "$SYS/ulp_access")" all
hctl dev set "$TOE" min_bytes 1 low_rate_secs 0 2> "$TMP/err"
expect "low_rate_secs 0: exit" $? 2
grep -q "Numerical result out of range\|out of range" "$TMP/err"
check_err $? "low_rate_secs 0: $(cat "$TMP/err")"
expect "nothing changed after a refused set" "$(cat "$SYS/min_bytes")" 12345
hctl dev set "$TOE" low_rate_secs 3601 2> /dev/null
expect "low_rate_secs 3601: exit" $? 2
hctl dev set toe99 min_bytes 1 2> "$TMP/err"
expect "set on an unknown device: exit" $? 2
grep -q "no such offload device here" "$TMP/err"
check_err $? "unknown device: $(cat "$TMP/err")"
ip netns exec "$H" setpriv --reuid=65534 --regid=65534 --clear-groups \
	--inh-caps=-all "$TOECTL" dev set "$TOE" min_bytes 1 2> "$TMP/err"
expect "unprivileged set: exit" $? 2
grep -q "Operation not permitted" "$TMP/err"
check_err $? "unprivileged set: $(cat "$TMP/err")"
expect "nothing changed by an unprivileged user" "$(cat "$SYS/min_bytes")" 12345
ip netns exec "$H" setpriv --reuid=65534 --regid=65534 --clear-groups \
	--inh-caps=-all "$TOECTL" dev show "$TOE" > /dev/null
check_err $? "an unprivileged user cannot read the device"
hctl dev set "$TOE" min_bytes 0 low_rate_secs 5 ulp_access admin
log_test "netlink: dev set changes what it says, refuses bad values and other users"

# What toectl never sends: missing, misshapen, unknown and out-of-range
# attributes, through pyroute2.
ip netns exec "$H" python3 "$(dirname "$0")/toe_nl_bad.py" "$TOE" > "$TMP/bad" 2>&1
check_err $? "a malformed request was not refused: $(grep -v '^ok' "$TMP/bad" | tr '\n' ' ')"
[ "$(grep -c '^ok' "$TMP/bad")" = 12 ]
check_err $? "toe_nl_bad.py ran $(grep -c '^ok' "$TMP/bad") of 12 cases: $(tail -n 3 "$TMP/bad" | tr '\n' ' ')"
[ "$RET" = 0 ] || cat "$TMP/bad" >&"$TOE_STDOUT"
log_test "netlink: malformed requests refused (EINVAL, ERANGE), nothing changed"

# --- connections and events --------------------------------------------------------

# The monitor, first: a handover, the administrator's handback, and the
# device going down, in that order.
ip netns exec "$H" "$TOECTL" -j monitor count 3 > "$TMP/mon" 2> "$TMP/mon.err" \
	{TOE_STDOUT}>&- &
mon=$!
defer "kill $mon 2> /dev/null"
for ((i = 0; i < 100; i++)); do
	grep -q monitoring "$TMP/mon.err" && break
	sleep 0.1
done
# The client holds its side until the test is done with the connection
# (the peer's bytes wait in its receive buffer): offloaded however slow
# the commands below.
timeout 120 ip netns exec "$P" python3 "$XFER" server 5400 --send $((4 * MB)) \
	--late-shutdown > "$TMP/x.s" 2>&1 &
server=$!
toe_wait_listen "$P" 5400 || fail "the server is not listening"
timeout 120 ip netns exec "$H" python3 "$XFER" client 10.83.0.2 5400 \
	--send $((4 * MB)) --ulp --wait-for "$TMP/go" > "$TMP/x.c" 2>&1 &
client=$!
toe_wait_conns 1 $((30 * TOE_SLOW))
check_err $? "the connection was not offloaded"
for ((i = 0; i < 50; i++)); do
	[ "$(toe_conn_stat "$H" 10.83.0.2:5400 rx_bytes)" -gt 0 ] 2> /dev/null && break
	sleep 0.1
done

hctl -j conn show > "$TMP/conn.json"
check_err $? "toectl -j conn show failed"
expect "connections" "$(json "$TMP/conn.json" 'len(j)')" 1
expect "local/remote/dev" \
	"$(json "$TMP/conn.json" 'j[0]["local"].split(":")[0] + " " + j[0]["remote"] + " " + j[0]["dev"]')" \
	"10.83.0.1 10.83.0.2:5400 $TOE"
expect "handovers/handbacks" \
	"$(json "$TMP/conn.json" '"%d/%d" % (j[0]["handovers"], j[0]["handbacks"])')" 1/0
# The engine's window, where ss has Linux TCP's, held at 0 (which ss
# leaves out); the RTO the engine reports into the socket, which ss
# shows too.
ip netns exec "$H" ss -tinH dport = :5400 > "$TMP/ss"
expect "ss: Linux TCP's cwnd while offloaded" \
	"$(sed -n 's/.* cwnd:\([0-9]*\).*/\1/p' "$TMP/ss")" ""
expect "engine's cwnd and bytes received" \
	"$(json "$TMP/conn.json" 'j[0]["cwnd"] > 0 and j[0]["rx_bytes"] > 0 and j[0]["srtt_us"] > 0')" True
expect "RTO, as ss shows it" "$(json "$TMP/conn.json" 'j[0]["rto_ms"]')" \
	"$(sed -n 's/.* rto:\([0-9]*\).*/\1/p' "$TMP/ss")"
expect "the same as /proc" "$(json "$TMP/conn.json" 'j[0]["local"]')" \
	"$(toe_conn_stat "$H" 10.83.0.2:5400 local)"
hctl conn show > "$TMP/conn.txt"
grep -q "^10\.83\.0\.1:[0-9]* 10\.83\.0\.2:5400 dev $TOE .* handovers 1 handbacks 0" "$TMP/conn.txt"
check_err $? "human output: $(cat "$TMP/conn.txt")"
expect "filtered by dport" "$(hctl -j conn show dport 5400 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" 1
expect "filtered by another dport" "$(hctl -j conn show dport 5401 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" 0
expect "filtered by device" "$(hctl -j conn show dev "$TOE" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" 1
expect "filtered by addresses" "$(hctl -j conn show local 10.83.0.1 remote 10.83.0.2 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" 1
expect "filtered by another remote address" "$(hctl -j conn show remote 10.83.0.9 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" 0
expect "filtered by an IPv6 remote address" "$(hctl -j conn show remote 2001:db8::2 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" 0
expect "seen from the peer's netns" "$(pctl -j conn show | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" 0
log_test "netlink: conn show, with the engine's figures, filtered, per netns"

hctl conn handback remote 10.83.0.9 2> "$TMP/err"
expect "handback matching nothing: exit" $? 2
grep -q "no offloaded connection matches" "$TMP/err"
check_err $? "handback matching nothing: $(cat "$TMP/err")"
hctl conn handback remote 10.83.0.2 dport 5400
check_err $? "conn handback failed"
toe_wait_conns 0 $((30 * TOE_SLOW))
check_err $? "the connection was not handed back"
expect "handbacks counted" "$(stat handbacks)" 1
hctl dev set "$TOE" enabled off
check_err $? "dev set enabled off failed"
expect "state" "$(cat "$SYS/state")" down
toe_wait_pid 30 "$mon" "toectl monitor"
check_err $? "toectl monitor did not see three events"
hctl dev set "$TOE" enabled on
touch "$TMP/go"
wait "$client" && wait "$server" &&
	toe_xfer_ok "$TMP/x.c" "$TMP/x.s" $((4 * MB)) $((4 * MB))
check_err $? "bytes differ after the handback"
log_test "netlink: conn handback asks the connection back, bytes intact"

expect "events" "$(python3 -c '
import json, sys
print(" ".join(json.loads(l)["event"] for l in open(sys.argv[1]) if l.strip()))' "$TMP/mon")" \
	"handover handback dev"
expect "the handback's reason and connection" "$(python3 -c '
import json, sys
e = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][1]
print(e["reason"], e["remote"], e["dev"])' "$TMP/mon")" "admin 10.83.0.2:5400 $TOE"
expect "the device's new state" "$(python3 -c '
import json, sys
e = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][2]
print(e["name"], e["state"])' "$TMP/mon")" "$TOE down"
[ "$RET" = 0 ] || cat "$TMP/mon" "$TMP/mon.err" >&"$TOE_STDOUT"
log_test "netlink: toectl monitor sees one event per transition, in order"

# --- a refusal ------------------------------------------------------------------------

# A TCP_ULP request the device's ulp_access denies: the connection stays
# Linux TCP's, and the events group hears of it, with why.
hctl dev set "$TOE" ulp_access none
check_err $? "dev set ulp_access none failed"
ip netns exec "$H" "$TOECTL" -j monitor count 1 > "$TMP/ref" 2> "$TMP/ref.err" \
	{TOE_STDOUT}>&- &
mon=$!
defer "kill $mon 2> /dev/null"
toe_busywait 10000 grep -q monitoring "$TMP/ref.err"
check_err $? "toectl monitor did not join the events group"
u0=$(stat ulp_denied)
timeout 120 ip netns exec "$P" python3 "$XFER" server 5401 --send "$MB" \
	> "$TMP/r.s" 2>&1 &
server=$!
toe_wait_listen "$P" 5401 || fail "the server is not listening"
timeout 120 ip netns exec "$H" python3 "$XFER" client 10.83.0.2 5401 \
	--send "$MB" --ulp > "$TMP/r.c" 2>&1
check_err $? "the client failed"
wait "$server" && toe_xfer_ok "$TMP/r.c" "$TMP/r.s" "$MB" "$MB"
check_err $? "bytes differ on the refused connection"
expect "TCP_ULP toe" "$(toe_xfer_ulp "$TMP/r.c")" EPERM
expect "ulp_denied" "$(stat ulp_denied)" $((u0 + 1))
toe_wait_pid 30 "$mon" "toectl monitor"
check_err $? "toectl monitor saw no event"
expect "the refusal event" "$(python3 -c '
import json, sys
e = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][0]
print(e["event"], e["refusal"], e["error"], e["remote"], e["dev"])' "$TMP/ref")" \
	"refused perm 1 10.83.0.2:5401 $TOE"
hctl dev set "$TOE" ulp_access admin
[ "$RET" = 0 ] || cat "$TMP/ref" "$TMP/ref.err" >&"$TOE_STDOUT"
log_test "netlink: a refused TCP_ULP request is an event, with its reason"

exit "$EXIT_STATUS"
