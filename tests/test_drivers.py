"""Tests of cxlab.focus (importance, decisions, staffing, plots): every number against an independent reference."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
import statsmodels.api as sm

from cxlab import focus as dr

REF = Path(__file__).parent / "reference"


@pytest.fixture(scope="module")
def mtcars():
    # R datasets::mtcars, 32 x 11 (tests/reference/README.md)
    return pd.read_csv(REF / "mtcars.csv", index_col=0)


def _correlated(rng, n=400, p=6):
    X = rng.normal(size=(n, p))
    X[:, 1] += 0.8 * X[:, 0]
    if p > 3:
        X[:, 3] += 0.5 * X[:, 2] - 0.4 * X[:, 0]
    y = X @ np.linspace(1.0, 0.1, p) + rng.normal(scale=2.0, size=n)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(p)])
    df["y"] = y
    return df


def _ols_r2(df, outcome, cols):
    if not cols:
        return 0.0
    X = sm.add_constant(df[cols].astype(float))
    return float(sm.OLS(df[outcome].astype(float), X).fit().rsquared)


def _brute_shapley(v, players):
    """Shapley values of a set function v(frozenset) by the permutation-free formula."""
    g = len(players)
    out = {}
    for p in players:
        others = [q for q in players if q != p]
        total = 0.0
        for k in range(g):
            for S in itertools.combinations(others, k):
                w = math.factorial(k) * math.factorial(g - k - 1) / math.factorial(g)
                total += w * (v(frozenset(S) | {p}) - v(frozenset(S)))
        out[p] = total
    return out


# ------------------------------------------------------------------ mtcars / relaimpo


def test_mtcars_lmg_matches_relaimpo(mtcars):
    ri = dr.relative_importance(mtcars, outcome="mpg", drivers=["am", "vs", "cyl"]).set_index("driver")
    # relaimpo: calc.relimp(lm(mpg ~ am + vs + cyl, mtcars), type="lmg")  -> R^2 = 0.7619773
    assert ri["r2"].iloc[0] == pytest.approx(0.7619773, abs=5e-8)
    # relaimpo: calc.relimp(lm(mpg ~ am + vs + cyl, mtcars), type="lmg")$lmg
    assert ri.loc["am", "importance"] == pytest.approx(0.1774892, abs=5e-8)
    assert ri.loc["vs", "importance"] == pytest.approx(0.2027032, abs=5e-8)
    assert ri.loc["cyl", "importance"] == pytest.approx(0.3817849, abs=5e-8)
    assert ri["rank"].to_dict() == {"cyl": 1, "vs": 2, "am": 3}


def test_mtcars_conditional_dominance_matches_domir(mtcars):
    dom = dr.dominance(mtcars, outcome="mpg", drivers=["am", "vs", "cyl"])
    am = dom.conditional.query("driver == 'am'").sort_values("k")["mean_gain"].to_numpy()
    # domir: domin(mpg ~ am + vs + cyl, lm, list(\(x) summary(x)[["r.squared"]], "r.squared"),
    #        data = mtcars)$Conditional_Dominance["am", ]; relaimpo: calc.relimp(..., type="lmg")$ave.coeffs
    np.testing.assert_allclose(am, [0.3597989, 0.1389842, 0.0336844], atol=5e-8)
    # general dominance = LMG (relaimpo values above)
    gen = dom.general.set_index("driver")["general"]
    assert gen["am"] == pytest.approx(0.1774892, abs=5e-8)
    assert dom.r2 == pytest.approx(0.7619773, abs=5e-8)


def test_complete_dominance_from_statsmodels_subsets(mtcars):
    players = ["am", "vs", "cyl"]
    dom = dr.dominance(mtcars, outcome="mpg", drivers=players)
    pw = dom.pairwise.set_index(["driver", "other"])
    for i, j in itertools.permutations(players, 2):
        rest = [q for q in players if q not in (i, j)]
        subsets = [list(S) for k in range(len(rest) + 1) for S in itertools.combinations(rest, k)]
        # statsmodels OLS R^2 of each sub-model (independent of the sweep)
        gains = [_ols_r2(mtcars, "mpg", S + [i]) - _ols_r2(mtcars, "mpg", S + [j]) for S in subsets]
        expected = "dominates" if min(gains) > 0 else ("dominated" if max(gains) < 0 else "undetermined")
        assert pw.loc[(i, j), "complete"] == expected
        assert pw.loc[(i, j), "share_greater"] == pytest.approx(np.mean(np.array(gains) > 0))
    assert pw.loc[("cyl", "am"), "complete"] == "dominates"


def test_subset_r2_matches_statsmodels(rng):
    df = _correlated(rng, p=4)
    df["reason"] = rng.choice(["a", "b", "c"], size=len(df))
    out = dr.subset_r2(df, outcome="y", drivers=["x0", "x1", "x2", "x3", "reason"],
                       groups={"pair": ["x2", "x3"]})
    assert len(out) == 2**4
    dummies = pd.get_dummies(df["reason"], drop_first=True, dtype=float)
    full = pd.concat([df, dummies], axis=1)
    cols = {"x0": ["x0"], "x1": ["x1"], "pair": ["x2", "x3"], "reason": list(dummies.columns)}
    for row in out.itertuples():
        names = [s for s in row.drivers.split(", ") if s]
        # statsmodels OLS R^2 of the sub-model
        assert row.r2 == pytest.approx(_ols_r2(full, "y", [c for nm in names for c in cols[nm]]), abs=1e-12)


# ------------------------------------------------------------------ pingouin


def test_lmg_equals_pingouin_relimp(rng):
    df = _correlated(rng, p=7)
    X = df.drop(columns="y")
    lm = pg.linear_regression(X, df["y"], relimp=True).set_index("names")
    ri = dr.relative_importance(df, outcome="y", drivers=list(X.columns)).set_index("driver")
    # pingouin.linear_regression(X, y, relimp=True)["relimp"]
    np.testing.assert_allclose(ri.loc[X.columns, "importance"], lm.loc[X.columns, "relimp"], rtol=1e-10, atol=1e-14)
    assert ri["r2"].iloc[0] == pytest.approx(lm["r2"].iloc[0], rel=1e-12)


def test_grouped_players_are_shapley_of_unions(rng):
    df = _correlated(rng, p=5)
    groups = {"speed": ["x1", "x3"]}
    ri = dr.relative_importance(df, outcome="y", drivers=["x0", "x1", "x2", "x4"], groups=groups)
    ri = ri.set_index("driver")["importance"]
    cols = {"x0": ["x0"], "speed": ["x1", "x3"], "x2": ["x2"], "x4": ["x4"]}
    # closed form: Shapley value of v(S) = OLS R^2 (statsmodels) of the union of the players' columns
    brute = _brute_shapley(lambda S: _ols_r2(df, "y", [c for p in S for c in cols[p]]), list(cols))
    for p, v in brute.items():
        assert ri[p] == pytest.approx(v, abs=1e-12)
    assert list(dr.relative_importance(df, outcome="y", drivers=["x0", "x1"], groups=groups)["driver"]).count(
        "speed") == 1


def test_categorical_driver_is_one_player(rng):
    df = _correlated(rng, p=3)
    df["reason"] = rng.choice(["billing", "tech", "sales"], size=len(df))
    df["y"] += df["reason"].map({"billing": 0.0, "tech": -1.0, "sales": 0.5})
    auto = dr.relative_importance(df, outcome="y", drivers=["x0", "x1", "x2", "reason"]).set_index("driver")
    dummies = pd.get_dummies(df["reason"], prefix="r", dtype=float)
    both = pd.concat([df, dummies], axis=1)
    explicit = dr.relative_importance(both, outcome="y", drivers=["x0", "x1", "x2"],
                                      groups={"reason": ["r_sales", "r_tech"]}).set_index("driver")
    # closed form: R^2 does not depend on which level is the reference
    np.testing.assert_allclose(auto.loc[explicit.index, "importance"], explicit["importance"], atol=1e-12)
    # closed form: Shapley value of v(S) = statsmodels OLS R^2, the reason's two dummies entering together
    cols = {"x0": ["x0"], "x1": ["x1"], "x2": ["x2"], "reason": ["r_sales", "r_tech"]}
    brute = _brute_shapley(lambda S: _ols_r2(both, "y", [c for p in S for c in cols[p]]), list(cols))
    for p, v in brute.items():
        assert auto.loc[p, "importance"] == pytest.approx(v, abs=1e-12)
    # the reference level is the most frequent one; its own indicator never enters
    assert auto.loc["reason", "members"] == "reason"


def test_frequency_weights_equal_replicated_rows(rng):
    df = _correlated(rng, n=120, p=3)
    w = rng.integers(1, 4, size=len(df))
    weighted = dr.relative_importance(df, outcome="y", drivers=["x0", "x1", "x2"], weights=w)
    replicated = df.loc[df.index.repeat(w)].reset_index(drop=True)
    # closed form: integer weights = repeating each row w times
    expected = dr.relative_importance(replicated, outcome="y", drivers=["x0", "x1", "x2"])
    np.testing.assert_allclose(weighted["importance"], expected["importance"], atol=1e-12)
    # statsmodels WLS(y, X, weights=w).rsquared (weighted centred R^2) of the full model and of x0 alone
    X = sm.add_constant(df[["x0", "x1", "x2"]])
    assert weighted["r2"].iloc[0] == pytest.approx(sm.WLS(df["y"], X, weights=w).fit().rsquared, rel=1e-12)
    sub = dr.subset_r2(df, outcome="y", drivers=["x0", "x1", "x2"], weights=w).set_index("drivers")["r2"]
    one = sm.WLS(df["y"], sm.add_constant(df[["x0"]]), weights=w).fit().rsquared
    assert sub["x0"] == pytest.approx(one, rel=1e-12)


# ------------------------------------------------------------------ Johnson


def test_johnson_matches_rwa_readme(mtcars):
    rw = dr.relative_importance(mtcars, outcome="mpg", drivers=["cyl", "disp", "hp", "gear"],
                                method="johnson").set_index("driver")
    # rwa (R, M. Chan) README: rwa(mtcars, outcome = "mpg", predictors = c("cyl", "disp", "hp", "gear"))
    assert rw["r2"].iloc[0] == pytest.approx(0.7791896, abs=5e-8)
    np.testing.assert_allclose(rw.loc[["cyl", "disp", "hp", "gear"], "importance"],
                               [0.2284797, 0.2221469, 0.2321744, 0.0963886], atol=5e-8)


def test_johnson_sums_to_r2_and_two_predictor_closed_form(rng):
    df = _correlated(rng, p=6)
    rw = dr.relative_importance(df, outcome="y", drivers=[f"x{i}" for i in range(6)], method="johnson")
    # statsmodels OLS R^2 of the full model
    assert rw["importance"].sum() == pytest.approx(_ols_r2(df, "y", [f"x{i}" for i in range(6)]), rel=1e-12)

    two = dr.relative_importance(df, outcome="y", drivers=["x0", "x1"], method="johnson").set_index("driver")
    R = df[["x0", "x1", "y"]].corr().to_numpy()
    r, r1, r2 = R[0, 1], R[0, 2], R[1, 2]
    # closed form for p = 2: R^(1/2) = [[a, b], [b, a]], a, b = (sqrt(1+r) +/- sqrt(1-r)) / 2,
    # beta = R^(-1/2) r_xy, eps_1 = a^2 beta_1^2 + b^2 beta_2^2
    a, b = (math.sqrt(1 + r) + math.sqrt(1 - r)) / 2, (math.sqrt(1 + r) - math.sqrt(1 - r)) / 2
    beta = np.linalg.solve(np.array([[a, b], [b, a]]), [r1, r2])
    assert two.loc["x0", "importance"] == pytest.approx(a**2 * beta[0] ** 2 + b**2 * beta[1] ** 2, rel=1e-10)
    assert two.loc["x1", "importance"] == pytest.approx(b**2 * beta[0] ** 2 + a**2 * beta[1] ** 2, rel=1e-10)


def test_johnson_equals_lmg_for_orthogonal_drivers(rng):
    Q, _ = np.linalg.qr(rng.normal(size=(300, 4)) - 0)
    Q -= Q.mean(axis=0)
    Q, _ = np.linalg.qr(Q)  # centred, exactly orthogonal columns
    df = pd.DataFrame(Q, columns=["a", "b", "c", "d"])
    df["y"] = Q @ [3.0, 2.0, 1.0, 0.0] + rng.normal(scale=0.05, size=300)
    lmg = dr.relative_importance(df, outcome="y", drivers=list("abcd")).set_index("driver")["importance"]
    rw = dr.relative_importance(df, outcome="y", drivers=list("abcd"), method="johnson")
    rw = rw.set_index("driver")["importance"]
    r2 = df.corr()["y"].loc[list("abcd")] ** 2
    # closed form: uncorrelated drivers -> LMG = Johnson = squared correlation with y
    np.testing.assert_allclose(lmg.loc[list("abcd")], r2, atol=1e-10)
    np.testing.assert_allclose(rw.loc[list("abcd")], r2, atol=1e-10)


# ------------------------------------------------------------------ logistic (McFadden)


def test_mcfadden_lmg_reduces_sensibly(rng):
    n = 1500
    X = rng.normal(size=(n, 3))
    X[:, 1] += 0.5 * X[:, 0]
    latent = 1.2 * X[:, 0] + 0.5 * X[:, 1] + rng.logistic(size=n)
    df = pd.DataFrame(X, columns=["fcr", "asa", "noise"])
    df["promoter"] = (latent > 0.3).astype(float)
    ri = dr.relative_importance(df, outcome="promoter", drivers=["fcr", "asa", "noise"], model="logistic")
    full = sm.Logit(df["promoter"], sm.add_constant(df[["fcr", "asa", "noise"]])).fit(disp=0)
    # statsmodels Logit(...).prsquared (McFadden) of the full model; Shapley parts sum to it
    assert ri["r2"].iloc[0] == pytest.approx(full.prsquared, rel=1e-8)
    assert ri["importance"].sum() == pytest.approx(full.prsquared, rel=1e-8)
    sub = dr.subset_r2(df, outcome="promoter", drivers=["fcr", "asa", "noise"], model="logistic")
    one = sm.Logit(df["promoter"], sm.add_constant(df[["asa"]])).fit(disp=0)
    # statsmodels Logit prsquared of the one-driver model
    assert sub.query("drivers == 'asa'")["r2"].iloc[0] == pytest.approx(one.prsquared, rel=1e-8)
    # the structural ordering is recovered and the null driver gets a negligible share
    assert list(ri["driver"]) == ["fcr", "asa", "noise"]
    assert ri.set_index("driver").loc["noise", "share"] < 0.01
    # each driver's LMG part by hand: the Shapley average of its McFadden-R2 gain over the 2^3 subsets,
    # each subset fitted with statsmodels Logit (the empty model has R2 = 0); share = part / full R2
    names = ["fcr", "asa", "noise"]

    def mcfadden(cols):
        if not cols:
            return 0.0
        return sm.Logit(df["promoter"], sm.add_constant(df[list(cols)])).fit(disp=0).prsquared

    r2_of = {frozenset(c): mcfadden(c) for k in range(4) for c in itertools.combinations(names, k)}
    for d in names:
        others = [o for o in names if o != d]
        part = sum(math.factorial(len(c)) * math.factorial(2 - len(c)) / math.factorial(3)
                   * (r2_of[frozenset(c) | {d}] - r2_of[frozenset(c)])
                   for k in range(3) for c in itertools.combinations(others, k))
        row = ri.set_index("driver").loc[d]
        # abs 1e-8: the two Newton fits agree to about 1e-11 in each R2 (optimizer tolerance)
        assert row["importance"] == pytest.approx(part, abs=1e-8), d
        assert row["share"] == pytest.approx(part / full.prsquared, abs=1e-7), d


def test_mcfadden_with_frequency_weights_equals_statsmodels_glm(rng):
    n = 400
    X = rng.normal(size=(n, 2))
    df = pd.DataFrame(X, columns=["fcr", "asa"])
    df["promoter"] = (0.9 * X[:, 0] - 0.4 * X[:, 1] + rng.logistic(size=n) > 0).astype(float)
    w = rng.integers(1, 4, size=n)
    sub = dr.subset_r2(df, outcome="promoter", drivers=["fcr", "asa"], weights=w, model="logistic")
    sub = sub.set_index("drivers")["r2"]
    # statsmodels GLM(Binomial, freq_weights=w).pseudo_rsquared("mcf") = 1 - llf / llnull of each sub-model
    for names in (["fcr"], ["asa"], ["fcr", "asa"]):
        glm = sm.GLM(df["promoter"], sm.add_constant(df[names]), family=sm.families.Binomial(), freq_weights=w)
        assert sub[", ".join(names)] == pytest.approx(glm.fit(tol=1e-12).pseudo_rsquared("mcf"), rel=1e-10)


def test_logistic_separation_is_a_clear_error(rng):
    x = rng.normal(size=200)
    df = pd.DataFrame({"x": x, "noise": rng.normal(size=200), "top2": (x > 0).astype(float)})
    # y = 1 exactly when x > 0: the MLE does not exist (Albert & Anderson 1984), the fit is refused
    with pytest.raises(ValueError, match=r"logistic fit failed for drivers \['x'\].*completely separated"):
        dr.relative_importance(df, outcome="top2", drivers=["x", "noise"], model="logistic")


def test_logistic_options_are_checked(rng):
    df = _correlated(rng, p=2)
    with pytest.raises(ValueError, match="needs a 0/1 outcome"):
        dr.relative_importance(df, outcome="y", drivers=["x0", "x1"], model="logistic")
    with pytest.raises(ValueError, match="method='lmg' only"):
        dr.relative_importance(df, outcome="y", drivers=["x0"], model="logistic", method="johnson")


# ------------------------------------------------------------------ bootstrap


def test_bootstrap_replicate_equals_naive_resample(rng):
    df = _correlated(rng, n=200, p=4)
    drivers = [f"x{i}" for i in range(4)]
    bi = dr.bootstrap_importance(df, outcome="y", drivers=drivers, n_boot=5, seed=11)
    # the same draws, done the slow way: resample rows, then pingouin relimp on the resample
    idx = np.random.default_rng(11).integers(0, len(df), size=(5, len(df)))
    for b in range(5):
        res = df.iloc[idx[b]]
        lm = pg.linear_regression(res[drivers], res["y"], relimp=True).set_index("names")
        np.testing.assert_allclose(bi.replicates.iloc[b][drivers], lm.loc[drivers, "relimp"], atol=1e-10)


def test_bootstrap_is_reproducible_and_seeded(rng):
    df = _correlated(rng, n=300, p=4)
    kw = dict(outcome="y", drivers=[f"x{i}" for i in range(4)], n_boot=100)
    a = dr.bootstrap_importance(df, seed=3, **kw)
    b = dr.bootstrap_importance(df, seed=3, **kw)
    c = dr.bootstrap_importance(df, seed=4, **kw)
    pd.testing.assert_frame_equal(a.importance, b.importance)
    pd.testing.assert_frame_equal(a.pairwise, b.pairwise)
    assert not np.allclose(a.replicates, c.replicates)
    # point estimates are the full-sample ones: pingouin.linear_regression(X, y, relimp=True)["relimp"]
    drivers = kw["drivers"]
    lm = pg.linear_regression(df[drivers], df["y"], relimp=True).set_index("names")
    imp = a.importance.set_index("driver")
    np.testing.assert_allclose(imp.loc[drivers, "importance"], lm.loc[drivers, "relimp"], rtol=1e-10)
    # closed form of the percentile interval (Efron & Tibshirani 1993, eq. 13.5): the 2.5% and 97.5%
    # quantiles of the replicates (numpy default, linear interpolation); SE = their SD (ddof=1)
    reps = a.replicates[drivers]
    np.testing.assert_allclose(imp.loc[drivers, "ci_low"], reps.quantile(0.025).to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(imp.loc[drivers, "ci_high"], reps.quantile(0.975).to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(imp.loc[drivers, "se"], reps.std(ddof=1).to_numpy(), rtol=1e-12)
    # rank distribution: P(rank = 1) is the share of replicates where the driver is the largest
    top = reps.to_numpy().argmax(axis=1)
    np.testing.assert_allclose(imp.loc[drivers, "p_rank1"], [(top == j).mean() for j in range(len(drivers))])
    probs = a.ranks.groupby("driver")["probability"].sum()
    np.testing.assert_allclose(probs, 1.0)


def test_bootstrap_rank_ci_with_one_dominant_driver(rng):
    n = 800
    X = rng.normal(size=(n, 4))
    df = pd.DataFrame(X, columns=["resolved", "wait", "hold", "noise"])
    df["csat"] = 2.0 * X[:, 0] + 0.3 * X[:, 1] + 0.25 * X[:, 2] + rng.normal(size=n)
    bi = dr.bootstrap_importance(df, outcome="csat", drivers=["resolved", "wait", "hold", "noise"],
                                 n_boot=300, seed=1)
    top = bi.importance.iloc[0]
    assert top["driver"] == "resolved"
    assert (top["rank_ci_low"], top["rank_ci_high"], top["p_rank1"]) == (1, 1, 1.0)
    # wait and hold are close: their rank intervals overlap, their difference CI covers 0
    imp = bi.importance.set_index("driver")
    assert imp.loc["wait", "rank_ci_high"] >= 3 and imp.loc["hold", "rank_ci_low"] <= 2
    pair = bi.pairwise.set_index(["driver", "other"])
    assert pair.loc[("resolved", imp.index[1]), "excludes_zero"]
    close = pair.loc[[k for k in pair.index if set(k) == {"wait", "hold"}][0]]
    assert not close["excludes_zero"] and 0.05 < close["p_greater"] < 0.95
    assert imp.loc["noise", "rank_ci_low"] == 4


def test_bootstrap_drops_degenerate_resamples(rng):
    df = _correlated(rng, n=60, p=2)
    df["rare"] = 0.0
    df.loc[0, "rare"] = 1.0  # absent from about 37% of resamples -> constant there
    bi = dr.bootstrap_importance(df, outcome="y", drivers=["x0", "x1", "rare"], n_boot=100, seed=0)
    r2 = bi.r2.iloc[0]
    assert r2["n_dropped"] > 0 and r2["n_boot"] + r2["n_dropped"] == 100
    # exactly the resamples that miss row 0 (the same draws: two batches of 50 from default_rng(0)); on
    # average 100 (59/60)^60 = 36.4 of them
    draws = np.random.default_rng(0)
    idx = np.vstack([draws.integers(0, len(df), size=(50, len(df))) for _ in range(2)])
    assert r2["n_dropped"] == int((~(idx == 0).any(axis=1)).sum())
    assert np.isfinite(bi.replicates.to_numpy()).all()


def _johnson_svd(X, y):
    """Johnson (2000, p. 5) as published: X = P D Q' (standardized), Z = P Q', Lambda = Q D Q'; y on Z."""
    Xs = (X - X.mean(axis=0)) / X.std(axis=0)
    ys = (y - y.mean()) / y.std()
    P, dvals, Qt = np.linalg.svd(Xs, full_matrices=False)
    Z = P @ Qt
    lam = Qt.T @ np.diag(dvals) @ Qt / math.sqrt(len(y))  # loadings of X on Z (unit-variance scale)
    beta = np.linalg.lstsq(Z * math.sqrt(len(y)), ys, rcond=None)[0]
    return (lam**2) @ (beta**2)


