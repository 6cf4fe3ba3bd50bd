"""CSV and SQL-source errors that say what is wrong (issue 17).

Each case pins the message: the file, the line, DuckDB's own reason where it
has one; and the invariants around it (no temporary decoded copy left behind,
a user database byte-identical after a load, file access of a source query
restricted). Expected line numbers are counted by hand in each fixture
(line 1 is the header).
"""

from __future__ import annotations

import codecs
import hashlib
import os
import tempfile

import duckdb
import pandas as pd
import pytest

from cxlab.config import Mapping, Source
from cxlab.data import load_table
from cxlab.errors import SourceError

HEADER = ("interaction_id,customer_id,channel,queue,agent_id,arrived_at,wait_s,talk_s,hold_s,acw_s,"
          "abandoned,transferred")


def row(i: int, queue: str = "billing") -> str:
    return f"I{i},C{i},voice,{queue},A1,2025-06-01 10:0{i % 10}:00,12,300,0,30,false,false"


def write(path, lines, encoding="utf-8", bom=b""):
    path.write_bytes(bom + ("\n".join(lines) + "\n").encode(encoding))
    return str(path)


def test_ragged_row_names_the_line(tmp_path):
    # line 1 header, lines 2-3 fine, line 4 has 11 fields (the last one dropped)
    p = write(tmp_path / "calls.csv", [HEADER, row(0), row(1), row(2).rsplit(",", 1)[0], row(3)])
    with pytest.raises(SourceError) as err:
        load_table(Source(path=p), "interactions")
    msg = str(err.value)
    assert "line 4 has 11 fields where the header has 12 (delimiter ',')" in msg
    assert "calls.csv" in msg and "wrong delimiter" not in msg


def test_ragged_row_with_explicit_delimiter_keeps_duckdb_reason(tmp_path):
    p = write(tmp_path / "calls.csv", [HEADER, row(0), row(1) + ",extra", row(2)])
    with pytest.raises(SourceError) as err:
        load_table(Source(path=p, delimiter=","), "interactions")
    msg = str(err.value)
    assert "line 3 has 13 fields where the header has 12" in msg
    assert "DuckDB:" in msg  # DuckDB's own reason is kept beside cxlab's


def test_stray_quote_names_the_line(tmp_path):
    # line 3 opens a quote in the queue field that is never closed
    p = write(tmp_path / "calls.csv", [HEADER, row(0), row(1, queue='"billing'), row(2), row(3)])
    with pytest.raises(SourceError) as err:
        load_table(Source(path=p, delimiter=","), "interactions")
    msg = str(err.value)
    assert "line 3" in msg and "quote" in msg, msg


def test_maximum_line_size_reason_and_line_are_kept(tmp_path):
    long_queue = "q" * 2_100_000  # over DuckDB's default 2,000,000-byte line limit
    p = write(tmp_path / "calls.csv", [HEADER, row(0), row(1, queue=long_queue)])
    with pytest.raises(SourceError) as err:
        load_table(Source(path=p), "interactions")
    msg = str(err.value)
    assert "Maximum line size of 2000000 bytes exceeded" in msg
    assert len(msg) < 1000  # the megabyte-long original line is not echoed


