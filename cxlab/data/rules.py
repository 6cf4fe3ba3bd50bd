"""Column mapping and the row rules of a canonical table: renames, type casts, ranges, allowed values, keys.

Each rule is one SQL expression; the first rule a row breaks is its quarantine reason.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import functools
import re
import uuid
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import duckdb

from ..config import Mapping
from ..errors import SourceError, suggest
from ..schema import CX_SCALES, Column, Table
from .readers import (
    AWARE_RE,
    BUILTIN_DEFAULTS,
    DURATION_FACTORS,
    FALSE_TOKENS,
    FILE_COL,
    FREE_TEXT,
    HMS_RE,
    NULL_TOKENS,
    NUMERIC_TYPES,
    ORD_COL,
    ROW_COL,
    TRUE_TOKENS,
    ZERO_IF_ABANDONED,
    FrameSource,
    Raw,
    Stage,
    _finish_raw,
    drop_object,
    first_line,
    open_raw,
    quote_ident,
    sql_exec,
    sql_literal,
    sql_run,
    to_arrow,
)

__all__ = ["PANDAS_YEARS", "MappedStage", "unknown_allowed"]

#: years pandas can hold as nanosecond timestamps (1677-09-21 .. 2262-04-11, whole years only)
PANDAS_YEARS = (1678, 2261)

#: a naive ISO 8601 date or date-time, nothing after it
NAIVE_RE = r"^\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"

#: ISO date + 12-hour time + am/pm ("2025-03-02 10:00 pm")
AMPM_RE = r"^(\d{4}-\d{1,2}-\d{1,2})[T ](\d{1,2}):(\d{2})((?::\d{2}(?:\.\d+)?)?)\s*([AaPp])\.?[Mm]\.?$"

#: a naive date-time followed by an IANA zone name ("2025-03-02 10:00 Asia/Tokyo")
ZONE_RE = r"^(\d{4}-\d{1,2}-\d{1,2}[T ][0-9:.]+)\s+([A-Za-z]+(?:/[A-Za-z0-9_+-]+)+)$"

#: a date-time followed by letters that are a zone abbreviation (PST, CET, ...): ambiguous, quarantined
ABBR_RE = r"^\d{4}-\d{1,2}-\d{1,2}[T ][0-9:.]+\s*(?:[AaPp]\.?[Mm]\.?\s*)?[A-Za-z]{2,5}$"

#: "H.MM.SS" durations (telephony exports): read as "H:MM:SS"
DOT_HMS_RE = r"^-?\d+\.\d{1,2}\.\d{1,2}$"

#: an integer written as a float ("8702.0")
FLOAT_ID_RE = r"^-?\d+\.0+$"

_FLOAT_ID_SUB = r"^(-?\d+)\.0+$"

_FLOAT_TYPES = ("FLOAT", "DOUBLE", "REAL")


@dataclass
class MappedStage(Stage):
    """A :class:`Stage` plus what the mapping layer measured.

    ``rows_excluded`` rows were dropped by ``mapping.filter`` / ``where``
    (they are in no output); ``warnings`` are plausibility notes;
    ``source_types`` gives the source type of each mapped canonical column.
    """

    rows_excluded: int = 0
    warnings: list[str] = field(default_factory=list)
    source_types: dict[str, str] = field(default_factory=dict)
    unknown_columns: tuple[str, ...] = ()
    duration_units: dict[str, str] = field(default_factory=dict)


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


def _resolve_columns(raw: Raw, spec: Table, mapping: Mapping):
    """Map canonical columns to source columns; raise on missing required columns."""
    rename = {s: t for s, ts in mapping.rename.items() for t in (ts if isinstance(ts, list) else [ts])}
    target_of = {c: mapping.targets(c) for c in raw.columns}
    by_target: dict[str, list[str]] = {}
    for s, ts in target_of.items():
        for t in ts:
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
    extras = [(s, target_of[s][0]) for s in raw.columns if not any(t in spec.names for t in target_of[s])]
    # DuckDB names are case-insensitive: an extra named like a canonical column (or another extra) is dropped
    taken = {n.lower() for n in spec.names}
    extras = [(s, t) for s, t in extras if not (t.lower() in taken or taken.add(t.lower()))]
    if not spec.extra_ok:
        extras = []
    return present, extras


def _missing_message(missing, raw: Raw, spec: Table, rename, present) -> str:
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
    return "(" + " OR ".join(f"{expr} = {sql_literal(v)}" for v in values) + ")"


def _parsed(v: str, src: str, out: str, bad: str) -> list[str]:
    """Select items: ``v`` as ``out``, and ``bad`` true where ``src`` holds a value ``v`` cannot read."""
    return [f"{v} AS {out}", f"({src} IS NOT NULL AND {v} IS NULL) AS {bad}"]


def _text_value(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _is_id(col: Column) -> bool:
    return col.dtype == "VARCHAR" and col.name.endswith("_id")


def _input_expr(col: Column, src_col: str | None, raw: Raw, mapping: Mapping, spec: Table, float_fix: bool = True):
    """SQL for a canonical column's input and its kind: 'text', the DuckDB type, or 'null'.

    Then, for id columns, integers written as floats ("8702.0", or a float
    column) become "8702"; last, the mapping's ``unknown`` sentinels become null.
    """
    expr, kind = _base_input(col, src_col, raw, mapping, spec)
    if kind == "null":
        return expr, kind
    if _is_id(col) and float_fix:
        if kind == "text":
            expr = f"regexp_replace({expr}, {sql_literal(_FLOAT_ID_SUB)}, '\\1')"
        elif kind.split("(")[0] in _FLOAT_TYPES or kind.startswith("DECIMAL"):
            expr = (f"(CASE WHEN {expr} = round({expr}) AND abs({expr}) < 9e15 THEN CAST(CAST({expr} AS BIGINT) "
                    f"AS VARCHAR) ELSE CAST({expr} AS VARCHAR) END)")
            kind = "text"
    sentinels = [_text_value(v) for v in mapping.unknown.get(col.name, [])]
    if sentinels:
        vals = [v for v in sentinels if v is not None]
        if vals:
            test = expr if kind == "text" else f"CAST({expr} AS VARCHAR)"
            expr = f"(CASE WHEN {_one_of(test, vals)} THEN NULL ELSE {expr} END)"
    return expr, kind


def _base_input(col: Column, src_col: str | None, raw: Raw, mapping: Mapping, spec: Table):
    """SQL for a canonical column's input and its kind: 'text', the DuckDB type, or 'null'."""
    if src_col is None:
        default = mapping.defaults.get(col.name, BUILTIN_DEFAULTS.get((spec.name, col.name)))
        if default is None:
            return "NULL", "null"
        return sql_literal(_text_value(default)), "text"
    ref = quote_ident(src_col)
    typ = raw.types[src_col]
    vmap = mapping.values.get(col.name)
    if vmap:
        text = f"trim(CAST({ref} AS VARCHAR))"
        whens = " ".join(
            f"WHEN {sql_literal(_text_value(k))} THEN {('NULL' if v is None else sql_literal(_text_value(v)))}"
            for k, v in vmap.items() if k is not None)
        expr = f"CASE {text} {whens} ELSE {text} END"
        typ = "VARCHAR"
    elif typ == "VARCHAR" and raw.kind == "csv":
        expr = f"trim({ref})"
    elif typ == "VARCHAR":  # typed sources: text is taken as is (CSV text is trimmed)
        return f"NULLIF({ref}, '')", "text"
    else:
        return ref, typ
    if col.name in FREE_TEXT or raw.kind != "csv":
        return f"NULLIF({expr}, '')", "text"
    return (f"(CASE WHEN strlen({expr}) <= 4 AND {_one_of(f'lower({expr})', [t for t in NULL_TOKENS if t])} "
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


def _build_checks(con, raw: Raw, spec: Table, mapping: Mapping, timezone: str, *, raw_text_all: bool = False,
                  rows_excluded: int = 0, formats: dict[str, str] | None = None, notes: list[str] | None = None,
                  keep: tuple[str, ...] | None = None):
    """Run the validating SELECT; return an Arrow table and the extra column names.

    ``keep``: only these canonical columns (and no extras) in the Arrow table
    (every rule still runs on every column); for counting without the rows.

    The Arrow table holds the canonical columns, the extras, the bookkeeping
    columns (``__cx_row``, ``__cx_ord``, ``__cx_file``), ``__cx_reason`` and
    ``__cx_reasons`` (null on accepted rows) and the source row as a list of
    text (``__cx_raw``, filled on quarantined rows, or on every row with
    ``raw_text_all`` so that later cross-table checks can quarantine them).
    """
    present, extras = _resolve_columns(raw, spec, mapping)
    formats = formats or {}
    notes = notes if notes is not None else []
    ts_format = {c: formats.get(present.get(c), mapping.timestamp_format) for c in spec.names}
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
        inputs[col.name], kinds[col.name] = _input_expr(col, present.get(col.name), raw, mapping, spec,
                                                        float_fix=False)

    def _a_sql() -> str:
        a_all = ([ROW_COL, ORD_COL, FILE_COL] + [f"{inputs[c]} AS {quote_ident('__cx_i_' + c)}" for c in names]
                 + [f"{quote_ident(s)} AS {quote_ident(t)}" for s, t in extras]
                 + [f"{quote_ident(s)} AS __cx_src_{k}" for k, s in enumerate(raw.columns)])
        return f"SELECT {', '.join(a_all)} FROM {raw.name}"

    a_sql = _a_sql()

    # pre-pass: rows read; per text timestamp column the kinds of text (offset, naive ISO, zone name, other)
    ts_text = [c.name for c in spec.columns if c.dtype == "TIMESTAMPTZ" and kinds[c.name] == "text"
               and not ts_format[c.name]]
    pre = ["count(*)"]
    for c in ts_text:
        i = quote_ident("__cx_i_" + c)
        off = f"regexp_matches({i}, {sql_literal(AWARE_RE)})"
        naive = f"regexp_full_match({i}, {sql_literal(NAIVE_RE)})"
        rest = f"NOT {off} AND NOT {naive}"
        zoned = f"{rest} AND regexp_full_match({i}, {sql_literal(ZONE_RE)})"
        pre += [f"count({i})", f"count({i}) FILTER (WHERE {off})", f"count({i}) FILTER (WHERE {zoned})",
                f"count({i}) FILTER (WHERE {rest})",
                f"list(DISTINCT regexp_extract({i}, {sql_literal(ZONE_RE)}, 2)) FILTER (WHERE {zoned})"]
    src_index = {s: k for k, s in enumerate(raw.columns)}
    float_ids = []
    for col in spec.columns:
        sc = present.get(col.name)
        if not _is_id(col) or sc is None:
            continue
        ref = f"__cx_src_{src_index[sc]}"
        typ = raw.types[sc]
        if typ == "VARCHAR":
            looks = f"contains({ref}, '.') AND regexp_full_match(trim({ref}), {sql_literal(FLOAT_ID_RE)})"
        elif typ.split("(")[0] in _FLOAT_TYPES or typ.startswith("DECIMAL"):
            looks = f"{ref} = round({ref})"
        else:
            continue
        float_ids.append((col.name, sc, looks))
    # without text timestamps the pre-pass needs no scan of its own (a row count is metadata): the
    # float-id test then rides along in the validating query as one flag column, and in the rare
    # case that it finds such ids the table is validated again with the ids read as integers
    fold = bool(float_ids) and not ts_text
    if not fold:
        pre += [f"count(*) FILTER (WHERE {looks})" for _, _, looks in float_ids]
    pre_sql = f"WITH a AS NOT MATERIALIZED ({a_sql}) SELECT {', '.join(pre)} FROM a"
    try:
        counts = sql_exec(con, pre_sql)[0]
    except duckdb.Error as exc:
        raise SourceError(f"cannot read the source: {first_line(exc)}", path=raw.label,
                          table=spec.name) from None
    if counts[0] == 0 and rows_excluded == 0 and raw.kind in ("csv", "parquet"):
        raise SourceError("the file has a header but no data rows (0 rows)", path=raw.label, table=spec.name)

    def _fix_float_ids(found) -> bool:
        fixed = False
        for (c, sc, _), n in zip(float_ids, found):
            if n:
                notes.append(f"{spec.name}.{c}: {n:,} ids written as floats (source column {sc!r}, e.g. '8702.0') "
                             "were read as integers ('8702'); export ids as text to be sure none lost digits")
                inputs[c], kinds[c] = _input_expr(spec.column(c), sc, raw, mapping, spec)
                fixed = True
        return fixed

    if not fold and _fix_float_ids(counts[1 + 5 * len(ts_text):]):
        a_sql = _a_sql()
    minority: dict[str, str] = {}
    ts_info: dict[str, tuple[bool, list[str]]] = {}
    for k, c in enumerate(ts_text):
        n_all, n_off, n_zoned, n_rest, zones = counts[1 + 5 * k: 6 + 5 * k]
        n_aware = n_off + n_zoned
        n_naive = n_all - n_aware  # every non-null value that is not aware (garbage included)
        if n_aware and n_naive:
            minority[c] = "aware" if n_aware < n_naive else "naive"
        ts_info[c] = (n_rest > 0, sorted(z for z in (zones or []) if _known_zone(z)))

    def _ctes(cols, a_sql: str) -> str:
        """The stages a (inputs) .. d (final values) for the canonical columns ``cols``."""
        col_names = {c.name for c in cols}
        # stage b: parse
        b_cols = []
        for col in cols:
            c, k = col.name, kinds[col.name]
            i = quote_ident("__cx_i_" + c)
            out = quote_ident(c)
            bad = quote_ident("__cx_bad_" + c)
            if k == "null" and col.dtype in ("VARCHAR", "DOUBLE", "BOOLEAN", "DATE"):  # absent: typed nulls
                b_cols += [f"NULL::{col.dtype} AS {out}", f"false AS {bad}"]
            elif col.dtype == "VARCHAR":
                expr = i if k in ("text",) else f"CAST({i} AS VARCHAR)"
                b_cols += [f"{expr} AS {out}", f"false AS {bad}"]
            elif col.dtype == "DOUBLE":
                unit = mapping.duration_units.get(c, mapping.duration_unit) if _is_duration(col) else "s"
                if k == "text" and unit == "hms":
                    hx = quote_ident("__cx_hx_" + c)
                    b_cols += [f"regexp_extract({_hms_text(i)}, {sql_literal(HMS_RE)}, ['neg', 'h', 'm', 's']) AS {hx}",
                               f"NULL::DOUBLE AS {out}"]
                elif k == "text":
                    pct = quote_ident("__cx_pct_" + c)
                    has_pct = f"coalesce(regexp_matches({i}, '%\\s*$'), false)"
                    num = f"TRY_CAST(trim(regexp_replace({i}, '%\\s*$', '')) AS DOUBLE)"
                    if c in mapping.percent:
                        v, pct_bad = f"({num} / 100.0)", "false"
                    elif _is_fraction(col):
                        v, pct_bad = f"(CASE WHEN {has_pct} THEN {num} / 100.0 ELSE {num} END)", "false"
                    else:
                        v, pct_bad = f"TRY_CAST({i} AS DOUBLE)", has_pct
                    if _is_duration(col):
                        clock = (f"coalesce(regexp_full_match({i}, {sql_literal(HMS_RE)}) "
                                 f"OR regexp_full_match({i}, {sql_literal(DOT_HMS_RE)}), false)")
                        b_cols.append(f"{clock} AS {quote_ident('__cx_clock_' + c)}")
                    b_cols += [f"{v} * {DURATION_FACTORS[unit]} AS {out}", f"{pct_bad} AS {pct}",
                               f"({i} IS NOT NULL AND NOT coalesce(isfinite({v}), false)) AS {bad}"]
                elif k.split("(")[0] in NUMERIC_TYPES or k.startswith("DECIMAL"):
                    v = f"CAST({i} AS DOUBLE)"
                    scale = " / 100.0" if c in mapping.percent else ""
                    b_cols += [f"(CASE WHEN isnan({v}) THEN NULL ELSE {v} END) * {DURATION_FACTORS.get(unit, 1.0)}"
                               f"{scale} AS {out}", f"coalesce(isinf({v}), false) AS {bad}"]
                else:
                    v = f"TRY_CAST(CAST({i} AS VARCHAR) AS DOUBLE)"
                    b_cols += _parsed(v, i, out, bad)
            elif col.dtype == "BOOLEAN":
                if k == "BOOLEAN":
                    b_cols += [f"{i} AS {out}", f"false AS {bad}"]
                else:
                    t = i if k == "text" else f"CAST({i} AS VARCHAR)"
                    v = (f"(CASE WHEN {_one_of(f'lower({t})', TRUE_TOKENS)} THEN true "
                         f"WHEN {_one_of(f'lower({t})', FALSE_TOKENS)} THEN false END)")
                    b_cols += _parsed(v, t, out, bad)
            elif col.dtype == "DATE":
                if k == "text":
                    if mapping.date_format:
                        v = f"CAST(try_strptime({i}, {sql_literal(mapping.date_format)}) AS DATE)"
                    else:
                        v = f"coalesce(TRY_CAST({i} AS DATE), CAST(TRY_CAST({i} AS TIMESTAMP) AS DATE))"
                    b_cols += _parsed(v, i, out, bad)
                else:
                    v = f"TRY_CAST({i} AS DATE)"
                    b_cols += _parsed(v, i, out, bad)
            elif col.dtype == "TIMESTAMPTZ":
                loc, awr, isaw = quote_ident("__cx_l_" + c), quote_ident("__cx_a_" + c), quote_ident("__cx_aw_" + c)
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
                    fmt = ts_format[c]
                    if fmt and ("%z" in fmt or "%Z" in fmt):
                        v = f"CAST(try_strptime({t}, {sql_literal(fmt)}) AS TIMESTAMPTZ)"
                        b_cols += [f"NULL::TIMESTAMP AS {loc}", f"{v} AS {awr}", f"true AS {isaw}",
                                   f"({t} IS NOT NULL AND {v} IS NULL) AS {bad}"]
                    elif fmt:
                        v = f"CAST(try_strptime({t}, {sql_literal(fmt)}) AS TIMESTAMP)"
                        b_cols += [f"{v} AS {loc}", f"NULL::TIMESTAMPTZ AS {awr}", f"false AS {isaw}",
                                   f"({t} IS NOT NULL AND {v} IS NULL) AS {bad}"]
                    else:
                        lv, av, aw, abbr = _timestamp_text(t, *ts_info.get(c, (True, [])))
                        b_cols += [f"{lv} AS {loc}", f"{av} AS {awr}", f"{aw} AS {isaw}",
                                   f"coalesce({abbr}, false) AS {quote_ident('__cx_abbr_' + c)}",
                                   f"({t} IS NOT NULL AND {lv} IS NULL AND {av} IS NULL) AS {bad}"]
            else:  # pragma: no cover - schema types are fixed
                raise TypeError(f"unsupported canonical type {col.dtype}")

        # stage c: durations from H:MM:SS, timestamps localized, DST status
        c_replace, c_new = [], []
        dst_dates = _dst_dates(tz) if tz not in ("UTC", "Etc/UTC", "GMT") else ()
        for col in cols:
            c, k = col.name, kinds[col.name]
            out, bad = quote_ident(c), quote_ident("__cx_bad_" + c)
            if col.dtype == "DOUBLE" and k == "text" and _is_duration(col) and \
                    mapping.duration_units.get(c, mapping.duration_unit) == "hms":
                hx, i = quote_ident("__cx_hx_" + c), quote_ident("__cx_i_" + c)
                ok = (f"(regexp_full_match({_hms_text(i)}, {sql_literal(HMS_RE)}) AND TRY_CAST({hx}.s AS DOUBLE) < 60 "
                      f"AND ({hx}.h = '' OR TRY_CAST({hx}.m AS DOUBLE) < 60))")
                val = (f"(CASE WHEN {hx}.neg = '-' THEN -1 ELSE 1 END) * (coalesce(TRY_CAST(NULLIF({hx}.h, '') "
                       f"AS DOUBLE), 0) * 3600 + TRY_CAST({hx}.m AS DOUBLE) * 60 + TRY_CAST({hx}.s AS DOUBLE))")
                c_replace.append(f"(CASE WHEN {ok} THEN {val} END) AS {out}")
                c_new.append(f"({i} IS NOT NULL AND NOT coalesce({ok}, false)) AS {bad}")
            elif col.dtype == "TIMESTAMPTZ":
                loc, awr, isaw = quote_ident("__cx_l_" + c), quote_ident("__cx_a_" + c), quote_ident("__cx_aw_" + c)
                c_new.append(f"(CASE WHEN {isaw} THEN {awr} ELSE timezone({sql_literal(tz)}, {loc}) END) AS {out}")
                dst = quote_ident("__cx_dst_" + c)
                if dst_dates and k != "TIMESTAMP WITH TIME ZONE" and k != "null":
                    dates = ", ".join(f"DATE {sql_literal(d)}" for d in dst_dates)
                    off = {s: (f"(timezone({sql_literal(tz)}, timezone('UTC', {loc} {s} INTERVAL 1 DAY)) "
                               f"- ({loc} {s} INTERVAL 1 DAY))") for s in ("-", "+")}
                    okk = {s: f"(timezone({sql_literal(tz)}, timezone('UTC', {loc} - {off[s]})) = {loc})" for s in off}
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
            for c in (c for c in (*ZERO_IF_ABANDONED, "wait_s") if c in col_names):
                out, bad = quote_ident(c), quote_ident("__cx_bad_" + c)
                when = [] if c == "wait_s" else ["abandoned"]
                if rq:
                    when.append(f"NOT {rq}")
                if when:
                    d_replace.append(f"(CASE WHEN ({' OR '.join(when)}) AND {out} IS NULL AND NOT {bad} THEN 0.0 "
                                     f"ELSE {out} END) AS {out}")
        d_sql = "SELECT * " + (f"REPLACE ({', '.join(d_replace)})" if d_replace else "")

        # the stages are inlined (NOT MATERIALIZED) so that DuckDB streams them and prunes unused columns
        return (f"a AS NOT MATERIALIZED ({a_sql}), b AS NOT MATERIALIZED (SELECT *, {', '.join(b_cols)} FROM a), "
                f"c AS NOT MATERIALIZED ({c_sql} FROM b), d AS NOT MATERIALIZED ({d_sql} FROM c)")


    rq = _reached_expr(spec, extras)
    ctes = _ctes(spec.columns, a_sql)

    # no order is kept from here on: the rows come back in any order (both cores scan, no ordered
    # collector); __cx_ord is the source order, and collect_stage restores it where it matters
    order_before = _insertion_order(con)
    if order_before:
        sql_exec(con, "SET preserve_insertion_order = false")
    try:
        flags = None
        if fold:
            flags = "(" + " + ".join(f"(CASE WHEN {looks} THEN {1 << k} ELSE 0 END)"
                                     for k, (_, _, looks) in enumerate(float_ids)) + ")"
        tbl, extra_names = _validate_rows(con, raw, spec, inputs, kinds, present, extras, mapping, minority,
                                          ts_format, _ctes, ctes, rq, raw_text_all, flags=flags, keep=keep)
        if fold:
            bits = tbl["__cx_fid"].to_numpy(zero_copy_only=False).astype("int64")
            tbl = tbl.drop_columns(["__cx_fid"])
            if _fix_float_ids([int(((bits >> k) & 1).sum()) for k in range(len(float_ids))]):
                del tbl
                tbl, extra_names = _validate_rows(con, raw, spec, inputs, kinds, present, extras, mapping,
                                                  minority, ts_format, _ctes, _ctes(spec.columns, _a_sql()), rq,
                                                  raw_text_all, keep=keep)
        return tbl, extra_names
    finally:
        if order_before:
            sql_exec(con, "SET preserve_insertion_order = true")


def _insertion_order(con) -> bool:
    return sql_exec(con, "SELECT current_setting('preserve_insertion_order')")[0][0] in (True, "true")


def _validate_rows(con, raw: Raw, spec: Table, inputs, kinds, present, extras, mapping: Mapping, minority,
                   ts_format, _ctes, ctes: str, rq, raw_text_all: bool, flags: str | None = None,
                   keep: tuple[str, ...] | None = None):
    """The duplicate-key pass and the validating SELECT of :func:`_build_checks` (Arrow, in no order).

    ``flags``: an SQL expression over the stage-a columns returned as an
    extra column ``__cx_fid`` (the float-id test of the pre-pass).
    """
    names = spec.names
    # duplicates: every row whose key was already seen in an earlier source row (one pass over the keys)
    dup_table = None
    if spec.key:
        dup_table = f"_cx_dup_{spec.name}_{uuid.uuid4().hex[:10]}"
        key_cols = [spec.column(k) for k in spec.key]
        a_key = (f"SELECT {ORD_COL}, " + ", ".join(f"{inputs[k]} AS {quote_ident('__cx_i_' + k)}" for k in spec.key)
                 + f" FROM {raw.name}")
        keys = ", ".join(quote_ident(k) for k in spec.key)
        notnull = " AND ".join(f"{quote_ident(k)} IS NOT NULL" for k in spec.key if not spec.column(k).nullable) or "true"
        # two phases: the keys seen more than once with their first row (a hash aggregate without lists),
        # then every later row of those keys (a join against the few repeated keys)
        same = " AND ".join(f"d.{quote_ident(k)} IS NOT DISTINCT FROM g.{quote_ident(k)}" for k in spec.key)
        sql_run(con, f"CREATE TEMP TABLE {dup_table} AS WITH {_ctes(key_cols, a_key)}, "
                  f"g AS (SELECT {keys}, min({ORD_COL}) AS __cx_first FROM d WHERE {notnull} GROUP BY {keys} "
                  f"HAVING count(*) > 1) "
                  f"SELECT d.{ORD_COL} FROM d JOIN g ON {same} WHERE d.{ORD_COL} > g.__cx_first",
             raw.label, spec.name, "cannot validate the source")
    try:
        has_dups = dup_table is not None and sql_exec(con, f"SELECT count(*) FROM {dup_table}")[0][0] > 0
        # reasons, in rule order
        rules = _rules(spec, kinds, present, mapping, minority, ts_format=ts_format, rq=rq)
        # the duplicate test is one column (one semi-join probe), referenced by the rule and its reason
        dup_col = f"{ORD_COL} IN (SELECT {ORD_COL} FROM {dup_table})" if has_dups else "false"
        if has_dups:
            rules.append(("__cx_dup", _key_reason(spec)))
        conds = " OR ".join(f"({cond})" for cond, _ in rules) or "false"
        parts = ", ".join(f"CASE WHEN {cond} THEN {sql_literal(reason)} END" for cond, reason in rules)
        reasons = f"concat_ws('; ', {parts})" if rules else "NULL::VARCHAR"
        with_raw = "true" if raw_text_all else "__cx_bad"
        # the source row as text, in one list column (cheaper than a mostly-null column per source column)
        items = ", ".join(f"CAST(__cx_src_{k} AS VARCHAR)" for k in range(len(raw.columns)))
        raw_text = [f"CASE WHEN {with_raw} THEN [{items}]::VARCHAR[] END AS __cx_raw"]
        shown = names if keep is None else [n for n in names if n in keep]
        final_cols = ([ROW_COL, ORD_COL, FILE_COL] + [quote_ident(n) for n in shown]
                      + ([quote_ident(t) for _, t in extras] if keep is None else []))
        sql = (f"WITH {ctes}, d2 AS NOT MATERIALIZED (SELECT *, {dup_col} AS __cx_dup FROM d), "
               f"e AS NOT MATERIALIZED (SELECT *, coalesce({conds}, false) AS __cx_bad FROM d2), "
               f"f AS NOT MATERIALIZED (SELECT {', '.join(final_cols)}, CASE WHEN __cx_bad THEN {reasons} END AS __cx_reasons, "
               f"{', '.join(raw_text + ([f'{flags} AS __cx_fid'] if flags else []) + ['true AS __cx_end'])} FROM e) "
               f"SELECT * EXCLUDE (__cx_end), split_part(__cx_reasons, '; ', 1) AS __cx_reason FROM f")
        try:
            tbl = to_arrow(con.sql(sql))
        except duckdb.Error as exc:
            raise SourceError(f"cannot validate the source: {first_line(exc)}", path=raw.label,
                              table=spec.name) from None
    finally:
        if dup_table:
            drop_object(con, "TABLE", dup_table)
    return tbl, [t for _, t in extras]


def _reached_expr(spec: Table, extras) -> str | None:
    """SQL for "this contact reached a queue" (``reached_queue``, default true), or None without the column."""
    if spec.name != "interactions":
        return None
    if "reached_queue" in spec.names or "reached_queue" in [t for _, t in extras]:
        return '(coalesce(TRY_CAST("reached_queue" AS BOOLEAN), true))'
    return None


def _is_fraction(col: Column) -> bool:
    """A share in [0, 1] (service level, abandon rate, top-box share): '94.01%' text reads as 0.9401."""
    return col.dtype == "DOUBLE" and col.low == 0 and col.high == 1


def _has_pct_flag(col: Column, kind: str, mapping: Mapping) -> bool:
    unit = mapping.duration_units.get(col.name, mapping.duration_unit) if _is_duration(col) else "s"
    return col.dtype == "DOUBLE" and kind == "text" and unit != "hms"


def _has_abbr_flag(col: Column, kind: str, fmt) -> bool:
    return (col.dtype == "TIMESTAMPTZ" and not fmt and kind not in ("null", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP",
                                                                     "DATE") and not kind.startswith("TIMESTAMP_"))


def _hms_text(i: str) -> str:
    """``H.MM.SS`` text (e.g. '0.02.23') as ``H:MM:SS``; anything else unchanged."""
    return f"(CASE WHEN regexp_full_match({i}, {sql_literal(DOT_HMS_RE)}) THEN replace({i}, '.', ':') ELSE {i} END)"


def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except Exception:
        return False
    return True


def _timestamp_text(t: str, others: bool = True, zones=()):
    """Strict parsing of timestamp text without a format: (local, aware, is_aware, is_abbreviation) SQL.

    Accepted: naive ISO 8601 (a local time), ISO with ``Z`` / ``UTC`` / an
    offset, ISO with a 12-hour clock and am/pm (``10:00 pm`` = 22:00), and
    ISO followed by an IANA zone name (``2025-03-02 10:00 Asia/Tokyo``).
    Anything else (trailing text such as ``PST``) is null, so the row is
    quarantined instead of read as local time with the suffix dropped.
    ``others`` False (the pre-pass saw only naive ISO and offset values)
    gives the cheap form; ``zones`` are the zone names seen (valid ones).
    """
    if not others:
        aw = f"coalesce(regexp_matches({t}, {sql_literal(AWARE_RE)}), false)"
        return (f"(CASE WHEN NOT {aw} THEN TRY_CAST({t} AS TIMESTAMP) END)",
                f"(CASE WHEN {aw} THEN TRY_CAST({t} AS TIMESTAMPTZ) END)", aw, "false")
    aw_re, zone_re = sql_literal(AWARE_RE), sql_literal(ZONE_RE)
    offset = f"coalesce(regexp_matches({t}, {aw_re}), false)"
    zoned = f"coalesce(regexp_full_match({t}, {zone_re}), false)"
    aw = f"({offset} OR {zoned})"
    ap = f"regexp_extract({t}, {sql_literal(AMPM_RE)}, ['d', 'h', 'm', 's', 'p'])"
    hour = f"TRY_CAST({ap}.h AS INTEGER)"
    ampm = (f"(CASE WHEN {hour} BETWEEN 1 AND 12 THEN TRY_CAST({ap}.d || ' ' || "
            f"CAST(({hour} % 12) + (CASE WHEN lower({ap}.p) = 'p' THEN 12 ELSE 0 END) AS VARCHAR) || ':' || "
            f"{ap}.m || {ap}.s AS TIMESTAMP) END)")
    lv = (f"(CASE WHEN {aw} THEN NULL WHEN regexp_full_match({t}, {sql_literal(NAIVE_RE)}) "
          f"THEN TRY_CAST({t} AS TIMESTAMP) WHEN regexp_full_match({t}, {sql_literal(AMPM_RE)}) THEN {ampm} END)")
    zx = f"regexp_extract({t}, {zone_re}, ['ts', 'zone'])"
    known = _one_of(f"{zx}.zone", zones) if zones else "false"
    zv = (f"(CASE WHEN {known} "
          f"AND regexp_full_match({zx}.ts, {sql_literal(NAIVE_RE)}) "
          f"THEN timezone({zx}.zone, TRY_CAST({zx}.ts AS TIMESTAMP)) END)")
    av = f"(CASE WHEN {zoned} THEN {zv} WHEN {offset} THEN TRY_CAST({t} AS TIMESTAMPTZ) END)"
    abbr = (f"(NOT {aw} AND regexp_full_match({t}, {sql_literal(ABBR_RE)}) "
            f"AND NOT regexp_full_match({t}, {sql_literal(AMPM_RE)}))")
    return lv, av, aw, abbr


def _rules(spec: Table, kinds, present, mapping: Mapping, minority, *, ts_format=None,
           rq: str | None = None) -> list[tuple[str, str]]:
    ts_format = ts_format or {}
    rules: list[tuple[str, str]] = []
    for col in spec.columns:
        c = col.name
        v, bad = quote_ident(c), quote_ident("__cx_bad_" + c)
        absent = kinds[c] == "null"
        if not col.nullable and not absent and not (c in mapping.unknown and unknown_allowed(spec, c)):
            rules.append((f"{v} IS NULL AND NOT {bad}", f"{c}: missing value"))
        if absent:
            continue
        kind = {"TIMESTAMPTZ": "timestamp", "DATE": "date", "BOOLEAN": "boolean", "VARCHAR": None}.get(col.dtype)
        if col.dtype == "DOUBLE":
            unit = mapping.duration_units.get(c, mapping.duration_unit) if _is_duration(col) else "s"
            kind = "duration" if unit == "hms" and kinds[c] == "text" else "number"
        if _has_pct_flag(col, kinds[c], mapping):
            rules.append((quote_ident("__cx_pct_" + c), f"{c}: percent text in a column that is not a fraction"))
        if _has_pct_flag(col, kinds[c], mapping) and _is_duration(col):
            rules.append((quote_ident("__cx_clock_" + c),
                          f"{c}: clock-style duration text such as 0:02:23 (set mapping.duration_units: "
                          f"{{{c}: hms}})"))
        if _has_abbr_flag(col, kinds[c], ts_format.get(c)):
            rules.append((quote_ident("__cx_abbr_" + c),
                          f"{c}: ambiguous time zone abbreviation such as PST (give an offset such as -08:00 "
                          "or an IANA name such as America/Los_Angeles)"))
        if kind:
            rules.append((bad, f"{c}: unparseable {kind}"))
        if col.dtype == "TIMESTAMPTZ":
            # the same test as year() in the UTC session, as two comparisons of instants: year() of a
            # TIMESTAMPTZ goes through ICU's calendar, row by row, and was a large part of the load
            lo, hi = PANDAS_YEARS
            rules.append((f"NOT ({v} >= TIMESTAMPTZ '{lo:04d}-01-01 00:00:00+00' AND "
                          f"{v} < TIMESTAMPTZ '{hi + 1:04d}-01-01 00:00:00+00')", f"{c}: year outside {lo}-{hi}"))
        elif col.dtype == "DATE":
            lo, hi = PANDAS_YEARS
            rules.append((f"year({v}) NOT BETWEEN {lo} AND {hi}", f"{c}: year outside {lo}-{hi}"))
        if col.dtype == "TIMESTAMPTZ":
            isaw = quote_ident("__cx_aw_" + c)
            if minority.get(c) == "aware":
                rules.append((f"{isaw} AND NOT {bad}", f"{c}: aware timestamp among naive ones (mixed time zones)"))
            elif minority.get(c) == "naive":
                rules.append((f"NOT {isaw} AND {quote_ident('__cx_i_' + c)} IS NOT NULL AND NOT {bad}",
                              f"{c}: naive timestamp among aware ones (mixed time zones)"))
            dst = quote_ident("__cx_dst_" + c)
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
            ("NOT abandoned AND agent_id IS NULL" + (f" AND {rq}" if rq else ""), "answered contact without an agent"),
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


def unknown_allowed(spec: Table, column: str) -> bool:
    """Whether a null from ``mapping.unknown`` is accepted (as *unknown*) in ``column``.

    Id columns outside the table's key (``customer_id``, ``agent_id``) may be
    unknown; in any other non-nullable column a sentinel still quarantines
    the row as ``<col>: missing value``.
    """
    return column.endswith("_id") and column not in spec.key


def _check_mapping_names(raw: Raw, spec: Table, mapping: Mapping) -> None:
    for key in ("unknown", "percent"):
        for c in getattr(mapping, key):
            if c not in spec.names:
                raise SourceError(f"mapping.{key} names {c!r}, which is not a column of table {spec.name!r}"
                                  f"{suggest(c, spec.names)}; columns: {spec.names}", path=raw.label,
                                  table=spec.name)


def _duplicate_header(raw: Raw, src) -> str | None:
    """A column name that appears twice in a CSV header or a DataFrame, or None."""
    if isinstance(src, FrameSource):
        cols = [str(c) for c in src.frame.columns]
        dups = [c for i, c in enumerate(cols) if c in cols[:i]]
        return dups[0] if dups else None
    if raw.kind != "csv":
        return None
    enc = (getattr(src, "encoding", None) or "utf-8")
    for f in raw.files:
        try:
            with open(f, encoding=enc, errors="replace", newline="") as fh:
                line = fh.readline()
        except (OSError, LookupError):
            continue
        line = line.lstrip("\ufeff")
        delim = getattr(src, "delimiter", None) or max(",;\t|", key=line.count)
        names = [n.strip() for n in next(csv.reader([line], delimiter=delim), [])]
        seen = set()
        for n in names:
            if n and n in seen:
                return n
            seen.add(n)
    return None


def _mapping_layer(con, raw: Raw, spec: Table, mapping: Mapping):
    """Derived columns and row filters, as a view over the raw source.

    Returns ``(raw, rows_excluded, formats, objects)``: the view as a
    :class:`Raw` (source columns, then the derived ones), the rows the
    filter dropped, the strptime format of each date + time column, and the
    view to drop afterwards.
    """
    derive = dict(mapping.derive)
    if mapping.not_offered and "reached_queue" not in derive:
        from ..config import Derived

        derive["reached_queue"] = Derived(expr=f"NOT coalesce(({mapping.not_offered}), false)")
    if not derive and not mapping.filter and not mapping.where:
        return raw, 0, {}, []
    cols = set(raw.columns)
    exprs, formats = [], {}
    for name, d in derive.items():
        if name in cols:
            raise SourceError(f"mapping.derive.{name}: the source already has a column {name!r}; "
                              "derive under another name or rename the source column", path=raw.label,
                              table=spec.name)
        if d.expr is not None:
            e = f"({d.expr})"
        else:
            for part in (d.date, d.time):
                if part not in cols:
                    raise SourceError(f"mapping.derive.{name}: no source column {part!r}{suggest(part, cols)}; "
                                      f"available columns: {raw.columns}", path=raw.label, table=spec.name)
            dd, tt = (f"trim(CAST({quote_ident(x)} AS VARCHAR))" for x in (d.date, d.time))
            e = f"(CASE WHEN NULLIF({dd}, '') IS NULL OR NULLIF({tt}, '') IS NULL THEN NULL ELSE {dd} || ' ' || {tt} END)"
            if d.format:
                formats[name] = d.format
        try:
            sql_exec(con, f"SELECT {e} FROM {raw.name} LIMIT 0")
        except duckdb.Error as exc:
            raise SourceError(f"mapping.derive.{name}: {first_line(exc)}; available columns: {raw.columns}",
                              path=raw.label, table=spec.name) from None
        exprs.append(f"{e} AS {quote_ident(name)}")
    inner = f"SELECT *{', ' if exprs else ''}{', '.join(exprs)} FROM {raw.name}"
    keep = []
    if mapping.filter:
        keep.append(f"({mapping.filter})")
    all_cols = list(raw.columns) + list(derive)
    for c, v in mapping.where.items():
        if c not in all_cols:
            raise SourceError(f"mapping.where: no source column {c!r}{suggest(c, all_cols)}; "
                              f"available columns: {all_cols}", path=raw.label, table=spec.name)
        vals = v if isinstance(v, list) else [v]
        text = f"trim(CAST({quote_ident(c)} AS VARCHAR))"
        parts = [f"{text} = {sql_literal(_text_value(x))}" for x in vals if x is not None]
        if any(x is None for x in vals):
            parts.append(f"NULLIF({text}, '') IS NULL")
        keep.append("(" + " OR ".join(parts or ["false"]) + ")")
    cond = " AND ".join(keep) or "true"
    try:
        n_all, n_keep = sql_exec(con, f"SELECT count(*), count(*) FILTER (WHERE coalesce({cond}, false)) "
                                      f"FROM ({inner})")[0]
    except duckdb.Error as exc:
        raise SourceError(f"mapping.filter / where: {first_line(exc)}; available columns: {all_cols}",
                          path=raw.label, table=spec.name) from None
    view = f"_cx_map_{spec.name}_{uuid.uuid4().hex[:10]}"
    sql_exec(con, f"CREATE TEMP VIEW {view} AS SELECT * FROM ({inner}) WHERE coalesce({cond}, false)")
    mapped = _finish_raw(con, view, raw.label, raw.files, raw.kind, [])
    return mapped, int(n_all - n_keep), formats, [("VIEW", view)]


def stage_table(con, src, spec: Table, *, timezone: str, raw_text_all: bool = False,
                keep: tuple[str, ...] | None = None) -> MappedStage:
    """Read, map and validate one source into a :class:`MappedStage` (Arrow rows in no particular order).

    ``keep`` limits the Arrow table to these canonical columns (plus the
    bookkeeping and reason columns), for counting without the rows.
    """
    if isinstance(src, FrameSource):
        dup = _duplicate_header(None, src)
        if dup is not None:
            raise SourceError(f"source column {dup!r} is present twice; drop or rename one",
                              path=src.label, table=spec.name)
    raw = open_raw(con, src, spec.name)
    mapping = src.mapping
    extra_objects: list = []
    try:
        dup = _duplicate_header(raw, src) if raw.kind == "csv" else None
        if dup is not None:
            raise SourceError(f"source column {dup!r} is present twice in the header; drop or rename one "
                              "(every column must have a distinct name)", path=raw.label, table=spec.name)
        _check_mapping_names(raw, spec, mapping)
        mapped, excluded, formats, extra_objects = _mapping_layer(con, raw, spec, mapping)
        notes: list[str] = []
        tbl, extras = _build_checks(con, mapped, spec, mapping, timezone, raw_text_all=raw_text_all, keep=keep,
                                    rows_excluded=excluded, formats=formats, notes=notes)
        present, _ = _resolve_columns(mapped, spec, mapping)
    finally:
        for kind, name in reversed(raw.objects + extra_objects):
            drop_object(con, kind, name)
    return MappedStage(spec=spec, label=raw.label, files=list(raw.files), raw_columns=list(mapped.columns),
                       multi_file=raw.multi_file, extras=extras, tbl=tbl, rows_excluded=excluded,
                       warnings=notes, source_types={c: mapped.types[s] for c, s in present.items()},
                       unknown_columns=tuple(mapping.unknown),
                       duration_units={c.name: mapping.duration_units.get(c.name, mapping.duration_unit)
                                       for c in spec.columns if _is_duration(c)})
