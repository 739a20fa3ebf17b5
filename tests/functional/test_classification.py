"""losskit.functional.classification: cross_entropy, kl_div and softmax_mae_loss.

References: torch.nn.functional (parity for every shared option), closed forms
in numpy/scipy (scipy.special.rel_entr for KL), autograd.gradcheck.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import scipy.special
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch.autograd import gradcheck

import losskit.functional as LF
from losskit import LossInputError

D = torch.float64
C = 4
# input shapes (class dim 1); () marks an unbatched (C,) input with a 0-d target
SHAPES = [(C,), (5, C), (4, C, 3), (3, C, 2, 2)]
REDUCTIONS = ["mean", "sum", "none"]


def _logits(gen: torch.Generator, shape: tuple[int, ...]) -> torch.Tensor:
    return torch.randn(shape, generator=gen, dtype=D) * 2


def _index_target(gen: torch.Generator, shape: tuple[int, ...], ignore: int | None = None) -> torch.Tensor:
    """Class indices for an input of ``shape``; some positions set to ``ignore``."""
    tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    t = torch.randint(0, C, tshape, generator=gen)
    if ignore is not None and t.dim():
        t.view(-1)[::3] = ignore
    return t


def _probs_target(gen: torch.Generator, shape: tuple[int, ...], with_zeros: bool = False) -> torch.Tensor:
    y = torch.softmax(torch.randn(shape, generator=gen, dtype=D) * 2, 1 if len(shape) > 1 else 0)
    if with_zeros:
        y = torch.where(y < 0.15, torch.zeros_like(y), y)
        y = y / y.sum(1 if len(shape) > 1 else 0, keepdim=True)
    return y


# ------------------------------------------------------------------ cross-entropy: parity with torch


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["", "weight"])
@pytest.mark.parametrize("ignore_index", [None, -100, 1], ids=["", "ignore-100", "ignore1"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.25])
def test_cross_entropy_parity_with_torch(gen, shape, reduction, weighted, ignore_index, label_smoothing) -> None:
    """Every combination of weight x ignore_index x label_smoothing x reduction, 1-D to 4-D."""
    x = _logits(gen, shape)
    t = _index_target(gen, shape, ignore=ignore_index)
    kw: dict = {"reduction": reduction, "label_smoothing": label_smoothing}
    if weighted:
        kw["weight"] = torch.rand(C, generator=gen, dtype=D) + 0.1
    if ignore_index is not None:
        kw["ignore_index"] = ignore_index
    torch.testing.assert_close(LF.cross_entropy(x, t, **kw), F.cross_entropy(x, t, **kw))


@pytest.mark.parametrize("shape", SHAPES[1:], ids=str)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.25])
def test_cross_entropy_per_sample_is_weighted_mean_of_torch_none(gen, shape, label_smoothing) -> None:
    x = _logits(gen, shape)
    t = _index_target(gen, shape, ignore=-100)
    w = torch.rand(C, generator=gen, dtype=D) + 0.1
    kw = {"weight": w, "label_smoothing": label_smoothing}
    none = F.cross_entropy(x, t, reduction="none", **kw).reshape(shape[0], -1)
    valid = (t != -100).reshape(shape[0], -1)
    den = torch.where(valid, w[t.clamp_min(0)].reshape(shape[0], -1), torch.zeros((), dtype=D)).sum(1)
    expected = torch.where(den > 0, none.sum(1) / den, torch.zeros((), dtype=D))
    torch.testing.assert_close(LF.cross_entropy(x, t, reduction="per_sample", **kw), expected)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.25])
def test_cross_entropy_probability_targets_parity(gen, shape, reduction, label_smoothing) -> None:
    x = _logits(gen, shape)
    y = _probs_target(gen, shape, with_zeros=True)
    kw = {"reduction": reduction, "label_smoothing": label_smoothing}
    torch.testing.assert_close(LF.cross_entropy(x, y, **kw), F.cross_entropy(x, y, **kw))
    if reduction != "mean":  # weighted "mean" differs on purpose, see below
        w = torch.rand(C, generator=gen, dtype=D) + 0.1
        torch.testing.assert_close(LF.cross_entropy(x, y, weight=w, **kw), F.cross_entropy(x, y, weight=w, **kw))


@pytest.mark.parametrize("shape", SHAPES[1:], ids=str)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.25])
def test_probability_targets_with_class_weight_mean_divides_by_sum_wy(gen, shape, label_smoothing) -> None:
    """Deliberate difference: mean = Σ_i Σ_c w_c y'_ic (−log p_ic) / Σ_i Σ_c w_c y_ic; torch divides by N."""
    x = _logits(gen, shape)
    y = _probs_target(gen, shape)
    w = torch.rand(C, generator=gen, dtype=D) + 0.1
    xn, yn, wn = x.numpy(), y.numpy(), w.numpy().reshape((1, C) + (1,) * (len(shape) - 2))
    log_p = xn - scipy.special.logsumexp(xn, axis=1, keepdims=True)
    smoothed = (1 - label_smoothing) * yn + label_smoothing / C
    expected = (-(wn * smoothed * log_p)).sum() / (wn * yn).sum()
    got = LF.cross_entropy(x, y, weight=w, label_smoothing=label_smoothing)
    torch.testing.assert_close(got, torch.tensor(expected, dtype=D))
    positions = y.numel() // C
    torch_mean = F.cross_entropy(x, y, weight=w, label_smoothing=label_smoothing)
    torch.testing.assert_close(torch_mean, torch.tensor((-(wn * smoothed * log_p)).sum() / positions, dtype=D))
    assert not torch.allclose(got, torch_mean)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_all_ignored_mean_is_zero_where_torch_gives_nan(gen, label_smoothing, weighted) -> None:
    x = _logits(gen, (3, C, 2)).requires_grad_()
    t = torch.full((3, 2), -100)
    w = torch.rand(C, generator=gen, dtype=D) if weighted else None
    kw = {"label_smoothing": label_smoothing, "weight": w}
    assert torch.isnan(F.cross_entropy(x, t, **kw))
    loss = LF.cross_entropy(x, t, **kw)
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(x.grad, torch.zeros_like(x))
    assert torch.equal(LF.cross_entropy(x, t, reduction="per_sample", **kw), torch.zeros(3, dtype=D))


