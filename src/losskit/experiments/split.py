"""Each seed's own train / validation / test split, and the trivial predictor's test metric.

A seed draws its own split (stratified for classification), so the intervals
over seeds cover which rows land in the test set as well as the initial
weights. Every loss and corruption level of one seed sees the same split, so
runs stay paired. The validation split comes from the training part; it is
corrupted like the training split (:func:`corrupt_pool`) and picks each run's
best epoch, so the test split is never used to choose anything.

Features are standardised with the seed's training statistics; regression
targets with its *clean* training mean and SD (``y_mean``, ``y_scale``),
the same for every corruption level; ``y_test`` stays in original units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from .config import UsageError
from .corruption import Corrupted, corrupt
from .datasets import Dataset

__all__ = ["Split", "check_sizes", "corrupt_pool", "make_split", "split_sizes"]

_SPLIT_STREAM = 3  # the seed stream of the split (init, batch order and corruption use 0-2)


@dataclass(frozen=True)
class Split:
    """One seed's split as float32 tensors (targets: standardised float32 or int64 codes)."""

    task: str
    seed: int
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor  # clean, training units (standardised or codes)
    x_test: torch.Tensor
    y_test: torch.Tensor  # original units float64, or int64 codes
    y_mean: float
    y_scale: float
    num_classes: int
    trivial: float  # test metric of the trivial predictor: the training mean's RMSE, or the majority's accuracy

    @property
    def n_out(self) -> int:
        return self.num_classes if self.task == "classification" else 1


def split_sizes(n: int, test_size: float, val_size: float) -> tuple[int, int, int]:
    """(train, validation, test) row counts: test = ceil(test_size n), validation = ceil(val_size of the rest)."""
    n_test = math.ceil(test_size * n)
    n_val = math.ceil(val_size * (n - n_test))
    return n - n_test - n_val, n_val, n_test


def check_sizes(data: Dataset, test_size: float, val_size: float) -> tuple[int, int, int]:
    """The split sizes, refused (:class:`UsageError`) when a part is too small to train or judge on."""
    sizes = split_sizes(len(data.y), test_size, val_size)
    need = max(data.num_classes, 2)
    if min(sizes) < need:
        n_train, n_val, n_test = sizes
        raise UsageError(
            f"--test-size {test_size} and --val-size {val_size} leave {n_train} training, {n_val} validation "
            f"and {n_test} test rows of {len(data.y)}; each needs at least {need}: lower them or use more data."
        )
    return sizes


def _split(index: np.ndarray, size: int, labels: np.ndarray | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rest, part) with ``size`` rows in ``part``; stratified when every class can be (else plain)."""
    stratify = labels
    if labels is not None:
        counts = np.bincount(labels)
        counts = counts[counts > 0]
        if counts.min() < 2 or size < len(counts) or len(index) - size < len(counts):
            stratify = None
    rest, part = train_test_split(index, test_size=size, random_state=seed, stratify=stratify)
    return np.sort(rest), np.sort(part)


def make_split(data: Dataset, seed: int, test_size: float, val_size: float) -> Split:
    """The split of ``seed``: deterministic in the seed and the data only."""
    _, n_val, n_test = check_sizes(data, test_size, val_size)
    rng_seed = int(np.random.default_rng([seed, _SPLIT_STREAM]).integers(2**31 - 1))
    classes = data.y if data.task == "classification" else None
    pool, test = _split(np.arange(len(data.y)), n_test, classes, rng_seed)
    train, val = _split(pool, n_val, None if classes is None else classes[pool], rng_seed + 1)
    x_mu, x_sd = data.x[train].mean(0), data.x[train].std(0)
    x = (data.x - x_mu) / np.where(x_sd > 0, x_sd, 1.0)
    as32 = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    if data.task == "regression":
        y_mu, y_sd = float(data.y[train].mean()), float(data.y[train].std())
        if y_sd == 0:
            raise UsageError(f"regression target {data.target_name!r} is constant on a training split.")
        y_train, y_val = as32((data.y[train] - y_mu) / y_sd), as32((data.y[val] - y_mu) / y_sd)
        y_test = torch.tensor(data.y[test], dtype=torch.float64)
        trivial = float(np.sqrt(np.mean((data.y[test] - y_mu) ** 2)))
    else:
        y_mu, y_sd = 0.0, 1.0
        y_train, y_val, y_test = (torch.tensor(data.y[i]) for i in (train, val, test))
        majority = int(np.bincount(data.y[train], minlength=data.num_classes).argmax())
        trivial = float(np.mean(data.y[test] == majority))
    return Split(data.task, seed, as32(x[train]), y_train, as32(x[val]), y_val, as32(x[test]), y_test,
                 y_mu, y_sd, data.num_classes, trivial)


def corrupt_pool(split: Split, *, kind: str, rate: float) -> tuple[Corrupted, torch.Tensor]:
    """Corrupt the training and validation targets together, as one pool of ``rate``.

    Returns the corrupted training targets (with the indices of its corrupted rows) and the corrupted
    validation targets. The pool draw depends only on the seed, so every loss of a seed sees the same
    corrupted samples, and a lower rate's samples are a subset of a higher rate's.
    """
    n = len(split.y_train)
    pool = torch.cat([split.y_train, split.y_val])
    c = corrupt(pool, kind=kind, rate=rate, seed=split.seed, num_classes=split.num_classes)
    return Corrupted(c.y[:n], c.index[c.index < n]), c.y[n:]
