"""Step-6 plots: holdout fit, natural experiments, power curve, pilot DiD, verdict.

Each function takes frames computed by :mod:`cxlab.verify` and draws
them; no statistics happen here. Each returns the matplotlib ``Axes`` (or
the ``Figure`` for multi-panel charts).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._style import PALETTE, new_figure, rows_axes

__all__ = ["holdout_chart", "episodes_chart", "power_chart", "did_chart"]


def holdout_chart(predictions: pd.DataFrame, *, label: str = "CX", ax=None, title: str | None = None):
    """Actual vs driver-model prediction vs naive baselines (``verify.holdout(...).predictions``).

    The holdout window is shaded; the baselines exist only there.
    """
    if ax is None:
        _, ax = new_figure(width=9)
    d = predictions.sort_values("date")
    x = pd.to_datetime(d["date"])
    ax.plot(x, d["actual"], color=PALETTE["neutral"], lw=1, label="actual")
    ax.plot(x, d["predicted"], color=PALETTE["primary"], lw=1.5, label="driver model")
    hold = d["window"] == "holdout"
    if hold.any():
        ax.plot(x[hold], d.loc[hold, "seasonal_mean"], color=PALETTE["accent"], lw=1, ls="--",
                label="weekday mean (baseline)")
        ax.plot(x[hold], d.loc[hold, "last_value"], color=PALETTE["good"], lw=1, ls=":",
                label="last value (baseline)")
        ax.axvspan(x[hold].min(), x[hold].max(), color=PALETTE["band"], alpha=0.2, lw=0)
        ax.text(x[hold].min(), 1.0, " holdout", transform=ax.get_xaxis_transform(), va="top", fontsize=8)
    ax.set_ylabel(label)
    ax.set_xlabel("")
    ax.set_title(title or f"{label}: driver model out of time")
    ax.legend(loc="lower left", frameon=False, fontsize=8, ncol=4)
    return ax


def episodes_chart(episodes: pd.DataFrame, *, label: str = "CX change", ax=None, title: str | None = None):
    """Observed CX change (with CI) vs the predicted change, per natural-experiment episode."""
    d = episodes.sort_values("start", ascending=False).reset_index(drop=True)
    ax, y = rows_axes(ax, len(d), per=0.35, pad=1.2, low=2.0)
    ax.hlines(y, d["ci_low"], d["ci_high"], color=PALETTE["neutral"], lw=1.5)
    ax.scatter(d["observed"], y, color=PALETTE["primary"], zorder=3, label="observed (95% CI)")
    ax.scatter(d["predicted"], y, marker="D", facecolors="white", edgecolors=PALETTE["accent"], zorder=4,
               label="predicted")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, [f"{pd.Timestamp(s).date()} ({n}d)" for s, n in zip(d["start"], d["n_periods"])])
    ax.set_xlabel(label)
    ax.set_title(title or "Natural experiments: did CX move as predicted?")
    ax.legend(loc="best", frameon=False, fontsize=8)
    return ax


def power_chart(curve: pd.DataFrame, *, x: str = "n_per_arm", target: float = 0.8, planned=None,
                unit: str = "", ax=None, title: str | None = None):
    """Power vs sample size (or days / clusters) for each effect (``verify.power_curve``).

    ``planned`` draws a vertical line at the planned size.
    """
    if ax is None:
        _, ax = new_figure()
    colors = [PALETTE["primary"], PALETTE["accent"], PALETTE["good"], PALETTE["neutral"]]
    for i, (effect, g) in enumerate(curve.groupby("effect", sort=True)):
        g = g.sort_values(x)
        ax.plot(g[x], g["power"], color=colors[i % len(colors)], lw=1.6, label=f"effect {effect:g}{unit}")
    ax.axhline(target, color="black", lw=0.8, ls="--")
    ax.text(ax.get_xlim()[0], target, f" {target:.0%} power", va="bottom", fontsize=8)
    if planned is not None and np.isfinite(planned):
        ax.axvline(planned, color=PALETTE["bad"], lw=1, ls=":", label="plan")
    names = {"n_per_arm": "observations per arm", "days": "days", "clusters_per_arm": "clusters per arm"}
    ax.set_xlabel(names.get(x, x))
    ax.set_ylabel("power")
    ax.set_ylim(0, 1.02)
    if x == "n_per_arm" and curve[x].max() / max(curve[x].min(), 1) > 50:
        ax.set_xscale("log")
    ax.set_title(title or "Power of the next pilot")
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    return ax


def did_chart(series: pd.DataFrame, effects: pd.DataFrame, *, labels: dict | None = None,
              title: str | None = None):
    """Pilot readout: treated vs control by week (one panel per outcome) and the DiD effects.

    Parameters
    ----------
    series, effects : DataFrame
        ``verify.pilot_readout(...).series`` and ``.effects``.
    labels : dict, optional
        Outcome column -> axis label.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    labels = labels or {}
    outcomes = list(dict.fromkeys(effects["outcome"]))
    fig, axes = plt.subplots(1, len(outcomes) + 1, figsize=(4.2 * (len(outcomes) + 1), 3.6),
                             gridspec_kw={"width_ratios": [3] * len(outcomes) + [2]})
    axes = np.atleast_1d(axes)
    colors = {"treated": PALETTE["accent"], "control": PALETTE["primary"]}
    for ax, out in zip(axes, outcomes):
        s = series[series["outcome"] == out]
        for group in ("control", "treated"):
            g = s[s["group"] == group].sort_values("week")
            ax.plot(g["week"], g["mean"], color=colors[group], lw=1.5, marker="o", ms=3, label=group)
            ax.fill_between(g["week"], g["ci_low"], g["ci_high"], color=colors[group], alpha=0.15, lw=0)
        ax.axvline(-0.5, color="black", lw=0.8, ls="--")
        ax.set_xlabel("weeks from pilot start")
        ax.set_ylabel(labels.get(out, out))
        ax.set_title(labels.get(out, out), fontsize=10)
        ax.legend(loc="best", frameon=False, fontsize=8)
    ax = axes[-1]
    d = effects.reset_index(drop=True)
    y = np.arange(len(d))[::-1]
    ax.hlines(y, d["ci_low"], d["ci_high"], color=PALETTE["neutral"], lw=2)
    ax.scatter(d["estimate"], y, color=PALETTE["accent"], zorder=3)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, [labels.get(o, o) for o in d["outcome"]])
    ax.set_xlabel("DiD effect (95% CI)")
    ax.set_title("effect of the pilot", fontsize=10)
    fig.suptitle(title or "Pilot: treated vs control", fontweight="bold")
    fig.tight_layout()
    return fig
