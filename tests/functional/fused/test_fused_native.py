"""Building, caching and loading the C kernels, and their fallback."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from losskit import _validate as V
from losskit.functional.fused import _native


def test_kernel_info_reports_a_cached_library():
    info = _native.kernel_info()
    if info.path is None:
        pytest.skip(f"no C compiler: {info.error}")
    assert info.path.exists() and info.error is None and info.build_seconds >= 0.0


def test_build_failure_warns_once_and_returns_none(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    monkeypatch.setenv("LOSSKIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_native, "_lib", None)
    monkeypatch.setattr(_native, "_info", None)
    with pytest.warns(RuntimeWarning, match="plain torch path"):
        assert _native.library() is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _native.library() is None  # no second warning
    assert "no-such-compiler" in (_native.kernel_info().error or "")


def test_cache_dir_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("LOSSKIT_CACHE_DIR", str(tmp_path / "sub"))
    assert _native.cache_dir() == tmp_path / "sub"


def test_empty_hugepage_is_a_plain_tensor():
    small = _native.empty_hugepage((3, 4), torch.float64)
    big = _native.empty_hugepage((5 * 2**20,), torch.float32)
    assert small.shape == (3, 4) and small.dtype == torch.float64 and small.is_contiguous()
    big.fill_(2.0)
    assert big.sum().item() == 2.0 * 5 * 2**20


# ------------------------------------------------------------------ all_finite: the riding check's C pass


def _kernels_or_skip() -> None:
    if _native.library() is None:
        pytest.skip(f"no C compiler: {_native.kernel_info().error}")


@pytest.fixture(params=["entry", "python_module", "ctypes"])
def c_pass(request, monkeypatch):
    """``finite_on_host`` reaching the C pass each way it can: the CPython module's one-call entry
    ``finite(t)`` (what ``V.finite_on_host`` is bound to where Python's headers exist), and the Python
    reference ``_finite_on_host`` through the module's ``all_finite_<dtype>`` or through ctypes. Returns
    the lengths the C pass answered (empty: the torch sum answered)."""
    _kernels_or_skip()
    V._load_finite_kernels()  # first: the load rebinds V.finite_on_host, which the routes below replace
    calls: list[int] = []
    if request.param == "entry":
        module = _native._python
        if module is None:
            pytest.skip("no CPython module here (no Python headers): ctypes serves the checks")
        assert V.finite_on_host is module.finite
        declined: list[int] = []

        def fallback(t):
            declined.append(1)
            return V._finite_on_host(t)

        def entry(t):
            before = len(declined)
            verdict = module.finite(t)
            if len(declined) == before:
                calls.append(t.numel())
            return verdict

        module.setup(torch.Tensor, torch.nn.Parameter, torch.float32, torch.float64, fallback, torch.get_num_threads)
        request.addfinalizer(lambda: module.setup(torch.Tensor, torch.nn.Parameter, torch.float32, torch.float64,
                                                  V._finite_on_host, torch.get_num_threads))
        monkeypatch.setattr(V, "finite_on_host", entry)
        return calls
    if request.param == "python_module":
        if _native.kernel_info().python_module is None:
            pytest.skip("no CPython module here (no Python headers): ctypes serves the checks")
        entries = dict(_native._finite)
    else:
        entries = _native._finite_entries(_native.library(), None)

    def spy(fn):
        def call(ptr, n, nthreads):
            calls.append(n)
            return fn(ptr, n, nthreads)

        return call

    monkeypatch.setattr(V, "_finite_kernels", {dtype: spy(fn) for dtype, fn in entries.items()})
    monkeypatch.setattr(V, "finite_on_host", V._finite_on_host)
    return calls


def test_the_python_module_is_built_where_headers_exist():
    import sysconfig
    from pathlib import Path

    _kernels_or_skip()
    headers = Path(sysconfig.get_paths()["include"], "Python.h").exists()
    assert (_native.kernel_info().python_module is not None) == headers
    if headers:
        assert type(_native._finite[torch.float32]).__name__ == "builtin_function_or_method"


def test_the_python_module_refuses_bad_calls():
    _kernels_or_skip()
    if _native.kernel_info().python_module is None:
        pytest.skip("no CPython module here")
    fn = _native._finite[torch.float32]
    with pytest.raises(TypeError, match="takes 3 arguments"):
        fn(0, 1)
    with pytest.raises(ValueError, match="null pointer or a negative length"):
        fn(0, 5, 1)
    with pytest.raises(ValueError, match="null pointer or a negative length"):
        fn(torch.zeros(3).data_ptr(), -1, 1)
    assert fn(0, 0, 1) is True  # an empty tensor's null pointer is fine
    with pytest.raises(TypeError, match="takes 1 argument"):
        _native._python.finite()
    with pytest.raises(TypeError, match="takes 6 arguments"):
        _native._python.setup(torch.Tensor)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n", [1, 3, 64, 65, 32768, 32769, 65541, 2**20 + 3])
def test_the_c_pass_agrees_with_torch_isfinite(c_pass, n, dtype, threads):
    """Every position class (first, each quarter's edge, the tail) and every non-finite kind, at sizes on
    both sides of torch's grain (one thread, or the split into contiguous ranges) and of the 4-way unroll."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        t = torch.randn(n, dtype=dtype, generator=torch.Generator().manual_seed(n)) * 1e3
        assert V.finite_on_host(t) is True
        positions = sorted({0, n // 4, n // 4 - 1, n // 2, 3 * n // 4, n - 1} & set(range(n)))
        for bad in (math.nan, math.inf, -math.inf):
            for i in positions:
                t[i] = bad
                assert V.finite_on_host(t) is False, (bad, i)
                assert bool(torch.isfinite(t).all()) is False
                t[i] = 1.0
        assert V.finite_on_host(t) is True
        assert c_pass == [n] * (2 + 3 * len(positions))  # the C pass answered every call
    finally:
        torch.set_num_threads(previous)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_c_pass_takes_the_extremes_of_the_finite_range(c_pass, dtype):
    info = torch.finfo(dtype)
    t = torch.tensor([info.max, -info.max, info.tiny, info.tiny / 4, -0.0, 0.0] * 20, dtype=dtype)
    assert V.finite_on_host(t) is True  # max * 0 is 0: no overflow, where a sum of these would be inf
    assert V.finite_on_host(torch.empty(0, dtype=dtype)) is True
    assert c_pass == [120, 0]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_0d_tensor_is_read_once(c_pass, request, dtype):
    """A reduced loss's one value: the entry reads it in C (in place of ``.item()``), the reference with ``.item()``."""
    for value, want in ((2.0, True), (-0.0, True), (math.nan, False), (math.inf, False), (-math.inf, False)):
        assert V.finite_on_host(torch.tensor(value, dtype=dtype)) is want
        assert V.finite_on_host(torch.tensor(value, dtype=dtype).requires_grad_()) is want
    assert c_pass == ([1] * 10 if request.node.callspec.params["c_pass"] == "entry" else [])


def test_a_tensor_without_storage_takes_the_torch_sum(c_pass):
    """A functorch wrapper has no memory to read (``data_ptr`` raises): the verdict comes from the sum."""
    verdicts = []

    def loss(x):
        verdicts.append(V.finite_on_host(x))
        return x.sum()

    torch.func.grad(loss)(torch.randn(5))
    torch.func.grad(loss)(torch.tensor([1.0, math.nan]))
    assert verdicts == [True, False]
    assert c_pass == []


def test_the_c_pass_declines_what_it_cannot_read(c_pass):
    """Those the torch sum answers, with the same verdict."""
    base = torch.randn(64, 4)

    class Sub(torch.Tensor):
        pass

    for declined in (base.t(), base.half(), base.to(torch.bfloat16), torch.arange(5), base.as_subclass(Sub)):
        assert V.finite_on_host(declined) is True
    assert c_pass == []  # not contiguous, half precision, integers, a subclass
    assert V.finite_on_host(torch.nn.Parameter(base)) is True
    assert V.finite_on_host(base.requires_grad_()) is True
    assert c_pass == [256, 256]
