#!/usr/bin/python3
"""Lancet's targets (issues 4 and 5) and ratio tables, from one results directory.

  ratios.py RESULTS_DIR [--server NAME[,NAME]] [--baseline uvicorn-httptools]
            [--ceiling nginx] [--json PATH]
  ratios.py RESULTS_DIR --compare A B [--json PATH]     A / B per scenario (e.g. workers)

Reads RESULTS_DIR/results.jsonl (written by the shared bench.py through harness.py), keeps per
(run, round, scenario, server) the least disturbed successful attempt (disturb.py's rule),
pairs each run with the reference's run of the same round of the same run, and reports the
median of the per-round ratios (min–max over rounds when there are several).

Lancet servers are those whose name starts with "lancet" (lancet-io_uring, lancet-libevent,
lancet-blocking; "lancet" in older results), unless --server names them.  For each one:

  1. the targets, one row each, with the measured ratio, the target and PASS/FAIL (a median
     that meets the target passes; "no data" when a side was not measured; "SKIPPED" when the
     server refused the WebSocket upgrade);
  2. per scenario: req/s, p99, RSS after the run and server CPU per request, / the baseline.
Then the absolute medians of every server (noisy: ±15 % between runs; quote ratios), and the
disturbance report.  Warnings (disturbed runs kept, failed runs) also go to stderr.

The machine-readable form (RESULTS_DIR/ratios.json unless --json) holds the same: targets,
per-scenario ratios, medians; tools/bench/chart.py draws from it.  Stdlib only.
"""

import argparse
import json
import os
import statistics
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from disturb import disturbance  # noqa: E402

SCENARIO_ORDER = ["hello", "echo", "echo_64k", "stream", "starlette", "fastapi", "probe", "ws",
                  "hello_drain"]
BACKEND_ORDER = ["lancet-io_uring", "lancet-libevent", "lancet-blocking", "lancet"]
SCEN_LABEL = {
    "hello": "hello (raw ASGI, 13 B)", "echo": "echo, 1 KiB JSON POST",
    "echo_64k": "echo, 64 KiB POST", "stream": "stream, 1 MiB in 16 × 64 KiB",
    "starlette": "Starlette /json", "fastapi": "FastAPI /items/{id}",
    "probe": "native probe /_health/alive", "ws": "WebSocket echo (msg/s)",
}

# (id, label, scenario, reference server key, reference scenario, metric, op, target)
# reference "baseline" / "ceiling" are resolved from the command line.
RPS_TARGETS = [
    ("hello_vs_uvicorn", "hello req/s × uvicorn", "hello", "baseline", "hello", ">=", 2.5),
    ("hello_vs_nginx", "hello req/s × nginx", "hello", "ceiling", "hello", ">=", 0.65),
    ("echo_vs_uvicorn", "echo 1 KiB req/s × uvicorn", "echo", "baseline", "echo", ">=", 2.0),
    ("echo_64k_vs_uvicorn", "echo 64 KiB req/s × uvicorn", "echo_64k", "baseline", "echo_64k",
     ">=", 1.5),
    ("stream_vs_nginx", "stream 1 MiB req/s × nginx (static 1 MiB)", "stream", "ceiling",
     "stream", ">=", 0.9),
    ("starlette_vs_uvicorn", "Starlette req/s × uvicorn", "starlette", "baseline", "starlette",
     ">=", 1.8),
    ("fastapi_vs_uvicorn", "FastAPI req/s × uvicorn", "fastapi", "baseline", "fastapi", ">=", 1.5),
    ("probe_vs_nginx", "probe req/s × nginx hello", "probe", "ceiling", "hello", ">=", 0.8),
    ("ws_vs_uvicorn", "WebSocket msg/s × uvicorn (websockets)", "ws", "baseline", "ws", ">=", 2.0),
]
LATENCY_SCENARIOS = ["hello", "echo", "echo_64k", "stream", "starlette", "fastapi", "ws"]


