"""The run config: one YAML file validated into a typed object.

A config names the sources and their mappings, the analysis window, the CX
metric, the KPI definition options, segments, per-step notebook options and
the report title. Unknown keys are errors with a "did you mean" hint. YAML is
read with ``yaml.safe_load``.

Paths in a config are resolved relative to the config file's folder.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import ConfigError, suggest

__all__ = [
    "Mapping",
    "Derived",
    "Source",
    "Window",
    "KpiOptions",
    "SampleOptions",
    "Privacy",
    "Engine",
    "RunConfig",
    "load_config",
    "default_config",
    "starter_config",
    "cache_dir",
    "REPO_ROOT",
    "check_read_only_query",
    "check_expression",
]

REPO_ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """Folder for cached sample data: ``$CXLAB_CACHE`` or ``~/.cache/cxlab``."""
    root = os.environ.get("CXLAB_CACHE") or Path.home() / ".cache" / "cxlab"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _if_given(check, v):
    """Run ``check(v)`` unless ``v`` is None; return ``v`` (an optional field's validator)."""
    if v is not None:
        check(v)
    return v


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


DurationUnit = Literal["s", "ms", "min", "hms"]


class Derived(_Strict):
    """A column computed from source columns (``mapping.derive``).

    Either ``date`` + ``time`` (two source columns joined with a space, parsed
    with ``format``, a strptime format of the joined text; ISO 8601 without
    it), or ``expr``: one restricted DuckDB SQL expression over the source
    columns (see :func:`check_expression`).
    """

    expr: str | None = Field(None, description="a DuckDB SQL expression over source columns")
    date: str | None = Field(None, description="source column holding the date")
    time: str | None = Field(None, description="source column holding the time of day")
    format: str | None = Field(None, description="strptime format of '<date> <time>', e.g. '%m/%d/%Y %H:%M:%S'")

    @field_validator("expr")
    @classmethod
    def _only_expression(cls, v):
        return _if_given(check_expression, v)

    @model_validator(mode="after")
    def _one_kind(self):
        if self.expr is not None and (self.date or self.time):
            raise ValueError("a derived column takes either 'expr' or 'date' + 'time', not both")
        if self.expr is None and not (self.date and self.time):
            raise ValueError("a derived column needs 'expr', or both 'date' and 'time'")
        if self.expr is not None and self.format:
            raise ValueError("'format' applies to 'date' + 'time' columns only")
        return self


class Mapping(_Strict):
    """How a source's columns and values map onto a canonical table.

    Applied in this order (see docs/mapping.md): ``derive`` (new columns
    from source columns), ``filter`` / ``where`` (rows not kept are
    *excluded by filter*, counted apart from quarantined rows), ``rename``
    (a source column to one canonical column, or to a list of them),
    ``values``, ``unknown`` (sentinels that mean unknown become null), then
    the type coercion (durations, percent text, timestamps, ids).
    """

    rename: dict[str, str | list[str]] = Field(
        default_factory=dict, description="source column -> canonical column (or a list of canonical columns)")
    derive: dict[str, Derived | str] = Field(
        default_factory=dict,
        description="new column -> {date, time, format} or {expr} (a string is shorthand for {expr})")
    filter: str | None = Field(None, description="SQL expression; rows where it is not true are excluded")
    where: dict[str, Any] = Field(
        default_factory=dict, description="source column -> value or list of values a kept row must have")
    not_offered: str | None = Field(
        None, description="SQL expression true for contacts that never reached a queue (IVR / self-service); "
                          "maps to reached_queue = NOT expr")
    values: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="canonical column -> {source value: canonical value}"
    )
    unknown: dict[str, list[Any]] = Field(
        default_factory=dict, description="canonical column -> values that mean unknown (read as null)")
    percent: list[str] = Field(
        default_factory=list, description="canonical columns holding percentages (94.01 or '94.01%' -> 0.9401)")
    timezone: str | None = Field(None, description="time zone of naive timestamps (default: the run's)")
    duration_unit: DurationUnit = Field(
        "s", description="unit of duration columns: seconds, milliseconds, minutes or 'H:MM:SS' text"
    )
    duration_units: dict[str, DurationUnit] = Field(
        default_factory=dict, description="per-column override of duration_unit"
    )
    timestamp_format: str | None = Field(None, description="strptime format of timestamps, if not ISO 8601")
    date_format: str | None = Field(None, description="strptime format of dates, if not ISO 8601")
    defaults: dict[str, Any] = Field(default_factory=dict, description="constant values for absent columns")

    @field_validator("derive", mode="before")
    @classmethod
    def _expr_shorthand(cls, v):
        if isinstance(v, dict):
            return {k: ({"expr": d} if isinstance(d, str) else d) for k, d in v.items()}
        return v

    @field_validator("filter", "not_offered")
    @classmethod
    def _filter_expression(cls, v):
        return _if_given(check_expression, v)

    @field_validator("unknown", mode="before")
    @classmethod
    def _listify(cls, v):
        if isinstance(v, dict):
            return {k: (d if isinstance(d, list) else [d]) for k, d in v.items()}
        return v

    def targets(self, source_column: str) -> list[str]:
        """The canonical column(s) ``rename`` sends a source column to (itself when not renamed)."""
        t = self.rename.get(source_column, source_column)
        return list(t) if isinstance(t, list) else [t]


