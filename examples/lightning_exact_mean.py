"""A LightningModule whose accumulated gradient is the exact mean over every real token of the step.

Lightning's ``accumulate_grad_batches=k`` divides each micro-batch's loss by
``k``, so with padding (``ignore_index``) the step's gradient is the mean of
micro-batch means, and a token of a short micro-batch weighs more than one of
a long one. The recipe here makes it exact, also across DDP ranks:

1. :func:`with_step_counts` wraps the training loader: it reads each step's
   ``k`` micro-batches ahead and attaches to each the number of real targets
   of the whole step on this rank (no collective in the loader);
2. ``training_step`` turns that count into the global divisor with
   :func:`losskit.distributed.global_divisor` (one all-reduce; divided by the
   world size, since DDP averages gradients), passes it as ``num_items=`` and
   multiplies by ``k`` to undo Lightning's own division.

    python examples/lightning_exact_mean.py     # trains a tiny next-token model for a few steps

``tests/integrations/test_lightning.py`` checks the parameters after each
step against plain SGD on the full step batch's token mean.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import lightning as L
import torch
from torch import nn

import losskit.functional as LF
from losskit.distributed import global_divisor

IGNORE = -100


class StepCounted(Iterable[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]):
    """A loader of ``(x, y)`` micro-batches that yields ``(x, y, n)``, ``n`` the real targets of y's whole step."""

    def __init__(self, loader: Iterable[tuple[torch.Tensor, torch.Tensor]], k: int, ignore_index: int = IGNORE):
        self.loader, self.k, self.ignore_index = loader, k, ignore_index

    def __len__(self) -> int:
        return len(self.loader)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        step: list[tuple[torch.Tensor, torch.Tensor]] = []
        for batch in self.loader:
            step.append(batch)
            if len(step) == self.k:
                yield from self._counted(step)
                step = []
        yield from self._counted(step)  # a last, shorter step

    def _counted(self, step: list[tuple[torch.Tensor, torch.Tensor]]) -> Iterator[
            tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        n = sum((y != self.ignore_index).sum() for _, y in step)
        for x, y in step:
            yield x, y, torch.as_tensor(n)


def with_step_counts(loader: Iterable[tuple[torch.Tensor, torch.Tensor]], k: int) -> StepCounted:
    """``loader`` with each micro-batch carrying its step's count of real targets (for ``num_items``)."""
    return StepCounted(loader, k)


class NextToken(L.LightningModule):
    """Embedding + linear head trained with losskit's cross-entropy, exact under gradient accumulation."""

    def __init__(self, vocab: int = 50, width: int = 8, lr: float = 0.5) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.head = nn.Linear(width, vocab)
        self.lr = lr

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))  # (B, T, V)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y, local_count = batch
        n = global_divisor(local_count)  # global count / world size: exact under DDP too
        logits = self(x).transpose(1, 2)  # classes along dim 1, as in torch
        loss = LF.cross_entropy(logits, y, ignore_index=IGNORE, num_items=n)
        return loss * self.trainer.accumulate_grad_batches  # Lightning divides by it again

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def padded_batches(num: int, batch: int, vocab: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Next-token pairs from random sentences of random length, right-padded with ignored targets."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(num):
        lengths = torch.randint(2, 12, (batch,), generator=g)
        x = torch.zeros(batch, int(lengths.max()), dtype=torch.long)
        y = torch.full_like(x, IGNORE)
        for i, n in enumerate(lengths.tolist()):
            tokens = torch.randint(0, vocab, (n + 1,), generator=g)
            x[i, :n], y[i, :n] = tokens[:-1], tokens[1:]
        out.append((x, y))
    return out


def trainer(k: int, steps: int) -> L.Trainer:
    return L.Trainer(max_steps=steps, accumulate_grad_batches=k, accelerator="cpu", devices=1, logger=False,
                     enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)


def main() -> None:
    k, steps = 4, 3
    torch.manual_seed(0)
    model = NextToken()
    trainer(k, steps).fit(model, train_dataloaders=with_step_counts(padded_batches(k * steps, 4, 50), k))
    print(f"trained {steps} steps of {k} accumulated micro-batches, each step the exact token mean")


if __name__ == "__main__":
    main()
