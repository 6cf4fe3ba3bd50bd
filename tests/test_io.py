"""cxlab.io: loading, validation and quarantine.

A catalogue of bad inputs, one test per case, each pinning the message (what,
where, how many rows) and the accounting identity
``rows_read == rows_accepted + rows_quarantined`` (overall and per reason).
The expected canonical values are worked out by hand next to each assertion.
Fixtures are written to ``tmp_path``.
"""

from __future__ import annotations

import zipfile

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from cxlab.config import Mapping, RunConfig, Source, default_config
from cxlab.data import Dataset, LoadResult, load_dataset, load_table, validate_command
from cxlab.errors import SourceError
from cxlab.schema import TABLES

NY = "America/New_York"


# --------------------------------------------------------------------------- helpers


def contact(i, **over):
    """One valid answered contact (canonical column names, CSV text values)."""
    row = {
        "interaction_id": f"I{i}",
        "customer_id": f"C{i}",
        "channel": "voice",
        "queue": "billing",
        "agent_id": "A1",
        "arrived_at": f"2025-06-0{1 + i % 9} 10:00:00",
        "wait_s": "12",
        "talk_s": "300",
        "hold_s": "0",
        "acw_s": "30",
        "abandoned": "false",
        "transferred": "false",
    }
    row.update(over)
    return row


def survey(i, **over):
    row = {
        "response_id": f"R{i}",
        "interaction_id": f"I{i}",
        "customer_id": f"C{i}",
        "responded_at": f"2025-06-0{1 + i % 9} 12:00:00",
        "csat": "4",
        "nps": "9",
        "ces": "6",
    }
    row.update(over)
    return row


def write_csv(path, rows, **kw):
    pd.DataFrame(rows).to_csv(path, index=False, **kw)
    return str(path)


def assert_accounting(res: LoadResult):
    """rows_read = accepted + quarantined + excluded by filter, overall and per reason."""
    assert res.rows_read == len(res.accepted) + len(res.quarantined) + res.rows_excluded
    counts = dict(zip(res.counts["reason"], res.counts["rows"]))
    assert sum(counts.values()) == res.rows_read - res.rows_excluded
    assert counts.pop("ok") == len(res.accepted)
    assert counts == res.quarantined["reason"].value_counts().to_dict()
    assert set(res.counts["table"]) == {res.table}


def assert_dataset_accounting(ds: Dataset):
    for table, g in ds.accounting.groupby("table"):
        read, acc, qua, exc = g[["rows_read", "rows_accepted", "rows_quarantined", "rows_excluded"]].iloc[0]
        assert read == acc + qua + exc
        assert g["rows"].sum() == read - exc
        assert g.loc[g["reason"] == "ok", "rows"].item() == acc == len(ds.tables[table])
        bad = g[g["reason"] != "ok"].set_index("reason")["rows"].to_dict()
        assert bad == ds.quarantine[table]["reason"].value_counts().to_dict()


def only_reason(res: LoadResult, reason: str, rows: list[int]):
    """The quarantine holds exactly ``rows`` (1-based data rows), all for ``reason``."""
    assert_accounting(res)
    assert res.quarantined["reason"].tolist() == [reason] * len(rows)
    assert res.quarantined["source_row"].tolist() == rows


# --------------------------------------------------------------------------- bad-input catalogue


def test_missing_column(tmp_path):
    rows = [contact(i) for i in range(3)]
    for r in rows:
        del r["queue"]
    path = write_csv(tmp_path / "calls.csv", rows)
    with pytest.raises(SourceError, match=r"missing required column 'queue'; available columns: \[") as err:
        load_table(path, "interactions")
    msg = str(err.value)
    assert "calls.csv" in msg and "table 'interactions'" in msg
    assert "'interaction_id'" in msg  # the available columns are listed


def test_misspelled_column_suggests_rename(tmp_path):
    rows = [contact(i) for i in range(3)]
    for r in rows:
        r["interactionid"] = r.pop("interaction_id")
    path = write_csv(tmp_path / "calls.csv", rows)
    with pytest.raises(SourceError, match=r"did you mean 'interaction_id' for 'interactionid'\?") as err:
        load_table(path, "interactions")
    assert "calls.csv" in str(err.value)
    assert "mapping.rename: {interactionid: interaction_id}" in str(err.value)


