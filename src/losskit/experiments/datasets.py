"""The data of a compare job: scikit-learn's bundled sets, or the user's CSV / Parquet file.

Every problem with the data raises :class:`~losskit._usage.UsageError`
with a one-line message, before any output is written.

CSV encodings: a byte-order mark selects UTF-8, UTF-16 or UTF-32; without one
the file must be UTF-8 (ASCII included). Anything else (latin-1, cp1252,
UTF-16 without a BOM) is refused with a message naming the file, the first bad
byte and how to convert it, rather than guessed. The delimiter is the comma,
or ``;`` / tab when the header holds one of those and no comma.

Magnitudes: features of any finite size are standardised with a scale-safe
mean and SD (a column times 1e300 trains exactly like the column itself); a
regression target must stay within ±MAX_TARGET, so that squared errors in
the target's own units (test RMSE) stay finite, and is refused otherwise.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn import datasets as skd
from sklearn.model_selection import train_test_split

from .._usage import UsageError, one_line
from .config import DataSource

__all__ = ["BUNDLED", "MIN_ROWS", "Dataset", "Prepared", "load", "prepare"]

BUNDLED: dict[str, str] = {
    "diabetes": "regression",
    "digits": "classification",
    "breast_cancer": "classification",
    "wine": "classification",
    "iris": "classification",
}
MIN_ROWS = 20
# a numeric target with at most this many distinct integer values is taken as class labels ...
MAX_INFERRED_CLASSES = 20
# ... unless it has fewer rows than this per distinct value: then it is a count or a measurement
MIN_ROWS_PER_INFERRED_CLASS = 5
# |regression target| beyond this would overflow squared errors (test RMSE) in float64
MAX_TARGET = 1e150
_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
_MISSING = frozenset({"", "na", "nan", "n/a", "null", "none"})

Cell = str | float | int | None


@dataclass(frozen=True)
class Dataset:
    """A loaded, checked dataset. ``y`` holds class codes 0..C-1 (int64) or real targets (float64)."""

    name: str
    task: str
    x: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    target_name: str
    classes: tuple[str, ...] | None
    digest: str
    notes: tuple[str, ...] = ()

    @property
    def num_classes(self) -> int:
        return len(self.classes) if self.classes is not None else 0


# ------------------------------------------------------------------ loading


def load(source: DataSource) -> Dataset:
    """Load and check the data ``source`` names."""
    if source.dataset is not None:
        return _load_bundled(source)
    assert source.path is not None and source.target is not None
    path = Path(source.path)
    flag = f"--{source.format or 'csv'}"
    if path.is_dir():
        raise UsageError(f"{flag} {source.path} is a directory; give the data file itself.")
    if not path.exists():
        raise UsageError(f"file not found: {source.path}")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise UsageError(f"cannot read {source.path}: {err.strerror or err}.") from None
    columns = _read_parquet(path) if source.format == "parquet" else _read_csv(path, raw)
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    return _from_columns(columns, source, path.name, digest)


def _load_bundled(source: DataSource) -> Dataset:
    name = source.dataset or ""
    if name not in BUNDLED:
        raise UsageError(f"unknown dataset {name!r}; bundled datasets: {', '.join(sorted(BUNDLED))}.")
    task = BUNDLED[name]
    if source.task is not None and source.task != task:
        raise UsageError(f"dataset {name!r} is a {task} dataset; drop --task {source.task} or use another dataset.")
    bunch = getattr(skd, f"load_{name}")()
    x = np.asarray(bunch.data, dtype=np.float64)
    features = tuple(str(f) for f in getattr(bunch, "feature_names", [f"x{i}" for i in range(x.shape[1])]))
    if task == "classification":
        y = np.asarray(bunch.target, dtype=np.int64)
        classes = tuple(str(c) for c in getattr(bunch, "target_names", range(int(y.max()) + 1)))
    else:
        y = np.asarray(bunch.target, dtype=np.float64)
        classes = None
    return Dataset(name, task, x, y, features, "target", classes, f"sklearn-{sklearn.__version__}:{name}")


def _decode(path: Path, raw: bytes) -> tuple[str, str]:
    """The text of a CSV file and the encoding used: by its byte-order mark, else strict UTF-8."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(encoding), encoding.replace("-sig", "") + " (with BOM)"
            except UnicodeDecodeError as err:
                raise UsageError(
                    f"{path} starts with a {encoding} byte-order mark but is not valid {encoding} "
                    f"(byte {err.start}); save it again as UTF-8."
                ) from None
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        hint = ("it looks like UTF-16 without a byte-order mark" if raw[:2000].count(0) > len(raw[:2000]) // 4
                else f"byte 0x{raw[err.start]:02x} on line {line} is not UTF-8 (latin-1 or cp1252?)")
        raise UsageError(
            f"{path} is not UTF-8: {hint}; losskit reads UTF-8, or UTF-16/32 with a byte-order mark. "
            f"Convert it, e.g. iconv -f latin1 -t utf-8 {path.name} > {path.stem}-utf8.csv"
        ) from None


