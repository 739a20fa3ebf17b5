"""torch's own ops as the fast path of the probabilistic, margin and embedding losses torch also has.

Each fast path must equal torch (values and gradients, float64, rtol 1e-7) and losskit's composed path
(the reference, forced here with ``sample_weight`` / ``num_items``, which only it takes); a mean over zero
items, a non-finite result and what torch's op cannot show (a negative variance, a NaN score its kernel
drops, an inf negative) hand the call to the composed path, which names the argument or computes
losskit's answer.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import losskit.functional as LF
from losskit import LossInputError
from losskit import _validate as V
from losskit.functional import margin, metric, probabilistic

D = torch.float64


def _g(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _signs(shape: tuple[int, ...], seed: int = 3) -> torch.Tensor:
    return torch.randint(0, 2, shape, generator=_g(seed)).to(D) * 2 - 1


def _x(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=_g(seed), dtype=D)


# name, args (the first one or more require grad: see `grads`), kwargs, positions that get a gradient
CASES = [
    ("gaussian_nll_loss", lambda: (_x(6, 5), _x(6, 5, seed=1), torch.rand(6, 5, generator=_g(2), dtype=D) + 1e-7),
     {}, (0, 1, 2)),
    ("gaussian_nll_loss", lambda: (_x(6, 5), _x(6, 5, seed=1), torch.rand(6, 5, generator=_g(2), dtype=D) * 1e-5),
     {"full": True, "eps": 1e-6}, (0, 2)),  # variances below eps: clamped in value, identity gradient
    ("poisson_nll_loss", lambda: (_x(6, 5), torch.randint(0, 5, (6, 5), generator=_g(1)).to(D)), {}, (0,)),
    ("poisson_nll_loss", lambda: (_x(6, 5).abs(), torch.randint(0, 5, (6, 5), generator=_g(1)).to(D)),
     {"log_input": False, "full": True}, (0,)),
    ("soft_margin_loss", lambda: (_x(6, 5), _signs((6, 5))), {}, (0,)),
    ("hinge_embedding_loss", lambda: (_x(6, 5).abs(), _signs((6, 5))), {"margin": 0.7}, (0,)),
    ("margin_ranking_loss", lambda: (_x(6, 5), _x(6, 5, seed=1), _signs((6, 5))), {"margin": 0.3}, (0, 1, 2)),
    ("multilabel_soft_margin_loss",
     lambda: (_x(6, 5), torch.randint(0, 2, (6, 5), generator=_g(1)).to(D), torch.rand(5, generator=_g(2), dtype=D)),
     {}, (0, 1)),
    ("multi_margin_loss", lambda: (_x(6, 5), torch.randint(0, 5, (6,), generator=_g(1))), {}, (0,)),
    ("multi_margin_loss", lambda: (_x(6, 5), torch.randint(0, 5, (6,), generator=_g(1))),
     {"p": 2, "margin": 0.5, "weight": torch.rand(5, generator=_g(2), dtype=D)}, (0,)),
    ("multilabel_margin_loss", lambda: (_x(6, 5), torch.tensor([[1, 3, -1, 0, 0], [4, -1, 2, 2, 2]] * 3)), {}, (0,)),
    ("cosine_embedding_loss", lambda: (_x(6, 5), _x(6, 5, seed=1), _signs((6,))), {"margin": 0.1}, (0, 1)),
    ("triplet_margin_loss", lambda: (_x(6, 5), _x(6, 5, seed=1), _x(6, 5, seed=2)), {}, (0, 1, 2)),
    ("triplet_margin_loss", lambda: (_x(6, 5), _x(6, 5, seed=1), _x(6, 5, seed=2)),
     {"swap": True, "p": 1.0, "margin": 2.0}, (0, 1, 2)),
]
MODULES = (margin, metric, probabilistic)


@pytest.fixture
def fast_calls(monkeypatch):
    """How many calls torch's op answered (torch_op_loss returned a tensor)."""
    calls = []
    for module in MODULES:
        original = module.torch_op_loss

        def spy(*args, _original=original, **kwargs):
            out = _original(*args, **kwargs)
            calls.append(out is not None)
            return out

        monkeypatch.setattr(module, "torch_op_loss", spy)
    return calls


