#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The offloading side as a server, the way users run it: connections it
# accepts are offloaded automatically. A web server's download (256 MB by
# default, TOE_SERVER_MB, sent with sendfile() as nginx does) over IPv4
# and IPv6; an echo server (socat) that carries 8 MB, pauses 3 s and
# carries 8 MB more while the administrator forces a handback, during the
# pause or during the second half. Every byte is compared by SHA-256 at
# the peer, the device's counters show the connection was offloaded, and
# at the end both modules unload: nothing still holds them.

source "$(dirname "$0")/lib.sh"

toe_sim_prereq ip python3 nsenter socat

XFER=$(dirname "$0")/toe_xfer.py
H=toe-srv-h-$$
P=toe-srv-p-$$
TOE_DIAG_NS="$H $P"
TMP=$(mktemp -d)
defer rm -rf "$TMP"
DBG=/sys/kernel/debug/toesim/0
BYTES=$((${TOE_SERVER_MB:-256} * 1024 * 1024))

toe_load toe toesim || fail "cannot load toe, toesim"
defer toe_unload toesim toe

toe_pair "$H" "$P" 10.78.0 2001:db8:78 ||
	fail "cannot create the namespaces and veth pair"
toe_sim_up "$H" vh || fail "cannot create and enable a toesim instance"
[ -w "$DBG/force_handback" ] || skip "no toesim debugfs (mount debugfs)"
echo 1 > "/sys/class/toe/$TOE/auto_offload" || fail "cannot turn auto_offload on"
echo $((1024 * 1024)) > "/sys/class/toe/$TOE/min_bytes"

stat() {
	toe_dev_stat "$H" "$1"
}

# Segments Linux TCP sent in the host's netns (an engine's are not
# counted there).
outsegs() {
	ip netns exec "$H" awk '/^Tcp:/ {
		if (!h) { for (i = 1; i <= NF; i++) c[$i] = i; h = 1 }
		else print $c["OutSegs"] }' /proc/net/snmp
}

# The download: the server (host, offloading) sends BYTES with sendfile()
# and reads the client's short request; the client (peer) sends 4 KB,
# keeps its side open as an HTTP client does (a FIN would hand the
# connection back) and reads to the end.
for fam in 4 6; do
	[ $fam = 4 ] && addr=10.78.0.1 || addr=2001:db8:78::1
	[ $fam = 4 ] && six= || six=--v6
	port=530$fam
	a0=$(stat auto_offloads)
	tx0=$(cat "$DBG/tx_frames")
	out0=$(outsegs)

	timeout 600 ip netns exec "$H" python3 "$XFER" server "$port" $six \
		--send "$BYTES" --sendfile > "$TMP/d$fam.s" 2>&1 &
	server=$!
	toe_wait_listen "$H" "$port" || fail "IPv$fam: no listener"
	ip netns exec "$P" python3 "$XFER" client "$addr" "$port" \
		--send 4096 --late-shutdown > "$TMP/d$fam.c" 2>&1 &
	client=$!
	toe_wait_pid 500 "$client" "IPv$fam download"
	check_err $? "IPv$fam: the client did not finish"
	toe_wait_pid 60 "$server" "IPv$fam server"
	check_err $? "IPv$fam: the server failed"

	toe_xfer_ok "$TMP/d$fam.c" "$TMP/d$fam.s" 4096 "$BYTES"
	check_err $? "IPv$fam: bytes differ"
	[ $(($(stat auto_offloads) - a0)) -eq 1 ]
	check_err $? "IPv$fam: the accepted connection was not offloaded once: $(stat auto_offloads) automatic offloads (from $a0), $(stat auto_refused) refused"
	# Linux TCP sent the first megabyte (min_bytes) and what passed
	# before the policy's next look (every 100 ms: several MB at full
	# speed), at most an eighth in full-sized segments; the engine the
	# rest.
	linux=$(($(outsegs) - out0))
	[ "$linux" -le $((BYTES / 8 / 1400 + 1000)) ] &&
		[ $(($(cat "$DBG/tx_frames") - tx0)) -ge $((BYTES >> 16)) ]
	check_err $? "IPv$fam: the engine did not carry the download: Linux TCP sent $linux segments, toesim $(($(cat "$DBG/tx_frames") - tx0)) frames"
	log_test "IPv$fam: $((BYTES >> 20)) MB download by sendfile() from an offloaded accepted socket"
done

