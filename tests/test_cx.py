"""Tests of cxlab.metric (step 1: the CX metric) and cxlab.plots.metric.

Every expected value names its source right above the assertion.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cxlab import metric as cx
from cxlab.errors import DataError
from cxlab.metric.loyalty import _auc_from_codes, customer_anchor


def _nps_frame(counts: dict[int, int]) -> pd.DataFrame:
    return pd.DataFrame({"nps": np.repeat(list(counts), list(counts.values())).astype(float)})


# ---------------------------------------------------------------------------
# scoring
# ---------------------------------------------------------------------------


def test_score_responses_categories_and_values():
    s = pd.DataFrame({"csat": [1, 3, 4, 5, None], "nps": [0, 6, 7, 9, 10], "ces": [1, 4, 5, 7, 3]})
    csat = cx.score_responses(s, metric="csat")
    # definition (KPI_DEFINITIONS.md): top-2-box = 4 or 5
    assert csat["value"].tolist()[:4] == [0.0, 0.0, 1.0, 1.0]
    assert np.isnan(csat["value"].iloc[4])  # skipped question kept as NaN, not dropped
    assert len(csat) == 5
    nps = cx.score_responses(s, metric="nps")
    # definition: promoter 9-10, passive 7-8, detractor 0-6
    assert nps["category"].astype(str).tolist() == ["detractor", "detractor", "passive", "promoter", "promoter"]
    assert nps["value"].tolist() == [-1.0, -1.0, 0.0, 1.0, 1.0]
    ces = cx.score_responses(s, metric="ces", ces="agree")
    # definition: CES agree = 5-7
    assert ces["value"].tolist() == [0.0, 0.0, 1.0, 1.0, 0.0]
    assert cx.score_responses(s, metric="ces")["value"].tolist() == [1.0, 4.0, 5.0, 7.0, 3.0]


def test_absent_metric_names_present_metrics():
    s = pd.DataFrame({"csat": [4, 5], "nps": [None, None], "ces": [3, 5]})
    with pytest.raises(DataError, match=r"metric 'nps' is not in the surveys.*metrics present: \['csat', 'ces'\]"):
        cx.score_responses(s, metric="nps")
    with pytest.raises(DataError, match=r"metrics present: \['csat'\]"):
        cx.summarize(pd.DataFrame({"csat": [4]}), metric="ces")


def test_bad_options_and_out_of_range():
    s = pd.DataFrame({"csat": [4, 5]})
    with pytest.raises(ValueError, match=r"csat must be one of \['top2', 'mean'\]; got 'top3'"):
        cx.score_responses(s, metric="csat", csat="top3")
    with pytest.raises(ValueError, match=r"metric must be one of"):
        cx.summarize(s, metric="cast")
    with pytest.raises(DataError, match=r"outside the 1–5 scale"):
        cx.score_responses(pd.DataFrame({"csat": [4, 6]}), metric="csat")


# ---------------------------------------------------------------------------
# NPS variance, Wilson, t, required n
# ---------------------------------------------------------------------------


def test_nps_variance_worked_example():
    # KPI_DEFINITIONS.md worked check / stats.stackexchange answer 18609:
    # p+ = 1/2, p0 = 1/3, p- = 1/6 -> N = 1/3, variance 5/9
    assert cx.nps_variance(1 / 2, 1 / 6) == pytest.approx(5 / 9, abs=1e-12)
    # same shares as 3 promoters, 2 passives, 1 detractor
    out = cx.summarize(_nps_frame({10: 3, 8: 2, 3: 1}), metric="nps", gate_ci=False)
    row = out.iloc[0]
    # closed form: NPS = 100 * 1/3; SE = 100 * sqrt((5/9) / 6); MoE = 1.96 * SE
    assert row["value"] == pytest.approx(100 / 3)
    se = 100 * math.sqrt((5 / 9) / 6)
    assert row["se"] == pytest.approx(se)
    assert row["moe"] == pytest.approx(stats.norm.ppf(0.975) * se)
    assert row["ci_low"] == pytest.approx(100 / 3 - stats.norm.ppf(0.975) * se)
    assert row["pct_promoters"] == pytest.approx(50) and row["pct_detractors"] == pytest.approx(100 / 6)
    with pytest.raises(ValueError, match="shares must lie"):
        cx.nps_variance(0.8, 0.4)


@pytest.mark.parametrize("x,n", [(0, 10), (10, 10), (8, 10), (1, 50), (37, 120), (0, 1), (499, 500)])
def test_wilson_equals_statsmodels(x, n):
    from statsmodels.stats.proportion import proportion_confint

    # statsmodels proportion_confint(method="wilson")
    ref = proportion_confint(x, n, alpha=0.05, method="wilson")
    lo, hi = cx.wilson_interval(x, n)
    assert float(lo) == pytest.approx(ref[0], abs=1e-12)
    assert float(hi) == pytest.approx(ref[1], abs=1e-12)
    # and through summarize (percent), CI not gated
    s = pd.DataFrame({"csat": [5.0] * x + [2.0] * (n - x)})
    row = cx.summarize(s, metric="csat", gate_ci=False).iloc[0]
    assert row["ci_low"] == pytest.approx(100 * ref[0], abs=1e-9)
    assert row["ci_high"] == pytest.approx(100 * ref[1], abs=1e-9)
    assert row["value"] == pytest.approx(100 * x / n)


def test_wilson_90_percent():
    from statsmodels.stats.proportion import proportion_confint

    # statsmodels proportion_confint(method="wilson", alpha=0.10)
    ref = proportion_confint(17, 40, alpha=0.10, method="wilson")
    lo, hi = cx.wilson_interval(17, 40, conf=0.90)
    assert (float(lo), float(hi)) == pytest.approx(ref, abs=1e-12)


def test_t_interval_for_mean_closed_form():
    s = pd.DataFrame({"ces": [2.0, 4.0, 4.0, 5.0, 7.0]})
    row = cx.summarize(s, metric="ces", gate_ci=False).iloc[0]
    # closed form: mean 4.4, sd = sqrt(13.2/4) = 1.816590, se = sd/sqrt(5) = 0.812404,
    # t(0.975, 4) = 2.776445 -> CI 4.4 -/+ 2.255595
    assert row["value"] == pytest.approx(4.4)
    assert row["se"] == pytest.approx(0.812404, abs=1e-6)
    assert row["ci_low"] == pytest.approx(4.4 - 2.255595, abs=1e-6)
    assert row["ci_high"] == pytest.approx(4.4 + 2.255595, abs=1e-6)


def test_required_n_closed_form():
    # closed form: ceil(1.959964^2 * 0.25 / 0.05^2) = ceil(384.15) = 385
    assert cx.required_n(metric="csat", moe=5) == 385
    # closed form: ceil(1.959964^2 * 0.8 * 0.2 / 0.03^2) = ceil(682.95) = 683
    assert cx.required_n(metric="csat", moe=3, p=0.8) == 683
    # NPS worst case var = 1: ceil(1.959964^2 / 0.05^2) = ceil(1536.6) = 1537
    assert cx.required_n(metric="nps", moe=5) == 1537
    # NPS with the 5/9 worked-example variance: ceil(1.959964^2 * 5/9 / 0.05^2) = 854
    assert cx.required_n(metric="nps", moe=5, p=(1 / 2, 1 / 6)) == 854
    # CES mean worst-case SD (7-1)/2 = 3: ceil((1.959964 * 3 / 0.3)^2) = 385
    assert cx.required_n(metric="ces", moe=0.3) == 385
    # planning SD given: ceil((1.959964 * 1.5 / 0.1)^2) = ceil(864.3) = 865
    assert cx.required_n(metric="ces", moe=0.1, sd=1.5) == 865
    with pytest.raises(ValueError, match="moe must be positive"):
        cx.required_n(metric="csat", moe=0)


def test_small_n_keeps_its_interval_and_is_flagged():
    s = pd.DataFrame({"csat": [5.0] * 300 + [2.0] * 100})
    row = cx.summarize(s, metric="csat").iloc[0]
    assert row["n_required"] == 385 and bool(row["reliable"]) and not bool(row["small_n"])
    assert np.isfinite(row["ci_low"])
    small = cx.summarize(s.iloc[:200], metric="csat").iloc[0]
    # below the required n: value AND interval shown, flagged (issue 19 item 6)
    assert not small["reliable"] and bool(small["small_n"]) and small["value"] == pytest.approx(100.0)
    # Wilson with x = n: lower bound = n / (n + z^2) = 200 / (200 + 1.959964^2) = 0.981155 (closed form), upper 1
    assert small["ci_low"] == pytest.approx(100 * 200 / (200 + 1.959964**2), abs=1e-4)
    assert small["ci_high"] == pytest.approx(100.0)
    assert small["moe"] == pytest.approx((100 - small["ci_low"]) / 2)
    # the old gate is still available on request
    gated = cx.summarize(s.iloc[:200], metric="csat", gate_ci=True).iloc[0]
    assert np.isnan(gated["ci_low"]) and np.isnan(gated["ci_high"]) and np.isnan(gated["moe"])
    # a looser margin makes the same rows reliable: ceil(1.96^2*.25/.1^2) = 97
    loose = cx.summarize(s.iloc[:200], metric="csat", margin=10).iloc[0]
    assert loose["n_required"] == 97 and bool(loose["reliable"]) and not bool(loose["small_n"])
    tab = cx.summary_table(cx.summarize(s.iloc[:200], metric="csat"))
    assert tab["value"].iloc[0] == "100.0 (n<385)" and tab["ci"].iloc[0] == "[98.1, 100.0]"
    # Wilson 95% for 8/10 (Wilson 1927; statsmodels proportion_confint): [49.0, 94.3]
    eight = cx.summarize(pd.DataFrame({"csat": [5.0] * 8 + [1.0] * 2}), metric="csat").iloc[0]
    assert (eight["ci_low"], eight["ci_high"]) == (pytest.approx(49.02, abs=0.01), pytest.approx(94.33, abs=0.01))
    assert bool(eight["small_n"])
    # zero responses: no value, no interval, and not "small n" (there is nothing to flag)
    none = cx.summarize(pd.DataFrame({"q": ["a", "b"], "csat": [np.nan, 4.0]}), metric="csat", by="q").iloc[0]
    assert none["n"] == 0 and np.isnan(none["value"]) and np.isnan(none["ci_low"]) and not bool(none["small_n"])


# ---------------------------------------------------------------------------
# summarize: groups, periods, contacts, weights
# ---------------------------------------------------------------------------


def test_zero_response_segment_no_crash():
    s = pd.DataFrame({
        "queue": pd.Categorical(["a", "a", "b", "b"], categories=["a", "b", "c"]),
        "channel": ["voice", "chat", "voice", "chat"],
        "csat": [5.0, 4.0, 2.0, None],
    })
    out = cx.summarize(s, metric="csat", by="queue")
    assert out["queue"].astype(str).tolist() == ["a", "b", "c"]
    # by hand: queue a answers 5 and 4 -> top-2-box 2/2 = 100 %; queue b one answer (2; the other skipped) -> 0 %
    by_q = out.set_index(out["queue"].astype(str))
    assert (by_q.loc["a", "n"], by_q.loc["a", "value"]) == (2, pytest.approx(100.0))
    assert (by_q.loc["b", "n"], by_q.loc["b", "value"]) == (1, pytest.approx(0.0))
    c = out.set_index(out["queue"].astype(str)).loc["c"]
    assert c["n"] == 0 and np.isnan(c["value"]) and not c["reliable"]
    # a group whose only response skipped the metric is also n = 0
    ch = cx.summarize(s[s["queue"] == "b"], metric="csat", by="channel").set_index("channel")
    assert ch.loc["chat", "n"] == 0 and np.isnan(ch.loc["chat", "value"])
    for metric, frame in (("nps", _nps_frame({9: 1})), ("ces", pd.DataFrame({"ces": [5.0]}))):
        f = frame.assign(seg=pd.Categorical(["x"], categories=["x", "y"]))
        o = cx.summarize(f, metric=metric, by="seg").set_index("seg")
        assert o.loc["y", "n"] == 0 and np.isnan(o.loc["y", "value"])
    tab = cx.summary_table(out)
    assert tab.loc[tab["queue"].astype(str) == "c", "value"].iloc[0] == "—"
    # compare with an empty side gives NaN, no crash
    r = cx.compare(s[s["queue"] == "c"], s, metric="csat")
    assert r["n_a"].iloc[0] == 0 and np.isnan(r["p_val"].iloc[0])


def test_local_week_and_response_rate():
    ts = pd.to_datetime(["2025-01-06 03:00", "2025-01-06 15:00", "2025-01-13 15:00"], utc=True)
    s = pd.DataFrame({"responded_at": ts, "csat": [5.0, 2.0, 4.0]})
    out = cx.summarize(s, metric="csat", by="week", timezone="America/New_York")
    # 2025-01-06 03:00 UTC is Sunday 2025-01-05 22:00 in New York -> week of Monday 2024-12-30
    assert out["week"].dt.strftime("%Y-%m-%d").tolist() == ["2024-12-30", "2025-01-06", "2025-01-13"]
    assert out["n"].tolist() == [1, 1, 1]
    utc = cx.summarize(s, metric="csat", by="week")
    assert utc["week"].dt.strftime("%Y-%m-%d").tolist() == ["2025-01-06", "2025-01-13"]
    # contacts as a contact-level table (counted per local week from arrived_at)
    contacts = pd.DataFrame({"arrived_at": pd.to_datetime(
        ["2025-01-05 20:00", "2025-01-06 12:00", "2025-01-07 12:00", "2025-01-08 12:00",
         "2025-01-14 12:00", "2025-01-21 12:00"], utc=True)})
    rr = cx.summarize(s, metric="csat", by="week", timezone="America/New_York", contacts=contacts)
    assert rr["n"].tolist() == [1, 1, 1, 0]
    assert rr["contacts"].tolist() == [1, 3, 1, 1]
    # closed form: responses / contacts
    assert rr["response_rate"].tolist() == pytest.approx([1.0, 1 / 3, 1.0, 0.0])
    # contacts as a Series indexed by the by key
    ser = pd.Series([10, 10, 10], index=pd.Index(out["week"], name="week"))
    rr2 = cx.summarize(s, metric="csat", by="week", timezone="America/New_York", contacts=ser)
    assert rr2["response_rate"].tolist() == pytest.approx([0.1, 0.1, 0.1])
    overall = cx.summarize(s, metric="csat", contacts=pd.DataFrame({"contacts": [30]}))
    assert overall["response_rate"].iloc[0] == pytest.approx(0.1)


def test_weighted_summary_kish():
    from statsmodels.stats.proportion import proportion_confint

    s = pd.DataFrame({"csat": [5.0, 5.0, 2.0, 1.0], "w": [2.0, 1.0, 1.0, 1.0]})
    out = cx.summarize(s, metric="csat", weights="w", gate_ci=False).iloc[0]
    # closed form: weighted share = (2 + 1) / 5 = 60%; Kish n_eff = 5^2 / 7
    assert out["value"] == pytest.approx(60.0)
    assert out["n_eff"] == pytest.approx(25 / 7)
    # closed form: SE = 100 * sqrt(0.6 * 0.4 / n_eff) = 100 * sqrt(0.0672)
    assert out["se"] == pytest.approx(100 * math.sqrt(0.0672), rel=1e-12)
    # statsmodels proportion_confint(0.6 * n_eff, n_eff, method="wilson") at the effective n
    lo, hi = proportion_confint(0.6 * 25 / 7, 25 / 7, alpha=0.05, method="wilson")
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((100 * lo, 100 * hi), abs=1e-10)
    # equal weights give the unweighted estimate: 2 of 4 top-2-box -> 50%, SE = 100 * sqrt(.25 / 4) = 25,
    # statsmodels proportion_confint(2, 4, method="wilson")
    eq = cx.summarize(s.assign(w=3.0), metric="csat", weights="w", gate_ci=False).iloc[0]
    lo, hi = proportion_confint(2, 4, alpha=0.05, method="wilson")
    assert eq["n_eff"] == pytest.approx(4.0) and eq["value"] == pytest.approx(50.0) and eq["se"] == pytest.approx(25.0)
    assert (eq["ci_low"], eq["ci_high"]) == pytest.approx((100 * lo, 100 * hi), abs=1e-10)
    # weighted mean metric, equal weights: R t.test(c(2, 4, 4, 5, 7)) -> mean 4.4,
    # 95 percent CI 2.144405 6.655595 (se = sd / sqrt(5) = 0.812404)
    m = pd.DataFrame({"ces": [2.0, 4.0, 4.0, 5.0, 7.0], "w": 0.5})
    a = cx.summarize(m, metric="ces", weights="w", gate_ci=False).iloc[0]
    assert a["value"] == pytest.approx(4.4) and a["se"] == pytest.approx(0.812404, abs=1e-6)
    assert (a["ci_low"], a["ci_high"]) == pytest.approx((2.144405, 6.655595), abs=1e-6)
    # unequal weights, closed form of the documented estimator (Notes of summarize): weights 1,1,1,1,2 ->
    # mean 29/6, n_eff = 6^2 / 8 = 4.5, s^2 = [sum w (x - mean)^2 / sum w] * n_eff / (n_eff - 1),
    # SE = sqrt(s^2 / n_eff), interval mean -/+ t(0.975, n_eff - 1) * SE
    x, w = np.array([2.0, 4, 4, 5, 7]), np.array([1.0, 1, 1, 1, 2])
    mean = 29 / 6
    s2 = np.sum(w * (x - mean) ** 2) / 6 * 4.5 / 3.5
    se = math.sqrt(s2 / 4.5)
    u = cx.summarize(m.assign(w=w), metric="ces", weights="w", gate_ci=False).iloc[0]
    assert u["value"] == pytest.approx(mean) and u["n_eff"] == pytest.approx(4.5) and u["se"] == pytest.approx(se)
    assert u["ci_high"] == pytest.approx(mean + stats.t.ppf(0.975, 3.5) * se)


# ---------------------------------------------------------------------------
# differences
# ---------------------------------------------------------------------------


def test_two_proportion_z_statsmodels_docstring():
    from statsmodels.stats.proportion import confint_proportions_2indep

    a = pd.DataFrame({"csat": [5.0] * 5 + [2.0] * 78})
    b = pd.DataFrame({"csat": [4.0] * 12 + [1.0] * 87})
    r = cx.compare(a, b, metric="csat").iloc[0]
    # statsmodels proportions_ztest docstring: count [5, 12] of nobs [83, 99] -> p-value 0.159
    assert round(r["p_val"], 3) == 0.159
    # statsmodels proportions_ztest([12, 5], [99, 83]) -> z = 1.4078304151258787
    assert r["stat"] == pytest.approx(1.4078304151258787, rel=1e-10)
    # statsmodels confint_proportions_2indep(12, 99, 5, 83, method="newcomb")
    lo, hi = confint_proportions_2indep(12, 99, 5, 83, method="newcomb")
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((100 * lo, 100 * hi), rel=1e-9)
    # closed form: Cohen's h = 2 asin(sqrt(12/99)) - 2 asin(sqrt(5/83))
    assert r["effect_size"] == pytest.approx(2 * math.asin(math.sqrt(12 / 99)) - 2 * math.asin(math.sqrt(5 / 83)))


# R: t.test(extra ~ group, data = sleep) (Welch) -> t = -1.8608, df = 17.776, p-value = 0.07939,
#    95 percent CI -3.3654832 0.2054832. Here the data are rescaled x -> 0.5 x + 3.9 onto the CES
#    1-7 scale: t, df and p are unchanged; the CI and difference scale by 0.5 and flip sign (b - a).
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def test_welch_against_r_sleep():
    a = pd.DataFrame({"ces": 0.5 * np.array(SLEEP_1) + 3.9})
    b = pd.DataFrame({"ces": 0.5 * np.array(SLEEP_2) + 3.9})
    r = cx.compare(a, b, metric="ces").iloc[0]
    assert r["stat"] == pytest.approx(1.8608, abs=1e-4)
    assert r["dof"] == pytest.approx(17.776, abs=1e-3)
    assert r["p_val"] == pytest.approx(0.07939, abs=1e-5)
    assert r["ci_low"] == pytest.approx(-0.5 * 0.2054832, abs=1e-6)
    assert r["ci_high"] == pytest.approx(0.5 * 3.3654832, abs=1e-6)
    # scipy.stats.ttest_ind(equal_var=False)
    ref = stats.ttest_ind(b["ces"], a["ces"], equal_var=False)
    assert r["p_val"] == pytest.approx(ref.pvalue, rel=1e-10)
    # closed form: Hedges g = d * (1 - 3 / (4 * 20 - 9)), pooled SD
    sp = math.sqrt((np.var(a["ces"], ddof=1) + np.var(b["ces"], ddof=1)) / 2)
    d = (b["ces"].mean() - a["ces"].mean()) / sp
    assert r["effect_size"] == pytest.approx(d * (1 - 3 / 71))
    mw = cx.compare(a, b, metric="ces", mean_test="mannwhitney").iloc[0]
    # scipy.stats.mannwhitneyu(b, a, alternative="two-sided")
    ref = stats.mannwhitneyu(b["ces"], a["ces"], alternative="two-sided")
    assert mw["p_val"] == pytest.approx(ref.pvalue) and mw["stat"] == pytest.approx(ref.statistic)


def test_nps_difference_z():
    a = _nps_frame({10: 3, 8: 2, 3: 1})  # shares 1/2, 1/3, 1/6 -> N = 1/3, var 5/9, n = 6
    b = _nps_frame({10: 1, 8: 1, 2: 2})  # shares 1/4, 1/4, 1/2 -> N = -1/4, var 3/4 - 1/16 = 11/16, n = 4
    r = cx.compare(a, b, metric="nps").iloc[0]
    # closed form (KPI_DEFINITIONS.md variance): SE_diff = sqrt(5/9/6 + 11/16/4)
    se = math.sqrt(5 / 9 / 6 + 11 / 16 / 4)
    assert r["diff"] == pytest.approx(100 * (-1 / 4 - 1 / 3))
    assert r["se_diff"] == pytest.approx(100 * se)
    assert r["stat"] == pytest.approx((-1 / 4 - 1 / 3) / se)
    assert r["p_val"] == pytest.approx(2 * stats.norm.sf(abs((-1 / 4 - 1 / 3) / se)))


def test_bh_against_r_p_adjust():
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.proportion import proportions_ztest

    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205])
    # R: p.adjust(p, "BH"), by R's algorithm pmin(1, cummin(n / i * p[o]))[ro], computed by hand
    expected = [0.008, 0.032, 0.0672, 0.0672, 0.0672, 0.08, 0.0845714286, 0.205]
    assert multipletests(p, method="fdr_bh")[1] == pytest.approx(expected, abs=1e-9)
    rng = np.random.default_rng(7)
    queues = np.repeat(list("abcdef"), 60)
    csat = np.where(rng.random(360) < np.repeat([0.6, 0.7, 0.75, 0.8, 0.85, 0.9], 60), 5.0, 2.0)
    out = cx.compare_segments(pd.DataFrame({"queue": queues, "csat": csat}), metric="csat", segment="queue")
    assert out["level"].tolist() == list("abcdef")
    # statsmodels proportions_ztest([x_level, x_rest], [n_level, n_rest]) (pooled, two-sided) per level
    top = csat == 5.0
    pv = np.array([
        proportions_ztest([top[queues == q].sum(), top[queues != q].sum()], [60, 300])[1] for q in "abcdef"
    ])
    assert out["p_val"].to_numpy() == pytest.approx(pv, rel=1e-10)
    o = np.argsort(pv)[::-1]
    n = len(pv)
    bh = np.minimum(1, np.minimum.accumulate(n / np.arange(n, 0, -1) * pv[o]))[np.argsort(o)]
    # closed form of R's p.adjust "BH" applied to the statsmodels p-values
    assert out["p_adj"].to_numpy() == pytest.approx(bh)
    assert (out["significant"] == (out["p_adj"] < 0.05)).all()
    # each level vs the rest equals compare(rest, level)
    a = cx.compare(pd.DataFrame({"csat": csat[queues != "a"]}), pd.DataFrame({"csat": csat[queues == "a"]}),
                   metric="csat")
    assert out.loc[0, "p_val"] == pytest.approx(a["p_val"].iloc[0])
    pairs = cx.compare_segments(pd.DataFrame({"queue": queues, "csat": csat}), metric="csat", segment="queue",
                                reference=None)
    assert len(pairs) == 15  # 6 choose 2
    vs_a = cx.compare_segments(pd.DataFrame({"queue": queues, "csat": csat}), metric="csat", segment="queue",
                               reference="a")
    assert vs_a["level"].tolist() == list("bcdef") and (vs_a["reference"] == "a").all()
    with pytest.raises(ValueError, match=r"reference 'z' is not a level"):
        cx.compare_segments(pd.DataFrame({"queue": queues, "csat": csat}), metric="csat", segment="queue",
                            reference="z")


# ---------------------------------------------------------------------------
# agreement
# ---------------------------------------------------------------------------


def test_agreement_spearman_and_crosstab(rng):
    n = 200
    base = rng.normal(size=n)
    s = pd.DataFrame({
        "csat": np.clip(np.round(3 + base + rng.normal(size=n)), 1, 5),
        "nps": np.clip(np.round(7 + 2 * base + rng.normal(size=n)), 0, 10),
        "ces": np.clip(np.round(4 + base + 2 * rng.normal(size=n)), 1, 7),
    })
    s.loc[:9, "ces"] = np.nan
    out = cx.agreement(s)
    assert out[["x", "y"]].apply(tuple, axis=1).tolist() == [("csat", "nps"), ("csat", "ces"), ("nps", "ces")]
    row = out.iloc[1]
    both = s[["csat", "ces"]].dropna()
    # scipy.stats.spearmanr
    ref = stats.spearmanr(both["csat"], both["ces"])
    assert row["n"] == 190
    assert row["r"] == pytest.approx(ref.statistic, abs=1e-12)
    # closed form: Fisher z interval tanh(atanh(r) -/+ 1.96 / sqrt(n - 3))
    z = stats.norm.ppf(0.975) / math.sqrt(190 - 3)
    assert row["ci_low"] == pytest.approx(math.tanh(math.atanh(row["r"]) - z), abs=1e-9)
    assert row["ci_high"] == pytest.approx(math.tanh(math.atanh(row["r"]) + z), abs=1e-9)
    tab = cx.agreement_crosstab(s)
    # hand count with pandas.crosstab
    assert tab.loc["promoter", "top2"] == int(((s["nps"] >= 9) & (s["csat"] >= 4)).sum())
    assert tab.to_numpy().sum() == n
    pct = cx.agreement_crosstab(s, normalize="index")
    assert pct.sum(axis=1).to_numpy() == pytest.approx(100.0)
    with pytest.raises(DataError, match="at least two metrics"):
        cx.agreement(s[["csat"]])


# ---------------------------------------------------------------------------
# non-response bias and propensity weights
# ---------------------------------------------------------------------------


def test_smd_closed_form():
    c = pd.DataFrame({
        "interaction_id": list("abcdef"),
        "wait_s": [10.0, 20, 30, 40, 50, 60],
        "transferred": [True, False, False, True, True, False],
        "channel": ["voice", "voice", "chat", "chat", "chat", "voice"],
    })
    out = cx.nonresponse_bias(c, ["a", "b", "c"], covariates=["wait_s", "transferred", "channel"]).set_index("covariate")
    # Austin (2009) continuous: (20 - 50) / sqrt((100 + 100) / 2) = -3
    assert out.loc["wait_s", "smd"] == pytest.approx(-3.0)
    # Austin (2009) binary: p1 = 1/3, p0 = 2/3 -> (1/3 - 2/3) / sqrt((2/9 + 2/9) / 2) = -0.707107
    assert out.loc["transferred", "smd"] == pytest.approx(-(1 / 3) / math.sqrt(2 / 9))
    assert out.loc["transferred", "kind"] == "binary"
    # text column expanded to indicators: voice share 2/3 vs 1/3
    assert out.loc["channel=voice", "smd"] == pytest.approx((1 / 3) / math.sqrt(2 / 9))
    assert out["flag"].all()
    # surveyed given as the surveys table
    same = cx.nonresponse_bias(c, pd.DataFrame({"interaction_id": ["a", "b", "c", None]}), covariates=["wait_s"])
    assert same["smd"].iloc[0] == pytest.approx(-3.0)


def test_propensity_weights_restore_balance():
    rng = np.random.default_rng(3)
    n = 4000
    c = pd.DataFrame({
        "interaction_id": [f"i{i}" for i in range(n)],
        "wait_s": rng.exponential(60, n),
        "channel": rng.choice(["voice", "chat"], n),
    })
    logit = -1.5 - 0.01 * (c["wait_s"] - 60) + 0.6 * (c["channel"] == "chat")
    surveyed = rng.random(n) < 1 / (1 + np.exp(-logit))
    before = cx.nonresponse_bias(c, surveyed.to_numpy(), covariates=["wait_s", "channel"])
    assert before.set_index("covariate").loc["wait_s", "flag"]
    w = cx.propensity_weights(c, surveyed.to_numpy(), covariates=["wait_s", "channel"])
    assert w["weight"].notna().sum() == surveyed.sum()
    # statsmodels Logit of the response indicator on wait_s and a channel indicator (standardizing a
    # covariate or dropping the other level does not change the fitted probabilities); the weight is
    # r_bar / e_hat truncated at the 1 % and 99 % quantiles of the respondents' weights (the docstring)
    import statsmodels.api as sm

    X = sm.add_constant(pd.DataFrame({"wait_s": c["wait_s"], "chat": (c["channel"] == "chat").astype(float)}))
    e_hat = sm.Logit(surveyed.astype(float), X).fit(disp=0).predict(X).to_numpy()
    assert w["propensity"].to_numpy() == pytest.approx(e_hat, rel=1e-6)
    raw_w = surveyed.mean() / e_hat[surveyed.to_numpy()]
    lo_w, hi_w = np.quantile(raw_w, [0.01, 0.99])
    assert w.loc[w["surveyed"], "weight"].to_numpy() == pytest.approx(np.clip(raw_w, lo_w, hi_w), rel=1e-6)
    assert w.loc[~w["surveyed"], "weight"].isna().all()
    # stabilized weights average about 1 among respondents
    assert w["weight"].mean() == pytest.approx(1.0, abs=0.1)
    # weighted respondents resemble all contacts (the population they should represent)
    vs_all = cx.nonresponse_bias(c, surveyed.to_numpy(), covariates=["wait_s", "channel"], reference="all")
    after = cx.nonresponse_bias(c, surveyed.to_numpy(), covariates=["wait_s", "channel"], weights=w["weight"],
                                reference="all")
    assert (after["smd"].abs() < vs_all["smd"].abs()).all()
    assert (after["smd"].abs() < 0.1).all()


# ---------------------------------------------------------------------------
# AUC and DeLong
# ---------------------------------------------------------------------------


def test_auc_equals_sklearn(rng):
    from sklearn.metrics import roc_auc_score

    y = rng.random(500) < 0.3
    score = rng.integers(0, 11, 500).astype(float) + 2 * y  # heavy ties
    # sklearn.metrics.roc_auc_score
    assert cx.roc_auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    vals, codes = np.unique(score, return_inverse=True)
    assert _auc_from_codes(codes, y, len(vals)) == pytest.approx(roc_auc_score(y, score), abs=1e-12)


def test_delong_tiny_hand_example():
    # Hand computation (DeLong et al. 1988 structural components), 3 positives, 3 negatives:
    #   A: pos .9 .7 .4 / neg .6 .3 .2 -> V10 = (1, 1, 2/3), V01 = (2/3, 1, 1), AUC 8/9
    #   B: pos .8 .5 .1 / neg .7 .4 .3 -> V10 = (1, 2/3, 0), V01 = (1/3, 2/3, 2/3), AUC 5/9
    #   S10 = [[1/27, 5/54], [5/54, 7/27]], S01 = [[1/27, 1/27], [1/27, 1/27]]
    #   Var(A) = (1/27)/3 + (1/27)/3 = 2/81; Var(A - B) = (1/27 + 7/27 - 10/54)/3 + 0 = 1/27
    #   z = (1/3) / sqrt(1/27) = sqrt(3), p = 2 * (1 - Phi(sqrt(3))) = 0.0832645
    y = [1, 1, 1, 0, 0, 0]
    out = cx.delong_test(y, [0.9, 0.7, 0.4, 0.6, 0.3, 0.2], [0.8, 0.5, 0.1, 0.7, 0.4, 0.3]).iloc[0]
    assert out["auc_a"] == pytest.approx(8 / 9) and out["auc_b"] == pytest.approx(5 / 9)
    assert out["var_a"] == pytest.approx(2 / 81)
    assert out["var_b"] == pytest.approx((7 / 27) / 3 + (1 / 27) / 3)
    assert out["cov_ab"] == pytest.approx((5 / 54) / 3 + (1 / 27) / 3)
    assert out["se_diff"] == pytest.approx(math.sqrt(1 / 27))
    assert out["z"] == pytest.approx(math.sqrt(3))
    assert out["p_val"] == pytest.approx(0.0832645, abs=1e-7)
    with pytest.raises(DataError, match="at least 2 positives"):
        cx.delong_test([1, 0, 0], [1, 2, 3], [3, 2, 1])


def test_delong_matches_bootstrap_roughly(rng):
    # the two paired comparisons should agree on a moderate sample (bootstrap vs analytic)
    n = 600
    y = rng.random(n) < 0.4
    a = y + rng.normal(0, 1.0, n)
    b = y + rng.normal(0, 2.0, n)
    dl = cx.delong_test(y, a, b).iloc[0]
    # the AUCs are sklearn's roc_auc_score of each score
    from sklearn.metrics import roc_auc_score

    assert dl["auc_a"] == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    assert dl["auc_b"] == pytest.approx(roc_auc_score(y, b), abs=1e-12)
    assert dl["se_diff"] == pytest.approx(math.sqrt(dl["var_a"] + dl["var_b"] - 2 * dl["cov_ab"]))  # Var(A - B)
    diffs = []
    for _ in range(400):
        i = rng.integers(0, n, n)
        diffs.append(cx.roc_auc(y[i], a[i]) - cx.roc_auc(y[i], b[i]))
    # bootstrap SD vs DeLong SE within 20% (Monte Carlo tolerance)
    assert np.std(diffs, ddof=1) == pytest.approx(dl["se_diff"], rel=0.2)


# ---------------------------------------------------------------------------
# loyalty
# ---------------------------------------------------------------------------


def _loyalty_data(seed=0, n=800):
    rng = np.random.default_rng(seed)
    ids = [f"c{i}" for i in range(n)]
    nps = rng.integers(0, 11, n).astype(float)
    csat = np.clip(np.round(1 + nps / 2.5 + rng.normal(0, 1.2, n)), 1, 5)
    t = pd.Timestamp("2025-02-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 60, n), unit="D")
    r = pd.DataFrame({"customer_id": ids, "responded_at": t, "nps": nps, "csat": csat})
    p = 1 / (1 + np.exp(-(1.0 - 0.35 * nps)))
    churn = rng.random(n) < p
    when = t + pd.to_timedelta(rng.integers(1, 170, n), unit="D")
    c = pd.DataFrame({"customer_id": ids, "churned_at": pd.Series(when).where(churn)})
    return r, c


def test_loyalty_prediction_auc_and_coverage():
    from sklearn.metrics import roc_auc_score

    r, c = _loyalty_data()
    extra = pd.DataFrame({  # an unknown customer, and a second (older) response for c0
        "customer_id": ["ghost", "c0"], "nps": [10.0, 0.0], "csat": [5.0, 1.0],
        "responded_at": pd.to_datetime(["2025-02-02", "2025-01-15"], utc=True),
    })
    res = cx.loyalty_prediction(pd.concat([r, extra], ignore_index=True),
                                pd.concat([c, pd.DataFrame({"customer_id": ["lonely"]})], ignore_index=True),
                                n_boot=200, seed=1, end="2025-12-31")
    cov = res.coverage.set_index("item")["n"]
    assert cov["unmatched_responses"] == 1
    assert cov["customers_without_survey"] == 1
    assert cov["customers_analysed"] == 800
    auc = res.auc.set_index("metric")
    churned = c["churned_at"].notna().to_numpy()
    # sklearn.metrics.roc_auc_score(churned, -score) on the anchor responses (c0's last response is kept)
    assert auc.loc["nps", "auc"] == pytest.approx(roc_auc_score(churned, -r["nps"]), abs=1e-12)
    assert auc.loc["csat", "auc"] == pytest.approx(roc_auc_score(churned, -r["csat"]), abs=1e-12)
    assert res.recommended == "nps" and auc.loc["nps", "rank"] == 1
    # the bootstrap, redone independently with sklearn roc_auc_score: the analysed customers in customer_id
    # order, one np.random.default_rng(1).integers(0, n, n) draw per replicate shared by both metrics,
    # numpy percentile intervals, p_boot = 2 * (1 - Phi(|diff| / SD of the bootstrap differences))
    srt = r.sort_values("customer_id").reset_index(drop=True)
    y = c.set_index("customer_id").loc[srt["customer_id"], "churned_at"].notna().to_numpy()
    draw = np.random.default_rng(1)
    boot = {"csat": [], "nps": []}
    for _ in range(200):
        i = draw.integers(0, 800, 800)
        for m in boot:
            boot[m].append(roc_auc_score(y[i], -srt[m].to_numpy()[i]))
    for m in boot:
        assert (auc.loc[m, "ci_low"], auc.loc[m, "ci_high"]) == pytest.approx(
            tuple(np.percentile(boot[m], [2.5, 97.5])), abs=1e-12)
    pair = res.paired.iloc[0]
    assert (pair["metric_a"], pair["metric_b"], pair["n_customers"]) == ("csat", "nps", 800)
    assert pair["diff"] == pytest.approx(auc.loc["csat", "auc"] - auc.loc["nps", "auc"], abs=1e-12)
    d = np.array(boot["csat"]) - np.array(boot["nps"])
    assert (pair["ci_low"], pair["ci_high"]) == pytest.approx(tuple(np.percentile(d, [2.5, 97.5])), abs=1e-12)
    assert pair["p_boot"] == pytest.approx(2 * stats.norm.sf(abs(pair["diff"]) / d.std(ddof=1)), rel=1e-9)
    # DeLong et al. (1988) by their definition (pairwise kernel psi = 1 / 0.5 / 0, not the rank algorithm):
    # positives = customers who stayed; V10, V01 per metric; Var(diff) = (S10 contrast)/m + (S01 contrast)/n
    stay = ~churned
    v10, v01 = [], []
    for m in ("csat", "nps"):
        x, z = r[m].to_numpy()[stay], r[m].to_numpy()[~stay]
        psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
        v10.append(psi.mean(axis=1))
        v01.append(psi.mean(axis=0))
    s10, s01 = np.cov(v10), np.cov(v01)
    contrast = np.array([1.0, -1.0])
    z_dl = (v10[0].mean() - v10[1].mean()) / math.sqrt(
        contrast @ s10 @ contrast / stay.sum() + contrast @ s01 @ contrast / (~stay).sum())
    assert pair["z_delong"] == pytest.approx(z_dl, rel=1e-9)
    assert pair["p_delong"] == pytest.approx(2 * stats.norm.sf(abs(z_dl)), rel=1e-9)
    # seeded: same result twice
    again = cx.loyalty_prediction(pd.concat([r, extra], ignore_index=True), c, n_boot=200, seed=1, end="2025-12-31")
    assert again.auc["ci_low"].tolist() == res.auc["ci_low"].tolist()


def test_loyalty_horizon_and_anchor_rules():
    r = pd.DataFrame({
        "customer_id": ["a", "a", "b", "c", "d"],
        "responded_at": pd.to_datetime(["2025-01-01", "2025-03-01", "2025-02-01", "2025-11-01", "2025-02-01"], utc=True),
        "nps": [0.0, 10.0, 5.0, 9.0, 3.0],
    })
    c = pd.DataFrame({"customer_id": ["a", "b", "c", "d"],
                      "churned_at": pd.to_datetime(["2025-06-01", "2025-12-01", None, "2025-01-15"], utc=True)})
    anchors, cov = customer_anchor(r, c, horizon_days=180, start=None, end="2025-12-31", metrics=["nps"])
    a = anchors.set_index("customer_id")
    # a: last response (Mar 1, nps 10) anchors; churn Jun 1 is within 180 days
    assert a.loc["a", "nps"] == 10.0 and a.loc["a", "churned"]
    # b: churn Dec 1 is 303 days after Feb 1 -> not within the horizon
    assert not a.loc["b", "churned"]
    # c responded Nov 1: the horizon is not observed by Dec 31 -> counted, not analysed
    assert "c" not in a.index and cov.set_index("item").loc["customers_response_too_recent", "n"] == 1
    # d churned before responding -> excluded and counted
    assert cov.set_index("item").loc["customers_churned_before_anchor", "n"] == 1
    cal = cx.loyalty_calibration(r, c, metrics=["nps"], end="2025-12-31")
    assert cal["band"].tolist() == ["detractor", "passive", "promoter"]
    assert cal.set_index("band").loc["promoter", "n_churned"] == 1
    # landmark design: last response before 2025-02-15, churn in (Feb 15, Feb 15 + 180 d]
    land, _ = customer_anchor(r, c, horizon_days=180, start="2025-02-15", end=None, metrics=["nps"])
    la = land.set_index("customer_id")
    assert la.loc["a", "nps"] == 0.0 and la.loc["a", "churned"]


def test_loyalty_calibration_wilson():
    from statsmodels.stats.proportion import proportion_confint

    r, c = _loyalty_data(seed=2)
    cal = cx.loyalty_calibration(r, c, metrics=["nps", "csat"], end="2025-12-31")
    row = cal[(cal["metric"] == "nps") & (cal["band"] == "detractor")].iloc[0]
    # statsmodels proportion_confint(method="wilson")
    lo, hi = proportion_confint(row["n_churned"], row["n_customers"], method="wilson")
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((100 * lo, 100 * hi))
    assert cal.loc[cal["metric"] == "csat", "band"].tolist() == ["not_top2", "top2"]
    # churn falls from detractors to promoters in this synthetic data
    nps = cal[cal["metric"] == "nps"].set_index("band")["churn_rate_pct"]
    assert nps["detractor"] > nps["passive"] > nps["promoter"]


def test_loyalty_revenue_spearman():
    r = pd.DataFrame({"customer_id": list("abcdef"), "csat": [5.0, 4, 3, 2, 1, 5],
                      "responded_at": pd.Timestamp("2025-02-10", tz="UTC")})
    rev = pd.DataFrame({"customer_id": np.repeat(list("abcdef"), 2),
                        "month": np.tile(pd.to_datetime(["2025-01-01", "2025-03-01"]), 6),
                        "revenue": [10, 12, 10, 11, 10, 10, 10, 9, 10, 8, 10, 13.0]})
    out = cx.loyalty_revenue(r, rev, metrics=["csat"], horizon_days=30, end="2025-12-31").iloc[0]
    change = np.array([2, 1, 0, -1, -2, 3.0])  # March - January
    # scipy.stats.spearmanr(score, change)
    ref = stats.spearmanr([5, 4, 3, 2, 1, 5], change)
    assert out["n_customers"] == 6
    assert out["r"] == pytest.approx(ref.statistic)
    assert out["mean_change"] == pytest.approx(change.mean())


# ---------------------------------------------------------------------------
# plots (smoke: they draw what they are given)
# ---------------------------------------------------------------------------


def test_plot_cx_trend_draws_values_band_and_unreliable_points():
    import matplotlib.pyplot as plt
    from matplotlib.collections import PathCollection, PolyCollection

    from cxlab import plots

    # 3 weeks of 400 responses (reliable: n >= 385) and a 4th week of 20 (unreliable)
    ts = pd.Timestamp("2025-01-06", tz="UTC") + pd.to_timedelta(np.r_[np.arange(1200) % 21, np.full(20, 22)], unit="D")
    rng = np.random.default_rng(0)
    s = pd.DataFrame({"responded_at": ts, "csat": rng.integers(1, 6, 1220).astype(float)})
    summ = cx.summarize(s, metric="csat", by="week")
    assert summ["reliable"].tolist() == [True, True, True, False]
    ax = plots.cx_trend(summ)
    assert ax.get_ylabel() == "CSAT — % top-2-box" and ax.get_title() == "CSAT — % top-2-box by week"
    (line,) = ax.get_lines()
    assert line.get_ydata() == pytest.approx(summ["value"].to_numpy())
    assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 1  # the interval band
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert [len(c.get_offsets()) for c in points] == [3, 1]  # filled reliable, hollow unreliable
    assert points[1].get_offsets()[0][1] == pytest.approx(summ["value"].iloc[3])
    assert [x.get_text() for x in ax.get_legend().get_texts()] == ["95% interval", "below required n"]
    plt.close(ax.figure)


def test_plot_cx_segments_forest():
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection, PathCollection

    from cxlab import plots

    s = pd.DataFrame({"q": ["x"] * 40 + ["y"] * 40 + ["z"] * 40,
                      "csat": [5, 3] * 20 + [5] * 30 + [2] * 10 + [5] * 20 + [2] * 20})
    comp = cx.compare_segments(s, metric="csat", segment="q")
    ax = plots.cx_segments(comp)
    # one interval per level, drawn bottom-up in reverse level order
    (bars,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    segs = bars.get_segments()
    assert len(segs) == 3
    assert [seg[0][0] for seg in segs] == pytest.approx(comp["ci_low"].to_numpy()[::-1])
    assert [tk.get_text() for tk in ax.get_yticklabels()] == ["z", "y", "x"]
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert sum(len(c.get_offsets()) for c in points) == 3
    assert len(points[0].get_offsets()) == int(comp["significant"].sum())
    assert ax.get_xlabel() == "difference (points)"
    assert ax.get_title() == "CSAT — % top-2-box: q vs the rest"
    assert ax.get_lines()[0].get_xdata() == [0, 0]  # the zero line
    plt.close(ax.figure)


def test_plot_cx_smd_love_plot():
    import matplotlib.pyplot as plt
    from matplotlib.collections import PathCollection

    from cxlab import plots

    c = pd.DataFrame({"interaction_id": list("abcdef"), "wait_s": [10.0, 20, 30, 40, 50, 60],
                      "transferred": [True, False, False, True, True, False]})
    before = cx.nonresponse_bias(c, ["a", "b", "c"], covariates=["wait_s", "transferred"])
    after = before.assign(smd=[0.05, -0.02])
    ax = plots.cx_smd(before, after, threshold=0.1)
    assert [tk.get_text() for tk in ax.get_yticklabels()] == ["wait_s", "transferred"]
    pts = [c.get_offsets() for c in ax.collections if isinstance(c, PathCollection)]
    # Austin (2009) closed forms as in test_smd_closed_form: |SMD| 3 (wait_s) and 0.707107 (transferred)
    assert [p[0] for p in pts[0]] == pytest.approx([3.0, (1 / 3) / math.sqrt(2 / 9)])
    assert [p[0] for p in pts[1]] == pytest.approx([0.05, 0.02])
    assert list(ax.get_lines()[0].get_xdata()) == [0.1, 0.1]
    assert ax.get_xlabel() == "|standardized mean difference|"
    plt.close(ax.figure)


def test_plot_cx_auc_and_calibration():
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection, PathCollection

    from cxlab import plots

    auc = pd.DataFrame({"metric": ["csat", "nps", "ces"], "auc": [0.62, 0.58, 0.66],
                        "ci_low": [0.57, 0.53, 0.61], "ci_high": [0.67, 0.63, 0.71]})
    ax = plots.cx_auc(auc)
    assert [tk.get_text() for tk in ax.get_yticklabels()] == ["NPS", "CSAT", "CES"]  # sorted by AUC
    (pts,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert [p[0] for p in pts.get_offsets()] == pytest.approx([0.58, 0.62, 0.66])
    (bars,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert [seg[1][0] for seg in bars.get_segments()] == pytest.approx([0.63, 0.67, 0.71])
    assert list(ax.get_lines()[0].get_xdata()) == [0.5, 0.5]
    assert ax.get_xlabel() == "AUC for churn (0.5 = no information)"
    plt.close(ax.figure)
    # the docstring example of loyalty_calibration: detractors 1 of 2 churned, passives none, promoters 0 of 2
    r = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "nps": [10, 9, 3, 2],
                      "responded_at": pd.Timestamp("2025-01-10", tz="UTC")})
    cu = pd.DataFrame({"customer_id": ["a", "b", "c", "d"],
                       "churned_at": pd.to_datetime([None, None, "2025-02-01", None], utc=True)})
    cal = cx.loyalty_calibration(r, cu, metrics=["nps"], end="2025-12-31")
    ax = plots.cx_calibration(cal)
    assert len(ax.patches) == 3
    assert [b.get_width() for b in ax.patches] == pytest.approx([50.0, 0.0, 0.0])
    # worst band on top: detractor at y = 2, promoter at y = 0
    assert [tk.get_text() for tk in ax.get_yticklabels()] == ["NPS detractor", "NPS passive", "NPS promoter"]
    assert list(ax.get_yticks()) == [2, 1, 0]
    assert ax.get_xlabel() == "churned within the horizon (%)" and ax.get_title() == "Churn by score band"
    plt.close(ax.figure)


# ---------------------------------------------------------------------------
# ground truth of the sample center
# ---------------------------------------------------------------------------


def _resolved_join(sample):
    s = sample["surveys"].dropna(subset=["interaction_id"])
    i = sample["interactions"][["interaction_id", "resolved"]]
    return s.merge(i, on="interaction_id", how="inner")


_TRUTH_KEY = {"csat": "csat_top2", "nps": "nps", "ces": "ces_mean"}


@pytest.mark.slow
@pytest.mark.parametrize("metric", ["csat", "nps", "ces"])
def test_sample_resolution_effect_matches_truth(sample, sample_truth, metric):
    joined = _resolved_join(sample)
    resolved = joined["resolved"].fillna(False).astype(bool)
    r = cx.compare(joined[~resolved], joined[resolved], metric=metric).iloc[0]  # csat top-2-box, ces mean
    truth = sample_truth["effects"][_TRUTH_KEY[metric]]
    # ground_truth()["effects"] (structural effect of resolution: csat_top2 and nps in points, ces_mean in
    # scale units). The observed raw difference also carries confounding by complexity (contact_reason
    # lowers both resolution and satisfaction) and the agent flag's false positives, so we require only
    # the sign and the size within a factor of 2 (observed on the default sample: 43.9 vs 38.6 points,
    # 86.1 vs 78.3 NPS points, 1.77 vs 1.57).
    assert np.sign(r["diff"]) == np.sign(truth)
    assert abs(truth) / 2 <= abs(r["diff"]) <= 2 * abs(truth)


@pytest.mark.slow
def test_sample_metric_ranking_matches_truth(sample, sample_truth):
    # ground_truth()["loyalty"]["metric_predictive_ranking"]: by each metric's correlation with the
    # latent satisfaction, which alone drives churn (default sample: CSAT 0.81, NPS 0.70, CES 0.57).
    # The AUC ranking must be that ranking, and no pair may be ranked against the truth with a
    # significant paired DeLong test (default sample: AUC CSAT 0.585 > NPS 0.577 > CES 0.567).
    ranking = sample_truth["loyalty"]["metric_predictive_ranking"]
    res = cx.loyalty_prediction(sample["surveys"], sample["customers"], n_boot=50, seed=0)
    auc = res.auc.set_index("metric")["auc"]
    assert list(auc.sort_values(ascending=False).index) == ranking
    for row in res.paired.itertuples():
        truth_better = row.metric_a if ranking.index(row.metric_a) < ranking.index(row.metric_b) else row.metric_b
        other = row.metric_b if truth_better == row.metric_a else row.metric_a
        assert not (auc[truth_better] < auc[other] and row.p_delong < 0.05)
    assert (auc > 0.5).all()


# ---------------------------------------------------------------------------
# helpers used by notebook 01
# ---------------------------------------------------------------------------


def test_join_contacts_keeps_every_response():
    s = pd.DataFrame({"response_id": ["r1", "r2", "r3"], "interaction_id": ["i1", None, "i9"], "csat": [5, 4, 3]})
    i = pd.DataFrame({"interaction_id": ["i1", "i2"], "queue": ["billing", "sales"], "resolved": [True, False]})
    out = cx.join_contacts(s, i, columns=["queue", "resolved", "channel"])
    assert out["response_id"].tolist() == ["r1", "r2", "r3"]
    assert out["queue"].tolist()[0] == "billing" and out["queue"].isna().tolist() == [False, True, True]
    assert out.attrs["unlinked"] == 2 and "channel" not in out.columns


def test_default_margin_and_required_n_agree():
    for metric, kw in (("csat", {}), ("csat", {"csat": "mean"}), ("nps", {}), ("ces", {}), ("ces", {"ces": "agree"})):
        m = cx.default_margin(metric, **kw)
        # closed form: 5 points per 100 of the range -> worst case n = ceil(1.96^2 / (4 * 0.05^2)) = 385
        assert cx.required_n(metric=metric, moe=m, **kw) == 385


def test_recommend_metric_rule():
    auc = pd.DataFrame({"metric": ["csat", "nps"], "auc": [0.60, 0.65]})
    sig = cx.LoyaltyResult(auc=auc, paired=pd.DataFrame({"metric_a": ["csat"], "metric_b": ["nps"], "p_delong": [0.01]}),
                           coverage=pd.DataFrame(), recommended="nps")
    r = cx.recommend_metric(sig, current="csat").iloc[0]
    assert r["recommended"] == "nps" and r["diff"] == pytest.approx(0.05)
    tie = cx.LoyaltyResult(auc=auc, paired=pd.DataFrame({"metric_a": ["csat"], "metric_b": ["nps"], "p_delong": [0.3]}),
                           coverage=pd.DataFrame(), recommended="nps")
    assert cx.recommend_metric(tie, current="csat")["recommended"].iloc[0] == "csat"
    assert cx.recommend_metric(tie, current="nps")["recommended"].iloc[0] == "nps"


def test_loyalty_revenue_customer_without_revenue_is_left_out():
    r = pd.DataFrame({"customer_id": list("abcdefg"), "csat": [5.0, 4, 3, 2, 1, 5, 3],
                      "responded_at": pd.Timestamp("2025-02-10", tz="UTC")})
    rev = pd.DataFrame({"customer_id": np.repeat(list("abcdef"), 2),
                        "month": np.tile(pd.to_datetime(["2025-01-01", "2025-03-01"]), 6),
                        "revenue": [10, 12, 10, 11, 10, 10, 10, 9, 10, 8, 10, 13.0]})
    cust = pd.DataFrame({"customer_id": list("abcdefg")})
    out = cx.loyalty_revenue(r, rev, customers=cust, metrics=["csat"], horizon_days=30, end="2025-12-31").iloc[0]
    assert out["n_customers"] == 6  # g has no revenue rows: unknown change, not zero
    # the six customers with revenue only: March - January = 2, 1, 0, -1, -2, 3; scipy.stats.spearmanr
    change = np.array([2, 1, 0, -1, -2, 3.0])
    assert out["r"] == pytest.approx(stats.spearmanr([5, 4, 3, 2, 1, 5], change).statistic)
    assert out["mean_change"] == pytest.approx(0.5)  # (2 + 1 + 0 - 1 - 2 + 3) / 6
