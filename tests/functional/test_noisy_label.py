"""Noisy-label classification losses against closed forms computed independently from softmax."""

from __future__ import annotations

import math

import mpmath
import pytest
import torch
import torch.nn.functional as F

import losskit.functional as LF
from losskit import LossInputError

ALL = [LF.gce_loss, LF.sce_loss, LF.nce_loss, LF.nce_rce_loss, LF.nce_mae_loss, LF.focal_loss, LF.poly1_loss]
N, C = 6, 4


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(N, C, generator=g, dtype=torch.float64) * 2
    index = torch.randint(0, C, (N,), generator=g)
    soft = torch.softmax(torch.randn(N, C, generator=g, dtype=torch.float64), 1)
    return logits, index, soft


def _p(logits: torch.Tensor) -> torch.Tensor:
    return torch.softmax(logits, 1)


def _py(logits: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return _p(logits).gather(1, index[:, None]).squeeze(1)


def _ce(logits: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, index, reduction="none")


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-12, atol: float = 1e-12) -> None:
    torch.testing.assert_close(a, b, rtol=rtol, atol=atol)


# ------------------------------------------------------------------ closed forms


@pytest.mark.parametrize("q", [0.05, 0.3, 0.7, 1.0])
def test_gce_closed_form(batch, q):
    logits, index, soft = batch
    _close(LF.gce_loss(logits, index, q=q, reduction="none"), (1 - _py(logits, index) ** q) / q)
    expected_soft = (soft * (1 - _p(logits) ** q) / q).sum(1)
    _close(LF.gce_loss(logits, soft, q=q, reduction="none"), expected_soft)


def test_gce_limits(batch):
    logits, index, _ = batch
    # q = 1: 1 - p_y, half of MAE on probabilities
    _close(LF.gce_loss(logits, index, q=1.0, reduction="none"), 1 - _py(logits, index))
    _close(LF.gce_loss(logits, index, q=1.0), LF.softmax_mae_loss(logits, index) / 2)
    # q -> 0: cross-entropy, with error ~ q * CE^2 / 2
    _close(LF.gce_loss(logits, index, q=1e-9, reduction="none"), _ce(logits, index), rtol=1e-7, atol=0)


@pytest.mark.parametrize(("alpha", "beta", "A"), [(0.1, 1.0, -4.0), (1.0, 0.5, -2.0), (0.0, 1.0, math.log(1e-4))])
def test_sce_closed_form(batch, alpha, beta, A):
    logits, index, soft = batch
    rce = -A * (1 - _py(logits, index))
    _close(LF.sce_loss(logits, index, alpha=alpha, beta=beta, A=A, reduction="none"),
           alpha * _ce(logits, index) + beta * rce)
    # soft labels: -sum_k p_k max(log y_k, A)
    soft = soft.clone()
    soft[0] = torch.tensor([0.0, 1e-6, 0.5, 0.5 - 1e-6], dtype=soft.dtype)
    rce_soft = -(_p(logits) * torch.log(soft).clamp_min(A)).sum(1)
    ce_soft = F.cross_entropy(logits, soft, reduction="none")
    _close(LF.sce_loss(logits, soft, alpha=alpha, beta=beta, A=A, reduction="none"), alpha * ce_soft + beta * rce_soft)


def test_sce_matches_authors_label_clipping(batch):
    # the authors' code: rce = -sum(p * log(clamp(one_hot, 1e-4, 1)))
    logits, index, _ = batch
    one_hot = F.one_hot(index, C).to(logits.dtype)
    rce = -(_p(logits) * torch.log(one_hot.clamp(1e-4, 1.0))).sum(1)
    got = LF.sce_loss(logits, index, alpha=0.0, beta=1.0, A=math.log(1e-4), reduction="none")
    _close(got, rce)


