"""Step-1 plots: CX trend with its interval band, segment comparisons,
non-response balance, churn AUC and calibration.

Each function takes a frame computed by :mod:`cxlab.metric` and draws it; no
statistics happen here. Each returns the matplotlib ``Axes``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._style import PALETTE, new_figure, rows_axes

__all__ = ["cx_trend", "cx_segments", "cx_smd", "cx_auc", "cx_calibration"]

_UNITS = {"top2": "% top-2-box", "agree": "% agree (5–7)", "nps": "NPS (points)", "mean": "mean score"}


def _label(frame: pd.DataFrame) -> str:
    if {"metric", "scale"} <= set(frame.columns) and len(frame):
        m, s = frame["metric"].iloc[0], frame["scale"].iloc[0]
        return f"{m.upper()} — {_UNITS.get(s, s)}"
    return "value"


def cx_trend(summary: pd.DataFrame, *, x: str = "week", ax=None, title: str | None = None):
    """Headline over time with its confidence band (output of ``cx.summarize(by=x)``).

    Every period is on the line and inside the interval band; periods with
    fewer responses than the margin needs (``small_n``, not ``reliable``) are
    drawn as hollow points, reliable ones as filled points.
    """
    if ax is None:
        _, ax = new_figure()
    d = summary.sort_values(x)
    ax.plot(d[x], d["value"], color=PALETTE["primary"], lw=1.5, zorder=2)
    ax.fill_between(d[x], d["ci_low"].astype(float), d["ci_high"].astype(float), color=PALETTE["band"],
                    alpha=0.5, lw=0, label="95% interval", zorder=1)
    rel = d["reliable"].astype(bool) if "reliable" in d.columns else pd.Series(True, index=d.index)
    ax.scatter(d.loc[rel, x], d.loc[rel, "value"], s=12, color=PALETTE["primary"], zorder=3)
    if (~rel).any():
        ax.scatter(d.loc[~rel, x], d.loc[~rel, "value"], s=18, facecolors="white",
                   edgecolors=PALETTE["accent"], zorder=3, label="below required n")
    ax.set_ylabel(_label(d))
    ax.set_xlabel("")
    ax.set_title(title or f"{_label(d)} by {x}")
    ax.legend(loc="best", frameon=False, fontsize=8)
    return ax


def cx_segments(comparison: pd.DataFrame, *, ax=None, title: str | None = None):
    """Forest plot of ``cx.compare_segments``: difference vs reference with CI.

    Filled markers: significant after the FDR adjustment.
    """
    d = comparison.sort_values("level", ascending=False).reset_index(drop=True)
    ax, y = rows_axes(ax, len(d), per=0.35, pad=1, low=2.0)
    sig = d["significant"].fillna(False).astype(bool).to_numpy()
    ax.hlines(y, d["ci_low"], d["ci_high"], color=PALETTE["neutral"], lw=1.5)
    ax.scatter(d["diff"][sig], y[sig], color=PALETTE["accent"], zorder=3, label="significant (FDR)")
    ax.scatter(d["diff"][~sig], y[~sig], facecolors="white", edgecolors=PALETTE["primary"], zorder=3,
               label="not significant")
    ax.axvline(0, color="black", lw=0.8)
    labels = [f"{lv} vs {ref}" if ref != "rest" else str(lv) for lv, ref in zip(d["level"], d["reference"])]
    ax.set_yticks(y, labels)
    unit = "points" if d["test"].iloc[0] != "welch_t" and d["test"].iloc[0] != "mann_whitney_u" else "scale units"
    seg = d["segment"].iloc[0] if len(d) else ""
    ax.set_xlabel(f"difference ({unit})")
    ax.set_title(title or f"{_label(d)}: {seg} vs the rest" if (d["reference"] == "rest").all()
                 else title or f"{_label(d)} by {seg}")
    ax.legend(loc="best", frameon=False, fontsize=8)
    return ax


def cx_smd(before: pd.DataFrame, after: pd.DataFrame | None = None, *, threshold: float = 0.1, ax=None,
           title: str | None = None):
    """Love plot of ``cx.nonresponse_bias``: |SMD| per covariate, before (and after) weighting."""
    d = before.sort_values("covariate", ascending=False).reset_index(drop=True)
    ax, y = rows_axes(ax, len(d), per=0.3, pad=1, low=2.0)
    ax.scatter(d["smd"].abs(), y, color=PALETTE["accent"], label="surveyed vs not", zorder=3)
    if after is not None:
        a = after.set_index("covariate").reindex(d["covariate"])
        ax.scatter(a["smd"].abs(), y, marker="s", facecolors="white", edgecolors=PALETTE["primary"],
                   label="after weighting", zorder=3)
    ax.axvline(threshold, color=PALETTE["bad"], lw=0.8, ls="--")
    ax.set_yticks(y, d["covariate"])
    ax.set_xlabel("|standardized mean difference|")
    ax.set_title(title or "Non-response: do respondents differ from other contacts?")
    ax.legend(loc="best", frameon=False, fontsize=8)
    return ax


def cx_auc(auc: pd.DataFrame, *, ax=None, title: str | None = None):
    """AUC per metric with its bootstrap interval (``LoyaltyResult.auc``)."""
    d = auc.sort_values("auc").reset_index(drop=True)
    ax, y = rows_axes(ax, len(d), per=0.45, pad=1, low=2.0)
    ax.hlines(y, d["ci_low"], d["ci_high"], color=PALETTE["neutral"], lw=2)
    ax.scatter(d["auc"], y, color=PALETTE["primary"], zorder=3)
    ax.axvline(0.5, color="black", lw=0.8, ls="--")
    ax.set_yticks(y, [m.upper() for m in d["metric"]])
    ax.set_xlabel("AUC for churn (0.5 = no information)")
    ax.set_title(title or "Which score predicts churn?")
    return ax


def cx_calibration(calibration: pd.DataFrame, *, ax=None, title: str | None = None):
    """Churn rate by score band with Wilson intervals (``cx.loyalty_calibration``)."""
    d = calibration.reset_index(drop=True)
    ax, y = rows_axes(ax, len(d), per=0.3, pad=1, low=2.2)
    y = y[::-1]
    colors = [PALETTE["primary"], PALETTE["accent"], PALETTE["good"]]
    metrics = list(dict.fromkeys(d["metric"]))
    cmap = {m: colors[i % len(colors)] for i, m in enumerate(metrics)}
    rate = d["churn_rate_pct"].astype(float)
    err = np.vstack([(rate - d["ci_low"]).clip(lower=0).fillna(0), (d["ci_high"] - rate).clip(lower=0).fillna(0)])
    ax.barh(y, rate.fillna(0), color=[cmap[m] for m in d["metric"]], alpha=0.8)
    ax.errorbar(rate.fillna(0), y, xerr=err, fmt="none", ecolor="black", lw=1)
    ax.set_yticks(y, [f"{m.upper()} {b}" for m, b in zip(d["metric"], d["band"])])
    ax.set_xlabel("churned within the horizon (%)")
    ax.set_title(title or "Churn by score band")
    return ax
