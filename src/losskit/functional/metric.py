"""Metric learning: contrastive losses on labelled embeddings, and torch's triplet and cosine embedding losses.

``info_nce_loss`` (NT-Xent) and ``supcon_loss`` take embeddings (N, D) and
integer labels (N,): samples that share a label are positives of each other.
For SimCLR's two views of N images, pass ``torch.cat([z1, z2])`` with labels
``torch.arange(N).repeat(2)``. Their loss is one value per anchor; the rules:

* similarities are cosines divided by the temperature and every sum of
  exponentials is a log-sum-exp, so temperature 0.01 (scores of ±100, beyond
  float32's ``exp``) and duplicate embeddings (cosine exactly 1) stay finite;
* an anchor without a positive has loss 0 and is left out of the mean (its
  weight in the denominator is 0), so a batch without any positive pair gives
  0 with zero gradients, never NaN;
* ``"mean"`` averages over the anchors that have a positive.

``triplet_margin_loss`` and ``cosine_embedding_loss`` take torch's parameters in
torch's order and give torch's values (a mean over zero items is 0, not NaN).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import torch
import torch.nn.functional as F

from .. import _validate as V
from .._reduce import reduce_loss
from .._types import Validate
from ._prep import _REAL_TYPES, Number, TorchCall, compute_dtype, torch_op_loss

__all__ = ["cosine_embedding_loss", "info_nce_loss", "nt_xent_loss", "supcon_loss", "triplet_margin_loss"]

# torch's cosine_embedding_loss adds this to each squared norm
_COSINE_EPS = 1e-12
# torch's ops, which take the reduction as its enum value (their stubs spell it as str)
_triplet = cast("Callable[..., torch.Tensor]", torch.triplet_margin_loss)
_cosine = cast("Callable[..., torch.Tensor]", torch.cosine_embedding_loss)


def _similarities(
    embeddings: torch.Tensor, labels: torch.Tensor, temperature: float, validate: Validate
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cosine similarities over the temperature (N, N), the positive mask and the mask of the other samples."""
    V.check_embeddings(embeddings, labels)
    temperature = V.check_positive(temperature, "temperature")
    if V.resolve(validate):
        V.check_finite(embeddings, "embeddings")
    z = F.normalize(embeddings.to(compute_dtype(embeddings)), dim=1)
    with torch.autocast(z.device.type, enabled=False):  # keep the similarities in the compute dtype
        s = z @ z.T / temperature
    n = embeddings.shape[0]
    others = ~torch.eye(n, dtype=torch.bool, device=embeddings.device)
    positive = (labels.unsqueeze(0) == labels.unsqueeze(1)) & others
    return s, positive, others


