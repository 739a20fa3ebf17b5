"""losskit.nn: the modules against their functional forms and against torch.nn."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
import torch
from torch import nn

import losskit.functional as LF
import losskit.nn as lnn
from losskit import LossInputError

D = torch.float64


def _regression(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(4, 3, generator=gen, dtype=D) * 2, torch.randn(4, 3, generator=gen, dtype=D)


def _index(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    t = torch.randint(0, 3, (4, 2), generator=gen)
    t[0, 0] = -100
    return torch.randn(4, 3, 2, generator=gen, dtype=D), t


def _probs(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(4, 3, generator=gen, dtype=D), torch.softmax(torch.randn(4, 3, generator=gen, dtype=D), 1)


W3 = torch.tensor([0.5, 2.0, 1.0], dtype=D)

# (module class, function, options, input maker)
CASES: list[tuple[type[lnn.FunctionalLoss], Callable, dict, Callable]] = [
    (lnn.MSELoss, LF.mse_loss, {}, _regression),
    (lnn.L1Loss, LF.l1_loss, {}, _regression),
    (lnn.HuberLoss, LF.huber_loss, {"delta": 0.7}, _regression),
    (lnn.LogCoshLoss, LF.log_cosh_loss, {}, _regression),
    (lnn.CrossEntropyLoss, LF.cross_entropy, {"weight": W3, "label_smoothing": 0.1, "ignore_index": -100}, _index),
    (lnn.CrossEntropyLoss, LF.cross_entropy, {"input_kind": "log_probs"}, _probs),
    (lnn.KLDivLoss, LF.kl_div, {"target_kind": "probs", "input_kind": "logits"}, _probs),
    (lnn.KLDivergenceLoss, LF.kl_divergence_loss, {}, _probs),
    (lnn.SmoothL1Loss, LF.smooth_l1_loss, {"beta": 0.5}, _regression),
    (lnn.SoftmaxMAELoss, LF.softmax_mae_loss, {"weight": W3, "label_smoothing": 0.2}, _index),
]
IDS = [f"{c[0].__name__}-{'-'.join(c[2])}" for c in CASES]


@pytest.mark.parametrize(("module", "fn", "options", "make"), CASES, ids=IDS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "per_sample"])
def test_module_equals_function(gen, module, fn, options, make, reduction) -> None:
    x, t = make(gen)
    if options.get("input_kind") == "log_probs":
        x = torch.log_softmax(x, 1)
        t = t.argmax(1)
    m = module(reduction=reduction, **options)
    torch.testing.assert_close(m(x, t), fn(x, t, reduction=reduction, **options))


@pytest.mark.parametrize(("module", "fn", "options", "make"), CASES, ids=IDS)
def test_forward_overrides_apply_to_one_call(gen, module, fn, options, make) -> None:
    x, t = make(gen)
    if options.get("input_kind") == "log_probs":
        x, t = torch.log_softmax(x, 1), t.argmax(1)
    m = module(**options)
    torch.testing.assert_close(m(x, t, reduction="per_sample"), fn(x, t, reduction="per_sample", **options))
    assert m.reduction == "mean"
    torch.testing.assert_close(m(x, t), fn(x, t, **options))
    s = torch.rand(4, generator=gen, dtype=D)
    torch.testing.assert_close(m(x, t, sample_weight=s), fn(x, t, sample_weight=s, **options))


def test_mae_alias() -> None:
    assert lnn.MAELoss is lnn.L1Loss


@pytest.mark.parametrize(
    ("module", "fn"), [(lnn.CrossEntropyLoss, LF.cross_entropy), (lnn.SoftmaxMAELoss, LF.softmax_mae_loss)]
)
def test_class_weight_is_a_buffer(gen, module, fn) -> None:
    w = torch.tensor([0.5, 2.0, 1.0])
    m = module(weight=w)
    assert set(m.state_dict()) == {"weight"}
    assert dict(m.named_buffers())["weight"] is w
    assert list(m.parameters()) == []
    m64 = m.to(D)
    assert m64.weight.dtype == D
    x, t = _index(gen)
    torch.testing.assert_close(m64(x, t), fn(x, t, weight=w.to(D)))
    fresh = module(weight=torch.zeros(3))
    fresh.load_state_dict(m.state_dict())
    torch.testing.assert_close(fresh.weight, w)
    clone = copy.deepcopy(m)
    assert torch.equal(clone.weight, w) and clone.weight is not w


def test_modules_without_tensor_options_have_empty_state() -> None:
    assert lnn.HuberLoss(delta=2.0).state_dict() == {}
    assert lnn.CrossEntropyLoss().weight is None


def test_options_are_the_functions_keyword_only_parameters() -> None:
    m = lnn.HuberLoss(delta=2.0)
    assert m.options == {
        "delta": 2.0, "reduction": "mean", "weight": None, "sample_weight": None, "num_items": None, "validate": None,
    }
    assert lnn.keyword_options(LF.kl_div) == lnn.KLDivLoss().options


def test_unknown_option_lists_the_accepted_ones() -> None:
    pattern = r"HuberLoss got unknown option\(s\) beta, size_average; it accepts .*delta"
    with pytest.raises(LossInputError, match=pattern):
        lnn.HuberLoss(beta=1.0, size_average=True)  # torch's HuberLoss has no size_average either
    with pytest.raises(TypeError, match="at most 3 positional"):
        lnn.HuberLoss("sum", 1.0, None, 2)  # torch's positional options, then losskit's keyword-only ones
    with pytest.raises(TypeError, match="both by position and by keyword"):
        lnn.HuberLoss("sum", reduction="mean")


def test_option_errors_surface_at_call_time() -> None:
    with pytest.raises(LossInputError, match="delta"):
        lnn.HuberLoss(delta=-1.0)(torch.zeros(2), torch.zeros(2))


def test_repr_shows_non_default_options_and_tensor_shapes() -> None:
    assert repr(lnn.HuberLoss()) == "HuberLoss()"
    assert repr(lnn.HuberLoss(delta=2.0, reduction="sum")) == "HuberLoss(reduction='sum', delta=2.0)"
    assert repr(lnn.CrossEntropyLoss(weight=torch.ones(5))) == "CrossEntropyLoss(weight=<tensor (5,)>)"


def test_docstring_comes_from_the_function() -> None:
    assert lnn.MSELoss.__doc__.startswith("Mean squared error (L2 loss).")
    assert "losskit.functional.mse_loss" in lnn.MSELoss.__doc__


def test_a_new_module_is_two_lines() -> None:
    def scaled_l1(input, target, *, scale: float = 1.0, reduction: str = "mean", validate=None):
        """Scaled L1 (test only)."""
        return scale * LF.l1_loss(input, target, reduction=reduction, validate=validate)

    class ScaledL1(lnn.FunctionalLoss):
        function = staticmethod(scaled_l1)

    m = ScaledL1(scale=3.0)
    x, y = torch.tensor([1.0, -2.0]), torch.zeros(2)
    assert m(x, y).item() == 4.5
    assert m(x, y, reduction="sum").item() == 9.0
    assert ScaledL1.__doc__.startswith("Scaled L1 (test only).")
    with pytest.raises(LossInputError, match="accepts reduction, scale, validate"):
        ScaledL1(delta=1.0)


# ------------------------------------------------------------------ drop-in for torch.nn


def test_defaults_match_torch_nn(gen) -> None:
    x, y = _regression(gen)
    for ours, theirs in [
        (lnn.MSELoss(), nn.MSELoss()),
        (lnn.L1Loss(), nn.L1Loss()),
        (lnn.HuberLoss(delta=0.5), nn.HuberLoss(delta=0.5)),
        (lnn.MSELoss(reduction="none"), nn.MSELoss(reduction="none")),
    ]:
        torch.testing.assert_close(ours(x, y), theirs(x, y))
    logits, t = _index(gen)
    kw = {"weight": W3, "ignore_index": -100, "label_smoothing": 0.1}
    torch.testing.assert_close(lnn.CrossEntropyLoss(**kw)(logits, t), nn.CrossEntropyLoss(**kw)(logits, t))
    x, p = _probs(gen)
    log_p = torch.log_softmax(x, 1)
    torch.testing.assert_close(
        lnn.KLDivLoss(input_kind="log_probs")(log_p, p), nn.KLDivLoss(reduction="batchmean")(log_p, p)
    )


def test_modules_backpropagate_into_a_model(gen) -> None:
    model = nn.Linear(3, 3).to(D)
    x, t = _probs(gen)
    for loss in (lnn.CrossEntropyLoss(weight=W3), lnn.SoftmaxMAELoss(), lnn.KLDivergenceLoss()):
        model.zero_grad()
        target = t.argmax(1) if not isinstance(loss, lnn.KLDivergenceLoss) else t
        loss(model(x), target).backward()
        assert all(torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0 for p in model.parameters())