def test_bootstrap_johnson(rng):
    df = _correlated(rng, n=300, p=5)
    drivers = [f"x{i}" for i in range(5)]
    bi = dr.bootstrap_importance(df, outcome="y", drivers=drivers, n_boot=20, method="johnson", seed=2)
    assert bi.method == "johnson" and list(bi.replicates.columns) == drivers
    # the same draws done the slow way: resample rows, then Johnson's SVD recipe (not the eigen route of
    # cxlab) on the resample; each replicate's weights also sum to the statsmodels OLS R^2 of that resample
    idx = np.random.default_rng(2).integers(0, len(df), size=(20, len(df)))
    for b in (0, 7, 19):
        res = df.iloc[idx[b]]
        np.testing.assert_allclose(bi.replicates.iloc[b][drivers],
                                   _johnson_svd(res[drivers].to_numpy(), res["y"].to_numpy()), atol=1e-10)
        assert bi.replicates.iloc[b].sum() == pytest.approx(_ols_r2(res, "y", drivers), rel=1e-10)
    # point estimates: the full-sample Johnson weights by the same recipe
    np.testing.assert_allclose(bi.importance.set_index("driver").loc[drivers, "importance"],
                               _johnson_svd(df[drivers].to_numpy(), df["y"].to_numpy()), atol=1e-12)


