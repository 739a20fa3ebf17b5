"""Every input check and error message of losskit, the validation switch and the sync policy.

Two kinds of checks live here:

* **Structural checks** (shapes, dtypes, option values) read only metadata.
  They always run: they cost a few microseconds and they are what stops
  silent broadcasting.
* **Value checks** (finiteness, target ranges, probabilities summing to 1)
  read the data. They can be switched off per call with ``validate=False``
  or globally with :func:`set_validation` / :func:`validation`, and they step
  aside by themselves inside ``torch.compile`` and under functorch transforms
  (``torch.func.vmap``, ``grad``, ``jvp``), which cannot branch on values.

**Two levels.** ``validate=True`` (the default, through ``validate=None``)
runs the checks that cost nothing on a clean call, and, under torch's names
with torch's arguments, refuses nothing torch computes except a non-finite
result (whose inputs it then diagnoses). ``validate="strict"`` (per call, or
``set_validation("strict")``) adds the checks that need a pass over the data
where torch's own meaning does not require them: rows of probabilities or
log-probabilities that must sum to 1 (``nll_loss``'s input, a soft
cross-entropy or KL target), class and element weights that must be >= 0,
margin labels that must be -1 or 1. losskit's own options that declare an
input a distribution (``input_kind="probs"``, ``"log_probs"``, the registry's
losses) run those checks at the default level too.

**Riding on the result.** The cheapest value check is the loss itself: a
loss is non-finite whenever an input that reaches it is, so a loss computes
its result first and hands it to :func:`check_result`, which looks at the
inputs only when the result is non-finite (see its docstring for the
contract). Checks the result cannot reveal (a class index out of range, and at
the strict level a negative weight or rows of probabilities that do not sum to
1) still read their argument, once, with a single reduction each.

**No host-device sync on accelerators.** Reading a check's verdict on the
host (``bool(tensor)``, ``.item()``) stalls an accelerator's queue. The
:func:`set_sync_policy` switch says where the verdict may be read:

* ``"auto"`` (default): on CPU tensors the verdict is read on the host (one
  0-d read, free on a CPU) and a failing check raises
  :class:`~losskit.LossInputError` naming the argument and the first bad
  value. On any other device no check syncs: each becomes a device-side
  assertion (:func:`torch._assert_async`) with a message naming the argument.
* ``"never"``: device-side assertions everywhere, CPU included (what the
  no-sync test runs).
* ``"always"``: host-side verdicts everywhere, accelerators included (for
  debugging: exact messages at the cost of one sync per check).

What a device-side assertion gives up: it fails later (when the device
reaches it, reported at the next sync, e.g. ``.item()`` or a copy to the
host), as a :class:`RuntimeError` rather than a :class:`LossInputError`, and
its message names the argument but not the offending value or count. On
CUDA a failed device assertion also leaves the context unusable, as any
device-side assert does; rerun the step with ``set_sync_policy("always")``
(or on CPU) for the exact diagnosis.
"""

from __future__ import annotations

import contextlib
import functools
import math
import numbers
import weakref
from collections.abc import Callable, Iterator, Sequence

import torch

# the valid choices of the string options, derived from their Literal types
from ._types import INPUT_KINDS as INPUT_KINDS
from ._types import REDUCTIONS as REDUCTIONS
from ._types import TARGET_KINDS as TARGET_KINDS
from .errors import LossInputError

__all__ = [
    "LossInputError",
    "get_sync_policy",
    "get_validation",
    "is_validation_enabled",
    "set_sync_policy",
    "set_validation",
    "sync_policy",
    "validation",
]

Validate = bool | str | None  # True, False, "strict" or None (the global level); _types.Validate spells it

SYNC_POLICIES = ("auto", "never", "always")
# Rows of probabilities must sum to 1 within this tolerance (after upcasting
# to float32 at least), or within the rounding error of their dtype if that is
# larger (see :func:`prob_sum_tolerance`).
PROB_SUM_ATOL = 1e-3

# appended to the message of a check that runs at the strict level only under torch's names
STRICT_NOTE = (
    " (a validate='strict' check: torch's formula takes this value, and the default level computes it as torch)"
)

# value-check modes of one call (see :func:`value_mode`)
OFF = 0  # no value check
SYNC = 1  # verdicts read on the host; a failure raises LossInputError
ASYNC = 2  # verdicts stay on the device: torch._assert_async

_enabled = True
_strict = False
_policy = "auto"


def set_validation(enabled: bool | str) -> None:
    """Set the value-check level of every loss call that passes ``validate=None``.

    ``True`` (the default level), ``False`` (no value checks) or ``"strict"``
    (the default checks plus the distribution and sign checks; see the module docs).
    """
    global _enabled, _strict
    if isinstance(enabled, str) and enabled == "strict":
        _enabled, _strict = True, True
        return
    try:
        _enabled, _strict = check_bool(enabled, "enabled"), False
    except LossInputError:
        raise LossInputError(f"enabled must be True, False or 'strict', got {enabled!r}.") from None


def is_validation_enabled() -> bool:
    """Whether value checks run for calls that pass ``validate=None`` (True at the strict level too)."""
    return _enabled


def get_validation() -> bool | str:
    """The global value-check level: ``True``, ``False`` or ``"strict"``."""
    return "strict" if _strict else _enabled


@contextlib.contextmanager
def validation(enabled: bool | str) -> Iterator[None]:
    """Context manager that sets the global validation level and restores it on exit."""
    previous = get_validation()
    set_validation(enabled)
    try:
        yield
    finally:
        set_validation(previous)


def set_sync_policy(policy: str) -> None:
    """Where value checks read their verdict: ``"auto"``, ``"never"`` or ``"always"`` (see the module docs).

    ``"auto"`` (the default) reads it on the host for CPU tensors only, and
    uses device-side assertions (no host-device sync) on every other device.
    """
    global _policy
    _policy = check_choice(policy, "policy", SYNC_POLICIES)


def get_sync_policy() -> str:
    """The current sync policy (see :func:`set_sync_policy`)."""
    return _policy


@contextlib.contextmanager
def sync_policy(policy: str) -> Iterator[None]:
    """Context manager form of :func:`set_sync_policy`; restores the previous policy on exit."""
    previous = _policy
    set_sync_policy(policy)
    try:
        yield
    finally:
        set_sync_policy(previous)


def check_bool(value: object, name: str) -> bool:
    """``True`` or ``False`` (a numpy bool too); anything else, ``"no"`` included, is refused."""
    if value is True or value is False:
        return value
    if type(value).__name__ == "bool_" and type(value).__module__ == "numpy":
        return bool(value)
    raise LossInputError(f"{name} must be True or False, got {value!r}.")


def check_validate(validate: object) -> bool | str | None:
    """The per-call ``validate`` option: ``None`` (the global level), ``True``, ``False`` or ``"strict"``."""
    if validate is None or validate is True or validate is False:
        return validate
    if isinstance(validate, str) and validate == "strict":
        return "strict"
    if type(validate).__name__ == "bool_" and type(validate).__module__ == "numpy":
        return bool(validate)
    raise LossInputError(
        f"validate must be True, False, 'strict' or None (the global level), got {validate!r}; "
        f"a string such as 'no' is not a bool."
    )


# bound once: the hot paths' gates touch no module attribute (their per-call cost is the objects they touch);
# torch.compile's tracer recognises is_compiling by identity, so the alias still reads True in a trace
_functorch_active = torch._C._are_functorch_transforms_active
_is_compiling = torch.compiler.is_compiling


def resolve(validate: Validate) -> bool:
    """The effective value-check switch for one call.

    ``None`` follows :func:`set_validation`; value checks step aside inside
    ``torch.compile`` (for ``validate=None``) and under functorch transforms
    (always: a batched or dual tensor's values cannot be read for a branch).
    """
    if validate is False:
        return False
    validate = check_validate(validate)
    if torch._C._are_functorch_transforms_active():
        return False
    if validate is None:
        return _enabled and not torch.compiler.is_compiling()
    return bool(validate)


def strict_level(validate: Validate) -> bool:
    """:func:`strict` for a call whose value checks are known to be on (its mode is not ``OFF``): no re-resolve."""
    return validate == "strict" or (validate is None and _strict)


def strict(validate: Validate) -> bool:
    """Whether this call runs the strict checks: ``validate="strict"``, or ``None`` at the strict global level."""
    if validate is False or not resolve(validate):
        return False
    return strict_level(validate)


def host_read_allowed(t: torch.Tensor) -> bool:
    """Whether a verdict about ``t`` may be read on the host (see :func:`set_sync_policy`)."""
    if _policy == "auto":
        return t.is_cpu
    return _policy == "always"


