"""Step-5 plots: driver importance with CIs, rank probabilities, dominance
matrix, importance–performance quadrant and what-if effects.

Each function takes a frame computed by :mod:`cxlab.focus` and draws it;
no statistics happen here. Each returns the matplotlib ``Axes``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._style import PALETTE, new_figure, rows_axes

__all__ = ["driver_importance", "driver_ranks", "dominance_matrix", "quadrant_chart", "what_if_chart"]


def driver_importance(importance: pd.DataFrame, *, ax=None, title: str | None = None, conf: float = 0.95):
    """Share of R² per driver with its bootstrap interval (``BootstrapImportance.importance``).

    Bars: point estimate; whiskers: the interval; the label on the right gives
    the rank interval (``#1`` or ``#2–3``).
    """
    d = importance.sort_values("rank", ascending=False).reset_index(drop=True)
    ax, y = rows_axes(ax, len(d), per=0.4, pad=1, low=2.2)
    share = 100 * d["share"].to_numpy()
    lo, hi = 100 * d["share_ci_low"].to_numpy(), 100 * d["share_ci_high"].to_numpy()
    ax.barh(y, share, color=PALETTE["band"], edgecolor=PALETTE["primary"], height=0.6)
    ax.errorbar(share, y, xerr=[share - lo, hi - share], fmt="none", ecolor=PALETTE["primary"], capsize=3, lw=1.2)
    for yi, h, a, b in zip(y, hi, d["rank_ci_low"], d["rank_ci_high"]):
        ax.text(h + 0.8, yi, f"#{a}" if a == b else f"#{a}–{b}", va="center", fontsize=8,
                color=PALETTE["neutral"])
    ax.set_yticks(y, d["driver"])
    ax.set_xlabel(f"share of explained variance (%), {conf:.0%} bootstrap interval")
    ax.set_xlim(0, max(hi.max() * 1.15, 1))
    ax.set_title(title or "Driver importance (LMG share of R²)")
    return ax


def driver_ranks(ranks: pd.DataFrame, *, order=None, ax=None, title: str | None = None):
    """Heat map of P(rank = k) per driver (``BootstrapImportance.ranks``)."""
    m = ranks.pivot(index="driver", columns="rank", values="probability").sort_index(axis=1)
    if order is not None:
        m = m.loc[list(order)]
    if ax is None:
        _, ax = new_figure(width=min(8, 1.5 + 0.6 * m.shape[1]), height=max(2.2, 0.4 * len(m) + 1))
    ax.imshow(m.to_numpy(), cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            v = m.iat[i, j]
            if v >= 0.005:
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if v > 0.6 else "black")
    ax.set_xticks(range(m.shape[1]), [f"#{k}" for k in m.columns])
    ax.set_yticks(range(m.shape[0]), m.index)
    ax.grid(False)
    ax.set_xlabel("rank (1 = most important)")
    ax.set_title(title or "Probability of each rank (bootstrap)")
    return ax


_VERDICT_MARK = {"dominates": "▲", "dominated": "▼", "undetermined": "·"}


def dominance_matrix(pairwise: pd.DataFrame, *, kind: str = "complete", order=None, ax=None,
                     title: str | None = None):
    """Share of sub-models in which the row driver adds more R² than the column driver.

    ``pairwise`` is ``Dominance.pairwise``; the marks show the ``kind``
    (complete / conditional / general) verdict: ▲ row dominates, ▼ row is
    dominated, · undetermined.
    """
    names = list(order) if order is not None else list(dict.fromkeys(pairwise["driver"]))
    share = pairwise.pivot(index="driver", columns="other", values="share_greater").reindex(index=names,
                                                                                            columns=names)
    verdict = pairwise.pivot(index="driver", columns="other", values=kind).reindex(index=names, columns=names)
    if ax is None:
        _, ax = new_figure(width=min(9, 2.5 + 0.8 * len(names)), height=min(8, 1.5 + 0.55 * len(names)))
    ax.imshow(share.to_numpy(dtype=float), cmap="RdBu", vmin=-0.25, vmax=1.25)
    for i in range(len(names)):
        for j in range(len(names)):
            if i == j:
                continue
            v = share.iat[i, j]
            ax.text(j, i, f"{_VERDICT_MARK[verdict.iat[i, j]]} {v:.0%}", ha="center", va="center", fontsize=8,
                    color="white" if abs(v - 0.5) > 0.3 else "black")
    ax.set_xticks(range(len(names)), names, rotation=35, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.grid(False)
    ax.set_title(title or f"{kind.capitalize()} dominance: row vs column")
    return ax


def quadrant_chart(quadrant: pd.DataFrame, *, ax=None, title: str | None = None):
    """Importance–performance chart (output of ``cxlab.focus.quadrant``).

    x: performance relative to target in the better direction, as % of the
    target when every target is non-zero (right = better); y: share of R²
    with its interval; labels give P(concentrate here) when it is at least
    0.05. Cross-hairs: the target and the equal share 1/p.
    """
    d = quadrant.reset_index(drop=True)
    if ax is None:
        _, ax = new_figure(width=7, height=4.5)
    rel = "gap_pct" in d.columns and d["gap_pct"].notna().all()
    x = -(d["gap_pct"] if rel else d["gap"]).to_numpy(dtype=float)
    y = 100 * d["share"].to_numpy(dtype=float)
    lo, hi = 100 * d["share_ci_low"].to_numpy(), 100 * d["share_ci_high"].to_numpy()
    colors = [PALETTE["bad"] if p >= 0.5 else PALETTE["primary"] for p in d["p_concentrate"]]
    ax.errorbar(x, y, yerr=[y - lo, hi - y], fmt="none", ecolor=PALETTE["neutral"], lw=1, capsize=2)
    ax.scatter(x, y, c=colors, s=40, zorder=3)
    span = 1.25 * max(np.nanmax(np.abs(x)), 1e-9)
    ax.set_xlim(-span, span)
    ax.set_ylim(0, max(np.nanmax(hi) * 1.15, 1))
    # labels pushed up so neighbouring ones do not overlap (at least 10 pt apart, with a leader line)
    to_pt = 72.0 / ax.figure.dpi
    disp = ax.transData.transform(np.column_stack([x, y])) * to_pt
    placed: list[tuple[float, float]] = []
    for i in np.lexsort((x, y)):
        name, p = d["driver"].iloc[i], d["p_concentrate"].iloc[i]
        label = f"{name} (P={p:.2f})" if p >= 0.05 else name
        px, py = disp[i]
        ly = py + 4
        for qx, qy in placed:
            if abs(qx - px) < 90 and abs(qy - ly) < 10:
                ly = qy + 10
        placed.append((px, ly))
        ax.annotate(label, (x[i], y[i]), xytext=(6, ly - py), textcoords="offset points", fontsize=7,
                    arrowprops=dict(arrowstyle="-", color=PALETTE["neutral"], lw=0.5) if ly - py > 8 else None)
    ax.axvline(0, color="black", lw=0.8)
    if "equal_share" in d.columns:
        ax.axhline(100 * d["equal_share"].iloc[0], color="black", lw=0.8, ls="--")
    ax.set_xlabel(("performance vs target, % of target" if rel else "performance vs target")
                  + " (better direction; < 0 = short of target)")
    ax.set_ylabel("share of explained variance (%)")
    ax.text(0.01, 0.98, "concentrate here", transform=ax.transAxes, va="top", fontsize=8, color=PALETTE["bad"])
    ax.text(0.99, 0.98, "keep up the good work", transform=ax.transAxes, va="top", ha="right", fontsize=8)
    ax.text(0.01, 0.02, "low priority", transform=ax.transAxes, fontsize=8, color=PALETTE["neutral"])
    ax.text(0.99, 0.02, "possible overkill", transform=ax.transAxes, ha="right", fontsize=8,
            color=PALETTE["neutral"])
    ax.set_title(title or "Importance vs performance")
    return ax


def what_if_chart(what_if: pd.DataFrame, *, unit: str = "CX points", ax=None, title: str | None = None):
    """Predicted CX change per stated KPI change with its interval (``cxlab.focus.what_if``)."""
    d = what_if.iloc[::-1].reset_index(drop=True)
    ax, y = rows_axes(ax, len(d), per=0.45, pad=1, low=2.0)
    eff = d["effect"].to_numpy(dtype=float)
    total = (d["driver"] == "total").to_numpy()
    ax.hlines(y, d["ci_low"], d["ci_high"], color=PALETTE["neutral"], lw=2)
    ax.scatter(eff[~total], y[~total], color=PALETTE["primary"], zorder=3)
    ax.scatter(eff[total], y[total], color=PALETTE["accent"], marker="D", zorder=3)
    labels = [
        "total" if t else f"{drv} {c:+g}" for drv, c, t in zip(d["driver"], d["change"], total)
    ]
    ax.set_yticks(y, labels)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel(f"predicted change ({unit})")
    ax.set_title(title or "What if: predicted CX change")
    return ax
