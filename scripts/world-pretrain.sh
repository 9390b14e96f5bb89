#!/usr/bin/env bash
# Builds models/world-base from nothing: the world corpora (TypeScript), then the tokenizer and the model
# (PyTorch on CPU, bf16 autocast, 2 threads). Deterministic in its seeds. Run from a git clone: every phase takes
# its trace generator from a pinned commit of the repository's history (below).
#
# Three phases, because that is how the committed model was made.
# - Phases 1-2 train on traces WITHOUT R1-style reflection, from the generator as it was before issue 11
#   (BASE_GENERATOR). Phase 1 runs the first 1501 steps of a 2600-step cosine schedule (stopped there to fit a
#   session's time); phase 2 continues from it with a fresh optimiser and its own complete 1600-step cosine schedule
#   (peak 1.5e-3) over another order of that corpus. About 60 minutes on an idle 2-core machine (phase 1 28, phase 2 30).
#   End to end from a fresh clone the output is byte-identical to the committed model (see its model card).
# - Phase 3 fine-tunes that model on traces that second-guess themselves the way R1 does (issue 11), with R1's
#   proportions of free waste (issue 12), from WASTE_GENERATOR with --style-spread 0.2 --extra-verify 0.5
#   --extra-verify-max 2: re-checks that put the recomputed value back into the expression, "Alternatively", "Hmm",
#   closing verifications that restate the result, corrections of a wrong direct step on hard levels; wording that
#   is a style of the whole trace (terse traces stay terse); and half of the traces restating their result once or
#   twice more before answering, as R1's repeated "let me verify once more" does. Every deliberate error is masked
#   out of the loss. A fresh corpus of 60,000 problems (seed 3), batches of about 4,096 tokens, a complete 500-step
#   cosine schedule (peak 6e-4), in fp32 (--no-bf16: this machine's CPU has no bf16 instructions, and emulated bf16
#   ran 10x slower): 2.0M tokens, about 11 minutes on an idle machine. The model before issue 12 (phase 3 on
#   the traces of generator cbba5533, bf16) is models/world-base at commit fe7b043.
#
# WORLD_BASE_ONLY=1 stops after phase 2 (the model before issue 11). WORLD_PHASE2=<folder> skips phases 1-2 and
# fine-tunes that folder instead (e.g. the pre-issue-11 model from git history: phase 3 alone).
# Each phase checkpoints (<out>.ckpt); run the script again with the same arguments and a stopped phase resumes
# where it stopped (finished phases are redone; they are deterministic).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-models/world-base}
CORPUS=${WORLD_CORPUS:-.cache/world}
PY=.venv/bin/python
# The last commit whose trace generator is the one phases 1-2 were trained on (before reflection, issue 11).
BASE_GENERATOR=aea844e13bf1334c0cbf856fb9639db8b3ad5269
# The trace generator of phase 3: reflection (issue 11), per-trace style and extra restatements (issue 12).
WASTE_GENERATOR=31148ea3965212325dc6123bd8b0d9607f4064c6
if [ ! -x "$PY" ]; then
  echo "world-pretrain: .venv is missing; run 'npm run setup:python' first" >&2
  exit 1
fi

# Writes a corpus with the trace generator of commit $1 into $2 ($3 problems, seed $4, then world-corpus options).
corpus_at() {
  local gen="$CORPUS/generator-${1:0:7}"
  rm -rf "$gen" && mkdir -p "$gen"
  git archive "$1" src scripts | tar -x -C "$gen"
  npx tsx "$gen/scripts/world-corpus.ts" --out "$2" --problems "$3" --seed "$4" "${@:5}"
}

PHASE2=${WORLD_PHASE2:-}
if [ -z "$PHASE2" ]; then
  corpus_at "$BASE_GENERATOR" "$CORPUS/base" 100000 1
  "$PY" trainer/world_pretrain.py --corpus "$CORPUS/base" --out "$CORPUS/phase1" \
    --steps 2600 --stop-after 1501 --lr 3e-3 --warmup 100 --seed 1 --tokens-per-batch 8192 --threads 2
  PHASE2="$CORPUS/phase2"
  if [ "${WORLD_BASE_ONLY:-0}" = "1" ]; then PHASE2="$OUT"; fi
  "$PY" trainer/world_pretrain.py --corpus "$CORPUS/base" --init-from "$CORPUS/phase1" --out "$PHASE2" \
    --steps 1600 --lr 1.5e-3 --warmup 30 --seed 2 --tokens-per-batch 8192 --threads 2
  if [ "${WORLD_BASE_ONLY:-0}" = "1" ]; then
    echo "world-pretrain: model (phases 1-2) written to $OUT"
    exit 0
  fi
fi
corpus_at "$WASTE_GENERATOR" "$CORPUS/waste" 60000 3 --style-spread 0.2 --extra-verify 0.5 --extra-verify-max 2
"$PY" trainer/world_pretrain.py --corpus "$CORPUS/waste" --init-from "$PHASE2" --out "$OUT" \
  --steps 500 --lr 6e-4 --warmup 20 --seed 3 --tokens-per-batch 4096 --threads 2 --checkpoint-every 50 --no-bf16
echo "world-pretrain: model written to $OUT"
