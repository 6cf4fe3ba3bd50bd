"""Load canonical tables through DuckDB, validate them, quarantine the rejects.

Every source (CSV, Parquet, a DuckDB database or query, an in-memory
DataFrame) is registered in DuckDB, mapped onto a canonical table of
:mod:`cxlab.schema` by its :class:`cxlab.config.Mapping`, and checked by one
vectorized SQL statement that gives every row the list of rules it breaks.
Rows that break no rule are *accepted*; the others are *quarantined* with
their reason, never silently dropped, so that for every table

    rows_read = rows_accepted + rows_quarantined

holds overall and per reason (each row is counted once, under its first
reason). File-level problems (missing file, empty file, wrong delimiter,
wrong encoding, an Excel workbook, missing columns) raise
:class:`cxlab.errors.SourceError` naming the file.
"""

from __future__ import annotations

import codecs
import datetime as dt
import difflib
import functools
import glob as _glob
import hashlib
import json
import os
import re
import sys
import tempfile
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..config import Mapping, RunConfig, Source, default_config, load_config
from ..errors import CxlabError, SourceError
from ..schema import CX_SCALES, TABLES, Column, Table
from ..schema import table as _schema_table

__all__ = ["LoadResult", "Dataset", "load_table", "load_dataset", "validate_command"]

# internal bookkeeping columns (never shown to users)
_ROW = "__cx_row"  # 1-based data row number within its file
_REASON = "__cx_reason"  # first rule broken (null = accepted)
_REASONS = "__cx_reasons"  # every rule broken, joined with "; "
_ORD = "__cx_ord"  # global source order (file, row)
_FILE = "__cx_file"  # index (0-based) of the file the row came from, in _Raw.files

#: tokens (any case, after trimming) read as missing values in every column but free text
_NULL_TOKENS = ("", "null", "nan", "na", "n/a", "none")
_FREE_TEXT = {"comment", "label"}
_TRUE = ("true", "t", "yes", "y", "1", "1.0")
_FALSE = ("false", "f", "no", "n", "0", "0.0")
#: a time of day followed by a UTC designator or offset: the value is time-zone aware
_AWARE_RE = r"\d:\d{2}(:\d{2}(\.\d+)?)?\s*([Zz]|UTC|[+-]\d{2}(:?\d{2})?)$"
_HMS_RE = r"^(-)?(?:(\d+):)?(\d+):(\d{1,2}(?:\.\d+)?)$"
#: built-in values for absent optional columns (a mapping's defaults win)
_BUILTIN_DEFAULTS = {("interactions", "direction"): "inbound"}
#: durations that may be null (read as 0) on abandoned contacts
_ZERO_IF_ABANDONED = ("talk_s", "hold_s", "acw_s")
_DURATION_FACTORS = {"s": 1.0, "ms": 0.001, "min": 60.0}
_NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                  "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "REAL")
_DUCKDB_ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "latin-1": "latin-1", "latin1": "latin-1",
                     "iso-8859-1": "latin-1", "iso8859-1": "latin-1", "l1": "latin-1",
                     "utf-16": "utf-16", "utf16": "utf-16"}
#: the date column used by :meth:`Dataset.window` and :meth:`Dataset.summary`
_WINDOW_COLUMN = {"interactions": "arrived_at", "surveys": "responded_at", "staffing": "interval_start",
                  "agent_scores": "scored_at", "series": "date", "events": "start"}

# reasons given by the cross-table checks of load_dataset
REASON_UNKNOWN_INTERACTION = "survey links to an unknown interaction"
REASON_QUARANTINED_INTERACTION = "survey links to a quarantined interaction"
REASON_BEFORE_CONTACT = "survey responded before its contact arrived"


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class LoadResult:
    """One loaded canonical table.

    Attributes
    ----------
    table : str
        Canonical table name.
    source : str
        The file, glob, query or ``"<DataFrame>"`` it came from.
    accepted : pandas.DataFrame
        Rows that passed every rule: the canonical columns in schema order
        with canonical dtypes, then the source's extra columns.
    quarantined : pandas.DataFrame
        Rows that failed: the source's columns as text (source names), then
        ``source_row`` (1-based data row within its file, header not counted),
        ``source_file`` (only when the source matched several files),
        ``reason`` (the first rule broken, the one counted) and
        ``all_reasons`` (every rule broken, joined with ``"; "``).
    rows_read : int
        Data rows in the source.
    counts : pandas.DataFrame
        ``table, reason, rows``: one line ``"ok"`` (accepted rows) and one per
        quarantine reason; ``rows`` sums to ``rows_read``.
    files : tuple of str
        The files read (empty for DataFrames and queries).
    """

    table: str
    source: str
    accepted: pd.DataFrame
    quarantined: pd.DataFrame
    rows_read: int
    counts: pd.DataFrame
    files: tuple[str, ...] = ()

    @property
    def rows_accepted(self) -> int:
        return len(self.accepted)

    @property
    def rows_quarantined(self) -> int:
        return len(self.quarantined)


@dataclass(frozen=True)
class Dataset:
    """The validated canonical tables of a run.

    Attributes
    ----------
    tables : dict of str to pandas.DataFrame
        Accepted rows per canonical table (only the tables that were loaded).
    accounting : pandas.DataFrame
        ``table, source, rows_read, rows_accepted, rows_quarantined, reason,
        rows``: per table one ``"ok"`` line (``rows`` = accepted) and one line
        per quarantine reason; per table ``rows`` sums to ``rows_read``.
    source_hashes : dict of str to str
        sha256 of every input file (key: the file path); for the sample, the
        key ``"sample"`` holds the hash of its parameters.
    quarantine : dict of str to pandas.DataFrame
        Quarantined rows per table (see :class:`LoadResult`).
    timezone : str
        The run's time zone (the default of :meth:`window`).
    """

    tables: dict[str, pd.DataFrame]
    accounting: pd.DataFrame
    source_hashes: dict[str, str]
    quarantine: dict[str, pd.DataFrame]
    timezone: str = "UTC"

    def window(self, start, end, timezone: str | None = None) -> Dataset:
        """Cut the tables to the local calendar dates ``start``..``end`` (inclusive).

        Parameters
        ----------
        start, end : date-like
            First and last local day of the window.
        timezone : str, optional
            Time zone defining local days (default: the dataset's).

        Returns
        -------
        Dataset
            Same accounting, hashes and quarantine; ``tables`` cut as follows:
            interactions by the local date of ``arrived_at``, surveys of
            ``responded_at``, staffing of ``interval_start``, agent_scores of
            ``scored_at``, series by ``date``; events overlapping the window
            are kept; agents, customers, customer_revenue and any other table
            are kept whole.
        """
        tz = timezone or self.timezone
        start_d, end_d = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
        if end_d < start_d:
            raise ValueError(f"window end ({end_d.date()}) is before its start ({start_d.date()})")
        lo = _local_midnight(start_d, tz)
        hi = _local_midnight(end_d + pd.Timedelta(days=1), tz)
        out = {}
        for name, df in self.tables.items():
            col = _WINDOW_COLUMN.get(name)
            if col is None or col not in df.columns:
                out[name] = df
                continue
            if name == "events":
                mask = (df["start"] < hi) & (df["end"].isna() | (df["end"] >= lo))
            elif name == "series":
                mask = (df[col] >= start_d) & (df[col] <= end_d)
            else:
                mask = (df[col] >= lo) & (df[col] < hi)
            out[name] = df.loc[mask.fillna(False).to_numpy()].reset_index(drop=True)
        return replace(self, tables=out)

    def summary(self) -> pd.DataFrame:
        """Per table: rows read / accepted / quarantined, dates and distinct queues and agents.

        Returns
        -------
        pandas.DataFrame
            ``table, source, rows_read, rows_accepted, rows_quarantined, rows``
            (rows now in ``tables``, after any :meth:`window`), ``date_min,
            date_max`` (local dates of the table's time column, in the
            dataset's time zone), ``queues, agents`` (distinct values, where
            the table has the column).
        """
        acc = self.accounting.drop_duplicates("table").set_index("table")
        rows = []
        for name, df in self.tables.items():
            col = _WINDOW_COLUMN.get(name)
            dmin = dmax = None
            if col in df.columns and len(df):
                s = df[col]
                if isinstance(s.dtype, pd.DatetimeTZDtype):
                    s = s.dt.tz_convert(self.timezone)
                dmin, dmax = s.min(), s.max()
                dmin = None if pd.isna(dmin) else dmin.date()
                dmax = None if pd.isna(dmax) else dmax.date()
            line = acc.loc[name] if name in acc.index else None
            rows.append({
                "table": name,
                "source": line["source"] if line is not None else "",
                "rows_read": int(line["rows_read"]) if line is not None else len(df),
                "rows_accepted": int(line["rows_accepted"]) if line is not None else len(df),
                "rows_quarantined": int(line["rows_quarantined"]) if line is not None else 0,
                "rows": len(df),
                "date_min": dmin,
                "date_max": dmax,
                "queues": int(df["queue"].nunique()) if "queue" in df.columns else None,
                "agents": int(df["agent_id"].nunique()) if "agent_id" in df.columns else None,
            })
        out = pd.DataFrame(rows, columns=["table", "source", "rows_read", "rows_accepted", "rows_quarantined",
                                          "rows", "date_min", "date_max", "queues", "agents"])
        for c in ("queues", "agents"):
            out[c] = out[c].astype("Int64")
        return out


