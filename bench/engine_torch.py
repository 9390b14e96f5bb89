"""PyTorch side of bench/engine.ts: the same Llama model (loaded from the HF folder the TypeScript side wrote, or
created here), the same workloads, timed on CPU with both cores. Prints one JSON object on stdout.

  python bench/engine_torch.py create --out DIR --config JSON --seed N
  python bench/engine_torch.py run --model DIR --workload JSON [--threads 2] [--repeats 3]

Workload JSON: {"gen": {"prompt": P, "new": G, "batches": [1, 32]},
                "score": {"prefix": P, "continuations": C, "length": L},
                "train": {"batch": B, "length": T, "steps": S}}
Every figure is the median of `repeats` timed runs after one warm-up run.
"""
import argparse
import json
import statistics
import sys
import time

import torch
from transformers import DynamicCache, LlamaConfig, LlamaForCausalLM


def create(args: argparse.Namespace) -> None:
    torch.manual_seed(args.seed)
    config = LlamaConfig(**json.loads(args.config))
    model = LlamaForCausalLM(config).to(torch.float32)
    model.save_pretrained(args.out, safe_serialization=True)
    print(json.dumps({"parameters": sum(p.numel() for p in model.parameters())}))


def timed(fn, repeats: int) -> float:
    fn()  # warm-up: allocator, kernels, caches
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def generate_tokens(model, prompts: torch.Tensor, new_tokens: int, generator: torch.Generator) -> int:
    """Sampling at temperature 1 with a KV cache; no early stop, so every sequence yields `new_tokens`."""
    cache = DynamicCache(config=model.config)
    out = model(input_ids=prompts, past_key_values=cache, use_cache=True)
    logits = out.logits[:, -1, :]
    produced = 0
    for _ in range(new_tokens):
        probs = torch.softmax(logits, dim=-1)
        nxt = torch.multinomial(probs, 1, generator=generator)
        produced += nxt.shape[0]
        out = model(input_ids=nxt, past_key_values=out.past_key_values, use_cache=True)
        logits = out.logits[:, -1, :]
    return produced


def score_continuations(model, prefix: torch.Tensor, conts: torch.Tensor, full: bool) -> int:
    """Encode the prefix once, repeat its cache for every continuation, score all continuations in one batch."""
    cache = DynamicCache(config=model.config)
    out = model(input_ids=prefix, past_key_values=cache, use_cache=True)
    last = out.logits[:, -1:, :].expand(conts.shape[0], 1, -1)
    cache = out.past_key_values
    cache.batch_repeat_interleave(conts.shape[0])
    out = model(input_ids=conts[:, :-1], past_key_values=cache, use_cache=True)
    logits = torch.cat([last, out.logits], dim=1)
    logp = torch.log_softmax(logits, dim=-1)
    picked = logp.gather(-1, conts.unsqueeze(-1)).squeeze(-1)
    if full:
        logp.contiguous()
    return int(picked.numel())


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    work = json.loads(args.workload)
    model = LlamaForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    vocab = model.config.vocab_size
    result = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    g = torch.Generator().manual_seed(1)

    model.eval()
    with torch.inference_mode():
        gen = work.get("gen")
        if gen:
            for b in gen["batches"]:
                prompts = torch.randint(0, vocab, (b, gen["prompt"]), generator=g)
                produced = [0]

                def go(prompts=prompts):
                    produced[0] = generate_tokens(model, prompts, gen["new"], g)

                sec = timed(go, args.repeats)
                result[f"gen_b{b}_tokens_per_s"] = produced[0] / sec
        sc = work.get("score")
        if sc:
            prefix = torch.randint(0, vocab, (1, sc["prefix"]), generator=g)
            conts = torch.randint(0, vocab, (sc["continuations"], sc["length"]), generator=g)
            for full in (False, True):
                count = [0]

                def go(full=full):
                    count[0] = score_continuations(model, prefix, conts, full)

                sec = timed(go, args.repeats)
                result["score_full_tokens_per_s" if full else "score_tokens_per_s"] = count[0] / sec

    tr = work.get("train")
    if tr:
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
        ids = torch.randint(0, vocab, (tr["batch"], tr["length"] + 1), generator=g)

        def step() -> None:
            logits = model(input_ids=ids[:, :-1]).logits
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), ids[:, 1:].reshape(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)

        def go() -> None:
            for _ in range(tr["steps"]):
                step()

        sec = timed(go, args.repeats)
        result["train_tokens_per_s"] = tr["batch"] * tr["length"] * tr["steps"] / sec

    json.dump(result, sys.stdout)


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("create")
    c.add_argument("--out", required=True)
    c.add_argument("--config", required=True)
    c.add_argument("--seed", type=int, default=0)
    r = sub.add_parser("run")
    r.add_argument("--model", required=True)
    r.add_argument("--workload", required=True)
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    create(args) if args.cmd == "create" else run(args)


if __name__ == "__main__":
    main()
