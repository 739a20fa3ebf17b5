"""The configuration of one ``losskit compare`` job, parsed and checked before anything runs.

Every check that can fail on user input lives here or in
:mod:`losskit.experiments.datasets` and raises :class:`UsageError` with a
one-line message, so the CLI can refuse bad input before it writes anything.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from .._usage import UsageError
from .._validate import check_loss_options
from ..errors import LossInputError
from ..nn import FunctionalLoss
from ..registry import available_losses, loss_info

__all__ = [
    "NOISE_KINDS",
    "CompareConfig",
    "DataSource",
    "LossSpec",
    "ModelSpec",
    "TrainSpec",
    "UsageError",
    "parse_levels",
    "parse_loss_specs",
]

# the corruption kinds of each task; the first is the default
NOISE_KINDS: dict[str, tuple[str, ...]] = {
    "regression": ("gross", "heavy_tail"),
    "classification": ("symmetric", "pair"),
}
FORMAT_VERSION = 2  # 2: a split per seed, a validation split
# the largest |value| of a numeric loss option: targets are standardised (SD 1) and training runs in float32,
# so a scale past this only overflows (delta=1e300 is MSE/2 long before that)
OPTION_LIMIT = 1e6


# ------------------------------------------------------------------ losses


_SPECIAL_FLOATS = {"inf": math.inf, "+inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def _parse_value(text: str) -> Any:
    """A Python literal (``2``, ``0.5``, ``None``, ``'text'``), ``inf``/``-inf``/``nan``, or else the text itself."""
    if text.lower() in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text.lower()]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def _show_number(value: float) -> str:
    digits = str(value)
    if isinstance(value, int) and len(digits) > 12:
        return f"{digits[:6]}... ({len(digits)} digits)"
    return f"{value:g}"


def _check_option_range(name: str, key: str, value: Any) -> None:
    """Finite numeric options must lie within ±OPTION_LIMIT (infinities are left to the loss to accept)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if isinstance(value, float) and not math.isfinite(value):
        return
    if abs(value) > OPTION_LIMIT:  # exact for ints of any size
        raise UsageError(
            f"loss {name!r}: {key}={_show_number(value)} is out of range; losskit compare and plot take |{key}| <= 1e6 "
            f"(data are standardised to SD 1 and training runs in float32)."
        )


@dataclass(frozen=True)
class LossSpec:
    """One loss of a compare grid: registry name, its own options, and the label used in every output."""

    name: str
    options: tuple[tuple[str, Any], ...] = ()
    typed: str = field(default="", compare=False)  # the name as given (an alias: "nll"), for messages only

    @property
    def label(self) -> str:
        return self.name + "".join(f":{k}={v}" for k, v in self.options)

    @property
    def shown(self) -> str:
        """The label, with the name as the user gave it where that was another spelling."""
        if not self.typed or self.typed == self.name:
            return repr(self.label)
        return f"{self.typed!r} (losskit's {self.label!r})"

    @property
    def task(self) -> str:
        return loss_info(self.name).task

    def build(self) -> FunctionalLoss:
        """A fresh loss module with these options (reduction ``"mean"``)."""
        return loss_info(self.name).module(**dict(self.options))


def _probe(spec: LossSpec) -> None:
    """Call the loss on small valid float32 inputs, so bad option values fail now, with the loss's own message.

    Regression losses see residuals in [-10, 10]; classification losses logits of scale 1 and 10. A loss whose
    value or gradient is not finite there (an option at an extreme) is refused too.
    """
    module = spec.build()
    if spec.task == "regression":
        x = torch.linspace(-10.0, 10.0, 41).requires_grad_()
        value = module(x, torch.zeros(41), reduction="none")
        where = "residuals in [-10, 10]"
    elif spec.task == "classification":
        from .targets import class_targets

        base = torch.tensor([[2.0, -1.0, 0.5], [-0.5, 0.0, 3.0], [1.0, 1.0, -2.0], [0.0, 0.0, 0.0]])
        x = torch.cat([base, 10.0 * base]).requires_grad_()
        labels = torch.tensor([0, 2, 1, 0, 0, 2, 1, 0])
        value = module(x, class_targets(spec, labels, 3), reduction="none")
        where = "logits of scale 1 and 10"
    else:
        return
    (grad,) = torch.autograd.grad(value.sum(), x)
    if not (torch.isfinite(value).all() and torch.isfinite(grad).all()):
        raise UsageError(
            f"loss {spec.label!r} gives a non-finite value or gradient at ordinary inputs ({where}, float32); "
            "choose a less extreme option value (see 'losskit list' for the defaults)."
        )


