#!/usr/bin/python3
"""Run the shared peer harness (bench.py) with tools/bench's corrections and additions.

Usage: the same as `bench.py`, with a few options of its own first:

  harness.py [--harness DIR] [--extra-config FILE]... [--set KEY=VALUE]... run|summarize|list ...
  harness.py build-ws-load          compile tools/bench/ws_load.cpp if needed, print its path

  --harness DIR        the shared harness (default $BENCH_HARNESS or /work/shared/bench)
  --extra-config FILE  a TOML merged over the shared bench.toml, table by table and key by
                       key (default: tools/bench/scenarios.toml; give "none" for none)
  --set KEY=VALUE      override a [defaults] value of bench.toml for this run, e.g.
                       --set server_cpu=0-1 --set quiet_wait=2 --set max_retries=0

Corrections to bench.py (applied to every server alike):

1. Server CPU time.  bench.py sums /proc/PID/task/*/schedstat over the threads alive at the
   start and at the end of the measured run.  Lancet's blocking backend runs one thread per
   connection; those threads are created after the first reading and have exited by the
   second, so their CPU time was missing (measured: 0.39 s counted of 1.52 s used in a 3 s
   hello run).  Here the on-CPU part is utime+stime from /proc/PID/stat of each process of the
   server's tree, which keeps exited threads' time (10 ms ticks: < 1 % error on a 3 s run).
   The run-queue wait still comes from schedstat (recorded, not used to judge disturbance).

2. The disturbance rule.  bench.py retries a run in which the server sat runnable but off-CPU
   for more than max_wait_pct % of it.  A thread-per-connection server pinned to one core
   queues behind its own threads (70-140 % "wait" on a quiet core), so every such run was
   flagged.  The rule used here measures outside interference only; see disturb.py.

Additions:

3. Merged configuration (--extra-config): tools/bench/scenarios.toml adds the `probe` and `ws`
   scenarios.  A scenario with `only = "PREFIX"` runs only on servers whose name starts with
   PREFIX (`probe`: Lancet's native health probe, which no other server has).

4. The `ws` scenario's load generator.  A scenario with `loadgen = "ws_load"` is driven by
   tools/bench/ws_load (C++, epoll; compiled on first use into tools/bench/.build/, or $WS_LOAD)
   instead of wrk, pinned to the same client core, with the same accounting (its CPU time,
   its run-queue wait).  ws_load prints wrk's BENCH_JSON line (requests = echoed messages), so
   bench.py's parsing, tables and results.jsonl are unchanged.  If a server answers the upgrade
   with anything but 101, the run fails with an error starting "SKIPPED: WebSocket upgrade
   refused", which ratios.py reports as a skip (a server without WebSocket support).
   Env: WS_CONNECTIONS (the scenario's `connections`, 64), WS_SIZE (`ws_size`, 32 bytes).

Everything else (pinning, quiet-core waits, warm-up, interleaving, retries, results.jsonl
format, summarize) is the shared harness, unchanged.  Stdlib only.
"""

import os
import resource
import shlex
import subprocess
import sys
import time

sys.dont_write_bytecode = True          # the shared folder is read-only
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import disturb  # noqa: E402

WS_SRC = os.path.join(HERE, "ws_load.cpp")
WS_BIN_DEFAULT = os.path.join(HERE, ".build", "ws_load")


def _take_options(argv):
    """Strip harness.py's own leading options from argv; return them."""
    opts = {"harness": os.environ.get("BENCH_HARNESS", "/work/shared/bench"),
            "extra": [], "set": []}
    extra_given = False
    while len(argv) > 1 and argv[1] in ("--harness", "--extra-config", "--set"):
        if len(argv) < 3:
            sys.exit(f"harness.py: {argv[1]} wants a value")
        key, val = argv[1], argv[2]
        del argv[1:3]
        if key == "--harness":
            opts["harness"] = val
        elif key == "--extra-config":
            extra_given = True
            if val != "none":
                opts["extra"].append(val)
        else:
            k, sep, v = val.partition("=")
            if not sep:
                sys.exit(f"harness.py: --set wants KEY=VALUE, got {val!r}")
            opts["set"].append((k.strip(), v.strip()))
    if not extra_given:
        opts["extra"].append(os.path.join(HERE, "scenarios.toml"))
    return opts


def ensure_ws_load():
    """Path of the ws_load binary, compiled with g++ if missing or older than its source."""
    path = os.environ.get("WS_LOAD")
    if path:
        if not os.access(path, os.X_OK):
            raise RuntimeError(f"WS_LOAD={path} is not an executable")
        return path
    path = WS_BIN_DEFAULT
    if not os.path.exists(path) or os.path.getmtime(path) < os.path.getmtime(WS_SRC):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        cmd = ["g++", "-O2", "-std=c++20", "-Wall", "-o", path + ".tmp", WS_SRC]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"compiling ws_load failed ({shlex.join(cmd)}):\n{r.stderr[-2000:]}")
        os.replace(path + ".tmp", path)
    return path


