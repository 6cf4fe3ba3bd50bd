"""Step 5 shared machinery: the numeric design, its moments and the multinomial bootstrap.

Every step-5 analysis (relative importance, what-ifs, staffing, the loyalty
value of a change) starts from the same validated design — drivers expanded
into contiguous column blocks, one *player* each — and resamples it the same
way: each bootstrap resample is a vector of multinomial counts, so the
covariance matrices of all resamples come from a few matrix products
(Efron & Tibshirani 1993, ch. 6). The names here are shared by the
submodules of :mod:`cxlab.focus`; notebooks use the package's public API.

References
----------
Efron, B., & Tibshirani, R. J. (1993). *An Introduction to the Bootstrap*.
Chapman & Hall.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._utils import as_list, require_columns

_COLLINEAR_TOL = 1e-10  # smallest eigenvalue of the drivers' correlation matrix
_BOOT_CHUNK = 50  # resamples per batch (fixed, so results do not depend on the machine)


@dataclass(frozen=True)
class Design:
    """Numeric design (from :func:`prepare`): columns of X grouped into players, y last."""

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

def prepare(frame, *, outcome, drivers, groups=None, weights=None, max_players: int) -> Design:
    """Validate the inputs and build the numeric design.

    A *player* is a numeric or bool column, a categorical column (indicators of
    every level but the most frequent, entering and leaving together) or a named
    group of columns; ``max_players`` caps their number. Raises ``ValueError``
    (:class:`cxlab.errors.DataError` for missing columns) naming the columns at
    fault: NaNs, constant or collinear columns, n <= p + 1.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame; got {type(frame).__name__}")
    if not isinstance(outcome, str):
        raise TypeError(f"outcome must be a column name; got {outcome!r}")
    drivers = as_list(drivers, "drivers")
    groups = dict(groups or {})
    for gname, cols in groups.items():
        cols = as_list(cols, f"groups[{gname!r}]")
        if not cols:
            raise ValueError(f"group {gname!r} has no columns")
        groups[gname] = cols
    require_columns(frame, [outcome], what="outcome")
    in_group = {}
    for gname, cols in groups.items():
        require_columns(frame, cols, what=f"group {gname!r}")
        for c in cols:
            if c in in_group:
                raise ValueError(f"column {c!r} is in two groups: {in_group[c]!r} and {gname!r}")
            in_group[c] = gname
    require_columns(frame, [d for d in drivers if d not in groups], what="driver")
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
            require_columns(frame, [weights], what="weights")
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
    design = Design(X=X, y=y, w=wv, columns=tuple(columns), players=tuple(names), bounds=tuple(bounds),
                     members=tuple(members), outcome=outcome)
    _check_collinear(corr(moments(design)), design)
    return design


def _wstd(A, w):
    if w is None:
        return A.std(axis=0)
    m = (w @ A) / w.sum()
    return np.sqrt((w @ (A - m) ** 2) / w.sum())


def moments(design: Design) -> np.ndarray:
    """Covariance matrix of [X, y] (weighted when the design has weights)."""
    A = np.column_stack([design.X, design.y])
    w = design.w
    if w is None:
        Ac = A - A.mean(axis=0)
        return Ac.T @ Ac / len(A)
    m = (w @ A) / w.sum()
    Ac = A - m
    return (Ac * w[:, None]).T @ Ac / w.sum()


def corr(cov: np.ndarray) -> np.ndarray:
    """Correlation matrices from covariance matrices, batched over leading axes."""
    s = np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1))
    return cov / s[..., :, None] / s[..., None, :]


def _check_collinear(R: np.ndarray, design: Design) -> None:
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

def boot_moments(design: Design, n_boot: int, rng: np.random.Generator):
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


def valid_resamples(cov: np.ndarray) -> np.ndarray:
    """Mask of the resamples whose drivers are neither constant nor collinear."""
    diag = np.diagonal(cov, axis1=-2, axis2=-1)
    ok = (diag > 1e-12).all(axis=1)
    R = corr(np.where(ok[:, None, None], cov, np.eye(cov.shape[-1])))
    lam = np.linalg.eigvalsh(R[:, :-1, :-1])
    return ok & (lam[:, 0] > _COLLINEAR_TOL)


def quantile_ci(x, conf, axis=0):
    """Percentile interval ``(lower, upper)`` at level ``conf`` along ``axis`` (``np.quantile``, linear)."""
    a = (1 - conf) / 2
    return np.quantile(x, a, axis=axis), np.quantile(x, 1 - a, axis=axis)

def boot_coef(cov: np.ndarray, sd) -> np.ndarray:
    """OLS slopes in original units from standardized-column covariances (..., D, D), outcome last."""
    Sxx = cov[..., :-1, :-1]
    Sxy = cov[..., :-1, -1:]
    bz = np.linalg.solve(Sxx, Sxy)[..., 0]
    return bz * sd[-1] / sd[:-1]


def standardized_cov(design: Design, mu, sd) -> np.ndarray:
    """Full-sample covariance of [X, y] standardized with ``mu``, ``sd`` (weighted when the design is)."""
    Z = (np.column_stack([design.X, design.y]) - mu) / sd
    if design.w is None:
        return np.cov(Z, rowvar=False, bias=True)
    w = design.w
    m = w @ Z / w.sum()
    return ((Z - m) * w[:, None]).T @ (Z - m) / w.sum()


def coef_boot(frame, *, outcome, drivers, groups, weights, n_boot, seed):
    """Full-model OLS slopes and their bootstrap replicates: ``(design, b_hat, b_boot)``.

    ``b_hat`` is ``(d,)`` and ``b_boot`` ``(B, d)`` over the design's columns
    (``design.columns``), outcome units per column unit; ``B`` counts the
    resamples (of ``n_boot``) whose drivers are neither constant nor collinear.
    Resamples are drawn by :func:`boot_moments` with ``np.random.default_rng(seed)``.
    """
    design = prepare(frame, outcome=outcome, drivers=drivers, groups=groups, weights=weights,
                     max_players=10**6)
    rng = np.random.default_rng(seed)
    cov, mu, sd = boot_moments(design, n_boot, rng)
    cov = cov[valid_resamples(cov)]
    return design, boot_coef(standardized_cov(design, mu, sd), sd), boot_coef(cov, sd)


def change_columns(design: Design, changes: dict) -> list[str]:
    """The design's columns, after checking that every key of ``changes`` is one of them (ValueError if not)."""
    cols = list(design.columns)
    bad = [c for c in changes if c not in cols]
    if bad:
        raise ValueError(f"changes name column(s) {bad} that are not numeric driver columns (driver columns: {cols})")
    return cols
