"""Controlled corruption of the training split: outliers for regression, label noise for classification.

``rate`` is the exact fraction of training samples corrupted: ``round(rate * n)``
samples (halves round up), chosen uniformly at random. For label noise every
chosen label is *changed* (never replaced by itself), so the realised flip rate
is exactly ``rate`` up to that rounding.

Kinds:

* ``gross`` (regression): the target is shifted *up* by
  :math:`U(5, 10)` training standard deviations (one sign, as in the design
  notes' ground-truth runs, so the outliers bias the fit instead of cancelling).
* ``heavy_tail`` (regression): the target gets
  :math:`2\\,\\mathrm{SD} \\cdot t_2` noise (Student-t, 2 degrees of freedom:
  infinite variance).
* ``symmetric`` (classification): the label becomes a uniformly random *other* class.
* ``pair`` (classification): class :math:`c` becomes :math:`(c + 1) \\bmod C`.

Randomness depends only on ``seed``, and every sample's draw is made for all
samples at once: for one seed, the samples corrupted at a lower rate are a
subset of those at a higher rate and get the same corrupted values, so runs
across rates are paired too. The test split is never touched (it is not an
argument).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["GROSS_SHIFT_SD", "HEAVY_TAIL_DF", "HEAVY_TAIL_SCALE_SD", "Corrupted", "corrupt", "num_corrupted"]

GROSS_SHIFT_SD = (5.0, 10.0)
HEAVY_TAIL_DF = 2.0
HEAVY_TAIL_SCALE_SD = 2.0
_STREAM = 2  # the seed stream of corruption (init and batch order use others)


@dataclass(frozen=True)
class Corrupted:
    """Corrupted training targets and the sorted indices of the corrupted samples."""

    y: torch.Tensor
    index: torch.Tensor


def num_corrupted(rate: float, n: int) -> int:
    """``round(rate * n)`` with halves rounded up."""
    return int(np.floor(rate * n + 0.5))


def corrupt(y: torch.Tensor, *, kind: str, rate: float, seed: int, num_classes: int = 0) -> Corrupted:
    """Corrupt a copy of the training targets ``y`` (standardised floats, or int64 class codes)."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"rate must be in [0, 1), got {rate}")
    n = y.shape[0]
    rng = np.random.default_rng([seed, _STREAM])
    order = rng.permutation(n)
    chosen = np.sort(order[: num_corrupted(rate, n)])
    values = y.numpy().copy()
    if kind == "gross":
        sd = float(values.std())
        shift = rng.uniform(*GROSS_SHIFT_SD, size=n) * sd
        values[chosen] += shift[chosen].astype(values.dtype)
    elif kind == "heavy_tail":
        sd = float(values.std())
        noise = rng.standard_t(HEAVY_TAIL_DF, size=n) * HEAVY_TAIL_SCALE_SD * sd
        values[chosen] += noise[chosen].astype(values.dtype)
    elif kind == "symmetric":
        if num_classes < 2:
            raise ValueError("symmetric label noise needs num_classes >= 2")
        offset = rng.integers(1, num_classes, size=n)
        values[chosen] = (values[chosen] + offset[chosen]) % num_classes
    elif kind == "pair":
        if num_classes < 2:
            raise ValueError("pair label noise needs num_classes >= 2")
        values[chosen] = (values[chosen] + 1) % num_classes
    else:
        raise ValueError(f"unknown corruption kind {kind!r}")
    return Corrupted(torch.from_numpy(values), torch.from_numpy(chosen).long())
