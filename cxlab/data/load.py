"""Loading exports into canonical tables: :func:`load_table`, :func:`load_dataset`, :class:`Dataset`,
:class:`LoadResult` and the row accounting of ``cxlab validate`` (:func:`validate_command`).
"""

from __future__ import annotations

import hashlib
import json
import sys
import uuid
from dataclasses import dataclass, field, replace

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import progress as _bars
from .._utils import sha256_file
from ..config import Mapping, RunConfig, default_config, load_config
from ..errors import CxlabError, SourceError
from ..schema import TABLES
from ..schema import table as _schema_table
from .quarantine import (
    LoadResult,
    _accepted_facts,
    _canonical_dtypes,
    _duration_columns,
    _order_counts,
    _plausibility,
    collect_stage,
    cross_checks,
    quarantined_frame,
    row_accounting,
    utc_session,
    write_quarantine,
)
from .readers import (
    ORD_COL,
    REASON_COL,
    REASON_UNKNOWN_INTERACTION,
    WINDOW_COLUMN,
    FrameSource,
    Stage,
    as_source,
    drop_object,
    quote_ident,
    sql_exec,
    sql_literal,
)
from .rules import stage_table

__all__ = ['Dataset', 'Counts', 'TableProfile', 'load_table', 'load_dataset', 'count_dataset', 'validate_command']


