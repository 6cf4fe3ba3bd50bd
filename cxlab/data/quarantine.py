"""Row accounting and quarantine: cross-table checks, collecting accepted/quarantined rows, quarantine files.
"""

from __future__ import annotations

import io
import math
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._utils import atomic_write_bytes
from ..schema import Table
from .readers import (
    FILE_COL,
    ORD_COL,
    REASON_BEFORE_CONTACT,
    REASON_COL,
    REASON_QUARANTINED_INTERACTION,
    REASON_UNKNOWN_INTERACTION,
    REASONS_COL,
    ROW_COL,
    Stage,
    drop_object,
    sql_exec,
    sql_literal,
)

__all__ = ['LoadResult', 'DURATION_PLAUSIBLE_S']

#: a duration column whose median (of its positive values) falls outside this range gets a warning
DURATION_PLAUSIBLE_S = (1.0, 4 * 3600.0)


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
        Data rows in the source: ``rows_accepted + rows_quarantined +
        rows_excluded``.
    counts : pandas.DataFrame
        ``table, reason, rows``: one line ``"ok"`` (accepted rows) and one per
        quarantine reason; ``rows`` sums to ``rows_read - rows_excluded``.
    files : tuple of str
        The files read (empty for DataFrames and queries).
    rows_excluded : int
        Rows dropped by the mapping's ``filter`` / ``where`` (in no output).
    warnings : tuple of str
        Plausibility warnings (a duration median implausible for its unit,
        float ids read as integers, one customer id holding many contacts).
    unknown : dict of str to int
        Per column listed in ``mapping.unknown``: accepted rows whose value is
        unknown (null).
    """

    table: str
    source: str
    accepted: pd.DataFrame
    quarantined: pd.DataFrame
    rows_read: int
    counts: pd.DataFrame
    files: tuple[str, ...] = ()
    rows_excluded: int = 0
    warnings: tuple[str, ...] = ()
    unknown: dict[str, int] = field(default_factory=dict)

    @property
    def rows_accepted(self) -> int:
        return len(self.accepted)

    @property
    def rows_quarantined(self) -> int:
        return len(self.quarantined)


def cross_checks(con, stages: dict[str, Stage]) -> None:
    """Surveys against interactions, in SQL over the validated Arrow tables; updates the surveys' reasons."""
    if "surveys" not in stages or "interactions" not in stages:
        return
    st_s, st_i = stages["surveys"], stages["interactions"]
    tag = uuid.uuid4().hex[:10]
    xi, xs = f"_cx_xi_{tag}", f"_cx_xs_{tag}"
    con.register(xi, st_i.tbl.select(["interaction_id", "arrived_at", REASON_COL]))
    con.register(xs, st_s.tbl.select([ORD_COL, "interaction_id", "responded_at", REASON_COL]))
    try:
        found = sql_exec(con, f"""
            WITH ids AS (
                SELECT interaction_id, bool_or({REASON_COL} IS NULL) AS any_ok,
                       min(arrived_at) FILTER (WHERE {REASON_COL} IS NULL) AS arrived_at
                FROM {xi} WHERE interaction_id IS NOT NULL GROUP BY interaction_id),
            r AS (
                SELECT s.{ORD_COL},
                       CASE WHEN ids.interaction_id IS NULL THEN {sql_literal(REASON_UNKNOWN_INTERACTION)}
                            WHEN NOT ids.any_ok THEN {sql_literal(REASON_QUARANTINED_INTERACTION)}
                            WHEN s.responded_at < ids.arrived_at THEN {sql_literal(REASON_BEFORE_CONTACT)} END AS reason
                FROM {xs} AS s LEFT JOIN ids USING (interaction_id)
                WHERE s.{REASON_COL} IS NULL AND s.interaction_id IS NOT NULL)
            SELECT {ORD_COL}, reason FROM r WHERE reason IS NOT NULL""")
    finally:
        drop_object(con, "FRAME", xi)
        drop_object(con, "FRAME", xs)
    if not found:
        return
    tbl = st_s.tbl
    pos = pd.Index(tbl[ORD_COL].to_numpy()).get_indexer([o for o, _ in found])
    reason = tbl[REASON_COL].to_pylist()
    reasons = tbl[REASONS_COL].to_pylist()
    for p, (_, r) in zip(pos, found):
        reason[p] = reasons[p] = r
    tbl = tbl.set_column(tbl.schema.get_field_index(REASON_COL), REASON_COL, pa.array(reason, pa.string()))
    tbl = tbl.set_column(tbl.schema.get_field_index(REASONS_COL), REASONS_COL, pa.array(reasons, pa.string()))
    st_s.tbl = tbl


