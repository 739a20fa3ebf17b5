"""Metric learning against pytorch-metric-learning (NT-Xent, SupCon) and torch (triplet, cosine embedding),
at temperature 0.01 and with duplicate embeddings."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from pytorch_metric_learning import losses as pml
from torch.autograd import gradcheck

import losskit.functional as LF
import losskit.nn as lnn
from losskit import LossInputError

TOL = {"rtol": 1e-10, "atol": 1e-10}


def _simclr(gen, n=5, d=8, duplicate=False):
    """Two views of n items: labels arange(n) twice, so each anchor has exactly one positive."""
    z = torch.randn(2 * n, d, generator=gen, dtype=torch.float64)
    if duplicate:
        z[n] = z[0]  # a view identical to its pair: cosine exactly 1
        z[3] = z[1]  # and a duplicate across items: a negative with cosine 1
    return z, torch.arange(n).repeat(2)


def _grads(fn, z, labels):
    leaf = z.clone().requires_grad_()
    loss = fn(leaf, labels)
    loss.backward()
    return loss, leaf.grad


@pytest.mark.parametrize("temperature", [0.5, 0.07, 0.01])
@pytest.mark.parametrize("duplicate", [False, True])
def test_info_nce_equals_pml_ntxent(gen, temperature, duplicate) -> None:
    z, labels = _simclr(gen, duplicate=duplicate)
    ours, g_ours = _grads(lambda e, y: LF.info_nce_loss(e, y, temperature=temperature), z, labels)
    theirs, g_theirs = _grads(pml.NTXentLoss(temperature=temperature), z, labels)
    torch.testing.assert_close(ours, theirs, **TOL)
    torch.testing.assert_close(g_ours, g_theirs, **TOL)


@pytest.mark.parametrize("temperature", [0.1, 0.01])
@pytest.mark.parametrize("duplicate", [False, True])
def test_supcon_equals_pml(gen, temperature, duplicate) -> None:
    z = torch.randn(12, 6, generator=gen, dtype=torch.float64)
    labels = torch.tensor([0, 1, 2, 0, 1, 0, 3, 2, 2, 1, 4, 0])  # 3 and 4 have no positive
    if duplicate:
        z[5] = z[0]
        z[1] = z[2]
    ours, g_ours = _grads(lambda e, y: LF.supcon_loss(e, y, temperature=temperature), z, labels)
    theirs, g_theirs = _grads(pml.SupConLoss(temperature=temperature), z, labels)
    torch.testing.assert_close(ours, theirs, **TOL)
    torch.testing.assert_close(g_ours, g_theirs, **TOL)


def test_info_nce_with_unequal_positives_averages_per_anchor(gen) -> None:
    """The documented difference: pml averages over positive pairs, losskit per anchor then over anchors."""
    z = torch.randn(7, 4, generator=gen, dtype=torch.float64)
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 3])
    t = 0.2
    s = F.normalize(z, dim=1) @ F.normalize(z, dim=1).T / t
    pair = torch.zeros(7, 7, dtype=torch.float64)
    for a in range(7):
        neg = s[a][labels != labels[a]]
        for p in range(7):
            if p != a and labels[p] == labels[a]:
                pair[a, p] = -s[a, p] + torch.logsumexp(torch.cat([s[a, p:p + 1], neg]), 0)
    positive = (labels[:, None] == labels[None]) & ~torch.eye(7, dtype=torch.bool)
    per_anchor = pair.sum(1)[:5] / positive.sum(1)[:5]
    torch.testing.assert_close(LF.info_nce_loss(z, labels, temperature=t), per_anchor.mean(), **TOL)
    torch.testing.assert_close(pml.NTXentLoss(temperature=t)(z, labels), pair.sum() / positive.sum(), **TOL)
    none = LF.info_nce_loss(z, labels, temperature=t, reduction="none")
    torch.testing.assert_close(none[:5], per_anchor, **TOL)
    assert (none[5:] == 0).all()


@pytest.mark.parametrize("fn", [LF.info_nce_loss, LF.supcon_loss])
def test_no_positive_pair_gives_zero_with_zero_gradients(fn, gen) -> None:
    z = torch.randn(4, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    loss = fn(z, torch.arange(4))
    loss.backward()
    assert loss.item() == 0.0 and (z.grad == 0).all()


def test_supcon_single_label_batch_follows_the_paper_not_pml(gen) -> None:
    """pml returns 0 without a negative pair; the paper's formula still pulls positives together."""
    z = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    labels = torch.zeros(4, dtype=torch.long)
    assert pml.SupConLoss()(z, labels).item() == 0.0
    s = F.normalize(z, dim=1) @ F.normalize(z, dim=1).T / 0.1
    off = ~torch.eye(4, dtype=torch.bool)
    expected = -(s - torch.logsumexp(s.masked_fill(~off, -torch.inf), 1, keepdim=True))[off].mean()
    torch.testing.assert_close(LF.supcon_loss(z, labels), expected, **TOL)


