"""Sections of step 02_operational_kpis and what each needs (see :mod:`cxlab.plan`)."""

from __future__ import annotations

from . import Section


def _rows(tables, name):
    df = tables.get(name)
    return None if df is None or len(df) == 0 else df


def _contacts_or_aggregates(tables, config) -> str | None:
    if _rows(tables, "interactions") is not None or _rows(tables, "aggregates") is not None:
        return None
    return "no interactions and no aggregates in the window"


def _queues_vary(tables, config) -> str | None:
    df = _rows(tables, "interactions")
    name = "interactions"
    if df is None:
        df, name = _rows(tables, "aggregates"), "aggregates"
    if df is None:
        return "no interactions and no aggregates in the window"
    if "queue" not in df.columns:
        return f"column 'queue' of {name} is not mapped"
    vals = df["queue"].dropna().unique()
    if len(vals) < 2:
        return (f"column 'queue' of {name} has a single value ({str(vals[0])!r})" if len(vals)
                else f"column 'queue' of {name} is empty")
    return None


#: In notebook order; ``ctx.needs(key)`` in ``notebooks/02_operational_kpis.ipynb`` looks them up here.
SECTIONS: list[Section] = [
    Section("headline", "The window's headline",
            "report offered contacts, service level, abandonment, speed of answer, handle time and FCR over "
            "the window", check=_contacts_or_aggregates),
    Section("trend", "Trends", "show each KPI period by period from its own numerator and denominator",
            after=("headline",)),
    Section("by_queue", "Spread by queue", "compare the KPIs across queues and show their day-to-day spread",
            check=_queues_vary, after=("headline",)),
    Section("erlang", "Does service level follow staffing as Erlang expects?",
            "compare the actual service level with what Erlang C and Erlang A expect from the staffing",
            tables=("interactions", "staffing")),
    Section("what_if", "Staffing what-if for a typical busy interval",
            "size the agents a busy interval needs for the service-level target", after=("erlang",)),
    Section("sensitivity", "How much do the numbers depend on the definitions?",
            "show how much the headline KPIs move under alternative definitions", tables=("interactions",)),
]
