"""Elementwise functions in forms that stay exact and finite where their textbook forms do not.

Each is written so that both sides of every ``torch.where`` see safe inputs
(:func:`split`), which keeps the derivatives of every order finite too: a
``where`` selects its gradient, but an inf or NaN computed on the unselected
side still poisons a product inside it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["exprel", "log1p_over", "log1p_square", "one_minus_exp_over", "series", "split"]


def split(mask: torch.Tensor, x: torch.Tensor, fill: float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(x where mask else fill, x where not mask else fill): safe inputs for the two sides of a where."""
    f = torch.full_like(x, fill) if not isinstance(fill, torch.Tensor) else fill.expand_as(x)
    return torch.where(mask, x, f), torch.where(mask, f, x)


def series(small: torch.Tensor, x: torch.Tensor, coefs: tuple[float, ...],
            exact: Callable[[torch.Tensor], torch.Tensor], fill: float) -> torch.Tensor:
    """``exact(x)``, or its Taylor polynomial ``coefs`` where ``small`` (both sides on safe inputs)."""
    x_small, x_big = split(small, x, fill)
    poly = torch.zeros_like(x_small) + coefs[-1]
    for a in reversed(coefs[:-1]):
        poly = a + x_small * poly
    return torch.where(small, poly, exact(x_big))


_SMALL = 1e-4  # below this, the Taylor polynomials below are exact to < 2e-17 (the float64 unit roundoff)


def log1p_over(t: torch.Tensor) -> torch.Tensor:
    """:math:`\\log(1 + t)/t` for ``t >= 0``, 1 at ``t = 0``."""
    return series(t < _SMALL, t, (1.0, -1 / 2, 1 / 3, -1 / 4), lambda s: torch.log1p(s) / s, 1.0)


def one_minus_exp_over(t: torch.Tensor) -> torch.Tensor:
    """:math:`(1 - e^{-t})/t` for ``t >= 0``, 1 at ``t = 0``."""
    return series(t < _SMALL, t, (1.0, -1 / 2, 1 / 6, -1 / 24), lambda s: -torch.expm1(-s) / s, 1.0)


def exprel(x: torch.Tensor) -> torch.Tensor:
    """:math:`(e^x - 1)/x`, 1 at ``x = 0``."""
    return series(x.abs() < _SMALL, x, (1.0, 1 / 2, 1 / 6, 1 / 24, 1 / 120), lambda s: torch.expm1(s) / s, 1.0)


def log1p_square(u: torch.Tensor) -> torch.Tensor:
    """:math:`\\log(1 + u^2)` for every finite ``u``: no overflow of :math:`u^2`, accurate near 0."""
    a = u.abs()
    big = a > 1.0
    a_big, a_small = split(big, a, 2.0)
    return torch.where(big, 2.0 * torch.log(a_big) + torch.log1p(torch.reciprocal(a_big).square()),
                       torch.log1p(a_small.square()))
