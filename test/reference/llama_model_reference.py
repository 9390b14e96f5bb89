"""Reference side of the embedded model's parity tests: Python transformers (CPU, float32).

Subcommands (all paths are given by the TypeScript test):
  logits  --model DIR --batch BATCH.json --out OUT.f32
      BATCH.json = {"ids": [[...], ...], "mask": [[1,1,0], ...]} (right-padded). Writes logits [B, T, V] as raw
      little-endian float32 computed by AutoModelForCausalLM loaded from DIR.
  make    --out DIR --config CONFIG.json --seed N [--dtype float32|bfloat16|float16]
      Creates a random causal LM (the config's model_type: llama by default, qwen2, qwen3) with transformers' own
      init, rounds its weights to DTYPE and saves the folder with save_pretrained in that dtype (so the
      TypeScript side must read bf16/f16 safetensors).
  generate --model DIR --prompt PROMPT.json --new N --out OUT.json
      Greedy generation (transformers' generate, KV cache) of N tokens after PROMPT.json = [ids...]; writes
      {"tokens": [new ids...], "min_margin": smallest top-1 minus top-2 logit along the way}.
  jobs    --jobs JOBS.json
      Runs many of the above in one process (Python + torch start-up dominates): JOBS.json is a list of
      {"cmd": "logits" | "make", ...the flags above as keys}, run in order.
"""

import argparse
import json
import sys

import numpy as np
import torch
from transformers import AutoConfig, AutoModelForCausalLM


def cmd_logits(args: argparse.Namespace) -> None:
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    with open(args.batch) as f:
        batch = json.load(f)
    ids = torch.tensor(batch["ids"], dtype=torch.long)
    mask = torch.tensor(batch["mask"], dtype=torch.long)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits.to(torch.float32).numpy()
    logits.astype("<f4").tofile(args.out)


def cmd_make(args: argparse.Namespace) -> None:
    with open(args.config) as f:
        cfg = json.load(f)
    torch.manual_seed(args.seed)
    config = AutoConfig.for_model(cfg.pop("model_type", "llama"), **cfg)
    model = AutoModelForCausalLM.from_config(config)
    # Norm weights start at exactly 1 and biases at 0 in transformers; perturb them so a misapplied norm or a
    # missing bias shows in the logits.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.add_(0.1 * torch.randn_like(p))
            elif name.endswith("proj.weight") or "embed" in name or "lm_head" in name:
                p.normal_(0.0, 0.08)
            elif name.endswith("proj.bias"):
                p.normal_(0.0, 0.3)
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[args.dtype]
    model = model.to(dtype)
    model.save_pretrained(args.out)


def cmd_generate(args: argparse.Namespace) -> None:
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    with open(args.prompt) as f:
        prompt = torch.tensor([json.load(f)], dtype=torch.long)
    with torch.no_grad():
        out = model.generate(
            prompt, max_new_tokens=args.new, min_new_tokens=args.new, do_sample=False, output_logits=True,
            return_dict_in_generate=True, pad_token_id=0,
        )
    margins = [float(torch.topk(step[0], 2).values.diff().abs()) for step in out.logits]
    with open(args.out, "w") as f:
        json.dump({"tokens": out.sequences[0, prompt.shape[1]:].tolist(), "min_margin": min(margins)}, f)


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("logits")
    p.add_argument("--model", required=True)
    p.add_argument("--batch", required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("make")
    p.add_argument("--out", required=True)
    p.add_argument("--config", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", default="float32")
    p = sub.add_parser("generate")
    p.add_argument("--model", required=True)
    p.add_argument("--prompt", required=True)
    p.add_argument("--new", type=int, required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("jobs")
    p.add_argument("--jobs", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    commands = {"logits": cmd_logits, "make": cmd_make, "generate": cmd_generate}
    if args.cmd != "jobs":
        commands[args.cmd](args)
    else:
        with open(args.jobs) as f:
            jobs = json.load(f)
        for job in jobs:
            ns = argparse.Namespace(**{"seed": 0, "dtype": "float32", **{k: v for k, v in job.items() if k != "cmd"}})
            commands[job["cmd"]](ns)


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
