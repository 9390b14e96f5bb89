"""The TRL trainer end to end on CPU: pairs from the squeeze pipeline (the TypeScript CLI), a few DPO-L + SFT steps
of the built-in model (models/world-base) through the command line, the saved folder loads in transformers, and its
loss on a fixed batch — through DPOLTrainer.compute_loss — equals the loss computed independently (plain
transformers forward in float64 + tokensqueeze_trainer.loss).

The fixed batch and its expected loss are written to fixed_batch.json for the TypeScript cross-check (the embedded
engine must give the same loss on the same token ids). Set TOKENSQUEEZE_TRL_ARTIFACTS=DIR to keep everything
(pairs, trained model, fixed_batch.json) in DIR instead of a pytest temporary folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tokensqueeze_trainer.loss import PreferenceLossSettings, preference_loss
from tokensqueeze_trainer.train import UsageError, gradient_accumulation, split_held_out

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "models" / "world-base"
TRAIN_SCRIPT = REPO / "trainer" / "tokensqueeze_trainer" / "train.py"
MAX_LENGTH = 192  # keeps CPU training steps short; long responses are cut, as --max-length does at scale
FIXED_MAX_LENGTH = 1024  # the model's context: the fixed batch is scored whole, nothing cut
SETTINGS = PreferenceLossSettings(objective="dpo-l+sft", beta=0.1, lam=1.0, eta=0.5)
TRAIN_PAIRS = 6
EVAL_PAIRS = 4
FIXED_PAIRS = 4
STEPS = 4
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    keep = os.environ.get("TOKENSQUEEZE_TRL_ARTIFACTS")
    d = Path(keep).resolve() if keep else tmp_path_factory.mktemp("trl")
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="module")
def pairs(artifacts) -> dict[str, Path]:
    """A small pairs export made by the real pipeline (sample → select → refine → pairs) from the built-in model."""
    run = artifacts / "squeeze"
    cmd = [
        "node", "--import", "tsx", "src/cli/main.ts", "squeeze", "--preset", "demo", "--limit", "12", "--samples", "8",
        "--set", "refinement.candidates=4", "--set", "refinement.window=32", "--out", str(run), "--progress", "none",
    ]  # fmt: skip
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, f"squeeze failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
    rows = read_jsonl(run / "pairs.trl.jsonl")
    for r in rows:
        assert {"prompt", "chosen", "rejected", "chosen_tokens", "rejected_tokens", "problem_id"} <= r.keys()
    # Train on the first pairs; evaluate on pairs of other problems (held out whole, like --held-out-fraction).
    train = rows[:TRAIN_PAIRS]
    seen = {r["problem_id"] for r in train}
    held = [r for r in rows if r["problem_id"] not in seen][:EVAL_PAIRS]
    assert len(train) == TRAIN_PAIRS and len(held) == EVAL_PAIRS, f"the squeeze run gave too few pairs ({len(rows)})"
    write_jsonl(artifacts / "train.trl.jsonl", train)
    write_jsonl(artifacts / "eval.trl.jsonl", held)
    return {"train": artifacts / "train.trl.jsonl", "eval": artifacts / "eval.trl.jsonl"}


@pytest.fixture(scope="module")
def trained(artifacts, pairs) -> dict:
    """Runs the command line (as `accelerate launch` would: the script path) and collects its progress lines."""
    out = artifacts / "model"
    log = artifacts / "progress.jsonl"
    log.unlink(missing_ok=True)
    cmd = [
        sys.executable, str(TRAIN_SCRIPT), "--pairs", str(pairs["train"]), "--eval-pairs", str(pairs["eval"]),
        "--model", str(BASE), "--out", str(out), "--lr", "1e-3", "--global-batch", str(TRAIN_PAIRS),
        "--per-device-batch", str(TRAIN_PAIRS // 2), "--max-steps", str(STEPS), "--warmup-ratio", "0",
        "--max-length", str(MAX_LENGTH), "--no-gradient-checkpointing", "--json-log", str(log), "--seed", "0",
        "--precompute-ref",  # one reference pass before training (the per-step reference path: the fixed-batch test)
    ]  # fmt: skip
    res = subprocess.run(cmd, cwd=artifacts, capture_output=True, text=True, timeout=600, env=ENV)
    assert res.returncode == 0, f"training failed ({res.returncode}):\n{res.stdout}\n{res.stderr[-6000:]}"
    lines = [json.loads(line) for line in res.stdout.splitlines()]  # stdout holds JSON lines only
    return {"out": out, "lines": lines, "log": log, "stdout": res.stdout}


def test_progress_lines_and_the_loss_falls(trained):
    lines = trained["lines"]
    events = [line["event"] for line in lines]
    assert events == ["start"] + ["log"] * STEPS + ["eval", "done"], events
    start = lines[0]
    assert (
        start["gradientAccumulation"] == 2 and start["trainPairs"] == TRAIN_PAIRS and start["evalPairs"] == EVAL_PAIRS
    )
    logs = [line for line in lines if line["event"] == "log"]
    assert [line["step"] for line in logs] == list(range(1, STEPS + 1))
    for line in logs:
        for key in (
            "loss",
            "dpo",
            "sft",
            "margin",
            "rewardAccuracy",
            "rewardMargin",
            "chosenTokens",
            "rejectedTokens",
            "learningRate",
        ):
            assert isinstance(line[key], float), (key, line)
    # The first step is measured before any update: the policy is the reference, so every implicit reward is 0 and
    # z is the length margin alone.
    first = logs[0]
    assert abs(first["chosenReward"]) < 1e-5 and abs(first["rejectedReward"]) < 1e-5 and first["rewardAccuracy"] == 0.0
    assert first["margin"] < 0  # rejected responses are longer: −λ·log(ℓl/ℓw) < 0
    # Every step sees all the training pairs (global batch = pairs), so the logged losses are comparable.
    assert logs[-1]["loss"] < 0.8 * logs[0]["loss"], [line["loss"] for line in logs]
    assert logs[-1]["dpo"] < logs[0]["dpo"] and logs[-1]["rewardAccuracy"] > 0.5
    done = lines[-1]
    assert done["model"] == str(trained["out"].resolve()) and done["steps"] == STEPS
    assert done["lossFirst"] == logs[0]["loss"] and done["lossLast"] == logs[-1]["loss"]
    assert isinstance(done["heldOutRewardAccuracy"], float) and 0.0 <= done["heldOutRewardAccuracy"] <= 1.0
    assert trained["log"].read_text(encoding="utf-8") == trained["stdout"]


def test_saved_folder_loads_in_transformers(trained):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = trained["out"]
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        assert (out / name).is_file(), name
    model = AutoModelForCausalLM.from_pretrained(out)
    base = AutoModelForCausalLM.from_pretrained(BASE)
    assert type(model).__name__ == "LlamaForCausalLM"
    trained_params = dict(model.named_parameters())
    assert trained_params.keys() == dict(base.named_parameters()).keys()
    changed = [n for n, p in base.named_parameters() if not torch.equal(p, trained_params[n])]
    assert len(changed) == len(trained_params)  # full fine-tuning moved every tensor
    assert AutoTokenizer.from_pretrained(out).get_vocab() == AutoTokenizer.from_pretrained(BASE).get_vocab()


def completion_logp(model, ids: list[int], start: int) -> float:
    """Σ log p(ids[t] | ids[:t]) for t ≥ start, from a plain forward pass."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0].double()
    logprobs = torch.log_softmax(logits[:-1], dim=-1)
    targets = torch.tensor(ids[1:])
    per_token = logprobs.gather(1, targets.unsqueeze(1)).squeeze(1)
    return float(per_token[start - 1 :].sum())


