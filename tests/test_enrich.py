"""Step 3: joins, the two analysis grains, coverage and the leakage guard."""

import numpy as np
import pandas as pd
import pytest

from cxlab.sources import (
    LeakageError,
    agent_attributes,
    align_series,
    asof_scores,
    contact_frame,
    coverage,
    event_indicators,
    leakage_check,
    period_frame,
)

UTC = "UTC"


def ts(*values, tz=UTC):
    return pd.to_datetime(list(values), format="ISO8601").tz_localize(tz).tz_convert(UTC)


# ----------------------------------------------------------------- as-of join


def scores(rows):
    return pd.DataFrame(rows, columns=["agent_id", "scored_at", "metric", "value"]).assign(
        scored_at=lambda d: pd.to_datetime(d["scored_at"], utc=True, format="ISO8601")
    )


def test_asof_takes_latest_score_before_contact():
    sc = scores([("a", "2025-01-01", "qa", 70.0), ("a", "2025-02-01", "qa", 80.0), ("a", "2025-03-01", "qa", 90.0)])
    left = pd.DataFrame({"agent_id": ["a", "a", "a"], "arrived_at": ts("2025-02-15", "2025-01-15", "2025-03-02")})
    out, cov = asof_scores(left, sc)
    # row order preserved; 2025-02-15 -> Feb score, 2025-01-15 -> Jan, 2025-03-02 -> Mar
    assert out["qa_score"].tolist() == [80.0, 70.0, 90.0]
    assert cov.matched == 3 and cov.rows == 3


def test_asof_tie_counts_as_known():
    # a score stamped exactly at the contact instant is known at that instant (<=)
    sc = scores([("a", "2025-02-01 10:00", "qa", 80.0)])
    left = pd.DataFrame({"agent_id": ["a", "a"], "arrived_at": ts("2025-02-01 10:00", "2025-02-01 09:59:59")})
    out, _ = asof_scores(left, sc)
    assert out["qa_score"].tolist()[0] == 80.0
    assert np.isnan(out["qa_score"].tolist()[1])


def test_asof_contact_before_first_score_is_null_and_counted():
    sc = scores([("a", "2025-02-01", "qa", 80.0)])
    left = pd.DataFrame({"agent_id": ["a", "b"], "arrived_at": ts("2025-01-10", "2025-03-10")})
    out, cov = asof_scores(left, sc)
    assert out["qa_score"].isna().all()
    assert cov.matched == 0 and cov.rows == 2
    assert cov.unmatched_keys == ("b",)  # agent b has no score at all


def test_asof_across_time_zones():
    # the score is recorded in Tokyo time, the contact in New York time.
    # 2025-02-01 09:00 JST = 2025-02-01 00:00 UTC; contact 2025-01-31 20:00 EST = 2025-02-01 01:00 UTC
    sc = pd.DataFrame({"agent_id": ["a"], "scored_at": ts("2025-02-01 09:00", tz="Asia/Tokyo"),
                       "metric": ["qa"], "value": [75.0]})
    left = pd.DataFrame({"agent_id": ["a", "a"],
                         "arrived_at": ts("2025-01-31 20:00", "2025-01-31 18:00", tz="America/New_York")})
    out, _ = asof_scores(left, sc)
    # 20:00 EST is after the score instant; 18:00 EST (23:00 UTC) is before it
    assert out["qa_score"].iloc[0] == 75.0 and np.isnan(out["qa_score"].iloc[1])


# ----------------------------------------------------------------- agents