def value_mode(validate: Validate, like: torch.Tensor) -> int:
    """The value-check mode of one call on tensors on ``like``'s device: OFF, SYNC or ASYNC."""
    if not resolve(validate):
        return OFF
    return SYNC if host_read_allowed(like) else ASYNC


TRACED = -2  # fast_mode: a torch.compile trace or a functorch transform is running
NO_HOST_READ = -1  # fast_mode: the sync policy forbids a host read of this tensor (an accelerator under "auto")


def fast_mode(validate: Validate, t: torch.Tensor) -> int:
    """:func:`value_mode` for a fast path that reads its 0-d result on the host (the zero-items rule,
    riding checks): ``TRACED`` inside a ``torch.compile`` trace or a functorch transform,
    ``NO_HOST_READ`` where the sync policy forbids the read, else ``OFF`` or ``SYNC``.

    One pass over the switches, for the per-call overhead of the hottest paths.
    """
    if _functorch_active() or _is_compiling():
        return TRACED
    if not (t.is_cpu if _policy == "auto" else _policy == "always"):
        return NO_HOST_READ
    if validate is None:
        return SYNC if _enabled else OFF
    if validate is False:
        return OFF
    return SYNC if check_validate(validate) else OFF


def _device_assert(ok: torch.Tensor, message: str) -> None:
    """Assert ``ok`` (a 0-d bool tensor) on its device, without a host sync on accelerators."""
    torch._assert_async(ok, "losskit: " + message)


def _finite_verdict(t: torch.Tensor, allow_neg_inf: bool = False) -> torch.Tensor:
    """A 0-d bool tensor: every value of ``t`` finite (or -inf where allowed), in one pass, no sync."""
    if t.numel() == 0:
        return torch.ones((), dtype=torch.bool, device=t.device)
    lo, hi = torch.aminmax(t.detach())  # NaN propagates into both
    if allow_neg_inf:
        return ~torch.isnan(lo) & (torch.isfinite(hi) | (hi == -math.inf))
    return torch.isfinite(lo) & torch.isfinite(hi)


_finite_kernels: dict[torch.dtype, Callable[..., int]] | None = None
PLAIN_TENSORS = (torch.Tensor, torch.nn.Parameter)  # the fast paths' tensors; a subclass takes the composed path
F32, F64, I64 = torch.float32, torch.float64, torch.int64  # bound once, for the fast paths' identity tests
_TORCH_GRAIN = 32768  # at::internal::GRAIN_SIZE: below it the C pass runs on the calling thread


def finite_on_host(t: torch.Tensor) -> bool:
    """Whether every value of ``t`` is finite, read on the host (the caller has checked that a host read
    is allowed): a 0-d tensor's one read; else one C pass over its memory where the kernels apply (a
    plain contiguous float32/float64 CPU tensor: ``losskit_all_finite_<dtype>`` in ``elementwise.c``),
    else a torch sum (False also when the sum of finite values overflows: the callers then look at the
    inputs, which are finite, and accept). The hot path of every riding check.

    The first call loads the kernels, which rebinds this name (:func:`_load_finite_kernels`): where the
    CPython module built, to its entry ``finite(t)``, which reads a plain contiguous float32/float64 CPU
    tensor (a 0-d one too, in place of ``.item()``) in one C call and hands anything else to
    :func:`_finite_on_host`; elsewhere, to :func:`_finite_on_host`. Call it as ``V.finite_on_host``.
    """
    _load_finite_kernels()
    return finite_on_host(t)


def _load_finite_kernels() -> dict[torch.dtype, Callable[..., int]]:
    """Load the C kernels (building them at first use) for :func:`finite_on_host`, and bind that name to
    the CPython module's one-call entry where it built (set up with :func:`_finite_on_host` as its
    fallback), else to :func:`_finite_on_host`."""
    global _finite_kernels, finite_on_host
    from .functional.fused import _native  # at first use: the kernels' package imports this module

    _native.library()
    module = _native._python
    if module is not None:  # built from this very source (its cache key hashes it), so it has finite()
        module.setup(torch.Tensor, torch.nn.Parameter, F32, F64, _finite_on_host, torch.get_num_threads)
        finite_on_host = module.finite
    else:
        finite_on_host = _finite_on_host
    _finite_kernels = _native._finite
    return _finite_kernels


def _finite_on_host(t: torch.Tensor) -> bool:
    """:func:`finite_on_host` in Python: the reference, and the C entry's fallback for what it does not read."""
    if not t.dim():
        return math.isfinite(t.item())
    kernels = _finite_kernels if _finite_kernels is not None else _load_finite_kernels()
    fn = kernels.get(t.dtype)
    if fn is not None and type(t) in PLAIN_TENSORS and t.is_cpu and t.is_contiguous():
        n = t.numel()
        try:
            return fn(t.data_ptr(), n, 1 if n < _TORCH_GRAIN else torch.get_num_threads()) == 1
        except RuntimeError:  # no storage to read (a functorch wrapper): the sum below says what it can
            pass
    return math.isfinite(t.detach().sum().item())


NamedInput = tuple[str, "torch.Tensor | None"] | tuple[str, "torch.Tensor | None", bool]


def check_result(
    result: torch.Tensor,
    mode: int,
    inputs: Sequence[NamedInput],
    *,
    diagnose: Callable[[], None] | None = None,
) -> torch.Tensor:
    """Let the finiteness checks ride on the loss: look at the inputs only if the result is non-finite.

    The contract, for a loss body::

        mode = V.value_mode(validate, input)          # OFF, SYNC or ASYNC; metadata only
        out = <compute the loss, reduced or not>
        return V.check_result(out, mode, [("input", input), ("target", target), ("weight", weight)])

    * ``result``: the loss as it will be returned (0-d or any shape), still
      attached to the graph; it is returned unchanged (same object).
    * ``mode``: from :func:`value_mode`. ``OFF`` returns at once.
    * ``inputs``: ``(name, tensor)`` or ``(name, tensor, allow_neg_inf)`` for
      every tensor argument whose NaN or inf reaches the result (``None``
      entries are skipped). Only list tensors for which that holds: a value
      masked out with ``where`` (an ignored target, say) may be NaN, and the
      result, being right, is accepted.
    * ``diagnose``: optional extra checks to run (SYNC mode only) when the
      result is non-finite, after the inputs were found finite.

    SYNC (CPU by default): one reduction of the result and a 0-d host read.
    A finite result returns at once. A non-finite one runs
    :func:`check_finite` on each input in order, which raises the usual
    :class:`LossInputError` naming the first bad argument, then
    ``diagnose``; if every input is finite the result is a genuine overflow
    and is returned as it is (as torch would).

    ASYNC (accelerators by default, or ``set_sync_policy("never")``): no
    host read. One device-side assertion that the result is finite or every
    listed input is finite (one ``aminmax`` per input), so a genuine overflow
    passes in this mode too; the message names the listed arguments.
    ``diagnose`` is not run: put checks that need it before the loss, as
    ordinary value checks (they assert on the device in this mode).
    """
    if mode == OFF:
        return result
    if mode == SYNC:
        if finite_on_host(result):  # one 0-d read, or one C pass: the whole cost of a clean call
            return result
        for entry in inputs:
            if entry[1] is not None:
                check_finite(entry[1], entry[0], allow_neg_inf=len(entry) > 2 and bool(entry[2]))
        if diagnose is not None:
            diagnose()
        return result
    total = result.detach().sum() if result.dim() else result
    inputs_ok = None
    names = []
    for entry in inputs:
        if entry[1] is not None:
            verdict = _finite_verdict(entry[1], len(entry) > 2 and bool(entry[2]))
            inputs_ok = verdict if inputs_ok is None else inputs_ok & verdict
            names.append(entry[0])
    if inputs_ok is not None:
        _device_assert(
            torch.isfinite(total) | inputs_ok,
            f"the loss is non-finite and one of {', '.join(names)} holds NaN or inf; losses of NaN or inf "
            f"are meaningless. Fix the data or the model (set_sync_policy('always') names the value), "
            f"or pass validate=False.",
        )
    return result


def _shape(t: torch.Tensor) -> str:
    return f"({', '.join(str(s) for s in t.shape)})" if t.dim() != 1 else f"({t.shape[0]},)"


# ---------------------------------------------------------------- options


