"""Samples a world model on the held-out problems with PyTorch/transformers (fast tuning loop; the measured
figures come from `tokensqueeze world report` on the embedded engine).

    .venv/bin/python trainer/world_sample.py --model models/world-base --heldout .cache/world/heldout.jsonl \
        --per-level 20 --samples 8 --out /tmp/samples.jsonl

Writes one JSON line per sample: {problemId, level, answer, sampleIndex, text, tokens, finishReason}; analyse
them with `tsx scripts/world-analyze.ts /tmp/samples.jsonl`.
"""
from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/world-base")
    ap.add_argument("--heldout", default=".cache/world/heldout.jsonl")
    ap.add_argument("--per-level", type=int, default=20)
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--format", choices=["chat", "paper"], default="chat")
    ap.add_argument("--temperature", type=float, default=0.6)
    ap.add_argument("--top-p", type=float, default=0.95)
    ap.add_argument("--max-new-tokens", type=int, default=512)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    tok = AutoTokenizer.from_pretrained(args.model)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(args.model)
    model.eval()
    rows = [json.loads(l) for l in Path(args.heldout).read_text().splitlines() if l.strip()]
    per = defaultdict(int)
    chosen = []
    for r in rows:
        if per[r["level"]] < args.per_level:
            per[r["level"]] += 1
            chosen.append(r)
    jobs = []
    for r in chosen:
        prompt = (
            tok.apply_chat_template([{"role": "user", "content": r["user"]}], add_generation_prompt=True, tokenize=False)
            if args.format == "chat"
            else r["paperPrompt"]
        )
        for i in range(args.samples):
            jobs.append((r, i, prompt))
    eos = tok.convert_tokens_to_ids("<|end|>")
    t0 = time.time()
    n_tokens = 0
    with open(args.out, "w") as f:
        for s in range(0, len(jobs), args.batch):
            batch = jobs[s : s + args.batch]
            enc = tok([b[2] for b in batch], return_tensors="pt", padding=True, add_special_tokens=False)
            with torch.no_grad():
                out = model.generate(
                    **enc,
                    do_sample=True,
                    temperature=args.temperature,
                    top_p=args.top_p,
                    max_new_tokens=args.max_new_tokens,
                    eos_token_id=eos,
                    pad_token_id=eos,
                )
            gen = out[:, enc["input_ids"].shape[1] :]
            for (r, i, _), ids in zip(batch, gen.tolist()):
                finish = "length"
                if eos in ids:
                    ids = ids[: ids.index(eos)]
                    finish = "stop"
                text = tok.decode(ids, skip_special_tokens=True)
                if args.format == "paper" and "</answer>" in text:
                    text = text[: text.index("</answer>")]
                    finish = "stop"
                n_tokens += len(ids)
                f.write(json.dumps({"problemId": r["id"], "level": r["level"], "answer": str(r["answer"]), "sampleIndex": i, "text": text, "tokens": len(ids), "finishReason": finish}) + "\n")
            print(f"{min(s + args.batch, len(jobs))}/{len(jobs)} samples, {n_tokens} tokens, {time.time() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
