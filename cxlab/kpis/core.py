"""Step 2 — operational KPIs under explicit, printed definitions.

The KPI definitions are **data**: :func:`kpi_definitions` returns a tuple of
frozen :class:`KpiDefinition` records, one per KPI, built from a
:class:`cxlab.config.KpiOptions`. Each record carries a numerator and a
denominator written as plain ANSI SQL expressions over one row of the
*contact feature relation* (below); a KPI is ``scale * SUM(numerator) /
SUM(denominator)``. Nothing engine-specific appears inside a definition, so
the same records can later be executed on Spark or a warehouse. The DuckDB
executor in this module builds the feature relation (repeat window, local
periods) and runs the sums.

Contact feature relation (what a definition may reference)
------------------------------------------------------------
One row per **inbound** contact (``direction`` absent or ``'inbound'``):

============================  ==================================================
``abandoned``, ``transferred``  BOOLEAN, as in the interactions table
``wait_s``, ``talk_s``,         DOUBLE seconds
``hold_s``, ``acw_s``
``next_any_gap_s``              seconds from this contact to the same
                                customer's next inbound contact (any channel);
                                NULL when there is none in the data
``next_same_gap_s``             the same within the contact's channel
``observed_after_s``            seconds from this contact to the end of the
                                data (the latest ``arrived_at`` of the input)
============================  ==================================================

The occupancy denominator is an expression over the staffing relation
(``agents_staffed * interval_s``).

Repeat contacts and FCR
-----------------------
A *repeat* of a contact is any later inbound contact by the same customer
(``customer_id``), handled **or abandoned** (an abandoned call-back is still
a customer who had to come back), within W days: ``0 <= gap <= W x 86,400
s``; with ``fcr_channel="same"`` only later contacts in the same channel
count (KPI_DEFINITIONS.md, FCR: "share of handled contacts with no repeat
contact by the same customer within W days"; SQM's one-contact resolution
across channels vs phone-only FCR). Two contacts by the same customer with
the same timestamp are repeats of each other (gap 0), whatever their order.

* FCR numerator: handled contacts whose W-day window is complete and that
  have no repeat within W days;
* FCR denominator: handled contacts whose W-day window is complete.

**Right-censoring.** A contact that arrived less than W days before the end
of the data has an incomplete window: "no repeat seen" would overstate FCR,
and counting only the repeats seen would bias it the other way, so such
contacts are excluded from both the FCR numerator and denominator. The end
of the data is the latest ``arrived_at`` in the input (cut the input to the
period you want observed). FCR is therefore NaN (0/0) in the last W days.

Periods
-------
``interval`` (30 min), ``day``, ``week`` (ISO, starts Monday) and ``month``
are taken in the **local** time zone (``timezone``): a contact at 23:30 in New
York on 1 January belongs to 1 January although it is 2 January in UTC. The
executor adds the zone's UTC offset to each instant with a ``CASE`` over the
offset changes inside the data's range (found with the IANA database through
pandas), which is exact for zones whose changes fall on a quarter hour (all
current zones). During the autumn DST change the two local 01:00-02:00 hours
share interval labels.

Performance
-----------
The executor runs two aggregations joined on the keys: a plain scan for the
KPIs that need no repeat window and a windowed scan (``LEAD``/``LAG`` over
``PARTITION BY customer_id ORDER BY arrived_at``, carrying only the columns
FCR needs). Parquet inputs are streamed by DuckDB (projection pushdown); the
window sort is the dominant cost (``benchmarks/kpis.py``).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import KpiOptions
from ..errors import check_option, suggest

__all__ = [
    "KpiDefinition",
    "kpi_definitions",
    "definitions_table",
    "kpi_table",
    "contact_features",
    "rollup",
    "erlang_check",
    "PERIODS",
    "SENSITIVITY",
]

PERIODS = ("interval", "day", "week", "month")
_FINER = {"interval": 0, "day": 1, "week": 2, "month": 2}
_REQUIRED = ("interaction_id", "customer_id", "channel", "queue", "arrived_at", "wait_s", "talk_s",
             "hold_s", "acw_s", "abandoned", "transferred")
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
_SRC = "KPI_DEFINITIONS.md"


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


# ----------------------------------------------------------------------------- definitions


def _options(options) -> KpiOptions:
    """Coerce None / KpiOptions / dict to KpiOptions with readable errors."""
    if options is None:
        return KpiOptions()
    if isinstance(options, KpiOptions):
        return options
    if isinstance(options, dict):
        fields = KpiOptions.model_fields
        for key, value in options.items():
            if key == "label":
                continue
            if key not in fields:
                raise ValueError(
                    f"unknown KPI option {key!r}{suggest(key, fields)}; options: {sorted(fields)}"
                )
            allowed = getattr(fields[key].annotation, "__args__", None)
            if allowed and all(isinstance(a, str) for a in allowed):
                check_option(key, value, allowed)
        return KpiOptions(**{k: v for k, v in options.items() if k != "label"})
    raise TypeError(f"options must be a KpiOptions, a dict or None; got {type(options).__name__}")


def _fmt(v) -> str:
    return _num(v) if isinstance(v, float) else str(v)


def _count(cond: str) -> str:
    return f"CASE WHEN {cond} THEN 1 ELSE 0 END"


def _num(fmt: float) -> str:
    return f"{float(fmt):g}"


def _flags(o: KpiOptions) -> dict[str, str]:
    """Per-contact conditions (ANSI SQL) shared by the KPIs and :func:`contact_features`."""
    t, s = _num(o.sl_threshold_s), _num(o.short_abandon_s)
    w = _num(o.fcr_window_days * 86400)
    gap = "next_any_gap_s" if o.fcr_channel == "any" else "next_same_gap_s"
    return {
        "handled": "NOT abandoned",
        "short_abandon": f"abandoned AND wait_s < {s}",
        "answered_within_t": f"NOT abandoned AND wait_s <= {t}",
        "abandoned_within_t": f"abandoned AND wait_s <= {t}",
        "repeat_within_w": f"{gap} IS NOT NULL AND {gap} <= {w}",
        "window_complete": f"observed_after_s >= {w}",
        "handle": "talk_s + hold_s + acw_s" if o.aht_includes_hold else "talk_s + acw_s",
    }


def kpi_definitions(options=None) -> tuple[KpiDefinition, ...]:
    """The KPI definitions under ``options``, as data.

    Parameters
    ----------
    options : KpiOptions or dict, optional
        Definition options (defaults: KPI_DEFINITIONS.md).

    Returns
    -------
    tuple of KpiDefinition
        offered, handled, abandoned, short_abandoned, service_level,
        abandon_rate, asa, aht, fcr, transfer_rate, hold_rate, occupancy.

    Examples
    --------
    >>> d = {k.name: k for k in kpi_definitions()}
    >>> d["service_level"].numerator
    'CASE WHEN NOT abandoned AND wait_s <= 20 THEN 1 ELSE 0 END'
    >>> d["service_level"].denominator
    'CASE WHEN abandoned AND wait_s < 5 THEN 0 ELSE 1 END'
    """
    o = _options(options)
    f = _flags(o)
    t, s, w = _num(o.sl_threshold_s), _num(o.short_abandon_s), o.fcr_window_days
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
    hold_words = "talk + hold + after-contact work" if o.aht_includes_hold else "talk + after-contact work"
    fcr_scope = "any channel" if o.fcr_channel == "any" else "the same channel"
    return (
        KpiDefinition("offered", "Offered", "contacts", "1", None, (),
                      "inbound contacts that entered a queue (handled + abandoned)", _SRC),
        KpiDefinition("handled", "Handled", "contacts", handled, None, (),
                      "contacts answered by an agent", _SRC),
        KpiDefinition("abandoned", "Abandoned", "contacts", _count("abandoned"), None, (),
                      "contacts that left the queue before an answer (short ones included)", _SRC),
        KpiDefinition("short_abandoned", "Short abandons", "contacts", _count(f["short_abandon"]), None,
                      opt("short_abandon_s"), f"abandons with a queue wait under {s} s", f"{_SRC}: short abandon"),
        KpiDefinition("service_level", f"Service level ({t} s)", "pct", sl_num, sl_den, sl_opts, sl_words, sl_src),
        KpiDefinition("abandon_rate", "Abandon rate", "pct",
                      _count(f"abandoned AND NOT ({f['short_abandon']})"), not_short, opt("short_abandon_s"),
                      f"abandons (not short, >= {s} s) ÷ (offered − short abandons)", f"{_SRC}: abandon rate"),
        KpiDefinition("asa", "Average speed of answer", "s",
                      f"CASE WHEN {f['handled']} THEN wait_s ELSE 0 END", handled, (),
                      "queue wait of answered contacts ÷ answered contacts (abandons excluded)",
                      f"{_SRC}: ASA ({_GENESYS})", integer_numerator=False),
        KpiDefinition("aht", "Average handle time", "s",
                      f"CASE WHEN {f['handled']} THEN {f['handle']} ELSE 0 END", handled,
                      opt("aht_includes_hold"), f"({hold_words}) of handled contacts ÷ handled contacts",
                      f"{_SRC}: AHT ({'Genesys, with hold' if o.aht_includes_hold else 'Cisco WFO, without hold'})",
                      integer_numerator=False),
        KpiDefinition("fcr", f"FCR ({w}-day repeat window)", "pct",
                      _count(f"{f['handled']} AND {f['window_complete']} AND NOT ({f['repeat_within_w']})"),
                      _count(f"{f['handled']} AND {f['window_complete']}"),
                      opt("fcr_window_days", "fcr_channel"),
                      f"handled contacts with no later contact (handled or abandoned) by the same customer "
                      f"in {fcr_scope} within {w} days ÷ handled contacts; contacts whose {w}-day window "
                      "passes the end of the data are left out of both",
                      f"{_SRC}: FCR by repeat window (SQM)"),
        KpiDefinition("transfer_rate", "Transfer rate", "pct", _count(f"{f['handled']} AND transferred"),
                      handled, (), "transferred contacts ÷ handled contacts", f"{_SRC}: transfer rate"),
        KpiDefinition("hold_rate", "Hold rate", "pct", _count(f"{f['handled']} AND hold_s > 0"), handled, (),
                      "handled contacts with hold time > 0 ÷ handled contacts", f"{_SRC}: hold rate"),
        KpiDefinition("occupancy", "Occupancy", "pct",
                      f"CASE WHEN {f['handled']} THEN talk_s + hold_s + acw_s ELSE 0 END",
                      "agents_staffed * interval_s", (),
                      "handle time (talk + hold + after-contact work, by arrival period) ÷ staffed time "
                      "(needs staffing)", f"{_SRC}: occupancy", denominator_relation="staffing",
                      integer_numerator=False, integer_denominator=False),
    )


_UNITS = {d.name: (d.unit, d.scale, d.denominator is None) for d in kpi_definitions()}


def definitions_table(options=None) -> pd.DataFrame:
    """The KPI definitions in force, for printing in a report.

    Parameters
    ----------
    options : KpiOptions or dict, optional

    Returns
    -------
    DataFrame
        One row per KPI: ``name``, ``label``, ``unit``, ``definition`` (in
        words, with option values), ``formula`` (the SQL sums), ``options``
        (``name=value; ...``) and ``source``.

    Examples
    --------
    >>> t = definitions_table({"sl_threshold_s": 30})
    >>> t.loc[t["name"] == "service_level", "options"].item()
    'sl_threshold_s=30; abandon_treatment=exclude_short; short_abandon_s=5'
    """
    rows = [
        {
            "name": d.name,
            "label": d.label,
            "unit": d.unit,
            "definition": d.description,
            "formula": d.formula,
            "options": "; ".join(f"{k}={_fmt(v)}" for k, v in d.options),
            "source": d.source,
        }
        for d in kpi_definitions(options)
    ]
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- the DuckDB executor


class _Input:
    """An interactions source seen as a DuckDB table called ``cx_input``."""

    def __init__(self, data):
        import duckdb

        self._rel = None
        self._con = None
        if isinstance(data, pd.DataFrame):
            self._con = duckdb.connect()
            self._con.register("cx_input", data)
        elif isinstance(data, (str, os.PathLike)):
            path = os.fspath(data)
            self._con = duckdb.connect()
            self._con.execute(f"CREATE VIEW cx_input AS SELECT * FROM read_parquet({_quote(path)})")
        elif isinstance(data, duckdb.DuckDBPyRelation):
            self._rel = data
        else:
            raise TypeError(
                "interactions must be a pandas DataFrame, a Parquet path/glob or a DuckDB relation; "
                f"got {type(data).__name__}"
            )
        if self._con is not None:
            self._con.execute("SET TimeZone = 'UTC'")
            self._con.execute("SET preserve_insertion_order = false")
            rel = self._con.sql("SELECT * FROM cx_input")
        else:
            rel = self._rel
        self.types = {c: str(t) for c, t in zip(rel.columns, rel.types)}

    def fetch(self, sql: str) -> pd.DataFrame:
        if self._rel is not None:
            return self._rel.query("cx_input", sql).df()
        return self._con.execute(sql).df()

    def close(self):
        if self._con is not None:
            self._con.close()


def _quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _check_timezone(timezone: str) -> None:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(timezone)
    except Exception:
        raise ValueError(f"unknown time zone {timezone!r}; use an IANA name such as 'America/New_York'") from None


def _check_columns(types: dict) -> None:
    missing = [c for c in _REQUIRED if c not in types]
    if missing:
        raise ValueError(f"interactions lack required column(s) {missing}; see cxlab.schema")


def _split_by(by, types: dict) -> tuple[str | None, list[str]]:
    if isinstance(by, str):
        by = (by,)
    by = list(by or ())
    periods = [b for b in by if b in PERIODS]
    if len(periods) > 1:
        raise ValueError(f"by may hold at most one period of {list(PERIODS)}; got {periods}")
    segments = [b for b in by if b not in PERIODS]
    for s in segments:
        if s not in types:
            allowed = list(PERIODS) + [c for c in types if c not in _REQUIRED[4:]]
            raise ValueError(f"by: unknown period or column {s!r}{suggest(s, allowed)}; allowed: {allowed}")
    if len(set(by)) != len(by):
        raise ValueError(f"by has duplicates: {by}")
    return (periods[0] if periods else None), segments


def _ts(col: str, types: dict) -> str:
    """SQL giving the column as TIMESTAMPTZ (naive timestamps are read as UTC)."""
    t = types.get(col, "")
    if "WITH TIME ZONE" in t:
        return _ident(col)
    return f"timezone('UTC', CAST({_ident(col)} AS TIMESTAMP))"


def _inbound(types: dict) -> str:
    return "COALESCE(direction, 'inbound') = 'inbound'" if "direction" in types else "TRUE"


def _local_period(period: str, local: str) -> str:
    return {
        "interval": f"time_bucket(INTERVAL '30 minutes', {local})",
        "day": f"CAST({local} AS DATE)",
        "week": f"CAST(date_trunc('week', {local}) AS DATE)",
        "month": f"CAST(date_trunc('month', {local}) AS DATE)",
    }[period]


def _utc_offset_sql(timezone: str, lo_us, hi_us) -> str:
    """SQL for the zone's UTC offset (microseconds) at instant ``_t_us``, as a CASE over transitions.

    Offsets are sampled every quarter hour over the data's range (plus a day
    either side); offset changes are placed on the quarter hour where they
    occur, which is exact for zones whose transitions fall on quarter hours
    (all current IANA zones).
    """
    if lo_us is None or pd.isna(lo_us):
        return "0"
    q = 900_000_000
    start = (int(lo_us) // q - 96) * q
    stop = (int(hi_us) // q + 97) * q
    grid = pd.to_datetime(np.arange(start, stop, q, dtype=np.int64), unit="us", utc=True)
    local = grid.tz_convert(timezone).tz_localize(None)
    off = (local - grid.tz_localize(None)).to_numpy().astype("timedelta64[us]").astype(np.int64)
    change = np.flatnonzero(np.diff(off)) + 1
    if len(change) == 0:
        return str(int(off[0]))
    parts = [f"WHEN _t_us < {int(grid[i].value // 1000)} THEN {int(off[i - 1])}" for i in change]
    return f"(CASE {' '.join(parts)} ELSE {int(off[-1])} END)"


def _bounds(src: _Input, types: dict) -> tuple:
    ts = _ts("arrived_at", types)
    row = src.fetch(f"SELECT MIN(epoch_us({ts})) AS lo, MAX(epoch_us({ts})) AS hi FROM cx_input")
    lo, hi = row["lo"].iloc[0], row["hi"].iloc[0]
    return (None, None) if pd.isna(lo) else (int(lo), int(hi))


def _src_sql(types: dict, keep, *, inbound_only: bool) -> str:
    """Rows of cx_input with the kept columns, ``_t_us`` (epoch microseconds) and ``_inbound``."""
    cols = ", ".join(_ident(c) for c in keep)
    where = f" WHERE {_inbound(types)}" if inbound_only and "direction" in types else ""
    return (f"SELECT {cols}, epoch_us({_ts('arrived_at', types)}) AS _t_us, {_inbound(types)} AS _inbound "
            f"FROM cx_input{where}")


def _contacts_sql(src_sql: str, *, windows: set[str], end_us, payload, split_inbound: bool) -> str:
    """The contact feature relation: ``src`` plus repeat-window columns and ``observed_after_s``.

    ``windows`` holds ``"any"`` and/or ``"same"``. LEAD/LAG run over
    ``PARTITION BY customer_id[, channel] ORDER BY arrived_at``; two contacts
    by the same customer with the same timestamp get a gap of 0 in both
    directions, so the result does not depend on how ties are sorted.
    """
    inb = ", _inbound" if split_inbound else ""
    win_cols, win_defs, feat = [], [], []
    for scope in sorted(windows):
        part = "customer_id" if scope == "any" else "customer_id, channel"
        win_defs.append(f"w_{scope} AS (PARTITION BY {part}{inb} ORDER BY _t_us)")
        win_cols.append(f"LEAD(_t_us) OVER w_{scope} AS _next_{scope}, LAG(_t_us) OVER w_{scope} AS _prev_{scope}")
        tie = f"(_prev_{scope} = _t_us OR _next_{scope} = _t_us)"
        feat += [
            f"CASE WHEN {tie} THEN 0.0 ELSE (_next_{scope} - _t_us) / 1e6 END AS next_{scope}_gap_s",
            f"CASE WHEN {tie} THEN 0.0 ELSE (_t_us - _prev_{scope}) / 1e6 END AS prev_{scope}_gap_s",
            f"CASE WHEN {tie} THEN _t_us ELSE _next_{scope} END AS _next_{scope}_us",
        ]
    for scope in sorted({"any", "same"} - set(windows)):
        feat.append(f"CAST(NULL AS DOUBLE) AS next_{scope}_gap_s")
    end = "NULL" if end_us is None else str(int(end_us))
    feat.append(f"CAST({end} - _t_us AS DOUBLE) / 1e6 AS observed_after_s")
    cols = ", ".join(payload) if payload is not None else "*"
    if windows:
        inner = f"SELECT {cols}, {', '.join(win_cols)} FROM ({src_sql}) WINDOW {', '.join(win_defs)}"
    else:
        inner = f"SELECT {cols} FROM ({src_sql})"
    return f"SELECT *, {', '.join(feat)} FROM ({inner})"


_WINDOW_COLUMNS = ("next_any_gap_s", "next_same_gap_s", "observed_after_s")


def _uses_window(expr: str) -> bool:
    return any(c in expr for c in _WINDOW_COLUMNS)


def _needed_windows(exprs) -> set[str]:
    text = " ".join(exprs)
    return {s for s in ("any", "same") if f"next_{s}_gap_s" in text}


def _definition_sets(options, definitions) -> list[tuple[str | None, KpiOptions]]:
    if definitions is None:
        return [(None, _options(options))]
    if isinstance(definitions, (KpiOptions, dict)):
        definitions = [definitions]
    base = _options(options)
    out, seen = [], {}
    for d in definitions:
        if isinstance(d, dict):
            o = _options({**base.model_dump(), **d})
            label = d.get("label")
        else:
            o = _options(d)
            label = None
        if label is None:
            diff = [f"{k}={_fmt(v)}" for k, v in o.model_dump().items() if v != KpiOptions.model_fields[k].default]
            label = "; ".join(diff) or "default"
        n = seen.get(label, 0)
        seen[label] = n + 1
        out.append((label if n == 0 else f"{label} ({n + 1})", o))
    return out


def _period_from_day(period: str, col: str) -> str:
    day = f"(DATE '1970-01-01' + CAST({col} AS INTEGER))"
    return {
        "day": day,
        "week": f"CAST(date_trunc('week', {day}) AS DATE)",
        "month": f"CAST(date_trunc('month', {day}) AS DATE)",
    }[period]


def _kpi_sql(types, *, period, segments, aliases, timezone, lo_us, hi_us) -> str:
    """Two aggregations joined on the keys: one plain scan for the KPIs that need no repeat
    window, one windowed scan (lean payload) for those that do; then local periods."""
    seg = [_ident(s) for s in segments]
    offset = _utc_offset_sql(timezone, lo_us, hi_us) if period else "0"
    if period == "interval":
        pkey = [f"(_t_us + {offset}) // 1800000000 AS _p"]
    elif period:
        pkey = [f"(_t_us + {offset}) // 86400000000 AS _p"]
    else:
        pkey = []
    keys = (["_p"] if period else []) + seg
    group = f" GROUP BY {', '.join(keys)}" if keys else ""

    def agg(items):
        return [f"CAST(SUM({e}) AS BIGINT) AS {a}" if integer else f"SUM(CAST({e} AS DOUBLE)) AS {a}"
                for (e, integer), a in items]

    plain = [(k, a) for k, a in aliases.items() if not _uses_window(k[0])]
    windowed = [(k, a) for k, a in aliases.items() if _uses_window(k[0])]
    base = ["abandoned", "acw_s", "hold_s", "talk_s", "transferred", "wait_s"]
    src_all = _src_sql(types, sorted({*base, *segments}), inbound_only=True)
    parts = []
    if plain or not windowed:
        parts.append(f"SELECT {', '.join(pkey + seg + agg(plain) or ['COUNT(*) AS _n'])} FROM ({src_all}){group}")
    if windowed:
        exprs = [k[0] for k, _ in windowed]
        used = sorted({c for c in base if any(c in e for e in exprs)} | set(segments))
        scopes = _needed_windows(exprs)
        src_w = _src_sql(types, sorted({*used, "customer_id", *(["channel"] if "same" in scopes else [])}),
                         inbound_only=True)
        payload = [*(_ident(c) for c in used), "_t_us"]
        contacts = _contacts_sql(src_w, windows=scopes, end_us=hi_us, payload=payload, split_inbound=False)
        parts.append(f"SELECT {', '.join(pkey + seg + agg(windowed))} FROM ({contacts}){group}")
    if len(parts) == 1:
        stage1 = parts[0]
    elif keys:
        on = " AND ".join(f"a.{k} IS NOT DISTINCT FROM b.{k}" for k in keys)
        stage1 = (f"SELECT a.*, {', '.join(f'b.{a}' for _, a in windowed)} "
                  f"FROM ({parts[0]}) a LEFT JOIN ({parts[1]}) b ON {on}")
    else:
        stage1 = f"SELECT * FROM ({parts[0]}) a CROSS JOIN ({parts[1]}) b"
    if not period:
        order = f" ORDER BY {', '.join(seg)}" if seg else ""
        return f"SELECT * FROM ({stage1}){order}"
    pexpr = "make_timestamp(_p * 1800000000)" if period == "interval" else _period_from_day(period, "_p")
    outer = [f"{pexpr} AS {_ident(period)}", *seg] + [
        f"CAST(SUM({a}) AS BIGINT) AS {a}" if integer else f"SUM({a}) AS {a}" for (_, integer), a in aliases.items()
    ]
    order = ", ".join([_ident(period)] + seg)
    return f"SELECT {', '.join(outer)} FROM ({stage1}) GROUP BY {order} ORDER BY {order}"


def kpi_table(
    interactions,
    *,
    by=("day", "queue"),
    options=None,
    timezone: str = "UTC",
    staffing: pd.DataFrame | None = None,
    definitions=None,
) -> pd.DataFrame:
    """Operational KPIs per local period x segment, with numerators and denominators.

    Parameters
    ----------
    interactions : DataFrame, str/path or duckdb.DuckDBPyRelation
        The canonical interactions table, a Parquet file or glob, or a DuckDB
        relation (run on its own connection, nothing is copied to pandas).
    by : sequence of str
        At most one period of ``"interval"`` (30 min), ``"day"``, ``"week"``
        (ISO, Monday start), ``"month"`` — local time in ``timezone`` — and
        any segment columns of interactions (``queue``, ``channel``,
        ``site`` ...). ``()`` gives one row for the whole input.
    options : KpiOptions or dict, optional
        Definition options (see :func:`definitions_table`).
    timezone : str
        IANA time zone that defines local periods.
    staffing : DataFrame, optional
        Canonical staffing (``interval_start``, ``queue``, ``interval_s``,
        ``agents_staffed``); adds occupancy. Staffing can only be split by
        period and ``queue``: with other segments occupancy is left out (with
        a warning).
    definitions : list of KpiOptions or dict, optional
        Sensitivity: compute the table under each definition (dicts override
        ``options``; an optional ``"label"`` key names the definition) and
        add a ``definition`` label column. Runs as one scan.

    Returns
    -------
    DataFrame
        One row per key, sorted by (``definition``,) period, segments:

        * keys: the period column (named as in ``by``: ``day``/``week``/
          ``month`` as datetime64 dates, ``interval`` as a local naive
          timestamp) and the segment columns;
        * counts: ``offered``, ``handled``, ``abandoned``, ``short_abandoned``;
        * for each rate its ``<kpi>_num``, ``<kpi>_den`` and value:
          ``service_level_pct``, ``abandon_rate_pct``, ``asa_s``, ``aht_s``,
          ``fcr_pct``, ``transfer_rate_pct``, ``hold_rate_pct`` and, with
          staffing, ``occupancy_pct`` (value NaN where the denominator is 0).

        :func:`rollup` re-aggregates it exactly.

    Notes
    -----
    Each value is ``scale * SUM(numerator) / SUM(denominator)`` with the
    expressions of :func:`kpi_definitions` (scale 100 for ``_pct``). Only
    inbound contacts are counted. Handle time is attributed to the period in
    which the contact arrived (occupancy at the ``interval`` grain is
    approximate for contacts that run into the next interval).

    References
    ----------
    KPI_DEFINITIONS.md (service level: Cisco UCCE/CUIC; ASA, AHT: Genesys;
    FCR: SQM).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({
    ...     "interaction_id": ["1", "2", "3"], "customer_id": ["a", "b", "a"],
    ...     "channel": "voice", "queue": "q",
    ...     "arrived_at": pd.to_datetime(["2025-01-01 10:00", "2025-01-01 11:00",
    ...                                   "2025-01-20 09:00"], utc=True),
    ...     "wait_s": [10.0, 30.0, 3.0], "talk_s": [100.0, 200.0, 0.0], "hold_s": 0.0,
    ...     "acw_s": [20.0, 20.0, 0.0], "abandoned": [False, False, True], "transferred": False})
    >>> t = kpi_table(df, by=())
    >>> t[["offered", "service_level_num", "service_level_den", "service_level_pct", "aht_s"]]
       offered  service_level_num  service_level_den  service_level_pct  aht_s
    0        3                  1                  2               50.0  170.0
    """
    _check_timezone(timezone)
    sets = _definition_sets(options, definitions)
    src = _Input(interactions)
    try:
        _check_columns(src.types)
        period, segments = _split_by(by, src.types)
        use_staffing = staffing is not None
        if use_staffing:
            bad = [s for s in segments if s not in staffing.columns]
            if bad:
                warnings.warn(f"occupancy left out: staffing cannot be split by {bad}", stacklevel=2)
                use_staffing = False
        defsets = [(label, [d for d in kpi_definitions(o) if use_staffing or d.name != "occupancy"])
                   for label, o in sets]
        all_defs = [d for _, ds in defsets for d in ds]

        # one aggregate per distinct expression (definitions share most of them)
        aliases: dict[tuple[str, bool], str] = {}

        def alias(expr: str, integer: bool) -> str:
            return aliases.setdefault((expr, integer), f"_a{len(aliases)}")

        for d in all_defs:
            alias(d.numerator, d.integer_numerator)
            if d.denominator is not None and d.denominator_relation == "contacts":
                alias(d.denominator, d.integer_denominator)

        lo_us, hi_us = _bounds(src, src.types)
        sql = _kpi_sql(src.types, period=period, segments=segments, aliases=aliases, timezone=timezone,
                       lo_us=lo_us, hi_us=hi_us)
        raw = src.fetch(sql)
    finally:
        src.close()

    keys = ([period] if period else []) + segments
    for (_, integer), a in aliases.items():
        raw[a] = raw[a].fillna(0).astype("int64" if integer else "float64")
    raw = _normalize_keys(raw, period)
    staff = _staffing_agg(staffing, period, segments, timezone) if use_staffing else None

    frames = []
    for label, defs in defsets:
        out = raw[keys].copy()
        for d in defs:
            out[d.value_column if d.denominator is None else f"{d.name}_num"] = raw[
                aliases[(d.numerator, d.integer_numerator)]].to_numpy()
            if d.denominator is not None and d.denominator_relation == "contacts":
                out[f"{d.name}_den"] = raw[aliases[(d.denominator, d.integer_denominator)]].to_numpy()
        if staff is not None:
            out = _merge_staffing(out, staff, keys)
        out = _finish(out, keys)
        if label is not None:
            out.insert(0, "definition", label)
        frames.append(out)
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return out.reset_index(drop=True)


def _normalize_keys(df: pd.DataFrame, period: str | None) -> pd.DataFrame:
    if period and period in df:
        df[period] = pd.to_datetime(df[period]).astype("datetime64[ns]")
    return df


def _staffing_agg(staffing: pd.DataFrame, period, segments, timezone) -> pd.DataFrame:
    import duckdb

    need = ("interval_start", "interval_s", "agents_staffed", *segments)
    missing = [c for c in need if c not in staffing.columns]
    if missing:
        raise ValueError(f"staffing lacks column(s) {missing}")
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("staffing_input", staffing)
        types = {c: str(t) for c, t in zip(*(lambda r: (r.columns, r.types))(con.sql("SELECT * FROM staffing_input")))}
        local = f"timezone({_quote(timezone)}, {_ts('interval_start', types)})"
        keys = ([f"{_local_period(period, local)} AS {_ident(period)}"] if period else []) + [
            _ident(s) for s in segments]
        group = " GROUP BY ALL ORDER BY ALL" if keys else ""
        sql = (f"SELECT {', '.join(keys + ['SUM(CAST(agents_staffed * interval_s AS DOUBLE)) AS occupancy_den'])} "
               f"FROM staffing_input{group}")
        out = con.execute(sql).df()
    finally:
        con.close()
    return _normalize_keys(out, period)


def _merge_staffing(out: pd.DataFrame, staff: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    if not keys:
        out["occupancy_den"] = float(staff["occupancy_den"].sum())
        return out
    for k in keys:
        if k in staff and staff[k].dtype != out[k].dtype:
            staff[k] = staff[k].astype(out[k].dtype)
    merged = out.merge(staff, on=keys, how="outer", sort=True)
    for c in merged.columns:
        if c in keys:
            continue
        merged[c] = merged[c].fillna(0)
        if c in out and pd.api.types.is_integer_dtype(out[c].dtype):
            merged[c] = merged[c].astype("int64")
    return merged


def _finish(out: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Compute values from num/den, order columns and sort by keys."""
    cols = list(keys)
    for name, (unit, scale, is_count) in _UNITS.items():
        if is_count:
            if name in out:
                cols.append(name)
            continue
        num, den = f"{name}_num", f"{name}_den"
        if num not in out or den not in out:
            continue
        d = out[den].astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"{name}_{unit}"] = np.where(d > 0, scale * out[num].astype(float) / d.where(d > 0, 1.0), np.nan)
        cols += [num, den, f"{name}_{unit}"]
    out = out[cols]
    if keys:
        out = out.sort_values(keys, kind="mergesort", na_position="last")
    return out.reset_index(drop=True)


