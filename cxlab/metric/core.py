"""Step 1 — the CX metric: scoring, headline values with honest uncertainty,
differences, agreement between metrics, non-response bias and loyalty.

Every function takes data first and options keyword-only and returns a tidy
DataFrame (or a frozen dataclass of them) whose columns are documented.

Metric definitions (``KPI_DEFINITIONS.md``):

========  =====  =====================================  =====================
metric    scale  headline value                         per-response value
========  =====  =====================================  =====================
csat      1–5    ``csat="top2"``: % top-2-box (4–5)     1 if 4–5 else 0
                 ``csat="mean"``: mean score            the raw score
nps       0–10   % promoters − % detractors, points     +1 / 0 / −1
ces       1–7    ``ces="mean"``: mean score             the raw score
                 ``ces="agree"``: % agree (5–7)         1 if 5–7 else 0
========  =====  =====================================  =====================

Proportions are reported in percent (0–100), NPS in points (−100..100),
means in scale units. Uncertainty: Wilson interval for proportions, the NPS
variance formula (per-respondent variance p₊ + p₋ − N²) for NPS, the t
interval for means.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._utils import isin as _isin
from ..errors import DataError, check_option
from ..schema import CX_SCALES

__all__ = [
    "METRICS",
    "join_contacts",
    "score_responses",
    "summarize",
    "required_n",
    "default_margin",
    "nps_variance",
    "wilson_interval",
    "compare",
    "compare_segments",
    "agreement",
    "agreement_crosstab",
    "nonresponse_bias",
    "propensity_weights",
    "roc_auc",
    "delong_test",
    "LoyaltyResult",
    "loyalty_prediction",
    "loyalty_calibration",
    "loyalty_revenue",
    "recommend_metric",
    "summary_table",
]

METRICS = ("csat", "nps", "ces")
_TIME_KEYS = ("day", "week", "month")
_CATEGORY_ORDER = {
    "csat": ("not_top2", "top2"),
    "nps": ("detractor", "passive", "promoter"),
    "ces": ("disagree", "neutral", "agree"),
}


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _z(conf: float) -> float:
    if not 0 < conf < 1:
        raise ValueError(f"conf must be between 0 and 1 (e.g. 0.95); got {conf!r}")
    return float(stats.norm.ppf(0.5 + conf / 2))


def _kind(metric: str, csat: str, ces: str) -> str:
    """'proportion', 'nps' or 'mean' for a metric and its scale options."""
    check_option("metric", metric, METRICS)
    check_option("csat", csat, ("top2", "mean"))
    check_option("ces", ces, ("mean", "agree"))
    if metric == "nps":
        return "nps"
    if metric == "csat":
        return "proportion" if csat == "top2" else "mean"
    return "proportion" if ces == "agree" else "mean"


def _scale_name(metric: str, csat: str, ces: str) -> str:
    return {"csat": csat, "nps": "nps", "ces": ces}[metric]


def _present_metrics(frame: pd.DataFrame) -> list[str]:
    return [m for m in METRICS if m in frame.columns and frame[m].notna().any()]


def _require_metric(frame: pd.DataFrame, metric: str) -> None:
    check_option("metric", metric, METRICS)
    if metric not in _present_metrics(frame):
        present = _present_metrics(frame)
        raise DataError(
            f"metric {metric!r} is not in the surveys (column missing or all null); "
            f"metrics present: {present if present else 'none'}"
        )


def _raw(frame: pd.DataFrame, metric: str) -> pd.Series:
    raw = pd.to_numeric(frame[metric], errors="coerce").astype(float)
    lo, hi = CX_SCALES[metric]
    bad = raw.notna() & ((raw < lo) | (raw > hi))
    if bad.any():
        raise DataError(
            f"{int(bad.sum())} {metric} value(s) outside the {lo}–{hi} scale "
            f"(e.g. {raw[bad].iloc[0]:g}); validate the surveys first (cxlab.io)"
        )
    return raw


def _category(metric: str, raw: pd.Series) -> pd.Series:
    if metric == "csat":
        cat = np.where(raw >= 4, "top2", "not_top2")
    elif metric == "nps":
        cat = np.where(raw >= 9, "promoter", np.where(raw >= 7, "passive", "detractor"))
    else:
        cat = np.where(raw >= 5, "agree", np.where(raw >= 4, "neutral", "disagree"))
    out = pd.Series(pd.Categorical(cat, categories=_CATEGORY_ORDER[metric], ordered=True), index=raw.index)
    return out.where(raw.notna())


def _value(metric: str, kind: str, raw: pd.Series) -> pd.Series:
    if kind == "mean":
        return raw
    if metric == "nps":
        v = np.where(raw >= 9, 1.0, np.where(raw >= 7, 0.0, -1.0))
    elif metric == "csat":
        v = (raw >= 4).astype(float)
    else:
        v = (raw >= 5).astype(float)
    return pd.Series(v, index=raw.index).where(raw.notna())


def _as_list(by) -> list[str]:
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    return list(by)


def _local_time_keys(ts: pd.Series, keys: Iterable[str], timezone: str) -> dict[str, pd.Series]:
    """Local calendar day / week (Monday start) / month start, tz-naive."""
    ts = pd.to_datetime(ts)
    if ts.dt.tz is None:
        ts = ts.dt.tz_localize("UTC")
    local = ts.dt.tz_convert(timezone).dt.tz_localize(None).dt.normalize()
    out = {}
    for key in keys:
        if key == "day":
            out[key] = local
        elif key == "week":
            out[key] = local - pd.to_timedelta(local.dt.day_of_week, unit="D")
        elif key == "month":
            out[key] = local.dt.to_period("M").dt.to_timestamp()
    return out


def _with_keys(frame: pd.DataFrame, by: list[str], time_col: str, timezone: str) -> pd.DataFrame:
    time_keys = [k for k in by if k in _TIME_KEYS and k not in frame.columns]
    missing = [k for k in by if k not in _TIME_KEYS and k not in frame.columns]
    if missing:
        raise DataError(
            f"by column(s) {missing} not in the frame; columns: {list(frame.columns)} "
            f"(time keys {list(_TIME_KEYS)} are derived from {time_col!r})"
        )
    if not time_keys:
        return frame
    if time_col not in frame.columns:
        raise DataError(f"by={time_keys} needs the column {time_col!r} to derive local periods")
    return frame.assign(**_local_time_keys(frame[time_col], time_keys, timezone))


def wilson_interval(successes, n, *, conf: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion (arrays allowed; n may be an effective n).

    Parameters
    ----------
    successes, n : float or array-like
        Number of successes and trials. ``n = 0`` gives NaN.
    conf : float
        Confidence level.

    Returns
    -------
    (low, high) : tuple of ndarray
        Bounds as proportions (0–1).

    Notes
    -----
    With p̂ = x/n and z the normal quantile,
    centre = (p̂ + z²/2n) / (1 + z²/n) and
    half-width = z / (1 + z²/n) · √(p̂(1−p̂)/n + z²/4n²).
    Identical to ``statsmodels.stats.proportion.proportion_confint(method="wilson")``.

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and
    statistical inference. JASA 22, 209–212.

    Examples
    --------
    >>> lo, hi = wilson_interval(8, 10)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.4902, 0.9433)
    """
    z = _z(conf)
    x = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z / denom * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
        low, high = centre - half, centre + half
    low = np.where(n > 0, np.clip(low, 0, 1), np.nan)
    high = np.where(n > 0, np.clip(high, 0, 1), np.nan)
    return low, high


def nps_variance(p_promoters: float, p_detractors: float) -> float:
    """Per-respondent variance of the NPS (respondents scored +1 / 0 / −1).

    Parameters
    ----------
    p_promoters, p_detractors : float
        Shares (0–1) of promoters (9–10) and detractors (0–6).

    Returns
    -------
    float
        p₊ + p₋ − (p₊ − p₋)²; the standard error of the NPS (as a fraction) is
        √(variance / n).

    References
    ----------
    stats.stackexchange.com answer 18609 ("How to compute the margin of error
    of a Net Promoter Score"); KPI_DEFINITIONS.md.

    Examples
    --------
    >>> round(nps_variance(1/2, 1/6), 6)  # = 5/9
    0.555556
    """
    if not (0 <= p_promoters <= 1 and 0 <= p_detractors <= 1 and p_promoters + p_detractors <= 1 + 1e-12):
        raise ValueError(
            f"shares must lie in [0, 1] and sum to at most 1; got {p_promoters!r}, {p_detractors!r}"
        )
    nps = p_promoters - p_detractors
    return float(p_promoters + p_detractors - nps**2)


def _values(frame: pd.DataFrame, metric: str, kind: str) -> np.ndarray:
    """Per-response values of the non-null answers (empty when the group has none)."""
    if metric not in frame.columns or len(frame) == 0:
        return np.empty(0)
    return _value(metric, kind, _raw(frame, metric)).dropna().to_numpy(float)


# ---------------------------------------------------------------------------
# per response
# ---------------------------------------------------------------------------


def join_contacts(
    surveys: pd.DataFrame,
    interactions: pd.DataFrame,
    *,
    columns: Sequence[str] = ("queue", "channel", "resolved"),
) -> pd.DataFrame:
    """Surveys with columns of the contact each response is about.

    Parameters
    ----------
    surveys : DataFrame
        Canonical ``surveys``.
    interactions : DataFrame
        Canonical ``interactions``.
    columns : sequence of str
        Contact columns to bring in (those absent from ``interactions`` are
        skipped; names already in ``surveys`` are not duplicated).

    Returns
    -------
    DataFrame
        ``surveys`` (same rows, same order) plus the contact columns — a left
        join on ``interaction_id``; responses without a link or with an
        unknown contact keep nulls there (never dropped). ``attrs["unlinked"]``
        counts them.

    Examples
    --------
    >>> s = pd.DataFrame({"interaction_id": ["i1", None], "csat": [5, 4]})
    >>> i = pd.DataFrame({"interaction_id": ["i1"], "queue": ["billing"]})
    >>> out = join_contacts(s, i, columns=["queue"])
    >>> out["queue"].tolist(), out.attrs["unlinked"]
    (['billing', nan], 1)
    """
    cols = [c for c in columns if c in interactions.columns and c not in surveys.columns and c != "interaction_id"]
    right = interactions[["interaction_id", *cols]].drop_duplicates("interaction_id")
    out = surveys.merge(right, on="interaction_id", how="left", indicator=True)
    unlinked = int((out["_merge"] != "both").sum())
    out = out.drop(columns="_merge")
    out.index = surveys.index
    out.attrs["unlinked"] = unlinked
    return out



