"""Preflight: ``cxlab validate`` is the plan, and ``cxlab run`` checks the same before any kernel starts.

:func:`inspect` loads and validates the sources, cuts them to the window,
evaluates every declared notebook section (:func:`cxlab.plan.plan`) and
checks the step parameters against the data. :func:`validate_command`
prints the result; :func:`check` is what :func:`cxlab.pipeline.run` calls
and raises :class:`PreflightFailed` when the run cannot produce anything
meaningful.

Exit codes of ``cxlab validate`` (and, for the same problems, ``cxlab run``):

====  =====================================================================
code  meaning
====  =====================================================================
0     the sources were read and the plan can run (sections may be skipped)
1     a source cannot be read (missing file, bad CSV, failing query, ...)
2     the config is invalid (unknown key, wrong type, bad value)
3     the data or a parameter does not fit the run: the ``interactions``
      table accepts 0 rows, no interaction falls in the window, the
      ``cx_metric`` has no value among the survey responses in the window,
      or a step parameter is unknown or names a column the data lacks
====  =====================================================================
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..config import RunConfig, load_config
from ..errors import ConfigError, DataError, ParameterError, SourceError, suggest
from .discover import Step, discover
from .params import check_parameters, step_overrides

__all__ = ["Preflight", "PreflightFailed", "inspect", "check", "validate_command", "EXIT_OK", "EXIT_SOURCE",
           "EXIT_CONFIG", "EXIT_DATA"]

EXIT_OK, EXIT_SOURCE, EXIT_CONFIG, EXIT_DATA = 0, 1, 2, 3

#: Step parameters that name contact-grain columns: step stem -> {parameter: kind}.
#: kinds: "columns" (comma-separated names), "column" (one name), "keyed" ("col:value,..." pairs),
#: "period" / "periods" (period-grain KPI columns).
COLUMN_PARAMETERS: dict[str, dict[str, str]] = {
    "01_cx_metric": {"segments": "columns"},
    "04_correlate": {"confounder": "column"},
    "05_focus": {"drivers": "columns", "controls": "columns", "targets": "keyed", "changes": "keyed"},
    "06_validate": {"pilot_driver": "column", "focus_driver": "period", "shock_driver": "period",
                    "period_drivers": "periods"},
}

#: Contact-frame columns cxlab derives, and what each is derived from (``table.column``; None: always).
DERIVED_COLUMNS: dict[str, tuple[str, ...] | None] = {
    "date": None, "handle_s": ("interactions.talk_s",), "held": ("interactions.hold_s",),
    "is_repeat": ("interactions.customer_id",), "repeat_before_response": ("interactions.customer_id",),
    "tenure_days": ("agents.hire_date",), "agent_site": ("agents.site",), "team": ("agents.team",),
    "qa_score": ("agent_scores.value",), "day_service_level_pct": ("interactions.wait_s",),
    "day_offered": ("interactions.arrived_at",), "cx_value": ("surveys",), "cx_top2": ("surveys.csat",),
    "promoter": ("surveys.nps",), "nps_score": ("surveys.nps",), "ces_agree": ("surveys.ces",),
}
_DERIVED_PREFIXES = {"event_": "events", "series_": "series"}


class PreflightFailed(DataError):
    """The data cannot support the run (exit code 3): the message lists every problem.

    Attributes
    ----------
    preflight : Preflight
        The full result (plan rows, problems, warnings).
    exit_code : int
        3.
    """

    exit_code = EXIT_DATA

    def __init__(self, preflight: Preflight):
        self.preflight = preflight
        super().__init__("the data does not fit the run:\n" + "\n".join(f"  {p}" for p in preflight.problems))


@dataclasses.dataclass
class Preflight:
    """What a run will do on this data, and what stops it.

    Attributes
    ----------
    config : RunConfig
    summary : pandas.DataFrame or None
        Per table rows read / accepted / quarantined and rows in the window
        (:meth:`cxlab.data.Dataset.summary` of the windowed dataset).
    quarantined : pandas.DataFrame or None
        Quarantined rows by table and reason.
    rows : list of cxlab.plan.PlanRow
        Every declared section of the steps that have declarations.
    problems : list of str
        Each one fails the preflight (exit code 3).
    warnings : list of str
        Printed, not fatal.
    dataset : cxlab.data.Dataset or None
        The loaded dataset (the run stashes it for the notebooks instead of loading it again).
    """

    config: RunConfig
    summary: Any = None
    quarantined: Any = None
    rows: list = dataclasses.field(default_factory=list)
    problems: list = dataclasses.field(default_factory=list)
    warnings: list = dataclasses.field(default_factory=list)
    dataset: Any = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.ok else EXIT_DATA

    def plan_manifest(self) -> list[dict]:
        """The plan as the manifest records it: one dict per section."""
        return [{"step": r.step, "section": r.key, "title": r.title, "runs": r.runs, "reason": r.reason}
                for r in self.rows]

    def skipped_lines(self) -> list[str]:
        """One line per section the plan skips (``cxlab run`` prints them before the steps start)."""
        return [f"plan: {r.step} skips '{r.title}': {r.reason}" for r in self.rows if not r.runs]

    def plan_text(self) -> str:
        """Per step: the sections that will run and those that will be skipped, and why."""
        if not self.rows:
            return "Plan\n  (no step declares its sections yet: every section runs)"
        lines = ["Plan (per step: what will run, what will be skipped and why)"]
        by_step: dict[str, list] = {}
        for r in self.rows:
            by_step.setdefault(r.step, []).append(r)
        for step, rows in by_step.items():
            runs = [r for r in rows if r.runs]
            skips = [r for r in rows if not r.runs]
            lines.append(f"  {step}: {len(runs)} of {len(rows)} sections run")
            for r in runs:
                lines.append(f"    runs    {r.title}")
            for r in skips:
                lines.append(f"    skipped {r.title}: {r.reason}")
        return "\n".join(lines)

    def report(self) -> str:
        """The text ``cxlab validate`` prints."""
        parts = []
        if self.summary is not None:
            parts += ["Tables", self.summary.to_string(index=False), ""]
        if self.quarantined is not None:
            if self.quarantined.empty:
                parts += ["No rows quarantined.", ""]
            else:
                parts += ["Quarantined rows by reason (each row counted once, under its first reason)",
                          self.quarantined.to_string(index=False), ""]
        parts.append(self.plan_text())
        if self.warnings:
            parts += ["", "Warnings"] + [f"  {w}" for w in self.warnings]
        if self.problems:
            parts += ["", "Problems (the run would stop here)"] + [f"  {p}" for p in self.problems]
        return "\n".join(parts)


# --------------------------------------------------------------------------- loading (cached for the sample)

_SAMPLE_CACHE: dict[tuple, Any] = {}


def _load(config: RunConfig):
    """The loaded dataset; the embedded sample (deterministic) is loaded once per process."""
    from ..data import load_dataset

    if config.uses_sample:
        key = (config.sample.seed, config.sample.days, config.sample.contacts_per_day, config.timezone)
        if key not in _SAMPLE_CACHE:
            _SAMPLE_CACHE.clear()
            _SAMPLE_CACHE[key] = load_dataset(config, quarantine_dir=None)
        return _SAMPLE_CACHE[key]
    return load_dataset(config)


def _step_config(config: RunConfig, step: str) -> RunConfig:
    """The config a step's kernel sees: its ``cx_metric`` / window overrides applied."""
    over: dict[str, Any] = {}
    for key in (step[:2], step):  # number first, the stem wins (as params.step_overrides)
        over.update(config.steps.get(key, {}) or {})
    update: dict[str, Any] = {}
    if over.get("cx_metric"):
        update["cx_metric"] = over["cx_metric"]
    win = {k: over[p] for k, p in (("start", "window_start"), ("end", "window_end"), ("grain", "grain"))
           if over.get(p) not in (None, "")}
    if win:
        update["window"] = {**config.window.model_dump(), **win}
    if not update:
        return config
    from pydantic import ValidationError

    try:
        return RunConfig(**{**config.model_dump(), **update})
    except ValidationError as exc:
        bad = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ParameterError(f"config steps {step}: the step's parameters do not make a valid config ({bad})") \
            from None


