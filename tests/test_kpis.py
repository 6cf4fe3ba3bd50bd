"""Step 2: KPI definitions, the DuckDB KPI table, contact features and rollup.

Every expected number below is worked out by hand from the 17-contact
fixture ``CONTACTS`` (the working is in the comments above each assertion).
"""

import re
import sqlite3

import duckdb
import numpy as np
import pandas as pd
import pytest

from cxlab.config import KpiOptions
from cxlab.kpis import contact_features, definitions_table, kpi_definitions, kpi_table, rollup

# id, customer, channel, queue, arrived_at (UTC), wait, talk, hold, acw, abandoned, transferred
CONTACTS = [
    ("1", "A", "voice", "billing", "2025-01-01 09:00", 5, 300, 0, 30, False, False),
    ("2", "B", "voice", "billing", "2025-01-01 09:10", 15, 200, 60, 20, False, True),
    ("3", "C", "voice", "billing", "2025-01-01 09:20", 20, 400, 0, 40, False, False),
    ("4", "D", "voice", "billing", "2025-01-01 09:30", 25, 100, 30, 10, False, False),
    ("5", "E", "voice", "billing", "2025-01-01 09:40", 3, 0, 0, 0, True, False),
    ("6", "F", "voice", "billing", "2025-01-01 09:50", 5, 0, 0, 0, True, False),
    ("7", "G", "voice", "billing", "2025-01-01 10:00", 40, 0, 0, 0, True, False),
    ("8", "H", "chat", "billing", "2025-01-01 10:10", 12, 0, 0, 0, True, False),
    ("9", "A", "chat", "billing", "2025-01-02 09:00", 8, 250, 20, 30, False, False),
    ("10", "B", "voice", "billing", "2025-01-02 12:00", 30, 150, 0, 15, False, True),
    ("11", "I", "voice", "sales", "2025-01-02 13:00", 10, 500, 100, 50, False, False),
    ("12", "C", "voice", "billing", "2025-01-05 10:00", 2, 0, 0, 0, True, False),
    ("13", "D", "voice", "billing", "2025-01-04 09:30", 18, 120, 0, 10, False, False),
    ("14", "I", "voice", "sales", "2025-01-09 13:00", 22, 300, 0, 20, False, False),
    ("15", "J", "voice", "sales", "2025-01-10 08:00", 0, 200, 0, 0, False, False),
    ("16", "A", "voice", "billing", "2025-01-12 09:00", 6, 100, 10, 10, False, False),
    ("17", "J", "chat", "sales", "2025-01-11 08:00", 50, 0, 0, 0, True, False),
]
# Summary used throughout (17 offered):
#   handled  = 1,2,3,4,9,10,11,13,14,15,16                      -> 11
#   abandoned = 5 (3 s), 6 (5 s), 7 (40 s), 8 (12 s), 12 (2 s), 17 (50 s) -> 6
#   handled waits: 5,15,20,25,8,30,10,18,22,0,6 (sum 159)
#   data end = 2025-01-12 09:00 (contact 16)


def frame(rows=CONTACTS):
    df = pd.DataFrame(rows, columns=["interaction_id", "customer_id", "channel", "queue", "arrived_at", "wait_s",
                                     "talk_s", "hold_s", "acw_s", "abandoned", "transferred"])
    df["arrived_at"] = pd.to_datetime(df["arrived_at"]).dt.tz_localize("UTC")
    for c in ("wait_s", "talk_s", "hold_s", "acw_s"):
        df[c] = df[c].astype(float)
    df["agent_id"] = np.where(df["abandoned"], None, "ag1")
    df["direction"] = "inbound"
    return df


def total(**options):
    return kpi_table(frame(), by=(), options=options or None).iloc[0]


# ----------------------------------------------------------------------------- counts and service level


def test_counts():
    r = total()
    # offered 17; handled 11; abandoned 6; short (< 5 s): ids 5 (3 s), 12 (2 s) -> 2
    assert (r["offered"], r["handled"], r["abandoned"], r["short_abandoned"]) == (17, 11, 6, 2)
    # short (< 6 s): ids 5, 6 (5 s), 12 -> 3   (5 s is short under S = 6 but not under S = 5)
    assert total(short_abandon_s=6)["short_abandoned"] == 3


