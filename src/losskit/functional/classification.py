"""The article's classification losses: cross-entropy, KL divergence and MAE on probabilities.

The class dimension is dim 1, as in torch: ``input`` is (N, C) or
(N, C, d1, ...), or unbatched (C,). ``target`` is either class indices of an
integer dtype, shaped (N, d1, ...), or probabilities shaped like ``input``.

``input_kind`` says what ``input`` holds:

* ``"logits"`` (default, as in torch): unnormalised scores, turned into
  log-probabilities by ``log_softmax``. Log-probabilities passed as logits
  give the same result, since ``log_softmax`` leaves them unchanged.
* ``"probs"``: probabilities :math:`\\hat Y` as in the article; a zero
  probability is clamped to the smallest normal float, so the loss is large
  and finite.
* ``"log_probs"``: log-probabilities.

Reductions and weights follow one rule (:mod:`losskit._reduce`): ``"mean"``
is :math:`\\sum_i w_i \\ell_i / \\sum_i w_i` over non-ignored positions, with
:math:`w_i` the class weight of the target (:math:`\\sum_c w_c y_c` for
probability targets) times the sample weight. ``"per_sample"`` is that mean
over the positions of each sample, shape (N,).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from math import isfinite
from typing import cast

import torch

from .. import _validate as V
from .._reduce import reduce_loss
from .._types import Validate
from .._validate import F32, F64, I64, PLAIN_TENSORS
from ._prep import _REAL_TYPES, _TORCH_REDUCTION, Number, class_view, compute_dtype, prepare_classification

__all__ = ["cross_entropy", "kl_div", "kl_divergence_loss", "nll_loss", "softmax_mae_loss"]

_kl = torch.kl_div
# torch's C bindings take the reduction as its enum value (_TORCH_REDUCTION), which their stubs spell as str
_ce = cast(
    "Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None, int, int, float], torch.Tensor]",
    torch._C._nn.cross_entropy_loss,
)
_nll = cast(
    "Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None, int, int], torch.Tensor]", torch._C._nn.nll_loss_nd
)


def _torch_class_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
    validate: Validate,
    log_input: bool,
) -> torch.Tensor | None:
    """torch's fused cross-entropy / NLL where its meaning is losskit's, else None (the composed path runs).

    Structural checks read metadata only, and leave to torch's op what it refuses itself (the target's
    rank and shape, the weight's shape): its error hands the call to the composed path, which names the
    argument. Value checks ride on the result: torch refuses a class index out of range (with
    ``validate=False`` its own error is raised), and a non-finite loss
    (bad inputs, or a mean over zero items, where losskit's answer is 0)
    hands the call to the composed path, which diagnoses it. At the strict
    level a weight's sign is checked once per weight tensor, and probability
    targets must sum to 1. This is the hottest path of the library: its
    Python cost per call is a few microseconds (benchmarks/bench_vs_torch.py).
    """
    red = _TORCH_REDUCTION.get(reduction)
    if (
        red is None or type(ignore_index) is not int or type(label_smoothing) not in _REAL_TYPES
        or type(input) not in PLAIN_TENSORS or type(target) not in PLAIN_TENSORS
    ):
        return None  # the composed path checks and names them
    dtype, ndim = input.dtype, input.dim()
    if (dtype is not F32 and dtype is not F64) or not ndim or not 0.0 <= label_smoothing <= 1.0:
        return None
    mode = V.fast_mode(validate, input)
    on_device = mode == V.NO_HOST_READ  # no host read: the mean's zero-items rule is computed on the device
    if mode < 0:
        if not on_device or not input.numel():
            return None  # TRACED (torch.compile, functorch): the composed path
        mode = V.value_mode(validate, input)
    if weight is not None and (type(weight) not in PLAIN_TENSORS or weight.dtype is not dtype):
        return None  # torch's op checks the weight's shape; the composed path names what is wrong
    strict = bool(mode) and V.strict_level(validate)
    target_dtype = target.dtype
    if target_dtype is not I64:
        if target_dtype is not dtype or log_input or weight is not None or ignore_index != -100:
            return None  # weighted probability targets: losskit's mean divides by sum(w y), torch's by N
        if target.shape != input.shape:
            return None
        if strict:  # torch's soft targets need not sum to 1; the strict level checks that they do
            V.check_finite(target, "target")
            V.check_probabilities(target, "target", dim=1 if ndim > 1 else 0)
    elif ndim == 1 and target.dim():
        return None  # torch also takes an unbatched (C,) input's index as shape (1,); losskit asks for a 0-d one
    if strict:
        if log_input:
            return None  # the strict level checks that nll_loss's rows are log-probabilities: the composed path
        V.check_weight_values_once(weight)
    if on_device:  # shapes first here: the device path reads the target before torch's op checks it
        shape = input.shape
        if target_dtype is I64 and target.shape != (shape[:1] + shape[2:] if ndim > 1 else ()):
            return None
        if weight is not None and weight.shape != (shape[1] if ndim > 1 else shape[0],):
            return None
        try:
            return _torch_class_loss_on_device(
                input, target, weight, ignore_index, red, label_smoothing, mode, log_input
            )
        except RuntimeError:
            return None  # e.g. a label smoothing torch refuses: the composed path names it
    try:  # torch's op checks the shapes, the target's rank and the class indices
        if log_input:
            out = _nll(input, target, weight, red, ignore_index)
        else:
            out = _ce(input, target, weight, red, ignore_index, label_smoothing)
    except IndexError:  # a class index out of range: a value check, so with validate=False torch's own error
        if mode:
            return None  # the composed path names it
        raise
    except (RuntimeError, ValueError):
        return None  # a shape torch refused: the composed path names it at every level
    if (red == 1 or mode) and not (isfinite(out.item()) if red else V.finite_on_host(out)):
        return None  # a mean over zero items (losskit's answer is 0), or non-finite inputs: diagnosed there
    return out


def _torch_class_loss_on_device(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None,
    ignore_index: int,
    red: int,
    label_smoothing: float,
    mode: int,
    log_input: bool,
) -> torch.Tensor:
    """torch's fused op without a host read (accelerators): the mean is torch's sum over its denominator,
    computed on the device, so a mean over zero items is 0 as on the CPU path (0 / 1, the sum being 0).

    A class index out of range is refused by torch's own kernel (a device-side assert on CUDA); a
    non-finite loss from a non-finite input fails the device-side assertion of :func:`V.check_result`.
    """
    if mode and not target.is_floating_point():  # before torch's kernel, so losskit's message fires first
        V.check_class_indices(target, input.shape[1] if input.dim() > 1 else input.shape[0], ignore_index)
    call = 2 if red == 1 else red
    if log_input:
        out = _nll(input, target, weight, call, ignore_index)
    else:
        out = _ce(input, target, weight, call, ignore_index, label_smoothing)
    if red == 1:
        if target.is_floating_point():  # probability targets: one term per position
            den: torch.Tensor | float = float(input.numel() // (input.shape[1] if input.dim() > 1 else input.shape[0]))
        else:
            valid = target != ignore_index
            if weight is None:
                den = valid.sum().to(out.dtype)
            else:
                den = (weight[torch.where(valid, target, 0)] * valid).sum()
            den = torch.where(den != 0, den, torch.ones_like(den))
        out = out / den
    named: list[V.NamedInput] = [("input", input, log_input), ("weight", weight)]
    if target.is_floating_point():
        named.append(("target", target))
    return V.check_result(out, mode, named)


def cross_entropy(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    *,
    input_kind: str = "logits",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Cross-entropy between the target distribution and the predicted one.

    .. math::

        \\ell = -\\sum_c w_c\\, y'_c \\log \\hat p_c, \\qquad
        y' = (1 - \\varepsilon)\\, y + \\varepsilon / C

    with :math:`y` the one-hot or probability target, :math:`\\varepsilon`
    the label smoothing and :math:`w` the class weights. Learns fast, but a
    wrong label costs :math:`-\\log \\hat p_y`, unbounded, so noisy labels
    get memorised.

    Equals :func:`torch.nn.functional.cross_entropy` (parameters in torch's
    order) for every option they share, with two deliberate differences: a
    mean over zero items (every target ignored) is 0 rather than NaN, and
    with class weights *and* probability targets ``"mean"`` divides by
    :math:`\\sum_i \\sum_c w_c y_{ic}` (torch divides by N), the same rule as
    for class indices.

    Args:
      input: scores (N, C, ...) as ``input_kind`` says.
      target: class indices (N, ...) or probabilities (N, C, ...).
      weight: class weights, shape (C,).
      size_average, reduce: deprecated, as in torch.
      ignore_index: index targets equal to it count neither in the loss nor
        in the mean's denominator.
      label_smoothing: :math:`\\varepsilon \\in [0, 1]`.

    References:
      Shannon, *A Mathematical Theory of Communication*, 1948; Szegedy et al.,
      *Rethinking the Inception Architecture*, CVPR 2016 (label smoothing).
    """
    if size_average is not None or reduce is not None:
        reduction = V.legacy_reduction(size_average, reduce, reduction)
    if input_kind == "logits" and sample_weight is None and num_items is None:
        out = _torch_class_loss(input, target, weight, ignore_index, reduction, label_smoothing, validate, False)
        if out is not None:
            return out
    return _cross_entropy(
        input, target, weight, ignore_index, reduction, label_smoothing, input_kind, sample_weight, num_items,
        validate, torch_meaning=input_kind == "logits",
    )


def _cross_entropy(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
    input_kind: str,
    sample_weight: torch.Tensor | None,
    num_items: Number | None,
    validate: Validate,
    allow_probs: bool = True,
    torch_meaning: bool = False,
) -> torch.Tensor:
    """The composed cross-entropy: every option, losskit's reduction rule (``torch_meaning``: see
    :func:`~losskit.functional._prep.prepare_classification`)."""
    b = prepare_classification(
        input, target, input_kind=input_kind, weight=weight, ignore_index=ignore_index,
        label_smoothing=label_smoothing, allow_probs=allow_probs, validate=validate, torch_meaning=torch_meaning,
    )
    if b.index is not None:
        nll = -b.target_log_p()
        if b.class_weight is not None:
            nll = nll * b.class_weight[b.index]
        values = nll
        if label_smoothing:
            neg_log = -b.log_p
            if b.class_weight is not None:
                neg_log = neg_log * class_view(b.class_weight, b.log_p.dim())
            smooth = neg_log.sum(1) / b.num_classes
            values = (1 - label_smoothing) * nll + label_smoothing * smooth
    else:
        y = b.dense_target(label_smoothing)
        if b.class_weight is not None:
            y = y * class_view(b.class_weight, b.log_p.dim())
        # 0 * log 0 = 0: a class with zero target mass contributes nothing even where
        # log p = -inf (input_kind="log_probs" accepts -inf), with a finite gradient; only there is
        # log p replaced, so d loss / d y = -log p stays exact at y = 0. Any other target value
        # counts as given (torch's soft targets need not lie in [0, 1]).
        log_p = torch.where((y != 0) | (b.log_p > -torch.inf), b.log_p, torch.zeros_like(b.log_p))
        values = -(y * log_p).sum(1)
    # class weights are already inside ``values``; the denominator still needs them
    return b.reduce(values, reduction, sample_weight=sample_weight, num_items=num_items, preweighted=True)


def nll_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Negative log-likelihood of class indices, on log-probabilities.

    .. math::

        \\ell = -w_y \\log \\hat p_y

    ``input`` holds log-probabilities (e.g. ``log_softmax``), as in torch:
    ``nll_loss(log_softmax(x, 1), y)`` is ``cross_entropy(x, y)``. Equals
    :func:`torch.nn.functional.nll_loss` (parameters in torch's order); a
    mean over zero items is 0. Like torch it takes any finite ``input`` (it
    picks and negates); ``validate="strict"`` checks that each row is a
    log-probability distribution, which catches logits passed by mistake
    (use :func:`cross_entropy` for those).

    Args:
      input: log-probabilities (N, C, d1, ...) or unbatched (C,).
      target: class indices (N, d1, ...) of an integer dtype.
      weight: class weights, shape (C,).
      ignore_index: targets equal to it count neither in the loss nor in the mean.

    References:
      Fisher, *On the Mathematical Foundations of Theoretical Statistics*, 1922 (likelihood).
    """
    if size_average is not None or reduce is not None:
        reduction = V.legacy_reduction(size_average, reduce, reduction)
    if sample_weight is None and num_items is None:
        out = _torch_class_loss(input, target, weight, ignore_index, reduction, 0.0, validate, True)
        if out is not None:
            return out
    return _cross_entropy(
        input, target, weight, ignore_index, reduction, 0.0, "log_probs", sample_weight, num_items, validate,
        allow_probs=False, torch_meaning=True,
    )


_KL_REDUCTIONS = ("mean", "sum", "none", "per_sample", "batchmean")


def kl_div(
    input: torch.Tensor,
    target: torch.Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    log_target: bool = False,
    *,
    input_kind: str = "log_probs",
    target_kind: str = "probs",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Kullback–Leibler divergence KL(target ‖ prediction), pointwise as in torch.

    .. math::

        \\ell_{ic} = y_{ic} \\left(\\log y_{ic} - \\log \\hat p_{ic}\\right),
        \\qquad 0 \\log 0 = 0

    ``input`` holds log-probabilities :math:`\\log \\hat p`, as in torch
    (``input_kind="logits"`` applies ``log_softmax`` over dim 1 first);
    ``target`` holds probabilities, or log-probabilities with
    ``log_target=True`` (``target_kind="log_probs"`` means the same).
    Equals :func:`torch.nn.functional.kl_div` (parameters in torch's order)
    for ``"none"`` (pointwise), ``"sum"`` and ``"batchmean"`` (the sum over
    ``input.size(0)``), with one deliberate difference: losskit's
    ``"mean"`` is the KL divergence averaged over samples (and positions of
    (N, C, d1, ...) inputs), torch's ``batchmean`` for (N, C) inputs;
    torch's own ``"mean"`` also divides by the number of classes, which is
    not the KL divergence (pytorch #2259). ``"per_sample"`` gives (N,).
    Since :math:`\\mathrm{KL}(y\\|\\hat p) = \\mathrm{CE}(y, \\hat p) - H(y)` and
    :math:`H(y)` does not depend on the model, KL and cross-entropy have the
    same gradients with respect to the logits. Zero target probabilities
    contribute 0 with finite gradients.

    Args:
      log_target: ``target`` holds log-probabilities.
      input_kind: ``"log_probs"`` (torch's meaning), ``"logits"`` or ``"probs"``.

    References:
      Kullback & Leibler, *On Information and Sufficiency*, Ann. Math. Statist. 22(1), 1951.
    """
    if size_average is not None or reduce is not None:
        reduction = V.legacy_reduction(size_average, reduce, reduction)
    if input_kind == "log_probs" and sample_weight is None and num_items is None:
        out = _torch_kl(input, target, reduction, log_target or target_kind == "log_probs", target_kind, validate)
        if out is not None:
            return out
    V.check_choice(reduction, "reduction", _KL_REDUCTIONS)
    if log_target:
        target_kind = "log_probs"
    V.check_float(input, "input")
    V.check_probability_target(input, target)
    V.check_choice(input_kind, "input_kind", V.INPUT_KINDS)
    V.check_choice(target_kind, "target_kind", V.TARGET_KINDS)
    if target.shape != input.shape:
        target = target.expand_as(input)
    log_t = target_kind == "log_probs"
    mode = V.value_mode(validate, input)
    dim = 1 if input.dim() > 1 else 0
    # torch's kl_div is pointwise for any target and log-input: their rows are checked at the strict
    # level, or by default where a losskit option (input_kind="logits" or "probs") declares the kinds
    if mode and input.dim() and (input_kind != "log_probs" or V.strict(validate)):
        V.check_finite(target, "target", allow_neg_inf=log_t)
        V.check_probabilities(target, "target", dim=dim, log=log_t)
        if input_kind != "logits":
            V.check_finite(input, "input", allow_neg_inf=input_kind == "log_probs")
            V.check_probabilities(input, "input", dim=dim, log=input_kind == "log_probs")
    dtype = compute_dtype(input, target)
    x = input if input.dtype == dtype else input.to(dtype)
    t = target if target.dtype == dtype else target.to(dtype)
    if input_kind == "logits":
        # a 0-d input is one class: log_softmax of it is 0, kept in the graph (gradient 0)
        x = torch.log_softmax(x, dim) if x.dim() else torch.log_softmax(x.unsqueeze(0), 0).squeeze(0)
    elif input_kind == "probs":
        x = torch.log(x.clamp_min(torch.finfo(dtype).tiny))
    if x.dim() == 0:
        count = 1
    elif reduction == "batchmean":
        count = x.shape[0]
    else:  # losskit's mean: one KL value per position, summed over the classes of dim 1
        count = x.numel() // x.shape[1] if x.dim() > 1 and x.shape[1] else int(x.dim() == 1 or x.numel())
    # torch's kl_div where it is exact: its value is NaN at a zero target with input -inf (or a log-target
    # of -inf), and its target gradient NaN at zero targets; a non-finite result reruns the safe form
    if not t.requires_grad and V.can_read_on_host(x):
        out = _kl_reduce(x, t, log_t, reduction, count, sample_weight, num_items, safe=False)
        if V.finite_on_host(out):
            return out  # a finite result: the checks riding on it pass
    out = _kl_reduce(x, t, log_t, reduction, count, sample_weight, num_items, safe=True)
    return V.check_result(
        out, mode, (("input", input, input_kind == "log_probs"), ("target", target, log_t)),
        diagnose=None if log_t else lambda: V.check_nonnegative_values(target, "target", "probabilities"),
    )



_KL_TORCH = {"none": 0, "sum": 2, "mean": 2, "batchmean": 2}


def _torch_kl(
    input: torch.Tensor, target: torch.Tensor, reduction: str, log_t: bool, target_kind: str, validate: Validate
) -> torch.Tensor | None:
    """torch's kl_div for torch's own call (same shapes and dtype, a target without gradient), else None.

    The result is read once (one 0-d host read): a finite one proves finite inputs and is returned; a
    non-finite one (NaN or negative targets, or ``0 log 0`` at a log-input of -inf) goes to the safe path,
    which computes losskit's value or names the argument.
    """
    red = _KL_TORCH.get(reduction)
    if (
        red is None or (target_kind != "probs" and target_kind not in V.TARGET_KINDS)
        or type(input) not in PLAIN_TENSORS or type(target) not in PLAIN_TENSORS or target.requires_grad
    ):
        return None
    dtype = input.dtype
    if (dtype is not F32 and dtype is not F64) or target.dtype is not dtype:
        return None
    shape = input.shape
    if target.shape != shape or not shape or not input.numel():
        return None
    mode = V.fast_mode(validate, input)
    if mode < 0 or (mode and V.strict_level(validate)):
        return None
    out = _kl(input, target, red, log_target=log_t)
    if red:
        if reduction == "batchmean":
            out = out / shape[0]
        elif reduction == "mean" and len(shape) > 1:  # one KL value per position, summed over dim 1's classes
            out = out / (input.numel() // shape[1])
        return out if isfinite(out.item()) else None
    return out if V.finite_on_host(out) else None


def kl_divergence_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    input_kind: str = "logits",
    target_kind: str = "probs",
    reduction: str = "mean",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """KL divergence KL(target ‖ softmax(input)) per position: losskit's form of :func:`kl_div`.

    .. math::

        \\ell_i = \\sum_c y_{ic} \\log \\frac{y_{ic}}{\\hat p_{ic}}, \\qquad
        \\hat p = \\operatorname{softmax}(\\text{input}), \\quad 0 \\log 0 = 0

    The registry's ``kl_div``: like every classification loss there, it takes
    logits by default and its ``"none"`` gives one value per position, shape
    (N, d1, ...), summed over the classes; ``"mean"`` is torch's
    ``batchmean`` for (N, C) inputs. :func:`kl_div` is the same divergence
    with torch's signature and meaning (log-probability input, pointwise
    ``"none"``).

    References:
      Kullback & Leibler, *On Information and Sufficiency*, Ann. Math. Statist. 22(1), 1951.
    """
    V.check_reduction(reduction)
    pointwise = reduction == "none"
    out = kl_div(
        input, target, reduction=reduction, num_items=None if pointwise else num_items, input_kind=input_kind,
        target_kind=target_kind, sample_weight=sample_weight, validate=validate,
    )
    if not pointwise:
        return out
    return out.sum(1) if out.dim() > 1 else out.sum()

def _kl_terms(x: torch.Tensor, t: torch.Tensor, log_t: bool, total: bool, safe: bool) -> torch.Tensor:
    """KL's pointwise terms y (log y - x), or their sum; ``safe``: 0 log 0 = 0 with finite gradients."""
    if not safe:
        return torch.kl_div(x, t, 2 if total else 0, log_target=log_t)
    # only an exact zero probability (a log-target of -inf) is masked: NaN, or a negative probability
    # (whose log is NaN), reaches the result, which check_result then diagnoses
    zero = t == -torch.inf if log_t else t == 0
    if log_t:
        log_y = torch.where(zero, torch.zeros_like(t), t)
        terms = torch.where(zero, torch.zeros_like(x), log_y.exp() * (log_y - x))
    else:
        log_y = torch.log(torch.where(zero, torch.ones_like(t), t))
        terms = torch.where(zero, torch.zeros_like(x), t * (log_y - x))
    return terms.sum() if total else terms


def _kl_reduce(
    x: torch.Tensor,
    t: torch.Tensor,
    log_t: bool,
    reduction: str,
    count: int,
    sample_weight: torch.Tensor | None,
    num_items: Number | None,
    *,
    safe: bool,
) -> torch.Tensor:
    if sample_weight is None and num_items is None and reduction != "per_sample":
        if reduction == "none":
            return _kl_terms(x, t, log_t, False, safe)
        out = _kl_terms(x, t, log_t, True, safe)
        if reduction != "sum" and count != 1:
            out = out / count if count else out  # a mean over zero items is 0 (the sum of none)
        return out
    pointwise = _kl_terms(x, t, log_t, False, safe)
    if reduction in ("none", "sum"):
        return reduce_loss(pointwise, reduction, sample_weight=sample_weight)
    if x.dim() == 0:
        per = pointwise.reshape(1)
    elif reduction == "batchmean":
        per = pointwise.reshape(x.shape[0], math.prod(x.shape[1:])).sum(1)
    elif x.dim() > 1:
        per = pointwise.sum(1)
    else:
        per = pointwise.sum().reshape(1)
    return reduce_loss(per, "mean" if reduction == "batchmean" else reduction, sample_weight=sample_weight,
                       num_items=num_items)


def softmax_mae_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    input_kind: str = "logits",
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Mean absolute error between the target distribution and the predicted probabilities.

    .. math::

        \\ell = \\sum_c |y_c - \\hat p_c| \\;=\\; 2\\,(1 - \\hat p_y) \\text{ for a one-hot } y

    Bounded (at most 2), so a wrong label costs at most 2 and cannot
    dominate training: robust to label noise, but its gradient vanishes as
    :math:`\\hat p_y \\to 0`, so it learns slower than cross-entropy.
    A class weight multiplies the whole sample's loss (by
    :math:`\\sum_c w_c y_c`, the target's expected class weight).

    References:
      Ghosh, Kumar & Sastry, *Robust Loss Functions under Label Noise for
      Deep Neural Networks*, AAAI 2017.
    """
    b = prepare_classification(
        input, target, input_kind=input_kind, weight=weight, ignore_index=ignore_index,
        label_smoothing=label_smoothing, validate=validate,
    )
    return b.reduce(b.probability_mae(label_smoothing), reduction, sample_weight=sample_weight, num_items=num_items)
