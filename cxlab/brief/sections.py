"""The leadership brief: read what the steps recorded, compare with the last run.

Notebook 07 never recomputes a statistic: every number it shows comes from
the results the step notebooks recorded in the run folder
(:mod:`cxlab.results`). This module turns those records into the brief's
tables and finds what changed since the previous good run of the same name.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import pandas as pd

from ._core import _num

__all__ = [
    "previous_run",
    "run_status",
    "headline_changes",
    "privacy_scan",
    "flatten_headlines",
    "brief_headline",
    "weekly_trend",
    "caveats",
]


def previous_run(run_dir: str | os.PathLike) -> Path | None:
    """The newest earlier *successful* run of the same name, or None.

    Runs are sibling folders of ``run_dir`` whose names sort by time; a run
    counts as successful when its ``manifest.json`` says ``"status": "ok"``.
    """
    run_dir = Path(run_dir).resolve()
    parent = run_dir.parent
    if not parent.is_dir():
        return None
    earlier = sorted(
        p for p in parent.iterdir()
        if p.is_dir() and not p.is_symlink() and p.name < run_dir.name and p.name != "latest"
    )
    for cand in reversed(earlier):
        man = cand / "manifest.json"
        if man.is_file():
            try:
                if run_status(json.loads(man.read_text())) == "ok":
                    return cand
            except json.JSONDecodeError:
                continue
    return None


def run_status(manifest: dict) -> str | None:
    """A run's status from its manifest (``run.status``; ``status`` in older manifests)."""
    return (manifest.get("run") or {}).get("status") or manifest.get("status")


def flatten_headlines(results: dict) -> pd.DataFrame:
    """Every recorded headline with an uncertainty, as one tidy table.

    A headline is any recorded value that is a mapping with ``value`` and
    either ``ci_low``/``ci_high`` or ``moe`` (found at any depth of a step's
    results).

    Returns
    -------
    DataFrame
        ``step``, ``key`` (dotted path), ``value``, ``ci_low``, ``ci_high``,
        ``moe`` (half-width: given, or half the CI width), sorted.
    """
    rows = []

    def walk(step, prefix, obj):
        if isinstance(obj, dict):
            if "value" in obj and ("moe" in obj or ("ci_low" in obj and "ci_high" in obj)):
                v = _num(obj.get("value"))
                lo, hi = _num(obj.get("ci_low")), _num(obj.get("ci_high"))
                moe = _num(obj.get("moe"))
                if math.isnan(moe) and not (math.isnan(lo) or math.isnan(hi)):
                    moe = (hi - lo) / 2
                rows.append({"step": step, "key": prefix, "value": v, "ci_low": lo, "ci_high": hi, "moe": moe})
                return
            for k, v in obj.items():
                walk(step, f"{prefix}.{k}" if prefix else str(k), v)

    for step, rec in sorted(results.items()):
        walk(step, "", rec)
    cols = ["step", "key", "value", "ci_low", "ci_high", "moe"]
    return pd.DataFrame(rows, columns=cols).sort_values(["step", "key"]).reset_index(drop=True)


def headline_changes(current: dict, previous: dict | None) -> pd.DataFrame:
    """Which headline numbers moved beyond their margin of error since the last run.

    Parameters
    ----------
    current, previous : dict
        ``{step: results}`` as returned by :func:`cxlab.results.load`.

    Returns
    -------
    DataFrame
        ``step``, ``key``, ``previous``, ``current``, ``change``,
        ``margin`` = √(moe_prev² + moe_cur²), ``moved`` (|change| > margin),
        sorted with the moved ones first.

    Notes
    -----
    Treating the two runs' estimates as independent, the 95% margin of their
    difference is the root sum of squares of the two margins. Overlapping
    windows make the estimates positively correlated, so this margin is
    conservative (it flags fewer changes). Headlines absent from either run
    are listed with ``moved`` = False.

    Examples
    --------
    >>> cur = {"01": {"headline": {"value": 80.0, "moe": 2.0}}}
    >>> prev = {"01": {"headline": {"value": 75.0, "moe": 2.0}}}
    >>> headline_changes(cur, prev)[["key", "change", "moved"]].to_dict("records")
    [{'key': 'headline', 'change': 5.0, 'moved': True}]
    """
    cur = flatten_headlines(current)
    cols = ["step", "key", "previous", "current", "change", "margin", "moved"]
    if previous is None:
        out = cur.rename(columns={"value": "current"})
        out["previous"] = float("nan")
        out["change"] = float("nan")
        out["margin"] = float("nan")
        out["moved"] = False
        return out[cols]
    prev = flatten_headlines(previous)
    m = cur.merge(prev, on=["step", "key"], how="outer", suffixes=("_cur", "_prev"))
    m["current"] = m["value_cur"]
    m["previous"] = m["value_prev"]
    m["change"] = m["current"] - m["previous"]
    m["margin"] = (m["moe_cur"] ** 2 + m["moe_prev"] ** 2) ** 0.5
    m["moved"] = (m["change"].abs() > m["margin"]).fillna(False).astype(bool)
    m = m.sort_values(["moved", "step", "key"], ascending=[False, True, True])
    return m[cols].reset_index(drop=True)