def check_choice(value: object, name: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise LossInputError(
            f"{name}={value!r} is not supported; use one of {', '.join(map(repr, choices))}."
        )
    return value


def check_reduction(reduction: object) -> str:
    return check_choice(reduction, "reduction", REDUCTIONS)


def _real(value: object) -> float | None:
    """``value`` as a float if it is a real number (Python or numpy, not a bool), else None."""
    kind = type(value)
    if kind is float:
        return value  # type: ignore[return-value]
    if kind is int:
        try:
            return float(value)  # type: ignore[arg-type]
        except OverflowError:
            return math.copysign(math.inf, value)  # type: ignore[arg-type]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    if type(value).__name__ == "bool_":
        return None
    try:
        return float(value)
    except OverflowError:  # an int beyond the float range
        return math.copysign(math.inf, value)


def check_number(value: object, name: str) -> float:
    """A real number (int, float or numpy scalar, not a bool) as a float."""
    real = _real(value)
    if real is None:
        raise LossInputError(f"{name} must be a number, got {value!r}.")
    return real


def check_positive(value: float, name: str) -> float:
    real = _real(value)
    if real is None:
        raise LossInputError(f"{name} must be a positive number, got {value!r}.")
    if not (real > 0 and math.isfinite(real)):
        raise LossInputError(f"{name} must be a finite number > 0, got {value!r}; pass e.g. {name}=1.0.")
    return real


def check_in_range(
    value: float, name: str, low: float, high: float, *, high_inclusive: bool = True
) -> float:
    real = check_number(value, name)
    ok = low <= real <= high if high_inclusive else low <= real < high
    if not ok:
        bracket = "]" if high_inclusive else ")"
        raise LossInputError(f"{name} must lie in [{low:g}, {high:g}{bracket}, got {value!r}.")
    return real


def check_int(value: object, name: str, *, low: int | None = None, allow_none: bool = False) -> int | None:
    """An int (Python or numpy, not a bool), optionally >= ``low``."""
    if type(value) is int and low is None:
        return value
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or type(value).__name__ == "bool_":
        kind = "an int or None" if allow_none else "an int"
        raise LossInputError(f"{name} must be {kind}, got {value!r}.")
    out = int(value)
    if low is not None and out < low:
        raise LossInputError(f"{name} must be an int >= {low}, got {value!r}.")
    return out


_INT64 = (-(2**63), 2**63 - 1)


def _int_range(dtype: torch.dtype) -> tuple[int, int]:
    info = torch.iinfo(dtype)
    return int(info.min), int(info.max)


def check_ignore_index(ignore_index: object, target_dtype: torch.dtype | None = None) -> int:
    """``ignore_index``: an int that an int64 can hold and, when not the default -100, that a
    target of ``target_dtype`` can hold (so no target value can alias it modulo the dtype's range).

    The default -100 on an unsigned target means "nothing is ignored": no uint8
    value equals -100 (targets are compared as int64, never wrapped).
    """
    value = check_int(ignore_index, "ignore_index")
    assert value is not None
    lo, hi = _INT64
    if not lo <= value <= hi:
        raise LossInputError(
            f"ignore_index={value} does not fit in int64 (class indices are int64); pass e.g. -100."
        )
    if target_dtype is not None and value != -100 and target_dtype is not torch.int64:
        t_lo, t_hi = _int_range(target_dtype)
        if not t_lo <= value <= t_hi:
            raise LossInputError(
                f"ignore_index={value} cannot occur in a target of dtype {target_dtype} "
                f"(values [{t_lo}, {t_hi}]), so it would ignore nothing; pass an ignore_index in that "
                f"range, or convert the target with target.long()."
            )
    return value


def check_chunk_size(chunk_size: object) -> int | None:
    """``chunk_size`` of the fused LM-head loss: a positive int (tokens per chunk) or None."""
    if chunk_size is None:
        return None
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral) or int(chunk_size) < 1:
        raise LossInputError(f"chunk_size must be a positive int (tokens per chunk) or None, got {chunk_size!r}.")
    return int(chunk_size)


def check_num_items(num_items: object) -> None:
    """Structural check of ``num_items``: a finite number >= 0, or a one-element real tensor.

    A tensor's value is checked by :func:`check_num_items_value` (a value check).
    """
    if isinstance(num_items, torch.Tensor):
        if num_items.numel() != 1:
            raise LossInputError(
                f"num_items must be a number or a one-element tensor, got shape {tuple(num_items.shape)}."
            )
        if num_items.dtype == torch.bool or num_items.is_complex():
            raise LossInputError(f"num_items must hold a real count, got a tensor of dtype {num_items.dtype}.")
        return
    real = _real(num_items)
    if real is None or not (real >= 0 and math.isfinite(real)):
        raise LossInputError(
            f"num_items must be a finite number >= 0 (the global count of items in the step), got {num_items!r}."
        )


def check_num_items_value(num_items: torch.Tensor) -> None:
    """Value check of a tensor ``num_items``: finite and >= 0."""
    n = num_items.detach().reshape(())
    if not n.is_floating_point():
        ok = n >= 0
    else:
        ok = torch.isfinite(n) & (n >= 0)
    if not host_read_allowed(n):
        _device_assert(ok, "num_items holds NaN, inf or a negative count; pass the count of items (>= 0).")
        return
    if not bool(ok):
        raise LossInputError(
            f"num_items holds {n.item()!r}; it must be a finite count >= 0 (the global number of items in "
            f"the step, e.g. from losskit.distributed.mean_divisor)."
        )


# ---------------------------------------------------------------- tensors


def check_tensor(t: object, name: str) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise LossInputError(
            f"{name} must be a torch.Tensor, got {type(t).__name__}; wrap it with torch.as_tensor()."
        )
    return t


