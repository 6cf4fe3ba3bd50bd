"""kpi_table on the Parquet files ``cxlab sample`` writes, and on timestamps of every precision and zone.

``cxlab.sample.write_sample`` writes ``arrived_at`` as nanosecond UTC
timestamps, which DuckDB reads as ``TIMESTAMPTZ_NS`` (issue 20: a Parquet path
or a relation of it once failed with "Unimplemented type for cast"). The
reference for every comparison is ``kpi_table`` on the same contacts as a
pandas frame (``datetime64[ns, UTC]``), the path the rest of the suite checks.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from cxlab.kpis import kpi_table
from cxlab.sample import write_sample

BY = ("day", "queue")
TZ = "America/New_York"


@pytest.fixture(scope="module")
def sample_file(tmp_path_factory):
    # 2025-02-24 .. 2025-03-23: the spring DST change (9 March) inside the data
    out = tmp_path_factory.mktemp("sample")
    return write_sample(out, days=28, contacts_per_day=300, start="2025-02-24")["interactions"]


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, atol=0)


def test_kpi_table_on_the_sample_parquet_file(sample_file):
    t = pq.read_table(sample_file)
    assert t.schema.field("arrived_at").type == pa.timestamp("ns", tz="UTC")  # what the sample writes
    expected = kpi_table(t.to_pandas(), by=BY, timezone=TZ)
    assert int(expected["offered"].sum()) > 5000 and int(expected["fcr_den"].sum()) > 0
    _same(kpi_table(str(sample_file), by=BY, timezone=TZ), expected)
    con = duckdb.connect()
    _same(kpi_table(con.read_parquet(str(sample_file)), by=BY, timezone=TZ), expected)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("zone", ["UTC", None])
def test_every_timestamp_precision_gives_the_same_table(sample_file, tmp_path, unit, zone):
    t = pq.read_table(sample_file)
    # whole seconds, so every precision holds exactly the same instants
    secs = pc.cast(pc.floor_temporal(t["arrived_at"], unit="second"), pa.timestamp("s", tz="UTC"))
    base = t.set_column(t.schema.get_field_index("arrived_at"), "arrived_at", secs)
    expected = kpi_table(base.to_pandas(), by=BY, timezone=TZ)
    typ = pa.timestamp(unit, tz=zone)  # without a zone: naive UTC wall clock, read as UTC
    arrived = secs.cast(pa.timestamp(unit, tz="UTC"))
    if zone is None:
        arrived = pa.chunked_array([c.cast(pa.int64()).cast(typ) for c in arrived.chunks])
    path = tmp_path / f"interactions_{unit}_{zone}.parquet"
    pq.write_table(base.set_column(base.schema.get_field_index("arrived_at"), "arrived_at", arrived), path,
                   coerce_timestamps=None, allow_truncated_timestamps=False)
    got_type = duckdb.sql(f"SELECT arrived_at FROM read_parquet('{path}') LIMIT 0").types[0]
    assert ("TIME ZONE" in str(got_type) or "TZ" in str(got_type)) == (zone is not None)
    _same(kpi_table(str(path), by=BY, timezone=TZ), expected)
