"""Draw the robust losses and their gradients, as in the README's "Choosing a robust loss".

Top row: regression losses rho(r) and their influence d rho / d r against the
residual r. Bottom row: classification losses against the probability p_y of
the labelled class (10 classes, the rest of the mass spread evenly), and the
gradient each sends to the labelled class's logit. Gradients come from
autograd through losskit's own functions.

    python examples/plot_robust_losses.py [docs/figures/robust_losses.png]
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

import losskit

REGRESSION = [
    ("mse", {}, "MSE / 2", 0.5),
    ("huber", {}, "Huber (δ=1)", 1.0),
    ("pseudo_huber", {}, "pseudo-Huber (δ=1)", 1.0),
    ("cauchy", {}, "Cauchy (c=1)", 1.0),
    ("geman_mcclure", {}, "Geman–McClure (c=1)", 1.0),
    ("welsch", {}, "Welsch (c=1)", 1.0),
    ("tukey", {"c": 2.0}, "Tukey (c=2)", 1.0),
    ("barron", {"alpha": 0.5}, "Barron (α=0.5)", 1.0),
]
CLASSIFICATION = [
    ("cross_entropy", {}, "cross-entropy"),
    ("softmax_mae", {}, "MAE on p"),
    ("gce", {}, "GCE (q=0.7)"),
    ("sce", {}, "SCE (α=0.1, β=1)"),
    ("nce_rce", {}, "NCE+RCE"),
    ("focal", {}, "focal (γ=2)"),
    ("poly1", {}, "Poly-1 (ε=1)"),
]
NUM_CLASSES = 10


def regression_curves(name: str, options: dict, factor: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r = torch.linspace(-6, 6, 601, dtype=torch.float64, requires_grad=True)
    loss = losskit.get_loss(name, **options)
    values = factor * loss(r, torch.zeros_like(r), reduction="none")
    (grad,) = torch.autograd.grad(values.sum(), r)
    return r.detach(), values.detach(), grad


def classification_curves(name: str, options: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    # logits [t, 0, ..., 0]: p_y = e^t / (e^t + C - 1), swept over (0.002, 0.998)
    p_y = torch.linspace(0.002, 0.998, 400, dtype=torch.float64)
    t = torch.log(p_y * (NUM_CLASSES - 1) / (1 - p_y))
    logits = torch.zeros(len(t), NUM_CLASSES, dtype=torch.float64)
    logits[:, 0] = t
    logits.requires_grad_()
    target = torch.zeros(len(t), dtype=torch.long)
    values = losskit.get_loss(name, **options)(logits, target, reduction="none")
    (grad,) = torch.autograd.grad(values.sum(), logits)
    return p_y, values.detach(), grad[:, 0]


def main(out: Path) -> None:
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5))
    (ax_rho, ax_psi), (ax_ce, ax_grad) = axes
    for name, options, label, factor in REGRESSION:
        r, values, grad = regression_curves(name, options, factor)
        ax_rho.plot(r, values, label=label)
        ax_psi.plot(r, grad, label=label)
    ax_rho.set(title="Regression loss ρ(r)", xlabel="residual r = ŷ − y", ylim=(0, 6))
    ax_psi.set(title="Influence dρ/dr (how hard one residual pulls)", xlabel="residual r", ylim=(-3, 3))
    for name, options, label in CLASSIFICATION:
        p_y, values, grad = classification_curves(name, options)
        ax_ce.plot(p_y, values, label=label)
        ax_grad.plot(p_y, grad, label=label)
    ax_ce.set(title=f"Classification loss vs p_y ({NUM_CLASSES} classes)", xlabel="p_y, probability of the label",
              ylim=(0, 6))
    ax_grad.set(title="Gradient on the label's logit", xlabel="p_y (a mislabelled sample sits near 0)",
                ylim=(-1.6, 0.1))
    for ax in axes.flat:
        ax.grid(alpha=0.3)
        ax.axhline(0, color="black", lw=0.6)
    ax_rho.legend(fontsize=8, loc="upper center")
    ax_ce.legend(fontsize=8)
    fig.suptitle("Robust losses in losskit (gradients by autograd)", fontsize=13)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    print(f"wrote {out} ({math.ceil(out.stat().st_size / 1024)} KiB)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/figures/robust_losses.png"))
