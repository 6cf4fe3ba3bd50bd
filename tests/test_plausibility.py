"""Plausibility, not silent misreading (issue 16 item 6): the bad-input catalogue, continued.

Each case pins the message (what, which column, how many rows) and the
accounting identity ``rows_read = accepted + quarantined + excluded``.
Expected instants are worked out by hand next to each assertion (offsets
from the IANA database: Tokyo UTC+9, New York UTC-5 in January).
"""

from __future__ import annotations

import pandas as pd
import pytest

from cxlab.config import Mapping, RunConfig, Source
from cxlab.data import load_dataset, load_table
from cxlab.errors import SourceError

NY = "America/New_York"


def contact(i, **over):
    row = {"interaction_id": f"I{i}", "customer_id": f"C{i}", "channel": "voice", "queue": "billing",
           "agent_id": "A1", "arrived_at": "2025-01-15 10:00:00", "wait_s": "12", "talk_s": "300",
           "hold_s": "0", "acw_s": "30", "abandoned": "false", "transferred": "false"}
    row.update(over)
    return row


def write_csv(path, rows):
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


def identity(res):
    assert res.rows_read == res.rows_accepted + res.rows_quarantined + res.rows_excluded
    counts = dict(zip(res.counts["reason"], res.counts["rows"]))
    assert counts.pop("ok") == res.rows_accepted
    assert counts == res.quarantined["reason"].value_counts().to_dict()


# --------------------------------------------------------------------------- timestamps with trailing text


def test_am_pm_is_parsed_not_dropped(tmp_path):
    times = ["2025-01-15 10:00 pm", "2025-01-15 10:00 am", "2025-01-15 12:30 am", "2025-01-15 12:30 PM",
             "2025-01-15 01:05:09 p.m."]
    path = write_csv(tmp_path / "x.csv", [contact(i, arrived_at=t) for i, t in enumerate(times)])
    res = load_table(path, "interactions", timezone=NY)
    identity(res)
    assert res.rows_quarantined == 0
    # New York is UTC-5 in January: 22:00 -> 03:00Z next day; 12:30 am = 00:30 -> 05:30Z; 12:30 pm -> 17:30Z
    assert res.accepted["arrived_at"].tolist() == [pd.Timestamp(t, tz="UTC") for t in (
        "2025-01-16 03:00", "2025-01-15 15:00", "2025-01-15 05:30", "2025-01-15 17:30", "2025-01-15 18:05:09")]


def test_iana_zone_suffix_is_honoured(tmp_path):
    rows = [contact(0, arrived_at="2025-01-15 10:00 Asia/Tokyo"),
            contact(1, arrived_at="2025-01-15 10:00:00 America/New_York"),
            contact(2, arrived_at="2025-01-15 10:00 Mars/Olympus_Mons")]
    res = load_table(write_csv(tmp_path / "x.csv", rows), "interactions", timezone="UTC")
    identity(res)
    # 10:00 Tokyo (UTC+9) = 01:00Z; 10:00 New York (UTC-5) = 15:00Z; an unknown zone is not dropped
    assert res.accepted["arrived_at"].tolist() == [pd.Timestamp("2025-01-15 01:00", tz="UTC"),
                                                   pd.Timestamp("2025-01-15 15:00", tz="UTC")]
    assert res.quarantined["reason"].tolist() == ["arrived_at: unparseable timestamp"]
    assert res.quarantined["source_row"].tolist() == [3]


