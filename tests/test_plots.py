"""What the plot modules draw (issue 15 item 8).

Every plot function in :mod:`cxlab.plots` takes precomputed frames and draws
them; these tests assert what is on the canvas (texts, artists, plotted values)
against numbers worked out by hand beside each assertion. The per-module tests
(``test_cx.py``, ``test_kpis.py``, ``test_correlate.py``, ``test_drivers.py``,
``test_enrich.py``, ``test_validate.py``) cover most functions; this file covers
the leadership-brief charts (:mod:`cxlab.plots.brief`), the theme, the
branches those files do not reach, and checks on charts drawn from the sample
center that no identifier (agent, customer, contact, response, event id) is
ever written on a figure.
"""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection, PolyCollection  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from cxlab import plots  # noqa: E402
from cxlab.plots import brief as charts  # noqa: E402


def _texts(fig) -> list[str]:
    """Every non-empty string drawn anywhere on ``fig`` (titles, labels, ticks, legends, annotations)."""
    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


def _offsets(collection) -> list[tuple[float, float]]:
    return [tuple(map(float, p)) for p in np.asarray(collection.get_offsets())]


def _segments(lc) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    return [tuple(tuple(map(float, p)) for p in s) for s in lc.get_segments()]


def _near(expected):
    """``pytest.approx`` of a nested list of points (approx itself takes flat sequences only)."""
    return pytest.approx(np.ravel(np.asarray(expected, dtype=float)).tolist())


def _flat(points) -> list[float]:
    return np.ravel(np.asarray(points, dtype=float)).tolist()


# ---------------------------------------------------------------------------
# plots.brief: importance vs performance
# ---------------------------------------------------------------------------

def _quadrant() -> pd.DataFrame:
    """Step 5's ``quadrant`` record shape: three levers and one control (tenure), equal share 1/4."""
    return pd.DataFrame({
        "driver": ["resolved", "wait_s", "handle_s", "tenure_days"],
        "share": [0.40, 0.25, 0.10, 0.25],
        "share_ci_low": [0.30, 0.15, 0.05, 0.20],
        "share_ci_high": [0.50, 0.35, 0.15, 0.30],
        "equal_share": [0.25] * 4,
        "performance": [0.72, 22.5, 300.0, 400.0],
        "target": [0.80, 15.0, 330.0, 365.0],
        "better": ["higher", "lower", "lower", "higher"],
        "quadrant": ["concentrate here", "concentrate here", "possible overkill", "keep up the good work"],
    })


def test_relative_performance_closed_form():
    # (performance / target - 1) * 100, sign flipped when lower is better:
    # resolved 0.72 / 0.80 - 1 = -10 %; wait 22.5 s vs 15 s, lower better: -(1.5 - 1) = -50 %;
    # handle 300 s vs 330 s, lower better: -(300/330 - 1) = +1/11 = +9.0909 %; tenure 400/365 - 1 = +9.5890 %
    rel = charts.relative_performance(_quadrant())
    assert rel.tolist() == pytest.approx([-10.0, -50.0, 100 / 11, 100 * (400 / 365 - 1)])
    # a zero target has no relative performance (not an infinite one)
    q = _quadrant().assign(target=[0.0, 15.0, 330.0, 365.0])
    assert np.isnan(charts.relative_performance(q).iloc[0])
    # without a "better" column every driver is higher-is-better: 300/330 - 1 = -9.0909 %
    assert charts.relative_performance(_quadrant().drop(columns="better")).iloc[2] == pytest.approx(-100 / 11)


