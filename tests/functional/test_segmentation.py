"""Segmentation losses against kornia (installed), and smp 0.6's and MONAI's formulas written out (smp's
losses do not import without timm/torchvision; MONAI takes ~10 s to import), on random and edge masks:
empty masks, all background, one class present, ignored pixels."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from kornia import losses as K
from torch.autograd import gradcheck

import losskit.functional as LF
from losskit import LossInputError

TOL = {"rtol": 1e-10, "atol": 1e-10}
N, C, H, W = 3, 4, 5, 6


def _batch(gen, *, present: int | None = None, c: int = C):
    """Logits and class maps; ``present`` limits the target to classes [0, present)."""
    x = torch.randn(N, c, H, W, generator=gen, dtype=torch.float64) * 2
    t = torch.randint(0, present or c, (N, H, W), generator=gen)
    return x, t


# ------------------------------------------------------------------ smp 0.6, written out


def _smp_tversky_score(p, y, alpha, beta, smooth, eps, dims):
    """smp.losses._functional.soft_tversky_score (intersection from the L1 norm, as smp 0.6)."""
    p_sum, y_sum = p.sum(dims), y.sum(dims)
    inter = (p_sum + y_sum - (p - y).abs().sum(dims)) / 2
    return (inter + smooth) / (inter + alpha * (p_sum - inter) + beta * (y_sum - inter) + smooth).clamp_min(eps)


def _smp(x, t, kind, *, smooth=0.0, alpha=0.5, beta=0.5, gamma=1.0, eps=1e-7, ignore_index=None):
    """smp's DiceLoss / JaccardLoss / TverskyLoss in multiclass mode (batch-pooled, absent classes zeroed)."""
    n, c = x.shape[:2]
    p = x.log_softmax(1).exp().reshape(n, c, -1)
    t = t.reshape(n, -1)
    if ignore_index is not None:
        mask = t != ignore_index
        p = p * mask.unsqueeze(1)
        y = F.one_hot((t * mask).long(), c).permute(0, 2, 1) * mask.unsqueeze(1)
    else:
        y = F.one_hot(t, c).permute(0, 2, 1)
    y = y.to(p.dtype)
    a, b = {"dice": (0.5, 0.5), "jaccard": (1.0, 1.0), "tversky": (alpha, beta)}[kind]
    loss = 1 - _smp_tversky_score(p, y, a, b, smooth, eps, (0, 2))
    loss = loss * (y.sum((0, 2)) > 0).to(loss.dtype)
    return loss.mean() ** gamma


def _smp_lovasz_grad(gt):
    gts = gt.sum()
    inter = gts - gt.cumsum(0)
    union = gts + (1 - gt).cumsum(0)
    jac = 1.0 - inter / union
    if len(gt) > 1:
        jac[1:] = jac[1:] - jac[:-1]
    return jac


def _smp_lovasz_softmax_flat(probas, labels):
    losses = []
    for c in range(probas.shape[1]):
        fg = (labels == c).to(probas.dtype)
        if fg.sum() == 0:
            continue
        errors = (fg - probas[:, c]).abs()
        errors_sorted, perm = torch.sort(errors, 0, descending=True)
        losses.append(torch.dot(errors_sorted, _smp_lovasz_grad(fg[perm])))
    return sum(losses) / len(losses) if losses else torch.zeros((), dtype=probas.dtype)


def _smp_lovasz_softmax(x, t, per_image, ignore=None):
    """smp's LovaszLoss(mode='multiclass'): Berman's reference, ignored pixels removed."""
    p = x.softmax(1)

    def flat(pr, lab):
        pr, lab = pr.movedim(0, -1).reshape(-1, pr.shape[0]), lab.reshape(-1)
        if ignore is not None:
            keep = lab != ignore
            pr, lab = pr[keep], lab[keep]
        return _smp_lovasz_softmax_flat(pr, lab)

    if per_image:
        return torch.stack([flat(p[i], t[i]) for i in range(len(p))]).mean()
    return flat(p.movedim(1, 0).reshape(p.shape[1], -1), t.reshape(-1))


def _smp_lovasz_hinge(x, y, per_image):
    def flat(logits, labels):
        errors = 1.0 - logits * (2.0 * labels - 1.0)
        errors_sorted, perm = torch.sort(errors, 0, descending=True)
        return torch.dot(F.relu(errors_sorted), _smp_lovasz_grad(labels[perm]))

    if per_image:
        return torch.stack([flat(x[i].reshape(-1), y[i].reshape(-1)) for i in range(len(x))]).mean()
    return flat(x.reshape(-1), y.reshape(-1))


# ------------------------------------------------------------------ Dice, Jaccard, Tversky against smp


