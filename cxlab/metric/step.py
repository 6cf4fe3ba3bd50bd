"""What step 1 works on, derived from the data present: its inputs, default segments, the metric pair to
cross-tabulate, the end of follow-up and the takeaway sentence.

The step-1 notebook calls these instead of assuming the sample's tables and
columns: a run without interactions, with one channel, with only CSAT or
without customers gets the sections it can support (see
:mod:`cxlab.plan.step01`) and a takeaway built from what was computed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from .._utils import as_list
from ..errors import NotEnoughData
from ._common import present_metrics
from .aggregates import aggregate_cx_columns, summarize_aggregates
from .scoring import join_contacts, summarize

__all__ = [
    "SEGMENT_CANDIDATES",
    "step_inputs",
    "headline_scales",
    "summarize_step",
    "segment_columns",
    "crosstab_pair",
    "follow_up_end",
    "takeaway",
]

#: Contact columns compared across levels when the notebook's ``segments`` parameter is empty.
SEGMENT_CANDIDATES = ("queue", "channel")

def _rows(tables: Mapping, name: str) -> pd.DataFrame | None:
    df = tables.get(name)
    return None if df is None or len(df) == 0 else df


def step_inputs(tables: Mapping, *, columns: Sequence[str] = ("queue", "channel", "resolved")):
    """The responses (with their contacts' columns) and the handled contacts of a run.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The windowed canonical tables (absent or empty tables allowed).
    columns : sequence of str
        Contact columns joined onto each response (those present).

    Returns
    -------
    (responses, handled) : tuple
        ``responses``: the surveys joined to their contacts
        (:func:`join_contacts`), the surveys alone without interactions, or
        None without surveys. ``handled``: interactions not abandoned (all of
        them when ``abandoned`` is not mapped), or None without interactions.

    Examples
    --------
    >>> s = pd.DataFrame({"interaction_id": ["i1"], "csat": [5]})
    >>> i = pd.DataFrame({"interaction_id": ["i1", "i2"], "queue": ["a", "b"], "abandoned": [False, True]})
    >>> r, h = step_inputs({"surveys": s, "interactions": i})
    >>> r["queue"].tolist(), h["interaction_id"].tolist()
    (['a'], ['i1'])
    >>> step_inputs({"surveys": s})[1] is None
    True
    """
    surveys, inter = _rows(tables, "surveys"), _rows(tables, "interactions")
    handled = None
    if inter is not None:
        handled = inter[~inter["abandoned"].astype("boolean").fillna(False).astype(bool)] \
            if "abandoned" in inter else inter
    if surveys is None:
        return None, handled
    if inter is None or "interaction_id" not in surveys:
        return surveys, handled
    return join_contacts(surveys, inter, columns=columns), handled


def segment_columns(responses: pd.DataFrame, requested=None, *, metric: str,
                    candidates: Sequence[str] = SEGMENT_CANDIDATES) -> tuple[list[str], dict[str, str]]:
    """The segment columns a comparison can use, and why the others cannot.

    Parameters
    ----------
    responses : DataFrame
        Responses with contact columns (:func:`step_inputs`).
    requested : str or list of str, optional
        The notebook's ``segments``; empty = the ``candidates`` present.
    metric : {"csat", "nps", "ces"}
    candidates : sequence of str
        Columns tried when nothing is requested.

    Returns
    -------
    (usable, dropped) : tuple
        ``usable``: columns with at least two levels among the responses that
        answered ``metric``; ``dropped``: column → reason ("not mapped",
        "a single level ('voice')", ...). A requested column that is absent is
        dropped with its reason, never silently.

    Raises
    ------
    cxlab.errors.NotEnoughData
        No column is usable (the message lists each reason).

    Examples
    --------
    >>> r = pd.DataFrame({"queue": ["a", "b", "a"], "channel": ["voice"] * 3, "csat": [5, 4, 3]})
    >>> segment_columns(r, metric="csat")
    (['queue'], {'channel': "a single level ('voice')"})
    """
    requested = [c.strip() for c in (requested.split(",") if isinstance(requested, str) else as_list(requested))
                 if str(c).strip()]
    cols = requested or list(candidates)
    answered = responses[metric].notna() if metric in responses else pd.Series(False, index=responses.index)
    usable, dropped = [], {}
    for c in cols:
        if c not in responses.columns:
            dropped[c] = "not mapped"
            continue
        levels = responses.loc[answered, c].dropna().unique()
        if len(levels) == 0:
            dropped[c] = "empty"
        elif len(levels) == 1:
            dropped[c] = f"a single level ({str(levels[0])!r})"
        else:
            usable.append(c)
    if not usable:
        raise NotEnoughData("no segment to compare: " + "; ".join(f"{c} {why}" for c, why in dropped.items()))
    return usable, dropped


def crosstab_pair(responses: pd.DataFrame) -> tuple[str, str] | None:
    """The two metrics to cross-tabulate: NPS by CSAT when both are answered, else the first two present.

    Examples
    --------
    >>> crosstab_pair(pd.DataFrame({"csat": [5], "ces": [6]})), crosstab_pair(pd.DataFrame({"csat": [5]}))
    (('csat', 'ces'), None)
    """
    present = present_metrics(responses)
    if {"nps", "csat"} <= set(present):
        return "nps", "csat"
    return (present[0], present[1]) if len(present) >= 2 else None


def follow_up_end(tables: Mapping) -> pd.Timestamp | None:
    """End of follow-up for the loyalty analysis: the last contact in the data, else the last response.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The *full* (not windowed) tables: follow-up may run past the window.

    Examples
    --------
    >>> s = pd.DataFrame({"responded_at": pd.to_datetime(["2025-01-02", "2025-03-01"], utc=True)})
    >>> str(follow_up_end({"surveys": s}).date())
    '2025-03-01'
    """
    for name, col in (("interactions", "arrived_at"), ("surveys", "responded_at")):
        df = _rows(tables, name)
        if df is not None and col in df:
            return pd.to_datetime(df[col], utc=True).max()
    return None


def takeaway(*, metric: str, headline=None, segments: Mapping | None = None, weighted=None,
             calibration: pd.DataFrame | None = None, recommended: str | None = None,
             horizon_days: int = 180, skipped: Sequence[str] = ()) -> str:
    """The step's closing sentence from whatever was computed.

    Parameters
    ----------
    metric : str
        The run's CX metric.
    headline : mapping or Series, optional
        The headline row of :func:`summarize` (``value``, ``moe``, ``n``).
    segments : mapping of str to DataFrame, optional
        :func:`compare_segments` output per segment column.
    weighted : mapping or Series, optional
        The propensity-weighted headline row.
    calibration : DataFrame, optional
        :func:`loyalty_calibration` output.
    recommended : str, optional
        The recommended metric.
    horizon_days : int
        The churn horizon (for the sentence).
    skipped : sequence of str
        Titles of skipped sections, listed at the end.

    Returns
    -------
    str

    Examples
    --------
    >>> takeaway(metric="csat", headline={"value": 81.2, "moe": 1.1, "n": 2000}, skipped=["Do the metrics agree?"])
    'CSAT stands at 81.2 (±1.1) on 2,000 responses. Not computed on this data: Do the metrics agree?.'
    >>> takeaway(metric="csat")
    'No CSAT response in the window: step 1 has no headline.'
    """
    m = metric.upper()
    parts = []
    if headline is None:
        parts.append(f"No {m} response in the window: step 1 has no headline.")
    else:
        moe = headline["moe"]
        unc = f" (±{moe:.1f})" if pd.notna(moe) else ""
        parts.append(f"{m} stands at {headline['value']:.1f}{unc} on {int(headline['n']):,} responses.")
        if segments:
            seg, comp = next(iter(segments.items()))
            comp = comp.dropna(subset=["diff"])
            if len(comp):
                worst = comp.loc[comp["diff"].idxmin()]
                parts.append(f"The largest gap by {seg} is {worst['level']} ({worst['diff']:+.1f} vs the rest).")
        if weighted is not None and pd.notna(weighted["value"]):
            parts.append(f"Re-weighting respondents to all handled contacts shifts the headline by "
                         f"{weighted['value'] - headline['value']:+.1f}.")
    if calibration is not None and len(calibration):
        top = calibration[(calibration["metric"] == metric) & (calibration["n_customers"] > 0)]
        if len(top) >= 2:
            parts.append(f"Customers in its worst band churned at {top['churn_rate_pct'].iloc[0]:.1f}% within "
                         f"{horizon_days} days versus {top['churn_rate_pct'].iloc[-1]:.1f}% in its best band.")
    if recommended:
        parts.append(f"The metric to steer by is {recommended.upper()}.")
    text = " ".join(parts)
    if skipped:
        text += " Not computed on this data: " + ", ".join(skipped) + "."
    return text


#: the other scales an aggregate sheet may carry a metric on, tried in this order
_SCALE_FALLBACK = {"csat": {"top2": ("mean",), "mean": ("top2",)}, "ces": {"agree": ("mean",), "mean": ()}}
_SCALE_WORDS = {"top2": "a top-2-box share", "mean": "a mean score", "agree": "an agree share"}


def headline_scales(tables: Mapping, responses, *, metric: str, csat: str = "top2",
                    ces: str = "mean") -> tuple[str, str, str | None]:
    """The CSAT and CES scales the step's headline can use, and a sentence when one had to change.

    Responses carry every scale (each is computed from the answers), so the
    requested scales stand whenever the responses answer ``metric``. An
    aggregate KPI sheet carries a metric on the scales it exports only: a
    sheet with ``csat_mean`` and ``csat_n`` but no ``csat_top2`` gives a CSAT
    mean, never a top-2-box share (a share cannot be derived from a mean).
    When the requested scale is absent and another is present, that one is
    used and the sentence says so; when none is, the scales are returned
    unchanged (the plan then skips the headline with its reason).

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The windowed canonical tables.
    responses : DataFrame or None
        As returned by :func:`step_inputs`.
    metric : {"csat", "nps", "ces"}
    csat, ces : str
        The requested scales (the notebook's ``csat_scale`` / ``ces_scale``).

    Returns
    -------
    (csat, ces, note) : tuple
        The scales to use and None, or the changed scales and a sentence for the report.

    Examples
    --------
    >>> a = pd.DataFrame({"csat_mean": [4.2], "csat_n": [40]})
    >>> headline_scales({"aggregates": a}, None, metric="csat")[:2]
    ('mean', 'mean')
    >>> headline_scales({"aggregates": a}, pd.DataFrame({"csat": [5]}), metric="csat")
    ('top2', 'mean', None)
    """
    if responses is not None and metric in responses.columns and responses[metric].notna().any():
        return csat, ces, None
    agg = _rows(tables, "aggregates")
    if agg is None or aggregate_cx_columns(agg, metric, csat=csat, ces=ces) is not None or metric == "nps":
        return csat, ces, None
    asked = csat if metric == "csat" else ces
    for other in _SCALE_FALLBACK[metric].get(asked, ()):
        opts = {"csat": csat, "ces": ces, metric: other}
        cols = aggregate_cx_columns(agg, metric, **opts)
        if cols is not None:
            note = (f"The aggregate KPI sheet carries {metric.upper()} as {_SCALE_WORDS[other]} ('{cols[0]}' with "
                    f"'{cols[1]}'), not as {_SCALE_WORDS[asked]}: the headline is stated as "
                    f"{_SCALE_WORDS[other]} (a {asked} headline needs the individual answers or a '{asked}' column).")
            return opts["csat"], opts["ces"], note
    return csat, ces, None


def summarize_step(tables: Mapping, responses, handled, *, metric: str, by=None, csat: str = "top2",
                   ces: str = "mean", margin: float | None = None, timezone: str = "UTC") -> pd.DataFrame:
    """The step's headline (or trend, with ``by``): from the responses when they answer the metric, else the aggregates.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The windowed canonical tables.
    responses, handled : DataFrame or None
        As returned by :func:`step_inputs`.
    metric, by, csat, ces, margin, timezone
        As in :func:`cxlab.metric.summarize`.

    Returns
    -------
    DataFrame
        :func:`cxlab.metric.summarize` of the responses, or
        :func:`cxlab.metric.summarize_aggregates` of the aggregate KPI sheet
        (its ``interval`` column says whether the interval is exact or a
        bound); ``attrs["source"]`` is ``"responses"`` or ``"aggregates"``.

    Raises
    ------
    cxlab.errors.NotEnoughData
        Neither source carries the metric.

    Examples
    --------
    >>> a = pd.DataFrame({"period_start": pd.to_datetime(["2025-01-06"], utc=True), "csat_top2": [0.75],
    ...                   "csat_n": [40]})
    >>> out = summarize_step({"aggregates": a}, None, None, metric="csat")
    >>> out.attrs["source"], float(out["value"].iloc[0])
    ('aggregates', 75.0)
    """
    if responses is not None and metric in responses.columns and responses[metric].notna().any():
        out = summarize(responses, metric=metric, by=by, csat=csat, ces=ces, margin=margin, contacts=handled,
                        timezone=timezone)
        out.attrs["source"] = "responses"
        return out
    agg = _rows(tables, "aggregates")
    if agg is None:
        raise NotEnoughData(f"no {metric.upper()} response in the window and no aggregate KPI sheet")
    try:
        out = summarize_aggregates(agg, metric=metric, by=by, csat=csat, ces=ces, margin=margin, timezone=timezone)
    except NotEnoughData:
        raise
    except ValueError as exc:  # e.g. the sheet has CSAT top-2-box but the mean was asked for
        raise NotEnoughData(str(exc)) from exc
    out.attrs["source"] = "aggregates"
    return out
