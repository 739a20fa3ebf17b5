"""Margin losses against torch's functions and modules, and the hinge against Keras's and optax's formulas."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F

import losskit.functional as LF
import losskit.nn as lnn
from losskit import LossInputError
from losskit import _validate as V

REDUCTIONS = ["mean", "sum", "none"]
TOL = {"rtol": 1e-12, "atol": 1e-12}


def _signs(shape, gen):
    return (torch.randint(0, 2, shape, generator=gen) * 2 - 1).to(torch.float64)


def _cases(gen):
    """(name, inputs, torch options) for every torch-named margin loss, on random float64 data."""
    x = torch.randn(6, 4, generator=gen, dtype=torch.float64) * 2
    idx = torch.randint(0, 4, (6,), generator=gen)
    ml_target = torch.tensor([[0, 3, -1, 1], [2, -1, 0, 0], [1, 1, 2, -1], [-1, 2, 0, 0], [0, 1, 2, 3],
                              [3, -1, -1, -1]])
    return [
        ("margin_ranking_loss", (x[:, 0], x[:, 1], _signs((6,), gen)), {"margin": 0.3}),
        ("hinge_embedding_loss", (x.abs(), _signs((6, 4), gen)), {"margin": 1.5}),
        ("soft_margin_loss", (x, _signs((6, 4), gen)), {}),
        ("multi_margin_loss", (x, idx), {"p": 1, "margin": 0.7}),
        ("multi_margin_loss", (x, idx), {"p": 2, "weight": torch.rand(4, generator=gen, dtype=torch.float64)}),
        ("multilabel_margin_loss", (x, ml_target), {}),
        ("multilabel_soft_margin_loss", (x, torch.rand(6, 4, generator=gen, dtype=torch.float64)),
         {"weight": torch.rand(4, generator=gen, dtype=torch.float64)}),
    ]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", range(7))
def test_equals_torch_with_gradients(gen, case, reduction) -> None:
    name, inputs, options = _cases(gen)[case]
    ours_in = [t.clone().requires_grad_() if t.is_floating_point() and i == 0 else t for i, t in enumerate(inputs)]
    torch_in = [t.clone().requires_grad_() if t.is_floating_point() and i == 0 else t for i, t in enumerate(inputs)]
    ours = getattr(LF, name)(*ours_in, reduction=reduction, **options)
    theirs = getattr(F, name)(*torch_in, reduction=reduction, **options)
    torch.testing.assert_close(ours, theirs, **TOL)
    ours.sum().backward()
    theirs.sum().backward()
    torch.testing.assert_close(ours_in[0].grad, torch_in[0].grad, **TOL)


@pytest.mark.parametrize(("ours", "theirs", "args"), [
    (lnn.MarginRankingLoss, torch.nn.MarginRankingLoss, (0.5,)),
    (lnn.HingeEmbeddingLoss, torch.nn.HingeEmbeddingLoss, (2.0,)),
    (lnn.MultiMarginLoss, torch.nn.MultiMarginLoss, (2, 0.5)),
    (lnn.SoftMarginLoss, torch.nn.SoftMarginLoss, ()),
])
def test_modules_take_torch_positional_options(ours, theirs, args) -> None:
    m, t = ours(*args), theirs(*args)
    assert isinstance(m, type(t).__mro__[1])  # _Loss or _WeightedLoss, as torch's
    for name in ("margin", "p"):
        if hasattr(t, name):
            assert getattr(m, name) == getattr(t, name)


def test_multi_margin_weight_is_a_buffer_named_as_torch() -> None:
    w = torch.tensor([1.0, 2.0, 3.0])
    m = lnn.MultiMarginLoss(weight=w)
    assert "weight" in dict(m.named_buffers()) and "weight" in dict(torch.nn.MultiMarginLoss(weight=w).named_buffers())


def test_deprecated_size_average_warns_like_torch(gen) -> None:
    x, y = torch.randn(5, generator=gen), _signs((5,), gen).float()
    with warnings.catch_warnings(record=True) as ours_w:
        warnings.simplefilter("always")
        ours = LF.soft_margin_loss(x, y, False)
    with warnings.catch_warnings(record=True) as theirs_w:
        warnings.simplefilter("always")
        theirs = F.soft_margin_loss(x, y, False)
    torch.testing.assert_close(ours, theirs)
    assert ours_w and [str(w.message) for w in ours_w] == [str(w.message) for w in theirs_w]


def test_unbatched_inputs_like_torch(gen) -> None:
    x = torch.randn(5, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(LF.multi_margin_loss(x, torch.tensor(2)), F.multi_margin_loss(x, torch.tensor(2)))
    t = torch.tensor([3, 0, -1, 1, 1])
    torch.testing.assert_close(LF.multilabel_margin_loss(x, t), F.multilabel_margin_loss(x, t))


def test_multi_margin_on_spatial_maps_equals_torch_per_position(gen) -> None:
    """An extension: (N, C, d) scores, as torch's per-position (N*d, C) call."""
    x = torch.randn(3, 4, 5, generator=gen, dtype=torch.float64)
    t = torch.randint(0, 4, (3, 5), generator=gen)
    ours = LF.multi_margin_loss(x, t, reduction="none")
    theirs = F.multi_margin_loss(x.movedim(1, -1).reshape(-1, 4), t.reshape(-1), reduction="none")
    torch.testing.assert_close(ours, theirs.reshape(3, 5), **TOL)


