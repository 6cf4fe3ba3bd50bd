"""Step 3 — other sources and the two analysis grains.

Joins the sources a team suspects influence CX (agents and their tenure,
QA scores, events, custom series) onto the two analysis frames:

* **contact grain** (:func:`contact_frame`) — each survey response with its
  *own* contact's conditions (wait, handle, hold, transfer, resolution, repeat
  flags), the handling agent's attributes and the day's context (that day's
  queue service level, event flags);
* **period grain** (:func:`period_frame`) — day or week × segment: the CX
  aggregate with its n beside KPI aggregates, event indicators and series.

Leakage rule
------------
A feature may enter the contact frame only if it was knowable at the moment
the customer answered the survey (``responded_at``):

* QA / agent scores are joined *as of the contact* (the latest score with
  ``scored_at <= arrived_at``), so a score dated after the survey cannot
  enter;
* the forward-looking repeat flag (``repeat_within_w``: the customer came
  back within W days) is replaced by ``repeat_before_response``: the customer
  came back within W days **and** before responding. The raw forward flag is
  not part of the frame;
* :func:`leakage_check` verifies every ``*_at`` feature timestamp in the frame
  is not after ``responded_at`` and raises :class:`LeakageError` otherwise;
  :func:`contact_frame` calls it before returning.

Period-grain KPIs are aggregates of the same period and are not affected.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._utils import as_list, isin, local_time_keys
from ..errors import (
    LeakageError,  # noqa: F401 (re-exported)
    NotEnoughData,
    check_option,
)
from .inputs import has_rows, kpi_frame

__all__ = [
    "LeakageError",
    "AGG_CX",
    "agg_cx_column",
    "Coverage",
    "agent_attributes",
    "asof_scores",
    "event_indicators",
    "align_series",
    "contact_frame",
    "use_cache",
    "period_frame",
    "coverage",
    "leakage_check",
    "sources_table",
    "describe_frame",
]


COLUMN_NOTES = {
    "cx_value": "CX headline per response (CSAT 0/100 top-2-box, NPS -100/0/100, CES 1-7) or per period",
    "cx_n": "survey responses in the period",
    "cx_top2": "CSAT 4 or 5 (0/1)",
    "promoter": "NPS 9-10 (0/1)",
    "nps_score": "NPS per response: +100 promoter, 0 passive, -100 detractor",
    "ces_agree": "CES 5-7 (0/1)",
    "wait_s": "this contact's queue wait, s",
    "handle_s": "talk + hold + after-contact work, s (hold per the AHT option)",
    "hold_s": "hold time, s",
    "transferred": "the contact was transferred (0/1)",
    "held": "the customer was put on hold (0/1)",
    "resolved": "agent-declared resolution (0/1)",
    "is_repeat": "this contact follows one by the same customer within W days (0/1)",
    "repeat_before_response": "the customer came back within W days and before answering the survey (0/1)",
    "tenure_days": "agent tenure at the contact's local date, days",
    "qa_score": "the agent's latest QA score before the contact",
    "day_service_level_pct": "service level of the contact's queue that local day, %",
    "day_offered": "contacts offered to the contact's queue that local day",
}


def describe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns of an analysis frame: dtype, share non-null and what the column means.

    Returns
    -------
    DataFrame
        ``column``, ``dtype``, ``non_null_pct``, ``meaning`` (from the
        documented columns; KPI columns and flags are described by pattern).
    """
    rows = []
    for col in frame.columns:
        note = COLUMN_NOTES.get(col, "")
        if not note and col.startswith("event_"):
            note = f"an event of kind '{col[6:]}' overlaps the day (0/1)"
        elif not note and col.startswith("series_"):
            note = "custom series" + (f", lagged {col.rsplit('_lag', 1)[1]} periods" if "_lag" in col else "")
        elif not note and col.endswith(("_num", "_den")):
            note = "numerator / denominator kept for exact roll-ups"
        rows.append({"column": col, "dtype": str(frame[col].dtype),
                     "non_null_pct": round(100.0 * frame[col].notna().mean(), 1) if len(frame) else 0.0,
                     "meaning": note})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Coverage:
    """How well one source matched the frame it was joined to.

    Attributes
    ----------
    source : str
        Source table name.
    key : str
        Join key.
    rows : int
        Rows on the left side of the join.
    matched : int
        Rows that found a match.
    unmatched_keys : tuple
        Distinct keys that found none (never dropped silently).
    """

    source: str
    key: str
    rows: int
    matched: int
    unmatched_keys: tuple

    @property
    def match_rate(self) -> float:
        return self.matched / self.rows if self.rows else float("nan")


# ----------------------------------------------------------------- helpers


