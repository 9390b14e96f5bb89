#!/usr/bin/env bash
# Builds models/world-base from nothing: the world corpus (TypeScript), then the tokenizer and the model
# (PyTorch on CPU, bf16 autocast, 2 threads). Deterministic in its seeds; about 95 minutes of training on this
# 2-core machine while other jobs shared it (about 25 minutes on an idle one: ≈20k tokens/s with 2 threads and bf16).
#
# Two phases, because that is how the committed model was made: phase 1 runs the first 1501 steps of a
# 2600-step cosine schedule (stopped there to fit the session's time); phase 2 continues from that model with a
# fresh optimiser and its own complete 1600-step cosine schedule (peak 1.5e-3) over another order of the corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-models/world-base}
CORPUS=${WORLD_CORPUS:-.cache/world}
PY=.venv/bin/python
if [ ! -x "$PY" ]; then
  echo "world-pretrain: .venv is missing; run 'npm run setup:python' first" >&2
  exit 1
fi
npx tsx scripts/world-corpus.ts --out "$CORPUS" --problems 100000 --seed 1
"$PY" trainer/world_pretrain.py --corpus "$CORPUS" --out "$CORPUS/phase1" \
  --steps 2600 --stop-after 1501 --lr 3e-3 --warmup 100 --seed 1 --tokens-per-batch 8192 --threads 2
"$PY" trainer/world_pretrain.py --corpus "$CORPUS" --init-from "$CORPUS/phase1" --out "$OUT" \
  --steps 1600 --lr 1.5e-3 --warmup 30 --seed 2 --tokens-per-batch 8192 --threads 2
echo "world-pretrain: model written to $OUT"
