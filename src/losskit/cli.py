"""The ``losskit`` command line: ``compare``, ``plot`` and ``list``.

Bad input, and an output that cannot be written (a full disk, a read-only
mount, ``--out`` under a file), get one line on stderr and exit code 2;
bad input is refused before anything is written. Ctrl-C exits with 130 and
SIGTERM with 143, at any moment (start-up included), after saving progress;
rerunning the same command continues where it stopped. The errors, codes and
signal handling live in :mod:`losskit._usage`.
"""

from __future__ import annotations

import argparse
import math
import sys
import textwrap
from pathlib import Path
from typing import Any, NoReturn

from . import _usage
from ._usage import EXIT_USAGE, INTERRUPTED, UsageError
from .errors import LossInputError

__all__ = ["main"]

DEFAULT_LOSSES = {"regression": "mse,mae,huber,log_cosh", "classification": "cross_entropy,kl_div,softmax_mae"}
DEFAULT_LEVELS = {"regression": "0,0.1,0.2", "classification": "0,0.2,0.4"}
DEFAULT_LR = {"adam": 1e-3, "sgd": 0.01}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)", self.prog)


# ------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="losskit",
        description="Loss functions for PyTorch, and the evidence to choose one.",
        epilog="Run 'losskit COMMAND --help' for a command's options.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    c = sub.add_parser(
        "compare",
        help="train the same model under each loss on real data with controlled corruption, and judge the claims",
        description=textwrap.fill(
            "Train the same model under each loss on real data, with a controlled fraction of the training split "
            "corrupted (outliers for regression, label noise for classification), over several seeds; write "
            "results.csv, summary.csv, report.md and figures to --out, and print which of the article's claims "
            "hold. Every (loss, corruption, seed) run trains at once in one batched model.", 78
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  losskit compare --dataset diabetes --corruption 0,0.1,0.2\n"
            "  losskit compare --dataset digits --losses cross_entropy,softmax_mae --corruption 0,0.4\n"
            "  losskit compare --csv houses.csv --target price --losses mse,huber:delta=2 --out runs/houses\n"
            "\nRerun the same command with the same --out to continue an interrupted run."
        ),
    )
    data = c.add_argument_group("data (one of --dataset, --csv, --parquet)")
    src = data.add_mutually_exclusive_group()
    src.add_argument("--dataset", metavar="NAME",
                     help="a bundled dataset: breast_cancer, diabetes, digits, iris, wine")
    src.add_argument("--csv", metavar="PATH", help="your own CSV file (header row, numeric features)")
    src.add_argument("--parquet", metavar="PATH", help="your own Parquet file (needs pandas and pyarrow)")
    data.add_argument("--target", metavar="COLUMN", help="the target column of --csv/--parquet")
    data.add_argument("--task", choices=("regression", "classification"),
                      help="the task; inferred from the target when not given (and reported)")
    data.add_argument("--dropna", action="store_true", help="drop rows with missing cells instead of refusing")
    data.add_argument("--test-size", type=float, default=0.25, metavar="F",
                      help="fraction of rows in each seed's test split (default 0.25)")
    data.add_argument("--val-size", type=float, default=0.2, metavar="F",
                      help="fraction of the remaining rows in each seed's validation split, which picks the "
                           "early-stopping epoch (default 0.2)")
    grid = c.add_argument_group("grid")
    grid.add_argument("--losses", metavar="A,B,...",
                      help="registry names, with options as name:key=value, e.g. mse,huber:delta=2 "
                           f"(default: {DEFAULT_LOSSES['regression']} or {DEFAULT_LOSSES['classification']}); "
                           "see 'losskit list'")
    grid.add_argument("--corruption", metavar="LEVELS",
                      help="corruption levels in [0, 1): the fraction of training targets made outliers "
                           "(regression) or the label-noise rate (classification) "
                           f"(default {DEFAULT_LEVELS['regression']} / {DEFAULT_LEVELS['classification']})")
    grid.add_argument("--noise-kind", choices=("gross", "heavy_tail", "symmetric", "pair"),
                      help="regression: gross (default; +5-10 SD shifts) or heavy_tail (Student-t noise); "
                           "classification: symmetric (default; a random other class) or pair (class c -> c+1)")
    grid.add_argument("--seeds", default="10", metavar="N|auto",
                      help="seeds per (loss, level) (default 10); auto: start at 10 and add seeds in chunks "
                           "until every claim is resolved or --max-seeds is reached")
    grid.add_argument("--max-seeds", type=int, default=40, metavar="N",
                      help="the cap of --seeds auto (default 40)")
    train = c.add_argument_group("training")
    train.add_argument("--epochs", type=int, default=60, metavar="E", help="epochs (default 60)")
    train.add_argument("--optimizer", choices=("adam", "sgd"), default="adam",
                       help="adam (default) or sgd (momentum 0.9)")
    train.add_argument("--lr", type=float, metavar="LR",
                       help=f"learning rate (default {DEFAULT_LR['adam']:g} for adam, {DEFAULT_LR['sgd']:g} for sgd)")
    train.add_argument("--batch-size", type=int, default=64, metavar="B", help="minibatch size (default 64)")
    train.add_argument("--model", choices=("linear", "mlp"), default="mlp", help="model (default mlp)")
    train.add_argument("--hidden", default="64", metavar="H,H",
                       help="hidden layer sizes of the mlp (default 64)")
    output = c.add_argument_group("output")
    output.add_argument("--out", metavar="DIR", help="output directory (default runs/compare-<data>)")
    output.add_argument("--force", action="store_true",
                        help="replace the results in --out even if they come from a different configuration")
    output.add_argument("--quiet", action="store_true", help="no progress bar or notes; still prints the claims")
    c.set_defaults(handler=_compare)

    p = sub.add_parser(
        "plot",
        help="draw the losses with their derivatives, one grid row per loss or all on shared axes",
        description=textwrap.fill(
            "Draw losses with their derivatives (by autograd, float64): regression losses against the residual "
            "r, classification losses against the predicted probability p_y of the true class (10 classes, the "
            "rest shared evenly). Multilabel losses are not drawn.", 78
        ) + "\n\n" + textwrap.fill(
            "--layout grid (default): one row per loss with ℓ, ℓ′ and ℓ″; jumps in a derivative (MAE's kink at "
            "0, Huber's second derivative at ±delta) are marked in red.", 78
        ) + "\n\n" + textwrap.fill(
            "--layout overlay: every loss on shared axes, one row per task: ℓ(r) and its influence dℓ/dr, or ℓ "
            "against p_y and the gradient on the label's logit ∂ℓ/∂z_y = p_y(1 − p_y)·dℓ/dp_y. Each y-view ends at "
            "twice the median of the curves' extremes, so MSE does not flatten the rest; a panel names the "
            "curves that leave its view.", 78
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  losskit plot --losses mse,mae,huber,log_cosh --out losses.png\n"
            "  losskit plot --layout overlay --losses mse,huber:delta=2,cauchy,tukey,cross_entropy,gce "
            "--out robust.png"
        ),
    )
    p.add_argument("--losses", required=True, metavar="A,B,...",
                   help="registry names with options as name:key=value, e.g. mse,mae,huber:delta=2,log_cosh")
    p.add_argument("--out", required=True, metavar="FILE", help="the image to write (.png, .pdf or .svg)")
    p.add_argument("--layout", choices=("grid", "overlay"), default="grid",
                   help="grid: a row per loss with ℓ, ℓ′, ℓ″ (default); overlay: all losses on shared axes, "
                        "a row per task with ℓ and its derivative")
    p.set_defaults(handler=_plot)

    lst = sub.add_parser("list", help="list the registered losses", description="List the registered losses.")
    # registry.TASKS, spelled out so that building the parser does not import torch
    tasks = ("regression", "classification", "multilabel", "segmentation", "metric_learning", "ranking",
             "probabilistic_regression")
    lst.add_argument("--task", choices=tasks, help="only this task")
    lst.set_defaults(handler=_list)
    return parser


