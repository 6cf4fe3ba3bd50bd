"""Step 2 — operational KPIs under explicit definitions, and Erlang staffing models."""

from . import aggregates, capacity, definitions, engines, erlang, features, table  # noqa: F401  (erlang: cxlab.kpis.erlang)
from .aggregates import *  # noqa: F403
from .capacity import *  # noqa: F403
from .definitions import *  # noqa: F403
from .features import *  # noqa: F403
from .table import *  # noqa: F403

__all__ = [*definitions.__all__, *table.__all__, *aggregates.__all__, *features.__all__, *capacity.__all__]
