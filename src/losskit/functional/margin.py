"""Margin losses: torch's ranking, hinge and multi-class margin losses, and the binary / Crammer–Singer hinge.

The torch-named functions take torch's parameters in torch's order and give
torch's values, with losskit's reductions (``"per_sample"`` too),
``sample_weight``, ``num_items`` and ``validate`` keyword-only after them;
``size_average`` / ``reduce`` are deprecated and warn as in torch. Deliberate
differences from torch: a mean over zero items is 0 (torch: NaN); shapes
never broadcast (torch's ``margin_ranking_loss`` broadcasts ``(N, 1)``
against ``(N,)``); labels outside {-1, 1} are refused while validation is on
(torch gives them a value of its own); ``soft_margin_loss`` is computed as a
softplus, so it stays finite where torch's ``log1p(exp(·))`` overflows to inf.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import _validate as V
from .._reduce import reduce_loss
from .._types import Validate
from ._prep import Number, compute_dtype

__all__ = [
    "hinge_embedding_loss",
    "hinge_loss",
    "margin_ranking_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "soft_margin_loss",
    "squared_hinge_loss",
]


def _signed_pair(
    input: torch.Tensor, target: torch.Tensor, validate: Validate, *, input_name: str = "input"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check scores against same-shaped labels in {-1, 1}; return them in the compute dtype."""
    V.check_float(input, input_name)
    V.check_tensor(target, "target")
    V.check_same_shape(input, target, input_name=input_name)
    if V.resolve(validate):
        V.check_finite(input, input_name)
        V.check_signed_target(target)
    dtype = compute_dtype(input) if not target.is_floating_point() else compute_dtype(input, target)
    return input.to(dtype), target.to(dtype)


def _class_scores(
    input: torch.Tensor, target: torch.Tensor, validate: Validate
) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """(N, C, d1, ...) or unbatched (C,) scores with class-index targets; returns (scores, index, unbatched)."""
    V.check_float(input, "input")
    V.check_tensor(target, "target")
    if input.dim() == 0:
        raise V.LossInputError("input is 0-d; a multi-class margin loss needs scores of shape (N, C) or (C,).")
    unbatched = input.dim() == 1
    if unbatched:
        input, target = input.unsqueeze(0), target.reshape(1)
    if target.is_floating_point() or target.shape != input.shape[:1] + input.shape[2:]:
        raise V.LossInputError(
            f"target has shape {tuple(target.shape)} and dtype {target.dtype}, but input has shape "
            f"{tuple(input.shape)} (classes along dim 1), so target must be class indices of shape "
            f"{tuple(input.shape[:1] + input.shape[2:])}."
        )
    if V.resolve(validate):
        V.check_finite(input, "input")
        V.check_class_indices(target, input.shape[1], None)
    return input.to(compute_dtype(input)), target.long(), unbatched


