"""Literal types of losskit's string options, for type checkers and readers.

``reduction: Reduction`` lets mypy or pyright reject ``reduction="avg"``
before the code runs; at run time :mod:`losskit._validate` still checks every
value (``REDUCTIONS``, ``INPUT_KINDS``, ``TARGET_KINDS`` and the registry's
``TASKS`` are derived from these aliases, so the two cannot drift apart).
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["InputKind", "Reduction", "TargetKind", "Task", "Validate"]

Reduction = Literal["mean", "sum", "none", "per_sample"]
"""How a loss reduces: the mean over items, their sum, every element, or one value per sample."""

InputKind = Literal["logits", "probs", "log_probs"]
"""What a classification ``input`` holds: raw scores, probabilities or log-probabilities."""

TargetKind = Literal["probs", "log_probs"]
"""What a probability ``target`` holds (``"log_probs"`` is torch's ``log_target=True``)."""

Task = Literal["regression", "classification", "multilabel", "segmentation", "metric_learning", "ranking",
               "probabilistic_regression"]
"""A registry task: the kind of prediction a loss trains."""

Validate = bool | Literal["strict"] | None
"""A call's value-check level: ``True``, ``False``, ``"strict"`` or ``None`` (the global level)."""

REDUCTIONS: tuple[str, ...] = get_args(Reduction)
INPUT_KINDS: tuple[str, ...] = get_args(InputKind)
TARGET_KINDS: tuple[str, ...] = get_args(TargetKind)
TASKS: tuple[str, ...] = get_args(Task)
