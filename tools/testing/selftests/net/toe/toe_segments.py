#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Segment-level script for toe_segments.sh, in the manner of packetdrill:
# the peer's side of one TCP connection is written segment by segment with
# scapy on the peer's veth end (its kernel has no socket for it, and its
# RSTs are dropped by the caller), and every segment the host sends back
# within a short window is recorded. The host end is a real socket, in
# software or offloaded; toe_segments.sh runs the same script against
# both and requires the same replies.
#
#   toe_segments.py app PORT STATUS [--offload] [--v6]
#       (host netns) accept one connection on PORT (IPv6 with --v6), ask
#       for the "toe" ULP if --offload, write "ready ULP" to STATUS, read
#       to the end, then write a JSON line with what was read and how it
#       ended.
#   toe_segments.py peer IFACE SRC DST PORT SPORT STATUS OUT
#       (peer netns) open the connection from SRC:SPORT (IPv4 or IPv6
#       addresses), wait for STATUS, run the steps, write one JSON object
#       of replies per step to OUT.
#
# A reply is recorded as "FLAGS seq ack len", seq and ack relative to the
# host's and the peer's initial sequence numbers. Windows and options are
# not compared: they are the engine's to choose.

import errno
import glob
import hashlib
import json
import os
import socket
import sys
import time

TCP_ULP = 31


def app(port, status, offload, v6):
    ls = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET,
                       socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("::" if v6 else "0.0.0.0", port))
    ls.listen(1)
    print("listening", flush=True)
    c, _ = ls.accept()
    ulp = "-"
    if offload:
        try:
            c.setsockopt(socket.IPPROTO_TCP, TCP_ULP, b"toe")
            ulp = "ok"
        except OSError as e:
            ulp = errno.errorcode.get(e.errno, str(e.errno))
    with open(status + ".tmp", "w") as f:
        f.write("ready %s\n" % ulp)
    os.rename(status + ".tmp", status)
    h = hashlib.sha256()
    n = 0
    end = "eof"
    c.settimeout(60)
    while True:
        try:
            b = c.recv(65536)
        except OSError as e:
            end = errno.errorcode.get(e.errno, str(e.errno))
            break
        if not b:
            break
        h.update(b)
        n += len(b)
    print(json.dumps({"ulp": ulp, "received": n, "sha256": h.hexdigest(),
                      "end": end}), flush=True)


