"""Sections of step 03_other_sources and what each needs (see :mod:`cxlab.plan`)."""

from __future__ import annotations

from . import Section
from .step02 import _contacts_or_aggregates

#: In notebook order; ``ctx.needs(key)`` in ``notebooks/03_other_sources.ipynb`` looks them up here.
SECTIONS: list[Section] = [
    Section("contact_frame", "The contact-grain frame",
            "join each survey response to its own contact's conditions, its agent and the day's context",
            cx=True, tables=("interactions",), columns={"surveys": ("interaction_id",)}),
    Section("period_frame", "The period-grain frame",
            "line CX up beside the KPIs, events and series per period and queue", check=_contacts_or_aggregates),
    Section("coverage", "Coverage", "show how well each source matched the contacts and which days have no data",
            tables=("interactions",)),
    Section("tenure", "Who handled the surveyed contacts",
            "describe the tenure, at each contact's date, of the agents who handled the surveyed contacts",
            tables=("agents",), columns={"interactions": ("agent_id",)}, after=("contact_frame",)),
    Section("events", "Event calendar", "draw the outages, campaigns and holidays in the window and count the "
            "days they flag", tables=("events",)),
]
