"""losskit.train: the article's loop (fit), per-sample evaluation, and the example script."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import losskit
import losskit.functional as LF
from losskit.train import evaluate, fit, per_sample_losses

ROOT = Path(__file__).resolve().parents[1]


def _problem(n: int = 24, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=gen)
    y = x @ torch.tensor([1.5, -2.0, 0.5]) + 0.3 + 0.05 * torch.randn(n, generator=gen)
    return x, y


class _Linear(nn.Module):
    """A (N, 3) -> (N,) linear model with a deterministic start."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 1)
        with torch.no_grad():
            self.lin.weight.copy_(torch.tensor([[0.1, 0.2, -0.3]]))
            self.lin.bias.fill_(0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x).squeeze(-1)


def _batches(x: torch.Tensor, y: torch.Tensor, size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(x[i : i + size], y[i : i + size]) for i in range(0, len(x), size)]


def test_fit_decreases_the_loss() -> None:
    x, y = _problem()
    model = _Linear()
    loss_fn = losskit.get_loss("huber")
    seen: list[tuple[int, float]] = []
    history = fit(model, loss_fn, _batches(x, y, 8), torch.optim.SGD(model.parameters(), lr=0.2), epochs=30,
                  on_epoch=lambda epoch, loss: seen.append((epoch, loss)))
    assert len(history) == 30 and [e for e, _ in seen] == list(range(1, 31))
    assert [v for _, v in seen] == history
    assert history[-1] < 0.05 * history[0]
    with torch.no_grad():
        assert LF.huber_loss(model(x), y) < 0.01


def _manual_loop(model, loss_fn, batches, optimizer, epochs: int, zero_grad: bool = True) -> list[float]:
    """The article's loop, written out; returns each epoch's batch-size-weighted mean loss."""
    history = []
    for _ in range(epochs):
        total, count = 0.0, 0
        for inputs, target in batches:
            if zero_grad:
                optimizer.zero_grad()
            loss = loss_fn(model(inputs), target)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(inputs)
            count += len(inputs)
        history.append(total / count)
    return history


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fit_is_the_article_loop_bit_for_bit(optimizer: str) -> None:
    x, y = _problem(n=20)
    batches = _batches(x, y, 6)  # a short last batch: the epoch mean weights batches by size

    def run(use_fit: bool, zero_grad: bool = True) -> tuple[list[float], list[torch.Tensor]]:
        model = _Linear()
        opt_cls = torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam
        opt = opt_cls(model.parameters(), lr=0.05)
        loss_fn = losskit.get_loss("mse")
        if use_fit:
            hist = fit(model, loss_fn, batches, opt, epochs=3)
        else:
            hist = _manual_loop(model, loss_fn, batches, opt, epochs=3, zero_grad=zero_grad)
        return hist, [p.detach().clone() for p in model.parameters()]

    fit_hist, fit_params = run(use_fit=True)
    ref_hist, ref_params = run(use_fit=False)
    assert all(torch.equal(a, b) for a, b in zip(fit_params, ref_params, strict=True))
    assert fit_hist == pytest.approx(ref_hist, rel=1e-12)
    # without zero_grad the gradients accumulate and the parameters differ: the comparison can tell
    _, acc_params = run(use_fit=False, zero_grad=False)
    assert not all(torch.equal(a, b) for a, b in zip(fit_params, acc_params, strict=True))


def test_fit_with_a_dataloader_and_a_torch_loss() -> None:
    x, y = _problem()
    model = _Linear()
    loader = DataLoader(TensorDataset(x, y), batch_size=5)
    history = fit(model, nn.MSELoss(), loader, torch.optim.SGD(model.parameters(), lr=0.1), epochs=5)
    assert history[-1] < history[0]


def test_fit_epochs() -> None:
    model = _Linear()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    assert fit(model, losskit.get_loss("mse"), [], opt, epochs=3) == [0.0, 0.0, 0.0]
    assert fit(model, losskit.get_loss("mse"), _batches(*_problem(), 8), opt, epochs=0) == []
    with pytest.raises(ValueError, match="epochs must be >= 0"):
        fit(model, losskit.get_loss("mse"), [], opt, epochs=-1)


# ------------------------------------------------------------------ evaluate


