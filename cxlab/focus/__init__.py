"""Step 5 — key drivers with uncertainty, what-ifs, staffing and the loyalty value of a change."""

from . import decisions, defaults, importance, loyalty, staffing
from .decisions import *  # noqa: F403
from .defaults import *  # noqa: F403
from .importance import *  # noqa: F403
from .loyalty import *  # noqa: F403
from .staffing import *  # noqa: F403

__all__ = [*importance.__all__, *decisions.__all__, *staffing.__all__, *loyalty.__all__,
           *defaults.__all__]
