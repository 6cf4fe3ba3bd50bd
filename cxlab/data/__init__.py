"""Loading and validating exports into canonical tables, with quarantine and row accounting."""

from . import load, quarantine, readers, rules
from .load import *  # noqa: F403
from .quarantine import *  # noqa: F403
from .readers import *  # noqa: F403
from .rules import *  # noqa: F403

__all__ = [*readers.__all__, *rules.__all__, *quarantine.__all__, *load.__all__]
