"""Tests of the sample contact center (cxlab.sample).

The default year comes from the session fixtures ``sample`` / ``sample_truth``
(tests/conftest.py: generated once, cached on disk). Tests that need other
sizes use small samples (14 days x 200 contacts) in a temporary cache.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxlab import sample as smp
from cxlab._utils import erlang_c
from cxlab.sample import model, write
from cxlab.schema import TABLES

SAMPLE_TABLES = [t for t in TABLES if t != "aggregates"]  # the sample is contact-level: it writes no KPI sheet

SMALL = {"days": 14, "contacts_per_day": 200}
DOCS = Path(__file__).resolve().parent.parent / "docs" / "sample.md"
_PANDAS_DTYPE = {
    "DOUBLE": "float64",
    "BOOLEAN": "bool",
    "TIMESTAMPTZ": "datetime64[ns, UTC]",
    "DATE": "datetime64[ns]",
}


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """An empty cache folder and empty in-process memos."""
    monkeypatch.setenv("CXLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(write, "_MEMO", {})
    monkeypatch.setattr(write, "_TRUTH_MEMO", {})
    return tmp_path / "cache"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- determinism
def test_same_seed_gives_byte_identical_files(tmp_path):
    a = smp.write_sample(tmp_path / "a", seed=5, **SMALL)
    b = smp.write_sample(tmp_path / "b", seed=5, **SMALL)
    assert sorted(a) == sorted(b) == sorted([*SAMPLE_TABLES, "ground_truth"])
    for name in a:
        assert _sha(a[name]) == _sha(b[name]), name


def test_different_seed_gives_different_data(tmp_path):
    a = smp.write_sample(tmp_path / "a", seed=5, **SMALL)
    b = smp.write_sample(tmp_path / "b", seed=6, **SMALL)
    assert _sha(a["interactions"]) != _sha(b["interactions"])
    assert _sha(a["surveys"]) != _sha(b["surveys"])


def test_csv_export_matches_parquet(tmp_path):
    p = smp.write_sample(tmp_path / "p", seed=3, **SMALL)
    c = smp.write_sample(tmp_path / "c", seed=3, format="csv", **SMALL)
    assert c["interactions"].suffix == ".csv"
    pq_df = pd.read_parquet(p["interactions"])
    csv_df = pd.read_csv(c["interactions"])
    assert len(pq_df) == len(csv_df)
    assert list(csv_df.columns) == TABLES["interactions"].names
    assert (csv_df["interaction_id"] == pq_df["interaction_id"]).all()


def test_bad_options_are_rejected(tmp_path):
    with pytest.raises(ValueError, match=r"format must be one of \['parquet', 'csv'\]; got 'xlsx'"):
        smp.write_sample(tmp_path, format="xlsx", **SMALL)
    with pytest.raises(ValueError, match="days must be >= 1; got 0"):
        smp.generate(days=0)
    with pytest.raises(TypeError, match="contacts_per_day must be an int"):
        smp.generate(days=7, contacts_per_day=100.0)


# ----------------------------------------------------------------------------- schema
@pytest.mark.parametrize("name", sorted(SAMPLE_TABLES))
def test_schema_conformance(sample, sample_truth, name):
    df = sample[name]
    spec = TABLES[name]
    assert list(df.columns) == spec.names  # exactly the canonical columns, in order
    # row counts from the ground truth of the simulation and closed forms of the calendar
    expected_rows = {
        "interactions": sample_truth["observed"]["contacts"],
        "surveys": sample_truth["observed"]["surveys"],
        "staffing": 365 * model.N_SLOTS * len(smp.QUEUES),  # every half hour x queue of the year
        "series": 365,  # one row per day
    }
    # agents: the generator's headcount rule (simulate._agents): n_total = max(24, round(AGENTS_PER_1000 x
    # contacts_per_day / 1000)), per queue max(2 x teams, round(QUEUE_SHARE x n_total)): 120 -> 121 agents
    n_total = max(24, round(model.AGENTS_PER_1000 * sample_truth["contacts_per_day"] / 1000))
    expected_rows["agents"] = int(np.maximum(2 * np.array(model.TEAMS_PER_QUEUE),
                                             np.round(np.array(model.QUEUE_SHARE) * n_total)).sum())
    # events: one row per event the ground truth lists (holidays, outage, campaign, pilot ...)
    expected_rows["events"] = len(sample_truth["events"])
    # customers: every customer who contacted (one row each)
    expected_rows["customers"] = sample["interactions"]["customer_id"].nunique()
    # agent_scores: one QA score per agent on the 25th of every month of the year, once the agent has been
    # hired at least 30 days (the documented rule), counted here from agents.hire_date
    start = pd.Timestamp(sample_truth["start"])
    end = start + pd.Timedelta(days=sample_truth["days"])
    day25 = pd.date_range(start, end, freq="MS") + pd.Timedelta(days=24)
    hire = sample["agents"]["hire_date"]
    expected_rows["agent_scores"] = sum(int(((d - hire).dt.days >= 30).sum()) for d in day25[day25 < end])
    if name in expected_rows:
        assert len(df) == expected_rows[name]
    else:
        assert len(df) > 0
    for col in spec.columns:
        s = df[col.name]
        if col.dtype == "VARCHAR":
            assert pd.api.types.is_string_dtype(s.dtype) and str(s.dtype) == "str", (col.name, s.dtype)
        else:
            assert str(s.dtype) == _PANDAS_DTYPE[col.dtype], (col.name, s.dtype)
        if col.dtype == "DATE":
            assert (s.dropna() == s.dropna().dt.normalize()).all()
        if not col.nullable:
            assert s.notna().all(), col.name
        if col.low is not None:
            assert (s.dropna() >= col.low).all(), col.name
        if col.high is not None:
            assert (s.dropna() <= col.high).all(), col.name
        if col.allowed is not None:
            assert set(s.dropna().unique()) <= set(col.allowed), col.name
    if spec.key:
        assert not df.duplicated(list(spec.key)).any()


def test_referential_integrity(sample):
    i, s, a = sample["interactions"], sample["surveys"], sample["agents"]
    assert set(i["agent_id"].dropna()) <= set(a["agent_id"])
    assert set(sample["agent_scores"]["agent_id"]) <= set(a["agent_id"])
    assert set(s["interaction_id"]) <= set(i["interaction_id"])
    assert set(i["customer_id"]) == set(sample["customers"]["customer_id"])
    assert set(sample["customer_revenue"]["customer_id"]) <= set(sample["customers"]["customer_id"])
    assert set(i["queue"]) == set(smp.QUEUES)
    assert i["contact_reason"].nunique() == 12


def test_abandoned_contact_conventions(sample):
    i = sample["interactions"]
    ab = i[i["abandoned"]]
    assert ab["agent_id"].isna().all() and ab["site"].isna().all()
    assert (ab[["talk_s", "hold_s", "acw_s"]] == 0).all().all()
    assert not ab["resolved"].any() and not ab["transferred"].any()
    handled = i[~i["abandoned"]]
    assert handled["agent_id"].notna().all() and (handled["talk_s"] > 0).all()
    # site on interactions = the handling agent's site
    m = handled.merge(sample["agents"], on="agent_id", suffixes=("", "_agent"))
    assert (m["site"] == m["site_agent"]).all()


def test_surveys_follow_their_contact(sample):
    s = sample["surveys"].merge(sample["interactions"], on="interaction_id", suffixes=("", "_i"))
    assert not s["abandoned"].any()  # surveys only for answered contacts
    assert (s["customer_id"] == s["customer_id_i"]).all()
    end = s["arrived_at"] + pd.to_timedelta(s["wait_s"] + s["talk_s"] + s["hold_s"] + s["acw_s"], unit="s")
    lag = s["responded_at"] - end
    assert (lag > pd.Timedelta(0)).all() and (lag <= pd.Timedelta(days=5, minutes=2)).all()
    for metric, (lo, hi) in {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}.items():
        assert set(s[metric].unique()) == set(range(lo, hi + 1)), metric


def test_arrivals_within_local_opening_hours(sample):
    local = sample["interactions"]["arrived_at"].dt.tz_convert(smp.TIMEZONE)
    hours = local.dt.hour + local.dt.minute / 60
    assert hours.min() >= 7 and hours.max() < 22
    assert local.dt.year.eq(2025).all()
    # intraday seasonality: the 10-12 h peak is busier than the 20-22 h evening
    assert ((hours >= 10) & (hours < 12)).sum() > 2 * ((hours >= 20) & (hours < 22)).sum()


# ----------------------------------------------------------------------------- realism targets
def _kpis(i: pd.DataFrame, s: pd.DataFrame) -> dict:
    # KPI_DEFINITIONS.md defaults: T = 20 s, short abandon < 5 s excluded from offered
    short = i["abandoned"] & (i["wait_s"] < 5)
    offered = len(i) - short.sum()
    answered = ~i["abandoned"]
    o = i.sort_values(["customer_id", "arrived_at"], kind="stable")
    nxt_same = o["customer_id"].shift(-1) == o["customer_id"]
    gap = o["arrived_at"].shift(-1) - o["arrived_at"]
    repeat7 = nxt_same & (gap <= pd.Timedelta(days=7))
    return {
        "sl": (answered & (i["wait_s"] <= 20)).sum() / offered,
        "abandon": (i["abandoned"] & ~short).sum() / offered,
        "fcr": 1 - repeat7[~o["abandoned"]].mean(),
        "csat_top2": (s["csat"] >= 4).mean() * 100,
        "nps": ((s["nps"] >= 9).mean() - (s["nps"] <= 6).mean()) * 100,
        "ces_mean": s["ces"].mean(),
        "response": len(s) / answered.sum(),
    }


def test_realism_targets(sample, sample_truth):
    i, s = sample["interactions"], sample["surveys"]
    k = _kpis(i, s)
    # targets from the sample brief (docs/sample.md, "Realism on the default year")
    assert 0.70 <= k["sl"] <= 0.90
    assert 0.03 <= k["abandon"] <= 0.10
    assert 0.65 <= k["fcr"] <= 0.80
    assert 70 <= k["csat_top2"] <= 85
    assert -10 <= k["nps"] <= 50
    assert 0.10 <= k["response"] <= 0.20
    # the generator's own summary agrees with this independent computation
    obs = sample_truth["observed"]
    assert obs["service_level_20s"] == pytest.approx(k["sl"], abs=1e-9)
    assert obs["fcr_7d"] == pytest.approx(k["fcr"], abs=2e-3)  # generator uses unrounded times
    assert obs["csat_top2"] == pytest.approx(k["csat_top2"], abs=1e-9)
    # chat about 30%; short abandons a realistic minority of abandons
    assert 0.25 <= (i["channel"] == "chat").mean() <= 0.35
    short_share = (i["abandoned"] & (i["wait_s"] < 5)).sum() / i["abandoned"].sum()
    assert 0.05 <= short_share <= 0.35


def test_weekly_seasonality_and_holidays(sample, sample_truth):
    local_day = sample["interactions"]["arrived_at"].dt.tz_convert(smp.TIMEZONE).dt.normalize()
    per_day = local_day.value_counts().sort_index()
    dow = per_day.index.day_of_week
    assert per_day[dow < 5].mean() / per_day[dow >= 5].mean() > 1.3
    holidays = [e["start"] for e in sample_truth["events"] if e["kind"] == "holiday"]
    assert len(holidays) == 11
    hol = per_day[per_day.index.strftime("%Y-%m-%d").isin(holidays)]
    assert hol.mean() < 0.6 * per_day[dow < 5].mean()


def test_outage_and_campaign(sample, sample_truth):
    ev = sample["events"]
    assert {"holiday", "outage", "campaign"} <= set(ev["kind"])
    outage = next(e for e in sample_truth["events"] if e["kind"] == "outage")
    campaign = next(e for e in sample_truth["events"] if e["kind"] == "campaign")
    assert outage["start"].startswith("2025-03") and outage["queue"] == "tech_support"
    assert campaign["start"].startswith("2025-05") and campaign["queue"] == "sales"
    i = sample["interactions"]
    day = i["arrived_at"].dt.tz_convert(smp.TIMEZONE).dt.strftime("%Y-%m-%d")
    ts = i[i["queue"] == "tech_support"].groupby(day).size()
    in_outage = (ts.index >= outage["start"]) & (ts.index < outage["end"])
    assert ts[in_outage].mean() > 1.5 * ts[~in_outage].median()
    sales = i[i["queue"] == "sales"].groupby(day).size()
    in_camp = (sales.index >= campaign["start"]) & (sales.index < campaign["end"])
    assert sales[in_camp].mean() > 1.3 * sales[~in_camp].mean()


def test_waits_come_from_load_versus_staffing(sample, sample_truth):
    # Erlang C: understaffed (shortfall) days have a clearly worse service level
    i = sample["interactions"]
    day = i["arrived_at"].dt.tz_convert(smp.TIMEZONE).dt.strftime("%Y-%m-%d")
    short_days = set(sample_truth["queueing"]["shortfall_days"])
    assert len(short_days) > 5
    # each day is a shortfall day with probability day_prob = 0.06 (model.SHORTFALL): the count is
    # Binomial(365, 0.06), mean 21.9; it lies in scipy's central 99.9 % interval of that binomial (9 to 38)
    from scipy import stats

    lo, hi = stats.binom(sample_truth["days"], model.SHORTFALL["day_prob"]).interval(0.999)
    assert lo <= len(short_days) <= hi
    assert all(pd.Timestamp(d).year == 2025 for d in short_days)
    on = day.isin(short_days)
    sl = lambda x: ((~x["abandoned"]) & (x["wait_s"] <= 20)).mean()  # noqa: E731
    assert sl(i[on]) < sl(i[~on]) - 0.05
    st = sample["staffing"]
    assert len(st) == 365 * 30 * 5 and (st["agents_staffed"] >= 1).all()


def test_erlang_c_worked_check():
    # closed form, KPI_DEFINITIONS.md: A = 10 Erlangs, 14 agents -> P(wait) ~ 0.174
    assert erlang_c(np.array([14]), np.array([10.0]))[0] == pytest.approx(0.174, abs=5e-4)
    # the sample's queueing law uses the one Erlang C of cxlab._utils: M/M/2 with A = 1 has
    # B = 0.2 and C = B / (1 - rho (1 - B)) = 1/3 (closed form); no agents or n <= A -> 1; A = 0 -> 0
    assert erlang_c(np.array([14, 2, 0, 5, 3]), np.array([10.0, 1.0, 0.0, 5.0, 0.0])) == pytest.approx(
        [0.1741319, 1 / 3, 1.0, 1.0, 0.0], abs=1e-7)
    # 13 agents, AHT 180 s, T = 20 s give SL ~ 0.796, so 80/20 needs 14 agents
    assert model.plan_agents(np.array([10.0]), np.array([180.0]))[0] == 14


# ----------------------------------------------------------------------------- the structural model
def _survey_frame(sample) -> pd.DataFrame:
    d = sample["surveys"].merge(sample["interactions"], on="interaction_id", suffixes=("", "_i"))
    d["handle_min"] = (d["talk_s"] + d["hold_s"] + d["acw_s"]) / 60
    d["hold_min"] = d["hold_s"] / 60
    d["wait_excess"] = np.log1p(np.maximum(0, d["wait_s"] - 30) / 60)
    return d


def test_confounder_handle_time(sample):
    import statsmodels.formula.api as smf

    d = _survey_frame(sample)
    # raw association: longer contacts have lower CSAT (through complexity)
    assert d["handle_min"].corr(d["csat"]) < -0.05
    # adjusted for the confounder (contact_reason) and the mediators, handle time's
    # direct effect is zero. Criterion: |t| < 3 for the handle-time coefficient.
    fit = smf.ols(
        "csat ~ handle_min + C(contact_reason) + resolved + transferred + hold_min + wait_excess", d
    ).fit()
    assert abs(fit.tvalues["handle_min"]) < 3
    raw = smf.ols("csat ~ handle_min", d).fit()
    assert abs(fit.params["handle_min"]) < 0.2 * abs(raw.params["handle_min"])


def test_resolution_effect_sign_and_size(sample, sample_truth):
    d = _survey_frame(sample)
    eff = sample_truth["effects"]
    assert set(eff) == {"csat_top2", "nps", "ces_mean"}
    assert eff["csat_top2"] > 20 and eff["nps"] > 30 and eff["ces_mean"] > 0.5
    g = d.groupby("resolved")
    observed = {
        "csat_top2": (g["csat"].apply(lambda x: (x >= 4).mean() * 100)).diff().iloc[-1],
        "nps": g["nps"].apply(lambda x: ((x >= 9).mean() - (x <= 6).mean()) * 100).diff().iloc[-1],
        "ces_mean": g["ces"].mean().diff().iloc[-1],
    }
    for k, v in observed.items():
        # a naive resolved-vs-unresolved comparison has the right sign and rough size
        assert 0.5 * eff[k] < v < 2 * eff[k], (k, v, eff[k])


def test_metric_noise_ranking(sample, sample_truth):
    m = sample_truth["measurement"]
    assert m["csat"]["noise_sd"] < m["nps"]["noise_sd"] < m["ces"]["noise_sd"]
    assert sample_truth["loyalty"]["metric_predictive_ranking"] == ["csat", "nps", "ces"]
    # loyalty check in the data: each metric's correlation with 60-day churn after the response
    s = sample["surveys"].merge(sample["customers"], on="customer_id")
    s = s[s["responded_at"] < pd.Timestamp("2025-11-01", tz="UTC")]
    churn = s["churned_at"].notna() & (s["churned_at"] > s["responded_at"]) & (
        s["churned_at"] <= s["responded_at"] + pd.Timedelta(days=60))
    r = {k: s[k].corr(churn.astype(float)) for k in ("csat", "nps", "ces")}
    assert r["csat"] < r["nps"] < r["ces"] < 0
    detractor = churn[s["nps"] <= 6].mean()
    promoter = churn[s["nps"] >= 9].mean()
    assert detractor > 1.5 * promoter


def test_driver_truth(sample_truth):
    dtruth = sample_truth["driver_truth"]
    assert dtruth["ordering"][0] == "resolved"
    assert dtruth["handle_time_direct_effect"] == 0.0
    lm = sample_truth["latent_model"]
    assert lm["handle_time"] == 0.0 and lm["tenure_direct"] == 0.0 and lm["wait_knee_s"] == 30
    assert sample_truth["confounder"]["name"] == "contact_reason"


def test_tenure_learning_curve(sample):
    i = sample["interactions"]
    h = i[~i["abandoned"]].merge(sample["agents"], on="agent_id")
    tenure = (h["arrived_at"].dt.tz_localize(None) - h["hire_date"]).dt.days
    new = h.loc[tenure < 30, "resolved"].mean()
    old = h.loc[tenure > 365, "resolved"].mean()
    assert new < old - 0.05


# ----------------------------------------------------------------------------- the pilot
def test_pilot_assignment_is_half_the_teams(sample, sample_truth):
    p = sample_truth["pilot"]
    teams = set(sample["agents"]["team"])
    assert len(teams) == 12
    assert len(p["treated_teams"]) == 6 and len(p["control_teams"]) == 6
    assert set(p["treated_teams"]) | set(p["control_teams"]) == teams
    assert not set(p["treated_teams"]) & set(p["control_teams"])
    for q in smp.QUEUES:  # treatment and control exist within every queue
        q_teams = {t for t in teams if t.startswith(q)}
        assert q_teams & set(p["treated_teams"]) and q_teams - set(p["treated_teams"])
    assert p["start"] == "2025-10-01" and p["effect_on_resolution"] == 8.0


def test_pilot_effect_visible(sample, sample_truth):
    p = sample_truth["pilot"]
    assert 7.0 < p["effect_on"]["resolution_rate"] <= 8.0  # capped at P = 0.99
    assert p["effect_on"]["csat_top2"] > 0 and p["effect_on"]["nps"] > 0
    # propagation: raising true resolution by d (probability points) moves each survey metric by about
    # d / 100 x the effect of resolution 0 -> 1 (ground_truth()["effects"]); default sample: 7.94 x 38.6 / 100
    # = 3.07 vs 3.01 CSAT points, 5.45 vs 5.56 NPS, 0.112 vs 0.110 CES (the latent-to-score link is not linear)
    d = p["effect_on"]["resolution_rate"] / 100
    for k in ("csat_top2", "nps", "ces_mean"):
        assert p["effect_on"][k] == pytest.approx(d * sample_truth["effects"][k], rel=0.1), k
    i = sample["interactions"]
    h = i[~i["abandoned"]].merge(sample["agents"], on="agent_id")
    h["treated"] = h["team"].isin(p["treated_teams"])
    h["post"] = h["arrived_at"] >= pd.Timestamp(p["start"], tz=smp.TIMEZONE)
    r = h.groupby(["treated", "post"])["resolved"].mean()
    did = (r[True, True] - r[True, False]) - (r[False, True] - r[False, False])
    # the agent flag shows the 8-point effect diluted by its false positives (x 0.9), plus noise
    assert 0.03 < did < 0.13
    # ground truth states both scales: 8 points on true resolution, 8 x (1 - 0.10) = 7.2 on the flag
    assert p["effect_on_resolution_flag"] == pytest.approx(8.0 * (1 - sample_truth["resolution_model"]["flag_false_positive_rate"]))
    assert p["effect_on_resolution_flag"] == pytest.approx(7.2)
    assert p["effect_on"]["resolved_flag_rate"] == pytest.approx(0.9 * p["effect_on"]["resolution_rate"])
    # latent S moves by its resolution coefficient times the change in true resolution
    assert p["effect_on"]["latent_s"] == pytest.approx(
        smp.LATENT_MODEL["resolved"] * p["effect_on"]["resolution_rate"] / 100, rel=1e-6)
    assert set(p["scales"]) == {"latent", "measured"}


# ----------------------------------------------------------------------------- truth, docs, cache
def test_ground_truth_keys_and_json_roundtrip(sample_truth):
    for key in ("seed", "days", "contacts_per_day", "start", "timezone", "generator_version", "latent_model",
                "measurement", "complexity_by_reason", "confounder", "resolution_model", "effects", "pilot",
                "driver_truth", "loyalty", "events", "nonresponse"):
        assert key in sample_truth, key
    assert json.loads(json.dumps(sample_truth)) == sample_truth
    assert sample_truth["timezone"] == "America/New_York" and sample_truth["seed"] == 20251
    for k in ("resolution_rate", "resolved_flag_rate", "latent_s", "csat_top2", "nps", "ces_mean"):
        assert k in sample_truth["pilot"]["effect_on"]
    assert {"label", "kind", "start", "end", "queue"} <= set(sample_truth["events"][0])


def test_ground_truth_file_equals_function(tmp_path):
    paths = smp.write_sample(tmp_path, seed=9, **SMALL)
    on_disk = json.loads(paths["ground_truth"].read_text())
    assert on_disk["seed"] == 9 and on_disk["days"] == SMALL["days"]
    assert on_disk["latent_model"] == smp.LATENT_MODEL


def test_docs_coefficient_table_matches_ground_truth(sample_truth):
    text = DOCS.read_text(encoding="utf-8")
    block = text.split("<!-- latent-model-table")[1].split("<!-- end latent-model-table -->")[0]
    rows = re.findall(r"^\|\s*`(\w+)`\s*\|\s*(-?[\d.]+)\s*\|", block, flags=re.M)
    assert {k: float(v) for k, v in rows} == sample_truth["latent_model"]


def test_module_ground_truth_attribute(sample_truth):
    assert write.GROUND_TRUTH == sample_truth


def test_cache_loader(tmp_cache):
    first = smp.load_sample(seed=11, **SMALL)
    folder = tmp_cache / f"sample-v{smp.GENERATOR_VERSION}-11-{SMALL['days']}-{SMALL['contacts_per_day']}"
    assert (folder / "ground_truth.json").is_file()
    assert not [p for p in tmp_cache.iterdir() if p.name.startswith(".")]  # no temp folders left
    second = smp.load_sample(seed=11, **SMALL)  # from the memo
    write._MEMO.clear()
    third = smp.load_sample(seed=11, **SMALL)  # from disk
    fresh = smp.generate(seed=11, **SMALL)  # and equal to an in-memory generation
    for name in SAMPLE_TABLES:
        pd.testing.assert_frame_equal(first[name], second[name])
        pd.testing.assert_frame_equal(first[name], third[name])
        pd.testing.assert_frame_equal(first[name], fresh[name])
    # mutating a returned frame does not change the memo
    second["interactions"].loc[0, "wait_s"] = -1.0
    assert smp.load_sample(seed=11, **SMALL)["interactions"].loc[0, "wait_s"] >= 0
    # exactly the value of the first, unmutated load (first is a separate copy)
    assert smp.load_sample(seed=11, **SMALL)["interactions"].loc[0, "wait_s"] == first["interactions"].loc[0, "wait_s"]
    assert smp.ground_truth(seed=11, **SMALL)["seed"] == 11


def test_stale_cache_is_regenerated(tmp_cache):
    smp.load_sample(seed=12, **SMALL)
    folder = next(tmp_cache.glob("sample-v*-12-*"))
    gt = json.loads((folder / "ground_truth.json").read_text())
    gt["code_fingerprint"] = "old"
    (folder / "ground_truth.json").write_text(json.dumps(gt))
    (folder / "interactions.parquet").write_bytes(b"garbage")
    write._MEMO.clear()
    t = smp.load_sample(seed=12, **SMALL)
    fresh = smp.generate(seed=12, **SMALL)  # the regenerated cache equals an in-memory generation
    for name in SAMPLE_TABLES:
        pd.testing.assert_frame_equal(t[name], fresh[name])
    # and carries the fingerprint of the current code: every .py file of cxlab/sample, sorted
    h = hashlib.sha256()
    for path in sorted(Path(write.__file__).parent.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    assert json.loads((folder / "ground_truth.json").read_text())["code_fingerprint"] == h.hexdigest()[:16]


def test_main_sample_prints_summary(tmp_path, capsys):
    paths = smp.main_sample(tmp_path / "out", SMALL["days"], SMALL["contacts_per_day"], 4, "csv")
    out = capsys.readouterr().out
    assert "contacts" in out and "interactions" in out
    assert paths["interactions"].name == "interactions.csv"
