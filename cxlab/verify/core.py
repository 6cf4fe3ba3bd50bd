"""Step 6 — does the correlation hold in real life?

A relation found in history is a hypothesis until it predicts new data and
survives an intervention. This module holds the four checks of step 6:

* **out of time** — fit the driver model on a training window and predict
  CX on a later holdout window, against naive baselines
  (:func:`holdout`, :func:`rank_stability`);
* **natural experiments** — periods where a driver moved sharply on its own
  (a staffing shortfall): did CX move by the predicted amount?
  (:func:`natural_experiments`);
* **pilot design** — the sample size or duration a pilot needs to detect the
  effect it looks for, with clustering (:func:`pilot_design`,
  :func:`power_curve`, :func:`icc`, :func:`analysis_plan`);
* **pilot readout** — difference-in-differences with cluster-robust
  standard errors and its falsification checks (:func:`pilot_readout`,
  :func:`pre_trends`, :func:`placebo`, :func:`aa_split`), and the verdict
  that compares the effect with the prediction (:func:`verdict`).

Every function takes data first and options keyword-only and returns a
tidy DataFrame, a frozen dataclass of DataFrames, or (for the plan) a
JSON-able dict.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ..errors import DataError, check_option

__all__ = [
    "Holdout",
    "holdout",
    "rank_stability",
    "NaturalExperiments",
    "natural_experiments",
    "pilot_design",
    "power_curve",
    "icc",
    "analysis_plan",
    "pilot_frame",
    "PilotReadout",
    "pilot_readout",
    "pre_trends",
    "placebo",
    "aa_split",
    "predicted_effect",
    "Verdict",
    "verdict",
]

UNITS = ("contact", "agent", "team", "day")
VERDICTS = ("held", "held partly", "did not hold")


# --------------------------------------------------------------------------- helpers


def _require_columns(frame: pd.DataFrame, columns, *, what: str = "frame") -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame; got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {missing}; it has {list(frame.columns)}")


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def _to_time(values: pd.Series) -> pd.Series:
    """Parse a date/time column into datetime64 (tz kept when present)."""
    return pd.to_datetime(values)


def _to_stamp(value, like: pd.Series) -> pd.Timestamp:
    """A date-like option as a Timestamp comparable with the series ``like``."""
    stamp = pd.Timestamp(value)
    tz = getattr(like.dt, "tz", None)
    if tz is not None and stamp.tzinfo is None:
        stamp = stamp.tz_localize(tz)
    elif tz is None and stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    return stamp


def _t_ci(estimate: float, se: float, df: float, alpha: float) -> tuple[float, float]:
    if not np.isfinite(se) or df <= 0:
        return (np.nan, np.nan)
    q = stats.t.ppf(1 - alpha / 2, df)
    return (estimate - q * se, estimate + q * se)


def _check_prob(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and 0 < value < 1):
        raise ValueError(f"{name} must be a number strictly between 0 and 1; got {value!r}")


# --------------------------------------------------------------------------- out of time


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
        positive = the model beats the baseline).
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


def _ols(y: np.ndarray, X: np.ndarray, names: list[str], alpha: float = 0.05):
    import statsmodels.api as sm

    model = sm.OLS(y, sm.add_constant(X, has_constant="add")).fit()
    ci = model.conf_int(alpha)
    out = pd.DataFrame(
        {
            "driver": names,
            "coef": model.params[1:],
            "se": model.bse[1:],
            "ci_low": ci[1:, 0],
            "ci_high": ci[1:, 1],
            "p_val": model.pvalues[1:],
        }
    )
    return model, out


def _importance(frame: pd.DataFrame, coefs: pd.DataFrame, *, outcome, drivers, method: str) -> pd.Series:
    sd_x = frame[drivers].std(ddof=1).to_numpy()
    sd_y = frame[outcome].std(ddof=1)
    std_coef = coefs["coef"].to_numpy() * sd_x / sd_y
    if method == "std_coef":
        return pd.Series(np.abs(std_coef), index=drivers), std_coef
    from ..focus import drivers as drivers_module  # lazy: validate may import drivers

    table = drivers_module.relative_importance(frame, outcome=outcome, drivers=list(drivers))
    if not isinstance(table, pd.DataFrame) and hasattr(table, "importance"):
        table = table.importance
    key = "driver" if "driver" in table.columns else table.columns[0]
    for col in ("lmg", "importance", "share", "r2_share", "value"):
        if col in table.columns:
            return table.set_index(key)[col].reindex(drivers).astype(float), std_coef
    raise DataError(f"cxlab.drivers.relative_importance returned no importance column: {list(table.columns)}")


def _holdout_one(frame, *, outcome, drivers, split, date_col, importance, alpha):
    frame = frame.dropna(subset=[outcome, *drivers]).sort_values(date_col)
    train = frame[frame[date_col] < split]
    test = frame[frame[date_col] >= split]
    k = len(drivers)
    if len(train) < k + 3:
        raise DataError(f"holdout: the training window has {len(train)} complete periods; need at least {k + 3}")
    if len(test) < max(3, k + 2):
        raise DataError(f"holdout: the holdout window has {len(test)} complete periods; need at least {max(3, k + 2)}")

    coef_rows, fit_rows, models = [], [], {}
    for window, part in (("train", train), ("holdout", test)):
        model, coefs = _ols(part[outcome].to_numpy(float), part[drivers].to_numpy(float), drivers, alpha)
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
        LMG share from :func:`cxlab.drivers.relative_importance`.
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
    drivers = _as_list(drivers)
    if not drivers:
        raise ValueError("drivers must name at least one column")
    check_option("importance", importance, ("std_coef", "lmg"))
    _check_prob("alpha", alpha)
    _require_columns(period_frame, [date_col, outcome, *drivers, *_as_list(segment)], what="period_frame")
    frame = period_frame.copy()
    frame[date_col] = _to_time(frame[date_col])
    split = _to_stamp(split_date, frame[date_col])

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
    _require_columns(first, [key, value], what="first")
    _require_columns(second, [key, value], what="second")
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


# --------------------------------------------------------------------------- natural experiments


@dataclass(frozen=True)
class NaturalExperiments:
    """Result of :func:`natural_experiments`.

    Attributes
    ----------
    episodes : DataFrame
        One row per episode (a run of consecutive flagged periods):
        ``episode`` (1, 2, ...), ``start``, ``end``, ``n_periods``,
        ``direction`` (``"drop"`` / ``"rise"``), ``driver_baseline``,
        ``driver_change`` (episode mean − baseline mean), ``predicted``
        (slope × driver_change, outcome units), ``predicted_se``,
        ``observed`` (outcome episode mean − outcome baseline mean),
        ``observed_se``, ``ci_low``, ``ci_high`` (of ``observed``),
        ``ratio`` (observed / predicted), ``covers_prediction`` (bool).
    pooled : DataFrame
        One row: ``n_episodes``, ``slope`` (the model slope used),
        ``slope_se``, ``pooled_slope`` (implied slope of the episodes, inverse-
        variance weighted), ``pooled_se``, ``ci_low``, ``ci_high``, ``ratio``
        (pooled_slope / slope), ``p_val`` (test pooled_slope = slope).
    series : DataFrame
        One row per period: ``date``, ``driver``, ``baseline`` (mean of the
        previous ``window`` unflagged periods), ``baseline_sd``, ``z``,
        ``outcome``, ``flagged`` (bool), ``episode`` (0 = none).
    """

    episodes: pd.DataFrame
    pooled: pd.DataFrame
    series: pd.DataFrame


def natural_experiments(
    period_frame: pd.DataFrame,
    *,
    driver: str,
    outcome: str,
    threshold_sd: float = 2.0,
    slope: float | None = None,
    slope_se: float | None = None,
    controls=None,
    window: int = 28,
    direction: str = "both",
    date_col: str = "date",
    alpha: float = 0.05,
) -> NaturalExperiments:
    """Episodes where a driver moved sharply, and whether CX followed as predicted.

    A period is flagged when the driver sits more than ``threshold_sd``
    rolling standard deviations away from its rolling baseline (the previous
    ``window`` periods). Consecutive flagged periods form an episode. For
    each episode the observed CX change against its own baseline is set
    beside the change the driver model predicts.

    Parameters
    ----------
    period_frame : DataFrame
        One row per period with ``date_col``, ``driver`` and ``outcome``.
    driver, outcome : str
        The driver that moved (e.g. ``"service_level_pct"``) and the CX column.
    threshold_sd : float, default 2.0
        How far (in rolling SDs) the driver must move to flag a period.
    slope : float, optional
        Outcome units per driver unit from the driver model (step 5). If
        omitted, an OLS of ``outcome ~ driver + controls`` on the unflagged
        periods supplies it (with its standard error).
    slope_se : float, optional
        Standard error of ``slope`` (0 if omitted with a given slope).
    controls : list of str, optional
        Other drivers held fixed in the fallback slope model.
    window : int, default 28
        Rolling baseline length in periods (28 days = four full weeks, so the
        weekday cycle averages out).
    direction : {"both", "drop", "rise"}, default "both"
        Which moves to flag.
    date_col : str, default "date"
    alpha : float, default 0.05

    Returns
    -------
    NaturalExperiments
        Frozen dataclass of ``episodes``, ``pooled`` and ``series`` (columns
        documented in :class:`NaturalExperiments`).

    Notes
    -----
    Baseline of period :math:`t`: :math:`\\bar x_t, s_t` = mean and SD of
    the last :math:`w` *unflagged* periods before :math:`t` (so a shock does
    not inflate the baseline of the days after it);
    :math:`z_t = (x_t-\\bar x_t)/s_t`. For an
    episode :math:`E` of :math:`n_E` periods starting at :math:`t_0`,
    :math:`\\Delta x = \\bar x_E - \\bar x_{t_0}`,
    :math:`\\Delta y = \\bar y_E - \\bar y_{t_0}` (baseline of the outcome over
    the same :math:`w` periods) with
    :math:`SE(\\Delta y) = s_y\\sqrt{1/n_E + 1/w}` and a :math:`t_{w-1}` interval.
    Predicted :math:`\\hat{\\Delta y} = b\\,\\Delta x` with
    :math:`SE = |\\Delta x|\\,SE(b)`. The pooled implied slope is the
    weighted least-squares fit through the origin of :math:`\\Delta y` on
    :math:`\\Delta x` with weights :math:`1/SE(\\Delta y)^2`:
    :math:`\\tilde b = \\sum w\\Delta x\\Delta y / \\sum w\\Delta x^2`,
    :math:`SE(\\tilde b) = (\\sum w \\Delta x^2)^{-1/2}`; it is compared with
    :math:`b` by :math:`z = (\\tilde b - b)/\\sqrt{SE(\\tilde b)^2 + SE(b)^2}`.
    Period-to-period autocorrelation makes these SEs optimistic; treat the
    table as corroboration, not proof.

    References
    ----------
    .. [1] Angrist, J.D. & Pischke, J.-S. (2009) *Mostly Harmless
       Econometrics*, ch. 1 (natural experiments as as-good-as-random
       variation).
    .. [2] Borenstein, M. et al. (2009) *Introduction to Meta-Analysis*,
       ch. 11 (inverse-variance pooling).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> days = pd.date_range("2025-01-01", periods=150, freq="D")
    >>> sl = rng.normal(80, 2, 150); sl[[60, 61, 100]] -= 20
    >>> csat = 50 + 0.5 * sl + rng.normal(0, 1, 150)
    >>> frame = pd.DataFrame({"date": days, "sl": sl, "csat": csat})
    >>> ne = natural_experiments(frame, driver="sl", outcome="csat", slope=0.5, slope_se=0.0,
    ...                          threshold_sd=3, direction="drop")
    >>> ne.episodes[["episode", "n_periods", "direction"]]
       episode  n_periods direction
    0        1          2      drop
    1        2          1      drop
    >>> bool(ne.pooled.loc[0, "ci_low"] < 0.5 < ne.pooled.loc[0, "ci_high"])
    True
    """
    controls = _as_list(controls)
    check_option("direction", direction, ("both", "drop", "rise"))
    _check_prob("alpha", alpha)
    if not (isinstance(threshold_sd, (int, float)) and threshold_sd > 0):
        raise ValueError(f"threshold_sd must be a positive number; got {threshold_sd!r}")
    if not (isinstance(window, int) and window >= 3):
        raise ValueError(f"window must be an integer >= 3; got {window!r}")
    _require_columns(period_frame, [date_col, driver, outcome, *controls], what="period_frame")
    frame = period_frame.copy()
    frame[date_col] = _to_time(frame[date_col])
    if frame[date_col].duplicated().any():
        raise ValueError("period_frame must hold one row per date (filter to one segment first)")
    frame = frame.sort_values(date_col).dropna(subset=[driver, outcome]).reset_index(drop=True)

    x = frame[driver].astype(float).reset_index(drop=True)
    y = frame[outcome].astype(float).reset_index(drop=True)
    xv, yv = x.to_numpy(), y.to_numpy()
    n = len(xv)
    base, base_sd, y_base, y_sd, z = (np.full(n, np.nan) for _ in range(5))
    flagged = np.zeros(n, bool)
    clean: list[int] = []  # unflagged periods so far: the baseline never includes a shock
    for t in range(n):
        if len(clean) >= window:
            idx = clean[-window:]
            base[t], base_sd[t] = xv[idx].mean(), xv[idx].std(ddof=1)
            y_base[t], y_sd[t] = yv[idx].mean(), yv[idx].std(ddof=1)
            z[t] = (xv[t] - base[t]) / base_sd[t] if base_sd[t] > 0 else np.nan
            flagged[t] = bool({"both": abs(z[t]) > threshold_sd, "drop": z[t] < -threshold_sd,
                               "rise": z[t] > threshold_sd}[direction])
        if not flagged[t]:
            clean.append(t)
    base, base_sd, y_base, y_sd = (pd.Series(a) for a in (base, base_sd, y_base, y_sd))
    z = pd.Series(z)
    flag = pd.Series(flagged)
    run_start = flag & ~flag.shift(1, fill_value=False)
    episode = np.where(flag, run_start.cumsum(), 0)
    series = pd.DataFrame({"date": frame[date_col], "driver": x, "baseline": base, "baseline_sd": base_sd,
                           "z": z, "outcome": y, "flagged": flag, "episode": episode.astype(int)})

    if slope is None:
        fit_rows = frame[~flag]
        fit_rows = fit_rows.dropna(subset=controls)
        if len(fit_rows) < len(controls) + 4:
            raise DataError("natural_experiments: too few unflagged periods to fit the slope")
        _, coefs = _ols(fit_rows[outcome].to_numpy(float), fit_rows[[driver, *controls]].to_numpy(float),
                        [driver, *controls], alpha)
        slope, slope_se = float(coefs.loc[0, "coef"]), float(coefs.loc[0, "se"])
    slope_se = 0.0 if slope_se is None else float(slope_se)

    rows = []
    for ep in range(1, int(episode.max()) + 1):
        idx = np.flatnonzero(episode == ep)
        first = idx[0]
        n_e = idx.size
        dx = float(x.iloc[idx].mean() - base.iloc[first])
        dy = float(y.iloc[idx].mean() - y_base.iloc[first])
        se = float(y_sd.iloc[first] * math.sqrt(1 / n_e + 1 / window))
        lo, hi = _t_ci(dy, se, window - 1, alpha)
        pred = slope * dx
        rows.append({
            "episode": ep, "start": frame[date_col].iloc[first], "end": frame[date_col].iloc[idx[-1]],
            "n_periods": n_e, "direction": "drop" if dx < 0 else "rise",
            "driver_baseline": float(base.iloc[first]), "driver_change": dx,
            "predicted": pred, "predicted_se": abs(dx) * slope_se,
            "observed": dy, "observed_se": se, "ci_low": lo, "ci_high": hi,
            "ratio": dy / pred if pred != 0 else np.nan,
            "covers_prediction": bool(lo <= pred <= hi),
        })
    episodes = pd.DataFrame(rows, columns=[
        "episode", "start", "end", "n_periods", "direction", "driver_baseline", "driver_change",
        "predicted", "predicted_se", "observed", "observed_se", "ci_low", "ci_high", "ratio",
        "covers_prediction"])

    if len(episodes):
        w = 1 / episodes["observed_se"].to_numpy() ** 2
        dx = episodes["driver_change"].to_numpy()
        dy = episodes["observed"].to_numpy()
        pooled = float(np.sum(w * dx * dy) / np.sum(w * dx**2))
        pooled_se = float(1 / np.sqrt(np.sum(w * dx**2)))
        q = stats.norm.ppf(1 - alpha / 2)
        zstat = (pooled - slope) / math.sqrt(pooled_se**2 + slope_se**2)
        pooled_row = {"n_episodes": len(episodes), "slope": slope, "slope_se": slope_se,
                      "pooled_slope": pooled, "pooled_se": pooled_se,
                      "ci_low": pooled - q * pooled_se, "ci_high": pooled + q * pooled_se,
                      "ratio": pooled / slope if slope else np.nan,
                      "p_val": float(2 * stats.norm.sf(abs(zstat)))}
    else:
        pooled_row = {"n_episodes": 0, "slope": slope, "slope_se": slope_se, "pooled_slope": np.nan,
                      "pooled_se": np.nan, "ci_low": np.nan, "ci_high": np.nan, "ratio": np.nan,
                      "p_val": np.nan}
    return NaturalExperiments(episodes=episodes, pooled=pd.DataFrame([pooled_row]), series=series)


# --------------------------------------------------------------------------- power


def _power_normal(d: float, n_eff: float, alpha: float) -> float:
    """Two-sided two-sample z-test power with n_eff per arm."""
    if n_eff <= 0:
        return np.nan
    z = stats.norm.ppf(1 - alpha / 2)
    ncp = abs(d) * math.sqrt(n_eff / 2)
    return float(stats.norm.cdf(ncp - z))  # the far tail is ignored, as in the closed-form n


def _power_t(d: float, n_eff: float, alpha: float, df: float | None = None) -> float:
    """Two-sided two-sample t-test power (noncentral t), n_eff per arm."""
    df = 2 * n_eff - 2 if df is None else df
    if df <= 0:
        return np.nan
    tc = stats.t.ppf(1 - alpha / 2, df)
    ncp = abs(d) * math.sqrt(n_eff / 2)
    upper = stats.nct.sf(tc, df, ncp)
    lower = stats.nct.cdf(-tc, df, ncp)  # NaN far in the tail (scipy): it is ~0 there
    return float(upper + (lower if np.isfinite(lower) else 0.0))


def _n_normal(d: float, alpha: float, power: float) -> float:
    return 2 * (stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) ** 2 / d**2


def _solve(fun, lo: float, hi: float) -> float:
    """Root of an increasing function on [lo, hi], widening hi as needed (lo if already above)."""
    if fun(lo) >= 0:
        return float(lo)
    for _ in range(60):
        if fun(hi) > 0:
            return float(optimize.brentq(fun, lo, hi, xtol=1e-10, rtol=1e-12))
        hi *= 2
    return np.nan


@dataclass(frozen=True)
class _Design:
    unit: str
    m: float  # observations per cluster (1 for unclustered)
    rho: float
    deff: float
    clustered: bool


def _design(unit, cluster_size, icc_value) -> _Design:
    check_option("unit", unit, UNITS)
    clustered = unit in ("agent", "team")
    if not clustered:
        return _Design(unit, 1.0, 0.0, 1.0, False)
    if cluster_size is None or icc_value is None:
        raise ValueError(f"unit={unit!r} is clustered: pass cluster_size (observations per {unit}) and icc")
    if not cluster_size >= 1:
        raise ValueError(f"cluster_size must be >= 1; got {cluster_size!r}")
    if not 0 <= icc_value < 1:
        raise ValueError(f"icc must be in [0, 1); got {icc_value!r}")
    return _Design(unit, float(cluster_size), float(icc_value), 1 + (cluster_size - 1) * icc_value, True)


def _power_at(d, k, design: _Design, alpha, method):
    """Power with k units per arm (clusters for clustered designs)."""
    n_eff = k * design.m / design.deff
    if method == "normal":
        return _power_normal(d, n_eff, alpha)
    df = 2 * k - 2  # clusters are the independent units
    return _power_t(d, n_eff, alpha, df=df)


def pilot_design(
    *,
    effect: float,
    sd: float,
    unit: str = "contact",
    cluster_size: float | None = None,
    icc: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    n_clusters: float | None = None,
    n_per_arm: float | None = None,
    daily_n: float | None = None,
) -> pd.DataFrame:
    """Sample size, duration and minimum detectable effect of a two-arm pilot.

    Parameters
    ----------
    effect : float
        The effect to detect, in outcome units (e.g. ``3`` CSAT points).
    sd : float
        Standard deviation of the outcome per unit of observation (per
        contact for contact/agent/team designs — for a proportion p,
        ``sqrt(p(1-p))`` — per day for ``unit="day"``).
    unit : {"contact", "agent", "team", "day"}, default "contact"
        What is randomized. ``agent`` and ``team`` are cluster designs.
    cluster_size : float, optional
        Observations (surveyed contacts) per cluster over the pilot; required
        for clustered units.
    icc : float, optional
        Intra-cluster correlation of the outcome (see :func:`icc`); required
        for clustered units.
    alpha : float, default 0.05
        Two-sided significance level.
    power : float, default 0.8
        Target power.
    n_clusters : float, optional
        Clusters available per arm (clustered units): the ``mde`` and
        ``power_at_n`` columns are computed for this many.
    n_per_arm : float, optional
        Observations available per arm (contact or day units), for ``mde``
        and ``power_at_n``.
    daily_n : float, optional
        Observations per arm per day (contacts surveyed per day in one
        arm); converts the sample size into ``days``.

    Returns
    -------
    DataFrame
        Two rows, ``method`` = ``"normal"`` (normal approximation) and ``"t"``
        (exact noncentral-t power of the two-sample t-test; for clustered
        designs with ``2·clusters − 2`` degrees of freedom). Columns:
        ``unit``, ``effect``, ``sd``, ``d`` (effect / sd), ``alpha``,
        ``power``, ``icc``, ``cluster_size``, ``deff`` (design effect),
        ``n_effective`` (independent observations per arm), ``n_per_arm``
        (observations per arm, inflated by ``deff``), ``clusters_per_arm``
        (clustered units; else NaN), ``days`` (``n_per_arm / daily_n``, or
        ``2·n_per_arm`` for alternating-day designs; NaN without
        ``daily_n``), ``given_n`` (the available observations per arm,
        from ``n_clusters`` or ``n_per_arm``), ``mde`` (smallest effect, in
        outcome units, detectable with ``power`` at ``given_n``) and
        ``power_at_n`` (power for ``effect`` at ``given_n``). Sample sizes are
        not rounded; round up when planning.

    Notes
    -----
    Standardized effect :math:`d = \\delta/\\sigma`. Normal approximation per
    arm: :math:`n = 2(z_{1-\\alpha/2} + z_{1-\\beta})^2/d^2`, i.e. power
    :math:`\\Phi(d\\sqrt{n/2} - z_{1-\\alpha/2})` (the far rejection tail is
    ignored). The t-test power
    with :math:`n` per arm is
    :math:`1 - F_{\\nu,\\lambda}(t_{1-\\alpha/2,\\nu}) + F_{\\nu,\\lambda}(-t_{1-\\alpha/2,\\nu})`
    with :math:`\\nu = 2n-2` and noncentrality :math:`\\lambda = d\\sqrt{n/2}`;
    :math:`n` is found by root-finding (as R ``pwr::pwr.t.test``). Clustered
    designs multiply the sample size by the design effect
    :math:`DEFF = 1 + (m-1)\\rho` for clusters of :math:`m` observations and
    intra-cluster correlation :math:`\\rho`; clusters per arm
    :math:`k = n\\,DEFF/m`. Then :math:`\\nu = 2k-2`. Because
    :math:`k m / DEFF \\to k/\\rho` as :math:`m` grows, a cluster pilot with
    few clusters cannot reach some effects however long it runs.

    References
    ----------
    .. [1] Cohen, J. (1988) *Statistical Power Analysis for the Behavioral
       Sciences*, 2nd ed., ch. 2.
    .. [2] Champely, S. (2020) pwr: Basic Functions for Power Analysis,
       R package 1.3-0, ``pwr.t.test``.
    .. [3] Donner, A. & Klar, N. (2000) *Design and Analysis of Cluster
       Randomization Trials in Health Research*, ch. 5 (design effect).
    .. [4] Kish, L. (1965) *Survey Sampling*, §5.4.

    Examples
    --------
    >>> pilot_design(effect=0.5, sd=1.0)[["method", "n_per_arm"]].round(3)
       method  n_per_arm
    0  normal     62.791
    1       t     63.766
    >>> team = pilot_design(effect=3, sd=40, unit="team", cluster_size=500, icc=0.002,
    ...                     n_clusters=5)
    >>> float(team.loc[0, "deff"])
    1.998
    """
    for name, value in (("effect", effect), ("sd", sd)):
        if not isinstance(value, (int, float)) or not np.isfinite(value):
            raise TypeError(f"{name} must be a finite number; got {value!r}")
    if effect == 0:
        raise ValueError("effect must be non-zero")
    if sd <= 0:
        raise ValueError(f"sd must be positive; got {sd!r}")
    _check_prob("alpha", alpha)
    _check_prob("power", power)
    design = _design(unit, cluster_size, icc)
    d = abs(effect) / sd
    if design.clustered and n_per_arm is not None:
        raise ValueError(f"unit={unit!r} is clustered: give n_clusters, not n_per_arm")
    if not design.clustered and n_clusters is not None:
        raise ValueError(f"unit={unit!r} is not clustered: give n_per_arm, not n_clusters")
    given_k = n_clusters if design.clustered else n_per_arm

    rows = []
    for method in ("normal", "t"):
        if method == "normal":
            k = _n_normal(d, alpha, power) * design.deff / design.m
        else:
            lo = 1.5 if design.clustered else 2.0  # smallest sizes with df >= 1
            k = _solve(lambda kk: _power_at(d, kk, design, alpha, "t") - power, lo, 10.0)
        n_obs = k * design.m
        n_eff = n_obs / design.deff
        if unit == "day":
            days = 2 * n_obs
        elif daily_n:
            days = n_obs / daily_n
        else:
            days = np.nan
        if given_k is not None:
            mde_d = _solve(lambda dd, m=method: _power_at(dd, given_k, design, alpha, m) - power, 1e-9, 1.0)
            mde = mde_d * sd
            p_at = _power_at(d, given_k, design, alpha, method)
            given = given_k * design.m
        else:
            mde = p_at = given = np.nan
        rows.append({
            "method": method, "unit": unit, "effect": effect, "sd": sd, "d": d, "alpha": alpha,
            "power": power, "icc": design.rho if design.clustered else np.nan,
            "cluster_size": design.m if design.clustered else np.nan, "deff": design.deff,
            "n_effective": n_eff, "n_per_arm": n_obs,
            "clusters_per_arm": k if design.clustered else np.nan, "days": days,
            "given_n": given, "mde": mde, "power_at_n": p_at,
        })
    return pd.DataFrame(rows)


def power_curve(
    *,
    sd: float,
    effects,
    n_per_arm=None,
    unit: str = "contact",
    cluster_size: float | None = None,
    icc: float | None = None,
    n_clusters=None,
    alpha: float = 0.05,
    daily_n: float | None = None,
    days=None,
    method: str = "t",
) -> pd.DataFrame:
    """Power as a function of sample size, clusters or pilot length for a few effects.

    Parameters
    ----------
    sd : float
        Outcome SD per observation (see :func:`pilot_design`).
    effects : float or list of float
        Effects (outcome units) to draw one curve each.
    n_per_arm : array-like, optional
        Observations per arm (contact/day units). Default: 20 points from 10
        to 4000 on a log scale.
    unit, cluster_size, icc, alpha
        As in :func:`pilot_design`.
    n_clusters : array-like, optional
        Clusters per arm for clustered units (default 2..30).
    daily_n : float, optional
        Observations per arm per day (contact units), or per cluster per day
        (clustered units with ``days``); adds a ``days`` column.
    days : array-like, optional
        Pilot lengths to evaluate instead of sizes: observations per arm are
        ``daily_n × days``; for clustered units ``n_clusters`` (one number)
        clusters per arm of ``daily_n × days`` observations each, so the
        design effect grows with the length.
    method : {"t", "normal"}, default "t"

    Returns
    -------
    DataFrame
        One row per effect × size: ``effect``, ``d``, ``n_per_arm``
        (observations per arm), ``clusters_per_arm`` (NaN unless clustered),
        ``days`` (NaN without ``daily_n``), ``power``.

    Notes
    -----
    Power formulas as in :func:`pilot_design`.

    References
    ----------
    .. [1] Cohen, J. (1988) *Statistical Power Analysis for the Behavioral
       Sciences*, 2nd ed.

    Examples
    --------
    >>> pc = power_curve(sd=1.0, effects=[0.5], n_per_arm=[20, 64])
    >>> pc[["n_per_arm", "power"]].round(4)
       n_per_arm   power
    0       20.0  0.3379
    1       64.0  0.8015
    """
    check_option("method", method, ("t", "normal"))
    _check_prob("alpha", alpha)
    if sd <= 0:
        raise ValueError(f"sd must be positive; got {sd!r}")
    design = _design(unit, cluster_size, icc)
    effects = [effects] if np.isscalar(effects) else list(effects)
    if days is not None:
        if not daily_n:
            raise ValueError("days= needs daily_n (observations per arm, or per cluster, per day)")
        if design.clustered and (n_clusters is None or not np.isscalar(n_clusters)):
            raise ValueError("days= with a clustered unit needs n_clusters: one number of clusters per arm")
        rows = []
        for eff in effects:
            d = abs(eff) / sd
            for length in np.asarray(days, float):
                if design.clustered:
                    dz = _design(unit, daily_n * length, design.rho)
                    k, n_obs = float(n_clusters), float(n_clusters) * daily_n * length
                else:
                    dz, k, n_obs = design, daily_n * length, daily_n * length
                rows.append({"effect": eff, "d": d, "n_per_arm": n_obs,
                             "clusters_per_arm": k if design.clustered else np.nan, "days": float(length),
                             "power": _power_at(d, k, dz, alpha, method)})
        return pd.DataFrame(rows)
    if design.clustered:
        sizes = np.arange(2, 31) if n_clusters is None else np.asarray(n_clusters, float)
    else:
        sizes = np.unique(np.round(np.geomspace(10, 4000, 20))) if n_per_arm is None else np.asarray(n_per_arm, float)
    rows = []
    for eff in effects:
        d = abs(eff) / sd
        for k in sizes:
            n_obs = float(k) * design.m
            rows.append({
                "effect": eff, "d": d, "n_per_arm": n_obs,
                "clusters_per_arm": float(k) if design.clustered else np.nan,
                "days": (2 * n_obs if unit == "day" else n_obs / daily_n if daily_n else np.nan),
                "power": _power_at(d, float(k), design, alpha, method),
            })
    return pd.DataFrame(rows)


def icc(frame: pd.DataFrame, *, outcome: str, cluster: str, alpha: float = 0.05) -> pd.DataFrame:
    """Intra-cluster correlation from a one-way random-effects ANOVA.

    Parameters
    ----------
    frame : DataFrame
        One row per observation (e.g. surveyed contact).
    outcome : str
        Numeric (or bool) outcome column.
    cluster : str
        Cluster column (agent, team).
    alpha : float, default 0.05

    Returns
    -------
    DataFrame
        One row: ``icc``, ``ci_low``, ``ci_high`` (F-based interval),
        ``msb`` (between-cluster mean square), ``msw`` (within), ``f``
        (msb / msw), ``n0`` (the average cluster size adjusted for
        imbalance), ``n_clusters``, ``n``.

    Notes
    -----
    With :math:`k` clusters of sizes :math:`n_i`, :math:`N=\\sum n_i`:
    :math:`MSB = \\sum n_i(\\bar y_i-\\bar y)^2/(k-1)`,
    :math:`MSW = \\sum\\sum (y_{ij}-\\bar y_i)^2/(N-k)`,
    :math:`n_0 = (N - \\sum n_i^2/N)/(k-1)` and
    :math:`\\hat\\rho = (MSB-MSW)/(MSB+(n_0-1)MSW)`, i.e. ICC(1) of Shrout &
    Fleiss for balanced data. Interval: with :math:`F = MSB/MSW`,
    :math:`F_L = F/F_{1-\\alpha/2}(k-1,N-k)`, :math:`F_U = F\\,F_{1-\\alpha/2}(N-k,k-1)`,
    bounds :math:`(F_\\cdot-1)/(F_\\cdot+n_0-1)` (exact when balanced).
    The estimate can be negative; use ``max(icc, 0)`` for planning.

    References
    ----------
    .. [1] Shrout, P.E. & Fleiss, J.L. (1979) Intraclass correlations: uses
       in assessing rater reliability. *Psychological Bulletin* 86, 420–428.
    .. [2] Donner, A. (1986) A review of inference procedures for the
       intraclass correlation coefficient in the one-way random effects
       model. *International Statistical Review* 54, 67–82.

    Examples
    --------
    >>> f = pd.DataFrame({"team": list("aaabbbccc"), "y": [1, 2, 3, 4, 5, 6, 2, 3, 4]})
    >>> round(float(icc(f, outcome="y", cluster="team").loc[0, "icc"]), 4)
    0.6667
    """
    _require_columns(frame, [outcome, cluster])
    _check_prob("alpha", alpha)
    data = frame[[cluster, outcome]].dropna()
    y = data[outcome].astype(float)
    grp = data.groupby(cluster, sort=True)[outcome]
    n_i = grp.size().to_numpy(float)
    means = grp.mean().astype(float).to_numpy()
    k, n = len(n_i), float(n_i.sum())
    if k < 2 or n - k < 1:
        raise DataError(f"icc needs at least 2 clusters and more observations than clusters; got {k} and {int(n)}")
    grand = float(y.mean())
    ssb = float(np.sum(n_i * (means - grand) ** 2))
    ssw = float(((y - data[cluster].map(dict(zip(grp.mean().index, means)))) ** 2).sum())
    msb, msw = ssb / (k - 1), ssw / (n - k)
    n0 = (n - np.sum(n_i**2) / n) / (k - 1)
    rho = (msb - msw) / (msb + (n0 - 1) * msw)
    f = msb / msw if msw > 0 else np.inf
    f_lo = f / stats.f.ppf(1 - alpha / 2, k - 1, n - k)
    f_hi = f * stats.f.ppf(1 - alpha / 2, n - k, k - 1)
    return pd.DataFrame([{
        "icc": rho, "ci_low": (f_lo - 1) / (f_lo + n0 - 1), "ci_high": (f_hi - 1) / (f_hi + n0 - 1),
        "msb": msb, "msw": msw, "f": f, "n0": n0, "n_clusters": k, "n": int(n),
    }])


def analysis_plan(
    design: pd.DataFrame,
    *,
    metric: str,
    start_date,
    primary: str,
    secondary=(),
    test: str = ("difference-in-differences, two-way fixed effects (unit and day), "
                 "cluster-robust (CR1) standard errors by unit, t with G-1 df"),
    treated=None,
    control=None,
    checks=("pre-trend test (treated x trend in the pre-period)", "placebo start date in the pre-period",
            "A/A split of the control group"),
    decision_rule: str | None = None,
    duration_days: int | None = None,
    unit: str | None = None,
    out_dir=None,
    name: str = "pilot_plan",
) -> dict:
    """A pre-registered analysis plan for the next pilot.

    Parameters
    ----------
    design : DataFrame
        Output of :func:`pilot_design` (the ``"t"`` row is used).
    metric : str
        The headline metric and its definition, e.g. ``"CSAT % top-2-box"``.
    start_date : date-like
        Planned first day of the pilot.
    primary : str
        Primary outcome column (one, decided before the data are seen).
    secondary : list of str
        Secondary outcomes (reported, not decisive).
    test : str
        The analysis that will be run.
    treated, control : list of str, optional
        Units assigned to each arm, if already randomized.
    checks : list of str
        Falsification checks that will be reported.
    decision_rule : str, optional
        Default: the :func:`verdict` rule.
    duration_days : int, optional
        Planned length; default the design's ``days`` (rounded up). Give it
        for cluster designs whose ``cluster_size`` was set from a length.
    unit : str, optional
        Unit of randomization written in the plan; default the design's
        (give it when the design was computed on effective observations of
        a clustered pilot).
    out_dir : path-like, optional
        If given, the plan is written there as ``<name>.json`` and
        ``<name>.md``.
    name : str, default "pilot_plan"

    Returns
    -------
    dict
        JSON-able: ``metric``, ``primary_outcome``, ``secondary_outcomes``,
        ``unit``, ``test``, ``alpha``, ``power``, ``effect``, ``sd``,
        ``icc``, ``deff``, ``n_per_arm``, ``n_effective`` and
        ``clusters_per_arm`` (rounded up), ``duration_days`` (rounded up; None without a daily rate),
        ``mde`` (None without a given n), ``start_date``, ``end_date``,
        ``treated``, ``control``, ``checks``, ``decision_rule``, ``markdown``
        (the plan as Markdown).

    Notes
    -----
    Fixing the metric, test, α, sample size and the decision rule *before*
    the pilot prevents choosing them after seeing the data (the "garden of
    forking paths").

    References
    ----------
    .. [1] Nosek, B.A. et al. (2018) The preregistration revolution. *PNAS*
       115, 2600–2606.
    .. [2] Gelman, A. & Loken, E. (2013) The garden of forking paths.

    Examples
    --------
    >>> plan = analysis_plan(pilot_design(effect=3, sd=40, daily_n=150), metric="CSAT % top-2-box",
    ...                      start_date="2026-03-02", primary="csat_top2_pct")
    >>> plan["n_per_arm"], plan["duration_days"], plan["end_date"]
    (2792, 19, '2026-03-20')
    """
    _require_columns(design, ["method", "unit", "n_per_arm"], what="design")
    row = design[design["method"] == "t"].iloc[0]

    def _up(v):
        return None if v is None or not np.isfinite(v) else int(math.ceil(v - 1e-9))

    def _num(v):
        return None if v is None or not np.isfinite(v) else float(v)

    start = pd.Timestamp(start_date).date()
    duration = int(duration_days) if duration_days is not None else _up(float(row["days"]))
    end = (start + dt.timedelta(days=duration - 1)).isoformat() if duration else None
    rule = decision_rule or (
        "held: the effect's CI excludes 0 and is consistent with the prediction; "
        "held partly: significant with the predicted sign but different size; "
        "did not hold: otherwise (see cxlab.validate.verdict)")
    plan = {
        "metric": metric,
        "primary_outcome": primary,
        "secondary_outcomes": list(secondary),
        "unit": unit or str(row["unit"]),
        "test": test,
        "alpha": float(row["alpha"]),
        "power": float(row["power"]),
        "effect": float(row["effect"]),
        "sd": float(row["sd"]),
        "icc": _num(float(row["icc"])),
        "deff": float(row["deff"]),
        "n_per_arm": _up(float(row["n_per_arm"])),
        "n_effective": _up(float(row["n_effective"])),
        "clusters_per_arm": _up(float(row["clusters_per_arm"])),
        "duration_days": duration,
        "mde": _num(float(row["mde"])),
        "start_date": start.isoformat(),
        "end_date": end,
        "treated": list(treated) if treated is not None else None,
        "control": list(control) if control is not None else None,
        "checks": list(checks),
        "decision_rule": rule,
    }
    plan["markdown"] = _plan_markdown(plan)
    if out_dir is not None:
        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        body = {k: v for k, v in plan.items() if k != "markdown"}
        (folder / f"{name}.json").write_text(json.dumps(body, indent=2) + "\n")
        (folder / f"{name}.md").write_text(plan["markdown"])
    return plan


def _plan_markdown(plan: dict) -> str:
    def fmt(v):
        if v is None:
            return "—"
        if isinstance(v, float):
            return f"{v:.4g}"
        if isinstance(v, list):
            return ", ".join(map(str, v)) if v else "—"
        return str(v)

    lines = ["# Pre-registered pilot analysis plan", "", "| item | value |", "|---|---|"]
    labels = [("metric", "Metric"), ("primary_outcome", "Primary outcome"),
              ("secondary_outcomes", "Secondary outcomes"), ("unit", "Unit of randomization"),
              ("test", "Test"), ("alpha", "α (two-sided)"), ("power", "Power"),
              ("effect", "Effect to detect"), ("sd", "SD per observation"), ("icc", "ICC"),
              ("deff", "Design effect"), ("n_per_arm", "Observations per arm"),
              ("n_effective", "Effective (independent) observations per arm"),
              ("clusters_per_arm", "Clusters per arm"), ("duration_days", "Duration (days)"),
              ("mde", "MDE at the available n"), ("start_date", "Start date"), ("end_date", "End date"),
              ("treated", "Treated"), ("control", "Control")]
    lines += [f"| {label} | {fmt(plan[key])} |" for key, label in labels]
    lines += ["", "**Checks:** " + "; ".join(plan["checks"]) + ".", "",
              "**Decision rule:** " + plan["decision_rule"] + ".", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- pilot readout


def pilot_frame(
    tables: dict,
    *,
    treated,
    timezone: str = "UTC",
    cx_metric: str = "csat",
    response_covariates=("resolved", "wait_s", "transferred", "channel"),
) -> pd.DataFrame:
    """The contact-level frame a pilot readout needs: every handled contact, its team and survey.

    Parameters
    ----------
    tables : dict of DataFrame
        Canonical tables with ``interactions``, ``surveys`` and ``agents``.
    treated : list of str
        Teams in the treated arm (every other team with contacts is control).
    timezone : str, default "UTC"
        The center's time zone (defines the local ``date``).
    cx_metric : {"csat", "nps", "ces"}, default "csat"
    response_covariates : list of str
        Contact columns of the response-propensity model (see Notes).

    Returns
    -------
    DataFrame
        One row per handled (not abandoned) contact with an agent on a team,
        sorted by ``date, interaction_id``: ``interaction_id``, ``date``
        (local day, midnight), ``team``, ``agent_id``, ``queue``, ``treated`` (bool),
        ``resolved_pct`` (agent resolution flag × 100, so a DiD on it is in
        percentage points), ``surveyed`` (bool), ``cx_value`` (the headline on
        its scale: CSAT 0/100 top-2-box, NPS −100/0/100, CES 1–7; NaN when not
        surveyed) and ``response_weight`` (stabilized inverse response
        propensity; NaN when not surveyed).

    Notes
    -----
    ``response_weight`` = r̄ / ê(x), with ê the logistic-regression
    probability that a handled contact answered the survey given
    ``response_covariates`` (:func:`cxlab.cx.propensity_weights`, untrimmed).
    Pass it as ``weight_col`` for CX outcomes so respondents stand for all
    handled contacts: response depends on resolution, which a resolution
    pilot changes.

    References
    ----------
    .. [1] Rosenbaum, P.R. & Rubin, D.B. (1983) The central role of the
       propensity score in observational studies for causal effects.
       *Biometrika* 70, 41–55.

    Examples
    --------
    >>> from cxlab.sample import load_sample
    >>> t = load_sample(days=7, contacts_per_day=100)
    >>> pf = pilot_frame(t, treated=["billing_a", "tech_support_a"], timezone="America/New_York")
    >>> sorted(pf["team"].unique())[:2], bool(pf["cx_value"].notna().any())
    (['billing_a', 'billing_b'], True)
    """
    from ..metric import propensity_weights

    check_option("cx_metric", cx_metric, ("csat", "nps", "ces"))
    for name in ("interactions", "surveys", "agents"):
        if name not in tables:
            raise ValueError(f"tables lacks {name!r}; pilot_frame needs interactions, surveys and agents")
    inter, surveys, agents = tables["interactions"], tables["surveys"], tables["agents"]
    _require_columns(inter, ["interaction_id", "agent_id", "arrived_at", "abandoned", "queue", "resolved"],
                     what="interactions")
    _require_columns(surveys, ["interaction_id", "responded_at", cx_metric], what="surveys")
    _require_columns(agents, ["agent_id", "team"], what="agents")
    covs = [c for c in response_covariates if c in inter.columns]
    h = inter.loc[~inter["abandoned"].astype(bool) & inter["agent_id"].notna(),
                  ["interaction_id", "agent_id", "arrived_at", "queue", *dict.fromkeys(["resolved", *covs])]]
    h = h.merge(agents[["agent_id", "team"]].drop_duplicates("agent_id"), on="agent_id", how="inner")
    h["date"] = h["arrived_at"].dt.tz_convert(timezone).dt.tz_localize(None).dt.normalize()
    h["treated"] = h["team"].isin(list(treated))
    h["resolved_pct"] = h["resolved"].astype(float) * 100.0
    raw = (surveys.dropna(subset=[cx_metric]).sort_values(["responded_at"], kind="mergesort")
           .drop_duplicates("interaction_id")[["interaction_id", cx_metric]])
    value = {"csat": lambda v: (v >= 4) * 100.0,
             "nps": lambda v: np.select([v >= 9, v <= 6], [100.0, -100.0], 0.0),
             "ces": lambda v: v.astype(float)}[cx_metric](raw[cx_metric])
    raw = raw.assign(cx_value=np.asarray(value, float))[["interaction_id", "cx_value"]]
    h = h.merge(raw, on="interaction_id", how="left")
    h["surveyed"] = h["cx_value"].notna()
    for c in covs:  # flags as numbers for the propensity model
        if h[c].dtype == bool:
            h[c] = h[c].astype(float)
    weights = propensity_weights(h, h["surveyed"].to_numpy(), covariates=covs, trim=(0.0, 1.0))
    h["response_weight"] = weights["weight"].to_numpy()
    out = h[["interaction_id", "date", "team", "agent_id", "queue", "treated", "resolved_pct", "surveyed",
             "cx_value", "response_weight"]]
    return out.sort_values(["date", "interaction_id"], kind="mergesort").reset_index(drop=True)


@dataclass(frozen=True)
class PilotReadout:
    """Result of :func:`pilot_readout`.

    Attributes
    ----------
    effects : DataFrame
        One row per outcome: ``outcome``, ``estimate`` (DiD effect, outcome
        units), ``se`` (cluster-robust CR1), ``ci_low``, ``ci_high``
        (t with G − 1 df), ``p_val``, ``n`` (observations), ``n_clusters``
        (G), ``n_treated`` and ``n_control`` (units), ``pre_treated``,
        ``post_treated``, ``pre_control``, ``post_control`` (raw means),
        ``raw_did`` ((post_T − pre_T) − (post_C − pre_C)).
    series : DataFrame
        For the chart, one row per outcome × group × week relative to the
        start: ``outcome``, ``group`` (``"treated"`` / ``"control"``),
        ``week`` (0 = first pilot week), ``mean``, ``ci_low``, ``ci_high``
        (t interval of the mean, ignoring clustering — display only), ``n``.
    """

    effects: pd.DataFrame
    series: pd.DataFrame


def _prepare_panel(frame, *, outcome, treated_col, unit, time_col, post_col, start_date, count_col,
                   weight_col=None, strata=None):
    cols = [outcome, treated_col, unit, time_col, *_as_list(post_col), *_as_list(count_col),
            *_as_list(weight_col), *_as_list(strata)]
    cols = list(dict.fromkeys(cols))
    _require_columns(frame, cols)
    data = frame[cols].dropna(subset=[outcome, treated_col, unit, time_col]).copy()
    data[time_col] = _to_time(data[time_col])
    if post_col is None:
        if start_date is None:
            raise ValueError("pass post_col (a bool column) or start_date (first day of the pilot)")
        start = _to_stamp(start_date, data[time_col])
        data["_post"] = data[time_col] >= start
    else:
        data["_post"] = data[post_col].astype(bool)
        start = data.loc[data["_post"], time_col].min() if data["_post"].any() else None
    data["_treated"] = data[treated_col].astype(bool)
    if data.groupby(unit)["_treated"].nunique().max() > 1:
        raise ValueError(f"{treated_col!r} must be constant within each {unit!r} (treatment is assigned by unit)")
    data["_stratum"] = "all" if strata is None else data[strata].astype(str)
    if strata is not None and data.groupby(unit)["_stratum"].nunique().max() > 1:
        raise ValueError(f"strata {strata!r} must be constant within each {unit!r}")
    data["_y"] = data[outcome].astype(float)
    data["_n"] = 1.0 if count_col is None else data[count_col].astype(float)
    data["_w"] = data["_n"] if weight_col is None else data["_n"] * data[weight_col].astype(float)
    if weight_col is not None and not (data[weight_col] > 0).all():
        raise ValueError(f"{weight_col!r} must hold positive weights")
    return data, start


def _twfe(data, *, regressor: str, unit: str, time_col: str, alpha: float) -> dict:
    """Effect of a cell-level regressor in y ~ regressor + C(unit) + C(time), CR1 by unit.

    Works on unit × time cell means weighted by their counts: every
    regressor is constant within a cell, so the coefficients and the
    cluster scores equal those of the observation-level OLS. The fixed
    effects are partialled out first (Frisch–Waugh–Lovell: weighted
    demeaning within period, then a small regression on the demeaned unit
    dummies); the coefficient's row of the full sandwich only involves the
    residualized regressor, so the cluster-robust variance is exact. The
    CR1 factor uses the observation count N and the full model's rank K.
    """
    import statsmodels.api as sm

    data = data.assign(_wy=data["_y"] * data["_w"])
    cells = data.groupby([unit, time_col], sort=True).agg(
        w=("_w", "sum"), wy=("_wy", "sum"), x=(regressor, "first"), stratum=("_stratum", "first")).reset_index()
    cells["y"] = cells["wy"] / cells["w"]
    n_obs = float(data["_n"].sum())
    u = pd.Categorical(cells[unit])
    t_codes, t_levels = pd.factorize(pd.MultiIndex.from_arrays([cells["stratum"], cells[time_col]]), sort=True)
    G, T = len(u.categories), len(t_levels)
    if G < 3:
        raise DataError(f"difference-in-differences needs at least 3 {unit!r} clusters; got {G}")
    w = cells["w"].to_numpy(float)
    Z = np.column_stack([cells["y"].to_numpy(float), cells["x"].astype(float).to_numpy(),
                         np.eye(G)[u.codes][:, 1:]])
    # 1) weighted demeaning within period (x stratum) removes those effects and the intercept
    sw = np.bincount(t_codes, weights=w, minlength=T)
    means = np.vstack([np.bincount(t_codes, weights=w * Z[:, j], minlength=T) for j in range(Z.shape[1])]).T
    Z = Z - means[t_codes] / sw[t_codes, None]
    # 2) residualize y and the regressor on the demeaned unit dummies (weighted least squares)
    root = np.sqrt(w)[:, None]
    U = Z[:, 2:] * root
    coef, *_ = np.linalg.lstsq(U, Z[:, :2] * root, rcond=None)
    resid = Z[:, :2] * root - U @ coef  # sqrt(w) * residualized (y, x)
    if not np.any(np.abs(resid[:, 1]) > 1e-9 * max(1.0, np.abs(Z[:, 1]).max())):
        raise DataError("the treatment indicator does not vary within units and periods: need treated and "
                        "control units both before and after the start")
    # 3) the coefficient of interest by statsmodels, with cluster-robust scores (no correction yet)
    model = sm.OLS(resid[:, 0], resid[:, 1]).fit(
        cov_type="cluster", cov_kwds={"groups": u.codes, "use_correction": False}, use_t=True)
    rank = T + int(np.linalg.matrix_rank(U)) + 1 if U.shape[1] else T + 1
    factor = G / (G - 1) * (n_obs - 1) / (n_obs - rank)
    se = float(np.sqrt(model.cov_params()[0, 0] * factor))
    est = float(model.params[0])
    lo, hi = _t_ci(est, se, G - 1, alpha)
    p = float(2 * stats.t.sf(abs(est / se), G - 1)) if se > 0 else np.nan
    return {"estimate": est, "se": se, "ci_low": lo, "ci_high": hi, "p_val": p, "n": int(round(n_obs)),
            "n_clusters": G}


def _did(data, *, unit, time_col, alpha):
    data = data.assign(_d=(data["_treated"] & data["_post"]).astype(float))
    res = _twfe(data, regressor="_d", unit=unit, time_col=time_col, alpha=alpha)
    means = data.groupby(["_treated", "_post"]).apply(
        lambda g: np.average(g["_y"], weights=g["_w"]), include_groups=False)
    get = lambda tr, po: float(means.get((tr, po), np.nan))  # noqa: E731
    res.update({
        "n_treated": int(data.loc[data["_treated"], unit].nunique()),
        "n_control": int(data.loc[~data["_treated"], unit].nunique()),
        "pre_treated": get(True, False), "post_treated": get(True, True),
        "pre_control": get(False, False), "post_control": get(False, True),
    })
    res["raw_did"] = (res["post_treated"] - res["pre_treated"]) - (res["post_control"] - res["pre_control"])
    return res


def _series(data, start, *, alpha):
    days = (data["_time"] - start) / pd.Timedelta(days=1)
    data = data.assign(week=np.floor(days / 7).astype(int), group=np.where(data["_treated"], "treated", "control"))
    rows = []
    for (group, week), g in data.groupby(["group", "week"], sort=True):
        w = g["_w"].to_numpy(float)
        y = g["_y"].to_numpy(float)
        n = float(g["_n"].sum())
        mean = float(np.sum(w * y) / w.sum())
        n_eff = w.sum() ** 2 / np.sum(w**2) * n / len(w)  # Kish effective n (= n without weights)
        var = float(np.sum(w * (y - mean) ** 2) / w.sum() * n_eff / max(n_eff - 1, 1))
        lo, hi = _t_ci(mean, math.sqrt(var / n_eff), n_eff - 1, alpha) if n_eff > 1 else (np.nan, np.nan)
        rows.append({"group": group, "week": int(week), "mean": mean, "ci_low": lo, "ci_high": hi,
                     "n": int(round(n))})
    return pd.DataFrame(rows)


def pilot_readout(
    frame: pd.DataFrame,
    *,
    outcome,
    treated_col: str,
    post_col: str | None = None,
    start_date=None,
    unit: str = "team",
    time_col: str = "date",
    count_col: str | None = None,
    weight_col: str | None = None,
    strata: str | None = None,
    alpha: float = 0.05,
) -> PilotReadout:
    """Difference-in-differences readout of a pilot, cluster-robust by unit.

    Parameters
    ----------
    frame : DataFrame
        Contact-level rows (surveys joined to their contact and agent) or a
        unit × period panel of means (then pass ``count_col``).
    outcome : str or list of str
        Outcome column(s): the driver the pilot changed (e.g. ``resolved``)
        and the CX outcome (e.g. ``csat_top2``). Rows missing an outcome
        are dropped for that outcome only.
    treated_col : str
        Bool column: the row's unit is in the treated arm.
    post_col : str, optional
        Bool column: the row is in the pilot period. Or give ``start_date``.
    start_date : date-like, optional
        First day of the pilot (rows with ``time_col >= start_date`` are post).
    unit : str, default "team"
        The unit of assignment: fixed effect and cluster.
    time_col : str, default "date"
        The period of the period fixed effects (a day).
    count_col : str, optional
        Observations behind each row when ``frame`` is a panel of means.
    weight_col : str, optional
        Positive weights per row, e.g. inverse response propensities that
        make survey respondents represent every handled contact (see Notes).
    strata : str, optional
        Column constant within each unit by which randomization was
        stratified (e.g. ``"queue"``): the period effects become stratum ×
        period effects, so units are compared only with units of their own
        stratum on the same day (removes queue-specific daily shocks).
    alpha : float, default 0.05

    Returns
    -------
    PilotReadout
        Frozen dataclass of ``effects`` and ``series`` (columns documented in
        :class:`PilotReadout`).

    Notes
    -----
    Two-way fixed-effects regression
    :math:`y_{iut} = \\beta\\,(T_u \\times Post_t) + \\alpha_u + \\gamma_t + \\varepsilon_{iut}`
    by OLS. In a balanced 2×2 design :math:`\\hat\\beta` equals
    :math:`(\\bar y_{T,post}-\\bar y_{T,pre})-(\\bar y_{C,post}-\\bar y_{C,pre})`.
    Standard errors are the cluster-robust sandwich with the CR1 correction
    :math:`\\frac{G}{G-1}\\frac{N-1}{N-K}` (statsmodels ``cov_type="cluster"``)
    and intervals use :math:`t_{G-1}` because with few clusters the normal
    approximation is too narrow. The regression runs on unit × day cell
    means weighted by their counts, with the fixed effects partialled out
    (Frisch–Waugh–Lovell), which gives the same coefficient, residuals and
    cluster scores as the contact-level OLS at a fraction of the cost
    (the tests check it against ``smf.ols(...).fit(cov_type="cluster")``).
    With ``weight_col`` the regression is weighted least squares with the
    same cluster-robust sandwich; N in the CR1 factor stays the row count.

    Survey outcomes measure the effect *among respondents*. When response
    depends on what the pilot changes (unresolved customers answer more
    often), the respondent effect differs from the effect on all contacts;
    weighting respondents by the inverse of their response rate within
    unit × period × resolution-flag cells corrects most of it.

    References
    ----------
    .. [1] Angrist, J.D. & Pischke, J.-S. (2009) *Mostly Harmless
       Econometrics*, ch. 5.2 (differences-in-differences).
    .. [2] Cameron, A.C. & Miller, D.L. (2015) A practitioner's guide to
       cluster-robust inference. *Journal of Human Resources* 50, 317–372.
    .. [3] Bertrand, M., Duflo, E. & Mullainathan, S. (2004) How much should
       we trust differences-in-differences estimates? *QJE* 119, 249–275.

    Examples
    --------
    >>> panel = pd.DataFrame({
    ...     "team": np.repeat(["a", "b", "c", "d"], 4),
    ...     "date": np.tile(pd.date_range("2025-03-01", periods=4), 4),
    ...     "treated": np.repeat([True, True, False, False], 4),
    ...     "y": [1, 2, 5, 6,  2, 3, 6, 8,  1, 2, 3, 4,  3, 3, 4, 5]})
    >>> res = pilot_readout(panel, outcome="y", treated_col="treated", start_date="2025-03-03")
    >>> round(float(res.effects.loc[0, "estimate"]), 6)   # (5.5-1.5 + 7-2.5)/2 - (3.5-1.5 + 4.5-3)/2
    2.5
    """
    outcomes = _as_list(outcome)
    if not outcomes:
        raise ValueError("outcome must name at least one column")
    _check_prob("alpha", alpha)
    effects, series = [], []
    for out in outcomes:
        data, start = _prepare_panel(frame, outcome=out, treated_col=treated_col, unit=unit, time_col=time_col,
                                     post_col=post_col, start_date=start_date, count_col=count_col,
                                     weight_col=weight_col, strata=strata)
        row = {"outcome": out, **_did(data, unit=unit, time_col=time_col, alpha=alpha)}
        effects.append(row)
        if start is not None:
            s = _series(data.assign(_time=data[time_col]), start, alpha=alpha)
            s.insert(0, "outcome", out)
            series.append(s)
    return PilotReadout(effects=pd.DataFrame(effects),
                        series=pd.concat(series, ignore_index=True) if series else pd.DataFrame())


def pre_trends(
    frame: pd.DataFrame,
    *,
    outcome,
    treated_col: str,
    start_date,
    unit: str = "team",
    time_col: str = "date",
    count_col: str | None = None,
    weight_col: str | None = None,
    strata: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Test whether treated and control units trended alike before the pilot.

    Parameters
    ----------
    frame, outcome, treated_col, unit, time_col, count_col, weight_col, strata, alpha
        As in :func:`pilot_readout`.
    start_date : date-like
        First day of the pilot; only earlier rows are used.

    Returns
    -------
    DataFrame
        One row per outcome: ``outcome``, ``estimate`` (difference in linear
        trend, treated − control, outcome units per week), ``se``,
        ``ci_low``, ``ci_high``, ``p_val``, ``n``, ``n_clusters``,
        ``parallel`` (bool: the CI covers 0).

    Notes
    -----
    On the pre-period only,
    :math:`y_{iut} = \\theta\\,(T_u \\times \\tau_t) + \\alpha_u + \\gamma_t + \\varepsilon`
    with :math:`\\tau_t` the weeks before the start; :math:`\\theta \\ne 0`
    means the arms were already diverging, which would bias the DiD.
    Cluster-robust CR1 errors by unit, :math:`t_{G-1}`. Failing to reject is
    weak evidence when the pre-period is short.

    References
    ----------
    .. [1] Roth, J. (2022) Pretest with caution: event-study estimates after
       testing for parallel trends. *AER: Insights* 4, 305–322.

    Examples
    --------
    >>> panel = pd.DataFrame({
    ...     "team": np.repeat(["a", "b", "c", "d"], 4),
    ...     "date": np.tile(pd.date_range("2025-03-01", periods=4, freq="W"), 4),
    ...     "treated": np.repeat([True, True, False, False], 4),
    ...     "y": [1, 2, 5, 6,  2, 3, 6, 8,  1, 2, 3, 4,  3, 3, 4, 5]})
    >>> pt = pre_trends(panel, outcome="y", treated_col="treated", start_date="2025-03-16")
    >>> round(float(pt.loc[0, "estimate"]), 3)
    0.5
    """
    rows = []
    for out in _as_list(outcome):
        data, start = _prepare_panel(frame, outcome=out, treated_col=treated_col, unit=unit, time_col=time_col,
                                     post_col=None, start_date=start_date, count_col=count_col,
                                     weight_col=weight_col, strata=strata)
        data = data[~data["_post"]]
        weeks = (data[time_col] - start) / pd.Timedelta(days=7)
        data = data.assign(_x=weeks.astype(float) * data["_treated"].astype(float))
        res = _twfe(data, regressor="_x", unit=unit, time_col=time_col, alpha=alpha)
        rows.append({"outcome": out, **res, "parallel": bool(res["ci_low"] <= 0 <= res["ci_high"])})
    return pd.DataFrame(rows)


def placebo(
    frame: pd.DataFrame,
    *,
    outcome,
    treated_col: str,
    start_date,
    placebo_date=None,
    unit: str = "team",
    time_col: str = "date",
    count_col: str | None = None,
    weight_col: str | None = None,
    strata: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """DiD at a fake start date inside the pre-period (should find nothing).

    Parameters
    ----------
    frame, outcome, treated_col, unit, time_col, count_col, weight_col, strata, alpha
        As in :func:`pilot_readout`.
    start_date : date-like
        The real start; rows on or after it are dropped.
    placebo_date : date-like, optional
        The fake start. Default: the pilot backdated by its own length — the
        fake pilot covers as many periods as the real one and ends where the
        real one starts (the middle of the pre-period when the pilot is
        longer than half of it).

    Returns
    -------
    DataFrame
        :func:`pilot_readout` ``effects`` columns plus ``placebo_date`` and
        ``covers_zero`` (bool: the CI covers 0, as it should).

    Notes
    -----
    No treatment happened at the placebo date, so a significant "effect"
    signals diverging trends or mis-specified errors. At α = 0.05 it
    happens by chance in 5% of placebos (on 50 seeds of the sample
    center, 3 of 50 placebos rejected).

    References
    ----------
    .. [1] Abadie, A., Diamond, A. & Hainmueller, J. (2015) Comparative
       politics and the synthetic control method. *AJPS* 59, 495–510
       (in-time placebos).

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> panel = pd.DataFrame({"team": np.repeat(list("abcdef"), 40),
    ...                       "date": np.tile(pd.date_range("2025-01-01", periods=40), 6),
    ...                       "treated": np.repeat([True] * 3 + [False] * 3, 40),
    ...                       "y": rng.normal(0, 1, 240)})
    >>> pl = placebo(panel, outcome="y", treated_col="treated", start_date="2025-01-31")
    >>> str(pl.loc[0, "placebo_date"].date()), bool(pl.loc[0, "covers_zero"])
    ('2025-01-21', True)
    """
    rows = []
    for out in _as_list(outcome):
        data, start = _prepare_panel(frame, outcome=out, treated_col=treated_col, unit=unit, time_col=time_col,
                                     post_col=None, start_date=start_date, count_col=count_col,
                                     weight_col=weight_col, strata=strata)
        pre = data[~data["_post"]]
        if pre.empty:
            raise DataError("placebo: no rows before start_date")
        times = pre[time_col]
        if placebo_date is None:
            distinct = times.drop_duplicates().sort_values().reset_index(drop=True)
            n_post = data.loc[data["_post"], time_col].nunique()
            k = len(distinct) - n_post if 0 < n_post < len(distinct) else len(distinct) // 2
            fake = distinct.iloc[k]
        else:
            fake = _to_stamp(placebo_date, times)
        if not (times.min() < fake <= times.max()):
            raise ValueError(f"placebo_date must fall inside the pre-period ({times.min()} .. {times.max()}); got {fake}")
        pre = pre.assign(_post=pre[time_col] >= fake)
        res = _did(pre, unit=unit, time_col=time_col, alpha=alpha)
        rows.append({"outcome": out, **res, "placebo_date": fake,
                     "covers_zero": bool(res["ci_low"] <= 0 <= res["ci_high"])})
    return pd.DataFrame(rows)


def aa_split(
    frame: pd.DataFrame,
    *,
    outcome,
    treated_col: str,
    start_date=None,
    post_col: str | None = None,
    unit: str = "team",
    time_col: str = "date",
    count_col: str | None = None,
    weight_col: str | None = None,
    strata: str | None = None,
    seed: int = 0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """A/A test: split the control units at random and run the same DiD.

    Parameters
    ----------
    frame, outcome, treated_col, start_date, post_col, unit, time_col, count_col, weight_col, strata, alpha
        As in :func:`pilot_readout`.
    seed : int, default 0
        Seed of the random split (``np.random.default_rng(seed)``).

    Returns
    -------
    DataFrame
        :func:`pilot_readout` ``effects`` columns plus ``pseudo_treated``
        (the control units labelled treated, comma-separated) and
        ``covers_zero`` (bool: the CI covers 0, as it should).

    Notes
    -----
    Both halves received no treatment, so the estimate should be
    indistinguishable from 0; a rejection points at clustering, trends or
    errors in the pipeline. Needs at least 4 control units.

    References
    ----------
    .. [1] Kohavi, R., Tang, D. & Xu, Y. (2020) *Trustworthy Online
       Controlled Experiments*, ch. 19 (A/A tests).

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> panel = pd.DataFrame({"team": np.repeat(list("abcdefgh"), 20),
    ...                       "date": np.tile(pd.date_range("2025-01-01", periods=20), 8),
    ...                       "treated": np.repeat([True] * 2 + [False] * 6, 20),
    ...                       "y": rng.normal(0, 1, 160)})
    >>> aa = aa_split(panel, outcome="y", treated_col="treated", start_date="2025-01-11", seed=1)
    >>> int(aa.loc[0, "n_treated"]), int(aa.loc[0, "n_control"])
    (3, 3)
    """
    rows = []
    for out in _as_list(outcome):
        data, _ = _prepare_panel(frame, outcome=out, treated_col=treated_col, unit=unit, time_col=time_col,
                                 post_col=post_col, start_date=start_date, count_col=count_col,
                                     weight_col=weight_col, strata=strata)
        control = data[~data["_treated"]]
        units = np.array(sorted(control[unit].unique()))
        if len(units) < 4:
            raise DataError(f"aa_split needs at least 4 control units; got {len(units)}")
        rng = np.random.default_rng(seed)
        pseudo = sorted(rng.choice(units, size=len(units) // 2, replace=False).tolist())
        control = control.assign(_treated=control[unit].isin(pseudo))
        res = _did(control, unit=unit, time_col=time_col, alpha=alpha)
        rows.append({"outcome": out, **res, "pseudo_treated": ", ".join(map(str, pseudo)),
                     "covers_zero": bool(res["ci_low"] <= 0 <= res["ci_high"])})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- verdict


def predicted_effect(what_if: pd.DataFrame, *, driver: str, change: float) -> dict:
    """Scale a what-if prediction (step 5) to the driver change a pilot actually achieved.

    Parameters
    ----------
    what_if : DataFrame
        :func:`cxlab.drivers.what_if` output (or step 5's recorded rows) with
        ``driver``, ``change``, ``coef``, ``effect``, ``ci_low``, ``ci_high``.
    driver : str
        The driver the pilot moved (a row of ``what_if``).
    change : float
        The achieved change, in the driver's units (e.g. the DiD on the
        resolution flag / 100 for a 0/1 driver).

    Returns
    -------
    dict
        ``driver``, ``change``, ``coef`` (outcome units per driver unit),
        ``effect`` (coef × change), ``ci_low``, ``ci_high`` (the what-if
        interval scaled to ``change``).

    Notes
    -----
    The model is linear in the driver, so the prediction for a change
    :math:`c` is :math:`\\hat\\beta c` and its interval is the stated
    change's interval times :math:`c/c_0` (bounds swap when the ratio is
    negative). The uncertainty of the achieved change itself is not added.

    References
    ----------
    .. [1] Efron, B. & Tibshirani, R.J. (1993) *An Introduction to the
       Bootstrap*, ch. 13 (percentile intervals are equivariant).

    Examples
    --------
    >>> wi = pd.DataFrame({"driver": ["resolved"], "change": [0.05], "coef": [38.0], "effect": [1.9],
    ...                    "ci_low": [1.8], "ci_high": [2.0]})
    >>> p = predicted_effect(wi, driver="resolved", change=0.075)
    >>> round(p["effect"], 3), round(p["ci_low"], 3), round(p["ci_high"], 3)
    (2.85, 2.7, 3.0)
    """
    _require_columns(what_if, ["driver", "change", "coef", "effect", "ci_low", "ci_high"], what="what_if")
    rows = what_if[what_if["driver"] == driver]
    if rows.empty:
        raise ValueError(f"what_if has no row for driver {driver!r}; it has {list(what_if['driver'])}")
    row = rows.iloc[0]
    ratio = float(change) / float(row["change"])
    lo, hi = sorted((float(row["ci_low"]) * ratio, float(row["ci_high"]) * ratio))
    return {"driver": driver, "change": float(change), "coef": float(row["coef"]),
            "effect": float(row["coef"]) * float(change), "ci_low": lo, "ci_high": hi}


@dataclass(frozen=True)
class Verdict:
    """Result of :func:`verdict`.

    Attributes
    ----------
    label : str
        ``"held"``, ``"held partly"`` or ``"did not hold"``.
    sentence : str
        One plain-language sentence for the brief.
    observed, observed_ci_low, observed_ci_high : float
        The pilot's effect and its CI.
    predicted, predicted_ci_low, predicted_ci_high : float
        The prediction and its CI (NaN bounds when none was given).
    ratio : float
        observed / predicted.
    difference_ci_low, difference_ci_high : float
        CI of observed − predicted (combining both uncertainties).
    significant : bool
        The observed CI excludes 0.
    same_sign : bool
        Observed and predicted effects point the same way.
    consistent : bool
        The prediction is compatible with the observation (see Notes).
    """

    label: str
    sentence: str
    observed: float
    observed_ci_low: float
    observed_ci_high: float
    predicted: float
    predicted_ci_low: float
    predicted_ci_high: float
    ratio: float
    difference_ci_low: float
    difference_ci_high: float
    significant: bool
    same_sign: bool
    consistent: bool

    def as_dict(self) -> dict:
        """JSON-able dict (NaN becomes None)."""
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in asdict(self).items()}


def verdict(
    observed_effect: float,
    observed_ci,
    predicted_effect: float,
    predicted_ci=None,
    *,
    what: str = "the effect",
    unit: str = "",
    digits: int = 1,
) -> Verdict:
    """Did the pilot confirm the predicted effect? "held" / "held partly" / "did not hold".

    Parameters
    ----------
    observed_effect : float
        The pilot's estimated effect (e.g. DiD on CSAT).
    observed_ci : (float, float)
        Its confidence interval.
    predicted_effect : float
        What the driver model predicted for the pilot's change in the driver.
    predicted_ci : (float, float), optional
        The prediction's interval, if known.
    what : str
        Names the effect in the sentence, e.g. ``"the CSAT effect"``.
    unit : str
        Unit appended to numbers in the sentence, e.g. ``" points"``.
    digits : int, default 1
        Decimals in the sentence.

    Returns
    -------
    Verdict
        Frozen dataclass (fields documented in :class:`Verdict`); ``as_dict()``
        gives a JSON-able record.

    Notes
    -----
    *significant*: the observed CI excludes 0. *consistent*: the observed CI
    covers the predicted value, or — when ``predicted_ci`` is given — the
    interval of the difference observed − predicted covers 0, with each SE
    read off its interval as width / (2·1.96) and
    :math:`SE_{diff} = \\sqrt{SE_o^2 + SE_p^2}`. The rule:

    * **held** — significant, same sign as predicted, and consistent;
    * **held partly** — significant and same sign, but not consistent (the
      effect is real but clearly smaller or larger than predicted);
    * **did not hold** — otherwise: not significant, or the opposite sign.
      When the CI is wide enough to cover both 0 and the prediction the
      sentence says the pilot was too small to tell.

    References
    ----------
    .. [1] Gelman, A. & Stern, H. (2006) The difference between
       "significant" and "not significant" is not itself statistically
       significant. *The American Statistician* 60, 328–331.

    Examples
    --------
    >>> v = verdict(2.8, (1.2, 4.4), 3.0, what="the CSAT effect", unit=" points")
    >>> v.label
    'held'
    >>> v.sentence
    'The pilot confirmed the prediction: the CSAT effect was +2.8 points (95% CI +1.2 to +4.4), in line with the predicted +3.0 points.'
    >>> verdict(1.0, (0.5, 1.5), 3.0).label
    'held partly'
    >>> verdict(0.4, (-1.0, 1.8), 3.0).label
    'did not hold'
    """
    try:
        lo, hi = (float(v) for v in observed_ci)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"observed_ci must be a pair of numbers; got {observed_ci!r}") from exc
    obs, pred = float(observed_effect), float(predicted_effect)
    if not all(np.isfinite([obs, lo, hi, pred])):
        raise ValueError("observed_effect, observed_ci and predicted_effect must be finite")
    if lo > hi:
        raise ValueError(f"observed_ci must be (low, high); got {observed_ci!r}")
    q = stats.norm.ppf(0.975)
    if predicted_ci is not None:
        plo, phi = (float(v) for v in predicted_ci)
        if plo > phi:
            raise ValueError(f"predicted_ci must be (low, high); got {predicted_ci!r}")
        se_diff = math.hypot((hi - lo) / (2 * q), (phi - plo) / (2 * q))
        dlo, dhi = obs - pred - q * se_diff, obs - pred + q * se_diff
        consistent = bool(dlo <= 0 <= dhi)
    else:
        plo = phi = np.nan
        dlo, dhi = obs - pred - (obs - lo), obs - pred + (hi - obs)
        consistent = bool(lo <= pred <= hi)
    significant = bool(lo > 0 or hi < 0)
    same_sign = bool(np.sign(obs) == np.sign(pred) and pred != 0)
    ratio = obs / pred if pred != 0 else np.nan

    def f(x):
        return f"{x:+.{digits}f}{unit}"

    ci = f"95% CI {lo:+.{digits}f} to {hi:+.{digits}f}"
    if significant and same_sign and consistent:
        label = "held"
        sentence = (f"The pilot confirmed the prediction: {what} was {f(obs)} ({ci}), "
                    f"in line with the predicted {f(pred)}.")
    elif significant and same_sign:
        label = "held partly"
        size = "smaller" if abs(obs) < abs(pred) else "larger"
        sentence = (f"The pilot confirmed the direction but not the size: {what} was {f(obs)} ({ci}), "
                    f"{size} than the predicted {f(pred)} (about {ratio:.0%} of it).")
    else:
        label = "did not hold"
        if significant:
            sentence = (f"The pilot contradicted the prediction: {what} was {f(obs)} ({ci}), "
                        f"the opposite of the predicted {f(pred)}.")
        elif lo <= pred <= hi:
            sentence = (f"The pilot was too small to tell: {what} was {f(obs)} ({ci}), an interval that "
                        f"covers both no effect and the predicted {f(pred)}.")
        else:
            sentence = (f"The pilot found no effect: {what} was {f(obs)} ({ci}), "
                        f"which rules out the predicted {f(pred)}.")
    return Verdict(label, sentence, obs, lo, hi, pred, plo, phi, ratio, dlo, dhi, significant, same_sign,
                   consistent)