def load(path):
    path = path if path.endswith(".jsonl") else os.path.join(path, "results.jsonl")
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


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


METRICS = {  # key -> getter
    "rps": lambda r: r.get("rps"),
    "p99": lambda r: r.get("p99_us"),
    "rss": lambda r: r.get("rss_after_kb"),
    "cpu": cpu_us_per_req,
}


def scen_key(s):
    return (SCENARIO_ORDER.index(s) if s in SCENARIO_ORDER else 99, s)


def server_key(s):
    return (BACKEND_ORDER.index(s) if s in BACKEND_ORDER else 50, s)


class Data:
    def __init__(self, recs_all):
        self.all = recs_all
        self.recs = pick_attempts(recs_all)
        self.ok = [r for r in self.recs if r.get("ok")]
        self.failed = [r for r in self.recs if not r.get("ok")]
        self.by_key = {(r["run_id"], r["round"], r["scenario"], r["server"]): r for r in self.ok}
        self.scenarios = sorted({r["scenario"] for r in self.recs}, key=scen_key)
        self.servers = sorted({r["server"] for r in self.recs}, key=server_key)

    def pairs(self, server, scen, ref, ref_scen):
        out = []
        for r in self.ok:
            if r["scenario"] == scen and r["server"] == server:
                b = self.by_key.get((r["run_id"], r["round"], ref_scen, ref))
                if b:
                    out.append((r, b))
        return out

    def ratios(self, server, scen, ref, ref_scen, metric):
        get = METRICS[metric]
        return [get(r) / get(b) for r, b in self.pairs(server, scen, ref, ref_scen)
                if get(r) and get(b)]

    def skipped(self, server, scen):
        """The error of a failed (not superseded) run if every run of server/scen failed."""
        if any(r["server"] == server and r["scenario"] == scen for r in self.ok):
            return None
        errs = [r.get("error", "") for r in self.failed
                if r["server"] == server and r["scenario"] == scen]
        return errs[0] if errs else None

    def median(self, server, scen, get):
        v = [get(r) for r in self.ok
             if r["server"] == server and r["scenario"] == scen and get(r) is not None]
        return (statistics.median(v), len(v)) if v else (None, 0)


def summary(vals):
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def fmt_summary(s, digits=2):
    if not s:
        return "-"
    t = f"{s['median']:.{digits}f}"
    if s["n"] > 1:
        t += f" ({s['min']:.{digits}f}–{s['max']:.{digits}f})"
    return t


def fmt_us(us):
    if us is None:
        return "-"
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.0f} µs"


def verdict(s, op, target, skip_err):
    if skip_err and skip_err.startswith("SKIPPED"):
        return "SKIPPED"
    if not s:
        return "RUN FAILED" if skip_err else "no data"
    ok = s["median"] >= target if op == ">=" else s["median"] <= target
    return "PASS" if ok else "FAIL"


def targets_for(d, server, baseline, ceiling):
    refs = {"baseline": baseline, "ceiling": ceiling}
    rows = []
    measured = set(d.scenarios)       # targets of scenarios not run at all are left out
    for tid, label, scen, refkey, ref_scen, op, target in RPS_TARGETS:
        if scen not in measured:
            continue
        s = summary(d.ratios(server, scen, refs[refkey], ref_scen, "rps"))
        skip = d.skipped(server, scen)
        rows.append({"id": tid, "label": label, "scenario": scen, "ref": refs[refkey],
                     "ref_scenario": ref_scen, "metric": "rps", "op": op, "target": target,
                     **(s or {}), "result": verdict(s, op, target, skip),
                     "note": skip or ""})
    for metric, what in (("p99", "p99 latency"), ("rss", "RSS after the run")):
        for scen in LATENCY_SCENARIOS if metric == "p99" else LATENCY_SCENARIOS + ["probe"]:
            if (metric == "rss" and scen == "probe") or scen not in measured:
                continue
            s = summary(d.ratios(server, scen, baseline, scen, metric))
            skip = d.skipped(server, scen)
            rows.append({"id": f"{scen}_{metric}_vs_uvicorn",
                         "label": f"{scen} {what} × uvicorn", "scenario": scen, "ref": baseline,
                         "ref_scenario": scen, "metric": metric, "op": "<=", "target": 1.0,
                         **(s or {}), "result": verdict(s, "<=", 1.0, skip), "note": skip or ""})
    return rows