_EXPR_CLAUSES = ("where_clause", "having", "qualify", "sample")


def check_expression(expr: str) -> None:
    """Refuse anything but one SQL *expression* (no statement, clause or subquery).

    ``mapping.derive`` / ``filter`` / ``not_offered`` expressions are
    spliced into cxlab's validating SELECT; DuckDB's parser
    (``json_serialize_sql``) reads ``SELECT (<expr>)`` and the tree must be a
    single select item with no FROM, WHERE, GROUP BY, ORDER BY, LIMIT, CTE
    or subquery anywhere.

    Raises
    ------
    ValueError
        Naming what was found.

    Examples
    --------
    >>> check_expression('CAST("QueueTime" AS DOUBLE) / 1000')
    >>> check_expression("x IN (SELECT id FROM t)")
    Traceback (most recent call last):
    ...
    ValueError: 'x IN (SELECT id FROM t)' is not a plain expression: it holds a subquery...
    """
    import json

    import duckdb

    con = duckdb.connect()
    try:
        tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [f"SELECT ({expr}\n)"]).fetchone()[0])
    finally:
        con.close()
    if tree.get("error"):
        raise ValueError(f"{expr!r} does not parse as a SQL expression: {tree.get('error_message', '')}")
    stmts = tree.get("statements", [])
    node = stmts[0].get("node", {}) if len(stmts) == 1 else {}
    problem = None
    if len(stmts) != 1 or node.get("type") != "SELECT_NODE":
        problem = "it is not one expression"
    elif (node.get("from_table") or {}).get("type", "EMPTY") != "EMPTY":
        problem = "it has a FROM clause"
    elif any(node.get(k) for k in _EXPR_CLAUSES) or node.get("group_expressions") or node.get("modifiers") \
            or (node.get("cte_map") or {}).get("map"):
        problem = "it has a clause (WHERE, GROUP BY, ORDER BY, LIMIT, WITH)"
    elif len(node.get("select_list", [])) != 1:
        problem = "it holds several expressions"
    elif _has_subquery(node.get("select_list")):
        problem = "it holds a subquery"
    if problem:
        raise ValueError(f"{expr!r} is not a plain expression: {problem}; mapping expressions may only "
                         "combine source columns with operators and functions")


def _has_subquery(obj) -> bool:
    if isinstance(obj, dict):
        if obj.get("class") == "SUBQUERY" or obj.get("type") in ("SUBQUERY", "SELECT_NODE"):
            return True
        return any(_has_subquery(v) for v in obj.values())
    if isinstance(obj, list):
        return any(_has_subquery(v) for v in obj)
    return False