def collect_stage(stage: Stage) -> LoadResult:
    spec, tbl = stage.spec, stage.tbl
    bad_np = pc.is_valid(tbl[REASON_COL]).to_numpy(zero_copy_only=False)
    ords = tbl[ORD_COL].to_numpy()
    cols = spec.names + stage.extras
    # the validating query returns rows in any order: one gather puts the accepted rows in source order
    accepted_tbl = _take(tbl.select(cols), _in_source_order(np.flatnonzero(~bad_np), ords))
    facts = _accepted_facts(stage, accepted_tbl)
    accepted = _canonical_dtypes(accepted_tbl.to_pandas(date_as_object=False), spec)
    del accepted_tbl

    quarantined = quarantined_frame(stage, bad_np, ords)

    vc = quarantined["reason"].value_counts()
    counts = pd.DataFrame({"reason": ["ok", *vc.index.tolist()], "rows": [len(accepted), *vc.tolist()]})
    counts = _order_counts(counts)
    counts.insert(0, "table", spec.name)
    excluded = int(getattr(stage, "rows_excluded", 0))
    rows_read = tbl.num_rows + excluded
    if rows_read != len(accepted) + len(quarantined) + excluded:  # pragma: no cover - invariant of the split
        raise RuntimeError(f"{spec.name}: accounting mismatch ({rows_read} read, {len(accepted)} accepted, "
                           f"{len(quarantined)} quarantined, {excluded} excluded)")
    warnings, unknown = _stage_notes(stage, facts)
    return LoadResult(table=spec.name, source=stage.label, accepted=accepted, quarantined=quarantined,
                      rows_read=rows_read, counts=counts, files=tuple(stage.files), rows_excluded=excluded,
                      warnings=tuple(warnings), unknown=unknown)


def quarantined_frame(stage: Stage, bad: np.ndarray | None = None, ords: np.ndarray | None = None) -> pd.DataFrame:
    """The quarantined rows of a stage as :attr:`LoadResult.quarantined` shows them, in source order.

    ``bad`` (a boolean mask of the stage table's rows) and ``ords`` (their
    ``__cx_ord``) are computed when not given.
    """
    tbl = stage.tbl
    if bad is None:
        bad = pc.is_valid(tbl[REASON_COL]).to_numpy(zero_copy_only=False)
    if ords is None:
        ords = tbl[ORD_COL].to_numpy()
    q = tbl.select(["__cx_raw", ROW_COL, FILE_COL, REASON_COL, REASONS_COL]).take(
        _in_source_order(np.flatnonzero(bad), ords))
    data: dict[str, Any] = {}
    for k, c in enumerate(stage.raw_columns):
        out = c if c not in ("source_row", "source_file", "reason", "all_reasons") else f"{c}_raw"
        data[out] = pc.list_element(q["__cx_raw"], k).to_pandas().astype("str")
    data["source_row"] = q[ROW_COL].to_pandas().astype("int64")
    if stage.multi_file:
        data["source_file"] = pd.Series(stage.files, dtype="str").take(
            q[FILE_COL].to_numpy(zero_copy_only=False)).reset_index(drop=True)
    data["reason"] = q[REASON_COL].to_pandas().astype("str")
    data["all_reasons"] = q[REASONS_COL].to_pandas().astype("str")
    quarantined = pd.DataFrame(data, index=pd.RangeIndex(q.num_rows))

    return quarantined


