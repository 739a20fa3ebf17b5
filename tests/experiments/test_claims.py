"""Verdict logic, the intervals behind it, and the smoothness checks on the losses themselves."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from losskit.experiments.analysis import epochs_to_fraction, interval, paired
from losskit.experiments.claims import FAILS, HOLDS, UNCLEAR, Context, compare, evaluate_claims
from losskit.experiments.config import parse_loss_spec, parse_loss_specs
from losskit.experiments.smoothness import continuity, curves

# ------------------------------------------------------------------ intervals


def test_interval_is_the_student_t_interval() -> None:
    values = [0.8, 1.1, 0.95, 1.3, 0.7]
    got = interval(values)
    lo, hi = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert (got.mean, got.lo, got.hi) == pytest.approx((np.mean(values), lo, hi))


def test_interval_propagates_nan_and_needs_two_values() -> None:
    assert math.isnan(interval([1.0, float("nan")]).mean)
    one = interval([2.0])
    assert one.mean == 2.0 and math.isnan(one.lo)


def test_paired_uses_per_seed_differences() -> None:
    a = {0: 10.0, 1: 20.0, 2: 30.0}
    b = {0: 9.0, 1: 19.0, 2: 29.5, 3: 100.0}  # seed 3 has no partner and is ignored
    d = paired(a, b)
    assert d.n == 3 and d.mean == pytest.approx((1 + 1 + 0.5) / 3)


def test_epochs_to_fraction_interpolates_between_epochs() -> None:
    # improvement 0 -> 10 -> 10: 90% (9) is reached 0.9 of the way through epoch 1
    assert epochs_to_fraction([0.0, 10.0, 10.0], higher=True) == pytest.approx(0.9)
    # a decreasing metric (RMSE): 100 -> 60 -> 55 -> 50; 90% of 50 is 45, reached between epochs 1 and 2
    assert epochs_to_fraction([100.0, 60.0, 55.0, 50.0], higher=False) == pytest.approx(1 + (45 - 40) / (45 - 40))
    assert math.isnan(epochs_to_fraction([1.0, 2.0, 0.5], higher=True))  # no final improvement


# ------------------------------------------------------------------ comparisons


def _seeds(values: list[float]) -> dict[int, float]:
    return dict(enumerate(values))


def test_compare_outcomes() -> None:
    base = _seeds([10.0, 11.0, 12.0, 13.0])
    assert compare(_seeds([5.0, 6.1, 6.9, 8.0]), base, higher=False, margin=1.0).outcome == "better"
    assert compare(_seeds([15.0, 16.1, 16.9, 18.0]), base, higher=False, margin=1.0).outcome == "worse"
    # significantly different but inside the margin: no effect that matters
    assert compare(_seeds([10.1, 11.1, 12.2, 13.1]), base, higher=False, margin=1.0).outcome == "equivalent"
    assert compare(_seeds([5.0, 16.0, 8.0, 17.0]), base, higher=False, margin=1.0).outcome == "unclear"
    assert compare(_seeds([5.0, 6.1, 6.9, 8.0]), base, higher=True, margin=1.0).outcome == "worse"


# ------------------------------------------------------------------ claims


def _regression_context(mse_rise: list[float], mae_rise: list[float], *, losses: str = "mse,mae",
                        levels: tuple[float, ...] = (0.0, 0.2)) -> Context:
    specs = parse_loss_specs(losses)
    scalars = {}
    rises = {"mse": mse_rise, "mae": mae_rise}
    for spec in specs:
        for level in levels:
            for s in range(len(mse_rise)):
                rise = rises.get(spec.name, mae_rise)[s] if level > 0 else 0.0
                scalars[(spec.label, level, s)] = {
                    "final_test_rmse": 60.0 + s + rise,
                    "epochs_to_90": 5.0 + 0.1 * s,
                }
    return Context("regression", specs, levels, 50, "adam", scalars, 77.0)


def _verdict(claims, text: str) -> str:
    return next(c.verdict for c in claims if c.claim.startswith(text))


def test_mse_sensitivity_holds_when_mse_degrades_much_more() -> None:
    claims = evaluate_claims(_regression_context([80.0, 90.0, 85.0], [8.0, 9.0, 7.0]))
    assert _verdict(claims, "MSE is sensitive") == HOLDS
    assert _verdict(claims, "MAE is robust") == HOLDS
    # identical speed (within the margin): the speed claim does not hold
    assert _verdict(claims, "MSE converges faster") == FAILS


def test_mse_sensitivity_does_not_hold_when_both_degrade_alike() -> None:
    claims = evaluate_claims(_regression_context([8.0, 9.0, 7.0], [8.0, 9.0, 7.0]))
    assert _verdict(claims, "MSE is sensitive") == FAILS


def test_claims_without_their_losses_or_levels_are_inconclusive_with_a_reason() -> None:
    claims = evaluate_claims(_regression_context([80.0, 90.0], [8.0, 9.0], losses="mse,huber"))
    mae_claim = next(c for c in claims if c.claim.startswith("MAE is robust"))
    assert mae_claim.verdict == UNCLEAR and "mae" in mae_claim.evidence
    clean_only = evaluate_claims(_regression_context([0.0, 0.0], [0.0, 0.0], levels=(0.0,)))
    c = next(c for c in clean_only if c.claim.startswith("MSE is sensitive"))
    assert c.verdict == UNCLEAR and "corruption level above 0" in c.evidence


def test_one_seed_is_inconclusive() -> None:
    claims = evaluate_claims(_regression_context([80.0], [8.0]))
    c = next(c for c in claims if c.claim.startswith("MSE is sensitive"))
    assert c.verdict == UNCLEAR and "--seeds 2" in c.evidence


def test_losses_outside_the_article_get_their_own_claim() -> None:
    claims = evaluate_claims(_regression_context([80.0, 90.0, 85.0], [8.0, 9.0, 7.0], losses="mse,mae,huber:delta=2"))
    huber = next(c for c in claims if c.claim.startswith("Huber (huber:delta=2) is a compromise"))
    assert huber.verdict == HOLDS


def test_diverged_runs_are_named_and_make_the_claim_inconclusive() -> None:
    ctx = _regression_context([80.0, 90.0, 85.0], [8.0, 9.0, 7.0])
    ctx.scalars[("mse", 0.2, 1)]["final_test_rmse"] = float("nan")
    claim = next(c for c in evaluate_claims(ctx) if c.claim.startswith("MSE is sensitive"))
    assert claim.verdict == UNCLEAR
    assert "mse at r = 0.2 diverged (non-finite metrics) in 1 of 3 runs" in claim.evidence


def _classification_context(ce_drop: list[float], mae_drop: list[float]) -> Context:
    specs = parse_loss_specs("cross_entropy,kl_div,softmax_mae")
    scalars = {}
    for spec in specs:
        drop = mae_drop if spec.name == "softmax_mae" else ce_drop
        speed = 8.0 if spec.name == "softmax_mae" else 4.0
        for level in (0.0, 0.4):
            for s in range(len(ce_drop)):
                acc = 0.97 - (drop[s] if level else 0.0)
                scalars[(spec.label, level, s)] = {
                    "final_test_accuracy": acc, "best_test_accuracy": acc + 0.02,
                    "epochs_to_90": speed + 0.3 * s, "early_test_accuracy": 0.9,
                }
    return Context("classification", specs, (0.0, 0.4), 60, "adam", scalars)


def test_kl_and_cross_entropy_verdicts_coincide() -> None:
    claims = evaluate_claims(_classification_context([0.10, 0.12, 0.09], [0.03, 0.02, 0.04]))
    for ce_text, kl_text in (("Cross-entropy learns fast", "KL divergence learns fast"),
                             ("Cross-entropy is fragile", "KL divergence is fragile")):
        assert _verdict(claims, ce_text) == _verdict(claims, kl_text) == HOLDS
    assert _verdict(claims, "MAE is robust to noisy labels") == HOLDS
    assert _verdict(claims, "MAE learns slower") == HOLDS
    kl = next(c for c in claims if c.claim.startswith("KL divergence is fragile"))
    assert "KL = CE − H(y)" in kl.evidence


# ------------------------------------------------------------------ smoothness


def test_autograd_derivatives_match_closed_forms() -> None:
    r = torch.linspace(-3, 3, 61, dtype=torch.float64)
    _, d1, d2 = curves(parse_loss_spec("log_cosh"), r)
    torch.testing.assert_close(d1, torch.tanh(r))
    torch.testing.assert_close(d2, 1 - torch.tanh(r) ** 2)
    _, d1, d2 = curves(parse_loss_spec("huber:delta=2"), r)
    torch.testing.assert_close(d1, r.clamp(-2, 2))
    inside = r.abs() < 2
    torch.testing.assert_close(d2[inside], torch.ones_like(r[inside]))
    torch.testing.assert_close(d2[r.abs() > 2], torch.zeros_like(r[r.abs() > 2]))
    _, d1, _ = curves(parse_loss_spec("mse"), r)
    torch.testing.assert_close(d1, 2 * r)


def test_classification_curves_are_functions_of_p_y() -> None:
    p = torch.linspace(0.05, 0.95, 19, dtype=torch.float64)
    value, d1, _ = curves(parse_loss_spec("cross_entropy"), p)
    torch.testing.assert_close(value, -torch.log(p))
    torch.testing.assert_close(d1, -1 / p)
    value, _, _ = curves(parse_loss_spec("softmax_mae"), p)
    torch.testing.assert_close(value, 2 * (1 - p))


def test_jump_detection_finds_the_kinks() -> None:
    mae1 = continuity(parse_loss_spec("mae"), 1)
    assert not mae1.continuous and abs(mae1.at) < 1e-3 and mae1.jump == pytest.approx(2.0)
    huber = parse_loss_spec("huber:delta=1.5")
    assert continuity(huber, 1).continuous
    h2 = continuity(huber, 2)
    assert not h2.continuous and abs(abs(h2.at) - 1.5) < 1e-3 and h2.jump == pytest.approx(1.0)
    log_cosh = parse_loss_spec("log_cosh")
    assert continuity(log_cosh, 1).continuous and continuity(log_cosh, 2).continuous
    assert continuity(parse_loss_spec("mse"), 2).continuous
