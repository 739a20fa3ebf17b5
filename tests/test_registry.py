"""losskit.registry: names, aliases, loss_info fields and get_loss against the functional forms."""

from __future__ import annotations

import inspect

import pytest
import torch

import losskit
import losskit.functional as LF
import losskit.nn as lnn
from losskit import registry

CORE = {
    "mse": ("regression", lnn.MSELoss, LF.mse_loss),
    "mae": ("regression", lnn.L1Loss, LF.l1_loss),
    "huber": ("regression", lnn.HuberLoss, LF.huber_loss),
    "log_cosh": ("regression", lnn.LogCoshLoss, LF.log_cosh_loss),
    "cross_entropy": ("classification", lnn.CrossEntropyLoss, LF.cross_entropy),
    "kl_div": ("classification", lnn.KLDivergenceLoss, LF.kl_divergence_loss),
    "smooth_l1": ("regression", lnn.SmoothL1Loss, LF.smooth_l1_loss),
    "bce": ("multilabel", lnn.BCEWithLogitsLoss, LF.binary_cross_entropy_with_logits),
    "softmax_mae": ("classification", lnn.SoftmaxMAELoss, LF.softmax_mae_loss),
}
ALIASES = {"l2": "mse", "l1": "mae", "ce": "cross_entropy", "kl": "kl_div"}


@pytest.fixture
def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let a test register losses without leaking them into the other tests."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_ALIASES", dict(registry._ALIASES))
    monkeypatch.setattr(registry, "_WRITTEN", dict(registry._WRITTEN))


def test_available_losses_holds_the_core_sorted() -> None:
    names = losskit.available_losses()
    assert set(CORE) <= set(names)
    assert names == sorted(names)
    assert not set(ALIASES) & set(names)


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_available_losses_by_task(task: str) -> None:
    names = losskit.available_losses(task)
    assert {n for n, (t, _, _) in CORE.items() if t == task} <= set(names)
    assert all(losskit.loss_info(n).task == task for n in names)
    assert losskit.available_losses("no_such_task") == []


@pytest.mark.parametrize("name", list(CORE))
def test_loss_info_fields(name: str) -> None:
    task, module, function = CORE[name]
    info = losskit.loss_info(name)
    assert isinstance(info, losskit.LossInfo)
    assert (info.name, info.task, info.module, info.function) == (name, task, module, function)
    assert info.summary.strip() and "\n" not in info.summary
    # every parameter with a default is an option (torch's positional ones too), but torch's deprecated pair
    signature = inspect.signature(function).parameters
    assert info.options == {
        k: p.default for k, p in signature.items()
        if p.default is not p.empty and k not in ("size_average", "reduce")
    }
    assert info.options["reduction"] == "mean" and info.options["validate"] is None
    own = {"huber": {"delta": 1.0}, "smooth_l1": {"beta": 1.0}, "bce": {"pos_weight": None}}
    assert info.hyperparameters == own.get(name, {})


@pytest.mark.parametrize(("alias", "name"), list(ALIASES.items()))
def test_aliases_resolve(alias: str, name: str) -> None:
    assert losskit.loss_info(alias) is losskit.loss_info(name)
    assert alias in losskit.loss_info(name).aliases
    assert type(losskit.get_loss(alias)) is CORE[name][1]


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown loss 'hubber'\. Did you mean 'huber'\? Valid names: ") as e:
        losskit.get_loss("hubber")
    for name in losskit.available_losses():
        assert name in str(e.value)
    with pytest.raises(ValueError, match="unknown loss"):
        losskit.loss_info("")


def test_get_loss_passes_options(gen) -> None:
    m = losskit.get_loss("huber", delta=2.0, reduction="sum")
    assert isinstance(m, lnn.HuberLoss) and m.delta == 2.0
    x, y = torch.randn(5, 2, generator=gen) * 3, torch.randn(5, 2, generator=gen)
    torch.testing.assert_close(m(x, y), LF.huber_loss(x, y, delta=2.0, reduction="sum"))
    w = torch.tensor([1.0, 0.5, 2.0])
    ce = losskit.get_loss("ce", weight=w, label_smoothing=0.1)
    logits, t = torch.randn(6, 3, generator=gen), torch.randint(0, 3, (6,), generator=gen)
    torch.testing.assert_close(ce(logits, t), LF.cross_entropy(logits, t, weight=w, label_smoothing=0.1))
    assert losskit.get_loss("mse") is not losskit.get_loss("mse")  # a fresh module each time


def test_get_loss_rejects_unknown_options() -> None:
    with pytest.raises(ValueError, match="unknown option"):
        losskit.get_loss("mse", delta=1.0)


@pytest.mark.usefixtures("scratch_registry")
def test_register_adds_a_loss_everywhere() -> None:
    info = losskit.register("mse_copy", "regression", lnn.MSELoss, "A copy of MSE (test).", aliases=("msec",))
    assert "mse_copy" in losskit.available_losses("regression")
    assert losskit.loss_info("msec") is info
    assert isinstance(losskit.get_loss("mse_copy"), lnn.MSELoss)


@pytest.mark.usefixtures("scratch_registry")
@pytest.mark.parametrize(
    ("name", "aliases", "pattern"),
    [
        ("mse", (), "'mse' is already registered"),
        ("l2", (), "'l2' is already registered"),
        ("fresh", ("mse",), "'mse' is already registered"),
        ("fresh", ("l1",), "'l1' is already registered"),
        ("fresh", ("x", "x"), "repeat a name"),
        ("fresh", ("fresh",), "repeat a name"),
    ],
)
def test_register_refuses_clashing_names_and_aliases(name: str, aliases: tuple, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        losskit.register(name, "regression", lnn.L1Loss, "clash (test).", aliases=aliases)
    assert "fresh" not in losskit.available_losses()
    assert type(losskit.get_loss("mse")) is lnn.MSELoss and type(losskit.get_loss("l1")) is lnn.L1Loss


@pytest.mark.usefixtures("scratch_registry")
def test_register_refuses_unknown_task() -> None:
    with pytest.raises(ValueError, match="task must be one of"):
        losskit.register("x", "no_such_task", lnn.MSELoss, "x")
