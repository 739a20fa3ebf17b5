"""torch's names, signatures and meanings: torch code ports to losskit by changing the import.

Reference: torch.nn.functional and torch.nn themselves, called the same way.
"""

from __future__ import annotations

import inspect
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.loss import _Loss, _WeightedLoss

import losskit
import losskit.functional as LF
import losskit.nn as lnn
from losskit import LossInputError

D = torch.float64
TORCH_NAMES = [
    "mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "nll_loss", "cross_entropy", "kl_div",
    "binary_cross_entropy", "binary_cross_entropy_with_logits",
]
MODULES = ["MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss", "NLLLoss", "CrossEntropyLoss", "KLDivLoss", "BCELoss",
           "BCEWithLogitsLoss"]


@pytest.fixture
def g() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", TORCH_NAMES)
def test_functional_signature_starts_with_torchs(name: str) -> None:
    theirs = list(inspect.signature(getattr(F, name)).parameters.values())
    ours = list(inspect.signature(getattr(LF, name)).parameters.values())
    assert [(p.name, p.default) for p in ours[: len(theirs)]] == [(p.name, p.default) for p in theirs]
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in ours[: len(theirs)])
    assert all(p.kind is p.KEYWORD_ONLY for p in ours[len(theirs):])  # losskit's own options


