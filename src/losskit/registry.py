"""The one registry of losses: name -> function, module, task, options, summary.

The CLI, the compare job and the test matrix all read this table, so a loss
added here is listed, comparable and tested everywhere at once.

Names resolve as users spell them: case, ``_``, ``-`` and spaces are ignored
(``"Huber"``, ``"log-cosh"``, ``"LogCosh"`` and ``"logcosh"`` are one name), and
:data:`SPELLINGS` maps the names of Keras and torch to losskit's. An unknown
name's error offers the closest registered names.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import torch

from . import nn as lnn
from ._types import TASKS as TASKS
from ._types import Task
from ._validate import LossInputError

__all__ = ["SPELLINGS", "LossInfo", "Spelling", "available_losses", "get_loss", "loss_info", "register"]

TARGET_FORMS = ("indices", "probabilities", "values")
# options every loss has, which are not hyperparameters of the loss itself
COMMON_OPTIONS = frozenset(
    {"reduction", "validate", "weight", "sample_weight", "num_items", "input_kind", "target_kind",
     "ignore_index", "label_smoothing", "size_average", "reduce"}
)


@dataclass(frozen=True)
class Spelling:
    """Another library's name for a loss: the losskit loss it means, and the options that make it mean the same.

    Keras's losses take probabilities by default (``from_logits=False``) and
    torch's ``BCELoss`` / ``KLDivLoss`` take probabilities / log-probabilities,
    while losskit's take logits; such a spelling carries ``input_kind`` so that
    ``get_loss(spelling)`` computes what the name computes where it comes from.
    """

    loss: str
    options: Mapping[str, Any] = field(default_factory=dict)


_PROBS: Mapping[str, Any] = MappingProxyType({"input_kind": "probs"})

# Every other library's spelling, in one table. Lookup ignores case and "_", "-" and spaces, so one entry
# covers a function and a class name ("mean_squared_error" is also Keras's MeanSquaredError, "log_cosh" also
# "logcosh" and LogCosh), and then a trailing "loss" (torch's mse_loss and MSELoss are "mse"). An entry joins
# the registry when its loss is registered; register() refuses any name that would shadow another.
SPELLINGS: Mapping[str, Spelling] = MappingProxyType({
    # torch: F.huber_loss / nn.HuberLoss need no entry (a trailing "loss" is dropped when nothing else matches);
    # these are the ones whose name or inputs differ
    "kl_div_loss": Spelling("kl_div", MappingProxyType({"input_kind": "log_probs"})),  # torch: log-probabilities
    # torch's nll_loss / NLLLoss: cross-entropy on log-probabilities (e.g. log_softmax outputs)
    "nll": Spelling("cross_entropy", MappingProxyType({"input_kind": "log_probs"})),
    "bce_with_logits": Spelling("bce"),
    "binary_cross_entropy_with_logits": Spelling("bce"),
    "bce_loss": Spelling("bce", _PROBS),  # torch's nn.BCELoss: probabilities
    "sigmoid_focal_loss": Spelling("binary_focal"),  # torchvision.ops, on logits
    # Keras 3 (keras.losses functions and classes), probabilities by default
    "mean_squared_error": Spelling("mse"),
    "mean_absolute_error": Spelling("mae"),
    "categorical_crossentropy": Spelling("cross_entropy", _PROBS),
    "sparse_categorical_crossentropy": Spelling("cross_entropy", _PROBS),
    "binary_crossentropy": Spelling("bce", _PROBS),  # also torch's F.binary_cross_entropy, on probabilities
    "kl_divergence": Spelling("kl_div", _PROBS),
    "kld": Spelling("kl_div", _PROBS),
    "kullback_leibler_divergence": Spelling("kl_div", _PROBS),
    # the papers' names
    "generalized_cross_entropy": Spelling("gce"),
    "symmetric_cross_entropy": Spelling("sce"),
    "normalized_cross_entropy": Spelling("nce"),
    "tukey_biweight": Spelling("tukey"),
})


def _key(name: str) -> str:
    """The lookup form of a name: lower case, without ``_``, ``-`` and spaces."""
    return "".join(ch for ch in name.lower() if ch not in "_- ")


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
      aliases: other names that resolve to this loss (its own, then other libraries' spellings).
      targets: the target form the loss takes: ``"indices"`` (class indices), ``"probabilities"``
        (one-hot or soft labels) or ``"values"`` (real targets); ``""`` at registration derives it from
        the task (classification: indices, otherwise values). Read it as :attr:`target_form`.
    """

    name: str
    task: Task
    summary: str
    module: type[lnn.FunctionalLoss]
    aliases: tuple[str, ...] = ()
    targets: str = ""
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

    @property
    def target_form(self) -> str:
        """``"indices"``, ``"probabilities"`` or ``"values"``: what the loss's ``target`` holds."""
        return self.targets or ("indices" if self.task == "classification" else "values")


