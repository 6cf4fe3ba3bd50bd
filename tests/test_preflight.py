"""Preflight: ``cxlab validate`` prints the plan and exits 0/1/2/3; ``cxlab run`` stops on the same checks.

Exit codes (cxlab.pipeline.preflight): 0 ok, 1 a source cannot be read, 2 the
config is invalid, 3 the data or a parameter does not fit the run.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from cxlab import plan as cxplan
from cxlab.cli import main
from cxlab.pipeline import preflight
from cxlab.plan import Section

FIXTURES = Path(__file__).resolve().parent / "run_fixtures"
# agent_scores is left out: the 14-day sample has no score yet (its CSV is a header only)
TABLES = ("interactions", "surveys", "agents", "events", "staffing", "customers",
          "customer_revenue", "series")


@pytest.fixture(scope="module")
def center(tmp_path_factory) -> Path:
    """The sample center as CSV files (14 days, about 50 contacts a day)."""
    from cxlab.sample import main_sample

    out = tmp_path_factory.mktemp("center")
    main_sample(out, 14, 50, 7, "csv")
    return out


def write_config(path: Path, center: Path, *, tables=TABLES, extra: str = "", files=None) -> Path:
    files = files or {}
    lines = ["name: preflight", "timezone: America/New_York",
             "window: {start: 2025-01-01, end: 2025-01-14}", "sources:"]
    for t in tables:
        lines.append(f"  {t}: {{path: {files.get(t, center / f'{t}.csv')}}}")
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def validate(cfg: Path, *extra: str):
    return CliRunner().invoke(main, ["validate", str(cfg), *extra])


def test_ok_prints_accounting_and_plan(center, tmp_path):
    res = validate(write_config(tmp_path / "c.yaml", center), "--notebooks-dir", str(FIXTURES))
    assert res.exit_code == 0, res.output
    n = len(pd.read_csv(center / "interactions.csv"))
    assert "Tables" in res.stdout and "interactions" in res.stdout and str(n) in res.stdout
    assert "Plan" in res.stdout and "Problems" not in res.stdout
    assert res.stderr == ""


def test_exit_1_when_a_source_cannot_be_read(center, tmp_path):
    cfg = write_config(tmp_path / "c.yaml", center, tables=("interactions",),
                       files={"interactions": tmp_path / "nowhere" / "contacts.csv"})
    res = validate(cfg, "--notebooks-dir", str(FIXTURES))
    assert res.exit_code == 1 and "contacts.csv" in res.stderr and "Traceback" not in res.output


def test_exit_2_when_the_config_is_invalid(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("cx_metrik: nps\n")
    res = validate(cfg)
    assert res.exit_code == 2 and "did you mean 'cx_metric'" in res.stderr


def test_exit_3_when_interactions_accept_no_row(center, tmp_path):
    raw = pd.read_csv(center / "interactions.csv", dtype=str)
    raw["arrived_at"] = "not a time"
    bad = tmp_path / "interactions.csv"
    raw.to_csv(bad, index=False)
    cfg = write_config(tmp_path / "c.yaml", center, tables=("interactions",), files={"interactions": bad})
    res = validate(cfg, "--notebooks-dir", str(FIXTURES))
    assert res.exit_code == 3, res.output
    assert f"table interactions: 0 of {len(raw):,} rows accepted" in res.stdout
    assert "arrived_at: unparseable timestamp" in res.stdout
    assert "the run would stop" in res.stderr


def test_exit_3_when_no_row_falls_in_the_window(center, tmp_path):
    cfg = write_config(tmp_path / "c.yaml", center, tables=("interactions",))
    cfg.write_text(cfg.read_text().replace("window: {start: 2025-01-01, end: 2025-01-14}",
                                           "window: {start: 2030-01-01, end: 2030-01-31}"))
    res = validate(cfg, "--notebooks-dir", str(FIXTURES))
    assert res.exit_code == 3, res.output
    # the sample's 14 days start 2025-01-01 (cxlab.sample: days from 2025-01-01)
    assert "no interaction row falls in the window 2030-01-01..2030-01-31" in res.stdout
    assert "the interactions cover 2025-01-01..2025-01-14" in res.stdout


def test_exit_3_when_the_cx_metric_has_no_value_in_the_window(center, tmp_path):
    surveys = pd.read_csv(center / "surveys.csv", dtype=str).drop(columns=["nps"])
    path = tmp_path / "surveys.csv"
    surveys.to_csv(path, index=False)
    cfg = write_config(tmp_path / "c.yaml", center, tables=("interactions", "surveys"), files={"surveys": path},
                       extra="cx_metric: nps\n")
    res = validate(cfg, "--notebooks-dir", str(FIXTURES))
    assert res.exit_code == 3, res.output
    assert "cx_metric 'nps' has no value among the" in res.stdout
    assert "metrics with values: csat, ces" in res.stdout
    # the same surveys with the metric they do have pass
    cfg.write_text(cfg.read_text().replace("cx_metric: nps", "cx_metric: ces"))
    assert validate(cfg, "--notebooks-dir", str(FIXTURES)).exit_code == 0


def test_exit_3_for_a_misspelled_step_parameter(center, tmp_path):
    cfg = write_config(tmp_path / "c.yaml", center, tables=("interactions",),
                       extra='steps: {"02_plot": {fial: raise}}\n')
    res = validate(cfg, "--notebooks-dir", str(FIXTURES))
    assert res.exit_code == 3, res.output
    assert "02_plot.ipynb: unknown parameter 'fial' (did you mean 'fail'?)" in res.stdout


def test_column_parameters_are_checked_against_the_data(center, tmp_path):
    from cxlab.config import load_config
    from cxlab.pipeline.discover import discover

    cfg = write_config(tmp_path / "c.yaml", center, tables=("interactions", "surveys"),
                       extra='steps: {"05_focus": {drivers: "wait_s,tenure_days,hold_sec"}}\nsegments: [queue, tier]\n')
    steps = discover()
    if "05_focus" not in {s.stem for s in steps} or "drivers" not in next(
            s for s in steps if s.stem == "05_focus").parameters:
        pytest.skip("05_focus no longer declares 'drivers'")
    pf = preflight.inspect(load_config(cfg), steps)
    text = "\n".join(pf.problems)
    assert "column 'hold_sec' is not in the data (did you mean 'hold_s'?)" in text
    # tenure comes from agents.hire_date: no agents table here
    assert "column 'tenure_days' cannot be derived from this data (needs agents.hire_date)" in text
    assert "config segments: column 'tier' is not in the data" in text
    assert "wait_s" not in text.replace("'wait_s'", "")  # a column the data has is fine
    assert pf.exit_code == 3


def test_plan_without_surveys_skips_every_section_that_needs_them(center, tmp_path, monkeypatch):
    """The embedded sample's tables from files, surveys omitted: the plan names what is skipped and why."""
    from cxlab.config import load_config
    from cxlab.pipeline.discover import discover

    # one declaration of our own (whatever the steps declare, this one is known): a CX section of step 01
    mod = cxplan._module("01_cx_metric")
    own = Section("preflight_test_cx", "CX by queue (test)", "compare CX across queues", tables=("interactions",),
                  varies={"interactions": ("queue",)}, cx=True)
    ops = Section("preflight_test_ops", "Contacts by queue (test)", "count contacts per queue",
                  tables=("interactions",), varies={"interactions": ("queue",)})
    monkeypatch.setattr(mod, "SECTIONS", [*mod.SECTIONS, own, ops])
    cfg = write_config(tmp_path / "c.yaml", center, tables=[t for t in TABLES if t != "surveys"])
    res = validate(cfg)
    assert res.exit_code == 0, res.output
    assert "01_cx_metric:" in res.stdout
    assert "skipped CX by queue (test): no surveys table in the window" in res.stdout
    assert "runs    Contacts by queue (test)" in res.stdout
    # every declared section that needs surveys is skipped, with that reason
    pf = preflight.inspect(load_config(cfg), discover())
    for row in pf.rows:
        sec = cxplan.section(row.step, row.key)
        if sec.cx or "surveys" in (*sec.tables, *sec.columns, *sec.varies):
            assert not row.runs and "no surveys table in the window" in row.reason, row
    # and the run records the same plan in its manifest
    assert {"step": "01_cx_metric", "section": "preflight_test_cx", "title": "CX by queue (test)", "runs": False,
            "reason": "no surveys table in the window"} in pf.plan_manifest()


