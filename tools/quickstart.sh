#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, installs .venv/bin/lancet and
# serves the example FastAPI app (examples/app.py) on http://127.0.0.1:8000 until Ctrl+C.
#   HOST / PORT override the address (default 127.0.0.1:8000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh
echo "== serving examples.app:app: try  curl http://${HOST:-127.0.0.1}:${PORT:-8000}/items/42?q=hi"
exec .venv/bin/lancet examples.app:app --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}"
