"""Step 2 — the DuckDB executor of the KPI definitions: :func:`kpi_table` and :func:`rollup`.

Each KPI of :mod:`cxlab.kpis.definitions` is ``scale * SUM(numerator) /
SUM(denominator)`` over the contact feature relation; :func:`kpi_table` runs the
sums per local period x segment and keeps numerators and denominators, so
:func:`rollup` re-aggregates exactly.

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
FCR needs, and counting unknown customers), after one metadata scan (the
``arrived_at`` range and which optional columns carry data). Parquet inputs
are streamed by DuckDB (projection pushdown); the window sort is the
dominant cost (``benchmarks/kpis.py``). Every connection gets the
:mod:`cxlab.kpis._resources` settings (memory limit, spill folder, threads).

From ``out_of_core_rows`` contacts (20M by default) the window's partition
key is a 64-bit hash of ``customer_id`` instead of the string, checked in the
same window for collisions (a part with one is rerun on the string key), and
when the input exceeds ``bucket_rows`` the lean payload is staged once to
Parquet partitioned by the hash and windowed bucket by bucket; the numbers
are identical to the single query (docs/scale.md, ``benchmarks/scale.py``).

Never-queued contacts (``reached_queue`` false) are read by the plain scan
only to be counted as ``ivr_only`` (every other sum is ``FILTER (WHERE
_counted)``); the windowed scan does not see them, so they are never
repeats.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import shutil
import uuid
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .. import progress
from ..config import KpiOptions
from ..errors import NotEnoughData, suggest
from . import _resources
from ._common import (
    NOT_SEGMENTS,
    InteractionsInput,
    check_columns,
    check_timezone,
    coerce_options,
    contacts_sql,
    format_value,
    scan_meta,
    source_sql,
    sql_ident,
    sql_quote,
    timestamp_sql,
    utc_offset_sql,
)
from .definitions import PERIODS, kpi_definitions, not_measured

__all__ = ["kpi_table", "rollup", "measured_kpis"]

_log = logging.getLogger(__name__)


def _units() -> dict:
    out = {}
    for d in kpi_definitions():
        out[d.name] = (d.unit, d.scale, d.denominator is None)
        if d.name == "short_abandoned":
            out["ivr_only"] = ("contacts", 1.0, True)
    return out


#: KPI name -> (unit, scale, is a count), in output column order
_UNITS = _units()
_IVR = "_ivr_only"


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
            allowed = list(PERIODS) + [c for c in types if c not in NOT_SEGMENTS]
            raise ValueError(f"by: unknown period or column {s!r}{suggest(s, allowed)}; allowed: {allowed}")
    if len(set(by)) != len(by):
        raise ValueError(f"by has duplicates: {by}")
    return (periods[0] if periods else None), segments


def _local_period(period: str, local: str) -> str:
    return {
        "interval": f"time_bucket(INTERVAL '30 minutes', {local})",
        "day": f"CAST({local} AS DATE)",
        "week": f"CAST(date_trunc('week', {local}) AS DATE)",
        "month": f"CAST(date_trunc('month', {local}) AS DATE)",
    }[period]


_WINDOW_COLUMNS = ("next_any_gap_s", "next_same_gap_s", "observed_after_s")


def _uses_window(expr: str) -> bool:
    return any(c in expr for c in _WINDOW_COLUMNS)


def _needed_windows(exprs) -> set[str]:
    text = " ".join(exprs)
    return {s for s in ("any", "same") if f"next_{s}_gap_s" in text}


def _definition_sets(options, definitions) -> list[tuple[str | None, KpiOptions]]:
    if definitions is None:
        return [(None, coerce_options(options))]
    if isinstance(definitions, (KpiOptions, dict)):
        definitions = [definitions]
    base = coerce_options(options)
    out, seen = [], {}
    for d in definitions:
        if isinstance(d, dict):
            o = coerce_options({**base.model_dump(), **d})
            label = d.get("label")
        else:
            o = coerce_options(d)
            label = None
        if label is None:
            diff = [f"{k}={format_value(v)}" for k, v in o.model_dump().items() if v != KpiOptions.model_fields[k].default]
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


class _Pieces:
    """The parts of the KPI query: period key, segments, the plain scan and the windowed scan's pieces."""

    def __init__(self, types, *, period, segments, aliases, timezone, lo_us, hi_us):
        self.period, self.aliases, self.hi_us = period, aliases, hi_us
        self.seg = [sql_ident(s) for s in segments]
        offset = utc_offset_sql(timezone, lo_us, hi_us) if period else "0"
        if period == "interval":
            self.pkey = [f"(_t_us + {offset}) // 1800000000 AS _p"]
        elif period:
            self.pkey = [f"(_t_us + {offset}) // 86400000000 AS _p"]
        else:
            self.pkey = []
        self.keys = (["_p"] if period else []) + self.seg
        self.group = f" GROUP BY {', '.join(self.keys)}" if self.keys else ""
        any_window = any(_uses_window(k[0]) for k in aliases)

        def in_window(expr: str) -> bool:  # the windowed scan reads customer_id anyway: count unknowns there
            return _uses_window(expr) or (any_window and "customer_id" in expr)

        plain = [(k, a) for k, a in aliases.items() if not in_window(k[0]) and a != _IVR]
        self.windowed = [(k, a) for k, a in aliases.items() if in_window(k[0])]
        base = ["abandoned", "acw_s", "customer_id", "hold_s", "talk_s", "transferred", "wait_s"]
        plain_cols = {c for c in base if any(c in k[0] for k, _ in plain)} | {"abandoned", "wait_s"}
        # never-queued contacts stay in the plain scan only to be counted as ivr_only
        src_all = source_sql(types, sorted({*plain_cols, *segments}), inbound_only=True, queued_only=False)
        ivr = [f"CAST(COUNT(*) FILTER (WHERE NOT _counted) AS BIGINT) AS {_IVR}"]
        self.plain_sql = (f"SELECT {', '.join(self.pkey + self.seg + self.agg(plain, '_counted') + ivr)} "
                          f"FROM ({src_all}){self.group}")
        self.exprs = [k[0] for k, _ in self.windowed]
        self.used = sorted({c for c in base if any(c in e for e in self.exprs)} | set(segments))
        self.scopes = _needed_windows(self.exprs)
        self.window_cols = sorted({*self.used, "customer_id", *(["channel"] if "same" in self.scopes else [])})
        self.window_src = source_sql(types, self.window_cols, inbound_only=True) if self.windowed else None
        self.payload = [*(sql_ident(c) for c in self.used), "_t_us"]

    @staticmethod
    def agg(items, where=""):
        flt = f" FILTER (WHERE {where})" if where else ""
        return [f"CAST(SUM({e}){flt} AS BIGINT) AS {a}" if integer else f"SUM(CAST({e} AS DOUBLE)){flt} AS {a}"
                for (e, integer), a in items]

    def windowed_sql(self, src_w: str, scopes=None, payload=(), extra=()) -> str:
        """The windowed aggregation over ``src_w`` (rows with ``customer_id``, ``_t_us`` and the payload).

        ``payload`` adds expressions to the window's SELECT (they may use its
        named windows ``w_any`` / ``w_same``); ``extra`` adds aggregates."""
        contacts = contacts_sql(src_w, windows=self.scopes if scopes is None else scopes, end_us=self.hi_us,
                                payload=[*self.payload, *payload], split_inbound=False)
        items = self.pkey + self.seg + self.agg(self.windowed) + list(extra)
        return f"SELECT {', '.join(items)} FROM ({contacts}){self.group}"

    def reaggregate_sql(self, table: str) -> str:
        """Sum partial windowed aggregates (one row per key and bucket) to one row per key."""
        sums = [f"CAST(SUM({a}) AS BIGINT) AS {a}" if integer else f"SUM({a}) AS {a}" for (_, integer), a in self.windowed]
        return f"SELECT {', '.join(self.keys + sums)} FROM {table}{self.group}"

    def final_sql(self, windowed_sql: str | None) -> str:
        """Join the plain scan with the windowed aggregation on the keys, then take local periods."""
        period, seg, keys, aliases = self.period, self.seg, self.keys, self.aliases
        if windowed_sql is None:
            stage1 = self.plain_sql
        elif keys:
            on = " AND ".join(f"a.{k} IS NOT DISTINCT FROM b.{k}" for k in keys)
            stage1 = (f"SELECT a.*, {', '.join(f'b.{a}' for _, a in self.windowed)} "
                      f"FROM ({self.plain_sql}) a LEFT JOIN ({windowed_sql}) b ON {on}")
        else:
            stage1 = f"SELECT * FROM ({self.plain_sql}) a CROSS JOIN ({windowed_sql}) b"
        if not period:
            order = f" ORDER BY {', '.join(seg)}" if seg else ""
            return f"SELECT * FROM ({stage1}){order}"
        pexpr = "make_timestamp(_p * 1800000000)" if period == "interval" else _period_from_day(period, "_p")
        outer = [f"{pexpr} AS {sql_ident(period)}", *seg] + [
            f"CAST(SUM({a}) AS BIGINT) AS {a}" if integer else f"SUM({a}) AS {a}" for (_, integer), a in aliases.items()
        ] + [f"CAST(SUM({_IVR}) AS BIGINT) AS {_IVR}"]
        order = ", ".join([sql_ident(period)] + seg)
        return f"SELECT {', '.join(outer)} FROM ({stage1}) GROUP BY {order} ORDER BY {order}"


