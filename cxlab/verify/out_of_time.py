"""Step 6, out of time: fit the driver model on a training window, predict a later holdout.

The driver model is compared with naive baselines (last value, weekday
mean) on the holdout window, and the driver ranking is refit there to see
whether it stays the same (:func:`holdout`, :func:`rank_stability`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._utils import as_list, require_columns
from ..errors import DataError, NotEnoughData, check_option
from ._common import check_prob, ols, to_stamp, to_time

__all__ = ["Holdout", "holdout", "rank_stability", "skill_interval"]


@dataclass(frozen=True)
class Holdout:
    """Result of :func:`holdout`.

    Attributes
    ----------
    predictions : DataFrame
        One row per period: ``segment`` (only with ``segment=``), ``date``,
        ``window`` (``"train"`` / ``"holdout"``), ``actual`` (observed
        outcome), ``predicted`` (driver model), ``last_value`` (last training
        value carried forward), ``seasonal_mean`` (training mean of the same
        weekday), ``residual`` (actual − predicted).
    scores : DataFrame
        Holdout accuracy, one row per ``method`` (``driver_model``,
        ``last_value``, ``seasonal_mean``): ``mae``, ``rmse``, ``n`` (holdout
        periods) and ``skill`` — the driver model's skill score against this
        method, ``1 − MSE_model / MSE_method`` (0 on the model's own row;
        positive = the model beats the baseline) with its interval
        ``skill_ci_low``, ``skill_ci_high`` (:func:`skill_interval`; NaN on
        the model's own row).
    coefficients : DataFrame
        One row per ``window`` × ``driver``: ``coef`` (outcome units per
        driver unit), ``ci_low``, ``ci_high``, ``p_val``, ``std_coef``
        (coef × sd(driver) / sd(outcome)), ``importance`` (the ranking score:
        |std_coef| or the LMG share), ``rank`` (1 = most important).
    stability : DataFrame
        :func:`rank_stability` of the training vs the holdout ranks (one row).
    fit : DataFrame
        One row per window: ``n`` periods, ``r2``, ``rmse_in_sample``.
    """

    predictions: pd.DataFrame
    scores: pd.DataFrame
    coefficients: pd.DataFrame
    stability: pd.DataFrame
    fit: pd.DataFrame




def _importance(frame: pd.DataFrame, coefs: pd.DataFrame, *, outcome, drivers, method: str) -> pd.Series:
    sd_x = frame[drivers].std(ddof=1).to_numpy()
    sd_y = frame[outcome].std(ddof=1)
    std_coef = coefs["coef"].to_numpy() * sd_x / sd_y
    if method == "std_coef":
        return pd.Series(np.abs(std_coef), index=drivers), std_coef
    from .. import focus  # lazy: step 5 loads only when the LMG ranking is asked for

    table = focus.relative_importance(frame, outcome=outcome, drivers=list(drivers))
    if not isinstance(table, pd.DataFrame) and hasattr(table, "importance"):
        table = table.importance
    key = "driver" if "driver" in table.columns else table.columns[0]
    for col in ("lmg", "importance", "share", "r2_share", "value"):
        if col in table.columns:
            return table.set_index(key)[col].reindex(drivers).astype(float), std_coef
    raise DataError(f"cxlab.focus.relative_importance returned no importance column: {list(table.columns)}")


def _holdout_one(frame, *, outcome, drivers, split, date_col, importance, alpha):
    frame = frame.dropna(subset=[outcome, *drivers]).sort_values(date_col)
    train = frame[frame[date_col] < split]
    test = frame[frame[date_col] >= split]
    k = len(drivers)
    if len(train) < k + 3:
        raise NotEnoughData(f"holdout: the training window has {len(train)} complete periods; need at least {k + 3}")
    if len(test) < max(3, k + 2):
        raise NotEnoughData(f"holdout: the holdout window has {len(test)} complete periods; need at least {max(3, k + 2)}")

    coef_rows, fit_rows, models = [], [], {}
    for window, part in (("train", train), ("holdout", test)):
        model, coefs = ols(part[outcome].to_numpy(float), part[drivers].to_numpy(float), drivers, alpha)
        score, std_coef = _importance(part, coefs, outcome=outcome, drivers=drivers, method=importance)
        coefs["std_coef"] = std_coef
        coefs["importance"] = score.to_numpy()
        coefs["rank"] = coefs["importance"].rank(ascending=False, method="min").astype(int)
        coefs.insert(0, "window", window)
        coef_rows.append(coefs)
        fit_rows.append({"window": window, "n": len(part), "r2": model.rsquared,
                         "rmse_in_sample": float(np.sqrt(np.mean(model.resid**2)))})
        models[window] = model

    import statsmodels.api as sm

    model = models["train"]
    pred_train = model.predict(sm.add_constant(train[drivers].to_numpy(float), has_constant="add"))
    pred_test = model.predict(sm.add_constant(test[drivers].to_numpy(float), has_constant="add"))
    weekday_mean = train.groupby(train[date_col].dt.day_of_week)[outcome].mean()
    last = float(train[outcome].iloc[-1])
    preds = pd.concat(
        [
            pd.DataFrame({"date": train[date_col].to_numpy(), "window": "train",
                          "actual": train[outcome].to_numpy(float), "predicted": pred_train}),
            pd.DataFrame({"date": test[date_col].to_numpy(), "window": "holdout",
                          "actual": test[outcome].to_numpy(float), "predicted": pred_test}),
        ],
        ignore_index=True,
    )
    preds["last_value"] = np.where(preds["window"] == "holdout", last, np.nan)
    seasonal = pd.to_datetime(preds["date"]).dt.day_of_week.map(weekday_mean).astype(float)
    preds["seasonal_mean"] = np.where(preds["window"] == "holdout", seasonal, np.nan)
    preds["residual"] = preds["actual"] - preds["predicted"]

    hold = preds[preds["window"] == "holdout"]
    mse = {}
    rows = []
    for method, col in (("driver_model", "predicted"), ("last_value", "last_value"),
                        ("seasonal_mean", "seasonal_mean")):
        err = (hold["actual"] - hold[col]).to_numpy(float)
        err = err[np.isfinite(err)]
        mse[method] = float(np.mean(err**2))
        rows.append({"method": method, "mae": float(np.mean(np.abs(err))),
                     "rmse": float(np.sqrt(mse[method])), "n": int(err.size)})
    scores = pd.DataFrame(rows)
    scores["skill"] = [1 - mse["driver_model"] / mse[m] if mse[m] > 0 else np.nan for m in scores["method"]]
    e_model = (hold["actual"] - hold["predicted"]).to_numpy(float)
    bounds = [skill_interval(e_model, (hold["actual"] - hold[col]).to_numpy(float), alpha=alpha)
              if method != "driver_model" else (np.nan, np.nan)
              for method, col in (("driver_model", "predicted"), ("last_value", "last_value"),
                                  ("seasonal_mean", "seasonal_mean"))]
    scores["skill_ci_low"] = [b[0] for b in bounds]
    scores["skill_ci_high"] = [b[1] for b in bounds]

    coefficients = pd.concat(coef_rows, ignore_index=True).drop(columns="se")
    a = coefficients[coefficients["window"] == "train"][["driver", "importance"]]
    b = coefficients[coefficients["window"] == "holdout"][["driver", "importance"]]
    stability = rank_stability(a, b)
    return preds, scores, coefficients, stability, pd.DataFrame(fit_rows)


def holdout(
    period_frame: pd.DataFrame,
    *,
    outcome: str,
    drivers,
    split_date,
    date_col: str = "date",
    segment: str | None = None,
    importance: str = "std_coef",
    alpha: float = 0.05,
) -> Holdout:
    """Out-of-time validation of the driver model.

    Fits ``outcome ~ drivers`` by OLS on the periods before ``split_date``
    and predicts the outcome of the later periods from their observed
    drivers. The accuracy is compared with two naive forecasts that know
    nothing of the drivers, and the driver ranking is refit on the holdout
    window to see whether it stays the same.

    Parameters
    ----------
    period_frame : DataFrame
        One row per period (per segment with ``segment=``): the outcome
        beside the driver KPIs.
    outcome : str
        The CX column, e.g. ``"csat_top2_pct"``.
    drivers : list of str
        Driver columns.
    split_date : date-like
        First day of the holdout window; earlier periods train the model.
    date_col : str, default "date"
        The period column.
    segment : str, optional
        A column whose values are analysed separately; every output then has
        a ``segment`` column. Without it the frame must hold one row per date.
    importance : {"std_coef", "lmg"}, default "std_coef"
        How drivers are ranked: absolute standardized coefficient, or the
        LMG share from :func:`cxlab.focus.relative_importance`.
    alpha : float, default 0.05
        1 − confidence level of the coefficient intervals.

    Returns
    -------
    Holdout
        Frozen dataclass of ``predictions``, ``scores``, ``coefficients``,
        ``stability`` and ``fit`` (columns documented in :class:`Holdout`).

    Notes
    -----
    With holdout errors :math:`e_t = y_t - \\hat y_t` over :math:`n` periods,
    :math:`MAE = \\frac1n\\sum|e_t|`, :math:`RMSE = \\sqrt{\\frac1n\\sum e_t^2}`.
    The skill score against a baseline is
    :math:`SS = 1 - MSE_{model}/MSE_{baseline}` (Murphy 1988): 1 is a perfect
    forecast, 0 no better than the baseline, negative worse. The baselines:
    *last value* carries the last training value forward; *seasonal mean*
    forecasts the training mean of the same weekday.

    The holdout prediction uses the holdout's *observed* drivers: it tests
    the driver–CX relation, not a forecast of the drivers themselves.

    References
    ----------
    .. [1] Hyndman, R.J. & Athanasopoulos, G. (2021) *Forecasting: principles
       and practice*, 3rd ed., ch. 5.8 (evaluating point forecast accuracy)
       and 5.2 (simple benchmark methods). https://otexts.com/fpp3/
    .. [2] Murphy, A.H. (1988) Skill scores based on the mean square error and
       their relationships to the correlation coefficient. *Monthly Weather
       Review* 116, 2417–2424.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> days = pd.date_range("2025-01-01", periods=120, freq="D")
    >>> fcr = rng.normal(70, 4, 120); sl = rng.normal(80, 6, 120)
    >>> csat = 20 + 0.8 * fcr + 0.1 * sl + rng.normal(0, 1, 120)
    >>> frame = pd.DataFrame({"date": days, "fcr_pct": fcr, "sl_pct": sl, "csat": csat})
    >>> res = holdout(frame, outcome="csat", drivers=["fcr_pct", "sl_pct"], split_date="2025-04-01")
    >>> res.scores[["method", "n"]]
              method   n
    0   driver_model  30
    1     last_value  30
    2  seasonal_mean  30
    >>> bool(res.scores.loc[0, "rmse"] < res.scores.loc[2, "rmse"])
    True
    >>> res.stability.loc[0, "top_first"]
    'fcr_pct'
    """
    drivers = as_list(drivers)
    if not drivers:
        raise ValueError("drivers must name at least one column")
    check_option("importance", importance, ("std_coef", "lmg"))
    check_prob("alpha", alpha)
    require_columns(period_frame, [date_col, outcome, *drivers, *as_list(segment)], what="period_frame")
    frame = period_frame.copy()
    frame[date_col] = to_time(frame[date_col])
    split = to_stamp(split_date, frame[date_col])

    groups = [(None, frame)] if segment is None else list(frame.groupby(segment, sort=True))
    parts = {k: [] for k in ("predictions", "scores", "coefficients", "stability", "fit")}
    for key, part in groups:
        if segment is None and part[date_col].duplicated().any():
            raise ValueError("period_frame has several rows per date; pass segment= to analyse each segment")
        res = _holdout_one(part, outcome=outcome, drivers=drivers, split=split, date_col=date_col,
                           importance=importance, alpha=alpha)
        for name, table in zip(parts, res):
            if segment is not None:
                table = table.copy()
                table.insert(0, "segment", key)
            parts[name].append(table)
    return Holdout(**{k: pd.concat(v, ignore_index=True) for k, v in parts.items()})


def rank_stability(
    first: pd.DataFrame,
    second: pd.DataFrame,
    *,
    key: str = "driver",
    value: str = "importance",
    top: int = 3,
) -> pd.DataFrame:
    """How similar two driver rankings are (e.g. training vs holdout window).

    Parameters
    ----------
    first, second : DataFrame
        Importance tables with a ``key`` column (driver name) and a ``value``
        column (larger = more important). Only drivers in both are compared.
    key, value : str
        Column names.
    top : int, default 3
        Size of the top-k sets compared in ``top_overlap``.

    Returns
    -------
    DataFrame
        One row: ``n_drivers``; ``spearman`` (rank correlation of the two
        importance vectors) and ``spearman_p``; ``kendall_tau`` (tau-b) and
        ``kendall_p``; ``top_first`` and ``top_second`` (the most important
        driver in each); ``same_top`` (bool); ``top_overlap`` (share of the
        first table's top-``top`` drivers that are also in the second's).

    Notes
    -----
    Spearman's :math:`\\rho` is the Pearson correlation of the ranks;
    Kendall's :math:`\\tau_b = (n_c - n_d)/\\sqrt{(n_0-n_1)(n_0-n_2)}`
    counts concordant minus discordant pairs, corrected for ties. With
    fewer than 3 drivers both are undefined (NaN).

    References
    ----------
    .. [1] Kendall, M.G. (1938) A new measure of rank correlation.
       *Biometrika* 30, 81–93. scipy.stats.kendalltau, scipy.stats.spearmanr.

    Examples
    --------
    >>> a = pd.DataFrame({"driver": ["fcr", "sl", "aht", "hold"], "importance": [0.5, 0.3, 0.1, 0.05]})
    >>> b = pd.DataFrame({"driver": ["fcr", "sl", "aht", "hold"], "importance": [0.6, 0.1, 0.2, 0.01]})
    >>> r = rank_stability(a, b)
    >>> float(r.loc[0, "spearman"]), float(r.loc[0, "kendall_tau"]), bool(r.loc[0, "same_top"])
    (0.8, 0.6666666666666669, True)
    """
    require_columns(first, [key, value], what="first")
    require_columns(second, [key, value], what="second")
    merged = first[[key, value]].merge(second[[key, value]], on=key, suffixes=("_1", "_2")).dropna()
    n = len(merged)
    x, y = merged[f"{value}_1"].to_numpy(float), merged[f"{value}_2"].to_numpy(float)
    if n >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
        rho, rho_p = stats.spearmanr(x, y)
        tau, tau_p = stats.kendalltau(x, y)
    else:
        rho = rho_p = tau = tau_p = np.nan
    order1 = merged.sort_values(f"{value}_1", ascending=False, kind="stable")[key].tolist()
    order2 = merged.sort_values(f"{value}_2", ascending=False, kind="stable")[key].tolist()
    k = min(top, n)
    overlap = len(set(order1[:k]) & set(order2[:k])) / k if k else np.nan
    return pd.DataFrame(
        [{
            "n_drivers": n,
            "spearman": float(rho), "spearman_p": float(rho_p),
            "kendall_tau": float(tau), "kendall_p": float(tau_p),
            "top_first": order1[0] if n else None, "top_second": order2[0] if n else None,
            "same_top": bool(n and order1[0] == order2[0]),
            "top_overlap": overlap,
        }]
    )


def skill_interval(e_model, e_base, *, alpha: float = 0.05, lags: int | None = None) -> tuple[float, float]:
    r"""Interval of the MSE skill score ``1 − MSE_model / MSE_base`` from paired forecast errors.

    Parameters
    ----------
    e_model, e_base : array-like
        Forecast errors of the model and of the baseline on the same
        periods (pairs with a non-finite value are dropped).
    alpha : float, default 0.05
        1 − confidence level.
    lags : int, optional
        Newey–West lags; default :math:`\lfloor 4 (n/100)^{2/9} \rfloor`.

    Returns
    -------
    (float, float)
        Lower and upper bound (NaN with fewer than 3 pairs or a zero
        baseline MSE).

    Notes
    -----
    With :math:`a = \overline{e_m^2}`, :math:`b = \overline{e_b^2}` and
    :math:`SS = 1 - a/b`, the delta method linearizes
    :math:`u_t = -(e_{m,t}^2 - a)/b + a (e_{b,t}^2 - b)/b^2`, so
    :math:`Var(\widehat{SS}) \approx \hat\Omega_u / n` with
    :math:`\hat\Omega_u` the Newey–West (Bartlett) long-run variance of
    :math:`u_t` — the squared errors of consecutive days are correlated,
    as in the Diebold–Mariano test. Interval :math:`SS \pm z_{1-\alpha/2}
    \sqrt{\hat\Omega_u / n}`. A skill whose interval covers 0 does not
    show that the model beats the baseline.

    References
    ----------
    .. [1] Diebold, F.X. & Mariano, R.S. (1995) Comparing predictive
       accuracy. *J. Business & Economic Statistics* 13, 253–263.
    .. [2] Newey, W.K. & West, K.D. (1987) A simple, positive semi-definite,
       heteroskedasticity and autocorrelation consistent covariance matrix.
       *Econometrica* 55, 703–708.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> base = rng.normal(0, 2, 200); model = 0.5 * base + rng.normal(0, 0.5, 200)
    >>> lo, hi = skill_interval(model, base)
    >>> bool(0 < lo < 1 - np.mean(model**2) / np.mean(base**2) < hi < 1)
    True
    """
    check_prob("alpha", alpha)
    em, eb = np.asarray(e_model, float), np.asarray(e_base, float)
    ok = np.isfinite(em) & np.isfinite(eb)
    em, eb = em[ok], eb[ok]
    n = em.size
    if n < 3:
        return (np.nan, np.nan)
    a, b = float(np.mean(em**2)), float(np.mean(eb**2))
    if b <= 0:
        return (np.nan, np.nan)
    u = -(em**2 - a) / b + a * (eb**2 - b) / b**2
    L = int(np.floor(4 * (n / 100) ** (2 / 9))) if lags is None else int(lags)
    omega = float(np.sum(u * u) / n)
    for k in range(1, min(L, n - 1) + 1):
        omega += 2 * (1 - k / (L + 1)) * float(np.sum(u[k:] * u[:-k]) / n)
    half = float(stats.norm.ppf(1 - alpha / 2) * np.sqrt(max(omega, 0.0) / n))
    skill = 1 - a / b
    return (skill - half, skill + half)
