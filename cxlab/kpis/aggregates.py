"""Step 2 — KPIs from aggregate-only data (daily / weekly / interval KPI sheets).

A center that exports only a KPI sheet per period (the canonical
``aggregates`` table of :mod:`cxlab.schema`) gets the same KPI table as
:func:`cxlab.kpis.kpi_table` at the sheet's grain or coarser:
:func:`kpi_table_from_aggregates`. Each reported average is turned back into
a numerator and denominator with its weight (ASA x answered, SL x offered
...), so rolling days up to weeks is a ratio of sums, never an average of
averages, and :func:`cxlab.kpis.rollup` re-aggregates the result exactly.

What the sheet cannot give is NaN and named in ``attrs["not_measured"]``:
the repeat-window FCR (only a reported ``fcr_rate``), average talk time,
short abandons and never-queued contacts unless reported, unknown customers.
The definitions are the source's (its SL threshold, its abandon rule): they
are recorded as "as reported by the source", not as cxlab's options.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError, suggest
from ._common import check_timezone
from .definitions import PERIODS
from .table import _finish

__all__ = ["kpi_table_from_aggregates", "AGGREGATE_WEIGHTS"]

_RANK = {"interval": 0, "day": 1, "week": 2, "month": 3}
_SEGMENTS = ("queue", "channel")

#: KPI -> (source value column, weight): numerator = value x weight, denominator = weight
AGGREGATE_WEIGHTS = {
    "service_level": ("service_level", "offered - short_abandoned (offered when short abandons are not reported)"),
    "abandon_rate": ("abandoned", "offered - short_abandoned (offered when short abandons are not reported)"),
    "asa": ("asa_s", "answered (offered when answered cannot be derived)"),
    "aht": ("aht_s", "answered"),
    "fcr": ("fcr_rate", "answered"),
    "transfer_rate": ("transfer_rate", "answered"),
    "hold_rate": ("hold_rate", "answered"),
    "occupancy": ("occupancy", "staffed_s"),
    "csat_mean": ("csat_mean", "csat_n"),
    "csat_top2": ("csat_top2", "csat_n"),
    "nps_points": ("nps_points", "nps_n"),
    "ces_mean": ("ces_mean", "ces_n"),
}

_NOT_IN_AGGREGATES = {
    "att": "aggregates carry no talk time",
    "no_customer_id": "aggregates carry no customer ids",
    "ivr_only": "aggregates carry no never-queued contacts",
}


def _mapped(df: pd.DataFrame) -> set[str]:
    return {c for c in df.columns if df[c].notna().any()}


def _local(ts: pd.Series, timezone: str) -> pd.Series:
    """Local naive wall time: aware timestamps converted to ``timezone``, naive ones taken as local."""
    t = pd.to_datetime(ts)
    if isinstance(t.dtype, pd.DatetimeTZDtype):
        t = t.dt.tz_convert(timezone).dt.tz_localize(None)
    return t.astype("datetime64[ns]")


def _infer_grain(local: pd.Series) -> str:
    t = pd.Series(local.dropna().unique()).sort_values()
    if len(t) == 0:
        return "day"
    if (t != t.dt.normalize()).any():
        return "interval"
    if len(t) > 1:
        gaps = t.diff().dropna().dt.days
        if (t.dt.day == 1).all() and (gaps >= 28).all():
            return "month"
        if t.dt.day_of_week.nunique() == 1 and (gaps % 7 == 0).all():
            return "week"
    return "day"


def _source_grain(df: pd.DataFrame, grain, local: pd.Series) -> str:
    if grain is not None:
        if grain not in _RANK:
            raise ValueError(f"grain: unknown value {grain!r}{suggest(grain, _RANK)}; allowed: {list(_RANK)}")
        return grain
    if "grain" in df.columns and df["grain"].notna().any():
        counts = df["grain"].dropna().value_counts()
        if len(counts) > 1:
            raise DataError(
                "aggregates: column 'grain' mixes grains "
                + ", ".join(f"{g!r} ({n} rows)" for g, n in counts.items())
                + "; load one grain per aggregates table (rolling up would double count)"
            )
        g = str(counts.index[0])
        if g not in _RANK:
            raise DataError(f"aggregates: column 'grain' holds {g!r} ({int(counts.iloc[0])} rows); "
                            f"allowed: {list(_RANK)}")
        return g
    return _infer_grain(local)


def _target_period(local: pd.Series, period: str) -> pd.Series:
    if period == "interval":
        return local.dt.floor("30min")
    day = local.dt.normalize()
    if period == "day":
        return day
    if period == "week":
        return day - pd.to_timedelta(day.dt.day_of_week, unit="D")
    return day.dt.to_period("M").dt.start_time.astype("datetime64[ns]")


def _check_totals_rows(df: pd.DataFrame, segs: list[str], period_local: pd.Series) -> None:
    """A period with an all-queues row (queue null) beside per-queue rows would be counted twice."""
    for s in segs:
        null = df[s].isna()
        if null.any() and (~null).any():
            both = set(period_local[null]) & set(period_local[~null])
            if both:
                n = int(period_local.isin(both).sum())
                raise DataError(
                    f"aggregates: {len(both)} period(s) have both an all-{s}s row ({s} null) and per-{s} rows "
                    f"({n} rows, first {min(both)}); drop the total rows or the per-{s} rows, "
                    "otherwise the contacts are counted twice"
                )


def kpi_table_from_aggregates(aggregates: pd.DataFrame, *, by=("day",), grain: str | None = None,
                              timezone: str = "UTC") -> pd.DataFrame:
    """The KPI table of :func:`cxlab.kpis.kpi_table`, computed from a canonical ``aggregates`` table.

    Parameters
    ----------
    aggregates : DataFrame
        Canonical ``aggregates`` (:mod:`cxlab.schema`): ``period_start`` and
        ``offered`` required; every other column optional. One grain per
        table.
    by : sequence of str
        At most one period of ``"interval"``, ``"day"``, ``"week"`` (ISO,
        Monday start), ``"month"`` — not finer than the source grain (week
        -> month is refused: weeks straddle months) — plus ``"queue"`` and/or
        ``"channel"`` when the table has them. ``()`` gives one row.
    grain : {"interval", "day", "week", "month"}, optional
        The source grain; default the ``grain`` column, else inferred from
        ``period_start`` (times other than midnight: interval; all first
        days of a month: month; all on one weekday, 7-day steps: week;
        otherwise day).
    timezone : str
        IANA zone of local periods. Aware ``period_start`` values are
        converted to it; naive ones are taken as local wall time already.

    Returns
    -------
    DataFrame
        The columns of :func:`cxlab.kpis.kpi_table` at the requested grain
        (period column named as in ``by``, segments, ``offered``,
        ``handled``, ``abandoned``, ``short_abandoned``, ``ivr_only``,
        ``no_customer_id``, each rate's ``_num`` / ``_den`` / value), plus
        the CX columns present: ``csat_mean``, ``csat_top2_pct``,
        ``nps_points``, ``ces_mean`` with their ``_num`` / ``_den`` (the
        ``_den`` is the response count n). ``attrs``:

        * ``not_measured`` — KPI -> reason for every KPI the sheet cannot
          give (NaN in the table, never 0);
        * ``weights`` — KPI -> the weight used (see Notes);
        * ``grain`` — the source grain; ``definitions`` — ``"as reported
          by the source"``.

    Notes
    -----
    Each reported average :math:`v_r` of row *r* becomes numerator
    :math:`v_r w_r` and denominator :math:`w_r`, and a coarser period gets
    :math:`\\sum_r v_r w_r / \\sum_r w_r`, with the KPI's own denominator as
    weight (:data:`AGGREGATE_WEIGHTS`):

    * service level: offered − short abandons (offered when short abandons
      are not reported) — the offered-weighted SL;
    * abandon rate: (abandoned − short) / (offered − short), from counts;
    * ASA, AHT, transfer, hold and FCR rates: answered contacts (ASA falls
      back to offered when answered cannot be derived) — exact when the
      source's ASA is per answered contact, as in cxlab's definition;
    * occupancy: ``staffed_s``; CX means and top-box shares: their n.

    Answered is ``answered``, else ``offered − abandoned``; abandoned is
    ``abandoned``, else ``offered − answered``, else ``abandon_rate x
    offered``. A KPI whose value or weight is not in the table is not
    measured; a row with a null value or weight is left out of that KPI.
    If the sheet was computed with cxlab's definitions, the roll-up equals
    :func:`cxlab.kpis.kpi_table` on the contacts exactly.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"period_start": pd.to_datetime(["2025-01-06", "2025-01-07"]),
    ...                   "offered": [100.0, 300.0], "answered": [90.0, 250.0], "asa_s": [20.0, 40.0],
    ...                   "service_level": [0.9, 0.7]})
    >>> w = kpi_table_from_aggregates(a, by=("week",))
    >>> round(w["asa_s"].item(), 4)  # (20 x 90 + 40 x 250) / (90 + 250)
    34.7059
    >>> round(w["service_level_pct"].item(), 1)  # (0.9 x 100 + 0.7 x 300) / 400
    75.0
    >>> w.attrs["not_measured"]["aht"]
    "aggregates: column 'aht_s' is not mapped"
    """
    if not isinstance(aggregates, pd.DataFrame):
        raise TypeError(f"aggregates must be a pandas DataFrame; got {type(aggregates).__name__}")
    check_timezone(timezone)
    df = aggregates.reset_index(drop=True)
    missing = [c for c in ("period_start", "offered") if c not in df.columns]
    if missing:
        raise DataError(f"aggregates: missing required column(s) {missing} ({len(df)} rows); "
                        f"columns present: {list(df.columns)}")
    nulls = int(df["period_start"].isna().sum())
    if nulls:
        raise DataError(f"aggregates: column 'period_start' is null in {nulls} of {len(df)} rows")
    have = _mapped(df)

    by = [by] if isinstance(by, str) else list(by or ())
    periods = [b for b in by if b in PERIODS]
    segs = [b for b in by if b not in PERIODS]
    if len(periods) > 1:
        raise ValueError(f"by may hold at most one period of {list(PERIODS)}; got {periods}")
    if len(set(by)) != len(by):
        raise ValueError(f"by has duplicates: {by}")
    for s in segs:
        if s not in _SEGMENTS:
            allowed = [*PERIODS, *_SEGMENTS]
            raise ValueError(f"by: unknown period or column {s!r}{suggest(s, allowed)}; allowed: {allowed}")
        if s not in have:
            raise DataError(f"aggregates: cannot split by {s!r}: the column is not mapped ({len(df)} rows)")
    period = periods[0] if periods else None

    local = _local(df["period_start"], timezone)
    src_grain = _source_grain(df, grain, local)
    if period is not None:
        if _RANK[period] < _RANK[src_grain] or (src_grain == "week" and period == "month"):
            raise ValueError(f"aggregates are {src_grain} rows: they cannot be split into {period!r}"
                             + (" (weeks straddle months)" if src_grain == "week" else "")
                             + f"; use a period of {[p for p in PERIODS if _RANK[p] >= _RANK[src_grain]]}")
    _check_totals_rows(df, [s for s in _SEGMENTS if s in have], local)

    num = lambda c: pd.to_numeric(df[c], errors="coerce").astype(float) if c in have else None  # noqa: E731
    offered = num("offered")
    answered, abandoned, short = num("answered"), num("abandoned"), num("short_abandoned")
    if answered is None and abandoned is not None:
        answered = offered - abandoned
    if abandoned is None and answered is not None:
        abandoned = offered - answered
    if abandoned is None and "abandon_rate" in have:
        abandoned = num("abandon_rate") * offered
    nan = pd.Series(np.nan, index=df.index)

    rows = pd.DataFrame(index=df.index)
    if period is not None:
        rows[period] = _target_period(local, period)
    for s in segs:
        rows[s] = df[s].to_numpy()
    rows["offered"] = offered
    rows["handled"] = answered if answered is not None else nan
    rows["abandoned"] = abandoned if abandoned is not None else nan
    rows["short_abandoned"] = short if short is not None else nan
    rows["ivr_only"] = nan
    rows["no_customer_id"] = nan

    nm: dict[str, str] = {}
    weights: dict[str, str] = {}

    def put(kpi: str, value: pd.Series | None, weight: pd.Series | None, why_value: str, why_weight: str,
            weight_name: str):
        if value is None or weight is None:
            nm[kpi] = why_value if value is None else why_weight
            rows[f"{kpi}_num"], rows[f"{kpi}_den"] = nan, nan
            return
        ok = value.notna() & weight.notna()
        rows[f"{kpi}_num"] = (value * weight).where(ok)
        rows[f"{kpi}_den"] = weight.where(ok)
        weights[kpi] = weight_name

    not_mapped = "aggregates: column {!r} is not mapped".format
    sl_weight = offered - short if short is not None else offered
    sl_wname = "offered - short_abandoned" if short is not None else "offered"
    put("service_level", num("service_level"), sl_weight, not_mapped("service_level"), "", sl_wname)
    if abandoned is not None:
        ab_num = abandoned - short if short is not None else abandoned
        ok = ab_num.notna() & sl_weight.notna()
        rows["abandon_rate_num"], rows["abandon_rate_den"] = ab_num.where(ok), sl_weight.where(ok)
        weights["abandon_rate"] = sl_wname
    else:
        nm["abandon_rate"] = "aggregates: none of 'abandoned', 'answered', 'abandon_rate' is mapped"
        rows["abandon_rate_num"], rows["abandon_rate_den"] = nan, nan
    no_answered = "aggregates: answered contacts are unknown (map 'answered' or 'abandoned')"
    put("asa", num("asa_s"), answered if answered is not None else offered, not_mapped("asa_s"), "",
        "answered" if answered is not None else "offered")
    for kpi, col in (("aht", "aht_s"), ("fcr", "fcr_rate"), ("transfer_rate", "transfer_rate"),
                     ("hold_rate", "hold_rate")):
        put(kpi, num(col), answered, not_mapped(col), no_answered, "answered")
    put("occupancy", num("occupancy"), num("staffed_s"), not_mapped("occupancy"),
        "aggregates: column 'staffed_s' is not mapped (occupancy cannot be weighted)", "staffed_s")
    rows["att_num"], rows["att_den"] = nan, nan
    nm.update({k: v for k, v in _NOT_IN_AGGREGATES.items() if k == "att"})
    for kpi, n_col in (("csat_mean", "csat_n"), ("csat_top2", "csat_n"), ("nps_points", "nps_n"),
                       ("ces_mean", "ces_n")):
        if kpi not in have:
            continue  # CX columns appear only when the sheet has them
        put(kpi, num(kpi), num(n_col), "", f"aggregates: column {n_col!r} is not mapped "
            f"(a {kpi} cannot be weighted without its response count)", n_col)
    if "fcr" in weights:
        weights["fcr"] += " (the source's FCR definition, not cxlab's repeat window)"
    for k in ("no_customer_id", "ivr_only"):
        nm[k] = _NOT_IN_AGGREGATES[k]
    if short is None:
        nm["short_abandoned"] = not_mapped("short_abandoned")
    if answered is None:
        nm["handled"] = no_answered

    keys = ([period] if period else []) + segs
    sums = [c for c in rows.columns if c not in keys]
    if keys:
        g = rows.groupby(keys, sort=True, dropna=False)[sums].sum(min_count=1).reset_index()
    else:
        g = rows[sums].sum(min_count=1).to_frame().T
    for c in ("offered", "handled", "abandoned", "short_abandoned"):
        v = g[c]
        if v.notna().all() and np.allclose(v, np.round(v)):
            g[c] = np.round(v).astype("int64")
    out = _finish(g, keys)
    if period is not None:
        out[period] = pd.to_datetime(out[period]).astype("datetime64[ns]")
    order = ["handled", "short_abandoned", "no_customer_id", "ivr_only", "service_level", "abandon_rate", "asa",
             "aht", "att", "fcr", "transfer_rate", "hold_rate", "occupancy",
             "csat_mean", "csat_top2", "nps_points", "ces_mean"]
    out.attrs["not_measured"] = {k: nm[k] for k in order if k in nm}
    out.attrs["weights"] = weights
    out.attrs["grain"] = src_grain
    out.attrs["definitions"] = "as reported by the source"
    return out