_REGISTRY: dict[str, LossInfo] = {}
# lookup key -> (registry name, the spelling's options); holds every name and alias
_ALIASES: dict[str, tuple[str, Mapping[str, Any]]] = {}
# lookup key -> the name as written, for messages
_WRITTEN: dict[str, str] = {}


def register(
    name: str, task: Task, module: type[lnn.FunctionalLoss], summary: str, *, aliases: tuple[str, ...] = (),
    targets: str = "",
) -> LossInfo:
    """Add a loss to the registry (used by losskit itself and by extensions).

    ``name`` and ``aliases`` join the lookup with the :data:`SPELLINGS` that
    name this loss. No name may resolve to two losses, whatever its case or
    separators: a name that would shadow another raises ``ValueError``. ``targets`` declares the target form
    (see :class:`LossInfo`); leave it empty for the task's usual one.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if targets and targets not in TARGET_FORMS:
        raise ValueError(f"targets must be one of {TARGET_FORMS}, got {targets!r}")
    spellings = tuple(s for s, target in SPELLINGS.items() if target.loss == name)
    names = (name, *aliases, *spellings)
    keys = [_key(n) for n in names]
    for n, k in zip(names, keys, strict=True):
        if k in _ALIASES:
            raise ValueError(f"a loss named {n!r} is already registered (as {_WRITTEN[k]!r})")
    if len(set(keys)) != len(keys):
        raise ValueError(f"the name and aliases of {name!r} repeat a name (ignoring case and _ - ): {names}")
    info = LossInfo(name, task, summary, module, (*aliases, *spellings), targets)
    _REGISTRY[name] = info
    for n, k in zip(names, keys, strict=True):
        preset = SPELLINGS[n].options if n in spellings else MappingProxyType({})
        _ALIASES[k] = (name, preset)
        _WRITTEN[k] = n
    return info


def available_losses(task: Task | None = None) -> list[str]:
    """The registered loss names, sorted; only those of ``task`` if given."""
    return sorted(n for n, i in _REGISTRY.items() if task is None or i.task == task)


def _resolve(name: str) -> tuple[LossInfo, Mapping[str, Any]]:
    """The loss a name means and the options its spelling implies; a did-you-mean error otherwise."""
    if not isinstance(name, str):
        raise LossInputError(f"a loss name must be a string, got {name!r}.")
    key = _key(name)
    found = _ALIASES.get(key)
    if found is None and key.endswith("loss"):
        found = _ALIASES.get(key.removesuffix("loss"))
    if found is None:
        close = difflib.get_close_matches(_key(name), list(_ALIASES), n=3, cutoff=0.6)
        hints = [_WRITTEN[k] for k in close]
        hint = f" Did you mean {' or '.join(repr(h) for h in hints)}?" if hints else ""
        raise LossInputError(
            f"unknown loss {name!r}.{hint} Valid names: {', '.join(available_losses())} "
            f"(`losskit list` shows each with its aliases)."
        )
    loss, preset = found
    return _REGISTRY[loss], preset


def loss_info(name: str) -> LossInfo:
    """The :class:`LossInfo` of a registered loss or alias, however cased; ``LossInputError`` with the closest
    names otherwise."""
    return _resolve(name)[0]


def get_loss(name: str, **options: Any) -> lnn.FunctionalLoss:
    """A configured loss module by name: ``get_loss("huber", delta=2.0)``, ``get_loss("HuberLoss")``.

    Another library's spelling means what it means there: ``get_loss("binary_crossentropy")`` (Keras, on
    probabilities) is ``bce`` with ``input_kind="probs"``; ``options`` override the spelling's own.
    """
    info, preset = _resolve(name)
    return info.module(**{**preset, **options})


register("mse", "regression", lnn.MSELoss, "Mean squared error (L2): fast convergence, sensitive to outliers.",
         aliases=("l2",))
register("mae", "regression", lnn.L1Loss, "Mean absolute error (L1): robust to outliers, kink at 0.",
         aliases=("l1",))
register("huber", "regression", lnn.HuberLoss,
         "Huber: quadratic within delta, linear beyond; robust yet fast, differentiable once.")
register("smooth_l1", "regression", lnn.SmoothL1Loss,
         "Smooth L1: Huber divided by beta, slope 1 beyond beta (torch's smooth_l1_loss, Fast R-CNN).")
register("log_cosh", "regression", lnn.LogCoshLoss,
         "Log-cosh: a smooth Huber, twice differentiable, overflow-safe.")
register("cross_entropy", "classification", lnn.CrossEntropyLoss,
         "Cross-entropy: learns fast, fragile to noisy labels.", aliases=("ce",))
register("kl_div", "classification", lnn.KLDivergenceLoss,
         "KL divergence KL(y||p) of softmax(logits): same gradients as cross-entropy for fixed targets.",
         aliases=("kl",), targets="probabilities")
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
register("bce", "multilabel", lnn.BCEWithLogitsLoss,
         "Binary cross-entropy on logits (torch's binary_cross_entropy_with_logits), with pos_weight.")
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
