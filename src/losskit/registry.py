"""The one registry of losses: name -> function, module, task, options, summary.

The CLI, the compare job and the test matrix all read this table, so a loss
added here is listed, comparable and tested everywhere at once.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from . import nn as lnn
from ._validate import LossInputError

__all__ = ["LossInfo", "available_losses", "get_loss", "loss_info", "register"]

TASKS = ("regression", "classification", "multilabel", "segmentation", "metric_learning", "ranking",
         "probabilistic_regression")
# options every loss has, which are not hyperparameters of the loss itself
COMMON_OPTIONS = frozenset(
    {"reduction", "validate", "weight", "sample_weight", "num_items", "input_kind", "target_kind",
     "ignore_index", "label_smoothing", "size_average", "reduce"}
)


@dataclass(frozen=True)
class LossInfo:
    """What the registry knows about one loss.

    Attributes:
      name: the registry name (``"huber"``).
      task: one of :data:`TASKS`: ``"regression"``, ``"classification"``, ``"multilabel"``,
        ``"segmentation"`` (score maps against masks), ``"metric_learning"`` (embeddings with
        labels, pairs or triplets), ``"ranking"`` (scores against labels in {-1, 1}) or
        ``"probabilistic_regression"`` (a predicted distribution: mean and variance or scale).
      summary: one line for ``losskit list``.
      module: the :class:`losskit.nn.FunctionalLoss` subclass.
      aliases: other names that resolve to this loss.
    """

    name: str
    task: str
    summary: str
    module: type[lnn.FunctionalLoss]
    aliases: tuple[str, ...] = ()
    _defaults: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def function(self) -> Callable[..., torch.Tensor]:
        return self.module.function

    @property
    def inputs(self) -> tuple[str, ...]:
        """The names of the tensors the loss is called on, in order (``("input", "target", "var")``)."""
        params = inspect.signature(self.function).parameters.values()
        return tuple(p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty)

    @property
    def options(self) -> dict[str, Any]:
        """Every keyword option with its default."""
        return lnn.keyword_options(self.function)

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The loss's own options (``delta``, ``q``, ...), with defaults."""
        return {k: v for k, v in self.options.items() if k not in COMMON_OPTIONS}


_REGISTRY: dict[str, LossInfo] = {}
_ALIASES: dict[str, str] = {}


