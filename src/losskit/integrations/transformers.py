"""Hugging Face ``Trainer`` with the causal-LM loss computed by :func:`~losskit.functional.linear_cross_entropy`.

One import and one line::

    from losskit.integrations.transformers import LinearCrossEntropyTrainer

    trainer = LinearCrossEntropyTrainer(model=model, args=args, train_dataset=ds, label_smoothing=0.1)
    trainer.train()

What it does, so that users need not know it:

* **No logits.** The model runs its usual forward (through DDP or any other
  wrapper), but a forward pre-hook on its output embeddings
  (``model.get_output_embeddings()``, the LM head, tied to the input
  embeddings or not) takes the final hidden states and hands the head an
  empty sequence, so the (B, T, V) logits are never formed. The loss is then
  :func:`~losskit.functional.linear_cross_entropy` of the hidden states and
  the head's weight (and bias), whose memory beyond its inputs is one chunk
  of logits.
* **Shifted targets.** Position *t* predicts token *t + 1*: the loss pairs
  ``hidden[:, :-1]`` with ``labels[:, 1:]`` (or with ``shift_labels`` when the
  collator provides them, e.g. padding-free packing).
* **Its own exact count.** :meth:`~LinearCrossEntropyMixin.get_batch_samples`
  counts, over the micro-batches of each optimizer step, the shifted targets
  that are not ``ignore_index``, and turns the count into the divisor with
  :func:`losskit.distributed.global_divisor` (one all-reduce; the global
  count divided by the world size, since DDP averages gradients). Each
  micro-batch's loss is its sum over tokens divided by that divisor, so the
  accumulated gradient is exactly that of the mean over every real shifted
  token of the step on every rank, whatever count the ``Trainer`` itself
  would pass (it depends on the version and the model class). The loss is
  marked as already scaled for gradient accumulation
  (``loss_is_scaled_for_ga = True``).
* **Options.** ``ignore_index`` (default -100, the collators' padding label)
  and ``label_smoothing`` (default: ``args.label_smoothing_factor``) go to the
  loss.

Limits: models that transform their logits after the head (final-logit
soft-capping as in Gemma 2, a ``logit_scale`` as in Cohere) are refused,
since the loss would not be theirs; the count assumes data parallelism
(every rank holds different sequences), not tensor or context parallelism.
In evaluation the loss is computed the same way and the returned logits are
empty (use ``prediction_loss_only=True``, or a plain ``Trainer`` for metrics
on logits).

For a custom ``Trainer`` subclass (TRL's ``SFTTrainer``, say), put the mixin
first: ``class MyTrainer(LinearCrossEntropyMixin, SFTTrainer): ...``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from transformers import Trainer

from .. import _validate as V
from ..distributed import global_divisor
from ..functional import linear_cross_entropy

__all__ = ["LinearCrossEntropyMixin", "LinearCrossEntropyTrainer", "count_shifted_targets"]

# config attributes of models whose logits are not the plain output of the LM head
_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "logits_scaling")


def count_shifted_targets(batches: list[dict[str, Any]], ignore_index: int = -100) -> torch.Tensor:
    """The number of real next-token targets in ``batches``: ``labels[:, 1:]`` (or ``shift_labels``) not ignored.

    Args:
      batches: the micro-batches of one optimizer step, each a dict with ``labels`` of shape (B, T) or
        ``shift_labels`` (already shifted).
      ignore_index: the label of positions that are no target (padding, prompts).

    Returns:
      a 0-d int64 tensor on the labels' device.
    """
    total = None
    for batch in batches:
        targets = batch["shift_labels"] if "shift_labels" in batch else batch["labels"][..., 1:]
        count = (targets != ignore_index).sum()
        total = count if total is None else total + count.to(total.device)
    return total if total is not None else torch.zeros((), dtype=torch.int64)


def _unwrap(model: nn.Module) -> nn.Module:
    """The model inside DDP / DataParallel / accelerate wrappers (the one with ``get_output_embeddings``)."""
    while not hasattr(model, "get_output_embeddings") and isinstance(getattr(model, "module", None), nn.Module):
        model = model.module  # type: ignore[assignment]  # DDP's .module is typed as Tensor | Module
    return model


def _output_head(model: nn.Module) -> nn.Linear:
    inner = _unwrap(model)
    get = getattr(inner, "get_output_embeddings", None)
    head = get() if callable(get) else None
    if not isinstance(head, nn.Linear):
        raise V.LossInputError(
            f"{type(inner).__name__} has no output embeddings (get_output_embeddings() returned {head!r}); "
            f"LinearCrossEntropyTrainer needs a causal LM whose head is an nn.Linear, e.g. an *ForCausalLM model."
        )
    config = getattr(inner, "config", None)
    transforms = [a for a in _LOGIT_TRANSFORMS if getattr(config, a, None) not in (None, 1, 1.0)]
    if transforms:
        raise V.LossInputError(
            f"{type(inner).__name__} transforms its logits after the head ({', '.join(transforms)} in its config), "
            f"so linear_cross_entropy of the head would not be its loss; use the plain transformers Trainer."
        )
    return head


@contextlib.contextmanager
def _hidden_states_of(head: nn.Module) -> Iterator[list[torch.Tensor]]:
    """While active, the head's inputs are recorded and the head is handed an empty sequence (no logits)."""
    captured: list[torch.Tensor] = []

    def hook(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        hidden = args[0]
        captured.append(hidden)
        return (hidden[..., :0, :], *args[1:])

    handle = head.register_forward_pre_hook(hook)
    try:
        yield captured
    finally:
        handle.remove()


class LinearCrossEntropyMixin:
    """Put before a ``transformers.Trainer`` (sub)class: the causal-LM loss without logits, with an exact count.

    Args:
      ignore_index: labels equal to it are not targets (default -100, what the collators pad with).
      label_smoothing: in [0, 1]; ``None`` takes ``args.label_smoothing_factor``.
      args, kwargs: the ``Trainer``'s own positional and keyword arguments.

    Attributes:
      item_counts: one ``(ours, trainer's)`` pair per optimizer step: the divisor this trainer used
        (the global number of real shifted targets over the world size) and the ``num_items_in_batch``
        the base ``Trainer`` computed for the same micro-batches (``None`` where it computes none).
    """

    loss_is_scaled_for_ga: bool | None = True
    label_smoother: Any

    def __init__(self, *args: Any, ignore_index: int = -100, label_smoothing: float | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
            raise V.LossInputError(f"ignore_index must be an int, got {ignore_index!r}.")
        self.ignore_index = ignore_index
        factor = getattr(getattr(self, "args", None), "label_smoothing_factor", 0.0)
        self.label_smoothing = float(factor if label_smoothing is None else label_smoothing)
        V.check_in_range(self.label_smoothing, "label_smoothing", 0.0, 1.0)
        # the base Trainer's label smoother is never used: the loss below applies the smoothing
        self.label_smoother = None
        self.item_counts: list[tuple[float, float | None]] = []

    def get_batch_samples(self, *args: Any, **kwargs: Any) -> tuple[list[Any], torch.Tensor]:
        """The step's micro-batches, and our divisor for them in place of the ``Trainer``'s count."""
        batches, theirs = super().get_batch_samples(*args, **kwargs)  # type: ignore[misc]
        local = count_shifted_targets(batches, self.ignore_index)
        ours = global_divisor(local)
        self.item_counts.append((float(ours), None if theirs is None else float(torch.as_tensor(theirs).sum())))
        return batches, ours

    def compute_loss(self, model: nn.Module, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: torch.Tensor | int | None = None) -> Any:
        """Sum of the token losses of this micro-batch over ``num_items_in_batch`` (the mean when it is None)."""
        inputs = dict(inputs)
        labels = inputs.pop("labels", None)
        shift_labels = inputs.pop("shift_labels", None)
        if labels is None and shift_labels is None:
            raise V.LossInputError(
                "the batch has no 'labels' (nor 'shift_labels'); LinearCrossEntropyTrainer trains causal LMs on "
                "labels, e.g. from DataCollatorForLanguageModeling(tokenizer, mlm=False)."
            )
        head = _output_head(model)
        with _hidden_states_of(head) as captured:
            outputs = model(**inputs)
        if len(captured) != 1:
            raise V.LossInputError(
                f"the output embeddings ran {len(captured)} times in one forward pass; "
                f"LinearCrossEntropyTrainer supports models that apply their LM head once."
            )
        hidden = captured[0]
        if shift_labels is not None:
            target = shift_labels
        else:
            hidden, target = hidden[:, :-1], labels[:, 1:]
        loss = linear_cross_entropy(
            hidden, head.weight, target.to(hidden.device), bias=getattr(head, "bias", None),
            ignore_index=self.ignore_index, label_smoothing=self.label_smoothing,
            num_items=num_items_in_batch,
        )
        return (loss, outputs) if return_outputs else loss


class LinearCrossEntropyTrainer(LinearCrossEntropyMixin, Trainer):
    """``transformers.Trainer`` computing the causal-LM loss with ``linear_cross_entropy``; see the module doc."""
