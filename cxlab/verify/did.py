"""Step 6, pilot readout: difference-in-differences and its falsification checks.

The contact-level pilot frame (:func:`pilot_frame`), the two-way fixed-effects
DiD with cluster-robust errors (:func:`pilot_readout`) and the checks that
should find nothing: diverging pre-trends (:func:`pre_trends`), a fake start
date (:func:`placebo`) and a split of the control group (:func:`aa_split`),
all three at once (:func:`falsification_checks`).

Every readout and check picks its inference with
:func:`cxlab.verify.choose_inference` (``inference="auto"``): CR1 with
:math:`t_{G-1}` only with 30+ clusters and 10+ in each arm, the restricted
wild cluster bootstrap below that, and with a single treated (or control)
cluster a placebo-in-space ranking instead of an analytic p. The method and
its reason are columns of the result (``inference``, ``inference_reason``,
``inference_warning``); the CR1 values stay beside them (``p_cr1``,
``ci_low_cr1``, ``ci_high_cr1``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._stats import cr1_factor, tost_from_estimate
from .._utils import as_list, require_columns
from ..errors import NotEnoughData, check_option
from ._common import check_prob, t_ci, to_stamp, to_time

__all__ = ["pilot_frame", "PilotReadout", "pilot_readout", "pre_trends", "placebo", "aa_split",
           "falsification_checks"]


def pilot_frame(
    tables: dict,
    *,
    treated,
    timezone: str = "UTC",
    cx_metric: str = "csat",
    response_covariates=("resolved", "wait_s", "transferred", "channel"),
) -> pd.DataFrame:
    """The contact-level frame a pilot readout needs: every handled contact, its team and survey.

    Parameters
    ----------
    tables : dict of DataFrame
        Canonical tables with ``interactions`` and ``agents`` (with
        ``team``); ``surveys`` is optional (without it ``cx_value`` is NaN)
        and so is ``interactions.resolved`` (``resolved_pct`` NaN).
    treated : list of str
        Teams in the treated arm (every other team with contacts is control).
    timezone : str, default "UTC"
        The center's time zone (defines the local ``date``).
    cx_metric : {"csat", "nps", "ces"}, default "csat"
    response_covariates : list of str
        Contact columns of the response-propensity model (see Notes).

    Returns
    -------
    DataFrame
        One row per handled (not abandoned) contact with an agent on a team,
        sorted by ``date, interaction_id``: ``interaction_id``, ``date``
        (local day, midnight), ``team``, ``agent_id``, ``queue``, ``treated`` (bool),
        ``resolved_pct`` (agent resolution flag × 100, so a DiD on it is in
        percentage points), ``surveyed`` (bool), ``cx_value`` (the headline on
        its scale: CSAT 0/100 top-2-box, NPS −100/0/100, CES 1–7; NaN when not
        surveyed) and ``response_weight`` (stabilized inverse response
        propensity; NaN when not surveyed).

    Notes
    -----
    ``response_weight`` = r̄ / ê(x), with ê the logistic-regression
    probability that a handled contact answered the survey given
    ``response_covariates`` (:func:`cxlab.metric.propensity_weights`, untrimmed).
    Pass it as ``weight_col`` for CX outcomes so respondents stand for all
    handled contacts: response depends on resolution, which a resolution
    pilot changes.

    References
    ----------
    .. [1] Rosenbaum, P.R. & Rubin, D.B. (1983) The central role of the
       propensity score in observational studies for causal effects.
       *Biometrika* 70, 41–55.

    Examples
    --------
    >>> from cxlab.sample import load_sample
    >>> t = load_sample(days=7, contacts_per_day=100)
    >>> pf = pilot_frame(t, treated=["billing_a", "tech_support_a"], timezone="America/New_York")
    >>> sorted(pf["team"].unique())[:2], bool(pf["cx_value"].notna().any())
    (['billing_a', 'billing_b'], True)
    """
    from ..metric import propensity_weights  # lazy, as before the split

    check_option("cx_metric", cx_metric, ("csat", "nps", "ces"))
    for name in ("interactions", "agents"):
        if tables.get(name) is None or len(tables[name]) == 0:
            raise NotEnoughData(f"no {name} table in the window; pilot_frame needs interactions and agents (with team)")
    inter, agents = tables["interactions"], tables["agents"]
    surveys = tables.get("surveys")
    require_columns(inter, ["interaction_id", "agent_id", "arrived_at", "abandoned", "queue"], what="interactions")
    require_columns(agents, ["agent_id", "team"], what="agents")
    covs = [c for c in response_covariates if c in inter.columns]
    keep = list(dict.fromkeys(["interaction_id", "agent_id", "arrived_at", "queue",
                               *(["resolved"] if "resolved" in inter.columns else []), *covs]))
    h = inter.loc[~inter["abandoned"].astype(bool) & inter["agent_id"].notna(), keep]
    h = h.merge(agents[["agent_id", "team"]].dropna().drop_duplicates("agent_id"), on="agent_id", how="inner")
    if h.empty:
        raise NotEnoughData(f"no handled contact has an agent on a team ({len(inter):,} interactions, "
                            f"{len(agents):,} agents)")
    arrived = h["arrived_at"]
    if not pd.api.types.is_datetime64_any_dtype(arrived):
        arrived = pd.to_datetime(arrived, utc=True, format="mixed")
    elif arrived.dt.tz is None:
        arrived = arrived.dt.tz_localize("UTC")
    h["date"] = arrived.dt.tz_convert(timezone).dt.tz_localize(None).dt.normalize()
    h["treated"] = h["team"].isin(list(treated))
    h["resolved_pct"] = (h["resolved"].astype(float) * 100.0 if "resolved" in h.columns else np.nan)
    if surveys is not None and len(surveys) and cx_metric in surveys.columns:
        require_columns(surveys, ["interaction_id", "responded_at", cx_metric], what="surveys")
        raw = (surveys.dropna(subset=[cx_metric]).sort_values(["responded_at"], kind="mergesort")
               .drop_duplicates("interaction_id")[["interaction_id", cx_metric]])
        v = raw[cx_metric].astype(float)
        value = {"csat": lambda v: (v >= 4) * 100.0,
                 "nps": lambda v: np.select([v >= 9, v <= 6], [100.0, -100.0], 0.0),
                 "ces": lambda v: v}[cx_metric](v)
        raw = raw.assign(cx_value=np.asarray(value, float))[["interaction_id", "cx_value"]]
        h = h.merge(raw, on="interaction_id", how="left")
    else:
        h["cx_value"] = np.nan
    h["surveyed"] = h["cx_value"].notna()
    for c in covs:  # flags as numbers for the propensity model
        if h[c].dtype == bool:
            h[c] = h[c].astype(float)
    if 0 < h["surveyed"].sum() < len(h):
        weights = propensity_weights(h, h["surveyed"].to_numpy(), covariates=covs, trim=(0.0, 1.0))
        h["response_weight"] = weights["weight"].to_numpy()
    else:
        h["response_weight"] = np.where(h["surveyed"], 1.0, np.nan)
    out = h[["interaction_id", "date", "team", "agent_id", "queue", "treated", "resolved_pct", "surveyed",
             "cx_value", "response_weight"]]
    return out.sort_values(["date", "interaction_id"], kind="mergesort").reset_index(drop=True)


@dataclass(frozen=True)
class PilotReadout:
    """Result of :func:`pilot_readout`.

    Attributes
    ----------
    effects : DataFrame
        One row per outcome: ``outcome``, ``estimate`` (DiD effect, outcome
        units), ``se`` (cluster-robust CR1), ``ci_low``, ``ci_high``
        (t with G − 1 df), ``p_val``, ``n`` (observations), ``n_clusters``
        (G), ``n_treated`` and ``n_control`` (units), ``pre_treated``,
        ``post_treated``, ``pre_control``, ``post_control`` (raw means),
        ``raw_did`` ((post_T − pre_T) − (post_C − pre_C)); ``p_val``,
        ``ci_low``, ``ci_high`` come from the inference used, which is
        named with its reason: ``inference`` (``"cr1"``,
        ``"wild_bootstrap"``, ``"placebo_in_space"``), ``inference_reason``,
        ``inference_warning`` (None or a caution); the CR1 values stay in
        ``p_cr1``, ``ci_low_cr1``, ``ci_high_cr1``; ``n_treated_clusters``;
        for the placebo-in-space ranking ``p_rank`` (rank / assignments),
        ``rank`` and ``assignments`` (NaN otherwise); with ``margin`` also
        ``margin``, ``p_equiv`` and ``equivalent``.
    series : DataFrame
        For the chart, one row per outcome × group × week relative to the
        start: ``outcome``, ``group`` (``"treated"`` / ``"control"``),
        ``week`` (0 = first pilot week), ``mean``, ``ci_low``, ``ci_high``
        (t interval of the mean, ignoring clustering — display only), ``n``.
    """

    effects: pd.DataFrame
    series: pd.DataFrame


def _prepare_panel(frame, *, outcome, treated_col, unit, time_col, post_col, start_date, count_col,
                   weight_col=None, strata=None):
    cols = [outcome, treated_col, unit, time_col, *as_list(post_col), *as_list(count_col),
            *as_list(weight_col), *as_list(strata)]
    cols = list(dict.fromkeys(cols))
    require_columns(frame, cols)
    data = frame[cols].dropna(subset=[outcome, treated_col, unit, time_col]).copy()
    data[time_col] = to_time(data[time_col])
    if post_col is None:
        if start_date is None:
            raise ValueError("pass post_col (a bool column) or start_date (first day of the pilot)")
        start = to_stamp(start_date, data[time_col])
        data["_post"] = data[time_col] >= start
    else:
        data["_post"] = data[post_col].astype(bool)
        start = data.loc[data["_post"], time_col].min() if data["_post"].any() else None
    data["_treated"] = data[treated_col].astype(bool)
    if data.groupby(unit)["_treated"].nunique().max() > 1:
        raise ValueError(f"{treated_col!r} must be constant within each {unit!r} (treatment is assigned by unit)")
    data["_stratum"] = "all" if strata is None else data[strata].astype(str)
    if strata is not None and data.groupby(unit)["_stratum"].nunique().max() > 1:
        raise ValueError(f"strata {strata!r} must be constant within each {unit!r}")
    data["_y"] = data[outcome].astype(float)
    data["_n"] = 1.0 if count_col is None else data[count_col].astype(float)
    data["_w"] = data["_n"] if weight_col is None else data["_n"] * data[weight_col].astype(float)
    if weight_col is not None and not (data[weight_col] > 0).all():
        raise ValueError(f"{weight_col!r} must hold positive weights")
    return data, start


_PANEL_ARGS = ("treated_col", "unit", "time_col", "post_col", "start_date", "count_col", "weight_col", "strata")


def _panels(frame, outcome, args: dict):
    """``(outcome, panel, start)`` for each outcome column, from the arguments of a DiD function.

    ``args`` is the calling function's ``locals()`` (its parameters); the
    panel options it does not have (``post_col`` for the pre-period checks)
    are ``None``.
    """
    options = {k: args.get(k) for k in _PANEL_ARGS}
    for out in as_list(outcome):
        yield (out, *_prepare_panel(frame, outcome=out, **options))


def _twfe(data, *, regressor: str, unit: str, time_col: str, alpha: float) -> dict:
    """Effect of a cell-level regressor in y ~ regressor + C(unit) + C(time), CR1 by unit.

    Works on unit × time cell means weighted by their counts: every
    regressor is constant within a cell, so the coefficients and the
    cluster scores equal those of the observation-level OLS. The fixed
    effects are partialled out first (Frisch–Waugh–Lovell: weighted
    demeaning within period, then a small regression on the demeaned unit
    dummies); the coefficient's row of the full sandwich only involves the
    residualized regressor, so the cluster-robust variance is exact. The
    CR1 factor uses the observation count N and the full model's rank K.
    """
    import statsmodels.api as sm

    data = data.assign(_wy=data["_y"] * data["_w"])
    cells = data.groupby([unit, "_stratum", time_col], sort=True).agg(
        w=("_w", "sum"), wy=("_wy", "sum"), x=(regressor, "first"), tr=("_treated", "first"),
        post=("_post", "first")).reset_index().rename(columns={"_stratum": "stratum"})
    cells["y"] = cells["wy"] / cells["w"]
    n_obs = float(data["_n"].sum())
    u = pd.Categorical(cells[unit])
    t_codes, t_levels = pd.factorize(pd.MultiIndex.from_arrays([cells["stratum"], cells[time_col]]), sort=True)
    G, T = len(u.categories), len(t_levels)
    if G < 3:
        raise NotEnoughData(f"difference-in-differences needs at least 3 {unit!r} clusters; got {G} "
                            f"({len(data):,} rows)")
    w = cells["w"].to_numpy(float)
    Z = np.column_stack([cells["y"].to_numpy(float), cells["x"].astype(float).to_numpy(),
                         np.eye(G)[u.codes][:, 1:]])
    # 1) weighted demeaning within period (x stratum) removes those effects and the intercept
    sw = np.bincount(t_codes, weights=w, minlength=T)
    means = np.vstack([np.bincount(t_codes, weights=w * Z[:, j], minlength=T) for j in range(Z.shape[1])]).T
    Z = Z - means[t_codes] / sw[t_codes, None]
    # 2) residualize y and the regressor on the demeaned unit dummies (weighted least squares)
    root = np.sqrt(w)[:, None]
    U = Z[:, 2:] * root
    coef, *_ = np.linalg.lstsq(U, Z[:, :2] * root, rcond=None)
    resid = Z[:, :2] * root - U @ coef  # sqrt(w) * residualized (y, x)
    if not np.any(np.abs(resid[:, 1]) > 1e-9 * max(1.0, np.abs(Z[:, 1]).max())):
        raise NotEnoughData("the treatment indicator does not vary within units and periods: need treated and "
                            f"control units both before and after the start ({len(data):,} rows)")
    # 3) the coefficient of interest by statsmodels, with cluster-robust scores (no correction yet)
    model = sm.OLS(resid[:, 0], resid[:, 1]).fit(
        cov_type="cluster", cov_kwds={"groups": u.codes, "use_correction": False}, use_t=True)
    rank = T + int(np.linalg.matrix_rank(U)) + 1 if U.shape[1] else T + 1
    factor = cr1_factor(G, n_obs, rank)
    se = float(np.sqrt(model.cov_params()[0, 0] * factor))
    est = float(model.params[0])
    lo, hi = t_ci(est, se, G - 1, alpha)
    p = float(2 * stats.t.sf(abs(est / se), G - 1)) if se > 0 else np.nan
    cells["_period"] = t_codes
    return {"estimate": est, "se": se, "ci_low": lo, "ci_high": hi, "p_val": p, "n": int(round(n_obs)),
            "n_clusters": G, "_cells": cells}


INFERENCE = ("auto", "cr1", "wild_bootstrap", "randomization")


def _infer(data, res: dict, *, regressor, unit, time_col, alpha, inference, seed, n_boot=9999, margin=None,
           did=True) -> dict:
    """Add the few-cluster-safe inference to a CR1 result of :func:`_twfe` (chosen by :func:`choose_inference`).

    The wild cluster bootstrap and randomization inference run on the unit ×
    period cell means weighted by their counts: every regressor is constant
    within a cell, so the coefficient, the cluster scores and every bootstrap
    draw equal those of the observation-level regression (the CR1 factor's
    N differs, which no bootstrap p-value or interval depends on).
    """
    from .clusters import choose_inference, randomization_inference, wild_cluster_bootstrap

    check_option("inference", inference, INFERENCE)
    G = int(res["n_clusters"])
    arms = data.groupby(unit)["_treated"].first()
    G1 = int(arms.sum())
    out = {k: v for k, v in res.items() if k != "_cells"}
    out.update({"p_cr1": res["p_val"], "ci_low_cr1": res["ci_low"], "ci_high_cr1": res["ci_high"],
                "n_treated_clusters": G1, "p_rank": np.nan, "rank": np.nan, "assignments": np.nan})
    if inference == "auto":
        if 1 <= G1 < G:
            choice = choose_inference(G, G1)
            method, why, warning = choice.method, choice.reason, choice.warning
        else:
            method, why, warning = "cr1", f"all {G} clusters are in one arm", None
    elif inference == "randomization":
        method, why, warning = "placebo_in_space", "randomization inference was asked for", None
    else:
        method, why, warning = inference, f"{inference} inference was asked for", None
    if method == "placebo_in_space" and not did:
        method, why = "none", why + " The check's regressor is not a treated × post indicator, so no ranking either."
    cells = res["_cells"].assign(x=lambda c: c["x"].astype(float))
    fe = (unit, "_period")
    if margin is not None and method in ("cr1", "placebo_in_space", "none"):
        if method == "cr1" and np.isfinite(res["se"]) and res["se"] > 0:
            eq = tost_from_estimate(res["estimate"], res["se"], G - 1, margin=float(margin), alpha=alpha).iloc[0]
            out.update({"margin": float(margin), "p_equiv": float(eq["p_equiv"]), "equivalent": bool(eq["equivalent"])})
        else:
            out.update({"margin": float(margin), "p_equiv": np.nan, "equivalent": False})
    if method == "wild_bootstrap":
        weights = "webb" if G < 10 else "rademacher"
        wb = wild_cluster_bootstrap(cells, outcome="y", treat="x", cluster=unit, fixed_effects=fe, weight_col="w",
                                    weights=weights, n_boot=n_boot, seed=seed, conf=1 - alpha, margin=margin).iloc[0]
        out.update({"p_val": float(wb["p_boot"]), "ci_low": float(wb["ci_low"]), "ci_high": float(wb["ci_high"])})
        why += (f" Rademacher weights, all {int(wb['draws'])} sign vectors enumerated." if wb["enumerated"] else
                f" {weights.capitalize()} weights, {int(wb['draws'])} draws (seed {seed}).")
        if margin is not None:
            out.update({"margin": float(margin), "p_equiv": float(wb["p_equiv"]), "equivalent": bool(wb["equivalent"])})
    elif method == "placebo_in_space":
        ri = randomization_inference(cells, outcome="y", treat="tr", post="post", cluster=unit, fixed_effects=fe,
                                     weight_col="w", n_perm=n_boot, seed=seed).iloc[0]
        out.update({"p_val": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p_rank": float(ri["p_val"]),
                    "rank": int(ri["rank"]), "assignments": int(ri["assignments"])})
        if inference == "auto":
            why += f" The treated arm ranks {int(ri['rank'])} of {int(ri['assignments'])} (p = {float(ri['p_val']):.2f})."
    elif method == "none":
        out.update({"p_val": np.nan, "ci_low": np.nan, "ci_high": np.nan})
    out.update({"inference": method, "inference_reason": why, "inference_warning": warning})
    return out


def _did(data, *, unit, time_col, alpha, inference="cr1", seed=0, n_boot=9999, margin=None):
    data = data.assign(_d=(data["_treated"] & data["_post"]).astype(float))
    res = _twfe(data, regressor="_d", unit=unit, time_col=time_col, alpha=alpha)
    res = _infer(data, res, regressor="_d", unit=unit, time_col=time_col, alpha=alpha, inference=inference,
                 seed=seed, n_boot=n_boot, margin=margin)
    means = data.groupby(["_treated", "_post"]).apply(
        lambda g: np.average(g["_y"], weights=g["_w"]), include_groups=False)
    get = lambda tr, po: float(means.get((tr, po), np.nan))  # noqa: E731
    res.update({
        "n_treated": int(data.loc[data["_treated"], unit].nunique()),
        "n_control": int(data.loc[~data["_treated"], unit].nunique()),
        "pre_treated": get(True, False), "post_treated": get(True, True),
        "pre_control": get(False, False), "post_control": get(False, True),
    })
    res["raw_did"] = (res["post_treated"] - res["pre_treated"]) - (res["post_control"] - res["pre_control"])
    return res


def _series(data, start, *, alpha):
    days = (data["_time"] - start) / pd.Timedelta(days=1)
    data = data.assign(week=np.floor(days / 7).astype(int), group=np.where(data["_treated"], "treated", "control"))
    rows = []
    for (group, week), g in data.groupby(["group", "week"], sort=True):
        w = g["_w"].to_numpy(float)
        y = g["_y"].to_numpy(float)
        n = float(g["_n"].sum())
        mean = float(np.sum(w * y) / w.sum())
        n_eff = w.sum() ** 2 / np.sum(w**2) * n / len(w)  # Kish effective n (= n without weights)
        var = float(np.sum(w * (y - mean) ** 2) / w.sum() * n_eff / max(n_eff - 1, 1))
        lo, hi = t_ci(mean, math.sqrt(var / n_eff), n_eff - 1, alpha) if n_eff > 1 else (np.nan, np.nan)
        rows.append({"group": group, "week": int(week), "mean": mean, "ci_low": lo, "ci_high": hi,
                     "n": int(round(n))})
    return pd.DataFrame(rows)


def _covers_zero(res: dict) -> bool:
    """The check's interval covers 0 (what a pre-trend, placebo or A/A check should find)."""
    return bool(res["ci_low"] <= 0 <= res["ci_high"])