def test_importance_vs_performance_draws_every_lever_at_share_and_performance():
    fig, alt = charts.importance_vs_performance(_quadrant(), levers=["resolved", "wait_s", "handle_s"])
    (ax,) = fig.axes
    # the control (tenure_days) is not a lever and is not drawn
    ci, points = ax.collections
    assert isinstance(ci, LineCollection) and isinstance(points, PathCollection)
    # x = 100 * share, y = relative performance (closed forms in test_relative_performance_closed_form)
    assert _flat(_offsets(points)) == _near([(40.0, -10.0), (25.0, -50.0), (10.0, 100 / 11)])
    # the whiskers span 100 * (share_ci_low, share_ci_high) at the point's height
    assert _flat(_segments(ci)) == _near([((30.0, -10.0), (50.0, -10.0)), ((15.0, -50.0), (35.0, -50.0)),
                                           ((5.0, 100 / 11), (15.0, 100 / 11))])
    # "concentrate here" in the accent colour, the others in the primary colour
    assert [to_hex(c) for c in points.get_facecolors()] == [plots.PALETTE["accent"]] * 2 + [plots.PALETTE["primary"]]
    # cross-hairs: equal share 100 * 1/4 = 25 % (dashed) and the target (0 %)
    equal, target = ax.lines
    assert list(equal.get_xdata()) == [25.0, 25.0] and equal.get_linestyle() == "--"
    assert list(target.get_ydata()) == [0, 0]
    # symmetric y range: max(1.25 * max|y|, 5) = 1.25 * 50 = 62.5; x range: max(1.15 * 50, 1.5 * 25) = 57.5
    assert ax.get_ylim() == pytest.approx((-62.5, 62.5))
    assert ax.get_xlim() == pytest.approx((0.0, 57.5))
    # one label per lever (human label from cxlab.fmt), right of its point by 0.04 * 57.5 = 2.3 (no crowding)
    notes = [t for t in ax.texts if hasattr(t, "xyann")]
    assert [t.get_text() for t in notes] == ["first-contact resolution", "wait time", "handle time"]
    assert _flat([t.xyann for t in notes]) == _near([(42.3, -10.0), (27.3, -50.0),
                                                                        (12.3, 100 / 11)])
    assert [t.arrow_patch for t in notes] == [None, None, None]  # not nudged: no leader line
    corners = [t.get_text() for t in ax.texts if not hasattr(t, "xyann")]
    assert corners == ["concentrate here", "keep up the good work", "low priority", "possible overkill"]
    assert ax.get_xlabel() == "share of the explained variation in CX, % (95% interval)"
    assert ax.get_ylabel() == "performance vs target, %"
    assert ax.get_title() == "Where to focus: importance vs performance"
    # the alt text reads the same numbers: 40 %, 10 % below; 25 %, 50 % below; 10 %, 100/11 = 9 % above
    assert alt == ("Scatter chart of importance versus performance for each lever. "
                   "first-contact resolution carries 40% of the explained variation and is 10% below its target "
                   "(concentrate here); wait time carries 25% of the explained variation and is 50% below its "
                   "target (concentrate here); handle time carries 10% of the explained variation and is 9% above "
                   "its target (possible overkill).")
    plt.close(fig)


def test_importance_vs_performance_nudges_crowded_labels_apart():
    # two levers 2 points of share apart and 2 % of performance apart: one crowd
    q = pd.DataFrame({"driver": ["resolved", "wait_s"], "share": [0.30, 0.32], "share_ci_low": [0.25, 0.27],
                      "share_ci_high": [0.35, 0.37], "equal_share": [0.5, 0.5], "performance": [0.90, 0.88],
                      "target": [1.0, 1.0], "better": ["higher", "higher"]})
    fig, alt = charts.importance_vs_performance(q, title="Focus")
    (ax,) = fig.axes
    # y = -10 % and -12 %; ymax = max(1.25 * 12, 5) = 15; xmax = max(1.15 * 37, 1.5 * 50) = 75
    assert ax.get_ylim() == pytest.approx((-15.0, 15.0)) and ax.get_xlim() == pytest.approx((0.0, 75.0))
    notes = [t for t in ax.texts if hasattr(t, "xyann")]
    # |30 - 32| < 0.12 * 75 = 9: both labels in one column at max(x) + 0.04 * 75 = 32 + 3 = 35;
    # the lower point (wait, -12) keeps its height, resolved (-10) is pushed to -12 + 0.15 * 15 = -9.75
    assert _flat([t.xyann for t in notes]) == _near([(35.0, -9.75), (35.0, -12.0)])
    assert notes[0].arrow_patch is not None and notes[1].arrow_patch is None  # leader line for the nudged one
    # no quadrant column: every point in the primary colour; the alt text names no quadrant
    assert {to_hex(c) for c in ax.collections[1].get_facecolors()} == {plots.PALETTE["primary"]}
    assert ax.get_title() == "Focus"
    assert "is 10% below its target ()" in alt and "is 12% below its target ()" in alt
    plt.close(fig)


