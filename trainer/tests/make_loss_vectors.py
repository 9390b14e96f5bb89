"""Writes trainer/tests/loss_vectors.json: the shared loss vectors of stage 3 (METHOD.md "Stage 3").

Both implementations of the objectives are tested against the file: the TypeScript one
(src/train/preference-loss.ts, test/train/preference-loss.test.ts) and the Python/torch one
(trainer/tokensqueeze_trainer/loss.py, trainer/tests/test_loss.py). It is generated here, independently of both,
so the vectors are not an echo of either implementation:

- values and gradients are computed in float64 from the closed form (numerically stable softplus/sigmoid);
- every value is checked against a 60-digit evaluation of the definition (mpmath), and every gradient against
  a central finite difference of the 60-digit mean loss, before anything is written.

Run from the repository root:  .venv/bin/python trainer/tests/make_loss_vectors.py
(trainer/tests/test_loss.py also re-runs the generator and checks the committed file is what it writes.)
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import mpmath

OUT = Path(__file__).with_name("loss_vectors.json")
OBJECTIVES = ("dpo", "sft", "dpo+sft", "dpo-l+sft")
FIELDS = ("policyChosen", "policyRejected", "refChosen", "refRejected", "chosenTokens", "rejectedTokens")


# ---- float64 closed form --------------------------------------------------------------------------------------


def softplus(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def weights(s: dict) -> tuple[float, float]:
    """(weight of −log σ(z), weight of the SFT term) of an objective."""
    if s["objective"] == "dpo":
        return 1.0, 0.0
    if s["objective"] == "sft":
        return 0.0, 1.0
    return s["eta"], 1.0 - s["eta"]


def pair_closed_form(p: dict, s: dict) -> dict:
    w_dpo, w_sft = weights(s)
    beta = s["beta"]
    delta = (p["policyChosen"] - p["refChosen"]) - (p["policyRejected"] - p["refRejected"])
    length_margin = (
        s["lambda"] * math.log(p["rejectedTokens"] / p["chosenTokens"]) if s["objective"] == "dpo-l+sft" else 0.0
    )
    z = beta * delta - length_margin
    dpo = softplus(-z)
    sft = -p["policyChosen"] / p["chosenTokens"]
    g = sigmoid(-z)  # −∂(−log σ(z))/∂z
    return {
        "loss": w_dpo * dpo + w_sft * sft,
        "dpo": dpo,
        "sft": sft,
        "margin": z,
        "chosenReward": beta * (p["policyChosen"] - p["refChosen"]),
        "rejectedReward": beta * (p["policyRejected"] - p["refRejected"]),
        "dPolicyChosen": -w_dpo * beta * g - w_sft / p["chosenTokens"],
        "dPolicyRejected": w_dpo * beta * g,
    }


def batch_closed_form(pairs: list[dict], s: dict) -> dict:
    n = len(pairs)
    per = [pair_closed_form(p, s) for p in pairs]
    out = {
        k: math.fsum(q[k] for q in per) / n for k in ("loss", "dpo", "sft", "margin", "chosenReward", "rejectedReward")
    }
    out["rewardAccuracy"] = sum(1 for q in per if q["chosenReward"] > q["rejectedReward"]) / n
    # Gradients of the MEAN loss with respect to each pair's policy log-probs.
    out["dPolicyChosen"] = [q["dPolicyChosen"] / n for q in per]
    out["dPolicyRejected"] = [q["dPolicyRejected"] / n for q in per]
    out["pairs"] = [{k: q[k] for k in ("loss", "dpo", "sft", "margin")} for q in per]
    return out


# ---- high-precision definition (the check) --------------------------------------------------------------------


def mp_pair_loss(p: dict, s: dict) -> tuple:
    """loss, dpo, sft, z of one pair straight from METHOD.md's definition, in mpmath."""
    w_dpo, w_sft = weights(s)
    beta = mpmath.mpf(s["beta"])
    delta = (mpmath.mpf(p["policyChosen"]) - p["refChosen"]) - (mpmath.mpf(p["policyRejected"]) - p["refRejected"])
    z = beta * delta
    if s["objective"] == "dpo-l+sft":
        z -= mpmath.mpf(s["lambda"]) * mpmath.log(mpmath.mpf(p["rejectedTokens"]) / p["chosenTokens"])
    dpo = -mpmath.log(1 / (1 + mpmath.exp(-z)))  # −log σ(z), literally
    sft = -mpmath.mpf(p["policyChosen"]) / p["chosenTokens"]
    return w_dpo * dpo + w_sft * sft, dpo, sft, z


