"""Step 2 through Spark Connect: a real Connect server, the client talking gRPC to ``sc://127.0.0.1:PORT``.

The module starts pyspark's own ``SparkConnectServer`` (``spark-submit --class
org.apache.spark.sql.connect.service.SparkConnectServer``, what
``sbin/start-connect-server.sh`` runs) as a separate JVM in ``local[2]`` mode
on a free port, waits for the port, and stops the process group at the end.
cxlab's ``SparkSource(table=..., remote="sc://...")`` builds the client
session, as a user would; nothing runs in-process on the JVM side.

As in tests/test_engines.py (whose sample builder and comparison are reused),
the reference is cxlab's DuckDB executor on the same pandas frame: every
result through Connect equals DuckDB's to 1e-9, counts exactly, on the seeded
samples over America/New_York's 2025 DST changes.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings

import pandas as pd
import pytest
from test_engines import BYS, DEFS, TZ, _free_port, _same, _sample, _surveyed

from cxlab.kpis import contact_features, engines, erlang_check, kpi_table

_SERVER = "org.apache.spark.sql.connect.service.SparkConnectServer"


def _server_cmd(spark_home: str, port: int, warehouse: str) -> list[str]:
    conf = {
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
        "spark.sql.shuffle.partitions": "2",
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": "1g",
        "spark.sql.warehouse.dir": warehouse,
        # C1-only JIT and the serial GC, as for the classic session of tests/test_engines.py
        "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
    }
    args = [a for k, v in conf.items() for a in ("--conf", f"{k}={v}")]
    return [os.path.join(spark_home, "bin", "spark-submit"), "--class", _SERVER, "--name", "cxlab-connect-tests",
            "--master", "local[2]", *args]


@pytest.fixture(scope="module")
def connect_url():
    """A local Spark Connect server (its own JVM, gRPC on a free localhost port); yields ``sc://...``."""
    pyspark = pytest.importorskip("pyspark", reason="pyspark not installed: pip install 'cxlab[spark]'")
    pytest.importorskip("grpc", reason="the Spark Connect client needs grpcio: pip install 'cxlab[spark]'")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("a Spark Connect server needs Java 17+ (no java on PATH, no JAVA_HOME)")
    home = os.path.dirname(pyspark.__file__)
    if not any(f.startswith("spark-connect_") for f in os.listdir(os.path.join(home, "jars"))):
        pytest.skip(f"this pyspark ships no spark-connect jar in {home}/jars")
    root = tempfile.mkdtemp(prefix="cxlab-connect-")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED")}
    env.update(SPARK_HOME=home, SPARK_LOG_DIR=root, SPARK_LOCAL_DIRS=root)
    log = open(os.path.join(root, "server.log"), "w")
    proc = subprocess.Popen(_server_cmd(home, port, os.path.join(root, "warehouse")), env=env, cwd=root,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    with open(log.name) as f:
                        tail = f.read()[-1500:]
                    pytest.fail(f"the Spark Connect server did not start (exit {proc.poll()}):\n{tail}")
                time.sleep(0.25)
        yield f"sc://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the process group of the server started above
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)
        log.close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def samples():
    """21 days over each DST change (the seeds of tests/test_engines.py)."""
    return {"march": _sample("2025-02-24", 101), "november": _sample("2025-10-20", 202)}


@pytest.fixture(scope="module")
def connect(connect_url, samples):
    """The samples as global temp views ``global_temp.cx_march`` / ``cx_november`` on the Connect server.

    The session is the one cxlab's ``SparkSource(remote=...)`` builds.
    """
    spark = engines.SparkSource(table="global_temp.cx_march", remote=connect_url).session()
    assert type(spark).__module__ == "pyspark.sql.connect.session"  # a gRPC client, not a py4j session
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # pyspark's "pandas >= 3.0.0" notice
        frames = {k: spark.createDataFrame(v["interactions"]).cache() for k, v in samples.items()}
    for k, f in frames.items():
        f.createOrReplaceGlobalTempView(f"cx_{k}")
    yield {"url": connect_url, "spark": spark, "frames": frames}
    spark.stop()


def _src(connect, name):
    return engines.SparkSource(table=f"global_temp.cx_{name}", remote=connect["url"])


@pytest.mark.parametrize(("name", "by"), [("march", BYS[0]), ("november", BYS[1])],
                         ids=["march-day", "november-interval"])