def _masked_logsumexp(s: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Row-wise log-sum-exp over ``mask``; a row with nothing in it gives the dtype's lowest value (finite),
    so that later terms vanish instead of turning into inf - inf."""
    low = torch.finfo(s.dtype).min
    return torch.logsumexp(torch.where(mask, s, torch.full_like(s, low)), dim=1)


def _per_anchor(
    pair_loss: torch.Tensor,
    positive: torch.Tensor,
    reduction: str,
    sample_weight: torch.Tensor | None,
    num_items: Number | None,
) -> torch.Tensor:
    """Each anchor's mean loss over its positives; anchors without one get 0 and weight 0 in the mean."""
    count = positive.sum(1).to(pair_loss.dtype)
    total = torch.where(positive, pair_loss, torch.zeros_like(pair_loss)).sum(1)
    has = count > 0
    values = torch.where(has, total / torch.where(has, count, torch.ones_like(count)), torch.zeros_like(total))
    return reduce_loss(values, reduction, denom=has.to(values.dtype), sample_weight=sample_weight,
                       num_items=num_items)


def info_nce_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    *,
    temperature: float = 0.07,
    reduction: str = "mean",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """InfoNCE / NT-Xent: each positive against the anchor's negatives, with cosine similarity (SimCLR).

    .. math::

        \\ell_{ap} = -\\log \\frac{e^{s_{ap}}}{e^{s_{ap}} + \\sum_{n \\in N(a)} e^{s_{an}}}
                  = \\operatorname{softplus}\\Big(\\operatorname{LSE}_{n \\in N(a)} s_{an} - s_{ap}\\Big),
        \\qquad s_{ij} = \\frac{\\cos(z_i, z_j)}{\\tau}

    with :math:`N(a)` the samples whose label differs from the anchor's; an
    anchor's loss is the mean of :math:`\\ell_{ap}` over its positives :math:`P(a)`.
    pytorch-metric-learning's ``NTXentLoss`` has the same pair losses but averages
    over all positive pairs; the two agree when every anchor has as many positives
    (SimCLR's two views: one each). See the module docstring for the rules.

    References:
      Chen, Kornblith, Norouzi & Hinton, *A Simple Framework for Contrastive
      Learning of Visual Representations*, ICML 2020; van den Oord, Li & Vinyals,
      *Representation Learning with Contrastive Predictive Coding*, 2018.
    """
    V.check_reduction(reduction)
    s, positive, _ = _similarities(embeddings, labels, temperature, validate)
    negative = labels.unsqueeze(0) != labels.unsqueeze(1)
    pair_loss = F.softplus(_masked_logsumexp(s, negative).unsqueeze(1) - s)
    return _per_anchor(pair_loss, positive, reduction, sample_weight, num_items)


nt_xent_loss = info_nce_loss


def supcon_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    *,
    temperature: float = 0.1,
    reduction: str = "mean",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Supervised contrastive loss (SupCon, :math:`\\mathcal L^{sup}_{out}`): every positive against all others.

    .. math::

        \\ell_a = -\\frac{1}{|P(a)|} \\sum_{p \\in P(a)}
                  \\Big(s_{ap} - \\operatorname{LSE}_{k \\ne a} s_{ak}\\Big),
        \\qquad s_{ij} = \\frac{\\cos(z_i, z_j)}{\\tau}

    Equals pytorch-metric-learning's ``SupConLoss`` whenever the batch has a
    negative pair (it returns 0 for a batch of one label, where this formula
    still pulls the positives together). See the module docstring for the rules.

    References:
      Khosla, Teterwak, Wang, Sarna, Tian, Isola, Maschinot, Liu & Krishnan,
      *Supervised Contrastive Learning*, NeurIPS 2020.
    """
    V.check_reduction(reduction)
    s, positive, others = _similarities(embeddings, labels, temperature, validate)
    pair_loss = _masked_logsumexp(s, others).unsqueeze(1) - s
    return _per_anchor(pair_loss, positive, reduction, sample_weight, num_items)


def _finite_negative(args: tuple[object, ...]) -> bool:
    """An inf in ``negative`` makes d(a, n) inf and the triplet's loss 0, finite: the result cannot show it
    (an inf or NaN elsewhere, and a NaN in ``negative``, reach the result)."""
    return V.finite_on_host(cast(torch.Tensor, args[2]))


def _finite_negative_device(args: tuple[object, ...]) -> None:
    V.check_finite(cast(torch.Tensor, args[2]), "negative")


_TRIPLET = TorchCall(_triplet, (("anchor", 0), ("positive", 1), ("negative", 2)), same=3, guard=_finite_negative,
                   device_checks=_finite_negative_device)
_COSINE = TorchCall(_cosine, (("input1", 0), ("input2", 1)), same=2, others=(2,), strict_checks=True)


def _embedding_pair(a: torch.Tensor, b: torch.Tensor, a_name: str, b_name: str) -> None:
    V.check_float(a, a_name)
    V.check_float(b, b_name)
    V.check_same_shape(a, b, input_name=a_name, target_name=b_name)
    V.check_batched(a, a_name, (1, 2), "embeddings of shape (N, D) or (D,)")


def triplet_margin_loss(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Triplet margin loss: the anchor nearer its positive than its negative by ``margin`` (torch's).

    .. math::

        \\ell = \\max\\big(0,\\; d(a, p) - d(a, n) + \\text{margin}\\big), \\qquad
        d(x, y) = \\lVert x - y + \\varepsilon \\rVert_p

    With ``swap``, :math:`d(a, n)` is replaced by :math:`\\min(d(a, n), d(p, n))`
    (Balntas et al.). Embeddings (N, D) or (D,).

    References:
      Schroff, Kalenichenko & Philbin, *FaceNet*, CVPR 2015; Balntas, Riba, Ponsa &
      Mikolajczyk, *Learning local feature descriptors with triplets*, BMVC 2016.
    """
    if sample_weight is None and num_items is None and size_average is None and reduce is None and (
        type(margin) in _REAL_TYPES and type(p) in _REAL_TYPES and type(eps) in _REAL_TYPES
        and (swap is True or swap is False) and isinstance(anchor, torch.Tensor) and 0 < anchor.ndim < 3
    ):
        out = torch_op_loss(_TRIPLET, (anchor, positive, negative, margin, p, eps, swap), reduction, validate)
        if out is not None:
            return out
    reduction = V.check_reduction(V.legacy_reduction(size_average, reduce, reduction))
    margin, p, eps = V.check_number(margin, "margin"), V.check_number(p, "p"), V.check_number(eps, "eps")
    _embedding_pair(anchor, positive, "anchor", "positive")
    _embedding_pair(anchor, negative, "anchor", "negative")
    if V.resolve(validate):
        for t, name in ((anchor, "anchor"), (positive, "positive"), (negative, "negative")):
            V.check_finite(t, name)
    dtype = compute_dtype(anchor, positive, negative)
    a, pos, neg = anchor.to(dtype), positive.to(dtype), negative.to(dtype)
    d_ap = F.pairwise_distance(a, pos, p, eps)
    d_an = F.pairwise_distance(a, neg, p, eps)
    if swap:
        d_an = torch.minimum(d_an, F.pairwise_distance(pos, neg, p, eps))
    return reduce_loss((d_ap - d_an + margin).clamp_min(0), reduction, sample_weight=sample_weight,
                       num_items=num_items)


def cosine_embedding_loss(
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
    """Cosine embedding loss: similar pairs (y = 1) aligned, dissimilar ones (y = -1) below ``margin`` (torch's).

    .. math::

        \\ell = \\begin{cases} 1 - \\cos(x_1, x_2) & y = 1 \\\\
                 \\max(0, \\cos(x_1, x_2) - \\text{margin}) & y = -1 \\end{cases},
        \\qquad \\cos = \\frac{x_1 \\cdot x_2}
                           {\\sqrt{(\\lVert x_1\\rVert^2 + 10^{-12})(\\lVert x_2\\rVert^2 + 10^{-12})}}

    Embeddings (N, D) with labels (N,), or (D,) with a 0-d label. torch's formula gives a label other
    than -1 and 1 neither term (a loss of 0); ``validate="strict"`` refuses such labels.

    References:
      torch's ``CosineEmbeddingLoss``; Hadsell, Chopra & LeCun, CVPR 2006.
    """
    if sample_weight is None and num_items is None and size_average is None and reduce is None and (
        type(margin) in _REAL_TYPES and isinstance(input1, torch.Tensor) and isinstance(target, torch.Tensor)
        and input1.ndim == 2 and target.ndim == 1 and target.shape[0] == input1.shape[0]
    ):
        # a label other than -1 and 1 selects neither term (torch's formula): the strict level refuses it
        out = torch_op_loss(_COSINE, (input1, input2, target, margin), reduction, validate)
        if out is not None:
            return out
    reduction = V.check_reduction(V.legacy_reduction(size_average, reduce, reduction))
    margin = V.check_number(margin, "margin")
    _embedding_pair(input1, input2, "input1", "input2")
    V.check_tensor(target, "target")
    V.check_pair_labels(target, input1)
    if V.resolve(validate):
        V.check_finite(input1, "input1")
        V.check_finite(input2, "input2")
        if V.strict(validate):
            V.check_signed_target(target, note=V.STRICT_NOTE)
    dtype = compute_dtype(input1, input2)
    x1, x2 = input1.to(dtype), input2.to(dtype)
    cos = (x1 * x2).sum(-1) / torch.sqrt(((x1 * x1).sum(-1) + _COSINE_EPS) * ((x2 * x2).sum(-1) + _COSINE_EPS))
    zeros = torch.zeros_like(cos)
    values = torch.where(target == 1, 1 - cos, zeros) + torch.where(target == -1, (cos - margin).clamp_min(0), zeros)
    return reduce_loss(values, reduction, sample_weight=sample_weight, num_items=num_items)
