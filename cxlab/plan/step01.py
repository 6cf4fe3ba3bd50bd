"""Sections of step 01_cx_metric and what each needs (see :mod:`cxlab.plan`)."""

from __future__ import annotations

from . import Section

_SEGMENTS = ("queue", "channel")
_METRICS = ("csat", "nps", "ces")


def _a_segment_varies(tables, config) -> str | None:
    """At least one of queue / channel takes two values among the contacts (the default segments)."""
    inter = tables.get("interactions")
    why = []
    for col in _SEGMENTS:
        if inter is None or col not in inter.columns:
            why.append(f"column {col!r} of interactions is not mapped")
            continue
        vals = inter[col].dropna().unique()
        if len(vals) >= 2:
            return None
        why.append(f"column {col!r} of interactions has a single value ({str(vals[0])!r})" if len(vals)
                   else f"column {col!r} of interactions is empty")
    return "; ".join(why)


def _two_metrics(tables, config) -> str | None:
    s = tables.get("surveys")
    present = [m for m in _METRICS if s is not None and m in s.columns and s[m].notna().any()]
    if len(present) >= 2:
        return None
    return f"only {', '.join(m.upper() for m in present) or 'no metric'} is answered (needs at least two metrics)"


#: metric -> (value, n) column pairs of an aggregate KPI sheet that carry it (cxlab.metric.aggregates)
_AGGREGATE_CX = {"csat": (("csat_top2", "csat_n"), ("csat_mean", "csat_n")), "nps": (("nps_points", "nps_n"),),
                 "ces": (("ces_mean", "ces_n"),)}


def _cx_present(tables, config) -> str | None:
    """Survey responses with the metric, or an aggregate KPI sheet with its value and response count."""
    metric = getattr(config, "cx_metric", None) or "csat"
    s = tables.get("surveys")
    if s is not None and len(s) and metric in s.columns and s[metric].notna().any():
        return None
    a = tables.get("aggregates")
    if a is not None and len(a):
        for v, n in _AGGREGATE_CX.get(metric, ()):
            if v in a.columns and n in a.columns and (a[v].notna() & (a[n].fillna(0) > 0)).any():
                return None
    why = ("no surveys table in the window" if s is None else "no surveys rows in the window" if not len(s)
           else f"no {metric.upper()} response in the window")
    if a is not None and len(a):
        why += f"; the aggregates carry no {metric.upper()} with its response count"
    return why


#: In notebook order; ``ctx.needs(key)`` in ``notebooks/01_cx_metric.ipynb`` looks them up here.
SECTIONS: list[Section] = [
    Section("headline", "The headline, with its uncertainty",
            "state the CX headline over the window with its 95% interval and the response rate", check=_cx_present),
    Section("trend", "Trend", "show the headline period by period, each with its interval and a small-n flag",
            check=_cx_present, after=("headline",)),
    Section("segments", "By segment", "compare CX across the levels of each segment (queue, channel), "
            "each against the rest, Benjamini–Hochberg adjusted",
            cx=True, tables=("interactions",), columns={"surveys": ("interaction_id",)}, check=_a_segment_varies,
            after=("headline",)),
    Section("agreement", "Do the metrics agree?",
            "show whether CSAT, NPS and CES rank the same responses alike (Spearman, with intervals)",
            cx=True, check=_two_metrics),
    Section("nonresponse", "Who answers? Non-response bias",
            "compare surveyed with not-surveyed contacts and re-weight the headline towards all handled contacts",
            cx=True, tables=("interactions",), columns={"surveys": ("interaction_id",)}, after=("headline",)),
    Section("loyalty", "Which metric predicts what customers later do?",
            "rank the CX metrics by how well they predict churn (AUC) and recommend the one to steer by",
            cx=True, tables=("customers",), columns={"surveys": ("customer_id",)}),
    Section("revenue", "Score and later revenue",
            "relate each customer's score to their revenue change after it",
            cx=True, tables=("customer_revenue",), columns={"surveys": ("customer_id",)}),
]
