"""Step 1 — the CX metric: scoring, comparisons, agreement, non-response, loyalty prediction."""

from . import core
from .core import *  # noqa: F403

__all__ = [*core.__all__]