@dataclass(frozen=True)
class Dataset:
    """The validated canonical tables of a run.

    Attributes
    ----------
    tables : dict of str to pandas.DataFrame
        Accepted rows per canonical table (only the tables that were loaded).
    accounting : pandas.DataFrame
        ``table, source, rows_read, rows_accepted, rows_quarantined,
        rows_excluded, reason, rows``: per table one ``"ok"`` line (``rows``
        = accepted) and one line per quarantine reason; per table
        ``rows_read = rows_accepted + rows_quarantined + rows_excluded``
        (excluded: dropped by the mapping's ``filter`` / ``where``) and
        ``rows`` sums to ``rows_read - rows_excluded``.
    source_hashes : dict of str to str
        sha256 of every input file (key: the file path); for the sample, the
        key ``"sample"`` holds the hash of its parameters.
    quarantine : dict of str to pandas.DataFrame
        Quarantined rows per table (see :class:`LoadResult`).
    timezone : str
        The run's time zone (the default of :meth:`window`).
    warnings : tuple of str
        Plausibility warnings of the load (each names its table and column;
        no customer id is shown unless it looks like a sentinel such as
        ``'0'``): implausible duration medians, float ids, one customer id
        holding many contacts, linking ids of different source types.
    unknown : pandas.DataFrame
        ``table, column, rows, of``: accepted rows (after loading, before any
        window) whose value is unknown (null) in a column the mapping lists
        under ``unknown``, and for interactions always ``customer_id``
        (rows of ``of``).
    """

    tables: dict[str, pd.DataFrame]
    accounting: pd.DataFrame
    source_hashes: dict[str, str]
    quarantine: dict[str, pd.DataFrame]
    timezone: str = "UTC"
    warnings: tuple[str, ...] = ()
    unknown: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["table", "column", "rows", "of"]))

    def unknown_customers(self) -> tuple[int, int]:
        """Contacts (in ``tables`` now, after any window) without / with a customer id.

        Returns
        -------
        (int, int)
            ``(unknown, known)``; repeat contacts and FCR are over the known ones.

        Examples
        --------
        >>> import pandas as pd
        >>> ds = Dataset({"interactions": pd.DataFrame({"customer_id": ["c1", None, "c2"]})},
        ...              pd.DataFrame(), {}, {})
        >>> ds.unknown_customers()
        (1, 2)
        """
        df = self.tables.get("interactions")
        if df is None or "customer_id" not in df.columns:
            return (0, 0)
        n_unknown = int(df["customer_id"].isna().sum())
        return n_unknown, len(df) - n_unknown

    def notes(self) -> list[str]:
        """Plain-text lines for ``cxlab validate`` and reports: exclusions, unknown values, warnings.

        Examples
        --------
        >>> import pandas as pd
        >>> acc = pd.DataFrame({"table": ["interactions"], "rows_excluded": [3]})
        >>> ds = Dataset({"interactions": pd.DataFrame({"customer_id": ["c1", None, "c2"]})}, acc, {}, {},
        ...              warnings=("interactions.talk_s: the median (3.2 days) is implausible for seconds",))
        >>> print("\\n".join(ds.notes()))
        interactions: 3 rows excluded by filter
        interactions: 1 contact has no customer id; repeat contacts and FCR are over the other 2
        warning: interactions.talk_s: the median (3.2 days) is implausible for seconds
        """
        lines = []
        if "rows_excluded" in self.accounting.columns:
            for _, r in self.accounting.drop_duplicates("table").iterrows():
                if int(r["rows_excluded"]):
                    lines.append(f"{r['table']}: {int(r['rows_excluded']):,} rows excluded by filter")
        unknown, known = self.unknown_customers()
        if unknown:
            lines.append(f"interactions: {unknown:,} contact{'s have' if unknown != 1 else ' has'} no customer id; "
                         f"repeat contacts and FCR are over the other {known:,}")
        for _, r in self.unknown.iterrows():
            if r["table"] == "interactions" and r["column"] == "customer_id":
                continue
            if int(r["rows"]):
                lines.append(f"{r['table']}.{r['column']}: {int(r['rows']):,} of {int(r['of']):,} rows unknown")
        lines += [f"warning: {w}" for w in self.warnings]
        return lines

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
            col = WINDOW_COLUMN.get(name) or getattr(TABLES.get(name), "time_column", None)
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
            ``table, source, rows_read, rows_accepted, rows_quarantined,
            rows_excluded`` (dropped by the mapping's filter), ``rows``
            (rows now in ``tables``, after any :meth:`window`), ``date_min,
            date_max`` (local dates of the table's time column, in the
            dataset's time zone), ``queues, agents`` (distinct values, where
            the table has the column).
        """
        acc = self.accounting.drop_duplicates("table").set_index("table")
        rows = []
        for name, df in self.tables.items():
            col = WINDOW_COLUMN.get(name) or getattr(TABLES.get(name), "time_column", None)
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
                "rows_excluded": int(line.get("rows_excluded", 0)) if line is not None else 0,
                "rows": len(df),
                "date_min": dmin,
                "date_max": dmax,
                "queues": int(df["queue"].nunique()) if "queue" in df.columns else None,
                "agents": int(df["agent_id"].nunique()) if "agent_id" in df.columns else None,
            })
        out = pd.DataFrame(rows, columns=["table", "source", "rows_read", "rows_accepted", "rows_quarantined",
                                          "rows_excluded", "rows", "date_min", "date_max", "queues", "agents"])
        for c in ("queues", "agents"):
            out[c] = out[c].astype("Int64")
        return out


def _progress(total: int):
    """A bar over the steps of a load (or None): only for loads over 2 s (:mod:`cxlab.progress`)."""
    return _bars.bar(total, desc="cxlab: loading", unit="step")


def _local_midnight(day: pd.Timestamp, tz: str) -> pd.Timestamp:
    return day.tz_localize(tz, nonexistent="shift_forward", ambiguous=True).tz_convert("UTC")


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
    Mapping, in order (docs/mapping.md): ``derive`` (a date + a time
    column, or a restricted SQL expression), ``filter`` / ``where`` (rows
    not kept are *excluded by filter*: ``rows_read = accepted +
    quarantined + rows_excluded``), ``not_offered`` (``reached_queue``),
    ``rename`` (source -> canonical, or a list of canonical columns), then
    ``values`` (exact match on the trimmed text, e.g. ``{'Y': True}``),
    ``unknown`` (sentinels -> null; accepted as *unknown* in id columns
    outside the key), then the type coercion below. Empty text is a missing value. CSV text is
    trimmed, and the tokens ``NULL, NaN, NA, N/A, None`` (any case) are
    missing values too (except in free text: ``comment``, ``label``);
    text from typed sources (Parquet, DuckDB, DataFrames) is taken as is. Absent optional columns take
    ``mapping.defaults`` (``direction`` defaults to ``'inbound'``) or null.
    Timestamps: ISO 8601 (also with a 12-hour clock and ``am``/``pm``, or
    followed by an IANA zone name) or ``mapping.timestamp_format``
    (strptime); naive values are local times in ``mapping.timezone`` (else
    ``timezone``), values with an offset, ``Z`` or a zone name are
    converted to UTC; any other trailing text is quarantined, never dropped.
    Durations (``*_s`` columns) are in ``mapping.duration_unit`` (``s``,
    ``ms``, ``min`` or ``hms`` = ``'H:MM:SS'`` / ``'MM:SS'`` / ``'H.MM.SS'``
    text), with ``mapping.duration_units`` per-column overrides. Fraction
    columns (range [0, 1]) read ``'94.01%'`` as 0.9401; columns in
    ``mapping.percent`` hold percentages. Id columns (``*_id``) read
    ``'8702.0'`` (or a float column) as ``'8702'``, with a warning. Booleans accept
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
    percent text in a non-fraction column       ``<col>: percent text in a column that is not a
                                                fraction``
    timestamp ending in a zone abbreviation     ``<col>: ambiguous time zone abbreviation such as
                                                PST (...)``
    timestamp / date year before 1678 or        ``<col>: year outside 1678-2261``
    after 2261 (pandas' range)
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
    answered contact without an agent_id (and   ``answered contact without an agent``
    reached_queue not false)
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
    src = as_source(source, mapping)
    own = con is None
    con = duckdb.connect() if own else con
    try:
        with utc_session(con):
            stage = stage_table(con, src, spec, timezone=timezone)
    finally:
        if own:
            con.close()
    result = collect_stage(stage)
    if quarantine_dir is not None:
        write_quarantine(result.quarantined, quarantine_dir, table)
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
    n_tables = len(config.sources) if config.sources is not None else len(TABLES)
    with _progress(2 * n_tables + 1) as bar:
        con = duckdb.connect()
        try:
            with utc_session(con):
                stages, passthrough, hashes = _stage_sources(con, config, tick=lambda what: _bars.tick(bar, 1, what))
                cross_checks(con, stages)
                hints = _link_type_hints(con, stages)
                _bars.tick(bar, 1, "cross-checked")
        finally:
            con.close()
        return _collect(stages, passthrough, hashes, quarantine_dir, tz, bar, hints)


#: tables whose rows the cross-table checks may still quarantine (their raw text is kept)
_LINKED = ("surveys",)


def _stage_sources(con, config: RunConfig, *, tick=None, keep=None) -> tuple[dict, dict, dict]:
    """Stage every source of ``config`` (or the embedded sample) with the table rules.

    Returns ``(stages, passthrough, hashes)``: a :class:`Stage` per canonical
    table, the sample's non-canonical frames unchanged, and the input hashes
    recorded in the manifest (each file's sha256; a query's text; the sample's
    parameters). ``tick(what)`` is called after each table; ``keep(name)``: the columns to keep (default all).
    """
    stages: dict[str, Stage] = {}
    passthrough: dict[str, pd.DataFrame] = {}
    hashes: dict[str, str] = {}

    def stage(name, src):
        stages[name] = stage_table(con, src, TABLES[name], timezone=config.timezone, raw_text_all=name in _LINKED,
                                   **({} if keep is None else {"keep": keep(name)}))
        if tick is not None:
            tick(f"validated {name} ({stages[name].tbl.num_rows:,} rows)")

    if config.sources is None:
        from ..sample import load_sample

        params = {"seed": config.sample.seed, "days": config.sample.days,
                  "contacts_per_day": config.sample.contacts_per_day}
        hashes["sample"] = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
        for name, df in load_sample(**params).items():
            if name in TABLES and isinstance(df, pd.DataFrame):
                stage(name, FrameSource(df, Mapping(), label="sample"))
            else:
                passthrough[name] = df
        return stages, passthrough, hashes
    for name, src in config.sources.items():
        if src.path:
            src = src.model_copy(update={"path": config.resolve(src.path)})
        stage(name, src)
        for f in stages[name].files:
            hashes[f] = sha256_file(f)
        if not stages[name].files and src.query:
            hashes[f"{name}:query"] = hashlib.sha256(src.query.encode()).hexdigest()
    return stages, passthrough, hashes


def _collect(stages, passthrough, hashes, quarantine_dir, tz, bar, hints=()) -> Dataset:
    """The :class:`Dataset` of the cross-checked stages: accepted tables, quarantine, accounting, unknowns."""
    results = {}
    for name, st in stages.items():
        results[name] = collect_stage(st)
        _bars.tick(bar, 1, f"collected {name}")
    if quarantine_dir is not None:
        for name, res in results.items():
            write_quarantine(res.quarantined, quarantine_dir, name)
    tables = {name: res.accepted for name, res in results.items()}
    tables.update(passthrough)
    accounting = row_accounting(results.values())
    warnings = [w for res in results.values() for w in res.warnings]
    warnings += list(hints)
    unknown = []
    for name, res in results.items():
        cols = dict(res.unknown)
        if name == "interactions" and "customer_id" in res.accepted.columns:
            cols["customer_id"] = int(res.accepted["customer_id"].isna().sum())
        unknown += [{"table": name, "column": c, "rows": n, "of": res.rows_accepted} for c, n in cols.items()]
    return Dataset(tables=tables, accounting=accounting, source_hashes=hashes,
                   quarantine={name: res.quarantined for name, res in results.items()}, timezone=tz,
                   warnings=tuple(warnings),
                   unknown=pd.DataFrame(unknown, columns=["table", "column", "rows", "of"]))


#: (table, column) -> (table, column) whose ids it should match
LINKS = (("surveys", "interaction_id", "interactions", "interaction_id"),
         ("surveys", "customer_id", "interactions", "customer_id"),
         ("customers", "customer_id", "interactions", "customer_id"),
         ("customer_revenue", "customer_id", "interactions", "customer_id"),
         ("agents", "agent_id", "interactions", "agent_id"),
         ("agent_scores", "agent_id", "interactions", "agent_id"))


def _type_family(t: str | None) -> str:
    if t is None:
        return "none"
    t = t.upper()
    if t.startswith(("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                     "UBIGINT", "DECIMAL")):
        return "integer"
    if t.startswith(("FLOAT", "DOUBLE", "REAL")):
        return "float"
    return "text"


def _link_hint(t1, c1, t2, c2, ty1, ty2, lost: int) -> str:
    return (f"{t1}.{c1} is {ty1} in its source but {t2}.{c2} is {ty2}: {lost:,} {t1} rows match no "
            f"{t2} row; ids of different types often differ in form (leading zeros, '8702.0', "
            f"prefixes): export both as text, or map one with mapping.derive")


def validate_command(config_path) -> int:
    """Load and validate the sources of a config and print the row accounting only (the data layer's part
    of ``cxlab validate``, which is :func:`cxlab.pipeline.preflight.validate_command`).

    Parameters
    ----------
    config_path : path-like
        The run config YAML (``""`` = the embedded sample).

    Returns
    -------
    int
        0 when every source could be read (rows may still be quarantined),
        1 on a file-level error in a source, 2 when the config is invalid.

    Notes
    -----
    Prints :attr:`Counts.totals` (but ``rows``) and the quarantined rows by
    table and reason, counted by :func:`count_dataset`: no accepted row is
    converted to pandas.

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
        summary, bad = _validate_counts(config)
    except (SourceError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"cxlab validate: {config_path or 'embedded sample'} (time zone {config.timezone})")
    print()
    print("Tables")
    print(summary.to_string(index=False))
    print()
    if bad.empty:
        print("No rows quarantined.")
    else:
        print("Quarantined rows by reason (each row counted once, under its first reason)")
        print(bad.to_string(index=False))
    if config.quarantine_dir:
        print()
        print(f"Quarantine files: {config.resolve(config.quarantine_dir)}")
    return 0


def _validate_counts(config: RunConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`validate_command`'s summary (all accepted rows, without ``rows``) and quarantine counts."""
    c = count_dataset(config, keep=_counted_columns)
    return c.totals.drop(columns=["rows"]), c.accounting.loc[c.accounting["reason"] != "ok", ["table", "reason",
                                                                                             "rows"]].reset_index(drop=True)


def _counted_columns(name: str) -> tuple[str, ...]:
    """The canonical columns the counts and :func:`cross_checks` read (the data layer's ``validate_command``)."""
    time_col = WINDOW_COLUMN.get(name) or getattr(TABLES.get(name), "time_column", None)
    return tuple(c for c in (time_col, "queue", "agent_id", "interaction_id", "arrived_at", "responded_at") if c)


_SUMMARY_COLUMNS = ["table", "source", "rows_read", "rows_accepted", "rows_quarantined", "rows_excluded",
                    "rows", "date_min", "date_max", "queues", "agents"]


class TableProfile:
    """Accepted rows of a table for the plan's checks: ``len()`` is the row count (DuckDB), the rest is
    ``sample``'s: the first rows in source order (all rows when the table has at most that many) plus, per column
    showing fewer values there than in the table, the first rows with its min and max; so "present", "has a
    non-null value" and "takes two values" (:mod:`cxlab.plan`) answer on it as on all rows."""

    def __init__(self, sample: pd.DataFrame, rows: int):
        self.sample, self.rows = sample, int(rows)

    def __len__(self) -> int:
        return self.rows

    def __getitem__(self, key):
        return self.sample[key]

    def __getattr__(self, name):
        if name in ("sample", "rows") or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.sample, name)


@dataclass(frozen=True)
class Counts:
    """A load counted in DuckDB (:func:`count_dataset`): what ``cxlab validate`` prints, no accepted row in pandas.

    Attributes
    ----------
    accounting, warnings, unknown
        As in :class:`Dataset` (the same values :func:`load_dataset` gives).
    summary, totals : pandas.DataFrame
        :meth:`Dataset.summary` of the windowed dataset; the same over all accepted rows.
    tables : dict of str to TableProfile
        The accepted rows in the window (the sample's non-canonical tables as they are; empty with ``keep``).
    customers : (int, int)
        Accepted interactions without / with a customer id (:meth:`Dataset.unknown_customers`).
    """

    accounting: pd.DataFrame
    summary: pd.DataFrame
    totals: pd.DataFrame
    tables: dict
    warnings: tuple = ()
    unknown: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["table", "column", "rows", "of"]))
    customers: tuple = (0, 0)

    def unknown_customers(self) -> tuple[int, int]:
        return self.customers

    notes = Dataset.notes  # the same lines (it reads accounting, unknown_customers(), unknown, warnings)