def test_zone_abbreviation_and_other_trailing_text_are_quarantined(tmp_path):
    rows = [contact(0), contact(1, arrived_at="2025-01-15 10:00 PST"),
            contact(2, arrived_at="2025-01-15 10:00 pm CET"), contact(3, arrived_at="2025-01-15 10:00 (local)"),
            contact(4, arrived_at="2025-01-15 10:00:00 +0900 extra")]
    res = load_table(write_csv(tmp_path / "x.csv", rows), "interactions", timezone=NY)
    identity(res)
    abbr = ("arrived_at: ambiguous time zone abbreviation such as PST (give an offset such as -08:00 "
            "or an IANA name such as America/Los_Angeles)")
    assert res.quarantined["reason"].tolist() == [abbr, abbr, "arrived_at: unparseable timestamp",
                                                  "arrived_at: unparseable timestamp"]
    assert res.quarantined["source_row"].tolist() == [2, 3, 4, 5]
    assert res.accepted["interaction_id"].tolist() == ["I0"]


def test_format_timestamps_do_not_drop_a_suffix(tmp_path):
    rows = [contact(0, arrived_at="01/15/2025 10:00"), contact(1, arrived_at="01/15/2025 10:00 PST")]
    res = load_table(Source(path=write_csv(tmp_path / "x.csv", rows),
                            mapping=Mapping(timestamp_format="%m/%d/%Y %H:%M")), "interactions", timezone=NY)
    identity(res)
    assert res.quarantined["reason"].tolist() == ["arrived_at: unparseable timestamp"]


# --------------------------------------------------------------------------- years pandas cannot hold


def test_years_outside_pandas_range_are_quarantined(tmp_path):
    rows = [contact(0), contact(1, arrived_at="3025-01-15 10:00:00"), contact(2, arrived_at="1500-06-01 09:00:00"),
            contact(3, arrived_at="2262-06-01 00:00:00")]
    res = load_table(write_csv(tmp_path / "x.csv", rows), "interactions", timezone=NY)
    identity(res)
    assert res.quarantined["reason"].tolist() == ["arrived_at: year outside 1678-2261"] * 3
    assert res.accepted["interaction_id"].tolist() == ["I0"]


def test_years_outside_pandas_range_in_date_columns(tmp_path):
    raw = pd.DataFrame({"agent_id": ["a1", "a2"], "hire_date": ["2024-01-15", "9999-12-31"], "team": ["n", "s"]})
    res = load_table(raw, "agents")
    identity(res)
    assert res.quarantined["reason"].tolist() == ["hire_date: year outside 1678-2261"]


# --------------------------------------------------------------------------- duration units


@pytest.mark.parametrize("unit, talk, expect", [
    # talk read as seconds but written in ms: median 300,000 s = 3.5 days -> ms
    ("s", "300000", "the median (3.5 days) is implausible for this duration, read as seconds; the source unit is "
                    "likely ms (set mapping.duration_units: {talk_s: ms})"),
    # 0.05 read as seconds: hours (180 s) is nearer a typical handle time than minutes (3 s)
    ("s", "0.05", "the median (0.05 s) is implausible for this duration, read as seconds; the source unit is "
                  "likely hours (derive talk_s as the value times 3600)"),
    # declared minutes but written in seconds: median 300 min = 5 h -> s
    ("min", "300", "the median (5.0 h) is implausible for this duration, read as minutes; the source unit is "
                   "likely s (set mapping.duration_units: {talk_s: s})"),
])
def test_implausible_duration_median_names_the_likely_unit(tmp_path, unit, talk, expect):
    rows = [contact(i, talk_s=talk) for i in range(8)]
    res = load_table(Source(path=write_csv(tmp_path / "x.csv", rows), mapping=Mapping(duration_units={"talk_s": unit})),
                     "interactions")
    identity(res)
    (w,) = [w for w in res.warnings if "talk_s" in w]
    assert w == f"interactions.talk_s: {expect} [8 positive values]"


def test_plausible_durations_do_not_warn(tmp_path):
    res = load_table(write_csv(tmp_path / "x.csv", [contact(i) for i in range(8)]), "interactions")
    assert res.warnings == ()


# --------------------------------------------------------------------------- ids