def register(
    name: str, task: str, module: type[lnn.FunctionalLoss], summary: str, *, aliases: tuple[str, ...] = ()
) -> LossInfo:
    """Add a loss to the registry (used by losskit itself and by extensions)."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    for key in (name, *aliases):
        if key in _REGISTRY or key in _ALIASES:
            raise ValueError(f"a loss named {key!r} is already registered")
    if len({name, *aliases}) != 1 + len(aliases):
        raise ValueError(f"the name and aliases of {name!r} repeat a name: {(name, *aliases)}")
    info = LossInfo(name, task, summary, module, aliases)
    _REGISTRY[name] = info
    for alias in aliases:
        _ALIASES[alias] = name
    return info


def available_losses(task: str | None = None) -> list[str]:
    """The registered loss names, sorted; only those of ``task`` if given."""
    return sorted(n for n, i in _REGISTRY.items() if task is None or i.task == task)


def loss_info(name: str) -> LossInfo:
    """The :class:`LossInfo` of a registered loss (or alias); ``ValueError`` listing the valid names otherwise."""
    key = _ALIASES.get(name, name)
    if key not in _REGISTRY:
        raise LossInputError(f"unknown loss {name!r}; valid names: {', '.join(available_losses())}.")
    return _REGISTRY[key]


def get_loss(name: str, **options: Any) -> lnn.FunctionalLoss:
    """A configured loss module by registry name: ``get_loss("huber", delta=2.0)``."""
    return loss_info(name).module(**options)


register("mse", "regression", lnn.MSELoss, "Mean squared error (L2): fast convergence, sensitive to outliers.",
         aliases=("l2",))
register("mae", "regression", lnn.L1Loss, "Mean absolute error (L1): robust to outliers, kink at 0.",
         aliases=("l1",))
register("huber", "regression", lnn.HuberLoss,
         "Huber: quadratic within delta, linear beyond; robust yet fast, differentiable once.")
register("log_cosh", "regression", lnn.LogCoshLoss,
         "Log-cosh: a smooth Huber, twice differentiable, overflow-safe.")
register("cross_entropy", "classification", lnn.CrossEntropyLoss,
         "Cross-entropy: learns fast, fragile to noisy labels.", aliases=("ce",))
register("kl_div", "classification", lnn.KLDivLoss,
         "KL divergence KL(y||p): same gradients as cross-entropy for fixed targets.", aliases=("kl",))
register("softmax_mae", "classification", lnn.SoftmaxMAELoss,
         "MAE on softmax probabilities: robust to label noise, learns slower.")

# robust family (issue 4): noisy-label classification, multi-label, robust regression
register("gce", "classification", lnn.GCELoss,
         "Generalized cross-entropy (q=0.7): between CE and MAE, robust to noisy labels (Zhang & Sabuncu 2018).")
register("sce", "classification", lnn.SCELoss,
         "Symmetric cross-entropy: alpha*CE + beta*reverse CE, robust to noisy labels (Wang et al. 2019).")
register("nce", "classification", lnn.NCELoss,
         "Normalized cross-entropy: robust but passive, underfits alone (Ma et al. 2020).")
register("nce_rce", "classification", lnn.NCERCELoss,
         "Active-passive NCE + reverse CE: robust to noisy labels without underfitting (Ma et al. 2020).")
register("nce_mae", "classification", lnn.NCEMAELoss,
         "Active-passive NCE + MAE on probabilities (Ma et al. 2020).")
register("focal", "classification", lnn.FocalLoss,
         "Focal loss: CE down-weighted on easy samples, for class imbalance (Lin et al. 2017).")
register("poly1", "classification", lnn.Poly1Loss,
         "Poly-1: CE + epsilon*(1 - p_y), a tunable CE (Leng et al. 2022).")
register("bce", "multilabel", lnn.BinaryCrossEntropyLoss,
         "Binary cross-entropy on logits, with pos_weight: independent labels.",
         aliases=("binary_cross_entropy",))
register("binary_focal", "multilabel", lnn.BinaryFocalLoss,
         "Sigmoid focal loss (alpha=0.25, gamma=2): dense detection, rare positives (Lin et al. 2017).")
register("pseudo_huber", "regression", lnn.PseudoHuberLoss,
         "Pseudo-Huber (Charbonnier): a smooth Huber, linear far out.", aliases=("charbonnier",))
register("cauchy", "regression", lnn.CauchyLoss,
         "Cauchy (Lorentzian): logarithmic growth, far outliers nearly ignored; non-convex.",
         aliases=("lorentzian",))
register("geman_mcclure", "regression", lnn.GemanMcClureLoss,
         "Geman-McClure: bounded, redescending; Barron's alpha=-2.")
register("welsch", "regression", lnn.WelschLoss,
         "Welsch (Leclerc): bounded, Gaussian influence; Barron's alpha=-inf.", aliases=("leclerc",))
register("tukey", "regression", lnn.TukeyLoss,
         "Tukey biweight: constant beyond c=4.685, outliers rejected outright.", aliases=("biweight",))
register("quantile", "regression", lnn.QuantileLoss,
         "Quantile (pinball) loss: fits the tau-quantile; tau=0.5 is MAE/2.", aliases=("pinball",))
register("barron", "regression", lnn.BarronLoss,
         "Barron's general robust loss: alpha spans L2 (2), pseudo-Huber (1), Cauchy (0), Welsch (-inf).")

# loss families (issue 11): probabilistic regression
register("gaussian_nll", "probabilistic_regression", lnn.GaussianNLLLoss,
         "Gaussian NLL with a predicted variance (torch's GaussianNLLLoss; variance floored at eps).")
register("beta_nll", "probabilistic_regression", lnn.BetaNLLLoss,
         "beta-NLL: Gaussian NLL weighted by var**beta, so the mean does not under-fit (Seitzer et al. 2022).")
register("laplace_nll", "probabilistic_regression", lnn.LaplaceNLLLoss,
         "Laplace NLL with a predicted scale: a heteroscedastic MAE.")
register("student_t_nll", "probabilistic_regression", lnn.StudentTNLLLoss,
         "Student-t NLL with a predicted scale and df (nu, learnable): heavy tails, robust to outliers.")
register("poisson_nll", "probabilistic_regression", lnn.PoissonNLLLoss,
         "Poisson NLL of counts from a log-rate (torch's PoissonNLLLoss).")

# loss families (issue 11): margin losses, ranking, metric learning
register("hinge", "classification", lnn.HingeLoss,
         "Hinge: max(0, 1 - y x) for labels in {-1, 1}; Crammer-Singer multi-class with class indices.")
register("squared_hinge", "classification", lnn.SquaredHingeLoss,
         "Squared hinge: the hinge squared, differentiable at the margin (binary or Crammer-Singer).")
register("multi_margin", "classification", lnn.MultiMarginLoss,
         "Multi-class hinge summed over the wrong classes (Weston-Watkins; torch's MultiMarginLoss).")
register("multilabel_margin", "multilabel", lnn.MultiLabelMarginLoss,
         "Multi-label hinge: each target class above every other by 1 (torch's MultiLabelMarginLoss).")
register("multilabel_soft_margin", "multilabel", lnn.MultiLabelSoftMarginLoss,
         "One-vs-all logistic loss averaged over classes (torch's MultiLabelSoftMarginLoss).")
register("margin_ranking", "ranking", lnn.MarginRankingLoss,
         "Pairwise ranking hinge: input1 above input2 by margin where y = 1 (torch's MarginRankingLoss).")
register("soft_margin", "ranking", lnn.SoftMarginLoss,
         "Logistic loss softplus(-y x) for labels in {-1, 1} (torch's SoftMarginLoss), overflow-safe.")
register("triplet_margin", "metric_learning", lnn.TripletMarginLoss,
         "Triplet: anchor nearer its positive than its negative by margin (torch's TripletMarginLoss).")
register("cosine_embedding", "metric_learning", lnn.CosineEmbeddingLoss,
         "Cosine embedding: similar pairs aligned, dissimilar below margin (torch's CosineEmbeddingLoss).")
register("hinge_embedding", "metric_learning", lnn.HingeEmbeddingLoss,
         "Hinge embedding on distances: small for similar pairs, beyond margin for others (torch's).")
register("info_nce", "metric_learning", lnn.InfoNCELoss,
         "InfoNCE / NT-Xent (SimCLR): each positive against the anchor's negatives, cosine over temperature.",
         aliases=("nt_xent",))
register("supcon", "metric_learning", lnn.SupConLoss,
         "Supervised contrastive loss: every same-label positive against all others (Khosla et al. 2020).")

# loss families (issue 11): segmentation
register("dice", "segmentation", lnn.DiceLoss,
         "Soft Dice: 1 - 2|P&Y|/(|P|+|Y|) per sample, macro over classes; absent classes left out.")
register("jaccard", "segmentation", lnn.JaccardLoss,
         "Soft Jaccard (IoU) loss: 1 - |P and Y| / |P or Y|, per sample, macro over classes.", aliases=("iou",))
register("tversky", "segmentation", lnn.TverskyLoss,
         "Tversky: Dice with false positives weighted by alpha and false negatives by beta (Salehi 2017).")
register("focal_tversky", "segmentation", lnn.FocalTverskyLoss,
         "Focal Tversky: (1 - Tversky)^gamma per class, for small structures (Abraham & Khan 2019).")
register("lovasz_softmax", "segmentation", lnn.LovaszSoftmaxLoss,
         "Lovasz-softmax: a tractable surrogate of the Jaccard index on probabilities (Berman et al. 2018).")
register("lovasz_hinge", "segmentation", lnn.LovaszHingeLoss,
         "Lovasz hinge: the Jaccard surrogate on binary logits, per channel (Berman et al. 2018).")
register("dice_ce", "segmentation", lnn.DiceCELoss,
         "Dice + cross-entropy, the medical-segmentation default (MONAI's DiceCELoss, nnU-Net).")
