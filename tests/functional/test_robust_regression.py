"""Robust regression losses against closed forms, scipy, statsmodels and mpmath."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
from scipy.optimize import least_squares
from statsmodels.robust import norms

import losskit.functional as LF
from losskit import LossInputError

R = np.array([-1e3, -7.5, -2.0, -0.6, -1e-3, 0.0, 1e-6, 0.3, 1.0, 2.5, 4.0, 40.0, 1e4])

mp = mpmath.mp
mp.dps = 40
# (function, hyperparameters, closed form rho(r) evaluated by mpmath at 40 digits: the naive float64
# forms lose up to 8 digits to cancellation near r = 0, the library must not)
CLOSED_FORMS = [
    (LF.pseudo_huber_loss, {"delta": 0.5}, lambda r: 0.25 * (mp.sqrt(1 + (r / 0.5) ** 2) - 1)),
    (LF.pseudo_huber_loss, {"delta": 3.0}, lambda r: 9 * (mp.sqrt(1 + (r / 3) ** 2) - 1)),
    (LF.cauchy_loss, {"scale": 0.5}, lambda r: 0.125 * mp.log(1 + (r / 0.5) ** 2)),
    (LF.cauchy_loss, {"scale": 2.0}, lambda r: 2 * mp.log(1 + (r / 2) ** 2)),
    (LF.geman_mcclure_loss, {"scale": 0.7}, lambda r: mp.mpf(0.7) ** 2 * 2 * (r / 0.7) ** 2 / ((r / 0.7) ** 2 + 4)),
    (LF.geman_mcclure_loss, {"scale": 3.0}, lambda r: 9 * 2 * (r / 3) ** 2 / ((r / 3) ** 2 + 4)),
    (LF.welsch_loss, {"scale": 0.5}, lambda r: 0.125 * (1 - mp.exp(-((r / 0.5) ** 2)))),
    (LF.welsch_loss, {"scale": 2.0}, lambda r: 2 * (1 - mp.exp(-((r / 2) ** 2)))),
    (LF.tukey_loss, {"c": 1.0}, lambda r: (1 - (1 - r**2) ** 3) / 6 if abs(r) <= 1 else mp.mpf(1) / 6),
    (LF.tukey_loss, {"c": 4.685}, lambda r: (mp.mpf(4.685) ** 2 / 6 * (1 - (1 - (r / 4.685) ** 2) ** 3)
                                             if abs(r) <= 4.685 else mp.mpf(4.685) ** 2 / 6)),
    (LF.quantile_loss, {"tau": 0.1}, lambda r: max(mp.mpf(0.1) * -r, (mp.mpf(0.1) - 1) * -r)),
    (LF.quantile_loss, {"tau": 0.9}, lambda r: max(mp.mpf(0.9) * -r, (mp.mpf(0.9) - 1) * -r)),
    (LF.barron_loss, {"alpha": 0.5, "scale": 1.5},
     lambda r: 2.25 * 1.5 / 0.5 * (((r / 1.5) ** 2 / 1.5 + 1) ** 0.25 - 1)),
    (LF.barron_loss, {"alpha": -1.0, "scale": 0.8},
     lambda r: mp.mpf(0.8) ** 2 * 3 / -1 * (((r / 0.8) ** 2 / 3 + 1) ** -0.5 - 1)),
    (LF.barron_loss, {"alpha": 3.0, "scale": 2.0}, lambda r: 4 * (((r / 2) ** 2 + 1) ** 1.5 - 1) / 3),
]
ALL = [LF.pseudo_huber_loss, LF.cauchy_loss, LF.geman_mcclure_loss, LF.welsch_loss, LF.tukey_loss,
       LF.quantile_loss, LF.barron_loss]


def _values(fn, r: np.ndarray, **options) -> np.ndarray:
    x = torch.tensor(r, dtype=torch.float64)
    return fn(x, torch.zeros_like(x), reduction="none", **options).numpy()


def _grads(fn, r: np.ndarray, **options) -> np.ndarray:
    x = torch.tensor(r, dtype=torch.float64, requires_grad=True)
    fn(x, torch.zeros_like(x), reduction="sum", **options).backward()
    return x.grad.numpy()


def _ids(v: object) -> str:
    return getattr(v, "__name__", None) or (str(v) if isinstance(v, dict) else "")


@pytest.mark.parametrize(("fn", "options", "rho"), CLOSED_FORMS, ids=_ids)
def test_closed_form(fn, options, rho):
    expected = np.array([float(rho(mp.mpf(r))) for r in R])
    np.testing.assert_allclose(_values(fn, R, **options), expected, rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("fn", [f for f in ALL if f is not LF.quantile_loss], ids=_ids)
def test_quadratic_near_zero(fn):
    r = np.array([-1e-5, 1e-7, 3e-6])
    np.testing.assert_allclose(_values(fn, r), r**2 / 2, rtol=1e-9)
    np.testing.assert_allclose(_grads(fn, r), r, rtol=1e-9)


def test_quantile_at_half_is_half_mae():
    x = torch.tensor(R, requires_grad=True)
    y = torch.zeros_like(x)
    torch.testing.assert_close(LF.quantile_loss(x, y, tau=0.5), LF.l1_loss(x, y) / 2, rtol=1e-15, atol=0)
    LF.quantile_loss(x, y, tau=0.5, reduction="sum").backward()
    torch.testing.assert_close(x.grad, torch.sign(x.detach()) / 2)  # subgradient 0 at r = 0, like l1_loss


def test_quantile_minimiser_is_the_quantile():
    # the pinball loss of a constant prediction is minimised at the tau-quantile of the targets
    y = torch.arange(1.0, 11.0, dtype=torch.float64)
    grid = torch.linspace(0, 11, 1101, dtype=torch.float64)
    for tau, quantile in ((0.25, 3.0), (0.75, 8.0)):
        risk = torch.stack([LF.quantile_loss(g.expand(10), y, tau=tau) for g in grid])
        best = grid[risk.argmin()]
        assert quantile - 0.5 <= best.item() <= quantile + 0.5


# ------------------------------------------------------------------ scipy / statsmodels references

# scipy and statsmodels evaluate the textbook forms, which cancel catastrophically near r = 0
# (e.g. 2 (sqrt(1 + z) - 1)); compare where they are accurate. Near 0 the mpmath tests above apply.
R_REFERENCE = R[np.abs(R) >= 0.1]


def _scipy_rho_psi(loss: str, f_scale: float, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-residual cost and its derivative from scipy's least_squares, through its public API.

    With fun(x) = r + x at x0 = 0, the Jacobian is the identity: ``cost`` is
    sum_i 0.5 f^2 rho((r_i/f)^2) and ``grad`` the vector of per-residual derivatives.
    """
    costs = np.array([least_squares(lambda x, ri=ri: ri + x, x0=[0.0], loss=loss, f_scale=f_scale,
                                    max_nfev=1).cost for ri in r])
    grad = least_squares(lambda x: r + x, x0=np.zeros_like(r), loss=loss, f_scale=f_scale, max_nfev=1).grad
    return costs, grad


