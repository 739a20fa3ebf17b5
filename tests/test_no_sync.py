"""No host-device sync in the no-sync mode: every registered loss and linear_cross_entropy.

On an accelerator, ``bool(tensor)``, ``.item()`` and ``nonzero()`` stall the
device queue. ``losskit.sync_policy("never")`` forces the accelerator
behaviour on CPU tensors, so this test can count, under a
:class:`~torch.utils._python_dispatch.TorchDispatchMode`, every op that reads
a value back to the host: ``aten._local_scalar_dense`` (behind ``.item()``,
``bool()``, ``float()``), ``aten.item`` and ``aten.nonzero`` (a data-dependent
output shape). Each must be called zero times, forward and backward, with the
value checks on (they become device-side assertions).

The registry is iterated, with the registry-matrix input generators, so a new
loss joins automatically.
"""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import losskit
import losskit.functional as LF
from test_registry_matrix import CASES, make_batch

SYNC_OPS = ("aten._local_scalar_dense", "aten.item", "aten.nonzero")


class SyncCounter(TorchDispatchMode):
    """Counts the ops that read a tensor's value back to the host."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[override]
        name = str(func.overloadpacket)
        if name in SYNC_OPS:
            self.counts[name] += 1
        return func(*args, **(kwargs or {}))


def _count_syncs(fn) -> Counter[str]:
    with losskit.sync_policy("never"), SyncCounter() as counter:
        fn()
    return counter.counts


def test_the_counter_sees_a_sync() -> None:
    # the probe itself works: bool(), .item() and nonzero() are all counted
    t = torch.ones(3)
    counts = _count_syncs(lambda: (bool(t.sum() > 0), t.sum().item(), t.nonzero()))
    assert counts == Counter({"aten._local_scalar_dense": 2, "aten.nonzero": 1})


@pytest.mark.parametrize(("name", "layout"), CASES)
def test_no_host_sync_for_any_registered_loss(name: str, layout: str) -> None:
    batch = make_batch(name, layout)
    fn = losskit.loss_info(name).function
    n = batch.input.shape[0]

    def run() -> None:
        for reduction in ("mean", "sum", "none", "per_sample"):
            for extra in ({}, {"sample_weight": torch.rand(n, dtype=batch.input.dtype) + 0.5},
                          {"num_items": torch.tensor(3.0)}):
                x = batch.input.detach().clone().requires_grad_()
                out = fn(*batch.with_input(x), reduction=reduction, **extra)
                out.sum().backward()

    assert _count_syncs(run) == Counter(), name


@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "per_sample"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_no_host_sync_in_linear_cross_entropy_forward_and_backward(reduction: str, label_smoothing: float) -> None:
    g = torch.Generator().manual_seed(0)
    hidden = torch.randn(2, 5, 4, dtype=torch.float64, generator=g)
    weight = torch.randn(7, 4, dtype=torch.float64, generator=g)
    bias = torch.randn(7, dtype=torch.float64, generator=g)
    target = torch.randint(0, 7, (2, 5), generator=g)
    target[0, ::2] = -100  # ignored tokens: masked, not gathered out with nonzero()
    for extra in ({}, {"sample_weight": torch.tensor([0.5, 2.0], dtype=torch.float64)}):
        leaves = [t.clone().requires_grad_() for t in (hidden, weight, bias)]

        def run(leaves=leaves, extra=extra) -> None:
            out = LF.linear_cross_entropy(
                leaves[0], leaves[1], target, bias=leaves[2], reduction=reduction,
                label_smoothing=label_smoothing, chunk_size=3, **extra,
            )
            out.backward(torch.ones_like(out) * 1.5)

        assert _count_syncs(run) == Counter()
        # and the no-sync path computes the same values and gradients as the compacted CPU path
        ref = [t.clone().requires_grad_() for t in (hidden, weight, bias)]
        out = LF.linear_cross_entropy(ref[0], ref[1], target, bias=ref[2], reduction=reduction,
                                      label_smoothing=label_smoothing, chunk_size=3, **extra)
        out.backward(torch.ones_like(out) * 1.5)
        for a, b in zip(leaves, ref, strict=True):
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-12, atol=1e-12)


def test_no_sync_linear_cross_entropy_keeps_tiny_probabilities_exact() -> None:
    # p_y underflows in float32: the no-sync path's m - z_y - log p_max equals the exact log-sum-exp
    hidden = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    weight = torch.tensor([[200.0, 0.0], [0.0, 0.0], [-200.0, 0.0]])
    target = torch.tensor([2, 1])
    with losskit.sync_policy("never"):
        out = LF.linear_cross_entropy(hidden, weight, target, reduction="none")
    ref = LF.cross_entropy((hidden @ weight.T).double(), target, reduction="none")
    torch.testing.assert_close(out.double(), ref, rtol=1e-6, atol=1e-6)
