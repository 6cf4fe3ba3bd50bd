"""Step 2 — staffing against queueing models: actual service level beside Erlang C and Erlang A.

:func:`erlang_check` puts the actual SL per local 30-minute interval and
queue next to the SL the staffed agents should give under Erlang C (no
abandonment) and Erlang A (M/M/n+M, exponential patience), with the models of
:mod:`cxlab.kpis.erlang`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import NotEnoughData
from ._common import InteractionsInput, coerce_options, inbound_sql, mapped_columns, queued_sql, sql_quote
from .table import kpi_table

__all__ = ["erlang_check", "erlang_check_from_aggregates"]


def _need_staffing(staffing) -> None:
    """Raise :class:`~cxlab.errors.NotEnoughData` without a staffing table (or with an empty one)."""
    if staffing is None or len(staffing) == 0:
        raise NotEnoughData("no staffing table (staffed agents per interval and queue): the Erlang check "
                            "compares actual service level with what the staffed agents should give")


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

    Contacts that never reached a queue (``reached_queue`` false) carry no
    load and are not offered.

    Raises
    ------
    cxlab.errors.NotEnoughData
        Without a staffing table (or with an empty one), or when handle time
        cannot be measured (``hold_s`` or ``acw_s`` not mapped): the load
        would be understated. Inside ``ctx.guard`` this becomes a skip note.

    References
    ----------
    docs/KPI_DEFINITIONS.md (Erlang C); Garnett, Mandelbaum & Reiman (2002) for
    Erlang A and the patience estimate.
    """
    _need_staffing(staffing)
    o = coerce_options(options)
    src = InteractionsInput(interactions)
    try:
        missing = [c for c in ("hold_s", "acw_s") if c not in mapped_columns(src)]
    finally:
        src.close()
    if missing:
        raise NotEnoughData(f"handle time is not measured (column{'s' if len(missing) > 1 else ''} "
                            f"{', '.join(repr(c) for c in missing)} not mapped in interactions): the offered load "
                            "(contacts x handle time) behind the Erlang models would be understated")
    k = kpi_table(interactions, by=("interval", "queue"), options=o, timezone=timezone, staffing=staffing)
    conc = {str(c): float(v) for c, v in (concurrency or {}).items()}
    if any(v <= 0 for v in conc.values()):
        raise ValueError(f"concurrency values must be > 0; got {concurrency!r}")
    divisor = " ".join(f"WHEN {sql_quote(c)} THEN {v!r}" for c, v in conc.items())
    divisor = f"(CASE channel {divisor} ELSE 1.0 END)" if divisor else "1.0"
    src = InteractionsInput(interactions)
    try:
        known = "NOT abandoned AND hold_s IS NOT NULL AND acw_s IS NOT NULL"
        # handle time per handled contact over those with every part known, times handled / offered
        per_q = src.fetch(
            f"SELECT queue, SUM(CASE WHEN {known} THEN CAST(talk_s + hold_s + acw_s AS DOUBLE) / {divisor} END) "
            f"/ NULLIF(SUM(CASE WHEN {known} THEN 1 ELSE 0 END), 0) "
            "* SUM(CASE WHEN NOT abandoned THEN 1 ELSE 0 END) / COUNT(*) AS workload_s, "
            "SUM(CAST(wait_s AS DOUBLE)) / NULLIF(SUM(CASE WHEN abandoned THEN 1 ELSE 0 END), 0) AS patience_s "
            f"FROM cx_input WHERE {inbound_sql(src.types)} AND {queued_sql(src.types)} GROUP BY queue"
        )
    finally:
        src.close()
    out = k[["interval", "queue", "offered", "service_level_num", "service_level_den", "service_level_pct"]].copy()
    out["agents_staffed"] = k["occupancy_den"] / 1800.0
    out = out.merge(per_q, on="queue", how="left")
    return _erlang_columns(out, o.sl_threshold_s, band_width_pct, patience_known=True)


def _erlang_columns(out: pd.DataFrame, t_s: float, band_width_pct: float, *, patience_known: bool) -> pd.DataFrame:
    """Add load, Erlang C / A expected SL and the band to interval x queue rows with agents and workload."""
    from . import erlang

    out["load_erlangs"] = out["offered"] * out["workload_s"] / 1800.0
    ok = (out["agents_staffed"] > 0) & (out["load_erlangs"] > 0) & (out["workload_s"] > 0)
    n, a = out.loc[ok, "agents_staffed"].to_numpy(), out.loc[ok, "load_erlangs"].to_numpy()
    aht = out.loc[ok, "workload_s"].to_numpy()
    out["erlang_c_sl_pct"] = np.where(out["agents_staffed"] > 0, 100.0, np.nan)
    out.loc[ok, "erlang_c_sl_pct"] = 100 * np.asarray(erlang.service_level(n, a, aht_s=aht, t_s=t_s))
    # patience known and infinite (no abandons): Erlang A is Erlang C; unknown (aggregates): not measured
    out["erlang_a_sl_pct"] = out["erlang_c_sl_pct"] if patience_known else np.nan
    pat_ok = ok & out["patience_s"].notna() & (out["patience_s"] > 0)
    if pat_ok.any():
        ea = erlang.erlang_a(out.loc[pat_ok, "agents_staffed"].to_numpy(), out.loc[pat_ok, "load_erlangs"].to_numpy(),
                             aht_s=out.loc[pat_ok, "workload_s"].to_numpy(),
                             patience_s=out.loc[pat_ok, "patience_s"].to_numpy(),
                             t_s=t_s)
        out.loc[pat_ok, "erlang_a_sl_pct"] = 100 * ea["service_level"].to_numpy()
    w = float(band_width_pct)
    lo = np.minimum(np.floor(out["erlang_c_sl_pct"] / w) * w, 100 - w)
    out["erlang_band"] = [f"{int(x):d}-{int(x + w):d}%" if np.isfinite(x) else None for x in lo]
    return out.sort_values(["interval", "queue"], kind="mergesort").reset_index(drop=True)