def check_read_only_query(query: str) -> None:
    """Refuse any SQL that is not exactly one read-only ``SELECT`` / ``WITH`` statement.

    A source ``query`` runs on cxlab's loading connection; it may read, never
    change a database or write a file. DuckDB's own parser splits and
    classifies the text (``duckdb.extract_statements``), so a second statement
    hidden after ``;`` or in a comment trick is seen as DuckDB would see it.

    Raises
    ------
    ValueError
        Naming the statement kinds found (ATTACH, COPY, INSTALL/LOAD, PRAGMA,
        SET, CALL, EXPLAIN, DDL, DML, or more than one statement).

    Examples
    --------
    >>> check_read_only_query("WITH t AS (SELECT 1 AS x) SELECT * FROM t")
    >>> check_read_only_query("SELECT 1; DELETE FROM calls")
    Traceback (most recent call last):
    ...
    ValueError: a source query must be exactly one SELECT (or WITH ... SELECT) statement; found 2 statements (SELECT, DELETE)...
    """
    import duckdb

    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise ValueError(f"the source query does not parse: {str(exc).splitlines()[0]}") from None
    kinds = [str(s.type).split(".")[-1] for s in statements]
    if kinds != ["SELECT"]:
        found = f"{len(kinds)} statements" if len(kinds) != 1 else "one statement"
        raise ValueError(
            "a source query must be exactly one SELECT (or WITH ... SELECT) statement; "
            f"found {found} ({', '.join(kinds) or 'none'}). cxlab only reads: ATTACH, COPY, "
            "INSTALL/LOAD, PRAGMA, SET, CALL, CREATE/ALTER/DROP, INSERT/UPDATE/DELETE are refused"
        )


class Source(_Strict):
    """Where one canonical table comes from."""

    path: str | None = Field(None, description="a CSV/Parquet file or glob, or a .duckdb database")
    format: Literal["csv", "parquet", "duckdb", "auto"] = "auto"
    query: str | None = Field(None, description="SQL query (for duckdb sources)")
    table: str | None = Field(None, description="table name inside a duckdb database")
    delimiter: str | None = None
    encoding: str | None = None
    mapping: Mapping = Field(default_factory=Mapping)

    @field_validator("query")
    @classmethod
    def _read_only_query(cls, v):
        return _if_given(check_read_only_query, v)

    @model_validator(mode="after")
    def _need_path_or_query(self):
        if not self.path and not self.query:
            raise ValueError("a source needs a 'path' (file, glob or database) or a 'query'")
        return self


class Window(_Strict):
    """The analysis window (inclusive dates, in the run's time zone)."""

    start: dt.date = dt.date(2025, 1, 1)
    end: dt.date = dt.date(2025, 12, 31)
    grain: Literal["day", "week"] = "day"

    @model_validator(mode="after")
    def _ordered(self):
        if self.end < self.start:
            raise ValueError(f"window.end ({self.end}) is before window.start ({self.start})")
        return self


class KpiOptions(_Strict):
    """KPI definition options (see KPI_DEFINITIONS.md); defaults in the docs."""

    sl_threshold_s: float = Field(20, gt=0, description="service-level answer threshold T, seconds")
    abandon_treatment: Literal["exclude_short", "ignore_abandons", "abandons_within_t_met"] = "exclude_short"
    short_abandon_s: float = Field(5, ge=0, description="abandons before S seconds are short")
    fcr_window_days: int = Field(7, ge=1, le=90, description="repeat window W for FCR")
    fcr_channel: Literal["any", "same"] = "any"
    aht_includes_hold: bool = True


class SampleOptions(_Strict):
    """The embedded sample center, used when no sources are configured."""

    seed: int = 20251
    days: int = Field(365, ge=7)
    contacts_per_day: int = Field(1000, ge=50)


class Privacy(_Strict):
    allow_customer_ids: bool = False
    allow_comments: bool = False
    allow_raw_rows: bool = Field(
        False, description="let raw rows (quarantine/, data extracts) leave in an emailed run zip; "
                           "customer ids and comments are still removed unless allowed above")


