"""Step 5 — key drivers with uncertainty, what-ifs, staffing and the loyalty value of a change."""

from . import drivers, loyalty
from .drivers import *  # noqa: F403
from .loyalty import *  # noqa: F403

__all__ = [*drivers.__all__, *loyalty.__all__]
