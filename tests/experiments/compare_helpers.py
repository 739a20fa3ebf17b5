"""Small, fast compare configurations shared by the experiments and CLI tests."""

from __future__ import annotations

from losskit.experiments.config import CompareConfig, DataSource, ModelSpec, TrainSpec, parse_loss_specs


def make_config(
    dataset: str = "diabetes",
    losses: str = "mse,mae,huber,log_cosh",
    levels: tuple[float, ...] = (0.0, 0.2),
    *,
    kind: str | None = None,
    seeds: int = 2,
    epochs: int = 3,
    hidden: tuple[int, ...] = (8,),
    optimizer: str = "adam",
    lr: float = 3e-3,
    batch_size: int = 64,
) -> CompareConfig:
    """A tiny compare grid (a few epochs, a small MLP)."""
    if kind is None:
        kind = "gross" if dataset == "diabetes" else "symmetric"
    return CompareConfig(
        DataSource(dataset=dataset), parse_loss_specs(losses), levels, kind, seeds,
        ModelSpec("mlp", hidden), TrainSpec(optimizer, lr, batch_size, epochs),
    )
