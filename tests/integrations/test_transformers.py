"""LinearCrossEntropyTrainer against a reference full-batch computation, on tiny config-built models.

Each model (GPT-2 with tied embeddings, Llama with an untied head) is built
from a config (no download) and trained for 2 optimizer steps of 4
micro-batches each (gradient accumulation 4) on padded batches of
sequences of different lengths, some with prompt positions masked by -100.
A deep copy of the initial model is the reference: for each step, the mean
over every real shifted target of the step's micro-batches of torch's own
cross-entropy of the full logits, then plain SGD by hand. The losses, the
gradients before each step and the parameters after it must match to
float32 precision, and the divisor the trainer used must equal the number of
real shifted targets counted from the token lists themselves.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from transformers import TrainerCallback, TrainingArguments  # noqa: E402

from losskit.functional.fused import linear_ce  # noqa: E402
from losskit.integrations.transformers import LinearCrossEntropyTrainer, count_shifted_targets  # noqa: E402

VOCAB, WIDTH, PAD = 512, 16, 0
MICRO, ACCUM, STEPS, LR = 2, 4, 2, 0.5
logging.getLogger("transformers").setLevel(logging.ERROR)


def _gpt2() -> torch.nn.Module:
    cfg = transformers.GPT2Config(vocab_size=VOCAB, n_embd=WIDTH, n_layer=2, n_head=2, n_positions=32,
                                  resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    return transformers.GPT2LMHeadModel(cfg)


def _llama() -> torch.nn.Module:
    cfg = transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=WIDTH, intermediate_size=32, num_hidden_layers=2,
                                   num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=32,
                                   tie_word_embeddings=False)
    return transformers.LlamaForCausalLM(cfg)


MODELS = {"gpt2": _gpt2, "llama": _llama}


def _sequences(n: int, seed: int) -> list[dict[str, list[int]]]:
    """Token ids made directly; every third sequence has a 2-token prompt masked out of the labels."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        length = int(torch.randint(3, 13, (1,), generator=g))
        ids = torch.randint(1, VOCAB, (length,), generator=g).tolist()
        labels = list(ids)
        if i % 3 == 0:
            labels[:2] = [-100, -100]
        out.append({"input_ids": ids, "labels": labels})
    return out


def _collate(rows: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
    """Right padding: pad token in input_ids, 0 in attention_mask, -100 in labels."""
    width = max(len(r["input_ids"]) for r in rows)
    ids = torch.full((len(rows), width), PAD)
    labels = torch.full((len(rows), width), -100)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        n = len(r["input_ids"])
        ids[i, :n], labels[i, :n], mask[i, :n] = torch.tensor(r["input_ids"]), torch.tensor(r["labels"]), 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _real_shifted_targets(rows: list[dict[str, list[int]]]) -> int:
    return sum(sum(1 for t in r["labels"][1:] if t != -100) for r in rows)


class _Recorder(TrainerCallback):
    def __init__(self) -> None:
        self.grads: list[dict[str, torch.Tensor]] = []
        self.params: list[dict[str, torch.Tensor]] = []
        self.model: torch.nn.Module | None = None

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        assert self.model is not None
        self.grads.append({n: p.grad.detach().clone() for n, p in self.model.named_parameters()})

    def on_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        assert self.model is not None
        self.params.append({n: p.detach().clone() for n, p in self.model.named_parameters()})


class _RecordingTrainer(LinearCrossEntropyTrainer):
    """Records each step's micro-batches and each micro-batch's loss, nothing else changed."""

    def get_batch_samples(self, *args: Any, **kwargs: Any) -> Any:
        batches, count = super().get_batch_samples(*args, **kwargs)
        self.steps_seen = [*getattr(self, "steps_seen", []), [dict(b) for b in batches]]
        return batches, count

    def compute_loss(self, *args: Any, **kwargs: Any) -> Any:
        loss = super().compute_loss(*args, **kwargs)
        self.losses_seen = [*getattr(self, "losses_seen", []), loss.detach().clone()]
        return loss


def _train(name: str, tmp_path: Any, label_smoothing: float) -> tuple[Any, _Recorder, torch.nn.Module, list]:
    torch.manual_seed(0)
    model = MODELS[name]().float()
    reference = copy.deepcopy(model)
    rows = _sequences(MICRO * ACCUM * STEPS, seed=1)
    args = TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=MICRO, gradient_accumulation_steps=ACCUM,
        max_steps=STEPS, learning_rate=LR, optim="sgd", lr_scheduler_type="constant", warmup_steps=0,
        weight_decay=0.0, max_grad_norm=0.0, logging_strategy="no", save_strategy="no", report_to=[],
        use_cpu=True, dataloader_num_workers=0, seed=0, disable_tqdm=True,
    )
    recorder = _Recorder()
    trainer = _RecordingTrainer(model=model, args=args, train_dataset=rows, data_collator=_collate,
                                callbacks=[recorder], label_smoothing=label_smoothing)
    recorder.model = model
    trainer.train()
    return trainer, recorder, reference, rows


