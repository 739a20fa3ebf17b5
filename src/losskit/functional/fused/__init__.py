"""Fused losses for scale: :func:`linear_cross_entropy` (the LM head without its logits) and
one-pass forward + backward kernels for the elementwise regression losses.

The elementwise kernels are used automatically by :func:`losskit.functional.mse_loss`,
``l1_loss``, ``huber_loss`` and ``log_cosh_loss``; :func:`set_fused_elementwise`
chooses the path (``"auto"``, ``"always"``, ``"never"``).
"""

from ._native import KernelInfo, kernel_info
from .elementwise import fused_elementwise, fused_elementwise_mode, set_fused_elementwise
from .linear_ce import CHUNK_BUDGET_BYTES, linear_cross_entropy, plan_chunk_size

__all__ = [
    "CHUNK_BUDGET_BYTES",
    "KernelInfo",
    "fused_elementwise",
    "fused_elementwise_mode",
    "kernel_info",
    "linear_cross_entropy",
    "plan_chunk_size",
    "set_fused_elementwise",
]
