"""The CLI attack suite: hostile files, option values, outputs, state and signals against ``losskit compare``/``plot``.

Every case asserts what the CLI promises: exit code 2 with one line on stderr and no traceback (130 / 143 for
SIGINT / SIGTERM), nothing partial in place of a finished file, and a rerun whose results equal an
uninterrupted run's. Bad files and options run in-process (``main()``: no interpreter start-up); the
signal cases are real processes, started together; the full and read-only ``--out`` cases use small tmpfs
mounts and need root (skipped otherwise). One baseline run serves every comparison, shared between the
xdist workers through a file lock.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from filelock import FileLock

from losskit.cli import main

# the one compare configuration of the suite: tiny, but with figures and the claims, like a real run
JOB = ["--dataset", "diabetes", "--losses", "huber", "--corruption", "0.2", "--seeds", "1", "--epochs", "60",
       "--hidden", "4", "--batch-size", "32", "--quiet"]
FAST = ["--seeds", "1", "--epochs", "1", "--hidden", "2"]


@pytest.fixture(autouse=True)
def _restore_threads() -> Iterator[None]:
    previous = torch.get_num_threads()
    yield
    torch.set_num_threads(previous)


def _one_error_line(err: str, prog: str = "losskit compare") -> str:
    """The one line on stderr (ignoring ``-X importtime``'s), which starts with ``prog``."""
    lines = [line for line in err.splitlines() if not line.startswith("import time:")]
    assert len(lines) == 1, err
    assert lines[0].startswith(prog), err
    assert "Traceback" not in err
    return lines[0]


def _results(out: Path) -> dict[str, list[list[str]]]:
    """The numbers of a finished run: results.csv (without wall-clock seconds) and runs.csv."""
    tables = {}
    for name in ("results.csv", "runs.csv"):
        with (out / name).open() as f:
            rows = list(csv.reader(f))
        keep = [j for j, col in enumerate(rows[0]) if col != "wall_s"]
        tables[name] = [[row[j] for j in keep] for row in rows]
    return tables


def _nothing_partial(out: Path) -> None:
    """Every file in ``out`` is whole: no temporaries left, JSON and CSV parse, PNGs end with their IEND chunk."""
    if not out.exists():
        return
    for path in out.rglob("*"):
        if path.is_dir():
            continue
        assert not path.name.endswith(".tmp"), f"temporary file left behind: {path}"
        data = path.read_bytes()
        if path.suffix == ".json":
            json.loads(data)
        elif path.suffix == ".csv":
            rows = list(csv.reader(data.decode().splitlines()))
            assert rows and all(len(r) == len(rows[0]) for r in rows), path
        elif path.suffix == ".png":
            assert data.startswith(b"\x89PNG") and data.endswith(b"IEND\xaeB`\x82"), path


@pytest.fixture(scope="session")
def shared(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A directory shared by every xdist worker of this session (the parent of the workers' own temp dirs)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if worker_id != "master" else base


@pytest.fixture(scope="session")
def baseline(shared: Path) -> Path:
    """One uninterrupted run of JOB, made once per session; its results are what every rerun must equal."""
    out = shared / "attack-baseline"
    with FileLock(str(shared / "attack-baseline.lock")):
        if not (out / "report.md").is_file():
            shutil.rmtree(out, ignore_errors=True)
            assert main(["compare", *JOB, "--out", str(out)]) == 0
    return out


# ------------------------------------------------------------------ bad files


def _csv(path: Path, header: list[str], rows: list[list[Any]], *, delimiter: str = ",",
         encoding: str = "utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow(header)
        w.writerows(rows)
    return path


def _rows(n: int = 40) -> list[list[Any]]:
    return [[i, (i * 7) % 11, (i * 13) % 17 + 0.5] for i in range(n)]


def _bad_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, expected message); --target y throughout."""
    header = ["a", "b", "y"]
    (tmp / "empty.csv").write_text("")
    (tmp / "blank.csv").write_text("\n\n\n")
    (tmp / "header.csv").write_text("a,b,y\n")
    (tmp / "nul.csv").write_bytes(b"a,b,y\n1,2,\x003\n" * 30)
    (tmp / "cp1252.csv").write_bytes(b"a,b,y\n" + "".join(f"{a},{b},{y}\n" for a, b, y in _rows()).encode()
                                     + "1,2,3 \u20ac\n".encode("cp1252"))
    (tmp / "ragged.csv").write_text("a,b,y\n1,2,3\n1,2\n")
    (tmp / "bad-bom.csv").write_bytes(b"\xff\xfea\x00,\x00y\x00\n\x00\x00\xd8")
    (tmp / "a-directory.csv").mkdir()
    return {
        "empty file": (tmp / "empty.csv", "empty.csv is empty; a CSV needs a header row and data rows"),
        "blank lines only": (tmp / "blank.csv", "blank.csv is empty"),
        "header only": (tmp / "header.csv", "header.csv has 0 usable row(s); losskit compare needs at least 20"),
        "one row": (_csv(tmp / "one.csv", header, _rows(1)), "one.csv has 1 usable row(s)"),
        "constant target": (_csv(tmp / "const.csv", header, [[i, i, 3.5] for i in range(40)]),
                            "regression target 'y' is constant (3.5)"),
        "single class": (_csv(tmp / "single.csv", ["a", "b", "y"], [[i, i, "cat"] for i in range(40)]),
                         "classification target 'y' has a single class ('cat')"),
        "non-UTF-8 (cp1252)": (tmp / "cp1252.csv", "cp1252.csv is not UTF-8: byte 0x80 on line 42"),
        "UTF-16 BOM, bad body": (tmp / "bad-bom.csv", "starts with a utf-16 byte-order mark but is not valid utf-16"),
        "NUL bytes": (tmp / "nul.csv", "nul.csv holds NUL characters"),
        "ragged rows": (tmp / "ragged.csv", "ragged.csv line 3 has 2 fields but the header has 3"),
        "duplicate columns": (_csv(tmp / "dupes.csv", ["a", "a", "y"], _rows()),
                              "dupes.csv has duplicate column name(s): a"),
        "huge target": (_csv(tmp / "huge.csv", header, [[a, b, y * 1e300] for a, b, y in _rows()]),
                        "regression target 'y' has values up to 1.65e+301; losskit compare refuses |target| > 1e150"),
        "infinite feature": (_csv(tmp / "inf.csv", header, [[a, "inf" if a == 3 else b, y] for a, b, y in _rows()]),
                             "non-numeric feature column(s) in inf.csv: b"),
        "no target column": (_csv(tmp / "notarget.csv", ["a", "b", "z"], _rows()),
                             "target column 'y' is not in notarget.csv; its columns are: a, b, z"),
        "semicolons, target missing": (_csv(tmp / "semi.csv", ["a", "b", "z"], _rows(), delimiter=";"),
                                       "target column 'y' is not in semi.csv; its columns are: a, b, z"),
        "a directory": (tmp / "a-directory.csv", "--csv {path} is a directory; give the data file itself"),
        "missing file": (tmp / "absent.csv", "file not found: {path}"),
    }


BAD_FILES = sorted([
    "empty file", "blank lines only", "header only", "one row", "constant target", "single class",
    "non-UTF-8 (cp1252)", "UTF-16 BOM, bad body", "NUL bytes", "ragged rows", "duplicate columns", "huge target",
    "infinite feature", "no target column", "semicolons, target missing", "a directory", "missing file",
])


@pytest.mark.parametrize("case", BAD_FILES)
def test_a_bad_file_is_one_line_exit_2_and_writes_nothing(case: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    path, expected = _bad_files(tmp_path)[case]
    out = tmp_path / "out"
    assert main(["compare", "--csv", str(path), "--target", "y", *FAST, "--out", str(out)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert expected.format(path=path) in line
    assert not out.exists()


@pytest.mark.parametrize("case", ["utf-8 BOM", "utf-16 BOM", "semicolons", "huge feature"])
def test_an_unusual_but_valid_file_is_read_like_a_plain_one(case: str, tmp_path: Path) -> None:
    """Loaded and split as the compare job does (the CLI path end to end is tests/test_cli.py's)."""
    from losskit.experiments.config import DataSource
    from losskit.experiments.datasets import load, prepare

    rows = [[a, b, y + 0.1 * a] for a, b, y in _rows()]
    plain = _csv(tmp_path / "plain.csv", ["a", "b", "y"], rows)
    path = tmp_path / "data.csv"
    if case == "utf-8 BOM":
        _csv(path, ["a", "b", "y"], rows, encoding="utf-8-sig")
    elif case == "utf-16 BOM":
        _csv(path, ["a", "b", "y"], rows, encoding="utf-16")
    elif case == "semicolons":
        _csv(path, ["a", "b", "y"], rows, delimiter=";")
    else:
        _csv(path, ["a", "b", "y"], [[a * 1e300, b * 1e-300, y] for a, b, y in rows])
    with _no_numpy_warnings():
        want, got = (prepare(load(DataSource(path=str(p), format="csv", target="y")), 0.25) for p in (plain, path))
    for name in ("x_train", "x_test", "y_train", "y_test"):
        torch.testing.assert_close(getattr(got, name), getattr(want, name), rtol=1e-6, atol=1e-6)


@contextlib.contextmanager
def _no_numpy_warnings() -> Iterator[None]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


# ------------------------------------------------------------------ bad option values

BAD_OPTIONS = {
    "seeds 0": (["--seeds", "0"], "--seeds must be at least 1"),
    "seeds negative": (["--seeds=-3"], "--seeds must be at least 1, got -3"),
    "epochs 0": (["--epochs", "0"], "--epochs must be at least 1"),
    "epochs text": (["--epochs", "many"], "invalid int value: 'many'"),
    "batch size 0": (["--batch-size", "0"], "--batch-size must be at least 1"),
    "lr nan": (["--lr", "nan"], "--lr must be a positive number, got nan"),
    "lr negative": (["--lr=-1"], "--lr must be a positive number"),
    "lr inf": (["--lr", "inf"], "--lr must be a positive number, got inf"),
    "test size 1": (["--test-size", "1"], "--test-size must be in (0, 1)"),
    "test size nan": (["--test-size", "nan"], "--test-size must be in (0, 1)"),
    "hidden 0": (["--hidden", "0"], "--hidden sizes must be at least 1"),
    "hidden text": (["--hidden", "a,b"], "--hidden 'a,b' is not a list of sizes"),
    "hidden empty": (["--hidden", ""], "is not a list of sizes"),
    "losses empty": (["--losses", ""], "--losses is empty; give at least one loss"),
    "losses blank": (["--losses", "  "], "--losses is empty"),
    "losses trailing comma": (["--losses", "mse,"], "has an empty entry"),
    "losses colon only": (["--losses", ":"], "empty loss name in ':'"),
    "loss unknown": (["--losses", "msee"], "unknown loss 'msee'"),
    "loss listed twice": (["--losses", "mse,mse"], "loss 'mse' is listed twice"),
    "option without value": (["--losses", "huber:delta"], "loss option 'delta' in 'huber:delta' is not KEY=VALUE"),
    "option twice": (["--losses", "huber:delta=1:delta=2"], "loss option 'delta' is given twice"),
    "option unknown": (["--losses", "huber:width=1"], "loss 'huber' has no option 'width'"),
    "option text": (["--losses", "huber:delta=big"], "loss 'huber:delta=big'"),
    "option nan": (["--losses", "huber:delta=nan"], "loss 'huber:delta=nan'"),
    "option inf": (["--losses", "huber:delta=inf"], "loss 'huber:delta=inf'"),
    "option negative": (["--losses", "huber:delta=-1"], "loss 'huber:delta=-1'"),
    "option 1e300": (["--losses", "huber:delta=1e300"], "delta=1e+300 is out of range"),
    "option -1e300": (["--losses", "barron:alpha=-1e300"], "alpha=-1e+300 is out of range"),
    "option huge int": (["--losses", "huber:delta=" + "9" * 400], "is out of range"),
    "option deep literal": (["--losses", "huber:delta=" + "(" * 200 + ")" * 200], "loss 'huber:delta="),
    "option extreme value": (["--losses", "cauchy:scale=1e-300"], "loss 'cauchy:scale=1e-300': scale=1e-300"),
    "corruption empty": (["--corruption", ""], "--corruption is empty"),
    "corruption 1": (["--corruption", "0,1"], "outside [0, 1)"),
    "corruption nan": (["--corruption", "nan"], "outside [0, 1)"),
    "corruption twice": (["--corruption", "0.1,0.1"], "lists a level twice"),
    "corruption text": (["--corruption", "0,some"], "'some' is not a number"),
    "noise kind of the other task": (["--noise-kind", "pair"], "--noise-kind pair does not apply to regression"),
    "noise kind unknown": (["--noise-kind", "loud"], "invalid choice: 'loud'"),
    "loss of the other task": (["--losses", "cross_entropy"], "is a classification loss"),
    "unknown flag": (["--bogus"], "unrecognized arguments: --bogus"),
}


@pytest.mark.parametrize("case", sorted(BAD_OPTIONS))
def test_a_bad_option_value_is_one_line_exit_2_and_writes_nothing(case: str, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    extra, expected = BAD_OPTIONS[case]
    out = tmp_path / "out"
    assert main(["compare", "--dataset", "diabetes", *FAST, *extra, "--out", str(out)]) == 2
    assert expected in _one_error_line(capsys.readouterr().err)
    assert not out.exists()


@pytest.mark.parametrize(("losses", "expected"), [
    ("", "--losses is empty"),
    ("huber:delta=1e300", "delta=1e+300 is out of range"),
    ("welsch:scale=1e300", "scale=1e+300 is out of range"),
    ("sce:A=-1e300", "A=-1e+300 is out of range"),
    ("huber:delta=1:delta=2", "given twice"),
    ("mse,bce", "bce is not one"),
])
def test_plot_refuses_bad_losses_in_one_line(losses: str, expected: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "x.png"
    assert main(["plot", "--losses", losses, "--out", str(target)]) == 2
    assert expected in _one_error_line(capsys.readouterr().err, "losskit plot")
    assert not target.exists()


# ------------------------------------------------------------------ hostile --out


@contextlib.contextmanager
def _tmpfs(path: Path, size: str, *options: str) -> Iterator[Path]:
    """A small tmpfs at ``path`` (root only); unmounted afterwards whatever happens."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join([f"size={size}", *options]), "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _remount(path: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(path)], check=True, capture_output=True)


def test_out_under_a_file_is_refused_and_the_file_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    afile = tmp_path / "afile"
    afile.write_text("keep")
    assert main(["compare", *JOB, "--out", str(afile / "sub")]) == 2
    assert f"{afile} is a file, not a directory" in _one_error_line(capsys.readouterr().err)
    assert main(["compare", *JOB, "--out", str(afile)]) == 2
    assert f"--out {afile} exists and is not a directory" in _one_error_line(capsys.readouterr().err)
    assert afile.read_text() == "keep"


def test_a_read_only_out_is_refused_before_training(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with _tmpfs(tmp_path / "ro", "64k", "ro") as mount:
        assert main(["compare", *JOB, "--out", str(mount / "run")]) == 2
        line = _one_error_line(capsys.readouterr().err)
        assert f"--out {mount / 'run'}: {mount} is on a read-only file system" in line
        assert main(["plot", "--losses", "mse", "--out", str(mount / "x.png")]) == 2
        line = _one_error_line(capsys.readouterr().err, "losskit plot")
        assert f"--out {mount / 'x.png'}: {mount} is on a read-only file system" in line
        assert not any(mount.iterdir())


def test_a_full_disk_is_exit_2_with_nothing_partial_and_the_rerun_recovers(
    tmp_path: Path, baseline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with _tmpfs(tmp_path / "full", "64k") as mount:
        out = mount / "run"
        assert main(["compare", *JOB, "--out", str(out)]) == 2
        line = _one_error_line(capsys.readouterr().err)
        assert f"cannot write {out}" in line and "No space left on device" in line
        assert "run the same command again to continue" in line
        _nothing_partial(out)
        _remount(mount, "size=32m")  # the user frees space
        assert main(["compare", *JOB, "--out", str(out)]) == 0
        assert _results(out) == _results(baseline)
        _nothing_partial(out)


def test_plot_on_a_full_disk_is_exit_2_and_keeps_the_old_image(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    with _tmpfs(tmp_path / "full", "16k") as mount:
        old = mount / "losses.png"
        old.write_bytes(b"\x89PNG old image")
        assert main(["plot", "--losses", "mse,huber", "--out", str(old)]) == 2
        line = _one_error_line(capsys.readouterr().err, "losskit plot")
        assert f"cannot write {old}: No space left on device" in line
        assert old.read_bytes() == b"\x89PNG old image"
        assert sorted(p.name for p in mount.iterdir()) == ["losses.png"]


# ------------------------------------------------------------------ truncated state


@pytest.mark.parametrize("damage", ["truncated chunk json", "truncated checkpoint"])
def test_damaged_state_is_recomputed_and_the_rerun_matches(damage: str, tmp_path: Path, baseline: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    shutil.copytree(baseline, out)
    chunk = out / "state" / "chunk-0000.json"
    if damage == "truncated chunk json":  # what a crash mid-write (without atomic writes) leaves
        chunk.write_bytes(chunk.read_bytes()[: len(chunk.read_bytes()) // 2])
    else:  # a crash mid-chunk: no finished chunk, and a checkpoint cut short
        chunk.unlink()
        (out / "state" / "chunk-0000.pt").write_bytes(b"PK\x03\x04 cut short")
    assert main(["compare", *JOB, "--out", str(out)]) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert _results(out) == _results(baseline)
    assert list((out / "state").glob("*.corrupt"))
    _nothing_partial(out)


@pytest.mark.parametrize("damage", ["truncated", "empty", "not an object"])
def test_an_unreadable_config_json_is_refused_in_one_line_and_force_is_offered(
    damage: str, tmp_path: Path, baseline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    shutil.copytree(baseline, out)
    config = out / "config.json"
    config.write_bytes({"truncated": config.read_bytes()[:40], "empty": b"", "not an object": b"[1, 2]"}[damage])
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert main(["compare", *JOB, "--out", str(out)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "holds an unreadable config.json (damaged or cut short); use --force to start the run over" in line
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


# ------------------------------------------------------------------ signals, in real processes

# moment -> (signal, the cue to wait for before sending it)
MOMENTS = {
    "SIGINT during start-up": (signal.SIGINT, "import"),
    "SIGTERM during start-up": (signal.SIGTERM, "import"),
    "SIGINT during training": (signal.SIGINT, "config"),
    "SIGTERM during training": (signal.SIGTERM, "config"),
    "SIGINT during the final writes": (signal.SIGINT, "results"),
    "SIGINT at the very end": (signal.SIGINT, "report"),
}


def _default_signals() -> None:
    """In the child: SIGINT/SIGTERM at their defaults, even if the test runner's parent ignores them."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _attack(moment: str, out: Path) -> dict[str, Any]:
    """Start ``losskit compare``, wait for the moment's cue, send the signal; return code, stderr, stdout."""
    signum, cue = MOMENTS[moment]
    proc = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "losskit", "compare", *JOB, "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_signals)
    err: list[str] = []
    outl: list[str] = []
    seen = threading.Event()

    def read(stream: Any, sink: list[str], marker: str | None) -> None:
        for line in stream:
            sink.append(line)
            if marker is not None and marker in line:
                seen.set()

    # start-up: the line -X importtime prints once losskit._usage (the first thing losskit imports) is loaded
    readers = [threading.Thread(target=read, args=(proc.stderr, err, "losskit._usage" if cue == "import" else None)),
               threading.Thread(target=read, args=(proc.stdout, outl, "report:" if cue == "report" else None))]
    for r in readers:
        r.start()
    files = {"config": out / "config.json", "results": out / "results.csv"}
    deadline = time.monotonic() + 240
    while proc.poll() is None and time.monotonic() < deadline:
        if seen.is_set() or (cue in files and files[cue].exists()):
            proc.send_signal(signum)
            break
        time.sleep(0.005)
    code = proc.wait(timeout=240)
    for r in readers:
        r.join()
    return {"code": code, "err": "".join(err), "out": "".join(outl)}


@pytest.fixture(scope="session")
def attacked(shared: Path) -> dict[str, Any]:
    """Every signal moment, in processes started together; done once per session (shared by the workers)."""
    record = shared / "attack-signals.json"
    with FileLock(str(shared / "attack-signals.lock")):
        if not record.is_file():
            outs = {m: shared / f"attack-{k}" for k, m in enumerate(MOMENTS)}
            results: dict[str, Any] = {}
            threads = [threading.Thread(target=lambda m=m: results.__setitem__(m, _attack(m, outs[m])))
                       for m in MOMENTS]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for m in MOMENTS:
                results[m]["path"] = str(outs[m])
            record.write_text(json.dumps(results))
    return json.loads(record.read_text())


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_a_signal_at_any_moment_exits_130_or_143_and_the_rerun_matches(
    moment: str, attacked: dict[str, Any], baseline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signum, cue = MOMENTS[moment]
    outcome = attacked[moment]
    code, err = outcome["code"], outcome["err"]
    expected = 143 if signum == signal.SIGTERM else 130
    if cue == "report" and code == 0:
        assert "report:" in outcome["out"]  # the process ended before the signal: a finished run, nothing to redo
    else:
        assert code == expected, err
        line = _one_error_line(err, "losskit")
        assert ": interrupted; run the same command again to continue" in line
    source = Path(outcome["path"])
    _nothing_partial(source)
    if cue == "import":
        assert not source.exists()  # nothing was written; the rerun is a fresh run
        return
    out = tmp_path / "rerun"
    shutil.copytree(source, out)
    assert main(["compare", *JOB, "--out", str(out)]) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert _results(out) == _results(baseline)


def test_a_closed_stdout_ends_quietly_with_exit_1() -> None:
    """``losskit list | head -1``: the reader goes away; no BrokenPipeError traceback, nothing on stderr."""
    proc = subprocess.Popen([sys.executable, "-m", "losskit", "list"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=_default_signals)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the child writes a byte
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=240) == 1, err
    assert err == ""