# --------------------------------------------------------------------------- checks


def _names(value, kind: str) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    out = []
    for item in items:
        item = str(item).strip()
        if not item:
            continue
        if kind == "keyed":
            item = item.split(":", 1)[0].strip()
        out.append(item)
    return out


def contact_columns(tables: Mapping[str, Any]) -> dict[str, str | None]:
    """Column names a contact-grain parameter may use on these tables -> None, or why one is missing.

    The loaded columns of interactions and agents, plus the columns cxlab
    derives (:data:`DERIVED_COLUMNS`); a derived column whose source is
    absent maps to the reason (e.g. ``"needs agents.hire_date"``).
    """
    out: dict[str, str | None] = {}
    for name in ("interactions", "agents", "aggregates"):
        df = tables.get(name)
        if df is not None:
            for c in df.columns:
                if not str(c).startswith("_"):
                    out[str(c)] = None
    for col, needs in DERIVED_COLUMNS.items():
        if col in out:
            continue
        lacking = []
        for need in needs or ():
            table, _, column = need.partition(".")
            df = tables.get(table)
            if df is None or (column and (column not in df.columns or df[column].notna().sum() == 0)):
                lacking.append(need)
        out[col] = f"needs {', '.join(lacking)}" if lacking else None
    return out


def _period_columns(tables: Mapping[str, Any], config: RunConfig) -> set[str] | None:
    from .. import kpis

    inter = tables.get("interactions")
    if inter is None or not len(inter):
        return None
    inter = getattr(inter, "sample", inter)  # a TableProfile (cxlab validate): its columns are the table's
    try:
        t = kpis.kpi_table(inter, by=["day"], options=config.kpis, timezone=config.timezone)
    except Exception:  # the KPI step reports its own problems; do not guess here
        return None
    return {str(c) for c in t.columns}


