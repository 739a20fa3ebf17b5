"""The losskit command line: help, bad input (exit 2, one line, nothing written), compare end to end, plot, list."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from sklearn import datasets as skd

from losskit.cli import main
from losskit.registry import available_losses

SMALL = ["--seeds", "2", "--epochs", "2", "--hidden", "4"]


@pytest.fixture(autouse=True)
def _restore_threads():
    previous = torch.get_num_threads()
    yield
    torch.set_num_threads(previous)


def _csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def _iris(path: Path) -> Path:
    b = skd.load_iris()
    names = list(b.target_names)
    return _csv(path, ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"],
                [[*x, names[t]] for x, t in zip(b.data, b.target, strict=True)])


# ------------------------------------------------------------------ help


@pytest.mark.parametrize("command", [[], ["compare"], ["plot"], ["list"]])
def test_help_everywhere(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main([*command, "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert "usage: losskit" in out
    if command == ["compare"]:
        for flag in ("--dataset", "--csv", "--parquet", "--target", "--task", "--losses", "--corruption",
                     "--noise-kind", "--seeds", "--epochs", "--optimizer", "--lr", "--batch-size", "--model",
                     "--hidden", "--out", "--force", "--dropna"):
            assert flag in out


# ------------------------------------------------------------------ bad input


def _files(tmp: Path) -> dict[str, str]:
    return {
        "iris": str(_iris(tmp / "iris.csv")),
        "text": str(_csv(tmp / "text.csv", ["a", "colour", "y"], [[i, "red", i % 2] for i in range(40)])),
        "nan": str(_csv(tmp / "nan.csv", ["a", "b", "y"], [[i, "" if i == 4 else i, i % 2] for i in range(40)])),
        "few": str(_csv(tmp / "few.csv", ["a", "y"], [[i, i % 2] for i in range(10)])),
        "one": str(_csv(tmp / "one.csv", ["a", "y"], [[i, "spam"] for i in range(40)])),
        "absent": str(tmp / "absent.csv"),
    }


# case -> (arguments, with {file} placeholders; the expected message)
BAD = {
    "unknown dataset": (["--dataset", "mnist"], "unknown dataset 'mnist'; bundled datasets: breast_cancer"),
    "unknown loss": (["--dataset", "diabetes", "--losses", "mse,hubber"],
                     "unknown loss 'hubber'. Did you mean 'huber'?"),
    "wrong task": (["--dataset", "diabetes", "--losses", "mse,cross_entropy"],
                   "'cross_entropy' is a classification loss, but diabetes is a regression task"),
    "missing file": (["--csv", "{absent}", "--target", "y"], "file not found"),
    "missing target": (["--csv", "{iris}", "--target", "label"], "target column 'label' is not in iris.csv"),
    "non-numeric": (["--csv", "{text}", "--target", "y"], "non-numeric feature column(s) in text.csv: colour"),
    "nan cells": (["--csv", "{nan}", "--target", "y"], "1 missing cell(s) in 1 row(s) (b: 1); pass --dropna"),
    "too few rows": (["--csv", "{few}", "--target", "y"], "10 usable row(s)"),
    "one class": (["--csv", "{one}", "--target", "y"], "single class ('spam')"),
    "corruption 1": (["--dataset", "diabetes", "--corruption", "0,1"], "outside [0, 1)"),
    "corruption negative": (["--dataset", "diabetes", "--corruption=-0.1,0.2"], "outside [0, 1)"),
    "corruption text": (["--dataset", "diabetes", "--corruption", "0,lots"], "'lots' is not a number"),
    "bad option value": (["--dataset", "diabetes", "--losses", "huber:delta=-1"], "delta"),
    "unknown option": (["--dataset", "diabetes", "--losses", "huber:width=2"], "has no option 'width'"),
    "csv without target": (["--csv", "{iris}"], "--csv needs --target COLUMN"),
    "no data": (["--losses", "mse"], "choose the data"),
    "noise kind": (["--dataset", "digits", "--noise-kind", "gross"], "does not apply to classification"),
    "zero seeds": (["--dataset", "diabetes", "--seeds", "0"], "--seeds must be at least 1"),
    "not an int": (["--dataset", "diabetes", "--epochs", "ten"], "invalid int value: 'ten'"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    template, expected = BAD[case]
    files = _files(tmp_path)
    args = [a.format(**files) for a in template]
    out = tmp_path / "out"
    code = main(["compare", *args, "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("losskit compare: error: ")
    assert expected in lines[0]
    assert "Traceback" not in captured.err + captured.out
    assert not out.exists()


def test_a_different_configuration_in_out_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    base = ["compare", "--dataset", "diabetes", "--losses", "mse,mae", "--corruption", "0,0.2", *SMALL,
            "--out", str(out)]
    assert main(base) == 0
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    capsys.readouterr()
    assert main([*base, "--epochs", "3"]) == 2
    err = capsys.readouterr().err
    assert "different configuration (train.epochs: 2 → 3)" in err and "--force" in err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before


# ------------------------------------------------------------------ compare end to end


def test_compare_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code = main(["compare", "--dataset", "diabetes", "--losses", "mse,mae,huber:delta=2", "--corruption", "0,0.2",
                 *SMALL, "--out", str(out)])
    stdout = capsys.readouterr().out
    assert code == 0
    assert "Claims: diabetes, 12 runs (gross)" in stdout
    assert "MSE is sensitive to anomalies" in stdout
    assert f"report: {out / 'report.md'}" in stdout
    for name in ("results.csv", "summary.csv", "runs.csv", "report.md", "config.json",
                 "figures/learning_curves.png", "figures/final_vs_corruption.png", "figures/loss_curves.png"):
        assert (out / name).is_file(), name
    # rerun: nothing to redo, and it says so
    assert main(["compare", "--dataset", "diabetes", "--losses", "mse,mae,huber:delta=2", "--corruption", "0,0.2",
                 *SMALL, "--out", str(out)]) == 0
    assert "resuming the run in" in capsys.readouterr().out


def test_compare_on_own_csv_infers_and_reports_the_task(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    iris = _iris(tmp_path / "iris.csv")
    out = tmp_path / "iris"
    code = main(["compare", "--csv", str(iris), "--target", "species", "--corruption", "0,0.3", *SMALL,
                 "--out", str(out)])
    stdout = capsys.readouterr().out
    assert code == 0
    assert "inferred task: classification (target 'species' is not numeric" in stdout
    assert "Cross-entropy is fragile to noisy labels" in stdout
    with (out / "results.csv").open() as f:
        header = next(csv.reader(f))
    assert header[-3:] == ["test_accuracy", "test_macro_f1", "wall_s"]


def test_ctrl_c_exits_130_and_says_how_to_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import losskit.experiments.runner as runner

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run", interrupted)
    code = main(["compare", "--dataset", "diabetes", *SMALL, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 130
    assert "interrupted" in err and "Run the same command again to continue" in err


def test_bad_input_from_a_real_process_has_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "losskit", "compare", "--dataset", "mnist", "--out",
                           str(tmp_path / "x")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------------ plot and list


def test_plot_writes_an_image_for_any_registered_loss(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "sub" / "losses.png"
    names = ",".join(available_losses("regression") + available_losses("classification"))
    assert main(["plot", "--losses", names, "--out", str(target)]) == 0
    assert target.read_bytes()[:4] == b"\x89PNG"
    assert f"wrote {target}" in capsys.readouterr().out


def test_plot_overlay_writes_an_image_for_mixed_tasks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "overlay.png"
    names = ",".join(available_losses("regression") + available_losses("classification"))
    assert main(["plot", "--layout", "overlay", "--losses", f"{names},huber:delta=2,gce:q=0.3",
                 "--out", str(target)]) == 0
    assert target.read_bytes()[:4] == b"\x89PNG"
    assert f"wrote {target}" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".svg", ".pdf"])
def test_plot_writes_the_other_image_types(suffix: str, tmp_path: Path) -> None:
    target = tmp_path / f"losses{suffix}"
    assert main(["plot", "--losses", "huber", "--out", str(target)]) == 0
    assert target.stat().st_size > 0


def test_plot_help_documents_the_layouts(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["plot", "--help"])
    out = capsys.readouterr().out
    assert "--layout {grid,overlay}" in out and "shared axes" in out


@pytest.mark.parametrize(("extra", "expected"), [
    (["--losses", "mse,nope"], "unknown loss 'nope'"),
    (["--losses", "mse", "--bogus"], "unrecognized arguments: --bogus"),
    (["--losses", "mse,cross_entropy", "--layout", "stack"], "invalid choice: 'stack'"),
    (["--losses", "mse,bce", "--layout", "overlay"], "bce is not one"),
    (["--losses", "huber:delta=-1", "--layout", "overlay"], "loss 'huber:delta=-1'"),
    (["--losses", "tukey:scale=2", "--layout", "overlay"], "has no option 'scale'"),
])
def test_plot_bad_input(extra: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "x.png"
    assert main(["plot", "--out", str(target), *extra]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1
    assert not target.exists()


def test_plot_refuses_an_unknown_image_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", "--losses", "mse", "--out", str(tmp_path / "x.txt")]) == 2
    assert "must end in .png, .pdf or .svg" in capsys.readouterr().err


def test_list_shows_every_registered_loss(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in available_losses():
        assert name in out
    assert "delta=1.0" in out
    assert main(["list", "--task", "classification"]) == 0
    out = capsys.readouterr().out
    assert "cross_entropy" in out and "log_cosh" not in out
