"""Reading sources into DuckDB: CSV/Parquet/DuckDB files, globs, format detection, encodings, delimiters.

Also the row-bookkeeping column names and rule reasons shared by the loader.
"""

from __future__ import annotations

import codecs
import csv
import glob as _glob
import os
import re
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from ..config import Mapping, Source
from ..errors import SourceError
from ..schema import Table

__all__ = []


# internal bookkeeping columns (never shown to users)
ROW_COL = "__cx_row"  # 1-based data row number within its file


REASON_COL = "__cx_reason"  # first rule broken (null = accepted)


REASONS_COL = "__cx_reasons"  # every rule broken, joined with "; "


ORD_COL = "__cx_ord"  # global source order (file, row)


FILE_COL = "__cx_file"  # index (0-based) of the file the row came from, in Raw.files


#: tokens (any case, after trimming) read as missing values in every column but free text
NULL_TOKENS = ("", "null", "nan", "na", "n/a", "none")


FREE_TEXT = {"comment", "label"}


TRUE_TOKENS = ("true", "t", "yes", "y", "1", "1.0")


FALSE_TOKENS = ("false", "f", "no", "n", "0", "0.0")


#: a time of day followed by a UTC designator or offset: the value is time-zone aware
AWARE_RE = r"\d:\d{2}(:\d{2}(\.\d+)?)?\s*([Zz]|UTC|[+-]\d{2}(:?\d{2})?)$"


HMS_RE = r"^(-)?(?:(\d+):)?(\d+):(\d{1,2}(?:\.\d+)?)$"


#: built-in values for absent optional columns (a mapping's defaults win)
BUILTIN_DEFAULTS = {("interactions", "direction"): "inbound"}


#: durations that may be null (read as 0) on abandoned contacts
ZERO_IF_ABANDONED = ("talk_s", "hold_s", "acw_s")


DURATION_FACTORS = {"s": 1.0, "ms": 0.001, "min": 60.0}


NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                  "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "REAL")


_DUCKDB_ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "utf-8-sig": "utf-8", "latin-1": "latin-1", "latin1": "latin-1",
                     "iso-8859-1": "latin-1", "iso8859-1": "latin-1", "l1": "latin-1",
                     "utf-16": "utf-16", "utf16": "utf-16"}


#: the date column used by :meth:`Dataset.window` and :meth:`Dataset.summary`
WINDOW_COLUMN = {"interactions": "arrived_at", "surveys": "responded_at", "staffing": "interval_start",
                  "agent_scores": "scored_at", "series": "date", "events": "start"}


# reasons given by the cross-table checks of load_dataset
REASON_UNKNOWN_INTERACTION = "survey links to an unknown interaction"


REASON_QUARANTINED_INTERACTION = "survey links to a quarantined interaction"


REASON_BEFORE_CONTACT = "survey responded before its contact arrived"


@dataclass
class FrameSource:
    frame: pd.DataFrame
    mapping: Mapping
    label: str = "<DataFrame>"


def as_source(source, mapping: Mapping | None):
    if isinstance(source, pd.DataFrame):
        return FrameSource(source, mapping or Mapping())
    if isinstance(source, FrameSource):
        return source
    if isinstance(source, Source):
        if mapping is not None:
            source = source.model_copy(update={"mapping": mapping})
        return source
    if isinstance(source, (str, os.PathLike)):
        return Source(path=str(source), mapping=mapping or Mapping())
    raise TypeError(f"source must be a cxlab.config.Source, a path or a DataFrame; got {type(source).__name__}")


@dataclass
class Raw:
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
class Stage:
    """A validated table (Arrow, with reasons) waiting for cross-table checks and collection.

    The rows of ``tbl`` are in no particular order (the validating query runs
    on every DuckDB thread without an ordered collector); ``__cx_ord`` is the
    source order, which :func:`cxlab.data.quarantine.collect_stage` restores.
    """

    spec: Table
    label: str
    files: list[str]
    raw_columns: list[str]
    multi_file: bool
    extras: list[str]
    tbl: pa.Table