def mp_mean_loss(pairs: list[dict], s: dict):
    return mpmath.fsum(mp_pair_loss(p, s)[0] for p in pairs) / len(pairs)


def close(a: float, b, rel: float = 1e-9, abs_: float = 1e-12) -> bool:
    return abs(a - float(b)) <= max(abs_, rel * abs(float(b)))


def verify(case: dict) -> None:
    pairs, s, exp = case["pairs"], case["settings"], case["expected"]
    name = case["name"]
    with mpmath.workdps(60):
        n = len(pairs)
        per = [mp_pair_loss(p, s) for p in pairs]
        mean = mpmath.fsum(q[0] for q in per) / n
        for key, idx in (("loss", 0), ("dpo", 1), ("sft", 2), ("margin", 3)):
            ref = mean if key == "loss" else mpmath.fsum(q[idx] for q in per) / n
            assert close(exp[key], ref), f"{name}: {key} closed form {exp[key]!r} vs definition {ref}"
        # Central finite differences of the mean loss, per pair and per policy log-prob.
        h = mpmath.mpf("1e-20")
        for i in range(n):
            for field, key in (("policyChosen", "dPolicyChosen"), ("policyRejected", "dPolicyRejected")):
                plus = [dict(p) for p in pairs]
                minus = [dict(p) for p in pairs]
                plus[i][field] = mpmath.mpf(pairs[i][field]) + h
                minus[i][field] = mpmath.mpf(pairs[i][field]) - h
                fd = (mp_mean_loss(plus, s) - mp_mean_loss(minus, s)) / (2 * h)
                assert close(exp[key][i], fd, rel=1e-9, abs_=1e-15), (
                    f"{name}: pair {i} {key} closed form {exp[key][i]!r} vs finite difference {fd}"
                )


# ---- the cases --------------------------------------------------------------------------------------------------


def pair(pc, pr, rc, rr, lw, ll) -> dict:
    return dict(zip(FIELDS, (float(pc), float(pr), float(rc), float(rr), int(lw), int(ll)), strict=True))


def settings(objective: str, beta: float = 0.1, lam: float = 1.0, eta: float = 0.5) -> dict:
    return {"objective": objective, "beta": beta, "lambda": lam, "eta": eta}