def test_unparseable_timestamp(tmp_path):
    rows = [contact(0), contact(1, arrived_at="yesterday 10am"), contact(2)]
    res = load_table(write_csv(tmp_path / "c.csv", rows), "interactions")
    only_reason(res, "arrived_at: unparseable timestamp", [2])
    assert res.quarantined["arrived_at"].item() == "yesterday 10am"  # raw text kept
    assert res.accepted["interaction_id"].tolist() == ["I0", "I2"]


def test_naive_and_aware_timestamps_mixed(tmp_path):
    rows = [contact(0, arrived_at="2025-06-01 10:00:00"), contact(1, arrived_at="2025-06-01T14:00:00Z"),
            contact(2, arrived_at="2025-06-01 11:00:00"), contact(3, arrived_at="2025-06-01 12:00:00")]
    res = load_table(write_csv(tmp_path / "c.csv", rows), "interactions", timezone=NY)
    # 3 naive vs 1 aware: the minority (aware) row is quarantined
    only_reason(res, "arrived_at: aware timestamp among naive ones (mixed time zones)", [2])
    # naive local times in New York (EDT, UTC-4): 10:00 -> 14:00Z
    assert res.accepted["arrived_at"].iloc[0] == pd.Timestamp("2025-06-01 14:00", tz="UTC")


def test_dst_ambiguous_local_time(tmp_path):
    rows = [contact(0, arrived_at="2025-11-02 01:30:00"),  # repeated: 05:30Z (EDT) and 06:30Z (EST)
            contact(1, arrived_at="2025-11-02 00:30:00"), contact(2, arrived_at="2025-11-02 02:30:00"),
            contact(3, arrived_at="2025-11-03 01:30:00")]
    src = Source(path=write_csv(tmp_path / "c.csv", rows), mapping=Mapping(timezone=NY))
    res = load_table(src, "interactions")
    only_reason(res, "arrived_at: ambiguous local time (DST)", [1])
    # tz database: 00:30 EDT = 04:30Z; 02:30 EST = 07:30Z; 01:30 EST = 06:30Z
    assert res.accepted["arrived_at"].tolist() == [
        pd.Timestamp("2025-11-02 04:30", tz="UTC"), pd.Timestamp("2025-11-02 07:30", tz="UTC"),
        pd.Timestamp("2025-11-03 06:30", tz="UTC")]


def test_dst_nonexistent_local_time(tmp_path):
    rows = [contact(0, arrived_at="2025-03-09 02:30:00"),  # clocks jump 02:00 -> 03:00
            contact(1, arrived_at="2025-03-09 01:59:00"), contact(2, arrived_at="2025-03-09 03:00:00")]
    src = Source(path=write_csv(tmp_path / "c.csv", rows), mapping=Mapping(timezone=NY))
    res = load_table(src, "interactions")
    only_reason(res, "arrived_at: non-existent local time (DST)", [1])
    # 01:59 EST = 06:59Z; 03:00 EDT = 07:00Z
    assert res.accepted["arrived_at"].tolist() == [pd.Timestamp("2025-03-09 06:59", tz="UTC"),
                                                   pd.Timestamp("2025-03-09 07:00", tz="UTC")]


def test_negative_duration(tmp_path):
    rows = [contact(0), contact(1, wait_s="-5"), contact(2, acw_s="-1")]
    res = load_table(write_csv(tmp_path / "c.csv", rows), "interactions")
    assert_accounting(res)
    assert res.quarantined["reason"].tolist() == ["wait_s: negative duration", "acw_s: negative duration"]
    assert res.quarantined["source_row"].tolist() == [2, 3]


