#!/usr/bin/env bash
# Lancet (each built I/O backend) vs uvicorn (uvloop + httptools, websockets) vs nginx, measured
# in the same run with the shared peer harness (/work/shared/bench/bench.py, through
# tools/bench/harness.py); then the targets of issues 4 and 5 as ratios (ratios.py) and a
# chart (chart.py).
#
#   tools/bench/run.sh                 3 rounds of 10 s per scenario and server (~35 min)
#   QUICK=1 tools/bench/run.sh         smoke test: 1 round of 2 s, no warm-up, short waits (~3 min)
#   BACKENDS=io_uring SCENARIOS=hello,probe ROUNDS=2 DURATION=5s tools/bench/run.sh
#   tools/bench/workers.sh             Lancet --workers 4 vs --workers 1 (see its --help)
#   tools/bench/build_backends.sh      builds the libevent/blocking backends (see its --help)
#
# Servers: uvicorn-httptools (the baseline; --ws websockets), nginx (1 worker; hello and stream
# only: the ceiling without Python) and lancet-BACKEND for each backend in BACKENDS
# (io_uring, libevent, blocking).  A backend runs as .venv/bin/lancet when that is its backend
# (tools/install.sh builds it), else with the extension of build-BACKEND/pkg
# (tools/bench/build_backends.sh BACKEND) and the working tree's python/lancet/*.py, linked
# into tools/bench/.build/pkg-BACKEND: `env PYTHONPATH=... /usr/bin/python3 -m lancet`.
# Scenarios: hello, echo (1 KiB POST), echo_64k, stream (1 MiB in 64 KiB chunks), starlette,
# fastapi (bench.toml's) and, from tools/bench/scenarios.toml: probe (GET /_health/alive,
# answered natively by Lancet; Lancet only, compared with nginx's hello) and ws (WebSocket echo
# of tools/bench/wsapp.py, driven by tools/bench/ws_load, which is compiled with g++ into
# tools/bench/.build/; a server that refuses the upgrade is reported SKIPPED).
#
# Env:
#   BACKENDS     comma list of io_uring,libevent,blocking (default: every one that is built;
#                naming one that is not built is an error that says how to build it)
#   SCENARIOS    (hello,echo,echo_64k,stream,starlette,fastapi,probe,ws)
#   ROUNDS (3), DURATION (10s), WARMUP (2s; "0" = none)   per scenario and server
#   QUICK=1      ROUNDS=1 DURATION=2s WARMUP=0, and unless set QUIET_WAIT=1 MAX_RETRIES=0
#                STARTUP_TIMEOUT=10
#   QUIET_WAIT   max seconds to wait for quiet cores before each run (bench.toml: 30)
#   MAX_RETRIES  repeats of a run flagged disturbed (bench.toml: 1)
#   STARTUP_TIMEOUT  max seconds for a server to answer (bench.toml: 20)
#   WS_CONNECTIONS (64), WS_SIZE (32 bytes)   the ws scenario's connections and message size
#   OUT          results dir (tools/bench/results/<timestamp>; an existing one is appended to,
#                and ratios pair runs of the same invocation only)
#   CHART=0      no chart;  CHART_OUT  where the PNG goes (default OUT/bench.png)
#   BENCH_HARNESS  the shared harness (/work/shared/bench: bench.py, bench.toml, apps.py)
# The server runs pinned to CPU 0, wrk (or ws_load) to CPU 1 (bench.toml); each run waits
# (bounded) for quiet cores and is repeated if disturbed (disturb.py's rule).  Servers rotate
# order each round.  Everything binds 127.0.0.1 only.
# Output in OUT: results.jsonl, logs/, summary.md (harness tables), ratios.md (targets and
# ratios, printed at the end), ratios.json, bench.png, versions.txt, env.txt.  Warnings go to
# stderr when runs were flagged disturbed or failed, or when Lancet's extension modules or
# python/lancet/*.py changed during the run.
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
  *) echo "run.sh: no arguments expected (use env vars; see --help)" >&2; exit 2 ;;
esac

# ---- preconditions, each with the command that fixes it
for tool in wrk taskset g++; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing: run tools/setup.sh --bench" >&2; exit 1; }
done
[ -x /usr/sbin/nginx ] || { echo "run.sh: /usr/sbin/nginx is missing: apt-get install nginx-light" >&2; exit 1; }
$PY -c 'import uvicorn, httptools, uvloop, websockets' 2>/dev/null || {
  echo "run.sh: uvicorn/httptools/uvloop/websockets missing for $PY: run tools/setup.sh --bench" \
       "(websockets: apt-get install python3-websockets)" >&2; exit 1; }
$PY -c 'import starlette, fastapi' 2>/dev/null || {
  echo "run.sh: starlette/fastapi not importable by $PY: run tools/setup.sh" >&2; exit 1; }
