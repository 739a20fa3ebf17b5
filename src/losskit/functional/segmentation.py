"""Segmentation and overlap losses: Dice, Jaccard (IoU), Tversky, focal Tversky, Lovász, Dice + CE.

Every loss takes ``input`` scores (N, C, d1, ...) and ``target`` class indices
(N, d1, ...) or a float mask (N, C, d1, ...) (one-hot or soft). One channel
(C = 1) is a binary mask. ``activation`` turns scores into probabilities:
``"auto"`` (softmax over C, or a sigmoid when C = 1), ``"softmax"``,
``"sigmoid"`` (independent channels, multi-label) or ``"none"`` (``input``
already holds probabilities).

**Aggregation.** With ``aggregate="sample"`` (default) every sample gets its own
score and loss, so the reductions, ``sample_weight`` and ``num_items`` work as
for any loss (``"none"`` gives (N,)). ``aggregate="batch"`` pools the sums over
the whole batch before scoring (smp's default), which gives one loss for the
batch: use ``reduction="mean"`` or ``"sum"`` (both return it).

**Classes.** ``average="macro"`` (default) scores each class and averages the
per-class losses (weighted by ``weight`` when given); ``"micro"`` pools the sums
over classes first (kornia's ``average="micro"``).

**The empty-mask rule.** A class absent from a sample's target (no pixel of it)
has no overlap to measure. With ``absent="ignore"`` (default) it is left out of
that sample's class mean, so it gives neither a large loss nor NaN. ``"zero"``
scores it 0 but still counts it in the mean (smp's rule); ``"include"`` scores
it by the formula, which with ``smooth=0`` is 0/0 when the prediction is empty
too, taken as a perfect score (loss 0), and a loss of 1 otherwise (MONAI's rule
with its ``smooth`` 1e-5 gives 1 − s/(Σp + s)). A sample in which no class
counts (an empty binary mask under ``"ignore"``, or every pixel ignored) has
loss 0 and weight 0 in the mean: a batch of such samples gives 0, never NaN.

Pixels whose index target equals ``ignore_index`` are left out of every sum.
Inputs of float16 or bfloat16 are computed and returned in float32.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .. import _validate as V
from .._reduce import reduce_loss
from .._types import Validate
from ._prep import Number, compute_dtype
from .classification import cross_entropy

__all__ = [
    "dice_ce_loss",
    "dice_loss",
    "focal_tversky_loss",
    "jaccard_loss",
    "lovasz_hinge_loss",
    "lovasz_softmax_loss",
    "tversky_loss",
]

ACTIVATIONS = ("auto", "softmax", "sigmoid", "none")
AGGREGATES = ("sample", "batch")
AVERAGES = ("macro", "micro")
ABSENT = ("ignore", "zero", "include")
LOVASZ_CLASSES = ("present", "all")


def _masks(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    activation: str,
    ignore_index: int,
    validate: Validate,
    hard: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Probabilities p and target masks y, both (N, C, P), and the valid-pixel mask (N, 1, P) or None.

    Ignored pixels are zero in p and y. With ``activation="none"`` (or for the
    Lovász hinge, ``hard``) ``p`` is ``input`` as given.
    """
    is_index = V.check_segmentation(input, target)
    V.check_choice(activation, "activation", ACTIVATIONS)
    ignore_index = V.check_ignore_index(ignore_index, target.dtype if is_index else None)
    n, c = input.shape[:2]
    pixels = math.prod(input.shape[2:])  # explicit: reshape(0, c, -1) is ambiguous for an empty batch
    if not is_index:
        V.check_mask_ignore_index(ignore_index)
    if V.resolve(validate):
        if is_index:
            if c == 1:
                V.check_binary_mask_indices(target, ignore_index)
            else:
                V.check_class_indices(target, c, ignore_index)
        elif hard:
            V.check_binary_values(target, "target")
        else:
            V.check_unit_interval(target, "target")
        if activation == "none" and not hard:
            V.check_unit_interval(input, "input")
    dtype = compute_dtype(input) if is_index else compute_dtype(input, target)
    x = input.to(dtype).reshape(n, c, pixels)
    if hard or activation == "none":
        p = x
    elif activation == "softmax" or (activation == "auto" and c > 1):
        p = torch.softmax(x, dim=1)
    else:
        p = torch.sigmoid(x)
    if not is_index:
        return p, target.to(dtype).reshape(n, c, pixels), None
    t = target.reshape(n, 1, pixels)
    valid = t != ignore_index
    index = torch.where(valid, t, torch.zeros_like(t))
    if c == 1:
        y = (index == 1).to(dtype)
    else:
        # scatter, not a comparison: an index out of range (validate=False) raises torch's bounds error
        y = torch.zeros_like(x).scatter(1, index.long(), 1.0)
    v = valid.to(dtype)
    return p * v, y * v, v


