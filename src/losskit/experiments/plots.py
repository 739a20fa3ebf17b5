"""PNG figures: learning curves, final metric against corruption, and each loss with its derivatives.

Figures are drawn with matplotlib's non-interactive Agg backend and saved
atomically (a temporary file moved into place).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from .analysis import Curve, interval
from .config import LossSpec
from .smoothness import continuity, curves
from .store import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["learning_curves", "loss_curves", "metric_vs_corruption"]

_STYLES = ("-", "--", "-.", ":")
_LABELS = {
    "test_rmse": "test RMSE",
    "test_mae": "test MAE",
    "test_accuracy": "test accuracy",
    "test_macro_f1": "test macro F1",
}


def _figure(rows: int, cols: int, width: float, height: float) -> tuple[Figure, np.ndarray]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    return fig, axes


def _save(fig: Figure, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip(".") or "png", dpi=110, metadata={"Software": None})
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, buf.getvalue())
    return path


def _band(curve_set: list[Curve], metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    epochs = np.asarray(curve_set[0].epochs)
    values = np.asarray([c.metrics[metric] for c in curve_set], dtype=np.float64)
    cis = [interval(values[:, j]) for j in range(values.shape[1])]
    mean = np.array([c.mean for c in cis])
    lo = np.array([c.lo if math.isfinite(c.lo) else c.mean for c in cis])
    hi = np.array([c.hi if math.isfinite(c.hi) else c.mean for c in cis])
    return epochs, mean, lo, hi


def learning_curves(
    by_run: dict[tuple[str, float, int], Curve], losses: Sequence[str], levels: Sequence[float], metric: str,
    path: Path, title: str,
) -> Path:
    """One panel per corruption level: the test metric per epoch for each loss (mean and 95% band over seeds)."""
    fig, axes = _figure(1, len(levels), 4.2, 3.4)
    for ax, level in zip(axes[0], levels, strict=True):
        for k, label in enumerate(losses):
            runs = [c for (lab, lev, _), c in sorted(by_run.items()) if lab == label and lev == level]
            if not runs:
                continue
            epochs, mean, lo, hi = _band(runs, metric)
            # cycling line styles keeps identical curves (KL and cross-entropy) both visible
            (line,) = ax.plot(epochs, mean, label=label, lw=1.6, ls=_STYLES[k % len(_STYLES)])
            ax.fill_between(epochs, lo, hi, color=line.get_color(), alpha=0.18, lw=0)
        ax.set_title(f"corruption {level:g}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(_LABELS.get(metric, metric))
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title)
    return _save(fig, path)


def metric_vs_corruption(
    summary: list[dict[str, float | str]], losses: Sequence[str], metric: str, path: Path, title: str,
) -> Path:
    """Final (solid) and best (dotted) test metric against the corruption level, with 95% intervals."""
    fig, axes = _figure(1, 1, 5.6, 3.8)
    ax = axes[0][0]
    for label in losses:
        rows = sorted((r for r in summary if r["loss"] == label), key=lambda r: float(r["corruption"]))
        x = np.array([float(r["corruption"]) for r in rows])
        y = np.array([float(r[f"final_{metric}"]) for r in rows])
        lo = np.array([float(r[f"final_{metric}_lo"]) for r in rows])
        hi = np.array([float(r[f"final_{metric}_hi"]) for r in rows])
        err = np.nan_to_num(np.vstack([y - lo, hi - y]))
        bar = ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=f"{label} (final)",
                          ls=_STYLES[losses.index(label) % len(_STYLES)])
        best = [float(r[f"best_{metric}"]) for r in rows]
        ax.plot(x, best, ls=":", color=bar.lines[0].get_color(), lw=1.2)
    ax.set_xlabel("corruption level")
    ax.set_ylabel(f"{_LABELS.get(metric, metric)} (dotted: best epoch)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    return _save(fig, path)


def loss_curves(specs: Sequence[LossSpec], path: Path) -> Path:
    """Each loss with its first and second derivative (autograd), one row per loss.

    Regression losses against the residual, classification losses against the
    predicted probability of the true class. For regression losses, a detected
    jump in a derivative is drawn as a break with a red marker.
    """
    fig, axes = _figure(len(specs), 3, 3.4, 2.3)
    for row, spec in zip(axes, specs, strict=True):
        regression = spec.task == "regression"
        if regression:
            lo, hi = -3.0, 3.0
            hyper = [abs(float(v)) for _, v in spec.options if isinstance(v, (int, float)) and not isinstance(v, bool)]
            lo, hi = -max([3.0] + [1.5 * v for v in hyper]), max([3.0] + [1.5 * v for v in hyper])
            x = torch.linspace(lo, hi, 1201, dtype=torch.float64)
            xlabel = "residual r = ŷ − y"
        else:
            x = torch.linspace(0.01, 0.99, 981, dtype=torch.float64)
            xlabel = "p_y (probability of the true class)"
        values = curves(spec, x)
        jumps = {}
        if regression:
            for order in (1, 2):
                c = continuity(spec, order, lo, hi)
                if not c.continuous:
                    jumps[order] = c
        names = ("ℓ", "ℓ′", "ℓ″")
        kinks: list[float] = []  # where ℓ′ jumps: ℓ″ is undefined there
        for order, (ax, y) in enumerate(zip(row, values, strict=True)):
            xs, ys = x.numpy().copy(), y.numpy().copy()
            spread = float(np.nanmax(ys) - np.nanmin(ys))
            if spread <= 1e-9 * max(1.0, float(np.nanmax(np.abs(ys)))):
                # constant up to rounding (e.g. MAE on probabilities has ℓ′ = −2): do not zoom into float noise
                centre = float(np.round(np.nanmean(ys), 9))
                ys[:] = centre
                ax.set_ylim(centre - 1.0, centre + 1.0)
            marks: list[float] = []
            if order in jumps:
                # break the line wherever the derivative jumps, so a kink is not drawn as a steep line
                step = np.abs(np.diff(ys)) > 0.25 * jumps[order].jump
                ys[1:][step] = np.nan
                marks = [float(xs[k + 1]) for k in np.nonzero(step)[0]]
                ax.text(0.02, 0.95, f"jump {jumps[order].jump:.2g}", transform=ax.transAxes, va="top",
                        color="red", fontsize=8)
            if order == 1:
                kinks = marks
            elif order == 2 and kinks:
                marks = kinks
                ax.text(0.02, 0.95, "undefined where ℓ′ jumps", transform=ax.transAxes, va="top", color="red",
                        fontsize=8)
            ax.plot(xs, ys, lw=1.6)
            for m in marks:
                ax.axvline(m, color="red", ls=":", lw=1)
            ax.set_title(f"{spec.label}: {names[order]}", fontsize=9)
            ax.grid(alpha=0.3)
            ax.set_xlabel(xlabel, fontsize=8)
            if not regression and order > 0 and spread > 1e-9:
                ax.set_yscale("symlog", linthresh=1.0)
    return _save(fig, path)