def _kpi_sql(types, *, period, segments, aliases, timezone, lo_us, hi_us) -> str:
    """Two aggregations joined on the keys: one plain scan for the KPIs that need no repeat
    window, one windowed scan (lean payload) for those that do; then local periods (one SELECT)."""
    pc = _Pieces(types, period=period, segments=segments, aliases=aliases, timezone=timezone,
                 lo_us=lo_us, hi_us=hi_us)
    return pc.final_sql(pc.windowed_sql(pc.window_src) if pc.windowed else None)


_NULL_TEST = re.compile(r"customer_id IS (NOT )?NULL")


def _bucketable(src: InteractionsInput, pc: _Pieces) -> bool:
    """The out-of-core path applies: a connection of our own, a repeat window, and windowed expressions
    that use ``customer_id`` only as a null test (the bucket passes a 64-bit hash under that name)."""
    if type(src) is not InteractionsInput or getattr(src, "_con", None) is None or not pc.windowed:
        return False
    return all("customer_id" not in _NULL_TEST.sub("", e) for e in pc.exprs)


def _row_count(src: InteractionsInput) -> int:
    return int(src.fetch("SELECT COUNT(*) AS n FROM cx_input")["n"].iloc[0])


def _run(src: InteractionsInput, pc: _Pieces) -> pd.DataFrame:
    """Fetch the raw KPI sums: one query for small inputs, the hashed / bucketed repeat window for large ones."""
    if not _bucketable(src, pc):
        return src.fetch(pc.final_sql(pc.windowed_sql(pc.window_src) if pc.windowed else None))
    s = _resources.settings()
    n = _row_count(src)
    if n < s["out_of_core_rows"]:
        return src.fetch(pc.final_sql(pc.windowed_sql(pc.window_src)))
    return _out_of_core(src, pc, math.ceil(n / s["bucket_rows"]), Path(s["temp_directory"]))


