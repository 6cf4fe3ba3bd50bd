"""Step 2 on other engines: the KPI table and contact features on Spark and PostgreSQL equal DuckDB's.

The reference is cxlab's own DuckDB executor on the same pandas frame (the
engine-independent numbers of tests/test_kpis.py, worked by hand, pin that
executor down); every comparison here is engine vs DuckDB to 1e-9 — counts
exactly. The data is the seeded sample center over the two 2025 DST changes
of America/New_York (9 March, 2 November), with some customer ids removed and
some timestamps tied to exercise the unknown-customer and tie rules.

Spark runs in ``local[2]`` mode (one session for the module); PostgreSQL is a
throwaway server (initdb into a temporary folder, unix socket only) started
once for the session and stopped afterwards. Each is skipped, with the
reason, when its software is missing. Snowflake and BigQuery are not run:
their SQL is checked to parse in their dialect.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import warnings

import numpy as np
import pandas as pd
import pytest

from cxlab.config import RunConfig
from cxlab.kpis import SENSITIVITY, contact_features, engines, erlang_check, kpi_table
from cxlab.kpis._dialects import translate
from cxlab.sample import generate

TZ = "America/New_York"
DEFS = list(SENSITIVITY)
BYS = [("day", "queue"), ("interval", "queue")]


def _sample(start: str, seed: int) -> dict:
    tabs = generate(seed=seed, days=21, contacts_per_day=250, start=start)
    df = tabs["interactions"].copy()
    rng = np.random.default_rng(seed)
    df.loc[rng.random(len(df)) < 0.03, "customer_id"] = None  # unknown customers
    # ties: a customer's contact moved onto the customer's previous contact's timestamp
    df = df.sort_values(["customer_id", "arrived_at"], kind="mergesort").reset_index(drop=True)
    same = df["customer_id"].notna() & (df["customer_id"] == df["customer_id"].shift())
    tie = same & (rng.random(len(df)) < 0.05)
    df.loc[tie, "arrived_at"] = df["arrived_at"].shift()[tie]
    return {"interactions": df.sort_values("arrived_at", kind="mergesort").reset_index(drop=True),
            "staffing": tabs["staffing"]}


@pytest.fixture(scope="module")
def samples():
    """21 days over each DST change (local start dates), seeded."""
    return {"march": _sample("2025-02-24", 101), "november": _sample("2025-10-20", 202)}


# --------------------------------------------------------------------------- Spark


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark", reason="pyspark not installed: pip install 'cxlab[spark]'")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java 17+ (no java on PATH, no JAVA_HOME)")
    from pyspark.sql import SparkSession

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
        s = _session(SparkSession)
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


def _session(SparkSession):
    return (SparkSession.builder.master("local[2]").appName("cxlab-tests")
         .config("spark.sql.shuffle.partitions", "2").config("spark.ui.enabled", "false")
         .config("spark.ui.showConsoleProgress", "false").config("spark.driver.memory", "1g")
         # C1-only JIT and the serial GC: the JVM warms up in half the time for this short run
         .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
         .getOrCreate())


@pytest.fixture(scope="module")
def spark_frames(spark, samples):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # pyspark's "pandas >= 3.0.0" notice
        out = {k: spark.createDataFrame(v["interactions"]).cache() for k, v in samples.items()}
    for k, f in out.items():
        f.createOrReplaceTempView(f"cx_{k}")
    return out


# --------------------------------------------------------------------------- PostgreSQL


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return shutil.which(name) or (found[-1] if found else None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL server on a unix socket; yields a SQLAlchemy URL."""
    pytest.importorskip("sqlalchemy", reason="sqlalchemy not installed: pip install 'cxlab[sql]'")
    pytest.importorskip("psycopg", reason="psycopg not installed: pip install 'cxlab[sql]'")
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's postgresql "
                    "package (`make postgres` does, as root)")
    prefix, user = [], None
    if os.geteuid() == 0:  # initdb refuses root: run the server as an unprivileged user
        for name in ("postgres", "nobody"):
            try:
                pwd.getpwnam(name)
                user = name
                break
            except KeyError:
                continue
        if user is None or shutil.which("runuser") is None:
            pytest.skip("running as root without a 'postgres'/'nobody' user or runuser: cannot start PostgreSQL")
        prefix = ["runuser", "-u", user, "--"]
    root = tempfile.mkdtemp(prefix="cxlab-pg-")
    data, sock = os.path.join(root, "data"), os.path.join(root, "sock")
    os.makedirs(sock)
    if user:
        for p in (root, sock):
            shutil.chown(p, user)
    os.chmod(root, 0o755)
    port = _free_port()
    run = dict(check=True, capture_output=True, text=True, timeout=120)
    try:
        subprocess.run([*prefix, initdb, "-D", data, "-U", "cxlab", "--auth=trust", "--locale=C", "-E", "UTF8"],
                       **run)
        opts = (f"-k {sock} -p {port} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
                "-c full_page_writes=off")
        subprocess.run([*prefix, pg_ctl, "-D", data, "-l", os.path.join(root, "server.log"), "-w", "-t", "60",
                        "-o", opts, "start"], **run)
    except subprocess.CalledProcessError as e:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"could not start PostgreSQL: {(e.stderr or e.stdout).strip()[-400:]}")
    try:
        yield f"postgresql+psycopg://cxlab@/postgres?host={sock}&port={port}"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", data, "-m", "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def pg_tables(postgres_url, samples):
    """The samples as tables ``cx_march`` / ``cx_november`` (``arrived_at`` timestamptz), one engine."""
    import sqlalchemy as sa

    eng = sa.create_engine(postgres_url)
    for k, v in samples.items():
        _load_pg(eng, v["interactions"], f"cx_{k}")
    yield eng
    eng.dispose()