def _run(fn, args, grads, kwargs):
    leaves = [a.clone().requires_grad_(i in grads) if a.is_floating_point() else a for i, a in enumerate(args)]
    out = fn(*leaves, **kwargs)
    out.sum().backward()
    return out.detach(), [leaves[i].grad for i in grads]


def _close(a, b):
    torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(("name", "make", "kwargs", "grads"), CASES)
def test_fast_path_equals_torch_and_the_composed_path(fast_calls, name, make, kwargs, grads, reduction) -> None:
    args = make()
    kwargs = {**kwargs, "reduction": reduction}
    for validate in (None, False):
        fast_calls.clear()
        ours, ours_g = _run(getattr(LF, name), args, grads, {**kwargs, "validate": validate})
        # soft_margin_loss: torch's op reduced with checks on, else the softplus (faster where nothing is read)
        assert fast_calls == [True], "the fast path did not answer"
        theirs, theirs_g = _run(getattr(F, name), args, grads, kwargs)
        _close(ours, theirs)
        for a, b in zip(ours_g, theirs_g, strict=True):
            _close(a, b)
    # the composed path: only it takes sample_weight / num_items
    forced = {"num_items": args[0].shape[0]} if reduction == "none" else {"sample_weight": torch.ones(6, dtype=D)}
    if reduction == "sum":
        forced = {"sample_weight": torch.ones(6, dtype=D)}
    fast_calls.clear()
    ref, ref_g = _run(getattr(LF, name), args, grads, {**kwargs, **forced})
    assert fast_calls == []
    _close(ours, ref)
    for a, b in zip(ours_g, ref_g, strict=True):
        _close(a, b)


@pytest.mark.parametrize(("name", "make", "kwargs", "grads"), CASES)
def test_a_mean_over_zero_items_is_zero_on_the_composed_path(name, make, kwargs, grads) -> None:
    args = [a[:0] for a in make()]  # an empty batch
    if name == "multilabel_soft_margin_loss":
        args[2] = make()[2]  # the class weight keeps its (C,) shape
    leaves = [a.clone().requires_grad_(i in grads) if a.is_floating_point() else a for i, a in enumerate(args)]
    out = getattr(LF, name)(*leaves, **kwargs)
    assert out.item() == 0.0
    out.backward()
    assert all(leaves[i].grad is None or leaves[i].grad.abs().sum() == 0 for i in grads)


def test_soft_margin_stays_finite_where_torch_overflows(fast_calls) -> None:
    x = torch.tensor([-1e4, 3.0, 1e4], requires_grad=True)
    y = torch.tensor([1.0, 1.0, -1.0])
    assert torch.isinf(F.soft_margin_loss(x, y))
    for validate in (None, False):
        for reduction in ("mean", "sum", "none"):
            fast_calls.clear()
            out = LF.soft_margin_loss(x, y, reduction=reduction, validate=validate)
            # validate=False or "none": the fast path is the softplus itself (finite here, no read needed);
            # else torch's op, whose inf here hands the call to the softplus's fast path
            assert fast_calls == ([True] if validate is False or reduction == "none" else [False, True])
            assert torch.isfinite(out).all()
            expected = F.softplus(-y * x.detach())
            expected = {"mean": expected.mean(), "sum": expected.sum(), "none": expected}[reduction]
            torch.testing.assert_close(out.detach(), expected)
            if reduction == "none":
                out = out.sum()
            (grad,) = torch.autograd.grad(out, x)
            assert torch.isfinite(grad).all()


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_soft_margin_without_a_host_read_takes_the_softplus(fast_calls, reduction) -> None:
    """Where no host read is allowed (an accelerator; here the sync policy "never"), torch's op, whose result
    would have to be read for its overflow, declines, and the softplus's fast path answers."""
    x, y = _x(6, 5), _signs((6, 5))
    with V.sync_policy("never"):
        out = LF.soft_margin_loss(x, y, reduction=reduction)
    assert fast_calls == [False, True]
    _close(out, F.soft_margin_loss(x, y, reduction=reduction))