@pytest.mark.parametrize("fn", [LF.info_nce_loss, LF.supcon_loss])
def test_float32_at_temperature_001_is_finite_and_close_to_float64(fn, gen) -> None:
    z, labels = _simclr(gen, duplicate=True)
    z32 = (z * 100).float().requires_grad_()  # large norms too: only the direction counts
    loss = fn(z32, labels, temperature=0.01)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z32.grad).all()
    torch.testing.assert_close(loss.double(), fn(z32.detach().double(), labels, temperature=0.01), rtol=1e-4,
                               atol=1e-4)


@pytest.mark.parametrize("fn", [LF.info_nce_loss, LF.supcon_loss])
def test_gradcheck_contrastive(fn, gen) -> None:
    z = torch.randn(6, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda e: fn(e, torch.tensor([0, 1, 0, 1, 2, 2]), temperature=0.05), (z,))


def test_nt_xent_is_info_nce() -> None:
    assert LF.nt_xent_loss is LF.info_nce_loss and lnn.NTXentLoss is lnn.InfoNCELoss


# ------------------------------------------------------------------ torch's triplet and cosine embedding


@pytest.mark.parametrize(("margin", "p", "swap"), [(1.0, 2, False), (0.3, 1, True), (2.0, 3, True)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_triplet_equals_torch(gen, margin, p, swap, reduction) -> None:
    a, pos, neg = (torch.randn(6, 5, generator=gen, dtype=torch.float64) for _ in range(3))
    pos[0] = a[0]  # a duplicate embedding: distance eps * D^(1/p)
    ours_in = [t.clone().requires_grad_() for t in (a, pos, neg)]
    torch_in = [t.clone().requires_grad_() for t in (a, pos, neg)]
    ours = LF.triplet_margin_loss(*ours_in, margin, p, 1e-6, swap, reduction=reduction)
    theirs = F.triplet_margin_loss(*torch_in, margin, p, 1e-6, swap, reduction=reduction)
    torch.testing.assert_close(ours, theirs, **TOL)
    ours.sum().backward()
    theirs.sum().backward()
    for o, t in zip(ours_in, torch_in, strict=True):
        torch.testing.assert_close(o.grad, t.grad, **TOL)
    m = lnn.TripletMarginLoss(margin, p, 1e-6, swap, reduction=reduction)
    torch.testing.assert_close(m(a, pos, neg), theirs.detach(), **TOL)


@pytest.mark.parametrize("margin", [0.0, 0.4])
def test_cosine_embedding_equals_torch(gen, margin) -> None:
    x1, x2 = (torch.randn(6, 5, generator=gen, dtype=torch.float64) for _ in range(2))
    x2[0] = x1[0]
    x1[1] = 0.0  # a zero embedding: torch's 1e-12 keeps the cosine 0
    y = torch.tensor([1.0, 1.0, -1.0, -1.0, 1.0, -1.0])
    leaf, ref = x1.clone().requires_grad_(), x1.clone().requires_grad_()
    ours = LF.cosine_embedding_loss(leaf, x2, y, margin, reduction="none")
    theirs = F.cosine_embedding_loss(ref, x2, y, margin, reduction="none")
    torch.testing.assert_close(ours, theirs, **TOL)
    ours.sum().backward()
    theirs.sum().backward()
    # the zero embedding's gradient is about 1e6 (1/sqrt(1e-12)): equal to 2e-9 relative
    torch.testing.assert_close(leaf.grad, ref.grad, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(LF.cosine_embedding_loss(x1[2], x2[2], y[2]), F.cosine_embedding_loss(
        x1[2:3], x2[2:3], y[2:3]), **TOL)


def test_mean_over_zero_items_is_zero_where_torch_gives_nan() -> None:
    e = torch.zeros(0, 3)
    assert torch.isnan(F.triplet_margin_loss(e, e, e)) and LF.triplet_margin_loss(e, e, e).item() == 0.0
    assert LF.info_nce_loss(e, torch.zeros(0, dtype=torch.long)).item() == 0.0


@pytest.mark.parametrize("option", ["margin", "p", "eps"])
@pytest.mark.parametrize("value", [None, "1.0", True])
def test_triplet_options_of_the_wrong_type_are_refused_by_name(gen, option, value) -> None:
    a, p, n = (torch.randn(3, 4, generator=gen) for _ in range(3))
    with pytest.raises(LossInputError, match=f"{option} must be a number"):
        LF.triplet_margin_loss(a, p, n, **{option: value}, validate=False)


@pytest.mark.parametrize("value", [None, "0.5", True])
def test_cosine_embedding_margin_of_the_wrong_type_is_refused_by_name(gen, value) -> None:
    x1, x2 = torch.randn(3, 4, generator=gen), torch.randn(3, 4, generator=gen)
    with pytest.raises(LossInputError, match="margin must be a number"):
        LF.cosine_embedding_loss(x1, x2, torch.tensor([1, -1, 1]), margin=value)
