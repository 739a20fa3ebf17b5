"""``nn.Module`` wrappers over :mod:`losskit.functional`, one generic pattern.

Each class only stores its options and calls its function, like torch's
``_Loss`` classes: ``losskit.nn.HuberLoss(delta=2.0)(input, target)`` equals
``losskit.functional.huber_loss(input, target, delta=2.0)``. A class with a
torch name takes torch's constructor arguments in torch's order and derives
from torch's ``_Loss``/``_WeightedLoss``, so ``isinstance`` checks and
``state_dict``s carry over. Tensor options
(class weights, per-class alphas) are registered as buffers, so they follow
``.to(device)`` and ``state_dict()``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn.modules.loss import _Loss, _WeightedLoss

from . import _validate as V
from . import functional as LF
from ._validate import LossInputError

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "BarronLoss",
    "BinaryCrossEntropyLoss",
    "BinaryFocalLoss",
    "CauchyLoss",
    "CrossEntropyLoss",
    "FocalLoss",
    "FunctionalLoss",
    "GCELoss",
    "GemanMcClureLoss",
    "HuberLoss",
    "KLDivLoss",
    "KLDivergenceLoss",
    "L1Loss",
    "LinearCrossEntropyLoss",
    "LogCoshLoss",
    "MAELoss",
    "MSELoss",
    "NCELoss",
    "NCEMAELoss",
    "NCERCELoss",
    "NLLLoss",
    "Poly1Loss",
    "PseudoHuberLoss",
    "QuantileLoss",
    "SCELoss",
    "SmoothL1Loss",
    "SoftmaxMAELoss",
    "TukeyLoss",
    "WelschLoss",
]


_DEPRECATED = frozenset({"size_average", "reduce"})
# tensor options that are buffers even while None, as in torch (so a later assignment stays a buffer)
_BUFFERS = frozenset({"weight", "pos_weight"})


def _parameters(fn: Callable[..., Any]) -> list[inspect.Parameter]:
    """The option parameters of a loss function: everything after its leading required ones."""
    params = list(inspect.signature(fn).parameters.values())
    i = 0
    while i < len(params) and params[i].default is inspect.Parameter.empty and params[i].kind in (
        inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD
    ):
        i += 1
    return [p for p in params[i:] if p.default is not inspect.Parameter.empty]


def keyword_options(fn: Callable[..., Any]) -> dict[str, Any]:
    """The options of a loss function and their defaults, positional-or-keyword ones included.

    torch-named losses take torch's options positionally (``weight``,
    ``reduction``, ``delta``, ...); every option can also be passed by
    keyword. torch's deprecated ``size_average`` and ``reduce`` are not listed.
    """
    return {p.name: p.default for p in _parameters(fn) if p.name not in _DEPRECATED}


def positional_options(fn: Callable[..., Any]) -> list[str]:
    """The options of ``fn`` that may be passed positionally, in order (torch's order for torch names)."""
    return [p.name for p in _parameters(fn) if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]



class FunctionalLoss(nn.Module):
    """Base class: a module that calls ``function(input, target, **options)``.

    Subclasses set ``function``; the constructor takes the function's options,
    positionally in the function's order (torch's, for a torch-named loss:
    ``CrossEntropyLoss(w)``, ``HuberLoss("sum", 2.0)``) or by keyword, checked
    at construction. torch's deprecated ``size_average``/``reduce`` become
    ``reduction`` with torch's warning. A torch-named module also derives from
    torch's ``_Loss``/``_WeightedLoss``, with the same buffer names
    (``weight``, ``pos_weight``), so ``state_dict`` checkpoints load across.
    """

    function: ClassVar[Callable[..., torch.Tensor]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fn = cls.__dict__.get("function")
        if fn is not None and cls.__doc__ is None:
            fn = fn.__func__ if isinstance(fn, staticmethod) else fn
            summary = (fn.__doc__ or "").strip().splitlines()[0]
            cls.__doc__ = (
                f"{summary}\n\nModule form of :func:`losskit.functional.{fn.__name__}`; "
                "takes the same options."
            )

    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__()
        fn = type(self).function
        accepted = keyword_options(fn)
        positional = positional_options(fn)
        if len(args) > len(positional):
            raise TypeError(
                f"{type(self).__name__} takes at most {len(positional)} positional option(s) "
                f"({', '.join(positional)}), got {len(args)}."
            )
        for name, value in zip(positional, args, strict=False):
            if name in options:
                raise TypeError(f"{type(self).__name__} got option {name!r} both by position and by keyword.")
            options[name] = value
        if "size_average" in positional or "reduce" in positional:
            size_average, reduce = options.pop("size_average", None), options.pop("reduce", None)
            if size_average is not None or reduce is not None:
                options["reduction"] = V.legacy_reduction(size_average, reduce, options.get("reduction", "mean"))
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise LossInputError(
                f"{type(self).__name__} got unknown option(s) {', '.join(unknown)}; "
                f"it accepts {', '.join(sorted(accepted))}."
            )
        self._option_names: list[str] = []
        for name, default in accepted.items():
            value = options.get(name, default)
            if isinstance(value, torch.Tensor) or name in _BUFFERS:
                self.register_buffer(name, value)
            else:
                setattr(self, name, value)
            self._option_names.append(name)

    @property
    def options(self) -> dict[str, Any]:
        """The options passed to the function on every call."""
        return {name: getattr(self, name) for name in self._option_names}

    def forward(self, *inputs: torch.Tensor, **overrides: Any) -> torch.Tensor:
        """Compute the loss of ``inputs`` (``input, target`` for most losses; ``input, target, var`` or
        ``anchor, positive, negative`` for others); keyword ``overrides`` (e.g. ``reduction="per_sample"``)
        apply to this call only."""
        return type(self).function(*inputs, **{**self.options, **overrides})

    def extra_repr(self) -> str:
        defaults = keyword_options(type(self).function)
        shown = [
            f"{k}={v!r}"
            for k, v in self.options.items()
            if not isinstance(v, torch.Tensor) and v is not None and v != defaults[k]
        ]
        shown += [f"{k}=<tensor {tuple(v.shape)}>" for k, v in self.options.items() if isinstance(v, torch.Tensor)]
        return ", ".join(shown)


# ---------------------------------------------------------------- torch's names (torch's base classes)


class MSELoss(FunctionalLoss, _Loss):
    function = staticmethod(LF.mse_loss)


class L1Loss(FunctionalLoss, _Loss):
    function = staticmethod(LF.l1_loss)


MAELoss = L1Loss


class HuberLoss(FunctionalLoss, _Loss):
    function = staticmethod(LF.huber_loss)


class SmoothL1Loss(FunctionalLoss, _Loss):
    function = staticmethod(LF.smooth_l1_loss)


class CrossEntropyLoss(FunctionalLoss, _WeightedLoss):
    function = staticmethod(LF.cross_entropy)


class NLLLoss(FunctionalLoss, _WeightedLoss):
    function = staticmethod(LF.nll_loss)


class KLDivLoss(FunctionalLoss, _Loss):
    function = staticmethod(LF.kl_div)


class BCELoss(FunctionalLoss, _WeightedLoss):
    function = staticmethod(LF.binary_cross_entropy)


class BCEWithLogitsLoss(FunctionalLoss, _Loss):
    function = staticmethod(LF.binary_cross_entropy_with_logits)


# losskit's earlier name of the logits loss (the registry's ``bce``)
BinaryCrossEntropyLoss = BCEWithLogitsLoss


# ---------------------------------------------------------------- losskit's own


class LogCoshLoss(FunctionalLoss):
    function = staticmethod(LF.log_cosh_loss)


class KLDivergenceLoss(FunctionalLoss):
    function = staticmethod(LF.kl_divergence_loss)


class SoftmaxMAELoss(FunctionalLoss):
    function = staticmethod(LF.softmax_mae_loss)


# ---------------------------------------------------------------- robust family (noisy labels)


class GCELoss(FunctionalLoss):
    function = staticmethod(LF.gce_loss)


class SCELoss(FunctionalLoss):
    function = staticmethod(LF.sce_loss)


class NCELoss(FunctionalLoss):
    function = staticmethod(LF.nce_loss)


class NCERCELoss(FunctionalLoss):
    function = staticmethod(LF.nce_rce_loss)


class NCEMAELoss(FunctionalLoss):
    function = staticmethod(LF.nce_mae_loss)


class FocalLoss(FunctionalLoss):
    function = staticmethod(LF.focal_loss)


class Poly1Loss(FunctionalLoss):
    function = staticmethod(LF.poly1_loss)


# ---------------------------------------------------------------- binary and multi-label


class BinaryFocalLoss(FunctionalLoss):
    function = staticmethod(LF.binary_focal_loss)


# ---------------------------------------------------------------- robust regression


class PseudoHuberLoss(FunctionalLoss):
    function = staticmethod(LF.pseudo_huber_loss)


class CauchyLoss(FunctionalLoss):
    function = staticmethod(LF.cauchy_loss)


class GemanMcClureLoss(FunctionalLoss):
    function = staticmethod(LF.geman_mcclure_loss)


class WelschLoss(FunctionalLoss):
    function = staticmethod(LF.welsch_loss)


class TukeyLoss(FunctionalLoss):
    function = staticmethod(LF.tukey_loss)


class QuantileLoss(FunctionalLoss):
    function = staticmethod(LF.quantile_loss)


class BarronLoss(FunctionalLoss):
    function = staticmethod(LF.barron_loss)


class LinearCrossEntropyLoss(FunctionalLoss):
    """Fused linear layer + cross-entropy (an LM head's loss) that never holds the logits.

    Module form of :func:`losskit.functional.linear_cross_entropy`. The module
    holds only options; the head's parameters stay with the model, so tied
    embeddings, sharded heads and ``state_dict`` work unchanged::

        loss_fn = losskit.nn.LinearCrossEntropyLoss(ignore_index=-100)
        loss = loss_fn(hidden, model.lm_head, target)          # an nn.Linear: its weight and bias
        loss = loss_fn(hidden, model.embed.weight, target)     # or a (V, H) weight (+ bias=...)

    ``forward(hidden, weight, target, **overrides)`` takes a ``(V, H)`` tensor or an
    :class:`torch.nn.Linear` as ``weight``; ``bias`` is a per-call option (an
    ``nn.Linear`` supplies its own), never a constructor option, so that it is
    trained with the model rather than stored here as a buffer.
    """

    function = staticmethod(LF.linear_cross_entropy)

    def __init__(self, **options: Any) -> None:
        if options.get("bias") is not None:
            raise LossInputError(
                "LinearCrossEntropyLoss takes bias per call (loss_fn(hidden, weight, target, bias=b)) or from an "
                "nn.Linear passed as weight, not at construction."
            )
        super().__init__(**options)

    def forward(  # type: ignore[override]
        self, hidden: torch.Tensor, weight: torch.Tensor | nn.Linear, target: torch.Tensor, **overrides: Any
    ) -> torch.Tensor:
        """The loss of ``hidden @ weight.T (+ bias)`` against ``target``; overrides apply to this call only."""
        if isinstance(weight, nn.Linear):
            overrides.setdefault("bias", weight.bias)
            weight = weight.weight
        return type(self).function(hidden, weight, target, **{**self.options, **overrides})


# ---------------------------------------------------------------- loss families: probabilistic regression
# Torch-named modules derive from torch's _Loss too (isinstance checks and torch's attribute names hold).


class GaussianNLLLoss(FunctionalLoss, _Loss):
    """Gaussian NLL with a predicted variance: ``GaussianNLLLoss(full=False, eps=1e-6)(input, target, var)``.

    Module form of :func:`losskit.functional.gaussian_nll_loss`, a drop-in for torch's ``GaussianNLLLoss``.
    """

    function = staticmethod(LF.gaussian_nll_loss)


class PoissonNLLLoss(FunctionalLoss, _Loss):
    """Poisson NLL of counts: ``PoissonNLLLoss(log_input=True, full=False)(input, target)``.

    Module form of :func:`losskit.functional.poisson_nll_loss`, a drop-in for torch's ``PoissonNLLLoss``.
    """

    function = staticmethod(LF.poisson_nll_loss)


class BetaNLLLoss(FunctionalLoss):
    function = staticmethod(LF.beta_nll_loss)


class LaplaceNLLLoss(FunctionalLoss):
    function = staticmethod(LF.laplace_nll_loss)


class StudentTNLLLoss(FunctionalLoss):
    function = staticmethod(LF.student_t_nll_loss)


__all__ += ["BetaNLLLoss", "GaussianNLLLoss", "LaplaceNLLLoss", "PoissonNLLLoss", "StudentTNLLLoss"]


# ---------------------------------------------------------------- loss families: margin, ranking, metric learning


class MarginRankingLoss(FunctionalLoss, _Loss):
    function = staticmethod(LF.margin_ranking_loss)


class HingeEmbeddingLoss(FunctionalLoss, _Loss):
    function = staticmethod(LF.hinge_embedding_loss)


class SoftMarginLoss(FunctionalLoss, _Loss):
    function = staticmethod(LF.soft_margin_loss)


class MultiMarginLoss(FunctionalLoss, _WeightedLoss):
    function = staticmethod(LF.multi_margin_loss)


class MultiLabelMarginLoss(FunctionalLoss, _Loss):
    function = staticmethod(LF.multilabel_margin_loss)


class MultiLabelSoftMarginLoss(FunctionalLoss, _WeightedLoss):
    function = staticmethod(LF.multilabel_soft_margin_loss)


class TripletMarginLoss(FunctionalLoss, _Loss):
    function = staticmethod(LF.triplet_margin_loss)


class CosineEmbeddingLoss(FunctionalLoss, _Loss):
    function = staticmethod(LF.cosine_embedding_loss)


class HingeLoss(FunctionalLoss):
    function = staticmethod(LF.hinge_loss)


class SquaredHingeLoss(FunctionalLoss):
    function = staticmethod(LF.squared_hinge_loss)


class InfoNCELoss(FunctionalLoss):
    function = staticmethod(LF.info_nce_loss)


NTXentLoss = InfoNCELoss


class SupConLoss(FunctionalLoss):
    function = staticmethod(LF.supcon_loss)


__all__ += [
    "CosineEmbeddingLoss",
    "HingeEmbeddingLoss",
    "HingeLoss",
    "InfoNCELoss",
    "MarginRankingLoss",
    "MultiLabelMarginLoss",
    "MultiLabelSoftMarginLoss",
    "MultiMarginLoss",
    "NTXentLoss",
    "SoftMarginLoss",
    "SquaredHingeLoss",
    "SupConLoss",
    "TripletMarginLoss",
]


# ---------------------------------------------------------------- loss families: segmentation


class DiceLoss(FunctionalLoss):
    function = staticmethod(LF.dice_loss)


class JaccardLoss(FunctionalLoss):
    function = staticmethod(LF.jaccard_loss)


class TverskyLoss(FunctionalLoss):
    function = staticmethod(LF.tversky_loss)


class FocalTverskyLoss(FunctionalLoss):
    function = staticmethod(LF.focal_tversky_loss)


class LovaszSoftmaxLoss(FunctionalLoss):
    function = staticmethod(LF.lovasz_softmax_loss)


class LovaszHingeLoss(FunctionalLoss):
    function = staticmethod(LF.lovasz_hinge_loss)


class DiceCELoss(FunctionalLoss):
    function = staticmethod(LF.dice_ce_loss)


__all__ += ["DiceCELoss", "DiceLoss", "FocalTverskyLoss", "JaccardLoss", "LovaszHingeLoss", "LovaszSoftmaxLoss",
            "TverskyLoss"]
