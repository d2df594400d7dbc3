#!/usr/bin/env bash
# Installs every Debian package Lancet needs to build, test, fuzz and benchmark.
# Idempotent: packages already installed are skipped; says what it installs.
#
#   tools/setup.sh            build + test + fuzz + Python test stack
#   tools/setup.sh --bench    also the benchmark peers (wrk, uvicorn's httptools/uvloop, nginx)
#                             and valgrind (tools/bench/instructions.sh)
#
# Never add libboost-dev or libboost-all-dev: they are Boost 1.74 (no JSON) and conflict with 1.81.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkgconf git ccache
  node-llhttp libboost-json1.81-dev libexpected-dev liburing-dev libevent-dev zlib1g-dev
  pybind11-dev python3-pybind11 python3-dev python3-venv python3-pip python3-setuptools python3-wheel
  # tests and fuzzing
  libgtest-dev libgmock-dev librapidcheck-dev clang-14 libclang-rt-14-dev llvm-14
  # Python test stack (Debian's python3-*, seen by /usr/bin/python3)
  python3-pytest python3-pytest-timeout python3-httpx python3-websockets python3-wsproto python3-h11
  python3-starlette python3-fastapi python3-pydantic python3-anyio python3-multipart python3-yaml
  python3-uvicorn curl
)
if [ "${1:-}" = "--bench" ]; then
  packages+=(wrk python3-httptools python3-uvloop nginx-light python3-matplotlib util-linux valgrind)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "setup: installing ${#missing[@]} package(s): ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
