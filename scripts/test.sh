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
# Two pytest-xdist workers, one per core of CI's two, each running whole test files (so a
# file's shared fixtures are built once); tests/conftest.py then gives each one torch thread.
# The ten slowest tests are listed at the end, so a new slow one shows in the log.
# `bash scripts/test.sh -n 0` runs in one process.
exec "$PY" -m pytest -q -n 2 --dist loadfile --durations=10 "$@"
