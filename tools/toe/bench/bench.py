#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# The guest half of `make bench` (scripts/bench.sh boots the VM and runs
# this as root). Two network namespaces joined by veth: "h", the host
# whose connections a toesim instance may carry, and "p", a plain Linux
# peer. Every figure is measured for native Linux TCP and for offloaded
# connections on the same path, in interleaved runs (native, offloaded,
# native, ...), so that noise hits both alike; the median, min and max
# of the runs are kept with every sample in results.json.
#
#   bench.py OUTDIR            (TOE_MODDIR: where the modules were built)
#
# Environment: BENCH_QUICK=1 fewer runs and smaller sizes; BENCH_RUNS=N;
# BENCH_SCALE="1000 10000 100000" the scale sizes; BENCH_ONLY="stream rr
# conn scale idle" a subset.
#
# The in-tree idle cost takes one boot per sample, so scripts/bench.sh
# runs it: it boots the perf and perf-notoe kernels in turn, each with
#   BENCH_INTREE=<flavour> bench.py OUTDIR/intree/<flavour>-<run>
# and then, on the host, bench.py --merge-intree OUTDIR adds the figures
# to OUTDIR/results.json.
# See Documentation/networking/toe-bench.rst for what each figure means.

import json
import os
import resource
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
MODDIR = os.environ.get("TOE_MODDIR", TOP)
BIN = os.environ.get("TOE_BENCH_BIN", os.path.join(TOP, "out/bench/toe_bench"))
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
RUNS = int(os.environ.get("BENCH_RUNS", "3" if QUICK else "5"))
SCALE = [int(x) for x in os.environ.get(
    "BENCH_SCALE", "1000 10000" if QUICK else "1000 10000 100000").split()]
ONLY = os.environ.get("BENCH_ONLY", "idle stream rr conn scale").split()

H, P = "toebench-h", "toebench-p"
HADDR, PADDR = "10.77.0.1", "10.77.0.2"
PORT = 5201          # data tests
SPORT = 6000         # scale test: SPORTS ports from here
SPORTS = 4

# Sizes: bytes per stream, ping-pong exchanges, connections per run.
SIZES = {
    "stream_bytes_1": 64 << 20 if QUICK else 512 << 20,
    "stream_bytes_8": 8 << 20 if QUICK else 64 << 20,
    "rr_iters": 500 if QUICK else 2000,
    "conn_n": 100 if QUICK else 300,
    "active": 100,
    "active_secs": 3 if QUICK else 5,
}

# Goals from the issue, reported against, never asserted.
TARGETS = {
    "throughput": {"op": ">=", "value": 1.0,
                   "what": "offloaded/native throughput"},
    "app_cpu_per_gb": {"op": "<=", "value": 0.5,
                       "what": "offloaded/native application CPU per GB"},
    "scale_conns": {"op": ">=", "value": 100000,
                    "what": "offloaded connections held"},
    "frame_cost": {"op": "<=", "value": 1.2,
                   "what": "engine cost per frame at the largest size / at 1k"},
    "idle": {"op": ">=", "value": 0.99,
             "what": "native throughput, modules loaded / not loaded"},
    "idle_intree": {"op": ">=", "value": 0.99,
                    "what": "native figures, CONFIG_TOE=y (no device) / =n"},
}

results = {"meta": {}, "targets": TARGETS, "sizes": SIZES, "metrics": [],
           "scale": [], "notes": []}
TOE = None           # the toedev name, e.g. toe0
DBG = "/sys/kernel/debug/toesim/0"


def log(*a):
    print("bench:", *a, flush=True)


