"""losskit._reduce.reduce_loss: the one reduction, checked against explicit sums."""

from __future__ import annotations

import pytest
import torch

from losskit import LossInputError
from losskit._reduce import reduce_loss

D = torch.float64


def _values(gen: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=gen, dtype=D) + 0.1


def _loop_mean(values: torch.Tensor, denom: torch.Tensor, s: torch.Tensor) -> float:
    """Σ_i s_i Σ_j v_ij / Σ_i s_i Σ_j d_ij with plain Python loops (independent of the vectorised code)."""
    num = den = 0.0
    for i in range(values.shape[0]):
        num += float(s[i]) * float(values[i].sum())
        den += float(s[i]) * float(denom[i].sum())
    return num / den


@pytest.mark.parametrize("shape", [(5,), (5, 3), (5, 3, 2), (5, 2, 3, 2)])
def test_plain_reductions(gen: torch.Generator, shape: tuple[int, ...]) -> None:
    v = _values(gen, *shape)
    assert reduce_loss(v, "none") is v
    torch.testing.assert_close(reduce_loss(v, "sum"), torch.tensor(sum(v.flatten().tolist()), dtype=D))
    torch.testing.assert_close(reduce_loss(v, "mean"), torch.tensor(sum(v.flatten().tolist()) / v.numel(), dtype=D))
    per = reduce_loss(v, "per_sample")
    assert per.shape == (shape[0],)
    expected = torch.tensor([sum(v[i].flatten().tolist()) / v[i].numel() for i in range(shape[0])], dtype=D)
    torch.testing.assert_close(per, expected)
    torch.testing.assert_close(per.mean(), reduce_loss(v, "mean"))


def test_denominator_weights_give_weighted_mean(gen: torch.Generator) -> None:
    raw = _values(gen, 4, 3)
    w = torch.rand(4, 3, generator=gen, dtype=D)
    ones = torch.ones(4, dtype=D)
    got = reduce_loss(raw * w, "mean", denom=w)
    torch.testing.assert_close(got, torch.tensor(_loop_mean(raw * w, w, ones), dtype=D))
    per = reduce_loss(raw * w, "per_sample", denom=w)
    torch.testing.assert_close(per, (raw * w).sum(1) / w.sum(1))


def test_sample_weight_in_every_reduction(gen: torch.Generator) -> None:
    v = _values(gen, 4, 3)
    s = torch.tensor([0.5, 2.0, 0.0, 1.0], dtype=D)
    torch.testing.assert_close(reduce_loss(v, "none", sample_weight=s), v * s[:, None])
    torch.testing.assert_close(reduce_loss(v, "sum", sample_weight=s), (v * s[:, None]).sum())
    torch.testing.assert_close(reduce_loss(v, "per_sample", sample_weight=s), v.mean(1) * s)
    torch.testing.assert_close(
        reduce_loss(v, "mean", sample_weight=s), torch.tensor(_loop_mean(v, torch.ones_like(v), s), dtype=D)
    )


def test_sample_weight_and_denominator_combine(gen: torch.Generator) -> None:
    raw = _values(gen, 3, 4)
    w = torch.rand(3, 4, generator=gen, dtype=D)
    s = torch.tensor([1.0, 3.0, 0.25], dtype=D)
    got = reduce_loss(raw * w, "mean", denom=w, sample_weight=s)
    torch.testing.assert_close(got, torch.tensor(_loop_mean(raw * w, w, s), dtype=D))


@pytest.mark.parametrize(
    "case",
    ["empty", "zero_denominator", "zero_sample_weight"],
)
def test_mean_over_zero_weight_is_zero_with_zero_gradient(gen: torch.Generator, case: str) -> None:
    if case == "empty":
        v = torch.empty(0, 3, dtype=D, requires_grad=True)
        kwargs: dict = {}
    else:
        v = _values(gen, 3, 2).requires_grad_()
        kwargs = (
            {"denom": torch.zeros(3, 2, dtype=D)}
            if case == "zero_denominator"
            else {"sample_weight": torch.zeros(3, dtype=D)}
        )
    out = reduce_loss(v, "mean", **kwargs)
    assert out.item() == 0.0
    out.backward()
    assert torch.equal(v.grad, torch.zeros_like(v))


def test_per_sample_of_a_sample_without_weight_is_zero(gen: torch.Generator) -> None:
    v = _values(gen, 2, 3).requires_grad_()
    denom = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]], dtype=D)
    per = reduce_loss(v * denom, "per_sample", denom=denom)
    torch.testing.assert_close(per, torch.stack([v[0, :2].mean(), torch.zeros((), dtype=D)]).detach())
    per.sum().backward()
    assert torch.isfinite(v.grad).all()
    assert torch.equal(v.grad[1], torch.zeros(3, dtype=D))


def test_empty_batch_shapes() -> None:
    v = torch.empty(0, 4)
    assert reduce_loss(v, "none").shape == (0, 4)
    assert reduce_loss(v, "per_sample").shape == (0,)
    assert reduce_loss(v, "sum").item() == 0.0


@pytest.mark.parametrize("num_items", [7, 7.0, torch.tensor(7.0), torch.tensor([7.0])])
def test_num_items_replaces_the_denominator(gen: torch.Generator, num_items: object) -> None:
    v = _values(gen, 3, 2)
    s = torch.tensor([1.0, 0.0, 2.0], dtype=D)
    torch.testing.assert_close(reduce_loss(v, "mean", num_items=num_items), v.sum() / 7)
    torch.testing.assert_close(
        reduce_loss(v, "mean", sample_weight=s, num_items=num_items), (v * s[:, None]).sum() / 7
    )


def test_num_items_zero_gives_zero(gen: torch.Generator) -> None:
    v = _values(gen, 3, 2).requires_grad_()
    out = reduce_loss(v, "mean", num_items=0)
    out.backward()
    assert out.item() == 0.0 and torch.equal(v.grad, torch.zeros_like(v))


@pytest.mark.parametrize("bad", [-1, True, "3", torch.ones(2)])
def test_bad_num_items(bad: object) -> None:
    with pytest.raises(LossInputError, match="num_items"):
        reduce_loss(torch.ones(3), "mean", num_items=bad)


def test_unknown_reduction_names_it_and_the_choices() -> None:
    with pytest.raises(LossInputError, match=r"reduction='avg'.*'mean'.*'sum'.*'none'.*'per_sample'"):
        reduce_loss(torch.ones(3), "avg")


def test_per_sample_and_sample_weight_need_a_batch() -> None:
    with pytest.raises(LossInputError, match=r"per_sample.*batched"):
        reduce_loss(torch.tensor(1.0), "per_sample")
    with pytest.raises(LossInputError, match=r"sample_weight.*batched"):
        reduce_loss(torch.tensor(1.0), "mean", sample_weight=torch.ones(1))
    assert reduce_loss(torch.tensor(2.5), "mean").item() == 2.5


@pytest.mark.parametrize(
    ("weight", "pattern"),
    [(torch.ones(4), r"shape \(4,\).*\(3,\)"), (torch.ones(3, 1), r"shape \(3, 1\)"), (torch.ones(3).long(), "dtype")],
)
def test_bad_sample_weight(weight: torch.Tensor, pattern: str) -> None:
    with pytest.raises(LossInputError, match=pattern):
        reduce_loss(torch.ones(3, 2), "mean", sample_weight=weight)
