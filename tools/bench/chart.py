#!/usr/bin/python3
"""Chart of one tools/bench run: a PNG with two panels.

  chart.py RESULTS_DIR [--out FILE.png] [--title TEXT]

Top: median req/s per scenario (msg/s for ws; log scale) of uvicorn-httptools, each Lancet
backend and nginx where measured (hello, stream; its hello also stands beside the probe).
Bottom: each Lancet backend's throughput ratio against its reference (uvicorn, or nginx for
hello/stream/probe), median of per-round ratios with the min–max as an error bar, and the
target of issues 4/5 as a black tick over each group.

Reads RESULTS_DIR/ratios.json (tools/bench/ratios.py writes it; run first if it is missing).
Default output: RESULTS_DIR/bench.png.  Needs Debian's python3-matplotlib (Agg backend, no
display); run with /usr/bin/python3.
"""

import argparse
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter
except ImportError:
    sys.exit("chart.py: matplotlib is missing for this Python: apt-get install python3-matplotlib "
             "and run with /usr/bin/python3")

COLORS = {"uvicorn-httptools": "#8c8c8c", "nginx": "#2ca02c", "lancet-io_uring": "#d62728",
          "lancet-libevent": "#ff7f0e", "lancet-blocking": "#9467bd", "lancet": "#d62728"}
EXTRA_COLORS = ["#1f77b4", "#17becf", "#bcbd22", "#e377c2", "#7f7f7f"]
SHORT = {"uvicorn-httptools": "uvicorn (httptools, uvloop)", "nginx": "nginx (1 worker)"}
SCEN_SHORT = {"hello": "hello", "echo": "echo 1 KiB", "echo_64k": "echo 64 KiB",
              "stream": "stream 1 MiB", "starlette": "Starlette", "fastapi": "FastAPI",
              "probe": "probe\n(nginx: its hello)", "ws": "WebSocket\n(msg/s)", "hello_drain": "hello_drain"}


def color(server, i):
    return COLORS.get(server, EXTRA_COLORS[i % len(EXTRA_COLORS)])


def kfmt(v):
    if v >= 10000:
        return f"{v / 1000:.0f}k"
    if v >= 1000:
        return f"{v / 1000:.1f}k"
    return f"{v:.0f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--out")
    ap.add_argument("--title")
    a = ap.parse_args()
    jpath = os.path.join(a.dir, "ratios.json")
    if not os.path.exists(jpath):
        subprocess.run([sys.executable, os.path.join(HERE, "ratios.py"), a.dir],
                       stdout=subprocess.DEVNULL, check=True, timeout=120)
    with open(jpath) as f:
        js = json.load(f)
    med = js["medians"]
    baseline, ceiling = js["baseline"], js["ceiling"]
    lancets = js["lancet_servers"]
    scens = [s for s in js["scenarios"] if s in med]
    servers = [baseline] + lancets + [ceiling]
    servers = [s for s in servers if any(s in med[sc] for sc in scens)]

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(12, 9.5),
                                   gridspec_kw={"height_ratios": [3, 2.2]})
    # ---- top: req/s per scenario
    width = 0.8 / max(len(servers), 1)
    for i, srv in enumerate(servers):
        xs, ys = [], []
        for j, sc in enumerate(scens):
            m = med[sc].get(srv)
            if sc == "probe" and srv == ceiling and not m:
                m = med.get("hello", {}).get(ceiling)     # the probe's reference: nginx hello
            if m and m.get("rps"):
                xs.append(j + (i - (len(servers) - 1) / 2) * width)
                ys.append(m["rps"])
        label = SHORT.get(srv, srv)
        bars = ax1.bar(xs, ys, width * 0.95, label=label, color=color(srv, i))
        for b, y in zip(bars, ys):
            ax1.text(b.get_x() + b.get_width() / 2, y * 1.04, kfmt(y), ha="center",
                     va="bottom", fontsize=6.5, rotation=90)
    ax1.set_yscale("log")
    ax1.set_xticks(range(len(scens)))
    ax1.set_xticklabels([SCEN_SHORT.get(s, s) for s in scens])
    ax1.set_ylabel("requests/s (median; log scale)")
    ax1.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: kfmt(v)))
    ax1.grid(axis="y", which="both", alpha=0.25)
    ax1.legend(fontsize=8, ncol=min(len(servers), 5), loc="upper right")
    vals = [m["rps"] for sc in scens for m in med[sc].values() if m.get("rps")]
    ax1.set_ylim(bottom=min(vals, default=1) / 3, top=max(vals, default=1) * 3)
    ax1.set_xlim(-0.5, len(scens) - 0.5)
    ax1.set_title(a.title or "Lancet vs uvicorn vs nginx, same run: server on CPU 0, load "
                  "generator on CPU 1, 1 worker", fontsize=10)

    # ---- bottom: ratios vs targets
    targets = [t for t in js["targets"].get(lancets[0], []) if t["metric"] == "rps"] if lancets else []
    width2 = 0.8 / max(len(lancets), 1)
    for i, srv in enumerate(lancets):
        rows = {t["id"]: t for t in js["targets"][srv]}
        xs, ys, lo, hi = [], [], [], []
        for j, t in enumerate(targets):
            r = rows.get(t["id"])
            if r and "median" in r:
                xs.append(j + (i - (len(lancets) - 1) / 2) * width2)
                ys.append(r["median"])
                lo.append(r["median"] - r["min"])
                hi.append(r["max"] - r["median"])
            elif r and r["result"] in ("SKIPPED", "RUN FAILED"):
                ax2.text(j + (i - (len(lancets) - 1) / 2) * width2, 0.05,
                         "skipped" if r["result"] == "SKIPPED" else "failed",
                         rotation=90, ha="center", va="bottom", fontsize=6.5, color="#555")
        ax2.bar(xs, ys, width2 * 0.95, yerr=[lo, hi], capsize=2, label=srv,
                color=color(srv, i + 1), error_kw={"elinewidth": 0.8})
        for x, y, h in zip(xs, ys, hi):
            ax2.text(x, y + h + 0.03, f"{y:.2f}", ha="center", va="bottom", fontsize=6.5,
                     rotation=90)
    for j, t in enumerate(targets):
        ax2.hlines(t["target"], j - 0.45, j + 0.45, colors="black", linewidth=2)
    ax2.axhline(1.0, color="#999", linewidth=0.6, linestyle=":")
    ax2.set_xlim(-0.5, len(targets) - 0.5)
    ax2.set_xticks(range(len(targets)))
    ax2.set_xticklabels([t["label"].replace(" req/s", "").replace(" msg/s", "")
                         .replace(" × ", "\n× ").replace(" (static 1 MiB)", "")
                         .replace(" (websockets)", "") for t in targets], fontsize=7.5)
    ax2.set_ylabel("ratio (median, min–max)")
    ax2.set_title("Throughput ratio vs target (black tick = target; bar above the tick = met)",
                  fontsize=10)
    ymax = max([t["target"] for t in targets] +
               [r.get("max", 0) for srv in lancets for r in js["targets"][srv]
                if r["metric"] == "rps"] + [1.0])
    ax2.set_ylim(0, ymax * 1.3)
    ax2.grid(axis="y", alpha=0.25)
    if lancets:
        ax2.legend(fontsize=8, ncol=len(lancets), loc="upper right")
    fig.text(0.01, 0.005, f"{js['dir']}", fontsize=6, color="#777")
    fig.tight_layout(rect=(0, 0.01, 1, 1))
    out = a.out or os.path.join(a.dir, "bench.png")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"chart: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
