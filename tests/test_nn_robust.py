"""Module wrappers of the robust family: same numbers as the functions, tensor options as buffers."""

from __future__ import annotations

import math

import pytest
import torch

import losskit.functional as LF
from losskit import LossInputError
from losskit import nn as lnn

g = torch.Generator().manual_seed(0)
LOGITS = torch.randn(5, 4, generator=g, dtype=torch.float64)
INDEX = torch.randint(0, 4, (5,), generator=g)
LABELS = torch.rand(5, 4, generator=g, dtype=torch.float64)
PRED = torch.randn(5, 3, generator=g, dtype=torch.float64)
TRUTH = torch.randn(5, 3, generator=g, dtype=torch.float64)

CASES = [
    (lnn.GCELoss, LF.gce_loss, {"q": 0.3}, LOGITS, INDEX),
    (lnn.SCELoss, LF.sce_loss, {"alpha": 0.5, "A": -6.0}, LOGITS, INDEX),
    (lnn.NCELoss, LF.nce_loss, {}, LOGITS, INDEX),
    (lnn.NCERCELoss, LF.nce_rce_loss, {"beta": 0.3}, LOGITS, INDEX),
    (lnn.NCEMAELoss, LF.nce_mae_loss, {"alpha": 2.0}, LOGITS, INDEX),
    (lnn.FocalLoss, LF.focal_loss, {"gamma": 0.5, "alpha": torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)},
     LOGITS, INDEX),
    (lnn.Poly1Loss, LF.poly1_loss, {"epsilon": -0.5}, LOGITS, INDEX),
    (lnn.BCEWithLogitsLoss, LF.binary_cross_entropy_with_logits,
     {"pos_weight": torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)}, LOGITS, LABELS),
    (lnn.BinaryFocalLoss, LF.binary_focal_loss, {"alpha": -1.0, "gamma": 1.0}, LOGITS, LABELS),
    (lnn.PseudoHuberLoss, LF.pseudo_huber_loss, {"delta": 2.0}, PRED, TRUTH),
    (lnn.CauchyLoss, LF.cauchy_loss, {"scale": 0.5}, PRED, TRUTH),
    (lnn.GemanMcClureLoss, LF.geman_mcclure_loss, {"scale": 0.5}, PRED, TRUTH),
    (lnn.WelschLoss, LF.welsch_loss, {"scale": 0.5}, PRED, TRUTH),
    (lnn.TukeyLoss, LF.tukey_loss, {"c": 1.5}, PRED, TRUTH),
    (lnn.QuantileLoss, LF.quantile_loss, {"tau": 0.9}, PRED, TRUTH),
    (lnn.BarronLoss, LF.barron_loss, {"alpha": torch.tensor([0.0, 1.0, -math.inf], dtype=torch.float64)},
     PRED, TRUTH),
]


@pytest.mark.parametrize(("module", "fn", "options", "x", "y"), CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_module_equals_function(module, fn, options, x, y):
    loss = module(**options)
    torch.testing.assert_close(loss(x, y), fn(x, y, **options), rtol=0, atol=0)
    torch.testing.assert_close(loss(x, y, reduction="per_sample"), fn(x, y, reduction="per_sample", **options))
    assert module.function is fn
    assert f":func:`losskit.functional.{fn.__name__}`" in module.__doc__
    tensors = {k for k, v in options.items() if isinstance(v, torch.Tensor)}
    assert tensors <= set(dict(loss.named_buffers())) and tensors <= set(loss.state_dict())
    repr(loss)


def test_tensor_options_follow_the_module():
    loss = lnn.FocalLoss(alpha=torch.tensor([0.1, 0.2, 0.3, 0.4])).to(torch.float64)
    assert loss.alpha.dtype == torch.float64
    assert "alpha=<tensor (4,)>" in repr(loss)


def test_unknown_option_is_refused():
    with pytest.raises(LossInputError, match="GCELoss got unknown option"):
        lnn.GCELoss(gamma=2.0)


def test_bce_modules_take_what_torchs_take():
    p = torch.sigmoid(LOGITS)
    # BinaryCrossEntropyLoss, losskit's earlier name of the logits loss, is BCEWithLogitsLoss
    assert lnn.BinaryCrossEntropyLoss is lnn.BCEWithLogitsLoss
    torch.testing.assert_close(lnn.BCEWithLogitsLoss()(LOGITS, LABELS), torch.nn.BCEWithLogitsLoss()(LOGITS, LABELS))
    torch.testing.assert_close(lnn.BCELoss()(p, LABELS), torch.nn.BCELoss()(p, LABELS))