def test_importance_vs_performance_without_a_lever_says_so():
    q = _quadrant().assign(target=np.nan)  # no lever has a target
    fig, alt = charts.importance_vs_performance(q)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.texts] == ["no lever with a target"]
    assert not ax.axison and len(ax.collections) == 0 and len(ax.lines) == 0
    assert alt == "Importance versus performance: no lever with a target was recorded."
    plt.close(fig)


# ---------------------------------------------------------------------------
# plots.brief: CX trend with events
# ---------------------------------------------------------------------------

def _weekly() -> pd.DataFrame:
    """Step 1's ``weekly`` record shape: four Monday weeks, out of order (the chart sorts them)."""
    return pd.DataFrame({"week": ["2025-03-17", "2025-03-03", "2025-03-10", "2025-03-24"], "n": [400] * 4,
                         "value": [74.0, 80.0, 78.5, 79.0], "ci_low": [70.0, 76.0, 74.5, 75.0],
                         "ci_high": [78.0, 84.0, 82.5, 83.0], "reliable": [True] * 4})


def test_cx_trend_events_line_band_events_pilot_and_alt():
    events = pd.DataFrame({
        "event_id": ["EV-0001", "EV-0002", "EV-0003", "EV-0004", "EV-0005", "EV-0006"],
        "start": ["2025-03-12T09:00:00Z", "2025-03-18", "2025-03-19", "2025-03-05", "2024-01-01", "2025-03-25"],
        "end": ["2025-03-13T09:00:00Z", "2025-03-24", "2025-03-19", "2025-03-06", "2024-01-02", "2025-03-26"],
        "label": ["IVR outage", "spring promo", "app 2.1", "holiday", "old outage", "second outage"],
        "kind": ["Outage", "campaign", "release", "holiday", "outage", "outage"],
    })
    fig, alt = charts.cx_trend_events(_weekly(), events, pilot_start="2025-03-20", label="CSAT %")
    (ax,) = fig.axes
    # the headline by week in date order, and its 95 % band
    line = ax.lines[0]
    assert [d.date().isoformat() for d in pd.to_datetime(line.get_xdata())] == [
        "2025-03-03", "2025-03-10", "2025-03-17", "2025-03-24"]
    assert list(line.get_ydata()) == [80.0, 78.5, 74.0, 79.0]
    (band,) = ax.collections
    assert isinstance(band, PolyCollection)
    ys = band.get_paths()[0].vertices[:, 1]
    assert ys.min() == 70.0 and ys.max() == 84.0  # lowest ci_low, highest ci_high
    # shaded: outage (kind matched case-insensitively), campaign, release and the 25 March outage, which is
    # inside the last week (24 + 7 days); the holiday (other kind) and the 2024 outage (outside) are left out
    spans = [(mdates.num2date(p.get_x()).replace(tzinfo=None), round(p.get_width(), 9)) for p in ax.patches]
    assert spans == [(pd.Timestamp("2025-03-12 09:00").to_pydatetime(), 1.0),  # 24 h, tz dropped
                     (pd.Timestamp("2025-03-18").to_pydatetime(), 6.0),
                     (pd.Timestamp("2025-03-19").to_pydatetime(), 1.0),  # same-day release drawn one day wide
                     (pd.Timestamp("2025-03-25").to_pydatetime(), 1.0)]
    assert [to_hex(p.get_facecolor()) for p in ax.patches] == [plots.PALETTE["bad"], plots.PALETTE["accent"],
                                                                plots.PALETTE["neutral"], plots.PALETTE["bad"]]
    # the pilot start is a dashed vertical line
    pilot = ax.lines[1]
    assert pd.Timestamp(pilot.get_xdata()[0]).date().isoformat() == "2025-03-20" and pilot.get_linestyle() == "--"
    # each kind once in the legend
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["95% interval", "outage", "campaign", "release",
                                                                   "pilot start"]
    assert ax.get_ylabel() == "CSAT %" and ax.get_title() == "CSAT % by week, 95% interval"
    # alt: first 80.0, last 79.0, lowest 74.0 (17 Mar), highest 80.0 (3 Mar), the marked events in date order
    assert alt == ("Line chart of CSAT % by week from 3 Mar 2025 to 24 Mar 2025: 80.0 in the first week and 79.0 "
                   "in the last, lowest 74.0 (week of 17 Mar 2025), highest 80.0 (week of 3 Mar 2025). Marked: "
                   "outage 12 Mar 2025, campaign 18 Mar 2025, release 19 Mar 2025, outage 25 Mar 2025, "
                   "pilot start 20 Mar 2025.")
    # no event id is written on the chart
    assert not any("EV-" in s for s in _texts(fig))
    plt.close(fig)