@pytest.mark.parametrize(("name", "args"), [
    ("multi_margin_loss", (_x(4, 3), torch.tensor([1, 1, 2, 0]))),
    ("multilabel_margin_loss", (_x(2, 3), torch.tensor([[1, -1, 0], [2, 1, -1]]))),
])
@pytest.mark.parametrize("where", [(0, 1), (1, 1)])  # a wrong class's score, and the target class's
def test_a_nan_score_torch_kernels_drop_is_refused(name, args, where) -> None:
    x = args[0].clone()
    x[where] = float("nan")
    assert torch.isfinite(getattr(F, name)(x, args[1]))  # torch's kernel drops it
    with pytest.raises(LossInputError, match=r"^input holds 1 non-finite value"):
        getattr(LF, name)(x, args[1])
    big = torch.randn(80, 60, dtype=D)  # a larger score matrix, its NaN far from the first row
    big[3, 7] = float("nan")
    if name == "multi_margin_loss":
        target = torch.randint(0, 60, (80,))
    else:
        target = torch.full((80, 60), -1)
        target[:, 0] = 0  # class 0 listed in every row
    with pytest.raises(LossInputError, match=r"^input holds 1 non-finite value"):
        getattr(LF, name)(big, target)


def test_a_nan_class_weight_torch_kernel_skips_is_refused() -> None:
    x = torch.tensor([[5.0, 0.0, 0.0]], dtype=D)  # no class violates the margin: the weight never enters
    w = torch.tensor([float("nan"), 1.0, 1.0], dtype=D)
    assert F.multi_margin_loss(x, torch.tensor([0]), weight=w).item() == 0.0
    with pytest.raises(LossInputError, match=r"^weight holds 1 non-finite value"):
        LF.multi_margin_loss(x, torch.tensor([0]), weight=w)


def test_what_torch_refuses_keeps_losskit_messages() -> None:
    x = _x(4, 3)
    with pytest.raises(LossInputError, match="class index 7, outside"):
        LF.multi_margin_loss(x, torch.tensor([0, 1, 2, 7]))
    with pytest.raises(LossInputError, match="holds 5, but multilabel_margin_loss"):
        LF.multilabel_margin_loss(x, torch.tensor([[0, 5, -1]] * 4))
    for validate in (None, False):  # shapes are losskit's to name, with validation off too
        with pytest.raises(LossInputError, match="target has shape"):
            LF.multi_margin_loss(x, torch.tensor([0, 1]), validate=validate)
        with pytest.raises(LossInputError, match="target has shape"):
            LF.multilabel_margin_loss(x, torch.tensor([[0, -1, 0]]), validate=validate)


