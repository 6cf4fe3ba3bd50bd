"""Plots: each function takes precomputed frames and returns a matplotlib Axes/Figure.

No statistics happen here. Topic modules (``plots/cx.py``, ``plots/kpis.py``, ...)
are re-exported so notebooks call ``cxlab.plots.<name>``.
"""

from ._style import PALETTE, new_figure, set_theme  # noqa: F401
from .correlate import (  # noqa: F401,E501
    correlation_heatmap,
    lag_profile,
    odds_ratio_chart,
    pair_scatter,
    partial_vs_raw,
    ranked_correlations,
    within_between_chart,
)
from .focus import dominance_matrix, driver_importance, driver_ranks, quadrant_chart, what_if_chart  # noqa: F401
from .kpis import kpi_distribution, kpi_sensitivity, kpi_trend, sl_vs_erlang  # noqa: F401
from .metric import cx_auc, cx_calibration, cx_segments, cx_smd, cx_trend  # noqa: F401
from .sources import event_calendar, tenure_distribution  # noqa: F401
from .verify import did_chart, episodes_chart, holdout_chart, power_chart  # noqa: F401
