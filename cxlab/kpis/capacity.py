"""Step 2 — staffing against queueing models: actual service level beside Erlang C and Erlang A.

:func:`erlang_check` puts the actual SL per local 30-minute interval and
queue next to the SL the staffed agents should give under Erlang C (no
abandonment) and Erlang A (M/M/n+M, exponential patience), with the models of
:mod:`cxlab.kpis.erlang`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import InteractionsInput, coerce_options, inbound_sql, sql_quote
from .table import kpi_table

__all__ = ["erlang_check"]


def erlang_check(interactions, staffing: pd.DataFrame, *, options=None, timezone: str = "UTC",
                 concurrency: dict | None = None, band_width_pct: float = 10.0) -> pd.DataFrame:
    """Actual service level per 30-minute interval beside the Erlang C and Erlang A expectation.

    Parameters
    ----------
    interactions : DataFrame, str/path or duckdb.DuckDBPyRelation
    staffing : DataFrame
        Canonical staffing (``interval_start``, ``queue``, ``interval_s``,
        ``agents_staffed``); intervals of at most 30 minutes.
    options : KpiOptions or dict, optional
        The SL definition (threshold T, abandon treatment) of the actual value.
    timezone : str
    concurrency : dict, optional
        Contacts an agent works at once, by channel (e.g. ``{"chat": 2}``);
        default 1 for every channel. A chat's handle time then loads the
        agent for ``handle_s / concurrency`` seconds.
    band_width_pct : float
        Width of the ``erlang_band`` bins of expected SL (percentage points).

    Returns
    -------
    DataFrame
        One row per local ``interval`` x ``queue`` with staffing: ``offered``,
        ``service_level_num``, ``service_level_den``, ``service_level_pct``
        (actual), ``agents_staffed`` (mean over the interval),
        ``workload_s`` (agent seconds per offered contact: handle time of
        handled contacts ÷ concurrency, over offered, per queue over the whole
        input) and ``patience_s`` (per queue), ``load_erlangs`` (offered x
        workload / 1,800 s), ``erlang_c_sl_pct`` and
        ``erlang_a_sl_pct`` (expected SL in %), ``erlang_band`` (expected
        Erlang C SL binned, e.g. ``"70-80%"``). :func:`rollup` by
        ``erlang_band`` gives the exact actual SL per band.

    Notes
    -----
    Offered load :math:`A = \\lambda \\cdot AHT`; here per offered contact,
    so abandons carry no work: ``A = offered x workload_s / 1,800`` with the
    queue's workload over the input (interval AHTs from a handful of calls
    are noise). Mean patience is
    the exponential maximum-likelihood estimate: total queue time of all
    offered contacts ÷ abandons (each wait is a patience time censored by
    the answer). Erlang C ignores abandonment, so it is pessimistic where
    abandons are common; Erlang A (M/M/n+M) accounts for them. Both assume
    the staffed agents are fully available to the queue.

    References
    ----------
    KPI_DEFINITIONS.md (Erlang C); Garnett, Mandelbaum & Reiman (2002) for
    Erlang A and the patience estimate.
    """
    from . import erlang

    o = coerce_options(options)
    k = kpi_table(interactions, by=("interval", "queue"), options=o, timezone=timezone, staffing=staffing)
    conc = {str(c): float(v) for c, v in (concurrency or {}).items()}
    if any(v <= 0 for v in conc.values()):
        raise ValueError(f"concurrency values must be > 0; got {concurrency!r}")
    divisor = " ".join(f"WHEN {sql_quote(c)} THEN {v!r}" for c, v in conc.items())
    divisor = f"(CASE channel {divisor} ELSE 1.0 END)" if divisor else "1.0"
    src = InteractionsInput(interactions)
    try:
        per_q = src.fetch(
            "SELECT queue, SUM(CASE WHEN NOT abandoned THEN CAST(talk_s + hold_s + acw_s AS DOUBLE) / "
            f"{divisor} ELSE 0 END) / COUNT(*) AS workload_s, "
            "SUM(CAST(wait_s AS DOUBLE)) / NULLIF(SUM(CASE WHEN abandoned THEN 1 ELSE 0 END), 0) AS patience_s "
            f"FROM cx_input WHERE {inbound_sql(src.types)} GROUP BY queue"
        )
    finally:
        src.close()
    out = k[["interval", "queue", "offered", "service_level_num", "service_level_den", "service_level_pct"]].copy()
    out["agents_staffed"] = k["occupancy_den"] / 1800.0
    out = out.merge(per_q, on="queue", how="left")
    out["load_erlangs"] = out["offered"] * out["workload_s"] / 1800.0
    ok = (out["agents_staffed"] > 0) & (out["load_erlangs"] > 0) & (out["workload_s"] > 0)
    n, a = out.loc[ok, "agents_staffed"].to_numpy(), out.loc[ok, "load_erlangs"].to_numpy()
    aht = out.loc[ok, "workload_s"].to_numpy()
    out["erlang_c_sl_pct"] = np.where(out["agents_staffed"] > 0, 100.0, np.nan)
    out.loc[ok, "erlang_c_sl_pct"] = 100 * np.asarray(erlang.service_level(n, a, aht_s=aht, t_s=o.sl_threshold_s))
    out["erlang_a_sl_pct"] = out["erlang_c_sl_pct"]
    pat_ok = ok & out["patience_s"].notna() & (out["patience_s"] > 0)
    if pat_ok.any():
        ea = erlang.erlang_a(out.loc[pat_ok, "agents_staffed"].to_numpy(), out.loc[pat_ok, "load_erlangs"].to_numpy(),
                             aht_s=out.loc[pat_ok, "workload_s"].to_numpy(),
                             patience_s=out.loc[pat_ok, "patience_s"].to_numpy(),
                             t_s=o.sl_threshold_s)
        out.loc[pat_ok, "erlang_a_sl_pct"] = 100 * ea["service_level"].to_numpy()
    w = float(band_width_pct)
    lo = np.minimum(np.floor(out["erlang_c_sl_pct"] / w) * w, 100 - w)
    out["erlang_band"] = [f"{int(x):d}-{int(x + w):d}%" if np.isfinite(x) else None for x in lo]
    return out.sort_values(["interval", "queue"], kind="mergesort").reset_index(drop=True)
