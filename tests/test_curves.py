"""Response curves with a knee (cxlab.correlate.curves): references, coverage, the sample's wait knee."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from cxlab.correlate.curves import curve_table, curve_what_if, hinge_design, response_curve
from cxlab.errors import DataError, NotEnoughData


def _hinge_data(seed, n=4000, days=80, knee=30.0, slope=-0.02, sd=1.0):
    """Score = 4 + day shock - 0.02 (x - knee)+ + N(0, 1): a known knee, flat below it."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 120, n)
    d = rng.integers(0, days, n)
    shock = rng.normal(0, 0.2, days)
    y = 4 + shock[d] + slope * np.maximum(0, x - knee) + rng.normal(0, sd, n)
    return pd.DataFrame({"wait_s": x, "score": y, "date": d, "resolved": rng.integers(0, 2, n).astype(float)})


def test_noiseless_knee_is_exact():
    # worked example: y = 4 - 0.02 (x - 30)+ without noise; the profile RSS is 0 only at k = 30
    x = np.tile(np.arange(0.0, 121.0), 3)
    f = pd.DataFrame({"wait_s": x, "score": 4.0 - 0.02 * np.maximum(0, x - 30)})
    c = response_curve(f, "wait_s", "score", cluster=None, cap=None, n_boot=50, grid=np.arange(5, 100, 1.0))
    assert c.knee == 30.0
    assert c.slope_below == pytest.approx(0.0, abs=1e-9)
    assert c.slope_above == pytest.approx(-0.02, abs=1e-9)
    assert c.knee_low == c.knee_high == 30.0  # every replicate finds the same exact knee
    assert c.knee_real


def test_fixed_knee_matches_statsmodels_ols():
    f = _hinge_data(1)
    c = response_curve(f, "wait_s", "score", covariates=["resolved"], n_boot=20, cap=None)
    X = hinge_design(f["wait_s"], c.knee, f[["resolved"]])
    ref = sm.OLS(f["score"].to_numpy(), X).fit()  # reference: statsmodels OLS on the hinge basis
    assert c.slope_below == pytest.approx(ref.params[1], rel=1e-9)
    assert c.slope_change == pytest.approx(ref.params[2], rel=1e-9)
    assert c.slope_above == pytest.approx(ref.params[1] + ref.params[2], rel=1e-9)
    lin = sm.OLS(f["score"].to_numpy(), sm.add_constant(f[["wait_s", "resolved"]].to_numpy())).fit()
    assert c.linear_slope == pytest.approx(lin.params[1], rel=1e-9)
    # profile log-likelihood = statsmodels llf up to its constant -n/2 (log 2 pi + 1)
    n = len(f)
    const = -n / 2 * (np.log(2 * np.pi) + 1)
    for k in c.profile["knee"].iloc[[0, 10, 30]]:
        llf = sm.OLS(f["score"].to_numpy(), hinge_design(f["wait_s"], k, f[["resolved"]])).fit().llf
        got = float(c.profile.loc[c.profile["knee"] == k, "loglik"].iloc[0])
        assert got + const == pytest.approx(llf, rel=1e-9)
    # statsmodels aic = -2 llf + 2 p; ours drops the constant n (log 2 pi + 1)
    assert c.aic_linear == pytest.approx(lin.aic + 2 * const, rel=1e-9)


def test_knee_interval_covers_true_knee_on_simulated_data():
    covered, widths = 0, []
    for seed in range(40):
        c = response_curve(_hinge_data(seed), "wait_s", "score", seed=seed, n_boot=200)
        covered += c.knee_low <= 30 <= c.knee_high
        widths.append(c.knee_high - c.knee_low)
        assert c.knee_real, seed  # a slope change of -0.02/s on 4,000 contacts is always detected
    print(f"knee interval coverage {covered}/40, median width {np.median(widths):.1f} s")
    assert covered >= 34  # nominal 95%; measured 37/40
    assert np.median(widths) < 30


def test_no_false_knee_on_a_line():
    false = 0
    for seed in range(30):
        f = _hinge_data(seed, slope=0.0)
        f["score"] = f["score"] - 0.01 * f["wait_s"]
        false += response_curve(f, "wait_s", "score", seed=seed, n_boot=100).knee_real
    print(f"false knees on linear data: {false}/30")
    assert false <= 4  # 5% test: expected 1.5 of 30; P(Binomial(30, .05) > 4) = 0.016


def test_sample_wait_knee_interval_covers_true_threshold():
    from cxlab.sample import LATENT_MODEL, load_sample

    true_knee = LATENT_MODEL["wait_knee_s"]  # 30 s: the structural model's wait effect starts there
    rows = []
    for seed in range(1, 6):
        t = load_sample(seed=seed, days=120, contacts_per_day=400)
        f = t["surveys"][["interaction_id", "csat"]].merge(
            t["interactions"][["interaction_id", "wait_s", "resolved", "transferred", "arrived_at"]],
            on="interaction_id").dropna(subset=["csat"])
        f["cx_top2"] = (f["csat"] >= 4).astype(float)
        f["date"] = f["arrived_at"].dt.tz_convert("America/New_York").dt.date
        f[["resolved", "transferred"]] = f[["resolved", "transferred"]].astype(float)
        c = response_curve(f, "wait_s", "cx_top2", covariates=["resolved", "transferred"], seed=seed)
        rows.append((seed, c.knee, c.knee_low, c.knee_high, c.p_knee, c.knee_real))
        assert c.knee_low <= true_knee <= c.knee_high, c.sentence
        assert c.linear_high < 0  # waiting longer lowers CSAT in every seed
    print(pd.DataFrame(rows, columns=["seed", "knee", "low", "high", "p_knee", "real"]).to_string())


