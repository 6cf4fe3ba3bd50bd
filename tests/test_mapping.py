"""The mapping without SQL: derived columns, filters, one column to many, one file to two tables,
duration and percent text, sentinels meaning unknown, contacts that never reached a queue, and
the vendor-shaped fixtures of tests/fixtures/vendors/ (see docs/mapping.md).

Every expected count is worked out twice: by construction (the generator's
``PLANTED`` numbers, or by hand for the small frames) and by an independent
pandas recount of the raw file. The accounting identity
``rows_read = accepted + quarantined + excluded`` is asserted for every load.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxlab.config import Mapping, Source, load_config
from cxlab.data import load_dataset, load_table
from cxlab.errors import ConfigError, SourceError

VENDORS = Path(__file__).parent / "fixtures" / "vendors"


def _planted():
    spec = importlib.util.spec_from_file_location("make_vendor_fixtures", VENDORS / "make_vendor_fixtures.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def identity(res):
    assert res.rows_read == res.rows_accepted + res.rows_quarantined + res.rows_excluded
    assert res.counts["rows"].sum() == res.rows_read - res.rows_excluded


def ds_identity(ds):
    for table, g in ds.accounting.groupby("table"):
        read, acc, qua, exc = g[["rows_read", "rows_accepted", "rows_quarantined", "rows_excluded"]].iloc[0]
        assert read == acc + qua + exc, table
        assert g["rows"].sum() == read - exc
        assert acc == len(ds.tables[table]) and qua == len(ds.quarantine[table])
    s = ds.summary()
    assert (s["rows_read"] == s["rows_accepted"] + s["rows_quarantined"] + s["rows_excluded"]).all()


def contacts(n=4, **cols):
    base = {
        "id": [f"I{k}" for k in range(n)], "cust": [f"C{k}" for k in range(n)], "queue": ["q1"] * n,
        "agent": ["A1"] * n, "day": ["2025-06-02"] * n, "time": ["10:00:00"] * n, "wait": ["10"] * n,
        "talk": ["100"] * n, "ab": ["false"] * n,
    }
    base.update(cols)
    return pd.DataFrame(base)


RENAME = {"id": "interaction_id", "cust": "customer_id", "queue": "queue", "agent": "agent_id",
          "wait": "wait_s", "talk": "talk_s", "ab": "abandoned"}


def csv_source(tmp_path, df, **mapping):
    path = tmp_path / "x.csv"
    df.to_csv(path, index=False)
    return Source(path=str(path), mapping=Mapping(**mapping))


# --------------------------------------------------------------------------- derived columns


def test_date_plus_time_with_a_format(tmp_path):
    df = contacts(3, day=["02/06/2025", "03/06/2025", "31/02/2025"], time=["09:15:00", "23:59:59", "10:00:00"])
    src = csv_source(tmp_path, df, rename=RENAME,
                     derive={"arrived_at": {"date": "day", "time": "time", "format": "%d/%m/%Y %H:%M:%S"}})
    res = load_table(src, "interactions", timezone="Europe/Madrid")
    identity(res)
    # 09:15 CEST (UTC+2) = 07:15Z; 23:59:59 CEST = 21:59:59Z; 31 February does not exist
    assert res.accepted["arrived_at"].tolist() == [pd.Timestamp("2025-06-02 07:15:00", tz="UTC"),
                                                   pd.Timestamp("2025-06-03 21:59:59", tz="UTC")]
    assert res.quarantined["reason"].tolist() == ["arrived_at: unparseable timestamp"]
    assert res.quarantined["source_row"].tolist() == [3]


def test_date_plus_time_iso_without_format(tmp_path):
    src = csv_source(tmp_path, contacts(1), rename=RENAME, derive={"arrived_at": {"date": "day", "time": "time"}})
    res = load_table(src, "interactions")
    assert res.accepted["arrived_at"].tolist() == [pd.Timestamp("2025-06-02 10:00", tz="UTC")]


def test_expression_column_and_one_column_to_two(tmp_path):
    df = contacts(2, talk=["100", "250"])
    rename = {**RENAME, "talk": ["talk_s", "acw_s"]}  # one source column, two canonical columns
    src = csv_source(tmp_path, df, rename=rename, derive={
        "arrived_at": {"date": "day", "time": "time"},
        "hold_s": 'CAST(talk AS DOUBLE) / 10',  # shorthand for {expr: ...}
    })
    res = load_table(src, "interactions")
    identity(res)
    assert res.accepted["talk_s"].tolist() == [100.0, 250.0]
    assert res.accepted["acw_s"].tolist() == [100.0, 250.0]
    assert res.accepted["hold_s"].tolist() == [10.0, 25.0]


@pytest.mark.parametrize("expr, found", [
    ("x IN (SELECT id FROM t)", "subquery"),
    ("(SELECT 1)", "subquery"),
    ("1) FROM t --", "does not parse"),
    ("1) ; DROP TABLE t; SELECT (1", "does not parse"),
    ("x) UNION SELECT (1", "not one expression"),
])
def test_expressions_must_be_plain(tmp_path, expr, found):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("sources:\n  interactions:\n    path: x.csv\n    mapping:\n"
                   f"      derive: {{queue: {expr!r}}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=found):
        load_config(cfg)
    cfg.write_text("sources:\n  interactions:\n    path: x.csv\n    mapping:\n"
                   f"      filter: {expr!r}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=found):
        load_config(cfg)


def test_derived_column_errors_name_the_key(tmp_path):
    src = csv_source(tmp_path, contacts(1), rename=RENAME, derive={"arrived_at": {"date": "dya", "time": "time"}})
    with pytest.raises(SourceError, match=r"mapping.derive.arrived_at: no source column 'dya' \(did you mean 'day'"):
        load_table(src, "interactions")
    src = csv_source(tmp_path, contacts(1), rename=RENAME, derive={"arrived_at": "nosuch || 'x'"})
    with pytest.raises(SourceError, match=r"mapping.derive.arrived_at: .*nosuch"):
        load_table(src, "interactions")
    src = csv_source(tmp_path, contacts(1), rename=RENAME, derive={"queue": "'x'"})
    with pytest.raises(SourceError, match="the source already has a column 'queue'"):
        load_table(src, "interactions")


# --------------------------------------------------------------------------- filters


def test_filter_and_where_are_excluded_not_quarantined(tmp_path):
    df = contacts(6, queue=["q1", "q1", "q2", "q3", "q1", "q2"], wait=["10", "x", "10", "10", "10", "10"])
    src = csv_source(tmp_path, df, rename=RENAME, derive={"arrived_at": {"date": "day", "time": "time"}},
                     where={"queue": ["q1", "q2"]}, filter="id <> 'I4'")
    res = load_table(src, "interactions")
    identity(res)
    # q3 (row 4) fails `where`, I4 (row 5) fails `filter`: 2 excluded; row 2 has wait 'x': quarantined
    assert (res.rows_read, res.rows_accepted, res.rows_quarantined, res.rows_excluded) == (6, 3, 1, 2)
    assert res.quarantined["source_row"].tolist() == [2]
    assert res.accepted["interaction_id"].tolist() == ["I0", "I2", "I5"]


def test_a_filter_that_keeps_nothing_is_not_an_empty_file(tmp_path):
    src = csv_source(tmp_path, contacts(3), rename=RENAME, derive={"arrived_at": {"date": "day", "time": "time"}},
                     filter="queue = 'none'")
    res = load_table(src, "interactions")
    assert (res.rows_read, res.rows_accepted, res.rows_excluded) == (3, 0, 3)


def test_where_names_a_missing_column(tmp_path):
    src = csv_source(tmp_path, contacts(1), rename=RENAME, where={"qeue": "q1"})
    with pytest.raises(SourceError, match=r"mapping.where: no source column 'qeue' \(did you mean 'queue'"):
        load_table(src, "interactions")


# --------------------------------------------------------------------------- durations, percent


@pytest.mark.parametrize("text, seconds", [
    ("1:02:03", 3723.0),  # H:MM:SS
    ("02:03", 123.0),  # MM:SS
    ("0.02.23", 143.0),  # H.MM.SS (telephony exports)
    ("1.00.00", 3600.0),
])
def test_duration_text(tmp_path, text, seconds):
    src = csv_source(tmp_path, contacts(1, talk=[text]), rename=RENAME,
                     derive={"arrived_at": {"date": "day", "time": "time"}}, duration_units={"talk_s": "hms"})
    res = load_table(src, "interactions")
    assert res.accepted["talk_s"].tolist() == [seconds]


def test_bad_duration_text_is_quarantined(tmp_path):
    src = csv_source(tmp_path, contacts(2, talk=["0.02.75", "2.5"]), rename=RENAME,
                     derive={"arrived_at": {"date": "day", "time": "time"}}, duration_units={"talk_s": "hms"})
    res = load_table(src, "interactions")
    identity(res)
    assert res.quarantined["reason"].tolist() == ["talk_s: unparseable duration"] * 2


def test_ms_and_min_units(tmp_path):
    src = csv_source(tmp_path, contacts(1, wait=["12500"], talk=["2.5"]), rename=RENAME,
                     derive={"arrived_at": {"date": "day", "time": "time"}},
                     duration_units={"wait_s": "ms", "talk_s": "min"})
    res = load_table(src, "interactions")
    assert (res.accepted["wait_s"].item(), res.accepted["talk_s"].item()) == (12.5, 150.0)


def test_percent_text_in_fraction_columns(tmp_path):
    df = pd.DataFrame({"day": ["2025-06-02", "2025-06-03", "2025-06-04"], "off": ["100", "200", "50"],
                       "sl": ["94.01%", "0.5", "80 %"], "ab": ["3.2%", "4%", "1%"], "asa": ["0:00:23"] * 3})
    src = csv_source(tmp_path, df, rename={"day": "period_start", "off": "offered", "sl": "service_level",
                                           "ab": "abandon_rate", "asa": "asa_s"}, duration_units={"asa_s": "hms"})
    res = load_table(src, "aggregates")
    identity(res)
    # a fraction column reads "94.01%" as 0.9401 and a plain number as the fraction itself
    np.testing.assert_allclose(res.accepted["service_level"], [0.9401, 0.5, 0.8])
    np.testing.assert_allclose(res.accepted["abandon_rate"], [0.032, 0.04, 0.01])
    assert res.accepted["asa_s"].tolist() == [23.0] * 3


def test_percent_columns_listed_and_percent_text_elsewhere(tmp_path):
    df = pd.DataFrame({"day": ["2025-06-02", "2025-06-03"], "off": ["100%", "200"], "sl": ["94.01", "50"]})
    src = csv_source(tmp_path, df, rename={"day": "period_start", "off": "offered", "sl": "service_level"},
                     percent=["service_level"])
    res = load_table(src, "aggregates")
    identity(res)
    # listed: every value is a percentage, 94.01 -> 0.9401; 'offered' is a count: '100%' is refused
    assert res.accepted["service_level"].tolist() == [0.5]
    assert res.quarantined["reason"].tolist() == ["offered: percent text in a column that is not a fraction"]
    with pytest.raises(SourceError, match=r"mapping.percent names 'servce_level'.*did you mean 'service_level'"):
        load_table(csv_source(tmp_path, df, rename={"day": "period_start", "off": "offered"},
                              percent=["servce_level"]), "aggregates")


# --------------------------------------------------------------------------- sentinels, not offered


def test_unknown_customer_sentinels(tmp_path):
    df = contacts(5, cust=["C1", "0", "", "0000", "C2"])
    src = csv_source(tmp_path, df, rename=RENAME, derive={"arrived_at": {"date": "day", "time": "time"}},
                     unknown={"customer_id": ["0", "0000"]})
    res = load_table(src, "interactions")
    identity(res)
    assert res.rows_quarantined == 0
    assert res.accepted["customer_id"].isna().tolist() == [False, True, True, True, False]
    assert res.unknown == {"customer_id": 3}


def test_not_offered_maps_reached_queue(tmp_path):
    # an IVR-only contact: no queue, no agent, not abandoned, empty durations
    df = contacts(3, agent=["A1", "", ""], ab=["false", "false", "true"],
                  wait=["10", "", "40"], talk=["100", "", ""]).drop(columns="queue").assign(skill=["q1", "", "q1"])
    src = csv_source(tmp_path, df, rename=RENAME,
                     derive={"arrived_at": {"date": "day", "time": "time"}, "queue": "coalesce(skill, 'IVR')"},
                     not_offered="skill IS NULL")
    res = load_table(src, "interactions")
    identity(res)
    assert res.rows_quarantined == 0
    got = res.accepted
    assert got["reached_queue"].tolist() == [True, False, True]
    assert got["queue"].tolist() == ["q1", "IVR", "q1"]
    # never queued: wait and talk read as 0, not 'missing value'; no 'answered contact without an agent'
    assert got["wait_s"].tolist() == [10.0, 0.0, 40.0] and got["talk_s"].tolist() == [100.0, 0.0, 0.0]


def test_one_customer_holding_many_contacts_warns(tmp_path):
    n = 400
    cust = ["0"] * 150 + [f"C{k}" for k in range(n - 150)]
    df = contacts(n, id=[f"I{k}" for k in range(n)], cust=cust)
    src = csv_source(tmp_path, df, rename=RENAME, derive={"arrived_at": {"date": "day", "time": "time"}})
    res = load_table(src, "interactions")
    (w,) = res.warnings
    assert "one customer id '0' holds 150 of 400 contacts (37.5%)" in w and "mapping.unknown" in w
    # a real-looking id is not shown (customer ids are private)
    df = contacts(n, id=[f"I{k}" for k in range(n)], cust=["CUST-83921"] * 150 + cust[150:])
    res = load_table(csv_source(tmp_path, df, rename=RENAME, derive={"arrived_at": {"date": "day", "time": "time"}}),
                     "interactions")
    assert "CUST-83921" not in res.warnings[0] and "value withheld" in res.warnings[0]
    # declared unknown: no warning
    res = load_table(csv_source(tmp_path, df.assign(cust=cust), rename=RENAME, unknown={"customer_id": ["0"]},
                                derive={"arrived_at": {"date": "day", "time": "time"}}), "interactions")
    assert res.warnings == ()


# --------------------------------------------------------------------------- vendor fixtures


def _kept(raw, mask, key):
    """Rows kept by the filter, minus later duplicates of the key (what the loader should accept)."""
    kept = raw[mask]
    return kept[~kept[key].duplicated()]


def test_fixtures_are_reproducible(tmp_path):
    mod = _planted()
    for folder, (make, fname, sep) in mod.WRITERS.items():
        out = tmp_path / fname
        make().to_csv(out, index=False, sep=sep, lineterminator="\n")
        assert out.read_bytes() == (VENDORS / folder / fname).read_bytes(), folder


def test_amazon_connect_fixture():
    p = _planted().PLANTED["amazon_connect"]
    ds = load_dataset(load_config(VENDORS / "amazon_connect" / "config.yaml"))
    ds_identity(ds)
    raw = pd.read_csv(VENDORS / "amazon_connect" / "contact_records.csv", dtype=str, keep_default_na=False)
    inbound = raw["InitiationMethod"] != "OUTBOUND"
    kept = _kept(raw, inbound, "ContactId")
    s = ds.summary().set_index("table").loc["interactions"]
    # 420 rows; 20 outbound + 1 re-exported outbound duplicate excluded; 1 inbound duplicate quarantined
    assert (s.rows_read, s.rows_excluded, s.rows_quarantined, s.rows_accepted) == (420, 21, 1, 398)
    assert s.rows_excluded == (~inbound).sum() and s.rows_accepted == len(kept)
    assert ds.quarantine["interactions"]["reason"].tolist() == ["duplicate interaction_id"]
    got = ds.tables["interactions"]
    # never queued (ended in the contact flow) = empty Queue.Name; withheld caller id = 'anonymous'
    assert (~got["reached_queue"]).sum() == (kept["Queue.Name"] == "").sum() == p["ivr_only"]
    unknown, known = ds.unknown_customers()
    assert unknown == (kept["CustomerEndpoint.Address"] == "anonymous").sum() == 55
    assert known == 398 - 55
    assert got["abandoned"].sum() == ((kept["Queue.Name"] != "") & (kept["Agent.Username"] == "")).sum()
    assert got["transferred"].sum() == (kept["TransferCompletedTimestamp"] != "").sum()
    assert set(got["channel"]) == {"voice", "chat"}


def test_genesys_cloud_fixture():
    ds = load_dataset(load_config(VENDORS / "genesys_cloud" / "config.yaml"))
    ds_identity(ds)
    raw = pd.read_csv(VENDORS / "genesys_cloud" / "conversation_details.csv", dtype=str, keep_default_na=False)
    inbound = raw["originatingDirection"] == "inbound"
    s = ds.summary().set_index("table").loc["interactions"]
    assert (s.rows_read, s.rows_excluded, s.rows_quarantined, s.rows_accepted) == (320, 12, 1, 307)
    assert ds.quarantine["interactions"]["reason"].tolist() == ["channel: not one of voice, chat, email, messaging"]
    assert ds.quarantine["interactions"]["mediaType"].tolist() == ["cobrowse"]
    got = ds.tables["interactions"].set_index("interaction_id")
    kept = raw[inbound & (raw["mediaType"] != "cobrowse")].set_index("conversationId")
    # ms -> s; wait = time to answer, or to abandon
    wait_ms = pd.to_numeric(kept["tAnswered"].replace("", np.nan)).fillna(pd.to_numeric(kept["tAbandon"]))
    np.testing.assert_allclose(got.loc[kept.index, "wait_s"], wait_ms / 1000)
    assert got["abandoned"].sum() == (kept["tAbandon"] != "").sum()
    # "1133.0" -> "1133", with a warning that counts them (every inbound row)
    assert got["customer_id"].str.fullmatch(r"\d+").all()
    assert any("308 ids written as floats" in w for w in ds.warnings)


def test_bank_telephony_fixture():
    p = _planted().PLANTED["bank_telephony"]
    ds = load_dataset(load_config(VENDORS / "bank_telephony" / "config.yaml"))
    ds_identity(ds)
    raw = pd.read_csv(VENDORS / "bank_telephony" / "telephony_log.csv", sep=";", dtype=str, keep_default_na=False)
    s = ds.summary().set_index("table").loc["interactions"]
    assert (s.rows_read, s.rows_excluded, s.rows_quarantined, s.rows_accepted) == (480, p["outbound"], 3, 452)
    q = ds.quarantine["interactions"]
    assert q["reason"].value_counts().to_dict() == {"arrived_at: unparseable timestamp": p["bad_time"],
                                                    "abandoned contact with an agent": p["agent_on_abandon"]}
    assert sorted(q.loc[q["reason"].str.startswith("arrived_at"), "Time"]) == ["10:61:00", "25:10:00"]
    got = ds.tables["interactions"]
    kept = raw[(raw["Direction"] == "IN") & ~raw["CallID"].isin(q["CallID"])]
    assert (~got["reached_queue"]).sum() == (kept["Result"] == "IVR").sum() == p["ivr_only"]
    unknown, known = ds.unknown_customers()
    assert unknown == (kept["CIF"] == "0").sum() == 132 and known == 452 - 132
    # 0.02.23-style text: first row 0.07.47 = 467 s; Madrid (UTC+1 in February): 08:47:59 -> 07:47:59Z
    first = got.iloc[0]
    assert (first["talk_s"], first["arrived_at"]) == (467.0, pd.Timestamp("2025-02-03 07:47:59", tz="UTC"))
    assert got["talk_s"].sum() == sum(int(h) * 3600 + int(m) * 60 + int(x) for h, m, x in
                                      kept["TalkTime"].str.split(".", expand=True).itertuples(index=False))


def test_call_list_fixture_feeds_two_tables():
    p = _planted().PLANTED["call_list"]
    ds = load_dataset(load_config(VENDORS / "call_list" / "config.yaml"))
    ds_identity(ds)
    raw = pd.read_csv(VENDORS / "call_list" / "calls.csv", dtype=str, keep_default_na=False)
    s = ds.summary().set_index("table")
    assert tuple(s.loc["interactions", ["rows_read", "rows_accepted", "rows_quarantined", "rows_excluded"]]) == \
        (360, 360, 0, 0)
    # the rated calls become surveys; unrated calls are excluded by the filter; '6' is off the scale
    assert tuple(s.loc["surveys", ["rows_read", "rows_accepted", "rows_quarantined", "rows_excluded"]]) == \
        (360, p["rated"] - p["rating_out_of_range"], p["rating_out_of_range"], 360 - p["rated"])
    assert ds.quarantine["surveys"]["reason"].tolist() == ["csat: out of range [1, 5]"] * 2
    sv = ds.tables["surveys"]
    assert sv["response_id"].str.startswith("R-CL-").all()
    assert (sv["response_id"].str[2:] == sv["interaction_id"]).all()
    rated = raw[raw["Rating"].isin(list("12345"))].set_index("Call ID")
    assert sv.set_index("interaction_id")["csat"].astype(int).astype(str).equals(rated.loc[sv["interaction_id"],
                                                                                            "Rating"].rename("csat")
                                                                                 .rename_axis("interaction_id"))
    # 12-hour clock: "01:39:37 pm" Chicago (UTC-6) = 19:39:37Z
    ia = ds.tables["interactions"].set_index("interaction_id")
    assert raw.loc[3, "Start"] == "2025-02-03 01:39:37 pm"
    assert ia.loc["CL-00003", "arrived_at"] == pd.Timestamp("2025-02-03 19:39:37", tz="UTC")
    assert ds.unknown_customers() == (0, 360)


def test_kpi_sheet_fixture_maps_onto_aggregates():
    p = _planted().PLANTED["kpi_sheet"]
    ds = load_dataset(load_config(VENDORS / "kpi_sheet" / "config.yaml"))
    ds_identity(ds)
    raw = pd.read_csv(VENDORS / "kpi_sheet" / "daily_kpis.csv", dtype=str)
    s = ds.summary().set_index("table").loc["aggregates"]
    # 28 days x (2 queues + a Total row): totals excluded, one service level of 104.10% quarantined
    assert (s.rows_read, s.rows_excluded, s.rows_quarantined, s.rows_accepted) == (84, p["total_rows"], 1, 55)
    assert ds.quarantine["aggregates"]["reason"].tolist() == ["service_level: out of range [0, 1]"]
    assert ds.quarantine["aggregates"]["Service Level"].tolist() == ["104.10%"]
    got = ds.tables["aggregates"]
    first = raw.iloc[0]
    assert (first["Service Level"], first["ASA"], first["AHT"], first["Abandon %"]) == \
        ("77.07%", "0:00:14", "0:05:02", "6.64%")
    row = got.iloc[0]
    assert (row["service_level"], row["asa_s"], row["aht_s"]) == (pytest.approx(0.7707), 14.0, 302.0)
    assert row["abandon_rate"] == pytest.approx(0.0664)
    # a date is local midnight: 2025-02-03 00:00 New York = 05:00Z
    assert row["period_start"] == pd.Timestamp("2025-02-03 05:00", tz="UTC")
    assert set(got["queue"]) == {"Retail", "Business"}


@pytest.mark.parametrize("derive, message", [
    ("{arrived_at: {date: D}}", "a derived column needs 'expr', or both 'date' and 'time'"),
    ("{arrived_at: {date: D, time: T, expr: 'x'}}", "either 'expr' or 'date' \\+ 'time', not both"),
    ("{queue: {expr: x, format: '%H'}}", "'format' applies to 'date' \\+ 'time' columns only"),
    ("{queue: {exp: x}}", "unknown key \\(did you mean 'expr'\\?\\)"),
])
def test_derive_config_errors(tmp_path, derive, message):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"sources:\n  interactions:\n    path: x.csv\n    mapping:\n      derive: {derive}\n",
                   encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(cfg)


def test_aggregates_alone_are_a_valid_config(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("sources:\n  aggregates: {path: x.csv}\n", encoding="utf-8")
    assert list(load_config(cfg).sources) == ["aggregates"]
    cfg.write_text("sources:\n  surveys: {path: x.csv}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="sources must include 'interactions' .* or 'aggregates'"):
        load_config(cfg)