# ------------------------------------------------------------------ compare


def _positive_int(value: int, flag: str) -> int:
    if value < 1:
        raise UsageError(f"{flag} must be at least 1, got {value}")
    return value


def _hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(p) for p in text.split(","))
    except ValueError:
        raise UsageError(f"--hidden {text!r} is not a list of sizes; write e.g. 64 or 64,64") from None
    if not sizes or min(sizes) < 1:
        raise UsageError(f"--hidden sizes must be at least 1, got {text}")
    return sizes


def _config(args: argparse.Namespace) -> tuple[Any, Any]:
    """Build and check the whole job; returns (config, dataset). Raises on bad input, writes nothing."""
    from .experiments.config import (
        CompareConfig,
        DataSource,
        ModelSpec,
        TrainSpec,
        parse_levels,
        parse_loss_specs,
    )
    from .experiments.datasets import load

    if args.dataset is None and args.csv is None and args.parquet is None:
        raise UsageError("choose the data with --dataset NAME, --csv PATH or --parquet PATH")
    path = args.csv or args.parquet
    if path is not None and args.target is None:
        raise UsageError(f"--{'csv' if args.csv else 'parquet'} needs --target COLUMN")
    if args.dataset is not None and args.target is not None:
        raise UsageError("--target applies to --csv/--parquet; a bundled dataset has its own target")
    auto = str(args.seeds).strip().lower() == "auto"
    if auto:
        from .experiments.job import AUTO_START

        seeds, max_seeds = min(AUTO_START, _positive_int(args.max_seeds, "--max-seeds")), args.max_seeds
        if max_seeds < 2:
            raise UsageError(f"--max-seeds must be at least 2 for intervals, got {max_seeds}")
    else:
        try:
            seeds = int(args.seeds)
        except ValueError:
            raise UsageError(f"--seeds must be a whole number or auto, got {args.seeds!r}") from None
        max_seeds = None
    for value, flag in ((seeds, "--seeds"), (args.epochs, "--epochs"), (args.batch_size, "--batch-size")):
        _positive_int(value, flag)
    lr = args.lr if args.lr is not None else DEFAULT_LR[args.optimizer]
    if not (math.isfinite(lr) and lr > 0):
        raise UsageError(f"--lr must be a positive number, got {args.lr}")
    if not 0.0 < args.test_size < 1.0:
        raise UsageError(f"--test-size must be in (0, 1), got {args.test_size}")
    if not 0.0 < args.val_size < 1.0:
        raise UsageError(f"--val-size must be in (0, 1), got {args.val_size}")
    hidden = _hidden(args.hidden) if args.model == "mlp" else ()
    # an empty --losses '' or --corruption '' is an error, not the defaults
    specs = parse_loss_specs(args.losses) if args.losses is not None else None
    levels = parse_levels(args.corruption) if args.corruption is not None else None
    source = DataSource(args.dataset, path, "parquet" if args.parquet else ("csv" if args.csv else None),
                        args.target, args.task, args.dropna, args.test_size, args.val_size)
    dataset = load(source)
    task = dataset.task  # the resolved task goes into the fingerprint (CompareConfig.as_dict), not a new source
    specs = specs or parse_loss_specs(DEFAULT_LOSSES[task])
    levels = levels or parse_levels(DEFAULT_LEVELS[task])
    from .experiments.config import NOISE_KINDS

    kind = args.noise_kind or NOISE_KINDS[task][0]
    config = CompareConfig(source, specs, levels, kind, seeds, ModelSpec(args.model, hidden),
                           TrainSpec(args.optimizer, lr, args.batch_size, args.epochs), max_seeds)
    return config, dataset


