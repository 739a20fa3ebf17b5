"""Which loss for this data: the losses ranked at each corruption level, with paired intervals.

The ranking uses each run's *validation-selected* test metric (the test
metric at the epoch its validation split picked), so it reflects a model one
would actually ship. Each loss gets the 95% interval of its paired per-seed
difference to the best loss; a loss whose interval includes 0 cannot be told
apart from the best. Diverged runs drop out with their seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .analysis import Interval, interval
from .claims import Context

__all__ = ["Entry", "Ranking", "early_stopping_notes", "rank", "ranking_notes"]


@dataclass(frozen=True)
class Entry:
    label: str
    mean: float  # validation-selected test metric, mean over seeds
    final: float  # final test metric, mean over seeds
    vs_best: Interval  # paired (this − best); mean 0 for the best itself
    tied: bool  # cannot be told apart from the best (the interval includes 0)


@dataclass(frozen=True)
class Ranking:
    level: float
    metric: str
    seeds: int
    excluded: int
    entries: tuple[Entry, ...]

    @property
    def leaders(self) -> list[str]:
        return [e.label for e in self.entries if e.tied]

    def lines(self) -> list[str]:
        what = "on the data as given" if self.level == 0 else f"with corruption r = {self.level:g}"
        head = (f"{what}: best {self.entries[0].label} ({self.metric} {self.entries[0].mean:.4g} at the "
                f"validation-selected epoch, {self.seeds} seeds"
                + (f", {self.excluded} excluded as diverged" if self.excluded else "") + ")")
        rest = [f"  {k + 1}. {e.label}: {e.mean:.4g} (final {e.final:.4g})"
                + ("" if k == 0 else f", vs best {e.vs_best.fmt()}" + (" (cannot be told apart)" if e.tied else ""))
                for k, e in enumerate(self.entries)]
        if len(self.leaders) > 1:
            rest.append(f"  the leaders {', '.join(self.leaders)} cannot be told apart at {self.seeds} seeds")
        return [head, *rest]


def rank(ctx: Context) -> list[Ranking]:
    """One ranking per corruption level, best first."""
    key = f"best_{ctx.primary}"
    out = []
    for level in ctx.levels:
        labels = [s.label for s in ctx.losses]
        bad = {s for (lab, lev, s), c in ctx.curves.items() if lev == level and lab in labels and c.diverged}
        seeds = [s for s in ctx.seeds if s not in bad and all((lab, level, s) in ctx.curves for lab in labels)]
        if not seeds:
            continue
        values = {lab: ctx.per_seed(lab, level, key) for lab in labels}
        finals = {lab: ctx.per_seed(lab, level, f"final_{ctx.primary}") for lab in labels}
        means = {lab: float(np.mean([values[lab][s] for s in seeds])) for lab in labels}
        order = sorted(labels, key=lambda lab: -means[lab] if ctx.higher else means[lab])
        best = order[0]
        entries = []
        for lab in order:
            d = interval(values[lab][s] - values[best][s] for s in seeds)
            tied = lab == best or not (math.isfinite(d.lo) and (d.lo > 0 or d.hi < 0))
            entries.append(Entry(lab, means[lab], float(np.mean([finals[lab][s] for s in seeds])), d, tied))
        out.append(Ranking(level, ctx.primary, len(seeds), len(bad), tuple(entries)))
    return out


def ranking_notes(rankings: list[Ranking]) -> list[str]:
    """A warning for each corrupted level whose leader differs from the leader on the data as given."""
    clean = next((r for r in rankings if r.level == 0), None)
    if clean is None:
        return []
    out = []
    for r in rankings:
        if r.level == 0:
            continue
        if not set(clean.leaders) & set(r.leaders):
            loser = next(e for e in r.entries if e.label == clean.entries[0].label)
            cost = next(e for e in clean.entries if e.label == r.entries[0].label)
            out.append(
                f"the ranking changes with corruption: on the data as given {clean.entries[0].label} is best and "
                f"{r.entries[0].label} is off by {cost.vs_best.fmt()}; with injected corruption r = {r.level:g} "
                f"{r.entries[0].label} is best and {clean.entries[0].label} is off by {loser.vs_best.fmt()}. "
                "Pick the robust loss only if your data has such corruption; the data as given may not."
            )
    return out


def _selection_warning(r: Ranking, sign: float) -> list[str]:
    """A warning where another loss trained to the end tests better than the leader at its selected epoch.

    The validation split is corrupted like the training data and can be small, so the epochs it selects
    may not generalise; the ranking then rests on that selection, and the reader needs to know.
    """
    leader = r.entries[0]
    by_final = max(r.entries, key=lambda e: sign * e.final)
    if by_final.label == leader.label or sign * (by_final.final - leader.mean) <= 0:
        return []
    return [
        f"at r = {r.level:g} the recommendation {leader.label} ({r.metric} {leader.mean:.4g} at its "
        f"validation-selected epoch) tests worse than {by_final.label} trained to the end (final "
        f"{by_final.final:.4g}): the validation split picked epochs that do not generalise, so this ranking is "
        "unreliable; use more rows for validation (a bigger data set) or compare the final figures"
    ]


def early_stopping_notes(ctx: Context, rankings: list[Ranking]) -> list[str]:
    """Where stopping at the validation-selected epoch moves the test metric more than the choice of loss,
    and where the selection itself misleads (another loss's final figure beats the leader's selected one)."""
    out = []
    sign = 1.0 if ctx.higher else -1.0
    for r in rankings:
        out.extend(_selection_warning(r, sign))
        gains = [sign * (e.mean - e.final) for e in r.entries]
        finals = [e.final for e in r.entries]
        spread = max(finals) - min(finals)
        gain = float(np.mean(gains))
        if gain > spread and gain > 0:
            out.append(
                f"at r = {r.level:g}, stopping at the validation-selected epoch changes {r.metric} by {gain:.3g} on "
                f"average (final → selected), more than the spread between the losses' final figures ({spread:.3g}): "
                "here early stopping matters more than the choice of loss"
            )
    return out