# echo_client ADDR PORT: 8 MB to the echo server and the echo back, a 3 s
# pause, 8 MB more, paced over some 2.5 s so that a handback lands inside
# it; prints "pause" and "second" as each phase starts, then
# a JSON line with the SHA-256 of what it sent and of what came back.
ECHO_PY='
import hashlib, json, os, socket, sys, threading, time
addr, port = sys.argv[1], int(sys.argv[2])
half = 8 << 20
s = socket.create_connection((addr, port))
sent, got = hashlib.sha256(), hashlib.sha256()
nsent = ngot = 0
block = os.urandom(1 << 20)

def send(n, pace):
    global nsent
    while n:
        time.sleep(pace)
        off = (nsent * 7919) % (len(block) - 65536)
        buf = block[off:off + min(65536, n)]
        s.sendall(buf)
        sent.update(buf)
        nsent += len(buf)
        n -= len(buf)

def recv(n):
    global ngot
    while n:
        buf = s.recv(min(65536, n))
        if not buf:
            raise SystemExit("EOF after %d bytes" % ngot)
        got.update(buf)
        ngot += len(buf)
        n -= len(buf)

for phase in ("first", "second"):
    print(phase, flush=True)
    t = threading.Thread(target=send,
                         args=(half, 0.02 if phase == "second" else 0))
    t.start()
    recv(half)
    t.join()
    if phase == "first":
        print("pause", flush=True)
        time.sleep(3)
s.shutdown(socket.SHUT_WR)
rest = s.recv(1)
print(json.dumps({"sent": nsent, "received": ngot, "eof": rest == b"",
                  "same": sent.hexdigest() == got.hexdigest()}), flush=True)
'

# wait_line FILE WORD: wait up to 60 s for a line WORD in FILE.
wait_line() {
	local i

	for ((i = 0; i < 600; i++)); do
		grep -qx "$2" "$1" 2> /dev/null && return 0
		sleep 0.1
	done
	return 1
}

for fam in 4 6; do
	[ $fam = 4 ] && addr=10.78.0.1 || addr=2001:db8:78::1
	[ $fam = 4 ] && listen=TCP4-LISTEN || listen=TCP6-LISTEN
	for when in pause second; do
		port=531$fam
		out=$TMP/e$fam$when
		h0=$(stat handbacks)

		ip netns exec "$H" timeout 120 socat "$listen:$port,reuseaddr" PIPE &
		server=$!
		toe_wait_listen "$H" "$port" || fail "IPv$fam: no echo listener"
		ip netns exec "$P" python3 -c "$ECHO_PY" "$addr" "$port" > "$out" 2>&1 &
		client=$!
		# The handback: a second into the pause, or 0.2 s into the
		# second half.
		wait_line "$out" "$when" || {
			check_err 1 "IPv$fam: the client did not reach its $when in 60 s"
			toe_diag "$H" "$P" >&"$TOE_STDOUT"
		}
		[ $when = pause ] && sleep 1 || sleep 0.2
		[ "$(cat "/sys/class/toe/$TOE/conns")" -eq 1 ]
		check_err $? "IPv$fam: the echo connection is not offloaded at the handback"
		echo 1 > "$DBG/force_handback"
		# That handback, not the FIN's at the end.
		for ((i = 0; i < 50; i++)); do
			[ "$(stat handbacks)" -gt "$h0" ] && break
			sleep 0.1
		done
		[ "$(stat handbacks)" -gt "$h0" ] && kill -0 "$client" 2> /dev/null
		check_err $? "IPv$fam: no handback while the echo ran"
		toe_wait_pid 120 "$client" "IPv$fam echo client"
		check_err $? "IPv$fam: the echo client failed: $(tail -n 1 "$out")"
		toe_wait_pid 30 "$server" "IPv$fam echo server"
		check_err $? "IPv$fam: socat failed"

		grep -q '"sent": 16777216, "received": 16777216, "eof": true, "same": true' "$out"
		check_err $? "IPv$fam: echo differs: $(tail -n 1 "$out")"
		log_test "IPv$fam: echo 8+8 MB across a pause, handback during the $when"
	done
done

# Nothing may still hold the modules: the instance goes, then both unload.
echo 0 > /sys/bus/toesim/del_device
check_err $? "cannot delete the toesim instance"
if ! toe_mod_builtin toesim && ! toe_mod_builtin toe; then
	toe_unload toesim toe
	check_err $? "rmmod failed: $(cat /sys/module/toe/refcnt 2> /dev/null) references on toe"
	! toe_mod_loaded toesim && ! toe_mod_loaded toe
	check_err $? "a module is still loaded"
fi
log_test "toesim and toe unload after the runs"

exit "$EXIT_STATUS"