@pytest.mark.parametrize(
    "options, num, den",
    [
        # exclude_short, T=20, S=5: answered <= 20 s = 8 (ids 1,2,3,9,11,13,15,16; id 3 waited exactly 20 s)
        #   ÷ (offered 17 − short 2) = 8/15
        ({}, 8, 15),
        # exclude_short, T=20, S=6: 8 ÷ (17 − short 3) = 8/14
        ({"short_abandon_s": 6}, 8, 14),
        # exclude_short, T=15, S=5: answered <= 15 s = 6 (ids 1,2,9,11,15,16) ÷ 15 = 6/15
        ({"sl_threshold_s": 15}, 6, 15),
        # ignore_abandons, T=20: 8 ÷ answered 11
        ({"abandon_treatment": "ignore_abandons"}, 8, 11),
        # ignore_abandons, T=15: 6 ÷ 11
        ({"abandon_treatment": "ignore_abandons", "sl_threshold_s": 15}, 6, 11),
        # abandons_within_t_met, T=20: (answered <= 20 s: 8 + abandoned <= 20 s: ids 5,6,8,12 = 4) ÷ offered 17
        ({"abandon_treatment": "abandons_within_t_met"}, 12, 17),
        # abandons_within_t_met, T=15: (6 + 4) ÷ 17
        ({"abandon_treatment": "abandons_within_t_met", "sl_threshold_s": 15}, 10, 17),
    ],
)
def test_service_level_treatments_and_thresholds(options, num, den):
    r = total(**options)
    assert (r["service_level_num"], r["service_level_den"]) == (num, den)
    # closed form: 100 * num / den
    assert r["service_level_pct"] == pytest.approx(100 * num / den, rel=1e-12)


def test_abandon_rate_with_short_threshold():
    # S=5: abandons not short = 6 − 2 = 4 (ids 6,7,8,17) ÷ (17 − 2) = 4/15
    r = total()
    assert (r["abandon_rate_num"], r["abandon_rate_den"]) == (4, 15)
    assert r["abandon_rate_pct"] == pytest.approx(100 * 4 / 15)
    # S=6: (6 − 3) ÷ (17 − 3) = 3/14
    r = total(short_abandon_s=6)
    assert r["abandon_rate_pct"] == pytest.approx(100 * 3 / 14)


def test_asa_and_aht():
    r = total()
    # ASA: handled waits 5+15+20+25+8+30+10+18+22+0+6 = 159 over 11 answered (abandons excluded)
    assert (r["asa_num"], r["asa_den"]) == (159.0, 11)
    assert r["asa_s"] == pytest.approx(159 / 11)
    # AHT with hold: 330+280+440+140+300+165+650+130+320+200+120 = 3075 over 11
    assert r["aht_num"] == 3075.0 and r["aht_s"] == pytest.approx(3075 / 11)
    # AHT without hold: 3075 − hold 220 (60+30+20+100+10) = 2855 over 11
    assert total(aht_includes_hold=False)["aht_s"] == pytest.approx(2855 / 11)


def test_transfer_and_hold_rate():
    r = total()
    # transferred: ids 2, 10 -> 2/11
    assert (r["transfer_rate_num"], r["transfer_rate_den"]) == (2, 11)
    # hold > 0 among handled: ids 2, 4, 9, 11, 16 -> 5/11
    assert (r["hold_rate_num"], r["hold_rate_den"]) == (5, 11)
    assert r["hold_rate_pct"] == pytest.approx(100 * 5 / 11)


# ----------------------------------------------------------------------------- FCR


@pytest.mark.parametrize(
    "window, channel, num, den",
    [
        # Next contact by the same customer (any channel): 1->9 1 d, 9->16 10 d, 2->10 1 d 2 h 50,
        # 3->12 4 d 40 min (12 is an ABANDONED repeat), 4->13 exactly 3 d, 11->14 exactly 7 d, 15->17 1 d.
        # W=7: window complete when arrived <= 01-05 09:00: handled 1,2,3,4,9,10,11,13 -> den 8
        #   repeats within 7 d (inclusive): 1,2,3,4,11 -> no repeat: 9,10,13 -> 3/8
        (7, "any", 3, 8),
        # W=3: complete when arrived <= 01-09 09:00: same 8 handled (14 arrived 13:00) -> den 8
        #   repeats within 3 d: 1,2,4 (exactly 3 d counts) -> no repeat: 3,9,10,11,13 -> 5/8
        (3, "any", 5, 8),
        # W=7 same channel: 1 (voice) -> next voice is 16 after 11 d: no repeat; 9 (chat) none;
        #   repeats: 2,3,4,11 -> no repeat: 1,9,10,13 -> 4/8
        (7, "same", 4, 8),
        # W=3 same channel: repeats 2,4 -> 6/8
        (3, "same", 6, 8),
    ],
)
def test_fcr_window_and_channel(window, channel, num, den):
    r = total(fcr_window_days=window, fcr_channel=channel)
    assert (r["fcr_num"], r["fcr_den"]) == (num, den)
    assert r["fcr_pct"] == pytest.approx(100 * num / den)


