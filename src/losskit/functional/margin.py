"""Margin losses: torch's ranking, hinge and multi-class margin losses, and the binary / Crammer–Singer hinge.

The torch-named functions take torch's parameters in torch's order, the
shapes torch takes (0-d and unbatched inputs, and the broadcasts torch
performs where they keep the number of loss terms) and give torch's values
and output shapes, with losskit's reductions (``"per_sample"`` too),
``sample_weight``, ``num_items`` and ``validate`` keyword-only after them;
``size_average`` / ``reduce`` are deprecated and warn as in torch.

Value checks (see :mod:`losskit._validate`): at the default level a call is
refused only where torch cannot compute it or where the result is non-finite
(the NaN or inf argument is then named; the check rides on the result, so a
clean call makes no pass over its inputs). Labels outside {-1, 1}, negative
class weights and multi-label targets outside [0, 1] are computed by torch's
formula, as torch does; ``validate="strict"`` refuses them.

Deliberate differences from torch: a mean over zero items is 0 (torch: NaN);
a broadcast that changes the number of loss terms is refused (``(N, 1)``
against ``(N,)``, which torch turns into N² terms); ``soft_margin_loss`` is
computed as a softplus, so it stays finite where torch's ``log1p(exp(·))``
overflows to inf. Beyond torch: ``multi_margin_loss`` also takes
(N, C, d1, ...) scores with (N, d1, ...) targets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import cast

import torch
import torch.nn.functional as F

from .. import _validate as V
from .._reduce import reduce_loss
from .._types import Validate
from ._prep import _REAL_TYPES, Number, TorchCall, compute_dtype, torch_op_loss

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


def _multi_margin_device_checks(args: tuple[object, ...]) -> None:
    input, target, weight = cast(torch.Tensor, args[0]), cast(torch.Tensor, args[1]), args[4]
    V.check_class_indices(target, input.shape[1], None)  # before torch's kernel, so losskit's message fires
    V.check_finite(input, "input")
    if weight is not None:
        V.check_finite(cast(torch.Tensor, weight), "weight")


def _multilabel_margin_device_checks(args: tuple[object, ...]) -> None:
    input, target = cast(torch.Tensor, args[0]), cast(torch.Tensor, args[1])
    V.check_multilabel_index_values(target, input.shape[1])  # before torch's kernel
    V.check_finite(input, "input")


def _strict(mode: int, validate: Validate) -> bool:
    """Whether the strict-level checks run (value checks on, at the strict level)."""
    return bool(mode) and V.strict_level(validate)


def _labels(input: torch.Tensor, target: torch.Tensor, *others: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``input``, ``others`` and ``target`` in the compute dtype (an integer target takes the inputs')."""
    floats = (input, *others, target) if target.is_floating_point() else (input, *others)
    dtype = compute_dtype(*floats)
    return (input.to(dtype), *(t.to(dtype) for t in others), target.to(dtype))


def _class_scores(
    input: torch.Tensor, target: torch.Tensor, validate: Validate, *, torch_shapes: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, C, d1, ...) or unbatched (C,) scores (0-d too with ``torch_shapes``) with class-index targets;
    returns the scores as (N, C, ...) in the compute dtype and the index as (N, ...) int64."""
    V.check_float(input, "input")
    V.check_multi_margin_target(input, target, torch_shapes=torch_shapes)
    scores = input.reshape(1, -1) if input.dim() <= 1 else input
    index = target.reshape(scores.shape[:1] + scores.shape[2:]).long()
    if V.resolve(validate):  # torch refuses an index out of range too
        V.check_class_indices(index, scores.shape[1], None)
    return scores.to(compute_dtype(input)), index


def _is_class(index: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Boolean one-hot along a new dim 1 (no value checks, unlike F.one_hot, so it works under vmap)."""
    classes = torch.arange(num_classes, device=index.device).reshape((1, -1) + (1,) * (index.dim() - 1))
    return index.unsqueeze(1) == classes


def _violation(z: torch.Tensor) -> torch.Tensor:
    """``max(0, z)`` as torch's multi-class margin kernels take it (``if z > 0``): the gradient at z = 0 is 0
    (``clamp_min``'s is 1), and a NaN propagates (torch's kernels drop it; the value check then names it)."""
    return torch.where(z <= 0, 0.0, z)


