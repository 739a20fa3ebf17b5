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


def _numeric_rows(n: int = 40, scale: float = 1.0, target_scale: float = 1.0) -> list[list[object]]:
    return [[i * scale, (i * 7) % 11 * scale, ((i * 13) % 17 + 0.5) * target_scale] for i in range(n)]


def _files(tmp: Path) -> dict[str, str]:
    text = "âge,b,y\n" + "".join(f"{a},{b},{y}\n" for a, b, y in _numeric_rows())
    (tmp / "latin1.csv").write_bytes(text.encode("latin-1"))
    (tmp / "utf16.csv").write_bytes(text.encode("utf-16-le"))  # no byte-order mark
    (tmp / "long.csv").write_text("a,y\n" + "1" * 140_000 + ",2\n" + "".join(f"{i},{i}\n" for i in range(40)))
    (tmp / "folder.csv").mkdir()
    return {
        "latin1": str(tmp / "latin1.csv"),
        "utf16": str(tmp / "utf16.csv"),
        "long": str(tmp / "long.csv"),
        "folder": str(tmp / "folder.csv"),
        "huge_target": str(_csv(tmp / "huge.csv", ["a", "b", "y"], _numeric_rows(target_scale=1e300))),
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
    "wrong task, alias": (["--dataset", "diabetes", "--losses", "nll"],  # the name as typed, then losskit's
                          "loss 'nll' (losskit's 'cross_entropy') is a classification loss, but diabetes"),
    "two aliases of one loss": (["--dataset", "iris", "--losses", "ce,nll"],
                                "'ce' and 'nll' in --losses both name losskit's 'cross_entropy'"),
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
    # issue 13, item 12: encodings and over-long fields
    "latin-1 bytes": (["--csv", "{latin1}", "--target", "y"],
                      "latin1.csv is not UTF-8: byte 0xe2 on line 1 is not UTF-8 (latin-1 or cp1252?)"),
    "utf-16 without a BOM": (["--csv", "{utf16}", "--target", "y"],
                             "utf16.csv is not UTF-8: it looks like UTF-16 without a byte-order mark"),
    "field too long": (["--csv", "{long}", "--target", "y"],
                       "long.csv line 2 cannot be read as CSV: a field is longer than 131,072 characters"),
    # item 13: loss options out of range, refused up front
    "huber delta 1e300": (["--dataset", "diabetes", "--losses", "huber:delta=1e300"],
                          "loss 'huber:delta=1e300': delta=1e+300 is out of range; losskit compare and plot take "
                          "|delta| <= 1e6"),
    "welsch scale 1e300": (["--dataset", "diabetes", "--losses", "welsch:scale=1e300"], "|scale| <= 1e6"),
    "sce A -1e300": (["--dataset", "digits", "--losses", "sce:A=-1e300"], "A=-1e+300 is out of range"),
    # item 15: a target that overflows squared errors
    "huge target": (["--csv", "{huge_target}", "--target", "y", "--task", "regression"],
                    "regression target 'y' has values up to 1.65e+301; losskit compare refuses |target| > 1e150"),
    # item 17
    "empty losses": (["--dataset", "diabetes", "--losses", ""], "--losses is empty; give at least one loss"),
    "empty corruption": (["--dataset", "diabetes", "--corruption", ""], "--corruption is empty"),
    "duplicate option": (["--dataset", "diabetes", "--losses", "huber:delta=1:delta=2"],
                         "loss option 'delta' is given twice in 'huber:delta=1:delta=2'"),
    "csv is a directory": (["--csv", "{folder}", "--target", "y"], "folder.csv is a directory; give the data file"),
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
    assert "losskit compare: interrupted; run the same command again to continue (finished work is saved in" in err


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


# ------------------------------------------------------------------ issue 13: files, options, outputs


def _same_data(a: object, b: object) -> bool:
    import numpy as np

    return bool(np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y) and a.feature_names == b.feature_names)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32"])
def test_a_csv_with_a_byte_order_mark_reads_like_utf8(encoding: str, tmp_path: Path) -> None:
    from losskit.experiments.config import DataSource
    from losskit.experiments.datasets import load

    text = "âge,b,y\n" + "".join(f"{a},{b},{y}\n" for a, b, y in _numeric_rows())
    (tmp_path / "plain.csv").write_text(text, encoding="utf-8")
    (tmp_path / "bom.csv").write_bytes(text.encode(encoding))  # Python writes the BOM for these three
    plain, bom = (load(DataSource(path=str(tmp_path / f"{n}.csv"), format="csv", target="y"))
                  for n in ("plain", "bom"))
    assert _same_data(plain, bom) and bom.feature_names == ("âge", "b")


def test_a_semicolon_separated_csv_is_read_by_its_header(tmp_path: Path) -> None:
    from losskit.experiments.config import DataSource
    from losskit.experiments.datasets import load

    rows = _numeric_rows()
    _csv(tmp_path / "comma.csv", ["a", "b", "y"], rows)
    (tmp_path / "semi.csv").write_text("a;b;y\n" + "".join(f"{a};{b};{y}\n" for a, b, y in rows))
    comma, semi = (load(DataSource(path=str(tmp_path / f"{n}.csv"), format="csv", target="y"))
                   for n in ("comma", "semi"))
    assert _same_data(comma, semi)


