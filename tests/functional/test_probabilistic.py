"""Probabilistic regression NLLs against torch (Gaussian, Poisson), scipy.stats (Laplace, Student-t) and the
β-NLL paper's formula, on random and edge inputs (variance 1e-30 and 0, ±1e4 means)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.stats
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck

import losskit
import losskit.functional as LF
import losskit.nn as lnn
from losskit import LossInputError

REDUCTIONS = ["mean", "sum", "none"]
TOL = {"rtol": 1e-12, "atol": 1e-12}


def _data(gen: torch.Generator, shape=(6, 4)):
    x = torch.randn(shape, generator=gen, dtype=torch.float64) * 2
    y = torch.randn(shape, generator=gen, dtype=torch.float64)
    v = torch.rand(shape, generator=gen, dtype=torch.float64) + 0.1
    return x, y, v


# ------------------------------------------------------------------ Gaussian NLL against torch


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("var_shape", [(6, 4), (6,), (6, 1)], ids=["hetero", "short", "one"])
def test_gaussian_nll_equals_torch(gen, reduction, full, var_shape) -> None:
    x, y, _ = _data(gen)
    v = torch.rand(var_shape, generator=gen, dtype=torch.float64) + 0.1
    xs, vs = x.clone().requires_grad_(), v.clone().requires_grad_()
    xt, vt = x.clone().requires_grad_(), v.clone().requires_grad_()
    ours = LF.gaussian_nll_loss(xs, y, vs, full, 1e-6, reduction)
    theirs = F.gaussian_nll_loss(xt, y, vt, full, 1e-6, reduction)
    torch.testing.assert_close(ours, theirs, **TOL)
    ours.sum().backward()
    theirs.sum().backward()
    torch.testing.assert_close(xs.grad, xt.grad, **TOL)
    torch.testing.assert_close(vs.grad, vt.grad, **TOL)


@pytest.mark.parametrize("tiny", [1e-30, 0.0, 1e-7, 5e-6])
def test_gaussian_nll_tiny_variance_clamped_like_torch(gen, tiny) -> None:
    """Below eps the value uses eps and the gradient passes straight through, exactly as torch: never NaN."""
    x, y, v = _data(gen)
    v[0] = tiny
    vs, vt = v.clone().requires_grad_(), v.clone().requires_grad_()
    ours = LF.gaussian_nll_loss(x, y, vs, reduction="sum")
    theirs = F.gaussian_nll_loss(x, y, vt, reduction="sum")
    torch.testing.assert_close(ours, theirs, **TOL)
    ours.backward()
    theirs.backward()
    torch.testing.assert_close(vs.grad, vt.grad, rtol=1e-12, atol=0.0)
    assert torch.isfinite(ours) and torch.isfinite(vs.grad).all()


def test_gaussian_nll_float_var_and_module(gen) -> None:
    x, y, _ = _data(gen)
    torch.testing.assert_close(LF.gaussian_nll_loss(x, y, 0.7), F.gaussian_nll_loss(x, y, 0.7), **TOL)
    m = lnn.GaussianNLLLoss(full=True, eps=1e-3)
    assert isinstance(m, torch.nn.modules.loss._Loss) and (m.full, m.eps, m.reduction) == (True, 1e-3, "mean")
    v = torch.rand_like(x)
    torch.testing.assert_close(m(x, y, v), torch.nn.GaussianNLLLoss(full=True, eps=1e-3)(x, y, v), **TOL)


def test_gaussian_nll_refusals() -> None:
    x = torch.zeros(3, 2)
    with pytest.raises(LossInputError, match="var holds the negative value -1"):
        LF.gaussian_nll_loss(x, x, -torch.ones(3, 2))
    with pytest.raises(ValueError, match=r"var=-1\.0 is negative"):
        LF.gaussian_nll_loss(x, x, -1.0)
    with pytest.raises(LossInputError, match=r"var has shape \(2, 2\) but input has shape \(3, 2\)"):
        LF.gaussian_nll_loss(x, x, torch.ones(2, 2))
    with pytest.raises(LossInputError, match=r"\(3, 2\).*\(3,\)"):
        LF.gaussian_nll_loss(x, torch.zeros(3), torch.ones(3, 2))


def test_mean_over_zero_items_is_zero_where_torch_gives_nan() -> None:
    """The one deliberate difference from torch: an empty batch's mean is 0 (torch: NaN)."""
    e = torch.zeros(0, 3, dtype=torch.float64)
    assert torch.isnan(F.gaussian_nll_loss(e, e, e + 1)) and LF.gaussian_nll_loss(e, e, e + 1).item() == 0.0
    assert torch.isnan(F.poisson_nll_loss(e, e)) and LF.poisson_nll_loss(e, e).item() == 0.0


