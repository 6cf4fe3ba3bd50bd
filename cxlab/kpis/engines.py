"""Step 2 — the KPI definitions run where the contacts live: Spark, a SQL database, or DuckDB.

:func:`cxlab.kpis.kpi_table`, :func:`cxlab.kpis.contact_features` and
:func:`cxlab.kpis.erlang_check` take an *engine source* wherever they take a
DataFrame:

* :class:`SparkSource` — a ``pyspark.sql.DataFrame`` (passing the DataFrame
  itself works too) or a table of a SparkSession (``local[*]``, a cluster
  master or a Spark Connect URL);
* :class:`SqlSource` — a table in a database reached through a SQLAlchemy
  URL (PostgreSQL is tested: ``postgresql+psycopg://...``).

The KPI layer writes its queries once, in DuckDB SQL, from the same
:class:`~cxlab.kpis.KpiDefinition` records; :func:`cxlab.kpis._dialects.translate`
turns them into the engine's dialect with sqlglot. The repeat window
(``LEAD``/``LAG``), the local periods (the UTC-offset ``CASE``) and the sums
run in the engine; only the aggregated rows come back (a KPI table: periods x
segments; contact features: one row per contact, or only the ``ids`` asked
for). :func:`kpi_sql` writes the KPI query for Snowflake or BigQuery (not run
here: parse-tested only). See docs/engines.md.
"""

from __future__ import annotations

import contextlib
import decimal
import uuid
import warnings
from dataclasses import dataclass, field

import pandas as pd

from ..errors import ConfigError, SourceError
from ._common import InteractionsInput, check_timezone, coerce_options
from ._dialects import DIALECTS, check_dialect, duckdb_type, translate

__all__ = ["SparkSource", "SqlSource", "interactions_from_config", "kpi_sql", "KpiQuery", "DIALECTS"]


def _need(module: str, extra: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"the {extra!r} engine needs {module.split('.')[0]}: pip install 'cxlab[{extra}]'") from None


def _is_spark_frame(data) -> bool:
    t = type(data)
    return t.__name__ == "DataFrame" and t.__module__.startswith("pyspark.sql")


def _connect_session(url: str):
    """A Spark Connect session to ``url``: the active one when it talks to that server, else a new one.

    Built with the Connect client's own builder rather than
    ``SparkSession.builder.remote(url)``: the latter refuses while a classic
    session exists in the process and leaves ``SPARK_CONNECT_MODE_ENABLED``
    set in ``os.environ``, which turns every later classic builder into a
    Connect one.

    Parameters
    ----------
    url : str
        ``sc://host:port`` (optionally ``/;token=...`` and other Connect parameters).

    Returns
    -------
    pyspark.sql.connect.session.SparkSession
    """
    connect = _need("pyspark.sql.connect.session", "spark")
    client = _need("pyspark.sql.connect.client", "spark")
    try:
        want = client.DefaultChannelBuilder(url).endpoint
    except Exception as e:  # a malformed URL: PySparkValueError
        raise ConfigError(f"not a Spark Connect URL (sc://host:port): {url!r}: {str(e).splitlines()[0]}") from None
    with _quiet_pyspark():
        session = connect.SparkSession.builder.remote(url).getOrCreate()
        have = getattr(getattr(getattr(session, "_client", None), "_builder", None), "endpoint", want)
        if have != want:  # the active session talks to another server
            session = connect.SparkSession.builder.remote(url).create()
    return session


class SparkSource:
    """Interactions in Spark: a DataFrame, or a table of a SparkSession.

    Parameters
    ----------
    data : pyspark.sql.DataFrame, optional
        The interactions (canonical columns, :mod:`cxlab.schema`).
    table : str, optional
        Instead of ``data``: a table or view name in the session
        (``db.interactions``).
    spark : pyspark.sql.SparkSession, optional
        The session for ``table``; default the active one, or one built from
        ``master`` / ``remote``.
    master : str, optional
        ``local[*]``, ``spark://host:7077``, ``yarn`` ... (a classic session).
    remote : str, optional
        A Spark Connect URL, ``sc://host:15002``.

    Notes
    -----
    Queries run with ``spark.sql.session.timeZone = UTC`` and Arrow transfer
    enabled; the session's previous values are restored after each query.
    Spark ``timestamp`` columns are instants; ``timestamp_ntz`` columns are
    read as UTC (as :mod:`cxlab.kpis` does for naive timestamps).
    """

    def __init__(self, data=None, *, table: str | None = None, spark=None, master: str | None = None,
                 remote: str | None = None):
        if (data is None) == (table is None):
            raise ValueError("SparkSource needs exactly one of a DataFrame (data) or a table name (table)")
        if data is not None and not _is_spark_frame(data):
            raise TypeError(f"SparkSource data must be a pyspark.sql.DataFrame; got {type(data).__name__}")
        if master and remote:
            raise ValueError("SparkSource: give either master or remote (Spark Connect), not both")
        self.data, self.table, self._spark, self.master, self.remote = data, table, spark, master, remote

    def session(self):
        """The SparkSession (built on first use from ``master``/``remote`` when none was given)."""
        if self._spark is None:
            if self.data is not None:
                self._spark = self.data.sparkSession
            else:
                if self.remote:
                    self._spark = _connect_session(self.remote)
                else:
                    sql = _need("pyspark.sql", "spark")
                    builder = sql.SparkSession.builder.appName("cxlab")
                    if self.master:
                        builder = builder.master(self.master)
                    self._spark = builder.getOrCreate()
        return self._spark

    def dataframe(self):
        """The interactions as a Spark DataFrame."""
        if self.data is not None:
            return self.data
        try:
            df = self.session().table(self.table)
            df.schema  # noqa: B018 -- Spark Connect resolves lazily: ask for the schema so a missing table fails here
            return df
        except Exception as e:  # AnalysisException: table not found
            raise SourceError(f"Spark has no table {self.table!r}: {str(e).splitlines()[0]}",
                              table="interactions", path=self.table) from None

    def __repr__(self):
        return f"SparkSource(table={self.table!r})" if self.table else "SparkSource(<DataFrame>)"


