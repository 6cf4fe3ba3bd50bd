"""Step 6 defaults derived from the data: split date, drivers, pilot dates and assignment, the prediction.

A notebook parameter left empty (``""`` or ``[]``) means "derive it from the
tables and dates present", never from the sample center: the holdout starts
at the last fifth of the window's days (:func:`default_split_date`), the
period drivers are the KPIs present that vary (:func:`default_drivers`), the
pilot starts at the events table's pilot event (:func:`pilot_start_from_events`)
and must fall inside the window (:func:`check_pilot_window`), the next pilot
starts on the Monday after the window (:func:`next_pilot_start`), and the
prediction the verdict compares against comes from step 5's what-if, or the
same model refitted on the pre-pilot responses (:func:`pilot_prediction`).
Each raises :class:`cxlab.errors.NotEnoughData` with a phrase naming what is
missing when the data cannot support it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._utils import as_list
from ..errors import NotEnoughData

__all__ = ["PERIOD_DRIVERS", "default_split_date", "default_drivers", "pilot_start_from_events",
           "check_pilot_window", "next_pilot_start", "resolve_pilot", "pilot_prediction"]

#: Period KPIs tried as drivers of the out-of-time model, in this order (those present and varying are used).
PERIOD_DRIVERS = ("fcr_pct", "service_level_pct", "aht_s", "transfer_rate_pct", "hold_rate_pct")


def _days(dates) -> pd.DatetimeIndex:
    d = pd.to_datetime(pd.Series(dates).dropna())
    if getattr(d.dt, "tz", None) is not None:
        d = d.dt.tz_localize(None)
    return pd.DatetimeIndex(sorted(d.dt.normalize().unique()))


def default_split_date(dates, *, holdout_share: float = 0.2, min_days: int = 8) -> str:
    """First day of the holdout: the last ``holdout_share`` of the distinct days present.

    Parameters
    ----------
    dates : array-like of date-like
        The periods (days or week starts) of the analysis frame.
    holdout_share : float, default 0.2
        Share of the distinct periods held out (rounded up, at least 1).
    min_days : int, default 8
        Fewer distinct periods than this raise :class:`NotEnoughData`.

    Returns
    -------
    str
        ISO date of the first holdout period.

    Examples
    --------
    >>> default_split_date(pd.date_range("2025-01-01", periods=100))
    '2025-03-22'
    """
    days = _days(dates)
    if len(days) < min_days:
        raise NotEnoughData(f"only {len(days)} periods in the window (the holdout needs at least {min_days})")
    k = max(1, int(np.ceil(holdout_share * len(days))))
    return str(days[len(days) - k].date())


def default_drivers(frame: pd.DataFrame, candidates=PERIOD_DRIVERS, *, exclude=()) -> list[str]:
    """The candidate KPI columns present in ``frame`` with at least two distinct values.

    Examples
    --------
    >>> f = pd.DataFrame({"fcr_pct": [70, 72], "aht_s": [300, 300], "asa_s": [None, 5.0]})
    >>> default_drivers(f)
    ['fcr_pct']
    """
    out = []
    for c in as_list(candidates):
        if c in exclude or c not in frame.columns:
            continue
        v = pd.to_numeric(frame[c], errors="coerce").dropna()
        if v.nunique() >= 2:
            out.append(c)
    return out


def pilot_start_from_events(events: pd.DataFrame | None, *, timezone: str = "UTC", word: str = "pilot") -> str | None:
    """Start day of the first event whose label (or kind) mentions ``word``; None without one.

    Examples
    --------
    >>> ev = pd.DataFrame({"label": ["outage", "Resolution coaching pilot"], "kind": ["outage", "other"],
    ...                    "start": pd.to_datetime(["2025-03-01 00:00", "2025-10-01 04:00"], utc=True)})
    >>> pilot_start_from_events(ev, timezone="America/New_York")
    '2025-10-01'
    """
    if events is None or len(events) == 0 or "start" not in events.columns:
        return None
    text = events.get("label", pd.Series("", index=events.index)).astype(str)
    if "kind" in events.columns:
        text = text + " " + events["kind"].astype(str)
    hits = events[text.str.contains(word, case=False, regex=False)]
    if hits.empty:
        return None
    start = pd.to_datetime(hits["start"], utc=True, errors="coerce", format="mixed").dropna()  # CSV: text
    if start.empty:
        return None
    first = start.min().tz_convert(timezone).tz_localize(None).normalize()
    return str(first.date())


def check_pilot_window(start, dates, *, min_pre_days: int = 7, min_post_days: int = 7) -> None:
    """Raise :class:`NotEnoughData` unless the window holds enough days before and after the pilot start.

    Examples
    --------
    >>> check_pilot_window("2025-10-01", pd.date_range("2025-01-01", "2025-06-30"))
    Traceback (most recent call last):
    ...
    cxlab.errors.NotEnoughData: the pilot starts 2025-10-01, after the window's last day (2025-01-01 to 2025-06-30)
    """
    days = _days(dates)
    if len(days) == 0:
        raise NotEnoughData("no days in the window")
    s = pd.Timestamp(start).normalize()
    span = f"{days[0].date()} to {days[-1].date()}"
    if s > days[-1]:
        raise NotEnoughData(f"the pilot starts {s.date()}, after the window's last day ({span})")
    pre, post = int((days < s).sum()), int((days >= s).sum())
    if pre < min_pre_days:
        raise NotEnoughData(f"the window ({span}) has {pre} day(s) before the pilot start {s.date()} "
                            f"(needs {min_pre_days})")
    if post < min_post_days:
        raise NotEnoughData(f"the window ({span}) has {post} pilot day(s) from {s.date()} (needs {min_post_days})")


def next_pilot_start(window_end) -> str:
    """The first Monday after the window's last day (ISO date).

    Examples
    --------
    >>> next_pilot_start("2025-12-31")
    '2026-01-05'
    """
    d = pd.Timestamp(window_end).normalize() + pd.Timedelta(days=1)
    return str((d + pd.Timedelta(days=(7 - d.day_of_week) % 7)).date())


def resolve_pilot(*, treated=(), start: str = "", events=None, timezone: str = "UTC", sample_record=None) -> dict:
    """Which teams were treated and from when: parameters first, then the data, then the sample's record.

    Parameters
    ----------
    treated : list of str
        Treated units from the parameters (``[]`` = not given).
    start : str
        Pilot start from the parameters (``""`` = derive).
    events : DataFrame, optional
        The events table (its pilot event gives the start).
    timezone : str
    sample_record : dict, optional
        The embedded sample's randomization record (``treated_teams``) —
        the assignment only; its date is not used.

    Returns
    -------
    dict
        ``treated`` (list), ``start`` (ISO date), ``assignment_source`` and
        ``start_source`` (phrases for the report).

    Raises
    ------
    NotEnoughData
        When no assignment or no start date can be found.

    Examples
    --------
    >>> resolve_pilot(treated=["a", "b"], start="2025-10-01")["start_source"]
    'the parameters'
    """
    if isinstance(treated, str):  # "team_a, team_c" from an older config
        treated = treated.split(",")
    teams = [str(t).strip() for t in as_list(treated) if str(t).strip()]
    assignment_source = "the parameters"
    if not teams and sample_record:
        teams = list(sample_record.get("treated_teams", []))
        assignment_source = "the sample's randomization record"
    if not teams:
        raise NotEnoughData("no pilot assignment is configured (set pilot_treated, e.g. "
                            "steps: {06_validate: {pilot_treated: [team_a, team_c]}})")
    if start:
        start_source = "the parameters"
        start = str(pd.Timestamp(start).date())
    else:
        start = pilot_start_from_events(events, timezone=timezone)
        start_source = "the events table's pilot event"
        if start is None:
            raise NotEnoughData("no pilot start date: no event mentions a pilot and pilot_start is not set")
    return {"treated": teams, "start": start, "assignment_source": assignment_source, "start_source": start_source}


def pilot_prediction(what_if, *, driver: str, achieved: float, contacts: pd.DataFrame | None = None, start=None,
                     drivers=("resolved", "is_repeat", "transferred", "hold_s", "wait_s"), seed: int = 0,
                     alpha: float = 0.05, n_boot: int = 200) -> dict:
    """The verdict's prediction: step 5's what-if slope scaled to the change the pilot achieved.

    Parameters
    ----------
    what_if : DataFrame or None
        Step 5's recorded ``what_if`` rows; None refits the same model
        (:func:`cxlab.focus.what_if`) on the pre-pilot responses of
        ``contacts`` (the ``cx_value`` column), with the drivers of
        ``drivers`` that are present and vary.
    driver : str
        The pilot's driver (a contact column, e.g. ``"resolved"``).
    achieved : float
        The change the pilot achieved, in the driver's units.
    contacts, start, drivers, seed, alpha, n_boot
        For the refit.

    Returns
    -------
    dict
        :func:`cxlab.verify.predicted_effect` plus ``source`` (e.g.
        ``"step 05 what-if: resolved +0.05, scaled to the achieved +0.072"``).

    Raises
    ------
    NotEnoughData
        When neither step 5's what-if nor the refit has the driver.
    """
    from .verdicts import predicted_effect

    origin = "step 05 what-if"
    if what_if is not None and len(what_if) and driver in set(pd.DataFrame(what_if)["driver"]):
        wi = pd.DataFrame(what_if)
    else:
        if contacts is None or start is None or driver not in contacts.columns:
            raise NotEnoughData(f"step 5 recorded no what-if for {driver!r} and the contacts have no {driver!r} "
                                "column to refit it on")
        from .. import focus

        pre = contacts[pd.to_datetime(contacts["date"]) < pd.Timestamp(start)].dropna(subset=["cx_value", driver])
        use = [driver, *[d for d in default_drivers(pre, drivers) if d != driver]]
        if len(pre) < 50 or pre[driver].nunique() < 2:
            raise NotEnoughData(f"only {len(pre):,} pre-pilot responses with {driver!r} to refit step 5's model on")
        wi = focus.what_if(pre, outcome="cx_value", drivers=use, changes={driver: 0.05}, n_boot=n_boot, seed=seed,
                           conf=1 - alpha)
        origin = "the step-5 driver model refitted on the pre-pilot responses"
    row = wi[wi["driver"] == driver].iloc[0]
    pred = predicted_effect(wi, driver=driver, change=float(achieved))
    pred["source"] = f"{origin}: {driver} {float(row['change']):+g}, scaled to the achieved {float(achieved):+.3f}"
    return pred
