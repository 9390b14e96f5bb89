#!/usr/bin/env bash
# Builds models/world-base from nothing: the world corpora (TypeScript), then the tokenizer and the model
# (PyTorch on CPU, bf16 autocast, 2 threads). Deterministic in its seeds. Run from a git clone: phases 1-2 need
# the repository's history (below).
#
# Two phases, because that is how the committed model was made, on traces WITHOUT R1-style reflection: the world
# generator as it was before issue 11, taken from the commit pinned below (BASE_GENERATOR). Phase 1 runs the first
# 1501 steps of a 2600-step cosine schedule (stopped there to fit a session's time); phase 2 continues from it with
# a fresh optimiser and its own complete 1600-step cosine schedule (peak 1.5e-3) over another order of that corpus.
# About 95 minutes of training on the shared 2-core machine (about 25 on an idle one).
#
# WORLD_REFLECT=1 adds phase 3, NOT part of the committed model: fine-tuning on traces of the current generator
# (src/world/traces.ts), which second-guess themselves the way R1 does (issue 11). A fresh corpus of 60,000
# problems (seed 3), batches of about 4,096 tokens, the first 300 steps of a 400-step cosine schedule (peak 1e-3):
# 1.18M tokens, 46 minutes under load. The model it gives reflects in 57-69% of its samples per level but does not
# yet act on its checks (it recomputes the right value column by column, then confirms the wrong one), so it did not
# replace models/world-base; see the model card.
#
# Each phase checkpoints (<out>.ckpt); run the script again with the same arguments and a stopped phase resumes
# where it stopped (finished phases are redone; they are deterministic).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-models/world-base}
CORPUS=${WORLD_CORPUS:-.cache/world}
PY=.venv/bin/python
# The last commit whose trace generator is the one phases 1-2 were trained on (before reflection, issue 11).
BASE_GENERATOR=aea844e13bf1334c0cbf856fb9639db8b3ad5269
if [ ! -x "$PY" ]; then
  echo "world-pretrain: .venv is missing; run 'npm run setup:python' first" >&2
  exit 1
fi
GEN="$CORPUS/generator-base"
rm -rf "$GEN" && mkdir -p "$GEN"
git archive "$BASE_GENERATOR" src scripts | tar -x -C "$GEN"
npx tsx "$GEN/scripts/world-corpus.ts" --out "$CORPUS/base" --problems 100000 --seed 1
"$PY" trainer/world_pretrain.py --corpus "$CORPUS/base" --out "$CORPUS/phase1" \
  --steps 2600 --stop-after 1501 --lr 3e-3 --warmup 100 --seed 1 --tokens-per-batch 8192 --threads 2
if [ "${WORLD_REFLECT:-0}" != "1" ]; then
  "$PY" trainer/world_pretrain.py --corpus "$CORPUS/base" --init-from "$CORPUS/phase1" --out "$OUT" \
    --steps 1600 --lr 1.5e-3 --warmup 30 --seed 2 --tokens-per-batch 8192 --threads 2
else
  "$PY" trainer/world_pretrain.py --corpus "$CORPUS/base" --init-from "$CORPUS/phase1" --out "$CORPUS/phase2" \
    --steps 1600 --lr 1.5e-3 --warmup 30 --seed 2 --tokens-per-batch 8192 --threads 2
  npx tsx scripts/world-corpus.ts --out "$CORPUS/reflect" --problems 60000 --seed 3
  "$PY" trainer/world_pretrain.py --corpus "$CORPUS/reflect" --init-from "$CORPUS/phase2" --out "$OUT" \
    --steps 400 --stop-after 300 --lr 1e-3 --warmup 20 --seed 3 --tokens-per-batch 4096 --threads 2 --checkpoint-every 50
fi
echo "world-pretrain: model written to $OUT"
