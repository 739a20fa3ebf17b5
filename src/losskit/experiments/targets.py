"""How class labels are handed to a classification loss: as indices, or one-hot when it takes probabilities.

The registry declares each loss's target form (:attr:`losskit.registry.LossInfo.target_form`), so nothing
here calls a loss to find out; a loss registered later declares its own form.
"""

from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F

from ..registry import loss_info

__all__ = ["class_targets", "takes_probabilities"]


class _Named(Protocol):
    @property
    def name(self) -> str: ...


def takes_probabilities(loss: str | _Named) -> bool:
    """Whether the loss (a registry name or anything with a ``name``) takes probability targets."""
    name = loss if isinstance(loss, str) else loss.name
    return loss_info(name).target_form == "probabilities"


def class_targets(loss: str | _Named, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``labels`` (int64, any shape) in the form the loss takes: indices, or one-hot probabilities."""
    if takes_probabilities(loss):
        return F.one_hot(labels, num_classes).to(torch.get_default_dtype())
    return labels
