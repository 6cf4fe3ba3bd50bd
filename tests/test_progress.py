"""Progress bars (issue 20): shown when forced on, absent when off or not watched, results identical.

No expected number here is computed: every comparison is the same call with
the bars on against off (a bar only observes), and the bar labels are the
ones cxlab.progress, cxlab.data.load and cxlab.kpis write.
"""

from __future__ import annotations

import io
import sys
import types

import duckdb
import pandas as pd
import pytest

from cxlab import progress
from cxlab.config import default_config
from cxlab.data import load as cx_load
from cxlab.kpis import _resources, kpi_table


@pytest.fixture
def shown(monkeypatch):
    """Bars forced on and drawn at once (no 2 s delay)."""
    monkeypatch.setenv("CXLAB_PROGRESS", "1")
    monkeypatch.setattr(progress, "DELAY_S", 0.0)


@pytest.fixture(autouse=True)
def _reset_resources():
    yield
    _resources.configure(out_of_core_rows=None, bucket_rows=None)


def test_switch(monkeypatch):
    for value, want in (("0", False), ("off", False), ("1", True), ("yes", True)):
        monkeypatch.setenv("CXLAB_PROGRESS", value)
        assert progress.enabled() is want
    monkeypatch.delenv("CXLAB_PROGRESS")
    assert progress.enabled() is False  # pytest's stderr is no terminal and this is no Jupyter kernel


def test_jupyter_only_under_a_jupyter_server(monkeypatch):
    """An interactive JupyterLab kernel shows bars; a papermill / nbclient / nbval kernel (no JPY_SESSION_NAME) not."""
    monkeypatch.delenv("CXLAB_PROGRESS", raising=False)
    shell = type("ZMQInteractiveShell", (), {})()
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert progress.in_jupyter() is False and progress.enabled() is False
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/analysis.ipynb")
    assert progress.in_jupyter() is True and progress.enabled() is True
    monkeypatch.setenv("CXLAB_PROGRESS", "0")  # what `cxlab run` sets in its kernels
    assert progress.enabled() is False


def _load_counts(capsys):
    cfg = default_config(sample={"days": 7, "contacts_per_day": 50})
    counts = cx_load.count_dataset(cfg)
    ds = cx_load.load_dataset(cfg)
    return counts, ds, capsys.readouterr().err


def test_load_bars_on_and_off_give_the_same_results(capsys, monkeypatch):
    monkeypatch.setenv("CXLAB_PROGRESS", "0")
    off_counts, off_ds, err_off = _load_counts(capsys)
    assert err_off == ""
    monkeypatch.setenv("CXLAB_PROGRESS", "1")
    monkeypatch.setattr(progress, "DELAY_S", 0.0)
    on_counts, on_ds, err_on = _load_counts(capsys)
    assert "cxlab: loading" in err_on and "step/s" in err_on
    pd.testing.assert_frame_equal(on_counts.summary, off_counts.summary)
    pd.testing.assert_frame_equal(on_counts.accounting, off_counts.accounting)
    for name, df in off_ds.tables.items():
        pd.testing.assert_frame_equal(on_ds.tables[name], df)


def test_validate_cli_prints_no_bar_by_default(tmp_path):
    from click.testing import CliRunner

    from cxlab.cli import main

    cfg = tmp_path / "s.yaml"
    cfg.write_text("name: s\nsample: {days: 7, contacts_per_day: 50}\nwindow: {start: 2025-01-01, end: 2025-01-07}\n")
    res = CliRunner().invoke(main, ["validate", str(cfg)], env={"CXLAB_PROGRESS": None})
    assert res.exit_code == 0, res.output
    assert "cxlab: loading" not in res.output and "cxlab: loading" not in res.stderr


def _contacts(n: int = 3000, seed: int = 5) -> pd.DataFrame:
    rng = pd.Series(range(n))
    import numpy as np

    g = np.random.default_rng(seed)
    abandoned = g.random(n) < 0.1
    return pd.DataFrame({
        "interaction_id": [f"i{k}" for k in rng], "customer_id": [f"c{k}" for k in g.integers(0, 400, n)],
        "channel": g.choice(["voice", "chat"], n), "queue": g.choice(["a", "b"], n),
        "arrived_at": pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(g.integers(0, 30 * 86400, n), "s"),
        "wait_s": g.exponential(30.0, n).round(), "talk_s": np.where(abandoned, 0.0, g.gamma(2.0, 150.0, n).round()),
        "hold_s": 0.0, "acw_s": 10.0, "abandoned": abandoned, "transferred": False,
    })


def test_kpi_bars_on_and_off_give_the_same_results(capsys, monkeypatch):
    df = _contacts()
    _resources.configure(out_of_core_rows=1, bucket_rows=1000)  # the out-of-core path: 3 buckets + unknowns
    monkeypatch.setenv("CXLAB_PROGRESS", "0")
    off = kpi_table(df, by=["day", "queue"])
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("CXLAB_PROGRESS", "1")
    monkeypatch.setattr(progress, "DELAY_S", 0.0)
    on = kpi_table(df, by=["day", "queue"])
    err = capsys.readouterr().err
    assert "cxlab: KPI query" in err and "cxlab: KPI repeat window" in err
    pd.testing.assert_frame_equal(on, off)


def test_watch_query_follows_duckdb_progress_and_restores_settings(shown):
    con = duckdb.connect()
    before = con.execute("SELECT current_setting('enable_progress_bar')").fetchall()[0][0]
    out = io.StringIO()
    with progress.watch_query(con, "demo", interval=0.02, file=out) as b:
        n = con.execute("SELECT count(DISTINCT (i * 7919) % 100000007) FROM range(6000000) t(i)").fetchall()[0][0]
        seen = b.n
    assert n == 6_000_000  # every i * 7919 mod the prime 100000007 differs for i < 100000007
    assert seen > 0 and "demo" in out.getvalue()
    assert con.execute("SELECT current_setting('enable_progress_bar')").fetchall()[0][0] == before
    con.close()