def test_nce_family_closed_forms(batch):
    logits, index, soft = batch
    log_p = torch.log_softmax(logits, 1)
    nce = _ce(logits, index) / -log_p.sum(1)
    _close(LF.nce_loss(logits, index, reduction="none"), nce)
    _close(LF.nce_loss(logits, soft, reduction="none"), F.cross_entropy(logits, soft, reduction="none") / -log_p.sum(1))
    rce = 4.0 * (1 - _py(logits, index))
    _close(LF.nce_rce_loss(logits, index, reduction="none"), nce + rce)
    _close(LF.nce_rce_loss(logits, index, alpha=2.0, beta=0.5, A=-6.0, reduction="none"), 2 * nce + 0.5 * 1.5 * rce)
    mae = (F.one_hot(index, C) - _p(logits)).abs().sum(1)
    _close(LF.nce_mae_loss(logits, index, alpha=0.5, beta=3.0, reduction="none"), 0.5 * nce + 3 * mae)
    _close(LF.nce_mae_loss(logits, soft, reduction="none"),
           LF.nce_loss(logits, soft, reduction="none") + (soft - _p(logits)).abs().sum(1))
    assert bool((LF.nce_loss(logits, index, reduction="none") <= 1).all())


@pytest.mark.parametrize("gamma", [0.0, 0.25, 1.0, 2.0, 5.0])
def test_focal_closed_form(batch, gamma):
    logits, index, soft = batch
    p_y = _py(logits, index)
    _close(LF.focal_loss(logits, index, gamma=gamma, reduction="none"), -((1 - p_y) ** gamma) * torch.log(p_y))
    alpha = torch.tensor([0.25, 1.0, 2.0, 0.5], dtype=torch.float64)
    _close(LF.focal_loss(logits, index, gamma=gamma, alpha=alpha, reduction="none"),
           -alpha[index] * (1 - p_y) ** gamma * torch.log(p_y))
    p = _p(logits)
    _close(LF.focal_loss(logits, soft, gamma=gamma, alpha=alpha, reduction="none"),
           -(soft * alpha * (1 - p) ** gamma * torch.log(p)).sum(1))


def test_focal_gamma_zero_is_cross_entropy(batch):
    logits, index, soft = batch
    weight = torch.tensor([0.25, 1.0, 2.0, 0.5], dtype=torch.float64)
    _close(LF.focal_loss(logits, index, gamma=0.0), F.cross_entropy(logits, index))
    _close(LF.focal_loss(logits, soft, gamma=0.0), F.cross_entropy(logits, soft))
    _close(LF.focal_loss(logits, index, gamma=0.0, label_smoothing=0.2),
           F.cross_entropy(logits, index, label_smoothing=0.2))
    # class weights: the same weighted mean as cross-entropy
    _close(LF.focal_loss(logits, index, gamma=0.0, weight=weight), F.cross_entropy(logits, index, weight=weight))
    # alpha: class factors inside the loss, like torch's weight with reduction="none"/"sum"
    for target in (index, soft):
        for reduction in ("none", "sum"):
            _close(LF.focal_loss(logits, target, gamma=0.0, alpha=weight, reduction=reduction),
                   F.cross_entropy(logits, target, weight=weight, reduction=reduction))


@pytest.mark.parametrize("epsilon", [-1.0, 0.0, 1.0, 2.5])
def test_poly1_closed_form(batch, epsilon):
    logits, index, soft = batch
    _close(LF.poly1_loss(logits, index, epsilon=epsilon, reduction="none"),
           _ce(logits, index) + epsilon * (1 - _py(logits, index)))
    _close(LF.poly1_loss(logits, soft, epsilon=epsilon, reduction="none"),
           F.cross_entropy(logits, soft, reduction="none") + epsilon * (1 - (soft * _p(logits)).sum(1)))
    smooth = F.one_hot(index, C).to(logits.dtype) * 0.9 + 0.1 / C
    _close(LF.poly1_loss(logits, index, epsilon=epsilon, label_smoothing=0.1, reduction="none"),
           F.cross_entropy(logits, index, label_smoothing=0.1, reduction="none")
           + epsilon * (1 - (smooth * _p(logits)).sum(1)))


def test_poly1_epsilon_zero_is_cross_entropy(batch):
    logits, index, soft = batch
    _close(LF.poly1_loss(logits, index, epsilon=0.0), F.cross_entropy(logits, index))
    _close(LF.poly1_loss(logits, soft, epsilon=0.0), F.cross_entropy(logits, soft))


