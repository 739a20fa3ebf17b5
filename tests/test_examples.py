"""The README's example scripts run as a user runs them, and print what they promise.

Each script runs as ``python examples/<name>.py`` would run it: as ``__main__`` (in this process, which has
torch loaded already; the two that set up a process group or a Lightning trainer in a fresh interpreter).
Its output is parsed and the figures it reports are checked against what the script is there to show,
with margins wide enough for another CPU's rounding: a loss that trains, an exact mean that is exact.
"""

from __future__ import annotations

import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(name: str, capsys: pytest.CaptureFixture[str] | None = None) -> str:
    if capsys is not None:
        capsys.readouterr()
        runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="__main__")
        return capsys.readouterr().out
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py")], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"{name}.py exited with {done.returncode}:\n{done.stderr[-2000:]}"
    return done.stdout


def _figures(pattern: str, out: str, count: int) -> list[tuple[str, ...]]:
    found = re.findall(pattern, out, flags=re.MULTILINE)
    assert len(found) == count, f"expected {count} lines matching {pattern!r} in:\n{out}"
    return found


def test_train_diabetes_fits_and_ranks_samples(capsys: pytest.CaptureFixture[str]) -> None:
    rows = _figures(r"^(mse|mae|huber|log_cosh)\s+final train loss ([\d.]+)\s+test RMSE\s+([\d.]+)\s+worst test rows "
                    r"\[(\d+), (\d+), (\d+)\]", _run("train_diabetes", capsys), 4)
    for name, _, rmse, *_ in rows:
        # the diabetes target's sd is about 77: a model that learned nothing scores about that
        assert float(rmse) < 65, f"{name}: test RMSE {rmse}"


def test_heteroscedastic_diabetes_predicts_a_spread(capsys: pytest.CaptureFixture[str]) -> None:
    rows = _figures(r"^\s*(\w+): test RMSE ([\d.]+) sd, median sigma ([\d.]+), within 1 sigma (\d+)%",
                    _run("heteroscedastic_diabetes", capsys), 3)
    for name, rmse, sigma, within in rows:
        assert float(rmse) < 0.9 and 0.1 < float(sigma) < 2.0 and 20 <= int(within) <= 90, (name, rmse, sigma, within)


def test_metric_digits_embeddings_separate_the_classes(capsys: pytest.CaptureFixture[str]) -> None:
    rows = _figures(r"^\s*(\w+): 1-NN test accuracy ([\d.]+)", _run("metric_digits", capsys), 3)
    for name, accuracy in rows:
        assert float(accuracy) > 0.8, f"{name}: {accuracy} (chance is 0.1)"


def test_segment_shapes_learns_both_shapes(capsys: pytest.CaptureFixture[str]) -> None:
    rows = _figures(r"^\s*(\w+): test IoU disc ([\d.]+), square ([\d.]+)", _run("segment_shapes", capsys), 4)
    for name, disc, square in rows:
        assert float(disc) > 0.3 and float(square) > 0.5, (name, disc, square)


def test_ddp_train_in_one_process_is_exact() -> None:
    out = _run("ddp_train")
    (exact, means), = _figures(r"^worst over \d+ steps: exact ([\d.e+-]+), mean of means ([\d.e+-]+)", out, 1)
    assert float(exact) < 1e-12 < float(means)
    (ours, gathered), = _figures(r"^vocab-parallel CE over \d+ shards? of \d+ classes: ([\d.]+) vs gathered ([\d.]+)",
                                 out, 1)
    assert float(ours) == pytest.approx(float(gathered), rel=1e-12)


def test_lightning_exact_mean_trains() -> None:
    pytest.importorskip("lightning")
    _figures(r"^trained \d+ steps of \d+ accumulated micro-batches, each step the exact token mean", _run(
        "lightning_exact_mean"), 1)