def _load_pg(eng, df: pd.DataFrame, table: str):
    """Create ``table`` with pandas' column types, then COPY the rows (nulls as NULL)."""
    df.head(0).to_sql(table, eng, if_exists="replace", index=False)
    rows = df.astype(object).where(df.notna(), None).itertuples(index=False, name=None)
    with eng.begin() as conn:
        with conn.connection.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN") as cp:
            for row in rows:
                cp.write_row(row)


def _pg(pg_tables, name):
    return engines.SqlSource(pg_tables, f"cx_{name}")


# --------------------------------------------------------------------------- comparisons


def _same(a: pd.DataFrame, b: pd.DataFrame):
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b) > 0
    pd.testing.assert_frame_equal(a, b, check_dtype=False, rtol=1e-9, atol=1e-9)
    for c in a.columns:  # counts exactly, not to a tolerance
        if pd.api.types.is_integer_dtype(a[c].dtype):
            assert (a[c].to_numpy() == b[c].to_numpy()).all(), c
    assert a.attrs == b.attrs


@pytest.mark.parametrize("by", BYS, ids=["day", "interval"])
@pytest.mark.parametrize("name", ["march", "november"])
def test_kpi_table_spark_equals_duckdb(spark_frames, samples, name, by):
    ref = kpi_table(samples[name]["interactions"], by=by, timezone=TZ, definitions=DEFS)
    _same(ref, kpi_table(spark_frames[name], by=by, timezone=TZ, definitions=DEFS))


@pytest.mark.parametrize("by", BYS, ids=["day", "interval"])
@pytest.mark.parametrize("name", ["march", "november"])
def test_kpi_table_postgres_equals_duckdb(pg_tables, samples, name, by):
    ref = kpi_table(samples[name]["interactions"], by=by, timezone=TZ, definitions=DEFS)
    _same(ref, kpi_table(_pg(pg_tables, name), by=by, timezone=TZ, definitions=DEFS))


def test_dst_days_really_covered(samples):
    # the local day of the spring change has 23 hours, the autumn one 25: both are in the data
    for name, day in (("march", "2025-03-09"), ("november", "2025-11-02")):
        days = kpi_table(samples[name]["interactions"], by=("day",), timezone=TZ)["day"]
        assert pd.Timestamp(day) in set(days)


def _features_all_defs(src, df):
    for d in DEFS:
        o = {k: v for k, v in d.items() if k != "label"}
        _same(contact_features(df, options=o, timezone=TZ), contact_features(src, options=o, timezone=TZ))


