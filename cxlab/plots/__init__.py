"""Plots: each function takes precomputed frames and returns a matplotlib Axes/Figure.

No statistics happen here. Topic modules (``plots/cx.py``, ``plots/kpis.py``, ...)
are re-exported so notebooks call ``cxlab.plots.<name>``.
"""

from ._style import PALETTE, new_figure, set_theme  # noqa: F401
