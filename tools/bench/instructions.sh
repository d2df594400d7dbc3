#!/usr/bin/env bash
# tools/bench/instructions.sh: user-space instructions per request, Lancet against uvicorn.
#
# Each server runs under callgrind (valgrind) with instrumentation off; after a warm-up, wrk
# drives a fixed load while callgrind counts every instruction the server executes in user space
# (Python, uvloop, libc, Lancet's extension; not the kernel). Instructions divided by the
# requests wrk completed is the cost of one request. Unlike requests/s, this count barely moves
# with hypervisor steal or other load, so it shows what a change to the hot path saved, on a
# machine where throughput rounds differ by 2x. It is a measure of work, not of time: the kernel's
# share (about 45 % of Lancet's CPU on hello, see BENCHMARKS.md) is not in it, so a ratio here
# is an upper bound of the requests/s ratio.
#
#   tools/bench/instructions.sh                      hello, echo, echo_64k, starlette, fastapi
#   SCENARIOS=hello,echo tools/bench/instructions.sh
#   SERVERS=lancet tools/bench/instructions.sh       Lancet only (uvicorn's figures do not change
#                                                    with Lancet's code)
#   KEEP=DIR tools/bench/instructions.sh             keep the callgrind files (callgrind_annotate)
#
# Environment: LANCET (default .venv/bin/lancet), DURATION (wrk seconds under callgrind,
# default 6), CONNECTIONS (default 16), PORT (default 18999). Needs valgrind, wrk, and for
# uvicorn python3-uvloop and python3-httptools (tools/setup.sh --bench). Takes about 20 s per
# scenario and server. Prints one line per run and a table: Lancet's and uvicorn's instructions
# per request, and uvicorn's divided by Lancet's.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SHARED=/work/shared/bench

if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  exit 0
fi

LANCET=${LANCET:-$REPO/.venv/bin/lancet}
SCENARIOS=${SCENARIOS:-hello,echo,echo_64k,starlette,fastapi}
SERVERS=${SERVERS:-lancet,uvicorn}
DURATION=${DURATION:-6}
CONNECTIONS=${CONNECTIONS:-16}
PORT=${PORT:-18999}
PY=/usr/bin/python3

for tool in valgrind callgrind_control callgrind_annotate wrk curl; do
  command -v "$tool" >/dev/null || { echo "instructions.sh: $tool is missing (tools/setup.sh --bench)" >&2; exit 2; }
done
[ -x "$LANCET" ] || { echo "instructions.sh: no Lancet at $LANCET (tools/install.sh, or set LANCET)" >&2; exit 2; }
[ -d "$SHARED" ] || { echo "instructions.sh: the peer harness $SHARED is missing (its apps.py is the app)" >&2; exit 2; }

