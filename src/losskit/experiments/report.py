"""summary.csv, claims.csv, report.md and the figures of a finished compare job."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import plots
from .analysis import Curve, curves_from_rows, early_epoch, interval
from .claims import KL_CE_NOTE, UNCLEAR, Claim, Context, evaluate_claims, speed_targets, time_to_target
from .corruption import GROSS_SHIFT_SD, HEAVY_TAIL_DF, HEAVY_TAIL_SCALE_SD
from .job import Job
from .metrics import METRICS, PRIMARY
from .recommend import Ranking, early_stopping_notes, rank, ranking_notes
from .store import Store

__all__ = ["CLAIM_COLUMNS", "NOISE_TEXT", "Report", "claims_markdown", "evaluate", "summarize", "write_report"]

NOISE_TEXT = {
    "gross": f"gross outliers: the fraction r of training targets shifted up by U{GROSS_SHIFT_SD} training SDs",
    "heavy_tail": (
        f"heavy-tailed noise: the fraction r of training targets get {HEAVY_TAIL_SCALE_SD:g} SD x "
        f"Student-t({HEAVY_TAIL_DF:g}) noise"
    ),
    "symmetric": "symmetric label noise: the fraction r of training labels changed to a uniformly random other class",
    "pair": "pair label noise: the fraction r of training labels changed from class c to c+1 (mod C)",
}
CLAIM_COLUMNS = ("id", "claim", "article", "losses", "corruption", "metric", "estimate", "lo", "hi", "margin",
                 "unit", "n_seeds", "n_excluded", "verdict", "reason", "seeds_needed", "evidence")
MIN_TEST_ROWS = 30  # fewer test rows than this: RMSE/accuracy per split rest on a handful of rows


@dataclass
class Report:
    claims: list[Claim]
    files: list[Path] = field(default_factory=list)
    rankings: list[Ranking] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _summary_keys(task: str) -> list[str]:
    keys = [f"{kind}_{m}" for m in METRICS[task] for kind in ("final", "best")]
    return [*keys, "selected_epoch", "epochs_to_target", f"early_{PRIMARY[task]}", "final_train_loss",
            "precision_at_k"]


def summarize(
    job: Job, per_run: dict[tuple[str, float, int], dict[str, float]]
) -> tuple[list[str], list[dict[str, Any]]]:
    """One row per (loss, corruption): mean and 95% interval over seeds of every per-run number."""
    keys = _summary_keys(job.task)
    columns = ["dataset", "task", "loss", "corruption", "n_seeds"]
    for k in keys:
        columns += [k, f"{k}_lo", f"{k}_hi"]
    rows = []
    for spec in job.config.losses:
        for level in job.config.levels:
            runs = [v for (lab, lev, _), v in per_run.items() if lab == spec.label and lev == level]
            if not runs:
                continue
            row: dict[str, Any] = {"dataset": job.dataset.name, "task": job.task, "loss": spec.label,
                                   "corruption": level, "n_seeds": len(runs)}
            for k in keys:
                ci = interval(r.get(k, math.nan) for r in runs)
                row[k], row[f"{k}_lo"], row[f"{k}_hi"] = ci.mean, ci.lo, ci.hi
            rows.append(row)
    return columns, rows


def _cell(row: dict[str, Any], key: str, digits: int) -> str:
    mean, lo, hi = row[key], row[f"{key}_lo"], row[f"{key}_hi"]
    if not math.isfinite(mean):
        return "n/a"
    if not math.isfinite(lo):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def _table(summary: list[dict[str, Any]], losses: Sequence[str], levels: Sequence[float], key: str,
           digits: int) -> list[str]:
    lines = ["| loss | " + " | ".join(f"r = {lev:g}" for lev in levels) + " |",
             "|---|" + "---|" * len(levels)]
    for label in losses:
        cells = []
        for level in levels:
            row = next((r for r in summary if r["loss"] == label and r["corruption"] == level), None)
            cells.append(_cell(row, key, digits) if row else "")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def claims_markdown(claims: Sequence[Claim]) -> list[str]:
    lines = ["| claim | verdict | margin | evidence |", "|---|---|---|---|"]
    for c in claims:
        tag = "" if c.article else " *(not in the article)*"
        reason = f" ({c.reason})" if c.reason and c.reason != c.evidence else ""
        lines.append(f"| {c.claim}{tag} | **{c.verdict}**{reason} | {c.margin_text} | {c.evidence} |")
    return lines


def claim_row(c: Claim) -> list[Any]:
    """One claims.csv row."""
    return [c.id, c.claim, int(c.article), " ".join(c.losses), c.corruption, c.metric, c.estimate, c.lo, c.hi,
            c.margin, c.unit, c.n_seeds, c.n_excluded, c.verdict, c.reason,
            "" if c.seeds_needed is None else c.seeds_needed, c.evidence]


def context(job: Job, rows: list[list[Any]]) -> Context:
    """The claims' view of a job's results.csv rows."""
    task, cfg = job.task, job.config
    curves: dict[tuple[str, float, int], Curve] = curves_from_rows(
        (dict(zip(job.columns, r, strict=True)) for r in rows), task
    )
    seeds = sorted({s for (_, _, s) in curves})
    split = job.split(seeds[0]) if seeds else None
    return Context(task, cfg.losses, cfg.levels, cfg.train.epochs, curves,
                   {s: job.split(s).trivial for s in seeds}, job.sizes[2], job.steps_per_epoch,
                   split.y_scale if split is not None else 1.0)


def evaluate(job: Job, rows: list[list[Any]], runs_info: list[list[Any]]) -> tuple[list[Claim], Context]:
    """The claims on the rows so far (no files written): what ``--seeds auto`` checks between chunks."""
    ctx = context(job, rows)
    for loss, level, seed, _k, precision in runs_info:
        key = (loss, float(level), int(seed))
        if key in ctx.scalars:
            ctx.scalars[key]["precision_at_k"] = float(precision) if level > 0 else math.nan
    labels = [spec.label for spec in job.config.losses]
    if 0.0 in ctx.levels:
        clean = [s for s in ctx.seeds if all((lab, 0.0, s) in ctx.curves and not ctx.curves[(lab, 0.0, s)].diverged
                                             for lab in labels)]
        targets = speed_targets(ctx, labels, clean)  # one target per seed, common to the whole grid
        for label in labels:
            for s, t in time_to_target(ctx, label, targets)[0].items():
                ctx.scalars[(label, 0.0, s)]["epochs_to_target"] = t
    return evaluate_claims(ctx), ctx


def _data_lines(job: Job, seeds: int) -> list[str]:
    d, cfg = job.dataset, job.config
    n_train, n_val, n_test = job.sizes
    lines = [f"- data: **{d.name}**, {job.task}, {len(d.y)} rows, {len(d.feature_names)} features; each seed draws its "
             f"own split ({'stratified, ' if job.task == 'classification' else ''}{n_train} train / {n_val} "
             f"validation / {n_test} test rows), features standardised with that split's training statistics"]
    if job.task == "regression":
        lines.append("- target standardised for training with each split's clean training mean and SD; RMSE and MAE "
                     "are reported in the original units")
    else:
        lines.append(f"- {d.num_classes} classes")
    lines += [f"- note: {n}" for n in (*d.notes, *job.notes)]
    if n_test < MIN_TEST_ROWS:
        lines.append(f"- **warning**: only {n_test} test rows per split; each test row moves the metric a lot, so "
                     "the margins may be out of reach: raise --test-size or use more data")
    if job.task == "classification" and 1.0 / n_test > 0.01:
        lines.append(f"- the accuracy margin is one test row, 1/{n_test} = {1.0 / n_test:.3g} (more than 1 point)")
    model = f"MLP {list(cfg.model.hidden)}" if cfg.model.kind == "mlp" else "linear"
    t = cfg.train
    seeds_text = (f"{seeds} seeds (--seeds auto, cap {cfg.max_seeds})" if cfg.auto else f"{seeds} seeds")
    lines += [
        f"- losses: {', '.join(s.label for s in cfg.losses)}",
        f"- corruption levels r = {', '.join(f'{x:g}' for x in cfg.levels)} ({NOISE_TEXT[cfg.noise_kind]}; "
        "training and validation splits, corrupted as one pool; the test split is clean)",
        f"- {seeds_text} (paired: a seed fixes the split, the initial weights, the minibatch order and the corrupted "
        f"samples for every loss); {model}, {t.optimizer} lr {t.lr:g}, batch size {t.batch_size}, {t.epochs} epochs "
        f"({job.steps_per_epoch} steps per epoch)",
        "- *best* figures are the test metric at each run's validation-selected epoch, never picked on the test split",
    ]
    return lines


RULE_TEXT = (
    "**How verdicts are decided.** Each claim compares the paired per-seed differences (95% t-interval "
    "[lo, hi], estimate d, oriented so the claimed direction is positive) with the margin shown: **holds** when "
    "lo > 0 and d ≥ margin; **holds, small effect** when lo > 0 and hi < margin; **does not hold** when hi < margin "
    "and lo ≤ 0 (no effect of the margin's size in the claimed direction); **inconclusive** otherwise, with about "
    "how many seeds would settle it. Margins: accuracy max(0.01, 1/n_test); RMSE 5% of the reference's clean RMSE; "
    "speed 5% of the epochs (at least one step), measured as epochs to a common target, 90% of the best clean "
    "improvement of either loss. Every claim is **inconclusive**, with the fix, when its runs have not converged "
    "(the metric moved by more than the margin over the last 10% of the epochs), when a clean model does not "
    "beat the trivial predictor, or when more than 20% of its seeds are excluded (diverged runs). Smoothness "
    "claims are checked on the loss itself (autograd derivatives on refining grids), not on the data."
)


def recommendation_markdown(rankings: list[Ranking], notes: list[str]) -> list[str]:
    md = ["## Which loss for this data", "",
          "Losses ranked by the test metric at each run's validation-selected epoch; *vs best* is the paired "
          "per-seed difference to the best loss with its 95% interval.", ""]
    for r in rankings:
        head, *rest = r.lines()
        md += [f"- {head}", *(f"  {line.strip()}" for line in rest), ""]
    md += [f"- **note**: {n}" for n in notes]
    return md


def write_report(job: Job, store: Store, rows: list[list[Any]], runs_info: list[list[Any]]) -> Report:
    """Write summary.csv, claims.csv, report.md and figures/*.png; return the claims and the files written."""
    task, cfg = job.task, job.config
    claims, ctx = evaluate(job, rows, runs_info)
    per_run = ctx.scalars
    columns, summary = summarize(job, per_run)
    files = [store.write_csv("summary.csv", columns, ([r[c] for c in columns] for r in summary)),
             store.write_csv("claims.csv", CLAIM_COLUMNS, (claim_row(c) for c in claims))]
    rankings = rank(ctx)
    notes = [*ranking_notes(rankings), *early_stopping_notes(ctx, rankings)]
    unresolved = [c for c in claims if c.verdict == UNCLEAR and c.seeds_needed]
    if unresolved and not cfg.auto:
        most = max(c.seeds_needed or 0 for c in unresolved)
        notes.append(f"{len(unresolved)} claim(s) are inconclusive for want of seeds; about {most} seeds would "
                     "settle them (--seeds auto adds seeds until they resolve)")

    labels = [s.label for s in cfg.losses]
    primary = PRIMARY[task]
    fig = store.out / "figures"
    files.append(plots.learning_curves(ctx.curves, labels, cfg.levels, primary, fig / "learning_curves.png",
                                       f"{job.dataset.name}: learning curves (mean, 95% band over seeds)"))
    files.append(plots.metric_vs_corruption(summary, labels, primary, fig / "final_vs_corruption.png",
                                            f"{job.dataset.name}: final {primary} against corruption"))
    files.append(plots.loss_curves(cfg.losses, fig / "loss_curves.png"))

    digits = 3 if task == "classification" else 2
    md = [f"# losskit compare: {job.dataset.name}", "", *_data_lines(job, len(ctx.seeds)), "", "## Claims", ""]
    md += claims_markdown(claims)
    names = {s.name for s in cfg.losses}
    if {"cross_entropy", "kl_div"} <= names:
        md += ["", KL_CE_NOTE]
    md += ["", RULE_TEXT, ""]
    md += recommendation_markdown(rankings, notes)
    md += ["", f"## Final {primary} (mean [95% interval] over seeds)", ""]
    md += _table(summary, labels, cfg.levels, f"final_{primary}", digits)
    for key, title in ((f"best_{primary}", f"{primary} at the validation-selected epoch"),
                       ("selected_epoch", "The validation-selected epoch"),
                       ("epochs_to_target", "Epochs to the common clean target (90% of the best clean improvement "
                                            "of any loss)"),
                       (f"early_{primary}", f"{primary} after {early_epoch(cfg.train.epochs)} epochs")):
        levels = (0.0,) if key == "epochs_to_target" and 0.0 in cfg.levels else cfg.levels
        places = 1 if key in ("epochs_to_target", "selected_epoch") else digits
        md += ["", f"## {title}", "", *_table(summary, labels, levels, key, places)]
    other = [m for m in METRICS[task] if m != primary]
    for m in other:
        md += ["", f"## Final {m}", "", *_table(summary, labels, cfg.levels, f"final_{m}", digits)]
    noisy = [lev for lev in cfg.levels if lev > 0]
    if noisy:
        md += ["", "## Finding the corrupted samples with per-sample losses", "",
               "After training, each run's per-sample training losses (`reduction=\"per_sample\"`, the article's "
               "`reduction=\"none\"`) are ranked; precision@k is the fraction of the k highest-loss samples that "
               "are corrupted, with k = the number corrupted (chance level = r).", ""]
        md += _table(summary, labels, noisy, "precision_at_k", 2)
    md += ["", "## Figures", "", "![learning curves](figures/learning_curves.png)", "",
           "![final metric against corruption](figures/final_vs_corruption.png)", "",
           "![losses and derivatives](figures/loss_curves.png)", "",
           "## Files", "", "- `results.csv`: one row per run and epoch (epoch 0 = before training)",
           "- `runs.csv`: per run, the number of corrupted samples and precision@k",
           "- `summary.csv`: one row per (loss, corruption), every number with its 95% interval (`_lo`, `_hi`)",
           "- `claims.csv`: one row per claim: id, text, losses, corruption, metric, estimate and interval, margin, "
           "seeds used and excluded, verdict and reason",
           "- `config.json`: the configuration and its fingerprint", ""]
    files.append(store.write_text("report.md", "\n".join(md)))
    return Report(claims, files, rankings, notes)