def pilot_readout(
    frame: pd.DataFrame,
    *,
    outcome,
    treated_col: str,
    post_col: str | None = None,
    start_date=None,
    unit: str = "team",
    time_col: str = "date",
    count_col: str | None = None,
    weight_col: str | None = None,
    strata: str | None = None,
    alpha: float = 0.05,
    inference: str = "auto",
    seed: int = 0,
    n_boot: int = 9999,
    margin: float | None = None,
) -> PilotReadout:
    """Difference-in-differences readout of a pilot, cluster-robust by unit.

    Parameters
    ----------
    frame : DataFrame
        Contact-level rows (surveys joined to their contact and agent) or a
        unit × period panel of means (then pass ``count_col``).
    outcome : str or list of str
        Outcome column(s): the driver the pilot changed (e.g. ``resolved``)
        and the CX outcome (e.g. ``csat_top2``). Rows missing an outcome
        are dropped for that outcome only.
    treated_col : str
        Bool column: the row's unit is in the treated arm.
    post_col : str, optional
        Bool column: the row is in the pilot period. Or give ``start_date``.
    start_date : date-like, optional
        First day of the pilot (rows with ``time_col >= start_date`` are post).
    unit : str, default "team"
        The unit of assignment: fixed effect and cluster.
    time_col : str, default "date"
        The period of the period fixed effects (a day).
    count_col : str, optional
        Observations behind each row when ``frame`` is a panel of means.
    weight_col : str, optional
        Positive weights per row, e.g. inverse response propensities that
        make survey respondents represent every handled contact (see Notes).
    strata : str, optional
        Column constant within each unit by which randomization was
        stratified (e.g. ``"queue"``): the period effects become stratum ×
        period effects, so units are compared only with units of their own
        stratum on the same day (removes queue-specific daily shocks).
    alpha : float, default 0.05

    Returns
    -------
    PilotReadout
        Frozen dataclass of ``effects`` and ``series`` (columns documented in
        :class:`PilotReadout`).

    Notes
    -----
    Two-way fixed-effects regression
    :math:`y_{iut} = \\beta\\,(T_u \\times Post_t) + \\alpha_u + \\gamma_t + \\varepsilon_{iut}`
    by OLS. In a balanced 2×2 design :math:`\\hat\\beta` equals
    :math:`(\\bar y_{T,post}-\\bar y_{T,pre})-(\\bar y_{C,post}-\\bar y_{C,pre})`.
    Standard errors are the cluster-robust sandwich with the CR1 correction
    :math:`\\frac{G}{G-1}\\frac{N-1}{N-K}` (statsmodels ``cov_type="cluster"``)
    and intervals use :math:`t_{G-1}` because with few clusters the normal
    approximation is too narrow. The regression runs on unit × day cell
    means weighted by their counts, with the fixed effects partialled out
    (Frisch–Waugh–Lovell), which gives the same coefficient, residuals and
    cluster scores as the contact-level OLS at a fraction of the cost
    (the tests check it against ``smf.ols(...).fit(cov_type="cluster")``).
    With ``weight_col`` the regression is weighted least squares with the
    same cluster-robust sandwich; N in the CR1 factor stays the row count.

    Survey outcomes measure the effect *among respondents*. When response
    depends on what the pilot changes (unresolved customers answer more
    often), the respondent effect differs from the effect on all contacts;
    weighting respondents by the inverse of their response rate within
    unit × period × resolution-flag cells corrects most of it.

    References
    ----------
    .. [1] Angrist, J.D. & Pischke, J.-S. (2009) *Mostly Harmless
       Econometrics*, ch. 5.2 (differences-in-differences).
    .. [2] Cameron, A.C. & Miller, D.L. (2015) A practitioner's guide to
       cluster-robust inference. *Journal of Human Resources* 50, 317–372.
    .. [3] Bertrand, M., Duflo, E. & Mullainathan, S. (2004) How much should
       we trust differences-in-differences estimates? *QJE* 119, 249–275.

    Examples
    --------
    >>> panel = pd.DataFrame({
    ...     "team": np.repeat(["a", "b", "c", "d"], 4),
    ...     "date": np.tile(pd.date_range("2025-03-01", periods=4), 4),
    ...     "treated": np.repeat([True, True, False, False], 4),
    ...     "y": [1, 2, 5, 6,  2, 3, 6, 8,  1, 2, 3, 4,  3, 3, 4, 5]})
    >>> res = pilot_readout(panel, outcome="y", treated_col="treated", start_date="2025-03-03")
    >>> round(float(res.effects.loc[0, "estimate"]), 6)   # (5.5-1.5 + 7-2.5)/2 - (3.5-1.5 + 4.5-3)/2
    2.5
    """
    args = dict(locals())
    outcomes = as_list(outcome)
    if not outcomes:
        raise ValueError("outcome must name at least one column")
    check_prob("alpha", alpha)
    effects, series = [], []
    for out, data, start in _panels(frame, outcomes, args):
        row = {"outcome": out, **_did(data, unit=unit, time_col=time_col, alpha=alpha, inference=inference,
                                      seed=seed, n_boot=n_boot, margin=margin)}
        effects.append(row)
        if start is not None:
            s = _series(data.assign(_time=data[time_col]), start, alpha=alpha)
            s.insert(0, "outcome", out)
            series.append(s)
    return PilotReadout(effects=pd.DataFrame(effects),
                        series=pd.concat(series, ignore_index=True) if series else pd.DataFrame())


