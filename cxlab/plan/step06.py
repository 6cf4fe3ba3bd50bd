"""Sections of step 06_validate and what each needs (see :mod:`cxlab.plan`).

Checks that only the computation can make — too few periods for the
holdout, no pilot assignment or start date, a window that ends before the
pilot, too few teams for a difference-in-differences — raise
:class:`cxlab.errors.NotEnoughData` inside ``ctx.guard`` (see
:mod:`cxlab.verify.defaults`).
"""

from __future__ import annotations

from . import Section
from .step04 import _period_cx, _period_data


def _period_cx_data(tables, config) -> str | None:
    """Periods with CX: interactions with survey responses, or aggregates that carry the metric."""
    return _period_data(tables, config) or _period_cx(tables, config)


#: In notebook order; ``ctx.needs(key)`` in ``notebooks/06_validate.ipynb`` looks them up here.
SECTIONS: list[Section] = [
    Section("holdout", "Out of time",
            "test whether the driver model fitted on earlier days predicts later CX better than a calendar forecast",
            check=_period_cx_data),
    Section("natural", "Natural experiments",
            "compare the CX change on days when a KPI moved sharply on its own with the change the model predicts",
            tables=("interactions",), cx=True),
    Section("pilot", "The pilot: treated vs control teams",
            "read out the pilot's effect on the resolution flag by difference-in-differences between teams",
            tables=("interactions", "agents"), columns={"interactions": ("resolved",), "agents": ("team",)},
            varies={"agents": ("team",)}),
    Section("pilot_cx", "The pilot's effect on CX",
            "estimate the pilot's effect on the CX metric, weighted to all handled contacts",
            cx=True, after=("pilot",)),
    Section("checks", "Falsification checks",
            "check for diverging pre-trends, a placebo start date and an A/A split of the control teams",
            after=("pilot",)),
    Section("verdict", "Verdict",
            "compare the pilot's CX effect with step 5's prediction: held, did not hold, or too small to tell",
            after=("pilot_cx",)),
    Section("next_pilot", "The next pilot",
            "size the next pilot (teams, days, start date) to detect the predicted effect with the target power",
            tables=("interactions", "agents"), columns={"agents": ("team",)}, varies={"agents": ("team",)}, cx=True),
    Section("plan", "Pre-registered plan",
            "write the next pilot's pre-registered analysis plan (pilot_plan.json and pilot_plan.md)",
            after=("next_pilot",)),
]