def check_float(t: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        check_tensor(t, name)
    if not t.is_floating_point():
        raise LossInputError(
            f"{name} has dtype {t.dtype}, but this loss needs a floating-point tensor; "
            f"convert it with {name}.float()."
        )
    return t


def check_index_dtype(target: torch.Tensor, name: str = "target") -> None:
    """Class indices need an integer dtype (not bool or complex)."""
    if target.dtype in (torch.bool, torch.complex64, torch.complex128) or target.is_floating_point():
        raise LossInputError(f"{name} has dtype {target.dtype}; pass class indices as int64 ({name}.long()).")


def check_same_shape(
    input: torch.Tensor, target: torch.Tensor, *, input_name: str = "input", target_name: str = "target"
) -> None:
    """Refuse any shape mismatch: losskit never broadcasts input against target."""
    if input.shape == target.shape:
        return
    hint = ""
    view = f"{target_name}.view_as({input_name})"
    if input.dim() == target.dim() + 1 and input.shape[-1] == 1 and input.shape[:-1] == target.shape:
        hint = f" Drop the trailing dimension with {input_name}.squeeze(-1) (or use {view})."
    elif target.dim() == input.dim() + 1 and target.shape[-1] == 1 and target.shape[:-1] == input.shape:
        hint = f" Drop the trailing dimension with {target_name}.squeeze(-1) (or use {view})."
    elif input.numel() == target.numel():
        hint = f" If they hold the same values in another layout, use {view}."
    raise LossInputError(
        f"{input_name} has shape {_shape(input)} but {target_name} has shape {_shape(target)}; "
        f"losskit does not broadcast them (that silently computes a wrong loss).{hint}"
    )


def check_finite(t: torch.Tensor, name: str, *, allow_neg_inf: bool = False) -> None:
    if not host_read_allowed(t):
        _device_assert(
            _finite_verdict(t, allow_neg_inf),
            f"{name} holds NaN or inf; losses of NaN or inf are meaningless. Fix the data or the model, "
            f"or pass validate=False.",
        )
        return
    # A finite sum proves every value finite (NaN and inf propagate through a sum), at the cost of
    # one reduction instead of a mask and a reduction; only a non-finite sum (bad values, or an
    # overflowing sum of finite ones) needs the elementwise look.
    if bool(torch.isfinite(t.sum())):
        return
    ok = torch.isfinite(t) | (t == -math.inf) if allow_neg_inf else torch.isfinite(t)
    if not bool(ok.all()):
        bad = (~ok).sum().item()
        first = t[~ok].flatten()[0].item()
        raise LossInputError(
            f"{name} holds {bad} non-finite value(s) (first: {first}); losses of NaN or inf are "
            f"meaningless. Fix the data or the model, or pass validate=False to skip this check."
        )


def check_weight_values(weight: torch.Tensor | None, name: str = "weight", *, note: str = "") -> None:
    """Value checks of a weight tensor: finite and >= 0, in one pass (``aminmax``); ``note`` ends the
    message of a negative weight (:data:`STRICT_NOTE` where only the strict level checks the sign)."""
    if weight is None or weight.numel() == 0:
        return
    lo, hi = torch.aminmax(weight.detach())
    ok = (lo >= 0) & (hi < math.inf)  # NaN fails both comparisons
    if not host_read_allowed(weight):
        _device_assert(ok, f"{name} holds a negative, NaN or inf value; weights must be finite and >= 0{note}.")
        return
    if bool(ok):
        return
    check_finite(weight, name)
    check_nonnegative(weight, name, note=note)


def check_batch_dim(values: torch.Tensor, need: str, fix: str = "") -> None:
    """A reduction that needs a batch dim 0 refuses a 0-d loss; ``need`` says which, ``fix`` how."""
    if values.dim() == 0:
        raise LossInputError(f"{need}, got a 0-d input{fix}.")


def check_sample_weight(sample_weight: torch.Tensor | None, batch: int, name: str = "sample_weight") -> None:
    if sample_weight is None:
        return
    check_float(sample_weight, name)
    if sample_weight.shape != (batch,):
        raise LossInputError(
            f"{name} has shape {_shape(sample_weight)} but must have shape ({batch},), "
            f"one weight per sample of the batch."
        )


def check_elementwise_weight(weight: torch.Tensor | None, input: torch.Tensor, name: str = "weight") -> None:
    if weight is None:
        return
    check_float(weight, name)
    if weight.shape != input.shape:
        raise LossInputError(
            f"{name} has shape {_shape(weight)} but input has shape {_shape(input)}; "
            f"an elementwise weight must match the input exactly (use sample_weight for one weight per sample)."
        )


def check_class_weight(weight: torch.Tensor | None, num_classes: int, name: str = "weight") -> None:
    if weight is None:
        return
    check_float(weight, name)
    if weight.shape != (num_classes,):
        raise LossInputError(
            f"{name} has shape {_shape(weight)} but input has {num_classes} classes along dim 1; "
            f"pass one weight per class, shape ({num_classes},)."
        )


def check_nonnegative(t: torch.Tensor, name: str, *, note: str = "") -> None:
    if not host_read_allowed(t):
        _device_assert(~(t < 0).any(), f"{name} holds a negative value; weights must be >= 0{note}.")
        return
    if bool((t < 0).any()):
        raise LossInputError(f"{name} holds a negative value ({t.min().item():g}); weights must be >= 0{note}.")


def check_class_indices(
    target: torch.Tensor, num_classes: int, ignore_index: int | None, *, classes: str = "along dim 1"
) -> None:
    """Every class index in [0, num_classes), except those equal to ``ignore_index``.

    Compared as int64, so a narrow dtype can neither alias ``ignore_index``
    (uint8 156 is not -100) nor wrap ``num_classes`` (int8 and C = 200).
    """
    t = target if target.dtype == torch.int64 else target.long()
    bad = (t < 0) | (t >= num_classes)
    if ignore_index is not None:
        bad = bad & (t != ignore_index)
    where = "input has" if classes == "along dim 1" else "there are"
    if not host_read_allowed(t):
        message = f"target holds a class index outside [0, {num_classes}); {where} {num_classes} classes {classes}."
        _device_assert(~bad.any(), message)
        return
    if bool(bad.any()):
        value = t[bad].flatten()[0].item()
        ignore = f" other than ignore_index={ignore_index}" if ignore_index is not None else ""
        dtype = f" (target dtype {target.dtype})" if target.dtype != torch.int64 else ""
        raise LossInputError(
            f"target holds the class index {value}{dtype}, outside [0, {num_classes}){ignore}; "
            f"{where} {num_classes} classes {classes}."
        )


def prob_sum_tolerance(dtype: torch.dtype, num_classes: int, *, log: bool = False) -> float:
    """How far from 1 a row of probabilities stored in ``dtype`` may sum.

    Rounding each probability to ``dtype`` moves the row sum by at most
    :math:`\\sum_c p_c\\,u = u` (:math:`u = \\varepsilon/2`, the unit roundoff);
    rounding each log-probability moves it by about :math:`u\\,H(p) \\le u \\log C`.
    Twice that bound, or :data:`PROB_SUM_ATOL` if larger: a bfloat16 softmax
    (or a float16 log_softmax over many classes) is a valid distribution.
    """
    eps = torch.finfo(dtype).eps
    bound = eps * (1.0 + math.log(max(num_classes, 1))) if log else eps
    return max(PROB_SUM_ATOL, bound)


def check_probabilities(p: torch.Tensor, name: str, *, dim: int = 1, log: bool = False) -> None:
    """Values in [0, 1] (or <= 0 for log-probabilities) whose rows along ``dim`` sum to 1."""
    tol = prob_sum_tolerance(p.dtype, p.shape[dim] if p.dim() > dim else 1, log=log)
    if log:
        probs = p.float().exp() if p.dtype != torch.float64 else p.exp()
    else:
        probs = p.float() if p.dtype != torch.float64 else p
    if not host_read_allowed(p):
        if p.numel() == 0:
            return
        lo, hi = torch.aminmax(p.detach())
        ok = (hi <= tol) if log else ((lo >= -tol) & (hi <= 1 + tol))
        err = (probs.detach().sum(dim=dim) - 1).abs()
        ok = ok & ~(err > tol).any()
        kind = "log-probabilities (<= 0" if log else "probabilities (in [0, 1]"
        _device_assert(ok, f"{name} must hold {kind}, rows along dim {dim} summing to 1 within {tol:g}).")
        return
    if log:
        if bool((p > tol).any()):
            raise LossInputError(
                f"{name} holds the log-probability {p.max().item():g} > 0; pass log-probabilities "
                f"(e.g. log_softmax), or choose another *_kind."
            )
    else:
        if bool((p < -tol).any()) or bool((p > 1 + tol).any()):
            value = p.min().item() if bool((p < -tol).any()) else p.max().item()
            raise LossInputError(
                f"{name} holds the value {value:g}, outside [0, 1]; pass probabilities, or choose "
                f"another *_kind (e.g. 'logits')."
            )
    sums = probs.sum(dim=dim)
    err = (sums - 1).abs()
    if err.numel() and bool((err > tol).any()):
        worst = sums.flatten()[err.flatten().argmax()].item()
        raise LossInputError(
            f"{name} has a row along dim {dim} that sums to {worst:.6g}, not 1 (tolerance {tol:g}); "
            f"normalise it (e.g. {name} / {name}.sum({dim}, keepdim=True))."
        )


# ---------------------------------------------------------------- robust-loss options and tensors


def check_interval(
    value: float, name: str, low: float, high: float, *, low_open: bool = False, high_open: bool = False
) -> float:
    """A real number in an interval whose ends may be open; ``low``/``high`` may be infinite."""
    real = check_number(value, name)
    above = real > low if low_open else real >= low
    below = real < high if high_open else real <= high
    if not (above and below) or math.isnan(real):
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        raise LossInputError(f"{name} must lie in {left}{low:g}, {high:g}{right}, got {value!r}.")
    return real


def check_unit_interval(t: torch.Tensor, name: str, *, log: bool = False, fix: str | None = None) -> None:
    """Elementwise probabilities in [0, 1] (or log-probabilities <= 0); rows need not sum to 1.

    ``fix`` replaces the message's advice for values outside [0, 1].
    """
    tol = PROB_SUM_ATOL
    bad = t > tol if log else (t < -tol) | (t > 1 + tol)
    if not host_read_allowed(t):
        kind = "log-probabilities <= 0" if log else "probabilities in [0, 1]"
        _device_assert(~bad.any(), f"{name} must hold {kind}.")
        return
    if log:
        if bool(bad.any()):
            raise LossInputError(
                f"{name} holds the log-probability {t[bad].flatten()[0].item():g} > 0; pass "
                f"log-probabilities (e.g. F.logsigmoid), or choose another *_kind."
            )
        return
    if bool(bad.any()):
        if fix is None:
            fix = "pass probabilities (e.g. torch.sigmoid(logits)), or choose another *_kind (e.g. 'logits')."
        raise LossInputError(f"{name} holds the value {t[bad].flatten()[0].item():g}, outside [0, 1]; {fix}")


def _broadcast_shape(*shapes: torch.Size) -> torch.Size | None:
    """torch's broadcast shape of ``shapes``, or None where they do not broadcast."""
    try:
        return torch.broadcast_shapes(*shapes)
    except RuntimeError:
        return None


def check_broadcast_param(t: torch.Tensor, name: str, input: torch.Tensor) -> None:
    """A tensor hyperparameter must broadcast to ``input``'s shape without enlarging it."""
    check_float(t, name)
    shape = _broadcast_shape(t.shape, input.shape)
    if shape != input.shape:
        raise LossInputError(
            f"{name} has shape {_shape(t)}, which does not broadcast to input's shape {_shape(input)} "
            f"(from the right, like numpy); pass a scalar, a shape like input's trailing dims, or input's shape."
        )


def check_positive_values(t: torch.Tensor, name: str) -> None:
    """Every value > 0 (a tensor of scales)."""
    if not host_read_allowed(t):
        _device_assert(~(t <= 0).any(), f"every {name} must be > 0.")
        return
    if bool((t <= 0).any()):
        raise LossInputError(f"{name} holds the value {t.min().item():g}; every {name} must be > 0.")


# ---------------------------------------------------------------- classification pairs


def check_classification_pair(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    input_kind: str,
    target_kind: str,
    label_smoothing: float,
    ignore_index: object,
    allow_index: bool,
    allow_probs: bool,
) -> tuple[bool, float, int]:
    """Structural checks of a classification ``(input, target)``; metadata only.

    ``input`` is (N, C, d1, ...) or unbatched (C,); ``target`` class indices
    (N, d1, ...) of an integer dtype, or probabilities shaped like ``input``.
    Returns ``(is_index, label_smoothing, ignore_index)``.
    """
    check_float(input, "input")
    check_tensor(target, "target")
    check_choice(input_kind, "input_kind", INPUT_KINDS)
    check_choice(target_kind, "target_kind", TARGET_KINDS)
    smoothing = check_in_range(label_smoothing, "label_smoothing", 0.0, 1.0)
    if input.dim() == 0:
        raise LossInputError(
            "input is 0-d; a classification loss needs scores of shape (N, C) or (N, C, d1, ...)."
        )
    is_index = not target.is_floating_point()
    if is_index:
        check_index_dtype(target)
    ignore = check_ignore_index(ignore_index, target.dtype if is_index else None)
    batched_input = input.shape if input.dim() > 1 else (1, *input.shape)
    batched_target = target.shape if input.dim() > 1 else (1, *target.shape)
    expected_index_shape = batched_input[:1] + batched_input[2:]
    if is_index:
        if not allow_index:
            raise LossInputError(
                f"target has integer dtype {target.dtype}, but this loss needs probability targets "
                f"shaped like input {tuple(batched_input)}; convert with F.one_hot(target, C).float()."
            )
        if tuple(batched_target) != tuple(expected_index_shape):
            trailing_one = (
                tuple(batched_target[:-1]) == tuple(expected_index_shape) and tuple(batched_target[-1:]) == (1,)
            )
            raise LossInputError(
                f"target of class indices has shape {tuple(batched_target)} but input has shape "
                f"{tuple(batched_input)} (class dim 1), so target must have shape {tuple(expected_index_shape)}."
                + (" Drop the trailing dimension with target.squeeze(-1)." if trailing_one else "")
            )
    else:
        if not allow_probs:
            raise LossInputError(
                f"target has floating dtype {target.dtype}, but this loss needs class indices; "
                f"convert with target.long() (or target.argmax(1) for one-hot rows)."
            )
        if target.shape != input.shape:
            hint = (
                " It has the shape of class indices: convert with target.long()."
                if tuple(batched_target) == tuple(expected_index_shape)
                else ""
            )
            raise LossInputError(
                f"target of probabilities has shape {tuple(batched_target)} but input has shape "
                f"{tuple(batched_input)}; probability targets must match the input exactly.{hint}"
            )
        if ignore != -100:
            raise LossInputError(
                f"ignore_index={ignore} only applies to class-index targets, but target holds "
                f"probabilities; drop ignore_index or zero those rows with sample_weight."
            )
    return is_index, smoothing, ignore


def check_classification_values(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    input_kind: str,
    target_kind: str,
    is_index: bool,
    num_classes: int,
    ignore_index: int,
    weight: torch.Tensor | None,
    distributions: bool = True,
) -> None:
    """Value checks of a classification pair (run when :func:`resolve` says so).

    ``distributions=False`` (torch's names at the default level) checks only
    finiteness and class indices: not that rows of probabilities or
    log-probabilities sum to 1, nor the weights' signs.
    """
    check_finite(input, "input", allow_neg_inf=input_kind == "log_probs")
    if distributions and input_kind != "logits":
        check_probabilities(input, "input", log=input_kind == "log_probs")
    if is_index:
        check_class_indices(target, num_classes, ignore_index)
    else:
        log_t = target_kind == "log_probs"
        check_finite(target, "target", allow_neg_inf=log_t)
        if distributions:
            check_probabilities(target, "target", log=log_t)
    if distributions:
        check_weight_values(weight)
    elif weight is not None:
        check_finite(weight, "weight")


# ---------------------------------------------------------------- fused linear + cross-entropy


def check_linear_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    target: torch.Tensor,
    bias: torch.Tensor | None,
    *,
    chunk_size: object,
    ignore_index: object,
    label_smoothing: object,
    reduction: object,
) -> tuple[int | None, int, float]:
    """Structural checks of :func:`losskit.functional.linear_cross_entropy`; metadata only.

    Returns ``(chunk_size, ignore_index, label_smoothing)`` as plain Python numbers.
    """
    check_float(hidden, "hidden")
    check_float(weight, "weight")
    check_tensor(target, "target")
    check_reduction(reduction)
    smoothing = check_in_range(label_smoothing, "label_smoothing", 0.0, 1.0)  # type: ignore[arg-type]
    chunk = check_chunk_size(chunk_size)
    if weight.dim() != 2:
        raise LossInputError(
            f"weight has shape {tuple(weight.shape)}; it must be (V, H), one row per class, like nn.Linear.weight."
        )
    vocab, width = weight.shape
    if hidden.dim() == 0 or hidden.shape[-1] != width:
        raise LossInputError(
            f"hidden has shape {tuple(hidden.shape)} but weight has shape {tuple(weight.shape)}; hidden must be "
            f"(..., {width}), its last dimension matching weight's second."
        )
    if target.is_floating_point() or target.dtype in (torch.bool, torch.complex64, torch.complex128):
        raise LossInputError(
            f"target has dtype {target.dtype}; linear_cross_entropy takes class indices, convert with target.long()."
        )
    ignore = check_ignore_index(ignore_index, target.dtype)
    if target.shape != hidden.shape[:-1]:
        raise LossInputError(
            f"target has shape {tuple(target.shape)} but hidden has shape {tuple(hidden.shape)}; target must have "
            f"shape {tuple(hidden.shape[:-1])}, one class index per row of hidden."
        )
    if bias is not None:
        check_float(bias, "bias")
        if bias.shape != (vocab,):
            raise LossInputError(f"bias has shape {tuple(bias.shape)} but must have shape ({vocab},), one per class.")
    return chunk, ignore, smoothing