def test_fixed_batch_loss_matches_independent_computation(trained, pairs, artifacts):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tokensqueeze_trainer.dpo_l import DPOLConfig, DPOLTrainer

    out = trained["out"]
    rows = read_jsonl(pairs["train"])[:FIXED_PAIRS]
    tokenizer = AutoTokenizer.from_pretrained(out)

    # (a) The trainer's own path: TRL tokenization and collation, fused LM head, DPOLTrainer.compute_loss.
    config = DPOLConfig(
        output_dir=str(artifacts / "fixed-trainer"),
        objective=SETTINGS.objective, beta=SETTINGS.beta, length_lambda=SETTINGS.lam, eta=SETTINGS.eta,
        max_length=FIXED_MAX_LENGTH, per_device_train_batch_size=FIXED_PAIRS, bf16=False, gradient_checkpointing=False,
        report_to="none", disable_tqdm=True,
    )  # fmt: skip
    trainer = DPOLTrainer(
        model=str(out),
        ref_model=AutoModelForCausalLM.from_pretrained(BASE, dtype=torch.float32),
        args=config,
        train_dataset=Dataset.from_list([{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in rows]),
        processing_class=tokenizer,
    )
    examples = [trainer.train_dataset[i] for i in range(FIXED_PAIRS)]
    batch = trainer.data_collator(examples)
    trainer.model.eval()
    with torch.no_grad():
        trl_loss = float(trainer.compute_loss(trainer.model, batch))
        trl_chosen, trl_rejected, trl_lw, trl_ll, _ = trainer.pair_logps(trainer.model, batch)

    # (b) Independently: our own tokenization (prompt, prompt + response + EOS, cut at max_length), a float64
    # forward of the saved folder and of the base model, and tokensqueeze_trainer.loss.
    policy = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float64).eval()
    reference = AutoModelForCausalLM.from_pretrained(BASE, dtype=torch.float64).eval()
    fixed = []
    for i, row in enumerate(rows):
        prompt_ids = tokenizer(row["prompt"])["input_ids"]
        entry = {"prompt": row["prompt"], "chosen": row["chosen"], "rejected": row["rejected"], "promptIds": prompt_ids}
        for side in ("chosen", "rejected"):
            full = tokenizer(row["prompt"] + row[side] + tokenizer.eos_token)["input_ids"]
            assert full[: len(prompt_ids)] == prompt_ids
            assert len(full) <= FIXED_MAX_LENGTH
            completion = full[len(prompt_ids) :]
            assert examples[i]["prompt_ids"] == prompt_ids
            assert examples[i]["prompt_ids"] + examples[i][f"{side}_ids"] == full  # what TRL scores
            entry[f"{side}Ids"] = completion
            entry[f"{side}Tokens"] = len(completion)
            entry[f"policy{side.title()}"] = completion_logp(policy, full, len(prompt_ids))
            entry[f"ref{side.title()}"] = completion_logp(reference, full, len(prompt_ids))
        fixed.append(entry)
    col = lambda k: torch.tensor([e[k] for e in fixed], dtype=torch.float64)  # noqa: E731
    terms = preference_loss(
        col("policyChosen"),
        col("policyRejected"),
        col("refChosen"),
        col("refRejected"),
        col("chosenTokens"),
        col("rejectedTokens"),
        SETTINGS,
    )
    expected = terms.loss.item()
    before = preference_loss(
        col("refChosen"),
        col("refRejected"),
        col("refChosen"),
        col("refRejected"),
        col("chosenTokens"),
        col("rejectedTokens"),
        SETTINGS,
    ).loss.item()

    assert trl_lw.tolist() == [e["chosenTokens"] for e in fixed] and trl_ll.tolist() == [
        e["rejectedTokens"] for e in fixed
    ]
    for i, e in enumerate(fixed):
        assert abs(trl_chosen[i].item() - e["policyChosen"]) <= 1e-4 * max(1.0, abs(e["policyChosen"]))
        assert abs(trl_rejected[i].item() - e["policyRejected"]) <= 1e-4 * max(1.0, abs(e["policyRejected"]))
    assert abs(trl_loss - expected) <= 1e-5 * max(1.0, abs(expected)), (trl_loss, expected)
    assert expected < before  # training lowered the objective on pairs it trained on

    record = {
        "comment": (
            "A fixed batch of pairs scored by the model trained with the TRL trainer (trainer/tests/test_trl_trainer.py). "
            "For each pair, the policy is `model`, the reference is `referenceModel`; sum log p(token) over the "
            "completion ids (chosenIds / rejectedIds: the response and the EOS TRL appends, uncut) given promptIds, "
            "then the batch loss under `settings` is expected.loss (src/train/preference-loss.ts batchLoss); "
            "chosenTokens/rejectedTokens are the lengths ℓ, policy*/ref* the expected summed log-probs."
        ),
        "model": str(out.resolve()),
        "referenceModel": str(BASE.resolve()),
        "eosToken": tokenizer.eos_token,
        "settings": {
            "objective": SETTINGS.objective,
            "beta": SETTINGS.beta,
            "lambda": SETTINGS.lam,
            "eta": SETTINGS.eta,
        },
        "pairs": fixed,
        "expected": {**terms.metrics(), "trlLoss": trl_loss, "lossAtReference": before},
        "tolerance": 1e-4,
    }
    (artifacts / "fixed_batch.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


def test_cli_module_help_and_usage_errors(tmp_path):
    trainer_dir = REPO / "trainer"
    res = subprocess.run(
        [sys.executable, "-m", "tokensqueeze_trainer.train", "--help"],
        cwd=trainer_dir,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    assert res.returncode == 0 and "--global-batch" in res.stdout and "--json-log" in res.stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"prompt": "p", "chosen": "a", "rejected": "b"}\n{"prompt": "p", "chosen": "a"}\n', encoding="utf-8"
    )
    res = subprocess.run(
        [sys.executable, str(TRAIN_SCRIPT), "--pairs", str(bad), "--model", str(BASE), "--out", str(tmp_path / "o")],
        capture_output=True, text=True, env=ENV, timeout=120,
    )  # fmt: skip
    assert res.returncode == 2 and f'{bad}:2: field "rejected"' in res.stderr and res.stdout == ""
    res = subprocess.run(
        [sys.executable, str(TRAIN_SCRIPT), "--pairs", str(bad), "--model", str(BASE), "--out", str(tmp_path / "o"), "--eta", "2"],
        capture_output=True, text=True, env=ENV, timeout=120,
    )  # fmt: skip
    assert res.returncode == 2 and "eta must be a number in [0, 1]" in res.stderr


