"""Names as users spell them: case and separators ignored, Keras's and torch's names, did-you-mean, no shadowing.

A spelling from another library must compute what it computes there, so each
one is checked against that library's own definition (torch's function where
torch has one, the Keras formula written out otherwise) on the inputs that
library takes.
"""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

import losskit
import losskit.nn as lnn
from losskit import registry


@pytest.fixture
def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_ALIASES", dict(registry._ALIASES))
    monkeypatch.setattr(registry, "_WRITTEN", dict(registry._WRITTEN))


# spelling -> registry name it means
SPELLED = {
    "Huber": "huber", "HUBER": "huber", "huber_loss": "huber", "HuberLoss": "huber",
    "mean_squared_error": "mse", "MeanSquaredError": "mse", "mse_loss": "mse", "MSELoss": "mse",
    "mean_absolute_error": "mae", "MeanAbsoluteError": "mae", "l1_loss": "mae", "L1Loss": "mae",
    "log_cosh": "log_cosh", "logcosh": "log_cosh", "LogCosh": "log_cosh", "log-cosh": "log_cosh",
    "CrossEntropyLoss": "cross_entropy", "categorical_crossentropy": "cross_entropy",
    "CategoricalCrossentropy": "cross_entropy", "sparse_categorical_crossentropy": "cross_entropy",
    "kl_divergence": "kl_div", "kld": "kl_div", "KLDivergence": "kl_div", "KLDivLoss": "kl_div",
    "binary_crossentropy": "bce", "binary_cross_entropy": "bce", "BCELoss": "bce",
    "bce_with_logits": "bce", "BCEWithLogitsLoss": "bce", "binary_cross_entropy_with_logits": "bce",
    "sigmoid_focal_loss": "binary_focal", "FocalLoss": "focal", "Charbonnier": "pseudo_huber",
    "generalized_cross_entropy": "gce", "pinball_loss": "quantile",
}


@pytest.mark.parametrize(("spelling", "name"), list(SPELLED.items()))
def test_spellings_resolve(spelling: str, name: str) -> None:
    assert losskit.loss_info(spelling) is losskit.loss_info(name)
    assert type(losskit.get_loss(spelling)) is losskit.loss_info(name).module


def _probs(gen: torch.Generator, n: int = 6, c: int = 4) -> torch.Tensor:
    return torch.softmax(torch.randn(n, c, generator=gen, dtype=torch.float64), dim=1)


def test_keras_and_torch_spellings_compute_what_they_compute_there(gen: torch.Generator) -> None:
    p, q = _probs(gen), _probs(gen)
    idx = torch.randint(0, 4, (6,), generator=gen)
    onehot = F.one_hot(idx, 4).double()
    # Keras: probabilities in (from_logits=False is the default), mean over the batch
    keras_cce = -(onehot * p.log()).sum(1).mean()
    torch.testing.assert_close(losskit.get_loss("categorical_crossentropy")(p, onehot), keras_cce)
    torch.testing.assert_close(losskit.get_loss("sparse_categorical_crossentropy")(p, idx), keras_cce)
    keras_kld = (q * (q / p).log()).sum(1).mean()
    torch.testing.assert_close(losskit.get_loss("kl_divergence")(p, q), keras_kld)
    torch.testing.assert_close(losskit.get_loss("KLD")(p, q), keras_kld)
    # torch: KLDivLoss takes log-probabilities; batchmean is the true KL mean
    torch.testing.assert_close(losskit.get_loss("KLDivLoss")(p.log(), q), F.kl_div(p.log(), q, reduction="batchmean"))
    # torch: nll_loss / NLLLoss take log-probabilities
    logp = F.log_softmax(torch.randn(6, 4, generator=gen, dtype=torch.float64), 1)
    for spelling in ("nll", "nll_loss", "NLLLoss"):
        torch.testing.assert_close(losskit.get_loss(spelling)(logp, idx), F.nll_loss(logp, idx))
    # binary: torch's BCELoss and Keras's binary_crossentropy on probabilities, the logits forms on logits
    z = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 2, (5, 3), generator=gen).double()
    for spelling in ("BCELoss", "binary_crossentropy", "binary_cross_entropy"):
        torch.testing.assert_close(losskit.get_loss(spelling)(z.sigmoid(), y), F.binary_cross_entropy(z.sigmoid(), y))
    for spelling in ("bce_with_logits", "BCEWithLogitsLoss", "bce"):
        torch.testing.assert_close(losskit.get_loss(spelling)(z, y), F.binary_cross_entropy_with_logits(z, y))
    # the spelling's options are defaults: the caller's override them (Keras's from_logits=True)
    torch.testing.assert_close(
        losskit.get_loss("binary_crossentropy", input_kind="logits")(z, y), F.binary_cross_entropy_with_logits(z, y)
    )