@pytest.mark.parametrize("fn", [LF.cross_entropy, LF.softmax_mae_loss], ids=["ce", "smae"])
def test_empty_batch_is_zero_with_zero_gradient(fn) -> None:
    x = torch.empty(0, C, dtype=D, requires_grad=True)
    loss = fn(x, torch.empty(0, dtype=torch.long))
    loss.backward()
    assert loss.item() == 0.0 and x.grad.shape == (0, C)
    assert fn(x, torch.empty(0, dtype=torch.long), reduction="per_sample").shape == (0,)


# ------------------------------------------------------------------ input kinds


@pytest.mark.parametrize("fn", [LF.cross_entropy, LF.softmax_mae_loss, LF.kl_div], ids=["ce", "smae", "kl"])
@pytest.mark.parametrize("reduction", ["mean", "none", "per_sample"])
def test_input_kinds_agree(gen, fn, reduction) -> None:
    x = _logits(gen, (4, C, 2))
    t = _probs_target(gen, (4, C, 2)) if fn is LF.kl_div else _index_target(gen, (4, C, 2))
    logits = {"input_kind": "logits"} if fn is LF.kl_div else {}  # kl_div takes log-probabilities, as torch
    ref = fn(x, t, reduction=reduction, **logits)
    torch.testing.assert_close(fn(torch.softmax(x, 1), t, input_kind="probs", reduction=reduction), ref)
    torch.testing.assert_close(fn(torch.log_softmax(x, 1), t, input_kind="log_probs", reduction=reduction), ref)
    # log-probabilities passed as logits: log_softmax leaves them unchanged
    torch.testing.assert_close(fn(torch.log_softmax(x, 1), t, reduction=reduction, **logits), ref)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_zero_probability_input_gives_large_finite_loss(dtype) -> None:
    p = torch.tensor([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]], dtype=dtype, requires_grad=True)
    t = torch.tensor([0, 2])
    loss = LF.cross_entropy(p, t, input_kind="probs", reduction="none")
    tiny = torch.finfo(dtype).tiny
    torch.testing.assert_close(loss, torch.full((2,), -math.log(tiny), dtype=dtype))
    loss.sum().backward()
    assert torch.isfinite(p.grad).all()


