"""Reference numbers for the TypeScript AdamW and gradient clipping: runs torch.optim.AdamW (float32, CPU) and
torch.nn.utils.clip_grad_norm_ on the parameters, gradients and learning rates given as JSON on stdin, and prints
the parameters and optimizer moments after every step as JSON on stdout.

Input: {"params": [{"name", "shape", "data", "decay"}], "steps": [{"lr", "grads": {name: data}}],
        "beta1", "beta2", "eps", "weight_decay", "max_grad_norm"}
"""
import json
import sys

import torch


def main() -> None:
    spec = json.load(sys.stdin)
    torch.set_default_dtype(torch.float32)
    params = {}
    decay, no_decay = [], []
    for p in spec["params"]:
        t = torch.tensor(p["data"], dtype=torch.float32).reshape(p["shape"]).requires_grad_(True)
        params[p["name"]] = t
        (decay if p["decay"] else no_decay).append(t)
    groups = [{"params": decay, "weight_decay": spec["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    opt = torch.optim.AdamW(
        groups,
        lr=spec["steps"][0]["lr"],
        betas=(spec["beta1"], spec["beta2"]),
        eps=spec["eps"],
        foreach=False,
    )
    out = []
    for step in spec["steps"]:
        for g in opt.param_groups:
            g["lr"] = step["lr"]
        for name, t in params.items():
            t.grad = torch.tensor(step["grads"][name], dtype=torch.float32).reshape(t.shape)
        norm = None
        if spec["max_grad_norm"] > 0:
            norm = float(torch.nn.utils.clip_grad_norm_(list(params.values()), spec["max_grad_norm"]))
        opt.step()
        out.append(
            {
                "norm": norm,
                "params": {n: t.detach().reshape(-1).tolist() for n, t in params.items()},
                "m": {n: opt.state[t]["exp_avg"].reshape(-1).tolist() for n, t in params.items()},
                "v": {n: opt.state[t]["exp_avg_sq"].reshape(-1).tolist() for n, t in params.items()},
            }
        )
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
