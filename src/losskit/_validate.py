"""Every input check and error message of losskit, and the validation switch.

Two kinds of checks live here:

* **Structural checks** (shapes, dtypes, option values) read only metadata.
  They always run: they cost nothing and they are what stops silent
  broadcasting.
* **Value checks** (finiteness, target ranges, probabilities summing to 1)
  read the data and synchronise with it. They can be switched off per call
  with ``validate=False`` or globally with :func:`set_validation` /
  :func:`validation`, for hot loops and ``torch.compile(fullgraph=True)``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence

import torch

from .errors import LossInputError

__all__ = [
    "LossInputError",
    "is_validation_enabled",
    "set_validation",
    "validation",
]

REDUCTIONS = ("mean", "sum", "none", "per_sample")
INPUT_KINDS = ("logits", "probs", "log_probs")
TARGET_KINDS = ("probs", "log_probs")
# Rows of probabilities must sum to 1 within this tolerance (after upcasting
# to float32 at least), or within the rounding error of their dtype if that is
# larger (see :func:`prob_sum_tolerance`).
PROB_SUM_ATOL = 1e-3

_enabled = True


def set_validation(enabled: bool) -> None:
    """Switch value checks on or off for every loss call that passes ``validate=None``."""
    global _enabled
    _enabled = bool(enabled)


def is_validation_enabled() -> bool:
    """Whether value checks run for calls that pass ``validate=None``."""
    return _enabled


@contextlib.contextmanager
def validation(enabled: bool) -> Iterator[None]:
    """Context manager that sets the global validation switch and restores it on exit."""
    previous = _enabled
    set_validation(enabled)
    try:
        yield
    finally:
        set_validation(previous)


def resolve(validate: bool | None) -> bool:
    """The effective value-check switch for one call."""
    if validate is None:
        return _enabled and not _is_compiling()
    return bool(validate)


def _is_compiling() -> bool:
    compiler = getattr(torch, "compiler", None)
    return bool(compiler is not None and compiler.is_compiling())


def _shape(t: torch.Tensor) -> str:
    return f"({', '.join(str(s) for s in t.shape)})" if t.dim() != 1 else f"({t.shape[0]},)"


# ---------------------------------------------------------------- options


def check_choice(value: object, name: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise LossInputError(
            f"{name}={value!r} is not supported; use one of {', '.join(map(repr, choices))}."
        )
    return value  # type: ignore[return-value]


def check_reduction(reduction: object) -> str:
    return check_choice(reduction, "reduction", REDUCTIONS)


def check_positive(value: float, name: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise LossInputError(f"{name} must be a positive number, got {value!r}.")
    if not (value > 0 and math.isfinite(value)):
        raise LossInputError(f"{name} must be a finite number > 0, got {value!r}; pass e.g. {name}=1.0.")
    return float(value)


def check_in_range(
    value: float, name: str, low: float, high: float, *, high_inclusive: bool = True
) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise LossInputError(f"{name} must be a number, got {value!r}.")
    ok = low <= value <= high if high_inclusive else low <= value < high
    if not ok:
        bracket = "]" if high_inclusive else ")"
        raise LossInputError(f"{name} must lie in [{low:g}, {high:g}{bracket}, got {value!r}.")
    return float(value)


# ---------------------------------------------------------------- tensors


def check_tensor(t: object, name: str) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise LossInputError(
            f"{name} must be a torch.Tensor, got {type(t).__name__}; wrap it with torch.as_tensor()."
        )
    return t


def check_float(t: torch.Tensor, name: str) -> torch.Tensor:
    check_tensor(t, name)
    if not t.is_floating_point():
        raise LossInputError(
            f"{name} has dtype {t.dtype}, but this loss needs a floating-point tensor; "
            f"convert it with {name}.float()."
        )
    return t


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


def check_weight_values(weight: torch.Tensor | None, name: str = "weight") -> None:
    """Value checks of a weight tensor: finite and >= 0."""
    if weight is None:
        return
    check_finite(weight, name)
    check_nonnegative(weight, name)


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


def check_nonnegative(t: torch.Tensor, name: str) -> None:
    if bool((t < 0).any()):
        raise LossInputError(f"{name} holds a negative value ({t.min().item():g}); weights must be >= 0.")


def check_class_indices(target: torch.Tensor, num_classes: int, ignore_index: int | None) -> None:
    valid = target != ignore_index if ignore_index is not None else torch.ones_like(target, dtype=torch.bool)
    bad = valid & ((target < 0) | (target >= num_classes))
    if bool(bad.any()):
        value = target[bad].flatten()[0].item()
        ignore = f" other than ignore_index={ignore_index}" if ignore_index is not None else ""
        raise LossInputError(
            f"target holds the class index {value}, outside [0, {num_classes}){ignore}; "
            f"input has {num_classes} classes along dim 1."
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
        if bool((p > tol).any()):
            raise LossInputError(
                f"{name} holds the log-probability {p.max().item():g} > 0; pass log-probabilities "
                f"(e.g. log_softmax), or choose another *_kind."
            )
        probs = p.float().exp() if p.dtype != torch.float64 else p.exp()
    else:
        if bool((p < -tol).any()) or bool((p > 1 + tol).any()):
            value = p.min().item() if bool((p < -tol).any()) else p.max().item()
            raise LossInputError(
                f"{name} holds the value {value:g}, outside [0, 1]; pass probabilities, or choose "
                f"another *_kind (e.g. 'logits')."
            )
        probs = p.float() if p.dtype != torch.float64 else p
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
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise LossInputError(f"{name} must be a number, got {value!r}.")
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (above and below) or math.isnan(value):
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        raise LossInputError(f"{name} must lie in {left}{low:g}, {high:g}{right}, got {value!r}.")
    return float(value)


def check_unit_interval(t: torch.Tensor, name: str, *, log: bool = False) -> None:
    """Elementwise probabilities in [0, 1] (or log-probabilities <= 0); rows need not sum to 1."""
    tol = PROB_SUM_ATOL
    if log:
        bad = t > tol
        if bool(bad.any()):
            raise LossInputError(
                f"{name} holds the log-probability {t[bad].flatten()[0].item():g} > 0; pass "
                f"log-probabilities (e.g. F.logsigmoid), or choose another *_kind."
            )
        return
    bad = (t < -tol) | (t > 1 + tol)
    if bool(bad.any()):
        raise LossInputError(
            f"{name} holds the value {t[bad].flatten()[0].item():g}, outside [0, 1]; pass probabilities "
            f"(e.g. torch.sigmoid(logits)), or choose another *_kind (e.g. 'logits')."
        )


def check_broadcast_param(t: torch.Tensor, name: str, input: torch.Tensor) -> None:
    """A tensor hyperparameter must broadcast to ``input``'s shape without enlarging it."""
    check_float(t, name)
    try:
        shape = torch.broadcast_shapes(t.shape, input.shape)
    except RuntimeError:
        shape = None
    if shape != input.shape:
        raise LossInputError(
            f"{name} has shape {_shape(t)}, which does not broadcast to input's shape {_shape(input)} "
            f"(from the right, like numpy); pass a scalar, a shape like input's trailing dims, or input's shape."
        )


