"""losskit's annotations serve its users: a typed user script passes mypy, and a wrong literal fails it.

mypy reads losskit through its ``py.typed`` marker, as a user's mypy would;
``--follow-imports=silent`` keeps losskit's own internals out of the verdict
(``make typecheck`` checks those). The script also runs, so it stays honest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy")

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "typing" / "user_script.py"


def _mypy(*files: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MYPYPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", os.devnull, "--follow-imports=silent",
         "--ignore-missing-imports", "--no-error-summary", "--cache-dir", str(cache), "--python-version", "3.10",
         *map(str, files)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=600,
    )


@pytest.mark.slow
def test_user_script_type_checks_and_a_wrong_literal_does_not(tmp_path: Path) -> None:
    bad = tmp_path / "bad_script.py"
    bad.write_text(
        "import torch\nimport losskit.functional as LF\n\n"
        "LF.cauchy_loss(torch.zeros(2), torch.zeros(2), reduction='avg')\n"
        "LF.focal_loss(torch.zeros(2, 3), torch.zeros(2, 3), input_kind='logit')\n"
        "import losskit\nlosskit.available_losses('regresion')\n"
    )
    result = _mypy(SCRIPT, bad, cache=ROOT / ".mypy_cache")
    lines = [ln for ln in result.stdout.splitlines() if ": error:" in ln]
    assert not [ln for ln in lines if "user_script.py" in ln], result.stdout
    errors = {int(ln.split(":")[1]) for ln in lines if "bad_script.py" in ln}
    assert errors == {4, 5, 7}, result.stdout
    assert "Literal['mean', 'sum', 'none', 'per_sample']" in result.stdout


def test_user_script_runs() -> None:
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert out.returncode == 0, out.stderr
    assert "Did you mean 'huber'" in out.stdout
