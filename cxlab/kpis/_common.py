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

REQUIRED_COLUMNS = ("interaction_id", "customer_id", "channel", "queue", "arrived_at", "wait_s", "talk_s",
                    "hold_s", "acw_s", "abandoned", "transferred")


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
            self._con.execute(f"CREATE VIEW cx_input AS SELECT * FROM read_parquet({sql_quote(path)})")
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


def source_sql(types: dict, keep, *, inbound_only: bool) -> str:
    """Rows of cx_input with the kept columns, ``_t_us`` (epoch microseconds) and ``_inbound``."""
    cols = ", ".join(sql_ident(c) for c in keep)
    where = f" WHERE {inbound_sql(types)}" if inbound_only and "direction" in types else ""
    return (f"SELECT {cols}, epoch_us({timestamp_sql('arrived_at', types)}) AS _t_us, {inbound_sql(types)} AS _inbound "
            f"FROM cx_input{where}")


def contacts_sql(src_sql: str, *, windows: set[str], end_us, payload, split_inbound: bool) -> str:
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