def parse_loss_spec(text: str) -> LossSpec:
    """``"huber:delta=2"`` -> ``LossSpec("huber", (("delta", 2),))``; aliases resolve to the registry name."""
    parts = [p.strip() for p in text.split(":")]
    if not parts[0]:
        raise UsageError(f"empty loss name in {text!r}; write e.g. --losses mse,huber:delta=2.")
    try:
        info = loss_info(parts[0])
    except LossInputError as err:
        raise UsageError(str(err)) from None
    allowed = info.hyperparameters
    options: dict[str, Any] = {}
    for part in parts[1:]:
        key, eq, value = part.partition("=")
        key = key.strip()
        if not eq or not key:
            raise UsageError(f"loss option {part!r} in {text!r} is not KEY=VALUE; write e.g. huber:delta=2.")
        try:
            check_loss_options(info.name, [key], allowed)
        except LossInputError as err:
            raise UsageError(str(err)) from None
        if key in options:
            raise UsageError(f"loss option {key!r} is given twice in {text!r}; give each option once.")
        options[key] = _parse_value(value.strip())
        _check_option_range(text, key, options[key])
    spec = LossSpec(info.name, tuple(sorted(options.items())), typed=parts[0])
    try:
        _probe(spec)
    except (LossInputError, TypeError, ValueError, OverflowError, RuntimeError) as err:
        if isinstance(err, UsageError):
            raise
        raise UsageError(f"loss {spec.label!r}: {err}".splitlines()[0]) from None
    return spec


def parse_loss_specs(text: str) -> tuple[LossSpec, ...]:
    """Parse ``--losses a,b:k=v``; refuse empty entries and duplicates."""
    if not text.strip():
        raise UsageError("--losses is empty; give at least one loss, e.g. --losses mse,huber (see 'losskit list').")
    parts = [t.strip() for t in text.split(",")]
    if not all(parts):
        raise UsageError(f"--losses {text!r} has an empty entry; write e.g. --losses mse,mae,huber.")
    specs = tuple(parse_loss_spec(p) for p in parts)
    labels = [s.label for s in specs]
    dupes = sorted({lab for lab in labels if labels.count(lab) > 1})
    if dupes:
        twice = [s for s in specs if s.label == dupes[0]]
        typed = sorted({s.typed for s in twice})
        if len(typed) > 1:  # two spellings of one loss (e.g. "ce" and "nll")
            names = " and ".join(repr(t) for t in typed)
            raise UsageError(f"{names} in --losses both name losskit's {dupes[0]!r}; list each loss once.")
        raise UsageError(f"loss {twice[0].shown} is listed twice in --losses; list each loss once.")
    return specs


def check_loss_tasks(specs: tuple[LossSpec, ...], task: str, data_name: str) -> None:
    """Every loss must be of the data's task."""
    for spec in specs:
        if spec.task != task:
            valid = ", ".join(n for n in available_losses() if loss_info(n).task == task)
            raise UsageError(
                f"loss {spec.shown} is a {spec.task} loss, but {data_name} is a {task} task; "
                f"{task} losses: {valid}."
            )


# ------------------------------------------------------------------ levels


def parse_levels(text: str) -> tuple[float, ...]:
    """Parse ``--corruption 0,0.1,0.2``: each level in [0, 1), sorted, duplicates refused."""
    if not text.strip():
        raise UsageError("--corruption is empty; give at least one level in [0, 1), e.g. --corruption 0,0.1,0.2.")
    levels = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise UsageError(
                f"--corruption {text!r}: {part.strip()!r} is not a number; write e.g. 0,0.1,0.2."
            ) from None
        if not math.isfinite(value) or not 0.0 <= value < 1.0:
            raise UsageError(
                f"--corruption level {part.strip()} is outside [0, 1); levels are fractions, e.g. 0,0.1,0.2."
            )
        levels.append(value)
    if len(set(levels)) != len(levels):
        raise UsageError(f"--corruption {text!r} lists a level twice.")
    return tuple(sorted(levels))


# ------------------------------------------------------------------ the job


@dataclass(frozen=True)
class DataSource:
    """Where the data comes from: a bundled dataset name, or a CSV/Parquet file and its target column."""

    dataset: str | None = None
    path: str | None = None
    format: str | None = None  # "csv" | "parquet"
    target: str | None = None
    task: str | None = None
    dropna: bool = False
    test_size: float = 0.25
    val_size: float = 0.2  # of the rows left after the test split


@dataclass(frozen=True)
class ModelSpec:
    kind: str = "mlp"  # "linear" | "mlp"
    hidden: tuple[int, ...] = (64,)

    def layer_sizes(self, n_in: int, n_out: int) -> list[int]:
        hidden = self.hidden if self.kind == "mlp" else ()
        return [n_in, *hidden, n_out]


@dataclass(frozen=True)
class TrainSpec:
    optimizer: str = "adam"  # "adam" | "sgd"
    lr: float = 1e-3
    batch_size: int = 32
    epochs: int = 50


@dataclass(frozen=True)
class CompareConfig:
    """Everything that determines the numbers of a compare job (and so its fingerprint)."""

    source: DataSource
    losses: tuple[LossSpec, ...]
    levels: tuple[float, ...]
    noise_kind: str
    seeds: int
    model: ModelSpec = field(default_factory=ModelSpec)
    train: TrainSpec = field(default_factory=TrainSpec)
    max_seeds: int | None = None  # set: ``--seeds auto``, start at ``seeds`` and add seeds up to this cap

    @property
    def auto(self) -> bool:
        return self.max_seeds is not None

    def as_dict(self, data_digest: str, task: str) -> dict[str, Any]:
        """A JSON-able description including the data's content digest and the resolved task."""
        d = asdict(self)
        d["losses"] = [s.label for s in self.losses]
        d["source"]["task"] = task
        d["data_digest"] = data_digest
        d["format_version"] = FORMAT_VERSION
        return d


def fingerprint(description: dict[str, Any]) -> str:
    """A short stable hash of a configuration description."""
    blob = json.dumps(description, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
