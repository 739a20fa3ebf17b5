"""What a run's seed decides: the model's initial weights and the minibatch order.

Both depend on the seed only (never on the loss or the corruption level), so
runs that differ only in loss or corruption start from the same weights and
see the same batches: they are *paired*. The batched trainer and the plain
single-run loop use these same functions, which is what makes them comparable.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
from torch import nn

from .config import TrainSpec

__all__ = ["SqueezeLast", "batch_indices", "build_single_model", "init_params", "make_optimizer"]

_INIT_STREAM = 0
_ORDER_STREAM = 1
SGD_MOMENTUM = 0.9


def init_params(sizes: list[int], seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Weights ``W`` (in, out) and biases ``b`` (out,) of each layer, float32.

    Drawn like :class:`torch.nn.Linear`'s default: :math:`U(-1/\\sqrt{\\text{fan\\_in}}, 1/\\sqrt{\\text{fan\\_in}})`.
    """
    rng = np.random.default_rng([seed, _INIT_STREAM])
    params = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        bound = 1.0 / math.sqrt(fan_in)
        w = rng.uniform(-bound, bound, size=(fan_in, fan_out))
        b = rng.uniform(-bound, bound, size=fan_out)
        params.append((torch.tensor(w, dtype=torch.float32), torch.tensor(b, dtype=torch.float32)))
    return params


def batch_indices(n: int, batch_size: int, seed: int, epoch: int) -> list[torch.Tensor]:
    """The minibatches of training-row indices for ``epoch`` (1-based) of a run with ``seed``.

    A fresh permutation per epoch; the last batch may be smaller.
    """
    order = np.random.default_rng([seed, _ORDER_STREAM, epoch]).permutation(n)
    t = torch.from_numpy(order).long()
    return list(torch.split(t, batch_size))


class SqueezeLast(nn.Module):
    """(N, 1) -> (N,): losskit refuses to broadcast a (N, 1) prediction against (N,) targets."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.squeeze(-1)


def build_single_model(sizes: list[int], seed: int) -> nn.Sequential:
    """A plain ``nn.Sequential`` MLP (Linear, ReLU, ..., Linear) with :func:`init_params` weights."""
    layers: list[nn.Module] = []
    params = init_params(sizes, seed)
    for i, (w, b) in enumerate(params):
        linear = nn.Linear(w.shape[0], w.shape[1])
        with torch.no_grad():
            linear.weight.copy_(w.T)
            linear.bias.copy_(b)
        layers.append(linear)
        if i < len(params) - 1:
            layers.append(nn.ReLU())
    if sizes[-1] == 1:
        layers.append(SqueezeLast())
    return nn.Sequential(*layers)


def make_optimizer(params: list[torch.Tensor], train: TrainSpec) -> torch.optim.Optimizer:
    """Adam, or SGD with momentum 0.9; both act elementwise, so stacked runs stay independent."""
    if train.optimizer == "adam":
        return torch.optim.Adam(params, lr=train.lr)
    if train.optimizer == "sgd":
        return torch.optim.SGD(params, lr=train.lr, momentum=SGD_MOMENTUM)
    raise ValueError(f"unknown optimizer {train.optimizer!r}")
