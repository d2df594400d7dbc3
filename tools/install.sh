#!/usr/bin/env bash
# Installs what is missing (tools/setup.sh), builds Lancet (build/, RelWithDebInfo) and installs
# the `lancet` command into .venv/ (a --system-site-packages venv of Debian's /usr/bin/python3,
# so Debian's FastAPI/Starlette are visible; offline: --no-build-isolation --no-deps).
# Afterwards: .venv/bin/lancet module:app --port 8000
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
bash tools/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null
cmake --build build -j "$JOBS"
if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
LANCET_BUILD_DIR=build LANCET_BUILD_JOBS="$JOBS" \
  .venv/bin/pip install --quiet --no-build-isolation --no-deps -e . >/dev/null
echo "install: $(.venv/bin/lancet --version)"
