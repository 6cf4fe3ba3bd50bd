"""Sections of step 05_focus and what each needs (see :mod:`cxlab.plan`)."""

from __future__ import annotations

from . import Section
from .step04 import _contact_grain, _period_cx, _period_data


def _period_grain(tables, config) -> str | None:
    inter, surveys = tables.get("interactions"), tables.get("surveys")
    if inter is not None and len(inter) and surveys is not None and len(surveys) and not _period_cx(tables, config):
        return "the contact grain is used (responses joined to their contacts)"
    return _period_data(tables, config) or _period_cx(tables, config)


_CONTACT = dict(tables=("interactions",), cx=True, check=_contact_grain)

#: In notebook order; ``ctx.needs(key)`` in ``notebooks/05_focus.ipynb`` looks them up here.
SECTIONS: list[Section] = [
    Section("drivers", "Driver importance", "split the explained variance of CX among the drivers, with "
            "intervals on shares and ranks", **_CONTACT),
    Section("period_drivers", "Driver importance at the period grain", "weigh the KPIs against CX across "
            "periods (used when there are no contact-level data)", check=_period_grain),
    Section("dominance", "Dominance", "say which driver adds more than which in every sub-model",
            after=("drivers",), **_CONTACT),
    Section("quadrant", "Importance vs performance", "place each lever against its target",
            after=("drivers",), **_CONTACT),
    Section("what_if", "What if", "predict the CX change of stated KPI changes", after=("drivers",), **_CONTACT),
    Section("agents", "CX points per added agent", "turn one more agent per half-hour into CX points",
            columns={"interactions": ("queue",)}, after=("drivers",), **_CONTACT),
    Section("focus", "Focus list", "name up to three levers to focus on, with reasons", after=("drivers",),
            **_CONTACT),
    Section("value", "What the focus lever is worth", "carry the lead lever's CX change to customers kept "
            "and revenue", tables=("interactions", "customers"), cx=True, check=_contact_grain,
            after=("focus",)),
]
