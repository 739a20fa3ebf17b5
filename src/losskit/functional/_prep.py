"""Shared input preparation for the functional losses.

Regression losses go through :func:`elementwise_loss`; classification losses
through :func:`prepare_classification`, which turns any accepted
``(input, target)`` pair into one :class:`ClassBatch`. Nothing here is
public: the losses in :mod:`losskit.functional` are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import isfinite

import torch
import torch.autograd.forward_ad as _forward_ad
import torch.nn.functional as F

from .. import _validate as V
from .._reduce import reduce_loss
from .._types import Validate
from .._validate import F32, F64, PLAIN_TENSORS
from .fused.elementwise import fused_elementwise_loss, fused_elementwise_mode

Number = int | float | torch.Tensor


def compute_dtype(*tensors: torch.Tensor) -> torch.dtype:
    """The dtype losses are computed in: the promoted dtype, at least float32."""
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    if dtype in (torch.float16, torch.bfloat16):
        return torch.float32
    return dtype


# ------------------------------------------------------------------ regression


def prepare_regression(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    weight: torch.Tensor | None,
    validate: Validate,
    weight_sign: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Check a regression pair and return (input, target, weight) in the compute dtype.

    ``weight_sign=False`` (a torch name at the default level) checks the weight's finiteness, not its sign.
    """
    V.check_float(input, "input")
    V.check_float(target, "target")
    V.check_same_shape(input, target)
    V.check_elementwise_weight(weight, input)
    if V.resolve(validate):
        V.check_finite(input, "input")
        V.check_finite(target, "target")
        if weight_sign:
            V.check_weight_values(weight)
        elif weight is not None:
            V.check_finite(weight, "weight")
    dtype = compute_dtype(input, target)
    w = None if weight is None else weight.to(dtype)
    return input.to(dtype), target.to(dtype), w


# torch's reduction enums (torch.nn._reduction.get_enum), and the dtypes its fused ops take here
_TORCH_REDUCTION = {"none": 0, "mean": 1, "sum": 2}
_FAST_DTYPES = (torch.float32, torch.float64)
# below this many elements torch's own op beats the fused C kernel's fixed cost (benchmarks/bench_vs_torch.py);
# fused mode "always" uses the kernel at any size
FUSED_MIN_NUMEL = 1 << 17
# "none" under torch's names stays torch's op (with the C check of the result): the fused "none" kernel writes
# the derivatives in the forward pass and read 0.5-1.5x torch in repeated bench_vs_torch runs at 2^20, bimodal
# between processes; it serves losskit's own losses (log-cosh), where the composed path is far slower

FusedOp = tuple[str, float] | tuple[str, float, float]
"""A loss in the fused C kernels: ``(name, delta)``, or ``(name, delta, value_scale)`` (smooth_l1 is huber / beta)."""
TorchOp = tuple[Callable[..., torch.Tensor], tuple[float, ...]]
"""torch's own elementwise op ``op(input, target, reduction_enum, *extra)`` and its ``extra`` arguments."""


