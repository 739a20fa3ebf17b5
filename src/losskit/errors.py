"""Exceptions raised by losskit."""

from __future__ import annotations

__all__ = ["LossInputError"]


class LossInputError(ValueError):
    """A loss was called with an input it cannot compute a correct value for.

    Subclasses :class:`ValueError`, so ``except ValueError`` keeps working.
    The message always names the argument, the offending shape or value and
    the fix.
    """
