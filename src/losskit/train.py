"""The article's training loop, and per-sample evaluation.

:func:`fit` is exactly the loop of the article::

    for input, target in loader:
        optimizer.zero_grad()
        predicted = model(input)
        loss = loss_fn(predicted, target)   # reduction="mean" for training
        loss.backward()
        optimizer.step()

:func:`evaluate` returns one loss per sample (``reduction="per_sample"``), the
article's :math:`L \\in \\mathbb{R}^b`, for finding the worst-fit samples.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch import nn

from .nn import FunctionalLoss

__all__ = ["evaluate", "fit", "per_sample_losses", "train_step"]

Batch = tuple[torch.Tensor, torch.Tensor]


def _device(model: nn.Module) -> torch.device | None:
    for p in model.parameters():
        return p.device
    return None


def _to(batch: Any, device: torch.device | None) -> Batch:
    input, target = batch[0], batch[1]
    if device is not None:
        input, target = input.to(device), target.to(device)
    return input, target


def train_step(
    model: Callable[[torch.Tensor], torch.Tensor],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    input: torch.Tensor,
    target: torch.Tensor,
    optimizer: torch.optim.Optimizer,
) -> torch.Tensor:
    """One step of the article's loop: zero_grad, forward, loss, backward, step; returns the detached loss.

    The loss is a scalar, or a vector of independent losses (one per model stacked along a leading axis, as
    in the compare job's batched trainer): the backward pass runs on its sum, which gives each stacked model
    exactly the gradient of its own loss. :func:`fit` and the batched trainer both step through here.
    """
    optimizer.zero_grad()
    loss = loss_fn(model(input), target)
    loss.sum().backward()
    optimizer.step()
    return loss.detach()


def fit(
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    loader: Iterable[Any],
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int = 1,
    on_epoch: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Train ``model`` for ``epochs`` passes over ``loader``; return each epoch's mean training loss.

    The epoch's loss is the batch losses averaged with the batch sizes as
    weights. ``on_epoch(epoch, loss)`` is called after each epoch (1-based).
    Batches are moved to the model's device.
    """
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    device = _device(model)
    history: list[float] = []
    for epoch in range(1, epochs + 1):
        model.train()
        total = 0.0
        count = 0
        for batch in loader:
            input, target = _to(batch, device)
            loss = train_step(model, loss_fn, input, target, optimizer)
            total += float(loss) * len(input)
            count += len(input)
        history.append(total / count if count else 0.0)
        if on_epoch is not None:
            on_epoch(epoch, history[-1])
    return history


@contextlib.contextmanager
def _reduction_none(module: nn.Module) -> Iterator[None]:
    loss: Any = module  # a loss module with a ``reduction`` attribute (torch's or losskit's)
    previous = loss.reduction
    loss.reduction = "none"
    try:
        yield
    finally:
        loss.reduction = previous


def per_sample_losses(
    loss_fn: Callable[..., torch.Tensor], predicted: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """One loss per sample, shape (N,), from a losskit loss or a torch.nn loss module.

    losskit losses are called with ``reduction="per_sample"``; torch.nn loss
    modules with ``reduction="none"``, then averaged over non-batch dims.
    """
    if isinstance(loss_fn, FunctionalLoss):
        return loss_fn(predicted, target, reduction="per_sample")
    if isinstance(loss_fn, nn.Module) and hasattr(loss_fn, "reduction"):
        with _reduction_none(loss_fn):
            values = loss_fn(predicted, target)
        # flatten(1), not reshape(N, -1), which is ambiguous for an empty batch
        return values.flatten(1).mean(1) if values.dim() > 1 else values.reshape(-1)
    return loss_fn(predicted, target, reduction="per_sample")


def evaluate(
    model: nn.Module,
    loss_fn: Callable[..., torch.Tensor],
    loader: Iterable[Any],
) -> torch.Tensor:
    """Per-sample losses of ``model`` over ``loader``, concatenated in loader order, shape (N,).

    Runs in eval mode without gradients; restores the model's mode after.
    """
    was_training = model.training
    model.eval()
    device = _device(model)
    out: list[torch.Tensor] = []
    try:
        with torch.no_grad():
            for batch in loader:
                input, target = _to(batch, device)
                out.append(per_sample_losses(loss_fn, model(input), target).detach().cpu())
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.empty(0)
