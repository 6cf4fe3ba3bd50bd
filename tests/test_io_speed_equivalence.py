"""The parallel, unordered load path gives the reference rows, reasons and counts (issue 20).

The validating query runs on both DuckDB threads with no ordered collector,
so rows come back in any order; these tests check, on inputs with many small
Parquet row groups (so the two threads interleave them), that the accepted
rows, the quarantine (reasons, source rows, order) and the counts are those
of an independent reference written here in plain Python (zoneinfo for the
DST rules, a dict for the first occurrence of a key), and that
``validate_command``'s DuckDB counts equal ``load_dataset``'s accounting.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from cxlab.config import Mapping, Source, load_config
from cxlab.data import load_dataset, load_table
from cxlab.data.load import _validate_counts, validate_command

NY = "America/New_York"
N = 6000


def _tricky(n: int = N, seed: int = 20):
    """Interactions in New York local time with bad rows spread through the file.

    Returns the Arrow table and, per row, the reason the reference rules give
    (None = accepted), computed independently of cxlab below.
    """
    rng = np.random.default_rng(seed)
    ids = [f"I{i}" for i in range(n)]
    base = dt.datetime(2025, 10, 25)
    arrived = [base + dt.timedelta(seconds=int(s)) for s in rng.integers(0, 14 * 86400, n)]
    # DST: 2025-11-02 01:00-01:59 happens twice in New York; 2025-03-09 02:00-02:59 never happens
    for i in rng.choice(n, 60, replace=False):
        arrived[i] = dt.datetime(2025, 11, 2, 1, int(rng.integers(0, 60)), int(rng.integers(0, 60)))
    for i in rng.choice(n, 20, replace=False):
        arrived[i] = dt.datetime(2025, 3, 9, 2, int(rng.integers(0, 60)))
    wait = rng.exponential(30, n).round()
    wait[rng.choice(n, 40, replace=False)] *= -1
    wait[wait == 0] = 1.0
    channel = np.where(rng.random(n) < 0.3, "chat", "voice").astype(object)
    channel[rng.choice(n, 30, replace=False)] = "fax"
    abandoned = rng.random(n) < 0.05
    agent = np.where(abandoned, None, "A7").astype(object)
    # duplicates of an earlier id, spread out; some repeated three times, some of a bad first row
    for i in rng.choice(np.arange(500, n), 80, replace=False):
        ids[i] = ids[int(i) - int(rng.integers(1, 500))]
    table = pa.table({
        "interaction_id": pa.array(ids), "customer_id": pa.array([f"C{k}" for k in rng.integers(0, 900, n)]),
        "channel": pa.array(channel, pa.string()), "queue": pa.array(["billing"] * n),
        "agent_id": pa.array(agent, pa.string()), "arrived_at": pa.array(arrived, pa.timestamp("us")),
        "wait_s": pa.array(wait), "talk_s": pa.array(np.where(abandoned, 0.0, 120.0)),
        "abandoned": pa.array(abandoned)})
    # the reference: the first rule broken, in load_table's documented order
    zone = ZoneInfo(NY)
    seen: set[str] = set()
    reasons = []
    for i in range(n):
        t = arrived[i]
        a, b = t.replace(tzinfo=zone, fold=0), t.replace(tzinfo=zone, fold=1)
        back = a.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None)
        first = []
        if channel[i] not in ("voice", "chat", "email", "messaging"):
            first.append("channel: not one of voice, chat, email, messaging")
        if back != t:
            first.append("arrived_at: non-existent local time (DST)")
        elif a.utcoffset() != b.utcoffset():
            first.append("arrived_at: ambiguous local time (DST)")
        if wait[i] < 0:
            first.append("wait_s: negative duration")
        if ids[i] in seen:
            first.append("duplicate interaction_id")
        seen.add(ids[i])
        reasons.append(first[0] if first else None)
    return table, reasons


def _write(table: pa.Table, path, row_group_size: int = 250) -> None:
    pq.write_table(table, path, row_group_size=row_group_size)


def _check(res, table: pa.Table, reasons, source_rows=None):
    n = table.num_rows
    source_rows = source_rows if source_rows is not None else np.arange(1, n + 1)
    ok = [r is None for r in reasons]
    ids = table["interaction_id"].to_pylist()
    # accepted rows: the reference ones, in source order
    assert res.accepted["interaction_id"].tolist() == [x for x, k in zip(ids, ok) if k]
    assert res.accepted["wait_s"].tolist() == [w for w, k in zip(table["wait_s"].to_pylist(), ok) if k]
    # quarantine: every other row, in source order, with its source row and first reason
    q = res.quarantined
    want = [(int(r), why) for r, why, k in zip(source_rows, reasons, ok) if not k]
    assert list(zip(q["source_row"].astype(int), q["reason"])) == want
    assert q["interaction_id"].tolist() == [x for x, k in zip(ids, ok) if not k]
    # counts and the accounting identity
    ref = pd.Series([r or "ok" for r in reasons]).value_counts()
    assert dict(zip(res.counts["reason"], res.counts["rows"])) == ref.to_dict()
    assert res.rows_read == n == len(res.accepted) + len(res.quarantined)



def _assert_counts_match_load(config):
    """Assert validate's DuckDB counts equal load_dataset's summary and accounting; return the summary."""
    summary, bad = _validate_counts(config)
    ds = load_dataset(config)
    ref = ds.summary().drop(columns=["rows"])
    pd.testing.assert_frame_equal(summary.reset_index(drop=True), ref.reset_index(drop=True), check_dtype=False)
    acc = ds.accounting[ds.accounting["reason"] != "ok"][["table", "reason", "rows"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(bad, acc, check_dtype=False)
    return summary

def test_parallel_parquet_matches_reference(tmp_path):
    table, reasons = _tricky()
    path = tmp_path / "i.parquet"
    _write(table, path)
    assert pq.ParquetFile(path).num_row_groups == N // 250  # many row groups: both threads take turns
    res = load_table(Source(path=str(path), mapping=Mapping(timezone=NY)), "interactions")
    assert sum(r is not None for r in reasons) > 150  # every kind of bad row is present
    assert {r for r in reasons if r} == {"channel: not one of voice, chat, email, messaging",
                                        "arrived_at: non-existent local time (DST)",
                                        "arrived_at: ambiguous local time (DST)", "wait_s: negative duration",
                                        "duplicate interaction_id"}
    _check(res, table, reasons)


def test_parallel_glob_matches_reference(tmp_path):
    table, reasons = _tricky(seed=21)
    cut = 3500
    _write(table.slice(0, cut), tmp_path / "a.parquet")
    _write(table.slice(cut), tmp_path / "b.parquet")
    res = load_table(Source(path=str(tmp_path / "*.parquet"), mapping=Mapping(timezone=NY)), "interactions")
    rows = np.r_[np.arange(1, cut + 1), np.arange(1, N - cut + 1)]  # row numbers restart in each file
    _check(res, table, reasons, source_rows=rows)
    files = res.quarantined["source_file"].str.rsplit("/", n=1).str[-1]
    bad_pos = [i for i, r in enumerate(reasons) if r]
    assert files.tolist() == ["a.parquet" if i < cut else "b.parquet" for i in bad_pos]


def test_repeat_loads_are_identical(tmp_path):
    table, _ = _tricky(seed=22)
    path = tmp_path / "i.parquet"
    _write(table, path, row_group_size=100)
    src = Source(path=str(path), mapping=Mapping(timezone=NY))
    a, b = load_table(src, "interactions"), load_table(src, "interactions")
    pd.testing.assert_frame_equal(a.accepted, b.accepted)
    pd.testing.assert_frame_equal(a.quarantined, b.quarantined)


def test_validate_counts_equal_load_dataset(tmp_path, capsys):
    table, reasons = _tricky(seed=23)
    _write(table, tmp_path / "i.parquet")
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump({"timezone": NY, "window": {"start": "2025-10-25", "end": "2025-11-10"},
                                   "sources": {"interactions": {"path": "i.parquet"}}}))
    config = load_config(str(cfg))
    summary = _assert_counts_match_load(config)
    assert int(summary["rows_quarantined"].iloc[0]) == sum(r is not None for r in reasons)
    assert validate_command(str(cfg)) == 0
    out = capsys.readouterr().out
    assert "duplicate interaction_id" in out and "ambiguous local time (DST)" in out


def test_validate_counts_sample():
    """The embedded sample (several tables, cross-table checks on surveys) gives load_dataset's summary."""
    from cxlab.config import default_config

    config = default_config(sample={"days": 7, "contacts_per_day": 50})
    _assert_counts_match_load(config)
