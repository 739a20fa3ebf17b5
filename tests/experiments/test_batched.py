"""The batched trainer: equal to single runs of the plain loop, paired initialisation, per-run independence."""

from __future__ import annotations

import math

import pytest
import torch
from compare_helpers import make_config

from losskit.experiments.batched import BatchedTrainer, Run, precision_at_k
from losskit.experiments.config import LossSpec, parse_loss_spec
from losskit.experiments.model import batch_indices, init_params
from losskit.experiments.runner import plan
from losskit.experiments.single import train_single
from losskit.experiments.targets import class_targets
from losskit.registry import available_losses


def _train_both(config):
    job = plan(config)
    seeds = list(range(config.seeds))
    runs = job.runs(seeds)
    targets = [job.corrupted(r.level, r.seed)[0].y for r in runs]
    trainer = BatchedTrainer([job.split(s) for s in seeds], runs, targets, config.model, config.train)
    history = [trainer.train_epoch() for _ in range(config.train.epochs)]
    final = trainer.test_metrics()
    singles = [train_single(job.split(r.seed), r, t, config.model, config.train)
               for r, t in zip(runs, targets, strict=True)]
    return trainer, runs, history, final, singles


@pytest.mark.parametrize(
    ("dataset", "losses", "optimizer"),
    [
        ("diabetes", "mse,mae,huber:delta=0.5,log_cosh", "adam"),
        ("diabetes", "mse,huber", "sgd"),
        ("wine", "cross_entropy,kl_div,softmax_mae", "adam"),
    ],
)
def test_batched_grid_equals_single_runs(dataset: str, losses: str, optimizer: str) -> None:
    config = make_config(dataset, losses, (0.0, 0.2), seeds=2, epochs=3, optimizer=optimizer,
                         lr=3e-3 if optimizer == "adam" else 0.02, batch_size=32,
                         hidden=(8, 6) if optimizer == "sgd" else (8,))
    trainer, runs, history, final, singles = _train_both(config)
    for r, single in enumerate(singles):
        for name, values in final.items():
            assert single.metrics[-1][name] == pytest.approx(float(values[r]), rel=1e-4, abs=1e-5), (runs[r], name)
        for e in range(config.train.epochs):
            assert single.train_loss[e + 1] == pytest.approx(float(history[e][r]), rel=1e-4, abs=1e-6)
        batched = trainer.run_params(r)
        for mine, theirs in zip(batched, single.model.parameters(), strict=True):
            torch.testing.assert_close(mine, theirs.detach(), rtol=1e-4, atol=1e-5)


def test_paired_initialisation_depends_on_the_seed_only() -> None:
    config = make_config("diabetes", "mse,mae", (0.0, 0.2), seeds=3, epochs=1)
    job = plan(config)
    runs = job.runs([0, 1, 2])
    trainer = BatchedTrainer([job.split(s) for s in (0, 1, 2)], runs,
                             [job.corrupted(r.level, r.seed)[0].y for r in runs], config.model, config.train)
    start = [trainer.run_params(r) for r in range(len(runs))]
    for r, run in enumerate(runs):
        for q, other in enumerate(runs):
            same = all(torch.equal(a, b) for a, b in zip(start[r], start[q], strict=True))
            assert same == (run.seed == other.seed)
    # and the initial weights are the seed's own draw
    sizes = config.model.layer_sizes(job.split(1).x_train.shape[1], 1)
    w0, b0 = init_params(sizes, 1)[0]
    r1 = next(r for r, run in enumerate(runs) if run.seed == 1)
    assert torch.equal(start[r1][0], w0.T) and torch.equal(start[r1][1], b0)


def test_batch_order_depends_on_seed_and_epoch_only() -> None:
    a = batch_indices(100, 32, seed=4, epoch=2)
    assert [len(b) for b in a] == [32, 32, 32, 4]
    assert torch.equal(torch.cat(a).sort().values, torch.arange(100))
    assert all(torch.equal(x, y) for x, y in zip(a, batch_indices(100, 32, seed=4, epoch=2), strict=True))
    assert not torch.equal(torch.cat(a), torch.cat(batch_indices(100, 32, seed=4, epoch=3)))
    assert not torch.equal(torch.cat(a), torch.cat(batch_indices(100, 32, seed=5, epoch=2)))


def test_runs_are_independent_of_their_neighbours() -> None:
    """A run's trajectory does not depend on which other runs share the batched model."""
    config = make_config("diabetes", "mse,mae", (0.0, 0.2), seeds=2, epochs=2)
    job = plan(config)
    runs = job.runs([0, 1])
    targets = [job.corrupted(r.level, r.seed)[0].y for r in runs]
    splits = [job.split(0), job.split(1)]
    full = BatchedTrainer(splits, runs, targets, config.model, config.train)
    alone = BatchedTrainer(splits, runs[:1], targets[:1], config.model, config.train)
    for _ in range(2):
        full.train_epoch()
        alone.train_epoch()
    for a, b in zip(full.run_params(0), alone.run_params(0), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def _specs(task: str) -> list[LossSpec]:
    return [parse_loss_spec(name) for name in available_losses(task)]


@pytest.mark.parametrize("spec", _specs("regression") + _specs("classification"), ids=lambda s: s.label)
def test_every_registered_loss_is_per_sample(spec: LossSpec) -> None:
    """One flattened call over several runs equals one call per run: no loss mixes samples of a batch."""
    g, b, c = 3, 5, 4
    gen = torch.Generator().manual_seed(0)
    if spec.task == "classification":
        pred = torch.randn(g, b, c, generator=gen)
        labels = torch.randint(0, c, (g, b), generator=gen)
        target = class_targets(spec, labels, c)
        flat = spec.build()(pred.reshape(g * b, c), target.reshape(g * b, *target.shape[2:]), reduction="per_sample")
    else:
        pred = torch.randn(g, b, generator=gen) * 3
        target = torch.randn(g, b, generator=gen)
        flat = spec.build()(pred.reshape(-1), target.reshape(-1), reduction="per_sample")
    each = torch.stack([spec.build()(pred[i], target[i], reduction="per_sample") for i in range(g)])
    torch.testing.assert_close(flat.reshape(g, b), each)
    # and the mean of per-sample values is the loss's own mean (what a single run trains on)
    torch.testing.assert_close(each[0].mean(), spec.build()(pred[0], target[0]))


def test_precision_at_k() -> None:
    losses = torch.tensor([0.1, 5.0, 0.2, 4.0, 3.0, 0.3])
    assert precision_at_k(losses, torch.tensor([1, 3, 4])) == 1.0
    assert precision_at_k(losses, torch.tensor([0, 1, 2])) == pytest.approx(1 / 3)
    assert math.isnan(precision_at_k(losses, torch.tensor([], dtype=torch.long)))


def test_runs_of_one_loss_must_be_contiguous() -> None:
    config = make_config("diabetes", "mse,mae", (0.0,), seeds=1, epochs=1)
    job = plan(config)
    mse, mae = config.losses
    runs = [Run(mse, 0.0, 0), Run(mae, 0.0, 0), Run(mse, 0.0, 1)]
    with pytest.raises(ValueError, match="contiguous"):
        BatchedTrainer([job.split(0), job.split(1)], runs, [job.split(0).y_train] * 3, config.model, config.train)