def check_logits_result(
    values: torch.Tensor, mode: int, hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
) -> None:
    """The fused LM-head loss's value check, riding on its per-token losses.

    Finite losses prove finite inputs (where they reach a counted token). A
    non-finite loss names the non-finite input; with finite inputs the logits
    overflowed the dtype, which is refused too (a loss of inf has no gradient).
    """
    if mode == OFF:
        return
    total = values.detach().sum()
    message = (
        "the logits hidden @ weight.T (+ bias) hold non-finite values although hidden and weight are "
        "finite: they overflow the dtype. Scale the inputs down or compute in float64."
    )
    if mode == ASYNC:
        _device_assert(
            torch.isfinite(total),
            "linear_cross_entropy: hidden, weight or bias holds NaN or inf, or the logits overflow the dtype.",
        )
        return
    if bool(torch.isfinite(total)):
        return
    check_finite(hidden, "hidden")
    check_finite(weight, "weight")
    if bias is not None:
        check_finite(bias, "bias")
    raise LossInputError(message)


# ---------------------------------------------------------------- distributed (losskit.distributed)


def refuse_group_without_process_group() -> None:
    raise LossInputError(
        "group was given but torch.distributed is not initialised; call "
        "torch.distributed.init_process_group(...) first, or pass group=None for one process."
    )


def refuse_non_member() -> None:
    raise LossInputError("this process is not a member of the given group; call the function only on its members.")


def check_local_total(local_total: object) -> None:
    """``global_divisor``'s ``local_total``: a number or a one-element tensor."""
    if isinstance(local_total, torch.Tensor):
        if local_total.numel() != 1:
            raise LossInputError(
                f"local_total must be a one-element tensor, got shape {tuple(local_total.shape)}."
            )
        return
    if _real(local_total) is None:
        raise LossInputError(f"local_total must be a number or a one-element tensor, got {local_total!r}.")


