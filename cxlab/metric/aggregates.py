"""The CX headline from aggregate KPI sheets (no individual responses).

Many centers only export a daily or weekly KPI sheet: per period and queue, the
share of CSAT 4–5 (or the mean CSAT / CES, or the NPS) and the number of
responses behind it. :func:`summarize_aggregates` turns such rows into the
same table :func:`cxlab.metric.summarize` builds from responses, so step 01 can
state a headline and a trend for these centers too.

What a sheet can and cannot support:

* a **top-2-box / agree share** with its n is a binomial count: its Wilson
  interval is exactly the one the responses would give;
* a **mean** (CSAT 1–5, CES 1–7) or an **NPS** comes without its spread, so
  the interval uses the largest variance the value allows (below) — it is
  wider than, or equal to, the interval the responses would give: a
  conservative bound, flagged in ``interval``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .._utils import as_list, local_time_keys
from ..errors import DataError, check_option
from ..schema import CX_SCALES
from ._common import metric_kind, scale_name, z_quantile
from .scoring import default_margin, required_n, wilson_interval

__all__ = ["AGGREGATE_CX_COLUMNS", "aggregate_cx_columns", "summarize_aggregates"]

#: metric -> scale -> (value column, n column) of the aggregates table (cxlab.schema.AGGREGATES).
AGGREGATE_CX_COLUMNS = {
    "csat": {"top2": ("csat_top2", "csat_n"), "mean": ("csat_mean", "csat_n")},
    "nps": {"nps": ("nps_points", "nps_n")},
    "ces": {"mean": ("ces_mean", "ces_n")},
}
_TIME_KEYS = ("day", "week", "month")


def aggregate_cx_columns(aggregates, metric: str, *, csat: str = "top2", ces: str = "mean") -> tuple | None:
    """The (value, n) columns of ``aggregates`` that carry ``metric`` on the chosen scale, or None.

    Examples
    --------
    >>> a = pd.DataFrame({"csat_top2": [0.8], "csat_n": [40]})
    >>> aggregate_cx_columns(a, "csat"), aggregate_cx_columns(a, "csat", csat="mean"), aggregate_cx_columns(a, "nps")
    (('csat_top2', 'csat_n'), None, None)
    """
    check_option("metric", metric, ("csat", "nps", "ces"))
    scale = {"csat": csat, "nps": "nps", "ces": ces}[metric]
    cols = AGGREGATE_CX_COLUMNS[metric].get(scale)
    if aggregates is None or cols is None or not all(c in aggregates.columns for c in cols):
        return None
    v, n = cols
    ok = pd.to_numeric(aggregates[v], errors="coerce").notna() & (pd.to_numeric(aggregates[n], errors="coerce") > 0)
    return cols if ok.any() else None


def summarize_aggregates(
    aggregates: pd.DataFrame,
    *,
    metric: str,
    by=None,
    csat: str = "top2",
    ces: str = "mean",
    margin: float | None = None,
    conf: float = 0.95,
    timezone: str = "UTC",
) -> pd.DataFrame:
    """Headline CX value per period and/or segment from aggregate rows (value and n per row).

    Parameters
    ----------
    aggregates : DataFrame
        Canonical ``aggregates`` rows: ``period_start`` and, for the metric,
        ``csat_top2`` / ``csat_mean`` with ``csat_n``, ``nps_points`` with
        ``nps_n``, or ``ces_mean`` with ``ces_n``. ``answered`` (when present)
        gives the response rate.
    metric : {"csat", "nps", "ces"}
    by : str or list of str, optional
        Segment columns of ``aggregates`` and/or the local periods ``"day"``,
        ``"week"`` or ``"month"`` of ``period_start`` in ``timezone``.
    csat, ces : str
        Scale, as in :func:`cxlab.metric.score_responses`; CES ``agree``
        cannot be derived from a mean and raises.
    margin, conf : float
        As in :func:`cxlab.metric.summarize`.
    timezone : str
        IANA zone of the local periods.

    Returns
    -------
    DataFrame
        The columns of :func:`cxlab.metric.summarize` (``n`` = responses behind
        the rows, ``n_eff`` = ``n``), plus ``interval``: ``"Wilson"`` (exact
        for a share) or ``"bound"`` (conservative, see Notes); ``contacts``
        and ``response_rate`` when ``answered`` is present.

    Raises
    ------
    cxlab.errors.DataError
        No column pair carries the metric on that scale.

    Notes
    -----
    Rows combine by their n: the share is :math:`\\hat p = \\sum p_i n_i / \\sum n_i`
    and its Wilson interval uses :math:`x = n\\hat p` successes of
    :math:`n = \\sum n_i`. For a mean :math:`m` on a scale :math:`[a, b]` the
    variance of one answer is at most :math:`(m - a)(b - m)` (Bhatia & Davis
    2000), so the sample variance is at most :math:`(m-a)(b-m)\\,n/(n-1)` and the
    interval is :math:`m \\pm t_{n-1} \\sqrt{(m-a)(b-m)/(n-1)}`. For an
    NPS :math:`N` (as a fraction) the per-respondent variance
    :math:`p_+ + p_- - N^2` is at most :math:`1 - N^2` (no passives); the
    interval is :math:`N \\pm z\\sqrt{(1 - N^2)/n}`, ×100. Both bounds are
    attained (answers only at the two ends of the scale; no passives), where
    they equal :func:`cxlab.metric.summarize` on those answers, so no
    narrower interval is honest without the answers' spread. ``reliable`` / ``small_n`` compare ``n``
    with the worst-case :func:`cxlab.metric.required_n`, as for responses.

    References
    ----------
    Bhatia, R. and Davis, C. (2000). A better bound on the variance. *The
    American Mathematical Monthly* 107(4), 353–357.
    Wilson, E. B. (1927). Probable inference, the law of succession, and
    statistical inference. *JASA* 22, 209–212.

    Examples
    --------
    Two queues' daily rows, 75% of 30 and 50% of 10 answering 4–5: 27.5 of 40.

    >>> a = pd.DataFrame({"period_start": pd.to_datetime(["2025-01-06", "2025-01-06"], utc=True),
    ...                   "queue": ["q1", "q2"], "csat_top2": [0.75, 0.5], "csat_n": [30, 10]})
    >>> out = summarize_aggregates(a, metric="csat")
    >>> out[["n", "value", "ci_low", "ci_high", "interval"]].round(2).values.tolist()
    [[40, 68.75, 53.3, 80.9, 'Wilson']]
    >>> summarize_aggregates(a, metric="csat", by="queue")["value"].tolist()
    [75.0, 50.0]
    """
    kind = metric_kind(metric, csat, ces)
    cols = aggregate_cx_columns(aggregates, metric, csat=csat, ces=ces)
    if cols is None:
        scale = scale_name(metric, csat, ces)
        want = AGGREGATE_CX_COLUMNS[metric].get({"csat": csat, "nps": "nps", "ces": ces}[metric])
        raise DataError(f"the aggregates carry no {metric.upper()} ({scale}) values with their response counts"
                        + (f" (columns {want[0]!r} and {want[1]!r})" if want else
                           f": a {scale} share cannot be derived from aggregate means"))
    vcol, ncol = cols
    margin = default_margin(metric, csat=csat, ces=ces) if margin is None else float(margin)
    by = as_list(by, "by")
    missing = [k for k in by if k not in _TIME_KEYS and k not in aggregates.columns]
    if missing:
        raise DataError(f"by column(s) {missing} not in the aggregates; columns: {list(aggregates.columns)}")
    frame = aggregates
    time_keys = [k for k in by if k in _TIME_KEYS and k not in aggregates.columns]
    if time_keys:
        frame = frame.assign(**local_time_keys(frame["period_start"], time_keys, timezone))
    v = pd.to_numeric(frame[vcol], errors="coerce").astype(float)
    n_i = pd.to_numeric(frame[ncol], errors="coerce").astype(float)
    ok = v.notna() & (n_i > 0)
    if kind == "nps":
        v = v / 100.0  # points -> fraction
    parts = pd.DataFrame({"n": n_i.where(ok, 0.0), "sx": (v * n_i).where(ok, 0.0)}, index=frame.index)
    answered = "answered" in frame.columns
    if answered:
        parts["contacts"] = pd.to_numeric(frame["answered"], errors="coerce").where(ok)
    if by:
        agg = pd.concat([frame[by], parts], axis=1).groupby(by, observed=True, dropna=False, sort=True).sum(
            min_count=1).reset_index()
        agg["n"] = agg["n"].fillna(0.0)
        agg["sx"] = agg["sx"].fillna(0.0)
    else:
        agg = parts.sum(min_count=1).to_frame().T.fillna({"n": 0.0, "sx": 0.0})
    n = agg["n"].to_numpy(dtype=float)
    z = z_quantile(conf)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, agg["sx"].to_numpy(dtype=float) / n, np.nan)
        if kind == "proportion":
            value, se = 100 * mean, 100 * np.sqrt(mean * (1 - mean) / n)
            lo, hi = wilson_interval(mean * n, n, conf=conf)
            ci_low, ci_high, how = 100 * lo, 100 * hi, "Wilson"
        elif kind == "nps":
            value, se = 100 * mean, 100 * np.sqrt(np.clip(1 - mean**2, 0, None) / n)
            ci_low, ci_high, how = value - z * se, value + z * se, "bound"
        else:
            a, b = CX_SCALES[metric]
            value = mean
            # sample variance s² = pop. variance · n/(n−1) <= (m−a)(b−m) · n/(n−1): se = √(bound/(n−1))
            se = np.where(n > 1, np.sqrt(np.clip((mean - a) * (b - mean), 0, None) / (n - 1)), np.nan)
            tq = stats.t.ppf(0.5 + conf / 2, np.where(n > 1, n - 1, np.nan))
            ci_low, ci_high, how = value - tq * se, value + tq * se, "bound"
    n_req = required_n(metric=metric, moe=margin, conf=conf, csat=csat, ces=ces)
    out = agg[by].copy() if by else pd.DataFrame(index=agg.index)
    out["metric"] = metric
    out["scale"] = scale_name(metric, csat, ces)
    out["n"] = n.round().astype(int)
    out["n_eff"] = n
    out["value"] = value
    out["se"] = np.where(n > 0, se, np.nan)
    out["ci_low"] = np.where(n > 0, ci_low, np.nan)
    out["ci_high"] = np.where(n > 0, ci_high, np.nan)
    out["moe"] = (out["ci_high"] - out["ci_low"]) / 2
    out["n_required"] = n_req
    out["reliable"] = n >= n_req
    out["small_n"] = (n > 0) & (n < n_req)
    out["interval"] = how
    if answered:
        c = agg["contacts"].to_numpy(dtype=float)
        out["contacts"] = c
        with np.errstate(invalid="ignore", divide="ignore"):
            out["response_rate"] = np.where(c > 0, n / c, np.nan)
    return out.reset_index(drop=True)
