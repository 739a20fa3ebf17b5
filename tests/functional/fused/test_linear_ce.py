"""linear_cross_entropy equals cross_entropy(hidden @ weight.T + bias) without holding the logits."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import losskit.functional as LF
from losskit import LossInputError
from losskit.functional.fused import linear_ce as lce_module
from losskit.functional.fused import plan_chunk_size

H, V = 4, 11


def eager(hidden, weight, target, bias=None, **kwargs):
    """The reference: the eager composition through losskit's own cross_entropy."""
    logits = hidden @ weight.T
    if bias is not None:
        logits = logits + bias
    if logits.dim() > 2:
        logits = logits.movedim(-1, 1)
    return LF.cross_entropy(logits, target, **kwargs)


def make(shape, *, dtype=torch.float64, bias=True, ignore=False, seed=0, vocab=V, width=H, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(*shape, width, dtype=dtype, generator=g) * scale
    weight = torch.randn(vocab, width, dtype=dtype, generator=g) * scale
    b = torch.randn(vocab, dtype=dtype, generator=g) if bias else None
    target = torch.randint(0, vocab, shape, generator=g)
    if ignore and target.numel():
        target.view(-1)[:: 3] = -100
    return hidden, weight, b, target


def both(hidden, weight, bias, target, grad_of=("hidden", "weight", "bias"), seed=1, **kwargs):
    """(value, grads) of losskit and of the eager reference, with one random grad_output."""
    results = []
    chunk = kwargs.pop("chunk_size", None)
    for fn in ("fused", "eager"):
        h, w = hidden.detach().clone(), weight.detach().clone()
        b = None if bias is None else bias.detach().clone()
        leaves = {"hidden": h, "weight": w, "bias": b}
        for name in grad_of:
            if leaves[name] is not None:
                leaves[name].requires_grad_()
        if fn == "fused":
            out = LF.linear_cross_entropy(h, w, target, bias=b, chunk_size=chunk, **kwargs)
        else:
            out = eager(h, w, target, b, **kwargs)
        go = torch.randn(out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(seed))
        if out.requires_grad:
            out.backward(go)
        results.append((out.detach(), {k: (None if t is None else t.grad) for k, t in leaves.items()}))
    return results


def assert_match(results, tol):
    (v1, g1), (v2, g2) = results
    torch.testing.assert_close(v1, v2, rtol=tol, atol=tol)
    for name in g1:
        if g2[name] is None:
            assert g1[name] is None, name
        else:
            torch.testing.assert_close(g1[name], g2[name], rtol=tol, atol=tol)


@pytest.mark.parametrize(
    "reduction,label_smoothing,bias,shape,ignore,chunk",
    list(itertools.product(["mean", "sum", "none", "per_sample"], [0.0, 0.1], [False, True], [(7,), (2, 5)],
                           [False, True], [None, 3])),
)
def test_equals_eager_float64(reduction, label_smoothing, bias, shape, ignore, chunk):
    hidden, weight, b, target = make(shape, bias=bias, ignore=ignore)
    res = both(hidden, weight, b, target, reduction=reduction, label_smoothing=label_smoothing, chunk_size=chunk)
    assert_match(res, 1e-10)


@pytest.mark.parametrize("subset", [s for k in range(1, 4) for s in itertools.combinations(["hidden", "weight",
                                                                                             "bias"], k)])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_requires_grad_on_any_subset(subset, reduction):
    hidden, weight, b, target = make((3, 4), ignore=True)
    res = both(hidden, weight, b, target, grad_of=subset, reduction=reduction, label_smoothing=0.2, chunk_size=5)
    assert_match(res, 1e-10)
    grads = res[0][1]
    assert all((grads[k] is not None) == (k in subset) for k in grads)


def test_unbatched_single_token():
    hidden, weight, b, target = make(())
    assert_match(both(hidden, weight, b, target), 1e-10)
    assert_match(both(hidden, weight, b, target, reduction="none"), 1e-10)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_equals_eager_float32(reduction):
    hidden, weight, b, target = make((96,), dtype=torch.float32, vocab=1000, width=32, scale=0.7, ignore=True)
    res = both(hidden, weight, b, target, reduction=reduction, label_smoothing=0.05, chunk_size=17)
    assert_match(res, 1e-5)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_accumulates_in_float32(dtype):
    hidden, weight, b, target = make((40,), dtype=dtype, vocab=300, width=16)
    (v, g), _ = both(hidden, weight, b, target, grad_of=("hidden", "weight"), chunk_size=7)
    assert v.dtype == torch.float32 and g["hidden"].dtype == dtype and g["weight"].dtype == dtype
    # reference: the same (bf16-valued) inputs, everything in float32
    _, (v_ref, g_ref) = both(hidden.float(), weight.float(), b.float(), target, grad_of=("hidden", "weight"))
    torch.testing.assert_close(v, v_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(g["hidden"].float(), g_ref["hidden"], rtol=1e-2, atol=1e-4)
    torch.testing.assert_close(g["weight"].float(), g_ref["weight"], rtol=1e-2, atol=1e-4)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
def test_all_ignored_is_zero_with_zero_grads(reduction, weighted):
    hidden, weight, b, target = make((6,))
    target[:] = -100
    sw = torch.rand(6, dtype=torch.float64) if weighted else None
    (v, g), (v_ref, _) = both(hidden, weight, b, target, reduction=reduction, sample_weight=sw)
    assert v.item() == 0.0 and v_ref.item() == 0.0
    assert all(t is not None and not t.any() for t in g.values())


@pytest.mark.parametrize("num_items", [13, 0, torch.tensor(4.0)])
def test_num_items(num_items):
    hidden, weight, b, target = make((2, 5), ignore=True)
    res = both(hidden, weight, b, target, num_items=num_items, label_smoothing=0.1)
    assert_match(res, 1e-10)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "per_sample"])