def test_run_stops_before_any_kernel_with_the_same_message(center, tmp_path, monkeypatch):
    import papermill

    def no_kernels(*args, **kwargs):
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(papermill, "execute_notebook", no_kernels)
    cfg = write_config(tmp_path / "c.yaml", center, tables=("interactions",))
    cfg.write_text(cfg.read_text().replace("window: {start: 2025-01-01, end: 2025-01-14}",
                                           "window: {start: 2030-01-01, end: 2030-01-31}"))
    reports = tmp_path / "reports"
    res = CliRunner().invoke(main, ["run", str(cfg), "--notebooks-dir", str(FIXTURES), "--reports-dir", str(reports)])
    assert res.exit_code == 3, res.output
    assert "no interaction row falls in the window 2030-01-01..2030-01-31" in res.stderr
    assert "Traceback" not in res.output
    assert not reports.exists()  # no run folder, no kernel


def test_surveys_that_accept_no_row_are_a_warning_not_an_error(center, tmp_path):
    """Only interactions are required: a survey table that accepts nothing skips the CX sections."""
    surveys = pd.read_csv(center / "surveys.csv", dtype=str)
    surveys["responded_at"] = "2024-06-01 10:00:00Z"
    path = tmp_path / "surveys.csv"
    surveys.to_csv(path, index=False)
    cfg = write_config(tmp_path / "c.yaml", center, tables=("interactions", "surveys"), files={"surveys": path})
    res = validate(cfg, "--notebooks-dir", str(FIXTURES))
    # responses before their contact are quarantined by the cross-checks: surveys accept 0 rows -> a warning
    assert res.exit_code == 0, res.output
    assert "table surveys: 0 of" in res.stdout and "will be skipped" in res.stdout


def test_run_exits_3_for_a_misspelled_step_parameter(center, tmp_path):
    cfg = write_config(tmp_path / "c.yaml", center, tables=("interactions",),
                       extra='steps: {"02_plot": {fial: raise}}\n')
    reports = tmp_path / "reports"
    res = CliRunner().invoke(main, ["run", str(cfg), "--notebooks-dir", str(FIXTURES), "--reports-dir", str(reports)])
    assert res.exit_code == 3, res.output
    assert "unknown parameter 'fial' (did you mean 'fail'?)" in res.stderr and "Traceback" not in res.output
    assert not reports.exists()
