"""Step 3 — other sources joined to contacts: agents, QA, events, series; analysis frames.

:mod:`.frames` builds the contact- and period-grain frames; :mod:`.inputs` derives what they are built
from (tables with rows, the KPI table from interactions or aggregates, the segments present).

:mod:`.operational` holds the step-2 report helpers built on the KPI tables (what is not measured,
unknown customers, the Erlang comparison), so the step-2 notebook stays one call per cell.
"""

from . import frames, inputs, operational
from .frames import *  # noqa: F403
from .inputs import *  # noqa: F403
from .operational import *  # noqa: F403

__all__ = [*frames.__all__, *inputs.__all__, *operational.__all__]