class Engine(_Strict):
    """Where the row-level KPI work runs (docs/engines.md); only aggregates come back.

    ``kind: duckdb`` (default) is embedded; ``spark`` runs on a SparkSession
    (``master`` such as ``local[*]`` or ``spark://host:7077``, or ``remote``, a
    Spark Connect URL ``sc://host:15002``); ``sql`` runs on a database reached
    through the SQLAlchemy ``url`` (PostgreSQL: ``postgresql+psycopg://user:${PGPASSWORD}@host/db``).
    ``table`` names the interactions table inside the engine. ``memory_limit``,
    ``temp_directory`` and ``threads`` bound the embedded DuckDB connections.
    """

    kind: Literal["duckdb", "spark", "sql"] = "duckdb"
    master: str | None = Field(None, description="Spark master URL, e.g. local[*] or spark://host:7077")
    remote: str | None = Field(None, description="Spark Connect URL, e.g. sc://host:15002")
    url: str | None = Field(None, description="SQLAlchemy URL of the database (kind: sql); use ${ENV} for secrets")
    table: str | None = Field(None, description="the interactions table inside the engine (schema.table)")
    memory_limit: str | None = Field(None, description="DuckDB memory limit, e.g. '8GB'")
    temp_directory: str | None = Field(None, description="DuckDB spill directory")
    threads: int | None = Field(None, ge=1, description="DuckDB threads")

    @model_validator(mode="after")
    def _complete(self):
        if self.kind == "spark":
            if self.master and self.remote:
                raise ValueError("engine: give either 'master' or 'remote' (Spark Connect), not both")
            if not self.table:
                raise ValueError("engine: kind 'spark' needs 'table' (the interactions table in the SparkSession)")
        if self.kind == "sql" and (not self.url or not self.table):
            raise ValueError("engine: kind 'sql' needs 'url' (a SQLAlchemy URL) and 'table'")
        if self.kind != "spark" and (self.master or self.remote):
            raise ValueError(f"engine: 'master'/'remote' apply to kind 'spark', not {self.kind!r}")
        if self.kind != "sql" and self.url:
            raise ValueError(f"engine: 'url' applies to kind 'sql', not {self.kind!r}")
        return self


class RunConfig(_Strict):
    """A validated run config.

    Attributes
    ----------
    name : str
        Run name; runs land in ``reports/<name>/<run-id>/``.
    title : str
        Report title.
    timezone : str
        The center's time zone (IANA name); defines calendar days.
    sources : dict or None
        Canonical table name -> :class:`Source`. ``None`` uses the sample.
    currency : str
        ISO 4217 code of revenue amounts (default ``USD``).
    engine : Engine
        Where the row-level KPI work runs (default embedded DuckDB).
    """

    name: str = "demo"
    title: str = "Which levers move CX?"
    timezone: str = "America/New_York"
    sources: dict[str, Source] | None = None
    sample: SampleOptions = Field(default_factory=SampleOptions)
    window: Window = Field(default_factory=Window)
    cx_metric: Literal["csat", "nps", "ces"] = "csat"
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$",
                          description="ISO 4217 code of revenue amounts; reports print money in it (cxlab.fmt.money)")
    kpis: KpiOptions = Field(default_factory=KpiOptions)
    segments: list[str] = Field(default_factory=lambda: ["queue"])
    seed: int = 20251
    steps: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="notebook stem or number -> extra notebook parameters"
    )
    privacy: Privacy = Field(default_factory=Privacy)
    engine: Engine = Field(default_factory=Engine, description="where the row-level KPI work runs")
    quarantine_dir: str | None = None
    config_dir: str | None = Field(None, description="set by load_config; relative paths resolve here")
    #: ``${NAME}`` references as written in the file, by key path (set by :func:`load_config`)
    _env_refs: dict = PrivateAttr(default_factory=dict)

    @property
    def env_refs(self) -> dict:
        """Values that held ``${NAME}`` environment references, as written: key path tuple -> text."""
        return dict(self._env_refs)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, v):
        # the run folder is <reports-dir>/<name>/<run-id>: a name must not leave it
        import re

        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", v or "") or ".." in v:
            raise ValueError(
                f"run name {v!r} is not a plain name: use letters, digits, '.', '_' or '-' "
                "(no '/', no '..', no leading dot), e.g. 'my-center'"
            )
        return v

    @field_validator("timezone")
    @classmethod
    def _known_tz(cls, v):
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(v)
        except Exception:
            raise ValueError(f"unknown time zone {v!r}; use an IANA name such as 'Europe/London'") from None
        return v

    @field_validator("sources")
    @classmethod
    def _known_tables(cls, v):
        if v is None:
            return v
        from .schema import TABLES

        for name in v:
            if name not in TABLES:
                raise ValueError(f"unknown table {name!r}{suggest(name, TABLES)}; tables: {sorted(TABLES)}")
        if "interactions" not in v and "aggregates" not in v:
            raise ValueError("sources must include 'interactions' (contact rows) or 'aggregates' (a KPI sheet)")
        return v

    @property
    def uses_sample(self) -> bool:
        return self.sources is None

    def resolve(self, path: str) -> str:
        """Resolve a path from the config relative to the config's folder."""
        p = Path(path).expanduser()
        if not p.is_absolute() and self.config_dir:
            p = Path(self.config_dir) / p
        return str(p)


