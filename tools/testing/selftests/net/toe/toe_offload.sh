#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Offloaded TCP connections on toesim against an unmodified Linux peer:
# bytes compared by SHA-256 in both directions, the engine's counters read
# back, frames seen on the wire by tcpdump, loss on the link, the table
# full case, and offload refused where it must be.

source "$(dirname "$0")/lib.sh"

toe_sim_prereq ip python3 nsenter tcpdump tc

XFER=$(dirname "$0")/toe_xfer.py
H=toe-off-h-$$
P=toe-off-p-$$
TOE_DIAG_NS="$H $P"
DBG=/sys/kernel/debug/toesim/0
MB=${TOE_OFFLOAD_MB:-4}
TMP=$(mktemp -d)
defer rm -rf "$TMP"

toe_load toe toesim || fail "cannot load toe, toesim"
defer toe_unload toesim

toe_pair "$H" "$P" 10.73.0 2001:db8:73 ||
	fail "cannot create the namespaces and veth pair"
# The loss group needs netem: known before the first group runs, so that
# a skip never hides a failure reported earlier.
{ tc -n "$H" qdisc add dev vh root netem delay 0 &&
	tc -n "$H" qdisc del dev vh root; } > /dev/null 2>&1 ||
	skip "netem not available"

# new_instance ARGS: toesim instance 0 on vh.
new_instance() {
	nsenter --net="/run/netns/$H" sh -c "echo '0 vh $*' > /sys/bus/toesim/new_device"
}

del_instance() {
	echo 0 > /sys/bus/toesim/del_device
}

new_instance || fail "cannot create a toesim instance"
defer del_instance
TOE=$(toe_sim_name)
echo 1 > "/sys/class/toe/$TOE/enabled" || fail "cannot enable $TOE"

counter() {
	cat "$DBG/$1"
}

# xfer NAME ADDR PORT CLIENT_BYTES SERVER_BYTES [client options]: a
# bidirectional transfer; leaves NAME.c and NAME.s (JSON) in $TMP.
xfer() {
	local name=$1 addr=$2 port=$3 cb=$4 sb=$5 six=

	shift 5
	case $addr in *:*) six=--v6 ;; esac
	timeout 300 ip netns exec "$P" python3 "$XFER" server "$port" $six \
		--send "$sb" ${RATE:+--rate "$RATE"} \
		${SERVER_HOLD:+--hold "$SERVER_HOLD"} \
		${SERVER_LATE:+--late-shutdown} > "$TMP/$name.s" 2>&1 &
	server=$!
	toe_wait_listen "$P" "$port" || return 1
	toe_bounded 200 ip netns exec "$H" python3 "$XFER" client "$addr" "$port" \
		--send "$cb" "$@" > "$TMP/$name.c" 2>&1
	wait "$server"
}

# check_xfer NAME CLIENT_BYTES SERVER_BYTES: both directions arrived whole.
check_xfer() {
	toe_xfer_ok "$TMP/$1.c" "$TMP/$1.s" "$2" "$3"
}

ulp_result() {
	toe_xfer_ulp "$TMP/$1.c"
}

BYTES=$((MB * 1024 * 1024))

# --- offloaded transfers ------------------------------------------------------

for fam in 4 6; do
	[ $fam = 4 ] && addr=10.73.0.2 || addr=2001:db8:73::2
	rx0=$(counter rx_frames)
	tx0=$(counter tx_frames)
	toe_capture_start "$H" vh "$TMP/v$fam.pcap" tcp port 500$fam
	xfer "v$fam" "$addr" "500$fam" "$BYTES" $((BYTES / 2)) --ulp
	check_err $? "IPv$fam transfer did not complete"
	toe_capture_stop "$TOE_CAPTURE" "$TMP/v$fam.pcap"
	expect_ulp=$(ulp_result "v$fam")
	[ "$expect_ulp" = ok ]
	check_err $? "IPv$fam: TCP_ULP toe failed: $expect_ulp"
	check_xfer "v$fam" "$BYTES" $((BYTES / 2))
	check_err $? "IPv$fam: bytes differ"
	[ "$(counter rx_frames)" -gt $((rx0 + 10)) ] && [ "$(counter tx_frames)" -gt $((tx0 + 10)) ]
	check_err $? "IPv$fam: the engine did not carry the data (rx/tx frames did not move)"
	seen=$(tcpdump -n -r "$TMP/v$fam.pcap" 2> /dev/null | grep -c "length [1-9]")
	[ "$seen" -gt 10 ]
	check_err $? "IPv$fam: tcpdump saw only $seen data frames of the offloaded connection"
	[ "$(cat "/sys/class/toe/$TOE/conns")" = 0 ]
	check_err $? "IPv$fam: connection count not back to 0 after close"
	log_test "IPv$fam offloaded transfer, $MB MB and $((MB / 2)) MB, SHA-256 both ways"
done

# --- handover of a busy connection ---------------------------------------------

# The peer reads nothing for 2 s, so when the client asks for the offload
# after writing 1 MB (an eighth of the transfer if that is less, so that
# the peer's half is not over and its FIN in yet when the debug kernel's
# transfers are short) most of it is still queued, some in flight: the
# engine takes those bytes over and nothing is lost or sent twice.
rx0=$(counter rx_frames)
after=$((BYTES / 8 < 1024 * 1024 ? BYTES / 8 : 1024 * 1024))
SERVER_HOLD=2 xfer busy 10.73.0.2 5046 "$BYTES" $((BYTES / 2)) \
	--ulp-after "$after"
