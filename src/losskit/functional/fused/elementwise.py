"""Fused forward + backward for the elementwise regression losses (mse, l1, huber, log-cosh).

With reduction ``"mean"`` or ``"sum"`` and an input that requires grad, the
loss and its gradient cost one pass over memory: the C kernel
(``elementwise.c``) reads ``input`` and ``target`` once, writes
``g = scale * l'(input - target)`` and returns the sum of the losses. The
backward pass only multiplies ``g`` by ``grad_output``, and not even that
when it is 1 (the usual ``loss.backward()``): ``g`` itself becomes
``input.grad``.

:func:`losskit.functional._prep.elementwise_loss` calls
:func:`fused_elementwise_loss` first and falls back to its plain torch path
(the reference) whenever this returns ``None``: element or sample weights,
reductions ``"none"``/``"per_sample"``, half precision, non-contiguous or
non-CPU tensors, no grad needed, inside ``torch.compile`` (inductor fuses the
plain path itself) or functorch transforms, or no C compiler.

Value checks cost no extra pass here: every loss is non-negative and
non-finite exactly when its residual is, so the kernel's sum is finite
whenever the inputs are, and only a non-finite sum triggers the full
:func:`losskit._validate.check_finite` (which raises the usual error, or lets
a genuine overflow through as the plain path does).

The reduction is :mod:`losskit._reduce`'s: the mean's denominator comes from
:func:`~losskit._reduce.scalar_denominator` (the one ``num_items`` parser) and
the zero-items rule from :func:`~losskit._reduce.divide_or_zero`; a tensor
``num_items`` that may not be read on the host takes the plain path.

Switch: :func:`set_fused_elementwise` / :func:`fused_elementwise` (context
manager) with ``"auto"`` (default: fused where eligible and the kernel
builds), ``"always"`` (like auto, but an eligible call raises if the kernel
cannot be built; for tests) or ``"never"`` (always the plain path). The
environment variable ``LOSSKIT_FUSED`` (``auto``/``always``/``never``, or
``1``/``0``) sets the initial mode.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from ... import _reduce as R
from ... import _validate as V
from ..._types import Validate
from . import _native

__all__ = ["fused_elementwise", "fused_elementwise_loss", "fused_elementwise_mode", "set_fused_elementwise"]

KERNELS = {"mse": 0, "l1": 1, "huber": 2, "log_cosh": 3}
# each kernel's derivative l'(r) in differentiable torch ops, by kernel code: used only by a
# backward that must itself be differentiable (create_graph=True: Hessians, MAML, gradient penalties)
_DERIVATIVES: dict[int, Callable[[torch.Tensor, float], torch.Tensor]] = {
    0: lambda r, _: 2.0 * r,
    1: lambda r, _: torch.sign(r),
    2: lambda r, delta: r.clamp(-delta, delta),
    3: lambda r, _: torch.tanh(r),
}
MODES = ("auto", "always", "never")
_ALIASES = {"1": "always", "0": "never", "true": "always", "false": "never", "": "auto"}


def _initial_mode() -> str:
    raw = os.environ.get("LOSSKIT_FUSED", "auto").strip().lower()
    mode = _ALIASES.get(raw, raw)
    return mode if mode in MODES else "auto"


_mode = _initial_mode()


def set_fused_elementwise(mode: str) -> None:
    """Choose the path of the elementwise losses: ``"auto"``, ``"always"`` or ``"never"``."""
    global _mode
    _mode = V.check_choice(mode, "mode", MODES)


def fused_elementwise_mode() -> str:
    """The current mode (see :func:`set_fused_elementwise`)."""
    return _mode


@contextlib.contextmanager
def fused_elementwise(mode: str) -> Iterator[None]:
    """Context manager form of :func:`set_fused_elementwise`; restores the previous mode on exit."""
    previous = _mode
    set_fused_elementwise(mode)
    try:
        yield
    finally:
        set_fused_elementwise(previous)


@dataclass(frozen=True)
class _Spec:
    code: int
    delta: float
    scale: float  # the derivative buffer's factor: d loss / d sum_i l_i ("none": vscale)
    den: float | None  # mean's denominator; None for sum and none
    check: bool  # value checks on
    vscale: float = 1.0  # each l_i's factor (smooth_l1 is huber / beta)


def _run(spec: _Spec, x: torch.Tensor, y: torch.Tensor) -> tuple[float, torch.Tensor]:
    lib = _native.library()
    assert lib is not None
    g = _native.empty_hugepage(x.shape, x.dtype)
    fn = lib.losskit_fused_f32 if x.dtype == torch.float32 else lib.losskit_fused_f64
    total = fn(spec.code, x.data_ptr(), y.data_ptr(), g.data_ptr(), x.numel(), spec.scale, spec.delta,
               torch.get_num_threads())
    return total, g


def _backward(
    ctx, grad_output: torch.Tensor, rerun: Callable[[_Spec, torch.Tensor, torch.Tensor], torch.Tensor]
) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
    """Both fused Functions' backward: the forward's derivative buffer ``ctx.grad`` (``spec.scale`` l'(r)),
    handed over as it is for a gradient of ones and multiplied otherwise; ``rerun(spec, input, target)``
    rebuilds it for a second backward through a retained graph."""
    need_input, need_target = ctx.needs_input_grad[:2]
    spec = ctx.spec
    if torch.is_grad_enabled():
        # create_graph=True: build the gradient from differentiable ops so that a second
        # backward sees l''; the kernel's buffer has no graph and would silently give 0
        input, target = ctx.saved_tensors
        g = _DERIVATIVES[spec.code](input - target, spec.delta) * (spec.scale * grad_output)
    else:
        g, ctx.grad = ctx.grad, None
        if g is None:  # a second backward through a retained graph: recompute
            input, target = ctx.saved_tensors
            g = rerun(spec, input, target)
        if not _is_ones(grad_output):
            g.mul_(grad_output)
    return (g if need_input else None), (g.neg() if need_target else None), None


def _is_ones(grad_output: torch.Tensor) -> bool:
    """A gradient of ones (1 itself, or ``loss.sum().backward()``'s expanded 1). Reading it is free on a
    CPU (these paths are CPU-only) but not allowed in the no-sync policy: there, always multiply."""
    return (
        all(s == 0 for s in grad_output.stride())
        and V.host_read_allowed(grad_output)
        and grad_output.as_strided((), (), grad_output.storage_offset()).item() == 1.0
    )


class _FusedElementwise(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input: torch.Tensor, target: torch.Tensor, spec: _Spec) -> torch.Tensor:
        total, g = _run(spec, input, target)
        if spec.check and not math.isfinite(total):
            V.check_finite(input, "input")
            V.check_finite(target, "target")
        total *= spec.vscale
        value = total if spec.den is None else R.divide_or_zero(total, spec.den)
        ctx.spec = spec
        # not save_for_backward: backward hands this very buffer to autograd, which can only
        # adopt it as input.grad (instead of copying it) if nothing else still references it
        ctx.grad = g
        ctx.save_for_backward(input, target)  # inputs: free to keep, used only by a second backward
        return torch.tensor(value, dtype=input.dtype)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        return _backward(ctx, grad_output, lambda spec, x, y: _run(spec, x, y)[1])


def _run_none(spec: _Spec, x: torch.Tensor, y: torch.Tensor) -> tuple[bool, torch.Tensor, torch.Tensor]:
    lib = _native.library()
    assert lib is not None
    out = torch.empty_like(x)
    g = _native.empty_hugepage(x.shape, x.dtype)
    fn = lib.losskit_fused_none_f32 if x.dtype == torch.float32 else lib.losskit_fused_none_f64
    ok = fn(spec.code, x.data_ptr(), y.data_ptr(), out.data_ptr(), g.data_ptr(), x.numel(), spec.vscale, spec.delta,
            torch.get_num_threads())
    return ok == 1, out, g


class _FusedElementwiseNone(torch.autograd.Function):
    """Reduction ``"none"``: the losses and their derivatives in one pass, the value check riding on it."""

    @staticmethod
    def forward(ctx, input: torch.Tensor, target: torch.Tensor, spec: _Spec) -> torch.Tensor:
        ok, out, g = _run_none(spec, input, target)
        if spec.check and not ok:  # names a NaN or inf input; finite inputs: a genuine overflow, returned
            V.check_finite(input, "input")
            V.check_finite(target, "target")
        ctx.spec = spec
        ctx.grad = g  # handed to autograd as input.grad where the incoming gradient is ones (see _FusedElementwise)
        ctx.save_for_backward(input, target)
        return out

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        return _backward(ctx, grad_output, lambda spec, x, y: _run_none(spec, x, y)[2])


def _plain_tensor(t: object) -> bool:
    return type(t) in (torch.Tensor, torch.nn.Parameter)


def _eligible(input: object, target: object) -> bool:
    if not (_plain_tensor(input) and _plain_tensor(target)):
        return False
    assert isinstance(input, torch.Tensor) and isinstance(target, torch.Tensor)
    return (
        input.requires_grad
        and torch.is_grad_enabled()
        and input.dtype in (torch.float32, torch.float64)
        and target.dtype == input.dtype
        and input.shape == target.shape
        and input.numel() > 0
        and input.device.type == "cpu"
        and target.device.type == "cpu"
        and input.is_contiguous()
        and target.is_contiguous()
        and not input.is_neg()
        and not target.is_neg()
        and not V._functorch_active()
    )


def _kernels_available() -> bool:
    """Whether the C kernels loaded (building them on first use); fused mode "always" refuses their absence."""
    if _native.library() is not None:
        return True
    if _mode == "always":
        raise RuntimeError(f"fused elementwise kernels unavailable: {_native.kernel_info().error}")
    return False


def fused_elementwise_loss(
    op: tuple[str, float] | tuple[str, float, float],
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str,
    weight: torch.Tensor | None,
    sample_weight: torch.Tensor | None,
    num_items: object,
    validate: Validate,
) -> torch.Tensor | None:
    """The fused loss ``op = (name, delta)`` or ``(name, delta, value_scale)``, or None where the plain path
    must run."""
    if _mode == "never" or V._is_compiling():  # first: nothing below may be traced by dynamo
        return None
    if reduction not in ("mean", "sum", "none") or weight is not None or sample_weight is not None:
        return None
    if not _eligible(input, target):
        return None
    name, delta = op[:2]
    vscale = float(op[2]) if len(op) > 2 else 1.0
    if reduction == "none":
        if num_items is not None:
            return None  # the plain path checks and ignores it, as for any "none"
        if not _kernels_available():
            return None
        return _FusedElementwiseNone.apply(input, target, _Spec(KERNELS[name], float(delta), vscale, None,
                                                                 V.resolve(validate), vscale))
    if reduction == "mean":
        den = R.scalar_denominator(num_items, input.numel(), validate=validate)
        if den is None:
            return None
        scale = R.divide_or_zero(1.0, den)
    else:
        if num_items is not None:
            V.check_num_items(num_items)  # unused by "sum", but checked as on the plain path
        den, scale = None, 1.0
    if not _kernels_available():
        return None
    spec = _Spec(KERNELS[name], float(delta), scale * vscale, den, V.resolve(validate), vscale)
    return _FusedElementwise.apply(input, target, spec)
