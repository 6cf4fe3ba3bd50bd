"""Step 4 — non-linear levers: response curves with a knee (segmented / hinge regression).

A linear slope "per second of wait" misstates a lever whose effect only
starts after some threshold. :func:`response_curve` fits, at the contact
grain, the segmented (hinge) regression

.. math:: y_i = a + b_1 x_i + b_2 (x_i - k)_+ + z_i^\\top\\gamma + e_i

of a CX outcome ``y`` (top-box indicator or score) on a continuous KPI ``x``
(wait, handle, hold seconds), estimates the knee ``k`` by profile likelihood
over a grid, gives its interval and the slopes below (``b1``) and above
(``b1 + b2``) the knee by a bootstrap over clusters (days by default) that
re-estimates the knee in every replicate, and compares the hinge with the
straight line ``y = a + b x + z'g`` (AIC, the knee counted as a parameter).
The sentence names a knee only when it is real (a sup-LR test with a wild
cluster bootstrap reference rejects the line); otherwise it says the
relation is linear. ``shape="log"`` makes the segment after the knee
concave (:math:`\\tau \\log(1 + (x-k)_+/\\tau)`, :math:`\\tau` profiled with
the knee) and ``flat_below=True`` fixes the slope below the knee at 0 (the
"threshold" reading); both locate a knee much better when the data follow
that shape (``docs/alignment.md``). :func:`curve_what_if` turns the curve into the predicted
change of CX for a change of the KPI, averaged over the contacts' own values
(−10 s of wait is worth more above the knee than below it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._utils import as_list, require_columns
from ..errors import DataError, NotEnoughData
from ..fmt import label as _fmt_label
from ._common import numeric

__all__ = ["ResponseCurve", "hinge_design", "response_curve", "curve_table", "curve_what_if", "CURVE_KPIS"]

#: contact-grain KPI column -> words for the sentence
CURVE_KPIS: dict[str, str] = {"wait_s": "waiting", "handle_s": "handle time", "hold_s": "hold",
                              "talk_s": "talk time"}

#: CX outcome columns of the contact frame -> words for the sentence (others: :func:`cxlab.fmt.label`)
_CX_WORDS: dict[str, str] = {"cx_top2": "the CX top-box share", "cx_value": "the CX score"}


#: CX columns whose :func:`cxlab.fmt.label` names the outcome (other names, e.g. ``score``, carry
#: a result-header label there and are used as given)
_CX_LABELLED = frozenset({"csat", "nps", "ces", "csat_top2", "csat_mean", "nps_points", "ces_mean"})


def _cx_words(cx: str) -> str:
    """Words for a CX column in a sentence: ``cx_top2`` -> "the CX top-box share", ``csat`` -> "CSAT"."""
    if cx in _CX_WORDS:
        return _CX_WORDS[cx]
    return _fmt_label(cx) if cx in _CX_LABELLED else str(cx)


def _segment(x: np.ndarray, knee: float, scale: float = np.inf) -> np.ndarray:
    """The post-knee basis column: ``(x - k)+`` (``scale`` infinite) or ``scale * log1p((x - k)+ / scale)``.

    Both have slope 1 just above the knee, so ``b2`` is the slope change at the knee in either shape.
    """
    u = np.maximum(0.0, np.asarray(x, dtype=float) - float(knee))
    if not np.isfinite(scale):
        return u
    return float(scale) * np.log1p(u / float(scale))


def hinge_design(x, knee: float, covariates=None, scale: float = np.inf) -> np.ndarray:
    """Design matrix ``[1, x, h(x), covariates]`` of the segmented regression at a fixed knee.

    Parameters
    ----------
    x : array-like
        The KPI (1-d).
    knee : float
        The knee ``k``.
    covariates : array-like, optional
        Extra columns (n x q).
    scale : float
        Curvature scale :math:`\\tau` of the segment after the knee; infinite
        (default) gives the straight hinge :math:`(x - k)_+`.

    Returns
    -------
    ndarray
        n x (3 + q).

    Notes
    -----
    With :math:`h_k(x) = \\max(0, x - k)` the fitted curve is
    :math:`b_1 x + b_2 h_k(x)`: slope :math:`b_1` below the knee,
    :math:`b_1 + b_2` above, continuous at :math:`k`. With a finite scale the
    post-knee column is :math:`\\tau \\log(1 + h_k(x)/\\tau)` (concave: the
    slope change is :math:`b_2` just above the knee and fades as
    :math:`b_2 / (1 + h_k(x)/\\tau)`); :math:`\\tau \\to \\infty` gives the hinge.

    Examples
    --------
    >>> hinge_design([0.0, 10.0, 40.0], 30.0)
    array([[ 1.,  0.,  0.],
           [ 1., 10.,  0.],
           [ 1., 40., 10.]])
    """
    x = np.asarray(x, dtype=float)
    cols = [np.ones_like(x), x, _segment(x, knee, scale)]
    if covariates is not None:
        z = np.asarray(covariates, dtype=float)
        cols.extend(z.reshape(len(x), -1).T)
    return np.column_stack(cols)


@dataclass
class ResponseCurve:
    """A fitted response curve (see :func:`response_curve`).

    Attributes
    ----------
    kpi, cx : str
        The KPI and CX columns.
    n, clusters : int
        Contacts and bootstrap clusters used.
    cap : float
        The curve was fitted on contacts with the KPI at most this value
        (predictions above it use the curve at ``cap``).
    trimmed : int
        Contacts above ``cap`` left out of the fit.
    knee, knee_low, knee_high : float
        The profile-likelihood knee and its bootstrap percentile interval.
    slope_below, slope_above : float
        CX change per unit of the KPI below / above the knee (``b1``,
        ``b1 + b2``), each with ``*_low`` / ``*_high``.
    slope_change, slope_change_low, slope_change_high : float
        ``b2`` and its interval.
    linear_slope, linear_low, linear_high : float
        Slope of the straight-line fit and its bootstrap interval.
    aic_hinge, aic_linear : float
        Gaussian AIC of both fits (the knee counts as a parameter).
    lr_stat, p_knee : float
        Sup likelihood-ratio statistic of hinge vs line and its wild cluster
        bootstrap p-value under the line (Hansen 1996).
    knee_real : bool
        ``p_knee < 1 - conf``.
    points : float
        Multiplier from the CX column to the sentence's unit (100 for a 0/1
        column: percentage points).
    profile : DataFrame
        ``knee``, ``scale``, ``loglik`` over the grid.
    boot : DataFrame
        Replicate ``knee``, ``b1``, ``b2``, ``linear``, ``scale`` (for :func:`curve_what_if`).
    sentence : str
    shape : str
        ``hinge`` (straight segment after the knee) or ``log`` (concave segment).
    scale : float
        The profile-likelihood curvature scale of the ``log`` shape (infinite for ``hinge``).
    flat_below : bool
        The slope below the knee was fixed at 0.
    """

    kpi: str
    cx: str
    n: int
    clusters: int
    cap: float
    trimmed: int
    knee: float
    knee_low: float
    knee_high: float
    slope_below: float
    slope_below_low: float
    slope_below_high: float
    slope_above: float
    slope_above_low: float
    slope_above_high: float
    slope_change: float
    slope_change_low: float
    slope_change_high: float
    linear_slope: float
    linear_low: float
    linear_high: float
    aic_hinge: float
    aic_linear: float
    lr_stat: float
    p_knee: float
    knee_real: bool
    points: float
    conf: float
    profile: pd.DataFrame = field(repr=False)
    boot: pd.DataFrame = field(repr=False)
    sentence: str = ""
    shape: str = "hinge"
    scale: float = np.inf
    flat_below: bool = False

    def predict(self, x, *, linear: bool | None = None) -> np.ndarray:
        """The curve's KPI part at ``x`` (capped as in the fit), in CX units: ``b1 x + b2 h(x)``.

        ``linear`` (default: ``not knee_real``) uses the straight-line slope instead.
        """
        return _curve(np.minimum(np.asarray(x, dtype=float), self.cap), self._coef(linear))

    def _coef(self, linear):
        use_linear = (not self.knee_real) if linear is None else linear
        if use_linear:
            return (0.0, self.linear_slope, 0.0, np.inf)
        return (self.knee, self.slope_below, self.slope_change, self.scale)

    def table(self) -> pd.DataFrame:
        """One tidy row of the fit (no profile, no replicates)."""
        skip = {"profile", "boot"}
        return pd.DataFrame([{k: getattr(self, k) for k in self.__dataclass_fields__ if k not in skip}])


def _curve(x: np.ndarray, coef) -> np.ndarray:
    k, b1, b2, *rest = coef
    return b1 * x + b2 * _segment(x, k, rest[0] if rest else np.inf)


def _cluster_stats(X: np.ndarray, y: np.ndarray, order: np.ndarray, starts: np.ndarray):
    """Per-cluster X'X, X'y (rows sorted by cluster, ``starts`` = first row of each)."""
    Xs, ys = X[order], y[order]
    xtx = np.add.reduceat(Xs[:, :, None] * Xs[:, None, :], starts, axis=0)
    xty = np.add.reduceat(Xs * ys[:, None], starts, axis=0)
    return xtx, xty


def _solve(a: np.ndarray, c: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(a, c[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return (np.linalg.pinv(a) @ c[..., None])[..., 0]


def _sup_lr_pvalue(lr, x, y, z, H, gcodes, xtx_full, lin_idx, n_rep, rng, hidx=None) -> float:
    """Wild cluster bootstrap (Rademacher) p-value of the sup-LR statistic under the linear null.

    ``H`` holds the post-knee column of every grid point (n x K); ``hidx`` the
    columns of the knee model (all but the slope below the knee when it is flat).
    """
    n = len(y)
    C = hinge_design(x, 0.0, z)[:, lin_idx]
    ctc = C.T @ C
    bl = np.linalg.lstsq(C, y, rcond=None)[0]
    yhat, e = C @ bl, y - C @ bl
    G = int(gcodes.max()) + 1
    K, p = xtx_full.shape[0], xtx_full.shape[1]
    hit = 0
    for _ in range(n_rep):
        v = rng.choice((-1.0, 1.0), size=G)
        ys = yhat + e * v[gcodes]
        cy, hy = C.T @ ys, H.T @ ys
        c = np.empty((K, p))
        c[:, lin_idx] = cy
        c[:, 2] = hy
        if hidx is not None:
            c = c[:, hidx]
        b = _solve(xtx_full if hidx is None else xtx_full[:, hidx][:, :, hidx], c)
        yy = ys @ ys
        rss_h = np.maximum(yy - np.einsum("ki,ki->k", b, c), 1e-300).min()
        rss_l = max(yy - _solve(ctc[None], cy[None])[0] @ cy, 1e-300)
        hit += n * np.log(rss_l / rss_h) >= lr
    return (1 + hit) / (1 + n_rep)


def _default_grid(x: np.ndarray, min_side: int, size: int = 60) -> np.ndarray:
    xs = np.sort(x)
    lo, hi = xs[min_side - 1], xs[len(xs) - min_side]
    if not hi > lo:
        raise NotEnoughData(f"the KPI barely varies: fewer than {min_side} contacts on one side of every "
                            f"candidate knee ({len(x):,} contacts)")
    grid = np.unique(np.round(np.linspace(lo, hi, size), 1))
    return grid[(grid > lo) & (grid < hi)] if len(grid) > 2 else grid


def response_curve(
    frame: pd.DataFrame,
    kpi: str = "wait_s",
    cx: str = "cx_top2",
    *,
    covariates: Sequence[str] = (),
    grid=None,
    cap: float | None = 0.99,
    cluster: str | None = "date",
    n_boot: int = 200,
    conf: float = 0.95,
    seed: int = 0,
    min_side: int = 30,
    label: str | None = None,
    shape: str = "hinge",
    scales=(15.0, 30.0, 60.0, 120.0, 240.0),
    flat_below: bool = False,
) -> ResponseCurve:
    """Segmented (hinge) regression of CX on a continuous KPI, with the knee and its interval.

    Parameters
    ----------
    frame : DataFrame
        Contact grain (e.g. :func:`cxlab.sources.contact_frame`): one row per
        survey response with the KPI, the CX outcome and the covariates.
    kpi : str
        Continuous KPI column (``wait_s``, ``handle_s``, ``hold_s`` ...).
    cx : str
        CX outcome column: a 0/1 top-box indicator (``cx_top2``; the sentence
        then speaks in percentage points) or a score.
    covariates : sequence of str
        Numeric or 0/1 columns to adjust for (e.g. ``resolved``, ``transferred``).
    grid : array-like, optional
        Candidate knees; default 60 points between the values with
        ``min_side`` contacts below and above.
    cap : float or None
        Fit on the contacts whose KPI is at most this quantile (default the
        99th percentile), so a few extreme waits do not set the slope; the
        curve describes the range it was fitted on (``trimmed`` counts the
        contacts left out).
    cluster : str or None
        Bootstrap cluster column (default ``date``: resample whole days);
        None resamples contacts.
    n_boot : int
        Bootstrap replicates (each re-estimates the knee).
    conf : float
        Interval level.
    seed : int
        Seed of the bootstrap.
    min_side : int
        Minimum contacts below and above every candidate knee.
    label : str, optional
        Words for the KPI in the sentence (default from :data:`CURVE_KPIS`).
    shape : {"hinge", "log"}
        Segment after the knee: straight (``hinge``) or concave
        :math:`\\tau \\log(1 + (x-k)_+/\\tau)` (``log``: CX falls fastest just
        after the knee and the fall slows, as with waits whose first extra
        minute hurts more than the fifth). ``log`` profiles the scale
        :math:`\\tau` over ``scales`` together with the knee; the straight
        hinge (:math:`\\tau = \\infty`) is always among the candidates.
    scales : sequence of float
        Candidate curvature scales of the ``log`` shape (seconds).
    flat_below : bool
        Fix the slope below the knee at 0 (``b1 = 0``: CX does not change
        until the knee, the "threshold" reading of "where does CX fall
        off?"). One parameter less, so the knee is much better located when
        the data support a flat start; the sup-LR test then compares this
        flat-then-falling curve with the straight line (not nested; the
        bootstrap reference handles that).

    Returns
    -------
    ResponseCurve
        Knee with its interval, slopes below / above with intervals, the
        linear comparison, the profile, the replicates and the sentence.

    Raises
    ------
    cxlab.errors.NotEnoughData
        Fewer than ``4 * min_side`` complete rows, or the KPI barely varies.
    cxlab.errors.DataError
        A column is not numeric.

    Notes
    -----
    For each candidate knee :math:`k` the model
    :math:`y = a + b_1 x + b_2 (x-k)_+ + z^\\top\\gamma + e` is fitted by OLS;
    its Gaussian profile log-likelihood is
    :math:`\\ell(k) = -\\tfrac n2 \\log(\\mathrm{RSS}(k)/n)` and
    :math:`\\hat k = \\arg\\max_k \\ell(k)` (Hansen 2000, threshold
    regression; Muggeo 2003, segmented regression). The bootstrap resamples
    clusters with replacement and repeats the whole profile in every
    replicate (from per-cluster :math:`X^\\top X`, :math:`X^\\top y`, so a
    replicate is a weighted sum); intervals are percentiles. The hinge is
    compared with the straight line by
    :math:`\\mathrm{AIC} = n \\log(\\mathrm{RSS}/n) + 2p` with :math:`p` the
    number of coefficients (+1 for the knee). The knee is called real when the sup-LR test rejects the line:
    :math:`LR = n \\log(\\mathrm{RSS}_{linear} / \\min_k \\mathrm{RSS}(k))`
    has no chi-square reference (the knee is not identified under the line,
    Davies 1987), so its p-value comes from a wild cluster bootstrap
    (Rademacher weights per cluster) of the linear fit that re-maximizes
    over the grid in every replicate (Hansen 1996).

    References
    ----------
    .. [1] Hansen, B.E. (2000) Sample splitting and threshold estimation. *Econometrica* 68, 575–603.
    .. [3] Hansen, B.E. (1996) Inference when a nuisance parameter is not identified under the null
       hypothesis. *Econometrica* 64, 413–430.
    .. [2] Muggeo, V.M.R. (2003) Estimating regression models with unknown break-points.
       *Statistics in Medicine* 22, 3055–3071.

    Examples
    --------
    A noiseless hinge with its knee at 30: the profile recovers it exactly.

    >>> import numpy as np, pandas as pd
    >>> x = np.tile(np.arange(0.0, 121.0), 3)
    >>> f = pd.DataFrame({"wait_s": x, "score": 4.0 - 0.02 * np.maximum(0, x - 30)})
    >>> c = response_curve(f, "wait_s", "score", cluster=None, cap=None, n_boot=20, grid=np.arange(5, 100, 5.0))
    >>> c.knee, round(c.slope_below, 6), round(c.slope_above, 6), c.knee_real
    (30.0, 0.0, -0.02, True)
    """
    covariates = as_list(covariates, "covariates", strings=True)
    if shape not in ("hinge", "log"):
        raise ValueError(f"shape must be 'hinge' or 'log'; got {shape!r}")
    if not 0 < conf < 1:
        raise ValueError(f"conf must be between 0 and 1; got {conf!r}")
    if int(n_boot) != n_boot or n_boot < 2:
        raise ValueError(f"n_boot must be an integer >= 2; got {n_boot!r}")
    need = [kpi, cx, *covariates, *([cluster] if cluster else [])]
    require_columns(frame, need, what="contact frame")
    data = pd.DataFrame({c: numeric(frame[c], c) for c in [kpi, cx, *covariates]})
    if cluster:
        data["_g"] = frame[cluster].to_numpy()
    data = data.dropna()
    n = len(data)
    if n < 4 * min_side:
        raise NotEnoughData(f"only {n:,} contacts have both {kpi!r} and {cx!r} (a response curve needs at "
                            f"least {4 * min_side})")
    x_raw = data[kpi].to_numpy()
    capv = float(np.quantile(x_raw, cap)) if cap is not None else float(x_raw.max())
    keep = x_raw <= capv
    trimmed = int((~keep).sum())
    data = data.loc[keep]
    n = len(data)
    x = data[kpi].to_numpy()
    y = data[cx].to_numpy()
    z = data[covariates].to_numpy() if covariates else None
    knees = _default_grid(x, min_side) if grid is None else np.asarray(grid, dtype=float)
    if len(knees) < 2:
        raise ValueError(f"grid must hold at least 2 candidate knees; got {len(knees)}")
    taus = [np.inf] if shape == "hinge" else sorted({*map(float, scales), np.inf})
    if any(not t > 0 for t in taus):
        raise ValueError(f"scales must be positive; got {list(scales)!r}")
    grid = np.repeat(knees, len(taus))  # (knee, scale) pairs, knee-major
    tgrid = np.tile(np.asarray(taus, dtype=float), len(knees))
    gcodes = pd.factorize(data["_g"])[0] if cluster else np.arange(n)
    order = np.argsort(gcodes, kind="mergesort")
    starts = np.flatnonzero(np.r_[True, np.diff(gcodes[order]) != 0])
    yty = np.add.reduceat(y[order] ** 2, starts)
    G = len(starts)

    xtx_list, xty_list = [], []
    H = np.empty((n, len(grid)))
    for i, (k, tau) in enumerate(zip(grid, tgrid)):
        X = hinge_design(x, k, z, tau)
        H[:, i] = X[:, 2]
        a, c = _cluster_stats(X, y, order, starts)
        xtx_list.append(a)
        xty_list.append(c)
    xtx = np.stack(xtx_list)  # K, G, p, p
    xty = np.stack(xty_list)  # K, G, p
    lin_idx = [i for i in range(xtx.shape[-1]) if i != 2]
    lin_xtx = xtx[0][:, lin_idx][:, :, lin_idx]
    lin_xty = xty[0][:, lin_idx]

    hidx = [i for i in range(xtx.shape[-1]) if i != 1] if flat_below else None

    def fit(w):
        a, c = np.einsum("g,kgij->kij", w, xtx), np.einsum("g,kgi->ki", w, xty)
        if hidx is not None:
            a, c = a[:, hidx][:, :, hidx], c[:, hidx]
        b = _solve(a, c)
        rss = w @ yty - np.einsum("ki,ki->k", b, c)
        if hidx is not None:  # back to the full coefficient layout, b1 = 0
            full = np.zeros((b.shape[0], xtx.shape[-1]))
            full[:, hidx] = b
            b = full
        al, cl = np.einsum("g,gij->ij", w, lin_xtx), np.einsum("g,gi->i", w, lin_xty)
        bl = _solve(al[None], cl[None])[0]
        rss_l = w @ yty - bl @ cl
        return b, np.maximum(rss, 1e-300), max(float(rss_l), 1e-300), bl

    ones = np.ones(G)
    b, rss, rss_l, bl = fit(ones)
    loglik = -n / 2 * np.log(rss / n)
    j = int(np.argmax(loglik))
    knee, b1, b2, tau = float(grid[j]), float(b[j, 1]), float(b[j, 2]), float(tgrid[j])
    p_lin = len(lin_idx)
    aic_h = float(n * np.log(rss[j] / n) + 2 * (p_lin + 2 - bool(flat_below)))
    aic_l = float(n * np.log(rss_l / n) + 2 * p_lin)

    rng = np.random.default_rng(seed)
    reps = []
    for _ in range(int(n_boot)):
        w = rng.multinomial(G, np.full(G, 1.0 / G)).astype(float)
        bb, rb, _, blb = fit(w)
        jb = int(np.argmin(rb))
        reps.append((grid[jb], bb[jb, 1], bb[jb, 2], blb[1], tgrid[jb]))
    boot = pd.DataFrame(reps, columns=["knee", "b1", "b2", "linear", "scale"])
    lr = float(n * np.log(rss_l / rss[j]))
    p_knee = _sup_lr_pvalue(lr, x, y, z, H, gcodes, xtx.sum(axis=1), lin_idx, int(n_boot), rng, hidx)
    del H
    q = [(1 - conf) / 2, (1 + conf) / 2]

    def ci(s):
        lo, hi = np.quantile(s, q)
        return float(lo), float(hi)

    kl, kh = ci(boot["knee"])
    bl_lo, bl_hi = ci(boot["b1"])
    ba_lo, ba_hi = ci(boot["b1"] + boot["b2"])
    bc_lo, bc_hi = ci(boot["b2"])
    ll_lo, ll_hi = ci(boot["linear"])
    real = bool(p_knee < 1 - conf)
    points = 100.0 if set(np.unique(y)) <= {0.0, 1.0} else 1.0
    out = ResponseCurve(
        kpi=kpi, cx=cx, n=n, clusters=G, cap=capv, trimmed=trimmed, knee=knee, knee_low=kl, knee_high=kh,
        slope_below=b1, slope_below_low=bl_lo, slope_below_high=bl_hi,
        slope_above=b1 + b2, slope_above_low=ba_lo, slope_above_high=ba_hi,
        slope_change=b2, slope_change_low=bc_lo, slope_change_high=bc_hi,
        linear_slope=float(bl[1]), linear_low=ll_lo, linear_high=ll_hi,
        aic_hinge=aic_h, aic_linear=aic_l, lr_stat=lr, p_knee=p_knee, knee_real=real, points=points, conf=conf,
        profile=pd.DataFrame({"knee": grid, "scale": tgrid, "loglik": loglik}), boot=boot, shape=shape, scale=tau,
        flat_below=bool(flat_below),
    )
    out.sentence = _sentence(out, label or CURVE_KPIS.get(kpi) or _fmt_label(kpi))
    return out


def _sentence(c: ResponseCurve, label: str) -> str:
    what = _cx_words(c.cx)
    unit = "points" if c.points == 100 else f"on the {_cx_words(c.cx).removeprefix('the ')} scale"
    lvl = f"{c.conf:.0%}"
    above = "just above" if np.isfinite(c.scale) else "above"
    if c.knee_real:
        if c.slope_above < c.slope_below:
            verb = "falls off" if c.slope_below_low <= 0 <= c.slope_below_high else "falls faster"
        else:
            verb = "levels off"
        per10 = 10 * c.points
        return (f"{what[:1].upper() + what[1:]} {verb} after {c.knee:.0f} s of {label} [{c.knee_low:.0f}, "
                f"{c.knee_high:.0f}] ({lvl} interval): {per10 * c.slope_below:+.2f} {unit} per 10 s below the knee, "
                f"{per10 * c.slope_above:+.2f} {above} [{per10 * c.slope_above_low:+.2f}, "
                f"{per10 * c.slope_above_high:+.2f}] (line rejected: p = {c.p_knee:.2g}; {c.n:,} contacts).")
    per10 = 10 * c.points
    return (f"No clear knee in {what} against {label}: the relation is treated as linear, "
            f"{per10 * c.linear_slope:+.2f} {unit} per 10 s [{per10 * c.linear_low:+.2f}, "
            f"{per10 * c.linear_high:+.2f}] (knee test p = {c.p_knee:.2g}, knee "
            f"{c.knee:.0f} s [{c.knee_low:.0f}, {c.knee_high:.0f}] not established; {c.n:,} contacts).")


def curve_table(frame: pd.DataFrame, kpis: Sequence[str] = ("wait_s", "handle_s", "hold_s"),
                cx: str = "cx_top2", **kwargs) -> pd.DataFrame:
    """:func:`response_curve` for several KPIs, one tidy row each (KPIs absent or too flat are skipped).

    Returns
    -------
    DataFrame
        The :meth:`ResponseCurve.table` rows; ``attrs["curves"]`` holds the
        :class:`ResponseCurve` objects by KPI and ``attrs["skipped"]`` the
        reasons of the KPIs left out.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> f = pd.DataFrame({"wait_s": rng.uniform(0, 100, 400), "hold_s": 0.0})
    >>> f["cx_top2"] = (rng.uniform(size=400) < 0.8).astype(float)
    >>> t = curve_table(f, cluster=None, n_boot=20)
    >>> t["kpi"].tolist(), sorted(t.attrs["skipped"])
    (['wait_s'], ['handle_s', 'hold_s'])
    """
    rows, curves, skipped = [], {}, {}
    for k in as_list(kpis, "kpis", strings=True):
        if k not in frame:
            skipped[k] = f"column {k!r} is not in the contact frame"
            continue
        try:
            c = response_curve(frame, k, cx, **kwargs)
        except NotEnoughData as exc:
            skipped[k] = str(exc)
            continue
        curves[k] = c
        rows.append(c.table())
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    out.attrs.update(curves=curves, skipped=skipped)
    return out


def curve_what_if(curve: ResponseCurve, x, delta: float = -10.0, *, floor: float = 0.0) -> pd.DataFrame:
    """Predicted CX change when every contact's KPI moves by ``delta``, from the fitted curve.

    Parameters
    ----------
    curve : ResponseCurve
    x : array-like
        The contacts' own KPI values (e.g. ``frame["wait_s"]``).
    delta : float
        Change of the KPI (−10 = ten seconds less).
    floor : float
        The KPI cannot go below this (0 s).

    Returns
    -------
    DataFrame
        Rows ``all``, ``below knee``, ``above knee`` (contacts whose current
        value is below / above the knee): ``group``, ``n``, ``effect`` (mean
        predicted change of CX in the sentence's unit: points for a 0/1
        outcome), ``ci_low``, ``ci_high`` (bootstrap replicates of the
        curve), ``curve`` (``hinge`` or ``linear``: a curve whose knee is not
        real uses the straight line).

    Notes
    -----
    :math:`\\Delta = \\frac1n \\sum_i f(\\max(x_i + \\delta, floor)) - f(x_i)`
    with :math:`f(x) = b_1 x + b_2 h(x)` on the capped KPI (:math:`h` the
    hinge or the ``log`` segment of :func:`hinge_design`); the interval
    repeats this with each replicate's :math:`(k, b_1, b_2, \\tau)`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> x = np.tile(np.arange(0.0, 121.0), 3)
    >>> f = pd.DataFrame({"wait_s": x, "score": 4.0 - 0.02 * np.maximum(0, x - 30)})
    >>> c = response_curve(f, "wait_s", "score", cluster=None, cap=None, n_boot=20, grid=np.arange(5, 100, 5.0))
    >>> w = curve_what_if(c, [10.0, 20.0, 60.0, 100.0], -10)
    >>> w[["group", "n", "effect"]].round(4)
            group  n  effect
    0         all  4    0.10
    1  below knee  2    0.00
    2  above knee  2    0.20
    """
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if not len(x):
        raise DataError("curve_what_if: no finite KPI value")
    new = np.maximum(x + float(delta), floor)
    xc, nc = np.minimum(x, curve.cap), np.minimum(new, curve.cap)
    linear = not curve.knee_real
    coef = curve._coef(linear)
    if linear:
        reps = [(0.0, s, 0.0, np.inf) for s in curve.boot["linear"]]
    else:
        reps = list(curve.boot[["knee", "b1", "b2", "scale"]].itertuples(index=False, name=None))
    groups = {"all": np.ones(len(x), bool), "below knee": x <= curve.knee, "above knee": x > curve.knee}
    rows = []
    q = [(1 - curve.conf) / 2, (1 + curve.conf) / 2]
    for g, m in groups.items():
        if not m.any():
            rows.append({"group": g, "n": 0, "effect": np.nan, "ci_low": np.nan, "ci_high": np.nan})
            continue
        eff = float(np.mean(_curve(nc[m], coef) - _curve(xc[m], coef))) * curve.points
        rb = [float(np.mean(_curve(nc[m], r) - _curve(xc[m], r))) * curve.points for r in reps]
        lo, hi = np.quantile(rb, q)
        rows.append({"group": g, "n": int(m.sum()), "effect": eff, "ci_low": float(lo), "ci_high": float(hi)})
    out = pd.DataFrame(rows)
    out["curve"] = "linear" if linear else "hinge"
    out["delta"] = float(delta)
    return out
