"""KPIs from aggregate-only data: :func:`cxlab.kpis.kpi_table_from_aggregates`.

Expected values are computed by hand beside each assertion; the round trip
against :func:`cxlab.kpis.kpi_table` on a small sample proves the weights are
the KPIs' own denominators.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxlab.errors import DataError
from cxlab.kpis import kpi_table, kpi_table_from_aggregates, rollup


def two_days(**extra):
    """Monday 2025-01-06 and Tuesday 2025-01-07 of one queue."""
    return pd.DataFrame({"period_start": pd.to_datetime(["2025-01-06", "2025-01-07"]), "queue": "q",
                         "offered": [100.0, 300.0], "asa_s": [20.0, 40.0], "service_level": [0.9, 0.7], **extra})


def test_offered_weighted_asa_and_sl_of_two_days():
    w = kpi_table_from_aggregates(two_days(), by=("week",))
    # no answered count: ASA weighted by offered = (20 x 100 + 40 x 300) / 400 = 35
    assert (w["asa_num"].item(), w["asa_den"].item(), w["asa_s"].item()) == (14000.0, 400.0, 35.0)
    # SL offered-weighted = (0.9 x 100 + 0.7 x 300) / 400 = 0.75 -> 75 %
    assert w["service_level_pct"].item() == pytest.approx(75.0)
    assert w["week"].item() == pd.Timestamp("2025-01-06")
    assert w.attrs["weights"]["asa"] == "offered" and w.attrs["weights"]["service_level"] == "offered"
    # not an average of averages: (20 + 40) / 2 = 30 would be wrong
    assert w["asa_s"].item() != 30.0


def test_answered_weighted_asa_aht_and_abandons():
    w = kpi_table_from_aggregates(two_days(answered=[90.0, 250.0], aht_s=[300.0, 200.0]), by=())
    r = w.iloc[0]
    # ASA over answered: (20 x 90 + 40 x 250) / 340 = 11800 / 340
    assert r["asa_s"] == pytest.approx(11800 / 340)
    # AHT over answered: (300 x 90 + 200 x 250) / 340 = 77000 / 340
    assert r["aht_s"] == pytest.approx(77000 / 340)
    # abandoned = offered - answered = 10 + 50 = 60; abandon rate 60 / 400 = 15 %
    assert (r["handled"], r["abandoned"], r["abandon_rate_pct"]) == (340, 60, 15.0)
    assert w.attrs["weights"]["asa"] == "answered"


def test_short_abandons_change_the_sl_weight():
    a = two_days(answered=[90.0, 250.0], short_abandoned=[4.0, 10.0])
    r = kpi_table_from_aggregates(a, by=()).iloc[0]
    # SL weight offered - short: 96 and 290 -> (0.9 x 96 + 0.7 x 290) / 386
    assert r["service_level_pct"] == pytest.approx(100 * (0.9 * 96 + 0.7 * 290) / 386)
    # abandon rate (abandoned - short) / (offered - short) = (6 + 40) / 386
    assert r["abandon_rate_pct"] == pytest.approx(100 * 46 / 386)


def test_what_a_sheet_cannot_give_is_not_measured():
    w = kpi_table_from_aggregates(two_days(), by=())
    nm = w.attrs["not_measured"]
    assert nm["aht"] == "aggregates: column 'aht_s' is not mapped"
    assert nm["transfer_rate"] == "aggregates: column 'transfer_rate' is not mapped"
    assert nm["abandon_rate"].startswith("aggregates: none of 'abandoned', 'answered'")
    assert set(nm) >= {"handled", "att", "fcr", "hold_rate", "occupancy", "no_customer_id", "ivr_only"}
    for col in ("aht_s", "aht_num", "aht_den", "fcr_pct", "att_s", "abandon_rate_pct", "handled", "ivr_only",
                "no_customer_id", "occupancy_pct"):
        assert np.isnan(w[col].item()), col
    assert w.attrs["definitions"] == "as reported by the source"
    # answered known, AHT value absent: still not measured, never 0
    w2 = kpi_table_from_aggregates(two_days(answered=[90.0, 250.0]), by=())
    assert np.isnan(w2["aht_s"].item()) and "aht" in w2.attrs["not_measured"]


def test_same_columns_as_kpi_table():
    contacts = pd.DataFrame({
        "interaction_id": ["1"], "customer_id": "a", "channel": "voice", "queue": "q", "agent_id": "x",
        "arrived_at": pd.to_datetime(["2025-01-06 10:00"], utc=True), "wait_s": 1.0, "talk_s": 1.0,
        "hold_s": 0.0, "acw_s": 0.0, "abandoned": False, "transferred": False})
    k = kpi_table(contacts, by=("day", "queue"))
    a = kpi_table_from_aggregates(two_days(), by=("day", "queue"))
    assert list(a.columns) == list(k.columns)


def test_round_trip_daily_sheet_to_weeks_equals_contacts():
    from cxlab.sample import load_sample

    inter = load_sample(days=21, contacts_per_day=100)["interactions"]
    tz = "America/New_York"
    daily = kpi_table(inter, by=("day", "queue"), timezone=tz)
    weekly = kpi_table(inter, by=("week", "queue"), timezone=tz)
    # a daily KPI sheet as a center would export it (rates as fractions, averages in seconds)
    sheet = pd.DataFrame({
        "period_start": daily["day"], "queue": daily["queue"], "offered": daily["offered"].astype(float),
        "answered": daily["handled"].astype(float), "abandoned": daily["abandoned"].astype(float),
        "short_abandoned": daily["short_abandoned"].astype(float), "asa_s": daily["asa_s"],
        "aht_s": daily["aht_s"], "service_level": daily["service_level_pct"] / 100,
        "transfer_rate": daily["transfer_rate_pct"] / 100, "hold_rate": daily["hold_rate_pct"] / 100})
    got = kpi_table_from_aggregates(sheet, by=("week", "queue"), timezone=tz)
    assert got.attrs["grain"] == "day"
    pd.testing.assert_frame_equal(got[["week", "queue"]], weekly[["week", "queue"]])
    for c in ("offered", "handled", "abandoned", "short_abandoned", "service_level_pct", "abandon_rate_pct",
              "asa_s", "aht_s", "transfer_rate_pct", "hold_rate_pct"):
        np.testing.assert_allclose(got[c].to_numpy(float), weekly[c].to_numpy(float), rtol=1e-12, err_msg=c)
    # and rollup of the sheet's daily table equals the direct weekly one
    day_tab = kpi_table_from_aggregates(sheet, by=("day", "queue"), timezone=tz)
    np.testing.assert_allclose(rollup(day_tab, by=("week", "queue"))["asa_s"], got["asa_s"], rtol=1e-12)


def test_cx_means_are_weighted_by_their_n():
    a = two_days(csat_mean=[4.0, 3.0], csat_top2=[0.8, 0.5], csat_n=[10.0, 30.0], nps_points=[50.0, 10.0],
                 nps_n=[20.0, 20.0])
    r = kpi_table_from_aggregates(a, by=()).iloc[0]
    # (4 x 10 + 3 x 30) / 40 = 3.25; top-2 (0.8 x 10 + 0.5 x 30) / 40 = 0.575 -> 57.5 %; NPS (50 + 10) / 2 = 30
    assert (r["csat_mean"], r["csat_mean_den"]) == (3.25, 40.0)
    assert r["csat_top2_pct"] == pytest.approx(57.5)
    assert r["nps_points"] == 30.0
    no_n = kpi_table_from_aggregates(two_days(ces_mean=[5.0, 6.0]), by=())
    assert np.isnan(no_n["ces_mean"].item())
    assert "'ces_n' is not mapped" in no_n.attrs["not_measured"]["ces_mean"]


def test_interval_rows_in_local_time():
    a = pd.DataFrame({"period_start": pd.to_datetime(["2025-01-06 15:00", "2025-01-06 15:30", "2025-01-07 04:30"],
                                                     utc=True),
                      "offered": [10.0, 20.0, 5.0], "answered": [10.0, 18.0, 5.0], "asa_s": [5.0, 10.0, 0.0]})
    tz = "America/New_York"  # UTC-5 in January: 10:00, 10:30 on 01-06 and 23:30 on 01-06
    iv = kpi_table_from_aggregates(a, by=("interval",), timezone=tz)
    assert iv.attrs["grain"] == "interval"
    assert iv["interval"].tolist() == [pd.Timestamp("2025-01-06 10:00"), pd.Timestamp("2025-01-06 10:30"),
                                       pd.Timestamp("2025-01-06 23:30")]
    day = kpi_table_from_aggregates(a, by=("day",), timezone=tz)
    # all three fall on local 01-06: offered 35, ASA (5 x 10 + 10 x 18 + 0) / 33
    assert day["offered"].tolist() == [35]
    assert day["asa_s"].item() == pytest.approx(230 / 33)


def test_grain_inference_and_refusals():
    weekly = pd.DataFrame({"period_start": pd.to_datetime(["2025-01-06", "2025-01-13", "2025-01-20"]),
                           "offered": [1.0, 2.0, 3.0]})
    assert kpi_table_from_aggregates(weekly, by=("week",)).attrs["grain"] == "week"
    with pytest.raises(ValueError, match="week rows: they cannot be split into 'day'"):
        kpi_table_from_aggregates(weekly, by=("day",))
    with pytest.raises(ValueError, match="weeks straddle months"):
        kpi_table_from_aggregates(weekly, by=("month",))
    monthly = pd.DataFrame({"period_start": pd.to_datetime(["2025-01-01", "2025-02-01"]), "offered": [1.0, 2.0]})
    assert kpi_table_from_aggregates(monthly, by=("month",)).attrs["grain"] == "month"
    mixed = weekly.assign(grain=["week", "day", "day"])
    with pytest.raises(DataError, match=r"mixes grains 'day' \(2 rows\), 'week' \(1 rows\)"):
        kpi_table_from_aggregates(mixed, by=())
    with pytest.raises(DataError, match=r"missing required column\(s\) \['offered'\] \(3 rows\)"):
        kpi_table_from_aggregates(weekly.drop(columns="offered"), by=())
    with pytest.raises(DataError, match="cannot split by 'queue': the column is not mapped"):
        kpi_table_from_aggregates(weekly.assign(queue=None), by=("queue",))


def test_total_rows_beside_queue_rows_are_refused():
    a = pd.DataFrame({"period_start": pd.to_datetime(["2025-01-06"] * 3), "queue": ["q1", "q2", None],
                      "offered": [10.0, 20.0, 30.0]})
    with pytest.raises(DataError, match=r"1 period\(s\) have both an all-queues row .* \(3 rows"):
        kpi_table_from_aggregates(a, by=("day",))


def test_aggregates_load_through_cxlab_data(tmp_path):
    from cxlab.config import load_config
    from cxlab.data import load_dataset

    (tmp_path / "calls.csv").write_text(
        "interaction_id,queue,agent_id,arrived_at,wait_s,talk_s,abandoned\n"
        "1,q,a,2025-01-06 10:00,10,100,false\n")
    (tmp_path / "daily.csv").write_text(
        "period_start,queue,offered,answered,asa_s,service_level\n"
        "2025-01-06,q,100,90,20,0.9\n"
        "2025-01-07,q,300,250,40,0.7\n")
    (tmp_path / "run.yaml").write_text(
        "name: t\ntimezone: America/New_York\nsources:\n"
        "  interactions: {path: calls.csv}\n  aggregates: {path: daily.csv}\n")
    ds = load_dataset(load_config(tmp_path / "run.yaml"))
    agg = ds.tables["aggregates"]
    assert len(agg) == 2 and str(agg["period_start"].dtype).startswith("datetime64")
    w = kpi_table_from_aggregates(agg, by=("week", "queue"), timezone="America/New_York")
    # dates are local midnights: both days in the week of Monday 01-06; ASA (20 x 90 + 40 x 250) / 340
    assert w["week"].tolist() == [pd.Timestamp("2025-01-06")]
    assert w["asa_s"].item() == pytest.approx(11800 / 340)
    # the contacts file maps none of the optional measures: they are not measured, not zero
    k = kpi_table(ds.tables["interactions"], by=())
    assert {"aht", "transfer_rate", "hold_rate"} <= set(k.attrs["not_measured"])


def test_erlang_check_from_interval_sheet_equals_contacts():
    from cxlab.errors import NotEnoughData
    from cxlab.kpis import erlang_check, erlang_check_from_aggregates
    from cxlab.sample import load_sample

    t = load_sample(days=7, contacts_per_day=100)
    tz = "America/New_York"
    inter, staffing = t["interactions"], t["staffing"]
    iv = kpi_table(inter, by=("interval", "queue"), timezone=tz)
    sheet = pd.DataFrame({
        "period_start": iv["interval"], "queue": iv["queue"], "offered": iv["offered"].astype(float),
        "answered": iv["handled"].astype(float), "aht_s": iv["aht_s"],
        "service_level": iv["service_level_pct"] / 100})
    direct = erlang_check(inter, staffing, timezone=tz)
    got = erlang_check_from_aggregates(sheet, staffing, timezone=tz)
    m = direct.merge(got, on=["interval", "queue"], suffixes=("", "_agg"))
    assert len(m) == len(iv)
    # the same workload (AHT x answered / offered per queue), agents, load and Erlang C expectation
    for c in ("workload_s", "agents_staffed", "load_erlangs", "erlang_c_sl_pct", "service_level_pct"):
        np.testing.assert_allclose(m[f"{c}_agg"].to_numpy(float), m[c].to_numpy(float), rtol=1e-9, err_msg=c)
    # a sheet has no queue time of abandons: patience and Erlang A are not measured
    assert got["patience_s"].isna().all() and got["erlang_a_sl_pct"].isna().all()
    daily = kpi_table_from_aggregates(sheet, by=("day", "queue"), timezone=tz)
    assert daily["offered"].sum() == iv["offered"].sum()
    with pytest.raises(NotEnoughData, match="day rows: the Erlang check needs intervals"):
        day_sheet = sheet.assign(period_start=sheet["period_start"].dt.normalize())
        day_sheet = day_sheet.groupby(["period_start", "queue"], as_index=False)[["offered"]].sum()
        erlang_check_from_aggregates(day_sheet.assign(aht_s=100.0, answered=day_sheet["offered"]), staffing)
    with pytest.raises(NotEnoughData, match="no staffing table"):
        erlang_check_from_aggregates(sheet, None)


def test_erlang_check_from_hourly_rows_is_refused():
    from cxlab.errors import NotEnoughData
    from cxlab.kpis import erlang_check_from_aggregates

    a = pd.DataFrame({"period_start": pd.to_datetime(["2025-01-06 09:00", "2025-01-06 10:00"], utc=True),
                      "queue": "q", "offered": [10.0, 12.0], "answered": [10.0, 12.0], "aht_s": 100.0,
                      "service_level": 0.8})
    s = pd.DataFrame({"interval_start": pd.to_datetime(["2025-01-06 09:00"], utc=True), "queue": ["q"],
                      "interval_s": [1800.0], "agents_staffed": [2.0]})
    # 60-minute rows would double the load of a 30-minute interval: refused, not misread
    with pytest.raises(NotEnoughData, match="60-minute intervals"):
        erlang_check_from_aggregates(a, s)
    with pytest.raises(NotEnoughData, match="60-minute intervals"):
        erlang_check_from_aggregates(a.iloc[:1].assign(interval_s=3600.0), s)
