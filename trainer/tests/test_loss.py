"""The torch objectives (tokensqueeze_trainer.loss) against the shared loss vectors (loss_vectors.json), which the
TypeScript implementation (src/train/preference-loss.ts) is tested against too. Gradients come from autograd."""

import json
import math
import sys
from pathlib import Path

import pytest
import torch

from tokensqueeze_trainer.loss import PreferenceLossSettings, preference_loss

HERE = Path(__file__).resolve().parent
VECTORS = json.loads((HERE / "loss_vectors.json").read_text(encoding="utf-8"))
REL = VECTORS["tolerance"]["relative"]
ABS = VECTORS["tolerance"]["absolute"]


def near(actual: float, expected: float) -> bool:
    return abs(actual - expected) <= max(ABS, REL * abs(expected))


def number(v):
    return float(v) if isinstance(v, str) else v  # "NaN", "-Infinity" in the invalid inputs


def settings_of(s: dict) -> PreferenceLossSettings:
    return PreferenceLossSettings(objective=s["objective"], beta=s["beta"], lam=s["lambda"], eta=s["eta"])


def tensors(pairs: list[dict], dtype=torch.float64):
    col = lambda k: torch.tensor([number(p[k]) for p in pairs], dtype=dtype)  # noqa: E731
    pc = col("policyChosen").requires_grad_(True)
    pr = col("policyRejected").requires_grad_(True)
    return pc, pr, col("refChosen"), col("refRejected"), col("chosenTokens"), col("rejectedTokens")


def test_vectors_cover_what_they_claim():
    cases = VECTORS["cases"]
    assert len(cases) >= 20
    assert {c["settings"]["objective"] for c in cases} == {"dpo", "sft", "dpo+sft", "dpo-l+sft"}
    assert any(len(c["pairs"]) >= 4 for c in cases)
    assert any(abs(c["expected"]["margin"]) >= 500 for c in cases)


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[c["name"] for c in VECTORS["cases"]])
def test_loss_and_autograd_gradients_match_vectors(case):
    pc, pr, rc, rr, lw, ll = tensors(case["pairs"])
    out = preference_loss(pc, pr, rc, rr, lw, ll, settings_of(case["settings"]))
    out.loss.backward()
    exp = case["expected"]
    got = {
        "loss": out.loss.item(),
        "dpo": out.dpo.mean().item(),
        "sft": out.sft.mean().item(),
        "margin": out.margin.mean().item(),
        "chosenReward": out.chosen_reward.mean().item(),
        "rejectedReward": out.rejected_reward.mean().item(),
        "rewardAccuracy": out.reward_accuracy.item(),
    }
    for key, value in got.items():
        assert math.isfinite(value), key
        assert near(value, exp[key]), f"{key}: {value!r} vs {exp[key]!r}"
    for i, per in enumerate(exp["pairs"]):
        assert near(out.per_pair[i].item(), per["loss"]), f"pair {i} loss"
        assert near(out.dpo[i].item(), per["dpo"]), f"pair {i} dpo"
        assert near(out.sft[i].item(), per["sft"]), f"pair {i} sft"
        assert near(out.margin[i].item(), per["margin"]), f"pair {i} margin"
    for i in range(len(case["pairs"])):
        assert near(pc.grad[i].item(), exp["dPolicyChosen"][i]), (
            f"pair {i} dPolicyChosen {pc.grad[i].item()!r} vs {exp['dPolicyChosen'][i]!r}"
        )
        assert near(pr.grad[i].item(), exp["dPolicyRejected"][i]), (
            f"pair {i} dPolicyRejected {pr.grad[i].item()!r} vs {exp['dPolicyRejected'][i]!r}"
        )


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[c["name"] for c in VECTORS["cases"]])
def test_float32_stays_finite(case):
    """Training runs in float32/bf16: large |z| must not overflow to inf or NaN in value or gradient."""
    pc, pr, rc, rr, lw, ll = tensors(case["pairs"], dtype=torch.float32)
    out = preference_loss(pc, pr, rc, rr, lw, ll, settings_of(case["settings"]))
    out.loss.backward()
    assert torch.isfinite(out.loss) and torch.isfinite(pc.grad).all() and torch.isfinite(pr.grad).all()
    assert abs(out.loss.item() - case["expected"]["loss"]) <= 1e-4 * max(1.0, abs(case["expected"]["loss"]))


@pytest.mark.parametrize("case", VECTORS["invalid"], ids=[c["name"] for c in VECTORS["invalid"]])
def test_invalid_inputs_are_refused(case):
    with pytest.raises(ValueError, match="preference loss"):
        s = settings_of(case["settings"])
        pc, pr, rc, rr, lw, ll = tensors(case["pairs"])
        preference_loss(pc, pr, rc, rr, lw, ll, s)


def test_vectors_file_is_what_the_generator_writes():
    """The committed vectors come from make_loss_vectors.py (which checks them against 60-digit finite
    differences) and were not edited by hand."""
    sys.path.insert(0, str(HERE))
    import make_loss_vectors

    assert make_loss_vectors.render() == (HERE / "loss_vectors.json").read_text(encoding="utf-8")


def test_defaults_are_methods():
    s = PreferenceLossSettings()
    assert (s.objective, s.beta, s.lam, s.eta) == ("dpo-l+sft", 0.1, 1.0, 0.5)
