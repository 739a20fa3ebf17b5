"""The verdict rule, its margins and guards, on constructed per-seed learning curves; and the smoothness checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from losskit.experiments.analysis import Curve, Interval, epochs_to_level, interval, paired, seeds_to_resolve
from losskit.experiments.claims import (
    FAILS,
    HOLDS,
    SMALL,
    UNCLEAR,
    Context,
    evaluate_claims,
    judge,
    speed_targets,
    time_to_target,
)
from losskit.experiments.config import parse_loss_spec, parse_loss_specs
from losskit.experiments.smoothness import continuity, curves

# ------------------------------------------------------------------ intervals


def test_interval_is_the_student_t_interval() -> None:
    values = [0.8, 1.1, 0.95, 1.3, 0.7]
    got = interval(values)
    lo, hi = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert (got.mean, got.lo, got.hi) == pytest.approx((np.mean(values), lo, hi))
    assert got.sd == pytest.approx(np.std(values, ddof=1))


def test_interval_propagates_nan_and_needs_two_values() -> None:
    assert math.isnan(interval([1.0, float("nan")]).mean)
    one = interval([2.0])
    assert one.mean == 2.0 and math.isnan(one.lo)


def test_paired_uses_per_seed_differences() -> None:
    a = {0: 10.0, 1: 20.0, 2: 30.0}
    b = {0: 9.0, 1: 19.0, 2: 29.5, 3: 100.0}  # seed 3 has no partner and is ignored
    d = paired(a, b)
    assert d.n == 3 and d.mean == pytest.approx((1 + 1 + 0.5) / 3)


def test_epochs_to_level_interpolates_and_reports_never() -> None:
    assert epochs_to_level([0.0, 10.0, 10.0], 9.0, higher=True) == pytest.approx(0.9)
    assert epochs_to_level([100.0, 60.0, 55.0, 50.0], 57.5, higher=False) == pytest.approx(1.5)
    assert epochs_to_level([100.0, 60.0], 100.0, higher=False) == 0.0
    assert math.isinf(epochs_to_level([1.0, 2.0, 0.5], 3.0, higher=True))


def test_seeds_to_resolve_follows_the_t_interval_width() -> None:
    d = Interval(0.5, 0.0, 1.0, 10, 0.7)
    n = seeds_to_resolve(d, 0.1)
    assert n == math.ceil((stats.t.ppf(0.975, 9) * 0.7 / 0.1) ** 2)
    assert seeds_to_resolve(Interval(0.5, 0.5, 0.5, 10, 0.0), 0.1) is None


# ------------------------------------------------------------------ the rule


def _iv(mean: float, lo: float, hi: float, n: int = 10) -> Interval:
    return Interval(mean, lo, hi, n, (hi - lo) / 2 * math.sqrt(n) / stats.t.ppf(0.975, n - 1))


def test_the_verdict_rule_uses_the_margin_on_both_sides() -> None:
    assert judge(_iv(2.0, 1.0, 3.0), 1.0, +1).verdict == HOLDS
    assert judge(_iv(0.5, 0.2, 0.8), 1.0, +1).verdict == SMALL  # real, all of it below the margin
    assert judge(_iv(0.1, -0.3, 0.5), 1.0, +1).verdict == FAILS  # inside ±margin: no effect that matters
    assert judge(_iv(-2.0, -3.0, -1.0), 1.0, +1).verdict == FAILS  # beyond 0 against the claim
    assert judge(_iv(-2.0, -3.0, -1.0), 1.0, -1).verdict == HOLDS  # the same, claimed the other way
    unclear = judge(_iv(0.5, -0.5, 1.5), 1.0, +1)
    assert unclear.verdict == UNCLEAR and unclear.more_seeds and unclear.seeds_needed > 10


def test_a_sub_margin_effect_is_never_holds() -> None:
    """The issue's "MSE converges faster" on diabetes: -0.59 [-1.12, -0.07] at 10 seeds and -0.32 [-0.52, -0.11]
    at 40, against a 1-epoch margin: neither is "holds", and more seeds do not move it to "does not hold"."""
    ten = judge(_iv(-0.59, -1.12, -0.07, 10), 1.0, -1)
    forty = judge(_iv(-0.32, -0.52, -0.11, 40), 1.0, -1)
    assert ten.verdict == UNCLEAR and forty.verdict == SMALL
    rng = np.random.default_rng(0)
    for _ in range(200):
        true = rng.uniform(-0.99, 0.99)
        for n in (3, 10, 40):
            x = rng.normal(true, 0.5, size=n)
            if abs(x.mean()) < 1.0:
                assert judge(interval(x), 1.0, +1).verdict != HOLDS


# ------------------------------------------------------------------ constructed grids

E = 50


def _curve(label: str, level: float, seed: int, start: float, final: float, tau: float, higher: bool,
           drift: float = 0.0) -> Curve:
    t = np.arange(E + 1)
    v = final + (start - final) * np.exp(-t / tau) + drift * t
    metric = "test_accuracy" if higher else "test_rmse"
    val = "val_accuracy" if higher else "val_rmse"
    other = "test_macro_f1" if higher else "test_mae"
    return Curve(label, level, seed, list(t), list(1.0 / (1 + t)), {metric: list(v), val: list(v), other: list(v)})


def _regression(rise: dict[str, list[float]], *, losses: str = "mse,mae", levels: tuple[float, ...] = (0.0, 0.2),
                drift: float = 0.0, trivial: float = 80.0, clean_final: float = 60.0) -> Context:
    specs = parse_loss_specs(losses)
    seeds = len(next(iter(rise.values())))
    curves = {}
    for spec in specs:
        for level in levels:
            for s in range(seeds):
                up = rise.get(spec.name, rise["mae"])[s] if level > 0 else 0.0
                final = clean_final + 0.3 * s + up
                curves[(spec.label, level, s)] = _curve(spec.label, level, s, 77.0 + s, final, 3.0 + 0.01 * s,
                                                        False, drift)
    return Context("regression", specs, levels, E, curves, dict.fromkeys(range(seeds), trivial), 111, 5, 77.0)


def _claim(claims, cid: str):
    return next(c for c in claims if c.id == cid)


def test_mse_sensitivity_holds_when_mse_degrades_much_more() -> None:
    claims = evaluate_claims(_regression({"mse": [80.0, 90.0, 85.0], "mae": [8.0, 9.0, 7.0]}))
    sens = _claim(claims, "mse_sensitive")
    assert sens.verdict == HOLDS and sens.margin == pytest.approx(0.05 * np.mean([60.0, 60.3, 60.6]))
    assert _claim(claims, "mae_robust").verdict == HOLDS
    assert _claim(claims, "mse_converges_faster").verdict == FAILS  # identical curves: no effect


def test_a_damage_difference_below_the_margin_is_a_small_effect() -> None:
    # MSE hurt by about 1 more than MAE, against a margin of about 3 (5% of the clean RMSE)
    claims = evaluate_claims(_regression({"mse": [9.0, 10.1, 8.9, 9.6], "mae": [8.0, 9.0, 8.0, 8.5]}))
    assert _claim(claims, "mse_sensitive").verdict == SMALL
    assert _claim(claims, "mae_robust").verdict == SMALL


def test_an_unconverged_grid_is_inconclusive_with_the_fix_named() -> None:
    # still improving by 0.8 RMSE an epoch at the end: 4 over the last 5 epochs, against a margin of about 3
    ctx = _regression({"mse": [80.0, 90.0, 85.0], "mae": [8.0, 9.0, 7.0]}, drift=-0.8)
    for c in evaluate_claims(ctx):
        if c.id.endswith("smoothness") or "needs loss" in c.reason:
            continue
        assert c.verdict == UNCLEAR and "not converged" in c.reason and "--epochs" in c.reason, c.id


def test_a_model_no_better_than_the_trivial_predictor_is_inconclusive() -> None:
    ctx = _regression({"mse": [80.0, 90.0, 85.0], "mae": [8.0, 9.0, 7.0]}, trivial=59.0)
    c = _claim(evaluate_claims(ctx), "mse_sensitive")
    assert c.verdict == UNCLEAR and "training mean" in c.reason and "--lr" in c.reason and "--hidden" in c.reason


def test_one_nan_run_does_not_void_a_claim() -> None:
    rise = {"mse": [80.0 + s for s in range(10)], "mae": [8.0 + 0.1 * s for s in range(10)]}
    ctx = _regression(rise)
    bad = ctx.curves[("mse", 0.2, 3)]
    bad.metrics["test_rmse"][-5:] = [float("nan")] * 5
    ctx = Context(ctx.task, ctx.losses, ctx.levels, ctx.epochs, ctx.curves, ctx.trivial, ctx.n_test,
                  ctx.steps_per_epoch, ctx.y_scale)
    c = _claim(evaluate_claims(ctx), "mse_sensitive")
    assert c.verdict == HOLDS and c.n_seeds == 9 and c.n_excluded == 1
    assert "1 of 10 seeds excluded: mse at r = 0.2 diverged" in c.evidence
    # three of ten excluded is over the stated rule (20%)
    for s in (4, 5):
        ctx.curves[("mse", 0.2, s)].metrics["test_rmse"][-1] = float("inf")
    ctx = Context(ctx.task, ctx.losses, ctx.levels, ctx.epochs, ctx.curves, ctx.trivial, ctx.n_test,
                  ctx.steps_per_epoch, ctx.y_scale)
    c = _claim(evaluate_claims(ctx), "mse_sensitive")
    assert c.verdict == UNCLEAR and "more than 20% excluded" in c.reason


def test_overfitting_past_the_initial_metric_is_named_as_such() -> None:
    ctx = _regression({"mse": [80.0, 90.0, 85.0], "mae": [8.0, 9.0, 7.0]})
    c = _claim(evaluate_claims(ctx), "mse_sensitive")
    assert "mse at r = 0.2: 3 of 3 runs overfit past the untrained model's test_rmse" in c.evidence


def test_the_speed_target_is_common_to_the_compared_losses() -> None:
    # MAE improves more than MSE (77 -> 60 against 77 -> 70): the target is 90% of MAE's improvement,
    # which MSE never reaches; it counts as all epochs, and the target is the same level for both
    specs = parse_loss_specs("mse,mae")
    curves = {("mse", 0.0, s): _curve("mse", 0.0, s, 77.0, 70.0, 1.0, False) for s in range(3)}
    curves |= {("mae", 0.0, s): _curve("mae", 0.0, s, 77.0, 60.0, 4.0 + s, False) for s in range(3)}
    ctx = Context("regression", specs, (0.0,), E, curves, dict.fromkeys(range(3), 80.0), 111, 5, 77.0)
    targets = speed_targets(ctx, ("mse", "mae"), [0, 1, 2])
    best = {s: 77.0 - min(curves[("mae", 0.0, s)].metrics["test_rmse"]) for s in range(3)}
    assert targets == pytest.approx({s: 77.0 - 0.9 * best[s] for s in range(3)})
    mse, missed = time_to_target(ctx, "mse", targets)
    assert missed == 3 and set(mse.values()) == {float(E)}
    mae, missed = time_to_target(ctx, "mae", targets)
    assert missed == 0
    for s, t in mae.items():  # the interpolated crossing of the same level
        assert t == pytest.approx(-(4.0 + s) * math.log(0.1), abs=0.05)
    c = _claim(evaluate_claims(ctx), "mse_converges_faster")
    assert c.verdict == FAILS and "never reached in 3 mse and 0 mae runs" in c.evidence
    assert c.margin == pytest.approx(0.05 * E) and c.unit == "epochs"


def test_claims_without_their_losses_or_levels_are_inconclusive_with_a_reason() -> None:
    claims = evaluate_claims(_regression({"mse": [80.0, 90.0], "mae": [8.0, 9.0]}, losses="mse,huber"))
    mae_claim = _claim(claims, "mae_robust")
    assert mae_claim.verdict == UNCLEAR and "mae" in mae_claim.reason
    clean_only = evaluate_claims(_regression({"mse": [0.0, 0.0], "mae": [0.0, 0.0]}, levels=(0.0,)))
    c = _claim(clean_only, "mse_sensitive")
    assert c.verdict == UNCLEAR and "corruption level above 0" in c.reason


def test_one_seed_is_inconclusive() -> None:
    c = _claim(evaluate_claims(_regression({"mse": [80.0], "mae": [8.0]})), "mse_sensitive")
    assert c.verdict == UNCLEAR and "--seeds 2" in c.reason


def test_losses_outside_the_article_get_their_own_claim() -> None:
    claims = evaluate_claims(_regression({"mse": [80.0, 90.0, 85.0], "mae": [8.0, 9.0, 7.0]},
                                         losses="mse,mae,huber:delta=2,cauchy"))
    assert _claim(claims, "huber:delta=2_compromise").verdict == HOLDS
    other = _claim(claims, "cauchy_robust")
    assert not other.article and other.verdict == HOLDS


def _classification(ce_drop: list[float], mae_drop: list[float], n_test: int = 450) -> Context:
    specs = parse_loss_specs("cross_entropy,kl_div,softmax_mae")
    curves = {}
    for spec in specs:
        drop = mae_drop if spec.name == "softmax_mae" else ce_drop
        tau = 8.0 if spec.name == "softmax_mae" else 2.0
        for level in (0.0, 0.4):
            for s in range(len(ce_drop)):
                final = 0.97 - (drop[s] if level else 0.0)
                curves[(spec.label, level, s)] = _curve(spec.label, level, s, 0.1, final, tau + 0.2 * s, True)
    return Context("classification", specs, (0.0, 0.4), E, curves, dict.fromkeys(range(len(ce_drop)), 0.11),
                   n_test, 20)


def test_kl_and_cross_entropy_verdicts_coincide() -> None:
    claims = evaluate_claims(_classification([0.10, 0.12, 0.09], [0.03, 0.02, 0.04]))
    for ce, kl in (("cross_entropy_fast", "kl_div_fast"), ("cross_entropy_fragile", "kl_div_fragile")):
        assert _claim(claims, ce).verdict == _claim(claims, kl).verdict == HOLDS
    assert _claim(claims, "softmax_mae_robust").verdict == HOLDS
    assert _claim(claims, "softmax_mae_slower").verdict == HOLDS
    assert "KL = CE − H(y)" in _claim(claims, "kl_div_fragile").evidence


def test_the_accuracy_margin_is_at_least_one_test_sample() -> None:
    claims = evaluate_claims(_classification([0.10, 0.12, 0.09], [0.03, 0.02, 0.04], n_test=45))
    assert _claim(claims, "softmax_mae_robust").margin == pytest.approx(1 / 45)
    claims = evaluate_claims(_classification([0.10, 0.12, 0.09], [0.03, 0.02, 0.04], n_test=450))
    assert _claim(claims, "softmax_mae_robust").margin == pytest.approx(0.01)


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


def _rebuilt(ctx: Context) -> Context:
    return Context(ctx.task, ctx.losses, ctx.levels, ctx.epochs, ctx.curves, ctx.trivial, ctx.n_test,
                   ctx.steps_per_epoch, ctx.y_scale)


def _late_slope(ctx: Context, label: str, level: float, slope: float) -> None:
    """Add a slope over the last 5 epochs (the convergence window at 50 epochs) to a loss's runs at a level."""
    for (lab, lev, _), curve in ctx.curves.items():
        if lab == label and lev == level:
            v = curve.metrics["test_rmse"]
            for t in range(E - 5, E + 1):
                v[t] += slope * (t - (E - 5))


def test_a_corrupted_run_still_getting_worse_keeps_a_verdict_its_trend_only_strengthens() -> None:
    ctx = _regression({"mse": [80.0, 90.0, 85.0], "mae": [8.0, 9.0, 7.0]})
    _late_slope(ctx, "mse", 0.2, 1.0)  # still rising 5 over the window, against a margin of about 3
    c = _claim(evaluate_claims(_rebuilt(ctx)), "mse_sensitive")
    assert c.verdict == HOLDS
    assert "mse at r = 0.2 has not converged" in c.evidence and "the verdict is the same" in c.evidence


def test_a_corrupted_run_whose_trend_would_change_the_verdict_is_inconclusive() -> None:
    # MSE hurt about 3.7 more than MAE at the end (margin about 3), but recovering 4 over the last 5 epochs
    ctx = _regression({"mse": [16.5, 17.0, 16.8], "mae": [9.0, 9.2, 9.1]})
    _late_slope(ctx, "mse", 0.2, -0.8)
    c = _claim(evaluate_claims(_rebuilt(ctx)), "mse_sensitive")
    assert c.verdict == UNCLEAR and "has not converged" in c.reason and "--epochs" in c.reason
    assert "would be 'does not hold'" in c.reason