def test_minus_inf_log_probability_with_zero_target_mass_is_finite() -> None:
    """0 · log 0 = 0 in cross-entropy with probability targets (torch gives NaN)."""
    log_p = torch.log(torch.tensor([[0.5, 0.0, 0.5], [0.2, 0.3, 0.5]], dtype=D)).requires_grad_()
    y = torch.tensor([[0.25, 0.0, 0.75], [0.1, 0.1, 0.8]], dtype=D)
    assert torch.isnan(F.cross_entropy(log_p, y))
    loss = LF.cross_entropy(log_p, y, input_kind="log_probs", reduction="none")
    expected = -(scipy.special.xlogy(y.numpy(), np.exp(log_p.detach().numpy()))).sum(1)
    torch.testing.assert_close(loss, torch.as_tensor(expected))
    loss.sum().backward()
    assert torch.isfinite(log_p.grad).all()
    # while label smoothing puts mass on the impossible class: the true value is +inf
    assert torch.isinf(LF.cross_entropy(log_p, y, input_kind="log_probs", label_smoothing=0.1))


def test_unbatched_input(gen) -> None:
    x = _logits(gen, (C,))
    t = torch.tensor(2)
    assert LF.cross_entropy(x, t, reduction="none").shape == ()
    per = LF.cross_entropy(x, t, reduction="per_sample")
    assert per.shape == (1,)
    torch.testing.assert_close(per[0], F.cross_entropy(x, t))


@pytest.mark.parametrize("validate", [None, False])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_unbatched_input_with_a_batched_index_is_refused(gen, validate, reduction) -> None:
    # torch's fast op also takes a (1,) index for a (C,) input; losskit asks for the 0-d one it documents,
    # on the fast path (which leaves the other shapes to torch's own checks) as on the composed one
    x = _logits(gen, (C,))
    for fn, inp in ((LF.cross_entropy, x), (LF.nll_loss, x.log_softmax(0))):
        with pytest.raises(LossInputError, match=r"target of class indices has shape \(1, 1\)"):
            fn(inp, torch.tensor([2]), reduction=reduction, validate=validate)


# ------------------------------------------------------------------ KL divergence


def _rel_entr(y: torch.Tensor, log_p: torch.Tensor) -> np.ndarray:
    """Σ_c y_c log(y_c / p_c) per position, by scipy (0 where y_c = 0)."""
    return scipy.special.rel_entr(y.numpy(), np.exp(log_p.numpy())).sum(1)


