"""Per-run scalars from the learning curves, and 95% intervals over seeds.

Every interval is a Student-t interval over seeds: for one configuration,
:math:`\\bar x \\pm t_{0.975,\\,S-1}\\, s/\\sqrt S`; for a comparison of two
configurations, the same over the *paired* per-seed differences (runs of one
seed share initial weights, batches and corrupted samples, so the pairing
removes most seed-to-seed noise).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from .metrics import METRICS, PRIMARY, higher_is_better

__all__ = [
    "Curve",
    "Interval",
    "curves_from_rows",
    "early_epoch",
    "epochs_to_fraction",
    "interval",
    "paired",
    "scalars",
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


def curves_from_rows(rows: Iterable[dict[str, object]], task: str) -> dict[tuple[str, float, int], Curve]:
    """Group results.csv rows (dicts) into curves keyed by (loss, corruption, seed), sorted by epoch."""
    out: dict[tuple[str, float, int], Curve] = {}
    for row in sorted(rows, key=lambda r: int(str(r["epoch"]))):
        key = (str(row["loss"]), float(str(row["corruption"])), int(str(row["seed"])))
        curve = out.setdefault(key, Curve(*key))
        curve.epochs.append(int(row["epoch"]))  # type: ignore[call-overload]
        curve.train_loss.append(float(row["train_loss"]))  # type: ignore[arg-type]
        for m in METRICS[task]:
            curve.metrics.setdefault(m, []).append(float(row[m]))  # type: ignore[arg-type]
    return out


def early_epoch(epochs: int) -> int:
    """The epoch at which the "early" metric is read: a tenth of the training, at least 1."""
    return max(1, math.ceil(epochs / 10))


def epochs_to_fraction(values: Sequence[float], higher: bool, fraction: float = 0.9) -> float:
    """Epochs until the metric has made ``fraction`` of its final improvement over epoch 0.

    Linearly interpolated between the last epoch below the threshold and the
    first at or above it, so runs that learn within a few epochs still compare.
    NaN when the final value is no improvement (or the run diverged).
    """
    v = np.asarray(values, dtype=np.float64)
    sign = 1.0 if higher else -1.0
    gain = sign * (v - v[0])
    total = gain[-1]
    if not np.isfinite(total) or total <= 0:
        return math.nan
    target = fraction * total
    k = int(np.argmax(gain >= target))
    if k == 0:
        return 0.0
    before, after = gain[k - 1], gain[k]
    return float(k - 1 + (target - before) / (after - before))


def scalars(curve: Curve, task: str, epochs: int) -> dict[str, float]:
    """The per-run numbers the summary and the claims use."""
    out: dict[str, float] = {}
    for m in METRICS[task]:
        v = np.asarray(curve.metrics[m], dtype=np.float64)
        out[f"final_{m}"] = float(v[-1])
        finite = v[np.isfinite(v)]
        best = (finite.max() if higher_is_better(m) else finite.min()) if finite.size else math.nan
        out[f"best_{m}"] = float(best)
    primary = PRIMARY[task]
    p = curve.metrics[primary]
    out["epochs_to_90"] = epochs_to_fraction(p, higher_is_better(primary))
    early = early_epoch(epochs)
    out[f"early_{primary}"] = float(p[curve.epochs.index(early)]) if early in curve.epochs else math.nan
    out["final_train_loss"] = float(curve.train_loss[-1])
    return out


@dataclass(frozen=True)
class Interval:
    """A mean over seeds and its 95% t-interval (NaN bounds with fewer than 2 finite values)."""

    mean: float
    lo: float
    hi: float
    n: int

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
    half = float(stats.t.ppf(0.975, n - 1) * v.std(ddof=1) / math.sqrt(n))
    return Interval(mean, mean - half, mean + half, n)


def paired(a: dict[int, float], b: dict[int, float]) -> Interval:
    """Interval of the per-seed difference a - b over the seeds both have."""
    seeds = sorted(set(a) & set(b))
    return interval(a[s] - b[s] for s in seeds)