#: the 64-bit customer key of the out-of-core path (a test swaps in a colliding one)
_HASH = "hash({})"


def _out_of_core(src: InteractionsInput, pc: _Pieces, buckets: int, temp_dir: Path) -> pd.DataFrame:
    """The out-of-core repeat window (see docs/scale.md).

    The window's partition key is a 64-bit hash of ``customer_id`` (integer
    sort keys instead of strings; DuckDB's window operator hash-partitions
    and spills under ``memory_limit``). The same window counts neighbours
    whose customer id differs from the row's: where two customers share a
    hash, the part is rerun with the string key, so a collision never
    changes a result.

    With ``buckets`` > 1 the windowed scan's lean payload is first staged
    once to Parquet partitioned by ``hash % buckets`` (unknown customers in
    bucket -1, which needs no window: the definitions ignore their repeat
    fields) and the window runs bucket by bucket, so one bucket's sort is
    what must fit in memory. The per-part sums are added per key and joined
    with the plain scan, as in the single query.
    """
    con = src._con
    keep = [sql_ident(c) for c in pc.window_cols if c != "customer_id"]
    h = f"CASE WHEN customer_id IS NULL THEN NULL ELSE {_HASH.format('customer_id')} END"
    # a neighbour in a repeat window with another customer id: the hash key mixed two customers
    clash = " OR ".join(f"(LEAD(_t_us) OVER w_{s} IS NOT NULL AND LEAD(_cid) OVER w_{s} IS DISTINCT FROM _cid)"
                        for s in sorted(pc.scopes))
    checked = {"payload": [f"{clash} AS _clash"], "extra": ["COUNT(*) FILTER (WHERE _clash) AS _clash_n"]}
    stage = temp_dir / f"cxlab-kpi-{uuid.uuid4().hex}"
    try:
        if buckets <= 1:
            parts = [(f"SELECT {', '.join(keep)}, _t_us, customer_id AS _cid, {h} AS _h FROM ({pc.window_src})",
                      False)]
        else:
            stage.mkdir(parents=True)
            con.execute(
                f"COPY (SELECT {', '.join(keep)}, _t_us, customer_id AS _cid, {h} AS _h, "
                f"CASE WHEN customer_id IS NULL THEN -1 ELSE CAST(_h % {int(buckets)} AS INTEGER) END AS _b "
                f"FROM ({pc.window_src})) TO {sql_quote(str(stage))} (FORMAT parquet, PARTITION_BY (_b))")
            dirs = sorted(stage.glob("_b=*"), key=lambda d: int(d.name[3:]))
            _log.debug("kpi_table: out-of-core repeat window in %d buckets (%d present)", buckets, len(dirs))
            parts = [(f"SELECT * FROM read_parquet({sql_quote(str(d / '*.parquet'))}, hive_partitioning = false)",
                      d.name == "_b=-1") for d in dirs]
        bar = progress.bar(len(parts), desc="cxlab: KPI repeat window", unit="bucket") if len(parts) > 1 \
            else contextlib.nullcontext(None)
        with bar as b:
            _window_parts(con, pc, parts, keep, checked, b)
        if not parts:
            return src.fetch(pc.final_sql(pc.windowed_sql(pc.window_src)))
        return src.fetch(pc.final_sql(pc.reaggregate_sql("_cx_window")))
    finally:
        for t in ("_cx_part", "_cx_window"):
            con.execute(f"DROP TABLE IF EXISTS {t}")
        shutil.rmtree(stage, ignore_errors=True)


