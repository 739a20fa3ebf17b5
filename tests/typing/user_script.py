"""A user's script: it must type-check under mypy with losskit's own annotations (tests/test_typing.py).

Not collected by pytest (no test_ prefix); it is run, not imported, by the
typing test, which also checks that a wrong reduction literal is rejected.
"""

from __future__ import annotations

import torch

import losskit
import losskit.functional as LF
import losskit.nn as lnn
from losskit import LossInfo, LossInputError
from losskit._types import Reduction
from losskit.distributed import mean_divisor


def train_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, reduction: Reduction = "mean") -> float:
    loss: torch.Tensor = LF.cauchy_loss(model(x), y, reduction=reduction) + LF.huber_loss(model(x), y, delta=2.0)
    loss.backward()
    return float(loss)


def classify(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    n: torch.Tensor = mean_divisor([labels], ignore_index=-100)
    smooth = LF.cross_entropy(logits, labels, label_smoothing=0.1, num_items=n)
    return smooth + LF.gce_loss(logits, labels.clamp(min=0), q=0.7, input_kind="logits", reduction="mean")


def by_name(name: str) -> lnn.FunctionalLoss:
    info: LossInfo = losskit.loss_info(name)
    names: list[str] = losskit.available_losses("regression")
    assert info.name in names or info.task != "regression"
    return losskit.get_loss(name)


def main() -> None:
    model = torch.nn.Linear(3, 1)
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    print(train_step(model, x, y), train_step(model, x, y, "per_sample" if x.numel() < 0 else "sum"))
    print(classify(torch.randn(4, 5), torch.tensor([0, 1, -100, 4])))
    print(LF.linear_cross_entropy(torch.randn(6, 3), torch.randn(7, 3), torch.randint(0, 7, (6,)), reduction="sum"))
    module: lnn.HuberLoss = lnn.HuberLoss(delta=1.5)
    print(module(x[:, :1], y), by_name("Huber"), losskit.__version__)
    try:
        losskit.get_loss("hubber")
    except LossInputError as err:
        print(err)


if __name__ == "__main__":
    main()
