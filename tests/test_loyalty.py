"""Tests of cxlab.focus.loyalty: churn model, average marginal effect, the value-of-change chain."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from cxlab.errors import DataError
from cxlab.focus import loyalty

T0 = pd.Timestamp("2025-03-10 12:00", tz="UTC")
CHURN_AT = pd.Timestamp("2025-05-01", tz="UTC")
END = "2025-12-31"


def _logistic(z):
    return 1.0 / (1.0 + np.exp(-z))


# ---------------------------------------------------------------------------
# a saturated 2x2 table: the logit coefficients are log-odds computable by hand
# ---------------------------------------------------------------------------
# top-2-box (csat 5): 100 customers, 10 churn; not top-2 (csat 2): 50 customers, 15 churn.


def _table_2x2(revenue: bool = False):
    n1, k1, n0, k0 = 100, 10, 50, 15
    csat = np.r_[np.full(n1, 5.0), np.full(n0, 2.0)]
    churn = np.r_[np.arange(n1) < k1, np.arange(n0) < k0]
    ids = [f"c{i:03d}" for i in range(n1 + n0)]
    r = pd.DataFrame({"customer_id": ids, "responded_at": T0, "csat": csat})
    c = pd.DataFrame({"customer_id": ids, "first_seen": pd.Timestamp("2024-01-01", tz="UTC"),
                      "churned_at": pd.Series(CHURN_AT, index=range(len(ids))).where(churn)})
    if not revenue:
        return r, c
    # revenue: 100/month in Jan-Feb; from April on, top-2 customers +8 (alternating ±2), others -4
    months = pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01", "2025-04-01", "2025-05-01", "2025-06-01"])
    rows = []
    for i, cid in enumerate(ids):
        top = csat[i] >= 4
        for m in months:
            v = 100.0
            if m >= pd.Timestamp("2025-04-01"):
                v += (8.0 + (2.0 if i % 2 else -2.0)) if top else -4.0
            rows.append((cid, m, v))
    rev = pd.DataFrame(rows, columns=["customer_id", "month", "revenue"])
    return r, c, rev


def test_churn_logit_matches_closed_form_and_statsmodels():
    r, c = _table_2x2()
    m = loyalty.churn_model(r, c, end=END)
    coef = m.coef[m.coef["model"] == "churn"].set_index("term")
    # closed form (saturated logit): const = log-odds of churn when not top-2 = log(15/35);
    # slope = log odds ratio = log((10/90) / (15/35)); SE(log OR) = sqrt(1/10 + 1/90 + 1/15 + 1/35) (Woolf)
    assert coef.loc["const", "coef"] == pytest.approx(math.log(15 / 35), abs=1e-8)
    assert coef.loc["score", "coef"] == pytest.approx(math.log((10 / 90) / (15 / 35)), abs=1e-8)
    assert coef.loc["score", "se"] == pytest.approx(math.sqrt(1 / 10 + 1 / 90 + 1 / 15 + 1 / 35), rel=1e-6)
    # statsmodels Logit(y, add_constant(x)).fit(): same coefficients and Wald CI
    x = (r["csat"] >= 4).to_numpy(float)
    y = c["churned_at"].notna().to_numpy(float)
    ref = sm.Logit(y, sm.add_constant(x)).fit(disp=0)
    ci = ref.conf_int(alpha=0.05)
    assert coef.loc["score", "ci_low"] == pytest.approx(ci[1, 0], abs=1e-6)
    assert coef.loc["score", "ci_high"] == pytest.approx(ci[1, 1], abs=1e-6)
    assert int(coef.loc["score", "n"]) == 150


def test_average_marginal_effect_closed_form():
    r, c = _table_2x2()
    m = loyalty.churn_model(r, c, end=END)
    ame = m.ame.iloc[0]
    # closed form: a 0/1 score's AME is the discrete change P(churn | top-2) - P(churn | not) = 10/100 - 15/50
    assert ame["kind"] == "discrete"
    assert ame["ame"] == pytest.approx(0.10 - 0.30, abs=1e-8)
    # statsmodels get_margeff(at="overall", dummy=True): same value and delta-method SE
    x = (r["csat"] >= 4).to_numpy(float)
    y = c["churned_at"].notna().to_numpy(float)
    mfx = sm.Logit(y, sm.add_constant(x)).fit(disp=0).get_margeff(at="overall", dummy=True)
    assert ame["ame"] == pytest.approx(mfx.margeff[0], abs=1e-8)
    assert ame["se"] == pytest.approx(mfx.margeff_se[0], rel=1e-6)
    # closed form of the derivative AME (dydx) with the same fit: beta * mean p(1 - p) over the 150 customers,
    # which the bootstrap helper uses for non-binary scores
    beta = np.array([math.log(15 / 35), math.log((10 / 90) / (15 / 35))])
    by_hand = beta[1] * (100 * 0.1 * 0.9 + 50 * 0.3 * 0.7) / 150
    assert loyalty._ame(beta, x, None, binary=False) == pytest.approx(by_hand, abs=1e-12)


def test_weighted_logit_equals_expanded_data():
    # statsmodels Logit on the data repeated by its frequency weights (a bootstrap resample)
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, 300)
    y = (rng.random(300) < _logistic(-1 + 0.8 * x)).astype(float)
    w = rng.integers(0, 3, 300).astype(float)
    rep = np.repeat(np.arange(300), w.astype(int))
    ref = sm.Logit(y[rep], sm.add_constant(x[rep])).fit(disp=0).params
    np.testing.assert_allclose(loyalty._logit_fit(x, y, w), ref, atol=1e-8)


def test_logit_fit_singular_hessian_gives_nan():
    # a resample whose score is constant at 0: the Hessian X'WX = [[a, 0], [0, 0]] is singular, no slope exists
    y = np.r_[np.ones(5), np.zeros(5)]
    assert np.isnan(loyalty._logit_fit(np.zeros(10), y)).all()
    # a score that varies: the saturated fit's slope is the log odds ratio (closed form)
    x = np.r_[np.ones(4), np.zeros(6)]
    y = np.r_[1.0, 1, 1, 0, 1, 0, 0, 0, 0, 0]
    np.testing.assert_allclose(loyalty._logit_fit(x, y), [math.log(1 / 5), math.log((3 / 1) / (1 / 5))], atol=1e-10)


def test_revenue_change_slope_is_difference_of_group_means():
    r, c, rev = _table_2x2(revenue=True)
    m = loyalty.churn_model(r, c, end=END, customer_revenue=rev)
    coef = m.coef[m.coef["model"] == "revenue_change"].set_index("term")
    # closed form: OLS on a 0/1 regressor -> slope = mean change(top-2 stayers) - mean change(others' stayers);
    # after (Apr-Jun) - before (Jan-Feb): top-2 +8 on average, others -4 -> slope 12, const -4
    assert coef.loc["score", "coef"] == pytest.approx(12.0, abs=1e-9)
    assert coef.loc["const", "coef"] == pytest.approx(-4.0, abs=1e-9)
    # stayers only: 90 + 35 customers
    assert int(coef.loc["score", "n"]) == 125
    # level = mean monthly revenue over the anchor month and the months before it: 100
    assert m.data["monthly_revenue"].mean() == pytest.approx(100.0)


# ---------------------------------------------------------------------------
# coverage and bad inputs
# ---------------------------------------------------------------------------


def test_no_customers_table_is_a_clear_error():
    r, _ = _table_2x2()
    frame = r.assign(cx_value=np.where(r["csat"] >= 4, 100.0, 0.0), lever=1.0)
    with pytest.raises(DataError, match="customers table is required"):
        loyalty.value_of_change(frame, r, None, changes={"lever": 0.1}, drivers=["lever"])
    with pytest.raises(DataError, match="customers table is required"):
        loyalty.churn_model(r, None)
    with pytest.raises(DataError, match=r"customers table column\(s\) \['churned_at'\] not in the frame"):
        loyalty.churn_model(r, pd.DataFrame({"customer_id": r["customer_id"]}))


def test_churn_before_first_contact_and_unknown_customers_are_counted():
    r, c = _table_2x2()
    # customer c000 (top-2, not churned) gets a churn date before first_seen; two extra responses come
    # from a customer not in the table; one more customer never answered a survey
    c.loc[0, "churned_at"] = pd.Timestamp("2023-06-01", tz="UTC")
    c = pd.concat([c, pd.DataFrame({"customer_id": ["silent"], "first_seen": pd.Timestamp("2024-01-01", tz="UTC"),
                                    "churned_at": pd.NaT})], ignore_index=True)
    extra = pd.DataFrame({"customer_id": ["ghost", "ghost"], "responded_at": T0, "csat": [5.0, 1.0]})
    r = pd.concat([r, extra], ignore_index=True)
    m = loyalty.churn_model(r, c, end=END)
    cov = m.coverage.set_index("item")["n"]
    assert cov["customers_churned_before_first_seen"] == 1
    assert cov["responses_of_excluded_customers"] == 1
    assert cov["unmatched_responses"] == 2
    assert cov["customers_without_survey"] == 1
    assert cov["customers_analysed"] == 149
    assert cov["responses"] == 152
    assert "before first_seen" in m.coverage.set_index("item").loc["customers_churned_before_first_seen", "note"]
    assert "c000" not in set(m.data["customer_id"])


def test_churn_must_vary():
    r, c = _table_2x2()
    with pytest.raises(DataError, match="does not vary"):
        loyalty.churn_model(r, c.assign(churned_at=pd.NaT), end=END)


# ---------------------------------------------------------------------------
# the chain where the truth is known exactly
# ---------------------------------------------------------------------------
# Truth (built here): lever ~ U(-1, 1); CES = 4 + 1.0 * lever + N(0, 0.5^2) (a linear driver model, slope 1);
# churn within the horizon ~ Bernoulli(logistic(1.0 - 0.8 * CES)); revenue 50/month before the anchor month,
# and after it 50 + 3 * CES + N(0, 5^2) for stayers (revenue-change slope gamma = 3 per CES point).
# Change: lever +0.5 -> true CX change 0.5; true churn change = 0.5 * mean_i(-0.8 p_i (1 - p_i)) with
# p_i = logistic(1 - 0.8 CES_i) on the observed customers (the AME at the true coefficients); with E = 10,000
# customer episodes a year: retained = -churn change * E; revenue = retained * 12 * 50 + E * 3 * 0.5 * 12.

ALPHA, BETA, GAMMA, SLOPE, DELTA, E = 1.0, -0.8, 3.0, 1.0, 0.5, 10_000.0


@pytest.fixture(scope="module")
def synthetic():
    rng = np.random.default_rng(20251)
    n = 20_000
    lever = rng.uniform(-1, 1, n)
    ces = 4 + SLOPE * lever + rng.normal(0, 0.5, n)
    assert ces.min() > 1 and ces.max() < 7
    churn = rng.random(n) < _logistic(ALPHA + BETA * ces)
    ids = np.array([f"s{i:05d}" for i in range(n)], dtype=object)
    r = pd.DataFrame({"customer_id": ids, "responded_at": T0, "ces": ces})
    c = pd.DataFrame({"customer_id": ids, "first_seen": pd.Timestamp("2024-01-01", tz="UTC"),
                      "churned_at": pd.Series(CHURN_AT, index=range(n)).where(churn)})
    months = pd.date_range("2025-01-01", "2025-09-01", freq="MS")
    rev = pd.DataFrame({"customer_id": np.repeat(ids, len(months)), "month": np.tile(months, n)})
    after = np.tile(months > pd.Timestamp("2025-03-01"), n)
    rev["revenue"] = 50.0 + after * (GAMMA * np.repeat(ces, len(months)) + rng.normal(0, 5, len(rev)))
    # churners have no revenue rows after churning (May)
    gone = np.repeat(churn, len(months)) & (rev["month"] >= pd.Timestamp("2025-05-01")).to_numpy()
    rev = rev[~gone].reset_index(drop=True)
    frame = r.assign(cx_value=ces, lever=lever)
    truth_churn = DELTA * float(np.mean(BETA * _logistic(ALPHA + BETA * ces) * (1 - _logistic(ALPHA + BETA * ces))))
    kept = -truth_churn * E
    truth = {"cx_change": SLOPE * DELTA, "churn_change": 100 * truth_churn, "customers_retained_per_year": kept,
             "annual_revenue_per_customer": 600.0,
             "revenue_per_year": kept * 600.0 + E * GAMMA * DELTA * 12}
    v = loyalty.value_of_change(frame, r, c, changes={"lever": DELTA}, metric="ces", drivers=["lever"],
                                n_boot=200, seed=1, customers_per_year=E, revenue=rev, end=END)
    return v, truth


@pytest.mark.parametrize("link,rel", [
    ("cx_change", 0.03), ("churn_change", 0.10), ("customers_retained_per_year", 0.10),
    ("annual_revenue_per_customer", 1e-9), ("revenue_per_year", 0.05),
])
def test_chain_recovers_known_truth(synthetic, link, rel):
    v, truth = synthetic
    row = v.chain.set_index("link").loc[link]
    # truth built into the synthetic data (see the comment above the fixture); tolerance ~3 standard errors
    assert row["estimate"] == pytest.approx(truth[link], rel=rel)
    # the joint bootstrap percentile CI covers the true value
    assert row["ci_low"] <= truth[link] <= row["ci_high"]


def test_chain_bookkeeping(synthetic):
    v, _ = synthetic
    c = v.chain.set_index("link")
    # the links multiply out: churn change = AME per unit * CX change; revenue = retained * annual + spend
    assert c.loc["churn_change", "estimate"] == pytest.approx(
        c.loc["churn_per_cx_unit", "estimate"] * c.loc["cx_change", "estimate"])
    assert c.loc["revenue_per_year", "estimate"] == pytest.approx(
        c.loc["revenue_retained_per_year", "estimate"] + c.loc["revenue_change_per_year", "estimate"])
    assert c.loc["customers_retained_per_year", "estimate"] == pytest.approx(
        -c.loc["churn_change", "estimate"] / 100 * E)
    assert v.exposures_per_year == E
    assert list(v.chain.columns) == ["link", "estimate", "ci_low", "ci_high", "unit"]
    assert v.replicates.shape == (200, len(v.chain))
    # the sentence carries the chain's own numbers (two significant digits for customers)
    text = loyalty.describe_value(v)
    kept = c.loc["customers_retained_per_year"]
    assert text.startswith(f"Raising lever by 0.5 would lift CES by {c.loc['cx_change', 'estimate']:.2f} points")
    assert f"keep about {loyalty._sig(kept['estimate'])} customers a year [{loyalty._sig(kept['ci_low'])}, " in text


def test_bad_change_column():
    r, c = _table_2x2()
    frame = r.assign(cx_value=np.where(r["csat"] >= 4, 100.0, 0.0), lever=np.linspace(0, 1, len(r)))
    with pytest.raises(DataError, match=r"driver column\(s\) \['nope'\]"):
        loyalty.value_of_change(frame, r, c, changes={"nope": 1}, drivers=["lever"])


# ---------------------------------------------------------------------------
# the default sample: the money what-if against the structural model
# ---------------------------------------------------------------------------


def structural_value_of_resolution(truth: dict, tables: dict, *, resolution_points: float) -> dict:
    """Customers kept and revenue per year implied by the sample's structural model.

    The intervention: every handled contact's probability of TRUE resolution rises by
    ``resolution_points`` / 100 (the draws are coupled as in the sample's pilot: contact i is
    resolved iff u_i < p_i + delta, capped at ``resolution_model.max_probability``), so a contact
    that flips to resolved gains ``latent_model.resolved`` on latent S; repeat contacts are not
    re-simulated (as ``ground_truth()["pilot"]["effect_on"]``). Through ``ground_truth()["loyalty"]``:

    * churn: P(trigger) = logistic(churn_trigger_intercept + churn_trigger_satisfaction * S) after each
      handled contact; customers kept = sum over customers of prod(1 - P1) - prod(1 - P0) over their
      contacts of the year (the baseline hazard is left out: it is the same in both worlds);
    * revenue kept = sum over customers of that change * 12 * the customer's mean monthly revenue
      (``customer_revenue``), a yearly run-rate;
    * spend: each customer-month with handled contacts changes products_held by the change of
      E[clip(held + up - down, 1, offered)] with P(up) = logistic(products_intercept +
      products_satisfaction * (Sbar - reference)), P(down) likewise with the sign flipped, valued at
      price_per_product * the customer's factor * 12 (a yearly run-rate; the change persists).

    ground_truth() has the coefficients but not the per-contact latent S, true resolution, the
    resolution probabilities and their uniform draws, nor the per-customer price factor; they are
    taken from the seeded simulation (``cxlab.sample.simulate.run_simulation``), which is what makes this exact.
    """
    from cxlab.sample.model import SEGMENTS
    from cxlab.sample.simulate import revenue_months, run_simulation

    sim = run_simulation(truth["seed"], truth["days"], truth["contacts_per_day"], truth["start"])
    c = sim.c
    ans = ~c["abandoned"]
    lm, rm, lo = truth["latent_model"], truth["resolution_model"], truth["loyalty"]
    S0 = c["S"].astype(float)
    p = np.minimum(c["p0"].astype(float) + rm["pilot"] * c["treated"], rm["max_probability"])
    r1 = ans & (c["u_res"] < np.minimum(p + resolution_points / 100, rm["max_probability"]))
    flip = r1 & ~c["res"]
    S1 = S0 + lm["resolved"] * flip
    ncust = sim.cust["segment"].size

    def stay(S):
        pt = np.where(ans, _logistic(lo["churn_trigger_intercept"] + lo["churn_trigger_satisfaction"] * S), 0.0)
        return np.exp(np.bincount(c["cust"], weights=np.log1p(-pt), minlength=ncust))

    kept = stay(S1) - stay(S0)
    rev = tables["customer_revenue"]
    cid = rev["customer_id"].to_numpy(object)
    mean_rev = rev.groupby(cid, sort=False)["revenue"].mean()
    monthly = np.zeros(ncust)
    monthly[np.array([int(s[1:]) - 1 for s in mean_rev.index])] = mean_rev.to_numpy()  # ids are C + (index + 1)

    seg = sim.cust["segment"]
    price = np.array([lo["price_per_product"][g] for g in SEGMENTS])[seg] * sim.cust["factor"]
    offered = np.array([lo["products_offered"][g] for g in SEGMENTS])[seg]
    held = []
    for _, rows in revenue_months(sim):
        h = np.full(ncust, np.nan)
        h[rows["cust"]] = rows["held"]
        held.append(h)
    month = sim.cal.month[c["day"]]
    a, b, ref = lo["products_intercept"], lo["products_satisfaction"], lo["products_reference_s"]
    spend = 0.0
    for mi in range(1, len(held)):  # the first month has no product change
        sel = ans & (month == mi)
        if not (sel & flip).any():
            continue
        cu = c["cust"][sel]
        cnt = np.bincount(cu, minlength=ncust)
        m = cnt > 0
        h = np.nan_to_num(held[mi - 1][m], nan=1.0)
        off = offered[m]

        def e_change(S, m=m, cu=cu, cnt=cnt, h=h, off=off, sel=sel):
            sbar = np.bincount(cu, weights=S[sel], minlength=ncust)[m] / cnt[m] - ref
            up, down = _logistic(a + b * sbar), _logistic(a - b * sbar)
            return np.where(h <= 1, up * (1 - down), np.where(h >= off, -down * (1 - up), up - down))

        spend += float(((e_change(S1) - e_change(S0)) * price[m] * 12).sum())
    kept_rev = float((kept * monthly * 12).sum())
    return {"customers_retained_per_year": float(kept.sum()), "revenue_retained_per_year": kept_rev,
            "revenue_change_per_year": spend, "revenue_per_year": kept_rev + spend,
            "flipped_contacts": int(flip.sum())}


@pytest.fixture(scope="module")
def sample_value(sample):
    from cxlab.sources import frames as enrich

    frame = enrich.contact_frame(sample, cx_metric="csat", timezone="America/New_York")
    return loyalty.value_of_change(frame, sample["surveys"], sample["customers"], changes={"resolved": 0.05},
                                   n_boot=100, seed=0, revenue=sample["customer_revenue"],
                                   interactions=sample["interactions"])


def test_sample_money_what_if_covers_structural_truth(sample, sample_truth, sample_value):
    # truth: structural_value_of_resolution (docstring): true resolution +5 points on every handled contact,
    # carried through ground_truth()["loyalty"]'s churn-trigger and products models
    true = structural_value_of_resolution(sample_truth, sample, resolution_points=5.0)
    c = sample_value.chain.set_index("link")
    for link in ("customers_retained_per_year", "revenue_per_year"):
        assert c.loc[link, "ci_low"] <= true[link] <= c.loc[link, "ci_high"], (link, true[link], c.loc[link].to_dict())
    # the exposure: handled contacts starting an episode (no contact within 7 days before), about 221,000
    assert 2.0e5 < sample_value.exposures_per_year < 2.4e5
    # by hand (the docstring's definition): customer episodes per year = handled contacts whose customer had no
    # contact (answered or not) in the 7 days before, scaled from the interactions' time span to 365 days
    i = sample["interactions"].sort_values(["customer_id", "arrived_at"])
    gap = i["arrived_at"] - i.groupby("customer_id")["arrived_at"].shift(1)
    starts = int((~i["abandoned"] & ~(gap <= pd.Timedelta(days=7))).sum())
    span_days = (i["arrived_at"].max() - i["arrived_at"].min()) / pd.Timedelta(days=1)
    assert sample_value.exposures_per_year == pytest.approx(starts * 365.0 / span_days, rel=1e-9)


def test_sample_coverage_and_sentence(sample_value):
    cov = sample_value.coverage.set_index("item")["n"]
    # every customer is accounted for: analysed + each exclusion = the customers table
    parts = ["customers_without_survey", "customers_response_too_recent", "customers_churned_before_anchor",
             "customers_metric_missing", "customers_analysed"]
    assert sum(cov[p] for p in parts) == cov["customers"]
    assert cov["customers_churned_before_first_seen"] == 0
    # closed form (saturated logit on a 0/1 score): the AME is the difference of the churn rates of the
    # top-2-box and the other analysed customers; churn_per_cx_unit = 100 AME / s with s = 100 (CSAT points)
    d = sample_value.churn.data
    by_hand = d.loc[d["score"] == 1, "churned"].mean() - d.loc[d["score"] == 0, "churned"].mean()
    assert sample_value.churn.ame["ame"].iloc[0] == pytest.approx(by_hand, abs=1e-9)
    c = sample_value.chain.set_index("link")
    assert c.loc["churn_per_cx_unit", "estimate"] == pytest.approx(by_hand, abs=1e-9)
    # the sentence carries the chain's own numbers: customers to two significant digits, money in $M
    text = loyalty.describe_value(sample_value)
    assert text.startswith("Raising resolution by 5 points would lift CSAT top-2-box by ")
    k = c.loc["customers_retained_per_year"]
    m = c.loc["revenue_per_year", ["estimate", "ci_low", "ci_high"]].astype(float) / 1e6
    sig = loyalty._sig
    assert f"keep about {sig(k['estimate'])} customers a year [{sig(k['ci_low'])}, {sig(k['ci_high'])}]" in text
    assert text.endswith(f"about ${m['estimate']:.1f}M of revenue a year [{m['ci_low']:.1f}, {m['ci_high']:.1f}].")
