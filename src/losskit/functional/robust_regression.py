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

Pseudo-Huber, Cauchy, Geman–McClure, Welsch and Tukey are each an
:class:`torch.autograd.Function` pairing a stable form of :math:`\\rho` with its
exact derivative :math:`\\psi = \\rho'`, so values and gradients are finite and
accurate for every finite residual and every scale that the compute dtype
holds as a normal number (others are refused): :math:`\\rho = c^2 f(r/c)` is
computed as :math:`r\\,(r\\, f(u)/u^2)` within :math:`|r| \\le c` and as
:math:`c\\,(c f(u))` beyond, so neither :math:`c^2` nor :math:`u^2` overflows
and the value is inf only where the exact loss exceeds the largest float.
The quantile loss is two ``relu`` terms, so every order of autograd works.
Barron's loss is written with stable torch operations in the same two
regimes, so that its ``alpha`` and ``scale`` can be tensors that require
gradients; where its value overflows (:math:`1 < \\alpha \\le 2`) autograd's
gradient may be NaN, and below :math:`|r| = \\sqrt{\\text{tiny}}` its
:math:`r`-gradient loses the :math:`u`-dependent term (products of
:math:`r^2` underflow there).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .. import _validate as V
from .._types import Reduction, Validate
from ._prep import Number, elementwise_loss
from ._stable import exprel, log1p_over, log1p_square, one_minus_exp_over, split

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
    def forward(r: torch.Tensor, rho: Elementwise, psi: Elementwise) -> torch.Tensor:
        return rho(r)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        r, _, psi = inputs
        ctx.save_for_backward(r)
        ctx.save_for_forward(r)
        ctx.psi = psi

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (r,) = ctx.saved_tensors
        return grad * ctx.psi(r), None, None

    @staticmethod
    def jvp(ctx, r_dot: torch.Tensor, *_: object) -> torch.Tensor:
        (r,) = ctx.saved_tensors
        return r_dot * ctx.psi(r)


@dataclass(frozen=True)
class RobustKernel:
    """An elementwise robust loss :math:`\\rho(r) = c^2 f(r/c)` with its derivative :math:`\\psi`.

    ``rho``/``psi`` take ``(r, c)``, with ``c`` the scale as a 0-d tensor of
    ``r``'s dtype; calling the kernel first checks that the scale is a normal
    number of that dtype (:func:`losskit._validate.check_scale_in_dtype`).
    """

    name: str
    scale: float
    rho: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    psi: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

    def __call__(self, r: torch.Tensor) -> torch.Tensor:
        V.check_scale_in_dtype(self.scale, self.name, r.dtype)
        return _RhoPsi.apply(r, lambda x: self.rho(x, _as_scale(self.scale, x)),
                             lambda x: self.psi(x, _as_scale(self.scale, x)))


def _as_scale(scale: float, r: torch.Tensor) -> torch.Tensor:
    # made where it is used: a tensor captured from outside breaks the function's generated vmap rule
    return torch.tensor(scale, dtype=r.dtype, device=r.device)