def one_line(err):
    """A (multi-line) harness error on one line: its first line ... its last line."""
    lines = [ln.strip() for ln in (err or "").splitlines() if ln.strip()]
    if len(lines) <= 1:
        return lines[0] if lines else ""
    return f"{lines[0]} … {lines[-1]}"


def warn(msg):
    print(f"ratios.py: WARNING: {msg}", file=sys.stderr)


def disturbance_report(d):
    kept_disturbed = [r for r in d.ok if r.get("disturbed")]
    dist = [disturbance(r) for r in d.ok]
    retried = len(d.all) - len(d.recs)
    waits = [r.get("quiet_wait_s") or 0 for r in d.all]
    others = [r.get("others_cpu_pct") for r in d.ok if r.get("others_cpu_pct") is not None]
    steal = [max(r.get("cpu0_steal_pct", 0), r.get("cpu1_steal_pct", 0)) for r in d.ok]
    info = {"runs_recorded": len(d.all), "superseded_by_retry": retried,
            "kept_disturbed": len(kept_disturbed),
            "quiet_wait_total_s": sum(waits), "quiet_wait_max_s": max(waits, default=0),
            "others_cpu_pct_median": statistics.median(others) if others else 0,
            "others_cpu_pct_max": max(others, default=0),
            "steal_max_pct": max(steal, default=0),
            "interference_median_pct": statistics.median(dist) if dist else 0,
            "interference_max_pct": max(dist, default=0),
            "disturbed_runs": [{"round": r["round"], "scenario": r["scenario"],
                                "server": r["server"], "interference_pct": disturbance(r)}
                               for r in kept_disturbed],
            "failed_runs": [{"round": r["round"], "scenario": r["scenario"],
                             "server": r["server"], "error": r.get("error")} for r in d.failed]}
    lines = [f"Disturbance: {len(d.all)} runs recorded, {retried} superseded by a retry, "
             f"{len(kept_disturbed)} kept runs still flagged disturbed; waited for quiet cores "
             f"{info['quiet_wait_total_s']:.0f} s in total (max {info['quiet_wait_max_s']:.0f} s "
             f"before one run); other processes' CPU during runs: median "
             f"{info['others_cpu_pct_median']:.1f}%, max {info['others_cpu_pct_max']:.1f}% of a "
             f"core; steal max {info['steal_max_pct']:.1f}%; outside interference per kept run "
             f"(disturb.py rule): median {info['interference_median_pct']:.1f}%, max "
             f"{info['interference_max_pct']:.1f}%."]
    for r in kept_disturbed[:12]:
        lines.append(f"- disturbed: r{r['round']} {r['scenario']} {r['server']}: outside "
                     f"interference {disturbance(r):.1f}% (wrk wait {r.get('wrk_wait_pct')}%, "
                     f"others {r.get('others_cpu_pct')}%)")
    if len(kept_disturbed) > 12:
        lines.append(f"- ... and {len(kept_disturbed) - 12} more disturbed runs (ratios.json)")
    for r in d.failed:
        tag = "SKIPPED" if (r.get("error") or "").startswith("SKIPPED") else "FAILED"
        lines.append(f"- {tag}: r{r['round']} {r['scenario']} {r['server']}: "
                     f"{one_line(r.get('error'))}")
    if kept_disturbed:
        warn(f"{len(kept_disturbed)} of {len(d.ok)} kept runs were flagged DISTURBED by other "
             f"work on the machine (outside interference up to "
             f"{info['interference_max_pct']:.0f}%); their ratios are suspect")
    if retried:
        warn(f"{retried} runs were disturbed and repeated")
    hard = [r for r in d.failed if not (r.get("error") or "").startswith("SKIPPED")]
    if hard:
        warn(f"{len(hard)} runs FAILED (see the end of the report)")
    return lines, info


