"""What each step needs from the data, declared once: the run plan.

Every section of a step notebook that needs a table, a column, variation in
a column or CX responses in the window is declared here as a
:class:`Section` (one module per step: ``step01`` … ``step07``). The same
declaration serves twice:

* inside the notebook, ``if ctx.needs("segments"):`` runs the section or
  prints a one-line note saying what is missing and what the section would
  add, and records the skip (``skipped`` in the step's results, which the
  brief lists);
* before any kernel starts, ``cxlab validate`` and ``cxlab run`` evaluate
  every declaration against the loaded, windowed tables and print the plan:
  per step, what will run and what will be skipped, and why (:func:`plan`).

A check that only the computation can make (e.g. too few responses per
segment after a filter) raises :class:`cxlab.errors.NotEnoughData` inside
``with ctx.guard("key"):``, which turns it into the same note.

This module imports only :mod:`cxlab.schema` and :mod:`cxlab.errors`
(pandas lazily); the step modules import nothing from the step packages.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import CxlabError

__all__ = ["Section", "missing", "sections", "section", "plan", "STEPS", "PlanRow", "note_text"]

#: Step notebook stems with a declaration module (``cxlab.plan.stepNN``).
STEPS = (
    "01_cx_metric", "02_operational_kpis", "03_other_sources", "04_correlate",
    "05_focus", "06_validate", "07_brief",
)


@dataclass(frozen=True)
class Section:
    """One section of a step notebook and what it needs.

    Parameters
    ----------
    key : str
        Short identifier, unique within the step (``ctx.needs(key)``).
    title : str
        The section's heading as the report shows it.
    adds : str
        What the section would add, completing "With it, this section would
        …" (e.g. ``"compare CX across queues and channels"``).
    tables : tuple of str
        Canonical tables that must have at least one row in the window.
    columns : mapping of str to tuple of str
        Columns that must be present with at least one non-null value.
    varies : mapping of str to tuple of str
        Columns that must take at least two distinct non-null values.
    cx : bool
        Needs survey responses with the run's ``cx_metric`` in the window.
    min_rows : mapping of str to int
        Minimum rows in the window per table.
    check : callable, optional
        ``check(tables, config) -> str | None``: an extra rule; returns what
        is missing (a phrase) or None.
    after : tuple of str
        Keys of sections of the same step this one builds on; it is skipped
        when any of them is.
    """

    key: str
    title: str
    adds: str
    tables: tuple = ()
    columns: Mapping[str, tuple] = field(default_factory=dict)
    varies: Mapping[str, tuple] = field(default_factory=dict)
    cx: bool = False
    min_rows: Mapping[str, int] = field(default_factory=dict)
    check: Callable[[Mapping[str, Any], Any], str | None] | None = None
    after: tuple = ()


def _module(step: str):
    if step not in STEPS:
        raise CxlabError(f"no section declarations for step {step!r}; expected one of {list(STEPS)}")
    return importlib.import_module(f"{__name__}.step{step[:2]}")


def sections(step: str) -> dict[str, Section]:
    """The declared sections of a step, by key, in notebook order."""
    return {s.key: s for s in _module(step).SECTIONS}


def section(step: str, key: str) -> Section:
    """One declared section (a clear error naming the step's keys if unknown)."""
    secs = sections(step)
    if key not in secs:
        from ..errors import suggest

        raise CxlabError(f"step {step} declares no section {key!r}{suggest(key, secs)}; declared: {sorted(secs)}")
    return secs[key]


def _nonnull(df, col) -> Any:
    return df[col].dropna()


def _column_gaps(tables: Mapping[str, Any], wanted: Mapping[str, Any], absent: set, *, varies: bool) -> list[str]:
    """Phrases for the ``wanted`` columns (table -> columns) of the tables not ``absent``.

    A column is *not mapped* (not in the table), *empty* (all null) or, with
    ``varies``, has *a single value* (a comparison across it has nothing to compare).
    """
    out: list[str] = []
    for name, cols in wanted.items():
        if name in absent:
            continue
        df = tables[name]
        for col in cols:
            if col not in df.columns:
                out.append(f"column {col!r} of {name} is not mapped")
                continue
            vals = _nonnull(df, col)
            if vals.empty:
                out.append(f"column {col!r} of {name} is empty")
            elif varies and len(vals.unique()) == 1:
                out.append(f"column {col!r} of {name} has a single value ({str(vals.unique()[0])!r})")
    return out


def missing(sec: Section, tables: Mapping[str, Any], config: Any = None) -> list[str]:
    """What a section lacks on these (windowed) tables, as short phrases; [] = it can run.

    Parameters
    ----------
    sec : Section
    tables : mapping of str to DataFrame
        Canonical tables cut to the analysis window (absent tables may be
        missing from the mapping or empty).
    config : RunConfig, optional
        The run config (``cx_metric``, window); needed when ``sec.cx`` is set
        or the section has a ``check``.

    Returns
    -------
    list of str

    Examples
    --------
    >>> import pandas as pd
    >>> s = Section("q", "By queue", "compare queues", tables=("interactions",),
    ...             varies={"interactions": ("queue",)})
    >>> missing(s, {"interactions": pd.DataFrame({"queue": ["a", "a"]})})
    ["column 'queue' of interactions has a single value ('a')"]
    >>> missing(s, {})
    ['no interactions table in the window']
    """
    out: list[str] = []
    need_tables = list(dict.fromkeys([*sec.tables, *sec.columns, *sec.varies, *sec.min_rows]))
    if sec.cx:
        need_tables = list(dict.fromkeys([*need_tables, "surveys"]))
    absent = set()
    for name in need_tables:
        df = tables.get(name)
        if df is None or len(df) == 0:
            out.append(f"no {name} table in the window" if df is None or name not in tables
                       else f"no {name} rows in the window")
            absent.add(name)
    out += _column_gaps(tables, sec.columns, absent, varies=False)
    out += _column_gaps(tables, sec.varies, absent, varies=True)
    for name, n in sec.min_rows.items():
        if name in absent:
            continue
        if len(tables[name]) < n:
            out.append(f"{name} has {len(tables[name]):,} rows in the window (needs at least {n:,})")
    if sec.cx and "surveys" not in absent:
        metric = getattr(config, "cx_metric", None) or "csat"
        df = tables["surveys"]
        if metric not in df.columns or _nonnull(df, metric).empty:
            out.append(f"no {metric.upper()} response in the window")
    if sec.check is not None and not out:
        extra = sec.check(tables, config)
        if extra:
            out.append(extra)
    return out


def note_text(sec: Section, reasons: list[str]) -> str:
    """The one-line skip note: what is missing and what the section would add.

    Examples
    --------
    >>> s = Section("q", "By queue", "compare CX across queues")
    >>> note_text(s, ["no surveys table in the window"])
    '**Skipped — By queue:** no surveys table in the window. With it, this section would compare CX across queues.'
    """
    return f"**Skipped — {sec.title}:** {'; '.join(reasons)}. With it, this section would {sec.adds}."


@dataclass(frozen=True)
class PlanRow:
    """One line of the run plan."""

    step: str
    key: str
    title: str
    runs: bool
    reason: str


def plan(tables: Mapping[str, Any], config: Any = None, steps=STEPS) -> list[PlanRow]:
    """Evaluate every declared section against the windowed tables.

    A section whose ``after`` names a skipped section is skipped too.

    Returns
    -------
    list of PlanRow
        In step and notebook order.
    """
    rows: list[PlanRow] = []
    for step in steps:
        skipped: set[str] = set()
        secs = sections(step)
        for key, sec in secs.items():
            reasons = missing(sec, tables, config)
            dep = [a for a in sec.after if a in skipped]
            if dep and not reasons:
                titles = ", ".join(secs[a].title if a in secs else a for a in dep)
                reasons = [f"it builds on {titles}, which is skipped"]
            if reasons:
                skipped.add(key)
            rows.append(PlanRow(step, key, sec.title, not reasons, "; ".join(reasons)))
    return rows
