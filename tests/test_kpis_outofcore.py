"""The out-of-core KPI path (bucketed repeat window) equals the single query; DuckDB resource settings.

Reference for every comparison: ``kpi_table`` on the single-query path (the
path the rest of the suite checks against closed forms and pandas), forced
with ``out_of_core_rows`` above the input size; the out-of-core path is forced
with ``out_of_core_rows=1`` and a ``bucket_rows`` small enough that the
repeat window really splits into several buckets.
"""

from __future__ import annotations

import logging

import duckdb
import numpy as np
import pandas as pd
import pytest

from cxlab.errors import ConfigError
from cxlab.kpis import _resources, kpi_table
from cxlab.kpis import table as kpi_table_module
from cxlab.kpis._common import InteractionsInput


@pytest.fixture(autouse=True)
def _reset_resources():
    yield
    _resources.configure(**{k: None for k in ("memory_limit", "temp_directory", "threads", "out_of_core_rows",
                                              "bucket_rows")})


def _contacts(seed: int = 20) -> pd.DataFrame:
    """~6,000 contacts around both 2025 New York DST changes, with a heavy customer, unknown customers
    (10%), exact ties (same customer, same instant), outbound and never-queued contacts."""
    rng = np.random.default_rng(seed)
    n = 5400
    spring = pd.Timestamp("2025-03-01", tz="UTC").value // 1000
    autumn = pd.Timestamp("2025-10-25", tz="UTC").value // 1000
    span = 16 * 86_400 * 1_000_000
    t_us = np.where(rng.random(n) < 0.5, spring, autumn) + rng.integers(0, span, n)
    cust = np.array([f"c{i}" for i in rng.integers(0, 700, n)], dtype=object)
    cust[rng.random(n) < 0.08] = "heavy"  # one customer with ~430 contacts
    cust[rng.random(n) < 0.10] = None
    df = pd.DataFrame({"customer_id": cust, "t_us": t_us})
    ties = df.sample(400, random_state=seed)  # the same customer again at the same instant
    df = pd.concat([df, ties], ignore_index=True)
    m = len(df)
    abandoned = rng.random(m) < 0.15
    out = pd.DataFrame({
        "interaction_id": [f"i{i}" for i in range(m)],
        "customer_id": df["customer_id"].to_numpy(),
        "channel": rng.choice(["voice", "chat", "email"], m),
        "direction": np.where(rng.random(m) < 0.05, "outbound", "inbound"),
        "queue": rng.choice(["billing", "tech", "sales"], m),
        "arrived_at": pd.to_datetime(df["t_us"].to_numpy(), unit="us", utc=True),
        "wait_s": np.round(rng.exponential(30.0, m), 1),
        "talk_s": np.where(abandoned, 0.0, np.round(rng.gamma(2.0, 150.0, m), 1)),
        "hold_s": np.where(abandoned | (rng.random(m) < 0.6), 0.0, np.round(rng.exponential(40.0, m), 1)),
        "acw_s": np.where(abandoned, 0.0, np.round(rng.exponential(30.0, m), 1)),
        "abandoned": abandoned,
        "transferred": ~abandoned & (rng.random(m) < 0.1),
        "reached_queue": rng.random(m) > 0.04,
    })
    return out.sample(frac=1.0, random_state=seed + 1).reset_index(drop=True)  # not in time order


def _both(df, caplog, **kw) -> tuple[pd.DataFrame, pd.DataFrame]:
    _resources.configure(out_of_core_rows=10**12)
    single = kpi_table(df, **kw)
    _resources.configure(out_of_core_rows=1, bucket_rows=1000)
    with caplog.at_level(logging.DEBUG, logger="cxlab.kpis.table"):
        caplog.clear()
        bucketed = kpi_table(df, **kw)
    assert "out-of-core repeat window in 6 buckets" in caplog.text  # 5,800 rows / 1,000 a bucket
    return single, bucketed


def _assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for c in a.columns:
        x, y = a[c], b[c]
        if pd.api.types.is_integer_dtype(x.dtype) or not pd.api.types.is_numeric_dtype(x.dtype):
            pd.testing.assert_series_equal(x, y, check_exact=True)
        else:
            np.testing.assert_allclose(x.to_numpy(float), y.to_numpy(float), rtol=1e-9, atol=0, equal_nan=True,
                                       err_msg=c)
    assert a.attrs == b.attrs


@pytest.mark.parametrize("by", [("day", "queue"), ("interval",), ("week", "channel"), ()])
def test_bucketed_equals_single_query(by, caplog):
    df = _contacts()
    single, bucketed = _both(df, caplog, by=by, timezone="America/New_York")
    _assert_same(single, bucketed)
    assert int(single["fcr_den"].sum()) > 1000 and int(single["no_customer_id"].sum()) > 400


def test_bucketed_equals_single_query_for_sensitivity_definitions(caplog):
    defs = [{"label": "default"}, {"label": "3 days", "fcr_window_days": 3},
            {"label": "same channel", "fcr_channel": "same"}, {"label": "within t met", "abandon_treatment": "abandons_within_t_met"}]
    single, bucketed = _both(_contacts(), caplog, by=("day", "queue"), timezone="America/New_York",
                             definitions=defs)
    _assert_same(single, bucketed)


