"""Step 5 — decisions from the driver analysis: quadrant, what-if and the focus list.

Importance alone does not say where to act. These functions combine the
bootstrap importances of :func:`cxlab.focus.bootstrap_importance` with the
current performance of each KPI and its target, and with the slopes of the
full linear model:

* :func:`quadrant` — importance–performance quadrant as probabilities
  (Martilla & James 1977), one bootstrap placement per resample;
* :func:`what_if` — predicted CX change for a stated KPI change, with a
  joint bootstrap CI;
* :func:`focus_list` — up to three components to focus on, each with its
  computed reason.

References
----------
Martilla, J. A., & James, J. C. (1977). Importance-performance analysis.
*Journal of Marketing* 41(1), 77–79.
Efron, B., & Tibshirani, R. J. (1993). *An Introduction to the Bootstrap*.
Chapman & Hall.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._utils import as_list
from ..errors import check_option
from ..fmt import label
from ._common import change_columns, coef_boot, quantile_ci
from .importance import BootstrapImportance

__all__ = ["quadrant", "what_if", "focus_list"]

QUADRANTS = ("concentrate here", "keep up the good work", "low priority", "possible overkill")


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
    >>> from cxlab.focus import bootstrap_importance
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
    design, b_hat, b_boot = coef_boot(frame, outcome=outcome, drivers=drivers, groups=groups,
                                       weights=weights, n_boot=n_boot, seed=seed)
    cols = change_columns(design, changes)
    rows = []
    total_b = np.zeros(len(b_boot))
    total = 0.0
    for c, delta in changes.items():
        j = cols.index(c)
        delta = float(delta)
        eff_b = b_boot[:, j] * delta
        total_b += eff_b
        total += b_hat[j] * delta
        clo, chi = quantile_ci(b_boot[:, j], conf)
        lo, hi = quantile_ci(eff_b, conf)
        rows.append({"driver": c, "change": delta, "coef": b_hat[j], "coef_ci_low": clo, "coef_ci_high": chi,
                     "effect": b_hat[j] * delta, "ci_low": lo, "ci_high": hi,
                     "p_improves": float((eff_b > 0).mean())})
    lo, hi = quantile_ci(total_b, conf)
    rows.append({"driver": "total", "change": np.nan, "coef": np.nan, "coef_ci_low": np.nan,
                 "coef_ci_high": np.nan, "effect": total, "ci_low": lo, "ci_high": hi,
                 "p_improves": float((total_b > 0).mean())})
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
    >>> from cxlab.focus import bootstrap_importance
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
    controls = set(as_list(controls, "controls"))
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
        base = (f"{label(r.driver)} carries {_fmt_ci(r.share, r.share_ci_low, r.share_ci_high, pct=True)} of the "
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
