"""tokensqueeze's Python trainer: stage 3 of TokenSqueeze (DPO-L + SFT) on TRL, for GPU clusters.

- `loss`: the objectives of METHOD.md stage 3 over per-pair summed log-probs and lengths (torch);
- `dpo_l`: `DPOLConfig` / `DPOLTrainer`, a TRL `DPOTrainer` that trains with them;
- `train`: the command line (`python -m tokensqueeze_trainer.train --pairs pairs.trl.jsonl --model M --out OUT`).
"""

__version__ = "0.1.0"