# ----------------------------------------------------------------------------- rollup


def rollup(kpi_df: pd.DataFrame, *, by) -> pd.DataFrame:
    """Re-aggregate a :func:`kpi_table` exactly, from numerators and denominators.

    Parameters
    ----------
    kpi_df : DataFrame
        Output of :func:`kpi_table` (any grain, with or without
        ``definition``).
    by : sequence of str
        Coarser keys: a subset of the segment columns, plus at most one
        period that is the table's period or can be derived from it
        (interval -> day/week/month, day -> week/month). A ``definition``
        column is always kept.

    Returns
    -------
    DataFrame
        Same columns as :func:`kpi_table` at the coarser grain: counts and
        ``_num``/``_den`` summed, each value recomputed as ``scale * num /
        den`` — never an average of averages.

    Examples
    --------
    >>> import pandas as pd
    >>> k = pd.DataFrame({"day": pd.to_datetime(["2025-01-06", "2025-01-07"]), "queue": "q",
    ...                   "asa_num": [100.0, 20.0], "asa_den": [10, 1], "asa_s": [10.0, 20.0]})
    >>> rollup(k, by=("week",))["asa_s"].item()  # 120 / 11, not (10 + 20) / 2
    10.909090909090908
    """
    if isinstance(by, str):
        by = (by,)
    by = list(by)
    have_period = next((p for p in PERIODS if p in kpi_df.columns), None)
    out = kpi_df.copy()
    keys = []
    for b in by:
        if b in PERIODS and b not in out.columns:
            if have_period is None or (have_period != "interval" and b == "day") or have_period in ("week", "month"):
                raise ValueError(
                    f"rollup: cannot derive {b!r} from {have_period!r}; "
                    "allowed: interval -> day/week/month, day -> week/month"
                )
            t = pd.to_datetime(out[have_period]).dt.normalize()
            if b == "week":
                t = t - pd.to_timedelta(t.dt.day_of_week, unit="D")
            elif b == "month":
                t = t.dt.to_period("M").dt.start_time
            out[b] = t.astype("datetime64[ns]")
        elif b not in out.columns:
            raise ValueError(f"rollup: unknown key {b!r}{suggest(b, out.columns)}; columns: {list(out.columns)}")
        keys.append(b)
    if "definition" in out.columns and "definition" not in keys:
        keys = ["definition", *keys]
    sums = [c for c in out.columns if c.endswith(("_num", "_den")) or (c in _UNITS and _UNITS[c][2])]
    order = {v: i for i, v in enumerate(pd.unique(out["definition"]))} if "definition" in keys else None
    if keys:
        g = out.groupby(keys, sort=True, dropna=False)[sums].sum().reset_index()
    else:
        g = out[sums].sum().to_frame().T
    for c in sums:
        if pd.api.types.is_integer_dtype(out[c].dtype):
            g[c] = g[c].astype("int64")
    res = _finish(g, keys)
    if order is not None:
        res = res.sort_values("definition", key=lambda s: s.map(order), kind="mergesort").reset_index(drop=True)
    return res