def pre_trends(
    frame: pd.DataFrame,
    *,
    outcome,
    treated_col: str,
    start_date,
    unit: str = "team",
    time_col: str = "date",
    count_col: str | None = None,
    weight_col: str | None = None,
    strata: str | None = None,
    alpha: float = 0.05,
    inference: str = "auto",
    seed: int = 0,
) -> pd.DataFrame:
    """Test whether treated and control units trended alike before the pilot.

    Parameters
    ----------
    frame, outcome, treated_col, unit, time_col, count_col, weight_col, strata, alpha, inference, seed
        As in :func:`pilot_readout`.
    start_date : date-like
        First day of the pilot; only earlier rows are used.

    Returns
    -------
    DataFrame
        One row per outcome: ``outcome``, ``estimate`` (difference in linear
        trend, treated − control, outcome units per week), ``se``,
        ``ci_low``, ``ci_high``, ``p_val``, ``n``, ``n_clusters``,
        ``parallel`` (bool: the CI covers 0).

    Notes
    -----
    On the pre-period only,
    :math:`y_{iut} = \\theta\\,(T_u \\times \\tau_t) + \\alpha_u + \\gamma_t + \\varepsilon`
    with :math:`\\tau_t` the weeks before the start; :math:`\\theta \\ne 0`
    means the arms were already diverging, which would bias the DiD.
    Cluster-robust CR1 errors by unit, :math:`t_{G-1}`. Failing to reject is
    weak evidence when the pre-period is short.

    References
    ----------
    .. [1] Roth, J. (2022) Pretest with caution: event-study estimates after
       testing for parallel trends. *AER: Insights* 4, 305–322.

    Examples
    --------
    >>> panel = pd.DataFrame({
    ...     "team": np.repeat(["a", "b", "c", "d"], 4),
    ...     "date": np.tile(pd.date_range("2025-03-01", periods=4, freq="W"), 4),
    ...     "treated": np.repeat([True, True, False, False], 4),
    ...     "y": [1, 2, 5, 6,  2, 3, 6, 8,  1, 2, 3, 4,  3, 3, 4, 5]})
    >>> pt = pre_trends(panel, outcome="y", treated_col="treated", start_date="2025-03-16")
    >>> round(float(pt.loc[0, "estimate"]), 3)
    0.5
    """
    rows = []
    for out, data, start in _panels(frame, outcome, locals()):
        data = data[~data["_post"]]
        weeks = (data[time_col] - start) / pd.Timedelta(days=7)
        data = data.assign(_x=weeks.astype(float) * data["_treated"].astype(float))
        res = _twfe(data, regressor="_x", unit=unit, time_col=time_col, alpha=alpha)
        res = _infer(data, res, regressor="_x", unit=unit, time_col=time_col, alpha=alpha, inference=inference,
                     seed=seed, did=False)
        rows.append({"outcome": out, **res, "parallel": _covers_zero(res)})
    return pd.DataFrame(rows)