def test_missing_duration(tmp_path):
    rows = [contact(0), contact(1, wait_s=""),
            # an abandoned contact may leave talk/hold/acw empty: read as 0
            contact(2, abandoned="true", agent_id="", talk_s="", hold_s="", acw_s=""),
            contact(3, talk_s="")]  # answered: an empty talk time is missing
    res = load_table(write_csv(tmp_path / "c.csv", rows), "interactions")
    assert_accounting(res)
    assert res.quarantined["reason"].tolist() == ["wait_s: missing value", "talk_s: missing value"]
    assert res.quarantined["source_row"].tolist() == [2, 4]
    abandoned = res.accepted.set_index("interaction_id").loc["I2"]
    assert (abandoned["talk_s"], abandoned["hold_s"], abandoned["acw_s"]) == (0.0, 0.0, 0.0)
    assert pd.isna(abandoned["agent_id"])


def test_hms_durations(tmp_path):
    rows = [contact(0, wait_s="0:01:05", talk_s="12:30", hold_s="1:00:00", acw_s="0:00:07.5"),
            contact(1, wait_s="0:75:00")]  # 75 minutes in H:MM:SS is not a time of day
    src = Source(path=write_csv(tmp_path / "c.csv", rows), mapping=Mapping(duration_unit="hms"))
    res = load_table(src, "interactions")
    only_reason(res, "wait_s: unparseable duration", [2])
    got = res.accepted.iloc[0]
    # 0:01:05 = 65 s; 12:30 (MM:SS) = 750 s; 1:00:00 = 3600 s; 0:00:07.5 = 7.5 s
    assert (got["wait_s"], got["talk_s"], got["hold_s"], got["acw_s"]) == (65.0, 750.0, 3600.0, 7.5)


def test_duplicate_interaction_id(tmp_path):
    rows = [contact(0), contact(1), contact(0, queue="sales"), contact(0, queue="general")]
    res = load_table(write_csv(tmp_path / "c.csv", rows), "interactions")
    only_reason(res, "duplicate interaction_id", [3, 4])
    assert res.accepted["queue"].tolist() == ["billing", "billing"]  # the first occurrence is kept


def test_duplicate_response_id(tmp_path):
    rows = [survey(0), survey(1), survey(1, csat="1")]
    res = load_table(write_csv(tmp_path / "s.csv", rows), "surveys")
    only_reason(res, "duplicate response_id", [3])
    assert res.accepted["csat"].tolist() == [4.0, 4.0]


def test_csat_out_of_range(tmp_path):
    rows = [survey(0, csat="0"), survey(1, csat="6"), survey(2, csat="5"), survey(3, csat="1"),
            survey(4, csat="2.5")]
    res = load_table(write_csv(tmp_path / "s.csv", rows), "surveys")
    assert_accounting(res)
    assert res.quarantined["reason"].tolist() == ["csat: out of range [1, 5]"] * 2 + ["csat: not an integer"]
    assert res.quarantined["source_row"].tolist() == [1, 2, 5]
    assert res.accepted["csat"].tolist() == [5.0, 1.0]


def test_nps_out_of_range(tmp_path):
    rows = [survey(0, nps="11"), survey(1, nps="0"), survey(2, nps="10")]
    res = load_table(write_csv(tmp_path / "s.csv", rows), "surveys")
    only_reason(res, "nps: out of range [0, 10]", [1])
    assert res.accepted["nps"].tolist() == [0.0, 10.0]


def test_ces_out_of_range(tmp_path):
    rows = [survey(0, ces="8"), survey(1, ces="7"), survey(2, ces="")]
    res = load_table(write_csv(tmp_path / "s.csv", rows), "surveys")
    only_reason(res, "ces: out of range [1, 7]", [1])
    assert res.accepted["ces"].tolist()[0] == 7.0
    assert np.isnan(res.accepted["ces"].tolist()[1])  # ces is optional: an empty score is null


def _two_table_config(tmp_path, contacts, surveys) -> RunConfig:
    write_csv(tmp_path / "contacts.csv", contacts)
    write_csv(tmp_path / "surveys.csv", surveys)
    return RunConfig(timezone="UTC", config_dir=str(tmp_path),
                     sources={"interactions": Source(path="contacts.csv"), "surveys": Source(path="surveys.csv")})