def score_responses(surveys: pd.DataFrame, *, metric: str, csat: str = "top2", ces: str = "mean") -> pd.DataFrame:
    """Score each survey response on one CX metric.

    Parameters
    ----------
    surveys : DataFrame
        Canonical ``surveys`` table (any extra columns, e.g. joined segments,
        are kept).
    metric : {"csat", "nps", "ces"}
        The metric to score.
    csat : {"top2", "mean"}
        CSAT headline: top-2-box (4–5 → 1, else 0) or the raw mean.
    ces : {"mean", "agree"}
        CES headline: the raw mean or % agree (5–7 → 1, else 0).

    Returns
    -------
    DataFrame
        The input columns plus

        - ``metric`` : the metric name.
        - ``scale`` : ``"top2"``, ``"mean"``, ``"agree"`` or ``"nps"``.
        - ``raw`` : the answer on the metric's scale (float; NaN = question skipped).
        - ``category`` : ordered categorical — CSAT ``not_top2``/``top2``;
          NPS ``detractor`` (0–6) / ``passive`` (7–8) / ``promoter`` (9–10);
          CES ``disagree`` (1–3) / ``neutral`` (4) / ``agree`` (5–7).
        - ``value`` : what the headline averages: 0/1 for top-2-box and agree,
          −1/0/+1 for NPS, the raw score for means. NaN where ``raw`` is NaN
          (rows are kept, never silently dropped).

    Raises
    ------
    cxlab.errors.DataError
        The metric column is missing or entirely null (the message lists the
        metrics present), or a value is outside the metric's scale.

    Examples
    --------
    >>> s = pd.DataFrame({"response_id": ["a", "b", "c"], "nps": [10, 8, 3]})
    >>> score_responses(s, metric="nps")[["raw", "category", "value"]]
        raw   category  value
    0  10.0   promoter    1.0
    1   8.0    passive    0.0
    2   3.0  detractor   -1.0
    """
    kind = _kind(metric, csat, ces)
    _require_metric(surveys, metric)
    raw = _raw(surveys, metric)
    return surveys.assign(
        metric=metric,
        scale=_scale_name(metric, csat, ces),
        raw=raw,
        category=_category(metric, raw),
        value=_value(metric, kind, raw),
    )


# ---------------------------------------------------------------------------
# sample size
# ---------------------------------------------------------------------------


def _default_margin(metric: str, kind: str, pts: float = 5.0) -> float:
    if kind == "proportion":
        return float(pts)
    if kind == "nps":
        return 2.0 * pts
    lo, hi = CX_SCALES[metric]
    return round(pts / 100 * (hi - lo), 10)


def default_margin(metric: str, *, csat: str = "top2", ces: str = "mean", pts: float = 5.0) -> float:
    """Margin of error in headline units equal to ``pts`` per 100 of the headline's range.

    Parameters
    ----------
    metric : {"csat", "nps", "ces"}
    csat, ces : str
        Scale options as in :func:`score_responses`.
    pts : float
        Points per 100 of the range (default 5).

    Returns
    -------
    float
        ``pts`` for percent headlines (range 100), ``2·pts`` NPS points
        (range 200), ``pts/100 × (max − min)`` for means (0.2 on CSAT 1–5,
        0.3 on CES 1–7 at the default). At the default each needs 385
        responses in the worst case (:func:`required_n`).

    Examples
    --------
    >>> default_margin("nps"), default_margin("ces"), default_margin("csat", pts=3)
    (10.0, 0.3, 3.0)
    """
    if not pts or pts <= 0:
        raise ValueError(f"pts must be positive; got {pts!r}")
    return _default_margin(metric, _kind(metric, csat, ces), pts)


def required_n(
    *,
    metric: str,
    moe: float,
    p=None,
    sd: float | None = None,
    conf: float = 0.95,
    csat: str = "top2",
    ces: str = "mean",
) -> int:
    """Responses needed for a margin of error (half-width of the CI).

    Parameters
    ----------
    metric : {"csat", "nps", "ces"}
    moe : float
        Target margin in headline units: percentage points for top-2-box /
        agree, NPS points for NPS, scale units for means.
    p : float or (float, float), optional
        Planning proportion (0–1) for proportions (default 0.5, the worst
        case); for NPS a pair ``(p_promoters, p_detractors)`` (default: the
        worst-case variance 1).
    sd : float, optional
        Planning SD for means (default the largest SD possible on the scale,
        (max − min)/2, Popoviciu's inequality); for NPS an SD of the ±1 scores.
    conf : float
        Confidence level.
    csat, ces : str
        Scale options as in :func:`score_responses`.

    Returns
    -------
    int
        ⌈z² · var / moe²⌉ with var = p(1−p) (proportions), p₊ + p₋ − N² (NPS)
        or sd² (means), and moe converted to a fraction for percent metrics.

    Examples
    --------
    >>> required_n(metric="csat", moe=5)
    385
    >>> required_n(metric="nps", moe=10)
    385
    """
    kind = _kind(metric, csat, ces)
    if not moe or moe <= 0:
        raise ValueError(f"moe must be positive; got {moe!r}")
    z = _z(conf)
    if kind == "proportion":
        pp = 0.5 if p is None else float(p)
        if not 0 <= pp <= 1:
            raise ValueError(f"p must be a proportion in [0, 1]; got {p!r}")
        var, m = pp * (1 - pp), moe / 100
    elif kind == "nps":
        if sd is not None:
            var = float(sd) ** 2
        elif p is not None:
            var = nps_variance(*p)
        else:
            var = 1.0
        m = moe / 100
    else:
        lo, hi = CX_SCALES[metric]
        s = (hi - lo) / 2 if sd is None else float(sd)
        var, m = s**2, moe
    return int(math.ceil(z**2 * var / m**2 - 1e-9))


# ---------------------------------------------------------------------------
# summarize
# ---------------------------------------------------------------------------


def _aggregate(values: pd.Series, weights: pd.Series, keys: pd.DataFrame | None, *, nps: bool) -> pd.DataFrame:
    ok = values.notna()
    w = weights.where(ok, 0.0).fillna(0.0)
    x = values.fillna(0.0)
    parts = pd.DataFrame(
        {
            "n": ok.astype(int),
            "sw": w,
            "sw2": w**2,
            "swx": w * x,
            "swx2": w * x**2,
            "sx": x.where(ok, 0.0),
            "sx2": (x**2).where(ok, 0.0),
        },
        index=values.index,
    )
    if nps:
        parts["swp"] = w * (x > 0)
        parts["swd"] = w * (x < 0)
    if keys is None or keys.shape[1] == 0:
        return parts.sum().to_frame().T
    g = pd.concat([keys, parts], axis=1).groupby(list(keys.columns), observed=False, dropna=False, sort=True)
    return g[list(parts.columns)].sum().reset_index()


def summarize(
    responses: pd.DataFrame,
    *,
    metric: str,
    by=None,
    csat: str = "top2",
    ces: str = "mean",
    contacts=None,
    margin: float | None = None,
    conf: float = 0.95,
    weights: str | None = None,
    timezone: str = "UTC",
    gate_ci: bool = True,
) -> pd.DataFrame:
    """Headline CX value per period and/or segment, with its uncertainty.

    Parameters
    ----------
    responses : DataFrame
        Survey responses (canonical ``surveys``, optionally with segment
        columns joined on).
    metric : {"csat", "nps", "ces"}
    by : str or list of str, optional
        Grouping: segment columns of ``responses`` and/or the local periods
        ``"day"``, ``"week"`` (Monday start) or ``"month"``, derived from
        ``responded_at`` in ``timezone``. ``None`` = one overall row.
    csat, ces : str
        Scale options as in :func:`score_responses`.
    contacts : Series or DataFrame, optional
        Contacts per group, for ``response_rate``: a Series indexed by the
        ``by`` keys, a DataFrame with the ``by`` columns and a ``contacts``
        column, or a contact-level table (e.g. ``interactions``) whose rows
        are counted per group (periods derived from ``arrived_at``).
        Groups with contacts but no responses appear with ``n = 0``.
    margin : float, optional
        Target margin of error in headline units. Default 5% of the headline's
        range: 5 points (top-2-box, agree), 10 NPS points, 0.2 on CSAT 1–5,
        0.3 on CES 1–7 — each needs 385 responses in the worst case.
    conf : float
        Confidence level of the intervals.
    weights : str, optional
        Column of non-negative weights (e.g. from :func:`propensity_weights`);
        estimates are weighted and intervals use Kish's effective n.
    timezone : str
        IANA zone for day/week/month (pass the run's ``config.timezone``).
    gate_ci : bool
        ``True`` (default): unreliable rows get NaN intervals (see Notes).
        ``False``: every row with enough data gets its interval.

    Returns
    -------
    DataFrame
        One row per group, sorted by the ``by`` columns:

        - the ``by`` columns;
        - ``metric``, ``scale`` : as in :func:`score_responses`;
        - ``n`` : responses that answered the metric (0 = none; value NaN);
        - ``n_eff`` : Kish effective n, (Σw)²/Σw² (equals ``n`` unweighted);
        - ``value`` : headline — % top-2-box / % agree (0–100), NPS points
          (−100..100) or the mean score;
        - ``se`` : standard error of ``value`` (same units);
        - ``ci_low``, ``ci_high`` : ``conf`` interval (Wilson / NPS normal / t);
        - ``moe`` : margin of error, half the interval's width;
        - ``n_required`` : responses needed for ``margin`` in the worst case
          (:func:`required_n`);
        - ``reliable`` : ``n_eff >= n_required``;
        - ``pct_promoters``, ``pct_detractors`` : NPS only;
        - ``contacts``, ``response_rate`` : when ``contacts`` is given;
          response rate = responses answering the metric ÷ contacts.

    Notes
    -----
    *Intervals.* Proportions: Wilson score interval (= statsmodels
    ``proportion_confint(method="wilson")``). NPS: per-respondent variance
    v = p₊ + p₋ − N² (N = p₊ − p₋), SE = √(v/n), interval N ± z·SE, ×100.
    Means: x̄ ± t(n−1)·s/√n. Weighted: shares and means are weighted, n is
    replaced by n_eff = (Σw)²/Σw² and s² by the weighted variance ×
    n_eff/(n_eff − 1).

    *Reliability rule.* A row is ``reliable`` when its (effective) n reaches
    the worst-case sample size for ``margin``. With ``gate_ci=True`` an
    unreliable row keeps its ``value`` and ``se`` but its ``ci_low``,
    ``ci_high`` and ``moe`` are NaN: a small-sample value is shown, flagged,
    and not dressed up with a CI that pretends to a precision the sample
    cannot deliver. A row with ``n = 0`` has NaN value.

    Examples
    --------
    >>> s = pd.DataFrame({"nps": [10, 9, 9, 8, 7, 3]})
    >>> out = summarize(s, metric="nps", gate_ci=False)
    >>> out[["n", "value", "se"]].round(2)
       n  value     se
    0  6  33.33  30.43
    """
    kind = _kind(metric, csat, ces)
    margin = _default_margin(metric, kind) if margin is None else float(margin)
    by = _as_list(by)
    scored = score_responses(responses, metric=metric, csat=csat, ces=ces)
    scored = _with_keys(scored, by, "responded_at", timezone)
    if weights is None:
        w = pd.Series(1.0, index=scored.index)
    else:
        if weights not in scored.columns:
            raise DataError(f"weights column {weights!r} not in the responses")
        w = pd.to_numeric(scored[weights], errors="coerce").astype(float)
        if (w < 0).any():
            raise ValueError(f"weights column {weights!r} has negative values")
        # a response without a weight cannot be used in a weighted estimate
        scored = scored.assign(value=scored["value"].where(w.notna()))
        w = w.fillna(0.0)
    keys = scored[by] if by else None
    agg = _aggregate(scored["value"], w, keys, nps=kind == "nps")

    if contacts is not None:
        agg = _merge_contacts(agg, contacts, by, timezone)

    z = _z(conf)
    n = agg["n"].astype(int)
    sw = agg["sw"].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        n_eff = np.where(sw > 0, sw**2 / agg["sw2"], 0.0)
        mean = np.where(sw > 0, agg["swx"] / sw, np.nan)
        ex2 = np.where(sw > 0, agg["swx2"] / sw, np.nan)
        pop_var = np.clip(ex2 - mean**2, 0, None)
        if kind == "proportion":
            value = 100 * mean
            se = 100 * np.sqrt(mean * (1 - mean) / n_eff)
            lo, hi = wilson_interval(mean * n_eff, n_eff, conf=conf)
            ci_low, ci_high = 100 * lo, 100 * hi
        elif kind == "nps":
            value = 100 * mean
            se = 100 * np.sqrt(pop_var / n_eff)
            ci_low, ci_high = value - z * se, value + z * se
        else:
            value = mean
            s2 = pop_var * n_eff / (n_eff - 1)
            se = np.where(n_eff > 1, np.sqrt(s2 / n_eff), np.nan)
            tq = stats.t.ppf(0.5 + conf / 2, np.where(n_eff > 1, n_eff - 1, np.nan))
            ci_low, ci_high = value - tq * se, value + tq * se
    se = np.where(n > 0, se, np.nan)
    n_req = required_n(metric=metric, moe=margin, conf=conf, csat=csat, ces=ces)
    reliable = n_eff >= n_req
    ci_low = np.where(n > 0, ci_low, np.nan)
    ci_high = np.where(n > 0, ci_high, np.nan)
    if gate_ci:
        ci_low = np.where(reliable, ci_low, np.nan)
        ci_high = np.where(reliable, ci_high, np.nan)

    out = agg[by].copy() if by else pd.DataFrame(index=agg.index)
    out["metric"] = metric
    out["scale"] = _scale_name(metric, csat, ces)
    out["n"] = n.to_numpy()
    out["n_eff"] = n_eff
    out["value"] = value
    out["se"] = se
    out["ci_low"] = ci_low
    out["ci_high"] = ci_high
    out["moe"] = (ci_high - ci_low) / 2
    out["n_required"] = n_req
    out["reliable"] = reliable
    if kind == "nps":
        with np.errstate(invalid="ignore", divide="ignore"):
            out["pct_promoters"] = np.where(sw > 0, 100 * agg["swp"] / sw, np.nan)
            out["pct_detractors"] = np.where(sw > 0, 100 * agg["swd"] / sw, np.nan)
    if contacts is not None:
        out["contacts"] = agg["contacts"].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            out["response_rate"] = np.where(agg["contacts"] > 0, n / agg["contacts"], np.nan)
    return out.reset_index(drop=True)