def placebo(
    frame: pd.DataFrame,
    *,
    outcome,
    treated_col: str,
    start_date,
    placebo_date=None,
    unit: str = "team",
    time_col: str = "date",
    count_col: str | None = None,
    weight_col: str | None = None,
    strata: str | None = None,
    alpha: float = 0.05,
    inference: str = "auto",
    seed: int = 0,
) -> pd.DataFrame:
    """DiD at a fake start date inside the pre-period (should find nothing).

    Parameters
    ----------
    frame, outcome, treated_col, unit, time_col, count_col, weight_col, strata, alpha, inference, seed
        As in :func:`pilot_readout`.
    start_date : date-like
        The real start; rows on or after it are dropped.
    placebo_date : date-like, optional
        The fake start. Default: the pilot backdated by its own length — the
        fake pilot covers as many periods as the real one and ends where the
        real one starts (the middle of the pre-period when the pilot is
        longer than half of it).

    Returns
    -------
    DataFrame
        :func:`pilot_readout` ``effects`` columns plus ``placebo_date`` and
        ``covers_zero`` (bool: the CI covers 0, as it should).

    Notes
    -----
    No treatment happened at the placebo date, so a significant "effect"
    signals diverging trends or mis-specified errors. At α = 0.05 it
    happens by chance in 5% of placebos (on 50 seeds of the sample
    center, 3 of 50 placebos rejected).

    References
    ----------
    .. [1] Abadie, A., Diamond, A. & Hainmueller, J. (2015) Comparative
       politics and the synthetic control method. *AJPS* 59, 495–510
       (in-time placebos).

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> panel = pd.DataFrame({"team": np.repeat(list("abcdef"), 40),
    ...                       "date": np.tile(pd.date_range("2025-01-01", periods=40), 6),
    ...                       "treated": np.repeat([True] * 3 + [False] * 3, 40),
    ...                       "y": rng.normal(0, 1, 240)})
    >>> pl = placebo(panel, outcome="y", treated_col="treated", start_date="2025-01-31")
    >>> str(pl.loc[0, "placebo_date"].date()), bool(pl.loc[0, "covers_zero"])
    ('2025-01-21', True)
    """
    rows = []
    for out, data, _ in _panels(frame, outcome, locals()):
        pre = data[~data["_post"]]
        if pre.empty:
            raise NotEnoughData(f"placebo: no rows before the pilot start {start_date}")
        times = pre[time_col]
        if placebo_date is None:
            distinct = times.drop_duplicates().sort_values().reset_index(drop=True)
            n_post = data.loc[data["_post"], time_col].nunique()
            k = len(distinct) - n_post if 0 < n_post < len(distinct) else len(distinct) // 2
            fake = distinct.iloc[k]
        else:
            fake = to_stamp(placebo_date, times)
        if not (times.min() < fake <= times.max()):
            raise ValueError(f"placebo_date must fall inside the pre-period ({times.min()} .. {times.max()}); got {fake}")
        pre = pre.assign(_post=pre[time_col] >= fake)
        res = _did(pre, unit=unit, time_col=time_col, alpha=alpha, inference=inference, seed=seed)
        rows.append({"outcome": out, **res, "placebo_date": fake, "covers_zero": _covers_zero(res)})
    return pd.DataFrame(rows)


