"""Tests of cxlab.correlate: every statistic against an independent reference.

Sources are written right above each assertion. Reference data with
provenance: tests/reference/correlate_ppcor.csv.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.signal import lfilter

from cxlab.correlate import (
    SignDisagreementWarning,
    TestLog,
    contact_correlations,
    contact_logit,
    explain_confounder,
    lagged_correlations,
    partial_correlations,
    period_correlations,
    sign_disagreements,
    within_agent,
)
from cxlab.correlate._common import rowwise_r
from cxlab.correlate.period import _hac_slope, _mbb_indices, _n_eff, _shift_candidates
from cxlab.correlate.testlog import adjust_pvalues

REF = Path(__file__).parent / "reference"


def _ar1(rng, phi, shape, burn=100):
    """AR(1) series x_t = phi x_{t-1} + e_t along the last axis (burn-in dropped)."""
    shape = (shape,) if np.isscalar(shape) else tuple(shape)
    e = rng.normal(size=shape[:-1] + (shape[-1] + burn,))
    return lfilter([1.0], [1.0, -phi], e, axis=-1)[..., burn:]


# ---------------------------------------------------------------------------
# Repeated-measures correlation
# ---------------------------------------------------------------------------

def test_rm_corr_bland_altman():
    pg = pytest.importorskip("pingouin")
    df = pg.read_dataset("rm_corr")  # Bland & Altman (1995) BMJ 310:446, 8 subjects, pH vs PaCO2
    res = within_agent(df, cx="PacO2", candidates=["pH"], subject="Subject").iloc[0]
    # R: rmcorr::rmcorr(participant = Subject, measure1 = pH, measure2 = PacO2, dataset = bland1995)
    #    -> r = -0.507, df = 38, p = 0.000847 (values as given in pingouin.rm_corr's docstring,
    #    which pingouin tests against R rmcorr; R not run here)
    assert res["r_rm"] == pytest.approx(-0.507, abs=5e-4)
    assert res["dof"] == 38
    assert res["p_val"] == pytest.approx(0.000847, rel=1e-3)
    assert res["n_subjects"] == 8


def test_rm_corr_equals_pingouin_ancova_route():
    pg = pytest.importorskip("pingouin")
    rng = np.random.default_rng(7)
    subj = np.repeat(np.arange(12), rng.integers(3, 9, 12))
    base = rng.normal(size=12)[subj]
    x = base + rng.normal(size=subj.size)
    y = -2 * base + 0.4 * x + rng.normal(size=subj.size)
    df = pd.DataFrame({"s": subj.astype(str), "x": x, "y": y})
    ours = within_agent(df, cx="y", candidates=["x"], subject="s").iloc[0]
    # pingouin.rm_corr (ANCOVA formulation, Bakdash & Marusich 2017)
    ref = pg.rm_corr(df, x="x", y="y", subject="s")
    assert ours["r_rm"] == pytest.approx(ref["r"].iloc[0], abs=1e-10)
    assert ours["dof"] == ref["dof"].iloc[0]
    p_ref = ref["pval"].iloc[0] if "pval" in ref else ref["p_val"].iloc[0]
    assert ours["p_val"] == pytest.approx(p_ref, rel=1e-8)
    # between-subject correlation is the correlation of the subject means (closed form)
    means = df.groupby("s")[["x", "y"]].mean()
    assert ours["r_between"] == pytest.approx(np.corrcoef(means["x"], means["y"])[0, 1], abs=1e-12)
    # pooled: scipy.stats.pearsonr
    assert ours["r_pooled"] == pytest.approx(stats.pearsonr(x, y)[0], abs=1e-12)


# ---------------------------------------------------------------------------
# Partial correlation
# ---------------------------------------------------------------------------

def _residual_partial(x, y, Z):
    """Closed form: correlate the residuals of x and y after OLS on [1, Z] (numpy lstsq)."""
    A = np.column_stack([np.ones(len(x)), Z])
    rx = x - A @ np.linalg.lstsq(A, x, rcond=None)[0]
    ry = y - A @ np.linalg.lstsq(A, y, rcond=None)[0]
    return np.corrcoef(rx, ry)[0, 1]


def test_partial_correlation_ppcor():
    df = pd.read_csv(REF / "correlate_ppcor.csv", comment="#")
    res = partial_correlations(df, cx="disp", candidates=["hl"], covariates=["deg", "BC"]).iloc[0]

    # R: ppcor::pcor.test(hl, disp, y.data[, c("deg", "BC")]) -> estimate -0.6720863, p.value 0.06789202
    #    (quoted from the package's published example output, R not run here; see the CSV header)
    assert res["r_partial"] == pytest.approx(-0.6720863, abs=1e-6)
    assert res["p_val"] == pytest.approx(0.06789202, abs=1e-6)
    # R: statistic -2.223267 = r sqrt((n - 2 - gp) / (1 - r^2)), n = 10, gp = 2
    t = res["r_partial"] * math.sqrt((10 - 2 - 2) / (1 - res["r_partial"] ** 2))
    assert t == pytest.approx(-2.223267, abs=1e-5)

    # closed form 1: residual method (regress x and y on [1, deg, BC] with numpy lstsq)
    x, y, Z = df["hl"].to_numpy(), df["disp"].to_numpy(), df[["deg", "BC"]].to_numpy()
    assert res["r_partial"] == pytest.approx(_residual_partial(x, y, Z), abs=1e-10)

    # closed form 2: recursive formula r_xy.z = (r_xy - r_xz r_yz) / sqrt((1 - r_xz^2)(1 - r_yz^2)),
    # first on deg, then the first-order partials on BC
    R = df[["hl", "disp", "deg", "BC"]].corr().to_numpy()

    def first(i, j, k):
        return (R[i, j] - R[i, k] * R[j, k]) / math.sqrt((1 - R[i, k] ** 2) * (1 - R[j, k] ** 2))

    r_xy_d, r_xb_d, r_yb_d = first(0, 1, 2), first(0, 3, 2), first(1, 3, 2)
    second = (r_xy_d - r_xb_d * r_yb_d) / math.sqrt((1 - r_xb_d**2) * (1 - r_yb_d**2))
    assert res["r_partial"] == pytest.approx(second, abs=1e-10)
    # closed form: p of a partial correlation = t test with n - k - 2 = 6 df
    assert res["p_val"] == pytest.approx(2 * stats.t.sf(abs(t), 6), rel=1e-10)
    # raw r on the same rows: numpy corrcoef
    assert res["r_raw"] == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-12)
    assert res["change"] == pytest.approx(res["r_partial"] - res["r_raw"])


def test_partial_correlation_categorical_covariate_is_dummy_coded():
    rng = np.random.default_rng(3)
    reason = rng.choice(["a", "b", "c", "d"], 600)
    level = pd.Series(reason).map({"a": 0.0, "b": 1.0, "c": 3.0, "d": 0.5}).to_numpy()
    df = pd.DataFrame({"reason": reason, "x": level + rng.normal(size=600),
                       "y": -level + 0.3 * rng.normal(size=600)})
    res = partial_correlations(df, cx="y", candidates=["x"], covariates=["reason"]).iloc[0]
    dummies = pd.get_dummies(df["reason"], drop_first=True, dtype=float).to_numpy()
    # closed form: residual method on reason dummies (first level dropped)
    assert res["r_partial"] == pytest.approx(_residual_partial(df["x"].to_numpy(), df["y"].to_numpy(), dummies),
                                             abs=1e-9)
    assert res["k"] == 3


# ---------------------------------------------------------------------------
# HAC standard errors and the effective sample size
# ---------------------------------------------------------------------------

def _newey_west_by_hand(x, y, L):
    """Hand-coded Newey-West (Bartlett kernel) SE of the slope of y on [1, x], explicit loops."""
    n = len(x)
    X = np.column_stack([np.ones(n), x])
    beta = np.linalg.solve(X.T @ X, X.T @ y)
    u = y - X @ beta
    S = np.zeros((2, 2))
    for t in range(n):
        S += u[t] ** 2 * np.outer(X[t], X[t])
    for lag in range(1, L + 1):
        w = 1 - lag / (L + 1)
        for t in range(lag, n):
            G = u[t] * u[t - lag] * np.outer(X[t], X[t - lag])
            S += w * (G + G.T)
    B = np.linalg.inv(X.T @ X)
    return math.sqrt((B @ S @ B)[1, 1])


@pytest.mark.parametrize("L", [0, 1, 4, 9])
def test_hac_standard_error_matches_statsmodels_and_hand_coded(L):
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(100 + L)
    x = _ar1(rng, 0.6, 150)
    y = 0.3 * x + _ar1(rng, 0.5, 150)
    slope, se = _hac_slope(x, y, L)
    # statsmodels: OLS(y, add_constant(x)).fit(cov_type="HAC", cov_kwds={"maxlags": L})
    fit = sm.OLS(y, sm.add_constant(x)).fit(cov_type="HAC", cov_kwds={"maxlags": L})
    assert slope == pytest.approx(fit.params[1], rel=1e-12)
    assert se == pytest.approx(fit.bse[1], rel=1e-10)
    # hand-coded Newey-West (Bartlett kernel weights 1 - l/(L+1)), no small-sample factor
    assert se == pytest.approx(_newey_west_by_hand(x, y, L), rel=1e-10)


def test_period_se_hac_is_statsmodels_on_standardized_series():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"kpi": _ar1(rng, 0.7, 200)})
    df["cx_value"] = 0.2 * df["kpi"] + _ar1(rng, 0.7, 200)
    res = period_correlations(df, cx="cx_value", candidates=["kpi"], methods=("pearson",), n_boot=0).iloc[0]
    z = (df - df.mean()) / df.std(ddof=0)
    fit = sm.OLS(z["cx_value"].to_numpy(), sm.add_constant(z["kpi"].to_numpy())).fit(
        cov_type="HAC", cov_kwds={"maxlags": 4})
    # closed form: floor(4 (200/100)^(2/9)) = 4 (Newey & West 1994 rule)
    assert res["hac_lags"] == 4 == math.floor(4 * (200 / 100) ** (2 / 9))
    # statsmodels HAC slope = r and its SE
    assert res["r"] == pytest.approx(fit.params[1], abs=1e-12)
    assert res["se_hac"] == pytest.approx(fit.bse[1], rel=1e-10)
    # scipy.stats.pearsonr p-value (naive)
    assert res["p_val"] == pytest.approx(stats.pearsonr(df["kpi"], df["cx_value"])[1], rel=1e-8)
    # p_ac is the larger of the two autocorrelation-aware p-values
    assert res["p_ac"] == max(res["p_hac"], res["p_neff"])


def test_effective_sample_size_ar1_closed_form():
    rng = np.random.default_rng(11)
    phi_x, phi_y = 0.6, 0.5
    # closed form for two AR(1) series (Bartlett 1935; Bretherton et al. 1999 eq. 31):
    # n_eff / n = (1 - phi_x phi_y) / (1 + phi_x phi_y)
    ratio = (1 - phi_x * phi_y) / (1 + phi_x * phi_y)
    assert _n_eff(1000, phi_x, phi_y) == pytest.approx(1000 * ratio, rel=1e-12)
    # estimated from long series: lag-1 autocorrelations ~ phi, n_eff / n ~ closed form
    n = 20000
    x, y = _ar1(rng, phi_x, n), _ar1(rng, phi_y, n)
    res = period_correlations(pd.DataFrame({"x": x, "y": y}), cx="y", candidates=["x"],
                              methods=("pearson",), n_boot=0).iloc[0]
    assert res["r1_x"] == pytest.approx(phi_x, abs=0.02)
    assert res["r1_y"] == pytest.approx(phi_y, abs=0.02)
    assert res["n_eff"] / n == pytest.approx(ratio, abs=0.02)
    # Monte Carlo meaning of n_eff: Var(r) of independent AR(1) pairs ~ 1 / n_eff (n = 200, 4000 pairs)
    xs, ys = _ar1(rng, phi_x, (4000, 200)), _ar1(rng, phi_y, (4000, 200))
    r = rowwise_r(xs, ys)
    assert r.var() == pytest.approx(1 / (200 * ratio), rel=0.08)
    # bounded to [3, n]
    assert _n_eff(10, 0.99, 0.99) == 3.0
    assert _n_eff(100, -0.5, 0.5) == 100.0


# ---------------------------------------------------------------------------
# Period grain: bootstrap, robust method, lags, the multiple-testing null check
# ---------------------------------------------------------------------------

def test_moving_block_bootstrap_indices_are_contiguous_blocks():
    idx = _mbb_indices(50, 20, 7, np.random.default_rng(0))
    assert idx.shape == (20, 50)
    assert idx.min() >= 0 and idx.max() <= 49
    # closed form: within each block of 7 the indices step by exactly 1
    steps = np.diff(idx.reshape(20, -1)[:, :49].reshape(20, 7, 7), axis=2)
    assert (steps == 1).all()


def test_period_bootstrap_ci_is_seeded_and_brackets_r():
    rng = np.random.default_rng(21)
    df = pd.DataFrame({"a": _ar1(rng, 0.5, 150)})
    df["cx_value"] = 0.5 * df["a"] + rng.normal(size=150)
    kw = {"cx": "cx_value", "candidates": ["a"], "methods": ("pearson", "spearman"), "n_boot": 300}
    r1, r2 = period_correlations(df, seed=3, **kw), period_correlations(df, seed=3, **kw)
    pd.testing.assert_frame_equal(r1, r2)
    assert (r1["ci_low"] < r1["r"]).all() and (r1["r"] < r1["ci_high"]).all()
    # scipy.stats.spearmanr
    assert r1.loc[1, "r"] == pytest.approx(stats.spearmanr(df["a"], df["cx_value"])[0], abs=1e-12)
    none = period_correlations(df, seed=3, **{**kw, "n_boot": 0})
    assert none[["ci_low", "ci_high"]].isna().all().all()


def test_skipped_correlation_matches_pingouin():
    pg = pytest.importorskip("pingouin")
    rng = np.random.default_rng(8)
    x = rng.normal(size=80)
    y = 0.5 * x + rng.normal(size=80)
    x[:3] = [6, 7, -6]  # gross outliers
    df = pd.DataFrame({"x": x, "y": y})
    res = period_correlations(df, cx="y", candidates=["x"], methods=("skipped",), n_boot=100).iloc[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ref = pg.corr(x, y, method="skipped")
    # pingouin.corr(method="skipped"): Spearman after MCD/projection outlier removal
    assert res["r"] == pytest.approx(ref["r"].iloc[0], abs=1e-12)
    assert res["n_outliers"] == ref["outliers"].iloc[0]
    assert res["n"] == 80 - ref["outliers"].iloc[0]


def test_lagged_correlations_find_the_lag_and_do_not_leak_across_segments():
    rng = np.random.default_rng(4)
    days = pd.date_range("2025-01-01", periods=120)
    frames = []
    for q, off in (("billing", 0.0), ("tech", 100.0)):
        sl = _ar1(rng, 0.3, 120) + off
        cx = np.r_[np.zeros(3), 0.8 * (sl[:-3] - off)] + rng.normal(0, 0.5, 120)
        frames.append(pd.DataFrame({"period": days, "queue": q, "service_level_pct": sl, "cx_value": cx}))
    df = pd.concat(frames, ignore_index=True)
    res = lagged_correlations(df, cx="cx_value", candidates=["service_level_pct"], max_lag=5,
                              by="queue", time="period", n_boot=0)
    assert len(res) == 2 * 6
    best = res.loc[res.groupby("queue")["r"].idxmax(), ["queue", "lag"]]
    assert best["lag"].tolist() == [3, 3]
    # no leak: at lag k each segment loses exactly its first k periods (n = 120 - k)
    assert (res["n"] == 120 - res["lag"]).all()
    # closed form: the lag-2 r equals the Pearson r of the within-segment shifted series
    seg = df[df["queue"] == "tech"]
    ref = np.corrcoef(seg["service_level_pct"].to_numpy()[:-2], seg["cx_value"].to_numpy()[2:])[0, 1]
    got = res.query("queue == 'tech' and lag == 2")["r"].iloc[0]
    assert got == pytest.approx(ref, abs=1e-12)


def test_lagged_shift_is_calendar_aware_with_gaps():
    days = pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-04", "2025-01-05", "2025-01-06"])
    df = pd.DataFrame({"period": days, "k": [1.0, 2.0, 4.0, 5.0, 6.0], "cx_value": [0.0] * 5})
    shifted = _shift_candidates(df, ["k"], 1, "period")
    # the day before 2025-01-04 (2025-01-03) is missing: NaN, not the previous row's 2.0
    assert shifted["k"].tolist()[:3] == [pytest.approx(np.nan, nan_ok=True), 1.0, pytest.approx(np.nan, nan_ok=True)]
    assert shifted["k"].tolist()[3:] == [4.0, 5.0]


def test_time_column_repeating_without_by_is_an_error():
    df = pd.DataFrame({"period": [1, 1, 2, 2], "queue": ["a", "b", "a", "b"], "k": [1.0, 2, 3, 4],
                       "cx_value": [1.0, 2, 3, 5]})
    with pytest.raises(ValueError, match="time column 'period' repeats.*pass by="):
        period_correlations(df, cx="cx_value", candidates=["k"], time="period", n_boot=0)


def _null_frame(seed, *, n=120, k=10, phi=0.7, cx="shuffled"):
    rng = np.random.default_rng(seed)
    ar = _ar1(rng, phi, (k + 1, n))
    df = pd.DataFrame(ar[:k].T, columns=[f"kpi_{i}" for i in range(k)])
    df["cx_value"] = rng.permutation(ar[k]) if cx == "shuffled" else ar[k]
    return df


@pytest.mark.parametrize("cx_kind", ["shuffled", "autocorrelated"])
def test_null_fdr_discoveries_in_at_most_5_percent_of_seeds(cx_kind):
    """Nothing is related, so every FDR discovery is false.

    Logic: under the global null, FDR = P(at least one discovery), and
    Benjamini-Hochberg at alpha = 0.05 keeps it <= 0.05 when the p-values are
    valid. Over 200 seeds the count of seeds with >= 1 discovery is then at
    most Binomial(200, 0.05); we allow its 99th percentile (Monte Carlo
    slack), i.e. a rate of about 0.085. The frame: 120 days x 10 AR(1)
    candidates (phi = 0.7); CX is either shuffled (iid) or an independent
    AR(1) (phi = 0.7, the harder case). Pearson and Spearman rows, no
    bootstrap (n_boot=0) to keep the 200 runs fast. As a contrast, BH on
    the naive p-values is recorded and, with autocorrelated CX, fails.
    """
    n_seeds, alpha = 200, 0.05
    hits = naive_hits = 0
    for seed in range(n_seeds):
        df = _null_frame(seed, cx="shuffled" if cx_kind == "shuffled" else "ar")
        res = period_correlations(df, cx="cx_value", candidates=[f"kpi_{i}" for i in range(10)],
                                  methods=("pearson", "spearman"), n_boot=0)
        hits += bool((res["p_adj"] < alpha).any())
        naive_hits += bool((adjust_pvalues(res["p_val"]) < alpha).any())
    limit = stats.binom.ppf(0.99, n_seeds, alpha) / n_seeds
    assert hits / n_seeds <= limit, (hits, naive_hits)
    if cx_kind == "autocorrelated":
        # the naive approach this module exists to replace: far above 5%
        assert naive_hits / n_seeds > 0.3


# ---------------------------------------------------------------------------
# The run-wide log
# ---------------------------------------------------------------------------

def test_testlog_spans_calls_and_adjusts_like_statsmodels():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(2)
    per = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    per["cx_value"] = per["a"] + rng.normal(size=60)
    con = pd.DataFrame({"w": rng.normal(size=300), "r": rng.random(300) < 0.5})
    con["csat"] = con["r"] * 1.0 + rng.normal(size=300)
    log = TestLog()
    period_correlations(per, cx="cx_value", candidates=["a", "b"], methods=("pearson", "spearman"),
                        n_boot=0, log=log)
    contact_correlations(con, cx="csat", candidates=["w", "r"], log=log)
    assert len(log) == 4 + 2
    frame = log.to_frame()
    assert list(frame.columns) == ["family", "x", "y", "method", "grain", "statistic", "p_val", "n"]
    assert frame["family"].tolist() == ["period"] * 4 + ["contact"] * 2
    adj = log.adjust()
    # statsmodels multipletests(method="fdr_bh") over every test of the run
    assert np.allclose(adj["p_adj"], multipletests(frame["p_val"], method="fdr_bh")[1])
    fam = log.adjust("holm", by="family")
    for _name, sub in frame.groupby("family"):
        assert np.allclose(fam.loc[sub.index, "p_adj"], multipletests(sub["p_val"], method="holm")[1])
    with pytest.raises(ValueError, match=r"method must be one of \[.*'fdr_bh'.*\]; got 'bh'"):
        log.adjust("bh")
    with pytest.raises(TypeError, match="log must be a cxlab.correlate.TestLog"):
        contact_correlations(con, cx="csat", candidates=["w"], log=[])


# ---------------------------------------------------------------------------
# Contact grain
# ---------------------------------------------------------------------------

def test_contact_correlations_against_scipy():
    rng = np.random.default_rng(9)
    df = pd.DataFrame({"wait_s": rng.exponential(60, 500), "resolved": rng.random(500) < 0.6})
    df["csat"] = np.clip(np.round(3 + df["resolved"] - df["wait_s"] / 100 + rng.normal(0, 1, 500)), 1, 5)
    res = contact_correlations(df, cx="csat", candidates=["wait_s", "resolved"], method="auto").set_index("x")
    # scipy.stats.spearmanr / pointbiserialr
    assert res.loc["wait_s", "r"] == pytest.approx(stats.spearmanr(df["wait_s"], df["csat"])[0], abs=1e-12)
    pb = stats.pointbiserialr(df["resolved"], df["csat"])
    assert res.loc["resolved", "r"] == pytest.approx(pb[0], abs=1e-12)
    assert res.loc["resolved", "p_val"] == pytest.approx(pb[1], rel=1e-8)
    # closed form: Fisher z CI, SE 1 / sqrt(n - 3)
    r = pb[0]
    lo = math.tanh(math.atanh(r) - stats.norm.ppf(0.975) / math.sqrt(497))
    assert res.loc["resolved", "ci_low"] == pytest.approx(lo, abs=1e-12)
    # Bonett & Wright (2000) Spearman SE sqrt((1 + r^2/2) / (n - 3))
    rs = res.loc["wait_s", "r"]
    hi = math.tanh(math.atanh(rs) + stats.norm.ppf(0.975) * math.sqrt((1 + rs**2 / 2) / 497))
    assert res.loc["wait_s", "ci_high"] == pytest.approx(hi, abs=1e-12)
    assert res.loc["resolved", "rank"] == 1
    # scipy.stats.kendalltau
    kt = contact_correlations(df, cx="csat", candidates=["wait_s"], method="kendall").iloc[0]
    assert kt["r"] == pytest.approx(stats.kendalltau(df["wait_s"], df["csat"])[0], abs=1e-12)
    with pytest.raises(ValueError, match="method='pointbiserial' needs a binary candidate; 'wait_s'"):
        contact_correlations(df, cx="csat", candidates=["wait_s"], method="pointbiserial")
    with pytest.raises(ValueError, match=r"method must be one of .*; got 'spearmen' \(did you mean 'spearman'\?\)"):
        contact_correlations(df, cx="csat", candidates=["wait_s"], method="spearmen")
    # the shared check (cxlab._utils.require_columns) names the frame, the column and a suggestion
    with pytest.raises(ValueError, match=r"contact frame column\(s\) \['wiat_s'\] not in the frame "
                       r"\(did you mean 'wait_s'\?\)"):
        contact_correlations(df, cx="csat", candidates=["wiat_s"])


def test_contact_logit_matches_statsmodels_and_clusters():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(12)
    n = 3000
    df = pd.DataFrame({"resolved": rng.random(n) < 0.7, "wait_s": rng.exponential(60, n),
                       "reason": rng.choice(["a", "b", "c"], n), "agent_id": rng.integers(0, 50, n).astype(str)})
    eta = -0.3 + 1.3 * df["resolved"] - 0.01 * df["wait_s"] + df["reason"].map({"a": 0, "b": -0.5, "c": 0.4})
    df["cx_top2"] = rng.random(n) < 1 / (1 + np.exp(-eta))
    res = contact_logit(df, predictors=["resolved", "wait_s"], controls=["reason"], cluster="agent_id")
    X = pd.concat([df[["resolved", "wait_s"]].astype(float),
                   pd.get_dummies(df["reason"], drop_first=True, dtype=float)], axis=1)
    groups = pd.factorize(df["agent_id"], sort=True)[0]
    # statsmodels: Logit(y, add_constant(X)).fit(cov_type="cluster", cov_kwds={"groups": agent})
    fit = sm.Logit(df["cx_top2"].astype(float), sm.add_constant(X)).fit(
        disp=0, cov_type="cluster", cov_kwds={"groups": groups})
    got = res.set_index("term")
    assert got.loc["resolved", "coef"] == pytest.approx(fit.params["resolved"], rel=1e-8)
    assert got.loc["resolved", "se"] == pytest.approx(fit.bse["resolved"], rel=1e-8)
    assert got.loc["wait_s", "odds_ratio"] == pytest.approx(math.exp(fit.params["wait_s"]), rel=1e-8)
    ci = np.exp(fit.conf_int().loc["resolved"])
    assert got.loc["resolved", "or_low"] == pytest.approx(ci[0], rel=1e-8)
    assert got.loc["resolved", "or_high"] == pytest.approx(ci[1], rel=1e-8)
    assert got.loc["reason[b]", "role"] == "control"
    assert res["n_clusters"].iloc[0] == 50
    # the true odds ratio exp(1.3) lies in the CI
    assert got.loc["resolved", "or_low"] < math.exp(1.3) < got.loc["resolved", "or_high"]
    with pytest.raises(ValueError, match="model='logit' needs a binary outcome; 'wait_s'"):
        contact_logit(df, outcome="wait_s", predictors=["resolved"])


def test_contact_ordinal_model_matches_orderedmodel():
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    rng = np.random.default_rng(13)
    n = 800
    df = pd.DataFrame({"resolved": (rng.random(n) < 0.6).astype(float)})
    latent = 1.0 * df["resolved"] + rng.logistic(size=n)
    df["csat"] = np.digitize(latent, [-1.0, 0.0, 1.0, 2.0]) + 1
    res = contact_logit(df, outcome="csat", predictors=["resolved"], model="ordinal").iloc[0]
    # statsmodels OrderedModel(distr="logit"), proportional odds
    fit = OrderedModel(pd.Series(pd.Categorical(df["csat"], ordered=True)), df[["resolved"]],
                       distr="logit").fit(method="bfgs", disp=False)
    assert res["coef"] == pytest.approx(fit.params["resolved"], rel=1e-4)
    assert res["se"] == pytest.approx(fit.bse["resolved"], rel=1e-4)
    assert res["p_val"] == pytest.approx(fit.pvalues["resolved"], rel=1e-3)
    # odds of a higher score: exp(coef) and exp(conf_int) of the same OrderedModel fit
    assert res["odds_ratio"] == pytest.approx(math.exp(fit.params["resolved"]), rel=1e-4)
    ci = np.exp(fit.conf_int().loc["resolved"])
    assert (res["or_low"], res["or_high"]) == (pytest.approx(ci[0], rel=1e-4), pytest.approx(ci[1], rel=1e-4))


# ---------------------------------------------------------------------------
# Across grains: Simpson's paradox
# ---------------------------------------------------------------------------

def _simpson_frames(seed=0, days=60, per_day=80):
    """Days differ in a day-level condition u (calm vs busy) that raises both the day's mean
    handle time and satisfaction; within a day, longer contacts score lower."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=days)
    day = np.repeat(np.arange(days), per_day)
    handle = 300 + 40 * u[day] + rng.normal(0, 80, day.size)
    within = handle - (300 + 40 * u[day])
    csat = 3.5 + 0.4 * u[day] - 0.01 * within + rng.normal(0, 0.5, day.size)
    contacts = pd.DataFrame({"day": day, "handle_s": handle, "csat": csat})
    period = contacts.groupby("day", as_index=False).agg(aht_s=("handle_s", "mean"), cx_value=("csat", "mean"))
    return period, contacts


