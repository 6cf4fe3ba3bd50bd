"""The simulation driver and the ground truth it records (coefficients, effects, observed counts).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from .model import (
    CHANNELS,
    CHAT_CONCURRENCY,
    DAY_S,
    GENERATOR_VERSION,
    HANDLING,
    LATENT_FORM,
    LATENT_MODEL,
    LOYALTY,
    MAX_MEAN_WAIT_S,
    MEASUREMENT,
    NONRESPONSE,
    PATIENCE_MEAN_S,
    PILOT,
    QA,
    QUEUES,
    QUICK_HANGUP_SHARE,
    REASON_CX,
    REASONS,
    REPEAT_LOAD_FACTOR,
    REPEATS,
    RESOLUTION,
    RING_S,
    SHORTFALL,
    SL_T_S,
    SL_TARGET,
    TALK_MEDIAN_S,
    TIMEZONE,
    WEB,
    Sim,
    headline,
    latent,
    measure,
    wait_term,
)

__all__ = []


# =========================================================================== 11. ground truth
def truth(sim: Sim, aht: np.ndarray, short_days: np.ndarray) -> dict:
    c, cal, ag = sim.c, sim.cal, sim.ag
    ans = ~c["abandoned"]
    cx = REASON_CX[c["reason"]]
    sv = sim.surveys
    i = sv["idx"]

    def scores(res, idx):
        s = latent(res, c["wait"][idx], c["transferred"][idx], c["hold"][idx], c["is_repeat"][idx],
                    cx[idx], c["eps"][idx])
        return headline(*(measure(s, c[f"e_{m}"][idx], m) for m in MEASUREMENT))

    one, zero = scores(1.0, i), scores(0.0, i)
    effects = {k: one[k] - zero[k] for k in one}

    post = np.flatnonzero(c["treated"])
    r = RESOLUTION
    res_with = c["u_res"][post] < np.minimum(c["p0"][post] + r["pilot"], r["max_probability"])
    res_without = c["u_res"][post] < c["p0"][post]
    w1, w0 = scores(res_with, post), scores(res_without, post)
    pilot_on = {k: w1[k] - w0[k] for k in w1}
    pilot_on["resolution_rate"] = float((res_with.mean() - res_without.mean()) * 100) if post.size else 0.0
    # the agent's flag: true resolution, or a false positive (independent draw) on the truly unresolved;
    # a contact the pilot resolves moves the flag only when it would not have been flagged anyway
    fpr = r["flag_false_positive_rate"]
    pilot_on["resolved_flag_rate"] = pilot_on["resolution_rate"] * (1 - fpr)
    pilot_on["latent_s"] = (float(LATENT_MODEL["resolved"] * (res_with.mean() - res_without.mean()))
                            if post.size else 0.0)

    lm = LATENT_MODEL
    h = np.flatnonzero(ans)
    feats = {"resolved": c["res"][h].astype(float), "wait_excess": wait_term(c["wait"][h].astype(float)),
             "transferred": c["transferred"][h].astype(float), "hold_per_min": c["hold"][h] / 60.0,
             "is_repeat": c["is_repeat"][h].astype(float), "complexity": cx[h]}
    strength = {k: float(abs(lm[k]) * np.std(v)) for k, v in feats.items()}
    strength["handle_time"] = 0.0
    ordering = sorted(strength, key=lambda k: -strength[k])

    s_resp = c["S"][i].astype(float)
    corr = {m: float(np.corrcoef(s_resp, sv[m])[0, 1]) for m in MEASUREMENT}
    observed = observed_counts(sim)
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
            "effect_on_resolution_flag": PILOT["effect_on_resolution"] * 100 * (1 - RESOLUTION["flag_false_positive_rate"]),
            "scales": {
                "latent": "effect_on_resolution (nominal) and effect_on.resolution_rate (realized): true "
                          "resolution, probability points; effect_on.latent_s: latent satisfaction S "
                          "(LATENT_MODEL['resolved'] x the change in true resolution)",
                "measured": "effect_on_resolution_flag (nominal) and effect_on.resolved_flag_rate (realized, "
                            "expected over the false-positive draw): the agent's resolved flag that "
                            "interactions.resolved records and the readout estimates, = (1 - "
                            "flag_false_positive_rate) x the effect on true resolution; effect_on.csat_top2 / "
                            "nps / ces_mean: the survey metrics",
            },
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


def observed_counts(sim: Sim) -> dict:
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
        **headline(sv["csat"], sv["nps"], sv["ces"]),
        "weekday_weekend_ratio": float(dow_vol[:5].mean() / dow_vol[5:].mean()),
    }