def test_fcr_right_censoring():
    # W=7: contacts 14 (01-09), 15 (01-10), 16 (01-12) arrived less than 7 days before the data end
    # (01-12 09:00): excluded from num AND den, although 16 has no repeat (would look resolved) and
    # 15 has an observed repeat (17, a day later).
    by_day = kpi_table(frame(), by=("day",)).set_index("day")
    for day in ("2025-01-09", "2025-01-10", "2025-01-12"):
        assert by_day.loc[pd.Timestamp(day), "fcr_den"] == 0
        assert np.isnan(by_day.loc[pd.Timestamp(day), "fcr_pct"])
    # Drop contact 16: the data now end at 01-11 08:00 (contact 17).
    # W=3: complete when arrived <= 01-08 08:00 -> handled 1,2,3,4,9,10,11,13 -> den still 8
    r = kpi_table(frame(CONTACTS[:-2] + CONTACTS[-1:]), by=(), options={"fcr_window_days": 3}).iloc[0]
    assert r["fcr_den"] == 8
    # W=7: complete when arrived <= 01-04 08:00, so 13 (01-04 09:30) is now censored
    # -> den = handled 1,2,3,4,9,10,11 = 7; no repeat: 9 (16 is gone), 10 -> num 2
    r = kpi_table(frame(CONTACTS[:-2] + CONTACTS[-1:]), by=(), options={"fcr_window_days": 7}).iloc[0]
    assert (r["fcr_num"], r["fcr_den"]) == (2, 7)


# ----------------------------------------------------------------------------- occupancy


def staffing():
    rows = [
        ("2025-01-01 09:00", "billing", 1800.0, 1.0),
        ("2025-01-01 09:30", "billing", 1800.0, 0.5),
        ("2025-01-02 09:00", "billing", 1800.0, 1.0),
        ("2025-01-03 09:00", "billing", 1800.0, 2.0),  # staffed, no contacts
    ]
    s = pd.DataFrame(rows, columns=["interval_start", "queue", "interval_s", "agents_staffed"])
    s["interval_start"] = pd.to_datetime(s["interval_start"]).dt.tz_localize("UTC")
    return s


def test_occupancy_with_staffing():
    k = kpi_table(frame(), by=("day", "queue"), staffing=staffing()).set_index(["day", "queue"])
    d1 = k.loc[(pd.Timestamp("2025-01-01"), "billing")]
    # handle time billing 01-01: 330 + 280 + 440 + 140 = 1190 s; staffed 1800*1 + 1800*0.5 = 2700 s
    assert (d1["occupancy_num"], d1["occupancy_den"]) == (1190.0, 2700.0)
    assert d1["occupancy_pct"] == pytest.approx(100 * 1190 / 2700)
    # 01-02 billing: (300 + 165) / 1800
    assert k.loc[(pd.Timestamp("2025-01-02"), "billing"), "occupancy_pct"] == pytest.approx(100 * 465 / 1800)
    # 01-02 sales: no staffing -> NaN; 01-03 billing: staffed, no contacts -> a row with 0 %
    assert np.isnan(k.loc[(pd.Timestamp("2025-01-02"), "sales"), "occupancy_pct"])
    d3 = k.loc[(pd.Timestamp("2025-01-03"), "billing")]
    assert d3["offered"] == 0 and d3["occupancy_pct"] == 0.0
    # occupancy always counts hold (agent busy), whatever the AHT option
    k2 = kpi_table(frame(), by=("day", "queue"), staffing=staffing(), options={"aht_includes_hold": False})
    assert k2["occupancy_num"].sum() == k["occupancy_num"].sum()


def test_occupancy_left_out_when_staffing_cannot_split():
    with pytest.warns(UserWarning, match="occupancy left out"):
        k = kpi_table(frame(), by=("day", "channel"), staffing=staffing())
    # not measured: NaN (never 0), with the reason in attrs
    assert k[["occupancy_num", "occupancy_den", "occupancy_pct"]].isna().all().all()
    assert k.attrs["not_measured"] == {"occupancy": "staffing cannot be split by ['channel']"}