def test_held_out_split_keeps_problems_whole():
    rows = [{"problem_id": f"p{i // 3}", "prompt": "", "chosen": "a", "rejected": "b"} for i in range(30)]
    train, held = split_held_out(rows, 0.2, seed=7)
    assert len(held) == 6 and len(train) == 24  # 2 of 10 problems, 3 pairs each
    assert not {r["problem_id"] for r in train} & {r["problem_id"] for r in held}
    assert split_held_out(rows, 0.2, seed=7) == (train, held)
    assert split_held_out(rows, 0.0, seed=7) == (rows, [])


def test_accelerate_configs_parse():
    """The launch configs of trainer/README.md are valid accelerate configs with the documented layout."""
    from accelerate.commands.config.config_args import ClusterConfig

    configs = {
        p.stem: ClusterConfig.from_yaml_file(str(p)) for p in sorted((REPO / "trainer" / "accelerate").glob("*.yaml"))
    }
    expect = {
        "single_gpu": ("NO", 1, 1),
        "single_gpu_offload": ("DEEPSPEED", 1, 1),
        "deepspeed_zero3": ("DEEPSPEED", 8, 1),
        "fsdp2": ("FSDP", 8, 1),
        "two_nodes_zero3": ("DEEPSPEED", 16, 2),
    }
    assert configs.keys() == expect.keys()
    for name, (kind, processes, machines) in expect.items():
        c = configs[name]
        assert (c.distributed_type.value, c.num_processes, c.num_machines, c.mixed_precision) == (
            kind,
            processes,
            machines,
            "bf16",
        ), name
        if kind == "DEEPSPEED":
            assert c.deepspeed_config["zero_stage"] == 3 and c.deepspeed_config["zero3_save_16bit_model"] is True
            assert "gradient_accumulation_steps" not in c.deepspeed_config  # filled from --global-batch
    assert (
        configs["fsdp2"].fsdp_config["fsdp_version"] == 2
        and configs["fsdp2"].fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"
    )


