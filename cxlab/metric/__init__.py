"""Step 1 — the CX metric: scoring, comparisons, agreement, non-response, loyalty prediction.

Submodules (one statistical family each): :mod:`.scoring`, :mod:`.aggregates` (the headline
from aggregate KPI sheets), :mod:`.differences`
(``compare``, ``compare_segments``), :mod:`.concordance` (``agreement``,
``agreement_crosstab``), :mod:`.nonresponse`, :mod:`.loyalty`, :mod:`.step` (the
step's inputs and defaults derived from the data present). The submodules
are not named after the functions they hold, so ``cxlab.metric.compare`` is
always the function.
"""

from . import aggregates, concordance, differences, loyalty, nonresponse, scoring, step
from .aggregates import *  # noqa: F403
from .concordance import *  # noqa: F403
from .differences import *  # noqa: F403
from .loyalty import *  # noqa: F403
from .nonresponse import *  # noqa: F403
from .scoring import *  # noqa: F403
from .step import *  # noqa: F403

__all__ = [*scoring.__all__, *aggregates.__all__, *differences.__all__, *concordance.__all__, *nonresponse.__all__, *loyalty.__all__,
           *step.__all__]
