"""Step 2 — the DuckDB plumbing shared by the KPI executors (one copy).

The interactions source seen as a DuckDB table ``cx_input``, SQL quoting,
timestamps of any precision as UTC instants, the local-time offset ``CASE``,
and the contact feature relation (repeat windows by ``LEAD``/``LAG``) used by
:func:`cxlab.kpis.kpi_table`, :func:`cxlab.kpis.contact_features` and
:func:`cxlab.kpis.erlang_check`. Nothing here is exported by :mod:`cxlab.kpis`.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from ..config import KpiOptions
from ..errors import check_option, suggest

REQUIRED_COLUMNS = ("interaction_id", "queue", "arrived_at", "wait_s", "talk_s", "abandoned")

#: optional interactions columns the KPI code reads; absent ones are read as typed NULLs
OPTIONAL_COLUMNS = {"customer_id": "VARCHAR", "channel": "VARCHAR", "hold_s": "DOUBLE", "acw_s": "DOUBLE",
                    "transferred": "BOOLEAN", "reached_queue": "BOOLEAN", "resolved": "BOOLEAN",
                    "contact_reason": "VARCHAR", "agent_id": "VARCHAR", "direction": "VARCHAR",
                    "site": "VARCHAR"}

#: columns never offered as a ``by`` segment
NOT_SEGMENTS = ("interaction_id", "customer_id", "agent_id", "arrived_at", "wait_s", "talk_s", "hold_s", "acw_s",
                "abandoned", "transferred", "reached_queue", "resolved")


def coerce_options(options) -> KpiOptions:
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


def format_value(v) -> str:
    return sql_number(v) if isinstance(v, float) else str(v)


def sql_number(fmt: float) -> str:
    return f"{float(fmt):g}"


class InteractionsInput:
    """An interactions source seen as a table called ``cx_input`` that DuckDB SQL is run against.

    A pandas DataFrame, a Parquet path/glob or a DuckDB relation runs on an
    embedded DuckDB connection. An engine source — a
    :class:`cxlab.kpis.engines.SparkSource`, a ``pyspark.sql.DataFrame`` or a
    :class:`cxlab.kpis.engines.SqlSource` — gives an engine-backed input
    instead (same ``types``/``fetch``/``close``): the queries are translated to
    the engine's dialect and run there; only their (aggregated) results come
    back. ``dialect`` names where the SQL runs.
    """

    #: where the SQL runs (engine inputs: "spark", "postgres", ...)
    dialect = "duckdb"

    def __new__(cls, data=None):
        if cls is InteractionsInput and not isinstance(data, (pd.DataFrame, str, os.PathLike)):
            from .engines import engine_input_class  # lazy: engines imports this module

            engine_cls = engine_input_class(data)
            if engine_cls is not None:
                return super().__new__(engine_cls)
        return super().__new__(cls)

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
            self._con.execute(f"CREATE VIEW cx_input AS SELECT * FROM read_parquet({sql_quote(path)})")
        elif isinstance(data, duckdb.DuckDBPyRelation):
            self._rel = data
        else:
            raise TypeError(
                "interactions must be a pandas DataFrame, a Parquet path/glob, a DuckDB relation or an engine "
                "source (cxlab.kpis.engines: SparkSource, a pyspark DataFrame, SqlSource); "
                f"got {type(data).__name__}"
            )
        if self._con is not None:
            self._con.execute("SET TimeZone = 'UTC'")
            self._con.execute("SET preserve_insertion_order = false")
            from ._resources import apply as apply_resources  # memory_limit, temp_directory, threads

            apply_resources(self._con)
            rel = self._con.sql("SELECT * FROM cx_input")
        else:
            rel = self._rel
        self.types = {c: str(t) for c, t in zip(rel.columns, rel.types)}

    def fetch(self, sql: str) -> pd.DataFrame:
        """Run ``sql`` (over ``cx_input``) and return its result; a query longer than 2 s shows a
        progress bar where :mod:`cxlab.progress` allows one (never under ``CXLAB_PROGRESS=0``)."""
        if self._rel is not None:
            return self._rel.query("cx_input", sql).df()
        from .. import progress

        with progress.watch_query(self._con, "cxlab: KPI query"):
            return self._con.execute(sql).df()

    def register_ids(self, ids) -> str | None:
        """Make ``ids`` (interaction ids) a one-column table ``cx_ids(interaction_id)`` for the queries.

        Returns the table name to use in SQL, or None when the source cannot
        hold one (a DuckDB relation: the caller then filters the result).
        """
        if self._con is None:
            return None
        self._con.register("cx_ids", pd.DataFrame({"interaction_id": pd.Series(ids, dtype="str")}))
        return "cx_ids"

    def close(self):
        if self._con is not None:
            self._con.close()


def sql_quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def check_timezone(timezone: str) -> None:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(timezone)
    except Exception:
        raise ValueError(f"unknown time zone {timezone!r}; use an IANA name such as 'America/New_York'") from None


def check_columns(types: dict) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in types]
    if missing:
        raise ValueError(f"interactions lack required column(s) {missing}; see cxlab.schema")


def mapped_columns(src: InteractionsInput) -> set[str]:
    """Columns of the source that carry data: present with at least one non-null value.

    A column the loader added for an unmapped optional canonical column is all
    null, so "present" alone does not mean "mapped". Handle-time parts and the
    transfer flag count only on handled contacts (``NOT abandoned``): the
    loader reads a null duration of an abandoned contact as 0, which says
    nothing about handled ones.
    """
    return scan_meta(src)[2]


def scan_meta(src: InteractionsInput) -> tuple:
    """``(lo_us, hi_us, mapped columns)`` in one scan: the ``arrived_at`` range and :func:`mapped_columns`."""
    types = src.types
    opt = [c for c in OPTIONAL_COLUMNS if c in types]
    present = {c for c in types if c not in OPTIONAL_COLUMNS}
    handled_only = ("hold_s", "acw_s", "transferred")
    parts = [f"COUNT({sql_ident(c)}) FILTER (WHERE NOT abandoned) AS {sql_ident(c)}" if c in handled_only
             else f"COUNT({sql_ident(c)}) AS {sql_ident(c)}" for c in opt]
    ts = timestamp_sql("arrived_at", types)
    row = src.fetch(f"SELECT MIN(epoch_us({ts})) AS _lo, MAX(epoch_us({ts})) AS _hi"
                    + "".join(f", {p}" for p in parts) + " FROM cx_input")
    present |= {c for c in opt if int(row[c].iloc[0]) > 0}
    lo, hi = row["_lo"].iloc[0], row["_hi"].iloc[0]
    return (None, None, present) if pd.isna(lo) else (int(lo), int(hi), present)


def queued_sql(types: dict) -> str:
    """SQL: the contact reached a queue (``reached_queue`` null or absent = true)."""
    return "COALESCE(reached_queue, TRUE)" if "reached_queue" in types else "TRUE"


def column_sql(col: str, types: dict) -> str:
    """The column, or a typed NULL under its name when the source lacks it."""
    if col in types:
        return sql_ident(col)
    return f"CAST(NULL AS {OPTIONAL_COLUMNS.get(col, 'VARCHAR')}) AS {sql_ident(col)}"


def timestamp_sql(col: str, types: dict) -> str:
    """SQL giving the column as TIMESTAMPTZ (microseconds); naive timestamps are read as UTC.

    Every DuckDB timestamp type works: ``TIMESTAMP_S``, ``TIMESTAMP_MS``,
    ``TIMESTAMP``, ``TIMESTAMP_NS`` (naive: cast to ``TIMESTAMP``, then taken
    as UTC) and ``TIMESTAMP WITH TIME ZONE``, ``TIMESTAMPTZ_NS`` (zoned: cast
    to ``TIMESTAMPTZ``, the same instant). Nanoseconds are truncated to
    microseconds, as when pandas registers a ``datetime64[ns]`` column.

    Examples
    --------
    >>> print(timestamp_sql("t", {"t": "TIMESTAMPTZ_NS"}))
    CAST("t" AS TIMESTAMPTZ)
    >>> print(timestamp_sql("t", {"t": "TIMESTAMP_MS"}))
    timezone('UTC', CAST("t" AS TIMESTAMP))
    """
    t = types.get(col, "").upper()
    if t == "TIMESTAMP WITH TIME ZONE":
        return sql_ident(col)
    if "WITH TIME ZONE" in t or t.startswith("TIMESTAMPTZ"):
        return f"CAST({sql_ident(col)} AS TIMESTAMPTZ)"
    return f"timezone('UTC', CAST({sql_ident(col)} AS TIMESTAMP))"


def inbound_sql(types: dict) -> str:
    return "COALESCE(direction, 'inbound') = 'inbound'" if "direction" in types else "TRUE"


def utc_offset_sql(timezone: str, lo_us, hi_us) -> str:
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


def time_bounds(src: InteractionsInput, types: dict) -> tuple:
    ts = timestamp_sql("arrived_at", types)
    row = src.fetch(f"SELECT MIN(epoch_us({ts})) AS lo, MAX(epoch_us({ts})) AS hi FROM cx_input")
    lo, hi = row["lo"].iloc[0], row["hi"].iloc[0]
    return (None, None) if pd.isna(lo) else (int(lo), int(hi))


def source_sql(types: dict, keep, *, inbound_only: bool, queued_only: bool = True) -> str:
    """Rows of cx_input with the kept columns, ``_t_us`` (epoch microseconds), ``_inbound`` and ``_counted``.

    ``_counted`` marks the contacts the KPIs count: inbound and reached a
    queue. Kept columns the source lacks are typed NULLs. With
    ``inbound_only`` only inbound rows are returned, and with ``queued_only``
    as well only those that reached a queue.
    """
    cols = ", ".join(column_sql(c, types) for c in keep)
    inbound, queued = inbound_sql(types), queued_sql(types)
    conds = ([inbound] if inbound_only and "direction" in types else []) + (
        [queued] if inbound_only and queued_only and "reached_queue" in types else [])
    where = f" WHERE {' AND '.join(conds)}" if conds else ""
    return (f"SELECT {cols}, epoch_us({timestamp_sql('arrived_at', types)}) AS _t_us, {inbound} AS _inbound, "
            f"({inbound}) AND {queued} AS _counted FROM cx_input{where}")


def contacts_sql(src_sql: str, *, windows: set[str], end_us, payload, split_inbound: bool) -> str:
    """The contact feature relation: ``src`` plus repeat-window columns and ``observed_after_s``.

    ``windows`` holds ``"any"`` and/or ``"same"``. LEAD/LAG run over
    ``PARTITION BY customer_id[, channel] ORDER BY arrived_at`` (with
    ``split_inbound`` also by ``_counted``, so outbound and never-queued
    contacts are never repeats of counted ones). Contacts with a null
    ``customer_id`` share a partition: consumers must ignore their repeat
    fields (the FCR definition and :func:`contact_features` do); two contacts
    by the same customer with the same timestamp get a gap of 0 in both
    directions, so the result does not depend on how ties are sorted.
    """
    inb = ", _counted" if split_inbound else ""
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
