"""Steps 04 and 05 on whatever data a run has (issue 16), equivalence for "no effect" (issue 19.2),
levers vs confounders (19.3) and the data side of levers vs controls / no lever (18.4)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
import yaml
from scipy import stats

from cxlab import correlate, kpis, sources
from cxlab import focus as drv
from cxlab.errors import NotEnoughData, ParameterError

TZ = "America/New_York"


# ------------------------------------------------------------------ direct effect + TOST (issue 19.2)


def _clustered(seed=11, n_agents=25, per=30, beta=0.0):
    rng = np.random.default_rng(seed)
    agents = np.repeat(np.arange(n_agents), per)
    n = len(agents)
    reason = rng.choice(["billing", "tech", "sales"], n)
    f = pd.DataFrame({"agent_id": [f"a{i}" for i in agents], "contact_reason": reason})
    f["handle_s"] = 300 + 150 * (reason == "tech") + rng.normal(0, 80, n)
    f["cx_value"] = (70 - 15 * (reason == "tech") + beta * (f["handle_s"] - 300) / 80
                     + np.repeat(rng.normal(0, 5, n_agents), per) + rng.normal(0, 30, n))
    return f


def test_direct_effect_matches_statsmodels_cr1():
    f = _clustered()
    res = correlate.direct_effect(f, cx="cx_value", x="handle_s", controls=["contact_reason"], per=60.0,
                                  margin=3.0).iloc[0]
    # statsmodels OLS, cov_type="cluster" (CR1: G/(G-1) (N-1)/(N-K)), groups = agent; df = G - 1 = 24
    m = smf.ols("cx_value ~ handle_s + C(contact_reason)", f).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(f["agent_id"], sort=True)[0]})
    b, se = 60.0 * m.params["handle_s"], 60.0 * m.bse["handle_s"]
    assert res["estimate"] == pytest.approx(b, rel=1e-9)
    assert res["se"] == pytest.approx(se, rel=1e-9)
    assert res["df"] == 24 and res["n_clusters"] == 25
    q = stats.t.ppf(0.975, 24)
    assert (res["ci_low"], res["ci_high"]) == pytest.approx((b - q * se, b + q * se), rel=1e-9)
    # TOST closed form (Schuirmann 1987): p = max(P(T > (b + m)/se), P(T < (b - m)/se)), T ~ t(24)
    p = max(stats.t.sf((b + 3.0) / se, 24), stats.t.cdf((b - 3.0) / se, 24))
    assert res["p_equiv"] == pytest.approx(p, abs=1e-9)
    assert res["p_val"] == pytest.approx(2 * stats.t.sf(abs(b / se), 24), abs=1e-9)


def test_direct_effect_sentences_never_read_absence_as_evidence():
    f = _clustered(per=8)  # 200 rows: too few to settle either way
    small = correlate.direct_effect(f, cx="cx_value", x="handle_s", controls=["contact_reason"], margin=1.0).iloc[0]
    assert not small["equivalent"] and not small["excludes_zero"]
    assert small["sentence"].startswith("an effect of ±1 points cannot be ruled out")
    big = correlate.direct_effect(_clustered(per=400), cx="cx_value", x="handle_s", controls=["contact_reason"],
                                  margin=2.0).iloc[0]
    assert big["equivalent"] and big["sentence"].startswith("within ±2 points (equivalence p = ")
    real = correlate.direct_effect(_clustered(per=400, beta=6.0), cx="cx_value", x="handle_s",
                                   controls=["contact_reason"], margin=2.0).iloc[0]
    assert real["excludes_zero"] and not real["equivalent"] and real["sentence"].startswith("an effect remains")
    with pytest.raises(NotEnoughData, match="only one agent_id"):
        correlate.direct_effect(f.assign(agent_id="a"), cx="cx_value", x="handle_s", margin=1.0)


@pytest.fixture(scope="module")
def sample_contacts():
    from cxlab.sample import generate

    out = {}
    for seed in (20251, 1, 2, 3, 4):
        t = generate(seed=seed, days=120, contacts_per_day=600)
        out[seed] = (sources.contact_frame(t, cx_metric="csat", timezone=TZ), t)
    return out


def test_handle_time_equivalent_to_zero_over_seeds(sample_contacts):
    """The sample's handle time has no direct effect (ground truth): with the contact reason and the other
    conditions held fixed, it is declared equivalent to zero within the default margin in every seed."""
    direct = ["contact_reason", "resolved", "transferred", "hold_s", "is_repeat", "wait_s"]
    for seed, (c, _) in sample_contacts.items():
        row = correlate.explain_confounder(
            c, cx="csat", x="handle_s", confounder=direct,
            equivalence={"outcome": "cx_value", "margin": correlate.DEFAULT_MARGIN["csat"], "x_unit": "s"}).iloc[0]
        assert row["equivalent"], (seed, row["effect"], row["p_equiv"])
        assert "within ±2 points (equivalence p = " in row["sentence"]
        assert "association remains" not in row["sentence"]


# ------------------------------------------------------------------ levers vs confounders (19.3, 18.4)


def test_driver_table_flags_handle_time_through_contact_reason(sample_contacts):
    c, _ = sample_contacts[20251]
    s = drv.resolve_settings(c.dropna(subset=["cx_value"]), controls=["contact_reason"])
    frame = c.dropna(subset=["cx_value", *s.drivers])
    boot = drv.bootstrap_importance(frame, outcome="cx_value", drivers=s.drivers, n_boot=30, seed=1)
    t = drv.driver_table(frame, boot.importance, outcome="cx_value", levers=s.levers, controls=s.controls).set_index(
        "driver")
    assert t.loc["contact_reason", "role"] == "control" and t.loc["resolved", "role"] == "lever"
    assert bool(t.loc["handle_s", "mostly_from_controls"]) and not bool(t.loc["resolved", "mostly_from_controls"])
    # resolution's direct effect is large and clear (ground truth: it drives CSAT)
    assert t.loc["resolved", "direct_ci_low"] > 5
    reading = drv.model_reading(boot.r2.iloc[0]["r2"], (boot.r2.iloc[0]["ci_low"], boot.r2.iloc[0]["ci_high"]),
                                boot.coef, levers=s.levers)
    assert not reading["no_lever"] and "resolved" in reading["levers_clear"]


def test_no_lever_when_nothing_relates():
    rng = np.random.default_rng(0)
    n = 3000
    f = pd.DataFrame({"resolved": (rng.random(n) < 0.7).astype(float), "wait_s": rng.exponential(30, n),
                      "contact_reason": rng.choice(["a", "b"], n), "cx_value": 100.0 * (rng.random(n) < 0.8)})
    boot = drv.bootstrap_importance(f, outcome="cx_value", drivers=["resolved", "wait_s", "contact_reason"],
                                    n_boot=50, seed=0)
    r2 = boot.r2.iloc[0]
    m = drv.model_reading(r2["r2"], (r2["ci_low"], r2["ci_high"]), boot.coef, levers=["resolved", "wait_s"])
    assert r2["r2"] < drv.LOW_R2 and m["no_lever"] and "below 2%" in m["no_lever_reason"]


def test_resolve_settings_derives_from_columns_present():
    f = pd.DataFrame({"resolved": [1.0, 0, 1, 0], "hold_s": [0.0, 30, 0, 5], "transferred": [0.0] * 4,
                      "handle_s": [100.0, 200, 300, 250], "contact_reason": ["a", "b", "a", "b"]})
    s = drv.resolve_settings(f, controls=["contact_reason", "channel"])
    assert s.levers == ["resolved", "hold_s", "handle_s"]  # no tenure_days, transferred constant
    assert s.controls == ["contact_reason"] and s.dropped["channel"] == "not in the data"
    assert s.changes == {"resolved": 0.05, "hold_s": -10.0}  # only levers of this run
    assert s.targets == {"resolved": 0.80, "hold_s": 15.0}
    s2 = drv.resolve_settings(f, drivers=["resolved", "hold_s"], controls=[], changes={"resolved": 0.1, "wait_s": -5})
    assert s2.changes == {"resolved": 0.1} and "wait_s" in s2.dropped
    with pytest.raises(ParameterError, match="tenure_days"):
        drv.resolve_settings(f, drivers=["tenure_days"])
    with pytest.raises(NotEnoughData, match="only 0 lever"):
        drv.resolve_settings(f[["transferred", "contact_reason"]])


def test_what_if_values_structured():
    v = drv.what_if_values(None, driver="resolved", change=0.05, effect=1.9, ci_low=1.6, ci_high=2.2,
                           unit="points", cx_metric="csat", currency="USD", sentence="s")
    assert v["customers_per_year"] is None and v["effect"] == 1.9 and v["currency"] == "USD"


# ------------------------------------------------------------------ step 4 building blocks (issue 16)


def test_constant_kpi_does_not_break_lags():
    rng = np.random.default_rng(3)
    p = pd.DataFrame({"period": pd.date_range("2025-01-01", periods=90), "asa_s": rng.normal(30, 5, 90),
                      "transfer_rate_pct": 0.0})
    p["cx_value"] = 80 - 0.3 * p["asa_s"] + rng.normal(0, 1, 90)
    cands = correlate.period_candidates(p)
    assert cands["kpis"] == ["asa_s"] and cands["constant"] == {"transfer_rate_pct": 0.0}
    lagged = correlate.lagged_correlations(p, cx="cx_value", candidates=["asa_s", "transfer_rate_pct"], max_lag=2,
                                           time="period", n_boot=0)
    best = correlate.best_lags(lagged)
    assert list(best["x"]) == ["asa_s"] and int(best["lag"].iloc[0]) == 0


def test_frames_without_surveys_and_kpi_relations(sample_contacts):
    _, t = sample_contacts[1]
    f = correlate.analysis_frames({k: v for k, v in t.items() if k != "surveys"}, timezone=TZ)
    assert f.contacts is None and not f.has_cx and f.periods["cx_value"].isna().all()
    assert "event_outage" in f.periods or any(c.startswith("event_") for c in f.periods)
    rel = correlate.kpi_relations(f.periods, kpis=correlate.period_candidates(f.periods)["kpis"], n_boot=0)
    pair = rel[(rel["x"] == "service_level_pct") & (rel["y"] == "abandon_rate_pct")].iloc[0]
    assert pair["r"] < -0.5 and pair["p_adj"] < 0.05  # queues that answer fast lose fewer callers
    with pytest.raises(NotEnoughData, match="only 1 KPI"):
        correlate.kpi_relations(f.periods, kpis=["asa_s"], n_boot=0)


# ------------------------------------------------------------------ the notebooks on degraded data


@pytest.fixture(scope="module")
def degraded(tmp_path_factory):
    from cxlab.sample import write_sample

    root = tmp_path_factory.mktemp("mid")
    data = root / "data"
    write_sample(data, days=75, contacts_per_day=250, seed=5)
    # a constant KPI (no transfers at all) and a single channel
    const = root / "const"
    const.mkdir()
    inter = pd.read_parquet(data / "interactions.parquet")
    inter.assign(transferred=False, channel="voice").to_parquet(const / "interactions.parquet")
    tabs = ["interactions", "surveys", "agents", "agent_scores", "events", "staffing", "customers",
            "customer_revenue", "series"]

    def cfg(name, drop=(), over=None):
        src = {t: {"path": str((over or {}).get(t, data / f"{t}.parquet")), "format": "parquet"}
               for t in tabs if t not in drop}
        path = root / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"name": name, "timezone": TZ, "sources": src, "seed": 5,
                                        "window": {"start": "2025-01-01", "end": "2025-03-16", "grain": "day"}}))
        return path

    # only a daily KPI sheet with CX (no contact-level data), from the same simulated days
    t = {k: pd.read_parquet(data / f"{k}.parquet") for k in ("interactions", "surveys")}
    k = kpis.kpi_table(t["interactions"], by=("day",), timezone=TZ)
    cx = sources.period_frame(t, segments=(), timezone=TZ)
    pd.DataFrame({"period_start": pd.to_datetime(k["day"]).dt.date, "offered": k["offered"].astype(float),
                  "answered": k["handled"].astype(float), "abandoned": k["abandoned"].astype(float),
                  "asa_s": k["asa_s"], "aht_s": k["aht_s"], "service_level": k["service_level_pct"] / 100,
                  "csat_top2": cx["cx_value"].to_numpy() / 100, "csat_n": cx["cx_n"].astype(float).to_numpy()}
                 ).to_csv(root / "sheet.csv", index=False)
    agg = root / "agg.yaml"
    agg.write_text(yaml.safe_dump({"name": "agg", "timezone": TZ, "seed": 5, "segments": [],
                                   "sources": {"aggregates": {"path": str(root / "sheet.csv"), "format": "csv"}},
                                   "window": {"start": "2025-01-01", "end": "2025-03-16", "grain": "day"}}))
    return {
        "agg": agg,
        "nocx": cfg("nocx", drop=("surveys", "series")),
        "lean": cfg("lean", drop=("agents", "agent_scores", "customers", "customer_revenue", "staffing"),
                    over={"interactions": const / "interactions.parquet"}),
        "root": root,
    }


def _run(nb, cfg, run_dir, **params):
    import papermill as pm

    run_dir.mkdir(parents=True, exist_ok=True)
    pm.execute_notebook(f"notebooks/{nb}.ipynb", str(run_dir / f"{nb}.ipynb"), kernel_name="python3",
                        parameters={"config_path": str(cfg), "run_dir": str(run_dir), **params}, progress_bar=False)
    return json.loads((run_dir / "results" / f"{nb}.json").read_text())


def _skipped(res):
    return {s["section"]: s["missing"] for s in res.get("skipped", [])}


@pytest.mark.slow
def test_notebooks_without_cx(degraded):
    run = degraded["root"] / "run_nocx"
    r4 = _run("04_correlate", degraded["nocx"], run, n_boot=30)
    sk = _skipped(r4)
    assert sk["period"] == "no CSAT response in the window" and "contact" in sk and "grains" in sk
    assert r4["candidates"]["has_cx"] is False and len(r4["kpi_relations"]) >= 10
    assert r4["hypotheses"]["n_tests"] == len(r4["kpi_relations"])
    r5 = _run("05_focus", degraded["nocx"], run, n_boot=30)
    assert set(_skipped(r5)) >= {"drivers", "focus", "value"} and "top_drivers" not in r5


@pytest.mark.slow
def test_notebooks_lean_data(degraded):
    """No agents, scores, staffing or customers; transfers constant; one channel."""
    run = degraded["root"] / "run_lean"
    r4 = _run("04_correlate", degraded["lean"], run, n_boot=30)
    assert r4["candidates"]["constant"] == {"transfer_rate_pct": 0.0}
    assert "transferred" not in r4["candidates"]["contact"] and "tenure_days" not in r4["candidates"]["contact"]
    assert "lags" not in _skipped(r4) and r4["lagged_best"]
    conf = r4["confounder"]
    assert conf["margin"] == 2.0 and "transferred" not in conf["held_fixed"]
    assert ("within ±2 points" in conf["sentence"]) or ("cannot be ruled out" in conf["sentence"]) \
        or ("effect remains" in conf["sentence"])
    r5 = _run("05_focus", degraded["lean"], run, n_boot=30, value_n_boot=10)
    roles = r5["roles"]
    assert roles["controls"] == ["contact_reason"] and "tenure_days" not in roles["levers"]
    assert "transferred" not in roles["levers"] and "transferred" not in roles["changes"]
    assert set(roles["changes"]) <= set(roles["levers"])
    assert all(d["role"] == "lever" for d in r5["top_drivers"])
    assert "contact_reason" not in {d["driver"] for d in r5["focus"]}
    assert r5["no_lever"]["no_lever"] is False and "sentence" in r5["r2"]
    assert _skipped(r5)["value"] == "no customers table in the window"
    lead = r5["what_if_lead"]
    assert lead["driver"] == r5["focus"][0]["driver"] and lead["customers_per_year"] is None


def test_frames_from_aggregates_only():
    """A center with only a daily KPI sheet: the period frame comes from it (CX included), no contact frame."""
    from cxlab.sample import generate

    t = generate(days=40, contacts_per_day=150, seed=2)
    k = kpis.kpi_table(t["interactions"], by=("day",), timezone=TZ)
    cx = sources.period_frame(t, segments=(), timezone=TZ)  # the same days, CX % top-2-box and n
    sheet = pd.DataFrame({"period_start": pd.to_datetime(k["day"]), "offered": k["offered"].astype(float),
                          "answered": k["handled"].astype(float), "abandoned": k["abandoned"].astype(float),
                          "asa_s": k["asa_s"], "aht_s": k["aht_s"], "service_level": k["service_level_pct"] / 100,
                          "csat_top2": cx["cx_value"].to_numpy() / 100, "csat_n": cx["cx_n"].astype(float).to_numpy()})
    f = correlate.analysis_frames({"aggregates": sheet}, cx_metric="csat", timezone=TZ)
    assert f.source == "aggregates" and f.contacts is None and f.has_cx
    # the sheet's CX per day is the contact-level headline per day (same definition, so equal to 1e-9)
    np.testing.assert_allclose(f.periods["cx_value"].to_numpy(), cx["cx_value"].to_numpy(), atol=1e-9)
    assert (f.periods["cx_n"].to_numpy() == cx["cx_n"].to_numpy()).all()
    cands = correlate.period_candidates(f.periods)
    assert {"asa_s", "service_level_pct", "aht_s"} <= set(cands["kpis"])
    with pytest.raises(NotEnoughData, match="no interactions or aggregates"):
        correlate.analysis_frames({}, timezone=TZ)


@pytest.mark.slow
def test_notebooks_aggregates_only(degraded):
    """Only a daily KPI sheet: 04 and 05 run at the period grain, the contact-grain sections skip with a note."""
    run = degraded["root"] / "run_agg"
    r4 = _run("04_correlate", degraded["agg"], run, n_boot=30)
    assert r4["candidates"]["source"] == "aggregates" and r4["candidates"]["has_cx"] is True
    assert {"asa_s", "service_level_pct"} <= set(r4["candidates"]["period"]) and r4["period_correlations"]
    assert r4["kpi_relations"] and {"contact", "confounder", "logit", "within"} <= set(_skipped(r4))
    r5 = _run("05_focus", degraded["agg"], run, n_boot=30)
    assert r5["r2"]["grain"] == "period" and "between days" in r5["r2"]["sentence"]
    assert {d["driver"] for d in r5["drivers"]} <= set(drv.PERIOD_LEVERS) and len(r5["top_drivers"]) >= 2
    assert {"drivers", "focus", "what_if"} <= set(_skipped(r5)) and "period_drivers" not in _skipped(r5)
