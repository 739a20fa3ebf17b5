"""``import losskit`` stays cheap: it must not start ``torch._dynamo`` (about 1.7 s on these machines).

Timing belongs in benchmarks; this test checks the cause: a fresh interpreter,
``import losskit``, and ``torch._dynamo`` absent from ``sys.modules``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import losskit

SRC = Path(losskit.__file__).resolve().parents[1]


def _fresh(code: str) -> str:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_import_losskit_does_not_start_torch_dynamo() -> None:
    out = _fresh(
        "import sys, losskit, losskit.functional, losskit.nn, losskit.distributed\n"
        "print(losskit.__file__); print('torch._dynamo' in sys.modules)"
    )
    path, dynamo = out.splitlines()
    assert Path(path).resolve().is_relative_to(SRC)
    assert dynamo == "False"
