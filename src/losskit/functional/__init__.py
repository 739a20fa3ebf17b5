"""Pure loss functions: ``import losskit.functional as LF``.

Every loss is ``fn(input, target, ..., reduction="mean", ..., validate=None)``: a
loss that carries a torch name takes torch's parameters in torch's positional
order, then losskit's own options keyword-only; every other loss takes its
options keyword-only. See :mod:`losskit._reduce` for the one reduction
rule and :mod:`losskit._validate` for the checks.
"""

from .binary import binary_cross_entropy, binary_cross_entropy_with_logits, binary_focal_loss
from .classification import cross_entropy, kl_div, kl_divergence_loss, nll_loss, softmax_mae_loss
from .fused import linear_cross_entropy
from .noisy_label import focal_loss, gce_loss, nce_loss, nce_mae_loss, nce_rce_loss, poly1_loss, sce_loss
from .regression import huber_loss, l1_loss, log_cosh, log_cosh_loss, mae_loss, mse_loss, smooth_l1_loss
from .robust_regression import (
    barron_loss,
    cauchy_loss,
    geman_mcclure_loss,
    pseudo_huber_loss,
    quantile_loss,
    tukey_loss,
    welsch_loss,
)

__all__ = [
    "barron_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "binary_focal_loss",
    "cauchy_loss",
    "cross_entropy",
    "focal_loss",
    "gce_loss",
    "geman_mcclure_loss",
    "huber_loss",
    "kl_div",
    "kl_divergence_loss",
    "l1_loss",
    "linear_cross_entropy",
    "log_cosh",
    "log_cosh_loss",
    "mae_loss",
    "mse_loss",
    "nce_loss",
    "nce_mae_loss",
    "nce_rce_loss",
    "nll_loss",
    "poly1_loss",
    "pseudo_huber_loss",
    "quantile_loss",
    "sce_loss",
    "smooth_l1_loss",
    "softmax_mae_loss",
    "tukey_loss",
    "welsch_loss",
]