def _window_parts(con, pc: _Pieces, parts, keep, checked, bar) -> None:
    """Window each part (a bucket of customers) into ``_cx_window``, ticking ``bar`` after each."""
    for i, (rows, unknown) in enumerate(parts):
        cols = f"SELECT {', '.join(keep)}, _t_us, _cid, {{}} AS customer_id FROM ({rows})"
        if unknown:
            body = pc.windowed_sql(cols.format("_h"), scopes=set(), extra=["0 AS _clash_n"])
        else:
            body = pc.windowed_sql(cols.format("_h"), **checked)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _cx_part AS {body}")
        if con.execute("SELECT COALESCE(SUM(_clash_n), 0) FROM _cx_part").fetchone()[0]:
            _log.debug("kpi_table: part %d: two customer ids share a hash; rerun with the string key", i)
            body = pc.windowed_sql(cols.format("_cid"), extra=["0 AS _clash_n"])
            con.execute(f"CREATE OR REPLACE TEMP TABLE _cx_part AS {body}")
        con.execute("INSERT INTO _cx_window SELECT * FROM _cx_part" if i
                    else "CREATE OR REPLACE TEMP TABLE _cx_window AS SELECT * FROM _cx_part")
        progress.tick(bar, 1, f"bucket {i + 1} of {len(parts)}")


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
        ``agents_staffed``); measures occupancy. Staffing can only be split
        by period and ``queue``: with other segments occupancy is not
        measured (with a warning).
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
        * counts: ``offered``, ``handled``, ``abandoned``,
          ``short_abandoned``, ``ivr_only`` (inbound contacts with
          ``reached_queue`` false: ended in the IVR / self-service; not
          offered, not abandoned, in no rate) and ``no_customer_id``
          (offered contacts whose ``customer_id`` is null: left out of FCR);
        * for each rate its ``<kpi>_num``, ``<kpi>_den`` and value:
          ``service_level_pct``, ``abandon_rate_pct``, ``asa_s``, ``aht_s``,
          ``att_s`` (average talk time), ``fcr_pct``, ``transfer_rate_pct``,
          ``hold_rate_pct`` and ``occupancy_pct`` (value NaN where the
          denominator is 0).

        A KPI that cannot be measured — its column is not mapped (absent or
        null on every handled contact), or, for occupancy, no staffing
        table — has NaN numerator, denominator and value (never 0), and
        ``attrs["not_measured"]`` maps its name to the reason, e.g.
        ``{"transfer_rate": "column 'transferred' is not mapped"}`` (see
        :func:`cxlab.kpis.not_measured`); with ``definitions``,
        ``attrs["not_measured_by_definition"]`` holds one such dict per
        label. A report can say "``no_customer_id`` contacts have no
        customer id; FCR is over ``fcr_den`` handled contacts".

        :func:`rollup` re-aggregates it exactly.

    Raises
    ------
    cxlab.errors.NotEnoughData
        A segment column of ``by`` is null on every row (not mapped).
    ValueError
        A required column is missing, an unknown ``by`` key or option.

    Notes
    -----
    Each value is ``scale * SUM(numerator) / SUM(denominator)`` with the
    expressions of :func:`kpi_definitions` (scale 100 for ``_pct``). Only
    inbound contacts that reached a queue are counted. Handle time is
    attributed to the period in which the contact arrived (occupancy at the
    ``interval`` grain is approximate for contacts that run into the next
    interval).

    References
    ----------
    docs/KPI_DEFINITIONS.md (service level: Cisco UCCE/CUIC; ASA, AHT:
    Genesys; FCR: SQM).

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
    check_timezone(timezone)
    sets = _definition_sets(options, definitions)
    src = InteractionsInput(interactions)
    try:
        check_columns(src.types)
        period, segments = _split_by(by, src.types)
        use_staffing = staffing is not None and len(staffing) > 0
        staffing_note = None
        if use_staffing:
            bad = [s for s in segments if s not in staffing.columns]
            if bad:
                warnings.warn(f"occupancy left out: staffing cannot be split by {bad}", stacklevel=2)
                use_staffing = False
                staffing_note = f"staffing cannot be split by {bad}"
        lo_us, hi_us, present = scan_meta(src)
        unmapped = [s for s in segments if s not in present]
        if unmapped:
            raise NotEnoughData(f"interactions: cannot split by {unmapped}: the column is null on every row "
                                "(not mapped)")
        defsets = [(label, list(kpi_definitions(o)), _not_measured(present, o, use_staffing, staffing_note))
                   for label, o in sets]
        base_nm = _not_measured(present, coerce_options(options), use_staffing, staffing_note)
        all_defs = [d for _, ds, _ in defsets for d in ds]

        # one aggregate per distinct expression (definitions share most of them)
        aliases: dict[tuple[str, bool], str] = {}

        def alias(expr: str, integer: bool) -> str:
            return aliases.setdefault((expr, integer), f"_a{len(aliases)}")

        for d in all_defs:
            alias(d.numerator, d.integer_numerator)
            if d.denominator is not None and d.denominator_relation == "contacts":
                alias(d.denominator, d.integer_denominator)

        pc = _Pieces(src.types, period=period, segments=segments, aliases=aliases, timezone=timezone,
                     lo_us=lo_us, hi_us=hi_us)
        raw = _run(src, pc)
    finally:
        src.close()

    keys = ([period] if period else []) + segments
    for (_, integer), a in [*aliases.items(), (("", True), _IVR)]:
        raw[a] = raw[a].fillna(0).astype("int64" if integer else "float64")
    raw = _normalize_keys(raw, period)
    staff = _staffing_agg(staffing, period, segments, timezone) if use_staffing else None

    frames = []
    for label, defs, nm in defsets:
        out = raw[keys].copy()
        for d in defs:
            out[d.value_column if d.denominator is None else f"{d.name}_num"] = raw[
                aliases[(d.numerator, d.integer_numerator)]].to_numpy()
            if d.denominator is not None and d.denominator_relation == "contacts":
                out[f"{d.name}_den"] = raw[aliases[(d.denominator, d.integer_denominator)]].to_numpy()
            if d.name == "short_abandoned":
                out["ivr_only"] = raw[_IVR].to_numpy()
        if staff is not None:
            out = _merge_staffing(out, staff, keys)
        for name in nm:  # not measured: NaN, never 0 or a substitute
            out[f"{name}_num"] = np.nan
            out[f"{name}_den"] = np.nan
        out = _finish(out, keys)
        if label is not None:
            out.insert(0, "definition", label)
        frames.append(out)
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    out = out.reset_index(drop=True)
    out.attrs["not_measured"] = base_nm  # under ``options``
    if definitions is not None:
        out.attrs["not_measured_by_definition"] = {label: dict(nm) for label, _, nm in defsets}
    return out


