"""The one reduction of losskit.

Every loss computes ``values``, its per-element (regression) or per-position
(classification) loss already multiplied by any element or class weight, and
optionally ``denom``, the weight each position contributes to the
denominator (the class weight of its target, 0 where the target is ignored).
This module turns them into the requested reduction with a single rule:

.. math::

    \\text{mean} = \\frac{\\sum_i s_i \\sum_j w_{ij} \\ell_{ij}}{\\sum_i s_i \\sum_j w_{ij}}

where ``s`` is the optional per-sample weight and ``w`` the element or class
weight (1 where none is given). A mean over zero total weight (an empty
batch, every target ignored, every weight 0) is ``0`` with zero gradients,
never NaN. ``num_items`` replaces the denominator, for exact means across
gradient accumulation and distributed ranks (see :mod:`losskit.distributed`).

The zero-items rule covers every way to reach a zero denominator: a
``sample_weight`` or ``weight`` summing to 0, and ``num_items=0``, give 0
with zero gradients as well. ``sample_weight`` must be finite and >= 0
(a value check, like ``weight``); ``num_items`` must be a finite count >= 0
(refused on sight for a number, as a value check for a tensor).

The fused paths (:mod:`losskit.functional.fused`) reduce with the same rule
through :func:`scalar_denominator` and :func:`divide_or_zero`.
"""

from __future__ import annotations

import math

import torch

from . import _validate as V
from ._types import Validate
from ._validate import check_reduction, check_sample_weight

__all__ = ["divide_or_zero", "reduce_loss", "scalar_denominator"]


def _safe_divide(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """num / den, and 0 (with zero gradient) where den == 0."""
    nonzero = den != 0
    return torch.where(nonzero, num / torch.where(nonzero, den, torch.ones_like(den)), torch.zeros_like(num))


def divide_or_zero(num: float, den: float) -> float:
    """The zero-items rule on Python floats: ``num / den``, and 0 where ``den == 0``."""
    return num / den if den != 0 else 0.0


def scalar_denominator(num_items: object, count: int, *, validate: Validate = None) -> float | None:
    """The mean's denominator as a Python float, for the fused paths; None where it must stay a tensor.

    ``count`` is the number of items when ``num_items`` is None. A number is
    checked (:func:`losskit._validate.check_num_items`) and returned. A tensor is
    read only where the sync policy allows a host read of it (a CPU tensor by
    default) and it needs no gradient; otherwise None, and the caller takes the
    tensor path of :func:`reduce_loss`.
    """
    if num_items is None:
        return float(count)
    V.check_num_items(num_items)
    if not isinstance(num_items, torch.Tensor):
        return float(num_items)  # type: ignore[arg-type]
    if num_items.requires_grad or not V.host_read_allowed(num_items) or type(num_items) is not torch.Tensor:
        return None
    if V.resolve(validate):
        V.check_num_items_value(num_items)
    return float(num_items.item())


def reduce_loss(
    values: torch.Tensor,
    reduction: str,
    *,
    denom: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    num_items: int | float | torch.Tensor | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Reduce weighted per-position losses.

    Args:
      values: weighted losses, batch along dim 0 (or a 0-d tensor).
      reduction: ``"mean"``, ``"sum"``, ``"none"`` or ``"per_sample"``.
      denom: per-position weights for the mean's denominator, shaped like
        ``values``; ``None`` counts every position once.
      sample_weight: optional per-sample weights, shape ``(N,)``.
      num_items: optional denominator of ``"mean"`` replacing the local total weight.
      validate: value checks of ``sample_weight`` and a tensor ``num_items``
        (``None``: the global switch, as for the losses).

    Returns:
      ``values`` for ``"none"``; shape ``(N,)`` for ``"per_sample"`` (each
      sample's weighted mean over its positions, times its sample weight);
      a 0-d tensor otherwise.
    """
    check_reduction(reduction)
    if num_items is not None:
        V.check_num_items(num_items)
    if sample_weight is not None:
        V.check_batch_dim(values, "sample_weight needs a batched input (batch along dim 0)")
        check_sample_weight(sample_weight, values.shape[0])
    if (sample_weight is not None or isinstance(num_items, torch.Tensor)) and V.resolve(validate):
        V.check_weight_values(sample_weight, "sample_weight")
        if isinstance(num_items, torch.Tensor) and reduction == "mean":
            V.check_num_items_value(num_items)
    if sample_weight is not None:
        sample_weight = sample_weight.to(values.dtype)
        # keep s broadcastable against (N, ...)
        s = sample_weight.reshape((-1,) + (1,) * (values.dim() - 1))
    else:
        s = None

    if reduction == "none":
        return values if s is None else values * s

    if reduction == "per_sample":
        V.check_batch_dim(
            values, "reduction='per_sample' needs a batched input (batch along dim 0)",
            "; use reduction='none' or unsqueeze(0)",
        )
        # explicit row length, not -1: reshape(0, -1) is ambiguous for an empty batch
        rows = (values.shape[0], math.prod(values.shape[1:]))
        num = values.reshape(rows).sum(1)
        if denom is None:
            den = torch.full_like(num, float(rows[1]))
        else:
            den = denom.to(values.dtype).reshape(rows).sum(1)
        out = _safe_divide(num, den)
        return out if sample_weight is None else out * sample_weight

    weighted = values if s is None else values * s
    total = weighted.sum()
    if reduction == "sum":
        return total

    # mean
    if num_items is not None:
        den_t = torch.as_tensor(num_items, dtype=total.dtype, device=total.device).reshape(())
    elif denom is None and s is None:
        n = values.numel()
        return total / n if n else total * 0.0  # an empty sum is 0: 0 with a zero gradient
    else:
        d = torch.ones_like(values) if denom is None else denom.to(values.dtype)
        den_t = (d if s is None else d * s).sum()
    if V.can_read_on_host(den_t):  # one 0-d read instead of five device ops
        return total / den_t if den_t.item() != 0 else _safe_divide(total, den_t)
    return _safe_divide(total, den_t)
