"""Differences: the headline of two groups or periods compared, and a segment's
levels compared with FDR adjustment (two-proportion z with the Newcombe
interval, NPS z, Welch t or Mann–Whitney U).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from .._utils import require_columns
from ..errors import NotEnoughData, check_option
from ._common import metric_kind, present_metrics, raw_scores, response_values, scale_name, z_quantile
from .scoring import require_metric

__all__ = ["compare", "compare_segments"]


def _values(frame: pd.DataFrame, metric: str, kind: str) -> np.ndarray:
    """Per-response values of the non-null answers (empty when the group has none)."""
    if metric not in frame.columns or len(frame) == 0:
        return np.empty(0)
    return response_values(metric, kind, raw_scores(frame, metric)).dropna().to_numpy(float)


def _newcombe(xa, na, xb, nb, conf):
    """Newcombe (1998) hybrid score interval for pb − pa (method 10), by statsmodels.

    With d = p_b − p_a and (l, u) each group's Wilson interval:
    low = d − √((p_b − l_b)² + (u_a − p_a)²), high = d + √((u_b − p_b)² + (p_a − l_a)²).
    """
    from statsmodels.stats.proportion import confint_proportions_2indep

    low, high = confint_proportions_2indep(xb, nb, xa, na, method="newcomb", compare="diff", alpha=1 - conf)
    return float(low), float(high)


_COMPARE_COLUMNS = ["metric", "scale", "n_a", "n_b", "value_a", "value_b", "diff", "se_diff", "ci_low",
                    "ci_high", "test", "stat", "dof", "p_val", "effect_size", "effect_type"]


def compare(
    a: pd.DataFrame,
    b: pd.DataFrame,
    *,
    metric: str,
    csat: str = "top2",
    ces: str = "mean",
    mean_test: str = "welch",
    conf: float = 0.95,
) -> pd.DataFrame:
    """Difference in the headline between two groups or periods (b − a).

    Parameters
    ----------
    a, b : DataFrame
        Survey responses of the two groups (``a`` = reference / before).
    metric : {"csat", "nps", "ces"}
    csat, ces : str
        Scale options as in :func:`score_responses`.
    mean_test : {"welch", "mannwhitney"}
        Test for mean-scaled metrics: Welch's t-test or the Mann–Whitney U
        test (two-sided; the interval is Welch's in both cases).
    conf : float
        Confidence level of the interval of the difference.

    Returns
    -------
    DataFrame
        One row:

        - ``metric``, ``scale``;
        - ``n_a``, ``n_b`` : responses answering the metric;
        - ``value_a``, ``value_b`` : headlines (units as in :func:`summarize`);
        - ``diff`` : ``value_b − value_a`` (points, or scale units for means);
        - ``se_diff`` : standard error of ``diff`` (unpooled);
        - ``ci_low``, ``ci_high`` : interval of ``diff`` — Newcombe hybrid
          score (proportions), diff ± z·SE (NPS), Welch t (means);
        - ``test`` : ``"two_proportion_z"``, ``"nps_z"``, ``"welch_t"`` or
          ``"mann_whitney_u"``;
        - ``stat``, ``dof``, ``p_val`` : statistic, degrees of freedom
          (Welch only) and two-sided p-value;
        - ``effect_size``, ``effect_type`` : Cohen's h (proportions),
          Hedges' g (Welch), rank-biserial r (Mann–Whitney), or Cohen's d
          of the ±1 scores (NPS, pooled per-respondent SD).

    Notes
    -----
    Two-proportion z: pooled p̂ under H0, z = (p_b − p_a)/√(p̂(1−p̂)(1/n_a+1/n_b))
    (= statsmodels ``proportions_ztest``). NPS: SE_diff =
    √(v_a/n_a + v_b/n_b) with v = p₊ + p₋ − N², z = diff/SE_diff. Welch:
    t = (x̄_b − x̄_a)/√(s_a²/n_a + s_b²/n_b) with Welch–Satterthwaite df.
    Cohen's h = 2·asin√p_b − 2·asin√p_a; Hedges' g = d·(1 − 3/(4(n_a+n_b) − 9)).

    References
    ----------
    Newcombe, R. G. (1998). Interval estimation for the difference between
    independent proportions. Stat. Med. 17, 873–890. Cohen, J. (1988).
    Statistical Power Analysis for the Behavioral Sciences, 2nd ed.

    Examples
    --------
    >>> a = pd.DataFrame({"csat": [5] * 5 + [2] * 78})
    >>> b = pd.DataFrame({"csat": [5] * 12 + [1] * 87})
    >>> round(float(compare(a, b, metric="csat")["p_val"].iloc[0]), 3)
    0.159
    """
    kind = metric_kind(metric, csat, ces)
    check_option("mean_test", mean_test, ("welch", "mannwhitney"))
    if metric not in set(present_metrics(a)) | set(present_metrics(b)):
        require_metric(pd.concat([a, b]), metric)
    va = _values(a, metric, kind)
    vb = _values(b, metric, kind)
    row = dict.fromkeys(_COMPARE_COLUMNS, np.nan)
    row.update(metric=metric, scale=scale_name(metric, csat, ces), n_a=len(va), n_b=len(vb))
    na, nb = len(va), len(vb)
    z = z_quantile(conf)
    if kind == "proportion":
        row.update(test="two_proportion_z", effect_type="cohen_h")
    elif kind == "nps":
        row.update(test="nps_z", effect_type="cohen_d_pm1")
    else:
        row.update(test="welch_t" if mean_test == "welch" else "mann_whitney_u",
                   effect_type="hedges_g" if mean_test == "welch" else "rank_biserial")
    if na == 0 or nb == 0:
        return pd.DataFrame([row], columns=_COMPARE_COLUMNS)
    ma, mb = va.mean(), vb.mean()
    if kind == "proportion":
        xa, xb = va.sum(), vb.sum()
        pool = (xa + xb) / (na + nb)
        se0 = math.sqrt(pool * (1 - pool) * (1 / na + 1 / nb))
        stat = (mb - ma) / se0 if se0 > 0 else np.nan
        lo, hi = _newcombe(xa, na, xb, nb, conf)
        row.update(
            value_a=100 * ma, value_b=100 * mb, diff=100 * (mb - ma),
            se_diff=100 * math.sqrt(ma * (1 - ma) / na + mb * (1 - mb) / nb),
            ci_low=100 * lo, ci_high=100 * hi, stat=stat,
            p_val=2 * stats.norm.sf(abs(stat)) if np.isfinite(stat) else np.nan,
            effect_size=2 * math.asin(math.sqrt(mb)) - 2 * math.asin(math.sqrt(ma)),
        )
    elif kind == "nps":
        var_a, var_b = va.var(ddof=0), vb.var(ddof=0)
        se = math.sqrt(var_a / na + var_b / nb)
        diff = mb - ma
        stat = diff / se if se > 0 else np.nan
        sd_pool = math.sqrt((na * var_a + nb * var_b) / (na + nb))
        row.update(
            value_a=100 * ma, value_b=100 * mb, diff=100 * diff, se_diff=100 * se,
            ci_low=100 * (diff - z * se), ci_high=100 * (diff + z * se), stat=stat,
            p_val=2 * stats.norm.sf(abs(stat)) if np.isfinite(stat) else np.nan,
            effect_size=diff / sd_pool if sd_pool > 0 else np.nan,
        )
    else:
        sa2 = va.var(ddof=1) if na > 1 else np.nan
        sb2 = vb.var(ddof=1) if nb > 1 else np.nan
        se = math.sqrt(sa2 / na + sb2 / nb)
        dof = (sa2 / na + sb2 / nb) ** 2 / ((sa2 / na) ** 2 / (na - 1) + (sb2 / nb) ** 2 / (nb - 1)) \
            if na > 1 and nb > 1 else np.nan
        tq = stats.t.ppf(0.5 + conf / 2, dof)
        diff = mb - ma
        row.update(value_a=ma, value_b=mb, diff=diff, se_diff=se, ci_low=diff - tq * se, ci_high=diff + tq * se)
        if mean_test == "welch":
            stat = diff / se if se > 0 else np.nan
            sp = math.sqrt(((na - 1) * sa2 + (nb - 1) * sb2) / (na + nb - 2)) if na + nb > 2 else np.nan
            d = diff / sp if sp and sp > 0 else np.nan
            row.update(stat=stat, dof=dof, p_val=2 * stats.t.sf(abs(stat), dof) if np.isfinite(stat) else np.nan,
                       effect_size=d * (1 - 3 / (4 * (na + nb) - 9)))
        else:
            res = stats.mannwhitneyu(vb, va, alternative="two-sided")
            row.update(stat=float(res.statistic), p_val=float(res.pvalue),
                       effect_size=2 * float(res.statistic) / (na * nb) - 1)
    return pd.DataFrame([row], columns=_COMPARE_COLUMNS)


def compare_segments(
    responses: pd.DataFrame,
    *,
    metric: str,
    segment: str,
    reference: str | None = "rest",
    fdr: str | None = "fdr_bh",
    alpha: float = 0.05,
    csat: str = "top2",
    ces: str = "mean",
    mean_test: str = "welch",
    conf: float = 0.95,
) -> pd.DataFrame:
    """Compare the headline across the levels of a segment, FDR-adjusted.

    Parameters
    ----------
    responses : DataFrame
        Survey responses with the ``segment`` column.
    metric : {"csat", "nps", "ces"}
    segment : str
        Column whose levels are compared (e.g. ``"queue"``, ``"channel"``).
    reference : "rest", a level, or None
        ``"rest"`` (default): each level against all other responses; a level
        name: each other level against that level; ``None``: all pairs.
    fdr : str or None
        Multiple-testing adjustment passed to statsmodels ``multipletests``
        (``"fdr_bh"`` Benjamini–Hochberg, ``"holm"``, ``"bonferroni"``,
        ``"fdr_by"``) or ``None`` for none.
    alpha : float
        Level at which ``significant`` is decided on the adjusted p-values.
    csat, ces, mean_test, conf
        As in :func:`compare`.

    Returns
    -------
    DataFrame
        One row per comparison, sorted by ``level``: ``segment`` (the column
        name), ``level``, ``reference``, then the columns of :func:`compare`
        (``_a`` = the reference, ``_b`` = the level, ``diff`` = level −
        reference), plus ``p_adj`` (adjusted p-value) and ``significant``
        (``p_adj < alpha``). Levels with no responses have NaN statistics and
        are left out of the adjustment.

    References
    ----------
    Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery rate.
    JRSS B 57, 289–300.

    Examples
    --------
    >>> s = pd.DataFrame({"q": ["x"] * 40 + ["y"] * 40, "csat": [5, 3] * 20 + [5] * 30 + [2] * 10})
    >>> compare_segments(s, metric="csat", segment="q")[["level", "diff"]].round(1)
      level  diff
    0     x -25.0
    1     y  25.0
    """
    from statsmodels.stats.multitest import multipletests

    check_option("fdr", fdr, ("fdr_bh", "fdr_by", "holm", "bonferroni", None))
    require_columns(responses, [segment], what="segment")
    require_metric(responses, metric)
    seg = responses[segment]
    levels = list(seg.cat.categories) if isinstance(seg.dtype, pd.CategoricalDtype) else sorted(seg.dropna().unique())
    answered = responses.loc[pd.to_numeric(responses[metric], errors="coerce").notna(), segment].dropna().unique()
    if len(answered) < 2:
        only = f" ({str(answered[0])!r})" if len(answered) else ""
        raise NotEnoughData(f"column {segment!r} has {'a single level' if len(answered) else 'no level'}{only} "
                            f"among the {metric.upper()} responses; a comparison needs at least two")
    opts = dict(metric=metric, csat=csat, ces=ces, mean_test=mean_test, conf=conf)
    rows = []
    if reference is None:
        pairs = [(la, lb) for i, la in enumerate(levels) for lb in levels[i + 1:]]
        for la, lb in pairs:
            r = compare(responses[seg == la], responses[seg == lb], **opts)
            rows.append(r.assign(level=lb, reference=la))
    elif reference == "rest":
        for lv in levels:
            r = compare(responses[(seg != lv) & seg.notna()], responses[seg == lv], **opts)
            rows.append(r.assign(level=lv, reference="rest"))
    else:
        if reference not in levels:
            raise ValueError(f"reference {reference!r} is not a level of {segment!r}; levels: {levels}")
        for lv in levels:
            if lv == reference:
                continue
            r = compare(responses[seg == reference], responses[seg == lv], **opts)
            rows.append(r.assign(level=lv, reference=reference))
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=[*_COMPARE_COLUMNS, "level", "reference"])
    out.insert(0, "segment", segment)
    out = out[["segment", "level", "reference", *_COMPARE_COLUMNS]]
    out["p_adj"] = np.nan
    ok = out["p_val"].notna()
    if ok.any():
        out.loc[ok, "p_adj"] = (
            multipletests(out.loc[ok, "p_val"].to_numpy(float), alpha=alpha, method=fdr)[1] if fdr
            else out.loc[ok, "p_val"]
        )
    out["significant"] = out["p_adj"] < alpha
    return out.reset_index(drop=True)

