"""The article's regression losses: MSE (L2), MAE (L1), Huber, smooth L1 and log-cosh.

The torch-named losses take torch's parameters in torch's positional order
(``mse_loss(input, target, size_average, reduce, reduction, weight)``,
``huber_loss(input, target, reduction, delta, weight)``, ...), so torch
code ports by changing the import; the deprecated ``size_average`` and
``reduce`` behave and warn as in torch. losskit's own options follow,
keyword-only:

* ``reduction``: ``"mean"`` | ``"sum"`` | ``"none"`` | ``"per_sample"``;
* ``weight``: elementwise weights shaped like ``input``;
* ``sample_weight``: one weight per sample, shape ``(N,)``;
* ``num_items``: the denominator of ``"mean"`` (see :mod:`losskit.distributed`);
* ``validate``: value checks on/off for this call (``None``: the global switch).

``target`` may broadcast to ``input``'s shape (a scalar, or input's trailing
dims), as in torch; a pair whose broadcast would add loss terms, such as
``(N, 1)`` against ``(N,)``, is refused. A weighted mean is
:math:`\\sum w\\ell / \\sum w`. Inputs of float16 or bfloat16 are computed and
returned in float32.

Where the options mean what torch's do (no ``sample_weight`` or
``num_items``, a non-empty mean, float32/float64), the loss is torch's own
fused op, with value checks riding on the result: only a non-finite loss
looks at the inputs. Large ``"mean"``/``"sum"`` calls that need a gradient
use losskit's one-pass C kernel (:mod:`losskit.functional.fused`) instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .. import _validate as V
from .._types import Validate
from ._prep import FusedOp, Number, TorchOp, elementwise_loss

__all__ = [
    "huber_loss", "l1_loss", "log_cosh", "log_cosh_loss", "mae_loss", "mse_loss", "smooth_l1_loss",
]

_LOG2 = math.log(2.0)
_mse: TorchOp = (torch._C._nn.mse_loss, ())
_l1: TorchOp = (torch._C._nn.l1_loss, ())


def mse_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: torch.Tensor | None = None,
    *,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Mean squared error (L2 loss).

    .. math::

        \\ell(\\hat y, y) = (\\hat y - y)^2

    Fast to converge on clean data, but one gross outlier with residual
    :math:`r` pulls the fit with a gradient :math:`2r`: sensitive to anomalies.
    Equals :func:`torch.nn.functional.mse_loss` (parameters in torch's order).

    Args:
      input: predictions :math:`\\hat y`, any shape, batch along dim 0.
      target: truth :math:`y`, the same shape (or one that broadcasts to it).
      size_average, reduce: deprecated, as in torch.

    Returns:
      The reduced loss (see the module docstring for the options).

    References:
      Gauss, *Theoria motus corporum coelestium*, 1809 (least squares).
    """
    if size_average is not None or reduce is not None:
        reduction = V.legacy_reduction(size_average, reduce, reduction)
    return elementwise_loss(
        torch.square, input, target, reduction=reduction, weight=weight, sample_weight=sample_weight,
        num_items=num_items, validate=validate, fused=("mse", 0.0), torch_op=_mse,
    )


