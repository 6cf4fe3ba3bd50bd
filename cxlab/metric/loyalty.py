"""Loyalty: which CX metric predicts churn — ROC AUC and DeLong's test, the
per-customer anchoring, bootstrap AUCs per metric and per pair, churn by score
band, revenue change, and the rule for recommending a metric.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._utils import isin, require_columns
from ..errors import DataError, NotEnoughData, check_option
from ._common import CATEGORY_ORDER, METRICS, categorize, present_metrics, spearman_ci, z_quantile
from .scoring import wilson_interval

__all__ = [
    "roc_auc",
    "delong_test",
    "LoyaltyResult",
    "loyalty_prediction",
    "loyalty_calibration",
    "loyalty_revenue",
    "recommend_metric",
]


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
    zq = z_quantile(conf)
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


def _present(responses: pd.DataFrame, metrics) -> list[str]:
    """The requested metrics answered in ``responses``; a DataError when none is."""
    present = [m for m in metrics if m in present_metrics(responses)]
    if not present:
        raise DataError(f"none of {list(metrics)} in the responses; metrics present: {present_metrics(responses)}")
    return present


def require_anchors(anchors: pd.DataFrame, coverage: pd.DataFrame, *, horizon_days: int) -> None:
    """Raise :class:`~cxlab.errors.NotEnoughData` when no customer can be analysed.

    Public for the other step packages (not in ``__all__``). The message says
    why, from the anchoring's ``coverage`` counts (no response matched a
    customer; every response too recent for the horizon; every customer
    churned before their response).

    Examples
    --------
    >>> cov = pd.DataFrame({"item": ["responses", "unmatched_responses", "customers_response_too_recent"],
    ...                     "n": [10, 0, 10]})
    >>> require_anchors(pd.DataFrame(), cov, horizon_days=180)
    Traceback (most recent call last):
    ...
    cxlab.errors.NotEnoughData: no customer has a response at least 180 days before the end of the data (10 customers responded too recently for the horizon)
    """
    if len(anchors):
        return
    n = dict(zip(coverage["item"], coverage["n"]))
    if not n.get("responses"):
        raise NotEnoughData("no survey response in the window")
    if n.get("unmatched_responses", 0) >= n["responses"]:
        raise NotEnoughData(f"none of the {n['responses']:,} responses has a customer id found in customers")
    if n.get("customers_response_too_recent"):
        raise NotEnoughData(f"no customer has a response at least {horizon_days} days before the end of the data "
                            f"({n['customers_response_too_recent']:,} customers responded too recently for the horizon)")
    raise NotEnoughData("no customer could be followed after a response (all churned before it)")


def customer_anchor(responses, customers, *, horizon_days, start, end, metrics):
    """Pick each customer's anchor response and label churn within the horizon.

    The anchoring shared by :func:`loyalty_prediction`, :func:`loyalty_calibration`
    and :func:`loyalty_revenue`; public for the other step packages (not in ``__all__``).

    Parameters
    ----------
    responses, customers, horizon_days, start, end
        As in :func:`loyalty_prediction`.
    metrics : sequence of str
        Metric columns of ``responses`` to carry onto the anchors.

    Returns
    -------
    (anchors, coverage) : tuple of DataFrame
        ``anchors``: one row per analysed customer (``customer_id``,
        ``responded_at``, the metrics, ``churned_at``, ``anchor_at``, ``churned``);
        ``coverage``: the ``item`` / ``n`` counts of :attr:`LoyaltyResult.coverage`.

    Examples
    --------
    >>> r = pd.DataFrame({"customer_id": ["a", "a", "b"], "nps": [3, 9, 10],
    ...                   "responded_at": pd.to_datetime(["2025-01-01", "2025-02-01", "2025-02-01"], utc=True)})
    >>> c = pd.DataFrame({"customer_id": ["a", "b"], "churned_at": pd.to_datetime(["2025-05-01", None], utc=True)})
    >>> anchors, _ = customer_anchor(r, c, horizon_days=180, start=None, end="2025-12-31", metrics=["nps"])
    >>> anchors[["customer_id", "nps", "churned"]]
      customer_id  nps  churned
    0           a    9     True
    1           b   10    False
    """
    require_columns(responses, ["customer_id", "responded_at"], what="responses")
    require_columns(customers, ["customer_id"], what="customers", table="customers")
    if horizon_days <= 0:
        raise ValueError(f"horizon_days must be positive; got {horizon_days!r}")
    horizon = pd.Timedelta(days=horizon_days)
    keep_cols = ["customer_id", "responded_at", *[m for m in metrics if m in responses.columns]]
    r = responses[keep_cols].copy()
    r["responded_at"] = pd.to_datetime(r["responded_at"], utc=True)
    matched = isin(r["customer_id"], customers["customer_id"])
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
    last["anchor_at"] = pd.to_datetime(pd.Series(t0.to_numpy(), index=last.index), utc=True)
    last["churned"] = (last["churned_at"].notna() & (last["churned_at"] <= t0 + horizon)).to_numpy()
    coverage = pd.DataFrame({
        "item": ["responses", "unmatched_responses", "customers", "customers_without_survey",
                 "customers_response_too_recent", "customers_churned_before_anchor", "customers_analysed"],
        "n": [len(responses), unmatched, n_customers, n_customers - with_survey, too_recent, excluded, len(last)],
    })
    return last.reset_index(drop=True), coverage


def _anchored(responses, customers, *, horizon_days, start, end, metrics):
    """:func:`customer_anchor`, then :func:`require_anchors` (NotEnoughData when no customer is left)."""
    anchors, coverage = customer_anchor(responses, customers, horizon_days=horizon_days, start=start, end=end,
                                        metrics=metrics)
    require_anchors(anchors, coverage, horizon_days=horizon_days)
    return anchors, coverage


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

    Raises
    ------
    cxlab.errors.NotEnoughData
        No customer can be analysed (:func:`require_anchors`: no response
        matches a customer, or none is old enough for the horizon, e.g. a
        60-day window with a 180-day horizon). :func:`loyalty_calibration`
        and :func:`loyalty_revenue` raise the same.

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
    present = _present(responses, metrics)
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1; got {n_boot!r}")
    anchors, coverage = _anchored(responses, customers, horizon_days=horizon_days, start=start, end=end,
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
    present = _present(responses, metrics)
    anchors, cov = _anchored(responses, customers, horizon_days=horizon_days, start=start, end=end,
                             metrics=present)
    rows = []
    for m in present:
        raw = pd.to_numeric(anchors[m], errors="coerce")
        band = categorize(m, raw)
        for lv in CATEGORY_ORDER[m]:
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
    present = _present(responses, metrics)
    require_columns(customer_revenue, ["customer_id", "month", "revenue"], what="customer_revenue",
                    table="customer_revenue")
    if customers is None:
        customers = pd.DataFrame({"customer_id": customer_revenue["customer_id"].drop_duplicates()})
    anchors, cov = _anchored(responses, customers, horizon_days=horizon_days, start=start, end=end,
                             metrics=present)
    # months may arrive as text (a CSV export) or tz-aware timestamps: coerce to naive month starts
    months = pd.to_datetime(customer_revenue["month"], errors="coerce", utc=True).dt.tz_localize(None)
    if months.isna().all():
        raise NotEnoughData(f"column 'month' of customer_revenue has no readable date "
                            f"({len(customer_revenue):,} rows)")
    customer_revenue = customer_revenue[months.notna()]
    months = months[months.notna()]
    mnum = (months.dt.year * 12 + months.dt.month - 1).to_numpy()
    first = int(mnum.min())
    n_months = int(mnum.max()) - first + 1
    k = max(1, round(horizon_days / 30.44))
    keep = isin(customer_revenue["customer_id"], anchors["customer_id"])
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
            row.update(spearman_ci(x[ok], change[ok], conf))
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
