"""How class labels are handed to a classification loss: as indices, or one-hot when the loss needs probabilities.

Some losses take only probability targets (``kl_div``); the choice is made
once per loss by a tiny probe call, so a loss registered later works without
a table to update.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from ..errors import LossInputError

if TYPE_CHECKING:
    from .config import LossSpec

__all__ = ["accepts_index", "class_targets"]


@functools.cache
def accepts_index(spec: LossSpec) -> bool:
    """Whether the loss takes class-index targets (else it needs one-hot probabilities)."""
    module = spec.build()
    try:
        module(torch.zeros(2, 3), torch.tensor([0, 2]))
    except LossInputError:
        return False
    return True


def class_targets(spec: LossSpec, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``labels`` (int64, any shape) in the form the loss accepts."""
    if accepts_index(spec):
        return labels
    return F.one_hot(labels, num_classes).to(torch.get_default_dtype())
