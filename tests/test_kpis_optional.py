"""Optional measures, unknown customers and never-queued contacts in the KPI definitions.

Every expected value is worked out by hand in the comment beside it (closed
form over the handful of contacts in each frame).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxlab import schema
from cxlab.errors import NotEnoughData
from cxlab.kpis import (
    contact_features,
    erlang_check,
    kpi_table,
    measured_kpis,
    not_measured,
    rollup,
)

REQUIRED = ["interaction_id", "queue", "agent_id", "arrived_at", "wait_s", "talk_s", "abandoned"]


def ts(*values):
    return pd.to_datetime(list(values), utc=True)


# ----------------------------------------------------------------------------- schema


def test_schema_optional_measures_and_aggregates_table():
    inter = schema.table("interactions")
    for c in ("hold_s", "acw_s", "transferred", "resolved", "contact_reason", "channel", "customer_id",
              "reached_queue"):
        col = inter.column(c)
        assert not col.required and col.nullable, c
    assert inter.required == REQUIRED
    assert schema.table("surveys").column("customer_id").nullable
    agg = schema.table("aggregates")
    assert agg.required == ["period_start", "offered"]
    assert agg.time_column == "period_start"
    assert agg.column("service_level").high == 1  # a fraction, percent text is parsed by the mapping
    assert set(schema.OPTIONAL_MEASURES) <= set(inter.names)


# ----------------------------------------------------------------------------- not measured


def bare():
    """Three contacts with only the required columns (no hold, ACW, transfer flag, channel).

    1: handled, wait 10 s, talk 100 s; 2: handled, wait 30 s, talk 200 s; 3: abandoned after 40 s.
    """
    return pd.DataFrame({
        "interaction_id": ["1", "2", "3"], "customer_id": ["a", "b", "c"], "queue": "q",
        "agent_id": ["x", "y", None],
        "arrived_at": ts("2025-01-01 10:00", "2025-01-01 11:00", "2025-01-01 12:00"),
        "wait_s": [10.0, 30.0, 40.0], "talk_s": [100.0, 200.0, 0.0], "abandoned": [False, False, True]})


def test_not_measured_reasons_closed_list():
    cols = [*REQUIRED, "customer_id"]
    assert not_measured(cols) == {
        "aht": "columns 'hold_s', 'acw_s' are not mapped",
        "transfer_rate": "column 'transferred' is not mapped",
        "hold_rate": "column 'hold_s' is not mapped",
        "occupancy": "columns 'hold_s', 'acw_s' are not mapped",
    }
    # AHT without hold (option) needs only ACW; with hold it names the option to change
    assert not_measured([*cols, "acw_s", "transferred"], options={"aht_includes_hold": False}, staffing=False) == {
        "hold_rate": "column 'hold_s' is not mapped", "occupancy": "no staffing table"}
    assert not_measured([*cols, "acw_s", "transferred"])["aht"].startswith(
        "column 'hold_s' is not mapped (AHT includes hold")
    # FCR needs customer_id; same-channel FCR also channel
    assert not_measured(REQUIRED)["fcr"] == "column 'customer_id' is not mapped"
    assert not_measured(cols, options={"fcr_channel": "same"})["fcr"].startswith("column 'channel' is not mapped")
    everything = [*cols, "hold_s", "acw_s", "transferred", "channel"]
    assert not_measured(everything) == {}


def test_missing_measures_are_nan_never_zero():
    k = kpi_table(bare(), by=())
    r = k.iloc[0]
    # offered 3, handled 2, abandoned 1
    assert (r["offered"], r["handled"], r["abandoned"]) == (3, 2, 1)
    # ASA = (10 + 30) / 2 = 20; average talk time = (100 + 200) / 2 = 150
    assert (r["asa_num"], r["asa_den"], r["asa_s"]) == (40.0, 2, 20.0)
    assert (r["att_num"], r["att_den"], r["att_s"]) == (300.0, 2, 150.0)
    # not measured: numerator, denominator and value are NaN (a 0 would read "0% transfers")
    for name, value in (("aht", "aht_s"), ("transfer_rate", "transfer_rate_pct"), ("hold_rate", "hold_rate_pct"),
                        ("occupancy", "occupancy_pct")):
        assert np.isnan(r[f"{name}_num"]) and np.isnan(r[f"{name}_den"]) and np.isnan(r[value]), name
    assert k.attrs["not_measured"] == {
        "aht": "columns 'hold_s', 'acw_s' are not mapped",
        "transfer_rate": "column 'transferred' is not mapped",
        "hold_rate": "column 'hold_s' is not mapped",
        "occupancy": "no staffing table",
    }
    assert "aht_s" not in measured_kpis(k) and "asa_s" in measured_kpis(k)


def test_all_null_columns_count_as_not_mapped():
    # what the loader gives for unmapped optional columns: all null, durations 0 on abandoned contacts
    df = bare().assign(hold_s=[np.nan, np.nan, 0.0], acw_s=[np.nan, np.nan, 0.0], transferred=None,
                       channel=None)
    k = kpi_table(df, by=())
    assert set(k.attrs["not_measured"]) == {"aht", "transfer_rate", "hold_rate", "occupancy"}
    assert np.isnan(k["aht_s"].item()) and np.isnan(k["transfer_rate_pct"].item())
    assert k["asa_s"].item() == 20.0
    with pytest.raises(NotEnoughData, match=r"cannot split by \['channel'\].*not mapped"):
        kpi_table(df, by=("day", "channel"))


def test_aht_follows_the_hold_option():
    df = bare().assign(acw_s=[20.0, 40.0, 0.0])
    k = kpi_table(df, by=(), definitions=[{"label": "with hold"},
                                          {"label": "without hold", "aht_includes_hold": False}])
    by_label = k.set_index("definition")
    assert np.isnan(by_label.loc["with hold", "aht_s"])
    # talk + ACW of the handled: (100 + 20 + 200 + 40) / 2 = 180
    assert by_label.loc["without hold", "aht_s"] == 180.0
    assert "aht" in k.attrs["not_measured_by_definition"]["with hold"]
    assert "aht" not in k.attrs["not_measured_by_definition"]["without hold"]


def test_null_on_some_rows_leaves_those_contacts_out():
    df = bare()
    df = pd.concat([df, df.iloc[[0]].assign(interaction_id="4", customer_id="d", agent_id="z")], ignore_index=True)
    df["transferred"] = pd.array([True, None, None, False], dtype="boolean")
    df["hold_s"] = [0.0, 30.0, 0.0, np.nan]
    df["acw_s"] = [10.0, 10.0, 0.0, 10.0]
    r = kpi_table(df, by=()).iloc[0]
    # handled 1, 2, 4; transfer flag known on 1 (True) and 4 (False) -> 1 / 2
    assert (r["transfer_rate_num"], r["transfer_rate_den"]) == (1, 2)
    # hold known on 1 (0 s) and 2 (30 s) -> held 1 of 2
    assert (r["hold_rate_num"], r["hold_rate_den"]) == (1, 2)
    # AHT over contacts with every part known: 1 (100 + 0 + 10) and 2 (200 + 30 + 10) -> 350 / 2
    assert (r["aht_num"], r["aht_den"], r["aht_s"]) == (350.0, 2, 175.0)


def test_rollup_keeps_not_measured_nan_and_attrs():
    df = pd.concat([bare(), bare().assign(interaction_id=["4", "5", "6"],
                                          arrived_at=ts("2025-01-02 10:00", "2025-01-02 11:00", "2025-01-02 12:00"))],
                   ignore_index=True)
    daily = kpi_table(df, by=("day", "queue"))
    total = rollup(daily, by=())
    assert np.isnan(total["aht_num"].item()) and np.isnan(total["aht_s"].item())
    assert total["asa_s"].item() == 20.0  # (40 + 40) / (2 + 2)
    assert total.attrs["not_measured"] == daily.attrs["not_measured"]


def test_occupancy_not_measured_without_staffing_and_erlang_check_skips():
    k = kpi_table(bare().assign(hold_s=0.0, acw_s=0.0, transferred=False), by=("interval", "queue"))
    assert "occupancy_den" in k and k["occupancy_den"].isna().all()  # was KeyError: 'occupancy_den'
    assert k.attrs["not_measured"] == {"occupancy": "no staffing table"}
    with pytest.raises(NotEnoughData, match="no staffing table"):
        erlang_check(bare().assign(hold_s=0.0, acw_s=0.0), None)
    staff = pd.DataFrame({"interval_start": ts("2025-01-01 10:00"), "queue": ["q"], "interval_s": [1800.0],
                          "agents_staffed": [1.0]})
    with pytest.raises(NotEnoughData, match=r"'hold_s', 'acw_s' not mapped"):
        erlang_check(bare(), staff)


def test_contact_features_without_optional_columns():
    f = contact_features(bare())
    assert f["transferred"].isna().all() and str(f["transferred"].dtype) == "boolean"  # never read as False
    assert f["held"].isna().all()
    assert f["handle_s"].isna().all()
    assert f["talk_s"].tolist() == [100.0, 200.0, 0.0]
    assert f["handled"].tolist() == [True, True, False]
    assert set(f.attrs["not_measured"]) == {"aht", "transfer_rate", "hold_rate"}


# ----------------------------------------------------------------------------- unknown customers


def six():
    """Six handled contacts, W = 7 days; customers A, B and three with no customer id (None).

    1 A 01-01 10:00 | 2 None 01-01 11:00 | 3 None 01-02 11:00 | 4 A 01-03 10:00 | 5 B 01-02 09:00 |
    6 None 01-20 09:00 (the end of the data: windows complete for contacts up to 01-13 09:00 -> 1..5)
    """
    return pd.DataFrame({
        "interaction_id": [str(i) for i in range(1, 7)],
        "customer_id": ["A", None, None, "A", "B", None],
        "channel": "voice", "queue": "q", "agent_id": "x",
        "arrived_at": ts("2025-01-01 10:00", "2025-01-01 11:00", "2025-01-02 11:00", "2025-01-03 10:00",
                         "2025-01-02 09:00", "2025-01-20 09:00"),
        "wait_s": 5.0, "talk_s": 60.0, "hold_s": 0.0, "acw_s": 0.0, "abandoned": False, "transferred": False})


def test_unknown_customers_are_left_out_of_fcr():
    r = kpi_table(six(), by=()).iloc[0]
    # known customers with a complete window: 1 (A), 4 (A), 5 (B) -> den 3;
    # 1 is followed by 4 two days later (a repeat); 4 and 5 have none -> num 2 -> FCR 66.7%
    assert (r["fcr_num"], r["fcr_den"]) == (2, 3)
    assert r["fcr_pct"] == pytest.approx(200 / 3)
    # contacts without a customer id: 2, 3, 6
    assert r["no_customer_id"] == 3
    assert r["offered"] == 6


def test_a_sentinel_kept_as_a_real_id_changes_fcr():
    # the motivating bug: customer "0" kept as an id makes 2, 3, 6 one customer
    r = kpi_table(six().fillna({"customer_id": "0"}), by=()).iloc[0]
    # den: 1..5 = 5; repeats: 1 (-> 4 after 2 d), 2 (-> 3 after 1 d); 3 -> 6 is 18 d later -> num 3 -> 60%
    assert (r["fcr_num"], r["fcr_den"], r["no_customer_id"]) == (3, 5, 0)


def test_unknown_customers_have_no_repeat_fields():
    f = contact_features(six()).set_index("interaction_id")
    unknown = f.loc[["2", "3", "6"]]
    assert unknown["repeat_within_w"].isna().all() and unknown["is_repeat"].isna().all()
    assert unknown["next_contact_at"].isna().all()
    assert f.loc["1", "repeat_within_w"] == True  # noqa: E712  (4 follows after 2 days)
    assert f.loc["4", "is_repeat"] == True  # noqa: E712
    assert f.loc["5", "repeat_within_w"] == False  # noqa: E712


def test_no_customer_id_column_at_all():
    k = kpi_table(six().drop(columns="customer_id"), by=())
    assert k.attrs["not_measured"]["fcr"] == "column 'customer_id' is not mapped"
    assert np.isnan(k["fcr_pct"].item()) and np.isnan(k["fcr_den"].item())
    assert k["no_customer_id"].item() == 6


# ----------------------------------------------------------------------------- never-queued contacts


def ivr():
    """Five inbound contacts on 01-01 and one on 01-10 (end of data), W = 7.

    1 A handled wait 10 talk 100 | 2 B handled wait 40 talk 300 | 3 C queue abandon after 30 s |
    4 A IVR only (reached_queue False) 01-02 | 5 D IVR only | 6 E handled 01-10 (wait 0, talk 50),
    reached_queue null (= reached).
    """
    return pd.DataFrame({
        "interaction_id": [str(i) for i in range(1, 7)], "customer_id": ["A", "B", "C", "A", "D", "E"],
        "channel": "voice", "queue": "q", "agent_id": ["x", "y", None, None, None, "x"],
        "arrived_at": ts("2025-01-01 09:00", "2025-01-01 09:30", "2025-01-01 10:00", "2025-01-02 09:00",
                         "2025-01-01 11:00", "2025-01-10 09:00"),
        "wait_s": [10.0, 40.0, 30.0, 0.0, 0.0, 0.0], "talk_s": [100.0, 300.0, 0.0, 0.0, 0.0, 50.0],
        "hold_s": 0.0, "acw_s": 0.0, "abandoned": [False, False, True, True, True, False], "transferred": False,
        "reached_queue": pd.array([True, True, True, False, False, None], dtype="boolean")})


def test_never_queued_contacts_are_not_offered_nor_abandoned():
    r = kpi_table(ivr(), by=()).iloc[0]
    # offered: 1, 2, 3, 6 (null reached_queue counts as reached); IVR only: 4, 5
    assert (r["offered"], r["handled"], r["abandoned"], r["ivr_only"]) == (4, 3, 1, 2)
    # SL (exclude_short, T 20 s): answered within 20 s: 1, 6 over offered - short abandons (none) = 2 / 4
    assert (r["service_level_num"], r["service_level_den"]) == (2, 4)
    # abandon rate 1 / 4; ASA (10 + 40 + 0) / 3; AHT (100 + 300 + 50) / 3 = 150
    assert (r["abandon_rate_num"], r["abandon_rate_den"]) == (1, 4)
    assert r["asa_s"] == pytest.approx(50 / 3)
    assert r["aht_s"] == 150.0
    # FCR: complete windows (<= 01-03 09:00): 1, 2 -> A's IVR-only contact 4 is not a repeat -> 2 / 2
    assert (r["fcr_num"], r["fcr_den"]) == (2, 2)


def test_never_queued_by_day_and_without_the_column():
    k = kpi_table(ivr(), by=("day",))
    assert k["ivr_only"].tolist() == [1, 1, 0]  # 5 on 01-01, 4 on 01-02, none on 01-10
    assert k["offered"].tolist() == [3, 0, 1]
    plain = kpi_table(ivr().drop(columns="reached_queue"), by=())
    assert (plain["offered"].item(), plain["ivr_only"].item()) == (6, 0)


def test_never_queued_contacts_in_contact_features_and_erlang():
    f = contact_features(ivr()).set_index("interaction_id")
    assert f.loc[["1", "2", "3", "4", "5", "6"], "reached_queue"].tolist() == [True, True, True, False, False, True]
    assert f.loc[["4", "5"], ["handled", "short_abandon", "answered_within_t"]].eq(False).all().all()
    assert f.loc[["4", "5"], "repeat_within_w"].isna().all()
    assert f.loc["1", "repeat_within_w"] == False  # noqa: E712  (the IVR contact 4 is not a repeat)
    staff = pd.DataFrame({"interval_start": ts("2025-01-01 09:00"), "queue": ["q"], "interval_s": [1800.0],
                          "agents_staffed": [2.0]})
    e = erlang_check(ivr(), staff)
    # workload per offered contact: handle of handled (100 + 300 + 50) / offered 4 (not 6) = 112.5 s
    assert e["workload_s"].iloc[0] == 112.5
    # patience: queue time of offered 10 + 40 + 30 + 0 = 80 over 1 abandon
    assert e["patience_s"].iloc[0] == 80.0


def test_parquet_and_relation_inputs_without_optional_columns(tmp_path):
    import duckdb

    df = ivr().drop(columns=["hold_s", "acw_s", "transferred", "channel"])
    expected = kpi_table(df, by=("day",))
    path = tmp_path / "calls.parquet"
    df.to_parquet(path)
    con = duckdb.connect()
    try:
        for src in (str(path), con.sql(f"SELECT * FROM read_parquet('{path}')")):
            got = kpi_table(src, by=("day",))
            pd.testing.assert_frame_equal(got, expected)
            assert got.attrs["not_measured"] == expected.attrs["not_measured"]
    finally:
        con.close()
    assert set(expected.attrs["not_measured"]) == {"aht", "transfer_rate", "hold_rate", "occupancy"}
    assert expected["ivr_only"].sum() == 2