def test_survey_links_to_unknown_contact(tmp_path):
    contacts = [contact(0), contact(1)]
    surveys = [survey(0), survey(1, interaction_id="I99"), survey(2, interaction_id="")]  # "" = no link
    ds = load_dataset(_two_table_config(tmp_path, contacts, surveys))
    assert_dataset_accounting(ds)
    q = ds.quarantine["surveys"]
    assert q["reason"].tolist() == ["survey links to an unknown interaction"]
    assert q["source_row"].tolist() == [2] and q["interaction_id"].tolist() == ["I99"]
    assert ds.tables["surveys"]["response_id"].tolist() == ["R0", "R2"]
    line = ds.accounting.query("table == 'surveys' and reason != 'ok'")
    assert line["rows"].tolist() == [1] and line["source"].item().endswith("surveys.csv")


def test_survey_before_its_contact(tmp_path):
    contacts = [contact(0, arrived_at="2025-06-01 10:00:00"), contact(1, arrived_at="2025-06-02 10:00:00")]
    surveys = [survey(0, responded_at="2025-06-01 09:59:00"), survey(1, responded_at="2025-06-02 10:00:00")]
    ds = load_dataset(_two_table_config(tmp_path, contacts, surveys))
    assert_dataset_accounting(ds)
    q = ds.quarantine["surveys"]
    assert q["reason"].tolist() == ["survey responded before its contact arrived"]
    assert q["source_row"].tolist() == [1]
    assert ds.tables["surveys"]["response_id"].tolist() == ["R1"]  # same instant is fine


def test_abandoned_contact_with_agent(tmp_path):
    rows = [contact(0, abandoned="true", talk_s="0"),  # agent A1 set on an abandoned contact
            contact(1, abandoned="true", agent_id="", talk_s="0"),
            contact(2, abandoned="true", agent_id="", talk_s="40"),
            contact(3, agent_id="")]
    res = load_table(write_csv(tmp_path / "c.csv", rows), "interactions")
    assert_accounting(res)
    assert res.quarantined["reason"].tolist() == [
        "abandoned contact with an agent", "abandoned contact with talk time", "answered contact without an agent"]
    assert res.quarantined["source_row"].tolist() == [1, 3, 4]
    assert res.accepted["interaction_id"].tolist() == ["I1"]


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(SourceError, match=r"file is empty \(0 bytes\)") as err:
        load_table(str(path), "interactions")
    assert "empty.csv" in str(err.value) and err.value.path == str(path)