check_err $? "transfer did not complete"
busy_ulp=$(ulp_result busy)
[ "$busy_ulp" = ok ]
check_err $? "TCP_ULP toe with bytes queued failed: $busy_ulp"
check_xfer busy "$BYTES" $((BYTES / 2))
check_err $? "bytes differ"
[ "$(counter rx_frames)" -gt $((rx0 + 10)) ]
check_err $? "the engine did not carry the data"
log_test "handover with bytes queued and in flight: offloaded, intact"

# --- what the peer negotiated ---------------------------------------------------

# variant NAME SYSCTL...: one offloaded transfer with the peer so configured.
variant() {
	local name=$1 kv

	shift
	for kv in "$@"; do
		ip netns exec "$P" sysctl -qw "$kv" || return 1
	done
	xfer "$name" 10.73.0.2 5040 $((BYTES / 2)) $((BYTES / 2)) --ulp
	local rc=$?
	ip netns exec "$P" sysctl -qw net.ipv4.tcp_timestamps=1 \
		net.ipv4.tcp_sack=1 net.ipv4.tcp_window_scaling=1
	[ $rc = 0 ] && [ "$(ulp_result "$name")" = ok ] &&
		check_xfer "$name" $((BYTES / 2)) $((BYTES / 2))
}

variant nots net.ipv4.tcp_timestamps=0
check_err $? "peer without timestamps"
variant nosack net.ipv4.tcp_sack=0
check_err $? "peer without SACK"
variant nowscale net.ipv4.tcp_window_scaling=0
check_err $? "peer without window scaling"
log_test "peer with timestamps, SACK or window scaling off: intact"

ip -n "$H" link set vh mtu 9000
ip -n "$P" link set vp mtu 9000
xfer jumbo 10.73.0.2 5041 "$BYTES" "$BYTES" --ulp
check_err $? "MTU 9000 transfer did not complete"
[ "$(ulp_result jumbo)" = ok ] && check_xfer jumbo "$BYTES" "$BYTES"
check_err $? "MTU 9000: bytes differ or not offloaded"
ip -n "$H" link set vh mtu 1500
ip -n "$P" link set vp mtu 1500
log_test "MTU 9000 both ways: intact"

# --- the peer's MAC changes in the middle of a transfer --------------------------

n0=$(counter hw_neigh_updates)
RATE=$((BYTES / 8)) xfer mac 10.73.0.2 5042 "$BYTES" "$BYTES" --ulp \
	--rate $((BYTES / 8)) &
macpid=$!
toe_wait_carried "$H" 10.73.0.2:5042 $((BYTES / 16)) 20
check_err $? "the engine did not carry $((BYTES / 16)) bytes before the MAC change"
ip -n "$P" link set vp address 02:00:00:73:00:02
ip -n "$H" neigh replace 10.73.0.2 lladdr 02:00:00:73:00:02 dev vh nud reachable
wait "$macpid"
check_err $? "transfer across a MAC change did not complete"
[ "$(ulp_result mac)" = ok ] && check_xfer mac "$BYTES" "$BYTES"
check_err $? "bytes differ across a MAC change"
[ "$(counter hw_neigh_updates)" -gt "$n0" ]
check_err $? "the engine never applied the link address update"
log_test "peer MAC change mid-transfer reaches the engine, transfer intact"

# --- many connections at once ------------------------------------------------------

NCONN=${TOE_OFFLOAD_CONNS:-1000}
ip netns exec "$P" python3 "$(dirname "$0")/toe_many.py" server 5050 > /dev/null 2>&1 &
manysrv=$!
defer kill "$manysrv"
toe_wait_listen "$P" 5050 || fail "the echo server did not start"
res=$(timeout 600 ip netns exec "$H" python3 "$(dirname "$0")/toe_many.py" client \
	10.73.0.2 5050 "$NCONN" 65536)
expect_many=$(printf '{"connections": %d, "offloaded": %d, "intact": %d}' \
	"$NCONN" "$NCONN" "$NCONN")
[ "$res" = "$expect_many" ]
check_err $? "$NCONN parallel connections: $res"
log_test "$NCONN offloaded connections moving data at once, each echoed intact"

# --- IPv4-mapped IPv6 sockets are IPv4 connections ------------------------------

# An AF_INET6 socket connected to ::ffff:a.b.c.d carries IPv4: a device
# that offloads IPv4 only takes it, one that offloads IPv6 only does not.
defer 'echo "ipv4 ipv6" > "/sys/class/toe/$TOE/families"'
echo ipv4 > "/sys/class/toe/$TOE/families"
xfer mapped4 ::ffff:10.73.0.2 5012 $((BYTES / 4)) $((BYTES / 4)) --ulp
check_err $? "IPv4-mapped transfer did not complete"
[ "$(ulp_result mapped4)" = ok ]
check_err $? "TCP_ULP toe, IPv4-mapped, device ipv4: got $(ulp_result mapped4), want ok"
check_xfer mapped4 $((BYTES / 4)) $((BYTES / 4))
check_err $? "bytes differ on the offloaded IPv4-mapped connection"
echo ipv6 > "/sys/class/toe/$TOE/families"
xfer mapped6 ::ffff:10.73.0.2 5013 $((BYTES / 8)) $((BYTES / 8)) --ulp
check_err $? "IPv4-mapped transfer on an ipv6 device did not complete"
[ "$(ulp_result mapped6)" = ENOTSUP ]
check_err $? "TCP_ULP toe, IPv4-mapped, device ipv6: got $(ulp_result mapped6), want ENOTSUP"
check_xfer mapped6 $((BYTES / 8)) $((BYTES / 8))
check_err $? "bytes differ in software after the refused IPv4-mapped offload"
echo "ipv4 ipv6" > "/sys/class/toe/$TOE/families"
log_test "IPv4-mapped IPv6 socket: offloaded as IPv4, refused by an IPv6-only device"