# ----------------------------------------------------------------------------- periods and time zones


def tz_frame():
    rows = [
        # 2025-01-02 04:30 UTC = 2025-01-01 23:30 in New York (UTC−5)
        ("a", "X", "voice", "billing", "2025-01-02 04:30", 10, 100, 0, 0, False, False),
        # 2025-01-02 05:30 UTC = 2025-01-02 00:30 in New York
        ("b", "Y", "voice", "billing", "2025-01-02 05:30", 30, 100, 0, 0, False, False),
    ]
    return frame(rows)


def test_day_bucketing_uses_local_time():
    ny = kpi_table(tz_frame(), by=("day",), timezone="America/New_York")
    # 23:30 local on Jan 1 is Jan 1 although it is Jan 2 in UTC
    assert ny["day"].tolist() == [pd.Timestamp("2025-01-01"), pd.Timestamp("2025-01-02")]
    assert ny["offered"].tolist() == [1, 1]
    utc = kpi_table(tz_frame(), by=("day",), timezone="UTC")
    assert utc["day"].tolist() == [pd.Timestamp("2025-01-02")] and utc["offered"].item() == 2
    f = contact_features(tz_frame(), timezone="America/New_York")
    assert f["date"].tolist() == [pd.Timestamp("2025-01-01"), pd.Timestamp("2025-01-02")]


def test_week_month_interval_periods():
    w = kpi_table(frame(), by=("week",))
    # ISO weeks start Monday: 2024-12-30 holds Jan 1-5 (ids 1-13), 2025-01-06 holds ids 14-17
    assert w["week"].tolist() == [pd.Timestamp("2024-12-30"), pd.Timestamp("2025-01-06")]
    assert w["offered"].tolist() == [13, 4]
    assert kpi_table(frame(), by=("month",))["offered"].tolist() == [17]
    i = kpi_table(frame(), by=("interval", "queue")).set_index(["interval", "queue"])
    # 09:00-09:30 billing on Jan 1: ids 1, 2, 3
    assert i.loc[(pd.Timestamp("2025-01-01 09:00"), "billing"), "offered"] == 3


def test_sorted_and_segment_columns():
    k = kpi_table(frame(), by=("day", "queue", "channel"))
    assert list(k.columns[:3]) == ["day", "queue", "channel"]
    assert k.equals(k.sort_values(["day", "queue", "channel"]).reset_index(drop=True))
    assert k["offered"].sum() == 17


# ----------------------------------------------------------------------------- rollup


@pytest.mark.parametrize("fine, coarse", [
    (("day", "queue"), ("week", "queue")),
    (("day", "queue"), ("queue",)),
    (("interval", "queue", "channel"), ("day", "queue")),
    (("day", "queue", "channel"), ()),
])
def test_rollup_equals_direct_computation(fine, coarse):
    opts = {"fcr_window_days": 3}
    rolled = rollup(kpi_table(frame(), by=fine, options=opts), by=coarse)
    direct = kpi_table(frame(), by=coarse, options=opts)
    pd.testing.assert_frame_equal(rolled, direct, check_dtype=False, rtol=1e-12)


def test_rollup_is_not_an_average_of_averages():
    k = kpi_table(frame(), by=("day", "queue"))
    r = rollup(k, by=())
    # ASA = 159 / 11, not the mean of the daily ASAs
    assert r["asa_s"].item() == pytest.approx(159 / 11)
    assert r["asa_s"].item() != pytest.approx(k["asa_s"].mean())


def test_rollup_with_staffing_and_definitions():
    k = kpi_table(frame(), by=("day", "queue"), staffing=staffing(),
                  definitions=[{}, {"fcr_window_days": 3}])
    r = rollup(k, by=("queue",))
    direct = kpi_table(frame(), by=("queue",), staffing=staffing(), definitions=[{}, {"fcr_window_days": 3}])
    pd.testing.assert_frame_equal(r, direct, check_dtype=False, rtol=1e-12)
    # billing staffed 2700 + 1800 + 3600 = 8100 s
    assert r.loc[r["queue"] == "billing", "occupancy_den"].tolist() == [8100.0, 8100.0]


def test_rollup_rejects_underivable_period():
    with pytest.raises(ValueError, match="cannot derive 'day' from 'week'"):
        rollup(kpi_table(frame(), by=("week",)), by=("day",))


# ----------------------------------------------------------------------------- definitions (sensitivity)


