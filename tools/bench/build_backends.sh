#!/usr/bin/env bash
# Builds Lancet for the non-default I/O backends, as tools/test.sh does, without running tests:
#
#   tools/bench/build_backends.sh                 every backend but the default one (build/)
#   tools/bench/build_backends.sh libevent ...    just these (io_uring, libevent, blocking)
#
# Each backend BACKEND goes to build-BACKEND/ (RelWithDebInfo, Debian's /usr/bin/python3) with
# the extension in build-BACKEND/pkg/lancet, next to symlinks to python/lancet/*.py, so that
#   PYTHONPATH=build-BACKEND/pkg /usr/bin/python3 -m lancet APP ...
# serves with that backend.  (tools/bench/run.sh takes the extension from there and the .py
# files from python/lancet afresh.)  JOBS (default 2) sets parallelism.
# The default backend (build/, .venv/bin/lancet) is built by tools/install.sh.
set -euo pipefail
case "${1:-}" in -h|--help) sed -n '2,12p' "$0"; exit 0 ;; esac
cd "$(dirname "$0")/../.."
JOBS=${JOBS:-2}
default_backend=$(sed -n 's/^LANCET_BACKEND_BUILT:INTERNAL=//p' build/CMakeCache.txt 2>/dev/null || true)
if [ $# -gt 0 ]; then backends=("$@"); else
  backends=()
  for b in io_uring libevent blocking; do [ "$b" = "$default_backend" ] || backends+=("$b"); done
fi
for backend in "${backends[@]}"; do
  case "$backend" in io_uring|libevent|blocking) ;; *)
    echo "build_backends.sh: unknown backend '$backend' (io_uring, libevent, blocking)" >&2; exit 2 ;;
  esac
  dir="build-$backend"
  echo "== backend $backend -> $dir/pkg"
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLANCET_BACKEND="$backend" \
    -DLANCET_MODULE_DIR="$PWD/$dir/pkg/lancet" -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null
  cmake --build "$dir" -j "$JOBS" --target _lancet
  for f in python/lancet/*.py; do ln -sf "$PWD/$f" "$dir/pkg/lancet/"; done
  PYTHONPATH="$PWD/$dir/pkg" /usr/bin/python3 -m lancet --version
done
