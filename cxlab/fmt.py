"""One formatting layer: human labels and human numbers for every report.

Recorded results keep machine names and machine units (``resolved`` is a
0/1 flag whose mean is a share, ``aht_s`` is seconds, revenue is a bare
number). Everything a reader sees goes through this module, so a quantity
has one label and one base everywhere:

* :data:`LABELS` — a human label for every canonical column
  (:mod:`cxlab.schema`), every operational KPI and every derived driver
  (``resolved`` → "first-contact resolution"); :func:`label` falls back to
  rules for names it does not know (``event_outage`` → "outage days").
* :func:`pct` — percentages with one base per quantity: a quantity named
  ``*_pct`` is stored on 0–100, a flag or rate (``resolved``,
  ``transferred``, ``is_repeat``) on 0–1; both print as ``9.9%``.
* :func:`duration` — seconds as m:ss (``554.5`` → ``9:15``).
* :func:`number` — thousands separators (``344,366``).
* :func:`money` — the config's currency, compact with its interval
  (``currency="USD"`` → ``$4.4M (3.8M–5.0M)``).
* :func:`value` / :func:`change` — dispatch on the quantity's name, so a
  caller never picks a unit by hand; :func:`frame` formats a whole table for
  :func:`cxlab.nb.show`.

This module imports only :mod:`cxlab.schema` (pandas lazily) and sits at the
bottom layer with :mod:`cxlab.config`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from .schema import TABLES

__all__ = [
    "LABELS", "FLAGS", "unlabelled_columns", "CURRENCY_SYMBOLS", "MINUS", "label", "is_missing", "number", "signed", "pct",
    "duration", "money", "ci", "p_value", "value", "change", "NAME_COLUMNS", "lever_phrase", "date", "window", "frame", "kind_of",
]

MINUS = "\u2212"
DASH = "\u2013"

#: Human labels: canonical columns, operational KPIs, derived drivers, result headers.
LABELS: dict[str, str] = {
    # interactions
    "interaction_id": "contact id", "customer_id": "customer id", "channel": "channel",
    "direction": "direction", "queue": "queue", "agent_id": "agent", "arrived_at": "arrived at",
    "wait_s": "wait time", "talk_s": "talk time", "hold_s": "hold time", "acw_s": "after-contact work",
    "abandoned": "abandoned", "transferred": "transfers", "contact_reason": "contact reason",
    "resolved": "first-contact resolution", "site": "site",
    # surveys
    "response_id": "response id", "responded_at": "responded at", "csat": "CSAT", "nps": "NPS",
    "ces": "customer effort (CES)", "resolved_self_report": "resolved (customer's view)",
    "comment": "comment",
    # agents, agent scores
    "hire_date": "hire date", "team": "team", "scored_at": "scored at", "metric": "metric",
    "value": "value",
    # events
    "event_id": "event id", "start": "start", "end": "end", "label": "event", "kind": "kind",
    # staffing
    "interval_start": "interval start", "interval_s": "interval length", "agents_staffed": "agents staffed",
    # customers, revenue, series
    "segment": "segment", "first_seen": "first seen", "churned_at": "churned at", "month": "month",
    "revenue": "revenue", "products_held": "products held", "products_offered": "products offered",
    "date": "date", "name": "name",
    # aggregates (centers that export per-period totals only)
    "period_start": "period start", "grain": "grain", "answered": "contacts answered",
    "fcr_rate": "first-contact resolution", "staffed_s": "staffed time", "csat_mean": "CSAT mean",
    "csat_top2": "CSAT top-2-box", "csat_n": "CSAT responses", "nps_points": "NPS", "nps_n": "NPS responses",
    "ces_mean": "CES mean", "ces_n": "CES responses",
    # operational KPIs (step 2)
    "offered": "contacts offered", "handled": "contacts handled", "short_abandoned": "short abandons",
    # a KPI and its column (``service_level`` and ``service_level_pct``) share one label
    **{key: text for kpi, unit, text in (
        ("service_level", "pct", "service level"), ("abandon_rate", "pct", "abandon rate"),
        ("asa", "s", "average speed of answer"), ("aht", "s", "average handle time"),
        ("fcr", "pct", "first-contact resolution (no repeat contact)"), ("transfer_rate", "pct", "transfer rate"),
        ("hold_rate", "pct", "hold rate"), ("occupancy", "pct", "occupancy"),
    ) for key in (kpi, f"{kpi}_{unit}")},
    "resolved_pct": "first-contact resolution",
    # derived contact / period drivers (steps 3-5)
    "handle_s": "handle time", "is_repeat": "repeat contacts", "tenure_days": "agent tenure",
    "qa_score": "quality score", "day_service_level_pct": "service level that day",
    "cx_value": "CX score", "reached_queue": "reached a queue",
    # result headers
    "estimate": "estimate", "effect": "effect", "ci_low": "low (95%)", "ci_high": "high (95%)",
    "p_val": "p-value", "p_adj": "p-value (adjusted)", "n": "responses", "n_clusters": "clusters",
    "share": "share of explained variation", "rank": "rank", "driver": "driver", "outcome": "outcome",
    "rows_read": "rows read", "rows_accepted": "rows accepted", "rows_quarantined": "rows quarantined",
    "table": "table", "definition": "definition", "options": "options",
    # analyst result headers of the step reports (steps 1-6)
    "x": "condition", "y": "compared with", "r": "correlation (r)", "p_hac": "p-value (Newey–West)",
    "n_eff": "effective n", "p_ac": "p-value (autocorrelation-adjusted)", "method": "method", "lag": "lag (periods)",
    "knee": "knee", "p_knee": "p-value (knee vs straight line)", "knee_real": "knee is real",
    "slope_below": "slope below the knee (per s)", "slope_above": "slope above the knee (per s)",
    "linear_slope": "straight-line slope (per s)", "configured": "configured",
    "recommended": "recommended", "score": "how closely it tracks CX (|r|)",
    "diff_vs_configured": "difference vs configured", "importance": "importance (part of R²)", "direct_ci_low": "direct effect (low)",
    "direct_ci_high": "direct effect (high)", "role": "role",
    "p_rank1": "P(ranked first)", "direct_effect": "direct effect (per SD)", "raw_effect": "raw effect (per SD)",
    "mostly_from_controls": "mostly from controls", "from_controls": "share from controls", "per_sd": "1 SD",
    "performance": "performance", "target": "target", "better": "better when", "quadrant": "quadrant",
    "p_high_importance": "P(important)", "p_below_target": "P(short of target)",
    "p_concentrate": "P(concentrate here)", "p_keep_up": "P(keep up the good work)",
    "p_low_priority": "P(low priority)", "p_overkill": "P(possible overkill)", "change": "change",
    "coef": "slope", "p_improves": "P(CX improves)", "level": "level", "n_b": "responses", "value_b": "value",
    "diff": "difference", "diff_vs_rest": "difference vs the rest", "significant": "significant",
    "odds_ratio": "odds ratio", "or_low": "odds ratio (low)", "or_high": "odds ratio (high)", "term": "condition",
    "priority": "priority", "covariate": "covariate", "smd": "standardized difference", "flag": "flagged",
    "auc": "AUC", "n_customers": "customers", "n_responses": "responses", "n_subjects": "agents",
    "r_rm": "correlation within agents", "r_pooled": "correlation, pooled", "r_between": "correlation between agents",
    "r_raw": "correlation, raw", "r_partial": "correlation, partial", "period_x": "period-grain KPI",
    "contact_x": "contact-grain condition", "r_period": "correlation across periods",
    "p_period": "p-value across periods", "r_contact": "correlation across contacts",
    "p_contact": "p-value across contacts", "p_cr1": "p-value (cluster-robust)", "inference": "inference",
    "se": "standard error", "moe": "margin of error", "small_n": "few responses", "reliable": "reliable",
    "erlang_band": "Erlang C expectation", "actual_service_level_pct": "actual service level",
    "service_level_erlang_a": "service level (Erlang A)", "p_abandon_erlang_a": "abandon probability (Erlang A)",
    "match_rate": "match rate", "match_rate_pct": "match rate", "matched": "matched", "unmatched": "unmatched",
    "unmatched_examples": "unmatched examples", "unmatched_keys": "unmatched keys", "missing_days": "missing days",
    "rows": "rows", "key": "key", "source": "source", "join": "join", "date_min": "first date",
    "date_max": "last date", "tests": "tests", "fdr_discoveries": "discoveries (FDR)", "family": "family",
    "episode": "episode", "n_periods": "periods", "driver_change": "driver change",
    "predicted": "predicted", "observed": "observed", "ratio": "observed ÷ predicted", "verdict": "verdict",
    "check": "check", "passes": "passes", "mde": "smallest detectable effect", "power_at_n": "power at the available n",
    "days": "days", "clusters_per_arm": "teams per arm", "n_per_arm": "per arm", "icc": "ICC",
    "design_effect": "design effect", "skill": "skill vs calendar", "rmse": "RMSE", "mae": "MAE",
    "p_equiv": "p-value (equivalence)", "margin": "margin", "equivalent": "equivalent",
    "p_greater": "P(greater)", "rank_low": "rank (low)", "rank_high": "rank (high)",
    "n_surveyed": "n (surveyed)", "n_reference": "n (reference group)", "mean_surveyed": "mean (surveyed)",
    "mean_reference": "mean (reference group)", "reference": "reference group", "n_churned": "churned",
    "churn_rate_pct": "churn rate", "metric_a": "metric", "metric_b": "against", "auc_a": "AUC", "auc_b": "AUC (against)",
    "p_boot": "p-value (bootstrap)", "z_delong": "z (DeLong)", "p_delong": "p-value (DeLong)", "item": "item",
    "band": "band", "mean_change": "mean change", "column": "column", "dtype": "type", "non_null_pct": "filled",
    "meaning": "meaning", "group": "group", "curve": "curve", "delta": "change (s)", "added_agents": "agents added",
    "agents": "agents", "sl_change_pts": "service level change (points)", "cx_change": "CX change",
    "cx_per_agent": "CX change per agent", "link": "link", "unit": "unit", "n_treated_clusters": "treated teams",
    "pre_treated": "treated, before", "post_treated": "treated, after", "pre_control": "control, before",
    "post_control": "control, after", "covers_prediction": "covers the prediction", "sd": "SD",
    "d": "effect size (d)", "alpha": "α", "cluster_size": "cluster size", "deff": "design effect",
    "n_effective": "effective n", "given_n": "available n", "top2": "top-2-box", "not_top2": "not top-2-box",
    "n_obs": "observations", "n_teams": "teams", "cx_top2": "top-2-box share", "promoter": "promoter share",
    "ces_agree": "share who found it easy", "agents_needed": "agents needed", "load_erlangs": "load (Erlangs)",
}

#: 0/1 flags: their means are shares (0–1) and print as percentages; a change of 0.05 is 5 points.
FLAGS = frozenset({"resolved", "transferred", "abandoned", "is_repeat", "resolved_self_report",
                   "reached_queue"})

#: Quantities that are money (in the config's currency).
_MONEY = frozenset({"revenue", "revenue_per_year", "revenue_retained_per_year", "revenue_change_per_year",
                    "annual_revenue_per_customer"})
#: p-values (printed ``<0.001`` below a thousandth, else 3 decimals).
_PVALUES = frozenset({"p", "p_val", "p_adj", "p_hac", "p_ac", "p_cr1", "p_knee", "p_equiv", "p_period", "p_contact",
                      "p_wild", "p_ri", "p_perm"})
#: 0-1 fractions that are not flags (printed as percentages).
_SHARES = frozenset({"service_level", "occupancy", "service_level_erlang_a", "p_abandon_erlang_a", "match_rate",
                     "from_controls", "power", "power_at_n", "response_rate"})
#: Seconds that are not named ``*_s``.
_DURATIONS = frozenset({"knee"})
#: Bounds of an interval print like their estimate (``share_ci_low`` like ``share``).
_BOUND = ("_ci_low", "_ci_high", "_low", "_high")
#: Columns whose cells are names of columns, KPIs or drivers (their values get labels too).
NAME_COLUMNS = frozenset({"x", "y", "driver", "other", "kpi", "term", "covariate", "period_x", "contact_x",
                          "outcome", "lever", "metric", "metric_a", "metric_b", "link"})
#: Quantities that are counts.
_COUNTS = frozenset({"rank", "delta", "days", "n_effective", "given_n", "cluster_size", "tests", "fdr_discoveries", "rows", "matched", "unmatched", "missing_days", "agents",
                     "added_agents", "priority", "episode", "clusters_per_arm", "agents_needed", "offered", "handled", "answered", "csat_n", "nps_n", "ces_n", "short_abandoned", "n", "n_clusters", "rows_read", "rows_accepted",
                     "rows_quarantined", "customers_retained_per_year", "agents_staffed", "products_held",
                     "products_offered"})

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CNY": "¥", "INR": "₹", "KRW": "₩",
                    "AUD": "A$", "CAD": "C$", "NZD": "NZ$", "BRL": "R$", "MXN": "MX$", "ZAR": "R"}

_ACRONYMS = {"sl": "SL", "cx": "CX", "qa": "QA", "aht": "AHT", "asa": "ASA", "fcr": "FCR", "ivr": "IVR",
             "csat": "CSAT", "nps": "NPS", "ces": "CES", "id": "id", "kpi": "KPI"}


def unlabelled_columns() -> list[str]:
    """Canonical columns (:mod:`cxlab.schema`) with no entry in :data:`LABELS` (tests keep this empty)."""
    return [c.name for t in TABLES.values() for c in t.columns if c.name not in LABELS]


def label(name: Any) -> str:
    """The human label of a column, KPI or driver name.

    Parameters
    ----------
    name : str
        A machine name (``resolved``, ``aht_s``, ``event_outage``,
        ``series_web_visits``, ``queue=billing``).

    Returns
    -------
    str
        :data:`LABELS` when known; otherwise built by rules: ``event_<kind>``
        → "<kind> days", ``series_<name>`` → the series name in words,
        ``a=b`` → "a: b", unit suffixes (``_s``, ``_pct``, ``_days``) dropped
        and underscores turned into spaces (acronyms upper-cased).

    Examples
    --------
    >>> label("resolved"), label("aht_s"), label("transfer_rate_pct")
    ('first-contact resolution', 'average handle time', 'transfer rate')
    >>> label("event_outage"), label("series_web_visits"), label("queue=billing"), label("sl_gap_pct")
    ('outage days', 'web visits', 'queue: billing', 'SL gap')
    >>> label("share_ci_low"), label("knee_high"), label("p_adj")
    ('share of explained variation (low)', 'knee (high)', 'p-value (adjusted)')
    """
    s = str(name)
    if s in LABELS:
        return LABELS[s]
    if "=" in s:
        k, _, v = s.partition("=")
        return f"{label(k)}: {v.replace('_', ' ')}"
    if s.startswith("event_"):
        return f"{_words(s[len('event_'):])} days"
    if s.startswith("series_"):
        return _words(s[len("series_"):])
    for b in _BOUND:
        if s.endswith(b) and len(s) > len(b):
            return f"{label(s[: -len(b)])} ({b.rsplit('_', 1)[1]})"
    for suffix in ("_pct", "_s", "_days"):
        if s.endswith(suffix) and len(s) > len(suffix):
            base = s[: -len(suffix)]
            return LABELS.get(base, _words(base))
    return _words(s)


def _words(s: str) -> str:
    return " ".join(_ACRONYMS.get(w.lower(), w) for w in re.split(r"[_\s]+", s) if w)


def is_missing(v: Any) -> bool:
    """True for None, NaN, NaT and non-numbers that are empty."""
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    try:
        import pandas as pd

        return bool(pd.isna(v)) if not isinstance(v, (list, tuple, dict, set)) else False
    except (TypeError, ValueError, ImportError):
        return False


def _m(s: str) -> str:
    """Typographic minus sign."""
    return s.replace("-", MINUS)


def number(v: Any, digits: int = 0) -> str:
    """A number with thousands separators and a typographic minus.

    Examples
    --------
    >>> number(344366), number(1110270.4), number(-1234.567, 1), number(None)
    ('344,366', '1,110,270', '−1,234.6', '—')
    """
    if is_missing(v):
        return "—"
    out = f"{float(v):,.{digits}f}"
    if float(out.replace(",", "")) == 0:  # no "-0"
        out = out.lstrip("-")
    return _m(out)


def signed(v: Any, digits: int = 1, unit: str = "") -> str:
    """A signed number: ``+1.9``, ``−0.3``, ``0.0``.

    Examples
    --------
    >>> signed(1.93), signed(-0.31), signed(0.0), signed(2.5, unit=" points")
    ('+1.9', '−0.3', '0.0', '+2.5 points')
    """
    if is_missing(v):
        return "—"
    r = round(float(v), digits)
    body = f"{abs(r):,.{digits}f}"
    sign = "+" if r > 0 else MINUS if r < 0 else ""
    return f"{sign}{body}{unit}"


def pct(v: Any, *, base: float = 100, digits: int = 1, sign: bool = False) -> str:
    """A percentage; ``base`` says what 100% is stored as (100 for ``*_pct``, 1 for shares and flags).

    Examples
    --------
    >>> pct(9.867), pct(0.107, base=1), pct(0.6051, base=1, digits=0), pct(1.5, sign=True)
    ('9.9%', '10.7%', '61%', '+1.5%')
    """
    if is_missing(v):
        return "—"
    x = float(v) * 100 / base
    return (signed(x, digits) if sign else number(x, digits)) + "%"


def duration(seconds: Any, *, sign: bool = False) -> str:
    """Seconds as m:ss (h:mm:ss from an hour).

    Examples
    --------
    >>> duration(554.48), duration(11.17), duration(3725), duration(-10, sign=True)
    ('9:14', '0:11', '1:02:05', '−0:10')
    """
    if is_missing(seconds):
        return "—"
    s = float(seconds)
    if not math.isfinite(s):
        return "∞" if s > 0 else MINUS + "∞"
    neg = s < 0
    total = int(round(abs(s)))
    h, rem = divmod(total, 3600)
    m, sec = divmod(rem, 60)
    body = f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
    if neg and total:
        return MINUS + body
    return ("+" if sign and total else "") + body


def _money_scale(big: float) -> tuple[float, str]:
    if big >= 1e9:
        return 1e9, "B"
    if big >= 1e6:
        return 1e6, "M"
    if big >= 1e4:
        return 1e3, "k"
    return 1.0, ""


def money(v: Any, lo: Any = None, hi: Any = None, *, currency: str = "USD", digits: int | None = None) -> str:
    """Money in ``currency``, compact, with its interval on the same scale.

    Parameters
    ----------
    v : float
        The amount.
    lo, hi : float, optional
        Its interval; printed as ``(lo–hi)`` without repeating the symbol.
    currency : str
        ISO 4217 code (``USD`` → ``$``, ``EUR`` → ``€``); an unknown code is
        printed before the amount (``CHF 4.4M``).
    digits : int, optional
        Decimals; default 1 for millions/billions, 0 otherwise.

    Examples
    --------
    >>> money(4413981, 3784297, 5036278)
    '$4.4M (3.8M–5.0M)'
    >>> money(8355.69, currency="EUR"), money(-1.2e6, currency="CHF"), money(52300, 41000, 61900, currency="GBP")
    ('€8,356', '−CHF 1.2M', '£52k (41k–62k)')
    """
    if is_missing(v):
        return "—"
    code = (currency or "").upper()
    sym = CURRENCY_SYMBOLS.get(code, f"{code} " if code else "")
    bounds = [float(x) for x in (lo, hi) if not is_missing(x)]
    big = max(abs(float(v)), *(abs(b) for b in bounds)) if bounds else abs(float(v))
    scale, suffix = _money_scale(big)
    d = digits if digits is not None else (1 if scale >= 1e6 else 0)

    def amt(x: float) -> str:
        return f"{abs(x) / scale:,.{d}f}{suffix}"

    out = (MINUS if float(v) < 0 else "") + sym + amt(float(v))
    if len(bounds) == 2:
        a, b = bounds
        if a < 0 or b < 0:
            out += f" ({_m('-') if a < 0 else ''}{amt(a)} to {_m('-') if b < 0 else ''}{amt(b)})"
        else:
            out += f" ({amt(a)}{DASH}{amt(b)})"
    return out


def ci(lo: Any, hi: Any, fmt=None) -> str:
    """An interval: ``(76.5–77.3)``, or ``(−0.3 to +4.2)`` when a bound is negative or signed.

    ``fmt`` formats each bound (default: one decimal).

    Examples
    --------
    >>> ci(76.46, 77.25), ci(-0.31, 4.16, lambda x: signed(x, 1))
    ('(76.5–77.3)', '(−0.3 to +4.2)')
    """
    if is_missing(lo) or is_missing(hi):
        return ""
    f = fmt or (lambda x: number(x, 1))
    a, b = f(lo), f(hi)
    if float(lo) < 0 or float(hi) < 0 or a.startswith("+") or b.startswith("+"):  # signs: a dash would read as one
        return f"({a} to {b})"
    return f"({a}{DASH}{b})"


def kind_of(name: Any) -> str:
    """How a quantity prints: ``pct`` (0–100), ``share`` (0–1 flag/rate), ``duration``, ``money``, ``count``,
    ``p`` (a p-value), ``prob`` (a probability ``p_*``), ``number``.

    The bounds of an interval print like their estimate (``share_ci_low`` like
    ``share``, ``knee_high`` like ``knee``).

    Examples
    --------
    >>> [kind_of(n) for n in ("fcr_pct", "resolved", "aht_s", "revenue_per_year", "offered", "qa_score")]
    ['pct', 'share', 'duration', 'money', 'count', 'number']
    >>> [kind_of(n) for n in ("p_adj", "p_rank1", "share_ci_low", "knee_high", "ci_low")]
    ['p', 'prob', 'share', 'duration', 'number']
    """
    s = str(name)
    if s in _PVALUES:
        return "p"
    if s in FLAGS or s in _SHARES or s.endswith("_rate") or s == "share":
        return "share"
    if s.startswith("p_"):
        return "prob"
    if s in _DURATIONS:
        return "duration"
    for b in _BOUND:
        if s.endswith(b) and len(s) > len(b) and s[: -len(b)] not in ("ci", ""):
            return kind_of(s[: -len(b)])
    if s.endswith("_pct"):
        return "pct"
    if s.endswith("_s"):
        return "duration"
    if s in _MONEY or s.startswith("revenue"):
        return "money"
    if s in _COUNTS or s.startswith(("n_", "rows_")):
        return "count"
    return "number"


def p_value(v: Any) -> str:
    """A p-value: ``<0.001`` below a thousandth, else three decimals.

    Examples
    --------
    >>> p_value(0.0000316), p_value(0.04972), p_value(0.71), p_value(None)
    ('<0.001', '0.050', '0.710', '—')
    """
    if is_missing(v):
        return "—"
    x = float(v)
    return "<0.001" if x < 0.0005 else f"{x:.3f}"


def value(name: Any, v: Any, *, currency: str = "USD", digits: int = 1) -> str:
    """A level of quantity ``name`` in its one base and unit.

    Examples
    --------
    >>> value("transfer_rate_pct", 9.868), value("transferred", 0.107), value("aht_s", 554.5)
    ('9.9%', '10.7%', '9:14')
    >>> value("offered", 344366), value("revenue_per_year", 4413981), value("qa_score", 81.234)
    ('344,366', '$4.4M', '81.2')
    >>> value("p_adj", 0.00002), value("p_val", 0.0714), value("p_rank1", 0.996)
    ('<0.001', '0.071', '1.00')
    """
    k = kind_of(name)
    if k == "p":
        return p_value(v)
    if k == "prob":
        return number(v, 2)
    if k == "pct":
        return pct(v, digits=digits)
    if k == "share":
        return pct(v, base=1, digits=digits)
    if k == "duration":
        return duration(v)
    if k == "money":
        return money(v, currency=currency)
    if k == "count":
        return number(v, 0)
    return number(v, digits)


def change(name: Any, dv: Any, *, currency: str = "USD") -> str:
    """A change of quantity ``name``: percentage points for shares, seconds for durations.

    Examples
    --------
    >>> change("resolved", 0.05), change("fcr_pct", -2), change("hold_s", -10), change("aht_s", 75)
    ('+5 points', '−2 points', '−10 s', '+1:15')
    """
    if is_missing(dv):
        return "—"
    k = kind_of(name)
    x = float(dv)
    if k in ("pct", "share"):
        pts = x * (100 if k == "share" else 1)
        return signed(pts, 0 if float(pts).is_integer() else 1) + " points"
    if k == "duration":
        return signed(x, 0) + " s" if abs(x) < 60 else duration(x, sign=True)
    if k == "money":
        return ("+" if x > 0 else "") + money(x, currency=currency)
    return signed(x, 0 if x.is_integer() else 2)


def lever_phrase(name: Any, dv: Any) -> str:
    """A lever move in words: "raising first-contact resolution by 5 points", "cutting hold time by 10 s".

    Examples
    --------
    >>> lever_phrase("resolved", 0.05), lever_phrase("hold_s", -10), lever_phrase("is_repeat", -0.03)
    ('raising first-contact resolution by 5 points', 'cutting hold time by 10 s', 'cutting repeat contacts by 3 points')
    """
    x = float(dv)
    verb = "raising" if x > 0 else "cutting"
    amount = change(name, abs(x)).lstrip("+")
    return f"{verb} {label(name)} by {amount}"


def date(d: Any) -> str:
    """A human date: ``2 Feb 2026`` (from a date, datetime or ISO text).

    Examples
    --------
    >>> date("2026-02-02"), date("2025-12-31T23:00:00+00:00"), date(None)
    ('2 Feb 2026', '31 Dec 2025', '—')
    """
    if is_missing(d) or d == "":
        return "—"
    if isinstance(d, str):
        try:
            d = dt.datetime.fromisoformat(d.replace("Z", "+00:00"))
        except ValueError:
            return d
    if isinstance(d, dt.datetime):
        d = d.date()
    return f"{d.day} {d:%b %Y}"


def window(start: Any, end: Any) -> str:
    """A date range in words: ``1 Jan – 31 Dec 2025`` (the year once when both share it).

    Examples
    --------
    >>> window("2025-01-01", "2025-12-31"), window("2025-10-01", "2026-01-31")
    ('1 Jan – 31 Dec 2025', '1 Oct 2025 – 31 Jan 2026')
    """
    a, b = date(start), date(end)
    if a[-4:] == b[-4:] and a != "—":
        a = a[:-5]
    return f"{a} {DASH} {b}"


def frame(df, *, currency: str = "USD", digits: int = 1, kinds: dict | None = None, labels: bool = True,
          by_row: dict | None = None):
    """A table for a report: every value formatted by its column's quantity, headers as human labels.

    Parameters
    ----------
    df : DataFrame
    currency : str
        For money columns.
    digits : int
        Decimals for plain numbers (percentages keep at most one).
    kinds : dict, optional
        Column → quantity name to format it as (e.g. ``{"value": "aht_s"}``).
    labels : bool
        Rename the headers with :func:`label`.
    by_row : dict, optional
        Columns whose unit changes from row to row: column → ``(name_column, "value" | "change")``.
        Each cell prints as :func:`value` (a level) or :func:`change` (a move) of the quantity
        named in that row's ``name_column`` — e.g. a what-if's ``change`` column holds "+5 points"
        of resolution in one row and "−10 s" of hold time in the next.

    Returns
    -------
    DataFrame
        All cells are text (``"—"`` for missing), ready for :func:`cxlab.nb.show`.

    Notes
    -----
    A bare ``ci_low`` / ``ci_high`` prints like the numeric column before it
    (its estimate); cells of name columns (:data:`NAME_COLUMNS`: ``x``,
    ``driver``, ``kpi`` …) get labels too; p-values print ``<0.001``.

    Examples
    --------
    >>> import pandas as pd
    >>> frame(pd.DataFrame({"queue": ["billing"], "aht_s": [481.4], "transfer_rate_pct": [9.19], "offered": [93953]}))
         queue average handle time transfer rate contacts offered
    0  billing                8:01          9.2%           93,953
    >>> frame(pd.DataFrame({"x": ["hold_s"], "r": [-0.2113], "ci_low": [-0.25], "ci_high": [-0.17],
    ...                     "p_adj": [1e-9]}), digits=2).iloc[0].tolist()
    ['hold time', '−0.21', '−0.25', '−0.17', '<0.001']
    >>> frame(pd.DataFrame({"driver": ["resolved", "hold_s"], "change": [0.05, -10.0], "target": [0.8, 15.0]}),
    ...       by_row={"change": ("driver", "change"), "target": ("driver", "value")}).to_dict("list")
    {'driver': ['first-contact resolution', 'hold time'], 'change': ['+5 points', '−10 s'], 'target': ['80.0%', '0:15']}
    """
    import pandas as pd

    kinds = kinds or {}
    by_row = by_row or {}
    out = pd.DataFrame(index=df.index)
    estimate = None  # the quantity a bare ci_low / ci_high bounds: the numeric column before it
    for col in df.columns:
        s = df[col]
        if col in by_row:
            name_col, how = by_row[col]
            if how not in ("value", "change"):
                raise ValueError(f"by_row[{col!r}]: how must be 'value' or 'change', not {how!r}")
            out[col] = ["—" if is_missing(x) else change(n, x, currency=currency) if how == "change"
                        else value(n, x, currency=currency,
                                   digits=min(digits, 1) if kind_of(n) in ("pct", "share") else digits)
                        for n, x in zip(df[name_col], s)]
            estimate = None
            continue
        qname = kinds.get(col, col)
        if col in ("ci_low", "ci_high", "low", "high") and col not in kinds and estimate is not None:
            qname = estimate
        if pd.api.types.is_bool_dtype(s) or (s.dtype == object and s.dropna().map(type).eq(bool).all()
                                             and s.notna().any()):
            out[col] = s.map(lambda x: "—" if is_missing(x) else ("yes" if x else "no"))
        elif pd.api.types.is_numeric_dtype(s):
            if col not in ("ci_low", "ci_high", "low", "high"):
                estimate = qname
            k = kind_of(qname)
            d = min(digits, 1) if k in ("pct", "share") else digits
            out[col] = s.map(lambda x, q=qname, d=d: value(q, x, currency=currency, digits=d))
        elif pd.api.types.is_datetime64_any_dtype(s):
            out[col] = s.map(date)
        elif col in NAME_COLUMNS:
            out[col] = s.map(lambda x: "—" if is_missing(x) else label(x))
        else:
            out[col] = s.map(lambda x: "—" if is_missing(x) else x)
    if labels:
        out.columns = [label(c) for c in df.columns]
    return out
