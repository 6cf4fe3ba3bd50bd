"""Step 6 — does the correlation hold in real life: holdout, natural experiments, pilots, verdict."""

from . import core
from .core import *  # noqa: F403

__all__ = [*core.__all__]