@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_parity_with_torch_2d(gen, log_target) -> None:
    x = _logits(gen, (6, C))
    log_p = torch.log_softmax(x, 1)
    y = _probs_target(gen, (6, C))
    t = y.log() if log_target else y
    kind = "log_probs" if log_target else "probs"
    for input_kind, inp in (("logits", x), ("log_probs", log_p)):
        ours = dict(input_kind=input_kind, target_kind=kind)
        theirs = dict(log_target=log_target)
        torch.testing.assert_close(LF.kl_div(inp, t, **ours), F.kl_div(log_p, t, reduction="batchmean", **theirs))
        torch.testing.assert_close(
            LF.kl_div(inp, t, reduction="batchmean", **ours), F.kl_div(log_p, t, reduction="batchmean", **theirs)
        )
        torch.testing.assert_close(
            LF.kl_div(inp, t, reduction="sum", **ours), F.kl_div(log_p, t, reduction="sum", **theirs)
        )
        torch.testing.assert_close(
            LF.kl_div(inp, t, reduction="none", **ours), F.kl_div(log_p, t, reduction="none", **theirs)
        )
    # torch's own "mean" also divides by the number of classes (the trap losskit avoids)
    with pytest.warns(UserWarning, match="batchmean"):
        torch_mean = F.kl_div(log_p, y, reduction="mean")
    torch.testing.assert_close(torch_mean * C, LF.kl_div(x, y, input_kind="logits"))
    # torch's positional form and log_target= port unchanged
    torch.testing.assert_close(LF.kl_div(log_p, y, None, None, "sum"), F.kl_div(log_p, y, None, None, "sum"))
    torch.testing.assert_close(LF.kl_div(log_p, y.log(), reduction="batchmean", log_target=True),
                               F.kl_div(log_p, y.log(), reduction="batchmean", log_target=True))


@pytest.mark.parametrize("shape", SHAPES[2:], ids=str)
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_spatial_mean_averages_samples_and_positions(gen, shape, log_target) -> None:
    x = _logits(gen, shape)
    log_p = torch.log_softmax(x, 1)
    y = _probs_target(gen, shape)
    t = y.log() if log_target else y
    kind = "log_probs" if log_target else "probs"
    total = F.kl_div(log_p, t, reduction="sum", log_target=log_target)
    positions = y.numel() // C
    torch.testing.assert_close(LF.kl_div(log_p, t, target_kind=kind), total / positions)
    torch.testing.assert_close(LF.kl_div(log_p, t, target_kind=kind, reduction="sum"), total)
    torch.testing.assert_close(LF.kl_div(log_p, t, target_kind=kind, reduction="batchmean"), total / shape[0])
    none = LF.kl_div(log_p, t, target_kind=kind, reduction="none")  # pointwise, as torch
    torch.testing.assert_close(none.sum(1), torch.as_tensor(_rel_entr(y, log_p)))
    torch.testing.assert_close(
        LF.kl_div(log_p, t, target_kind=kind, reduction="per_sample"), none.sum(1).reshape(shape[0], -1).mean(1)
    )


@pytest.mark.parametrize("target_kind", ["probs", "log_probs"])
def test_kl_div_zero_targets_give_zero_terms_and_finite_gradients(gen, target_kind) -> None:
    x = _logits(gen, (5, C)).requires_grad_()
    y = _probs_target(gen, (5, C), with_zeros=True)
    assert (y == 0).any()
    t = (y.log() if target_kind == "log_probs" else y.clone()).requires_grad_()
    loss = LF.kl_div(x, t, target_kind=target_kind, input_kind="logits", reduction="none").sum(1)
    torch.testing.assert_close(loss, torch.as_tensor(_rel_entr(y, torch.log_softmax(x, 1).detach())))
    loss.sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(t.grad).all()
    # the gradient w.r.t. the input equals cross-entropy's: p - y
    torch.testing.assert_close(x.grad, torch.softmax(x, 1).detach() - y)


def test_kl_div_is_cross_entropy_minus_entropy(gen) -> None:
    x = _logits(gen, (6, C, 2)).requires_grad_()
    y = _probs_target(gen, (6, C, 2), with_zeros=True)
    kl = LF.kl_div(x, y, input_kind="logits", reduction="none").sum(1)
    ce = LF.cross_entropy(x, y, reduction="none")
    entropy = torch.as_tensor(scipy.special.entr(y.numpy()).sum(1))
    torch.testing.assert_close(kl, ce - entropy)
    (g_kl,) = torch.autograd.grad(kl.sum(), x)
    (g_ce,) = torch.autograd.grad(ce.sum(), x)
    torch.testing.assert_close(g_kl, g_ce)


# ------------------------------------------------------------------ softmax MAE


