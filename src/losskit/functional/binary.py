"""Binary and multi-label losses: binary cross-entropy (on probabilities or logits) and sigmoid focal loss.

``input`` and ``target`` have the same shape (any shape, batch along
dim 0); every element is one independent yes/no label. ``target`` holds
floats in [0, 1] (hard 0/1 labels or soft ones). As in torch,
:func:`binary_cross_entropy` takes probabilities and
:func:`binary_cross_entropy_with_logits` logits; ``input_kind`` says what
``input`` holds where a loss offers the choice:

* ``"logits"``: scores :math:`x`, with :math:`p = \\sigma(x)`. Computed in
  log space (``softplus``), exact and finite for :math:`|x|` up to the
  largest float.
* ``"probs"``: probabilities :math:`p`; each log is clamped at -100 in
  :func:`binary_cross_entropy`, as torch does, so a probability of exactly
  0 or 1 costs at most 100.
* ``"log_probs"``: :math:`\\log p`, e.g. from ``F.logsigmoid``.

``weight`` is elementwise and broadcasts to ``input``'s shape as in torch;
``"mean"`` is :math:`\\sum w\\ell / \\sum w` as everywhere in losskit (torch
divides by the number of elements instead). ``"per_sample"`` averages the
labels of each sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from math import isfinite
from typing import cast

import torch
import torch.nn.functional as F

from .. import _validate as V
from .._reduce import reduce_loss
from .._types import Validate
from .._validate import F32, F64, PLAIN_TENSORS
from ._prep import _FAST_DTYPES, _TORCH_REDUCTION, Number, compute_dtype

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "binary_focal_loss"]


def _log_both(input: torch.Tensor, input_kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(log p, log(1 - p)) without overflow, cancellation or log 0."""
    if input_kind == "logits":
        return F.logsigmoid(input), F.logsigmoid(-input)
    log_tiny = math.log(torch.finfo(input.dtype).tiny)
    if input_kind == "probs":
        pos = input > 0
        below = input < 1
        log_p = torch.where(pos, torch.log(torch.where(pos, input, torch.ones_like(input))), log_tiny)
        safe = torch.where(below, input, torch.zeros_like(input))
        log_q = torch.where(below, torch.log1p(-safe), log_tiny)
        return log_p.clamp_min(log_tiny), log_q.clamp_min(log_tiny)
    # log_probs: log(1 - e^l) = log(-expm1(l)) near 0, log1p(-e^l) far from it
    inner = input < 0
    safe = torch.where(inner, input, -torch.ones_like(input))
    near = safe > -math.log(2.0)
    log_q = torch.where(near, torch.log(-torch.expm1(safe)), torch.log1p(-torch.exp(safe)))
    log_q = torch.where(inner, log_q, log_tiny)
    return input.clamp_min(log_tiny), log_q.clamp_min(log_tiny)


