"""Stage 3 on TRL: train a model on the TRL export of the pairs stage with DPO-L + SFT (METHOD.md).

    python -m tokensqueeze_trainer.train --pairs RUN/pairs.trl.jsonl --model MODEL_DIR --out OUT_DIR
    accelerate launch --config_file trainer/accelerate/deepspeed_zero3.yaml \\
        trainer/tokensqueeze_trainer/train.py --pairs … --model … --out …

(run from `trainer/` or with `trainer/` on PYTHONPATH for `-m`; the script path works from anywhere.)

stdout carries only progress, one JSON object per line (everything else goes to stderr), so a caller can stream
it: {"event": "start", …}, then per logging step {"event": "log", "step", "loss", "dpo", "sft", "margin",
"rewardAccuracy", …}, {"event": "eval", …} when pairs are held out, and {"event": "done", "model", "steps",
"lossFirst", "lossLast", "heldOutRewardAccuracy"} after the model folder (config.json, model.safetensors, tokenizer
files) is written to OUT_DIR. Errors in the arguments or the pairs file exit with status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path
from typing import IO, Any

if __package__ in (None, ""):  # run as a script (accelerate launch path/to/train.py): make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tokensqueeze_trainer.loss import (
    DEFAULT_BETA,
    DEFAULT_ETA,
    DEFAULT_LAMBDA,
    DEFAULT_OBJECTIVE,
    OBJECTIVES,
    validate_settings,
)

# METHOD.md / the config schema's training defaults (the paper: lr 5e-6, global batch 128, max length 9000, 1 epoch).
DEFAULTS = {
    "lr": 5e-6,
    "global_batch": 128,
    "per_device_batch": 1,
    "max_length": 9000,
    "epochs": 1,
    "warmup_ratio": 0.1,
    "lr_scheduler": "cosine",
    "weight_decay": 0.0,
    "max_grad_norm": 1.0,
}


class UsageError(Exception):
    """A problem with the arguments or the pairs file the user can fix (exit 2)."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m tokensqueeze_trainer.train",
        description="Stage 3 of TokenSqueeze on TRL: DPO-L + SFT training from a pairs export (pairs.trl.jsonl).",
    )
    p.add_argument(
        "--pairs", required=True, help="TRL export of the pairs stage (JSONL rows with prompt, chosen, rejected)"
    )
    p.add_argument(
        "--model", required=True, help="HF model folder (or hub id) to start from; also the frozen reference"
    )
    p.add_argument("--out", required=True, help="folder to write the trained HF model to (checkpoints go inside it)")
    p.add_argument(
        "--objective", choices=OBJECTIVES, default=DEFAULT_OBJECTIVE, help="stage-3 objective (default: %(default)s)"
    )
    p.add_argument("--beta", type=float, default=DEFAULT_BETA, help="β (default: %(default)s)")
    p.add_argument(
        "--lambda",
        dest="lam",
        type=float,
        default=DEFAULT_LAMBDA,
        help="λ, weight of the length margin (default: %(default)s)",
    )
    p.add_argument(
        "--eta",
        type=float,
        default=DEFAULT_ETA,
        help="η, weight of the preference term; SFT gets 1 − η (default: %(default)s)",
    )
    p.add_argument("--lr", type=float, default=DEFAULTS["lr"], help="peak learning rate (default: %(default)s)")
    p.add_argument(
        "--global-batch",
        type=int,
        default=DEFAULTS["global_batch"],
        help="pairs per optimizer step = per-device × processes × accumulation (default: %(default)s)",
    )
    p.add_argument(
        "--per-device-batch",
        type=int,
        default=DEFAULTS["per_device_batch"],
        help="pairs per forward pass on each device (default: %(default)s)",
    )
    p.add_argument(
        "--max-length",
        type=int,
        default=DEFAULTS["max_length"],
        help="prompt + response tokens; longer sequences are cut at the end (default: %(default)s)",
    )
    p.add_argument(
        "--epochs", type=float, default=DEFAULTS["epochs"], help="passes over the pairs (default: %(default)s)"
    )
    p.add_argument("--max-steps", type=int, default=-1, help="optimizer steps; overrides --epochs when > 0")
    p.add_argument(
        "--warmup-ratio",
        type=float,
        default=DEFAULTS["warmup_ratio"],
        help="linear warmup share of the steps (default: %(default)s)",
    )
    p.add_argument(
        "--lr-scheduler",
        default=DEFAULTS["lr_scheduler"],
        choices=["cosine", "linear", "constant", "constant_with_warmup"],
        help="decay after warmup (default: %(default)s)",
    )
    p.add_argument(
        "--weight-decay",
        type=float,
        default=DEFAULTS["weight_decay"],
        help="AdamW weight decay; 0 is the paper's Adam (default: %(default)s)",
    )
    p.add_argument(
        "--max-grad-norm",
        type=float,
        default=DEFAULTS["max_grad_norm"],
        help="gradient clipping, 0 disables (default: %(default)s)",
    )
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--bf16",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="bf16 mixed precision (default: on when a CUDA device supports it)",
    )
    p.add_argument(
        "--gradient-checkpointing",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="recompute activations in the backward pass (default: on)",
    )
    p.add_argument(
        "--precompute-ref",
        action="store_true",
        help="compute the reference log-probs in one pass before training and free the reference model",
    )
    p.add_argument(
        "--held-out-fraction",
        type=float,
        default=0.0,
        help="share of the problems (problem_id) whose pairs are held out and evaluated after training",
    )
    p.add_argument(
        "--eval-pairs", help="a second pairs file to evaluate on after training (instead of --held-out-fraction)"
    )
    p.add_argument(
        "--logging-steps", type=int, default=1, help="optimizer steps between progress lines (default: %(default)s)"
    )
    p.add_argument(
        "--save-steps",
        type=int,
        default=0,
        help="write a resumable checkpoint every N steps into --out (default: none)",
    )
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    p.add_argument("--json-log", help="also append every progress line to this file")
    p.add_argument("--dataset-num-proc", type=int, default=None, help="processes for tokenizing the pairs")
    args = p.parse_args(argv)
    try:
        validate_settings(args.objective, args.beta, args.lam, args.eta)
    except ValueError as e:
        p.error(str(e).replace("preference loss: ", ""))
    for name in ("global_batch", "per_device_batch", "max_length", "logging_steps"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if not 0.0 <= args.warmup_ratio < 1.0:
        p.error("--warmup-ratio must be in [0, 1)")
    if not 0.0 <= args.held_out_fraction < 1.0:
        p.error("--held-out-fraction must be in [0, 1)")
    if args.held_out_fraction > 0 and args.eval_pairs:
        p.error("--held-out-fraction and --eval-pairs exclude each other")
    return args


def read_pairs(path: str) -> list[dict[str, Any]]:
    """Rows of a TRL pairs export; errors name the file, line and field."""
    rows = []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(f"{path}: cannot read the pairs file: {e.strerror or e}") from e
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise UsageError(f"{path}:{i}: malformed JSON at column {e.colno}: {e.msg}") from e
        if not isinstance(row, dict):
            raise UsageError(f"{path}:{i}: expected a JSON object with prompt, chosen, rejected")
        for field in ("prompt", "chosen", "rejected"):
            if not isinstance(row.get(field), str) or (field != "prompt" and not row[field]):
                raise UsageError(f'{path}:{i}: field "{field}": expected a non-empty string')
        rows.append(
            {
                "prompt": row["prompt"],
                "chosen": row["chosen"],
                "rejected": row["rejected"],
                "problem_id": str(row.get("problem_id", f"row-{i}")),
            }
        )
    if not rows:
        raise UsageError(f"{path}:1: empty file: no rows")
    return rows


def split_held_out(rows: list[dict[str, Any]], fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """Holds out round(fraction × problems) whole problems (at least one when fraction > 0), chosen by a seeded hash."""
    if fraction <= 0:
        return rows, []
    problems = sorted({r["problem_id"] for r in rows}, key=lambda p: hashlib.sha256(f"{seed}:{p}".encode()).hexdigest())
    if len(problems) < 2:
        raise UsageError("--held-out-fraction needs pairs from at least two problems")
    held = set(problems[: min(len(problems) - 1, max(1, round(fraction * len(problems))))])
    return [r for r in rows if r["problem_id"] not in held], [r for r in rows if r["problem_id"] in held]


def gradient_accumulation(global_batch: int, per_device: int, processes: int) -> int:
    per_step = per_device * processes
    if global_batch % per_step != 0:
        raise UsageError(
            f"--global-batch {global_batch} is not a multiple of --per-device-batch {per_device} × {processes} processes; "
            f"choose a per-device batch that divides {global_batch // processes if global_batch % processes == 0 else global_batch}"
        )
    return global_batch // per_step


class JsonLines:
    """Progress lines on the real stdout (and optionally a file), from the main process only."""

    def __init__(self, stream: IO[str], path: str | None, enabled: bool):
        self.stream = stream
        self.file = open(path, "a", encoding="utf-8") if (path and enabled) else None  # noqa: SIM115
        self.enabled = enabled

    def emit(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        line = json.dumps(record, allow_nan=False, default=_json_default)
        self.stream.write(line + "\n")
        self.stream.flush()
        if self.file:
            self.file.write(line + "\n")
            self.file.flush()


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


# Trainer/DPOLTrainer log keys → progress line keys.
_LOG_KEYS = {
    "loss": "loss",
    "objective": "objective",
    "dpo": "dpo",
    "sft": "sft",
    "margin": "margin",
    "rewards/accuracies": "rewardAccuracy",
    "rewards/margins": "rewardMargin",
    "rewards/chosen": "chosenReward",
    "rewards/rejected": "rejectedReward",
    "logps/chosen": "chosenLogps",
    "logps/rejected": "rejectedLogps",
    "length/chosen": "chosenTokens",
    "length/rejected": "rejectedTokens",
    "learning_rate": "learningRate",
    "grad_norm": "gradNorm",
    "num_tokens": "numTokens",
    "aux_loss": "auxLoss",
}


def progress_record(logs: dict[str, Any], step: int, max_steps: int) -> dict[str, Any] | None:
    if "eval_loss" in logs:
        rec: dict[str, Any] = {"event": "eval", "step": step}
        for key, name in _LOG_KEYS.items():
            if f"eval_{key}" in logs:
                rec[name] = _finite(logs[f"eval_{key}"])
        rec["loss"] = _finite(logs["eval_loss"])
        return rec
    if "loss" in logs:
        rec = {"event": "log", "step": step, "maxSteps": max_steps, "epoch": _finite(logs.get("epoch"))}
        for key, name in _LOG_KEYS.items():
            if key in logs:
                rec[name] = _finite(logs[key])
        return rec
    return None  # the end-of-training summary (train_runtime, …) is reported in the "done" line


def make_progress_callback(out: JsonLines, history: list[dict[str, Any]]):
    from transformers import TrainerCallback

    class JsonProgressCallback(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs:
                return
            rec = progress_record(logs, state.global_step, state.max_steps)
            if rec is not None:
                history.append(rec)
                out.emit(rec)

    return JsonProgressCallback()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)  # --help to stdout, usage errors to stderr (exit 2)
    json_stream = sys.stdout
    sys.stdout = sys.stderr  # libraries print; only progress lines go to the real stdout
    try:
        return train(args, json_stream)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        sys.stdout = json_stream


def train(args: argparse.Namespace, json_stream: IO[str]) -> int:
    rows = read_pairs(args.pairs)
    train_rows, eval_rows = split_held_out(rows, args.held_out_fraction, args.seed)
    if args.eval_pairs:
        eval_rows = read_pairs(args.eval_pairs)

    import torch
    import transformers
    import trl
    from datasets import Dataset
    from transformers import AutoTokenizer
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from tokensqueeze_trainer.dpo_l import DPOLConfig, DPOLTrainer

    bf16 = args.bf16
    if bf16 is None:
        bf16 = bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    out_dir = Path(args.out)
    config = DPOLConfig(
        output_dir=str(out_dir),
        objective=args.objective,
        beta=args.beta,
        length_lambda=args.lam,
        eta=args.eta,
        learning_rate=args.lr,
        per_device_train_batch_size=args.per_device_batch,
        per_device_eval_batch_size=args.per_device_batch,
        gradient_accumulation_steps=1,  # set below, once the number of processes is known
        num_train_epochs=args.epochs,
        max_steps=args.max_steps if args.max_steps > 0 else -1,
        lr_scheduler_type=args.lr_scheduler,
        warmup_steps=args.warmup_ratio,  # transformers 5: a float in [0, 1) is a share of the steps
        weight_decay=args.weight_decay,
        max_grad_norm=args.max_grad_norm,
        max_length=args.max_length,
        bf16=bf16,
        fp16=False,
        gradient_checkpointing=args.gradient_checkpointing,
        precompute_ref_log_probs=args.precompute_ref,
        logging_steps=args.logging_steps,
        logging_first_step=True,
        save_strategy="steps" if args.save_steps > 0 else "no",
        save_steps=args.save_steps if args.save_steps > 0 else 500,
        save_total_limit=2,
        eval_strategy="no",
        prediction_loss_only=True,  # evaluation needs the loss terms only, never the logits
        report_to="none",
        disable_tqdm=True,
        seed=args.seed,
        data_seed=args.seed,
        dataset_num_proc=args.dataset_num_proc,
    )
    # The distributed state (set up by the TrainingArguments) knows the processes; WORLD_SIZE alone can disagree
    # with it (e.g. torchrun on CPU without ACCELERATE_USE_CPU runs independent single processes).
    _ = config.device
    processes = config.world_size
    accumulation = gradient_accumulation(args.global_batch, args.per_device_batch, processes)
    config.gradient_accumulation_steps = accumulation
    out = JsonLines(json_stream, args.json_log, enabled=config.process_index == 0)
    history: list[dict[str, Any]] = []

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    columns = ("prompt", "chosen", "rejected")
    train_dataset = Dataset.from_list([{k: r[k] for k in columns} for r in train_rows])
    eval_dataset = Dataset.from_list([{k: r[k] for k in columns} for r in eval_rows]) if eval_rows else None
    trainer = DPOLTrainer(
        model=args.model,
        args=config,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
    )
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(make_progress_callback(out, history))

    out.emit(
        {
            "event": "start",
            "model": args.model,
            "pairs": args.pairs,
            "trainPairs": len(trainer.train_dataset),
            "evalPairs": len(trainer.eval_dataset) if trainer.eval_dataset is not None else 0,
            "objective": args.objective,
            "beta": args.beta,
            "lambda": args.lam,
            "eta": args.eta,
            "learningRate": args.lr,
            "globalBatch": args.global_batch,
            "perDeviceBatch": args.per_device_batch,
            "gradientAccumulation": accumulation,
            "processes": processes,
            "maxLength": args.max_length,
            "epochs": args.epochs,
            "maxSteps": args.max_steps if args.max_steps > 0 else None,
            "bf16": bf16,
            "versions": {"trl": trl.__version__, "transformers": transformers.__version__, "torch": torch.__version__},
        }
    )
    started = time.time()
    trainer.train(resume_from_checkpoint=True if args.resume else None)
    trainer.save_model(str(out_dir))
    held_out_accuracy = None
    if trainer.eval_dataset is not None:
        metrics = trainer.evaluate()
        held_out_accuracy = _finite(metrics.get("eval_rewards/accuracies"))
    train_losses = [r["loss"] for r in history if r["event"] == "log" and r.get("loss") is not None]
    out.emit(
        {
            "event": "done",
            "model": str(out_dir.resolve()),
            "steps": trainer.state.global_step,
            "lossFirst": train_losses[0] if train_losses else None,
            "lossLast": train_losses[-1] if train_losses else None,
            "heldOutRewardAccuracy": held_out_accuracy,
            "seconds": round(time.time() - started, 3),
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
