"""One visual style for every cxlab figure (seaborn theme, sizes, palette)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

__all__ = ["PALETTE", "set_theme", "new_figure", "rows_axes"]

PALETTE = {
    "primary": "#1f4e79",
    "accent": "#c55a11",
    "good": "#2e7d32",
    "bad": "#c62828",
    "neutral": "#7f7f7f",
    "band": "#9dc3e6",
}


def set_theme() -> None:
    """Apply the cxlab theme (deterministic: fixed dpi, font sizes, no date stamps)."""
    sns.set_theme(context="notebook", style="whitegrid", palette="deep")
    plt.rcParams.update(
        {
            "figure.dpi": 90,
            "savefig.dpi": 90,
            "figure.figsize": (8, 3.6),
            "axes.titlesize": 12,
            "axes.titleweight": "bold",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "svg.hashsalt": "cxlab",
        }
    )


def new_figure(width: float = 8, height: float = 3.6, **kwargs):
    """Return ``(fig, ax)`` with the cxlab size defaults."""
    return plt.subplots(figsize=(width, height), **kwargs)


def rows_axes(ax, n: int, *, per: float, pad: float, low: float):
    """Return ``(ax, y)`` for a chart of ``n`` horizontal rows.

    Parameters
    ----------
    ax : matplotlib.axes.Axes or None
        Drawn on when given; otherwise a new figure of the default width.
    n : int
        Number of rows.
    per, pad, low : float
        The new figure is :math:`\\max(low, per \\cdot n + pad)` inches tall.

    Returns
    -------
    (matplotlib.axes.Axes, numpy.ndarray)
        The axes and the row positions ``0 .. n-1``.

    Examples
    --------
    >>> ax, y = rows_axes(None, 3, per=0.5, pad=1, low=2.0)
    >>> ax.figure.get_size_inches().tolist(), y.tolist()
    ([8.0, 2.5], [0, 1, 2])
    >>> plt.close(ax.figure)
    """
    if ax is None:
        _, ax = new_figure(height=max(low, per * n + pad))
    return ax, np.arange(n)
