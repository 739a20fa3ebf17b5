"""Run a compare job: plan it (every check, nothing written), then train its chunks, resumably.

The grid's runs are split into chunks of whole seeds (every loss and level of
those seeds); a chunk is one batched model (:class:`BatchedTrainer`). While a
chunk trains, its state at the last finished epoch is checkpointed every few
seconds and on Ctrl-C; a finished chunk's rows are stored at once and the
results files are rebuilt. Split, batch order and initial weights depend only
on the seed and the epoch, so a resumed chunk continues exactly where it stopped.

With ``--seeds auto`` the job starts with :data:`~.job.AUTO_START` seeds and
adds a chunk of seeds at a time while some claim is inconclusive for want of
seeds, up to ``--max-seeds``; chunk i always holds the same seeds, so an
auto run resumes like a fixed one.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .batched import BatchedTrainer, Run, precision_at_k
from .claims import Claim, needs_more_seeds
from .config import NOISE_KINDS, CompareConfig, UsageError, check_loss_tasks
from .datasets import Dataset, load
from .job import AUTO_START, Job
from .metrics import METRICS, VALIDATION
from .recommend import Ranking
from .report import evaluate, write_report
from .split import check_sizes
from .store import Store

__all__ = ["Job", "Outcome", "plan", "run"]

MAX_RUNS_PER_CHUNK = 256
CHECKPOINT_EVERY_S = 5.0
RUN_COLUMNS = ("loss", "corruption", "seed", "n_corrupted", "precision_at_k")


def plan(config: CompareConfig, *, dataset: Dataset | None = None, max_runs_per_chunk: int = MAX_RUNS_PER_CHUNK) -> Job:
    """Load (unless given) and check the data and the grid; raises :class:`UsageError`, writes nothing."""
    dataset = dataset if dataset is not None else load(config.source)
    check_loss_tasks(config.losses, dataset.task, dataset.name)
    kinds = NOISE_KINDS[dataset.task]
    if config.noise_kind not in kinds:
        raise UsageError(
            f"--noise-kind {config.noise_kind} does not apply to {dataset.task}; choose {' or '.join(kinds)}."
        )
    check_sizes(dataset, config.source.test_size, config.source.val_size)
    per_seed = len(config.losses) * len(config.levels)
    seeds_per_chunk = max(1, max_runs_per_chunk // per_seed)
    if config.auto:
        seeds_per_chunk = min(seeds_per_chunk, AUTO_START)
    notes = []
    if dataset.task == "classification" and dataset.num_classes == 2:
        notes.append("with two classes, pair and symmetric label noise are the same corruption "
                     "(the only other class)")
    job = Job(config, dataset, seeds_per_chunk, tuple(notes))
    job.description = {**config.as_dict(dataset.digest, dataset.task), "seeds_per_chunk": job.seeds_per_chunk}
    return job


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Single-threaded torch: the ops are tiny (threads only add contention) and results are bitwise repeatable."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass
class Outcome:
    """What a finished compare produced."""

    out: Path
    claims: list[Claim]
    resumed_chunks: int
    files: list[Path]
    seeds: int = 0
    rankings: list[Ranking] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _rows(job: Job, runs: list[Run], epoch: int, train_loss: torch.Tensor, metrics: dict[str, torch.Tensor],
          wall: float) -> list[list[Any]]:
    names = (VALIDATION[job.task], *METRICS[job.task])
    return [
        [job.dataset.name, job.task, run.loss.label, run.level, run.seed, epoch, float(train_loss[r]),
         *(float(metrics[m][r]) for m in names), round(wall, 3)]
        for r, run in enumerate(runs)
    ]


def _train_chunk(
    job: Job, store: Store, i: int, seeds: list[int], advance: Callable[[int], None],
    checkpoint_every_s: float, on_epoch: Callable[[int, int], None] | None,
) -> dict[str, Any]:
    runs = job.runs(seeds)
    corrupted = {(lev, s): job.corrupted(lev, s) for lev in job.config.levels for s in seeds}
    trainer = BatchedTrainer([job.split(s) for s in seeds], runs, [corrupted[(r.level, r.seed)][0].y for r in runs],
                             job.config.model, job.config.train, [corrupted[(r.level, r.seed)][1] for r in runs])
    saved = store.checkpoint(i)
    if saved is not None:
        trainer.load_state_dict(saved["trainer"])
        rows, wall0 = saved["rows"], float(saved["wall"])
        advance(trainer.epoch)
    else:
        start = time.perf_counter()
        rows = _rows(job, runs, 0, trainer.train_per_sample().double().mean(1), _metrics(trainer),
                     time.perf_counter() - start)
        wall0 = 0.0
    start = last_save = time.perf_counter()
    pending: dict[str, Any] | None = None
    try:
        while trainer.epoch < job.config.train.epochs:
            train_loss = trainer.train_epoch()
            wall = wall0 + time.perf_counter() - start
            rows += _rows(job, runs, trainer.epoch, train_loss, _metrics(trainer), wall)
            advance(1)
            pending = {"trainer": copy.deepcopy(trainer.state_dict()), "rows": list(rows), "wall": wall}
            if time.perf_counter() - last_save >= checkpoint_every_s:
                store.save_checkpoint(i, pending)
                pending, last_save = None, time.perf_counter()
            if on_epoch is not None:
                on_epoch(i, trainer.epoch)
    except KeyboardInterrupt:
        if pending is not None:
            store.save_checkpoint(i, pending)
        raise
    per_sample = trainer.train_per_sample()
    info = []
    for r, run in enumerate(runs):
        index = corrupted[(run.level, run.seed)][0].index
        info.append([run.loss.label, run.level, run.seed, int(index.numel()), precision_at_k(per_sample[r], index)])
    payload = {"rows": rows, "runs": info}
    store.save_finished(i, payload)
    return payload


def _metrics(trainer: BatchedTrainer) -> dict[str, torch.Tensor]:
    return {**trainer.test_metrics(), **trainer.val_metrics()}


def run(
    job: Job,
    out: Path,
    *,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
    checkpoint_every_s: float = CHECKPOINT_EVERY_S,
    on_epoch: Callable[[int, int], None] | None = None,
) -> Outcome:
    """Train every unfinished chunk, then write results.csv, runs.csv, summary.csv, claims.csv, report.md
    and figures. With ``--seeds auto``, add chunks of seeds while a claim needs more seeds, up to the cap.

    ``progress(done, total)`` is called with epochs of chunks done so far; ``on_epoch(chunk, epoch)`` after
    every trained epoch (tests use it to interrupt).
    """
    store = Store(out)
    store.init(job.description, store.check(job.description, force=force))
    epochs = job.config.train.epochs
    seeds = job.start_seeds
    done_epochs = 0
    total = len(job.chunks(seeds)) * epochs

    def advance(n: int) -> None:
        nonlocal done_epochs
        done_epochs += n
        if progress is not None:
            progress(done_epochs, total)

    finished: dict[int, dict[str, Any]] = {}
    resumed = 0
    with _one_thread():
        while True:
            for i, chunk in enumerate(job.chunks(seeds)):
                if i in finished:
                    continue
                payload = store.finished(i)
                if payload is not None:
                    resumed += 1
                    advance(epochs)
                else:
                    payload = _train_chunk(job, store, i, chunk, advance, checkpoint_every_s, on_epoch)
                finished[i] = payload
                _write_results(job, store, finished)
            if not job.config.auto or seeds >= job.max_seeds:
                break
            claims, _ = evaluate(job, _all_rows(finished), _all_runs(finished))
            if not any(needs_more_seeds(c) for c in claims):
                break
            seeds = min(job.max_seeds, seeds + job.seeds_per_chunk)
            total = len(job.chunks(seeds)) * epochs
        report = write_report(job, store, _all_rows(finished), _all_runs(finished))
    return Outcome(store.out, report.claims, resumed, report.files, seeds, report.rankings, report.notes)


def _order(job: Job) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    rank = {spec.label: k for k, spec in enumerate(job.config.losses)}
    return lambda row: (rank[row[0]], row[1], row[2])


def _all_rows(finished: dict[int, dict[str, Any]]) -> list[list[Any]]:
    return [row for i in sorted(finished) for row in finished[i]["rows"]]


def _all_runs(finished: dict[int, dict[str, Any]]) -> list[list[Any]]:
    return [row for i in sorted(finished) for row in finished[i]["runs"]]


def _write_results(job: Job, store: Store, finished: dict[int, dict[str, Any]]) -> None:
    key = _order(job)
    rows = sorted(_all_rows(finished), key=lambda r: (*key(r[2:5]), r[5]))
    store.write_csv("results.csv", job.columns, rows)
    store.write_csv("runs.csv", RUN_COLUMNS, sorted(_all_runs(finished), key=key))