# --- unbinding the port hands its connections back ------------------------------

# A live connection (both sides send at 1 MB/s for 3 s) when the port is
# unbound from the device: back in Linux TCP at once, intact at the end;
# bound again, the port offloads the next one.
conns() {
	cat "/sys/class/toe/$TOE/conns"
}
defer "echo 1 > $DBG/port_bound"
RATE=$((1 << 20)) xfer unbind 10.73.0.2 5014 $((3 << 20)) $((3 << 20)) --ulp \
	--rate $((1 << 20)) &
xpid=$!
for _ in $(seq 50); do
	[ "$(conns)" = 1 ] && break
	sleep 0.1
done
[ "$(conns)" = 1 ]
check_err $? "the connection to unbind is not offloaded: $(conns)"
echo 0 > "$DBG/port_bound"
check_err $? "cannot unbind the port"
[ "$(conns)" = 0 ]
check_err $? "connections left on the engine after the unbind: $(conns)"
[ -z "$(cat "/sys/class/toe/$TOE/ports")" ]
check_err $? "port still listed after the unbind"
wait "$xpid"
check_err $? "transfer across the unbind did not complete"
check_xfer unbind $((3 << 20)) $((3 << 20))
check_err $? "bytes differ across the unbind"
echo 1 > "$DBG/port_bound"
check_err $? "cannot bind the port again"
xfer rebind 10.73.0.2 5015 $((BYTES / 8)) $((BYTES / 8)) --ulp
[ "$(ulp_result rebind)" = ok ]
check_err $? "TCP_ULP toe after the rebind: got $(ulp_result rebind), want ok"
check_xfer rebind $((BYTES / 8)) $((BYTES / 8))
check_err $? "bytes differ after the rebind"
log_test "port unbound under a live connection: handed back, intact; bound again, offloads"

# --- ss -K aborts an offloaded connection ----------------------------------------

# As in software: the application gets ECONNABORTED, the peer a RST, and
# the engine lets the connection go at once, while the application still
# holds the socket.
KILL_HOST='
import errno, os, socket, sys, time
s = socket.create_connection(("10.73.0.2", 5016))
s.setsockopt(socket.IPPROTO_TCP, 31, b"toe")
print("offloaded", flush=True)
s.settimeout(30)
try:
    while s.recv(1 << 16):
        pass
    print("eof", flush=True)
except OSError as e:
    print(errno.errorcode.get(e.errno, e), flush=True)
end = time.time() + 60
while not os.path.exists(sys.argv[1]) and time.time() < end:
    time.sleep(0.1)
'
timeout 120 ip netns exec "$P" python3 "$XFER" server 5016 --send $((64 << 20)) \
	--rate $((1 << 20)) > "$TMP/kill.s" 2>&1 &
kpeer=$!
toe_wait_listen "$P" 5016
ip netns exec "$H" python3 -c "$KILL_HOST" "$TMP/kill.done" > "$TMP/kill.c" 2>&1 &
khost=$!
for _ in $(seq 100); do
	grep -q offloaded "$TMP/kill.c" && [ "$(conns)" = 1 ] && break
	sleep 0.1
done
[ "$(conns)" = 1 ]
check_err $? "the connection to abort is not offloaded: $(conns)"
ip netns exec "$H" ss -K -tn dst 10.73.0.2 dport = :5016 > /dev/null
check_err $? "ss -K failed"
for _ in $(seq 100); do
	[ "$(tail -n 1 "$TMP/kill.c")" != offloaded ] && break
	sleep 0.1
done
[ "$(tail -n 1 "$TMP/kill.c")" = ECONNABORTED ]
check_err $? "the application read $(tail -n 1 "$TMP/kill.c"), not ECONNABORTED"
[ "$(conns)" = 0 ]
check_err $? "connections left on the engine after ss -K: $(conns)"
toe_wait_pid 30 "$kpeer"
[ $? != 0 ] && grep -q ConnectionResetError "$TMP/kill.s"
check_err $? "the peer was not reset: $(tail -n 1 "$TMP/kill.s")"
touch "$TMP/kill.done"
toe_wait_pid 30 "$khost"
log_test "ss -K on an offloaded connection: the engine lets go, peer reset"

# --- offload refused: TCP-MD5 keys, TCP_REPAIR ------------------------------------

# The engine signs nothing and has no repair mode: both are refused at
# handover (EOPNOTSUPP), and the connections work on in software, the
# MD5 one with every segment signed (the peer drops unsigned ones). A key
# set on a connection already offloaded hands it back before it applies:
# the peer, which takes the key once the unsigned first 64 KB are in,
# drops whatever is not signed from then on, so nothing unsigned may go.
cat > "$TMP/md5.py" <<'PY'
import hashlib, os, socket, struct, sys, threading
TCP_MD5SIG, TCP_REPAIR, TCP_ULP = 14, 19, 31
def md5(s, addr):
    sa = struct.pack("=H2s4s", socket.AF_INET, b"", socket.inet_aton(addr))
    key = b"opentoe-md5-key"
    s.setsockopt(socket.IPPROTO_TCP, TCP_MD5SIG,
                 struct.pack("=128sBBHi80s", sa, 0, 0, len(key), 0, key))
def echo(c):
    while True:
        b = c.recv(65536)
        if not b:
            break
        c.sendall(b)
    c.close()