def test_sample_weight(reduction):
    hidden, weight, b, target = make((3, 4), ignore=True)
    sw = torch.tensor([0.5, 2.0, 0.0], dtype=torch.float64)
    res = both(hidden, weight, b, target, reduction=reduction, sample_weight=sw, label_smoothing=0.1, chunk_size=5)
    assert_match(res, 1e-10)


def test_sample_weight_requiring_grad_gets_its_gradient():
    hidden, weight, b, target = make((3, 4))
    grads = []
    for fn in (LF.linear_cross_entropy, None):
        sw = torch.tensor([0.5, 2.0, 1.0], dtype=torch.float64, requires_grad=True)
        out = (LF.linear_cross_entropy(hidden, weight, target, bias=b, sample_weight=sw) if fn else
               eager(hidden, weight, target, b, sample_weight=sw))
        out.backward()
        grads.append(sw.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-10, atol=1e-10)


def test_grad_output_scaling_and_second_backward():
    hidden, weight, b, target = make((8,))
    h = hidden.clone().requires_grad_()
    out = LF.linear_cross_entropy(h, weight, target, bias=b)
    ref = h.detach().clone().requires_grad_()
    (eager(ref, weight, target, b) * 2.5).backward()
    (out * 2.5).backward(retain_graph=True)
    torch.testing.assert_close(h.grad, ref.grad, rtol=1e-12, atol=1e-12)
    out.backward()  # the retained graph recomputes: h.grad gains one unscaled gradient
    torch.testing.assert_close(h.grad, ref.grad * (1 + 1 / 2.5), rtol=1e-12, atol=1e-12)


def test_no_grad_mode():
    hidden, weight, b, target = make((5,))
    hidden.requires_grad_()
    with torch.no_grad():
        out = LF.linear_cross_entropy(hidden, weight, target, bias=b)
    assert out.grad_fn is None
    torch.testing.assert_close(out, eager(hidden, weight, target, b).detach(), rtol=1e-12, atol=0)


def test_extreme_logits_stay_exact():
    # p_y underflows in the softmax (logit gap 2000): the exact log-sum-exp fallback must kick in
    hidden = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    weight = torch.tensor([[1000.0, 0.0], [-1000.0, 0.0], [0.0, 1.0]])
    target = torch.tensor([1, 0])
    (v, g), (v_ref, g_ref) = both(hidden, weight, None, target, grad_of=("hidden", "weight"))
    assert v.item() == pytest.approx(v_ref.item(), rel=1e-6) and v.item() > 900
    torch.testing.assert_close(g["weight"], g_ref["weight"], rtol=1e-5, atol=1e-5)


def test_gradcheck_mean_and_none():
    hidden, weight, b, target = make((2, 3), ignore=True, vocab=5, width=3)
    args = (hidden.requires_grad_(), weight.requires_grad_(), b.requires_grad_())
    for reduction in ("mean", "none"):
        def fn(h, w, bb, reduction=reduction):
            return LF.linear_cross_entropy(h, w, target, bias=bb, reduction=reduction, label_smoothing=0.1,
                                           chunk_size=2)
        assert torch.autograd.gradcheck(fn, args)