def _prepare_binary(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    input_kind: str,
    weight: torch.Tensor | None,
    validate: Validate,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Check a multi-label pair; return (log p, log(1 - p), target, weight) in the compute dtype."""
    V.check_float(input, "input")
    V.check_float(target, "target")
    V.check_choice(input_kind, "input_kind", V.INPUT_KINDS)
    V.check_same_shape(input, target)
    V.check_elementwise_weight(weight, input)
    if V.resolve(validate):
        V.check_finite(input, "input", allow_neg_inf=input_kind == "log_probs")
        if input_kind != "logits":
            V.check_unit_interval(input, "input", log=input_kind == "log_probs")
        V.check_finite(target, "target")
        V.check_unit_interval(target, "target")
        V.check_weight_values(weight)
    dtype = compute_dtype(input, target)
    log_p, log_q = _log_both(input.to(dtype), input_kind)
    w = None if weight is None else weight.to(dtype)
    return log_p, log_q, target.to(dtype), w


# torch's binary_cross_entropy clamps each log at -100 (so a probability of exactly 0 or 1 costs 100)
_TORCH_LOG_FLOOR = -100.0
# torch's C binding takes the reduction as its enum value (_TORCH_REDUCTION), which its stub spells as str
_torch_bce = cast(
    "Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None, int], torch.Tensor]",
    torch._C._nn.binary_cross_entropy,
)


def _pos_weight_tensor(
    pos_weight: float | torch.Tensor, input: torch.Tensor, mode: int, strict: bool
) -> torch.Tensor:
    """``pos_weight`` as a tensor that broadcasts against ``input`` as in torch (from the right, so a
    (C,) pos_weight weighs the labels along the last dim), never enlarging the loss."""
    if not isinstance(pos_weight, torch.Tensor):
        value = V.check_interval(pos_weight, "pos_weight", 0.0, math.inf, high_open=True)
        checked = V.check_within_dtype_max(value, "pos_weight", input.dtype)
        return torch.tensor(checked, dtype=input.dtype, device=input.device)
    V.check_broadcast_weight(pos_weight, input, "pos_weight")
    if strict:
        V.check_weight_values_once(pos_weight, "pos_weight")
    if mode:  # a pos_weight beyond the input's dtype turns into inf, and inf * 0 into NaN
        V.check_within_dtype_max(pos_weight, "pos_weight", input.dtype)
    return pos_weight


def _torch_op(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None,
    pos_weight: torch.Tensor | None,
    red: int,
    input_kind: str,
) -> torch.Tensor:
    """torch's fused op for logits or probabilities (``pos_weight`` with logits only); torch's probability
    BCE takes only an input-shaped weight, so a broadcast one is expanded. Raises torch's RuntimeError
    (a probability outside [0, 1])."""
    if input_kind == "logits":
        return torch.binary_cross_entropy_with_logits(input, target, weight, pos_weight, red)
    return _torch_bce(input, target, None if weight is None else weight.expand_as(input), red)


def _same_kind(t: object, dtype: torch.dtype, shape: torch.Size) -> bool:
    """A tensor of ``dtype`` shaped like the input or like its last dim (torch's broadcast from the right)."""
    return isinstance(t, torch.Tensor) and t.dtype is dtype and (t.shape == shape or t.shape == shape[-1:])


def _plain_bce(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: object,
    reduction: object,
    pos_weight: object,
    input_kind: object,
    sample_weight: object,
    num_items: object,
    validate: Validate,
) -> torch.Tensor | None:
    """The most common calls, straight to torch's op with the check riding on its result, at the default
    level or with ``validate=False``: same-shaped float32/float64 ``input`` and ``target``, and a ``weight``
    (not with ``"mean"``: losskit's weighted mean divides by the weights' sum) or a logits ``pos_weight``
    that is a tensor of their dtype shaped like them or like their last dim (torch's broadcast, adding no
    loss terms). None hands the call to :func:`_bce` (the reference path, which names what is wrong).
    Metadata only: its Python cost per call is about a microsecond (benchmarks/bench_vs_torch.py)."""
    if (sample_weight is not None or num_items is not None or (input_kind != "logits" and input_kind != "probs")
            or type(input) not in PLAIN_TENSORS or type(target) not in PLAIN_TENSORS):
        return None
    dtype = input.dtype
    shape = input.shape
    if ((dtype is not F32 and dtype is not F64) or target.dtype is not dtype
            or target.shape != shape or not input.numel() or type(reduction) is not str):
        return None
    red = _TORCH_REDUCTION.get(reduction)
    if red is None or (weight is not None and (red == 1 or not _same_kind(weight, dtype, shape))) or (
        pos_weight is not None and (input_kind != "logits" or not _same_kind(pos_weight, dtype, shape))
    ):
        return None
    mode = V.fast_mode(validate, input)
    if mode < 0 or (mode and V.strict_level(validate)):
        return None
    try:
        out = _torch_op(input, target, weight, pos_weight, red, input_kind)  # type: ignore[arg-type]
    except RuntimeError:  # a probability outside [0, 1] or NaN: _bce names it
        return None
    # a non-finite result: _bce recomputes it and names the argument (or accepts a genuine overflow)
    return out if mode == V.OFF or (isfinite(out.item()) if red else V.finite_on_host(out)) else None


def _bce(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None,
    reduction: str,
    pos_weight: float | torch.Tensor | None,
    input_kind: str,
    sample_weight: torch.Tensor | None,
    num_items: Number | None,
    validate: Validate,
) -> torch.Tensor:
    """Binary cross-entropy for every input kind; torch's fused op where its meaning is losskit's."""
    out = _plain_bce(input, target, weight, reduction, pos_weight, input_kind, sample_weight, num_items, validate)
    if out is not None:
        return out
    V.check_float(input, "input")
    V.check_float(target, "target")
    V.check_choice(input_kind, "input_kind", V.INPUT_KINDS)
    V.check_same_shape(input, target)
    V.check_broadcast_weight(weight, input)
    red = _TORCH_REDUCTION.get(reduction)
    if red is None:
        V.check_reduction(reduction)
    mode = V.value_mode(validate, input)
    # torch's meaning takes any finite target and weight (torch's kernel refuses probabilities outside
    # [0, 1] itself); the strict level, and losskit's log-probability input, check the ranges up front
    strict = bool(mode) and V.strict_level(validate)
    if strict:
        V.check_unit_interval(target, "target")
        V.check_weight_values_once(weight)
    if mode and (strict or input_kind == "log_probs"):
        if input_kind != "logits":
            V.check_finite(input, "input", allow_neg_inf=input_kind == "log_probs")
            V.check_unit_interval(input, "input", log=input_kind == "log_probs")
    pw = None if pos_weight is None else _pos_weight_tensor(pos_weight, input, mode, strict)
    same = (
        input.dtype in _FAST_DTYPES
        and target.dtype == input.dtype
        and (weight is None or weight.dtype == input.dtype)
        and (pw is None or pw.dtype == input.dtype)
        and sample_weight is None
        and num_items is None
        and red is not None
    )
    fast = same and input_kind in ("logits", "probs") and (pw is None or input_kind == "logits")
    if fast and red is not None and (red != 1 or (weight is None and input.numel())):
        # torch's meaning is losskit's: unweighted, or weighted "sum"/"none" (no denominator)
        try:
            out = _torch_op(input, target, weight, pw, red, input_kind)
        except RuntimeError:  # torch refuses a probability outside [0, 1] (or NaN): name it as losskit does
            if input_kind == "probs":
                V.check_finite(input, "input")
                V.check_unit_interval(input, "input")
                V.check_unit_interval(target, "target")
            raise
        return V.check_result(out, mode, (("input", input), ("target", target), ("weight", weight),
                                          ("pos_weight", pw if isinstance(pos_weight, torch.Tensor) else None)))
    dtype = compute_dtype(input, target)
    x = input.to(dtype)
    log_p, log_q = _log_both(x, input_kind)
    if input_kind == "probs":
        log_p, log_q = log_p.clamp_min(_TORCH_LOG_FLOOR), log_q.clamp_min(_TORCH_LOG_FLOOR)
    y = target.to(dtype)
    positive = -log_p * y
    if pw is not None:
        positive = positive * pw.to(dtype)
    values = positive - log_q * (1 - y)
    w = None
    if weight is not None:
        w = weight.to(dtype).expand_as(values)
        values = values * w
    out = reduce_loss(values, reduction, denom=w, sample_weight=sample_weight, num_items=num_items)
    return V.check_result(out, mode, (("input", input, input_kind == "log_probs"), ("target", target),
                                      ("weight", weight),
                                      ("pos_weight", pw if isinstance(pos_weight, torch.Tensor) else None)))


def binary_cross_entropy(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    input_kind: str = "probs",
    pos_weight: float | torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Binary cross-entropy of independent labels, on **probabilities** as in torch.

    .. math::

        \\ell = -w\\,\\big[\\,y \\log p + (1 - y) \\log(1 - p)\\big]

    Equals :func:`torch.nn.functional.binary_cross_entropy` (parameters in
    torch's order, each log clamped at -100 as torch does), except that a
    weighted ``"mean"`` is :math:`\\sum w\\ell / \\sum w` (torch divides by
    the number of elements). ``weight`` broadcasts to ``input``'s shape as in
    torch (a scalar, or one weight per label along the last dim). For logits
    use :func:`binary_cross_entropy_with_logits` (or ``input_kind="logits"``),
    which is exact and finite at any logit.

    Args:
      input: probabilities :math:`p \\in [0, 1]` (``input_kind="probs"``).
      target: labels in [0, 1], the same shape.
      weight: elementwise weights :math:`w`, broadcast to ``input`` (any sign, as in
        torch; ``validate="strict"`` requires :math:`w \\ge 0`).
      size_average, reduce: deprecated, as in torch.
      pos_weight: losskit's extension, see :func:`binary_cross_entropy_with_logits`.

    References:
      Cox, *The Regression Analysis of Binary Sequences*, J. R. Stat. Soc. B 20(2), 1958.
    """
    if size_average is not None or reduce is not None:
        reduction = V.legacy_reduction(size_average, reduce, reduction)
    return _bce(input, target, weight, reduction, pos_weight, input_kind, sample_weight, num_items, validate)


def binary_cross_entropy_with_logits(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: torch.Tensor | None = None,
    *,
    input_kind: str = "logits",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Binary cross-entropy of independent labels, on logits.

    .. math::

        \\ell = w\\,\\big[\\,w_+\\, y\\, \\operatorname{softplus}(-x) + (1 - y) \\operatorname{softplus}(x)\\big]

    with :math:`w_+` the ``pos_weight``. Equals
    :func:`torch.nn.functional.binary_cross_entropy_with_logits` (parameters
    in torch's order; ``weight`` and ``pos_weight`` broadcast as in torch,
    so a (C,) ``pos_weight`` weighs the labels along the last dim), except
    that a weighted ``"mean"`` is :math:`\\sum w\\ell / \\sum w` (torch divides
    by the number of elements). Exact and finite, with finite gradients, at
    logits of :math:`\\pm 10^4` and beyond. The registry's ``bce`` is this loss.

    Args:
      input: logits :math:`x`, any shape.
      target: labels in [0, 1], the same shape.
      weight: elementwise weights :math:`w`, broadcast to ``input`` (any sign, as in
        torch; ``validate="strict"`` requires :math:`w \\ge 0`).
      pos_weight: weight of the positive term :math:`w_+ \\ge 0`: a number,
        or a tensor that broadcasts to ``input`` (e.g. (C,) for the labels
        along the last dim).
      input_kind: losskit's extension, ``"logits"`` (torch's meaning); the
        registry's ``bce`` under torch's and Keras's probability spellings
        passes ``"probs"``.

    References:
      Cox, *The Regression Analysis of Binary Sequences*, J. R. Stat. Soc. B 20(2), 1958.
    """
    if size_average is not None or reduce is not None:
        reduction = V.legacy_reduction(size_average, reduce, reduction)
    return _bce(input, target, weight, reduction, pos_weight, input_kind, sample_weight, num_items, validate)


def _logaddexp(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """:math:`\\log(e^a + e^b)` for finite ``a``, ``b``, as max + log1p(exp(-|a - b|)).

    torch.logaddexp's derivative ``1/(1 + exp(b - a))`` is differentiated again
    as inf/inf = NaN once :math:`|a - b|` passes ~709; this form has finite
    derivatives of every order.
    """
    return torch.maximum(a, b) + torch.log1p(torch.exp(-(a - b).abs()))


def _log_miss(log_p: torch.Tensor, log_q: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """:math:`\\log(1 - p_t) = \\log(y (1 - p) + (1 - y) p)`: log q for y = 1, log p for y = 0.

    Soft labels take the log-sum-exp of two finite terms; hard labels select
    one, so no :math:`\\log 0 = -\\infty` enters any derivative (double backward included).
    """
    soft = (y > 0) & (y < 1)
    y_soft = torch.where(soft, y, torch.full_like(y, 0.5))
    mixed = _logaddexp(torch.log(y_soft) + log_q, torch.log1p(-y_soft) + log_p)
    return torch.where(soft, mixed, torch.where(y >= 1, log_q, log_p))


def binary_focal_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float = 0.25,
    gamma: float = 2.0,
    input_kind: str = "logits",
    reduction: str = "mean",
    weight: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Sigmoid focal loss of independent labels, as used for dense detection.

    .. math::

        \\ell = -\\alpha_t\\,(1 - p_t)^{\\gamma} \\log p_t, \\qquad
        p_t = y\\,p + (1 - y)(1 - p), \\quad \\alpha_t = y\\,\\alpha + (1 - y)(1 - \\alpha)

    where, for soft targets, :math:`-\\log p_t` is read as the binary
    cross-entropy :math:`-[y \\log p + (1 - y) \\log(1 - p)]`. Equals
    torchvision's ``sigmoid_focal_loss`` (whose ``"mean"`` is over all
    elements; to normalise by the number of positive anchors as in the
    paper pass ``reduction="sum"`` and divide, or ``num_items``).
    :math:`(1 - p_t)^\\gamma` is computed as
    :math:`\\exp(\\gamma \\log(1 - p_t))` in log space, so values and
    gradients stay finite at logits of :math:`\\pm 10^4` for every
    :math:`\\gamma \\ge 0`, including :math:`\\gamma < 1`; no
    :math:`\\log 0` is formed, so second derivatives (``create_graph=True``,
    ``torch.func.hessian``) are finite too.

    Args:
      alpha: weight of the positive class in [0, 1]; a negative value turns
        the weighting off (:math:`\\alpha_t = 1`).
      gamma: focusing parameter, >= 0.

    References:
      Lin, Goyal, Girshick, He & Dollár, *Focal Loss for Dense Object
      Detection*, ICCV 2017.
    """
    V.check_reduction(reduction)
    alpha = V.check_interval(alpha, "alpha", -math.inf, 1.0, low_open=True)
    gamma = V.check_interval(gamma, "gamma", 0.0, math.inf, high_open=True)
    log_p, log_q, y, w = _prepare_binary(input, target, input_kind=input_kind, weight=weight, validate=validate)
    ce = -(y * log_p + (1 - y) * log_q)
    values = ce
    if gamma:
        values = torch.exp(gamma * _log_miss(log_p, log_q, y)) * ce
    if alpha >= 0:
        values = (y * alpha + (1 - y) * (1 - alpha)) * values
    if w is not None:
        values = values * w
    return reduce_loss(values, reduction, denom=w, sample_weight=sample_weight, num_items=num_items)