# ------------------------------------------------------------------ shared conventions


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
def test_weights_ignore_index_and_spatial_targets(fn):
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, C, 5, generator=g, dtype=torch.float64)
    index = torch.randint(0, C, (3, 5), generator=g)
    index[0, 1] = -100
    index[2, 4] = -100
    weight = torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=torch.float64)
    sw = torch.tensor([1.0, 0.0, 2.0], dtype=torch.float64)
    per_position = fn(logits, index, reduction="none")
    assert per_position.shape == (3, 5)
    assert per_position[0, 1] == 0 and per_position[2, 4] == 0
    # the same values as the flat (N*d, C) batch
    flat = fn(logits.movedim(1, -1).reshape(-1, C), index.reshape(-1), reduction="none")
    _close(per_position.reshape(-1), flat)
    # weighted mean: sum s_i w_y l / sum s_i w_y over non-ignored positions
    valid = (index != -100).to(logits.dtype)
    w = weight[index.clamp_min(0)] * valid * sw[:, None]
    expected = (w * per_position).sum() / w.sum()
    _close(fn(logits, index, weight=weight, sample_weight=sw), expected)
    # per_sample: each sample's own weighted mean, times its sample weight
    wp = weight[index.clamp_min(0)] * valid
    _close(fn(logits, index, weight=weight, sample_weight=sw, reduction="per_sample"),
           sw * (wp * per_position).sum(1) / wp.sum(1))


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
def test_input_kinds_agree(fn, batch):
    logits, index, soft = batch
    for target in (index, soft):
        ref = fn(logits, target, reduction="none")
        _close(fn(torch.softmax(logits, 1), target, input_kind="probs", reduction="none"), ref, rtol=1e-10, atol=1e-12)
        _close(fn(torch.log_softmax(logits, 1), target, input_kind="log_probs", reduction="none"), ref)


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
def test_gradcheck(fn, batch):
    logits, index, soft = batch
    x = logits[:3].clone().requires_grad_()
    for target in (index[:3], soft[:3]):
        assert torch.autograd.gradcheck(lambda z, t=target: fn(z, t, reduction="none"), (x,))
    assert torch.autograd.gradcheck(lambda z: fn(z, index[:3], label_smoothing=0.1), (x,))
    assert torch.autograd.gradgradcheck(lambda z: fn(z, index[:3], reduction="none"), (x,))


EXTREME_CASES = [(fn, {}) for fn in ALL] + [
    (LF.focal_loss, {"gamma": 0.5}), (LF.focal_loss, {"gamma": 0.0}), (LF.gce_loss, {"q": 0.1}),
    (LF.sce_loss, {"A": -1e4}),
]


@pytest.mark.parametrize(("fn", "options"), EXTREME_CASES, ids=lambda v: getattr(v, "__name__", str(v)))
def test_finite_at_extreme_logits(fn, options):
    # float32 logits of +-1e4: p_y is exactly 1 or underflows to 0
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0], [1e4, -1e4, -1e4]], requires_grad=True)
    for target in (torch.tensor([0, 0, 0]), torch.tensor([1, 2, 2]), torch.tensor([[1.0, 0, 0], [0.2, 0.3, 0.5],
                                                                                   [0, 0.5, 0.5]])):
        logits.grad = None
        value = fn(logits, target, reduction="sum", **options)
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(logits.grad).all(), (target, value, logits.grad)


def test_zero_probability_classes():
    # log_probs with -inf where p = 0: classes the target gives no mass add exactly 0, never 0 * inf
    p = torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.2, 0.3, 0.5, 0.0]], dtype=torch.float64)
    soft = torch.tensor([[0.3, 0.7, 0.0, 0.0], [0.0, 0.5, 0.5, 0.0]], dtype=torch.float64)
    for fn in ALL:
        for target in (torch.tensor([0, 2]), soft):
            log_p = torch.log(p).requires_grad_()
            value = fn(log_p, target, input_kind="log_probs", reduction="none")
            value.sum().backward()
            assert torch.isfinite(value).all() and torch.isfinite(log_p.grad).all(), fn.__name__
            if fn in (LF.nce_loss, LF.nce_rce_loss, LF.nce_mae_loss):
                # the normaliser sum_j -log p_j is infinite: NCE is exactly 0
                torch.testing.assert_close(LF.nce_loss(log_p, target, input_kind="log_probs", reduction="none"),
                                           torch.zeros(2, dtype=torch.float64))
            else:
                # the same as with p clamped to the smallest normal float (log = -708)
                _close(value, fn(p, target, input_kind="probs", reduction="none"))