def _local_date(ts: pd.Series, timezone: str) -> pd.Series:
    """Local calendar date (as datetime64 midnight, tz-naive) of UTC timestamps."""
    return local_time_keys(pd.to_datetime(ts, utc=True), ("day",), timezone)["day"]


def _period_start(dates: pd.Series, grain: str) -> pd.Series:
    """Start of the ``day`` or ``week`` (Monday) holding each tz-naive local date."""
    check_option("grain", grain, ("day", "week"))
    return local_time_keys(pd.to_datetime(dates), (grain,), "UTC")[grain]


def _isin(values: pd.Series, pool) -> pd.Series:
    """:func:`cxlab._utils.isin` as a Series on ``values``' index (pyarrow hashing: pandas 3's
    Arrow-string ``isin`` iterates in Python, measured 15x slower at 350k rows)."""
    return pd.Series(isin(values, pool), index=values.index)


def _as_date64(s: pd.Series) -> pd.Series:
    s = pd.to_datetime(s)
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_localize(None)
    return s.dt.normalize()


# ------------------------------------------------------------------- joins


def agent_attributes(contacts: pd.DataFrame, agents: pd.DataFrame, *, timezone: str = "UTC") -> tuple[pd.DataFrame, Coverage]:
    """Attach team, agent site and tenure at the contact's date.

    Parameters
    ----------
    contacts : DataFrame
        Needs ``agent_id`` and ``arrived_at`` (UTC).
    agents : DataFrame
        Canonical agents table (``agent_id``, ``hire_date``, ``team``, ``site``).
    timezone : str
        The center's time zone; tenure counts local calendar days.

    Returns
    -------
    frame : DataFrame
        ``contacts`` plus ``team``, ``agent_site``, ``tenure_days`` (days from
        hire date to the contact's local date — at the contact's date, never
        today) and ``agent_known`` (bool).
    coverage : Coverage
        Contacts with an agent id absent from ``agents`` are counted and their
        ids listed; they stay in the frame with null attributes.

    Examples
    --------
    >>> import pandas as pd
    >>> c = pd.DataFrame({"agent_id": ["a1", "zz"],
    ...                   "arrived_at": pd.to_datetime(["2025-03-10 15:00", "2025-03-10 15:00"], utc=True)})
    >>> a = pd.DataFrame({"agent_id": ["a1"], "hire_date": pd.to_datetime(["2025-03-01"]),
    ...                   "team": ["T1"], "site": ["north"]})
    >>> f, cov = agent_attributes(c, a)
    >>> f["tenure_days"].tolist(), cov.unmatched_keys
    ([9.0, nan], ('zz',))
    """
    a = agents[["agent_id", "hire_date", "team"] + (["site"] if "site" in agents else [])].rename(
        columns={"site": "agent_site"}
    )
    a = a.assign(hire_date=_as_date64(a["hire_date"]))
    out = contacts.merge(a, on="agent_id", how="left", validate="many_to_one")
    has_agent = out["agent_id"].notna()
    known = has_agent & out["hire_date"].notna()
    local = _local_date(out["arrived_at"], timezone)
    out["tenure_days"] = (local - out["hire_date"]).dt.days.astype("float64")
    out["agent_known"] = known
    unmatched = tuple(sorted(out.loc[has_agent & ~known, "agent_id"].astype(str).unique()))
    cov = Coverage("agents", "agent_id", int(has_agent.sum()), int(known.sum()), unmatched)
    return out.drop(columns=["hire_date"]), cov