def test_sign_disagreement_on_simpsons_paradox():
    period, contacts = _simpson_frames()
    per = period_correlations(period, cx="cx_value", candidates=["aht_s"], methods=("pearson",), n_boot=0)
    con = contact_correlations(contacts, cx="csat", candidates=["handle_s"], method="pearson")
    assert per["r"].iloc[0] > 0.5 and con["r"].iloc[0] < -0.1  # the constructed paradox
    # the values themselves: scipy.stats.pearsonr across days and across contacts
    assert per["r"].iloc[0] == pytest.approx(stats.pearsonr(period["aht_s"], period["cx_value"])[0], abs=1e-12)
    assert con["r"].iloc[0] == pytest.approx(stats.pearsonr(contacts["handle_s"], contacts["csat"])[0], abs=1e-12)
    with pytest.warns(SignDisagreementWarning, match=r"ecological fallacy / Simpson's paradox: aht_s vs "
                      r"cx_value is positive across days .* but handle_s vs csat is negative across contacts"):
        res = sign_disagreements(per, con)
    assert len(res) == 1
    row = res.iloc[0]
    assert (row["period_x"], row["contact_x"]) == ("aht_s", "handle_s")  # via GRAIN_PAIRS
    assert bool(row["significant"])
    assert row["strength"] == pytest.approx(min(abs(per["r"].iloc[0]), abs(con["r"].iloc[0])))
    # within-day (rm_corr by day) recovers the contact-level sign; the between-day r the period one
    wa = within_agent(contacts, cx="csat", candidates=["handle_s"], subject="day").iloc[0]
    assert wa["r_rm"] < 0 < wa["r_between"]
    # pingouin.rm_corr (Bakdash & Marusich 2017) for r_rm; scipy pearsonr of the day means for r_between
    pg = pytest.importorskip("pingouin")
    ref = pg.rm_corr(data=contacts, x="handle_s", y="csat", subject="day")
    assert wa["r_rm"] == pytest.approx(float(ref["r"].iloc[0]), abs=1e-10)
    means = contacts.groupby("day")[["handle_s", "csat"]].mean()
    assert wa["r_between"] == pytest.approx(stats.pearsonr(means["handle_s"], means["csat"])[0], abs=1e-10)