def check_target_list(targets: object) -> list[torch.Tensor]:
    """``mean_divisor``'s targets: a tensor, or a non-empty list of same-kind tensors on one device."""
    if isinstance(targets, torch.Tensor):
        return [targets]
    if not isinstance(targets, (list, tuple)):
        raise LossInputError(
            f"targets must be a tensor or a list of the step's micro-batch targets, got {type(targets).__name__}."
        )
    if not targets:
        raise LossInputError("targets is an empty list; pass the targets of every micro-batch of the step.")
    out = [check_tensor(t, f"targets[{i}]") for i, t in enumerate(targets)]
    first = out[0]
    for i, t in enumerate(out[1:], start=1):
        if t.is_floating_point() != first.is_floating_point():
            raise LossInputError(
                f"targets[{i}] has dtype {t.dtype} but targets[0] has {first.dtype}; every micro-batch of a "
                f"step must hold the same kind of target (class indices or floats)."
            )
        if t.device != first.device:
            raise LossInputError(
                f"targets[{i}] is on {t.device} but targets[0] is on {first.device}; move them to one device."
            )
    return out


def check_count_options(weight: torch.Tensor | None, class_dim: object) -> int | None:
    """``mean_divisor``'s ``weight`` (one per class) and ``class_dim`` (an int or None)."""
    if weight is not None:
        check_float(weight, "weight")
        if weight.dim() != 1:
            raise LossInputError(f"weight has shape {tuple(weight.shape)}; pass one weight per class, shape (C,).")
    return check_int(class_dim, "class_dim", allow_none=True)


def check_count_target(
    t: torch.Tensor, name: str, weight: torch.Tensor | None, class_dim: int | None
) -> None:
    """One micro-batch's targets as ``mean_divisor`` counts them (structural)."""
    if not t.is_floating_point():
        check_index_dtype(t, name)
        return
    if class_dim is None:
        if weight is not None:
            raise LossInputError(
                f"weight is a class weight, but {name} holds floats and class_dim is None (regression targets, "
                f"where every element counts once); for probability targets pass class_dim=1."
            )
        return
    if not -t.dim() <= class_dim < t.dim():
        raise LossInputError(f"class_dim={class_dim} is out of range for {name} of shape {tuple(t.shape)}.")
    if weight is not None and weight.shape != (t.shape[class_dim],):
        raise LossInputError(
            f"weight has shape {tuple(weight.shape)} but {name} has {t.shape[class_dim]} classes along "
            f"class_dim={class_dim}; pass one weight per class."
        )


def check_vocab_parallel(
    logits_shard: torch.Tensor, target: torch.Tensor, *, reduction: object, label_smoothing: object,
    ignore_index: object,
) -> tuple[float, int]:
    """Structural checks of ``vocab_parallel_cross_entropy``; returns ``(label_smoothing, ignore_index)``."""
    check_float(logits_shard, "logits_shard")
    check_tensor(target, "target")
    check_reduction(reduction)
    smoothing = check_in_range(label_smoothing, "label_smoothing", 0.0, 1.0)  # type: ignore[arg-type]
    if target.is_floating_point() or target.dtype in (torch.bool, torch.complex64, torch.complex128):
        raise LossInputError(
            f"target has dtype {target.dtype}; vocab-parallel cross-entropy needs class indices of an integer "
            f"dtype (probability targets are not supported), e.g. target.long()."
        )
    ignore = check_ignore_index(ignore_index, target.dtype)
    if logits_shard.dim() == 0:
        raise LossInputError("logits_shard is 0-d; pass logits of shape (N, width) or (N, width, d1, ...).")
    shard = logits_shard if logits_shard.dim() > 1 else logits_shard.unsqueeze(0)
    labels = target if logits_shard.dim() > 1 else target.unsqueeze(0)
    expected = shard.shape[:1] + shard.shape[2:]
    if labels.shape != expected:
        lm_hint = (
            " The class dim looks last (language-model layout): pass logits_shard.flatten(0, -2) and "
            "target.flatten()."
            if shard.dim() > 2 and labels.shape == shard.shape[:-1]
            else ""
        )
        raise LossInputError(
            f"target has shape {tuple(labels.shape)} but logits_shard has shape {tuple(shard.shape)} "
            f"(classes along dim 1), so target must have shape {tuple(expected)}.{lm_hint}"
        )
    if shard.shape[1] == 0:
        raise LossInputError("logits_shard holds no class (width 0 along dim 1); every rank needs >= 1 class.")
    return smoothing, ignore


def check_vocab_start(vocab_start: object, distributed: bool) -> None:
    if isinstance(vocab_start, bool) or not isinstance(vocab_start, numbers.Integral) or int(vocab_start) < 0:
        raise LossInputError(f"vocab_start must be an int >= 0 (this shard's first class), got {vocab_start!r}.")
    if not distributed and vocab_start != 0:
        raise LossInputError(
            f"vocab_start={vocab_start} but there is no process group, so this process holds every class and "
            f"the shard starts at 0; initialise torch.distributed or drop vocab_start."
        )


def check_vocab_tiling(layout: list[tuple[int, int]]) -> int:
    """Every rank's ``(vocab_start, width)``, sorted, must tile [0, C) without gap or overlap; returns C."""
    end = 0
    for start, w in layout:
        if start != end:
            raise LossInputError(
                f"the vocab shards (vocab_start, width) = {layout} do not tile [0, C) without gap or overlap "
                f"(expected a shard starting at {end}); pass each rank's vocab_start, or leave it None for "
                f"equal shards in rank order."
            )
        end = start + w
    return end


def refuse_different_targets() -> None:
    raise LossInputError(
        "target differs between the ranks of group; vocab-parallel cross-entropy needs the same full "
        "target on every rank (only the logits are sharded)."
    )


# ---------------------------------------------------------------- loss options by name (the registry, the CLI)


def check_loss_options(name: str, keys: Sequence[str], allowed: dict[str, object]) -> None:
    """Every option key given for the registered loss ``name`` must be one of its hyperparameters.

    ``allowed`` maps each hyperparameter to its default (``LossInfo.hyperparameters``).
    """
    for key in keys:
        if key not in allowed:
            accepts = ", ".join(f"{k} (default {v!r})" for k, v in allowed.items()) or "no options"
            raise LossInputError(f"loss {name!r} has no option {key!r}; it accepts {accepts}.")


# ---------------------------------------------------------------- scales within the compute dtype


@functools.cache
def _normal_range(dtype: torch.dtype) -> tuple[float, float]:
    info = torch.finfo(dtype)
    return info.tiny, info.max


# every float dtype a loss is computed in (float32 at least) holds these as normal numbers
_SAFE_SCALES = (2.0**-125, 2.0**127)


def check_scale_in_dtype(value: float | torch.Tensor, name: str, dtype: torch.dtype) -> float | torch.Tensor:
    """A scale option (``delta``, ``scale``, ``c``) that ``dtype`` holds as a normal number.

    Outside ``[finfo.tiny, finfo.max]`` the scale itself rounds to 0 or inf in
    the dtype the loss is computed in. A tensor is checked value by value (a
    value check: call it only when validation is on).
    """
    low, high = _normal_range(dtype)
    if isinstance(value, torch.Tensor):
        bad = ~((value >= low) & (value <= high))
        if not host_read_allowed(value):
            _device_assert(~bad.any(), f"every {name} must lie in [{low:g}, {high:g}], the normal numbers of {dtype}.")
            return value
        if not bool(bad.any()):
            return value
        value = value[bad].flatten()[0].item()
    elif low <= value <= high:
        return float(value)
    hint = "" if dtype == torch.float64 else ", or compute in float64 (input.double(), target.double())"
    raise LossInputError(
        f"{name}={value!r} is outside [{low:g}, {high:g}], the positive normal numbers of {dtype} that the "
        f"loss is computed in, so it would round to {'inf' if value > high else '0'}; pass a {name} in "
        f"that range{hint}."
    )


def check_scale_for_inputs(value: float, name: str, input: object, target: object) -> float:
    """:func:`check_scale_in_dtype` in the dtype a loss computes ``input``/``target`` in (half: float32).

    Tensors of other kinds are left to the tensor checks that follow.
    """
    if type(value) is float and _SAFE_SCALES[0] <= value <= _SAFE_SCALES[1]:
        return value  # a normal number of float32 and float64 alike (the common case: no dtype lookups)
    if not (isinstance(input, torch.Tensor) and isinstance(target, torch.Tensor)):
        return value
    if not (input.is_floating_point() and target.is_floating_point()):
        return value
    dtype = torch.promote_types(input.dtype, target.dtype)
    if dtype in (torch.float16, torch.bfloat16):
        dtype = torch.float32
    return float(check_scale_in_dtype(value, name, dtype))


