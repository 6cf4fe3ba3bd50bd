"""Private toolbox shared by every cxlab package (one copy of each helper).

Nothing here is public API; packages import these names, notebooks do not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def isin(values: pd.Series, pool) -> np.ndarray:
    """``values.isin(pool)`` as a bool array; hashes through pyarrow (pandas 3 string isin is slow)."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = pa.array(values)
        ref = pa.array(pd.Series(pool).dropna()).unique()
        if arr.type != ref.type:
            ref = ref.cast(arr.type)
        return pc.is_in(arr, value_set=ref).fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
    except Exception:  # mixed or exotic types: fall back to pandas
        return values.isin(pd.Series(pool).dropna()).to_numpy(bool)


def as_list(value, name: str = "value", *, strings: bool = False) -> list:
    """``None`` → ``[]``, a string → ``[value]``, any other iterable → ``list(value)``.

    With ``strings=True`` every element must be a ``str`` (column names).
    """
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    try:
        out = list(value)
    except TypeError:
        raise TypeError(f"{name} must be a column name or a list of column names; got {value!r}") from None
    if strings and not all(isinstance(v, str) for v in out):
        raise TypeError(f"{name} must hold column names (str); got {out!r}")
    return out


def require_columns(frame, columns, *, what: str = "frame", table: str | None = None,
                    step: str | None = None) -> None:
    """Raise :class:`cxlab.errors.DataError` naming every column of ``columns`` missing from ``frame``.

    The message names what was being checked (``what``), the table and the
    step when given, a "did you mean" hint for the first missing column, and
    the columns the frame does have.
    """
    from .errors import DataError, suggest

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame; got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        where = "".join([f" (table {table!r})" if table else "", f" (step {step})" if step else ""])
        raise DataError(
            f"{what} column(s) {missing} not in the frame{where}{suggest(str(missing[0]), frame.columns)}; "
            f"columns are {list(frame.columns)}"
        )


