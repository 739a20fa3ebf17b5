"""Classification losses robust to label noise: GCE, SCE, NCE (+RCE, +MAE), focal and Poly-1.

Same conventions as :mod:`losskit.functional.classification`: class
dimension 1, ``target`` of class indices (N, d1, ...) or probabilities
shaped like ``input``, ``input_kind`` in ``"logits" | "probs" | "log_probs"``,
``ignore_index`` and ``label_smoothing`` as in cross-entropy, and the one
reduction rule of :mod:`losskit._reduce`.

Notation: :math:`p = \\operatorname{softmax}(\\text{input})` over dim 1,
:math:`p_y` the probability of the labelled class. For probability (or
smoothed) targets :math:`y`, a loss of the form :math:`g(p_y)` becomes its
expectation under the target, :math:`\\sum_k y_k\\, g(p_k)`; that is how
each formula below reads for soft labels.

Class weights (``weight``, shape (C,)) follow one rule for this whole
family: each position's loss is multiplied by its target's class weight
(:math:`\\sum_c w_c y_c` for probability targets) and the weighted mean
divides by the sum of those weights. For index targets this is exactly
cross-entropy's rule.

Every loss here is finite, with finite gradients, for logits up to
:math:`\\pm 10^4` and for probabilities that underflow to 0 or round to 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .. import _validate as V
from .._types import InputKind, Reduction, Validate
from ._prep import ClassBatch, Number, class_view, prepare_classification
from ._stable import exprel, split

__all__ = ["focal_loss", "gce_loss", "nce_loss", "nce_mae_loss", "nce_rce_loss", "poly1_loss", "sce_loss"]

Elementwise = Callable[[torch.Tensor], torch.Tensor]


# ------------------------------------------------------------------ building blocks


def _prepare(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    input_kind: str,
    weight: torch.Tensor | None,
    ignore_index: int,
    label_smoothing: float,
    validate: Validate,
    min_classes: int = 1,
    loss_name: str = "",
) -> ClassBatch:
    b = prepare_classification(
        input, target, input_kind=input_kind, weight=weight, ignore_index=ignore_index,
        label_smoothing=label_smoothing, validate=validate,
    )
    if min_classes > 1 and b.num_classes < min_classes:
        raise V.LossInputError(
            f"{loss_name} needs at least {min_classes} classes along dim 1, but input has {b.num_classes}; "
            f"its normaliser is a sum over the classes, which is 0 with a single class."
        )
    return b


def _expected(
    b: ClassBatch, g: Elementwise, label_smoothing: float, class_coef: torch.Tensor | None = None
) -> torch.Tensor:
    """:math:`\\sum_k y_k a_k g(\\log p_k)`: ``g`` at the labelled class for plain indices.

    ``class_coef`` is an optional per-class factor :math:`a` (focal's alpha).
    Classes of zero target probability contribute exactly 0, even where
    ``log p_k = -inf`` (a ``log_probs`` input), with zero gradient.
    """
    if b.index is not None and not label_smoothing:
        values = g(b.target_log_p())
        return values if class_coef is None else values * class_coef[b.index]
    y = b.dense_target(label_smoothing)
    if class_coef is not None:
        y = y * class_view(class_coef, y.dim())
    present = y > 0
    log_p = torch.where(present, b.log_p, torch.zeros_like(b.log_p))
    return torch.where(present, y * g(log_p), torch.zeros_like(y)).sum(1)


def _neg_log(log_p: torch.Tensor) -> torch.Tensor:
    return -log_p


def _one_minus_p(log_p: torch.Tensor) -> torch.Tensor:
    # 1 - p without cancellation as p -> 1
    return -torch.expm1(log_p)


def _cross_entropy(b: ClassBatch, label_smoothing: float) -> torch.Tensor:
    return _expected(b, _neg_log, label_smoothing)


def _reverse_cross_entropy(b: ClassBatch, label_smoothing: float, A: float) -> torch.Tensor:
    """:math:`-\\sum_k p_k \\max(\\log y_k, A)`, which is :math:`-A(1 - p_y)` for one-hot labels."""
    if b.index is not None and not label_smoothing:
        return -A * _one_minus_p(b.target_log_p())
    y = b.dense_target(label_smoothing)
    # log y clipped at A; log 0 = -inf is never formed
    present = y > math.exp(A)
    log_q = torch.where(present, torch.log(torch.where(present, y, torch.ones_like(y))), torch.full_like(y, A))
    return -(b.probs() * log_q).sum(1)


def _normalized_cross_entropy(b: ClassBatch, label_smoothing: float) -> torch.Tensor:
    # the denominator is >= C log C > 0 for C >= 2 (its minimum is at the uniform p)
    return _cross_entropy(b, label_smoothing) / (-b.log_p).sum(1)


def _check_nonnegative_pair(alpha: float, beta: float) -> tuple[float, float]:
    alpha = V.check_interval(alpha, "alpha", 0.0, math.inf, high_open=True)
    beta = V.check_interval(beta, "beta", 0.0, math.inf, high_open=True)
    return alpha, beta


def _check_A(A: float) -> float:
    return V.check_interval(A, "A", -math.inf, 0.0, low_open=True, high_open=True)


# ------------------------------------------------------------------ losses


def gce_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    q: float = 0.7,
    input_kind: InputKind = "logits",
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: Reduction = "mean",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Generalized cross-entropy (the :math:`L_q` loss), between CE and MAE.

    .. math::

        \\ell = \\frac{1 - p_y^{\\,q}}{q}, \\qquad q \\in (0, 1]

    The Box–Cox transform of :math:`p_y`: :math:`q \\to 0` gives
    cross-entropy :math:`-\\log p_y`, :math:`q = 1` gives :math:`1 - p_y`
    (half of :func:`softmax_mae_loss`). Its gradient is that of CE scaled by
    :math:`p_y^{\\,q}`, so samples the model finds implausible (likely
    mislabelled) weigh less. Computed as :math:`-\\operatorname{expm1}(q
    \\log p_y)/q`, accurate for small :math:`q` and with a finite gradient
    when :math:`p_y` underflows.

    Args:
      q: the exponent, in (0, 1]; the paper uses 0.7.

    References:
      Zhang & Sabuncu, *Generalized Cross Entropy Loss for Training Deep
      Neural Networks with Noisy Labels*, NeurIPS 2018.
    """
    q = V.check_interval(q, "q", 0.0, 1.0, low_open=True)
    b = _prepare(input, target, input_kind=input_kind, weight=weight, ignore_index=ignore_index,
                 label_smoothing=label_smoothing, validate=validate)
    values = _expected(b, lambda log_p: _box_cox(log_p, q), label_smoothing)
    return b.reduce(values, reduction, sample_weight=sample_weight, num_items=num_items)


def sce_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float = 0.1,
    beta: float = 1.0,
    A: float = -4.0,
    input_kind: InputKind = "logits",
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: Reduction = "mean",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Symmetric cross-entropy: cross-entropy plus reverse cross-entropy.

    .. math::

        \\ell = \\alpha\\,\\mathrm{CE} + \\beta\\,\\mathrm{RCE}, \\qquad
        \\mathrm{RCE} = -\\sum_k p_k \\max(\\log y_k, A) = -A\\,(1 - p_y)
        \\text{ for a one-hot } y

    RCE swaps the roles of prediction and label; it is bounded and robust to
    label noise, while the CE term keeps learning fast. ``A`` is the value
    given to :math:`\\log 0`: the paper uses :math:`A = -4`; the authors'
    released code clips the labels at :math:`10^{-4}` instead, i.e.
    :math:`A = \\log 10^{-4} \\approx -9.21`, which multiplies RCE by about
    2.3 (pass ``A=math.log(1e-4)`` to reproduce it). The authors' code also
    clips the predicted probabilities at :math:`10^{-7}`; losskit does not.

    Args:
      alpha: weight of CE, >= 0 (0.1 in the paper's CIFAR-10 runs).
      beta: weight of RCE, >= 0.
      A: :math:`\\log 0` substitute, < 0.

    References:
      Wang, Ma, Chen, Luo, Yi & Bailey, *Symmetric Cross Entropy for Robust
      Learning with Noisy Labels*, ICCV 2019.
    """
    alpha, beta = _check_nonnegative_pair(alpha, beta)
    A = _check_A(A)
    b = _prepare(input, target, input_kind=input_kind, weight=weight, ignore_index=ignore_index,
                 label_smoothing=label_smoothing, validate=validate)
    values = alpha * _cross_entropy(b, label_smoothing) + beta * _reverse_cross_entropy(b, label_smoothing, A)
    return b.reduce(values, reduction, sample_weight=sample_weight, num_items=num_items)


def nce_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    input_kind: InputKind = "logits",
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: Reduction = "mean",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Normalized cross-entropy: CE of the label over the CE of every class.

    .. math::

        \\ell = \\frac{-\\log p_y}{\\sum_{j=1}^{C} -\\log p_j} \\in [0, 1]

    Normalising makes any loss robust to symmetric label noise, but alone it
    underfits (it is a "passive" loss); pair it with an active one, as in
    :func:`nce_rce_loss` and :func:`nce_mae_loss`. Needs :math:`C \\ge 2`.

    References:
      Ma, Huang, Wang, Romano, Erfani & Bailey, *Normalized Loss Functions
      for Deep Learning with Noisy Labels*, ICML 2020.
    """
    b = _prepare(input, target, input_kind=input_kind, weight=weight, ignore_index=ignore_index,
                 label_smoothing=label_smoothing, validate=validate, min_classes=2, loss_name="nce_loss")
    values = _normalized_cross_entropy(b, label_smoothing)
    return b.reduce(values, reduction, sample_weight=sample_weight, num_items=num_items)


def nce_rce_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
    A: float = -4.0,
    input_kind: InputKind = "logits",
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: Reduction = "mean",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Active-passive loss NCE+RCE: normalized CE plus reverse CE.

    .. math::

        \\ell = \\alpha\\,\\frac{-\\log p_y}{\\sum_j -\\log p_j} + \\beta\\,(-A)(1 - p_y)

    (RCE as in :func:`sce_loss`, with :math:`\\log 0 = A`.) Both terms are
    robust; NCE is the active term, RCE the passive one that keeps the fit
    from underfitting.

    Args:
      alpha: weight of NCE, >= 0.
      beta: weight of RCE, >= 0.
      A: :math:`\\log 0` substitute in RCE, < 0 (the paper uses -4).

    References:
      Ma, Huang, Wang, Romano, Erfani & Bailey, *Normalized Loss Functions
      for Deep Learning with Noisy Labels*, ICML 2020.
    """
    alpha, beta = _check_nonnegative_pair(alpha, beta)
    A = _check_A(A)
    b = _prepare(input, target, input_kind=input_kind, weight=weight, ignore_index=ignore_index,
                 label_smoothing=label_smoothing, validate=validate, min_classes=2, loss_name="nce_rce_loss")
    values = (alpha * _normalized_cross_entropy(b, label_smoothing)
              + beta * _reverse_cross_entropy(b, label_smoothing, A))
    return b.reduce(values, reduction, sample_weight=sample_weight, num_items=num_items)


def nce_mae_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
    input_kind: InputKind = "logits",
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: Reduction = "mean",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Active-passive loss NCE+MAE: normalized CE plus MAE on probabilities.

    .. math::

        \\ell = \\alpha\\,\\frac{-\\log p_y}{\\sum_j -\\log p_j}
        + \\beta \\sum_k |y_k - p_k|

    The MAE term is losskit's :func:`softmax_mae_loss`, :math:`2(1 - p_y)`
    for one-hot labels; the authors' code uses :math:`1 - p_y`, so their
    ``beta`` is twice the one to pass here.

    Args:
      alpha: weight of NCE, >= 0.
      beta: weight of MAE, >= 0.

    References:
      Ma, Huang, Wang, Romano, Erfani & Bailey, *Normalized Loss Functions
      for Deep Learning with Noisy Labels*, ICML 2020.
    """
    alpha, beta = _check_nonnegative_pair(alpha, beta)
    b = _prepare(input, target, input_kind=input_kind, weight=weight, ignore_index=ignore_index,
                 label_smoothing=label_smoothing, validate=validate, min_classes=2, loss_name="nce_mae_loss")
    values = alpha * _normalized_cross_entropy(b, label_smoothing) + beta * b.probability_mae(label_smoothing)
    return b.reduce(values, reduction, sample_weight=sample_weight, num_items=num_items)


def _focal_term(log_p: torch.Tensor, gamma: float) -> torch.Tensor:
    """:math:`(1 - p)^{\\gamma}\\,(-l)` of :math:`l = \\log p`, in plain differentiable ops.

    Written as :math:`m^{\\gamma + 1} B(l)` with :math:`m = 1 - p = -\\operatorname{expm1}(l)`
    and :math:`B(l) = l / \\operatorname{expm1}(l)` (smooth, 1 at :math:`l = 0`): autograd
    through ``pow`` of the naive form gives :math:`0 \\cdot \\infty = \\mathrm{NaN}` at
    :math:`p = 1` for :math:`\\gamma < 1`, while here the exponent is at least 1, so the
    gradient is finite there (0 for :math:`\\gamma > 0`, -1 for :math:`\\gamma = 0`), and
    forward mode, vmap and double backward all work. :math:`l = -\\infty` (a zero
    probability) gives :math:`-l = \\infty` with gradient -1.
    """
    finite = torch.isfinite(log_p)
    l_finite, l_inf = split(finite, log_p, -1.0)
    m = -torch.expm1(l_finite)
    b = torch.reciprocal(exprel(l_finite))
    return torch.where(finite, torch.pow(m, gamma + 1.0) * b, -l_inf)


def _box_cox(log_p: torch.Tensor, q: float) -> torch.Tensor:
    """:math:`(1 - p^q)/q = -\\operatorname{expm1}(q l)/q`, as :math:`-l \\cdot \\operatorname{expm1}(ql)/(ql)`
    where :math:`|ql|` is small: exact as :math:`q \\to 0` (cross-entropy), even when
    :math:`q` underflows in the compute dtype."""
    x = q * log_p
    small = x.abs() < 1e-4
    l_small, l_big = split(small, log_p, -1.0)
    return torch.where(small, -l_small * exprel(q * l_small), -torch.expm1(q * l_big) / q)


def focal_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    gamma: float = 2.0,
    alpha: torch.Tensor | None = None,
    input_kind: InputKind = "logits",
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: Reduction = "mean",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Focal loss: cross-entropy down-weighted on well-classified samples.

    .. math::

        \\ell = -\\alpha_y\\,(1 - p_y)^{\\gamma} \\log p_y

    :math:`\\gamma = 0` is cross-entropy (with ``alpha`` as class weights
    inside the loss). Larger :math:`\\gamma` focuses training on hard,
    misclassified samples. The gradient is exact and finite everywhere,
    including :math:`p_y \\to 1` with :math:`0 < \\gamma < 1`, where the
    naive form gives NaN.

    ``alpha`` scales each class's loss but, unlike ``weight``, does not enter
    the mean's denominator (as in the paper, where the loss is normalised by
    a count of samples).

    Args:
      gamma: focusing parameter, >= 0 (2 in the paper).
      alpha: optional per-class factors :math:`\\alpha_c`, shape (C,), >= 0.

    References:
      Lin, Goyal, Girshick, He & Dollár, *Focal Loss for Dense Object
      Detection*, ICCV 2017.
    """
    gamma = V.check_interval(gamma, "gamma", 0.0, math.inf, high_open=True)
    b = _prepare(input, target, input_kind=input_kind, weight=weight, ignore_index=ignore_index,
                 label_smoothing=label_smoothing, validate=validate)
    coef = None
    if alpha is not None:
        V.check_class_weight(alpha, b.num_classes, name="alpha")
        if V.resolve(validate):
            V.check_finite(alpha, "alpha")
            V.check_nonnegative(alpha, "alpha")
        coef = alpha.to(b.log_p.dtype)
    values = _expected(b, lambda log_p: _focal_term(log_p, gamma), label_smoothing, coef)
    return b.reduce(values, reduction, sample_weight=sample_weight, num_items=num_items)


def poly1_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    epsilon: float = 1.0,
    input_kind: InputKind = "logits",
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: Reduction = "mean",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Poly-1 loss: cross-entropy plus a tunable first polynomial term.

    .. math::

        \\ell = -\\log p_y + \\varepsilon\\,(1 - p_y)

    In the expansion :math:`-\\log p_y = \\sum_{j\\ge1} (1 - p_y)^j / j`,
    Poly-1 perturbs the leading coefficient by :math:`\\varepsilon`.
    :math:`\\varepsilon = 0` is cross-entropy. With soft or smoothed targets
    :math:`p_y` becomes :math:`\\sum_k y_k p_k`, as in the paper.

    Args:
      epsilon: the perturbation, >= -1 (below -1 the loss would reward a
        lower :math:`p_y` near :math:`p_y = 1`).

    References:
      Leng, Xu, Tan, Chen, Cubuk, Zoph, Anguelov & Tan, *PolyLoss: A
      Polynomial Expansion Perspective of Classification Loss Functions*, ICLR 2022.
    """
    epsilon = V.check_interval(epsilon, "epsilon", -1.0, math.inf, high_open=True)
    b = _prepare(input, target, input_kind=input_kind, weight=weight, ignore_index=ignore_index,
                 label_smoothing=label_smoothing, validate=validate)
    values = _cross_entropy(b, label_smoothing) + epsilon * _expected(b, _one_minus_p, label_smoothing)
    return b.reduce(values, reduction, sample_weight=sample_weight, num_items=num_items)