def count_dataset(config: RunConfig | None = None, start=None, end=None, *, sample_rows: int = 1000,
                  whole_rows: int = 0, keep=None) -> Counts:
    """Load and validate like :func:`load_dataset`, but count in DuckDB: no accepted row becomes pandas.

    Parameters
    ----------
    config : cxlab.config.RunConfig, optional
        The run config (default: the embedded sample).
    start, end : date-like, optional
        The window of ``summary`` and ``tables`` (default: ``config.window``),
        cut as :meth:`Dataset.window` cuts.
    sample_rows, whole_rows : int, default 1000, 0
        Rows of a :class:`TableProfile` sample (plus a few per column); a table with at most ``whole_rows``
        rows in the window is its own sample (every check on it is exact).
    keep : callable, optional
        Table name -> the columns to stage (default: all); the counts only, no ``tables``, fewer warnings.

    Returns
    -------
    Counts

    Notes
    -----
    Rules, cross-table checks, warnings, unknown counts and quarantine files
    are :func:`load_dataset`'s (same stages, same SQL); the collection into
    pandas is replaced by one aggregate query per table over its Arrow stage.

    Examples
    --------
    >>> c = count_dataset(default_config(sample={"days": 7, "contacts_per_day": 50}))
    >>> acc = c.accounting.drop_duplicates("table")
    >>> bool((acc.rows_read == acc.rows_accepted + acc.rows_quarantined + acc.rows_excluded).all())
    True
    >>> len(c.tables["interactions"]) == int(c.summary.set_index("table").loc["interactions", "rows"])
    True
    """
    config = config if config is not None else default_config()
    tz = config.timezone
    start, end = (config.window.start if start is None else start), (config.window.end if end is None else end)
    qdir = config.resolve(config.quarantine_dir) if config.quarantine_dir else None
    n_tables = len(config.sources) if config.sources is not None else len(TABLES)
    per: dict[str, tuple] = {}
    with _progress(2 * n_tables + 1) as bar:
        con = duckdb.connect()
        try:
            with utc_session(con):
                stages, passthrough, _ = _stage_sources(con, config, tick=lambda w: _bars.tick(bar, 1, w), keep=keep)
                cross_checks(con, stages)
                _bars.tick(bar, 1, "cross-checked")
                for name, st in stages.items():
                    per[name] = _count_stage(con, st, tz, start, end, 0 if keep else sample_rows, whole_rows)
                    if qdir is not None:
                        write_quarantine(quarantined_frame(st), qdir, name)
                    _bars.tick(bar, 1, f"counted {name} ({per[name][0]['rows_read']:,} rows)")
                warnings = [w for name in stages for w in per[name][3]]
                warnings += _link_type_hints(con, stages)
        finally:
            con.close()
    extra = Dataset(passthrough, pd.DataFrame(columns=["table"]), {}, {}, timezone=tz).summary()

    def frame(k):
        out = pd.DataFrame([p[k] for p in per.values()] + extra.to_dict("records"), columns=_SUMMARY_COLUMNS)
        return out.astype({**{c: "int64" for c in _SUMMARY_COLUMNS[2:7]}, "queues": "Int64", "agents": "Int64"})

    acc = [{**{k: p[0][k] for k in _SUMMARY_COLUMNS[:6]}, "reason": r, "rows": int(n)}
           for p in per.values() for r, n in p[2]]
    unknown = [{"table": name, "column": c, "rows": k, "of": per[name][0]["rows_accepted"]}
               for name in stages for c, k in per[name][4].items()]
    nulls, inter = (per["interactions"][5], per["interactions"][0]) if "interactions" in per else (0, {})
    customers = (nulls, inter.get("rows_accepted", 0) - nulls)
    return Counts(accounting=pd.DataFrame(acc, columns=[*_SUMMARY_COLUMNS[:6], "reason", "rows"]),
                  summary=frame(1), totals=frame(0),
                  tables={**{n: p[6] for n, p in per.items() if p[6] is not None}, **passthrough},
                  warnings=tuple(warnings),
                  unknown=pd.DataFrame(unknown, columns=["table", "column", "rows", "of"]), customers=customers)


