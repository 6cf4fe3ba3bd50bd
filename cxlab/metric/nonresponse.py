"""Non-response: do surveyed contacts differ from the rest (standardized mean
differences), and inverse-propensity-of-response weights that correct for it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._utils import isin, require_columns
from ..errors import DataError, NotEnoughData, check_option

__all__ = ["nonresponse_bias", "propensity_weights"]

_DEFAULT_COVARIATES = ("wait_s", "talk_s", "hold_s", "acw_s", "resolved", "transferred", "channel")


def default_covariates(contacts: pd.DataFrame) -> list[str]:
    """The default covariates present in ``contacts`` with at least one value.

    Public for the other step packages (not in ``__all__``): of ``wait_s``,
    ``talk_s``, ``hold_s``, ``acw_s``, ``resolved``, ``transferred`` and
    ``channel``, those mapped and not entirely null (an optional measure
    that is not measured is left out, not read as zeros).

    Examples
    --------
    >>> default_covariates(pd.DataFrame({"wait_s": [1.0], "hold_s": [None], "queue": ["a"]}))
    ['wait_s']
    """
    return [c for c in _DEFAULT_COVARIATES if c in contacts.columns and contacts[c].notna().any()]


def _surveyed_mask(contacts: pd.DataFrame, surveyed) -> np.ndarray:
    if isinstance(surveyed, str):
        require_columns(contacts, [surveyed], what="surveyed")
        return contacts[surveyed].fillna(False).astype(bool).to_numpy()
    if isinstance(surveyed, pd.DataFrame):
        if "interaction_id" not in surveyed.columns:
            raise DataError("surveyed as a DataFrame needs an 'interaction_id' column (the surveys table)")
        return isin(contacts["interaction_id"], surveyed["interaction_id"])
    arr = np.asarray(list(surveyed) if not hasattr(surveyed, "__len__") else surveyed)
    if arr.dtype == bool and len(arr) == len(contacts):
        return arr
    return isin(contacts["interaction_id"], pd.Series(arr))


def _design(contacts: pd.DataFrame, covariates) -> pd.DataFrame:
    """Numeric design: numeric as float, bool as 0/1, categoricals as one dummy per level."""
    require_columns(contacts, covariates, what="covariate")
    cols = {}
    for c in covariates:
        s = contacts[c]
        if pd.api.types.is_bool_dtype(s) or (s.dropna().isin([True, False]).all() and s.dtype == object):
            cols[c] = s.astype(float)
        elif pd.api.types.is_numeric_dtype(s):
            cols[c] = s.astype(float)
        else:
            for lv in sorted(s.dropna().astype(str).unique()):
                cols[f"{c}={lv}"] = (s.astype(str) == lv).astype(float).where(s.notna())
    return pd.DataFrame(cols, index=contacts.index)


def _covariate_design(contacts: pd.DataFrame, covariates) -> tuple[list, pd.DataFrame]:
    """The covariates (None: :func:`default_covariates`) and their numeric design (:func:`_design`)."""
    if covariates is None:
        covariates = default_covariates(contacts)
    return covariates, _design(contacts, covariates)


def _wmean_var(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    ok = ~np.isnan(x) & (w > 0)
    x, w = x[ok], w[ok]
    if w.sum() <= 0:
        return np.nan, np.nan
    m = np.average(x, weights=w)
    v1, v2 = w.sum(), (w**2).sum()
    denom = v1 - v2 / v1
    var = np.sum(w * (x - m) ** 2) / denom if denom > 0 else np.nan
    return float(m), float(var)


def nonresponse_bias(
    contacts: pd.DataFrame,
    surveyed,
    *,
    covariates: Sequence[str] | None = None,
    weights=None,
    reference: str = "not_surveyed",
    threshold: float = 0.1,
) -> pd.DataFrame:
    """Do surveyed contacts differ from the rest? Standardized mean differences.

    Parameters
    ----------
    contacts : DataFrame
        The contacts that could have been surveyed (e.g. handled interactions).
    surveyed : array of bool, str, DataFrame or collection of ids
        Which contacts answered: a bool array aligned with ``contacts``, a
        bool column name, the ``surveys`` table (matched on
        ``interaction_id``) or a collection of interaction ids.
    covariates : sequence of str, optional
        Contact columns to compare. Default: those of ``wait_s``, ``talk_s``,
        ``hold_s``, ``acw_s``, ``resolved``, ``transferred``, ``channel``
        present. Text columns are expanded to one 0/1 indicator per level.
    weights : array-like, optional
        Weights for the surveyed contacts (aligned with ``contacts``; e.g.
        :func:`propensity_weights` ``weight``): the surveyed mean and variance
        are weighted, to check balance after weighting.
    reference : {"not_surveyed", "all"}
        The comparison group: contacts not surveyed (default; the raw
        non-response contrast) or all contacts (the population the surveyed
        should represent — use this to check :func:`propensity_weights`,
        which weight respondents towards all contacts).
    threshold : float
        |SMD| above which a covariate is flagged (Austin 2009: 0.1).

    Returns
    -------
    DataFrame
        One row per covariate (or level):

        - ``covariate`` : name (``column=level`` for expanded text columns);
        - ``kind`` : ``"binary"`` or ``"continuous"``;
        - ``reference`` : the comparison group;
        - ``n_surveyed``, ``n_reference`` : contacts with a value;
        - ``mean_surveyed``, ``mean_reference`` : means (shares for binary),
          the surveyed mean weighted when ``weights`` is given;
        - ``smd`` : standardized mean difference, surveyed − reference;
        - ``flag`` : ``|smd| > threshold``.

    Notes
    -----
    Continuous: d = (x̄₁ − x̄₀)/√((s₁² + s₀²)/2). Binary: d = (p₁ − p₀)/
    √((p₁(1−p₁) + p₀(1−p₀))/2). Pooled SD from both groups, unweighted.

    References
    ----------
    Austin, P. C. (2009). Balance diagnostics for comparing the distribution
    of baseline covariates between treatment groups in propensity-score
    matched samples. Stat. Med. 28, 3083–3107.

    Examples
    --------
    >>> c = pd.DataFrame({"interaction_id": list("abcdef"), "wait_s": [10., 20, 30, 40, 50, 60]})
    >>> nonresponse_bias(c, ["a", "b", "c"])[["covariate", "smd", "flag"]]
      covariate  smd  flag
    0    wait_s -3.0  True
    """
    check_option("reference", reference, ("not_surveyed", "all"))
    mask = _surveyed_mask(contacts, surveyed)
    ref_mask = ~mask if reference == "not_surveyed" else np.ones(len(mask), dtype=bool)
    covariates, X = _covariate_design(contacts, covariates)
    w = np.ones(len(contacts)) if weights is None else np.nan_to_num(np.asarray(weights, dtype=float), nan=0.0)
    rows = []
    for col in X.columns:
        x = X[col].to_numpy(float)
        x1, x0 = x[mask], x[ref_mask]
        binary = bool(np.isin(x[~np.isnan(x)], (0.0, 1.0)).all())
        m1, v1 = _wmean_var(x1, w[mask])
        m0, v0 = _wmean_var(x0, np.ones(len(x0)))
        if binary:
            pooled = math.sqrt((m1 * (1 - m1) + m0 * (1 - m0)) / 2) if np.isfinite(m1 + m0) else np.nan
        else:
            pooled = math.sqrt((v1 + v0) / 2) if np.isfinite(v1 + v0) else np.nan
        smd = (m1 - m0) / pooled if pooled and pooled > 0 else (0.0 if m1 == m0 else np.nan)
        rows.append(dict(covariate=col, kind="binary" if binary else "continuous", reference=reference,
                         n_surveyed=int(np.sum(~np.isnan(x1))), n_reference=int(np.sum(~np.isnan(x0))),
                         mean_surveyed=m1, mean_reference=m0, smd=smd))
    out = pd.DataFrame(rows, columns=["covariate", "kind", "reference", "n_surveyed", "n_reference",
                                      "mean_surveyed", "mean_reference", "smd"])
    out["flag"] = out["smd"].abs() > threshold
    return out


def propensity_weights(
    contacts: pd.DataFrame,
    surveyed,
    *,
    covariates: Sequence[str] | None = None,
    trim: tuple[float, float] = (0.01, 0.99),
) -> pd.DataFrame:
    """Inverse-propensity-of-response weights for the surveyed contacts.

    Parameters
    ----------
    contacts, surveyed, covariates
        As in :func:`nonresponse_bias`. Rows with a missing covariate get no
        propensity (NaN) and no weight.
    trim : (float, float)
        Quantiles of the surveyed contacts' weights at which weights are
        truncated (set to the quantile). ``(0, 1)`` disables trimming.

    Returns
    -------
    DataFrame
        One row per contact, in the order of ``contacts``:

        - ``interaction_id`` (when ``contacts`` has it);
        - ``surveyed`` : bool;
        - ``propensity`` : fitted P(surveyed | covariates);
        - ``weight`` : stabilized, truncated weight r̄ / ê(x) for surveyed
          contacts (NaN for the others), where r̄ is the overall response
          rate, so weights average about 1 and sum to about the number of
          respondents.

    Notes
    -----
    A logistic regression (statsmodels ``Logit``) of the response indicator
    on the covariates (text columns as indicators, first level dropped;
    numeric columns standardized). Weighting respondents by r̄/ê(x) makes
    them resemble all contacts on the covariates (check with
    :func:`nonresponse_bias` ``weights=``). Use the weights in
    :func:`summarize` (``weights=``), which uses Kish's effective n.

    References
    ----------
    Rosenbaum, P. R. & Rubin, D. B. (1983). The central role of the
    propensity score. Biometrika 70, 41–55. Cole, S. R. & Hernán, M. A.
    (2008). Constructing inverse probability weights for marginal structural
    models. Am. J. Epidemiol. 168, 656–664 (stabilized and truncated weights).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> c = pd.DataFrame({"interaction_id": [str(i) for i in range(400)], "wait_s": rng.exponential(60, 400)})
    >>> s = rng.random(400) < 1 / (1 + np.exp(-(c["wait_s"] - 60) / 30))
    >>> w = propensity_weights(c, s, covariates=["wait_s"])
    >>> bool(w.loc[w["surveyed"], "weight"].notna().all())
    True
    """
    from statsmodels.discrete.discrete_model import Logit

    mask = _surveyed_mask(contacts, surveyed)
    covariates, X = _covariate_design(contacts, covariates)
    # drop one indicator per expanded text column (reference level)
    drop = []
    for c in covariates:
        lv = [col for col in X.columns if col.startswith(f"{c}=")]
        if lv:
            drop.append(lv[0])
    X = X.drop(columns=drop)
    X = X.loc[:, X.std(ddof=0) > 0]
    if X.shape[1] == 0:
        raise NotEnoughData(f"no contact covariate varies ({', '.join(covariates) or 'none mapped'}; "
                            f"{len(contacts):,} contacts), so response propensity cannot be modelled")
    X = (X - X.mean()) / X.std(ddof=0)
    ok = X.notna().all(axis=1).to_numpy()
    if mask[ok].all() or not mask[ok].any():
        raise NotEnoughData(f"propensity weights need both surveyed and not-surveyed contacts "
                            f"({int(mask[ok].sum()):,} of {int(ok.sum()):,} complete contacts were surveyed)")
    Xok = X[ok].to_numpy(float)
    design = np.column_stack([np.ones(len(Xok)), Xok])
    model = Logit(mask[ok].astype(float), design).fit(disp=0, maxiter=200)
    prop = np.full(len(contacts), np.nan)
    prop[ok] = model.predict(design)
    rate = mask[ok].mean()
    w = np.where(mask & ok, rate / prop, np.nan)
    lo_q, hi_q = trim
    if not 0 <= lo_q < hi_q <= 1:
        raise ValueError(f"trim must be two quantiles 0 <= low < high <= 1; got {trim!r}")
    valid = w[~np.isnan(w)]
    if len(valid):
        lo, hi = np.quantile(valid, [lo_q, hi_q])
        w = np.where(np.isnan(w), np.nan, np.clip(w, lo, hi))
    out = pd.DataFrame({"surveyed": mask, "propensity": prop, "weight": w})
    if "interaction_id" in contacts.columns:
        out.insert(0, "interaction_id", contacts["interaction_id"].to_numpy())
    return out

