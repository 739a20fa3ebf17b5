"""Datasets: bundled sets, CSV/Parquet loading with task inference, every bad-input check, the fixed split."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn import datasets as skd

from losskit.experiments.config import DataSource, UsageError
from losskit.experiments.datasets import BUNDLED, MIN_ROWS, load, prepare


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _iris_csv(path: Path, *, species_names: bool = True) -> Path:
    bunch = skd.load_iris()
    names = list(bunch.target_names)
    rows = [[*x, names[t] if species_names else int(t)] for x, t in zip(bunch.data, bunch.target, strict=True)]
    return _write_csv(path, ["sl", "sw", "pl", "pw", "species"], rows)


def _diabetes_csv(path: Path) -> Path:
    x, y = skd.load_diabetes(return_X_y=True)
    header = [f"f{i}" for i in range(x.shape[1])] + ["progression"]
    return _write_csv(path, header, [[*a, b] for a, b in zip(x, y, strict=True)])


def _csv(path: Path, target: str, **kw: object) -> DataSource:
    return DataSource(path=str(path), format="csv", target=target, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_bundled_datasets_match_sklearn(name: str) -> None:
    data = load(DataSource(dataset=name))
    x, y = getattr(skd, f"load_{name}")(return_X_y=True)
    assert data.task == BUNDLED[name]
    np.testing.assert_array_equal(data.x, x)
    np.testing.assert_array_equal(data.y, y)


def test_csv_with_string_classes_infers_classification_and_says_so(tmp_path: Path) -> None:
    data = load(_csv(_iris_csv(tmp_path / "iris.csv"), "species"))
    assert data.task == "classification"
    assert data.classes == ("setosa", "versicolor", "virginica")
    assert np.bincount(data.y).tolist() == [50, 50, 50]
    assert any("inferred task: classification" in n and "--task regression" in n for n in data.notes)


def test_csv_with_integer_labels_infers_classification(tmp_path: Path) -> None:
    data = load(_csv(_iris_csv(tmp_path / "iris.csv", species_names=False), "species"))
    assert data.task == "classification" and data.classes == ("0", "1", "2")


def test_csv_with_real_target_infers_regression_and_matches_sklearn(tmp_path: Path) -> None:
    data = load(_csv(_diabetes_csv(tmp_path / "d.csv"), "progression"))
    x, y = skd.load_diabetes(return_X_y=True)
    assert data.task == "regression"
    np.testing.assert_allclose(data.x, x, rtol=1e-12)
    np.testing.assert_allclose(data.y, y)
    assert any("inferred task: regression" in n for n in data.notes)


def test_integer_target_with_many_values_per_row_infers_regression(tmp_path: Path) -> None:
    """statsmodels' stackloss: 21 rows, an integer target with 14 distinct values, is a measurement, not classes."""
    stack = [42, 37, 37, 28, 18, 18, 19, 20, 15, 14, 14, 13, 11, 12, 8, 7, 8, 8, 9, 15, 15]
    path = tmp_path / "stackloss.csv"
    path.write_text("air,loss\n" + "".join(f"{i * 1.5 + 50},{v}\n" for i, v in enumerate(stack)))
    data = load(_csv(path, "loss"))
    assert data.task == "regression"
    assert any("14 distinct integer values in 21 rows" in n and "--task classification" in n for n in data.notes)
    # forced to classes, the single-row classes are refused with the way back named
    _bad(_csv(path, "loss", task="classification"), "only 1 row.*--task regression")


def test_task_flag_overrides_inference(tmp_path: Path) -> None:
    data = load(_csv(_iris_csv(tmp_path / "i.csv", species_names=False), "species", task="regression"))
    assert data.task == "regression" and not data.notes


def test_parquet_loads_like_csv(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    path = _iris_csv(tmp_path / "iris.csv")
    pd.read_csv(path).to_parquet(tmp_path / "iris.parquet")
    a = load(_csv(path, "species"))
    b = load(DataSource(path=str(tmp_path / "iris.parquet"), format="parquet", target="species"))
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)


# ------------------------------------------------------------------ bad input


def _bad(source: DataSource, match: str) -> str:
    with pytest.raises(UsageError, match=match) as err:
        load(source)
    message = str(err.value)
    assert "\n" not in message
    return message