def _interval_length(aggregates: pd.DataFrame) -> float:
    """Seconds per interval row: ``interval_s`` when mapped, else the smallest step between period starts."""
    if "interval_s" in aggregates.columns and aggregates["interval_s"].notna().any():
        return float(aggregates["interval_s"].max())
    t = pd.Series(pd.to_datetime(aggregates["period_start"]).unique()).sort_values()
    steps = t.diff().dt.total_seconds().dropna()
    steps = steps[steps > 0]
    return float(steps.min()) if len(steps) else 1800.0


def erlang_check_from_aggregates(aggregates: pd.DataFrame, staffing: pd.DataFrame, *, options=None,
                                 timezone: str = "UTC", band_width_pct: float = 10.0) -> pd.DataFrame:
    r""":func:`erlang_check` from interval aggregates (a KPI sheet per 15 / 30 minutes and queue).

    Parameters
    ----------
    aggregates : DataFrame
        Canonical ``aggregates`` at the ``interval`` grain with ``queue``,
        ``offered``, ``answered`` (or ``abandoned``), ``aht_s`` and
        ``service_level``.
    staffing : DataFrame
        Canonical staffing, as for :func:`erlang_check`.
    options : KpiOptions or dict, optional
        ``sl_threshold_s`` is the T of the Erlang expectation: it must be the
        threshold of the sheet's own service level.
    timezone : str
    band_width_pct : float

    Returns
    -------
    DataFrame
        The columns of :func:`erlang_check`; ``service_level_*`` is the
        sheet's (offered-weighted per 30-minute interval, see
        :func:`cxlab.kpis.kpi_table_from_aggregates`), ``patience_s`` and
        ``erlang_a_sl_pct`` are NaN (a sheet gives no queue time of
        abandoned contacts, so the patience cannot be estimated).

    Raises
    ------
    cxlab.errors.NotEnoughData
        No staffing, aggregates not at the interval grain or intervals
        longer than 30 minutes (``interval_s``, else the smallest step
        between period starts), no queue, or no AHT / answered count.

    Notes
    -----
    Workload per offered contact, per queue over the input:
    AHT x answered / offered with :math:`AHT = \sum_r AHT_r answered_r /
    \sum_r answered_r` over the rows that report an AHT — the quantity
    :func:`erlang_check` computes from contacts. Load
    ``A = offered x workload / 1,800`` per 30-minute interval.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"period_start": pd.to_datetime(["2025-01-06 09:00"], utc=True), "queue": ["q"],
    ...                   "offered": [100.0], "answered": [100.0], "aht_s": [180.0], "service_level": [0.9]})
    >>> s = pd.DataFrame({"interval_start": pd.to_datetime(["2025-01-06 09:00"], utc=True), "queue": ["q"],
    ...                   "interval_s": [1800.0], "agents_staffed": [14.0]})
    >>> e = erlang_check_from_aggregates(a, s)
    >>> float(e["load_erlangs"].item()), round(float(e["erlang_c_sl_pct"].item()), 2)  # A = 100 x 180 / 1800
    (10.0, 88.84)
    """
    from .aggregates import kpi_table_from_aggregates
    from .table import _staffing_agg

    _need_staffing(staffing)
    o = coerce_options(options)
    if "queue" not in aggregates.columns or not aggregates["queue"].notna().any():
        raise NotEnoughData("the aggregates have no queue: staffing is per queue")
    k = kpi_table_from_aggregates(aggregates, by=("day",), timezone=timezone)
    if k.attrs["grain"] != "interval":
        raise NotEnoughData(f"the aggregates are {k.attrs['grain']} rows: the Erlang check needs intervals "
                            "(15 or 30 minutes)")
    length = _interval_length(aggregates)
    if length > 1800:
        raise NotEnoughData(f"the aggregates are {length / 60:g}-minute intervals: the Erlang check works per "
                            "30 minutes (15- or 30-minute rows)")
    k = kpi_table_from_aggregates(aggregates, by=("interval", "queue"), timezone=timezone)
    for kpi in ("aht", "service_level"):
        if kpi in k.attrs["not_measured"]:
            raise NotEnoughData(f"the Erlang check needs {kpi}: {k.attrs['not_measured'][kpi]}")
    per_q = k.groupby("queue", sort=True)[["aht_num", "aht_den", "handled", "offered"]].sum(min_count=1)
    workload = per_q["aht_num"] / per_q["aht_den"] * per_q["handled"] / per_q["offered"]
    per_q = pd.DataFrame({"queue": per_q.index, "workload_s": workload.to_numpy(), "patience_s": np.nan})
    staff = _staffing_agg(staffing, "interval", ["queue"], timezone)
    out = k[["interval", "queue", "offered", "service_level_num", "service_level_den", "service_level_pct"]].copy()
    staff["interval"] = staff["interval"].astype(out["interval"].dtype)
    out = out.merge(staff, on=["interval", "queue"], how="left")
    out["agents_staffed"] = out.pop("occupancy_den") / 1800.0
    out = out.merge(per_q, on="queue", how="left")
    return _erlang_columns(out, o.sl_threshold_s, band_width_pct, patience_known=False)
