"""Build, cache and load losskit's C kernels (``elementwise.c``) at first use.

Why plain C through :mod:`ctypes`, and not a torch C++ extension or
``torch.compile``: measured on a 2-core machine, building a
``torch.utils.cpp_extension.load_inline`` module takes about 45 s (torch's
headers), and ``torch.compile`` about 5 s per loss and dtype, every fresh
process without a warm cache. ``elementwise.c`` includes no torch header and
builds in about 0.2 s, once per machine: the shared library is cached under
:func:`cache_dir`, keyed by the source, the compiler command and the CPU
flags (it is built with ``-march=native``).

Where no compiler works, :func:`library` returns ``None`` once, after one
:class:`RuntimeWarning`, and the callers use their plain torch path.

Where Python's headers exist, the same source is built a second time as a
CPython module (``-DLOSSKIT_PYTHON_EXT``, about as long again, once): its
``METH_FASTCALL`` entry points serve the finiteness checks of the riding value
checks, whose cost at small sizes is mostly the call itself (a ctypes call
costs about ten times as much). Its ``finite(t)`` is
:func:`losskit._validate.finite_on_host` in one C call (the tensor's metadata
read in C, not by a Python frame: about 2.5 us less per call right after a
backward); ``all_finite_<dtype>`` serve the Python reference, through
``_finite``. Without the headers ctypes serves them, silently.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = ["KernelInfo", "cache_dir", "empty_hugepage", "kernel_info", "library"]

SOURCE = Path(__file__).with_name("elementwise.c")
ABI_VERSION = 3
# tried in order; the first that builds wins (x86 only knows -mprefer-vector-width; some compilers
# lack OpenMP or -march=native). 512-bit vectors made log-cosh 1.4x faster on an AVX-512 CPU.
FLAG_SETS: tuple[tuple[str, ...], ...] = (
    ("-O3", "-march=native", "-mprefer-vector-width=512", "-fopenmp"),
    ("-O3", "-march=native", "-fopenmp"),
    ("-O3", "-fopenmp"),
    ("-O3", "-march=native"),
    ("-O3",),
)
BUILD_TIMEOUT_S = 120


@dataclass
class KernelInfo:
    """What happened when the kernels were loaded (for benchmarks and bug reports).

    Attributes:
      path: the shared library, or None if none could be built.
      flags: the compiler flags it was built with.
      build_seconds: time spent compiling in this process (0.0 on a cache hit).
      error: why no library is available, or None.
      python_module: the same source built as a CPython module (its cheaper calls serve the finiteness
        checks), or None where Python's headers are missing and ctypes serves them.
    """

    path: Path | None = None
    flags: tuple[str, ...] = ()
    build_seconds: float = 0.0
    error: str | None = None
    python_module: Path | None = None


_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_info: KernelInfo | None = None
_finite: dict[torch.dtype, Callable[..., int]] = {}  # losskit_all_finite_<dtype>, once the library is loaded
_python: types.ModuleType | None = None  # the CPython module, once loaded where it built


def cache_dir() -> Path:
    """Where built kernels are cached: ``$LOSSKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/losskit``
    (``~/.cache/losskit``), else a per-user folder in the temporary directory."""
    env = os.environ.get("LOSSKIT_CACHE_DIR")
    candidates = [Path(env)] if env else []
    xdg = os.environ.get("XDG_CACHE_HOME")
    candidates.append(Path(xdg) / "losskit" if xdg else Path.home() / ".cache" / "losskit")
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    candidates.append(Path(tempfile.gettempdir()) / f"losskit-{uid}")
    for path in candidates:
        try:
            path.mkdir(parents=True, exist_ok=True)
            if os.access(path, os.W_OK):
                return path
        except OSError:
            continue
    raise OSError("no writable cache directory for losskit's kernels; set LOSSKIT_CACHE_DIR")


def _compiler() -> str | None:
    cc = os.environ.get("CC")
    if cc:
        return cc
    for name in ("cc", "gcc", "clang"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _cpu_tag() -> str:
    """The CPU's feature flags, so a -march=native build is never reused on another CPU."""
    text = platform.machine() + platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("flags", "Features", "model name")):
                    text += line
    except OSError:
        pass
    return text


def _build(cc: str, flags: tuple[str, ...], target: Path) -> None:
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    cmd = [cc, *flags, "-fPIC", "-shared", str(SOURCE), "-o", tmp, "-lm"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip()[-500:]}")
        os.replace(tmp, target)  # atomic: parallel test workers never see half a file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _open(path: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))
    lib.losskit_fused_abi.restype = ctypes.c_int
    if lib.losskit_fused_abi() != ABI_VERSION:
        raise RuntimeError(f"{path} has an unexpected ABI version")
    args = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
            ctypes.c_double, ctypes.c_double, ctypes.c_int]
    for name in ("losskit_fused_f32", "losskit_fused_f64"):
        fn = getattr(lib, name)
        fn.restype = ctypes.c_double
        fn.argtypes = args
    none_args = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                 ctypes.c_double, ctypes.c_double, ctypes.c_int]
    for name in ("losskit_fused_none_f32", "losskit_fused_none_f64"):
        fn = getattr(lib, name)
        fn.restype = ctypes.c_int
        fn.argtypes = none_args
    for name in ("losskit_all_finite_f32", "losskit_all_finite_f64"):
        fn = getattr(lib, name)
        fn.restype = ctypes.c_int
        fn.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int]
    return lib


