"""losskit.nn.LinearCrossEntropyLoss: the module form of linear_cross_entropy."""

from __future__ import annotations

import pytest
import torch

import losskit
import losskit.functional as LF
from losskit import LossInputError


def test_module_with_linear_head_and_with_weight():
    torch.manual_seed(0)
    head = torch.nn.Linear(6, 20).double()
    hidden = torch.randn(2, 3, 6, dtype=torch.float64)
    target = torch.randint(0, 20, (2, 3))
    loss_fn = losskit.nn.LinearCrossEntropyLoss(label_smoothing=0.1, chunk_size=2)
    out = loss_fn(hidden, head, target)
    ref = LF.cross_entropy(head(hidden).movedim(-1, 1), target, label_smoothing=0.1)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    out.backward()
    grads = [head.weight.grad.clone(), head.bias.grad.clone()]
    head.zero_grad()
    ref.backward()
    torch.testing.assert_close(grads[0], head.weight.grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(grads[1], head.bias.grad, rtol=1e-10, atol=1e-12)
    # a bare weight (tied embeddings) with a per-call override
    per_token = loss_fn(hidden, head.weight, target, bias=head.bias, reduction="none")
    assert per_token.shape == (2, 3)


def test_module_options_and_repr():
    loss_fn = losskit.nn.LinearCrossEntropyLoss(ignore_index=0, reduction="sum")
    assert loss_fn.options["ignore_index"] == 0 and loss_fn.options["reduction"] == "sum"
    assert "ignore_index=0" in repr(loss_fn)
    with pytest.raises(LossInputError, match="bias per call"):
        losskit.nn.LinearCrossEntropyLoss(bias=torch.zeros(3))
    with pytest.raises(LossInputError, match="unknown option"):
        losskit.nn.LinearCrossEntropyLoss(delta=1.0)
