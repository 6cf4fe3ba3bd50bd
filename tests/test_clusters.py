"""Tests of cxlab.verify.clusters: wild cluster bootstrap, randomization inference, choose_inference."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from cxlab.verify import choose_inference, pilot_readout, randomization_inference, wild_cluster_bootstrap

REF = Path(__file__).parent / "reference" / "wild_bootstrap_wbt.csv"


def _panel(seed=5, G=8, T=6, reps=3, n_treated=4, effect=0.5):
    rng = np.random.default_rng(seed)
    p = pd.DataFrame({"team": np.repeat([f"t{i}" for i in range(G)], T * reps),
                      "day": np.tile(np.repeat(np.arange(T), reps), G)})
    p["treated"] = p["team"].isin([f"t{i}" for i in range(n_treated)])
    p["post"] = p["day"] >= T // 2
    p["y"] = (rng.normal(size=len(p)) + np.repeat(rng.normal(size=G), T * reps)
              + effect * (p["treated"] & p["post"]))
    p["d"] = (p["treated"] & p["post"]).astype(float)
    return p


def _ref():
    lines = [ln for ln in REF.read_text().splitlines() if ln.startswith("# wbt_")]
    vals = {ln[2:].split("=")[0]: float(ln.split("=")[1]) for ln in lines}
    return pd.read_csv(REF, comment="#"), vals


def test_wild_matches_wildboottest_reference():
    data, vals = _ref()
    res = wild_cluster_bootstrap(data, outcome="y", treat="treated", post="post", cluster="team",
                                 fixed_effects=("team", "day"))
    # wildboottest 0.3.2 (py-econometrics), WCR-11 Rademacher full enumeration; values in the file header
    assert res.loc[0, "t_stat"] == pytest.approx(vals["wbt_t_stat"], rel=1e-9)
    assert res.loc[0, "p_boot"] == pytest.approx(vals["wbt_p_value"], abs=1e-12)
    assert res.loc[0, "draws"] == 256 and bool(res.loc[0, "enumerated"])


def test_wild_matches_brute_force_enumeration():
    p = _panel(seed=11, G=7)
    codes = pd.factorize(p["team"], sort=True)[0]
    res = wild_cluster_bootstrap(p, outcome="y", treat="treated", post="post", cluster="team",
                                 fixed_effects=("team", "day"), ci=False)
    # brute force: every one of the 2^7 sign vectors, statsmodels OLS refits with CR1 (use_correction default)
    restricted = smf.ols("y ~ C(team) + C(day)", p).fit()
    fit, u = restricted.fittedvalues.to_numpy(), restricted.resid.to_numpy()
    full = smf.ols("y ~ d + C(team) + C(day)", p).fit(cov_type="cluster", cov_kwds={"groups": codes})
    t_obs = full.tvalues["d"]
    ts = []
    for s in itertools.product([1.0, -1.0], repeat=7):
        ys = fit + np.asarray(s)[codes] * u
        f = smf.ols("ys ~ d + C(team) + C(day)", p.assign(ys=ys)).fit(cov_type="cluster",
                                                                      cov_kwds={"groups": codes})
        ts.append(f.tvalues["d"])
    p_brute = float(np.mean(np.abs(ts) >= abs(t_obs) * (1 - 1e-12)))
    assert res.loc[0, "t_stat"] == pytest.approx(t_obs, rel=1e-9)
    assert res.loc[0, "se"] == pytest.approx(full.bse["d"], rel=1e-9)
    assert res.loc[0, "p_boot"] == pytest.approx(p_brute, abs=1e-12)


def test_wild_cr1_matches_pilot_readout():
    p = _panel(seed=3).assign(date=lambda f: pd.Timestamp("2025-01-01") + pd.to_timedelta(f["day"], unit="D"))
    res = wild_cluster_bootstrap(p, outcome="y", treat="treated", post="post", cluster="team",
                                 fixed_effects=("team", "date"), ci=False)
    pr = pilot_readout(p, outcome="y", treated_col="treated", start_date="2025-01-04").effects
    assert res.loc[0, "estimate"] == pytest.approx(pr.loc[0, "estimate"], rel=1e-10)
    assert res.loc[0, "se"] == pytest.approx(pr.loc[0, "se"], rel=1e-10)
    assert res.loc[0, "p_cr1"] == pytest.approx(pr.loc[0, "p_cr1"], rel=1e-10)
    # 8 clusters: the readout's own p is the wild bootstrap's (Webb weights below 10 clusters, seed 0)
    boot = wild_cluster_bootstrap(p, outcome="y", treat="treated", post="post", cluster="team",
                                  fixed_effects=("team", "date"), weights="webb", ci=False)
    assert pr.loc[0, "inference"] == "wild_bootstrap"
    assert pr.loc[0, "p_val"] == pytest.approx(boot.loc[0, "p_boot"], abs=1e-12)


def test_wild_ci_is_test_inversion():
    p = _panel(seed=4, G=10, n_treated=5)
    res = wild_cluster_bootstrap(p, outcome="y", treat="treated", post="post", cluster="team",
                                 fixed_effects=("team", "day"))
    lo, hi = res.loc[0, "ci_low"], res.loc[0, "ci_high"]
    shift = lambda b: wild_cluster_bootstrap(p.assign(y=p["y"] - b * p["d"]), outcome="y", treat="treated",  # noqa: E731
                                             post="post", cluster="team", fixed_effects=("team", "day"),
                                             ci=False).loc[0, "p_boot"]
    # closed form: testing beta = b0 on y is testing 0 on y - b0 * d; just inside the ends p >= 0.05, outside < 0.05
    eps = 1e-4 * (hi - lo)
    assert shift(lo + eps) >= 0.05 > shift(lo - eps)
    assert shift(hi - eps) >= 0.05 > shift(hi + eps)


def test_webb_and_sampling_are_seeded():
    p = _panel(seed=6, G=14, n_treated=7, effect=0.0)
    a = wild_cluster_bootstrap(p, outcome="y", treat="treated", post="post", cluster="team",
                               fixed_effects=("team", "day"), weights="webb", n_boot=999, seed=3, ci=False)
    b = wild_cluster_bootstrap(p, outcome="y", treat="treated", post="post", cluster="team",
                               fixed_effects=("team", "day"), weights="webb", n_boot=999, seed=3, ci=False)
    r = wild_cluster_bootstrap(p, outcome="y", treat="treated", post="post", cluster="team",
                               fixed_effects=("team", "day"), n_boot=999, seed=3, ci=False)
    assert a.loc[0, "p_boot"] == b.loc[0, "p_boot"] and a.loc[0, "draws"] == 999
    assert not bool(r.loc[0, "enumerated"])  # G = 14 > 12: sampled


def _sim_panel(rng, effect):
    """12 teams (6 treated), one large team per arm, team x period shocks (the clustering that matters in a DiD)."""
    G, T = 12, 10
    per = np.array([12, 1, 1, 1, 1, 1, 12, 1, 1, 1, 1, 1])  # contacts per team-day
    cells = pd.DataFrame({"team": np.repeat(np.arange(G), T), "day": np.tile(np.arange(T), G)})
    cells["post"] = cells["day"] >= T // 2
    p = cells.loc[cells.index.repeat(per[cells["team"]])].reset_index(drop=True)
    p["treated"] = p["team"] < 6
    shock = rng.normal(size=(G, 2))
    p["y"] = (shock[p["team"], p["post"].astype(int)] + rng.normal(size=len(p))
              + effect * (p["treated"] & p["post"]))
    return p


def test_coverage_simulation_wild_holds_cr1_falls_short():
    n_sim, effect = 200, 0.3
    cover_w = cover_c = 0
    for s in range(n_sim):
        p = _sim_panel(np.random.default_rng(1000 + s), effect)
        r = wild_cluster_bootstrap(p, outcome="y", treat="treated", post="post", cluster="team",
                                   fixed_effects=("team", "day")).iloc[0]
        cover_w += r["ci_low"] <= effect <= r["ci_high"]
        q = 2.200985160082949  # scipy.stats.t.ppf(0.975, 11): the CR1 interval of pilot_readout
        cover_c += abs(r["estimate"] - effect) <= q * r["se"]
    print(f"coverage of the 95% interval over {n_sim} pilots: wild bootstrap {cover_w / n_sim:.3f}, "
          f"CR1 t(G-1) {cover_c / n_sim:.3f}")
    assert cover_w / n_sim >= 0.93
    assert cover_c / n_sim < 0.90


def test_randomization_inference_enumerates_and_matches_refits():
    p = _panel(seed=8, G=7, n_treated=3)
    ri = randomization_inference(p, outcome="y", treat="treated", post="post", cluster="team",
                                 fixed_effects=("team", "day"))
    assert ri.loc[0, "assignments"] == math.comb(7, 3) and bool(ri.loc[0, "enumerated"])
    # brute force: statsmodels refit for each of the C(7, 3) = 35 assignments, CR1 t
    teams = sorted(p["team"].unique())
    codes = pd.factorize(p["team"], sort=True)[0]
    ts = []
    for members in itertools.combinations(teams, 3):
        d = (p["team"].isin(members) & p["post"]).astype(float)
        f = smf.ols("y ~ d + C(team) + C(day)", p.assign(d=d)).fit(cov_type="cluster", cov_kwds={"groups": codes})
        ts.append(abs(f.tvalues["d"]))
    t_obs = abs(ri.loc[0, "t_stat"])
    assert ri.loc[0, "p_val"] == pytest.approx(np.mean(np.array(ts) >= t_obs * (1 - 1e-10)), abs=1e-12)
    coef = randomization_inference(p, outcome="y", treat="treated", post="post", cluster="team",
                                   fixed_effects=("team", "day"), statistic="coef")
    assert 1 <= coef.loc[0, "rank"] <= 35


def test_placebo_in_space_single_treated():
    p = _panel(seed=9, G=8, n_treated=1, effect=3.0)
    ri = randomization_inference(p, outcome="y", treat="treated", post="post", cluster="team",
                                 fixed_effects=("team", "day"), statistic="coef")
    assert ri.loc[0, "assignments"] == 8 and ri.loc[0, "p_val"] == pytest.approx(ri.loc[0, "rank"] / 8)
    assert ri.loc[0, "rank"] == 1  # a 3-sd effect on one team: most extreme of the 8


def test_randomization_sampled_is_seeded():
    p = _panel(seed=10, G=14, n_treated=7)
    a, b = (randomization_inference(p, outcome="y", treat="treated", post="post", cluster="team",
                                    fixed_effects=("team", "day"), n_perm=500, seed=2) for _ in range(2))
    assert a.loc[0, "p_val"] == b.loc[0, "p_val"] and a.loc[0, "assignments"] == 501


def test_choose_inference_rules():
    assert choose_inference(40, 15).method == "cr1"
    assert choose_inference(40, 5).method == "wild_bootstrap"  # few treated even with many clusters
    c = choose_inference(12, 6)
    assert c.method == "wild_bootstrap" and c.warning is None and c.reason.endswith(".")
    assert "conservative" in choose_inference(12, 2).warning
    one = choose_inference(12, 1)
    assert one.method == "placebo_in_space" and one.warning.startswith("Warning")
    assert choose_inference(12, 11).method == "placebo_in_space"  # a single control cluster
    with pytest.raises(ValueError, match="need 1 <= n_treated < n_clusters"):
        choose_inference(5, 5)
    with pytest.raises(TypeError, match="n_clusters must be an integer"):
        choose_inference(5.0, 2)


def test_errors():
    p = _panel()
    with pytest.raises(ValueError, match="weights must be one of"):
        wild_cluster_bootstrap(p, outcome="y", treat="treated", cluster="team", weights="mammen")
    with pytest.raises(ValueError, match="must be constant within each 'team'"):
        randomization_inference(p, outcome="y", treat="d", cluster="team")
    with pytest.raises(ValueError, match="conf must be"):
        wild_cluster_bootstrap(p, outcome="y", treat="treated", cluster="team", conf=95)


def test_wild_equivalence_matches_brute_force_enumeration():
    # TOST by the restricted wild bootstrap: each one-sided test imposes its boundary null beta = -m or +m
    p = _panel(seed=12, G=6, effect=0.1)
    codes = pd.factorize(p["team"], sort=True)[0]
    m = 1.0
    res = wild_cluster_bootstrap(p, outcome="y", treat="treated", post="post", cluster="team",
                                 fixed_effects=("team", "day"), ci=False, margin=m).loc[0]
    full = smf.ols("y ~ d + C(team) + C(day)", p).fit(cov_type="cluster", cov_kwds={"groups": codes})
    b, se = full.params["d"], full.bse["d"]
    p_side = {}
    for b0, sign in ((-m, 1), (m, -1)):
        # brute force: restricted fit of y - b0*d on the fixed effects, all 2^6 sign vectors, statsmodels refits
        restricted = smf.ols("yr ~ C(team) + C(day)", p.assign(yr=p["y"] - b0 * p["d"])).fit()
        fit, u = restricted.fittedvalues.to_numpy() + b0 * p["d"].to_numpy(), restricted.resid.to_numpy()
        t_obs = (b - b0) / se
        ts = []
        for s in itertools.product([1.0, -1.0], repeat=6):
            f = smf.ols("ys ~ d + C(team) + C(day)", p.assign(ys=fit + np.asarray(s)[codes] * u)).fit(
                cov_type="cluster", cov_kwds={"groups": codes})
            ts.append((f.params["d"] - b0) / f.bse["d"])
        ts = np.asarray(ts)
        p_side[b0] = float(np.mean(sign * ts >= sign * t_obs - 1e-9))
    assert res["p_lower"] == pytest.approx(p_side[-m], abs=1e-12)
    assert res["p_upper"] == pytest.approx(p_side[m], abs=1e-12)
    assert res["p_equiv"] == max(p_side.values())
    assert res["equivalent"] == (max(p_side.values()) < 0.05)