def _window_sql(st: Stage, cols: set, tz: str, start, end) -> str:
    """The SQL condition of :meth:`Dataset.window` for the rows of one stage (``TRUE``: kept whole)."""
    name, col = st.spec.name, WINDOW_COLUMN.get(st.spec.name) or getattr(TABLES.get(st.spec.name), "time_column", None)
    if col is None or col not in cols:
        return "TRUE"
    start_d, end_d = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    if end_d < start_d:
        raise ValueError(f"window end ({end_d.date()}) is before its start ({start_d.date()})")
    lo, hi = (f"TIMESTAMPTZ {sql_literal(_local_midnight(d, tz).isoformat())}"
              for d in (start_d, end_d + pd.Timedelta(days=1)))
    c = quote_ident(col)
    if name == "events" and "end" in cols:  # (``keep`` may leave "end" out: then only the totals count)
        return f"({c} < {hi} AND (\"end\" IS NULL OR \"end\" >= {lo}))"
    if name == "series" or st.spec.column(col).dtype == "DATE":
        return f"({c} >= DATE '{start_d.date()}' AND {c} <= DATE '{end_d.date()}')"
    return f"({c} >= {lo} AND {c} < {hi})"


def _count_stage(con, st: Stage, tz: str, start, end, sample_rows: int, whole_rows: int = 0):
    """One stage counted: ``(totals line, window line, (reason, rows) counts, warnings, unknown, null
    customer ids, TableProfile)``."""
    name, spec = st.spec.name, st.spec
    names = [c for c in st.tbl.column_names if c != "__cx_raw"]
    cols = [c for c in (*spec.names, *st.extras) if c in names]
    view = f"_cx_count_{uuid.uuid4().hex[:10]}"
    ok = f"{REASON_COL} IS NULL"
    win = f"{ok} AND {_window_sql(st, set(cols), tz, start, end)}"
    time_col = WINDOW_COLUMN.get(name) or getattr(TABLES.get(name), "time_column", None)
    aggs = ["count(*)", f"count(*) FILTER (WHERE {ok})", f"count(*) FILTER (WHERE {win})"]
    for w in (ok, win):
        if time_col in cols:
            t = quote_ident(time_col)
            to_day = (lambda x: f"CAST(timezone({sql_literal(tz)}, {x}) AS DATE)") \
                if spec.column(time_col).dtype == "TIMESTAMPTZ" else (lambda x: f"CAST({x} AS DATE)")
            aggs += [to_day(f"min({t}) FILTER (WHERE {w})"), to_day(f"max({t}) FILTER (WHERE {w})")]
        else:
            aggs += ["NULL", "NULL"]
        aggs += [f"count(DISTINCT {quote_ident(c)}) FILTER (WHERE {w})" if c in cols else "NULL"
                 for c in ("queue", "agent_id")]
    con.register(view, st.tbl.select(names))
    try:
        row = _column_facts(con, view, aggs, cols, win)
        n, n_ok, n_win = (int(x) for x in row[:3])
        reasons = sql_exec(con, f"SELECT {REASON_COL}, count(*) FROM {view} WHERE NOT ({ok}) GROUP BY 1")
        k = max(sample_rows, n_win if n_win <= whole_rows else 0)
        sample = _profile_sample(con, view, cols, win, k, row[11:], spec) if sample_rows else None
    finally:
        drop_object(con, "FRAME", view)
    counts = _order_counts(pd.DataFrame({"reason": ["ok", *(r for r, _ in reasons)],
                                         "rows": [n_ok, *(k for _, k in reasons)]}))
    excluded = int(getattr(st, "rows_excluded", 0))
    base = {"table": name, "source": st.label, "rows_read": n + excluded, "rows_accepted": n_ok,
            "rows_quarantined": n - n_ok, "rows_excluded": excluded}
    lines = tuple({**base, "rows": rows, "date_min": r[0] if rows else None, "date_max": r[1] if rows else None,
                   "queues": r[2], "agents": r[3]} for rows, r in ((n_ok, row[3:7]), (n_win, row[7:11])))
    need = sorted({*_duration_columns(spec), "customer_id", *getattr(st, "unknown_columns", ())} & set(names))
    accepted = st.tbl.select(need).filter(pc.is_null(st.tbl[REASON_COL]))
    facts = _accepted_facts(st, accepted)
    warnings = list(getattr(st, "warnings", []))
    if hasattr(st, "warnings"):
        _plausibility(st, facts)
        warnings = list(st.warnings)
    unknown = {c: facts["nulls"][c] for c in getattr(st, "unknown_columns", ()) if c in facts["nulls"]}
    if name == "interactions" and "customer_id" in need:
        unknown["customer_id"] = accepted["customer_id"].null_count
    null_ids = accepted["customer_id"].null_count if "customer_id" in need else 0
    return (lines[0], lines[1], list(zip(counts["reason"], counts["rows"].astype(int))), warnings, unknown,
            int(null_ids), None if sample is None else TableProfile(sample, n_win))