def test_multiple_definitions_add_definition_column():
    k = kpi_table(frame(), by=(), definitions=[{}, {"sl_threshold_s": 15}, {"abandon_treatment": "ignore_abandons"},
                                               {"fcr_window_days": 3, "label": "FCR 3 d"}])
    assert k["definition"].tolist() == ["default", "sl_threshold_s=15", "abandon_treatment=ignore_abandons",
                                        "FCR 3 d"]
    # hand-worked above: 8/15, 6/15, 8/11, and FCR 3 d 5/8
    assert k["service_level_pct"].tolist()[:3] == pytest.approx([100 * 8 / 15, 100 * 6 / 15, 100 * 8 / 11])
    assert k["fcr_pct"].tolist()[3] == pytest.approx(100 * 5 / 8)
    assert k.columns[0] == "definition"


def test_definitions_accept_kpioptions():
    k = kpi_table(frame(), by=("queue",), definitions=[KpiOptions(), KpiOptions(fcr_channel="same")])
    assert k["definition"].tolist() == ["default", "default", "fcr_channel=same", "fcr_channel=same"]


def test_bad_option_names_option_and_allowed_values():
    with pytest.raises(ValueError, match=r"abandon_treatment must be one of \['exclude_short', 'ignore_abandons', "
                                         r"'abandons_within_t_met'\]; got 'exclude'"):
        kpi_table(frame(), options={"abandon_treatment": "exclude"})
    with pytest.raises(ValueError, match=r"fcr_channel must be one of \['any', 'same'\]; got 'all'"):
        kpi_table(frame(), definitions=[{"fcr_channel": "all"}])
    with pytest.raises(ValueError, match="unknown KPI option 'sl_threshold'.*did you mean 'sl_threshold_s'"):
        kpi_table(frame(), options={"sl_threshold": 20})
    with pytest.raises(ValueError, match="by: unknown period or column 'dya'.*did you mean 'day'"):
        kpi_table(frame(), by=("dya",))
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        kpi_table(frame(), timezone="Mars/Olympus")
    with pytest.raises(ValueError, match=r"lack required column\(s\) \['wait_s'\]"):
        kpi_table(frame().drop(columns="wait_s"))


def test_definitions_table_prints_options_and_sources():
    t = definitions_table({"fcr_window_days": 14, "abandon_treatment": "ignore_abandons"}).set_index("name")
    assert list(t.columns) == ["label", "unit", "definition", "formula", "options", "source"]
    assert t.loc["fcr", "options"] == "fcr_window_days=14; fcr_channel=any"
    assert "within 14 days" in t.loc["fcr", "definition"]
    assert "abandons ignored" in t.loc["service_level", "definition"]
    assert t["source"].str.contains("KPI_DEFINITIONS.md").all()


def test_definitions_are_engine_neutral_sql():
    # The definitions must run unchanged on another SQL engine: evaluate them with SQLite over a
    # feature relation built here in pandas (independent of the DuckDB executor).
    df = frame().sort_values(["customer_id", "arrived_at"])
    t = df["arrived_at"]
    nxt = df.groupby("customer_id")["arrived_at"].shift(-1)
    nxt_same = df.groupby(["customer_id", "channel"])["arrived_at"].shift(-1)
    feat = pd.DataFrame({
        "customer_id": df["customer_id"],
        "abandoned": df["abandoned"].astype(int), "transferred": df["transferred"].astype(int),
        "wait_s": df["wait_s"], "talk_s": df["talk_s"], "hold_s": df["hold_s"], "acw_s": df["acw_s"],
        "next_any_gap_s": (nxt - t).dt.total_seconds(), "next_same_gap_s": (nxt_same - t).dt.total_seconds(),
        "observed_after_s": (t.max() - t).dt.total_seconds(),
    })
    con = sqlite3.connect(":memory:")
    feat.to_sql("contacts", con, index=False)
    for opts in ({}, {"fcr_channel": "same", "fcr_window_days": 3}, {"abandon_treatment": "abandons_within_t_met"}):
        direct = total(**opts)
        for d in kpi_definitions(opts):
            text = f"{d.numerator} {d.denominator or ''}".lower()
            for banned in (r"\bepoch", r"\btimezone\b", "::", r"\bdate_trunc\b", r"\btime_bucket\b",
                           r"\binterval\b", r"\bfilter\s*\("):
                assert not re.search(banned, text), (d.name, banned)
            if d.name == "occupancy":
                continue
            num = con.execute(f"SELECT SUM({d.numerator}) FROM contacts").fetchone()[0]
            if d.denominator is None:
                assert num == direct[d.name], d.name
            else:
                den = con.execute(f"SELECT SUM({d.denominator}) FROM contacts").fetchone()[0]
                assert (num, den) == pytest.approx((direct[f"{d.name}_num"], direct[f"{d.name}_den"])), d.name


