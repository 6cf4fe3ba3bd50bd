"""Helpers shared by the :mod:`cxlab.correlate` families (internal; nothing here is re-exported).

Correlation arithmetic (row-wise Pearson r, the t test of r, the Fisher-z
interval) and the input checks every analysis starts with.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from .._utils import as_list, require_columns
from ..errors import DataError

__all__: list[str] = []


def p_from_r(r, df) -> np.ndarray:
    """Two-sided p of a correlation from t = r sqrt(df / (1 - r^2)), df degrees of freedom.

    Examples
    --------
    r = 0.5 from 12 points (10 df): t = 0.5 sqrt(10 / 0.75) = 1.826,

    >>> round(float(p_from_r(0.5, 10)), 4)
    0.0979
    """
    r = np.asarray(r, dtype=float)
    df = np.asarray(df, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = r * np.sqrt(df / np.clip(1.0 - r * r, 1e-300, None))
        p = 2.0 * stats.t.sf(np.abs(t), df)
    return np.where(np.isfinite(r) & (df > 0), p, np.nan)


def fisher_ci(r, se, conf: float) -> tuple[np.ndarray, np.ndarray]:
    """CI tanh(atanh(r) -+ z se), z the standard normal quantile at 0.5 + conf/2."""
    z = stats.norm.ppf(0.5 + conf / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        zr = np.arctanh(np.clip(np.asarray(r, dtype=float), -0.999999999, 0.999999999))
        return np.tanh(zr - z * se), np.tanh(zr + z * se)


def fisher_ci_dof(r, dof, conf: float) -> tuple[float, float]:
    """:func:`fisher_ci` with SE 1 / sqrt(dof) (dof floored at 1), as floats."""
    lo, hi = fisher_ci(r, 1.0 / math.sqrt(max(dof, 1)), conf)
    return float(lo), float(hi)


def rowwise_r(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of each row of ``a`` with the same row of ``b`` (NaN for a constant row)."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, (a * b).sum(axis=1) / den, np.nan)


def corr(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r of two 1-d arrays (:func:`rowwise_r` of one row)."""
    return float(rowwise_r(a[None, :], b[None, :])[0])


def check_numeric(s: pd.Series, name: str) -> None:
    """Raise :class:`~cxlab.errors.DataError` unless column ``name`` is numeric or bool."""
    if not (pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)):
        raise DataError(f"column {name!r} must be numeric or bool; got dtype {s.dtype}")


def numeric(s: pd.Series, name: str) -> pd.Series:
    """A numeric or bool column as float64 (:func:`check_numeric` first)."""
    check_numeric(s, name)
    return s.astype("float64")


def column_names(value, name: str, *, noun: str = "column", why: str = "") -> list[str]:
    """``value`` as a non-empty list of names (``_utils.as_list(strings=True)``)."""
    out = as_list(value, name, strings=True)
    if not out:
        raise ValueError(f"{name} must name at least one {noun}{why}")
    return out


def check_inputs(frame, columns, *, what: str, conf: float, n_boot: int = 0,
                 max_lag: int | None = None) -> None:
    """Validate ``conf``, ``n_boot``, ``max_lag`` and that ``frame`` has ``columns``."""
    if not 0 < conf < 1:
        raise ValueError(f"conf must be between 0 and 1; got {conf!r}")
    if int(n_boot) != n_boot or n_boot < 0:
        raise ValueError(f"n_boot must be a non-negative integer; got {n_boot!r}")
    if max_lag is not None and (int(max_lag) != max_lag or max_lag < 0):
        raise ValueError(f"max_lag must be a non-negative integer; got {max_lag!r}")
    require_columns(frame, list(dict.fromkeys(c for c in columns if c)), what=what)