def _smae_numpy(x: torch.Tensor, y: np.ndarray) -> np.ndarray:
    p = scipy.special.softmax(x.numpy(), axis=1)
    return np.abs(y - p).sum(1)


def _one_hot(t: torch.Tensor) -> np.ndarray:
    return np.moveaxis(np.eye(C)[t.numpy()], -1, 1)


@pytest.mark.parametrize("shape", SHAPES[1:], ids=str)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_softmax_mae_closed_form_with_index_targets(gen, shape, label_smoothing) -> None:
    x = _logits(gen, shape)
    t = _index_target(gen, shape, ignore=-100)
    w = torch.rand(C, generator=gen, dtype=D) + 0.1
    valid = (t != -100).numpy()
    safe = t.clamp_min(0)
    y = (1 - label_smoothing) * _one_hot(safe) + label_smoothing / C
    per_position = np.where(valid, _smae_numpy(x, y), 0.0)
    wy = np.where(valid, w.numpy()[safe.numpy()], 0.0)
    kw = {"weight": w, "label_smoothing": label_smoothing}
    weighted = per_position * wy
    torch.testing.assert_close(LF.softmax_mae_loss(x, t, reduction="none", **kw), torch.as_tensor(weighted))
    torch.testing.assert_close(LF.softmax_mae_loss(x, t, reduction="sum", **kw), torch.as_tensor(weighted.sum()))
    torch.testing.assert_close(LF.softmax_mae_loss(x, t, **kw), torch.as_tensor(weighted.sum() / wy.sum()))
    if label_smoothing == 0.0:  # = 2 - 2 p_y for one-hot targets
        p_y = torch.softmax(x, 1).gather(1, safe.unsqueeze(1)).squeeze(1)
        torch.testing.assert_close(
            LF.softmax_mae_loss(x, t, reduction="none"), torch.where(t != -100, 2 - 2 * p_y, torch.zeros((), dtype=D))
        )


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_softmax_mae_closed_form_with_probability_targets(gen, shape) -> None:
    x = _logits(gen, shape)
    y = _probs_target(gen, shape, with_zeros=True)
    w = torch.rand(C, generator=gen, dtype=D) + 0.1
    if len(shape) == 1:
        x, y = x.unsqueeze(0), y.unsqueeze(0)
    per = _smae_numpy(x, y.numpy())
    wy = (y.numpy() * w.numpy().reshape((1, C) + (1,) * (x.dim() - 2))).sum(1)
    torch.testing.assert_close(LF.softmax_mae_loss(x, y, reduction="none"), torch.as_tensor(per))
    torch.testing.assert_close(LF.softmax_mae_loss(x, y, weight=w), torch.as_tensor((per * wy).sum() / wy.sum()))


# ------------------------------------------------------------------ gradcheck


@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "per_sample"])
def test_gradcheck_cross_entropy(gen, reduction) -> None:
    x = _logits(gen, (3, C, 2)).requires_grad_()
    t = _index_target(gen, (3, C, 2), ignore=-100)
    y = _probs_target(gen, (3, C, 2))
    w = torch.rand(C, generator=gen, dtype=D) + 0.1
    s = torch.rand(3, generator=gen, dtype=D) + 0.1
    kw = {"reduction": reduction, "weight": w, "sample_weight": s, "label_smoothing": 0.2}
    assert gradcheck(lambda a: LF.cross_entropy(a, t, **kw), (x,))
    yy = y.clone().requires_grad_()
    assert gradcheck(lambda a, b: LF.cross_entropy(a, b, validate=False, **kw), (x, yy))
    p = torch.softmax(x.detach(), 1).requires_grad_()
    assert gradcheck(lambda a: LF.cross_entropy(a, t, input_kind="probs", validate=False, **kw), (p,))
    lp = torch.log_softmax(x.detach(), 1).requires_grad_()
    assert gradcheck(lambda a: LF.cross_entropy(a, t, input_kind="log_probs", validate=False, **kw), (lp,))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "per_sample"])