def aa_split(
    frame: pd.DataFrame,
    *,
    outcome,
    treated_col: str,
    start_date=None,
    post_col: str | None = None,
    unit: str = "team",
    time_col: str = "date",
    count_col: str | None = None,
    weight_col: str | None = None,
    strata: str | None = None,
    seed: int = 0,
    alpha: float = 0.05,
    inference: str = "auto",
) -> pd.DataFrame:
    """A/A test: split the control units at random and run the same DiD.

    Parameters
    ----------
    frame, outcome, treated_col, start_date, post_col, unit, time_col, count_col, weight_col, strata, alpha, inference
        As in :func:`pilot_readout`.
    seed : int, default 0
        Seed of the random split (``np.random.default_rng(seed)``) and of the bootstrap.

    Returns
    -------
    DataFrame
        :func:`pilot_readout` ``effects`` columns plus ``pseudo_treated``
        (the control units labelled treated, comma-separated) and
        ``covers_zero`` (bool: the CI covers 0, as it should).

    Notes
    -----
    Both halves received no treatment, so the estimate should be
    indistinguishable from 0; a rejection points at clustering, trends or
    errors in the pipeline. Needs at least 4 control units.

    References
    ----------
    .. [1] Kohavi, R., Tang, D. & Xu, Y. (2020) *Trustworthy Online
       Controlled Experiments*, ch. 19 (A/A tests).

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> panel = pd.DataFrame({"team": np.repeat(list("abcdefgh"), 20),
    ...                       "date": np.tile(pd.date_range("2025-01-01", periods=20), 8),
    ...                       "treated": np.repeat([True] * 2 + [False] * 6, 20),
    ...                       "y": rng.normal(0, 1, 160)})
    >>> aa = aa_split(panel, outcome="y", treated_col="treated", start_date="2025-01-11", seed=1)
    >>> int(aa.loc[0, "n_treated"]), int(aa.loc[0, "n_control"])
    (3, 3)
    """
    rows = []
    for out, data, _ in _panels(frame, outcome, locals()):
        control = data[~data["_treated"]]
        units = np.array(sorted(control[unit].unique()))
        if len(units) < 4:
            raise NotEnoughData(f"aa_split needs at least 4 control {unit!r} units; got {len(units)}")
        rng = np.random.default_rng(seed)
        pseudo = sorted(rng.choice(units, size=len(units) // 2, replace=False).tolist())
        control = control.assign(_treated=control[unit].isin(pseudo))
        res = _did(control, unit=unit, time_col=time_col, alpha=alpha, inference=inference, seed=seed)
        rows.append({"outcome": out, **res, "pseudo_treated": ", ".join(map(str, pseudo)),
                     "covers_zero": _covers_zero(res)})
    return pd.DataFrame(rows)


def falsification_checks(
    frame: pd.DataFrame,
    *,
    outcomes: dict,
    treated_col: str,
    start_date,
    unit: str = "team",
    seed: int = 0,
    alpha: float = 0.05,
    inference: str = "auto",
) -> tuple[pd.DataFrame, list[str]]:
    """The three checks that should find nothing, per outcome: pre-trend, placebo start, A/A split.

    Parameters
    ----------
    frame : DataFrame
        The pilot frame (:func:`pilot_frame`).
    outcomes : dict of str to (str or None)
        Outcome column → its weight column (None for unweighted).
    treated_col, start_date, unit, seed, alpha, inference
        As in :func:`pilot_readout`.

    Returns
    -------
    (DataFrame, list of str)
        One row per check × outcome: ``check``, ``outcome``, ``estimate``,
        ``ci_low``, ``ci_high``, ``p_val``, ``inference``, ``passes`` (the
        interval covers 0, or no interval); and the checks the data could not
        support, each as "<check> on <outcome>: <reason>".

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> panel = pd.DataFrame({"team": np.repeat(list("abcdefgh"), 30),
    ...                       "date": np.tile(pd.date_range("2025-01-01", periods=30), 8),
    ...                       "treated": np.repeat([True] * 2 + [False] * 6, 30), "y": rng.normal(0, 1, 240)})
    >>> table, notes = falsification_checks(panel, outcomes={"y": None}, treated_col="treated",
    ...                                     start_date="2025-01-21")
    >>> table["check"].tolist(), notes
    (['pre-trend (per week)', 'placebo start', 'A/A split of controls'], [])
    """
    runs = (("pre-trend (per week)", pre_trends, "parallel"), ("placebo start", placebo, "covers_zero"),
            ("A/A split of controls", aa_split, "covers_zero"))
    rows, notes = [], []
    for out, w in outcomes.items():
        kw = dict(outcome=out, treated_col=treated_col, start_date=start_date, unit=unit, weight_col=w,
                  alpha=alpha, inference=inference, seed=seed)
        for name, fun, flag in runs:
            try:
                r = fun(frame, **kw).iloc[0]
            except NotEnoughData as exc:
                notes.append(f"{name} on {out}: {exc}")
                continue
            has_ci = bool(np.isfinite(r["ci_low"]) and np.isfinite(r["ci_high"]))
            rows.append({"check": name, "outcome": out, "estimate": r["estimate"], "ci_low": r["ci_low"],
                         "ci_high": r["ci_high"], "p_val": r["p_val"], "inference": r["inference"],
                         "passes": bool(r[flag]) if has_ci else True})
    cols = ["check", "outcome", "estimate", "ci_low", "ci_high", "p_val", "inference", "passes"]
    return pd.DataFrame(rows, columns=cols), notes