# ----------------------------------------------------------------------------- contact grain


def contact_features(interactions, *, options=None, timezone: str = "UTC") -> pd.DataFrame:
    """One row per interaction with the per-contact KPI flags and repeat-window fields.

    Parameters
    ----------
    interactions : DataFrame, str/path or duckdb.DuckDBPyRelation
    options : KpiOptions or dict, optional
        SL threshold T, short-abandon threshold S, repeat window W and its
        channel scope, AHT with or without hold.
    timezone : str
        Defines the local ``date``.

    Returns
    -------
    DataFrame
        Sorted by ``arrived_at, interaction_id``: ``interaction_id``,
        ``customer_id``, ``queue``, ``channel``, ``agent_id``, ``arrived_at``
        (UTC), ``date`` (local calendar day), ``wait_s``, ``handle_s`` (talk +
        hold + acw, or talk + acw per ``aht_includes_hold``), ``talk_s``,
        ``hold_s``, ``acw_s``, ``abandoned``, ``handled``, ``short_abandon``
        (abandoned with wait < S), ``answered_within_t`` (answered with wait
        <= T), ``transferred``, ``held`` (hold > 0), and

        * ``repeat_within_w`` (nullable boolean) — the same customer came
          back (inbound, handled or abandoned; any or same channel per
          ``fcr_channel``) within W days **after** this contact; ``<NA>``
          when none was seen and the window runs past the end of the data;
        * ``is_repeat`` — this contact follows a previous contact by the same
          customer within W days (contacts in the first W days of the data
          may follow unseen earlier ones: left-censored);
        * ``next_contact_at`` — when the customer's next inbound contact
          (same scope) arrived, NaT if none (for leakage checks);
        * ``repeat_window_complete`` — the W-day window ends inside the data;

        plus ``direction``, ``site``, ``contact_reason``, ``resolved`` when
        present. Outbound contacts have ``<NA>`` repeat fields and are never
        repeats of inbound ones.

    Notes
    -----
    The repeat fields come from DuckDB ``LEAD``/``LAG`` window functions
    over ``PARTITION BY customer_id[, channel] ORDER BY arrived_at``; the
    flags are the same SQL conditions the KPI definitions sum.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({
    ...     "interaction_id": ["1", "2"], "customer_id": "a", "channel": "voice", "queue": "q",
    ...     "arrived_at": pd.to_datetime(["2025-01-01 10:00", "2025-01-03 10:00"], utc=True),
    ...     "wait_s": 10.0, "talk_s": 100.0, "hold_s": 0.0, "acw_s": 0.0,
    ...     "abandoned": False, "transferred": False})
    >>> f = contact_features(df, options={"fcr_window_days": 3})
    >>> f["repeat_within_w"].tolist(), f["is_repeat"].tolist()
    ([True, <NA>], [False, True])
    """
    _check_timezone(timezone)
    o = _options(options)
    f = _flags(o)
    scope = o.fcr_channel
    w = _num(o.fcr_window_days * 86400)
    src = _Input(interactions)
    try:
        _check_columns(src.types)
        optional = [c for c in ("agent_id", "direction", "site", "contact_reason", "resolved") if c in src.types]
        keep = sorted({*_REQUIRED, *optional} - {"arrived_at"})
        lo_us, hi_us = _bounds(src, src.types)
        contacts = _contacts_sql(_src_sql(src.types, keep, inbound_only=False), windows={scope}, end_us=hi_us,
                                 payload=None, split_inbound=True)
        offset = _utc_offset_sql(timezone, lo_us, hi_us)
        cols = [
            "interaction_id", "customer_id", "queue", "channel",
            "agent_id" if "agent_id" in src.types else "CAST(NULL AS VARCHAR) AS agent_id",
            "_t_us AS arrived_at",
            f"DATE '1970-01-01' + CAST((_t_us + {offset}) // 86400000000 AS INTEGER) AS date",
            "CAST(wait_s AS DOUBLE) AS wait_s",
            f"CAST({f['handle']} AS DOUBLE) AS handle_s",
            "CAST(talk_s AS DOUBLE) AS talk_s", "CAST(hold_s AS DOUBLE) AS hold_s",
            "CAST(acw_s AS DOUBLE) AS acw_s",
            "abandoned", f"{f['handled']} AS handled",
            f"{f['short_abandon']} AS short_abandon",
            f"{f['answered_within_t']} AS answered_within_t",
            "transferred", "hold_s > 0 AS held",
            f"CASE WHEN NOT _inbound THEN NULL WHEN {f['repeat_within_w']} THEN TRUE "
            f"WHEN {f['window_complete']} THEN FALSE ELSE NULL END AS repeat_within_w",
            f"CASE WHEN NOT _inbound THEN NULL ELSE COALESCE(prev_{scope}_gap_s <= {w}, FALSE) END AS is_repeat",
            f"CASE WHEN _inbound THEN _next_{scope}_us END AS next_contact_at",
            f"CASE WHEN _inbound THEN {f['window_complete']} END AS repeat_window_complete",
            *[c for c in optional if c != "agent_id"],
        ]
        sql = f"SELECT {', '.join(cols)} FROM ({contacts}) ORDER BY _t_us, interaction_id"
        out = src.fetch(sql)
    finally:
        src.close()
    for c in ("arrived_at", "next_contact_at"):  # epoch microseconds -> UTC timestamps
        out[c] = pd.to_datetime(out[c].astype("float64"), unit="us", utc=True).astype("datetime64[ns, UTC]")
    out["date"] = pd.to_datetime(out["date"]).astype("datetime64[ns]")
    for c in ("repeat_within_w", "is_repeat", "repeat_window_complete"):
        out[c] = out[c].astype("boolean")
    for c in ("abandoned", "handled", "short_abandon", "answered_within_t", "transferred", "held"):
        out[c] = out[c].astype(bool)
    return out