def test_header_only_file(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text(",".join(contact(0)) + "\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"header but no data rows \(0 rows\)") as err:
        load_table(str(path), "interactions")
    assert "header.csv" in str(err.value)


def test_wrong_delimiter(tmp_path):
    path = write_csv(tmp_path / "semi.csv", [contact(i) for i in range(3)], sep=";")
    with pytest.raises(SourceError, match=r"looks like the wrong delimiter: found 1 column "
                                          r"'interaction_id;customer_id;.*'; set delimiter") as err:
        load_table(Source(path=path, delimiter=","), "interactions")
    assert "semi.csv" in str(err.value)
    # with the right delimiter the file loads: 3 rows read, 3 accepted
    res = load_table(Source(path=path, delimiter=";"), "interactions")
    assert_accounting(res)
    assert (res.rows_read, len(res.accepted)) == (3, 3)


def test_latin1_file(tmp_path):
    path = tmp_path / "latin.csv"
    write_csv(path, [contact(0, queue="café"), contact(1, queue="señor")], encoding="latin-1")
    with pytest.raises(SourceError, match=r"not valid UTF-8.*set `encoding: latin-1`") as err:
        load_table(str(path), "interactions")
    assert "latin.csv" in str(err.value)
    res = load_table(Source(path=str(path), encoding="latin-1"), "interactions")
    assert_accounting(res)
    assert res.accepted["queue"].tolist() == ["café", "señor"]


def test_cp1252_file_is_transcoded(tmp_path):
    path = tmp_path / "win.csv"
    write_csv(path, [contact(0, queue="€uro"), contact(1)], encoding="cp1252")  # € is 0x80 in cp1252
    res = load_table(Source(path=str(path), encoding="cp1252"), "interactions")
    assert_accounting(res)
    assert res.accepted["queue"].tolist() == ["€uro", "billing"]
    assert res.files == (str(path),)


def test_excel_file_passed_as_csv(tmp_path):
    path = tmp_path / "export.csv"  # an .xlsx saved under a .csv name
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(SourceError, match=r"Excel workbook \(\.xlsx, a zip archive\), not a CSV") as err:
        load_table(str(path), "interactions")
    assert "export.csv" in str(err.value)
    xls = tmp_path / "old.csv"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504)
    with pytest.raises(SourceError, match=r"legacy Excel workbook \(\.xls"):
        load_table(str(xls), "interactions")


def test_glob_matching_nothing(tmp_path):
    pattern = str(tmp_path / "exports" / "calls_*.parquet")
    with pytest.raises(SourceError, match=r"glob matched no files: '.*calls_\*\.parquet'") as err:
        load_table(pattern, "interactions")
    assert err.value.table == "interactions"


def test_missing_file(tmp_path):
    with pytest.raises(SourceError, match=r"\[table 'surveys', source .*nope\.csv\] file not found"):
        load_table(str(tmp_path / "nope.csv"), "surveys")


def test_channel_not_allowed_and_bad_boolean(tmp_path):
    rows = [contact(0, channel="Phone"), contact(1, abandoned="maybe"), contact(2, wait_s="12s")]
    res = load_table(write_csv(tmp_path / "c.csv", rows), "interactions")
    assert_accounting(res)
    assert res.quarantined["reason"].tolist() == [
        "channel: not one of voice, chat, email, messaging", "abandoned: unparseable boolean",
        "wait_s: unparseable number"]


def test_all_reasons_lists_every_rule(tmp_path):
    rows = [contact(0, wait_s="-1", channel="fax", interaction_id="I9"), contact(9)]
    res = load_table(write_csv(tmp_path / "c.csv", rows), "interactions")
    assert_accounting(res)
    # counted once, under the first reason (schema order: channel before wait_s, duplicates last)
    assert res.quarantined["reason"].tolist() == ["channel: not one of voice, chat, email, messaging",
                                                  "duplicate interaction_id"]
    assert res.quarantined["all_reasons"].iloc[0] == (
        "channel: not one of voice, chat, email, messaging; wait_s: negative duration")


def test_survey_without_any_score(tmp_path):
    rows = [survey(0, csat="", nps="", ces=""), survey(1, nps="", ces="")]
    res = load_table(write_csv(tmp_path / "s.csv", rows), "surveys")
    only_reason(res, "survey has no score (csat, nps, ces)", [1])


# --------------------------------------------------------------------------- happy paths


def test_csv_with_mapping_round_trips(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        "ContactID,Cust,Media,Skill,Agent,StartTime,QueueMs,TalkMs,HoldMs,WrapMs,Abn,Xfer,Note\n"
        "c-1,k-1,Phone,billing,ag7,2025-01-15 09:30:00,12500,300000,0,45000,N,Y,first\n"
        "c-2,k-2,Chat,sales,,2025-07-04 23:59:59,61000,,,,Y,N,\n",
        encoding="utf-8")
    mapping = Mapping(
        rename={"ContactID": "interaction_id", "Cust": "customer_id", "Media": "channel", "Skill": "queue",
                "Agent": "agent_id", "StartTime": "arrived_at", "QueueMs": "wait_s", "TalkMs": "talk_s",
                "HoldMs": "hold_s", "WrapMs": "acw_s", "Abn": "abandoned", "Xfer": "transferred"},
        values={"abandoned": {"Y": True, "N": False}, "transferred": {"Y": True, "N": False},
                "channel": {"Phone": "voice", "Chat": "chat"}},
        timezone=NY, duration_unit="ms", defaults={"site": "atlanta"})
    res = load_table(Source(path=str(path), mapping=mapping), "interactions")
    assert_accounting(res)
    assert res.quarantined.empty
    got = res.accepted
    assert list(got.columns) == TABLES["interactions"].names + ["Note"]  # extras after canonical
    expected = pd.DataFrame({
        "interaction_id": ["c-1", "c-2"], "customer_id": ["k-1", "k-2"], "channel": ["voice", "chat"],
        "direction": ["inbound", "inbound"], "queue": ["billing", "sales"], "agent_id": ["ag7", np.nan],
        # 09:30 EST (UTC-5) = 14:30Z; 23:59:59 EDT (UTC-4) = 03:59:59Z next day
        "arrived_at": pd.to_datetime(["2025-01-15 14:30:00", "2025-07-05 03:59:59"]).tz_localize("UTC"),
        # ms / 1000; the abandoned contact's empty talk/hold/acw read as 0
        "wait_s": [12.5, 61.0], "talk_s": [300.0, 0.0], "hold_s": [0.0, 0.0], "acw_s": [45.0, 0.0],
        "abandoned": [False, True], "transferred": [True, False],
        "contact_reason": [np.nan, np.nan], "resolved": [np.nan, np.nan], "site": ["atlanta", "atlanta"],
        "Note": ["first", np.nan],
    })
    absent = ["contact_reason", "resolved", "reached_queue"]
    pd.testing.assert_frame_equal(got.drop(columns=absent),
                                  expected.drop(columns=absent[:2]).astype(got.dtypes.drop(absent).to_dict()))
    assert got["contact_reason"].isna().all() and got["resolved"].isna().all() and got["reached_queue"].isna().all()
    assert str(got["arrived_at"].dtype) == "datetime64[ns, UTC]"
    assert got["interaction_id"].dtype == "str" and got["abandoned"].dtype == bool
    assert got["wait_s"].dtype == "float64"


def test_parquet_glob_of_several_files(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    frames = []
    for k in range(3):
        df = pd.DataFrame([contact(10 * k + i) for i in range(4)])
        df["wait_s"] = df["wait_s"].astype(float)
        df["arrived_at"] = pd.to_datetime(df["arrived_at"]).dt.tz_localize("UTC")  # typed, aware
        df["abandoned"] = False
        frames.append(df)
    frames[2].loc[1, "interaction_id"] = "I0"  # duplicate of file 1's first row
    frames[1].loc[3, "wait_s"] = -3.0
    for k, df in enumerate(frames):
        df.to_parquet(folder / f"calls_{k}.parquet", index=False)
    res = load_table(str(folder / "calls_*.parquet"), "interactions")
    assert_accounting(res)
    assert res.rows_read == 12 and len(res.accepted) == 10
    q = res.quarantined
    assert q["reason"].tolist() == ["wait_s: negative duration", "duplicate interaction_id"]
    assert q["source_row"].tolist() == [4, 2]
    assert [f.rsplit("/", 1)[-1] for f in q["source_file"]] == ["calls_1.parquet", "calls_2.parquet"]
    assert len(res.files) == 3
    # source order is kept: file by file, row by row
    assert res.accepted["interaction_id"].tolist()[:5] == ["I0", "I1", "I2", "I3", "I10"]


def test_duckdb_database_with_query(tmp_path):
    db = tmp_path / "cc.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE responses (sid VARCHAR, cid VARCHAR, cust VARCHAR, ts TIMESTAMPTZ, "
                    "q1 INTEGER, q2 INTEGER)")
        con.execute("INSERT INTO responses VALUES "
                    "('s1', 'I1', 'C1', '2025-05-01 10:00:00+00', 5, 10), "
                    "('s2', 'I2', 'C2', '2025-05-02 11:00:00+00', 9, 3), "
                    "('s3', NULL, 'C3', '2025-05-03 12:00:00+00', 3, NULL), "
                    "('s4', 'I4', 'C4', '2025-04-01 12:00:00+00', 2, 2)")
    src = Source(path=str(db), format="duckdb",
                 query="SELECT sid, cid, cust, ts, q1 AS csat, q2 AS nps FROM responses "
                       "WHERE ts >= TIMESTAMPTZ '2025-05-01 00:00:00+00' ORDER BY sid",
                 mapping=Mapping(rename={"sid": "response_id", "cid": "interaction_id", "cust": "customer_id",
                                         "ts": "responded_at"}))
    res = load_table(src, "surveys")
    only_reason(res, "csat: out of range [1, 5]", [2])
    got = res.accepted
    assert got["response_id"].tolist() == ["s1", "s3"]
    assert got["csat"].tolist() == [5.0, 3.0]
    assert got["responded_at"].tolist() == [pd.Timestamp("2025-05-01 10:00", tz="UTC"),
                                            pd.Timestamp("2025-05-03 12:00", tz="UTC")]
    assert pd.isna(got["interaction_id"].iloc[1]) and got["ces"].isna().all()


def test_duckdb_database_table(tmp_path):
    db = tmp_path / "agents.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE staff AS SELECT 'A' || i AS agent_id, DATE '2024-01-01' + i::INTEGER AS hire_date, "
                    "'t1' AS team FROM range(3) r(i)")
    res = load_table(Source(path=str(db), table="staff"), "agents")
    assert_accounting(res)
    assert res.accepted["hire_date"].tolist() == list(pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]))
    with pytest.raises(SourceError, match=r"table 'nope' not found; the database holds \['staff'\]"):
        load_table(Source(path=str(db), table="nope"), "agents")


