"""The recommendation's notes, on constructed rankings."""

from __future__ import annotations

from types import SimpleNamespace

from losskit.experiments.analysis import Interval
from losskit.experiments.recommend import Entry, Ranking, early_stopping_notes, ranking_notes


def _ranking(level: float, rows: list[tuple[str, float, float]], *, tied: bool = False) -> Ranking:
    """Rows of (label, validation-selected mean, final mean), best first (higher is better)."""
    best = rows[0][1]
    entries = tuple(
        Entry(lab, sel, fin, Interval(sel - best, sel - best - 0.01, sel - best + 0.01, 10), tied or k == 0)
        for k, (lab, sel, fin) in enumerate(rows)
    )
    return Ranking(level, "test_accuracy", 10, 0, entries)


ACCURACY = SimpleNamespace(higher=True)


def test_a_leader_beaten_by_another_loss_trained_to_the_end_is_flagged_as_unreliable() -> None:
    # wine at r = 0.4: cross_entropy leads at its selected epoch (0.80), softmax_mae ends at 0.91
    r = _ranking(0.4, [("cross_entropy", 0.80, 0.78), ("softmax_mae", 0.75, 0.91)])
    notes = early_stopping_notes(ACCURACY, [r])
    flagged = [n for n in notes if "unreliable" in n]
    assert len(flagged) == 1
    assert "cross_entropy" in flagged[0] and "softmax_mae" in flagged[0] and "0.91" in flagged[0]


def test_no_selection_warning_when_the_leader_is_also_best_trained_to_the_end() -> None:
    r = _ranking(0.0, [("cross_entropy", 0.95, 0.97), ("softmax_mae", 0.94, 0.96)])
    assert not [n for n in early_stopping_notes(ACCURACY, [r]) if "unreliable" in n]


def test_no_selection_warning_when_no_final_figure_beats_the_leaders_selected_one() -> None:
    # another loss ends above the leader's final figure, but not above its selected one
    r = _ranking(0.2, [("mae", 0.90, 0.85), ("cross_entropy", 0.88, 0.89)])
    assert not [n for n in early_stopping_notes(ACCURACY, [r]) if "unreliable" in n]


def test_lower_is_better_metrics_use_the_opposite_direction() -> None:
    rmse = SimpleNamespace(higher=False)
    entries = (
        Entry("mse", 1.0, 1.1, Interval(0.0, 0.0, 0.0, 10), True),
        Entry("mae", 1.2, 0.9, Interval(0.2, 0.1, 0.3, 10), False),
    )
    notes = early_stopping_notes(rmse, [Ranking(0.1, "test_rmse", 10, 0, entries)])
    assert [n for n in notes if "unreliable" in n and "mae trained to the end" in n]


def test_a_change_of_leader_under_corruption_is_warned_about() -> None:
    clean = _ranking(0.0, [("mse", 0.78, 0.78), ("mae", 0.80, 0.80)])
    corrupted = _ranking(0.2, [("mae", 0.93, 0.93), ("mse", 2.13, 2.13)])
    notes = ranking_notes([clean, corrupted])
    assert len(notes) == 1 and "the ranking changes with corruption" in notes[0]
