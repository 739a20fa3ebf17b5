"""The fused one-pass elementwise losses equal the plain path (the reference), values and gradients."""

from __future__ import annotations

import math

import mpmath
import pytest
import torch

import losskit.functional as LF
from losskit import LossInputError
from losskit.functional._prep import FUSED_MIN_NUMEL
from losskit.functional.fused import _native, elementwise, fused_elementwise, set_fused_elementwise

pytestmark = pytest.mark.skipif(_native.library() is None, reason="no C compiler: the fused kernels are unavailable")

LOSSES = {
    "mse": (LF.mse_loss, {}),
    "l1": (LF.l1_loss, {}),
    "huber": (LF.huber_loss, {"delta": 0.7}),
    "smooth_l1": (LF.smooth_l1_loss, {"beta": 0.6}),  # huber / beta in the kernel
    "log_cosh": (LF.log_cosh_loss, {}),
}


def _residual_grid(dtype: torch.dtype) -> torch.Tensor:
    """Residuals covering every branch: 0, tiny, the huber threshold, log-cosh's switch at 1, far out."""
    special = [0.0, 1e-20, -1e-7, 1e-4, 0.3, -0.7, 0.7, 0.9999, 1.0, -1.0, 1.0001, 3.0, -20.0, 44.0, 88.0, -100.0, 1e4]
    torch.manual_seed(0)
    rand = torch.randn(200, dtype=dtype) * 3
    return torch.cat([torch.tensor(special, dtype=dtype), rand])


