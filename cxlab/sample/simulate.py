"""The simulation steps of the sample center: rates, staffing, arrivals, queueing, handling, repeats, CX, churn, surveys.

Each step is vectorized over contacts (no per-contact Python loops).
"""

from __future__ import annotations

import numpy as np

from .._utils import erlang_c
from .model import (
    AGENTS_PER_1000,
    BILLING_CYCLE_FACTOR,
    CAMPAIGN,
    CANCEL_REASON,
    CHAT_CONCURRENCY,
    CHAT_SHARE,
    CLOSE_S,
    CONTACT_PROPENSITY_SHAPE,
    CUSTOMERS_PER_DAILY_CONTACT,
    DAILY_NOISE_SD,
    DAY_S,
    HANDLING,
    HOLIDAY_FACTOR,
    INTRADAY,
    LATENT_MODEL,
    LOYALTY,
    MAX_MEAN_WAIT_S,
    MEASUREMENT,
    N_SLOTS,
    NONRESPONSE,
    OPEN_S,
    OUTAGE,
    OUTAGE_REASON,
    PATIENCE_MEAN_S,
    QA,
    QUEUE_SHARE,
    QUEUES,
    QUICK_HANGUP_SHARE,
    REASON_CX,
    REASONS,
    REPEAT_LOAD_FACTOR,
    REPEATS,
    RESOLUTION,
    RING_S,
    SEGMENT_CONTACT_WEIGHT,
    SEGMENT_SHARE,
    SEGMENTS,
    SHORTFALL,
    SITES,
    SLOT_S,
    TALK_MEDIAN_S,
    TEAMS_PER_QUEUE,
    TREND_PER_YEAR,
    WEEKLY,
    Agents,
    Calendar,
    Sim,
    calendar,
    check_size,
    latent,
    logistic,
    lognormal,
    measure,
    plan_agents,
    stream_rng,
)
from .truth import truth

__all__ = []