#: SQLAlchemy dialect name -> sqlglot dialect
_SQLA_DIALECTS = {"postgresql": "postgres", "snowflake": "snowflake", "bigquery": "bigquery", "duckdb": "duckdb"}


class SqlSource:
    """Interactions in a SQL database, reached through a SQLAlchemy URL or engine.

    Parameters
    ----------
    url : str or sqlalchemy.engine.Engine
        E.g. ``postgresql+psycopg://user:secret@host:5432/db`` (PostgreSQL
        through psycopg 3), or ``postgresql+psycopg://user@/db?host=/run/pg``
        for a unix socket.
    table : str
        The interactions table, optionally schema-qualified (``cx.interactions``).

    Notes
    -----
    The query dialect follows the URL (``postgresql`` -> PostgreSQL).
    PostgreSQL is the database tested; other SQLAlchemy dialects that sqlglot
    writes (Snowflake, BigQuery) get the same translation but are untested here.
    Each input holds one connection for its queries (so a temporary table
    of ``ids`` is visible to them) and closes it afterwards.
    """

    def __init__(self, url, table: str):
        if not table:
            raise ValueError("SqlSource needs the interactions table name")
        self.url, self.table = url, table
        self._engine = None

    def engine(self):
        """The SQLAlchemy engine (created on first use)."""
        if self._engine is None:
            if isinstance(self.url, str):
                sa = _need("sqlalchemy", "sql")
                self._engine = sa.create_engine(self.url)
            else:
                self._engine = self.url
        return self._engine

    @property
    def dialect(self) -> str:
        name = self.engine().dialect.name
        if name not in _SQLA_DIALECTS:
            raise ConfigError(f"database dialect {name!r} is not supported by the cxlab SQL engine; "
                              f"supported: {sorted(_SQLA_DIALECTS)}")
        return _SQLA_DIALECTS[name]

    def __repr__(self):
        url = self.engine().url.render_as_string(hide_password=True) if self._engine is not None else "<url>"
        return f"SqlSource({url}, table={self.table!r})"


def engine_input_class(data):
    """The engine-backed :class:`~cxlab.kpis._common.InteractionsInput` class for ``data``, or None."""
    if isinstance(data, SqlSource):
        return _SqlInput
    if isinstance(data, SparkSource) or _is_spark_frame(data):
        return _SparkInput
    return None


def _from_engine(df: pd.DataFrame) -> pd.DataFrame:
    """Engine results as DuckDB would give them: ``Decimal`` -> float, text -> ``str``."""
    for c in df.columns:
        s = df[c]
        if s.dtype != object:
            continue
        vals = s.dropna()
        if len(vals) and all(isinstance(v, decimal.Decimal) for v in vals):
            df[c] = s.astype("float64")
        elif len(vals) and all(isinstance(v, str) for v in vals):
            df[c] = s.astype("str")
    return df


