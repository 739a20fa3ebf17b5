"""Pure loss functions: ``import losskit.functional as LF``.

Every loss is ``fn(input, target, *, reduction="mean", validate=None, <options>)``
with keyword-only options. See :mod:`losskit._reduce` for the one reduction
rule and :mod:`losskit._validate` for the checks.
"""

from .classification import cross_entropy, kl_div, softmax_mae_loss
from .fused import linear_cross_entropy
from .regression import huber_loss, l1_loss, log_cosh, log_cosh_loss, mae_loss, mse_loss

__all__ = [
    "cross_entropy",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "linear_cross_entropy",
    "log_cosh",
    "log_cosh_loss",
    "mae_loss",
    "mse_loss",
    "softmax_mae_loss",
]
