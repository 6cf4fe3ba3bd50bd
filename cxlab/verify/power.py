"""Step 6, pilot design: sample size, duration, power and the pre-registered plan.

Two-sample t-test and normal-approximation power with a design effect for
cluster-randomized pilots (:func:`pilot_design`, :func:`power_curve`), the
intra-cluster correlation that feeds it (:func:`icc`) and the analysis plan
written before the pilot starts (:func:`analysis_plan`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

from .._utils import require_columns
from ..errors import DataError, NotEnoughData, check_option
from ._common import check_prob

__all__ = ["pilot_design", "power_curve", "icc", "analysis_plan", "size_next_pilot"]


UNITS = ("contact", "agent", "team", "day")


def _power_normal(d: float, n_eff: float, alpha: float) -> float:
    """Two-sided two-sample z-test power with n_eff per arm."""
    if n_eff <= 0:
        return np.nan
    z = stats.norm.ppf(1 - alpha / 2)
    ncp = abs(d) * math.sqrt(n_eff / 2)
    return float(stats.norm.cdf(ncp - z))  # the far tail is ignored, as in the closed-form n


def _power_t(d: float, n_eff: float, alpha: float, df: float | None = None) -> float:
    """Two-sided two-sample t-test power (noncentral t), n_eff per arm."""
    df = 2 * n_eff - 2 if df is None else df
    if df <= 0:
        return np.nan
    tc = stats.t.ppf(1 - alpha / 2, df)
    ncp = abs(d) * math.sqrt(n_eff / 2)
    upper = stats.nct.sf(tc, df, ncp)
    lower = stats.nct.cdf(-tc, df, ncp)  # NaN far in the tail (scipy): it is ~0 there
    return float(upper + (lower if np.isfinite(lower) else 0.0))


def _n_normal(d: float, alpha: float, power: float) -> float:
    return 2 * (stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) ** 2 / d**2


def _solve(fun, lo: float, hi: float) -> float:
    """Root of an increasing function on [lo, hi], widening hi as needed (lo if already above)."""
    if fun(lo) >= 0:
        return float(lo)
    for _ in range(60):
        if fun(hi) > 0:
            return float(optimize.brentq(fun, lo, hi, xtol=1e-10, rtol=1e-12))
        hi *= 2
    return np.nan


@dataclass(frozen=True)
class _Design:
    unit: str
    m: float  # observations per cluster (1 for unclustered)
    rho: float
    deff: float
    clustered: bool


def _design(unit, cluster_size, icc_value) -> _Design:
    check_option("unit", unit, UNITS)
    clustered = unit in ("agent", "team")
    if not clustered:
        return _Design(unit, 1.0, 0.0, 1.0, False)
    if cluster_size is None or icc_value is None:
        raise ValueError(f"unit={unit!r} is clustered: pass cluster_size (observations per {unit}) and icc")
    if not cluster_size >= 1:
        raise ValueError(f"cluster_size must be >= 1; got {cluster_size!r}")
    if not 0 <= icc_value < 1:
        raise ValueError(f"icc must be in [0, 1); got {icc_value!r}")
    return _Design(unit, float(cluster_size), float(icc_value), 1 + (cluster_size - 1) * icc_value, True)


def _power_at(d, k, design: _Design, alpha, method):
    """Power with k units per arm (clusters for clustered designs)."""
    n_eff = k * design.m / design.deff
    if method == "normal":
        return _power_normal(d, n_eff, alpha)
    df = 2 * k - 2  # clusters are the independent units
    return _power_t(d, n_eff, alpha, df=df)


def pilot_design(
    *,
    effect: float,
    sd: float,
    unit: str = "contact",
    cluster_size: float | None = None,
    icc: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    n_clusters: float | None = None,
    n_per_arm: float | None = None,
    daily_n: float | None = None,
) -> pd.DataFrame:
    """Sample size, duration and minimum detectable effect of a two-arm pilot.

    Parameters
    ----------
    effect : float
        The effect to detect, in outcome units (e.g. ``3`` CSAT points).
    sd : float
        Standard deviation of the outcome per unit of observation (per
        contact for contact/agent/team designs — for a proportion p,
        ``sqrt(p(1-p))`` — per day for ``unit="day"``).
    unit : {"contact", "agent", "team", "day"}, default "contact"
        What is randomized. ``agent`` and ``team`` are cluster designs.
    cluster_size : float, optional
        Observations (surveyed contacts) per cluster over the pilot; required
        for clustered units.
    icc : float, optional
        Intra-cluster correlation of the outcome (see :func:`icc`); required
        for clustered units.
    alpha : float, default 0.05
        Two-sided significance level.
    power : float, default 0.8
        Target power.
    n_clusters : float, optional
        Clusters available per arm (clustered units): the ``mde`` and
        ``power_at_n`` columns are computed for this many.
    n_per_arm : float, optional
        Observations available per arm (contact or day units), for ``mde``
        and ``power_at_n``.
    daily_n : float, optional
        Observations per arm per day (contacts surveyed per day in one
        arm); converts the sample size into ``days``.

    Returns
    -------
    DataFrame
        Two rows, ``method`` = ``"normal"`` (normal approximation) and ``"t"``
        (exact noncentral-t power of the two-sample t-test; for clustered
        designs with ``2·clusters − 2`` degrees of freedom). Columns:
        ``unit``, ``effect``, ``sd``, ``d`` (effect / sd), ``alpha``,
        ``power``, ``icc``, ``cluster_size``, ``deff`` (design effect),
        ``n_effective`` (independent observations per arm), ``n_per_arm``
        (observations per arm, inflated by ``deff``), ``clusters_per_arm``
        (clustered units; else NaN), ``days`` (``n_per_arm / daily_n``, or
        ``2·n_per_arm`` for alternating-day designs; NaN without
        ``daily_n``), ``given_n`` (the available observations per arm,
        from ``n_clusters`` or ``n_per_arm``), ``mde`` (smallest effect, in
        outcome units, detectable with ``power`` at ``given_n``) and
        ``power_at_n`` (power for ``effect`` at ``given_n``). Sample sizes are
        not rounded; round up when planning.

    Notes
    -----
    Standardized effect :math:`d = \\delta/\\sigma`. Normal approximation per
    arm: :math:`n = 2(z_{1-\\alpha/2} + z_{1-\\beta})^2/d^2`, i.e. power
    :math:`\\Phi(d\\sqrt{n/2} - z_{1-\\alpha/2})` (the far rejection tail is
    ignored). The t-test power
    with :math:`n` per arm is
    :math:`1 - F_{\\nu,\\lambda}(t_{1-\\alpha/2,\\nu}) + F_{\\nu,\\lambda}(-t_{1-\\alpha/2,\\nu})`
    with :math:`\\nu = 2n-2` and noncentrality :math:`\\lambda = d\\sqrt{n/2}`;
    :math:`n` is found by root-finding (as R ``pwr::pwr.t.test``). Clustered
    designs multiply the sample size by the design effect
    :math:`DEFF = 1 + (m-1)\\rho` for clusters of :math:`m` observations and
    intra-cluster correlation :math:`\\rho`; clusters per arm
    :math:`k = n\\,DEFF/m`. Then :math:`\\nu = 2k-2`. Because
    :math:`k m / DEFF \\to k/\\rho` as :math:`m` grows, a cluster pilot with
    few clusters cannot reach some effects however long it runs.

    References
    ----------
    .. [1] Cohen, J. (1988) *Statistical Power Analysis for the Behavioral
       Sciences*, 2nd ed., ch. 2.
    .. [2] Champely, S. (2020) pwr: Basic Functions for Power Analysis,
       R package 1.3-0, ``pwr.t.test``.
    .. [3] Donner, A. & Klar, N. (2000) *Design and Analysis of Cluster
       Randomization Trials in Health Research*, ch. 5 (design effect).
    .. [4] Kish, L. (1965) *Survey Sampling*, §5.4.

    Examples
    --------
    >>> pilot_design(effect=0.5, sd=1.0)[["method", "n_per_arm"]].round(3)
       method  n_per_arm
    0  normal     62.791
    1       t     63.766
    >>> team = pilot_design(effect=3, sd=40, unit="team", cluster_size=500, icc=0.002,
    ...                     n_clusters=5)
    >>> float(team.loc[0, "deff"])
    1.998
    """
    for name, value in (("effect", effect), ("sd", sd)):
        if not isinstance(value, (int, float)) or not np.isfinite(value):
            raise TypeError(f"{name} must be a finite number; got {value!r}")
    if effect == 0:
        raise ValueError("effect must be non-zero")
    if sd <= 0:
        raise ValueError(f"sd must be positive; got {sd!r}")
    check_prob("alpha", alpha)
    check_prob("power", power)
    design = _design(unit, cluster_size, icc)
    d = abs(effect) / sd
    if design.clustered and n_per_arm is not None:
        raise ValueError(f"unit={unit!r} is clustered: give n_clusters, not n_per_arm")
    if not design.clustered and n_clusters is not None:
        raise ValueError(f"unit={unit!r} is not clustered: give n_per_arm, not n_clusters")
    given_k = n_clusters if design.clustered else n_per_arm

    rows = []
    for method in ("normal", "t"):
        if method == "normal":
            k = _n_normal(d, alpha, power) * design.deff / design.m
        else:
            lo = 1.5 if design.clustered else 2.0  # smallest sizes with df >= 1
            k = _solve(lambda kk: _power_at(d, kk, design, alpha, "t") - power, lo, 10.0)
        n_obs = k * design.m
        n_eff = n_obs / design.deff
        if unit == "day":
            days = 2 * n_obs
        elif daily_n:
            days = n_obs / daily_n
        else:
            days = np.nan
        if given_k is not None:
            mde_d = _solve(lambda dd, m=method: _power_at(dd, given_k, design, alpha, m) - power, 1e-9, 1.0)
            mde = mde_d * sd
            p_at = _power_at(d, given_k, design, alpha, method)
            given = given_k * design.m
        else:
            mde = p_at = given = np.nan
        rows.append({
            "method": method, "unit": unit, "effect": effect, "sd": sd, "d": d, "alpha": alpha,
            "power": power, "icc": design.rho if design.clustered else np.nan,
            "cluster_size": design.m if design.clustered else np.nan, "deff": design.deff,
            "n_effective": n_eff, "n_per_arm": n_obs,
            "clusters_per_arm": k if design.clustered else np.nan, "days": days,
            "given_n": given, "mde": mde, "power_at_n": p_at,
        })
    return pd.DataFrame(rows)


def power_curve(
    *,
    sd: float,
    effects,
    n_per_arm=None,
    unit: str = "contact",
    cluster_size: float | None = None,
    icc: float | None = None,
    n_clusters=None,
    alpha: float = 0.05,
    daily_n: float | None = None,
    days=None,
    method: str = "t",
) -> pd.DataFrame:
    """Power as a function of sample size, clusters or pilot length for a few effects.

    Parameters
    ----------
    sd : float
        Outcome SD per observation (see :func:`pilot_design`).
    effects : float or list of float
        Effects (outcome units) to draw one curve each.
    n_per_arm : array-like, optional
        Observations per arm (contact/day units). Default: 20 points from 10
        to 4000 on a log scale.
    unit, cluster_size, icc, alpha
        As in :func:`pilot_design`.
    n_clusters : array-like, optional
        Clusters per arm for clustered units (default 2..30).
    daily_n : float, optional
        Observations per arm per day (contact units), or per cluster per day
        (clustered units with ``days``); adds a ``days`` column.
    days : array-like, optional
        Pilot lengths to evaluate instead of sizes: observations per arm are
        ``daily_n × days``; for clustered units ``n_clusters`` (one number)
        clusters per arm of ``daily_n × days`` observations each, so the
        design effect grows with the length.
    method : {"t", "normal"}, default "t"

    Returns
    -------
    DataFrame
        One row per effect × size: ``effect``, ``d``, ``n_per_arm``
        (observations per arm), ``clusters_per_arm`` (NaN unless clustered),
        ``days`` (NaN without ``daily_n``), ``power``.

    Notes
    -----
    Power formulas as in :func:`pilot_design`.

    References
    ----------
    .. [1] Cohen, J. (1988) *Statistical Power Analysis for the Behavioral
       Sciences*, 2nd ed.

    Examples
    --------
    >>> pc = power_curve(sd=1.0, effects=[0.5], n_per_arm=[20, 64])
    >>> pc["n_per_arm"].tolist(), pc["power"].round(4).tolist()
    ([20.0, 64.0], [0.3379, 0.8015])
    """
    check_option("method", method, ("t", "normal"))
    check_prob("alpha", alpha)
    if sd <= 0:
        raise ValueError(f"sd must be positive; got {sd!r}")
    design = _design(unit, cluster_size, icc)
    effects = [effects] if np.isscalar(effects) else list(effects)
    if days is not None:
        if not daily_n:
            raise ValueError("days= needs daily_n (observations per arm, or per cluster, per day)")
        if design.clustered and (n_clusters is None or not np.isscalar(n_clusters)):
            raise ValueError("days= with a clustered unit needs n_clusters: one number of clusters per arm")
        rows = []
        for eff in effects:
            d = abs(eff) / sd
            for length in np.asarray(days, float):
                if design.clustered:
                    dz = _design(unit, daily_n * length, design.rho)
                    k, n_obs = float(n_clusters), float(n_clusters) * daily_n * length
                else:
                    dz, k, n_obs = design, daily_n * length, daily_n * length
                rows.append({"effect": eff, "d": d, "n_per_arm": n_obs,
                             "clusters_per_arm": k if design.clustered else np.nan, "days": float(length),
                             "power": _power_at(d, k, dz, alpha, method)})
        return pd.DataFrame(rows)
    if design.clustered:
        sizes = np.arange(2, 31) if n_clusters is None else np.asarray(n_clusters, float)
    else:
        sizes = np.unique(np.round(np.geomspace(10, 4000, 20))) if n_per_arm is None else np.asarray(n_per_arm, float)
    rows = []
    for eff in effects:
        d = abs(eff) / sd
        for k in sizes:
            n_obs = float(k) * design.m
            rows.append({
                "effect": eff, "d": d, "n_per_arm": n_obs,
                "clusters_per_arm": float(k) if design.clustered else np.nan,
                "days": (2 * n_obs if unit == "day" else n_obs / daily_n if daily_n else np.nan),
                "power": _power_at(d, float(k), design, alpha, method),
            })
    return pd.DataFrame(rows)


def icc(frame: pd.DataFrame, *, outcome: str, cluster: str, alpha: float = 0.05) -> pd.DataFrame:
    """Intra-cluster correlation from a one-way random-effects ANOVA.

    Parameters
    ----------
    frame : DataFrame
        One row per observation (e.g. surveyed contact).
    outcome : str
        Numeric (or bool) outcome column.
    cluster : str
        Cluster column (agent, team).
    alpha : float, default 0.05

    Returns
    -------
    DataFrame
        One row: ``icc``, ``ci_low``, ``ci_high`` (F-based interval),
        ``msb`` (between-cluster mean square), ``msw`` (within), ``f``
        (msb / msw), ``n0`` (the average cluster size adjusted for
        imbalance), ``n_clusters``, ``n``.

    Notes
    -----
    With :math:`k` clusters of sizes :math:`n_i`, :math:`N=\\sum n_i`:
    :math:`MSB = \\sum n_i(\\bar y_i-\\bar y)^2/(k-1)`,
    :math:`MSW = \\sum\\sum (y_{ij}-\\bar y_i)^2/(N-k)`,
    :math:`n_0 = (N - \\sum n_i^2/N)/(k-1)` and
    :math:`\\hat\\rho = (MSB-MSW)/(MSB+(n_0-1)MSW)`, i.e. ICC(1) of Shrout &
    Fleiss for balanced data. Interval: with :math:`F = MSB/MSW`,
    :math:`F_L = F/F_{1-\\alpha/2}(k-1,N-k)`, :math:`F_U = F\\,F_{1-\\alpha/2}(N-k,k-1)`,
    bounds :math:`(F_\\cdot-1)/(F_\\cdot+n_0-1)` (exact when balanced).
    The estimate can be negative; use ``max(icc, 0)`` for planning.

    References
    ----------
    .. [1] Shrout, P.E. & Fleiss, J.L. (1979) Intraclass correlations: uses
       in assessing rater reliability. *Psychological Bulletin* 86, 420–428.
    .. [2] Donner, A. (1986) A review of inference procedures for the
       intraclass correlation coefficient in the one-way random effects
       model. *International Statistical Review* 54, 67–82.

    Examples
    --------
    >>> f = pd.DataFrame({"team": list("aaabbbccc"), "y": [1, 2, 3, 4, 5, 6, 2, 3, 4]})
    >>> round(float(icc(f, outcome="y", cluster="team").loc[0, "icc"]), 4)
    0.6667
    """
    require_columns(frame, [outcome, cluster])
    check_prob("alpha", alpha)
    data = frame[[cluster, outcome]].dropna()
    y = data[outcome].astype(float)
    grp = data.groupby(cluster, sort=True)[outcome]
    n_i = grp.size().to_numpy(float)
    means = grp.mean().astype(float).to_numpy()
    k, n = len(n_i), float(n_i.sum())
    if k < 2 or n - k < 1:
        raise DataError(f"icc needs at least 2 clusters and more observations than clusters; got {k} and {int(n)}")
    grand = float(y.mean())
    ssb = float(np.sum(n_i * (means - grand) ** 2))
    ssw = float(((y - data[cluster].map(dict(zip(grp.mean().index, means)))) ** 2).sum())
    msb, msw = ssb / (k - 1), ssw / (n - k)
    n0 = (n - np.sum(n_i**2) / n) / (k - 1)
    rho = (msb - msw) / (msb + (n0 - 1) * msw)
    f = msb / msw if msw > 0 else np.inf
    f_lo = f / stats.f.ppf(1 - alpha / 2, k - 1, n - k)
    f_hi = f * stats.f.ppf(1 - alpha / 2, n - k, k - 1)
    return pd.DataFrame([{
        "icc": rho, "ci_low": (f_lo - 1) / (f_lo + n0 - 1), "ci_high": (f_hi - 1) / (f_hi + n0 - 1),
        "msb": msb, "msw": msw, "f": f, "n0": n0, "n_clusters": k, "n": int(n),
    }])


def analysis_plan(
    design: pd.DataFrame,
    *,
    metric: str,
    start_date,
    primary: str,
    secondary=(),
    test: str = ("difference-in-differences, two-way fixed effects (unit and day), "
                 "cluster-robust (CR1) standard errors by unit, t with G-1 df"),
    treated=None,
    control=None,
    checks=("pre-trend test (treated x trend in the pre-period)", "placebo start date in the pre-period",
            "A/A split of the control group"),
    decision_rule: str | None = None,
    duration_days: int | None = None,
    unit: str | None = None,
    out_dir=None,
    name: str = "pilot_plan",
) -> dict:
    """A pre-registered analysis plan for the next pilot.

    Parameters
    ----------
    design : DataFrame
        Output of :func:`pilot_design` (the ``"t"`` row is used).
    metric : str
        The headline metric and its definition, e.g. ``"CSAT % top-2-box"``.
    start_date : date-like
        Planned first day of the pilot.
    primary : str
        Primary outcome column (one, decided before the data are seen).
    secondary : list of str
        Secondary outcomes (reported, not decisive).
    test : str
        The analysis that will be run.
    treated, control : list of str, optional
        Units assigned to each arm, if already randomized.
    checks : list of str
        Falsification checks that will be reported.
    decision_rule : str, optional
        Default: the :func:`verdict` rule.
    duration_days : int, optional
        Planned length; default the design's ``days`` (rounded up). Give it
        for cluster designs whose ``cluster_size`` was set from a length.
    unit : str, optional
        Unit of randomization written in the plan; default the design's
        (give it when the design was computed on effective observations of
        a clustered pilot).
    out_dir : path-like, optional
        If given, the plan is written there as ``<name>.json`` and
        ``<name>.md``.
    name : str, default "pilot_plan"

    Returns
    -------
    dict
        JSON-able: ``metric``, ``primary_outcome``, ``secondary_outcomes``,
        ``unit``, ``test``, ``alpha``, ``power``, ``effect``, ``sd``,
        ``icc``, ``deff``, ``n_per_arm``, ``n_effective`` and
        ``clusters_per_arm`` (rounded up), ``duration_days`` (rounded up; None without a daily rate),
        ``mde`` (None without a given n), ``start_date``, ``end_date``,
        ``treated``, ``control``, ``checks``, ``decision_rule``, ``markdown``
        (the plan as Markdown).

    Notes
    -----
    Fixing the metric, test, α, sample size and the decision rule *before*
    the pilot prevents choosing them after seeing the data (the "garden of
    forking paths").

    References
    ----------
    .. [1] Nosek, B.A. et al. (2018) The preregistration revolution. *PNAS*
       115, 2600–2606.
    .. [2] Gelman, A. & Loken, E. (2013) The garden of forking paths.

    Examples
    --------
    >>> plan = analysis_plan(pilot_design(effect=3, sd=40, daily_n=150), metric="CSAT % top-2-box",
    ...                      start_date="2026-03-02", primary="csat_top2_pct")
    >>> plan["n_per_arm"], plan["duration_days"], plan["end_date"]
    (2792, 19, '2026-03-20')
    """
    require_columns(design, ["method", "unit", "n_per_arm"], what="design")
    row = design[design["method"] == "t"].iloc[0]

    def _up(v):
        return None if v is None or not np.isfinite(v) else int(math.ceil(v - 1e-9))

    def _num(v):
        return None if v is None or not np.isfinite(v) else float(v)

    start = pd.Timestamp(start_date).date()
    duration = int(duration_days) if duration_days is not None else _up(float(row["days"]))
    end = (start + dt.timedelta(days=duration - 1)).isoformat() if duration else None
    rule = decision_rule or (
        "held: the effect's CI excludes 0 and is consistent with the prediction; "
        "did not hold: the CI excludes the prediction, or the equivalence test (TOST against ± the prediction) "
        "rules out an effect that large; inconclusive — too small to tell: neither (see cxlab.verify.verdict)")
    plan = {
        "metric": metric,
        "primary_outcome": primary,
        "secondary_outcomes": list(secondary),
        "unit": unit or str(row["unit"]),
        "test": test,
        "alpha": float(row["alpha"]),
        "power": float(row["power"]),
        "effect": float(row["effect"]),
        "sd": float(row["sd"]),
        "icc": _num(float(row["icc"])),
        "deff": float(row["deff"]),
        "n_per_arm": _up(float(row["n_per_arm"])),
        "n_effective": _up(float(row["n_effective"])),
        "clusters_per_arm": _up(float(row["clusters_per_arm"])),
        "duration_days": duration,
        "mde": _num(float(row["mde"])),
        "start_date": start.isoformat(),
        "end_date": end,
        "treated": list(treated) if treated is not None else None,
        "control": list(control) if control is not None else None,
        "checks": list(checks),
        "decision_rule": rule,
    }
    plan["markdown"] = _plan_markdown(plan)
    if out_dir is not None:
        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        body = {k: v for k, v in plan.items() if k != "markdown"}
        (folder / f"{name}.json").write_text(json.dumps(body, indent=2) + "\n")
        (folder / f"{name}.md").write_text(plan["markdown"])
    return plan


def _plan_markdown(plan: dict) -> str:
    def fmt(v):
        if v is None:
            return "—"
        if isinstance(v, float):
            return f"{v:.4g}"
        if isinstance(v, list):
            return ", ".join(map(str, v)) if v else "—"
        return str(v)

    lines = ["# Pre-registered pilot analysis plan", "", "| item | value |", "|---|---|"]
    labels = [("metric", "Metric"), ("primary_outcome", "Primary outcome"),
              ("secondary_outcomes", "Secondary outcomes"), ("unit", "Unit of randomization"),
              ("test", "Test"), ("alpha", "α (two-sided)"), ("power", "Power"),
              ("effect", "Effect to detect"), ("sd", "SD per observation"), ("icc", "ICC"),
              ("deff", "Design effect"), ("n_per_arm", "Observations per arm"),
              ("n_effective", "Effective (independent) observations per arm"),
              ("clusters_per_arm", "Clusters per arm"), ("duration_days", "Duration (days)"),
              ("mde", "MDE at the available n"), ("start_date", "Start date"), ("end_date", "End date"),
              ("treated", "Treated"), ("control", "Control")]
    lines += [f"| {label} | {fmt(plan[key])} |" for key, label in labels]
    lines += ["", "**Checks:** " + "; ".join(plan["checks"]) + ".", "",
              "**Decision rule:** " + plan["decision_rule"] + ".", ""]
    return "\n".join(lines)


def size_next_pilot(
    *,
    effect: float,
    days: int,
    alpha: float = 0.05,
    power: float = 0.8,
    pilot: pd.DataFrame | None = None,
    start_date=None,
    se: float | None = None,
    n: float | None = None,
    responses: pd.DataFrame | None = None,
    cluster: str = "team",
    unit: str = "team",
) -> dict:
    """Size the next pilot for ``effect``: calibrated on this pilot's precision, or from the history's ICC.

    Parameters
    ----------
    effect : float
        The effect to detect (outcome units), e.g. the prediction.
    days : int
        Planned length of the next pilot.
    alpha, power : float
    pilot : DataFrame, optional
        The pilot frame (:func:`cxlab.verify.pilot_frame`); with ``se`` and
        ``n`` (the CX readout's standard error and observations) the design
        is calibrated on this pilot: its *effective* responses per arm
        :math:`N_{eff} = 2(SD/SE)^2` per pilot day.
    start_date : date-like
        The pilot's start (splits ``pilot`` into pre and post days).
    se, n : float, optional
        From the CX readout.
    responses : DataFrame, optional
        Without a pilot: CX responses (``cx_value``, ``date`` and
        ``cluster``) of the history; the design is then a plain
        ``unit``-randomized comparison with the between-unit ICC.
    cluster, unit : str

    Returns
    -------
    dict
        ``design`` (:func:`pilot_design`), ``sd``, ``icc`` (:func:`icc` row),
        ``calibrated`` (bool) and, calibrated, ``n_eff``, ``design_effect``,
        ``post_days``, ``daily_n_eff``; else ``n_units``, ``per_unit_day``.

    Raises
    ------
    NotEnoughData
        Without a pilot or responses, or with fewer than 4 units.
    """
    if not effect or not np.isfinite(effect):
        raise NotEnoughData("no predicted effect to size the next pilot for")
    if pilot is not None and se is not None and np.isfinite(se) and se > 0:
        pre_resp = pilot[pilot["surveyed"] & (pilot["date"] < pd.Timestamp(start_date))]
        post_days = int(pilot.loc[pilot["date"] >= pd.Timestamp(start_date), "date"].nunique())
        sd = float(pre_resp["cx_value"].std())
        rho = icc(pre_resp, outcome="cx_value", cluster=cluster, alpha=alpha).iloc[0]
        n_eff = 2 * (sd / se) ** 2  # effective responses per arm behind this pilot's standard error
        design = pilot_design(effect=effect, sd=sd, unit="contact", alpha=alpha, power=power,
                              n_per_arm=n_eff / post_days * days, daily_n=n_eff / post_days)
        return {"design": design, "sd": sd, "icc": rho, "calibrated": True, "n_eff": n_eff,
                "design_effect": (n / 2) / n_eff if n else np.nan, "post_days": post_days,
                "daily_n_eff": n_eff / post_days}
    if responses is None or cluster not in responses.columns:
        raise NotEnoughData(f"no CX responses with a {cluster!r} to size the next pilot on")
    resp = responses.dropna(subset=["cx_value", cluster])
    n_units = int(resp[cluster].nunique())
    if n_units < 4:
        raise NotEnoughData(f"only {n_units} {unit}(s) with CX responses (needs 4)")
    sd = float(resp["cx_value"].std())
    rho = icc(resp, outcome="cx_value", cluster=cluster, alpha=alpha).iloc[0]
    per_unit_day = len(resp) / n_units / resp["date"].nunique()
    icc_value = min(max(float(rho["icc"]), 0.0), 0.999)  # a negative ANOVA estimate: no detectable clustering
    design = pilot_design(effect=effect, sd=sd, unit=unit, icc=icc_value, cluster_size=per_unit_day * days,
                          n_clusters=n_units / 2, alpha=alpha, power=power)
    return {"design": design, "sd": sd, "icc": rho, "calibrated": False, "n_units": n_units,
            "per_unit_day": per_unit_day}
