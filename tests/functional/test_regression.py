"""losskit.functional.regression: MSE, MAE, Huber and log-cosh.

References: torch.nn.functional (parity for every shared option), closed forms
in numpy, mpmath at high precision for log-cosh, autograd.gradcheck.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import mpmath
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch.autograd import gradcheck, gradgradcheck

import losskit.functional as LF

D = torch.float64
SHAPES = [(7,), (5, 3), (4, 3, 2), (3, 2, 2, 2)]
REDUCTIONS = ["mean", "sum", "none"]
DELTAS = [0.25, 1.0, 3.5]

# (losskit function, torch function, options); huber once per delta
TORCH_PAIRS: list[tuple[str, Callable, Callable, dict]] = [
    ("mse", LF.mse_loss, F.mse_loss, {}),
    ("l1", LF.l1_loss, F.l1_loss, {}),
    *[(f"huber-{d}", LF.huber_loss, F.huber_loss, {"delta": d}) for d in DELTAS],
]
ALL_LOSSES: list[tuple[str, Callable, dict]] = [
    (name, fn, opts) for name, fn, _, opts in TORCH_PAIRS
] + [("log_cosh", LF.log_cosh_loss, {})]


def _pair(gen: torch.Generator, shape: tuple[int, ...], scale: float = 3.0) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.randn(shape, generator=gen, dtype=D) * scale, torch.randn(shape, generator=gen, dtype=D))


def _numpy_kernel(name: str, opts: dict) -> Callable[[np.ndarray], np.ndarray]:
    """Each loss of a residual r written out in numpy, independent of the torch code."""
    if name == "mse":
        return lambda r: r * r
    if name == "l1":
        return np.abs
    if name == "log_cosh":
        return lambda r: np.log(np.cosh(r))  # exact enough in float64 for |r| < 700
    d = opts["delta"]
    return lambda r: np.where(np.abs(r) <= d, 0.5 * r * r, d * (np.abs(r) - 0.5 * d))


# ------------------------------------------------------------------ parity with torch


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("name", "ours", "theirs", "opts"), TORCH_PAIRS, ids=[p[0] for p in TORCH_PAIRS])
def test_parity_with_torch(gen, shape, reduction, name, ours, theirs, opts) -> None:
    x, y = _pair(gen, shape)
    torch.testing.assert_close(ours(x, y, reduction=reduction, **opts), theirs(x, y, reduction=reduction, **opts))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize(("name", "ours", "theirs", "opts"), TORCH_PAIRS, ids=[p[0] for p in TORCH_PAIRS])
def test_per_sample_is_torch_none_averaged_per_sample(gen, shape, name, ours, theirs, opts) -> None:
    x, y = _pair(gen, shape)
    per = ours(x, y, reduction="per_sample", **opts)
    assert per.shape == (shape[0],)
    torch.testing.assert_close(per, theirs(x, y, reduction="none", **opts).reshape(shape[0], -1).mean(1))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("name", "ours", "theirs", "opts"), TORCH_PAIRS, ids=[p[0] for p in TORCH_PAIRS])
def test_elementwise_weight_parity(gen, shape, reduction, name, ours, theirs, opts) -> None:
    """torch 2.13 mse/l1 take an elementwise ``weight`` and divide the mean by Σw, as losskit does."""
    x, y = _pair(gen, shape)
    w = torch.rand(shape, generator=gen, dtype=D)
    got = ours(x, y, reduction=reduction, weight=w, **opts)
    if name.startswith("huber") and reduction == "mean":
        # deliberate difference: torch's weighted huber mean divides by the element count
        expected = theirs(x, y, reduction="sum", weight=w, **opts) / w.sum()
        torch.testing.assert_close(got, expected)
        assert not torch.allclose(got, theirs(x, y, reduction="mean", weight=w, **opts))
    else:
        torch.testing.assert_close(got, theirs(x, y, reduction=reduction, weight=w, **opts))


@pytest.mark.parametrize(("name", "fn", "opts"), ALL_LOSSES, ids=[p[0] for p in ALL_LOSSES])
def test_weights_against_numpy(gen, name, fn, opts) -> None:
    x, y = _pair(gen, (5, 3))
    w = torch.rand(5, 3, generator=gen, dtype=D)
    s = torch.tensor([0.5, 0.0, 2.0, 1.0, 3.0], dtype=D)
    l = _numpy_kernel(name, opts)((x - y).numpy())
    wn, sn = w.numpy(), s.numpy()[:, None]
    expected = {
        "mean": (sn * wn * l).sum() / (sn * wn).sum(),
        "sum": (sn * wn * l).sum(),
        "none": sn * wn * l,
        "per_sample": (wn * l).sum(1) / wn.sum(1) * s.numpy(),
    }
    for reduction, value in expected.items():
        got = fn(x, y, reduction=reduction, weight=w, sample_weight=s, **opts)
        torch.testing.assert_close(got, torch.as_tensor(value), msg=reduction)


@pytest.mark.parametrize(("name", "ours", "theirs", "opts"), TORCH_PAIRS, ids=[p[0] for p in TORCH_PAIRS])
def test_zero_dimensional_inputs(name, ours, theirs, opts) -> None:
    x, y = torch.tensor(2.5, dtype=D), torch.tensor(-0.5, dtype=D)
    for reduction in REDUCTIONS:
        torch.testing.assert_close(ours(x, y, reduction=reduction, **opts), theirs(x, y, reduction=reduction, **opts))
    with pytest.raises(ValueError, match=r"per_sample.*batched"):
        ours(x, y, reduction="per_sample", **opts)


def test_mae_loss_is_l1_loss() -> None:
    assert LF.mae_loss is LF.l1_loss


def test_log_cosh_loss_against_closed_form(gen) -> None:
    for shape in SHAPES:
        x, y = _pair(gen, shape)
        expected = np.log(np.cosh((x - y).numpy()))
        torch.testing.assert_close(LF.log_cosh_loss(x, y, reduction="none"), torch.as_tensor(expected))
        torch.testing.assert_close(LF.log_cosh_loss(x, y), torch.as_tensor(expected.mean()))


# ------------------------------------------------------------------ deliberate differences from torch


@pytest.mark.parametrize(("name", "ours", "theirs", "opts"), TORCH_PAIRS, ids=[p[0] for p in TORCH_PAIRS])
def test_empty_mean_is_zero_where_torch_gives_nan(name, ours, theirs, opts) -> None:
    x = torch.empty(0, 3, dtype=D, requires_grad=True)
    y = torch.empty(0, 3, dtype=D)
    assert torch.isnan(theirs(x, y, **opts))
    loss = ours(x, y, **opts)
    assert loss.item() == 0.0
    loss.backward()
    assert x.grad is not None and x.grad.shape == (0, 3)


@pytest.mark.parametrize(("name", "fn", "opts"), ALL_LOSSES, ids=[p[0] for p in ALL_LOSSES])
def test_zero_weights_mean_is_zero_with_zero_gradient(gen, name, fn, opts) -> None:
    x, y = _pair(gen, (4, 2))
    x.requires_grad_()
    loss = fn(x, y, weight=torch.zeros(4, 2, dtype=D), **opts)
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(x.grad, torch.zeros_like(x))


# ------------------------------------------------------------------ gradients


def _residuals_away_from_kinks(gen: torch.Generator, shape: tuple[int, ...], delta: float) -> torch.Tensor:
    """Residuals at least 0.1 from 0 and from ±delta, where MAE and Huber are not twice differentiable."""
    mag = torch.rand(shape, generator=gen, dtype=D) * 2.5 * delta + 0.1
    mag = torch.where((mag - delta).abs() < 0.1, mag + 0.25, mag)
    sign = torch.where(torch.rand(shape, generator=gen) < 0.5, -1.0, 1.0).to(D)
    return sign * mag


@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "per_sample"])
@pytest.mark.parametrize(("name", "fn", "opts"), ALL_LOSSES, ids=[p[0] for p in ALL_LOSSES])
def test_gradcheck(gen, reduction, name, fn, opts) -> None:
    shape = (4, 3)
    y = torch.randn(shape, generator=gen, dtype=D)
    x = (y + _residuals_away_from_kinks(gen, shape, opts.get("delta", 1.0))).requires_grad_()
    y.requires_grad_()
    w = torch.rand(shape, generator=gen, dtype=D) + 0.1
    s = torch.rand(4, generator=gen, dtype=D) + 0.1
    assert gradcheck(lambda a, b: fn(a, b, reduction=reduction, **opts), (x, y))
    assert gradcheck(lambda a, b: fn(a, b, reduction=reduction, weight=w, sample_weight=s, **opts), (x, y))


LOG_COSH_POINTS = [0.0, 1e-30, 1e-8, 1e-3, 0.5, 0.999, 1.0, 1.001, 10.0, 30.0, 89.0, 100.0]


def test_log_cosh_gradgradcheck_including_zero() -> None:
    r = torch.tensor([0.0, *LOG_COSH_POINTS[1:], *(-p for p in LOG_COSH_POINTS[1:])], dtype=D, requires_grad=True)
    assert r[0].item() == 0.0
    assert gradcheck(LF.log_cosh, (r,))
    assert gradgradcheck(LF.log_cosh, (r,))
    target = torch.zeros_like(r)
    for reduction in ("mean", "none", "per_sample"):
        assert gradgradcheck(lambda a, red=reduction: LF.log_cosh_loss(a, target, reduction=red), (r,))


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")  # torch.func internals
def test_log_cosh_forward_mode_and_torch_func(gen) -> None:
    """Forward-mode AD, per-sample gradients (vmap of grad) and the Hessian through torch.func."""
    r = torch.tensor([0.0, 1e-3, -0.7, 2.0, -50.0], dtype=D, requires_grad=True)
    assert gradcheck(LF.log_cosh, (r,), check_forward_ad=True)
    x, y = _pair(gen, (4, 3))
    per_sample = torch.func.vmap(torch.func.grad(lambda a, b: LF.log_cosh_loss(a, b, validate=False)))(x, y)
    torch.testing.assert_close(per_sample, torch.tanh(x - y) / 3)
    hessian = torch.func.hessian(lambda a: LF.log_cosh_loss(a, y[0], reduction="sum"))(x[0])
    torch.testing.assert_close(hessian, torch.diag(1 - torch.tanh(x[0] - y[0]) ** 2))


# ------------------------------------------------------------------ log-cosh against mpmath


def _mp_log_cosh(r: float) -> float:
    if r == 0.0:
        return 0.0
    digits = 40 + 2 * max(0, -math.floor(math.log10(abs(r))))  # keep r^2/2 visible next to 1
    with mpmath.workdps(digits):
        return float(mpmath.log(mpmath.cosh(mpmath.mpf(r))))


def _ulp_error(got: torch.Tensor, reference: list[float], np_dtype: type) -> np.ndarray:
    """|got - reference| in units of the last place of the reference rounded to ``np_dtype``.

    The unit is the gap below |reference| (towards 0; the smallest subnormal at 0), which
    stays finite at the dtype's largest value and is never larger than the gap above.
    """
    ref = np.abs(np.array(reference, dtype=np.float64).astype(np_dtype))
    ulp = np.where(ref == 0, np.spacing(np_dtype(0)), ref - np.nextafter(ref, np_dtype(0)))
    err = np.abs(np.abs(got.numpy().astype(np.float64)) - ref.astype(np.float64))
    assert (np.sign(got.numpy()) >= 0).all()
    return err / ulp.astype(np.float64)


RESIDUALS = [0.0, 1e-30, 1e-8, 0.5, 1.0, 10.0, 89.0, 1e4, 1e30, 0.9999999, 1.0000001, 2.0, 89.5, 200.0]


# plus a sweep across the switch between the two formulas at |r| = 1 and many magnitudes
SWEEP = [*np.linspace(-3.0, 3.0, 121).tolist(), *np.logspace(-35, 35, 71).tolist()]


@pytest.mark.parametrize(("dtype", "np_dtype"), [(torch.float32, np.float32), (torch.float64, np.float64)])
def test_log_cosh_matches_mpmath_to_a_few_ulps(dtype, np_dtype) -> None:
    r = torch.tensor([*RESIDUALS, *(-v for v in RESIDUALS), *SWEEP], dtype=dtype)
    reference = [_mp_log_cosh(float(v)) for v in r.double()]
    assert _ulp_error(LF.log_cosh(r), reference, np_dtype).max() <= 4
    out = LF.log_cosh_loss(r, torch.zeros_like(r), reduction="none")
    assert out.dtype == dtype
    assert _ulp_error(out, reference, np_dtype).max() <= 4


def test_log_cosh_where_naive_form_overflows() -> None:
    r = torch.tensor([89.5, 200.0, 1e30], dtype=torch.float32)
    assert torch.isinf(torch.log(torch.cosh(r))).all()
    torch.testing.assert_close(LF.log_cosh(r), r - math.log(2.0))


def test_log_cosh_float16_residuals_up_to_6e4() -> None:
    """float16 inputs are computed in float32: float32 accuracy at every float16 residual."""
    r = torch.tensor([0.0, 6e-5, 1e-3, 0.5, 1.0, 10.0, 89.0, 1000.0, 3e4, 6e4, 65504.0], dtype=torch.float16)
    r = torch.cat([r, -r])
    out = LF.log_cosh_loss(r, torch.zeros_like(r), reduction="none")
    assert out.dtype == torch.float32
    reference = [_mp_log_cosh(float(v)) for v in r.double()]
    assert _ulp_error(out, reference, np.float32).max() <= 4
    # the elementwise kernel keeps float16 and is then exact to float16 rounding
    assert _ulp_error(LF.log_cosh(r), reference, np.float16).max() <= 1


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float32, 2e-7), (torch.float64, 1e-15)])
def test_log_cosh_gradient_is_tanh_and_second_derivative_is_sech2(dtype, tol) -> None:
    r = torch.tensor([*RESIDUALS, *(-v for v in RESIDUALS)], dtype=dtype, requires_grad=True)
    (g,) = torch.autograd.grad(LF.log_cosh(r).sum(), r, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), r)
    with mpmath.workdps(40):
        tanh = torch.tensor([float(mpmath.tanh(v)) for v in r.detach().double().tolist()], dtype=dtype)
        sech2 = torch.tensor([float(mpmath.sech(v) ** 2) for v in r.detach().double().tolist()], dtype=dtype)
    torch.testing.assert_close(g.detach(), tanh, rtol=tol, atol=0)
    torch.testing.assert_close(h, sech2, rtol=0, atol=4 * tol)
    assert g[8].item() == 1.0 and g[22].item() == -1.0  # ±1e30: exactly ±1, no overflow


# ------------------------------------------------------------------ properties (hypothesis)

_finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=64)
_arrays = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), elements=_finite)
_deltas = st.floats(0.01, 10.0)


def _loss(name: str, delta: float) -> tuple[Callable, dict]:
    return {
        "mse": (LF.mse_loss, {}),
        "l1": (LF.l1_loss, {}),
        "huber": (LF.huber_loss, {"delta": delta}),
        "log_cosh": (LF.log_cosh_loss, {}),
    }[name]


LOSS_NAMES = ["mse", "l1", "huber", "log_cosh"]


@pytest.mark.parametrize("name", LOSS_NAMES)
@given(a=_arrays, b=st.data(), delta=_deltas)
def test_property_non_negative(name: str, a: np.ndarray, b: st.DataObject, delta: float) -> None:
    fn, opts = _loss(name, delta)
    y = b.draw(hnp.arrays(np.float64, a.shape, elements=_finite))
    values = fn(torch.from_numpy(a), torch.from_numpy(y), reduction="none", **opts)
    assert (values >= 0).all()


@pytest.mark.parametrize("name", LOSS_NAMES)
@given(a=_arrays, delta=_deltas)
def test_property_zero_at_perfect_prediction(name: str, a: np.ndarray, delta: float) -> None:
    fn, opts = _loss(name, delta)
    x = torch.from_numpy(a).requires_grad_()
    for reduction in ("mean", "sum", "none", "per_sample"):
        assert (fn(x, x.detach(), reduction=reduction, **opts) == 0).all()
    fn(x, x.detach(), reduction="sum", **opts).backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


@pytest.mark.parametrize("name", LOSS_NAMES)
@given(a=_arrays, b=st.data(), delta=_deltas)
def test_property_per_sample_mean_is_mean(name: str, a: np.ndarray, b: st.DataObject, delta: float) -> None:
    fn, opts = _loss(name, delta)
    x, y = torch.from_numpy(a), torch.from_numpy(b.draw(hnp.arrays(np.float64, a.shape, elements=_finite)))
    torch.testing.assert_close(fn(x, y, reduction="per_sample", **opts).mean(), fn(x, y, **opts))


@pytest.mark.parametrize("name", ["l1", "huber", "log_cosh"])
@given(a=_arrays, b=st.data(), delta=_deltas)
def test_property_bounded_elementwise_gradient(name: str, a: np.ndarray, b: st.DataObject, delta: float) -> None:
    """|dL/dŷ| <= 1 for MAE and log-cosh, <= delta for Huber, before reduction (reduction="sum")."""
    fn, opts = _loss(name, delta)
    x = torch.from_numpy(a).requires_grad_()
    y = torch.from_numpy(b.draw(hnp.arrays(np.float64, a.shape, elements=_finite)))
    fn(x, y, reduction="sum", **opts).backward()
    bound = delta if name == "huber" else 1.0
    assert (x.grad.abs() <= bound).all()
    r = (x - y).detach()
    if name == "huber":  # and it is exactly clamp(r, -delta, delta)
        torch.testing.assert_close(x.grad, r.clamp(-delta, delta))


@given(a=_arrays, b=st.data())
def test_property_mse_gradient_is_twice_the_residual(a: np.ndarray, b: st.DataObject) -> None:
    x = torch.from_numpy(a).requires_grad_()
    y = torch.from_numpy(b.draw(hnp.arrays(np.float64, a.shape, elements=_finite)))
    LF.mse_loss(x, y, reduction="sum").backward()
    torch.testing.assert_close(x.grad, 2 * (x - y).detach())


@given(r=st.floats(-700, 700, allow_nan=False))
def test_property_log_cosh_between_huber_like_bounds(r: float) -> None:
    """max(r²/2 − r⁴/12, |r| − log 2) <= log cosh r <= min(r²/2, |r|)."""
    v = LF.log_cosh(torch.tensor(r, dtype=D)).item()
    lower = max(r * r / 2 - r**4 / 12, abs(r) - math.log(2.0))
    upper = min(r * r / 2, abs(r))
    slack = 4 * np.spacing(max(abs(v), 1e-300))
    assert lower - slack <= v <= upper + slack