def test_no_sign_disagreement_when_signs_agree():
    period, contacts = _simpson_frames()
    contacts = contacts.assign(csat=contacts["handle_s"] * 0.01 + contacts["csat"])
    per = period_correlations(period, cx="cx_value", candidates=["aht_s"], methods=("pearson",), n_boot=0)
    con = contact_correlations(contacts, cx="csat", candidates=["handle_s"], method="pearson")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SignDisagreementWarning)
        res = sign_disagreements(per, con)
    # an empty frame with the columns documented in sign_disagreements' Returns section
    assert res.empty
    assert list(res.columns) == ["period_x", "contact_x", "y_period", "y_contact", "r_period", "p_period",
                                 "r_contact", "p_contact", "significant", "strength", "message"]


# ---------------------------------------------------------------------------
# Ground truth of the sample center
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample_contacts(sample):
    """Contact-grain frame built here: each survey joined to its own interaction."""
    inter = sample["interactions"].sort_values(["arrived_at", "interaction_id"])
    prev = inter.groupby("customer_id")["arrived_at"].shift(1)
    inter = inter.assign(is_repeat=((inter["arrived_at"] - prev) <= pd.Timedelta(days=7)).astype(float))
    df = sample["surveys"][["interaction_id", "csat"]].dropna().merge(inter, on="interaction_id", how="inner")
    df = df[~df["abandoned"]].copy()
    df["handle_s"] = df["talk_s"] + df["hold_s"] + df["acw_s"]
    return df