@pytest.mark.parametrize("f_scale", [0.5, 1.0, 3.0])
@pytest.mark.parametrize(("loss", "fn", "option"), [("soft_l1", LF.pseudo_huber_loss, "delta"),
                                                     ("cauchy", LF.cauchy_loss, "scale")])
def test_matches_scipy_least_squares(loss, fn, option, f_scale):
    r = R_REFERENCE[np.abs(R_REFERENCE) < 1e3]
    rho, psi = _scipy_rho_psi(loss, f_scale, r)
    np.testing.assert_allclose(_values(fn, r, **{option: f_scale}), rho, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(_grads(fn, r, **{option: f_scale}), psi, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("c", [1.0, 2.5, 4.685])
def test_tukey_matches_statsmodels(c):
    norm = norms.TukeyBiweight(c=c)
    r = R_REFERENCE
    np.testing.assert_allclose(_values(LF.tukey_loss, r, c=c), norm.rho(r), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(_grads(LF.tukey_loss, r, c=c), norm.psi(r), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("t", [0.5, 1.345, 3.0])
def test_huber_matches_statsmodels(t):
    norm = norms.HuberT(t=t)
    np.testing.assert_allclose(_values(LF.huber_loss, R, delta=t), norm.rho(R), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(_grads(LF.huber_loss, R, delta=t), norm.psi(R), rtol=1e-12, atol=1e-300)


# ------------------------------------------------------------------ Barron's general loss


@pytest.mark.parametrize("c", [0.6, 2.0])
def test_barron_special_cases(c):
    cases = {
        2.0: lambda r: r**2 / 2,
        0.0: lambda r: c**2 * mp.log((r / c) ** 2 / 2 + 1),
        -math.inf: lambda r: c**2 * (1 - mp.exp(-((r / c) ** 2) / 2)),
        1.0: lambda r: c**2 * (mp.sqrt((r / c) ** 2 + 1) - 1),
        -2.0: lambda r: c**2 * 2 * (r / c) ** 2 / ((r / c) ** 2 + 4),
    }
    for alpha, rho in cases.items():
        expected = np.array([float(rho(mp.mpf(r))) for r in R])
        np.testing.assert_allclose(_values(LF.barron_loss, R, alpha=alpha, scale=c), expected, rtol=1e-13,
                                   atol=1e-300, err_msg=f"alpha={alpha}")
    # and the named losses it generalises
    np.testing.assert_allclose(_values(LF.barron_loss, R, alpha=1.0, scale=c),
                               _values(LF.pseudo_huber_loss, R, delta=c), rtol=1e-13)
    np.testing.assert_allclose(_values(LF.barron_loss, R, alpha=-2.0, scale=c),
                               _values(LF.geman_mcclure_loss, R, scale=c), rtol=1e-13)
    np.testing.assert_allclose(_values(LF.barron_loss, R, alpha=0.0, scale=c / math.sqrt(2)),
                               _values(LF.cauchy_loss, R, scale=c), rtol=1e-13)
    np.testing.assert_allclose(_values(LF.barron_loss, R, alpha=-math.inf, scale=c / math.sqrt(2)),
                               _values(LF.welsch_loss, R, scale=c), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(_values(LF.barron_loss, R, alpha=2.0, scale=c), _values(LF.mse_loss, R) / 2, rtol=1e-15)


def _barron_mp(r: float, alpha: float, c: float) -> mpmath.mpf:
    r, a, c = mpmath.mpf(r), mpmath.mpf(alpha), mpmath.mpf(c)
    u = r / c
    if a == 0:
        return c**2 * mpmath.log(u**2 / 2 + 1)
    b = abs(a - 2)
    return c**2 * b / a * ((u**2 / b + 1) ** (a / 2) - 1)


ALPHAS_NEAR_LIMITS = [-1e4, -3.0, -1e-9, 1e-12, 1e-6, 0.3, 1.7, 2 - 1e-9, 2 + 1e-9, 2.5]


def test_barron_general_alpha_against_mpmath():
    mpmath.mp.dps = 60
    r = np.array([-300.0, -2.0, 1e-3, 0.7, 5.0, 1e5])
    for alpha in ALPHAS_NEAR_LIMITS:
        for c in (0.5, 2.0):
            expected = np.array([float(_barron_mp(ri, alpha, c)) for ri in r])
            np.testing.assert_allclose(_values(LF.barron_loss, r, alpha=alpha, scale=c), expected, rtol=1e-12,
                                       err_msg=f"alpha={alpha}, c={c}")


def test_barron_gradients_in_alpha_and_scale_against_mpmath():
    # exact derivatives in alpha and c, alpha = 0 included (a removable singularity of the closed form)
    # central differences with h = 1e-15 at 60 digits: the closed form loses about 30 digits near alpha = 0
    mpmath.mp.dps = 60
    h = mpmath.mpf("1e-15")
    r = 1.7
    for alpha in (-3.0, -1e-3, 0.0, 1e-7, 1.0, 1.9, 2.4):
        for c in (0.5, 1.3):
            a_t = torch.tensor(alpha, dtype=torch.float64, requires_grad=True)
            c_t = torch.tensor(c, dtype=torch.float64, requires_grad=True)
            LF.barron_loss(torch.tensor([r], dtype=torch.float64), torch.zeros(1, dtype=torch.float64),
                           alpha=a_t, scale=c_t).backward()
            d_alpha = (_barron_mp(r, mpmath.mpf(alpha) + h, c) - _barron_mp(r, mpmath.mpf(alpha) - h, c)) / (2 * h)
            d_c = (_barron_mp(r, alpha, mpmath.mpf(c) + h) - _barron_mp(r, alpha, mpmath.mpf(c) - h)) / (2 * h)
            assert a_t.grad.item() == pytest.approx(float(d_alpha), rel=1e-9), (alpha, c)
            assert c_t.grad.item() == pytest.approx(float(d_c), rel=1e-9), (alpha, c)


def test_barron_tensor_parameters_broadcast_and_gradcheck():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, generator=g, dtype=torch.float64) * 3
    y = torch.randn(4, 3, generator=g, dtype=torch.float64)
    alpha = torch.tensor([-2.0, 0.5, 1.5], dtype=torch.float64, requires_grad=True)  # one per output dim
    scale = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64, requires_grad=True)
    per_dim = LF.barron_loss(x, y, alpha=alpha, scale=scale, reduction="none")
    for j in range(3):
        torch.testing.assert_close(per_dim[:, j], LF.barron_loss(x[:, j], y[:, j], alpha=alpha[j].item(),
                                                                 scale=scale[j].item(), reduction="none"))
    assert torch.autograd.gradcheck(
        lambda xx, a, s: LF.barron_loss(xx, y, alpha=a, scale=s, reduction="none"), (x.requires_grad_(), alpha, scale))
    # special values inside a tensor alpha: exact closed forms per column
    special = torch.tensor([2.0, 0.0, -math.inf], dtype=torch.float64)
    out = LF.barron_loss(x, y, alpha=special, scale=1.0, reduction="none")
    r = (x - y).detach()
    torch.testing.assert_close(out[:, 0], r[:, 0] ** 2 / 2)
    torch.testing.assert_close(out[:, 1], torch.log1p(r[:, 1] ** 2 / 2))
    torch.testing.assert_close(out[:, 2], -torch.expm1(-r[:, 2] ** 2 / 2))


# ------------------------------------------------------------------ gradients and extremes

GRAD_CASES = [(fn, {}) for fn in ALL] + [
    (LF.quantile_loss, {"tau": 0.8}), (LF.tukey_loss, {"c": 1.0}),
    (LF.barron_loss, {"alpha": 0.0}), (LF.barron_loss, {"alpha": -math.inf}), (LF.barron_loss, {"alpha": 2.0}),
    (LF.barron_loss, {"alpha": -5.0, "scale": 0.3}),
]


@pytest.mark.parametrize(("fn", "options"), GRAD_CASES, ids=_ids)
def test_gradcheck(fn, options):
    # residuals away from the kinks of tukey (|r| = c) and quantile (r = 0)
    x = torch.tensor([-6.0, -2.2, -0.45, 0.05, 0.8, 1.7, 3.1, 9.0], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0.1] * 8, dtype=torch.float64)
    w = torch.linspace(0.5, 2.0, 8, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda z: fn(z, y, weight=w, reduction="none", **options), (x,))
    assert torch.autograd.gradcheck(lambda t: fn(x.detach(), t, **options), (y.clone().requires_grad_(),))
    # second order too (the custom backwards are differentiable): for Newton-type optimisers
    assert torch.autograd.gradgradcheck(lambda z: fn(z, y, reduction="none", **options), (x,))


EXTREME_CASES = [(fn, {}) for fn in ALL] + [
    (LF.barron_loss, {"alpha": a}) for a in (0.5, 0.0, -2.0, -math.inf, -1e3)
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("fn", "options"), EXTREME_CASES, ids=_ids)
def test_finite_values_and_gradients_at_extreme_residuals(fn, options, dtype):
    huge = 1e38 if dtype == torch.float32 else 1e307
    x = torch.tensor([1e30, -1e30, huge, -huge, 1e-30, -1e-38, 0.0], dtype=dtype, requires_grad=True)
    value = fn(x, torch.zeros_like(x), reduction="none", **options)
    value.sum().backward()
    assert torch.isfinite(value).all(), value
    assert torch.isfinite(x.grad).all(), x.grad
    # every influence function here is bounded by 1 at the default scales
    assert bool((x.grad.abs() <= 1.0 + 1e-5).all()), x.grad


@pytest.mark.parametrize(("fn", "options"), [(f, o) for f, o in EXTREME_CASES
                                            if f is not LF.barron_loss or o.get("alpha", 1.0) <= 0.5],
                         ids=_ids)
def test_finite_at_the_largest_float(fn, options):
    # every loss but Barron's at alpha > 0.5 stays finite right up to the largest float32
    big = torch.finfo(torch.float32).max
    x = torch.tensor([big, -big], requires_grad=True)
    value = fn(x, torch.zeros_like(x), reduction="none", **options)
    value.sum().backward()
    assert torch.isfinite(value).all() and torch.isfinite(x.grad).all(), (value, x.grad)


def test_barron_tensor_parameters_finite_gradients_at_extremes():
    # (at alpha = 1 the true d rho / d alpha at r = 1e38 is about 1e38 * log(1e38), beyond float32)
    x = torch.tensor([1e30, -1e30, 1e-30, 0.0], requires_grad=True)
    for alpha in (1.0, 0.0, 0.5, -2.0, -math.inf):
        a = torch.tensor(alpha, requires_grad=True)
        c = torch.tensor(1.5, requires_grad=True)
        x.grad = None
        value = LF.barron_loss(x, torch.zeros_like(x), alpha=a, scale=c, reduction="sum")
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(x.grad).all(), alpha
        assert torch.isfinite(c.grad) and torch.isfinite(a.grad), alpha


# ------------------------------------------------------------------ checks


@pytest.mark.parametrize(
    ("fn", "options", "message"),
    [
        (LF.pseudo_huber_loss, {"delta": 0.0}, "delta must be a finite number > 0"),
        (LF.cauchy_loss, {"scale": -1.0}, "scale must be a finite number > 0"),
        (LF.geman_mcclure_loss, {"scale": math.inf}, "scale must be a finite number > 0"),
        (LF.welsch_loss, {"scale": "1"}, "scale must be a positive number"),
        (LF.tukey_loss, {"c": 0}, "c must be a finite number > 0"),
        (LF.quantile_loss, {"tau": 1.0}, r"tau must lie in \(0, 1\)"),
        (LF.quantile_loss, {"tau": 0.0}, r"tau must lie in \(0, 1\)"),
        (LF.barron_loss, {"alpha": math.inf}, r"alpha must lie in \[-inf, inf\)"),
        (LF.barron_loss, {"alpha": math.nan}, "alpha must lie"),
        (LF.barron_loss, {"scale": 0.0}, "scale must be a finite number > 0"),
        (LF.barron_loss, {"alpha": torch.tensor([1.0, math.nan, 0.0])}, "alpha holds 1 non-finite value"),
        (LF.barron_loss, {"alpha": torch.tensor([1.0, math.inf, 0.0])}, "alpha holds 1 non-finite value"),
        (LF.barron_loss, {"scale": torch.tensor([1.0, 0.0, 1.0])}, "scale holds the value 0; every scale must be > 0"),
        (LF.barron_loss, {"alpha": torch.ones(3, 1)}, r"alpha has shape \(3, 1\), which does not broadcast"),
        (LF.barron_loss, {"scale": torch.ones(2)}, r"scale has shape \(2,\), which does not broadcast"),
        (LF.barron_loss, {"alpha": torch.ones(3, dtype=torch.long)}, "alpha has dtype torch.int64"),
    ],
)
def test_bad_hyperparameters(fn, options, message):
    with pytest.raises(LossInputError, match=message):
        fn(torch.zeros(4, 3), torch.ones(4, 3), **options)


@pytest.mark.parametrize("fn", ALL, ids=_ids)
def test_core_checks_apply(fn):
    with pytest.raises(LossInputError, match="does not broadcast"):
        fn(torch.zeros(4, 1), torch.zeros(4))
    with pytest.raises(LossInputError, match="non-finite"):
        fn(torch.tensor([0.0, math.nan]), torch.zeros(2))


# ------------------------------------------------------------ scales at the ends of the dtype (issue 13, items 7-8)

# rho(r, c) at 50 digits, each written without cancellation (mpmath's log1p/expm1, and
# sqrt(1 + z) - 1 = z / (1 + sqrt(1 + z))), so u^2 = 1e-600 loses nothing
def _barron_mp_rho(alpha: float):
    beta = abs(alpha - 2)
    return lambda r, c: c**2 * beta / alpha * mp.expm1(alpha / 2 * mp.log1p((r / c) ** 2 / beta))


MP_RHO = {
    "pseudo_huber": (LF.pseudo_huber_loss, "delta", lambda r, c: r**2 / (1 + mp.sqrt(1 + (r / c) ** 2))),
    "cauchy": (LF.cauchy_loss, "scale", lambda r, c: c**2 / 2 * mp.log1p((r / c) ** 2)),
    "geman_mcclure": (LF.geman_mcclure_loss, "scale", lambda r, c: c**2 * 2 * (r / c) ** 2 / ((r / c) ** 2 + 4)),
    "welsch": (LF.welsch_loss, "scale", lambda r, c: c**2 / 2 * -mp.expm1(-((r / c) ** 2))),
    "tukey": (LF.tukey_loss, "c", lambda r, c: (r**2 / 6 * (3 - 3 * (r / c) ** 2 + (r / c) ** 4)
                                                 if abs(r) <= c else c**2 / 6)),
    "barron(alpha=0.5)": (lambda x, t, **kw: LF.barron_loss(x, t, alpha=0.5, **kw), "scale", _barron_mp_rho(0.5)),
    "barron(alpha=-3)": (lambda x, t, **kw: LF.barron_loss(x, t, alpha=-3.0, **kw), "scale", _barron_mp_rho(-3.0)),
    "barron(alpha=-inf)": (lambda x, t, **kw: LF.barron_loss(x, t, alpha=-math.inf, **kw), "scale",
                           lambda r, c: c**2 * -mp.expm1(-((r / c) ** 2) / 2)),
}
# (dtype, scale, residuals): scales at and near both ends of each dtype, residuals from tiny to huge
SCALE_EXTREMES = [
    (torch.float32, 1e20, [1.0, -1.0, 0.5, 1e-20, 3e19, 1e21]),
    (torch.float32, 1e30, [1.0, -0.5, 1e-30, 2e29, 1e31]),
    (torch.float32, 3e38, [1.0, 1e19, 1e38]),
    (torch.float32, 1e-30, [1.0, -1e-30, 3e-31, 1e30]),
    (torch.float32, 2e-38, [1e-38, 1.0, 1e38]),
    (torch.float64, 1e300, [1.0, -1e-300, 1e150, 1e299, 1e301]),
    (torch.float64, 1e-300, [1.0, 1e10, 1e300, -3e-301]),
]


def _mp_psi(rho, r: float, c: float) -> float:
    # a central difference with a step relative to the point: exact to ~1e-40 at 50 digits
    h = abs(mp.mpf(r)) * mp.mpf(10) ** -20
    return float(mp.diff(lambda s: rho(s, mp.mpf(c)), mp.mpf(r), h=h))


@pytest.mark.parametrize(("dtype", "scale", "residuals"), SCALE_EXTREMES, ids=lambda v: str(v)[:12])
@pytest.mark.parametrize("name", list(MP_RHO))
def test_scales_at_the_ends_of_the_dtype_match_mpmath(name, dtype, scale, residuals):
    """A scale of 1e20 or 1e30 in float32 used to give inf and NaN at |r| = 1; now values and gradients
    equal mpmath's in the dtype's own precision, wherever the exact value is representable."""
    fn, option, rho = MP_RHO[name]
    with mp.workdps(50):
        expected = [float(rho(mp.mpf(r), mp.mpf(scale))) for r in residuals]
        expected_grad = [_mp_psi(rho, r, scale) for r in residuals]
    x = torch.tensor(residuals, dtype=dtype, requires_grad=True)
    values = fn(x, torch.zeros_like(x), reduction="none", **{option: scale})
    (grad,) = torch.autograd.grad(values.sum(), x)
    info = torch.finfo(dtype)
    rtol = 1e-5 if dtype == torch.float32 else 1e-12
    exp_t, grad_t = torch.tensor(expected, dtype=torch.float64), torch.tensor(expected_grad, dtype=torch.float64)
    # compared where the exact value is representable (or underflows to 0); beyond the largest float it is inf
    overflows = exp_t.abs() > info.max
    representable = ((exp_t.abs() >= info.tiny) | (exp_t == 0)) & ~overflows
    torch.testing.assert_close(values.double()[representable], exp_t[representable], rtol=rtol, atol=0)
    assert torch.isinf(values[overflows]).all()
    checked = ~overflows
    if name.startswith("barron"):
        # Barron's r-gradient is autograd's, whose products of r^2 underflow below |r| = sqrt(tiny)
        checked &= torch.tensor(residuals, dtype=torch.float64).square() >= info.tiny
    torch.testing.assert_close(grad.double()[checked], grad_t[checked], rtol=rtol, atol=info.tiny * 4)


@pytest.mark.parametrize(("fn", "option"), [(f, o) for f, o, _ in MP_RHO.values()] + [(LF.huber_loss, "delta")])
@pytest.mark.parametrize(("value", "dtype", "bound"), [(1e39, torch.float32, "inf"), (1e300, torch.float32, "inf"),
                                                      (1e-39, torch.float32, "0"), (1e-310, torch.float64, "0")])
def test_scale_the_dtype_cannot_hold_is_refused_with_its_range(fn, option, value, dtype, bound):
    """delta=1e39 on float32 raised torch's 'cannot be converted' (huber, plain path), returned a number
    (huber, fused path), gave NaN (pseudo_huber) or OverflowError (barron): now one LossInputError."""
    x = torch.ones(3, dtype=dtype, requires_grad=True)
    low, high = torch.finfo(dtype).tiny, torch.finfo(dtype).max
    for reduction in ("mean", "none"):  # the fused and the plain path of huber
        with pytest.raises(LossInputError) as e:
            fn(x, torch.zeros_like(x), reduction=reduction, **{option: value})
        assert f"{option}={value!r} is outside [{low:g}, {high:g}]" in str(e.value)
        assert f"{dtype}" in str(e.value) and f"would round to {bound}" in str(e.value)


def test_huber_delta_beyond_float32_is_computed_in_float64():
    x = torch.tensor([1.0, -3.0], dtype=torch.float64, requires_grad=True)
    expected = torch.tensor(2.5, dtype=torch.float64)  # (1 + 9) / 2 / 2: quadratic, far inside delta
    torch.testing.assert_close(LF.huber_loss(x, torch.zeros_like(x), delta=1e39), expected)


def test_barron_tensor_scale_the_dtype_cannot_hold_is_refused():
    x = torch.ones(2)
    with pytest.raises(LossInputError, match=r"scale=1e\+300 is outside \[1.17549e-38, 3.40282e\+38\]"):
        LF.barron_loss(x, torch.zeros(2), scale=torch.tensor([1.0, 1e300], dtype=torch.float64))


# ------------------------------------------------------------------ second order and forward mode (issue 13, item 6)

NAIVE = {  # textbook rho(r) in torch ops: accurate and differentiable at moderate residuals
    "pseudo_huber": (LF.pseudo_huber_loss, {"delta": 1.5}, lambda r: 1.5**2 * (torch.sqrt(1 + (r / 1.5) ** 2) - 1)),
    "cauchy": (LF.cauchy_loss, {"scale": 0.8}, lambda r: 0.8**2 / 2 * torch.log1p((r / 0.8) ** 2)),
    "geman_mcclure": (LF.geman_mcclure_loss, {"scale": 1.2},
                      lambda r: 1.2**2 * 2 * (r / 1.2) ** 2 / ((r / 1.2) ** 2 + 4)),
    "welsch": (LF.welsch_loss, {"scale": 0.9}, lambda r: 0.9**2 / 2 * (1 - torch.exp(-((r / 0.9) ** 2)))),
    "tukey": (LF.tukey_loss, {"c": 2.0}, lambda r: torch.where(r.abs() <= 2, 4 / 6 * (1 - (1 - (r / 2) ** 2) ** 3),
                                                              torch.full_like(r, 4 / 6))),
    "quantile": (LF.quantile_loss, {"tau": 0.3}, lambda r: torch.maximum(0.3 * -r, (0.3 - 1) * -r)),
    "barron": (LF.barron_loss, {"alpha": 0.5, "scale": 1.1},
               lambda r: 1.1**2 * 1.5 / 0.5 * (((r / 1.1) ** 2 / 1.5 + 1) ** 0.25 - 1)),
}
R_SAFE = torch.tensor([-3.7, -1.3, -0.4, 0.25, 0.9, 1.7, 5.0], dtype=torch.float64)


@pytest.mark.parametrize("name", list(NAIVE))
def test_double_backward_and_jvp_match_autograd_of_the_textbook_form(name):
    """quantile_loss's gradient had no graph under create_graph=True, so a second autograd.grad raised."""
    fn, options, naive = NAIVE[name]
    target = torch.zeros_like(R_SAFE)

    def loss(x: torch.Tensor) -> torch.Tensor:
        return fn(x, target, reduction="sum", **options)

    x = R_SAFE.clone().requires_grad_()
    (g,) = torch.autograd.grad(loss(x), x, create_graph=True)
    (h_diag,) = torch.autograd.grad(g.sum(), x)  # the Hessian is diagonal: its row sums are its diagonal
    expected = torch.func.hessian(lambda a: naive(a).sum())(R_SAFE).diagonal()
    torch.testing.assert_close(h_diag, expected, rtol=1e-10, atol=1e-12)
    _, tangent = torch.func.jvp(loss, (R_SAFE,), (torch.ones_like(R_SAFE),))
    torch.testing.assert_close(tangent, torch.func.grad(lambda a: naive(a).sum())(R_SAFE).sum())


def test_quantile_second_derivative_is_zero_like_torch_l1():
    x = torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(LF.quantile_loss(x, torch.zeros_like(x), tau=0.2, reduction="sum"), x, create_graph=True)
    torch.testing.assert_close(g.detach(), torch.tensor([-0.2, 0.0, 0.8], dtype=torch.float64))  # 0 at r = 0
    (h,) = torch.autograd.grad(g.sum(), x)
    (g_l1,) = torch.autograd.grad(torch.nn.functional.l1_loss(x, torch.zeros_like(x), reduction="sum"), x,
                                  create_graph=True)
    torch.testing.assert_close(h, torch.autograd.grad(g_l1.sum(), x)[0])


# ------------------------------------------------------------------ the README's overflow table (issue 13, item 18)

FLOAT32_EXTREMES = [1e30, -1e30, 3e38, -3e38, 1e19, 1.0]
LINEAR_OR_BOUNDED = [  # README: finite values and gradients for every finite float32 residual
    (LF.l1_loss, {}), (LF.huber_loss, {}), (LF.log_cosh_loss, {}), (LF.pseudo_huber_loss, {}),
    (LF.quantile_loss, {}), (LF.barron_loss, {"alpha": 1.0}), (LF.barron_loss, {"alpha": 0.5}),
    (LF.cauchy_loss, {}), (LF.geman_mcclure_loss, {}), (LF.welsch_loss, {}), (LF.tukey_loss, {}),
    (LF.barron_loss, {"alpha": 0.0}), (LF.barron_loss, {"alpha": -2.0}), (LF.barron_loss, {"alpha": -math.inf}),
]


@pytest.mark.parametrize(("fn", "options"), LINEAR_OR_BOUNDED, ids=_ids)
def test_readme_bounded_gradient_losses_stay_finite_up_to_the_largest_float32(fn, options):
    x = torch.tensor(FLOAT32_EXTREMES, requires_grad=True)
    values = fn(x, torch.zeros(len(FLOAT32_EXTREMES)), reduction="none", **options)
    (grad,) = torch.autograd.grad(values.sum(), x)
    assert torch.isfinite(values).all() and torch.isfinite(grad).all()
    assert (grad.abs() <= 1.0 + 1e-5).all()  # |psi| <= 1 at the default scale of 1 (float32 rounding)


@pytest.mark.parametrize(("fn", "options", "first_inf"), [
    (LF.mse_loss, {}, 1.9e19), (LF.barron_loss, {"alpha": 2.0}, 2.7e19), (LF.barron_loss, {"alpha": 1.5}, 1e26),
], ids=_ids)
def test_readme_mse_value_overflows_like_torch_past_1_8e19(fn, options, first_inf):
    """The old README promised 'finite up to 1e30 in float32' for everything; r^2 past 3.4e38 is not a float32."""
    x = torch.tensor([1e19, first_inf, 1e30], requires_grad=True)
    values = fn(x, torch.zeros(3), reduction="none", **options)
    assert torch.isfinite(values[0]) and torch.isinf(values[1:]).all()
    if fn is LF.mse_loss:
        torch_values = torch.nn.functional.mse_loss(x, torch.zeros(3), reduction="none")
        assert torch.equal(values, torch_values)
        (grad,) = torch.autograd.grad(torch_values.sum(), x)
        (ours,) = torch.autograd.grad(fn(x, torch.zeros(3), reduction="sum"), x)
        assert torch.isfinite(ours).all() and torch.equal(ours, grad)  # 2r, as torch's