def test_global_batch_arithmetic():
    assert gradient_accumulation(128, 1, 1) == 128
    assert gradient_accumulation(128, 1, 8) == 16
    assert gradient_accumulation(128, 1, 16) == 8
    assert gradient_accumulation(128, 2, 8) == 8
    with pytest.raises(UsageError, match="not a multiple"):
        gradient_accumulation(128, 3, 8)


def test_typescript_loss_on_the_fixed_batch_equals_trl(trained, artifacts):
    """The embedded engine and src/train/preference-loss.ts give the loss TRL computed on the same batch (1e-4)."""
    fixed = artifacts / "fixed_batch.json"
    if not fixed.exists():
        pytest.fail("fixed_batch.json was not written (test_fixed_batch_loss_matches_independent_computation runs first)")
    record = json.loads(fixed.read_text(encoding="utf-8"))
    result = subprocess.run(
        ["node", "--import", "tsx", str(REPO / "scripts" / "fixed-batch-loss.ts"), str(fixed)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    ts = json.loads(result.stdout)
    tolerance = record["tolerance"]
    assert abs(ts["loss"] - record["expected"]["trlLoss"]) <= tolerance, (ts["loss"], record["expected"]["trlLoss"])
    assert abs(ts["loss"] - record["expected"]["loss"]) <= tolerance