def test_a_spelling_on_probabilities_refuses_logits(gen: torch.Generator) -> None:
    z = torch.randn(5, 3, generator=gen) * 3
    with pytest.raises(losskit.LossInputError, match="input"):
        losskit.get_loss("binary_crossentropy")(z, torch.ones(5, 3))


@pytest.mark.parametrize(
    ("typo", "hint"),
    [("hubber", "'huber'"), ("mean_squared_eror", "'mean_squared_error'"), ("cros_entropy", "'cross_entropy'"),
     ("Focall", "'focal'"), ("log_cosch", "'log_cosh'")],
)
def test_unknown_names_get_the_closest(typo: str, hint: str) -> None:
    with pytest.raises(losskit.LossInputError, match=re.escape(f"unknown loss '{typo}'. Did you mean {hint}")) as e:
        losskit.get_loss(typo)
    assert "Valid names: " + ", ".join(losskit.available_losses()) in str(e.value)


def test_far_names_get_no_guess() -> None:
    with pytest.raises(losskit.LossInputError) as e:
        losskit.loss_info("zzzzzz")
    assert "Did you mean" not in str(e.value)
    with pytest.raises(losskit.LossInputError, match="must be a string"):
        losskit.loss_info(3)  # type: ignore[arg-type]


def test_every_spelling_names_a_registered_loss_and_is_listed() -> None:
    for spelling, target in registry.SPELLINGS.items():
        assert target.loss in losskit.available_losses(), f"{spelling!r} names the unregistered {target.loss!r}"
        assert spelling in losskit.loss_info(target.loss).aliases
        assert set(target.options) <= set(losskit.loss_info(target.loss).options)


def test_no_name_shadows_another() -> None:
    """Every name and alias of every loss has its own lookup key, and it resolves to that loss."""
    seen: dict[str, str] = {}
    for name in losskit.available_losses():
        info = losskit.loss_info(name)
        for n in (name, *info.aliases):
            key = registry._key(n)
            assert key not in seen, f"{n!r} of {name!r} and {seen[key]!r} are one name"
            seen[key] = name
            assert losskit.loss_info(n) is info
    # a trailing "loss" never leads elsewhere than the name without it
    for key, name in seen.items():
        if key + "loss" in seen:
            assert seen[key + "loss"] == name


@pytest.mark.usefixtures("scratch_registry")
@pytest.mark.parametrize(
    ("name", "aliases"),
    [("HUBER", ()), ("Log-Cosh", ()), ("fresh", ("MEAN_SQUARED_ERROR",)), ("fresh", ("kl-divergence",)),
     ("fresh", ("Fresh",))],
)
def test_register_refuses_a_name_that_differs_only_in_case_or_separators(name: str, aliases: tuple) -> None:
    with pytest.raises(ValueError, match=r"already registered|repeat a name"):
        losskit.register(name, "regression", lnn.L1Loss, "clash (test).", aliases=aliases)
    assert "fresh" not in losskit.available_losses()


@pytest.mark.usefixtures("scratch_registry")
def test_a_spelling_joins_when_its_loss_registers(monkeypatch: pytest.MonkeyPatch) -> None:
    spellings = dict(registry.SPELLINGS)
    spellings["TotallyNewLoss"] = registry.Spelling("totally_new", {"reduction": "sum"})
    monkeypatch.setattr(registry, "SPELLINGS", spellings)
    with pytest.raises(losskit.LossInputError):
        losskit.get_loss("totally_new_loss")
    info = losskit.register("totally_new", "regression", lnn.MSELoss, "test.")
    assert "TotallyNewLoss" in info.aliases
    assert losskit.get_loss("totally-new-loss").reduction == "sum"
    assert losskit.get_loss("totally_new").reduction == "mean"