def test_tenure_at_contact_date_and_unknown_agent_listed():
    agents = pd.DataFrame({"agent_id": ["a1", "a2"], "hire_date": pd.to_datetime(["2024-12-31", "2025-06-01"]),
                           "team": ["T1", "T2"], "site": ["north", "south"]})
    # 2025-01-01 03:00 UTC is still 2024-12-31 in New York: tenure 0 days, not 1
    contacts = pd.DataFrame({"agent_id": ["a1", "a1", "ghost", None],
                             "arrived_at": ts("2025-01-01 03:00", "2025-03-01 15:00", "2025-03-01 15:00", "2025-03-01 15:00")})
    out, cov = agent_attributes(contacts, agents, timezone="America/New_York")
    assert out["tenure_days"].tolist()[:2] == [0.0, 60.0]
    assert np.isnan(out["tenure_days"].iloc[2])
    assert cov.rows == 3 and cov.matched == 2 and cov.unmatched_keys == ("ghost",)
    assert out["team"].tolist()[:2] == ["T1", "T1"]


# ----------------------------------------------------------------- events


def test_event_spanning_midnight_flags_both_days():
    ev = pd.DataFrame({"start": ts("2025-03-03 22:00", tz="America/New_York"),
                       "end": ts("2025-03-04 02:00", tz="America/New_York"),
                       "label": ["outage"], "kind": ["outage"], "queue": ["tech"]})
    out = event_indicators(ev, start="2025-03-02", end="2025-03-05", timezone="America/New_York",
                           segments=["billing", "tech"])
    tech = out[out["queue"] == "tech"].set_index("period")["event_outage"]
    assert tech.tolist() == [0, 1, 1, 0]
    assert out[out["queue"] == "billing"]["event_outage"].sum() == 0  # queue-specific event


def test_event_on_dst_day_uses_local_midnights():
    # 2025-03-09 is the 23-hour spring-forward day in New York. An event from
    # 2025-03-09 23:30 local (= 03:30 UTC on 03-10) is on the 9th only.
    ev = pd.DataFrame({"start": ts("2025-03-09 23:30", tz="America/New_York"),
                       "end": ts("2025-03-09 23:50", tz="America/New_York"), "label": ["release"],
                       "kind": ["release"], "queue": [None]})
    out = event_indicators(ev, start="2025-03-08", end="2025-03-10", timezone="America/New_York")
    assert out["event_release"].tolist() == [0, 1, 0]
    # fall back: 2025-11-02 lasts 25 hours; 2025-11-02 23:30 local is still the 2nd
    ev2 = ev.assign(start=ts("2025-11-02 23:30", tz="America/New_York"), end=ts("2025-11-02 23:59", tz="America/New_York"))
    out2 = event_indicators(ev2, start="2025-11-01", end="2025-11-03", timezone="America/New_York")
    assert out2["event_release"].tolist() == [0, 1, 0]


def test_weekly_event_flags_and_series_lags():
    ev = pd.DataFrame({"start": ts("2025-01-08 10:00"), "end": ts("2025-01-08 11:00"), "label": ["x"],
                       "kind": ["campaign"], "queue": [None]})
    out = event_indicators(ev, start="2025-01-06", end="2025-01-19", grain="week")
    assert out["event_campaign"].tolist() == [1, 0]
    s = pd.DataFrame({"date": pd.date_range("2025-01-06", periods=14), "name": "web", "value": np.arange(14.0)})
    w = align_series(s, grain="week", lags=(0, 1))
    assert w["series_web"].tolist() == [3.0, 10.0]  # means of 0..6 and 7..13
    assert np.isnan(w["series_web_lag1"].iloc[0]) and w["series_web_lag1"].iloc[1] == 3.0


# ----------------------------------------------------------------- leakage


def test_leakage_check_rejects_future_values():
    f = pd.DataFrame({"responded_at": ts("2025-01-02"), "arrived_at": ts("2025-01-01"),
                      "qa_scored_at": ts("2025-01-03")})
    with pytest.raises(LeakageError, match=r"qa_scored_at: 1 row\(s\) dated after the survey response"):
        leakage_check(f)
    with pytest.raises(LeakageError, match="repeat_within_w looks into the future"):
        leakage_check(pd.DataFrame({"responded_at": ts("2025-01-02"), "repeat_within_w": [True]}))


