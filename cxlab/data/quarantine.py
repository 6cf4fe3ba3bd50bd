"""Row accounting and quarantine: cross-table checks, collecting accepted/quarantined rows, quarantine files.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
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

__all__ = ['LoadResult']


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
    bad = pc.is_valid(tbl[REASON_COL])
    cols = spec.names + stage.extras
    accepted = tbl.select(cols).filter(pc.invert(bad)).to_pandas(date_as_object=False)
    accepted = _canonical_dtypes(accepted, spec)

    q = tbl.select(["__cx_raw", ROW_COL, FILE_COL, REASON_COL, REASONS_COL]).filter(bad)
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


def row_accounting(results) -> pd.DataFrame:
    rows = []
    for res in results:
        base = {"table": res.table, "source": res.source, "rows_read": res.rows_read,
                "rows_accepted": res.rows_accepted, "rows_quarantined": res.rows_quarantined}
        for reason, n in zip(res.counts["reason"], res.counts["rows"]):
            rows.append({**base, "reason": reason, "rows": int(n)})
    cols = ["table", "source", "rows_read", "rows_accepted", "rows_quarantined", "reason", "rows"]
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