def absolute_table(d):
    out = ["Absolute medians (NOISY: ±15 % between runs; quote the ratios). req/s (msg/s for ws), "
           "p99, RSS after the run, server CPU µs per request:", ""]
    servers = d.servers
    out.append("| scenario | " + " | ".join(servers) + " |")
    out.append("|---|" + "---|" * len(servers))
    for s in d.scenarios:
        cells = []
        for srv in servers:
            rps, n = d.median(srv, s, METRICS["rps"])
            if rps is None:
                err = d.skipped(srv, s) or ""
                cells.append("SKIPPED" if err.startswith("SKIPPED") else
                             "FAILED" if err else "-")
                continue
            p99, _ = d.median(srv, s, METRICS["p99"])
            rss, _ = d.median(srv, s, METRICS["rss"])
            cpu, _ = d.median(srv, s, METRICS["cpu"])
            cells.append(f"{rps:,.0f}, {fmt_us(p99)}, {rss / 1024:.0f} MiB, "
                         f"{cpu:.1f} µs" if cpu else f"{rps:,.0f}, {fmt_us(p99)}")
        out.append(f"| {s} | " + " | ".join(cells) + " |")
    return out


def medians_json(d):
    med = {}
    for s in d.scenarios:
        for srv in d.servers:
            rps, n = d.median(srv, s, METRICS["rps"])
            if rps is None:
                continue
            med.setdefault(s, {})[srv] = {
                "rps": rps, "n": n, "p99_us": d.median(srv, s, METRICS["p99"])[0],
                "rss_after_kb": d.median(srv, s, METRICS["rss"])[0],
                "rss_idle_kb": d.median(srv, s, lambda r: r.get("rss_idle_kb"))[0],
                "cpu_us_per_req": d.median(srv, s, METRICS["cpu"])[0],
                "server_cpu_pct": d.median(srv, s, lambda r: r.get("server_cpu_pct"))[0]}
    return med


