"""One uniform test matrix over every registered loss (Keras-style).

Parametrised over ``losskit.available_losses()`` at collection time, so a loss
registered later joins every test here automatically. Inputs are built from
``loss_info(name).task`` alone:

* ``regression``: float ``(N, D)`` predictions and targets;
* ``classification``: logits ``(N, C)`` and ``(N, C, d)`` with int64 class-index
  targets; probability targets (shaped like the logits) only for a loss that
  has a ``target_kind`` option and no ``ignore_index`` option, i.e. one whose
  targets are distributions, such as ``kl_div``;
* ``multilabel``: logits ``(N, C)`` and float targets in [0, 1] of the same shape.

* ``segmentation``: logits ``(N, C, S, S)`` with int64 class-index maps ``(N, S, S)``;
* ``probabilistic_regression``: means and targets ``(N, D)`` and a variance or scale
  in [0.5, 1.5) when the loss takes one (``poisson_nll``: counts as targets);
* ``metric_learning`` and ``ranking``: the tensors the loss names
  (``LossInfo.inputs``): embeddings with labels (each anchor with one positive),
  triplets, pairs with labels in {-1, 1}.

A loss may take more than two tensors (``gaussian_nll(input, target, var)``);
``Batch.inputs`` holds them in order. A new loss must accept the core keywords
``reduction``, ``sample_weight``, ``num_items`` and ``validate``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
import torch
from torch.autograd import gradcheck

import losskit
from losskit import LossInputError, registry
from losskit import nn as lnn
from losskit.nn import FunctionalLoss

N, D_FEATURES, C, SPATIAL = 4, 3, 3, 2
REDUCTIONS = ["mean", "sum", "none", "per_sample"]
NAMES = losskit.available_losses()


@dataclass(frozen=True)
class Batch:
    """Valid tensors for one loss (``input, target`` first), and the shape its ``"none"`` reduction returns."""

    inputs: tuple[torch.Tensor, ...]
    none_shape: tuple[int, ...]
    names: tuple[str, ...] = ("input", "target")

    @property
    def input(self) -> torch.Tensor:
        return self.inputs[0]

    @property
    def target(self) -> torch.Tensor:
        return self.inputs[1]

    def astype(self, dtype: torch.dtype) -> Batch:
        return replace(self, inputs=tuple(t.to(dtype) if t.is_floating_point() else t for t in self.inputs))

    def with_input(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The tensors with the first one replaced (by a leaf that requires grad)."""
        return (x, *self.inputs[1:])

    def differentiable(self) -> list[int]:
        """Positions of the float tensors a model would predict (not targets or labels)."""
        return [i for i, (n, t) in enumerate(zip(self.names, self.inputs, strict=True))
                if t.is_floating_point() and n not in ("target", "labels")]


# tensors whose gradient is deliberately not the derivative of the value (beta-NLL stops the gradient
# through its var**beta weight; tests/functional/test_probabilistic.py checks that gradient)
_STOP_GRADIENT = {("beta_nll", "var")}
# per-sample ("none" gives (N,)) multilabel losses; the others give (N, C)
_PER_SAMPLE_MULTILABEL = {"multilabel_soft_margin", "multilabel_margin"}


def _layouts(name: str) -> list[str]:
    return ["flat", "spatial"] if losskit.loss_info(name).task == "classification" else ["flat"]


CASES = [pytest.param(name, layout, id=f"{name}-{layout}") for name in NAMES for layout in _layouts(name)]