def _torch_elementwise(
    torch_op: TorchOp,
    fused: FusedOp | None,
    input: object,
    target: object,
    reduction: str,
    weight: object,
    validate: Validate,
) -> torch.Tensor | None:
    """torch's own op where its meaning is losskit's, else None (the composed path runs).

    Reads metadata only; the value checks ride on the result (a finite loss
    proves finite inputs: every loss here is finite exactly where its residual
    and weight are). A weighted loss is torch's unreduced op times the weight,
    reduced by :func:`~losskit._reduce.reduce_loss` (a weighted mean is
    :math:`\\sum w\\ell / \\sum w`). Large unweighted ``"mean"``/``"sum"`` calls
    take losskit's one-pass fused kernel.
    """
    red = _TORCH_REDUCTION.get(reduction)
    if red is None or not isinstance(input, torch.Tensor) or not isinstance(target, torch.Tensor):
        return None
    dtype = input.dtype
    if dtype not in _FAST_DTYPES or target.dtype != dtype:
        return None
    if weight is not None and (
        not isinstance(weight, torch.Tensor) or weight.dtype != dtype or weight.shape != input.shape
        or V.strict(validate)
    ):
        return None  # the composed path checks the weight and names what is wrong
    numel = input.numel()
    if red == 1 and numel == 0:
        return None  # a mean over zero items is 0, not torch's NaN
    if input.shape != target.shape:
        V.check_target_broadcast(input, target)
        target = target.expand_as(input)
    elif weight is None and fused is not None and (
        (red and numel >= FUSED_MIN_NUMEL) or fused_elementwise_mode() == "always"
    ):
        out = fused_elementwise_loss(
            fused, input, target, reduction=reduction, weight=None, sample_weight=None, num_items=None,
            validate=validate,
        )
        if out is not None:
            return out
    mode = V.fast_mode(validate, input)
    op, extra = torch_op
    if weight is None:
        out = op(input, target, red, *extra)
    else:
        out = reduce_loss(op(input, target, 0, *extra) * weight, reduction, denom=weight, validate=False)
    if mode == V.OFF or (mode == V.SYNC and (isfinite(out.item()) if red else V.finite_on_host(out))):
        return out  # the clean call's whole cost: one 0-d read, or one C pass over the unreduced loss
    # a non-finite result (the inputs are diagnosed), or a trace or an accelerator (value_mode decides)
    mode = V.value_mode(validate, input) if mode < 0 else mode
    return V.check_result(out, mode, (("input", input), ("target", target), ("weight", weight)))


def expand_target(input: object, target: object) -> object:
    """``target`` broadcast to ``input``'s shape where that adds no loss terms (else refused).

    A non-tensor argument passes through unchanged, for the loss's own checks to refuse by name.
    """
    if isinstance(input, torch.Tensor) and isinstance(target, torch.Tensor) and input.shape != target.shape:
        V.check_target_broadcast(input, target)
        return target.expand_as(input)
    return target


def elementwise_loss(
    kernel: Callable[[torch.Tensor], torch.Tensor],
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str,
    weight: torch.Tensor | None,
    sample_weight: torch.Tensor | None,
    num_items: Number | None,
    validate: Validate,
    fused: FusedOp | None = None,
    torch_op: TorchOp | None = None,
) -> torch.Tensor:
    """Apply ``kernel`` to the residual ``input - target`` and reduce.

    ``fused = (name, delta[, value_scale])`` names the same loss in the one-pass kernels of
    :mod:`losskit.functional.fused.elementwise`, used instead of the plain
    path below (the reference) where they apply.

    ``torch_op`` marks a loss with torch's name and meaning: torch's own op
    runs wherever its options mean what losskit's do (see
    :func:`_torch_elementwise`), ``target`` broadcasts to ``input`` as in
    torch where no loss term is added, and the weight's sign is a
    strict-level check (torch takes any weight).
    """
    if torch_op is not None:
        if sample_weight is None and num_items is None:
            out = _torch_elementwise(torch_op, fused, input, target, reduction, weight, validate)
            if out is not None:
                return out
        target = expand_target(input, target)  # type: ignore[assignment]  # a non-tensor is refused below
    V.check_reduction(reduction)
    if fused is not None:
        out = fused_elementwise_loss(
            fused, input, target, reduction=reduction, weight=weight, sample_weight=sample_weight,
            num_items=num_items, validate=validate,
        )
        if out is not None:
            return out
    x, y, w = prepare_regression(
        input, target, weight=weight, validate=validate, weight_sign=torch_op is None or V.strict(validate)
    )
    values = kernel(x - y)
    if w is not None:
        values = values * w
    return reduce_loss(
        values, reduction, denom=w, sample_weight=sample_weight, num_items=num_items, validate=validate
    )


# -------------------------------------------------------------- classification