def serve(port, key, late=False):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if key:
        md5(ls, "10.73.0.1")
    ls.bind(("0.0.0.0", port))
    ls.listen(1)
    c = ls.accept()[0]
    if late:
        first = b""
        while len(first) < 65536:
            b = c.recv(65536 - len(first))
            if not b:
                return
            first += b
        md5(c, "10.73.0.1")
        c.sendall(first)
    echo(c)
# exchange(s, data, sent): send data[sent:], read the echo of all of
# data, close; "intact" or how many bytes came back.
def exchange(s, data, sent):
    t = threading.Thread(target=s.sendall, args=(data[sent:],))
    t.start()
    got = b""
    s.settimeout(60)
    while len(got) < len(data):
        b = s.recv(65536)
        if not b:
            break
        got += b
    t.join()
    s.close()
    return "intact" if got == data else "%d bytes" % len(got)
def offloaded(s):
    me = "%s:%d " % s.getsockname()
    return any(l.startswith(me) and " offloaded " in l
               for l in open("/proc/net/toe/connections"))
def late_key(port):
    s = socket.socket()
    s.connect(("10.73.0.2", port))
    s.setsockopt(socket.IPPROTO_TCP, TCP_ULP, b"toe")
    data = os.urandom(1 << 20)
    s.sendall(data[:65536])
    before = offloaded(s)
    md5(s, "10.73.0.2")
    after = offloaded(s)
    print(port, "offloaded" if before else "software",
          "then offloaded" if after else "then back",
          exchange(s, data, 65536))
def client(port, key, repair):
    s = socket.socket()
    if key:
        md5(s, "10.73.0.2")
    s.connect(("10.73.0.2", port))
    if repair:
        s.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 1)
    try:
        s.setsockopt(socket.IPPROTO_TCP, TCP_ULP, b"toe")
        ulp = "ok"
    except OSError as e:
        ulp = os.strerror(e.errno)
    if repair:
        s.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 0)
    print(port, ulp, exchange(s, os.urandom(1 << 20), 0))
if sys.argv[1] == "server":
    ts = [threading.Thread(target=serve, args=(5017, True)),
          threading.Thread(target=serve, args=(5018, False)),
          threading.Thread(target=serve, args=(5019, False, True))]
    [t.start() for t in ts]
    print("listening", flush=True)
    [t.join() for t in ts]
else:
    client(5017, True, False)
    client(5018, False, True)
    late_key(5019)
PY
timeout 120 ip netns exec "$P" python3 "$TMP/md5.py" server > "$TMP/md5.s" 2>&1 &
mpid=$!
for _ in 1 2 3 4 5 6; do
	toe_wait_listen "$P" 5018 && toe_wait_listen "$P" 5017 &&
		toe_wait_listen "$P" 5019 && break