@pytest.mark.parametrize("name", MODULES)
def test_module_derives_from_torchs_base_and_takes_its_arguments(name: str) -> None:
    theirs, ours = getattr(nn, name), getattr(lnn, name)
    base = _WeightedLoss if issubclass(theirs, _WeightedLoss) else _Loss
    assert issubclass(ours, base) and issubclass(ours, lnn.FunctionalLoss)
    params = [p for p in inspect.signature(theirs.__init__).parameters.values() if p.name != "self"]
    positional = [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert lnn.positional_options(ours.function)[: len(positional)] == positional
    assert ours().reduction == "mean"


def test_positional_calls_port_unchanged(g) -> None:
    x = torch.randn(6, 4, generator=g, dtype=D)
    y = torch.randint(0, 4, (6,), generator=g)
    w = torch.rand(4, generator=g, dtype=D) + 0.1
    _close(LF.cross_entropy(x, y, w), F.cross_entropy(x, y, w))
    args = (w, None, -100, None, "sum", 0.2)
    _close(LF.cross_entropy(x, y, *args), F.cross_entropy(x, y, *args))
    _close(lnn.CrossEntropyLoss(w)(x, y), nn.CrossEntropyLoss(w)(x, y))
    _close(LF.nll_loss(F.log_softmax(x, 1), y, w), F.nll_loss(F.log_softmax(x, 1), y, w))
    _close(lnn.NLLLoss(w, reduction="none")(F.log_softmax(x, 1), y), nn.NLLLoss(w, reduction="none")(
        F.log_softmax(x, 1), y))
    r = torch.randn(6, 4, generator=g, dtype=D)
    _close(LF.huber_loss(x, r, "sum"), F.huber_loss(x, r, "sum"))
    _close(LF.huber_loss(x, r, "none", 0.3), F.huber_loss(x, r, "none", 0.3))
    _close(lnn.HuberLoss("sum", 2.0)(x, r), nn.HuberLoss("sum", 2.0)(x, r))
    for beta in (0.0, 0.5, 1.0):
        _close(LF.smooth_l1_loss(x, r, None, None, "mean", beta), F.smooth_l1_loss(x, r, None, None, "mean", beta))
        _close(lnn.SmoothL1Loss(beta=beta, reduction="none")(x, r), nn.SmoothL1Loss(beta=beta, reduction="none")(x, r))
    _close(lnn.MSELoss(None, None, "sum")(x, r), nn.MSELoss(None, None, "sum")(x, r))
    ew = torch.rand(6, 4, generator=g, dtype=D)
    _close(LF.mse_loss(x, r, None, None, "mean", ew), F.mse_loss(x, r, None, None, "mean", ew))
    _close(LF.l1_loss(x, r, weight=ew), F.l1_loss(x, r, weight=ew))


def test_kl_div_batchmean_and_log_target(g) -> None:
    log_p = F.log_softmax(torch.randn(5, 3, generator=g, dtype=D), 1)
    q = torch.softmax(torch.randn(5, 3, generator=g, dtype=D), 1)
    for log_target, t in ((False, q), (True, q.log())):
        for reduction in ("batchmean", "sum", "none"):
            _close(LF.kl_div(log_p, t, reduction=reduction, log_target=log_target),
                   F.kl_div(log_p, t, reduction=reduction, log_target=log_target))
            _close(lnn.KLDivLoss(reduction=reduction, log_target=log_target)(log_p, t),
                   nn.KLDivLoss(reduction=reduction, log_target=log_target)(log_p, t))
    # losskit's "mean" is the KL divergence averaged over samples: torch's batchmean for (N, C)
    _close(LF.kl_div(log_p, q), F.kl_div(log_p, q, reduction="batchmean"))


def test_binary_cross_entropy_takes_probabilities_as_torch(g) -> None:
    # the silent wrong number of issue 9: LF.binary_cross_entropy(torch.sigmoid(x), y) once read logits
    x = torch.randn(8, 3, generator=g, dtype=D)
    y = torch.randint(0, 2, (8, 3), generator=g).to(D)
    _close(LF.binary_cross_entropy(torch.sigmoid(x), y), F.binary_cross_entropy(torch.sigmoid(x), y))
    _close(lnn.BCELoss()(torch.sigmoid(x), y), nn.BCELoss()(torch.sigmoid(x), y))
    pw = torch.tensor([1.0, 2.0, 0.5], dtype=D)
    _close(LF.binary_cross_entropy_with_logits(x, y, None, None, None, "sum", pw),
           F.binary_cross_entropy_with_logits(x, y, None, None, None, "sum", pw))
    _close(lnn.BCEWithLogitsLoss(pos_weight=pw)(x, y), nn.BCEWithLogitsLoss(pos_weight=pw)(x, y))
    with pytest.raises(LossInputError, match=r"input holds the value .* outside \[0, 1\]"):
        LF.binary_cross_entropy(x * 5, y)  # logits where probabilities belong: refused, not a silent number


def test_deprecated_size_average_and_reduce_behave_and_warn_as_in_torch(g) -> None:
    x = torch.randn(4, 3, generator=g, dtype=D)
    r = torch.randn(4, 3, generator=g, dtype=D)
    y = torch.randint(0, 3, (4,), generator=g)
    for size_average, reduce in ((False, None), (None, False), (True, True), (False, True)):
        with pytest.warns(UserWarning, match="deprecated"):
            ours = LF.mse_loss(x, r, size_average, reduce)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = F.mse_loss(x, r, size_average, reduce)
            _close(LF.cross_entropy(x, y, size_average=size_average, reduce=reduce),
                   F.cross_entropy(x, y, size_average=size_average, reduce=reduce))
            _close(lnn.L1Loss(size_average, reduce)(x, r), nn.L1Loss(size_average, reduce)(x, r))
            assert lnn.L1Loss(size_average, reduce).reduction == nn.L1Loss(size_average, reduce).reduction
        _close(ours, theirs)


def test_state_dicts_load_across(g) -> None:
    w = torch.rand(3, generator=g, dtype=D)
    for theirs, ours in (
        (nn.CrossEntropyLoss(w), lnn.CrossEntropyLoss(torch.zeros(3, dtype=D))),
        (nn.NLLLoss(w), lnn.NLLLoss(torch.zeros(3, dtype=D))),
        (nn.BCELoss(w), lnn.BCELoss(torch.zeros(3, dtype=D))),
        (nn.BCEWithLogitsLoss(w, pos_weight=2 * w), lnn.BCEWithLogitsLoss(torch.zeros(3, dtype=D),
                                                                          pos_weight=torch.zeros(3, dtype=D))),
    ):
        assert set(ours.state_dict()) == set(theirs.state_dict())
        ours.load_state_dict(theirs.state_dict())
        back = type(theirs)()
        back.load_state_dict(ours.state_dict(), strict=False)
        for key, value in theirs.state_dict().items():
            assert torch.equal(ours.state_dict()[key], value)
    assert lnn.CrossEntropyLoss().state_dict() == nn.CrossEntropyLoss().state_dict() == {}
    m = lnn.BCEWithLogitsLoss()
    m.pos_weight = torch.ones(3)  # None buffers stay buffers, as in torch
    assert "pos_weight" in m.state_dict()


def test_options_include_positional_ones() -> None:
    assert lnn.keyword_options(LF.cross_entropy) == {
        "weight": None, "ignore_index": -100, "reduction": "mean", "label_smoothing": 0.0, "input_kind": "logits",
        "sample_weight": None, "num_items": None, "validate": None,
    }
    assert losskit.loss_info("huber").hyperparameters == {"delta": 1.0}
    assert losskit.loss_info("smooth_l1").hyperparameters == {"beta": 1.0}
    assert losskit.loss_info("bce").function is LF.binary_cross_entropy_with_logits
    assert "logits" in losskit.loss_info("bce").summary


@pytest.mark.parametrize("validate", [True, False])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_cross_entropy_all_ignored_mean_is_zero_on_torchs_path(validate: bool, label_smoothing: float) -> None:
    x = torch.randn(3, 4, dtype=D, requires_grad=True)
    y = torch.full((3,), -100)
    out = LF.cross_entropy(x, y, torch.ones(4, dtype=D), label_smoothing=label_smoothing, validate=validate)
    out.backward()
    assert out.item() == 0.0 and torch.equal(x.grad, torch.zeros_like(x))


def test_cross_entropy_value_checks_on_torchs_path() -> None:
    x = torch.randn(3, 4, dtype=D)
    with pytest.raises(LossInputError, match=r"class index 7, outside \[0, 4\)"):
        LF.cross_entropy(x, torch.tensor([0, 7, 1]))
    w = torch.ones(4, dtype=D)
    LF.cross_entropy(x, torch.tensor([0, 1, 2]), w)
    LF.cross_entropy(x, torch.tensor([0, 1, 2]), w, validate="strict")
    w[2] = -1.0  # changed in place after a check: checked again (a sign check of the strict level)
    with pytest.raises(LossInputError, match="weight holds a negative value"):
        LF.cross_entropy(x, torch.tensor([0, 1, 2]), w, validate="strict")
    with pytest.raises(LossInputError, match="non-finite"):
        LF.cross_entropy(x.clone().index_fill_(0, torch.tensor([1]), float("nan")), torch.tensor([0, 1, 2]))
    with pytest.raises(LossInputError, match="sums to"):
        LF.cross_entropy(x, torch.full((3, 4), 0.5, dtype=D), validate="strict")
    # at the default level both are torch's formula
    _close(LF.cross_entropy(x, torch.full((3, 4), 0.5, dtype=D)), F.cross_entropy(x, torch.full((3, 4), 0.5, dtype=D)))
    _close(LF.cross_entropy(x, torch.tensor([0, 1, 2]), w, reduction="none"),
           F.cross_entropy(x, torch.tensor([0, 1, 2]), w, reduction="none"))


def test_nll_loss_refuses_what_is_not_log_probabilities_at_the_strict_level(g) -> None:
    x = torch.randn(4, 3, generator=g, dtype=D)
    y = torch.randint(0, 3, (4,), generator=g)
    with pytest.raises(LossInputError, match="log-probabilit"):
        LF.nll_loss(x.abs(), y, validate="strict")
    # at the default level, as with value checks off, it is torch's nll_loss on anything finite
    _close(LF.nll_loss(x, y), F.nll_loss(x, y))
    _close(LF.nll_loss(x, y, validate=False), F.nll_loss(x, y))
    with pytest.raises(LossInputError, match="input holds 3 non-finite"):
        LF.nll_loss(x.clone().index_fill_(0, torch.tensor([1]), float("nan")), y)