def test_quarantine_parquet_written(tmp_path):
    rows = [contact(0), contact(1, wait_s="-2"), contact(2, channel="pigeon")]
    qdir = tmp_path / "quarantine"
    res = load_table(write_csv(tmp_path / "c.csv", rows), "interactions", quarantine_dir=qdir)
    assert_accounting(res)
    written = pd.read_parquet(qdir / "interactions.parquet")
    assert written["reason"].tolist() == ["wait_s: negative duration",
                                          "channel: not one of voice, chat, email, messaging"]
    assert written["source_row"].tolist() == [2, 3]
    assert written["wait_s"].tolist() == ["-2", "12"]  # raw text, source column names
    assert [p.name for p in qdir.iterdir()] == ["interactions.parquet"]  # no temp files left


def test_dataframe_source_and_summary_window(tmp_path):
    rows = [contact(0, arrived_at="2025-06-01 03:30:00"), contact(1, arrived_at="2025-06-02 03:30:00"),
            contact(2, arrived_at="2025-06-03 12:00:00", queue="sales", agent_id="A2")]
    cfg = {"interactions": Source(path=write_csv(tmp_path / "c.csv", rows))}
    ds = load_dataset(RunConfig(timezone=NY, sources=cfg))
    assert_dataset_accounting(ds)
    # 03:30 New York (EDT) on June 2 is 07:30Z; the window keeps June 2-3 local
    cut = ds.window("2025-06-02", "2025-06-03", NY)
    assert cut.tables["interactions"]["interaction_id"].tolist() == ["I1", "I2"]
    # in UTC, 2025-06-02 03:30 NY is still on June 2; June 1 03:30 NY = 07:30Z June 1
    assert ds.window("2025-06-01", "2025-06-01", "UTC").tables["interactions"]["interaction_id"].tolist() == ["I0"]
    s = cut.summary().set_index("table").loc["interactions"]
    assert (s["rows_read"], s["rows_accepted"], s["rows"], s["queues"], s["agents"]) == (3, 3, 2, 2, 2)
    assert str(s["date_min"]) == "2025-06-02" and str(s["date_max"]) == "2025-06-03"
    assert len(ds.source_hashes) == 1 and len(next(iter(ds.source_hashes.values()))) == 64


