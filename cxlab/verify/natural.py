"""Step 6, natural experiments: periods where a driver moved sharply on its own.

Episodes are runs of periods where the driver left its rolling baseline
(e.g. a staffing shortfall); each is checked against the change the driver
model predicts, and the episodes are pooled into one implied slope
(:func:`natural_experiments`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._utils import as_list, require_columns
from ..errors import DataError, check_option
from ._common import check_prob, ols, t_ci, to_time

__all__ = ["NaturalExperiments", "natural_experiments"]


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
    controls = as_list(controls)
    check_option("direction", direction, ("both", "drop", "rise"))
    check_prob("alpha", alpha)
    if not (isinstance(threshold_sd, (int, float)) and threshold_sd > 0):
        raise ValueError(f"threshold_sd must be a positive number; got {threshold_sd!r}")
    if not (isinstance(window, int) and window >= 3):
        raise ValueError(f"window must be an integer >= 3; got {window!r}")
    require_columns(period_frame, [date_col, driver, outcome, *controls], what="period_frame")
    frame = period_frame.copy()
    frame[date_col] = to_time(frame[date_col])
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
        _, coefs = ols(fit_rows[outcome].to_numpy(float), fit_rows[[driver, *controls]].to_numpy(float),
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
        lo, hi = t_ci(dy, se, window - 1, alpha)
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
