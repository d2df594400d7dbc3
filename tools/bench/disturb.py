"""The disturbance rule of tools/bench (harness.py flags and retries runs with it; ratios.py
picks the least disturbed attempt with it).  Stdlib only.

Outside interference in % of the run: the largest of
  - CPU time on the server's cores not spent by the server nor in irq/softirq (= other
    processes there), and the same on the load generator's cores for it;
  - the load generator's run-queue wait (wrk and ws_load are single-threaded: that wait is
    foreign);
  - hypervisor steal on any core.
When the server's and the load generator's cores overlap (workers.sh's "shared" mode: the
server on both cores, wrk on one of them), the two compete by design, so the rule becomes:
busy time of the cores they use, minus irq/softirq, minus what the server and the load
generator themselves used; the load generator's run-queue wait is not counted then.

The cores are read from the record's own commands ("taskset -c LIST ..."), falling back to
0 (server) and 1 (load generator).
"""

import shlex


def parse_cpus(text):
    """'0', '0,1', '0-1' -> {0, 1}; None if not a plain CPU list."""
    out = set()
    for part in str(text).split(","):
        part = part.strip()
        if "-" in part:
            a, _, b = part.partition("-")
            if not (a.isdigit() and b.isdigit()):
                return None
            out.update(range(int(a), int(b) + 1))
        elif part.isdigit():
            out.add(int(part))
        else:
            return None
    return out or None


def cmd_cpus(cmd, default):
    try:
        argv = shlex.split(cmd or "")
    except ValueError:
        return {default}
    if len(argv) >= 3 and argv[0] == "taskset" and argv[1] == "-c":
        return parse_cpus(argv[2]) or {default}
    return {default}


def disturbance(rec):
    """% of the run lost to outside interference (see the module docstring)."""
    srv = cmd_cpus(rec.get("server_cmd"), 0)
    cli = cmd_cpus(rec.get("wrk_cmd"), 1)
    vals = [rec.get(k) or 0 for k in rec if k.endswith("_steal_pct")]

    def foreign(cpus):
        return sum((rec.get(f"cpu{c}_busy_pct") or 0) - (rec.get(f"cpu{c}_irq_pct") or 0)
                   for c in cpus if rec.get(f"cpu{c}_busy_pct") is not None)

    if srv & cli:
        vals.append(foreign(srv | cli) - (rec.get("server_cpu_pct") or 0)
                    - (rec.get("wrk_cpu_pct") or 0))
    else:
        vals.append(rec.get("wrk_wait_pct") or 0)
        vals.append(foreign(srv) - (rec.get("server_cpu_pct") or 0))
        vals.append(foreign(cli) - (rec.get("wrk_cpu_pct") or 0))
    return max(vals + [0])
