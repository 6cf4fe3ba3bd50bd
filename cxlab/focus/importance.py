"""Step 5 — which components deserve focus: driver importance with uncertainty.

Relative importance splits the R² of a regression of the CX outcome on its
candidate drivers into one share per driver. cxlab computes it *exactly*
(no sampling of orderings) from the R² of **all** 2^p sub-models, obtained
in one batched pass of the sweep operator over the correlation matrix, and
puts bootstrap uncertainty on everything a decision rests on: each
importance, each driver's rank (P(rank = 1), an interval of ranks) and each
difference between two drivers.

Analyses (one public function each):

* :func:`subset_r2` — R² of every sub-model (the raw material);
* :func:`relative_importance` — LMG / Shapley value of R² (``method="lmg"``),
  or Johnson's relative weights (``method="johnson"``, a fast approximation);
  McFadden pseudo-R² for binary outcomes (``model="logistic"``);
* :func:`dominance` — complete, conditional and general dominance;
* :func:`bootstrap_importance` — CIs on importances, ranks and pairwise
  differences (all resamples' correlation matrices in one batch).

The decisions built on them (quadrant, what-if, focus list) are in
:mod:`cxlab.focus.decisions`, the staffing what-if in
:mod:`cxlab.focus.staffing`.

Drivers
-------
A *player* of the decomposition is a numeric column, a categorical column
(expanded to indicator columns that enter and leave the model together), or
a named group of columns (``groups={"speed": ["asa_s", "service_level_pct"]}``).
All-subsets methods are exact up to :data:`MAX_PLAYERS` players (2^20 ≈ one
million sub-models); past that, group related KPIs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._utils import logit_fit
from ..errors import check_option
from ._common import (
    Design,
    boot_coef,
    boot_moments,
    corr,
    moments,
    prepare,
    quantile_ci,
    standardized_cov,
    valid_resamples,
)

__all__ = [
    "MAX_PLAYERS",
    "MAX_PLAYERS_LOGISTIC",
    "Dominance",
    "BootstrapImportance",
    "subset_r2",
    "relative_importance",
    "dominance",
    "bootstrap_importance",
]

#: Most players an exact all-subsets decomposition accepts (2^20 sub-models).
MAX_PLAYERS = 20
#: Most players with ``model="logistic"`` (one logistic fit per sub-model).
MAX_PLAYERS_LOGISTIC = 12


# ==================================================== all-subsets machinery


def _popcount(masks: np.ndarray) -> np.ndarray:
    return np.bitwise_count(masks.astype(np.uint64)).astype(np.int64)


def _subset_r2_batch(R: np.ndarray, bounds) -> np.ndarray:
    """R² of every sub-model, batched over leading axes.

    ``R`` is ``(..., d + 1, d + 1)`` (covariance or correlation; outcome last,
    each player's columns contiguous and in player order). Returns
    ``(..., 2**g)`` indexed by the bitmask of players in the sub-model.

    Every subset S is reached once from its *canonical parent* S minus its
    highest player m, by sweeping m's columns out of the parent's partial
    covariance matrix. A node keeps only the block of columns after m (and y),
    so the nodes with many descendants are the small ones: memory and time
    are O(2^g) small-matrix updates, done as about g²/2 vectorised numpy calls.
    """
    g = len(bounds)
    batch = R.shape[:-2]
    vy = R[..., -1, -1]
    r2 = np.zeros(batch + (1 << g,))
    pending: list[list] = [[] for _ in range(g)]

    def expand(state, s, m):
        for j in range(m + 1, g):
            o, e = bounds[j]
            Y = state[..., o - s:, o - s:]
            for _ in range(e - o):  # sweep the player's columns one at a time (Schur complement)
                Y = Y[..., 1:, 1:] - Y[..., 1:, :1] * (Y[..., :1, 1:] / Y[..., :1, :1])
            pending[j].append(Y)

    # The subsets whose highest player is m are exactly the masks 2**m .. 2**(m+1) - 1; children are
    # appended parent-by-parent in increasing mask order, so each frontier arrives sorted.
    expand(R[..., None, :, :], 0, -1)
    for m in range(g):
        parts = pending[m]
        pending[m] = []
        state = np.concatenate(parts, axis=-3) if len(parts) > 1 else parts[0]
        r2[..., 1 << m: 2 << m] = 1.0 - state[..., -1, -1] / vy[..., None]
        expand(state, bounds[m][1], m)
    return r2


def _shapley_weights(g: int) -> np.ndarray:
    """w[k] = k! (g-k-1)! / g!  — weight of a coalition of k other players."""
    return np.array([1.0 / (g * math.comb(g - 1, k)) for k in range(g)])


def _split(a: np.ndarray, g: int, j: int):
    """Views (without j, with j) of a (..., 2**g) array indexed by bitmask; each (..., 2**(g-1-j), 2**j)."""
    v = a.reshape(a.shape[:-1] + (1 << (g - 1 - j), 2, 1 << j))
    return v[..., 0, :], v[..., 1, :]


def _lmg(r2: np.ndarray, g: int) -> np.ndarray:
    """Shapley values of the R² game, batched over leading axes: (..., g).

    LMG_j = Σ_{S ∋ j} w(|S|-1) R²(S) − Σ_{S ∌ j} w(|S|) R²(S): two weighted copies of R², then a
    strided half-sum per player (no gathers).
    """
    size = _popcount(np.arange(1 << g, dtype=np.int64))
    w = _shapley_weights(g)
    a = r2 * np.where(size > 0, w[np.maximum(size - 1, 0)], 0.0)
    b = r2 * np.where(size < g, w[np.minimum(size, g - 1)], 0.0)
    out = np.empty(r2.shape[:-1] + (g,))
    for j in range(g):
        out[..., j] = _split(a, g, j)[1].sum(axis=(-2, -1)) - _split(b, g, j)[0].sum(axis=(-2, -1))
    return out


def _conditional(r2: np.ndarray, g: int) -> np.ndarray:
    """(g, g) mean gain of player j over sub-models of size k of the others."""
    size = _popcount(np.arange(1 << g, dtype=np.int64))
    out = np.empty((g, g))
    counts = np.array([math.comb(g - 1, k) for k in range(g)], dtype=float)
    for j in range(g):
        without, with_j = _split(r2, g, j)
        out[j] = np.bincount(_split(size, g, j)[0].ravel(), weights=(with_j - without).ravel(),
                             minlength=g) / counts
    return out


def _pair_views(r2: np.ndarray, g: int, i: int, j: int):
    """R²(S ∪ i) and R²(S ∪ j) over all S of the other players (i < j), as flat arrays."""
    v = r2.reshape(1 << (g - 1 - j), 2, 1 << (j - 1 - i), 2, 1 << i)
    return v[:, 0, :, 1, :].ravel(), v[:, 1, :, 0, :].ravel()


def _johnson(R: np.ndarray, bounds) -> np.ndarray:
    """Johnson (2000) relative weights from correlation matrices (..., d+1, d+1) -> (..., g)."""
    Rxx = R[..., :-1, :-1]
    rxy = R[..., :-1, -1]
    lam, V = np.linalg.eigh(Rxx)
    lam = np.clip(lam, np.finfo(float).tiny, None)
    Vt = np.swapaxes(V, -1, -2)
    half = (V * np.sqrt(lam)[..., None, :]) @ Vt  # Rxx^(1/2): loadings of X on orthogonal Z
    beta = ((V / np.sqrt(lam)[..., None, :]) @ Vt @ rxy[..., None])[..., 0]  # y on Z
    raw = (half**2) @ (beta**2)[..., None]
    raw = raw[..., 0]
    return np.stack([raw[..., o:e].sum(axis=-1) for o, e in bounds], axis=-1)


# ---------------------------------------------------------------- logistic

# Newton rules of the sub-model fits: stop when the step is < 1e-8 and the log-likelihood moved by < 1e-11
# (relative); a linear predictor past 30 in absolute value means (quasi-)separation.
_NEWTON = dict(max_iter=60, step_tol=1e-8, ll_tol=1e-11, eta_max=30.0)


def _subset_mcfadden(design: Design) -> np.ndarray:
    """McFadden R² of every sub-model: 1 − log L_S / log L_0 (weighted logistic fits)."""
    y = design.y
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError(f"model='logistic' needs a 0/1 outcome; {design.outcome!r} has other values")
    n = design.n
    w = np.ones(n) if design.w is None else design.w / design.w.mean()
    g = len(design.players)
    Xs = (design.X - design.X.mean(axis=0)) / design.X.std(axis=0)
    one = np.ones((n, 1))
    ll0, _, _ = logit_fit(one, y, w, **_NEWTON)
    r2 = np.zeros(1 << g)
    for mask in range(1, 1 << g):
        cols = [c for j in range(g) if mask >> j & 1 for c in range(*design.bounds[j])]
        ll, _, ok = logit_fit(np.column_stack([one, Xs[:, cols]]), y, w, **_NEWTON)
        if not ok:
            names = [design.players[j] for j in range(g) if mask >> j & 1]
            raise ValueError(
                f"logistic fit failed for drivers {names}: the outcome {design.outcome!r} is (quasi-)"
                "completely separated by them; use model='linear' or coarsen those drivers"
            )
        r2[mask] = 1.0 - ll / ll0
    return r2


# ============================================================ public: R²


def _design_r2(design: Design, model: str) -> np.ndarray:
    if model == "logistic":
        return _subset_mcfadden(design)
    return _subset_r2_batch(corr(moments(design)), design.bounds)


def _subset_design(frame, *, outcome, drivers, groups, weights, model: str) -> tuple[Design, np.ndarray]:
    """Check ``model``, prepare the design (player cap by model) and return it with every subset's R²."""
    check_option("model", model, ("linear", "logistic"))
    design = prepare(frame, outcome=outcome, drivers=drivers, groups=groups, weights=weights,
                      max_players=MAX_PLAYERS_LOGISTIC if model == "logistic" else MAX_PLAYERS)
    return design, _design_r2(design, model)


def subset_r2(frame: pd.DataFrame, *, outcome: str, drivers, groups=None, weights=None,
              model: str = "linear") -> pd.DataFrame:
    """R² of every sub-model of the drivers (all 2^p subsets).

    Parameters
    ----------
    frame : DataFrame
        One row per response (contact grain) or per period.
    outcome : str
        CX column (numeric; 0/1 for ``model="logistic"``).
    drivers : list of str
        Driver columns. Numeric and bool columns enter as they are; text or
        categorical columns enter as indicator columns that move together.
    groups : dict of str to list of str, optional
        Named groups of columns treated as one player.
    weights : str or array-like, optional
        Observation weights (column name or values).
    model : {"linear", "logistic"}
        R² of OLS with intercept, or McFadden's pseudo-R² of a logistic fit.

    Returns
    -------
    DataFrame
        One row per subset, sorted by ``size`` then ``mask``:

        * ``mask`` — bitmask of players (bit j = j-th driver);
        * ``size`` — number of players in the sub-model;
        * ``drivers`` — the players, comma-separated ("" for the empty model);
        * ``r2`` — R² of the sub-model.

    Notes
    -----
    For a subset S of standardized drivers, R²_S = r_Sy' R_SS⁻¹ r_Sy. All
    subsets come from one pass of the sweep operator (Goodnight 1979): each
    subset's partial covariance matrix is its canonical parent's with one
    more player swept out, batched over all subsets with the same highest
    player. Exact in float64.

    References
    ----------
    Goodnight, J. H. (1979). A tutorial on the SWEEP operator. *The American
    Statistician* 33(3), 149–158.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame(rng.normal(size=(200, 2)), columns=["a", "b"])
    >>> df["y"] = df["a"] + 0.5 * df["b"] + rng.normal(size=200)
    >>> subset_r2(df, outcome="y", drivers=["a", "b"]).round(3)
       mask  size drivers     r2
    0     0     0          0.000
    1     1     1       a  0.404
    2     2     1       b  0.197
    3     3     2    a, b  0.572
    """
    design, r2 = _subset_design(frame, outcome=outcome, drivers=drivers, groups=groups, weights=weights,
                                model=model)
    g = len(design.players)
    masks = np.arange(1 << g, dtype=np.int64)
    names = [", ".join(design.players[j] for j in range(g) if m >> j & 1) for m in masks]
    out = pd.DataFrame({"mask": masks, "size": _popcount(masks), "drivers": names, "r2": r2})
    return out.sort_values(["size", "mask"], kind="mergesort").reset_index(drop=True)


def _importance_table(design: Design, imp: np.ndarray, r2_full: float, method: str, model: str):
    share = imp / r2_full if r2_full > 0 else np.full_like(imp, np.nan)
    out = pd.DataFrame({
        "driver": list(design.players),
        "members": [", ".join(m) for m in design.members],
        "importance": imp,
        "share": share,
    })
    out["rank"] = out["importance"].rank(ascending=False, method="min").astype(int)
    out["r2"] = r2_full
    out["n"] = design.n
    out["method"] = method
    out["model"] = model
    return out.sort_values(["rank", "driver"], kind="mergesort").reset_index(drop=True)


def relative_importance(frame: pd.DataFrame, *, outcome: str, drivers, method: str = "lmg",
                        groups=None, weights=None, model: str = "linear") -> pd.DataFrame:
    """Relative importance of each driver: its share of the model's R².

    Parameters
    ----------
    frame : DataFrame
        One row per response (contact grain) or per period; no NaNs in the
        columns used.
    outcome : str
        CX column (e.g. ``cx_value``; a 0/1 column such as ``cx_top2`` or
        ``promoter`` with ``model="logistic"``).
    drivers : list of str
        Driver columns (numeric, bool, or categorical — expanded to
        indicators that enter together as one player).
    method : {"lmg", "johnson"}
        ``"lmg"``: the exact Shapley value of R² over all 2^p sub-models
        (= general dominance). ``"johnson"``: Johnson's relative weights, a
        fast approximation (p up to hundreds; a group's weight is the sum of
        its columns' weights).
    groups : dict of str to list of str, optional
        Named groups of KPIs each treated as one player, e.g.
        ``{"speed": ["asa_s", "service_level_pct"]}``.
    weights : str or array-like, optional
        Observation weights (e.g. non-response weights): a column or values.
    model : {"linear", "logistic"}
        ``"logistic"`` decomposes McFadden's pseudo-R² of logistic fits
        (binary outcome, ``method="lmg"`` only, at most
        :data:`MAX_PLAYERS_LOGISTIC` players).

    Returns
    -------
    DataFrame
        One row per driver (player), sorted by rank:

        * ``driver`` — player name (column or group name);
        * ``members`` — the columns it stands for, comma-separated;
        * ``importance`` — its part of R² (the parts sum to ``r2``);
        * ``share`` — ``importance / r2`` (sums to 1);
        * ``rank`` — 1 = most important (ties share the lower rank);
        * ``r2`` — R² (or McFadden R²) of the full model;
        * ``n`` — responses used;
        * ``method``, ``model`` — as requested.

    Raises
    ------
    ValueError
        Missing values, a constant column, perfectly collinear drivers,
        n <= p + 1, or more than :data:`MAX_PLAYERS` players — each naming
        the columns concerned.

    Notes
    -----
    LMG (Lindeman, Merenda & Gold 1980) is the Shapley value of the game
    v(S) = R²_S:

    .. math:: \\mathrm{LMG}_j = \\sum_{S \\subseteq P \\setminus j}
              \\frac{|S|!\\,(p-|S|-1)!}{p!} (R^2_{S \\cup j} - R^2_S),

    i.e. the gain from adding j averaged over sub-model sizes, then over
    sizes; the parts sum to the full R² whatever the correlation between
    drivers. R²_S = r_Sy' R_SS⁻¹ r_Sy for every S comes from
    :func:`subset_r2`. Unlike tools that zero "non-significant" drivers,
    nothing is zeroed here: use :func:`bootstrap_importance` for CIs.

    Johnson's weights: with R_xx = V Λ V', Λ^(1/2) = V Λ^½ V' (loadings of the
    drivers on their closest orthonormal counterparts Z) and β = R_xx^(-1/2) r_xy
    (y on Z), ε_j = Σ_k (Λ^(1/2))_jk² β_k², summing to R². Equal to LMG when the
    drivers are uncorrelated.

    McFadden's R²_S = 1 − log L_S / log L_0 (Azen & Traxel 2009 use it for
    dominance analysis in logistic regression); it rises monotonically with
    S, so its Shapley values are well defined and sum to the full model's.

    References
    ----------
    Lindeman, R. H., Merenda, P. F., & Gold, R. Z. (1980). *Introduction to
    Bivariate and Multivariate Analysis*. Scott, Foresman.
    Grömping, U. (2006). Relative importance for linear regression in R: the
    package relaimpo. *Journal of Statistical Software* 17(1), 1–27.
    Johnson, J. W. (2000). A heuristic method for estimating the relative
    weight of predictor variables in multiple regression. *Multivariate
    Behavioral Research* 35(1), 1–19.
    Azen, R., & Traxel, N. (2009). Using dominance analysis to determine
    predictor importance in logistic regression. *Journal of Educational and
    Behavioral Statistics* 34(3), 319–347.
    McFadden, D. (1974). Conditional logit analysis of qualitative choice
    behavior. In *Frontiers in Econometrics*, 105–142.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame(rng.normal(size=(500, 3)), columns=["fcr", "asa", "hold"])
    >>> df["csat"] = 0.6 * df["fcr"] - 0.3 * df["asa"] + rng.normal(size=500)
    >>> ri = relative_importance(df, outcome="csat", drivers=["fcr", "asa", "hold"])
    >>> ri[["driver", "importance", "share", "rank"]].round(3)
      driver  importance  share  rank
    0    fcr       0.256  0.839     1
    1    asa       0.047  0.153     2
    2   hold       0.002  0.007     3
    >>> bool(np.isclose(ri["importance"].sum(), ri["r2"].iloc[0]))
    True
    """
    check_option("method", method, ("lmg", "johnson"))
    check_option("model", model, ("linear", "logistic"))
    if model == "logistic" and method != "lmg":
        raise ValueError("model='logistic' supports method='lmg' only (McFadden R² has no Johnson weights)")
    cap = MAX_PLAYERS_LOGISTIC if model == "logistic" else MAX_PLAYERS
    if method == "johnson":
        cap = 10**6
    design = prepare(frame, outcome=outcome, drivers=drivers, groups=groups, weights=weights,
                      max_players=cap)
    g = len(design.players)
    if method == "johnson":
        R = corr(moments(design))
        imp = _johnson(R, design.bounds)
        rxy = R[:-1, -1]
        r2_full = float(rxy @ np.linalg.solve(R[:-1, :-1], rxy))
    else:
        r2 = _design_r2(design, model)
        imp = _lmg(r2, g)
        r2_full = float(r2[-1])
    return _importance_table(design, imp, r2_full, method, model)


# ============================================================ dominance


@dataclass(frozen=True)
class Dominance:
    """Dominance analysis tables (Budescu 1993; Azen & Budescu 2003).

    Attributes
    ----------
    general : DataFrame
        ``driver``, ``general`` (= LMG importance), ``share``, ``rank``.
    conditional : DataFrame
        Long: ``driver``, ``k`` (number of *other* drivers in the sub-model,
        0..p-1), ``mean_gain`` (mean R² gain from adding the driver over all
        sub-models of that size).
    pairwise : DataFrame
        Every ordered pair: ``driver``, ``other``, ``share_greater`` (share
        of the subsets S of the remaining drivers in which
        R²(S ∪ driver) > R²(S ∪ other)), and ``complete``, ``conditional``,
        ``general`` — each ``"dominates"``, ``"dominated"`` or
        ``"undetermined"``.
    r2 : float
        R² of the full model.
    """

    general: pd.DataFrame
    conditional: pd.DataFrame
    pairwise: pd.DataFrame
    r2: float


def _verdict(a_gt: bool, b_gt: bool) -> str:
    return "dominates" if a_gt else ("dominated" if b_gt else "undetermined")


def dominance(frame: pd.DataFrame, *, outcome: str, drivers, groups=None, weights=None,
              model: str = "linear") -> Dominance:
    """Complete, conditional and general dominance of every pair of drivers.

    Parameters
    ----------
    frame, outcome, drivers, groups, weights, model
        As in :func:`relative_importance`.

    Returns
    -------
    Dominance
        Frozen dataclass of tidy tables (``general``, ``conditional``,
        ``pairwise``) and the full ``r2``; see :class:`Dominance`.

    Notes
    -----
    With R²(S) from :func:`subset_r2` and P the drivers:

    * *complete*: i dominates j if R²(S ∪ i) > R²(S ∪ j) for every
      S ⊆ P \\ {i, j};
    * *conditional*: i dominates j if C_i(k) > C_j(k) for every size k,
      where C_i(k) is the mean of R²(S ∪ i) − R²(S) over |S| = k, S ∌ i;
    * *general*: i dominates j if mean_k C_i(k) > mean_k C_j(k); the general
      dominance weight mean_k C_i(k) equals LMG.

    Complete implies conditional implies general.

    References
    ----------
    Budescu, D. V. (1993). Dominance analysis: a new approach to the problem
    of relative importance of predictors in multiple regression.
    *Psychological Bulletin* 114(3), 542–551.
    Azen, R., & Budescu, D. V. (2003). The dominance analysis approach for
    comparing predictors in multiple regression. *Psychological Methods*
    8(2), 129–148.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame(rng.normal(size=(500, 3)), columns=["fcr", "asa", "hold"])
    >>> df["csat"] = 0.6 * df["fcr"] - 0.3 * df["asa"] + rng.normal(size=500)
    >>> dom = dominance(df, outcome="csat", drivers=["fcr", "asa", "hold"])
    >>> dom.pairwise.query("driver == 'fcr'")[["other", "complete"]]
      other   complete
    0   asa  dominates
    1  hold  dominates
    >>> dom.conditional.query("driver == 'fcr'")["mean_gain"].round(3).tolist()
    [0.253, 0.256, 0.259]
    """
    design, r2 = _subset_design(frame, outcome=outcome, drivers=drivers, groups=groups, weights=weights,
                                model=model)
    g = len(design.players)
    names = list(design.players)
    cond = _conditional(r2, g)
    gen = cond.mean(axis=1)
    general = _importance_table(design, gen, float(r2[-1]), "lmg", model)
    general = general.rename(columns={"importance": "general"})[["driver", "general", "share", "rank"]]
    conditional = pd.DataFrame({
        "driver": np.repeat(names, g),
        "k": np.tile(np.arange(g), g),
        "mean_gain": cond.ravel(),
    })
    eps = 1e-12
    rows = {}
    for i in range(g):
        for j in range(i + 1, g):
            a, b = _pair_views(r2, g, i, j)
            diff = a - b
            gt, lt = float(np.mean(diff > eps)), float(np.mean(diff < -eps))
            ci, cj = cond[i], cond[j]
            comp = (gt == 1.0, lt == 1.0)
            cnd = (bool(np.all(ci - cj > eps)), bool(np.all(cj - ci > eps)))
            gnr = (bool(gen[i] - gen[j] > eps), bool(gen[j] - gen[i] > eps))
            rows[i, j] = (names[i], names[j], gt, _verdict(*comp), _verdict(*cnd), _verdict(*gnr))
            rows[j, i] = (names[j], names[i], lt, _verdict(*comp[::-1]), _verdict(*cnd[::-1]),
                          _verdict(*gnr[::-1]))
    pairwise = pd.DataFrame([rows[k] for k in sorted(rows)],
                            columns=["driver", "other", "share_greater", "complete", "conditional", "general"])
    return Dominance(general=general, conditional=conditional, pairwise=pairwise, r2=float(r2[-1]))


# ============================================================ bootstrap


@dataclass(frozen=True)
class BootstrapImportance:
    """Relative importance with bootstrap uncertainty (see :func:`bootstrap_importance`).

    Attributes
    ----------
    importance : DataFrame
        One row per driver, sorted by rank: ``driver``, ``members``,
        ``importance`` (point estimate, R² units), ``ci_low``, ``ci_high``,
        ``se`` (bootstrap SD), ``share``, ``share_ci_low``, ``share_ci_high``,
        ``rank`` (point estimate), ``rank_ci_low``, ``rank_ci_high``,
        ``p_rank1`` (share of resamples where it ranks first),
        ``p_top3`` (share where it ranks in the top three).
    ranks : DataFrame
        Rank distribution: ``driver``, ``rank``, ``probability``.
    pairwise : DataFrame
        One row per pair, the higher-ranked driver first: ``driver``,
        ``other``, ``diff`` (importance difference), ``ci_low``, ``ci_high``,
        ``p_greater`` (share of resamples with driver > other),
        ``excludes_zero`` (the CI of the difference excludes 0).
    r2 : DataFrame
        One row: ``r2``, ``ci_low``, ``ci_high``, ``n``, ``n_boot`` (valid
        resamples), ``n_dropped`` (resamples with a constant or collinear
        driver, left out).
    coef : DataFrame
        Full-model OLS slope per numeric single-column driver in the
        column's units: ``driver``, ``coef``, ``ci_low``, ``ci_high``.
    replicates : DataFrame
        ``n_boot`` × drivers: the bootstrap importances (for :func:`quadrant`).
    method, outcome : str
        As requested.
    conf : float
        Confidence level of every interval.
    """

    importance: pd.DataFrame
    ranks: pd.DataFrame
    pairwise: pd.DataFrame
    r2: pd.DataFrame
    coef: pd.DataFrame
    replicates: pd.DataFrame = field(repr=False)
    method: str = "lmg"
    outcome: str = ""
    conf: float = 0.95


def bootstrap_importance(frame: pd.DataFrame, *, outcome: str, drivers, n_boot: int = 1000,
                         seed: int = 0, conf: float = 0.95, method: str = "lmg", groups=None,
                         weights=None) -> BootstrapImportance:
    """Bootstrap CIs for importances, ranks and differences between drivers.

    Parameters
    ----------
    frame, outcome, drivers, groups, weights
        As in :func:`relative_importance` (linear model).
    n_boot : int
        Bootstrap resamples (rows drawn with replacement).
    seed : int
        Seed of ``np.random.default_rng``; same seed, same result.
    conf : float
        Confidence level of the percentile intervals.
    method : {"lmg", "johnson"}
        Importance measure, as in :func:`relative_importance`.

    Returns
    -------
    BootstrapImportance
        Frozen dataclass of tidy tables: ``importance``, ``ranks``,
        ``pairwise``, ``r2``, ``coef``, ``replicates`` (columns documented
        in :class:`BootstrapImportance`).

    Notes
    -----
    Nonparametric case bootstrap with percentile intervals (Efron &
    Tibshirani 1993, ch. 13), as relaimpo's ``boot.relimp`` offers. Each
    resample b is represented by its multinomial counts c_b, so its
    covariance matrix is Σ_b = M2_b − m1_b m1_b' with m1_b = c_b' Z / n and
    M2_b = c_b' (Z ⊙ Z) / n over the column products — two matrix products
    for all resamples at once. All-subsets R² and the importances of all
    resamples are then computed in one batch. Rank intervals are
    percentiles of the integer rank distribution (lower / higher
    interpolation). A pairwise difference whose interval excludes 0 is the
    evidence that one driver matters more than another (Tonidandel,
    LeBreton & Johnson 2009).

    References
    ----------
    Efron, B., & Tibshirani, R. J. (1993). *An Introduction to the
    Bootstrap*. Chapman & Hall.
    Grömping, U. (2006). Relative importance for linear regression in R: the
    package relaimpo. *Journal of Statistical Software* 17(1), 1–27.
    Tonidandel, S., LeBreton, J. M., & Johnson, J. W. (2009). Determining the
    statistical significance of relative weights. *Psychological Methods*
    14(4), 387–399.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame(rng.normal(size=(500, 3)), columns=["fcr", "asa", "hold"])
    >>> df["csat"] = 0.6 * df["fcr"] - 0.3 * df["asa"] + rng.normal(size=500)
    >>> bi = bootstrap_importance(df, outcome="csat", drivers=["fcr", "asa", "hold"], n_boot=200)
    >>> bi.importance[["driver", "rank", "rank_ci_low", "rank_ci_high", "p_rank1"]]
      driver  rank  rank_ci_low  rank_ci_high  p_rank1
    0    fcr     1            1             1      1.0
    1    asa     2            2             2      0.0
    2   hold     3            3             3      0.0
    >>> bool(bi.pairwise.iloc[0]["excludes_zero"])
    True
    """
    check_option("method", method, ("lmg", "johnson"))
    if not isinstance(n_boot, int | np.integer) or n_boot < 2:
        raise ValueError(f"n_boot must be an integer >= 2; got {n_boot!r}")
    if not 0 < conf < 1:
        raise ValueError(f"conf must be between 0 and 1; got {conf!r}")
    design = prepare(frame, outcome=outcome, drivers=drivers, groups=groups, weights=weights,
                      max_players=10**6 if method == "johnson" else MAX_PLAYERS)
    g = len(design.players)
    names = list(design.players)
    point = relative_importance(frame, outcome=outcome, drivers=drivers, method=method, groups=groups,
                                weights=weights)
    point = point.set_index("driver").loc[names]
    est = point["importance"].to_numpy()
    r2_hat = float(point["r2"].iloc[0])

    rng = np.random.default_rng(seed)
    cov, mu, sd = boot_moments(design, n_boot, rng)
    ok = valid_resamples(cov)
    cov = cov[ok]
    B = len(cov)
    if B < 2:
        raise ValueError("fewer than 2 bootstrap resamples had non-degenerate drivers; the data are too thin")
    R = corr(cov)
    if method == "johnson":
        imp = _johnson(R, design.bounds)
        rxy = R[:, :-1, -1:]
        r2b = (np.swapaxes(rxy, -1, -2) @ np.linalg.solve(R[:, :-1, :-1], rxy))[:, 0, 0]
    else:
        r2s = np.empty((B, 1 << g))
        step = max(1, (1 << 22) // (1 << g))  # bound memory: ~4M subset values per batch
        for s in range(0, B, step):
            r2s[s:s + step] = _subset_r2_batch(R[s:s + step], design.bounds)
        imp = _lmg(r2s, g)
        r2b = r2s[:, -1]

    lo, hi = quantile_ci(imp, conf)
    share_b = imp / r2b[:, None]
    slo, shi = quantile_ci(share_b, conf)
    # ranks: 1 = largest; ties broken by order (measure-zero for continuous data)
    ranks_b = (-imp).argsort(axis=1).argsort(axis=1) + 1
    a = (1 - conf) / 2
    rlo = np.quantile(ranks_b, a, axis=0, method="lower")
    rhi = np.quantile(ranks_b, 1 - a, axis=0, method="higher")
    importance = pd.DataFrame({
        "driver": names,
        "members": point["members"].to_numpy(),
        "importance": est,
        "ci_low": lo,
        "ci_high": hi,
        "se": imp.std(axis=0, ddof=1),
        "share": point["share"].to_numpy(),
        "share_ci_low": slo,
        "share_ci_high": shi,
        "rank": point["rank"].to_numpy(),
        "rank_ci_low": rlo.astype(int),
        "rank_ci_high": rhi.astype(int),
        "p_rank1": (ranks_b == 1).mean(axis=0),
        "p_top3": (ranks_b <= 3).mean(axis=0),
    }).sort_values(["rank", "driver"], kind="mergesort").reset_index(drop=True)

    rk = np.arange(1, g + 1)
    ranks = pd.DataFrame({
        "driver": np.repeat(names, g),
        "rank": np.tile(rk, g),
        "probability": (ranks_b[:, :, None] == rk).mean(axis=0).ravel(),
    })
    order = [names.index(d) for d in importance["driver"]]
    prs = []
    for x in range(g):
        for y in range(x + 1, g):
            i, j = order[x], order[y]
            diff = imp[:, i] - imp[:, j]
            dlo, dhi = quantile_ci(diff, conf)
            prs.append({"driver": names[i], "other": names[j], "diff": est[i] - est[j],
                        "ci_low": dlo, "ci_high": dhi, "p_greater": float((diff > 0).mean()),
                        "excludes_zero": bool(dlo > 0 or dhi < 0)})
    pairwise = pd.DataFrame(prs, columns=["driver", "other", "diff", "ci_low", "ci_high", "p_greater",
                                          "excludes_zero"])
    r2lo, r2hi = quantile_ci(r2b, conf)
    r2 = pd.DataFrame({"r2": [r2_hat], "ci_low": [r2lo], "ci_high": [r2hi], "n": [design.n],
                       "n_boot": [B], "n_dropped": [int(n_boot - B)]})
    coef = _coef_table(design, cov, mu, sd, conf)
    replicates = pd.DataFrame(imp, columns=names)
    return BootstrapImportance(importance=importance, ranks=ranks, pairwise=pairwise, r2=r2, coef=coef,
                               replicates=replicates, method=method, outcome=outcome, conf=conf)


def _coef_table(design: Design, cov_boot, mu, sd, conf) -> pd.DataFrame:
    b_hat = boot_coef(standardized_cov(design, mu, sd), sd)
    b_boot = boot_coef(cov_boot, sd)
    lo, hi = quantile_ci(b_boot, conf)
    rows = []
    for name, (o, e), mem in zip(design.players, design.bounds, design.members):
        if e - o == 1 and design.columns[o] == mem[0]:
            rows.append({"driver": name, "coef": b_hat[o], "ci_low": lo[o], "ci_high": hi[o]})
    return pd.DataFrame(rows, columns=["driver", "coef", "ci_low", "ci_high"])
