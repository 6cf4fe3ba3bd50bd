"""What every part of the brief shares: reading recorded results defensively, the CX metric as a reader sees it.

Records are ``{step: results}`` from :func:`cxlab.results.load`; a step that
recorded nothing, or an older shape of a record, reads as empty — never as a
number derived silently. Every module of :mod:`cxlab.brief` reads results
with ``_get(results, "NN", "key")`` (``tests/test_results_contract.py``
parses those calls).
"""

from __future__ import annotations

import math

from .. import fmt

__all__ = ["CONTEXT_VARIABLES", "RESULT_DEPENDS", "STEP_NAMES", "metric_view", "cx_points"]

#: Variables that describe the contact's context, not something the center can move: when step 5 does not
#: record which drivers are controls, these are treated as controls (never listed as levers).
CONTEXT_VARIABLES = frozenset({"contact_reason", "channel", "queue", "site", "segment", "direction", "team"})

#: Which step's results another step's results are computed from (``06`` reads ``05``'s what-if; the brief
#: reads all). A step recorded before one it depends on is stale.
RESULT_DEPENDS: dict[str, tuple[str, ...]] = {"06_validate": ("05_focus",)}

STEP_NAMES = {"01_cx_metric": "step 1 (CX metric)", "02_operational_kpis": "step 2 (operational KPIs)",
              "03_other_sources": "step 3 (other sources)", "04_correlate": "step 4 (correlations)",
              "05_focus": "step 5 (focus)", "06_validate": "step 6 (validation)", "07_brief": "the brief"}


def _step(results: dict, prefix: str) -> dict:
    for step, rec in results.items():
        if str(step).startswith(prefix) and isinstance(rec, dict):
            return rec
    return {}


def _get(results: dict, prefix: str, key: str, default=None):
    """One recorded result: step ``prefix``'s ``key`` (``tests/test_results_contract.py`` parses these calls)."""
    return _step(results, prefix).get(key, default)


def _num(v) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return float("nan")
    return x


def _finite(*vals) -> bool:
    return all(math.isfinite(_num(v)) for v in vals)


# ------------------------------------------------------------------ metric
def metric_view(results: dict) -> dict:
    """The CX metric as a reader sees it: name, how its level and its changes print.

    Returns
    -------
    dict
        ``metric`` (csat | nps | ces), ``name`` ("CSAT top-2-box"), ``short``
        ("CSAT"), ``level`` (callable: value → text, e.g. ``76.9%``),
        ``unit`` (of a change: "points", "points on the 1–7 scale").
    """
    meta = _get(results, "01", "metric") or {}
    params = _get(results, "01", "params") or {}
    metric = meta.get("metric") or params.get("cx_metric") or "csat"
    scale = meta.get("scale", "")
    short = {"csat": "CSAT", "nps": "NPS", "ces": "CES"}.get(metric, str(metric).upper())
    if metric == "csat" and scale != "mean":
        return {"metric": metric, "short": short, "name": "CSAT top-2-box (share of 4–5 answers)",
                "level": lambda v: fmt.pct(v, digits=1), "bound": lambda v: fmt.number(v, 1), "unit": "points"}
    if metric == "nps":
        return {"metric": metric, "short": short, "name": "NPS (promoters − detractors, points)",
                "level": lambda v: fmt.signed(v, 1), "bound": lambda v: fmt.signed(v, 1), "unit": "points"}
    if metric == "ces" and scale == "agree":
        return {"metric": metric, "short": short, "name": "CES (share who found it easy)",
                "level": lambda v: fmt.pct(v, digits=1), "bound": lambda v: fmt.number(v, 1), "unit": "points"}
    lo, hi = {"csat": (1, 5), "ces": (1, 7)}.get(metric, ("", ""))
    return {"metric": metric, "short": short, "name": f"{short} mean ({lo}–{hi} scale)",
            "level": lambda v: fmt.number(v, 2), "bound": lambda v: fmt.number(v, 2),
            "unit": f"points on the {lo}–{hi} scale"}


def cx_points(results: dict, v, lo=None, hi=None) -> str:
    """A CX change in words with its interval: ``+1.9 CSAT points (1.9–2.0)``.

    Examples
    --------
    >>> cx_points({"01_cx_metric": {"metric": {"metric": "csat", "scale": "top2"}}}, 1.93, -0.31, 4.16)
    '+1.9 CSAT points (−0.3 to +4.2)'
    """
    m = metric_view(results)
    unit = m["unit"].replace("points", f"{m['short']} points", 1)
    digits = 1 if abs(_num(v)) >= 0.095 or not _finite(v) else 2
    while _finite(lo, hi) and digits < 3 and round(_num(lo), digits) == round(_num(hi), digits) != 0:
        digits += 1  # enough decimals that the interval's ends differ
    out = fmt.signed(v, digits, f" {unit}")
    if _finite(lo, hi):
        out += " " + fmt.ci(lo, hi, lambda x: fmt.signed(x, digits) if float(lo) < 0 else fmt.number(x, digits))
    return out


def _cap(s: str) -> str:
    """First letter upper-cased, the rest untouched ("step 1 (CX metric)" → "Step 1 (CX metric)")."""
    return s[:1].upper() + s[1:]


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
