"""Step 4 — correlations with CX at the contact and period grain, with a run-wide test log."""

from . import core
from .core import *  # noqa: F403

__all__ = [*core.__all__]
