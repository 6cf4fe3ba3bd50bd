"""Column mapping and the row rules of a canonical table: renames, type casts, ranges, allowed values, keys.

Each rule is one SQL expression; the first rule a row breaks is its quarantine reason.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import re
import uuid
from zoneinfo import ZoneInfo

import duckdb

from ..config import Mapping
from ..errors import SourceError
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
    Raw,
    Stage,
    drop_object,
    first_line,
    open_raw,
    quote_ident,
    sql_exec,
    sql_literal,
    sql_run,
    to_arrow,
)

__all__ = []


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


def _resolve_columns(raw: Raw, spec: Table, mapping: Mapping):
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


def _text_value(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _input_expr(col: Column, src_col: str | None, raw: Raw, mapping: Mapping, spec: Table):
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


def _build_checks(con, raw: Raw, spec: Table, mapping: Mapping, timezone: str, *, raw_text_all: bool = False):
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
    a_all = ([ROW_COL, ORD_COL, FILE_COL] + [f"{inputs[c]} AS {quote_ident('__cx_i_' + c)}" for c in names]
             + [f"{quote_ident(s)} AS {quote_ident(t)}" for s, t in extras]
             + [f"{quote_ident(s)} AS __cx_src_{k}" for k, s in enumerate(raw.columns)])
    a_sql = f"SELECT {', '.join(a_all)} FROM {raw.name}"

    # pre-pass: rows read, and naive vs aware counts of text timestamps
    ts_text = [c.name for c in spec.columns if c.dtype == "TIMESTAMPTZ" and kinds[c.name] == "text"
               and not mapping.timestamp_format]
    pre = ["count(*)"]
    for c in ts_text:
        i = quote_ident("__cx_i_" + c)
        pre.append(f"count({i}) FILTER (WHERE regexp_matches({i}, {sql_literal(AWARE_RE)}))")
        pre.append(f"count({i}) FILTER (WHERE NOT regexp_matches({i}, {sql_literal(AWARE_RE)}))")
    pre_sql = (f"WITH a AS NOT MATERIALIZED ({a_sql}) SELECT {', '.join(pre)} FROM a" if ts_text
               else f"SELECT count(*) FROM {raw.name}")
    try:
        counts = sql_exec(con, pre_sql)[0]
    except duckdb.Error as exc:
        raise SourceError(f"cannot read the source: {first_line(exc)}", path=raw.label,
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
            i = quote_ident("__cx_i_" + c)
            out = quote_ident(c)
            bad = quote_ident("__cx_bad_" + c)
            if col.dtype == "VARCHAR":
                expr = i if k in ("text",) else (f"CAST({i} AS VARCHAR)" if k != "null" else "NULL::VARCHAR")
                b_cols += [f"{expr} AS {out}", f"false AS {bad}"]
            elif col.dtype == "DOUBLE":
                unit = mapping.duration_units.get(c, mapping.duration_unit) if _is_duration(col) else "s"
                if k == "null":
                    b_cols += [f"NULL::DOUBLE AS {out}", f"false AS {bad}"]
                elif k == "text" and unit == "hms":
                    hx = quote_ident("__cx_hx_" + c)
                    b_cols += [f"regexp_extract({i}, {sql_literal(HMS_RE)}, ['neg', 'h', 'm', 's']) AS {hx}",
                               f"NULL::DOUBLE AS {out}"]
                elif k == "text":
                    v = f"TRY_CAST({i} AS DOUBLE)"
                    b_cols += [f"{v} * {DURATION_FACTORS[unit]} AS {out}",
                               f"({i} IS NOT NULL AND NOT coalesce(isfinite({v}), false)) AS {bad}"]
                elif k.split("(")[0] in NUMERIC_TYPES or k.startswith("DECIMAL"):
                    v = f"CAST({i} AS DOUBLE)"
                    b_cols += [f"(CASE WHEN isnan({v}) THEN NULL ELSE {v} END) * {DURATION_FACTORS.get(unit, 1.0)} "
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
                    v = (f"(CASE WHEN {_one_of(f'lower({t})', TRUE_TOKENS)} THEN true "
                         f"WHEN {_one_of(f'lower({t})', FALSE_TOKENS)} THEN false END)")
                    b_cols += [f"{v} AS {out}", f"({t} IS NOT NULL AND {v} IS NULL) AS {bad}"]
            elif col.dtype == "DATE":
                if k == "null":
                    b_cols += [f"NULL::DATE AS {out}", f"false AS {bad}"]
                elif k == "text":
                    if mapping.date_format:
                        v = f"CAST(try_strptime({i}, {sql_literal(mapping.date_format)}) AS DATE)"
                    else:
                        v = f"coalesce(TRY_CAST({i} AS DATE), CAST(TRY_CAST({i} AS TIMESTAMP) AS DATE))"
                    b_cols += [f"{v} AS {out}", f"({i} IS NOT NULL AND {v} IS NULL) AS {bad}"]
                else:
                    v = f"TRY_CAST({i} AS DATE)"
                    b_cols += [f"{v} AS {out}", f"({i} IS NOT NULL AND {v} IS NULL) AS {bad}"]
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
                    fmt = mapping.timestamp_format
                    if fmt and ("%z" in fmt or "%Z" in fmt):
                        v = f"CAST(try_strptime({t}, {sql_literal(fmt)}) AS TIMESTAMPTZ)"
                        b_cols += [f"NULL::TIMESTAMP AS {loc}", f"{v} AS {awr}", f"true AS {isaw}",
                                   f"({t} IS NOT NULL AND {v} IS NULL) AS {bad}"]
                    elif fmt:
                        v = f"CAST(try_strptime({t}, {sql_literal(fmt)}) AS TIMESTAMP)"
                        b_cols += [f"{v} AS {loc}", f"NULL::TIMESTAMPTZ AS {awr}", f"false AS {isaw}",
                                   f"({t} IS NOT NULL AND {v} IS NULL) AS {bad}"]
                    else:
                        aw = f"coalesce(regexp_matches({t}, {sql_literal(AWARE_RE)}), false)"
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
            out, bad = quote_ident(c), quote_ident("__cx_bad_" + c)
            if col.dtype == "DOUBLE" and k == "text" and _is_duration(col) and \
                    mapping.duration_units.get(c, mapping.duration_unit) == "hms":
                hx, i = quote_ident("__cx_hx_" + c), quote_ident("__cx_i_" + c)
                ok = (f"(regexp_full_match({i}, {sql_literal(HMS_RE)}) AND TRY_CAST({hx}.s AS DOUBLE) < 60 "
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
            for c in (c for c in ZERO_IF_ABANDONED if c in col_names):
                out, bad = quote_ident(c), quote_ident("__cx_bad_" + c)
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
        a_key = (f"SELECT {ORD_COL}, " + ", ".join(f"{inputs[k]} AS {quote_ident('__cx_i_' + k)}" for k in spec.key)
                 + f" FROM {raw.name}")
        keys = ", ".join(quote_ident(k) for k in spec.key)
        notnull = " AND ".join(f"{quote_ident(k)} IS NOT NULL" for k in spec.key if not spec.column(k).nullable) or "true"
        sql_run(con, f"CREATE TEMP TABLE {dup_table} AS WITH {_ctes(key_cols, a_key)}, "
                  f"g AS (SELECT list({ORD_COL}) AS o FROM d WHERE {notnull} GROUP BY {keys} HAVING count(*) > 1) "
                  f"SELECT unnest(list_filter(o, lambda x: x > list_min(o))) AS {ORD_COL} FROM g",
             raw.label, spec.name, "cannot validate the source")
    try:
        has_dups = dup_table is not None and sql_exec(con, f"SELECT count(*) FROM {dup_table}")[0][0] > 0
        # reasons, in rule order
        rules = _rules(spec, kinds, present, mapping, minority)
        if has_dups:
            rules.append((f"{ORD_COL} IN (SELECT {ORD_COL} FROM {dup_table})", _key_reason(spec)))
        conds = " OR ".join(f"({cond})" for cond, _ in rules) or "false"
        parts = ", ".join(f"CASE WHEN {cond} THEN {sql_literal(reason)} END" for cond, reason in rules)
        reasons = f"concat_ws('; ', {parts})" if rules else "NULL::VARCHAR"
        keep = "true" if raw_text_all else "__cx_bad"
        # the source row as text, in one list column (cheaper than a mostly-null column per source column)
        items = ", ".join(f"CAST(__cx_src_{k} AS VARCHAR)" for k in range(len(raw.columns)))
        raw_text = [f"CASE WHEN {keep} THEN [{items}]::VARCHAR[] END AS __cx_raw"]
        final_cols = [ROW_COL, ORD_COL, FILE_COL] + [quote_ident(n) for n in names] + [quote_ident(t) for _, t in extras]
        sql = (f"WITH {ctes}, e AS NOT MATERIALIZED (SELECT *, coalesce({conds}, false) AS __cx_bad FROM d), "
               f"f AS NOT MATERIALIZED (SELECT {', '.join(final_cols)}, CASE WHEN __cx_bad THEN {reasons} END AS __cx_reasons, "
               f"{', '.join(raw_text + ['true AS __cx_end'])} FROM e) "
               f"SELECT * EXCLUDE (__cx_end), split_part(__cx_reasons, '; ', 1) AS __cx_reason FROM f"
               + ("" if _keeps_order(con, raw) else f" ORDER BY {ORD_COL}"))
        try:
            tbl = to_arrow(con.sql(sql))
        except duckdb.Error as exc:
            raise SourceError(f"cannot validate the source: {first_line(exc)}", path=raw.label,
                              table=spec.name) from None
    finally:
        if dup_table:
            drop_object(con, "TABLE", dup_table)
    return tbl, [t for _, t in extras]


def _keeps_order(con, raw: Raw) -> bool:
    """Whether DuckDB returns this source's rows in source order without a sort."""
    if raw.kind == "parquet" and raw.multi_file:  # files are scanned in parallel
        return False
    return sql_exec(con, "SELECT current_setting('preserve_insertion_order')")[0][0] in (True, "true")


def _rules(spec: Table, kinds, present, mapping: Mapping, minority) -> list[tuple[str, str]]:
    rules: list[tuple[str, str]] = []
    for col in spec.columns:
        c = col.name
        v, bad = quote_ident(c), quote_ident("__cx_bad_" + c)
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


def stage_table(con, src, spec: Table, *, timezone: str, raw_text_all: bool = False) -> Stage:
    raw = open_raw(con, src, spec.name)
    try:
        tbl, extras = _build_checks(con, raw, spec, src.mapping, timezone, raw_text_all=raw_text_all)
    finally:
        for kind, name in reversed(raw.objects):
            drop_object(con, kind, name)
    return Stage(spec=spec, label=raw.label, files=list(raw.files), raw_columns=list(raw.columns),
                  multi_file=raw.multi_file, extras=extras, tbl=tbl)