def _delimiter(text: str) -> str:
    header = text.split("\n", 1)[0]
    if "," in header:
        return ","
    return next((d for d in (";", "\t") if d in header), ",")


def _read_csv(path: Path, raw: bytes) -> dict[str, list[Cell]]:
    text, encoding = _decode(path, raw)
    if "\0" in text:
        raise UsageError(f"{path} holds NUL characters as {encoding}; is it a CSV text file?")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        rows = list(reader)
    except csv.Error as err:
        limit = csv.field_size_limit()
        why = (f"a field is longer than {limit:,} characters" if "field larger" in str(err)
               else one_line(err))
        raise UsageError(f"{path} line {reader.line_num} cannot be read as CSV: {why}.") from None
    rows = [r for r in rows if r]  # skip blank lines
    if not rows:
        raise UsageError(f"{path} is empty; a CSV needs a header row and data rows.")
    header = [h.strip() for h in rows[0]]
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise UsageError(f"{path} line {i} has {len(row)} fields but the header has {len(header)}.")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise UsageError(f"{path} has duplicate column name(s): {', '.join(dupes)}.")
    return {h: [r[j] for r in rows[1:]] for j, h in enumerate(header)}


def _read_parquet(path: Path) -> dict[str, list[Cell]]:
    try:
        import pandas as pd
    except ImportError:
        raise UsageError("reading Parquet needs pandas and pyarrow: pip install 'losskit[parquet]'.") from None
    try:
        frame = pd.read_parquet(path)
    except ImportError:
        raise UsageError("reading Parquet needs pyarrow: pip install 'losskit[parquet]'.") from None
    except Exception as err:  # a corrupt or non-Parquet file
        raise UsageError(f"cannot read {path} as Parquet: {str(err).splitlines()[0]}") from None
    out: dict[str, list[Cell]] = {}
    for name in frame.columns:
        col = frame[name]
        out[str(name)] = [None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for v in col.tolist()]
    return out


# ------------------------------------------------------------------ checks


def _is_missing(cell: Cell) -> bool:
    if cell is None:
        return True
    if isinstance(cell, float):
        return math.isnan(cell)
    return isinstance(cell, str) and cell.strip().lower() in _MISSING