# ----------------------------------------------------------------------------- inputs


def test_parquet_path_and_duckdb_relation_inputs(tmp_path):
    expected = kpi_table(frame(), by=("day", "queue"))
    path = tmp_path / "inter.parquet"
    frame().to_parquet(path)
    pd.testing.assert_frame_equal(kpi_table(str(path), by=("day", "queue")), expected, check_dtype=False)
    con = duckdb.connect()
    con.register("raw", frame())
    rel = con.sql("SELECT * FROM raw")
    pd.testing.assert_frame_equal(kpi_table(rel, by=("day", "queue")), expected, check_dtype=False)


@pytest.fixture(scope="module")
def sample_tables(tmp_path_factory):
    """A small ``cxlab sample`` run: interactions (arrived_at timestamp[ns, tz=UTC]) and staffing."""
    from cxlab.sample import write_sample

    paths = write_sample(tmp_path_factory.mktemp("sample"), days=10, contacts_per_day=60)
    return paths["interactions"], pd.read_parquet(paths["staffing"])


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", ["UTC", None])
def test_parquet_timestamps_of_every_precision(sample_tables, tmp_path, unit, tz):
    # issue 20: TIMESTAMPTZ_NS (and the other precisions) read from Parquet or a relation
    # must give exactly the numbers of the same table handed over as a DataFrame
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cxlab.kpis import erlang_check

    src, staff = sample_tables
    table = pq.read_table(src)
    i = table.column_names.index("arrived_at")
    table = table.set_column(i, "arrived_at", table["arrived_at"].cast(pa.timestamp(unit, tz=tz), safe=False))
    path = tmp_path / f"inter_{unit}_{tz}.parquet"
    pq.write_table(table, path, coerce_timestamps=None)
    df = table.to_pandas()
    for by in [("day", "queue"), ()]:
        expected = kpi_table(df, by=by, timezone="America/New_York")
        assert len(expected) >= 1 and expected["offered"].sum() == len(df)
        pd.testing.assert_frame_equal(kpi_table(path, by=by, timezone="America/New_York"), expected)
    pd.testing.assert_frame_equal(contact_features(path), contact_features(df))
    pd.testing.assert_frame_equal(erlang_check(path, staff), erlang_check(df, staff))
    con = duckdb.connect()
    duck_type = {"s": "TIMESTAMP_S", "ms": "TIMESTAMP_MS", "us": "TIMESTAMP", "ns": "TIMESTAMP_NS"}[unit]
    if tz:
        duck_type = "TIMESTAMPTZ_NS" if unit == "ns" else "TIMESTAMPTZ"
    rel = con.sql(f"SELECT * REPLACE (CAST(arrived_at AS {duck_type}) AS arrived_at) "
                  f"FROM read_parquet('{path}')")
    assert str(rel.types[rel.columns.index("arrived_at")]).replace("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ") \
        == duck_type
    pd.testing.assert_frame_equal(kpi_table(rel), kpi_table(df))


def test_outbound_contacts_are_not_offered():
    df = frame()
    df.loc[df["interaction_id"] == "9", "direction"] = "outbound"
    r = kpi_table(df, by=()).iloc[0]
    assert r["offered"] == 16
    # without 9, customer A's voice contact 1 has no repeat within 7 days (16 is 11 days later):
    # FCR W=7 any: complete handled 1,2,3,4,10,11,13 -> no repeat 1,10,13 -> 3/7
    assert (r["fcr_num"], r["fcr_den"]) == (3, 7)


def test_simultaneous_contacts_are_repeats_of_each_other():
    rows = [
        ("x1", "Z", "voice", "billing", "2025-01-01 09:00", 5, 100, 0, 0, False, False),
        ("x2", "Z", "chat", "billing", "2025-01-01 09:00", 5, 100, 0, 0, False, False),
        ("x3", "Q", "voice", "billing", "2025-01-20 09:00", 5, 100, 0, 0, False, False),
    ]
    f = contact_features(frame(rows)).set_index("interaction_id")
    # both tie members have a repeat (gap 0), whichever order the engine sorts them in
    assert f.loc["x1", "repeat_within_w"] and f.loc["x2", "repeat_within_w"]
    assert f.loc["x1", "is_repeat"] and f.loc["x2", "is_repeat"]
    assert f.loc["x1", "next_contact_at"] == pd.Timestamp("2025-01-01 09:00", tz="UTC")