def _signs(shape: tuple[int, ...], gen: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    return torch.randint(0, 2, shape, generator=gen).to(dtype) * 2 - 1


def _family_batch(name: str, n: int, dtype: torch.dtype, gen: torch.Generator) -> Batch:
    """Inputs of the family tasks (segmentation, probabilistic regression, metric learning, ranking)."""
    info = losskit.loss_info(name)
    names = info.inputs

    def randn(*shape: int, scale: float = 1.0) -> torch.Tensor:
        return torch.randn(shape, generator=gen, dtype=dtype) * scale

    if info.task == "segmentation":
        x = randn(n, C, SPATIAL, SPATIAL, scale=2.0)
        return Batch((x, torch.randint(0, C, (n, SPATIAL, SPATIAL), generator=gen)), (n,), names)
    if info.task == "probabilistic_regression":
        x = randn(n, D_FEATURES, scale=2.0)
        if "log_input" in info.options:  # poisson: counts against log-rates
            y = torch.randint(0, 5, (n, D_FEATURES), generator=gen).to(dtype)
        else:
            y = randn(n, D_FEATURES)
        spread = [torch.rand(n, D_FEATURES, generator=gen, dtype=dtype) + 0.5 for _ in names[2:]]
        return Batch((x, y, *spread), (n, D_FEATURES), names)
    if names == ("embeddings", "labels"):
        labels = torch.arange(n) % max(n // 2, 1)  # each anchor has one positive when n is even
        return Batch((randn(n, D_FEATURES), labels), (n,), names)
    if names == ("anchor", "positive", "negative"):
        return Batch(tuple(randn(n, D_FEATURES) for _ in range(3)), (n,), names)
    if names == ("input1", "input2", "target"):
        if info.task == "ranking":
            return Batch((randn(n, scale=2.0), randn(n, scale=2.0), _signs((n,), gen, dtype)), (n,), names)
        return Batch((randn(n, D_FEATURES), randn(n, D_FEATURES), _signs((n,), gen, dtype)), (n,), names)
    # elementwise against labels in {-1, 1}: hinge_embedding (distances), soft_margin (scores)
    return Batch((randn(n, D_FEATURES, scale=2.0), _signs((n, D_FEATURES), gen, dtype)), (n, D_FEATURES), names)


def make_batch(
    name: str, layout: str = "flat", *, n: int = N, dtype: torch.dtype = torch.float64, seed: int = 0
) -> Batch:
    """Inputs for ``name`` from its task alone (see the module docstring)."""
    gen = torch.Generator().manual_seed(seed)
    info = losskit.loss_info(name)
    if info.task == "regression":
        x = torch.randn(n, D_FEATURES, generator=gen, dtype=dtype) * 2
        return Batch((x, torch.randn(n, D_FEATURES, generator=gen, dtype=dtype)), (n, D_FEATURES))
    if info.task == "multilabel":
        x = torch.randn(n, C, generator=gen, dtype=dtype) * 2
        none = (n,) if name in _PER_SAMPLE_MULTILABEL else (n, C)
        if name == "multilabel_margin":  # torch's format: the positive classes' indices, then -1
            target = torch.tensor([[0, 2, -1], [1, -1, 0], [2, 1, 0], [-1, 0, 0]] * (n // 4 + 1))[:n]
            return Batch((x, target), none)
        return Batch((x, torch.rand(n, C, generator=gen, dtype=dtype)), none)
    if info.task != "classification":
        return _family_batch(name, n, dtype, gen)
    extra = (SPATIAL,) if layout == "spatial" else ()
    x = torch.randn((n, C, *extra), generator=gen, dtype=dtype) * 2
    if "ignore_index" in info.options or "target_kind" not in info.options:
        target = torch.randint(0, C, (n, *extra), generator=gen)
    else:
        target = torch.softmax(torch.randn((n, C, *extra), generator=gen, dtype=dtype), 1)
    return Batch((x, target), (n, *extra))


def _call(name: str, batch: Batch, **kw) -> torch.Tensor:
    return losskit.loss_info(name).function(*batch.inputs, **kw)


def _check_close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    torch.testing.assert_close(actual, expected, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ registry entry


@pytest.mark.parametrize("name", NAMES)
def test_registry_entry_is_complete(name: str) -> None:
    info = losskit.loss_info(name)
    assert info.name == name and info.task in registry.TASKS
    assert info.summary.strip() and "\n" not in info.summary
    assert issubclass(info.module, FunctionalLoss) and info.function is info.module.function
    assert info.options["reduction"] == "mean"
    assert {"reduction", "sample_weight", "num_items", "validate"} <= set(info.options)
    assert (info.function.__doc__ or "").strip(), "every loss documents its formula"


# ------------------------------------------------------------------ reductions


@pytest.mark.parametrize(("name", "layout"), CASES)
def test_reduction_shapes_and_relations(name: str, layout: str) -> None:
    b = make_batch(name, layout)
    out = {r: _call(name, b, reduction=r) for r in REDUCTIONS}
    assert out["none"].shape == b.none_shape
    assert out["per_sample"].shape == (N,)
    assert out["mean"].shape == () and out["sum"].shape == ()
    _check_close(out["sum"], out["none"].sum())
    _check_close(out["mean"], out["none"].mean())
    _check_close(out["per_sample"], out["none"].reshape(N, -1).mean(1))
    _check_close(out["per_sample"].mean(), out["mean"])


@pytest.mark.parametrize(("name", "layout"), CASES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_module_equals_functional(name: str, layout: str, reduction: str) -> None:
    b = make_batch(name, layout)
    module = losskit.get_loss(name, reduction=reduction)
    _check_close(module(*b.inputs), _call(name, b, reduction=reduction))
    _check_close(losskit.get_loss(name)(*b.inputs, reduction=reduction), _call(name, b, reduction=reduction))


# ------------------------------------------------------------------ sample weights


@pytest.mark.parametrize(("name", "layout"), CASES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_all_ones_sample_weight_is_unweighted(name: str, layout: str, reduction: str) -> None:
    b = make_batch(name, layout)
    ones = torch.ones(N, dtype=torch.float64)
    _check_close(_call(name, b, reduction=reduction, sample_weight=ones), _call(name, b, reduction=reduction))


@pytest.mark.parametrize(("name", "layout"), CASES)
def test_sample_weighted_reductions_from_per_sample(name: str, layout: str) -> None:
    b = make_batch(name, layout)
    s = torch.tensor([0.5, 2.0, 0.0, 1.25], dtype=torch.float64)
    per = _call(name, b, reduction="per_sample")
    per_sum = _call(name, b, reduction="none").reshape(N, -1).sum(1)
    _check_close(_call(name, b, sample_weight=s), (s * per).sum() / s.sum())
    _check_close(_call(name, b, reduction="sum", sample_weight=s), (s * per_sum).sum())
    _check_close(_call(name, b, reduction="per_sample", sample_weight=s), s * per)


@pytest.mark.parametrize(("name", "layout"), CASES)
def test_zero_sample_weights_give_zero_with_zero_gradients(name: str, layout: str) -> None:
    b = make_batch(name, layout)
    x = b.input.clone().requires_grad_()
    loss = losskit.loss_info(name).function(*b.with_input(x), sample_weight=torch.zeros(N, dtype=torch.float64))
    loss.backward()
    assert loss.item() == 0.0
    assert torch.isfinite(x.grad).all() and (x.grad == 0).all()


@pytest.mark.parametrize(("name", "layout"), CASES)
def test_empty_batch(name: str, layout: str) -> None:
    b = make_batch(name, layout, n=0)
    x = b.input.clone().requires_grad_()
    loss = losskit.loss_info(name).function(*b.with_input(x))
    loss.backward()
    assert loss.item() == 0.0 and not torch.isnan(loss)
    assert x.grad is not None and x.grad.shape == x.shape
    assert _call(name, b, reduction="sum").item() == 0.0
    assert _call(name, b, reduction="per_sample").shape == (0,)
    assert _call(name, b, reduction="none").shape == b.none_shape


# ------------------------------------------------------------------ dtypes and autograd


@pytest.mark.parametrize(("name", "layout"), CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16], ids=str)
def test_dtypes(name: str, layout: str, dtype: torch.dtype) -> None:
    b = make_batch(name, layout, dtype=torch.float32).astype(dtype)
    x = b.input.clone().requires_grad_()
    loss = losskit.loss_info(name).function(*b.with_input(x))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all() and x.grad.dtype == dtype
    half = dtype in (torch.float16, torch.bfloat16)
    assert loss.dtype == (torch.float32 if half else dtype)
    # computed in (at least) float32: equal to float64 on the same (rounded) inputs; validate=False
    # because a bfloat16-rounded distribution no longer sums to 1 within float64's tolerance
    exact = _call(name, b.astype(torch.float64), validate=False)
    torch.testing.assert_close(loss.double(), exact, rtol=1e-5 if dtype != torch.float64 else 1e-12, atol=1e-6)


@pytest.mark.parametrize(("name", "layout"), CASES)
@pytest.mark.parametrize("reduction", ["mean", "per_sample"])
def test_gradcheck(name: str, layout: str, reduction: str) -> None:
    b = make_batch(name, layout, n=3)
    grads = [i for i in b.differentiable() if (name, b.names[i]) not in _STOP_GRADIENT]
    leaves = tuple(b.inputs[i].clone().requires_grad_() for i in grads)

    def fn(*xs: torch.Tensor) -> torch.Tensor:
        inputs = list(b.inputs)
        for i, x in zip(grads, xs, strict=True):
            inputs[i] = x
        return losskit.loss_info(name).function(*inputs, reduction=reduction)

    assert gradcheck(fn, leaves)


@pytest.mark.parametrize(("name", "layout"), CASES)
def test_inputs_are_never_modified(name: str, layout: str) -> None:
    b = make_batch(name, layout, dtype=torch.float32)
    x = b.input.clone().requires_grad_()
    s = torch.rand(N)
    tensors = {**dict(zip(b.names, b.with_input(x), strict=True)), "sample_weight": s}
    before = {k: (t.detach().clone(), t._version) for k, t in tensors.items()}
    for reduction in REDUCTIONS:
        losskit.loss_info(name).function(*b.with_input(x), reduction=reduction, sample_weight=s).sum().backward()
    for k, t in tensors.items():
        assert torch.equal(t.detach(), before[k][0]), f"{k} values changed"
        assert t._version == before[k][1], f"{k} modified in place"


@pytest.mark.parametrize("name", NAMES)
def test_under_cpu_autocast_bfloat16(name: str) -> None:
    b = make_batch(name, dtype=torch.float32)
    torch.manual_seed(0)
    model = torch.nn.Linear(5, b.input[0].numel())
    features = torch.randn(N, 5)
    loss_fn = losskit.get_loss(name)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        pred = model(features).reshape(b.input.shape)
        assert pred.dtype == torch.bfloat16
        loss = loss_fn(*b.with_input(pred))
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


# ------------------------------------------------------------------ bad input shared by every loss of a task


def _wrong_shape_target(b: Batch) -> torch.Tensor:
    """(N, 1) class indices against (N, C) scores; otherwise a target one column short."""
    if not b.target.is_floating_point():
        return b.target.unsqueeze(-1)
    return b.target[..., :-1]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("validate", [None, False])
def test_shape_mismatch_always_raises(name: str, validate: bool | None) -> None:
    b = make_batch(name)
    bad = _wrong_shape_target(b)
    with pytest.raises(LossInputError) as e:
        losskit.loss_info(name).function(b.input, bad, *b.inputs[2:], validate=validate)
    assert str(tuple(b.input.shape)) in str(e.value) and str(tuple(bad.shape)) in str(e.value)


@pytest.mark.parametrize("name", [n for n in NAMES if losskit.loss_info(n).task == "regression"])
def test_regression_n1_against_n(name: str) -> None:
    with pytest.raises(LossInputError, match=r"\(4, 1\).*\(4,\).*squeeze\(-1\)"):
        losskit.get_loss(name)(torch.zeros(4, 1), torch.zeros(4))


@pytest.mark.parametrize("name", NAMES)
def test_nan_input_raises_unless_validation_is_off(name: str) -> None:
    b = make_batch(name)
    x = b.input.clone()
    x.view(-1)[x.numel() // N] = float("nan")  # one value of sample 1
    with pytest.raises(LossInputError, match=rf"{b.names[0]} holds 1 non-finite value\(s\)"):
        losskit.loss_info(name).function(*b.with_input(x))
    assert torch.isnan(losskit.loss_info(name).function(*b.with_input(x), validate=False))


@pytest.mark.parametrize("name", NAMES)
def test_unknown_reduction(name: str) -> None:
    b = make_batch(name)
    with pytest.raises(LossInputError, match=r"reduction='batchmean' is not supported.*'per_sample'"):
        _call(name, b, reduction="batchmean")
    with pytest.raises(LossInputError, match="reduction='avg'"):
        losskit.get_loss(name, reduction="avg")(*b.inputs)


@pytest.mark.parametrize("name", NAMES)
def test_sample_weight_of_wrong_length(name: str) -> None:
    b = make_batch(name)
    with pytest.raises(LossInputError, match=rf"sample_weight has shape \({N + 1},\) but must have shape \({N},\)"):
        _call(name, b, sample_weight=torch.ones(N + 1))


@pytest.mark.parametrize(("name", "layout"), CASES)
def test_per_sample_gradients_with_torch_func(name: str, layout: str) -> None:
    """torch.func.vmap(grad) over samples (validate=False, as for torch.compile) equals autograd per sample."""
    b = make_batch(name, layout)
    fn = losskit.loss_info(name).function

    def one(x: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        return fn(x.unsqueeze(0), *(t.unsqueeze(0) for t in rest), validate=False)

    got = torch.func.vmap(torch.func.grad(one))(*b.inputs)
    x = b.input.clone().requires_grad_()
    expected = torch.stack([torch.autograd.grad(one(x[i], *(t[i] for t in b.inputs[1:])), x)[0][i]
                            for i in range(N)])
    _check_close(got, expected)


@pytest.mark.parametrize("name", NAMES)
def test_compiles_with_fullgraph(name: str) -> None:
    """Value checks switch themselves off while compiling, so the default call traces without graph breaks."""
    b = make_batch(name, dtype=torch.float32)
    fn = losskit.loss_info(name).function
    torch._dynamo.reset()  # one code object compiled per loss: stay under dynamo's recompile limit
    compiled = torch.compile(lambda *xs: fn(*xs, reduction="per_sample"), fullgraph=True, backend="eager")
    torch.testing.assert_close(compiled(*b.inputs), fn(*b.inputs, reduction="per_sample"))


def test_the_matrix_runs_a_multilabel_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    """No core loss is multilabel yet: run the matrix on a stand-in (MSE of logits against [0, 1] targets)."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_ALIASES", dict(registry._ALIASES))
    name = "multilabel_stand_in"
    losskit.register(name, "multilabel", lnn.MSELoss, "Stand-in multilabel loss (test only).")
    b = make_batch(name)
    assert b.input.shape == b.target.shape == b.none_shape == (N, C)
    assert ((b.target >= 0) & (b.target <= 1)).all()
    test_registry_entry_is_complete(name)
    test_reduction_shapes_and_relations(name, "flat")
    test_sample_weighted_reductions_from_per_sample(name, "flat")
    test_zero_sample_weights_give_zero_with_zero_gradients(name, "flat")
    test_empty_batch(name, "flat")
    test_inputs_are_never_modified(name, "flat")
    test_under_cpu_autocast_bfloat16(name)
    test_nan_input_raises_unless_validation_is_off(name)
    test_unknown_reduction(name)
    test_sample_weight_of_wrong_length(name)
    for reduction in REDUCTIONS:
        test_module_equals_functional(name, "flat", reduction)
        test_all_ones_sample_weight_is_unweighted(name, "flat", reduction)
    for dtype in (torch.float16, torch.bfloat16):
        test_dtypes(name, "flat", dtype)
    test_shape_mismatch_always_raises(name, None)
    test_per_sample_gradients_with_torch_func(name, "flat")