def privacy_scan(folder: str | os.PathLike, needles, *, pattern: str = "*.html") -> pd.DataFrame:
    """Find any of ``needles`` (customer ids, comments, secrets) in files of a folder.

    Returns
    -------
    DataFrame
        ``file`` and ``needle`` for each hit (empty when clean). Matching is
        on whole tokens, so id ``C1`` does not match ``C10``.
    """
    wanted = {str(n) for n in needles if str(n)}
    rows = []
    token = re.compile(r"[A-Za-z0-9_-]+")
    for path in sorted(Path(folder).rglob(pattern)):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        found = set(token.findall(text)) & wanted
        # needles containing other characters (e.g. a password) are searched as substrings
        found |= {n for n in wanted if not token.fullmatch(n) and n in text}
        rows.extend({"file": str(path), "needle": hit} for hit in sorted(found))
    return pd.DataFrame(rows, columns=["file", "needle"])


# ------------------------------------------------------------ brief sections
# Each helper reads only what the steps recorded (``cxlab.results.load``) and
# returns a small frame or sentence; a section whose step did not record its
# result says so instead of failing, so a partial run still gets a brief.
# The brief's story (summary, levers, verdict, what changed) is in
# :mod:`cxlab.brief.compose`.

def _get(results: dict, step_prefix: str, key: str, default=None):
    for step, rec in results.items():
        if step.startswith(step_prefix) and isinstance(rec, dict) and key in rec:
            return rec[key]
    return default


def brief_headline(results: dict) -> dict:
    """The CX metric's headline with its CI and the sentence the brief opens with.

    Returns
    -------
    dict
        ``metric``, ``label``, ``value``, ``ci_low``, ``ci_high``, ``n``,
        ``response_rate``, ``sentence`` (empty values when step 1 did not record).
    """
    meta = _get(results, "01", "metric", {}) or {}
    head = _get(results, "01", "headline", {}) or {}
    metric = meta.get("metric", "csat")
    scale = meta.get("scale", "")
    label = {"csat": "CSAT % top-2-box" if scale == "top2" else "CSAT mean",
             "nps": "NPS (points)", "ces": "CES mean" if scale != "agree" else "CES % agree"}.get(metric, metric)
    out = {"metric": metric, "label": label, **{k: head.get(k) for k in ("value", "ci_low", "ci_high", "n", "response_rate")}}
    if head.get("value") is None:
        out["sentence"] = "Step 1 recorded no headline in this run."
        return out
    rr = head.get("response_rate")
    rr_txt = f" from {int(head['n']):,} responses" + (f" ({rr:.1%} of handled contacts answered)" if rr else "")
    ci = "" if head.get("ci_low") is None else f" (95% CI {head['ci_low']:.1f} to {head['ci_high']:.1f})"
    out["sentence"] = f"**{label}: {head['value']:.1f}**{ci}{rr_txt}."
    return out


def weekly_trend(results: dict) -> pd.DataFrame:
    """Step 1's weekly trend as recorded (``week``, ``n``, ``value``, ``ci_low``, ``ci_high``, ``reliable``)."""
    rows = _get(results, "01", "weekly", []) or []
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df["week"] = pd.to_datetime(df["week"])
    return df.sort_values("week").reset_index(drop=True)


def caveats(results: dict) -> list[str]:
    """Computed caveats: what a reader must know before acting on the numbers (human numbers, :mod:`cxlab.fmt`)."""
    from .. import fmt
    out = []
    from .compose import nonresponse_caveat

    nr = nonresponse_caveat(results)
    if nr:
        out.append(nr)
    weekly = weekly_trend(results)
    if not weekly.empty and "reliable" in weekly:
        bad = int((~weekly["reliable"].astype(bool)).sum())
        if bad:
            out.append(f"{bad} of {len(weekly)} weeks have too few responses for a margin of error; "
                       "their points carry no interval.")
    sens = pd.DataFrame(_get(results, "02", "sensitivity", []) or [])
    if not sens.empty and "service_level_pct" in sens:
        lo, hi = sens["service_level_pct"].min(), sens["service_level_pct"].max()
        out.append(f"Service level ranges from {fmt.pct(lo)} to {fmt.pct(hi)} across the definitions tried; "
                   "the definition used is listed below.")
    checks = pd.DataFrame(_get(results, "06", "pilot_checks", []) or [])
    if not checks.empty and "passes" in checks and (checks["passes"] == False).any():  # noqa: E712
        failed = checks.loc[checks["passes"] == False]  # noqa: E712
        out.append("Pilot checks that did not pass: " + "; ".join(
            f"{c} on {fmt.label(o)}" for c, o in zip(failed["check"], failed["outcome"])) + ".")
    out.append("Driver importances and what-ifs are associations from observational data; "
               "only the pilot readout (step 6) tests causation.")
    return out