def _merge_contacts(agg: pd.DataFrame, contacts, by: list[str], timezone: str) -> pd.DataFrame:
    if isinstance(contacts, pd.Series):
        if not by:
            raise ValueError("contacts as a Series needs `by` keys; pass a number-of-contacts frame instead")
        cnt = contacts.rename("contacts").reset_index()
        if list(cnt.columns[:-1]) != by:
            cnt.columns = [*by, "contacts"]
    elif isinstance(contacts, pd.DataFrame):
        if "contacts" in contacts.columns:
            cnt = contacts[[*by, "contacts"]]
        else:
            framed = _with_keys(contacts, by, "arrived_at", timezone)
            if by:
                cnt = framed.groupby(by, observed=True, dropna=False).size().rename("contacts").reset_index()
            else:
                cnt = pd.DataFrame({"contacts": [len(framed)]})
    else:
        raise TypeError(f"contacts must be a Series or DataFrame; got {type(contacts).__name__}")
    if not by:
        out = agg.copy()
        out["contacts"] = float(cnt["contacts"].sum())
        return out
    for k in by:  # align dtypes of the keys (e.g. datetime resolution)
        if pd.api.types.is_datetime64_any_dtype(agg[k]):
            cnt = cnt.assign(**{k: pd.to_datetime(cnt[k]).astype(agg[k].dtype)})
        elif isinstance(agg[k].dtype, pd.CategoricalDtype):
            agg = agg.assign(**{k: agg[k].astype(str)})
            cnt = cnt.assign(**{k: cnt[k].astype(str)})
    out = agg.merge(cnt, on=by, how="outer")
    fill = [c for c in agg.columns if c not in by]
    out[fill] = out[fill].fillna(0)
    out["n"] = out["n"].astype(int)
    return out.sort_values(by).reset_index(drop=True)


def summary_table(summary: pd.DataFrame, *, digits: int = 1) -> pd.DataFrame:
    """Display version of a :func:`summarize` frame: text cells, no raw NaN.

    ``value`` becomes "—" when n = 0; an unreliable row shows its value with
    "(n<385)" appended and "—" as its interval; reliable rows show
    "value [low, high]".

    Parameters
    ----------
    summary : DataFrame
        Output of :func:`summarize`.
    digits : int
        Decimals for the value and interval.

    Returns
    -------
    DataFrame
        The ``by`` columns, ``n``, ``value`` (text), ``ci`` (text) and, when
        present, ``response_rate`` (text, percent).

    Examples
    --------
    >>> s = summarize(pd.DataFrame({"csat": [5, 4, 2]}), metric="csat")
    >>> summary_table(s)[["n", "value", "ci"]]
       n          value ci
    0  3  66.7 (n<385)  —
    """
    meta = {"metric", "scale", "n", "n_eff", "value", "se", "ci_low", "ci_high", "moe", "n_required",
            "reliable", "pct_promoters", "pct_detractors", "contacts", "response_rate"}
    by = [c for c in summary.columns if c not in meta]
    out = summary[by].copy()
    for k in by:
        if pd.api.types.is_datetime64_any_dtype(out[k]):
            out[k] = out[k].dt.strftime("%Y-%m-%d")
    out["n"] = summary["n"]
    vals, cis = [], []
    for row in summary.itertuples(index=False):
        if row.n == 0 or pd.isna(row.value):
            vals.append("—")
            cis.append("—")
            continue
        v = f"{row.value:.{digits}f}"
        if not row.reliable:
            v += f" (n<{row.n_required})"
        vals.append(v)
        cis.append("—" if pd.isna(row.ci_low) else f"[{row.ci_low:.{digits}f}, {row.ci_high:.{digits}f}]")
    out["value"] = vals
    out["ci"] = cis
    if "response_rate" in summary.columns:
        out["response_rate"] = [("—" if pd.isna(r) else f"{100 * r:.1f}%") for r in summary["response_rate"]]
    return out


# ---------------------------------------------------------------------------
# differences
# ---------------------------------------------------------------------------


def _newcombe(xa, na, xb, nb, conf):
    """Newcombe (1998) hybrid score interval for pb − pa (method 10)."""
    pa, pb = xa / na, xb / nb
    la, ua = wilson_interval(xa, na, conf=conf)
    lb, ub = wilson_interval(xb, nb, conf=conf)
    d = pb - pa
    low = d - np.sqrt((pb - lb) ** 2 + (ua - pa) ** 2)
    high = d + np.sqrt((ub - pb) ** 2 + (pa - la) ** 2)
    return float(low), float(high)


_COMPARE_COLUMNS = ["metric", "scale", "n_a", "n_b", "value_a", "value_b", "diff", "se_diff", "ci_low",
                    "ci_high", "test", "stat", "dof", "p_val", "effect_size", "effect_type"]