def test_cx_trend_events_without_events_has_only_line_and_band():
    fig, alt = charts.cx_trend_events(_weekly(), None, pilot_start="", title="T")
    (ax,) = fig.axes
    assert len(ax.lines) == 1 and len(ax.patches) == 0 and len(ax.collections) == 1
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["95% interval"]
    assert ax.get_title() == "T" and ax.get_ylabel() == "CX"
    assert "Marked" not in alt and alt.endswith("highest 80.0 (week of 3 Mar 2025).")
    plt.close(fig)
    # an empty events frame and a tz-aware pilot start behave the same as none / a naive date
    fig, alt = charts.cx_trend_events(_weekly(), _weekly().iloc[0:0], pilot_start=pd.Timestamp("2025-03-20",
                                                                                                  tz="UTC"))
    assert alt.endswith("Marked: pilot start 20 Mar 2025.")
    plt.close(fig)


# ---------------------------------------------------------------------------
# theme and branches the per-module tests do not reach
# ---------------------------------------------------------------------------

def test_set_theme_fixes_dpi_size_and_svg_salt():
    with matplotlib.rc_context():  # restores the global rcParams after the block
        plots.set_theme()
        rc = matplotlib.rcParams
        # the values listed in cxlab/plots/_style.py: deterministic output across machines
        assert rc["figure.dpi"] == 90 and rc["savefig.dpi"] == 90
        assert list(rc["figure.figsize"]) == [8.0, 3.6]
        assert rc["axes.titleweight"] == "bold" and rc["svg.hashsalt"] == "cxlab"
        assert rc["axes.spines.top"] is False and rc["axes.spines.right"] is False
        assert rc["axes.grid"] is True  # seaborn "whitegrid"
        fig, ax = plots.new_figure()
        assert list(fig.get_size_inches()) == [8.0, 3.6] and fig.dpi == 90
        plt.close(fig)


def test_ranked_correlations_without_p_column_draws_all_hollow():
    res = pd.DataFrame({"x": ["a", "b"], "r": [0.2, -0.4]})  # no p_adj, no CI: nothing significant, no whiskers
    ax = plots.ranked_correlations(res)
    filled, hollow = ax.collections
    assert _offsets(filled) == [] and _offsets(hollow) == [(0.2, 0.0), (-0.4, 1.0)]  # sorted by |r|
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    plt.close(ax.figure)