# ----------------------------------------------------------------------------- contact features


def test_contact_features_flags_and_repeat_fields():
    f = contact_features(frame(), options={"fcr_window_days": 7}).set_index("interaction_id")
    assert len(f) == 17 and f.index.tolist()[:3] == ["1", "2", "3"]
    # 3 waited exactly 20 s: within T; 6 abandoned at 5 s: not short under S = 5
    assert f.loc["3", "answered_within_t"] and not f.loc["6", "short_abandon"] and f.loc["5", "short_abandon"]
    assert f.loc["2", "handle_s"] == 280.0 and f.loc["2", "held"] and f.loc["2", "transferred"]
    # repeats (W=7, any channel): 1 -> 9 next day; 9 -> 16 after 10 days (no); 11 -> 14 exactly 7 days (yes)
    assert f.loc["1", "repeat_within_w"] and not f.loc["9", "repeat_within_w"] and f.loc["11", "repeat_within_w"]
    assert f.loc["1", "next_contact_at"] == pd.Timestamp("2025-01-02 09:00", tz="UTC")
    # censored: 16 (last contact) and 14 unknown; 15 came back (17) -> True even though censored
    assert pd.isna(f.loc["16", "repeat_within_w"]) and pd.isna(f.loc["14", "repeat_within_w"])
    assert f.loc["15", "repeat_within_w"] and not f.loc["15", "repeat_window_complete"]
    assert pd.isna(f.loc["16", "next_contact_at"])
    # is_repeat: 9 follows 1 within 7 days; 16 follows 9 after 10 days -> False; 1 is first -> False
    assert f.loc["9", "is_repeat"] and not f.loc["16", "is_repeat"] and not f.loc["1", "is_repeat"]
    # the features sum to the KPI table (same SQL conditions)
    r = total()
    assert f["answered_within_t"].sum() == r["service_level_num"]
    assert f.loc[f["handled"], "handle_s"].sum() == r["aht_num"]


def test_contact_features_same_channel_and_no_hold():
    f = contact_features(frame(), options={"fcr_channel": "same", "aht_includes_hold": False}).set_index(
        "interaction_id")
    # same channel: 1 (voice) -> next voice 16 after 11 days -> no repeat within 7 days
    assert not f.loc["1", "repeat_within_w"]
    assert f.loc["1", "next_contact_at"] == pd.Timestamp("2025-01-12 09:00", tz="UTC")
    assert f.loc["2", "handle_s"] == 220.0  # 200 talk + 20 acw
    assert str(f["arrived_at"].dtype) == "datetime64[ns, UTC]"


# ----------------------------------------------------------------------------- staffing vs Erlang


def test_erlang_check_per_interval():
    from cxlab.kpis import erlang_check
    from cxlab.kpis.erlang import erlang_a, service_level

    c = erlang_check(frame(), staffing(), concurrency={"chat": 2}).set_index(["interval", "queue"])
    r = c.loc[(pd.Timestamp("2025-01-01 09:00"), "billing")]
    # billing offered 13 (ids 1-10, 12, 13, 16); workload = handle of handled billing contacts
    # (330+280+440+140+165+130+120 voice, 300/2 chat id 9) = 1755 over 13 offered; patience = all billing
    # waits (5+15+20+25+3+5+40+12+8+30+2+18+6 = 189) ÷ 5 abandons (ids 5,6,7,8,12)
    assert r["workload_s"] == pytest.approx(1755 / 13)
    assert r["patience_s"] == pytest.approx(189 / 5)
    # 09:00-09:30: ids 1, 2, 3 offered, 1 agent staffed; A = 3 × workload / 1800
    a = 3 * (1755 / 13) / 1800
    assert r["agents_staffed"] == 1.0 and r["load_erlangs"] == pytest.approx(a)
    assert r["erlang_c_sl_pct"] == pytest.approx(100 * service_level(1.0, a, aht_s=1755 / 13, t_s=20))
    ea = erlang_a(1.0, a, aht_s=1755 / 13, patience_s=189 / 5, t_s=20)["service_level"].item()
    assert r["erlang_a_sl_pct"] == pytest.approx(100 * ea)
    assert r["erlang_band"] == f"{int(r['erlang_c_sl_pct'] // 10 * 10)}-{int(r['erlang_c_sl_pct'] // 10 * 10 + 10)}%"
    # actual SL in that interval (exclude_short): answered <= 20 s = ids 1, 2, 3 -> 3/3
    assert r["service_level_pct"] == 100.0