@pytest.mark.parametrize("kind", ["dice", "jaccard", "tversky"])
@pytest.mark.parametrize("present", [None, 2, 1])  # all classes, two absent, a single class present
@pytest.mark.parametrize("smooth", [0.0, 1.0])
def test_overlap_equals_smp(gen, kind, present, smooth) -> None:
    x, t = _batch(gen, present=present)
    options = {"alpha": 0.3, "beta": 0.7} if kind == "tversky" else {}
    fn = getattr(LF, f"{kind}_loss")
    # smp 0.6 computes Dice as Tversky(1/2, 1/2): its smooth s is 2s in the usual Dice form
    ours_smooth = 2 * smooth if kind == "dice" else smooth
    ours = fn(x, t, smooth=ours_smooth, aggregate="batch", absent="zero", **options)
    torch.testing.assert_close(ours, _smp(x, t, kind, smooth=smooth, **options), **TOL)


def test_dice_with_ignore_index_equals_smp(gen) -> None:
    x, t = _batch(gen)
    t[0, :2] = -1
    t[2] = -1  # a whole image ignored
    ours = LF.dice_loss(x, t, ignore_index=-1, aggregate="batch", absent="zero")
    torch.testing.assert_close(ours, _smp(x, t, "dice", ignore_index=-1), **TOL)


def test_focal_tversky_equals_smp_for_one_class(gen) -> None:
    """smp raises the class mean to gamma; losskit each class: the same when one class is scored."""
    x = torch.randn(N, 2, H, W, generator=gen, dtype=torch.float64)
    t = torch.zeros(N, H, W, dtype=torch.long)
    t[:, :2, :3] = 1  # class 1 a small patch, class 0 the rest: smp zeroes neither, so use ours on class 1 only
    ours = LF.focal_tversky_loss(x, t, alpha=0.3, beta=0.7, gamma=0.75, aggregate="batch", absent="zero",
                                 weight=torch.tensor([0.0, 1.0], dtype=torch.float64))
    p = x.softmax(1)[:, 1:].reshape(N, 1, -1)
    y = (t == 1).to(x.dtype).reshape(N, 1, -1)
    expected = (1 - _smp_tversky_score(p, y, 0.3, 0.7, 0.0, 1e-7, (0, 2))).mean() ** 0.75
    torch.testing.assert_close(ours, expected, **TOL)


# ------------------------------------------------------------------ against kornia


@pytest.mark.parametrize("average", ["micro", "macro"])
@pytest.mark.parametrize("present", [None, 2])
def test_dice_equals_kornia(gen, average, present) -> None:
    x, t = _batch(gen, present=present)
    t[1, 0] = -100
    w = torch.tensor([0.5, 1.0, 2.0, 1.5], dtype=torch.float64)
    for weight in (None, w):
        ours_x, k_x = x.clone().requires_grad_(), x.clone().requires_grad_()
        ours = LF.dice_loss(ours_x, t, average=average, weight=weight)
        theirs = K.dice_loss(k_x, t, average=average, eps=0.0, weight=weight)
        torch.testing.assert_close(ours, theirs, **TOL)
        ours.backward()
        theirs.backward()
        torch.testing.assert_close(ours_x.grad, k_x.grad, **TOL)


def test_dice_kornia_eps_is_below_1e6(gen) -> None:
    x, t = _batch(gen)
    torch.testing.assert_close(LF.dice_loss(x, t, average="micro"), K.dice_loss(x, t, average="micro"),
                               rtol=0, atol=1e-8)


@pytest.mark.parametrize("present", [None, 2, 1])
def test_tversky_equals_kornia(gen, present) -> None:
    x, t = _batch(gen, present=present)
    ours = LF.tversky_loss(x, t, alpha=0.3, beta=0.7)
    torch.testing.assert_close(ours, K.tversky_loss(x, t, 0.3, 0.7, eps=0.0), **TOL)


def test_lovasz_softmax_equals_kornia_all_classes_per_image(gen) -> None:
    x, t = _batch(gen, present=3)
    leaf, ref = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours = LF.lovasz_softmax_loss(leaf, t, classes="all")
    theirs = K.lovasz_softmax_loss(ref, t)
    torch.testing.assert_close(ours, theirs, **TOL)
    ours.backward()
    theirs.backward()
    torch.testing.assert_close(leaf.grad, ref.grad, **TOL)


def test_lovasz_hinge_equals_kornia(gen) -> None:
    x = torch.randn(N, 1, H, W, generator=gen, dtype=torch.float64) * 3
    t = torch.randint(0, 2, (N, H, W), generator=gen)
    t[0] = 0  # an empty mask
    torch.testing.assert_close(LF.lovasz_hinge_loss(x, t), K.lovasz_hinge_loss(x, t), **TOL)


# ------------------------------------------------------------------ Lovász against smp (Berman's reference)


