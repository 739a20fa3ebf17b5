"""examples/lightning_exact_mean.py: Lightning with accumulate_grad_batches and num_items equals full-batch SGD."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("lightning")

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("lightning_exact_mean", ROOT / "examples" / "lightning_exact_mean.py")
assert spec is not None and spec.loader is not None
example = importlib.util.module_from_spec(spec)
spec.loader.exec_module(example)

K, STEPS, VOCAB = 4, 2, 50


@pytest.mark.slow
def test_accumulated_steps_match_full_batch_sgd() -> None:
    torch.manual_seed(0)
    model = example.NextToken(vocab=VOCAB)
    reference = copy.deepcopy(model)
    batches = example.padded_batches(K * STEPS, 3, VOCAB, seed=1)
    example.trainer(K, STEPS).fit(model, train_dataloaders=example.with_step_counts(batches, K))

    for step in range(STEPS):  # torch's cross-entropy over the step's whole batch, mean over its real tokens
        micro = batches[step * K:(step + 1) * K]
        total = sum(int((y != -100).sum()) for _, y in micro)
        loss = sum(F.cross_entropy(reference(x).transpose(1, 2), y, ignore_index=-100, reduction="sum")
                   for x, y in micro) / total
        reference.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in reference.parameters():
                p -= reference.lr * p.grad
    for (name, p), q in zip(model.named_parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p.detach(), q.detach(), rtol=1e-5, atol=1e-6, msg=f"parameter {name}")

    # the mean of micro-batch means (what accumulate_grad_batches alone gives) is measurably different here
    counts = [int((y != -100).sum()) for _, y in batches[:K]]
    assert len(set(counts)) > 1


def test_step_counts_attach_the_whole_steps_count() -> None:
    batches = example.padded_batches(6, 2, VOCAB, seed=3)
    counted = list(example.with_step_counts(batches, 4))
    assert len(counted) == 6
    first = sum(int((y != -100).sum()) for _, y in batches[:4])
    last = sum(int((y != -100).sum()) for _, y in batches[4:])
    assert [int(n) for _, _, n in counted] == [first] * 4 + [last] * 2