def test_quadrant_chart_absolute_gap_when_a_target_is_zero():
    # focus.quadrant leaves gap_pct empty when a target is 0: the x axis is the absolute gap, sign flipped
    q = pd.DataFrame({"driver": ["resolved", "transfers", "hold"], "share": [0.6, 0.4, 0.58],
                      "share_ci_low": [0.5, 0.3, 0.5], "share_ci_high": [0.7, 0.5, 0.66],
                      "p_concentrate": [0.8, 0.02, 0.6], "gap": [0.1, -0.05, 0.1], "gap_pct": [12.5, np.nan, 12.5],
                      "equal_share": [1 / 3] * 3})
    ax = plots.quadrant_chart(q)
    (pts,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert _flat(_offsets(pts)) == _near([(-0.1, 60.0), (0.05, 40.0), (-0.1, 58.0)])  # x = -gap, y = 100 * share
    assert ax.get_xlabel() == "performance vs target (better direction; < 0 = short of target)"
    # span 1.25 * max|x| = 0.125; y up to 1.15 * 70 = 80.5; equal share line at 100 / 3
    assert ax.get_xlim() == pytest.approx((-0.125, 0.125)) and ax.get_ylim() == pytest.approx((0.0, 80.5))
    assert [list(ln.get_ydata()) for ln in ax.lines if ln.get_linestyle() == "--"] == [_near([100 / 3] * 2)]
    # P(concentrate) >= 0.5 in the "bad" colour
    assert [to_hex(c) for c in pts.get_facecolors()] == [plots.PALETTE["bad"], plots.PALETTE["primary"],
                                                         plots.PALETTE["bad"]]
    # labels: P shown when >= 0.05 only; drawn bottom-up (transfers, hold, resolved)
    notes = [t for t in ax.texts if hasattr(t, "xyann")]
    assert [t.get_text() for t in notes] == ["transfers", "hold (P=0.60)", "resolved (P=0.80)"]
    # hold and resolved sit 2 share points apart at the same x: resolved's label is pushed up so the two
    # labels end at least 10 pt apart (label height in points = point height + offset)
    to_pt = 72.0 / ax.figure.dpi
    label_y = [ax.transData.transform(t.xy)[1] * to_pt + t.xyann[1] for t in notes]
    assert label_y[2] - label_y[1] == pytest.approx(10.0)
    assert notes[1].xyann[1] == 4 and notes[2].xyann[1] > 4
    plt.close(ax.figure)


def test_cx_trend_without_metric_columns_labels_the_axis_value():
    summ = pd.DataFrame({"week": pd.date_range("2025-01-06", periods=3, freq="7D"), "value": [70.0, 72.0, 71.0],
                         "ci_low": [68.0, 70.0, 69.0], "ci_high": [72.0, 74.0, 73.0]})
    ax = plots.cx_trend(summ)
    assert ax.get_ylabel() == "value" and ax.get_title() == "value by week"
    # no reliable column: every point filled, no "below required n" entry
    (pts,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert [y for _, y in _offsets(pts)] == [70.0, 72.0, 71.0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["95% interval"]
    plt.close(ax.figure)


# ---------------------------------------------------------------------------
# charts drawn from the sample center write no identifier
# ---------------------------------------------------------------------------

_ID = re.compile(r"\b(?:A\d{4}|[A-Z]{1,3}-?\d{4,})\b")  # agent ids look like "A0001"


def _ids(sample) -> set[str]:
    out: set[str] = set()
    for table, cols in (("interactions", ("interaction_id", "customer_id", "agent_id")),
                        ("surveys", ("response_id", "interaction_id", "customer_id")),
                        ("agents", ("agent_id",)), ("events", ("event_id",))):
        for c in cols:
            out |= set(sample[table][c].dropna().astype(str))
    return out


def _assert_no_ids(fig, ids: set[str]) -> None:
    words = {w for s in _texts(fig) for w in re.split(r"[\s(),:]+", s) if w}
    assert not (words & ids), sorted(words & ids)[:5]
    assert not any(_ID.search(s) for s in _texts(fig))


def test_sample_charts_draw_the_data_and_no_identifier(sample):
    from cxlab import metric as cx

    ids = _ids(sample)
    assert "A0001" in ids  # the id set is the real one (sample agents are A0001 ...)

    # step 1: the weekly CSAT trend of the sample surveys
    summ = cx.summarize(sample["surveys"], metric="csat", by="week")
    ax = plots.cx_trend(summ)
    assert list(ax.lines[0].get_ydata()) == pytest.approx(summ.sort_values("week")["value"].tolist())
    _assert_no_ids(ax.figure, ids)
    plt.close(ax.figure)

    # step 3: the event calendar of the sample year; one bar and one "label (queue)" text per event in the window
    ev = sample["events"]
    start = pd.to_datetime(ev["start"], utc=True).min().tz_localize(None).normalize()
    end = pd.to_datetime(ev["end"], utc=True).max().tz_localize(None).normalize()
    ax = plots.event_calendar(ev, start=start, end=end)
    assert len(ax.patches) == len(ev) == len(ax.texts)
    assert sorted(t.get_text() for t in ax.texts) == sorted(
        f"{lab} ({q if isinstance(q, str) else 'all queues'})" for lab, q in zip(ev["label"], ev["queue"]))
    _assert_no_ids(ax.figure, ids)
    plt.close(ax.figure)

    # step 3: tenure of the agents at the contact's date; bar heights are numpy's histogram of the same months
    ag = sample["agents"].set_index("agent_id")["hire_date"]
    c = sample["interactions"].iloc[::50].dropna(subset=["agent_id"])
    frame = pd.DataFrame({"tenure_days": (pd.to_datetime(c["arrived_at"]).dt.tz_localize(None).dt.normalize()
                                          - c["agent_id"].map(ag)).dt.days.astype(float),
                          "site": c["site"].to_numpy(), "agent_id": c["agent_id"].to_numpy()})
    ax = plots.tenure_distribution(frame, by="site")
    months = frame["tenure_days"] / 30.44
    bins = np.arange(0, float(months.max()) + 3, 3)
    expected = [h for _, g in frame.groupby("site") for h in np.histogram(g["tenure_days"] / 30.44, bins)[0]]
    assert [p.get_height() for p in ax.patches] == expected
    assert [t.get_text() for t in ax.get_legend().get_texts()] == sorted(frame["site"].unique())
    _assert_no_ids(ax.figure, ids)
    plt.close(ax.figure)


def test_kpi_sensitivity_named_baseline_and_unmeasured_kpis():
    sens = pd.DataFrame({"definition": ["strict", "default", "lenient"], "service_level_pct": [78.0, 80.0, 84.0],
                         "aht_s": [np.nan, np.nan, np.nan]})
    fig = plots.kpi_sensitivity(sens, kpis=("service_level_pct", "aht_s"), baseline="default")
    # AHT is not measured: one panel only; the dashed reference line at the named baseline (80)
    (ax,) = fig.axes
    assert ax.get_title() == "Service level (%)"
    assert list(ax.lines[0].get_xdata()) == [80.0, 80.0] and ax.lines[0].get_linestyle() == "--"
    # zoomed to the differences: span max|value - 80| = 4 -> 80 -/+ 1.15 * 4
    assert ax.get_xlim() == pytest.approx((80 - 4.6, 80 + 4.6))
    # the baseline's point in the accent colour; rows top-down in table order
    pts = ax.collections[-1]
    assert [to_hex(c) for c in pts.get_facecolors()] == [plots.PALETTE["primary"], plots.PALETTE["accent"],
                                                         plots.PALETTE["primary"]]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["strict", "default", "lenient"]
    assert list(ax.get_yticks()) == [2, 1, 0]
    plt.close(fig)
    # nothing measured: a clear error naming the KPIs asked for (ValueError; DataError would also match)
    with pytest.raises(ValueError, match=r"no KPI of \['aht_s'\] is measured in the sensitivity table"):
        plots.kpi_sensitivity(sens, kpis=("aht_s",))