# ----------------------------------------------------------------------------- staffing vs Erlang


def erlang_check(interactions, staffing: pd.DataFrame, *, options=None, timezone: str = "UTC",
                 concurrency: dict | None = None, band_width_pct: float = 10.0) -> pd.DataFrame:
    """Actual service level per 30-minute interval beside the Erlang C and Erlang A expectation.

    Parameters
    ----------
    interactions : DataFrame, str/path or duckdb.DuckDBPyRelation
    staffing : DataFrame
        Canonical staffing (``interval_start``, ``queue``, ``interval_s``,
        ``agents_staffed``); intervals of at most 30 minutes.
    options : KpiOptions or dict, optional
        The SL definition (threshold T, abandon treatment) of the actual value.
    timezone : str
    concurrency : dict, optional
        Contacts an agent works at once, by channel (e.g. ``{"chat": 2}``);
        default 1 for every channel. A chat's handle time then loads the
        agent for ``handle_s / concurrency`` seconds.
    band_width_pct : float
        Width of the ``erlang_band`` bins of expected SL (percentage points).

    Returns
    -------
    DataFrame
        One row per local ``interval`` x ``queue`` with staffing: ``offered``,
        ``service_level_num``, ``service_level_den``, ``service_level_pct``
        (actual), ``agents_staffed`` (mean over the interval),
        ``workload_s`` (agent seconds per offered contact: handle time of
        handled contacts ÷ concurrency, over offered, per queue over the whole
        input) and ``patience_s`` (per queue), ``load_erlangs`` (offered x
        workload / 1,800 s), ``erlang_c_sl_pct`` and
        ``erlang_a_sl_pct`` (expected SL in %), ``erlang_band`` (expected
        Erlang C SL binned, e.g. ``"70-80%"``). :func:`rollup` by
        ``erlang_band`` gives the exact actual SL per band.

    Notes
    -----
    Offered load :math:`A = \\lambda \\cdot AHT`; here per offered contact,
    so abandons carry no work: ``A = offered x workload_s / 1,800`` with the
    queue's workload over the input (interval AHTs from a handful of calls
    are noise). Mean patience is
    the exponential maximum-likelihood estimate: total queue time of all
    offered contacts ÷ abandons (each wait is a patience time censored by
    the answer). Erlang C ignores abandonment, so it is pessimistic where
    abandons are common; Erlang A (M/M/n+M) accounts for them. Both assume
    the staffed agents are fully available to the queue.

    References
    ----------
    KPI_DEFINITIONS.md (Erlang C); Garnett, Mandelbaum & Reiman (2002) for
    Erlang A and the patience estimate.
    """
    from . import erlang

    o = _options(options)
    k = kpi_table(interactions, by=("interval", "queue"), options=o, timezone=timezone, staffing=staffing)
    conc = {str(c): float(v) for c, v in (concurrency or {}).items()}
    if any(v <= 0 for v in conc.values()):
        raise ValueError(f"concurrency values must be > 0; got {concurrency!r}")
    divisor = " ".join(f"WHEN {_quote(c)} THEN {v!r}" for c, v in conc.items())
    divisor = f"(CASE channel {divisor} ELSE 1.0 END)" if divisor else "1.0"
    src = _Input(interactions)
    try:
        per_q = src.fetch(
            "SELECT queue, SUM(CASE WHEN NOT abandoned THEN CAST(talk_s + hold_s + acw_s AS DOUBLE) / "
            f"{divisor} ELSE 0 END) / COUNT(*) AS workload_s, "
            "SUM(CAST(wait_s AS DOUBLE)) / NULLIF(SUM(CASE WHEN abandoned THEN 1 ELSE 0 END), 0) AS patience_s "
            f"FROM cx_input WHERE {_inbound(src.types)} GROUP BY queue"
        )
    finally:
        src.close()
    out = k[["interval", "queue", "offered", "service_level_num", "service_level_den", "service_level_pct"]].copy()
    out["agents_staffed"] = k["occupancy_den"] / 1800.0
    out = out.merge(per_q, on="queue", how="left")
    out["load_erlangs"] = out["offered"] * out["workload_s"] / 1800.0
    ok = (out["agents_staffed"] > 0) & (out["load_erlangs"] > 0) & (out["workload_s"] > 0)
    n, a = out.loc[ok, "agents_staffed"].to_numpy(), out.loc[ok, "load_erlangs"].to_numpy()
    aht = out.loc[ok, "workload_s"].to_numpy()
    out["erlang_c_sl_pct"] = np.where(out["agents_staffed"] > 0, 100.0, np.nan)
    out.loc[ok, "erlang_c_sl_pct"] = 100 * np.asarray(erlang.service_level(n, a, aht_s=aht, t_s=o.sl_threshold_s))
    out["erlang_a_sl_pct"] = out["erlang_c_sl_pct"]
    pat_ok = ok & out["patience_s"].notna() & (out["patience_s"] > 0)
    if pat_ok.any():
        ea = erlang.erlang_a(out.loc[pat_ok, "agents_staffed"].to_numpy(), out.loc[pat_ok, "load_erlangs"].to_numpy(),
                             aht_s=out.loc[pat_ok, "workload_s"].to_numpy(),
                             patience_s=out.loc[pat_ok, "patience_s"].to_numpy(),
                             t_s=o.sl_threshold_s)
        out.loc[pat_ok, "erlang_a_sl_pct"] = 100 * ea["service_level"].to_numpy()
    w = float(band_width_pct)
    lo = np.minimum(np.floor(out["erlang_c_sl_pct"] / w) * w, 100 - w)
    out["erlang_band"] = [f"{int(x):d}-{int(x + w):d}%" if np.isfinite(x) else None for x in lo]
    return out.sort_values(["interval", "queue"], kind="mergesort").reset_index(drop=True)
