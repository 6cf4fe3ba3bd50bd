"""What step 4 can analyse on the data a run has: the two frames, the candidates, KPI relations.

:func:`analysis_frames` builds the period-grain and contact-grain frames
from whatever tables are present (no surveys: a KPI-only period frame and
no contact frame; only aggregates: the period frame from them).
:func:`period_candidates` and :func:`contact_candidates` keep the columns
that exist, are numeric and vary in the window (a constant KPI such as 0%
transfers cannot correlate with anything). :func:`kpi_relations` shows how
the KPIs move together across periods, the analysis that stays possible
without any CX data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import NotEnoughData
from .period import period_correlations
from .testlog import TestLog

__all__ = ["AnalysisFrames", "analysis_frames", "period_candidates", "contact_candidates", "kpi_relations",
           "PERIOD_KPIS", "CONTACT_CANDIDATES"]

#: Period-grain KPI columns considered as candidates, in display order.
PERIOD_KPIS = ("service_level_pct", "asa_s", "abandon_rate_pct", "aht_s", "fcr_pct", "transfer_rate_pct",
               "hold_rate_pct", "occupancy_pct", "offered")
#: Contact-grain condition columns considered as candidates, in display order.
CONTACT_CANDIDATES = ("wait_s", "handle_s", "talk_s", "hold_s", "acw_s", "transferred", "resolved", "is_repeat",
                      "tenure_days", "qa_score", "day_service_level_pct")


#: The aggregates' CX column that carries each headline (CSAT % top-2-box, NPS points, CES mean).


def _rows(tables, name) -> pd.DataFrame | None:
    df = tables.get(name)
    return None if df is None or len(df) == 0 else df


def _has_cx(tables, cx_metric: str) -> bool:
    s = _rows(tables, "surveys")
    return s is not None and cx_metric in s.columns and bool(s[cx_metric].notna().any())


@dataclass
class AnalysisFrames:
    """The frames step 4 (and 5) can use on this run's data.

    Attributes
    ----------
    periods : DataFrame or None
        One row per period (``period``, ``cx_n``, ``cx_value`` — NaN without
        CX — and the KPI, ``event_*`` and ``series_*`` columns).
    contacts : DataFrame or None
        One row per survey response joined to its contact (None without
        interactions or without CX responses).
    source : str
        ``"interactions"`` or ``"aggregates"`` (what the period frame was built from).
    has_cx : bool
        The period frame carries CX (``cx_value`` has a value).
    notes : list of str
        Why a frame is absent, as phrases.
    """

    periods: pd.DataFrame | None
    contacts: pd.DataFrame | None
    source: str
    has_cx: bool
    notes: list = field(default_factory=list)


def _kpi_periods(tables, *, grain, options, timezone) -> pd.DataFrame:
    """KPI-only period frame from interactions (no CX): the KPI table plus events and series."""
    from .. import kpis, sources

    k = kpis.kpi_table(tables["interactions"], by=(grain,), options=options, timezone=timezone,
                       staffing=tables.get("staffing"))
    out = k.rename(columns={grain: "period"})
    out["period"] = pd.to_datetime(out["period"]).astype("datetime64[ns]")
    out.insert(1, "cx_n", 0)
    out.insert(2, "cx_value", np.nan)
    ev = _rows(tables, "events")
    if ev is not None and len(out):
        step = pd.Timedelta(days=6 if grain == "week" else 0)
        ind = sources.event_indicators(ev, start=out["period"].min(), end=out["period"].max() + step,
                                       timezone=timezone, grain=grain)
        ind["period"] = pd.to_datetime(ind["period"]).astype("datetime64[ns]")
        out = out.merge(ind, on="period", how="left")
        evcols = [c for c in out if c.startswith("event_")]
        out[evcols] = out[evcols].fillna(0).astype("int64")
    se = _rows(tables, "series")
    if se is not None:
        al = sources.align_series(se, grain=grain)
        al["period"] = pd.to_datetime(al["period"]).astype("datetime64[ns]")
        out = out.merge(al, on="period", how="left")
    return out.sort_values("period", kind="mergesort").reset_index(drop=True)


def analysis_frames(tables, *, cx_metric: str = "csat", grain: str = "day", options=None,
                    timezone: str = "UTC") -> AnalysisFrames:
    """The period-grain and contact-grain frames that this run's tables support.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Canonical tables cut to the window (absent tables may be missing or empty).
    cx_metric, grain, options, timezone
        As in :func:`cxlab.sources.period_frame`.

    Returns
    -------
    AnalysisFrames

    Raises
    ------
    NotEnoughData
        Neither interactions nor aggregates have a row in the window.

    Notes
    -----
    * interactions and CX responses: :func:`cxlab.sources.period_frame`
      (whole center) and :func:`cxlab.sources.contact_frame`;
    * interactions without CX: the KPI table per period (``cx_value`` NaN)
      with event flags and custom series; no contact frame;
    * only an ``aggregates`` table: the period frame from
      ``cxlab.kpis.kpi_table_from_aggregates`` (CX when the aggregates
      carry it); no contact frame.

    Examples
    --------
    >>> from cxlab.sample import generate
    >>> t = generate(days=20, contacts_per_day=60, seed=3)
    >>> f = analysis_frames({"interactions": t["interactions"]}, timezone="America/New_York")
    >>> f.contacts is None, f.has_cx, len(f.periods), f.notes
    (True, False, 20, ['no CSAT response in the window'])
    """
    from .. import kpis, sources

    notes: list[str] = []
    inter = _rows(tables, "interactions")
    cx_ok = _has_cx(tables, cx_metric)
    if not cx_ok:
        notes.append(f"no {cx_metric.upper()} response in the window")
    if inter is not None:
        if cx_ok:
            periods = sources.period_frame(tables, cx_metric=cx_metric, grain=grain, segments=(), options=options,
                                           timezone=timezone)
            contacts = sources.contact_frame(tables, cx_metric=cx_metric, options=options, timezone=timezone)
            if len(contacts) == 0:
                notes.append("no survey response links to a contact in the window")
                contacts = None
        else:
            periods, contacts = _kpi_periods(tables, grain=grain, options=options, timezone=timezone), None
        has = bool(periods["cx_value"].notna().any())
        return AnalysisFrames(periods, contacts, "interactions", has, notes)
    agg = _rows(tables, "aggregates")
    build = getattr(kpis, "kpi_table_from_aggregates", None)
    if agg is None or build is None:
        raise NotEnoughData("no interactions or aggregates rows in the window")
    notes = ["only aggregates: no contact-level data"]
    periods = build(agg, by=(grain,), timezone=timezone).rename(columns={grain: "period"})
    cx_col = sources.agg_cx_column(periods, cx_metric)
    if cx_col == "csat_mean":
        notes.append("the aggregates carry mean CSAT (1–5), not the top-2-box share: CX here is the mean score")
    n_col = next((c for c in (f"{cx_col}_den", f"{str(cx_col).removesuffix('_pct')}_den") if c in periods), None)
    lead = pd.DataFrame({"period": periods["period"],
                         "cx_n": periods[n_col].fillna(0).round().astype("int64") if cx_col and n_col else 0,
                         "cx_value": periods[cx_col].astype(float) if cx_col else np.nan})
    periods = pd.concat([lead, periods.drop(columns=["period"])], axis=1)
    has = bool(periods["cx_value"].notna().any())
    if not has:
        notes.append(f"the aggregates carry no {cx_metric.upper()}")
    return AnalysisFrames(periods, None, "aggregates", has, notes)


def _varies(s: pd.Series) -> bool:
    ok = pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)
    return bool(ok) and s.dropna().nunique() > 1


def period_candidates(periods: pd.DataFrame | None, *, kpis: Sequence[str] = PERIOD_KPIS,
                      extra_prefixes: Sequence[str] = ("event_", "series_")) -> dict:
    """Period-grain candidates that exist, are numeric and vary in the window.

    Parameters
    ----------
    periods : DataFrame or None
        The period frame.
    kpis : sequence of str
        KPI columns considered, in order.
    extra_prefixes : sequence of str
        Prefixes of further candidate columns (event flags, custom series).

    Returns
    -------
    dict
        ``kpis`` (the KPI candidates), ``all`` (KPIs then the others) and
        ``constant`` (columns present but without variation, with the value:
        they are left out, e.g. a 0% transfer rate) and ``not_measured``
        (columns present but empty, e.g. occupancy without staffing).

    Examples
    --------
    >>> import pandas as pd
    >>> p = pd.DataFrame({"asa_s": [10.0, 20, 30], "transfer_rate_pct": [0.0, 0, 0],
    ...                   "occupancy_pct": [None] * 3, "event_outage": [0, 1, 0]})
    >>> period_candidates(p)  # doctest: +NORMALIZE_WHITESPACE
    {'kpis': ['asa_s'], 'all': ['asa_s', 'event_outage'], 'constant': {'transfer_rate_pct': 0.0},
     'not_measured': ['occupancy_pct']}
    """
    if periods is None or len(periods) == 0:
        return {"kpis": [], "all": [], "constant": {}, "not_measured": []}
    present = [c for c in kpis if c in periods.columns]
    unmeasured = [c for c in present if not periods[c].notna().any()]
    constant = {c: float(periods[c].dropna().iloc[0]) for c in present
                if c not in unmeasured and not _varies(periods[c])}
    k = [c for c in present if c not in constant and c not in unmeasured]
    others = [c for c in periods.columns if str(c).startswith(tuple(extra_prefixes)) and _varies(periods[c])]
    return {"kpis": k, "all": k + others, "constant": constant, "not_measured": unmeasured}


def contact_candidates(contacts: pd.DataFrame | None, *, candidates: Sequence[str] = CONTACT_CANDIDATES) -> list:
    """Contact-grain candidates that exist, are numeric and vary (in the given order).

    Examples
    --------
    >>> import pandas as pd
    >>> c = pd.DataFrame({"wait_s": [1.0, 5.0], "transferred": [0.0, 0.0], "queue": ["a", "b"]})
    >>> contact_candidates(c)
    ['wait_s']
    """
    if contacts is None or len(contacts) == 0:
        return []
    return [c for c in candidates if c in contacts.columns and _varies(contacts[c])]


def kpi_relations(periods: pd.DataFrame, *, kpis: Sequence[str], time: str | None = "period", n_boot: int = 200,
                  seed: int = 0, hac_lags: int | None = None, conf: float = 0.95,
                  log: TestLog | None = None) -> pd.DataFrame:
    """How the KPIs move together across periods: every pair, autocorrelation-aware.

    Parameters
    ----------
    periods : DataFrame
        Period frame.
    kpis : sequence of str
        KPI columns (at least two that vary).
    time, n_boot, seed, hac_lags, conf
        As in :func:`period_correlations` (Pearson only).
    log : TestLog, optional
        Run-wide log (family ``"kpi_relations"``).

    Returns
    -------
    DataFrame
        One row per pair (``x`` before ``y`` in ``kpis`` order): ``x``,
        ``y``, ``n``, ``r``, ``ci_low``, ``ci_high``, ``p_val``, ``p_ac``,
        ``p_adj`` (Benjamini–Hochberg over the pairs), strongest first.

    Raises
    ------
    NotEnoughData
        Fewer than two KPIs vary.

    Notes
    -----
    Each pair is :func:`period_correlations` with one KPI as the series:
    Newey–West and effective-n p-values (the larger is ``p_ac``) and a
    moving-block bootstrap interval, so two KPIs that both trend over the
    year do not look related just because each is autocorrelated.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> asa = rng.normal(30, 5, 120)
    >>> p = pd.DataFrame({"period": pd.date_range("2025-01-01", periods=120), "asa_s": asa,
    ...                   "abandon_rate_pct": 2 + 0.2 * asa + rng.normal(0, 0.5, 120),
    ...                   "aht_s": rng.normal(300, 20, 120)})
    >>> kpi_relations(p, kpis=["asa_s", "abandon_rate_pct", "aht_s"], n_boot=0)[["x", "y"]].iloc[0].tolist()
    ['asa_s', 'abandon_rate_pct']
    """
    from .testlog import adjust_pvalues, log_rows

    ks = [k for k in kpis if k in periods.columns and _varies(periods[k])]
    if len(ks) < 2:
        raise NotEnoughData(f"only {len(ks)} KPI varies across the window's periods (needs two to relate)")
    parts = []
    for i, a in enumerate(ks[:-1]):
        res = period_correlations(periods, cx=a, candidates=ks[i + 1:], methods=("pearson",), time=time,
                                  n_boot=n_boot, seed=seed + i, hac_lags=hac_lags, conf=conf)
        parts.append(res.assign(y=a))
    out = pd.concat(parts, ignore_index=True)
    out = out.rename(columns={"x": "y", "y": "x"})[["x", "y", "n", "r", "ci_low", "ci_high", "p_val", "p_ac"]]
    out["p_adj"] = adjust_pvalues(out["p_ac"].to_numpy())
    out = out.assign(_a=out["r"].abs()).sort_values("_a", ascending=False, kind="stable").drop(columns="_a")
    out = out.reset_index(drop=True)
    log_rows(log, out, family="kpi_relations", grain="period", p="p_ac")
    return out