def _reduce(
    values: torch.Tensor,
    reduction: str,
    sample_weight: torch.Tensor | None,
    num_items: Number | None,
    mode: int,
    inputs: tuple[V.NamedInput, ...],
    none_shape: torch.Size | None = None,
) -> torch.Tensor:
    """Reduce, with the finiteness checks riding on the result (:func:`losskit._validate.check_result`);
    ``none_shape``: the shape of ``"none"``'s result where torch's differs from ``values``'.

    With ``sample_weight`` or ``num_items`` (losskit's options) the check rides on the unreduced values
    instead: a zero weight or ``num_items=0`` would turn a NaN term into the zero-items mean of 0.
    """
    if sample_weight is not None or num_items is not None:
        V.check_result(values, mode, inputs)
    out = reduce_loss(values, reduction, sample_weight=sample_weight, num_items=num_items)
    if none_shape is not None and reduction == "none":
        out = out.reshape(none_shape)
    return out if sample_weight is not None or num_items is not None else V.check_result(out, mode, inputs)


# ------------------------------------------------------------------ torch's margin losses

# torch's C bindings take the reduction as its enum value, which their stubs spell as str
_multilabel_margin = cast(
    "Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]", torch._C._nn.multilabel_margin_loss
)
_multi_margin = cast(
    "Callable[[torch.Tensor, torch.Tensor, int, float, torch.Tensor | None, int], torch.Tensor]",
    torch._C._nn.multi_margin_loss,
)
_bce_logits = cast(
    "Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None, int], torch.Tensor]",
    torch.binary_cross_entropy_with_logits,
)


def _softplus_margin(input: torch.Tensor, target: torch.Tensor, red: int) -> torch.Tensor:
    """The soft margin loss softplus(-y x) as :func:`soft_margin_loss` computes it, reduced by torch's enum."""
    values = F.softplus(-target * input)
    return values if red == 0 else (values.mean() if red == 1 else values.sum())


def _multilabel_soft_margin(
    input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None, red: int
) -> torch.Tensor:
    """torch's multilabel soft margin in one fused op: the class mean of the per-class logistic loss is
    binary cross-entropy with logits (weighted by ``weight`` along the classes), whose mean over every
    element is the mean over the positions of their class means."""
    if red == 1:
        return _bce_logits(input, target, weight, None, 1)
    if red == 2:
        return _bce_logits(input, target, weight, None, 2) / input.shape[-1]
    return _bce_logits(input, target, weight, None, 0).sum(-1) / input.shape[-1]


# how each loss calls torch's op (see torch_op_loss); margin labels and weight signs are strict-level checks.
# torch's multi-class margin kernels' ``if z > 0`` drops a NaN score (and a NaN class weight where no class
# violates): drops_nan reads them first, and a non-finite one takes the composed path, which names it
_MARGIN_RANKING = TorchCall(torch.margin_ranking_loss, (("input1", 0), ("input2", 1), ("target", 2)), same=3,
                          strict_checks=True)
_HINGE_EMBEDDING = TorchCall(torch.hinge_embedding_loss, (("input", 0),), same=2, strict_checks=True)
# torch's log1p(exp(-y x)) overflows where the softplus(-y x) is finite, so its result must be read, even with
# validate=False (overflows). Where no read is made (validate=False, or "none", 0.82-0.93x torch's op), the
# softplus; where the riding check reads a reduced result anyway, torch's op (one kernel and one backward node
# against four: 1.09x torch at 64 elements against the softplus's 1.12-1.15x, forward + backward, in-process
# A/B over 120 interleaved rounds). Its inf, or an accelerator (no host read), falls back to the softplus.
_SOFT_MARGIN = TorchCall(_softplus_margin, (("input", 0), ("target", 1)), same=2, strict_checks=True)
_SOFT_MARGIN_TORCH = dataclasses.replace(
    _SOFT_MARGIN, op=cast("Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]", torch._C._nn.soft_margin_loss),
    overflows=True,
)
_MULTI_MARGIN = TorchCall(_multi_margin, (("input", 0), ("weight", 4)), others=(4,), drops_nan=True,
                        device_checks=_multi_margin_device_checks)
_MULTI_MARGIN_WEIGHTED = dataclasses.replace(_MULTI_MARGIN, strict_checks=True)
_MULTILABEL_MARGIN = TorchCall(_multilabel_margin, (("input", 0),), drops_nan=True,
                             device_checks=_multilabel_margin_device_checks)
