"""The compare job's outputs in --out: files and columns, resume after an interrupt, the config fingerprint."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import pytest
from compare_helpers import make_config

from losskit.experiments.config import ModelSpec, UsageError
from losskit.experiments.metrics import METRICS, VALIDATION
from losskit.experiments.runner import plan, run
from losskit.experiments.store import Store, atomic_write

RESULT_HEAD = ["dataset", "task", "loss", "corruption", "seed", "epoch", "train_loss"]


def _read(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def _without_wall(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory):
    config = make_config("diabetes", "mse,mae,huber", (0.0, 0.2), seeds=3, epochs=4)
    out = tmp_path_factory.mktemp("compare") / "out"
    return config, out, run(plan(config), out)


def test_results_csv_has_the_documented_columns_and_epoch_zero(finished) -> None:
    config, out, _ = finished
    rows = _read(out / "results.csv")
    assert list(rows[0]) == [*RESULT_HEAD, VALIDATION["regression"], *METRICS["regression"], "wall_s"]
    runs = len(config.losses) * len(config.levels) * config.seeds
    assert len(rows) == runs * (config.train.epochs + 1)
    keys = {(r["loss"], r["corruption"], r["seed"], r["epoch"]) for r in rows}
    assert len(keys) == len(rows)
    assert {int(r["epoch"]) for r in rows} == set(range(config.train.epochs + 1))


def test_summary_has_mean_and_interval_for_every_metric(finished) -> None:
    config, out, _ = finished
    rows = _read(out / "summary.csv")
    assert len(rows) == len(config.losses) * len(config.levels)
    for m in METRICS["regression"]:
        for col in (f"final_{m}", f"final_{m}_lo", f"final_{m}_hi", f"best_{m}"):
            assert col in rows[0]
    assert "epochs_to_target" in rows[0] and "precision_at_k" in rows[0] and "selected_epoch" in rows[0]
    for r in rows:
        assert float(r["final_test_rmse_lo"]) <= float(r["final_test_rmse"]) <= float(r["final_test_rmse_hi"])
    # the summary is the mean over seeds of results.csv's final epoch
    results = _read(out / "results.csv")
    finals = [float(r["test_rmse"]) for r in results
              if r["loss"] == "mse" and float(r["corruption"]) == 0.2 and int(r["epoch"]) == config.train.epochs]
    mse = next(r for r in rows if r["loss"] == "mse" and float(r["corruption"]) == 0.2)
    assert float(mse["final_test_rmse"]) == pytest.approx(sum(finals) / len(finals))


def test_report_and_figures(finished) -> None:
    _, out, outcome = finished
    report = (out / "report.md").read_text()
    assert "## Claims" in report and "precision@k" in report
    for name in ("learning_curves.png", "final_vs_corruption.png", "loss_curves.png"):
        assert (out / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"figures/{name}" in report
    assert any(c.claim.startswith("MSE is sensitive") for c in outcome.claims)
    runs = _read(out / "runs.csv")
    noisy = [r for r in runs if float(r["corruption"]) > 0]
    # the training and validation splits (331 rows) are corrupted as one pool of round(0.2 * 331) rows
    assert noisy and all(0 < int(r["n_corrupted"]) <= round(0.2 * 331) for r in noisy)
    assert all(0.0 <= float(r["precision_at_k"]) <= 1.0 for r in noisy)


def test_rerun_of_a_finished_job_redoes_nothing_and_is_identical(finished) -> None:
    config, out, _ = finished
    before = (out / "results.csv").read_text()
    again = run(plan(config), out)
    assert again.resumed_chunks == 1
    assert (out / "results.csv").read_text() == before


def test_same_command_gives_the_same_numbers(finished, tmp_path: Path) -> None:
    config, out, _ = finished
    run(plan(config), tmp_path / "again")
    assert _without_wall(_read(tmp_path / "again" / "results.csv")) == _without_wall(_read(out / "results.csv"))


@pytest.mark.parametrize("stop_at", [(0, 2), (1, 3)])
def test_resume_after_an_interrupt_loses_and_duplicates_nothing(tmp_path: Path, stop_at: tuple[int, int]) -> None:
    config = make_config("diabetes", "mse,mae", (0.0, 0.2), seeds=3, epochs=4)
    job = plan(config, max_runs_per_chunk=4)  # 1 seed per chunk: 3 chunks
    assert len(job.chunks()) == 3
    reference = tmp_path / "reference"
    run(plan(config, max_runs_per_chunk=4), reference)

    def interrupt(chunk: int, epoch: int) -> None:
        if (chunk, epoch) == stop_at:
            raise KeyboardInterrupt

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run(job, out, on_epoch=interrupt, checkpoint_every_s=60.0)
    partial = _read(out / "results.csv") if (out / "results.csv").exists() else []
    assert len(partial) == stop_at[0] * 4 * (config.train.epochs + 1)  # finished chunks only
    assert (out / "state" / f"chunk-{stop_at[0]:04d}.pt").exists()  # the interrupted chunk's last epoch

    trained: list[tuple[int, int]] = []
    outcome = run(plan(config, max_runs_per_chunk=4), out, on_epoch=lambda c, e: trained.append((c, e)))
    assert outcome.resumed_chunks == stop_at[0]
    # the interrupted chunk continued after its saved epoch; no finished work was redone
    assert min(trained) == (stop_at[0], stop_at[1] + 1)
    rows = _without_wall(_read(out / "results.csv"))
    assert rows == _without_wall(_read(reference / "results.csv"))
    assert not list((out / "state").glob("*.pt"))


def test_a_different_configuration_is_refused_unless_forced(finished, tmp_path: Path) -> None:
    config, out, _ = finished
    changed = make_config("diabetes", "mse,mae,huber", (0.0, 0.2), seeds=3, epochs=5)
    before = sorted(p.name for p in out.rglob("*"))
    with pytest.raises(UsageError, match=r"different configuration \(train.epochs: 4 → 5\)"):
        Store(out).check(plan(changed).description, force=False)
    assert sorted(p.name for p in out.rglob("*")) == before
    target = tmp_path / "forced"
    run(plan(config), target)
    run(plan(changed), target, force=True)
    assert json.loads((target / "config.json").read_text())["config"]["train"]["epochs"] == 5
    assert {int(r["epoch"]) for r in _read(target / "results.csv")} == set(range(6))


def test_pair_noise_linear_model_and_sgd_run_end_to_end(tmp_path: Path) -> None:
    config = make_config("iris", "cross_entropy,softmax_mae", (0.0, 0.3), kind="pair", seeds=2, epochs=2,
                         optimizer="sgd", lr=0.05)
    config = dataclasses.replace(config, model=ModelSpec("linear", ()))
    outcome = run(plan(config), tmp_path / "iris")
    summary = _read(tmp_path / "iris" / "summary.csv")
    assert len(summary) == 4 and all(0 <= float(r["final_test_accuracy"]) <= 1 for r in summary)
    assert any(c.claim.startswith("MAE is robust to noisy labels") for c in outcome.claims)


def test_a_foreign_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match=r"no config\.json"):
        Store(tmp_path).check({"x": 1}, force=False)


def test_atomic_write_replaces_whole_files_and_leaves_no_temporaries(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    atomic_write(path, b"old")
    atomic_write(path, b"new contents")
    assert path.read_bytes() == b"new contents"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


# ------------------------------------------------------------------ --seeds auto


def _auto_job(max_seeds: int):
    config = dataclasses.replace(make_config("diabetes", "mse,mae", (0.0, 0.2), seeds=2, epochs=2),
                                 max_seeds=max_seeds)
    return plan(config, max_runs_per_chunk=4)  # 4 runs per seed: one seed per chunk


def test_seeds_auto_stops_when_the_claims_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import losskit.experiments.runner as runner
    from losskit.experiments.claims import HOLDS, UNCLEAR, Claim

    checked: list[int] = []
    real = runner.evaluate

    def evaluate(job, rows, runs_info):  # the claims resolve once 4 seeds are in
        _, ctx = real(job, rows, runs_info)
        checked.append(len(ctx.seeds))
        resolved = len(ctx.seeds) >= 4
        return [Claim("c", "", HOLDS if resolved else UNCLEAR, more_seeds=not resolved)], ctx

    monkeypatch.setattr(runner, "evaluate", evaluate)
    outcome = run(_auto_job(10), tmp_path / "auto")
    assert checked == [2, 3, 4] and outcome.seeds == 4
    assert {r["seed"] for r in _read(tmp_path / "auto" / "results.csv")} == {"0", "1", "2", "3"}
    # rerun: every chunk is resumed, nothing retrained, the same stopping point
    again = run(_auto_job(10), tmp_path / "auto")
    assert again.seeds == 4 and again.resumed_chunks == 4


def test_seeds_auto_stops_at_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import losskit.experiments.runner as runner
    from losskit.experiments.claims import UNCLEAR, Claim

    real = runner.evaluate
    monkeypatch.setattr(runner, "evaluate", lambda job, rows, info: (
        [Claim("c", "", UNCLEAR, more_seeds=True)], real(job, rows, info)[1]))
    outcome = run(_auto_job(3), tmp_path / "cap")
    assert outcome.seeds == 3


def test_claims_csv_has_one_row_per_claim(finished) -> None:
    _, out, outcome = finished
    rows = _read(out / "claims.csv")
    from losskit.experiments.report import CLAIM_COLUMNS

    assert list(rows[0]) == list(CLAIM_COLUMNS)
    assert [r["id"] for r in rows] == [c.id for c in outcome.claims]
    assert all(r["verdict"] in ("holds", "holds, small effect", "does not hold", "inconclusive") for r in rows)
    sens = next(r for r in rows if r["id"] == "mse_sensitive")
    assert sens["losses"] == "mse mae" and float(sens["corruption"]) == 0.2 and float(sens["margin"]) > 0
    report = (out / "report.md").read_text()
    assert "## Which loss for this data" in report and "validation-selected" in report