def _not_measured(present, options, use_staffing: bool, staffing_note) -> dict[str, str]:
    nm = not_measured(present, options=options, staffing=use_staffing)
    if staffing_note and "occupancy" in nm:
        nm["occupancy"] = staffing_note
    return nm


def measured_kpis(kpi_df: pd.DataFrame) -> list[str]:
    """The KPI value columns of a KPI table that are measured (not in ``attrs["not_measured"]``, not all NaN).

    Parameters
    ----------
    kpi_df : DataFrame
        Output of :func:`kpi_table`, :func:`rollup` or
        :func:`cxlab.kpis.kpi_table_from_aggregates`.

    Returns
    -------
    list of str
        Value columns (``service_level_pct``, ``asa_s``, ... and the counts)
        in table order, for choosing what to plot or correlate.

    Examples
    --------
    >>> import pandas as pd
    >>> k = pd.DataFrame({"offered": [3], "aht_num": [float("nan")], "aht_den": [float("nan")],
    ...                   "aht_s": [float("nan")], "asa_num": [30.0], "asa_den": [2], "asa_s": [15.0]})
    >>> k.attrs["not_measured"] = {"aht": "column 'acw_s' is not mapped"}
    >>> measured_kpis(k)
    ['offered', 'asa_s']
    """
    nm = set(kpi_df.attrs.get("not_measured", {}))
    out = []
    for name, (unit, _, is_count) in {**_UNITS, **_EXTRA_UNITS}.items():
        col = name if is_count or unit is None else f"{name}_{unit}"
        if name in nm or col not in kpi_df.columns or kpi_df[col].isna().all():
            continue
        out.append(col)
    return out


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
        _resources.apply(con)
        con.execute("SET TimeZone = 'UTC'")
        con.register("staffing_input", staffing)
        types = {c: str(t) for c, t in zip(*(lambda r: (r.columns, r.types))(con.sql("SELECT * FROM staffing_input")))}
        local = f"timezone({sql_quote(timezone)}, {timestamp_sql('interval_start', types)})"
        keys = ([f"{_local_period(period, local)} AS {sql_ident(period)}"] if period else []) + [
            sql_ident(s) for s in segments]
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