def _take(tbl: pa.Table, positions: np.ndarray, parts: int | None = None) -> pa.Table:
    """``tbl.take(positions)`` in ``parts`` slices gathered on as many threads (Arrow releases the GIL).

    Examples
    --------
    >>> _take(pa.table({"x": [10, 11, 12, 13]}), np.array([3, 0, 2]), parts=2)["x"].to_pylist()
    [13, 10, 12]
    """
    parts = parts or min(os.cpu_count() or 1, 8)
    if parts < 2 or len(positions) < 200_000:
        return tbl.take(positions)
    from concurrent.futures import ThreadPoolExecutor

    bounds = np.linspace(0, len(positions), parts + 1).astype(int)
    with ThreadPoolExecutor(parts) as pool:
        pieces = list(pool.map(lambda k: tbl.take(positions[bounds[k]:bounds[k + 1]]), range(parts)))
    return pa.concat_tables(pieces)


def _in_source_order(positions: np.ndarray, ords: np.ndarray) -> np.ndarray:
    """``positions`` (row indices into a stage table) sorted by the rows' source order ``ords[positions]``.

    Examples
    --------
    >>> _in_source_order(np.array([0, 2, 3]), np.array([30, 99, 10, 20])).tolist()
    [2, 3, 0]
    """
    key = ords[positions]
    if len(key) < 2 or bool((key[1:] >= key[:-1]).all()):
        return positions
    return positions[np.argsort(key, kind="stable")]


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


_UNIT_S = {"s": 1.0, "ms": 0.001, "min": 60.0, "h": 3600.0}
_UNIT_NAME = {"s": "seconds", "ms": "milliseconds", "min": "minutes", "hms": "H:MM:SS text"}


def _duration_columns(spec: Table) -> list[str]:
    """Duration columns whose median is checked for plausibility (not interval / staffed lengths)."""
    return [c.name for c in spec.columns if c.dtype == "DOUBLE" and c.name.endswith("_s")
            and c.name not in ("interval_s", "staffed_s")]


#: hash buckets of customer ids for the exact "one id holds many contacts" check
_BUCKETS = 1 << 16


def _stage_notes(stage, facts: dict) -> tuple[list, dict]:
    """The stage's warnings (with the plausibility checks on the accepted ``facts``) and its unknown counts.

    ``unknown`` is ``{column: accepted nulls}`` for the columns the mapping's
    ``unknown`` sentinels turned into nulls.
    """
    warnings = list(getattr(stage, "warnings", []))
    if hasattr(stage, "warnings"):
        _plausibility(stage, facts)
        warnings = list(stage.warnings)
    unknown = {c: facts["nulls"][c] for c in getattr(stage, "unknown_columns", ()) if c in facts["nulls"]}
    return warnings, unknown


def _accepted_facts(stage, accepted: pa.Table) -> dict:
    """What the plausibility warnings and the unknown counts need, computed in DuckDB over the Arrow rows.

    Returns ``{"rows", "nulls": {col: n}, "medians": {col: (n_positive, median)},
    "top_customer": (value, n) or None}``. One parallel scan for the counts
    and medians (``median`` is ``quantile_cont(0.5)``, pandas' median), and
    for ``customer_id`` the largest count of one value, found exactly: the
    ids are counted in 65,536 buckets of their hash (a small aggregate), and
    a bucket's count bounds the count of every id in it from above; only
    the ids of a bucket over the warning's threshold (5% of the rows and
    more than 100) are then counted by value.
    """
    spec = stage.spec
    n = accepted.num_rows
    names = set(accepted.column_names)
    nulls = {c: accepted[c].null_count for c in getattr(stage, "unknown_columns", ()) if c in names}
    facts: dict = {"rows": n, "nulls": nulls, "medians": {}, "top_customer": None}
    durations = [c for c in _duration_columns(spec) if c in names]
    check_top = spec.name == "interactions" and "customer_id" in names and n > 0
    if not n or not (durations or check_top):
        return facts
    con = duckdb.connect()
    view = f"_cx_acc_{uuid.uuid4().hex[:10]}"
    try:
        con.register(view, accepted)
        if durations:
            aggs = []
            for c in durations:
                v = f'TRY_CAST("{c}" AS DOUBLE)'
                aggs += [f"count(*) FILTER (WHERE {v} > 0)", f"median({v}) FILTER (WHERE {v} > 0)"]
            row = sql_exec(con, f"SELECT {', '.join(aggs)} FROM {view}")[0]
            facts["medians"] = {c: (int(row[2 * k]), row[2 * k + 1]) for k, c in enumerate(durations)}
        if check_top:
            bound = max(0.05 * n, 100)
            bucket = f"(hash(customer_id) & {_BUCKETS - 1})"
            hot = sql_exec(con, f"SELECT h FROM (SELECT {bucket} AS h, count(*) AS k FROM {view} "
                                f"WHERE customer_id IS NOT NULL GROUP BY h) WHERE k > {bound}")
            if hot:
                hs = ", ".join(str(int(h)) for (h,) in hot)
                top = sql_exec(con, f"SELECT customer_id, count(*) AS k FROM {view} WHERE {bucket} IN "
                                    f"({hs}) GROUP BY customer_id ORDER BY k DESC, customer_id LIMIT 1")
                facts["top_customer"] = (top[0][0], int(top[0][1])) if top else None
    finally:
        con.close()
    return facts