def test_sample_handle_time_is_confounded_by_contact_reason(sample_contacts, sample_truth):
    assert sample_truth["latent_model"]["handle_time"] == 0.0  # no direct effect, by construction
    df = sample_contacts
    by_reason = explain_confounder(df, cx="csat", x="handle_s", confounder="contact_reason").iloc[0]
    # raw: clearly negative
    assert by_reason["r_raw"] < -0.1 and by_reason["raw_ci_high"] < 0
    assert by_reason["r_raw"] == pytest.approx(stats.pearsonr(df["handle_s"], df["csat"])[0], abs=1e-10)  # scipy
    # controlling for contact reason removes most of it (reason carries the complexity)
    assert by_reason["share_explained"] > 0.5
    # partial r by hand: Pearson r of the residuals of handle_s and csat on contact-reason indicators
    # (= each value minus its reason's mean); share_explained = 1 - r_partial / r_raw (docstring)
    res_x = df["handle_s"] - df.groupby("contact_reason")["handle_s"].transform("mean")
    res_y = df["csat"] - df.groupby("contact_reason")["csat"].transform("mean")
    r_partial = stats.pearsonr(res_x, res_y)[0]
    assert by_reason["r_partial"] == pytest.approx(r_partial, abs=1e-8)
    assert by_reason["share_explained"] == pytest.approx(1 - r_partial / by_reason["r_raw"], abs=1e-8)
    # Controlling for reason alone leaves a small negative r: handle time contains hold time, and
    # hold, transfers, resolution and repeats have direct effects in the sample's structural model
    # (ground_truth()["confounder"]["note"]). Controlling for those other direct causes as well,
    # the partial r is within noise of zero: |r| < 2 SE (SE = 1/sqrt(n - k - 3)) and the CI covers 0.
    direct = ["contact_reason", "resolved", "transferred", "hold_s", "is_repeat", "wait_s"]
    full = partial_correlations(df, cx="csat", candidates=["handle_s"], covariates=direct,
                                grain="contact").iloc[0]
    se = 1 / math.sqrt(full["n"] - full["k"] - 3)
    assert abs(full["r_partial"]) < 2 * se
    assert full["ci_low"] <= 0 <= full["ci_high"]


