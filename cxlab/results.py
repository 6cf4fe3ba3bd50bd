"""Step results: small JSON records that notebooks leave for each other.

Each notebook records the few numbers and tables the brief needs with
:func:`record`; notebook 07 (and the run manifest) read them back with
:func:`load` instead of recomputing. A run keeps them in
``<run_dir>/results/<step>.json``, one file per step, so steps running in
parallel never write the same file.

When a notebook runs outside a run (JupyterLab, nbval) its ``run_dir`` is
``""`` and results go to :func:`scratch_run_dir`, so the brief can still
read what 01-06 recorded.

:data:`KEYS` is the contract between the steps and the brief: the keys
each step records, declared once. ``tests/test_results_contract.py`` checks
that every key a notebook records is declared here and that every key the
brief (``cxlab.brief``, ``notebooks/07_brief``) reads is declared for the
step that owns it.

This module sits below the brief in the import graph: it imports only
``cxlab.config``, ``cxlab.errors`` and ``cxlab._utils`` (numpy and pandas
lazily, if present).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import re
from pathlib import Path
from typing import Any

from ._utils import atomic_write_text
from .config import cache_dir
from .errors import (
    CxlabError,
    ResultsMissing,  # noqa: F401 (re-exported)
)

__all__ = ["record", "load", "scratch_run_dir", "to_jsonable", "ResultsMissing", "RESULTS_DIR", "KEYS", "FRAMEWORK_KEYS"]

RESULTS_DIR = "results"
_STEP_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

#: The keys each step records (``ctx.record(key, ...)`` in ``notebooks/<step>.ipynb``),
#: by step. The trend keys follow the notebook's ``trend_grain`` parameter
#: (step 1: ``weekly`` | ``day`` | ``month``; step 2: ``daily`` | ``weekly`` | ``monthly``).
#: Keys the notebook facade (:mod:`cxlab.nb`) records for every step: ``params``
#: (what produced the results: metric, window, definitions) and ``skipped`` (the
#: sections skipped for missing data, with the reason).
FRAMEWORK_KEYS = frozenset({"params", "skipped"})

KEYS: dict[str, frozenset[str]] = {
    "01_cx_metric": frozenset({
        "metric", "headline", "agreement", "nonresponse", "segments", "loyalty_auc",
        "recommended_metric", "daily", "weekly", "monthly",
    }),
    "02_operational_kpis": frozenset({
        "definitions", "headline", "by_queue", "sensitivity", "erlang", "what_if",
        "daily", "weekly", "monthly", "not_measured", "customer_ids",
    }),
    "03_other_sources": frozenset({"data_health", "coverage", "event_days", "frames"}),
    "04_correlate": frozenset({
        "candidates", "contact_correlations", "contact_logit", "period_correlations",
        "period_significant", "sign_disagreements", "lagged_best", "within_agent",
        "confounder", "hypotheses", "kpi_relations", "response_curves", "kpi_alignment",
    }),
    "05_focus": frozenset({
        "drivers", "top_drivers", "r2", "dominance", "quadrant", "focus", "what_if",
        "focus_effect", "agents_what_if", "value_of_change", "roles", "no_lever", "what_if_lead",
    }),
    "06_validate": frozenset({
        "holdout", "natural_experiments", "prediction", "pilot_checks", "pilot_effects",
        "verdict", "next_pilot_design", "next_pilot_plan", "pilot",
    }),
    "07_brief": frozenset({"brief"}),
}
KEYS = {step: keys | FRAMEWORK_KEYS for step, keys in KEYS.items()}


def scratch_run_dir() -> Path:
    """The run folder used when a notebook runs outside a run.

    ``cxlab.config.cache_dir() / "runs" / "scratch"``, created on demand.
    """
    path = cache_dir() / "runs" / "scratch"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _run_dir(run_dir) -> Path:
    if run_dir is None or str(run_dir) == "":
        return scratch_run_dir()
    return Path(run_dir)


def _results_file(run_dir, step: str) -> Path:
    step = str(step)
    if not _STEP_RE.match(step):
        raise ValueError(f"step must be a plain name such as '05_focus'; got {step!r}")
    return _run_dir(run_dir) / RESULTS_DIR / f"{step}.json"


def to_jsonable(value: Any) -> Any:
    """Convert ``value`` to plain JSON types.

    numpy scalars and arrays become Python numbers and lists; a pandas
    DataFrame becomes a list of records (one dict per row), a Series a dict,
    timestamps and dates ISO 8601 strings; NaN, NaT, ``pd.NA`` and infinities
    become ``None``; dataclasses become dicts; tuples and sets become lists.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> to_jsonable({"r": np.float64(0.5), "n": np.int64(3), "x": float("nan")})
    {'r': 0.5, 'n': 3, 'x': None}
    >>> to_jsonable(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    [{'a': 1, 'b': 'x'}, {'a': 2, 'b': 'y'}]
    """
    if value is None or type(value) in (bool, str):
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):  # also numpy.float64, a float subclass
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return [to_jsonable(v) for v in sorted(value, key=repr)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    if isinstance(value, (dt.datetime, dt.date, dt.time)):  # also pd.Timestamp (and pd.NaT -> "NaT")
        return value.isoformat()
    if isinstance(value, dt.timedelta):  # also pd.Timedelta
        return value.total_seconds()
    if isinstance(value, os.PathLike):
        return os.fspath(value)

    module = type(value).__module__.split(".")[0]
    if module == "numpy":
        import numpy as np

        if isinstance(value, np.ndarray):
            return [to_jsonable(v) for v in value.tolist()]
        if isinstance(value, np.generic):
            if isinstance(value, np.datetime64):
                return None if np.isnat(value) else str(value)
            return to_jsonable(value.item())
    if module == "pandas":
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            frame = value.reset_index() if _has_named_index(value) else value
            return [to_jsonable(row) for row in frame.to_dict(orient="records")]
        if isinstance(value, pd.Series):
            return {str(k): to_jsonable(v) for k, v in value.to_dict().items()}
        if value is pd.NaT or value is pd.NA:
            return None
        if isinstance(value, pd.Interval):
            return [to_jsonable(value.left), to_jsonable(value.right)]
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    raise TypeError(f"cannot record a value of type {type(value).__name__}; use numbers, text, lists, dicts or DataFrames")


def _has_named_index(frame) -> bool:
    return any(name is not None for name in frame.index.names)


def _write_json_atomic(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def record(run_dir, step: str, key: str, value: Any) -> Path:
    """Record one result of a step.

    Parameters
    ----------
    run_dir : path-like or str
        The run folder; ``""`` or ``None`` is :func:`scratch_run_dir`.
    step : str
        The step (notebook stem such as ``"05_focus"``); names the file.
    key : str
        The result's name inside the step; recording a key again replaces it.
    value : JSON-able, numpy or pandas value
        Converted with :func:`to_jsonable` (DataFrames become records).

    Returns
    -------
    pathlib.Path
        The step's results file, ``<run_dir>/results/<step>.json``; it is
        rewritten atomically (temporary file, then rename).

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = record(d, "05_focus", "top_driver", "wait_s")
    >>> load(d, "05_focus")
    {'top_driver': 'wait_s'}
    """
    if not isinstance(key, str) or not key:
        raise TypeError(f"key must be a non-empty str; got {key!r}")
    path = _results_file(run_dir, step)
    data = _read(path) if path.exists() else {}
    data[key] = to_jsonable(value)
    _write_json_atomic(path, data)
    return path


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CxlabError(f"results file {path} is not valid JSON: {exc}") from None


def load(run_dir, step: str | None = None) -> dict:
    """Read recorded results.

    Parameters
    ----------
    run_dir : path-like or str
        The run folder; ``""`` or ``None`` is :func:`scratch_run_dir`.
    step : str, optional
        One step's results (``{key: value}``); ``None`` returns every step's,
        ``{step: {key: value}}``, sorted by step.

    Raises
    ------
    ResultsMissing
        ``step`` recorded nothing in ``run_dir`` (the message names the folder).
    """
    if step is None:
        folder = _run_dir(run_dir) / RESULTS_DIR
        if not folder.is_dir():
            return {}
        return {p.stem: _read(p) for p in sorted(folder.glob("*.json"))}
    path = _results_file(run_dir, step)
    if not path.exists():
        raise ResultsMissing(
            f"no results recorded for step {step!r} in {path.parent.parent}; run that step's notebook first"
        )
    return _read(path)