# ------------------------------------------------------------------ quadrant, what-if


def test_quadrant_probabilities(rng):
    n = 600
    X = rng.normal(size=(n, 3))
    df = pd.DataFrame(X, columns=["fcr", "asa_s", "hold"])
    df["csat"] = 1.0 * X[:, 0] - 0.9 * X[:, 1] + 0.05 * X[:, 2] + rng.normal(size=n)
    bi = dr.bootstrap_importance(df, outcome="csat", drivers=["fcr", "asa_s", "hold"], n_boot=200, seed=0)
    q = dr.quadrant(bi, {"fcr": 70, "asa_s": 25, "hold": 40}, targets={"fcr": 75, "asa_s": 30, "hold": 30},
                    performance_se={"hold": 10}).set_index("driver")
    cols = ["p_concentrate", "p_keep_up", "p_low_priority", "p_overkill"]
    np.testing.assert_allclose(q[cols].sum(axis=1), 1.0)
    assert q.loc["asa_s", "better"] == "lower"  # negative slope
    assert q.loc["fcr", "quadrant"] == "concentrate here" and q.loc["fcr", "p_concentrate"] == 1.0
    assert q.loc["asa_s", "quadrant"] == "keep up the good work"
    # closed form: P(below target) = Phi(gap / se) with gap = 40 - 30 for a higher-is-better KPI
    from scipy.stats import norm

    assert q.loc["hold", "p_below_target"] == pytest.approx(norm.cdf(-10 / 10))
    with pytest.raises(ValueError, match=r"driver\(s\) \['speed'\] not in the bootstrap result"):
        dr.quadrant(bi, {"speed": 1}, targets={"speed": 2})


