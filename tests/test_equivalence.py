"""Tests of cxlab.verify.equivalence.tost."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.stats.weightstats import ttost_ind

from cxlab.verify import tost


@pytest.mark.parametrize("usevar", ["unequal", "pooled"])
def test_matches_statsmodels_ttost_ind(usevar):
    rng = np.random.default_rng(7)
    x, y = rng.normal(80, 12, 40), rng.normal(79, 20, 55)
    res = tost(x, y, margin=5.0, usevar=usevar).iloc[0]
    # statsmodels.stats.weightstats.ttost_ind(x, y, low, upp, usevar)
    p, (t1, p1, df1), (t2, p2, df2) = ttost_ind(x, y, -5.0, 5.0, usevar=usevar)
    assert res["p_equiv"] == pytest.approx(p, abs=1e-10)
    assert res["t_lower"] == pytest.approx(t1, abs=1e-10) and res["p_lower"] == pytest.approx(p1, abs=1e-10)
    assert res["t_upper"] == pytest.approx(t2, abs=1e-10) and res["p_upper"] == pytest.approx(p2, abs=1e-10)
    assert res["df"] == pytest.approx(df1, abs=1e-10)


def test_closed_form_pooled():
    x, y = [3, 4, 5, 4, 4], [4, 4, 3, 5, 4]
    res = tost(x, y, margin=1.0, usevar="pooled").iloc[0]
    # closed form: equal means, s_p^2 = 0.5, se = sqrt(0.5 * 2/5) = sqrt(0.2), df = 8; p = t.sf(1/sqrt(0.2), 8)
    se = math.sqrt(0.2)
    assert res["se"] == pytest.approx(se, abs=1e-12)
    assert res["p_equiv"] == pytest.approx(stats.t.sf(1 / se, 8), abs=1e-12)
    q = stats.t.ppf(0.95, 8)
    assert (res["ci_low"], res["ci_high"]) == pytest.approx((-q * se, q * se), abs=1e-12)
    assert res["equivalent"] and res["sentence"] == "within ±1 points (equivalence p = 0.028)"


def test_not_equivalent_sentence():
    res = tost([1, 2, 3, 4], [2, 3, 5, 9], margin=0.5).iloc[0]
    assert not res["equivalent"]
    assert res["sentence"].startswith("an effect of ±0.5 points cannot be ruled out")


def test_regression_form_cr1_by_agent():
    rng = np.random.default_rng(3)
    agents = np.repeat(np.arange(20), 15)
    f = pd.DataFrame({"agent_id": [f"a{i}" for i in agents], "treated": agents < 10,
                      "tenure": rng.normal(size=300)})
    f["y"] = 0.2 * f["treated"] + 0.5 * f["tenure"] + np.repeat(rng.normal(size=20), 15) + rng.normal(size=300)
    res = tost(f, margin=1.5, outcome="y", treat="treated", cluster="agent_id", covariates=["tenure"]).iloc[0]
    # statsmodels OLS with cov_type="cluster" (CR1 correction, default) and t with G - 1 = 19 df
    m = smf.ols("y ~ treated + tenure", f.assign(treated=f["treated"].astype(float))).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(f["agent_id"])[0]})
    b, se = m.params["treated"], m.bse["treated"]
    assert res["estimate"] == pytest.approx(b, rel=1e-10) and res["se"] == pytest.approx(se, rel=1e-10)
    p = max(stats.t.sf((b + 1.5) / se, 19), stats.t.cdf((b - 1.5) / se, 19))
    assert res["p_equiv"] == pytest.approx(p, abs=1e-10) and res["method"] == "cr1" and res["df"] == 19


def test_errors():
    with pytest.raises(ValueError, match="margin must be a positive number"):
        tost([1, 2], [3, 4], margin=0)
    with pytest.raises(ValueError, match="usevar must be one of"):
        tost([1, 2], [3, 4], margin=1, usevar="welch")
    with pytest.raises(ValueError, match="pass two samples"):
        tost([1, 2, 3], margin=1)
    with pytest.raises(ValueError, match="needs outcome, treat and cluster"):
        tost(pd.DataFrame({"y": [1.0]}), margin=1)
