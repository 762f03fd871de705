#!/usr/bin/env bash
# The main job's variants, 5 seeds each, one run at a time; each prints
# "out_of_domain_dev: MCC mean ± std over seeds [...]" (the numbers for bench/RESULTS.md).
#   bash bench/finetune_variants.sh [extra finetune flags, e.g. --threads 2]
# About 5 min per seed on 2 quiet cores: ~25 min per variant, ~75 min for the three.
# fp32 unless the extra flags say otherwise, so the MCCs compare across machines.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
OUT="${OUT:-runs/variants}"
for variant in "cls:--pooling cls" "mean:--pooling mean" "mean-ld0.8:--pooling mean --layer-decay 0.8"; do
    name="${variant%%:*}"
    flags="${variant#*:}"
    echo "== $name ($flags)"
    # shellcheck disable=SC2086
    "$PY" -m train.cli finetune cola --model all-MiniLM-L6-v2 --seeds 1,2,3,4,5 --no-progress \
        --precision fp32 --out "$OUT/$name" $flags "$@" | grep -E "MCC .* ± " || true
done
