"""The overlay plot: its clipped y-views, the label-logit gradient against autograd on the logits, its labels."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from losskit.experiments import plots
from losskit.experiments.config import parse_loss_spec, parse_loss_specs
from losskit.experiments.smoothness import PLOT_CLASSES, curves
from losskit.experiments.targets import class_targets


def test_clipped_view_cuts_only_the_curve_that_flattens_the_rest() -> None:
    r = np.linspace(-6.0, 6.0, 121)
    mse, mae, huber, cauchy = r**2, np.abs(r), np.where(np.abs(r) <= 1, r**2 / 2, np.abs(r) - 0.5), np.log1p(r**2) / 2
    lo, hi, clipped = plots.clipped_view([mse, mae, huber, cauchy])
    # extremes 36, 6, 5.5, 1.81: the top is 2 x their median (5.75), the bottom the common minimum 0
    top = 2 * np.median([36.0, 6.0, 5.5, cauchy.max()])
    assert clipped == [0]
    assert hi == pytest.approx(top + 0.05 * top) and lo == pytest.approx(-0.05 * top)
    # without MSE nothing is cut: the view reaches the farthest curve
    lo, hi, clipped = plots.clipped_view([mae, huber, cauchy])
    assert clipped == [] and hi == pytest.approx(6.0 * 1.05) and lo == pytest.approx(-6.0 * 0.05)


def test_clipped_view_of_signed_and_constant_curves() -> None:
    r = np.linspace(-6.0, 6.0, 121)
    lo, hi, clipped = plots.clipped_view([2 * r, np.clip(r, -1, 1), np.tanh(r), r / (1 + r**2)])
    assert clipped == [0]
    edge = 2 * np.median([12.0, 1.0, np.tanh(6.0), 0.5])
    assert hi == pytest.approx(edge * 1.1) and lo == pytest.approx(-edge * 1.1)
    lo, hi, clipped = plots.clipped_view([np.full(5, 3.0)])  # one flat curve: a unit margin, not a zero range
    assert (lo, hi, clipped) == (2.0, 4.0, [])


@pytest.mark.parametrize("text", ["cross_entropy", "kl_div", "softmax_mae", "gce:q=0.5", "sce", "nce_rce",
                                  "focal:gamma=0.5", "poly1:epsilon=2"])
def test_label_logit_gradient_equals_autograd_on_the_logits(text: str) -> None:
    spec = parse_loss_spec(text)
    p = torch.linspace(0.01, 0.99, 41, dtype=torch.float64)
    _, d_dp, _ = curves(spec, p)
    # reference: logits [t, 0, ..., 0] with softmax_y = p, differentiated directly with respect to t
    t = torch.log(p * (PLOT_CLASSES - 1) / (1 - p)).requires_grad_()
    logits = torch.cat([t.unsqueeze(1), torch.zeros(len(p), PLOT_CLASSES - 1, dtype=torch.float64)], dim=1)
    target = class_targets(spec, torch.zeros(len(p), dtype=torch.long), PLOT_CLASSES)  # one-hot for kl_div
    target = target.double() if target.is_floating_point() else target
    (grad,) = torch.autograd.grad(spec.build()(logits, target, reduction="none").sum(), t)
    torch.testing.assert_close(plots.label_logit_gradient(d_dp, p), grad, rtol=1e-9, atol=1e-12)


def test_overlay_rows_per_task_labels_with_options_and_clipping_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figures = []
    save = plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig) or save(fig, path))
    specs = parse_loss_specs("cross_entropy,mse,huber:delta=2,tukey:c=2,gce:q=0.5")
    out = plots.loss_overlay(specs, tmp_path / "overlay.png")
    assert out.read_bytes()[:4] == b"\x89PNG"
    (fig,) = figures
    axes = fig.axes
    assert len(axes) == 4  # regression row first, then classification; columns ℓ and its derivative
    legend = [[t.get_text() for t in ax.get_legend().get_texts()] for ax in (axes[0], axes[2])]
    assert legend == [["mse", "huber:delta=2", "tukey:c=2"], ["cross_entropy", "gce:q=0.5"]]
    assert all(ax.get_legend() is None for ax in (axes[1], axes[3]))
    # the residual range covers 1.5 x the largest option, at least ±6
    assert axes[0].lines[0].get_xdata()[-1] == pytest.approx(6.0)
    titles = [ax.get_title() for ax in axes]
    assert "mse leaves it" in titles[0] and "mse leaves it" in titles[1]
    assert "clipped" not in titles[2] + titles[3]
    assert "clipped" in fig.get_suptitle()
    top = axes[0].get_ylim()[1]
    assert top < 36 and math.isclose(top, 2 * 2.0 * (6 - 1) * 1.05)  # 2 x median extreme (huber's 10), + 5%


@pytest.mark.parametrize(("losses", "half"), [("huber:delta=5,cauchy", 7.5), ("cauchy,tukey", 1.5 * 4.685)])
def test_overlay_draws_one_row_for_one_task(
    losses: str, half: float, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figures = []
    save = plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig) or save(fig, path))
    plots.loss_overlay(parse_loss_specs(losses), tmp_path / "one.svg")
    (fig,) = figures
    assert len(fig.axes) == 2 and "clipped" not in fig.get_suptitle()
    # 1.5 x the largest scale, a default (Tukey's c) included, so the whole shape is in view
    assert fig.axes[0].lines[0].get_xdata()[-1] == pytest.approx(half)
    assert (tmp_path / "one.svg").read_text().lstrip().startswith("<?xml")