class Peer:
    """The peer's end: our sequence numbers, the host's, and timestamps."""

    def __init__(self, iface, src, dst, port, sport):
        from scapy.all import (Ether, IP, IPv6, TCP, conf, get_if_hwaddr,
                               getmacbyip, getmacbyip6)
        self.v6 = ":" in dst
        self.Ether, self.TCP = Ether, TCP
        self.IP = IPv6 if self.v6 else IP
        conf.verb = 0
        self.iface, self.src, self.dst = iface, src, dst
        self.port, self.sport = port, sport
        self.sock = conf.L2socket(iface=iface)
        self.mac = get_if_hwaddr(iface)
        self.hmac = getmacbyip6(dst) if self.v6 else getmacbyip(dst)
        # Frames are read as they come, from a packet socket of our own:
        # each reply belongs to the step that drew it.
        self.rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                                socket.htons(0x86dd if self.v6 else 0x0800))
        self.rx.bind((iface, 0))
        self.iss = 0x10000000
        self.snd_nxt = self.iss
        self.hiss = None
        self.rcv_nxt = None
        self.ts0 = int(time.monotonic() * 1000)
        self.tsecr = 0

    def is_host(self, addr):
        fam = socket.AF_INET6 if self.v6 else socket.AF_INET
        return socket.inet_pton(fam, addr) == socket.inet_pton(fam, self.dst)

    def tsval(self, delta=0):
        return (int(time.monotonic() * 1000) - self.ts0 + 1000 + delta) & 0xffffffff

    def seg(self, flags="A", seq=None, ack=None, data=b"", tsval=None,
            chksum=None, window=2048):
        opts = [("NOP", None), ("NOP", None),
                ("Timestamp", (self.tsval() if tsval is None else tsval,
                               self.tsecr))]
        t = self.TCP(sport=self.sport, dport=self.port, flags=flags,
                     seq=self.snd_nxt if seq is None else seq,
                     ack=(self.rcv_nxt if ack is None else ack) & 0xffffffff,
                     window=window, options=opts)
        if chksum is not None:
            t.chksum = chksum
        p = self.Ether(src=self.mac, dst=self.hmac) / \
            self.IP(src=self.src, dst=self.dst) / t
        if data:
            p = p / data
        return p

    def send(self, p):
        self.sock.send(p)

    def note(self, p):
        """Follow the host's sequence space and timestamps."""
        t = p[self.TCP]
        end = t.seq + len(t.payload) + (1 if t.flags & 0x03 else 0)
        if self.rcv_nxt is None or ((end - self.rcv_nxt) & 0x80000000) == 0:
            self.rcv_nxt = end & 0xffffffff
        for o in t.options:
            if o[0] == "Timestamp":
                self.tsecr = o[1][0]

    def frames(self, secs):
        """The host's segments of the connection for SECS seconds."""
        end = time.monotonic() + secs
        out = []
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            self.rx.settimeout(left)
            try:
                data, addr = self.rx.recvfrom(65535)
            except socket.timeout:
                break
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            p = self.Ether(data)
            if (p.haslayer(self.TCP) and self.is_host(p[self.IP].src) and
                    p[self.TCP].sport == self.port and
                    p[self.TCP].dport == self.sport):
                out.append(p)
        return out

    def replies(self, secs):
        """The host's segments during the next SECS seconds, recorded."""
        out = []
        for p in self.frames(secs):
            self.note(p)
            t = p[self.TCP]
            out.append("%s %d %d %d" % (
                t.sprintf("%TCP.flags%"), (t.seq - self.hiss) & 0xffffffff,
                (t.ack - self.iss) & 0xffffffff, len(t.payload)))
        return out

    def connect(self):
        self.send(self._syn())
        for p in (f for _ in range(50) for f in self.frames(0.1)):
            t = p[self.TCP]
            if t.flags & 0x12 == 0x12:
                self.hiss = t.seq
                self.rcv_nxt = (self.hiss + 1) & 0xffffffff
                self.snd_nxt = self.iss + 1
                for o in t.options:
                    if o[0] == "Timestamp":
                        self.tsecr = o[1][0]
                self.send(self.seg("A"))
                return True
        return False

    def _syn(self):
        t = self.TCP(sport=self.sport, dport=self.port, flags="S",
                     seq=self.iss, window=65535,
                     options=[("MSS", 1440 if self.v6 else 1460),
                              ("SAckOK", b""),
                              ("Timestamp", (self.tsval(), 0)),
                              ("WScale", 7)])
        return self.Ether(src=self.mac, dst=self.hmac) / \
            self.IP(src=self.src, dst=self.dst) / t


# Each step: (name, function of the peer that sends and returns the
# replies). Steps are 1.5 s apart at least: Linux TCP answers at most one
# out-of-window segment without payload, and one challenge ACK, per
# tcp_invalid_ratelimit (500 ms) on a connection, and a slow guest must
# not bring two answers of either carrier within it.
WAIT = 1.5


def data(p, payload):
    p.send(p.seg("PA", data=payload))
    p.snd_nxt += len(payload)
    return p.replies(WAIT)


def step_data(p):
    return data(p, b"a" * 100)


def step_keepalive(p):
    # Linux's own keepalive probe: snd_nxt - 1, no payload.
    p.send(p.seg("A", seq=p.snd_nxt - 1))
    return p.replies(WAIT)


def step_keepalive_byte(p):
    # The BSD form: one byte already acknowledged.
    p.send(p.seg("A", seq=p.snd_nxt - 1, data=b"a"))
    return p.replies(WAIT)


def step_old_data(p):
    # Data the host acknowledged already, sent again.
    p.send(p.seg("PA", seq=p.snd_nxt - 100, data=b"a" * 100))
    return p.replies(WAIT)


def step_beyond_window(p):
    # Data far to the right of the window.
    p.send(p.seg("PA", seq=p.snd_nxt + (64 << 20), data=b"x" * 100))
    return p.replies(WAIT)