def test_kpi_table_connect_equals_duckdb(connect, samples, name, by):
    # every SENSITIVITY definition; the spring change by local day, the autumn one by local interval
    # (the classic-session file runs all four combinations: the SQL is the same, only the client differs)
    ref = kpi_table(samples[name]["interactions"], by=by, timezone=TZ, definitions=DEFS)
    _same(ref, kpi_table(_src(connect, name), by=by, timezone=TZ, definitions=DEFS))


def test_kpi_table_default_definitions_and_connect_dataframe(connect, samples):
    # the default definitions, and a Connect DataFrame passed directly (its session is used)
    df = samples["march"]["interactions"]
    ref = kpi_table(df, by=BYS[0], timezone=TZ)
    _same(ref, kpi_table(_src(connect, "march"), by=BYS[0], timezone=TZ))
    _same(ref, kpi_table(connect["frames"]["march"], by=BYS[0], timezone=TZ))


def test_contact_features_connect_equals_duckdb(connect, samples):
    df = samples["march"]["interactions"]
    src = _src(connect, "march")
    _same(contact_features(df, timezone=TZ), contact_features(src, timezone=TZ))
    for d in DEFS[1:4]:  # three SENSITIVITY options besides the default
        o = {k: v for k, v in d.items() if k != "label"}
        _same(contact_features(df, options=o, timezone=TZ), contact_features(src, options=o, timezone=TZ))
    nov = samples["november"]["interactions"]
    _same(contact_features(nov, timezone=TZ), contact_features(_src(connect, "november"), timezone=TZ))


def test_contact_features_ids_through_connect(connect, samples):
    # the ids go to the server as a temp view of the client session (createDataFrame over gRPC)
    df = samples["november"]["interactions"]
    ids = _surveyed(df)
    full = contact_features(df, timezone=TZ)
    ref = full[full["interaction_id"].isin(ids)].reset_index(drop=True)
    assert len(ref) == len(ids) - 1
    got = contact_features(_src(connect, "november"), timezone=TZ, ids=pd.Series(ids))
    ref.attrs = got.attrs
    _same(ref, got)
    assert len(contact_features(_src(connect, "november"), timezone=TZ, ids=[])) == 0
    # the temporary views are dropped afterwards: only the session's own views remain
    names = {t.name for t in connect["spark"].catalog.listTables() if t.isTemporary}
    assert not any(n.startswith(("cx_ids", "cx_input")) for n in names), names


def test_erlang_check_through_connect(connect, samples):
    s = samples["march"]
    _same(erlang_check(s["interactions"], s["staffing"], timezone=TZ),
          erlang_check(_src(connect, "march"), s["staffing"], timezone=TZ))


def test_connect_naive_timestamps_and_session_zone_restored(connect, samples):
    spark = connect["spark"]
    ref = kpi_table(samples["november"]["interactions"], by=BYS[1], timezone=TZ, definitions=DEFS[:2])
    # `arrived_at` as timestamp_ntz (UTC wall times: the session zone is UTC here) is read as UTC
    frame = connect["frames"]["november"]
    ntz = frame.withColumn("arrived_at", frame["arrived_at"].cast("timestamp_ntz"))
    assert dict(ntz.dtypes)["arrived_at"] == "timestamp_ntz"
    _same(ref, kpi_table(ntz, by=BYS[1], timezone=TZ, definitions=DEFS[:2]))
    # a user session in another zone: the query runs in UTC (instants give the same table) and the
    # user's zone is set back afterwards
    spark.conf.set("spark.sql.session.timeZone", "Europe/Paris")
    try:
        _same(ref, kpi_table(_src(connect, "november"), by=BYS[1], timezone=TZ, definitions=DEFS[:2]))
        assert spark.conf.get("spark.sql.session.timeZone") == "Europe/Paris"
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")


def test_connect_errors_and_config_route(connect, samples):
    from cxlab.config import RunConfig
    from cxlab.errors import ConfigError, SourceError

    with pytest.raises(SourceError, match="no_such_view"):
        kpi_table(engines.SparkSource(table="no_such_view", remote=connect["url"]))
    with pytest.raises(ConfigError, match="Spark Connect URL"):
        engines.SparkSource(table="t", remote="http://not-a-connect-url").session()
    cfg = RunConfig(engine={"kind": "spark", "remote": connect["url"], "table": "global_temp.cx_march"})
    src = engines.interactions_from_config(cfg)
    assert src.session() is connect["spark"]  # the active session to the same server is reused
    # cxlab's Connect sessions leave no flag that would turn a later classic builder into a Connect one
    assert "SPARK_CONNECT_MODE_ENABLED" not in os.environ
    _same(kpi_table(samples["march"]["interactions"], by=BYS[0], timezone=TZ), kpi_table(src, by=BYS[0], timezone=TZ))
