"""summary.csv, report.md and the figures of a finished compare job."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import plots
from .analysis import Curve, curves_from_rows, early_epoch, interval, scalars
from .claims import KL_CE_NOTE, Claim, Context, evaluate_claims
from .corruption import GROSS_SHIFT_SD, HEAVY_TAIL_DF, HEAVY_TAIL_SCALE_SD
from .metrics import METRICS, PRIMARY

if TYPE_CHECKING:
    from .runner import Job
    from .store import Store

__all__ = ["NOISE_TEXT", "summarize", "write_report"]

NOISE_TEXT = {
    "gross": f"gross outliers: the fraction r of training targets shifted up by U{GROSS_SHIFT_SD} training SDs",
    "heavy_tail": (
        f"heavy-tailed noise: the fraction r of training targets get {HEAVY_TAIL_SCALE_SD:g} SD x "
        f"Student-t({HEAVY_TAIL_DF:g}) noise"
    ),
    "symmetric": "symmetric label noise: the fraction r of training labels changed to a uniformly random other class",
    "pair": "pair label noise: the fraction r of training labels changed from class c to c+1 (mod C)",
}


def _summary_keys(task: str) -> list[str]:
    keys = [f"{kind}_{m}" for m in METRICS[task] for kind in ("final", "best")]
    return [*keys, "epochs_to_90", f"early_{PRIMARY[task]}", "final_train_loss", "precision_at_k"]


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
                ci = interval(r[k] for r in runs)
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
    lines = ["| claim | verdict | evidence |", "|---|---|---|"]
    for c in claims:
        tag = "" if c.article else " *(not in the article)*"
        lines.append(f"| {c.claim}{tag} | **{c.verdict}** | {c.evidence} |")
    return lines


def _data_lines(job: Job) -> list[str]:
    d, data, cfg = job.dataset, job.data, job.config
    n_train, n_test = len(data.y_train), len(data.y_test)
    lines = [f"- data: **{d.name}**, {job.task}, {n_train + n_test} rows ({n_train} train / {n_test} test, "
             f"a fixed split), {len(d.feature_names)} features standardised with training statistics"]
    if job.task == "regression":
        lines.append(f"- target standardised for training with the clean training mean {data.y_mean:.4g} and SD "
                     f"{data.y_scale:.4g}; RMSE and MAE are reported in the original units (divide by "
                     f"{data.y_scale:.4g} for SDs)")
    else:
        lines.append(f"- {d.num_classes} classes")
    lines += [f"- note: {n}" for n in d.notes]
    model = f"MLP {list(cfg.model.hidden)}" if cfg.model.kind == "mlp" else "linear"
    t = cfg.train
    lines += [
        f"- losses: {', '.join(s.label for s in cfg.losses)}",
        f"- corruption levels r = {', '.join(f'{x:g}' for x in cfg.levels)} ({NOISE_TEXT[cfg.noise_kind]}; "
        "training split only, the test split is clean)",
        f"- {cfg.seeds} seeds (paired: a seed fixes the initial weights, the minibatch order and the corrupted "
        f"samples); {model}, {t.optimizer} lr {t.lr:g}, batch size {t.batch_size}, {t.epochs} epochs",
    ]
    return lines


def write_report(
    job: Job, store: Store, rows: list[list[Any]], runs_info: list[list[Any]]
) -> tuple[list[Claim], list[Path]]:
    """Write summary.csv, report.md and figures/*.png; return the claims and the files written."""
    task, cfg = job.task, job.config
    by_run: dict[tuple[str, float, int], Curve] = curves_from_rows(
        (dict(zip(job.columns, r, strict=True)) for r in rows), task
    )
    per_run = {k: scalars(c, task, cfg.train.epochs) for k, c in by_run.items()}
    for loss, level, seed, _k, precision in runs_info:
        per_run[(loss, float(level), int(seed))]["precision_at_k"] = float(precision) if level > 0 else math.nan
    columns, summary = summarize(job, per_run)
    files = [store.write_csv("summary.csv", columns, ([r[c] for c in columns] for r in summary))]

    ctx = Context(task, cfg.losses, cfg.levels, cfg.train.epochs, cfg.train.optimizer, per_run, job.data.y_scale)
    claims = evaluate_claims(ctx)

    labels = [s.label for s in cfg.losses]
    primary = PRIMARY[task]
    fig = store.out / "figures"
    files.append(plots.learning_curves(by_run, labels, cfg.levels, primary, fig / "learning_curves.png",
                                       f"{job.dataset.name}: learning curves (mean, 95% band over seeds)"))
    files.append(plots.metric_vs_corruption(summary, labels, primary, fig / "final_vs_corruption.png",
                                            f"{job.dataset.name}: final {primary} against corruption"))
    files.append(plots.loss_curves(cfg.losses, fig / "loss_curves.png"))

    digits = 3 if task == "classification" else 2
    md = [f"# losskit compare: {job.dataset.name}", "", *_data_lines(job), "", "## Claims", ""]
    md += claims_markdown(claims)
    names = {s.name for s in cfg.losses}
    if {"cross_entropy", "kl_div"} <= names:
        md += ["", KL_CE_NOTE]
    md += ["", "A comparison is *better*/*worse* when the 95% t-interval of the paired per-seed difference excludes 0, "
           "*equivalent* when it lies within a margin too small to matter, and *unclear* otherwise. A claim "
           "**holds** when the comparisons fall on its side, **does not hold** when they fall on the other side or "
           "show no difference, and is **inconclusive** otherwise. Smoothness claims are checked on the loss itself "
           "(autograd derivatives on refining grids), not on the data.", ""]
    md += [f"## Final {primary} (mean [95% interval] over seeds)", ""]
    md += _table(summary, labels, cfg.levels, f"final_{primary}", digits)
    for key, title in ((f"best_{primary}", f"Best {primary} over the epochs"),
                       ("epochs_to_90", "Epochs to 90% of the final improvement"),
                       (f"early_{primary}", f"{primary} after {early_epoch(cfg.train.epochs)} epochs")):
        md += ["", f"## {title}", "", *_table(summary, labels, cfg.levels, key, 1 if key == "epochs_to_90" else digits)]
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
           "- `config.json`: the configuration and its fingerprint", ""]
    files.append(store.write_text("report.md", "\n".join(md)))
    return claims, files