def test_hash_collisions_never_change_results(monkeypatch, caplog):
    # a 3-valued "hash" puts ~230 customers under each key: every bucket mixes customers
    monkeypatch.setattr(kpi_table_module, "_HASH", "(hash({}) % 3)")
    df = _contacts()
    single, bucketed = _both(df, caplog, by=("day", "queue"), timezone="America/New_York",
                             options={"fcr_channel": "same"})
    assert "share a hash; rerun with the string key" in caplog.text
    _assert_same(single, bucketed)


def test_hashed_single_part_equals_single_query(monkeypatch, caplog):
    # above out_of_core_rows with one bucket: the hashed window without staging, with and without collisions
    df = _contacts()
    _resources.configure(out_of_core_rows=10**12)
    single = kpi_table(df, by=("day", "queue"), timezone="America/New_York")
    _resources.configure(out_of_core_rows=1, bucket_rows=10**9)
    _assert_same(single, kpi_table(df, by=("day", "queue"), timezone="America/New_York"))
    monkeypatch.setattr(kpi_table_module, "_HASH", "(hash({}) % 3)")
    with caplog.at_level(logging.DEBUG, logger="cxlab.kpis.table"):
        hashed = kpi_table(df, by=("day", "queue"), timezone="America/New_York")
    assert "part 0: two customer ids share a hash" in caplog.text
    _assert_same(single, hashed)


def test_worked_example_on_the_bucketed_path():
    # customer a: 1 Jan 10:00 handled, 3 Jan 10:00 handled -> the first is a repeat within 7 days;
    # customer b: two contacts at the same instant (a tie: both repeats); c unknown; 20 Jan closes the window.
    t = pd.to_datetime(["2025-01-01 10:00", "2025-01-03 10:00", "2025-01-02 09:00", "2025-01-02 09:00",
                        "2025-01-02 12:00", "2025-01-20 00:00"], utc=True)
    df = pd.DataFrame({"interaction_id": list("123456"), "customer_id": ["a", "a", "b", "b", None, "d"],
                       "queue": "q", "arrived_at": t, "wait_s": 1.0, "talk_s": 60.0, "abandoned": False})
    _resources.configure(out_of_core_rows=1, bucket_rows=2)
    k = kpi_table(df, by=())
    # window complete (>= 7 days before 20 Jan 00:00): contacts 1-4 and... 5 is unknown, 6 is not complete
    # fcr_den = 4 (1, 2, 3, 4); repeats: 1 (next a after 2 days), 3 and 4 (tie) -> fcr_num = 1 (contact 2)
    assert k[["fcr_num", "fcr_den", "no_customer_id"]].iloc[0].tolist() == [1, 4, 1]
    assert k["fcr_pct"].item() == 25.0


def _setting(con, name: str) -> str:
    return con.execute(f"SELECT current_setting('{name}')").fetchone()[0]


def test_resources_applied_to_kpi_connections(tmp_path, monkeypatch):
    monkeypatch.setenv("CXLAB_DUCKDB_THREADS", "1")
    monkeypatch.setenv("CXLAB_DUCKDB_MEMORY_LIMIT", "3GB")
    src = InteractionsInput(_contacts().head(10))
    try:
        assert int(_setting(src._con, "threads")) == 1
        # 3e9 bytes are set as 2861 MiB (floor); DuckDB prints it rounded to 0.1 GiB: "2.7 GiB"
        got = _resources.memory_limit_bytes(_setting(src._con, "memory_limit"))
        assert abs(got - 2861 * 1024**2) <= 0.1 * 1024**3
    finally:
        src.close()
    _resources.configure(memory_limit="1GiB", threads=2, temp_directory=tmp_path / "spill")  # beats the env
    src = InteractionsInput(_contacts().head(10))
    try:
        assert _resources.memory_limit_bytes(_setting(src._con, "memory_limit")) == 1024**3
        assert int(_setting(src._con, "threads")) == 2
        assert _setting(src._con, "temp_directory") == str(tmp_path / "spill")
    finally:
        src.close()
    assert (tmp_path / "spill").is_dir()


def test_resource_defaults_and_errors(monkeypatch):
    for var in ("CXLAB_DUCKDB_MEMORY_LIMIT", "CXLAB_DUCKDB_TEMP_DIR", "CXLAB_DUCKDB_THREADS"):
        monkeypatch.delenv(var, raising=False)
    s = _resources.settings()
    total = _resources._machine_memory()
    assert s["memory_limit"] == max(1024**3, int(0.25 * total))  # MEMORY_FRACTION of the machine
    assert s["temp_directory"].endswith("duckdb_tmp")
    assert s["bucket_rows"] == max(1_000_000, s["memory_limit"] // 50)  # WINDOW_BYTES_PER_ROW
    with pytest.raises(ConfigError, match="cannot read 'lots'"):
        _resources.configure(memory_limit="lots")
    with pytest.raises(ConfigError, match="unknown DuckDB resource setting 'thread'"):
        _resources.configure(thread=2)
    with pytest.raises(ConfigError, match="positive integer"):
        _resources.configure(threads=0)
    monkeypatch.setenv("CXLAB_DUCKDB_THREADS", "two")
    with pytest.raises(ConfigError, match="CXLAB_DUCKDB_THREADS"):
        _resources.settings()


def test_caller_relation_connection_is_left_alone():
    con = duckdb.connect()
    con.execute("SET threads = 1")
    rel = con.from_df(_contacts().head(50))
    kpi_table(rel, by=("queue",))
    assert int(_setting(con, "threads")) == 1
