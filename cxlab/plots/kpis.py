"""Step-2 plots: KPI trends, their spread by segment, service level against the
Erlang expectation, and how KPIs move under alternative definitions.

Each function takes a frame computed by :mod:`cxlab.kpis` and draws it; no
statistics happen here.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ._style import PALETTE, new_figure

__all__ = ["kpi_trend", "kpi_distribution", "sl_vs_erlang", "kpi_sensitivity"]

LABELS = {
    "service_level_pct": "Service level (%)",
    "abandon_rate_pct": "Abandon rate (%)",
    "asa_s": "ASA (s)",
    "aht_s": "AHT (s)",
    "fcr_pct": "FCR (%)",
    "transfer_rate_pct": "Transfer rate (%)",
    "hold_rate_pct": "Hold rate (%)",
    "occupancy_pct": "Occupancy (%)",
    "offered": "Offered contacts",
}
DEFAULT_TREND = ("service_level_pct", "asa_s", "abandon_rate_pct", "aht_s", "fcr_pct")


def kpi_trend(kpi_df: pd.DataFrame, *, x: str = "week", kpis=DEFAULT_TREND, hue: str | None = None,
              title: str | None = None):
    """One small panel per KPI over time (output of ``kpis.kpi_table(by=(x, ...))``).

    Parameters
    ----------
    kpi_df : DataFrame
        KPI table with the period column ``x``.
    x : str
        Period column.
    kpis : sequence of str
        Value columns to draw (those present).
    hue : str, optional
        Segment column: one line per level.

    Returns
    -------
    matplotlib.figure.Figure
    """
    cols = [k for k in kpis if k in kpi_df.columns]
    fig, axes = plt.subplots(len(cols), 1, figsize=(8, 1.55 * len(cols) + 0.6), sharex=True, squeeze=False)
    d = kpi_df.sort_values(x)
    groups = [(None, d)] if hue is None else list(d.groupby(hue, sort=True))
    for ax, col in zip(axes[:, 0], cols):
        for level, g in groups:
            ax.plot(g[x], g[col], lw=1.4, marker="o", ms=2.5, label=level,
                    color=PALETTE["primary"] if hue is None else None)
        ax.set_ylabel(LABELS.get(col, col), fontsize=8)
        ax.tick_params(labelsize=8)
    if hue is not None:
        axes[0, 0].legend(frameon=False, fontsize=7, ncol=min(len(groups), 5), loc="best")
    axes[-1, 0].set_xlabel("")
    fig.suptitle(title or f"Operational KPIs by {x}", fontsize=12, fontweight="bold")
    fig.tight_layout()
    return fig


def kpi_distribution(kpi_df: pd.DataFrame, *, kpi: str = "service_level_pct", by: str = "queue", ax=None,
                     title: str | None = None):
    """Spread of a KPI's period values (e.g. daily) per segment level, as box plots.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        _, ax = new_figure()
    d = kpi_df.dropna(subset=[kpi])
    levels = sorted(d[by].dropna().unique())
    data = [d.loc[d[by] == lv, kpi].to_numpy() for lv in levels]
    ax.boxplot(data, tick_labels=levels, orientation="horizontal", widths=0.6, showfliers=True,
               flierprops={"markersize": 2, "alpha": 0.4},
               medianprops={"color": PALETTE["accent"]}, boxprops={"color": PALETTE["primary"]})
    ax.set_xlabel(LABELS.get(kpi, kpi))
    ax.set_title(title or f"{LABELS.get(kpi, kpi)}: spread of period values by {by}")
    return ax


def sl_vs_erlang(bands: pd.DataFrame, *, band: str = "erlang_band", actual: str = "service_level_pct", ax=None,
                 title: str | None = None):
    """Actual service level per band of Erlang C expected service level.

    ``bands`` is ``kpis.rollup(kpis.erlang_check(...), by=("erlang_band",))``:
    one row per band such as ``"70-80%"``. The grey steps show the band each
    point would sit in if reality matched the model.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        _, ax = new_figure()
    d = bands.dropna(subset=[band]).copy()
    lo = d[band].str.split("-").str[0].astype(float).to_numpy()
    hi = d[band].str.split("-").str[1].str.rstrip("%").astype(float).to_numpy()
    mid = (lo + hi) / 2
    order = np.argsort(mid)
    ax.fill_between(np.r_[lo[order], hi[order][-1:]], np.r_[lo[order], hi[order][-1:]],
                    np.r_[hi[order], hi[order][-1:]], step="post", color=PALETTE["band"], alpha=0.45, lw=0,
                    label="model band")
    ax.plot(mid[order], d[actual].to_numpy()[order], marker="o", color=PALETTE["primary"], lw=1.6,
            label="actual (all contacts in band)")
    if "offered" in d:
        for xm, y, n in zip(mid[order], d[actual].to_numpy()[order], d["offered"].to_numpy()[order]):
            ax.annotate(f"{int(n):,}", (xm, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7,
                        color=PALETTE["neutral"])
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.set_xlabel("Erlang C expected service level (%), from staffing and offered load")
    ax.set_ylabel("Actual service level (%)")
    ax.set_title(title or "Service level: actual vs Erlang C expectation (30-minute intervals)")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return ax


def kpi_sensitivity(table: pd.DataFrame, *, kpis=("service_level_pct", "abandon_rate_pct", "fcr_pct", "aht_s"),
                    label: str = "definition", baseline: str | None = None, title: str | None = None):
    """Each KPI under each alternative definition (``kpi_table(definitions=...)``, one row each).

    Each definition is a point joined to the baseline (first row unless
    named; accent colour, dashed line), on an axis zoomed to the differences.
    KPIs that are not measured (NaN under the baseline) get no panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    d = table.reset_index(drop=True)
    base = d.index[d[label] == baseline][0] if baseline is not None else 0
    # a KPI that is not measured (NaN under the baseline) has no panel rather than an empty, unscalable one
    cols = [k for k in kpis if k in d.columns and np.isfinite(pd.to_numeric(d[k], errors="coerce")).any()
            and np.isfinite(float(d.loc[base, k]))]
    if not cols:
        raise ValueError(f"no KPI of {list(kpis)} is measured in the sensitivity table")
    fig, axes = plt.subplots(1, len(cols), figsize=(2.6 * len(cols) + 2.2, 0.32 * len(d) + 1.2), sharey=True,
                             squeeze=False)
    y = np.arange(len(d))[::-1]
    colors = [PALETTE["accent"] if i == base else PALETTE["primary"] for i in range(len(d))]
    for ax, col in zip(axes[0], cols):
        ref = d.loc[base, col]
        ax.hlines(y, ref, d[col], color=PALETTE["neutral"], lw=1.2)
        ax.scatter(d[col], y, color=colors, s=28, zorder=3)
        ax.axvline(ref, color=PALETTE["accent"], ls="--", lw=1)
        span = max(float(np.nanmax(np.abs(d[col] - ref))), 0.05 * max(abs(ref), 1e-9))
        ax.set_xlim(ref - 1.15 * span, ref + 1.15 * span)
        ax.set_title(LABELS.get(col, col), fontsize=9)
        ax.tick_params(labelsize=8)
    axes[0, 0].set_yticks(y)
    axes[0, 0].set_yticklabels(d[label], fontsize=8)
    fig.suptitle(title or "KPIs under alternative definitions", fontsize=12, fontweight="bold")
    fig.tight_layout()
    return fig
