"""Steps 01-03 adapt to the data a center has (issue 16 item 1; issue 15 item 5; issue 19 item 6).

Unit tests of what the step packages derive from the data present (segments, metric pairs, the frames
without surveys or from aggregates, the not-measured notes), then the three notebooks executed with
papermill over degraded copies of a small sample: one queue / one channel / only CSAT with every optional
table and measure removed; the CSV export over a short window with no surveys; an aggregates-only center.
Each run must finish, record the expected skip notes under ``skipped`` and the values it could compute.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml

from cxlab import metric as cx
from cxlab import plan, sources
from cxlab.errors import NotEnoughData

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ("01_cx_metric", "02_operational_kpis", "03_other_sources")
TZ = "America/New_York"
OPTIONAL = ("agents", "agent_scores", "events", "staffing", "customers", "customer_revenue", "series")


# ------------------------------------------------------------------ package: step 1


def test_segment_columns_derived_from_the_data():
    r = pd.DataFrame({"queue": ["a", "b", "a", "b"], "channel": ["voice"] * 4, "csat": [5, 4, np.nan, 2]})
    assert cx.segment_columns(r, [], metric="csat") == (["queue"], {"channel": "a single level ('voice')"})
    # the old comma-string form still works, and a requested column that is absent is named, not dropped silently
    assert cx.segment_columns(r, "queue, site", metric="csat") == (["queue"], {"site": "not mapped"})
    # a level counts only through responses that answered the metric
    one = r.assign(queue=["a", "a", "b", "a"])  # 'b' answered only with NaN
    with pytest.raises(NotEnoughData, match=r"queue a single level \('a'\); channel a single level"):
        cx.segment_columns(one, metric="csat")


def test_single_level_and_single_metric_are_not_enough_data():
    r = pd.DataFrame({"queue": ["a"] * 5, "csat": [5, 4, 3, 5, 1]})
    with pytest.raises(NotEnoughData, match=r"column 'queue' has a single level \('a'\) among the CSAT responses"):
        cx.compare_segments(r, metric="csat", segment="queue")
    with pytest.raises(NotEnoughData, match=r"only 1 CX metric answered \(csat\)"):
        cx.agreement(r)
    assert cx.crosstab_pair(r) is None
    assert cx.crosstab_pair(r.assign(nps=9, ces=6)) == ("nps", "csat")


def _loyalty_frames():
    """Six customers answering in February; revenue for January and March (the loyalty_revenue doc example)."""
    r = pd.DataFrame({"customer_id": list("abcdef"), "csat": [5, 4, 3, 2, 1, 5],
                      "responded_at": pd.Timestamp("2025-02-10", tz="UTC")})
    months = pd.to_datetime(["2025-01-01", "2025-03-01"])
    rev = pd.DataFrame({"customer_id": np.repeat(list("abcdef"), 2), "month": np.tile(months, 6),
                        "revenue": [10, 12, 10, 11, 10, 10, 10, 9, 10, 8, 10, 13]})
    return r, rev


def test_loyalty_revenue_reads_csv_text_months_like_dates():
    r, rev = _loyalty_frames()
    as_dates = cx.loyalty_revenue(r, rev, metrics=["csat"], horizon_days=30, end="2025-12-31")
    as_text = cx.loyalty_revenue(r, rev.assign(month=rev["month"].dt.strftime("%Y-%m-%d")), metrics=["csat"],
                                 horizon_days=30, end="2025-12-31")
    pd.testing.assert_frame_equal(as_dates, as_text)
    # by hand: change = March - January = (+2, +1, 0, -1, -2, +3); mean 0.5
    assert as_text["n_customers"].item() == 6 and as_text["mean_change"].item() == pytest.approx(0.5)


def test_loyalty_without_a_full_horizon_is_not_enough_data():
    r, rev = _loyalty_frames()
    customers = pd.DataFrame({"customer_id": list("abcdef"), "churned_at": pd.NaT})
    # a 60-day window: every response is within 180 days of the end of follow-up
    msg = r"no customer has a response at least 180 days before the end of the data \(6 customers responded"
    with pytest.raises(NotEnoughData, match=msg):
        cx.loyalty_prediction(r, customers, horizon_days=180, n_boot=10, end="2025-03-31")
    with pytest.raises(NotEnoughData, match=msg):
        cx.loyalty_revenue(r, rev, horizon_days=180, end="2025-03-31")
    with pytest.raises(NotEnoughData, match="none of the 6 responses has a customer id found in customers"):
        cx.loyalty_calibration(r.assign(customer_id=list("uvwxyz")), customers, end="2025-12-31")


def test_step_inputs_and_takeaway_without_interactions():
    s = pd.DataFrame({"interaction_id": ["i1", "i2"], "csat": [5.0, 2.0],
                      "responded_at": pd.to_datetime(["2025-01-02", "2025-01-03"], utc=True)})
    responses, handled = cx.step_inputs({"surveys": s, "interactions": pd.DataFrame()})
    assert handled is None and responses["csat"].tolist() == [5.0, 2.0]
    assert str(cx.follow_up_end({"surveys": s}).date()) == "2025-01-03"
    h = cx.summarize(responses, metric="csat").iloc[0]
    text = cx.takeaway(metric="csat", headline=h, skipped=["By segment"])
    # 1 of 2 top-2-box = 50%; Wilson 95% for 1/2 = [9.45, 90.55] (statsmodels proportion_confint) -> moe 40.5
    assert text == "CSAT stands at 50.0 (±40.5) on 2 responses. Not computed on this data: By segment."


# ------------------------------------------------------------------ package: step 3 frames


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A 40-day sample (120 contacts a day) as canonical tables and as files."""
    from cxlab.sample.write import write_sample

    out = tmp_path_factory.mktemp("sample")
    write_sample(out / "pq", days=40, contacts_per_day=120)
    write_sample(out / "csv", days=40, contacts_per_day=120, format="csv")
    tables = {p.stem: pd.read_parquet(p) for p in (out / "pq").glob("*.parquet")}
    return out, tables