def check_positive_values(t: torch.Tensor, name: str) -> None:
    """Every value > 0 (a tensor of scales)."""
    if bool((t <= 0).any()):
        raise LossInputError(f"{name} holds the value {t.min().item():g}; every {name} must be > 0.")


# ---------------------------------------------------------------- loss families: segmentation, metric, probabilistic


def legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """torch's deprecated ``size_average`` / ``reduce`` pair, resolved (with torch's warning) into a reduction."""
    if size_average is None and reduce is None:
        return reduction
    from torch.nn import _reduction

    return _reduction.legacy_get_string(size_average, reduce)


def check_signed_target(target: torch.Tensor, name: str = "target") -> None:
    """Labels in {-1, 1} (margin and embedding losses)."""
    bad = (target != 1) & (target != -1)
    if bool(bad.any()):
        raise LossInputError(
            f"{name} holds the value {target[bad].flatten()[0].item():g}; this loss needs labels in {{-1, 1}} "
            f"(convert 0/1 labels with 2 * {name} - 1)."
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


def check_nonnegative_values(t: torch.Tensor, name: str, what: str) -> None:
    """Every value >= 0 (counts, rates, variances)."""
    if bool((t < 0).any()):
        raise LossInputError(f"{name} holds the negative value {t.min().item():g}; {what} must be >= 0.")


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
    """torch's multilabel_margin target: int class indices shaped like input, padded after the first -1."""
    check_tensor(target, "target")
    if target.is_floating_point() or target.shape != input.shape:
        raise LossInputError(
            f"target has shape {_shape(target)} and dtype {target.dtype}, but multilabel_margin_loss needs "
            f"integer class indices shaped like input {_shape(input)}, each row ended by -1."
        )


def check_multilabel_index_values(target: torch.Tensor, num_classes: int) -> None:
    bad = (target < -1) | (target >= num_classes)
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