@contextlib.contextmanager
def _quiet_pyspark():
    """Silence pyspark's notices about pandas 3 (``FutureWarning``/``Pandas4Warning`` from pyspark.sql.pandas)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"pyspark\.sql\.pandas")
        warnings.filterwarnings("ignore", message=r"PySpark does not yet fully support pandas")
        yield


def _unique(stem: str) -> str:
    return f"{stem}_{uuid.uuid4().hex[:12]}"


class _SparkInput(InteractionsInput):
    """The interactions in Spark; queries are translated to Spark SQL."""

    dialect = "spark"

    def __init__(self, data):
        self.source = data if isinstance(data, SparkSource) else SparkSource(data)
        self._spark = self.source.session()
        df = self.source.dataframe()
        self._views = []
        if self.source.table:
            self._table = self.source.table
        else:
            self._table = _unique("cx_input")
            df.createOrReplaceTempView(self._table)
            self._views.append(self._table)
        self._ids = None
        self.types = {name: duckdb_type(t, "spark") for name, t in df.dtypes}

    def _tables(self) -> dict:
        return {"cx_input": self._table, **({"cx_ids": self._ids} if self._ids else {})}

    def fetch(self, sql: str) -> pd.DataFrame:
        conf = self._spark.conf
        want = {"spark.sql.session.timeZone": "UTC", "spark.sql.execution.arrow.pyspark.enabled": "true"}
        before = {}
        for k, v in want.items():
            try:
                before[k] = conf.get(k)
                conf.set(k, v)
            except Exception:  # a setting the session (e.g. Spark Connect) does not expose
                before.pop(k, None)
        try:
            with _quiet_pyspark():
                out = self._spark.sql(translate(sql, "spark", tables=self._tables())).toPandas()
            out.attrs.clear()  # Spark Connect puts the query's plan metrics there; they would reach the results
        finally:
            for k, v in before.items():
                conf.set(k, v)
        return _from_engine(out)

    def register_ids(self, ids) -> str:
        name = _unique("cx_ids")
        frame = pd.DataFrame({"interaction_id": [str(i) for i in ids]}, dtype=object)
        with _quiet_pyspark():
            self._spark.createDataFrame(frame, schema="interaction_id string").createOrReplaceTempView(name)
        self._views.append(name)
        self._ids = name
        return "cx_ids"

    def close(self):
        for v in self._views:
            try:
                self._spark.catalog.dropTempView(v)
            except Exception:  # the session was stopped meanwhile: nothing to drop
                pass
        self._views = []


class _SqlInput(InteractionsInput):
    """The interactions in a SQL database; queries are translated to its dialect."""

    def __init__(self, data: SqlSource):
        sa = _need("sqlalchemy", "sql")
        self.source = data
        self.dialect = data.dialect
        engine = data.engine()
        self._conn = engine.connect()
        self._ids = None
        parts = data.table.split(".")
        schema, name = (".".join(parts[:-1]) or None), parts[-1]
        try:
            cols = sa.inspect(self._conn).get_columns(name, schema=schema)
        except Exception as e:  # NoSuchTableError and driver errors
            self._conn.close()
            raise SourceError(f"cannot read the columns of {data.table!r}: {str(e).splitlines()[0]}",
                              table="interactions", path=data.table) from None
        self.types = {c["name"]: duckdb_type(str(c["type"].compile(dialect=engine.dialect)), self.dialect)
                      for c in cols}

    def _tables(self) -> dict:
        return {"cx_input": self.source.table, **({"cx_ids": self._ids} if self._ids else {})}

    def fetch(self, sql: str) -> pd.DataFrame:
        res = self._conn.exec_driver_sql(translate(sql, self.dialect, tables=self._tables()))
        out = pd.DataFrame.from_records(res.fetchall(), columns=list(res.keys()), coerce_float=True)
        return _from_engine(out)

    def register_ids(self, ids) -> str:
        sa = _need("sqlalchemy", "sql")
        name = _unique("cx_ids")
        self._conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {name} (interaction_id VARCHAR(255))")
        values = [{"v": str(i)} for i in ids]
        if values:
            self._conn.execute(sa.text(f"INSERT INTO {name} (interaction_id) VALUES (:v)"), values)
        self._ids = name
        return "cx_ids"

    def close(self):
        try:
            self._conn.rollback()  # the work was read-only; this also drops the id table created in it
        finally:
            self._conn.close()


def interactions_from_config(config, default=None):
    """The interactions source the run config's ``engine`` names.

    Parameters
    ----------
    config : cxlab.config.RunConfig
    default : DataFrame, str or duckdb relation, optional
        What to use with ``engine.kind: duckdb`` (the validated interactions
        table or its Parquet file).

    Returns
    -------
    SparkSource, SqlSource or ``default``
        Pass it as ``interactions`` to :func:`cxlab.kpis.kpi_table`,
        :func:`cxlab.kpis.contact_features` and :func:`cxlab.kpis.erlang_check`.

    Notes
    -----
    The DuckDB resource fields (``memory_limit``, ``temp_directory``,
    ``threads``) set in the config are applied with
    :func:`cxlab.kpis._resources.configure` for every kind (local DuckDB work
    such as the staffing sums runs whatever the engine).

    Examples
    --------
    >>> from cxlab.config import RunConfig
    >>> cfg = RunConfig(engine={"kind": "sql", "url": "postgresql+psycopg://cx@/cx?host=/run/pg",
    ...                         "table": "cx.interactions"})
    >>> interactions_from_config(cfg)
    SqlSource(<url>, table='cx.interactions')
    """
    e = config.engine
    res = {k: getattr(e, k) for k in ("memory_limit", "temp_directory", "threads") if getattr(e, k) is not None}
    if res:
        from . import _resources

        _resources.configure(**res)
    if e.kind == "spark":
        return SparkSource(table=e.table, master=e.master, remote=e.remote)
    if e.kind == "sql":
        return SqlSource(e.url, e.table)
    return default


@dataclass(frozen=True)
class KpiQuery:
    """The KPI table query for one engine and what its columns hold.

    Attributes
    ----------
    sql : str
        One SELECT over the table (``table`` of :func:`kpi_sql`).
    dialect : str
    columns : dict
        Aggregate column -> list of ``(definition label, KPI column)``, e.g.
        ``"_a0": [("as configured", "offered")]``; a KPI value is ``scale x
        num / den`` of its ``_num`` and ``_den`` columns
        (:func:`cxlab.kpis.definitions_table`). ``_ivr_only`` counts the
        never-queued contacts.
    """

    sql: str
    dialect: str
    columns: dict = field(default_factory=dict)


def kpi_sql(dialect: str, *, start, end, by=("day", "queue"), options=None, definitions=None,
            timezone: str = "UTC", table: str = "interactions", types: dict | None = None,
            pretty: bool = False) -> KpiQuery:
    """The KPI table query in an engine's SQL, from the same definitions as :func:`cxlab.kpis.kpi_table`.

    For warehouses cxlab does not run (Snowflake, BigQuery): run the query
    there and read the aggregates with :attr:`KpiQuery.columns`.

    Parameters
    ----------
    dialect : str
        ``"duckdb"``, ``"spark"``, ``"postgres"``, ``"snowflake"`` or ``"bigquery"``.
    start, end : str or timestamp
        First and last ``arrived_at`` in the table (UTC): they place the
        time-zone offset changes and the end of the data (FCR right-censoring).
    by, options, definitions, timezone
        As :func:`cxlab.kpis.kpi_table`.
    table : str
        The interactions table in the warehouse (``db.schema.table``).
    types : dict, optional
        Column -> DuckDB type name of the table; default every canonical
        column, ``arrived_at`` a ``TIMESTAMP WITH TIME ZONE``. Columns left
        out are read as NULL.
    pretty : bool
        Indented SQL.

    Returns
    -------
    KpiQuery

    Examples
    --------
    >>> import sqlglot
    >>> q = kpi_sql("snowflake", start="2025-03-01", end="2025-03-31", timezone="America/New_York",
    ...             table="cx.public.interactions")
    >>> sqlglot.parse_one(q.sql, read="snowflake").sql(dialect="snowflake") == q.sql
    True
    >>> q.columns["_a0"]
    [('default', 'offered')]
    """
    from .table import _definition_sets, _kpi_sql, _split_by, kpi_definitions

    check_dialect(dialect)
    check_timezone(timezone)
    if types is None:
        from ._common import OPTIONAL_COLUMNS, REQUIRED_COLUMNS

        base = {"interaction_id": "VARCHAR", "queue": "VARCHAR", "arrived_at": "TIMESTAMP WITH TIME ZONE",
                "wait_s": "DOUBLE", "talk_s": "DOUBLE", "abandoned": "BOOLEAN"}
        types = {**{c: base[c] for c in REQUIRED_COLUMNS}, **OPTIONAL_COLUMNS}
    lo_us, hi_us = (int(pd.Timestamp(t, tz="UTC").value // 1000) if pd.Timestamp(t).tzinfo is None
                    else int(pd.Timestamp(t).value // 1000) for t in (start, end))
    if hi_us < lo_us:
        raise ValueError(f"kpi_sql: end ({end}) is before start ({start})")
    period, segments = _split_by(by, types)
    sets = _definition_sets(options, definitions if definitions is not None else [coerce_options(options)])
    aliases: dict = {}
    columns: dict = {}

    def alias(expr, integer, label, col):
        a = aliases.setdefault((expr, integer), f"_a{len(aliases)}")
        columns.setdefault(a, []).append((label, col))

    for label, o in sets:
        for d in kpi_definitions(o):
            alias(d.numerator, d.integer_numerator, label, d.value_column if d.denominator is None else f"{d.name}_num")
            if d.denominator is not None and d.denominator_relation == "contacts":
                alias(d.denominator, d.integer_denominator, label, f"{d.name}_den")
    sql = _kpi_sql(types, period=period, segments=segments, aliases=aliases, timezone=timezone,
                   lo_us=lo_us, hi_us=hi_us)
    return KpiQuery(translate(sql, dialect, tables={"cx_input": table}, pretty=pretty), dialect, columns)
