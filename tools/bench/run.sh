#!/usr/bin/env bash
# Lancet vs uvicorn (uvloop + httptools), measured in the same run with the
# shared peer harness (/work/shared/bench/bench.py, via tools/bench/harness.py).
#
#   tools/bench/run.sh                 3 rounds of 10 s per scenario and server (~12 min)
#   QUICK=1 tools/bench/run.sh         smoke test: 1 round of 3 s (~2 min)
#   ROUNDS=2 DURATION=5s tools/bench/run.sh
#
# Env: ROUNDS (3), DURATION (10s), WARMUP (2s; 1s with QUICK), SCENARIOS
# (hello,echo,echo_64k,stream,fastapi), OUT (tools/bench/results/<timestamp>),
# BENCH_HARNESS (/work/shared/bench: bench.py, bench.toml, apps.py).
# The server runs pinned to CPU 0, wrk -t1 -c64 to CPU 1 (bench.toml); each
# run waits (bounded) for quiet cores and is retried once if disturbed.
# Servers rotate order each round.  Everything binds 127.0.0.1 only.
# Output in OUT: results.jsonl, logs/, summary.md (harness tables),
# ratios.md (lancet / uvicorn ratios, printed at the end), versions.txt, env.txt.
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
[ -x "$LANCET" ] || { echo "run.sh: $LANCET is missing: run tools/install.sh first" >&2; exit 1; }
for tool in wrk taskset; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing: run tools/setup.sh --bench" >&2; exit 1; }
done
$PY -c 'import uvicorn, httptools, uvloop' 2>/dev/null || {
  echo "run.sh: uvicorn/httptools/uvloop missing for $PY: run tools/setup.sh --bench" >&2; exit 1; }
# apps.py imports Starlette and FastAPI; both servers' Pythons must see them.
for py in "$PY" "$REPO/.venv/bin/python"; do
  "$py" -c 'import starlette, fastapi' 2>/dev/null || {
    echo "run.sh: starlette/fastapi not importable by $py: run tools/setup.sh" >&2; exit 1; }
done
[ -f "$HARNESS/bench.py" ] && [ -f "$HARNESS/bench.toml" ] && [ -f "$HARNESS/apps.py" ] || {
  echo "run.sh: shared harness not found in $HARNESS (set BENCH_HARNESS)" >&2; exit 1; }

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
if [ "${QUICK:-0}" = 1 ]; then ROUNDS=1; DURATION=3s; WARMUP=1s; fi
SCENARIOS=${SCENARIOS:-hello,echo,echo_64k,stream,fastapi}
OUT=${OUT:-$HERE/results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

# ---- record versions and machine facts
{
  echo "lancet: $("$LANCET" --version 2>&1)"
  echo "lancet commit: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet HEAD -- 2>/dev/null || echo ' (+ uncommitted changes)')"
  $PY -c 'import uvicorn, httptools, uvloop, fastapi, starlette, pydantic; print("uvicorn", uvicorn.__version__, "httptools", httptools.__version__, "uvloop", uvloop.__version__, "fastapi", fastapi.__version__, "starlette", starlette.__version__, "pydantic", pydantic.VERSION)'
  dpkg-query -W -f='${Package}\t${Version}\n' python3-uvicorn python3-httptools python3-uvloop wrk python3.11 2>/dev/null || true
} > "$OUT/versions.txt"
{ uname -a; echo "nproc $(nproc)"; grep -m1 'model name' /proc/cpuinfo; $PY --version;
  cat /etc/debian_version; free -m; echo "loadavg at start: $(cat /proc/loadavg)"; } > "$OUT/env.txt" 2>&1

echo "== lancet vs uvicorn-httptools: $SCENARIOS; $ROUNDS round(s) of $DURATION (+ $WARMUP warm-up); -> $OUT"
$PY "$HERE/harness.py" run \
  --servers uvicorn-httptools,lancet \
  --scenarios "$SCENARIOS" --rounds "$ROUNDS" --duration "$DURATION" --warmup "$WARMUP" \
  --out "$OUT" \
  --add-server "lancet=$LANCET {app} --host 127.0.0.1 --port {port} --no-access-log --log-level warning"

$PY "$HERE/harness.py" summarize "$OUT" > "$OUT/summary.md"
$PY "$HERE/ratios.py" "$OUT" --server lancet --baseline uvicorn-httptools > "$OUT/ratios.md"
echo
echo "== $OUT/ratios.md  (full harness tables: $OUT/summary.md)"
cat "$OUT/ratios.md"
