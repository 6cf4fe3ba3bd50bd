"""Is this run consistent, and what changed since the last one: parameters across steps, previous vs now.

Every step records the parameters that produced its results
(:func:`cxlab.nb.run_params`); :func:`consistency_warnings` compares them
across the steps of one run, :func:`changes_table` compares two runs.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd

from .. import fmt
from ._core import RESULT_DEPENDS, STEP_NAMES, _and, _cap, _finite, _get, _num, metric_view
from .compose import levers, verdict_view

__all__ = ["consistency_warnings", "changes_table", "load_results", "run_date"]


def _params(results: dict) -> dict:
    return {s: r["params"] for s, r in results.items() if isinstance(r, dict) and isinstance(r.get("params"), dict)}


def _ts(s):
    try:
        return dt.datetime.fromisoformat(str(s).replace("Z", "+00:00"))
    except ValueError:
        return None


def consistency_warnings(results: dict, *, depends: dict | None = None, ignore=("07_brief",)) -> list[str]:
    """Warnings when steps disagree on metric, window or definitions, or a step is older than its input.

    Parameters
    ----------
    results : dict
        ``{step: results}``; each step's ``params`` record (:func:`cxlab.nb.run_params`).
    depends : dict, optional
        Step → steps whose results it is computed from (default
        :data:`RESULT_DEPENDS`).
    ignore : tuple of str
        Steps left out of the comparison (the brief itself).

    Returns
    -------
    list of str
        One sentence per disagreement (empty when the run is consistent).

    Examples
    --------
    >>> p = {"cx_metric": "csat", "window_start": "2025-01-01", "window_end": "2025-12-31", "definitions": {}}
    >>> res = {"01_cx_metric": {"params": p}, "04_correlate": {"params": {**p, "cx_metric": "nps"}},
    ...        "05_focus": {"params": p}}
    >>> consistency_warnings(res)
    ['Steps disagree on the CX metric: step 4 (correlations) used NPS while step 1 (CX metric) and step 5 (focus) used CSAT; numbers from different metrics are mixed on this page — re-run the whole run with one metric.']
    """
    depends = RESULT_DEPENDS if depends is None else depends
    params = {s: p for s, p in _params(results).items() if s not in ignore}
    out = []
    checks = [("the CX metric", lambda p: str(p.get("cx_metric", "")).upper() or None,
               "numbers from different metrics are mixed on this page — re-run the whole run with one metric"),
              ("the analysis window", lambda p: (fmt.window(p["window_start"], p["window_end"])
                                                 if p.get("window_start") else None),
               "their numbers cover different periods — re-run the whole run with one window"),
              ("the KPI definitions", lambda p: _defs_text(p.get("definitions")),
               "their KPIs are not computed the same way")]
    for what, key, consequence in checks:
        groups: dict[Any, list[str]] = {}
        for s, p in sorted(params.items()):
            k = key(p)
            if k is not None:
                groups.setdefault(k, []).append(s)
        if len(groups) > 1:
            ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[1]))
            majority = ordered[0]
            others = "; ".join(f"{_and([STEP_NAMES.get(s, s) for s in steps])} used {k}" for k, steps in ordered[1:])
            out.append(f"Steps disagree on {what}: {others} while "
                       f"{_and([STEP_NAMES.get(s, s) for s in majority[1]])} used {majority[0]}; {consequence}.")
    for step, deps in depends.items():
        if step not in params:
            continue
        t = _ts(params[step].get("recorded_at"))
        for d in deps:
            td = _ts((params.get(d) or {}).get("recorded_at"))
            if t and td and td > t:
                out.append(f"{_cap(STEP_NAMES.get(step, step))} is older than {STEP_NAMES.get(d, d)}, which "
                           f"it is computed from (recorded {_when(t)} vs {_when(td)}): re-run {STEP_NAMES.get(step, step)}.")
    return out


def _defs_text(d) -> str | None:
    if not isinstance(d, dict) or not d:
        return None
    return ", ".join(f"{k}={v}" for k, v in sorted(d.items()))


def _when(t: dt.datetime) -> str:
    return f"{fmt.date(t)} {t:%H:%M} UTC"


def _arrow(change: float, margin: float) -> str:
    if not math.isfinite(change) or change == 0:
        return "→"
    return "↑" if change > 0 else "↓"


def changes_table(current: dict, previous: dict | None, *, currency: str = "USD") -> tuple[pd.DataFrame, list[str]]:
    """Previous vs now: headline, top levers, pilot effect, verdict — with arrows and beyond-noise marks.

    Parameters
    ----------
    current, previous : dict
        ``{step: results}`` of this run and of the previous good run (None: first run).

    Returns
    -------
    (DataFrame, list of str)
        Rows ``what``, ``previous``, ``now``, ``change`` (arrow and amount,
        "beyond noise" when it exceeds the combined margin), and warnings
        when the two runs differ in window, metric or definitions.

    Notes
    -----
    A change is beyond noise when |now − previous| > √(moe_prev² + moe_now²),
    each margin being half its 95% interval (independent estimates; runs over
    overlapping windows are positively correlated, so this is conservative).
    """
    cols = ["what", "previous", "now", "change"]
    if previous is None:
        return pd.DataFrame(columns=cols), []
    rows = []

    def moe(lo, hi):
        return (_num(hi) - _num(lo)) / 2 if _finite(lo, hi) else float("nan")

    def add(what, p, n, level, unit_fmt):
        pv, plo, phi = p
        nv, nlo, nhi = n
        if not (_finite(pv) or _finite(nv)):
            return
        ch = _num(nv) - _num(pv)
        margin = math.hypot(moe(plo, phi), moe(nlo, nhi))
        beyond = math.isfinite(ch) and math.isfinite(margin) and abs(ch) > margin
        change = "—" if not math.isfinite(ch) else f"{_arrow(ch, margin)} {unit_fmt(ch)}" + (
            " · beyond noise" if beyond else " · within noise" if math.isfinite(margin) else "")
        rows.append({"what": what, "previous": level(pv, plo, phi), "now": level(nv, nlo, nhi), "change": change})

    m = metric_view(current)
    h_now = _get(current, "01", "headline") or {}
    h_prev = _get(previous, "01", "headline") or {}
    def lvl(v, lo, hi):
        return ("—" if not _finite(v) else f"{m['level'](v)} {fmt.ci(lo, hi, m['bound'])}".strip())
    add(f"{m['short']} headline", (h_prev.get("value"), h_prev.get("ci_low"), h_prev.get("ci_high")),
        (h_now.get("value"), h_now.get("ci_low"), h_now.get("ci_high")), lvl, lambda c: fmt.signed(c, 1) + " points")
    lv_now, lv_prev = levers(current), levers(previous)
    top_now = [x["label"] for x in lv_now["levers"]] or (["no lever found"] if lv_now["recorded"] else [])
    top_prev = [x["label"] for x in lv_prev["levers"]] or (["no lever found"] if lv_prev["recorded"] else [])
    if top_now or top_prev:
        rows.append({"what": "top levers", "previous": ", ".join(top_prev) or "—", "now": ", ".join(top_now) or "—",
                     "change": "same" if top_now == top_prev else "changed"})
    v_now, v_prev = verdict_view(current), verdict_view(previous)

    def eff(res):
        v = _get(res, "06", "verdict") or {}
        return (v.get("effect", v.get("observed")), v.get("ci_low", v.get("observed_ci_low")),
                v.get("ci_high", v.get("observed_ci_high")))

    def plvl(v, lo, hi):
        return ("—" if not _finite(v) else
                f"{fmt.signed(v, 1)} {fmt.ci(lo, hi, lambda x: fmt.signed(x, 1))}".strip())
    add(f"pilot effect on {m['short']}", eff(previous), eff(current), plvl, lambda c: fmt.signed(c, 1) + " points")
    if v_now["recorded"] or v_prev["recorded"]:
        rows.append({"what": "pilot verdict", "previous": v_prev["label"], "now": v_now["label"],
                     "change": "same" if v_now["label"] == v_prev["label"] else "changed"})
    warns = []
    p_now, p_prev = _get(current, "01", "params") or {}, _get(previous, "01", "params") or {}
    if p_now and p_prev:
        if (p_now.get("window_start"), p_now.get("window_end")) != (p_prev.get("window_start"), p_prev.get("window_end")):
            warns.append(f"The two runs cover different windows ({fmt.window(p_prev.get('window_start'), p_prev.get('window_end'))} "
                         f"then {fmt.window(p_now.get('window_start'), p_now.get('window_end'))}): part of any change is the "
                         "different period.")
        if p_now.get("cx_metric") != p_prev.get("cx_metric"):
            warns.append(f"The two runs use different CX metrics ({str(p_prev.get('cx_metric')).upper()} then "
                         f"{str(p_now.get('cx_metric')).upper()}): their headlines are not comparable.")
        if _defs_text(p_now.get("definitions")) != _defs_text(p_prev.get("definitions")):
            a, b = p_prev.get("definitions") or {}, p_now.get("definitions") or {}
            diff = [f"{k} {a.get(k)} → {b.get(k)}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
            warns.append("The two runs use different KPI definitions (" + "; ".join(diff) + ").")
    return pd.DataFrame(rows, columns=cols), warns


def load_results(run_dir) -> dict:
    """All recorded results of a run folder (``{}`` when it has none)."""
    from .. import results as _results

    return _results.load(run_dir)


def run_date(run_dir) -> str:
    """A run's start as a human date (from its manifest; else its folder name)."""
    import json
    from pathlib import Path

    man = Path(run_dir) / "manifest.json"
    started = None
    if man.is_file():
        try:
            data = json.loads(man.read_text())
            started = (data.get("run") or {}).get("started_at") or data.get("started_at")
        except json.JSONDecodeError:
            started = None
    if started:
        t = _ts(started)
        return f"{fmt.date(t)}, {t:%H:%M} UTC" if t else str(started)
    return Path(run_dir).name
