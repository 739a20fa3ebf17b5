"""Per-run numbers from the learning curves, and 95% intervals over seeds.

Every interval is a Student-t interval over seeds: for one configuration,
:math:`\\bar x \\pm t_{0.975,\\,S-1}\\, s/\\sqrt S`; for a comparison of two
configurations, the same over the *paired* per-seed differences (runs of one
seed share the split, initial weights, batches and corrupted samples, so the
pairing removes most seed-to-seed noise).

Each run's **selected epoch** is the one with the best metric on its
(corrupted) validation split; the test metric there is the run's *best*
figure, reported next to the final one. The test split never picks anything.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from .metrics import METRICS, PRIMARY, VALIDATION, higher_is_better

__all__ = [
    "Curve",
    "Interval",
    "curves_from_rows",
    "early_epoch",
    "epochs_to_level",
    "interval",
    "paired",
    "scalars",
    "seeds_to_resolve",
]

RESULT_COLUMNS = ("dataset", "task", "loss", "corruption", "seed", "epoch", "train_loss")


@dataclass
class Curve:
    """One run's learning curve: values at epochs 0..E."""

    loss: str
    level: float
    seed: int
    epochs: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)

    @property
    def diverged(self) -> bool:
        """A non-finite training loss or metric at any epoch: the run blew up (or produced NaN)."""
        values = [self.train_loss, *self.metrics.values()]
        return not all(np.all(np.isfinite(np.asarray(v, dtype=np.float64))) for v in values)


def curves_from_rows(rows: Iterable[Mapping[str, str | float]], task: str) -> dict[tuple[str, float, int], Curve]:
    """Group results.csv rows (dicts) into curves keyed by (loss, corruption, seed), sorted by epoch."""
    out: dict[tuple[str, float, int], Curve] = {}
    names = (*METRICS[task], VALIDATION[task])
    for row in sorted(rows, key=lambda r: int(r["epoch"])):
        key = (str(row["loss"]), float(row["corruption"]), int(row["seed"]))
        curve = out.setdefault(key, Curve(*key))
        curve.epochs.append(int(row["epoch"]))
        curve.train_loss.append(float(row["train_loss"]))
        for m in names:
            if m in row:
                curve.metrics.setdefault(m, []).append(float(row[m]))
    return out


def early_epoch(epochs: int) -> int:
    """The epoch at which the "early" metric is read: a tenth of the training, at least 1."""
    return max(1, math.ceil(epochs / 10))


def epochs_to_level(values: Sequence[float], level: float, higher: bool) -> float:
    """Epochs until the metric first reaches ``level`` (linearly interpolated); ``inf`` if it never does.

    ``values[k]`` is the metric after epoch k (epoch 0: before training). 0 when the untrained model is
    already there.
    """
    v = np.asarray(values, dtype=np.float64)
    sign = 1.0 if higher else -1.0
    gap = sign * (v - level)  # >= 0 once reached
    reached = np.flatnonzero(gap >= 0)
    if reached.size == 0:
        return math.inf
    k = int(reached[0])
    if k == 0:
        return 0.0
    before, after = gap[k - 1], gap[k]
    return float(k - 1 + (-before) / (after - before))


def selected_epoch(curve: Curve, task: str) -> int:
    """The epoch with the best validation metric (the earliest on ties); the last epoch without one."""
    val = curve.metrics.get(VALIDATION[task])
    if val is None:
        return len(curve.epochs) - 1
    v = np.asarray(val, dtype=np.float64)
    v = np.where(np.isfinite(v), v, -np.inf if higher_is_better(VALIDATION[task]) else np.inf)
    return int(np.argmax(v) if higher_is_better(VALIDATION[task]) else np.argmin(v))


def scalars(curve: Curve, task: str, epochs: int) -> dict[str, float]:
    """The per-run numbers the summary and the claims use.

    ``final_<m>``: after the last epoch; ``best_<m>``: at the validation-selected epoch
    (``selected_epoch``); ``initial_<primary>``: before training; ``peak_<primary>``: the best test value
    over the epochs (only to describe overfitting, never to judge); ``early_<primary>``: after
    :func:`early_epoch` epochs.
    """
    out: dict[str, float] = {}
    chosen = selected_epoch(curve, task)
    for m in METRICS[task]:
        v = np.asarray(curve.metrics[m], dtype=np.float64)
        out[f"final_{m}"] = float(v[-1])
        out[f"best_{m}"] = float(v[chosen])
    out["selected_epoch"] = float(curve.epochs[chosen])
    primary = PRIMARY[task]
    p = np.asarray(curve.metrics[primary], dtype=np.float64)
    out[f"initial_{primary}"] = float(p[0])
    finite = p[np.isfinite(p)]
    out[f"peak_{primary}"] = float((finite.max() if higher_is_better(primary) else finite.min())
                                   if finite.size else math.nan)
    early = early_epoch(epochs)
    out[f"early_{primary}"] = float(p[curve.epochs.index(early)]) if early in curve.epochs else math.nan
    out["final_train_loss"] = float(curve.train_loss[-1])
    out["diverged"] = float(curve.diverged)
    return out


@dataclass(frozen=True)
class Interval:
    """A mean over seeds and its 95% t-interval (NaN bounds with fewer than 2 finite values); ``sd``: the
    values' standard deviation."""

    mean: float
    lo: float
    hi: float
    n: int
    sd: float = math.nan

    def fmt(self, digits: int = 3) -> str:
        if not math.isfinite(self.mean):
            return "n/a"
        if not math.isfinite(self.lo):
            return f"{self.mean:.{digits}g}"
        return f"{self.mean:.{digits}g} [{self.lo:.{digits}g}, {self.hi:.{digits}g}]"


def interval(values: Iterable[float]) -> Interval:
    """Mean and 95% t-interval of ``values``; any NaN makes the mean NaN (a diverged run is never hidden)."""
    v = np.asarray(list(values), dtype=np.float64)
    n = len(v)
    if n == 0 or not np.all(np.isfinite(v)):
        return Interval(math.nan, math.nan, math.nan, n)
    mean = float(v.mean())
    if n < 2:
        return Interval(mean, math.nan, math.nan, n)
    sd = float(v.std(ddof=1))
    half = float(stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n))
    return Interval(mean, mean - half, mean + half, n, sd)


def paired(a: dict[int, float], b: dict[int, float]) -> Interval:
    """Interval of the per-seed difference a - b over the seeds both have."""
    seeds = sorted(set(a) & set(b))
    return interval(a[s] - b[s] for s in seeds)


def seeds_to_resolve(d: Interval, half_width: float) -> int | None:
    """Roughly how many seeds give a 95% interval of half-width ``half_width`` at the observed spread.

    :math:`n \\approx (t_{0.975} s / h)^2`, with t from the current seeds (a slight overestimate); None
    when the spread or the needed width is unknown or zero.
    """
    if not (math.isfinite(d.sd) and d.sd > 0 and math.isfinite(half_width) and half_width > 0 and d.n >= 2):
        return None
    t = float(stats.t.ppf(0.975, d.n - 1))
    return max(d.n + 1, math.ceil((t * d.sd / half_width) ** 2))