def test_what_if_matches_ols(rng):
    n = 500
    df = pd.DataFrame({"fcr_pct": rng.uniform(60, 85, n), "asa_s": rng.uniform(5, 90, n),
                       "hold_s": rng.uniform(0, 120, n)})
    df["csat"] = 20 + 0.6 * df["fcr_pct"] - 0.05 * df["asa_s"] + rng.normal(0, 5, n)
    wi = dr.what_if(df, outcome="csat", drivers=["fcr_pct", "asa_s", "hold_s"],
                    changes={"fcr_pct": 5, "asa_s": -10}, n_boot=300, seed=0).set_index("driver")
    fit = sm.OLS(df["csat"], sm.add_constant(df[["fcr_pct", "asa_s", "hold_s"]])).fit()
    # statsmodels OLS params
    assert wi.loc["fcr_pct", "coef"] == pytest.approx(fit.params["fcr_pct"], rel=1e-10)
    assert wi.loc["asa_s", "effect"] == pytest.approx(-10 * fit.params["asa_s"], rel=1e-10)
    assert wi.loc["total", "effect"] == pytest.approx(5 * fit.params["fcr_pct"] - 10 * fit.params["asa_s"])
    # bootstrap CI of the slope close to statsmodels' t interval (same data, large n)
    lo, hi = fit.conf_int().loc["fcr_pct"]
    assert wi.loc["fcr_pct", "coef_ci_low"] == pytest.approx(lo, rel=0.1)
    assert wi.loc["fcr_pct", "coef_ci_high"] == pytest.approx(hi, rel=0.1)
    with pytest.raises(ValueError, match=r"changes name column\(s\) \['aht_s'\]"):
        dr.what_if(df, outcome="csat", drivers=["fcr_pct"], changes={"aht_s": 1}, n_boot=10)