def _format_errors(exc: ValidationError, model=RunConfig, origin: str = "config") -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"])
        if err["type"] == "extra_forbidden":
            parent = _model_at(model, err["loc"][:-1])
            hint = suggest(err["loc"][-1], parent.model_fields) if parent else ""
            lines.append(f"  {loc}: unknown key{hint}")
        else:
            lines.append(f"  {loc}: {err['msg']} (got {err.get('input')!r})")
    return f"{origin} is invalid:\n" + "\n".join(lines)


def _model_at(model, loc):
    """Walk the pydantic model along ``loc`` to find the model of a nested key."""
    import typing

    cur = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(cur, "model_fields", None)
        if fields is None:
            return None
        if part not in fields:
            # inside a dict[str, Model]: stay at the value model
            continue
        ann = fields[part].annotation
        args = [a for a in typing.get_args(ann) if a is not type(None)] or [ann]
        nxt = None
        for a in args:
            if isinstance(a, type) and issubclass(a, BaseModel):
                nxt = a
            for b in typing.get_args(a):
                if isinstance(b, type) and issubclass(b, BaseModel):
                    nxt = b
        if nxt is None:
            return None
        cur = nxt
    return cur


def default_config(**overrides) -> RunConfig:
    """The config used when none is given: the embedded sample center."""
    try:
        return RunConfig(**overrides)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc)) from None


def load_config(path: str | os.PathLike | None = None, **overrides) -> RunConfig:
    """Load and validate a run config from YAML.

    Parameters
    ----------
    path : path-like or None
        The YAML file. ``None`` or ``""`` returns :func:`default_config`.
    **overrides
        Top-level keys that replace the file's values.

    Returns
    -------
    RunConfig

    Raises
    ------
    ConfigError
        The file is missing, not YAML, not a mapping, or fails validation; the
        message lists every problem with its key path.
    """
    if path in (None, ""):
        return default_config(**overrides)
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p} is not valid YAML: {exc}") from None
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError(f"{p} must hold a mapping of keys, got {type(raw).__name__}")
    raw.update(overrides)
    raw.setdefault("config_dir", str(p.resolve().parent))
    raw, refs = expand_env(raw, origin=str(p))
    try:
        config = RunConfig(**raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, origin=str(p))) from None
    config._env_refs = refs
    return config


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(raw, *, origin: str = "config", environ=None):
    """Replace every ``${NAME}`` in the strings of a raw config by the environment variable ``NAME``.

    Secrets (database passwords, tokens) belong in environment variables, not
    in the file: ``path: postgresql://cx:${CX_DB_PASSWORD}@db/cc``. The run's
    copy of the config keeps the reference as written.

    Returns
    -------
    expanded, refs
        The config with references replaced, and ``{key path: text as written}``
        of every value that held one.

    Raises
    ------
    ConfigError
        A referenced variable is not set (naming the key and the variable).

    Examples
    --------
    >>> expand_env({"sources": {"calls": {"path": "pg://u:${PW}@h/db"}}}, environ={"PW": "s"})
    ({'sources': {'calls': {'path': 'pg://u:s@h/db'}}}, {('sources', 'calls', 'path'): 'pg://u:${PW}@h/db'})
    """
    env = os.environ if environ is None else environ
    refs: dict = {}

    def walk(value, path):
        if isinstance(value, dict):
            return {k: walk(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*path, i)) for i, v in enumerate(value)]
        if isinstance(value, str) and _ENV_REF.search(value):
            missing = [n for n in _ENV_REF.findall(value) if n not in env]
            if missing:
                key = ".".join(str(x) for x in path)
                raise ConfigError(f"{origin}: {key} refers to the environment variable ${{{missing[0]}}}, "
                                  "which is not set")
            refs[path] = value
            return _ENV_REF.sub(lambda m: env[m.group(1)], value)
        return value

    return walk(raw, ()), refs