def test_period_frame_without_surveys_holds_kpis_only(small):
    _, t = small
    with_cx = sources.period_frame(t, grain="week", segments=["queue"], timezone=TZ)
    kpis_only = sources.period_frame({k: v for k, v in t.items() if k != "surveys"}, grain="week",
                                     segments=["queue"], timezone=TZ)
    assert with_cx.attrs["has_cx"] and not kpis_only.attrs["has_cx"]
    assert (kpis_only["cx_n"] == 0).all() and kpis_only["cx_value"].isna().all()
    # the KPI columns are the same numbers with or without surveys
    cols = ["period", "queue", "offered", "service_level_pct", "asa_s"]
    pd.testing.assert_frame_equal(with_cx[cols], kpis_only[cols])
    # responses land in their contact's period: the CX n sums to the linked responses with a CSAT answer
    linked = t["surveys"]["interaction_id"].isin(t["interactions"]["interaction_id"]) & t["surveys"]["csat"].notna()
    assert with_cx["cx_n"].sum() == int(linked.sum())


def test_period_frame_from_aggregates_only():
    a = pd.DataFrame({"period_start": pd.to_datetime(["2025-01-06", "2025-01-07", "2025-01-13"]),
                      "queue": "q1", "offered": [100.0, 300.0, 50.0], "answered": [90.0, 250.0, 40.0],
                      "asa_s": [20.0, 40.0, 10.0], "service_level": [0.9, 0.7, 0.5],
                      "nps_points": [10.0, 30.0, -5.0], "nps_n": [10, 30, 5]})
    f = sources.period_frame({"aggregates": a, "surveys": pd.DataFrame()}, cx_metric="nps", grain="week",
                             segments=["queue"], timezone=TZ)
    assert f.attrs["source"] == "aggregates" and f.attrs["has_cx"]
    week1 = f.iloc[0]
    # response-weighted NPS (10·10 + 30·30) / 40 = 25; offered-weighted SL (0.9·100 + 0.7·300) / 400 = 75 %;
    # answered-weighted ASA (20·90 + 40·250) / 340 = 34.706 s (all by hand)
    assert (week1["cx_n"], week1["cx_value"]) == (40, pytest.approx(25.0))
    assert week1["service_level_pct"] == pytest.approx(75.0)
    assert week1["asa_s"] == pytest.approx(11800 / 340)
    assert "aht" in f.attrs["not_measured"]
    weekly = a.iloc[[0, 2]]  # 2025-01-06 and 2025-01-13: week rows
    with pytest.raises(NotEnoughData, match="aggregates are week rows"):
        sources.kpi_frame({"aggregates": weekly}, by=("day",))
    with pytest.raises(NotEnoughData, match="no interactions and no aggregates"):
        sources.period_frame({"surveys": pd.DataFrame({"csat": [5]})})