_MULTILABEL_SOFT_MARGIN = TorchCall(_multilabel_soft_margin, (("input", 0), ("target", 1), ("weight", 2)), same=2,
                                  others=(2,), strict_checks=True)


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

    The three tensors broadcast as in torch where every one broadcasts to the
    largest's shape (e.g. a 0-d or ``(N, 1)`` target for ``(N, K)`` scores);
    a broadcast that grows every tensor (``(N, 1)`` against ``(N,)``) is
    refused. torch's formula takes any label ``y``; ``validate="strict"``
    refuses labels other than -1 and 1.

    References:
      Herbrich, Graepel & Obermayer, *Large Margin Rank Boundaries for Ordinal
      Regression*, 2000; torch's ``MarginRankingLoss``.
    """
    if sample_weight is None and num_items is None and size_average is None and reduce is None and (
        type(margin) in _REAL_TYPES
    ):
        out = torch_op_loss(_MARGIN_RANKING, (input1, input2, target, margin), reduction, validate)
        if out is not None:
            return out
    reduction = V.check_reduction(V.legacy_reduction(size_average, reduce, reduction))
    margin = V.check_number(margin, "margin")
    V.check_float(input1, "input1")
    V.check_float(input2, "input2")
    V.check_tensor(target, "target")
    V.check_broadcast_terms(("input1", input1), ("input2", input2), ("target", target))
    mode = V.value_mode(validate, input1)
    if _strict(mode, validate):
        V.check_signed_target(target, note=V.STRICT_NOTE)
    x1, x2, y = _labels(input1, target, input2)
    values = (-y * (x1 - x2) + margin).clamp_min(0)
    inputs = (("input1", input1), ("input2", input2), ("target", target))
    return _reduce(values, reduction, sample_weight, num_items, mode, inputs)


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
    ``input`` and ``target`` broadcast as in torch where one broadcasts to the
    other's shape. torch's formula gives a label other than -1 and 1 both
    terms; ``validate="strict"`` refuses such labels.

    References:
      Hadsell, Chopra & LeCun, *Dimensionality Reduction by Learning an
      Invariant Mapping*, CVPR 2006; torch's ``HingeEmbeddingLoss``.
    """
    if sample_weight is None and num_items is None and size_average is None and reduce is None and (
        type(margin) in _REAL_TYPES
    ):
        # a NaN label only selects a term: it never reaches the value
        out = torch_op_loss(_HINGE_EMBEDDING, (input, target, margin), reduction, validate)
        if out is not None:
            return out
    reduction = V.check_reduction(V.legacy_reduction(size_average, reduce, reduction))
    margin = V.check_number(margin, "margin")
    V.check_float(input, "input")
    V.check_tensor(target, "target")
    V.check_broadcast_terms(("input", input), ("target", target))
    mode = V.value_mode(validate, input)
    if _strict(mode, validate):
        V.check_signed_target(target, note=V.STRICT_NOTE)
    x, y = _labels(input, target)
    zeros = torch.zeros_like(x)
    # torch's exact form: a label other than +-1 gets both terms
    values = torch.where(y != 1, (margin - x).clamp_min(0), zeros) + torch.where(y != -1, x, zeros)
    # a NaN label only selects a term: it never reaches the value (torch's too)
    return _reduce(values, reduction, sample_weight, num_items, mode, (("input", input),))


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
    torch's ``log1p(exp(-y x))`` is inf. ``target`` may broadcast to
    ``input``'s shape, as in torch; torch's formula takes any label,
    ``validate="strict"`` refuses labels other than -1 and 1.

    References:
      torch's ``SoftMarginLoss``; Cox, *The Regression Analysis of Binary Sequences*, 1958.
    """
    if sample_weight is None and num_items is None and size_average is None and reduce is None:
        spec = _SOFT_MARGIN if validate is False or reduction == "none" else _SOFT_MARGIN_TORCH
        out = torch_op_loss(spec, (input, target), reduction, validate)
        if out is None and spec is _SOFT_MARGIN_TORCH:  # an overflow, or an accelerator: the softplus
            out = torch_op_loss(_SOFT_MARGIN, (input, target), reduction, validate)
        if out is not None:
            return out
    reduction = V.check_reduction(V.legacy_reduction(size_average, reduce, reduction))
    V.check_float(input, "input")
    V.check_tensor(target, "target")
    V.check_target_broadcast(input, target)
    mode = V.value_mode(validate, input)
    if _strict(mode, validate):
        V.check_signed_target(target, note=V.STRICT_NOTE)
    x, y = _labels(input, target)
    values = F.softplus(-y * x)
    return _reduce(values, reduction, sample_weight, num_items, mode, (("input", input), ("target", target)))


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

    Input (N, C), unbatched (C,) or a 0-d score (one class, loss 0), with
    targets as torch takes them ((N,), or 0-d or (1,) for one sample; the
    ``"none"`` result has the target's shape), and also (N, C, d1, ...) with
    targets (N, d1, ...). The class weight multiplies the value and the mean
    divides by the number of positions, not by :math:`\\sum w_y` (torch's rule
    for this loss). torch takes weights of either sign; ``validate="strict"``
    refuses negative ones. A NaN score gives a NaN loss (named by the value
    check); torch's kernel counts it as no violation.

    References:
      Weston & Watkins, *Support Vector Machines for Multi-Class Pattern
      Recognition*, ESANN 1999; torch's ``MultiMarginLoss``.
    """
    if (
        sample_weight is None and num_items is None and size_average is None and reduce is None
        and type(p) is int and (p == 1 or p == 2) and type(margin) in _REAL_TYPES
        and isinstance(input, torch.Tensor) and input.ndim == 2 and isinstance(target, torch.Tensor)
        and target.ndim == 1  # torch's kernel refuses the other shapes, and an index dtype other than int64
        and (weight is None or (isinstance(weight, torch.Tensor) and weight.ndim == 1 and not weight.requires_grad))
    ):  # (torch's op has no gradient for the weight)
        out = torch_op_loss(_MULTI_MARGIN if weight is None else _MULTI_MARGIN_WEIGHTED,
                            (input, target, p, margin, weight), reduction, validate)
        if out is not None:
            return out
    reduction = V.check_reduction(V.legacy_reduction(size_average, reduce, reduction))
    if p not in (1, 2):
        raise V.LossInputError(f"p={p!r} is not supported; multi_margin_loss takes p=1 or p=2, as torch.")
    margin = V.check_number(margin, "margin")
    x, index = _class_scores(input, target, validate, torch_shapes=True)
    num_classes = x.shape[1]
    V.check_class_weight(weight, num_classes)
    mode = V.value_mode(validate, input)
    if weight is not None and _strict(mode, validate):
        V.check_weight_values_once(weight, note=V.STRICT_NOTE)
    x_y = x.gather(1, index.unsqueeze(1))
    hinge = _violation(margin - x_y + x)
    if p == 2:
        hinge = hinge * hinge
    wrong = ~_is_class(index, num_classes)
    values = torch.where(wrong, hinge, torch.zeros_like(hinge)).sum(1) / num_classes
    if weight is not None:
        values = values * weight.to(x.dtype)[index]
    inputs = (("input", input), ("weight", weight))
    return _reduce(values, reduction, sample_weight, num_items, mode, inputs, target.shape)


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
    ((N, C), (C,), or for a 0-d input a 0-d or one-element target), the
    positive classes first and the row ended by -1 (later entries are
    ignored). ``"none"`` gives one value per sample (0-d when unbatched). A
    NaN score gives a NaN loss (named by the value check); torch's kernel
    counts it as no violation.

    References:
      torch's ``MultiLabelMarginLoss``; Crammer & Singer, *A New Family of Online
      Algorithms for Category Ranking*, JMLR 2003.
    """
    if (
        sample_weight is None and num_items is None and size_average is None and reduce is None
        and isinstance(input, torch.Tensor) and input.ndim == 2 and isinstance(target, torch.Tensor)
    ):  # torch's kernel refuses a target not shaped like input, or of a dtype other than int64
        out = torch_op_loss(_MULTILABEL_MARGIN, (input, target), reduction, validate)
        if out is not None:
            return out
    reduction = V.check_reduction(V.legacy_reduction(size_average, reduce, reduction))
    V.check_float(input, "input")
    V.check_multilabel_indices(target, input)
    unbatched = input.dim() <= 1
    if unbatched:
        input, target = input.reshape(1, -1), target.reshape(1, -1)
    num_classes = input.shape[1]
    mode = V.value_mode(validate, input)
    if mode:  # torch refuses an index out of range too
        V.check_multilabel_index_values(target, num_classes)
    x = input.to(compute_dtype(input))
    listed = torch.cumprod((target != -1).long(), dim=1).bool()  # entries before the first -1
    index = torch.where(listed, target, torch.zeros_like(target)).long()
    is_target = (_is_class(index, num_classes) & listed.unsqueeze(1)).any(2)  # (N, C): class c is listed
    x_j = x.gather(1, index)  # score of the k-th listed target, (N, K)
    hinge = _violation(1 - x_j.unsqueeze(2) + x.unsqueeze(1))  # (N, K, C)
    keep = listed.unsqueeze(2) & ~is_target.unsqueeze(1)
    values = torch.where(keep, hinge, torch.zeros_like(hinge)).sum((1, 2)) / num_classes
    none_shape = torch.Size() if unbatched else None
    return _reduce(values, reduction, sample_weight, num_items, mode, (("input", input),), none_shape)


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

    The classes lie along the last dim, as in torch: ``input`` (N, C), (C,)
    (unbatched: ``"none"`` gives a 0-d value) or (N, ..., C), with ``"none"``
    giving one value per sample (and position). ``target`` (floating or
    integer labels) and ``weight`` (e.g. (C,)) broadcast as in torch where
    they keep the number of loss terms; ``weight`` multiplies the value. torch's
    formula takes any target and weight; ``validate="strict"`` refuses targets
    outside [0, 1] and negative weights.

    References:
      torch's ``MultiLabelSoftMarginLoss``.
    """
    if sample_weight is None and num_items is None and size_average is None and reduce is None and (
        isinstance(input, torch.Tensor) and input.ndim
        and (weight is None or (
            isinstance(weight, torch.Tensor) and weight.shape == input.shape[-1:] and not weight.requires_grad
        ))  # torch's fused op has no gradient for the weight
    ):
        out = torch_op_loss(_MULTILABEL_SOFT_MARGIN, (input, target, weight), reduction, validate)
        if out is not None:
            return out
    reduction = V.check_reduction(V.legacy_reduction(size_average, reduce, reduction))
    V.check_float(input, "input")
    V.check_label_dtype(target)
    V.check_batched(input, "input", range(1, 64), "scores of shape (N, C), (C,) or (N, ..., C), the classes "
                    "along the last dim")
    shape = V.check_broadcast_terms(("input", input), ("target", target))
    V.check_target_dims(input, target, "along the last dim")
    V.check_broadcast_weight(weight, input if shape == input.shape else target)
    mode = V.value_mode(validate, input)
    if _strict(mode, validate):
        fix = "multi-label targets are probabilities or 0/1 labels."
        V.check_unit_interval(target, "target", fix=fix[:-1] + V.STRICT_NOTE + ".")
        V.check_weight_values_once(weight, note=V.STRICT_NOTE)
    x, y = _labels(input, target)
    per_class = y * F.softplus(-x) + (1 - y) * F.softplus(x)
    if weight is not None:
        per_class = per_class * weight.to(x.dtype)
    values = per_class.sum(-1) / input.shape[-1]
    inputs = (("input", input), ("target", target), ("weight", weight))
    return _reduce(values, reduction, sample_weight, num_items, mode, inputs)