def _check_column_parameters(config: RunConfig, steps: list[Step], tables) -> list[str]:
    problems: list[str] = []
    contact = contact_columns(tables)
    period = None

    def check(where: str, names: list[str], space: Mapping[str, str | None] | set, what: str):
        for n in names:
            if n in space and (not isinstance(space, Mapping) or space[n] is None):
                continue
            if isinstance(space, Mapping) and n in space:
                problems.append(f"{where}: column {n!r} cannot be derived from this data ({space[n]})")
                continue
            if any(n.startswith(p) for p in _DERIVED_PREFIXES) and _DERIVED_PREFIXES[n.split("_")[0] + "_"] in tables:
                continue
            known = sorted(k for k in space if not isinstance(space, Mapping) or space[k] is None)
            problems.append(f"{where}: {what} {n!r} is not in the data{suggest(n, known)}; "
                            f"{what}s available: {known}")

    check("config segments", list(config.segments), contact, "column")
    for step in steps:
        spec = COLUMN_PARAMETERS.get(step.stem)
        if not spec:
            continue
        over = step_overrides(config, step)
        for param, kind in spec.items():
            if param not in over:
                continue
            names = _names(over[param], kind)
            where = f"config steps {step.stem}: parameter {param}"
            if kind in ("period", "periods"):
                if period is None:
                    period = _period_columns(tables, config)
                if period is not None:
                    check(where, names, {c for c in period if not c.endswith(("_num", "_den"))}, "period KPI")
            else:
                check(where, names, contact, "column")
    return problems


def _check_metric(config: RunConfig, step_names: list[str], tables) -> list[str]:
    """A cx_metric with no value among the survey responses in the window (responses exist)."""
    surveys = tables.get("surveys")
    if surveys is None or not len(surveys):
        return []
    metrics: dict[str, list[str]] = {}
    for stem in step_names:
        metrics.setdefault(_step_config(config, stem).cx_metric, []).append(stem)
    if not step_names:
        metrics = {config.cx_metric: []}
    present = [m for m in ("csat", "nps", "ces") if m in surveys.columns and surveys[m].notna().any()]
    out = []
    for metric, stems in metrics.items():
        if metric in present:
            continue
        who = "cx_metric" if metric == config.cx_metric else f"cx_metric of {', '.join(stems)}"
        out.append(
            f"{who} {metric!r} has no value among the {len(surveys):,} survey responses in the window "
            f"{config.window.start}..{config.window.end}; metrics with values: {', '.join(present) or 'none'}"
        )
    return out


#: ``cxlab validate``'s table profiles (:func:`cxlab.data.load.count_dataset`): a table with at most
#: PROFILE_WHOLE_ROWS rows in the window is checked on all its rows (exact for any check, e.g. a
#: row-wise one on an aggregate KPI sheet); a larger one on a PROFILE_SAMPLE_ROWS sample that shows every
#: column's presence, non-null values and variation as the whole table does.
PROFILE_WHOLE_ROWS, PROFILE_SAMPLE_ROWS = 50_000, 1_000

#: Tables that carry the contacts themselves: a run needs rows of at least one of them in the window.
PRIMARY_TABLES = {"interactions": "arrived_at", "aggregates": "period_start"}


