"""Stage 3's objectives (METHOD.md "Stage 3") over tensors of per-pair summed response log-probs and lengths.

    Δ = (πc − rc) − (πr − rr)          policy/reference summed log-probs of the chosen yw and rejected yl
    z = β·Δ − λ·log(ℓl/ℓw)             for dpo-l+sft; z = β·Δ otherwise
    dpo        L = −log σ(β·Δ)
    sft        L = −πc / ℓw            per-token mean NLL of yw
    dpo+sft    L = η·(−log σ(β·Δ)) + (1 − η)·sft
    dpo-l+sft  L = η·(−log σ(z)) + (1 − η)·sft          (the default: β 0.1, λ 1, η 0.5)

The batch loss is the mean over pairs; gradients come from autograd. The same definition is implemented in
TypeScript (src/train/preference-loss.ts); both are tested against trainer/tests/loss_vectors.json.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

OBJECTIVES = ("dpo", "sft", "dpo+sft", "dpo-l+sft")

# METHOD.md's defaults.
DEFAULT_OBJECTIVE = "dpo-l+sft"
DEFAULT_BETA = 0.1
DEFAULT_LAMBDA = 1.0
DEFAULT_ETA = 0.5


@dataclass(frozen=True)
class PreferenceLossSettings:
    objective: str = DEFAULT_OBJECTIVE
    beta: float = DEFAULT_BETA
    lam: float = DEFAULT_LAMBDA
    eta: float = DEFAULT_ETA

    def __post_init__(self) -> None:
        validate_settings(self.objective, self.beta, self.lam, self.eta)

    def weights(self) -> tuple[float, float]:
        """(weight of −log σ(z), weight of the SFT term)."""
        return objective_weights(self.objective, self.eta)


@dataclass
class PreferenceLoss:
    """Per-pair terms (shape [n]); `loss` is the mean the optimizer minimises."""

    loss: torch.Tensor  # scalar: mean over pairs of the objective
    per_pair: torch.Tensor  # the objective per pair
    dpo: torch.Tensor  # −log σ(z) per pair (reported for every objective)
    sft: torch.Tensor  # −πc/ℓw per pair
    margin: torch.Tensor  # z per pair
    chosen_reward: torch.Tensor  # β·(πc − rc)
    rejected_reward: torch.Tensor  # β·(πr − rr)

    @property
    def reward_accuracy(self) -> torch.Tensor:
        return (self.chosen_reward > self.rejected_reward).to(self.loss.dtype).mean()

    def metrics(self) -> dict[str, float]:
        """Batch means of every term, as plain floats."""
        return {
            "loss": float(self.loss.detach()),
            "dpo": float(self.dpo.detach().mean()),
            "sft": float(self.sft.detach().mean()),
            "margin": float(self.margin.detach().mean()),
            "chosenReward": float(self.chosen_reward.detach().mean()),
            "rejectedReward": float(self.rejected_reward.detach().mean()),
            "rewardAccuracy": float(self.reward_accuracy.detach()),
        }


def objective_weights(objective: str, eta: float) -> tuple[float, float]:
    if objective == "dpo":
        return 1.0, 0.0
    if objective == "sft":
        return 0.0, 1.0
    return float(eta), 1.0 - float(eta)


def validate_settings(objective: str, beta: float, lam: float, eta: float) -> None:
    if objective not in OBJECTIVES:
        raise ValueError(f"preference loss: unknown objective {objective!r} (expected one of {', '.join(OBJECTIVES)})")
    if not (isinstance(beta, (int, float)) and math.isfinite(beta) and beta > 0):
        raise ValueError(f"preference loss: beta must be a finite number > 0, got {beta!r}")
    if not (isinstance(lam, (int, float)) and math.isfinite(lam) and lam >= 0):
        raise ValueError(f"preference loss: lambda must be a finite number >= 0, got {lam!r}")
    if not (isinstance(eta, (int, float)) and math.isfinite(eta) and 0 <= eta <= 1):
        raise ValueError(f"preference loss: eta must be a number in [0, 1], got {eta!r}")


def _validate_inputs(
    logps: dict[str, torch.Tensor], chosen_tokens: torch.Tensor, rejected_tokens: torch.Tensor
) -> None:
    n = chosen_tokens.numel()
    if n == 0:
        raise ValueError("preference loss: the batch has no pairs")
    for name, t in {**logps, "chosen_tokens": chosen_tokens, "rejected_tokens": rejected_tokens}.items():
        if t.dim() != 1 or t.numel() != n:
            raise ValueError(f"preference loss: {name} must be a 1-d tensor of {n} values, got shape {tuple(t.shape)}")
    for name, t in logps.items():
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"preference loss: {name} must be finite numbers, got {t.detach().tolist()}")
    for name, t in (("chosen_tokens", chosen_tokens), ("rejected_tokens", rejected_tokens)):
        bad = ~torch.isfinite(t) | (t <= 0) | (t != torch.round(t))
        if bool(bad.any()):
            raise ValueError(
                f"preference loss: {name} must be positive whole numbers of tokens, got {t.detach().tolist()}"
            )


def preference_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    chosen_tokens: torch.Tensor,
    rejected_tokens: torch.Tensor,
    settings: PreferenceLossSettings | None = None,
    *,
    validate: bool = True,
) -> PreferenceLoss:
    """The objective over a batch of pairs; every argument is a 1-d tensor with one value per pair.

    `validate=False` skips the input checks (each costs a device synchronisation); a trainer that builds the
    inputs itself (lengths from a completion mask, clamped to ≥ 1) passes it.
    """
    s = settings or PreferenceLossSettings()
    if validate:
        _validate_inputs(
            {
                "policy_chosen": policy_chosen,
                "policy_rejected": policy_rejected,
                "ref_chosen": ref_chosen,
                "ref_rejected": ref_rejected,
            },
            chosen_tokens,
            rejected_tokens,
        )
    dtype = policy_chosen.dtype
    ref_chosen = ref_chosen.to(device=policy_chosen.device, dtype=dtype)
    ref_rejected = ref_rejected.to(device=policy_chosen.device, dtype=dtype)
    lw = chosen_tokens.to(device=policy_chosen.device, dtype=dtype)
    ll = rejected_tokens.to(device=policy_chosen.device, dtype=dtype)

    chosen_logratio = policy_chosen - ref_chosen
    rejected_logratio = policy_rejected - ref_rejected
    z = s.beta * (chosen_logratio - rejected_logratio)
    if s.objective == "dpo-l+sft":
        z = z - s.lam * torch.log(ll / lw)
    dpo = -F.logsigmoid(z)  # = softplus(−z), stable for any |z|
    sft = -policy_chosen / lw
    w_dpo, w_sft = s.weights()
    # Both terms always: a zero weight still gives every policy log-prob a (zero) gradient.
    per_pair = w_dpo * dpo + w_sft * sft
    return PreferenceLoss(
        loss=per_pair.mean(),
        per_pair=per_pair,
        dpo=dpo,
        sft=sft,
        margin=z,
        chosen_reward=s.beta * chosen_logratio.detach(),
        rejected_reward=s.beta * rejected_logratio.detach(),
    )


def completion_logps(per_token_logps: torch.Tensor, completion_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed log-probs and token counts of the completions.

    `per_token_logps[b, t]` is log p(token t+1 | tokens ≤ t) and `completion_mask[b, t]` marks completion tokens
    (the same shape as input_ids); the completion's tokens are the positions t+1 with mask 1, so the shifted mask
    selects their log-probs.
    """
    shift_mask = completion_mask[..., 1:].to(per_token_logps.dtype)
    logps = per_token_logps[..., -shift_mask.size(1) :]
    return (logps * shift_mask).sum(dim=1), shift_mask.sum(dim=1)


def sequence_logps(
    logits: torch.Tensor, input_ids: torch.Tensor, completion_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed completion log-probs and completion lengths from full logits [B, T, V] (a plain causal LM forward)."""
    logprobs = torch.log_softmax(
        logits[:, :-1].to(torch.float64 if logits.dtype == torch.float64 else torch.float32), dim=-1
    )
    per_token = torch.gather(logprobs, 2, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    return completion_logps(per_token, completion_mask)
