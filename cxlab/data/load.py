"""Loading exports into canonical tables: :func:`load_table`, :func:`load_dataset`, :class:`Dataset`,
:class:`LoadResult` and the row accounting of ``cxlab validate`` (:func:`validate_command`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import uuid
from dataclasses import dataclass, field, replace

import duckdb
import pandas as pd

from .._utils import sha256_file
from ..config import Mapping, RunConfig, default_config, load_config
from ..errors import CxlabError, SourceError
from ..schema import TABLES
from ..schema import table as _schema_table
from .quarantine import (
    LoadResult,
    _order_counts,
    collect_stage,
    cross_checks,
    quarantined_frame,
    row_accounting,
    utc_session,
    write_quarantine,
)
from .readers import (
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

__all__ = ['Dataset', 'load_table', 'load_dataset', 'validate_command']


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
    """A tqdm bar over the tables of a load, or a no-op: shown only for loads longer than 2 s.

    ``CXLAB_PROGRESS=0`` (set in the kernels of ``cxlab run`` and ``make
    notebooks``, so executed notebooks never hold a bar) or ``=1`` forces
    it off or on; otherwise it shows in a terminal (stderr is a TTY) and in
    an interactive Jupyter kernel (``tqdm.auto``: a widget in JupyterLab).
    """
    env = os.environ.get("CXLAB_PROGRESS", "").strip().lower()
    if env in ("0", "false", "no", "off"):
        return contextlib.nullcontext(None)
    if env not in ("1", "true", "yes", "on") and not (_in_jupyter() or sys.stderr.isatty()):
        return contextlib.nullcontext(None)
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return contextlib.nullcontext(None)
    return tqdm(total=total, desc="cxlab: loading", unit="table", delay=2.0, leave=False, file=sys.stderr)


def _in_jupyter() -> bool:
    """Whether this process is a kernel a person is working in, under a Jupyter server.

    An IPython ZMQ shell started by a Jupyter server (JupyterLab, Notebook,
    VS Code's server sets it too) has ``JPY_SESSION_NAME`` in its environment;
    kernels started headless by papermill, nbclient or nbval do not, so an
    executed or regression-tested notebook never records a bar.
    """
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return type(shell).__name__ == "ZMQInteractiveShell" and bool(os.environ.get("JPY_SESSION_NAME"))


def _tick(bar, what: str) -> None:
    if bar is not None:
        bar.set_postfix_str(what, refresh=False)
        bar.update(1)


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
                stages, passthrough, hashes = _stage_sources(con, config, tick=lambda what: _tick(bar, what))
                cross_checks(con, stages)
                _tick(bar, "cross-checked")
        finally:
            con.close()
        return _collect(stages, passthrough, hashes, quarantine_dir, tz, bar)


#: tables whose rows the cross-table checks may still quarantine (their raw text is kept)
_LINKED = ("surveys",)


def _stage_sources(con, config: RunConfig, *, keep=None, tick=None) -> tuple[dict, dict, dict]:
    """Stage every source of ``config`` (or the embedded sample) with the table rules.

    Returns ``(stages, passthrough, hashes)``: a :class:`Stage` per canonical
    table, the sample's non-canonical frames unchanged, and the input hashes
    recorded in the manifest (each file's sha256; a query's text; the sample's
    parameters). ``keep`` maps a table name to the columns to keep (all when
    None); ``tick(what)`` is called after each table.
    """
    stages: dict[str, Stage] = {}
    passthrough: dict[str, pd.DataFrame] = {}
    hashes: dict[str, str] = {}

    def stage(name, src):
        stages[name] = stage_table(con, src, TABLES[name], timezone=config.timezone, raw_text_all=name in _LINKED,
                                   **({} if keep is None else {"keep": keep(name)}))
        if tick is not None:
            tick(f"validated {name}")

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


def _collect(stages, passthrough, hashes, quarantine_dir, tz, bar) -> Dataset:
    """The :class:`Dataset` of the cross-checked stages: accepted tables, quarantine, accounting, unknowns."""
    results = {}
    for name, st in stages.items():
        results[name] = collect_stage(st)
        _tick(bar, f"collected {name}")
    if quarantine_dir is not None:
        for name, res in results.items():
            write_quarantine(res.quarantined, quarantine_dir, name)
    tables = {name: res.accepted for name, res in results.items()}
    tables.update(passthrough)
    accounting = row_accounting(results.values())
    warnings = [w for res in results.values() for w in res.warnings]
    warnings += _link_type_hints(stages, results)
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


def _link_type_hints(stages, results) -> list[str]:
    """A hint when ids that should link come from source columns of different types and some do not match."""
    out = []
    for t1, c1, t2, c2 in LINKS:
        if t1 not in results or t2 not in results:
            continue
        ty1 = getattr(stages[t1], "source_types", {}).get(c1)
        ty2 = getattr(stages[t2], "source_types", {}).get(c2)
        if ty1 is None or ty2 is None or _type_family(ty1) == _type_family(ty2):
            continue
        ids = set(results[t2].accepted[c2].dropna()) if c2 in results[t2].accepted.columns else set()
        mine = results[t1].accepted[c1].dropna() if c1 in results[t1].accepted.columns else pd.Series([], dtype=str)
        lost = 0
        if t1 == "surveys" and c1 == "interaction_id":
            lost = int((results[t1].quarantined["reason"] == REASON_UNKNOWN_INTERACTION).sum())
        lost += int((~mine.isin(ids)).sum())
        if lost:
            out.append(f"{t1}.{c1} is {ty1} in its source but {t2}.{c2} is {ty2}: {lost:,} {t1} rows match no "
                       f"{t2} row; ids of different types often differ in form (leading zeros, '8702.0', "
                       f"prefixes): export both as text, or map one with mapping.derive")
    return out


def validate_command(config_path) -> int:
    """Load and validate the sources of a config and print the row accounting only.

    ``cxlab validate`` itself is :func:`cxlab.pipeline.preflight.validate_command`
    (the accounting, the run plan and the parameter checks, exit code 3 for
    data that does not fit); this function is the data layer's part of it.

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
    Prints the per-table summary (the columns of :meth:`Dataset.summary`
    but ``rows``) and the quarantined rows by table and reason. The rules
    and the cross-table checks are those of :func:`load_dataset`, but the
    counts, dates and distinct queues and agents are computed in DuckDB
    over the validated Arrow rows: no accepted row is converted to pandas
    (only the quarantined ones, for the quarantine files, which are written
    only when the config sets ``quarantine_dir``).

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


_SUMMARY_COLUMNS = ["table", "source", "rows_read", "rows_accepted", "rows_quarantined", "rows_excluded",
                    "date_min", "date_max", "queues", "agents"]


def _validate_counts(config: RunConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The summary (without ``rows``) and the quarantine counts of :func:`validate_command`, counted in DuckDB.

    Stages every table with :func:`load_dataset`'s rules and cross-table
    checks, then per table one aggregate query over the stage's Arrow table
    (registered in DuckDB, not copied): rows, accepted rows, the local dates
    of the time column and the distinct queues and agents of the accepted
    rows, and the rows per first reason. Tables of the sample that are not
    canonical are summarised from their (small) DataFrames as
    :meth:`Dataset.summary` does.
    """
    tz = config.timezone
    qdir = config.resolve(config.quarantine_dir) if config.quarantine_dir else None
    con = duckdb.connect()
    try:
        with utc_session(con):
            stages, passthrough, _ = _stage_sources(con, config, keep=_counted_columns)
            cross_checks(con, stages)
            rows, bad = [], []
            for name, st in stages.items():
                line, counts = _stage_counts(con, st, tz)
                rows.append(line)
                bad += [{"table": name, "reason": r, "rows": n} for r, n in counts if r != "ok"]
                if qdir is not None:
                    write_quarantine(quarantined_frame(st), qdir, name)
    finally:
        con.close()
    if passthrough:
        extra = Dataset(passthrough, pd.DataFrame(columns=["table"]), {}, {}, timezone=tz).summary()
        rows += extra.drop(columns=["rows"]).to_dict("records")
    summary = pd.DataFrame(rows, columns=_SUMMARY_COLUMNS)
    for c in ("queues", "agents"):
        summary[c] = summary[c].astype("Int64")
    return summary, pd.DataFrame(bad, columns=["table", "reason", "rows"])


def _counted_columns(name: str) -> tuple[str, ...]:
    """The canonical columns :func:`_stage_counts` and :func:`cross_checks` read (the others stay in DuckDB)."""
    time_col = WINDOW_COLUMN.get(name) or getattr(TABLES.get(name), "time_column", None)
    return tuple(c for c in (time_col, "queue", "agent_id", "interaction_id", "arrived_at", "responded_at") if c)


def _stage_counts(con, st: Stage, tz: str) -> tuple[dict, list[tuple[str, int]]]:
    """One summary line and the ``(reason, rows)`` counts (``"ok"`` first, as in :class:`LoadResult`)."""
    name = st.spec.name
    names = set(st.tbl.column_names) - {REASON_COL}
    cols = set(st.spec.names) | set(st.extras)
    view = f"_cx_count_{uuid.uuid4().hex[:10]}"
    ok = f"{REASON_COL} IS NULL"
    time_col = WINDOW_COLUMN.get(name) or getattr(TABLES.get(name), "time_column", None)
    aggs = ["count(*)", f"count(*) FILTER (WHERE {ok})"]
    if time_col in cols and time_col in names:
        t = quote_ident(time_col)
        if st.spec.column(time_col).dtype == "TIMESTAMPTZ":
            aggs += [f"CAST(timezone({sql_literal(tz)}, min({t}) FILTER (WHERE {ok})) AS DATE)",
                     f"CAST(timezone({sql_literal(tz)}, max({t}) FILTER (WHERE {ok})) AS DATE)"]
        else:
            aggs += [f"CAST(min({t}) FILTER (WHERE {ok}) AS DATE)", f"CAST(max({t}) FILTER (WHERE {ok}) AS DATE)"]
    else:
        aggs += ["NULL", "NULL"]
    for c in ("queue", "agent_id"):
        aggs.append(f"count(DISTINCT {quote_ident(c)}) FILTER (WHERE {ok})" if c in cols and c in names else "NULL")
    con.register(view, st.tbl.select([c for c in st.tbl.column_names if c != "__cx_raw"]))
    try:
        n, n_ok, dmin, dmax, queues, agents = sql_exec(con, f"SELECT {', '.join(aggs)} FROM {view}")[0]
        reasons = sql_exec(con, f"SELECT {REASON_COL}, count(*) FROM {view} WHERE NOT ({ok}) GROUP BY 1")
    finally:
        drop_object(con, "FRAME", view)
    counts = pd.DataFrame({"reason": ["ok", *(r for r, _ in reasons)], "rows": [n_ok, *(k for _, k in reasons)]})
    counts = _order_counts(counts)
    excluded = int(getattr(st, "rows_excluded", 0))
    line = {"table": name, "source": st.label, "rows_read": int(n) + excluded, "rows_accepted": int(n_ok),
            "rows_quarantined": int(n - n_ok), "rows_excluded": excluded,
            "date_min": dmin if n_ok else None, "date_max": dmax if n_ok else None,
            "queues": queues, "agents": agents}
    return line, list(zip(counts["reason"], counts["rows"].astype(int)))