def check_within_dtype_max(value: float | torch.Tensor, name: str, dtype: torch.dtype) -> float | torch.Tensor:
    """A factor (``pos_weight``) that ``dtype`` holds as a finite number; 0 and tiny values are fine.

    A tensor is checked value by value (a value check: call it only when validation is on).
    """
    high = _normal_range(dtype)[1]
    if isinstance(value, torch.Tensor):
        if value.is_floating_point() and _normal_range(value.dtype)[1] <= high:
            return value  # every finite value fits; an inf is a non-finite input, named by the result's check
        bad = value.abs() > high
        if not host_read_allowed(value):
            _device_assert(~bad.any(), f"{name} must lie in [0, {high:g}], the finite range of {dtype}.")
            return value
        if not bool(bad.any()):
            return value
        value = value[bad].flatten()[0].item()
    elif abs(value) <= high:
        return float(value)
    hint = "" if dtype == torch.float64 else ", or compute in float64 (input.double(), target.double())"
    raise LossInputError(
        f"{name}={value!r} exceeds {high:g}, the largest {dtype} that the loss is computed in, so it would "
        f"round to inf (and inf * 0 is NaN); pass a {name} in [0, {high:g}]{hint}."
    )


# ---------------------------------------------------------------- torch-compatible signatures (torchsurface)


def legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """torch's deprecated ``size_average``/``reduce`` pair, turned into ``reduction`` as torch does it.

    ``None, None`` leaves ``reduction`` alone; anything else gives torch's
    own answer, with torch's own deprecation warning.
    """
    if size_average is None and reduce is None:
        return reduction
    from torch.nn import _reduction

    return _reduction.legacy_get_string(size_average, reduce)


def check_target_broadcast(input: torch.Tensor, target: torch.Tensor, *, target_name: str = "target") -> None:
    """A ``target`` that broadcasts to ``input``'s shape without adding loss terms is accepted, as in torch.

    Refused: any pair whose broadcast shape is not ``input``'s own (``(N, 1)``
    against ``(N,)`` gives ``(N, N)``: N² terms instead of N, the silent
    wrong number of pytorch #16045), and an ``input`` that would have to grow.
    """
    if input.shape == target.shape:
        return
    shape = _broadcast_shape(input.shape, target.shape)
    if shape != input.shape:
        check_same_shape(input, target, target_name=target_name)


def check_broadcast_terms(*named: tuple[str, torch.Tensor]) -> torch.Size:
    """Tensors that broadcast together as torch broadcasts them, without changing the number of loss terms.

    Accepted: every tensor broadcasts to the shape of the largest one (a
    label shared along a dim of size 1, a 0-d margin target, ...), which is
    then the shape of torch's unreduced loss; returned. Refused, naming a
    pair at fault: tensors whose broadcast shape is none of theirs
    (``(N, 1)`` against ``(N,)`` gives ``(N, N)``: N² terms from N pairs,
    pytorch #16045), and shapes that do not broadcast at all.
    """
    shape = named[0][1].shape
    if all(t.shape == shape for _, t in named[1:]):
        return shape
    common = _broadcast_shape(*(t.shape for _, t in named))
    if common is not None and any(t.shape == common for _, t in named):
        return common
    # some pair is at fault: were every pair's broadcast one of its two shapes, the largest shape would be all's
    for i, (a_name, a) in enumerate(named):
        for b_name, b in named[i + 1:]:
            pair = _broadcast_shape(a.shape, b.shape)
            if pair != a.shape and pair != b.shape:
                check_same_shape(a, b, input_name=a_name, target_name=b_name)
    raise AssertionError("unreachable")  # pragma: no cover


def check_broadcast_weight(weight: torch.Tensor | None, input: torch.Tensor, name: str = "weight") -> None:
    """An elementwise weight that broadcasts to ``input``'s shape (a 0-d or one-element weight, a per-class
    weight along the last dim as torch's BCE takes it), never one that enlarges the loss."""
    if weight is None:
        return
    check_float(weight, name)
    if weight.shape == input.shape:
        return
    shape = _broadcast_shape(weight.shape, input.shape)
    if shape != input.shape:
        raise LossInputError(
            f"{name} has shape {_shape(weight)}, which does not broadcast to input's shape {_shape(input)} "
            f"without changing the number of loss terms; pass a scalar, a shape like input's trailing dims "
            f"(e.g. one weight per label along the last dim), or input's shape."
        )


# id(weight) -> (a weak reference to it, its _version when checked); tensors cannot key a
# WeakKeyDictionary (their == is elementwise)
_weights_checked: dict[int, tuple[weakref.ref, int]] = {}


def check_weight_values_once(weight: torch.Tensor | None, name: str = "weight", *, note: str = "") -> None:
    """:func:`check_weight_values`, skipped for a weight tensor already checked and unchanged since.

    A module's class weights are the same tensor on every call: checking them
    once per in-place change (``Tensor._version``) keeps a pass and a
    host read out of every loss call.
    """
    if weight is None:
        return
    key = id(weight)
    version = weight._version
    entry = _weights_checked.get(key)
    if entry is not None and entry[0]() is weight and entry[1] == version:
        return
    check_weight_values(weight, name, note=note)

    def forget(_: object) -> None:  # the weight was freed: a new tensor may reuse its id
        _weights_checked.pop(key, None)

    try:
        ref = weakref.ref(weight, forget)
    except TypeError:  # a tensor type that refuses weak references: check on every call
        return
    _weights_checked[key] = (ref, version)


def check_probability_target(input: torch.Tensor, target: torch.Tensor) -> None:
    """A probability target (KL): floating, and shaped like ``input`` or broadcasting to it without adding terms."""
    check_tensor(target, "target")
    if not target.is_floating_point():
        raise LossInputError(
            f"target has integer dtype {target.dtype}, but this loss needs probability targets shaped like "
            f"input {tuple(input.shape)}; convert with F.one_hot(target, C).float()."
        )
    if target.shape == input.shape:
        return
    shape = _broadcast_shape(input.shape, target.shape)
    if shape != input.shape:
        raise LossInputError(
            f"target of probabilities has shape {_shape(target)} but input has shape {_shape(input)}; "
            f"probability targets must match the input (or broadcast to it without adding loss terms)."
        )


def can_read_on_host(t: torch.Tensor) -> bool:
    """Whether a loss may look at a value of ``t`` on the host now: a host read is allowed for its
    device (:func:`host_read_allowed`), and no ``torch.compile`` trace or functorch transform is running."""
    return host_read_allowed(t) and not _is_compiling() and not torch._C._are_functorch_transforms_active()


# ---------------------------------------------------------------- loss families: segmentation, metric, probabilistic


def check_signed_target(target: torch.Tensor, name: str = "target", *, note: str = "") -> None:
    """Labels in {-1, 1} (margin and embedding losses); ``note`` ends the message (:data:`STRICT_NOTE`
    under torch's names, whose formulas take any label)."""
    bad = (target != 1) & (target != -1)
    if not host_read_allowed(target):
        _device_assert(~bad.any(), f"{name} must hold labels in {{-1, 1}}{note}.")
        return
    if bool(bad.any()):
        raise LossInputError(
            f"{name} holds the value {target[bad].flatten()[0].item():g}; this loss needs labels in {{-1, 1}} "
            f"(convert 0/1 labels with 2 * {name} - 1){note}."
        )


def check_batched(t: torch.Tensor, name: str, dims: Sequence[int], layout: str) -> None:
    """``t`` has one of the numbers of dimensions ``dims``; ``layout`` names them for the message."""
    if t.dim() not in dims:
        raise LossInputError(f"{name} has shape {_shape(t)}, but this loss needs {layout}.")


def check_same_batch(a: torch.Tensor, b: torch.Tensor, a_name: str, b_name: str) -> None:
    if a.shape[:1] != b.shape[:1]:
        raise LossInputError(
            f"{a_name} has shape {_shape(a)} but {b_name} has shape {_shape(b)}; they need the same "
            f"batch size along dim 0."
        )


def check_nonnegative_number(value: float, name: str) -> None:
    if value < 0:
        raise LossInputError(f"{name}={value!r} is negative; a {name} must be >= 0.")


def check_nonnegative_values(t: torch.Tensor, name: str, what: str, *, note: str = "") -> None:
    """Every value >= 0 (counts, rates, variances); ``note`` ends the message (:data:`STRICT_NOTE`)."""
    if not host_read_allowed(t):
        _device_assert(~(t < 0).any(), f"{name} must be >= 0 ({what}){note}.")
        return
    if bool((t < 0).any()):
        raise LossInputError(f"{name} holds the negative value {t.min().item():g}; {what} must be >= 0{note}.")