def _tiny_center():
    inter = pd.DataFrame({
        "interaction_id": ["i1", "i2", "i3", "i4"],
        "customer_id": ["c1", "c1", "c2", "c3"],
        "channel": ["voice"] * 4, "direction": ["inbound"] * 4, "queue": ["billing"] * 4,
        "agent_id": ["a1", "a1", "a2", "a2"],
        "arrived_at": ts("2025-01-06 15:00", "2025-01-08 15:00", "2025-01-06 16:00", "2025-01-07 16:00"),
        "wait_s": [10.0, 40.0, 5.0, 100.0], "talk_s": [300.0, 200.0, 100.0, 400.0],
        "hold_s": [0.0, 30.0, 0.0, 60.0], "acw_s": [30.0] * 4,
        "abandoned": [False] * 4, "transferred": [False, True, False, False],
        "contact_reason": ["bill", "bill", "plan", "plan"], "resolved": [False, True, True, True],
        "site": ["n"] * 4,
    })
    surveys = pd.DataFrame({
        "response_id": ["r1", "r3", "r4"], "interaction_id": ["i1", "i3", "i4"], "customer_id": ["c1", "c2", "c3"],
        # r1 answers after the customer's repeat contact i2 (Jan 8), r3/r4 right away
        "responded_at": ts("2025-01-09 10:00", "2025-01-06 17:00", "2025-01-07 17:00"),
        "csat": [2.0, 5.0, 4.0], "nps": [3.0, 10.0, 8.0], "ces": [2.0, 7.0, 5.0],
    })
    agents = pd.DataFrame({"agent_id": ["a1", "a2"], "hire_date": pd.to_datetime(["2024-01-01", "2025-01-01"]),
                           "team": ["T1", "T2"], "site": ["n", "n"]})
    qa = scores([("a1", "2025-01-01", "qa", 70.0), ("a2", "2025-01-07 16:30", "qa", 99.0)])
    return {"interactions": inter, "surveys": surveys, "agents": agents, "agent_scores": qa}


def test_contact_frame_joins_own_contact_and_guards_leakage():
    tables = _tiny_center()
    f = contact_frame(tables, cx_metric="csat", timezone=UTC).set_index("response_id")
    assert f.loc["r1", "wait_s"] == 10.0 and f.loc["r4", "wait_s"] == 100.0
    assert f.loc["r1", "cx_value"] == 0.0 and f.loc["r3", "cx_value"] == 100.0
    # r1's customer came back (i2) before responding: knowable, flagged
    assert f.loc["r1", "repeat_before_response"] == 1.0
    # a2's QA score is dated 30 min after contact i4: it must not reach r4
    assert np.isnan(f.loc["r4", "qa_score"])
    assert f.loc["r1", "qa_score"] == 70.0
    assert "repeat_within_w" not in f.columns
    assert f.loc["r3", "tenure_days"] == 5.0


def test_contact_frame_fails_if_future_value_reaches_it(monkeypatch):
    # sabotage the as-of join so it takes the NEXT score: the guard must fire
    import cxlab.sources.frames as enrich

    real = pd.merge_asof

    def forward(*a, **k):
        k["direction"] = "forward"
        return real(*a, **k)

    monkeypatch.setattr(enrich.pd, "merge_asof", forward)
    with pytest.raises(LeakageError, match="qa_scored_at"):
        contact_frame(_tiny_center(), timezone=UTC)


def test_period_frame_puts_cx_beside_kpis():
    tables = _tiny_center()
    p = period_frame(tables, cx_metric="nps", timezone=UTC)
    row = p[p["period"] == pd.Timestamp("2025-01-06")].iloc[0]
    # two responses on Jan 6 (r1 detractor, r3 promoter): NPS 0 on n = 2
    assert row["cx_n"] == 2 and row["cx_value"] == 0.0
    # the KPIs of the same day (default T = 20 s): i1 (wait 10 s) and i3 (5 s) answered in time -> 2/2;
    # AHT (talk + hold + acw) = (330 + 130) / 2 = 230 s; Jan 7: i4 waited 100 s -> SL 0/1
    assert (row["service_level_num"], row["service_level_den"], row["service_level_pct"]) == (2, 2, 100.0)
    assert row["aht_s"] == 230.0 and row["queue"] == "billing"
    assert p.loc[p["period"] == pd.Timestamp("2025-01-07"), "service_level_pct"].item() == 0.0
    assert p.loc[p["period"] == pd.Timestamp("2025-01-08"), "cx_n"].item() == 0


