"""Shared helpers for the benchmarks: one subprocess per variant, peak RSS, timing, tables.

A benchmark script calls :func:`run_worker` in its parent process for each
variant; the child (the same script with ``--worker``) prints one JSON line,
which the parent collects. Each child's peak RSS is its own: the parent reads
it from the child's ``/proc/self/status`` (VmHWM), reset with
``/proc/self/clear_refs`` right before the measured part where Linux allows,
else ``resource.getrusage`` minus the RSS before it.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

MIB = 2**20


def quick_mode(argv: Sequence[str]) -> bool:
    """``--quick`` on the command line or ``LOSSKIT_BENCH_QUICK=1``: fewer shapes and repetitions."""
    return "--quick" in argv or os.environ.get("LOSSKIT_BENCH_QUICK", "") not in ("", "0")


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def release_free_memory() -> None:
    """Collect garbage and hand freed heap memory back to the OS (glibc ``malloc_trim``), so that
    memory freed by a warm-up call does not hide in the baseline RSS and flatter the peak."""
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakMemory:
    """Peak RSS growth of this process from :meth:`start` on, in bytes."""

    def __init__(self) -> None:
        self.base = 0
        self.reset_ok = False

    def rss(self) -> int:
        kib = _status_kib("VmRSS")
        return (kib or 0) * 1024

    def start(self) -> None:
        release_free_memory()
        try:  # "5" resets the peak RSS (VmHWM) to the current RSS
            with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
                f.write("5")
            self.reset_ok = True
        except OSError:
            self.reset_ok = False
        self.base = self.rss()

    def peak(self) -> int:
        hwm = _status_kib("VmHWM") if self.reset_ok else None
        if hwm is None:
            hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        return max(0, hwm * 1024 - self.base)


def time_runs(fn: Callable[[], object], reps: int, before: Callable[[], object] | None = None) -> list[float]:
    """Wall times of ``reps`` calls of ``fn`` (``before`` runs untimed before each)."""
    times = []
    for _ in range(reps):
        if before is not None:
            before()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def emit(result: dict) -> None:
    print("RESULT " + json.dumps(result), flush=True)


def run_worker(script: str, args: Sequence[str], env: dict[str, str] | None = None) -> dict:
    """Run ``script --worker args...`` in a fresh interpreter and return its RESULT dict."""
    proc = subprocess.run(
        [sys.executable, script, "--worker", *args],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
    return {"error": f"exit {proc.returncode}: " + " | ".join(tail)}


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain fixed-width text table."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"
