"""API fuzz suite (issue 13): every registered loss, called the way users and attackers call it.

Each registered loss gets its own derandomised hypothesis run (a fixed seed per loss, so a loss
registered later changes nobody else's draws). Inputs start from the registry matrix's generator
(:func:`test_registry_matrix.make_batch`, which every registered loss must support) and are then
mutated: shapes (0-d, empty, 5-D, a class dim of 0), dtypes (half inputs; int8/uint8/int16/int32/bool
targets), strides, one option at or past its edge (0, negative, inf, NaN, 1e±300, huge ints, numpy
scalars, bools), ``sample_weight``, ``num_items``, ``validate=False``, and the call goes through
autograd, ``torch.func.jvp``, double backward or ``torch.func.vmap``.

Every call must end in one of these outcome classes:

* ``value``: a finite result equal to the float64 reference (the same loss on the inputs upcast to
  float64, or torch's function where torch defines the loss), with finite gradients equal to the
  reference's where the mode takes gradients;
* ``refused``: a :class:`LossInputError` or ``TypeError`` whose message names an argument this call
  made suspect;
* ``overflow``: inf where the exact (float64) loss exceeds the dtype's largest float, which the README
  states for every loss (see "Overflow");
* ``unchecked``: ``validate=False`` (or a functorch transform, where value checks step aside) with
  a value-invalid argument: any result, or torch's own error for an out-of-range class index, as the
  README documents.

Anything else is a failure. The summary (calls per loss and mode, outcome classes) is printed at the
end of the test session (``tests/conftest.py``).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import losskit
from losskit import LossInputError
from test_registry_matrix import make_batch

NAMES = losskit.available_losses()
EXAMPLES_PER_LOSS = 40
MODES = ("call", "grad", "jvp", "double_backward", "vmap")
FLOATS = (torch.float32, torch.float64, torch.float16, torch.bfloat16)

# option values at and past every edge; numpy scalars and bools included
EDGE_NUMBERS: tuple[Any, ...] = (
    0, 0.0, -1.0, -0.5, 0.5, 1.0, 2.0, math.inf, -math.inf, math.nan, 1e300, -1e300, 1e-300, 1e39, 1e-39,
    2**70, -(2**70), np.float32(0.5), np.float64(2.0), np.int64(1), True, "1.0", None,
)
EDGE_INDICES: tuple[Any, ...] = (-100, -1, 0, 1, 2**31, 2**32, 2**70, -(2**63) - 1, np.int64(1), 1.5, True, "0")

# what each loss is compared with where torch defines it (float64, same options), on the plain call
TORCH_REFERENCE = {
    "mse": lambda x, t, reduction: F.mse_loss(x, t, reduction=reduction),
    "mae": lambda x, t, reduction: F.l1_loss(x, t, reduction=reduction),
    "huber": lambda x, t, reduction: F.huber_loss(x, t, reduction=reduction),
    "cross_entropy": lambda x, t, reduction: F.cross_entropy(x, t.long(), reduction=reduction),
    "bce": lambda x, t, reduction: F.binary_cross_entropy_with_logits(x, t, reduction=reduction),
}


@dataclass
class Case:
    """One call: the loss's tensors in signature order (``names``: ``input, target[, var]``,
    ``embeddings, labels``, ``anchor, positive, negative``, ...), its options and what it made suspect."""

    name: str
    mode: str
    tensors: list[torch.Tensor]
    names: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)
    suspects: set[str] = field(default_factory=set)  # arguments this call may have made invalid
    value_suspects: set[str] = field(default_factory=set)  # ... of those, invalid only in their values
    note: str = ""

    @property
    def input(self) -> torch.Tensor:  # the tensor the modes differentiate (a model's prediction)
        return self.tensors[0]

    @input.setter
    def input(self, x: torch.Tensor) -> None:
        self.tensors[0] = x

    @property
    def target(self) -> torch.Tensor:  # the second tensor: target, labels, positive or input2
        return self.tensors[1]

    @target.setter
    def target(self, t: torch.Tensor) -> None:
        self.tensors[1] = t

    @property
    def input_name(self) -> str:
        return self.names[0]

    @property
    def target_name(self) -> str:
        return self.names[1]

    @property
    def extra(self) -> list[torch.Tensor]:
        """The tensors after the second (var, scale, negative, target of a pair)."""
        return self.tensors[2:]

    def describe(self) -> str:
        opts = {k: (f"tensor{tuple(v.shape)}:{v.dtype}" if isinstance(v, torch.Tensor) else repr(v))
                for k, v in self.options.items()}
        tensors = " ".join(f"{n}{tuple(t.shape)}:{t.dtype}{'' if t.is_contiguous() else '(strided)'}"
                           for n, t in zip(self.names, self.tensors, strict=True))
        return f"{self.name} {self.mode} {tensors} {opts} {self.note}"


# ------------------------------------------------------------------ drawing a case


def _task(name: str) -> str:
    return losskit.loss_info(name).task


# the tasks whose layouts the shape variants below know (every registered loss's task must be one)
KNOWN_TASKS = ("regression", "classification", "multilabel", "segmentation", "metric_learning", "ranking",
               "probabilistic_regression")
# tasks computed elementwise over tensors of one shape: a 0-d, 5-D or zero-width call is a valid call
# (of the others, multilabel_margin takes (N, C) only, a metric loss (N, D) embeddings, ...)
ELEMENTWISE_TASKS = ("regression", "probabilistic_regression")


def _all(case: Case, f: Any) -> None:
    case.tensors = [f(t) for t in case.tensors]


def _shape_variant(data: st.DataObject, case: Case) -> None:
    """Reshape every tensor of the call alike; where the result is not a layout the task documents, the
    reshaped tensors become suspects (a refusal must name one of them; a value must still be right)."""
    task = _task(case.name)
    kinds = ["as_is", "empty", "one", "5d", "0d", "class0", "strided"]
    if any(t.dim() < 2 for t in case.tensors):  # (N,) scores (margin_ranking) have no class/feature dim
        kinds.remove("class0")
    kind = data.draw(st.sampled_from(kinds))
    x, t = case.input, case.target
    if kind == "empty":
        _all(case, lambda a: a[:0])
    elif kind == "one":
        _all(case, lambda a: a[:1])
    elif kind == "5d":
        if task == "classification":
            x = x[..., None, None, None].expand(*x.shape, 2, 1, 2).clone()
            t = t[..., None, None, None].expand(*t.shape, 2, 1, 2).clone()
            case.input, case.target = x, t
        elif task == "segmentation":  # a volume: (N, C, H, W, 2) scores against (N, H, W, 2) indices
            _all(case, lambda a: a[..., None].expand(*a.shape, 2).clone())
        else:
            _all(case, lambda a: a.reshape(a.shape[0], -1, 1, 1, 1).expand(-1, -1, 2, 1, 2).clone())
            if task not in ELEMENTWISE_TASKS:
                case.suspects.update(case.names)
    elif kind == "0d":
        _all(case, lambda a: a.flatten()[0])
        if task == "classification":
            case.suspects.add(case.input_name)
        elif task not in ELEMENTWISE_TASKS:
            case.suspects.update(case.names)
    elif kind == "class0":
        if task == "classification":
            x = x[:, :0]
            t = torch.full_like(t, -100) if not t.is_floating_point() else t[:, :0]
            case.suspects.add("input")  # a loss normalised over the classes needs C >= 2
            case.input, case.target = x, t
        elif task == "segmentation":  # C = 0 channels: every index target is out of range
            case.input = x[:, :0]
            case.suspects.update(case.names)
            case.value_suspects.add(case.target_name)
        else:  # no classes, labels or features; a metric over 0-wide embeddings is suspect
            _all(case, lambda a: a[:, :0])
            if task not in ELEMENTWISE_TASKS:
                case.suspects.update(case.names)
    elif kind == "strided":
        _all(case, lambda a: torch.stack([a, a], -1)[..., 0])
        assert not case.input.is_contiguous() or case.input.numel() <= 1
    case.note += kind


def _is_target(case: Case, i: int) -> bool:
    """Whether tensor ``i`` is a target (or labels), not a prediction a model makes."""
    return case.names[i] in ("target", "labels")


def _dtype_variant(data: st.DataObject, case: Case) -> None:
    dtype = data.draw(st.sampled_from(FLOATS))
    target_dtype = dtype if dtype in FLOATS[:2] else torch.float32
    for i, a in enumerate(case.tensors):  # predictions in the drawn dtype, float targets in float32 or it
        if a.is_floating_point():
            case.tensors[i] = a.to(target_dtype if _is_target(case, i) else dtype)
            if not _finite(case.tensors[i]):  # 1e30 overflows float16
                case.suspects.add(case.names[i])
                case.value_suspects.add(case.names[i])
    kind = data.draw(st.sampled_from(["same", "same", "int8", "uint8", "int16", "int32", "bool", "float_idx",
                                      "int_input"]))
    t = case.target
    if kind in ("int8", "uint8", "int16", "int32"):
        dtype = getattr(torch, kind)
        if t.is_floating_point():
            case.suspects.add(case.target_name)
            t = t.round().to(dtype)
        elif not (t == -100).any() or kind != "uint8":
            t = t.to(dtype)
    elif kind == "bool":
        case.suspects.add(case.target_name)
        t = t != 0 if not t.is_floating_point() else t > 0.5
    elif kind == "float_idx" and not t.is_floating_point():
        case.suspects.add(case.target_name)
        t = t.double()
    elif kind == "int_input":
        case.suspects.add(case.input_name)
        case.input = case.input.round().long()
    case.target = t


def _option_variant(data: st.DataObject, case: Case) -> None:
    info = losskit.loss_info(case.name)
    names = [*sorted(info.hyperparameters), "reduction", "ignore_index", "label_smoothing", "none"]
    option = data.draw(st.sampled_from([n for n in names if n in info.options or n == "none"]))
    if option == "none":
        return
    if option == "reduction":
        value = data.draw(st.sampled_from(["mean", "sum", "none", "per_sample", "avg", None]))
    elif option == "ignore_index":
        value = data.draw(st.sampled_from(EDGE_INDICES))
    else:
        value = data.draw(st.sampled_from(EDGE_NUMBERS))
    case.options[option] = value
    case.suspects.add(option)


def _weights_variant(data: st.DataObject, case: Case) -> None:
    n = case.input.shape[0] if case.input.dim() else 0
    kind = data.draw(st.sampled_from(["none", "none", "ones", "random", "zeros", "negative", "nan", "inf",
                                      "long", "2d", "int"]))
    if kind == "none":
        pass
    else:
        w = {
            "ones": lambda: torch.ones(n), "random": lambda: torch.rand(n, generator=torch.Generator().manual_seed(n)),
            "zeros": lambda: torch.zeros(n), "negative": lambda: -torch.ones(n),
            "nan": lambda: torch.full((n,), math.nan), "inf": lambda: torch.full((n,), math.inf),
            "long": lambda: torch.ones(n + 1), "2d": lambda: torch.ones(n, 1),
            "int": lambda: torch.ones(n, dtype=torch.int64),
        }[kind]()
        case.options["sample_weight"] = w
        case.suspects.add("sample_weight")
        if kind in ("negative", "nan", "inf") and n:
            case.value_suspects.add("sample_weight")
    kind = data.draw(st.sampled_from(["none", "none", "count", "zero", "negative", "nan", "inf", "tensor",
                                      "tensor_nan", "tensor_2", "str", "bool"]))
    if kind != "none":
        value = {"count": 3.0, "zero": 0, "negative": -1, "nan": math.nan, "inf": math.inf,
                 "tensor": torch.tensor(4.0), "tensor_nan": torch.tensor(math.nan), "tensor_2": torch.ones(2),
                 "str": "3", "bool": True}[kind]
        case.options["num_items"] = value
        case.suspects.add("num_items")
        if kind == "tensor_nan" and case.options.get("reduction", "mean") == "mean":  # only "mean" reads it
            case.value_suspects.add("num_items")


@st.composite
def cases(draw: Any, name: str) -> Case:
    data = draw(st.data())
    info = losskit.loss_info(name)
    layout = data.draw(st.sampled_from(["flat", "spatial"] if info.task == "classification" else ["flat"]))
    b = make_batch(name, layout, n=3, dtype=torch.float64, seed=data.draw(st.integers(0, 3)))
    case = Case(name, data.draw(st.sampled_from(MODES)), list(b.inputs), b.names)
    magnitude = data.draw(st.sampled_from([1.0, 1.0, 1.0, 1e4, 1e30, 1e-30]))
    for i, a in enumerate(case.tensors):  # the predictions and real targets; not labels, var or scale
        spread = info.task == "probabilistic_regression" and i >= 2
        real_target = _is_target(case, i) and info.task in ELEMENTWISE_TASKS
        if a.is_floating_point() and not spread and (real_target or not _is_target(case, i)):
            case.tensors[i] = a * magnitude
    if case.mode in ("call", "grad"):  # the transforms run on the plain shapes and options
        _shape_variant(data, case)
        _dtype_variant(data, case)
        _option_variant(data, case)
        _weights_variant(data, case)
    elif data.draw(st.booleans()):
        _option_variant(data, case)
    if data.draw(st.sampled_from([False, False, True])):
        case.options["validate"] = False
    if data.draw(st.sampled_from([False, False, False, True])) and case.input.is_floating_point() \
            and case.input.numel():
        x = case.input.flatten().clone()
        x[0] = math.nan
        case.input = x.reshape(case.input.shape)
        case.value_suspects.add(case.input_name)
        case.suspects.add(case.input_name)
    return case


# ------------------------------------------------------------------ running a case


def _fn(name: str):
    return losskit.loss_info(name).function


def _names_a_suspect(message: str, suspects: set[str]) -> bool:
    return any(s in message for s in suspects)


def _double(a: Any) -> Any:
    return a.detach().double() if isinstance(a, torch.Tensor) and a.is_floating_point() else a


def _reference(case: Case) -> torch.Tensor:
    """The float64 value: torch's where it defines the loss and the call is plain, else losskit's in float64."""
    tensors = [_double(a) for a in case.tensors]
    x, t = tensors[0], tensors[1]
    opts = {k: _double(v) for k, v in case.options.items()}
    plain = set(opts) <= {"reduction"} and opts.get("reduction", "mean") in ("mean", "sum", "none")
    if case.name in TORCH_REFERENCE and plain and x.dim() > 0 and x.numel() > 0 and t.dtype != torch.bool:
        return TORCH_REFERENCE[case.name](x, t, opts.get("reduction", "mean"))
    return _fn(case.name)(*tensors, **opts)


def _close(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype) -> bool:
    rtol = {torch.float64: 1e-9, torch.float32: 2e-4}.get(dtype, 2e-2)
    a, e = actual.detach().double(), expected.detach().double()
    if a.shape != e.shape:
        return False
    scale = e.abs().max().item() if e.numel() else 0.0
    return bool(torch.allclose(a, e, rtol=rtol, atol=rtol * scale + 1e-300, equal_nan=False))


def _finite(t: torch.Tensor) -> bool:
    return bool(torch.isfinite(t).all())


def _overflows(reference: torch.Tensor, dtype: torch.dtype) -> bool:
    big = torch.finfo(torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype).max
    return bool((~torch.isfinite(reference) | (reference.abs() > big)).any())


def _unchecked(case: Case) -> bool:
    return bool(case.value_suspects) and (case.options.get("validate") is False or case.mode in ("jvp", "vmap"))


def _compute(case: Case) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Run the case's mode; return (value, derivative or None)."""
    fn = _fn(case.name)
    x, rest, opts = case.input, case.tensors[1:], case.options
    if case.mode == "call":
        return fn(x, *rest, **opts), None
    if case.mode == "grad":
        a = x.detach().clone().requires_grad_(x.is_floating_point())
        out = fn(a, *rest, **opts)
        if not a.requires_grad or not _finite(out):
            return out, None
        (g,) = torch.autograd.grad(out.sum(), a, allow_unused=True)
        return out, torch.zeros_like(a) if g is None else g
    if case.mode == "jvp":
        v = _tangent(x)
        out, tangent = torch.func.jvp(lambda a: fn(a, *rest, **opts).sum(), (x.detach(),), (v,))
        return out, tangent
    if case.mode == "double_backward":
        a = x.detach().clone().requires_grad_()
        out = fn(a, *rest, **opts).sum()
        (g,) = torch.autograd.grad(out, a, create_graph=True)
        if not g.requires_grad:  # piecewise-linear loss: its Hessian is 0
            return out, torch.zeros_like(a)
        (h,) = torch.autograd.grad(g.sum(), a, allow_unused=True)
        return out, torch.zeros_like(a) if h is None else h
    # vmap over samples, each a batch of one, against the loop
    per = {k: v for k, v in opts.items() if k != "sample_weight"}
    out = torch.func.vmap(lambda *ts: fn(*(a[None] for a in ts), **per))(*case.tensors)
    loop = torch.stack([fn(*(a[i : i + 1] for a in case.tensors), **per) for i in range(x.shape[0])])
    return out, loop


