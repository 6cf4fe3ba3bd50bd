"""``cxlab validate`` counts in DuckDB (issue 20): the same report as the pandas load, no accepted row in pandas.

Reference for every expected number: the pandas load path itself
(:func:`cxlab.data.load_dataset` and :func:`cxlab.pipeline.preflight.inspect`
with ``materialise=True``, what ``cxlab run`` uses), and the bad rows this
file writes into the fixture (3 interactions rules, 1 survey cross-check).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from cxlab import plan as cxplan
from cxlab.cli import main
from cxlab.config import load_config
from cxlab.data import load as cx_load
from cxlab.pipeline import preflight

FIXTURES = Path(__file__).resolve().parent / "run_fixtures"
TABLES = ("interactions", "surveys", "agents", "events", "staffing", "customers", "customer_revenue", "series")


@pytest.fixture(scope="module")
def center(tmp_path_factory) -> Path:
    """The sample center as CSV (14 days, ~50 contacts a day, seed 7) with 4 bad rows written in."""
    from cxlab.sample import main_sample

    out = tmp_path_factory.mktemp("center_bad")
    main_sample(out, 14, 50, 7, "csv")
    inter = pd.read_csv(out / "interactions.csv", dtype=str, keep_default_na=False)
    inter.loc[3, "wait_s"] = "abc"                                  # wait_s: unparseable number
    inter.loc[5, "interaction_id"] = inter.loc[4, "interaction_id"]  # duplicate interaction_id
    inter.loc[7, "arrived_at"] = ""                                 # arrived_at: missing value
    inter.to_csv(out / "interactions.csv", index=False)
    surv = pd.read_csv(out / "surveys.csv", dtype=str, keep_default_na=False)
    surv.loc[2, "interaction_id"] = "no-such-contact"               # survey links to an unknown interaction
    surv.to_csv(out / "surveys.csv", index=False)
    return out


def write_config(path: Path, center: Path, *, start="2025-01-03", end="2025-01-10", extra="") -> Path:
    lines = ["name: counts", "timezone: America/New_York", f"window: {{start: {start}, end: {end}}}", "sources:"]
    lines += [f"  {t}: {{path: {center / f'{t}.csv'}}}" for t in TABLES]
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def test_cli_counts_equal_the_load_path(center, tmp_path):
    cfg = write_config(tmp_path / "c.yaml", center)
    config = load_config(cfg)
    ds = cx_load.load_dataset(config)                      # the pandas path (what `cxlab run` loads)
    counts = cx_load.count_dataset(config)                 # the DuckDB path of `cxlab validate`
    pd.testing.assert_frame_equal(counts.accounting, ds.accounting)
    acc = counts.accounting.drop_duplicates("table").set_index("table")
    assert (acc.rows_read == acc.rows_accepted + acc.rows_quarantined + acc.rows_excluded).all()
    n_inter = len(pd.read_csv(center / "interactions.csv"))
    assert acc.loc["interactions", "rows_read"] == n_inter
    assert acc.loc["interactions", "rows_quarantined"] == 3 and acc.loc["surveys", "rows_quarantined"] == 1
    bad = counts.accounting[counts.accounting.reason != "ok"].set_index(["table", "reason"])["rows"]
    assert bad[("interactions", "wait_s: unparseable number")] == 1
    assert bad[("interactions", "duplicate interaction_id")] == 1
    assert bad[("interactions", "arrived_at: missing value")] == 1
    assert bad[("surveys", "survey links to an unknown interaction")] == 1
    cut = ds.window(config.window.start, config.window.end, config.timezone)
    pd.testing.assert_frame_equal(counts.summary, cut.summary())
    pd.testing.assert_frame_equal(counts.totals, ds.summary())
    assert counts.notes() == ds.notes()
    for name, df in cut.tables.items():
        assert len(counts.tables[name]) == len(df), name
        assert list(counts.tables[name].columns) == list(df.columns), name


@pytest.mark.parametrize("extra", ["", "segments: [queue, channel]\ncx_metric: nps\n"])
def test_cli_prints_the_pandas_report(center, tmp_path, extra):
    cfg = write_config(tmp_path / "c.yaml", center, extra=extra)
    config = load_config(cfg)
    steps = preflight.discover(FIXTURES)
    old = preflight.inspect(config, steps, materialise=True).report()
    res = CliRunner().invoke(main, ["validate", str(cfg), "--notebooks-dir", str(FIXTURES)])
    assert res.exit_code == 0, res.output
    assert old in res.stdout                     # the same tables, quarantine counts, plan and warnings
    assert "wait_s: unparseable number" in res.stdout


def test_cli_never_materialises_accepted_rows(center, tmp_path, monkeypatch):
    cfg = write_config(tmp_path / "c.yaml", center)
    expected = preflight.inspect(load_config(cfg), preflight.discover(FIXTURES), materialise=True).report()

    def refuse(*a, **k):
        raise AssertionError("cxlab validate turned the accepted rows into pandas")

    for target in ("collect_stage", "load_dataset", "load_table"):   # the pandas collection of accepted rows
        monkeypatch.setattr(cx_load, target, refuse)
    monkeypatch.setattr(preflight, "_load", refuse)
    seen: list[int] = []
    canonical = cx_load._canonical_dtypes

    def counting(df, spec):
        seen.append(len(df))
        return canonical(df, spec)

    monkeypatch.setattr(cx_load, "_canonical_dtypes", counting)
    monkeypatch.setattr(preflight, "PROFILE_WHOLE_ROWS", 0)  # no table whole: samples of 50 rows (~700 contacts)
    monkeypatch.setattr(preflight, "PROFILE_SAMPLE_ROWS", 50)
    res = CliRunner().invoke(main, ["validate", str(cfg), "--notebooks-dir", str(FIXTURES)])
    assert res.exit_code == 0, res.output
    assert expected in res.stdout  # the same report from 50-row samples
    n_inter = len(pd.read_csv(center / "interactions.csv"))
    # only the bounded samples became pandas: 50 rows + at most 2 per column (interactions: 17 columns)
    assert n_inter > 600 and seen and max(seen) <= 50 + 2 * 17


def test_profile_answers_the_plan_like_the_whole_table(tmp_path):
    """A sample of 3 rows still shows a column that varies only after row 3, and one non-null only at the end."""
    rows = 20
    df = pd.DataFrame({
        "interaction_id": [f"i{k}" for k in range(rows)], "customer_id": [f"c{k % 5}" for k in range(rows)],
        "channel": ["voice"] * rows, "queue": ["a"] * (rows - 1) + ["b"],
        "agent_id": ["x1"] * rows, "arrived_at": [f"2025-01-0{1 + k % 5}T10:00:00" for k in range(rows)],
        "wait_s": ["10"] * rows, "talk_s": ["60"] * rows, "hold_s": ["0"] * rows, "acw_s": ["5"] * rows,
        "abandoned": ["false"] * rows, "contact_reason": [""] * (rows - 1) + ["billing"],
    })
    df.to_csv(tmp_path / "interactions.csv", index=False)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"name: p\ntimezone: UTC\nwindow: {{start: 2025-01-01, end: 2025-01-05}}\n"
                   f"sources:\n  interactions: {{path: {tmp_path / 'interactions.csv'}}}\n")
    config = load_config(cfg)
    prof = cx_load.count_dataset(config, sample_rows=3).tables["interactions"]
    whole = cx_load.load_dataset(config).tables["interactions"]
    # + the last row: the max of queue and the only non-null contact_reason (rows are taken once)
    assert len(prof) == rows and len(prof.sample) == 3 + 1
    assert sorted(prof["queue"].unique()) == ["a", "b"] and prof["contact_reason"].notna().sum() == 1
    exact = cx_load.count_dataset(config, sample_rows=3, whole_rows=rows).tables["interactions"]
    assert len(exact.sample) == rows  # at most whole_rows rows: the table is its own sample
    sec = cxplan.Section("q", "By queue", "x", varies={"interactions": ("queue", "contact_reason", "agent_id")})
    got = cxplan.missing(sec, {"interactions": prof})
    assert got == cxplan.missing(sec, {"interactions": whole})
    assert got == ["column 'contact_reason' of interactions has a single value ('billing')",
                   "column 'agent_id' of interactions has a single value ('x1')"]
