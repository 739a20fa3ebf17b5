"""losskit: loss functions for PyTorch, correct by default, and the evidence to choose one.

Public API::

    import losskit.functional as LF      # pure functions
    import losskit.nn                     # nn.Module wrappers
    losskit.get_loss("huber", delta=2.0)  # registry
    losskit.distributed                   # exact means across ranks, vocab-parallel CE
"""

# first, before torch loads: in the `losskit` command, Ctrl-C during start-up exits 130 (see _usage)
from . import _usage  # noqa: F401, I001
from . import distributed, functional, nn
from ._validate import (
    get_sync_policy,
    get_validation,
    is_validation_enabled,
    set_sync_policy,
    set_validation,
    sync_policy,
    validation,
)
from ._version import __version__
from .errors import LossInputError
from .registry import LossInfo, available_losses, get_loss, loss_info, register

__all__ = [
    "LossInfo",
    "LossInputError",
    "__version__",
    "available_losses",
    "distributed",
    "functional",
    "get_loss",
    "get_sync_policy",
    "get_validation",
    "is_validation_enabled",
    "loss_info",
    "nn",
    "register",
    "set_sync_policy",
    "set_validation",
    "sync_policy",
    "validation",
]
