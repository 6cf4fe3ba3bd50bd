"""The leadership brief (07) on constructed results: verdicts, no lever, mixed runs, what changed, no CX.

Each case writes ``results/<step>.json`` files into a temp run folder and
executes ``notebooks/07_brief.ipynb`` on it with papermill (``run_dir``
parameter), on a tiny sample config so the notebook's setup is fast. The
expected texts are the issue's vocabulary (issue 18) and numbers that follow
from the constructed records by the formatting rules of :mod:`cxlab.fmt`.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path

import nbformat
import pytest

from cxlab import brief
from cxlab import results as _results

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "07_brief.ipynb"

PARAMS = {"cx_metric": "csat", "window_start": "2025-01-01", "window_end": "2025-12-31", "grain": "day",
          "seed": 20251, "definitions": {"sl_threshold_s": 20.0, "aht_includes_hold": True},
          "recorded_at": "2026-01-10T08:00:00+00:00"}


#: Step 4's kpi_alignment rows; the service-level numbers are the embedded sample center's (seed 20251, contact
#: grain, as step 4 recorded them): T = 60 s tracks CSAT better than the configured 20 s, interval above zero.
ALIGNMENT_ROWS = [
    {"kpi": "service_level", "definition": "T = 20 s, exclude_short", "grain": "contact",
     "score": 0.05759978278541457, "diff_vs_configured": 0.0, "ci_low": 0.0, "ci_high": 0.0, "recommended": False, "configured": True, "n": 42905},
    {"kpi": "service_level", "definition": "T = 60 s, exclude_short", "grain": "contact", "score": 0.06941474928005588,
     "diff_vs_configured": 0.01181496649464131, "ci_low": 0.005541673991415413, "ci_high": 0.01951830517704768, "recommended": True, "configured": False,
     "n": 42905},
    {"kpi": "service_level", "definition": "T = 30 s, exclude_short", "grain": "contact", "score": 0.0600,
     "diff_vs_configured": 0.0024, "ci_low": -0.001, "ci_high": 0.005, "recommended": False, "configured": False,
     "n": 42905},
    {"kpi": "aht", "definition": "with hold", "grain": "contact", "score": 0.136, "diff_vs_configured": 0.0,
     "ci_low": 0.0, "ci_high": 0.0, "recommended": False, "configured": True, "n": 42905},
    {"kpi": "aht", "definition": "without hold", "grain": "contact", "score": 0.139, "diff_vs_configured": 0.003,
     "ci_low": -0.002, "ci_high": 0.008, "recommended": False, "configured": False, "n": 42905},
]
#: What the brief says about them: one sentence for service level (3 decimals: the interval's low end is < 0.01),
#: nothing for AHT (its interval covers zero).
ALIGNMENT_SENTENCE = ("Service level tracks CSAT best, contact by contact, when counted at 60 s rather than the "
                      "configured 20 s (correlation 0.069 against 0.058: a difference of +0.012, +0.006 to +0.020); "
                      "consider reporting it that way.")


def constructed(verdict: str = "inconclusive") -> dict:
    """Results as steps 1-6 record them (shapes of a real run, round numbers)."""
    weekly = [{"week": f"2025-{m:02d}-{d:02d}", "n": 400, "value": v, "ci_low": v - 3, "ci_high": v + 3,
               "reliable": True}
              for (m, d), v in zip([(1, 6), (1, 13), (1, 20), (1, 27), (2, 3), (2, 10), (2, 17), (2, 24)],
                                   [76.0, 77.5, 74.0, 78.0, 76.5, 79.0, 75.5, 77.0])]
    verdicts = {
        "held": {"label": "held", "reason": "The effect excludes zero and is consistent with the prediction.",
                 "effect": 2.6, "ci_low": 1.1, "ci_high": 4.1, "prediction": 2.5,
                 "prediction_source": "step 5's what-if for resolution",
                 "inference": {"method": "cluster_robust", "why": "12 teams, randomized"}},
        "did not hold": {"label": "did not hold", "reason": "The effect rules out the predicted +2.5 points.",
                         "effect": 0.2, "ci_low": -0.8, "ci_high": 1.2, "prediction": 2.5,
                         "prediction_source": "step 5's what-if for resolution"},
        "inconclusive": {"label": "inconclusive — too small to tell",
                         "reason": "The interval covers both no effect and the predicted effect.",
                         "effect": 1.9, "ci_low": -0.3, "ci_high": 4.2, "prediction": 2.5,
                         "prediction_source": "step 5's what-if for resolution",
                         "next_pilot": {"unit": "team", "units_per_arm": 9, "contacts_per_arm": 4545,
                                        "days": 120, "start_date": "2026-02-02", "power": 0.8}},
    }
    p = {s: {**PARAMS, "step": s} for s in _results.KEYS}
    return {
        "01_cx_metric": {"params": p["01_cx_metric"], "metric": {"metric": "csat", "scale": "top2"},
                         "headline": {"value": 76.86, "ci_low": 76.46, "ci_high": 77.26, "n": 42905,
                                      "response_rate": 0.139},
                         "weekly": weekly,
                         "nonresponse": {"flagged": ["resolved"], "weighted_value": 79.86, "raw_value": 76.86}},
        "02_operational_kpis": {"params": p["02_operational_kpis"],
                                "headline": {"offered": 344366.0, "service_level_pct": 84.79, "asa_s": 11.17,
                                             "aht_s": 554.48, "fcr_pct": 74.97, "transfer_rate_pct": 9.87},
                                "definitions": [{"name": "aht", "definition": "(talk + hold + ACW) ÷ handled"}]},
        "03_other_sources": {"params": p["03_other_sources"],
                             "data_health": [{"table": "interactions", "rows_read": 1000, "rows_accepted": 990,
                                              "rows_quarantined": 10}],
                             "skipped": [{"section": "qa", "title": "QA scores", "missing": "no agent_scores table",
                                          "adds": "relate QA to CX"}]},
        "04_correlate": {"params": p["04_correlate"], "kpi_alignment": {"table": ALIGNMENT_ROWS}},
        "05_focus": {
            "params": p["05_focus"],
            "r2": {"r2": 0.30, "ci_low": 0.29, "ci_high": 0.31},
            "drivers": [
                {"driver": "resolved", "share": 0.605, "share_ci_low": 0.589, "share_ci_high": 0.621, "rank": 1},
                {"driver": "contact_reason", "share": 0.174, "share_ci_low": 0.165, "share_ci_high": 0.188,
                 "rank": 2},
                {"driver": "is_repeat", "share": 0.075, "share_ci_low": 0.066, "share_ci_high": 0.084, "rank": 3},
                {"driver": "hold_s", "share": 0.035, "share_ci_low": 0.030, "share_ci_high": 0.041, "rank": 4}],
            "roles": {"levers": ["resolved", "is_repeat", "hold_s"], "controls": ["contact_reason"]},
            "no_lever": {"no_lever": False, "reason": None, "levers_clear": ["resolved", "is_repeat", "hold_s"]},
            "what_if": [{"driver": "resolved", "change": 0.05, "effect": 1.907, "ci_low": 1.865, "ci_high": 1.950},
                        {"driver": "is_repeat", "change": -0.03, "effect": 0.364, "ci_low": 0.339, "ci_high": 0.386},
                        {"driver": "hold_s", "change": -10.0, "effect": 0.612, "ci_low": 0.549, "ci_high": 0.680},
                        {"driver": "total", "change": None, "effect": 3.7, "ci_low": 3.6, "ci_high": 3.9}],
            "focus": [{"priority": 1, "driver": "resolved"}, {"priority": 2, "driver": "hold_s"}],
            "focus_effect": {"driver": "resolved", "change": 0.05, "effect": 1.907, "ci_low": 1.865,
                             "ci_high": 1.950},
            "quadrant": [
                {"driver": "resolved", "share": 0.605, "share_ci_low": 0.589, "share_ci_high": 0.621,
                 "equal_share": 0.125, "performance": 0.718, "target": 0.8, "better": "higher",
                 "quadrant": "concentrate here"},
                {"driver": "hold_s", "share": 0.035, "share_ci_low": 0.030, "share_ci_high": 0.041,
                 "equal_share": 0.125, "performance": 22.5, "target": 15.0, "better": "lower",
                 "quadrant": "low priority"}],
            "value_of_change": [
                {"link": "cx_change", "estimate": 1.907, "ci_low": 1.863, "ci_high": 1.954},
                {"link": "customers_retained_per_year", "estimate": 408.5, "ci_low": 349.3, "ci_high": 465.3},
                {"link": "revenue_per_year", "estimate": 4413981.0, "ci_low": 3784297.4, "ci_high": 5036277.6}]},
        "06_validate": {"params": p["06_validate"], "verdict": verdicts[verdict],
                        "pilot": {"start": "2025-02-03", "treated": ["team_a", "team_c"], "unit": "team"},
                        "pilot_checks": [{"check": "pre-trend (per week)", "outcome": "cx_value", "passes": True}]},
    }


def write_run(root: Path, name: str, res: dict, started="2026-01-10T08:00:00+00:00") -> Path:
    run = root / "demo" / name
    for step, rec in res.items():
        for key, value in rec.items():
            _results.record(run, step, key, value)
    (run / "manifest.json").write_text(json.dumps({"run": {"name": "demo", "status": "ok", "started_at": started}}))
    return run


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory):
    cfg = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    cfg.write_text("name: demo\ntitle: CX brief test\nsample: {days: 14, contacts_per_day: 60}\ncurrency: USD\n")
    return cfg


def run_brief(run: Path, config: Path) -> tuple[str, dict]:
    """Execute 07 on ``run``; return its visible text (markdown + HTML outputs) and what it recorded."""
    import papermill as pm

    out = run / "07_brief.ipynb"
    before = os.environ.get("CXLAB_PROGRESS")
    os.environ["CXLAB_PROGRESS"] = "0"  # as `cxlab run` sets it: the data loader's progress bar never enters a report
    try:
        pm.execute_notebook(str(NOTEBOOK), str(out), kernel_name="python3", progress_bar=False,
                            parameters={"config_path": str(config), "run_dir": str(run)})
    finally:
        if before is None:
            os.environ.pop("CXLAB_PROGRESS", None)
        else:
            os.environ["CXLAB_PROGRESS"] = before
    nb = nbformat.read(str(out), as_version=4)
    texts = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            texts.append(cell.source)
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            texts.append(data.get("text/markdown") or data.get("text/html") or o.get("text", ""))
    return "\n".join(texts), _results.load(run, "07_brief")


# --------------------------------------------------------------- notebook cases
@pytest.fixture(scope="module")
def inconclusive_run(tmp_path_factory, tiny_config):
    """An inconclusive pilot, with a previous good run over another window (executed once)."""
    root = tmp_path_factory.mktemp("runs")
    prev_res = constructed("did not hold")
    prev_res["01_cx_metric"]["headline"].update(value=70.0, ci_low=69.5, ci_high=70.5)
    prev_res["01_cx_metric"]["params"] = {**PARAMS, "window_start": "2024-07-01", "window_end": "2025-06-30"}
    write_run(root, "20260101T000000.000Z-prev00", prev_res, started="2026-01-01T08:00:00+00:00")
    run = write_run(root, "20260110T000000.000Z-curr00", constructed("inconclusive"))
    text, rec = run_brief(run, tiny_config)
    return run, text, rec


def test_inconclusive_with_previous_run_and_summary(inconclusive_run):
    run, text, rec = inconclusive_run
    # 1. summary first: 3-5 bullets, the headline, the focus lever with CX, customers and money
    summary = rec["brief"]["summary"]
    assert 3 <= len(summary) <= 5
    assert summary[0].startswith("**CSAT top-2-box (share of 4–5 answers): 76.9%** (76.5–77.3) over 1 Jan – 31 Dec 2025, "
                              "from 42,905 responses. Week by week it ranged from 74.0% (week of 20 Jan 2025) to 79.0%")
    # 0.05 on a 0/1 flag = 5 points; value chain: 408.5 -> "about 410" (two significant digits),
    # 4,413,981 -> $4.4M with 3.78M-5.04M -> (3.8M–5.0M) (issue 18's example)
    assert ("Raising first-contact resolution by 5 points predicts +1.9 CSAT points (1.9–2.0), about 410 "
            "customers kept a year (350–470) and $4.4M (3.8M–5.0M) of revenue a year.") in summary[1]
    # 2. the verdict vocabulary, with the prediction's source and the next pilot from step 6
    assert "Pilot: inconclusive — too small to tell." in summary[2]
    assert "Next: a 120-day pilot with 9 teams per arm starting 2 Feb 2026" in summary[2]
    assert "Predicted +2.5 CSAT points — from step 5&#x27;s what-if for resolution" in text or \
        "Predicted +2.5 CSAT points — from step 5's what-if for resolution" in text
    # the caveat that matters most: non-response moves the headline outside its interval -> which to use
    assert "use the reweighted figure for the whole customer base" in summary[3]
    # 4. controls are never levers; the share is stated in words
    assert "and contact context (contact reason) 17% — context is controlled for, not a lever" in text
    lever_rows = text.split("The levers, in step 5")[1].split("</table>")[0]
    assert "contact reason" not in lever_rows and "first-contact resolution" in lever_rows
    # the what-if table lists every lever, largest gain first (hold −10 s is not dropped)
    table = text.split("Predicted change in the CX headline")[1].split("</table>")[0]
    assert table.index("Cutting hold time by 10 s") < table.index("Cutting repeat contacts by 3 points")
    # 5. charts with real alt text
    assert 'alt="Line chart of CSAT by week from 6 Jan 2025 to 24 Feb 2025' in text
    assert "pilot start 3 Feb 2025." in text  # the pilot's start, as step 6 recorded it, is marked
    assert 'alt="Scatter chart of importance versus performance' in text
    assert "No description has been provided" not in text
    # 6. what changed: arrows, beyond-noise, human dates, and the window warning
    assert "Previous run 1 Jan 2026, 08:00 UTC → this run 10 Jan 2026, 08:00 UTC." in text
    # 76.86 - 70.0 = +6.86 > sqrt(0.395^2 + 0.5^2) = 0.64 -> beyond noise
    assert "↑ +6.9 points · beyond noise" in text
    assert "did not hold" in text and "changed" in text
    assert "different windows (1 Jul 2024 – 30 Jun 2025 then 1 Jan – 31 Dec 2025)" in text
    # skipped sections of other steps are listed
    assert "Not analysed in this run" in text and "No agent_scores table: QA scores (step 3)." in text
    # 5 (issue 19). the KPI definition that tracks CX better, in one plain sentence
    assert ALIGNMENT_SENTENCE in text
    # 8. no <details> in the brief's own content
    assert "<details" not in text



def test_null_data_no_lever_and_mixed_metric(tmp_path, tiny_config):
    """CX unrelated to every driver: step 5 flags no lever; the brief ranks none and shows no what-if.

    In the same run step 4 was re-run with NPS: the brief warns that metrics are mixed.
    """
    res = constructed("did not hold")
    res["04_correlate"]["params"] = {**PARAMS, "cx_metric": "nps", "step": "04_correlate"}
    f = res["05_focus"]
    f["r2"] = {"r2": 0.0006, "ci_low": 0.0, "ci_high": 0.002}
    f["no_lever"] = {"no_lever": True, "reason": "the drivers explain only 0.06% of the differences in CSAT "
                                                 "between responses (below 2%)", "levers_clear": []}
    f["focus"] = []
    for w in f["what_if"]:
        w.update(effect=0.01, ci_low=-0.2, ci_high=0.2)
    run = write_run(tmp_path, "20260110T000000.000Z-null00", res)
    text, rec = run_brief(run, tiny_config)
    assert rec["brief"]["no_lever"] is True and rec["brief"]["drivers"] == []
    assert "**No lever was found:** the drivers explain only 0.06% of the differences" in rec["brief"]["summary"][1]
    assert "No lever was found" in text
    assert "The levers, in step 5" not in text and "Predicted change in the CX headline" not in text
    assert "Focus on" not in text and "Scatter chart" not in text
    assert "no lever was found, so there is nothing to move" in text  # section 3's skip note
    assert "Pilot: did not hold." in rec["brief"]["summary"][2]
    assert "cxlab-verdict-did-not-hold" in text
    # 7. steps disagree on the metric: the warning names the step and both metrics
    warn = [w for w in rec["brief"]["warnings"] if "CX metric" in w]
    assert warn and "step 4 (correlations) used NPS" in warn[0] and "used CSAT" in warn[0]
    assert "Mixed runs:" in text


# --------------------------------------------------------------- functions
@pytest.mark.parametrize("kind, shown, cls", [
    ("held", "held", "cxlab-verdict-held"),
    ("did not hold", "did not hold", "cxlab-verdict-did-not-hold"),
    ("inconclusive", "inconclusive — too small to tell", "cxlab-verdict-inconclusive"),
])
def test_verdict_view_three_verdicts(kind, shown, cls):
    v = brief.verdict_view(constructed(kind))
    assert v["kind"] == kind and v["label"] == shown
    html = brief.verdict_html(v)
    assert cls in html and "step 5&#x27;s what-if" not in html  # quotes are not over-escaped in text
    assert "Predicted +2.5 CSAT points — from step 5's what-if for resolution" in html
    assert ("Next:" in html) == (kind == "inconclusive")  # next pilot: recorded with the inconclusive verdict
    if kind == "held":
        assert "How it was read out: cluster robust; 12 teams, randomized" in html


def test_pilot_not_read_out_derives_nothing():
    res = constructed()
    del res["06_validate"]["verdict"]
    res["06_validate"]["skipped"] = [{"section": "pilot", "title": "The pilot", "missing": "no pilot is configured"}]
    v = brief.verdict_view(res)
    assert v["kind"] == "not read out" and v["effect"] == "" and v["prediction"] == ""
    assert v["reason"] == "The pilot was not read out in this run: no pilot is configured."


def test_older_step_is_flagged_stale():
    res = constructed()
    res["05_focus"]["params"] = {**PARAMS, "recorded_at": "2026-01-11T09:30:00+00:00"}
    warns = brief.consistency_warnings(res)
    assert warns == ["Step 6 (validation) is older than step 5 (focus), which it is computed from "
                     "(recorded 10 Jan 2026 08:00 UTC vs 11 Jan 2026 09:30 UTC): re-run step 6 (validation)."]
    assert brief.consistency_warnings(constructed()) == []


def test_no_cx_at_all_gives_operational_findings():
    res = constructed()
    for step in ("01_cx_metric", "05_focus", "06_validate"):
        res.pop(step)
    res["01_cx_metric"] = {"skipped": [{"section": "headline", "missing": "no CSAT response in the window"}]}
    bullets = brief.summary_bullets(res)
    assert bullets == ["**No CX measure was recorded in this run** (no CSAT response in the window), so this "
                       "brief shows the operational findings only. Operations: service level 84.8%, average "
                       "handle time 9:14, first-contact resolution (no repeat contact) 75.0%."]


def test_levers_fallback_rule_without_no_lever_record():
    """An older step 5 (no `controls`, no `no_lever`): context variables are controls; empty focus = no lever."""
    res = copy.deepcopy(constructed())
    f = res["05_focus"]
    del f["roles"], f["no_lever"]
    lv = brief.levers(res)
    assert lv["found"] and [x["driver"] for x in lv["levers"]] == ["resolved", "hold_s", "is_repeat"]
    assert [c["driver"] for c in lv["controls"]] == ["contact_reason"]
    f["focus"] = []
    lv = brief.levers(res)
    assert not lv["found"] and lv["levers"] == [] and lv["reason"] == "no driver qualified for step 5's focus list"


def test_rendered_brief_has_footer_metadata_and_no_details(inconclusive_run, tiny_config):
    """The template puts the run header in a footer for the brief, without <details>, and a small stylesheet."""
    from cxlab.config import load_config
    from cxlab.pipeline.render import render_html, run_header_html

    run = inconclusive_run[0]
    hdr = run_header_html(load_config(tiny_config), run_id=run.name, step="07_brief", status="ok", error=None)
    html = render_html(run / "07_brief.ipynb", run / "07_brief.html", header_html=hdr).read_text()
    assert "<details" not in html
    body = html.split("<body", 1)[1]
    assert body.index("1. Our CX metric") < body.index('<footer class="cxlab-footer">') < body.index("07_brief")
    text_only = re.sub(r"base64,[A-Za-z0-9+/=]+", "base64,", html)  # images become CID parts in the email
    assert len(text_only.encode()) < 100_000  # JupyterLab's 240 KB stylesheet is not embedded


def _capture_display(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj.data))
    return shown


def test_nb_figure_is_a_print_resolution_png_with_alt_text(monkeypatch):
    import base64
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    from cxlab import nb

    shown = _capture_display(monkeypatch)
    fig, ax = plt.subplots(figsize=(4, 2))
    ax.plot([0, 1], [0, 1])
    nb.figure(fig, alt='CSAT "by week" <rising>', dpi=200)
    html = shown[0]
    assert html.startswith('<img class="cxlab-figure" alt="CSAT &quot;by week&quot; &lt;rising&gt;"')
    png = base64.b64decode(html.split("base64,", 1)[1].rstrip('">'))
    width = Image.open(io.BytesIO(png)).size[0]
    assert 0.85 * 4 * 200 <= width <= 4 * 200  # 4 in at 200 dpi (bbox_inches="tight" trims the margins)
    assert not plt.get_fignums()  # closed: the inline backend does not show it twice


def test_nb_show_human_formats_and_keeps_privacy(monkeypatch):
    import pandas as pd

    from cxlab import nb

    shown = _capture_display(monkeypatch)
    nb.show(pd.DataFrame({"customer_id": ["C1"], "aht_s": [554.48], "fcr_pct": [74.97]}), human=True)
    html = shown[0]
    assert "C1" not in html and "customer" not in html
    assert ">average handle time<" in html and ">9:14<" in html and ">75.0%<" in html


@pytest.mark.parametrize("meta, value, expected_head, expected_change", [
    ({"metric": "nps", "scale": "points"}, 18.46, "**NPS (promoters − detractors, points): +18.5** (+17.5 to +19.5)",
     "+2.5 NPS points"),
    ({"metric": "ces", "scale": "mean"}, 5.234, "**CES mean (1–7 scale): 5.23** (4.23–6.23)",
     "+2.5 CES points on the 1–7 scale"),
])
def test_other_metrics_print_in_their_own_units(meta, value, expected_head, expected_change):
    res = constructed()
    res["01_cx_metric"]["metric"] = meta
    res["01_cx_metric"]["headline"].update(value=value, ci_low=value - 1, ci_high=value + 1)
    assert brief.summary_bullets(res)[0].startswith(expected_head)
    assert brief.cx_points(res, 2.5) == expected_change


def test_alignment_advice_only_when_a_definition_is_recommended():
    res = constructed()
    assert brief.alignment_advice(res) == [ALIGNMENT_SENTENCE]
    # no recommendation (every interval covers zero): nothing is said
    rows = [{**r, "recommended": False} for r in ALIGNMENT_ROWS]
    res["04_correlate"]["kpi_alignment"] = {"table": rows, "summary": "No alternative definition tracks CX clearly better."}
    assert brief.alignment_advice(res) == []
    # a step 4 without the alignment section, or one that skipped it
    res["04_correlate"].pop("kpi_alignment")
    assert brief.alignment_advice(res) == []
    # a recommended FCR window and AHT without hold read in words; both grains named when they agree
    fcr = [{"kpi": "fcr", "definition": d, "grain": g, "score": s, "diff_vs_configured": s - 0.20, "ci_low": lo,
            "ci_high": hi, "recommended": rec, "configured": conf}
           for g in ("period", "contact")
           for d, s, lo, hi, rec, conf in [("W = 7 d, any channel", 0.20, 0.0, 0.0, False, True),
                                           ("W = 3 d, same channel", 0.26, 0.02, 0.10, True, False)]]
    aht = [{"kpi": "aht", "definition": "with hold", "grain": "period", "score": 0.10, "diff_vs_configured": 0.0,
            "ci_low": 0.0, "ci_high": 0.0, "recommended": False, "configured": True},
           {"kpi": "aht", "definition": "without hold", "grain": "period", "score": 0.15, "diff_vs_configured": 0.05,
            "ci_low": 0.01, "ci_high": 0.09, "recommended": True, "configured": False}]
    res["04_correlate"]["kpi_alignment"] = {"table": fcr + aht}
    assert brief.alignment_advice(res) == [
        "First-contact resolution (no repeat contact) tracks CSAT best, day by day and contact by contact, when a "
        "repeat is counted within 3 days rather than the configured 7 and only repeats on the same channel count "
        "(correlation 0.26 against 0.20: a difference of +0.06, +0.02 to +0.10); consider reporting it that way.",
        "Average handle time tracks CSAT best, day by day, when counted without hold time rather than with it, as "
        "configured (correlation 0.15 against 0.10: a difference of +0.05, +0.01 to +0.09); consider reporting it "
        "that way."]


def test_not_analysed_is_one_short_line_per_reason():
    """Sparse data (an aggregates-only center): many skipped sections, a few short lines."""
    both = "no interactions table in the window; no surveys table in the window"
    res = {"04_correlate": {"skipped": [{"section": s, "title": t, "missing": both} for s, t in
                                        [("contact", "Contact grain"), ("partial", "Partial against raw"),
                                         ("logit", "Odds of a top score per contact condition")]]
                            + [{"section": "grains", "title": "Do the two grains agree?",
                                "missing": "it builds on Contact grain, which is skipped"}]},
           "05_focus": {"skipped": [{"section": "drivers", "title": "Driver importance", "missing": both},
                                    {"section": "value", "title": "What the focus lever is worth",
                                     "missing": "no interactions table in the window; no customers table in the window"}]},
           "06_validate": {"skipped": [{"section": "pilot", "title": "The pilot: treated vs control teams",
                                        "missing": "no pilot assignment is configured (set pilot_treated, e.g. "
                                                   "steps: {06_validate: {pilot_treated: [team_a, team_c]}})"}]},
           "07_brief": {"skipped": [{"section": "cx", "title": "Our CX metric", "missing": "no CSAT response"}]}}
    assert brief.skipped_notes(res) == [
        # 6 sections share "no interactions table"; 4 of them also "no surveys table" (not all: one line says
        # only what all share); "Do the two grains agree?" inherits Contact grain's reasons
        "No interactions table in the window: contact grain; partial against raw; odds of a top score per contact "
        "condition and 3 more (steps 4 and 5).",
        "No pilot assignment is configured: the pilot: treated vs control teams (step 6).",  # details left out
    ]
    assert all(len(line) < 160 for line in brief.skipped_notes(res))


def test_write_run_pdf_is_skipped_with_a_note_without_chromium(tmp_path, monkeypatch, caplog):
    """No Chromium: no PDF, a logged reason, and an older PDF is removed (it would not match the HTML)."""
    import logging

    from cxlab.brief import pdf

    (tmp_path / "07_brief.html").write_text("<html><body><p>brief</p></body></html>")
    (tmp_path / "07_brief.pdf").write_bytes(b"%PDF-1.4 stale")
    monkeypatch.setattr(pdf, "chromium_path", lambda: None)
    with caplog.at_level(logging.WARNING, logger="cxlab.brief.pdf"):
        assert pdf.write_run_pdf(tmp_path) is None
    assert not (tmp_path / "07_brief.pdf").exists()
    assert "07_brief.pdf not written: no headless Chromium found" in caplog.text
    assert pdf.write_run_pdf(tmp_path / "nowhere") is None  # no brief: nothing to print
    assert "07_brief.html is missing" in caplog.text