class _LargestTensor(TorchDispatchMode):
    """Records the largest tensor any aten op returns (a cheap memory probe)."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_never_materialises_the_logits(reduction):
    tokens, vocab, width, chunk = 64, 50, 4, 8
    hidden, weight, b, target = make((tokens,), vocab=vocab, width=width, ignore=True)
    hidden.requires_grad_()
    weight.requires_grad_()
    with _LargestTensor() as probe:
        out = LF.linear_cross_entropy(hidden, weight, target, bias=b, reduction=reduction, chunk_size=chunk)
        out.sum().backward()
    assert probe.largest <= chunk * vocab < tokens * vocab
    with _LargestTensor() as probe_eager:
        eager(hidden, weight, target, b, reduction=reduction).sum().backward()
    assert probe_eager.largest >= tokens * vocab  # the probe does see the eager logits


def test_chunk_budget_rule(monkeypatch):
    assert plan_chunk_size(4096, 65536, torch.float32) == 256
    assert plan_chunk_size(2048, 131072, torch.float32) == 128
    assert plan_chunk_size(10, 65536, torch.float32) == 10
    assert plan_chunk_size(4096, 10**9, torch.float32) == 1
    assert plan_chunk_size(100, 1000, torch.float64, budget_bytes=80_000) == 10
    # a small budget makes the automatic chunk smaller than T, with the same result
    monkeypatch.setattr(lce_module, "CHUNK_BUDGET_BYTES", 4 * V * 8)
    hidden, weight, b, target = make((30,), ignore=True)
    assert plan_chunk_size(30, V, torch.float64) == 4
    hidden.requires_grad_()
    with _LargestTensor() as probe:
        out = LF.linear_cross_entropy(hidden, weight, target, bias=b, label_smoothing=0.1)
        out.backward()
    assert probe.largest < 30 * V
    assert_match(both(hidden, weight, b, target, label_smoothing=0.1), 1e-10)


def test_validation_errors():
    hidden, weight, b, target = make((4,))
    with pytest.raises(LossInputError, match="hidden has shape"):
        LF.linear_cross_entropy(hidden[:, :3], weight, target)
    with pytest.raises(LossInputError, match="target must have shape"):
        LF.linear_cross_entropy(hidden, weight, target[:3])
    with pytest.raises(LossInputError, match="class indices"):
        LF.linear_cross_entropy(hidden, weight, target.double())
    with pytest.raises(LossInputError, match="bias has shape"):
        LF.linear_cross_entropy(hidden, weight, target, bias=b[:3])
    with pytest.raises(LossInputError, match=r"weight has shape"):
        LF.linear_cross_entropy(hidden, weight[0], target)
    with pytest.raises(LossInputError, match="chunk_size"):
        LF.linear_cross_entropy(hidden, weight, target, chunk_size=0)
    with pytest.raises(LossInputError, match="reduction"):
        LF.linear_cross_entropy(hidden, weight, target, reduction="batchmean")
    with pytest.raises(LossInputError, match="label_smoothing"):
        LF.linear_cross_entropy(hidden, weight, target, label_smoothing=1.5)
    bad_target = target.clone()
    bad_target[0] = V
    with pytest.raises(LossInputError, match="rows of weight"):
        LF.linear_cross_entropy(hidden, weight, bad_target)
    nan_hidden = hidden.clone()
    nan_hidden[1, 2] = float("nan")
    with pytest.raises(LossInputError, match="hidden holds 1 non-finite"):
        LF.linear_cross_entropy(nan_hidden, weight, target)
    inf_weight = weight.clone()
    inf_weight[0, 0] = float("inf")
    with pytest.raises(LossInputError, match="weight holds 1 non-finite"):
        LF.linear_cross_entropy(hidden, inf_weight, target)
    # validate=False skips the value checks
    assert torch.isnan(LF.linear_cross_entropy(nan_hidden, weight, target, validate=False))


def test_under_torch_compile_runs_eagerly():
    hidden, weight, b, target = make((2, 3))
    h = hidden.clone().requires_grad_()
    compiled = torch.compile(lambda h: 2 * LF.linear_cross_entropy(h, weight, target, bias=b), backend="eager")
    out = compiled(h)
    out.backward()
    ref_h = hidden.clone().requires_grad_()
    ref = 2 * eager(ref_h, weight, target, b)
    ref.backward()
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h.grad, ref_h.grad, rtol=1e-10, atol=1e-12)


def test_uninitialised_buffers_are_never_read(monkeypatch):
    # every buffer from empty_hugepage must be fully written before it is read: fill them with NaN
    monkeypatch.setattr(lce_module, "empty_hugepage", lambda shape, dtype: torch.full(shape, float("nan"), dtype=dtype))
    hidden, weight, b, target = make((2, 6))
    assert_match(both(hidden, weight, b, target, label_smoothing=0.1, chunk_size=5), 1e-10)
