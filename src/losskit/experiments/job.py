"""A checked compare job: the configuration, the data, each seed's split and corrupted targets.

The runner trains it and the report reads it; neither imports the other's
module for it, so there is no import cycle between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from .analysis import RESULT_COLUMNS
from .batched import Run
from .config import CompareConfig, fingerprint
from .corruption import Corrupted
from .datasets import Dataset
from .metrics import METRICS, VALIDATION
from .split import Split, corrupt_pool, make_split, split_sizes

__all__ = ["AUTO_START", "Job"]

AUTO_START = 10  # --seeds auto starts with this many seeds (or the cap, if lower)


@dataclass
class Job:
    """A checked compare job, ready to run."""

    config: CompareConfig
    dataset: Dataset
    seeds_per_chunk: int
    notes: tuple[str, ...] = ()
    description: dict[str, Any] = field(default_factory=dict)
    _splits: dict[int, Split] = field(default_factory=dict, repr=False)

    @property
    def task(self) -> str:
        return self.dataset.task

    @property
    def columns(self) -> tuple[str, ...]:
        return (*RESULT_COLUMNS, VALIDATION[self.task], *METRICS[self.task], "wall_s")

    @property
    def sizes(self) -> tuple[int, int, int]:
        """(train, validation, test) rows of every seed's split."""
        src = self.config.source
        return split_sizes(len(self.dataset.y), src.test_size, src.val_size)

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.sizes[0] // self.config.train.batch_size)

    @property
    def start_seeds(self) -> int:
        """The seeds trained first: all of them, or with ``--seeds auto`` the start (the CLI's AUTO_START)."""
        return self.config.seeds

    @property
    def max_seeds(self) -> int:
        return self.config.max_seeds if self.config.max_seeds is not None else self.config.seeds

    def chunks(self, seeds: int | None = None) -> list[list[int]]:
        """Seeds 0..seeds-1 in chunks of ``seeds_per_chunk`` (chunk i always holds the same seeds)."""
        n = self.start_seeds if seeds is None else seeds
        k = self.seeds_per_chunk
        return [list(range(i, min(i + k, n))) for i in range(0, n, k)]

    def runs(self, seeds: list[int]) -> list[Run]:
        """Loss-major order, so each loss's runs are contiguous in the batched model."""
        return [Run(spec, level, s) for spec in self.config.losses for level in self.config.levels for s in seeds]

    def split(self, seed: int) -> Split:
        """Seed ``seed``'s split (made once, then kept: splits are small)."""
        if seed not in self._splits:
            src = self.config.source
            self._splits[seed] = make_split(self.dataset, seed, src.test_size, src.val_size)
        return self._splits[seed]

    def corrupted(self, level: float, seed: int) -> tuple[Corrupted, torch.Tensor]:
        """The corrupted training targets (and their corrupted rows) and validation targets of a seed."""
        return corrupt_pool(self.split(seed), kind=self.config.noise_kind, rate=level)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.description)
