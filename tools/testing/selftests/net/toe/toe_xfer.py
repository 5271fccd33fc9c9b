#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Bidirectional TCP transfer for the TOE selftests. Each side sends its own
# random bytes while it receives the other's, then prints one JSON line
# with the sha256 of what it sent and of what it received, so the test
# can compare them across the two ends.
#
#   toe_xfer.py server PORT [--v6] [--send BYTES] [--rate BYTES_PER_S]
#                      [--hold SECS] [--late-shutdown] [--sendfile]
#   toe_xfer.py client ADDR PORT [--send BYTES] [--ulp] [--notoe] [--hold SECS]
#                      [--rate BYTES_PER_S] [--ulp-after BYTES] [--drain]
#                      [--tos N] [--ttl N] [--mark N] [--priority N]
#                      [--keepalive] [--no-df] [--wait-for PATH]
#
# --ulp asks for the "toe" ULP right after connect (the explicit offload);
# the result is reported as "ulp": "ok" or the errno name. --notoe sets the
# "notoe" ULP before connect: the per-socket opt-out of automatic offload.
# --ulp-after BYTES asks for "toe" once BYTES were written instead: with
# bytes queued and in flight. --hold SECS delays the first read and write,
# on either side (a server that holds keeps the client's bytes queued).
# --wait-for PATH (client) delays them instead until PATH exists, for two
# minutes at most: the test says when, not a clock.
# --late-shutdown keeps the sending direction open until the peer's data
# has all arrived, so the connection stays established meanwhile (on one
# side only: two would wait for each other). --drain waits, before the
# shutdown, until the peer acknowledged every byte sent (SIOCOUTQ reads 0,
# for two minutes at most): the FIN that hands an offloaded connection
# back comes after the engine carried all of it. --sendfile (server) writes
# the bytes to a file first and sends them with sendfile(), as a web server
# does: through the socket's sendpage path instead of sendmsg.
# --tos, --ttl (IP_TOS/IP_TTL, IPV6_TCLASS/IPV6_UNICAST_HOPS), --mark and
# --priority (SO_MARK, SO_PRIORITY) are set on the client before connect,
# and so are --keepalive (SO_KEEPALIVE) and --no-df (IPv4: IP_MTU_DISCOVER
# IP_PMTUDISC_DONT, segments without DF).

import argparse
import errno
import fcntl
import hashlib
import json
import os
import socket
import struct
import sys
import tempfile
import threading
import time

TCP_ULP = 31
SO_MARK = 36
IP_MTU_DISCOVER = 10
IP_PMTUDISC_DONT = 0
CHUNK = 1 << 16


def offload(sock, out):
    try:
        sock.setsockopt(socket.IPPROTO_TCP, TCP_ULP, b"toe")
        out["ulp"] = "ok"
    except OSError as e:
        out["ulp"] = errno.errorcode.get(e.errno, str(e.errno))


SIOCOUTQ = 0x5411


def drain(sock):
    end = time.monotonic() + 120
    while time.monotonic() < end:
        left = struct.unpack("i", fcntl.ioctl(sock.fileno(), SIOCOUTQ,
                                              b"\0" * 4))[0]
        if not left:
            return
        time.sleep(0.01)


def wait_for(path):
    end = time.monotonic() + 120
    while not os.path.exists(path) and time.monotonic() < end:
        time.sleep(0.05)


def send_file(sock, nbytes, h):
    block = os.urandom(1 << 20)
    with tempfile.TemporaryFile() as f:
        done = 0
        while done < nbytes:
            off = (done * 7919) % (len(block) - CHUNK)
            buf = block[off:off + min(CHUNK, nbytes - done)]
            f.write(buf)
            h.update(buf)
            done += len(buf)
        f.flush()
        sent = 0
        while sent < nbytes:
            sent += os.sendfile(sock.fileno(), f.fileno(), sent,
                                min(1 << 22, nbytes - sent))
    return sent


