"""The loss families in the CLI: `losskit list` shows every task, `losskit plot` draws the NLLs against r."""

from __future__ import annotations

from pathlib import Path

import pytest

from losskit import registry
from losskit.cli import build_parser, main
from losskit.experiments.config import parse_loss_spec
from losskit.experiments.smoothness import continuity, curves, of_residual


def test_list_task_choices_are_the_registry_tasks() -> None:
    lst = build_parser()._subparsers._group_actions[0].choices["list"]
    (task,) = [a for a in lst._actions if a.dest == "task"]
    assert tuple(task.choices) == registry.TASKS


@pytest.mark.parametrize("task", [t for t in registry.TASKS if t not in ("regression", "classification")])
def test_list_by_family_task(task: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--task", task]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in registry.available_losses(task))


def test_plot_draws_the_nlls_against_the_residual(tmp_path: Path) -> None:
    out = tmp_path / "nll.png"
    names = "mse,gaussian_nll,beta_nll,laplace_nll,student_t_nll:df=2"
    assert main(["plot", "--layout", "overlay", "--losses", names, "--out", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_nll_curve_at_unit_spread_and_its_kink() -> None:
    import torch

    x = torch.tensor([-2.0, 0.5, 3.0], dtype=torch.float64)
    value, d1, d2 = curves(parse_loss_spec("gaussian_nll"), x)
    torch.testing.assert_close(value, x**2 / 2)
    torch.testing.assert_close(d1, x)
    torch.testing.assert_close(d2, torch.ones_like(x))
    laplace = parse_loss_spec("laplace_nll")
    assert of_residual(laplace) and not continuity(laplace, 1).continuous  # |r|'s kink at 0
    assert continuity(parse_loss_spec("student_t_nll"), 2).continuous


def test_plot_refuses_a_loss_without_a_residual_curve(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["plot", "--losses", "poisson_nll", "--out", str(tmp_path / "p.png")]) == 2
    assert "poisson_nll is not one" in capsys.readouterr().err
