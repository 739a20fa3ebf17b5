"""The ``--out`` directory of a compare job: atomic writes, the config fingerprint, and resumable state.

Layout::

    config.json          the configuration and its fingerprint (written first)
    state/chunk-0000.json  a finished chunk of runs: its rows and per-run numbers
    state/chunk-0000.pt    an unfinished chunk's checkpoint (weights, optimizer, rows so far)
    results.csv, runs.csv, summary.csv, report.md, figures/*.png   views rebuilt from state/

Every file is written to a temporary name in the same directory and moved into
place with :func:`os.replace`, so a reader (or a rerun after a kill) never sees
a half-written file. A chunk counts as finished exactly when its ``.json``
exists and reads back whole, so a rerun neither redoes nor duplicates it; a
state file that does not read back (truncated by a crash or a full disk in
an older version, or edited by hand) is set aside as ``*.corrupt`` and its
chunk recomputed, which gives the same numbers.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

from .._usage import UsageError
from .config import fingerprint

__all__ = ["OWNED", "Store", "atomic_write", "check_writable"]

OWNED = ("config.json", "results.csv", "runs.csv", "summary.csv", "claims.csv", "report.md", "figures", "state")


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` is either the old file or the whole new one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:  # a full disk, a read-only mount, Ctrl-C: the old file stays, the temporary goes
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(err, OSError) and err.filename in (None, str(tmp)):  # name the file the user asked for
            raise OSError(err.errno, err.strerror, str(path)) from None
        raise


def check_writable(out: Path, flag: str = "--out", shown: Path | None = None) -> None:
    """Refuse, before anything is written, an output directory that cannot be created or written.

    ``out`` may not exist yet; its nearest existing ancestor must be a writable directory. Messages
    name ``shown`` (default ``out``), e.g. the file to be written in ``out``.
    """
    out = Path(out)
    name = shown if shown is not None else out
    if out.exists() and not out.is_dir():
        raise UsageError(f"{flag} {out} exists and is not a directory.")
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{flag} {name}: {existing} is a file, not a directory; choose another {flag}.")
    if not os.access(existing, os.W_OK | os.X_OK):
        why = "is on a read-only file system" if _read_only(existing) else "is not writable"
        raise UsageError(f"{flag} {name}: {existing} {why}; choose another {flag}.")


def _read_only(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def csv_bytes(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["nan" if isinstance(v, float) and v != v else v for v in row])
    return buf.getvalue().encode()


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


class Store:
    """The files of one ``--out`` directory."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.state = self.out / "state"
        self.recovered: list[str] = []  # state files that did not read back and were set aside

    # -------------------------------------------------------------- config

    def check(self, description: dict[str, Any], *, force: bool) -> str:
        """Decide, without writing anything, whether the job may use ``--out``.

        Returns ``"new"``, ``"resume"`` (same configuration) or ``"overwrite"`` (``--force``);
        raises :class:`UsageError` for a different configuration without ``--force``.
        """
        check_writable(self.out)
        if not self.out.exists() or not any(self.out.iterdir()):
            return "new"
        config = self.out / "config.json"
        if not config.is_file():
            if force:
                return "overwrite"
            raise UsageError(
                f"--out {self.out} is not empty and holds no losskit compare run (no config.json); "
                "choose a new directory or pass --force."
            )
        try:
            old = json.loads(config.read_text())
        except (OSError, ValueError):
            old = None
        if not isinstance(old, dict):
            if force:
                return "overwrite"
            raise UsageError(
                f"--out {self.out} holds an unreadable config.json (damaged or cut short); "
                "use --force to start the run over there, or another --out."
            )
        if old.get("fingerprint") == fingerprint(description):
            return "resume"
        if force:
            return "overwrite"
        before, after = _flatten(old.get("config", {})), _flatten(json.loads(json.dumps(description, default=str)))
        changed = [k for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]
        detail = "; ".join(f"{k}: {before.get(k)} → {after.get(k)}" for k in changed[:4])
        raise UsageError(
            f"--out {self.out} holds a run with a different configuration ({detail or 'unreadable config.json'}); "
            "use another --out, or --force to replace it."
        )

    def init(self, description: dict[str, Any], mode: str) -> None:
        """Create the directory (clearing losskit's own files for ``"overwrite"``) and write config.json."""
        self.out.mkdir(parents=True, exist_ok=True)
        if mode == "overwrite":
            for name in OWNED:
                target = self.out / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        self.state.mkdir(exist_ok=True)
        if mode != "resume":
            payload = {"fingerprint": fingerprint(description), "config": description}
            atomic_write(self.out / "config.json", json.dumps(payload, indent=2, default=str).encode())

    # -------------------------------------------------------------- chunks

    def _chunk(self, i: int, ext: str) -> Path:
        return self.state / f"chunk-{i:04d}.{ext}"

    def finished(self, i: int) -> dict[str, Any] | None:
        """A finished chunk's payload, or None when it is not finished (or its file does not read back)."""
        path = self._chunk(i, "json")
        if not path.is_file():
            return None
        try:
            payload = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError):
            payload = None
        if not isinstance(payload, dict):
            self._set_aside(path)
            return None
        return payload

    def save_finished(self, i: int, payload: dict[str, Any]) -> None:
        atomic_write(self._chunk(i, "json"), json.dumps(payload).encode())
        self._chunk(i, "pt").unlink(missing_ok=True)

    def checkpoint(self, i: int) -> dict[str, Any] | None:
        """An unfinished chunk's checkpoint, or None (none saved, or one that does not load: start the chunk over)."""
        path = self._chunk(i, "pt")
        if not path.is_file():
            return None
        try:
            state = torch.load(path, weights_only=True)
        except Exception:  # truncated or not a torch file: torch raises several kinds
            state = None
        if not isinstance(state, dict):
            self._set_aside(path)
            return None
        return state

    def save_checkpoint(self, i: int, state: dict[str, Any]) -> None:
        buf = io.BytesIO()
        torch.save(state, buf)
        atomic_write(self._chunk(i, "pt"), buf.getvalue())

    def _set_aside(self, path: Path) -> None:
        """Keep an unreadable state file for inspection, out of the way of the rerun that recomputes it."""
        os.replace(path, path.with_name(path.name + ".corrupt"))
        self.recovered.append(path.name)

    # -------------------------------------------------------------- views

    def write_csv(self, name: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
        path = self.out / name
        atomic_write(path, csv_bytes(columns, rows))
        return path

    def write_text(self, name: str, text: str) -> Path:
        path = self.out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text.encode())
        return path