def _local_midnight(day: pd.Timestamp, tz: str) -> pd.Timestamp:
    return day.tz_localize(tz, nonexistent="shift_forward", ambiguous=True).tz_convert("UTC")


# --------------------------------------------------------------------------- public API


def load_table(source, table: str, *, timezone: str = "UTC", quarantine_dir=None,
               con: duckdb.DuckDBPyConnection | None = None, mapping: Mapping | None = None) -> LoadResult:
    """Load one source as a canonical table, validate it and quarantine the failing rows.

    Parameters
    ----------
    source : cxlab.config.Source, str, path-like or pandas.DataFrame
        Where the table comes from. A string or path means
        ``Source(path=...)``: a CSV or Parquet file or glob, or a ``.duckdb``
        database. A DataFrame is read as is (used for the sample and tests).
    table : str
        Canonical table name (see :data:`cxlab.schema.TABLES`).
    timezone : str, default "UTC"
        Time zone of naive timestamps when the source's mapping has none.
    quarantine_dir : path-like, optional
        If given, the quarantined rows are written to
        ``<quarantine_dir>/<table>.parquet`` (always, possibly empty).
    con : duckdb.DuckDBPyConnection, optional
        Connection to work in (default: a private in-memory one). Its
        ``TimeZone`` (UTC) and ``arrow_large_buffer_size`` settings are
        changed while loading and restored after; temporary views and
        tables (``_cx_*``) are dropped.
    mapping : cxlab.config.Mapping, optional
        Mapping for a DataFrame or path source (a :class:`Source` carries its own).

    Returns
    -------
    LoadResult
        ``accepted`` (canonical columns, canonical dtypes: timestamps
        ``datetime64[ns, UTC]``, dates ``datetime64[ns]`` (midnight), ids
        ``str``, flags ``bool`` (nullable ``boolean`` when a value is
        missing), numbers ``float64``; absent
        optional columns as nulls; extra source columns kept after the
        canonical ones), ``quarantined`` (raw text + ``source_row``,
        ``reason``, ``all_reasons``), ``rows_read`` and ``counts``.

    Raises
    ------
    cxlab.errors.SourceError
        File-level problems, naming the file: missing or unreadable file, a
        glob matching nothing, an empty (0-byte) file, a header without data
        rows, a single column that looks like the wrong delimiter, a file
        that is not UTF-8 (hint: set ``encoding``), an Excel workbook given
        as CSV, missing required columns (with "did you mean" hints),
        two source columns mapped to the same canonical column.

    Notes
    -----
    Mapping, in order: ``rename`` (source -> canonical), then ``values``
    (exact match on the trimmed text, e.g. ``{'Y': True}``), then the
    type coercion below. Empty text is a missing value. CSV text is
    trimmed, and the tokens ``NULL, NaN, NA, N/A, None`` (any case) are
    missing values too (except in free text: ``comment``, ``label``);
    text from typed sources (Parquet, DuckDB, DataFrames) is taken as is. Absent optional columns take
    ``mapping.defaults`` (``direction`` defaults to ``'inbound'``) or null.
    Timestamps: ISO 8601 or ``mapping.timestamp_format`` (strptime);
    naive values are local times in ``mapping.timezone`` (else
    ``timezone``), values with an offset or ``Z`` are converted to UTC.
    Durations (``*_s`` columns) are in ``mapping.duration_unit`` (``s``,
    ``ms``, ``min`` or ``hms`` = ``'H:MM:SS'`` / ``'MM:SS'`` text), with
    ``mapping.duration_units`` per-column overrides. Booleans accept
    ``true/false, t/f, yes/no, y/n, 1/0`` (any case) after the value map.
    CSV files must have a header line; every field is read as text
    (``all_varchar``) so that each coercion is an explicit, reportable
    step; the delimiter is sniffed unless ``Source.delimiter`` is set.
    ``Source.encoding`` ``utf-8``, ``latin-1`` and ``utf-16`` are read by
    DuckDB directly; other encodings (e.g. ``cp1252``) are transcoded to
    UTF-8 first. ``source_row`` numbers data rows from 1 within each file
    (the header is not counted).

    Every rule is one SQL expression; a row's ``all_reasons`` lists every
    rule it breaks, in the order below, and ``reason`` is the first of them
    (the one counted in ``counts``). ``<col>`` is the canonical column.

    ==========================================  ==================================================
    rule                                        reason
    ==========================================  ==================================================
    non-nullable column is null                 ``<col>: missing value``
    text does not parse as the column's type    ``<col>: unparseable timestamp`` / ``number`` /
                                                ``boolean`` / ``date`` / ``duration``
                                                (``nan``/``inf`` are unparseable numbers)
    file mixes naive and offset timestamps      ``<col>: aware timestamp among naive ones (mixed
    (the minority kind is quarantined; on a     time zones)`` / ``<col>: naive timestamp among
    tie, the naive rows)                        aware ones (mixed time zones)``
    local time repeated by a DST fall-back      ``<col>: ambiguous local time (DST)``
    local time skipped by a DST spring-forward  ``<col>: non-existent local time (DST)``
    duration below 0                            ``<col>: negative duration``
    other number outside its range              ``<col>: out of range [low, high]`` /
                                                ``<col>: below low`` / ``<col>: negative value``
    csat / nps / ces not a whole number         ``<col>: not an integer``
    categorical value not allowed               ``<col>: not one of a, b, c``
    abandoned contact with an agent_id          ``abandoned contact with an agent``
    abandoned contact with talk_s > 0           ``abandoned contact with talk time``
    answered contact without an agent_id        ``answered contact without an agent``
    survey with none of csat, nps, ces          ``survey has no score (csat, nps, ces)``
    event ending before it starts               ``event ends before it starts``
    customer churned before first seen          ``churned before first seen``
    key already seen in an earlier source row   ``duplicate interaction_id`` (``duplicate
                                                response_id``, ``duplicate key (a, b)``)
    ==========================================  ==================================================

    Decisions: ``wait_s`` must be present; ``talk_s``, ``hold_s`` and
    ``acw_s`` of an *abandoned* contact may be null and are then read as 0
    (for answered contacts null is ``missing value``). CX scores must be
    whole numbers on their scale (csat 1-5, nps 0-10, ces 1-7). Duplicates
    are found among all rows, whatever their other reasons: the first
    occurrence by source order (file, then row) keeps the key. Ragged CSV
    lines (a different number of fields) are a file-level error from
    DuckDB's reader.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"agent_id": ["a1", "a2", "a3"],
    ...                     "hire_date": ["2024-01-15", "2024-13-01", "2024-02-01"],
    ...                     "team": ["north", "south", "south"]})
    >>> res = load_table(raw, "agents")
    >>> res.accepted[["agent_id", "team"]]
      agent_id   team
    0       a1  north
    1       a3  south
    >>> res.quarantined[["source_row", "reason"]]
       source_row                      reason
    0           2  hire_date: unparseable date
    >>> res.rows_read == len(res.accepted) + len(res.quarantined)
    True
    """
    spec = _schema_table(table)
    src = _as_source(source, mapping)
    own = con is None
    con = duckdb.connect() if own else con
    try:
        with _utc_session(con):
            stage = _stage(con, src, spec, timezone=timezone)
    finally:
        if own:
            con.close()
    result = _collect(stage)
    if quarantine_dir is not None:
        _write_quarantine(result.quarantined, quarantine_dir, table)
    return result


