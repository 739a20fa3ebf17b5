"""Robust regression losses: pseudo-Huber, Cauchy, Geman–McClure, Welsch, Tukey, quantile and Barron's.

Same calling convention as :mod:`losskit.functional.regression` (same-shape
``input``/``target``, ``reduction``, elementwise ``weight``,
``sample_weight``, ``num_items``, ``validate``). Each loss is a function
:math:`\\rho(r)` of the residual :math:`r = \\hat y - y`, and every one
except the quantile loss behaves like :math:`r^2/2` near 0, the same
convention as Huber, so their scales are directly comparable: ``delta``,
``scale`` or ``c`` is the residual size at which the loss stops being
quadratic. Beyond it, the loss grows like :math:`|r|` (pseudo-Huber), like
:math:`\\log|r|` (Cauchy) or not at all (Geman–McClure, Welsch, Tukey), so a
gross outlier pulls the fit less and less.

Each loss except Barron's is an :class:`torch.autograd.Function` pairing a
stable form of :math:`\\rho` with its exact derivative :math:`\\psi = \\rho'`,
so values and gradients are finite and accurate for every finite residual
(in float32 up to :math:`10^{30}` and beyond): no :math:`r^2` that
overflows, no :math:`\\infty/\\infty` and no :math:`0 \\cdot \\infty`.
Barron's loss is written with stable torch operations instead, so that its
``alpha`` and ``scale`` can be tensors that require gradients.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .. import _validate as V
from ._prep import Number, elementwise_loss

__all__ = [
    "barron_loss",
    "cauchy_loss",
    "geman_mcclure_loss",
    "pseudo_huber_loss",
    "quantile_loss",
    "tukey_loss",
    "welsch_loss",
]

Elementwise = Callable[[torch.Tensor], torch.Tensor]


class _RhoPsi(torch.autograd.Function):
    """:math:`\\rho(r)` forward and :math:`\\psi(r)\\,g` backward, both closed forms.

    ``setup_context`` style with a generated vmap rule and a ``jvp``, so it
    also works under ``torch.func`` (per-sample gradients with vmap(grad)).
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(r: torch.Tensor, rho: Elementwise, psi: Elementwise) -> torch.Tensor:  # type: ignore[override]
        return rho(r)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:  # type: ignore[override]
        r, _, psi = inputs
        ctx.save_for_backward(r)
        ctx.save_for_forward(r)
        ctx.psi = psi

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # type: ignore[override]
        (r,) = ctx.saved_tensors
        return grad * ctx.psi(r), None, None

    @staticmethod
    def jvp(ctx, r_dot: torch.Tensor, *_: object) -> torch.Tensor:  # type: ignore[override]
        (r,) = ctx.saved_tensors
        return r_dot * ctx.psi(r)


@dataclass(frozen=True)
class RobustKernel:
    """An elementwise robust loss :math:`\\rho` with its derivative :math:`\\psi`; call it on residuals."""

    rho: Elementwise
    psi: Elementwise

    def __call__(self, r: torch.Tensor) -> torch.Tensor:
        return _RhoPsi.apply(r, self.rho, self.psi)