def test_contact_features_spark_equals_duckdb(spark_frames, samples):
    _features_all_defs(spark_frames["march"], samples["march"]["interactions"])
    df = samples["november"]["interactions"]
    _same(contact_features(df, timezone=TZ), contact_features(spark_frames["november"], timezone=TZ))


@pytest.mark.parametrize("name", ["march", "november"])
def test_contact_features_postgres_equals_duckdb(pg_tables, samples, name):
    _features_all_defs(_pg(pg_tables, name), samples[name]["interactions"])


def _surveyed(df):
    ids = df["interaction_id"].sample(frac=0.12, random_state=7).tolist()
    return ids + ["no-such-contact"]  # unknown ids are ignored


def test_contact_features_ids_filter_in_engine(spark_frames, pg_tables, samples):
    import duckdb

    df = samples["march"]["interactions"]
    ids = _surveyed(df)
    full = contact_features(df, timezone=TZ)
    ref = full[full["interaction_id"].isin(ids)].reset_index(drop=True)
    assert len(ref) == len(ids) - 1
    for src in (df, duckdb.from_df(df), spark_frames["march"], _pg(pg_tables, "march")):
        got = contact_features(src, timezone=TZ, ids=pd.Series(ids))
        ref.attrs = got.attrs
        _same(ref, got)
    assert len(contact_features(_pg(pg_tables, "march"), timezone=TZ, ids=[])) == 0


def test_erlang_check_on_engines(spark_frames, pg_tables, samples):
    s = samples["march"]
    ref = erlang_check(s["interactions"], s["staffing"], timezone=TZ)
    for src in (spark_frames["march"], _pg(pg_tables, "march")):
        _same(ref, erlang_check(src, s["staffing"], timezone=TZ))


def test_spark_table_name_and_naive_timestamps(spark, spark_frames, samples):
    # a table of the session, and `arrived_at` as timestamp_ntz (naive, read as UTC)
    df = samples["november"]["interactions"]
    ref = kpi_table(df, by=BYS[1], timezone=TZ, definitions=DEFS[:2])
    src = engines.SparkSource(table="cx_november", spark=spark)
    _same(ref, kpi_table(src, by=BYS[1], timezone=TZ, definitions=DEFS[:2]))
    ntz = spark_frames["november"].withColumn("arrived_at", spark_frames["november"]["arrived_at"].cast("timestamp_ntz"))
    assert dict(ntz.dtypes)["arrived_at"] == "timestamp_ntz"
    _same(ref, kpi_table(ntz, by=BYS[1], timezone=TZ, definitions=DEFS[:2]))


def test_postgres_naive_timestamps_and_config(pg_tables, postgres_url, samples):
    df = samples["march"]["interactions"]
    naive = df.assign(arrived_at=df["arrived_at"].dt.tz_convert("UTC").dt.tz_localize(None))
    _load_pg(pg_tables, naive, "cx_naive")
    src = engines.SqlSource(pg_tables, "cx_naive")
    inp = engines.engine_input_class(src)(src)
    try:
        assert inp.types["arrived_at"] == "TIMESTAMP" and inp.dialect == "postgres"
    finally:
        inp.close()
    ref = kpi_table(df, by=BYS[0], timezone=TZ)
    _same(ref, kpi_table(src, by=BYS[0], timezone=TZ))
    # the run config's engine section gives the same source
    cfg = RunConfig(engine={"kind": "sql", "url": postgres_url, "table": "public.cx_march"})
    _same(ref, kpi_table(engines.interactions_from_config(cfg), by=BYS[0], timezone=TZ))
    assert engines.interactions_from_config(RunConfig(), default=df) is df