def cases() -> list[tuple[str, str, dict, list[dict]]]:
    """(name, what it covers, settings, pairs)."""
    # A typical R1-style pair: long responses, summed log-probs in the hundreds, chosen much shorter (refined).
    typical = pair(-412.5, -1630.25, -420.0, -1622.0, 900, 3600)
    equal_len = pair(-88.0, -91.5, -87.25, -90.0, 200, 200)
    out = []
    for obj in OBJECTIVES:
        out.append(
            (
                f"{obj}-defaults-typical",
                f"{obj} with METHOD.md defaults on one long pair, chosen 4x shorter",
                settings(obj),
                [typical],
            )
        )
        out.append(
            (
                f"{obj}-defaults-equal-lengths",
                f"{obj}, equal lengths: dpo-l+sft equals dpo+sft",
                settings(obj),
                [equal_len],
            )
        )
    out += [
        (
            "dpo-at-reference",
            "policy = reference: Δ = 0, loss log 2, gradient ∓β/2",
            settings("dpo"),
            [pair(-50, -70, -50, -70, 40, 60)],
        ),
        (
            "dpo-l+sft-at-reference",
            "policy = reference: z is the length margin alone",
            settings("dpo-l+sft"),
            [pair(-50, -70, -50, -70, 40, 400)],
        ),
        ("dpo-beta-0.5", "larger β", settings("dpo", beta=0.5), [pair(-30.5, -44.0, -31.0, -41.5, 25, 40)]),
        (
            "dpo+sft-eta-0.25",
            "η = 0.25",
            settings("dpo+sft", beta=0.2, eta=0.25),
            [pair(-120.0, -300.0, -118.5, -305.0, 150, 310)],
        ),
        ("dpo-l+sft-lambda-0", "λ = 0 reduces DPO-L to DPO", settings("dpo-l+sft", lam=0.0), [typical]),
        (
            "dpo-l+sft-lambda-2.5",
            "λ = 2.5",
            settings("dpo-l+sft", beta=0.05, lam=2.5, eta=0.7),
            [pair(-75.0, -260.0, -74.0, -255.0, 64, 512)],
        ),
        ("dpo-l+sft-eta-1", "η = 1: DPO-L only", settings("dpo-l+sft", eta=1.0), [typical]),
        ("dpo-l+sft-eta-0", "η = 0: SFT only", settings("dpo-l+sft", eta=0.0), [typical]),
        (
            "dpo-l+sft-rejected-shorter",
            "rejected shorter than chosen: negative length margin",
            settings("dpo-l+sft"),
            [pair(-200.0, -40.0, -205.0, -38.0, 800, 100)],
        ),
        ("dpo-l+sft-one-token", "one-token responses", settings("dpo-l+sft"), [pair(-0.75, -2.5, -0.5, -3.0, 1, 1)]),
        (
            "dpo-l+sft-extreme-length-ratio",
            "ℓl/ℓw = 32768",
            settings("dpo-l+sft"),
            [pair(-3.0, -9000.0, -2.5, -9100.0, 1, 32768)],
        ),
        (
            "dpo-large-positive-z",
            "z = +1000: −log σ(z) underflows to 0, gradient ≈ 0",
            settings("dpo"),
            [pair(-100.0, -20000.0, -100.0, -10000.0, 100, 4000)],
        ),
        (
            "dpo-large-negative-z",
            "z = −1000: −log σ(z) = 1000 without overflow, gradient ∓β",
            settings("dpo"),
            [pair(-20000.0, -100.0, -10000.0, -100.0, 4000, 100)],
        ),
        (
            "dpo-l+sft-large-negative-z",
            "z ≈ −800 with a length margin",
            settings("dpo-l+sft", beta=1.0),
            [pair(-9000.0, -150.0, -8200.0, -140.0, 3000, 2000)],
        ),
        (
            "dpo+sft-large-positive-z",
            "z = +744 with SFT weight: only the SFT gradient remains",
            settings("dpo+sft", beta=2.0),
            [pair(-10.0, -400.0, -12.0, -30.0, 10, 50)],
        ),
        (
            "dpo-l+sft-batch-4",
            "a batch of four pairs with mixed signs of z and lengths (gradients of the mean)",
            settings("dpo-l+sft"),
            [
                typical,
                equal_len,
                pair(-200.0, -40.0, -205.0, -38.0, 800, 100),
                pair(-15.25, -160.0, -16.0, -150.5, 12, 130),
            ],
        ),
        (
            "dpo-batch-3",
            "a batch of three pairs under plain DPO, one with chosenReward < rejectedReward",
            settings("dpo", beta=0.3),
            [
                pair(-60.0, -80.0, -62.0, -79.0, 50, 70),
                pair(-45.0, -44.0, -44.0, -46.0, 40, 40),
                pair(-500.0, -700.0, -520.0, -690.0, 400, 600),
            ],
        ),
        (
            "sft-batch-3",
            "a batch of three pairs under SFT: per-pair token means, then the mean over pairs",
            settings("sft"),
            [
                pair(-60.0, -80.0, -62.0, -79.0, 50, 70),
                pair(-1.5, -44.0, -2.0, -46.0, 3, 40),
                pair(-500.0, -700.0, -520.0, -690.0, 400, 600),
            ],
        ),
        (
            "dpo+sft-batch-5-mixed",
            "five pairs, one far in each tail, under dpo+sft with β 0.15, η 0.6",
            settings("dpo+sft", beta=0.15, eta=0.6),
            [
                pair(-100.0, -120.0, -101.0, -118.0, 80, 90),
                pair(-5000.0, -300.0, -4000.0, -310.0, 2000, 300),
                pair(-30.0, -9000.0, -35.0, -4000.0, 20, 5000),
                pair(-7.125, -7.125, -7.125, -7.125, 6, 6),
                pair(-250.0, -260.0, -240.0, -275.0, 150, 1500),
            ],
        ),
        (
            "dpo-l+sft-batch-6-paper-like",
            "six pairs shaped like refined R1 pairs (chosen 1.5–6x shorter), METHOD.md defaults",
            settings("dpo-l+sft"),
            [
                pair(-701.0, -2310.5, -703.5, -2305.0, 1773, 4190),
                pair(-1210.25, -5102.0, -1215.0, -5090.0, 2180, 9000),
                pair(-333.0, -1999.0, -330.0, -2001.5, 600, 3600),
                pair(-990.0, -1510.0, -995.5, -1508.0, 2400, 3600),
                pair(-402.0, -2750.0, -401.0, -2700.0, 950, 5412),
                pair(-150.0, -210.0, -149.0, -212.0, 400, 620),
            ],
        ),
    ]
    return out