def test_plots_draw_precomputed_frames():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cxlab import plots
    from cxlab.kpis import SENSITIVITY, erlang_check

    k = kpi_table(frame(), by=("day", "queue"))
    fig = plots.kpi_trend(k, x="day", hue="queue")
    assert len(fig.axes) == 5
    assert [ax.get_ylabel() for ax in fig.axes] == ["Service level (%)", "ASA (s)", "Abandon rate (%)", "AHT (s)",
                                                   "FCR (%)"]
    # one line per queue in each panel, drawing the table's values
    sl = fig.axes[0]
    assert [ln.get_label() for ln in sl.get_lines()] == ["billing", "sales"]
    billing = k[k["queue"] == "billing"].sort_values("day")
    np.testing.assert_array_equal(sl.get_lines()[0].get_ydata(), billing["service_level_pct"].to_numpy())
    plt.close(fig)

    ax = plots.kpi_distribution(k, kpi="aht_s", by="queue")
    assert ax.get_xlabel() == "AHT (s)"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["billing", "sales"]
    # the box medians are the medians of the daily values per queue
    medians = [ln.get_xdata()[0] for ln in ax.get_lines() if ln.get_color() == plots.PALETTE["accent"]]
    assert medians == pytest.approx(k.dropna(subset=["aht_s"]).groupby("queue")["aht_s"].median().tolist())
    plt.close(ax.figure)

    bands = rollup(erlang_check(frame(), staffing()), by=("erlang_band",))
    ax = plots.sl_vs_erlang(bands)
    assert ax.get_ylabel() == "Actual service level (%)"
    actual = ax.get_lines()[0]
    assert actual.get_label() == "actual (all contacts in band)"
    bands = bands.dropna(subset=["erlang_band"])  # intervals without staffing have no band and are not drawn
    mids = [(float(b.split("-")[0]) + float(b.split("-")[1].rstrip("%"))) / 2 for b in bands["erlang_band"]]
    order = np.argsort(mids)
    np.testing.assert_array_equal(actual.get_xdata(), np.asarray(mids)[order])
    np.testing.assert_array_equal(actual.get_ydata(), bands["service_level_pct"].to_numpy()[order])
    assert [t.get_text() for t in ax.texts] == [f"{n:,}" for n in bands["offered"].to_numpy()[order]]
    plt.close(ax.figure)

    sens = kpi_table(frame(), by=(), definitions=SENSITIVITY)
    fig = plots.kpi_sensitivity(sens)
    assert len(fig.axes) == 4
    assert [ax.get_title() for ax in fig.axes] == ["Service level (%)", "Abandon rate (%)", "FCR (%)", "AHT (s)"]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == sens["definition"].tolist()
    # one point per definition at its value; the dashed reference line at the baseline (first row)
    np.testing.assert_array_equal(fig.axes[0].collections[-1].get_offsets()[:, 0], sens["service_level_pct"])
    assert fig.axes[0].get_lines()[0].get_xdata()[0] == sens["service_level_pct"].iloc[0]
    plt.close(fig)


def test_contact_features_repeat_options_equal_one_scan_per_definition():
    """Several FCR definitions flagged in one scan equal a separate contact_features call for each."""
    from cxlab.kpis import contact_features
    from cxlab.sample import load_sample

    inter = load_sample(days=30, contacts_per_day=120)["interactions"]
    opts = [{"fcr_window_days": w, "fcr_channel": ch} for w in (1, 3, 7, 14) for ch in ("any", "same")]
    one = contact_features(inter, timezone="America/New_York", repeat_options=opts)
    for k, o in enumerate(opts):
        alone = contact_features(inter, options=o, timezone="America/New_York")
        assert one["interaction_id"].tolist() == alone["interaction_id"].tolist()
        pd.testing.assert_series_equal(one[f"repeat_within_w_{k}"], alone["repeat_within_w"], check_names=False)
    # the configured definition's own columns do not change when extra windows ride along
    base = contact_features(inter, timezone="America/New_York")
    pd.testing.assert_frame_equal(one[base.columns], base)
    assert one["repeat_within_w_1"].sum() <= one["repeat_within_w_7"].sum()  # a longer window sees more repeats