def _plausibility(stage, facts: dict) -> None:
    """Warnings on the accepted rows: implausible duration medians, one customer id holding many contacts."""
    spec = stage.spec
    lo, hi = DURATION_PLAUSIBLE_S
    for name, (count, med) in facts["medians"].items():
        if count < 5:
            continue
        med = float(med)
        if lo <= med <= hi:
            continue
        # the source unit that brings the median into the plausible range, nearest (log scale) to 3 minutes
        unit0 = getattr(stage, "duration_units", {}).get(name, "s")
        f0 = _UNIT_S.get(unit0, 1.0)
        fits = [(abs(math.log(med / f0 * f / 180.0)), u) for u, f in _UNIT_S.items()
                if u != unit0 and lo <= med / f0 * f <= hi]
        likely = min(fits)[1] if fits else None
        hint = ""
        if likely == "h":
            hint = f"; the source unit is likely hours (derive {name} as the value times 3600)"
        elif likely:
            hint = f"; the source unit is likely {likely} (set mapping.duration_units: {{{name}: {likely}}})"
        stage.warnings.append(
            f"{spec.name}.{name}: the median ({_human_s(med)}) is implausible for this duration, read as "
            f"{_UNIT_NAME.get(unit0, unit0)}{hint} [{count:,} positive values]")
    top = facts["top_customer"]
    rows = facts["rows"]
    if top is not None:
        value, n = top
        share = n / rows
        if share > 0.05 and n > 100:
            shown = (f"{value!r}" if re.fullmatch(r"(?i)0+|9+|-1|-+|x+|unknown|anonymous|n/?a|none|null|"
                                                 r"0{2,}\d?", str(value))
                     else "(value withheld: customer ids are private)")
            stage.warnings.append(
                f"interactions.customer_id: one customer id {shown} holds {n:,} of {rows:,} contacts "
                f"({share:.1%}); if it means 'unknown', add mapping.unknown: {{customer_id: [...]}} so that "
                "repeat contacts and FCR leave it out")


def _human_s(x: float) -> str:
    for unit, f in (("days", 86400), ("h", 3600), ("min", 60)):
        if x >= f:
            return f"{x / f:.1f} {unit}"
    return f"{x:.3g} s"


def row_accounting(results) -> pd.DataFrame:
    rows = []
    for res in results:
        base = {"table": res.table, "source": res.source, "rows_read": res.rows_read,
                "rows_accepted": res.rows_accepted, "rows_quarantined": res.rows_quarantined,
                "rows_excluded": res.rows_excluded}
        for reason, n in zip(res.counts["reason"], res.counts["rows"]):
            rows.append({**base, "reason": reason, "rows": int(n)})
    cols = ["table", "source", "rows_read", "rows_accepted", "rows_quarantined", "rows_excluded", "reason", "rows"]
    return pd.DataFrame(rows, columns=cols)


class utc_session:
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
                self.before[name] = sql_exec(self.con, f"SELECT current_setting('{name}')")[0][0]
                sql_exec(self.con, f"SET {name} = {value}")
            except duckdb.Error:
                if name == "TimeZone":
                    raise
        return self.con

    def __exit__(self, *exc):
        for name, value in self.before.items():
            try:
                sql_exec(self.con, f"SET {name} = {sql_literal(value) if isinstance(value, str) else str(value).lower()}")
            except duckdb.Error:
                pass
        return False


def write_quarantine(df: pd.DataFrame, directory, table: str) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{table}.parquet"
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    atomic_write_bytes(final, buf.getvalue())
    return final
