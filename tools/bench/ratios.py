#!/usr/bin/python3
"""Ratio table of one server against a baseline, measured in the same run.

  ratios.py RESULTS_DIR [--server lancet] [--baseline uvicorn-httptools]

Reads RESULTS_DIR/results.jsonl (written by the shared bench.py), keeps per
(run, round, scenario, server) the least disturbed successful attempt (the
rule of bench.py's summarize), pairs each server run with the baseline's run
of the same round, and prints per scenario the median of the per-round
ratios (min-max over rounds when there are several):

  req/s     server / baseline            (> 1: server faster)
  p99       server / baseline            (< 1: server better)
  RSS       after-run RSS of the process tree, server / baseline (< 1: smaller)
  CPU/req   server CPU-µs per request, server / baseline (< 1: cheaper)

Absolute medians follow in a second table; they drift about ±15 % between
runs on the shared machine, so only the ratios are meant to be quoted.
Stdlib only.
"""

import argparse
import json
import os
import statistics
import sys

SCENARIO_ORDER = ["hello", "echo", "echo_64k", "stream", "fastapi", "starlette", "hello_drain"]


def disturbance(rec, server_cpu="0", client_cpu="1"):
    """Outside interference in % of the run: the rule of tools/bench/harness.py
    (keep both in step), not bench.py's, whose server run-queue wait counts a
    thread-per-connection server's own threads queueing on its one core."""
    vals = [rec.get("wrk_wait_pct") or 0]
    vals += [rec.get(k) or 0 for k in rec if k.endswith("_steal_pct")]
    for cpu, used in ((server_cpu, "server_cpu_pct"), (client_cpu, "wrk_cpu_pct")):
        busy = rec.get(f"cpu{cpu}_busy_pct")
        if busy is not None:
            vals.append(busy - (rec.get(used) or 0) - (rec.get(f"cpu{cpu}_irq_pct") or 0))
    return max(vals + [0])


def pick_attempts(recs):
    best = {}
    for r in recs:
        k = (r["run_id"], r["round"], r["scenario"], r["server"])
        score = (0, disturbance(r)) if r.get("ok") else (1, 0)
        if k not in best or score < best[k][0]:
            best[k] = (score, r)
    return [v[1] for v in best.values()]


def cpu_us_per_req(r):
    rpc = r.get("rps_per_cpu")
    return 1e6 / rpc if rpc else None


METRICS = [  # (label, getter)
    ("req/s", lambda r: r.get("rps")),
    ("p99", lambda r: r.get("p99_us")),
    ("RSS after", lambda r: r.get("rss_after_kb")),
    ("CPU µs/req", cpu_us_per_req),
]


def fmt_ratio(vals):
    if not vals:
        return "-"
    s = f"{statistics.median(vals):.2f}"
    if len(vals) > 1:
        s += f" ({min(vals):.2f}–{max(vals):.2f})"
    return s


