"""The sample contact center: a seeded year of contacts with a known structural CX model.

:func:`generate` simulates one year (by default 2025) of a five-queue, two-channel
contact center and returns every canonical table of :mod:`cxlab.schema`. The
customer-experience scores come from a documented structural model whose
coefficients, confounder, pilot effect and loyalty model are exported by
:func:`ground_truth`, so every analysis step can be tested against the truth.
``docs/sample.md`` explains the model; its coefficient table is checked
against :data:`LATENT_MODEL` by the tests.

The simulation is a pipeline of small vectorized steps (no per-contact Python
loops)::

    calendar -> arrival rates -> staffing (Erlang C plan + shortfalls)
    -> fresh arrivals -> [queueing -> handling -> resolution -> repeats]* (generations)
    -> is_repeat -> latent satisfaction -> churn (drops contacts after churn)
    -> surveys (non-response bias) -> revenue, QA scores, web series -> tables

Pandas conventions of the returned frames: timestamps ``datetime64[ns, UTC]``;
ids and categories ``str``; durations float seconds (whole seconds); flags
``bool``; DATE columns (``agents.hire_date``, ``customer_revenue.month``,
``series.date``) ``datetime64[ns]`` at midnight (stored as parquet ``date32``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..config import cache_dir
from ..errors import check_option
from ..schema import TABLES

__all__ = [
    "GENERATOR_VERSION",
    "TIMEZONE",
    "QUEUES",
    "REASONS",
    "LATENT_MODEL",
    "MEASUREMENT",
    "generate",
    "write_sample",
    "load_sample",
    "ground_truth",
    "main_sample",
]

GENERATOR_VERSION = 1
TIMEZONE = "America/New_York"
DAY_S = 86_400.0

# --------------------------------------------------------------------------- center layout
QUEUES = ("billing", "tech_support", "sales", "retention", "general")
QUEUE_SHARE = np.array([0.28, 0.26, 0.18, 0.10, 0.18])
CHAT_SHARE = np.array([0.30, 0.25, 0.40, 0.20, 0.35])  # volume-weighted: ~30% chat
CHANNELS = ("voice", "chat")
CHAT_CONCURRENCY = 2.0  # a chat agent works two chats at once
TEAMS_PER_QUEUE = (3, 3, 2, 2, 2)  # 12 teams, each serving one primary queue
SITES = ("atlanta", "dallas", "phoenix")
AGENTS_PER_1000 = 120

#: contact reasons: name -> (queue, share within the queue, latent complexity)
REASONS: dict[str, tuple[str, float, float]] = {
    "billing_question": ("billing", 0.50, 0.3),
    "payment_issue": ("billing", 0.30, 0.8),
    "refund_request": ("billing", 0.20, 1.1),
    "device_setup": ("tech_support", 0.45, 0.6),
    "connectivity": ("tech_support", 0.50, 1.0),
    "service_outage": ("tech_support", 0.05, 1.4),
    "new_purchase": ("sales", 0.60, 0.2),
    "plan_upgrade": ("sales", 0.40, 0.5),
    "cancel_request": ("retention", 1.00, 1.2),
    "account_update": ("general", 0.45, 0.2),
    "general_inquiry": ("general", 0.40, 0.0),
    "complaint": ("general", 0.15, 1.5),
}
_REASON_NAMES = tuple(REASONS)
_REASON_CX = np.array([v[2] for v in REASONS.values()])
_OUTAGE_REASON = _REASON_NAMES.index("service_outage")
_CANCEL_REASON = _REASON_NAMES.index("cancel_request")

# --------------------------------------------------------------------------- arrivals
OPEN_S, CLOSE_S, SLOT_S = 7 * 3600.0, 22 * 3600.0, 1800.0
N_SLOTS = int((CLOSE_S - OPEN_S) // SLOT_S)  # 30 half hours, 07:00-22:00 local
_INTRADAY = np.array([
    0.30, 0.50, 0.78, 1.02, 1.22, 1.36, 1.42, 1.40, 1.32, 1.22,
    1.18, 1.24, 1.30, 1.30, 1.25, 1.16, 1.06, 0.98, 0.92, 0.88,
    0.84, 0.80, 0.74, 0.66, 0.58, 0.50, 0.43, 0.36, 0.30, 0.24,
])
INTRADAY = _INTRADAY / _INTRADAY.sum()
_WEEK = np.array([1.22, 1.12, 1.06, 1.02, 0.96, 0.60, 0.42])  # Monday .. Sunday
WEEKLY = _WEEK / _WEEK.mean()
TREND_PER_YEAR = 0.06
HOLIDAY_FACTOR = 0.35
BILLING_CYCLE_FACTOR = 1.20  # billing volume on days 1-5 of each month
DAILY_NOISE_SD = 0.06  # day x queue forecast error (log scale)
#: expected contacts per fresh issue (repeats and call-backs included); fresh rate = volume / this
REPEAT_LOAD_FACTOR = 1.30

# events, placed for a 365-day year and scaled for other lengths
OUTAGE = {"day": 69, "multipliers": (2.4, 2.0, 1.5), "queue": "tech_support",
          "label": "network outage", "resolution_logit": -0.6}
CAMPAIGN = {"day": 124, "length": 14, "multiplier": 1.6, "planned_share": 0.5, "queue": "sales",
            "label": "spring promotion campaign"}
PILOT = {"day": 273, "effect_on_resolution": 0.08, "label": "resolution coaching pilot"}

# --------------------------------------------------------------------------- staffing and queueing
SL_TARGET, SL_T_S = 0.80, 20.0
SHORTFALL = {"day_prob": 0.06, "low": 0.70, "high": 0.85, "normal_sd": 0.04}
PATIENCE_MEAN_S = np.array([180.0, 300.0])  # voice, chat
QUICK_HANGUP_SHARE = 0.02  # callers whose patience is uniform on 0-5 s
RING_S = 4.0  # routing / ring time, uniform 0-RING_S for every contact
MAX_MEAN_WAIT_S = 300.0  # cap on the conditional mean wait; overloaded intervals use it

# --------------------------------------------------------------------------- handling
TALK_MEDIAN_S = np.array([225.0, 305.0, 265.0, 290.0, 175.0])  # voice, by queue
HANDLING = {
    "chat_talk_multiplier": 1.7,
    "talk_sigma": 0.55,
    "talk_complexity": 0.35,
    "talk_new_hire": 0.35,
    "talk_transfer": 0.35,
    "hold_logit": -1.5,
    "hold_logit_complexity": 1.0,
    "hold_logit_chat": -0.6,
    "hold_median_s": 40.0,
    "hold_complexity": 0.5,
    "hold_sigma": 0.8,
    "acw_median_s": (35.0, 20.0),
    "acw_complexity": 0.3,
    "acw_sigma": 0.5,
    "transfer_logit": -2.9,
    "transfer_complexity": 0.9,
    "transfer_new_hire": 0.6,
    "tenure_scale_days": 75.0,
}
#: P(resolved) = logistic(logit) + pilot effect for treated teams after the pilot start
RESOLUTION = {
    "intercept": 2.20,
    "new_hire_penalty": -1.0,  # times exp(-tenure_days / tenure_scale_days)
    "tenure_scale_days": 75.0,
    "complexity": -1.2,
    "transferred": -0.9,
    "agent_skill_sd": 0.35,
    "outage": OUTAGE["resolution_logit"],
    "pilot": PILOT["effect_on_resolution"],  # added to P(R) (probability, 0.08 = 8 points)
    "max_probability": 0.99,
    "flag_false_positive_rate": 0.10,
}
REPEATS = {
    "unresolved_repeat_prob": 0.85,
    "abandon_callback_prob": 0.65,
    "short_abandon_callback_prob": 0.35,
    "delay_days": (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13),
    "delay_probs": (0.12, 0.28, 0.18, 0.12, 0.08, 0.06, 0.05, 0.03, 0.02, 0.02, 0.01, 0.01, 0.01, 0.01),
    "same_day_gap_mean_s": 7200.0,
    "callback_gap_mean_s": 1200.0,
    "switch_channel_prob": 0.25,
    "escalate_to_retention_prob": 0.10,
    "max_generations": 8,
}

# --------------------------------------------------------------------------- satisfaction
#: structural model of latent satisfaction S (docs/sample.md has the same table)
LATENT_MODEL: dict[str, float] = {
    "intercept": 0.90,
    "resolved": 1.30,
    "wait_excess": -0.40,
    "wait_knee_s": 30.0,
    "wait_scale_s": 60.0,
    "transferred": -0.45,
    "hold_per_min": -0.12,
    "is_repeat": -0.50,
    "complexity": -0.60,
    "handle_time": 0.0,
    "tenure_direct": 0.0,
    "noise_sd": 0.80,
}
LATENT_FORM = (
    "S = intercept + resolved*R + wait_excess*log1p(max(0, wait_s - wait_knee_s)/wait_scale_s)"
    " + transferred*T + hold_per_min*hold_s/60 + is_repeat*REP + complexity*CX"
    " + handle_time*(talk_s + hold_s + acw_s)/60 + tenure_direct*tenure_years + e, e ~ N(0, noise_sd^2);"
    " R = true resolution, REP = any earlier contact by the same customer within 7 days,"
    " CX = complexity of the contact_reason"
)
#: each metric = cut(S + N(0, sd^2), thresholds): value = lowest + number of thresholds below
MEASUREMENT: dict[str, dict] = {
    "csat": {"noise_sd": 0.45, "low": 1, "thresholds": [-0.90, -0.30, 0.20, 0.80]},
    "nps": {"noise_sd": 1.05, "low": 0,
            "thresholds": [-1.60, -1.30, -1.00, -0.70, -0.40, -0.10, 0.35, 0.75, 1.20, 1.75]},
    "ces": {"noise_sd": 1.45, "low": 1, "thresholds": [-1.30, -0.80, -0.30, 0.20, 0.75, 1.40]},
}
NONRESPONSE = {
    "form": "P(respond) = logistic(intercept + unresolved*(1-R) + long_wait*(wait_s > long_wait_s) + chat*CHAT)",
    "intercept": -2.05,
    "unresolved": 0.45,
    "long_wait": 0.35,
    "long_wait_s": 120.0,
    "chat": 0.25,
    "delay_median_min": 45.0,
    "delay_sigma": 1.6,
    "max_delay_days": 5.0,
    "self_report_flip_prob": 0.12,
    "comment_prob": 0.30,
}
# --------------------------------------------------------------------------- customers and loyalty
CUSTOMERS_PER_DAILY_CONTACT = 200
SEGMENTS = ("consumer", "smb", "enterprise")
SEGMENT_SHARE = np.array([0.80, 0.15, 0.05])
SEGMENT_CONTACT_WEIGHT = np.array([1.0, 2.0, 4.0])
CONTACT_PROPENSITY_SHAPE = 0.7  # gamma shape of the per-customer contact propensity
LOYALTY = {
    "baseline_annual_churn": {"consumer": 0.08, "smb": 0.06, "enterprise": 0.04},
    "churn_trigger_form": "after each handled contact: P(churn trigger) = logistic(intercept + satisfaction*S);"
                          " churn time = contact time + U(1, max_delay_days) days; churned_at = min(baseline"
                          " churn time, trigger times); no contacts after churned_at",
    "churn_trigger_intercept": -3.0,
    "churn_trigger_satisfaction": -0.75,
    "churn_trigger_max_delay_days": 45.0,
    "revenue_form": "products_held(m) = clip(products_held(m-1) + up - down, 1, products_offered);"
                    " P(up) = logistic(intercept + satisfaction*(Sbar_m - reference_s)), P(down) = logistic(intercept"
                    " - satisfaction*(Sbar_m - reference_s)), Sbar_m = mean S of the customer's handled"
                    " contacts in month m"
                    " (no change when no contact); revenue = products_held * price * customer_factor * noise",
    "products_intercept": -3.2,
    "products_satisfaction": 0.9,
    "products_reference_s": 1.0,
    "products_offered": {"consumer": 6, "smb": 10, "enterprise": 16},
    "initial_products_mean": {"consumer": 1.6, "smb": 3.0, "enterprise": 5.0},
    "price_per_product": {"consumer": 25.0, "smb": 120.0, "enterprise": 900.0},
    "customer_factor_sigma": 0.25,
    "revenue_noise_sigma": 0.05,
}
QA = {"tracking_share": 0.20, "mean": 80.0, "sd_between": 7.0, "sd_within": 5.0}
WEB = {"visits_per_contact": 20.0, "weekly": (1.10, 1.08, 1.05, 1.02, 0.98, 0.90, 0.87),
       "campaign_multiplier": 1.35, "noise_sigma": 0.06}


# =========================================================================== helpers
def _rng(seed: int, name: str) -> np.random.Generator:
    """An independent random stream per pipeline step, so steps do not shift each other."""
    return np.random.default_rng([int(seed), zlib.crc32(name.encode())])


def _logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def _lognormal(rng, median, sigma, size):
    return median * np.exp(sigma * rng.standard_normal(size))


def _erlang_c(n, a):
    """Erlang C probability of waiting for ``n`` agents and offered load ``a`` (arrays).

    Returns 1 where ``n <= a`` (the queue is overloaded).

    Examples
    --------
    >>> round(float(_erlang_c(np.array([14]), np.array([10.0]))[0]), 3)
    0.174
    """
    n = np.asarray(n, dtype=float)
    a = np.asarray(a, dtype=float)
    b = np.ones_like(a)
    b_at_n = np.ones_like(a)
    for k in range(1, int(n.max(initial=0)) + 1):
        b = a * b / (k + a * b)
        b_at_n = np.where(n == k, b, b_at_n)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = n * b_at_n / (n - a * (1.0 - b_at_n))
    return np.where(n > a, np.clip(c, 0.0, 1.0), 1.0)


def _plan_agents(a, aht_s, target=None, t_s=None):
    """Smallest agent count whose Erlang C service level reaches ``target`` (at least 1)."""
    target = SL_TARGET if target is None else target
    t_s = SL_T_S if t_s is None else t_s
    a = np.asarray(a, dtype=float)
    aht_s = np.broadcast_to(np.asarray(aht_s, dtype=float), a.shape)
    n_plan = np.zeros(a.shape, dtype=np.int64)
    b = np.ones_like(a)
    k = 0
    while (n_plan == 0).any():
        k += 1
        b = a * b / (k + a * b)
        with np.errstate(divide="ignore", invalid="ignore"):
            c = k * b / (k - a * (1.0 - b))
            sl = 1.0 - c * np.exp(-(k - a) * t_s / aht_s)
        ok = (k > a) & (sl >= target) & (n_plan == 0)
        n_plan[ok] = k
    return n_plan


def _us_holidays(year: int) -> dict[dt.date, str]:
    """US federal holidays of ``year`` (observed dates not shifted)."""

    def nth(month, weekday, n):
        d = dt.date(year, month, 1)
        d += dt.timedelta(days=(weekday - d.weekday()) % 7)
        return d + dt.timedelta(weeks=n - 1)

    def last(month, weekday):
        d = dt.date(year, month + 1, 1) - dt.timedelta(days=1)
        return d - dt.timedelta(days=(d.weekday() - weekday) % 7)

    return {
        dt.date(year, 1, 1): "New Year's Day",
        nth(1, 0, 3): "Martin Luther King Jr. Day",
        nth(2, 0, 3): "Presidents' Day",
        last(5, 0): "Memorial Day",
        dt.date(year, 6, 19): "Juneteenth",
        dt.date(year, 7, 4): "Independence Day",
        nth(9, 0, 1): "Labor Day",
        nth(10, 0, 2): "Columbus Day",
        dt.date(year, 11, 11): "Veterans Day",
        nth(11, 3, 4): "Thanksgiving Day",
        dt.date(year, 12, 25): "Christmas Day",
    }


# =========================================================================== 1. calendar and events
@dataclass
class _Calendar:
    start: dt.date
    days: int
    dates: np.ndarray  # datetime64[D]
    dow: np.ndarray  # 0 = Monday
    holiday: np.ndarray  # bool
    day_base_utc_ns: np.ndarray  # UTC instant of local midnight (valid for 07:00-22:00)
    month: np.ndarray  # month index since the first month of the period
    outage_days: np.ndarray  # day indexes of the outage (with multiplier)
    outage_mult: np.ndarray
    campaign: np.ndarray  # bool per day
    pilot_day: int
    events: list = field(default_factory=list)


def _scaled_day(day_365: int, days: int) -> int:
    return int(min(days - 1, round(day_365 * days / 365)))


def _calendar(start: str, days: int) -> _Calendar:
    d0 = dt.date.fromisoformat(str(start))
    dates = np.datetime64(d0, "D") + np.arange(days)
    dow = ((dates.astype("int64") + 3) % 7).astype(np.int8)
    local_noon = dates.astype("datetime64[ns]") + np.timedelta64(12, "h")
    utc_noon = pd.DatetimeIndex(local_noon).tz_localize(TIMEZONE).tz_convert("UTC").tz_localize(None)
    offset_ns = local_noon.astype("int64") - utc_noon.asi8  # local - UTC, e.g. -5 h
    day_base = dates.astype("datetime64[ns]").astype("int64") - offset_ns
    years = range(d0.year, (d0 + dt.timedelta(days=days)).year + 1)
    hol_names = {k: v for y in years for k, v in _us_holidays(y).items()}
    py_dates = [d0 + dt.timedelta(days=i) for i in range(days)]
    holiday = np.array([d in hol_names for d in py_dates])
    ym = dates.astype("datetime64[M]").astype("int64")
    month = (ym - ym[0]).astype(np.int32)

    o_start = _scaled_day(OUTAGE["day"], days)
    o_days = np.arange(o_start, min(days, o_start + len(OUTAGE["multipliers"])))
    o_mult = np.array(OUTAGE["multipliers"][: len(o_days)])
    c_start = _scaled_day(CAMPAIGN["day"], days)
    c_end = min(days, c_start + CAMPAIGN["length"])
    campaign = np.zeros(days, dtype=bool)
    campaign[c_start:c_end] = True
    pilot_day = _scaled_day(PILOT["day"], days)

    def day_str(i):
        return str(d0 + dt.timedelta(days=int(i)))

    events = [
        {"label": f"{hol_names[py_dates[i]]}", "kind": "holiday", "start": day_str(i),
         "end": day_str(i + 1), "queue": None}
        for i in np.flatnonzero(holiday)
    ]
    events.append({"label": OUTAGE["label"], "kind": "outage", "start": day_str(o_start),
                   "end": day_str(o_start + len(o_days)), "queue": OUTAGE["queue"]})
    events.append({"label": CAMPAIGN["label"], "kind": "campaign", "start": day_str(c_start),
                   "end": day_str(c_end), "queue": CAMPAIGN["queue"]})
    events.append({"label": PILOT["label"], "kind": "other", "start": day_str(pilot_day),
                   "end": day_str(days), "queue": None})
    events.sort(key=lambda e: (e["start"], e["kind"], e["label"]))
    return _Calendar(d0, days, dates, dow, holiday, day_base, month, o_days, o_mult, campaign,
                     pilot_day, events)


# =========================================================================== 2. arrival rates
def _rates(cal: _Calendar, contacts_per_day: int, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fresh-issue arrival rates per (day, queue, slot): true, forecast, and the outage multiplier."""
    days = cal.days
    base = contacts_per_day / REPEAT_LOAD_FACTOR
    day_f = WEEKLY[cal.dow] * (1 + TREND_PER_YEAR * np.arange(days) / 365.0)
    day_f = np.where(cal.holiday, day_f * HOLIDAY_FACTOR, day_f)
    dq = day_f[:, None] * QUEUE_SHARE[None, :]
    dom = cal.dates.astype("datetime64[D]") - cal.dates.astype("datetime64[M]").astype("datetime64[D]")
    billing_cycle = np.where(dom.astype(int) < 5, BILLING_CYCLE_FACTOR, 1.0)
    dq[:, 0] *= billing_cycle
    forecast = dq.copy()
    qi_out, qi_camp = QUEUES.index(OUTAGE["queue"]), QUEUES.index(CAMPAIGN["queue"])
    outage_mult = np.ones((days, len(QUEUES)))
    outage_mult[cal.outage_days, qi_out] = cal.outage_mult
    camp = np.where(cal.campaign, CAMPAIGN["multiplier"], 1.0)
    dq = dq * outage_mult
    dq[:, qi_camp] *= camp
    forecast[:, qi_camp] *= 1 + (camp - 1) * CAMPAIGN["planned_share"]
    noise = np.exp(DAILY_NOISE_SD * rng.standard_normal(dq.shape))
    true = base * (dq * noise)[:, :, None] * INTRADAY[None, None, :]
    fc = base * forecast[:, :, None] * INTRADAY[None, None, :]
    return true, fc, outage_mult


