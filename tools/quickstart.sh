#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and runs the main job.
# Until the server lands (issue: the bridge), the main job is lancet-trace on a sample request
# stream: what Lancet's protocol core parses from it, and how it answers the smuggling attempt
# at its end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null
cmake --build build -j "${JOBS:-2}" --target lancet-trace
echo "== lancet-trace < examples/requests/pipelined.http"
build/tools/lancet-trace < examples/requests/pipelined.http
