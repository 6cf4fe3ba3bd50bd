"""Across grains and confounders: sign disagreements (Simpson's paradox) and what a confounder explains.

A period-level correlation describes how periods differ, not how contacts
differ; :func:`sign_disagreements` flags pairs whose sign flips between the
two grains and warns with :class:`SignDisagreementWarning`.
:func:`explain_confounder` gives the numbers and the sentence for "x
correlates with CX at r = … raw, but … once Z is controlled".
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .._stats import cr1_factor, tost_from_estimate
from .._utils import as_list, require_columns
from ..errors import DataError, NotEnoughData, SignDisagreementWarning, check_option
from ._common import fisher_ci_dof, numeric, p_from_r
from .contact import _design_covariates, partial_correlations
from .testlog import TestLog, log_rows

__all__ = ["SignDisagreementWarning", "sign_disagreements", "explain_confounder", "direct_effect", "GRAIN_PAIRS",
           "DEFAULT_MARGIN"]

#: Default smallest effect of interest for "no effect" claims, in headline CX points per 1 SD of the
#: condition: 2 points of CSAT % top-2-box, 2 NPS points, 0.1 on the CES 1-7 scale.
DEFAULT_MARGIN: dict[str, float] = {"csat": 2.0, "nps": 2.0, "ces": 0.1}

#: Period-grain KPI -> the contact-grain column that measures the same thing
#: in the same direction (used by :func:`sign_disagreements` when names differ).
GRAIN_PAIRS: dict[str, str] = {
    "aht_s": "handle_s",
    "asa_s": "wait_s",
    "fcr_pct": "resolved",
    "transfer_rate_pct": "transferred",
    "repeat_rate_pct": "is_repeat",
    "hold_s": "hold_s",
}


def _fmt_r(r: float, sign: bool = True) -> str:
    return (f"{r:+.2f}" if sign else f"{r:.2f}").replace("-", "−")


def _fmt_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def sign_disagreements(
    period_result: pd.DataFrame,
    contact_result: pd.DataFrame,
    *,
    pairs: Mapping[str, str] | None = None,
    alpha: float = 0.05,
    period_method: str | None = None,
    period_label: str = "days",
    warn: bool = True,
) -> pd.DataFrame:
    """Pairs whose correlation has one sign across periods and the other across contacts.

    Parameters
    ----------
    period_result : DataFrame
        Output of :func:`period_correlations` (columns ``x``, ``y``, ``r``,
        ``p_ac`` or ``p_val``, optionally ``method``).
    contact_result : DataFrame
        Output of :func:`contact_correlations` (columns ``x``, ``y``, ``r``,
        ``p_val``).
    pairs : mapping, optional
        Period candidate -> contact candidate measuring the same thing in the
        same direction. Default: candidates with the same name, plus
        :data:`GRAIN_PAIRS` (``aht_s``→``handle_s``, ``asa_s``→``wait_s``,
        ``fcr_pct``→``resolved``...) where both are present.
    alpha : float
        Level at which each grain's correlation counts as significant
        (period: ``p_ac``; contact: ``p_val``).
    period_method : str, optional
        Which period ``method`` rows to compare (default: the first method
        in ``period_result``).
    period_label : str
        How periods are named in the message ("days", "weeks").
    warn : bool
        Emit a :class:`SignDisagreementWarning` for each disagreement that is
        significant at both grains.

    Returns
    -------
    DataFrame
        One row per disagreeing pair (none when the signs agree):
        ``period_x``, ``contact_x``, ``y_period``, ``y_contact``,
        ``r_period``, ``p_period``, ``r_contact``, ``p_contact``,
        ``significant`` (both p < alpha), ``strength`` (the smaller |r|:
        how large the weaker of the two opposite associations is) and
        ``message`` (the warning text naming the pair).

    Notes
    -----
    A period-level correlation describes how *days* differ, not how
    *contacts* differ (Robinson 1950). When the signs disagree a variable
    that differs between days (volume, mix of contact reasons, an outage)
    drives both aggregates (Simpson's paradox); act on neither grain before
    finding it.

    References
    ----------
    .. [1] Robinson, W. S. (1950). Ecological correlations and the behavior
       of individuals. *Am. Sociol. Rev.* 15(3), 351–357.
    .. [2] Simpson, E. H. (1951). The interpretation of interaction in
       contingency tables. *J. R. Stat. Soc. B* 13(2), 238–241.

    Examples
    --------
    >>> import pandas as pd, warnings
    >>> per = pd.DataFrame({"x": ["aht_s"], "y": ["cx_value"], "method": ["pearson"],
    ...                     "r": [0.4], "p_ac": [0.001]})
    >>> con = pd.DataFrame({"x": ["handle_s"], "y": ["csat"], "r": [-0.2], "p_val": [1e-9]})
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     res = sign_disagreements(per, con)
    >>> res[["period_x", "contact_x", "significant"]]
      period_x contact_x  significant
    0    aht_s  handle_s         True
    >>> w[0].category.__name__
    'SignDisagreementWarning'
    """
    for name, df in (("period_result", period_result), ("contact_result", contact_result)):
        require_columns(df, ["x", "y", "r"], what=name)
    per = period_result
    if "method" in per.columns and len(per):
        meth = period_method if period_method is not None else per["method"].iloc[0]
        check_option("period_method", meth, list(pd.unique(per["method"])))
        per = per[per["method"] == meth]
    if "lag" in per.columns:
        per = per[per["lag"] == 0]
    p_per_col = "p_ac" if "p_ac" in per.columns else "p_val"
    require_columns(per, [p_per_col], what="period_result")
    require_columns(contact_result, ["p_val"], what="contact_result")
    con = contact_result.drop_duplicates("x").set_index("x")

    if pairs is None:
        mapping = {x: x for x in per["x"] if x in con.index}
        mapping |= {p: c for p, c in GRAIN_PAIRS.items() if p in set(per["x"]) and c in con.index}
    else:
        mapping = dict(pairs)
    cols = ["period_x", "contact_x", "y_period", "y_contact", "r_period", "p_period", "r_contact",
            "p_contact", "significant", "strength", "message"]
    rows = []
    for prow in per.itertuples(index=False):
        px = prow.x
        cxn = mapping.get(px)
        if cxn is None or cxn not in con.index:
            continue
        crow = con.loc[cxn]
        rp, rc = float(prow.r), float(crow["r"])
        pp, pc = float(getattr(prow, p_per_col)), float(crow["p_val"])
        if not (np.isfinite(rp) and np.isfinite(rc)) or np.sign(rp) * np.sign(rc) >= 0:
            continue
        sig = bool(pp < alpha and pc < alpha)
        word = {True: "positive", False: "negative"}
        msg = (f"ecological fallacy / Simpson's paradox: {px} vs {prow.y} is {word[rp > 0]} across "
               f"{period_label} (r = {_fmt_r(rp)}, {_fmt_p(pp)}) but {cxn} vs {crow['y']} is "
               f"{word[rc > 0]} across contacts (r = {_fmt_r(rc)}, {_fmt_p(pc)}); the "
               f"{period_label[:-1] if period_label.endswith('s') else period_label}-level association "
               "does not describe individual contacts — look for what differs between "
               f"{period_label} (volume, contact mix, events).")
        rows.append({"period_x": px, "contact_x": cxn, "y_period": prow.y, "y_contact": crow["y"],
                     "r_period": rp, "p_period": pp, "r_contact": rc, "p_contact": pc,
                     "significant": sig, "strength": min(abs(rp), abs(rc)), "message": msg})
        if warn and sig:
            warnings.warn(msg, SignDisagreementWarning, stacklevel=2)
    return pd.DataFrame(rows, columns=cols)


def _cr1_ols(y: np.ndarray, X: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """OLS coefficients, their CR1 covariance and the number of clusters G."""
    n, k = X.shape
    xtx_inv = np.linalg.pinv(X.T @ X)
    beta = xtx_inv @ (X.T @ y)
    u = y - X @ beta
    codes = pd.factorize(groups, sort=True)[0]
    G = int(codes.max()) + 1
    scores = np.zeros((G, k))
    np.add.at(scores, codes, X * u[:, None])
    meat = scores.T @ scores
    c = cr1_factor(G, n, k)
    return beta, c * xtx_inv @ meat @ xtx_inv, G


def direct_effect(
    frame: pd.DataFrame,
    *,
    cx: str,
    x: str,
    controls: Sequence[str] = (),
    cluster: str | None = "agent_id",
    per: str | float = "sd",
    margin: float | None = None,
    alpha: float = 0.05,
    conf: float = 0.95,
    unit: str = "points",
    log: TestLog | None = None,
) -> pd.DataFrame:
    """Effect of ``x`` on CX with the controls held fixed, cluster-robust, with an equivalence test.

    Parameters
    ----------
    frame : DataFrame
        Contact-grain frame (one row per response).
    cx : str
        Outcome column (e.g. ``cx_value``: CSAT % top-2-box per response).
    x : str
        The condition (numeric or 0/1).
    controls : sequence of str
        Held fixed (categorical columns dummy coded, first level dropped).
    cluster : str or None
        Cluster column for CR1 standard errors (default ``agent_id``: one
        agent's responses are not independent); None = each row its own
        cluster (HC1).
    per : "sd" or float
        The change of ``x`` the effect is stated for: one standard deviation
        (default) or a number in x's units.
    margin : float, optional
        Smallest effect of interest (CX points for a change of ``per``);
        with it, two one-sided tests (TOST) say whether the effect is
        within ±margin. See :data:`DEFAULT_MARGIN`.
    alpha : float
        Level of each one-sided test of the TOST.
    conf : float
        Confidence level of the two-sided interval.
    unit : str
        Word for CX points in the sentence.
    log : TestLog, optional
        Run-wide log (family ``"direct_effect"``; the two-sided test of 0).

    Returns
    -------
    DataFrame
        One row: ``x``, ``y``, ``controls``, ``n``, ``n_clusters``, ``per``
        (in x's units), ``estimate`` (CX points per ``per``), ``se`` (CR1),
        ``df`` (G − 1), ``ci_low``, ``ci_high``, ``p_val``, ``margin``,
        ``p_equiv``, ``equivalent`` (True: within ±margin at α), ``excludes_zero``
        and ``sentence`` ("within ±2 points (equivalence p = …)" or "an
        effect of ±2 points cannot be ruled out (…)"; an interval that
        excludes zero says so; without a margin only the estimate).

    Raises
    ------
    NotEnoughData
        Fewer than two clusters, ``x`` constant, or no more rows than terms.

    Notes
    -----
    :math:`y = \\alpha + \\beta x + Z\\gamma + u`, OLS; CR1 sandwich
    :math:`V = \\frac{G}{G-1}\\frac{N-1}{N-K}(X'X)^{-1}\\left(\\sum_g X_g'u_g u_g'X_g\\right)(X'X)^{-1}`,
    :math:`t_{G-1}` reference (Cameron & Miller 2015). The effect of a
    change ``per`` is :math:`\\beta \\cdot per`. A claim of *no effect*
    rests on the equivalence test (Schuirmann 1987, via
    :func:`cxlab._stats.tost_from_estimate`), never on a non-significant
    p: an interval covering zero and ±margin says the data cannot tell.

    References
    ----------
    .. [1] Cameron, A.C. & Miller, D.L. (2015) A practitioner's guide to
       cluster-robust inference. *J. Human Resources* 50(2), 317–372.
    .. [2] Schuirmann, D.J. (1987) *J. Pharmacokinetics and Biopharmaceutics* 15, 657–680.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(2)
    >>> n = 4000
    >>> df = pd.DataFrame({"agent_id": rng.integers(0, 40, n).astype(str),
    ...                    "contact_reason": rng.choice(["billing", "tech"], n)})
    >>> tech = (df["contact_reason"] == "tech").to_numpy()
    >>> df["handle_s"] = 300 + 200 * tech + rng.normal(0, 60, n)
    >>> df["cx_value"] = 100.0 * (rng.random(n) < 0.8 - 0.2 * tech)
    >>> r = direct_effect(df, cx="cx_value", x="handle_s", controls=["contact_reason"], margin=5.0)
    >>> r.loc[0, "sentence"]
    'within ±5 points (equivalence p = 0.024)'
    >>> print(direct_effect(df, cx="cx_value", x="handle_s", margin=5.0).loc[0, "sentence"])
    an effect remains (its interval excludes 0) and is not within ±5 points (equivalence p = 1)
    """
    ctrls = as_list(controls, "controls", strings=True)
    cols = list(dict.fromkeys([cx, x, *ctrls] + ([cluster] if cluster else [])))
    require_columns(frame, cols, what="direct_effect frame")
    data = frame[cols].dropna()
    y = numeric(data[cx], cx).to_numpy()
    xv = numeric(data[x], x).to_numpy()
    sd = float(np.std(xv, ddof=1)) if len(xv) > 1 else 0.0
    if not sd > 0:
        raise NotEnoughData(f"column {x!r} does not vary over the {len(data):,} complete rows")
    step = sd if per == "sd" else float(per)
    Z, _ = _design_covariates(data, ctrls)
    X = np.column_stack([np.ones(len(data)), xv, Z.to_numpy(dtype=float)]) if Z.shape[1] else \
        np.column_stack([np.ones(len(data)), xv])
    if len(data) <= X.shape[1] + 1:
        raise NotEnoughData(f"{len(data):,} complete rows for {X.shape[1]} terms in the direct effect of {x!r}")
    groups = data[cluster].astype(str).to_numpy() if cluster else np.arange(len(data))
    if len(pd.unique(groups)) < 2:
        raise NotEnoughData(f"only one {cluster} in the {len(data):,} rows: no cluster-robust standard error")
    beta, V, G = _cr1_ols(y, X, groups)
    est, se = float(beta[1] * step), float(np.sqrt(max(V[1, 1], 0.0)) * abs(step))
    df_ = float(G - 1)
    if not se > 0:
        raise DataError(f"the standard error of the direct effect of {x!r} is 0 ({len(data):,} rows)")
    t = est / se
    p = float(2 * stats.t.sf(abs(t), df_))
    q = float(stats.t.ppf(0.5 + conf / 2, df_))
    lo, hi = est - q * se, est + q * se
    excl = bool(lo > 0 or hi < 0)
    m_txt = f"{margin:g}" if margin is not None else ""
    if margin is not None:
        tost = tost_from_estimate(est, se, df_, margin=float(margin), alpha=alpha, unit=unit,
                                  method="CR1 t(G-1)").iloc[0]
        p_eq, equiv = float(tost["p_equiv"]), bool(tost["equivalent"])
        if equiv:
            sentence = str(tost["sentence"])
        elif excl:
            sentence = (f"an effect remains (its interval excludes 0) and is not within ±{m_txt} {unit} "
                        f"(equivalence p = {p_eq:.2g})")
        else:
            sentence = str(tost["sentence"])
    else:
        p_eq, equiv = np.nan, False
        sentence = f"{est:+.2f} {unit} ({conf:.0%} CI {lo:+.2f} to {hi:+.2f})"
    out = pd.DataFrame([{
        "x": x, "y": cx, "controls": ", ".join(ctrls), "n": int(len(data)), "n_clusters": G, "per": step,
        "estimate": est, "se": se, "df": df_, "ci_low": lo, "ci_high": hi, "p_val": p,
        "margin": np.nan if margin is None else float(margin), "p_equiv": p_eq, "equivalent": equiv,
        "excludes_zero": excl, "sentence": sentence,
    }])
    log_rows(log, out.assign(method="ols_cr1"), family="direct_effect", grain="contact", statistic="estimate")
    return out


def explain_confounder(
    frame: pd.DataFrame,
    *,
    cx: str,
    x: str,
    confounder: str | Sequence[str],
    method: str = "pearson",
    conf: float = 0.95,
    labels: Mapping[str, str] | None = None,
    log: TestLog | None = None,
    equivalence: Mapping | None = None,
) -> pd.DataFrame:
    """The numbers (and the sentence) for "x correlates with CX at r = … raw, but … once Z is controlled".

    Parameters
    ----------
    frame : DataFrame
        Contact- or period-grain frame.
    cx : str
        CX column.
    x : str
        The candidate whose raw correlation may be confounded (``handle_s``).
    confounder : str or list of str
        What to control for (``contact_reason``; categorical columns are
        dummy coded).
    method : {"pearson", "spearman"}
        Correlation type.
    conf : float
        Confidence level.
    labels : mapping, optional
        Readable names for the sentence, e.g. ``{"handle_s": "handle time"}``.
    log : TestLog, optional
        Run-wide log (family ``"confounder"``: the partial correlation's test).
    equivalence : mapping, optional
        Test what is left for equivalence instead of reading a
        non-significant partial as "no association": keyword arguments of
        :func:`direct_effect` (``margin`` required; ``outcome`` — the CX
        column on the headline scale, default ``cx`` —, ``cluster``, ``per``,
        ``unit``, ``alpha``) plus ``x_unit`` (the unit of ``x`` in the sentence). The sentence then ends with the direct
        effect and "within ±X points (equivalence p = …)" or "an effect of
        ±X points cannot be ruled out".

    Returns
    -------
    DataFrame
        One row: ``x``, ``y``, ``confounder``, ``method``, ``n``,
        ``r_raw``, ``raw_ci_low``, ``raw_ci_high``, ``p_raw``,
        ``r_partial``, ``ci_low``, ``ci_high``, ``p_val`` (of the partial),
        ``share_explained`` (1 − r_partial / r_raw: the share of the raw
        association the confounder accounts for), ``within_noise`` (the
        partial's CI covers 0) and ``sentence`` (the takeaway, computed).
        With ``equivalence``: also ``effect``, ``effect_ci_low``,
        ``effect_ci_high``, ``per``, ``margin``, ``p_equiv``, ``equivalent``
        (from :func:`direct_effect`).

    Notes
    -----
    Raw CI: Fisher z with SE 1/√(n − 3); partial CI: SE 1/√(n − k − 3),
    k = covariate columns after dummy coding. See :func:`partial_correlations`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(5)
    >>> reason = rng.choice(["billing", "outage", "tech"], 3000)
    >>> cplx = pd.Series(reason).map({"billing": 0.0, "outage": 0.5, "tech": 1.5}).to_numpy()
    >>> df = pd.DataFrame({"contact_reason": reason,
    ...                    "handle_s": 300 + 200 * cplx + rng.normal(0, 60, 3000),
    ...                    "csat": 4.2 - 0.6 * cplx + rng.normal(0, 0.7, 3000)})
    >>> res = explain_confounder(df, cx="csat", x="handle_s", confounder="contact_reason",
    ...                          labels={"handle_s": "Handle time", "csat": "CSAT",
    ...                                  "contact_reason": "contact reason"})
    >>> print(res.loc[0, "sentence"])  # doctest: +NORMALIZE_WHITESPACE
    Handle time correlates with CSAT at r = −0.42 raw (95% CI −0.45 to −0.39), but r = −0.02
    (95% CI −0.05 to 0.02) once contact reason is controlled: contact reason accounts for 96%
    of the raw association, and what is left is within noise.
    """
    check_option("method", method, ("pearson", "spearman"))
    covs = as_list(confounder, "confounder", strings=True)
    part = partial_correlations(frame, cx=cx, candidates=[x], covariates=covs, method=method,
                                grain="contact", conf=conf)
    row = part.iloc[0]
    n, r_raw, r_p = int(row["n"]), float(row["r_raw"]), float(row["r_partial"])
    lo_raw, hi_raw = fisher_ci_dof(r_raw, n - 3, conf)
    share = 1.0 - r_p / r_raw if r_raw else np.nan
    noise = bool(row["ci_low"] <= 0 <= row["ci_high"])
    lab = dict(labels or {})
    name = lambda c: lab.get(c, c)  # noqa: E731
    conf_name = ", ".join(name(c) for c in covs[:-1]) + (" and " if len(covs) > 1 else "") + name(covs[-1])
    verb, acc = ("are", "together account") if len(covs) > 1 else ("is", "accounts")
    pct = f"{int(round(conf * 100))}%"
    tail = ("what is left is within noise" if noise else
            f"a {('positive' if r_p > 0 else 'negative')} association remains")
    eq = None
    if equivalence is not None:
        opts = dict(equivalence)
        if "margin" not in opts:
            raise ValueError("equivalence needs a 'margin' (the smallest effect of interest, in CX points)")
        outcome, x_unit = opts.pop("outcome", cx), opts.pop("x_unit", "")
        eq = direct_effect(frame, cx=outcome, x=x, controls=covs, conf=conf, log=log, **opts).iloc[0]
        per = f"{eq['per']:,.0f}" if abs(eq["per"]) >= 10 else f"{eq['per']:.3g}"
        per_txt = (f"one standard deviation ({per}{' ' + x_unit if x_unit else ''})"
                   if opts.get("per", "sd") == "sd" else f"{per}{' ' + x_unit if x_unit else ''}")
        tail = (f"the direct effect of {per_txt} more {name(x)[:1].lower() + name(x)[1:]} is {eq['estimate']:+.2f} "
                f"{opts.get('unit', 'points')} ({pct} CI {eq['ci_low']:+.2f} to {eq['ci_high']:+.2f}): "
                f"{eq['sentence']}").replace("-", "−")
    f = lambda v: _fmt_r(float(v), sign=False)  # noqa: E731
    sentence = (f"{name(x)} correlates with {name(cx)} at r = {f(r_raw)} raw ({pct} CI "
                f"{f(lo_raw)} to {f(hi_raw)}), but r = {f(r_p)} ({pct} CI "
                f"{f(row['ci_low'])} to {f(row['ci_high'])}) once {conf_name} {verb} controlled: "
                f"{'they' if len(covs) > 1 else conf_name} {acc} for {share:.0%} of the raw association, "
                f"and {tail}.")
    out = pd.DataFrame([{
        "x": x, "y": cx, "confounder": ", ".join(covs), "method": method, "n": n,
        "r_raw": r_raw, "raw_ci_low": lo_raw, "raw_ci_high": hi_raw,
        "p_raw": float(p_from_r(r_raw, n - 2)), "r_partial": r_p, "ci_low": float(row["ci_low"]),
        "ci_high": float(row["ci_high"]), "p_val": float(row["p_val"]), "share_explained": share,
        "within_noise": noise, "sentence": sentence,
    }])
    if eq is not None:
        out = out.assign(effect=float(eq["estimate"]), effect_ci_low=float(eq["ci_low"]),
                         effect_ci_high=float(eq["ci_high"]), per=float(eq["per"]), margin=float(eq["margin"]),
                         p_equiv=float(eq["p_equiv"]), equivalent=bool(eq["equivalent"]))
    log_rows(log, out, family="confounder", grain="contact", statistic="r_partial")
    return out
