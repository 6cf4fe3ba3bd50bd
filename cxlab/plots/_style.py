"""One visual style for every cxlab figure (seaborn theme, sizes, palette)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns

__all__ = ["PALETTE", "set_theme", "new_figure"]

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
