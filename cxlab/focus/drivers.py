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
  differences (all resamples' correlation matrices in one batch);
* :func:`quadrant` — importance–performance quadrant as probabilities;
* :func:`what_if` — predicted CX change for a stated KPI change, with CI;
* :func:`agents_for_service_level` — CX points per added agent (Erlang C);
* :func:`focus_list` — up to three components to focus on, each with its reason.

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

from ..errors import check_option, suggest

__all__ = [
    "MAX_PLAYERS",
    "MAX_PLAYERS_LOGISTIC",
    "Dominance",
    "BootstrapImportance",
    "subset_r2",
    "relative_importance",
    "dominance",
    "bootstrap_importance",
    "quadrant",
    "what_if",
    "agents_for_service_level",
    "focus_list",
]

#: Most players an exact all-subsets decomposition accepts (2^20 sub-models).
MAX_PLAYERS = 20
#: Most players with ``model="logistic"`` (one logistic fit per sub-model).
MAX_PLAYERS_LOGISTIC = 12

_COLLINEAR_TOL = 1e-10  # smallest eigenvalue of the drivers' correlation matrix
_BOOT_CHUNK = 50  # resamples per batch (fixed, so results do not depend on the machine)

QUADRANTS = ("concentrate here", "keep up the good work", "low priority", "possible overkill")


# ============================================================== preparation


@dataclass(frozen=True)
class _Design:
    """Numeric design: columns of X grouped into players, y last."""

    X: np.ndarray  # (n, d) float64
    y: np.ndarray  # (n,)
    w: np.ndarray | None  # (n,) observation weights or None
    columns: tuple  # d column labels (dummies as "col=level")
    players: tuple  # g player names
    bounds: tuple  # g (start, end) column ranges, contiguous in player order
    members: tuple  # g tuples of source column names
    outcome: str

    @property
    def n(self) -> int:
        return len(self.y)


def _as_list(value, name) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    try:
        return list(value)
    except TypeError:
        raise TypeError(f"{name} must be a list of column names; got {value!r}") from None


def _check_columns(frame: pd.DataFrame, cols, what: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        hint = suggest(missing[0], frame.columns)
        raise ValueError(f"{what} column(s) {missing} not in the frame{hint}")


def _prepare(frame, *, outcome, drivers, groups=None, weights=None, max_players=MAX_PLAYERS) -> _Design:
    """Validate the inputs and build the numeric design (see module docstring)."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame; got {type(frame).__name__}")
    if not isinstance(outcome, str):
        raise TypeError(f"outcome must be a column name; got {outcome!r}")
    drivers = _as_list(drivers, "drivers")
    groups = dict(groups or {})
    for gname, cols in groups.items():
        cols = _as_list(cols, f"groups[{gname!r}]")
        if not cols:
            raise ValueError(f"group {gname!r} has no columns")
        groups[gname] = cols
    _check_columns(frame, [outcome], "outcome")
    in_group = {}
    for gname, cols in groups.items():
        _check_columns(frame, cols, f"group {gname!r}")
        for c in cols:
            if c in in_group:
                raise ValueError(f"column {c!r} is in two groups: {in_group[c]!r} and {gname!r}")
            in_group[c] = gname
    _check_columns(frame, [d for d in drivers if d not in groups], "driver")
    dup = sorted({d for d in drivers if drivers.count(d) > 1})
    if dup:
        raise ValueError(f"driver(s) {dup} listed more than once")
    if outcome in drivers or outcome in in_group:
        raise ValueError(f"the outcome {outcome!r} cannot also be a driver")

    # players in order of first appearance: drivers (a grouped column places its group), then groups
    order: list[tuple[str, list]] = []
    placed = set()
    for d in drivers:
        name = in_group.get(d, d)
        if name in placed:
            continue
        placed.add(name)
        order.append((name, groups[name] if name in groups else [d]))
    for gname, cols in groups.items():
        if gname not in placed:
            placed.add(gname)
            order.append((gname, cols))
    if not order:
        raise ValueError("no drivers given: pass drivers=[...] (and/or groups={...})")
    if len(order) > max_players:
        raise ValueError(
            f"{len(order)} drivers exceed the exact all-subsets limit of {max_players} "
            f"(2^{len(order)} sub-models); group related KPIs so each group is one player, e.g. "
            "groups={'speed': ['asa_s', 'service_level_pct'], 'resolution': ['fcr_pct', 'transfer_rate_pct']}"
        )

    used = [outcome] + [c for _, cols in order for c in cols]
    w = None
    if weights is not None:
        if isinstance(weights, str):
            _check_columns(frame, [weights], "weights")
            used.append(weights)
            w = frame[weights]
        else:
            w = pd.Series(np.asarray(weights, dtype=float), index=frame.index)
            if len(w) != len(frame):
                raise ValueError(f"weights has {len(w)} values for {len(frame)} rows")
    sub = frame[list(dict.fromkeys(used))]
    nan_counts = sub.isna().sum()
    if w is not None and not isinstance(weights, str):
        nan_counts = pd.concat([nan_counts, pd.Series({"weights": int(w.isna().sum())})])
    bad = nan_counts[nan_counts > 0]
    if len(bad):
        listing = ", ".join(f"{c!r} ({int(k)} rows)" for c, k in bad.items())
        raise ValueError(
            f"missing values (NaN) in {listing}; drop or impute those rows before a driver analysis"
        )

    y = pd.to_numeric(sub[outcome].astype(float) if sub[outcome].dtype == bool else sub[outcome],
                      errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(y).all():
        raise ValueError(f"outcome {outcome!r} must be numeric and finite")
    blocks, columns, bounds, members, names = [], [], [], [], []
    start = 0
    for name, cols in order:
        for c in cols:
            s = sub[c]
            if s.dtype == bool or pd.api.types.is_bool_dtype(s.dtype):
                blocks.append(s.astype(float).to_numpy()[:, None])
                columns.append(c)
            elif pd.api.types.is_numeric_dtype(s.dtype):
                blocks.append(s.to_numpy(dtype=float)[:, None])
                columns.append(c)
            else:  # categorical: indicators of every level but the most frequent
                counts = s.astype(str).value_counts(sort=False)
                levels = sorted(counts.index)
                ref = max(levels, key=lambda lv: (counts[lv], lv))
                levs = [lv for lv in levels if lv != ref]
                if not levs:
                    raise ValueError(f"driver {c!r} is constant (one level: {ref!r}); drop it")
                sv = s.astype(str).to_numpy()
                blocks.append(np.column_stack([(sv == lv).astype(float) for lv in levs]))
                columns.extend(f"{c}={lv}" for lv in levs)
        end = len(columns)
        bounds.append((start, end))
        members.append(tuple(cols))
        names.append(name)
        start = end
    X = np.column_stack(blocks) if blocks else np.empty((len(sub), 0))
    if not np.isfinite(X).all():
        bad = [columns[j] for j in np.flatnonzero(~np.isfinite(X).all(axis=0))]
        raise ValueError(f"driver column(s) {bad} contain infinite values")
    wv = None
    if w is not None:
        wv = w.to_numpy(dtype=float)
        if (wv < 0).any() or not np.isfinite(wv).all() or wv.sum() <= 0:
            raise ValueError("weights must be finite, non-negative and not all zero")

    n, d = X.shape
    if n <= d + 1:
        raise ValueError(
            f"only {n} complete responses for {d} driver columns ({', '.join(columns)}); "
            f"a regression needs n > p + 1 = {d + 1} (more responses or fewer drivers)"
        )
    sd = _wstd(np.column_stack([X, y]), wv)
    const = [lab for lab, s in zip([*columns, outcome], sd) if not s > 0]
    if const:
        raise ValueError(f"column(s) {const} are constant (zero variance); drop them from the analysis")
    design = _Design(X=X, y=y, w=wv, columns=tuple(columns), players=tuple(names), bounds=tuple(bounds),
                     members=tuple(members), outcome=outcome)
    _check_collinear(_corr(_moments(design)), design)
    return design


def _wstd(A, w):
    if w is None:
        return A.std(axis=0)
    m = (w @ A) / w.sum()
    return np.sqrt((w @ (A - m) ** 2) / w.sum())


def _moments(design: _Design) -> np.ndarray:
    """Covariance matrix of [X, y] (weighted when the design has weights)."""
    A = np.column_stack([design.X, design.y])
    w = design.w
    if w is None:
        Ac = A - A.mean(axis=0)
        return Ac.T @ Ac / len(A)
    m = (w @ A) / w.sum()
    Ac = A - m
    return (Ac * w[:, None]).T @ Ac / w.sum()


def _corr(cov: np.ndarray) -> np.ndarray:
    s = np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1))
    return cov / s[..., :, None] / s[..., None, :]


def _check_collinear(R: np.ndarray, design: _Design) -> None:
    """ValueError naming the driver columns that are (nearly) linear combinations of each other."""
    Rxx = R[:-1, :-1]
    lam, V = np.linalg.eigh(Rxx)
    null = lam < _COLLINEAR_TOL * max(1.0, lam[-1])
    if null.any():
        load = np.abs(V[:, null]).max(axis=1)
        cols = [design.columns[j] for j in np.flatnonzero(load > 1e-6)]
        raise ValueError(
            f"driver column(s) {cols} are perfectly collinear (one is a linear combination of the "
            "others); drop one of them or put them in one group"
        )


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


def _logit_ll(X: np.ndarray, y: np.ndarray, w: np.ndarray, beta0=None, max_iter: int = 60):
    """Weighted maximum-likelihood logistic fit by Newton-Raphson; returns (loglik, beta)."""
    n, k = X.shape
    beta = np.zeros(k) if beta0 is None else beta0.copy()
    ll_old = -np.inf
    for _ in range(max_iter):
        eta = X @ beta
        p = 1.0 / (1.0 + np.exp(-eta))
        ll = float(w @ (y * eta - np.logaddexp(0.0, eta)))
        if np.abs(eta).max() > 30:
            return ll, beta, False
        grad = X.T @ (w * (y - p))
        H = (X * (w * p * (1 - p))[:, None]).T @ X
        try:
            step = np.linalg.solve(H, grad)
        except np.linalg.LinAlgError:
            return ll, beta, False
        beta = beta + step
        if abs(ll - ll_old) < 1e-11 * (1 + abs(ll)) and np.abs(step).max() < 1e-8:
            break
        ll_old = ll
    eta = X @ beta
    return float(w @ (y * eta - np.logaddexp(0.0, eta))), beta, True


def _subset_mcfadden(design: _Design) -> np.ndarray:
    y = design.y
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError(f"model='logistic' needs a 0/1 outcome; {design.outcome!r} has other values")
    n = design.n
    w = np.ones(n) if design.w is None else design.w / design.w.mean()
    g = len(design.players)
    Xs = (design.X - design.X.mean(axis=0)) / design.X.std(axis=0)
    one = np.ones((n, 1))
    ll0, _, _ = _logit_ll(one, y, w)
    r2 = np.zeros(1 << g)
    for mask in range(1, 1 << g):
        cols = [c for j in range(g) if mask >> j & 1 for c in range(*design.bounds[j])]
        ll, _, ok = _logit_ll(np.column_stack([one, Xs[:, cols]]), y, w)
        if not ok:
            names = [design.players[j] for j in range(g) if mask >> j & 1]
            raise ValueError(
                f"logistic fit failed for drivers {names}: the outcome {design.outcome!r} is (quasi-)"
                "completely separated by them; use model='linear' or coarsen those drivers"
            )
        r2[mask] = 1.0 - ll / ll0
    return r2


# ============================================================ public: R²


def _design_r2(design: _Design, model: str) -> np.ndarray:
    if model == "logistic":
        return _subset_mcfadden(design)
    return _subset_r2_batch(_corr(_moments(design)), design.bounds)


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
    check_option("model", model, ("linear", "logistic"))
    design = _prepare(frame, outcome=outcome, drivers=drivers, groups=groups, weights=weights,
                      max_players=MAX_PLAYERS_LOGISTIC if model == "logistic" else MAX_PLAYERS)
    r2 = _design_r2(design, model)
    g = len(design.players)
    masks = np.arange(1 << g, dtype=np.int64)
    names = [", ".join(design.players[j] for j in range(g) if m >> j & 1) for m in masks]
    out = pd.DataFrame({"mask": masks, "size": _popcount(masks), "drivers": names, "r2": r2})
    return out.sort_values(["size", "mask"], kind="mergesort").reset_index(drop=True)


def _importance_table(design: _Design, imp: np.ndarray, r2_full: float, method: str, model: str):
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
    design = _prepare(frame, outcome=outcome, drivers=drivers, groups=groups, weights=weights,
                      max_players=cap)
    g = len(design.players)
    if method == "johnson":
        R = _corr(_moments(design))
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
    check_option("model", model, ("linear", "logistic"))
    design = _prepare(frame, outcome=outcome, drivers=drivers, groups=groups, weights=weights,
                      max_players=MAX_PLAYERS_LOGISTIC if model == "logistic" else MAX_PLAYERS)
    r2 = _design_r2(design, model)
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


def _boot_moments(design: _Design, n_boot: int, rng: np.random.Generator):
    """Covariance matrices of [X, y] of n_boot resamples: (n_boot, d+1, d+1).

    Rows are resampled with replacement; a resample's moments are weighted
    sums with its multinomial counts, so all resamples come from a handful of
    matrix products instead of n_boot copies of the data. Columns are first
    standardized with the full-sample mean and SD (fixed constants), which
    keeps the one-pass moment formula accurate.
    """
    A = np.column_stack([design.X, design.y])
    n, D = A.shape
    mu, sd = A.mean(axis=0), A.std(axis=0)
    Z = (A - mu) / sd
    iu = np.triu_indices(D)
    P = Z[:, iu[0]] * Z[:, iu[1]]
    ZP = np.column_stack([np.ones(n), Z, P])
    out = np.empty((n_boot, D, D))
    with _one_blas_thread():
        _boot_chunks(out, ZP, design.w, n, D, iu, rng)
    return out, mu, sd


def _one_blas_thread():
    """Run BLAS single-threaded: these short, wide products lose badly to thread contention."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _boot_chunks(out, ZP, w, n, D, iu, rng):
    n_boot = len(out)
    for start in range(0, n_boot, _BOOT_CHUNK):
        b = min(_BOOT_CHUNK, n_boot - start)
        idx = rng.integers(0, n, size=(b, n))
        counts = np.bincount((idx + (np.arange(b) * n)[:, None]).ravel(), minlength=b * n)
        K = counts.reshape(b, n).astype(float)
        if w is not None:
            K *= w
        M = K @ ZP
        s0 = M[:, :1]
        m1 = M[:, 1:1 + D] / s0
        m2 = M[:, 1 + D:] / s0
        cov = np.empty((b, D, D))
        cov[:, iu[0], iu[1]] = m2
        cov[:, iu[1], iu[0]] = m2
        cov -= m1[:, :, None] * m1[:, None, :]
        out[start:start + b] = cov


def _valid_resamples(cov: np.ndarray) -> np.ndarray:
    """Resamples whose drivers are neither constant nor collinear."""
    diag = np.diagonal(cov, axis1=-2, axis2=-1)
    ok = (diag > 1e-12).all(axis=1)
    R = _corr(np.where(ok[:, None, None], cov, np.eye(cov.shape[-1])))
    lam = np.linalg.eigvalsh(R[:, :-1, :-1])
    return ok & (lam[:, 0] > _COLLINEAR_TOL)


def _pct(x, conf, axis=0):
    a = (1 - conf) / 2
    return np.quantile(x, a, axis=axis), np.quantile(x, 1 - a, axis=axis)


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


def _boot_coef(cov: np.ndarray, design: _Design, mu, sd):
    """OLS slopes in original units from standardized-column covariances (..., D, D)."""
    Sxx = cov[..., :-1, :-1]
    Sxy = cov[..., :-1, -1:]
    bz = np.linalg.solve(Sxx, Sxy)[..., 0]
    return bz * sd[-1] / sd[:-1]


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
    design = _prepare(frame, outcome=outcome, drivers=drivers, groups=groups, weights=weights,
                      max_players=10**6 if method == "johnson" else MAX_PLAYERS)
    g = len(design.players)
    names = list(design.players)
    point = relative_importance(frame, outcome=outcome, drivers=drivers, method=method, groups=groups,
                                weights=weights)
    point = point.set_index("driver").loc[names]
    est = point["importance"].to_numpy()
    r2_hat = float(point["r2"].iloc[0])

    rng = np.random.default_rng(seed)
    cov, mu, sd = _boot_moments(design, n_boot, rng)
    ok = _valid_resamples(cov)
    cov = cov[ok]
    B = len(cov)
    if B < 2:
        raise ValueError("fewer than 2 bootstrap resamples had non-degenerate drivers; the data are too thin")
    R = _corr(cov)
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

    lo, hi = _pct(imp, conf)
    share_b = imp / r2b[:, None]
    slo, shi = _pct(share_b, conf)
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
            dlo, dhi = _pct(diff, conf)
            prs.append({"driver": names[i], "other": names[j], "diff": est[i] - est[j],
                        "ci_low": dlo, "ci_high": dhi, "p_greater": float((diff > 0).mean()),
                        "excludes_zero": bool(dlo > 0 or dhi < 0)})
    pairwise = pd.DataFrame(prs, columns=["driver", "other", "diff", "ci_low", "ci_high", "p_greater",
                                          "excludes_zero"])
    r2lo, r2hi = _pct(r2b, conf)
    r2 = pd.DataFrame({"r2": [r2_hat], "ci_low": [r2lo], "ci_high": [r2hi], "n": [design.n],
                       "n_boot": [B], "n_dropped": [int(n_boot - B)]})
    coef = _coef_table(design, cov, mu, sd, conf)
    replicates = pd.DataFrame(imp, columns=names)
    return BootstrapImportance(importance=importance, ranks=ranks, pairwise=pairwise, r2=r2, coef=coef,
                               replicates=replicates, method=method, outcome=outcome, conf=conf)


def _coef_table(design: _Design, cov_boot, mu, sd, conf) -> pd.DataFrame:
    Z = (np.column_stack([design.X, design.y]) - mu) / sd
    if design.w is None:
        cov_hat = np.cov(Z, rowvar=False, bias=True)
    else:
        w = design.w
        m = w @ Z / w.sum()
        cov_hat = ((Z - m) * w[:, None]).T @ (Z - m) / w.sum()
    b_hat = _boot_coef(cov_hat, design, mu, sd)
    b_boot = _boot_coef(cov_boot, design, mu, sd)
    lo, hi = _pct(b_boot, conf)
    rows = []
    for name, (o, e), mem in zip(design.players, design.bounds, design.members):
        if e - o == 1 and design.columns[o] == mem[0]:
            rows.append({"driver": name, "coef": b_hat[o], "ci_low": lo[o], "ci_high": hi[o]})
    return pd.DataFrame(rows, columns=["driver", "coef", "ci_low", "ci_high"])


# ============================================================ quadrant


def quadrant(importance_boot: BootstrapImportance, performance, *, targets, better=None,
             performance_se=None) -> pd.DataFrame:
    """Importance–performance quadrant, with the probability of each quadrant.

    Parameters
    ----------
    importance_boot : BootstrapImportance
        From :func:`bootstrap_importance`.
    performance : dict or Series
        Current value of each driver's KPI (driver name → value), in the
        units of ``targets``.
    targets : dict
        Target value per driver (driver name → value). Only drivers with a
        target and a performance value are placed.
    better : dict, optional
        ``"higher"`` or ``"lower"`` per driver: the direction in which the
        KPI is better. Default: from the sign of the driver's full-model
        slope on the CX outcome (positive → higher is better); drivers without
        a slope (groups, categorical) default to ``"higher"``.
    performance_se : dict, optional
        Standard error of each performance value. With it, P(below target)
        is Φ(gap / se) instead of 0 or 1.

    Returns
    -------
    DataFrame
        One row per placed driver, sorted by ``p_concentrate`` (descending):

        * ``driver``; ``share`` with ``share_ci_low``, ``share_ci_high``
          (share of R²); ``equal_share`` — 1/p, the importance cross-hair;
        * ``performance``, ``target``, ``better``;
        * ``gap`` — shortfall from target in the better direction
          (positive = below target), in the KPI's units;
        * ``gap_pct`` — ``gap`` as % of ``|target|`` (comparable across KPIs;
          NaN when the target is 0);
        * ``p_high_importance`` — share of resamples in which the driver's
          share exceeds the average share 1/p;
        * ``p_below_target`` — probability the KPI is below target;
        * ``p_concentrate``, ``p_keep_up``, ``p_low_priority``,
          ``p_overkill`` — probability of each quadrant (they sum to 1);
        * ``quadrant`` — the most probable quadrant.

    Notes
    -----
    Importance–performance analysis (Martilla & James 1977) crosses
    importance with performance. Rather than a hard cut, each bootstrap
    resample places the driver: high importance when its share of R²
    exceeds 1/p (the equal split); below target when the KPI falls short of
    its target in the better direction. P(concentrate here) =
    P(high importance) × P(below target), treating the current performance
    as independent of the importance resampling.

    References
    ----------
    Martilla, J. A., & James, J. C. (1977). Importance-performance
    analysis. *Journal of Marketing* 41(1), 77–79.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame(rng.normal(size=(500, 3)), columns=["fcr", "asa", "hold"])
    >>> df["csat"] = 0.6 * df["fcr"] - 0.3 * df["asa"] + rng.normal(size=500)
    >>> bi = bootstrap_importance(df, outcome="csat", drivers=["fcr", "asa", "hold"], n_boot=200)
    >>> q = quadrant(bi, {"fcr": -0.2, "asa": 0.1, "hold": 0.0}, targets={"fcr": 0, "asa": 0, "hold": 0})
    >>> q[["driver", "better", "quadrant", "p_concentrate"]]
      driver  better           quadrant  p_concentrate
    0    fcr  higher   concentrate here            1.0
    1    asa   lower       low priority            0.0
    2   hold  higher  possible overkill            0.0
    """
    if not isinstance(importance_boot, BootstrapImportance):
        raise TypeError("importance_boot must be the result of bootstrap_importance()")
    perf = pd.Series(performance, dtype=float)
    targets = pd.Series(targets, dtype=float)
    reps = importance_boot.replicates
    unknown = [d for d in list(targets.index) + list(perf.index) if d not in reps.columns]
    if unknown:
        raise ValueError(f"driver(s) {sorted(set(unknown))} not in the bootstrap result "
                         f"(drivers: {list(reps.columns)})")
    placed = [d for d in reps.columns if d in targets.index and d in perf.index]
    if not placed:
        raise ValueError("no driver has both a performance value and a target")
    better = dict(better or {})
    coef = importance_boot.coef.set_index("driver")["coef"]
    for d in placed:
        if d not in better:
            better[d] = "lower" if d in coef.index and coef[d] < 0 else "higher"
        check_option(f"better[{d!r}]", better[d], ("higher", "lower"))
    imp = reps.to_numpy()
    share_b = imp / imp.sum(axis=1, keepdims=True)
    high = share_b > 1.0 / imp.shape[1]
    tab = importance_boot.importance.set_index("driver")
    se = pd.Series(performance_se or {}, dtype=float)
    rows = []
    from scipy.stats import norm

    for d in placed:
        j = list(reps.columns).index(d)
        sign = 1.0 if better[d] == "higher" else -1.0
        gap = sign * (targets[d] - perf[d])  # > 0: short of target
        if d in se.index and se[d] > 0:
            p_below = float(norm.cdf(gap / se[d]))
        else:
            p_below = float(gap > 0)
        p_high = float(high[:, j].mean())
        rows.append({
            "driver": d,
            "share": tab.loc[d, "share"],
            "share_ci_low": tab.loc[d, "share_ci_low"],
            "share_ci_high": tab.loc[d, "share_ci_high"],
            "equal_share": 1.0 / imp.shape[1],
            "performance": perf[d],
            "target": targets[d],
            "better": better[d],
            "gap": gap,
            "gap_pct": 100.0 * gap / abs(targets[d]) if targets[d] != 0 else np.nan,
            "p_high_importance": p_high,
            "p_below_target": p_below,
            "p_concentrate": p_high * p_below,
            "p_keep_up": p_high * (1 - p_below),
            "p_low_priority": (1 - p_high) * p_below,
            "p_overkill": (1 - p_high) * (1 - p_below),
        })
    out = pd.DataFrame(rows)
    probs = out[["p_concentrate", "p_keep_up", "p_low_priority", "p_overkill"]].to_numpy()
    out["quadrant"] = [QUADRANTS[k] for k in probs.argmax(axis=1)]
    return out.sort_values(["p_concentrate", "driver"], ascending=[False, True],
                           kind="mergesort").reset_index(drop=True)


# ============================================================ what-if


def _coef_boot(frame, *, outcome, drivers, groups, weights, n_boot, seed):
    design = _prepare(frame, outcome=outcome, drivers=drivers, groups=groups, weights=weights,
                      max_players=10**6)
    rng = np.random.default_rng(seed)
    cov, mu, sd = _boot_moments(design, n_boot, rng)
    cov = cov[_valid_resamples(cov)]
    Z = (np.column_stack([design.X, design.y]) - mu) / sd
    if design.w is None:
        cov_hat = np.cov(Z, rowvar=False, bias=True)
    else:
        w = design.w
        m = w @ Z / w.sum()
        cov_hat = ((Z - m) * w[:, None]).T @ (Z - m) / w.sum()
    return design, _boot_coef(cov_hat, design, mu, sd), _boot_coef(cov, design, mu, sd)


def what_if(frame: pd.DataFrame, *, outcome: str, drivers, changes: dict, groups=None, weights=None,
            n_boot: int = 1000, seed: int = 0, conf: float = 0.95) -> pd.DataFrame:
    """Predicted CX change for a stated change in KPIs, with a bootstrap CI.

    Parameters
    ----------
    frame, outcome, drivers, groups, weights
        As in :func:`relative_importance`; the linear model of ``outcome``
        on all drivers is the one whose slopes are used.
    changes : dict
        Column → change in the column's units, e.g.
        ``{"fcr_pct": +5, "asa_s": -10}``. Each must be a numeric driver
        column.
    n_boot, seed, conf
        Bootstrap resamples, seed and confidence level.

    Returns
    -------
    DataFrame
        One row per changed driver plus a final ``"total"`` row:

        * ``driver`` — column changed (``"total"`` for the sum);
        * ``change`` — stated change (NaN on the total row);
        * ``coef``, ``coef_ci_low``, ``coef_ci_high`` — slope (outcome
          units per driver unit, other drivers held fixed) and its CI;
        * ``effect`` — predicted change of the outcome, ``coef × change``;
        * ``ci_low``, ``ci_high`` — its bootstrap percentile CI;
        * ``p_improves`` — share of resamples where the effect is > 0.

    Notes
    -----
    Δŷ = Σ_k β_k Δx_k with β the OLS slopes of the full model. The CI of
    the total uses the joint bootstrap distribution of the slopes (the same
    resamples for every driver), so correlated estimates are accounted
    for. This is an association under the model; it is causal only if the
    drivers' confounders are in the model (step 6 tests it in real life).

    References
    ----------
    Efron, B., & Tibshirani, R. J. (1993). *An Introduction to the
    Bootstrap*. Chapman & Hall.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"fcr_pct": rng.uniform(60, 80, 400), "asa_s": rng.uniform(10, 60, 400)})
    >>> df["csat"] = 40 + 0.5 * df["fcr_pct"] - 0.1 * df["asa_s"] + rng.normal(0, 2, 400)
    >>> wi = what_if(df, outcome="csat", drivers=["fcr_pct", "asa_s"],
    ...              changes={"fcr_pct": 5, "asa_s": -10}, n_boot=200)
    >>> wi[["driver", "change", "effect", "ci_low", "ci_high"]].round(1)
        driver  change  effect  ci_low  ci_high
    0  fcr_pct     5.0     2.5     2.3      2.6
    1    asa_s   -10.0     1.1     1.0      1.2
    2    total     NaN     3.6     3.4      3.7
    """
    if not isinstance(changes, dict) or not changes:
        raise ValueError("changes must be a non-empty dict of column -> change, e.g. {'fcr_pct': 5}")
    design, b_hat, b_boot = _coef_boot(frame, outcome=outcome, drivers=drivers, groups=groups,
                                       weights=weights, n_boot=n_boot, seed=seed)
    cols = list(design.columns)
    bad = [c for c in changes if c not in cols]
    if bad:
        raise ValueError(f"changes name column(s) {bad} that are not numeric driver columns "
                         f"(driver columns: {cols})")
    rows = []
    total_b = np.zeros(len(b_boot))
    total = 0.0
    for c, delta in changes.items():
        j = cols.index(c)
        delta = float(delta)
        eff_b = b_boot[:, j] * delta
        total_b += eff_b
        total += b_hat[j] * delta
        clo, chi = _pct(b_boot[:, j], conf)
        lo, hi = _pct(eff_b, conf)
        rows.append({"driver": c, "change": delta, "coef": b_hat[j], "coef_ci_low": clo, "coef_ci_high": chi,
                     "effect": b_hat[j] * delta, "ci_low": lo, "ci_high": hi,
                     "p_improves": float((eff_b > 0).mean())})
    lo, hi = _pct(total_b, conf)
    rows.append({"driver": "total", "change": np.nan, "coef": np.nan, "coef_ci_low": np.nan,
                 "coef_ci_high": np.nan, "effect": total, "ci_low": lo, "ci_high": hi,
                 "p_improves": float((total_b > 0).mean())})
    return pd.DataFrame(rows)


def agents_for_service_level(frame: pd.DataFrame, *, outcome: str, drivers, load_erlangs: float,
                             aht_s: float, service_level: str = "service_level_pct", t_s: float = 20.0,
                             agents: int | None = None, added=(1, 2, 3), groups=None, weights=None,
                             n_boot: int = 1000, seed: int = 0, conf: float = 0.95) -> pd.DataFrame:
    """CX points per added agent: Erlang C service level × the CX slope of service level.

    Parameters
    ----------
    frame, outcome, drivers, groups, weights, n_boot, seed, conf
        As in :func:`what_if`; ``drivers`` must include ``service_level``.
    load_erlangs : float
        Offered load A = arrival rate × AHT of the interval considered.
    aht_s : float
        Average handle time (seconds).
    service_level : str
        The service-level driver column, in percent (0–100).
    t_s : float
        Service-level threshold T (seconds).
    agents : int, optional
        Current agents on the interval. Default: the fewest agents whose
        Erlang C service level reaches the frame's mean service level.
    added : sequence of int
        Agents added (negative values remove agents).

    Returns
    -------
    DataFrame
        One row per entry of ``added``:

        * ``added_agents``, ``agents`` (after the change);
        * ``service_level_pct`` — Erlang C service level with that staffing;
        * ``sl_change_pts`` — change from current staffing (points);
        * ``cx_change`` with ``ci_low``, ``ci_high`` — predicted outcome change
          (slope of ``service_level`` × ``sl_change_pts``) and its CI;
        * ``cx_per_agent`` — ``cx_change / added_agents``.

    Notes
    -----
    SL(N) = 1 − C(N, A) · exp(−(N − A) T / AHT) with C the Erlang C
    probability of waiting (:mod:`cxlab.erlang`); ΔCX = β_SL · 100 ·
    (SL(N + k) − SL(N)), β_SL from :func:`what_if`'s model and resamples.
    Erlang C ignores abandonment, so it overstates the service level when
    abandonment is material.

    References
    ----------
    Erlang, A. K. (1917). Solution of some problems in the theory of
    probabilities of significance in automatic telephone exchanges.
    *Elektroteknikeren* 13.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"service_level_pct": rng.uniform(60, 95, 400)})
    >>> df["csat"] = 50 + 0.2 * df["service_level_pct"] + rng.normal(0, 2, 400)
    >>> t = agents_for_service_level(df, outcome="csat", drivers=["service_level_pct"],
    ...                              load_erlangs=10, aht_s=180, agents=13, added=(1,), n_boot=200)
    >>> t[["agents", "service_level_pct", "sl_change_pts"]].round(1)
       agents  service_level_pct  sl_change_pts
    0      14               88.8            9.3
    """
    from ..kpis import erlang  # lazy: erlang is optional for the rest of this module

    if service_level not in _as_list(drivers, "drivers"):
        raise ValueError(f"drivers must include the service-level column {service_level!r}")
    design, b_hat, b_boot = _coef_boot(frame, outcome=outcome, drivers=drivers, groups=groups,
                                       weights=weights, n_boot=n_boot, seed=seed)
    j = list(design.columns).index(service_level)

    def sl_pct(n):
        return 100.0 * float(erlang.service_level(int(n), float(load_erlangs), aht_s=aht_s, t_s=t_s))

    if agents is None:
        col = design.X[:, j]
        current = float(col.mean()) if design.w is None else float(design.w @ col / design.w.sum())
        agents = int(erlang.agents_needed(float(load_erlangs), aht_s=aht_s, t_s=t_s,
                                          target_sl=min(current / 100.0, 0.999)))
    base = sl_pct(agents)
    rows = []
    for k in _as_list(added, "added"):
        k = int(k)
        n = agents + k
        if n <= load_erlangs:
            raise ValueError(f"{n} agents cannot carry a load of {load_erlangs} Erlangs (need N > A)")
        d_sl = sl_pct(n) - base
        eff_b = b_boot[:, j] * d_sl
        lo, hi = _pct(eff_b, conf)
        eff = b_hat[j] * d_sl
        rows.append({"added_agents": k, "agents": n, "service_level_pct": sl_pct(n), "sl_change_pts": d_sl,
                     "cx_change": eff, "ci_low": lo, "ci_high": hi,
                     "cx_per_agent": eff / k if k else np.nan})
    return pd.DataFrame(rows)


# ============================================================ focus list


def _fmt_ci(v, lo, hi, pct=False):
    if pct:
        return f"{100 * v:.0f}% [{100 * lo:.0f}, {100 * hi:.0f}]"
    return f"{v:+.2f} [{lo:+.2f}, {hi:+.2f}]"


def focus_list(importance_boot: BootstrapImportance, quadrant_table: pd.DataFrame | None = None,
               what_if_table: pd.DataFrame | None = None, *, controls=(), max_items: int = 3,
               min_share: float = 0.05, unit: str = "CX points") -> pd.DataFrame:
    """Up to ``max_items`` components to focus on, each with the reason, from the step-5 results.

    Parameters
    ----------
    importance_boot : BootstrapImportance
        From :func:`bootstrap_importance`.
    quadrant_table : DataFrame, optional
        From :func:`quadrant`; without it every driver counts as short of target.
    what_if_table : DataFrame, optional
        From :func:`what_if`; adds each focus driver's predicted effect.
    controls : sequence of str
        Drivers kept in the model to adjust for them but not levers (e.g.
        ``contact_reason``); never in the list.
    max_items : int
        Longest list.
    min_share : float
        Smallest lower CI bound of the share of R² for a driver that is not
        clearly in the "concentrate here" quadrant.
    unit : str
        Unit of the outcome, used in the reasons.

    Returns
    -------
    DataFrame
        One row per driver in the model, focus drivers first:

        * ``driver``; ``focus`` (bool); ``priority`` (1 = first; 0 when not
          in the list);
        * ``share``, ``share_ci_low``, ``share_ci_high``, ``rank_ci_low``,
          ``rank_ci_high``, ``p_rank1`` — from the bootstrap;
        * ``slope_ci_excludes_zero`` — the full-model slope's CI excludes 0
          (NaN for groups and categorical drivers);
        * ``p_concentrate``, ``p_below_target``, ``performance``,
          ``target`` — from the quadrant (NaN without it);
        * ``effect``, ``effect_ci_low``, ``effect_ci_high`` — predicted CX
          change of the stated what-if change (NaN when not stated);
        * ``reason`` — one computed sentence: why it is (or is not) in the
          list.

    Notes
    -----
    A driver is eligible when it is not a control and, if it has a slope,
    the slope's bootstrap CI excludes 0 (a driver whose importance is
    borrowed from a correlated driver — e.g. handle time from contact
    reason — has a slope CI covering 0 once the other is in the model).
    Eligible drivers enter in this order: P(concentrate here) ≥ 0.5, by that
    probability; then drivers short of target (P ≥ 0.5) whose share's lower
    bound is at least ``min_share``, by share.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame(rng.normal(size=(500, 3)), columns=["fcr", "asa", "hold"])
    >>> df["csat"] = 0.6 * df["fcr"] - 0.3 * df["asa"] + rng.normal(size=500)
    >>> bi = bootstrap_importance(df, outcome="csat", drivers=["fcr", "asa", "hold"], n_boot=200)
    >>> q = quadrant(bi, {"fcr": -0.2, "asa": 0.1, "hold": 0.0}, targets={"fcr": 0, "asa": 0, "hold": 0})
    >>> focus_list(bi, q)[["driver", "focus", "priority"]]
      driver  focus  priority
    0    fcr   True         1
    1    asa   True         2
    2   hold  False         0
    """
    if not isinstance(importance_boot, BootstrapImportance):
        raise TypeError("importance_boot must be the result of bootstrap_importance()")
    imp = importance_boot.importance.set_index("driver")
    coef = importance_boot.coef.set_index("driver")
    q = quadrant_table.set_index("driver") if quadrant_table is not None else None
    wi = what_if_table.set_index("driver") if what_if_table is not None else None
    controls = set(_as_list(controls, "controls"))
    rows = []
    for d in imp.index:
        r = imp.loc[d]
        slope_ok = np.nan
        if d in coef.index:
            slope_ok = bool(coef.loc[d, "ci_low"] > 0 or coef.loc[d, "ci_high"] < 0)
        pc = float(q.loc[d, "p_concentrate"]) if q is not None and d in q.index else np.nan
        pb = float(q.loc[d, "p_below_target"]) if q is not None and d in q.index else (np.nan if q is not None
                                                                                      else 1.0)
        perf = float(q.loc[d, "performance"]) if q is not None and d in q.index else np.nan
        target = float(q.loc[d, "target"]) if q is not None and d in q.index else np.nan
        eff = wi.loc[d, ["effect", "ci_low", "ci_high", "change"]] if wi is not None and d in wi.index else None
        rows.append({
            "driver": d, "share": r["share"], "share_ci_low": r["share_ci_low"],
            "share_ci_high": r["share_ci_high"], "rank_ci_low": int(r["rank_ci_low"]),
            "rank_ci_high": int(r["rank_ci_high"]), "p_rank1": r["p_rank1"], "slope_ci_excludes_zero": slope_ok,
            "p_concentrate": pc, "p_below_target": pb, "performance": perf, "target": target,
            "change": np.nan if eff is None else float(eff["change"]),
            "effect": np.nan if eff is None else float(eff["effect"]),
            "effect_ci_low": np.nan if eff is None else float(eff["ci_low"]),
            "effect_ci_high": np.nan if eff is None else float(eff["ci_high"]),
        })
    t = pd.DataFrame(rows)
    eligible = ~t["driver"].isin(controls) & (t["slope_ci_excludes_zero"].astype(object) != False)  # noqa: E712
    first = t[eligible & (t["p_concentrate"].fillna(0) >= 0.5)].sort_values(
        ["p_concentrate", "share"], ascending=False, kind="mergesort")
    second = t[eligible & ~t["driver"].isin(first["driver"]) & (t["p_below_target"].fillna(0) >= 0.5)
               & (t["share_ci_low"] >= min_share)].sort_values("share", ascending=False, kind="mergesort")
    chosen = list(pd.concat([first, second])["driver"])[:max_items]
    t["focus"] = t["driver"].isin(chosen)
    t["priority"] = [chosen.index(d) + 1 if d in chosen else 0 for d in t["driver"]]

    def reason(r) -> str:
        rank = f"#{r.rank_ci_low}" if r.rank_ci_low == r.rank_ci_high else f"#{r.rank_ci_low}–{r.rank_ci_high}"
        base = (f"{r.driver} carries {_fmt_ci(r.share, r.share_ci_low, r.share_ci_high, pct=True)} of the "
                f"explained variance (rank {rank}, P(rank 1) = {r.p_rank1:.2f})")
        if r.driver in controls:
            return base + "; it is a control (adjusted for, not a lever)."
        if r.slope_ci_excludes_zero is False:
            return base + ", but its slope's CI covers 0 once the other drivers are held fixed: its importance " \
                          "is borrowed from correlated drivers, not a lever of its own."
        parts = [base]
        if not np.isnan(r.performance):
            parts.append(f"now {r.performance:.3g} vs target {r.target:.3g} (P(short of target) = "
                         f"{r.p_below_target:.2f}")
            if r.p_concentrate >= 0.5:
                parts[-1] += f", P(important and short of target) = {r.p_concentrate:.2f}"
            parts[-1] += ")"
        elif q is not None:
            parts.append("no target given")
        if not np.isnan(r.effect):
            parts.append(f"a change of {r.change:+g} predicts {_fmt_ci(r.effect, r.effect_ci_low, r.effect_ci_high)} "
                         f"{unit}")
        if r.focus:
            return "; ".join(parts) + "."
        if q is not None and (np.isnan(r.p_below_target) or r.p_below_target < 0.5):
            why = "at or better than its target" if not np.isnan(r.p_below_target) else "no target to act on"
        elif r.share_ci_low < min_share:
            why = f"its share is not reliably above {min_share:.0%}"
        else:
            why = f"outranked by the drivers above (list capped at {max_items})"
        return "; ".join(parts) + f" — not in the list: {why}."

    t["reason"] = [reason(r) for r in t.itertuples()]
    t["_order"] = [p if p else max_items + 1 + i for i, p in enumerate(t["priority"])]
    t = t.sort_values("_order", kind="mergesort").drop(columns="_order").reset_index(drop=True)
    cols = ["driver", "focus", "priority", "share", "share_ci_low", "share_ci_high", "rank_ci_low", "rank_ci_high",
            "p_rank1", "slope_ci_excludes_zero", "p_concentrate", "p_below_target", "performance", "target",
            "change", "effect",
            "effect_ci_low", "effect_ci_high", "reason"]
    return t[cols]
