"""Sections of step 07_brief and what each needs (see :mod:`cxlab.plan`).

The brief reads what steps 1-6 recorded; a section whose step recorded
nothing is skipped inside the notebook (``ctx.skip``) with the step named.
Here only what the data itself must hold is declared: CX responses for the
CX, lever and pilot sections.
"""

from __future__ import annotations

from . import Section
from .step04 import _period_cx as _cx

#: In notebook order; ``ctx.needs(key)`` in ``notebooks/07_brief.ipynb`` looks them up here.
SECTIONS: list[Section] = [
    Section("summary", "Summary", "summarize the run in a few plain bullets"),
    Section("cx", "Our CX metric", "show the CX headline and its weekly trend with the events marked", check=_cx),
    Section("levers", "The levers that matter", "rank the operational levers by how much of CX they explain",
            check=_cx),
    Section("what_if", "What moving them predicts", "predict the CX, customer and revenue change of moving the "
            "levers", check=_cx, after=("levers",)),
    Section("pilot", "Did it hold in real life?", "compare the pilot's effect with the prediction", check=_cx),
    Section("changes", "What changed since the last run", "compare this run's headlines with the previous run's"),
    Section("trust", "How far to trust these numbers", "list the caveats, skipped analyses and operations"),
]