def _claims_table(claims: list[Any], title: str) -> Any:
    from rich.table import Table

    style = {"holds": "green", "holds, small effect": "green", "does not hold": "red", "inconclusive": "yellow"}
    table = Table(title=title, show_lines=True, title_justify="left")
    table.add_column("claim", ratio=2, min_width=42)
    table.add_column("verdict", ratio=2)
    table.add_column("margin", no_wrap=True)
    table.add_column("evidence", ratio=5)
    for c in claims:
        name = c.claim if c.article else f"{c.claim} (not in the article)"
        reason = f"\n{c.reason}" if c.reason and c.reason != c.evidence else ""
        table.add_row(name, f"[{style[c.verdict]}]{c.verdict}[/]{reason}", c.margin_text, c.evidence)
    return table


def _compare(args: argparse.Namespace) -> int:
    from rich.console import Console

    from .experiments.runner import plan, run
    from .experiments.store import Store

    config, dataset = _config(args)
    job = plan(config, dataset=dataset)
    out = Path(args.out) if args.out else Path("runs") / f"compare-{Path(dataset.name).stem}"
    mode = Store(out).check(job.description, force=args.force)  # refuses before anything is written
    tty = sys.stdout.isatty()
    console = Console(width=None if tty else 140)
    if not args.quiet:
        for note in (*dataset.notes, *job.notes):
            console.print(f"{dataset.name}: {note}", highlight=False)
        if mode == "resume":
            console.print(f"resuming the run in {out}", highlight=False)
    show_progress = tty and not args.quiet
    try:
        if show_progress:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            columns = (TextColumn("training"), BarColumn(), MofNCompleteColumn(), TextColumn("epochs"),
                       TimeRemainingColumn())
            with Progress(*columns, console=console, transient=True) as bar:
                task_id = bar.add_task("train", total=len(job.chunks()) * config.train.epochs)  # grows with auto
                outcome = run(job, out, force=args.force,
                              progress=lambda done, total: bar.update(task_id, completed=done, total=total))
        else:
            outcome = run(job, out, force=args.force)
    except KeyboardInterrupt as stop:
        add_note = getattr(stop, "add_note", None)  # Python >= 3.11; losskit supports 3.10
        if add_note is not None:
            add_note(f"finished work is saved in {out}")
        raise
    runs = len(config.losses) * len(config.levels) * outcome.seeds
    console.print(_claims_table(outcome.claims, f"Claims: {dataset.name}, {runs} runs ({config.noise_kind})"))
    auto = f" (--seeds auto, cap {config.max_seeds})" if config.auto else ""
    console.print(f"{outcome.seeds} seeds{auto}", highlight=False)
    console.print("Which loss for this data", style="bold", highlight=False)
    for ranking in outcome.rankings:
        for line in ranking.lines():
            console.print(line, highlight=False)
    for note in outcome.notes:
        console.print(f"note: {note}", highlight=False)
    console.print(f"report: {out / 'report.md'}", highlight=False)
    return 0