def _reference_step(model: torch.nn.Module, batches: list[dict[str, torch.Tensor]], label_smoothing: float):
    """torch's cross-entropy of the full logits, summed over the step's real shifted targets, over their count."""
    total = sum(int((b["labels"][:, 1:] != -100).sum()) for b in batches)
    loss = torch.zeros(())
    per_micro = []
    for b in batches:
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
        part = F.cross_entropy(logits[:, :-1].flatten(0, 1), b["labels"][:, 1:].flatten(), ignore_index=-100,
                               label_smoothing=label_smoothing, reduction="sum") / total
        per_micro.append(part.detach())
        loss = loss + part
    model.zero_grad()
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    with torch.no_grad():
        for p in model.parameters():
            p -= LR * p.grad
    return loss.detach(), per_micro, grads, total


@pytest.mark.slow
@pytest.mark.parametrize(("name", "label_smoothing"), [("gpt2", 0.0), ("llama", 0.1)])
def test_trainer_matches_the_full_batch_token_mean(name: str, label_smoothing: float, tmp_path: Any) -> None:
    trainer, recorder, reference, rows = _train(name, tmp_path, label_smoothing)
    assert len(trainer.steps_seen) == STEPS and len(recorder.params) == STEPS
    figures = []
    for step, batches in enumerate(trainer.steps_seen):
        ref_loss, ref_micro, ref_grads, total = _reference_step(reference, batches, label_smoothing)
        # the count: ours equals the real shifted targets counted from the token lists of this step
        step_rows = [r for b in batches for r in _rows_of(b, rows)]
        ours, theirs = trainer.item_counts[step]
        assert ours == total == _real_shifted_targets(step_rows)
        losses = trainer.losses_seen[step * ACCUM:(step + 1) * ACCUM]
        torch.testing.assert_close(torch.stack(losses), torch.stack(ref_micro), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(sum(losses), ref_loss, rtol=1e-5, atol=1e-6)
        grad_diff = max(float((recorder.grads[step][n] - g).abs().max()) for n, g in ref_grads.items())
        for n, g in ref_grads.items():
            torch.testing.assert_close(recorder.grads[step][n], g, rtol=1e-4, atol=1e-6, msg=f"grad {n}")
        params = dict(reference.named_parameters())
        param_diff = max(float((recorder.params[step][n] - params[n]).abs().max()) for n in params)
        for n, p in params.items():
            torch.testing.assert_close(recorder.params[step][n], p.detach(), rtol=1e-5, atol=1e-6, msg=f"param {n}")
        figures.append(f"step {step}: loss {float(sum(losses)):.6f} vs {float(ref_loss):.6f}, max |grad diff| "
                       f"{grad_diff:.1e}, max |param diff| {param_diff:.1e}, count ours {ours:g} / real {total} / "
                       f"trainer's {theirs}")
    print(f"\n{name} (label_smoothing={label_smoothing}):\n  " + "\n  ".join(figures))


def _rows_of(batch: dict[str, torch.Tensor], rows: list[dict[str, list[int]]]) -> list[dict[str, list[int]]]:
    """The dataset rows of a collated batch, matched by their token ids."""
    out = []
    for ids, mask in zip(batch["input_ids"], batch["attention_mask"], strict=True):
        tokens = ids[mask.bool()].tolist()
        (row,) = [r for r in rows if r["input_ids"] == tokens]
        out.append(row)
    return out


class _LargestTensor(TorchDispatchMode):
    """The shapes of every tensor any aten op returns (a cheap memory probe)."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


@pytest.mark.parametrize("name", list(MODELS))
def test_no_logits_tensor_is_allocated(name: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    model = MODELS[name]().float()
    rows = _sequences(4, seed=2)
    batch = _collate(rows)
    tokens = batch["input_ids"].numel()
    # a chunk of at most 4 tokens' logits, so one chunk is far below the (B, T, V) logits
    monkeypatch.setattr(linear_ce, "CHUNK_BUDGET_BYTES", 4 * VOCAB * 4)
    args = TrainingArguments(output_dir=str(tmp_path), report_to=[], use_cpu=True, disable_tqdm=True)
    trainer = LinearCrossEntropyTrainer(model=model, args=args, data_collator=_collate)
    with _LargestTensor() as probe:
        loss = trainer.compute_loss(model, batch)
        loss.backward()
    assert probe.largest < tokens * VOCAB
    assert probe.largest <= max(4 * VOCAB, VOCAB * WIDTH)  # one chunk, or the head's weight and its gradient
    with _LargestTensor() as eager:
        model(**batch).loss.backward()  # the model's own loss: the probe sees its logits
    assert eager.largest >= tokens * VOCAB


def test_count_shifted_targets() -> None:
    labels = torch.tensor([[5, 6, 7, -100], [-100, -100, 3, 4]])
    assert int(count_shifted_targets([{"labels": labels}])) == 2 + 2
    assert int(count_shifted_targets([{"labels": labels}, {"shift_labels": labels}], ignore_index=-100)) == 4 + 5
    assert int(count_shifted_targets([{"labels": labels}], ignore_index=5)) == 6