# ------------------------------------------------------------------ deliberate differences


def test_soft_margin_finite_where_torch_overflows() -> None:
    x = torch.tensor([1e4, -1e4, 3.0], requires_grad=True)
    y = torch.tensor([-1.0, 1.0, 1.0])
    assert torch.isinf(F.soft_margin_loss(x, y, reduction="none")[:2]).all()
    ours = LF.soft_margin_loss(x, y, reduction="none")
    torch.testing.assert_close(ours[:2], torch.tensor([1e4, 1e4]))
    torch.testing.assert_close(ours[2], F.soft_margin_loss(x[2:], y[2:]))
    ours.sum().backward()
    assert torch.isfinite(x.grad).all()


# ------------------------------------------------------------------ torch's shapes and values, two check levels


def _same_as_torch(name, *args, **kwargs):
    """losskit's value and gradients w.r.t. the scores (the inputs torch differentiates) equal torch's;
    returns losskit's value."""
    wrt = (0, 1) if name == "margin_ranking_loss" else (0,)

    def run(module):
        leaves = [a.detach().clone().requires_grad_() if i in wrt else a for i, a in enumerate(args)]
        out = getattr(module, name)(*leaves, **kwargs)
        return out, torch.autograd.grad(out.sum(), [leaves[i] for i in wrt])

    (ours, ours_g), (theirs, theirs_g) = run(LF), run(F)
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, rtol=1e-7, atol=1e-12, equal_nan=True)
    for a, b in zip(ours_g, theirs_g, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-12, equal_nan=True)
    return ours


def _randn(*shape, seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2


LABELS = torch.tensor([1.0, 0.0, -1.0, 2.5, -0.5], dtype=torch.float64)  # torch's samples draw any label


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["hinge_embedding_loss", "soft_margin_loss", "margin_ranking_loss"])
def test_any_label_is_torch_formula_by_default_and_refused_when_strict(name, reduction) -> None:
    x = _randn(5)
    args = (x, _randn(5, seed=1), LABELS) if name == "margin_ranking_loss" else (x, LABELS)
    _same_as_torch(name, *args, reduction=reduction)
    with pytest.raises(LossInputError, match=r"target holds the value 0; .*2 \* target - 1.*validate='strict'"):
        getattr(LF, name)(*args, reduction=reduction, validate="strict")
    with V.validation("strict"), pytest.raises(LossInputError, match="validate='strict'"):
        getattr(LF, name)(*args, reduction=reduction)
    torch.testing.assert_close(getattr(LF, name)(*args, validate=False), getattr(F, name)(*args))


