"""The robust family through the registry: every loss works generically by task.

(The registry-wide matrix lives in tests/test_registry_matrix.py; this file
checks the robust family's entries and their task contract.)
"""

from __future__ import annotations

import math

import pytest
import torch

import losskit
from losskit import LossInputError

ROBUST = {
    "classification": ["gce", "sce", "nce", "nce_rce", "nce_mae", "focal", "poly1"],
    "multilabel": ["bce", "binary_focal"],
    "regression": ["pseudo_huber", "cauchy", "geman_mcclure", "welsch", "tukey", "quantile", "barron"],
}
NAMES = [(task, name) for task, names in ROBUST.items() for name in names]
DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
REDUCTIONS = ["mean", "sum", "none", "per_sample"]


def make_inputs(task: str, n: int, *, dtype=torch.float32, spatial: bool = False, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    if task == "regression":
        x = torch.randn(n, 3, generator=g) * 2
        return x.to(dtype), torch.randn(n, 3, generator=g).to(dtype)
    shape = (n, 4, 5) if spatial else (n, 4)
    x = (torch.randn(*shape, generator=g) * 2).to(dtype)
    if task == "classification":
        return x, torch.randint(0, 4, shape[:1] + shape[2:], generator=g)
    return x, torch.rand(*shape, generator=g).to(dtype)


@pytest.mark.parametrize(("task", "name"), NAMES)
def test_registered_with_task_paper_and_hyperparameters(task, name):
    info = losskit.loss_info(name)
    assert info.task == task
    assert name in losskit.available_losses(task)
    doc = info.function.__doc__
    assert ".. math::" in doc and "References:" in doc
    assert info.summary and len(info.summary) < 120
    for option, default in info.hyperparameters.items():
        assert option in info.options and info.options[option] is default


@pytest.mark.parametrize(("task", "name"), NAMES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_reductions_and_sample_weight(task, name, reduction):
    loss = losskit.get_loss(name)
    x, y = make_inputs(task, 6, dtype=torch.float64, spatial=task != "regression")
    none = loss(x, y, reduction="none")
    assert none.shape == (y.shape if task != "multilabel" else x.shape)
    out = loss(x, y, reduction=reduction)
    flat = none.reshape(6, -1)
    expected = {"mean": none.mean(), "sum": none.sum(), "none": none, "per_sample": flat.mean(1)}[reduction]
    torch.testing.assert_close(out, expected)
    sw = torch.tensor([1.0, 0.0, 2.0, 0.5, 1.0, 3.0], dtype=torch.float64)
    weighted = loss(x, y, reduction=reduction, sample_weight=sw)
    s = sw.reshape(6, *([1] * (none.dim() - 1)))
    expected = {"mean": (none * s).sum() / (s.expand_as(none)).sum(), "sum": (none * s).sum(),
                "none": none * s, "per_sample": flat.mean(1) * sw}[reduction]
    torch.testing.assert_close(weighted, expected)


@pytest.mark.parametrize(("task", "name"), NAMES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_dtypes(task, name, dtype):
    loss = losskit.get_loss(name)
    x, y = make_inputs(task, 5, dtype=dtype)
    x.requires_grad_()
    value = loss(x, y)
    assert value.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
    value.backward()
    assert x.grad.dtype == dtype and torch.isfinite(x.grad.float()).all()
    x64, y64 = x.detach().double(), (y.double() if y.is_floating_point() else y)
    tol = {torch.float16: 1e-2, torch.bfloat16: 1e-2, torch.float32: 1e-5, torch.float64: 1e-12}[dtype]
    torch.testing.assert_close(value.double(), loss(x64, y64), rtol=tol, atol=tol)


@pytest.mark.parametrize(("task", "name"), NAMES)
def test_empty_batch_and_zero_weights(task, name):
    loss = losskit.get_loss(name)
    x, y = make_inputs(task, 0)
    x.requires_grad_()
    value = loss(x, y)
    value.backward()
    assert value.item() == 0.0 and x.grad.shape == x.shape
    assert loss(x, y, reduction="per_sample").shape == (0,)
    # every sample weighted 0: mean 0 with zero (not NaN) gradients
    x, y = make_inputs(task, 3)
    x.requires_grad_()
    value = loss(x, y, sample_weight=torch.zeros(3))
    value.backward()
    assert value.item() == 0.0 and torch.equal(x.grad, torch.zeros_like(x))


@pytest.mark.parametrize(("task", "name"), NAMES)
def test_num_items_and_validation_switch(task, name):
    loss = losskit.get_loss(name)
    x, y = make_inputs(task, 4, dtype=torch.float64)
    torch.testing.assert_close(loss(x, y, num_items=10), loss(x, y, reduction="sum") / 10)
    bad = x.clone()
    bad.view(-1)[0] = math.nan
    with pytest.raises(LossInputError, match="non-finite"):
        loss(bad, y)
    with losskit.validation(False):
        assert torch.isnan(loss(bad, y))


@pytest.mark.parametrize(("task", "name"), NAMES)
def test_bad_reduction_and_shapes(task, name):
    loss = losskit.get_loss(name)
    x, y = make_inputs(task, 4)
    with pytest.raises(LossInputError, match="reduction='batchmean' is not supported"):
        loss(x, y, reduction="batchmean")
    with pytest.raises(LossInputError):
        loss(x, y[:3])
    with pytest.raises(LossInputError, match="got unknown option"):
        losskit.get_loss(name, not_an_option=1)


@pytest.mark.parametrize("alias", ["charbonnier", "lorentzian", "leclerc", "biweight", "pinball",
                                   "binary_cross_entropy"])
def test_aliases(alias):
    assert losskit.loss_info(alias).name in ROBUST[losskit.loss_info(alias).task]