def _load() -> tuple[ctypes.CDLL | None, KernelInfo]:
    global _python
    if sys.platform == "win32":
        return None, KernelInfo(error="the C kernels are built with a Unix compiler; not on Windows")
    cc = _compiler()
    if cc is None:
        return None, KernelInfo(error="no C compiler found (set CC)")
    source = SOURCE.read_bytes()
    errors = []
    for flags in FLAG_SETS:
        key = hashlib.sha256(
            source + repr((cc, flags, ABI_VERSION, _cpu_tag(), torch.__version__)).encode()
        ).hexdigest()[:20]
        try:
            target = cache_dir() / f"fused_elementwise-{key}.so"
            spent = 0.0
            if not target.exists():
                start = time.perf_counter()
                _build(cc, flags, target)
                spent = time.perf_counter() - start
            lib = _open(target)
            start = time.perf_counter()
            module = _python_module(cc, flags, key)
            info = KernelInfo(path=target, flags=flags, build_seconds=spent + time.perf_counter() - start,
                              python_module=None if module is None else Path(str(module.__file__)))
            _finite.update(_finite_entries(lib, module))
            _python = module
            return lib, info
        except (OSError, RuntimeError, subprocess.SubprocessError, AttributeError) as exc:
            errors.append(f"{' '.join(flags)}: {exc}")
    return None, KernelInfo(error="; ".join(errors))


def _python_module(cc: str, flags: tuple[str, ...], key: str) -> types.ModuleType | None:
    """The same source as a CPython module (``-DLOSSKIT_PYTHON_EXT``), built and cached like the library;
    None, silently, where Python's headers are missing or it does not build: ctypes serves instead."""
    import sysconfig  # here, not at import: only a first kernel load needs it

    include = sysconfig.get_paths().get("include")
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    if not include or not suffix or not Path(include, "Python.h").exists():
        return None
    target = cache_dir() / f"_lk_native-{key}{suffix}"
    try:
        if not target.exists():
            _build(cc, (*flags, "-DLOSSKIT_PYTHON_EXT", f"-I{include}"), target)
        spec = importlib.util.spec_from_file_location("_lk_native", target)
        if spec is None or spec.loader is None:
            return None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    except (OSError, RuntimeError, ImportError, subprocess.SubprocessError):
        return None


def _finite_entries(lib: ctypes.CDLL, module: types.ModuleType | None) -> dict[torch.dtype, Callable[..., int]]:
    """``losskit_all_finite_<dtype>(ptr, n, nthreads)``: the CPython module's where it loaded, else ctypes'."""
    if module is not None:
        return {torch.float32: module.all_finite_f32, torch.float64: module.all_finite_f64}
    return {torch.float32: lib.losskit_all_finite_f32, torch.float64: lib.losskit_all_finite_f64}


def library() -> ctypes.CDLL | None:
    """The loaded kernel library, building it on first use; None (after one warning) if that fails."""
    global _lib, _info
    if _info is None:
        with _lock:
            if _info is None:
                _lib, info = _load()
                if _lib is None:
                    warnings.warn(
                        f"losskit could not build its fused elementwise kernels ({info.error}); "
                        "the plain torch path is used instead.",
                        RuntimeWarning,
                        stacklevel=3,
                    )
                _info = info
    return _lib


def kernel_info() -> KernelInfo:
    """Load the kernels if needed and say how (path, flags, one-time build cost, or the error)."""
    library()
    assert _info is not None
    return _info


# ------------------------------------------------------------------ huge pages

_MADV_HUGEPAGE = 14
_HUGE = 1 << 21
_madvise = None
if sys.platform.startswith("linux"):
    try:
        _libc = ctypes.CDLL(None, use_errno=True)
        _madvise = _libc.madvise
        _madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        _madvise.restype = ctypes.c_int
    except (OSError, AttributeError):
        _madvise = None


def empty_hugepage(shape: torch.Size | tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """``torch.empty`` whose (large) memory is backed by transparent huge pages where Linux allows.

    A fresh 64 MiB buffer costs about 16k page faults on first write, which
    measured here at ~10 ms, more than the whole one-pass kernel; asking for
    2 MiB pages (``madvise(MADV_HUGEPAGE)``) before the first write cuts that to
    ~2 ms. Only the untouched, 2 MiB-aligned interior is advised; anywhere this
    is not possible the call is a plain ``torch.empty``.
    """
    t = torch.empty(shape, dtype=dtype)
    nbytes = t.numel() * t.element_size()
    if _madvise is not None and nbytes >= 4 * _HUGE:
        start = (t.data_ptr() + _HUGE - 1) & ~(_HUGE - 1)
        end = (t.data_ptr() + nbytes) & ~(_HUGE - 1)
        if end > start:
            _madvise(start, end - start, _MADV_HUGEPAGE)
    return t
