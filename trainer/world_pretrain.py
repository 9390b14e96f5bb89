"""Pretrains the reasoning world's base model: a byte-level BPE tokenizer and a small Llama, on CPU with PyTorch.

Input: the corpus written by `scripts/world-corpus.ts` (train.jsonl, heldout.jsonl). Output: an HF Llama folder
(config.json, model.safetensors, generation_config.json, tokenizer.json, tokenizer_config.json with the chat
template) that Python `transformers` and the embedded TypeScript engine both load.

    .venv/bin/python trainer/world_pretrain.py --corpus .cache/world --out models/world-base

Everything is seeded; the data order and the initialisation do not depend on timing. The schedule is a fixed
number of optimiser steps (--steps), never wall-clock, so a run on a busy machine gives the same model, later.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from pathlib import Path

import torch
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

SPECIAL_TOKENS = ["<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]
# R1's tokenizers keep the thinking tags as single added (not special) tokens; decoded text keeps them.
THINK_TOKENS = ["<think>", "</think>"]
EOS = "<|end|>"

# Messages are rendered without separators: the special tokens already delimit the turns. The generation prompt
# ends right after <|assistant|>; the response itself starts with "<think>\n", as R1-Distill's responses do.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'system' -%}<|system|>{{ message['content'] }}"
    "{%- elif message['role'] == 'user' -%}<|user|>{{ message['content'] }}"
    "{%- elif message['role'] == 'assistant' -%}<|assistant|>{{ message['content'] }}<|end|>"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|assistant|>{%- endif -%}"
)


def read_jsonl(path: Path) -> list[dict]:
    with path.open() as f:
        return [json.loads(line) for line in f if line.strip()]


def train_tokenizer(texts: list[str], vocab_size: int) -> Tokenizer:
    """Byte-level BPE whose digits are always single tokens (numbers are read and written digit by digit)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in THINK_TOKENS])
    return tok


def wrap_tokenizer(tok: Tokenizer) -> PreTrainedTokenizerFast:
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, pad_token=EOS, clean_up_tokenization_spaces=False)
    fast.chat_template = CHAT_TEMPLATE
    return fast


Example = tuple[list[int], int, list[int]]


def masked_tokens(offsets: list[tuple[int, int]], spans: list[list[int]]) -> list[int]:
    """Indices of the response tokens whose characters overlap a masked span [start, end)."""
    return [i for i, (a, b) in enumerate(offsets) if any(a < end and start < b for start, end in spans)]


def encode_examples(fast: PreTrainedTokenizerFast, rows: list[dict]) -> list[Example]:
    """(ids, prompt length, masked positions) per example. The loss covers the response and the closing <|end|>,
    except the tokens of a row's `masked` character spans: deliberate errors the model reads but never learns to
    write (a check then corrects them, or the chain carries on from them)."""
    eos_id = fast.convert_tokens_to_ids(EOS)
    prompts = [
        fast.apply_chat_template([{"role": "user", "content": r["user"]}], add_generation_prompt=True, tokenize=False) if "user" in r else r["prompt"]
        for r in rows
    ]
    p_ids = fast(prompts, add_special_tokens=False)["input_ids"]
    enc = fast([r["response"] for r in rows], add_special_tokens=False, return_offsets_mapping=True)
    out: list[Example] = []
    for p, r, offsets, row in zip(p_ids, enc["input_ids"], enc["offset_mapping"], rows):
        spans = row.get("masked") or []
        out.append((p + r + [eos_id], len(p), [len(p) + i for i in masked_tokens(offsets, spans)] if spans else []))
    return out


def make_batches(examples: list[Example], tokens_per_batch: int, rng: random.Random) -> list[list[int]]:
    """Length-bucketed batches (little padding) of about `tokens_per_batch` tokens, in a seeded random order."""
    order = sorted(range(len(examples)), key=lambda i: (len(examples[i][0]), rng.random()))
    batches: list[list[int]] = []
    cur: list[int] = []
    cur_max = 0
    for i in order:
        n = len(examples[i][0])
        if cur and max(cur_max, n) * (len(cur) + 1) > tokens_per_batch:
            batches.append(cur)
            cur, cur_max = [], 0
        cur.append(i)
        cur_max = max(cur_max, n)
    if cur:
        batches.append(cur)
    rng.shuffle(batches)
    return batches