@pytest.mark.parametrize("per_image", [True, False])
@pytest.mark.parametrize("present", [None, 2, 1])
def test_lovasz_softmax_equals_smp(gen, per_image, present) -> None:
    x, t = _batch(gen, present=present)
    t[0, 1:3] = 255
    aggregate = "sample" if per_image else "batch"
    ours = LF.lovasz_softmax_loss(x, t, aggregate=aggregate, ignore_index=255)
    torch.testing.assert_close(ours, _smp_lovasz_softmax(x, t, per_image, ignore=255), **TOL)


@pytest.mark.parametrize("per_image", [True, False])
def test_lovasz_hinge_equals_smp_binary(gen, per_image) -> None:
    x = torch.randn(N, 1, H, W, generator=gen, dtype=torch.float64) * 2
    y = torch.randint(0, 2, (N, 1, H, W), generator=gen).to(torch.float64)
    y[1] = 0.0  # all background
    ours = LF.lovasz_hinge_loss(x, y, aggregate="sample" if per_image else "batch")
    torch.testing.assert_close(ours, _smp_lovasz_hinge(x, y, per_image), **TOL)


# ------------------------------------------------------------------ MONAI's formulas


def _monai_dice(x, t, smooth_nr=1e-5, smooth_dr=1e-5, squared_pred=False):
    """monai.losses.DiceLoss(softmax=True, to_onehot_y=True, batch=False): per (n, c), mean over both."""
    p = x.softmax(1)
    y = F.one_hot(t, x.shape[1]).movedim(-1, 1).to(x.dtype)
    dims = tuple(range(2, x.dim()))
    inter = (p * y).sum(dims)
    den = (p * p).sum(dims) + (y * y).sum(dims) if squared_pred else p.sum(dims) + y.sum(dims)
    return (1.0 - (2.0 * inter + smooth_nr) / (den + smooth_dr)).mean()


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("present", [None, 1])
def test_dice_equals_monai_including_absent_classes(gen, squared, present) -> None:
    x, t = _batch(gen, present=present)
    ours = LF.dice_loss(x, t, smooth=1e-5, absent="include", squared_denominator=squared)
    torch.testing.assert_close(ours, _monai_dice(x, t, squared_pred=squared), **TOL)


def test_dice_ce_equals_monai(gen) -> None:
    x, t = _batch(gen, present=2)
    expected = _monai_dice(x, t) + 0.5 * F.cross_entropy(x, t)  # DiceCELoss(lambda_dice=1, lambda_ce=0.5)
    torch.testing.assert_close(LF.dice_ce_loss(x, t, smooth=1e-5, absent="include", lambda_ce=0.5), expected,
                               **TOL)


def test_dice_ce_binary_is_dice_plus_bce(gen) -> None:
    x = torch.randn(N, 1, H, W, generator=gen, dtype=torch.float64)
    t = torch.randint(0, 2, (N, H, W), generator=gen)
    expected = LF.dice_loss(x, t) + F.binary_cross_entropy_with_logits(x.squeeze(1), t.to(x.dtype))
    torch.testing.assert_close(LF.dice_ce_loss(x, t), expected, **TOL)


# ------------------------------------------------------------------ the empty-mask rule and edges