def test_agents_for_service_level_uses_erlang_c(rng):
    n = 400
    df = pd.DataFrame({"service_level_pct": rng.uniform(60, 95, n)})
    df["csat"] = 50 + 0.2 * df["service_level_pct"] + rng.normal(0, 2, n)
    t = dr.agents_for_service_level(df, outcome="csat", drivers=["service_level_pct"], load_erlangs=10,
                                    aht_s=180, t_s=20, agents=13, added=(1, 2), n_boot=100, seed=0)
    # KPI_DEFINITIONS.md Erlang C worked check: A = 10, AHT 180 s, T = 20 s -> 14 agents SL ~ 0.888,
    # 13 agents SL ~ 0.796
    assert t.loc[0, "service_level_pct"] == pytest.approx(88.8, abs=0.1)
    assert t.loc[0, "sl_change_pts"] == pytest.approx(88.84 - 79.6, abs=0.1)

    def erlang_c_sl(n_agents, a, aht, thr):
        # closed form: Erlang B by the recursion B(k) = A B(k-1) / (k + A B(k-1)), then
        # C = N B / (N - A (1 - B)) and SL = 1 - C exp(-(N - A) T / AHT)
        b = 1.0
        for k in range(1, n_agents + 1):
            b = a * b / (k + a * b)
        c = n_agents * b / (n_agents - a * (1 - b))
        return 1 - c * math.exp(-(n_agents - a) * thr / aht)

    np.testing.assert_allclose(t["service_level_pct"], [100 * erlang_c_sl(n, 10, 180, 20) for n in (14, 15)],
                               rtol=1e-10)
    np.testing.assert_allclose(t["sl_change_pts"], [100 * (erlang_c_sl(n, 10, 180, 20) - erlang_c_sl(13, 10, 180, 20))
                                                    for n in (14, 15)], rtol=1e-10)
    coef = sm.OLS(df["csat"], sm.add_constant(df[["service_level_pct"]])).fit().params["service_level_pct"]
    # statsmodels OLS slope x SL change
    np.testing.assert_allclose(t["cx_change"], coef * t["sl_change_pts"], rtol=1e-10)
    np.testing.assert_allclose(t["cx_per_agent"], t["cx_change"] / t["added_agents"])
    default = dr.agents_for_service_level(df, outcome="csat", drivers=["service_level_pct"], load_erlangs=10,
                                          aht_s=180, n_boot=20)
    # default staffing: fewest agents reaching the frame's mean SL (about 77.5%) -> 13 (SL 79.6%)
    assert default.loc[0, "agents"] == 14