def sender(sock, nbytes, out, shut_after=None, rate=0, ulp_after=None,
           drained=False, use_sendfile=False):
    h = hashlib.sha256()
    block = os.urandom(1 << 20)
    sent = send_file(sock, nbytes, h) if use_sendfile else 0
    start = time.monotonic()
    while sent < nbytes:
        if rate:
            ahead = sent / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
        # Vary the data so a misplaced block cannot hash the same.
        off = (sent * 7919) % (len(block) - CHUNK)
        buf = block[off:off + min(CHUNK, nbytes - sent)]
        n = sock.send(buf)
        h.update(buf[:n])
        sent += n
        if ulp_after is not None and sent >= ulp_after:
            offload(sock, out)
            ulp_after = None
    if shut_after:
        shut_after.wait()
    if drained:
        drain(sock)
    sock.shutdown(socket.SHUT_WR)
    out["sent"] = sent
    out["sent_sha256"] = h.hexdigest()


def receiver(sock, out):
    h = hashlib.sha256()
    got = 0
    while True:
        buf = sock.recv(CHUNK)
        if not buf:
            break
        h.update(buf)
        got += len(buf)
    out["received"] = got
    out["received_sha256"] = h.hexdigest()


def run(sock, nbytes, out, late_shutdown=False, rate=0, ulp_after=None,
        drained=False, use_sendfile=False):
    done = threading.Event() if late_shutdown else None
    t = threading.Thread(target=sender,
                         args=(sock, nbytes, out, done, rate, ulp_after,
                               drained, use_sendfile))
    t.start()
    receiver(sock, out)
    if done:
        done.set()
    t.join()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["server", "client"])
    ap.add_argument("args", nargs="+")
    ap.add_argument("--v6", action="store_true")
    ap.add_argument("--send", type=int, default=1 << 20)
    ap.add_argument("--ulp", action="store_true")
    ap.add_argument("--notoe", action="store_true")
    ap.add_argument("--late-shutdown", action="store_true")
    ap.add_argument("--rate", type=int, default=0)
    ap.add_argument("--hold", type=float, default=0)
    ap.add_argument("--ulp-after", type=int, default=None)
    ap.add_argument("--drain", action="store_true")
    ap.add_argument("--sendfile", action="store_true")
    ap.add_argument("--tos", type=int, default=None)
    ap.add_argument("--ttl", type=int, default=None)
    ap.add_argument("--mark", type=int, default=None)
    ap.add_argument("--priority", type=int, default=None)
    ap.add_argument("--keepalive", action="store_true")
    ap.add_argument("--no-df", action="store_true")
    ap.add_argument("--wait-for", default=None)
    a = ap.parse_args()
    out = {}

    if a.mode == "server":
        fam = socket.AF_INET6 if a.v6 else socket.AF_INET
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("::" if a.v6 else "0.0.0.0", int(a.args[0])))
        ls.listen(1)
        print("listening", flush=True)
        s, _ = ls.accept()
        if a.hold:
            time.sleep(a.hold)
        run(s, a.send, out, a.late_shutdown, a.rate,
            use_sendfile=a.sendfile)
    else:
        addr, port = a.args[0], int(a.args[1])
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        if a.notoe:
            s.setsockopt(socket.IPPROTO_TCP, TCP_ULP, b"notoe")
        v6 = fam == socket.AF_INET6
        if a.tos is not None:
            s.setsockopt(socket.IPPROTO_IPV6 if v6 else socket.IPPROTO_IP,
                         socket.IPV6_TCLASS if v6 else socket.IP_TOS, a.tos)
        if a.ttl is not None:
            s.setsockopt(socket.IPPROTO_IPV6 if v6 else socket.IPPROTO_IP,
                         socket.IPV6_UNICAST_HOPS if v6 else socket.IP_TTL,
                         a.ttl)
        if a.mark is not None:
            s.setsockopt(socket.SOL_SOCKET, SO_MARK, a.mark)
        if a.priority is not None:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_PRIORITY, a.priority)
        if a.keepalive:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if a.no_df and not v6:
            s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT)
        s.connect((addr, port))
        if a.ulp:
            offload(s, out)
        if a.hold:
            time.sleep(a.hold)
        if a.wait_for:
            wait_for(a.wait_for)
        run(s, a.send, out, a.late_shutdown, a.rate, a.ulp_after, a.drain)
    s.close()
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