def load_dataset(config: RunConfig | None = None, *, quarantine_dir=None) -> Dataset:
    """Load, validate and cross-check every table of a run.

    Parameters
    ----------
    config : cxlab.config.RunConfig, optional
        The run config (default: :func:`cxlab.config.default_config`, the
        embedded sample). With ``config.sources`` None the tables come from
        :func:`cxlab.sample.load_sample` (seed, days and contacts per day
        from ``config.sample``); otherwise each configured source is loaded
        (relative paths resolved against the config's folder).
    quarantine_dir : path-like, optional
        Folder for ``<table>.parquet`` quarantine files (default:
        ``config.quarantine_dir``; none written when both are unset).

    Returns
    -------
    Dataset

    Raises
    ------
    cxlab.errors.SourceError
        A file-level problem in any source (see :func:`load_table`).

    Notes
    -----
    Each table passes :func:`load_table`'s rules (the sample too: its
    DataFrames are registered in DuckDB and validated the same way). Then,
    on the accepted rows, in SQL:

    ===============================================  ===============================================
    rule                                             reason (surveys)
    ===============================================  ===============================================
    interaction_id set but absent from the source    ``survey links to an unknown interaction``
    interaction_id only on quarantined rows          ``survey links to a quarantined interaction``
    responded_at before the contact's arrived_at     ``survey responded before its contact arrived``
    ===============================================  ===============================================

    agents / agent_scores referring to unknown agents are *not*
    quarantined; :mod:`cxlab.enrich` reports coverage. DataFrames in the
    sample dict that are not canonical tables are passed through unchanged.

    Examples
    --------
    >>> ds = load_dataset(default_config(sample={"days": 7, "contacts_per_day": 50}))  # doctest: +SKIP
    >>> ds.summary()[["table", "rows_read", "rows_accepted", "rows_quarantined"]]  # doctest: +SKIP
    """
    config = config if config is not None else default_config()
    if quarantine_dir is None and config.quarantine_dir:
        quarantine_dir = config.resolve(config.quarantine_dir)
    tz = config.timezone
    stages: dict[str, _Stage] = {}
    passthrough: dict[str, pd.DataFrame] = {}
    hashes: dict[str, str] = {}
    con = duckdb.connect()
    linked = {"surveys"}  # tables whose rows cross-table checks may still quarantine
    try:
        with _utc_session(con):
            if config.sources is None:
                from ..sample import load_sample

                params = {"seed": config.sample.seed, "days": config.sample.days,
                          "contacts_per_day": config.sample.contacts_per_day}
                frames = load_sample(**params)
                hashes["sample"] = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
                for name, df in frames.items():
                    if name in TABLES and isinstance(df, pd.DataFrame):
                        stages[name] = _stage(con, _FrameSource(df, Mapping(), label="sample"), TABLES[name],
                                              timezone=tz, raw_text_all=name in linked)
                    else:
                        passthrough[name] = df
            else:
                for name, src in config.sources.items():
                    if src.path:
                        src = src.model_copy(update={"path": config.resolve(src.path)})
                    stages[name] = _stage(con, src, TABLES[name], timezone=tz, raw_text_all=name in linked)
                    for f in stages[name].files:
                        hashes[f] = _sha256(f)
                    if not stages[name].files and src.query:
                        hashes[f"{name}:query"] = hashlib.sha256(src.query.encode()).hexdigest()
            _cross_checks(con, stages)
    finally:
        con.close()
    results = {name: _collect(st) for name, st in stages.items()}
    if quarantine_dir is not None:
        for name, res in results.items():
            _write_quarantine(res.quarantined, quarantine_dir, name)
    tables = {name: res.accepted for name, res in results.items()}
    tables.update(passthrough)
    accounting = _accounting(results.values())
    return Dataset(tables=tables, accounting=accounting, source_hashes=hashes,
                   quarantine={name: res.quarantined for name, res in results.items()}, timezone=tz)