def _column_facts(con, view: str, aggs: list[str], cols: list[str], win: str) -> tuple:
    """The aggregates, then per column (in the window) its non-null count and whether it takes two values."""
    for two in ("min({c}) FILTER (WHERE {w}) IS DISTINCT FROM max({c}) FILTER (WHERE {w})",
                "count(DISTINCT {c}) FILTER (WHERE {w}) > 1"):  # min/max is cheaper; not every type orders
        per = [x for c in cols for x in (f"count({quote_ident(c)}) FILTER (WHERE {win})",
                                         two.format(c=quote_ident(c), w=win))]
        try:
            return sql_exec(con, f"SELECT {', '.join(aggs + per)} FROM {view}")[0]
        except duckdb.Error:
            continue
    raise SourceError("the accepted rows cannot be counted", path=view)  # pragma: no cover


def _profile_sample(con, view: str, cols: list[str], win: str, k: int, facts, spec) -> pd.DataFrame:
    """The first ``k`` rows in the window, plus rows that show each column's values as the whole table does."""
    sel = ", ".join(quote_ident(c) for c in cols)
    first = f"SELECT {sel}, {ORD_COL} FROM {view} WHERE {win} ORDER BY {ORD_COL} LIMIT {int(k)}"
    tbl = con.sql(first).to_arrow_table()
    more = []
    for i, c in enumerate(cols):
        nonnull, varies = int(facts[2 * i]), bool(facts[2 * i + 1])
        shown = len(tbl[c]) - tbl[c].null_count
        if nonnull and (not shown or (varies and len(pc.unique(tbl[c].drop_null())) < 2)):
            q = quote_ident(c)
            more += [f"(SELECT {sel}, {ORD_COL} FROM {view} WHERE {win} AND {q} = (SELECT {f}({q}) FROM {view} "
                     f"WHERE {win}) ORDER BY {ORD_COL} LIMIT 1)" for f in ("min", "max")]
    if more:
        extra = con.sql(" UNION ALL ".join(more)).to_arrow_table()
        tbl = pa.concat_tables([tbl, extra.cast(tbl.schema)]).sort_by(ORD_COL)
    df = tbl.to_pandas(date_as_object=False).drop_duplicates(ORD_COL).drop(columns=[ORD_COL])
    return _canonical_dtypes(df, spec).reset_index(drop=True)


