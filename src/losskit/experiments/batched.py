"""Train every run of a grid at once: one model whose parameters are stacked along a leading run axis.

Run :math:`r` has its own weights ``W[r]`` (in, out) and biases ``b[r]``; a
layer is one batched matmul ``baddbmm(b, h, W)`` over (R, B, in) x (R, in, out),
so one forward and one backward per step serve the whole grid. The objective
is the sum over runs of each run's mean minibatch loss: run :math:`r`'s
parameters get exactly the gradient of its own loss, and Adam and SGD update
elementwise, so each run follows the same trajectory as it would alone (up to
float rounding of the batched matmuls). Per-run losses come from the registry
losses with ``reduction="per_sample"``, one call per loss over all of that
loss's runs, so any registered loss works.

Every seed has its own train / validation / test split (:mod:`.split`): the
splits' tensors are stacked along a seed axis and each run reads its seed's
rows. A step is :func:`losskit.train.train_step`, the same step the plain loop
:func:`losskit.train.fit` takes, here on the vector of per-run losses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .._validate import validation
from ..train import train_step
from .config import LossSpec, ModelSpec, TrainSpec
from .metrics import classification_metrics, regression_metrics
from .model import batch_indices, init_params, make_optimizer
from .split import Split
from .targets import class_targets

__all__ = ["BatchedTrainer", "Run", "precision_at_k"]

_EVAL_ROWS = 2048  # rows per evaluation slice, to bound memory at (R, rows, width)


@dataclass(frozen=True)
class Run:
    """One run of a grid: a loss, a corruption level and a seed."""

    loss: LossSpec
    level: float
    seed: int


class BatchedTrainer:
    """Train ``runs`` together on their seeds' ``splits``.

    ``targets[r]`` is run r's (possibly corrupted) training target vector and
    ``val_targets[r]`` its validation targets, corrupted alike (default: the
    split's clean ones). Runs of the same loss must be contiguous (the runner
    orders them loss-major) so that each loss is one call over a view of the
    stacked outputs.
    """

    def __init__(
        self,
        splits: Sequence[Split],
        runs: Sequence[Run],
        targets: Sequence[torch.Tensor],
        model: ModelSpec,
        train: TrainSpec,
        val_targets: Sequence[torch.Tensor] | None = None,
    ) -> None:
        self.runs = list(runs)
        self.seeds = sorted({r.seed for r in self.runs})
        by_seed = {s.seed: s for s in splits}
        chosen = [by_seed[s] for s in self.seeds]
        first = chosen[0]
        self.task, self.num_classes = first.task, first.num_classes
        self.train_spec = train
        self.epoch = 0
        self.groups = _loss_groups(self.runs)
        self.modules = [spec.build() for spec, _ in self.groups]
        self.targets = torch.stack(list(targets))  # (R, n)
        self._seed_row = torch.tensor([self.seeds.index(r.seed) for r in self.runs])
        rows = self._seed_row
        self.x_train = torch.stack([s.x_train for s in chosen])  # (S, n, in)
        self.x_val = torch.stack([s.x_val for s in chosen])[rows]  # (R, n_val, in)
        self.x_test = torch.stack([s.x_test for s in chosen])[rows]  # (R, n_test, in)
        self.y_test = torch.stack([s.y_test for s in chosen])[rows]  # (R, n_test)
        self.y_val = (torch.stack(list(val_targets)) if val_targets is not None
                      else torch.stack([s.y_val for s in chosen])[rows])  # (R, n_val)
        self.y_mean = torch.tensor([s.y_mean for s in chosen], dtype=torch.float64)[rows].unsqueeze(1)
        self.y_scale = torch.tensor([s.y_scale for s in chosen], dtype=torch.float64)[rows].unsqueeze(1)
        sizes = model.layer_sizes(first.x_train.shape[1], first.n_out)
        init = {s: init_params(sizes, s) for s in self.seeds}
        self.params: list[torch.Tensor] = []
        for layer in range(len(sizes) - 1):
            w = torch.stack([init[r.seed][layer][0] for r in self.runs])
            b = torch.stack([init[r.seed][layer][1] for r in self.runs]).unsqueeze(1)
            self.params += [w.requires_grad_(), b.requires_grad_()]
        self.optimizer = make_optimizer(self.params, train)

    # -------------------------------------------------------------- model

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """(R, B, in) per-run rows -> (R, B, out)."""
        h = x
        last = len(self.params) // 2 - 1
        for i in range(last + 1):
            w, b = self.params[2 * i], self.params[2 * i + 1]
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = torch.relu(h)
        return h

    def _per_sample(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-sample losses (R, B) of outputs (R, B, out) against targets (R, B)."""
        values = []
        for (spec, (start, stop)), module in zip(self.groups, self.modules, strict=True):
            pred, tgt = out[start:stop], y[start:stop]
            g, b = pred.shape[:2]
            if self.task == "classification":
                p = pred.reshape(g * b, -1)
                t = class_targets(spec, tgt.reshape(g * b), self.num_classes)
            else:
                p = pred.reshape(g * b) if pred.shape[-1] == 1 else pred.reshape(g * b, -1)
                t = tgt.reshape(g * b, *tgt.shape[2:])
            values.append(module(p, t, reduction="per_sample").reshape(g, b))
        return torch.cat(values)

    def _run_losses(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Each run's mean minibatch loss (R,)."""
        return self._per_sample(out, y).mean(1)

    # -------------------------------------------------------------- training

    def train_epoch(self) -> torch.Tensor:
        """One epoch, the article's loop for all runs at once; returns each run's mean training loss (R,)."""
        self.epoch += 1
        n = self.targets.shape[1]
        total = torch.zeros(len(self.runs), dtype=torch.float64)
        per_seed = [batch_indices(n, self.train_spec.batch_size, s, self.epoch) for s in self.seeds]
        rows = self._seed_row.unsqueeze(1)
        with validation(False):
            for step in range(len(per_seed[0])):
                idx = torch.stack([batches[step] for batches in per_seed])[self._seed_row]  # (R, B)
                x = self.x_train[rows, idx]  # (R, B, in): each run's rows of its seed's split
                y = self.targets.gather(1, idx)
                run_loss = train_step(self._forward, self._run_losses, x, y, self.optimizer)
                total += run_loss.double() * idx.shape[1]
        return total / n

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.targets.shape[1] // self.train_spec.batch_size)

    # -------------------------------------------------------------- evaluation

    @torch.no_grad()
    def _predict(self, x: torch.Tensor) -> torch.Tensor:
        """(R, N, in) per-run rows -> (R, N, out), in slices of rows."""
        return torch.cat([self._forward(part) for part in torch.split(x, _EVAL_ROWS, dim=1)], dim=1)

    def _metrics(self, x: torch.Tensor, truth: torch.Tensor, *, units: bool) -> dict[str, torch.Tensor]:
        out = self._predict(x)
        if self.task == "classification":
            return classification_metrics(out.argmax(-1), truth, self.num_classes)
        pred = out.squeeze(-1).double() * self.y_scale + self.y_mean
        return regression_metrics(pred, truth if units else truth.double() * self.y_scale + self.y_mean)

    @torch.no_grad()
    def test_metrics(self) -> dict[str, torch.Tensor]:
        """Each run's test metrics (R,) on its seed's test split, regression in original target units."""
        return self._metrics(self.x_test, self.y_test, units=True)

    @torch.no_grad()
    def val_metrics(self) -> dict[str, torch.Tensor]:
        """Each run's metrics (R,) on its (corrupted) validation targets, named ``val_*``."""
        m = self._metrics(self.x_val, self.y_val, units=False)
        return {k.replace("test_", "val_", 1): v for k, v in m.items()}

    @torch.no_grad()
    def train_per_sample(self) -> torch.Tensor:
        """Each run's per-sample loss on its own training targets, (R, n): the article's ``reduction="none"``."""
        parts = []
        seed_rows = self._seed_row.unsqueeze(1)
        with validation(False):
            for rows in torch.split(torch.arange(self.targets.shape[1]), _EVAL_ROWS):
                out = self._forward(self.x_train[seed_rows, rows.unsqueeze(0)])
                parts.append(self._per_sample(out, self.targets[:, rows]))
        return torch.cat(parts, dim=1)

    # -------------------------------------------------------------- checkpoints

    def state_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "params": [p.detach().clone() for p in self.params],
            "optimizer": self.optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            for p, saved in zip(self.params, state["params"], strict=True):
                p.copy_(saved)
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch = int(state["epoch"])

    def run_params(self, r: int) -> list[torch.Tensor]:
        """Run r's parameters in ``nn.Linear`` layout: weight (out, in), bias (out,) per layer."""
        out = []
        for i in range(0, len(self.params), 2):
            out += [self.params[i][r].detach().T, self.params[i + 1][r, 0].detach()]
        return out


def _loss_groups(runs: list[Run]) -> list[tuple[LossSpec, tuple[int, int]]]:
    groups: list[tuple[LossSpec, tuple[int, int]]] = []
    for r, run in enumerate(runs):
        if groups and groups[-1][0] == run.loss:
            groups[-1] = (run.loss, (groups[-1][1][0], r + 1))
        else:
            if any(spec == run.loss for spec, _ in groups):
                raise ValueError("runs of the same loss must be contiguous (order the grid loss-major)")
            groups.append((run.loss, (r, r + 1)))
    return groups


def precision_at_k(per_sample: torch.Tensor, corrupted: torch.Tensor) -> float:
    """Of the k highest-loss samples (k = number corrupted), the fraction that are corrupted; NaN when k = 0."""
    k = int(corrupted.numel())
    if k == 0:
        return float("nan")
    top = torch.sort(per_sample, descending=True, stable=True).indices[:k]
    return float(torch.isin(top, corrupted).double().mean())