# ------------------------------------------------------------------ limits and degenerate input


def test_too_many_players_points_to_groups(rng):
    df = pd.DataFrame(rng.normal(size=(100, 22)), columns=[f"k{i}" for i in range(22)])
    with pytest.raises(ValueError, match=r"21 drivers exceed .* limit of 20 .*groups=\{'speed'"):
        dr.relative_importance(df, outcome="k21", drivers=[f"k{i}" for i in range(21)])
    # grouping brings it under the limit; Johnson has no limit
    grouped = dr.relative_importance(df, outcome="k21", drivers=[f"k{i}" for i in range(21)],
                                     groups={"speed": ["k0", "k1", "k2"]})
    assert len(grouped) == 19
    johnson = dr.relative_importance(df, outcome="k21", drivers=[f"k{i}" for i in range(21)], method="johnson")
    assert len(johnson) == 21
    # both decompositions add up to the statsmodels OLS R^2 of the full 21-column model
    full = _ols_r2(df, "k21", [f"k{i}" for i in range(21)])
    assert grouped["importance"].sum() == pytest.approx(full, rel=1e-10)
    assert johnson["importance"].sum() == pytest.approx(full, rel=1e-10)


def test_degenerate_inputs_raise_clear_errors(rng):
    df = _correlated(rng, n=50, p=3)
    d = ["x0", "x1", "x2"]
    const = df.assign(flat=3.0)
    with pytest.raises(ValueError, match=r"column\(s\) \['flat'\] are constant"):
        dr.relative_importance(const, outcome="y", drivers=d + ["flat"])
    coll = df.assign(x0_copy=2 * df["x0"] + 1)
    with pytest.raises(ValueError, match=r"\['x0', 'x0_copy'\] are perfectly collinear"):
        dr.relative_importance(coll, outcome="y", drivers=d + ["x0_copy"])
    combo = df.assign(total=df["x1"] + df["x2"])
    with pytest.raises(ValueError, match=r"\['x1', 'x2', 'total'\] are perfectly collinear"):
        dr.bootstrap_importance(combo, outcome="y", drivers=d + ["total"], n_boot=10)
    with pytest.raises(ValueError, match=r"only 4 complete responses for 3 driver columns"):
        dr.relative_importance(df.head(4), outcome="y", drivers=d)
    nan = df.copy()
    nan.loc[[1, 2], "x1"] = np.nan
    with pytest.raises(ValueError, match=r"missing values \(NaN\) in 'x1' \(2 rows\)"):
        dr.relative_importance(nan, outcome="y", drivers=d)
    with pytest.raises(ValueError, match=r"missing values \(NaN\) in 'x1'"):
        dr.what_if(nan, outcome="y", drivers=d, changes={"x0": 1}, n_boot=10)
    with pytest.raises(ValueError, match=r"driver column\(s\) \['x_1'\] not in the frame \(did you mean 'x1'\?\)"):
        dr.relative_importance(df, outcome="y", drivers=["x0", "x_1"])
    with pytest.raises(ValueError, match=r"method must be one of \['lmg', 'johnson'\]; got 'shapley'"):
        dr.relative_importance(df, outcome="y", drivers=d, method="shapley")
    with pytest.raises(ValueError, match="cannot also be a driver"):
        dr.relative_importance(df, outcome="y", drivers=["y", "x0"])
    with pytest.raises(ValueError, match="n_boot must be an integer >= 2"):
        dr.bootstrap_importance(df, outcome="y", drivers=d, n_boot=1)


def test_no_linalg_error_on_near_singular_drivers(rng):
    df = _correlated(rng, n=100, p=2)
    df["x0_noisy"] = df["x0"] + 1e-9 * rng.normal(size=100)
    with pytest.raises(ValueError, match="perfectly collinear"):
        dr.relative_importance(df, outcome="y", drivers=["x0", "x1", "x0_noisy"])


# ------------------------------------------------------------------ ground truth of the sample


@pytest.fixture(scope="module")
def contact_grain(sample):
    """Surveys joined to their own handled contact on interaction_id (contact grain)."""
    it = sample["interactions"].sort_values(["customer_id", "arrived_at"], kind="mergesort")
    prev = it.groupby("customer_id")["arrived_at"].shift()
    # ground truth: REP = any earlier contact by the same customer within 7 days
    it = it.assign(is_repeat=((it["arrived_at"] - prev) <= pd.Timedelta(days=7)).astype(float))
    cf = sample["surveys"][["response_id", "interaction_id", "csat"]].merge(
        it, on="interaction_id", how="inner", validate="many_to_one")
    cf = cf.loc[~cf["abandoned"] & cf["csat"].notna()].sort_values("response_id").reset_index(drop=True)
    return cf.assign(
        handle_s=cf["talk_s"] + cf["hold_s"] + cf["acw_s"],
        resolved=cf["resolved"].astype(float),
        transferred=cf["transferred"].astype(float),
    )


