#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Many connections moving data at once, for the TOE selftests. The server
# echoes every connection; the client opens N connections, offloads each
# with TCP_ULP "toe", and on all of them at once sends BYTES of its own and
# reads the echo back, comparing SHA-256 per connection. It prints one
# JSON line: connections, how many of them the core listed as offloaded
# once all were open (/proc/net/toe/connections, not setsockopt()'s
# return), how many came back intact. --auto leaves the offload to the
# automatic policy (no TCP_ULP, and "offloaded" is 0); --hold SECS waits
# that long after the connections are open before any data moves.
#
#   toe_many.py server PORT
#   toe_many.py client ADDR PORT N BYTES [--auto] [--hold SECS]

import hashlib
import json
import os
import selectors
import socket
import sys
import threading
import time

TCP_ULP = 31


def serve(port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(4096)
    print("listening", flush=True)

    def echo(s):
        while True:
            buf = s.recv(65536)
            if not buf:
                break
            s.sendall(buf)
        s.shutdown(socket.SHUT_WR)
        s.close()

    while True:
        s, _ = ls.accept()
        threading.Thread(target=echo, args=(s,), daemon=True).start()


def endpoint(s):
    """A socket's local end as /proc/net/toe/connections prints it."""
    a = s.getsockname()
    return "[%s]:%d" % a[:2] if s.family == socket.AF_INET6 else "%s:%d" % a


def count_offloaded(socks):
    """How many of socks the core lists as offloaded in this netns."""
    with open("/proc/net/toe/connections") as f:
        lines = f.read().splitlines()[1:]
    carried = {w[0] for w in (line.split() for line in lines)
               if len(w) > 3 and w[3] == "offloaded"}
    return sum(1 for s in socks if endpoint(s) in carried)


def client(addr, port, n, nbytes, auto=False, hold=0):
    sel = selectors.DefaultSelector()
    conns = []
    offloaded = 0
    for i in range(n):
        s = socket.create_connection((addr, port))
        try:
            if not auto:
                s.setsockopt(socket.IPPROTO_TCP, TCP_ULP, b"toe")
        except OSError:
            pass
        s.setblocking(False)
        data = os.urandom(nbytes)
        st = {"s": s, "out": memoryview(data), "want": hashlib.sha256(data).hexdigest(),
              "got": hashlib.sha256(), "n": 0, "done": False}
        conns.append(st)
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, st)

    if not auto:
        # What the engine carries, not what setsockopt() returned: each
        # socket's local end among the core's offloaded connections.
        offloaded = count_offloaded([c["s"] for c in conns])
    if hold:
        print("holding", flush=True)
        time.sleep(hold)
    left = n
    while left:
        for key, ev in sel.select(timeout=60):
            st = key.data
            s = st["s"]
            if ev & selectors.EVENT_WRITE and len(st["out"]):
                k = s.send(st["out"][:65536])
                st["out"] = st["out"][k:]
                if not len(st["out"]):
                    s.shutdown(socket.SHUT_WR)
                    sel.modify(s, selectors.EVENT_READ, st)
            if ev & selectors.EVENT_READ:
                buf = s.recv(65536)
                if buf:
                    st["got"].update(buf)
                    st["n"] += len(buf)
                else:
                    sel.unregister(s)
                    s.close()
                    st["done"] = True
                    left -= 1
        else:
            if not sel.get_map():
                break
    intact = sum(1 for c in conns
                 if c["done"] and c["n"] == nbytes and c["got"].hexdigest() == c["want"])
    print(json.dumps({"connections": n, "offloaded": offloaded, "intact": intact}),
          flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        serve(int(sys.argv[2]))
    else:
        hold = float(sys.argv[sys.argv.index("--hold") + 1]) \
            if "--hold" in sys.argv else 0
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]),
               "--auto" in sys.argv, hold)
