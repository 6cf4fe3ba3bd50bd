"""Step 06 on the data a center actually has (issue 16 item 1): the notebook runs, skips with a note, records.

A small sample center (120 days, 120 contacts a day; the pilot starts on day 90, 2025-04-01, by its
events-table entry) is written to disk as Parquet and as CSV; the notebook is executed by papermill
over degraded configs, combined to keep the file fast:

* CSV export, no events and no pilot assignment, step 5's focus effect recorded: out of time and natural
  experiments run on the CSV dates; the pilot sections are skipped and the next pilot is sized from the
  history's between-team ICC;
* no surveys and one team (every agent on the same team): every CX section and the pilot are skipped,
  each with its reason (and, without a notebook, the plan without an agents table);
* a window that ends before the pilot (to 2025-03-20): the pilot is skipped with a note naming the pilot
  start and the window; the out-of-time check still runs;
* the full window with the pilot assignment given as a list parameter (no step 5 results): the pilot,
  its checks and the verdict are recorded, with the few-cluster inference named.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "06_validate.ipynb"
DAYS, PER_DAY = 120, 120
TABLES = ("interactions", "surveys", "agents", "agent_scores", "events", "staffing", "customers",
          "customer_revenue", "series")


@pytest.fixture(scope="module")
def center(tmp_path_factory):
    from cxlab.sample import write_sample

    root = tmp_path_factory.mktemp("steps06")
    out = {fmt: write_sample(root / fmt, days=DAYS, contacts_per_day=PER_DAY, format=fmt) for fmt in ("parquet", "csv")}
    return root, out


def _config(root: Path, name: str, paths: dict, *, drop=(), frames=None, window=("2025-01-01", "2025-04-30"),
            steps=None) -> Path:
    work = root / name
    work.mkdir(exist_ok=True)
    sources = {}
    for table in TABLES:
        if table in drop or table not in paths:
            continue
        if frames and table in frames:
            path = work / f"{table}.parquet"
            frames[table].to_parquet(path, index=False)
        else:
            path = paths[table]
        sources[table] = {"path": str(path)}
    cfg = {"name": name, "timezone": "America/New_York", "sources": sources,
           "window": {"start": window[0], "end": window[1], "grain": "day"}, "cx_metric": "csat",
           "steps": {"06_validate": steps or {}}}
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _run(config: Path, tmp: Path, **params) -> dict:
    import papermill as pm

    cfg = yaml.safe_load(config.read_text())
    run_dir = tmp / "run"
    pm.execute_notebook(str(NOTEBOOK), str(tmp / "06.ipynb"), kernel_name="python3", progress_bar=False,
                        parameters={"config_path": str(config), "run_dir": str(run_dir),
                                    "window_start": cfg["window"]["start"], "window_end": cfg["window"]["end"],
                                    **cfg["steps"]["06_validate"], **params})
    return json.loads((run_dir / "results" / "06_validate.json").read_text())


def _skips(res: dict) -> dict:
    return {s["section"]: s["missing"] for s in res.get("skipped", [])}


def test_csv_export_without_a_pilot_sizes_the_next_one_from_the_history(center, tmp_path):
    from cxlab import results

    root, paths = center
    cfg = _config(root, "csv-no-pilot", paths["csv"], drop=("events",))
    # step 5 already ran: its focus effect (a constructed record) is what the next pilot is sized for
    results.record(tmp_path / "run", "05_focus", "focus_effect",
                   {"driver": "resolved", "change": 0.05, "effect": 2.0, "ci_low": 1.5, "ci_high": 2.5,
                    "outcome": "cx_value", "cx_metric": "csat", "unit": "points of % top-2-box"})
    res = _run(cfg, tmp_path)
    skips = _skips(res)
    assert skips["pilot"].startswith("no pilot assignment is configured")
    for key in ("pilot_cx", "checks", "verdict"):
        assert "which is skipped" in skips[key]
    assert set(skips) == {"pilot", "pilot_cx", "checks", "verdict"}
    # computed on the CSV dates: the split at the last 20% of the 120 days (day 97 = 2025-04-07)
    assert res["holdout"]["split_date"] == "2025-04-07"
    assert "fcr_pct" in res["holdout"]["drivers"]
    assert "natural_experiments" in res and "verdict" not in res
    design = {r["method"]: r for r in res["next_pilot_design"]["design"]}
    assert design["t"]["unit"] == "team" and design["t"]["effect"] == 2.0
    assert res["next_pilot_plan"]["start_date"] == "2025-05-05"  # the Monday after the window (Apr 30)


def test_no_surveys_and_one_team(center, tmp_path):
    root, paths = center
    agents = pd.read_parquet(paths["parquet"]["agents"]).assign(team="everyone")
    cfg = _config(root, "no-cx-one-team", paths["parquet"], drop=("surveys",), frames={"agents": agents})
    res = _run(cfg, tmp_path)
    skips = _skips(res)
    # the holdout needs periods with CX (from surveys or from aggregates); the natural experiments need surveys
    assert skips["holdout"] == "no CSAT response in the window"
    assert skips["natural"] == "no surveys table in the window"
    assert skips["pilot"] == "column 'team' of agents has a single value ('everyone')"
    assert "no surveys table in the window" in skips["next_pilot"]
    assert not {"holdout", "pilot_effects", "verdict"} & set(res)


def test_plan_without_agents():
    # no agents table (issue 16: 06 raised KeyError: ['team']): every team section is skipped up front
    from cxlab import plan
    from cxlab.sample import load_sample

    tables = {k: v for k, v in load_sample(days=14, contacts_per_day=60).items() if k != "agents"}
    rows = {r.key: r for r in plan.plan(tables, None, steps=("06_validate",))}
    assert rows["holdout"].runs and rows["natural"].runs
    assert rows["pilot"].reason == rows["next_pilot"].reason == "no agents table in the window"
    assert not rows["verdict"].runs and rows["verdict"].reason.endswith("which is skipped")


def test_window_ending_before_the_pilot(center, tmp_path):
    root, paths = center
    truth = json.loads(paths["parquet"]["ground_truth"].read_text())["pilot"]
    cfg = _config(root, "before-pilot", paths["parquet"], window=("2025-01-01", "2025-03-20"),
                  steps={"pilot_treated": truth["treated_teams"]})
    res = _run(cfg, tmp_path)
    skips = _skips(res)
    # the pilot date comes from the events table (its pilot event), not from the sample
    assert skips["pilot"] == "the pilot starts 2025-04-01, after the window's last day (2025-01-01 to 2025-03-20)"
    assert truth["start"] == "2025-04-01"
    assert "holdout" in res and res["holdout"]["split_date"] == "2025-03-05"  # last 16 of the 79 days


def test_pilot_with_assignment_as_a_list_records_the_verdict(center, tmp_path):
    root, paths = center
    truth = json.loads(paths["parquet"]["ground_truth"].read_text())["pilot"]
    cfg = _config(root, "pilot", paths["parquet"], drop=("customers", "customer_revenue", "series"),
                  steps={"pilot_treated": truth["treated_teams"]})
    res = _run(cfg, tmp_path)
    assert _skips(res) == {}
    assert res["pilot"]["start"] == "2025-04-01" and res["pilot"]["start_source"] == "the events table's pilot event"
    assert res["pilot"]["assignment_source"] == "the parameters"
    eff = {r["outcome"]: r for r in res["pilot_effects"]}
    assert eff["resolved_pct"]["inference"] == "wild_bootstrap" and eff["resolved_pct"]["n_clusters"] == 12
    # the flag's effect: ground truth on the measured scale (effect_on_resolution_flag = 8 x 0.9 = 7.2 points)
    assert eff["resolved_pct"]["ci_low"] <= truth["effect_on_resolution_flag"] <= eff["resolved_pct"]["ci_high"]
    v = res["verdict"]
    assert v["label"] in ("held", "did not hold", "inconclusive — too small to tell")
    assert v["effect"] == pytest.approx(eff["cx_value"]["estimate"])
    assert (v["ci_low"], v["ci_high"]) == (pytest.approx(eff["cx_value"]["ci_low"]), pytest.approx(eff["cx_value"]["ci_high"]))
    assert v["prediction_source"].startswith("the step-5 driver model refitted on the pre-pilot responses: resolved")
    assert v["inference"]["method"] == "wild_bootstrap" and "12 clusters (6 treated)" in v["inference"]["why"]
    assert v["equivalence"]["margin"] == pytest.approx(abs(v["prediction"]))
    if v["label"].startswith("inconclusive"):
        assert v["next_pilot"]["days"] > 0 and v["next_pilot"]["start_date"] == "2025-05-05"  # Monday after Apr 30
    assert len(res["pilot_checks"]) == 6