@pytest.mark.parametrize("name", ["mse", "mae", "huber", "log_cosh"])
def test_evaluate_returns_per_sample_losses_in_loader_order(name: str) -> None:
    x, y = _problem(n=13)
    model = _Linear()
    loss_fn = losskit.get_loss(name)
    model.train()
    out = evaluate(model, loss_fn, DataLoader(TensorDataset(x, y), batch_size=4))
    assert out.shape == (13,) and not out.requires_grad
    with torch.no_grad():
        expected = loss_fn(model(x), y, reduction="per_sample")
    torch.testing.assert_close(out, expected)
    assert model.training  # the mode is restored
    # a loader that visits the samples in another order gives the losses in that order
    perm = torch.randperm(13, generator=torch.Generator().manual_seed(5))
    shuffled = evaluate(model, loss_fn, _batches(x[perm], y[perm], 5))
    torch.testing.assert_close(shuffled, expected[perm])
    assert not torch.equal(shuffled, expected)


def test_evaluate_per_sample_averages_non_batch_dims() -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(7, 4, generator=gen)
    t = torch.randint(0, 3, (7, 2), generator=gen)
    model = nn.Sequential(nn.Linear(4, 6), nn.Unflatten(1, (3, 2)))
    loss_fn = losskit.get_loss("cross_entropy")
    out = evaluate(model, loss_fn, DataLoader(TensorDataset(x, t), batch_size=3))
    with torch.no_grad():
        expected = LF.cross_entropy(model(x), t, reduction="none").mean(1)
    torch.testing.assert_close(out, expected)
    assert model.training  # evaluate restores whatever mode it found
    model.eval()
    evaluate(model, loss_fn, [(x, t)])
    assert not model.training


@pytest.mark.parametrize(
    ("torch_loss", "ours"),
    [(nn.MSELoss(), "mse"), (nn.L1Loss(), "mae"), (nn.HuberLoss(delta=0.5), "huber")],
)
def test_evaluate_with_torch_loss_modules(torch_loss: nn.Module, ours: str) -> None:
    gen = torch.Generator().manual_seed(2)
    x, y = torch.randn(9, 3, generator=gen), torch.randn(9, 2, generator=gen)
    model = nn.Linear(3, 2)
    out = evaluate(model, torch_loss, DataLoader(TensorDataset(x, y), batch_size=4))
    options = {"delta": 0.5} if ours == "huber" else {}
    with torch.no_grad():
        expected = losskit.get_loss(ours, **options)(model(x), y, reduction="per_sample")
    torch.testing.assert_close(out, expected)
    assert torch_loss.reduction == "mean"  # restored after the reduction="none" calls


def test_evaluate_with_torch_cross_entropy_module() -> None:
    gen = torch.Generator().manual_seed(3)
    x, t = torch.randn(10, 3, generator=gen), torch.randint(0, 4, (10,), generator=gen)
    model = nn.Linear(3, 4)
    out = evaluate(model, nn.CrossEntropyLoss(), [(x[:6], t[:6]), (x[6:], t[6:])])
    with torch.no_grad():
        torch.testing.assert_close(out, nn.functional.cross_entropy(model(x), t, reduction="none"))


def test_per_sample_losses_accepts_functions_and_empty_batches() -> None:
    pred, target = torch.tensor([[1.0, 3.0], [0.0, 0.0]]), torch.zeros(2, 2)
    torch.testing.assert_close(per_sample_losses(LF.l1_loss, pred, target), torch.tensor([2.0, 0.0]))
    torch.testing.assert_close(per_sample_losses(nn.L1Loss(), pred, target), torch.tensor([2.0, 0.0]))
    assert per_sample_losses(losskit.get_loss("mse"), torch.empty(0, 2), torch.empty(0, 2)).shape == (0,)
    assert per_sample_losses(nn.MSELoss(), torch.empty(0, 2), torch.empty(0, 2)).shape == (0,)


def test_evaluate_empty_loader() -> None:
    assert evaluate(_Linear(), losskit.get_loss("mse"), []).shape == (0,)


# ------------------------------------------------------------------ the example script


def test_example_script_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """examples/train_diabetes.py end to end, with 2 epochs per loss instead of 60 to stay fast."""
    spec = importlib.util.spec_from_file_location("train_diabetes_example", ROOT / "examples" / "train_diabetes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    real_fit = module.fit
    epochs_seen: list[int] = []

    def short_fit(*args, epochs: int, **kwargs):
        epochs_seen.append(epochs)
        return real_fit(*args, epochs=2, **kwargs)

    monkeypatch.setattr(module, "fit", short_fit)
    module.main()
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("diabetes: 350 train / 92 test rows, 10 features")
    assert [line.split()[0] for line in lines[1:]] == ["mse", "mae", "huber", "log_cosh"]
    assert all("test RMSE" in line for line in lines[1:])
    assert epochs_seen == [60, 60, 60, 60]