def _inputs(dtype: torch.dtype, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    r = _residual_grid(dtype) if n is None else torch.randn(n, dtype=dtype) * 3
    y = torch.randn_like(r)
    return r + y, y


def _run(fn, kwargs, x, y, mode, **call):
    x = x.detach().clone().requires_grad_()
    with fused_elementwise(mode):
        out = fn(x, y, **kwargs, **call)
    fused = "Fused" in type(out.grad_fn).__name__
    (out.sum() if out.dim() else out).backward()  # "none": a gradient of ones, which the kernel's buffer answers
    return out.detach(), x.grad, fused


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("validate", [True, False])
def test_fused_equals_plain(name, reduction, dtype, validate):
    fn, kwargs = LOSSES[name]
    x, y = _inputs(dtype)
    v_ref, g_ref, fused_ref = _run(fn, kwargs, x, y, "never", reduction=reduction, validate=validate)
    v, g, fused = _run(fn, kwargs, x, y, "always", reduction=reduction, validate=validate)
    assert fused and not fused_ref
    rtol = 1e-12 if dtype == torch.float64 else 2e-6
    torch.testing.assert_close(v, v_ref, rtol=rtol, atol=0)
    torch.testing.assert_close(g, g_ref, rtol=rtol, atol=1e-30)
    assert g.dtype == dtype and v.dtype == dtype


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_fused_equals_plain_multithreaded_blocks(name, reduction):
    # large enough for several kernel blocks per thread (the OpenMP path), odd length for the tail
    fn, kwargs = LOSSES[name]
    x, y = _inputs(torch.float32, n=300_001)
    v_ref, g_ref, _ = _run(fn, kwargs, x, y, "never", reduction=reduction)
    v, g, fused = _run(fn, kwargs, x, y, "always", reduction=reduction)
    assert fused
    torch.testing.assert_close(v, v_ref, rtol=2e-6, atol=0)
    torch.testing.assert_close(g, g_ref, rtol=2e-6, atol=1e-30)


@pytest.mark.parametrize("num_items", [5, 123.5, torch.tensor(40.0), 0])
def test_num_items_mean_fused(num_items):
    x, y = _inputs(torch.float64)
    v_ref, g_ref, _ = _run(LF.huber_loss, {}, x, y, "never", num_items=num_items)
    v, g, fused = _run(LF.huber_loss, {}, x, y, "always", num_items=num_items)
    assert fused
    torch.testing.assert_close(v, v_ref, rtol=1e-12, atol=0)
    torch.testing.assert_close(g, g_ref, rtol=1e-12, atol=0)
    if not isinstance(num_items, torch.Tensor) and num_items == 0:
        assert v.item() == 0.0 and not g.any()


def test_grad_output_scaling_and_target_grad():
    x, y = _inputs(torch.float64)
    grads = []
    for mode in ("never", "always"):
        a = x.clone().requires_grad_()
        b = y.clone().requires_grad_()
        with fused_elementwise(mode):
            total = 3.0 * LF.log_cosh_loss(a, b) - 0.5 * LF.mse_loss(a, b, reduction="sum")
        total.backward()
        grads.append((a.grad, b.grad))
    torch.testing.assert_close(grads[1][0], grads[0][0], rtol=1e-12, atol=0)
    torch.testing.assert_close(grads[1][1], grads[0][1], rtol=1e-12, atol=0)


def test_second_backward_recomputes():
    x, y = _inputs(torch.float64)
    x.requires_grad_()
    with fused_elementwise("always"):
        out = LF.l1_loss(x, y)
    out.backward(retain_graph=True)
    first = x.grad.clone()
    out.backward()
    torch.testing.assert_close(x.grad, 2 * first, rtol=0, atol=0)


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_double_backward_through_the_fused_path_equals_plain(name, reduction):
    """create_graph=True (Hessians, MAML, gradient penalties): the fused backward must itself be
    differentiable; a gradient buffer without a graph would silently give second derivatives of 0."""
    fn, kwargs = LOSSES[name]
    x, y = _inputs(torch.float64)
    x = (x + 0.05).requires_grad_()  # keep residuals off l1's and huber's kinks
    hessian_diagonals = []
    for mode in ("always", "never"):
        with fused_elementwise(mode):
            out = fn(x, y, reduction=reduction, **kwargs)
        assert ("Fused" in type(out.grad_fn).__name__) == (mode == "always")
        (g,) = torch.autograd.grad(out.sum() if out.dim() else out, x, create_graph=True)
        (h,) = torch.autograd.grad(g.sum(), x, allow_unused=True)
        hessian_diagonals.append(torch.zeros_like(x) if h is None else h)
    torch.testing.assert_close(hessian_diagonals[0], hessian_diagonals[1], rtol=1e-12, atol=1e-15)
    with fused_elementwise("always"):
        assert torch.autograd.gradgradcheck(lambda a: fn(a, y, reduction=reduction, **kwargs).sum(), (x,))


def test_gradient_buffer_is_handed_over_without_copy(monkeypatch):
    made = []
    original = _native.empty_hugepage

    def recording(shape, dtype):
        t = original(shape, dtype)
        made.append(t.data_ptr())
        return t

    monkeypatch.setattr(_native, "empty_hugepage", recording)
    x, y = _inputs(torch.float32)
    x.requires_grad_()
    with fused_elementwise("always"):
        LF.mse_loss(x, y).backward()
    assert made and x.grad.data_ptr() == made[0]


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite(name, bad):
    fn, kwargs = LOSSES[name]
    x, y = _inputs(torch.float32)
    x[3] = bad
    for reduction in ("mean", "none"):
        # validation on: the same error as the plain path
        for mode in ("never", "always"):
            with fused_elementwise(mode), pytest.raises(LossInputError, match="input holds 1 non-finite"):
                fn(x.clone().requires_grad_(), y, reduction=reduction, **kwargs)
        # validation off: NaN/inf propagate exactly as in the plain path
        v_ref, g_ref, _ = _run(fn, kwargs, x, y, "never", validate=False, reduction=reduction)
        v, g, fused = _run(fn, kwargs, x, y, "always", validate=False, reduction=reduction)
        assert fused
        torch.testing.assert_close(v, v_ref, equal_nan=True)
        torch.testing.assert_close(g, g_ref, rtol=2e-6, atol=1e-30, equal_nan=True)


@pytest.mark.parametrize("name", list(LOSSES))
def test_none_with_any_incoming_gradient_target_gradient_and_a_second_backward(name):
    """The unreduced kernel's buffer is the gradient only for an incoming gradient of ones; any other is
    multiplied in, the target's gradient is its negative, and a retained graph recomputes it."""
    fn, kwargs = LOSSES[name]
    x, y = _inputs(torch.float64)
    w = torch.rand_like(x)
    grads = {}
    for mode in ("always", "never"):
        a, b = x.clone().requires_grad_(), y.clone().requires_grad_()
        with fused_elementwise(mode):
            out = fn(a, b, reduction="none", **kwargs)
        assert ("Fused" in type(out.grad_fn).__name__) == (mode == "always")
        (out * w).sum().backward(retain_graph=True)
        first = (a.grad.clone(), b.grad.clone())
        out.sum().backward()  # a second backward, with ones: accumulates
        grads[mode] = (*first, a.grad, b.grad)
    for got, ref in zip(grads["always"], grads["never"], strict=True):
        torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-300)