def compare(
    a: pd.DataFrame,
    b: pd.DataFrame,
    *,
    metric: str,
    csat: str = "top2",
    ces: str = "mean",
    mean_test: str = "welch",
    conf: float = 0.95,
) -> pd.DataFrame:
    """Difference in the headline between two groups or periods (b − a).

    Parameters
    ----------
    a, b : DataFrame
        Survey responses of the two groups (``a`` = reference / before).
    metric : {"csat", "nps", "ces"}
    csat, ces : str
        Scale options as in :func:`score_responses`.
    mean_test : {"welch", "mannwhitney"}
        Test for mean-scaled metrics: Welch's t-test or the Mann–Whitney U
        test (two-sided; the interval is Welch's in both cases).
    conf : float
        Confidence level of the interval of the difference.

    Returns
    -------
    DataFrame
        One row:

        - ``metric``, ``scale``;
        - ``n_a``, ``n_b`` : responses answering the metric;
        - ``value_a``, ``value_b`` : headlines (units as in :func:`summarize`);
        - ``diff`` : ``value_b − value_a`` (points, or scale units for means);
        - ``se_diff`` : standard error of ``diff`` (unpooled);
        - ``ci_low``, ``ci_high`` : interval of ``diff`` — Newcombe hybrid
          score (proportions), diff ± z·SE (NPS), Welch t (means);
        - ``test`` : ``"two_proportion_z"``, ``"nps_z"``, ``"welch_t"`` or
          ``"mann_whitney_u"``;
        - ``stat``, ``dof``, ``p_val`` : statistic, degrees of freedom
          (Welch only) and two-sided p-value;
        - ``effect_size``, ``effect_type`` : Cohen's h (proportions),
          Hedges' g (Welch), rank-biserial r (Mann–Whitney), or Cohen's d
          of the ±1 scores (NPS, pooled per-respondent SD).

    Notes
    -----
    Two-proportion z: pooled p̂ under H0, z = (p_b − p_a)/√(p̂(1−p̂)(1/n_a+1/n_b))
    (= statsmodels ``proportions_ztest``). NPS: SE_diff =
    √(v_a/n_a + v_b/n_b) with v = p₊ + p₋ − N², z = diff/SE_diff. Welch:
    t = (x̄_b − x̄_a)/√(s_a²/n_a + s_b²/n_b) with Welch–Satterthwaite df.
    Cohen's h = 2·asin√p_b − 2·asin√p_a; Hedges' g = d·(1 − 3/(4(n_a+n_b) − 9)).

    References
    ----------
    Newcombe, R. G. (1998). Interval estimation for the difference between
    independent proportions. Stat. Med. 17, 873–890. Cohen, J. (1988).
    Statistical Power Analysis for the Behavioral Sciences, 2nd ed.

    Examples
    --------
    >>> a = pd.DataFrame({"csat": [5] * 5 + [2] * 78})
    >>> b = pd.DataFrame({"csat": [5] * 12 + [1] * 87})
    >>> round(float(compare(a, b, metric="csat")["p_val"].iloc[0]), 3)
    0.159
    """
    kind = _kind(metric, csat, ces)
    check_option("mean_test", mean_test, ("welch", "mannwhitney"))
    if metric not in set(_present_metrics(a)) | set(_present_metrics(b)):
        _require_metric(pd.concat([a, b]), metric)
    va = _values(a, metric, kind)
    vb = _values(b, metric, kind)
    row = dict.fromkeys(_COMPARE_COLUMNS, np.nan)
    row.update(metric=metric, scale=_scale_name(metric, csat, ces), n_a=len(va), n_b=len(vb))
    na, nb = len(va), len(vb)
    z = _z(conf)
    if kind == "proportion":
        row.update(test="two_proportion_z", effect_type="cohen_h")
    elif kind == "nps":
        row.update(test="nps_z", effect_type="cohen_d_pm1")
    else:
        row.update(test="welch_t" if mean_test == "welch" else "mann_whitney_u",
                   effect_type="hedges_g" if mean_test == "welch" else "rank_biserial")
    if na == 0 or nb == 0:
        return pd.DataFrame([row], columns=_COMPARE_COLUMNS)
    ma, mb = va.mean(), vb.mean()
    if kind == "proportion":
        xa, xb = va.sum(), vb.sum()
        pool = (xa + xb) / (na + nb)
        se0 = math.sqrt(pool * (1 - pool) * (1 / na + 1 / nb))
        stat = (mb - ma) / se0 if se0 > 0 else np.nan
        lo, hi = _newcombe(xa, na, xb, nb, conf)
        row.update(
            value_a=100 * ma, value_b=100 * mb, diff=100 * (mb - ma),
            se_diff=100 * math.sqrt(ma * (1 - ma) / na + mb * (1 - mb) / nb),
            ci_low=100 * lo, ci_high=100 * hi, stat=stat,
            p_val=2 * stats.norm.sf(abs(stat)) if np.isfinite(stat) else np.nan,
            effect_size=2 * math.asin(math.sqrt(mb)) - 2 * math.asin(math.sqrt(ma)),
        )
    elif kind == "nps":
        var_a, var_b = va.var(ddof=0), vb.var(ddof=0)
        se = math.sqrt(var_a / na + var_b / nb)
        diff = mb - ma
        stat = diff / se if se > 0 else np.nan
        sd_pool = math.sqrt((na * var_a + nb * var_b) / (na + nb))
        row.update(
            value_a=100 * ma, value_b=100 * mb, diff=100 * diff, se_diff=100 * se,
            ci_low=100 * (diff - z * se), ci_high=100 * (diff + z * se), stat=stat,
            p_val=2 * stats.norm.sf(abs(stat)) if np.isfinite(stat) else np.nan,
            effect_size=diff / sd_pool if sd_pool > 0 else np.nan,
        )
    else:
        sa2 = va.var(ddof=1) if na > 1 else np.nan
        sb2 = vb.var(ddof=1) if nb > 1 else np.nan
        se = math.sqrt(sa2 / na + sb2 / nb)
        dof = (sa2 / na + sb2 / nb) ** 2 / ((sa2 / na) ** 2 / (na - 1) + (sb2 / nb) ** 2 / (nb - 1)) \
            if na > 1 and nb > 1 else np.nan
        tq = stats.t.ppf(0.5 + conf / 2, dof)
        diff = mb - ma
        row.update(value_a=ma, value_b=mb, diff=diff, se_diff=se, ci_low=diff - tq * se, ci_high=diff + tq * se)
        if mean_test == "welch":
            stat = diff / se if se > 0 else np.nan
            sp = math.sqrt(((na - 1) * sa2 + (nb - 1) * sb2) / (na + nb - 2)) if na + nb > 2 else np.nan
            d = diff / sp if sp and sp > 0 else np.nan
            row.update(stat=stat, dof=dof, p_val=2 * stats.t.sf(abs(stat), dof) if np.isfinite(stat) else np.nan,
                       effect_size=d * (1 - 3 / (4 * (na + nb) - 9)))
        else:
            res = stats.mannwhitneyu(vb, va, alternative="two-sided")
            row.update(stat=float(res.statistic), p_val=float(res.pvalue),
                       effect_size=2 * float(res.statistic) / (na * nb) - 1)
    return pd.DataFrame([row], columns=_COMPARE_COLUMNS)


def compare_segments(
    responses: pd.DataFrame,
    *,
    metric: str,
    segment: str,
    reference: str | None = "rest",
    fdr: str | None = "fdr_bh",
    alpha: float = 0.05,
    csat: str = "top2",
    ces: str = "mean",
    mean_test: str = "welch",
    conf: float = 0.95,
) -> pd.DataFrame:
    """Compare the headline across the levels of a segment, FDR-adjusted.

    Parameters
    ----------
    responses : DataFrame
        Survey responses with the ``segment`` column.
    metric : {"csat", "nps", "ces"}
    segment : str
        Column whose levels are compared (e.g. ``"queue"``, ``"channel"``).
    reference : "rest", a level, or None
        ``"rest"`` (default): each level against all other responses; a level
        name: each other level against that level; ``None``: all pairs.
    fdr : str or None
        Multiple-testing adjustment passed to statsmodels ``multipletests``
        (``"fdr_bh"`` Benjamini–Hochberg, ``"holm"``, ``"bonferroni"``,
        ``"fdr_by"``) or ``None`` for none.
    alpha : float
        Level at which ``significant`` is decided on the adjusted p-values.
    csat, ces, mean_test, conf
        As in :func:`compare`.

    Returns
    -------
    DataFrame
        One row per comparison, sorted by ``level``: ``segment`` (the column
        name), ``level``, ``reference``, then the columns of :func:`compare`
        (``_a`` = the reference, ``_b`` = the level, ``diff`` = level −
        reference), plus ``p_adj`` (adjusted p-value) and ``significant``
        (``p_adj < alpha``). Levels with no responses have NaN statistics and
        are left out of the adjustment.

    References
    ----------
    Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery rate.
    JRSS B 57, 289–300.

    Examples
    --------
    >>> s = pd.DataFrame({"q": ["x"] * 40 + ["y"] * 40, "csat": [5, 3] * 20 + [5] * 30 + [2] * 10})
    >>> compare_segments(s, metric="csat", segment="q")[["level", "diff"]].round(1)
      level  diff
    0     x -25.0
    1     y  25.0
    """
    from statsmodels.stats.multitest import multipletests

    check_option("fdr", fdr, ("fdr_bh", "fdr_by", "holm", "bonferroni", None))
    if segment not in responses.columns:
        raise DataError(f"segment column {segment!r} not in the responses; columns: {list(responses.columns)}")
    _require_metric(responses, metric)
    seg = responses[segment]
    levels = list(seg.cat.categories) if isinstance(seg.dtype, pd.CategoricalDtype) else sorted(seg.dropna().unique())
    opts = dict(metric=metric, csat=csat, ces=ces, mean_test=mean_test, conf=conf)
    rows = []
    if reference is None:
        pairs = [(la, lb) for i, la in enumerate(levels) for lb in levels[i + 1:]]
        for la, lb in pairs:
            r = compare(responses[seg == la], responses[seg == lb], **opts)
            rows.append(r.assign(level=lb, reference=la))
    elif reference == "rest":
        for lv in levels:
            r = compare(responses[(seg != lv) & seg.notna()], responses[seg == lv], **opts)
            rows.append(r.assign(level=lv, reference="rest"))
    else:
        if reference not in levels:
            raise ValueError(f"reference {reference!r} is not a level of {segment!r}; levels: {levels}")
        for lv in levels:
            if lv == reference:
                continue
            r = compare(responses[seg == reference], responses[seg == lv], **opts)
            rows.append(r.assign(level=lv, reference=reference))
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=[*_COMPARE_COLUMNS, "level", "reference"])
    out.insert(0, "segment", segment)
    out = out[["segment", "level", "reference", *_COMPARE_COLUMNS]]
    out["p_adj"] = np.nan
    ok = out["p_val"].notna()
    if ok.any():
        out.loc[ok, "p_adj"] = (
            multipletests(out.loc[ok, "p_val"].to_numpy(float), alpha=alpha, method=fdr)[1] if fdr
            else out.loc[ok, "p_val"]
        )
    out["significant"] = out["p_adj"] < alpha
    return out.reset_index(drop=True)


# ---------------------------------------------------------------------------
# agreement between metrics
# ---------------------------------------------------------------------------


def agreement(surveys: pd.DataFrame, *, conf: float = 0.95) -> pd.DataFrame:
    """Spearman rank correlation between the CX metrics on the same responses.

    Parameters
    ----------
    surveys : DataFrame
        Survey responses with two or more of ``csat``, ``nps``, ``ces``.
    conf : float
        Confidence level.

    Returns
    -------
    DataFrame
        One row per pair of metrics present:

        - ``x``, ``y`` : the metrics;
        - ``n`` : responses answering both;
        - ``r`` : Spearman's ρ (pingouin ``corr``);
        - ``ci_low``, ``ci_high`` : Fisher-z interval (pingouin ``compute_esci``);
        - ``p_val`` : two-sided p-value.

    Notes
    -----
    CES is oriented so that 7 = "made it easy", so all three correlate
    positively when they agree.

    Examples
    --------
    >>> s = pd.DataFrame({"csat": [1, 2, 3, 4, 5, 5, 4], "nps": [2, 4, 5, 8, 10, 9, 7]})
    >>> agreement(s)[["x", "y", "n"]]
          x    y  n
    0  csat  nps  7
    """
    import pingouin as pg

    present = _present_metrics(surveys)
    if len(present) < 2:
        raise DataError(f"agreement needs at least two metrics; metrics present: {present or 'none'}")
    rows = []
    for i, x in enumerate(present):
        for y in present[i + 1:]:
            both = surveys[[x, y]].apply(pd.to_numeric, errors="coerce").dropna()
            n = len(both)
            if n < 4:
                rows.append(dict(x=x, y=y, n=n, r=np.nan, ci_low=np.nan, ci_high=np.nan, p_val=np.nan))
                continue
            res = pg.corr(both[x].to_numpy(float), both[y].to_numpy(float), method="spearman")
            r = float(res["r"].iloc[0])
            lo, hi = pg.compute_esci(stat=r, nx=n, ny=n, eftype="r", confidence=conf, decimals=12)
            rows.append(dict(x=x, y=y, n=n, r=r, ci_low=float(lo), ci_high=float(hi),
                             p_val=float(res["p_val"].iloc[0])))
    return pd.DataFrame(rows, columns=["x", "y", "n", "r", "ci_low", "ci_high", "p_val"])


