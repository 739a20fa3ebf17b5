"""PNG figures: learning curves, final metric against corruption, and the losses with their derivatives.

Figures are drawn with matplotlib's non-interactive Agg backend and saved
atomically (a temporary file moved into place). They are NaN-safe: a value
that is not finite (an overflowing loss, an undefined interval) is left out
of its curve and of the axis limits, and a panel with no finite value at all
says so, instead of failing with matplotlib's "Axis limits cannot be NaN or Inf".
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..registry import loss_info
from .analysis import Curve, interval
from .config import LossSpec
from .smoothness import PLOT_CLASSES, continuity, curves, of_residual
from .store import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["clipped_view", "finite_or_nan", "label_logit_gradient", "learning_curves", "loss_curves", "loss_overlay",
           "metric_vs_corruption"]

_STYLES = ("-", "--", "-.", ":")
_LABELS = {
    "test_rmse": "test RMSE",
    "test_mae": "test MAE",
    "test_accuracy": "test accuracy",
    "test_macro_f1": "test macro F1",
}


def finite_or_nan(values: object) -> np.ndarray:
    """A float64 copy of ``values`` with every inf replaced by NaN, which matplotlib leaves out of lines and limits."""
    out = np.array(values, dtype=np.float64)
    out[~np.isfinite(out)] = np.nan
    return out


def _no_finite_values(ax: object) -> None:
    ax.text(0.5, 0.5, "no finite values", transform=ax.transAxes, ha="center", va="center",  # type: ignore[attr-defined]
            color="red", fontsize=9)


def _figure(rows: int, cols: int, width: float, height: float) -> tuple[Figure, np.ndarray]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    return fig, axes


# no tool version or date in the file, so the same figure gives the same bytes; each writer has its own keys
_NO_STAMP = {
    "png": {"Software": None},
    "svg": {"Creator": None, "Date": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
}


def _save(fig: Figure, path: Path) -> Path:
    buf = io.BytesIO()
    fmt = path.suffix.lstrip(".").lower() or "png"
    import matplotlib

    with matplotlib.rc_context({"svg.hashsalt": "losskit"}):  # fixed SVG element ids
        fig.savefig(buf, format=fmt, dpi=110, metadata=_NO_STAMP.get(fmt))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, buf.getvalue())
    return path


def _band(curve_set: list[Curve], metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    epochs = np.asarray(curve_set[0].epochs)
    values = np.asarray([c.metrics[metric] for c in curve_set], dtype=np.float64)
    with np.errstate(all="ignore"):
        cis = [interval(values[:, j]) for j in range(values.shape[1])]
    mean = finite_or_nan([c.mean for c in cis])
    lo = finite_or_nan([c.lo if math.isfinite(c.lo) else c.mean for c in cis])
    hi = finite_or_nan([c.hi if math.isfinite(c.hi) else c.mean for c in cis])
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
        y = finite_or_nan([float(r[f"final_{metric}"]) for r in rows])
        lo = finite_or_nan([float(r[f"final_{metric}_lo"]) for r in rows])
        hi = finite_or_nan([float(r[f"final_{metric}_hi"]) for r in rows])
        err = np.nan_to_num(np.vstack([y - lo, hi - y]), nan=0.0, posinf=0.0, neginf=0.0)
        bar = ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=f"{label} (final)",
                          ls=_STYLES[losses.index(label) % len(_STYLES)])
        best = finite_or_nan([float(r[f"best_{metric}"]) for r in rows])
        ax.plot(x, best, ls=":", color=bar.lines[0].get_color(), lw=1.2)
    ax.set_xlabel("corruption level")
    ax.set_ylabel(f"{_LABELS.get(metric, metric)} (dotted: best epoch)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    return _save(fig, path)


def _residual_half_width(specs: Sequence[LossSpec], floor: float) -> float:
    """Half the residual range to draw: ``floor``, or 1.5 x the largest numeric option (a scale such as delta).

    Defaults count too, so Tukey's c = 4.685 shows where it starts rejecting residuals.
    """
    options = [{**loss_info(spec.name).hyperparameters, **dict(spec.options)} for spec in specs]
    numbers = [abs(float(v)) for opts in options for v in opts.values()
               if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    return max([floor] + [1.5 * v for v in numbers])


def loss_curves(specs: Sequence[LossSpec], path: Path) -> Path:
    """Each loss with its first and second derivative (autograd), one row per loss.

    Regression losses against the residual, classification losses against the
    predicted probability of the true class. For regression losses, a detected
    jump in a derivative is drawn as a break with a red marker.
    """
    fig, axes = _figure(len(specs), 3, 3.4, 2.3)
    for row, spec in zip(axes, specs, strict=True):
        regression = of_residual(spec)
        if regression:
            hi = _residual_half_width([spec], 3.0)
            lo = -hi
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
            xs, ys = x.numpy().copy(), finite_or_nan(y.numpy())
            ax.set_title(f"{spec.label}: {names[order]}", fontsize=9)
            if not np.isfinite(ys).any():
                _no_finite_values(ax)
                continue
            with np.errstate(over="ignore"):
                spread = float(np.nanmax(ys) - np.nanmin(ys))
            if not math.isfinite(spread):  # finite values whose difference overflows: draw them as they are
                spread = math.inf
            elif spread <= 1e-9 * max(1.0, float(np.nanmax(np.abs(ys)))):
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
            ax.grid(alpha=0.3)
            ax.set_xlabel(xlabel, fontsize=8)
            if not regression and order > 0 and spread > 1e-9:
                ax.set_yscale("symlog", linthresh=1.0)
    return _save(fig, path)


# ------------------------------------------------------------------ all losses on shared axes

CLIP_FACTOR = 2.0
_OVERLAY_TITLES = {
    "regression": ("loss ℓ(r)", "influence ℓ′(r) = dℓ/dr"),
    "classification": ("loss ℓ against p_y", "gradient on the label's logit ∂ℓ/∂z_y"),
    "probabilistic_regression": ("NLL at unit spread ℓ(r)", "influence ℓ′(r) = dℓ/dr"),
}
_OVERLAY_XLABELS = {
    "regression": "residual r = ŷ − y",
    "classification": f"p_y, probability of the label ({PLOT_CLASSES} classes, the rest shared evenly)",
    "probabilistic_regression": "residual r = ŷ − y (variance or scale 1)",
}


def label_logit_gradient(d_dp: torch.Tensor, p_y: torch.Tensor) -> torch.Tensor:
    """The gradient on the label's logit z_y (the other logits fixed) from dℓ/dp_y, by the chain rule.

    With the other logits fixed, moving z_y keeps the other classes' probabilities
    equal to one another (as :func:`~losskit.experiments.smoothness.curves` assumes), and
    :math:`\\partial p_y/\\partial z_y = p_y(1 - p_y)`, so
    :math:`\\partial\\ell/\\partial z_y = p_y(1 - p_y)\\,d\\ell/dp_y`.
    """
    return d_dp * p_y * (1.0 - p_y)


def _edge(extremes: np.ndarray, factor: float) -> float:
    """The top of the view over curves whose highest values are ``extremes``: at most ``factor`` x their median."""
    typical = float(np.median(extremes))
    overall = float(extremes.max())
    return min(overall, factor * typical) if typical > 0 else overall


def clipped_view(ys: Sequence[np.ndarray], factor: float = CLIP_FACTOR) -> tuple[float, float, list[int]]:
    """A y-range for several curves on one axes, and the indices of the curves that leave it.

    Each side of the view reaches the farthest curve, but no farther than ``factor``
    times the median (over the curves) of each curve's extreme on that side, so one
    fast-growing loss (MSE's r²) does not flatten the rest. A 5% margin is added.
    """
    finite = [y[np.isfinite(y)] for y in ys]
    if not any(len(y) for y in finite):
        return -1.0, 1.0, []
    tops = np.array([y.max() if len(y) else -np.inf for y in finite])
    bottoms = np.array([y.min() if len(y) else np.inf for y in finite])
    drawn = np.isfinite(tops)
    top, bottom = _edge(tops[drawn], factor), -_edge(-bottoms[drawn], factor)
    slack = 1e-9 * max(1.0, abs(top), abs(bottom))
    clipped = [k for k in range(len(ys)) if tops[k] > top + slack or bottoms[k] < bottom - slack]
    with np.errstate(over="ignore"):
        width = top - bottom
    pad = 0.05 * width if slack < width < math.inf else max(1.0, slack)
    lo, hi = bottom - pad, top + pad
    if not (math.isfinite(lo) and math.isfinite(hi)):  # curves spanning nearly the whole float64 range
        lo, hi = bottom, top
    return lo, hi, clipped


def loss_overlay(specs: Sequence[LossSpec], path: Path) -> Path:
    """Every loss on shared axes: one row per task present, columns ℓ and its derivative (autograd, float64).

    Regression losses against the residual r, with their influence dℓ/dr;
    classification losses against the probability p_y of the label, with the
    gradient on the label's logit (:func:`label_logit_gradient`). Each y-view is
    clipped by :func:`clipped_view`; a panel whose view cuts curves names them.
    """
    tasks = [t for t in _OVERLAY_TITLES if any(s.task == t for s in specs)]
    fig, axes = _figure(len(tasks), 2, 5.0, 3.7)
    any_clipped = False
    for row, task in zip(axes, tasks, strict=True):
        group = [s for s in specs if s.task == task]
        if task != "classification":
            half = _residual_half_width(group, 6.0)
            x = torch.linspace(-half, half, 1201, dtype=torch.float64)
        else:
            x = torch.linspace(2e-3, 1.0 - 2e-3, 999, dtype=torch.float64)
        columns: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
        for spec in group:
            value, d1, _ = curves(spec, x)
            if task == "classification":
                d1 = label_logit_gradient(d1, x)
            columns[0].append(finite_or_nan(value.numpy()))
            columns[1].append(finite_or_nan(d1.numpy()))
        for ax, ys, title in zip(row, columns, _OVERLAY_TITLES[task], strict=True):
            lo, hi, clipped = clipped_view(ys)
            for k, (spec, y) in enumerate(zip(group, ys, strict=True)):
                ax.plot(x.numpy(), y, lw=1.5, ls=_STYLES[k % len(_STYLES)], label=spec.label)
            ax.set_ylim(lo, hi)
            ax.axhline(0.0, color="black", lw=0.6)
            if clipped:
                any_clipped = True
                names = ", ".join(group[k].label for k in clipped)
                title += f"\n(view clipped; {names} leave{'s' if len(clipped) == 1 else ''} it)"
            ax.set_title(title, fontsize=10)
            ax.set_xlabel(_OVERLAY_XLABELS[task], fontsize=9)
            ax.grid(alpha=0.3)
        row[0].legend(fontsize=8, ncols=2)
    suptitle = "Losses on shared axes (derivatives by autograd, float64)"
    if any_clipped:
        suptitle += f"\ny-views clipped at {CLIP_FACTOR:g}× the median of the curves' extremes"
    fig.suptitle(suptitle, fontsize=11)
    return _save(fig, path)