def test_sample_resolution_ranks_first_at_contact_grain(sample_contacts, sample_truth):
    cands = ["wait_s", "handle_s", "hold_s", "transferred", "resolved", "is_repeat"]
    res = contact_correlations(sample_contacts, cx="csat", candidates=cands)
    assert sample_truth["driver_truth"]["ordering"][0] == "resolved"
    assert res.iloc[0]["x"] == "resolved" and res.iloc[0]["rank"] == 1
    # scipy.stats.spearmanr of resolved (0/1) with csat on the same contacts (default method)
    ref = stats.spearmanr(sample_contacts["resolved"].astype(float), sample_contacts["csat"])
    assert res.iloc[0]["r"] == pytest.approx(ref[0], abs=1e-12) and res.iloc[0]["r"] > 0
    assert res.iloc[0]["p_val"] == pytest.approx(ref[1], rel=1e-8)


# ---------------------------------------------------------------------------
# Option and input errors
# ---------------------------------------------------------------------------

def test_bad_options_are_named():
    df = pd.DataFrame({"k": np.arange(10.0), "cx_value": np.arange(10.0) ** 2, "s": list("ab") * 5})
    with pytest.raises(ValueError, match=r"method must be one of \['pearson', 'spearman', 'skipped'\]; got 'kendal'"):
        period_correlations(df, cx="cx_value", candidates=["k"], methods=("kendal",))
    with pytest.raises(ValueError, match="conf must be between 0 and 1; got 95"):
        period_correlations(df, cx="cx_value", candidates=["k"], conf=95)
    with pytest.raises(ValueError, match="n_boot must be a non-negative integer; got -1"):
        period_correlations(df, cx="cx_value", candidates=["k"], n_boot=-1)
    with pytest.raises(ValueError, match="max_lag must be a non-negative integer; got 1.5"):
        lagged_correlations(df, cx="cx_value", candidates=["k"], max_lag=1.5)
    with pytest.raises(ValueError, match="column 's' must be numeric or bool; got dtype"):
        period_correlations(df, cx="cx_value", candidates=["s"])
    with pytest.raises(ValueError, match="covariates must name at least one column"):
        partial_correlations(df, cx="cx_value", candidates=["k"], covariates=[])
    with pytest.raises(TypeError, match="frame must be a pandas DataFrame; got dict"):
        period_correlations({"k": [1]}, cx="cx_value", candidates=["k"])


