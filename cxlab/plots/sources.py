"""Plots for step 3 (other sources): tenure distribution, event calendar, coverage."""

from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from ._style import PALETTE, new_figure

__all__ = ["tenure_distribution", "event_calendar"]


def tenure_distribution(frame: pd.DataFrame, *, column: str = "tenure_days", by: str | None = None):
    """Histogram of agent tenure at the contact's date (months), optionally by a group.

    Parameters
    ----------
    frame : DataFrame
        Contact-grain frame with ``tenure_days``.
    by : str, optional
        A column to colour by (e.g. ``team``'s site).
    """
    fig, ax = new_figure(8, 3.2)
    months = frame[column].dropna() / 30.44
    bins = np.arange(0, max(1.0, float(months.max())) + 3, 3)
    if by is None:
        ax.hist(months, bins=bins, color=PALETTE["primary"], alpha=0.85)
    else:
        for name, grp in frame.dropna(subset=[column]).groupby(by, sort=True):
            ax.hist(grp[column] / 30.44, bins=bins, alpha=0.6, label=str(name))
        ax.legend(title=by, frameon=False)
    ax.set_xlabel("agent tenure at the contact's date (months)")
    ax.set_ylabel("surveyed contacts")
    ax.set_title("Who handled the surveyed contacts: agent tenure")
    return ax


def event_calendar(events: pd.DataFrame, *, start, end, timezone: str = "UTC"):
    """Horizontal bars of every event inside the window (local time), one row per event.

    Parameters
    ----------
    events : DataFrame
        Canonical events (``start``, ``end``, ``label``, ``kind``, ``queue``).
    start, end : date-like
        The window to draw.
    """
    ev = events.copy()
    ev["s"] = pd.to_datetime(ev["start"], utc=True).dt.tz_convert(timezone).dt.tz_localize(None)
    ev["e"] = pd.to_datetime(ev["end"], utc=True).dt.tz_convert(timezone).dt.tz_localize(None)
    lo, hi = pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1)
    ev = ev[(ev["s"] < hi) & (ev["e"] > lo)].sort_values(["s", "label"]).reset_index(drop=True)
    kinds = sorted(ev["kind"].fillna("other").unique()) if len(ev) else []
    colors = dict(zip(kinds, [PALETTE["bad"], PALETTE["accent"], PALETTE["neutral"], PALETTE["primary"],
                              PALETTE["good"], PALETTE["band"]]))
    fig, ax = new_figure(8, max(2.0, 0.28 * len(ev) + 1.0))
    for i, row in ev.iterrows():
        s, e = max(row["s"], lo), min(row["e"], hi)
        kind = row["kind"] if isinstance(row["kind"], str) else "other"
        queue = row["queue"] if isinstance(row.get("queue"), str) else "all queues"
        ax.barh(i, (e - s) / pd.Timedelta(days=1), left=mdates.date2num(s), height=0.6,
                color=colors.get(kind, PALETTE["neutral"]))
        ax.text(mdates.date2num(e) + 1, i, f"{row['label']} ({queue})", va="center", fontsize=8)
    ax.set_yticks([])
    ax.set_xlim(mdates.date2num(lo), mdates.date2num(hi) + 40)
    ax.xaxis.set_major_locator(mdates.MonthLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b"))
    ax.invert_yaxis()
    handles = [Patch(color=colors[k]) for k in kinds]
    if handles:
        ax.legend(handles, kinds, loc="lower right", frameon=False, fontsize=8)
    ax.set_title("Event calendar (local time)")
    ax.grid(axis="y", visible=False)
    return ax