@pytest.mark.parametrize("name", ["dice", "jaccard", "tversky", "focal_tversky"])
def test_absent_class_gives_no_large_loss_or_nan(name, gen) -> None:
    """Class 3 never occurs and is (almost) never predicted: it must not add a loss of ~1."""
    x, t = _batch(gen, present=3)
    x[:, 3] = -30.0  # the model is sure class 3 is absent
    fn = getattr(LF, f"{name}_loss")
    ignore = fn(x, t)
    three = fn(x[:, :3], t)  # the same problem without the absent class
    torch.testing.assert_close(ignore, three, rtol=1e-9, atol=1e-9)
    # counted with smooth=0, the absent class scores a loss of 1 (a tiny false-positive mass over an empty mask)
    torch.testing.assert_close(fn(x, t, absent="include"), (3 * ignore + 1) / 4, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(fn(x, t, absent="include", smooth=1.0), fn(x[:, :3], t, absent="include",
                               smooth=1.0) * 3 / 4, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["dice", "jaccard", "tversky", "lovasz_softmax", "lovasz_hinge", "dice_ce"])
def test_empty_binary_masks_and_all_ignored_are_finite(name) -> None:
    x = torch.full((2, 1, 3, 3), -5.0, dtype=torch.float64, requires_grad=True)
    empty = torch.zeros(2, 3, 3, dtype=torch.long)
    fn = getattr(LF, f"{name}_loss")
    loss = fn(x, empty)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()
    if name in ("dice", "jaccard", "tversky"):
        assert loss.item() == 0.0  # no class counts: 0, weight 0
    ignored = fn(x, torch.full_like(empty, -100), ignore_index=-100)
    assert ignored.item() == 0.0


def test_perfect_prediction_has_zero_loss() -> None:
    t = torch.tensor([[[0, 1], [2, 2]]])
    x = F.one_hot(t, 3).movedim(-1, 1).to(torch.float64) * 60 - 30
    for name in ("dice", "jaccard", "tversky", "focal_tversky", "lovasz_softmax"):
        assert getattr(LF, f"{name}_loss")(x, t).item() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("name", ["dice", "jaccard", "tversky", "focal_tversky", "lovasz_softmax",
                                  "lovasz_hinge", "dice_ce"])
def test_finite_at_logits_1e4(name) -> None:
    x = torch.tensor([[[[1e4, -1e4]], [[-1e4, 1e4]], [[0.0, 0.0]]]], requires_grad=True)
    t = torch.tensor([[[1, 1]]])
    loss = getattr(LF, f"{name}_loss")(x, t)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()


def test_float_masks_equal_index_targets(gen) -> None:
    x, t = _batch(gen)
    onehot = F.one_hot(t, C).movedim(-1, 1).to(x.dtype)
    for name in ("dice", "jaccard", "tversky", "lovasz_softmax", "lovasz_hinge", "dice_ce"):
        fn = getattr(LF, f"{name}_loss")
        torch.testing.assert_close(fn(x, onehot), fn(x, t), **TOL)


def test_per_sample_and_batch_aggregation(gen) -> None:
    x, t = _batch(gen)
    per = LF.dice_loss(x, t, reduction="none")
    for i in range(N):
        torch.testing.assert_close(per[i], LF.dice_loss(x[i:i + 1], t[i:i + 1]), **TOL)
    assert not torch.allclose(LF.dice_loss(x, t, aggregate="batch"), per.mean())
    with pytest.raises(LossInputError, match="aggregate='batch' pools every sample"):
        LF.dice_loss(x, t, aggregate="batch", reduction="none")


def test_bad_inputs_named() -> None:
    x = torch.zeros(2, 3, 4)
    with pytest.raises(LossInputError, match=r"target of class indices has shape \(2, 3\).*\(2, 4\)"):
        LF.dice_loss(x, torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(LossInputError, match="absent='drop'"):
        LF.dice_loss(x, torch.zeros(2, 4, dtype=torch.long), absent="drop")
    with pytest.raises(LossInputError, match="binary"):
        LF.dice_loss(torch.zeros(2, 1, 4), torch.full((2, 4), 2))
    with pytest.raises(LossInputError, match="hard mask"):
        LF.lovasz_hinge_loss(torch.zeros(2, 1, 4), torch.full((2, 1, 4), 0.5))


@pytest.mark.parametrize("name", ["dice", "tversky", "lovasz_softmax", "lovasz_hinge", "dice_ce"])
def test_gradcheck_with_ignored_pixels(name, gen) -> None:
    x = torch.randn(2, 3, 2, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    t = torch.randint(0, 3, (2, 2, 3), generator=gen)
    t[0, 0, 0] = -100
    assert gradcheck(lambda a: getattr(LF, f"{name}_loss")(a, t), (x,))


def test_focal_tversky_at_a_perfect_score_has_zero_forward_and_reverse_derivatives() -> None:
    """(1 - T)**0.75 has an infinite slope at T = 1, where the tangent of T is 0: forward mode once gave
    inf * 0 = NaN there (the fuzz suite's finding); the derivative at a perfect score is 0 in both modes."""
    t = torch.tensor([[[0, 1], [1, 0]]])
    x = F.one_hot(t, 2).permute(0, 3, 1, 2).double() * 1e4  # saturated softmax: exactly the target
    v = torch.linspace(-1, 1, x.numel(), dtype=x.dtype).reshape(x.shape)
    value, tangent = torch.func.jvp(lambda a: LF.focal_tversky_loss(a, t), (x,), (v,))
    a = x.clone().requires_grad_()
    (g,) = torch.autograd.grad(LF.focal_tversky_loss(a, t), a)
    assert value.item() == 0.0 and tangent.item() == 0.0 and bool((g == 0).all())
    x[0, 0, 0, 0] = float("nan")  # the safe power keeps NaN, so the result check still sees it
    with pytest.raises(LossInputError, match="input"):
        LF.focal_tversky_loss(x, t)


def test_smooth_as_a_huge_int_equals_it_as_a_float(gen) -> None:
    """A Python int past int64 cannot meet a tensor; the checked option is used as a float."""
    x, t = _batch(gen)
    for fn in (LF.dice_loss, LF.jaccard_loss, LF.tversky_loss):
        torch.testing.assert_close(fn(x, t, smooth=2**70), fn(x, t, smooth=float(2**70)), **TOL)
    torch.testing.assert_close(LF.tversky_loss(x, t, alpha=2**70), LF.tversky_loss(x, t, alpha=float(2**70)), **TOL)