if __name__ == "__main__" and len(sys.argv) == 2 and sys.argv[1] == "build-ws-load":
    try:
        print(ensure_ws_load())
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        sys.exit(f"harness.py: {e}")
    sys.exit(0)

OPTS = _take_options(sys.argv)
harness_dir = OPTS["harness"]
if not os.path.isfile(os.path.join(harness_dir, "bench.py")):
    sys.exit(f"harness.py: no bench.py in {harness_dir} (set BENCH_HARNESS)")
sys.path.insert(0, harness_dir)

import bench  # noqa: E402

# ---------------------------------------------------------------- 1. server CPU time
_live_threads_schedstat = bench.tree_schedstat


def tree_schedstat(pid):
    """(on-CPU ns incl. exited threads, run-queue wait ns of live threads)."""
    _run_live, wait = _live_threads_schedstat(pid)
    ticks = 0
    for p in bench.process_tree(pid):
        st = bench._proc_stat(p)
        if st:
            ticks += st[2]
    return ticks * 1_000_000_000 // bench.CLK_TCK, wait


bench.tree_schedstat = tree_schedstat

# ---------------------------------------------------------------- 2. disturbance rule
bench.disturbance = disturb.disturbance

# ---------------------------------------------------------------- 3. merged configuration
_load_config = bench.load_config


def _coerce(text):
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def load_config(path):
    cfg = _load_config(path)
    for extra in OPTS["extra"]:
        more = _load_config(extra)
        for section, tables in more.items():
            dst = cfg.setdefault(section, {})
            if section == "defaults":
                dst.update(tables)
                continue
            for name, table in tables.items():
                dst.setdefault(name, {}).update(table)
    for k, v in OPTS["set"]:
        cfg["defaults"][k] = _coerce(v)
    for name, scen in cfg["scenarios"].items():
        if scen.get("loadgen") == "ws_load":
            if os.environ.get("WS_CONNECTIONS"):
                scen["connections"] = int(os.environ["WS_CONNECTIONS"])
            if os.environ.get("WS_SIZE"):
                scen["ws_size"] = int(os.environ["WS_SIZE"])
            scen["description"] = (
                f"WebSocket echo: {scen.get('ws_size', 32)}-byte text messages, "
                f"{scen.get('connections', cfg['defaults'].get('connections', 64))} connections, "
                f"one message in flight per connection (tools/bench/ws_load)")
    only = {n: s["only"] for n, s in cfg["scenarios"].items() if s.get("only")}
    if only:
        for sname, server in cfg["servers"].items():
            allowed = server.get("scenarios", list(cfg["scenarios"]))
            server["scenarios"] = [s for s in allowed
                                   if s not in only or sname.startswith(only[s])]
    return cfg


bench.load_config = load_config

# ---------------------------------------------------------------- 4. the ws_load generator
_run_wrk = bench.run_wrk


def run_wrk(dcfg, scen, port, duration, log_path):
    """bench.run_wrk, or ws_load for a `loadgen = "ws_load"` scenario (same return value)."""
    if scen.get("loadgen") != "ws_load":
        return _run_wrk(dcfg, scen, port, duration, log_path)
    try:
        ws_load = ensure_ws_load()
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        raise bench.BenchError(str(e))
    conns = scen.get("connections", dcfg["connections"])
    argv = ["taskset", "-c", str(dcfg["client_cpu"]), ws_load, "--host", "127.0.0.1",
            "--port", str(port), "--path", scen["path"], "--connections", str(conns),
            "--size", str(scen.get("ws_size", 32)), "--duration", str(duration),
            "--timeout", str(dcfg["wrk_timeout"])]
    out_path = log_path + ".tmp"
    deadline = time.monotonic() + bench.parse_seconds(duration) + 30
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    wait_ns = 0
    with open(out_path, "w+") as out:
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
        try:
            while p.poll() is None:
                if time.monotonic() > deadline:
                    p.kill()
                    p.wait()
                    raise bench.BenchError("ws_load did not finish in time")
                _, w = bench.task_schedstat(p.pid)
                wait_ns = max(wait_ns, w)
                time.sleep(0.1)
            wall = time.monotonic() - t0
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        out.seek(0)
        text = out.read()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    run_s = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    os.unlink(out_path)
    with open(log_path, "a") as f:
        f.write("$ " + shlex.join(argv) + "\n" + text + "\n")
    if p.returncode == 3:
        line = next((ln for ln in text.splitlines() if ln.startswith("ws_load:")), text[-300:])
        raise bench.BenchError("SKIPPED: WebSocket upgrade refused (no WebSocket support in this "
                               f"server build?): {line}")
    if p.returncode != 0:
        raise bench.BenchError(f"ws_load exited {p.returncode}: {text[-300:]}")
    return argv, text, wall, run_s, wait_ns / 1e9


bench.run_wrk = run_wrk

if __name__ == "__main__":
    sys.exit(bench.main())
