"""Exact losses beyond one batch: gradient accumulation, data parallelism, a sharded vocabulary.

**Exact means across micro-batches and ranks.** With padding or
``ignore_index``, micro-batches hold different numbers of valid items, and
the mean of per-micro-batch means is not the mean over all items of the
step: every item of a short micro-batch weighs more than one of a long one.
The same happens across data-parallel ranks, whose local means
:class:`~torch.nn.parallel.DistributedDataParallel` (DDP) averages again.
The exact step gradient is the gradient of

.. math::

    L = \\frac{\\sum_{r=1}^{W} \\sum_{m=1}^{k} \\sum_{i \\in B_{rm}} w_i \\ell_i}
             {\\sum_{r=1}^{W} \\sum_{m=1}^{k} \\sum_{i \\in B_{rm}} w_i}

over the ``k`` micro-batches :math:`B_{rm}` of each of the ``W`` ranks. Every
losskit loss takes ``num_items=`` to replace its local denominator;
:func:`mean_divisor` returns the number to pass, the global denominator
divided by ``W``, because DDP divides the summed gradients by ``W``::

    from losskit.distributed import mean_divisor

    micro = [next(batches) for _ in range(k)]            # this rank's share of one step
    n = mean_divisor([y for _, y in micro])              # one all-reduce per step
    for m, (x, y) in enumerate(micro):
        sync = ddp.no_sync() if m < k - 1 else contextlib.nullcontext()
        with sync:                                       # all-reduce once, on the last micro-batch
            LF.cross_entropy(ddp(x), y, num_items=n).backward()
    optimizer.step(); optimizer.zero_grad()

This is the Hugging Face fix for gradient accumulation (``num_items_in_batch``,
transformers 4.46, October 2024), extended to ranks.

**Vocab-parallel cross-entropy.** :func:`vocab_parallel_cross_entropy`
computes cross-entropy over logits whose classes are split across the ranks
of a tensor-parallel group, as in Megatron-LM (Shoeybi et al., 2019): three
all-reduces in the forward pass (the row maximum, the sums of
exponentials with the target logit, and, for label smoothing, the sum of
the logits), none in the backward pass.

Only :mod:`torch.distributed` collectives are used. Without an initialised
process group everything runs as a single process (world size 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist
from torch.autograd.function import once_differentiable

from . import _validate as V
from ._reduce import reduce_loss
from ._types import Reduction, Validate
from .functional._prep import Number, compute_dtype

if TYPE_CHECKING:
    from torch.distributed import ProcessGroup

__all__ = ["global_divisor", "mean_divisor", "vocab_parallel_cross_entropy"]


# ------------------------------------------------------------ process groups


def _is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def _group_info(group: ProcessGroup | None) -> tuple[int, int]:
    """(world size, rank) of this process in ``group``; (1, 0) without torch.distributed."""
    if not _is_distributed():
        if group is not None:
            V.refuse_group_without_process_group()
        return 1, 0
    rank = dist.get_rank(group)
    if rank < 0:
        V.refuse_non_member()
    return dist.get_world_size(group), rank


def _comm_device(group: ProcessGroup | None, device: torch.device) -> torch.device:
    """The device a collective on ``group`` needs: NCCL only reduces CUDA tensors."""
    if device.type == "cpu" and dist.get_backend(group) == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return device


def _all_reduce(t: torch.Tensor, op: dist.ReduceOp.RedOpType, group: ProcessGroup | None) -> torch.Tensor:
    """In-place all-reduce of ``t`` over ``group`` (moved to the backend's device if needed)."""
    device = _comm_device(group, t.device)
    if device == t.device:
        dist.all_reduce(t, op=op, group=group)
        return t
    moved = t.to(device)
    dist.all_reduce(moved, op=op, group=group)
    return t.copy_(moved)


def _all_gather(t: torch.Tensor, group: ProcessGroup | None, world: int) -> list[torch.Tensor]:
    device = _comm_device(group, t.device)
    src = t.to(device)
    out = [torch.empty_like(src) for _ in range(world)]
    dist.all_gather(out, src, group=group)
    return [o.to(t.device) for o in out]


# -------------------------------------------------------------- mean_divisor


def _count_dtype(device: torch.device) -> torch.dtype:
    """Counts are summed in float64 (exact up to 2**53), float32 where float64 is unsupported."""
    return torch.float32 if device.type == "mps" else torch.float64


def global_divisor(local_total: Number, *, group: ProcessGroup | None = None) -> torch.Tensor:
    """The ``num_items`` for a step from this rank's own denominator total.

    .. math::

        \\text{num\\_items} = \\frac{1}{W} \\sum_{r=1}^{W} n_r

    with :math:`n_r` the ``local_total`` of rank :math:`r` and :math:`W` the
    size of ``group`` (one all-reduce). Without an initialised process group
    it returns ``local_total`` itself. Use it where :func:`mean_divisor`
    cannot count the denominator, e.g. with per-sample weights (pass the
    local :math:`\\sum_i s_i \\sum_j w_{ij}`).

    Args:
      local_total: this rank's total over all micro-batches of the step.
      group: the process group DDP averages gradients over (default: the
        whole world). It must be the same group on every rank.

    Returns:
      a 0-d float64 tensor (float32 on MPS) on ``local_total``'s device
      (the CPU for a Python number); no host synchronisation.
    """
    V.check_local_total(local_total)
    device = local_total.device if isinstance(local_total, torch.Tensor) else torch.device("cpu")
    total = torch.as_tensor(local_total, device=device).detach().to(_count_dtype(device)).reshape(()).clone()
    world, _ = _group_info(group)
    if not _is_distributed():
        return total
    _all_reduce(total, dist.ReduceOp.SUM, group)
    return total / world


def _local_count(
    t: torch.Tensor,
    *,
    ignore_index: int,
    weight: torch.Tensor | None,
    class_dim: int | None,
    validate: Validate,
    name: str,
) -> torch.Tensor:
    dtype = _count_dtype(t.device)
    V.check_count_target(t, name, weight, class_dim)
    if not t.is_floating_point():
        t = t.long()  # compared as int64: a narrow dtype would wrap ignore_index
        valid = t != ignore_index
        if weight is None:
            return valid.sum().to(dtype)
        if V.resolve(validate):
            V.check_class_indices(t, weight.shape[0], ignore_index)
        index = torch.where(valid, t, torch.zeros_like(t)).long()
        w = weight.to(device=t.device, dtype=dtype)[index]
        return torch.where(valid, w, torch.zeros_like(w)).sum()
    if class_dim is None:
        return torch.tensor(float(t.numel()), dtype=dtype, device=t.device)
    num_classes = t.shape[class_dim]
    if weight is None:
        positions = t.numel() // num_classes if num_classes else 0
        return torch.tensor(float(positions), dtype=dtype, device=t.device)
    w = weight.to(device=t.device, dtype=dtype)
    return (t.to(dtype).movedim(class_dim, -1) * w).sum()


def mean_divisor(
    targets: torch.Tensor | Sequence[torch.Tensor],
    *,
    ignore_index: int = -100,
    weight: torch.Tensor | None = None,
    class_dim: int | None = None,
    group: ProcessGroup | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """The ``num_items=`` that makes every step's gradient the exact global mean.

    Counts the items of this rank's micro-batches the way the loss's
    ``reduction="mean"`` counts them, all-reduces the count over ``group``
    and divides it by the world size :math:`W`:

    .. math::

        \\text{num\\_items} = \\frac{1}{W} \\sum_{r=1}^{W} \\sum_{m=1}^{k} n(B_{rm}),
        \\qquad
        n(B) = \\begin{cases}
            \\sum_{i : y_i \\ne \\text{ignore}} w_{y_i} & \\text{class indices}\\\\
            \\sum_i \\sum_c w_c\\, y_{ic} & \\text{probabilities (class\\_dim given)}\\\\
            \\text{number of elements} & \\text{regression targets}
        \\end{cases}

    (:math:`w \\equiv 1` without ``weight``). Each micro-batch's loss
    :math:`\\sum_i w_i \\ell_i / \\text{num\\_items}` then has, after DDP
    divides the summed gradients by :math:`W`, exactly the gradient of the
    mean over every item of the step on every rank. Without an initialised
    process group the divisor is the plain total, which makes gradient
    accumulation in one process exact. A step with no item at all gives 0,
    and the losses then return 0 with zero gradients.

    Recipe (this rank holds ``k`` micro-batches of one optimizer step)::

        n = mean_divisor([y for _, y in micro])
        for m, (x, y) in enumerate(micro):
            with ddp.no_sync() if m < k - 1 else contextlib.nullcontext():
                LF.cross_entropy(ddp(x), y, num_items=n).backward()
        optimizer.step(); optimizer.zero_grad()

    Pass to the loss the same ``ignore_index`` and class ``weight``. Label
    smoothing does not change the count. For per-sample or elementwise
    weights, sum the denominator yourself and use :func:`global_divisor`.

    Args:
      targets: one tensor, or the list of targets of this rank's
        micro-batches in the step. Integer tensors are class indices;
        floating tensors are regression targets (every element counts),
        or probability targets when ``class_dim`` is given.
      ignore_index: class-index targets equal to it do not count.
      weight: class weights, shape (C,), as passed to the loss.
      class_dim: the class dimension of floating probability targets
        (1 for losskit's classification losses); ``None`` for regression.
      group: the process group DDP averages over (default: the whole
        world); the same on every rank, and every rank must call this.
      validate: check class indices against ``weight`` (a host sync);
        ``None`` follows :func:`losskit.set_validation`.

    Returns:
      a 0-d float64 tensor (float32 on MPS) on the targets' device, not
      synchronised with the host; pass it straight to ``num_items=``.

    References:
      Hugging Face transformers PR 34191, *Fix gradient accumulation
      normalisation* (``num_items_in_batch``), 2024.
    """
    ignore_index = V.check_ignore_index(ignore_index)
    class_dim = V.check_count_options(weight, class_dim)
    items = V.check_target_list(targets)
    total = sum(
        _local_count(
            t, ignore_index=ignore_index, weight=weight, class_dim=class_dim, validate=validate,
            name="targets" if isinstance(targets, torch.Tensor) else f"targets[{i}]",
        )
        for i, t in enumerate(items)
    )
    return global_divisor(total, group=group)


# ---------------------------------------------- vocab-parallel cross-entropy


class _VocabParallelCrossEntropy(torch.autograd.Function):
    """Per-row cross-entropy of logits split over the class dim; local backward."""

    @staticmethod
    def forward(
        ctx: Any,
        logits: torch.Tensor,
        target: torch.Tensor,
        vocab_start: int,
        label_smoothing: float,
        ignore_index: int,
        group: ProcessGroup | None,
        distributed: bool,
    ) -> torch.Tensor:
        # logits: (M, width) in the compute dtype; target: (M,) global class indices
        width = logits.shape[-1]
        valid = target != ignore_index
        local = target - vocab_start
        here = valid & (local >= 0) & (local < width)
        index = torch.where(here, local, torch.zeros_like(local)).unsqueeze(-1)

        row_max = logits.max(dim=-1).values
        if distributed:
            _all_reduce(row_max, dist.ReduceOp.MAX, group)
        shifted = logits - row_max.unsqueeze(-1)
        exp = shifted.exp()
        target_logit = torch.where(here, shifted.gather(-1, index).squeeze(-1), torch.zeros_like(row_max))
        columns = [exp.sum(-1), target_logit]
        if label_smoothing:
            columns.append(shifted.sum(-1))
        # one SUM all-reduce for every per-row sum, plus the shard width (-> number of classes)
        packed = torch.cat([torch.stack(columns).flatten(), logits.new_tensor([width])])
        if distributed:
            _all_reduce(packed, dist.ReduceOp.SUM, group)
        num_classes = packed[-1]
        sums = packed[:-1].view(len(columns), -1)
        log_sum_exp = sums[0].log()
        loss = log_sum_exp - sums[1]
        if label_smoothing:
            smooth = log_sum_exp - sums[2] / num_classes
            loss = (1 - label_smoothing) * loss + label_smoothing * smooth
        loss = torch.where(valid, loss, torch.zeros_like(loss))

        softmax = exp.div_(sums[0].unsqueeze(-1))
        ctx.save_for_backward(softmax, index, here, valid, num_classes)
        ctx.label_smoothing = label_smoothing
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_loss: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        softmax, index, here, valid, num_classes = ctx.saved_tensors
        eps = ctx.label_smoothing
        # d loss / d logit_c = softmax_c - (1 - eps) * onehot_c - eps / C, for the classes of this shard
        grad = softmax - eps / num_classes if eps else softmax.clone()
        grad.scatter_add_(-1, index, (-(1 - eps) * here.to(grad.dtype)).unsqueeze(-1))
        scale = torch.where(valid, grad_loss, torch.zeros_like(grad_loss))
        grad.mul_(scale.unsqueeze(-1))
        return grad, None, None, None, None, None, None


def _check_vocab_layout(
    vocab_start: int, width: int, group: ProcessGroup | None, world: int, device: torch.device
) -> int:
    """All-gather every rank's (start, width); they must tile [0, C). Returns C."""
    mine = torch.tensor([vocab_start, width], dtype=torch.int64, device=device)
    layout = sorted(tuple(int(v) for v in t.tolist()) for t in _all_gather(mine, group, world))
    return V.check_vocab_tiling(layout)  # type: ignore[arg-type]


def _check_same_target(target: torch.Tensor, group: ProcessGroup | None) -> None:
    t = target.reshape(-1).long()
    extremes = torch.stack([t, -t])
    _all_reduce(extremes, dist.ReduceOp.MAX, group)
    if not (torch.equal(extremes[0], t) and torch.equal(-extremes[1], t)):
        V.refuse_different_targets()


def vocab_parallel_cross_entropy(
    logits_shard: torch.Tensor,
    target: torch.Tensor,
    *,
    vocab_start: int | None = None,
    group: ProcessGroup | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: Reduction = "mean",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Cross-entropy of logits whose classes are split across the ranks of ``group``.

    Each rank holds the logits of classes
    ``[vocab_start, vocab_start + width)`` and the same full ``target``. With
    :math:`m` the global row maximum, :math:`S = \\sum_c e^{x_c - m}` and
    :math:`T = x_y - m`, each summed over the shards by an all-reduce,

    .. math::

        \\ell = (1 - \\varepsilon)(\\log S - T)
              + \\varepsilon \\Big(\\log S - \\frac{1}{C} \\sum_c (x_c - m)\\Big),
        \\qquad
        \\frac{\\partial \\ell}{\\partial x_c} = p_c - (1 - \\varepsilon)[c = y] - \\frac{\\varepsilon}{C}

    The gradient of each shard needs only its own softmax, so the backward
    pass has no communication. Values, gradients and every reduction equal
    :func:`losskit.functional.cross_entropy` on the logits gathered along
    the class dim (mean over non-ignored positions, 0 with zero gradients
    when every target is ignored, ``num_items`` replacing the count).

    The class dimension is dim 1, as in :func:`~losskit.functional.cross_entropy`:
    ``logits_shard`` is (N, width), (N, width, d1, ...) or unbatched
    (width,), and ``target`` is (N,), (N, d1, ...) or 0-d. Language-model
    logits of shape (B, T, V) pass as ``logits.flatten(0, -2)`` with
    ``target.flatten()``, or as ``logits.transpose(1, 2)``. Class weights
    and probability targets are not supported.

    Args:
      logits_shard: this rank's slice of the logits along dim 1.
      target: global class indices in [0, C), identical on every rank.
      vocab_start: the first class of this shard; ``None`` means
        rank × width (equal shards in rank order).
      group: the tensor-parallel group the classes are split over (default:
        the whole world); without torch.distributed, one process holding
        every class.
      ignore_index, label_smoothing, reduction, sample_weight, num_items:
        as in :func:`~losskit.functional.cross_entropy`.
      validate: value checks, each a host sync and the layout and target
        checks one collective each: finite logits, shards tiling [0, C),
        the same target on every rank, targets in range.

    Returns:
      the reduced loss, identical on every rank of ``group``.

    References:
      Shoeybi et al., *Megatron-LM: Training Multi-Billion Parameter Language
      Models Using Model Parallelism*, arXiv:1909.08053, 2019.
    """
    label_smoothing, ignore_index = V.check_vocab_parallel(
        logits_shard, target, reduction=reduction, label_smoothing=label_smoothing, ignore_index=ignore_index
    )
    unbatched = logits_shard.dim() == 1
    if unbatched:
        logits_shard, target = logits_shard.unsqueeze(0), target.unsqueeze(0)
    expected = logits_shard.shape[:1] + logits_shard.shape[2:]
    width = logits_shard.shape[1]
    world, rank = _group_info(group)
    distributed = _is_distributed()
    if vocab_start is None:
        vocab_start = rank * width
    V.check_vocab_start(vocab_start, distributed)

    if V.resolve(validate):
        V.check_finite(logits_shard, "logits_shard")
        num_classes = width
        if distributed:
            num_classes = _check_vocab_layout(vocab_start, width, group, world, logits_shard.device)
            _check_same_target(target, group)
        V.check_class_indices(target, num_classes, ignore_index)

    target = target.long()  # compared as int64: a narrow dtype would wrap ignore_index
    dtype = compute_dtype(logits_shard)
    rows = logits_shard.to(dtype).movedim(1, -1).reshape(-1, width)
    values = _VocabParallelCrossEntropy.apply(
        rows, target.reshape(-1), vocab_start, float(label_smoothing), ignore_index, group, distributed
    ).reshape(expected)
    valid = (target != ignore_index).to(dtype)
    out = reduce_loss(
        values, reduction, denom=valid, sample_weight=sample_weight, num_items=num_items, validate=validate
    )
    if unbatched and reduction == "none":
        out = out.squeeze(0)
    return out