def step_ack_beyond_window(p):
    # A pure ACK far to the right of the window.
    p.send(p.seg("A", seq=p.snd_nxt + (64 << 20)))
    return p.replies(WAIT)


def step_rst_in_window(p):
    # RFC 5961 3.2: in the window but not exact: a challenge ACK.
    p.send(p.seg("R", seq=p.snd_nxt + 1000, ack=0))
    return p.replies(WAIT)


def step_rst_outside(p):
    # Outside the window: dropped, no answer.
    p.send(p.seg("R", seq=p.snd_nxt + (64 << 20), ack=0))
    return p.replies(WAIT)


def step_syn(p):
    # RFC 5961 4.2: a SYN on an established connection.
    p.send(p.seg("S", seq=p.snd_nxt + 5, ack=0))
    return p.replies(WAIT)


def step_ack_unsent(p):
    # An ACK of data the host never sent.
    p.send(p.seg("A", ack=p.rcv_nxt + 100000))
    return p.replies(WAIT)


def step_ack_too_old(p):
    # RFC 5961 5.2: an ACK far below snd_una.
    p.send(p.seg("A", ack=p.rcv_nxt - (256 << 20)))
    return p.replies(WAIT)


def step_paws(p):
    # RFC 7323 5.3: data with a timestamp older than the last one.
    p.send(p.seg("PA", data=b"p" * 100, tsval=p.tsval(-(1 << 30))))
    return p.replies(WAIT)


def step_bad_checksum(p):
    p.send(p.seg("PA", data=b"c" * 100, chksum=0x1234))
    return p.replies(WAIT)


def step_data_after(p):
    return data(p, b"b" * 200)


def step_challenge_burst(p):
    # Five in-window RSTs at once: one challenge ACK per 500 ms.
    for i in range(5):
        p.send(p.seg("R", seq=p.snd_nxt + 1000 + i, ack=0))
    return p.replies(WAIT)


def step_rst_exact(p):
    p.send(p.seg("R", ack=0))
    return p.replies(WAIT)


STEPS = [
    ("data", step_data),
    ("keepalive", step_keepalive),
    ("keepalive_byte", step_keepalive_byte),
    ("old_data", step_old_data),
    ("beyond_window", step_beyond_window),
    ("ack_beyond_window", step_ack_beyond_window),
    ("rst_in_window", step_rst_in_window),
    ("rst_outside", step_rst_outside),
    ("syn", step_syn),
    ("ack_unsent", step_ack_unsent),
    ("ack_too_old", step_ack_too_old),
    ("paws", step_paws),
    ("bad_checksum", step_bad_checksum),
    ("data_after", step_data_after),
    ("challenge_burst", step_challenge_burst),
    ("rst_exact", step_rst_exact),
]


def offloaded_conns():
    """Connections the engines carry now, all devices together."""
    n = 0
    for d in glob.glob("/sys/class/toe/*/conns"):
        with open(d) as f:
            n += int(f.read())
    return n


def peer(iface, src, dst, port, sport, status, out):
    p = Peer(iface, src, dst, int(port), int(sport))
    res = {}
    if not p.connect():
        res["connect"] = "no SYN-ACK"
    else:
        for _ in range(200):
            if os.path.exists(status):
                break
            time.sleep(0.05)
        res["status"] = open(status).read().strip() \
            if os.path.exists(status) else "none"
        # What the handshake's last ACK and the handover left behind.
        p.replies(WAIT)
        for name, fn in STEPS:
            # Before the reset: did the engine carry the connection through
            # every step so far (a handback would leave them to Linux TCP)?
            if name == "rst_exact":
                res["carried"] = offloaded_conns()
            res[name] = fn(p)
    with open(out, "w") as f:
        json.dump(res, f)


def main():
    if sys.argv[1] == "app":
        app(int(sys.argv[2]), sys.argv[3], "--offload" in sys.argv[4:],
            "--v6" in sys.argv[4:])
    else:
        peer(*sys.argv[2:9])
    return 0


if __name__ == "__main__":
    sys.exit(main())
