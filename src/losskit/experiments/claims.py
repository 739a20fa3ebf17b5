"""The article's claims, each with its measured evidence, a margin and a verdict.

**The verdict rule.** A claim compares two losses through the paired per-seed
differences and their 95% t-interval :math:`[lo, hi]` with point estimate
:math:`d`, oriented so that the claimed direction is positive, against a
margin :math:`m > 0` of practical relevance:

* **holds**: :math:`lo > 0` and :math:`d \\ge m` (the effect is real and its
  estimate is beyond the margin);
* **holds, small effect**: :math:`lo > 0` and :math:`hi < m` (real, but every
  plausible size is below the margin);
* **does not hold**: :math:`hi < m` and :math:`lo \\le 0`: the interval rules
  out an effect of the margin's size in the claimed direction. This covers an
  interval inside :math:`\\pm m` (no effect that matters) and one beyond 0
  against the claim;
* **inconclusive** otherwise (the interval is too wide to decide), with
  roughly how many seeds would decide it (:func:`~.analysis.seeds_to_resolve`).

More seeds only shrink the interval around the true effect, so a true effect
beyond the margin ends at "holds", one inside it at "holds, small effect" or
"does not hold"; an effect inside the margin is never "holds" on its estimate
alone. "As fast as" claims are non-inferiority claims: they hold when the
interval rules out being slower by the margin.

**Margins** (printed next to every verdict): accuracy :math:`\\max(0.01,
1/n_{test})`, at least one test sample; RMSE 5% of the reference loss's clean
RMSE; speed 5% of the training length, at least one optimizer step.

**Guards** for every claim, each making it **inconclusive** with the reason
and the fix:

* *exclusions*: a run that diverged (non-finite loss or metric) is excluded
  with its seed; more than 20% of a claim's seeds excluded, or fewer than 2
  left, leaves it inconclusive;
* *sanity*: each compared loss's clean model must beat the trivial predictor
  (the training mean, or the majority class) on the test split;
* *convergence*: the clean runs' metric must have settled: its mean change
  over the last 10% of the epochs within the claim's margin (for the speed
  claims, the RMSE or accuracy margin). A corrupted run that is still moving
  (memorising noisy labels can take hundreds of epochs) leaves the claim
  judged only if the verdict is the same with every corrupted run's final
  metric moved on by its own trend over another 10% of the epochs.

**Speed** is the epochs (and optimizer steps) each run needs to reach one
common target per seed: 90% of the best clean improvement over the untrained
model that either compared loss reaches, interpolated between epochs. A run
that never reaches it counts as the full training length (a lower bound on
its time) and is reported. The metric after a tenth of the epochs is a second
view.

Smoothness claims are mathematical, not data-dependent: they are checked on
the losses themselves by :mod:`losskit.experiments.smoothness`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ..registry import loss_info
from .analysis import Curve, Interval, epochs_to_level, interval, scalars, seeds_to_resolve
from .config import LossSpec
from .metrics import PRIMARY, higher_is_better
from .smoothness import continuity

__all__ = [
    "FAILS",
    "HOLDS",
    "SMALL",
    "UNCLEAR",
    "Claim",
    "Context",
    "Verdict",
    "evaluate_claims",
    "judge",
    "needs_more_seeds",
    "speed_targets",
]

HOLDS, SMALL, FAILS, UNCLEAR = "holds", "holds, small effect", "does not hold", "inconclusive"
ARTICLE_REGRESSION = ("mse", "mae", "huber", "log_cosh")
ARTICLE_CLASSIFICATION = ("cross_entropy", "kl_div", "softmax_mae")
ACCURACY_MARGIN = 0.01  # at least; raised to one test sample (1 / n_test)
RMSE_MARGIN = 0.05  # of the reference loss's clean RMSE
SPEED_MARGIN = 0.05  # of the training length
TARGET_FRACTION = 0.9  # of the best clean improvement: the common speed target
MAX_EXCLUDED = 0.2  # of a claim's seeds
CONVERGENCE_WINDOW = 0.1  # of the epochs
FIX_UNTRAINED = "try another --lr, more --epochs, or a bigger model (--model mlp, --hidden 64,64)"
KL_CE_NOTE = (
    "KL(y‖p) = CE(y, p) − H(y) and H(y) does not depend on the model (it is 0 for one-hot labels), "
    "so KL and cross-entropy have identical gradients and train identically: their verdicts coincide."
)


@dataclass(frozen=True)
class Claim:
    """One claim: what is claimed, the numbers, the margin, and the verdict with its reason."""

    claim: str
    evidence: str
    verdict: str
    article: bool = True
    id: str = ""
    reason: str = ""
    losses: tuple[str, ...] = ()
    corruption: float = math.nan
    metric: str = ""
    estimate: float = math.nan
    lo: float = math.nan
    hi: float = math.nan
    margin: float = math.nan
    unit: str = ""
    n_seeds: int = 0
    n_excluded: int = 0
    more_seeds: bool = False
    seeds_needed: int | None = None
    pending: tuple[str, ...] = ()  # corrupted runs not yet converged (see evaluate_claims)

    @property
    def margin_text(self) -> str:
        if not math.isfinite(self.margin):
            return ""
        return f"±{self.margin:.3g}{' ' + self.unit if self.unit else ''}"


def needs_more_seeds(claim: Claim) -> bool:
    """Inconclusive only because the interval is too wide: more seeds would settle it."""
    return claim.verdict == UNCLEAR and claim.more_seeds


# ------------------------------------------------------------------ the rule


@dataclass(frozen=True)
class Verdict:
    verdict: str
    reason: str
    more_seeds: bool = False
    seeds_needed: int | None = None


def judge(d: Interval, margin: float, direction: int) -> Verdict:
    """The verdict on "the difference ``d`` lies in ``direction`` (+1 or -1) by at least ``margin``"."""
    if d.n < 2 or not (math.isfinite(d.lo) and math.isfinite(d.hi)):
        return Verdict(UNCLEAR, f"fewer than 2 seeds with finite results ({d.n})")
    est, lo, hi = (d.mean, d.lo, d.hi) if direction > 0 else (-d.mean, -d.hi, -d.lo)
    m = f"{margin:.3g}"
    if lo > 0 and est >= margin:
        return Verdict(HOLDS, f"the interval excludes 0 and the estimate is beyond the margin {m}")
    if lo > 0 and hi < margin:
        return Verdict(SMALL, f"a real effect (the interval excludes 0) but all of it below the margin {m}")
    if hi < margin:
        if hi < 0:
            return Verdict(FAILS, "the interval lies beyond 0 against the claim")
        if lo > -margin:
            return Verdict(FAILS, f"the interval lies inside ±{m}: no effect that matters")
        return Verdict(FAILS, f"the interval rules out an effect of {m} in the claimed direction")
    need = est if est >= margin else margin - est
    n = seeds_to_resolve(d, need)
    why = ("a real effect, but the interval is too wide to tell whether it reaches the margin" if lo > 0
           else "the interval includes 0 and reaches the margin")
    more = f"; about {n} seeds would settle it" if n is not None else ""
    return Verdict(UNCLEAR, why + more, True, n)


def _noninferior(d: Interval, margin: float) -> Verdict:
    """"A is not worse than B by the margin", with ``d`` oriented so that positive is worse."""
    v = judge(d, margin, +1)
    if v.verdict == HOLDS:
        return Verdict(FAILS, f"worse by more than the margin {margin:.3g}")
    if v.verdict in (SMALL, FAILS):
        return Verdict(HOLDS, f"the interval rules out being worse by the margin {margin:.3g}")
    return v


def _combine(*verdicts: Verdict) -> Verdict:
    for kind in (FAILS, UNCLEAR, SMALL):
        hit = [v for v in verdicts if v.verdict == kind]
        if hit:
            needed = [v.seeds_needed for v in hit if v.seeds_needed is not None]
            return Verdict(kind, "; ".join(v.reason for v in hit), any(v.more_seeds for v in hit),
                           max(needed) if needed else None)
    return Verdict(HOLDS, "; ".join(v.reason for v in verdicts))


# ------------------------------------------------------------------ the data


@dataclass
class Context:
    """What the claims are judged on: each run's learning curve, keyed by (loss label, level, seed).

    ``trivial[seed]`` is the trivial predictor's test metric on that seed's split, ``n_test`` the test rows
    per split, ``steps_per_epoch`` the optimizer steps per epoch.
    """

    task: str
    losses: tuple[LossSpec, ...]
    levels: tuple[float, ...]
    epochs: int
    curves: dict[tuple[str, float, int], Curve]
    trivial: dict[int, float] = field(default_factory=dict)
    n_test: int = 0
    steps_per_epoch: int = 1
    y_scale: float = 1.0
    scalars: dict[tuple[str, float, int], dict[str, float]] = field(default_factory=dict)
    extended: bool = False  # final metrics of corrupted runs moved on by their trend (see :meth:`extend`)

    def __post_init__(self) -> None:
        for key, curve in self.curves.items():
            self.scalars.setdefault(key, scalars(curve, self.task, self.epochs))

    @property
    def primary(self) -> str:
        return PRIMARY[self.task]

    @property
    def higher(self) -> bool:
        return higher_is_better(self.primary)

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
    def seeds(self) -> list[int]:
        return sorted({s for (_, _, s) in self.curves})

    def clean_mean(self, label: str, key: str) -> float:
        v = [x for x in self.per_seed(label, 0.0, key).values() if math.isfinite(x)]
        return sum(v) / len(v) if v else math.nan

    @property
    def accuracy_margin(self) -> float:
        return max(ACCURACY_MARGIN, 1.0 / self.n_test) if self.n_test else ACCURACY_MARGIN

    def metric_margin(self, reference: str) -> float:
        """The margin for the primary metric: one test sample's accuracy, or 5% of the reference's clean RMSE."""
        if self.task == "classification":
            return self.accuracy_margin
        return RMSE_MARGIN * self.clean_mean(reference, f"final_{self.primary}")

    @property
    def window(self) -> int:
        """The last 10% of the epochs, at least one: where convergence is read."""
        return max(1, math.ceil(CONVERGENCE_WINDOW * self.epochs))

    def extend(self) -> Context:
        """This context with every corrupted run's final primary metric moved on by its change over the last
        :attr:`window` epochs: where it would be after another window at the current rate."""
        key, w = f"final_{self.primary}", self.window
        scalars = {k: dict(v) for k, v in self.scalars.items()}
        for (label, level, s), curve in self.curves.items():
            v = curve.metrics[self.primary]
            if level > 0 and len(v) > w:
                scalars[(label, level, s)][key] = v[-1] + (v[-1] - v[-1 - w])
        return Context(self.task, self.losses, self.levels, self.epochs, self.curves, self.trivial, self.n_test,
                       self.steps_per_epoch, self.y_scale, scalars, extended=True)

    @property
    def speed_margin(self) -> float:
        """In epochs: 5% of the training length, at least one optimizer step."""
        return max(SPEED_MARGIN * self.epochs, 1.0 / self.steps_per_epoch)


# ------------------------------------------------------------------ guards


@dataclass
class Evidence:
    """The seeds a comparison may use, and why it may not be judged (guard failures) or what to note."""

    seeds: list[int]
    excluded: dict[int, str]
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)


def _usable(ctx: Context, labels: Sequence[str], levels: Sequence[float], tol: float) -> Evidence:
    """Exclusions, sanity and convergence for the runs of ``labels`` x ``levels``."""
    excluded: dict[int, str] = {}
    for s in ctx.seeds:
        for label in labels:
            for level in levels:
                curve = ctx.curves.get((label, level, s))
                if curve is None:
                    excluded[s] = f"{label} at r = {level:g} has no run"
                elif curve.diverged:
                    excluded[s] = f"{label} at r = {level:g} diverged (non-finite loss or metric)"
    ev = Evidence([s for s in ctx.seeds if s not in excluded], excluded)
    if excluded:
        causes: dict[str, int] = {}
        for cause in excluded.values():
            causes[cause] = causes.get(cause, 0) + 1
        ev.notes.append(f"{len(excluded)} of {len(ctx.seeds)} seeds excluded: "
                        + "; ".join(f"{c} ({k})" for c, k in causes.items())
                        + ("; try a lower --lr" if any("diverged" in c for c in causes) else ""))
    if len(excluded) > MAX_EXCLUDED * len(ctx.seeds) or len(ev.seeds) < 2:
        ev.problems.append(f"{len(excluded)} of {len(ctx.seeds)} seeds excluded (the rule: more than "
                           f"{MAX_EXCLUDED:.0%} excluded, or fewer than 2 left, is inconclusive)")
    if not ev.seeds:
        return ev
    ev.notes += _overfit_notes(ctx, labels, levels, ev.seeds)
    ev.problems += _sanity(ctx, labels, ev.seeds)
    for level, text in _convergence(ctx, labels, levels, ev.seeds, tol):
        if level == 0:
            ev.problems.append(text)
        elif not ctx.extended:
            ev.pending.append(text)
    return ev


def _sanity(ctx: Context, labels: Sequence[str], seeds: list[int]) -> list[str]:
    if 0.0 not in ctx.levels or not ctx.trivial:
        return []
    trivial = float(np.mean([ctx.trivial[s] for s in seeds if s in ctx.trivial]))
    what = "predicting the majority class" if ctx.task == "classification" else "predicting the training mean"
    out = []
    for label in labels:
        finals = ctx.per_seed(label, 0.0, f"final_{ctx.primary}")
        mean = float(np.mean([finals[s] for s in seeds if s in finals]))
        beats = mean > trivial if ctx.higher else mean < trivial
        if not beats:
            out.append(f"clean {label} ends at {ctx.primary} {mean:.3g}, no better than {what} ({trivial:.3g}): "
                       f"the model has not learned; {FIX_UNTRAINED}")
    return out


def _convergence(ctx: Context, labels: Sequence[str], levels: Sequence[float], seeds: list[int],
                 tol: float) -> list[tuple[float, str]]:
    """(level, why) for each loss and level whose metric still moves by more than ``tol`` over the window."""
    window = ctx.window
    out = []
    for label in labels:
        for level in levels:
            changes = []
            for s in seeds:
                v = ctx.curves[(label, level, s)].metrics[ctx.primary]
                if len(v) > window:
                    changes.append(v[-1] - v[-1 - window])
            if not changes or not math.isfinite(tol):
                continue
            change = float(np.mean(changes))
            if abs(change) > tol:
                why = (f"{label} at r = {level:g} has not converged: its {ctx.primary} still changed by "
                       f"{change:+.3g} over the last {window} epochs (tolerance {tol:.3g}, the claim's margin); "
                       "train longer (--epochs) or with a higher --lr")
                out.append((level, why))
    return out


def _overfit_notes(ctx: Context, labels: Sequence[str], levels: Sequence[float], seeds: list[int]) -> list[str]:
    out = []
    p = ctx.primary
    for label in labels:
        for level in levels:
            hit = []
            for s in seeds:
                v = ctx.scalars[(label, level, s)]
                worse = v[f"final_{p}"] < v[f"initial_{p}"] if ctx.higher else v[f"final_{p}"] > v[f"initial_{p}"]
                if worse:
                    hit.append(v)
            if hit:
                peak = float(np.mean([v[f"peak_{p}"] for v in hit]))
                final = float(np.mean([v[f"final_{p}"] for v in hit]))
                start = float(np.mean([v[f"initial_{p}"] for v in hit]))
                out.append(f"{label} at r = {level:g}: {len(hit)} of {len(seeds)} runs overfit past the untrained "
                           f"model's {p} (reached {peak:.3g}, then ended at {final:.3g}, worse than the initial "
                           f"{start:.3g})")
    return out


# ------------------------------------------------------------------ measures


def _fmt(x: float, digits: int = 3) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.{digits}g}"


def _signed(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:+.3g}"


def _mean(values: dict[int, float], seeds: list[int]) -> float:
    v = [values[s] for s in seeds if s in values and math.isfinite(values[s])]
    return sum(v) / len(v) if v else math.nan


@dataclass
class Measure:
    """One paired comparison ready to judge: the difference, its margin and unit, and the text."""

    diff: Interval
    margin: float
    unit: str
    metric: str
    text: str
    evidence: Evidence
    level: float


def speed_targets(ctx: Context, labels: Sequence[str], seeds: Sequence[int]) -> dict[int, float]:
    """Per seed, the common speed target: 90% of the best clean improvement any of ``labels`` reaches.

    The untrained model is the same for every loss of a seed (same split, same initial weights), so the
    target is one level of the test metric, shared by the compared losses. Seeds where no loss improved
    get no target.
    """
    sign = 1.0 if ctx.higher else -1.0
    out = {}
    for s in seeds:
        curves = [ctx.curves[(lab, 0.0, s)].metrics[ctx.primary] for lab in labels]
        start = curves[0][0]
        best = max(sign * (np.nanmax(c) if ctx.higher else np.nanmin(c)) - sign * start for c in curves)
        if best > 0:
            out[s] = float(start + sign * TARGET_FRACTION * best)
    return out


def time_to_target(ctx: Context, label: str, targets: dict[int, float]) -> tuple[dict[int, float], int]:
    """Epochs for ``label``'s clean runs to reach each seed's target; never reached counts as all epochs."""
    times, missed = {}, 0
    for s, target in targets.items():
        t = epochs_to_level(ctx.curves[(label, 0.0, s)].metrics[ctx.primary], target, ctx.higher)
        if math.isinf(t):
            missed += 1
            t = float(ctx.epochs)
        times[s] = t
    return times, missed


def _speed(ctx: Context, a: str, b: str) -> Measure:
    """A − B in epochs to the common clean target (negative: A is faster)."""
    ev = _usable(ctx, (a, b), (0.0,), ctx.metric_margin(b))
    targets = speed_targets(ctx, (a, b), ev.seeds)
    if len(targets) < len(ev.seeds):
        ev.notes.append(f"{len(ev.seeds) - len(targets)} seeds where neither loss improved on the untrained model "
                        "have no target")
    ta, miss_a = time_to_target(ctx, a, targets)
    tb, miss_b = time_to_target(ctx, b, targets)
    d = interval(ta[s] - tb[s] for s in targets)
    steps = ctx.steps_per_epoch
    seeds = list(targets)
    margin = ctx.speed_margin
    metric = "test RMSE" if ctx.task == "regression" else "test accuracy"
    text = (f"epochs to the common target ({TARGET_FRACTION:.0%} of the best clean {metric} improvement of either "
            f"loss, per seed): {a} {_fmt(_mean(ta, seeds))}, {b} {_fmt(_mean(tb, seeds))} "
            f"({steps} steps per epoch); {a} − {b} = {d.fmt()} epochs (margin ±{margin:.3g} epochs "
            f"= {margin * steps:.3g} steps)")
    if miss_a or miss_b:
        text += (f"; never reached in {miss_a} {a} and {miss_b} {b} runs (counted as all {ctx.epochs} epochs, a "
                 "lower bound)")
    early_key = f"early_{ctx.primary}"
    from .analysis import early_epoch

    ea, eb = ctx.per_seed(a, 0.0, early_key), ctx.per_seed(b, 0.0, early_key)
    de = interval(ea[s] - eb[s] for s in seeds)
    text += (f"; clean {ctx.primary} after {early_epoch(ctx.epochs)} of {ctx.epochs} epochs: {a} "
             f"{_fmt(_mean(ea, seeds))}, {b} {_fmt(_mean(eb, seeds))}, {a} − {b} = {de.fmt()}")
    return Measure(d, margin, "epochs", "epochs to common target", text, ev, 0.0)


def damage(ctx: Context, label: str, seeds: Sequence[int]) -> dict[int, float]:
    """Per seed: how much the final primary metric worsens from clean to the top level (positive = worse)."""
    key = f"final_{ctx.primary}"
    clean, top = ctx.per_seed(label, 0.0, key), ctx.per_seed(label, ctx.top, key)
    sign = -1.0 if ctx.higher else 1.0
    return {s: sign * (top[s] - clean[s]) for s in seeds if s in clean and s in top}


def _damage(ctx: Context, a: str, b: str) -> Measure:
    """A's damage − B's damage from corruption 0 to the top level (negative: A is hurt less)."""
    margin = ctx.metric_margin(b)
    ev = _usable(ctx, (a, b), (0.0, ctx.top), margin)
    da, db = damage(ctx, a, ev.seeds), damage(ctx, b, ev.seeds)
    d = interval(da[s] - db[s] for s in ev.seeds)
    if ctx.task == "regression":
        sd = ctx.y_scale
        text = (f"test-RMSE rise from corruption 0 to {ctx.top:g}: {a} {_signed(_mean(da, ev.seeds))} "
                f"({_fmt(_mean(da, ev.seeds) / sd, 2)} SD), {b} {_signed(_mean(db, ev.seeds))} "
                f"({_fmt(_mean(db, ev.seeds) / sd, 2)} SD); {a} − {b} = {d.fmt()} (margin ±{margin:.3g}, "
                f"{RMSE_MARGIN:.0%} of {b}'s clean RMSE)")
    else:
        text = (f"final test-accuracy drop from noise 0 to {ctx.top:g}: {a} {_fmt(_mean(da, ev.seeds))}, "
                f"{b} {_fmt(_mean(db, ev.seeds))}; {a} − {b} = {d.fmt()} (margin ±{margin:.3g}, "
                f"≥ one of {ctx.n_test} test rows)")
    return Measure(d, margin, ctx.primary.removeprefix("test_"), f"{ctx.primary} damage", text, ev, ctx.top)


def _own_damage(ctx: Context, label: str, seeds: list[int], margin: float) -> Verdict:
    d = interval(damage(ctx, label, seeds).values())
    v = judge(d, margin, +1)
    return Verdict(v.verdict, f"{label} itself is damaged: {d.fmt()} ({v.reason})", v.more_seeds, v.seeds_needed)


# ------------------------------------------------------------------ claims


def _claim(ctx: Context, cid: str, text: str, losses: tuple[str, ...], m: Measure, v: Verdict, *,
           article: bool = True, extra: str = "") -> Claim:
    ev = m.evidence
    if ev.problems:
        v = Verdict(UNCLEAR, "; ".join(ev.problems))
    evidence = "; ".join([m.text + extra, *ev.notes])
    return Claim(text, evidence, v.verdict, article, cid, v.reason, losses, m.level, m.metric, m.diff.mean,
                 m.diff.lo, m.diff.hi, m.margin, m.unit, len(ev.seeds), len(ev.excluded), v.more_seeds,
                 v.seeds_needed, () if ev.problems else tuple(ev.pending))


def _missing(ctx: Context, names: tuple[str, ...], *, corrupted: bool = False) -> str | None:
    absent = [n for n in names if ctx.first(n) is None]
    if absent:
        return f"needs loss(es) {', '.join(absent)} in --losses"
    if 0.0 not in ctx.levels:
        return "needs corruption level 0 in --corruption"
    if corrupted and ctx.top <= 0.0:
        return "needs a corruption level above 0 in --corruption"
    if len(ctx.seeds) < 2:
        return "needs --seeds 2 or more for intervals"
    return None


def _unjudged(cid: str, text: str, reason: str, *, article: bool = True) -> Claim:
    return Claim(text, reason, UNCLEAR, article, cid, reason)


def _directional(ctx: Context, cid: str, text: str, names: tuple[str, ...], corrupted: bool,
                 build: Callable[[], tuple[tuple[str, ...], Measure, Verdict, str]], article: bool = True) -> Claim:
    reason = _missing(ctx, names, corrupted=corrupted)
    if reason:
        return _unjudged(cid, text, reason, article=article)
    losses, m, v, extra = build()
    return _claim(ctx, cid, text, losses, m, v, article=article, extra=extra)


def _regression(ctx: Context) -> list[Claim]:
    out: list[Claim] = []
    mse, mae = ctx.first("mse"), ctx.first("mae")

    def faster() -> tuple[tuple[str, ...], Measure, Verdict, str]:
        m = _speed(ctx, mse, mae)  # type: ignore[arg-type]
        return (mse, mae), m, judge(m.diff, m.margin, -1), ""  # type: ignore[return-value]

    out.append(_directional(ctx, "mse_converges_faster", "MSE converges faster (than MAE)", ("mse", "mae"),
                            False, faster))

    def sensitive() -> tuple[tuple[str, ...], Measure, Verdict, str]:
        m = _damage(ctx, mse, mae)  # type: ignore[arg-type]
        v = _combine(judge(m.diff, m.margin, +1), _own_damage(ctx, mse, m.evidence.seeds, m.margin))  # type: ignore[arg-type]
        return (mse, mae), m, v, ""  # type: ignore[return-value]

    out.append(_directional(ctx, "mse_sensitive", "MSE is sensitive to anomalies", ("mse", "mae"), True,
                            sensitive))

    def robust() -> tuple[tuple[str, ...], Measure, Verdict, str]:
        m = _damage(ctx, mae, mse)  # type: ignore[arg-type]
        return (mae, mse), m, judge(m.diff, m.margin, -1), ""  # type: ignore[return-value]

    out.append(_directional(ctx, "mae_robust", "MAE is robust to anomalies", ("mse", "mae"), True, robust))

    for name, title in (("huber", "Huber"), ("log_cosh", "Log-cosh")):
        for label in ctx.labels(name) or [name]:
            shown = title if label == name else f"{title} ({label})"

            def compromise(label: str = label) -> tuple[tuple[str, ...], Measure, Verdict, str]:
                rob = _damage(ctx, label, mse)  # type: ignore[arg-type]
                speed = _speed(ctx, label, mse)  # type: ignore[arg-type]
                v = _combine(judge(rob.diff, rob.margin, -1), _noninferior(speed.diff, speed.margin))
                rob.evidence.problems += speed.evidence.problems
                extra = f"; {speed.text}"
                if mae is not None:
                    vs_mae = judge(_damage(ctx, label, mae).diff, rob.margin, -1).verdict
                    extra += "; robustness " + ("more robust than MAE" if vs_mae == HOLDS else
                                                "between MSE and MAE" if judge(_damage(ctx, label, mae).diff,
                                                                               rob.margin, +1).verdict == HOLDS
                                                else "close to MAE's")
                return (label, mse), rob, v, extra  # type: ignore[return-value]

            out.append(_directional(ctx, f"{label}_compromise",
                                    f"{shown} is a compromise: more robust than MSE, as fast as MSE",
                                    ("mse", name), True, compromise))

    out += _smoothness(ctx)
    for spec in ctx.losses:
        if spec.name in ARTICLE_REGRESSION:
            continue

        def other(label: str = spec.label) -> tuple[tuple[str, ...], Measure, Verdict, str]:
            m = _damage(ctx, label, mse)  # type: ignore[arg-type]
            return (label, mse), m, judge(m.diff, m.margin, -1), ""  # type: ignore[return-value]

        out.append(_directional(ctx, f"{spec.label}_robust", f"{spec.label} is more robust to anomalies than MSE",
                                ("mse",), True, other, article=False))
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
            verdict = HOLDS if test(d1, d2) else FAILS
            out.append(Claim(shown, evidence, verdict, True, f"{label}_smoothness",
                             "checked on the loss itself (autograd on refining grids), not on the data", (label,)))
    return out


def _memorisation(ctx: Context, label: str, seeds: list[int]) -> str:
    best = _mean(ctx.per_seed(label, ctx.top, "best_test_accuracy"), seeds)
    final = _mean(ctx.per_seed(label, ctx.top, "final_test_accuracy"), seeds)
    epoch = _mean(ctx.per_seed(label, ctx.top, "selected_epoch"), seeds)
    return (f"; at noise {ctx.top:g} {label}'s test accuracy at its validation-selected epoch (about {epoch:.0f}) "
            f"was {_fmt(best)}, final {_fmt(final)} (memorisation gap {_fmt(best - final, 2)})")


def _kl_ce_gap(ctx: Context) -> str:
    ce, kl = ctx.first("cross_entropy"), ctx.first("kl_div")
    if ce is None or kl is None:
        return ""
    gaps = [
        abs(v["final_test_accuracy"] - ctx.scalars[(ce, lev, s)]["final_test_accuracy"])
        for (lab, lev, s), v in ctx.scalars.items()
        if lab == kl and (ce, lev, s) in ctx.scalars
    ]
    gap = max(gaps) if gaps else math.nan
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

        def fast(label: str | None = label, extra: str = extra) -> tuple[tuple[str, ...], Measure, Verdict, str]:
            m = _speed(ctx, label, mae)  # type: ignore[arg-type]
            return (label, mae), m, judge(m.diff, m.margin, -1), extra  # type: ignore[return-value]

        out.append(_directional(ctx, f"{name}_fast", f"{title} learns fast (faster than MAE)",
                                (name, "softmax_mae"), False, fast))

        def fragile(label: str | None = label, extra: str = extra) -> tuple[tuple[str, ...], Measure, Verdict, str]:
            m = _damage(ctx, label, mae)  # type: ignore[arg-type]
            v = _combine(judge(m.diff, m.margin, +1), _own_damage(ctx, label, m.evidence.seeds, m.margin))  # type: ignore[arg-type]
            return (label, mae), m, v, _memorisation(ctx, label, m.evidence.seeds) + extra  # type: ignore[return-value, arg-type]

        out.append(_directional(ctx, f"{name}_fragile", f"{title} is fragile to noisy labels",
                                (name, "softmax_mae"), True, fragile))

    ref = ctx.first("cross_entropy") or ctx.first("kl_div")
    ref_name = loss_info(ref).name if ref else "cross_entropy"

    def robust() -> tuple[tuple[str, ...], Measure, Verdict, str]:
        m = _damage(ctx, mae, ref)  # type: ignore[arg-type]
        return (mae, ref), m, judge(m.diff, m.margin, -1), ""  # type: ignore[return-value]

    out.append(_directional(ctx, "softmax_mae_robust", "MAE is robust to noisy labels", ("softmax_mae", ref_name),
                            True, robust))

    def slower() -> tuple[tuple[str, ...], Measure, Verdict, str]:
        m = _speed(ctx, mae, ref)  # type: ignore[arg-type]
        return (mae, ref), m, judge(m.diff, m.margin, +1), ""  # type: ignore[return-value]

    out.append(_directional(ctx, "softmax_mae_slower", "MAE learns slower (than cross-entropy)",
                            ("softmax_mae", ref_name), False, slower))

    for spec in ctx.losses:
        if spec.name in ARTICLE_CLASSIFICATION:
            continue

        def other(label: str = spec.label) -> tuple[tuple[str, ...], Measure, Verdict, str]:
            m = _damage(ctx, label, ref)  # type: ignore[arg-type]
            return (label, ref), m, judge(m.diff, m.margin, -1), ""  # type: ignore[return-value]

        out.append(_directional(ctx, f"{spec.label}_robust",
                                f"{spec.label} is more robust to noisy labels than {ref or 'cross_entropy'}",
                                (ref_name,), True, other, article=False))
    return out


def _evaluate(ctx: Context) -> list[Claim]:
    return _regression(ctx) if ctx.task == "regression" else _classification(ctx)


def evaluate_claims(ctx: Context) -> list[Claim]:
    """Every claim the run can speak to, article claims first, then claims about other losses.

    A claim whose corrupted runs have not converged is judged again with their final metrics moved on by
    their trend (:meth:`Context.extend`): it keeps its verdict, with a note, only when that verdict is the same.
    """
    claims = _evaluate(ctx)
    if ctx.extended or not any(c.pending for c in claims):
        return claims
    later = {c.id: c for c in _evaluate(ctx.extend())}
    out = []
    for c in claims:
        if c.pending:
            after = later.get(c.id)
            still = "; ".join(c.pending)
            if after is not None and after.verdict == c.verdict:
                c = replace(c, evidence=f"{c.evidence}; {still}, but the verdict is the same with the trend "
                                        f"extended over another {ctx.window} epochs")
            else:
                shown = after.verdict if after is not None else "unknown"
                c = replace(c, verdict=UNCLEAR, more_seeds=False, seeds_needed=None,
                            reason=f"{still}; extended over another {ctx.window} epochs at that rate, the verdict "
                                   f"would be {shown!r}")
        out.append(c)
    return out