# ------------------------------------------------------------------ Poisson NLL against torch


@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_poisson_nll_equals_torch(gen, log_input, full, reduction) -> None:
    x = torch.randn(6, 4, generator=gen, dtype=torch.float64)
    if not log_input:
        x = x.abs()
        x[0, 0] = 0.0  # a zero rate: log(0 + eps)
    y = torch.randint(0, 6, (6, 4), generator=gen).to(torch.float64)
    xs, xt = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours = LF.poisson_nll_loss(xs, y, log_input, full, None, 1e-8, None, reduction)
    theirs = F.poisson_nll_loss(xt, y, log_input, full, None, 1e-8, None, reduction)
    torch.testing.assert_close(ours, theirs, **TOL)
    ours.sum().backward()
    theirs.sum().backward()
    torch.testing.assert_close(xs.grad, xt.grad, **TOL)


def test_poisson_deprecated_arguments_warn_like_torch(gen) -> None:
    x = torch.randn(5, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 4, (5,), generator=gen).to(torch.float64)
    with warnings.catch_warnings(record=True) as ours_w:
        warnings.simplefilter("always")
        ours = LF.poisson_nll_loss(x, y, size_average=False)
    with warnings.catch_warnings(record=True) as theirs_w:
        warnings.simplefilter("always")
        theirs = F.poisson_nll_loss(x, y, size_average=False)
    torch.testing.assert_close(ours, theirs, **TOL)
    assert [str(w.message) for w in ours_w] == [str(w.message) for w in theirs_w] and ours_w
    assert lnn.PoissonNLLLoss(False, True).options["log_input"] is False


def test_poisson_refuses_negative_counts_at_the_strict_level_and_negative_rates() -> None:
    x, y = torch.tensor([0.5, 0.2]), torch.tensor([1.0, -1.0])
    torch.testing.assert_close(LF.poisson_nll_loss(x, y), F.poisson_nll_loss(x, y))  # torch's formula
    with pytest.raises(LossInputError, match=r"target holds the negative value -1; counts must be >= 0 .*strict"):
        LF.poisson_nll_loss(x, y, validate="strict")
    with pytest.raises(LossInputError, match="rates"):
        LF.poisson_nll_loss(torch.tensor([-1.0, 1.0]), torch.ones(2), log_input=False)


# ------------------------------------------------------------------ β-NLL: the paper's formula


def _beta_nll_paper(mean, target, variance, beta):
    """Seitzer et al.'s reference code (their ``beta_nll_loss``), elementwise."""
    loss = 0.5 * ((target - mean) ** 2 / variance + variance.log())
    return loss * variance.detach() ** beta


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0])
def test_beta_nll_equals_the_paper_with_its_gradients(gen, beta) -> None:
    x, y, v = _data(gen)
    xs, vs = x.clone().requires_grad_(), v.clone().requires_grad_()
    xp, vp = x.clone().requires_grad_(), v.clone().requires_grad_()
    ours = LF.beta_nll_loss(xs, y, vs, beta=beta, reduction="none")
    paper = _beta_nll_paper(xp, y, vp, beta)
    torch.testing.assert_close(ours, paper, **TOL)
    ours.sum().backward()
    paper.sum().backward()
    torch.testing.assert_close(xs.grad, xp.grad, **TOL)
    torch.testing.assert_close(vs.grad, vp.grad, **TOL)
    if beta == 0.0:
        torch.testing.assert_close(ours, LF.gaussian_nll_loss(x, y, v, reduction="none"), **TOL)
    if beta == 1.0:  # the mean's gradient is MSE's: (mu - y), whatever the variance
        torch.testing.assert_close(xs.grad, x - y, **TOL)