def asof_scores(
    left: pd.DataFrame,
    scores: pd.DataFrame,
    *,
    on: str = "arrived_at",
    metric: str = "qa",
    by: str = "agent_id",
    prefix: str | None = None,
) -> tuple[pd.DataFrame, Coverage]:
    """As-of join: the latest score at or before each row's time.

    Parameters
    ----------
    left : DataFrame
        Rows to enrich; needs ``by`` and ``on`` (tz-aware UTC timestamps).
    scores : DataFrame
        Canonical ``agent_scores`` (``agent_id``, ``scored_at``, ``metric``, ``value``).
    on : str
        The as-of time column of ``left`` (for contacts: ``arrived_at``).
    metric : str
        Which score to join.
    prefix : str, optional
        Output column prefix (default: the metric name).

    Returns
    -------
    frame : DataFrame
        ``left`` (original row order) plus ``<prefix>_score`` and
        ``<prefix>_scored_at``. Rows before the agent's first score get nulls.
    coverage : Coverage
        Rows without any earlier score are counted; agents without any score
        listed.

    Notes
    -----
    Times are compared as UTC instants, so sources recorded in different time
    zones join correctly. A score stamped exactly at the contact time counts
    as known (``<=``). Scores are unique per (agent, time, metric) after
    validation; remaining exact duplicates are averaged.

    Examples
    --------
    >>> import pandas as pd
    >>> left = pd.DataFrame({"agent_id": ["a", "a"],
    ...     "arrived_at": pd.to_datetime(["2025-01-05", "2025-02-05"], utc=True)})
    >>> sc = pd.DataFrame({"agent_id": ["a"], "scored_at": pd.to_datetime(["2025-02-01"], utc=True),
    ...     "metric": ["qa"], "value": [80.0]})
    >>> asof_scores(left, sc)[0]["qa_score"].tolist()
    [nan, 80.0]
    """
    prefix = prefix or metric
    s = scores.loc[scores["metric"] == metric, [by, "scored_at", "value"]]
    s = s.groupby([by, "scored_at"], as_index=False, sort=True)["value"].mean()
    s = s.rename(columns={"value": f"{prefix}_score", "scored_at": f"{prefix}_scored_at"})
    s[f"{prefix}_scored_at"] = pd.to_datetime(s[f"{prefix}_scored_at"], utc=True).astype("datetime64[ns, UTC]")
    base = left.reset_index(drop=True).copy()
    base["_row"] = np.arange(len(base))
    base[on] = pd.to_datetime(base[on], utc=True).astype("datetime64[ns, UTC]")
    ok = base[by].notna() & base[on].notna()
    work = base.loc[ok].sort_values(on, kind="mergesort")
    s = s.assign(_t=s[f"{prefix}_scored_at"]).sort_values("_t", kind="mergesort")
    joined = pd.merge_asof(
        work, s, left_on=on, right_on="_t", by=by, direction="backward", allow_exact_matches=True
    ).drop(columns="_t")
    rest = base.loc[~ok].assign(**{f"{prefix}_score": np.nan, f"{prefix}_scored_at": pd.NaT})
    out = pd.concat([joined, rest], ignore_index=True).sort_values("_row").drop(columns="_row")
    out[f"{prefix}_scored_at"] = pd.to_datetime(out[f"{prefix}_scored_at"], utc=True)
    matched = int(out[f"{prefix}_score"].notna().sum())
    scored_agents = set(s[by])
    unmatched = tuple(sorted({str(a) for a in base.loc[ok, by].unique() if a not in scored_agents}))
    cov = Coverage(f"agent_scores[{metric}]", by, int(ok.sum()), matched, unmatched)
    return out.reset_index(drop=True), cov


def event_indicators(
    events: pd.DataFrame,
    *,
    start: dt.date | str,
    end: dt.date | str,
    timezone: str = "UTC",
    segments=None,
    segment_col: str = "queue",
    grain: str = "day",
    by: str = "kind",
) -> pd.DataFrame:
    """Indicator columns per period (and segment) from overlapping event windows.

    Parameters
    ----------
    events : DataFrame
        Canonical events (``start``, ``end`` UTC instants, end exclusive;
        ``label``, optional ``kind`` and ``queue``; a null queue means all).
    start, end : date
        Inclusive range of local dates to cover.
    timezone : str
        Local days run from local midnight to the next local midnight, so a
        DST day lasts 23 or 25 hours.
    segments : sequence, optional
        Segment values (e.g. queues). ``None`` gives one row per period.
    grain : {"day", "week"}
        Period grain; a week is flagged when any of its days is.
    by : {"kind", "label"}
        Name the indicator columns by event kind or by label.

    Returns
    -------
    DataFrame
        ``period`` (datetime64 local midnight), optionally ``segment_col``,
        and one 0/1 column ``event_<name>`` per event kind (or label), sorted.

    Notes
    -----
    An event overlaps local day *d* when ``start < next_midnight(d)`` and
    ``end > midnight(d)``; an event spanning midnight flags both days.
    """
    check_option("by", by, ("kind", "label"))
    days = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D")
    lo = days.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward").tz_convert("UTC")
    hi = (days + pd.Timedelta(days=1)).tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward").tz_convert("UTC")
    ev = events.copy()
    name_col = by if by in ev and ev[by].notna().any() else "label"
    names = ev[name_col].fillna("other").astype(str).str.lower().str.replace(r"[^a-z0-9]+", "_", regex=True).str.strip("_")
    ev = ev.assign(_name=names, _s=pd.to_datetime(ev["start"], utc=True), _e=pd.to_datetime(ev["end"], utc=True))
    seg_values = [None] if segments is None else sorted(segments)
    cols = sorted(ev["_name"].unique())
    rows = []
    for seg in seg_values:
        frame = pd.DataFrame({"period": days})
        if seg is not None:
            frame[segment_col] = seg
        for name in cols:
            flag = np.zeros(len(days), dtype=bool)
            sub = ev[ev["_name"] == name]
            if seg is not None and "queue" in sub:
                sub = sub[sub["queue"].isna() | (sub["queue"] == seg)]
            for s, e in zip(sub["_s"], sub["_e"]):
                flag |= (s < hi) & (e > lo)
            frame[f"event_{name}"] = flag.astype("int64")
        rows.append(frame)
    out = pd.concat(rows, ignore_index=True)
    if grain == "week":
        out["period"] = _period_start(out["period"], "week")
        keys = ["period"] + ([segment_col] if segments is not None else [])
        out = out.groupby(keys, as_index=False, sort=True).max()
    keys = ["period"] + ([segment_col] if segments is not None else [])
    return out.sort_values(keys, kind="mergesort").reset_index(drop=True)