done
check_err $? "the MD5 and repair peers do not listen"
timeout 100 ip netns exec "$H" python3 "$TMP/md5.py" client > "$TMP/md5.c" 2>&1
check_err $? "the MD5 and repair clients failed: $(tail -n 3 "$TMP/md5.c")"
wait "$mpid"
check_err $? "the MD5 and repair peers failed: $(tail -n 3 "$TMP/md5.s")"
[ "$(cat "$TMP/md5.c")" = "5017 Operation not supported intact
5018 Operation not supported intact
5019 offloaded then back intact" ]
check_err $? "TCP-MD5 and TCP_REPAIR: $(cat "$TMP/md5.c")"
log_test "TCP-MD5 and TCP_REPAIR: refused at handover, a key set later hands back; intact"

# --- offload refused: device disabled ----------------------------------------

echo 0 > "/sys/class/toe/$TOE/enabled"
xfer off 10.73.0.2 5010 $((BYTES / 4)) $((BYTES / 4)) --ulp
check_err $? "transfer with the device disabled did not complete"
[ "$(ulp_result off)" = ENODEV ]
check_err $? "TCP_ULP toe on a disabled device: got $(ulp_result off), want ENODEV"
check_xfer off $((BYTES / 4)) $((BYTES / 4))
check_err $? "bytes differ in software after a refused offload"
log_test "disabled device: TCP_ULP fails with ENODEV, the connection works in software"
echo 1 > "/sys/class/toe/$TOE/enabled"

# --- loss and reordering on the link -------------------------------------------

# Frames leave as GSO frames within the port's gso_max_segs, here four
# segments, so that a lost frame has others behind it: the peer's SACK
# blocks name the hole. 10% of them lost on the engine's side makes a
# transfer without retransmission vanishingly rare.
ip -n "$H" link set vh gso_max_segs 4
tc -n "$H" qdisc add dev vh root netem loss 10% ||
	fail "cannot add netem to vh"
tc -n "$P" qdisc add dev vp root netem loss 1% delay 1ms reorder 25% 50%
retrans0=$(counter retrans)
sack0=$(counter sack_retrans)
ooo0=$(counter ooo)
SERVER_LATE=1 xfer loss 10.73.0.2 5020 "$BYTES" "$BYTES" --ulp --drain
check_err $? "transfer over a lossy link did not complete"
[ "$(ulp_result loss)" = ok ]
check_err $? "TCP_ULP toe failed on the lossy link: $(ulp_result loss)"
check_xfer loss "$BYTES" "$BYTES"
check_err $? "bytes differ after loss and reordering"
[ "$(counter retrans)" -gt "$retrans0" ]
check_err $? "the engine never retransmitted over a lossy link"
# A lost GSO frame is a hole of many segments: the peer's SACK blocks
# name it, and the engine resends it a segment per ACK in one recovery.
[ "$(counter sack_retrans)" -gt "$sack0" ]
check_err $? "no retransmission went by the peer's SACK blocks"
log_info "retransmissions $(( $(counter retrans) - retrans0 )) ($(( $(counter sack_retrans) - sack0 )) by SACK), fast retransmits $(counter fast_retrans), out of order $(( $(counter ooo) - ooo0 )), RTOs $(counter rto)"
# Without SACK the same link costs a round trip per hole (NewReno).
ip netns exec "$P" sysctl -qw net.ipv4.tcp_sack=0
sack0=$(counter sack_retrans)
SERVER_LATE=1 xfer lossnosack 10.73.0.2 5021 $((BYTES / 4)) $((BYTES / 4)) \
	--ulp --drain
check_err $? "transfer over a lossy link, peer without SACK, did not complete"
ip netns exec "$P" sysctl -qw net.ipv4.tcp_sack=1
[ "$(ulp_result lossnosack)" = ok ] &&
	check_xfer lossnosack $((BYTES / 4)) $((BYTES / 4))
check_err $? "bytes differ after loss, peer without SACK"
[ "$(counter sack_retrans)" = "$sack0" ]
check_err $? "retransmissions by SACK blocks a peer without SACK never sent"
tc -n "$H" qdisc del dev vh root
tc -n "$P" qdisc del dev vp root
ip -n "$H" link set vh gso_max_segs 65535
log_test "10% and 1% loss, 25% reordering: intact, retransmissions counted, SACK used"

# Duplicates and a delayed, rate-limited path: duplicate segments and
# ACKs must be recognised as such (D-SACKed, not delivered twice), and a
# 20 ms RTT with a 100 Mbit/s bottleneck exercises the window and RTO.
tc -n "$H" qdisc add dev vh root netem duplicate 1% delay 10ms rate 100mbit
tc -n "$P" qdisc add dev vp root netem duplicate 1% delay 10ms
xfer dup 10.73.0.2 5021 "$BYTES" "$BYTES" --ulp
check_err $? "transfer over a duplicating, delayed link did not complete"
[ "$(ulp_result dup)" = ok ]
check_err $? "TCP_ULP toe failed on the delayed link: $(ulp_result dup)"
check_xfer dup "$BYTES" "$BYTES"
check_err $? "bytes differ after duplication and delay"
tc -n "$H" qdisc del dev vh root
tc -n "$P" qdisc del dev vp root
log_test "1% duplication, 20 ms RTT, 100 Mbit/s: intact"

# --- sockmap: not behind the engine's back ------------------------------------

# A BPF sockmap replaces a socket's proto with its own, built from Linux
# TCP's: on an offloaded socket that would unhook the engine. Adding one is
# refused while offloaded; a software socket is accepted, and a socket in a
# sockmap is not offloaded. The refused socket keeps working.
SOCKMAP='
import ctypes, errno, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
NR_BPF, MAP_CREATE, MAP_UPDATE, SOCKMAP = 321, 0, 2, 15

class Create(ctypes.Structure):
    _fields_ = [("type", ctypes.c_uint32), ("key", ctypes.c_uint32),
                ("value", ctypes.c_uint32), ("max", ctypes.c_uint32),
                ("rest", ctypes.c_char * 112)]

class Update(ctypes.Structure):
    _fields_ = [("fd", ctypes.c_uint32), ("pad", ctypes.c_uint32),
                ("key", ctypes.c_uint64), ("value", ctypes.c_uint64),
                ("flags", ctypes.c_uint64)]

def name(e):
    # Python names 95 ENOTSUP; the kernel returns it as EOPNOTSUPP.
    return "EOPNOTSUPP" if e == errno.EOPNOTSUPP else errno.errorcode[e]

def err():
    return name(ctypes.get_errno())

def add(mfd, k, s):
    key, val = ctypes.c_uint32(k), ctypes.c_uint32(s.fileno())
    u = Update(mfd, 0, ctypes.addressof(key), ctypes.addressof(val), 0)
    return "OK" if libc.syscall(NR_BPF, MAP_UPDATE, ctypes.byref(u),
                                ctypes.sizeof(u)) == 0 else err()

def ulp(s):
    try:
        s.setsockopt(socket.IPPROTO_TCP, 31, b"toe")
        return "OK"
    except OSError as e:
        return name(e.errno)

c = Create(SOCKMAP, 4, 4, 2)
mfd = libc.syscall(NR_BPF, MAP_CREATE, ctypes.byref(c), ctypes.sizeof(c))
if mfd < 0:
    print("SKIP", err())
    sys.exit(0)
addr = (sys.argv[1], int(sys.argv[2]))
a, b = socket.create_connection(addr), socket.create_connection(addr)
r = [ulp(a), add(mfd, 0, a), add(mfd, 1, b), ulp(b)]
a.sendall(b"x" * 1000)
a.shutdown(socket.SHUT_WR)
got = b""
while True:
    d = a.recv(4096)
    if not d:
        break
    got += d
r.append(str(len(got)))
print(" ".join(r))
'
ip netns exec "$P" python3 "$(dirname "$0")/toe_many.py" server 5040 > /dev/null 2>&1 &
defer kill $!
toe_wait_listen "$P" 5040 || fail "the echo server did not start"
res=$(timeout 60 ip netns exec "$H" python3 -c "$SOCKMAP" 10.73.0.2 5040 2>&1)
case $res in
SKIP*)
	log_skip "sockmap: refused while offloaded, and its sockets not offloaded" \
		"no sockmap here: ${res#SKIP }" ;;