def l1_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: torch.Tensor | None = None,
    *,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Mean absolute error (L1 loss).

    .. math::

        \\ell(\\hat y, y) = |\\hat y - y|

    Robust to outliers (the gradient is bounded by 1) but not differentiable
    at 0; losskit, like torch, uses the subgradient 0 there. Equals
    :func:`torch.nn.functional.l1_loss` (parameters in torch's order).

    References:
      Laplace, *Mémoire sur la probabilité des causes par les événements*, 1774.
    """
    if size_average is not None or reduce is not None:
        reduction = V.legacy_reduction(size_average, reduce, reduction)
    return elementwise_loss(
        torch.abs, input, target, reduction=reduction, weight=weight, sample_weight=sample_weight,
        num_items=num_items, validate=validate, fused=("l1", 0.0), torch_op=_l1,
    )


mae_loss = l1_loss


def _huber_kernel(delta: float, scale: float = 1.0) -> Callable[[torch.Tensor], torch.Tensor]:
    def kernel(r: torch.Tensor) -> torch.Tensor:
        a = r.abs()
        q = a.clamp(max=delta)
        # q (a - q/2) is r^2/2 inside [-delta, delta] and delta (|r| - delta/2) outside,
        # with gradient clamp(r, -delta, delta) and no branch.
        out = q * (a - 0.5 * q)
        return out if scale == 1.0 else out * scale

    return kernel


def huber_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: torch.Tensor | None = None,
    *,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Huber loss, quadratic near 0 and linear beyond ``delta``.

    .. math::

        \\ell(r) = \\begin{cases} \\tfrac12 r^2 & |r| \\le \\delta \\\\
                   \\delta\\,(|r| - \\tfrac12\\delta) & \\text{otherwise} \\end{cases},
        \\qquad r = \\hat y - y

    Combines MSE's fast convergence near the optimum with MAE's bounded
    gradient (:math:`|\\ell'| \\le \\delta`), but is differentiable only once:
    the second derivative jumps from 1 to 0 at :math:`|r| = \\delta`.
    Equals :func:`torch.nn.functional.huber_loss` (parameters in torch's
    order), except that a weighted ``"mean"`` is :math:`\\sum w\\ell/\\sum w`
    (torch divides by the number of elements).

    Args:
      delta: the threshold between the quadratic and linear parts, > 0.

    References:
      Huber, *Robust Estimation of a Location Parameter*, Ann. Math. Statist. 35(1), 1964.
    """
    delta = V.check_positive(delta, "delta")
    delta = V.check_scale_for_inputs(delta, "delta", input, target)  # plain and fused paths alike
    return elementwise_loss(
        _huber_kernel(delta), input, target, reduction=reduction, weight=weight, sample_weight=sample_weight,
        num_items=num_items, validate=validate, fused=("huber", delta), torch_op=(torch._C._nn.huber_loss, (delta,)),
    )


def smooth_l1_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    beta: float = 1.0,
    *,
    weight: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Smooth L1 loss: Huber scaled by :math:`1/\\beta`, so the linear part has slope 1.

    .. math::

        \\ell(r) = \\begin{cases} \\tfrac{1}{2\\beta} r^2 & |r| < \\beta \\\\
                   |r| - \\tfrac12\\beta & \\text{otherwise} \\end{cases}
                 = \\tfrac{1}{\\beta}\\,\\mathrm{huber}_{\\delta=\\beta}(r),
        \\qquad r = \\hat y - y

    ``beta = 0`` is the L1 loss. Equals
    :func:`torch.nn.functional.smooth_l1_loss` (parameters in torch's order).

    Args:
      beta: the threshold between the quadratic and linear parts, >= 0.

    References:
      Girshick, *Fast R-CNN*, ICCV 2015.
    """
    if size_average is not None or reduce is not None:
        reduction = V.legacy_reduction(size_average, reduce, reduction)
    beta = V.check_interval(beta, "beta", 0.0, math.inf, high_open=True)
    kernel: Callable[[torch.Tensor], torch.Tensor]
    fused: FusedOp
    if beta == 0.0:
        kernel, fused, op = torch.abs, ("l1", 0.0), _l1
    else:
        kernel, fused, op = _huber_kernel(beta, 1.0 / beta), ("huber", beta, 1.0 / beta), (
            torch._C._nn.smooth_l1_loss, (beta,))
    return elementwise_loss(
        kernel, input, target, reduction=reduction, weight=weight, sample_weight=sample_weight,
        num_items=num_items, validate=validate, fused=fused, torch_op=op,
    )


def log_cosh(r: torch.Tensor) -> torch.Tensor:
    """Elementwise :math:`\\log\\cosh r`, finite for every finite ``r``, gradient :math:`\\tanh r`.

    Two branches joined by ``where``, each fed only the inputs it is accurate
    and finite on (so neither value nor gradient can leak inf or NaN across):

    * :math:`|r| < 1`: :math:`\\tfrac12 \\operatorname{log1p}(\\sinh^2 r)`, accurate down
      to :math:`r^2/2` at tiny ``r``;
    * otherwise :math:`|r| + \\operatorname{softplus}(-2|r|) - \\log 2`, which never
      overflows.

    Plain differentiable torch ops, so autograd gives :math:`\\tanh r` and
    :math:`1 - \\tanh^2 r` (also at ``r = 0``: the ``|r|`` kink is only in the
    branch not taken there), and ``torch.compile``, ``torch.func`` and
    forward-mode AD all work.
    """
    small = r.abs() < 1.0
    zero = torch.zeros_like(r)
    s = torch.sinh(torch.where(small, r, zero))
    near = 0.5 * torch.log1p(s * s)
    a = torch.where(small, torch.ones_like(r), r.abs())
    far = a + F.softplus(-2.0 * a) - _LOG2
    return torch.where(small, near, far)


def log_cosh_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "mean",
    weight: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Log-cosh loss, a smooth Huber with :math:`\\delta = 1`.

    .. math::

        \\ell(r) = \\log\\cosh r = |r| + \\operatorname{softplus}(-2|r|) - \\log 2,
        \\qquad r = \\hat y - y

    About :math:`r^2/2` near 0 and :math:`|r| - \\log 2` far out, like Huber,
    but twice differentiable: :math:`\\ell' = \\tanh r` and
    :math:`\\ell'' = 1 - \\tanh^2 r`. The naive ``log(cosh(r))`` overflows
    to inf past :math:`|r| \\approx 89` in float32; this form is exact to a
    few ulps for every finite residual in float16, float32 and float64.

    References:
      Chen et al., *Log Hyperbolic Cosine Loss Improves Variational
      Auto-Encoder*, 2019; Barron, *A General and Adaptive Robust Loss
      Function*, CVPR 2019.
    """
    return elementwise_loss(
        log_cosh, input, target, reduction=reduction, weight=weight,
        sample_weight=sample_weight, num_items=num_items, validate=validate, fused=("log_cosh", 0.0),
    )