def align_series(series: pd.DataFrame, *, grain: str = "day", lags=(0,), names=None) -> pd.DataFrame:
    """Wide custom series aligned to periods, with optional lags.

    Parameters
    ----------
    series : DataFrame
        Canonical ``series`` (``date``, ``name``, ``value``, optional ``segment``).
    grain : {"day", "week"}
        Weekly alignment averages the days of each ISO week (Monday start).
    lags : sequence of int
        Lag k gives the value k periods earlier (by calendar, not by row, so
        gaps stay gaps): column ``series_<name>_lag<k>``; lag 0 is ``series_<name>``.
    names : sequence of str, optional
        Which series (default all).

    Returns
    -------
    DataFrame
        ``period`` plus one column per series and lag (segment-level series
        are averaged over segments unless the frame is segment-specific).

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"date": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03"]),
    ...                   "name": "web", "value": [1.0, 2.0, 3.0]})
    >>> align_series(s, lags=(0, 1))["series_web_lag1"].tolist()
    [nan, 1.0, 2.0]
    """
    check_option("grain", grain, ("day", "week"))
    s = series.copy()
    if names is not None:
        s = s[_isin(s["name"], as_list(names, "names"))]
    s["period"] = _period_start(_as_date64(s["date"]), grain)
    wide = s.pivot_table(index="period", columns="name", values="value", aggfunc="mean").sort_index()
    step = pd.Timedelta(days=7 if grain == "week" else 1)
    out = pd.DataFrame(index=wide.index)
    for name in sorted(wide.columns):
        for k in sorted(set(int(x) for x in lags)):
            col = f"series_{name}" if k == 0 else f"series_{name}_lag{k}"
            shifted = wide[name].copy()
            shifted.index = shifted.index + k * step
            out[col] = shifted.reindex(out.index)
    return out.reset_index()


# ------------------------------------------------------------------ frames


def _cx_per_response(surveys: pd.DataFrame, cx_metric: str) -> pd.DataFrame:
    """Per-response CX columns, scored by :func:`cxlab.metric.score_responses` (one definition)."""
    from .. import metric as cx
    from ..schema import CX_SCALES

    check_option("cx_metric", cx_metric, tuple(CX_SCALES))
    cx.score_responses(surveys, metric=cx_metric)  # a DataError naming the metrics present if absent
    out = pd.DataFrame(index=surveys.index)
    present = [m for m in CX_SCALES if m in surveys and surveys[m].notna().any()]
    if "csat" in present:
        out["cx_top2"] = cx.score_responses(surveys, metric="csat", csat="top2")["value"].to_numpy()
    if "nps" in present:
        nps = cx.score_responses(surveys, metric="nps")
        out["promoter"] = np.where(nps["value"].isna(), np.nan, (nps["value"] == 1).astype(float))
        out["nps_score"] = 100.0 * nps["value"].to_numpy()
    if "ces" in present:
        out["ces_agree"] = cx.score_responses(surveys, metric="ces", ces="agree")["value"].to_numpy()
    # the headline per response, on the headline's scale: CSAT % top-2-box (0/100),
    # NPS points (-100/0/100), CES mean (1-7)
    out["cx_value"] = {"csat": out.get("cx_top2", np.nan) * 100.0, "nps": out.get("nps_score"),
                       "ces": surveys.get("ces")}[cx_metric]
    return out


#: Where :func:`contact_frame` caches its result (set by :func:`use_cache`; None: no cache).
_CACHE: dict = {"dir": None}


def use_cache(directory) -> None:
    """Cache :func:`contact_frame` results in ``directory`` (None: compute every time, the default).

    :func:`cxlab.nb.setup` points it at the run's stash (``<run_dir>/.tables``),
    so the steps of a run compute the contact frame once. Entries are keyed
    by :func:`cxlab.data.stash.fingerprint` of the input tables and the
    parameters (``cx_metric``, KPI options, time zone, score metric); a call
    with ``features=`` given is never cached.
    """
    _CACHE["dir"] = None if directory is None else str(directory)


def _surveyed_features(inter, surveys, options, timezone) -> pd.DataFrame:
    """:func:`cxlab.kpis.contact_features` of the surveyed contacts only (the repeat window still sees every contact)."""
    from .. import kpis

    ids = pd.Series(surveys["interaction_id"].dropna().unique()).astype(str)
    return kpis.contact_features(inter, options=options, timezone=timezone, ids=ids)