def _ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """num / den, and 1 (a perfect score, zero gradient) where den == 0: both masks empty and no smoothing."""
    empty = den == 0  # not den > 0: a NaN must reach the result
    return torch.where(empty, torch.ones_like(num), num / torch.where(empty, torch.ones_like(den), den))


def _per_sample(
    loss_c: torch.Tensor,
    present: torch.Tensor,
    weight: torch.Tensor | None,
    absent: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Macro average of per-class losses (N, C) -> (per-sample loss, per-sample weight in the mean)."""
    if absent == "zero":
        loss_c = torch.where(present, loss_c, torch.zeros_like(loss_c))
    counted = present if absent == "ignore" else torch.ones_like(present)
    w = counted.to(loss_c.dtype)
    if weight is not None:
        w = w * weight.to(loss_c.dtype)
    total = w.sum(1)
    has = total > 0
    loss = torch.where(has, (loss_c * w).sum(1) / torch.where(has, total, torch.ones_like(total)),
                       torch.zeros_like(total))
    return loss, has.to(loss.dtype)


def _finish(
    loss: torch.Tensor,
    denom: torch.Tensor | None,
    aggregate: str,
    reduction: str,
    sample_weight: torch.Tensor | None,
    num_items: Number | None,
) -> torch.Tensor:
    if aggregate == "batch":
        return loss.reshape(())
    return reduce_loss(loss, reduction, denom=denom, sample_weight=sample_weight, num_items=num_items)


def _check_options(
    reduction: str, aggregate: str, average: str, absent: str, smooth: float,
    sample_weight: torch.Tensor | None, num_items: Number | None,
) -> float:
    """Check the shared options; return ``smooth`` as a float (a huge Python int cannot meet a tensor)."""
    V.check_reduction(reduction)
    V.check_choice(aggregate, "aggregate", AGGREGATES)
    V.check_choice(average, "average", AVERAGES)
    V.check_choice(absent, "absent", ABSENT)
    smooth = V.check_interval(smooth, "smooth", 0.0, float("inf"), high_open=True)
    if aggregate == "batch":
        V.check_batch_aggregate(reduction, sample_weight, num_items)
    return smooth


def _overlap(
    input: torch.Tensor,
    target: torch.Tensor,
    score: str,
    *,
    alpha: float = 0.5,
    beta: float = 0.5,
    gamma: float = 1.0,
    smooth: float,
    squared_denominator: bool = False,
    aggregate: str,
    average: str,
    absent: str,
    activation: str,
    weight: torch.Tensor | None,
    ignore_index: int,
    reduction: str,
    sample_weight: torch.Tensor | None,
    num_items: Number | None,
    validate: Validate,
) -> torch.Tensor:
    """The shared body of Dice, Jaccard and (focal) Tversky: sums, scores, class average, reduction."""
    smooth = _check_options(reduction, aggregate, average, absent, smooth, sample_weight, num_items)
    mode = V.value_mode(validate, input)
    p, y, _ = _masks(input, target, activation=activation, ignore_index=ignore_index, validate=validate)
    V.check_class_weight(weight, p.shape[1])
    if weight is not None and mode:
        V.check_weight_values(weight)
    inter = (p * y).sum(-1)
    p_sum = (p * p if squared_denominator else p).sum(-1)
    y_sum = (y * y if squared_denominator else y).sum(-1)
    present = y.sum(-1) > 0
    if aggregate == "batch":
        inter, p_sum, y_sum, present = (t.sum(0, keepdim=True) for t in (inter, p_sum, y_sum, present))
        present = present > 0
    if average == "micro":
        w = torch.ones_like(inter) if weight is None else weight.to(inter.dtype).expand_as(inter)
        inter, p_sum, y_sum = ((t * w).sum(1, keepdim=True) for t in (inter, p_sum, y_sum))
        present = torch.ones_like(present[:, :1])
        absent, weight = "include", None
    if score == "dice":
        s = _ratio(2 * inter + smooth, p_sum + y_sum + smooth)
    elif score == "jaccard":
        s = _ratio(inter + smooth, p_sum + y_sum - inter + smooth)
    else:  # tversky: alpha weighs false positives, beta false negatives
        s = _ratio(inter + smooth, inter + alpha * (p_sum - inter) + beta * (y_sum - inter) + smooth)
    loss_c = (1 - s).clamp_min(0)
    if gamma != 1.0:  # 0**gamma through a safe base: the slope of x**gamma (gamma < 1) at 0 is inf, and
        # inf * 0 (a perfect score's zero tangent) would be NaN in forward mode; the derivative there is 0.
        # NaN stays NaN, for the result check
        zero = loss_c == 0
        base = torch.where(zero, torch.ones_like(loss_c), loss_c)
        loss_c = torch.where(zero, torch.zeros_like(loss_c), base**gamma)
    loss, denom = _per_sample(loss_c, present, weight, absent)
    out = _finish(loss, denom, aggregate, reduction, sample_weight, num_items)
    return V.check_result(out, mode, [("input", input)])


def dice_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    smooth: float = 0.0,
    squared_denominator: bool = False,
    aggregate: str = "sample",
    average: str = "macro",
    absent: str = "ignore",
    activation: str = "auto",
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Soft Dice loss, one minus the soft Sørensen–Dice coefficient.

    .. math::

        \\ell_c = 1 - \\frac{2\\sum_i p_{ic} y_{ic} + s}{\\sum_i p_{ic} + \\sum_i y_{ic} + s}

    (with ``squared_denominator``, V-Net's :math:`\\sum p^2 + \\sum y^2`), averaged
    over classes by ``average`` under the empty-mask rule ``absent`` (see the
    module docstring). smp's ``smooth`` is added as 2s here: smp 0.6 computes
    Dice as a Tversky score, :math:`(I + s)/(\\tfrac12(\\sum p + \\sum y) + s)`.
    kornia's ``dice_loss`` is ``aggregate="sample"``, ``absent="ignore"`` with
    ``average`` its own (its eps is in the denominator only).

    Args:
      smooth: added to numerator and denominator, >= 0.
      weight: class weights (C,) of the macro mean (or the pooled micro sums).

    References:
      Milletari, Navab & Ahmadi, *V-Net*, 3DV 2016; Sudre et al., *Generalised
      Dice overlap as a deep learning loss function for highly unbalanced
      segmentations*, DLMIA 2017.
    """
    return _overlap(input, target, "dice", smooth=smooth, squared_denominator=squared_denominator,
                    aggregate=aggregate, average=average, absent=absent, activation=activation, weight=weight,
                    ignore_index=ignore_index, reduction=reduction, sample_weight=sample_weight,
                    num_items=num_items, validate=validate)


def jaccard_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    smooth: float = 0.0,
    aggregate: str = "sample",
    average: str = "macro",
    absent: str = "ignore",
    activation: str = "auto",
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Soft Jaccard (IoU) loss.

    .. math::

        \\ell_c = 1 - \\frac{\\sum_i p_{ic} y_{ic} + s}{\\sum_i p_{ic} + \\sum_i y_{ic} - \\sum_i p_{ic} y_{ic} + s}

    Options and the empty-mask rule as in :func:`dice_loss`. smp's
    ``JaccardLoss`` is ``aggregate="batch"``, ``absent="zero"``.

    References:
      Rahman & Wang, *Optimizing Intersection-Over-Union in Deep Neural Networks
      for Image Segmentation*, ISVC 2016.
    """
    return _overlap(input, target, "jaccard", smooth=smooth, aggregate=aggregate, average=average, absent=absent,
                    activation=activation, weight=weight, ignore_index=ignore_index, reduction=reduction,
                    sample_weight=sample_weight, num_items=num_items, validate=validate)


def tversky_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float = 0.5,
    beta: float = 0.5,
    smooth: float = 0.0,
    aggregate: str = "sample",
    average: str = "macro",
    absent: str = "ignore",
    activation: str = "auto",
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Tversky loss: Dice with false positives weighted by α and false negatives by β.

    .. math::

        \\ell_c = 1 - \\frac{TP_c + s}{TP_c + \\alpha\\,FP_c + \\beta\\,FN_c + s},
        \\quad TP = \\sum p y,\\; FP = \\sum p(1 - y),\\; FN = \\sum (1 - p) y

    α = β = ½ is Dice (for ``smooth=0``), α = β = 1 Jaccard; β > α favours recall
    (small lesions). α on FP, β on FN, as smp and kornia. Options and the
    empty-mask rule as in :func:`dice_loss`.

    References:
      Salehi, Erdogmus & Gholipour, *Tversky loss function for image segmentation
      using 3D fully convolutional deep networks*, MLMI 2017.
    """
    alpha = V.check_interval(alpha, "alpha", 0.0, float("inf"), high_open=True)
    beta = V.check_interval(beta, "beta", 0.0, float("inf"), high_open=True)
    return _overlap(input, target, "tversky", alpha=alpha, beta=beta, smooth=smooth, aggregate=aggregate,
                    average=average, absent=absent, activation=activation, weight=weight,
                    ignore_index=ignore_index, reduction=reduction, sample_weight=sample_weight,
                    num_items=num_items, validate=validate)


def focal_tversky_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float = 0.3,
    beta: float = 0.7,
    gamma: float = 0.75,
    smooth: float = 0.0,
    aggregate: str = "sample",
    average: str = "macro",
    absent: str = "ignore",
    activation: str = "auto",
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Focal Tversky loss: each class's Tversky loss raised to γ before the class mean.

    .. math::

        \\ell_c = \\big(1 - TI_c\\big)^{\\gamma}

    with :math:`TI_c` the Tversky index of :func:`tversky_loss`. γ < 1 focuses
    on hard, poorly segmented classes; the paper's exponent is :math:`1/\\gamma`
    with its γ = 4/3, i.e. ``gamma=0.75`` here, and its FN weight 0.7 is
    ``beta``. smp's ``TverskyLoss(gamma=...)`` raises the *mean* over classes to
    γ instead; the two agree for one class.

    References:
      Abraham & Khan, *A Novel Focal Tversky loss function with improved Attention
      U-Net for lesion segmentation*, ISBI 2019.
    """
    alpha = V.check_interval(alpha, "alpha", 0.0, float("inf"), high_open=True)
    beta = V.check_interval(beta, "beta", 0.0, float("inf"), high_open=True)
    gamma = V.check_positive(gamma, "gamma")
    return _overlap(input, target, "tversky", alpha=alpha, beta=beta, gamma=gamma, smooth=smooth,
                    aggregate=aggregate, average=average, absent=absent, activation=activation, weight=weight,
                    ignore_index=ignore_index, reduction=reduction, sample_weight=sample_weight,
                    num_items=num_items, validate=validate)


# ------------------------------------------------------------------ Lovász


def _lovasz(
    errors: torch.Tensor, y: torch.Tensor, key: torch.Tensor
) -> torch.Tensor:
    """Σ_k e_(k) g_k over the last dim: errors sorted by ``key`` (descending) against the Lovász gradient g
    of the Jaccard loss at the sorted ground truth (Berman et al., Alg. 1)."""
    order = torch.sort(key, dim=-1, descending=True).indices
    e = errors.gather(-1, order)
    gt = y.gather(-1, order)
    total = gt.sum(-1, keepdim=True)
    inter = total - gt.cumsum(-1)
    union = total + (1 - gt).cumsum(-1)
    jac = 1 - inter / union  # union >= 1 from the first pixel on
    grad = torch.cat([jac[..., :1], jac[..., 1:] - jac[..., :-1]], dim=-1)
    return (e * grad).sum(-1)


def _pool(t: torch.Tensor, aggregate: str) -> torch.Tensor:
    """(N, C, P) -> (1, C, N*P) for aggregate='batch'."""
    if aggregate == "sample":
        return t
    return t.transpose(0, 1).reshape(1, t.shape[1], t.shape[0] * t.shape[2])


def lovasz_softmax_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    classes: str = "present",
    aggregate: str = "sample",
    activation: str = "auto",
    ignore_index: int = -100,
    reduction: str = "mean",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Lovász-softmax loss: the Lovász extension of the Jaccard loss on the probability errors.

    .. math::

        \\ell_c = \\sum_k e_{(k)c}\\, g_k\\big(y_{\\pi c}\\big), \\qquad e_{ic} = |y_{ic} - p_{ic}|

    with the errors sorted in decreasing order (π) and :math:`g` the gradient of
    the Jaccard loss along that order (Berman et al., Alg. 1), averaged over the
    classes present in the target (``classes="present"``, Berman's and smp's
    default; a sample with none has weight 0) or over all (``"all"``, kornia's).
    ``aggregate="sample"`` is smp's ``per_image=True`` (kornia's), ``"batch"``
    smp's default ``per_image=False``.

    References:
      Berman, Rannen Triki & Blaschko, *The Lovász-Softmax loss: A tractable
      surrogate for the optimization of the intersection-over-union measure in
      neural networks*, CVPR 2018.
    """
    V.check_reduction(reduction)
    V.check_choice(classes, "classes", LOVASZ_CLASSES)
    V.check_choice(aggregate, "aggregate", AGGREGATES)
    if aggregate == "batch":
        V.check_batch_aggregate(reduction, sample_weight, num_items)
    mode = V.value_mode(validate, input)
    p, y, valid = _masks(input, target, activation=activation, ignore_index=ignore_index, validate=validate)
    errors = (y - p).abs()
    # ignored pixels sort last (errors lie in [0, 1]) and add nothing: their error and ground truth are 0
    key = errors if valid is None else torch.where(valid > 0, errors, torch.full_like(errors, -1.0))
    errors, y, key = (_pool(t, aggregate) for t in (errors, y, key))
    loss_c = _lovasz(errors, y, key)
    present = y.sum(-1) > 0
    loss, denom = _per_sample(loss_c, present, None, "ignore" if classes == "present" else "include")
    out = _finish(loss, denom, aggregate, reduction, sample_weight, num_items)
    return V.check_result(out, mode, [("input", input)])


def lovasz_hinge_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    aggregate: str = "sample",
    ignore_index: int = -100,
    reduction: str = "mean",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Lovász hinge loss: the Lovász extension of the Jaccard loss on hinge errors of binary logits.

    .. math::

        \\ell_c = \\sum_k \\max\\big(0, e_{(k)c}\\big)\\, g_k\\big(y_{\\pi c}\\big),
        \\qquad e_{ic} = 1 - x_{ic}(2 y_{ic} - 1)

    ``input`` holds logits; each channel is a binary problem (C = 1: a binary
    mask, smp's and kornia's case; with class indices and C > 1, one-vs-rest per
    class), averaged over the channels. Float masks must be hard (0 or 1).
    ``aggregate`` as in :func:`lovasz_softmax_loss` (kornia: per sample).

    References:
      Berman, Rannen Triki & Blaschko, CVPR 2018; Yu & Blaschko, *Learning
      Submodular Losses with the Lovász Hinge*, ICML 2015.
    """
    V.check_reduction(reduction)
    V.check_choice(aggregate, "aggregate", AGGREGATES)
    if aggregate == "batch":
        V.check_batch_aggregate(reduction, sample_weight, num_items)
    mode = V.value_mode(validate, input)
    x, y, valid = _masks(input, target, activation="none", ignore_index=ignore_index, validate=validate, hard=True)
    errors = 1 - x * (2 * y - 1)
    if valid is not None:
        keep = valid > 0
        key = torch.where(keep, errors, torch.full_like(errors, -torch.inf))
        errors = torch.where(keep, errors, torch.zeros_like(errors))
    else:
        key = errors
    errors, y, key = (_pool(t, aggregate) for t in (errors, y, key))
    loss_c = _lovasz(F.relu(errors), y, key)
    loss = loss_c.mean(1)
    out = _finish(loss, None if valid is None else torch.ones_like(loss), aggregate, reduction, sample_weight,
                  num_items)
    return V.check_result(out, mode, [("input", input)])


# ------------------------------------------------------------------ Dice + cross-entropy


def dice_ce_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    lambda_dice: float = 1.0,
    lambda_ce: float = 1.0,
    smooth: float = 0.0,
    absent: str = "ignore",
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Dice + cross-entropy, the common default of medical segmentation (MONAI's ``DiceCELoss``).

    .. math::

        \\ell = \\lambda_{dice}\\,\\ell_{dice} + \\lambda_{ce}\\,\\frac{1}{|V|}\\sum_{i \\in V} \\ell_{CE}(x_i, y_i)

    per sample, with :math:`\\ell_{dice}` of :func:`dice_loss` (macro, per sample)
    and the cross-entropy averaged over the sample's valid pixels :math:`V`
    (binary cross-entropy on logits when C = 1). The CE term keeps a gradient on
    every pixel where Dice has none (an empty mask under ``absent="ignore"``).
    ``weight`` is used by both terms. MONAI's defaults are ``smooth=1e-5``,
    ``absent="include"``.

    References:
      Isensee et al., *nnU-Net*, Nature Methods 18, 2021; Taghanaki et al.,
      *Combo loss*, CMIG 2019.
    """
    V.check_reduction(reduction)
    lambda_dice = V.check_interval(lambda_dice, "lambda_dice", 0.0, float("inf"), high_open=True)
    lambda_ce = V.check_interval(lambda_ce, "lambda_ce", 0.0, float("inf"), high_open=True)
    is_index = V.check_segmentation(input, target)
    dice = dice_loss(input, target, smooth=smooth, absent=absent, weight=weight, ignore_index=ignore_index,
                     reduction="none", validate=validate)
    if input.shape[1] == 1:  # binary cross-entropy on logits, averaged over the valid pixels
        rows = (input.shape[0], math.prod(input.shape[1:]))
        x = input.to(compute_dtype(input)).reshape(rows)
        y = target.to(x.dtype).reshape(rows)
        valid = torch.ones_like(x) if not is_index else (target.reshape(rows) != ignore_index).to(x.dtype)
        y = y * valid
        pixel = (y * F.softplus(-x) + (1 - y) * F.softplus(x)) * valid
        count = valid.sum(1)
        ce = torch.where(count > 0, pixel.sum(1) / count.clamp_min(1), torch.zeros_like(count))
    else:
        ce = cross_entropy(input, target, weight=weight, ignore_index=ignore_index, reduction="per_sample",
                           validate=validate)
    values = lambda_dice * dice + lambda_ce * ce
    return reduce_loss(values, reduction, sample_weight=sample_weight, num_items=num_items)
