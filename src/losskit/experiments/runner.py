"""Run a compare job: plan it (every check, nothing written), then train its chunks, resumably.

The grid's runs are split into chunks of whole seeds (every loss and level of
those seeds); a chunk is one batched model (:class:`BatchedTrainer`). While a
chunk trains, its state at the last finished epoch is checkpointed every few
seconds and on Ctrl-C; a finished chunk's rows are stored at once and the
results files are rebuilt. Batch order and initial weights depend only on the
seed and the epoch, so a resumed chunk continues exactly where it stopped.
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
from .claims import Claim
from .config import NOISE_KINDS, CompareConfig, UsageError, check_loss_tasks, fingerprint
from .corruption import Corrupted, corrupt
from .datasets import Dataset, Prepared, load, prepare
from .metrics import METRICS
from .store import Store

__all__ = ["Job", "Outcome", "plan", "run"]

MAX_RUNS_PER_CHUNK = 256
CHECKPOINT_EVERY_S = 5.0
RUN_COLUMNS = ("loss", "corruption", "seed", "n_corrupted", "precision_at_k")


@dataclass
class Job:
    """A checked compare job, ready to run."""

    config: CompareConfig
    dataset: Dataset
    data: Prepared
    seeds_per_chunk: int
    description: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> str:
        return self.dataset.task

    @property
    def columns(self) -> tuple[str, ...]:
        from .analysis import RESULT_COLUMNS

        return (*RESULT_COLUMNS, *METRICS[self.task], "wall_s")

    def chunks(self) -> list[list[int]]:
        seeds = list(range(self.config.seeds))
        k = self.seeds_per_chunk
        return [seeds[i : i + k] for i in range(0, len(seeds), k)]

    def runs(self, seeds: list[int]) -> list[Run]:
        """Loss-major order, so each loss's runs are contiguous in the batched model."""
        return [Run(spec, level, s) for spec in self.config.losses for level in self.config.levels for s in seeds]

    def corrupted(self, level: float, seed: int) -> Corrupted:
        return corrupt(
            self.data.y_train, kind=self.config.noise_kind, rate=level, seed=seed, num_classes=self.data.num_classes
        )

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.description)


def plan(config: CompareConfig, *, dataset: Dataset | None = None, max_runs_per_chunk: int = MAX_RUNS_PER_CHUNK) -> Job:
    """Load (unless given) and check the data and the grid; raises :class:`UsageError`, writes nothing."""
    dataset = dataset if dataset is not None else load(config.source)
    check_loss_tasks(config.losses, dataset.task, dataset.name)
    kinds = NOISE_KINDS[dataset.task]
    if config.noise_kind not in kinds:
        raise UsageError(
            f"--noise-kind {config.noise_kind} does not apply to {dataset.task}; choose {' or '.join(kinds)}."
        )
    data = prepare(dataset, config.source.test_size)
    per_seed = len(config.losses) * len(config.levels)
    job = Job(config, dataset, data, max(1, max_runs_per_chunk // per_seed))
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


def _rows(job: Job, runs: list[Run], epoch: int, train_loss: torch.Tensor, metrics: dict[str, torch.Tensor],
          wall: float) -> list[list[Any]]:
    names = METRICS[job.task]
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
    trainer = BatchedTrainer(job.data, runs, [corrupted[(r.level, r.seed)].y for r in runs], job.config.model,
                             job.config.train)
    saved = store.checkpoint(i)
    if saved is not None:
        trainer.load_state_dict(saved["trainer"])
        rows, wall0 = saved["rows"], float(saved["wall"])
        advance(trainer.epoch)
    else:
        start = time.perf_counter()
        rows = _rows(job, runs, 0, trainer.train_per_sample().double().mean(1), trainer.test_metrics(),
                     time.perf_counter() - start)
        wall0 = 0.0
    start = last_save = time.perf_counter()
    pending: dict[str, Any] | None = None
    try:
        while trainer.epoch < job.config.train.epochs:
            train_loss = trainer.train_epoch()
            wall = wall0 + time.perf_counter() - start
            rows += _rows(job, runs, trainer.epoch, train_loss, trainer.test_metrics(), wall)
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
        index = corrupted[(run.level, run.seed)].index
        info.append([run.loss.label, run.level, run.seed, int(index.numel()), precision_at_k(per_sample[r], index)])
    payload = {"rows": rows, "runs": info}
    store.save_finished(i, payload)
    return payload


def run(
    job: Job,
    out: Path,
    *,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
    checkpoint_every_s: float = CHECKPOINT_EVERY_S,
    on_epoch: Callable[[int, int], None] | None = None,
) -> Outcome:
    """Train every unfinished chunk, then write results.csv, runs.csv, summary.csv, report.md and figures.

    ``progress(done, total)`` is called with epochs of chunks done so far; ``on_epoch(chunk, epoch)`` after
    every trained epoch (tests use it to interrupt).
    """
    from .report import write_report

    store = Store(out)
    store.init(job.description, store.check(job.description, force=force))
    chunks = job.chunks()
    total = len(chunks) * job.config.train.epochs
    done_epochs = 0

    def advance(n: int) -> None:
        nonlocal done_epochs
        done_epochs += n
        if progress is not None:
            progress(done_epochs, total)

    finished: dict[int, dict[str, Any]] = {}
    resumed = 0
    with _one_thread():
        for i, seeds in enumerate(chunks):
            payload = store.finished(i)
            if payload is not None:
                resumed += 1
                advance(job.config.train.epochs)
            else:
                payload = _train_chunk(job, store, i, seeds, advance, checkpoint_every_s, on_epoch)
            finished[i] = payload
            _write_results(job, store, finished)
        claims, files = write_report(job, store, _all_rows(finished), _all_runs(finished))
    return Outcome(store.out, claims, resumed, files)


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