@dataclass
class ClassBatch:
    """One classification batch, normalised to a class dimension at dim 1.

    Attributes:
      log_p: log-probabilities, shape (N, C, d1, ...), compute dtype.
      index: class index per position (ignored positions set to 0), or None
        for probability targets.
      valid: bool mask of non-ignored positions, shape (N, d1, ...), or None
        when every position counts.
      probs_target: probability targets, shape (N, C, d1, ...), or None for
        index targets (label smoothing not applied).
      log_probs_target: the target as given when ``target_kind="log_probs"``.
      class_weight: the per-class weight vector (compute dtype) or None.
      unbatched: the caller passed a (C,) input; squeeze ``"none"`` output.
      validate: the call's ``validate`` option, for the reduction's value checks.
    """

    log_p: torch.Tensor
    index: torch.Tensor | None
    valid: torch.Tensor | None
    probs_target: torch.Tensor | None
    log_probs_target: torch.Tensor | None
    class_weight: torch.Tensor | None
    unbatched: bool
    validate: Validate = None

    @property
    def num_classes(self) -> int:
        return self.log_p.shape[1]

    def probs(self) -> torch.Tensor:
        return self.log_p.exp()

    def target_log_p(self) -> torch.Tensor:
        """log p_y at each position (index targets only)."""
        assert self.index is not None
        if self.num_classes == 0:  # no class at all: every position must be ignored, and counts 0
            return self.log_p.sum(1)  # zeros, still on the graph (a zero gradient of the right shape)
        return self.log_p.gather(1, self.index.unsqueeze(1)).squeeze(1)

    def position_weight(self) -> torch.Tensor | None:
        """Weight of each position: the target's class weight, 0 where ignored.

        For probability targets this is the expected class weight
        :math:`\\sum_c w_c y_c`. ``None`` means every position weighs 1.
        """
        w = None
        if self.class_weight is not None:
            if self.index is not None:
                w = self.class_weight[self.index]
            else:
                assert self.probs_target is not None  # probability targets: index is None, probs_target set
                w = (self.probs_target * class_view(self.class_weight, self.log_p.dim())).sum(1)
        if self.valid is not None:
            valid = self.valid.to(self.log_p.dtype)
            w = valid if w is None else w * valid
        return w

    def dense_target(self, label_smoothing: float = 0.0) -> torch.Tensor:
        """Target probabilities (one-hot for indices), smoothed towards uniform."""
        if self.index is not None:
            y = F.one_hot(self.index, self.num_classes).movedim(-1, 1).to(self.log_p.dtype)
        else:
            assert self.probs_target is not None  # probability targets: index is None, probs_target set
            y = self.probs_target
        if label_smoothing:
            y = y * (1 - label_smoothing) + label_smoothing / self.num_classes
        return y

    def probability_mae(self, label_smoothing: float = 0.0) -> torch.Tensor:
        """:math:`\\sum_c |y_c - p_c|` per position; :math:`2(1 - p_y)` for index targets,
        computed as ``-2 expm1(log p_y)`` so it stays exact as :math:`p_y \\to 1`."""
        if self.index is not None and not label_smoothing:
            return -2.0 * torch.expm1(self.target_log_p())
        return (self.dense_target(label_smoothing) - self.probs()).abs().sum(1)

    def mask(self, values: torch.Tensor) -> torch.Tensor:
        """Zero the values of ignored positions (with where, so no NaN leaks through)."""
        if self.valid is None:
            return values
        return torch.where(self.valid, values, torch.zeros_like(values))

    def reduce(
        self,
        values: torch.Tensor,
        reduction: str,
        *,
        sample_weight: torch.Tensor | None,
        num_items: Number | None,
        preweighted: bool = False,
    ) -> torch.Tensor:
        """Mask ignored positions, weight by :meth:`position_weight` and reduce.

        ``preweighted=True`` means the class weights are already inside
        ``values`` (as in cross-entropy); they still form the denominator.
        """
        w = self.position_weight()
        values = self.mask(values)
        if w is not None and not preweighted:
            values = values * w
        out = reduce_loss(
            values, reduction, denom=w, sample_weight=sample_weight, num_items=num_items, validate=self.validate
        )
        if self.unbatched and reduction == "none":
            out = out.squeeze(0)
        return out


def class_view(weight: torch.Tensor, ndim: int) -> torch.Tensor:
    return weight.reshape((1, -1) + (1,) * (ndim - 2))


def log_probs_from_input(input: torch.Tensor, input_kind: str, dtype: torch.dtype) -> torch.Tensor:
    x = input.to(dtype)
    if input_kind == "logits":
        return torch.log_softmax(x, dim=1)
    if input_kind == "log_probs":
        return x
    # probs: clamp so a zero probability gives a large finite loss, not inf
    return torch.log(x.clamp_min(torch.finfo(dtype).tiny))


