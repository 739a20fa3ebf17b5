"""A loss's first and second derivatives by autograd, and a numerical test for jumps in them.

Regression losses are functions of the residual :math:`r = \\hat y - y`
(target 0, input r). Classification losses are functions of the predicted
probability of the true class :math:`p_y`: the logits are
:math:`\\log p_y` for the true class and :math:`\\log\\frac{1-p_y}{C-1}`
for the other :math:`C-1`, so the others share the rest equally.

A derivative is called *continuous* on an interval when the largest gap
between neighbouring grid values shrinks as the grid is refined (about in
proportion to the step), and *jumping* when the gap stays the same size at
steps 1e-2, 1e-3 and 1e-4: a jump of size J never shrinks below J. On an
interval wider than [-4, 4] the steps grow with it (in proportion to its
half-width over 4), so the grids keep at most about 80,000 points whatever
the options. This is how
"MAE is not differentiable at 0", "Huber is differentiable once" and
"log-cosh is twice differentiable" are checked from the losses themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .._validate import validation
from ..registry import loss_info
from .config import LossSpec
from .targets import class_targets

__all__ = ["PLOT_CLASSES", "Continuity", "continuity", "curves", "default_range", "of_residual"]

PLOT_CLASSES = 10
STEPS = (1e-2, 1e-3, 1e-4)


def of_residual(spec: LossSpec) -> bool:
    """Whether the loss is drawn against the residual: a regression loss, or an NLL with a spread (at spread 1)."""
    return spec.task == "regression" or (
        spec.task == "probabilistic_regression" and len(loss_info(spec.name).inputs) == 3
    )


def default_range(spec: LossSpec) -> tuple[float, float]:
    """The x-range to examine: residuals within ±max(4, 2 x the largest finite numeric option), or p_y in (0, 1)."""
    if spec.task == "classification":
        return (1e-3, 1.0 - 1e-3)
    numbers = [abs(float(v)) for _, v in spec.options
               if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    half = max([4.0] + [2.0 * v for v in numbers])
    return (-half, half)


def curves(spec: LossSpec, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The loss and its first and second derivatives at the points ``x`` (float64), by autograd."""
    x = x.detach().to(torch.float64).requires_grad_()
    module = spec.build()
    with validation(False):
        if spec.task == "classification":
            c = PLOT_CLASSES
            rest = torch.log((1.0 - x) / (c - 1)).unsqueeze(1).expand(-1, c - 1)
            logits = torch.cat([torch.log(x).unsqueeze(1), rest], dim=1)
            labels = torch.zeros(len(x), dtype=torch.long)
            values = module(logits, class_targets(spec, labels, c), reduction="per_sample")
        else:
            # an NLL's third tensor (variance or scale) is 1: the curve of the residual at unit spread
            spread = (torch.ones_like(x),) * (len(loss_info(spec.name).inputs) - 2)
            values = module(x, torch.zeros_like(x), *spread, reduction="none")
    (d1,) = torch.autograd.grad(values.sum(), x, create_graph=True)
    # a piecewise-constant first derivative (quantile) has no graph at all: its d2 is 0
    (d2,) = torch.autograd.grad(d1.sum(), x, allow_unused=True) if d1.requires_grad else (None,)
    # d2 is None when d1 does not depend on x; autograd may also return a lazy "zero tensor":
    # adding to real zeros makes both an ordinary tensor
    zeros = torch.zeros_like(x).detach()
    d2 = zeros if d2 is None else zeros + d2.detach()
    return values.detach(), zeros + d1.detach(), d2


@dataclass(frozen=True)
class Continuity:
    """The result of the jump test for one derivative order."""

    order: int
    continuous: bool
    gaps: tuple[float, ...]  # largest neighbour gap at each step in STEPS
    at: float  # where the largest gap is, at the finest step
    jump: float  # |f(at + h) - f(at - h)| at the finest step

    def describe(self, var: str = "r") -> str:
        name = "ℓ′" if self.order == 1 else "ℓ″"
        gaps = " → ".join(f"{g:.2g}" for g in self.gaps)
        if self.continuous:
            return f"{name} continuous (largest neighbour gap {gaps} as the step shrinks 1e-2 → 1e-4)"
        return f"{name} jumps by {self.jump:.3g} at {var} = {self.at:+.3g} (gap {gaps}, not shrinking)"


def _grid(lo: float, hi: float, h: float) -> torch.Tensor:
    """Points from lo to hi with step h; through 0 exactly when 0 is inside, so a kink at 0 is a grid point."""
    if lo < 0 < hi:
        return torch.arange(math.ceil(lo / h), math.floor(hi / h) + 1, dtype=torch.float64) * h
    return lo + h * torch.arange(round((hi - lo) / h) + 1, dtype=torch.float64)


def continuity(spec: LossSpec, order: int, lo: float | None = None, hi: float | None = None) -> Continuity:
    """Test whether the ``order``-th derivative (1 or 2) of a regression loss jumps on [lo, hi]."""
    if not of_residual(spec):
        raise ValueError(f"the jump test is for regression losses (of the residual); {spec.label} is {spec.task}")
    if lo is None or hi is None:
        lo, hi = default_range(spec)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"the jump test needs a finite interval lo < hi, got [{lo}, {hi}]")
    stretch = max(1.0, (hi - lo) / 8.0)  # [-4, 4] uses the steps as they are
    steps = [h * stretch for h in STEPS]
    gaps = []
    mid = 0.0
    for h in steps:
        x = _grid(lo, hi, h)
        f = curves(spec, x)[order]
        diff = (f[1:] - f[:-1]).abs()
        i = int(diff.nan_to_num(nan=-1.0).argmax())  # a NaN gap (a loss undefined somewhere) is no jump
        gaps.append(float(diff[i]))
        mid = float(x[i] + x[i + 1]) / 2
    h = steps[-1]
    f = curves(spec, torch.tensor([mid - h, mid + h], dtype=torch.float64))[order]
    continuous = gaps[-1] < 0.5 * gaps[0] or gaps[-1] < 1e-6
    return Continuity(order, continuous, tuple(gaps), round(mid, 3) + 0.0, float((f[1] - f[0]).abs()))
