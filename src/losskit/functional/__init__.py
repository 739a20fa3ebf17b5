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
from .margin import (
    hinge_embedding_loss,
    hinge_loss,
    margin_ranking_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    soft_margin_loss,
    squared_hinge_loss,
)
from .metric import cosine_embedding_loss, info_nce_loss, nt_xent_loss, supcon_loss, triplet_margin_loss
from .noisy_label import focal_loss, gce_loss, nce_loss, nce_mae_loss, nce_rce_loss, poly1_loss, sce_loss
from .probabilistic import beta_nll_loss, gaussian_nll_loss, laplace_nll_loss, poisson_nll_loss, student_t_nll_loss
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
from .segmentation import (
    dice_ce_loss,
    dice_loss,
    focal_tversky_loss,
    jaccard_loss,
    lovasz_hinge_loss,
    lovasz_softmax_loss,
    tversky_loss,
)

__all__ = [
    "barron_loss",
    "beta_nll_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "binary_focal_loss",
    "cauchy_loss",
    "cosine_embedding_loss",
    "cross_entropy",
    "dice_ce_loss",
    "dice_loss",
    "focal_loss",
    "focal_tversky_loss",
    "gaussian_nll_loss",
    "gce_loss",
    "geman_mcclure_loss",
    "hinge_embedding_loss",
    "hinge_loss",
    "huber_loss",
    "info_nce_loss",
    "jaccard_loss",
    "kl_div",
    "kl_divergence_loss",
    "l1_loss",
    "laplace_nll_loss",
    "linear_cross_entropy",
    "log_cosh",
    "log_cosh_loss",
    "lovasz_hinge_loss",
    "lovasz_softmax_loss",
    "mae_loss",
    "margin_ranking_loss",
    "mse_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "nce_loss",
    "nce_mae_loss",
    "nce_rce_loss",
    "nll_loss",
    "nt_xent_loss",
    "poisson_nll_loss",
    "poly1_loss",
    "pseudo_huber_loss",
    "quantile_loss",
    "sce_loss",
    "smooth_l1_loss",
    "soft_margin_loss",
    "softmax_mae_loss",
    "squared_hinge_loss",
    "student_t_nll_loss",
    "supcon_loss",
    "triplet_margin_loss",
    "tukey_loss",
    "tversky_loss",
    "welsch_loss",
]
