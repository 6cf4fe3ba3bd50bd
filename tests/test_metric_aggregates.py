"""The CX headline from aggregate KPI sheets (cxlab.metric.summarize_aggregates).

References beside each expected value: statsmodels' Wilson interval, and the responses that attain the
variance bounds (answers only at the ends of the scale; NPS without passives), where the aggregate
interval must equal cxlab.metric.summarize on those responses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxlab import metric
from cxlab.errors import DataError


def _sheet(**cols):
    days = pd.to_datetime(["2025-01-06", "2025-01-06", "2025-01-07", "2025-01-07"], utc=True)
    return pd.DataFrame({"period_start": days, "queue": ["q1", "q2", "q1", "q2"], **cols})


def test_top2_share_is_the_binomial_count_wilson_interval():
    from statsmodels.stats.proportion import proportion_confint

    a = _sheet(csat_top2=[0.8, 0.5, 0.7, 0.25], csat_n=[30, 10, 20, 8], answered=[300, 100, 200, 80])
    out = metric.summarize_aggregates(a, metric="csat").iloc[0]
    x = 0.8 * 30 + 0.5 * 10 + 0.7 * 20 + 0.25 * 8  # 24 + 5 + 14 + 2 = 45 of 68
    lo, hi = proportion_confint(45, 68, alpha=0.05, method="wilson")  # statsmodels reference
    assert x == pytest.approx(45) and out["n"] == 68
    assert out["value"] == pytest.approx(100 * 45 / 68, rel=1e-12)
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((100 * lo, 100 * hi), rel=1e-12)
    assert out["interval"] == "Wilson" and out["response_rate"] == pytest.approx(68 / 680)
    shown = metric.summary_table(metric.summarize_aggregates(a, metric="csat"))
    assert list(shown.columns) == ["n", "value", "ci", "response_rate"]  # "interval" is not a by column
    # the same 68 responses (45 answering 4-5) give the very same row through summarize
    resp = pd.DataFrame({"csat": [5] * 45 + [2] * 23})
    ref = metric.summarize(resp, metric="csat").iloc[0]
    for col in ("n", "value", "se", "ci_low", "ci_high", "moe", "n_required", "reliable", "small_n"):
        assert out[col] == pytest.approx(ref[col], rel=1e-12), col


def test_mean_interval_is_the_bhatia_davis_bound_attained_at_the_scale_ends():
    # 40 CSAT answers of 1 or 5 with mean 3.8: 28 fives and 12 ones (28*5 + 12 = 152 = 3.8*40); the
    # variance of such answers is the largest any answers with that mean can have: (3.8-1)(5-3.8)
    a = _sheet(csat_mean=[4.0, 3.5, 3.8, 3.8], csat_n=[10, 10, 10, 10])
    out = metric.summarize_aggregates(a, metric="csat", csat="mean").iloc[0]
    assert out["value"] == pytest.approx(3.775)
    a = _sheet(csat_mean=[3.8, 3.8, 3.8, 3.8], csat_n=[10, 10, 10, 10])
    out = metric.summarize_aggregates(a, metric="csat", csat="mean").iloc[0]
    ref = metric.summarize(pd.DataFrame({"csat": [5] * 28 + [1] * 12}), metric="csat", csat="mean").iloc[0]
    assert out["interval"] == "bound"
    for col in ("value", "se", "ci_low", "ci_high"):
        assert out[col] == pytest.approx(ref[col], rel=1e-12), col
    # any other answers with that mean give a narrower interval
    other = metric.summarize(pd.DataFrame({"csat": [4] * 32 + [3] * 8}), metric="csat", csat="mean").iloc[0]
    assert other["value"] == pytest.approx(3.8) and other["moe"] < out["moe"]


def test_nps_interval_is_the_no_passives_bound():
    # NPS +20 from 50 answers: without passives, 30 promoters and 20 detractors (0.6 - 0.4 = 0.2)
    a = _sheet(nps_points=[20.0, 20.0, 20.0, 20.0], nps_n=[10, 15, 15, 10])
    out = metric.summarize_aggregates(a, metric="nps").iloc[0]
    ref = metric.summarize(pd.DataFrame({"nps": [10] * 30 + [3] * 20}), metric="nps").iloc[0]
    for col in ("value", "se", "ci_low", "ci_high"):
        assert out[col] == pytest.approx(ref[col], rel=1e-12), col
    # closed form: SE = 100·sqrt((1 - 0.2²)/50) = 13.856 NPS points
    assert out["se"] == pytest.approx(100 * np.sqrt(0.96 / 50), rel=1e-12)
    with_passives = metric.summarize(pd.DataFrame({"nps": [10] * 20 + [8] * 20 + [3] * 10}), metric="nps").iloc[0]
    assert with_passives["value"] == pytest.approx(20.0) and with_passives["moe"] < out["moe"]


def test_periods_and_segments_and_local_days():
    # 2025-01-07 03:00 UTC is still 2025-01-06 in New York: both rows fall on the 6th locally
    a = pd.DataFrame({"period_start": pd.to_datetime(["2025-01-06 15:00", "2025-01-07 03:00"], utc=True),
                      "queue": ["q1", "q1"], "csat_top2": [0.5, 1.0], "csat_n": [10, 30]})
    utc = metric.summarize_aggregates(a, metric="csat", by="day")
    ny = metric.summarize_aggregates(a, metric="csat", by="day", timezone="America/New_York")
    assert utc["value"].tolist() == [50.0, 100.0]
    assert ny["n"].tolist() == [40] and ny["value"].tolist() == [pytest.approx(87.5)]  # (5 + 30) / 40
    seg = metric.summarize_aggregates(_sheet(csat_top2=[0.8, 0.5, 0.7, 0.25], csat_n=[30, 10, 20, 8]),
                                      metric="csat", by=["queue"])
    assert seg["queue"].tolist() == ["q1", "q2"] and seg["n"].tolist() == [50, 18]
    assert seg["value"].tolist() == pytest.approx([100 * 38 / 50, 100 * 7 / 18])


def test_rows_without_the_metric_are_left_out_and_errors_name_the_columns():
    a = _sheet(csat_top2=[0.8, np.nan, 0.7, 0.5], csat_n=[30, 10, 0, 8])
    out = metric.summarize_aggregates(a, metric="csat").iloc[0]
    assert out["n"] == 38 and out["value"] == pytest.approx(100 * (24 + 4) / 38)
    assert metric.aggregate_cx_columns(a, "nps") is None
    with pytest.raises(DataError, match=r"aggregates.*NPS.*'nps_points' and 'nps_n'"):
        metric.summarize_aggregates(a, metric="nps")
    with pytest.raises(DataError, match="cannot be derived from aggregate means"):
        metric.summarize_aggregates(_sheet(ces_mean=[5.0] * 4, ces_n=[9] * 4), metric="ces", ces="agree")
    with pytest.raises(DataError, match="not in the aggregates"):
        metric.summarize_aggregates(a, metric="csat", by="channel")


def test_a_sheet_with_a_csat_mean_only_gives_a_mean_headline_and_says_so():
    # the vendor KPI-sheet shape (tests/fixtures/vendors/kpi_sheet): "CSAT" is a mean with "CSAT Responses";
    # the notebook's default csat_scale is top2, which a mean cannot give
    a = _sheet(csat_mean=[4.17, 4.32, 4.17, 4.32], csat_n=[39, 29, 39, 29])
    tables = {"aggregates": a}
    csat, ces, note = metric.headline_scales(tables, None, metric="csat", csat="top2")
    assert (csat, ces) == ("mean", "mean")
    assert "mean score" in note and "'csat_mean'" in note and "top-2-box" in note
    out = metric.summarize_step(tables, None, None, metric="csat", csat=csat).iloc[0]
    # weighted mean (4.17*39 + 4.32*29) * 2 / 136, worked by hand: (162.63 + 125.28) * 2 = 575.82; / 136 = 4.23397
    assert out["value"] == pytest.approx(575.82 / 136)
    assert out["n"] == 136 and out["interval"] == "bound"
    # the top-2-box headline asked for directly still says it cannot be given
    with pytest.raises(DataError):
        metric.summarize_step(tables, None, None, metric="csat", csat="top2")
    # a sheet with the asked scale, responses, NPS or no CX column at all: nothing changes
    assert metric.headline_scales({"aggregates": _sheet(csat_top2=[0.8] * 4, csat_n=[9] * 4)}, None,
                                  metric="csat") == ("top2", "mean", None)
    assert metric.headline_scales(tables, pd.DataFrame({"csat": [5]}), metric="csat") == ("top2", "mean", None)
    assert metric.headline_scales({"aggregates": _sheet(offered=[5] * 4)}, None, metric="csat") == ("top2", "mean", None)
    # CES 'agree' (share answering 5-7) cannot come from a mean either: the mean is used
    ces_sheet = {"aggregates": _sheet(ces_mean=[5.1] * 4, ces_n=[30] * 4)}
    assert metric.headline_scales(ces_sheet, None, metric="ces", ces="agree")[:2] == ("top2", "mean")
