"""What the step-3 frames are built from, derived from the tables a run has: which tables have rows,
the KPI table from interactions or from aggregates, the segments present, series lags, and the tenure and
event summaries the step-3 notebook reports.
"""

from __future__ import annotations

import pandas as pd

from .._utils import as_list
from ..errors import NotEnoughData

__all__ = ["has_rows", "kpi_frame", "present_segments", "series_lag_list", "tenure_summary", "event_days"]


def has_rows(tables: dict, name: str) -> bool:
    """Whether ``tables`` holds table ``name`` with at least one row (absent, None and empty are all "no").

    Examples
    --------
    >>> import pandas as pd
    >>> has_rows({"a": pd.DataFrame({"x": [1]}), "b": pd.DataFrame()}, "a"), has_rows({"b": None}, "b")
    (True, False)
    """
    df = tables.get(name)
    return df is not None and len(df) > 0


def present_segments(tables: dict, segments) -> tuple[list[str], list[str]]:
    """The configured segment columns the run's KPI source carries, and those it does not.

    The KPI source is ``interactions`` when it has rows, else ``aggregates``.
    A segment the source does not map (or maps empty) is left out of the
    period grain, and named, rather than failing the frame.

    Examples
    --------
    >>> import pandas as pd
    >>> present_segments({"aggregates": pd.DataFrame({"offered": [1], "queue": [None]})}, ["queue"])
    ([], ['queue'])
    """
    src = tables.get("interactions") if has_rows(tables, "interactions") else tables.get("aggregates")
    segments = as_list(segments, "segments")
    if src is None:
        return [], segments
    keep = [c for c in segments if c in src.columns and src[c].notna().any()]
    return keep, [c for c in segments if c not in keep]


def tenure_summary(contacts: pd.DataFrame) -> dict:
    """Agent tenure at the contact's date over a contact-grain frame, in months (30.44 days).

    Returns
    -------
    dict
        ``n`` (contacts with a tenure), ``median_months``, ``share_first_6_months``.

    Raises
    ------
    cxlab.errors.NotEnoughData
        No contact has a tenure (no agents table, or no agent id / hire date matched).

    Examples
    --------
    >>> import pandas as pd
    >>> tenure_summary(pd.DataFrame({"tenure_days": [30.44, 91.32, 365.28, None]}))
    {'n': 3, 'median_months': 3.0, 'share_first_6_months': 0.6666666666666666}
    """
    ten = contacts["tenure_days"].dropna() / 30.44 if "tenure_days" in contacts else pd.Series(dtype=float)
    if ten.empty:
        raise NotEnoughData(f"no surveyed contact has an agent with a known hire date ({len(contacts):,} contacts)")
    return {"n": int(len(ten)), "median_months": float(round(ten.median(), 10)),
            "share_first_6_months": float((ten < 6).mean())}


def event_days(periods: pd.DataFrame) -> dict[str, int]:
    """Periods flagged by each event kind in a period frame (a period counts once across segments).

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"period": pd.to_datetime(["2025-01-01", "2025-01-01", "2025-01-02"]),
    ...                   "queue": ["a", "b", "a"], "event_outage": [1, 0, 0]})
    >>> event_days(f)
    {'outage': 1}
    """
    cols = sorted(c for c in periods.columns if c.startswith("event_"))
    return {c[6:]: int(periods.groupby("period")[c].max().sum()) for c in cols}


def series_lag_list(lags) -> list[int]:
    """Series lags as a list of ints: a list as given, or a comma string (``"0,7"``, the old parameter form).

    Examples
    --------
    >>> series_lag_list([0, 7]), series_lag_list("0, 7"), series_lag_list([])
    ([0, 7], [0, 7], [0])
    """
    if isinstance(lags, str):
        lags = [x for x in lags.split(",") if x.strip()]
    out = sorted({int(x) for x in lags})
    return out or [0]


def kpi_frame(tables: dict, *, by=("day", "queue"), options=None, timezone: str = "UTC",
              staffing: bool = True) -> pd.DataFrame:
    """The KPI table of a run: from its interactions, or from its ``aggregates`` when it has only those.

    Parameters
    ----------
    tables : dict of DataFrame
        Windowed canonical tables.
    by : sequence of str
        A period (``"day"``, ``"week"``, ``"month"``; ``"interval"``) and
        segment columns, as in :func:`cxlab.kpis.kpi_table`.
    options : KpiOptions, optional
    timezone : str
    staffing : bool
        Pass the run's ``staffing`` table (occupancy) when it has rows.

    Returns
    -------
    DataFrame
        :func:`cxlab.kpis.kpi_table` on ``interactions``, else
        :func:`cxlab.kpis.kpi_table_from_aggregates` on ``aggregates``;
        ``attrs["source"]`` says which, ``attrs["not_measured"]`` (KPI →
        reason) is kept from the KPI table.

    Raises
    ------
    cxlab.errors.NotEnoughData
        Neither table has rows; a segment column is absent; the aggregates
        are coarser than the requested period.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"period_start": pd.to_datetime(["2025-01-06", "2025-01-13"]), "offered": [10.0, 20.0]})
    >>> kpi_frame({"aggregates": a}, by=("week",))[["week", "offered"]]
            week  offered
    0 2025-01-06       10
    1 2025-01-13       20
    >>> kpi_frame({"aggregates": a}, by=("day",))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cxlab.errors.NotEnoughData: aggregates are week rows: they cannot be split into 'day'...
    """
    from .. import kpis

    by = as_list(by, "by")
    periods = ("interval", "day", "week", "month")
    segments = [b for b in by if b not in periods]
    if has_rows(tables, "interactions"):
        inter = tables["interactions"]
        absent = [c for c in segments if c not in inter.columns]
        if absent:
            raise NotEnoughData(f"segment column(s) {absent} are not in interactions "
                                f"(columns: {sorted(inter.columns)})")
        staff = tables.get("staffing") if staffing and has_rows(tables, "staffing") else None
        out = kpis.kpi_table(inter, by=tuple(by), options=options, timezone=timezone, staffing=staff)
        source = "interactions"
    elif has_rows(tables, "aggregates"):
        agg_t = tables["aggregates"]
        absent = [c for c in segments if c not in agg_t.columns or agg_t[c].isna().all()]
        if absent:
            raise NotEnoughData(f"segment column(s) {absent} are not in aggregates "
                                f"({len(agg_t):,} rows; columns: {sorted(agg_t.columns)})")
        try:
            out = kpis.kpi_table_from_aggregates(agg_t, by=tuple(by), timezone=timezone)
        except ValueError as exc:  # a period finer than the sheet's rows
            raise NotEnoughData(str(exc)) from None
        source = "aggregates"
    else:
        raise NotEnoughData("no interactions and no aggregates in the window")
    out.attrs["source"] = source
    return out
