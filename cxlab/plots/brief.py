"""Charts for the leadership brief: importance vs performance, the CX trend with events.

Each function takes recorded frames and returns ``(fig, alt)``: the figure
and a sentence describing what it shows, computed from the same data, for
the image's alt text (:func:`cxlab.nb.figure`). No statistics happen here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import fmt
from ._style import PALETTE, new_figure

__all__ = ["importance_vs_performance", "cx_trend_events", "relative_performance"]

_EVENT_COLOURS = {"outage": PALETTE["bad"], "campaign": PALETTE["accent"], "release": PALETTE["neutral"]}


def relative_performance(quadrant: pd.DataFrame) -> pd.Series:
    """Performance against target in % of the target, positive = better than target.

    ``(performance / target − 1) × 100``, sign flipped for lower-is-better
    drivers (``better == "lower"``).

    Examples
    --------
    >>> q = pd.DataFrame({"performance": [0.72, 22.5], "target": [0.8, 15.0], "better": ["higher", "lower"]})
    >>> relative_performance(q).round(1).tolist()
    [-10.0, -50.0]
    """
    perf = quadrant["performance"].astype(float)
    target = quadrant["target"].astype(float).replace(0, np.nan)
    sign = np.where(quadrant.get("better", pd.Series("higher", index=quadrant.index)).eq("lower"), -1.0, 1.0)
    return pd.Series(sign * (perf / target - 1) * 100, index=quadrant.index)


def _label_positions(x: np.ndarray, y: np.ndarray, xmax: float, ymax: float) -> list[tuple[float, float]]:
    """Label anchors right of each point, nudged apart vertically so no two labels overlap."""
    gap = 0.15 * ymax  # a text line and a little of the 2·ymax tall axis
    order = np.argsort(y)
    pos = {}
    placed: list[tuple[float, float]] = []
    for i in order:
        near = np.abs(x - x[i]) < 0.12 * xmax  # a crowd: label it in one column right of its points
        lx = float(np.max(x[near])) + 0.04 * xmax
        ly = y[i]
        for px, py in placed:  # labels that start near each other share a column: keep them a line apart
            if abs(px - lx) < 0.25 * xmax and abs(py - ly) < gap:
                ly = py + gap
        placed.append((lx, ly))
        pos[i] = (lx, ly)
    return [pos[i] for i in range(len(x))]


def importance_vs_performance(quadrant: pd.DataFrame, *, levers=None, title: str | None = None):
    """Importance (share of explained variation) vs performance against target, one point per lever.

    Parameters
    ----------
    quadrant : DataFrame
        Step 5's ``quadrant`` record: ``driver``, ``share`` (+ ``share_ci_low``,
        ``share_ci_high``), ``equal_share``, ``performance``, ``target``,
        ``better``, ``quadrant``.
    levers : iterable of str, optional
        Drivers to draw (controls are left out by the caller); default all.
    title : str, optional

    Returns
    -------
    (Figure, str)
        The chart and its alt text.
    """
    d = quadrant.copy()
    if levers is not None:
        d = d[d["driver"].isin(list(levers))]
    d = d.dropna(subset=["share", "performance", "target"]).reset_index(drop=True)
    fig, ax = new_figure(7.2, 3.0)
    if d.empty:
        ax.text(0.5, 0.5, "no lever with a target", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig, "Importance versus performance: no lever with a target was recorded."
    x = 100 * d["share"].astype(float)
    y = relative_performance(d)
    lo = 100 * d.get("share_ci_low", d["share"]).astype(float)
    hi = 100 * d.get("share_ci_high", d["share"]).astype(float)
    equal = 100 * float(d["equal_share"].iloc[0]) if "equal_share" in d and d["equal_share"].notna().any() else x.mean()
    concentrate = d["quadrant"].eq("concentrate here") if "quadrant" in d else pd.Series(False, index=d.index)
    colours = [PALETTE["accent"] if c else PALETTE["primary"] for c in concentrate]
    ax.hlines(y, lo, hi, color=PALETTE["neutral"], lw=1.2, zorder=1)
    ax.scatter(x, y, s=46, color=colours, zorder=3)
    ax.axvline(equal, color=PALETTE["neutral"], lw=0.8, ls="--")
    ax.axhline(0, color="black", lw=0.8)
    ymax = max(abs(float(np.nanmax(np.abs(y)))) * 1.25, 5.0)
    ax.set_ylim(-ymax, ymax)
    xmax = max(float(np.nanmax(hi)) * 1.15, equal * 1.5)
    ax.set_xlim(0, xmax)
    for (xi, yi), (lx, ly), name in zip(zip(x, y), _label_positions(x.to_numpy(), y.to_numpy(), xmax, ymax),
                                        d["driver"]):
        ax.annotate(fmt.label(name), (xi, yi), xytext=(lx, ly), textcoords="data", fontsize=8.5, va="center",
                    arrowprops={"arrowstyle": "-", "color": PALETTE["neutral"], "lw": 0.6,
                                "shrinkA": 0, "shrinkB": 3} if (abs(ly - yi) > 1e-9) else None)
    kw = {"fontsize": 8, "color": PALETTE["neutral"], "transform": ax.transAxes}
    ax.text(0.99, 0.03, "concentrate here", ha="right", va="bottom", **kw)
    ax.text(0.99, 0.97, "keep up the good work", ha="right", va="top", **kw)
    ax.text(0.01, 0.03, "low priority", ha="left", va="bottom", **kw)
    ax.text(0.01, 0.97, "possible overkill", ha="left", va="top", **kw)
    ax.set_xlabel("share of the explained variation in CX, % (95% interval)")
    ax.set_ylabel("performance vs target, %")
    ax.set_title(title or "Where to focus: importance vs performance")
    fig.tight_layout()
    parts = []
    for name, xi, yi, q in zip(d["driver"], x, y, d.get("quadrant", pd.Series("", index=d.index))):
        side = "below" if yi < 0 else "above"
        parts.append(f"{fmt.label(name)} carries {xi:.0f}% of the explained variation and is "
                     f"{abs(yi):.0f}% {side} its target ({q})")
    alt = ("Scatter chart of importance versus performance for each lever. " + "; ".join(parts) + ".")
    return fig, alt


def cx_trend_events(weekly: pd.DataFrame, events: pd.DataFrame | None = None, *, pilot_start=None,
                    label: str = "CX", title: str | None = None):
    """The CX headline by week with its band, and the events that may explain its moves.

    Parameters
    ----------
    weekly : DataFrame
        Step 1's ``weekly`` record: ``week``, ``value``, ``ci_low``, ``ci_high``
        (``reliable`` optional).
    events : DataFrame, optional
        ``start``, ``end``, ``label``, ``kind``; outages, campaigns and
        releases are shaded, other kinds are left out.
    pilot_start : date-like, optional
        Drawn as a vertical line.
    label : str
        The metric's human label (axis and alt text).
    title : str, optional

    Returns
    -------
    (Figure, str)
        The chart and its alt text (first and last week, lowest and highest
        week, the events marked).
    """
    d = weekly.copy()
    d["week"] = pd.to_datetime(d["week"])
    d = d.sort_values("week").reset_index(drop=True)
    fig, ax = new_figure(7.2, 2.6)
    ax.plot(d["week"], d["value"], color=PALETTE["primary"], lw=1.6, zorder=3)
    if {"ci_low", "ci_high"} <= set(d.columns):
        ax.fill_between(d["week"], d["ci_low"].astype(float), d["ci_high"].astype(float), color=PALETTE["band"],
                        alpha=0.5, lw=0, zorder=1, label="95% interval")
    marked = []
    if events is not None and len(events):
        ev = events.copy()
        ev["kind"] = ev.get("kind", pd.Series("", index=ev.index)).fillna("").astype(str).str.lower()
        ev = ev[ev["kind"].isin(list(_EVENT_COLOURS))]
        first, last = d["week"].min(), d["week"].max() + pd.Timedelta(days=7)
        seen = set()
        for _, e in ev.sort_values("start").iterrows():
            s = pd.to_datetime(e["start"]).tz_localize(None) if pd.to_datetime(e["start"]).tzinfo else \
                pd.to_datetime(e["start"])
            en = pd.to_datetime(e.get("end", e["start"]))
            en = en.tz_localize(None) if en.tzinfo else en
            if en < first or s > last:
                continue
            en = max(en, s + pd.Timedelta(days=1))
            kind = e["kind"]
            ax.axvspan(s, en, color=_EVENT_COLOURS[kind], alpha=0.35, lw=0, zorder=0,
                       label=kind if kind not in seen else None)
            seen.add(kind)
            marked.append(f"{kind} {fmt.date(s)}")
    if pilot_start not in (None, ""):
        ps = pd.to_datetime(pilot_start)
        ps = ps.tz_localize(None) if ps.tzinfo else ps
        ax.axvline(ps, color=PALETTE["good"], lw=1.4, ls="--", zorder=2, label="pilot start")
        marked.append(f"pilot start {fmt.date(ps)}")
    ax.set_ylabel(label)
    ax.set_title(title or f"{label} by week, 95% interval")
    ax.legend(loc="lower left", frameon=False, fontsize=8, ncol=5)
    import matplotlib.dates as mdates

    loc = mdates.AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))
    fig.tight_layout()
    v = d["value"].astype(float)
    alt = (f"Line chart of {label} by week from {fmt.date(d['week'].iloc[0])} to {fmt.date(d['week'].iloc[-1])}: "
           f"{v.iloc[0]:.1f} in the first week and {v.iloc[-1]:.1f} in the last, lowest {v.min():.1f} "
           f"(week of {fmt.date(d.loc[v.idxmin(), 'week'])}), highest {v.max():.1f} "
           f"(week of {fmt.date(d.loc[v.idxmax(), 'week'])}).")
    if marked:
        alt += " Marked: " + ", ".join(marked) + "."
    return fig, alt
