#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Load for toe_torture.sh: many connections that transfer and verify data
# while the administrator changes everything underneath them.
#
#   toe_torture.py server PORT
#   toe_torture.py client ADDR[,ADDR...] PORT THREADS SECS [EXPLICIT]
#
# The server echoes every connection (IPv4 and IPv6, one thread each). The
# client runs THREADS workers for SECS seconds; each connects, asks for the
# "toe" ULP on a fraction EXPLICIT (0.5) of its connections (the others are
# left to the automatic policy), sends 64 KB to 2 MB of random bytes in random pieces
# while it reads the echo, shuts down its side when all is sent or only
# once all came back, and compares the SHA-256 of the echo with what it sent. A third of the
# connections close early, with echoed bytes unread (a RST). It prints
# one JSON line: connections verified, offloaded explicitly, closed early,
# and the failures (any error or mismatch on a connection that was not
# closed early), then exits 1 if there was a failure.

import hashlib
import json
import os
import random
import select
import socket
import struct
import sys
import threading
import time

TCP_ULP = 31


def echo(conn):
    try:
        while True:
            data = conn.recv(1 << 16)
            if not data:
                break
            conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finally:
        conn.close()


def server(port):
    socks = []
    for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((addr, port))
        s.listen(512)
        socks.append(s)
    print("listening", flush=True)

    def accept(ls):
        while True:
            c, _ = ls.accept()
            threading.Thread(target=echo, args=(c,), daemon=True).start()

    for s in socks[1:]:
        threading.Thread(target=accept, args=(s,), daemon=True).start()
    accept(socks[0])


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.verified = 0
        self.explicit = 0
        self.early = 0
        self.failures = []

    def add(self, key):
        with self.lock:
            setattr(self, key, getattr(self, key) + 1)

    def fail(self, what):
        with self.lock:
            if len(self.failures) < 20:
                self.failures.append(what)


def one(rng, addrs, port, explicit, st):
    addr = rng.choice(addrs)
    size = rng.randint(64 << 10, 2 << 20)
    data = rng.randbytes(size)
    early = rng.random() < 1 / 3
    # Shut down as soon as everything is sent, or only once it all came
    # back (the connection stays offloaded while idle).
    late_fin = rng.random() < 0.5
    s = socket.create_connection((addr, port), timeout=60)
    try:
        if rng.random() < explicit:
            try:
                s.setsockopt(socket.IPPROTO_TCP, TCP_ULP, b"toe")
                st.add("explicit")
            except OSError:
                pass  # disabled, unbound or full now: stays in software
        s.setblocking(False)
        h = hashlib.sha256()
        off = got = 0
        shut = False
        stop_at = rng.randint(1, size) if early else size + 1
        while got < stop_at:
            if not shut and off == size and (not late_fin or got == size):
                s.shutdown(socket.SHUT_WR)
                shut = True
            r, w, _ = select.select([s], [s] if off < size else [], [], 60)
            if not r and not w:
                raise TimeoutError("stalled for 60 s")
            if w:
                try:
                    off += s.send(data[off:off + rng.randint(1, 256 << 10)])
                except BlockingIOError:
                    pass
            if r:
                try:
                    b = s.recv(1 << 16)
                except BlockingIOError:
                    continue
                if not b:
                    break
                h.update(b)
                got += len(b)
        if early:
            # Unread bytes make close() reset; SO_LINGER 0 resets at once
            # even with none.
            if rng.random() < 0.5:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
            st.add("early")
            return
        if got != size or h.digest() != hashlib.sha256(data).digest():
            st.fail("%s: %d of %d bytes echoed%s" %
                    (addr, got, size, ", sha256 differs" if got == size else ""))
            return
        st.add("verified")
    finally:
        s.close()


def worker(seed, addrs, port, explicit, end, st):
    rng = random.Random(seed)
    while time.monotonic() < end:
        try:
            one(rng, addrs, port, explicit, st)
        except OSError as e:
            st.fail("%s" % e)


def client(addrs, port, threads, secs, explicit):
    st = Stats()
    end = time.monotonic() + secs
    seed = int.from_bytes(os.urandom(4), "little")
    ts = [threading.Thread(target=worker,
                           args=(seed + i, addrs, port, explicit, end, st))
          for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(json.dumps({"seed": seed, "verified": st.verified,
                      "explicit": st.explicit, "early": st.early,
                      "failures": st.failures}), flush=True)
    return 1 if st.failures else 0


def main():
    if sys.argv[1] == "server":
        server(int(sys.argv[2]))
        return 0
    explicit = float(sys.argv[6]) if len(sys.argv) > 6 else 0.5
    return client(sys.argv[2].split(","), int(sys.argv[3]), int(sys.argv[4]),
                  float(sys.argv[5]), explicit)


if __name__ == "__main__":
    sys.exit(main())