def _check_rows(config: RunConfig, accounting, full_rows: Mapping[str, int], win_rows: Mapping[str, int],
                cover) -> tuple[list[str], list[str]]:
    """Row problems: a table accepting 0 rows, no contact in the window, no survey in the window.

    ``full_rows`` / ``win_rows``: accepted rows per table, all / in the
    window; ``cover(name, column)``: the first and last local day of the
    table's column (None when it lacks the column).
    """
    problems, warnings = [], []
    acc = accounting.drop_duplicates("table").set_index("table")
    for name in acc.index:
        read, accepted = int(acc.loc[name, "rows_read"]), int(acc.loc[name, "rows_accepted"])
        if accepted == 0 and (read > 0 or name in PRIMARY_TABLES):
            bad = accounting[(accounting["table"] == name) & (accounting["reason"] != "ok")]
            top = bad.sort_values("rows", ascending=False)["reason"].head(3).tolist()
            why = f" (most often: {'; '.join(top)})" if top else ""
            line = f"table {name}: 0 of {read:,} rows accepted{why}"
            if name in PRIMARY_TABLES:
                problems.append(line)
            else:
                warnings.append(line + "; the sections that need it will be skipped")
    primary = [n for n in PRIMARY_TABLES if full_rows.get(n)]
    if primary and not any(win_rows.get(n) for n in primary):
        covers = []
        for n in primary:
            days = cover(n, PRIMARY_TABLES[n])
            if days is not None:
                covers.append(f"the {n} cover {days[0]}..{days[1]}")
        problems.append(
            f"no {' or '.join(n.rstrip('s') for n in primary)} row falls in the window "
            f"{config.window.start}..{config.window.end} ({config.timezone})"
            + (f"; {', '.join(covers)}" if covers else "")
        )
    for name in ("surveys",):
        if full_rows.get(name) and not win_rows.get(name):
            warnings.append(f"table {name}: none of its {full_rows[name]:,} rows falls in the window; "
                            "the CX sections will be skipped")
    return problems, warnings


class _Loaded:
    """What :func:`inspect` needs of a load: the pandas :class:`cxlab.data.Dataset` (a run uses it
    afterwards) or, for ``cxlab validate``, :func:`cxlab.data.load.count_dataset` (no accepted row in pandas)."""

    def __init__(self, config: RunConfig, materialise: bool):
        self.config, self.materialise, self._windows = config, materialise, {}
        tz, win = config.timezone, (config.window.start, config.window.end)
        if materialise:
            self.data = _load(config)
            cut = self.data.window(*win, tz)
            self.summary, self.tables, self.win = cut.summary(), self.data.tables, cut.tables
            self.full_rows = {n: len(df) for n, df in self.data.tables.items()}
        else:
            from ..data.load import count_dataset

            self.data = count_dataset(config, *win, **self._profile())
            self.summary, self.win = self.data.summary, self.data.tables
            self.full_rows = dict(zip(self.data.totals["table"], self.data.totals["rows"].astype(int)))
        self._windows[win] = self.win
        self.accounting = self.data.accounting

    @staticmethod
    def _profile() -> dict:
        return {"sample_rows": PROFILE_SAMPLE_ROWS, "whole_rows": PROFILE_WHOLE_ROWS}

    def cover(self, name: str, col: str):
        """First and last local day of ``name.col`` over the accepted rows (None without the column)."""
        if not self.materialise:
            row = self.data.totals.set_index("table").loc[name]
            return None if row["date_min"] is None or pd.isna(row["date_min"]) else (row["date_min"], row["date_max"])
        df = self.data.tables[name]
        if col not in df.columns:
            return None
        from .._utils import local_time_keys

        days = local_time_keys(df[col], ["day"], self.config.timezone)["day"]
        return days.min().date(), days.max().date()

    def window(self, start, end):
        """The tables cut to another window (a step's own window)."""
        key = (start, end)
        if key not in self._windows:
            if self.materialise:
                self._windows[key] = self.data.window(start, end, self.config.timezone).tables
            else:
                from ..data.load import count_dataset

                self._windows[key] = count_dataset(self.config, start, end, **self._profile()).tables
        return self._windows[key]