def test_none_takes_the_kernel_for_losskits_losses_and_torchs_op_under_torchs_names():
    x = torch.randn(FUSED_MIN_NUMEL * 4, requires_grad=True)
    y = torch.randn(FUSED_MIN_NUMEL * 4)
    assert "Fused" in type(LF.log_cosh_loss(x, y, reduction="none").grad_fn).__name__
    assert "Fused" not in type(LF.mse_loss(x, y, reduction="none").grad_fn).__name__
    with fused_elementwise("always"):
        assert "Fused" in type(LF.mse_loss(x, y, reduction="none").grad_fn).__name__


def test_overflowing_finite_inputs_pass_validation():
    x = torch.tensor([3e38, 0.0], requires_grad=True)
    y = torch.tensor([-3e38, 0.0])
    with fused_elementwise("always"):
        out = LF.mse_loss(x, y)
    assert out.item() == math.inf  # a genuine overflow, as in the plain path: no LossInputError


@pytest.mark.parametrize(
    "case",
    ["weight", "sample_weight", "per_sample", "no_grad", "bfloat16", "strided", "mixed_dtype", "empty"],
)
def test_ineligible_calls_use_plain_path(case):
    x, y = _inputs(torch.float32)
    x, y = x[:12].reshape(3, 4), y[:12].reshape(3, 4)
    kwargs: dict = {}
    if case == "weight":
        kwargs["weight"] = torch.rand(3, 4)
    elif case == "sample_weight":
        kwargs["sample_weight"] = torch.rand(3)
    elif case == "per_sample":
        kwargs["reduction"] = case
    elif case == "bfloat16":
        x, y = x.bfloat16(), y.bfloat16()
    elif case == "strided":
        x, y = x.t(), y.t()
    elif case == "mixed_dtype":
        y = y.double()
    elif case == "empty":
        x, y = x[:0], y[:0]
    x = x.detach().requires_grad_(case != "no_grad")
    with fused_elementwise("always"):
        out = LF.mse_loss(x, y, **kwargs)
    assert out.grad_fn is None or "Fused" not in type(out.grad_fn).__name__
    with fused_elementwise("never"):
        ref = LF.mse_loss(x, y, **kwargs)
    torch.testing.assert_close(out, ref, equal_nan=True)


def test_mode_switch():
    with fused_elementwise("auto"):  # whatever LOSSKIT_FUSED says
        assert elementwise.fused_elementwise_mode() == "auto"
        with fused_elementwise("never"):
            assert elementwise.fused_elementwise_mode() == "never"
        assert elementwise.fused_elementwise_mode() == "auto"
        with pytest.raises(LossInputError, match="mode"):
            set_fused_elementwise("sometimes")
        # auto: fused where the kernel exists and wins (from FUSED_MIN_NUMEL elements on), torch's op below
        x, y = _inputs(torch.float32, n=FUSED_MIN_NUMEL)
        assert "Fused" in type(LF.mse_loss(x.requires_grad_(), y).grad_fn).__name__
        x, y = _inputs(torch.float32)
        assert "Fused" not in type(LF.mse_loss(x.requires_grad_(), y).grad_fn).__name__