@pytest.mark.parametrize("target_kind", ["probs", "log_probs"])
def test_gradcheck_kl_div(gen, reduction, target_kind) -> None:
    """Gradients w.r.t. input and (strictly positive) target; validate=False as gradcheck perturbs the sums."""
    x = _logits(gen, (3, C, 2)).requires_grad_()
    y = _probs_target(gen, (3, C, 2))
    t = (y.log() if target_kind == "log_probs" else y).requires_grad_()
    s = torch.rand(3, generator=gen, dtype=D) + 0.1
    kw = {"reduction": reduction, "target_kind": target_kind, "sample_weight": s, "validate": False,
          "input_kind": "logits"}
    assert gradcheck(lambda a, b: LF.kl_div(a, b, **kw), (x, t))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "per_sample"])
def test_gradcheck_softmax_mae(gen, reduction) -> None:
    x = _logits(gen, (3, C, 2)).requires_grad_()
    t = _index_target(gen, (3, C, 2), ignore=-100)
    w = torch.rand(C, generator=gen, dtype=D) + 0.1
    kw = {"reduction": reduction, "weight": w}
    assert gradcheck(lambda a: LF.softmax_mae_loss(a, t, **kw), (x,))
    assert gradcheck(lambda a: LF.softmax_mae_loss(a, t, label_smoothing=0.2, **kw), (x,))
    y = _probs_target(gen, (3, C, 2))  # |y - p| has kinks only where y_c = p_c exactly
    assert gradcheck(lambda a: LF.softmax_mae_loss(a, y, **kw), (x,))


# ------------------------------------------------------------------ properties (hypothesis)