def local_time_keys(ts: pd.Series, keys, timezone: str) -> dict[str, pd.Series]:
    """Local calendar day / week (Monday start) / month start of UTC (or naive-UTC) timestamps, tz-naive."""
    ts = pd.to_datetime(ts)
    if ts.dt.tz is None:
        ts = ts.dt.tz_localize("UTC")
    local = ts.dt.tz_convert(timezone).dt.tz_localize(None).dt.normalize()
    out = {}
    for key in keys:
        if key == "day":
            out[key] = local
        elif key == "week":
            out[key] = local - pd.to_timedelta(local.dt.day_of_week, unit="D")
        elif key == "month":
            out[key] = local.dt.to_period("M").dt.to_timestamp()
    return out


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``path`` via a temporary file in the same folder, fsync, then rename.

    Readers never see half a file; on any error (disk full, interrupt) the
    temporary file is removed and ``path`` keeps its previous content.
    """
    import os
    import tempfile
    from pathlib import Path

    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; reports are shared files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path, text: str) -> None:
    """:func:`atomic_write_bytes` of UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, data) -> None:
    """:func:`atomic_write_text` of ``json.dumps(data, indent=2)`` plus a newline."""
    import json

    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def sha256_file(path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def logit_fit(X: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, *, beta0=None, max_iter: int = 60,
              step_tol: float = 1e-8, ll_tol: float | None = 1e-11, eta_max: float | None = 30.0):
    """Weighted maximum-likelihood logistic regression by Newton–Raphson: ``(loglik, beta, ok)``.

    Parameters
    ----------
    X : ndarray, shape (n, k)
        Design matrix (include a column of ones for an intercept).
    y : ndarray, shape (n,)
        0/1 outcome.
    w : ndarray, shape (n,), optional
        Frequency weights (a bootstrap resample's counts); default all 1.
    beta0 : array-like, shape (k,), optional
        Starting values; default zeros.
    max_iter : int
        Most Newton steps.
    step_tol : float
        Stop once the largest absolute Newton step is below ``step_tol`` ...
    ll_tol : float or None
        ... and the log-likelihood moved by less than ``ll_tol · (1 + |ℓ|)``
        since the previous step (``None``: the step rule alone).
    eta_max : float or None
        Give up (``ok=False``) when a linear predictor exceeds ``eta_max`` in
        absolute value — (quasi-)complete separation; ``None``: never.

    Returns
    -------
    loglik : float
        Weighted log-likelihood at the returned ``beta``.
    beta : ndarray, shape (k,)
        Coefficients.
    ok : bool
        False when the fit stopped on a singular Hessian or on ``eta_max``
        (``loglik`` and ``beta`` are then those of the last iterate).

    Notes
    -----
    With η = Xβ and p = 1 / (1 + e^(−η)), the log-likelihood is
    ℓ(β) = Σ_i w_i (y_i η_i − log(1 + e^(η_i))); each step solves
    H δ = g with score g = X' W (y − p) and Hessian H = X' diag(w p (1 − p)) X,
    then β ← β + δ. Integer weights give the fit of the data with each row
    repeated w_i times.

    References
    ----------
    McCullagh, P., & Nelder, J. A. (1989). *Generalized Linear Models*, 2nd ed.
    Chapman & Hall, §4.4.

    Examples
    --------
    A saturated 2 × 2 table: the slope is the log odds ratio log((10/90) / (15/35)).

    >>> x = np.r_[np.zeros(50), np.ones(100)]
    >>> y = np.r_[np.arange(50) < 15, np.arange(100) < 10].astype(float)
    >>> ll, beta, ok = logit_fit(np.column_stack([np.ones(150), x]), y)
    >>> [round(float(b), 6) for b in beta], ok
    ([-0.847298, -1.349927], True)
    """
    n, k = X.shape
    w = np.ones(n) if w is None else w
    beta = np.zeros(k) if beta0 is None else np.array(beta0, dtype=float)
    ll_old = -np.inf
    for _ in range(max_iter):
        eta = X @ beta
        p = 1.0 / (1.0 + np.exp(-eta))
        ll = float(w @ (y * eta - np.logaddexp(0.0, eta)))
        if eta_max is not None and np.abs(eta).max() > eta_max:
            return ll, beta, False
        grad = X.T @ (w * (y - p))
        H = (X * (w * p * (1 - p))[:, None]).T @ X
        try:
            step = np.linalg.solve(H, grad)
        except np.linalg.LinAlgError:
            return ll, beta, False
        beta = beta + step
        if np.abs(step).max() < step_tol and (ll_tol is None or abs(ll - ll_old) < ll_tol * (1 + abs(ll))):
            break
        ll_old = ll
    eta = X @ beta
    return float(w @ (y * eta - np.logaddexp(0.0, eta))), beta, True


_FPMIN = 1e-300
_EPS = 1e-16


def upper_gamma_cf(s, x):
    """Continued fraction h with Gamma(s, x) = exp(-x) * x**s * h (modified Lentz; x > s + 1).

    References: Press et al., *Numerical Recipes*, 3rd ed., section 6.2.
    """
    import numpy as np

    b = x + 1.0 - s
    c = np.full_like(b, 1.0 / _FPMIN)
    d = 1.0 / b
    h = d.copy()
    for i in range(1, 100_000):
        an = -i * (i - s)
        b = b + 2.0
        d = an * d + b
        d = np.where(np.abs(d) < _FPMIN, _FPMIN, d)
        c = b + an / c
        c = np.where(np.abs(c) < _FPMIN, _FPMIN, c)
        d = 1.0 / d
        delta = d * c
        h = h * delta
        if np.all(np.abs(delta - 1.0) < _EPS * 4):
            break
    return h


def log_inv_erlang_b(n, a):
    """log(1 / B(n, a)) of Erlang B for n > 0, a > 0 (broadcast float arrays), in log space.

    ``1/B = Q(n+1, A) / Poisson(n; A)`` via ``gammaincc``/``gammaln`` when
    ``A < n + 2``, else the continued fraction :func:`upper_gamma_cf`.
    """
    import numpy as np
    from scipy.special import gammaincc, gammaln

    n, a = np.broadcast_arrays(n, a)
    out = np.empty(n.shape, dtype=float)
    low = a < n + 2.0
    if low.any():
        nl, al = n[low], a[low]
        out[low] = np.log(gammaincc(nl + 1.0, al)) + al - nl * np.log(al) + gammaln(nl + 1.0)
    if (~low).any():
        nh, ah = n[~low], a[~low]
        out[~low] = np.log(ah * upper_gamma_cf(nh + 1.0, ah))
    return out


def erlang_c(n, a):
    """Erlang C P(wait) of an M/M/n queue (arrays, broadcast; no input validation).

    ``1/C = 1 + (1 - A/n)(1/B - 1)`` with B from :func:`log_inv_erlang_b`;
    0 where ``a == 0`` and ``n > 0``, 1 where ``n <= a`` (also ``n = 0``).
    The one implementation behind :func:`cxlab.kpis.erlang_c` and the
    sample's staffing plan and queueing law.

    Examples
    --------
    >>> round(float(erlang_c(14, 10.0)), 4)  # textbook: 14 agents, 10 Erlangs
    0.1741
    """
    import numpy as np

    n, a = np.broadcast_arrays(np.asarray(n, dtype=float), np.asarray(a, dtype=float))
    out = np.ones(n.shape)
    out[(a == 0) & (n > 0)] = 0.0
    ok = (a > 0) & (n > a)
    if ok.any():
        nn, aa = n[ok], a[ok]
        with np.errstate(over="ignore"):
            inv_b = np.exp(log_inv_erlang_b(nn, aa))
            out[ok] = 1.0 / (1.0 + (1.0 - aa / nn) * (inv_b - 1.0))
    return out[()] if out.ndim == 0 else out
