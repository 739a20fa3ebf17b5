"""The package as users get it: the sdist runs the tests, the wheel installs into a fresh venv and works.

The test copies the tracked tree to a temporary folder, builds the sdist
from the copy, builds the wheel *from the unpacked sdist* (so the sdist is
complete enough to build), and installs the wheel with ``--no-deps`` into a
fresh virtual environment outside the tree, created without system site
packages. losskit's dependencies (torch, numpy, ...) are not downloaded again:
a ``.pth`` file appends this interpreter's site-packages *after* the fresh
environment's own, as a plain path, so the editable install of the
development tree found there is not activated (``.pth`` files in an appended
path are not processed) and ``PYTHONPATH`` is cleared. The test checks that
``losskit`` is imported from the fresh environment, never from the source
tree, and then runs the console script ``losskit --help``
and one test file of the sdist against the installed wheel.

Building needs setuptools >= 77 (SPDX ``license = "MIT"``) in this
environment, which the ``dev`` extra's ``build`` brings; the build runs without
isolation, so no network is needed.
"""

from __future__ import annotations

import email
import os
import shutil
import site
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SKIP = {".git", ".venv", "runs", "build", "dist", "site", "__pycache__", ".pytest_cache", ".ruff_cache",
        ".mypy_cache", ".hypothesis", "out"}


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _copy_tree(dest: Path) -> Path:
    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n in SKIP or n.endswith((".egg-info", ".pyc"))}

    shutil.copytree(ROOT, dest, ignore=ignore)
    return dest


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("pkg")
    src = _copy_tree(tmp / "src")
    dist = tmp / "dist"
    _run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(dist), str(src)], tmp)
    (sdist,) = dist.glob("losskit-*.tar.gz")
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp / "unpacked", filter="data")
    (unpacked,) = (tmp / "unpacked").iterdir()
    _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(unpacked)], tmp)
    (wheel,) = dist.glob("losskit-*.whl")
    return {"tmp": tmp, "sdist": sdist, "unpacked": unpacked, "wheel": wheel}


def test_sdist_holds_what_the_tests_need(built: dict[str, Path]) -> None:
    with tarfile.open(built["sdist"]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    wanted = {str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("*.py")}
    wanted |= {str(p.relative_to(ROOT)) for p in (ROOT / "benchmarks").glob("*.py")}
    wanted |= {"LICENSE", "README.md", "CHANGELOG.md", "Makefile", "pyproject.toml", "src/losskit/py.typed"}
    missing = sorted(wanted - names)
    assert not missing, f"the sdist lacks {missing}"
    assert "tests/conftest.py" in names


def test_wheel_metadata(built: dict[str, Path]) -> None:
    import losskit

    with zipfile.ZipFile(built["wheel"]) as whl:
        names = set(whl.namelist())
        (meta_name,) = (n for n in names if n.endswith(".dist-info/METADATA"))
        meta = email.message_from_bytes(whl.read(meta_name))
    assert "losskit/py.typed" in names and "losskit/functional/fused/elementwise.c" in names
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert meta["Version"] == losskit.__version__
    assert meta["License-Expression"] == "MIT"
    assert "Typing :: Typed" in meta.get_all("Classifier")
    assert {u.split(",")[0] for u in meta.get_all("Project-URL")} >= {"Documentation", "Source", "Changelog"}
    assert any(r.startswith("transformers") and "extra == \"hf\"" in r for r in meta.get_all("Requires-Dist"))


def test_wheel_in_a_fresh_venv(built: dict[str, Path]) -> None:
    env_dir = built["tmp"] / "venv"
    venv.create(env_dir, with_pip=False, system_site_packages=False, symlinks=True)
    py = env_dir / "bin" / "python"
    fresh_site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], built["tmp"])
                      .strip())
    # dependencies from this interpreter's site-packages, appended after the fresh ones (no download)
    (fresh_site / "_losskit_test_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "--no-compile", "-q",
          str(built["wheel"])], built["tmp"], env)

    where = _run([str(py), "-c", "import losskit, losskit.functional as LF, torch; "
                  "print(losskit.__version__); print(losskit.__file__); "
                  "print(float(LF.huber_loss(torch.tensor([3.0]), torch.tensor([0.0]))))"], built["tmp"], env)
    version, file, value = where.split()
    import losskit

    assert version == losskit.__version__
    assert Path(file).is_relative_to(fresh_site), f"losskit imported from {file}, not the fresh venv"
    assert float(value) == 2.5
    assert (Path(file).parent / "py.typed").is_file()

    cli = env_dir / "bin" / "losskit"
    help_text = _run([str(cli), "--help"], built["tmp"], env)
    assert "compare" in help_text and "plot" in help_text and "list" in help_text

    # a test file of the sdist, run against the installed wheel (not the sdist's src/)
    unpacked = built["unpacked"]
    shutil.rmtree(unpacked / "src")
    out = _run([str(py), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_registry_names.py"],
               unpacked, env)
    assert " passed" in out and "failed" not in out