def fmt_us(us):
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.0f} µs"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--server", default="lancet")
    ap.add_argument("--baseline", default="uvicorn-httptools")
    a = ap.parse_args()
    path = a.dir if a.dir.endswith(".jsonl") else os.path.join(a.dir, "results.jsonl")
    with open(path) as f:
        recs_all = [json.loads(line) for line in f if line.strip()]
    recs = pick_attempts(recs_all)
    ok = [r for r in recs if r.get("ok")]
    by_key = {(r["run_id"], r["round"], r["scenario"], r["server"]): r for r in ok}
    scens = sorted({r["scenario"] for r in recs},
                   key=lambda s: (SCENARIO_ORDER.index(s) if s in SCENARIO_ORDER else 99, s))

    out = [f"Ratios {a.server} / {a.baseline}, same run, median of per-round ratios "
           f"(min–max). req/s: higher is better; p99, RSS, CPU µs/req: lower is better.", "",
           "| scenario | rounds | req/s × | p99 × | RSS after × | CPU µs/req × | errors (srv/base) |",
           "|---|---|---|---|---|---|---|"]
    absrows = []
    for s in scens:
        pairs = []
        for r in ok:
            if r["scenario"] == s and r["server"] == a.server:
                b = by_key.get((r["run_id"], r["round"], s, a.baseline))
                if b:
                    pairs.append((r, b))
        if not pairs:
            out.append(f"| {s} | 0 | - | - | - | - | no paired rounds |")
            continue
        cells = []
        for _label, get in METRICS:
            vals = [get(r) / get(b) for r, b in pairs if get(r) and get(b)]
            cells.append(fmt_ratio(vals))
        errs = (sum(r.get("errors_total", 0) for r, _ in pairs),
                sum(b.get("errors_total", 0) for _, b in pairs))
        out.append(f"| {s} | {len(pairs)} | " + " | ".join(cells) + f" | {errs[0]}/{errs[1]} |")

        def med(side, get):
            v = [get(p[side]) for p in pairs if get(p[side]) is not None]
            return statistics.median(v) if v else None
        rps = (med(0, METRICS[0][1]), med(1, METRICS[0][1]))
        p99 = (med(0, METRICS[1][1]), med(1, METRICS[1][1]))
        rss = (med(0, lambda r: r.get("rss_idle_kb")), med(0, METRICS[2][1]),
               med(1, lambda r: r.get("rss_idle_kb")), med(1, METRICS[2][1]))
        cpu = (med(0, METRICS[3][1]), med(1, METRICS[3][1]))
        pct = (med(0, lambda r: r.get("server_cpu_pct")), med(1, lambda r: r.get("server_cpu_pct")))
        absrows.append(
            f"| {s} | {rps[0]:,.0f} / {rps[1]:,.0f} | {fmt_us(p99[0])} / {fmt_us(p99[1])} | "
            f"{rss[0] / 1024:.0f}→{rss[1] / 1024:.0f} / {rss[2] / 1024:.0f}→{rss[3] / 1024:.0f} MiB | "
            f"{cpu[0]:.1f} / {cpu[1]:.1f} | {pct[0]:.0f}% / {pct[1]:.0f}% |")

    out += ["", f"Absolute medians, {a.server} / {a.baseline} (NOISY: ±15 % between runs; "
            f"quote the ratios above):", "",
            "| scenario | req/s | p99 | RSS idle→after | CPU µs/req | server CPU (of 1 core) |",
            "|---|---|---|---|---|---|"] + absrows

    kept_disturbed = [r for r in ok if r.get("disturbed")]
    dist = [disturbance(r) for r in ok]
    retried = len(recs_all) - len(recs)
    waits = [r.get("quiet_wait_s") or 0 for r in recs_all]
    others = [r.get("others_cpu_pct") for r in ok if r.get("others_cpu_pct") is not None]
    steal = [max(r.get("cpu0_steal_pct", 0), r.get("cpu1_steal_pct", 0)) for r in ok]
    out += ["", f"Disturbance: {len(recs_all)} runs recorded, {retried} superseded by a retry, "
            f"{len(kept_disturbed)} kept runs still flagged disturbed; waited for quiet cores "
            f"{sum(waits):.0f} s in total (max {max(waits, default=0):.0f} s before one run); "
            f"other processes' CPU during runs: median {statistics.median(others) if others else 0:.1f}%, "
            f"max {max(others, default=0):.1f}% of a core; steal max {max(steal, default=0):.1f}%; "
            f"outside interference per kept run (harness.py rule): median "
            f"{statistics.median(dist) if dist else 0:.1f}%, max {max(dist, default=0):.1f}%."]
    for r in kept_disturbed:
        out.append(f"- disturbed: r{r['round']} {r['scenario']} {r['server']}: outside "
                   f"interference {disturbance(r):.1f}% (wrk wait {r.get('wrk_wait_pct')}%, "
                   f"others {r.get('others_cpu_pct')}%)")
    for r in recs:
        if not r.get("ok"):
            out.append(f"- FAILED: r{r['round']} {r['scenario']} {r['server']}: {r.get('error')}")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
