"""The sample center's parameters and building blocks: constants, random streams, calendar, staffing plan.

Every number of the structural model lives here (see ``docs/sample.md``);
the Erlang C staffing plan uses :func:`cxlab._utils.erlang_c`.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._utils import erlang_c

__all__ = ['GENERATOR_VERSION', 'TIMEZONE', 'QUEUES', 'REASONS', 'LATENT_MODEL', 'MEASUREMENT']


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


REASON_NAMES = tuple(REASONS)


REASON_CX = np.array([v[2] for v in REASONS.values()])


OUTAGE_REASON = REASON_NAMES.index("service_outage")


CANCEL_REASON = REASON_NAMES.index("cancel_request")


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
def check_size(days: int, contacts_per_day: int) -> None:
    """Raise ValueError unless ``days`` and ``contacts_per_day`` are both at least 1."""
    if days < 1:
        raise ValueError(f"days must be >= 1; got {days}")
    if contacts_per_day < 1:
        raise ValueError(f"contacts_per_day must be >= 1; got {contacts_per_day}")


def stream_rng(seed: int, name: str) -> np.random.Generator:
    """An independent random stream per pipeline step, so steps do not shift each other."""
    return np.random.default_rng([int(seed), zlib.crc32(name.encode())])


def logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def lognormal(rng, median, sigma, size):
    return median * np.exp(sigma * rng.standard_normal(size))


def plan_agents(a, aht_s, target=None, t_s=None):
    """Smallest agent count whose Erlang C service level reaches ``target`` (at least 1)."""
    target = SL_TARGET if target is None else target
    t_s = SL_T_S if t_s is None else t_s
    a = np.asarray(a, dtype=float)
    aht_s = np.broadcast_to(np.asarray(aht_s, dtype=float), a.shape)
    n_plan = np.zeros(a.shape, dtype=np.int64)
    k = 0
    while (n_plan == 0).any():
        k += 1
        c = erlang_c(k, a)
        with np.errstate(over="ignore"):
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
class Calendar:
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


def calendar(start: str, days: int) -> Calendar:
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
    return Calendar(d0, days, dates, dow, holiday, day_base, month, o_days, o_mult, campaign,
                     pilot_day, events)


# =========================================================================== 6. handling and resolution
@dataclass
class Agents:
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


# =========================================================================== 8. satisfaction
def wait_term(wait_s):
    lm = LATENT_MODEL
    return np.log1p(np.maximum(0.0, wait_s - lm["wait_knee_s"]) / lm["wait_scale_s"])


def latent(res, wait, transferred, hold, is_repeat, cx, eps):
    """Latent satisfaction S of the structural model (see :data:`LATENT_MODEL`)."""
    lm = LATENT_MODEL
    return (lm["intercept"] + lm["resolved"] * res + lm["wait_excess"] * wait_term(wait)
            + lm["transferred"] * transferred + lm["hold_per_min"] * hold / 60.0
            + lm["is_repeat"] * is_repeat + lm["complexity"] * cx + eps)


def measure(s, noise, metric):
    """Cut ``s + noise`` at the metric's thresholds."""
    m = MEASUREMENT[metric]
    return (m["low"] + np.searchsorted(np.array(m["thresholds"]), s + noise, side="right")).astype(np.float64)


def headline(csat, nps, ces) -> dict:
    return {"csat_top2": float(np.mean(csat >= 4) * 100),
            "nps": float((np.mean(nps >= 9) - np.mean(nps <= 6)) * 100),
            "ces_mean": float(np.mean(ces))}


# =========================================================================== the simulation
@dataclass
class Sim:
    cal: Calendar
    seed: int
    contacts_per_day: int
    c: dict  # contacts, sorted by time
    staffed: np.ndarray  # (days, queues, slots)
    ag: Agents
    cust: dict  # per customer (population) arrays
    surveys: dict
    truth: dict
