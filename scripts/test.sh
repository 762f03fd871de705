#!/usr/bin/env bash
# Set up and run the test suite: `bash scripts/test.sh [pytest args]`.
# torch goes in first and on its own: asked for later, through a range, pip would fetch a
# multi-GB CUDA build. An existing torch is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
"$PY" -c "import torch" 2>/dev/null || "$PY" -m pip install -q "torch==2.13.0"
"$PY" -m pip install -q -e ".[test,hub]"
# The tests find the data as the commands do ($MINIBERT_DATA, else ../shared/data beside this
# checkout: train/data/download.py).
# Lint first (seconds): the rules and the 100-column limit are pyproject's [tool.ruff].
"$PY" -m ruff check .
exec "$PY" -m pytest -q "$@"