# ---------------------------------------------------------------------------
# Plots (cxlab.plots.correlate): what is drawn, on hand-built result frames
# ---------------------------------------------------------------------------

def _offsets(collection):
    return [tuple(p) for p in np.asarray(collection.get_offsets()).tolist()]


def test_plot_correlation_heatmap_cells_stars_and_labels():
    import matplotlib.pyplot as plt

    from cxlab.plots import correlation_heatmap

    res = pd.DataFrame({"x": ["asa_s", "asa_s", "aht_s", "aht_s"],
                        "method": ["pearson", "spearman", "pearson", "spearman"],
                        "r": [-0.5, -0.45, 0.1, 0.12], "p_adj": [0.001, 0.01, 0.4, 0.3]})
    ax = correlation_heatmap(res, labels={"asa_s": "ASA"})
    # one QuadMesh of 2 x 2 cells; rows in first-appearance order, labels mapped
    assert len(ax.collections) == 1 and ax.collections[0].get_array().size == 4
    assert [t.get_text() for t in ax.get_yticklabels()] == ["ASA", "average handle time"]  # fmt.LABELS
    assert [t.get_text() for t in ax.get_xticklabels()] == ["pearson", "spearman"]
    # each cell is annotated with r (2 decimals) and "*" where p_adj < 0.05
    assert [t.get_text() for t in ax.texts] == ["-0.50*", "-0.45*", "0.10", "0.12"]
    assert ax.get_xlabel() == "method" and ax.get_ylabel() == ""
    assert ax.get_title() == "r by x and method (* adjusted p < 0.05)"
    assert ax.figure.axes[1].get_ylabel() == "r"  # the colorbar
    plt.close(ax.figure)