@pytest.mark.parametrize("encoding, bom", [("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE),
                                           ("utf-32-le", codecs.BOM_UTF32_LE)])
def test_utf16_and_utf32_files_are_read_by_their_bom(tmp_path, encoding, bom):
    p = write(tmp_path / "calls.csv", [HEADER, row(0, queue="café"), row(1)], encoding=encoding, bom=bom)
    res = load_table(Source(path=p), "interactions")
    assert res.accepted["queue"].tolist() == ["café", "billing"]
    assert res.rows_read == 2 and res.quarantined.empty


def test_utf16_file_declared_latin1_is_named_utf16(tmp_path):
    p = write(tmp_path / "calls.csv", [HEADER, row(0)], encoding="utf-16-le", bom=codecs.BOM_UTF16_LE)
    with pytest.raises(SourceError, match=r"UTF-16 byte-order mark, but the source says `encoding: latin-1`"):
        load_table(Source(path=p, encoding="latin-1"), "interactions")


def test_utf16_without_bom_gets_a_utf16_hint_not_latin1(tmp_path):
    p = write(tmp_path / "calls.csv", [HEADER, row(0)], encoding="utf-16-le")
    with pytest.raises(SourceError) as err:
        load_table(Source(path=p), "interactions")
    assert "UTF-16" in str(err.value) and "latin-1" not in str(err.value)


def _cxlab_temp_files():
    return {f for f in os.listdir(tempfile.gettempdir()) if f.startswith("cxlab-")}


def test_decoded_copies_are_removed_when_a_later_file_fails(tmp_path):
    (tmp_path / "in").mkdir()
    write(tmp_path / "in" / "a.csv", [HEADER, row(0, queue="€uro")], encoding="cp1252")
    # 0x81 is undefined in cp1252: the second file cannot be decoded
    (tmp_path / "in" / "b.csv").write_bytes((HEADER + "\n").encode() + row(1).encode().replace(b"billing", b"b\x81"))
    before = _cxlab_temp_files()
    with pytest.raises(SourceError, match="cannot decode the file as cp1252"):
        load_table(Source(path=str(tmp_path / "in" / "*.csv"), encoding="cp1252"), "interactions")
    assert _cxlab_temp_files() == before


def test_decoded_copies_are_removed_after_a_good_load(tmp_path):
    p = write(tmp_path / "calls.csv", [HEADER, row(0, queue="€uro")], encoding="cp1252")
    before = _cxlab_temp_files()
    res = load_table(Source(path=p, encoding="cp1252"), "interactions")
    assert res.accepted["queue"].tolist() == ["€uro"]
    assert _cxlab_temp_files() == before


# --------------------------------------------------------------------------- SQL sources are read-only


def _sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture()
def user_db(tmp_path):
    db = tmp_path / "center.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE calls AS SELECT * FROM read_csv(?, all_varchar=true)",
                    [write(tmp_path / "seed.csv", [HEADER, row(0), row(1)])])
    return db


@pytest.mark.parametrize("query", [
    "SELECT * FROM read_csv('/etc/hostname')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_parquet('elsewhere.parquet')",
])
def test_a_database_query_cannot_read_other_files(user_db, query):
    before = _sha(user_db)
    with pytest.raises(SourceError, match="query failed: .*(disabled|Permission)"):
        load_table(Source(path=str(user_db), format="duckdb", query=query), "interactions")
    assert _sha(user_db) == before


def test_a_database_query_reads_its_database_and_leaves_it_byte_identical(user_db):
    before = _sha(user_db)
    res = load_table(Source(path=str(user_db), format="duckdb", query="SELECT * FROM calls ORDER BY interaction_id"),
                     "interactions")
    assert res.accepted["interaction_id"].tolist() == ["I0", "I1"]
    assert _sha(user_db) == before
    # the database is opened read-only: another read-only reader can open it meanwhile
    with duckdb.connect(str(user_db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM calls").fetchone()[0] == 2


def test_a_query_without_a_database_reads_only_under_the_working_directory(tmp_path, monkeypatch):
    inside = tmp_path / "work"
    inside.mkdir()
    write(inside / "calls.csv", [HEADER, row(0)])
    outside = write(tmp_path / "private.csv", [HEADER, row(1)])
    monkeypatch.chdir(inside)
    res = load_table(Source(query="SELECT * FROM read_csv('calls.csv', all_varchar=true)"), "interactions")
    assert res.accepted["interaction_id"].tolist() == ["I0"]
    with pytest.raises(SourceError, match="query failed"):
        load_table(Source(query=f"SELECT * FROM read_csv('{outside}', all_varchar=true)"), "interactions")


def test_table_source_is_attached_read_only(user_db):
    before = _sha(user_db)
    res = load_table(Source(path=str(user_db), format="duckdb", table="calls",
                            mapping=Mapping()), "interactions")
    assert len(res.accepted) == 2
    assert _sha(user_db) == before
    assert isinstance(res.accepted, pd.DataFrame)