def test_integer_labels_like_torch() -> None:
    y = torch.tensor([1, -1, 1, 0, -1])
    for name, args in [("soft_margin_loss", (_randn(5), y)), ("hinge_embedding_loss", (_randn(5), y)),
                       ("margin_ranking_loss", (_randn(5), _randn(5, seed=1), y)),
                       ("multilabel_soft_margin_loss", (_randn(5), y.clamp(0, 1)))]:
        _same_as_torch(name, *args, reduction="none")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multi_margin_negative_weight_is_torch_formula_by_default(reduction) -> None:
    x, t, w = _randn(4, 3), torch.tensor([0, 2, 1, 2]), torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    _same_as_torch("multi_margin_loss", x, t, 1, 0.5, w, reduction=reduction)
    with pytest.raises(LossInputError, match=r"weight holds a negative value \(-1\).*validate='strict'"):
        LF.multi_margin_loss(x, t, weight=w, validate="strict")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_soft_margin_takes_torch_targets_and_weights(reduction) -> None:
    x = _randn(4, 3)
    y = torch.tensor([[0.0, 1.0, 2.0], [-1.0, 0.5, 1.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    w = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)
    _same_as_torch("multilabel_soft_margin_loss", x, y, w, reduction=reduction)
    _same_as_torch("multilabel_soft_margin_loss", x, (y > 0.5).long(), reduction=reduction)
    with pytest.raises(LossInputError, match=r"target holds the value 2, outside \[0, 1\].*validate='strict'"):
        LF.multilabel_soft_margin_loss(x, y, validate="strict")
    with pytest.raises(LossInputError, match=r"weight holds a negative value.*validate='strict'"):
        LF.multilabel_soft_margin_loss(x, y.clamp(0, 1), w, validate="strict")
    with pytest.raises(LossInputError, match=r"target has dtype torch.bool"):
        LF.multilabel_soft_margin_loss(x, y > 0.5)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_zero_and_one_dim_inputs_like_torch(reduction) -> None:
    """torch's reference_inputs call the losses on 0-d scores and unbatched rows; the shapes of
    ``"none"`` follow torch's (a multi_margin result takes its target's shape)."""
    s, y = _randn(), torch.tensor(-1.0, dtype=torch.float64)
    _same_as_torch("margin_ranking_loss", s, _randn(seed=1), y, 0.3, reduction=reduction)
    _same_as_torch("hinge_embedding_loss", s, y, reduction=reduction)
    _same_as_torch("soft_margin_loss", s, y, reduction=reduction)
    for target in (torch.tensor(0), torch.tensor([0])):
        _same_as_torch("multi_margin_loss", s, target, reduction=reduction)
        _same_as_torch("multilabel_margin_loss", s, target, reduction=reduction)
    _same_as_torch("multilabel_margin_loss", s, torch.tensor(-1), reduction=reduction)
    x = _randn(5)
    for target in (torch.tensor(3), torch.tensor([3])):
        _same_as_torch("multi_margin_loss", x, target, 2, 0.7, reduction=reduction)
        _same_as_torch("multi_margin_loss", x[None], target, reduction=reduction)
    _same_as_torch("multilabel_margin_loss", x, torch.tensor([3, 0, -1, 1, 1]), reduction=reduction)
    _same_as_torch("multilabel_soft_margin_loss", x, torch.rand(5, dtype=torch.float64), reduction=reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_broadcasts_that_keep_the_number_of_terms_like_torch(reduction) -> None:
    y = torch.tensor([[1.0, -1.0, 1.0]], dtype=torch.float64)
    # torch's reference_inputs: (5, 2) scores against (5, 1) scores and (1, 2) labels
    _same_as_torch("margin_ranking_loss", _randn(5, 2), _randn(5, 1, seed=1),
                   torch.tensor([[1.0, -1.0]], dtype=torch.float64), reduction=reduction)
    _same_as_torch("margin_ranking_loss", _randn(4, 3), _randn(4, 3, seed=1), y, 0.2, reduction=reduction)
    _same_as_torch("margin_ranking_loss", _randn(1, 3), _randn(4, 3, seed=1), y, reduction=reduction)
    _same_as_torch("hinge_embedding_loss", _randn(4, 3).abs(), y, 1.5, reduction=reduction)
    _same_as_torch("hinge_embedding_loss", _randn(1, 3).abs(), _signs((4, 3), torch.Generator()),
                   reduction=reduction)
    _same_as_torch("soft_margin_loss", _randn(4, 3), y, reduction=reduction)
    _same_as_torch("multilabel_soft_margin_loss", _randn(4, 3), torch.rand(3, dtype=torch.float64),
                   torch.rand(4, 1, dtype=torch.float64), reduction=reduction)
    _same_as_torch("multilabel_soft_margin_loss", _randn(1, 3), torch.rand(4, 3, dtype=torch.float64),
                   reduction=reduction)


def test_multilabel_soft_margin_classes_along_the_last_dim_like_torch() -> None:
    x, y = _randn(2, 5, 3), torch.rand(2, 5, 3, dtype=torch.float64)
    w = torch.rand(3, dtype=torch.float64)
    for reduction in REDUCTIONS:
        assert _same_as_torch("multilabel_soft_margin_loss", x, y, w, reduction=reduction).shape == (
            (2, 5) if reduction == "none" else ())


@pytest.mark.parametrize(("name", "args", "message"), [
    ("margin_ranking_loss", (torch.zeros(4, 1), torch.zeros(4), torch.ones(4)),
     r"input1 has shape \(4, 1\) but input2 has shape \(4,\)"),
    ("margin_ranking_loss", (torch.zeros(4), torch.zeros(4), torch.ones(4, 1)),
     r"input1 has shape \(4,\) but target has shape \(4, 1\)"),
    ("hinge_embedding_loss", (torch.zeros(4, 1), torch.ones(4)), r"input has shape \(4, 1\) but target has shape"),
    ("soft_margin_loss", (torch.zeros(4, 1), torch.ones(4)), r"input has shape \(4, 1\) but target has shape"),
    ("soft_margin_loss", (torch.zeros(3), torch.ones(2, 3)), r"input has shape \(3,\) but target has shape"),
    ("multilabel_soft_margin_loss", (torch.zeros(4, 1), torch.ones(4)), r"input has shape \(4, 1\) but target"),
    ("multilabel_soft_margin_loss", (torch.zeros(3), torch.ones(2, 3)), r"must not add dims"),
    ("multilabel_soft_margin_loss", (torch.zeros(4, 3), torch.ones(4, 3), torch.ones(2, 4, 3)),
     r"weight has shape \(2, 4, 3\)"),
])
def test_broadcasts_that_change_the_number_of_terms_are_refused(name, args, message) -> None:
    for validate in (None, False):
        with pytest.raises(LossInputError, match=message):
            getattr(LF, name)(*args, validate=validate)


@pytest.mark.parametrize(("name", "args", "bad", "position"), [
    ("margin_ranking_loss", (_randn(4), _randn(4, seed=1), _signs((4,), torch.Generator())), "input2", 1),
    ("hinge_embedding_loss", (_randn(4).abs(), _signs((4,), torch.Generator())), "input", 0),
    ("soft_margin_loss", (_randn(4), _signs((4,), torch.Generator())), "target", 1),
    ("multi_margin_loss", (_randn(4, 3), torch.tensor([1, 1, 2, 0])), "input", 0),
    ("multilabel_margin_loss", (_randn(2, 3), torch.tensor([[1, -1, 0], [2, 1, -1]])), "input", 0),
    ("multilabel_soft_margin_loss", (_randn(4, 3), torch.rand(4, 3, dtype=torch.float64)), "target", 1),
])
def test_nan_reaching_the_loss_is_named_and_otherwise_torch_computes(name, args, bad, position) -> None:
    args = list(args)
    args[position] = args[position].clone()
    args[position].view(-1)[1] = float("nan")
    with pytest.raises(LossInputError, match=rf"^{bad} holds 1 non-finite value"):
        getattr(LF, name)(*args)
    assert torch.isnan(getattr(LF, name)(*args, validate=False))
    if name not in ("multi_margin_loss", "multilabel_margin_loss"):  # torch's kernels drop a NaN score
        torch.testing.assert_close(getattr(LF, name)(*args, reduction="none", validate=False),
                                   getattr(F, name)(*args, reduction="none"), equal_nan=True)


def test_multi_class_margins_gradient_at_the_kink_like_torch() -> None:
    """torch's kernels count a violation only where z > 0: at z = 0 exactly the gradient is 0."""
    x = torch.tensor([[1.0, 0.0, 2.0], [0.5, 0.5, -0.5]], dtype=torch.float64)
    for p in (1, 2):
        _same_as_torch("multi_margin_loss", x, torch.tensor([0, 1]), p, 1.0, reduction="none")
        _same_as_torch("multi_margin_loss", x, torch.tensor([0, 1]), p, 0.0)
    _same_as_torch("multilabel_margin_loss", x, torch.tensor([[0, -1, 0], [1, 2, -1]]), reduction="none")


def test_hinge_embedding_nan_label_does_not_reach_the_loss_like_torch() -> None:
    """torch's formula only compares the label with 1 and -1, so a NaN label selects both terms: finite."""
    y = torch.tensor([1.0, float("nan"), -1.0], dtype=torch.float64)
    assert torch.isfinite(_same_as_torch("hinge_embedding_loss", _randn(3).abs(), y))


def test_margin_result_check_costs_no_pass_over_the_inputs(monkeypatch) -> None:
    """The default level checks finiteness on the result: no check_finite of the inputs on a clean call."""
    calls = []
    monkeypatch.setattr(V, "check_finite", lambda *a, **k: calls.append(a[1]))
    x = _randn(6, 4)
    LF.soft_margin_loss(x, _signs((6, 4), torch.Generator()))
    LF.hinge_embedding_loss(x.abs(), _signs((6, 4), torch.Generator()))
    LF.margin_ranking_loss(x[:, 0], x[:, 1], _signs((6,), torch.Generator()))
    LF.multi_margin_loss(x, torch.tensor([0, 1, 2, 3, 0, 1]))
    LF.multilabel_soft_margin_loss(x, torch.rand(6, 4, dtype=torch.float64))
    assert calls == []


def test_bad_multilabel_target() -> None:
    with pytest.raises(LossInputError, match=r"class indices in \[0, 3\)"):
        LF.multilabel_margin_loss(torch.zeros(2, 3), torch.tensor([[0, 5, -1], [1, -1, 0]]))
    with pytest.raises(LossInputError, match="p=3"):
        LF.multi_margin_loss(torch.zeros(2, 3), torch.tensor([0, 1]), 3)


# ------------------------------------------------------------------ hinge: Keras and optax formulas


def test_binary_hinge_equals_keras(gen) -> None:
    x = torch.randn(5, 3, generator=gen, dtype=torch.float64) * 2
    y = _signs((5, 3), gen)
    # keras.losses.Hinge / SquaredHinge: mean over the last axis of max(1 - y x, 0) (squared), then over the batch
    keras_hinge = torch.clamp(1 - y * x, min=0).mean(-1)
    torch.testing.assert_close(LF.hinge_loss(x, y, reduction="per_sample"), keras_hinge, **TOL)
    torch.testing.assert_close(LF.squared_hinge_loss(x, y), (torch.clamp(1 - y * x, min=0) ** 2).mean(-1).mean(),
                               **TOL)


@pytest.mark.parametrize("squared", [False, True])
def test_multiclass_hinge_equals_optax_crammer_singer(gen, squared) -> None:
    x = torch.randn(7, 4, generator=gen, dtype=torch.float64) * 2
    y = torch.randint(0, 4, (7,), generator=gen)
    onehot = F.one_hot(y, 4).to(x.dtype)
    # optax.losses.multiclass_hinge_loss: max_j(x_j + 1 - [j = y]) - x_y
    optax = (x + 1 - onehot).amax(-1) - (x * onehot).sum(-1)
    fn = LF.squared_hinge_loss if squared else LF.hinge_loss
    torch.testing.assert_close(fn(x, y, reduction="none"), optax**2 if squared else optax, **TOL)


def test_keras_categorical_hinge_differs_only_when_every_wrong_class_is_negative() -> None:
    """Keras's CategoricalHinge max((1 - y) x) counts the true class as a 0: a documented difference."""
    x = torch.tensor([[0.2, 0.5, -1.0], [-0.5, -1.0, -3.0]], dtype=torch.float64)
    y = torch.tensor([0, 0])
    onehot = F.one_hot(y, 3).to(x.dtype)
    keras = torch.clamp(((1 - onehot) * x).amax(-1) - (onehot * x).sum(-1) + 1, min=0)
    ours = LF.hinge_loss(x, y, reduction="none")
    torch.testing.assert_close(ours[0], keras[0], **TOL)  # a wrong class scores >= 0: equal
    # every wrong class negative: Crammer-Singer 1 + (-1) - (-0.5) = 0.5; Keras 0 - (-0.5) + 1 = 1.5
    torch.testing.assert_close(ours[1], torch.tensor(0.5, dtype=torch.float64), **TOL)
    torch.testing.assert_close(keras[1], torch.tensor(1.5, dtype=torch.float64), **TOL)


def test_hinge_finite_at_extreme_scores() -> None:
    x = torch.tensor([[1e4, -1e4, 0.0]], requires_grad=True)
    for fn in (LF.hinge_loss, LF.squared_hinge_loss, LF.multi_margin_loss, LF.multilabel_soft_margin_loss):
        target = torch.tensor([1]) if fn is not LF.multilabel_soft_margin_loss else torch.tensor([[0.0, 1.0, 1.0]])
        loss = fn(x, target)
        (g,) = torch.autograd.grad(loss, x)
        assert torch.isfinite(loss) and torch.isfinite(g).all()


@pytest.mark.parametrize("value", [None, "1.0", True])
def test_margin_of_the_wrong_type_is_refused_by_name(gen, value) -> None:
    """A raw TypeError ('NoneType' - 'Tensor') once escaped; the fuzz suite found it."""
    x1, x2, y = torch.randn(4, generator=gen), torch.randn(4, generator=gen), torch.tensor([1.0, -1.0, 1.0, -1.0])
    with pytest.raises(LossInputError, match="margin must be a number"):
        LF.margin_ranking_loss(x1, x2, y, margin=value)
    with pytest.raises(LossInputError, match="margin must be a number"):
        LF.hinge_embedding_loss(x1.abs(), y, margin=value)