WORK=$(mktemp -d /tmp/lancet-instr.XXXXXX)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill -INT "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP"; cp "$WORK"/*.cg "$KEEP"/ 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# scenario -> app, path, wrk script arguments, body size
scenario() {
  APP="" URLPATH="/" SCRIPT=() BODY=""
  case "$1" in
    hello) APP=apps:hello ;;
    echo) APP=apps:echo SCRIPT=(-s post_json.lua) BODY=1024 ;;
    echo_64k) APP=apps:echo SCRIPT=(-s post_json.lua) BODY=65536 ;;
    starlette) APP=apps:starlette_app URLPATH=/json ;;
    fastapi) APP=apps:fastapi_app URLPATH=/items/42 ;;
    *) echo "instructions.sh: unknown scenario '$1' (hello, echo, echo_64k, starlette, fastapi)" >&2; exit 2 ;;
  esac
}

# run SERVER SCENARIO -> prints instructions per request
run() {
  local server=$1 name=$2 cmd out url req total
  scenario "$name"
  case "$server" in
    lancet) cmd=("$LANCET" "$APP" --host 127.0.0.1 --port "$PORT" --no-access-log --log-level warning) ;;
    uvicorn) cmd=("$PY" -m uvicorn "$APP" --host 127.0.0.1 --port "$PORT" --workers 1 --loop uvloop
                  --http httptools --no-access-log --log-level warning) ;;
    *) echo "instructions.sh: unknown server '$server' (lancet, uvicorn)" >&2; exit 2 ;;
  esac
  # The venv's lancet script starts with the venv's python: run that python under valgrind.
  if [ "$server" = lancet ] && head -1 "$LANCET" | grep -q '^#!.*python'; then
    cmd=("$(head -1 "$LANCET" | sed 's/^#! *//')" "${cmd[@]}")
  fi
  # The lancet command re-executes itself with glibc's tcache tuned (python/lancet/allocator.py);
  # valgrind does not follow an exec, so the server starts tuned here and does not re-execute.
  local tunables=${GLIBC_TUNABLES:-}
  if [ "$server" = lancet ]; then
    tunables=$("${cmd[0]}" -c 'import os; from lancet.allocator import tuned_environment as t
e = t(os.environ); print((e or os.environ).get("GLIBC_TUNABLES", ""))' 2>/dev/null || echo "$tunables")
  fi
  out="$WORK/$server-$name"
  url="http://127.0.0.1:$PORT$URLPATH"
  (cd "$SHARED" && GLIBC_TUNABLES=$tunables exec valgrind --tool=callgrind --instr-atstart=no \
      --callgrind-out-file="$out.cg" "${cmd[@]}" >"$out.log" 2>&1) &
  SERVER_PID=$!
  local _
  for _ in $(seq 150); do curl -s -o /dev/null "$url" && break; sleep 0.2; done
  curl -s -o /dev/null "$url" || { echo "instructions.sh: $server did not answer $url; its log:" >&2; tail -20 "$out.log" >&2; exit 1; }
  export WRK_BODY_BYTES=${BODY:-1024}
  (cd "$SHARED" && wrk -t1 -c"$CONNECTIONS" -d2s "${SCRIPT[@]}" "$url" >/dev/null)
  # callgrind_control finds the valgrind process by the pid of the program it runs.
  local vpid
  vpid=$(pgrep -f "callgrind-out-file=$out.cg" | head -1)
  callgrind_control -i on "$vpid" >/dev/null 2>&1
  (cd "$SHARED" && wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "${SCRIPT[@]}" "$url" >"$out.wrk")
  callgrind_control -i off "$vpid" >/dev/null 2>&1
  callgrind_control -d "$vpid" >/dev/null 2>&1
  kill -INT "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  req=$(awk '/requests in/{print $1}' "$out.wrk")
  if grep -q "Non-2xx" "$out.wrk"; then
    echo "instructions.sh: $server $name: wrk saw non-2xx answers" >&2; cat "$out.wrk" >&2; exit 1
  fi
  total=$(callgrind_annotate "$out.cg.1" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}')
  mv "$out.cg.1" "$out.cg"
  rm -f "$out.cg".[0-9]*
  if [ -z "$req" ] || [ "$req" -eq 0 ] || [ -z "$total" ]; then
    echo "instructions.sh: $server $name: no count" >&2; exit 1
  fi
  echo $(( total / req ))
  echo "  $server $name: $req requests, $total instructions" >&2
}

declare -A IR=()
for name in ${SCENARIOS//,/ }; do
  for server in ${SERVERS//,/ }; do
    IR[$server-$name]=$(run "$server" "$name")
  done
done

printf '\n%-10s %14s %14s %8s\n' scenario lancet_Ir/req uvicorn_Ir/req ratio
for name in ${SCENARIOS//,/ }; do
  l=${IR[lancet-$name]:-} u=${IR[uvicorn-$name]:-}
  ratio=-
  if [ -n "$l" ] && [ -n "$u" ]; then ratio=$(awk -v u="$u" -v l="$l" 'BEGIN{printf "%.2f", u/l}'); fi
  printf '%-10s %14s %14s %8s\n' "$name" "${l:--}" "${u:--}" "$ratio"
done
