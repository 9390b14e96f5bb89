"""TRL's DPOTrainer trained with stage 3's objectives (METHOD.md): DPO-L (a length margin −λ·log(ℓl/ℓw) inside
the sigmoid) plus a weighted SFT term, and the Table-4 ablations `dpo`, `sft`, `dpo+sft`.

Written against trl==1.16.0 (pinned in trainer/requirements.txt). Since TRL 0.29 the DPO loss has no smaller
extension point than `compute_loss`: `dpo_loss`, `concatenated_forward` and `get_batch_loss_metrics` are gone, and
extra dataset columns never reach the loss (the collator emits only `input_ids`, `attention_mask`,
`completion_mask` and, when precomputed, `ref_chosen_logps`/`ref_rejected_logps`). So `compute_loss` here runs the
policy forward itself, the same way `DPOTrainer._compute_loss` does (the fused LM head TRL patches onto the model
returns per-token log-probs of the completion labels), and takes the response lengths ℓ from the two halves of
the completion mask: ℓ counts the tokens the loss sums over — the response, the EOS TRL appends, after
truncation to `max_length` — the same count the embedded trainer uses (src/train/preference.ts).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from trl import DPOConfig, DPOTrainer

from .loss import (
    DEFAULT_BETA,
    DEFAULT_ETA,
    DEFAULT_LAMBDA,
    DEFAULT_OBJECTIVE,
    OBJECTIVES,
    PreferenceLoss,
    PreferenceLossSettings,
    completion_logps,
    preference_loss,
    validate_settings,
)

# Keys of a collated batch that are not model inputs.
_NON_MODEL_KEYS = {"completion_mask", "ref_chosen_logps", "ref_rejected_logps"}

# Per-pair quantities averaged into the logs, in the order they are stacked for one gather.
_METRIC_KEYS = (
    "objective",
    "dpo",
    "sft",
    "margin",
    "rewards/chosen",
    "rewards/rejected",
    "rewards/accuracies",
    "rewards/margins",
    "logps/chosen",
    "logps/rejected",
    "length/chosen",
    "length/rejected",
)


@dataclass
class DPOLConfig(DPOConfig):
    """`DPOConfig` plus the objective of METHOD.md stage 3. `beta` is TRL's own field (default 0.1, METHOD.md's).

    TRL's own loss options (`loss_type`, `loss_weights`, `ld_alpha`, `use_weighting`, `f_divergence_type`) are not
    used by `DPOLTrainer`, which refuses non-default values rather than ignore them.
    """

    objective: str = field(
        default=DEFAULT_OBJECTIVE,
        metadata={
            "help": "Stage-3 objective: dpo-l+sft (the method), dpo+sft, dpo or sft.",
            "choices": list(OBJECTIVES),
        },
    )
    length_lambda: float = field(
        default=DEFAULT_LAMBDA,
        metadata={"help": "λ: weight of the length margin log(ℓl/ℓw) in DPO-L (dpo-l+sft only)."},
    )
    eta: float = field(
        default=DEFAULT_ETA,
        metadata={"help": "η: weight of the preference term; the SFT term gets 1 − η (dpo+sft, dpo-l+sft)."},
    )

    def __post_init__(self):
        super().__post_init__()
        if self.beta is None:
            self.beta = DEFAULT_BETA
        validate_settings(self.objective, self.beta, self.length_lambda, self.eta)
        unsupported = []
        if list(self.loss_type) != ["sigmoid"] or self.loss_weights is not None:
            unsupported.append(f"loss_type={self.loss_type}, loss_weights={self.loss_weights}")
        if self.ld_alpha is not None:
            unsupported.append(f"ld_alpha={self.ld_alpha}")
        if self.use_weighting:
            unsupported.append("use_weighting=True")
        if self.f_divergence_type != "reverse_kl":
            unsupported.append(f"f_divergence_type={self.f_divergence_type!r}")
        if unsupported:
            raise ValueError(
                "DPOLConfig: the objective is chosen with `objective`, `beta`, `length_lambda` and `eta`; TRL's loss "
                f"options are not used and must keep their defaults (got {', '.join(unsupported)})"
            )

    @property
    def sft_weight(self) -> float:
        """Weight of the SFT term under the configured objective (1 − η for the composite objectives)."""
        return self.loss_settings().weights()[1]

    def loss_settings(self) -> PreferenceLossSettings:
        return PreferenceLossSettings(objective=self.objective, beta=self.beta, lam=self.length_lambda, eta=self.eta)


class DPOLTrainer(DPOTrainer):
    """`DPOTrainer` whose loss is `tokensqueeze_trainer.loss.preference_loss` (DPO-L + SFT by default).

    Logs, per logging step: `dpo` (−log σ(z)), `sft` (per-token NLL of yw), `margin` (z), `objective` (the mean
    loss before any MoE auxiliary loss), `rewards/{chosen,rejected,margins,accuracies}` (implicit rewards
    β·(log π − log π_ref)), `logps/{chosen,rejected}` and `length/{chosen,rejected}` (ℓ in tokens).
    """

    _tag_names = ["trl", "dpo", "tokensqueeze", "dpo-l"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not isinstance(self.args, DPOLConfig):
            raise TypeError(f"DPOLTrainer needs a DPOLConfig, got {type(self.args).__name__}")
        if self._is_vision_dataset:
            raise NotImplementedError("DPOLTrainer trains on text pairs only")
        self.loss_settings = self.args.loss_settings()

    def pair_logps(self, model, inputs) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, object]:
        """Policy summed completion log-probs (chosen, rejected), completion lengths (chosen, rejected), and the
        model outputs (for the MoE auxiliary loss)."""
        model_kwargs = {k: v for k, v in inputs.items() if k not in _NON_MODEL_KEYS}
        model_kwargs["use_cache"] = False
        if self.aux_loss_enabled:
            model_kwargs["output_router_logits"] = True
        completion_mask = inputs["completion_mask"]
        labels = inputs["input_ids"].masked_fill(completion_mask == 0, -100)
        outputs = model(**model_kwargs, labels=labels, fused_lm_head=True)
        logps, lengths = completion_logps(outputs.log_probs, completion_mask)
        chosen_logps, rejected_logps = logps.chunk(2, dim=0)  # the batch is [chosen…, rejected…]
        chosen_len, rejected_len = lengths.clamp(min=1).chunk(2, dim=0)
        return chosen_logps, rejected_logps, chosen_len, rejected_len, outputs

    def reference_logps(self, inputs) -> tuple[torch.Tensor, torch.Tensor]:
        if self.precompute_ref_logps:
            return inputs["ref_chosen_logps"], inputs["ref_rejected_logps"]
        # TRL's own reference pass: no grad, checkpointing off, the "ref" adapter (or none) under PEFT.
        ref_chosen, ref_rejected = self.compute_ref_log_probs(
            self.ref_model if self.ref_model is not None else self.model, inputs
        )
        return ref_chosen.detach(), ref_rejected.detach()

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        mode = "train" if self.model.training else "eval"
        chosen_logps, rejected_logps, chosen_len, rejected_len, outputs = self.pair_logps(model, inputs)
        ref_chosen, ref_rejected = self.reference_logps(inputs)
        terms = self.compute_preference_loss(
            chosen_logps, rejected_logps, ref_chosen, ref_rejected, chosen_len, rejected_len
        )
        loss = terms.loss
        if self.aux_loss_enabled:
            aux_loss = outputs.aux_loss
            loss = loss + self.router_aux_loss_coef * aux_loss
            self._metrics[mode]["aux_loss"].append(self.accelerator.gather_for_metrics(aux_loss.detach()).mean().item())
        self._log_terms(mode, inputs, terms, chosen_logps, rejected_logps, chosen_len, rejected_len)
        if return_outputs:
            # Evaluation with prediction_loss_only=False wants logits; the fused head does not build them.
            model_kwargs = {k: v for k, v in inputs.items() if k not in _NON_MODEL_KEYS}
            with torch.no_grad():
                outputs = model(**model_kwargs, use_cache=False)
            return loss, outputs
        return loss

    def compute_preference_loss(
        self, chosen_logps, rejected_logps, ref_chosen, ref_rejected, chosen_len, rejected_len
    ) -> PreferenceLoss:
        return preference_loss(
            chosen_logps,
            rejected_logps,
            ref_chosen,
            ref_rejected,
            chosen_len,
            rejected_len,
            self.loss_settings,
            validate=False,  # lengths come from the completion mask (≥ 1 after clamping); no per-step device sync
        )

    def _log_terms(
        self, mode, inputs, terms: PreferenceLoss, chosen_logps, rejected_logps, chosen_len, rejected_len
    ) -> None:
        columns = [
            terms.per_pair,
            terms.dpo,
            terms.sft,
            terms.margin,
            terms.chosen_reward,
            terms.rejected_reward,
            (terms.chosen_reward > terms.rejected_reward),
            terms.chosen_reward - terms.rejected_reward,
            chosen_logps,
            rejected_logps,
            chosen_len,
            rejected_len,
        ]
        device = terms.loss.device
        stacked = torch.stack([c.detach().to(device=device, dtype=torch.float32) for c in columns], dim=1)
        # One value per pair (from every process), so the logged means weigh every pair alike across uneven batches.
        per_pair = self.accelerator.gather_for_metrics(stacked).T.tolist()
        for key, values in zip(_METRIC_KEYS, per_pair, strict=True):
            self._metrics[mode][key].extend(values)
        if mode == "train":
            num_tokens = self.accelerator.gather_for_metrics(inputs["attention_mask"].sum()).sum().item()
            self._total_train_tokens += num_tokens // self._tp_size
        self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