def test_beta_nll_refuses_beta_outside_unit_interval() -> None:
    with pytest.raises(LossInputError, match=r"beta must lie in \[0, 1\]"):
        LF.beta_nll_loss(torch.zeros(2), torch.zeros(2), torch.ones(2), beta=1.5)


# ------------------------------------------------------------------ Laplace and Student-t against scipy


def test_laplace_nll_equals_scipy_logpdf(gen) -> None:
    x, y, b = _data(gen)
    ours = LF.laplace_nll_loss(x, y, b, full=True, reduction="none")
    ref = -scipy.stats.laplace.logpdf(y.numpy(), loc=x.numpy(), scale=b.numpy())
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-12, atol=1e-12)
    short = LF.laplace_nll_loss(x, y, b, reduction="none")
    torch.testing.assert_close(ours - short, torch.full_like(ours, math.log(2)), **TOL)


@pytest.mark.parametrize("df", [0.7, 3.0, 30.0, 1e6])
def test_student_t_nll_equals_scipy_logpdf(gen, df) -> None:
    x, y, s = _data(gen)
    ours = LF.student_t_nll_loss(x, y, s, df=df, full=True, reduction="none")
    ref = -scipy.stats.t.logpdf(y.numpy(), df, loc=x.numpy(), scale=s.numpy())
    # at df = 1e6 the two log-gammas (each about 6.6e6) cancel: ~1e-9 absolute is float64's limit there
    tol = 1e-10 if df < 1e3 else 1e-8
    np.testing.assert_allclose(ours.numpy(), ref, rtol=tol, atol=tol)
    short = LF.student_t_nll_loss(x, y, s, df=df, reduction="none")
    torch.testing.assert_close(ours - short, torch.full_like(ours, 0.5 * math.log(math.pi)), **TOL)


def test_student_t_learned_df_tensor(gen) -> None:
    x, y, s = _data(gen, (4, 3))
    nu = torch.tensor([1.5, 4.0, 9.0], dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda n: LF.student_t_nll_loss(x, y, s, df=n), (nu,))
    ref = -scipy.stats.t.logpdf(y.numpy(), nu.detach().numpy(), loc=x.numpy(), scale=s.numpy())
    np.testing.assert_allclose(LF.student_t_nll_loss(x, y, s, df=nu, full=True, reduction="none").detach(), ref,
                               rtol=1e-10)
    with pytest.raises(LossInputError, match="df holds the value -1"):
        LF.student_t_nll_loss(x, y, s, df=-nu.detach() / nu.detach())
    with pytest.raises(LossInputError, match="df must be a finite number > 0"):
        LF.student_t_nll_loss(x, y, s, df=0.0)


# ------------------------------------------------------------------ shared edges


NLLS = ["gaussian_nll", "beta_nll", "laplace_nll", "student_t_nll"]


@pytest.mark.parametrize("name", NLLS)
@pytest.mark.parametrize("spread", [1e-30, 0.0])
def test_tiny_spread_never_nan(name, spread) -> None:
    x = torch.tensor([[0.3, -1e4, 1e4]], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([[0.3, 0.0, 0.0]], dtype=torch.float64)
    v = torch.full_like(y, spread, requires_grad=True)
    loss = losskit.loss_info(name).function(x, y, v)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all() and torch.isfinite(v.grad).all()


@pytest.mark.parametrize("name", NLLS)
def test_gradcheck_in_mean_and_spread(name, gen) -> None:
    x, y, v = _data(gen, (3, 2))
    fn = losskit.loss_info(name).function
    leaves = (x.requires_grad_(), v.requires_grad_()) if name != "beta_nll" else (x.requires_grad_(),)
    assert gradcheck(lambda *a: fn(a[0], y, a[1] if len(a) > 1 else v), leaves)
