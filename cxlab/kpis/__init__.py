"""Step 2 — operational KPIs under explicit definitions, and Erlang staffing models."""

from . import capacity, definitions, erlang, features, table  # noqa: F401  (erlang: cxlab.kpis.erlang)
from .capacity import *  # noqa: F403
from .definitions import *  # noqa: F403
from .features import *  # noqa: F403
from .table import *  # noqa: F403

__all__ = [*definitions.__all__, *table.__all__, *features.__all__, *capacity.__all__]
