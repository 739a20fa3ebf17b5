"""Test metrics for many runs at once: (R, N) predictions against one (N,) truth, or a truth per run (R, N).

Regression: ``test_rmse`` and ``test_mae`` in the target's original units.
Classification: ``test_accuracy`` and ``test_macro_f1`` (the unweighted mean
of per-class F1 over the classes present in the truth or the predictions,
as :func:`sklearn.metrics.f1_score` with ``average="macro"``).
"""

from __future__ import annotations

import torch

__all__ = ["METRICS", "PRIMARY", "VALIDATION", "classification_metrics", "higher_is_better", "regression_metrics"]

METRICS = {
    "regression": ("test_rmse", "test_mae"),
    "classification": ("test_accuracy", "test_macro_f1"),
}
PRIMARY = {"regression": "test_rmse", "classification": "test_accuracy"}
# the primary metric on the (corrupted) validation split, which picks each run's best epoch
VALIDATION = {"regression": "val_rmse", "classification": "val_accuracy"}


def higher_is_better(metric: str) -> bool:
    return metric.endswith(("_accuracy", "_macro_f1"))


def regression_metrics(pred: torch.Tensor, truth: torch.Tensor) -> dict[str, torch.Tensor]:
    """RMSE and MAE of each row of ``pred`` (R, N) against ``truth`` (N,) or (R, N), in float64."""
    err = pred.double() - truth.double()
    return {"test_rmse": err.square().mean(1).sqrt(), "test_mae": err.abs().mean(1)}


def classification_metrics(pred: torch.Tensor, truth: torch.Tensor, num_classes: int) -> dict[str, torch.Tensor]:
    """Accuracy and macro F1 of each row of predicted labels ``pred`` (R, N) against ``truth`` (N,) or (R, N)."""
    correct = pred == truth
    classes = torch.arange(num_classes).view(1, -1, 1)
    is_pred = pred.unsqueeze(1) == classes  # (R, C, N)
    is_true = (truth.reshape(-1, 1, truth.shape[-1]) == classes).expand_as(is_pred)
    tp = (is_pred & is_true).sum(2).double()
    fp = (is_pred & ~is_true).sum(2).double()
    fn = (~is_pred & is_true).sum(2).double()
    den = 2 * tp + fp + fn
    present = den > 0
    f1 = torch.where(present, 2 * tp / den.clamp_min(1), torch.zeros_like(den))
    macro = f1.sum(1) / present.sum(1).clamp_min(1)
    return {"test_accuracy": correct.double().mean(1), "test_macro_f1": macro}