def _planning_aht() -> np.ndarray:
    """Expected workload seconds per contact, by queue (chat workload divided by concurrency)."""
    h = HANDLING
    out = np.zeros(len(QUEUES))
    for qi, q in enumerate(QUEUES):
        mix = [(share, cx) for (qq, share, cx) in REASONS.values() if qq == q]
        tot = sum(s for s, _ in mix)
        wl = np.zeros(2)
        for ch in (0, 1):
            talk = TALK_MEDIAN_S[qi] * (h["chat_talk_multiplier"] if ch else 1.0)
            e = 0.0
            for share, cx in mix:
                t = talk * np.exp(h["talk_complexity"] * cx) * np.exp(h["talk_sigma"] ** 2 / 2) * 1.06
                ph = _logistic(h["hold_logit"] + h["hold_logit_complexity"] * cx + h["hold_logit_chat"] * ch)
                hold = ph * h["hold_median_s"] * np.exp(h["hold_complexity"] * cx + h["hold_sigma"] ** 2 / 2)
                acw = h["acw_median_s"][ch] * (1 + h["acw_complexity"] * cx) * np.exp(h["acw_sigma"] ** 2 / 2)
                e += share / tot * (t + hold + acw)
            wl[ch] = e / (CHAT_CONCURRENCY if ch else 1.0)
        out[qi] = (1 - CHAT_SHARE[qi]) * wl[0] + CHAT_SHARE[qi] * wl[1]
    return out