def _to_float(cell: Cell) -> float | None:
    """The number in a cell, or None when it is not numeric."""
    if isinstance(cell, bool):
        return float(cell)
    if isinstance(cell, (int, float)):
        return float(cell)
    try:
        value = float(str(cell).strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _numeric(cells: Sequence[Cell], missing: np.ndarray) -> np.ndarray | None:
    """The column as float64 (NaN where missing), or None if a present cell is not a finite number."""
    out = np.full(len(cells), np.nan)
    for i, cell in enumerate(cells):
        if missing[i]:
            continue
        value = _to_float(cell)
        if value is None:
            return None
        out[i] = value
    return out


def _from_columns(columns: dict[str, list[Cell]], source: DataSource, name: str, digest: str) -> Dataset:
    target = source.target
    if target not in columns:
        shown = ", ".join(list(columns)[:20]) + (", ..." if len(columns) > 20 else "")
        raise UsageError(f"target column {target!r} is not in {name}; its columns are: {shown}.")
    features = [c for c in columns if c != target]
    if not features:
        raise UsageError(f"{name} has no feature columns besides the target {target!r}.")
    missing = {c: np.array([_is_missing(v) for v in cells], dtype=bool) for c, cells in columns.items()}
    numeric = {c: _numeric(columns[c], missing[c]) for c in features}
    bad = [c for c in features if numeric[c] is None]
    if bad:
        raise UsageError(
            f"non-numeric feature column(s) in {name}: {', '.join(bad)}; encode them as numbers or drop them."
        )
    any_missing = np.zeros(len(columns[target]), dtype=bool)
    for m in missing.values():
        any_missing |= m
    notes: list[str] = []
    if any_missing.any():
        counts = {c: int(m.sum()) for c, m in missing.items() if m.any()}
        if not source.dropna:
            detail = ", ".join(f"{c}: {n}" for c, n in counts.items())
            raise UsageError(
                f"{name} has {sum(counts.values())} missing cell(s) in {int(any_missing.sum())} row(s) "
                f"({detail}); pass --dropna to drop those rows."
            )
        notes.append(f"dropped {int(any_missing.sum())} row(s) with missing cells (--dropna)")
    keep = ~any_missing
    n = int(keep.sum())
    if n < MIN_ROWS:
        raise UsageError(f"{name} has {n} usable row(s); losskit compare needs at least {MIN_ROWS}.")
    x = np.stack([numeric[c][keep] for c in features], axis=1)  # type: ignore[index]
    raw_target = [v for v, k in zip(columns[target], keep, strict=True) if k]
    task, y, classes, note = _target(raw_target, target, source.task)
    if note:
        notes.append(note)
    return Dataset(name, task, x, y, tuple(features), target, classes, digest, tuple(notes))


def _target(
    cells: list[Cell], target: str, task: str | None
) -> tuple[str, np.ndarray, tuple[str, ...] | None, str | None]:
    values = _numeric(cells, np.zeros(len(cells), dtype=bool))
    note = None
    if task is None:
        if values is None:
            task, why = "classification", f"target {target!r} is not numeric"
        else:
            distinct = np.unique(values)
            # integers beyond 2**31 (a column times 1e300) are no class codes
            integer = bool(np.all(distinct == np.round(distinct))) and float(np.abs(distinct).max()) < 2**31
            few = len(distinct) <= min(MAX_INFERRED_CLASSES, len(values) / MIN_ROWS_PER_INFERRED_CLASS)
            if integer and few:
                task, why = "classification", f"target {target!r} has {len(distinct)} distinct integer values"
            elif integer and len(distinct) <= MAX_INFERRED_CLASSES:
                task, why = "regression", (f"target {target!r} has {len(distinct)} distinct integer values in "
                                           f"{len(values)} rows, too many for classes")
            else:
                task, why = "regression", f"target {target!r} has {len(distinct)} distinct numeric values"
        other = "regression" if task == "classification" else "classification"
        note = f"inferred task: {task} ({why}; pass --task {other} to override)"
    if task == "regression":
        if values is None:
            example = next(c for c in cells if _to_float(c) is None)
            raise UsageError(
                f"regression target {target!r} is not numeric (e.g. {example!r}); use --task classification."
            )
        if np.all(values == values[0]):
            raise UsageError(f"regression target {target!r} is constant ({values[0]:g}); there is nothing to learn.")
        top = float(np.abs(values).max())
        if top > MAX_TARGET:
            raise UsageError(
                f"regression target {target!r} has values up to {top:.3g}; losskit compare refuses |target| > 1e150, "
                "whose squared errors overflow. Rescale the column (e.g. divide it by "
                f"1e{math.floor(math.log10(top))}) and rerun."
            )
        return task, values, None, note
    if values is not None and np.all(values == np.round(values)):
        keys: list[str] = [str(int(v)) for v in values]
        order = sorted(set(keys), key=int)
    else:
        keys = [str(c).strip() for c in cells]
        order = sorted(set(keys))
    if len(order) < 2:
        raise UsageError(f"classification target {target!r} has a single class ({order[0]!r}); it needs at least 2.")
    code = {k: i for i, k in enumerate(order)}
    y = np.array([code[k] for k in keys], dtype=np.int64)
    counts = np.bincount(y, minlength=len(order))
    if counts.min() < 2:
        rare = order[int(counts.argmin())]
        raise UsageError(
            f"class {rare!r} of target {target!r} has only {int(counts.min())} row; every class needs at least 2 "
            "(one for training, one for testing)"
            + ("; if the target is a quantity, pass --task regression." if values is not None else ".")
        )
    return task, y, tuple(order), note


# ------------------------------------------------------------------ split


@dataclass(frozen=True)
class Prepared:
    """The fixed train/test split as float32 tensors, standardised with training statistics.

    Regression targets are standardised with the *clean* training split's mean
    and SD (``y_mean``, ``y_scale``), the same for every corruption level;
    ``y_test`` stays in original units for the metrics.
    """

    task: str
    x_train: torch.Tensor
    x_test: torch.Tensor
    y_train: torch.Tensor  # standardised float32, or int64 codes
    y_test: torch.Tensor  # original units float64, or int64 codes
    y_mean: float
    y_scale: float
    num_classes: int

    @property
    def n_out(self) -> int:
        return self.num_classes if self.task == "classification" else 1


SPLIT_SEED = 0


def prepare(data: Dataset, test_size: float) -> Prepared:
    """Split with a fixed seed (stratified for classification) and standardise."""
    n = len(data.y)
    n_test = math.ceil(test_size * n)
    n_train = n - n_test
    need = max(data.num_classes, 2)
    if n_test < need or n_train < need:
        raise UsageError(
            f"a test fraction of {test_size} leaves {n_train} training and {n_test} test rows; "
            f"each needs at least {need}."
        )
    index = np.arange(n)
    stratify = data.y if data.task == "classification" else None
    train, test = train_test_split(index, test_size=n_test, random_state=SPLIT_SEED, stratify=stratify)
    x = _standardise(data.x, train)
    as32 = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    if data.task == "regression":
        y_mu, y_sd = _mean_sd(data.y[train])
        if y_sd == 0:
            raise UsageError(f"regression target {data.target_name!r} is constant on the training split.")
        y_train = as32((data.y[train] - y_mu) / y_sd)
        y_test = torch.tensor(data.y[test], dtype=torch.float64)
    else:
        y_mu, y_sd = 0.0, 1.0
        y_train = torch.tensor(data.y[train])
        y_test = torch.tensor(data.y[test])
    return Prepared(data.task, as32(x[train]), as32(x[test]), y_train, y_test, y_mu, y_sd, data.num_classes)


# columns whose largest magnitude is within [1e-100, 1e100] are standardised as they are (bitwise the plain
# formula); others are first divided by that magnitude, so that squares in the SD neither overflow nor underflow
_RESCALE_OUTSIDE = (1e-100, 1e100)


def _unit_scale(values: np.ndarray) -> np.ndarray:
    top = np.abs(values).max(0) if values.size else np.zeros(values.shape[1:])
    lo, hi = _RESCALE_OUTSIDE
    return np.where((top > hi) | ((top > 0) & (top < lo)), top, 1.0)


def _mean_sd(values: np.ndarray) -> tuple[float, float]:
    """Mean and SD without overflow: a huge column is divided by its largest magnitude first, then scaled back."""
    scale = float(_unit_scale(values))
    unit = values / scale if scale != 1.0 else values
    return float(unit.mean()) * scale, float(unit.std()) * scale


def _standardise(x: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Each feature minus its training mean, over its training SD (1 for a constant one), at any finite magnitude."""
    scale = _unit_scale(x[train])
    unit = x / scale if (scale != 1.0).any() else x
    mu, sd = unit[train].mean(0), unit[train].std(0)
    return (unit - mu) / np.where(sd > 0, sd, 1.0)