BASE = ["resolved", "wait_s", "transferred", "hold_s", "is_repeat", "handle_s"]


@pytest.fixture(scope="module")
def boot_with_reason(contact_grain):
    return dr.bootstrap_importance(contact_grain, outcome="csat", drivers=BASE + ["contact_reason"],
                                   n_boot=200, seed=5)


def test_sample_resolution_is_top_driver(boot_with_reason, contact_grain, sample_truth):
    # ground truth: driver_truth.ordering starts with "resolved"
    assert sample_truth["driver_truth"]["ordering"][0] == "resolved"
    bi = boot_with_reason
    top = bi.importance.iloc[0]
    assert top["driver"] == "resolved"
    assert (top["rank_ci_low"], top["rank_ci_high"]) == (1, 1)
    runner_up = bi.pairwise.iloc[0]
    assert runner_up["driver"] == "resolved"
    # criterion: the CI of importance(resolved) - importance(next driver) excludes 0
    assert runner_up["ci_low"] > 0
    # the full-sample point estimates by hand: LMG = Shapley average of the OLS R2 gain over all 2^7 subsets
    # of the 7 players (contact_reason's indicators form one player), each R2 = 1 - SSR / SST from the
    # normal equations of that subset's columns (one Gram matrix X'X of all columns, sliced per subset)
    cf = contact_grain.dropna(subset=["csat", *BASE, "contact_reason"])
    y = cf["csat"].to_numpy(float)
    reason = pd.get_dummies(cf["contact_reason"], drop_first=True).to_numpy(float)
    Z = np.column_stack([np.ones(len(y)), cf[BASE].to_numpy(float), reason])
    players = [*BASE, "contact_reason"]
    cols = {d: [1 + j] for j, d in enumerate(BASE)} | {"contact_reason": list(range(1 + len(BASE), Z.shape[1]))}
    G, zy = Z.T @ Z, Z.T @ y
    sst = float(((y - y.mean()) ** 2).sum())

    def r2(subset):
        idx = [0] + [j for p in subset for j in cols[p]]
        beta = np.linalg.solve(G[np.ix_(idx, idx)], zy[idx])
        return 1 - (float(y @ y) - float(zy[idx] @ beta)) / sst

    k = len(players)
    r2_of = {frozenset(c): r2(c) for m in range(k + 1) for c in itertools.combinations(players, m)}
    imp = bi.importance.set_index("driver")["importance"]
    for d in players:
        others = [o for o in players if o != d]
        lmg = sum(math.factorial(m) * math.factorial(k - 1 - m) / math.factorial(k)
                  * (r2_of[frozenset(c) | {d}] - r2_of[frozenset(c)])
                  for m in range(k) for c in itertools.combinations(others, m))
        assert imp[d] == pytest.approx(lmg, abs=1e-10), d


def test_sample_handle_time_vanishes_given_contact_reason(contact_grain, boot_with_reason, sample_truth):
    # ground truth: handle time has no direct effect; contact_reason (complexity) confounds it
    assert sample_truth["driver_truth"]["handle_time_direct_effect"] == 0.0
    without = dr.bootstrap_importance(contact_grain, outcome="csat", drivers=BASE, n_boot=200, seed=6)
    with_reason = boot_with_reason
    c0 = without.coef.set_index("driver").loc["handle_s"]
    c1 = with_reason.coef.set_index("driver").loc["handle_s"]
    # criterion: without the confounder the slope of handle time is negative with a CI excluding 0;
    # with contact_reason in the model, the CI of the slope covers 0 ...
    assert c0["ci_high"] < 0
    assert c1["ci_low"] < 0 < c1["ci_high"]
    # ... and its share of R^2 shrinks and stays small (< 3%), below every true driver's
    s0 = without.importance.set_index("driver")["share"]
    s1 = with_reason.importance.set_index("driver")["share"]
    assert s1["handle_s"] < s0["handle_s"] and s1["handle_s"] < 0.03
    assert s1["handle_s"] < s1[["resolved", "transferred", "hold_s", "is_repeat"]].min()


# ------------------------------------------------------------------ focus list and plots


@pytest.fixture(scope="module")
def small_study():
    rng = np.random.default_rng(7)
    n = 800
    reason = rng.choice(["simple", "medium", "complex"], size=n)
    cx = pd.Series(reason).map({"simple": 0.0, "medium": 0.5, "complex": 1.2}).to_numpy()
    resolved = (rng.uniform(size=n) < 0.8 - 0.2 * cx).astype(float)
    handle = 300 + 200 * cx + rng.normal(0, 60, n)  # driven by complexity only
    wait = rng.exponential(30, n)
    csat = 60 + 30 * resolved - 0.1 * wait - 12 * cx + rng.normal(0, 15, n)
    df = pd.DataFrame({"resolved": resolved, "handle_s": handle, "wait_s": wait, "reason": reason, "csat": csat})
    d = ["resolved", "handle_s", "wait_s", "reason"]
    bi = dr.bootstrap_importance(df, outcome="csat", drivers=d, n_boot=200, seed=0)
    perf = df[["resolved", "handle_s", "wait_s"]].mean()
    q = dr.quadrant(bi, perf, targets={"resolved": 0.8, "handle_s": 300, "wait_s": 20})
    wi = dr.what_if(df, outcome="csat", drivers=d, changes={"resolved": 0.05, "wait_s": -10}, n_boot=200, seed=0)
    dom = dr.dominance(df, outcome="csat", drivers=d)
    return bi, q, wi, dom


