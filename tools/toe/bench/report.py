#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# The host half of `make bench`: read DIR/results.json (written by
# bench.py in the guest), print the table (also saved as DIR/table.txt)
# and draw DIR/bench.png (or DIR/bench.svg when PNG cannot be written).
# Without matplotlib the table is still printed.
#
#   report.py DIR

import json
import os
import sys


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


def cell(s):
    """median [min..max] of a summary."""
    if not s or s.get("median") is None:
        return "-"
    return f"{fmt(s['median'])} [{fmt(s['min'])}..{fmt(s['max'])}]"


def verdict(m):
    if not m.get("target"):
        return ""
    t = f"{m['target_op']} {m['target_value']}"
    if m.get("target_met") is None:
        return f"target {t}: n/a"
    return f"target {t}: {'met' if m['target_met'] else 'NOT met'}"


def table(res):
    lines = []
    meta = res["meta"]
    lines.append(f"OpenTOE bench: kernel {meta.get('kernel')}, "
                 f"{meta.get('runs')} interleaved runs per figure"
                 f"{' (quick)' if meta.get('quick') else ''}, "
                 f"median [min..max]")
    w = 44
    lines.append(f"{'figure':{w}} {'unit':6} {'A':>24} {'B':>24} "
                 f"{'B/A':>7}  target")
    lines.append("-" * (w + 100))
    for m in res["metrics"]:
        a, b = m["labels"]
        lines.append(f"{m['name']:{w}} {m['unit']:6} "
                     f"{cell(m[a]):>24} {cell(m[b]):>24} "
                     f"{fmt(m['ratio']):>7}  {verdict(m)}")
        if a != "native" or b != "offloaded":
            lines.append(f"{'':{w}} {'':6} {'(A: ' + a + ')':>24} "
                         f"{'(B: ' + b + ')':>24}")
    lines.append("(A: native Linux TCP, B: offloaded to toesim, "
                 "unless named otherwise)")
    if res.get("scale"):
        lines.append("")
        lines.append("scale: idle connections + "
                     f"{res['sizes'].get('active')} active; memory is one "
                     "sample per size, frame cost the median of the runs")
        lines.append(f"{'size':>7} {'mode':9} {'open':>7} {'engine':>7} "
                     f"{'tbl_full':>8} {'slab/conn':>10} {'setup s':>8} "
                     f"{'frame ns':>26} {'exchanges/s':>22} "
                     f"{'admin hb us/conn':>17}")
        for e in res["scale"]:
            if "error" in e and "open" not in e:
                lines.append(f"{e['size']:>7} "
                             f"{'offloaded' if e['offloaded_run'] else 'native':9} "
                             f"error: {e['error']}")
                continue
            lines.append(
                f"{e['size']:>7} "
                f"{'offloaded' if e['offloaded_run'] else 'native':9} "
                f"{e.get('open', 0):>7} {e.get('conns_engine', 0):>7} "
                f"{e.get('table_full', 0):>8} "
                f"{fmt(e.get('slab_per_conn')):>10} "
                f"{fmt(e.get('setup_wall_s')):>8} "
                f"{cell(e.get('frame_cost_ns')):>26} "
                f"{cell(e.get('exchanges_per_s')):>22} "
                f"{fmt(e.get('admin_handback_per_conn_us')):>17}"
                + (f"  error: {e['error']}" if e.get("error") else ""))
        sz = sorted({e["size"] for e in res["scale"]})
        nat = {e["size"]: e.get("slab_per_conn") for e in res["scale"]
               if not e["offloaded_run"]}
        off = {e["size"]: e.get("slab_per_conn") for e in res["scale"]
               if e["offloaded_run"]}
        caches = {(e["size"], e["offloaded_run"]): e.get("slab_caches", {})
                  for e in res["scale"]}
        for n in sz:
            if nat.get(n) is None or off.get(n) is None:
                continue
            lines.append(f"  {n}: offloading costs {fmt(off[n] - nat[n])} B "
                         "of slab objects per connection more than native "
                         "(both ends live in the guest)")
            # The caches that only the offloaded run grows: the engine's
            # and the framework's per-connection state.
            cn, co = caches.get((n, False), {}), caches.get((n, True), {})
            extra = {k: (v - cn.get(k, 0)) / n for k, v in co.items()
                     if v - cn.get(k, 0) > 0.05 * v and v / n >= 16}
            if extra:
                lines.append("      caches grown only when offloaded, per "
                             "connection: " + ", ".join(
                                 f"{k} {fmt(v)} B" for k, v in sorted(
                                     extra.items(), key=lambda kv: -kv[1])))
        if meta.get("engine_table_bytes") is not None:
            lines.append(f"  engine table: {meta['engine_table_bytes']} B "
                         f"vmalloc for conn_limit {meta.get('conn_limit')} "
                         "(allocated once, at instance creation)")
        reached = res.get("scale_reached")
        lines.append(f"  offloaded connections reached: {reached} "
                     f"(target >= {res['targets']['scale_conns']['value']}: "
                     f"{'met' if reached and reached >= res['targets']['scale_conns']['value'] else 'NOT met'})")
    for n in res.get("notes", []):
        lines.append(f"note: {n}")
    return "\n".join(lines)