def prepare_classification(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    input_kind: str = "logits",
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    target_kind: str = "probs",
    allow_index: bool = True,
    allow_probs: bool = True,
    validate: Validate = None,
    torch_meaning: bool = False,
) -> ClassBatch:
    """Check a classification pair and normalise it into a :class:`ClassBatch`.

    ``input`` is (N, C, d1, ...) or unbatched (C,); ``target`` is class
    indices (N, d1, ...) of an integer dtype, or probabilities shaped like
    ``input`` (``target_kind`` says whether they are log-probabilities).
    ``torch_meaning``: the call is a torch name with torch's arguments, so
    at the default level only what makes the loss undefined is refused
    (non-finite values, class indices out of range); the distribution and
    weight-sign checks run at the strict level (see :mod:`losskit._validate`).
    """
    is_index, label_smoothing, ignore_index = V.check_classification_pair(
        input, target, input_kind=input_kind, target_kind=target_kind, label_smoothing=label_smoothing,
        ignore_index=ignore_index, allow_index=allow_index, allow_probs=allow_probs,
    )
    unbatched = input.dim() == 1
    if unbatched:
        input = input.unsqueeze(0)
        target = target.unsqueeze(0)
    num_classes = input.shape[1]
    V.check_class_weight(weight, num_classes)
    if V.resolve(validate):
        V.check_classification_values(
            input, target, input_kind=input_kind, target_kind=target_kind, is_index=is_index,
            num_classes=num_classes, ignore_index=ignore_index, weight=weight,
            distributions=not torch_meaning or V.strict(validate),
        )

    dtype = compute_dtype(input) if is_index else compute_dtype(input, target)
    log_p = log_probs_from_input(input, input_kind, dtype)
    w = None if weight is None else weight.to(dtype)
    if is_index:
        # int64 before comparing: a narrow dtype would wrap ignore_index (uint8 156 == -100)
        target = target.long()
        valid = target != ignore_index
        index = torch.where(valid, target, torch.zeros_like(target))
        return ClassBatch(log_p, index, valid, None, None, w, unbatched, validate)
    t = target.to(dtype)
    if target_kind == "log_probs":
        return ClassBatch(log_p, None, None, t.exp(), t, w, unbatched, validate)
    return ClassBatch(log_p, None, None, t, None, w, unbatched, validate)


# ------------------------------------------------------------------ torch's own op for the other torch names

_REAL_TYPES = (int, float)
Args = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class TorchCall:
    """How a loss calls torch's own op ``op(*args, reduction_enum)`` (see :func:`torch_op_loss`).

    * ``named``: ``(name, position in args)`` of the arguments whose NaN or inf reaches the result.
    * ``same``: ``args[1:same]`` must share ``args[0]``'s dtype and shape (torch's op would broadcast);
      ``others``: positions of optional tensors (``None`` allowed) of ``args[0]``'s dtype.
    * ``strict_checks``: the loss has checks of its own at the strict level; that level takes the
      composed path.
    * ``guard(args)``: a value check the result cannot show (a variance >= 0), as a host-side verdict.
    * ``drops_nan``: torch's kernel drops a NaN of the ``named`` inputs (a margin kernel's ``if z > 0``), so
      its value is losskit's only where they are finite: each is read (one C pass,
      :func:`~losskit._validate.finite_on_host`) at every level, ``validate=False`` included (where the
      composed path gives NaN), and where all are finite the result is not read again (the riding check
      would find finite inputs and accept), unless ``overflows``. Such kernels have no forward-mode
      derivative either, so dual tensors take the composed path.
    * ``device_checks(args)``: ``guard`` and ``drops_nan``'s read as device-side assertions, for accelerators;
      there a ``drops_nan`` loss with ``validate=False`` takes the composed path (no host read).
    * ``overflows``: torch's op is non-finite on some finite inputs where losskit's loss is finite, so its
      result is read even with ``validate=False`` (:func:`~losskit._validate.finite_on_host`: a 0-d read,
      or one C pass over an unreduced one), and accelerators (no host read) take the composed path.
    """

    op: Callable[..., torch.Tensor]
    named: tuple[tuple[str, int], ...]
    same: int = 1
    others: tuple[int, ...] = ()
    strict_checks: bool = False
    guard: Callable[[Args], bool] | None = None
    drops_nan: bool = False
    device_checks: Callable[[Args], None] | None = None
    overflows: bool = False