def _reference_derivative(case: Case) -> torch.Tensor | None:
    fn = _fn(case.name)
    a = case.input.detach().double().clone().requires_grad_()
    rest = [_double(b) for b in case.tensors[1:]]
    opts = {k: _double(v) for k, v in case.options.items()}
    out = fn(a, *rest, **opts)
    if case.mode == "grad":
        return torch.autograd.grad(out.sum(), a, allow_unused=True)[0]
    if case.mode == "jvp":
        g = torch.autograd.grad(out.sum(), a, allow_unused=True)[0]
        return torch.zeros(()) if g is None else g * _tangent(a)  # summed by the comparison
    return None


def _tangent(x: torch.Tensor) -> torch.Tensor:
    return torch.linspace(-1.0, 1.0, x.numel(), dtype=x.dtype).reshape(x.shape).detach()


def run_case(case: Case) -> tuple[str, str]:
    """(outcome class, detail for failures)."""
    try:
        value, derivative = _compute(case)
    except (LossInputError, TypeError) as e:
        if _names_a_suspect(str(e), case.suspects):
            return "refused", ""
        return "fail:error names no suspect argument", f"{type(e).__name__}: {e}"
    except (RuntimeError, IndexError) as e:
        if _unchecked(case) and "index" in str(e).lower():
            return "unchecked", ""
        return f"fail:{type(e).__name__}", str(e)[:200]
    except Exception as e:  # every other exception is a finding
        return f"fail:{type(e).__name__}", str(e)[:200]
    if _unchecked(case):
        return "unchecked", ""
    if case.value_suspects:
        return "fail:accepted an invalid value", f"value {value}"
    try:
        reference = _reference(case)
        if case.mode in ("jvp", "double_backward"):  # these modes differentiate the summed loss
            reference = reference.sum()
    except (LossInputError, TypeError) as e:
        return "fail:float64 reference refused what the dtype accepted", str(e)[:200]
    if case.mode == "vmap":
        return ("value", "") if _close(value, derivative, case.input.dtype) else ("fail:vmap differs from loop", "")
    if not _finite(value):
        if reference is not None and _overflows(reference, case.input.dtype):
            return "overflow", ""
        return "fail:non-finite value", f"value {value} reference {reference}"
    if reference is not None and not _close(value, reference, case.input.dtype):
        return "fail:wrong value", f"value {value} reference {reference}"
    if derivative is not None:
        if not _finite(derivative):
            if _overflows(reference, case.input.dtype):  # e.g. Barron's (alpha > 1) gradient where its value is inf
                return "overflow", ""
            return "fail:non-finite derivative", f"derivative {derivative}"
        expected = _reference_derivative(case)
        if case.mode == "jvp" and expected is not None:  # a sum of terms: tolerance relative to the terms,
            # with a floor where the directional derivative cancels to nothing (softmax, logsumexp): an error
            # e with e * max|x| <= 1e-12 |loss| moves the loss by less than float64 resolves over any input
            # change the inputs can represent (forward and reverse mode round such cancellations differently)
            floor = 1e-12 * abs(value.item()) / max(case.input.abs().max().item(), 1e-300)
            ok = abs(derivative.item() - expected.sum().item()) <= 1e-9 * expected.abs().sum().item() + floor + 1e-300
            if not ok:
                return "fail:wrong derivative", f"tangent {derivative} reference {expected.sum()}"
        elif expected is not None and not _close(derivative, expected, case.input.dtype):
            return "fail:wrong derivative", f"derivative {derivative} reference {expected}"
    return "value", ""


