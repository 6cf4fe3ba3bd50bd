"""Reading sources into DuckDB: CSV/Parquet/DuckDB files, globs, format detection, encodings, delimiters.

Also the row-bookkeeping column names and rule reasons shared by the loader.
"""

from __future__ import annotations

import codecs
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


_DUCKDB_ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "latin-1": "latin-1", "latin1": "latin-1",
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
    """A validated table (Arrow, with reasons) waiting for cross-table checks and collection."""

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
    if not src.path:  # a query on the connection
        t0 = f"_cx_t0_{table}_{tag}"
        sql_run(con, f"CREATE TEMP TABLE {t0} AS {src.query}", label, table, "query failed")
        sql_exec(con, f"CREATE TEMP VIEW {name} AS SELECT *, rowid + 1 AS {ROW_COL}, rowid AS {ORD_COL}, "
                    f"0 AS {FILE_COL} FROM {t0}")
        return _finish_raw(con, name, label, [], "query", [("TABLE", t0), ("VIEW", name)])

    files = _files_for(src, table)
    fmt = _detect_format(src, files)
    file_list = "[" + ", ".join(sql_literal(f) for f in files) + "]"
    if fmt == "csv":
        for f in files:
            _check_text_file(f, table)
        files_read = _transcode(files, src.encoding, tag) if _needs_transcode(src.encoding) else files
        read_list = "[" + ", ".join(sql_literal(f) for f in files_read) + "]"
        opts = ["all_varchar=true", "header=true"]
        if len(files) > 1:
            opts += ["union_by_name=true", f"filename={sql_literal(FILE_COL)}"]
        if src.delimiter:
            opts.append(f"delim={sql_literal(src.delimiter)}")
        if src.encoding and not _needs_transcode(src.encoding):
            opts.append(f"encoding={sql_literal(_DUCKDB_ENCODINGS[src.encoding.lower()])}")
        t0 = f"_cx_t0_{table}_{tag}"
        objects = [("TABLE", t0)]
        try:
            sql_exec(con, f"CREATE TEMP TABLE {t0} AS SELECT * FROM read_csv({read_list}, {', '.join(opts)})")
        except duckdb.Error as exc:
            raise _csv_error(exc, label, table) from None
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
        _check_delimiter(raw, table)
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


def _open_duckdb(con, src: Source, path: str, table: str, name: str, tag: str) -> Raw:
    alias = f"_cx_db_{tag}"
    t0 = f"_cx_t0_{table}_{tag}"
    sql_run(con, f"ATTACH {sql_literal(path)} AS {alias} (READ_ONLY)", path, table, "cannot open DuckDB database")
    try:
        if src.query:
            current = sql_exec(con, "SELECT current_database()")[0][0]
            sql_exec(con, f"USE {alias}")
            try:
                sql_run(con, f"CREATE TEMP TABLE {t0} AS {src.query}", path, table, "query failed")
            finally:
                sql_exec(con, f"USE {quote_ident(current)}")
        else:
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


def _csv_error(exc: duckdb.Error, label: str, table: str) -> SourceError:
    msg = str(exc)
    if "not utf-8 encoded" in msg.lower() or "invalid unicode" in msg.lower():
        line = re.search(r"Line: (\d+)", msg)
        where = f" (first bad bytes near line {line.group(1)})" if line else ""
        return SourceError(
            f"file is not valid UTF-8{where}; exports from Excel or Windows are usually latin-1 "
            "(cp1252): set `encoding: latin-1` (or the right encoding) on the source",
            path=label, table=table)
    return SourceError(f"cannot read CSV: {first_line(exc)}", path=label, table=table)


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


def _finish_raw(con, name, label, files, kind, objects) -> Raw:
    rel = con.sql(f"SELECT * FROM {name} LIMIT 0")
    internal = {ROW_COL, ORD_COL, FILE_COL}
    cols = [c for c in rel.columns if c not in internal]
    types = {c: str(t) for c, t in zip(rel.columns, rel.dtypes) if c not in internal}
    return Raw(name=name, label=label, files=files, columns=cols, types=types, kind=kind, objects=objects)


def _check_delimiter(raw: Raw, table: str) -> None:
    if len(raw.columns) == 1:
        only = raw.columns[0]
        found = [d for d in (";", ",", "\t", "|") if d in only]
        if found:
            shown = {"\t": "\\t"}.get(found[0], found[0])
            raise SourceError(
                f"looks like the wrong delimiter: found 1 column {only!r}; set delimiter "
                f"(e.g. `delimiter: '{shown}'`) on the source", path=raw.label, table=table)


def to_arrow(rel) -> pa.Table:
    tbl = rel.arrow()
    return tbl.read_all() if hasattr(tbl, "read_all") else tbl