def _is_class(index: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Boolean one-hot along a new dim 1 (no value checks, unlike F.one_hot, so it works under vmap)."""
    classes = torch.arange(num_classes, device=index.device).reshape((1, -1) + (1,) * (index.dim() - 1))
    return index.unsqueeze(1) == classes


def _reduce(
    values: torch.Tensor,
    reduction: str,
    sample_weight: torch.Tensor | None,
    num_items: Number | None,
    unbatched: bool = False,
) -> torch.Tensor:
    out = reduce_loss(values, reduction, sample_weight=sample_weight, num_items=num_items)
    return out.squeeze(0) if unbatched and reduction == "none" else out


# ------------------------------------------------------------------ torch's margin losses


def margin_ranking_loss(
    input1: torch.Tensor,
    input2: torch.Tensor,
    target: torch.Tensor,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Pairwise ranking hinge: ``input1`` should score above ``input2`` where ``target`` is 1 (torch's).

    .. math::

        \\ell = \\max\\big(0,\\; -y\\,(x_1 - x_2) + \\text{margin}\\big), \\qquad y \\in \\{-1, 1\\}

    References:
      Herbrich, Graepel & Obermayer, *Large Margin Rank Boundaries for Ordinal
      Regression*, 2000; torch's ``MarginRankingLoss``.
    """
    reduction = V.check_reduction(V.legacy_reduction(size_average, reduce, reduction))
    margin = V.check_number(margin, "margin")
    V.check_float(input2, "input2")
    V.check_same_shape(input1, input2, input_name="input1", target_name="input2")
    x1, y = _signed_pair(input1, target, validate, input_name="input1")
    if V.resolve(validate):
        V.check_finite(input2, "input2")
    values = (-y * (x1 - input2.to(x1.dtype)) + margin).clamp_min(0)
    return _reduce(values, reduction, sample_weight, num_items)


def hinge_embedding_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    margin: float = 1.0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Hinge embedding loss on distances: small for similar pairs (y = 1), beyond ``margin`` for others (torch's).

    .. math::

        \\ell = \\begin{cases} x & y = 1 \\\\ \\max(0, \\text{margin} - x) & y = -1 \\end{cases}

    ``input`` is typically a distance, e.g. :math:`\\lVert a - b \\rVert_1`.

    References:
      Hadsell, Chopra & LeCun, *Dimensionality Reduction by Learning an
      Invariant Mapping*, CVPR 2006; torch's ``HingeEmbeddingLoss``.
    """
    reduction = V.check_reduction(V.legacy_reduction(size_average, reduce, reduction))
    margin = V.check_number(margin, "margin")
    x, y = _signed_pair(input, target, validate)
    zeros = torch.zeros_like(x)
    # torch's exact form: labels other than +-1 (reachable with validate=False) get both terms
    values = torch.where(y != 1, (margin - x).clamp_min(0), zeros) + torch.where(y != -1, x, zeros)
    return _reduce(values, reduction, sample_weight, num_items)


def soft_margin_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Two-class logistic loss with labels in {-1, 1} (torch's ``soft_margin_loss``).

    .. math::

        \\ell = \\log(1 + e^{-y x}) = \\operatorname{softplus}(-y x)

    Computed as a softplus: finite (about :math:`|x|`) at scores of ±1e4, where
    torch's ``log1p(exp(-y x))`` is inf.

    References:
      torch's ``SoftMarginLoss``; Cox, *The Regression Analysis of Binary Sequences*, 1958.
    """
    reduction = V.check_reduction(V.legacy_reduction(size_average, reduce, reduction))
    x, y = _signed_pair(input, target, validate)
    return _reduce(F.softplus(-y * x), reduction, sample_weight, num_items)


def multi_margin_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    p: int = 1,
    margin: float = 1.0,
    weight: torch.Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Multi-class hinge of Weston & Watkins (torch's ``multi_margin_loss``), summed over the wrong classes.

    .. math::

        \\ell = \\frac{1}{C} \\sum_{i \\ne y} w_y \\max(0, \\text{margin} - x_y + x_i)^p, \\qquad p \\in \\{1, 2\\}

    Input (N, C) or unbatched (C,), as in torch, and also (N, C, d1, ...) with
    targets (N, d1, ...). The class weight multiplies the value and the mean
    divides by the number of positions, not by :math:`\\sum w_y` (torch's rule
    for this loss).

    References:
      Weston & Watkins, *Support Vector Machines for Multi-Class Pattern
      Recognition*, ESANN 1999; torch's ``MultiMarginLoss``.
    """
    reduction = V.check_reduction(V.legacy_reduction(size_average, reduce, reduction))
    if p not in (1, 2):
        raise V.LossInputError(f"p={p!r} is not supported; multi_margin_loss takes p=1 or p=2, as torch.")
    x, index, unbatched = _class_scores(input, target, validate)
    num_classes = x.shape[1]
    V.check_class_weight(weight, num_classes)
    if weight is not None and V.resolve(validate):
        V.check_weight_values(weight)
    x_y = x.gather(1, index.unsqueeze(1))
    hinge = (margin - x_y + x).clamp_min(0)
    if p == 2:
        hinge = hinge * hinge
    wrong = ~_is_class(index, num_classes)
    values = torch.where(wrong, hinge, torch.zeros_like(hinge)).sum(1) / num_classes
    if weight is not None:
        values = values * weight.to(x.dtype)[index]
    return _reduce(values, reduction, sample_weight, num_items, unbatched)


def multilabel_margin_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Multi-label hinge: every target class should outscore every other class by 1 (torch's).

    .. math::

        \\ell = \\frac{1}{C} \\sum_{j \\in Y} \\sum_{i \\notin Y} \\max\\big(0, 1 - (x_j - x_i)\\big)

    ``target`` is torch's format: integer class indices shaped like ``input``
    ((N, C) or (C,)), the positive classes first and the row ended by -1
    (later entries are ignored). ``"none"`` gives one value per sample.

    References:
      torch's ``MultiLabelMarginLoss``; Crammer & Singer, *A New Family of Online
      Algorithms for Category Ranking*, JMLR 2003.
    """
    reduction = V.check_reduction(V.legacy_reduction(size_average, reduce, reduction))
    V.check_float(input, "input")
    V.check_multilabel_indices(target, input)
    unbatched = input.dim() == 1
    if unbatched:
        input, target = input.unsqueeze(0), target.unsqueeze(0)
    V.check_batched(input, "input", (2,), "scores of shape (N, C) or (C,)")
    num_classes = input.shape[1]
    if V.resolve(validate):
        V.check_finite(input, "input")
        V.check_multilabel_index_values(target, num_classes)
    x = input.to(compute_dtype(input))
    listed = torch.cumprod((target != -1).long(), dim=1).bool()  # entries before the first -1
    index = torch.where(listed, target, torch.zeros_like(target)).long()
    is_target = (_is_class(index, num_classes) & listed.unsqueeze(1)).any(2)  # (N, C): class c is listed
    x_j = x.gather(1, index)  # score of the k-th listed target, (N, K)
    hinge = (1 - x_j.unsqueeze(2) + x.unsqueeze(1)).clamp_min(0)  # (N, K, C)
    keep = listed.unsqueeze(2) & ~is_target.unsqueeze(1)
    values = torch.where(keep, hinge, torch.zeros_like(hinge)).sum((1, 2)) / num_classes
    return _reduce(values, reduction, sample_weight, num_items, unbatched)


def multilabel_soft_margin_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Multi-label one-vs-all logistic loss, averaged over the classes (torch's ``multilabel_soft_margin_loss``).

    .. math::

        \\ell = -\\frac{1}{C} \\sum_c w_c \\big[y_c \\log\\sigma(x_c) + (1 - y_c)\\log\\sigma(-x_c)\\big]

    Targets in [0, 1] shaped like ``input`` (N, C, ...); ``"none"`` gives one
    value per sample (and position). ``weight`` (C,) multiplies the value, as in torch.

    References:
      torch's ``MultiLabelSoftMarginLoss``.
    """
    reduction = V.check_reduction(V.legacy_reduction(size_average, reduce, reduction))
    V.check_float(input, "input")
    V.check_float(target, "target")
    V.check_same_shape(input, target)
    V.check_batched(input, "input", range(2, 64), "scores of shape (N, C, ...) with classes along dim 1")
    num_classes = input.shape[1]
    if weight is not None:
        V.check_float(weight, "weight")
        V.check_broadcast_param(weight, "weight", input)
    if V.resolve(validate):
        V.check_finite(input, "input")
        V.check_finite(target, "target")
        V.check_unit_interval(target, "target")
        V.check_weight_values(weight)
    dtype = compute_dtype(input, target)
    x, y = input.to(dtype), target.to(dtype)
    per_class = y * F.softplus(-x) + (1 - y) * F.softplus(x)
    if weight is not None:
        per_class = per_class * weight.to(dtype)
    return _reduce(per_class.sum(1) / num_classes, reduction, sample_weight, num_items)


# ------------------------------------------------------------------ hinge: binary and Crammer–Singer


def _hinge_margins(
    input: torch.Tensor, target: torch.Tensor, validate: Validate
) -> tuple[torch.Tensor, bool]:
    """The margins 1 - y x (binary, labels in {-1, 1}) or 1 + max_{j != y} x_j - x_y (class indices),
    and whether the input was unbatched."""
    V.check_tensor(target, "target")
    if target.is_floating_point():
        x, y = _signed_pair(input, target, validate)
        return 1 - y * x, False
    x, index, unbatched = _class_scores(input, target, validate)
    x_y = x.gather(1, index.unsqueeze(1)).squeeze(1)
    wrong = ~_is_class(index, x.shape[1])
    others = torch.where(wrong, x, torch.full_like(x, -torch.inf)).amax(1)  # -inf with one class: no loss
    return 1 + others - x_y, unbatched


def hinge_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "mean",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Hinge loss: binary with labels in {-1, 1}, or multi-class (Crammer–Singer) with class indices.

    .. math::

        \\ell = \\max(0, 1 - y x) \\quad\\text{or}\\quad
        \\ell = \\max\\big(0,\\; 1 + \\max_{j \\ne y} x_j - x_y\\big)

    A float ``target`` shaped like ``input`` is binary (Keras's ``Hinge``: convert
    0/1 labels with ``2 * y - 1``); an integer ``target`` of class indices with
    ``input`` (N, C, ...) is Crammer–Singer, optax's ``multiclass_hinge_loss``.
    Keras's ``CategoricalHinge`` differs: its ``max((1 - y) x)`` counts the true
    class as a 0, so it equals this only where some wrong class scores >= 0.

    References:
      Cortes & Vapnik, *Support-Vector Networks*, 1995; Crammer & Singer, *On the
      Algorithmic Implementation of Multiclass Kernel-based Vector Machines*, JMLR 2001.
    """
    V.check_reduction(reduction)
    margins, unbatched = _hinge_margins(input, target, validate)
    return _reduce(margins.clamp_min(0), reduction, sample_weight, num_items, unbatched)


def squared_hinge_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "mean",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Squared hinge: :func:`hinge_loss` squared, differentiable at the margin (Keras's ``SquaredHinge``).

    .. math::

        \\ell = \\max(0, 1 - y x)^2 \\quad\\text{or}\\quad
        \\ell = \\max\\big(0,\\; 1 + \\max_{j \\ne y} x_j - x_y\\big)^2

    References:
      Lee & Mangasarian, *SSVM: A Smooth Support Vector Machine*, 2001; Crammer & Singer, JMLR 2001.
    """
    V.check_reduction(reduction)
    margins, unbatched = _hinge_margins(input, target, validate)
    return _reduce(margins.clamp_min(0) ** 2, reduction, sample_weight, num_items, unbatched)