# ------------------------------------------------------------------ hinge: binary and Crammer–Singer


def _hinge_margins(
    input: torch.Tensor, target: torch.Tensor, validate: Validate
) -> tuple[torch.Tensor, torch.Size | None]:
    """The margins 1 - y x (binary, labels in {-1, 1}) or 1 + max_{j != y} x_j - x_y (class indices),
    and the shape of ``"none"``'s result where it differs from the margins' (an unbatched input)."""
    V.check_tensor(target, "target")
    if target.is_floating_point():
        V.check_float(input, "input")
        V.check_same_shape(input, target)
        if V.resolve(validate):  # losskit's own loss: the labels' meaning is {-1, 1}
            V.check_signed_target(target)
        x, y = _labels(input, target)
        return 1 - y * x, None
    x, index = _class_scores(input, target, validate)
    x_y = x.gather(1, index.unsqueeze(1)).squeeze(1)
    wrong = ~_is_class(index, x.shape[1])
    others = torch.where(wrong, x, torch.full_like(x, -torch.inf)).amax(1)  # -inf with one class: no loss
    return 1 + others - x_y, (torch.Size() if input.dim() == 1 else None)


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
    margins, none_shape = _hinge_margins(input, target, validate)
    mode = V.value_mode(validate, input)
    return _reduce(margins.clamp_min(0), reduction, sample_weight, num_items, mode, (("input", input),), none_shape)


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
    margins, none_shape = _hinge_margins(input, target, validate)
    mode = V.value_mode(validate, input)
    values = margins.clamp_min(0) ** 2
    return _reduce(values, reduction, sample_weight, num_items, mode, (("input", input),), none_shape)
