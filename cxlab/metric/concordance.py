"""Concordance (agreement) between the CX metrics answered on the same responses: Spearman
correlation with its Fisher-z interval, and the cross-tab of their categories.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import NotEnoughData, check_option
from ._common import CATEGORY_ORDER, present_metrics, spearman_ci
from .scoring import score_responses

__all__ = ["agreement", "agreement_crosstab"]


def agreement(surveys: pd.DataFrame, *, conf: float = 0.95) -> pd.DataFrame:
    """Spearman rank correlation between the CX metrics on the same responses.

    Parameters
    ----------
    surveys : DataFrame
        Survey responses with two or more of ``csat``, ``nps``, ``ces``.
    conf : float
        Confidence level.

    Returns
    -------
    DataFrame
        One row per pair of metrics present:

        - ``x``, ``y`` : the metrics;
        - ``n`` : responses answering both;
        - ``r`` : Spearman's ρ (pingouin ``corr``);
        - ``ci_low``, ``ci_high`` : Fisher-z interval (pingouin ``compute_esci``);
        - ``p_val`` : two-sided p-value.

    Raises
    ------
    cxlab.errors.NotEnoughData
        Fewer than two metrics are answered (a center that collects only CSAT).

    Notes
    -----
    CES is oriented so that 7 = "made it easy", so all three correlate
    positively when they agree.

    Examples
    --------
    >>> s = pd.DataFrame({"csat": [1, 2, 3, 4, 5, 5, 4], "nps": [2, 4, 5, 8, 10, 9, 7]})
    >>> agreement(s)[["x", "y", "n"]]
          x    y  n
    0  csat  nps  7
    """
    present = present_metrics(surveys)
    if len(present) < 2:
        raise NotEnoughData(f"only {len(present) or 'no'} CX metric{'' if len(present) == 1 else 's'} answered "
                            f"({', '.join(present) or 'none'}); agreement needs at least two metrics on the same responses")
    rows = []
    for i, x in enumerate(present):
        for y in present[i + 1:]:
            both = surveys[[x, y]].apply(pd.to_numeric, errors="coerce").dropna()
            n = len(both)
            if n < 4:
                rows.append(dict(x=x, y=y, n=n, r=np.nan, ci_low=np.nan, ci_high=np.nan, p_val=np.nan))
                continue
            rows.append(dict(x=x, y=y, n=n, **spearman_ci(both[x].to_numpy(float), both[y].to_numpy(float), conf)))
    return pd.DataFrame(rows, columns=["x", "y", "n", "r", "ci_low", "ci_high", "p_val"])


def agreement_crosstab(
    surveys: pd.DataFrame,
    *,
    rows: str = "nps",
    columns: str = "csat",
    normalize: str | None = None,
) -> pd.DataFrame:
    """Cross-tab of two metrics' categories on the same responses.

    Parameters
    ----------
    surveys : DataFrame
    rows, columns : {"csat", "nps", "ces"}
        Metrics for the rows and columns; categories as in
        :func:`score_responses` (NPS detractor/passive/promoter, CSAT
        not_top2/top2, CES disagree/neutral/agree).
    normalize : {None, "index", "all"}
        ``None``: counts; ``"index"``: percent of each row; ``"all"``:
        percent of all responses answering both.

    Returns
    -------
    DataFrame
        Index = the row metric's categories, columns = the column metric's
        categories; counts or percentages. Every category appears, even if empty.

    Examples
    --------
    >>> s = pd.DataFrame({"csat": [5, 4, 2, 1], "nps": [10, 8, 3, 9]})
    >>> agreement_crosstab(s)
    csat       not_top2  top2
    nps
    detractor         1     0
    passive           0     1
    promoter          1     1
    """
    check_option("normalize", normalize, (None, "index", "all"))
    if rows == columns:
        raise ValueError("rows and columns must be different metrics")
    a = score_responses(surveys, metric=rows)
    b = score_responses(surveys, metric=columns)
    ok = a["raw"].notna() & b["raw"].notna()
    tab = pd.crosstab(a.loc[ok, "category"], b.loc[ok, "category"], dropna=False)
    tab = tab.reindex(index=list(CATEGORY_ORDER[rows]), columns=list(CATEGORY_ORDER[columns]), fill_value=0)
    tab.index = pd.Index(tab.index.astype(str), name=rows)
    tab.columns = pd.Index(tab.columns.astype(str), name=columns)
    if normalize == "index":
        tab = 100 * tab.div(tab.sum(axis=1).replace(0, np.nan), axis=0)
    elif normalize == "all":
        tab = 100 * tab / max(int(tab.to_numpy().sum()), 1)
    return tab