def test_plot_ranked_correlations_order_markers_and_ci():
    import matplotlib.pyplot as plt

    from cxlab.plots import ranked_correlations

    res = pd.DataFrame({"x": ["a", "b", "c"], "r": [0.1, -0.6, 0.3], "ci_low": [-0.1, -0.7, 0.1],
                        "ci_high": [0.3, -0.5, 0.5], "p_adj": [0.5, 0.001, 0.01]})
    ax = ranked_correlations(res, labels={"b": "B"})
    # sorted by |r| ascending (bottom to top): a (0.1), c (0.3), b (-0.6)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "c", "B"]
    ci, filled, hollow = ax.collections  # CI LineCollection, then significant and other markers
    assert len(ci.get_segments()) == 3
    assert [tuple(s[:, 0]) for s in ci.get_segments()] == [(-0.1, 0.3), (0.1, 0.5), (-0.7, -0.5)]
    assert _offsets(filled) == [(0.3, 1.0), (-0.6, 2.0)]
    assert _offsets(hollow) == [(0.1, 0.0)]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["adjusted p < 0.05", "not significant"]
    assert ax.get_xlim() == (-1.0, 1.0) and ax.get_xlabel() == "correlation (r)"  # fmt.LABELS["r"]
    assert ax.get_title() == "Correlation with CX (CI; filled = significant after FDR)"
    plt.close(ax.figure)