def contact_frame(
    tables: dict,
    *,
    cx_metric: str = "csat",
    options=None,
    timezone: str = "UTC",
    score_metric: str = "qa",
    features: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Each survey response joined to its own contact's conditions.

    Parameters
    ----------
    tables : dict of DataFrame
        Canonical tables; needs ``interactions`` and ``surveys``; uses
        ``agents``, ``agent_scores`` and ``events`` when present.
    cx_metric : {"csat", "nps", "ces"}
        Which metric ``cx_value`` carries.
    options : cxlab.config.KpiOptions, optional
        KPI definitions (repeat window W, SL threshold ...).
    timezone : str
        The center's time zone (local dates, tenure, day context).
    features : DataFrame, optional
        Precomputed :func:`cxlab.kpis.contact_features` (saves recomputing).

    Returns
    -------
    DataFrame
        One row per survey response linked to a known contact, sorted by
        ``responded_at, response_id``:

        * response: ``response_id``, ``interaction_id``, ``responded_at``,
          ``csat``, ``nps``, ``ces`` (those present), ``cx_value`` (headline
          scale: CSAT 0/100 top-2-box, NPS −100/0/100, CES 1–7), ``cx_top2``,
          ``promoter``, ``ces_agree``;
        * the contact's own conditions: ``queue``, ``channel``,
          ``contact_reason``, ``agent_id``, ``arrived_at``, ``date`` (local),
          ``wait_s``, ``handle_s``, ``talk_s``, ``hold_s``, ``acw_s``,
          ``transferred`` / ``held`` / ``resolved`` / ``is_repeat`` /
          ``repeat_before_response`` (as 0/1 floats);
        * agent: ``team``, ``agent_site``, ``tenure_days``, ``qa_score``,
          ``qa_scored_at``;
        * context: ``day_service_level_pct`` and ``day_offered`` (the
          contact's queue that local day), ``event_<kind>`` flags.

        ``attrs["coverage"]`` holds the :class:`Coverage` of each join and
        ``attrs["unlinked_responses"]`` the count of responses without a
        known contact (they cannot enter a contact-grain analysis). Agent
        columns appear only when ``agents`` (``agent_scores``) has rows and
        contacts carry an ``agent_id``; event flags only with ``events``.

    Raises
    ------
    cxlab.errors.NotEnoughData
        No interactions or no survey responses in the window, or no response
        names its contact (``interaction_id``).
    cxlab.errors.DataError
        ``cx_metric`` is not answered in the surveys (the message lists the
        metrics present).
    """
    from .. import kpis
    from ..config import KpiOptions

    options = options or KpiOptions()
    if not has_rows(tables, "interactions"):
        raise NotEnoughData("no interactions in the window: survey responses cannot be joined to their contacts")
    if not has_rows(tables, "surveys"):
        raise NotEnoughData("no survey response in the window")
    inter, surveys = tables["interactions"], tables["surveys"]
    if "interaction_id" not in surveys or surveys["interaction_id"].isna().all():
        raise NotEnoughData(f"no survey response names its contact (column 'interaction_id' of surveys is "
                            f"{'not mapped' if 'interaction_id' not in surveys else 'empty'}; "
                            f"{len(surveys):,} responses)")
    if features is None and _CACHE["dir"] is not None:  # computed once per run, shared by the steps
        from ..data import stash

        used = {t: tables.get(t) for t in ("interactions", "surveys", "agents", "agent_scores", "events")}
        key = stash.fingerprint(used, {"cx_metric": cx_metric, "options": options.model_dump(mode="json"),
                                       "timezone": timezone, "score_metric": score_metric})
        out, _ = stash.cached_frame(_CACHE["dir"], "contact_frame", key, lambda: contact_frame(
            tables, cx_metric=cx_metric, options=options, timezone=timezone, score_metric=score_metric,
            features=_surveyed_features(inter, surveys, options, timezone)))
        return out
    if features is None:
        features = _surveyed_features(inter, surveys, options, timezone)
    feat = features.copy()
    extra = [c for c in ("contact_reason", "resolved") if c in inter and c not in feat]
    if extra:
        feat = feat.merge(inter[["interaction_id", *extra]], on="interaction_id", how="left")

    cx = _cx_per_response(surveys, cx_metric)
    keep = ["response_id", "interaction_id", "responded_at"] + [m for m in ("csat", "nps", "ces") if m in surveys]
    resp = pd.concat([surveys[keep], cx], axis=1)
    linked = resp["interaction_id"].notna() & _isin(resp["interaction_id"], feat["interaction_id"])
    unlinked = int((~linked).sum())
    resp = resp.loc[linked]

    cols = [c for c in (
        "interaction_id", "queue", "channel", "contact_reason", "agent_id", "arrived_at", "date",
        "wait_s", "handle_s", "talk_s", "hold_s", "acw_s", "transferred", "held", "resolved",
        "is_repeat", "repeat_within_w", "next_contact_at",
    ) if c in feat]
    out = resp.merge(feat[cols], on="interaction_id", how="left", validate="many_to_one")
    out["responded_at"] = pd.to_datetime(out["responded_at"], utc=True)
    # leakage guard: only a repeat that happened before the response is knowable
    if "next_contact_at" in out:
        nxt = pd.to_datetime(out["next_contact_at"], utc=True)
        came_back = out["repeat_within_w"].astype("boolean").fillna(False).astype(bool)
        out["repeat_before_response"] = (came_back & (nxt <= out["responded_at"])).astype(float)
        out = out.drop(columns=["repeat_within_w", "next_contact_at"])
    elif "repeat_within_w" in out:
        out = out.drop(columns=["repeat_within_w"])
    for c in ("transferred", "held", "resolved", "is_repeat"):
        if c in out:
            out[c] = out[c].astype("Float64").astype("float64")

    coverage = []
    has_agent = "agent_id" in out and out["agent_id"].notna().any()
    if has_rows(tables, "agents") and has_agent:
        out, cov = agent_attributes(out, tables["agents"], timezone=timezone)
        coverage.append(cov)
    if has_rows(tables, "agent_scores") and has_agent:
        out, cov = asof_scores(out, tables["agent_scores"], on="arrived_at", metric=score_metric)
        coverage.append(cov)

    # the day's context for the contact's queue
    day_kpis = kpis.kpi_table(inter, by=("day", "queue"), options=options, timezone=timezone)
    ctx_cols = {"service_level_pct": "day_service_level_pct", "offered": "day_offered"}
    ctx = day_kpis[["day", "queue", *[c for c in ctx_cols if c in day_kpis]]].rename(
        columns={"day": "date", **ctx_cols}
    )
    ctx["date"] = _as_date64(ctx["date"])
    out["date"] = _as_date64(out["date"]) if "date" in out else _local_date(out["arrived_at"], timezone)
    out = out.merge(ctx, on=["date", "queue"], how="left")
    if has_rows(tables, "events") and len(out):
        ev = event_indicators(
            tables["events"], start=out["date"].min(), end=out["date"].max(), timezone=timezone,
            segments=sorted(out["queue"].dropna().unique()),
        ).rename(columns={"period": "date"})
        out = out.merge(ev, on=["date", "queue"], how="left")

    out = out.sort_values(["responded_at", "response_id"], kind="mergesort").reset_index(drop=True)
    leakage_check(out)
    out.attrs["coverage"] = coverage
    out.attrs["unlinked_responses"] = unlinked
    return out


def leakage_check(frame: pd.DataFrame, *, response_col: str = "responded_at") -> None:
    """Raise :class:`LeakageError` if a feature timestamp is after the response.

    Every column ending in ``_at`` other than the response time itself is a
    feature timestamp (``arrived_at``, ``qa_scored_at``, ...). The forward
    repeat flag ``repeat_within_w`` must not be present.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"responded_at": pd.to_datetime(["2025-01-02"], utc=True),
    ...                   "qa_scored_at": pd.to_datetime(["2025-01-03"], utc=True)})
    >>> leakage_check(f)
    Traceback (most recent call last):
    ...
    cxlab.errors.LeakageError: qa_scored_at: 1 row(s) dated after the survey response (leakage); ...
    """
    if "repeat_within_w" in frame:
        raise LeakageError(
            "repeat_within_w looks into the future of the response; use repeat_before_response"
        )
    resp = pd.to_datetime(frame[response_col], utc=True)
    for col in frame.columns:
        if col == response_col or not col.endswith("_at"):
            continue
        t = pd.to_datetime(frame[col], utc=True)
        bad = int((t > resp).sum())
        if bad:
            raise LeakageError(
                f"{col}: {bad} row(s) dated after the survey response (leakage); "
                "features must be knowable when the customer answered"
            )


def period_frame(
    tables: dict,
    *,
    cx_metric: str = "csat",
    grain: str = "day",
    segments=("queue",),
    options=None,
    timezone: str = "UTC",
    series_lags=(0,),
) -> pd.DataFrame:
    """Period × segment frame: CX aggregate with its n beside KPI aggregates.

    Parameters
    ----------
    tables : dict of DataFrame
        Canonical tables: ``interactions`` (or, without it, ``aggregates``);
        optional ``surveys``, ``staffing``, ``events``, ``series``.
    cx_metric : {"csat", "nps", "ces"}
    grain : {"day", "week"}
    segments : sequence of str
        Segment columns of interactions (``()`` for the whole center).
    options : KpiOptions, optional
    timezone : str
    series_lags : sequence of int
        Lags of custom series to add.

    Returns
    -------
    DataFrame
        One row per ``period`` × segment, sorted: ``cx_n`` (responses),
        ``cx_value`` (headline: CSAT % top-2-box, NPS points, CES mean),
        every KPI column of :func:`cxlab.kpis.kpi_table` (values with their
        ``_num`` / ``_den``), ``event_<kind>`` flags and ``series_*`` columns.
        Responses are placed in the period and segment of their contact
        (local arrival date). Without survey responses for ``cx_metric``
        (or a run with no surveys) the frame holds the KPIs only, with
        ``cx_n = 0`` and ``cx_value`` NaN, so later steps can still relate
        the KPIs to one another. With no interactions it is built from the
        ``aggregates`` table (:func:`cxlab.kpis.kpi_table_from_aggregates`),
        with CX from the sheet's ``csat_top2`` (as %), ``nps_points`` or
        ``ces_mean`` and ``cx_n`` their response counts (contact-weighted
        roll-ups are the KPI table's).

        ``attrs``: ``source`` (``"interactions"`` or ``"aggregates"``),
        ``has_cx`` (bool), ``not_measured`` (KPI → reason, from the KPI table).

    Raises
    ------
    cxlab.errors.NotEnoughData
        Neither interactions nor aggregates in the window, or a segment
        column is absent.
    """
    from ..config import KpiOptions

    check_option("grain", grain, ("day", "week"))
    options = options or KpiOptions()
    segments = as_list(segments, "segments")
    k = kpi_frame(tables, by=(grain, *segments), options=options, timezone=timezone)
    source = k.attrs["source"]
    inter = tables["interactions"] if source == "interactions" else None
    not_measured = dict(k.attrs.get("not_measured", {}) or {})
    k = k.rename(columns={grain: "period"})
    k["period"] = _as_date64(k["period"])

    has_cx = False
    if inter is not None and has_rows(tables, "surveys") and "interaction_id" in tables["surveys"]:
        surveys = tables["surveys"]
        if cx_metric in surveys and surveys[cx_metric].notna().any():
            has_cx = True
            cxr = _cx_per_response(surveys, cx_metric)
            resp = pd.concat([surveys[["interaction_id"]], cxr[["cx_value"]]], axis=1).dropna(subset=["cx_value"])
            resp = resp.merge(inter[["interaction_id", "arrived_at", *segments]], on="interaction_id", how="inner")
            resp["period"] = _period_start(_local_date(resp["arrived_at"], timezone), grain)
            agg = resp.groupby(["period", *segments], as_index=False, sort=True).agg(
                cx_n=("cx_value", "size"), cx_value=("cx_value", "mean")
            )
            out = k.merge(agg, on=["period", *segments], how="left")
    elif inter is None:
        check_option("cx_metric", cx_metric, tuple(AGG_CX))
        col = agg_cx_column(k, cx_metric)
        if col is not None:
            has_cx = True
            den = f"{col.removesuffix('_pct')}_den"
            n = k[den] if den in k else k[col].notna().astype(float)
            out = k.assign(cx_n=n.fillna(0).round(), cx_value=k[col])
    if not has_cx:
        out = k.assign(cx_n=0, cx_value=np.nan)
    out["cx_n"] = out["cx_n"].fillna(0).astype("int64")

    if has_rows(tables, "events") and len(out):
        seg = segments[0] if len(segments) == 1 and segments[0] == "queue" else None
        ev = event_indicators(
            tables["events"], start=out["period"].min(), end=out["period"].max() + pd.Timedelta(days=6 if grain == "week" else 0),
            timezone=timezone, grain=grain,
            segments=sorted(out["queue"].dropna().unique()) if seg else None,
        )
        on = ["period", "queue"] if seg else ["period"]
        out = out.merge(ev, on=on, how="left")
        evcols = [c for c in out if c.startswith("event_")]
        out[evcols] = out[evcols].fillna(0).astype("int64")
    if has_rows(tables, "series"):
        out = out.merge(align_series(tables["series"], grain=grain, lags=series_lags), on="period", how="left")
    lead = ["period", *segments, "cx_n", "cx_value"]
    out = out[lead + [c for c in out.columns if c not in lead]]
    out = out.sort_values(["period", *segments], kind="mergesort").reset_index(drop=True)
    out.attrs.update(source=source, has_cx=has_cx, not_measured=not_measured)
    return out


#: the CX columns of an aggregates KPI table per metric, in order of preference: the headline scale first
#: (CSAT top-2-box %), then what a KPI sheet may carry instead (mean CSAT 1-5); each one's ``_den`` is its n
AGG_CX = {"csat": ("csat_top2_pct", "csat_top2", "csat_mean"), "nps": ("nps_points",), "ces": ("ces_mean",)}


def agg_cx_column(kpi_table: pd.DataFrame, cx_metric: str) -> str | None:
    """The first column of :data:`AGG_CX` for ``cx_metric`` that has a value in ``kpi_table`` (None if none).

    Examples
    --------
    >>> t = pd.DataFrame({"csat_top2_pct": [np.nan], "csat_mean": [4.2]})
    >>> agg_cx_column(t, "csat")
    'csat_mean'
    """
    return next((c for c in AGG_CX[cx_metric] if c in kpi_table.columns and kpi_table[c].notna().any()), None)


def coverage(tables: dict, *, timezone: str = "UTC", start=None, end=None) -> pd.DataFrame:
    """Per source: rows, match rate against interactions, unmatched keys, time gaps.

    Returns
    -------
    DataFrame
        ``source``, ``rows``, ``key``, ``matched``, ``match_rate``,
        ``unmatched`` (count), ``unmatched_examples`` (up to 5 keys),
        ``first_date``, ``last_date``, ``missing_days`` (local days inside
        [start, end] with no rows; ``None`` for undated sources). Sources
        absent from the run (or without rows) have no line.

    Raises
    ------
    cxlab.errors.NotEnoughData
        No interactions in the window (nothing to match against).
    """
    if not has_rows(tables, "interactions"):
        raise NotEnoughData("no interactions in the window to match the other sources against")
    inter = tables["interactions"]
    start = pd.Timestamp(start) if start is not None else _local_date(inter["arrived_at"], timezone).min()
    end = pd.Timestamp(end) if end is not None else _local_date(inter["arrived_at"], timezone).max()
    all_days = pd.date_range(start, end, freq="D")
    rows = []

    def gaps(dates: pd.Series) -> int:
        present = set(pd.to_datetime(dates).dt.normalize())
        return int(sum(d not in present for d in all_days))

    def add(source, frame, key, matched_mask, unmatched_keys, dates):
        n = len(frame)
        m = int(matched_mask.sum()) if matched_mask is not None else None
        rows.append({
            "source": source, "rows": n, "key": key, "matched": m,
            "match_rate": (m / n if n and m is not None else np.nan),
            "unmatched": len(unmatched_keys), "unmatched_examples": ", ".join(map(str, unmatched_keys[:5])),
            "first_date": dates.min() if dates is not None and len(dates) else pd.NaT,
            "last_date": dates.max() if dates is not None and len(dates) else pd.NaT,
            "missing_days": gaps(dates) if dates is not None else None,
        })

    idates = _local_date(inter["arrived_at"], timezone)
    add("interactions", inter, "interaction_id", None, [], idates)
    if has_rows(tables, "surveys") and "interaction_id" in tables["surveys"]:
        s = tables["surveys"]
        ok = _isin(s["interaction_id"], inter["interaction_id"])
        add("surveys", s, "interaction_id", ok, sorted(s.loc[~ok & s["interaction_id"].notna(), "interaction_id"].astype(str)),
            _local_date(s["responded_at"], timezone))
    if has_rows(tables, "agents") and "agent_id" in inter:
        ag = inter["agent_id"].dropna()
        ok = _isin(ag, tables["agents"]["agent_id"])
        add("agents (contacts with an agent)", ag.to_frame(), "agent_id", ok, sorted(ag[~ok].astype(str).unique()), None)
    if has_rows(tables, "agent_scores") and "agent_id" in inter:
        sc = tables["agent_scores"]
        agents = inter["agent_id"].dropna().unique()
        ok = _isin(pd.Series(agents), sc["agent_id"])
        add("agent_scores (agents who handled contacts)", pd.DataFrame({"agent_id": agents}), "agent_id", ok,
            sorted(pd.Series(agents)[~ok].astype(str)), None)
    for name, col in (("staffing", "interval_start"), ("series", "date")):
        if has_rows(tables, name):
            t = tables[name]
            d = _local_date(t[col], timezone) if name == "staffing" else _as_date64(t[col])
            add(name, t, "date", None, [], d)
    if has_rows(tables, "events"):
        add("events", tables["events"], "", None, [], None)
    out = pd.DataFrame(rows)
    out["matched"] = out["matched"].astype("Int64")
    out["missing_days"] = out["missing_days"].astype("Int64")
    return out


def sources_table(tables: dict) -> pd.DataFrame:
    """One line per loaded source: table, rows, columns (for the step-3 report)."""
    from ..schema import TABLES

    rows = []
    for name, frame in tables.items():
        spec = TABLES.get(name)
        rows.append({
            "table": name,
            "rows": len(frame),
            "columns": len(frame.columns),
            "description": spec.description if spec else "",
        })
    return pd.DataFrame(rows).sort_values("table").reset_index(drop=True)
