#!/usr/bin/env bash
# Builds and runs every libFuzzer target (fuzz/fuzz_*.cpp) for a bounded time.
#
#   tools/fuzz.sh [SECONDS]      fuzz each target SECONDS (default 30), seeds from its corpus
#   tools/fuzz.sh --replay       only run each target once over its corpus (no fuzzing)
#   FUZZ_SEED=N                  libFuzzer's seed (default 0: a new random seed each run). With a
#                                fixed seed the inputs tried are the same sequence every time, so
#                                a short CI run explores a prefix of what a longer local run did
#
# Builds in build-fuzz/ with clang-14, ASan+UBSan (-DLANCET_FUZZ=ON, TOOLCHAIN.md §7). New
# units go to a temporary directory, never into fuzz/corpus/ (minimise and copy by hand).
# Crash inputs are written to build-fuzz/fuzz-artifacts/<target>/. Exits non-zero if any target
# crashes, printing the crashing input's path. Runs under nice, one job at a time (-j2 build),
# non-interactively; total time is about targets x SECONDS plus the build.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${root}/build-fuzz"
mode="fuzz"
seconds=30
case "${1:-}" in
  --replay) mode="replay" ;;
  "") ;;
  -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}"; exit 0 ;;
  *)
    if [[ "$1" =~ ^[0-9]+$ ]] && (( $1 > 0 )); then
      seconds="$1"
    else
      echo "fuzz.sh: expected a number of seconds or --replay, got '$1'" >&2
      exit 2
    fi
    ;;
esac

nice -n 10 cmake -S "${root}" -B "${build}" -G Ninja -DLANCET_FUZZ=ON -DLANCET_BUILD_TESTS=OFF \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null

targets=()
for src in "${root}"/fuzz/fuzz_*.cpp; do
  [[ -e "${src}" ]] || continue
  name="$(basename "${src}" .cpp)"
  targets+=("${name}")
done
if (( ${#targets[@]} == 0 )); then
  echo "fuzz.sh: no fuzz/fuzz_*.cpp targets" >&2
  exit 1
fi
nice -n 10 ninja -j2 -C "${build}" "${targets[@]}"

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

work="$(mktemp -d -t lancet-fuzz.XXXXXX)"
trap 'rm -rf "${work}"' EXIT
failed=()
for name in "${targets[@]}"; do
  bin="${build}/fuzz/${name}"
  corpus="${root}/fuzz/corpus/${name}"
  artifacts="${build}/fuzz-artifacts/${name}/"
  mkdir -p "${artifacts}" "${work}/${name}"
  log="${work}/${name}.log"
  args=(-rss_limit_mb=2048 -artifact_prefix="${artifacts}" -print_final_stats=1)
  if [[ "${name}" == fuzz_http1 || "${name}" == fuzz_chunked ]]; then
    args+=(-dict="${root}/fuzz/http1.dict")
  fi
  seeds=()
  [[ -d "${corpus}" ]] && seeds+=("${corpus}")
  if [[ "${mode}" == replay ]]; then
    if (( ${#seeds[@]} == 0 )); then
      echo "== ${name}: no corpus at ${corpus}" >&2
      failed+=("${name}")
      continue
    fi
    echo "== ${name}: replaying ${corpus}"
    # -runs=0 executes every corpus input once and stops.
    cmd=(nice -n 10 "${bin}" "${args[@]}" -runs=0 "${corpus}")
  else
    echo "== ${name}: fuzzing ${seconds}s"
    # New units go to the temp dir (first corpus dir); the repo corpus is only read.
    cmd=(nice -n 10 timeout --kill-after=30 $((seconds + 120)) "${bin}" "${args[@]}"
         -max_total_time="${seconds}" -timeout=10 -seed="${FUZZ_SEED:-0}" "${work}/${name}" "${seeds[@]}")
  fi
  if "${cmd[@]}" >"${log}" 2>&1; then
    grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::average_exec_per_sec)' \
      "${log}" || true
  else
    failed+=("${name}")
    echo "!! ${name} FAILED; last lines of its log:" >&2
    tail -n 40 "${log}" >&2
    crash="$(grep -oE 'Test unit written to [^ ]+' "${log}" | tail -n 1 | sed 's/Test unit written to //')"
    if [[ -n "${crash}" ]]; then
      echo "!! ${name}: crashing input: ${crash}" >&2
    fi
  fi
done

if (( ${#failed[@]} > 0 )); then
  echo "fuzz.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: all ${#targets[@]} targets OK (${mode})"