def _focal_term_derivative(log_p: float, gamma: float) -> float:
    """d/dl of (1 - e^l)^gamma * (-l), by mpmath at 50 digits."""
    mpmath.mp.dps = 50
    return float(mpmath.diff(lambda l: -((1 - mpmath.exp(l)) ** gamma) * l, mpmath.mpf(log_p)))


@pytest.mark.parametrize("gamma", [0.0, 0.25, 0.5, 2.0])
def test_focal_gradient_near_certain_prediction_is_exact(gamma):
    # log p_y = -1e-20: p_y = 1 - 1e-20, where the naive form's (1-p)^(gamma-1) is huge and 1 - p rounds to 0
    for dtype, rtol in ((torch.float64, 1e-10), (torch.float32, 1e-5)):
        log_p = torch.tensor([[-1e-20, math.log(1e-20)]], dtype=dtype, requires_grad=True)
        LF.focal_loss(log_p, torch.tensor([0]), gamma=gamma, input_kind="log_probs").backward()
        expected = _focal_term_derivative(-1e-20, gamma)
        torch.testing.assert_close(log_p.grad[0, 0].double(), torch.tensor(expected, dtype=torch.float64),
                                   rtol=rtol, atol=0.0)
    x = torch.tensor([[5.0, 0.0]], dtype=torch.float64, requires_grad=True)
    LF.focal_loss(x, torch.tensor([0]), gamma=gamma).backward()
    log_p_y = -math.log1p(math.exp(-5.0))
    expected = _focal_term_derivative(log_p_y, gamma) * (1 - math.exp(log_p_y))  # dl/dx = 1 - p_y
    torch.testing.assert_close(x.grad[0, 0], torch.tensor(expected, dtype=torch.float64), rtol=1e-10, atol=0.0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_focal_gradient_at_p_y_one(dtype):
    # logits [40, 0]: log_softmax rounds log p_y to exactly 0; the true gradient there is 0 for gamma > 0
    for gamma in (0.25, 0.5, 2.0):
        x = torch.tensor([[40.0, 0.0]], dtype=dtype, requires_grad=True)
        LF.focal_loss(x, torch.tensor([0]), gamma=gamma).backward()
        assert torch.equal(x.grad, torch.zeros_like(x))
    # the naive formula gives NaN there: the case the custom backward exists for
    naive = torch.tensor([[40.0, 0.0]], dtype=dtype, requires_grad=True)
    p_y = torch.softmax(naive, 1)[0, 0]
    (-(1 - p_y) ** 0.5 * torch.log(p_y)).backward()
    assert torch.isnan(naive.grad).any()


def test_gce_gradient_finite_when_p_y_underflows():
    x = torch.tensor([[-1e4, 1e4]], requires_grad=True)
    value = LF.gce_loss(x, torch.tensor([0]), q=0.7)
    value.backward()
    assert value.item() == pytest.approx(1 / 0.7)
    assert torch.equal(x.grad, torch.zeros_like(x))  # p_y^q = 0 exactly: CE's gradient times 0


# ------------------------------------------------------------------ checks


@pytest.mark.parametrize(
    ("fn", "options", "message"),
    [
        (LF.gce_loss, {"q": 0.0}, r"q must lie in \(0, 1\]"),
        (LF.gce_loss, {"q": 1.5}, r"q must lie in \(0, 1\]"),
        (LF.sce_loss, {"A": 0.0}, r"A must lie in \(-inf, 0\)"),
        (LF.sce_loss, {"alpha": -0.1}, r"alpha must lie in \[0, inf\)"),
        (LF.nce_rce_loss, {"beta": math.nan}, "beta must lie"),
        (LF.focal_loss, {"gamma": -1.0}, r"gamma must lie in \[0, inf\)"),
        (LF.focal_loss, {"alpha": torch.ones(3)}, r"alpha has shape \(3,\)"),
        (LF.focal_loss, {"alpha": torch.tensor([1.0, -1.0, 1.0, 1.0])}, "alpha holds a negative value"),
        (LF.poly1_loss, {"epsilon": -1.5}, r"epsilon must lie in \[-1, inf\)"),
    ],
)
def test_bad_hyperparameters(batch, fn, options, message):
    logits, index, _ = batch
    with pytest.raises(LossInputError, match=message):
        fn(logits, index, **options)


@pytest.mark.parametrize("fn", [LF.nce_loss, LF.nce_rce_loss, LF.nce_mae_loss], ids=lambda f: f.__name__)
def test_nce_needs_two_classes(fn):
    with pytest.raises(LossInputError, match="at least 2 classes"):
        fn(torch.zeros(3, 1), torch.zeros(3, dtype=torch.long))


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
def test_core_checks_apply(fn, batch):
    logits, index, _ = batch
    with pytest.raises(LossInputError, match="class index 7"):
        fn(logits, torch.full((N,), 7))
    with pytest.raises(LossInputError, match="must have shape"):
        fn(logits, index[:, None])


# ------------------------------------------------------------------ forward mode, second order, tiny q (issue 13)


def _naive_focal(x: torch.Tensor, t: torch.Tensor, gamma: float) -> torch.Tensor:
    p_y = torch.softmax(x, 1).gather(1, t[:, None]).squeeze(1)
    return ((1 - p_y) ** gamma * -torch.log(p_y)).sum()


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_focal_loss_under_jvp_and_hessian_matches_the_naive_form(gamma):
    """focal_loss under torch.func.jvp raised NotImplementedError (a custom Function without jvp)."""
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    t = torch.tensor([0, 3, 1, 1, 2])
    v = torch.randn(5, 4, generator=gen, dtype=torch.float64)

    def loss(a: torch.Tensor) -> torch.Tensor:
        return LF.focal_loss(a, t, gamma=gamma, reduction="sum", validate=False)

    value, tangent = torch.func.jvp(loss, (x,), (v,))
    expected_grad = torch.func.grad(lambda a: _naive_focal(a, t, gamma))(x)
    torch.testing.assert_close(value, _naive_focal(x, t, gamma))
    torch.testing.assert_close(tangent, (expected_grad * v).sum())
    torch.testing.assert_close(torch.func.hessian(loss)(x), torch.func.hessian(lambda a: _naive_focal(a, t, gamma))(x))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gce_with_q_that_underflows_is_cross_entropy(dtype):
    """gce_loss(q=1e-300) in float32 was 0/0 = NaN; the q -> 0 limit is cross-entropy."""
    x = torch.randn(4, 3, dtype=dtype, generator=torch.Generator().manual_seed(0), requires_grad=True)
    t = torch.tensor([0, 2, 1, 1])
    loss = LF.gce_loss(x, t, q=1e-300)
    torch.testing.assert_close(loss, F.cross_entropy(x, t))
    torch.testing.assert_close(torch.autograd.grad(loss, x)[0], torch.autograd.grad(F.cross_entropy(x, t), x)[0])


@pytest.mark.parametrize("fn", [LF.cross_entropy, LF.gce_loss, LF.focal_loss])
@pytest.mark.parametrize("value", [2**70, -(2**63) - 1])
def test_ignore_index_beyond_int64_is_refused_with_its_range(fn, value):
    """ignore_index=2**70 raised Python's 'int too big to convert'."""
    with pytest.raises(LossInputError) as e:
        fn(torch.randn(3, 4), torch.tensor([0, 1, 2]), ignore_index=value)
    assert f"ignore_index={value} does not fit in int64" in str(e.value)


def test_ignore_index_accepts_numpy_integers():
    import numpy as np

    x, t = torch.randn(3, 4), torch.tensor([0, 1, 2])
    torch.testing.assert_close(LF.cross_entropy(x, t, ignore_index=np.int64(1)), F.cross_entropy(x, t, ignore_index=1))
