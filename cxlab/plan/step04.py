"""Sections of step 04_correlate and what each needs (see :mod:`cxlab.plan`)."""

from __future__ import annotations

from . import Section


def _rows(tables, name) -> bool:
    df = tables.get(name)
    return df is not None and len(df) > 0


def _period_data(tables, config) -> str | None:
    if _rows(tables, "interactions") or _rows(tables, "aggregates"):
        return None
    return "no interactions or aggregates rows in the window"


def _contact_grain(tables, config) -> str | None:
    if not _rows(tables, "interactions"):
        return "no contact-level data (interactions) in the window" + (
            " — only aggregates" if _rows(tables, "aggregates") else "")
    return None


def _period_cx(tables, config) -> str | None:
    metric = getattr(config, "cx_metric", None) or "csat"
    s = tables.get("surveys")
    if s is not None and len(s) and metric in s.columns and s[metric].notna().any():
        return None
    a = tables.get("aggregates")
    if a is not None and len(a) and any(str(c).startswith(metric) and a[c].notna().any() for c in a.columns):
        return None
    return f"no {metric.upper()} response in the window"


_CONTACT = dict(tables=("interactions",), cx=True)

#: In notebook order; ``ctx.needs(key)`` in ``notebooks/04_correlate.ipynb`` looks them up here.
SECTIONS: list[Section] = [
    Section("frames", "The two analysis frames", "build the period-grain and contact-grain frames",
            check=_period_data),
    Section("kpi_relations", "How the KPIs move together", "show which KPIs rise and fall together across periods",
            after=("frames",)),
    Section("period", "Period grain: KPIs against CX", "say which KPIs move with CX across periods",
            check=_period_cx, after=("frames",)),
    Section("lags", "Lags", "say whether a KPI acts on CX with a delay", check=_period_cx, after=("period",)),
    Section("top_pairs", "The strongest period-grain pairs", "plot the strongest KPI-CX pairs",
            check=_period_cx, after=("period",)),
    Section("contact", "Contact grain", "correlate each response with its own contact's conditions",
            check=_contact_grain, after=("frames",), **_CONTACT),
    Section("partial", "Partial against raw", "show what is left of each correlation once the contact reason "
            "is controlled", varies={"interactions": ("contact_reason",)}, after=("contact",), **_CONTACT),
    Section("confounder", "Handle time and the contact reason", "test whether handle time has an effect of its "
            "own once the contact reason and the other conditions are held fixed",
            varies={"interactions": ("contact_reason",)}, after=("contact",), **_CONTACT),
    Section("logit", "Odds of a top score per contact condition", "give the odds of a top score per contact "
            "condition, clustered by agent", varies={"interactions": ("agent_id",)}, after=("contact",), **_CONTACT),
    Section("within", "Within agents", "separate contact effects from agent effects",
            varies={"interactions": ("agent_id",)}, after=("contact",), **_CONTACT),
    Section("curves", "Where CX falls off: response curves", "show where CX starts to fall as wait, handle and "
            "hold time grow, and what 10 s less wait is worth", check=_contact_grain, after=("contact",), **_CONTACT),
    Section("alignment", "Which KPI definition tracks CX", "say which definition of service level, FCR and AHT "
            "tracks CX best", tables=("interactions", "surveys"), cx=True, after=("frames",)),
    Section("grains", "Do the two grains agree?", "check the period and contact grains for opposite signs",
            after=("period", "contact")),
]
