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

import torch

from ._prep import Number, class_view, prepare_classification

__all__ = ["cross_entropy", "kl_div", "softmax_mae_loss"]


def cross_entropy(
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
    validate: bool | None = None,
) -> torch.Tensor:
    """Cross-entropy between the target distribution and the predicted one.

    .. math::

        \\ell = -\\sum_c w_c\\, y'_c \\log \\hat p_c, \\qquad
        y' = (1 - \\varepsilon)\\, y + \\varepsilon / C

    with :math:`y` the one-hot or probability target, :math:`\\varepsilon`
    the label smoothing and :math:`w` the class weights. Learns fast, but a
    wrong label costs :math:`-\\log \\hat p_y`, unbounded, so noisy labels
    get memorised.

    Equals :func:`torch.nn.functional.cross_entropy` for every option they
    share, with two deliberate differences: a mean over zero items (every
    target ignored) is 0 rather than NaN, and with class weights *and*
    probability targets ``"mean"`` divides by :math:`\\sum_i \\sum_c w_c y_{ic}`
    (torch divides by N), the same rule as for class indices.

    Args:
      input: scores (N, C, ...) as ``input_kind`` says.
      target: class indices (N, ...) or probabilities (N, C, ...).
      weight: class weights, shape (C,).
      ignore_index: index targets equal to it count neither in the loss nor
        in the mean's denominator.
      label_smoothing: :math:`\\varepsilon \\in [0, 1]`.

    References:
      Shannon, *A Mathematical Theory of Communication*, 1948; Szegedy et al.,
      *Rethinking the Inception Architecture*, CVPR 2016 (label smoothing).
    """
    b = prepare_classification(
        input, target, input_kind=input_kind, weight=weight, ignore_index=ignore_index,
        label_smoothing=label_smoothing, validate=validate,
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
        # log p = -inf (input_kind="log_probs" accepts -inf), with a finite gradient.
        log_p = torch.where(y > 0, b.log_p, torch.zeros_like(b.log_p))
        values = -(y * log_p).sum(1)
    # class weights are already inside ``values``; the denominator still needs them
    return b.reduce(values, reduction, sample_weight=sample_weight, num_items=num_items, preweighted=True)


def kl_div(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    input_kind: str = "logits",
    target_kind: str = "probs",
    reduction: str = "mean",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: bool | None = None,
) -> torch.Tensor:
    """Kullback–Leibler divergence KL(target ‖ prediction), summed over classes.

    .. math::

        \\ell = \\sum_c y_c \\log \\frac{y_c}{\\hat p_c},
        \\qquad 0 \\log 0 = 0

    ``"mean"`` averages over samples (and positions): torch's
    ``reduction="batchmean"``. torch's own ``"mean"`` also divides by the
    number of classes, which is not the KL divergence. Since
    :math:`\\mathrm{KL}(y\\|\\hat p) = \\mathrm{CE}(y, \\hat p) - H(y)` and
    :math:`H(y)` does not depend on the model, KL and cross-entropy have the
    same gradients with respect to ``input``.

    Unlike torch, the *input* is logits by default (``input_kind``); torch's
    log-probability input gives the same value. Zero target probabilities
    contribute 0 with finite gradients (the double-``where`` form, not
    ``y * log(y)``).

    Args:
      target_kind: ``"probs"`` or ``"log_probs"`` (torch's ``log_target=True``).

    References:
      Kullback & Leibler, *On Information and Sufficiency*, Ann. Math. Statist. 22(1), 1951.
    """
    b = prepare_classification(
        input, target, input_kind=input_kind, target_kind=target_kind, allow_index=False,
        validate=validate,
    )
    y = b.probs_target
    if b.log_probs_target is not None:
        t = b.log_probs_target
        finite = t > -torch.inf
        log_y = torch.where(finite, t, torch.zeros_like(t))
        values = torch.where(finite, y * (log_y - b.log_p), torch.zeros_like(t)).sum(1)
    else:
        positive = y > 0
        log_y = torch.log(torch.where(positive, y, torch.ones_like(y)))
        values = torch.where(positive, y * (log_y - b.log_p), torch.zeros_like(y)).sum(1)
    return b.reduce(values, reduction, sample_weight=sample_weight, num_items=num_items)


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
    validate: bool | None = None,
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