# ------------------------------------------------------------------ the suite

# Holes the fuzz finds in areas not fixed yet: (loss, outcome class) -> the reason. The suite fails if a
# listed gap closes (remove it) or a new one appears (fix it, or list it here with its reason).
_NO_SECOND_DERIVATIVE = (
    "double backward: the fast path is torch's own kernel, whose backward has no derivative (as torch's "
    "function); the composed path (sample_weight, num_items, other shapes) is twice differentiable"
)
KNOWN_GAPS: dict[tuple[str, str], str] = {
    ("multi_margin", "fail:RuntimeError"): _NO_SECOND_DERIVATIVE,
    ("multilabel_margin", "fail:RuntimeError"): _NO_SECOND_DERIVATIVE,
}


def test_every_registered_loss_has_an_input_generator():
    """A loss of a task the shape variants do not know, or without inputs, is reported here, not skipped."""
    unknown = {n: _task(n) for n in NAMES if _task(n) not in KNOWN_TASKS}
    assert not unknown, f"tasks the fuzz's shape variants do not know (teach _shape_variant): {unknown}"
    for name in NAMES:
        b = make_batch(name, n=3)
        assert b.names == losskit.loss_info(name).inputs, name


@pytest.mark.parametrize("name", NAMES)
def test_fuzz_api(name: str, record_property: pytest.RecordProperty) -> None:
    outcomes: Counter[str] = Counter()
    modes: Counter[str] = Counter()
    findings: dict[str, str] = {}

    @seed(sum(map(ord, name)))
    @settings(max_examples=EXAMPLES_PER_LOSS, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(cases(name))
    def run(case: Case) -> None:
        outcome, detail = run_case(case)
        outcomes[outcome] += 1
        modes[case.mode] += 1
        if outcome.startswith("fail") and outcome not in findings:
            findings[outcome] = f"{case.describe()} -> {detail}"

    with np.errstate(all="ignore"):
        run()
    record_property("fuzz_summary", json.dumps({"loss": name, "outcomes": outcomes, "modes": modes}))
    found = {(name, o) for o in findings}
    expected = {k for k in KNOWN_GAPS if k[0] == name}
    new = {k: findings[k[1]] for k in found - expected}
    closed = expected - found
    assert not new, f"new holes in {name}: " + "; ".join(f"{k[1]}: {v}" for k, v in new.items())
    assert not closed, f"listed gaps no longer found (remove them from KNOWN_GAPS): {closed}"
