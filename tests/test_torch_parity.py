"""torch's own test samples through losskit under torch's names, values and gradients against torch.

The samples come from the generators that ship in the torch wheel:

* ``op_db``: the OpInfos ``nn.functional.<loss>``, their ``sample_inputs`` and
  (where an OpInfo has its own) ``reference_inputs``, each called as a function
  and as the matching module (``nn.<Loss>(**kwargs)(input, *args)``);
* ``module_db``: the ModuleInfos of the loss modules (constructor and forward inputs);
* ``criterion_tests`` of ``common_nn``.

in float64, float32 and float16 (the dtypes each generator lists). Every case
ends in exactly one outcome:

* ``pass``: losskit's value and gradients equal torch's (at the dtype's tolerance;
  losskit computes half precision in float32, so a half case may instead match
  torch run in float64 on the same values);
* a rule of the README's deliberate-differences table, checked, not assumed:
  ``broadcast`` (refused: the broadcast adds loss terms), ``zero_items`` (a mean
  over zero items is 0 where torch gives NaN), ``kl_mean`` (KL's mean is the
  batchmean: losskit's value is torch's sum over the positions), ``weighted_mean``
  (sum(w l) / sum(w), with sum(w y) for weighted probability targets: losskit's value is
  torch's weighted sum over that denominator), ``value_checks`` (refused with a
  LossInputError: negative weights, unnormalised probabilities or log-probabilities, ...).
  A case refused by a value check gets a valid copy (weights made non-negative,
  probabilities normalised), which is compared as well and counted apart;
* ``torch_refuses``: torch itself raises (not counted);
* anything else, a silent difference or an unexpected error, fails the test.

The counts per rule are printed (``pytest -s``, or in the failure message).
"""

from __future__ import annotations

import functools
import inspect
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import losskit.functional as LF
import losskit.nn as lnn
from losskit import LossInputError

pytest.importorskip("expecttest")  # torch.testing._internal imports it

MODULE_OF = {
    "mse_loss": "MSELoss", "l1_loss": "L1Loss", "huber_loss": "HuberLoss", "smooth_l1_loss": "SmoothL1Loss",
    "nll_loss": "NLLLoss", "cross_entropy": "CrossEntropyLoss", "kl_div": "KLDivLoss",
    "binary_cross_entropy": "BCELoss", "binary_cross_entropy_with_logits": "BCEWithLogitsLoss",
    "gaussian_nll_loss": "GaussianNLLLoss", "poisson_nll_loss": "PoissonNLLLoss",
    "cosine_embedding_loss": "CosineEmbeddingLoss", "hinge_embedding_loss": "HingeEmbeddingLoss",
    "margin_ranking_loss": "MarginRankingLoss", "multi_margin_loss": "MultiMarginLoss",
    "multilabel_margin_loss": "MultiLabelMarginLoss", "multilabel_soft_margin_loss": "MultiLabelSoftMarginLoss",
    "soft_margin_loss": "SoftMarginLoss", "triplet_margin_loss": "TripletMarginLoss",
}
# the losses losskit has under torch's name (gaussian/poisson NLL join once they exist)
NAMES = [n for n, m in MODULE_OF.items() if hasattr(LF, n) and hasattr(lnn, m)]
FUNCTION_OF = {MODULE_OF[n]: n for n in NAMES}
DTYPES = (torch.float64, torch.float32, torch.float16)
RULES = ("broadcast", "zero_items", "kl_mean", "weighted_mean", "finite_gradient", "value_checks")
TOL = {torch.float64: (1e-7, 1e-9), torch.float32: (1e-4, 1e-5), torch.float16: (1e-2, 1e-2)}


@dataclass
class Case:
    source: str
    name: str  # torch's functional name
    form: str  # "functional" or "module"
    dtype: torch.dtype
    input: Any
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)  # call kwargs (functional) or constructor kwargs (module)
    ctor_args: tuple = ()
    forward_kwargs: dict = field(default_factory=dict)

    @property
    def reduction(self) -> str:
        return self.kwargs.get("reduction", "mean")

    @property
    def weight(self) -> Any:
        return self.kwargs.get("weight")