def test_plot_lag_profile_one_line_per_candidate():
    import matplotlib.pyplot as plt

    from cxlab.plots import lag_profile

    lagged = pd.DataFrame({"x": ["sl"] * 3 + ["asa"] * 3, "lag": [0, 1, 2] * 2,
                           "r": [0.1, 0.5, 0.2, -0.3, -0.1, 0.0], "ci_low": [0.0, 0.4, 0.1, -0.4, -0.2, -0.1],
                           "ci_high": [0.2, 0.6, 0.3, -0.2, 0.0, 0.1], "p_adj": [0.3, 0.001, 0.2, 0.01, 0.4, 0.9]})
    ax = lag_profile(lagged, labels={"sl": "service level"})
    # two r-against-lag lines and the zero line
    assert len(ax.lines) == 3
    assert ax.lines[0].get_xdata().tolist() == [0, 1, 2]
    assert ax.lines[0].get_ydata().tolist() == [0.1, 0.5, 0.2]
    assert ax.lines[1].get_ydata().tolist() == [-0.3, -0.1, 0.0]
    # per candidate: CI band, significant markers, other markers
    assert len(ax.collections) == 6
    assert _offsets(ax.collections[1]) == [(1.0, 0.5)] and _offsets(ax.collections[4]) == [(0.0, -0.3)]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["service level", "average speed of answer"]  # given label, fmt.LABELS["asa"]
    assert ax.get_xticks().tolist() == [0, 1, 2] and ax.get_ylabel() == "r"
    assert ax.get_xlabel() == "lag k (periods): candidate at t − k vs CX at t"
    assert ax.get_title() == "Lagged correlations (filled = significant after FDR)"
    plt.close(ax.figure)


def test_plot_pair_scatter_panels():
    import matplotlib.pyplot as plt

    from cxlab.plots import pair_scatter

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(30, 5)), columns=["csat", "a", "b", "c", "d"])
    fig = pair_scatter(frame, y="csat", xs=["a", "b", "c", "d"], labels={"csat": "CSAT"},
                       annotations={"b": "r = 0.20"})
    # 4 panels on a 2 x 3 grid; the 2 spare panels are hidden
    assert len(fig.axes) == 6 and [ax.get_visible() for ax in fig.axes] == [True] * 4 + [False] * 2
    shown = fig.axes[:4]
    assert [ax.get_xlabel() for ax in shown] == ["a", "b", "c", "effect size (d)"]  # fmt.LABELS["d"]
    assert {ax.get_ylabel() for ax in shown} == {"CSAT"}
    assert [len(ax.collections[0].get_offsets()) for ax in shown] == [30] * 4
    assert _offsets(shown[0].collections[0])[0] == (frame.loc[0, "a"], frame.loc[0, "csat"])
    assert [ax.get_title() for ax in shown] == ["", "r = 0.20", "", ""]
    assert fig._suptitle.get_text() == "CSAT against the strongest candidates"
    plt.close(fig)


def test_plot_partial_vs_raw_dumbbells():
    import matplotlib.pyplot as plt

    from cxlab.plots import partial_vs_raw

    part = pd.DataFrame({"x": ["handle_s", "wait_s"], "covariates": ["reason", "reason"],
                         "r_raw": [-0.42, -0.2], "r_partial": [-0.02, -0.18],
                         "ci_low": [-0.05, -0.21], "ci_high": [0.02, -0.15]})
    ax = partial_vs_raw(part)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["wait time", "handle time"]  # by |r_raw|; fmt labels
    raw_to_partial, ci, raw, partial = ax.collections
    assert [tuple(s[:, 0]) for s in raw_to_partial.get_segments()] == [(-0.2, -0.18), (-0.42, -0.02)]
    assert [tuple(s[:, 0]) for s in ci.get_segments()] == [(-0.21, -0.15), (-0.05, 0.02)]
    assert _offsets(raw) == [(-0.2, 0.0), (-0.42, 1.0)] and _offsets(partial) == [(-0.18, 0.0), (-0.02, 1.0)]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["raw r", "partial r (CI)"]
    assert ax.get_title() == "Raw vs partial correlation (controlling for reason)"
    plt.close(ax.figure)


def test_plot_odds_ratio_chart_predictors_log_axis():
    import matplotlib.pyplot as plt

    from cxlab.plots import odds_ratio_chart

    logit = pd.DataFrame({"term": ["resolved", "wait_s", "reason[b]"], "role": ["predictor", "predictor", "control"],
                          "odds_ratio": [2.9, 0.8, 1.2], "or_low": [2.5, 0.7, 0.9], "or_high": [3.5, 0.9, 1.6],
                          "p_val": [1e-9, 0.2, 0.3], "per": [1.0, 60.0, 1.0], "y": ["cx_top2"] * 3})
    ax = odds_ratio_chart(logit, labels={"wait_s": "wait"})
    # predictors only, first term on top; "per" shown when the OR is not per 1 unit
    assert [t.get_text() for t in ax.get_yticklabels()] == ["wait (per 60)", "first-contact resolution"]
    ci, filled, hollow = ax.collections
    assert [tuple(s[:, 0]) for s in ci.get_segments()] == [(0.7, 0.9), (2.5, 3.5)]
    assert _offsets(filled) == [(2.9, 1.0)] and _offsets(hollow) == [(0.8, 0.0)]
    # log axis; ticks from (0.1, 0.25, 0.5, 1, 2, 4, 10, 20) within [0.7 / 1.5, 3.5 * 1.5]
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.5", "1", "2", "4"]
    assert ax.get_xlabel() == "odds ratio (log scale)" and ax.get_title() == "Odds ratios for cx_top2"
    plt.close(ax.figure)
    ax = odds_ratio_chart(logit, role=None)
    assert len(ax.get_yticklabels()) == 3
    plt.close(ax.figure)


def test_plot_within_between_bars():
    import matplotlib.pyplot as plt

    from cxlab.plots import within_between_chart

    within = pd.DataFrame({"x": ["handle_s", "wait_s"], "subject": ["agent_id"] * 2,
                           "r_pooled": [-0.3, -0.2], "r_between": [-0.6, 0.1], "r_rm": [-0.05, -0.25]})
    ax = within_between_chart(within)
    # three bars per candidate: pooled, between, within (in that order of drawing)
    assert len(ax.patches) == 6
    assert [p.get_width() for p in ax.patches] == [-0.3, -0.2, -0.6, 0.1, -0.05, -0.25]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["handle time", "wait time"]
    assert ax.yaxis_inverted()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "pooled (all contacts)", "between (agent_id means)", "within agent_id (rm_corr)"]
    assert ax.get_title() == "Pooled, between- and within-agent_id correlation"
    plt.close(ax.figure)
