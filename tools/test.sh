#!/usr/bin/env bash
# The README's test command: sets the machine up (tools/setup.sh), builds, runs every test.
#
#   tools/test.sh           all of it: build/ + .venv (tools/install.sh), ctest (unit, property,
#                           golden, corpus replay, layering, backend sockets), pytest end to end
#                           (tests/python: the real `lancet` with httpx, raw sockets, Starlette,
#                           FastAPI), build-asan/ (ASan+UBSan, C++ suites) + ctest, then a short
#                           fuzz run of every libFuzzer target (FUZZ_SECONDS each, default 20)
#   tools/test.sh --quick   build/ + .venv, ctest and pytest only
#
# Uses Debian's /usr/bin/python3 (never the pyenv one first on PATH). JOBS (default 2) sets
# build and test parallelism.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
case "${1:-}" in
  --quick) quick=1 ;;
  "") ;;
  -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
  *) echo "test.sh: unknown option '$1' (expected --quick)" >&2; exit 2 ;;
esac
JOBS=${JOBS:-2}
step() { printf '\n== %s\n' "$*"; }

step "setup, build (RelWithDebInfo), install .venv/bin/lancet"
bash tools/install.sh
step "C++ tests"
ctest --test-dir build -j "$JOBS" --output-on-failure --timeout 600
step "end-to-end tests (pytest, the real server on 127.0.0.1)"
LANCET_TEST_COMMAND="$PWD/.venv/bin/lancet" .venv/bin/python -m pytest tests/python -q \
  -p no:cacheprovider --timeout 120

[ "$quick" = 1 ] && exit 0

step "build with AddressSanitizer + UndefinedBehaviorSanitizer"
# The bridge stays out: an ASan-built extension cannot load into Debian's non-ASan python3.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DLANCET_SANITIZE=ON \
  -DLANCET_BUILD_BRIDGE=OFF -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null
cmake --build build-asan -j "$JOBS"
step "tests under ASan + UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan -j "$JOBS" --output-on-failure --timeout 900

step "fuzz every target for ${FUZZ_SECONDS:-20} s (clang-14, ASan + UBSan)"
bash tools/fuzz.sh "${FUZZ_SECONDS:-20}"