def test_kpi_sql_columns_rebuild_the_table_on_duckdb_and_postgres(pg_tables, samples):
    # kpi_sql's query, run outside kpi_table and read through KpiQuery.columns, gives kpi_table's sums
    import duckdb

    df = samples["march"]["interactions"]
    lo, hi = df["arrived_at"].min(), df["arrived_at"].max()
    ref = kpi_table(df, by=BYS[0], timezone=TZ, definitions=DEFS)
    con = duckdb.connect()
    con.register("interactions", df)
    con.execute("SET TimeZone = 'UTC'")
    raws = {"duckdb": con.execute(engines.kpi_sql("duckdb", start=lo, end=hi, timezone=TZ, definitions=DEFS).sql).df()}
    q = engines.kpi_sql("postgres", start=lo, end=hi, timezone=TZ, definitions=DEFS, table="cx_march")
    with pg_tables.connect() as c:
        raws["postgres"] = pd.read_sql_query(q.sql, c)
    for raw in raws.values():
        raw = raw.sort_values(["day", "queue"]).reset_index(drop=True)
        checked = 0
        for col, uses in q.columns.items():
            for label, kpi in uses:
                if kpi.rsplit("_", 1)[0] in ref.attrs["not_measured"]:  # occupancy: no staffing table here
                    continue
                want = ref.loc[ref["definition"] == label, kpi].to_numpy(dtype=float)
                np.testing.assert_allclose(raw[col].fillna(0).to_numpy(dtype=float), want, rtol=1e-9, atol=1e-9)
                checked += 1
        assert checked > 100


@pytest.mark.parametrize("dialect", ["snowflake", "bigquery", "spark", "postgres"])
@pytest.mark.parametrize("period", ["interval", "day", "week", "month", None])
def test_warehouse_sql_parses(dialect, period):
    import sqlglot

    by = (period, "queue") if period else ("queue",)
    q = engines.kpi_sql(dialect, start="2025-03-01", end="2025-03-31 23:00", timezone=TZ, definitions=DEFS, by=by,
                        table="analytics.cx.interactions")
    tree = sqlglot.parse_one(q.sql, read=dialect)
    assert tree.sql(dialect=dialect) == q.sql  # round-trips: every construct is one the dialect has
    text = q.sql.lower()
    for duckdb_only in ("epoch_us(", "timezone(", "make_timestamp(", "time_bucket(", "//", "cx_input"):
        assert duckdb_only not in text
    if dialect == "snowflake":
        assert " window " not in text and "filter(" not in text.replace(" ", "")  # no named windows, no FILTER
    assert "analytics" in text and all(u[0] for us in q.columns.values() for u in us)


def test_duckdb_sql_untouched():
    sql = "SELECT (_t_us + 0) // 1800000000 AS _p, epoch_us(t) FROM cx_input"
    assert translate(sql, "duckdb") == sql


def test_documented_engine_configs_validate():
    # every YAML example in docs/engines.md is a valid run config (secrets from the environment)
    import re
    from pathlib import Path

    import yaml

    from cxlab.config import expand_env

    text = (Path(__file__).resolve().parent.parent / "docs" / "engines.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    from cxlab.kpis import _resources

    kinds = set()
    try:
        for b in blocks:
            cfg = RunConfig.model_validate(expand_env(yaml.safe_load(b), environ={"CX_PG_PASSWORD": "x"})[0])
            kinds.add(cfg.engine.kind)
            src = engines.interactions_from_config(cfg, default="local.parquet")
            assert type(src).__name__ == {"spark": "SparkSource", "sql": "SqlSource", "duckdb": "str"}[cfg.engine.kind]
            if cfg.engine.kind == "duckdb":  # the resource fields reach the DuckDB settings
                assert _resources.settings()["threads"] == 2
    finally:
        _resources.configure(memory_limit=None, temp_directory=None, threads=None)
    assert kinds == {"spark", "sql", "duckdb"} and len(blocks) == 4


def test_engine_errors_name_the_table(pg_tables, spark):
    from cxlab.errors import SourceError

    with pytest.raises(SourceError, match="no_such_table"):
        kpi_table(engines.SqlSource(pg_tables, "no_such_table"))
    with pytest.raises(SourceError, match="no_such_view"):
        kpi_table(engines.SparkSource(table="no_such_view", spark=spark))
    with pytest.raises(ValueError, match="dialect must be one of"):
        engines.kpi_sql("oracle", start="2025-01-01", end="2025-01-02")