# Inputs every implementation must refuse (TypeScript: RangeError; Python: ValueError).
INVALID = [
    {"name": "zero-chosen-tokens", "settings": settings("dpo-l+sft"), "pairs": [pair(-1, -2, -1, -2, 0, 5)]},
    {
        "name": "negative-rejected-tokens",
        "settings": settings("dpo"),
        "pairs": [{**pair(-1, -2, -1, -2, 5, 5), "rejectedTokens": -3}],
    },
    {
        "name": "fractional-tokens",
        "settings": settings("sft"),
        "pairs": [{**pair(-1, -2, -1, -2, 5, 5), "chosenTokens": 2.5}],
    },
    {
        "name": "nan-policy-chosen",
        "settings": settings("dpo"),
        "pairs": [{**pair(-1, -2, -1, -2, 5, 5), "policyChosen": "NaN"}],
    },
    {
        "name": "infinite-ref-rejected",
        "settings": settings("dpo+sft"),
        "pairs": [{**pair(-1, -2, -1, -2, 5, 5), "refRejected": "-Infinity"}],
    },
    {"name": "beta-zero", "settings": settings("dpo", beta=0.0), "pairs": [pair(-1, -2, -1, -2, 5, 5)]},
    {"name": "eta-above-one", "settings": settings("dpo+sft", eta=1.5), "pairs": [pair(-1, -2, -1, -2, 5, 5)]},
    {"name": "negative-lambda", "settings": settings("dpo-l+sft", lam=-1.0), "pairs": [pair(-1, -2, -1, -2, 5, 5)]},
    {
        "name": "unknown-objective",
        "settings": {**settings("dpo"), "objective": "ipo"},
        "pairs": [pair(-1, -2, -1, -2, 5, 5)],
    },
    {"name": "empty-batch", "settings": settings("dpo"), "pairs": []},
]


def build() -> dict:
    out_cases = []
    for name, covers, s, pairs in cases():
        case = {"name": name, "covers": covers, "settings": s, "pairs": pairs, "expected": batch_closed_form(pairs, s)}
        verify(case)
        out_cases.append(case)
    names = [c["name"] for c in out_cases]
    assert len(set(names)) == len(names), "case names must be unique"
    assert {c["settings"]["objective"] for c in out_cases} == set(OBJECTIVES)
    return {
        "comment": (
            "Shared loss vectors of stage 3 (METHOD.md): BOTH implementations are tested against this file — "
            "src/train/preference-loss.ts (test/train/preference-loss.test.ts) and "
            "trainer/tokensqueeze_trainer/loss.py (trainer/tests/test_loss.py). Generated by "
            "trainer/tests/make_loss_vectors.py (float64 closed form, checked against a 60-digit evaluation and "
            "central finite differences); do not edit by hand."
        ),
        "format": {
            "settings": "objective (dpo | sft | dpo+sft | dpo-l+sft), beta, lambda, eta",
            "pairs": "per pair: summed response log-probs policyChosen, policyRejected, refChosen, refRejected; lengths chosenTokens, rejectedTokens",
            "expected": (
                "batch means of loss, dpo (−log σ(z)), sft (−policyChosen/chosenTokens), margin (z), chosenReward, "
                "rejectedReward; rewardAccuracy; dPolicyChosen[i]/dPolicyRejected[i]: gradient of the MEAN loss with "
                "respect to pair i's policy log-probs; pairs[i]: that pair's own loss, dpo, sft, margin"
            ),
            "invalid": 'inputs every implementation must refuse; "NaN"/"-Infinity" strings stand for those numbers',
        },
        "tolerance": {"relative": 1e-6, "absolute": 1e-9},
        "cases": out_cases,
        "invalid": INVALID,
    }


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    text = render()
    OUT.write_text(text, encoding="utf-8")
    data = json.loads(text)
    print(f"wrote {OUT} ({len(data['cases'])} cases, {len(data['invalid'])} invalid inputs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