*)
	expect_sockmap="OK EOPNOTSUPP OK EOPNOTSUPP 1000"
	[ "$res" = "$expect_sockmap" ]
	check_err $? "ulp/sockmap/sockmap/ulp/echoed: got '$res', want '$expect_sockmap'"
	log_test "sockmap: refused while offloaded, and its sockets not offloaded" ;;
esac

# --- a kernel reader: KCM's strparser through read_sock() ------------------------

# KCM reads its TCP socket with read_sock() from the socket's data_ready
# callback, not with recvmsg(): the engine's window must open all the
# same, or the transfer stalls once the receive buffer is full. The peer
# sends 8 MB; each chunk that arrives is one KCM message (the parser
# program returns skb->len); the bytes are compared by SHA-256.
# The KCM socket k and its parser program pfd (r0 = skb->len; exit: each
# chunk is one message), or SKIP; attach(t) puts t under k. Shared with
# the writer below.
KCM_SETUP='
import ctypes, fcntl, hashlib, os, socket, struct, sys, time
libc = ctypes.CDLL(None, use_errno=True)
NR_BPF, PROG_LOAD, SOCKET_FILTER = 321, 5, 1
AF_KCM, SIOCKCMATTACH, N = 41, 0x89E0, int(sys.argv[3])

class Load(ctypes.Structure):
    _fields_ = [("type", ctypes.c_uint32), ("cnt", ctypes.c_uint32),
                ("insns", ctypes.c_uint64), ("license", ctypes.c_uint64),
                ("rest", ctypes.c_char * 112)]

try:
    k = socket.socket(AF_KCM, socket.SOCK_DGRAM, 0)
except OSError as e:
    print("SKIP no AF_KCM:", e)
    sys.exit(0)
prog = ctypes.create_string_buffer(struct.pack("<BBhiBBhi", 0x61, 0x10, 0, 0,
                                               0x95, 0, 0, 0), 16)
lic = ctypes.create_string_buffer(b"GPL")
a = Load(SOCKET_FILTER, 2, ctypes.addressof(prog), ctypes.addressof(lic))
pfd = libc.syscall(NR_BPF, PROG_LOAD, ctypes.byref(a), ctypes.sizeof(a))
if pfd < 0:
    print("SKIP no BPF program:", ctypes.get_errno())
    sys.exit(0)

def attach(t):
    fcntl.ioctl(k.fileno(), SIOCKCMATTACH, struct.pack("ii", t.fileno(), pfd))
'
KCM=$KCM_SETUP'
t = socket.create_connection((sys.argv[1], int(sys.argv[2])))
t.setsockopt(socket.IPPROTO_TCP, 31, b"toe")
attach(t)
t.send(b"go")
k.settimeout(60)
h, got = hashlib.sha256(), 0
try:
    while got < N:
        m = k.recv(1 << 20)
        h.update(m)
        got += len(m)
except socket.timeout:
    pass
print(got, h.hexdigest())
'
# The peers below: accept(port[, rcvbuf]) listens, says so, and returns
# the one connection; read_all(c) reads it to the end and prints how many
# bytes came and their SHA-256.
PEER_SETUP='
import hashlib, os, socket, sys, time

def accept(port, rcvbuf=0):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if rcvbuf:
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    ls.bind(("0.0.0.0", port))
    ls.listen(1)
    print("listening", flush=True)
    return ls.accept()[0]

def read_all(c):
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(1 << 16)
        if not b:
            break
        h.update(b)
        n += len(b)
    print(n, h.hexdigest(), flush=True)
    c.close()
'
KCM_PEER=$PEER_SETUP'
c = accept(int(sys.argv[1]))
c.recv(2)
h, n, N = hashlib.sha256(), 0, int(sys.argv[2])
while n < N:
    b = os.urandom(min(65536, N - n))
    c.sendall(b)
    h.update(b)
    n += len(b)
print(n, h.hexdigest(), flush=True)
c.recv(1)
'
modprobe kcm 2> /dev/null
KCM_BYTES=$((8 * 1024 * 1024))
ip netns exec "$P" timeout 120 python3 -c "$KCM_PEER" 5041 "$KCM_BYTES" \
	> "$TMP/kcm.s" 2>&1 &
kcmpeer=$!
toe_wait_listen "$P" 5041 || fail "the KCM peer did not start"
res=$(timeout 100 ip netns exec "$H" python3 -c "$KCM" 10.73.0.2 5041 "$KCM_BYTES" 2>&1)
kill "$kcmpeer" 2> /dev/null
wait "$kcmpeer" 2> /dev/null
case $res in
SKIP*)
	log_skip "KCM reads an offloaded socket through read_sock(): 8 MB intact" \
		"${res#SKIP }" ;;
*)
	want=$(tail -n 1 "$TMP/kcm.s")
	[ "$res" = "$want" ]
	check_err $? "KCM read '$res', the peer sent '$want'"
	log_test "KCM reads an offloaded socket through read_sock(): 8 MB intact" ;;
esac

# --- a kernel writer: KCM's psock across a handback ------------------------------

# KCM attached to a socket takes sk_write_space over and waits for it
# whenever the socket's send buffer is full. Attached after the handover
# or before it, its callback must be called while offloaded and stay in
# place when the connection is handed back, halfway through 8 MB of KCM
# messages, or its transmit path waits forever. The peer reads the bytes
# as a plain TCP stream; SHA-256 on both sides.
KCM_TX=$KCM_SETUP'
t = socket.create_connection((sys.argv[1], int(sys.argv[2])))
if sys.argv[6] == "after":
    t.setsockopt(socket.IPPROTO_TCP, 31, b"toe")