[ -f "$HARNESS/bench.py" ] && [ -f "$HARNESS/bench.toml" ] && [ -f "$HARNESS/apps.py" ] || {
  echo "run.sh: shared harness not found in $HARNESS (set BENCH_HARNESS)" >&2; exit 1; }

# ---- which Lancet backends, and the command of each
source "$HERE/lib.sh"
select_lancet_backends "${BACKENDS:-}"   # LANCET_BACKENDS, LANCET_PREFIX, LANCET_INFO
lancet_add_args "" ""                    # LANCET_NAMES, LANCET_ADD

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
if [ "${QUICK:-0}" = 1 ]; then
  ROUNDS=1; DURATION=2s; WARMUP=0
  QUIET_WAIT=${QUIET_WAIT:-1}; MAX_RETRIES=${MAX_RETRIES:-0}; STARTUP_TIMEOUT=${STARTUP_TIMEOUT:-10}
fi
SCENARIOS=${SCENARIOS:-hello,echo,echo_64k,stream,starlette,fastapi,probe,ws}
OUT=${OUT:-$HERE/results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
SETS=()
[ -n "${QUIET_WAIT:-}" ] && SETS+=(--set "quiet_wait=$QUIET_WAIT")
[ -n "${MAX_RETRIES:-}" ] && SETS+=(--set "max_retries=$MAX_RETRIES")
[ -n "${STARTUP_TIMEOUT:-}" ] && SETS+=(--set "startup_timeout=$STARTUP_TIMEOUT")

case ",$SCENARIOS," in *,ws,*)
  $PY "$HERE/harness.py" build-ws-load >/dev/null || { echo "run.sh: could not build ws_load" >&2; exit 1; } ;;
esac

# ---- record versions and machine facts
{
  echo "lancet commit: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet HEAD -- 2>/dev/null || echo ' (+ uncommitted changes)')"
  printf '%s\n' "${LANCET_INFO[@]}"
  $PY -c 'import uvicorn, httptools, uvloop, websockets, fastapi, starlette, pydantic; print("uvicorn", uvicorn.__version__, "httptools", httptools.__version__, "uvloop", uvloop.__version__, "websockets", websockets.__version__, "fastapi", fastapi.__version__, "starlette", starlette.__version__, "pydantic", pydantic.VERSION)'
  /usr/sbin/nginx -v 2>&1
  dpkg-query -W -f='${Package}\t${Version}\n' python3-uvicorn python3-httptools python3-uvloop python3-websockets wrk nginx-light python3.11 2>/dev/null || true
} > "$OUT/versions.txt"
{ uname -a; echo "nproc $(nproc)"; grep -m1 'model name' /proc/cpuinfo; $PY --version;
  cat /etc/debian_version; free -m; echo "loadavg at start: $(cat /proc/loadavg)"; } > "$OUT/env.txt" 2>&1

# Every server imports tools/bench/wsapp.py for the ws scenario (cwd is the shared harness).
export PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}"
SERVERS="uvicorn-httptools,nginx,$LANCET_NAMES"
so_before=$(so_fingerprint)
echo "== $SERVERS: $SCENARIOS; $ROUNDS round(s) of $DURATION (+ $WARMUP warm-up)${QUIET_WAIT:+; quiet wait <= ${QUIET_WAIT}s}${MAX_RETRIES:+; retries $MAX_RETRIES}; -> $OUT"
$PY "$HERE/harness.py" ${SETS[@]+"${SETS[@]}"} run \
  --servers "$SERVERS" \
  --scenarios "$SCENARIOS" --rounds "$ROUNDS" --duration "$DURATION" --warmup "$WARMUP" \
  --out "$OUT" "${LANCET_ADD[@]}"

so_after=$(so_fingerprint)
if [ "$so_after" != "$so_before" ]; then
  changed=$(diff <(echo "$so_before") <(echo "$so_after") | grep '^[<>]' | sed 's/^</before:/; s/^>/after: /' || true)
  echo "run.sh: WARNING: a Lancet extension module or python/lancet/*.py changed during the run" \
       "(someone else's build or edit?): the results mix two builds (path, mtime, size):" >&2
  echo "$changed" >&2
  printf 'WARNING: Lancet changed during the run (path, mtime, size):\n%s\n' "$changed" >> "$OUT/versions.txt"
fi
$PY "$HERE/harness.py" summarize "$OUT" > "$OUT/summary.md"
$PY "$HERE/ratios.py" "$OUT" > "$OUT/ratios.md"
if [ "${CHART:-1}" != 0 ]; then
  $PY "$HERE/chart.py" "$OUT" --out "${CHART_OUT:-$OUT/bench.png}" ||
    echo "run.sh: WARNING: the chart failed (python3-matplotlib installed? apt-get install python3-matplotlib)" >&2
fi
echo
echo "== $OUT/ratios.md  (full harness tables: $OUT/summary.md; chart: ${CHART_OUT:-$OUT/bench.png})"
cat "$OUT/ratios.md"