def _link_type_hints(con, stages: dict) -> list[str]:
    """A hint when ids that should link come from source columns of different types and some do not match."""
    out = []
    for t1, c1, t2, c2 in LINKS:
        if t1 not in stages or t2 not in stages:
            continue
        ty1 = getattr(stages[t1], "source_types", {}).get(c1)
        ty2 = getattr(stages[t2], "source_types", {}).get(c2)
        if ty1 is None or ty2 is None or _type_family(ty1) == _type_family(ty2):
            continue
        lost = int(pc.sum(pc.equal(stages[t1].tbl[REASON_COL], REASON_UNKNOWN_INTERACTION)).as_py() or 0) \
            if (t1, c1) == ("surveys", "interaction_id") else 0
        if c1 in stages[t1].tbl.column_names:
            v1, v2 = (f"_cx_link_{uuid.uuid4().hex[:10]}" for _ in range(2))
            con.register(v1, stages[t1].tbl.select([c1, REASON_COL]))
            has2 = c2 in stages[t2].tbl.column_names
            if has2:
                con.register(v2, stages[t2].tbl.select([c2, REASON_COL]))
            ids = f"(SELECT {quote_ident(c2)} FROM {v2} WHERE {REASON_COL} IS NULL AND {quote_ident(c2)} " \
                  "IS NOT NULL)" if has2 else "(SELECT NULL WHERE FALSE)"
            try:
                lost += int(sql_exec(con, f"SELECT count(*) FROM {v1} WHERE {REASON_COL} IS NULL AND "
                                          f"{quote_ident(c1)} IS NOT NULL AND {quote_ident(c1)} NOT IN {ids}")[0][0])
            finally:
                drop_object(con, "FRAME", v1)
                drop_object(con, "FRAME", v2)
        if lost:
            out.append(_link_hint(t1, c1, t2, c2, ty1, ty2, lost))
    return out