def starter_config() -> str:
    """Commented starter config written by ``cxlab init``."""
    return STARTER


STARTER = """\
# cxlab run config. Every key is optional; delete what you do not need.
# Validate with:  cxlab validate THIS_FILE      Run with:  cxlab run THIS_FILE
name: my-center                 # runs land in reports/<name>/<run-id>/
title: "Which levers move our CX?"
timezone: America/New_York      # the center's time zone: defines calendar days

# Where each canonical table comes from. Remove 'sources' to use the sample.
sources:
  interactions:
    path: exports/contacts_*.csv          # a file, a glob, or a .duckdb database
    format: csv                           # csv | parquet | duckdb | auto
    mapping:
      rename: {ContactID: interaction_id, CustomerID: customer_id, Media: channel,
               Skill: queue, AgentID: agent_id, StartTime: arrived_at,
               QueueTime: wait_s, TalkTime: talk_s, HoldTime: hold_s, WrapTime: acw_s,
               Abandoned: abandoned, Transferred: transferred}
      values: {abandoned: {"Y": true, "N": false}, transferred: {"Y": true, "N": false},
               channel: {Phone: voice, Chat: chat}}
      timezone: America/New_York          # for naive timestamps
      duration_unit: s                    # s | ms | min | hms ('H:MM:SS', 'MM:SS', 'H.MM.SS' text)
      # more (see docs/mapping.md):
      # derive: {arrived_at: {date: CallDate, time: CallTime, format: "%m/%d/%Y %H:%M:%S"},
      #          queue: "coalesce(Skill, 'IVR')"}     # a column from a SQL expression
      # filter: "Direction = 'IN'"                   # other rows: excluded by filter
      # unknown: {customer_id: ["0", "anonymous"]}   # values that mean unknown
      # not_offered: "Skill IS NULL"                 # never reached a queue (IVR / self-service)
  surveys:
    path: exports/surveys.parquet
    mapping:
      rename: {SurveyID: response_id, ContactID: interaction_id, CustomerID: customer_id,
               SubmittedAt: responded_at, Q1: csat, Q2: nps, Q3: ces}
#  agents:       {path: exports/agents.csv}
#  agent_scores: {path: exports/qa.csv}
#  events:       {path: exports/events.csv}
#  staffing:     {path: exports/staffing.csv}
#  customers:    {path: exports/customers.csv}
#  series:       {path: exports/web_traffic.csv}

window: {start: 2025-01-01, end: 2025-12-31, grain: day}   # grain: day | week
cx_metric: csat                 # csat | nps | ces
kpis:
  sl_threshold_s: 20            # service level: answered within T seconds
  abandon_treatment: exclude_short   # exclude_short | ignore_abandons | abandons_within_t_met
  short_abandon_s: 5
  fcr_window_days: 7            # FCR: no repeat by the same customer within W days
  fcr_channel: any              # any | same
  aht_includes_hold: true
segments: [queue]
seed: 20251                     # every random draw in the run is seeded from this
steps: {}                       # per-notebook parameters, e.g. {"05_focus": {n_boot: 500}}
privacy: {allow_customer_ids: false, allow_comments: false}
"""