def drop_object(con, kind: str, name: str) -> None:
    try:
        if kind == "FRAME":
            con.unregister(name)
        else:
            sql_exec(con, f"DROP {kind} IF EXISTS {name}")
    except duckdb.Error:
        pass


def quote_ident(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def sql_literal(value: str) -> str:
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


#: byte-order marks, longest first (UTF-32 LE starts with the UTF-16 LE mark)
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def bom_encoding(head: bytes) -> str | None:
    """The encoding a byte-order mark at the start of a file names, or None.

    Examples
    --------
    >>> bom_encoding(b"\\xff\\xfea\\x00"), bom_encoding(b"\\xff\\xfe\\x00\\x00a"), bom_encoding(b"a,b")
    ('utf-16', 'utf-32', None)
    """
    for bom, enc in _BOMS:
        if head.startswith(bom):
            return enc
    return None


#: the first bytes of spreadsheet files that are not CSV, and what to call them
_WORKBOOKS = ((b"PK\x03\x04", "an Excel workbook (.xlsx, a zip archive)"),
              (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Excel workbook (.xls, an OLE file)"))


def _check_text_file(path: str, table: str, encoding: str | None = None) -> str | None:
    """File-level checks of a CSV; returns the encoding its byte-order mark names (None without one)."""
    size = os.path.getsize(path)
    if size == 0:
        raise SourceError("file is empty (0 bytes)", path=path, table=table)
    with open(path, "rb") as fh:
        head = fh.read(4096)
    for magic, what in _WORKBOOKS:
        if head.startswith(magic):
            raise SourceError(f"this is {what}, not a CSV file; "
                              "save the sheet as CSV (or Parquet) and point the source at that file",
                              path=path, table=table)
    bom = bom_encoding(head)
    declared = (encoding or "").lower().replace("_", "-")
    if bom and bom != "utf-8" and declared and not declared.startswith(bom):
        raise SourceError(f"the file starts with a {bom.upper()} byte-order mark, but the source says "
                          f"`encoding: {encoding}`; remove the encoding (cxlab reads the mark) or set "
                          f"`encoding: {bom}`", path=path, table=table)
    if bom is None and head.count(b"\x00") > len(head) // 4:
        raise SourceError("the file holds many NUL bytes: it looks like UTF-16 or UTF-32 text without a "
                          "byte-order mark; set `encoding: utf-16` (or utf-16-le / utf-32) on the source, "
                          "or re-save it as UTF-8", path=path, table=table)
    return bom if bom in ("utf-16", "utf-32") else None


def open_raw(con, src, table: str) -> Raw:
    tag = uuid.uuid4().hex[:10]
    name = f"_cx_raw_{table}_{tag}"
    if isinstance(src, FrameSource):
        df = src.frame
        df = df.set_axis([str(c) for c in df.columns], axis=1)
        df = df.assign(**{ROW_COL: range(1, len(df) + 1)})
        fname = f"_cx_df_{table}_{tag}"
        con.register(fname, df)
        sql_exec(con, f"CREATE TEMP VIEW {name} AS SELECT *, {ROW_COL} AS {ORD_COL}, 0 AS {FILE_COL} "
                    f"FROM {fname}")
        return _finish_raw(con, name, src.label, [], "frame", [("FRAME", fname), ("VIEW", name)])

    label = src.path or f"query: {src.query}"
    if not src.path:  # a query on its own connection, reading files under the working directory only
        t0 = f"_cx_t0_{table}_{tag}"
        _query_into(con, t0, src.query, None, label, table)
        sql_exec(con, f"CREATE TEMP VIEW {name} AS SELECT *, rowid + 1 AS {ROW_COL}, rowid AS {ORD_COL}, "
                    f"0 AS {FILE_COL} FROM {t0}")
        return _finish_raw(con, name, label, [], "query", [("TABLE", t0), ("VIEW", name)])

    files = _files_for(src, table)
    fmt = _detect_format(src, files)
    file_list = "[" + ", ".join(sql_literal(f) for f in files) + "]"
    if fmt == "csv":
        boms = {_check_text_file(f, table, src.encoding) for f in files}
        encoding = src.encoding
        if boms - {None}:  # (a declared encoding that contradicts the mark was refused above)
            if len(boms) > 1:
                raise SourceError(f"the files of this glob use different encodings ({sorted(map(str, boms))}); "
                                  "re-save them with one encoding", path=label, table=table)
            # a UTF-16/32 byte-order mark names the encoding; Python's BOM-aware codecs decode it
            # (DuckDB's own reader knows little-endian UTF-16 only)
            encoding = {"utf-16": "utf_16", "utf-32": "utf_32"}[boms.pop()]
        files_read = _transcode(files, encoding, tag, table) if _needs_transcode(encoding) else files
        read_list = "[" + ", ".join(sql_literal(f) for f in files_read) + "]"
        # RFC 4180 quoting, always: a sniffer that drops quoting to fit a stray quote would read it as data
        opts = ["all_varchar=true", "header=true", "quote='\"'", "escape='\"'"]
        if len(files) > 1:
            opts += ["union_by_name=true", f"filename={sql_literal(FILE_COL)}"]
        if src.delimiter:
            opts.append(f"delim={sql_literal(src.delimiter)}")
        if encoding and not _needs_transcode(encoding):
            opts.append(f"encoding={sql_literal(_DUCKDB_ENCODINGS[encoding.lower()])}")
        t0 = f"_cx_t0_{table}_{tag}"
        objects = [("TABLE", t0)]
        try:
            sql_exec(con, f"CREATE TEMP TABLE {t0} AS SELECT * FROM read_csv({read_list}, {', '.join(opts)})")
        except duckdb.Error as exc:
            raise _csv_error(exc, label, table, files, files_read, src.delimiter, encoding) from None
        finally:
            if files_read is not files:
                for f in files_read:
                    Path(f).unlink(missing_ok=True)
        if len(files) > 1:
            bases = dict(sql_exec(con, f"SELECT {FILE_COL}, min(rowid) FROM {t0} GROUP BY 1"))
            index = " ".join(f"WHEN {sql_literal(f)} THEN {k}" for k, f in enumerate(files_read))
            base = " ".join(f"WHEN {sql_literal(f)} THEN {int(bases.get(f, 0))}" for f in files_read)
            view = (f"SELECT * EXCLUDE ({FILE_COL}), rowid + 1 - CASE {FILE_COL} {base} END AS {ROW_COL}, "
                    f"rowid AS {ORD_COL}, CASE {FILE_COL} {index} END AS {FILE_COL} FROM {t0}")
        else:
            view = f"SELECT *, rowid + 1 AS {ROW_COL}, rowid AS {ORD_COL}, 0 AS {FILE_COL} FROM {t0}"
        sql_exec(con, f"CREATE TEMP VIEW {name} AS {view}")
        objects.append(("VIEW", name))
        raw = _finish_raw(con, name, label, files, "csv", objects)
        try:
            _check_delimiter(raw, table, files, encoding)
        except SourceError:
            drop_objects(con, objects)
            raise
        return raw
    if fmt == "parquet":
        if len(files) > 1:
            fidx = f"(list_position({file_list}, filename) - 1)"
            sql = (f"CREATE TEMP VIEW {name} AS SELECT * EXCLUDE (file_row_number, filename), "
                   f"file_row_number + 1 AS {ROW_COL}, ({fidx}::BIGINT << 40) + file_row_number AS {ORD_COL}, "
                   f"{fidx} AS {FILE_COL} FROM read_parquet({file_list}, file_row_number=true, filename=true, "
                   f"union_by_name=true)")
        else:
            sql = (f"CREATE TEMP VIEW {name} AS SELECT * EXCLUDE (file_row_number), "
                   f"file_row_number + 1 AS {ROW_COL}, file_row_number AS {ORD_COL}, 0 AS {FILE_COL} "
                   f"FROM read_parquet({file_list}, file_row_number=true)")
        sql_run(con, sql, label, table, "cannot read Parquet")
        return _finish_raw(con, name, label, files, "parquet", [("VIEW", name)])
    if fmt == "duckdb":
        return _open_duckdb(con, src, files[0], table, name, tag)
    raise SourceError(f"unknown format {fmt!r}", path=label, table=table)


def _query_connection(db_path: str | None):
    """A fresh connection for a source query: the database read-only, no other file access.

    ``enable_external_access = false`` (DuckDB refuses every file the query
    names, ATTACH, COPY and extension loading); a query without a database
    may read files under the working directory only (``allowed_directories``).
    """
    qcon = duckdb.connect(db_path, read_only=True) if db_path else duckdb.connect()
    sql_exec(qcon, "SET TimeZone = 'UTC'")
    if not db_path:
        sql_exec(qcon, f"SET allowed_directories = [{sql_literal(os.getcwd().rstrip(os.sep) + os.sep)}]")
    sql_exec(qcon, "SET enable_external_access = false")
    return qcon


def _query_into(con, t0: str, query: str, db_path: str | None, label: str, table: str) -> None:
    """Run a (checked, single-SELECT) source query on its own restricted connection into ``con``'s temp ``t0``."""
    try:
        qcon = _query_connection(db_path)
    except duckdb.Error as exc:
        raise SourceError(f"cannot open DuckDB database read-only: {first_line(exc)}", path=label,
                          table=table) from None
    try:
        try:
            arrow = to_arrow(qcon.sql(query))
        except duckdb.Error as exc:
            raise SourceError(f"query failed: {first_line(exc)}", path=label, table=table) from None
    finally:
        qcon.close()
    view = f"{t0}_arrow"
    con.register(view, arrow)
    try:
        sql_exec(con, f"CREATE TEMP TABLE {t0} AS SELECT * FROM {view}")
    finally:
        con.unregister(view)


def _open_duckdb(con, src: Source, path: str, table: str, name: str, tag: str) -> Raw:
    alias = f"_cx_db_{tag}"
    t0 = f"_cx_t0_{table}_{tag}"
    if src.query:
        _query_into(con, t0, src.query, path, path, table)
    else:
        sql_run(con, f"ATTACH {sql_literal(path)} AS {alias} (READ_ONLY)", path, table,
                "cannot open DuckDB database")
        try:
            tables = [r[0] for r in sql_exec(
                con,
                "SELECT table_name FROM duckdb_tables() WHERE database_name = ? UNION "
                "SELECT view_name FROM duckdb_views() WHERE database_name = ? AND NOT internal",
                [alias, alias])]
            wanted = src.table or (table if table in tables else (tables[0] if len(tables) == 1 else None))
            if wanted is None or wanted not in tables:
                hint = f"table {wanted!r} not found; " if wanted else "set 'table' or 'query'; "
                raise SourceError(f"{hint}the database holds {sorted(tables)}", path=path, table=table)
            sql_exec(con, f"CREATE TEMP TABLE {t0} AS SELECT * FROM {alias}.{quote_ident(wanted)}")
        finally:
            sql_exec(con, f"DETACH {alias}")
    sql_exec(con, f"CREATE TEMP VIEW {name} AS SELECT *, rowid + 1 AS {ROW_COL}, rowid AS {ORD_COL}, "
                f"0 AS {FILE_COL} FROM {t0}")
    label = path if not src.query else f"{path} (query)"
    return _finish_raw(con, name, label, [path], "duckdb", [("TABLE", t0), ("VIEW", name)])


def sql_exec(con, sql: str, params=None) -> list:
    """Execute ``sql`` and fetch every row (DuckDB requires a drained result before the next statement)."""
    return con.execute(sql, params).fetchall() if params is not None else con.execute(sql).fetchall()


def sql_run(con, sql: str, label: str, table: str, what: str) -> None:
    try:
        sql_exec(con, sql)
    except duckdb.Error as exc:
        raise SourceError(f"{what}: {first_line(exc)}", path=label, table=table) from None


def first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


_DUCKDB_NOISE = ("original line:", "possible solution", "possible fixes", "the search space", "delimiter candidates",
                 "quote/escape candidates", "comment candidates", "encoding:", "*", "file =", "delimiter =",
                 "quote =", "escape =", "new_line =", "header =", "skip_rows =", "comment =", "strict_mode =",
                 "date_format =", "timestamp_format =", "null_padding =", "sample_size =", "ignore_errors =",
                 "all_varchar =")


def duckdb_reason(exc: Exception) -> tuple[int | None, str]:
    """DuckDB's CSV error reduced to (line number or None, its reason in one line).

    DuckDB's message starts with "CSV Error on Line: N", then the original
    line (possibly megabytes long) and then the reason, followed by option
    dumps; the reason is the line worth showing.

    Examples
    --------
    >>> duckdb_reason(Exception("Invalid Input Error: CSV Error on Line: 7\\nOriginal Line: xxx\\n"
    ...                         "Maximum line size of 2000000 bytes exceeded.\\n\\nPossible Solution: …"))
    (7, 'Maximum line size of 2000000 bytes exceeded.')
    """
    msg = str(exc).strip()
    m = re.search(r"CSV Error on Line: (\d+)", msg)
    lines = [ln.strip() for ln in msg.splitlines()]
    head = re.sub(r"^[A-Za-z ]*Error: ", "", lines[0]) if lines else type(exc).__name__
    reasons = [ln for ln in lines[1:] if ln and not ln.lower().startswith(_DUCKDB_NOISE)]
    if m:
        return int(m.group(1)), (reasons[0] if reasons else head)
    return None, head + (f" ({reasons[0]})" if reasons else "")


def diagnose_csv(path: str, delimiter: str | None = None, encoding: str | None = None,
                 max_lines: int | None = None) -> str | None:
    """Find the first structural problem of a CSV file: a row with the wrong field count or an unclosed quote.

    Used when DuckDB cannot sniff a file (its message then names no line):
    the file is read with Python's strict ``csv`` reader using the header's
    delimiter, and the first row whose field count differs from the header,
    or the quote that is never closed, is named by its line number.

    Returns
    -------
    str or None
        e.g. ``"line 3 has 2 fields where the header has 3 (delimiter ',')"``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
    >>> _ = p.write_text("a,b,c\\n1,2,3\\n4,5\\n")
    >>> diagnose_csv(str(p))
    "line 3 has 2 fields where the header has 3 (delimiter ',')"
    """
    enc = {"latin-1": "latin-1", "latin1": "latin-1"}.get((encoding or "").lower(), encoding or "utf-8-sig")
    csv.field_size_limit(1 << 30)
    try:
        with open(path, newline="", encoding=enc, errors="replace") as fh:
            first = fh.readline()
            delim = delimiter or max((",", ";", "\t", "|"), key=first.count)
            if not delim or first.count(delim) == 0:
                return None
            fh.seek(0)
            reader = csv.reader(fh, delimiter=delim, strict=True)
            header = next(reader, None)
            if header is None:
                return None
            n = len(header)
            start = reader.line_num + 1
            shown = {"\t": "\\t"}.get(delim, delim)
            try:
                for row in reader:
                    if row and len(row) != n:
                        span = reader.line_num - start
                        quote = (f"; a quote on line {start} is closed only on line {reader.line_num} (a stray "
                                 "or unescaped quote: double it inside a quoted value)") if span else ""
                        return (f"line {start} has {len(row)} field{'s' if len(row) != 1 else ''} where the "
                                f"header has {n} (delimiter '{shown}'){quote}")
                    start = reader.line_num + 1
                    if max_lines and start > max_lines:
                        return None
            except csv.Error as exc:
                return (f"line {start}: {exc} — a quote opened on line {start} is never closed (a stray or "
                        "unescaped quote: double it inside a quoted value)")
    except OSError:
        return None
    return None


def _csv_error(exc: duckdb.Error, label: str, table: str, files=(), files_read=(), delimiter=None,
               encoding=None) -> SourceError:
    msg = str(exc)
    line, reason = duckdb_reason(exc)
    if "not utf-8 encoded" in msg.lower() or "invalid unicode" in msg.lower():
        where = f" (first bad bytes near line {line})" if line else ""
        return SourceError(
            f"file is not valid UTF-8{where}; exports from Excel or Windows are usually latin-1 "
            "(cp1252): set `encoding: latin-1` (or the right encoding) on the source",
            path=label, table=table)
    for orig, read in zip(files or (), files_read or files or ()):
        found = diagnose_csv(read, delimiter, None if read != orig else encoding)
        if found:
            where = f" ({orig})" if len(files) > 1 else ""
            return SourceError(f"cannot read CSV{where}: {found}. DuckDB: {reason}", path=label, table=table)
    where = f" on line {line}" if line else ""
    return SourceError(f"cannot read CSV{where}: {reason}", path=label, table=table)


def _needs_transcode(encoding: str | None) -> bool:
    return bool(encoding) and encoding.lower() not in _DUCKDB_ENCODINGS


def _transcode(files: list[str], encoding: str, tag: str, table: str | None = None) -> list[str]:
    """Re-encode files in an encoding DuckDB cannot read (e.g. cp1252, UTF-32) into temporary UTF-8 files.

    Every temporary copy is removed again if any file fails to decode.
    """
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise SourceError(f"unknown encoding {encoding!r}", path=files[0], table=table) from None
    out: list[str] = []
    try:
        for i, f in enumerate(files):
            fd, tmp = tempfile.mkstemp(prefix=f"cxlab-{tag}-{i}-", suffix=".csv")
            out.append(tmp)
            with open(f, encoding=encoding, newline="") as src, os.fdopen(fd, "w", encoding="utf-8",
                                                                           newline="") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk.lstrip("\ufeff") if dst.tell() == 0 else chunk)
    except UnicodeDecodeError as exc:
        for tmp in out:
            Path(tmp).unlink(missing_ok=True)
        raise SourceError(f"cannot decode the file as {encoding}: {exc}", path=f, table=table) from None
    except BaseException:
        for tmp in out:
            Path(tmp).unlink(missing_ok=True)
        raise
    return out


def _finish_raw(con, name, label, files, kind, objects) -> Raw:
    rel = con.sql(f"SELECT * FROM {name} LIMIT 0")
    internal = {ROW_COL, ORD_COL, FILE_COL}
    cols = [c for c in rel.columns if c not in internal]
    types = {c: str(t) for c, t in zip(rel.columns, rel.dtypes) if c not in internal}
    return Raw(name=name, label=label, files=files, columns=cols, types=types, kind=kind, objects=objects)


def _check_delimiter(raw: Raw, table: str, files=(), encoding=None) -> None:
    if len(raw.columns) == 1:
        only = raw.columns[0]
        found = [d for d in (";", ",", "\t", "|") if d in only]
        if found:
            for f in files:  # a ragged row or a stray quote also makes DuckDB's sniffer fall back to one column
                problem = diagnose_csv(f, found[0], encoding)
                if problem:
                    where = f" ({f})" if len(files) > 1 else ""
                    raise SourceError(f"cannot read CSV{where}: {problem}", path=raw.label, table=table)
            shown = {"\t": "\\t"}.get(found[0], found[0])
            raise SourceError(
                f"looks like the wrong delimiter: found 1 column {only!r}; set delimiter "
                f"(e.g. `delimiter: '{shown}'`) on the source", path=raw.label, table=table)


def drop_objects(con, objects) -> None:
    """Drop temporary DuckDB objects (views first), ignoring ones already gone."""
    for kind, name in sorted(objects, key=lambda o: o[0] != "VIEW"):
        drop_object(con, kind, name)


def to_arrow(rel) -> pa.Table:
    tbl = rel.arrow()
    return tbl.read_all() if hasattr(tbl, "read_all") else tbl
