"""Shared scoring primitives of the CX metric package (used by several submodules).

The metric names, the per-metric category bands, the scale checks and the
per-response scoring rules live here once; :mod:`cxlab.metric.scoring` builds
the public API on top of them. Nothing here is exported by :mod:`cxlab.metric`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError, check_option
from ..schema import CX_SCALES

METRICS = ("csat", "nps", "ces")
CATEGORY_ORDER = {
    "csat": ("not_top2", "top2"),
    "nps": ("detractor", "passive", "promoter"),
    "ces": ("disagree", "neutral", "agree"),
}


def z_quantile(conf: float) -> float:
    if not 0 < conf < 1:
        raise ValueError(f"conf must be between 0 and 1 (e.g. 0.95); got {conf!r}")
    return float(stats.norm.ppf(0.5 + conf / 2))


def metric_kind(metric: str, csat: str, ces: str) -> str:
    """'proportion', 'nps' or 'mean' for a metric and its scale options."""
    check_option("metric", metric, METRICS)
    check_option("csat", csat, ("top2", "mean"))
    check_option("ces", ces, ("mean", "agree"))
    if metric == "nps":
        return "nps"
    if metric == "csat":
        return "proportion" if csat == "top2" else "mean"
    return "proportion" if ces == "agree" else "mean"


def scale_name(metric: str, csat: str, ces: str) -> str:
    return {"csat": csat, "nps": "nps", "ces": ces}[metric]


def present_metrics(frame: pd.DataFrame) -> list[str]:
    return [m for m in METRICS if m in frame.columns and frame[m].notna().any()]


def raw_scores(frame: pd.DataFrame, metric: str) -> pd.Series:
    raw = pd.to_numeric(frame[metric], errors="coerce").astype(float)
    lo, hi = CX_SCALES[metric]
    bad = raw.notna() & ((raw < lo) | (raw > hi))
    if bad.any():
        raise DataError(
            f"{int(bad.sum())} {metric} value(s) outside the {lo}–{hi} scale "
            f"(e.g. {raw[bad].iloc[0]:g}); validate the surveys first (cxlab.data)"
        )
    return raw


def categorize(metric: str, raw: pd.Series) -> pd.Series:
    if metric == "csat":
        cat = np.where(raw >= 4, "top2", "not_top2")
    elif metric == "nps":
        cat = np.where(raw >= 9, "promoter", np.where(raw >= 7, "passive", "detractor"))
    else:
        cat = np.where(raw >= 5, "agree", np.where(raw >= 4, "neutral", "disagree"))
    out = pd.Series(pd.Categorical(cat, categories=CATEGORY_ORDER[metric], ordered=True), index=raw.index)
    return out.where(raw.notna())


def response_values(metric: str, kind: str, raw: pd.Series) -> pd.Series:
    if kind == "mean":
        return raw
    if metric == "nps":
        v = np.where(raw >= 9, 1.0, np.where(raw >= 7, 0.0, -1.0))
    elif metric == "csat":
        v = (raw >= 4).astype(float)
    else:
        v = (raw >= 5).astype(float)
    return pd.Series(v, index=raw.index).where(raw.notna())



def spearman_ci(x: np.ndarray, y: np.ndarray, conf: float) -> dict[str, float]:
    """Spearman's ρ (pingouin ``corr``), its Fisher-z interval (pingouin ``compute_esci``) and p-value.

    Returns a dict with ``r``, ``ci_low``, ``ci_high``, ``p_val``.
    """
    import pingouin as pg

    n = len(x)
    res = pg.corr(np.asarray(x, dtype=float), np.asarray(y, dtype=float), method="spearman")
    r = float(res["r"].iloc[0])
    lo, hi = pg.compute_esci(stat=r, nx=n, ny=n, eftype="r", confidence=conf, decimals=12)
    return dict(r=r, ci_low=float(lo), ci_high=float(hi), p_val=float(res["p_val"].iloc[0]))