def _split(mask: torch.Tensor, x: torch.Tensor, fill: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(x where mask else fill, x where not mask else fill): safe inputs for the two sides of a where."""
    f = torch.full_like(x, fill)
    return torch.where(mask, x, f), torch.where(mask, f, x)


def log1p_square(u: torch.Tensor) -> torch.Tensor:
    """:math:`\\log(1 + u^2)` for every finite ``u``: no overflow of :math:`u^2`, accurate near 0."""
    a = u.abs()
    big = a > 1.0
    a_big, a_small = _split(big, a, 2.0)
    return torch.where(big, 2.0 * torch.log(a_big) + torch.log1p(torch.reciprocal(a_big).square()),
                       torch.log1p(a_small.square()))


# ------------------------------------------------------------------ kernels


def pseudo_huber_kernel(delta: float) -> RobustKernel:
    def rho(r: torch.Tensor) -> torch.Tensor:
        u = r / delta
        h = torch.hypot(torch.ones_like(u), u)  # sqrt(1 + u^2) without overflow
        # delta^2 (h - 1) = delta^2 u^2 / (1 + h) = delta * r * (u / (1 + h)): no cancellation, no u^2
        return (r * (u / (1.0 + h))) * delta

    def psi(r: torch.Tensor) -> torch.Tensor:
        return r / torch.hypot(torch.ones_like(r), r / delta)

    return RobustKernel(rho, psi)


def cauchy_kernel(scale: float) -> RobustKernel:
    def rho(r: torch.Tensor) -> torch.Tensor:
        return (0.5 * scale * scale) * log1p_square(r / scale)

    def psi(r: torch.Tensor) -> torch.Tensor:
        # c u / (1 + u^2), as (1/u) / (1 + (1/u)^2) beyond |u| = 1
        u = r / scale
        big = u.abs() > 1.0
        u_big, u_small = _split(big, u, 0.5)
        v = torch.reciprocal(u_big)
        return scale * torch.where(big, v / (1.0 + v.square()), u_small / (1.0 + u_small.square()))

    return RobustKernel(rho, psi)


def geman_mcclure_kernel(scale: float) -> RobustKernel:
    # rho = c^2 * 2u^2 / (u^2 + 4); beyond |u| = 2 written in w = 2/u, which never overflows
    def rho(r: torch.Tensor) -> torch.Tensor:
        u = r / scale
        big = u.abs() > 2.0
        u_big, u_small = _split(big, u, 1.0)
        w2 = (2.0 / u_big).square()
        s2 = u_small.square()
        return (scale * scale) * torch.where(big, 2.0 / (1.0 + w2), 2.0 * s2 / (s2 + 4.0))

    def psi(r: torch.Tensor) -> torch.Tensor:
        # c * 16u / (u^2 + 4)^2 = c * 2 w^3 / (1 + w^2)^2
        u = r / scale
        big = u.abs() > 2.0
        u_big, u_small = _split(big, u, 1.0)
        w = 2.0 / u_big
        far = 2.0 * w * w.square() / (1.0 + w.square()).square()
        near = 16.0 * u_small / (u_small.square() + 4.0).square()
        return scale * torch.where(big, far, near)

    return RobustKernel(rho, psi)


def welsch_kernel(scale: float) -> RobustKernel:
    # u^2 may overflow to inf: exp(-inf) = 0 and expm1(-inf) = -1 are exact, and r * 0 = 0
    def rho(r: torch.Tensor) -> torch.Tensor:
        return (0.5 * scale * scale) * -torch.expm1(-(r / scale).square())

    def psi(r: torch.Tensor) -> torch.Tensor:
        return r * torch.exp(-(r / scale).square())

    return RobustKernel(rho, psi)


def tukey_kernel(c: float) -> RobustKernel:
    # t = min(u^2, 1) (an overflowed u^2 = inf gives 1); 1 - (1 - t)^3 = t (3 - 3t + t^2)
    def rho(r: torch.Tensor) -> torch.Tensor:
        t = (r / c).square().clamp(max=1.0)
        return (c * c / 6.0) * t * (3.0 + t * (t - 3.0))

    def psi(r: torch.Tensor) -> torch.Tensor:
        t = (r / c).square().clamp(max=1.0)
        return r * (1.0 - t).square()

    return RobustKernel(rho, psi)


def quantile_kernel(tau: float) -> RobustKernel:
    # r = input - target = -e: an over-prediction costs (1 - tau) r, an under-prediction tau |r|
    def rho(r: torch.Tensor) -> torch.Tensor:
        return torch.where(r > 0, (1.0 - tau) * r, -tau * r) + 0.0  # + 0.0: no -0.0 at r = 0

    def psi(r: torch.Tensor) -> torch.Tensor:
        # subgradient 0 at r = 0, like torch's l1_loss
        zero = torch.zeros_like(r)
        return torch.where(r > 0, zero + (1.0 - tau), torch.where(r < 0, zero - tau, zero))

    return RobustKernel(rho, psi)


# ------------------------------------------------------------------ Barron's general loss

# |x| below this: expm1(x)/x by its Taylor series to x^4/120 (truncation error below 1e-19)
_EXPREL_SERIES = 1e-4


def barron_rho(r: torch.Tensor, alpha: torch.Tensor, scale: torch.Tensor | float) -> torch.Tensor:
    """Barron's loss :math:`c^2 f(r/c, \\alpha)` elementwise, differentiable in ``r``, ``alpha`` and ``scale``.

    With :math:`\\beta = |\\alpha - 2|`, :math:`L = \\log(1 + u^2/\\beta)` and
    :math:`x = \\alpha L / 2`,

    .. math::

        f = \\frac{\\beta}{\\alpha}\\left(\\Big(\\frac{u^2}{\\beta} + 1\\Big)^{\\alpha/2} - 1\\right)
          = \\frac{\\beta}{\\alpha} \\operatorname{expm1}(x)
          = \\frac{\\beta}{2} L\\, \\frac{\\operatorname{expm1}(x)}{x}

    The last form is analytic across :math:`\\alpha = 0` (where it is
    :math:`\\log(1 + u^2/2)` exactly, with the exact derivative in
    :math:`\\alpha`); :math:`L` is computed without forming :math:`u^2`.
    :math:`\\alpha = 2` (:math:`r^2/2`) and :math:`\\alpha = -\\infty`
    (:math:`c^2(1 - e^{-u^2/2})`) are taken exactly by selection.
    """
    alpha = torch.as_tensor(alpha, dtype=r.dtype, device=r.device)
    u = r / scale
    is_two = alpha == 2.0
    is_neg_inf = alpha == -math.inf
    # where a special case is selected, the general branch runs at alpha = 0 (log form, finite everywhere)
    a = torch.where(is_two | is_neg_inf, torch.zeros_like(alpha), alpha)
    beta = (a - 2.0).abs()
    big_l = log1p_square(u / beta.sqrt())
    x = 0.5 * a * big_l
    small = x.abs() < _EXPREL_SERIES
    x_small, x_big = _split(small, x, 0.0)
    a_big = torch.where(small, torch.ones_like(a), a)  # |x| >= 1e-4 implies alpha != 0
    x_big = torch.where(small, torch.ones_like(x), x_big)
    exprel = 1.0 + x_small * (1 / 2 + x_small * (1 / 6 + x_small * (1 / 24 + x_small / 120)))
    general = torch.where(small, 0.5 * beta * big_l * exprel, beta / a_big * torch.expm1(x_big))
    # the special cases see a zero residual where they are not selected, so their unused
    # branches cannot give 0 * inf gradients (2r overflows for |r| near the largest float)
    r_two = torch.where(is_two, r, torch.zeros_like(r))
    # beyond |u| = 64, exp(-u^2/2) is 0 even in float64: clamping there is exact and keeps u^2 finite
    u_inf = torch.where(is_neg_inf, u, torch.zeros_like(u)).clamp(-64.0, 64.0)
    neg_inf = -torch.expm1(-0.5 * u_inf.square())
    c2 = scale * scale if isinstance(scale, torch.Tensor) else scale**2
    return torch.where(is_two, 0.5 * r_two.square(), c2 * torch.where(is_neg_inf, neg_inf, general))


def _barron_param(
    value: float | torch.Tensor, name: str, input: torch.Tensor, validate: bool | None, *, is_scale: bool
) -> torch.Tensor | float:
    if isinstance(value, torch.Tensor):
        V.check_broadcast_param(value, name, input)
        if V.resolve(validate):
            V.check_finite(value, name, allow_neg_inf=not is_scale)
            if is_scale:
                V.check_positive_values(value, name)
        return value
    if is_scale:
        return V.check_positive(value, name)
    return V.check_interval(value, name, -math.inf, math.inf, high_open=True)


# ------------------------------------------------------------------ losses


def _robust(
    kernel: Elementwise,
    input: torch.Tensor,
    target: torch.Tensor,
    reduction: str,
    weight: torch.Tensor | None,
    sample_weight: torch.Tensor | None,
    num_items: Number | None,
    validate: bool | None,
) -> torch.Tensor:
    return elementwise_loss(kernel, input, target, reduction=reduction, weight=weight,
                            sample_weight=sample_weight, num_items=num_items, validate=validate)


def pseudo_huber_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    delta: float = 1.0,
    reduction: str = "mean",
    weight: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: bool | None = None,
) -> torch.Tensor:
    """Pseudo-Huber (Charbonnier) loss: a smooth Huber.

    .. math::

        \\rho(r) = \\delta^2\\left(\\sqrt{1 + (r/\\delta)^2} - 1\\right)

    :math:`r^2/2` near 0 and :math:`\\delta|r| - \\delta^2` far out, with the
    bounded gradient :math:`r/\\sqrt{1 + (r/\\delta)^2}` and derivatives of
    every order. Equals scipy ``least_squares``'s ``loss="soft_l1"`` with
    ``f_scale=delta`` and Barron's loss at :math:`\\alpha = 1`.

    Args:
      delta: the transition scale, > 0.

    References:
      Charbonnier, Blanc-Féraud, Aubert & Barlaud, *Two Deterministic
      Half-Quadratic Regularization Algorithms for Computed Imaging*, ICIP
      1994; Hartley & Zisserman, *Multiple View Geometry*, 2003, App. 6.8.
    """
    delta = V.check_positive(delta, "delta")
    return _robust(pseudo_huber_kernel(delta), input, target, reduction, weight, sample_weight, num_items, validate)


def cauchy_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    scale: float = 1.0,
    reduction: str = "mean",
    weight: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: bool | None = None,
) -> torch.Tensor:
    """Cauchy (Lorentzian) loss, the negative log-likelihood of Cauchy noise.

    .. math::

        \\rho(r) = \\frac{c^2}{2} \\log\\left(1 + (r/c)^2\\right)

    Grows only logarithmically, so its influence :math:`\\psi = r / (1 +
    (r/c)^2)` falls back towards 0 beyond :math:`|r| = c`: far outliers are
    all but ignored, at the price of a non-convex loss. Equals scipy
    ``least_squares``'s ``loss="cauchy"`` with ``f_scale=scale``, and
    Barron's loss at :math:`\\alpha = 0` with scale :math:`c/\\sqrt 2`.

    Args:
      scale: :math:`c > 0`.

    References:
      Black & Anandan, *The Robust Estimation of Multiple Motions: Parametric
      and Piecewise-Smooth Flow Fields*, CVIU 63(1), 1996.
    """
    scale = V.check_positive(scale, "scale")
    return _robust(cauchy_kernel(scale), input, target, reduction, weight, sample_weight, num_items, validate)


def geman_mcclure_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    scale: float = 1.0,
    reduction: str = "mean",
    weight: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: bool | None = None,
) -> torch.Tensor:
    """Geman–McClure loss, bounded by :math:`2c^2`.

    .. math::

        \\rho(r) = c^2\\, \\frac{2u^2}{u^2 + 4}, \\qquad u = r/c

    Barron's loss at :math:`\\alpha = -2`. Redescending: the gradient
    :math:`c\\,16u/(u^2+4)^2` vanishes for gross outliers. Computed in
    :math:`w = 2/u` beyond :math:`|u| = 2`, so no :math:`u^2` overflows.

    Args:
      scale: :math:`c > 0`.

    References:
      Geman & McClure, *Statistical Methods for Tomographic Image
      Reconstruction*, Bull. Int. Statist. Inst. 52(4), 1987.
    """
    scale = V.check_positive(scale, "scale")
    return _robust(geman_mcclure_kernel(scale), input, target, reduction, weight, sample_weight, num_items, validate)


def welsch_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    scale: float = 1.0,
    reduction: str = "mean",
    weight: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: bool | None = None,
) -> torch.Tensor:
    """Welsch (Leclerc) loss, bounded by :math:`c^2/2`.

    .. math::

        \\rho(r) = \\frac{c^2}{2}\\left(1 - e^{-(r/c)^2}\\right)

    Redescending with a Gaussian influence :math:`r e^{-(r/c)^2}`. It is
    Barron's :math:`\\alpha = -\\infty` case at scale :math:`c/\\sqrt 2`.

    Args:
      scale: :math:`c > 0`.

    References:
      Dennis & Welsch, *Techniques for Nonlinear Least Squares and Robust
      Regression*, Commun. Statist. Simul. Comput. 7(4), 1978; Leclerc,
      *Constructing Simple Stable Descriptions for Image Partitioning*, IJCV 3, 1989.
    """
    scale = V.check_positive(scale, "scale")
    return _robust(welsch_kernel(scale), input, target, reduction, weight, sample_weight, num_items, validate)


def tukey_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    c: float = 4.685,
    reduction: str = "mean",
    weight: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: bool | None = None,
) -> torch.Tensor:
    """Tukey's biweight (bisquare) loss, constant beyond ``c``.

    .. math::

        \\rho(r) = \\begin{cases} \\frac{c^2}{6}\\left(1 - \\left(1 - (r/c)^2\\right)^3\\right) & |r| \\le c \\\\
                    \\frac{c^2}{6} & \\text{otherwise} \\end{cases}

    Residuals beyond :math:`c` have exactly zero gradient: they are rejected.
    The default :math:`c = 4.685` gives 95% efficiency at Gaussian noise of
    unit scale. Equals statsmodels' ``TukeyBiweight(c).rho``.

    Args:
      c: the rejection point, > 0.

    References:
      Beaton & Tukey, *The Fitting of Power Series, Meaning Polynomials,
      Illustrated on Band-Spectroscopic Data*, Technometrics 16(2), 1974.
    """
    c = V.check_positive(c, "c")
    return _robust(tukey_kernel(c), input, target, reduction, weight, sample_weight, num_items, validate)


def quantile_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    tau: float = 0.5,
    reduction: str = "mean",
    weight: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: bool | None = None,
) -> torch.Tensor:
    """Quantile (pinball) loss, whose minimiser is the :math:`\\tau`-quantile of the target.

    .. math::

        \\rho = \\max(\\tau e, (\\tau - 1) e), \\qquad e = y - \\hat y

    Unlike the other losses of this module it is not quadratic near 0: it is
    :math:`|e|/2` (half the MAE) at :math:`\\tau = 1/2`. The subgradient at
    :math:`e = 0` is 0, as for :func:`l1_loss`.

    Args:
      tau: the quantile level, in (0, 1).

    References:
      Koenker & Bassett, *Regression Quantiles*, Econometrica 46(1), 1978.
    """
    tau = V.check_interval(tau, "tau", 0.0, 1.0, low_open=True, high_open=True)
    return _robust(quantile_kernel(tau), input, target, reduction, weight, sample_weight, num_items, validate)


def barron_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float | torch.Tensor = 1.0,
    scale: float | torch.Tensor = 1.0,
    reduction: str = "mean",
    weight: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: bool | None = None,
) -> torch.Tensor:
    """Barron's general robust loss, one shape parameter spanning the classic losses.

    .. math::

        \\rho(r, \\alpha, c) = c^2\\, \\frac{|\\alpha - 2|}{\\alpha}
        \\left(\\left(\\frac{(r/c)^2}{|\\alpha - 2|} + 1\\right)^{\\alpha/2} - 1\\right)

    Its limits are exact here: :math:`\\alpha = 2` gives :math:`r^2/2`,
    :math:`\\alpha = 1` pseudo-Huber, :math:`\\alpha = 0` :math:`c^2 \\log(u^2/2
    + 1)` (Cauchy), :math:`\\alpha = -2` Geman–McClure and
    :math:`\\alpha = -\\infty` :math:`c^2 (1 - e^{-u^2/2})` (Welsch), with
    :math:`u = r/c`. Lower :math:`\\alpha` is more robust.

    ``alpha`` and ``scale`` may be tensors (for instance parameters that
    require gradients) broadcasting to ``input``'s shape. The gradient in
    ``alpha`` is exact everywhere, :math:`\\alpha = 0` included, except at
    :math:`\\alpha = 2`, where :math:`\\rho` is not differentiable in
    :math:`\\alpha` (its one-sided derivatives diverge like
    :math:`\\log|\\alpha - 2|`) and losskit returns 0. For
    :math:`\\alpha \\le 1`, values and gradients are finite at residuals up to
    :math:`10^{38}` in float32 (:math:`10^{307}` in float64); for
    :math:`1 < \\alpha \\le 2`, :math:`\\rho` grows like :math:`|r|^\\alpha` and
    overflows legitimately sooner.

    Args:
      alpha: shape, a real number or ``-inf`` (``float("-inf")``), or a tensor.
      scale: :math:`c > 0`, a number or a tensor.

    References:
      Barron, *A General and Adaptive Robust Loss Function*, CVPR 2019.
    """
    alpha_t = _barron_param(alpha, "alpha", input, validate, is_scale=False)
    scale_t = _barron_param(scale, "scale", input, validate, is_scale=True)

    def kernel(r: torch.Tensor) -> torch.Tensor:
        a = alpha_t.to(r.dtype) if isinstance(alpha_t, torch.Tensor) else torch.tensor(alpha_t, dtype=r.dtype)
        c = scale_t.to(r.dtype) if isinstance(scale_t, torch.Tensor) else scale_t
        return barron_rho(r, a.to(r.device), c)

    return _robust(kernel, input, target, reduction, weight, sample_weight, num_items, validate)