def test_load_dataset_sample_passes_validation(tmp_path):
    config = default_config(sample={"days": 7, "contacts_per_day": 50})
    ds = load_dataset(config, quarantine_dir=tmp_path / "q")
    assert_dataset_accounting(ds)
    assert {"interactions", "surveys", "agents"} <= set(ds.tables)
    assert "sample" in ds.source_hashes
    # the generator's own output passes every rule
    assert (ds.accounting["reason"] == "ok").all()
    assert sorted(p.name for p in (tmp_path / "q").iterdir()) == sorted(f"{t}.parquet" for t in ds.quarantine)
    assert str(ds.tables["interactions"]["arrived_at"].dtype) == "datetime64[ns, UTC]"


def test_validate_command(tmp_path, capsys):
    write_csv(tmp_path / "c.csv", [contact(0), contact(1, wait_s="-1")])
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump({"timezone": "UTC", "sources": {"interactions": {"path": "c.csv"}}}))
    assert validate_command(str(cfg)) == 0
    out = capsys.readouterr().out
    assert "interactions" in out and "wait_s: negative duration" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"sources": {"interactions": {"path": "missing.csv"}}}))
    assert validate_command(str(bad)) == 1
    err = capsys.readouterr().err
    assert "file not found" in err and "missing.csv" in err


