"""Helpers shared by the step-6 modules (time parsing, t intervals, option checks, OLS).

Internal to :mod:`cxlab.verify`; notebooks use the package's public names.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["to_time", "to_stamp", "t_ci", "check_prob", "ols"]


def to_time(values: pd.Series) -> pd.Series:
    """Parse a date/time column into datetime64 (tz kept when present)."""
    return pd.to_datetime(values)


def to_stamp(value, like: pd.Series) -> pd.Timestamp:
    """A date-like option as a Timestamp comparable with the series ``like``."""
    stamp = pd.Timestamp(value)
    tz = getattr(like.dt, "tz", None)
    if tz is not None and stamp.tzinfo is None:
        stamp = stamp.tz_localize(tz)
    elif tz is None and stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    return stamp


def t_ci(estimate: float, se: float, df: float, alpha: float) -> tuple[float, float]:
    """Two-sided t interval ``estimate ± t_{1-α/2, df} · se`` (NaN pair without a finite se or df)."""
    if not np.isfinite(se) or df <= 0:
        return (np.nan, np.nan)
    q = stats.t.ppf(1 - alpha / 2, df)
    return (estimate - q * se, estimate + q * se)


def check_prob(name: str, value: float) -> None:
    """Raise ValueError unless ``value`` is a number strictly between 0 and 1."""
    if not (isinstance(value, (int, float)) and 0 < value < 1):
        raise ValueError(f"{name} must be a number strictly between 0 and 1; got {value!r}")


# --------------------------------------------------------------------------- out of time


def ols(y: np.ndarray, X: np.ndarray, names: list[str], alpha: float = 0.05):
    """OLS of ``y`` on ``X`` plus a constant: (statsmodels result, per-driver coef/se/ci/p table)."""
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
