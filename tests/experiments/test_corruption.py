"""Corruption: exact rates, only the chosen training samples change, seeded and nested across rates."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from losskit.experiments.corruption import GROSS_SHIFT_SD, corrupt, num_corrupted


def _regression_targets(n: int = 331) -> torch.Tensor:
    y = torch.randn(n, generator=torch.Generator().manual_seed(0))
    return (y - y.mean()) / y.std(unbiased=False)


def _labels(n: int = 600, c: int = 10) -> torch.Tensor:
    return torch.arange(n) % c


@pytest.mark.parametrize("n", [7, 100, 331, 1347])
@pytest.mark.parametrize("rate", [0.0, 0.05, 0.1, 0.25, 0.4, 0.95])
@pytest.mark.parametrize("kind", ["gross", "heavy_tail", "symmetric", "pair"])
def test_exact_number_corrupted(kind: str, rate: float, n: int) -> None:
    classification = kind in ("symmetric", "pair")
    y = _labels(n) if classification else _regression_targets(n)
    out = corrupt(y, kind=kind, rate=rate, seed=3, num_classes=10)
    expected = int(np.floor(rate * n + 0.5))
    assert num_corrupted(rate, n) == expected
    assert out.index.numel() == expected
    changed = torch.nonzero(out.y != y).flatten()
    if classification:
        # every chosen label is changed: the realised flip rate is exactly the requested one
        assert torch.equal(changed, out.index)
    else:
        assert set(changed.tolist()) <= set(out.index.tolist())


def test_gross_shifts_up_by_5_to_10_sd_and_leaves_the_rest() -> None:
    y = _regression_targets()
    out = corrupt(y, kind="gross", rate=0.2, seed=1)
    shift = (out.y - y)[out.index] / y.std(unbiased=False)
    assert shift.min() >= GROSS_SHIFT_SD[0] - 1e-5 and shift.max() <= GROSS_SHIFT_SD[1] + 1e-5
    keep = torch.ones(len(y), dtype=torch.bool)
    keep[out.index] = False
    assert torch.equal(out.y[keep], y[keep])


def test_input_is_not_modified() -> None:
    y = _regression_targets()
    before = y.clone()
    corrupt(y, kind="gross", rate=0.3, seed=0)
    assert torch.equal(y, before)


def test_symmetric_noise_picks_other_classes_uniformly() -> None:
    c = 5
    y = torch.zeros(20000, dtype=torch.long)
    out = corrupt(y, kind="symmetric", rate=0.5, seed=0, num_classes=c)
    new = out.y[out.index]
    assert (new != 0).all()
    counts = torch.bincount(new, minlength=c)[1:].double()
    expected = out.index.numel() / (c - 1)
    # chi-square goodness of fit to uniform over the 4 other classes (3 dof; 0.999 quantile is 16.3)
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 16.3


def test_pair_noise_maps_c_to_c_plus_1() -> None:
    y = _labels(300, 3)
    out = corrupt(y, kind="pair", rate=0.3, seed=2, num_classes=3)
    assert torch.equal(out.y[out.index], (y[out.index] + 1) % 3)


@pytest.mark.parametrize("kind", ["gross", "symmetric"])
def test_same_seed_same_indices_and_nested_rates(kind: str) -> None:
    y = _labels() if kind == "symmetric" else _regression_targets()
    a = corrupt(y, kind=kind, rate=0.2, seed=7, num_classes=10)
    b = corrupt(y, kind=kind, rate=0.2, seed=7, num_classes=10)
    assert torch.equal(a.index, b.index) and torch.equal(a.y, b.y)
    other = corrupt(y, kind=kind, rate=0.2, seed=8, num_classes=10)
    assert not torch.equal(a.index, other.index)
    low = corrupt(y, kind=kind, rate=0.1, seed=7, num_classes=10)
    # the samples corrupted at 0.1 are among those at 0.2, with the same corrupted values
    assert set(low.index.tolist()) <= set(a.index.tolist())
    assert torch.equal(low.y[low.index], a.y[low.index])


def test_rate_outside_range_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        corrupt(_regression_targets(), kind="gross", rate=1.0, seed=0)
