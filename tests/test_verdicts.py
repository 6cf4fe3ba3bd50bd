"""Step 6's verdict vocabulary (issue 18 item 2) on constructed results: held / did not hold / inconclusive."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cxlab.verify import LABELS, next_pilot, pilot_design, verdict, verdict_record

HELD, NOT_HELD, INCONCLUSIVE = LABELS


@pytest.mark.parametrize(
    "obs,ci,pred,pred_ci,p_equiv,label,opening",
    [
        # excludes 0, covers the prediction
        (2.8, (1.2, 4.4), 3.0, None, None, HELD, "The pilot confirmed the prediction:"),
        # the difference CI covers 0 once the prediction's own SE counts (1.96 * hypot(0.255, 1.43) = 2.85 > 2)
        (1.0, (0.5, 1.5), 3.0, (0.2, 5.8), None, HELD, "The pilot confirmed the prediction:"),
        # real but a third of the prediction: the interval excludes the prediction
        (1.0, (0.5, 1.5), 3.0, None, None, NOT_HELD, "The effect was real but clearly smaller than predicted:"),
        (5.0, (4.0, 6.0), 3.0, None, None, NOT_HELD, "The effect was real but clearly larger than predicted:"),
        # opposite sign
        (-2.0, (-3.0, -1.0), 3.0, None, None, NOT_HELD, "The pilot contradicted the prediction:"),
        # covers 0, excludes the prediction
        (0.2, (-0.8, 1.2), 3.0, None, None, NOT_HELD, "The pilot found no effect of the predicted size:"),
        # covers both 0 and the prediction (se 1.43), but TOST rules out ±3: the 90% CI ends at 0.4 + 1.645·1.43 = 2.75
        (0.4, (-2.4, 3.2), 3.0, None, 0.03, NOT_HELD, "An effect the size of the prediction is ruled out:"),
        # covers both, equivalence not shown
        (0.4, (-1.0, 3.8), 3.0, None, 0.2, INCONCLUSIVE, "The pilot was too small to tell:"),
        (-0.5, (-1.5, 0.5), -1.0, None, None, INCONCLUSIVE, "The pilot was too small to tell:"),
        # a real effect in the predicted direction whose interval also covers the prediction is held,
        # whatever the equivalence p (it cannot be below alpha when the 95% CI covers the prediction)
        (1.9, (0.1, 3.7), 2.5, None, None, HELD, "The pilot confirmed the prediction:"),
    ],
)
def test_verdict_vocabulary(obs, ci, pred, pred_ci, p_equiv, label, opening):
    v = verdict(obs, ci, pred, pred_ci, equivalence_p=p_equiv, what="the CSAT effect", unit=" points")
    assert v.label == label
    assert v.reason.startswith(opening) and v.reason.endswith(".")
    assert v.reason.count(". ") == 0  # one sentence
    assert f"was {obs:+.1f} points (95% CI {ci[0]:+.1f} to {ci[1]:+.1f})" in v.reason
    assert v.excludes_zero == (ci[0] > 0 or ci[1] < 0)
    assert v.same_sign == (np.sign(obs) == np.sign(pred))


def test_verdict_without_an_interval_is_inconclusive():
    v = verdict(1.4, (float("nan"), float("nan")), 2.5, no_interval_reason="only one team was treated")
    assert v.label == INCONCLUSIVE
    assert "only one team was treated" in v.reason
    assert v.as_dict()["observed_ci_low"] is None


def test_verdict_difference_interval_closed_form():
    v = verdict(1.0, (0.5, 1.5), 3.0, (0.2, 5.8))
    # closed form: SE_o = 1/(2*1.96), SE_p = 5.6/(2*1.96); diff = -2 +- 1.96*sqrt(SE_o^2+SE_p^2)
    q = stats.norm.ppf(0.975)
    half = q * math.hypot(1.0 / (2 * q), 5.6 / (2 * q))
    assert (v.difference_ci_low, v.difference_ci_high) == (pytest.approx(-2 - half), pytest.approx(-2 + half))
    assert v.ratio == pytest.approx(1 / 3)
    json.dumps(v.as_dict())


def test_verdict_errors():
    with pytest.raises(ValueError, match="observed_ci must be"):
        verdict(1.0, (2.0, 0.0), 1.0)
    with pytest.raises(TypeError, match="observed_ci must be a pair"):
        verdict(1.0, 0.5, 1.0)


def test_next_pilot_from_the_power_calculation():
    # two-sample t, d = 2.5 / 40: R power.t.test(delta=2.5, sd=40, power=0.8) gives n = 4019.3 per group
    design = pilot_design(effect=2.5, sd=40.0, unit="contact", alpha=0.05, power=0.8, daily_n=50.0)
    t = design.set_index("method").loc["t"]
    assert t["n_per_arm"] == pytest.approx(4019.3, abs=0.5)
    nxt = next_pilot(design, start_date="2026-02-02", unit="contact")
    assert nxt["contacts_per_arm"] == math.ceil(t["n_per_arm"]) == 4020
    assert nxt["days"] == math.ceil(t["n_per_arm"] / 50.0) == 81
    assert (nxt["start_date"], nxt["end_date"]) == ("2026-02-02", "2026-04-23")
    assert nxt["units_per_arm"] is None


def test_verdict_record_for_each_label():
    inf = {"method": "wild_bootstrap", "why": "12 clusters (6 treated)", "warning": None}
    nxt = {"unit": "team", "units_per_arm": 6, "contacts_per_arm": 5000, "days": 120, "start_date": "2026-02-02"}
    records = {}
    for obs, ci in ((2.8, (1.2, 4.4)), (-2.0, (-3.0, -1.0)), (0.4, (-1.0, 3.8))):
        v = verdict(obs, ci, 3.0, (1.0, 5.0))
        r = verdict_record(v, prediction_source="step 05 what-if: resolved +5 pts", inference=inf,
                           next_pilot=nxt, cx_metric="csat")
        json.dumps(r)
        records[r["label"]] = r
        assert (r["effect"], r["ci_low"], r["ci_high"], r["prediction"]) == (obs, ci[0], ci[1], 3.0)
        assert r["prediction_source"] == "step 05 what-if: resolved +5 pts" and r["inference"] == inf
        assert r["sentence"] == r["reason"] and r["cx_metric"] == "csat"
    assert set(records) == set(LABELS)
    assert records[INCONCLUSIVE]["next_pilot"]["days"] == 120
    assert records[HELD]["next_pilot"] is None and records[NOT_HELD]["next_pilot"] is None


def test_verdict_uses_the_readout_equivalence(tmp_path):
    # a null pilot with a tight interval: TOST against ±prediction rejects, so "did not hold"
    from cxlab.verify import pilot_readout

    rng = np.random.default_rng(4)
    G, T = 12, 30
    panel = pd.DataFrame({"team": np.repeat([f"t{g:02d}" for g in range(G)], T),
                          "date": np.tile(pd.date_range("2025-01-01", periods=T), G)})
    panel["treated"] = panel["team"] < "t06"
    panel["y"] = rng.normal(0, 0.3, len(panel))
    e = pilot_readout(panel, outcome="y", treated_col="treated", start_date="2025-01-16", margin=1.0).effects.loc[0]
    assert e["inference"] == "wild_bootstrap" and e["equivalent"]
    v = verdict(e["estimate"], (e["ci_low"], e["ci_high"]), 1.0, equivalence_p=e["p_equiv"])
    assert v.label == NOT_HELD


def test_size_next_pilot_calibrated_on_the_pilot_and_from_the_history():
    from cxlab.verify import size_next_pilot

    rng = np.random.default_rng(2)
    days = pd.date_range("2025-01-01", periods=40)
    pf = pd.DataFrame({"team": np.repeat([f"t{i}" for i in range(8)], 40 * 5),
                       "date": np.tile(np.repeat(days, 5), 8)})
    pf["cx_value"] = rng.choice([0.0, 100.0], len(pf), p=[0.2, 0.8])
    pf["surveyed"] = True
    s = size_next_pilot(effect=3.0, days=90, pilot=pf, start_date="2025-01-31", se=2.0, n=len(pf))
    sd = pf.loc[pf["date"] < "2025-01-31", "cx_value"].std()
    # closed form: N_eff = 2 (SD / SE)^2 per arm over the 10 pilot days; design effect = (n / 2) / N_eff
    assert s["calibrated"] and s["post_days"] == 10
    assert s["n_eff"] == pytest.approx(2 * (sd / 2.0) ** 2)
    assert s["design_effect"] == pytest.approx(len(pf) / 2 / s["n_eff"])
    t = s["design"].set_index("method").loc["t"]
    assert t["given_n"] == pytest.approx(s["n_eff"] / 10 * 90)
    h = size_next_pilot(effect=3.0, days=90, responses=pf, cluster="team")
    assert not h["calibrated"] and h["n_units"] == 8 and h["per_unit_day"] == pytest.approx(5.0)
    with pytest.raises(Exception, match="only 2 team"):
        size_next_pilot(effect=3.0, days=90, responses=pf[pf["team"].isin(["t0", "t1"])], cluster="team")