def check_segmentation(input: torch.Tensor, target: torch.Tensor) -> bool:
    """An (N, C, d1, ...) score map against (N, d1, ...) class indices or (N, C, d1, ...) masks.

    Returns whether ``target`` holds class indices.
    """
    check_float(input, "input")
    check_tensor(target, "target")
    if input.dim() < 2:
        raise LossInputError(
            f"input has shape {_shape(input)}; a segmentation loss needs scores (N, C, d1, ...) with the "
            f"classes along dim 1 (C = 1 for a binary mask)."
        )
    index_shape = input.shape[:1] + input.shape[2:]
    if target.is_floating_point():
        if target.shape != input.shape:
            hint = " It has the shape of class indices: convert with target.long()." if (
                target.shape == index_shape) else ""
            raise LossInputError(
                f"target mask has shape {_shape(target)} but input has shape {_shape(input)}; a float mask "
                f"(one-hot or soft) must match the input exactly.{hint}"
            )
        return False
    if target.dtype in (torch.bool, torch.complex64, torch.complex128):
        raise LossInputError(f"target has dtype {target.dtype}; pass class indices as int64 (target.long()).")
    if target.shape != index_shape:
        raise LossInputError(
            f"target of class indices has shape {_shape(target)} but input has shape {_shape(input)} "
            f"(classes along dim 1), so target must have shape {tuple(index_shape)}."
        )
    return True


def check_binary_mask_indices(target: torch.Tensor, ignore_index: int | None) -> None:
    """With one channel (a binary mask), class indices must be 0 or 1."""
    valid = target != ignore_index if ignore_index is not None else torch.ones_like(target, dtype=torch.bool)
    bad = valid & (target != 0) & (target != 1)
    if not host_read_allowed(target):
        _device_assert(~bad.any(), "target of a one-channel (binary) input must hold 0 or 1.")
        return
    if bool(bad.any()):
        raise LossInputError(
            f"input has one channel (a binary mask), so target must hold 0 or 1, got {target[bad][0].item()}."
        )


def check_embeddings(embeddings: torch.Tensor, labels: torch.Tensor) -> None:
    """(N, D) float embeddings with (N,) integer labels."""
    check_float(embeddings, "embeddings")
    check_tensor(labels, "labels")
    check_batched(embeddings, "embeddings", (2,), "embeddings of shape (N, D)")
    if labels.is_floating_point() or labels.dtype == torch.bool or labels.shape != embeddings.shape[:1]:
        raise LossInputError(
            f"labels has shape {_shape(labels)} and dtype {labels.dtype}, but embeddings has shape "
            f"{_shape(embeddings)}; pass one integer label per embedding, shape ({embeddings.shape[0]},)."
        )


def check_multilabel_indices(target: torch.Tensor, input: torch.Tensor) -> None:
    """torch's multilabel_margin target: int class indices shaped like input, padded after the first -1
    (an unbatched 0-d or (C,) input takes a 0-d or 1-D target of as many entries, as in torch)."""
    check_tensor(target, "target")
    check_batched(input, "input", (0, 1, 2), "scores of shape (N, C), (C,) or a 0-d score (one class)")
    unbatched = input.dim() <= 1 and target.dim() <= 1 and target.numel() == input.numel()
    bad_dtype = target.is_floating_point() or target.dtype in (torch.bool, torch.complex64, torch.complex128)
    if bad_dtype or (target.shape != input.shape and not unbatched):
        raise LossInputError(
            f"target has shape {_shape(target)} and dtype {target.dtype}, but multilabel_margin_loss needs "
            f"integer class indices shaped like input {_shape(input)}, each row ended by -1."
        )


def check_multi_margin_target(input: torch.Tensor, target: torch.Tensor, *, torch_shapes: bool) -> None:
    """Class-index targets of a multi-class margin loss on (N, C, d1, ...) or unbatched (C,) scores.

    ``torch_shapes`` (torch's ``multi_margin_loss``): also a 0-d input (one
    class), and a 0-d or one-element target for a single sample ((C,) or
    (1, C) scores), as torch takes them.
    """
    check_tensor(target, "target")
    if input.dim() == 0 and not torch_shapes:
        raise LossInputError("input is 0-d; a multi-class margin loss needs scores of shape (N, C) or (C,).")
    if input.dim() <= 1:
        ok, need = target.dim() <= 1 and target.numel() == 1, "() or (1,)"
    else:
        index_shape = input.shape[:1] + input.shape[2:]
        ok, need = target.shape == index_shape, str(tuple(index_shape))
        if torch_shapes and input.shape[0] == 1 and input.dim() == 2 and target.dim() == 0:
            ok = True  # torch: one sample's target may be 0-d
    if target.is_floating_point() or target.dtype in (torch.bool, torch.complex64, torch.complex128) or not ok:
        raise LossInputError(
            f"target has shape {_shape(target)} and dtype {target.dtype}, but input has shape "
            f"{_shape(input)} (classes along dim {1 if input.dim() > 1 else 0}), so target must be class "
            f"indices of shape {need}."
        )


def check_multilabel_index_values(target: torch.Tensor, num_classes: int) -> None:
    bad = (target < -1) | (target >= num_classes)
    if not host_read_allowed(target):
        _device_assert(~bad.any(), f"target must hold class indices in [0, {num_classes}) or -1.")
        return
    if bool(bad.any()):
        raise LossInputError(
            f"target holds {target[bad][0].item()}, but multilabel_margin_loss needs class indices in "
            f"[0, {num_classes}) and -1 to end each row."
        )


def check_spread_shape(spread: torch.Tensor, input: torch.Tensor, name: str) -> bool:
    """torch's GaussianNLLLoss shapes for a variance or scale: ``input``'s shape (heteroscedastic),
    ``input.shape[:-1]`` (one per row, returns True: unsqueeze it), or ``input``'s shape with one
    dimension of size 1 (shared along it)."""
    check_float(spread, name)
    if spread.shape == input.shape:
        return False
    if spread.shape == input.shape[:-1]:
        return True
    if spread.dim() == input.dim() and sum(
        s for i, s in zip(input.shape, spread.shape, strict=True) if i != s
    ) == 1:
        return False
    raise LossInputError(
        f"{name} has shape {_shape(spread)} but input has shape {_shape(input)}; pass input's shape "
        f"(one {name} per value), input's shape without its last dim, or input's shape with one dim of size 1."
    )


def check_pair_labels(target: torch.Tensor, input1: torch.Tensor) -> None:
    """One label per pair of embeddings: shape ``input1.shape[:-1]``."""
    if target.shape != input1.shape[:-1]:
        raise LossInputError(
            f"target has shape {_shape(target)} but input1 has shape {_shape(input1)}; pass one label per "
            f"pair, shape {tuple(input1.shape[:-1])}."
        )


def check_label_dtype(target: torch.Tensor, name: str = "target") -> None:
    """Labels used in arithmetic (``1 - target``): a real number dtype, integer or floating, not bool."""
    check_tensor(target, name)
    if target.dtype in (torch.bool, torch.complex64, torch.complex128):
        raise LossInputError(f"{name} has dtype {target.dtype}; pass the labels as numbers ({name}.float()).")


def check_target_dims(input: torch.Tensor, target: torch.Tensor, classes: str) -> None:
    """``target`` has no more dims than ``input``: a loss that reduces over ``classes`` of ``input``
    would otherwise reduce over a dim of the broadcast that is not input's (torch does, silently)."""
    if target.dim() > input.dim():
        raise LossInputError(
            f"target has shape {_shape(target)} but input has shape {_shape(input)}; the classes are {classes} "
            f"of input, so target must not add dims to it (broadcasting it would sum over another dim). "
            f"Pass target with input's shape, or input with target's (input.expand_as(target))."
        )


def check_binary_values(t: torch.Tensor, name: str) -> None:
    """Every value 0 or 1 (a hard mask)."""
    bad = (t != 0) & (t != 1)
    if not host_read_allowed(t):
        _device_assert(~bad.any(), f"{name} must hold only 0 and 1.")
        return
    if bool(bad.any()):
        raise LossInputError(
            f"{name} holds the value {t[bad].flatten()[0].item():g}; this loss needs a hard mask of 0 and 1 "
            f"(threshold a soft mask, e.g. ({name} > 0.5).float())."
        )


def check_mask_ignore_index(ignore_index: int) -> None:
    """ignore_index applies to class-index targets only."""
    if ignore_index != -100:
        raise LossInputError(
            f"ignore_index={ignore_index} only applies to class-index targets, but target is a float mask; "
            f"drop ignore_index, or zero the pixels to skip in both input and target."
        )


def check_batch_aggregate(reduction: str, sample_weight: object, num_items: object) -> None:
    """aggregate='batch' pools the whole batch into one value: no per-sample reduction or weights."""
    if reduction in ("none", "per_sample") or sample_weight is not None or num_items is not None:
        raise LossInputError(
            "aggregate='batch' pools every sample into one score, so there is one loss for the batch: use "
            "reduction='mean' or 'sum' without sample_weight or num_items, or aggregate='sample' for "
            "per-sample losses."
        )
