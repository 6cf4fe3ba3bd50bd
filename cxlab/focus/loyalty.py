"""Loyalty outcomes — what a KPI improvement is worth in customers kept and revenue.

Leadership decides in money and customers kept. This module carries a KPI
change through two fitted models, with the uncertainty of both carried
through one joint bootstrap:

    KPI change ──driver model──▶ CX change ──churn model──▶ churn change
        ──▶ customers retained per year ──▶ revenue per year

* :func:`churn_model` — customer-level logistic regression of churn within
  a horizon on the customer's anchored CX score (the anchoring rules of
  :func:`cxlab.metric.loyalty_prediction`), its average marginal effect, and an
  OLS of the customer's revenue change on the same score;
* :func:`value_of_change` — the chain for a stated KPI change, every link
  with a percentile bootstrap CI;
* :func:`describe_value` — the one sentence for the brief.

Scales
------
The driver model works on the contact frame's ``cx_value`` (headline units:
CSAT % top-2-box 0/100, NPS −100/0/100, CES mean 1–7); the churn model on
the per-response ``value`` of :func:`cxlab.metric.score_responses` (CSAT top-2
0/1, NPS −1/0/+1, CES 1–7). :data:`HEADLINE_PER_VALUE` converts one into the
other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import metric as cx
from .._utils import isin, logit_fit, require_columns
from ..errors import DataError, NotEnoughData, check_option
from ..metric.loyalty import customer_anchor
from ..metric.scoring import require_metric
from ._common import change_columns, coef_boot

__all__ = [
    "DEFAULT_DRIVERS",
    "HEADLINE_PER_VALUE",
    "ChurnModel",
    "churn_model",
    "ValueOfChange",
    "value_of_change",
    "describe_value",
]

#: Contact-grain drivers used when ``drivers`` is not given (those present in the frame).
DEFAULT_DRIVERS = ("resolved", "is_repeat", "transferred", "hold_s", "wait_s", "handle_s", "tenure_days",
                   "contact_reason")
#: Headline units (``cx_value`` of the contact frame) per unit of the per-response score.
HEADLINE_PER_VALUE = {"csat": 100.0, "nps": 100.0, "ces": 1.0}
_MONTH_DAYS = 30.44
_COEF_COLS = ["model", "term", "coef", "se", "ci_low", "ci_high", "p_val", "n"]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def _logit_fit(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, max_iter: int = 50) -> np.ndarray:
    """(intercept, slope) of a one-covariate logistic regression, frequency weights ``w`` (Newton–Raphson).

    Starts from the intercept-only solution (logit of the weighted churn rate) and stops on the step
    alone (< 1e-10); NaNs when the Hessian is singular (e.g. a resample with a constant score).
    """
    w = np.ones_like(x) if w is None else w
    ybar = np.clip((w @ y) / w.sum(), 1e-6, 1 - 1e-6)
    _, beta, ok = logit_fit(np.column_stack([np.ones_like(x), x]), y, w, beta0=[np.log(ybar / (1 - ybar)), 0.0],
                            max_iter=max_iter, step_tol=1e-10, ll_tol=None, eta_max=None)
    return beta if ok else np.full(2, np.nan)


def _ame(beta: np.ndarray, x: np.ndarray, w: np.ndarray | None, binary: bool) -> float:
    """Average marginal effect of the score on P(churn), per score unit."""
    if binary:  # discrete change 0 -> 1 (statsmodels get_margeff(dummy=True))
        return float(_logistic(beta[0] + beta[1]) - _logistic(beta[0]))
    p = _logistic(beta[0] + beta[1] * x)
    d = beta[1] * p * (1 - p)
    return float(d.mean() if w is None else (w @ d) / w.sum())


def _wslope(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> float:
    """OLS slope of y on x (frequency weights)."""
    w = np.ones_like(x) if w is None else w
    sw = w.sum()
    mx, my = (w @ x) / sw, (w @ y) / sw
    vx = w @ (x - mx) ** 2
    return float(w @ ((x - mx) * (y - my)) / vx) if vx > 0 else np.nan


def _require_customers(customers) -> pd.DataFrame:
    if customers is None:
        raise DataError(
            "the customers table is required to model churn: pass the canonical 'customers' table "
            "(customer_id, first_seen, churned_at), e.g. tables['customers']"
        )
    if not isinstance(customers, pd.DataFrame):
        raise TypeError(f"customers must be the canonical 'customers' DataFrame; got {type(customers).__name__}")
    require_columns(customers, ["customer_id", "churned_at"], what="customers table", table="customers")
    return customers


def _drop_bad_churn(responses: pd.DataFrame, customers: pd.DataFrame):
    """Customers whose churn predates their first contact (and their responses), counted."""
    if "first_seen" not in customers.columns:
        return responses, customers, 0, 0
    churned = pd.to_datetime(customers["churned_at"], utc=True)
    first = pd.to_datetime(customers["first_seen"], utc=True)
    bad = (churned < first).fillna(False).to_numpy(bool)
    if not bad.any():
        return responses, customers, 0, 0
    bad_ids = customers.loc[bad, "customer_id"]
    r_bad = isin(responses["customer_id"], bad_ids)
    return responses[~r_bad], customers[~bad], int(bad.sum()), int(r_bad.sum())


def _revenue_windows(anchors: pd.DataFrame, customer_revenue: pd.DataFrame, k: int):
    """Per anchor: mean monthly revenue in the k months before, the k after, and over [−k, 0] (level).

    Months are calendar months (UTC) relative to the anchor month; only months with a
    revenue row count (the customer was active), so churn does not enter the change.
    """
    require_columns(customer_revenue, ["customer_id", "month", "revenue"], what="customer_revenue",
                    table="customer_revenue")
    n = len(anchors)
    keep = isin(customer_revenue["customer_id"], anchors["customer_id"])
    rev = customer_revenue.loc[keep]
    row = pd.Index(anchors["customer_id"].to_numpy(object)).get_indexer(rev["customer_id"].to_numpy(object))
    months = pd.to_datetime(rev["month"])
    mnum = (months.dt.year * 12 + months.dt.month - 1).to_numpy()
    at = pd.to_datetime(anchors["anchor_at"], utc=True)
    am = (at.dt.year * 12 + at.dt.month - 1).to_numpy()
    rel = mnum - am[row]
    v = pd.to_numeric(rev["revenue"]).to_numpy(float)

    def mean_in(mask):
        s = np.bincount(row[mask], weights=v[mask], minlength=n)
        c = np.bincount(row[mask], minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(c > 0, s / np.maximum(c, 1), np.nan)

    return (mean_in((rel >= -k) & (rel < 0)), mean_in((rel > 0) & (rel <= k)), mean_in((rel >= -k) & (rel <= 0)))


def _coef_rows(model: str, res, names, n: int, conf: float) -> list[dict]:
    ci = np.asarray(res.conf_int(alpha=1 - conf))
    return [dict(model=model, term=t, coef=float(res.params[i]), se=float(res.bse[i]), ci_low=float(ci[i, 0]),
                 ci_high=float(ci[i, 1]), p_val=float(res.pvalues[i]), n=n) for i, t in enumerate(names)]


def _pct(x: np.ndarray, conf: float) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    if not len(x):
        return np.nan, np.nan
    a = 100 * (1 - conf) / 2
    lo, hi = np.percentile(x, [a, 100 - a])
    return float(lo), float(hi)


# ---------------------------------------------------------------------------
# churn model
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChurnModel:
    """Churn and revenue-change models on the CX score (the result of :func:`churn_model`).

    Attributes
    ----------
    coef : DataFrame
        One row per model term: ``model`` (``"churn"``: logit of churn within
        the horizon; ``"revenue_change"``: OLS of the monthly revenue change),
        ``term`` (``"const"`` or ``"score"``), ``coef`` (log-odds, or currency
        per month, per score unit), ``se``, ``ci_low``, ``ci_high`` (Wald),
        ``p_val``, ``n`` (customers in that model).
    ame : DataFrame
        One row: ``ame`` (change in P(churn within the horizon) per score
        unit, averaged over the analysed customers), ``se``, ``ci_low``,
        ``ci_high`` (delta method, statsmodels ``get_margeff``), ``kind``
        (``"discrete"`` for a 0/1 score, ``"dydx"`` otherwise),
        ``churn_rate`` (share churned), ``n``.
    coverage : DataFrame
        ``item``, ``n``, ``note``: every response and customer accounted for
        (unmatched responses, customers without a survey, churned before
        first contact, too recent for the horizon, ...).
    data : DataFrame
        One row per analysed customer: ``customer_id``, ``anchor_at``,
        ``score`` (per-response value), ``churned`` (bool),
        ``revenue_change`` (mean monthly revenue after − before; NaN when not
        available or churned within the horizon), ``monthly_revenue`` (mean
        over the anchor month and the months before it).
    metric : str
        The CX metric.
    horizon_days : int
        Churn horizon.
    binary : bool
        The score takes only the values 0 and 1.
    """

    coef: pd.DataFrame
    ame: pd.DataFrame
    coverage: pd.DataFrame
    data: pd.DataFrame = field(repr=False)
    metric: str = "csat"
    horizon_days: int = 180
    binary: bool = True


def churn_model(
    responses: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    metric: str = "csat",
    horizon_days: int = 180,
    customer_revenue: pd.DataFrame | None = None,
    start=None,
    end=None,
    conf: float = 0.95,
) -> ChurnModel:
    """Customer-level churn (logit) and revenue change (OLS) on the CX score.

    Parameters
    ----------
    responses : DataFrame
        Survey responses (``customer_id``, ``responded_at`` and ``metric``).
    customers : DataFrame
        Canonical ``customers`` (``customer_id``, ``churned_at``, optional
        ``first_seen``). Required.
    metric : {"csat", "nps", "ces"}
        CX metric; scored as in :func:`cxlab.metric.score_responses` with the
        headline defaults (CSAT top-2-box 0/1, NPS −1/0/+1, CES mean 1–7).
    horizon_days : int
        Churn counts when ``churned_at`` falls within this many days after
        the customer's anchor response.
    customer_revenue : DataFrame, optional
        Canonical ``customer_revenue`` (``customer_id``, ``month``,
        ``revenue``); without it no revenue-change model is fitted.
    start, end
        Anchoring, as in :func:`cxlab.metric.loyalty_prediction`.
    conf : float
        Confidence level of the Wald and delta-method intervals.

    Returns
    -------
    ChurnModel
        ``coef``, ``ame``, ``coverage`` and per-customer ``data`` (see
        :class:`ChurnModel`).

    Raises
    ------
    cxlab.errors.DataError
        No customers table, or it lacks ``customer_id`` / ``churned_at``;
        the metric is absent; churn or the score does not vary.

    Notes
    -----
    Each customer contributes one anchor response (the rules of
    :func:`cxlab.metric.loyalty_prediction`: the last response whose horizon is
    fully observed). With score x and churn y within the horizon,

    .. math:: \\Pr(y = 1 \\mid x) = \\Lambda(\\alpha + \\beta x), \\quad \\Lambda(z) = 1 / (1 + e^{-z}).

    The average marginal effect per score unit is
    :math:`\\Lambda(\\hat\\alpha + \\hat\\beta) - \\Lambda(\\hat\\alpha)` for a 0/1
    score (top-2-box), and :math:`n^{-1} \\sum_i \\hat\\beta \\hat p_i (1 - \\hat p_i)`
    otherwise. Revenue change = mean monthly revenue over the k =
    round(horizon_days / 30.44) months after the anchor month − the mean over
    the up to k months before, counting only months the customer was active;
    it is modelled on customers who did not churn within the horizon (so the
    revenue lost to churn is not counted twice):
    :math:`\\Delta \\mathrm{rev} = a + \\gamma x + e` (OLS).

    Customers whose ``churned_at`` is before their ``first_seen`` are
    excluded (with their responses) and counted; so are responses from
    customers missing from ``customers``, customers without a survey, with
    a response too recent for the horizon, already churned at the anchor,
    or whose anchor response skipped the metric.

    References
    ----------
    Hosmer, D. W., Lemeshow, S. & Sturdivant, R. X. (2013). *Applied Logistic
    Regression*, 3rd ed. Wiley. Williams, R. (2012). Using the margins command
    to estimate and interpret adjusted predictions and marginal effects.
    Stata Journal 12(2), 308–331.

    Examples
    --------
    >>> r = pd.DataFrame({"customer_id": [f"c{i}" for i in range(8)], "csat": [5, 5, 5, 5, 2, 2, 2, 2],
    ...                   "responded_at": pd.Timestamp("2025-01-10", tz="UTC")})
    >>> churn = pd.to_datetime(["2025-02-01", None, None, None, "2025-02-01", "2025-02-01", "2025-03-01", None],
    ...                        utc=True)
    >>> c = pd.DataFrame({"customer_id": r["customer_id"], "churned_at": churn})
    >>> m = churn_model(r, c, end="2025-12-31")
    >>> round(float(m.ame["ame"].iloc[0]), 2)  # 1/4 - 3/4
    -0.5
    """
    import statsmodels.api as sm

    customers = _require_customers(customers)
    check_option("metric", metric, cx.METRICS)
    require_metric(responses, metric)
    responses, customers, n_bad, r_bad = _drop_bad_churn(responses, customers)
    anchors, cov = customer_anchor(responses, customers, horizon_days=horizon_days, start=start, end=end,
                                   metrics=[metric])
    if len(anchors) == 0 or metric not in anchors or not anchors[metric].notna().any():
        raise NotEnoughData(f"none of the {len(responses):,} responses has a full {horizon_days}-day churn horizon "
                            f"inside the data (a shorter window or horizon_days would be needed)")
    score = cx.score_responses(anchors, metric=metric)["value"].to_numpy(float)
    ok = np.isfinite(score)
    n_missing = int((~ok).sum())
    data = pd.DataFrame({"customer_id": anchors["customer_id"].to_numpy(object)[ok],
                         "anchor_at": anchors["anchor_at"].to_numpy()[ok], "score": score[ok],
                         "churned": anchors["churned"].to_numpy(bool)[ok]})
    data["anchor_at"] = pd.to_datetime(data["anchor_at"], utc=True)
    x, y = data["score"].to_numpy(float), data["churned"].to_numpy(float)
    if len(y) < 3 or y.min() == y.max():
        raise NotEnoughData(f"churn within {horizon_days} days does not vary among the {len(y)} analysed customers; "
                        "a churn model needs both churners and stayers (check churned_at and the horizon)")
    if x.min() == x.max():
        raise DataError(f"the {metric} score is constant among the analysed customers; no churn model can be fit")
    binary = bool(np.isin(x, (0.0, 1.0)).all())
    X = sm.add_constant(x, has_constant="add")
    logit = sm.Logit(y, X).fit(disp=0, method="newton", maxiter=100)
    rows = _coef_rows("churn", logit, ["const", "score"], len(y), conf)
    mfx = logit.get_margeff(at="overall", method="dydx", dummy=binary)
    mci = np.asarray(mfx.conf_int(alpha=1 - conf))
    ame = pd.DataFrame([dict(ame=float(mfx.margeff[0]), se=float(mfx.margeff_se[0]), ci_low=float(mci[0, 0]),
                             ci_high=float(mci[0, 1]), kind="discrete" if binary else "dydx",
                             churn_rate=float(y.mean()), n=len(y))])

    n_rev = 0
    data["revenue_change"] = np.nan
    data["monthly_revenue"] = np.nan
    if customer_revenue is not None:
        k = max(1, round(horizon_days / _MONTH_DAYS))
        before, after, level = _revenue_windows(data, customer_revenue, k)
        change = np.where(data["churned"].to_numpy(bool), np.nan, after - before)
        data["revenue_change"] = change
        data["monthly_revenue"] = level
        okr = np.isfinite(change)
        n_rev = int(okr.sum())
        if n_rev >= 3 and np.ptp(x[okr]) > 0:
            ols = sm.OLS(change[okr], sm.add_constant(x[okr], has_constant="add")).fit()
            rows += _coef_rows("revenue_change", ols, ["const", "score"], n_rev, conf)
    coef = pd.DataFrame(rows, columns=_COEF_COLS)

    notes = {
        "responses": "survey responses received",
        "unmatched_responses": "responses from customer ids missing from the customers table (not analysed)",
        "customers": "customers in the customers table (after the exclusion below)",
        "customers_churned_before_first_seen": "excluded: churned_at is before first_seen (bad dates)",
        "responses_of_excluded_customers": "responses of those customers (not analysed)",
        "customers_without_survey": "no survey response: excluded (nothing to anchor on)",
        "customers_response_too_recent": "only responses whose churn horizon is not yet observed",
        "customers_churned_before_anchor": "already churned at their anchor response",
        "customers_metric_missing": f"anchor response skipped the {metric} question",
        "customers_analysed": "in the churn model",
        "customers_revenue_change": "in the revenue-change model (revenue before and after, not churned)",
    }
    c = dict(zip(cov["item"], cov["n"]))
    c["responses"] = int(c["responses"]) + r_bad
    c["customers_churned_before_first_seen"] = n_bad
    c["responses_of_excluded_customers"] = r_bad
    c["customers_metric_missing"] = n_missing
    c["customers_analysed"] = len(data)
    c["customers_revenue_change"] = n_rev
    coverage = pd.DataFrame({"item": list(notes), "n": [int(c[k]) for k in notes], "note": list(notes.values())})
    return ChurnModel(coef=coef, ame=ame, coverage=coverage, data=data, metric=metric, horizon_days=horizon_days,
                      binary=binary)


# ---------------------------------------------------------------------------
# the chain
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ValueOfChange:
    """What a KPI change is worth (the result of :func:`value_of_change`).

    Attributes
    ----------
    chain : DataFrame
        One row per link: ``link``, ``estimate``, ``ci_low``, ``ci_high``
        (percentile bootstrap), ``unit``. Links, in order:
        ``cx_change`` (headline units), ``churn_per_cx_unit`` (percentage
        points of churn within the horizon per headline unit),
        ``churn_change`` (percentage points per customer episode),
        ``customers_retained_per_year``, ``annual_revenue_per_customer``,
        ``revenue_retained_per_year`` (retained × annual revenue),
        ``revenue_change_per_year`` (spend change of the customers who stay),
        ``revenue_per_year`` (the sum). Money links are NaN without revenue.
    drivers : DataFrame
        One row per changed driver: ``driver``, ``change``, ``coef``,
        ``effect`` (headline units), ``ci_low``, ``ci_high``.
    churn : ChurnModel
        The fitted churn / revenue models (point estimates).
    coverage : DataFrame
        ``item``, ``n``, ``note``: the churn model's coverage plus the
        contact frame rows used and the exposure assumptions.
    changes : dict
        The KPI changes as given.
    metric : str
        CX metric.
    exposures_per_year : float
        Customer episodes per year the CX change applies to
        (customers_per_year × episodes_per_customer).
    replicates : DataFrame
        ``n_boot`` rows × links: the bootstrap replicates.
    conf : float
        Confidence level.
    """

    chain: pd.DataFrame
    drivers: pd.DataFrame
    churn: ChurnModel
    coverage: pd.DataFrame
    changes: dict
    metric: str
    exposures_per_year: float
    replicates: pd.DataFrame = field(repr=False)
    conf: float = 0.95


def _episodes(interactions: pd.DataFrame, gap_days: float) -> tuple[float, float, float]:
    """(customers with a handled contact, handled contacts starting an episode, days covered)."""
    require_columns(interactions, ["customer_id", "arrived_at"], what="interactions", table="interactions")
    t = pd.to_datetime(interactions["arrived_at"], utc=True).to_numpy("datetime64[ns]").astype(np.int64)
    codes, _ = pd.factorize(interactions["customer_id"].to_numpy(object))
    handled = (~interactions["abandoned"].fillna(False).to_numpy(bool) if "abandoned" in interactions
               else np.ones(len(t), bool))
    ok = codes >= 0
    codes, t, handled = codes[ok], t[ok], handled[ok]
    order = np.lexsort((t, codes))
    codes, t, handled = codes[order], t[order], handled[order]
    same = np.r_[False, codes[1:] == codes[:-1]]
    gap = np.r_[np.inf, np.diff(t).astype(float)] / 86_400e9
    start = handled & ~(same & (gap <= gap_days))
    days = max((t.max() - t.min()) / 86_400e9, 1.0) if len(t) else 1.0
    return float(np.unique(codes[handled]).size), float(start.sum()), float(days)


_PRETTY = {"resolved": "resolution", "is_repeat": "repeat contacts", "transferred": "transfers",
           "hold_s": "hold time", "wait_s": "wait time", "handle_s": "handle time", "fcr_pct": "FCR",
           "asa_s": "ASA", "service_level_pct": "service level", "day_service_level_pct": "service level"}


def value_of_change(
    contact_frame: pd.DataFrame,
    responses: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    changes: dict,
    metric: str = "csat",
    drivers=None,
    horizon_days: int = 180,
    n_boot: int = 200,
    seed: int = 0,
    customers_per_year: float | None = None,
    episodes_per_customer: float | None = None,
    revenue=None,
    interactions: pd.DataFrame | None = None,
    episode_gap_days: float = 7.0,
    start=None,
    end=None,
    conf: float = 0.95,
) -> ValueOfChange:
    """KPI change → CX change → churn → customers retained and revenue per year, with CIs.

    Parameters
    ----------
    contact_frame : DataFrame
        :func:`cxlab.sources.contact_frame` (``cx_value`` and the drivers)
        for the same ``metric``.
    responses : DataFrame
        Survey responses (``customer_id``, ``responded_at``, ``metric``).
    customers : DataFrame
        Canonical ``customers`` (required).
    changes : dict
        Driver column → change in its units, e.g. ``{"resolved": 0.05}``
        (a 0/1 flag: +5 points) or ``{"fcr_pct": 5}``.
    metric : {"csat", "nps", "ces"}
        CX metric (must match the contact frame's ``cx_value``).
    drivers : list of str, optional
        Drivers of the linear CX model (default: those of
        :data:`DEFAULT_DRIVERS` present, plus the changed columns).
    horizon_days : int
        Churn horizon of :func:`churn_model`.
    n_boot, seed : int
        Bootstrap replicates and seed.
    customers_per_year : float, optional
        Customers with a contact per year. Default: distinct customers with
        a handled contact in ``interactions`` (per 365 days), else the rows
        of ``customers`` per 365 days of responses.
    episodes_per_customer : float, optional
        Contact episodes per customer (the unit of the churn model is one
        customer after one contact). Default: from ``interactions`` — handled
        contacts with no earlier contact of the customer within
        ``episode_gap_days`` — else 1 (a lower bound).
    revenue : DataFrame or float, optional
        Canonical ``customer_revenue`` (annual revenue per customer and the
        revenue-change model are estimated and bootstrapped), or a number:
        the annual revenue per retained customer (no revenue-change link).
        ``None``: no money links.
    interactions : DataFrame, optional
        Canonical ``interactions``, used only to count episodes.
    episode_gap_days : float
        A contact within this many days of the customer's previous contact
        continues the same episode.
    start, end
        Anchoring of the churn model (:func:`cxlab.metric.loyalty_prediction`).
    conf : float
        Confidence level.

    Returns
    -------
    ValueOfChange
        ``chain`` (tidy: ``link``, ``estimate``, ``ci_low``, ``ci_high``,
        ``unit``), ``drivers``, ``churn``, ``coverage`` and the bootstrap
        ``replicates`` (see :class:`ValueOfChange`).

    Notes
    -----
    With Δx_k the KPI changes, β_k the OLS slopes of ``cx_value`` on the
    drivers (as :func:`cxlab.focus.what_if`), s = :data:`HEADLINE_PER_VALUE`,
    AME the churn model's average marginal effect per score unit, γ the
    revenue-change slope, E the episodes per year and R̄ the mean monthly
    revenue of the analysed customers (anchor month and the months before):

    * ΔCX = Σ_k β_k Δx_k (headline units);
    * Δp = AME · ΔCX / s (change in P(churn within the horizon) per episode);
    * customers retained per year = −Δp · E;
    * revenue retained per year = retained · 12 R̄;
    * revenue change per year = E · γ · ΔCX / s · 12;
    * revenue per year = the sum of the two.

    Bootstrap: each replicate resamples the contact-frame rows (the driver
    model, through :func:`cxlab.focus.what_if`'s resampling) and, independently, the
    analysed customers (churn logit, AME, γ and R̄ refitted), so both models'
    uncertainty reaches every link; percentile intervals. E is taken as
    known. The chain is an association under both models; it is causal only
    as far as the driver model's confounders are in it (step 6 tests that).

    References
    ----------
    Efron, B. & Tibshirani, R. J. (1993). *An Introduction to the Bootstrap*.
    Chapman & Hall. Reichheld, F. F. & Sasser, W. E. (1990). Zero defections:
    quality comes to services. Harvard Business Review 68(5), 105–111.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> n = 2000
    >>> drv = rng.uniform(-1, 1, n)
    >>> ces = np.clip(np.round(4 + drv + rng.normal(0, 0.5, n), 1), 1, 7)
    >>> r = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "ces": ces,
    ...                   "responded_at": pd.Timestamp("2025-01-10", tz="UTC")})
    >>> churn = rng.random(n) < 1 / (1 + np.exp(-(1.5 - 0.9 * ces)))
    >>> c = pd.DataFrame({"customer_id": r["customer_id"], "churned_at": pd.Series(
    ...     pd.Timestamp("2025-03-01", tz="UTC"), index=range(n)).where(churn)})
    >>> frame = r.assign(cx_value=ces, lever=drv)
    >>> v = value_of_change(frame, r, c, changes={"lever": 0.5}, metric="ces", drivers=["lever"],
    ...                     n_boot=50, customers_per_year=1000, revenue=600.0, end="2025-12-31")
    >>> v.chain["link"].tolist()[:3]
    ['cx_change', 'churn_per_cx_unit', 'churn_change']
    >>> bool(v.chain.set_index("link").loc["customers_retained_per_year", "estimate"] > 0)
    True
    """
    customers = _require_customers(customers)
    check_option("metric", metric, cx.METRICS)
    if not isinstance(changes, dict) or not changes:
        raise ValueError("changes must be a non-empty dict of driver column -> change, e.g. {'resolved': 0.05}")
    if n_boot < 10:
        raise ValueError(f"n_boot must be at least 10 for percentile intervals; got {n_boot!r}")
    if not isinstance(contact_frame, pd.DataFrame) or "cx_value" not in contact_frame.columns:
        raise DataError("contact_frame must be cxlab.sources.contact_frame(...) output with a 'cx_value' column")
    if drivers is None:
        drivers = [d for d in DEFAULT_DRIVERS if d in contact_frame.columns]
    drivers = list(drivers) + [c for c in changes if c not in drivers]
    require_columns(contact_frame, drivers, what="driver")
    frame = contact_frame.dropna(subset=["cx_value", *drivers])
    n_dropped = len(contact_frame) - len(frame)
    s = HEADLINE_PER_VALUE[metric]

    # --- driver model: point and resampled slopes (the resampling of cxlab.focus.what_if)
    design, b_hat, b_boot = coef_boot(frame, outcome="cx_value", drivers=drivers, groups=None, weights=None,
                                      n_boot=n_boot, seed=seed)
    cols = change_columns(design, changes)
    delta = np.zeros(len(cols))
    for c, d in changes.items():
        delta[cols.index(c)] = float(d)
    dcx_hat = float(b_hat @ delta)
    dcx_boot = b_boot @ delta
    B = len(dcx_boot)

    # --- churn / revenue models
    rev_table = revenue if isinstance(revenue, pd.DataFrame) else None
    if revenue is not None and rev_table is None and not np.isscalar(revenue):
        raise TypeError(f"revenue must be the customer_revenue DataFrame or a number; got {type(revenue).__name__}")
    model = churn_model(responses, customers, metric=metric, horizon_days=horizon_days,
                        customer_revenue=rev_table, start=start, end=end, conf=conf)
    d = model.data
    x, y = d["score"].to_numpy(float), d["churned"].to_numpy(float)
    chg, lvl = d["revenue_change"].to_numpy(float), d["monthly_revenue"].to_numpy(float)
    okc, okl = np.isfinite(chg), np.isfinite(lvl)

    def fit(w):
        beta = _logit_fit(x, y, w)
        ame = _ame(beta, x, w, model.binary)
        if rev_table is None:
            return ame, np.nan, (float(revenue) / 12 if revenue is not None else np.nan)
        gamma = _wslope(x[okc], chg[okc], None if w is None else w[okc])
        wl = np.ones(okl.sum()) if w is None else w[okl]
        level = float(wl @ lvl[okl] / wl.sum()) if wl.sum() > 0 else np.nan
        return ame, gamma, level

    # --- exposures
    notes = []
    cust_n, epi_n, days = (None, None, None)
    if interactions is not None and (customers_per_year is None or episodes_per_customer is None):
        cust_n, epi_n, days = _episodes(interactions, episode_gap_days)
    if customers_per_year is None:
        if cust_n is not None:
            customers_per_year = cust_n * 365.0 / days
            notes.append("customers with a handled contact in interactions, per 365 days")
        else:
            t = pd.to_datetime(responses["responded_at"], utc=True)
            span = max((t.max() - t.min()) / pd.Timedelta(days=1), 1.0)
            customers_per_year = len(customers) * 365.0 / span
            notes.append("rows of the customers table per 365 days of responses")
    else:
        notes.append("customers_per_year given")
    if episodes_per_customer is None:
        if cust_n:
            episodes_per_customer = epi_n / cust_n
            notes.append(f"episodes = handled contacts with no earlier contact within {episode_gap_days:g} days")
        else:
            episodes_per_customer = 1.0
            notes.append("one episode per customer (no interactions given): a lower bound")
    else:
        notes.append("episodes_per_customer given")
    E = float(customers_per_year) * float(episodes_per_customer)

    def links(dcx, ame, gamma, level):
        dp = ame * dcx / s
        kept = -dp * E
        rev_kept = kept * 12 * level
        rev_chg = E * gamma * dcx / s * 12 if rev_table is not None else (0.0 if revenue is not None else np.nan)
        return [dcx, 100 * ame / s, 100 * dp, kept, 12 * level, rev_kept, rev_chg, rev_kept + rev_chg]

    point = links(dcx_hat, *fit(None))
    rng = np.random.default_rng([seed, 1])
    n = len(x)
    reps = np.empty((B, len(point)))
    for b in range(B):
        w = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        reps[b] = links(dcx_boot[b], *fit(w))

    names = ["cx_change", "churn_per_cx_unit", "churn_change", "customers_retained_per_year",
             "annual_revenue_per_customer", "revenue_retained_per_year", "revenue_change_per_year",
             "revenue_per_year"]
    unit_cx = {"csat": "points of % top-2-box", "nps": "NPS points", "ces": "CES points (1-7)"}[metric]
    one_cx = {"csat": "point of % top-2-box", "nps": "NPS point", "ces": "CES point"}[metric]
    units = [unit_cx, f"churn percentage points per {one_cx}",
             "churn percentage points per customer episode", "customers per year", "currency per customer",
             "currency per year", "currency per year", "currency per year"]
    ci = [_pct(reps[:, j], conf) for j in range(len(names))]
    chain = pd.DataFrame({"link": names, "estimate": point, "ci_low": [c[0] for c in ci],
                          "ci_high": [c[1] for c in ci], "unit": units})
    if revenue is None:
        money = chain["link"].isin(names[4:])
        chain.loc[money, ["estimate", "ci_low", "ci_high"]] = np.nan

    drows = []
    for c, dv in changes.items():
        j = cols.index(c)
        lo, hi = _pct(b_boot[:, j] * float(dv), conf)
        drows.append(dict(driver=c, change=float(dv), coef=float(b_hat[j]), effect=float(b_hat[j] * dv),
                          ci_low=lo, ci_high=hi))
    extra = pd.DataFrame({
        "item": ["contact_frame_rows", "contact_frame_rows_missing_driver", "driver_model_rows", "bootstrap_replicates",
                 "customers_per_year", "episodes_per_customer", "exposures_per_year"],
        "n": [len(contact_frame), n_dropped, len(frame), B, customers_per_year, episodes_per_customer, E],
        "note": ["responses linked to their contact", "dropped: a driver or cx_value is missing",
                 "in the linear CX model", "joint replicates (drivers x customers)", notes[0], notes[1],
                 "customer episodes the CX change applies to, per year"],
    })
    coverage = pd.concat([model.coverage, extra], ignore_index=True)
    return ValueOfChange(chain=chain, drivers=pd.DataFrame(drows), churn=model, coverage=coverage,
                         changes=dict(changes), metric=metric, exposures_per_year=E,
                         replicates=pd.DataFrame(reps, columns=names), conf=conf)


# ---------------------------------------------------------------------------
# the sentence
# ---------------------------------------------------------------------------


def _fmt_change(col: str, dv: float) -> str:
    verb = "Raising" if dv > 0 else "Cutting"
    name = _PRETTY.get(col, col.replace("_", " "))
    a = abs(dv)
    if col.endswith("_s"):
        amount = f"{a:g} s"
    elif col.endswith("_pct"):
        amount = f"{a:g} points"
    elif a <= 1 and col in _PRETTY and not col.endswith(("_s", "_pct")):  # 0/1 flags: share -> points
        amount = f"{100 * a:g} points"
    else:
        amount = f"{a:g}"
    return f"{verb} {name} by {amount}"


def _sig(v: float) -> str:
    """About-count: two significant digits."""
    if not np.isfinite(v):
        return "—"
    if abs(v) < 10:
        return f"{v:.0f}"
    mag = 10 ** (int(np.floor(np.log10(abs(v)))) - 1)
    return f"{round(v / mag) * mag:,.0f}"


def describe_value(result: ValueOfChange, *, currency: str = "$") -> str:
    """One sentence for the brief: the chain's point estimates with their intervals.

    Parameters
    ----------
    result : ValueOfChange
        Output of :func:`value_of_change`.
    currency : str
        Currency symbol put before money amounts.

    Returns
    -------
    str
        E.g. "Raising resolution by 5 points would lift CSAT top-2-box by 1.9
        points [1.6, 2.2], keep about 310 customers a year [180, 440] and
        about $0.9M of revenue a year [0.5, 1.3]." Every number is computed;
        the CX change gets more decimals when its interval would otherwise
        collapse; money is left out when the result has none.

    Examples
    --------
    >>> chain = pd.DataFrame({"link": ["cx_change", "customers_retained_per_year", "revenue_per_year"],
    ...                       "estimate": [1.94, 312.0, 9.1e5], "ci_low": [1.6, 180.0, 5.2e5],
    ...                       "ci_high": [2.2, 441.0, 1.3e6], "unit": ["", "", ""]})
    >>> v = ValueOfChange(chain=chain, drivers=pd.DataFrame(), churn=None, coverage=pd.DataFrame(),
    ...                   changes={"resolved": 0.05}, metric="csat", exposures_per_year=1e5,
    ...                   replicates=pd.DataFrame())
    >>> describe_value(v)
    'Raising resolution by 5 points would lift CSAT top-2-box by 1.9 points [1.6, 2.2], keep about 310 customers a year [180, 440] and about $0.9M of revenue a year [0.5, 1.3].'
    """
    c = result.chain.set_index("link")
    lever = " and ".join(_fmt_change(k, float(v)) if i == 0 else _fmt_change(k, float(v))[0].lower()
                         + _fmt_change(k, float(v))[1:] for i, (k, v) in enumerate(result.changes.items()))
    what = {"csat": "CSAT top-2-box", "nps": "NPS", "ces": "CES"}[result.metric]
    unit = "points" if result.metric != "ces" else "points on the 1-7 scale"
    d, dlo, dhi = (float(c.loc["cx_change", k]) for k in ("estimate", "ci_low", "ci_high"))
    move = "lift" if d >= 0 else "lower"
    k, klo, khi = (float(c.loc["customers_retained_per_year", k]) for k in ("estimate", "ci_low", "ci_high"))
    keep = (f"keep about {_sig(k)} customers a year [{_sig(klo)}, {_sig(khi)}]" if k >= 0
            else f"lose about {_sig(-k)} customers a year [{_sig(-khi)}, {_sig(-klo)}]")
    dec = 1  # enough decimals that the interval's ends differ
    while dec < 3 and round(dlo, dec) == round(dhi, dec):
        dec += 1
    out = f"{lever} would {move} {what} by {abs(d):.{dec}f} {unit} [{dlo:.{dec}f}, {dhi:.{dec}f}], {keep}"
    if "revenue_per_year" in c.index and np.isfinite(c.loc["revenue_per_year", "estimate"]):
        m, mlo, mhi = (float(c.loc["revenue_per_year", k]) for k in ("estimate", "ci_low", "ci_high"))
        big = max(abs(m), abs(mlo), abs(mhi))
        scale, suffix = (1e6, "M") if big >= 1e6 or abs(m) >= 5e5 else (1e3, "k") if big >= 1e3 else (1.0, "")
        f = (lambda v: f"{v / scale:.1f}") if scale > 1 else (lambda v: f"{v:,.0f}")
        out += f" and about {currency}{f(m)}{suffix} of revenue a year [{f(mlo)}, {f(mhi)}]"
    else:
        out = out.replace(", keep", " and keep").replace(", lose", " and lose")
    return out + "."