def test_focus_list_reasons(small_study):
    bi, q, wi, _ = small_study
    f = dr.focus_list(bi, q, wi, controls=["reason"]).set_index("driver")
    assert f.loc["resolved", "priority"] == 1 and f.loc["resolved", "focus"]
    assert not f.loc["reason", "focus"] and "control" in f.loc["reason", "reason"]
    # handle time has no effect of its own once reason is in the model: slope CI covers 0
    assert not f.loc["handle_s", "focus"] and "borrowed" in f.loc["handle_s", "reason"]
    assert f.loc["resolved", "effect"] == pytest.approx(wi.set_index("driver").loc["resolved", "effect"])
    assert f["focus"].sum() <= 3
    with pytest.raises(TypeError, match="bootstrap_importance"):
        dr.focus_list(f)


def _texts(ax):
    return [t.get_text() for t in ax.texts]


def _ticks(labels):
    return [t.get_text() for t in labels]


def test_plot_driver_importance_draws_shares_cis_and_rank_labels(small_study):
    from cxlab import plots

    imp = small_study[0].importance
    ax = plots.driver_importance(imp, conf=0.9, title="T")
    d = imp.sort_values("rank", ascending=False)  # most important at the top (largest y)
    # the frame given: one bar per driver of length 100 * share, whiskers from the CI ends, rank-interval labels
    assert _ticks(ax.get_yticklabels()) == list(d["driver"])
    assert len(ax.patches) == len(d)
    np.testing.assert_allclose([b.get_width() for b in ax.patches], 100 * d["share"], rtol=1e-12)
    (whiskers,) = ax.collections
    np.testing.assert_allclose([seg[:, 0] for seg in whiskers.get_segments()],
                               100 * d[["share_ci_low", "share_ci_high"]].to_numpy(), rtol=1e-12)
    assert _texts(ax) == [f"#{a}" if a == b else f"#{a}–{b}" for a, b in zip(d["rank_ci_low"], d["rank_ci_high"])]
    assert ax.get_title() == "T" and ax.get_xlabel().endswith("90% bootstrap interval")


def test_plot_driver_ranks_is_the_rank_distribution(small_study):
    from cxlab import plots

    bi = small_study[0]
    order = list(bi.importance["driver"])
    ax = plots.driver_ranks(bi.ranks, order=order)
    (image,) = ax.images
    # the frame given: row i = driver order[i], column k = P(rank = k + 1); cells >= 0.005 are labelled
    expected = bi.ranks.pivot(index="driver", columns="rank", values="probability").loc[order].to_numpy()
    np.testing.assert_array_equal(np.asarray(image.get_array()), expected)
    assert _ticks(ax.get_yticklabels()) == order
    assert _ticks(ax.get_xticklabels()) == [f"#{k}" for k in range(1, len(order) + 1)]
    assert _texts(ax) == [f"{v:.2f}" for v in expected.ravel() if v >= 0.005]


def test_plot_dominance_matrix_marks_the_verdicts(small_study):
    from cxlab import plots

    dom = small_study[3]
    names = list(dict.fromkeys(dom.pairwise["driver"]))
    ax = plots.dominance_matrix(dom.pairwise)
    pw = dom.pairwise.set_index(["driver", "other"])
    mark = {"dominates": "\u25b2", "dominated": "\u25bc", "undetermined": "\u00b7"}
    # the frame given: one cell per ordered pair (row, column), off the diagonal, row-major
    expected = [f"{mark[pw.loc[(a, b), 'complete']]} {pw.loc[(a, b), 'share_greater']:.0%}"
                for a in names for b in names if a != b]
    assert _texts(ax) == expected
    assert _ticks(ax.get_xticklabels()) == names and _ticks(ax.get_yticklabels()) == names
    assert ax.get_title() == "Complete dominance: row vs column"
    # resolved completely dominates every other driver in this study (test_focus_list_reasons' setup)
    assert expected[:3] == ["\u25b2 100%"] * 3


def test_plot_quadrant_chart_places_each_driver(small_study):
    from matplotlib.collections import PathCollection

    from cxlab import plots

    q = small_study[1]
    ax = plots.quadrant_chart(q)
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(points) == 1
    # the frame given: x = -gap_pct (every target is non-zero), y = 100 * share
    np.testing.assert_allclose(points[0].get_offsets(), np.column_stack([-q["gap_pct"], 100 * q["share"]]),
                               rtol=1e-12)
    labels = [f"{d} (P={p:.2f})" if p >= 0.05 else d for d, p in zip(q["driver"], q["p_concentrate"])]
    corners = ["concentrate here", "keep up the good work", "low priority", "possible overkill"]
    assert sorted(_texts(ax)) == sorted(labels + corners)
    # cross-hairs: the target (x = 0) and the equal share 100 / p
    assert [list(ln.get_xdata()) for ln in ax.lines[-2:]] == [[0, 0], [0, 1]]
    assert list(ax.lines[-1].get_ydata()) == [100 * q["equal_share"].iloc[0]] * 2 == [25.0, 25.0]
    assert "% of target" in ax.get_xlabel()


def test_plot_what_if_chart_shows_effects_and_total(small_study):
    from matplotlib.collections import PathCollection

    from cxlab import plots

    wi = small_study[2]
    ax = plots.what_if_chart(wi, unit="CSAT points")
    # the frame given, bottom-up: total first; one interval per row, the total drawn as its own marker
    d = wi.iloc[::-1].reset_index(drop=True)
    assert _ticks(ax.get_yticklabels()) == ["total", "wait_s -10", "resolved +0.05"]
    intervals = ax.collections[0]
    np.testing.assert_allclose([seg[:, 0] for seg in intervals.get_segments()],
                               d[["ci_low", "ci_high"]].to_numpy(), rtol=1e-12)
    levers, total = [c for c in ax.collections if isinstance(c, PathCollection)]
    np.testing.assert_allclose(levers.get_offsets(), [[d.loc[1, "effect"], 1], [d.loc[2, "effect"], 2]], rtol=1e-12)
    np.testing.assert_allclose(total.get_offsets(), [[d.loc[0, "effect"], 0]], rtol=1e-12)
    assert ax.get_xlabel() == "predicted change (CSAT points)"
