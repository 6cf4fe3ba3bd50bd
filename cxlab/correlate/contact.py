"""Contact-grain correlations: rank and point-biserial r, partial correlations, logit and ordinal models.

Each survey response is joined to its own contact's conditions (wait,
handle time, resolution...). :func:`contact_correlations` gives the plain
coefficients, :func:`partial_correlations` controls for confounders
(either grain), and :func:`contact_logit` gives (cluster-robust) odds
ratios from a logit or proportional-odds model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .._utils import as_list
from ..errors import DataError, check_option
from ._common import check_inputs, column_names, corr, fisher_ci, fisher_ci_dof, numeric, p_from_r
from .testlog import TestLog, log_rows, with_p_adj

__all__ = ["partial_correlations", "contact_correlations", "contact_logit"]

CONTACT_METHODS = ("spearman", "pearson", "kendall", "pointbiserial", "auto")


def _is_binary(s: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(s.dtype):
        return True
    vals = pd.unique(s.dropna())
    return len(vals) <= 2 and set(np.asarray(vals, dtype=float).tolist()) <= {0.0, 1.0}


def _is_categorical(s: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype))


def _design_covariates(data: pd.DataFrame, covariates: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """Numeric covariates as float; categorical ones as 0/1 dummies (first level dropped)."""
    parts, names = [], []
    for c in covariates:
        s = data[c]
        if _is_categorical(s):
            levels = sorted(pd.unique(s.dropna()).tolist(), key=str)
            for lev in levels[1:]:
                name = f"{c}[{lev}]"
                parts.append((s == lev).astype("float64").rename(name))
                names.append(name)
        else:
            parts.append(numeric(s, c).rename(c))
            names.append(c)
    if not parts:
        return pd.DataFrame(index=data.index), []
    return pd.concat(parts, axis=1), names


def _partial_r(data: pd.DataFrame, x: str, y: str, covars: list[str], method: str) -> float:
    import pingouin as pg

    # pingouin needs >= 1 covariate and plain column names; constant columns carry nothing
    cols = {"_x": data[x].to_numpy(), "_y": data[y].to_numpy()}
    for i, c in enumerate(covars):
        col = data[c].to_numpy()
        if np.nanstd(col) > 0:
            cols[f"_c{i}"] = col
    tmp = pd.DataFrame(cols)
    names = [c for c in cols if c.startswith("_c")]
    if not names:
        return corr(*(stats.rankdata(v) if method == "spearman" else v
                      for v in (tmp["_x"].to_numpy(), tmp["_y"].to_numpy())))
    res = pg.partial_corr(data=tmp, x="_x", y="_y", covar=names, method=method)
    return float(res["r"].iloc[0])


def partial_correlations(
    frame: pd.DataFrame,
    *,
    cx: str,
    candidates: Sequence[str],
    covariates: Sequence[str],
    method: str = "pearson",
    grain: str = "period",
    conf: float = 0.95,
    log: TestLog | None = None,
) -> pd.DataFrame:
    """Partial correlation of each candidate with CX, controlling for confounders.

    Parameters
    ----------
    frame : DataFrame
        Period- or contact-grain analysis frame.
    cx : str
        The CX column.
    candidates : list of str
        Numeric or bool columns.
    covariates : list of str
        Confounders to control for. Numeric/bool columns enter as they are;
        categorical ones (e.g. ``contact_reason``) as 0/1 dummies with the
        first level (sorted) dropped. A covariate equal to the candidate is
        skipped for that candidate.
    method : {"pearson", "spearman"}
        Partial correlation type (pingouin ``partial_corr``).
    grain : {"period", "contact"}
        Label for the log only.
    conf : float
        Confidence level.
    log : TestLog, optional
        Run-wide log (family ``"partial"``, statistic = ``r_partial``).

    Returns
    -------
    DataFrame
        One row per candidate:

        * ``x``, ``y`` – candidate and CX column; ``covariates`` – the
          controlled columns joined by ``", "``; ``method``.
        * ``n`` – complete rows (x, y and every covariate); ``k`` – number
          of covariate columns after dummy coding.
        * ``r_raw`` – the plain correlation on the same rows.
        * ``r_partial`` – the partial correlation.
        * ``ci_low``, ``ci_high`` – Fisher-z CI of ``r_partial``
          (SE 1/√(n − k − 3)).
        * ``p_val`` – p of ``r_partial`` (t test, n − k − 2 df).
        * ``change`` – ``r_partial − r_raw``.
        * ``p_adj`` – Benjamini–Hochberg adjustment across the rows of this call.

    Notes
    -----
    The partial correlation is the correlation of the residuals of x and y
    after regressing each on the covariates (with intercept); with one
    covariate z it equals
    :math:`r_{xy \\cdot z} = (r_{xy} - r_{xz} r_{yz}) / \\sqrt{(1 - r_{xz}^2)(1 - r_{yz}^2)}`.
    Its test has n − k − 2 degrees of freedom (k covariates). At the period
    grain these p-values assume independent periods (no HAC adjustment).

    References
    ----------
    .. [1] Vallat, R. (2018). Pingouin: statistics in Python. *JOSS* 3(31), 1026.
    .. [2] Kim, S. (2015). ppcor: an R package for a fast calculation to
       semi-partial correlation coefficients. *Commun. Stat. Appl. Methods*
       22(6), 665–674.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(2)
    >>> z = rng.normal(size=500)                      # complexity
    >>> df = pd.DataFrame({"aht_s": 300 + 50 * z + rng.normal(0, 30, 500), "z": z})
    >>> df["csat"] = 4 - 0.5 * z + rng.normal(0, 0.5, 500)   # AHT has no direct effect
    >>> res = partial_correlations(df, cx="csat", candidates=["aht_s"], covariates=["z"])
    >>> res[["x", "r_raw", "r_partial"]].round(2)
           x  r_raw  r_partial
    0  aht_s  -0.63      -0.08
    """
    cands = column_names(candidates, "candidates")
    covs = column_names(covariates, "covariates", why=" to control for")
    check_option("method", method, ("pearson", "spearman"))
    check_option("grain", grain, ("period", "contact"))
    check_inputs(frame, [cx, *cands, *covs], what="partial-correlation frame", conf=conf)

    rows = []
    for cand in cands:
        use = [c for c in covs if c not in (cand, cx)]
        data = frame[[cand, cx, *use]].dropna()
        X = pd.DataFrame({"x": numeric(data[cand], cand), "y": numeric(data[cx], cx)})
        cov_df, names = _design_covariates(data, use)
        X = pd.concat([X, cov_df], axis=1)
        n, k = len(X), len(names)
        r_raw = r_p = np.nan
        if n - k >= 4:
            xv, yv = X["x"].to_numpy(), X["y"].to_numpy()
            if method == "spearman":
                xv, yv = stats.rankdata(xv), stats.rankdata(yv)
            r_raw = corr(xv, yv)
            r_p = _partial_r(X, "x", "y", names, method)
        lo, hi = fisher_ci_dof(r_p, n - k - 3, conf)
        rows.append({"x": cand, "y": cx, "covariates": ", ".join(use), "method": method, "n": n,
                     "k": k, "r_raw": r_raw, "r_partial": r_p, "ci_low": lo, "ci_high": hi,
                     "p_val": float(p_from_r(r_p, n - k - 2)), "change": r_p - r_raw})
    out = with_p_adj(rows)
    log_rows(log, out, family="partial", grain=grain, statistic="r_partial")
    return out


def contact_correlations(
    frame: pd.DataFrame,
    *,
    cx: str,
    candidates: Sequence[str],
    method: str = "spearman",
    conf: float = 0.95,
    log: TestLog | None = None,
) -> pd.DataFrame:
    """Correlate each contact's own conditions with its CX score.

    Parameters
    ----------
    frame : DataFrame
        Contact-grain analysis frame (one row per survey response).
    cx : str
        CX score column (``csat``, ``nps``, ``ces`` or a binary ``cx_top2``).
    candidates : list of str
        Numeric or bool columns (``wait_s``, ``handle_s``, ``resolved``...).
    method : {"spearman", "pearson", "kendall", "pointbiserial", "auto"}
        ``"pointbiserial"`` needs binary candidates (it is Pearson's r with a
        0/1 variable); ``"auto"`` uses point-biserial for binary candidates
        and Spearman otherwise.
    conf : float
        Confidence level.
    log : TestLog, optional
        Run-wide log (family ``"contact"``).

    Returns
    -------
    DataFrame
        One row per candidate, sorted by strength:

        * ``x``, ``y``, ``method`` (the method actually used for the row).
        * ``n`` – complete pairs.
        * ``r`` – the coefficient (Kendall's tau-b for ``"kendall"``).
        * ``ci_low``, ``ci_high`` – Fisher-z CI with SE 1/√(n−3) (Pearson,
          point-biserial), √((1 + r²/2)/(n−3)) (Spearman; Bonett & Wright
          2000) or √(0.437/(n−4)) (Kendall; Fieller et al. 1957).
        * ``p_val`` – scipy's two-sided p (``pearsonr``, ``spearmanr``,
          ``kendalltau``, ``pointbiserialr``).
        * ``p_adj`` – Benjamini–Hochberg across the rows of this call.
        * ``rank`` – 1 = largest ``|r|``.

    Notes
    -----
    Contacts are treated as independent. Responses handled by the same
    agent share that agent's effect; :func:`within_agent` and
    :func:`contact_logit` with ``cluster="agent_id"`` account for that.

    References
    ----------
    .. [1] Bonett, D. G. & Wright, T. A. (2000). Sample size requirements for
       estimating Pearson, Kendall and Spearman correlations.
       *Psychometrika* 65(1), 23–28.
    .. [2] Fieller, E. C., Hartley, H. O. & Pearson, E. S. (1957). Tests for
       rank correlation coefficients. I. *Biometrika* 44, 470–481.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(3)
    >>> df = pd.DataFrame({"wait_s": rng.exponential(60, 800), "resolved": rng.random(800) < 0.7})
    >>> df["csat"] = np.clip(np.round(3 + 1.2 * df["resolved"] - df["wait_s"] / 120
    ...                               + rng.normal(0, 0.8, 800)), 1, 5)
    >>> res = contact_correlations(df, cx="csat", candidates=["wait_s", "resolved"], method="auto")
    >>> res[["x", "method", "r", "rank"]].round(2)
              x         method     r  rank
    0  resolved  pointbiserial  0.47     1
    1    wait_s       spearman -0.36     2
    """
    cands = column_names(candidates, "candidates")
    check_option("method", method, CONTACT_METHODS)
    check_inputs(frame, [cx, *cands], what="contact frame", conf=conf)

    rows = []
    y_all = numeric(frame[cx], cx)
    for cand in cands:
        x_s = numeric(frame[cand], cand)
        ok = x_s.notna() & y_all.notna()
        x, y = x_s[ok].to_numpy(), y_all[ok].to_numpy()
        m = method
        if method == "auto":
            m = "pointbiserial" if _is_binary(frame.loc[ok, cand]) else "spearman"
        if m == "pointbiserial" and not _is_binary(frame.loc[ok, cand]):
            raise DataError(f"method='pointbiserial' needs a binary candidate; {cand!r} has more than "
                            "two values (use method='auto' to pick per column)")
        n = x.size
        r = p = np.nan
        if n >= 5 and np.std(x) > 0 and np.std(y) > 0:
            if m == "spearman":
                r, p = stats.spearmanr(x, y)
            elif m == "kendall":
                r, p = stats.kendalltau(x, y)
            elif m == "pointbiserial":
                r, p = stats.pointbiserialr(x, y)
            else:
                r, p = stats.pearsonr(x, y)
        r, p = float(r), float(p)
        if m == "spearman":
            se = math.sqrt((1 + r * r / 2) / max(n - 3, 1)) if np.isfinite(r) else np.nan
        elif m == "kendall":
            se = math.sqrt(0.437 / max(n - 4, 1))
        else:
            se = 1.0 / math.sqrt(max(n - 3, 1))
        lo, hi = fisher_ci(r, se, conf)
        rows.append({"x": cand, "y": cx, "method": m, "n": n, "r": r, "ci_low": float(lo),
                     "ci_high": float(hi), "p_val": p})
    out = with_p_adj(rows)
    out["rank"] = out["r"].abs().rank(ascending=False, method="first").astype("Int64")
    out = out.sort_values("rank", kind="stable", na_position="last").reset_index(drop=True)
    log_rows(log, out, family="contact", grain="contact")
    return out


def contact_logit(
    frame: pd.DataFrame,
    *,
    outcome: str = "cx_top2",
    predictors: Sequence[str],
    controls: Sequence[str] = (),
    cluster: str | None = None,
    model: str = "logit",
    standardize: bool = False,
    conf: float = 0.95,
    log: TestLog | None = None,
) -> pd.DataFrame:
    """Odds ratios of CX outcomes per contact condition, from a (cluster-robust) logit.

    Parameters
    ----------
    frame : DataFrame
        Contact-grain analysis frame.
    outcome : str
        For ``model="logit"`` a binary column (``cx_top2``, ``promoter``);
        for ``model="ordinal"`` an ordered score (``csat`` 1–5, ``ces``, ``nps``).
    predictors : list of str
        The conditions whose odds ratios are reported and logged.
        Categorical predictors are dummy coded (first level dropped).
    controls : list of str
        Adjusted for but not logged (e.g. ``contact_reason``, ``queue``);
        categorical ones are dummy coded.
    cluster : str, optional
        Cluster column (e.g. ``"agent_id"``) for cluster-robust standard
        errors; ``None`` uses the model-based ones.
    model : {"logit", "ordinal"}
        ``"logit"``: statsmodels ``Logit``. ``"ordinal"``: statsmodels
        ``OrderedModel`` (proportional-odds logit) for the full score.
    standardize : bool
        If True, non-binary numeric predictors are z-scored, so the odds
        ratio is per 1 SD (see ``per``).
    conf : float
        Confidence level.
    log : TestLog, optional
        Run-wide log: one entry per predictor term (family ``"contact_logit"``,
        statistic = log-odds ``coef``).

    Returns
    -------
    DataFrame
        One row per predictor and control term (intercept and thresholds
        omitted):

        * ``term`` – the column (``col[level]`` for a dummy); ``role`` –
          ``"predictor"`` or ``"control"``.
        * ``coef``, ``se`` – log-odds coefficient and its standard error.
        * ``odds_ratio``, ``or_low``, ``or_high`` – exp(coef) and its CI.
        * ``p_val`` – Wald test p.
        * ``per`` – the change in the predictor the odds ratio refers to
          (1 unit, or 1 SD when standardized).
        * ``y`` – the outcome; ``n`` – rows used; ``n_clusters`` – clusters
          (NaN without ``cluster``); ``model``; ``cov_type``.

    Notes
    -----
    Logit: :math:`\\log \\frac{P(y=1)}{P(y=0)} = \\beta_0 + \\beta' x`;
    the odds ratio for a one-``per`` change is :math:`e^{\\beta}`. The ordinal
    model :math:`\\operatorname{logit} P(y \\le j) = \\theta_j - \\beta' x`
    reports :math:`e^{\\beta}` as the odds of a *higher* score. Cluster-robust
    covariance (statsmodels ``cov_type="cluster"``) allows responses of one
    agent to be correlated.

    References
    ----------
    .. [1] Agresti, A. (2010). *Analysis of Ordinal Categorical Data*, 2nd ed. Wiley.
    .. [2] Cameron, A. C. & Miller, D. L. (2015). A practitioner's guide to
       cluster-robust inference. *J. Human Resources* 50(2), 317–372.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(4)
    >>> df = pd.DataFrame({"resolved": rng.random(2000) < 0.7, "agent_id": rng.integers(0, 40, 2000).astype(str)})
    >>> eta = -0.5 + 1.2 * df["resolved"]
    >>> df["cx_top2"] = rng.random(2000) < 1 / (1 + np.exp(-eta))
    >>> res = contact_logit(df, predictors=["resolved"], cluster="agent_id")
    >>> res[["term", "odds_ratio", "or_low", "or_high"]].round(1)
           term  odds_ratio  or_low  or_high
    0  resolved         2.9     2.5      3.5
    """
    import statsmodels.api as sm

    preds = column_names(predictors, "predictors")
    ctrls = [c for c in as_list(controls, "controls", strings=True) if c not in preds]
    check_option("model", model, ("logit", "ordinal"))
    cols = list(dict.fromkeys([outcome, *preds, *ctrls] + ([cluster] if cluster else [])))
    check_inputs(frame, cols, what="contact frame", conf=conf)
    data = frame[cols].dropna()
    if data.empty:
        raise DataError("no complete rows for the outcome, predictors and controls")

    pred_X, pred_names = _design_covariates(data, preds)
    ctrl_X, ctrl_names = _design_covariates(data, ctrls)
    per = {}
    for c in pred_names:
        col = pred_X[c]
        per[c] = 1.0
        if standardize and not _is_binary(col) and col.std() > 0:
            per[c] = float(col.std())
            pred_X[c] = (col - col.mean()) / col.std()
    X = pd.concat([pred_X, ctrl_X], axis=1)
    X = X.loc[:, X.std() > 0]
    roles = {c: "predictor" for c in pred_names} | {c: "control" for c in ctrl_names}

    fit_kw: dict = {"cov_type": "nonrobust"}
    n_clusters = np.nan
    if cluster:
        codes = pd.factorize(data[cluster], sort=True)[0]
        n_clusters = int(codes.max() + 1)
        fit_kw = {"cov_type": "cluster", "cov_kwds": {"groups": codes}}

    if model == "logit":
        y = data[outcome]
        if not _is_binary(y):
            raise DataError(f"model='logit' needs a binary outcome; {outcome!r} has values "
                            f"{sorted(pd.unique(y).tolist())[:6]} (use model='ordinal' for a score)")
        res = sm.Logit(y.astype("float64").to_numpy(), sm.add_constant(X, has_constant="add")).fit(
            disp=0, **fit_kw)
    else:
        from statsmodels.miscmodels.ordinal_model import OrderedModel

        levels = sorted(pd.unique(data[outcome]).tolist())
        if len(levels) < 3:
            raise DataError(f"model='ordinal' needs an ordered score with >= 3 levels; {outcome!r} has {levels}")
        y = pd.Series(pd.Categorical(data[outcome], categories=levels, ordered=True), index=data.index)
        res = OrderedModel(y, X, distr="logit").fit(method="bfgs", disp=False, maxiter=2000, **fit_kw)

    z = stats.norm.ppf(0.5 + conf / 2.0)
    params, bse, pv = res.params, res.bse, res.pvalues
    rows = []
    for term in X.columns:
        b, s = float(params[term]), float(bse[term])
        rows.append({"term": term, "role": roles[term], "coef": b, "se": s, "odds_ratio": math.exp(b),
                     "or_low": math.exp(b - z * s), "or_high": math.exp(b + z * s),
                     "p_val": float(pv[term]), "per": per.get(term, 1.0), "y": outcome, "n": len(data),
                     "n_clusters": n_clusters, "model": model, "cov_type": fit_kw["cov_type"]})
    out = pd.DataFrame(rows)
    log_rows(log, out[out["role"] == "predictor"], family="contact_logit", grain="contact",
             x="term", method="model", statistic="coef")
    return out