def torch_op_loss(spec: TorchCall, args: Args, reduction: object, validate: Validate) -> torch.Tensor | None:
    """torch's op as the loss where its meaning is losskit's, its value checks riding on the result; None
    hands the call to the composed path (the reference), which names what is wrong or computes losskit's value.

    Metadata first: a reduction torch has, ``args[0]`` float32 or float64 and non-empty (a mean over zero
    items is 0 in losskit, NaN in torch; torch's margin kernels sum an empty batch to garbage), the tensors
    of ``spec.same`` and ``spec.others`` as :class:`TorchCall` says; the loss checks what is its own (e.g.
    an index target's rank) before calling. With ``validate=False`` a call then costs torch's op alone
    (and ``spec.drops_nan``'s read). On the CPU, with value checks on, it costs the guard, one reduction of
    the result (none for a 0-d one) and one 0-d read; a non-finite result, a failed guard or a ``RuntimeError`` from
    torch's op (a class index out of range, a shape it refuses) returns None. This is a hot path: its
    Python cost per call is a few microseconds (benchmarks/bench_vs_torch.py).
    """
    red = _TORCH_REDUCTION.get(reduction) if type(reduction) is str else None
    input: torch.Tensor = args[0]  # type: ignore[assignment]  # its type is tested next
    if red is None or type(input) not in PLAIN_TENSORS:
        return None  # not torch's reduction, or not a plain tensor: the composed path checks and names it
    dtype = input.dtype
    if (dtype is not F32 and dtype is not F64) or not input.numel():
        return None
    if spec.same > 1:
        shape = input.shape
        for i in range(1, spec.same):
            t: torch.Tensor = args[i]  # type: ignore[assignment]
            if type(t) not in PLAIN_TENSORS or t.dtype is not dtype or t.shape != shape:
                return None
    for i in spec.others:
        t = args[i]  # type: ignore[assignment]
        if t is not None and (type(t) not in PLAIN_TENSORS or t.dtype is not dtype):
            return None
    drops_nan = spec.drops_nan
    if not drops_nan:
        if validate is False and not spec.overflows and not V._functorch_active():
            try:
                return spec.op(*args, red)  # torch's op in a torch.compile trace too: its meaning is losskit's
            except RuntimeError:
                return None  # torch refused the call (a shape, a dtype): the composed path names what is wrong
    elif _forward_ad._current_level >= 0:
        return None
    mode = V.fast_mode(validate, input)
    if mode >= 0 and (mode == V.OFF or not spec.strict_checks or not V.strict_level(validate)):
        try:
            out = spec.op(*args, red)
        except RuntimeError:
            return None  # the composed path names what torch refused
        if mode:
            guard = spec.guard
            if guard is not None and not guard(args):
                return None
        elif not spec.overflows and not drops_nan:
            return out
        if drops_nan:
            for _, i in spec.named:
                t = args[i]  # type: ignore[assignment]
                if t is not None and not V.finite_on_host(t):
                    return None  # the composed path gives NaN, and names it when checks are on
            if not spec.overflows:
                return out  # every named input finite: the riding check has nothing to find
        return out if (isfinite(out.item()) if red else V.finite_on_host(out)) else None
    if mode != V.NO_HOST_READ or spec.overflows:
        return None  # a trace, or the strict level's own checks: the composed path
    mode = V.value_mode(validate, input)  # an accelerator: no host read
    if (mode and spec.strict_checks and V.strict(validate)) or (not mode and drops_nan):
        return None
    if mode and spec.device_checks is not None:
        spec.device_checks(args)
    try:
        out = spec.op(*args, red)
    except RuntimeError:
        return None
    return V.check_result(out, mode, [(name, args[i]) for name, i in spec.named])  # type: ignore[misc]
