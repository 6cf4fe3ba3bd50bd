"""Step 2 — the KPI definitions as data (numerators and denominators in ANSI SQL).

The KPI definitions are **data**: :func:`kpi_definitions` returns a tuple of
frozen :class:`KpiDefinition` records, one per KPI, built from a
:class:`cxlab.config.KpiOptions`. Each record carries a numerator and a
denominator written as plain ANSI SQL expressions over one row of the
*contact feature relation* (below); a KPI is ``scale * SUM(numerator) /
SUM(denominator)``. Nothing engine-specific appears inside a definition, so
the same records can later be executed on Spark or a warehouse. The DuckDB
executor (:mod:`cxlab.kpis.table`) builds the feature relation (repeat window, local
periods) and runs the sums.

Contact feature relation (what a definition may reference)
------------------------------------------------------------
One row per **inbound** contact (``direction`` absent or ``'inbound'``)
that **reached a queue** (``reached_queue`` absent, null or true; the
executor counts the others apart as ``ivr_only``):

============================  ==================================================
``abandoned``, ``transferred``  BOOLEAN, as in the interactions table
``wait_s``, ``talk_s``,         DOUBLE seconds
``hold_s``, ``acw_s``
``customer_id``                 VARCHAR; NULL = unknown customer
``next_any_gap_s``              seconds from this contact to the same
                                customer's next inbound contact (any channel);
                                NULL when there is none in the data
``next_same_gap_s``             the same within the contact's channel
``observed_after_s``            seconds from this contact to the end of the
                                data (the latest ``arrived_at`` of the input)
============================  ==================================================

``transferred``, ``hold_s`` and ``acw_s`` are optional: a KPI whose column
is not mapped at all is *not measured* (:func:`not_measured`: NaN, never 0);
a contact whose value is NULL is left out of that KPI's numerator and
denominator (the ``IS NOT NULL`` terms below).

The occupancy denominator is an expression over the staffing relation
(``agents_staffed * interval_s``).

Repeat contacts and FCR
-----------------------
A *repeat* of a contact is any later inbound contact by the same customer
(``customer_id``), handled **or abandoned** (an abandoned call-back is still
a customer who had to come back), within W days: ``0 <= gap <= W x 86,400
s``; with ``fcr_channel="same"`` only later contacts in the same channel
count (docs/KPI_DEFINITIONS.md, FCR: "share of handled contacts with no repeat
contact by the same customer within W days"; SQM's one-contact resolution
across channels vs phone-only FCR). Two contacts by the same customer with
the same timestamp are repeats of each other (gap 0), whatever their order.

* FCR numerator: handled contacts with a known customer whose W-day window
  is complete and that have no repeat within W days;
* FCR denominator: handled contacts with a known customer whose W-day
  window is complete.

**Unknown customers.** A contact whose ``customer_id`` is NULL (the mapping
turns sentinels such as ``0`` into NULL) cannot have a repeat, so it is left
out of both FCR sums; the executor counts them as ``no_customer_id``. Kept
as a real id, one sentinel "customer" with thousands of contacts makes
every one of them a repeat of the next and drives FCR towards 0.

**Right-censoring.** A contact that arrived less than W days before the end
of the data has an incomplete window: "no repeat seen" would overstate FCR,
and counting only the repeats seen would bias it the other way, so such
contacts are excluded from both the FCR numerator and denominator. The end
of the data is the latest ``arrived_at`` in the input (cut the input to the
period you want observed). FCR is therefore NaN (0/0) in the last W days.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..config import KpiOptions
from ._common import coerce_options, format_value, sql_number

__all__ = ["KpiDefinition", "kpi_definitions", "definitions_table", "not_measured", "kpi_needs", "PERIODS",
           "SENSITIVITY"]

PERIODS = ("interval", "day", "week", "month")
_GENESYS = "Genesys Cloud glossary"

#: Alternative definitions for a sensitivity table (overrides of the run's options).
SENSITIVITY = (
    {"label": "as configured"},
    {"label": "SL threshold 30 s", "sl_threshold_s": 30},
    {"label": "SL ignores abandons", "abandon_treatment": "ignore_abandons"},
    {"label": "SL counts abandons within T as met", "abandon_treatment": "abandons_within_t_met"},
    {"label": "short abandon under 6 s", "short_abandon_s": 6},
    {"label": "FCR window 3 days", "fcr_window_days": 3},
    {"label": "FCR window 14 days", "fcr_window_days": 14},
    {"label": "FCR same channel only", "fcr_channel": "same"},
    {"label": "AHT without hold", "aht_includes_hold": False},
)
_SRC = "docs/KPI_DEFINITIONS.md"


@dataclass(frozen=True)
class KpiDefinition:
    """One KPI as data: ``scale * SUM(numerator) / SUM(denominator)``.

    Attributes
    ----------
    name : str
        Column stem (``service_level`` -> ``service_level_num``,
        ``service_level_den``, ``service_level_pct``).
    label : str
        Human label.
    unit : str
        ``"contacts"`` (a count: no denominator), ``"pct"`` (scale 100) or
        ``"s"`` (seconds, scale 1).
    numerator : str
        ANSI SQL expression over one row of the contact feature relation.
    denominator : str or None
        ANSI SQL expression (None for counts).
    options : tuple of (str, value)
        The :class:`~cxlab.config.KpiOptions` fields this KPI depends on.
    description : str
        The definition in words, with the option values.
    source : str
        Where the definition comes from.
    denominator_relation : str
        ``"contacts"`` or ``"staffing"`` (occupancy).
    integer_numerator, integer_denominator : bool
        Whether the sums are counts.
    """

    name: str
    label: str
    unit: str
    numerator: str
    denominator: str | None
    options: tuple = ()
    description: str = ""
    source: str = ""
    denominator_relation: str = "contacts"
    integer_numerator: bool = True
    integer_denominator: bool = True

    @property
    def scale(self) -> float:
        return 100.0 if self.unit == "pct" else 1.0

    @property
    def value_column(self) -> str:
        return self.name if self.denominator is None else f"{self.name}_{self.unit}"

    @property
    def formula(self) -> str:
        num = f"SUM({self.numerator})"
        if self.denominator is None:
            return num
        pre = "100 * " if self.unit == "pct" else ""
        return f"{pre}{num} / SUM({self.denominator})"


def _count(cond: str) -> str:
    return f"CASE WHEN {cond} THEN 1 ELSE 0 END"


def contact_flags(o: KpiOptions) -> dict[str, str]:
    """Per-contact conditions (ANSI SQL) shared by the KPIs and :func:`contact_features`."""
    t, s = sql_number(o.sl_threshold_s), sql_number(o.short_abandon_s)
    w = sql_number(o.fcr_window_days * 86400)
    gap = "next_any_gap_s" if o.fcr_channel == "any" else "next_same_gap_s"
    return {
        "handled": "NOT abandoned",
        "short_abandon": f"abandoned AND wait_s < {s}",
        "answered_within_t": f"NOT abandoned AND wait_s <= {t}",
        "abandoned_within_t": f"abandoned AND wait_s <= {t}",
        "repeat_within_w": f"{gap} IS NOT NULL AND {gap} <= {w}",
        "window_complete": f"observed_after_s >= {w}",
        "customer_known": "customer_id IS NOT NULL",
        "handle": "talk_s + hold_s + acw_s" if o.aht_includes_hold else "talk_s + acw_s",
        "handle_known": "hold_s IS NOT NULL AND acw_s IS NOT NULL" if o.aht_includes_hold else "acw_s IS NOT NULL",
    }


#: interactions columns each KPI needs beyond the required ones (``None``: depends on the options)
_NEEDS = {
    "aht": None,
    "fcr": None,
    "transfer_rate": ("transferred",),
    "hold_rate": ("hold_s",),
    "occupancy": ("hold_s", "acw_s"),
}


def kpi_needs(options=None) -> dict[str, tuple[str, ...]]:
    """Optional interactions columns each KPI needs under ``options`` (KPIs not listed need none).

    Examples
    --------
    >>> kpi_needs({"aht_includes_hold": False})["aht"]
    ('acw_s',)
    >>> kpi_needs({"fcr_channel": "same"})["fcr"]
    ('customer_id', 'channel')
    """
    o = coerce_options(options)
    out = {k: v for k, v in _NEEDS.items() if v is not None}
    out["aht"] = ("hold_s", "acw_s") if o.aht_includes_hold else ("acw_s",)
    out["fcr"] = ("customer_id", "channel") if o.fcr_channel == "same" else ("customer_id",)
    return {k: out[k] for k in _NEEDS}


def not_measured(columns_present, *, options=None, staffing: bool = True) -> dict[str, str]:
    """Which KPIs cannot be measured from these columns, and why.

    A KPI whose definition needs a column the source does not map (absent,
    or present but null on every row) is **not measured**: :func:`kpi_table`
    gives NaN for its numerator, denominator and value, never 0 or a value
    computed from a substitute.

    Parameters
    ----------
    columns_present : iterable of str
        The interactions columns that carry data.
    options : KpiOptions or dict, optional
        The definitions in force (AHT needs ``hold_s`` only when
        ``aht_includes_hold``; same-channel FCR needs ``channel``).
    staffing : bool
        Whether a staffing table is available (occupancy needs one).

    Returns
    -------
    dict
        KPI name -> reason, e.g. ``{"transfer_rate": "column 'transferred'
        is not mapped"}``; empty when everything is measured.

    Notes
    -----
    AHT follows its definition strictly: with ``aht_includes_hold: true``
    (default) it needs ``talk_s``, ``hold_s`` and ``acw_s``; with ``false``,
    ``talk_s`` and ``acw_s``. Without after-contact work AHT is not
    measured; average talk time (``att_s``) is measured whenever ``talk_s``
    is, under its own name. FCR needs ``customer_id`` (contacts whose
    customer id is null are left out of FCR, see :func:`kpi_definitions`).

    Examples
    --------
    >>> not_measured(["interaction_id", "customer_id", "queue", "arrived_at", "wait_s", "talk_s",
    ...               "abandoned", "acw_s"], staffing=False)  # doctest: +NORMALIZE_WHITESPACE
    {'aht': "column 'hold_s' is not mapped (AHT includes hold: kpis.aht_includes_hold is true; set it to
    false to measure talk + after-contact work)", 'transfer_rate': "column 'transferred' is not mapped",
    'hold_rate': "column 'hold_s' is not mapped", 'occupancy': 'no staffing table'}
    """
    present = set(columns_present)
    o = coerce_options(options)
    out = {}
    for kpi, cols in kpi_needs(o).items():
        missing = [c for c in cols if c not in present]
        if kpi == "occupancy" and not staffing:
            out[kpi] = "no staffing table"
            continue
        if not missing:
            continue
        names = ", ".join(f"'{c}'" for c in missing)
        reason = f"column{'s' if len(missing) > 1 else ''} {names} {'are' if len(missing) > 1 else 'is'} not mapped"
        if kpi == "aht" and missing == ["hold_s"]:
            reason += (" (AHT includes hold: kpis.aht_includes_hold is true; set it to false to measure "
                       "talk + after-contact work)")
        elif kpi == "fcr" and missing == ["channel"]:
            reason += " (kpis.fcr_channel is 'same')"
        out[kpi] = reason
    return out


def kpi_definitions(options=None) -> tuple[KpiDefinition, ...]:
    """The KPI definitions under ``options``, as data.

    Parameters
    ----------
    options : KpiOptions or dict, optional
        Definition options (defaults: docs/KPI_DEFINITIONS.md).

    Returns
    -------
    tuple of KpiDefinition
        offered, handled, abandoned, short_abandoned, no_customer_id,
        service_level, abandon_rate, asa, aht, att, fcr, transfer_rate,
        hold_rate, occupancy.

    Examples
    --------
    >>> d = {k.name: k for k in kpi_definitions()}
    >>> d["service_level"].numerator
    'CASE WHEN NOT abandoned AND wait_s <= 20 THEN 1 ELSE 0 END'
    >>> d["service_level"].denominator
    'CASE WHEN abandoned AND wait_s < 5 THEN 0 ELSE 1 END'
    """
    o = coerce_options(options)
    f = contact_flags(o)
    t, s, w = sql_number(o.sl_threshold_s), sql_number(o.short_abandon_s), o.fcr_window_days
    opt = lambda *names: tuple((n, getattr(o, n)) for n in names)  # noqa: E731

    if o.abandon_treatment == "exclude_short":
        sl_num, sl_den = _count(f["answered_within_t"]), f"CASE WHEN {f['short_abandon']} THEN 0 ELSE 1 END"
        sl_words = (f"contacts answered within {t} s ÷ (offered − short abandons under {s} s); "
                    "other abandons count against")
        sl_opts = opt("sl_threshold_s", "abandon_treatment", "short_abandon_s")
        sl_src = f"{_SRC}: Cisco UCCE service level 'negative' (default)"
    elif o.abandon_treatment == "ignore_abandons":
        sl_num, sl_den = _count(f["answered_within_t"]), _count(f["handled"])
        sl_words = f"contacts answered within {t} s ÷ answered contacts (abandons ignored)"
        sl_opts = opt("sl_threshold_s", "abandon_treatment")
        sl_src = f"{_SRC}: Cisco UCCE/CUIC service level 'ignore'"
    else:
        sl_num = _count(f"({f['answered_within_t']}) OR ({f['abandoned_within_t']})")
        sl_den = "1"
        sl_words = f"(contacts answered within {t} s + abandoned within {t} s) ÷ offered"
        sl_opts = opt("sl_threshold_s", "abandon_treatment")
        sl_src = f"{_SRC}: Cisco UCCE/CUIC service level 'positive'"

    not_short = f"CASE WHEN {f['short_abandon']} THEN 0 ELSE 1 END"
    handled = _count(f["handled"])
    handled_known = f"{f['handled']} AND {f['handle_known']}"
    hold_words = "talk + hold + after-contact work" if o.aht_includes_hold else "talk + after-contact work"
    fcr_scope = "any channel" if o.fcr_channel == "any" else "the same channel"
    return (
        KpiDefinition("offered", "Offered", "contacts", "1", None, (),
                      "inbound contacts that reached a queue (handled + abandoned; never-queued IVR / "
                      "self-service contacts are counted apart as ivr_only)", _SRC),
        KpiDefinition("handled", "Handled", "contacts", handled, None, (),
                      "contacts answered by an agent", _SRC),
        KpiDefinition("abandoned", "Abandoned", "contacts", _count("abandoned"), None, (),
                      "contacts that left the queue before an answer (short ones included)", _SRC),
        KpiDefinition("short_abandoned", "Short abandons", "contacts", _count(f["short_abandon"]), None,
                      opt("short_abandon_s"), f"abandons with a queue wait under {s} s", f"{_SRC}: short abandon"),
        KpiDefinition("no_customer_id", "Contacts without customer id", "contacts",
                      _count("customer_id IS NULL"), None, (),
                      "offered contacts whose customer is unknown (left out of FCR)", f"{_SRC}: unknown customers"),
        KpiDefinition("service_level", f"Service level ({t} s)", "pct", sl_num, sl_den, sl_opts, sl_words, sl_src),
        KpiDefinition("abandon_rate", "Abandon rate", "pct",
                      _count(f"abandoned AND NOT ({f['short_abandon']})"), not_short, opt("short_abandon_s"),
                      f"abandons (not short, >= {s} s) ÷ (offered − short abandons)", f"{_SRC}: abandon rate"),
        KpiDefinition("asa", "Average speed of answer", "s",
                      f"CASE WHEN {f['handled']} THEN wait_s ELSE 0 END", handled, (),
                      "queue wait of answered contacts ÷ answered contacts (abandons excluded)",
                      f"{_SRC}: ASA ({_GENESYS})", integer_numerator=False),
        KpiDefinition("aht", "Average handle time", "s",
                      f"CASE WHEN {handled_known} THEN {f['handle']} ELSE 0 END", _count(handled_known),
                      opt("aht_includes_hold"), f"({hold_words}) of handled contacts ÷ handled contacts "
                      "(contacts with a null part left out of both)",
                      f"{_SRC}: AHT ({'Genesys, with hold' if o.aht_includes_hold else 'Cisco WFO, without hold'})",
                      integer_numerator=False),
        KpiDefinition("att", "Average talk time", "s",
                      f"CASE WHEN {f['handled']} THEN talk_s ELSE 0 END", handled, (),
                      "talk time of handled contacts ÷ handled contacts (no hold, no after-contact work)",
                      f"{_SRC}: average talk time", integer_numerator=False),
        KpiDefinition("fcr", f"FCR ({w}-day repeat window)", "pct",
                      _count(f"{f['handled']} AND {f['customer_known']} AND {f['window_complete']} "
                             f"AND NOT ({f['repeat_within_w']})"),
                      _count(f"{f['handled']} AND {f['customer_known']} AND {f['window_complete']}"),
                      opt("fcr_window_days", "fcr_channel"),
                      f"handled contacts with no later contact (handled or abandoned) by the same customer "
                      f"in {fcr_scope} within {w} days ÷ handled contacts; contacts whose {w}-day window "
                      "passes the end of the data, and contacts without a customer id, are left out of both",
                      f"{_SRC}: FCR by repeat window (SQM)"),
        KpiDefinition("transfer_rate", "Transfer rate", "pct", _count(f"{f['handled']} AND transferred"),
                      _count(f"{f['handled']} AND transferred IS NOT NULL"), (),
                      "transferred contacts ÷ handled contacts (a null flag left out of both)",
                      f"{_SRC}: transfer rate"),
        KpiDefinition("hold_rate", "Hold rate", "pct", _count(f"{f['handled']} AND hold_s > 0"),
                      _count(f"{f['handled']} AND hold_s IS NOT NULL"), (),
                      "handled contacts with hold time > 0 ÷ handled contacts (a null hold left out of both)",
                      f"{_SRC}: hold rate"),
        KpiDefinition("occupancy", "Occupancy", "pct",
                      f"CASE WHEN {f['handled']} AND hold_s IS NOT NULL AND acw_s IS NOT NULL "
                      "THEN talk_s + hold_s + acw_s ELSE 0 END",
                      "agents_staffed * interval_s", (),
                      "handle time (talk + hold + after-contact work, by arrival period) ÷ staffed time "
                      "(needs staffing)", f"{_SRC}: occupancy", denominator_relation="staffing",
                      integer_numerator=False, integer_denominator=False),
    )


def definitions_table(options=None, *, columns_present=None, staffing: bool = True) -> pd.DataFrame:
    """The KPI definitions in force, for printing in a report.

    Parameters
    ----------
    options : KpiOptions or dict, optional
    columns_present : iterable of str, optional
        The interactions columns that carry data; adds a ``not_measured``
        column (the reason, ``""`` when measured; see :func:`not_measured`).
    staffing : bool
        With ``columns_present``: whether a staffing table is available.

    Returns
    -------
    DataFrame
        One row per KPI: ``name``, ``label``, ``unit``, ``definition`` (in
        words, with option values), ``formula`` (the SQL sums), ``options``
        (``name=value; ...``) and ``source`` (and ``not_measured``).

    Examples
    --------
    >>> t = definitions_table({"sl_threshold_s": 30})
    >>> t.loc[t["name"] == "service_level", "options"].item()
    'sl_threshold_s=30; abandon_treatment=exclude_short; short_abandon_s=5'
    >>> t = definitions_table(columns_present=["customer_id", "hold_s", "acw_s"], staffing=False)
    >>> t.loc[t["name"] == "transfer_rate", "not_measured"].item()
    "column 'transferred' is not mapped"
    """
    rows = [
        {
            "name": d.name,
            "label": d.label,
            "unit": d.unit,
            "definition": d.description,
            "formula": d.formula,
            "options": "; ".join(f"{k}={format_value(v)}" for k, v in d.options),
            "source": d.source,
        }
        for d in kpi_definitions(options)
    ]
    out = pd.DataFrame(rows)
    if columns_present is not None:
        nm = not_measured(columns_present, options=options, staffing=staffing)
        out["not_measured"] = out["name"].map(nm).fillna("")
    return out