def _fresh(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        out = v.detach().clone()
        return out.requires_grad_() if v.requires_grad and v.is_floating_point() else out
    if isinstance(v, tuple):
        return tuple(_fresh(x) for x in v)
    if isinstance(v, dict):
        return {k: _fresh(x) for k, x in v.items()}
    return v


def _as(v: Any, dtype: torch.dtype) -> Any:
    if isinstance(v, torch.Tensor):
        out = v.detach().to(dtype) if v.is_floating_point() else v
        return out.requires_grad_(v.requires_grad) if out.is_floating_point() else out
    if isinstance(v, tuple):
        return tuple(_as(x, dtype) for x in v)
    if isinstance(v, dict):
        return {k: _as(x, dtype) for k, x in v.items()}
    return v


def _run(ours: bool, case: Case, reduction: str | None = None, dtype: torch.dtype | None = None):
    """(loss, gradients w.r.t. every float input that requires grad) for torch or losskit."""
    c = case if dtype is None else replace(case, input=_as(case.input, dtype), args=_as(case.args, dtype),
                                           kwargs=_as(case.kwargs, dtype))
    inp, args, kwargs = _fresh(c.input), _fresh(c.args), _fresh(c.kwargs)
    if reduction is not None:
        kwargs["reduction"] = reduction
    if c.form == "functional":
        out = getattr(LF if ours else F, c.name)(inp, *args, **kwargs)
        leaves = [inp, *args, *kwargs.values()]
    else:
        cls = getattr(lnn if ours else nn, MODULE_OF[c.name])
        kwargs = {k: (v.detach() if isinstance(v, torch.Tensor) else v) for k, v in kwargs.items()}
        out = cls(*c.ctor_args, **kwargs)(inp, *args, **c.forward_kwargs)
        leaves = [inp, *args]
    leaves = [t for t in leaves if isinstance(t, torch.Tensor) and t.requires_grad]
    grads = torch.autograd.grad(out.sum(), leaves, allow_unused=True) if leaves and out.requires_grad else []
    grads = [torch.zeros_like(t) if g is None else g for g, t in zip(grads, leaves, strict=True)]
    return out.detach(), grads


def _close(a: torch.Tensor, b: torch.Tensor, dtype: torch.dtype) -> bool:
    rtol, atol = TOL[dtype]
    if a.shape != b.shape:
        return False
    return torch.allclose(a.double(), b.double(), rtol=rtol, atol=atol, equal_nan=True)


def _same(ours, theirs, dtype: torch.dtype) -> bool:
    (v, g), (tv, tg) = ours, theirs
    return _close(v, tv, dtype) and len(g) == len(tg) and all(_close(a, b, dtype) for a, b in zip(g, tg, strict=True))


def _matches_torch(case: Case, ours) -> bool:
    """losskit's result equals torch's, or (half precision) torch's on the same values in float64."""
    if _same(ours, _run(False, case), case.dtype):
        return True
    if case.dtype in (torch.float16, torch.bfloat16):
        ref = _run(False, case, dtype=torch.float64)
        return _same(ours, ref, torch.float32) or _same(ours, ref, torch.float16)
    return False


# ------------------------------------------------------------------ the documented differences, checked


def _class_dim(x: torch.Tensor) -> int:
    return 1 if x.dim() > 1 else 0


def _finite_where_torch_is_nan(case: Case, ours) -> bool:
    """KL's target gradient at a zero target: torch's is NaN, losskit's finite; equal everywhere else."""
    theirs = _run(False, case)
    if not _close(ours[0], theirs[0], case.dtype) or len(ours[1]) != len(theirs[1]):
        return False
    nan_somewhere = False
    for a, b in zip(ours[1], theirs[1], strict=True):
        nan = torch.isnan(b)
        nan_somewhere |= bool(nan.any())
        if bool(torch.isnan(a[nan]).any()) or not _close(torch.where(nan, 0, a), torch.where(nan, 0, b), case.dtype):
            return False
    return nan_somewhere


def _documented_difference(case: Case, ours) -> str | None:
    """The table rule that predicts losskit's differing value, verified from torch's own numbers."""
    value = ours[0]
    if case.name == "kl_div" and _finite_where_torch_is_nan(case, ours):
        return "finite_gradient"
    if case.reduction != "mean" or value.dim():
        return None
    ref64 = functools.partial(_run, False, case, dtype=torch.float64)
    total = ref64(reduction="sum")[0]
    tol = torch.float32 if case.dtype in (torch.float16, torch.bfloat16) else case.dtype
    theirs = _run(False, case)[0]
    if torch.isnan(theirs) and value.item() == 0 and total.item() == 0:
        return "zero_items"
    x = case.input
    if case.name == "kl_div":
        count = 1 if x.dim() <= 1 else x.numel() // x.shape[1]
        if _close(value, total / max(count, 1), tol):
            return "kl_mean"
    w = case.weight
    if w is not None and case.name in ("huber_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
                                       "cross_entropy"):
        w64 = w.detach().double()
        target = case.args[0]
        if case.name == "cross_entropy":
            if not target.is_floating_point():
                return None
            view = w64.reshape((1, -1) + (1,) * (x.dim() - 2)) if x.dim() > 1 else w64
            den = (target.detach().double() * view).sum()
        else:
            den = w64.expand(x.shape).sum()
        if den.item() and _close(value, total / den, tol):
            return "weighted_mean"
    return None


def _refusal_rule(case: Case, message: str) -> str | None:
    if "does not broadcast" in message or ("broadcast" in message and "shape" in message):
        shapes = [t.shape for t in (case.input, *case.args) if isinstance(t, torch.Tensor) and t.is_floating_point()]
        try:
            adds_terms = torch.broadcast_shapes(*shapes) != case.input.shape
        except RuntimeError:
            adds_terms = True
        return "broadcast" if adds_terms else None
    checks = ("negative value", "outside [0, 1]", "sums to", "log-probability", "non-finite", "must be > 0")
    return "value_checks" if any(c in message for c in checks) else None


def _valid_copy(case: Case, message: str) -> Case | None:
    """The case with the data the value check named made valid, or None if it cannot be repaired."""
    name = message.split(" ", 1)[0]
    dim = _class_dim(case.input)
    kwargs = dict(case.kwargs)
    args = list(case.args)
    if "non-finite" in message:  # the named NaN/inf argument, by its place in torch's signature, made finite
        def finite(t: torch.Tensor) -> torch.Tensor:
            return torch.nan_to_num(t.detach(), nan=0.0, posinf=10.0, neginf=-10.0).requires_grad_(t.requires_grad)

        params = list(inspect.signature(getattr(F, case.name)).parameters)
        if name == params[0]:
            return replace(case, input=finite(case.input))
        if name in params and 0 < params.index(name) <= len(args):
            args[params.index(name) - 1] = finite(args[params.index(name) - 1])
            return replace(case, args=tuple(args))
        if isinstance(kwargs.get(name), torch.Tensor):
            kwargs[name] = finite(kwargs[name])
            return replace(case, kwargs=kwargs)
    if name in ("weight", "pos_weight") and "negative" in message and name in kwargs:
        kwargs[name] = kwargs[name].detach().abs().requires_grad_(kwargs[name].requires_grad)
        return replace(case, kwargs=kwargs)
    if name == "target" and args and isinstance(args[0], torch.Tensor) and args[0].is_floating_point():
        t = args[0].detach()
        if case.name in ("binary_cross_entropy", "binary_cross_entropy_with_logits"):
            t = t.clamp(0, 1)
        elif case.kwargs.get("log_target"):
            t = torch.log_softmax(t.double(), dim).to(t.dtype)
        else:
            t = t.double().abs()
            t = (t / t.sum(dim, keepdim=True)).to(args[0].dtype)
        args[0] = t.requires_grad_(args[0].requires_grad)
        return replace(case, args=tuple(args))
    if name == "input" and case.name in ("nll_loss", "kl_div"):
        x = torch.log_softmax(case.input.detach().double(), dim).to(case.input.dtype)
        return replace(case, input=x.requires_grad_(case.input.requires_grad))
    return None


def classify(case: Case, depth: int = 0) -> list[tuple[str, str]]:
    """[(kind, outcome)] for the case (kind "as called" or "valid copy"), repairs included."""
    kind = "valid copy" if depth else "as called"
    try:
        _run(False, case)
    except Exception:
        return [(kind, "torch_refuses")]
    try:
        ours = _run(True, case)
    except LossInputError as e:
        rule = _refusal_rule(case, str(e))
        if rule is None:
            return [(kind, f"FAIL unexpected refusal: {e}")]
        out = [(kind, rule)]
        if rule == "value_checks":
            copy = _valid_copy(case, str(e))
            if copy is None:
                return [(kind, f"FAIL no valid copy for: {e}")]
            if depth >= 3:
                return [(kind, f"FAIL still refused after {depth + 1} repairs: {e}")]
            return out + classify(copy, depth + 1)
        return out
    except Exception as e:
        return [(kind, f"FAIL error {type(e).__name__}: {e}")]
    if _matches_torch(case, ours):
        return [(kind, "pass")]
    rule = _documented_difference(case, ours)
    return [(kind, rule if rule is not None else "FAIL silent difference")]


# ------------------------------------------------------------------ the generators


def _op_cases() -> list[Case]:
    from torch.testing._internal.common_methods_invocations import op_db

    cases = []
    for op in op_db:
        name = op.name.removeprefix("nn.functional.")
        if not op.name.startswith("nn.functional.") or name not in NAMES or op.variant_test_name:
            continue
        for dtype in DTYPES:
            if dtype not in op.dtypes:
                continue
            samples = [("sample_inputs", s) for s in op.sample_inputs("cpu", dtype, requires_grad=True)]
            if op.reference_inputs_func is not None:
                samples += [("reference_inputs", s) for s in op.reference_inputs("cpu", dtype, requires_grad=True)]
            for where, s in samples:
                for form in ("functional", "module"):
                    cases.append(Case(f"op_db.{where}", name, form, dtype, s.input, tuple(s.args), dict(s.kwargs)))
    return cases


def _module_cases() -> list[Case]:
    from torch.testing._internal.common_modules import module_db

    cases = []
    for info in module_db:
        name = FUNCTION_OF.get(info.module_cls.__name__)
        if name is None:
            continue
        for dtype in DTYPES:
            if dtype not in info.dtypes:
                continue
            for mi in info.module_inputs_func(info, device="cpu", dtype=dtype, requires_grad=True, training=True):
                c, f = mi.constructor_input, mi.forward_input
                if f is None or len(f.args) < 2:
                    continue
                cases.append(Case("module_db", name, "module", dtype, f.args[0], tuple(f.args[1:]), dict(c.kwargs),
                                  tuple(c.args), dict(f.kwargs)))
    return cases


def _criterion_cases() -> list[Case]:
    from torch.testing._internal.common_nn import criterion_tests

    cases = []
    torch.manual_seed(0)
    for t in criterion_tests:
        ctor = t.get("constructor")
        cls = ctor.func if isinstance(ctor, functools.partial) else ctor
        name = FUNCTION_OF.get(getattr(cls, "__name__", ""))
        if name is None:
            continue
        kwargs = dict(ctor.keywords) if isinstance(ctor, functools.partial) else {}
        args = tuple(ctor.args) if isinstance(ctor, functools.partial) else tuple(t.get("constructor_args", ()))
        x = t["input_fn"]() if "input_fn" in t else torch.randn(t["input_size"], dtype=torch.float64)
        y = t["target_fn"]() if "target_fn" in t else torch.randn(t["target_size"], dtype=torch.float64)
        for dtype in DTYPES:
            xi = x.detach().to(dtype).requires_grad_()
            yi = y.to(dtype) if y.is_floating_point() else y
            cases.append(Case("criterion_tests", name, "module", dtype, xi, (yi,), _as(kwargs, dtype), args))
    return cases


@functools.cache
def _results() -> tuple[Counter, list[str], Counter]:
    """(counts per (kind, outcome), failure lines, counts per (loss, outcome as called))."""
    counts: Counter = Counter()
    per_loss: Counter = Counter()
    failures = []
    for gather in (_op_cases, _module_cases, _criterion_cases):
        for case in gather():
            chain = classify(case)
            per_loss[(case.name, "FAIL" if chain[0][1].startswith("FAIL") else chain[0][1])] += 1
            if chain[-1][1] == "value_checks":  # a chain of repairs must end in a comparison
                chain[-1] = (chain[-1][0], "FAIL the valid copy is still refused")
            for kind, outcome in chain:
                counts[(kind, outcome if not outcome.startswith("FAIL") else "FAIL")] += 1
                if outcome.startswith("FAIL"):
                    failures.append(f"{case.source} {case.name} {case.form} {case.dtype} "
                                    f"reduction={case.reduction}: {outcome[:300]}")
    return counts, failures, per_loss


def _per_loss_report(per_loss: Counter) -> str:
    names = sorted({n for n, _ in per_loss})
    lines = ["per loss, as called: pass / cases (the rest by rule)"]
    for name in names:
        total = sum(v for (n, o), v in per_loss.items() if n == name and o != "torch_refuses")
        rules = ", ".join(f"{o} {v}" for (n, o), v in sorted(per_loss.items())
                          if n == name and o not in ("pass", "torch_refuses"))
        lines.append(f"  {name:>28}: {per_loss.get((name, 'pass'), 0)} / {total}" + (f"  ({rules})" if rules else ""))
    return "\n".join(lines)


def _report(counts: Counter) -> str:
    lines = []
    for kind in ("as called", "valid copy"):
        total = sum(v for (k, o), v in counts.items() if k == kind and o != "torch_refuses")
        if not total:
            continue
        lines.append(f"{kind}: {total} cases")
        for outcome in ("pass", *RULES, "FAIL", "torch_refuses"):
            n = counts.get((kind, outcome), 0)
            if n or outcome in ("pass", "FAIL"):
                share = f" ({100 * n / total:.1f}%)" if outcome != "torch_refuses" else " (not counted)"
                lines.append(f"  {outcome:>14}: {n}{share}")
    return "\n".join(lines)


def test_torch_samples_pass_or_follow_a_documented_rule(capsys) -> None:
    counts, failures, per_loss = _results()
    report = _report(counts)
    with capsys.disabled():
        print(f"\ntorch parity (losses: {', '.join(NAMES)})\n{report}\n{_per_loss_report(per_loss)}")
    assert not failures, f"{len(failures)} case(s) outside the table:\n" + "\n".join(failures[:40]) + "\n" + report
    as_called = sum(v for (k, o), v in counts.items() if k == "as called" and o != "torch_refuses")
    assert as_called > 1000, report  # the generators really ran
    assert counts.get(("valid copy", "pass"), 0) > 0, report


def test_pass_rate_target(capsys) -> None:
    """Issue 9's target: at least 97% of the cases pass as called (the rest follow a table rule)."""
    counts, _, per_loss = _results()
    as_called = sum(v for (k, o), v in counts.items() if k == "as called" and o != "torch_refuses")
    passed = counts.get(("as called", "pass"), 0)
    rate = passed / as_called
    with capsys.disabled():
        print(f"\ntorch parity: {passed} of {as_called} pass as called ({100 * rate:.1f}%)")
    assert rate >= 0.97, (f"{100 * rate:.1f}% pass as called (target 97%)\n{_report(counts)}\n"
                          f"{_per_loss_report(per_loss)}")
    # no loss may hide its refusals behind the others' counts: value checks refuse at most 15% of any one
    # loss's cases as called (torch's reference inputs feed NaN and inf on purpose: kl_div 13%)
    for name in {n for n, _ in per_loss}:
        total = sum(v for (n, o), v in per_loss.items() if n == name and o != "torch_refuses")
        assert per_loss.get((name, "value_checks"), 0) <= 0.15 * total, _per_loss_report(per_loss)