#: value columns of aggregate tables (cxlab.kpis.aggregates): name -> (unit, scale, is a count);
#: unit None means the value column is the name itself (csat_mean, nps_points, ces_mean)
_EXTRA_UNITS = {
    "csat_mean": (None, 1.0, False),
    "csat_top2": ("pct", 100.0, False),
    "nps_points": (None, 1.0, False),
    "ces_mean": (None, 1.0, False),
}


def _finish(out: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Compute values from num/den, order columns and sort by keys."""
    cols = list(keys)
    for name, (unit, scale, is_count) in {**_UNITS, **_EXTRA_UNITS}.items():
        if is_count:
            if name in out:
                cols.append(name)
            continue
        num, den = f"{name}_num", f"{name}_den"
        if num not in out or den not in out:
            continue
        d = out[den].astype(float)
        value = name if unit is None else f"{name}_{unit}"
        with np.errstate(divide="ignore", invalid="ignore"):
            out[value] = np.where(d > 0, scale * out[num].astype(float) / d.where(d > 0, 1.0), np.nan)
        cols += [num, den, value]
    out = out[cols]
    if keys:
        out = out.sort_values(keys, kind="mergesort", na_position="last")
    return out.reset_index(drop=True)


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
        den`` — never an average of averages. A column that is NaN on every
        row of a group (a KPI not measured) stays NaN, never 0; ``attrs``
        (``not_measured`` ...) are carried over.

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
    # min_count=1: a column that is NaN (not measured) on every row of a group stays NaN, never 0
    if keys:
        g = out.groupby(keys, sort=True, dropna=False)[sums].sum(min_count=1).reset_index()
    else:
        g = out[sums].sum(min_count=1).to_frame().T
    for c in sums:
        if pd.api.types.is_integer_dtype(out[c].dtype) and not g[c].isna().any():
            g[c] = g[c].astype("int64")
    res = _finish(g, keys)
    if order is not None:
        res = res.sort_values("definition", key=lambda s: s.map(order), kind="mergesort").reset_index(drop=True)
    res.attrs = {k: v for k, v in kpi_df.attrs.items()}
    return res