def validate_command(config_path) -> int:
    """Body of ``cxlab validate CONFIG``: load and validate the sources, print the accounting.

    Parameters
    ----------
    config_path : path-like
        The run config YAML (``""`` = the embedded sample).

    Returns
    -------
    int
        0 when every source could be read (rows may still be quarantined:
        see the printed accounting), 1 on a file-level error in a source,
        2 when the config itself is invalid. Errors are printed to stderr.

    Notes
    -----
    Prints the per-table summary (:meth:`Dataset.summary`) and the
    quarantined rows by table and reason. Quarantine files are written only
    when the config sets ``quarantine_dir``.

    Examples
    --------
    >>> validate_command("my_config.yaml")  # doctest: +SKIP
    """
    try:
        config = load_config(config_path or None)
    except CxlabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        ds = load_dataset(config)
    except (SourceError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    summary = ds.summary().drop(columns=["rows"])
    print(f"cxlab validate: {config_path or 'embedded sample'} (time zone {config.timezone})")
    print()
    print("Tables")
    print(summary.to_string(index=False))
    print()
    bad = ds.accounting[ds.accounting["reason"] != "ok"][["table", "reason", "rows"]]
    if bad.empty:
        print("No rows quarantined.")
    else:
        print("Quarantined rows by reason (each row counted once, under its first reason)")
        print(bad.to_string(index=False))
    if config.quarantine_dir:
        print()
        print(f"Quarantine files: {config.resolve(config.quarantine_dir)}")
    return 0


# --------------------------------------------------------------------------- sources


@dataclass
class _FrameSource:
    frame: pd.DataFrame
    mapping: Mapping
    label: str = "<DataFrame>"


def _as_source(source, mapping: Mapping | None):
    if isinstance(source, pd.DataFrame):
        return _FrameSource(source, mapping or Mapping())
    if isinstance(source, _FrameSource):
        return source
    if isinstance(source, Source):
        if mapping is not None:
            source = source.model_copy(update={"mapping": mapping})
        return source
    if isinstance(source, (str, os.PathLike)):
        return Source(path=str(source), mapping=mapping or Mapping())
    raise TypeError(f"source must be a cxlab.config.Source, a path or a DataFrame; got {type(source).__name__}")


@dataclass
class _Raw:
    """A source registered in DuckDB as the view ``name`` (+ bookkeeping columns)."""

    name: str
    label: str
    files: list[str]
    columns: list[str]
    types: dict[str, str]
    kind: str
    objects: list[tuple[str, str]] = field(default_factory=list)  # (kind, name) to drop

    @property
    def multi_file(self) -> bool:
        return len(self.files) > 1


@dataclass
class _Stage:
    """A validated table (Arrow, with reasons) waiting for cross-table checks and collection."""

    spec: Table
    label: str
    files: list[str]
    raw_columns: list[str]
    multi_file: bool
    extras: list[str]
    tbl: pa.Table


def _drop(con, kind: str, name: str) -> None:
    try:
        if kind == "FRAME":
            con.unregister(name)
        else:
            _exec(con, f"DROP {kind} IF EXISTS {name}")
    except duckdb.Error:
        pass


def _q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _files_for(src: Source, table: str) -> list[str]:
    path = src.path
    if any(ch in path for ch in "*?["):
        files = sorted(_glob.glob(os.path.expanduser(path), recursive=True))
        files = [f for f in files if os.path.isfile(f)]
        if not files:
            raise SourceError(f"glob matched no files: {path!r}", path=path, table=table)
        return files
    p = Path(path).expanduser()
    if not p.exists():
        raise SourceError("file not found", path=path, table=table)
    if not p.is_file():
        raise SourceError("not a file (give a file, a glob such as 'dir/*.csv', or a database)",
                          path=path, table=table)
    if not os.access(p, os.R_OK):
        raise SourceError("file is not readable (permission denied)", path=path, table=table)
    return [str(p)]


def _detect_format(src: Source, files: list[str]) -> str:
    if src.format != "auto":
        return src.format
    name = files[0].lower()
    for ext in (".xlsx", ".xlsm", ".xls"):
        if name.endswith(ext):
            return "csv"  # reported as an Excel workbook by the magic-byte check
    if name.endswith((".parquet", ".pq", ".parq")):
        return "parquet"
    if name.endswith((".duckdb", ".ddb", ".db")):
        return "duckdb"
    if name.endswith((".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz")):
        return "csv"
    with open(files[0], "rb") as fh:
        head = fh.read(16)
    if head[:4] == b"PAR1":
        return "parquet"
    if head[8:12] == b"DUCK":
        return "duckdb"
    return "csv"


def _check_text_file(path: str, table: str) -> None:
    size = os.path.getsize(path)
    if size == 0:
        raise SourceError("file is empty (0 bytes)", path=path, table=table)
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head[:4] == b"PK\x03\x04":
        raise SourceError("this is an Excel workbook (.xlsx, a zip archive), not a CSV file; "
                          "save the sheet as CSV (or Parquet) and point the source at that file",
                          path=path, table=table)
    if head == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise SourceError("this is a legacy Excel workbook (.xls, an OLE file), not a CSV file; "
                          "save the sheet as CSV (or Parquet) and point the source at that file",
                          path=path, table=table)


def _open_raw(con, src, table: str) -> _Raw:
    tag = uuid.uuid4().hex[:10]
    name = f"_cx_raw_{table}_{tag}"
    if isinstance(src, _FrameSource):
        df = src.frame
        df = df.set_axis([str(c) for c in df.columns], axis=1)
        df = df.assign(**{_ROW: range(1, len(df) + 1)})
        fname = f"_cx_df_{table}_{tag}"
        con.register(fname, df)
        _exec(con, f"CREATE TEMP VIEW {name} AS SELECT *, {_ROW} AS {_ORD}, 0 AS {_FILE} "
                    f"FROM {fname}")
        return _finish_raw(con, name, src.label, [], "frame", [("FRAME", fname), ("VIEW", name)])

    label = src.path or f"query: {src.query}"
    if not src.path:  # a query on the connection
        t0 = f"_cx_t0_{table}_{tag}"
        _run(con, f"CREATE TEMP TABLE {t0} AS {src.query}", label, table, "query failed")
        _exec(con, f"CREATE TEMP VIEW {name} AS SELECT *, rowid + 1 AS {_ROW}, rowid AS {_ORD}, "
                    f"0 AS {_FILE} FROM {t0}")
        return _finish_raw(con, name, label, [], "query", [("TABLE", t0), ("VIEW", name)])

    files = _files_for(src, table)
    fmt = _detect_format(src, files)
    file_list = "[" + ", ".join(_lit(f) for f in files) + "]"
    if fmt == "csv":
        for f in files:
            _check_text_file(f, table)
        files_read = _transcode(files, src.encoding, tag) if _needs_transcode(src.encoding) else files
        read_list = "[" + ", ".join(_lit(f) for f in files_read) + "]"
        opts = ["all_varchar=true", "header=true"]
        if len(files) > 1:
            opts += ["union_by_name=true", f"filename={_lit(_FILE)}"]
        if src.delimiter:
            opts.append(f"delim={_lit(src.delimiter)}")
        if src.encoding and not _needs_transcode(src.encoding):
            opts.append(f"encoding={_lit(_DUCKDB_ENCODINGS[src.encoding.lower()])}")
        t0 = f"_cx_t0_{table}_{tag}"
        objects = [("TABLE", t0)]
        try:
            _exec(con, f"CREATE TEMP TABLE {t0} AS SELECT * FROM read_csv({read_list}, {', '.join(opts)})")
        except duckdb.Error as exc:
            raise _csv_error(exc, label, table) from None
        finally:
            if files_read is not files:
                for f in files_read:
                    Path(f).unlink(missing_ok=True)
        if len(files) > 1:
            bases = dict(_exec(con, f"SELECT {_FILE}, min(rowid) FROM {t0} GROUP BY 1"))
            index = " ".join(f"WHEN {_lit(f)} THEN {k}" for k, f in enumerate(files_read))
            base = " ".join(f"WHEN {_lit(f)} THEN {int(bases.get(f, 0))}" for f in files_read)
            view = (f"SELECT * EXCLUDE ({_FILE}), rowid + 1 - CASE {_FILE} {base} END AS {_ROW}, "
                    f"rowid AS {_ORD}, CASE {_FILE} {index} END AS {_FILE} FROM {t0}")
        else:
            view = f"SELECT *, rowid + 1 AS {_ROW}, rowid AS {_ORD}, 0 AS {_FILE} FROM {t0}"
        _exec(con, f"CREATE TEMP VIEW {name} AS {view}")
        objects.append(("VIEW", name))
        raw = _finish_raw(con, name, label, files, "csv", objects)
        _check_delimiter(raw, table)
        return raw
    if fmt == "parquet":
        if len(files) > 1:
            fidx = f"(list_position({file_list}, filename) - 1)"
            sql = (f"CREATE TEMP VIEW {name} AS SELECT * EXCLUDE (file_row_number, filename), "
                   f"file_row_number + 1 AS {_ROW}, ({fidx}::BIGINT << 40) + file_row_number AS {_ORD}, "
                   f"{fidx} AS {_FILE} FROM read_parquet({file_list}, file_row_number=true, filename=true, "
                   f"union_by_name=true)")
        else:
            sql = (f"CREATE TEMP VIEW {name} AS SELECT * EXCLUDE (file_row_number), "
                   f"file_row_number + 1 AS {_ROW}, file_row_number AS {_ORD}, 0 AS {_FILE} "
                   f"FROM read_parquet({file_list}, file_row_number=true)")
        _run(con, sql, label, table, "cannot read Parquet")
        return _finish_raw(con, name, label, files, "parquet", [("VIEW", name)])
    if fmt == "duckdb":
        return _open_duckdb(con, src, files[0], table, name, tag)
    raise SourceError(f"unknown format {fmt!r}", path=label, table=table)


def _open_duckdb(con, src: Source, path: str, table: str, name: str, tag: str) -> _Raw:
    alias = f"_cx_db_{tag}"
    t0 = f"_cx_t0_{table}_{tag}"
    _run(con, f"ATTACH {_lit(path)} AS {alias} (READ_ONLY)", path, table, "cannot open DuckDB database")
    try:
        if src.query:
            current = _exec(con, "SELECT current_database()")[0][0]
            _exec(con, f"USE {alias}")
            try:
                _run(con, f"CREATE TEMP TABLE {t0} AS {src.query}", path, table, "query failed")
            finally:
                _exec(con, f"USE {_q(current)}")
        else:
            tables = [r[0] for r in _exec(
        con,
                "SELECT table_name FROM duckdb_tables() WHERE database_name = ? UNION "
                "SELECT view_name FROM duckdb_views() WHERE database_name = ? AND NOT internal",
                [alias, alias])]
            wanted = src.table or (table if table in tables else (tables[0] if len(tables) == 1 else None))
            if wanted is None or wanted not in tables:
                hint = f"table {wanted!r} not found; " if wanted else "set 'table' or 'query'; "
                raise SourceError(f"{hint}the database holds {sorted(tables)}", path=path, table=table)
            _exec(con, f"CREATE TEMP TABLE {t0} AS SELECT * FROM {alias}.{_q(wanted)}")
    finally:
        _exec(con, f"DETACH {alias}")
    _exec(con, f"CREATE TEMP VIEW {name} AS SELECT *, rowid + 1 AS {_ROW}, rowid AS {_ORD}, "
                f"0 AS {_FILE} FROM {t0}")
    label = path if not src.query else f"{path} (query)"
    return _finish_raw(con, name, label, [path], "duckdb", [("TABLE", t0), ("VIEW", name)])


def _exec(con, sql: str, params=None) -> list:
    """Execute ``sql`` and fetch every row (DuckDB requires a drained result before the next statement)."""
    return con.execute(sql, params).fetchall() if params is not None else con.execute(sql).fetchall()


def _run(con, sql: str, label: str, table: str, what: str) -> None:
    try:
        _exec(con, sql)
    except duckdb.Error as exc:
        raise SourceError(f"{what}: {_first_line(exc)}", path=label, table=table) from None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _csv_error(exc: duckdb.Error, label: str, table: str) -> SourceError:
    msg = str(exc)
    if "not utf-8 encoded" in msg.lower() or "invalid unicode" in msg.lower():
        line = re.search(r"Line: (\d+)", msg)
        where = f" (first bad bytes near line {line.group(1)})" if line else ""
        return SourceError(
            f"file is not valid UTF-8{where}; exports from Excel or Windows are usually latin-1 "
            "(cp1252): set `encoding: latin-1` (or the right encoding) on the source",
            path=label, table=table)
    return SourceError(f"cannot read CSV: {_first_line(exc)}", path=label, table=table)


def _needs_transcode(encoding: str | None) -> bool:
    return bool(encoding) and encoding.lower() not in _DUCKDB_ENCODINGS


def _transcode(files: list[str], encoding: str, tag: str) -> list[str]:
    """Re-encode files in an encoding DuckDB cannot read (e.g. cp1252) into temporary UTF-8 files."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise SourceError(f"unknown encoding {encoding!r}", path=files[0]) from None
    out = []
    for i, f in enumerate(files):
        fd, tmp = tempfile.mkstemp(prefix=f"cxlab-{tag}-{i}-", suffix=".csv")
        try:
            with open(f, encoding=encoding, newline="") as src, os.fdopen(fd, "w", encoding="utf-8",
                                                                           newline="") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
        except UnicodeDecodeError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise SourceError(f"cannot decode the file as {encoding}: {exc}", path=f) from None
        out.append(tmp)
    return out


def _finish_raw(con, name, label, files, kind, objects) -> _Raw:
    rel = con.sql(f"SELECT * FROM {name} LIMIT 0")
    internal = {_ROW, _ORD, _FILE}
    cols = [c for c in rel.columns if c not in internal]
    types = {c: str(t) for c, t in zip(rel.columns, rel.dtypes) if c not in internal}
    return _Raw(name=name, label=label, files=files, columns=cols, types=types, kind=kind, objects=objects)


def _check_delimiter(raw: _Raw, table: str) -> None:
    if len(raw.columns) == 1:
        only = raw.columns[0]
        found = [d for d in (";", ",", "\t", "|") if d in only]
        if found:
            shown = {"\t": "\\t"}.get(found[0], found[0])
            raise SourceError(
                f"looks like the wrong delimiter: found 1 column {only!r}; set delimiter "
                f"(e.g. `delimiter: '{shown}'`) on the source", path=raw.label, table=table)


# --------------------------------------------------------------------------- validation


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


def _resolve_columns(raw: _Raw, spec: Table, mapping: Mapping):
    """Map canonical columns to source columns; raise on missing required columns."""
    rename = dict(mapping.rename)
    target_of = {c: rename.get(c, c) for c in raw.columns}
    by_target: dict[str, list[str]] = {}
    for s, t in target_of.items():
        by_target.setdefault(t, []).append(s)
    for t, ss in by_target.items():
        if len(ss) > 1 and t in spec.names:
            raise SourceError(f"columns {ss} all map to the canonical column {t!r}; rename or drop one",
                              path=raw.label, table=spec.name)
    present = {t: ss[0] for t, ss in by_target.items() if t in spec.names}
    missing = [c for c in spec.required if c not in present and c not in mapping.defaults]
    if missing:
        raise SourceError(_missing_message(missing, raw, spec, rename, present), path=raw.label,
                          table=spec.name)
    if spec.name == "surveys" and not any(c in present or c in mapping.defaults for c in CX_SCALES):
        raise SourceError(f"surveys need at least one score column of csat, nps, ces; "
                          f"available columns: {raw.columns}", path=raw.label, table=spec.name)
    extras = [(s, target_of[s]) for s in raw.columns if target_of[s] not in spec.names]
    if not spec.extra_ok:
        extras = []
    return present, extras


def _missing_message(missing, raw: _Raw, spec: Table, rename, present) -> str:
    unmapped = [c for c in raw.columns if rename.get(c, c) not in spec.names]
    hints = []
    for m in missing:
        renamed_from = [s for s, t in rename.items() if t == m and s not in raw.columns]
        if renamed_from:
            hints.append(f"mapping.rename maps {renamed_from[0]!r} to {m!r} but the source has no column "
                         f"{renamed_from[0]!r}")
        exact = [c for c in unmapped if _norm(c) == _norm(m)]
        close = exact or [
            c for n in difflib.get_close_matches(_norm(m), [_norm(c) for c in unmapped], n=1, cutoff=0.6)
            for c in unmapped if _norm(c) == n
        ][:1]
        if close:
            hints.append(f"did you mean {m!r} for {close[0]!r}? (add mapping.rename: {{{close[0]}: {m}}})")
    cols = ", ".join(repr(c) for c in missing)
    msg = (f"missing required column{'s' if len(missing) > 1 else ''} {cols}; "
           f"available columns: {raw.columns}")
    return msg + ("; " + "; ".join(hints) if hints else "")


def _one_of(expr: str, values) -> str:
    """``expr = a OR expr = b ...``: DuckDB plans a constant IN list as a (slow) mark join."""
    return "(" + " OR ".join(f"{expr} = {_lit(v)}" for v in values) + ")"


def _text_value(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _input_expr(col: Column, src_col: str | None, raw: _Raw, mapping: Mapping, spec: Table):
    """SQL for a canonical column's input and its kind: 'text', the DuckDB type, or 'null'."""
    if src_col is None:
        default = mapping.defaults.get(col.name, _BUILTIN_DEFAULTS.get((spec.name, col.name)))
        if default is None:
            return "NULL", "null"
        return _lit(_text_value(default)), "text"
    ref = _q(src_col)
    typ = raw.types[src_col]
    vmap = mapping.values.get(col.name)
    if vmap:
        text = f"trim(CAST({ref} AS VARCHAR))"
        whens = " ".join(
            f"WHEN {_lit(_text_value(k))} THEN {('NULL' if v is None else _lit(_text_value(v)))}"
            for k, v in vmap.items() if k is not None)
        expr = f"CASE {text} {whens} ELSE {text} END"
        typ = "VARCHAR"
    elif typ == "VARCHAR" and raw.kind == "csv":
        expr = f"trim({ref})"
    elif typ == "VARCHAR":  # typed sources: text is taken as is (CSV text is trimmed)
        return f"NULLIF({ref}, '')", "text"
    else:
        return ref, typ
    if col.name in _FREE_TEXT or raw.kind != "csv":
        return f"NULLIF({expr}, '')", "text"
    return (f"(CASE WHEN strlen({expr}) <= 4 AND {_one_of(f'lower({expr})', [t for t in _NULL_TOKENS if t])} "
            f"THEN NULL ELSE NULLIF({expr}, '') END)"), "text"


def _is_duration(col: Column) -> bool:
    return col.dtype == "DOUBLE" and col.name.endswith("_s")


@functools.lru_cache(maxsize=32)
def _dst_dates(tz: str, first: int = 1970, last: int = 2069) -> tuple[str, ...]:
    """Local dates within a day of a UTC-offset change of ``tz`` (a superset; the SQL check is exact)."""
    zone = ZoneInfo(tz)
    utc = dt.UTC
    start = dt.datetime(first - 1, 12, 31, 12, tzinfo=utc)
    days = (dt.date(last + 1, 1, 2) - start.date()).days
    out: set[dt.date] = set()
    prev = start.astimezone(zone).utcoffset()
    for i in range(1, days):
        t = start + dt.timedelta(days=i)
        off = t.astimezone(zone).utcoffset()
        if off != prev:
            d = t.date()
            out.update(d + dt.timedelta(days=k) for k in (-2, -1, 0, 1))
        prev = off
    return tuple(sorted(str(d) for d in out))


def _build_checks(con, raw: _Raw, spec: Table, mapping: Mapping, timezone: str, *, raw_text_all: bool = False):
    """Run the validating SELECT; return an Arrow table and the extra column names.

    The Arrow table holds the canonical columns, the extras, the bookkeeping
    columns (``__cx_row``, ``__cx_ord``, ``__cx_file``), ``__cx_reason`` and
    ``__cx_reasons`` (null on accepted rows) and the source row as a list of
    text (``__cx_raw``, filled on quarantined rows, or on every row with
    ``raw_text_all`` so that later cross-table checks can quarantine them).
    """
    present, extras = _resolve_columns(raw, spec, mapping)
    tz = mapping.timezone or timezone
    try:
        ZoneInfo(tz)
    except Exception:
        raise SourceError(f"unknown time zone {tz!r} for naive timestamps", path=raw.label,
                          table=spec.name) from None
    names = spec.names
    # stage a: inputs
    inputs: dict[str, str] = {}
    kinds: dict[str, str] = {}
    for col in spec.columns:
        inputs[col.name], kinds[col.name] = _input_expr(col, present.get(col.name), raw, mapping, spec)
    a_all = ([_ROW, _ORD, _FILE] + [f"{inputs[c]} AS {_q('__cx_i_' + c)}" for c in names]
             + [f"{_q(s)} AS {_q(t)}" for s, t in extras]
             + [f"{_q(s)} AS __cx_src_{k}" for k, s in enumerate(raw.columns)])
    a_sql = f"SELECT {', '.join(a_all)} FROM {raw.name}"

    # pre-pass: rows read, and naive vs aware counts of text timestamps
    ts_text = [c.name for c in spec.columns if c.dtype == "TIMESTAMPTZ" and kinds[c.name] == "text"
               and not mapping.timestamp_format]
    pre = ["count(*)"]
    for c in ts_text:
        i = _q("__cx_i_" + c)
        pre.append(f"count({i}) FILTER (WHERE regexp_matches({i}, {_lit(_AWARE_RE)}))")
        pre.append(f"count({i}) FILTER (WHERE NOT regexp_matches({i}, {_lit(_AWARE_RE)}))")
    pre_sql = (f"WITH a AS NOT MATERIALIZED ({a_sql}) SELECT {', '.join(pre)} FROM a" if ts_text
               else f"SELECT count(*) FROM {raw.name}")
    try:
        counts = _exec(con, pre_sql)[0]
    except duckdb.Error as exc:
        raise SourceError(f"cannot read the source: {_first_line(exc)}", path=raw.label,
                          table=spec.name) from None
    if counts[0] == 0 and raw.kind in ("csv", "parquet"):
        raise SourceError("the file has a header but no data rows (0 rows)", path=raw.label, table=spec.name)
    minority: dict[str, str] = {}
    for k, c in enumerate(ts_text):
        n_aware, n_naive = counts[1 + 2 * k], counts[2 + 2 * k]
        if n_aware and n_naive:
            minority[c] = "aware" if n_aware < n_naive else "naive"

    def _ctes(cols, a_sql: str) -> str:
        """The stages a (inputs) .. d (final values) for the canonical columns ``cols``."""
        col_names = {c.name for c in cols}
        # stage b: parse
        b_cols = []
        for col in cols:
            c, k = col.name, kinds[col.name]
            i = _q("__cx_i_" + c)
            out = _q(c)
            bad = _q("__cx_bad_" + c)
            if col.dtype == "VARCHAR":
                expr = i if k in ("text",) else (f"CAST({i} AS VARCHAR)" if k != "null" else "NULL::VARCHAR")
                b_cols += [f"{expr} AS {out}", f"false AS {bad}"]
            elif col.dtype == "DOUBLE":
                unit = mapping.duration_units.get(c, mapping.duration_unit) if _is_duration(col) else "s"
                if k == "null":
                    b_cols += [f"NULL::DOUBLE AS {out}", f"false AS {bad}"]
                elif k == "text" and unit == "hms":
                    hx = _q("__cx_hx_" + c)
                    b_cols += [f"regexp_extract({i}, {_lit(_HMS_RE)}, ['neg', 'h', 'm', 's']) AS {hx}",
                               f"NULL::DOUBLE AS {out}"]
                elif k == "text":
                    v = f"TRY_CAST({i} AS DOUBLE)"
                    b_cols += [f"{v} * {_DURATION_FACTORS[unit]} AS {out}",
                               f"({i} IS NOT NULL AND NOT coalesce(isfinite({v}), false)) AS {bad}"]
                elif k.split("(")[0] in _NUMERIC_TYPES or k.startswith("DECIMAL"):
                    v = f"CAST({i} AS DOUBLE)"
                    b_cols += [f"(CASE WHEN isnan({v}) THEN NULL ELSE {v} END) * {_DURATION_FACTORS.get(unit, 1.0)} "
                               f"AS {out}", f"coalesce(isinf({v}), false) AS {bad}"]
                else:
                    v = f"TRY_CAST(CAST({i} AS VARCHAR) AS DOUBLE)"
                    b_cols += [f"{v} AS {out}", f"({i} IS NOT NULL AND {v} IS NULL) AS {bad}"]
            elif col.dtype == "BOOLEAN":
                if k == "null":
                    b_cols += [f"NULL::BOOLEAN AS {out}", f"false AS {bad}"]
                elif k == "BOOLEAN":
                    b_cols += [f"{i} AS {out}", f"false AS {bad}"]
                else:
                    t = i if k == "text" else f"CAST({i} AS VARCHAR)"
                    v = (f"(CASE WHEN {_one_of(f'lower({t})', _TRUE)} THEN true "
                         f"WHEN {_one_of(f'lower({t})', _FALSE)} THEN false END)")
                    b_cols += [f"{v} AS {out}", f"({t} IS NOT NULL AND {v} IS NULL) AS {bad}"]
            elif col.dtype == "DATE":
                if k == "null":
                    b_cols += [f"NULL::DATE AS {out}", f"false AS {bad}"]
                elif k == "text":
                    if mapping.date_format:
                        v = f"CAST(try_strptime({i}, {_lit(mapping.date_format)}) AS DATE)"
                    else:
                        v = f"coalesce(TRY_CAST({i} AS DATE), CAST(TRY_CAST({i} AS TIMESTAMP) AS DATE))"
                    b_cols += [f"{v} AS {out}", f"({i} IS NOT NULL AND {v} IS NULL) AS {bad}"]
                else:
                    v = f"TRY_CAST({i} AS DATE)"
                    b_cols += [f"{v} AS {out}", f"({i} IS NOT NULL AND {v} IS NULL) AS {bad}"]
            elif col.dtype == "TIMESTAMPTZ":
                loc, awr, isaw = _q("__cx_l_" + c), _q("__cx_a_" + c), _q("__cx_aw_" + c)
                if k == "null":
                    b_cols += [f"NULL::TIMESTAMP AS {loc}", f"NULL::TIMESTAMPTZ AS {awr}", f"false AS {isaw}",
                               f"false AS {bad}"]
                elif k == "TIMESTAMP WITH TIME ZONE":
                    b_cols += [f"NULL::TIMESTAMP AS {loc}", f"{i} AS {awr}", f"true AS {isaw}", f"false AS {bad}"]
                elif k in ("TIMESTAMP", "DATE") or k.startswith("TIMESTAMP_"):
                    b_cols += [f"CAST({i} AS TIMESTAMP) AS {loc}", f"NULL::TIMESTAMPTZ AS {awr}",
                               f"false AS {isaw}", f"false AS {bad}"]
                else:
                    t = i if k == "text" else f"CAST({i} AS VARCHAR)"
                    fmt = mapping.timestamp_format
                    if fmt and ("%z" in fmt or "%Z" in fmt):
                        v = f"CAST(try_strptime({t}, {_lit(fmt)}) AS TIMESTAMPTZ)"
                        b_cols += [f"NULL::TIMESTAMP AS {loc}", f"{v} AS {awr}", f"true AS {isaw}",
                                   f"({t} IS NOT NULL AND {v} IS NULL) AS {bad}"]
                    elif fmt:
                        v = f"CAST(try_strptime({t}, {_lit(fmt)}) AS TIMESTAMP)"
                        b_cols += [f"{v} AS {loc}", f"NULL::TIMESTAMPTZ AS {awr}", f"false AS {isaw}",
                                   f"({t} IS NOT NULL AND {v} IS NULL) AS {bad}"]
                    else:
                        aw = f"coalesce(regexp_matches({t}, {_lit(_AWARE_RE)}), false)"
                        lv = f"(CASE WHEN NOT {aw} THEN TRY_CAST({t} AS TIMESTAMP) END)"
                        av = f"(CASE WHEN {aw} THEN TRY_CAST({t} AS TIMESTAMPTZ) END)"
                        b_cols += [f"{lv} AS {loc}", f"{av} AS {awr}", f"{aw} AS {isaw}",
                                   f"({t} IS NOT NULL AND {lv} IS NULL AND {av} IS NULL) AS {bad}"]
            else:  # pragma: no cover - schema types are fixed
                raise TypeError(f"unsupported canonical type {col.dtype}")

        # stage c: durations from H:MM:SS, timestamps localized, DST status
        c_replace, c_new = [], []
        dst_dates = _dst_dates(tz) if tz not in ("UTC", "Etc/UTC", "GMT") else ()
        for col in cols:
            c, k = col.name, kinds[col.name]
            out, bad = _q(c), _q("__cx_bad_" + c)
            if col.dtype == "DOUBLE" and k == "text" and _is_duration(col) and \
                    mapping.duration_units.get(c, mapping.duration_unit) == "hms":
                hx, i = _q("__cx_hx_" + c), _q("__cx_i_" + c)
                ok = (f"(regexp_full_match({i}, {_lit(_HMS_RE)}) AND TRY_CAST({hx}.s AS DOUBLE) < 60 "
                      f"AND ({hx}.h = '' OR TRY_CAST({hx}.m AS DOUBLE) < 60))")
                val = (f"(CASE WHEN {hx}.neg = '-' THEN -1 ELSE 1 END) * (coalesce(TRY_CAST(NULLIF({hx}.h, '') "
                       f"AS DOUBLE), 0) * 3600 + TRY_CAST({hx}.m AS DOUBLE) * 60 + TRY_CAST({hx}.s AS DOUBLE))")
                c_replace.append(f"(CASE WHEN {ok} THEN {val} END) AS {out}")
                c_new.append(f"({i} IS NOT NULL AND NOT coalesce({ok}, false)) AS {bad}")
            elif col.dtype == "TIMESTAMPTZ":
                loc, awr, isaw = _q("__cx_l_" + c), _q("__cx_a_" + c), _q("__cx_aw_" + c)
                c_new.append(f"(CASE WHEN {isaw} THEN {awr} ELSE timezone({_lit(tz)}, {loc}) END) AS {out}")
                dst = _q("__cx_dst_" + c)
                if dst_dates and k != "TIMESTAMP WITH TIME ZONE" and k != "null":
                    dates = ", ".join(f"DATE {_lit(d)}" for d in dst_dates)
                    off = {s: (f"(timezone({_lit(tz)}, timezone('UTC', {loc} {s} INTERVAL 1 DAY)) "
                               f"- ({loc} {s} INTERVAL 1 DAY))") for s in ("-", "+")}
                    okk = {s: f"(timezone({_lit(tz)}, timezone('UTC', {loc} - {off[s]})) = {loc})" for s in off}
                    c_new.append(
                        f"(CASE WHEN {loc} IS NOT NULL AND (CAST({loc} AS DATE) IN ({dates}) "
                        f"OR year({loc}) NOT BETWEEN 1970 AND 2069) THEN "
                        f"CASE WHEN {off['-']} = {off['+']} THEN NULL "
                        f"WHEN {okk['-']} AND {okk['+']} THEN 'ambiguous' "
                        f"WHEN NOT {okk['-']} AND NOT {okk['+']} THEN 'nonexistent' END END) AS {dst}")
                else:
                    c_new.append(f"NULL::VARCHAR AS {dst}")
        c_sql = "SELECT * " + (f"REPLACE ({', '.join(c_replace)})" if c_replace else "")
        c_sql += (", " + ", ".join(c_new)) if c_new else ""

        # stage d: null durations of abandoned contacts read as 0
        d_replace = []
        if spec.name == "interactions" and "abandoned" in col_names:
            for c in (c for c in _ZERO_IF_ABANDONED if c in col_names):
                out, bad = _q(c), _q("__cx_bad_" + c)
                d_replace.append(f"(CASE WHEN abandoned AND {out} IS NULL AND NOT {bad} THEN 0.0 "
                                 f"ELSE {out} END) AS {out}")
        d_sql = "SELECT * " + (f"REPLACE ({', '.join(d_replace)})" if d_replace else "")

        # the stages are inlined (NOT MATERIALIZED) so that DuckDB streams them and prunes unused columns
        return (f"a AS NOT MATERIALIZED ({a_sql}), b AS NOT MATERIALIZED (SELECT *, {', '.join(b_cols)} FROM a), "
                f"c AS NOT MATERIALIZED ({c_sql} FROM b), d AS NOT MATERIALIZED ({d_sql} FROM c)")


    ctes = _ctes(spec.columns, a_sql)

    # duplicates: every row whose key was already seen in an earlier source row (one pass over the keys)
    dup_table = None
    if spec.key:
        dup_table = f"_cx_dup_{spec.name}_{uuid.uuid4().hex[:10]}"
        key_cols = [spec.column(k) for k in spec.key]
        a_key = (f"SELECT {_ORD}, " + ", ".join(f"{inputs[k]} AS {_q('__cx_i_' + k)}" for k in spec.key)
                 + f" FROM {raw.name}")
        keys = ", ".join(_q(k) for k in spec.key)
        notnull = " AND ".join(f"{_q(k)} IS NOT NULL" for k in spec.key if not spec.column(k).nullable) or "true"
        _run(con, f"CREATE TEMP TABLE {dup_table} AS WITH {_ctes(key_cols, a_key)}, "
                  f"g AS (SELECT list({_ORD}) AS o FROM d WHERE {notnull} GROUP BY {keys} HAVING count(*) > 1) "
                  f"SELECT unnest(list_filter(o, lambda x: x > list_min(o))) AS {_ORD} FROM g",
             raw.label, spec.name, "cannot validate the source")
    try:
        has_dups = dup_table is not None and _exec(con, f"SELECT count(*) FROM {dup_table}")[0][0] > 0
        # reasons, in rule order
        rules = _rules(spec, kinds, present, mapping, minority)
        if has_dups:
            rules.append((f"{_ORD} IN (SELECT {_ORD} FROM {dup_table})", _key_reason(spec)))
        conds = " OR ".join(f"({cond})" for cond, _ in rules) or "false"
        parts = ", ".join(f"CASE WHEN {cond} THEN {_lit(reason)} END" for cond, reason in rules)
        reasons = f"concat_ws('; ', {parts})" if rules else "NULL::VARCHAR"
        keep = "true" if raw_text_all else "__cx_bad"
        # the source row as text, in one list column (cheaper than a mostly-null column per source column)
        items = ", ".join(f"CAST(__cx_src_{k} AS VARCHAR)" for k in range(len(raw.columns)))
        raw_text = [f"CASE WHEN {keep} THEN [{items}]::VARCHAR[] END AS __cx_raw"]
        final_cols = [_ROW, _ORD, _FILE] + [_q(n) for n in names] + [_q(t) for _, t in extras]
        sql = (f"WITH {ctes}, e AS NOT MATERIALIZED (SELECT *, coalesce({conds}, false) AS __cx_bad FROM d), "
               f"f AS NOT MATERIALIZED (SELECT {', '.join(final_cols)}, CASE WHEN __cx_bad THEN {reasons} END AS __cx_reasons, "
               f"{', '.join(raw_text + ['true AS __cx_end'])} FROM e) "
               f"SELECT * EXCLUDE (__cx_end), split_part(__cx_reasons, '; ', 1) AS __cx_reason FROM f"
               + ("" if _keeps_order(con, raw) else f" ORDER BY {_ORD}"))
        try:
            tbl = _arrow(con.sql(sql))
        except duckdb.Error as exc:
            raise SourceError(f"cannot validate the source: {_first_line(exc)}", path=raw.label,
                              table=spec.name) from None
    finally:
        if dup_table:
            _drop(con, "TABLE", dup_table)
    return tbl, [t for _, t in extras]


def _keeps_order(con, raw: _Raw) -> bool:
    """Whether DuckDB returns this source's rows in source order without a sort."""
    if raw.kind == "parquet" and raw.multi_file:  # files are scanned in parallel
        return False
    return _exec(con, "SELECT current_setting('preserve_insertion_order')")[0][0] in (True, "true")


def _rules(spec: Table, kinds, present, mapping: Mapping, minority) -> list[tuple[str, str]]:
    rules: list[tuple[str, str]] = []
    for col in spec.columns:
        c = col.name
        v, bad = _q(c), _q("__cx_bad_" + c)
        absent = kinds[c] == "null"
        if not col.nullable and not absent:
            rules.append((f"{v} IS NULL AND NOT {bad}", f"{c}: missing value"))
        if absent:
            continue
        kind = {"TIMESTAMPTZ": "timestamp", "DATE": "date", "BOOLEAN": "boolean", "VARCHAR": None}.get(col.dtype)
        if col.dtype == "DOUBLE":
            unit = mapping.duration_units.get(c, mapping.duration_unit) if _is_duration(col) else "s"
            kind = "duration" if unit == "hms" and kinds[c] == "text" else "number"
        if kind:
            rules.append((bad, f"{c}: unparseable {kind}"))
        if col.dtype == "TIMESTAMPTZ":
            isaw = _q("__cx_aw_" + c)
            if minority.get(c) == "aware":
                rules.append((f"{isaw} AND NOT {bad}", f"{c}: aware timestamp among naive ones (mixed time zones)"))
            elif minority.get(c) == "naive":
                rules.append((f"NOT {isaw} AND {_q('__cx_i_' + c)} IS NOT NULL AND NOT {bad}",
                              f"{c}: naive timestamp among aware ones (mixed time zones)"))
            dst = _q("__cx_dst_" + c)
            rules.append((f"{dst} = 'ambiguous'", f"{c}: ambiguous local time (DST)"))
            rules.append((f"{dst} = 'nonexistent'", f"{c}: non-existent local time (DST)"))
        if col.dtype == "DOUBLE" and (col.low is not None or col.high is not None):
            if col.high is not None:
                rules.append((f"{v} < {col.low} OR {v} > {col.high}", f"{c}: out of range [{_num(col.low)}, "
                                                                       f"{_num(col.high)}]"))
            elif col.low == 0:
                rules.append((f"{v} < 0", f"{c}: negative duration" if _is_duration(col) else f"{c}: negative value"))
            else:
                rules.append((f"{v} < {col.low}", f"{c}: below {_num(col.low)}"))
        if c in CX_SCALES:
            rules.append((f"{v} <> round({v})", f"{c}: not an integer"))
        if col.allowed:
            rules.append((f"NOT {_one_of(v, col.allowed)}", f"{c}: not one of {', '.join(col.allowed)}"))
    if spec.name == "interactions":
        rules += [
            ("abandoned AND agent_id IS NOT NULL", "abandoned contact with an agent"),
            ("abandoned AND talk_s > 0", "abandoned contact with talk time"),
            ("NOT abandoned AND agent_id IS NULL", "answered contact without an agent"),
        ]
    elif spec.name == "surveys":
        rules.append(("csat IS NULL AND nps IS NULL AND ces IS NULL AND NOT __cx_bad_csat AND NOT __cx_bad_nps "
                      "AND NOT __cx_bad_ces", "survey has no score (csat, nps, ces)"))
    elif spec.name == "events":
        rules.append(('"end" < "start"', "event ends before it starts"))
    elif spec.name == "customers":
        rules.append(("churned_at < first_seen", "churned before first seen"))
    return rules


def _num(x) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _key_reason(spec: Table) -> str:
    if len(spec.key) == 1:
        return f"duplicate {spec.key[0]}"
    return f"duplicate key ({', '.join(spec.key)})"


def _stage(con, src, spec: Table, *, timezone: str, raw_text_all: bool = False) -> _Stage:
    raw = _open_raw(con, src, spec.name)
    try:
        tbl, extras = _build_checks(con, raw, spec, src.mapping, timezone, raw_text_all=raw_text_all)
    finally:
        for kind, name in reversed(raw.objects):
            _drop(con, kind, name)
    return _Stage(spec=spec, label=raw.label, files=list(raw.files), raw_columns=list(raw.columns),
                  multi_file=raw.multi_file, extras=extras, tbl=tbl)


def _cross_checks(con, stages: dict[str, _Stage]) -> None:
    """Surveys against interactions, in SQL over the validated Arrow tables; updates the surveys' reasons."""
    if "surveys" not in stages or "interactions" not in stages:
        return
    st_s, st_i = stages["surveys"], stages["interactions"]
    tag = uuid.uuid4().hex[:10]
    xi, xs = f"_cx_xi_{tag}", f"_cx_xs_{tag}"
    con.register(xi, st_i.tbl.select(["interaction_id", "arrived_at", _REASON]))
    con.register(xs, st_s.tbl.select([_ORD, "interaction_id", "responded_at", _REASON]))
    try:
        found = _exec(con, f"""
            WITH ids AS (
                SELECT interaction_id, bool_or({_REASON} IS NULL) AS any_ok,
                       min(arrived_at) FILTER (WHERE {_REASON} IS NULL) AS arrived_at
                FROM {xi} WHERE interaction_id IS NOT NULL GROUP BY interaction_id),
            r AS (
                SELECT s.{_ORD},
                       CASE WHEN ids.interaction_id IS NULL THEN {_lit(REASON_UNKNOWN_INTERACTION)}
                            WHEN NOT ids.any_ok THEN {_lit(REASON_QUARANTINED_INTERACTION)}
                            WHEN s.responded_at < ids.arrived_at THEN {_lit(REASON_BEFORE_CONTACT)} END AS reason
                FROM {xs} AS s LEFT JOIN ids USING (interaction_id)
                WHERE s.{_REASON} IS NULL AND s.interaction_id IS NOT NULL)
            SELECT {_ORD}, reason FROM r WHERE reason IS NOT NULL""")
    finally:
        _drop(con, "FRAME", xi)
        _drop(con, "FRAME", xs)
    if not found:
        return
    tbl = st_s.tbl
    pos = pd.Index(tbl[_ORD].to_numpy()).get_indexer([o for o, _ in found])
    reason = tbl[_REASON].to_pylist()
    reasons = tbl[_REASONS].to_pylist()
    for p, (_, r) in zip(pos, found):
        reason[p] = reasons[p] = r
    tbl = tbl.set_column(tbl.schema.get_field_index(_REASON), _REASON, pa.array(reason, pa.string()))
    tbl = tbl.set_column(tbl.schema.get_field_index(_REASONS), _REASONS, pa.array(reasons, pa.string()))
    st_s.tbl = tbl


def _arrow(rel) -> pa.Table:
    tbl = rel.arrow()
    return tbl.read_all() if hasattr(tbl, "read_all") else tbl


def _collect(stage: _Stage) -> LoadResult:
    spec, tbl = stage.spec, stage.tbl
    bad = pc.is_valid(tbl[_REASON])
    cols = spec.names + stage.extras
    accepted = tbl.select(cols).filter(pc.invert(bad)).to_pandas(date_as_object=False)
    accepted = _canonical_dtypes(accepted, spec)

    q = tbl.select(["__cx_raw", _ROW, _FILE, _REASON, _REASONS]).filter(bad)
    data: dict[str, Any] = {}
    for k, c in enumerate(stage.raw_columns):
        out = c if c not in ("source_row", "source_file", "reason", "all_reasons") else f"{c}_raw"
        data[out] = pc.list_element(q["__cx_raw"], k).to_pandas().astype("str")
    data["source_row"] = q[_ROW].to_pandas().astype("int64")
    if stage.multi_file:
        data["source_file"] = pd.Series(stage.files, dtype="str").take(
            q[_FILE].to_numpy(zero_copy_only=False)).reset_index(drop=True)
    data["reason"] = q[_REASON].to_pandas().astype("str")
    data["all_reasons"] = q[_REASONS].to_pandas().astype("str")
    quarantined = pd.DataFrame(data, index=pd.RangeIndex(q.num_rows))

    vc = quarantined["reason"].value_counts()
    counts = pd.DataFrame({"reason": ["ok", *vc.index.tolist()], "rows": [len(accepted), *vc.tolist()]})
    counts = _order_counts(counts)
    counts.insert(0, "table", spec.name)
    rows_read = tbl.num_rows
    if rows_read != len(accepted) + len(quarantined):  # pragma: no cover - invariant of the split above
        raise RuntimeError(f"{spec.name}: accounting mismatch ({rows_read} read, {len(accepted)} accepted, "
                           f"{len(quarantined)} quarantined)")
    return LoadResult(table=spec.name, source=stage.label, accepted=accepted, quarantined=quarantined,
                      rows_read=rows_read, counts=counts, files=tuple(stage.files))


def _order_counts(counts: pd.DataFrame) -> pd.DataFrame:
    counts = counts.astype({"reason": "str", "rows": "int64"})
    counts["_ok"] = counts["reason"] != "ok"
    counts = counts.sort_values(["_ok", "rows", "reason"], ascending=[True, False, True])
    return counts.drop(columns="_ok").reset_index(drop=True)


def _canonical_dtypes(df: pd.DataFrame, spec: Table) -> pd.DataFrame:
    conv = {}
    for col in spec.columns:
        s = df[col.name]
        if col.dtype == "TIMESTAMPTZ":
            if not isinstance(s.dtype, pd.DatetimeTZDtype):
                s = pd.to_datetime(s, utc=True)
            conv[col.name] = s.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
        elif col.dtype == "DATE":
            conv[col.name] = pd.to_datetime(s).astype("datetime64[ns]")
        elif col.dtype == "BOOLEAN":
            conv[col.name] = s.astype("boolean") if s.isna().any() else s.astype(bool)
        elif col.dtype == "DOUBLE":
            conv[col.name] = s.astype("float64")
        elif col.dtype == "VARCHAR":
            conv[col.name] = s.astype("str")
    return df.assign(**conv) if conv else df


def _accounting(results) -> pd.DataFrame:
    rows = []
    for res in results:
        base = {"table": res.table, "source": res.source, "rows_read": res.rows_read,
                "rows_accepted": res.rows_accepted, "rows_quarantined": res.rows_quarantined}
        for reason, n in zip(res.counts["reason"], res.counts["rows"]):
            rows.append({**base, "reason": reason, "rows": int(n)})
    cols = ["table", "source", "rows_read", "rows_accepted", "rows_quarantined", "reason", "rows"]
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------- files


class _utc_session:
    """Run with the connection's TimeZone set to UTC and Arrow large buffers on (both restored afterwards).

    Large Arrow buffers (``large_string``) are what pandas' ``str`` dtype
    stores, so converting the result to pandas does not copy the strings.
    """

    _SETTINGS = (("TimeZone", "'UTC'"), ("arrow_large_buffer_size", "true"))

    def __init__(self, con):
        self.con = con
        self.before: dict[str, Any] = {}

    def __enter__(self):
        for name, value in self._SETTINGS:
            try:
                self.before[name] = _exec(self.con, f"SELECT current_setting('{name}')")[0][0]
                _exec(self.con, f"SET {name} = {value}")
            except duckdb.Error:
                if name == "TimeZone":
                    raise
        return self.con

    def __exit__(self, *exc):
        for name, value in self.before.items():
            try:
                _exec(self.con, f"SET {name} = {_lit(value) if isinstance(value, str) else str(value).lower()}")
            except duckdb.Error:
                pass
        return False


def _write_quarantine(df: pd.DataFrame, directory, table: str) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{table}.parquet"
    fd, tmp = tempfile.mkstemp(prefix=f".{table}.", suffix=".parquet.tmp", dir=directory)
    os.close(fd)
    try:
        df.to_parquet(tmp, index=False)
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return final


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