def test_environment_sets_the_initial_mode(monkeypatch):
    for raw, mode in [("0", "never"), ("1", "always"), ("never", "never"), ("bogus", "auto"), ("", "auto")]:
        monkeypatch.setenv("LOSSKIT_FUSED", raw)
        assert elementwise._initial_mode() == mode


def test_unavailable_kernel_falls_back(monkeypatch):
    monkeypatch.setattr(_native, "_lib", None)
    monkeypatch.setattr(_native, "_info", _native.KernelInfo(error="simulated"))
    x, y = _inputs(torch.float32)
    x.requires_grad_()
    with fused_elementwise("auto"):
        out = LF.mse_loss(x, y)
    assert "Fused" not in type(out.grad_fn).__name__
    with fused_elementwise("always"), pytest.raises(RuntimeError, match="simulated"):
        LF.mse_loss(x, y)
    with fused_elementwise("auto"):  # the "none" kernel's branch: the same rule
        out = LF.log_cosh_loss(x, y, reduction="none")
    assert "Fused" not in type(out.grad_fn).__name__
    with fused_elementwise("always"), pytest.raises(RuntimeError, match="simulated"):
        LF.log_cosh_loss(x, y, reduction="none")


@pytest.mark.parametrize("r", [1e-30, 1e-6, 1e-3, 0.1, 0.5, 0.9, 0.99999, 1.0, 1.5, 2.0, 9.5, 30.0, 87.0, 300.0, 3e38])
def test_float32_log_cosh_kernel_against_mpmath(r):
    # the float32 kernel uses its own polynomial / exp / log1p: check it against exact values
    mpmath.mp.dps = 50
    for sign in (1.0, -1.0):
        x = torch.tensor([sign * r], dtype=torch.float32)
        exact_v = float(mpmath.log(mpmath.cosh(mpmath.mpf(float(x)))))
        exact_g = float(mpmath.tanh(mpmath.mpf(float(x))))
        x.requires_grad_()
        with fused_elementwise("always"):
            out = LF.log_cosh_loss(x, torch.zeros(1), reduction="sum")
        out.backward()
        assert out.item() == pytest.approx(exact_v, rel=4e-7, abs=1e-45)
        assert x.grad.item() == pytest.approx(exact_g, rel=4e-7, abs=1e-45)


def test_sum_is_deterministic_across_thread_counts():
    x, y = _inputs(torch.float32, n=200_003)
    values = []
    threads = torch.get_num_threads()
    try:
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            values.append(_run(LF.log_cosh_loss, {}, x, y, "always")[0].item())
    finally:
        torch.set_num_threads(threads)
    assert values[0] == values[1] == values[2]


def test_torch_compile_traces_the_plain_path():
    # inside torch.compile the fused path steps aside (inductor fuses the plain one itself);
    # fullgraph=True proves nothing of it breaks the graph. The "eager" backend keeps this fast.
    x, y = _inputs(torch.float32)
    compiled = torch.compile(lambda a, b: LF.huber_loss(a, b) + LF.log_cosh_loss(a, b), backend="eager",
                             fullgraph=True)
    a = x.clone().requires_grad_()
    out = compiled(a, y)
    out.backward()
    b = x.clone().requires_grad_()
    with fused_elementwise("always"):
        ref = LF.huber_loss(b, y) + LF.log_cosh_loss(b, y)
    ref.backward()
    torch.testing.assert_close(out, ref, rtol=2e-6, atol=0)
    torch.testing.assert_close(a.grad, b.grad, rtol=2e-6, atol=1e-30)


def test_gradient_buffer_is_fully_written(monkeypatch):
    monkeypatch.setattr(_native, "empty_hugepage", lambda shape, dtype: torch.full(shape, math.nan, dtype=dtype))
    x, y = _inputs(torch.float64, n=100_003)
    v_ref, g_ref, _ = _run(LF.huber_loss, {}, x, y, "never")
    v, g, fused = _run(LF.huber_loss, {}, x, y, "always")
    assert fused and not g.isnan().any()
    torch.testing.assert_close(v, v_ref, rtol=1e-12, atol=0)
    torch.testing.assert_close(g, g_ref, rtol=1e-12, atol=0)
