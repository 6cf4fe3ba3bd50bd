"""Loading and validating exports into canonical tables, with quarantine and row accounting."""

from . import core
from .core import *  # noqa: F403

__all__ = [*core.__all__]