def inspect(config: RunConfig, steps: list[Step] | None = None, *, materialise: bool = True) -> Preflight:
    """Load the data and evaluate the plan and the checks; never raises for a data problem.

    Parameters
    ----------
    config : RunConfig
    steps : list of Step, optional
        The step notebooks (default: :func:`discover`); the plan covers those
        with section declarations in :mod:`cxlab.plan`.
    materialise : bool, default True
        True: load the tables into pandas (:func:`cxlab.data.load_dataset`;
        ``dataset`` is the :class:`cxlab.data.Dataset` a run stashes).
        False (``cxlab validate``): count in DuckDB
        (:func:`cxlab.data.load.count_dataset`): no accepted row becomes
        pandas; the plan's checks see each windowed table as a
        :class:`cxlab.data.load.TableProfile` (true row count, a bounded
        sample that shows every column's presence, non-null values and
        variation as the whole table does); ``dataset`` is the
        :class:`cxlab.data.load.Counts`. The printed report is the same.

    Returns
    -------
    Preflight

    Raises
    ------
    cxlab.errors.SourceError, OSError
        A source cannot be read.
    """
    from .. import plan as _plan

    steps = discover() if steps is None else steps
    pf = Preflight(config)
    try:
        if steps:
            check_parameters(config, steps, steps)
    except ParameterError as exc:
        pf.problems += [line.strip() for line in str(exc).splitlines()[1:] if line.strip()]
    loaded = _Loaded(config, materialise)
    ds = pf.dataset = loaded.data
    pf.summary = loaded.summary.rename(columns={"rows": "in_window"})
    pf.quarantined = ds.accounting[ds.accounting["reason"] != "ok"][["table", "reason", "rows"]]
    problems, warnings = _check_rows(config, ds.accounting, loaded.full_rows,
                                     {n: len(df) for n, df in loaded.win.items()}, loaded.cover)
    pf.problems += problems
    pf.warnings += warnings
    pf.warnings += list(ds.notes()) if hasattr(ds, "notes") else []
    planned = []
    for stem in [s.stem for s in steps] if steps else list(_plan.STEPS):  # no notebooks found: every declared step
        if stem in _plan.STEPS:
            try:
                _step_config(config, stem)
                planned.append(stem)
            except ParameterError as exc:
                pf.problems.append(str(exc))
    pf.problems += _check_metric(config, planned, loaded.win)
    pf.problems += _check_column_parameters(config, steps, loaded.win)
    for stem in planned:
        scfg = _step_config(config, stem)
        tables = loaded.win if scfg is config else loaded.window(scfg.window.start, scfg.window.end)
        try:
            pf.rows += _plan.plan(tables, scfg, steps=[stem])
        except Exception as exc:  # a declaration that cannot be evaluated must not hide the rest
            pf.warnings.append(f"{stem}: the section declarations could not be evaluated "
                               f"({type(exc).__name__}: {exc})")
    return pf


def check(config: RunConfig, steps: list[Step]) -> Preflight:
    """:func:`inspect`, raising before any kernel starts when the run cannot succeed.

    Raises
    ------
    ParameterError
        A step parameter is unknown (or names a column the data lacks).
    PreflightFailed
        A data problem (see the module's exit-code table; code 3).
    cxlab.errors.SourceError
        A source cannot be read.
    """
    pf = inspect(config, steps)
    if pf.problems:
        raise PreflightFailed(pf)
    return pf


def validate_command(config_path, notebooks_dir=None, *, out=None, err=None) -> int:
    """Body of ``cxlab validate CONFIG``: the accounting, the plan and the checks; returns the exit code.

    Parameters
    ----------
    config_path : path-like
        The run config YAML (``""`` = the embedded sample).
    notebooks_dir : path-like, optional
        The step notebooks whose parameters are checked (default ``notebooks/``).

    Returns
    -------
    int
        0 ok, 1 a source cannot be read, 2 the config is invalid, 3 the data
        or a parameter does not fit (see the module docstring).

    Examples
    --------
    >>> validate_command("my_config.yaml")  # doctest: +SKIP
    0
    """
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        config = load_config(config_path or None)
    except ConfigError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_CONFIG
    note = None
    try:
        steps = discover(notebooks_dir)
    except FileNotFoundError as exc:
        if notebooks_dir is not None:
            print(f"error: {exc}", file=err)
            return EXIT_CONFIG
        steps, note = [], f"{exc}: step parameters not checked; the plan covers every declared step"
    except ConfigError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_CONFIG
    try:
        pf = inspect(config, steps, materialise=False)
    except (SourceError, OSError) as exc:
        print(f"error: {exc}", file=err)
        return EXIT_SOURCE
    print(f"cxlab validate: {config_path or 'embedded sample'} (time zone {config.timezone}, "
          f"window {config.window.start}..{config.window.end}, cx_metric {config.cx_metric})", file=out)
    print(file=out)
    if note:
        pf.warnings.insert(0, note)
    print(pf.report(), file=out)
    if config.quarantine_dir:
        print(f"\nQuarantine files: {config.resolve(config.quarantine_dir)}", file=out)
    if pf.problems:
        print(f"error: the run would stop: {len(pf.problems)} problem(s), see above (exit {EXIT_DATA})", file=err)
    return pf.exit_code