def agreement_crosstab(
    surveys: pd.DataFrame,
    *,
    rows: str = "nps",
    columns: str = "csat",
    normalize: str | None = None,
) -> pd.DataFrame:
    """Cross-tab of two metrics' categories on the same responses.

    Parameters
    ----------
    surveys : DataFrame
    rows, columns : {"csat", "nps", "ces"}
        Metrics for the rows and columns; categories as in
        :func:`score_responses` (NPS detractor/passive/promoter, CSAT
        not_top2/top2, CES disagree/neutral/agree).
    normalize : {None, "index", "all"}
        ``None``: counts; ``"index"``: percent of each row; ``"all"``:
        percent of all responses answering both.

    Returns
    -------
    DataFrame
        Index = the row metric's categories, columns = the column metric's
        categories; counts or percentages. Every category appears, even if empty.

    Examples
    --------
    >>> s = pd.DataFrame({"csat": [5, 4, 2, 1], "nps": [10, 8, 3, 9]})
    >>> agreement_crosstab(s)
    csat       not_top2  top2
    nps
    detractor         1     0
    passive           0     1
    promoter          1     1
    """
    check_option("normalize", normalize, (None, "index", "all"))
    if rows == columns:
        raise ValueError("rows and columns must be different metrics")
    a = score_responses(surveys, metric=rows)
    b = score_responses(surveys, metric=columns)
    ok = a["raw"].notna() & b["raw"].notna()
    tab = pd.crosstab(a.loc[ok, "category"], b.loc[ok, "category"], dropna=False)
    tab = tab.reindex(index=list(_CATEGORY_ORDER[rows]), columns=list(_CATEGORY_ORDER[columns]), fill_value=0)
    tab.index = pd.Index(tab.index.astype(str), name=rows)
    tab.columns = pd.Index(tab.columns.astype(str), name=columns)
    if normalize == "index":
        tab = 100 * tab.div(tab.sum(axis=1).replace(0, np.nan), axis=0)
    elif normalize == "all":
        tab = 100 * tab / max(int(tab.to_numpy().sum()), 1)
    return tab


# ---------------------------------------------------------------------------
# non-response bias
# ---------------------------------------------------------------------------

_DEFAULT_COVARIATES = ("wait_s", "talk_s", "hold_s", "acw_s", "resolved", "transferred", "channel")


def _surveyed_mask(contacts: pd.DataFrame, surveyed) -> np.ndarray:
    if isinstance(surveyed, str):
        if surveyed not in contacts.columns:
            raise DataError(f"surveyed column {surveyed!r} not in contacts")
        return contacts[surveyed].fillna(False).astype(bool).to_numpy()
    if isinstance(surveyed, pd.DataFrame):
        if "interaction_id" not in surveyed.columns:
            raise DataError("surveyed as a DataFrame needs an 'interaction_id' column (the surveys table)")
        return _isin(contacts["interaction_id"], surveyed["interaction_id"])
    arr = np.asarray(list(surveyed) if not hasattr(surveyed, "__len__") else surveyed)
    if arr.dtype == bool and len(arr) == len(contacts):
        return arr
    return _isin(contacts["interaction_id"], pd.Series(arr))


def _design(contacts: pd.DataFrame, covariates) -> pd.DataFrame:
    """Numeric design: numeric as float, bool as 0/1, categoricals as one dummy per level."""
    cols = {}
    for c in covariates:
        if c not in contacts.columns:
            raise DataError(f"covariate {c!r} not in contacts; columns: {list(contacts.columns)}")
        s = contacts[c]
        if pd.api.types.is_bool_dtype(s) or (s.dropna().isin([True, False]).all() and s.dtype == object):
            cols[c] = s.astype(float)
        elif pd.api.types.is_numeric_dtype(s):
            cols[c] = s.astype(float)
        else:
            for lv in sorted(s.dropna().astype(str).unique()):
                cols[f"{c}={lv}"] = (s.astype(str) == lv).astype(float).where(s.notna())
    return pd.DataFrame(cols, index=contacts.index)