def plot(res, outdir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report: no matplotlib, no plot", file=sys.stderr)
        return None
    ms = [m for m in res["metrics"] if m.get("ratio") is not None]
    fig, axes = plt.subplots(1, 2, figsize=(15, 7),
                             gridspec_kw={"width_ratios": [3, 1]})
    ax = axes[0]
    names = [m["name"] for m in ms]
    ratios = [m["ratio"] for m in ms]
    colors = []
    for m in ms:
        if m.get("target_met") is True:
            colors.append("tab:green")
        elif m.get("target_met") is False:
            colors.append("tab:red")
        else:
            colors.append("tab:gray")
    y = range(len(ms))
    ax.barh(y, ratios, color=colors)
    for i, m in enumerate(ms):
        if m.get("target"):
            ax.plot([m["target_value"]] * 2, [i - 0.4, i + 0.4], "k-", lw=2)
    ax.axvline(1.0, color="k", lw=0.5, ls=":")
    ax.set_yticks(list(y))
    ax.set_yticklabels(names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("B/A (offloaded/native unless named otherwise), log scale;"
                  " black tick: target")
    ax.set_title("ratios of medians (green: target met, red: not met)")
    ax = axes[1]
    off = sorted((e for e in res.get("scale", []) if e["offloaded_run"] and
                  e.get("frame_cost_ns", {}).get("median")),
                 key=lambda e: e["size"])
    if off:
        xs = [e["size"] for e in off]
        med = [e["frame_cost_ns"]["median"] for e in off]
        lo = [e["frame_cost_ns"]["median"] - e["frame_cost_ns"]["min"]
              for e in off]
        hi = [e["frame_cost_ns"]["max"] - e["frame_cost_ns"]["median"]
              for e in off]
        ax.errorbar(xs, med, yerr=[lo, hi], marker="o", capsize=4)
        ax.axhline(med[0] * res["targets"]["frame_cost"]["value"],
                   color="tab:red", ls="--", label="1.2 x cost at smallest")
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
    ax.set_xlabel("offloaded idle connections")
    ax.set_ylabel("engine ns per received frame")
    ax.set_title("engine cost per frame")
    fig.suptitle(f"OpenTOE bench ({res['meta'].get('kernel')}, "
                 f"{res['meta'].get('runs')} runs, TCG: ratios only)")
    fig.tight_layout()
    for ext in ("png", "svg"):
        path = os.path.join(outdir, f"bench.{ext}")
        try:
            fig.savefig(path, dpi=110)
            return path
        except (OSError, ValueError) as e:
            print(f"report: cannot write {path}: {e}", file=sys.stderr)
    return None


def main():
    outdir = sys.argv[1]
    with open(os.path.join(outdir, "results.json")) as f:
        res = json.load(f)
    text = table(res)
    print(text)
    with open(os.path.join(outdir, "table.txt"), "w") as f:
        f.write(text + "\n")
    path = plot(res, outdir)
    if path:
        print(f"plot: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
