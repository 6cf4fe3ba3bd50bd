"""Scoring: per-response scores, headline values with honest uncertainty, sample size.

Every function takes data first and options keyword-only and returns a tidy
DataFrame whose columns are documented.

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
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .._utils import as_list, local_time_keys, require_columns
from ..errors import DataError, check_option
from ..schema import CX_SCALES
from ._common import (
    METRICS,
    categorize,
    metric_kind,
    present_metrics,
    raw_scores,
    response_values,
    scale_name,
    z_quantile,
)

__all__ = [
    "METRICS",
    "join_contacts",
    "score_responses",
    "summarize",
    "required_n",
    "default_margin",
    "nps_variance",
    "wilson_interval",
    "summary_table",
]

_TIME_KEYS = ("day", "week", "month")


def require_metric(frame: pd.DataFrame, metric: str) -> None:
    """Raise unless ``metric`` is a known CX metric answered at least once in ``frame``.

    Public for the other step packages (not in ``__all__``).

    Raises
    ------
    ValueError
        ``metric`` is not one of :data:`METRICS`.
    cxlab.errors.DataError
        The column is missing or entirely null; the message lists the metrics present.

    Examples
    --------
    >>> require_metric(pd.DataFrame({"csat": [4, 5]}), "csat")
    >>> require_metric(pd.DataFrame({"csat": [4, 5]}), "nps")
    Traceback (most recent call last):
    ...
    cxlab.errors.DataError: metric 'nps' is not in the surveys (column missing or all null); metrics present: ['csat']
    """
    check_option("metric", metric, METRICS)
    if metric not in present_metrics(frame):
        present = present_metrics(frame)
        raise DataError(
            f"metric {metric!r} is not in the surveys (column missing or all null); "
            f"metrics present: {present if present else 'none'}"
        )



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
    return frame.assign(**local_time_keys(frame[time_col], time_keys, timezone))


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
    half-width = z / (1 + z²/n) · √(p̂(1−p̂)/n + z²/4n²), clipped to [0, 1].
    Computed by ``statsmodels.stats.proportion.proportion_confint(method="wilson")``
    (NaN where n ≤ 0).

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
    from statsmodels.stats.proportion import proportion_confint

    z_quantile(conf)  # checks conf
    x = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        low, high = proportion_confint(x, n, alpha=1 - conf, method="wilson")
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
    kind = metric_kind(metric, csat, ces)
    require_metric(surveys, metric)
    raw = raw_scores(surveys, metric)
    return surveys.assign(
        metric=metric,
        scale=scale_name(metric, csat, ces),
        raw=raw,
        category=categorize(metric, raw),
        value=response_values(metric, kind, raw),
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
    return _default_margin(metric, metric_kind(metric, csat, ces), pts)


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
    kind = metric_kind(metric, csat, ces)
    if not moe or moe <= 0:
        raise ValueError(f"moe must be positive; got {moe!r}")
    z = z_quantile(conf)
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
    gate_ci: bool = False,
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
        ``False`` (default): every row with a response gets its interval,
        small or not, and ``small_n`` flags the rows below the required n.
        ``True``: small-n rows get NaN intervals (the old behaviour, kept for
        callers that want it).

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
        - ``small_n`` : the row has responses but fewer than ``n_required``
          (its interval is wider than ``margin``; shown, and flagged);
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

    *Small n.* A row is ``reliable`` when its (effective) n reaches the
    worst-case sample size for ``margin``; otherwise ``small_n`` is True.
    Every row with responses keeps its interval: a small sample shows its
    honest (wide) interval and the flag, rather than a bare value. (With
    ``gate_ci=True`` the intervals of small-n rows are left NaN.) A row with
    ``n = 0`` has NaN value and interval. An interval needs n ≥ 1 for
    proportions and NPS and n ≥ 2 for means.

    Examples
    --------
    >>> s = pd.DataFrame({"nps": [10, 9, 9, 8, 7, 3]})
    >>> out = summarize(s, metric="nps")
    >>> out[["n", "value", "se", "ci_low", "ci_high", "small_n"]].round(2)
       n  value     se  ci_low  ci_high  small_n
    0  6  33.33  30.43  -26.31    92.97     True
    """
    kind = metric_kind(metric, csat, ces)
    margin = _default_margin(metric, kind) if margin is None else float(margin)
    by = as_list(by, "by")
    scored = score_responses(responses, metric=metric, csat=csat, ces=ces)
    scored = _with_keys(scored, by, "responded_at", timezone)
    if weights is None:
        w = pd.Series(1.0, index=scored.index)
    else:
        require_columns(scored, [weights], what="weights")
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

    z = z_quantile(conf)
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
    out["scale"] = scale_name(metric, csat, ces)
    out["n"] = n.to_numpy()
    out["n_eff"] = n_eff
    out["value"] = value
    out["se"] = se
    out["ci_low"] = ci_low
    out["ci_high"] = ci_high
    out["moe"] = (ci_high - ci_low) / 2
    out["n_required"] = n_req
    out["reliable"] = reliable
    out["small_n"] = (n.to_numpy() > 0) & ~reliable
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

    ``value`` becomes "—" when n = 0; a small-n row shows its value with
    "(n<385)" appended beside its (wide) interval; every row with an interval
    shows it as "[low, high]" ("—" when there is none, e.g. one response to
    a mean).

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
       n          value             ci
    0  3  66.7 (n<385)  [20.8, 93.9]
    """
    meta = {"metric", "scale", "n", "n_eff", "value", "se", "ci_low", "ci_high", "moe", "n_required",
            "reliable", "small_n", "pct_promoters", "pct_detractors", "contacts", "response_rate", "interval"}
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