def test_unknown_dataset_lists_the_valid_ones() -> None:
    message = _bad(DataSource(dataset="mnist"), "unknown dataset 'mnist'")
    for name in BUNDLED:
        assert name in message


def test_bundled_dataset_with_the_wrong_task() -> None:
    _bad(DataSource(dataset="diabetes", task="classification"), "regression dataset")


def test_missing_file(tmp_path: Path) -> None:
    _bad(_csv(tmp_path / "nope.csv", "y"), "file not found")


def test_missing_target_column_lists_the_columns(tmp_path: Path) -> None:
    message = _bad(_csv(_iris_csv(tmp_path / "i.csv"), "label"), "target column 'label' is not in")
    assert "sl, sw, pl, pw, species" in message


def test_non_numeric_feature_columns_are_named(tmp_path: Path) -> None:
    rows = [[i, "red" if i % 2 else "blue", f"c{i}", i % 2] for i in range(40)]
    path = _write_csv(tmp_path / "c.csv", ["a", "colour", "code", "y"], rows)
    _bad(_csv(path, "y"), "non-numeric feature column.*: colour, code")


def test_missing_cells_are_counted_and_dropna_drops_them(tmp_path: Path) -> None:
    rows = [[float(i), "" if i in (3, 5) else float(i % 7), "NaN" if i == 5 else i % 2] for i in range(40)]
    path = _write_csv(tmp_path / "m.csv", ["a", "b", "y"], rows)
    _bad(_csv(path, "y"), r"3 missing cell\(s\) in 2 row\(s\) \(b: 2, y: 1\); pass --dropna")
    data = load(_csv(path, "y", dropna=True))
    assert len(data.y) == 38
    assert any("dropped 2 row" in n for n in data.notes)


def test_too_few_rows(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "s.csv", ["a", "y"], [[i, i * 0.5] for i in range(MIN_ROWS - 1)])
    _bad(_csv(path, "y"), f"{MIN_ROWS - 1} usable row.*at least {MIN_ROWS}")


def test_single_class_target(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "one.csv", ["a", "y"], [[i, "cat"] for i in range(30)])
    _bad(_csv(path, "y"), "single class")


def test_class_with_one_row(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "r.csv", ["a", "y"], [[i, "a" if i else "b"] for i in range(30)])
    _bad(_csv(path, "y"), "class 'b'.*only 1 row")


def test_constant_regression_target(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "k.csv", ["a", "y"], [[i, 2.5] for i in range(30)])
    _bad(_csv(path, "y", task="regression"), "constant")


def test_non_numeric_regression_target(tmp_path: Path) -> None:
    _bad(_csv(_iris_csv(tmp_path / "i.csv"), "species", task="regression"), "not numeric")


def test_ragged_csv(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("a,b,y\n1,2,3\n1,2\n")
    _bad(_csv(path, "y"), "line 3 has 2 fields")


# ------------------------------------------------------------------ split


def test_split_is_fixed_stratified_and_standardised() -> None:
    data = load(DataSource(dataset="wine"))
    a, b = prepare(data, 0.25), prepare(data, 0.25)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert len(a.y_test) == int(np.ceil(0.25 * len(data.y)))
    torch.testing.assert_close(a.x_train.mean(0), torch.zeros(a.x_train.shape[1]), atol=1e-5, rtol=0)
    torch.testing.assert_close(a.x_train.std(0, unbiased=False), torch.ones(a.x_train.shape[1]), atol=1e-4, rtol=0)
    # stratified: class proportions in the test split match the whole set within one row per class
    whole = np.bincount(data.y) / len(data.y)
    test = np.bincount(a.y_test.numpy(), minlength=3)
    assert np.all(np.abs(test - whole * len(a.y_test)) <= 1)


def test_regression_targets_standardised_for_training_and_original_for_test() -> None:
    data = load(DataSource(dataset="diabetes"))
    p = prepare(data, 0.25)
    assert abs(float(p.y_train.mean())) < 1e-5 and abs(float(p.y_train.std(unbiased=False)) - 1) < 1e-5
    # test targets are untouched original values of the dataset
    assert set(p.y_test.tolist()) <= set(data.y.tolist())
    # and the training targets map back to original (integer) values with the stored mean and SD
    back = p.y_train.double().numpy() * p.y_scale + p.y_mean
    assert set(np.round(back).tolist()) <= set(data.y.tolist())
    np.testing.assert_allclose(back, np.round(back), atol=1e-3)