def test_contact_frame_and_coverage_without_optional_tables(small):
    _, t = small
    bare = {k: v for k, v in t.items() if k not in OPTIONAL}
    f = sources.contact_frame(bare, timezone=TZ)
    assert "tenure_days" not in f and "qa_score" not in f and not [c for c in f if c.startswith("event_")]
    assert f.attrs["coverage"] == []
    with pytest.raises(NotEnoughData, match="no surveyed contact has an agent with a known hire date"):
        sources.tenure_summary(f)
    cov = sources.coverage(bare, timezone=TZ)
    assert cov["source"].tolist() == ["interactions", "surveys"]
    with pytest.raises(NotEnoughData, match="no survey response in the window"):
        sources.contact_frame({**bare, "surveys": bare["surveys"].iloc[:0]}, timezone=TZ)
    # tenure by hand: 30.44 days = 1 month
    assert sources.tenure_summary(pd.DataFrame({"tenure_days": [30.44, 304.4]}))["median_months"] == pytest.approx(5.5)


def test_operational_notes():
    k = pd.DataFrame({"offered": [10]})
    k.attrs["not_measured"] = {"aht": "columns 'hold_s', 'acw_s' are not mapped", "occupancy": "no staffing table"}
    assert sources.not_measured_table(k)["label"].tolist() == ["AHT", "occupancy"]
    # the example: 19,502 contacts without a customer id, FCR over the other 13,564
    note = sources.customer_id_note({"no_customer_id": 19502, "fcr_den": 13564, "ivr_only": 12})
    assert note.startswith("19,502 contacts have no customer id") and "FCR is over the other 13,564" in note
    assert "12 contacts never reached a queue" in note
    from cxlab.config import KpiOptions

    s = sources.kpi_headline_sentence({"offered": 50, "service_level_pct": 80.0, "abandon_rate_pct": 4.0,
                                       "asa_s": 12.0, "aht_s": 300.0, "fcr_pct": float("nan")}, KpiOptions())
    assert s == ("Over the window the center was offered **50** contacts; **80.0%** were answered within 20 s; "
                 "4.0% abandoned (after the first 5 s); answered contacts waited 12 s on average and were handled "
                 "in 5.0 min. Not measured: FCR.")


# ------------------------------------------------------------------ plan declarations


def test_plan_declarations_for_early_steps():
    inter = pd.DataFrame({"queue": ["a", "a"], "channel": ["voice", "voice"], "interaction_id": ["1", "2"]})
    surveys = pd.DataFrame({"interaction_id": ["1"], "csat": [5.0], "customer_id": ["c"]})
    tables = {"interactions": inter, "surveys": surveys}
    why = plan.missing(plan.section("01_cx_metric", "segments"), tables)
    assert why == ["column 'queue' of interactions has a single value ('a'); "
                   "column 'channel' of interactions has a single value ('voice')"]
    assert plan.missing(plan.section("01_cx_metric", "agreement"), tables) == [
        "only CSAT is answered (needs at least two metrics)"]
    assert plan.missing(plan.section("01_cx_metric", "headline"), {**tables, "surveys": surveys.iloc[:0]}) == [
        "no surveys rows in the window"]
    # surveys in the window but none answering the run's metric: said so, not "column missing"
    nps_only = {**tables, "surveys": surveys.drop(columns=["csat"]).assign(nps=9.0)}
    assert plan.missing(plan.section("01_cx_metric", "trend"), nps_only) == ["no CSAT response in the window"]
    assert plan.missing(plan.section("02_operational_kpis", "erlang"), tables) == ["no staffing table in the window"]
    assert plan.missing(plan.section("02_operational_kpis", "headline"), {}) == [
        "no interactions and no aggregates in the window"]
    assert plan.missing(plan.section("02_operational_kpis", "by_queue"), {"aggregates": inter}) == [
        "column 'queue' of aggregates has a single value ('a')"]
    assert plan.missing(plan.section("03_other_sources", "tenure"), tables) == [
        "no agents table in the window", "column 'agent_id' of interactions is not mapped"]