attach(t)
if sys.argv[6] == "before":
    t.setsockopt(socket.IPPROTO_TCP, 31, b"toe")
block = os.urandom(1 << 20)
h, sent, forced = hashlib.sha256(), 0, False
while sent < N:
    off = (sent * 7919) % (len(block) - 65536)
    m = block[off:off + min(65536, N - sent)]
    k.send(m)
    h.update(m)
    sent += len(m)
    if not forced and sent >= N // 2:
        open(sys.argv[4], "w").close()
        forced = True
for i in range(600):
    if os.path.exists(sys.argv[5]):
        break
    time.sleep(0.1)
print(sent, h.hexdigest())
'
KCM_TX_PEER=$PEER_SETUP'
c = accept(int(sys.argv[1]))
h, n, N = hashlib.sha256(), 0, int(sys.argv[2])
while n < N:
    b = c.recv(min(1 << 16, N - n))
    if not b:
        break
    h.update(b)
    n += len(b)
open(sys.argv[3], "w").close()
print(n, h.hexdigest(), flush=True)
'
port=5043
kcmtx=
for when in after before; do
	hb0=$(toe_dev_stat "$H" handbacks)
	ip netns exec "$P" timeout 120 python3 -c "$KCM_TX_PEER" "$port" \
		"$KCM_BYTES" "$TMP/kcmtx.$when" > "$TMP/kcmtx.$when.s" 2>&1 &
	kcmpeer=$!
	toe_wait_listen "$P" "$port" || fail "the KCM peer did not start"
	# Halfway, the client says so: hand everything back.
	timeout 100 ip netns exec "$H" python3 -c "$KCM_TX" 10.73.0.2 "$port" \
		"$KCM_BYTES" "$TMP/kcmtx.$when.half" "$TMP/kcmtx.$when" \
		"$when" > "$TMP/kcmtx.$when.c" 2>&1 &
	kcmclient=$!
	for i in $(seq 600); do
		[ -e "$TMP/kcmtx.$when.half" ] || ! kill -0 "$kcmclient" 2> /dev/null &&
			break
		sleep 0.1
	done
	[ -e "$TMP/kcmtx.$when.half" ] && echo 1 > "$DBG/force_handback"
	wait "$kcmclient"
	res=$(tail -n 1 "$TMP/kcmtx.$when.c")
	kill "$kcmpeer" 2> /dev/null
	wait "$kcmpeer" 2> /dev/null
	port=$((port + 1))
	case $res in
	SKIP*)
		kcmtx="${res#SKIP }"
		break ;;
	esac
	kcmtx=ran
	want=$(tail -n 1 "$TMP/kcmtx.$when.s")
	[ "$res" = "$want" ]
	check_err $? "KCM attached $when the handover sent '$res', the peer read '$want'"
	[ "$(toe_dev_stat "$H" handbacks)" -gt "$hb0" ]
	check_err $? "KCM attached $when the handover: no handback"
done
case $kcmtx in
ran)	log_test "KCM writes through a handback, attached before or after the handover: 8 MB intact" ;;
*)	log_skip "KCM writes through a handback, attached before or after the handover: 8 MB intact" \
		"$kcmtx" ;;
esac

# --- a writer blocked in Linux TCP: handed over under it -----------------------

# A writer asleep in Linux TCP's sendmsg, waiting for send buffer while
# the peer's window is closed, wakes up inside Linux TCP after the
# handover and queues the rest of its 4 MB there: the core passes it to
# the engine, in order. TCP_ULP "toe" succeeds under it (a busy sendfile()
# server is always such a writer), and the peer reads all 8 MB; SHA-256
# on both sides.
BLOCKED='
import errno, hashlib, os, socket, sys, threading, time
N = int(sys.argv[3])
data = os.urandom(N)
c = socket.create_connection((sys.argv[1], int(sys.argv[2])))
t = threading.Thread(target=c.sendall, args=(data,))
t.start()
time.sleep(2)
if not t.is_alive():
    print("the writer was not blocked")
    sys.exit(1)
try:
    c.setsockopt(socket.IPPROTO_TCP, 31, b"toe")
    r = "offloaded"
except OSError as e:
    r = errno.errorcode[e.errno]
open(sys.argv[4], "w").close()
t.join(60)
if t.is_alive():
    print("writer still blocked")
    sys.exit(1)
if r != "offloaded":
    c.setsockopt(socket.IPPROTO_TCP, 31, b"toe")
c.sendall(data)
c.shutdown(socket.SHUT_WR)
c.recv(1)
print(r, 2 * N, hashlib.sha256(data + data).hexdigest())
'
BLOCKED_PEER=$PEER_SETUP'
c = accept(int(sys.argv[1]), 65536)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.05)
read_all(c)
'
hb0=$(toe_dev_stat "$H" handovers)
ip netns exec "$P" timeout 120 python3 -c "$BLOCKED_PEER" 5042 "$TMP/blocked.go" \
	> "$TMP/blocked.s" 2>&1 &
blockedpeer=$!
toe_wait_listen "$P" 5042 || fail "the peer did not start"
res=$(timeout 100 ip netns exec "$H" python3 -c "$BLOCKED" 10.73.0.2 5042 \
	$((4 * 1024 * 1024)) "$TMP/blocked.go" 2>&1)
wait "$blockedpeer"
want="offloaded $(tail -n 1 "$TMP/blocked.s")"
[ "$res" = "$want" ]
check_err $? "the writer says '$res', want '$want'"
[ "$(toe_dev_stat "$H" handovers)" = $((hb0 + 1)) ]
check_err $? "handovers: $hb0 before, $(toe_dev_stat "$H" handovers) after, want one more"
log_test "a writer blocked in Linux TCP: handed over under it, 8 MB intact"

