"""Step 6, few-cluster inference: wild cluster bootstrap, randomization inference, which to use.

A pilot assigns whole teams, so the treatment effect is identified from a
handful of clusters. The CR1 sandwich of :func:`cxlab.verify.pilot_readout`
with :math:`t_{G-1}` is reliable with many clusters and many treated ones;
below that, these give tests whose size does not depend on large-G
asymptotics: the restricted wild cluster bootstrap-t
(:func:`wild_cluster_bootstrap`), re-assignment of the treatment across
clusters (:func:`randomization_inference`), and the rule that picks one
(:func:`choose_inference`).

Both functions take the regression of :func:`cxlab.verify.pilot_readout`
spelled out: ``outcome`` on ``treat`` (× ``post`` for a DiD) with
``fixed_effects`` (e.g. ``("team", "date")``), ``covariates`` and optional
``weight_col``, clustered by ``cluster``.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._stats import check_margin, cr1_factor
from .._utils import as_list, require_columns
from ..errors import DataError, check_option

__all__ = ["wild_cluster_bootstrap", "randomization_inference", "InferenceChoice", "choose_inference"]

_WEBB = np.array([-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)])
_ENUMERATE_MAX_G = 12


# --------------------------------------------------------------------------- design (shared with equivalence)


@dataclass(frozen=True)
class _Design:
    """The regression ``y ~ x + Z`` after partialling ``Z`` out (Frisch–Waugh–Lovell), by cluster."""

    y: np.ndarray  # outcome
    x: np.ndarray  # regressor of interest
    yt: np.ndarray  # M_Z y (weighted)
    xt: np.ndarray  # M_Z x (weighted)
    Z: np.ndarray  # nuisance regressors (constant, covariates, fixed-effect dummies)
    ZtWZ_pinv: np.ndarray
    w: np.ndarray  # regression weights (ones without weight_col)
    codes: np.ndarray  # cluster code of each row, 0..G-1
    clusters: np.ndarray  # cluster labels
    n: int
    k: int  # rank of [x, Z]
    treated: np.ndarray  # bool per cluster: treat is true somewhere in the cluster
    post: np.ndarray  # the post indicator as float (ones without ``post``)


def _dummies(values: pd.Series) -> np.ndarray:
    codes, levels = pd.factorize(values, sort=True)
    return np.eye(len(levels))[codes][:, 1:] if len(levels) > 1 else np.empty((len(values), 0))


def _nuisance(data: pd.DataFrame, covariates, fixed_effects) -> np.ndarray:
    cols = [np.ones((len(data), 1))]
    for c in covariates:
        v = data[c]
        if v.dtype == bool or pd.api.types.is_numeric_dtype(v):
            cols.append(v.astype(float).to_numpy()[:, None])
        else:
            cols.append(_dummies(v))
    for fe in fixed_effects:
        cols.append(_dummies(data[fe]))
    return np.column_stack(cols)


def cluster_design(frame, *, outcome, treat, cluster, post=None, covariates=(), fixed_effects=(), weight_col=None,
            need_treat_by_cluster=False) -> _Design:
    covariates, fixed_effects = as_list(covariates), as_list(fixed_effects)
    cols = list(dict.fromkeys([outcome, treat, cluster, *as_list(post), *covariates, *fixed_effects,
                               *as_list(weight_col)]))
    require_columns(frame, cols)
    data = frame[cols].dropna().reset_index(drop=True)
    if data.empty:
        raise DataError("no complete rows for the regression (outcome, treat, cluster, covariates)")
    tr = data[treat]
    if tr.dtype == bool or need_treat_by_cluster:
        tr_bool = tr.astype(bool)
        if tr_bool.groupby(data[cluster]).nunique().max() > 1 and (need_treat_by_cluster or post is not None):
            raise ValueError(f"{treat!r} must be constant within each {cluster!r} (treatment is assigned by cluster)")
    post_v = np.ones(len(data)) if post is None else data[post].astype(bool).to_numpy(float)
    x = tr.astype(float).to_numpy() * post_v
    codes, labels = pd.factorize(data[cluster], sort=True)
    G = len(labels)
    if G < 2:
        raise DataError(f"cluster inference needs at least 2 {cluster!r} clusters; got {G}")
    w = np.ones(len(data)) if weight_col is None else data[weight_col].astype(float).to_numpy()
    if not (w > 0).all():
        raise ValueError(f"{weight_col!r} must hold positive weights")
    y = data[outcome].astype(float).to_numpy()
    Z = _nuisance(data, covariates, fixed_effects)
    ZtWZ_pinv = np.linalg.pinv(Z.T @ (Z * w[:, None]))
    proj = lambda v: v - Z @ (ZtWZ_pinv @ (Z.T @ (w * v)))  # noqa: E731
    yt, xt = proj(y), proj(x)
    if not np.any(np.abs(xt) > 1e-9 * max(1.0, np.abs(x).max())):
        raise DataError(f"{treat!r} is collinear with the covariates / fixed effects: nothing left to estimate")
    k = int(np.linalg.matrix_rank(np.column_stack([x, Z])))
    treated = np.bincount(codes, weights=(tr.astype(float).to_numpy() != 0), minlength=G) > 0
    return _Design(y=y, x=x, yt=yt, xt=xt, Z=Z, ZtWZ_pinv=ZtWZ_pinv, w=w, codes=codes,
                   clusters=np.asarray(labels), n=len(data), k=k, treated=treated, post=post_v)


def cr1_se(d: _Design) -> tuple[float, float]:
    """OLS/WLS coefficient of ``x`` and its CR1 standard error."""
    G = len(d.clusters)
    D = float(np.sum(d.w * d.xt**2))
    beta = float(np.sum(d.w * d.xt * d.yt)) / D
    e = d.yt - d.xt * beta
    scores = np.bincount(d.codes, weights=d.w * d.xt * e, minlength=G)
    se = math.sqrt(cr1_factor(G, d.n, d.k) * float(np.sum(scores**2))) / D
    return beta, se


def _result_row(d: _Design, treat: str, post: str | None, beta: float, se: float, **middle) -> dict:
    """The one-row result both tests return: term, estimate, se, t, then ``middle``, then the counts."""
    return {"term": treat if post is None else f"{treat} x {post}",
            "estimate": beta, "se": se, "t_stat": beta / se if se > 0 else np.nan, **middle,
            "n": d.n, "n_clusters": len(d.clusters), "n_treated_clusters": int(d.treated.sum())}


# --------------------------------------------------------------------------- wild cluster bootstrap


def _wild_parts(d: _Design):
    """Per-cluster pieces of the fast restricted wild bootstrap (Roodman et al. 2019).

    For the null :math:`\\beta = \\beta_0` the bootstrap numerator is
    ``a(β0) · v / D`` and the cluster scores are ``C(β0) v``, both linear in
    β0: ``a = a_y - β0 a_x``, ``C = C_y - β0 C_x``.
    """
    G = len(d.clusters)
    wx = d.w * d.xt
    D = float(np.sum(wx * d.xt))
    # P_g = Z_g' W_g x~_g (G x k); Q_g(v) = Z_g' W_g v_g for v = y~ and x~
    P = np.vstack([np.bincount(d.codes, weights=wx * d.Z[:, j], minlength=G) for j in range(d.Z.shape[1])]).T
    PA = P @ d.ZtWZ_pinv

    def pieces(v):
        a = np.bincount(d.codes, weights=wx * v, minlength=G)
        Q = np.vstack([np.bincount(d.codes, weights=d.w * v * d.Z[:, j], minlength=G)
                       for j in range(d.Z.shape[1])]).T
        dg = np.bincount(d.codes, weights=wx * d.xt, minlength=G)
        C = np.diag(a) - PA @ Q.T - np.outer(dg, a) / D
        return a, C

    a_y, C_y = pieces(d.yt)
    a_x, C_x = pieces(d.xt)
    return D, a_y, C_y, a_x, C_x


@functools.lru_cache(maxsize=16)
def _all_signs(G: int) -> np.ndarray:
    signs = np.ascontiguousarray(np.array(list(itertools.product([1.0, -1.0], repeat=G))).T)  # G x 2^G, col 0 all +1
    signs.setflags(write=False)
    return signs


def _draws(G: int, weights: str, n_boot: int, seed) -> tuple[np.ndarray, bool]:
    if weights == "rademacher" and G <= _ENUMERATE_MAX_G:
        return _all_signs(G), True
    rng = np.random.default_rng(seed)
    if weights == "rademacher":
        return rng.choice([-1.0, 1.0], size=(G, n_boot)), False
    return rng.choice(_WEBB, size=(G, n_boot)), False


def wild_cluster_bootstrap(
    frame: pd.DataFrame,
    *,
    outcome: str,
    treat: str,
    cluster: str,
    post: str | None = None,
    covariates=(),
    fixed_effects=(),
    weight_col: str | None = None,
    weights: str = "rademacher",
    n_boot: int = 9999,
    seed: int = 0,
    conf: float = 0.95,
    ci: bool = True,
    margin: float | None = None,
) -> pd.DataFrame:
    """Restricted wild cluster bootstrap-t (WCR) test and interval for a treatment coefficient.

    Parameters
    ----------
    frame : DataFrame
        One row per observation (contact, or unit × period cell).
    outcome : str
        Outcome column.
    treat : str
        The regressor of interest; with ``post`` the bool arm indicator
        (constant within cluster) and the regressor is ``treat × post``.
    cluster : str
        Cluster column (the unit of assignment, e.g. ``"team"``).
    post : str, optional
        Bool column: the row is in the pilot period (DiD).
    covariates : list of str
        Extra regressors; non-numeric ones enter as dummies.
    fixed_effects : list of str
        Columns absorbed as dummies, e.g. ``("team", "date")`` for the
        two-way fixed effects of :func:`cxlab.verify.pilot_readout`.
    weight_col : str, optional
        Positive regression weights (weighted least squares).
    weights : {"rademacher", "webb"}, default "rademacher"
        Distribution of the cluster multipliers. Rademacher with at most 12
        clusters enumerates all :math:`2^G` sign vectors (exact,
        deterministic; ``n_boot`` and ``seed`` are then unused). Webb's
        six-point distribution is preferable with fewer than about 10 clusters.
    n_boot : int, default 9999
        Random draws when not enumerating.
    seed : int, default 0
        Seed of ``np.random.default_rng`` for the draws.
    conf : float, default 0.95
        Level of the interval (and the test is at 1 − conf).
    ci : bool, default True
        Compute the interval by test inversion (a few hundred evaluations).
    margin : float, optional
        Smallest effect of interest (> 0, outcome units): adds the
        equivalence test (TOST) by the same bootstrap, each one-sided test
        at 1 − conf, restricted to its boundary null ±margin.

    Returns
    -------
    DataFrame
        One row: ``term``, ``estimate``, ``se`` (CR1), ``t_stat``,
        ``p_cr1`` (CR1 with :math:`t_{G-1}`), ``p_boot`` (WCR bootstrap-t,
        symmetric), ``ci_low``, ``ci_high`` (bootstrap interval by test
        inversion; ±inf when no value can be rejected, NaN with
        ``ci=False``), ``n``, ``n_clusters``, ``n_treated_clusters``,
        ``weights``, ``draws`` (bootstrap replications), ``enumerated``;
        with ``margin`` also ``margin``, ``p_lower``
        (:math:`P^*(t^*_{-m} \\ge t_{-m})`), ``p_upper``
        (:math:`P^*(t^*_{+m} \\le t_{+m})`), ``p_equiv`` (the larger) and
        ``equivalent`` (``p_equiv < 1 − conf``).

    Notes
    -----
    Model :math:`y = \\beta x + Z\\gamma + u`, cluster-robust CR1 t statistic
    :math:`t = \\hat\\beta / \\mathrm{se}_{CR1}`. For a null
    :math:`\\beta = \\beta_0` the restricted fit gives :math:`\\tilde\\gamma`
    and residuals :math:`\\ddot u`; each draw multiplies the residuals of
    cluster *g* by one :math:`v_g` (:math:`E v = 0, E v^2 = 1`):
    :math:`y^* = \\beta_0 x + Z\\tilde\\gamma + v_g \\ddot u`, and refits the
    unrestricted model to get :math:`t^*`. The p-value is
    :math:`P^*(|t^*| \\ge |t|)` (ties counted: with full enumeration the
    observed sample is itself one of the :math:`2^G` draws). After
    partialling out :math:`Z` (Frisch–Waugh–Lovell) the numerator and the
    cluster scores of every draw are linear in :math:`v`, so all draws cost
    one :math:`G \\times G` matrix product ("fast and wild"). The interval
    collects the :math:`\\beta_0` not rejected at 1 − conf, found by
    bisection on each side of :math:`\\hat\\beta` with the same draws.
    With Rademacher weights the smallest attainable p is :math:`2/2^G`: with
    5 or fewer clusters nothing is rejected at 5%. With few *treated*
    clusters (1–3) WCR under-rejects (MacKinnon & Webb 2017): see
    :func:`choose_inference`.

    References
    ----------
    .. [1] Cameron, A.C., Gelbach, J.B. & Miller, D.L. (2008) Bootstrap-based
       improvements for inference with clustered errors. *REStat* 90, 414–427.
    .. [2] MacKinnon, J.G. & Webb, M.D. (2017) Wild bootstrap inference for
       wildly different cluster sizes. *J. Applied Econometrics* 32, 233–254.
    .. [3] Webb, M.D. (2023) Reworking wild bootstrap-based inference for
       clustered errors. *Canadian J. Economics* 56, 839–858.
    .. [4] Roodman, D., MacKinnon, J.G., Nielsen, M.Ø. & Webb, M.D. (2019)
       Fast and wild: bootstrap inference in Stata using boottest.
       *Stata Journal* 19, 4–60.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> panel = pd.DataFrame({"team": np.repeat(list("abcdefgh"), 10),
    ...                       "day": np.tile(np.arange(10), 8),
    ...                       "treated": np.repeat([True] * 4 + [False] * 4, 10)})
    >>> panel["post"] = panel["day"] >= 5
    >>> panel["y"] = rng.normal(0, 1, 80) + 1.0 * (panel["treated"] & panel["post"])
    >>> res = wild_cluster_bootstrap(panel, outcome="y", treat="treated", post="post", cluster="team",
    ...                              fixed_effects=("team", "day"))
    >>> int(res.loc[0, "draws"]), bool(res.loc[0, "enumerated"])
    (256, True)
    >>> bool(res.loc[0, "ci_low"] < res.loc[0, "estimate"] < res.loc[0, "ci_high"])
    True
    """
    check_option("weights", weights, ("rademacher", "webb"))
    if not (isinstance(conf, (int, float)) and 0 < conf < 1):
        raise ValueError(f"conf must be a number strictly between 0 and 1; got {conf!r}")
    if not (isinstance(n_boot, (int, np.integer)) and n_boot >= 99):
        raise ValueError(f"n_boot must be an integer of at least 99; got {n_boot!r}")
    d = cluster_design(frame, outcome=outcome, treat=treat, cluster=cluster, post=post, covariates=covariates,
                fixed_effects=fixed_effects, weight_col=weight_col)
    G = len(d.clusters)
    beta, se = cr1_se(d)
    t_obs = beta / se if se > 0 else np.nan
    factor = cr1_factor(G, d.n, d.k)
    D, a_y, C_y, a_x, C_x = _wild_parts(d)
    v, enumerated = _draws(G, weights, n_boot, seed)
    alpha = 1 - conf

    # every draw's numerator and squared score sum are linear / quadratic in the null value b0:
    # num(b0) = ny - b0 nx, sum_g s_g(b0)^2 = q0 - 2 b0 q1 + b0^2 q2, so one null costs O(draws)
    ny, nx = a_y @ v / D, a_x @ v / D
    sy, sx = C_y @ v, C_x @ v
    q0, q1, q2 = np.sum(sy * sy, axis=0), np.sum(sy * sx, axis=0), np.sum(sx * sx, axis=0)

    def t_boot(b0: float) -> np.ndarray:
        se_b = np.sqrt(np.maximum(factor * (q0 - 2 * b0 * q1 + b0 * b0 * q2), 0.0)) / D
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(se_b > 0, (ny - b0 * nx) / se_b, 0.0)

    def p_at(b0: float) -> float:
        t = (beta - b0) / se
        return float(np.mean(np.abs(t_boot(b0)) >= abs(t) * (1 - 1e-12)))

    p_boot = p_at(0.0)
    lo = hi = np.nan
    if ci:
        lo, hi = (_invert(p_at, beta, se, alpha, side) for side in (-1, 1))
    row = _result_row(d, treat, post, beta, se,
                      p_cr1=float(2 * stats.t.sf(abs(t_obs), G - 1)), p_boot=p_boot, ci_low=lo, ci_high=hi)
    row.update({"weights": weights, "draws": int(v.shape[1]), "enumerated": enumerated})
    if margin is not None:
        check_margin(margin)
        # TOST by the restricted bootstrap: H0 beta <= -m (reject for large t), H0 beta >= m (small t)
        t_lo, t_hi = (beta + margin) / se, (beta - margin) / se
        tol = 1e-12 * max(abs(t_lo), abs(t_hi), 1.0)
        p_lower = float(np.mean(t_boot(-margin) >= t_lo - tol))
        p_upper = float(np.mean(t_boot(margin) <= t_hi + tol))
        row.update({"margin": float(margin), "p_lower": p_lower, "p_upper": p_upper,
                    "p_equiv": max(p_lower, p_upper), "equivalent": bool(max(p_lower, p_upper) < 1 - conf)})
    return pd.DataFrame([row])


def _invert(p_at, beta: float, se: float, alpha: float, side: int, iters: int = 60) -> float:
    """The end of the bootstrap interval on one ``side`` of ``beta``: where p crosses α (bisection)."""
    inside, step = beta, max(se, 1e-12)
    outside = beta + side * step
    for _ in range(60):  # expand until rejected
        if p_at(outside) < alpha:
            break
        inside, step = outside, step * 2
        outside = beta + side * step
    else:
        return side * np.inf
    for _ in range(iters):
        mid = 0.5 * (inside + outside)
        if p_at(mid) < alpha:
            outside = mid
        else:
            inside = mid
        if abs(outside - inside) <= 1e-10 * max(1.0, abs(beta)):
            break
    return 0.5 * (inside + outside)


# --------------------------------------------------------------------------- randomization inference


def randomization_inference(
    frame: pd.DataFrame,
    *,
    outcome: str,
    treat: str,
    cluster: str,
    post: str | None = None,
    covariates=(),
    fixed_effects=(),
    weight_col: str | None = None,
    statistic: str = "t",
    n_perm: int = 9999,
    seed: int = 0,
) -> pd.DataFrame:
    """Randomization-inference p-value: re-assign the treatment across clusters, refit, rank the observed.

    Parameters
    ----------
    frame, outcome, cluster, post, covariates, fixed_effects, weight_col
        As in :func:`wild_cluster_bootstrap`.
    treat : str
        Bool arm indicator, constant within each cluster (the regressor is
        ``treat × post`` with ``post``, else ``treat``).
    statistic : {"t", "coef"}, default "t"
        Rank the CR1 t statistic (robust to unequal cluster variances) or
        the coefficient.
    n_perm : int, default 9999
        Random assignments; when :math:`\\binom{G}{G_1} \\le` ``n_perm``
        every assignment is enumerated instead (exact, deterministic).
    seed : int, default 0
        Seed of ``np.random.default_rng`` for random assignments.

    Returns
    -------
    DataFrame
        One row: ``term``, ``estimate``, ``se`` (CR1), ``t_stat``,
        ``statistic``, ``p_val`` (two-sided: share of assignments with
        ``|stat| >= |observed|``, the observed one included), ``rank``
        (position of the observed ``|stat|`` among the assignments, 1 = most
        extreme), ``assignments`` (how many were evaluated), ``enumerated``,
        ``n``, ``n_clusters``, ``n_treated_clusters``.

    Notes
    -----
    Under the sharp null of no effect on any cluster, the outcome does not
    depend on which :math:`G_1` of the *G* clusters were treated, so every
    assignment is as likely as the actual one and
    :math:`p = \\#\\{|S_a| \\ge |S_{obs}|\\}/A`. With one treated cluster this
    is the placebo-in-space ranking (Abadie et al. 2010): *G* assignments,
    smallest p = 1/G. The regressor is linear in the assignment vector
    *s*: :math:`M_Z x = R s` with :math:`R_{\\cdot g} = M_Z(post \\cdot 1_g)`,
    so each assignment costs :math:`O(G^3)`, not a refit. The test is
    exact for the sharp null whatever the number of clusters; random draws
    (with replacement) give a Monte Carlo estimate of that p.

    References
    ----------
    .. [1] Fisher, R.A. (1935) *The Design of Experiments*, ch. 2.
    .. [2] MacKinnon, J.G. & Webb, M.D. (2020) Randomization inference for
       difference-in-differences with few treated clusters.
       *J. Econometrics* 218, 435–450.
    .. [3] Abadie, A., Diamond, A. & Hainmueller, J. (2010) Synthetic control
       methods for comparative case studies. *JASA* 105, 493–505.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> panel = pd.DataFrame({"team": np.repeat(list("abcdefgh"), 10),
    ...                       "day": np.tile(np.arange(10), 8),
    ...                       "treated": np.repeat([True] * 4 + [False] * 4, 10)})
    >>> panel["post"] = panel["day"] >= 5
    >>> panel["y"] = rng.normal(0, 1, 80) + 1.0 * (panel["treated"] & panel["post"])
    >>> ri = randomization_inference(panel, outcome="y", treat="treated", post="post", cluster="team",
    ...                              fixed_effects=("team", "day"))
    >>> int(ri.loc[0, "assignments"]), bool(ri.loc[0, "enumerated"])   # C(8, 4)
    (70, True)
    """
    check_option("statistic", statistic, ("t", "coef"))
    if not (isinstance(n_perm, (int, np.integer)) and n_perm >= 1):
        raise ValueError(f"n_perm must be a positive integer; got {n_perm!r}")
    d = cluster_design(frame, outcome=outcome, treat=treat, cluster=cluster, post=post, covariates=covariates,
                fixed_effects=fixed_effects, weight_col=weight_col, need_treat_by_cluster=True)
    G, G1 = len(d.clusters), int(d.treated.sum())
    if G1 == 0 or G1 == G:
        raise DataError(f"randomization inference needs treated and control clusters; got {G1} of {G} treated")
    beta, se = cr1_se(d)
    # regressor per unit treated cluster: r_g = M_Z(post * 1_g)
    R = np.zeros((d.n, G))
    R[np.arange(d.n), d.codes] = d.post
    R = R - d.Z @ (d.ZtWZ_pinv @ (d.Z.T @ (d.w[:, None] * R)))
    wR = d.w[:, None] * R
    f = wR.T @ d.yt  # s'f = x~'W y~
    # per-cluster pieces: F[h, g] = sum_{i in h} w r_gi y~_i ; H[h, g, g'] = sum_{i in h} w r_gi r_g'i
    F = np.vstack([np.bincount(d.codes, weights=wR[:, g] * d.yt, minlength=G) for g in range(G)]).T
    H = np.zeros((G, G, G))
    for h in range(G):
        m = d.codes == h
        H[h] = R[m].T @ wR[m]
    Htot = H.sum(axis=0)
    factor = cr1_factor(G, d.n, d.k)

    def stats_for(S):  # S: A x G 0/1
        num = S @ f
        den = np.einsum("ag,gk,ak->a", S, Htot, S)
        with np.errstate(divide="ignore", invalid="ignore"):
            b = num / den
            sc = S @ F.T - b[:, None] * np.einsum("ag,hgk,ak->ah", S, H, S)
            s = np.sqrt(factor * np.sum(sc**2, axis=1)) / den
            return b, np.where(s > 0, b / s, np.nan)

    total = math.comb(G, G1)
    if total <= n_perm:
        idx = list(itertools.combinations(range(G), G1))
        enumerated = True
    else:
        rng = np.random.default_rng(seed)
        idx = [rng.choice(G, size=G1, replace=False) for _ in range(n_perm)]
        enumerated = False
    S = np.zeros((len(idx), G))
    for a, members in enumerate(idx):
        S[a, list(members)] = 1.0
    obs = d.treated.astype(float)
    if not enumerated:
        S = np.vstack([obs, S])  # the observed assignment counts once
    vals = []
    for start in range(0, len(S), 2000):
        b, t = stats_for(S[start:start + 2000])
        vals.append(b if statistic == "coef" else t)
    vals = np.abs(np.concatenate(vals))
    stat_obs = abs(beta if statistic == "coef" else beta / se)
    n_ge = int(np.sum(vals >= stat_obs * (1 - 1e-10)))
    return pd.DataFrame([_result_row(d, treat, post, beta, se, statistic=statistic, p_val=n_ge / len(vals),
                                     rank=n_ge, assignments=len(vals), enumerated=enumerated)])


# --------------------------------------------------------------------------- which inference


@dataclass(frozen=True)
class InferenceChoice:
    """Result of :func:`choose_inference`.

    Attributes
    ----------
    method : str
        ``"cr1"``, ``"wild_bootstrap"`` or ``"placebo_in_space"``.
    reason : str
        One sentence saying why (for the readout).
    warning : str or None
        A caution to print next to the result, or None.
    """

    method: str
    reason: str
    warning: str | None = None


def choose_inference(n_clusters: int, n_treated: int) -> InferenceChoice:
    """Which inference a cluster-assigned pilot supports, with the reason in one sentence.

    Parameters
    ----------
    n_clusters : int
        Clusters (units of assignment) in the regression, G.
    n_treated : int
        Treated clusters, :math:`G_1` (1 ≤ G1 < G).

    Returns
    -------
    InferenceChoice
        ``method`` (``"cr1"``, ``"wild_bootstrap"`` or
        ``"placebo_in_space"``), ``reason`` and ``warning``.

    Notes
    -----
    CR1 with :math:`t_{G-1}` when :math:`G \\ge 30` and at least 10 clusters
    are treated and 10 are controls (Cameron & Miller 2015; MacKinnon & Webb
    2017 show CR1 over-rejects when either arm has few clusters, whatever
    G); otherwise the restricted wild cluster bootstrap
    (:func:`wild_cluster_bootstrap`). With a single treated (or a single
    control) cluster no cluster-robust p-value is valid — the bootstrap
    then cannot tell the treatment from that cluster's shock — so the
    treated cluster is ranked among all clusters (placebo in space,
    :func:`randomization_inference`). With 2–3 clusters in the smaller arm
    the wild bootstrap is conservative; the warning says so.

    References
    ----------
    .. [1] Cameron, A.C. & Miller, D.L. (2015) A practitioner's guide to
       cluster-robust inference. *J. Human Resources* 50, 317–372.
    .. [2] MacKinnon, J.G. & Webb, M.D. (2017) Wild bootstrap inference for
       wildly different cluster sizes. *J. Applied Econometrics* 32, 233–254.

    Examples
    --------
    >>> choose_inference(40, 20).method
    'cr1'
    >>> choose_inference(12, 6).method
    'wild_bootstrap'
    >>> choose_inference(12, 1).method
    'placebo_in_space'
    """
    for name, v in (("n_clusters", n_clusters), ("n_treated", n_treated)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            raise TypeError(f"{name} must be an integer; got {v!r}")
    if not (1 <= n_treated < n_clusters):
        raise ValueError(f"need 1 <= n_treated < n_clusters; got n_treated={n_treated}, n_clusters={n_clusters}")
    small = min(n_treated, n_clusters - n_treated)
    arm = "treated" if n_treated <= n_clusters - n_treated else "control"
    if small == 1:
        return InferenceChoice(
            "placebo_in_space",
            f"With a single {arm} cluster out of {n_clusters} no cluster-robust p-value is valid, so the {arm} "
            f"cluster's effect is ranked among the {n_clusters} placebo assignments (smallest p = 1/{n_clusters}).",
            f"Warning: one {arm} cluster — the effect cannot be separated from that cluster's own shocks; "
            "read the ranking as descriptive.")
    if n_clusters >= 30 and small >= 10:
        return InferenceChoice(
            "cr1", f"{n_clusters} clusters with {n_treated} treated are enough for the CR1 sandwich with t(G-1).")
    warning = None
    if small <= 3:
        warning = (f"Warning: only {small} {arm} clusters — the wild bootstrap is conservative here "
                   "(MacKinnon & Webb 2017); report randomization inference alongside.")
    return InferenceChoice(
        "wild_bootstrap",
        f"With {n_clusters} clusters ({n_treated} treated) CR1 over-rejects, so the p-value comes from the "
        "restricted wild cluster bootstrap.", warning)
