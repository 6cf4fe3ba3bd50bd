"""Small statistical helpers shared across step packages (below every step in the import graph)."""

from __future__ import annotations

import math

import pandas as pd
from scipy import stats

from .errors import DataError

__all__ = ["check_margin", "cr1_factor", "tost_from_estimate"]


def check_margin(margin, alpha=None) -> None:
    """Check an equivalence margin (and, when given, the level of its one-sided tests).

    Parameters
    ----------
    margin : float
        The smallest effect of interest: must be a finite number > 0 (not bool).
    alpha : float, optional
        Level of each one-sided test: must be a number strictly between 0 and 0.5.
        Not checked when None.

    Raises
    ------
    ValueError
        ``margin must be a positive number; got ...`` or
        ``alpha must be a number strictly between 0 and 0.5; got ...``.

    Notes
    -----
    α < 0.5 because the TOST interval has level 1 − 2α, which must be positive.

    Examples
    --------
    >>> check_margin(0.5, 0.05)
    >>> check_margin(0)
    Traceback (most recent call last):
    ...
    ValueError: margin must be a positive number; got 0
    >>> check_margin(1.0, 0.5)
    Traceback (most recent call last):
    ...
    ValueError: alpha must be a number strictly between 0 and 0.5; got 0.5
    """
    if not (isinstance(margin, (int, float)) and not isinstance(margin, bool) and math.isfinite(margin)
            and margin > 0):
        raise ValueError(f"margin must be a positive number; got {margin!r}")
    if alpha is not None and not (isinstance(alpha, (int, float)) and 0 < alpha < 0.5):
        raise ValueError(f"alpha must be a number strictly between 0 and 0.5; got {alpha!r}")


def cr1_factor(G: int, n: float, k: int) -> float:
    """Small-sample factor of the CR1 cluster-robust sandwich.

    Parameters
    ----------
    G : int
        Number of clusters (≥ 2).
    n : float
        Number of observations.
    k : int
        Number of estimated coefficients (rank of the design).

    Returns
    -------
    float
        :math:`\\frac{G}{G-1}\\,\\frac{n-1}{n-k}`.

    Notes
    -----
    The factor statsmodels applies with ``cov_type="cluster"`` (and Stata's
    ``vce(cluster)``); the shared definition for :mod:`cxlab.verify` and
    :mod:`cxlab.correlate`.

    References
    ----------
    .. [1] Cameron, A.C. & Miller, D.L. (2015) A practitioner's guide to
       cluster-robust inference. *Journal of Human Resources* 50, 317–372 (eq. 12).

    Examples
    --------
    10 clusters, 100 rows, 3 coefficients: 10/9 · 99/97 = 1.1340 (closed form).

    >>> round(cr1_factor(10, 100, 3), 4)
    1.134
    """
    return G / (G - 1) * (n - 1) / (n - k)


def tost_from_estimate(est: float, se: float, df: float, *, margin: float, alpha: float = 0.05,
                       unit: str = "points", method: str = "t") -> pd.DataFrame:
    """Two one-sided tests of equivalence from an estimate, its standard error and degrees of freedom.

    Any estimator with a t (or, with ``df=inf``, normal) reference
    distribution can be tested for equivalence this way: a CR1 regression
    coefficient (df = G − 1), a Welch difference, a partial effect.

    Parameters
    ----------
    est, se : float
        The estimate and its standard error (> 0).
    df : float
        Degrees of freedom of the t reference (``math.inf`` for normal).
    margin : float
        The smallest effect of interest, > 0: the equivalence region is ±margin.
    alpha : float, default 0.05
        Level of each one-sided test; the interval is 1 − 2α.
    unit : str, default "points"
        Word for the margin's unit in the sentence.
    method : str
        Label stored in the ``method`` column.

    Returns
    -------
    DataFrame
        One row: ``estimate, se, df, margin, t_lower, p_lower, t_upper,
        p_upper, p_equiv, ci_low, ci_high, equivalent, method, sentence``.

    Notes
    -----
    :math:`p_{lower} = P(T_{df} > (\\hat\\theta + m)/se)`,
    :math:`p_{upper} = P(T_{df} < (\\hat\\theta - m)/se)`,
    :math:`p = \\max(p_{lower}, p_{upper})`; equivalence at α ⇔ the
    :math:`1-2\\alpha` interval lies inside ±m (Schuirmann 1987).

    References
    ----------
    .. [1] Schuirmann, D.J. (1987) *J. Pharmacokinetics and Biopharmaceutics* 15, 657–680.

    Examples
    --------
    Normal reference, estimate 0.1, se 0.2, margin 0.5:
    p_lower = 1 − Φ(3) = 0.00135, p_upper = Φ(−2) = 0.02275 (closed form).

    >>> r = tost_from_estimate(0.1, 0.2, math.inf, margin=0.5)
    >>> round(float(r.loc[0, "p_equiv"]), 5), bool(r.loc[0, "equivalent"])
    (0.02275, True)
    """
    check_margin(margin, alpha)
    if not se > 0:
        raise DataError("the standard error is 0: equivalence cannot be tested")
    t_lo, t_hi = (est + margin) / se, (est - margin) / se
    p_lo, p_hi = float(stats.t.sf(t_lo, df)), float(stats.t.cdf(t_hi, df))
    p = max(p_lo, p_hi)
    q = float(stats.t.ppf(1 - alpha, df))
    m_txt = f"{margin:g}"
    sentence = (f"within ±{m_txt} {unit} (equivalence p = {p:.2g})" if p < alpha
                else f"an effect of ±{m_txt} {unit} cannot be ruled out (equivalence p = {p:.2g})")
    return pd.DataFrame([{
        "estimate": float(est), "se": float(se), "df": float(df), "margin": float(margin), "t_lower": t_lo,
        "p_lower": p_lo, "t_upper": t_hi, "p_upper": p_hi, "p_equiv": p, "ci_low": est - q * se,
        "ci_high": est + q * se, "equivalent": bool(p < alpha), "method": method, "sentence": sentence}])
