"""Probabilistic regression: negative log-likelihoods of a predicted distribution.

The model predicts a location (``input``) and a spread (a variance ``var`` or a
``scale``); the loss is the negative log-likelihood of ``target`` under that
distribution. ``gaussian_nll_loss`` and ``poisson_nll_loss`` take torch's
parameters in torch's order and give torch's values; losskit's own options
(``sample_weight``, ``num_items``, ``validate``) are keyword-only after them.

**Tiny spreads.** A variance or scale below ``eps`` is clamped to ``eps`` in
the value, as torch does, while its gradient passes straight through (torch
clamps in place under ``no_grad``): a spread of 1e-30, or 0, gives a large
finite loss, never NaN or inf. A negative spread is refused (``LossInputError``,
a ``ValueError`` like torch's) while validation is on.

Reductions are over elements: ``"mean"`` is the mean over every value of
``input``, ``"per_sample"`` over each sample's values. Inputs of float16 or
bfloat16 are computed and returned in float32.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import cast

import torch

from .. import _validate as V
from .._reduce import reduce_loss
from .._types import Validate
from ._prep import _REAL_TYPES, Number, TorchCall, compute_dtype, torch_op_loss

__all__ = ["beta_nll_loss", "gaussian_nll_loss", "laplace_nll_loss", "poisson_nll_loss", "student_t_nll_loss"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
# torch's C binding takes the reduction as its enum value, which its stub spells as str
_poisson_nll = cast(
    "Callable[[torch.Tensor, torch.Tensor, bool, bool, float, int], torch.Tensor]", torch.poisson_nll_loss
)
_HALF_LOG_PI = 0.5 * math.log(math.pi)
_LOG2 = math.log(2.0)


def _clamp_straight_through(s: torch.Tensor, eps: float) -> torch.Tensor:
    """``max(s, eps)`` in value with the identity gradient (torch's in-place clamp under ``no_grad``).

    ``s - s.detach()`` is exactly 0, so the clamped value is exactly ``eps``.
    """
    return torch.where(s < eps, eps + (s - s.detach()), s)


def _prepare(
    input: torch.Tensor,
    target: torch.Tensor,
    spread: torch.Tensor | float,
    name: str,
    eps: float,
    validate: Validate,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Check (input, target, spread) and return them in the compute dtype, the spread clamped and broadcastable."""
    V.check_float(input, "input")
    V.check_float(target, "target")
    V.check_target_broadcast(input, target)  # torch's rule: a target with a dim of size 1 is shared along it
    V.check_positive(eps, "eps")
    if isinstance(spread, (int, float)) and not isinstance(spread, bool):
        V.check_nonnegative_number(spread, name)
        spread = torch.full_like(input, float(spread))
    spread = V.check_tensor(spread, name)  # anything else (a bool, a string) is refused by name
    unsqueeze = V.check_spread_shape(spread, input, name)
    if V.resolve(validate):
        V.check_finite(input, "input")
        V.check_finite(target, "target")
        V.check_finite(spread, name)
        V.check_nonnegative_values(spread, name, f"a {name}")
    dtype = compute_dtype(input, target, spread)
    s = spread.to(dtype)
    if unsqueeze:
        s = s.unsqueeze(-1)
    y = target.to(dtype)
    if y.shape != input.shape:
        y = y.expand(input.shape)
    return input.to(dtype), y, _clamp_straight_through(s, eps)


def _reduce(
    values: torch.Tensor, reduction: str, sample_weight: torch.Tensor | None, num_items: Number | None
) -> torch.Tensor:
    return reduce_loss(values, reduction, sample_weight=sample_weight, num_items=num_items)


# ------------------------------------------------------------------ torch's own formula and op, where they apply


def _gaussian_torch(
    input: torch.Tensor, target: torch.Tensor, var: torch.Tensor, full: bool, eps: float, red: int
) -> torch.Tensor:
    r"""torch's Gaussian NLL with fewer ops: the variance clamped in value with the identity gradient
    (torch's ``clone`` and in-place clamp under ``no_grad``, here on a detached alias), and
    :math:`\log v + d \cdot (d / v)` in one ``addcmul``; the factor 1/2 and ``full``'s constant applied
    after the reduction."""
    v = var.clone()
    v.detach().clamp_(min=eps)
    d = input - target
    loss = torch.addcmul(torch.log(v), d, d / v)
    if red == 0:
        loss = loss.mul_(0.5)
        return loss.add_(_HALF_LOG_2PI) if full else loss
    out = (loss.mean() if red == 1 else loss.sum()) * 0.5
    if full:
        out = out + (_HALF_LOG_2PI if red == 1 else _HALF_LOG_2PI * input.numel())
    return out


def _nonnegative_var(args: tuple[object, ...]) -> bool:
    """torch refuses a negative variance; its clamp would turn it into ``eps`` (NaN fails too)."""
    return bool(cast(torch.Tensor, args[2]).detach().amin().item() >= 0)


def _gaussian_device_checks(args: tuple[object, ...]) -> None:
    V.check_nonnegative_values(cast(torch.Tensor, args[2]), "var", "a var")


def _rates(args: tuple[object, ...]) -> bool:
    """Rates >= 0 (``log_input=False``): the loss cannot show a negative one above ``-eps`` (NaN fails too)."""
    return bool(cast(torch.Tensor, args[0]).detach().amin().item() >= 0)


def _rates_device_checks(args: tuple[object, ...]) -> None:
    V.check_nonnegative_values(cast(torch.Tensor, args[0]), "input", "rates (log_input=False)")


_GAUSSIAN = TorchCall(_gaussian_torch, (("input", 0), ("target", 1), ("var", 2)), same=3, guard=_nonnegative_var,
                    device_checks=_gaussian_device_checks)
# torch's formula takes negative counts: the strict level refuses them
_POISSON = TorchCall(_poisson_nll, (("input", 0), ("target", 1)), same=2, strict_checks=True)
_POISSON_RATES = dataclasses.replace(_POISSON, guard=_rates, device_checks=_rates_device_checks)


def gaussian_nll_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    var: torch.Tensor | float,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
    *,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Gaussian negative log-likelihood with a predicted variance (torch's ``gaussian_nll_loss``).

    .. math::

        \\ell = \\tfrac12\\Big(\\log\\max(\\sigma^2, \\varepsilon)
                + \\frac{(\\hat y - y)^2}{\\max(\\sigma^2, \\varepsilon)}\\Big)
                \\;[+\\, \\tfrac12 \\log 2\\pi \\text{ if full}]

    Args:
      input: the predicted means :math:`\\hat y`, batch along dim 0.
      target: the observations :math:`y`, shaped like ``input``.
      var: the predicted variances :math:`\\sigma^2 \\ge 0`: ``input``'s shape, ``input``'s shape without
        its last dim, ``input``'s shape with one dim of size 1 (torch's rules), or a float.
      full: add the constant :math:`\\tfrac12\\log 2\\pi`.
      eps: the variance floor (value clamped, gradient straight through, as torch).

    Equals :func:`torch.nn.functional.gaussian_nll_loss`, except that a mean over zero items is 0.

    References:
      Nix & Weigend, *Estimating the mean and variance of the target probability
      distribution*, ICNN 1994.
    """
    if sample_weight is None and num_items is None and (full is True or full is False) and (
        type(eps) in _REAL_TYPES and eps > 0
    ):
        out = torch_op_loss(_GAUSSIAN, (input, target, var, full, eps), reduction, validate)
        if out is not None:
            return out
    V.check_reduction(reduction)
    x, y, v = _prepare(input, target, var, "var", eps, validate)
    values = 0.5 * (torch.log(v) + (x - y) ** 2 / v)
    if full:
        values = values + _HALF_LOG_2PI
    return _reduce(values, reduction, sample_weight, num_items)


def beta_nll_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    var: torch.Tensor | float,
    *,
    beta: float = 0.5,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """β-NLL: the Gaussian NLL weighted by the (gradient-stopped) variance to the power β.

    .. math::

        \\ell = \\operatorname{sg}\\big[\\sigma^{2\\beta}\\big]\\cdot
                \\tfrac12\\Big(\\log \\sigma^2 + \\frac{(\\hat y - y)^2}{\\sigma^2}\\Big),
        \\qquad \\sigma^2 \\leftarrow \\max(\\sigma^2, \\varepsilon)

    The Gaussian NLL scales the mean's gradient by :math:`1/\\sigma^2`, so
    points fit badly (large predicted variance) stop pulling the mean and the
    fit under-fits; the weight :math:`\\sigma^{2\\beta}` undoes that. ``beta=0``
    is :func:`gaussian_nll_loss`; ``beta=1`` gives the mean the gradient of MSE.
    ``var``, ``full`` and ``eps`` as in :func:`gaussian_nll_loss`.

    References:
      Seitzer, Tavakoli, Antic & Martius, *On the Pitfalls of Heteroscedastic
      Uncertainty Estimation with Probabilistic Neural Networks*, ICLR 2022.
    """
    V.check_reduction(reduction)
    beta = V.check_in_range(beta, "beta", 0.0, 1.0)
    x, y, v = _prepare(input, target, var, "var", eps, validate)
    values = 0.5 * (torch.log(v) + (x - y) ** 2 / v)
    if full:
        values = values + _HALF_LOG_2PI
    if beta:
        values = values * v.detach() ** beta
    return _reduce(values, reduction, sample_weight, num_items)


def laplace_nll_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    scale: torch.Tensor | float,
    *,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Laplace negative log-likelihood with a predicted scale :math:`b`.

    .. math::

        \\ell = \\log b + \\frac{|\\hat y - y|}{b} \\;[+\\, \\log 2 \\text{ if full}],
        \\qquad b \\leftarrow \\max(b, \\varepsilon)

    The heteroscedastic form of MAE: its minimiser over :math:`\\hat y` is the
    median, and :math:`b` estimates the mean absolute deviation. With ``full``
    it equals ``-scipy.stats.laplace.logpdf(y, loc=ŷ, scale=b)``. ``scale``
    takes the shapes of :func:`gaussian_nll_loss`'s ``var``; ``eps`` is its floor.

    References:
      Kendall & Gal, *What Uncertainties Do We Need in Bayesian Deep Learning for
      Computer Vision?*, NeurIPS 2017.
    """
    V.check_reduction(reduction)
    x, y, b = _prepare(input, target, scale, "scale", eps, validate)
    values = torch.log(b) + (x - y).abs() / b
    if full:
        values = values + _LOG2
    return _reduce(values, reduction, sample_weight, num_items)


def student_t_nll_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    scale: torch.Tensor | float,
    *,
    df: float | torch.Tensor = 4.0,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Student-t negative log-likelihood with a predicted scale :math:`\\sigma` and ν degrees of freedom.

    .. math::

        \\ell = \\log\\Gamma\\big(\\tfrac{\\nu}{2}\\big) - \\log\\Gamma\\big(\\tfrac{\\nu+1}{2}\\big)
                + \\tfrac12\\log\\nu + \\log\\sigma
                + \\tfrac{\\nu+1}{2}\\log\\Big(1 + \\frac{(\\hat y - y)^2}{\\nu\\sigma^2}\\Big)
                \\;[+\\, \\tfrac12\\log\\pi \\text{ if full}]

    Heavy-tailed: the influence of a residual :math:`r` falls like :math:`1/r`,
    so outliers barely move the mean; ν → ∞ is the Gaussian NLL. Only the true
    constant :math:`\\tfrac12\\log\\pi` is dropped without ``full``, so ν may be
    learned: pass ``df`` as a tensor (broadcastable to ``input``, > 0) that
    requires grad. With ``full`` it equals ``-scipy.stats.t.logpdf(y, ν, loc=ŷ,
    scale=σ)``. ``scale`` and ``eps`` as in :func:`laplace_nll_loss`.

    References:
      Lange, Little & Taylor, *Robust Statistical Modeling Using the t
      Distribution*, JASA 84(408), 1989.
    """
    V.check_reduction(reduction)
    x, y, s = _prepare(input, target, scale, "scale", eps, validate)
    if isinstance(df, torch.Tensor):
        V.check_broadcast_param(df, "df", x)
        if V.resolve(validate):
            V.check_finite(df, "df")
            V.check_positive_values(df, "df")
        nu = df.to(x.dtype)
    else:
        nu = torch.tensor(V.check_positive(df, "df"), dtype=x.dtype, device=x.device)
    z = (x - y) / s
    values = (
        torch.lgamma(nu / 2) - torch.lgamma((nu + 1) / 2) + 0.5 * torch.log(nu) + torch.log(s)
        + (nu + 1) / 2 * torch.log1p(z * z / nu)
    )
    if full:
        values = values + _HALF_LOG_PI
    return _reduce(values, reduction, sample_weight, num_items)


def poisson_nll_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    log_input: bool = True,
    full: bool = False,
    size_average: bool | None = None,
    eps: float = 1e-8,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Poisson negative log-likelihood of counts (torch's ``poisson_nll_loss``).

    .. math::

        \\ell = \\begin{cases} e^{x} - y\\,x & \\text{log\\_input (x = log-rate)} \\\\
                 x - y \\log(x + \\varepsilon) & \\text{otherwise (x = rate)} \\end{cases}
                 \\;[+\\, y\\log y - y + \\tfrac12\\log(2\\pi y) \\text{ for } y > 1 \\text{ if full}]

    The ``full`` term is Stirling's approximation of :math:`\\log y!`, added where
    :math:`y > 1` as torch does. Equals :func:`torch.nn.functional.poisson_nll_loss`
    (a mean over zero items is 0); ``size_average`` and ``reduce`` are deprecated
    and warn as in torch. A log-rate of +1e4 is a rate of :math:`e^{10^4}`,
    beyond every float: the loss is inf, as in torch.

    Args:
      input: the predicted log-rates (``log_input=True``) or rates (>= 0).
      target: observed counts, shaped like ``input``; torch's formula takes negative ones,
        ``validate="strict"`` refuses them. Rates (``log_input=False``) must be >= 0.

    References:
      McCullagh & Nelder, *Generalized Linear Models*, 2nd ed., 1989, ch. 6.
    """
    if sample_weight is None and num_items is None and size_average is None and reduce is None and (
        (log_input is True or log_input is False) and (full is True or full is False)
        and type(eps) in _REAL_TYPES and eps > 0 and not (isinstance(target, torch.Tensor) and target.requires_grad)
    ):  # (torch's full term masks log(0), whose gradient is NaN)
        out = torch_op_loss(_POISSON if log_input else _POISSON_RATES, (input, target, log_input, full, eps),
                            reduction, validate)
        if out is not None:
            return out
    reduction = V.legacy_reduction(size_average, reduce, reduction)
    V.check_reduction(reduction)
    V.check_float(input, "input")
    V.check_float(target, "target")
    V.check_target_broadcast(input, target)  # torch's rule: a target with a dim of size 1 is shared along it
    V.check_positive(eps, "eps")
    if V.resolve(validate):
        V.check_finite(input, "input")
        V.check_finite(target, "target")
        if V.strict(validate):  # torch's formula takes them
            V.check_nonnegative_values(target, "target", "counts", note=V.STRICT_NOTE)
        if not log_input:
            V.check_nonnegative_values(input, "input", "rates (log_input=False)")
    dtype = compute_dtype(input, target)
    x, y = input.to(dtype), target.to(dtype)
    values = torch.exp(x) - y * x if log_input else x - y * torch.log(x + eps)
    if full:
        big = y > 1
        safe = torch.where(big, y, torch.ones_like(y))
        stirling = safe * torch.log(safe) - safe + 0.5 * torch.log(2 * math.pi * safe)
        values = values + torch.where(big, stirling, torch.zeros_like(y))
    return _reduce(values, reduction, sample_weight, num_items)