def test_what_the_result_cannot_show_is_refused() -> None:
    x, y = _x(4, 3), _x(4, 3, seed=1)
    var = torch.rand(4, 3, dtype=D)
    var[1, 1] = -0.5  # torch's clamp would make it eps
    with pytest.raises(LossInputError, match=r"var holds the negative value -0\.5"):
        LF.gaussian_nll_loss(x, y, var)
    LF.gaussian_nll_loss(x, y, var, validate=False)  # no value is looked at (torch refuses it even then)
    counts = torch.ones(4, 3, dtype=D)
    counts[0, 0] = -1.0
    torch.testing.assert_close(LF.poisson_nll_loss(x, counts), F.poisson_nll_loss(x, counts))  # torch's formula
    with pytest.raises(LossInputError, match="counts must be >= 0"):
        LF.poisson_nll_loss(x, counts, validate="strict")
    rates = x.abs()
    rates[1, 2] = -1e-9  # above -eps: a finite loss, which cannot show it
    assert torch.isfinite(F.poisson_nll_loss(rates, counts.abs(), log_input=False))
    with pytest.raises(LossInputError, match="rates"):
        LF.poisson_nll_loss(rates, counts.abs(), log_input=False)
    negative = _x(4, 3, seed=2)
    negative[2, 0] = float("inf")  # d(a, n) = inf: torch's loss is 0 there, finite
    assert torch.isfinite(F.triplet_margin_loss(x, y, negative))
    with pytest.raises(LossInputError, match=r"^negative holds 1 non-finite value"):
        LF.triplet_margin_loss(x, y, negative)
    for name, args, bad in (("gaussian_nll_loss", (x, y, var.abs()), "input"),
                            ("poisson_nll_loss", (x, counts.abs()), "input"),
                            ("margin_ranking_loss", (x, y, _signs((4, 3))), "input1"),
                            ("cosine_embedding_loss", (x, y, _signs((4,))), "input1"),
                            ("triplet_margin_loss", (x, y, negative.nan_to_num()), "anchor")):
        bad_x = x.clone()
        bad_x[0, 1] = float("nan")
        with pytest.raises(LossInputError, match=f"^{bad} holds 1 non-finite value"):
            getattr(LF, name)(bad_x, *args[1:])


def test_cosine_labels_other_than_pm1_are_torch_s_formula_and_refused_at_the_strict_level() -> None:
    x1, x2, y = _x(4, 3), _x(4, 3, seed=1), torch.tensor([1.0, 0.0, -1.0, 2.0], dtype=D)
    torch.testing.assert_close(LF.cosine_embedding_loss(x1, x2, y, reduction="none"),
                               F.cosine_embedding_loss(x1, x2, y, reduction="none"))
    with pytest.raises(LossInputError, match="a validate='strict' check"):
        LF.cosine_embedding_loss(x1, x2, y, validate="strict")


def test_strict_level_takes_the_composed_path(fast_calls) -> None:
    x, y = _x(4, 3), _signs((4, 3))
    with pytest.raises(LossInputError, match="labels in"):
        LF.soft_margin_loss(x, y * 2, validate="strict")
    with pytest.raises(LossInputError, match="negative"):
        LF.multi_margin_loss(x, torch.tensor([0, 1, 2, 0]), weight=-torch.ones(3, dtype=D), validate="strict")
    assert fast_calls == [] or not any(fast_calls)


@pytest.mark.parametrize("name", ["multi_margin_loss", "multilabel_margin_loss"])
def test_kernels_without_forward_mode_derivatives_take_the_composed_path_for_dual_tensors(name) -> None:
    import torch.autograd.forward_ad as fwAD

    x = _x(4, 3)
    target = torch.tensor([1, 1, 2, 0]) if name == "multi_margin_loss" else torch.tensor([[1, -1, 0]] * 4)
    tangent = _x(4, 3, seed=5)
    with fwAD.dual_level():
        out = getattr(LF, name)(fwAD.make_dual(x, tangent), target)
        derivative = fwAD.unpack_dual(out).tangent
    leaf = x.clone().requires_grad_()
    getattr(F, name)(leaf, target).backward()
    _close(derivative, (leaf.grad * tangent).sum())


@pytest.mark.parametrize(("name", "make", "kwargs", "grads"), CASES)
def test_torch_names_trace_whole_under_torch_compile(name, make, kwargs, grads) -> None:
    # the fast path's gate (losskit._validate.fast_mode) must read torch.compile's tracing as such, so that no
    # host read (a graph break) is traced: fullgraph=True fails on any break
    torch._dynamo.reset()  # one lambda's code for every case: dynamo's recompile limit would stop the run
    args = make()
    fn = getattr(LF, name)
    compiled = torch.compile(lambda *xs: fn(*xs, **kwargs), fullgraph=True, backend="eager")
    _close(compiled(*args), fn(*args, **kwargs))
