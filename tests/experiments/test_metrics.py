"""Many-run test metrics against scikit-learn's own."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, mean_squared_error

from losskit.experiments.metrics import classification_metrics, regression_metrics


@pytest.mark.parametrize("seed", range(4))
def test_accuracy_and_macro_f1_match_sklearn(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    truth = torch.randint(0, 5, (60,), generator=gen)
    pred = torch.randint(0, 6, (3, 60), generator=gen)  # class 5 appears only in predictions
    pred[0] = truth  # a perfect run
    pred[1, :30] = 0  # a run that never predicts some classes
    got = classification_metrics(pred, truth, num_classes=6)
    for r in range(3):
        assert float(got["test_accuracy"][r]) == pytest.approx(accuracy_score(truth, pred[r]))
        expected = f1_score(truth, pred[r], average="macro", zero_division=0)
        assert float(got["test_macro_f1"][r]) == pytest.approx(expected)


def test_rmse_and_mae_match_sklearn() -> None:
    rng = np.random.default_rng(0)
    truth = rng.normal(100, 20, 50)
    pred = truth + rng.normal(0, 5, (4, 50))
    got = regression_metrics(torch.tensor(pred), torch.tensor(truth))
    for r in range(4):
        assert float(got["test_rmse"][r]) == pytest.approx(np.sqrt(mean_squared_error(truth, pred[r])))
        assert float(got["test_mae"][r]) == pytest.approx(mean_absolute_error(truth, pred[r]))