def test_naive_minority_among_aware(tmp_path):
    rows = [contact(0, arrived_at="2025-06-01T10:00:00-04:00"), contact(1, arrived_at="2025-06-01 10:00:00"),
            contact(2, arrived_at="2025-06-01T16:00:00+02:00")]
    res = load_table(write_csv(tmp_path / "c.csv", rows), "interactions", timezone=NY)
    only_reason(res, "arrived_at: naive timestamp among aware ones (mixed time zones)", [2])
    # offsets applied: 10:00-04:00 = 14:00Z; 16:00+02:00 = 14:00Z
    assert res.accepted["arrived_at"].tolist() == [pd.Timestamp("2025-06-01 14:00", tz="UTC")] * 2


def test_timestamp_and_date_formats(tmp_path):
    path = tmp_path / "agents.csv"
    path.write_text("agent_id,hire_date,team\nA1,15/01/2024,north\nA2,2024-01-15,north\n", encoding="utf-8")
    res = load_table(Source(path=str(path), mapping=Mapping(date_format="%d/%m/%Y")), "agents")
    only_reason(res, "hire_date: unparseable date", [2])
    assert res.accepted["hire_date"].tolist() == [pd.Timestamp("2024-01-15")]
    rows = [contact(0, arrived_at="06/01/2025 10:00"), contact(1, arrived_at="2025-06-01 10:00")]
    src = Source(path=write_csv(tmp_path / "c.csv", rows),
                 mapping=Mapping(timestamp_format="%m/%d/%Y %H:%M", timezone="Europe/London"))
    res = load_table(src, "interactions")
    only_reason(res, "arrived_at: unparseable timestamp", [2])
    # 10:00 BST (UTC+1) on 1 June = 09:00Z
    assert res.accepted["arrived_at"].tolist() == [pd.Timestamp("2025-06-01 09:00", tz="UTC")]


def test_survey_links_to_quarantined_contact(tmp_path):
    contacts = [contact(0), contact(1, wait_s="-4")]
    surveys = [survey(0), survey(1)]
    ds = load_dataset(_two_table_config(tmp_path, contacts, surveys), quarantine_dir=tmp_path / "q")
    assert_dataset_accounting(ds)
    assert ds.quarantine["interactions"]["reason"].tolist() == ["wait_s: negative duration"]
    assert ds.quarantine["surveys"]["reason"].tolist() == ["survey links to a quarantined interaction"]
    written = pd.read_parquet(tmp_path / "q" / "surveys.parquet")
    assert written["response_id"].tolist() == ["R1"] and written["csat"].tolist() == ["4"]


def test_duplicate_composite_key(tmp_path):
    rows = [{"agent_id": "A1", "scored_at": "2025-03-01 12:00:00", "metric": "qa", "value": "80"},
            {"agent_id": "A1", "scored_at": "2025-03-01T12:00:00Z", "metric": "qa", "value": "85"},
            {"agent_id": "A1", "scored_at": "2025-03-01 12:00:00", "metric": "csat", "value": "4"}]
    res = load_table(write_csv(tmp_path / "qa.csv", rows), "agent_scores")
    # row 2 is aware among naive ones (quarantined first for that); the key rule counts the same instant
    assert_accounting(res)
    assert res.quarantined["reason"].tolist() == ["scored_at: aware timestamp among naive ones (mixed time zones)"]
    assert res.quarantined["all_reasons"].tolist() == [
        "scored_at: aware timestamp among naive ones (mixed time zones); duplicate key (agent_id, scored_at, metric)"]