# --- Linux TCP after a handback: not left in urgent mode ----------------------

# While offloaded, the engine's progress moves snd_una; snd_up must follow
# it as Linux TCP's own ACK processing makes it, or Linux TCP is left in
# urgent mode after the handback: it splits every skb to one MSS (no TSO)
# and, 2 GB on, marks its segments URG. 2 MB offloaded, a forced
# handback, then 4 MB in software: sent in TSO frames, none URG, intact.
AFTER_HB='
import fcntl, hashlib, os, socket, struct, sys, time
N = int(sys.argv[3])
c = socket.create_connection((sys.argv[1], int(sys.argv[2])))
c.setsockopt(socket.IPPROTO_TCP, 31, b"toe")
h = hashlib.sha256()

def send(n):
    d = os.urandom(n)
    c.sendall(d)
    h.update(d)

send(N)
for _ in range(1000):
    if not struct.unpack("i", fcntl.ioctl(c.fileno(), 0x5411, b"\0" * 4))[0]:
        break
    time.sleep(0.01)
open(sys.argv[4] + ".half", "w").close()
while not os.path.exists(sys.argv[4] + ".go"):
    time.sleep(0.05)
send(2 * N)
c.shutdown(socket.SHUT_WR)
c.recv(1)
print(3 * N, h.hexdigest())
'
AFTER_HB_PEER=$PEER_SETUP'
read_all(accept(int(sys.argv[1])))
'
ip netns exec "$P" timeout 120 python3 -c "$AFTER_HB_PEER" 5044 > "$TMP/afterhb.s" 2>&1 &
afterhbpeer=$!
toe_wait_listen "$P" 5044 || fail "the peer did not start"
ip netns exec "$H" timeout 100 python3 -c "$AFTER_HB" 10.73.0.2 5044 \
	$((2 * 1024 * 1024)) "$TMP/afterhb" > "$TMP/afterhb.c" 2>&1 &
afterhb=$!
for ((i = 0; i < 300; i++)); do
	[ -e "$TMP/afterhb.half" ] && break
	sleep 0.1
done
[ -e "$TMP/afterhb.half" ] && [ "$(cat "/sys/class/toe/$TOE/conns")" -eq 1 ]
check_err $? "the writer's connection is not offloaded before the handback"
echo 1 > "$DBG/force_handback"
for ((i = 0; i < 100; i++)); do
	[ "$(cat "/sys/class/toe/$TOE/conns")" -eq 0 ] && break
	sleep 0.1
done
[ "$(cat "/sys/class/toe/$TOE/conns")" -eq 0 ]
check_err $? "the connection was not handed back"
toe_capture_start "$H" vh "$TMP/afterhb.pcap" src host 10.73.0.1 and tcp port 5044
tcpdump=$TOE_CAPTURE
touch "$TMP/afterhb.go"
toe_wait_pid 100 "$afterhb" "the writer after the handback"
check_err $? "the writer failed: $(tail -n 2 "$TMP/afterhb.c")"
wait "$afterhbpeer"
toe_capture_stop "$tcpdump" "$TMP/afterhb.pcap"
[ "$(cat "$TMP/afterhb.c")" = "$(tail -n 1 "$TMP/afterhb.s")" ]
check_err $? "bytes differ: writer '$(cat "$TMP/afterhb.c")', peer '$(tail -n 1 "$TMP/afterhb.s")'"
tso=$(tcpdump -n -r "$TMP/afterhb.pcap" greater 3000 2> /dev/null | grep -c .)
urg=$(tcpdump -n -r "$TMP/afterhb.pcap" 'tcp[tcpflags] & tcp-urg != 0' 2> /dev/null | grep -c .)
[ "$tso" -gt 0 ]
check_err $? "Linux TCP sent no frame larger than one MSS after the handback (urgent mode?)"
[ "$urg" -eq 0 ]
check_err $? "$urg segments with URG set after the handback"
log_test "after a handback Linux TCP sends TSO frames, none urgent; 6 MB intact"

# --- table full: the connection stays in software ------------------------------

del_instance
new_instance 1 || fail "cannot create a toesim instance with one slot"
TOE=$(toe_sim_name)
echo 1 > "/sys/class/toe/$TOE/enabled"
full0=$(cat "/sys/class/toe/$TOE/conns")
xfer first 10.73.0.2 5030 $((BYTES / 4)) $((BYTES / 4)) --ulp --hold 6 &
first=$!
# The second connects while the first holds the one slot.
toe_wait_conns 1 10
check_err $? "the first connection did not take the slot"
xfer second 10.73.0.2 5031 $((BYTES / 4)) $((BYTES / 4)) --ulp
check_err $? "second transfer did not complete"
wait "$first"
[ "$(ulp_result first)" = ok ] && [ "$(ulp_result second)" = ENOSPC ]
check_err $? "with one slot: got $(ulp_result first)/$(ulp_result second), want ok/ENOSPC"
check_xfer first $((BYTES / 4)) $((BYTES / 4)) && check_xfer second $((BYTES / 4)) $((BYTES / 4))
check_err $? "bytes differ with a full table"
[ "$full0" = 0 ] && [ "$(cat "/sys/class/toe/$TOE/conns")" = 0 ]
check_err $? "connection count wrong around the table-full case"
log_test "table full: the next connection stays in software and works"

exit "$EXIT_STATUS"
