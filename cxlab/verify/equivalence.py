"""Step 6, equivalence: two one-sided tests (TOST) that an effect lies within ±margin.

A non-significant difference is not evidence of no difference. :func:`tost`
asks the question a "no effect" claim needs: is the effect inside the
smallest effect of interest, ±margin, for a difference in means or for a
regression coefficient with cluster-robust errors.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .._stats import check_margin, tost_from_estimate
from ..errors import DataError, check_option
from .clusters import cluster_design, cr1_se

__all__ = ["tost"]


def tost(
    x,
    y=None,
    *,
    margin: float,
    outcome: str | None = None,
    treat: str | None = None,
    cluster: str | None = None,
    post: str | None = None,
    covariates=(),
    fixed_effects=(),
    weight_col: str | None = None,
    usevar: str = "unequal",
    alpha: float = 0.05,
    unit: str = "points",
) -> pd.DataFrame:
    """Two one-sided tests of equivalence: is the effect within ±margin?

    Parameters
    ----------
    x : array-like or DataFrame
        (a) The first sample (e.g. treated values) when ``y`` is given:
        the effect is ``mean(x) - mean(y)``. (b) A DataFrame for the
        regression form, with ``outcome``, ``treat`` and ``cluster``.
    y : array-like, optional
        The second sample of form (a).
    margin : float
        The smallest effect of interest, > 0, in outcome units: the
        equivalence region is ``(-margin, margin)``.
    outcome, treat, cluster, post, covariates, fixed_effects, weight_col
        Form (b): the coefficient of ``treat`` (× ``post``) in the regression
        of :func:`cxlab.verify.wild_cluster_bootstrap`, with CR1 errors by
        ``cluster`` (e.g. ``"agent_id"``) and :math:`t_{G-1}`.
    usevar : {"unequal", "pooled"}, default "unequal"
        Form (a): Welch (Satterthwaite df) or pooled-variance t.
    alpha : float, default 0.05
        Level of each one-sided test; the interval is 1 − 2α (90%).
    unit : str, default "points"
        Word for the margin's unit in the sentence.

    Returns
    -------
    DataFrame
        One row: ``estimate``, ``se``, ``df``, ``margin``, ``t_lower``
        (:math:`(\\hat\\theta + m)/se`), ``p_lower``, ``t_upper``
        (:math:`(\\hat\\theta - m)/se`), ``p_upper``, ``p_equiv``
        (max of the two), ``ci_low``, ``ci_high`` (1 − 2α interval),
        ``equivalent`` (bool: ``p_equiv < alpha``, i.e. the interval lies
        inside ±margin), ``method`` (``"welch"``, ``"pooled"`` or ``"cr1"``)
        and ``sentence``.

    Notes
    -----
    :math:`H_0: |\\theta| \\ge m` against :math:`H_1: |\\theta| < m`, as two
    one-sided t tests: :math:`p_{lower} = P(T_{df} > (\\hat\\theta + m)/se)`,
    :math:`p_{upper} = P(T_{df} < (\\hat\\theta - m)/se)`,
    :math:`p = \\max(p_{lower}, p_{upper})`. Rejecting both at α is the same
    as the :math:`1-2\\alpha` interval
    :math:`\\hat\\theta \\pm t_{1-\\alpha,df}\\,se` lying within ±m. Welch:
    :math:`se^2 = s_x^2/n_x + s_y^2/n_y` with Satterthwaite df; pooled:
    :math:`se^2 = s_p^2(1/n_x + 1/n_y)`, df = :math:`n_x+n_y-2`. Regression:
    CR1 sandwich :math:`\\frac{G}{G-1}\\frac{N-1}{N-K}`, df = G − 1.

    References
    ----------
    .. [1] Schuirmann, D.J. (1987) A comparison of the two one-sided tests
       procedure and the power approach for assessing the equivalence of
       average bioavailability. *J. Pharmacokinetics and Biopharmaceutics*
       15, 657–680.
    .. [2] Lakens, D. (2017) Equivalence tests: a practical primer for t tests,
       correlations, and meta-analyses. *Social Psychological and
       Personality Science* 8, 355–362.

    Examples
    --------
    >>> res = tost([3, 4, 5, 4, 4], [4, 4, 3, 5, 4], margin=1.0, usevar="pooled")
    >>> round(float(res.loc[0, "estimate"]), 3), round(float(res.loc[0, "p_equiv"]), 4)
    (0.0, 0.0279)
    >>> res.loc[0, "sentence"]
    'within ±1 points (equivalence p = 0.028)'
    """
    check_margin(margin, alpha)
    if isinstance(x, pd.DataFrame) and y is None:
        if outcome is None or treat is None or cluster is None:
            raise ValueError("the regression form needs outcome, treat and cluster")
        d = cluster_design(x, outcome=outcome, treat=treat, cluster=cluster, post=post, covariates=covariates,
                    fixed_effects=fixed_effects, weight_col=weight_col)
        est, se = cr1_se(d)
        df = float(len(d.clusters) - 1)
        method = "cr1"
    else:
        if y is None:
            raise ValueError("pass two samples (x, y) or a DataFrame with outcome, treat and cluster")
        check_option("usevar", usevar, ("unequal", "pooled"))
        a = np.asarray(x, float)
        b = np.asarray(y, float)
        a, b = a[~np.isnan(a)], b[~np.isnan(b)]
        if len(a) < 2 or len(b) < 2:
            raise DataError(f"each sample needs at least 2 values; got {len(a)} and {len(b)}")
        na, nb, va, vb = len(a), len(b), a.var(ddof=1), b.var(ddof=1)
        est = float(a.mean() - b.mean())
        if usevar == "pooled":
            df = float(na + nb - 2)
            se = math.sqrt(((na - 1) * va + (nb - 1) * vb) / df * (1 / na + 1 / nb))
        else:
            qa, qb = va / na, vb / nb
            se = math.sqrt(qa + qb)
            df = (qa + qb) ** 2 / (qa**2 / (na - 1) + qb**2 / (nb - 1))
        method = "welch" if usevar == "unequal" else "pooled"
    return tost_from_estimate(est, se, df, margin=margin, alpha=alpha, unit=unit, method=method)
