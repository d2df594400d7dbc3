#!/usr/bin/env bash
# Lancet --workers 4 against --workers 1 on this 2-core machine (issue 4: "also report 4
# workers vs 1 worker on the same machine"), measured in the same run with the shared harness.
#
#   tools/bench/workers.sh              hello and fastapi, 3 rounds of 10 s, both modes (~8 min)
#   QUICK=1 tools/bench/workers.sh      1 round of 2 s, short quiet waits (~1 min)
#
# Two CPU placements, because on 2 cores no placement gives 4 workers cores of their own:
#   pinned  the server (supervisor + all its workers) on CPU 0, wrk on CPU 1 (as run.sh).
#           4 workers share the one core 1 worker has: this measures what 4 processes cost
#           on one core (scheduling, 4 event loops, 4 interpreters' memory); more than 1.0x is
#           not possible here, except where 1 worker leaves its core idle (e.g. waiting on I/O).
#   shared  the server on CPUs 0-1, wrk pinned to CPU 1: the workers can use both cores, but
#           wrk competes with them for CPU 1, so the gain is bounded by about
#           2 cores minus wrk's share, not 4x, and the kernel decides who gets CPU 1.  The
#           disturbance rule then counts only processes other than the server and wrk.
# Env: BACKEND (io_uring; one of io_uring, libevent, blocking; must be built, see run.sh),
#   WORKERS (4: compared with 1), SCENARIOS (hello,fastapi), MODES (pinned,shared),
#   ROUNDS (3), DURATION (10s), WARMUP (2s), QUICK=1 (ROUNDS=1 DURATION=2s WARMUP=1s
#   QUIET_WAIT=2 MAX_RETRIES=0), QUIET_WAIT, MAX_RETRIES, OUT (tools/bench/results/workers-<ts>),
#   BENCH_HARNESS.
# Output in OUT: MODE/results.jsonl, MODE/logs/, MODE/workers.md (+ ratios.json), workers.md
# (both modes, printed at the end).  Everything binds 127.0.0.1 only.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PY=/usr/bin/python3
HARNESS="${BENCH_HARNESS:-/work/shared/bench}"
export BENCH_HARNESS="$HARNESS"
LANCET="$REPO/.venv/bin/lancet"

case "${1:-}" in
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
  "") ;;
  *) echo "workers.sh: no arguments expected (use env vars; see --help)" >&2; exit 2 ;;
esac
for tool in wrk taskset; do
  command -v "$tool" >/dev/null || { echo "workers.sh: $tool is missing: run tools/setup.sh --bench" >&2; exit 1; }
done
[ -f "$HARNESS/bench.py" ] || { echo "workers.sh: shared harness not found in $HARNESS (set BENCH_HARNESS)" >&2; exit 1; }

BACKEND=${BACKEND:-io_uring}
WORKERS=${WORKERS:-4}
source "$HERE/lib.sh"
select_lancet_backends "$BACKEND"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
if [ "${QUICK:-0}" = 1 ]; then
  ROUNDS=1; DURATION=2s; WARMUP=1s; QUIET_WAIT=${QUIET_WAIT:-2}; MAX_RETRIES=${MAX_RETRIES:-0}
fi
SCENARIOS=${SCENARIOS:-hello,fastapi}
MODES=${MODES:-pinned,shared}
OUT=${OUT:-$HERE/results/workers-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
SETS=()
[ -n "${QUIET_WAIT:-}" ] && SETS+=(--set "quiet_wait=$QUIET_WAIT")
[ -n "${MAX_RETRIES:-}" ] && SETS+=(--set "max_retries=$MAX_RETRIES")
export PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}"

A="lancet-$BACKEND-w$WORKERS"
B="lancet-$BACKEND-w1"
prefix="${LANCET_PREFIX[$BACKEND]}"
common="{app} --host 127.0.0.1 --port {port} --no-access-log --log-level warning"
{ printf '%s\n' "${LANCET_INFO[@]}"; uname -a; echo "nproc $(nproc)";
  echo "loadavg at start: $(cat /proc/loadavg)"; } > "$OUT/versions.txt"

report="$OUT/workers.md"
{
  echo "# Lancet ($BACKEND) --workers $WORKERS vs --workers 1, $(nproc) cores, same run"
  echo
  echo "$ROUNDS round(s) of $DURATION per scenario and server, wrk -t1 -c64, medians of per-round ratios (min–max)."
} > "$report"
for mode in ${MODES//,/ }; do
  case "$mode" in
    pinned) cpus=(--set server_cpu=0 --set client_cpu=1)
            what="server (supervisor + every worker) pinned to CPU 0, wrk pinned to CPU 1: the $WORKERS workers share the single core that 1 worker has, so this shows the cost of $WORKERS processes on one core, not a scaling gain." ;;
    shared) cpus=(--set server_cpu=0-1 --set client_cpu=1)
            what="server allowed on CPUs 0-1, wrk pinned to CPU 1: the workers can use both cores but compete with wrk for CPU 1; the gain is bounded by about 2 cores minus wrk's share (not $WORKERS×). 1 worker runs on one core at a time either way." ;;
    *) echo "workers.sh: unknown mode '$mode' (pinned, shared)" >&2; exit 2 ;;
  esac
  mkdir -p "$OUT/$mode"
  echo "== mode $mode: $what"
  $PY "$HERE/harness.py" "${cpus[@]}" ${SETS[@]+"${SETS[@]}"} run \
    --servers "$A,$B" --scenarios "$SCENARIOS" --rounds "$ROUNDS" --duration "$DURATION" \
    --warmup "$WARMUP" --out "$OUT/$mode" \
    --add-server "$A=$prefix $common --workers $WORKERS" \
    --add-server "$B=$prefix $common --workers 1"
  $PY "$HERE/ratios.py" "$OUT/$mode" --compare "$A" "$B" > "$OUT/$mode/workers.md"
  { echo; echo "## mode $mode"; echo; echo "$what"; echo; cat "$OUT/$mode/workers.md"; } >> "$report"
done
{
  echo
  echo "Reading: req/s × > 1 means $WORKERS workers served more than 1. 'server CPU (cores)' is the server"
  echo "tree's CPU time per second of run (1.00 = one full core). RSS after is the whole process"
  echo "tree (supervisor + workers), so × about $((WORKERS + 1)) would mean no sharing between processes."
} >> "$report"
echo
echo "== $report"
cat "$report"