def compare_mode(d, a_srv, b_srv):
    out = [f"{a_srv} / {b_srv}, same run, median of per-round ratios (min–max). req/s: "
           f"higher is better; p99, RSS, CPU µs/req: lower is better.", "",
           "| scenario | rounds | req/s × | p99 × | RSS after × | CPU µs/req × | req/s "
           f"{a_srv} / {b_srv} | server CPU (cores) |", "|---|---|---|---|---|---|---|---|"]
    res = {}
    for s in d.scenarios:
        pairs = d.pairs(a_srv, s, b_srv, s)
        if not pairs:
            continue
        cells, res[s] = [], {}
        for m in ("rps", "p99", "rss", "cpu"):
            sm = summary(d.ratios(a_srv, s, b_srv, s, m))
            res[s][m] = sm
            cells.append(fmt_summary(sm))
        ra, _ = d.median(a_srv, s, METRICS["rps"])
        rb, _ = d.median(b_srv, s, METRICS["rps"])
        ca, _ = d.median(a_srv, s, lambda r: r.get("server_cpu_pct"))
        cb, _ = d.median(b_srv, s, lambda r: r.get("server_cpu_pct"))
        out.append(f"| {s} | {len(pairs)} | " + " | ".join(cells) +
                   f" | {ra:,.0f} / {rb:,.0f} | {ca / 100:.2f} / {cb / 100:.2f} |")
    return out, res


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--server", help="comma-separated Lancet server names (default: lancet*)")
    ap.add_argument("--baseline", default="uvicorn-httptools")
    ap.add_argument("--ceiling", default="nginx")
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"))
    ap.add_argument("--json", help="where to write the JSON (default DIR/ratios.json; '-' none)")
    a = ap.parse_args()
    d = Data(load(a.dir))
    jpath = a.json or (os.path.join(a.dir, "ratios.json") if os.path.isdir(a.dir) else "-")

    if a.compare:
        out, res = compare_mode(d, *a.compare)
        dlines, dinfo = disturbance_report(d)
        print("\n".join(out + [""] + dlines))
        if jpath != "-":
            with open(jpath, "w") as f:
                json.dump({"compare": a.compare, "ratios": res, "medians": medians_json(d),
                           "disturbance": dinfo}, f, indent=1)
        return 0

    lancets = (a.server.split(",") if a.server
               else [s for s in d.servers if s.startswith("lancet")])
    out = [f"Lancet targets (issues 4, 5), same run: median of per-round ratios (min–max), "
           f"against {a.baseline} (\"uvicorn\") and {a.ceiling} (\"nginx\"). req/s: higher is "
           f"better; p99, RSS: lower is better. PASS = the median meets the target.", ""]
    js = {"dir": os.path.abspath(a.dir), "baseline": a.baseline, "ceiling": a.ceiling,
          "servers": d.servers, "lancet_servers": lancets, "scenarios": d.scenarios,
          "targets": {}, "ratios": {}}
    for srv in lancets:
        rows = targets_for(d, srv, a.baseline, a.ceiling)
        js["targets"][srv] = rows
        counts = {k: sum(1 for r in rows if r["result"] == k)
                  for k in ("PASS", "FAIL", "SKIPPED", "RUN FAILED", "no data")}
        out += [f"### {srv}: " + ", ".join(f"{v} {k}" for k, v in counts.items()
                                           if v or k in ("PASS", "FAIL")), "",
                "| target | measured × | rounds | need | result |", "|---|---|---|---|---|"]
        for r in rows:
            meas = fmt_summary(r if "median" in r else None)
            note = ""
            if r["result"] == "SKIPPED":
                note = " (upgrade refused: no WebSocket support)"
            elif r["result"] == "RUN FAILED":
                note = " (server failed; see the end)"
            out.append(f"| {r['label']} | {meas} | {r.get('n', 0)} | {r['op']} {r['target']:g} "
                       f"| {r['result']}{note} |")
        out.append("")
    for srv in lancets:
        out += [f"Per scenario, {srv} / {a.baseline} (nginx-only references: see targets):", "",
                "| scenario | rounds | req/s × | p99 × | RSS after × | CPU µs/req × | errors |",
                "|---|---|---|---|---|---|---|"]
        js["ratios"][srv] = {}
        for s in d.scenarios:
            pairs = d.pairs(srv, s, a.baseline, s)
            if not pairs:
                skip = d.skipped(srv, s)
                if skip:
                    what = ("SKIPPED: upgrade refused" if skip.startswith("SKIPPED")
                            else "RUN FAILED")
                    out.append(f"| {s} | 0 | {what} | | | | |")
                continue
            cells, res = [], {}
            for m in ("rps", "p99", "rss", "cpu"):
                sm = summary(d.ratios(srv, s, a.baseline, s, m))
                res[m] = sm
                cells.append(fmt_summary(sm))
            js["ratios"][srv][s] = res
            errs = (sum(r.get("errors_total", 0) for r, _ in pairs),
                    sum(b.get("errors_total", 0) for _, b in pairs))
            out.append(f"| {s} | {len(pairs)} | " + " | ".join(cells) +
                       f" | {errs[0]}/{errs[1]} |")
        out.append("")
    out += absolute_table(d)
    dlines, dinfo = disturbance_report(d)
    out += [""] + dlines
    js["medians"] = medians_json(d)
    js["disturbance"] = dinfo
    print("\n".join(out))
    if jpath != "-":
        with open(jpath, "w") as f:
            json.dump(js, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