def test_float_ids_become_integers_with_a_warning(tmp_path):
    rows = [contact(0, customer_id="8702.0", agent_id="17.00"), contact(1, customer_id="8703"),
            contact(2, customer_id="8702.5")]
    res = load_table(write_csv(tmp_path / "x.csv", rows), "interactions")
    identity(res)
    assert res.accepted["customer_id"].tolist() == ["8702", "8703", "8702.5"]
    assert res.accepted["agent_id"].tolist() == ["17", "A1", "A1"]
    assert sorted(res.warnings) == [
        "interactions.agent_id: 1 ids written as floats (source column 'agent_id', e.g. '8702.0') were read as "
        "integers ('8702'); export ids as text to be sure none lost digits",
        "interactions.customer_id: 1 ids written as floats (source column 'customer_id', e.g. '8702.0') were read "
        "as integers ('8702'); export ids as text to be sure none lost digits"]


def test_float_id_column_in_parquet(tmp_path):
    df = pd.DataFrame([contact(i) for i in range(3)]).assign(customer_id=[8702.0, 8703.0, None])
    df.to_parquet(tmp_path / "x.parquet")
    res = load_table(str(tmp_path / "x.parquet"), "interactions")
    identity(res)
    assert res.accepted["customer_id"].tolist()[:2] == ["8702", "8703"]
    assert res.accepted["customer_id"].isna().tolist() == [False, False, True]
    assert any("2 ids written as floats" in w for w in res.warnings)


def test_source_column_present_twice_is_an_error(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("interaction_id,customer_id,queue,queue\nI1,C1,a,b\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"source column 'queue' is present twice in the header") as exc:
        load_table(str(path), "interactions")
    assert "x.csv" in str(exc.value) and "table 'interactions'" in str(exc.value)
    path.write_text("interaction_id;queue;queue\nI1;a;b\n", encoding="utf-8")
    with pytest.raises(SourceError, match="'queue' is present twice"):
        load_table(Source(path=str(path), delimiter=";"), "interactions")
    frame = pd.DataFrame([[1, 2]], columns=["queue", "queue"])
    with pytest.raises(SourceError, match="source column 'queue' is present twice"):
        load_table(frame, "interactions")


def test_parquet_ids_of_another_type_get_a_hint(tmp_path):
    rows = [contact(i, interaction_id=f"{i:05d}") for i in range(1, 4)]  # "00001" ... as text
    write_csv(tmp_path / "i.csv", rows)
    pd.DataFrame({"response_id": ["R1", "R2"], "interaction_id": [1, 2], "customer_id": ["C1", "C2"],
                  "responded_at": ["2025-01-15 12:00:00"] * 2, "csat": [4, 5]}).to_parquet(tmp_path / "s.parquet")
    cfg = RunConfig(sources={"interactions": Source(path=str(tmp_path / "i.csv")),
                             "surveys": Source(path=str(tmp_path / "s.parquet"))})
    ds = load_dataset(cfg)
    assert ds.quarantine["surveys"]["reason"].tolist() == ["survey links to an unknown interaction"] * 2
    (hint,) = [w for w in ds.warnings if w.startswith("surveys.interaction_id")]
    assert hint.startswith("surveys.interaction_id is BIGINT in its source but interactions.interaction_id is "
                           "VARCHAR: 2 surveys rows match no interactions row")
    assert "leading zeros" in hint
    for _, g in ds.accounting.groupby("table"):
        read, acc, qua, exc = g[["rows_read", "rows_accepted", "rows_quarantined", "rows_excluded"]].iloc[0]
        assert read == acc + qua + exc


def test_clock_durations_read_as_seconds_name_the_unit(tmp_path):
    rows = [contact(0), contact(1, talk_s="0:02:23"), contact(2, talk_s="0.02.23")]
    res = load_table(write_csv(tmp_path / "x.csv", rows), "interactions")
    identity(res)
    assert res.quarantined["reason"].tolist() == [
        "talk_s: clock-style duration text such as 0:02:23 (set mapping.duration_units: {talk_s: hms})"] * 2