def test_what_if_uses_the_curve():
    x = np.tile(np.arange(0.0, 121.0), 3)
    f = pd.DataFrame({"wait_s": x, "score": 4.0 - 0.02 * np.maximum(0, x - 30)})
    c = response_curve(f, "wait_s", "score", cluster=None, cap=None, n_boot=20, grid=np.arange(5, 100, 5.0))
    w = curve_what_if(c, [0.0, 5.0, 35.0, 60.0, 90.0], -10).set_index("group")
    # closed form: below 30 nothing changes; 35 -> 25 gains 0.02 * 5; 60, 90 gain 0.02 * 10
    assert w.loc["below knee", "effect"] == pytest.approx(0.0, abs=1e-12)
    assert w.loc["above knee", "effect"] == pytest.approx((0.1 + 0.2 + 0.2) / 3, rel=1e-9)
    assert w.loc["all", "effect"] == pytest.approx(0.5 / 5, rel=1e-9)
    assert (w["curve"] == "hinge").all()
    # a curve without a real knee uses its straight line: effect = slope * mean actual change
    lin = pd.DataFrame({"wait_s": x, "score": 4.0 - 0.01 * x + np.random.default_rng(0).normal(0, 1, len(x))})
    cl = response_curve(lin, "wait_s", "score", cluster=None, cap=None, n_boot=50, seed=3)
    if not cl.knee_real:
        wl = curve_what_if(cl, [20.0, 100.0], -10).set_index("group")
        assert wl.loc["all", "effect"] == pytest.approx(-10 * cl.linear_slope, rel=1e-9)


def test_curve_table_and_errors():
    f = _hinge_data(2, n=600)
    f["hold_s"] = 0.0
    t = curve_table(f, kpis=("wait_s", "hold_s", "handle_s"), cx="score", n_boot=20)
    assert t["kpi"].tolist() == ["wait_s"]
    assert set(t.attrs["skipped"]) == {"hold_s", "handle_s"}
    assert "barely varies" in t.attrs["skipped"]["hold_s"]
    with pytest.raises(NotEnoughData, match="only 10 contacts"):
        response_curve(f.head(10), "wait_s", "score", n_boot=20)
    bad = f.assign(score=f["score"].astype(str))
    with pytest.raises(DataError, match="'score' must be numeric"):
        response_curve(bad, "wait_s", "score", n_boot=20)


def test_log_shape_recovers_a_concave_knee_exactly():
    # worked example: y = 4 - 0.02 * 60 * log1p((x - 30)+ / 60) without noise is the "log" basis at
    # k = 30, tau = 60 with b1 = 0, b2 = -0.02 (slope just above the knee), so its RSS is 0 only there
    x = np.tile(np.arange(0.0, 301.0), 2)
    f = pd.DataFrame({"wait_s": x, "score": 4.0 - 0.02 * 60 * np.log1p(np.maximum(0, x - 30) / 60)})
    c = response_curve(f, "wait_s", "score", cluster=None, cap=None, n_boot=20, grid=np.arange(5, 200, 5.0),
                       shape="log", scales=(15, 60, 240))
    assert (c.knee, c.scale) == (30.0, 60.0)
    assert c.slope_below == pytest.approx(0.0, abs=1e-9)
    assert c.slope_above == pytest.approx(-0.02, abs=1e-9)
    assert c.predict([300.0])[0] == pytest.approx(-0.02 * 60 * np.log1p(270 / 60), rel=1e-9)
    assert "just above" in c.sentence
    # the straight hinge is always a candidate: a hinge is fitted as tau = inf
    h = pd.DataFrame({"wait_s": x, "score": 4.0 - 0.02 * np.maximum(0, x - 30)})
    ch = response_curve(h, "wait_s", "score", cluster=None, cap=None, n_boot=20, grid=np.arange(5, 200, 5.0),
                        shape="log", scales=(15, 60, 240))
    assert (ch.knee, ch.scale) == (30.0, np.inf)
    with pytest.raises(ValueError, match="shape must be"):
        response_curve(h, "wait_s", "score", shape="spline")


def test_flat_below_matches_statsmodels_ols():
    f = _hinge_data(4)
    c = response_curve(f, "wait_s", "score", covariates=["resolved"], n_boot=20, cap=None, flat_below=True)
    assert c.flat_below and c.slope_below == 0.0
    X = hinge_design(f["wait_s"], c.knee, f[["resolved"]])[:, [0, 2, 3]]  # no slope below the knee
    ref = sm.OLS(f["score"].to_numpy(), X).fit()  # reference: statsmodels OLS on [1, (x - k)+, z]
    assert c.slope_change == pytest.approx(ref.params[1], rel=1e-9)
    got = float(c.profile.loc[c.profile["knee"] == c.knee, "loglik"].iloc[0])
    assert got - len(f) / 2 * (np.log(2 * np.pi) + 1) == pytest.approx(ref.llf, rel=1e-9)
    assert c.knee_low <= 30 <= c.knee_high and c.knee_real


def test_sentences_use_labels_not_column_names():
    f = _hinge_data(5)
    f["cx_top2"] = (f["score"] > 4).astype(float)
    c = response_curve(f, "wait_s", "cx_top2", n_boot=20)
    assert "cx_top2" not in c.sentence and "CX top-box share" in c.sentence
    c2 = response_curve(f.rename(columns={"wait_s": "talk_s"}), "talk_s", "score", n_boot=20)
    assert c2.sentence.startswith("Score falls off") and "on the score scale" in c2.sentence
    assert "talk time" in c2.sentence