def test_coverage_lists_unmatched():
    tables = _tiny_center()
    tables["interactions"].loc[3, "agent_id"] = "ghost"
    cov = coverage(tables, timezone=UTC).set_index("source")
    row = cov.loc["agents (contacts with an agent)"]
    assert row["unmatched"] == 1 and row["unmatched_examples"] == "ghost"
    assert cov.loc["interactions", "missing_days"] == 0


def test_absent_metric_names_the_metrics_present():
    from cxlab.errors import DataError

    tables = _tiny_center()
    tables["surveys"] = tables["surveys"].drop(columns=["ces"])
    with pytest.raises(DataError, match=r"ces.*csat.*nps"):
        contact_frame(tables, cx_metric="ces", timezone=UTC)


def test_period_frame_takes_one_segment_name_as_a_string():
    tables = _tiny_center()
    pd.testing.assert_frame_equal(period_frame(tables, segments="queue", timezone=UTC),
                                  period_frame(tables, segments=("queue",), timezone=UTC))


# ----------------------------------------------------------------- plots


def test_tenure_distribution_draws_every_known_tenure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cxlab import plots

    frame = pd.DataFrame({"tenure_days": [0.0, 30.44, 100.0, 400.0, np.nan], "team": ["T1", "T1", "T2", "T2", "T1"]})
    ax = plots.tenure_distribution(frame)
    # tenure in months 0, 1, 3.29, 13.14 in 3-month bins [0, 3, ..., 15]: counts 2, 1, 0, 0, 1
    assert [p.get_height() for p in ax.patches] == [2, 1, 0, 0, 1]
    assert ax.get_xlabel() == "agent tenure at the contact's date (months)"
    plt.close(ax.figure)
    ax = plots.tenure_distribution(frame, by="team")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["T1", "T2"]
    assert sum(p.get_height() for p in ax.patches) == 4  # the NaN tenure is left out
    plt.close(ax.figure)


def test_event_calendar_draws_events_inside_the_window_in_local_time():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    from cxlab import plots

    events = pd.DataFrame({
        "start": ts("2025-03-01 05:00", "2025-03-10 00:00", "2025-06-01 00:00"),
        "end": ts("2025-03-02 05:00", "2025-03-12 00:00", "2025-06-02 00:00"),
        "label": ["outage", "promo", "late"], "kind": ["outage", "campaign", "outage"],
        "queue": ["billing", None, "sales"],
    })
    ax = plots.event_calendar(events, start="2025-03-01", end="2025-03-31", timezone="America/New_York")
    # "late" starts after the window: two bars, labelled with their queue
    assert [t.get_text() for t in ax.texts] == ["outage (billing)", "promo (all queues)"]
    bars = ax.patches
    assert len(bars) == 2
    # 05:00 UTC is midnight in New York (EST): the outage bar starts at local 1 March 00:00 and lasts one day
    assert bars[0].get_x() == mdates.date2num(pd.Timestamp("2025-03-01"))
    assert bars[0].get_width() == pytest.approx(1.0)
    # promo: 10 March 00:00 to 12 March 00:00 UTC, both after the 9 March DST change (EDT): 48 h, starting
    # at local 9 March 20:00
    assert bars[1].get_width() == pytest.approx(2.0)
    assert bars[1].get_x() == pytest.approx(mdates.date2num(pd.Timestamp("2025-03-09 20:00")))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["campaign", "outage"]
    plt.close(ax.figure)
