"""Every run finishes with a brief, on whatever data a center has (issue 16's matrix).

A small sample center (120 days, ~150 contacts a day) is written to disk as
Parquet and as CSV, then run end to end by ``cxlab run`` with optional tables
removed and dimensions made single-valued. Removals are combined so that each
optional table is missing in at least one run and each single-valued case
(one queue, one channel, one agent, one team, only CSAT) appears once, with
the full window, a 60-day window and a window that ends before the pilot.

Every run must exit 0, produce ``07_brief.html``, show no traceback in any
HTML report, and record a skip note naming what was missing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.slow

OPTIONAL = ("surveys", "agents", "agent_scores", "events", "staffing", "customers", "customer_revenue", "series")
DAYS = 120
ALL = ("interactions", *OPTIONAL)


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "cxlab.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=900)


@pytest.fixture(scope="module")
def centers(tmp_path_factory):
    root = tmp_path_factory.mktemp("matrix")
    out = {}
    for fmt in ("parquet", "csv"):
        res = _cli("sample", "--out", str(root / fmt), "--days", str(DAYS), "--contacts-per-day", "150",
                   "--format", fmt)
        assert res.returncode == 0, res.stderr
        out[fmt] = root / fmt
    return root, out


def _file(folder: Path, table: str) -> Path | None:
    hits = sorted(folder.glob(f"{table}.*"))
    return hits[0] if hits else None


def _config(root: Path, name: str, folder: Path, *, drop=(), frames=None, window=("2025-01-01", "2025-04-30"),
            cx_metric="csat") -> Path:
    """A run config over the sample files in ``folder``; ``frames`` replaces tables by filtered copies."""
    sources = {}
    work = root / name
    work.mkdir(exist_ok=True)
    for table in ALL:
        if table in drop:
            continue
        if frames and table in frames:
            path = work / f"{table}.parquet"
            frames[table].to_parquet(path, index=False)
            sources[table] = {"path": str(path)}
            continue
        path = _file(folder, table)
        if path is not None:
            sources[table] = {"path": str(path)}
    cfg = {"name": name, "timezone": "America/New_York", "sources": sources,
           "window": {"start": window[0], "end": window[1], "grain": "day"}, "cx_metric": cx_metric,
           "steps": {"05_focus": {"n_boot": 100}}}
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _run(config: Path, reports: Path) -> Path:
    res = _cli("run", str(config), "--reports-dir", str(reports), "--jobs", "2", "--quiet")
    assert res.returncode == 0, f"cxlab run {config} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    name = yaml.safe_load(config.read_text())["name"]
    run_dir = (reports / name / "latest").resolve()
    assert (run_dir / "07_brief.html").exists(), f"no brief in {run_dir}"
    for html in run_dir.glob("*.html"):
        text = html.read_text(encoding="utf-8")
        assert "Traceback" not in text, f"traceback in {html.name}"
    return run_dir


def _skips(run_dir: Path) -> list[dict]:
    out = []
    for path in sorted((run_dir / "results").glob("*.json")):
        for entry in json.loads(path.read_text()).get("skipped", []):
            out.append({"step": path.stem, **entry})
    return out


def _assert_skipped(run_dir: Path, *phrases: str) -> None:
    skips = _skips(run_dir)
    text = " | ".join(f"{s['step']}:{s['title']}: {s['missing']}" for s in skips)
    for phrase in phrases:
        assert phrase in text, f"no skip note mentions {phrase!r}; notes: {text}"
    brief = (run_dir / "07_brief.html").read_text(encoding="utf-8")
    assert "kipped" in brief, "the brief does not list the skipped sections"


def _read(folder: Path, table: str) -> pd.DataFrame:
    path = _file(folder, table)
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


EVIL = {"queue": "tech<img src=x onerror=alert(1)>", "reason": "<script>alert(2)</script>billing",
        "agent": "A<svg onload=alert(3)>", "event": "outage <iframe src=javascript:alert(4)>"}


class _LiveMarkup(HTMLParser):
    """Collects tags and attributes that data planted in a report could make live."""

    def __init__(self):
        super().__init__()
        self.found = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name.startswith("on") and "alert(" in (value or ""):
                self.found.append(f"<{tag} {name}={value}>")
            if name in ("src", "href") and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value}>")
        if tag == "img" and dict(attrs).get("src") == "x":
            self.found.append(f"<{tag}>")
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script and "alert(" in data:
            self.found.append(f"<script>{data[:40]}")


def test_without_agents_scores_and_staffing_and_markup_in_names(centers, tmp_path):
    # Also the markup-injection test (issue 17): a queue, a contact reason, an agent and an event whose names are
    # HTML/script must come out as text in every report, never as a live tag.
    root, fmts = centers
    folder = fmts["parquet"]
    calls = _read(folder, "interactions")
    top_queue = calls["queue"].value_counts().index[0]
    calls["queue"] = calls["queue"].replace({top_queue: EVIL["queue"]})
    if "contact_reason" in calls:
        first_reason = calls["contact_reason"].dropna().value_counts().index[0]
        calls["contact_reason"] = calls["contact_reason"].replace({first_reason: EVIL["reason"]})
    first_agent = calls["agent_id"].dropna().value_counts().index[0]
    calls["agent_id"] = calls["agent_id"].replace({first_agent: EVIL["agent"]})
    events = _read(folder, "events")
    events.loc[events.index[0], "label"] = EVIL["event"]
    cfg = _config(root, "no-agents", folder, drop=("agents", "agent_scores", "staffing"),
                  frames={"interactions": calls, "events": events})
    run_dir = _run(cfg, tmp_path)
    _assert_skipped(run_dir, "agents", "staffing")
    for html in sorted(run_dir.glob("*.html")):
        parser = _LiveMarkup()
        parser.feed(html.read_text(encoding="utf-8"))
        assert not parser.found, f"live markup from the data in {html.name}: {parser.found[:5]}"
    assert any("tech&lt;img" in h.read_text(encoding="utf-8") for h in run_dir.glob("*.html")), \
        "the queue name never reached a report as text"


def test_without_any_cx_data(centers, tmp_path):
    root, fmts = centers
    cfg = _config(root, "no-cx", fmts["parquet"], drop=("surveys", "customer_revenue"))
    run_dir = _run(cfg, tmp_path)
    _assert_skipped(run_dir, "surveys")
    kpis = json.loads((run_dir / "results" / "02_operational_kpis.json").read_text())
    assert kpis.get("headline"), "step 02 recorded no operational headline without CX data"


def test_csv_export_over_sixty_days_without_events_customers_series(centers, tmp_path):
    root, fmts = centers
    cfg = _config(root, "csv-60d", fmts["csv"], drop=("events", "customers", "customer_revenue", "series"),
                  window=("2025-01-01", "2025-03-01"))
    run_dir = _run(cfg, tmp_path)
    _assert_skipped(run_dir, "events")


def test_one_queue_one_channel_only_csat_window_before_the_pilot(centers, tmp_path):
    root, fmts = centers
    folder = fmts["parquet"]
    calls = _read(folder, "interactions")
    top_queue = calls["queue"].value_counts().index[0]
    calls = calls[(calls["queue"] == top_queue) & (calls["channel"] == "voice")]
    surveys = _read(folder, "surveys")
    surveys = surveys[surveys["interaction_id"].isin(calls["interaction_id"])].drop(columns=["nps", "ces"],
                                                                                      errors="ignore")
    cfg = _config(root, "one-queue", folder, frames={"interactions": calls, "surveys": surveys},
                  window=("2025-01-01", "2025-03-15"))
    run_dir = _run(cfg, tmp_path)
    _assert_skipped(run_dir, "queue", "pilot")


def test_one_agent_one_team(centers, tmp_path):
    root, fmts = centers
    folder = fmts["parquet"]
    calls = _read(folder, "interactions")
    agent = calls["agent_id"].dropna().value_counts().index[0]
    calls = calls[(calls["agent_id"] == agent) | calls["agent_id"].isna()]
    agents = _read(folder, "agents")
    agents = agents[agents["agent_id"] == agent]
    surveys = _read(folder, "surveys")
    surveys = surveys[surveys["interaction_id"].isin(calls["interaction_id"])]
    cfg = _config(root, "one-agent", folder, frames={"interactions": calls, "agents": agents, "surveys": surveys})
    run_dir = _run(cfg, tmp_path)
    _assert_skipped(run_dir, "agent")