# =========================================================================== 2. arrival rates
def rates(cal: Calendar, contacts_per_day: int, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
                ph = logistic(h["hold_logit"] + h["hold_logit_complexity"] * cx + h["hold_logit_chat"] * ch)
                hold = ph * h["hold_median_s"] * np.exp(h["hold_complexity"] * cx + h["hold_sigma"] ** 2 / 2)
                acw = h["acw_median_s"][ch] * (1 + h["acw_complexity"] * cx) * np.exp(h["acw_sigma"] ** 2 / 2)
                e += share / tot * (t + hold + acw)
            wl[ch] = e / (CHAT_CONCURRENCY if ch else 1.0)
        out[qi] = (1 - CHAT_SHARE[qi]) * wl[0] + CHAT_SHARE[qi] * wl[1]
    return out


# =========================================================================== 3. staffing
def _staffing(cal: Calendar, forecast: np.ndarray, aht: np.ndarray, rng) -> np.ndarray:
    """Agents staffed per (day, queue, slot): Erlang C plan for 80/20, times shortfall factors."""
    a_fc = forecast * REPEAT_LOAD_FACTOR * aht[None, :, None] / SLOT_S
    n_plan = plan_agents(a_fc, np.broadcast_to(aht[None, :, None], a_fc.shape))
    short = rng.random(cal.days) < SHORTFALL["day_prob"]
    day_factor = np.where(short, rng.uniform(SHORTFALL["low"], SHORTFALL["high"], cal.days),
                          np.clip(1 + SHORTFALL["normal_sd"] * rng.standard_normal(cal.days), 0.9, 1.1))
    n = np.maximum(1, np.round(n_plan * day_factor[:, None, None]))
    return n.astype(np.float64), short


# =========================================================================== 4. arrivals
def _draw_fresh(cal: Calendar, lam: np.ndarray, outage_mult: np.ndarray, cust_cdf: np.ndarray, rng) -> dict:
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
    reason[extra] = OUTAGE_REASON
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
    p_wait = erlang_c(n_ag, a)
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


def _agents(cal: Calendar, contacts_per_day: int, seed: int) -> Agents:
    rng = stream_rng(seed, "agents")
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
    prng = stream_rng(seed, "pilot")
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
    return Agents(queue, team, np.array(team_site)[team].astype(np.int8), hire, skill, first, per_q,
                   team_names, treated, qa_tracks)


def _handle(c: dict, ag: Agents, cal: Calendar, rng) -> None:
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
    cx = REASON_CX[c["reason"]]
    transferred = ans & (rng.random(n) < logistic(
        h["transfer_logit"] + h["transfer_complexity"] * cx + h["transfer_new_hire"] * newness))
    chat = c["ch"] == 1
    talk_med = (TALK_MEDIAN_S[q] * np.where(chat, h["chat_talk_multiplier"], 1.0)
                * np.exp(h["talk_complexity"] * cx) * (1 + h["talk_new_hire"] * newness)
                * np.where(transferred, 1 + h["talk_transfer"], 1.0))
    talk = lognormal(rng, talk_med, h["talk_sigma"], n)
    has_hold = rng.random(n) < logistic(h["hold_logit"] + h["hold_logit_complexity"] * cx
                                         + h["hold_logit_chat"] * chat)
    hold = np.where(has_hold, lognormal(rng, h["hold_median_s"] * np.exp(h["hold_complexity"] * cx),
                                         h["hold_sigma"], n), 0.0)
    acw = lognormal(rng, np.where(chat, h["acw_median_s"][1], h["acw_median_s"][0])
                     * (1 + h["acw_complexity"] * cx), h["acw_sigma"], n)
    r = RESOLUTION
    outage_day = np.isin(day, cal.outage_days) & (q == QUEUES.index(OUTAGE["queue"]))
    logit = (r["intercept"] + ag.skill[a] + r["new_hire_penalty"] * np.exp(-tenure / r["tenure_scale_days"])
             + r["complexity"] * cx + r["transferred"] * transferred + r["outage"] * outage_day)
    p0 = logistic(logit)
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
    reason[esc] = CANCEL_REASON
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


def run_simulation(seed: int, days: int, contacts_per_day: int, start: str,
                   center_contacts_per_day: int | None = None) -> Sim:
    """Run the pipeline of simulation steps.

    ``center_contacts_per_day`` (None: ``contacts_per_day``) is the size of the
    center whose queues the contacts go through: with a larger value the
    simulated contacts are a random 1-in-k share (k = center / contacts_per_day)
    of a k-times-larger center's traffic. Staffing is planned (Erlang C, 80/20,
    same shortfalls) and the waits are drawn for the large center's load
    ``k * A``; the staffing table reports the agents per 1-in-k share
    (``N / k``), so occupancy stays consistent. Large pooled queues on an
    80/20 plan make many contacts wait 5-120 s, where the small default
    center's waits are mostly 0 or minutes.
    """
    check_size(days, contacts_per_day)
    cal = calendar(start, days)
    lam, fc, outage_mult = rates(cal, contacts_per_day, stream_rng(seed, "rates"))
    aht = _planning_aht()
    if center_contacts_per_day is None or center_contacts_per_day == contacts_per_day:
        staffed, short_days = _staffing(cal, fc, aht, stream_rng(seed, "staffing"))
        p_wait, mean_wait = _queue_law(lam, staffed, aht)
    else:
        k = float(center_contacts_per_day) / float(contacts_per_day)
        staffed_k, short_days = _staffing(cal, fc * k, aht, stream_rng(seed, "staffing"))
        p_wait, mean_wait = _queue_law(lam * k, staffed_k, aht)
        staffed = staffed_k / k

    # customers (the population; only those who contact appear in the customers table)
    crng = stream_rng(seed, "customers")
    n_cust = max(100, CUSTOMERS_PER_DAILY_CONTACT * contacts_per_day)
    seg = np.searchsorted(np.cumsum(SEGMENT_SHARE), crng.random(n_cust), side="right").astype(np.int8)
    w = crng.gamma(CONTACT_PROPENSITY_SHAPE, 1.0, n_cust) * SEGMENT_CONTACT_WEIGHT[seg]
    cust_cdf = np.cumsum(w)
    cust_cdf /= cust_cdf[-1]
    del w

    ag = _agents(cal, contacts_per_day, seed)
    gen = _draw_fresh(cal, lam, outage_mult, cust_cdf, stream_rng(seed, "arrivals"))
    del cust_cdf
    parts = []
    for g in range(REPEATS["max_generations"] + 1):
        grng = stream_rng(seed, f"generation-{g}")
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
    srng = stream_rng(seed, "satisfaction")
    n = c["t"].size
    ans = ~c["abandoned"]
    cx = REASON_CX[c["reason"]]
    eps = (LATENT_MODEL["noise_sd"] * srng.standard_normal(n)).astype(np.float32)
    s = latent(c["res"], c["wait"], c["transferred"], c["hold"], c["is_repeat"], cx, eps)
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
    sim = Sim(cal, seed, contacts_per_day, c, staffed, ag, cust, surveys, {})
    sim.cust.update(_customer_table(sim, crng))
    sim.truth = truth(sim, aht, short_days)
    if center_contacts_per_day is not None and center_contacts_per_day != contacts_per_day:
        sim.truth["center_contacts_per_day"] = int(center_contacts_per_day)
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
    trig = ~c["abandoned"] & (srng.random(n) < logistic(
        lo["churn_trigger_intercept"] + lo["churn_trigger_satisfaction"] * np.nan_to_num(c["S"])))
    trig_t = c["t"] + srng.uniform(1.0, lo["churn_trigger_max_delay_days"], n) * DAY_S
    np.minimum.at(churn_t, c["cust"][trig], trig_t[trig])
    return churn_t


# =========================================================================== 9. surveys
def _surveys(c: dict, seed: int) -> dict:
    """Survey responses of handled contacts, with non-response bias."""
    rng = stream_rng(seed, "surveys")
    nr = NONRESPONSE
    ans = ~c["abandoned"]
    n = ans.size
    logit = (nr["intercept"] + nr["unresolved"] * (~c["res"]) + nr["long_wait"] * (c["wait"] > nr["long_wait_s"])
             + nr["chat"] * (c["ch"] == 1))
    respond = ans & (rng.random(n) < logistic(logit))
    idx = np.flatnonzero(respond)
    m = idx.size
    end = c["t"][idx] + c["wait"][idx] + c["talk"][idx] + c["hold"][idx] + c["acw"][idx]
    delay = np.minimum(lognormal(rng, nr["delay_median_min"] * 60.0, nr["delay_sigma"], m),
                       nr["max_delay_days"] * DAY_S)
    s = c["S"][idx].astype(np.float64)
    out = {"idx": idx, "t": end + 60.0 + delay}
    for metric in MEASUREMENT:
        out[metric] = measure(s, c[f"e_{metric}"][idx], metric)
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


COMMENTS = (
    "My issue is still not fixed.", "I will have to contact you again.",
    "Waited far too long to get through.", "The hold music went on forever.",
    "I was passed from one person to another.", "Got transferred and had to repeat myself.",
    "Agent was very helpful.", "Quick and easy, thanks!",
    "It was fine.", "OK, nothing special.",
)


# =========================================================================== 10. customers and revenue
def _customer_table(sim: Sim, rng) -> dict:
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


def revenue_months(sim: Sim):
    """Yield (month index, dict of arrays) of monthly revenue rows, one month at a time."""
    lo = LOYALTY
    c, cu, cal = sim.c, sim.cust, sim.cal
    rng = stream_rng(sim.seed, "revenue")
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
        up = (cnt > 0) & (rng.random(ids.size) < logistic(lo["products_intercept"]
                                                           + lo["products_satisfaction"] * sbar))
        down = (cnt > 0) & (rng.random(ids.size) < logistic(lo["products_intercept"]
                                                             - lo["products_satisfaction"] * sbar))
        noise = np.exp(lo["revenue_noise_sigma"] * rng.standard_normal(ids.size))
        if mi > 0:
            held = np.clip(held + up - down, 1, offered)
        active = (cu["churn_t"][ids] > m_start[mi]) & (cu["since_t"][ids] < m_start[mi] + 31 * DAY_S)
        k = np.flatnonzero(active)
        yield mi, {"cust": ids[k], "month": np.full(k.size, md.astype("datetime64[D]")),
                   "revenue": np.round(held[k] * price[k] * noise[k], 2),
                   "held": held[k], "offered": offered[k]}