# =========================================================================== 3. staffing
def _staffing(cal: _Calendar, forecast: np.ndarray, aht: np.ndarray, rng) -> np.ndarray:
    """Agents staffed per (day, queue, slot): Erlang C plan for 80/20, times shortfall factors."""
    a_fc = forecast * REPEAT_LOAD_FACTOR * aht[None, :, None] / SLOT_S
    n_plan = _plan_agents(a_fc, np.broadcast_to(aht[None, :, None], a_fc.shape))
    short = rng.random(cal.days) < SHORTFALL["day_prob"]
    day_factor = np.where(short, rng.uniform(SHORTFALL["low"], SHORTFALL["high"], cal.days),
                          np.clip(1 + SHORTFALL["normal_sd"] * rng.standard_normal(cal.days), 0.9, 1.1))
    n = np.maximum(1, np.round(n_plan * day_factor[:, None, None]))
    return n.astype(np.float64), short


# =========================================================================== 4. arrivals
def _draw_fresh(cal: _Calendar, lam: np.ndarray, outage_mult: np.ndarray, cust_cdf: np.ndarray, rng) -> dict:
    """Poisson arrivals of fresh issues per (day, queue, slot, channel), uniform within the slot."""
    lam_ch = lam[..., None] * np.stack([1 - CHAT_SHARE, CHAT_SHARE], axis=1)[None, :, None, :]
    counts = rng.poisson(lam_ch).ravel()
    cell = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    days, nq, ns = lam.shape
    ch = (cell % 2).astype(np.int8)
    cell //= 2
    slot = cell % ns
    cell //= ns
    q = (cell % nq).astype(np.int8)
    day = (cell // nq).astype(np.int32)
    del cell
    sec = OPEN_S + (slot + rng.random(slot.size)) * SLOT_S
    reason = _draw_reason(q, day, outage_mult, rng)
    cust = np.searchsorted(cust_cdf, rng.random(day.size), side="right").astype(np.int32)
    return {"day": day, "sec": sec, "q": q, "ch": ch, "reason": reason, "cust": cust,
            "gen": np.zeros(day.size, np.int8)}


def _reason_cdf() -> np.ndarray:
    cdf = np.zeros((len(QUEUES), len(REASONS)))
    for qi, q in enumerate(QUEUES):
        p = np.array([v[1] if v[0] == q else 0.0 for v in REASONS.values()])
        cdf[qi] = np.cumsum(p / p.sum())
    cdf[:, -1] = 1.0
    return cdf


def _draw_reason(q, day, outage_mult, rng):
    """Reason by queue mix; on outage days the extra tech-support volume is ``service_outage``."""
    cdf = _reason_cdf()
    u = rng.random(q.size)
    reason = np.zeros(q.size, np.int8)
    for j in range(len(REASONS) - 1):
        reason += u > cdf[q, j]
    m = outage_mult[day, q]
    extra = rng.random(q.size) < (m - 1) / m
    reason[extra] = _OUTAGE_REASON
    return reason


def _time_in_profile(n, rng):
    """Local seconds since midnight drawn from the intraday profile."""
    slot = np.searchsorted(np.cumsum(INTRADAY), rng.random(n), side="right").clip(0, N_SLOTS - 1)
    return OPEN_S + (slot + rng.random(n)) * SLOT_S


# =========================================================================== 5. queueing
def _queue_law(lam: np.ndarray, staffed: np.ndarray, aht: np.ndarray):
    """Per interval cell: P(wait) = Erlang C(N, A) and the conditional mean wait AHT / (N - A).

    A is the expected offered load (fresh rate x repeat load factor x planning AHT / interval);
    the mean wait is capped at ``MAX_MEAN_WAIT_S``, which is also used when N <= A (overload).
    """
    a = (lam * REPEAT_LOAD_FACTOR * aht[None, :, None] / SLOT_S).ravel()
    n_ag = staffed.ravel()
    p_wait = _erlang_c(n_ag, a)
    aht_cells = np.broadcast_to(aht[None, :, None], lam.shape).ravel()
    with np.errstate(divide="ignore"):
        mean_wait = np.where(n_ag > a, aht_cells / (n_ag - a), np.inf)
    return p_wait, np.minimum(mean_wait, MAX_MEAN_WAIT_S)


def _cell(c):
    slot = ((c["sec"] - OPEN_S) // SLOT_S).astype(np.int64).clip(0, N_SLOTS - 1)
    return (c["day"].astype(np.int64) * len(QUEUES) + c["q"]) * N_SLOTS + slot


def _queue(c: dict, p_wait: np.ndarray, mean_wait: np.ndarray, rng) -> None:
    """Draw each contact's wait from its interval's Erlang C law and abandon on patience."""
    n = c["day"].size
    cell = _cell(c)
    waits = rng.random(n) < p_wait[cell]
    w = RING_S * rng.random(n) + np.where(waits, rng.exponential(1.0, n) * mean_wait[cell], 0.0)
    quick = rng.random(n) < QUICK_HANGUP_SHARE
    patience = np.where(quick, 5.0 * rng.random(n), rng.exponential(1.0, n) * PATIENCE_MEAN_S[c["ch"]])
    abandoned = patience < w
    c["wait"] = np.floor(np.minimum(w, patience)).astype(np.float32)
    c["abandoned"] = abandoned


# =========================================================================== 6. handling and resolution
@dataclass
class _Agents:
    queue: np.ndarray  # int8 per agent (internal order: by queue, then hire day)
    team: np.ndarray  # int16 team index
    site: np.ndarray  # int8
    hire_day: np.ndarray  # int32, relative to the period start (negative = before)
    skill: np.ndarray  # resolution logit shift
    first: np.ndarray  # per queue: index of its first agent
    count: np.ndarray  # per queue: number of agents
    team_names: list
    treated_team: np.ndarray  # bool per team
    qa_tracks: np.ndarray  # bool per agent


def _agents(cal: _Calendar, contacts_per_day: int, seed: int) -> _Agents:
    rng = _rng(seed, "agents")
    n_total = max(24, int(round(AGENTS_PER_1000 * contacts_per_day / 1000)))
    per_q = np.maximum(2 * np.array(TEAMS_PER_QUEUE), np.round(QUEUE_SHARE * n_total)).astype(int)
    team_names, team_queue, team_site = [], [], []
    for qi, (q, k) in enumerate(zip(QUEUES, TEAMS_PER_QUEUE)):
        for j in range(k):
            team_names.append(f"{q}_{'abc'[j]}")
            team_queue.append(qi)
            team_site.append(len(team_site) % len(SITES))
    team_queue = np.array(team_queue)
    queue, team, hire = [], [], []
    for qi in range(len(QUEUES)):
        teams = np.flatnonzero(team_queue == qi)
        n = per_q[qi]
        t = teams[np.arange(n) % len(teams)]
        new = rng.random(n) < 0.18
        h = np.where(new, rng.uniform(0, 0.85 * cal.days, n), -rng.uniform(60, 6 * 365, n)).astype(np.int32)
        order = np.argsort(h, kind="stable")
        queue.append(np.full(n, qi, np.int8))
        team.append(t[order].astype(np.int16))
        hire.append(h[order])
    queue, team, hire = np.concatenate(queue), np.concatenate(team), np.concatenate(hire)
    # make sure every queue has agents on day 0
    first = np.concatenate([[0], np.cumsum(per_q)[:-1]])
    hire[first] = np.minimum(hire[first], -365)
    for qi in range(len(QUEUES)):
        sl = slice(first[qi], first[qi] + per_q[qi])
        o = np.argsort(hire[sl], kind="stable")
        hire[sl], team[sl] = hire[sl][o], team[sl][o]
    skill = RESOLUTION["agent_skill_sd"] * rng.standard_normal(queue.size)
    # stratified pilot randomization: within each queue, half the teams (odd counts split at random)
    prng = _rng(seed, "pilot")
    treated = np.zeros(len(team_names), bool)
    n_treat = [k // 2 for k in TEAMS_PER_QUEUE]
    odd = [qi for qi, k in enumerate(TEAMS_PER_QUEUE) if k % 2]
    extra = prng.permutation(odd)[: len(team_names) // 2 - sum(n_treat)]
    for qi in extra:
        n_treat[qi] += 1
    for qi in range(len(QUEUES)):
        teams = np.flatnonzero(team_queue == qi)
        treated[prng.permutation(teams)[: n_treat[qi]]] = True
    qa_tracks = rng.random(queue.size) < QA["tracking_share"]
    return _Agents(queue, team, np.array(team_site)[team].astype(np.int8), hire, skill, first, per_q,
                   team_names, treated, qa_tracks)


def _handle(c: dict, ag: _Agents, cal: _Calendar, rng) -> None:
    """Agent, transfer, talk/hold/ACW and resolution for the answered contacts of ``c``."""
    n = c["day"].size
    ans = ~c["abandoned"]
    q = c["q"].astype(np.int64)
    day = c["day"]
    # agents hired by the contact's day form a prefix of the queue's (hire-sorted) agent list
    n_elig = np.zeros(n, np.int64)
    for qi in range(len(QUEUES)):
        m = q == qi
        hires = ag.hire_day[ag.first[qi]: ag.first[qi] + ag.count[qi]]
        n_elig[m] = np.searchsorted(hires, day[m], side="right")
    agent = ag.first[q] + np.floor(rng.random(n) * np.maximum(n_elig, 1)).astype(np.int64)
    agent = np.where(ans, agent, -1).astype(np.int32)
    a = np.maximum(agent, 0)
    tenure = (day - ag.hire_day[a]).astype(np.float64)
    h = HANDLING
    newness = np.exp(-tenure / h["tenure_scale_days"])
    cx = _REASON_CX[c["reason"]]
    transferred = ans & (rng.random(n) < _logistic(
        h["transfer_logit"] + h["transfer_complexity"] * cx + h["transfer_new_hire"] * newness))
    chat = c["ch"] == 1
    talk_med = (TALK_MEDIAN_S[q] * np.where(chat, h["chat_talk_multiplier"], 1.0)
                * np.exp(h["talk_complexity"] * cx) * (1 + h["talk_new_hire"] * newness)
                * np.where(transferred, 1 + h["talk_transfer"], 1.0))
    talk = _lognormal(rng, talk_med, h["talk_sigma"], n)
    has_hold = rng.random(n) < _logistic(h["hold_logit"] + h["hold_logit_complexity"] * cx
                                         + h["hold_logit_chat"] * chat)
    hold = np.where(has_hold, _lognormal(rng, h["hold_median_s"] * np.exp(h["hold_complexity"] * cx),
                                         h["hold_sigma"], n), 0.0)
    acw = _lognormal(rng, np.where(chat, h["acw_median_s"][1], h["acw_median_s"][0])
                     * (1 + h["acw_complexity"] * cx), h["acw_sigma"], n)
    r = RESOLUTION
    outage_day = np.isin(day, cal.outage_days) & (q == QUEUES.index(OUTAGE["queue"]))
    logit = (r["intercept"] + ag.skill[a] + r["new_hire_penalty"] * np.exp(-tenure / r["tenure_scale_days"])
             + r["complexity"] * cx + r["transferred"] * transferred + r["outage"] * outage_day)
    p0 = _logistic(logit)
    treated = ans & ag.treated_team[ag.team[a]] & (day >= cal.pilot_day)
    p = np.minimum(p0 + r["pilot"] * treated, r["max_probability"])
    u = rng.random(n)
    resolved = ans & (u < p)
    flag = resolved | (ans & (rng.random(n) < r["flag_false_positive_rate"]))
    zero = np.float32(0)
    c["agent"] = agent
    c["transferred"] = transferred
    c["talk"] = np.where(ans, np.round(talk), zero).astype(np.float32)
    c["hold"] = np.where(ans, np.round(hold), zero).astype(np.float32)
    c["acw"] = np.where(ans, np.round(acw), zero).astype(np.float32)
    c["res"] = resolved
    c["flag"] = flag
    c["u_res"] = u.astype(np.float32)
    c["p0"] = p0.astype(np.float32)
    c["treated"] = treated


# =========================================================================== 7. repeats and call-backs
def _spawn(c: dict, days: int, rng) -> dict:
    """Next generation: call-backs after abandons, repeat contacts after unresolved contacts."""
    rp = REPEATS
    n = c["day"].size
    short = c["abandoned"] & (c["wait"] < 5)
    p = np.where(c["abandoned"], np.where(short, rp["short_abandon_callback_prob"], rp["abandon_callback_prob"]),
                 np.where(c["res"], 0.0, rp["unresolved_repeat_prob"]))
    go = rng.random(n) < p
    idx = np.flatnonzero(go)
    m = idx.size
    ab = c["abandoned"][idx]
    end = (c["sec"][idx] + c["wait"][idx] + c["talk"][idx] + c["hold"][idx] + c["acw"][idx])
    delay_days = np.where(ab, 0, rng.choice(np.array(rp["delay_days"]), size=m, p=np.array(rp["delay_probs"])))
    gap = np.where(ab, 60 + rng.exponential(rp["callback_gap_mean_s"], m),
                   600 + rng.exponential(rp["same_day_gap_mean_s"], m))
    same_sec = end + gap
    later = (delay_days > 0) | (same_sec >= CLOSE_S)
    delay_days = np.where((delay_days == 0) & later, 1, delay_days)
    sec = np.where(later, _time_in_profile(m, rng), same_sec)
    day = c["day"][idx] + delay_days
    q = c["q"][idx].copy()
    reason = c["reason"][idx].copy()
    ch = c["ch"][idx].copy()
    rep = ~ab
    esc = rep & (rng.random(m) < rp["escalate_to_retention_prob"])
    q[esc] = QUEUES.index("retention")
    reason[esc] = _CANCEL_REASON
    sw = rep & (rng.random(m) < rp["switch_channel_prob"])
    ch[sw] = 1 - ch[sw]
    keep = day < days
    out = {"day": day.astype(np.int32), "sec": sec, "q": q, "ch": ch, "reason": reason,
           "cust": c["cust"][idx], "gen": (c["gen"][idx] + 1).astype(np.int8)}
    return {k: v[keep] for k, v in out.items()}


def _take_inplace(c: dict, idx) -> None:
    """Reorder/filter every array of ``c`` one at a time (peak memory: one extra array)."""
    for k in list(c):
        c[k] = c[k][idx]


# =========================================================================== 8. satisfaction
def _wait_term(wait_s):
    lm = LATENT_MODEL
    return np.log1p(np.maximum(0.0, wait_s - lm["wait_knee_s"]) / lm["wait_scale_s"])


def _latent(res, wait, transferred, hold, is_repeat, cx, eps):
    """Latent satisfaction S of the structural model (see :data:`LATENT_MODEL`)."""
    lm = LATENT_MODEL
    return (lm["intercept"] + lm["resolved"] * res + lm["wait_excess"] * _wait_term(wait)
            + lm["transferred"] * transferred + lm["hold_per_min"] * hold / 60.0
            + lm["is_repeat"] * is_repeat + lm["complexity"] * cx + eps)


def _measure(s, noise, metric):
    """Cut ``s + noise`` at the metric's thresholds."""
    m = MEASUREMENT[metric]
    return (m["low"] + np.searchsorted(np.array(m["thresholds"]), s + noise, side="right")).astype(np.float64)


def _headline(csat, nps, ces) -> dict:
    return {"csat_top2": float(np.mean(csat >= 4) * 100),
            "nps": float((np.mean(nps >= 9) - np.mean(nps <= 6)) * 100),
            "ces_mean": float(np.mean(ces))}


# =========================================================================== the simulation
@dataclass
class _Sim:
    cal: _Calendar
    seed: int
    contacts_per_day: int
    c: dict  # contacts, sorted by time
    staffed: np.ndarray  # (days, queues, slots)
    ag: _Agents
    cust: dict  # per customer (population) arrays
    surveys: dict
    truth: dict


def _simulate(seed: int, days: int, contacts_per_day: int, start: str) -> _Sim:
    if days < 1:
        raise ValueError(f"days must be >= 1; got {days}")
    if contacts_per_day < 1:
        raise ValueError(f"contacts_per_day must be >= 1; got {contacts_per_day}")
    cal = _calendar(start, days)
    lam, fc, outage_mult = _rates(cal, contacts_per_day, _rng(seed, "rates"))
    aht = _planning_aht()
    staffed, short_days = _staffing(cal, fc, aht, _rng(seed, "staffing"))
    p_wait, mean_wait = _queue_law(lam, staffed, aht)

    # customers (the population; only those who contact appear in the customers table)
    crng = _rng(seed, "customers")
    n_cust = max(100, CUSTOMERS_PER_DAILY_CONTACT * contacts_per_day)
    seg = np.searchsorted(np.cumsum(SEGMENT_SHARE), crng.random(n_cust), side="right").astype(np.int8)
    w = crng.gamma(CONTACT_PROPENSITY_SHAPE, 1.0, n_cust) * SEGMENT_CONTACT_WEIGHT[seg]
    cust_cdf = np.cumsum(w)
    cust_cdf /= cust_cdf[-1]
    del w

    ag = _agents(cal, contacts_per_day, seed)
    gen = _draw_fresh(cal, lam, outage_mult, cust_cdf, _rng(seed, "arrivals"))
    del cust_cdf
    parts = []
    for g in range(REPEATS["max_generations"] + 1):
        grng = _rng(seed, f"generation-{g}")
        _queue(gen, p_wait, mean_wait, grng)
        _handle(gen, ag, cal, grng)
        parts.append(gen)
        if g == REPEATS["max_generations"]:
            break
        gen = _spawn(gen, days, grng)
        if gen["day"].size == 0:
            break
    # one array at a time, so the generations and the result do not coexist in full
    c = {"t": np.concatenate([p["day"].astype(np.float64) * DAY_S + p.pop("sec") for p in parts])}
    for k in list(parts[0]):
        c[k] = np.concatenate([p.pop(k) for p in parts])
        if k == "gen":
            del c[k]
    del parts, gen

    # is_repeat: an earlier contact by the same customer within 7 days
    order = np.lexsort((c["t"], c["cust"]))
    _take_inplace(c, order)
    del order
    same = np.r_[False, c["cust"][1:] == c["cust"][:-1]]
    gap_prev = np.r_[np.inf, np.diff(c["t"])]
    c["is_repeat"] = same & (gap_prev <= 7 * DAY_S)

    # latent satisfaction of handled contacts (abandoned contacts get NaN)
    srng = _rng(seed, "satisfaction")
    n = c["t"].size
    ans = ~c["abandoned"]
    cx = _REASON_CX[c["reason"]]
    eps = (LATENT_MODEL["noise_sd"] * srng.standard_normal(n)).astype(np.float32)
    s = _latent(c["res"], c["wait"], c["transferred"], c["hold"], c["is_repeat"], cx, eps)
    c["S"] = np.where(ans, s, np.nan).astype(np.float32)
    c["eps"] = eps
    for metric, spec in MEASUREMENT.items():
        c[f"e_{metric}"] = (spec["noise_sd"] * srng.standard_normal(n)).astype(np.float32)

    del s, cx, ans
    churn_t = _churn(c, seg, crng, srng)
    keep = np.flatnonzero(c["t"] < churn_t[c["cust"]])  # churned customers make no more contacts
    _take_inplace(c, keep)
    _take_inplace(c, np.argsort(c["t"], kind="stable"))  # back to time order
    del keep

    surveys = _surveys(c, seed)
    cust = {"segment": seg, "churn_t": churn_t}
    sim = _Sim(cal, seed, contacts_per_day, c, staffed, ag, cust, surveys, {})
    sim.cust.update(_customer_table(sim, crng))
    sim.truth = _truth(sim, aht, short_days)
    return sim


def _churn(c: dict, seg: np.ndarray, crng, srng) -> np.ndarray:
    """Churn time per customer (seconds since the start): competing risks.

    A baseline exponential churn time per customer (annual rate by segment) competes
    with triggers after handled contacts: P(trigger) = logistic(a + b * S), churning
    U(1, max_delay_days) days after the contact. The earliest time wins. Contacts are
    time-ordered per customer, so removing the contacts after churn leaves the earliest
    trigger (which comes from an earlier contact) unchanged.
    """
    lo = LOYALTY
    n = c["t"].size
    base_rate = np.array([lo["baseline_annual_churn"][sg] for sg in SEGMENTS])[seg]
    churn_t = crng.exponential(1.0, seg.size) / (-np.log1p(-base_rate)) * 365.0 * DAY_S
    trig = ~c["abandoned"] & (srng.random(n) < _logistic(
        lo["churn_trigger_intercept"] + lo["churn_trigger_satisfaction"] * np.nan_to_num(c["S"])))
    trig_t = c["t"] + srng.uniform(1.0, lo["churn_trigger_max_delay_days"], n) * DAY_S
    np.minimum.at(churn_t, c["cust"][trig], trig_t[trig])
    return churn_t


# =========================================================================== 9. surveys
def _surveys(c: dict, seed: int) -> dict:
    """Survey responses of handled contacts, with non-response bias."""
    rng = _rng(seed, "surveys")
    nr = NONRESPONSE
    ans = ~c["abandoned"]
    n = ans.size
    logit = (nr["intercept"] + nr["unresolved"] * (~c["res"]) + nr["long_wait"] * (c["wait"] > nr["long_wait_s"])
             + nr["chat"] * (c["ch"] == 1))
    respond = ans & (rng.random(n) < _logistic(logit))
    idx = np.flatnonzero(respond)
    m = idx.size
    end = c["t"][idx] + c["wait"][idx] + c["talk"][idx] + c["hold"][idx] + c["acw"][idx]
    delay = np.minimum(_lognormal(rng, nr["delay_median_min"] * 60.0, nr["delay_sigma"], m),
                       nr["max_delay_days"] * DAY_S)
    s = c["S"][idx].astype(np.float64)
    out = {"idx": idx, "t": end + 60.0 + delay}
    for metric in MEASUREMENT:
        out[metric] = _measure(s, c[f"e_{metric}"][idx], metric)
    flip = rng.random(m) < nr["self_report_flip_prob"]
    out["self_report"] = c["res"][idx] ^ flip
    # canned comment, chosen by the most salient experience
    has = rng.random(m) < nr["comment_prob"]
    pick = rng.integers(0, 2, m)
    kind = np.select(
        [~c["res"][idx], c["wait"][idx] > 120, c["transferred"][idx], out["csat"] >= 4],
        [0, 1, 2, 3], default=4)
    out["comment"] = np.where(has, kind * 2 + pick, -1).astype(np.int8)
    order = np.argsort(out["t"], kind="stable")
    return {k: v[order] for k, v in out.items()}


_COMMENTS = (
    "My issue is still not fixed.", "I will have to contact you again.",
    "Waited far too long to get through.", "The hold music went on forever.",
    "I was passed from one person to another.", "Got transferred and had to repeat myself.",
    "Agent was very helpful.", "Quick and easy, thanks!",
    "It was fine.", "OK, nothing special.",
)


# =========================================================================== 10. customers and revenue
def _customer_table(sim: _Sim, rng) -> dict:
    """Customers who contacted: segment, first_seen, churned_at, and revenue state."""
    c = sim.c
    n_cust = sim.cust["segment"].size
    first_t = np.full(n_cust, np.inf)
    np.minimum.at(first_t, c["cust"], c["t"])
    ids = np.flatnonzero(np.isfinite(first_t))
    new = rng.random(n_cust) < 0.15
    since = np.where(new, first_t - rng.uniform(0, 60, n_cust) * DAY_S, -rng.uniform(1, 3000, n_cust) * DAY_S)
    since = np.where(new, np.maximum(since, 0.0), since)
    lo = LOYALTY
    seg = sim.cust["segment"]
    offered = np.array([lo["products_offered"][s] for s in SEGMENTS], np.float64)[seg]
    init = 1 + rng.poisson(np.array([lo["initial_products_mean"][s] - 1 for s in SEGMENTS])[seg])
    init = np.minimum(init, offered)
    factor = np.exp(lo["customer_factor_sigma"] * rng.standard_normal(n_cust))
    return {"ids": ids, "first_t": first_t, "since_t": since, "offered": offered, "init_products": init,
            "factor": factor}


def _revenue_months(sim: _Sim):
    """Yield (month index, dict of arrays) of monthly revenue rows, one month at a time."""
    lo = LOYALTY
    c, cu, cal = sim.c, sim.cust, sim.cal
    rng = _rng(sim.seed, "revenue")
    ids = cu["ids"]
    pos = np.full(cu["segment"].size, -1, np.int64)
    pos[ids] = np.arange(ids.size)
    held = cu["init_products"][ids].astype(np.float64)
    seg = cu["segment"][ids]
    price = np.array([lo["price_per_product"][s] for s in SEGMENTS])[seg] * cu["factor"][ids]
    offered = cu["offered"][ids]
    # month start offsets (seconds since period start, local)
    mdates = np.unique(cal.dates.astype("datetime64[M]"))
    m_start = (mdates.astype("datetime64[D]") - cal.dates[0]).astype(np.int64) * DAY_S
    ans = ~c["abandoned"]
    c_month = cal.month[c["day"]]
    for mi, md in enumerate(mdates):
        sel = ans & (c_month == mi)
        cnt = np.bincount(pos[c["cust"][sel]], minlength=ids.size)
        ssum = np.bincount(pos[c["cust"][sel]], weights=c["S"][sel].astype(np.float64), minlength=ids.size)
        sbar = np.where(cnt > 0, ssum / np.maximum(cnt, 1), 0.0) - lo["products_reference_s"]
        up = (cnt > 0) & (rng.random(ids.size) < _logistic(lo["products_intercept"]
                                                           + lo["products_satisfaction"] * sbar))
        down = (cnt > 0) & (rng.random(ids.size) < _logistic(lo["products_intercept"]
                                                             - lo["products_satisfaction"] * sbar))
        noise = np.exp(lo["revenue_noise_sigma"] * rng.standard_normal(ids.size))
        if mi > 0:
            held = np.clip(held + up - down, 1, offered)
        active = (cu["churn_t"][ids] > m_start[mi]) & (cu["since_t"][ids] < m_start[mi] + 31 * DAY_S)
        k = np.flatnonzero(active)
        yield mi, {"cust": ids[k], "month": np.full(k.size, md.astype("datetime64[D]")),
                   "revenue": np.round(held[k] * price[k] * noise[k], 2),
                   "held": held[k], "offered": offered[k]}


# =========================================================================== 11. ground truth
def _truth(sim: _Sim, aht: np.ndarray, short_days: np.ndarray) -> dict:
    c, cal, ag = sim.c, sim.cal, sim.ag
    ans = ~c["abandoned"]
    cx = _REASON_CX[c["reason"]]
    sv = sim.surveys
    i = sv["idx"]

    def scores(res, idx):
        s = _latent(res, c["wait"][idx], c["transferred"][idx], c["hold"][idx], c["is_repeat"][idx],
                    cx[idx], c["eps"][idx])
        return _headline(*(_measure(s, c[f"e_{m}"][idx], m) for m in MEASUREMENT))

    one, zero = scores(1.0, i), scores(0.0, i)
    effects = {k: one[k] - zero[k] for k in one}

    post = np.flatnonzero(c["treated"])
    r = RESOLUTION
    res_with = c["u_res"][post] < np.minimum(c["p0"][post] + r["pilot"], r["max_probability"])
    res_without = c["u_res"][post] < c["p0"][post]
    w1, w0 = scores(res_with, post), scores(res_without, post)
    pilot_on = {k: w1[k] - w0[k] for k in w1}
    pilot_on["resolution_rate"] = float((res_with.mean() - res_without.mean()) * 100) if post.size else 0.0

    lm = LATENT_MODEL
    h = np.flatnonzero(ans)
    feats = {"resolved": c["res"][h].astype(float), "wait_excess": _wait_term(c["wait"][h].astype(float)),
             "transferred": c["transferred"][h].astype(float), "hold_per_min": c["hold"][h] / 60.0,
             "is_repeat": c["is_repeat"][h].astype(float), "complexity": cx[h]}
    strength = {k: float(abs(lm[k]) * np.std(v)) for k, v in feats.items()}
    strength["handle_time"] = 0.0
    ordering = sorted(strength, key=lambda k: -strength[k])

    s_resp = c["S"][i].astype(float)
    corr = {m: float(np.corrcoef(s_resp, sv[m])[0, 1]) for m in MEASUREMENT}
    observed = _observed(sim)
    treated = [ag.team_names[t] for t in np.flatnonzero(ag.treated_team)]
    control = [ag.team_names[t] for t in np.flatnonzero(~ag.treated_team)]
    return {
        "seed": sim.seed,
        "days": cal.days,
        "contacts_per_day": sim.contacts_per_day,
        "start": str(cal.start),
        "end": str(cal.start + dt.timedelta(days=cal.days - 1)),  # last day, inclusive
        "timezone": TIMEZONE,
        "generator_version": GENERATOR_VERSION,
        "queues": list(QUEUES),
        "channels": list(CHANNELS),
        "latent_model": dict(LATENT_MODEL),
        "latent_form": LATENT_FORM,
        "measurement": {m: {**v, "corr_with_latent": corr[m]} for m, v in MEASUREMENT.items()},
        "complexity_by_reason": {k: v[2] for k, v in REASONS.items()},
        "reason_queue": {k: v[0] for k, v in REASONS.items()},
        "confounder": {
            "name": "contact_reason",
            "affects": ["talk_s", "hold_s", "acw_s", "transferred", "resolved", "satisfaction"],
            "note": "complexity is a deterministic function of contact_reason (complexity_by_reason); it "
                    "raises talk, hold and ACW time and transfers, lowers resolution, and lowers satisfaction "
                    "directly, so raw handle time correlates negatively with CX although its direct effect "
                    "is zero. Adjusting for contact_reason (plus resolved, transferred, hold) removes it.",
        },
        "resolution_model": {
            "form": "P(R) = min(logistic(intercept + agent_skill + new_hire_penalty*exp(-tenure_days/"
                    "tenure_scale_days) + complexity*CX + transferred*T + outage*OUTAGE) + pilot*TREATED,"
                    " max_probability)",
            **RESOLUTION,
            "tenure_curve": "new_hire_penalty * exp(-tenure_days / tenure_scale_days)",
            "flag_note": "interactions.resolved is the agent flag: true resolution, plus false positives "
                         "(flag_false_positive_rate of truly unresolved contacts are flagged resolved); "
                         "False for abandoned contacts",
        },
        "handling_model": {**HANDLING, "talk_median_s_voice": dict(zip(QUEUES, TALK_MEDIAN_S.tolist()))},
        "queueing": {
            "model": "per 30-min interval and queue: offered load A = expected arrivals x planning AHT / 1800;"
                     " P(wait) = ErlangC(N, A), conditional wait ~ Exp(mean = min(AHT/(N-A), max_mean_wait_s))"
                     "; N <= A: P(wait) = 1 with mean max_mean_wait_s; plus ring time U(0, ring_s); patience"
                     " ~ Exp(mean by channel) or U(0,5) s for quick hang-ups; abandoned if patience < wait,"
                     " then wait_s = patience",
            "planning_aht_s": dict(zip(QUEUES, np.round(aht, 1).tolist())),
            "repeat_load_factor": REPEAT_LOAD_FACTOR,
            "sl_target": SL_TARGET, "sl_threshold_s": SL_T_S,
            "patience_mean_s": dict(zip(CHANNELS, PATIENCE_MEAN_S.tolist())),
            "quick_hangup_share": QUICK_HANGUP_SHARE, "ring_s": RING_S, "max_mean_wait_s": MAX_MEAN_WAIT_S,
            "shortfall": dict(SHORTFALL),
            "shortfall_days": [str(cal.start + dt.timedelta(days=int(d))) for d in np.flatnonzero(short_days)],
            "chat_concurrency": CHAT_CONCURRENCY,
        },
        "repeats": {k: list(v) if isinstance(v, tuple) else v for k, v in REPEATS.items()},
        "effects": effects,
        "effects_population": "surveyed contacts scored with true resolution forced to 1 vs 0, same noise "
                              "draws; csat_top2 in percentage points, nps in points, ces_mean in scale units",
        "pilot": {
            "start": str(cal.start + dt.timedelta(days=cal.pilot_day)),
            "treated_teams": treated,
            "control_teams": control,
            "randomization": "stratified by queue: half of each queue's teams (3-team queues split 2/1 at "
                             "random so 6 of 12 teams are treated)",
            "effect_on_resolution": PILOT["effect_on_resolution"] * 100,
            "effect_on_resolution_units": "probability points (x100)",
            "effect_on": pilot_on,
            "effect_on_population": "handled contacts of treated teams from the pilot start, with vs "
                                    "without treatment, same random draws; downstream repeat contacts not "
                                    "re-simulated",
            "n_treated_contacts": int(post.size),
        },
        "driver_truth": {
            "grain": "contact",
            "measure": "|coefficient| x standard deviation of the driver over handled contacts (latent S units)",
            "ordering": ordering,
            "strength": strength,
            "handle_time_direct_effect": 0.0,
            "tenure_direct_effect": 0.0,
        },
        "loyalty": {
            **LOYALTY,
            "metric_predictive_ranking": sorted(corr, key=lambda m: -corr[m]),
            "ranking_basis": "correlation of each metric with latent S among respondents (churn and products "
                             "depend on S only)",
        },
        "events": cal.events,
        "nonresponse": dict(NONRESPONSE),
        "qa": {**QA, "note": "monthly QA score per agent; tracks the agent's resolution skill only for "
                             "tracking_share of agents, pure noise otherwise"},
        "series": {"web_visits": {**WEB, "note": "unrelated to CX by construction (a null series)"}},
        "observed": observed,
    }


def _observed(sim: _Sim) -> dict:
    """Headline KPIs of the generated data (for the report and a quick sanity check)."""
    c = sim.c
    ab = c["abandoned"]
    short = ab & (c["wait"] < 5)
    denom = c["t"].size - short.sum()
    ans = ~ab
    # 7-day FCR: handled contacts with no contact by the same customer in the next 7 days
    o = np.lexsort((c["t"], c["cust"]))
    cu, t = c["cust"][o], c["t"][o]
    nxt = np.r_[cu[1:] == cu[:-1], False]
    gap = np.r_[np.diff(t), np.inf]
    repeat_next = nxt & (gap <= 7 * DAY_S)
    fcr = 1 - repeat_next[ans[o]].mean()
    sv = sim.surveys
    dow_vol = np.bincount(sim.cal.dow[c["day"]], minlength=7) / np.bincount(sim.cal.dow, minlength=7)
    return {
        "definitions": "SL = answered within 20 s / (offered - short abandons < 5 s); abandon rate = non-short"
                       " abandons / (offered - short); FCR = handled contacts with no contact by the same"
                       " customer within 7 days after arrival; response rate = responses / handled",
        "contacts": int(c["t"].size),
        "chat_share": float((c["ch"] == 1).mean()),
        "service_level_20s": float((ans & (c["wait"] <= 20)).sum() / denom),
        "abandon_rate": float((ab & ~short).sum() / denom),
        "short_abandon_share_of_abandons": float(short.sum() / max(ab.sum(), 1)),
        "fcr_7d": float(fcr),
        "resolved_flag_rate": float(c["flag"][ans].mean()),
        "true_resolution_rate": float(c["res"][ans].mean()),
        "transfer_rate": float(c["transferred"][ans].mean()),
        "aht_s": float((c["talk"] + c["hold"] + c["acw"])[ans].mean()),
        "surveys": int(sv["idx"].size),
        "response_rate": float(sv["idx"].size / ans.sum()),
        **_headline(sv["csat"], sv["nps"], sv["ces"]),
        "weekday_weekend_ratio": float(dow_vol[:5].mean() / dow_vol[5:].mean()),
    }


# =========================================================================== 12. arrow tables
def _fixed_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded ``numbers`` as an arrow string array (vectorized)."""
    numbers = np.asarray(numbers, dtype=np.int64)
    n = numbers.size
    p = prefix.encode()
    w = len(p) + width
    buf = np.empty((n, w), dtype=np.uint8)
    buf[:, : len(p)] = np.frombuffer(p, dtype=np.uint8)
    x = numbers.copy()
    for j in range(w - 1, len(p) - 1, -1):
        buf[:, j] = 48 + x % 10
        x //= 10
    offsets = (np.arange(n + 1, dtype=np.int32) * w)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(buf.tobytes()))


_TS = pa.timestamp("ns", tz="UTC")


def _ts(ns) -> pa.Array:
    return pa.array(np.asarray(ns, dtype=np.int64), type=pa.int64()).cast(_TS)


def _strings_by_code(names, codes, mask=None) -> pa.Array:
    """Look up ``names[codes]`` as arrow strings (null where ``mask`` is True)."""
    idx = pa.array(np.asarray(codes, dtype=np.int64), mask=mask)
    return pa.array(list(names), pa.string()).take(idx)


def _local_to_utc_ns(cal: _Calendar, t_local_s: np.ndarray) -> np.ndarray:
    """Seconds since local midnight of day 0 -> UTC epoch ns, whole seconds (valid 07:00-22:00 local)."""
    day = np.clip((t_local_s // DAY_S).astype(np.int64), 0, cal.days - 1)
    return cal.day_base_utc_ns[day] + np.round(t_local_s - day * DAY_S).astype(np.int64) * 1_000_000_000


def _any_local_to_utc_ns(cal: _Calendar, t_local_s: np.ndarray) -> np.ndarray:
    """Like :func:`_local_to_utc_ns` for any time (outside the period: nearest day's offset)."""
    day = (t_local_s // DAY_S).astype(np.int64)
    base = cal.day_base_utc_ns[np.clip(day, 0, cal.days - 1)] + (day - np.clip(day, 0, cal.days - 1)) * int(
        DAY_S * 1e9)
    return base + np.round(t_local_s - day * DAY_S).astype(np.int64) * 1_000_000_000


def _id_width(n: int, minimum: int = 8) -> int:
    return max(minimum, len(str(max(n, 1))))


def _interactions_table(sim: _Sim, lo: int, hi: int) -> pa.Table:
    c, ag = sim.c, sim.ag
    sl = slice(lo, hi)
    ab = c["abandoned"][sl]
    agent = c["agent"][sl]
    width = _id_width(c["t"].size, 9)
    cust_w = _id_width(sim.cust["segment"].size, 7)
    return pa.table({
        "interaction_id": _fixed_ids("I", np.arange(lo, hi) + 1, width),
        "customer_id": _fixed_ids("C", c["cust"][sl].astype(np.int64) + 1, cust_w),
        "channel": _strings_by_code(CHANNELS, c["ch"][sl]),
        "direction": pa.array(np.full(hi - lo, "inbound"), pa.string()) if hi > lo else pa.array([], pa.string()),
        "queue": _strings_by_code(QUEUES, c["q"][sl]),
        "agent_id": _agent_ids(ag).take(pa.array(np.maximum(agent, 0).astype(np.int64), mask=ab)),
        "arrived_at": _ts(_local_to_utc_ns(sim.cal, c["t"][sl])),
        "wait_s": pa.array(c["wait"][sl].astype(np.float64)),
        "talk_s": pa.array(c["talk"][sl].astype(np.float64)),
        "hold_s": pa.array(c["hold"][sl].astype(np.float64)),
        "acw_s": pa.array(c["acw"][sl].astype(np.float64)),
        "abandoned": pa.array(ab),
        "transferred": pa.array(c["transferred"][sl]),
        "contact_reason": _strings_by_code(_REASON_NAMES, c["reason"][sl]),
        "resolved": pa.array(c["flag"][sl]),
        "site": _strings_by_code(SITES, ag.site[np.maximum(agent, 0)], mask=ab),
    })


def _agent_ids(ag: _Agents) -> pa.Array:
    # ids follow the internal order (queue, then hire date)
    return _fixed_ids("A", np.arange(ag.queue.size) + 1, 4)


def _surveys_table(sim: _Sim, lo: int, hi: int) -> pa.Table:
    sv, c = sim.surveys, sim.c
    sl = slice(lo, hi)
    idx = sv["idx"][sl]
    com = sv["comment"][sl]
    return pa.table({
        "response_id": _fixed_ids("R", np.arange(lo, hi) + 1, _id_width(sv["idx"].size, 8)),
        "interaction_id": _fixed_ids("I", idx + 1, _id_width(c["t"].size, 9)),
        "customer_id": _fixed_ids("C", c["cust"][idx].astype(np.int64) + 1, _id_width(sim.cust["segment"].size, 7)),
        "responded_at": _ts(_any_local_to_utc_ns(sim.cal, sv["t"][sl])),
        "csat": pa.array(sv["csat"][sl]),
        "nps": pa.array(sv["nps"][sl]),
        "ces": pa.array(sv["ces"][sl]),
        "resolved_self_report": pa.array(sv["self_report"][sl]),
        "comment": _strings_by_code(_COMMENTS, np.maximum(com, 0), mask=com < 0),
    })


def _agents_table(sim: _Sim) -> pa.Table:
    ag, cal = sim.ag, sim.cal
    hire = (np.datetime64(cal.start, "D") + ag.hire_day.astype("timedelta64[D]"))
    return pa.table({
        "agent_id": _agent_ids(ag),
        "hire_date": pa.array(hire, pa.date32()),
        "team": _strings_by_code(ag.team_names, ag.team),
        "site": _strings_by_code(SITES, ag.site),
    })


def _agent_scores_table(sim: _Sim) -> pa.Table:
    """Monthly QA score per agent, on the 25th at 16:00 local, from the month after hire."""
    ag, cal = sim.ag, sim.cal
    rng = _rng(sim.seed, "qa")
    mdates = np.unique(cal.dates.astype("datetime64[M]"))
    day25 = ((mdates.astype("datetime64[D]") + 24) - cal.dates[0]).astype(np.int64)
    day25 = day25[(day25 >= 0) & (day25 < cal.days)]
    n_a = ag.queue.size
    skill_z = ag.skill / RESOLUTION["agent_skill_sd"]
    level = np.where(ag.qa_tracks, skill_z, rng.standard_normal(n_a))
    a_idx, d_idx = np.meshgrid(np.arange(n_a), day25, indexing="ij")
    a_idx, d_idx = a_idx.ravel(), d_idx.ravel()
    ok = ag.hire_day[a_idx] + 30 <= d_idx
    a_idx, d_idx = a_idx[ok], d_idx[ok]
    val = QA["mean"] + QA["sd_between"] * level[a_idx] + QA["sd_within"] * rng.standard_normal(a_idx.size)
    t = d_idx * DAY_S + 16 * 3600.0
    order = np.lexsort((a_idx, t))
    return pa.table({
        "agent_id": _agent_ids(ag).take(pa.array(a_idx[order])),
        "scored_at": _ts(_local_to_utc_ns(cal, t[order])),
        "metric": pa.array(np.full(order.size, "qa"), pa.string()) if order.size else pa.array([], pa.string()),
        "value": pa.array(np.round(np.clip(val[order], 0, 100), 1)),
    })


def _events_table(sim: _Sim) -> pa.Table:
    cal = sim.cal
    ev = cal.events

    def ns(d):
        i = (dt.date.fromisoformat(d) - cal.start).days
        day = min(max(i, 0), cal.days - 1)
        return int(cal.day_base_utc_ns[day] + (i - day) * int(DAY_S * 1e9))

    return pa.table({
        "event_id": pa.array([f"E{i + 1:03d}" for i in range(len(ev))], pa.string()),
        "start": _ts([ns(e["start"]) for e in ev]),
        "end": _ts([ns(e["end"]) for e in ev]),
        "label": pa.array([e["label"] for e in ev], pa.string()),
        "kind": pa.array([e["kind"] for e in ev], pa.string()),
        "queue": pa.array([e["queue"] for e in ev], pa.string()),
    })


def _staffing_table(sim: _Sim) -> pa.Table:
    cal = sim.cal
    d, q, s = np.meshgrid(np.arange(cal.days), np.arange(len(QUEUES)), np.arange(N_SLOTS), indexing="ij")
    d, q, s = d.ravel(), q.ravel(), s.ravel()
    order = np.lexsort((q, s, d))
    t = d * DAY_S + OPEN_S + s * SLOT_S
    return pa.table({
        "interval_start": _ts(_local_to_utc_ns(cal, t[order])),
        "queue": _strings_by_code(QUEUES, q[order]),
        "interval_s": pa.array(np.full(order.size, SLOT_S)),
        "agents_staffed": pa.array(sim.staffed.ravel()[(d * len(QUEUES) + q) * N_SLOTS + s][order]),
    })


def _customers_table(sim: _Sim) -> pa.Table:
    cu, cal = sim.cust, sim.cal
    ids = cu["ids"]
    churn = cu["churn_t"][ids]
    churned = churn < cal.days * DAY_S
    return pa.table({
        "customer_id": _fixed_ids("C", ids.astype(np.int64) + 1, _id_width(cu["segment"].size, 7)),
        "segment": _strings_by_code(SEGMENTS, cu["segment"][ids]),
        "first_seen": _ts(_any_local_to_utc_ns(cal, cu["since_t"][ids])),
        "churned_at": pa.array(_any_local_to_utc_ns(cal, np.where(churned, churn, 0.0)), pa.int64(),
                               mask=~churned).cast(_TS),
    })


def _revenue_table(sim: _Sim, rows: dict) -> pa.Table:
    return pa.table({
        "customer_id": _fixed_ids("C", rows["cust"].astype(np.int64) + 1, _id_width(sim.cust["segment"].size, 7)),
        "month": pa.array(rows["month"], pa.date32()),
        "revenue": pa.array(rows["revenue"]),
        "products_held": pa.array(rows["held"]),
        "products_offered": pa.array(rows["offered"]),
    })


def _series_table(sim: _Sim) -> pa.Table:
    cal = sim.cal
    rng = _rng(sim.seed, "series")
    v = (WEB["visits_per_contact"] * sim.contacts_per_day * np.array(WEB["weekly"])[cal.dow]
         * np.where(cal.campaign, WEB["campaign_multiplier"], 1.0)
         * np.exp(WEB["noise_sigma"] * rng.standard_normal(cal.days)))
    return pa.table({
        "date": pa.array(cal.dates, pa.date32()),
        "name": pa.array(["web_visits"] * cal.days, pa.string()),
        "value": pa.array(np.round(v)),
        "segment": pa.nulls(cal.days, pa.string()),
    })


def _chunks(t: np.ndarray, boundaries: np.ndarray):
    """(lo, hi) row ranges of a time-sorted array split at ``boundaries``."""
    cuts = np.r_[0, np.searchsorted(t, boundaries), t.size]
    return [(int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:]) if b > a] or [(0, 0)]


def _month_boundaries(cal: _Calendar) -> np.ndarray:
    mdates = np.unique(cal.dates.astype("datetime64[M]"))[1:]
    return (mdates.astype("datetime64[D]") - cal.dates[0]).astype(np.int64) * DAY_S


def _iter_tables(sim: _Sim):
    """Yield (table name, arrow table chunk) for every canonical table; big tables by month."""
    bounds = _month_boundaries(sim.cal)
    for lo, hi in _chunks(sim.c["t"], bounds):
        yield "interactions", _interactions_table(sim, lo, hi)
    for lo, hi in _chunks(sim.surveys["t"], bounds):
        yield "surveys", _surveys_table(sim, lo, hi)
    yield "agents", _agents_table(sim)
    yield "agent_scores", _agent_scores_table(sim)
    yield "events", _events_table(sim)
    yield "staffing", _staffing_table(sim)
    yield "customers", _customers_table(sim)
    for _, rows in _revenue_months(sim):
        yield "customer_revenue", _revenue_table(sim, rows)
    yield "series", _series_table(sim)


def _to_pandas(t: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas with the cxlab conventions (DATE columns as datetime64[ns])."""
    cols = {}
    for name, col in zip(t.column_names, t.columns):
        if pa.types.is_date32(col.type):
            cols[name] = pd.Series(col.cast(pa.timestamp("ns")).to_numpy(), name=name)
        else:
            cols[name] = col.to_pandas()
    df = pd.DataFrame(cols, columns=t.column_names)
    return df


# =========================================================================== public API
def _check(seed, days, contacts_per_day):
    for name, v in (("seed", seed), ("days", days), ("contacts_per_day", contacts_per_day)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an int; got {type(v).__name__}")
    if days < 1:
        raise ValueError(f"days must be >= 1; got {days}")
    if contacts_per_day < 1:
        raise ValueError(f"contacts_per_day must be >= 1; got {contacts_per_day}")


def generate(*, seed: int = 20251, days: int = 365, contacts_per_day: int = 1000,
             start: str = "2025-01-01") -> dict[str, pd.DataFrame]:
    """Simulate the sample contact center and return its canonical tables.

    Parameters
    ----------
    seed : int
        Seed of every random draw; the same seed gives the same data.
    days : int
        Length of the period in days, starting at ``start``.
    contacts_per_day : int
        Average offered contacts per day (fresh issues, repeats and call-backs).
    start : str
        First day (ISO date, local time America/New_York).

    Returns
    -------
    dict of str to DataFrame
        ``interactions``, ``surveys``, ``agents``, ``agent_scores``, ``events``,
        ``staffing``, ``customers``, ``customer_revenue``, ``series`` with the
        columns of :mod:`cxlab.schema` (see the module docstring for dtypes).

    Notes
    -----
    The structural model and every coefficient are in ``docs/sample.md`` and
    :func:`ground_truth`. Abandoned contacts have ``agent_id``/``site`` null,
    talk/hold/ACW 0, ``transferred`` False and ``resolved`` False.

    Examples
    --------
    >>> t = generate(days=7, contacts_per_day=100)
    >>> sorted(t) == sorted(['interactions', 'surveys', 'agents', 'agent_scores', 'events',
    ...                      'staffing', 'customers', 'customer_revenue', 'series'])
    True
    >>> str(t["interactions"]["arrived_at"].dtype)
    'datetime64[ns, UTC]'
    """
    _check(seed, days, contacts_per_day)
    sim = _simulate(seed, days, contacts_per_day, start)
    return _frames(sim)


def _frames(sim: _Sim) -> dict[str, pd.DataFrame]:
    parts: dict[str, list] = {}
    for name, t in _iter_tables(sim):
        parts.setdefault(name, []).append(t)
    return {name: _to_pandas(pa.concat_tables(ts)) for name, ts in parts.items()}


def write_sample(out_dir, *, seed: int = 20251, days: int = 365, contacts_per_day: int = 1000,
                 format: str = "parquet", start: str = "2025-01-01") -> dict[str, Path]:
    """Generate the sample and write every table plus ``ground_truth.json`` to ``out_dir``.

    Tables are written chunk by chunk (interactions, surveys and customer revenue
    one month at a time) with a pyarrow writer, so memory stays bounded for large
    samples. Parquet files carry no timestamps, so the same seed gives
    byte-identical files.

    Parameters
    ----------
    out_dir : path-like
        Folder to write into (created if needed).
    seed, days, contacts_per_day, start
        As in :func:`generate`.
    format : {"parquet", "csv"}
        File format; one file per table (``<table>.parquet`` or ``<table>.csv``).

    Returns
    -------
    dict of str to Path
        Table name (and ``ground_truth``) -> file written.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     paths = write_sample(d, days=7, contacts_per_day=100)
    ...     sorted(p.name for p in paths.values())[:3]
    ['agent_scores.parquet', 'agents.parquet', 'customer_revenue.parquet']
    """
    check_option("format", format, ("parquet", "csv"))
    _check(seed, days, contacts_per_day)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sim = _simulate(seed, days, contacts_per_day, start)
    paths: dict[str, Path] = {}
    writers: dict[str, object] = {}
    try:
        for name, t in _iter_tables(sim):
            if format == "csv":  # whole-second timestamps read better: 2025-01-01 12:00:00Z
                t = t.cast(pa.schema([f.with_type(pa.timestamp("s", tz="UTC")) if f.type == _TS else f
                                      for f in t.schema]))
            w = writers.get(name)
            if w is None:
                path = out / f"{name}.{format}"
                paths[name] = path
                if format == "parquet":
                    w = pq.ParquetWriter(path, t.schema, compression="zstd")
                else:
                    w = pacsv.CSVWriter(path, t.schema)
                writers[name] = w
            w.write_table(t)
    finally:
        for w in writers.values():
            w.close()
    gt = out / "ground_truth.json"
    truth = {**sim.truth, "code_fingerprint": _fingerprint()}
    gt.write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    paths["ground_truth"] = gt
    return paths


def _read_dir(path: Path) -> dict[str, pd.DataFrame]:
    return {name: _to_pandas(pq.read_table(path / f"{name}.parquet")) for name in TABLES}


_MEMO: dict[tuple, dict[str, pd.DataFrame]] = {}
_TRUTH_MEMO: dict[tuple, dict] = {}


def _cache_path(seed, days, contacts_per_day) -> Path:
    return cache_dir() / f"sample-v{GENERATOR_VERSION}-{seed}-{days}-{contacts_per_day}"


def _fingerprint() -> str:
    """Hash of this module's source: a cache written by other code is regenerated."""
    import hashlib

    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def _cache_ok(path: Path) -> bool:
    done = path / "ground_truth.json"  # written last: its presence marks a complete folder
    if not done.is_file():
        return False
    try:
        return json.loads(done.read_text(encoding="utf-8")).get("code_fingerprint") == _fingerprint()
    except (OSError, ValueError):
        return False


def _ensure_cache(seed, days, contacts_per_day) -> Path:
    """Write the sample into the cache unless a complete, current copy is there."""
    path = _cache_path(seed, days, contacts_per_day)
    if _cache_ok(path):
        return path
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{path.name}-", dir=path.parent))
    os.chmod(tmp, 0o755)
    old = None
    try:
        write_sample(tmp, seed=seed, days=days, contacts_per_day=contacts_per_day)
        if path.exists():  # stale or incomplete: move it aside, then swap the new one in
            old = Path(tempfile.mkdtemp(prefix=f".old-{path.name}-", dir=path.parent))
            try:
                os.replace(path, old / "x")
            except OSError:
                pass
        try:
            os.rename(tmp, path)
        except OSError:
            if not _cache_ok(path):  # not another process winning the race
                raise
    finally:
        for d in (tmp, old):
            if d is not None and d.exists():
                shutil.rmtree(d, ignore_errors=True)
    return path


def load_sample(*, seed: int = 20251, days: int = 365, contacts_per_day: int = 1000) -> dict[str, pd.DataFrame]:
    """The sample center's canonical tables, cached on disk and in memory.

    The first call generates the sample and writes parquet into
    ``cache_dir() / "sample-v{GENERATOR_VERSION}-{seed}-{days}-{contacts_per_day}"``
    (through a temporary folder renamed into place, so an interrupted run never
    leaves a partial cache); later calls read it. Within a process the frames
    are memoized: each call returns shallow copies (copy-on-write, so changing
    a returned frame never changes the memo).

    Parameters
    ----------
    seed, days, contacts_per_day
        As in :func:`generate` (``start`` is 2025-01-01).

    Returns
    -------
    dict of str to DataFrame
        The canonical tables, as returned by :func:`generate`.

    Examples
    --------
    >>> t = load_sample(days=7, contacts_per_day=100)
    >>> t["interactions"].shape[1]
    16
    """
    _check(seed, days, contacts_per_day)
    key = (int(seed), int(days), int(contacts_per_day))
    if key not in _MEMO:
        _MEMO[key] = _read_dir(_ensure_cache(*key))
    return {k: v.copy(deep=False) for k, v in _MEMO[key].items()}


def ground_truth(*, seed: int = 20251, days: int = 365, contacts_per_day: int = 1000) -> dict:
    """The ground truth of a sample (JSON-able dict), from the on-disk cache.

    Parameters
    ----------
    seed, days, contacts_per_day
        As in :func:`load_sample`.

    Returns
    -------
    dict
        Keys include ``latent_model``, ``measurement``, ``complexity_by_reason``,
        ``confounder``, ``resolution_model``, ``effects``, ``pilot``,
        ``driver_truth``, ``loyalty``, ``events``, ``nonresponse`` and
        ``observed`` (see ``docs/sample.md``).

    Examples
    --------
    >>> gt = ground_truth(days=7, contacts_per_day=100)
    >>> gt["latent_model"]["handle_time"]
    0.0
    """
    _check(seed, days, contacts_per_day)
    key = (int(seed), int(days), int(contacts_per_day))
    if key not in _TRUTH_MEMO:
        path = _ensure_cache(*key) / "ground_truth.json"
        _TRUTH_MEMO[key] = json.loads(path.read_text(encoding="utf-8"))
    return json.loads(json.dumps(_TRUTH_MEMO[key]))


def main_sample(out, days: int = 365, contacts_per_day: int = 1000, seed: int = 20251,
                fmt: str = "parquet") -> dict[str, Path]:
    """Write the sample center to ``out`` and print what was written (for ``cxlab sample``).

    Returns
    -------
    dict of str to Path
        As :func:`write_sample`.
    """
    paths = write_sample(out, seed=seed, days=days, contacts_per_day=contacts_per_day, format=fmt)
    gt = json.loads(paths["ground_truth"].read_text(encoding="utf-8"))
    obs = gt["observed"]
    print(f"sample center: {obs['contacts']:,} contacts, {obs['surveys']:,} surveys, "
          f"{days} days from {gt['start']} (seed {seed})")
    for name, p in paths.items():
        print(f"  {name:<17} {p}")
    return paths


def __getattr__(name):
    if name == "GROUND_TRUTH":
        return ground_truth()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
