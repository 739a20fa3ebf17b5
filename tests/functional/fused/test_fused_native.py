"""Building, caching and loading the C kernels, and their fallback."""

from __future__ import annotations

import warnings

import pytest
import torch

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