# ------------------------------------------------------------------ plot, list


def _plot(args: argparse.Namespace) -> int:
    from .experiments.config import parse_loss_specs

    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise UsageError(f"--out {args.out} must end in .png, .pdf or .svg")
    if out.is_dir():
        raise UsageError(f"--out {args.out} is a directory; give a file name such as losses.png")
    from .experiments.store import check_writable

    check_writable(out.parent, shown=out)
    specs = parse_loss_specs(args.losses)
    from .experiments.plots import loss_curves, loss_overlay
    from .experiments.smoothness import of_residual

    other = [s.label for s in specs if s.task != "classification" and not of_residual(s)]
    if other:
        raise UsageError(f"plot draws regression and classification losses, and NLLs with a variance or scale; "
                     f"{', '.join(other)} is not one")

    (loss_overlay if args.layout == "overlay" else loss_curves)(specs, out)
    print(f"wrote {out}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from .registry import available_losses, loss_info

    table = Table(show_lines=False)
    for col in ("name", "task", "options (default)", "summary"):
        table.add_column(col)
    for name in available_losses(args.task):
        info = loss_info(name)
        options = ", ".join(f"{k}={v!r}" for k, v in info.hyperparameters.items()) or "-"
        aliases = f" (alias {', '.join(info.aliases)})" if info.aliases else ""
        table.add_row(name + aliases, info.task, options, info.summary)
    Console(width=None if sys.stdout.isatty() else 160).print(table)
    return 0


# ------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``losskit`` console script; returns the exit code.

    Every way out is an exit code and at most one line on stderr: 0 done, 2 bad input or an unwritable
    output, 130 Ctrl-C, 143 SIGTERM (see :mod:`losskit._usage`).
    """
    restore = _usage.install_signal_handlers()  # first, before the heavy imports below
    prog = "losskit"
    try:
        parser = build_parser()
        args, unknown = parser.parse_known_args(argv)
        if args.command is None:
            if unknown:
                raise UsageError(f"unrecognized arguments: {' '.join(unknown)} (see losskit --help)")
            parser.print_help()
            return EXIT_USAGE
        prog = f"losskit {args.command}"
        if unknown:
            raise UsageError(f"unrecognized arguments: {' '.join(unknown)} (see {prog} --help)")
        return int(args.handler(args))
    except KeyboardInterrupt as stop:
        _usage.ignore_signals()  # a second Ctrl-C must not interrupt the message
        where = "".join(f" ({note})" for note in getattr(stop, "__notes__", ()))
        print(f"{prog}: {INTERRUPTED}{where}.", file=sys.stderr)
        return _usage.exit_code_for(stop)
    except (UsageError, LossInputError) as err:
        print(f"{getattr(err, 'prog', None) or prog}: error: {_usage.one_line(err)}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `losskit list | head`: the reader left; say nothing more, like `yes | head`
        _usage.silence_stdout()
        return _usage.EXIT_BROKEN_PIPE
    except OSError as err:  # a full disk, a read-only mount, a vanished directory: the message names the file
        print(f"{prog}: error: {_usage.os_error_message(err)}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        restore(argv is None)