# ------------------------------------------------------------------ notebooks on degraded data


def _config(path: Path, sources_: dict, **extra) -> Path:
    cfg = {"name": path.stem, "timezone": TZ, "sources": {k: {"path": str(v)} for k, v in sources_.items()},
           "window": {"start": "2025-01-01", "end": "2025-02-09", "grain": "day"}, "cx_metric": "csat",
           "segments": ["queue"], **extra}
    path.write_text(yaml.safe_dump(cfg))
    return path


def _execute(step: str, config: Path, run_dir: Path, params: dict) -> str | None:
    """Run one notebook; return the first error output ("name: value") or None."""
    import papermill as pm

    with open(config) as fh:
        win = yaml.safe_load(fh)["window"]
    nb_out = run_dir / f"{step}.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks" / f"{step}.ipynb"), str(nb_out), kernel_name="python3",
                        progress_bar=False, log_output=False,
                        parameters={"config_path": str(config), "run_dir": str(run_dir),
                                    "window_start": str(win["start"]), "window_end": str(win["end"]), **params})
    nb = nbformat.read(str(nb_out), as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    return f"{errors[0]['ename']}: {errors[0]['evalue']}" if errors else None


@pytest.fixture(scope="module")
def runs(small, tmp_path_factory):
    """Every degraded case, each notebook executed once; the kernels run side by side to keep the module fast."""
    from concurrent.futures import ThreadPoolExecutor

    out, t = small
    base = tmp_path_factory.mktemp("degraded")
    cases = {}

    # 1. one queue, one channel, only CSAT; no optional table; no hold / ACW / transfer measures
    d = base / "single"
    d.mkdir()
    q = t["interactions"]["queue"].iloc[0]
    inter = t["interactions"]
    inter = inter[(inter["queue"] == q) & (inter["channel"] == "voice")].drop(columns=["hold_s", "acw_s", "transferred"])
    inter = inter.assign(customer_id=inter["customer_id"].where(np.arange(len(inter)) % 10 != 0))  # 1 in 10 unknown
    surveys = t["surveys"].drop(columns=["nps", "ces"])
    surveys = surveys[surveys["interaction_id"].isin(inter["interaction_id"])]
    inter.to_parquet(d / "interactions.parquet")
    surveys.to_parquet(d / "surveys.parquet")
    cfg = _config(d / "single.yaml", {"interactions": d / "interactions.parquet", "surveys": d / "surveys.parquet"})
    cases["single"] = (cfg, NOTEBOOKS, {}, {"queue": q, "interactions": inter, "surveys": surveys})

    # 2. the CSV export, a 21-day window, no surveys; list parameters injected by papermill
    d = base / "nosurveys"
    d.mkdir()
    files = {name: out / "csv" / f"{name}.csv" for name in ("interactions", *OPTIONAL)}
    cfg = _config(d / "nosurveys.yaml", files, window={"start": "2025-01-01", "end": "2025-01-21", "grain": "day"})
    cases["nosurveys"] = (cfg, NOTEBOOKS, {"01_cx_metric": {"segments": ["channel"]},
                                          "03_other_sources": {"series_lags": [0, 1]}}, {})

    # 3. an aggregates-only center: a daily KPI sheet with CSAT top-2-box and n
    d = base / "aggregates"
    d.mkdir()
    days = pd.date_range("2025-01-06", periods=14, freq="D")
    a = pd.DataFrame({"period_start": np.repeat(days.strftime("%Y-%m-%d"), 2), "queue": ["q1", "q2"] * 14,
                      "offered": [100, 50] * 14, "answered": [90, 40] * 14, "abandoned": [10, 10] * 14,
                      "asa_s": [20.0, 50.0] * 14, "aht_s": [300.0, 400.0] * 14, "service_level": [0.8, 0.6] * 14,
                      "csat_top2": [0.75, 0.5] * 14, "csat_n": [30, 10] * 14})
    a.to_csv(d / "daily.csv", index=False)
    cfg = _config(d / "agg.yaml", {"aggregates": d / "daily.csv"},
                  window={"start": "2025-01-06", "end": "2025-01-19", "grain": "day"})
    cases["aggregates"] = (cfg, ("01_cx_metric", "02_operational_kpis", "03_other_sources"), {}, {})

    jobs = {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        for name, (cfg, steps, params, _) in cases.items():
            run_dir = cfg.parent / "run"
            run_dir.mkdir()
            for step in steps:
                jobs[(name, step)] = pool.submit(_execute, step, cfg, run_dir, params.get(step, {}))
    errors = {k: f.result() for k, f in jobs.items() if f.result()}
    assert not errors, errors
    res = {}
    for name, (cfg, steps, _, extra) in cases.items():
        res[name] = {step: json.loads((cfg.parent / "run" / "results" / f"{step}.json").read_text()) for step in steps}
        res[name]["_data"] = extra
    return res


def _skipped(res: dict) -> dict:
    return {s["section"]: s["missing"] for s in res.get("skipped", [])}


def test_notebooks_single_valued_and_stripped(runs):
    """One queue, one channel, only CSAT; no optional table; no hold / ACW / transfer measures."""
    res = runs["single"]
    q, inter, surveys = (res["_data"][k] for k in ("queue", "interactions", "surveys"))
    s1 = _skipped(res["01_cx_metric"])
    assert set(s1) == {"segments", "agreement", "loyalty", "revenue"}
    assert s1["segments"] == (f"column 'queue' of interactions has a single value ({q!r}); "
                              "column 'channel' of interactions has a single value ('voice')")
    assert s1["agreement"] == "only CSAT is answered (needs at least two metrics)"
    assert s1["loyalty"] == "no customers table in the window"
    # the headline that could be computed: top-2-box share of the CSAT answers in the window, by hand
    lo, hi = pd.Timestamp("2025-01-01", tz=TZ), pd.Timestamp("2025-02-10", tz=TZ)
    at = surveys["responded_at"].dt.tz_convert(TZ)
    ans = surveys.loc[(at >= lo) & (at < hi), "csat"].dropna()
    head = res["01_cx_metric"]["headline"]
    assert head["n"] == len(ans) and head["value"] == pytest.approx(100 * (ans >= 4).mean())
    assert head["ci_low"] < head["value"] < head["ci_high"]  # an interval even when n is small (issue 19 item 6)
    assert len(res["01_cx_metric"]["weekly"]) >= 5 and "nonresponse" in res["01_cx_metric"]

    r2 = res["02_operational_kpis"]
    assert set(_skipped(r2)) == {"by_queue", "erlang", "what_if"}
    assert _skipped(r2)["erlang"] == "no staffing table in the window"
    arrived = inter["arrived_at"].dt.tz_convert(TZ)
    in_window = inter[(arrived >= lo) & (arrived < hi)]
    assert r2["headline"]["offered"] == len(in_window)  # every sample contact is inbound and reached the queue
    assert r2["headline"]["aht_s"] is None and r2["headline"]["transfer_rate_pct"] is None  # not measured, not 0
    assert {"aht", "transfer_rate", "hold_rate", "occupancy"} <= set(r2["not_measured"])
    assert r2["sensitivity"] and r2["weekly"]
    # unknown customers are counted and left out of FCR (its denominator is at most the other handled contacts)
    unknown = int(in_window["customer_id"].isna().sum())
    assert unknown > 0 and r2["customer_ids"]["no_customer_id"] == unknown
    handled_known = int((~in_window["abandoned"] & in_window["customer_id"].notna()).sum())
    assert 0 < r2["customer_ids"]["fcr_den"] <= handled_known

    r3 = res["03_other_sources"]
    assert set(_skipped(r3)) == {"tenure", "events"}
    # every windowed response links to its contact (the sample answers after the contact, within the window here)
    assert r3["frames"]["contact grain"][0] == int(((at >= lo) & (at < hi)).sum())
    assert r3["frames"]["period grain"][0] == 40  # 40 days x one queue


def test_notebooks_csv_export_short_window_without_surveys(runs, small):
    _, t = small
    res = runs["nosurveys"]
    s1 = _skipped(res["01_cx_metric"])
    assert set(s1) == {"headline", "trend", "segments", "agreement", "nonresponse", "loyalty", "revenue"}
    assert set(s1.values()) == {"no surveys table in the window"}
    assert "headline" not in res["01_cx_metric"] and res["01_cx_metric"]["metric"]["metric"] == "csat"
    r2 = res["02_operational_kpis"]
    assert _skipped(r2) == {}
    lo, hi = pd.Timestamp("2025-01-01", tz=TZ), pd.Timestamp("2025-01-22", tz=TZ)
    arrived = t["interactions"]["arrived_at"].dt.tz_convert(TZ)
    assert r2["headline"]["offered"] == int(((arrived >= lo) & (arrived < hi)).sum())
    assert r2["erlang"]["actual"] == pytest.approx(r2["headline"]["service_level_pct"], abs=0.5)
    r3 = res["03_other_sources"]
    assert set(_skipped(r3)) == {"contact_frame", "tenure"}
    assert _skipped(r3)["tenure"].startswith("it builds on The contact-grain frame")
    assert list(r3["frames"]) == ["period grain"]
    assert r3["frames"]["period grain"][0] == 21 * t["interactions"]["queue"].nunique()  # days x queues
    assert r3["event_days"] is not None


def test_notebooks_aggregates_only(runs):
    res = runs["aggregates"]
    r2 = res["02_operational_kpis"]
    assert set(_skipped(r2)) == {"erlang", "what_if", "sensitivity"}
    h = r2["headline"]
    # by hand: offered 14·150 = 2100; SL offered-weighted (0.8·100 + 0.6·50)/150 = 73.33 %;
    # ASA answered-weighted (20·90 + 50·40)/130 = 29.23 s; AHT (300·90 + 400·40)/130 = 330.77 s
    assert h["offered"] == 2100 and h["service_level_pct"] == pytest.approx(110 / 1.5)
    assert h["asa_s"] == pytest.approx(3800 / 130) and h["aht_s"] == pytest.approx(43000 / 130)
    assert h["fcr_pct"] is None and "fcr" in r2["not_measured"]
    assert [q["queue"] for q in r2["by_queue"]] == ["q1", "q2"]
    r3 = res["03_other_sources"]
    assert set(_skipped(r3)) == {"contact_frame", "coverage", "tenure", "events"}
    assert r3["frames"]["period grain"][0] == 28
    # step 01 reads the CX headline off the sheet: 14 days of (0.75 of 30) + (0.5 of 10) = 385 of 560 answering
    # 4-5; Wilson interval from statsmodels' proportion_confint(385, 560, method="wilson")
    from statsmodels.stats.proportion import proportion_confint

    r1 = res["01_cx_metric"]
    lo, hi = proportion_confint(385, 560, alpha=0.05, method="wilson")
    h1 = r1["headline"]
    assert h1["n"] == 560 and h1["value"] == pytest.approx(68.75)
    assert (h1["ci_low"], h1["ci_high"]) == pytest.approx((100 * lo, 100 * hi))
    assert h1["response_rate"] == pytest.approx(560 / (130 * 14))  # responses / answered contacts
    assert [w["value"] for w in r1["weekly"]] == [pytest.approx(68.75)] * 2  # two Monday weeks
    assert {"headline", "trend"}.isdisjoint(_skipped(r1))
    assert {"segments", "agreement", "nonresponse", "loyalty"} <= set(_skipped(r1))


def test_sensitivity_plot_leaves_out_kpis_that_are_not_measured():
    from cxlab import plots

    sens = pd.DataFrame({"definition": ["as configured", "SL threshold 30 s"], "service_level_pct": [80.0, 86.0],
                         "abandon_rate_pct": [5.0, 5.0], "fcr_pct": [70.0, 70.0], "aht_s": [np.nan, np.nan]})
    fig = plots.kpi_sensitivity(sens)
    titles = [ax.get_title() for ax in fig.axes]
    assert len(titles) == 3 and not any("AHT" in t or "handle" in t.lower() for t in titles)
    with pytest.raises(ValueError, match="no KPI"):
        plots.kpi_sensitivity(sens[["definition", "aht_s"]])