def collate(examples: list[Example], idx: list[int], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(len(examples[i][0]) for i in idx)
    ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
    labels = torch.full((len(idx), width), -100, dtype=torch.long)
    mask = torch.zeros((len(idx), width), dtype=torch.long)
    for row, i in enumerate(idx):
        seq, plen, masked = examples[i]
        ids[row, : len(seq)] = torch.tensor(seq)
        labels[row, plen : len(seq)] = torch.tensor(seq[plen:])
        if masked:
            labels[row, masked] = -100
        mask[row, : len(seq)] = 1
    return ids, labels, mask


def save(model: LlamaForCausalLM, fast: PreTrainedTokenizerFast, config: LlamaConfig, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    model.save_pretrained(out, safe_serialization=True)
    GenerationConfig(eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id, do_sample=True, temperature=0.6, top_p=0.95).save_pretrained(out)
    fast.save_pretrained(out)
    # transformers ≥ 4.5x writes the template to chat_template.jinja; readers that only look in
    # tokenizer_config.json (older transformers, the embedded engine) need it there too.
    tc_path = out / "tokenizer_config.json"
    tc = json.loads(tc_path.read_text())
    tc["chat_template"] = CHAT_TEMPLATE
    # The generic class name every transformers version (and vLLM) knows.
    tc["tokenizer_class"] = "PreTrainedTokenizerFast"
    tc_path.write_text(json.dumps(tc, indent=2, ensure_ascii=False) + "\n")
    model.train(was_training)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=".cache/world")
    ap.add_argument("--out", default="models/world-base")
    ap.add_argument("--vocab-size", type=int, default=640)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--intermediate", type=int, default=384)
    ap.add_argument("--max-positions", type=int, default=1024)
    ap.add_argument("--tokens-per-batch", type=int, default=8192)
    ap.add_argument("--steps", type=int, default=2500)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=True, help="bf16 autocast for the matmuls (weights stay fp32)")
    ap.add_argument("--stop-after", type=int, default=0, help="stop after this many steps of the --steps schedule (a first phase)")
    ap.add_argument("--init-from", default=None, help="continue from this saved model folder (its tokenizer is reused)")
    ap.add_argument("--save-every", type=int, default=0, help="also save the model every N steps under <out>-step<N> (for tuning)")
    ap.add_argument(
        "--checkpoint-every",
        type=int,
        default=100,
        help="write <out>.ckpt (model, optimiser, step) every N steps; a run started again with the same arguments resumes from it (0: never)",
    )
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    t0 = time.time()
    corpus = Path(args.corpus)
    rows = read_jsonl(corpus / "train.jsonl")
    heldout = read_jsonl(corpus / "heldout.jsonl")
    held_questions = {r["question"] for r in heldout}
    leaked = [r["id"] for r in rows if r["question"] in held_questions or r["question"] not in (r.get("user") or r.get("prompt", ""))]
    if leaked:
        raise SystemExit(f"world_pretrain: {len(leaked)} training problems are held-out problems (first: {leaked[0]})")

    if args.init_from:
        fast = PreTrainedTokenizerFast.from_pretrained(args.init_from)
    else:
        fast = wrap_tokenizer(train_tokenizer([(r.get("user") or r.get("prompt", "")) + "\n" + r["response"] for r in rows[:20000]], args.vocab_size))
    examples = encode_examples(fast, rows)
    n_tokens = sum(len(e[0]) for e in examples)
    resp_tokens = sum(len(e[0]) - e[1] for e in examples)
    print(f"corpus: {len(rows)} traces, {n_tokens} tokens ({resp_tokens} response tokens, mean {resp_tokens / len(rows):.1f}), vocab {len(fast)}", flush=True)

    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=args.hidden,
        intermediate_size=args.intermediate,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.heads,
        max_position_embeddings=args.max_positions,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        tie_word_embeddings=False,
        bos_token_id=None,
        eos_token_id=fast.convert_tokens_to_ids(EOS),
        pad_token_id=fast.convert_tokens_to_ids(EOS),
    )
    model = LlamaForCausalLM.from_pretrained(args.init_from) if args.init_from else LlamaForCausalLM(config)
    config = model.config
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params} parameters ({args.layers} layers, hidden {args.hidden}, {args.heads} heads)", flush=True)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.98)
    )

    def lr_at(step: int) -> float:
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        progress = (step - args.warmup) / max(1, args.steps - args.warmup)
        return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))

    pad_id = config.pad_token_id
    batches: list[list[int]] = []
    epoch = 0
    model.train()
    seen_tokens = 0
    ema = None
    start = 0
    # A stopped run resumes from its checkpoint: the batch order depends only on the seed and the epoch, so
    # replaying the order up to the saved step continues exactly where it stopped. The arguments must match.
    ckpt_path = Path(f"{args.out}.ckpt")
    if args.checkpoint_every and ckpt_path.exists():
        ckpt = torch.load(ckpt_path, weights_only=False)
        if ckpt["args"] != vars(args):
            raise SystemExit(f"world_pretrain: {ckpt_path} was written with other arguments; delete it to start afresh")
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        start, seen_tokens, ema = ckpt["step"], ckpt["seen_tokens"], ckpt["ema"]
        torch.set_rng_state(ckpt["torch_rng"])
        print(f"resuming from {ckpt_path} at step {start}", flush=True)
    start_tokens = seen_tokens
    t_train = time.time()
    for step in range(args.stop_after or args.steps):
        if not batches:
            batches = make_batches(examples, args.tokens_per_batch, random.Random(args.seed * 1000 + epoch))
            epoch += 1
        batch = batches.pop()
        if step < start:
            continue
        ids, labels, mask = collate(examples, batch, pad_id)
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        # Right padding under a causal mask never influences real tokens, so no attention mask is needed (and
        # leaving it out keeps PyTorch on its fast attention path).
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            loss = model(input_ids=ids, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        seen_tokens += int(mask.sum())
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        if step % args.log_every == 0 or step == args.steps - 1:
            el = time.time() - t_train
            if args.save_every and step > 0 and step % args.save_every == 0:
                save(model, fast, config, Path(f"{args.out}-step{step}"))
            print(f"step {step} epoch {epoch} loss {loss.item():.4f} ema {ema:.4f} lr {lr_at(step):.2e} tokens {seen_tokens} {(seen_tokens - start_tokens) / max(el, 1e-9):.0f} tok/s {el / 60:.1f} min", flush=True)
        if args.checkpoint_every and (step + 1) % args.checkpoint_every == 0:
            state = {
                "args": vars(args),
                "step": step + 1,
                "seen_tokens": seen_tokens,
                "ema": ema,
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "torch_rng": torch.get_rng_state(),
            }
            torch.save(state, f"{ckpt_path}.tmp")
            os.replace(f"{ckpt_path}.tmp", ckpt_path)

    train_minutes = (time.time() - t_train) / 60
    out = Path(args.out)
    save(model, fast, config, out)
    # The finished model replaces the checkpoint (a later run with other data must not resume from it).
    ckpt_path.unlink(missing_ok=True)
    stats = {
        "traces": len(rows),
        "corpus_tokens": n_tokens,
        "response_tokens": resp_tokens,
        "vocab_size": len(fast),
        "parameters": n_params,
        "steps": args.stop_after or args.steps,
        "epochs_started": epoch,
        "tokens_seen": seen_tokens,
        "final_loss_ema": ema,
        "train_minutes": round(train_minutes, 1),
        "total_minutes": round((time.time() - t0) / 60, 1),
        "args": vars(args),
    }
    (out / "training_stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    print(json.dumps(stats), flush=True)


if __name__ == "__main__":
    main()
