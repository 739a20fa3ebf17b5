"""One run trained alone with the article's plain loop, :func:`losskit.train.fit`.

This is the reference the batched trainer must match (see the tests and
``benchmarks/bench_compare_batched.py``): same initial weights, same batches,
same optimizer, so the final metrics and parameters agree within float tolerance.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from .._validate import validation
from ..train import evaluate, fit
from .batched import Run
from .config import ModelSpec, TrainSpec
from .metrics import classification_metrics, regression_metrics
from .model import batch_indices, build_single_model, make_optimizer
from .split import Split
from .targets import class_targets

__all__ = ["SeededLoader", "SingleResult", "train_single"]


class SeededLoader:
    """Yields (input, target) minibatches in the order :func:`batch_indices` gives for each epoch."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int) -> None:
        self.x, self.y, self.batch_size, self.seed = x, y, batch_size, seed
        self.epoch = 0

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        self.epoch += 1
        for idx in batch_indices(len(self.x), self.batch_size, self.seed, self.epoch):
            yield self.x[idx], self.y[idx]


@dataclass
class SingleResult:
    """Per-epoch records of one run (epoch 0 first) and the final model."""

    train_loss: list[float] = field(default_factory=list)
    metrics: list[dict[str, float]] = field(default_factory=list)
    model: nn.Module | None = None


def _test_metrics(model: nn.Module, data: Split) -> dict[str, float]:
    model.eval()
    with torch.no_grad():
        out = model(data.x_test)
    model.train()
    if data.task == "classification":
        m = classification_metrics(out.argmax(-1).unsqueeze(0), data.y_test, data.num_classes)
    else:
        pred = out.reshape(1, -1).double() * data.y_scale + data.y_mean
        m = regression_metrics(pred, data.y_test)
    return {k: float(v[0]) for k, v in m.items()}


def train_single(
    data: Split, run: Run, targets: torch.Tensor, model_spec: ModelSpec, train: TrainSpec
) -> SingleResult:
    """Train ``run`` alone on its seed's split ``data`` and its training ``targets``, evaluating the test
    metrics after every epoch."""
    sizes = model_spec.layer_sizes(data.x_train.shape[1], data.n_out)
    model = build_single_model(sizes, run.seed)
    loss_fn = run.loss.build()
    if data.task == "classification":
        targets = class_targets(run.loss, targets, data.num_classes)
    loader = SeededLoader(data.x_train, targets, train.batch_size, run.seed)
    optimizer = make_optimizer(list(model.parameters()), train)
    result = SingleResult(model=model)
    with validation(False):
        full = [(data.x_train, targets)]
        result.train_loss.append(float(evaluate(model, loss_fn, full).mean()))
        result.metrics.append(_test_metrics(model, data))

        def on_epoch(epoch: int, loss: float) -> None:
            result.train_loss.append(loss)
            result.metrics.append(_test_metrics(model, data))

        fit(model, loss_fn, loader, optimizer, epochs=train.epochs, on_epoch=on_epoch)
    return result