@st.composite
def _batch(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(logits (N, C), class indices (N,), probability targets (N, C) possibly with zeros)."""
    n, c = draw(st.integers(1, 5)), draw(st.integers(2, 5))
    x = draw(hnp.arrays(np.float64, (n, c), elements=st.floats(-30, 30)))
    t = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    raw = draw(hnp.arrays(np.float64, (n, c), elements=st.floats(0, 1)))
    raw[np.arange(n), t] += 1e-3  # at least one positive entry per row
    return torch.from_numpy(x), torch.from_numpy(t), torch.from_numpy(raw / raw.sum(1, keepdims=True))


def _kl_on_logits(x: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    out = LF.kl_div(x, y, input_kind="logits", reduction=reduction)
    return out.sum(1) if reduction == "none" else out  # one value per sample, as the other losses give


LOSSES = {"cross_entropy": LF.cross_entropy, "kl_div": _kl_on_logits, "softmax_mae": LF.softmax_mae_loss}


def _targets(name: str, t: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    return [y] if name == "kl_div" else [t, y]


@pytest.mark.parametrize("name", list(LOSSES))
@given(batch=_batch())
def test_property_non_negative(name: str, batch) -> None:
    x, t, y = batch
    for target in _targets(name, t, y):
        assert (LOSSES[name](x, target, reduction="none") >= 0).all()


@pytest.mark.parametrize("name", list(LOSSES))
@given(batch=_batch())
def test_property_per_sample_mean_is_mean(name: str, batch) -> None:
    x, t, y = batch
    fn: Callable = LOSSES[name]
    for target in _targets(name, t, y):
        torch.testing.assert_close(fn(x, target, reduction="per_sample").mean(), fn(x, target))


@given(batch=_batch())
def test_property_zero_at_perfect_prediction(batch) -> None:
    _, t, y = batch
    one_hot = F.one_hot(t, y.shape[1]).to(D)
    assert (LF.cross_entropy(one_hot, t, input_kind="probs", reduction="none") == 0).all()
    assert (LF.softmax_mae_loss(one_hot, t, input_kind="probs", reduction="none") == 0).all()
    zeros = torch.zeros(len(y), dtype=D)
    torch.testing.assert_close(LF.softmax_mae_loss(y, y, input_kind="probs", reduction="none"), zeros)
    torch.testing.assert_close(LF.kl_div(y.log(), y, input_kind="log_probs", reduction="none").sum(1), zeros)
    torch.testing.assert_close(LF.kl_div(y, y, input_kind="probs", reduction="none").sum(1), zeros)
    # cross-entropy of a perfect soft prediction is the target's entropy
    entropy = torch.as_tensor(scipy.special.entr(y.numpy()).sum(1))
    torch.testing.assert_close(LF.cross_entropy(y, y, input_kind="probs", reduction="none"), entropy)


@given(batch=_batch())
def test_property_bounds(batch) -> None:
    x, t, y = batch
    assert (LF.softmax_mae_loss(x, t, reduction="none") <= 2 + 1e-12).all()
    assert (LF.softmax_mae_loss(x, y, reduction="none") <= 2 + 1e-12).all()
    ce = LF.cross_entropy(x, y, reduction="none")
    kl = LF.kl_div(x, y, input_kind="logits", reduction="none").sum(1)
    assert (ce >= kl - 1e-9).all()


# ------------------------------------------------------------------ the fused path without a host read (issue 9)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_fused_path_without_host_read_equals_torch_and_keeps_the_zero_items_rule(reduction):
    """On accelerators (here: CPU under sync policy "never") torch's fused op runs with the mean's
    denominator computed on the device: torch's values, and 0 where torch's mean over zero items is NaN."""
    import losskit

    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 4, dtype=torch.float64, generator=g, requires_grad=True)
    y = torch.randint(0, 4, (6,), generator=g)
    w = torch.rand(4, dtype=torch.float64, generator=g)
    ignored = y.clone()
    ignored[::2] = -100
    p = torch.softmax(torch.randn(6, 4, dtype=torch.float64, generator=g), 1)
    cases = [((x, y), {}), ((x, ignored, w), {}), ((x, ignored), {"label_smoothing": 0.2}),
             ((x, ignored, w), {"label_smoothing": 0.2}), ((x, p), {})]
    with losskit.sync_policy("never"):
        for args, kw in cases:
            ours = LF.cross_entropy(*args, reduction=reduction, **kw)
            theirs = F.cross_entropy(*args, reduction=reduction, **kw)
            torch.testing.assert_close(ours, theirs)
            torch.testing.assert_close(torch.autograd.grad(ours.sum(), x)[0], torch.autograd.grad(theirs.sum(), x)[0])
        log_p = torch.log_softmax(x, 1)
        torch.testing.assert_close(LF.nll_loss(log_p, ignored, w, reduction=reduction),
                                   F.nll_loss(log_p, ignored, w, reduction=reduction))
        none = torch.full((6,), -100)
        for weight in (None, w):
            out = LF.cross_entropy(x, none, weight, reduction=reduction)
            assert torch.equal(out, torch.zeros_like(out))
            (grad,) = torch.autograd.grad(out.sum(), x)
            assert torch.equal(grad, torch.zeros_like(grad))


@pytest.mark.parametrize("validate", [None, False])
def test_torch_fast_paths_trace_whole_under_torch_compile(gen, validate) -> None:
    # the fast paths read their 0-d result on the host in eager mode; in a trace they must not (fullgraph=True
    # fails on the graph break a host read would be)
    x = torch.randn(6, 4, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 4, (6,), generator=gen)
    p = torch.softmax(torch.randn(6, 4, generator=gen, dtype=torch.float64), 1)

    def losses(x: torch.Tensor) -> torch.Tensor:
        return (
            LF.cross_entropy(x, y, validate=validate)
            + LF.nll_loss(x.log_softmax(1), y, validate=validate)
            + LF.kl_div(x.log_softmax(1), p, reduction="batchmean", validate=validate)
        )

    torch._dynamo.reset()
    compiled = torch.compile(losses, fullgraph=True, backend="eager")
    torch.testing.assert_close(compiled(x), losses(x))