def _wmean_var(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    ok = ~np.isnan(x) & (w > 0)
    x, w = x[ok], w[ok]
    if w.sum() <= 0:
        return np.nan, np.nan
    m = np.average(x, weights=w)
    v1, v2 = w.sum(), (w**2).sum()
    denom = v1 - v2 / v1
    var = np.sum(w * (x - m) ** 2) / denom if denom > 0 else np.nan
    return float(m), float(var)


def nonresponse_bias(
    contacts: pd.DataFrame,
    surveyed,
    *,
    covariates: Sequence[str] | None = None,
    weights=None,
    reference: str = "not_surveyed",
    threshold: float = 0.1,
) -> pd.DataFrame:
    """Do surveyed contacts differ from the rest? Standardized mean differences.

    Parameters
    ----------
    contacts : DataFrame
        The contacts that could have been surveyed (e.g. handled interactions).
    surveyed : array of bool, str, DataFrame or collection of ids
        Which contacts answered: a bool array aligned with ``contacts``, a
        bool column name, the ``surveys`` table (matched on
        ``interaction_id``) or a collection of interaction ids.
    covariates : sequence of str, optional
        Contact columns to compare. Default: those of ``wait_s``, ``talk_s``,
        ``hold_s``, ``acw_s``, ``resolved``, ``transferred``, ``channel``
        present. Text columns are expanded to one 0/1 indicator per level.
    weights : array-like, optional
        Weights for the surveyed contacts (aligned with ``contacts``; e.g.
        :func:`propensity_weights` ``weight``): the surveyed mean and variance
        are weighted, to check balance after weighting.
    reference : {"not_surveyed", "all"}
        The comparison group: contacts not surveyed (default; the raw
        non-response contrast) or all contacts (the population the surveyed
        should represent — use this to check :func:`propensity_weights`,
        which weight respondents towards all contacts).
    threshold : float
        |SMD| above which a covariate is flagged (Austin 2009: 0.1).

    Returns
    -------
    DataFrame
        One row per covariate (or level):

        - ``covariate`` : name (``column=level`` for expanded text columns);
        - ``kind`` : ``"binary"`` or ``"continuous"``;
        - ``reference`` : the comparison group;
        - ``n_surveyed``, ``n_reference`` : contacts with a value;
        - ``mean_surveyed``, ``mean_reference`` : means (shares for binary),
          the surveyed mean weighted when ``weights`` is given;
        - ``smd`` : standardized mean difference, surveyed − reference;
        - ``flag`` : ``|smd| > threshold``.

    Notes
    -----
    Continuous: d = (x̄₁ − x̄₀)/√((s₁² + s₀²)/2). Binary: d = (p₁ − p₀)/
    √((p₁(1−p₁) + p₀(1−p₀))/2). Pooled SD from both groups, unweighted.

    References
    ----------
    Austin, P. C. (2009). Balance diagnostics for comparing the distribution
    of baseline covariates between treatment groups in propensity-score
    matched samples. Stat. Med. 28, 3083–3107.

    Examples
    --------
    >>> c = pd.DataFrame({"interaction_id": list("abcdef"), "wait_s": [10., 20, 30, 40, 50, 60]})
    >>> nonresponse_bias(c, ["a", "b", "c"])[["covariate", "smd", "flag"]]
      covariate  smd  flag
    0    wait_s -3.0  True
    """
    check_option("reference", reference, ("not_surveyed", "all"))
    mask = _surveyed_mask(contacts, surveyed)
    ref_mask = ~mask if reference == "not_surveyed" else np.ones(len(mask), dtype=bool)
    if covariates is None:
        covariates = [c for c in _DEFAULT_COVARIATES if c in contacts.columns]
    X = _design(contacts, covariates)
    w = np.ones(len(contacts)) if weights is None else np.nan_to_num(np.asarray(weights, dtype=float), nan=0.0)
    rows = []
    for col in X.columns:
        x = X[col].to_numpy(float)
        x1, x0 = x[mask], x[ref_mask]
        binary = bool(np.isin(x[~np.isnan(x)], (0.0, 1.0)).all())
        m1, v1 = _wmean_var(x1, w[mask])
        m0, v0 = _wmean_var(x0, np.ones(len(x0)))
        if binary:
            pooled = math.sqrt((m1 * (1 - m1) + m0 * (1 - m0)) / 2) if np.isfinite(m1 + m0) else np.nan
        else:
            pooled = math.sqrt((v1 + v0) / 2) if np.isfinite(v1 + v0) else np.nan
        smd = (m1 - m0) / pooled if pooled and pooled > 0 else (0.0 if m1 == m0 else np.nan)
        rows.append(dict(covariate=col, kind="binary" if binary else "continuous", reference=reference,
                         n_surveyed=int(np.sum(~np.isnan(x1))), n_reference=int(np.sum(~np.isnan(x0))),
                         mean_surveyed=m1, mean_reference=m0, smd=smd))
    out = pd.DataFrame(rows, columns=["covariate", "kind", "reference", "n_surveyed", "n_reference",
                                      "mean_surveyed", "mean_reference", "smd"])
    out["flag"] = out["smd"].abs() > threshold
    return out


def propensity_weights(
    contacts: pd.DataFrame,
    surveyed,
    *,
    covariates: Sequence[str] | None = None,
    trim: tuple[float, float] = (0.01, 0.99),
) -> pd.DataFrame:
    """Inverse-propensity-of-response weights for the surveyed contacts.

    Parameters
    ----------
    contacts, surveyed, covariates
        As in :func:`nonresponse_bias`. Rows with a missing covariate get no
        propensity (NaN) and no weight.
    trim : (float, float)
        Quantiles of the surveyed contacts' weights at which weights are
        truncated (set to the quantile). ``(0, 1)`` disables trimming.

    Returns
    -------
    DataFrame
        One row per contact, in the order of ``contacts``:

        - ``interaction_id`` (when ``contacts`` has it);
        - ``surveyed`` : bool;
        - ``propensity`` : fitted P(surveyed | covariates);
        - ``weight`` : stabilized, truncated weight r̄ / ê(x) for surveyed
          contacts (NaN for the others), where r̄ is the overall response
          rate, so weights average about 1 and sum to about the number of
          respondents.

    Notes
    -----
    A logistic regression (statsmodels ``Logit``) of the response indicator
    on the covariates (text columns as indicators, first level dropped;
    numeric columns standardized). Weighting respondents by r̄/ê(x) makes
    them resemble all contacts on the covariates (check with
    :func:`nonresponse_bias` ``weights=``). Use the weights in
    :func:`summarize` (``weights=``), which uses Kish's effective n.

    References
    ----------
    Rosenbaum, P. R. & Rubin, D. B. (1983). The central role of the
    propensity score. Biometrika 70, 41–55. Cole, S. R. & Hernán, M. A.
    (2008). Constructing inverse probability weights for marginal structural
    models. Am. J. Epidemiol. 168, 656–664 (stabilized and truncated weights).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> c = pd.DataFrame({"interaction_id": [str(i) for i in range(400)], "wait_s": rng.exponential(60, 400)})
    >>> s = rng.random(400) < 1 / (1 + np.exp(-(c["wait_s"] - 60) / 30))
    >>> w = propensity_weights(c, s, covariates=["wait_s"])
    >>> bool(w.loc[w["surveyed"], "weight"].notna().all())
    True
    """
    from statsmodels.discrete.discrete_model import Logit

    mask = _surveyed_mask(contacts, surveyed)
    if covariates is None:
        covariates = [c for c in _DEFAULT_COVARIATES if c in contacts.columns]
    X = _design(contacts, covariates)
    # drop one indicator per expanded text column (reference level)
    drop = []
    for c in covariates:
        lv = [col for col in X.columns if col.startswith(f"{c}=")]
        if lv:
            drop.append(lv[0])
    X = X.drop(columns=drop)
    X = X.loc[:, X.std(ddof=0) > 0]
    X = (X - X.mean()) / X.std(ddof=0)
    ok = X.notna().all(axis=1).to_numpy()
    if mask[ok].all() or not mask[ok].any():
        raise DataError("propensity weights need both surveyed and not-surveyed contacts")
    Xok = X[ok].to_numpy(float)
    design = np.column_stack([np.ones(len(Xok)), Xok])
    model = Logit(mask[ok].astype(float), design).fit(disp=0, maxiter=200)
    prop = np.full(len(contacts), np.nan)
    prop[ok] = model.predict(design)
    rate = mask[ok].mean()
    w = np.where(mask & ok, rate / prop, np.nan)
    lo_q, hi_q = trim
    if not 0 <= lo_q < hi_q <= 1:
        raise ValueError(f"trim must be two quantiles 0 <= low < high <= 1; got {trim!r}")
    valid = w[~np.isnan(w)]
    if len(valid):
        lo, hi = np.quantile(valid, [lo_q, hi_q])
        w = np.where(np.isnan(w), np.nan, np.clip(w, lo, hi))
    out = pd.DataFrame({"surveyed": mask, "propensity": prop, "weight": w})
    if "interaction_id" in contacts.columns:
        out.insert(0, "interaction_id", contacts["interaction_id"].to_numpy())
    return out


# ---------------------------------------------------------------------------
# ROC AUC and DeLong
# ---------------------------------------------------------------------------


def roc_auc(y_true, score) -> float:
    """Area under the ROC curve, P(score₁ > score₀) + ½·P(tie).

    Parameters
    ----------
    y_true : array-like of bool/0-1
        Positive class indicator.
    score : array-like of float
        Higher = more likely positive.

    Returns
    -------
    float
        The Mann–Whitney AUC (equals sklearn ``roc_auc_score``); NaN when a
        class is empty.

    Examples
    --------
    >>> roc_auc([1, 1, 0, 0], [0.9, 0.4, 0.5, 0.1])
    0.75
    """
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(score, dtype=float)
    m, n = int(y.sum()), int((~y).sum())
    if m == 0 or n == 0:
        return float("nan")
    ranks = stats.rankdata(s)
    return float((ranks[y].sum() - m * (m + 1) / 2) / (m * n))


def _delong_parts(y: np.ndarray, scores: np.ndarray):
    """AUCs and DeLong covariance for k predictors (rows of ``scores``)."""
    pos, neg = scores[:, y], scores[:, ~y]
    m, n = pos.shape[1], neg.shape[1]
    k = scores.shape[0]
    aucs, v10, v01 = np.empty(k), np.empty((k, m)), np.empty((k, n))
    for r in range(k):
        tz = stats.rankdata(np.concatenate([pos[r], neg[r]]))
        tx, ty = stats.rankdata(pos[r]), stats.rankdata(neg[r])
        aucs[r] = (tz[:m].sum() - m * (m + 1) / 2) / (m * n)
        v10[r] = (tz[:m] - tx) / n
        v01[r] = 1 - (tz[m:] - ty) / m
    s10 = np.atleast_2d(np.cov(v10, ddof=1))
    s01 = np.atleast_2d(np.cov(v01, ddof=1))
    return aucs, s10 / m + s01 / n


def delong_test(y_true, score_a, score_b, *, conf: float = 0.95) -> pd.DataFrame:
    """DeLong's test for two correlated AUCs (same cases), fast algorithm.

    Parameters
    ----------
    y_true : array-like of bool/0-1
        Positive class indicator.
    score_a, score_b : array-like
        Two predictors of the same cases (higher = more likely positive).
    conf : float
        Confidence level of the interval of the difference.

    Returns
    -------
    DataFrame
        One row: ``n_pos``, ``n_neg``, ``auc_a``, ``auc_b``, ``diff``
        (a − b), ``se_diff``, ``ci_low``, ``ci_high``, ``z``, ``p_val``
        (two-sided), ``var_a``, ``var_b``, ``cov_ab``.

    Notes
    -----
    Structural components (placements) V₁₀(xᵢ) = share of negatives ranked
    below positive i (ties ½) and V₀₁(yⱼ) = share of positives ranked above
    negative j, obtained from mid-ranks (Sun & Xu 2014). S = S₁₀/m + S₀₁/n
    with S₁₀, S₀₁ the sample covariance matrices of the components;
    Var(AUC_a − AUC_b) = S_aa + S_bb − 2 S_ab, z = diff/√Var.

    References
    ----------
    DeLong, E. R., DeLong, D. M. & Clarke-Pearson, D. L. (1988). Comparing the
    areas under two or more correlated ROC curves. Biometrics 44, 837–845.
    Sun, X. & Xu, W. (2014). Fast implementation of DeLong's algorithm for
    comparing the areas under correlated ROC curves. IEEE SPL 21, 1389–1393.

    Examples
    --------
    >>> y = [1, 1, 1, 0, 0, 0]
    >>> out = delong_test(y, [.9, .7, .4, .6, .3, .2], [.8, .5, .1, .7, .4, .3])
    >>> round(float(out["z"].iloc[0]) ** 2, 6)  # z = sqrt(3)
    3.0
    """
    y = np.asarray(y_true).astype(bool)
    scores = np.vstack([np.asarray(score_a, dtype=float), np.asarray(score_b, dtype=float)])
    if scores.shape[1] != len(y):
        raise ValueError("y_true, score_a and score_b must have the same length")
    if np.isnan(scores).any():
        raise ValueError("scores must not contain NaN (use the cases both predictors score)")
    m, n = int(y.sum()), int((~y).sum())
    if m < 2 or n < 2:
        raise DataError(f"DeLong's test needs at least 2 positives and 2 negatives; got {m} and {n}")
    aucs, cov = _delong_parts(y, scores)
    diff = aucs[0] - aucs[1]
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    se = math.sqrt(max(var, 0.0))
    zq = _z(conf)
    zstat = diff / se if se > 0 else np.nan
    return pd.DataFrame([dict(
        n_pos=m, n_neg=n, auc_a=aucs[0], auc_b=aucs[1], diff=diff, se_diff=se,
        ci_low=diff - zq * se, ci_high=diff + zq * se, z=zstat,
        p_val=2 * stats.norm.sf(abs(zstat)) if np.isfinite(zstat) else np.nan,
        var_a=cov[0, 0], var_b=cov[1, 1], cov_ab=cov[0, 1],
    )])


def _auc_from_codes(codes: np.ndarray, stay: np.ndarray, k: int) -> float:
    """AUC = P(score_stayer > score_churner) + ½ ties, from integer score codes (0..k-1, ascending)."""
    both = np.bincount(2 * codes + stay, minlength=2 * k).astype(float)
    cc, cs = both[0::2], both[1::2]
    ns, nc = cs.sum(), cc.sum()
    if ns == 0 or nc == 0:
        return np.nan
    below = np.concatenate([[0.0], np.cumsum(cc)[:-1]])
    return float(np.sum(cs * (below + 0.5 * cc)) / (ns * nc))


# ---------------------------------------------------------------------------
# loyalty
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LoyaltyResult:
    """Which metric predicts churn: the result of :func:`loyalty_prediction`.

    Attributes
    ----------
    auc : DataFrame
        One row per metric: ``metric``, ``n_customers``, ``n_churned``,
        ``churn_rate_pct``, ``auc`` (P(score of a customer who stayed >
        score of one who churned), ties ½; 0.5 = no information), ``ci_low``,
        ``ci_high`` (percentile bootstrap), ``rank`` (1 = highest AUC).
    paired : DataFrame
        One row per pair of metrics, on customers with both: ``metric_a``,
        ``metric_b``, ``n_customers``, ``auc_a``, ``auc_b``, ``diff``
        (a − b), ``ci_low``, ``ci_high`` (paired percentile bootstrap),
        ``p_boot`` (z = diff / SD of the bootstrap differences, two-sided
        normal, as pROC's bootstrap ``roc.test``), ``z_delong``, ``p_delong``
        (:func:`delong_test`).
    coverage : DataFrame
        ``item`` / ``n`` counts: responses, responses from unknown customers
        (``unmatched_responses``), customers, customers without a survey,
        customers whose response is too recent for the horizon, customers
        excluded because churned before their anchor, customers analysed.
    recommended : str or None
        The metric with the highest AUC.
    """

    auc: pd.DataFrame
    paired: pd.DataFrame
    coverage: pd.DataFrame
    recommended: str | None


def _customer_anchor(responses, customers, *, horizon_days, start, end, metrics):
    """Pick each customer's anchor response and label churn within the horizon."""
    need = {"customer_id", "responded_at"}
    if not need <= set(responses.columns):
        raise DataError(f"responses need columns {sorted(need)}")
    if "customer_id" not in customers.columns:
        raise DataError("customers need a 'customer_id' column")
    if horizon_days <= 0:
        raise ValueError(f"horizon_days must be positive; got {horizon_days!r}")
    horizon = pd.Timedelta(days=horizon_days)
    keep_cols = ["customer_id", "responded_at", *[m for m in metrics if m in responses.columns]]
    r = responses[keep_cols].copy()
    r["responded_at"] = pd.to_datetime(r["responded_at"], utc=True)
    matched = _isin(r["customer_id"], customers["customer_id"])
    unmatched = int((~matched).sum())
    r = r[matched]
    end = r["responded_at"].max() if end is None else pd.Timestamp(end, tz="UTC") if pd.Timestamp(end).tz is None \
        else pd.Timestamp(end)
    cust = customers[["customer_id"]].copy()
    churned = (pd.to_datetime(customers["churned_at"], utc=True) if "churned_at" in customers.columns
               else pd.Series(pd.NaT, index=customers.index, dtype="datetime64[ns, UTC]"))
    churned = churned.astype("datetime64[ns, UTC]")
    cust["churned_at"] = churned
    n_customers = cust["customer_id"].nunique()
    with_survey = r["customer_id"].nunique()
    if start is None:
        eligible = r[r["responded_at"] <= end - horizon]
    else:
        start = pd.Timestamp(start, tz="UTC") if pd.Timestamp(start).tz is None else pd.Timestamp(start)
        eligible = r[r["responded_at"] < start]
    too_recent = with_survey - eligible["customer_id"].nunique()
    last = eligible.loc[eligible.groupby("customer_id", sort=True)["responded_at"].idxmax()]
    last = last.merge(cust.drop_duplicates("customer_id"), on="customer_id", how="left")
    t0 = last["responded_at"] if start is None else pd.Series(start, index=last.index)
    gone = last["churned_at"].notna() & (last["churned_at"] <= t0)
    excluded = int(gone.sum())
    last = last[~gone].copy()
    t0 = t0[~gone]
    last["anchor_at"] = t0.to_numpy()
    last["churned"] = (last["churned_at"].notna() & (last["churned_at"] <= t0 + horizon)).to_numpy()
    coverage = pd.DataFrame({
        "item": ["responses", "unmatched_responses", "customers", "customers_without_survey",
                 "customers_response_too_recent", "customers_churned_before_anchor", "customers_analysed"],
        "n": [len(responses), unmatched, n_customers, n_customers - with_survey, too_recent, excluded, len(last)],
    })
    return last.reset_index(drop=True), coverage


def loyalty_prediction(
    responses: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    metrics: Sequence[str] = METRICS,
    horizon_days: int = 180,
    n_boot: int = 500,
    seed: int = 0,
    start=None,
    end=None,
    conf: float = 0.95,
) -> LoyaltyResult:
    """Which CX metric best predicts churn? AUC per metric and paired comparisons.

    Parameters
    ----------
    responses : DataFrame
        Survey responses (``customer_id``, ``responded_at`` and metrics).
    customers : DataFrame
        Canonical ``customers`` (``customer_id``, ``churned_at``).
    metrics : sequence of str
        Metrics to evaluate; those absent from ``responses`` are skipped.
    horizon_days : int
        Churn counts when ``churned_at`` falls within this many days after
        the anchor.
    n_boot : int
        Bootstrap replicates (customers resampled with replacement).
    seed : int
        Seed of the bootstrap (``np.random.default_rng(seed)``).
    start : date-like, optional
        ``None`` (default): each customer is anchored at their *last response
        whose full horizon is observed* (responded_at ≤ end − horizon), and
        churn is counted within the horizon after that response. A date:
        landmark design — each customer's last response before ``start``,
        churn counted in (start, start + horizon].
    end : date-like, optional
        End of follow-up (default: the latest ``responded_at``).
    conf : float
        Confidence level of the bootstrap intervals.

    Returns
    -------
    LoyaltyResult
        ``auc``, ``paired``, ``coverage`` frames and the ``recommended``
        metric (see :class:`LoyaltyResult`).

    Notes
    -----
    The AUC uses the raw score (full scale; CES oriented 7 = easy), so it
    measures how well a higher score singles out customers who stay; it
    equals sklearn ``roc_auc_score(churned, -score)``. Customers with
    several responses contribute once (their anchor response); responses
    from customers missing from ``customers`` are counted in ``coverage``,
    never silently dropped; customers already churned at their anchor are
    excluded and counted. Bootstrap: the analysed customers are resampled
    with replacement, one draw per replicate shared by all metrics (so the
    comparisons are paired); each AUC uses the resampled customers who
    answered that metric (a pair: both metrics) on their anchor response.

    References
    ----------
    Hanley, J. A. & McNeil, B. J. (1982). The meaning and use of the area
    under a ROC curve. Radiology 143, 29–36. Robin, X. et al. (2011). pROC.
    BMC Bioinformatics 12, 77 (bootstrap test of paired ROC curves).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> n = 300
    >>> nps = rng.integers(0, 11, n)
    >>> r = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)],
    ...                   "responded_at": pd.Timestamp("2025-01-10", tz="UTC"), "nps": nps})
    >>> churn = rng.random(n) < 0.5 - 0.04 * nps
    >>> c = pd.DataFrame({"customer_id": r["customer_id"],
    ...                   "churned_at": pd.Series(pd.Timestamp("2025-03-01", tz="UTC"), index=range(n)).where(churn)})
    >>> res = loyalty_prediction(r, c, metrics=["nps"], n_boot=50, end="2025-12-31")
    >>> bool(res.auc["auc"].iloc[0] > 0.5)
    True
    """
    for m in metrics:
        check_option("metrics", m, METRICS)
    present = [m for m in metrics if m in _present_metrics(responses)]
    if not present:
        raise DataError(f"none of {list(metrics)} in the responses; metrics present: {_present_metrics(responses)}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1; got {n_boot!r}")
    anchors, coverage = _customer_anchor(responses, customers, horizon_days=horizon_days, start=start, end=end,
                                         metrics=present)
    rng = np.random.default_rng(seed)
    alpha = 100 * (1 - conf) / 2
    stay = ~anchors["churned"].to_numpy(bool)
    n_all = len(anchors)
    raw = {m: pd.to_numeric(anchors[m], errors="coerce").to_numpy(float) for m in present}
    codes, levels = {}, {}
    for m in present:
        ok = ~np.isnan(raw[m])
        vals, inv = np.unique(raw[m][ok], return_inverse=True)
        c = np.full(n_all, -1)
        c[ok] = inv
        codes[m], levels[m] = c, len(vals)
    pair_list = [(a, b) for i, a in enumerate(present) for b in present[i + 1:]]

    def aucs(idx):
        """AUC per metric and per pair (on customers with both) for one resample ``idx``."""
        st = stay[idx]
        single = {}
        for m in present:
            c = codes[m][idx]
            ok = c >= 0
            single[m] = _auc_from_codes(c[ok], st[ok], levels[m])
        pair = {}
        for a, b in pair_list:
            ca, cb = codes[a][idx], codes[b][idx]
            ok = (ca >= 0) & (cb >= 0)
            if ok.all() and (codes[a] >= 0).all() and (codes[b] >= 0).all():
                pair[(a, b)] = (single[a], single[b])
            else:
                pair[(a, b)] = (_auc_from_codes(ca[ok], st[ok], levels[a]),
                                _auc_from_codes(cb[ok], st[ok], levels[b]))
        return single, pair

    point_single, point_pair = aucs(np.arange(n_all))
    boot_single = {m: np.empty(n_boot) for m in present}
    boot_diff = {p: np.empty(n_boot) for p in pair_list}
    for rep in range(n_boot):
        sgl, pr = aucs(rng.integers(0, n_all, n_all)) if n_all else ({m: np.nan for m in present}, {})
        for m in present:
            boot_single[m][rep] = sgl[m]
        for p in pair_list:
            boot_diff[p][rep] = pr[p][0] - pr[p][1] if n_all else np.nan

    rows = []
    for m in present:
        ok = codes[m] >= 0
        st = stay[ok]
        bs = boot_single[m][np.isfinite(boot_single[m])]
        lo, hi = np.percentile(bs, [alpha, 100 - alpha]) if len(bs) else (np.nan, np.nan)
        rows.append(dict(metric=m, n_customers=int(ok.sum()), n_churned=int((~st).sum()),
                         churn_rate_pct=100 * float((~st).mean()) if ok.any() else np.nan,
                         auc=point_single[m], ci_low=float(lo), ci_high=float(hi)))
    auc_df = pd.DataFrame(rows)
    auc_df["rank"] = auc_df["auc"].rank(ascending=False, method="min").astype("Int64")
    pairs = []
    for a, b in pair_list:
        ok = (codes[a] >= 0) & (codes[b] >= 0)
        st = stay[ok]
        row = dict(metric_a=a, metric_b=b, n_customers=int(ok.sum()), auc_a=np.nan, auc_b=np.nan, diff=np.nan,
                   ci_low=np.nan, ci_high=np.nan, p_boot=np.nan, z_delong=np.nan, p_delong=np.nan)
        auc_a, auc_b = point_pair[(a, b)]
        if np.isfinite(auc_a) and np.isfinite(auc_b):
            d = boot_diff[(a, b)]
            d = d[np.isfinite(d)]
            sd = d.std(ddof=1) if len(d) > 1 else np.nan
            zb = (auc_a - auc_b) / sd if sd and sd > 0 else np.nan
            row.update(auc_a=auc_a, auc_b=auc_b, diff=auc_a - auc_b,
                       ci_low=float(np.percentile(d, alpha)) if len(d) else np.nan,
                       ci_high=float(np.percentile(d, 100 - alpha)) if len(d) else np.nan,
                       p_boot=2 * stats.norm.sf(abs(zb)) if np.isfinite(zb) else np.nan)
            if st.sum() >= 2 and (~st).sum() >= 2:
                dl = delong_test(st, raw[a][ok], raw[b][ok])
                row.update(z_delong=float(dl["z"].iloc[0]), p_delong=float(dl["p_val"].iloc[0]))
        pairs.append(row)
    paired = pd.DataFrame(pairs, columns=["metric_a", "metric_b", "n_customers", "auc_a", "auc_b", "diff", "ci_low",
                                          "ci_high", "p_boot", "z_delong", "p_delong"])
    best = auc_df.dropna(subset=["auc"]).sort_values(["auc", "metric"], ascending=[False, True])
    return LoyaltyResult(auc=auc_df, paired=paired, coverage=coverage,
                         recommended=str(best["metric"].iloc[0]) if len(best) else None)


def loyalty_calibration(
    responses: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    metrics: Sequence[str] = METRICS,
    horizon_days: int = 180,
    start=None,
    end=None,
    conf: float = 0.95,
) -> pd.DataFrame:
    """Churn rate by score band (promoters / passives / detractors, top-2-box, CES bands).

    Parameters
    ----------
    responses, customers, metrics, horizon_days, start, end
        As in :func:`loyalty_prediction` (same customer anchoring).
    conf : float
        Confidence level of the Wilson intervals.

    Returns
    -------
    DataFrame
        One row per metric and band (bands as ``category`` in
        :func:`score_responses`, worst band first):

        - ``metric``, ``band``;
        - ``n_customers``, ``n_churned``;
        - ``churn_rate_pct`` : churned within the horizon, percent;
        - ``ci_low``, ``ci_high`` : Wilson interval, percent (NaN when n = 0).

    Examples
    --------
    >>> r = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "nps": [10, 9, 3, 2],
    ...                   "responded_at": pd.Timestamp("2025-01-10", tz="UTC")})
    >>> c = pd.DataFrame({"customer_id": ["a", "b", "c", "d"],
    ...                   "churned_at": pd.to_datetime([None, None, "2025-02-01", None], utc=True)})
    >>> loyalty_calibration(r, c, metrics=["nps"], end="2025-12-31")[["band", "n_customers", "n_churned"]]
            band  n_customers  n_churned
    0  detractor            2          1
    1    passive            0          0
    2   promoter            2          0
    """
    present = [m for m in metrics if m in _present_metrics(responses)]
    if not present:
        raise DataError(f"none of {list(metrics)} in the responses; metrics present: {_present_metrics(responses)}")
    anchors, _ = _customer_anchor(responses, customers, horizon_days=horizon_days, start=start, end=end,
                                  metrics=present)
    rows = []
    for m in present:
        raw = pd.to_numeric(anchors[m], errors="coerce")
        band = _category(m, raw)
        for lv in _CATEGORY_ORDER[m]:
            sel = (band == lv).fillna(False).to_numpy(bool)
            n = int(sel.sum())
            k = int(anchors["churned"].to_numpy(bool)[sel].sum())
            lo, hi = wilson_interval(k, n, conf=conf)
            rows.append(dict(metric=m, band=lv, n_customers=n, n_churned=k,
                             churn_rate_pct=100 * k / n if n else np.nan,
                             ci_low=100 * float(lo), ci_high=100 * float(hi)))
    return pd.DataFrame(rows)


def loyalty_revenue(
    responses: pd.DataFrame,
    customer_revenue: pd.DataFrame,
    *,
    customers: pd.DataFrame | None = None,
    metrics: Sequence[str] = METRICS,
    horizon_days: int = 180,
    start=None,
    end=None,
    conf: float = 0.95,
) -> pd.DataFrame:
    """Does the score predict revenue change? Spearman of score vs change.

    Parameters
    ----------
    responses : DataFrame
        Survey responses.
    customer_revenue : DataFrame
        Canonical ``customer_revenue`` (``customer_id``, ``month``, ``revenue``).
    customers : DataFrame, optional
        Canonical ``customers``; default: the customers of ``customer_revenue``.
    metrics, horizon_days, start, end
        As in :func:`loyalty_prediction` (same customer anchoring).
    conf : float
        Confidence level.

    Returns
    -------
    DataFrame
        One row per metric: ``metric``, ``n_customers``, ``mean_change``
        (mean revenue change per month), ``r`` (Spearman's ρ of score vs
        revenue change), ``ci_low``, ``ci_high`` (Fisher z, pingouin),
        ``p_val``.

    Notes
    -----
    With k = round(horizon_days / 30.44) months, revenue change = mean
    monthly revenue over the k months after the anchor month − mean over the
    up to k months before it (both limited to the months the table covers).
    A month without a row inside the table's range counts as zero revenue
    (the customer was not active, e.g. after churning). Customers without
    any month before the anchor month are left out.

    Examples
    --------
    >>> r = pd.DataFrame({"customer_id": list("abcdef"), "csat": [5, 4, 3, 2, 1, 5],
    ...                   "responded_at": pd.Timestamp("2025-02-10", tz="UTC")})
    >>> months = pd.to_datetime(["2025-01-01", "2025-03-01"])
    >>> rev = pd.DataFrame({"customer_id": np.repeat(list("abcdef"), 2), "month": np.tile(months, 6),
    ...                     "revenue": [10, 12, 10, 11, 10, 10, 10, 9, 10, 8, 10, 13]})
    >>> loyalty_revenue(r, rev, metrics=["csat"], horizon_days=30, end="2025-12-31")[["metric", "n_customers"]]
      metric  n_customers
    0   csat            6
    """
    import pingouin as pg

    present = [m for m in metrics if m in _present_metrics(responses)]
    if not present:
        raise DataError(f"none of {list(metrics)} in the responses; metrics present: {_present_metrics(responses)}")
    need = {"customer_id", "month", "revenue"}
    if not need <= set(customer_revenue.columns):
        raise DataError(f"customer_revenue needs columns {sorted(need)}")
    if customers is None:
        customers = pd.DataFrame({"customer_id": customer_revenue["customer_id"].drop_duplicates()})
    anchors, _ = _customer_anchor(responses, customers, horizon_days=horizon_days, start=start, end=end,
                                  metrics=present)
    months = pd.to_datetime(customer_revenue["month"])
    mnum = (months.dt.year * 12 + months.dt.month - 1).to_numpy()
    first = int(mnum.min())
    n_months = int(mnum.max()) - first + 1
    k = max(1, round(horizon_days / 30.44))
    keep = _isin(customer_revenue["customer_id"], anchors["customer_id"])
    row = pd.Index(anchors["customer_id"].to_numpy(object)).get_indexer(
        customer_revenue.loc[keep, "customer_id"].to_numpy(object))
    mat = np.zeros((len(anchors), n_months))
    np.add.at(mat, (row, mnum[keep] - first), pd.to_numeric(customer_revenue.loc[keep, "revenue"]).to_numpy(float))
    cum = np.concatenate([np.zeros((len(anchors), 1)), np.cumsum(mat, axis=1)], axis=1)
    at = anchors["anchor_at"].dt.tz_convert("UTC")
    am = (at.dt.year * 12 + at.dt.month - 1).to_numpy() - first
    inside = (am >= 0) & (am < n_months)
    am_c = np.clip(am, 0, n_months - 1)
    b0 = np.maximum(0, am_c - k)
    a1 = np.minimum(n_months, am_c + 1 + k)
    rows_ = np.arange(len(anchors))
    nb_, na_ = am_c - b0, a1 - (am_c + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        before = (cum[rows_, am_c] - cum[rows_, b0]) / nb_
        after = (cum[rows_, a1] - cum[rows_, am_c + 1]) / na_
    has_rev = np.bincount(row, minlength=len(anchors)) > 0
    change = np.where(has_rev & inside & (nb_ > 0) & (na_ > 0), after - before, np.nan)
    rows = []
    for m in present:
        x = pd.to_numeric(anchors[m], errors="coerce").to_numpy(float)
        ok = ~np.isnan(x) & ~np.isnan(change)
        n = int(ok.sum())
        row = dict(metric=m, n_customers=n, mean_change=float(change[ok].mean()) if n else np.nan,
                   r=np.nan, ci_low=np.nan, ci_high=np.nan, p_val=np.nan)
        if n >= 4 and np.ptp(x[ok]) > 0 and np.ptp(change[ok]) > 0:
            res = pg.corr(x[ok], change[ok], method="spearman")
            r = float(res["r"].iloc[0])
            lo, hi = pg.compute_esci(stat=r, nx=n, ny=n, eftype="r", confidence=conf, decimals=12)
            row.update(r=r, ci_low=float(lo), ci_high=float(hi), p_val=float(res["p_val"].iloc[0]))
        rows.append(row)
    return pd.DataFrame(rows)


def recommend_metric(result: LoyaltyResult, *, current: str, alpha: float = 0.05) -> pd.DataFrame:
    """Should we steer by another metric? Compare the current metric with the best churn predictor.

    Parameters
    ----------
    result : LoyaltyResult
        Output of :func:`loyalty_prediction`.
    current : {"csat", "nps", "ces"}
        The metric the center steers by today.
    alpha : float
        Level of the paired DeLong test.

    Returns
    -------
    DataFrame
        One row: ``current``, ``best`` (highest AUC), ``auc_current``,
        ``auc_best``, ``diff`` (best − current), ``p_delong`` (paired),
        ``recommended`` and ``reason``. Rule: switch to ``best`` only when
        its AUC is higher with DeLong p < ``alpha``; otherwise keep
        ``current`` (a tie is no reason to change the metric people know).

    Examples
    --------
    >>> auc = pd.DataFrame({"metric": ["csat", "nps"], "auc": [0.60, 0.61]})
    >>> paired = pd.DataFrame({"metric_a": ["csat"], "metric_b": ["nps"], "p_delong": [0.4]})
    >>> r = LoyaltyResult(auc=auc, paired=paired, coverage=pd.DataFrame(), recommended="nps")
    >>> recommend_metric(r, current="csat")["recommended"].iloc[0]
    'csat'
    """
    check_option("current", current, METRICS)
    auc = result.auc.dropna(subset=["auc"]).set_index("metric")["auc"]
    if current not in auc.index:
        best = result.recommended
        return pd.DataFrame([dict(current=current, best=best, auc_current=np.nan,
                                  auc_best=auc.get(best, np.nan), diff=np.nan, p_delong=np.nan,
                                  recommended=best, reason=f"{current} could not be evaluated")])
    best = auc.sort_values(ascending=False).index[0]
    p = np.nan
    if best != current:
        pr = result.paired
        hit = pr[((pr["metric_a"] == best) & (pr["metric_b"] == current))
                 | ((pr["metric_a"] == current) & (pr["metric_b"] == best))]
        p = float(hit["p_delong"].iloc[0]) if len(hit) else np.nan
    B, C = best.upper(), current.upper()
    a_b, a_c = float(auc[best]), float(auc[current])
    if best == current:
        rec, reason = current, f"{C} has the highest churn AUC ({a_c:.3f})"
    elif np.isfinite(p) and p < alpha:
        rec = best
        reason = (f"{B} predicts churn significantly better than {C} (AUC {a_b:.3f} vs {a_c:.3f}, "
                  f"DeLong p = {p:.2g})")
    else:
        rec = current
        reason = (f"{B} has a slightly higher churn AUC than {C} ({a_b:.3f} vs {a_c:.3f}), but the difference "
                  f"is not significant (DeLong p = {p:.2g}), so keep {C}")
    return pd.DataFrame([dict(current=current, best=best, auc_current=float(auc[current]),
                              auc_best=float(auc[best]), diff=float(auc[best] - auc[current]), p_delong=p,
                              recommended=rec, reason=reason)])
