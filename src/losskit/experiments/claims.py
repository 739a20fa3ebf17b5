"""The article's claims, each with its measured evidence and a verdict.

A comparison of loss A with loss B uses the paired per-seed differences A - B
and their 95% t-interval (:mod:`losskit.experiments.analysis`):

* **equivalent**: the whole interval lies inside ±margin, a difference too
  small to matter even if it is statistically nonzero (checked first). The
  margin is 1 epoch or 10% of B's epochs-to-90%, whichever is larger, for
  speed; 5% of B's clean RMSE for outlier damage; 1 accuracy point for
  classification;
* **better** / **worse**: otherwise, the interval excludes 0 on that side;
* **unclear**: neither (the interval straddles 0 and is wider than the margin).

A claim **holds** when its comparisons come out on the claimed side, **does not
hold** when they come out on the other side or are shown equivalent (no
effect), and is **inconclusive** otherwise, or when the run lacks the losses,
corruption levels or seeds the claim needs (the reason is given).

Smoothness claims are mathematical, not data-dependent: they are checked on
the losses themselves by :mod:`losskit.experiments.smoothness`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..registry import loss_info
from .analysis import Interval, paired
from .config import LossSpec
from .metrics import PRIMARY
from .smoothness import continuity

__all__ = ["FAILS", "HOLDS", "UNCLEAR", "Claim", "Context", "evaluate_claims"]

HOLDS, FAILS, UNCLEAR = "holds", "does not hold", "inconclusive"
ARTICLE_REGRESSION = ("mse", "mae", "huber", "log_cosh")
ARTICLE_CLASSIFICATION = ("cross_entropy", "kl_div", "softmax_mae")
ACCURACY_MARGIN = 0.01
RMSE_MARGIN = 0.05  # of the reference loss's clean RMSE
KL_CE_NOTE = (
    "KL(y‖p) = CE(y, p) − H(y) and H(y) does not depend on the model (it is 0 for one-hot labels), "
    "so KL and cross-entropy have identical gradients and train identically: their verdicts coincide."
)


@dataclass(frozen=True)
class Claim:
    """One claim: what is claimed, the numbers, and the verdict."""

    claim: str
    evidence: str
    verdict: str
    article: bool = True


@dataclass
class Context:
    """What the claims are judged on: per-run scalars keyed by (loss label, level, seed)."""

    task: str
    losses: tuple[LossSpec, ...]
    levels: tuple[float, ...]
    epochs: int
    optimizer: str
    scalars: dict[tuple[str, float, int], dict[str, float]]
    y_scale: float = 1.0

    def per_seed(self, label: str, level: float, key: str) -> dict[int, float]:
        return {s: v[key] for (lab, lev, s), v in self.scalars.items() if lab == label and lev == level}

    def labels(self, name: str) -> list[str]:
        return [s.label for s in self.losses if s.name == name]

    def first(self, name: str) -> str | None:
        found = self.labels(name)
        return found[0] if found else None

    @property
    def top(self) -> float:
        return self.levels[-1]

    @property
    def seeds(self) -> int:
        return len({s for (_, _, s) in self.scalars})

    def damage(self, label: str) -> dict[int, float]:
        """Per seed: how much the final primary metric worsens from clean to the top level (positive = worse)."""
        key = f"final_{PRIMARY[self.task]}"
        clean, top = self.per_seed(label, 0.0, key), self.per_seed(label, self.top, key)
        sign = -1.0 if self.task == "classification" else 1.0
        return {s: sign * (top[s] - clean[s]) for s in clean if s in top}


# ------------------------------------------------------------------ comparisons


@dataclass(frozen=True)
class Comparison:
    outcome: str  # better | worse | equivalent | unclear
    diff: Interval
    margin: float = 0.0

    def __str__(self) -> str:
        if self.outcome == "equivalent":
            return f"equivalent: inside ±{self.margin:.2g}"
        return self.outcome


def compare(a: dict[int, float], b: dict[int, float], *, higher: bool, margin: float) -> Comparison:
    """Is A better than B? Paired over seeds; ``higher`` says which direction is better."""
    d = paired(a, b)
    if not (math.isfinite(d.lo) and math.isfinite(d.hi)):
        outcome = "unclear"
    # equivalence first: a difference whose whole interval is too small to matter is no effect,
    # even when it is statistically nonzero
    elif -margin <= d.lo and d.hi <= margin:
        outcome = "equivalent"
    elif (d.lo > 0) if higher else (d.hi < 0):
        outcome = "better"
    elif (d.hi < 0) if higher else (d.lo > 0):
        outcome = "worse"
    else:
        outcome = "unclear"
    return Comparison(outcome, d, margin)


def _mean(values: dict[int, float]) -> float:
    v = list(values.values())
    return sum(v) / len(v) if v else math.nan


def _missing(ctx: Context, names: tuple[str, ...], *, clean: bool = True, corrupted: bool = False) -> str | None:
    absent = [n for n in names if ctx.first(n) is None]
    if absent:
        return f"needs loss(es) {', '.join(absent)} in --losses"
    if clean and 0.0 not in ctx.levels:
        return "needs corruption level 0 in --corruption"
    if corrupted and ctx.top <= 0.0:
        return "needs a corruption level above 0 in --corruption"
    if ctx.seeds < 2:
        return "needs --seeds 2 or more for intervals"
    return None


def _fmt(x: float, digits: int = 3) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.{digits}g}"


# ------------------------------------------------------------------ regression


def _problems(ctx: Context, labels: tuple[str, ...], levels: tuple[float, ...], key: str) -> str:
    """Why a comparison has no interval: diverged runs, or runs that never improved; "" when none."""
    primary = f"final_{PRIMARY[ctx.task]}"
    notes = []
    for label in labels:
        for level in levels:
            finals = ctx.per_seed(label, level, primary)
            values = ctx.per_seed(label, level, key)
            diverged = sum(not math.isfinite(v) for v in finals.values())
            flat = sum(not math.isfinite(values[s]) and math.isfinite(finals[s]) for s in values)
            if diverged:
                notes.append(f"{label} at r = {level:g} diverged (non-finite metrics) in {diverged} of "
                             f"{len(finals)} runs; try a lower --lr")
            if flat:
                notes.append(f"{label} at r = {level:g} never improved on its initial test metric in {flat} of "
                             f"{len(values)} runs")
    return "; ".join(notes)


def _signed(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:+.3g}"


def _speed(ctx: Context, a: str, b: str) -> tuple[Comparison, str]:
    """Is A faster than B on clean data? Epochs to 90% of the test-metric improvement, paired over seeds."""
    ea, eb = ctx.per_seed(a, 0.0, "epochs_to_90"), ctx.per_seed(b, 0.0, "epochs_to_90")
    c = compare(ea, eb, higher=False, margin=max(1.0, 0.1 * _mean(eb)))
    metric = "test RMSE" if ctx.task == "regression" else "test accuracy"
    text = (
        f"epochs to 90% of the clean {metric} improvement: {a} {_fmt(_mean(ea))}, {b} {_fmt(_mean(eb))}; "
        f"{a} − {b} = {c.diff.fmt()} epochs ({c})"
    )
    problems = _problems(ctx, (a, b), (0.0,), "epochs_to_90")
    return c, f"{text}; {problems}" if problems else text


def _sensitivity_verdict(ctx: Context, label: str, vs_robust: Comparison) -> str:
    """The verdict of "``label`` is sensitive": damaged more than the robust loss, and damaged at all."""
    own = ctx.damage(label)
    damaged = compare(own, {s: 0.0 for s in own}, higher=False, margin=0.0)
    if vs_robust.outcome == "worse" and damaged.outcome == "worse":
        return HOLDS
    if vs_robust.outcome in ("better", "equivalent"):
        return FAILS
    return UNCLEAR


def _outlier_damage(ctx: Context, a: str, b: str) -> tuple[Comparison, str]:
    da, db = ctx.damage(a), ctx.damage(b)
    clean_b = _mean(ctx.per_seed(b, 0.0, "final_test_rmse"))
    c = compare(da, db, higher=False, margin=RMSE_MARGIN * clean_b)
    sd = ctx.y_scale
    text = (
        f"test-RMSE rise from corruption 0 to {ctx.top:g}: {a} {_signed(_mean(da))} ({_fmt(_mean(da) / sd, 2)} SD), "
        f"{b} {_signed(_mean(db))} ({_fmt(_mean(db) / sd, 2)} SD); {a} − {b} = {c.diff.fmt()} ({c})"
    )
    problems = _problems(ctx, (a, b), (0.0, ctx.top), "final_test_rmse")
    return c, f"{text}; {problems}" if problems else text


def _regression(ctx: Context) -> list[Claim]:
    out: list[Claim] = []
    mse, mae = ctx.first("mse"), ctx.first("mae")

    claim = "MSE converges faster (than MAE)"
    reason = _missing(ctx, ("mse", "mae"))
    if reason:
        out.append(Claim(claim, reason, UNCLEAR))
    else:
        c, text = _speed(ctx, mse, mae)  # type: ignore[arg-type]
        verdict = {"better": HOLDS, "worse": FAILS, "equivalent": FAILS}.get(c.outcome, UNCLEAR)
        if verdict != HOLDS and ctx.optimizer == "adam":
            text += (
                "; with Adam, whose steps are scaled by the gradient's running RMS, MSE's larger gradients "
                "buy no speed"
            )
        out.append(Claim(claim, text, verdict))

    claim = "MSE is sensitive to anomalies"
    reason = _missing(ctx, ("mse", "mae"), corrupted=True)
    if reason:
        out.append(Claim(claim, reason, UNCLEAR))
    else:
        c, text = _outlier_damage(ctx, mse, mae)  # type: ignore[arg-type]
        out.append(Claim(claim, text, _sensitivity_verdict(ctx, mse, c)))  # type: ignore[arg-type]

    claim = "MAE is robust to anomalies"
    reason = _missing(ctx, ("mse", "mae"), corrupted=True)
    if reason:
        out.append(Claim(claim, reason, UNCLEAR))
    else:
        c, text = _outlier_damage(ctx, mae, mse)  # type: ignore[arg-type]
        verdict = {"better": HOLDS, "worse": FAILS, "equivalent": FAILS}.get(c.outcome, UNCLEAR)
        out.append(Claim(claim, text, verdict))

    for name, title in (("huber", "Huber"), ("log_cosh", "Log-cosh")):
        for label in ctx.labels(name) or [name]:
            shown = title if label == name else f"{title} ({label})"
            claim = f"{shown} is a compromise: more robust than MSE, as fast as MSE"
            reason = _missing(ctx, ("mse", name), corrupted=True)
            if reason:
                out.append(Claim(claim, reason, UNCLEAR))
                continue
            robust, rtext = _outlier_damage(ctx, label, mse)  # type: ignore[arg-type]
            speed, stext = _speed(ctx, label, mse)  # type: ignore[arg-type]
            text = f"{rtext}; {stext}"
            if mae is not None:
                vs_mae, _ = _outlier_damage(ctx, label, mae)
                place = {
                    "worse": "between MSE and MAE",
                    "equivalent": "as robust as MAE",
                    "better": "more robust than MAE",
                }
                text += f"; robustness {place.get(vs_mae.outcome, 'unclear against MAE')}"
            if robust.outcome == "better" and speed.outcome in ("better", "equivalent"):
                verdict = HOLDS
            elif robust.outcome in ("worse", "equivalent") or speed.outcome == "worse":
                verdict = FAILS
            else:
                verdict = UNCLEAR
            out.append(Claim(claim, text, verdict))

    out += _smoothness(ctx)
    ref = mse
    for spec in ctx.losses:
        if spec.name in ARTICLE_REGRESSION:
            continue
        claim = f"{spec.label} is more robust to anomalies than MSE"
        reason = _missing(ctx, ("mse",), corrupted=True)
        if reason:
            out.append(Claim(claim, reason, UNCLEAR, article=False))
            continue
        c, text = _outlier_damage(ctx, spec.label, ref)  # type: ignore[arg-type]
        verdict = {"better": HOLDS, "worse": FAILS, "equivalent": FAILS}.get(c.outcome, UNCLEAR)
        out.append(Claim(claim, text, verdict, article=False))
    return out


def _smoothness(ctx: Context) -> list[Claim]:
    out = []
    checks = (
        ("mae", "MAE is not differentiable at 0", lambda d1, d2: (not d1.continuous and abs(d1.at) < 1e-2)),
        ("huber", "Huber is differentiable only once", lambda d1, d2: d1.continuous and not d2.continuous),
        ("log_cosh", "Log-cosh is twice differentiable", lambda d1, d2: d1.continuous and d2.continuous),
    )
    for name, claim, test in checks:
        for label in ctx.labels(name):
            spec = next(s for s in ctx.losses if s.label == label)
            d1, d2 = continuity(spec, 1), continuity(spec, 2)
            shown = claim if label == name else f"{claim} ({label})"
            evidence = f"autograd on a grid: {d1.describe()}; {d2.describe()}"
            out.append(Claim(shown, evidence, HOLDS if test(d1, d2) else FAILS))
    return out


# ------------------------------------------------------------------ classification


def _early(ctx: Context, a: str, b: str) -> tuple[Comparison, str]:
    """Speed for classification: epochs to 90% (the verdict), plus the accuracy early in training."""
    from .analysis import early_epoch

    c, text = _speed(ctx, a, b)
    key = f"early_{PRIMARY[ctx.task]}"
    ea, eb = _mean(ctx.per_seed(a, 0.0, key)), _mean(ctx.per_seed(b, 0.0, key))
    text += f"; clean accuracy after {early_epoch(ctx.epochs)} of {ctx.epochs} epochs: {a} {_fmt(ea)}, {b} {_fmt(eb)}"
    return c, text


def _noise_damage(ctx: Context, a: str, b: str) -> tuple[Comparison, str]:
    da, db = ctx.damage(a), ctx.damage(b)
    c = compare(da, db, higher=False, margin=ACCURACY_MARGIN)
    text = (
        f"final test-accuracy drop from noise 0 to {ctx.top:g}: {a} {_fmt(_mean(da))}, {b} {_fmt(_mean(db))}; "
        f"{a} − {b} = {c.diff.fmt()} ({c})"
    )
    problems = _problems(ctx, (a, b), (0.0, ctx.top), "final_test_accuracy")
    return c, f"{text}; {problems}" if problems else text


def _memorisation(ctx: Context, label: str) -> str:
    best = _mean(ctx.per_seed(label, ctx.top, "best_test_accuracy"))
    final = _mean(ctx.per_seed(label, ctx.top, "final_test_accuracy"))
    return (
        f"at noise {ctx.top:g} {label}'s best accuracy was {_fmt(best)}, final {_fmt(final)} "
        f"(memorisation gap {_fmt(best - final, 2)})"
    )


def _kl_ce_gap(ctx: Context) -> str:
    ce, kl = ctx.first("cross_entropy"), ctx.first("kl_div")
    if ce is None or kl is None:
        return ""
    gaps = [
        abs(v["final_test_accuracy"] - ctx.scalars[(ce, lev, s)]["final_test_accuracy"])
        for (lab, lev, s), v in ctx.scalars.items()
        if lab == kl and (ce, lev, s) in ctx.scalars
    ]
    gap = max(gaps)
    return (
        "; KL = CE − H(y), same gradients: paired KL and CE runs "
        + ("reach identical final accuracies" if gap == 0 else f"differ by at most {_fmt(gap, 2)} in final accuracy")
    )


def _classification(ctx: Context) -> list[Claim]:
    out: list[Claim] = []
    mae = ctx.first("softmax_mae")
    note = _kl_ce_gap(ctx)
    for name, title in (("cross_entropy", "Cross-entropy"), ("kl_div", "KL divergence")):
        label = ctx.first(name)
        extra = note if name == "kl_div" else ""
        claim = f"{title} learns fast (faster than MAE)"
        reason = _missing(ctx, (name, "softmax_mae"))
        if reason:
            out.append(Claim(claim, reason, UNCLEAR))
        else:
            c, text = _early(ctx, label, mae)  # type: ignore[arg-type]
            verdict = {"better": HOLDS, "worse": FAILS, "equivalent": FAILS}.get(c.outcome, UNCLEAR)
            out.append(Claim(claim, text + extra, verdict))
        claim = f"{title} is fragile to noisy labels"
        reason = _missing(ctx, (name, "softmax_mae"), corrupted=True)
        if reason:
            out.append(Claim(claim, reason, UNCLEAR))
        else:
            c, text = _noise_damage(ctx, label, mae)  # type: ignore[arg-type]
            verdict = _sensitivity_verdict(ctx, label, c)  # type: ignore[arg-type]
            out.append(Claim(claim, f"{text}; {_memorisation(ctx, label)}{extra}", verdict))  # type: ignore[arg-type]

    ref = ctx.first("cross_entropy") or ctx.first("kl_div")
    ref_name = loss_info(ref).name if ref else "cross_entropy"
    claim = "MAE is robust to noisy labels"
    reason = _missing(ctx, ("softmax_mae", ref_name), corrupted=True)
    if reason:
        out.append(Claim(claim, reason, UNCLEAR))
    else:
        c, text = _noise_damage(ctx, mae, ref)  # type: ignore[arg-type]
        verdict = {"better": HOLDS, "worse": FAILS, "equivalent": FAILS}.get(c.outcome, UNCLEAR)
        out.append(Claim(claim, text, verdict))
    claim = "MAE learns slower (than cross-entropy)"
    reason = _missing(ctx, ("softmax_mae", ref_name))
    if reason:
        out.append(Claim(claim, reason, UNCLEAR))
    else:
        c, text = _early(ctx, mae, ref)  # type: ignore[arg-type]
        verdict = {"worse": HOLDS, "better": FAILS, "equivalent": FAILS}.get(c.outcome, UNCLEAR)
        out.append(Claim(claim, text, verdict))

    for spec in ctx.losses:
        if spec.name in ARTICLE_CLASSIFICATION:
            continue
        claim = f"{spec.label} is more robust to noisy labels than {ref or 'cross_entropy'}"
        reason = _missing(ctx, (ref_name,), corrupted=True)
        if reason:
            out.append(Claim(claim, reason, UNCLEAR, article=False))
            continue
        c, text = _noise_damage(ctx, spec.label, ref)  # type: ignore[arg-type]
        verdict = {"better": HOLDS, "worse": FAILS, "equivalent": FAILS}.get(c.outcome, UNCLEAR)
        out.append(Claim(claim, text, verdict, article=False))
    return out


def evaluate_claims(ctx: Context) -> list[Claim]:
    """Every claim the run can speak to, article claims first, then claims about other losses."""
    return _regression(ctx) if ctx.task == "regression" else _classification(ctx)