def test_a_huge_feature_column_is_rescaled_not_lost(tmp_path: Path) -> None:
    import warnings

    import numpy as np

    from losskit.experiments.datasets import Dataset, prepare

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=60)
    plain = Dataset("d", "regression", x, y, ("a", "b", "c"), "y", None, "d")
    huge = Dataset("d", "regression", x * np.array([1e300, 1.0, 1e-300]), y, ("a", "b", "c"), "y", None, "d")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's overflow RuntimeWarning must not appear
        a, b = prepare(plain, 0.25), prepare(huge, 0.25)
    torch.testing.assert_close(a.x_train, b.x_train, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(a.x_test, b.x_test, rtol=1e-6, atol=1e-6)


def test_barron_alpha_minus_inf_is_accepted_as_the_api_accepts_it(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from losskit.experiments.config import parse_loss_spec

    spec = parse_loss_spec("barron:alpha=-inf")
    assert spec.options == (("alpha", float("-inf")),) and spec.label == "barron:alpha=-inf"
    assert main(["plot", "--losses", "barron:alpha=-inf", "--out", str(tmp_path / "b.png")]) == 0
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("losses", ["huber:delta=1e300", "welsch:scale=1e300", "sce:A=-1e300"])
def test_plot_refuses_loss_options_out_of_range_in_one_line(losses: str, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", "--losses", losses, "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"losskit plot: error: loss '{losses}': ") and "is out of range" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


def test_a_loss_that_is_not_finite_at_ordinary_inputs_is_refused_up_front(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from losskit.experiments.config import LossSpec

    class Overflowing(torch.nn.Module):  # what an accepted but extreme option can do: inf at |r| = 10
        def forward(self, input: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
            return torch.exp(100.0 * (input - target).abs())

    monkeypatch.setattr(LossSpec, "build", lambda self: Overflowing())
    assert main(["compare", "--dataset", "diabetes", "--losses", "cauchy:scale=0.5", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err == ("losskit compare: error: loss 'cauchy:scale=0.5' gives a non-finite value or gradient at ordinary "
                   "inputs (residuals in [-10, 10], float32); choose a less extreme option value (see 'losskit list' "
                   "for the defaults).\n")
    assert not (tmp_path / "o").exists()


def test_plots_are_nan_safe_for_losses_that_overflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Axis limits from finite values only; a panel without any says so (no "Axis limits cannot be NaN or Inf")."""
    import numpy as np

    from losskit.experiments.config import LossSpec
    from losskit.experiments.plots import clipped_view, loss_curves, loss_overlay

    class Overflowing(torch.nn.Module):  # inf beyond |r| = 2, NaN below -2: the shapes extreme options produce
        def forward(self, input: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
            r = input - target
            return torch.where(r < -2, r * float("nan"), torch.exp(400.0 * (r.abs() - 2.0)))

    class Undefined(torch.nn.Module):  # NaN everywhere
        def forward(self, input: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
            return input * float("nan")

    modules = {"huber": Overflowing, "cauchy": Undefined}
    monkeypatch.setattr(LossSpec, "build", lambda self: modules.get(self.name, Overflowing)())
    specs = [LossSpec("huber"), LossSpec("cauchy")]
    for draw in (loss_curves, loss_overlay):
        path = draw(specs, tmp_path / f"{draw.__name__}.png")
        assert path.read_bytes()[:4] == b"\x89PNG"
    assert clipped_view([np.full(5, np.nan), np.array([np.inf, -np.inf])]) == (-1.0, 1.0, [])
    lo, hi, clipped = clipped_view([np.array([0.0, np.nan, 2.0]), np.array([np.inf, 1.0])])
    assert np.isfinite([lo, hi]).all() and lo < 0.0 < 2.0 < hi and clipped == []


def test_out_under_a_file_is_refused_before_anything_is_written(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "afile").write_text("keep me")
    out = tmp_path / "afile" / "sub"
    assert main(["compare", "--dataset", "diabetes", *SMALL, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"--out {out}: {tmp_path / 'afile'} is a file, not a directory" in err and err.count("\n") == 1
    assert main(["plot", "--losses", "mse", "--out", str(out / "x.png")]) == 2
    assert "is a file, not a directory" in capsys.readouterr().err
    assert (tmp_path / "afile").read_text() == "keep me"


def test_a_truncated_checkpoint_starts_its_chunk_over(tmp_path: Path) -> None:
    from losskit.experiments.store import Store

    store = Store(tmp_path)
    store.state.mkdir()
    store.save_checkpoint(0, {"trainer": {}, "rows": [], "wall": 0.0})
    path = store.state / "chunk-0000.pt"
    path.write_bytes(path.read_bytes()[:50])
    assert store.checkpoint(0) is None
    assert not path.exists() and (store.state / "chunk-0000.pt.corrupt").is_file()


def test_a_stdout_closed_by_its_reader_ends_quietly_with_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    class ClosedPipe:
        def __init__(self, fd: int) -> None:
            self.fd = fd

        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            pass

        def fileno(self) -> int:
            return self.fd

    with (tmp_path / "stdout").open("w") as sink:
        monkeypatch.setattr(sys, "stdout", ClosedPipe(sink.fileno()))
        assert main(["plot", "--losses", "mse", "--out", str(tmp_path / "mse.png")]) == 1  # "wrote ..." fails
    assert capsys.readouterr().err == ""
    assert (tmp_path / "mse.png").read_bytes()[:4] == b"\x89PNG"
