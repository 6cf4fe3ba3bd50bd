"""Step-4 plots: correlation heatmap, ranked correlations with CIs, lag profiles,
scatter of the top pairs, partial against raw, odds ratios, within- vs between-agent.

Each function takes a frame computed by :mod:`cxlab.correlate` (or, for the
scatter, the analysis frame itself) and draws it; no statistics happen here.
Each returns the matplotlib ``Axes`` (or ``Figure`` for the multi-panel scatter).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..fmt import label
from ._style import PALETTE, new_figure, rows_axes

__all__ = [
    "correlation_heatmap",
    "ranked_correlations",
    "lag_profile",
    "pair_scatter",
    "partial_vs_raw",
    "odds_ratio_chart",
    "within_between_chart",
]


def _sig(d: pd.DataFrame, p_col: str, alpha: float) -> np.ndarray:
    if p_col not in d.columns:
        return np.zeros(len(d), dtype=bool)
    return (d[p_col].astype(float) < alpha).fillna(False).to_numpy()


def _p_rule(p_col: str, alpha: float) -> str:
    """The significance rule in words: ``p_adj`` is the FDR-adjusted p (Benjamini-Hochberg).

    >>> _p_rule("p_adj", 0.05), _p_rule("p", 0.1)
    ('adjusted p < 0.05', 'p < 0.1')
    """
    return f"{'adjusted p' if p_col == 'p_adj' else p_col} < {alpha:g}"


def _label(names, labels) -> list[str]:
    """``labels`` where given, else the human label of :func:`cxlab.fmt.label` ("wait_s" -> "wait time")."""
    labels = labels or {}
    return [labels.get(n, label(n)) for n in names]


def correlation_heatmap(result: pd.DataFrame, *, row: str = "x", col: str = "method", value: str = "r",
                        p_col: str = "p_adj", alpha: float = 0.05, labels=None, ax=None,
                        title: str | None = None):
    """Heatmap of a correlation result pivoted ``row`` x ``col`` (e.g. candidate x method or x lag).

    Cells are annotated with the value; a ``*`` marks ``p_col < alpha``.
    Rows keep their first-appearance order.
    """
    import seaborn as sns

    rows = list(dict.fromkeys(result[row]))
    cols = list(dict.fromkeys(result[col]))
    grid = result.pivot_table(index=row, columns=col, values=value, aggfunc="first").reindex(index=rows, columns=cols)
    sig = result.assign(_s=_sig(result, p_col, alpha)).pivot_table(
        index=row, columns=col, values="_s", aggfunc="first").reindex(index=rows, columns=cols)
    annot = grid.map(lambda v: "" if pd.isna(v) else f"{v:.2f}") + sig.map(lambda s: "*" if s is True else "")
    if ax is None:
        _, ax = new_figure(width=max(4.5, 0.9 * len(cols) + 3), height=max(2.4, 0.38 * len(rows) + 1.2))
    sns.heatmap(grid.astype(float), ax=ax, cmap="RdBu", vmin=-1, vmax=1, center=0, annot=annot.to_numpy(),
                fmt="", cbar_kws={"label": value}, linewidths=0.5, linecolor="white",
                annot_kws={"fontsize": 8})
    ax.set_yticklabels(_label(rows, labels), rotation=0)
    ax.set_xticklabels([str(c) for c in cols], rotation=0)
    ax.set_ylabel("")
    ax.set_xlabel(label(col))
    ax.set_title(title or f"{value} by {row} and {col} (* {_p_rule(p_col, alpha)})")
    return ax


def ranked_correlations(result: pd.DataFrame, *, value: str = "r", p_col: str = "p_adj", alpha: float = 0.05,
                        labels=None, ax=None, title: str | None = None):
    """Forest plot: one row per candidate, sorted by |r|, with its CI (``ci_low``/``ci_high``).

    Filled markers: ``p_col < alpha``; hollow: not significant.
    """
    d = result.assign(_abs=result[value].abs()).sort_values("_abs", kind="stable").reset_index(drop=True)
    ax, y = rows_axes(ax, len(d), per=0.34, pad=1.0, low=2.2)
    sig = _sig(d, p_col, alpha)
    if {"ci_low", "ci_high"} <= set(d.columns) and d["ci_low"].notna().any():
        ax.hlines(y, d["ci_low"], d["ci_high"], color=PALETTE["neutral"], lw=2, zorder=1)
    colors = np.where(d[value] >= 0, PALETTE["good"], PALETTE["bad"])
    ax.scatter(d.loc[sig, value], y[sig], color=colors[sig], s=40, zorder=3, label=_p_rule(p_col, alpha))
    ax.scatter(d.loc[~sig, value], y[~sig], facecolors="white", edgecolors=colors[~sig], s=40, zorder=3,
               label="not significant")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(_label(d["x"], labels))
    ax.set_xlabel(label(value))
    ax.set_xlim(-1, 1)
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    ax.set_title(title or "Correlation with CX (CI; filled = significant after FDR)")
    return ax


def lag_profile(lagged: pd.DataFrame, *, candidates=None, p_col: str = "p_adj", alpha: float = 0.05,
                labels=None, ax=None, title: str | None = None):
    """r against lag k (candidate at t − k vs CX at t), one line per candidate; CI band when present.

    Filled markers: ``p_col < alpha``.
    """
    if ax is None:
        _, ax = new_figure()
    import seaborn as sns

    names = list(dict.fromkeys(lagged["x"])) if candidates is None else list(candidates)
    palette = ([PALETTE["primary"], PALETTE["accent"], PALETTE["good"], PALETTE["bad"]] if len(names) <= 4
               else sns.color_palette("tab10", len(names)).as_hex())
    for i, name in enumerate(names):
        d = lagged[lagged["x"] == name].sort_values("lag")
        c = palette[i % len(palette)]
        ax.plot(d["lag"], d["r"], color=c, lw=1.5, label=_label([name], labels)[0])
        if "ci_low" in d.columns and d["ci_low"].notna().any():
            ax.fill_between(d["lag"], d["ci_low"].astype(float), d["ci_high"].astype(float), color=c,
                            alpha=0.12, lw=0)
        sig = _sig(d, p_col, alpha)
        ax.scatter(d["lag"][sig], d["r"][sig], color=c, s=28, zorder=3)
        ax.scatter(d["lag"][~sig], d["r"][~sig], facecolors="white", edgecolors=c, s=28, zorder=3)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("lag k (periods): candidate at t − k vs CX at t")
    ax.set_ylabel("r")
    ax.set_xticks(sorted(lagged["lag"].unique()))
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize=8)
    ax.set_title(title or "Lagged correlations (filled = significant after FDR)")
    return ax


def pair_scatter(frame: pd.DataFrame, *, y: str, xs, labels=None, annotations=None, ncols: int = 3,
                 title: str | None = None):
    """Scatter of CX against each of ``xs`` (the top pairs), one panel each.

    ``annotations`` maps a column to a precomputed text (e.g. ``"r = −0.42"``)
    shown in the panel; no statistics are computed here.
    """
    import matplotlib.pyplot as plt

    xs = list(xs)
    ncols = max(1, min(ncols, len(xs)))
    nrows = int(np.ceil(len(xs) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.8 * nrows), squeeze=False)
    for ax, name in zip(axes.ravel(), xs):
        ax.scatter(frame[name], frame[y], s=8, alpha=0.5, color=PALETTE["primary"], lw=0)
        ax.set_xlabel(_label([name], labels)[0])
        ax.set_ylabel(_label([y], labels)[0])
        if annotations and name in annotations:
            ax.set_title(annotations[name], fontsize=8, fontweight="normal")
    for ax in axes.ravel()[len(xs):]:
        ax.set_visible(False)
    fig.suptitle(title or f"{_label([y], labels)[0]} against the strongest candidates", fontweight="bold")
    fig.tight_layout()
    return fig


def partial_vs_raw(partial: pd.DataFrame, *, labels=None, ax=None, title: str | None = None):
    """Dumbbell: raw r (hollow) → partial r (filled, with CI) per candidate."""
    d = partial.assign(_abs=partial["r_raw"].abs()).sort_values("_abs", kind="stable").reset_index(drop=True)
    ax, y = rows_axes(ax, len(d), per=0.36, pad=1.0, low=2.2)
    ax.hlines(y, d["r_raw"], d["r_partial"], color=PALETTE["band"], lw=3, zorder=1)
    ax.hlines(y, d["ci_low"], d["ci_high"], color=PALETTE["primary"], lw=1, zorder=2)
    ax.scatter(d["r_raw"], y, facecolors="white", edgecolors=PALETTE["neutral"], s=45, zorder=3, label="raw r")
    ax.scatter(d["r_partial"], y, color=PALETTE["primary"], s=45, zorder=4, label="partial r (CI)")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(_label(d["x"], labels))
    ax.set_xlabel("r")
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    cov = d["covariates"].iloc[0] if "covariates" in d.columns and len(d) else ""
    ax.set_title(title or f"Raw vs partial correlation (controlling for {cov})")
    return ax


def odds_ratio_chart(logit: pd.DataFrame, *, role: str | None = "predictor", alpha: float = 0.05, labels=None,
                     ax=None, title: str | None = None):
    """Forest plot of odds ratios (log scale) with CIs from ``correlate.contact_logit``."""
    d = logit if role is None else logit[logit["role"] == role]
    d = d.iloc[::-1].reset_index(drop=True)
    ax, y = rows_axes(ax, len(d), per=0.36, pad=1.0, low=2.2)
    sig = _sig(d, "p_val", alpha)
    colors = np.where(d["odds_ratio"] >= 1, PALETTE["good"], PALETTE["bad"])
    ax.hlines(y, d["or_low"], d["or_high"], color=PALETTE["neutral"], lw=2, zorder=1)
    ax.scatter(d["odds_ratio"][sig], y[sig], color=colors[sig], s=40, zorder=3)
    ax.scatter(d["odds_ratio"][~sig], y[~sig], facecolors="white", edgecolors=colors[~sig], s=40, zorder=3)
    ax.axvline(1, color="black", lw=0.8)
    ax.set_xscale("log")
    lo, hi = float(np.nanmin(d["or_low"])), float(np.nanmax(d["or_high"]))
    ticks = [t for t in (0.1, 0.25, 0.5, 1, 2, 4, 10, 20) if lo / 1.5 <= t <= hi * 1.5] or [1]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.minorticks_off()
    names = _label(d["term"], labels)
    if "per" in d.columns:
        names = [n if p == 1 else f"{n} (per {p:,.0f})" for n, p in zip(names, d["per"])]
    ax.set_yticks(y)
    ax.set_yticklabels(names)
    ax.set_xlabel("odds ratio (log scale)")
    outcome = d["y"].iloc[0] if "y" in d.columns and len(d) else "outcome"
    ax.set_title(title or f"Odds ratios for {outcome}")
    return ax


def within_between_chart(within: pd.DataFrame, *, labels=None, ax=None, title: str | None = None):
    """Grouped bars per candidate: pooled r, between-subject r and within-subject r (rm_corr)."""
    d = within.reset_index(drop=True)
    ax, y = rows_axes(ax, len(d), per=0.45, pad=1.0, low=2.4)
    h = 0.26
    subject = d["subject"].iloc[0] if "subject" in d.columns and len(d) else "subject"
    ax.barh(y + h, d["r_pooled"], height=h, color=PALETTE["neutral"], label="pooled (all contacts)")
    ax.barh(y, d["r_between"], height=h, color=PALETTE["accent"], label=f"between ({subject} means)")
    ax.barh(y - h, d["r_rm"], height=h, color=PALETTE["primary"], label=f"within {subject} (rm_corr)")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(_label(d["x"], labels))
    ax.invert_yaxis()
    ax.set_xlabel("r")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize=8)
    ax.set_title(title or f"Pooled, between- and within-{subject} correlation")
    return ax