def _two_regimes(
    r: torch.Tensor,
    c: torch.Tensor,
    near: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    far: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """``near(r, u)`` for :math:`|r| \\le c` and ``far(r, u)`` beyond, each on safe inputs (u = r/c).

    Each side sees ``c`` (:math:`|u| = 1`) where the other is selected, so neither produces an inf or NaN that a
    ``where`` (or its derivatives) could leak.
    """
    inside = r.abs() <= c
    r_near, r_far = split(inside, r, c)
    return torch.where(inside, near(r_near, r_near / c), far(r_far, r_far / c))


# ------------------------------------------------------------------ kernels
#
# Each loss is c^2 f(u), u = r/c. Within |r| <= c it is computed as r (r h(u^2)) with h = f/u^2 and its
# gradient as r g(u^2) with g = f'(u)/u, both bounded near u = 0: no c^2 that overflows for a large scale
# and no u^2 that underflows for a small residual. Beyond |r| = c it is c (c f(u)), with gradient
# c f'(u), written in v = c/r (or with u clamped where f is flat), so no u^2 overflows either.
# Neither form overflows unless the loss itself does.


def pseudo_huber_kernel(delta: float) -> RobustKernel:
    # f = sqrt(1 + u^2) - 1 = u^2 / (1 + sqrt(1 + u^2)); far: c |r| / (v + sqrt(1 + v^2)), v = c/|r|
    def rho(r: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        def far(r: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
            v = c / r.abs()
            return c * (r.abs() / (v + torch.hypot(torch.ones_like(v), v)))

        return _two_regimes(r, c, lambda r, u: r * (r / (1.0 + torch.hypot(torch.ones_like(u), u))), far)

    def psi(r: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        def far(r: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
            v = c / r
            return c * (torch.sign(r) / torch.hypot(torch.ones_like(v), v))

        return _two_regimes(r, c, lambda r, u: r / torch.hypot(torch.ones_like(u), u), far)

    return RobustKernel("delta", delta, rho, psi)


def cauchy_kernel(scale: float) -> RobustKernel:
    # f = log(1 + u^2) / 2; far: log|u| + log(1 + v^2)/2, log|u| = log|r| - log c once u overflows
    def rho(r: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        def far(r: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
            a = u.abs()
            finite = torch.isfinite(a)
            log_u = torch.where(finite, torch.log(torch.where(finite, a, torch.ones_like(a))),
                                torch.log(r.abs()) - torch.log(c))
            return c * (c * (log_u + 0.5 * torch.log1p((c / r).square())))

        return _two_regimes(r, c, lambda r, u: r * (r * (0.5 * log1p_over(u.square()))), far)

    def psi(r: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        def far(r: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
            v = c / r
            return c * (v / (1.0 + v.square()))

        return _two_regimes(r, c, lambda r, u: r / (1.0 + u.square()), far)

    return RobustKernel("scale", scale, rho, psi)


def geman_mcclure_kernel(scale: float) -> RobustKernel:
    # f = 2u^2 / (u^2 + 4); far in w = 2/u = 2c/r: 2 / (1 + w^2), f'(u) = 2 w^3 / (1 + w^2)^2
    def rho(r: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        def far(r: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
            w = 2.0 * (c / r)
            return c * (c * (2.0 / (1.0 + w.square())))

        return _two_regimes(r, c, lambda r, u: r * (r * (2.0 / (u.square() + 4.0))), far)

    def psi(r: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        def far(r: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
            w = 2.0 * (c / r)  # (c w) w first: no subnormal w^3 where the product is a normal number
            return ((c * w) * w) * (2.0 * w / (1.0 + w.square()).square())

        return _two_regimes(r, c, lambda r, u: r * (16.0 / (u.square() + 4.0).square()), far)

    return RobustKernel("scale", scale, rho, psi)


# beyond |u| = 64, exp(-u^2) is 0 even in float64: clamping u there is exact and keeps u^2 finite
_FLAT = 64.0


def welsch_kernel(scale: float) -> RobustKernel:
    # f = (1 - exp(-u^2)) / 2, f'(u) = u exp(-u^2)
    def rho(r: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        def far(r: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
            return c * (c * (-0.5 * torch.expm1(-u.clamp(-_FLAT, _FLAT).square())))

        return _two_regimes(r, c, lambda r, u: r * (r * (0.5 * one_minus_exp_over(u.square()))), far)

    def psi(r: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        def far(r: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
            # (c e)(u e) with e = exp(-u^2/2): no subnormal exp(-u^2) where the product is a normal number
            u = u.clamp(-_FLAT, _FLAT)
            e = torch.exp(-0.5 * u.square())
            return (c * e) * (u * e)

        return _two_regimes(r, c, lambda r, u: r * torch.exp(-u.square()), far)

    return RobustKernel("scale", scale, rho, psi)


def tukey_kernel(c: float) -> RobustKernel:
    # f = (1 - (1 - t)^3) / 6 = t (3 - 3t + t^2) / 6 for t = u^2 <= 1, else 1/6; f'(u) = u (1 - t)^2
    def rho(r: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        def near(r: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
            t = u.square()
            return r * (r * ((3.0 + t * (t - 3.0)) / 6.0))

        return _two_regimes(r, c, near, lambda r, u: c * (c / 6.0) + 0.0 * r)

    def psi(r: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return _two_regimes(r, c, lambda r, u: r * (1.0 - u.square()).square(), lambda r, u: 0.0 * r)

    return RobustKernel("c", c, rho, psi)


def quantile_kernel(tau: float) -> Elementwise:
    """(1 - tau) relu(r) + tau relu(-r), with r = input - target = -e; plain ops, so every order of
    autograd and forward mode works, with relu's subgradient 0 at r = 0 (like torch's l1_loss)."""

    def rho(r: torch.Tensor) -> torch.Tensor:
        return (1.0 - tau) * torch.relu(r) + tau * torch.relu(-r)

    return rho


# ------------------------------------------------------------------ Barron's general loss

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

    Within :math:`|r| \\le c` the loss is computed as
    :math:`r^2 \\cdot \\tfrac12 \\frac{\\log(1 + t)}{t} \\frac{\\operatorname{expm1}(x)}{x}`,
    :math:`t = u^2/\\beta`, so a large scale never forms :math:`c^2`; beyond
    it as :math:`c\\,(c f)`, with :math:`L` from :math:`\\log|r| - \\log c` once
    :math:`u` overflows and :math:`c^2 \\frac{\\beta}{\\alpha} e^x` in log space once
    :math:`e^x` would, so no intermediate overflows unless the loss does.
    """
    alpha = torch.as_tensor(alpha, dtype=r.dtype, device=r.device)
    c = torch.as_tensor(scale, dtype=r.dtype, device=r.device)
    is_two = alpha == 2.0
    is_neg_inf = alpha == -math.inf
    # where a special case is selected, the general branch runs at alpha = 0 (log form, finite everywhere)
    a = torch.where(is_two | is_neg_inf, torch.zeros_like(alpha), alpha)
    beta = (a - 2.0).abs()
    inside = r.abs() <= c
    r_near, r_far = split(inside, r, c)

    # |r| <= c: r (r n), n = f / u^2
    u_near = r_near / c
    t = u_near.square() / beta
    n_general = 0.5 * log1p_over(t) * exprel(0.5 * a * torch.log1p(t))
    n_neg_inf = 0.5 * one_minus_exp_over(0.5 * u_near.square())
    near = r_near * (r_near * torch.where(is_neg_inf, n_neg_inf, n_general))

    # |r| > c: c (c f)
    w = (r_far / c) / beta.sqrt()
    finite = torch.isfinite(w)
    w_finite = torch.where(finite, w, torch.ones_like(w))
    big_l = torch.where(finite, log1p_square(w_finite), 2.0 * (torch.log(r_far.abs()) - torch.log(c)) - torch.log(beta))
    x = 0.5 * a * big_l
    huge = x > 0.5 * math.log(torch.finfo(r.dtype).max)  # e^x would overflow before the c^2 that shrinks it
    x_huge, x_general = split(huge, x, 0.0)
    l_general = torch.where(huge, torch.zeros_like(big_l), big_l)
    f_general = 0.5 * beta * l_general * exprel(x_general)
    a_huge = torch.where(huge, a, torch.ones_like(a))  # x > 0 there, so alpha > 0
    far_huge = torch.exp(2.0 * torch.log(c) + torch.log(beta / a_huge) + x_huge) * -torch.expm1(-x_huge)
    u_flat = (r_far / c).clamp(-_FLAT, _FLAT)  # exp(-u^2/2) = 0 beyond: exact
    f_neg_inf = -torch.expm1(-0.5 * u_flat.square())
    far = torch.where(huge, far_huge, c * (c * torch.where(is_neg_inf, f_neg_inf, f_general)))

    # alpha = 2 sees a zero residual where it is not selected, so its unused branch cannot give
    # 0 * inf gradients (2r overflows for |r| near the largest float)
    r_two = torch.where(is_two, r, torch.zeros_like(r))
    return torch.where(is_two, 0.5 * r_two.square(), torch.where(inside, near, far))


def _barron_param(
    value: float | torch.Tensor, name: str, input: torch.Tensor, validate: Validate, *, is_scale: bool
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
    validate: Validate,
) -> torch.Tensor:
    return elementwise_loss(kernel, input, target, reduction=reduction, weight=weight,
                            sample_weight=sample_weight, num_items=num_items, validate=validate)


def pseudo_huber_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    delta: float = 1.0,
    reduction: Reduction = "mean",
    weight: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
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
    reduction: Reduction = "mean",
    weight: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
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
    reduction: Reduction = "mean",
    weight: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
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
    reduction: Reduction = "mean",
    weight: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
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
    reduction: Reduction = "mean",
    weight: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
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
    reduction: Reduction = "mean",
    weight: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
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
    reduction: Reduction = "mean",
    weight: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
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
        c: torch.Tensor | float
        if isinstance(scale_t, torch.Tensor):
            if V.resolve(validate):
                V.check_scale_in_dtype(scale_t, "scale", r.dtype)
            c = scale_t.to(r.dtype)
        else:
            c = V.check_scale_in_dtype(scale_t, "scale", r.dtype)
        a = alpha_t.to(r.dtype) if isinstance(alpha_t, torch.Tensor) else torch.tensor(alpha_t, dtype=r.dtype)
        return barron_rho(r, a.to(r.device), c)

    return _robust(kernel, input, target, reduction, weight, sample_weight, num_items, validate)