def sh(cmd, check=True, timeout=120):
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True,
                       timeout=timeout)
    if check and r.returncode:
        raise RuntimeError(f"{cmd}: {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def rd(path):
    with open(path) as f:
        return f.read().strip()


def wr(path, val):
    with open(path, "w") as f:
        f.write(str(val))


def nsexec(ns, args):
    return ["ip", "netns", "exec", ns] + args


def client(args, timeout=600):
    """Run toe_bench in the host namespace; its JSON line, or None."""
    try:
        r = subprocess.run(nsexec(H, [BIN] + args), capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        log("TIMEOUT:", " ".join(args))
        diag()
        return None
    lines = [x for x in r.stdout.splitlines() if x.startswith("{")]
    if r.returncode or not lines:
        log("FAILED:", " ".join(args), r.returncode, r.stderr.strip())
        diag()
        return None
    return json.loads(lines[-1])


def diag():
    """Leave evidence of a failed run in the output."""
    for cmd in (f"ip netns exec {H} cat /proc/net/toe/devices",
                f"ip netns exec {H} head -n 20 /proc/net/toe/connections",
                f"grep . {DBG}/* 2>/dev/null",
                "dmesg | tail -n 20"):
        try:
            for line in sh(cmd, check=False, timeout=30).splitlines():
                print("# diag:", line, flush=True)
        except subprocess.TimeoutExpired:
            print("# diag: timeout:", cmd, flush=True)


# ---- setup -------------------------------------------------------------------

def mod_path(name):
    return {"toe": f"{MODDIR}/net/toe/toe.ko",
            "toesim": f"{MODDIR}/drivers/toe/toesim/toesim.ko"}[name]


def loaded(name):
    with open("/proc/modules") as f:
        return any(line.split()[0] == name for line in f)


def builtin(name):
    """Built into the kernel (in-tree CONFIG_TOE=y): never (un)loaded.

    A built-in without parameters has no /sys/module entry; the core
    shows itself by /proc/net/toe.
    """
    if loaded(name):
        return False
    return (os.path.isdir(f"/sys/module/{name}") or
            (name == "toe" and os.path.isdir("/proc/net/toe")))


def load():
    for m in ("toe", "toesim"):
        if not loaded(m) and not builtin(m):
            sh(f"busybox insmod {mod_path(m)}")


def unload():
    for m in ("toesim", "toe"):
        if loaded(m):
            sh(f"busybox rmmod {m}")


def setup_net():
    for ns in (H, P):
        sh(f"ip netns del {ns}", check=False)
        sh(f"ip netns add {ns}")
        sh(f"ip -n {ns} link set lo up")
    sh(f"ip link add vh netns {H} type veth peer name vp netns {P}")
    sh(f"ip -n {H} addr add {HADDR}/24 dev vh")
    sh(f"ip -n {P} addr add {PADDR}/24 dev vp")
    sh(f"ip -n {H} link set vh up")
    sh(f"ip -n {P} link set vp up")
    # Scale: ephemeral ports, listen queues, descriptors.
    sh(f"ip netns exec {H} sysctl -qw net.ipv4.ip_local_port_range='1024 65000' "
       "net.ipv4.tcp_tw_reuse=1")
    for ns in (H, P):
        sh(f"ip netns exec {ns} sysctl -qw net.core.somaxconn=8192 "
           "net.ipv4.tcp_max_syn_backlog=8192")
    # 100k connections closing at once are 100k orphans for a moment.
    wr("/proc/sys/net/ipv4/tcp_max_orphans", 1 << 20)
    wr("/proc/sys/fs/nr_open", 1 << 21)
    wr("/proc/sys/fs/file-max", 1 << 22)
    lim = 1 << 20
    resource.setrlimit(resource.RLIMIT_NOFILE, (lim, lim))
    sh(f"ping -c 1 -W 5 {PADDR} >/dev/null 2>&1 || "
       f"ip netns exec {H} ping -c 1 -W 5 {PADDR}", check=False)


def meminfo(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def new_instance():
    global TOE
    before = meminfo("VmallocUsed")
    sh(f"ip netns exec {H} sh -c 'echo \"0 vh 1000000\" > /sys/bus/toesim/new_device'")
    TOE = os.listdir("/sys/class/toe")[0]
    wr(f"/sys/class/toe/{TOE}/enabled", 1)
    results["meta"]["engine_table_bytes"] = meminfo("VmallocUsed") - before
    results["meta"]["conn_limit"] = int(rd(f"/sys/class/toe/{TOE}/conn_limit"))


class Server:
    def __init__(self, port, nports=1, bufsz=0):
        args = [BIN, "server", "-p", str(port), "-P", str(nports)]
        if bufsz:
            args += ["-S", str(bufsz)]
        self.p = subprocess.Popen(nsexec(P, args), stdout=subprocess.PIPE,
                                  text=True)
        if self.p.stdout.readline().strip() != "listening":
            raise RuntimeError("server did not start")

    def stop(self):
        self.p.kill()
        self.p.wait()


# ---- statistics ------------------------------------------------------------------

def summary(samples):
    s = [x for x in samples if x is not None]
    if not s:
        return {"samples": samples, "median": None, "min": None, "max": None}
    return {"samples": samples, "median": statistics.median(s),
            "min": min(s), "max": max(s)}


def metric(name, unit, a, b, labels=("native", "offloaded"), target=None,
           better="higher", extra=None):
    """Record a figure measured both ways; ratio is b/a of the medians."""
    sa, sb = summary(a), summary(b)
    ratio = None
    if sa["median"] and sb["median"] is not None:
        ratio = sb["median"] / sa["median"]
    m = {"name": name, "unit": unit, "better": better,
         labels[0]: sa, labels[1]: sb, "labels": list(labels),
         "ratio": ratio, "target": target}
    if target:
        t = TARGETS[target]
        m["target_value"] = t["value"]
        m["target_op"] = t["op"]
        if ratio is not None:
            m["target_met"] = (ratio >= t["value"] if t["op"] == ">="
                               else ratio <= t["value"])
    if extra:
        m.update(extra)
    results["metrics"].append(m)
    r = f"{ratio:.3f}" if ratio is not None else "-"
    log(f"{name}: {labels[0]} {sa['median']} {labels[1]} {sb['median']} "
        f"ratio {r}")


def save(outdir):
    with open(os.path.join(outdir, "results.json.tmp"), "w") as f:
        json.dump(results, f, indent=1)
    os.replace(os.path.join(outdir, "results.json.tmp"),
               os.path.join(outdir, "results.json"))


# ---- benchmarks ------------------------------------------------------------------

def stream_args(streams, direction, ulp):
    nbytes = SIZES["stream_bytes_1" if streams == 1 else "stream_bytes_8"]
    a = ["stream", "-c", PADDR, "-p", str(PORT), "-s", str(streams),
         "-b", str(nbytes), "-d", direction]
    return a + (["-u"] if ulp else [])


def bench_idle():
    """Native throughput with the modules loaded (no toedev) vs not."""
    unload()
    srv = Server(PORT)
    off, on = [], []
    for i in range(RUNS):
        for state, out in (("unloaded", off), ("loaded", on)):
            if state == "loaded":
                load()
            else:
                unload()
            time.sleep(2)   # let the module load or unload settle
            r = client(stream_args(1, "send", False))
            out.append(r["bytes"] / r["seconds"] / 1e6 if r else None)
        log(f"idle run {i + 1}/{RUNS}: {off[-1]} {on[-1]}")
    srv.stop()
    metric("idle: native 1-stream send", "MB/s", off, on,
           labels=("not_loaded", "loaded"), target="idle")


COUNTERS = ("rx_frames", "tx_frames", "rx_drops", "retrans", "fast_retrans",
            "rto", "ooo", "rcv_drops", "paws_drops", "challenge_acks")


def counters():
    """toesim's engine counters, to explain an offloaded run."""
    out = {}
    for c in COUNTERS:
        try:
            out[c] = int(rd(f"{DBG}/{c}"))
        except (OSError, ValueError):
            pass
    return out


def bench_stream():
    for streams in (1, 8):
        for direction in ("send", "recv"):
            tput = ([], [])
            cpu = ([], [])
            mcpu = ([], [])
            offl = []
            ctr = {}
            for i in range(RUNS):
                for k, ulp in enumerate((False, True)):
                    c0 = counters()
                    r = client(stream_args(streams, direction, ulp))
                    if ulp:
                        for key, v in counters().items():
                            ctr[key] = ctr.get(key, 0) + v - c0.get(key, 0)
                    ok = r and r["bytes"] == r["expected"]
                    gb = r["bytes"] / 1e9 if ok else 0
                    tput[k].append(r["bytes"] / r["seconds"] / 1e6 if ok else None)
                    cpu[k].append(r["app_cpu_s"] / gb if ok else None)
                    mcpu[k].append(r["machine_busy_s"] / gb if ok else None)
                    if ulp:
                        offl.append(r["offloaded"] if r else None)
                log(f"stream {streams}x {direction} run {i + 1}/{RUNS}: "
                    f"{tput[0][-1]} {tput[1][-1]} MB/s")
            short = [x for x in offl if x is not None and x < streams]
            if short:
                results["notes"].append(
                    f"stream {streams}x {direction}: some offloaded runs "
                    f"had fewer than {streams} streams offloaded: {offl}")
            who = "host sends" if direction == "send" else "host receives"
            ex = {"streams": streams, "direction": direction,
                  "offloaded_streams": offl, "engine_counters": ctr}
            log(f"stream {streams}x {direction} engine counters: {ctr}")
            metric(f"throughput {streams} stream(s), {who}", "MB/s", *tput,
                   target="throughput", extra=ex)
            metric(f"app CPU per GB {streams} stream(s), {who}", "s/GB", *cpu,
                   target="app_cpu_per_gb", better="lower", extra=ex)
            metric(f"machine CPU per GB {streams} stream(s), {who}", "s/GB",
                   *mcpu, better="lower", extra=ex)


def bench_rr():
    for msg in (1, 4096):
        p50, p99 = ([], []), ([], [])
        for i in range(RUNS):
            for k, ulp in enumerate((False, True)):
                a = ["rr", "-c", PADDR, "-p", str(PORT), "-m", str(msg),
                     "-i", str(SIZES["rr_iters"])] + (["-u"] if ulp else [])
                r = client(a)
                p50[k].append(r["p50_us"] if r else None)
                p99[k].append(r["p99_us"] if r else None)
        metric(f"latency {msg} B ping-pong p50", "us", *p50, better="lower")
        metric(f"latency {msg} B ping-pong p99", "us", *p99, better="lower")


def bench_conn():
    keys = ("connect_p50_us", "handover_p50_us", "handover_p99_us",
            "handback_p50_us", "handback_p99_us", "established_per_s",
            "offloaded_per_s")
    s = {k: ([], []) for k in keys}
    for i in range(RUNS):
        for k, ulp in enumerate((False, True)):
            a = ["conn", "-c", PADDR, "-p", str(PORT), "-n",
                 str(SIZES["conn_n"])] + (["-u"] if ulp else [])
            r = client(a)
            for key in keys:
                s[key][k].append(r[key] if r else None)
    metric("connect() per connection p50", "us", *s["connect_p50_us"],
           better="lower")
    metric("handback at shutdown(SHUT_WR) p50", "us", *s["handback_p50_us"],
           better="lower")
    metric("handback at shutdown(SHUT_WR) p99", "us", *s["handback_p99_us"],
           better="lower")
    # Offloaded side only: handover time, and its rate vs the connect rate.
    toe = s["handover_p50_us"][1]
    metric("handover setsockopt(TCP_ULP) p50", "us", [None] * RUNS, toe,
           better="lower")
    metric("handover setsockopt(TCP_ULP) p99", "us", [None] * RUNS,
           s["handover_p99_us"][1], better="lower")
    metric("connections per second: established vs offloaded", "conn/s",
           s["established_per_s"][1], s["offloaded_per_s"][1],
           labels=("established", "offloaded"))


def prof_phase(proc):
    """One active phase with the engine's profile on: ns per frame."""
    have_prof = os.path.exists(f"{DBG}/profile")
    if have_prof:
        wr(f"{DBG}/profile", 1)
    rx0 = int(rd(f"{DBG}/rx_frames"))
    proc.stdin.write("go\n")
    proc.stdin.flush()
    line = proc.stdout.readline()
    if have_prof:
        wr(f"{DBG}/profile", 0)
    res = json.loads(line) if line.startswith("{") else None
    cost = None
    if have_prof:
        ns, frames = int(rd(f"{DBG}/prof_ns")), int(rd(f"{DBG}/prof_frames"))
        cost = ns / frames if frames else None
        if res is not None:
            res["prof_frames"] = frames
    if res is not None:
        res["rx_frames"] = int(rd(f"{DBG}/rx_frames")) - rx0
    return cost, res


def slabinfo():
    out = {}
    try:
        with open("/proc/slabinfo") as f:
            for line in f.readlines()[2:]:
                v = line.split()
                out[v[0]] = int(v[1]) * int(v[3])  # active objects
    except OSError:
        pass
    return out


def scale_one(n, ulp, phases):
    """N idle connections (+ the active ones among them)."""
    ent = {"size": n, "offloaded_run": ulp}
    sh("sync; echo 3 > /proc/sys/vm/drop_caches", check=False)
    slab0, sl0 = meminfo("Slab"), slabinfo()
    full0 = int(rd(f"{DBG}/table_full"))
    a = ["scale", "-c", PADDR, "-p", str(SPORT), "-P", str(SPORTS), "-n",
         str(n), "-A", str(SIZES["active"]), "-t", str(SIZES["active_secs"]),
         "-j", "32", "-S", "16384"] + (["-u"] if ulp else [])
    t0 = time.monotonic()
    proc = subprocess.Popen(nsexec(H, [BIN] + a), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("{"):
        ent["error"] = "client failed to set up"
        proc.kill()
        proc.wait()
        return ent
    ready = json.loads(line)
    ent.update(ready)
    ent["setup_wall_s"] = time.monotonic() - t0
    time.sleep(1)
    slab1, sl1 = meminfo("Slab"), slabinfo()
    # Slab pages (meminfo) stay with a cache once it grew: a run after a
    # bigger one reuses them. Live objects (slabinfo) do not, so the
    # figure per connection comes from those; the pages are kept too.
    ent["slab_pages_delta_bytes"] = slab1 - slab0
    deltas = {k: sl1.get(k, 0) - sl0.get(k, 0) for k in sl1}
    ent["slab_caches"] = {k: v for k, v in sorted(
        deltas.items(), key=lambda kv: -kv[1]) if v > 0}
    ent["slab_delta_bytes"] = sum(ent["slab_caches"].values())
    ent["slab_per_conn"] = ent["slab_delta_bytes"] / max(ready["open"], 1)
    ent["conns_engine"] = int(rd(f"/sys/class/toe/{TOE}/conns"))
    ent["conn_limit"] = int(rd(f"/sys/class/toe/{TOE}/conn_limit"))
    ent["table_full"] = int(rd(f"{DBG}/table_full")) - full0
    costs, act = [], []
    for _ in range(phases):
        c, r = prof_phase(proc)
        costs.append(c)
        act.append(r)
    ent["frame_cost_ns"] = summary(costs)
    ent["active"] = act
    ent["exchanges_per_s"] = summary(
        [r["exchanges"] / r["seconds"] if r else None for r in act])
    # The administrator disables the device: every connection back at
    # once (the core's toe_dev_handback_all(), under RTNL), timed.
    if ulp and ent["conns_engine"]:
        t = time.monotonic()
        wr(f"/sys/class/toe/{TOE}/enabled", 0)
        while int(rd(f"/sys/class/toe/{TOE}/conns")) and \
                time.monotonic() - t < 600:
            time.sleep(0.05)
        ent["admin_handback_s"] = time.monotonic() - t
        wr(f"/sys/class/toe/{TOE}/enabled", 1)
        ent["conns_after_admin_handback"] = \
            int(rd(f"/sys/class/toe/{TOE}/conns"))
        ent["admin_handback_per_conn_us"] = \
            ent["admin_handback_s"] * 1e6 / ent["conns_engine"]
    t = time.monotonic()
    proc.stdin.close()
    try:
        proc.wait(timeout=1800)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        ent["error"] = "close timed out"
    ent["close_s"] = time.monotonic() - t
    # Let the peer's sockets go before the next size.
    for _ in range(120):
        if int(rd(f"/sys/class/toe/{TOE}/conns")) == 0 and \
           meminfo("Slab") < slab0 + (slab1 - slab0) // 10:
            break
        time.sleep(1)
    log(f"scale {n} {'offloaded' if ulp else 'native'}: "
        f"open {ent.get('open')} engine {ent['conns_engine']} "
        f"slab/conn {ent['slab_per_conn']:.0f} B "
        f"frame cost {ent['frame_cost_ns']['median']} ns "
        f"setup {ent['setup_wall_s']:.1f} s")
    return ent


def bench_scale(outdir):
    srv = Server(SPORT, SPORTS, 16384)
    for n in SCALE:
        for ulp in (False, True):
            try:
                ent = scale_one(n, ulp, RUNS)
            except (OSError, RuntimeError, ValueError) as e:
                ent = {"size": n, "offloaded_run": ulp, "error": str(e)}
                log(f"scale {n}: {e}")
            results["scale"].append(ent)
            save(outdir)
    srv.stop()
    off = [e for e in results["scale"] if e["offloaded_run"] and
           e.get("frame_cost_ns", {}).get("median")]
    if off:
        base = min(off, key=lambda e: e["size"])
        top = max(off, key=lambda e: e["size"])
        metric(f"engine cost per frame, {top['size']} vs {base['size']} conns",
               "ns", base["frame_cost_ns"]["samples"],
               top["frame_cost_ns"]["samples"],
               labels=(f"at_{base['size']}", f"at_{top['size']}"),
               target="frame_cost", better="lower")
        reached = max(e.get("conns_engine", 0) for e in off)
        results["scale_reached"] = reached


def native_sample():
    """Native bulk send and connection rate, one sample each."""
    r = client(stream_args(1, "send", False))
    c = client(["conn", "-c", PADDR, "-p", str(PORT), "-n",
                str(SIZES["conn_n"])])
    return {"send_mbs": r["bytes"] / r["seconds"] / 1e6 if r else None,
            "conn_per_s": c["established_per_s"] if c else None}


def intree_sample(outdir):
    """One boot of an in-tree kernel (flavour perf or perf-notoe).

    "idle": nothing registered with the built-in core, the TCP hook's
    static key off. "key_on" (perf only): a toesim device with automatic
    offload on, so every connection goes through the hook and the policy,
    and min_bytes out of reach, so none is offloaded.
    """
    flavour = os.environ["BENCH_INTREE"]
    os.makedirs(outdir, exist_ok=True)
    setup_net()
    srv = Server(PORT)
    out = {"flavour": flavour, "kernel": os.uname().release,
           "toe_builtin": builtin("toe"), "idle": native_sample()}
    if flavour == "perf":
        load()
        new_instance()
        wr(f"/sys/class/toe/{TOE}/min_bytes", 1 << 62)
        wr(f"/sys/class/toe/{TOE}/auto_offload", 1)
        out["key_on"] = native_sample()
        out["key_on"]["conns"] = int(rd(f"/sys/class/toe/{TOE}/conns"))
        wr(f"/sys/class/toe/{TOE}/auto_offload", 0)
        wr(f"/sys/class/toe/{TOE}/enabled", 0)
        sh("echo 0 > /sys/bus/toesim/del_device", check=False)
        unload()
    srv.stop()
    with open(os.path.join(outdir, "sample.json"), "w") as f:
        json.dump(out, f, indent=1)
    log(f"in-tree {flavour}: {out}")
    return 0


def merge_intree(outdir):
    """Add the in-tree samples (OUTDIR/intree/*/sample.json) to results."""
    global results
    path = os.path.join(outdir, "results.json")
    if os.path.exists(path):
        with open(path) as f:
            results = json.load(f)
    results["targets"] = TARGETS
    # Merging again replaces the in-tree figures.
    results["metrics"] = [m for m in results["metrics"]
                          if not m["name"].startswith("in-tree")]
    samples = {"perf": {}, "perf-notoe": {}}
    base = os.path.join(outdir, "intree")
    for d in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        try:
            with open(os.path.join(base, d, "sample.json")) as f:
                s = json.load(f)
        except (OSError, ValueError):
            continue
        samples[s["flavour"]][d.rsplit("-", 1)[1]] = s
    runs = sorted(set(samples["perf"]) | set(samples["perf-notoe"]), key=int)
    if not runs:
        log("no in-tree samples")
        return 1

    def col(flavour, state, key):
        return [samples[flavour].get(r, {}).get(state, {}).get(key)
                for r in runs]

    labels = ("CONFIG_TOE=n", "CONFIG_TOE=y")
    metric("in-tree idle: native 1-stream send", "MB/s",
           col("perf-notoe", "idle", "send_mbs"),
           col("perf", "idle", "send_mbs"), labels=labels,
           target="idle_intree")
    metric("in-tree idle: native connections per second", "conn/s",
           col("perf-notoe", "idle", "conn_per_s"),
           col("perf", "idle", "conn_per_s"), labels=labels,
           target="idle_intree")
    metric("in-tree static key: connections per second, key off / on",
           "conn/s", col("perf", "idle", "conn_per_s"),
           col("perf", "key_on", "conn_per_s"), labels=("key_off", "key_on"))
    offl = [c for c in col("perf", "key_on", "conns") if c]
    if offl:
        results["notes"].append(f"in-tree key on: {offl} connections "
                                "offloaded; expected none")
    results["meta"]["intree_runs"] = len(runs)
    kernels = sorted({s["kernel"] for f in samples.values()
                      for s in f.values()})
    results["meta"]["intree_kernels"] = kernels
    # Only the in-tree figures were asked for: describe them.
    results["meta"].setdefault("kernel", " and ".join(kernels))
    results["meta"].setdefault("runs", len(runs))
    save(outdir)
    return 0


def main():
    if sys.argv[1] == "--merge-intree":
        return merge_intree(sys.argv[2])
    outdir = sys.argv[1]
    if os.environ.get("BENCH_INTREE"):
        return intree_sample(outdir)
    os.makedirs(outdir, exist_ok=True)
    results["meta"].update({
        "kernel": os.uname().release, "runs": RUNS, "quick": QUICK,
        "scale_sizes": SCALE, "cpus": os.cpu_count(),
        "mem_total": meminfo("MemTotal"),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
    })
    if not os.path.exists("/sys/kernel/debug/toesim"):
        sh("mountpoint -q /sys/kernel/debug || "
           "mount -t debugfs none /sys/kernel/debug")
    setup_net()
    t0 = time.monotonic()
    if "idle" in ONLY:
        bench_idle()
        save(outdir)
    load()
    new_instance()
    srv = Server(PORT)
    for name, fn in (("stream", bench_stream), ("rr", bench_rr),
                     ("conn", bench_conn)):
        if name in ONLY:
            t = time.monotonic()
            fn()
            log(f"{name} took {time.monotonic() - t:.0f} s")
            save(outdir)
    srv.stop()
    if "scale" in ONLY:
        bench_scale(outdir)
    results["meta"]["seconds"] = time.monotonic() - t0
    save(outdir)
    wr(f"/sys/class/toe/{TOE}/enabled", 0)
    sh("echo 0 > /sys/bus/toesim/del_device", check=False)
    unload()
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
