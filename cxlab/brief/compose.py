"""The brief's story: summary bullets, levers vs controls, the focus lever's value, the verdict, the main caveat.

Every function reads only what the steps recorded (``{step: results}`` from
:func:`cxlab.results.load`) and returns plain sentences or small tables of
text formatted by :mod:`cxlab.fmt`. Records are read defensively: a step
that recorded nothing, or an older shape of a record, gives a sentence that
says so — never a number derived silently. Run consistency and "what
changed" live in :mod:`cxlab.brief.consistency`; the page's HTML pieces and
section helpers in :mod:`cxlab.brief.page`.
"""

from __future__ import annotations

import math
from typing import Any

from .. import fmt
from ._core import CONTEXT_VARIABLES, _cap, _finite, _get, _num, _step, cx_points, metric_view

__all__ = [
    "levers", "verdict_view", "summary_bullets", "focus_value", "main_caveat", "nonresponse_caveat", "pilot_start",
    "alignment_advice",
]

_VERDICTS = ("held", "did not hold", "inconclusive")


# ------------------------------------------------------------------ levers
def _controls(results: dict, drivers: list[str]) -> tuple[set, str]:
    roles = _get(results, "05", "roles")
    recorded = roles.get("controls") if isinstance(roles, dict) and "controls" in roles else None
    if isinstance(recorded, dict):
        recorded = recorded.get("drivers") or recorded.get("names") or list(recorded)
    if isinstance(recorded, (list, tuple)):
        names = {r.get("driver") if isinstance(r, dict) else r for r in recorded}
        return {n for n in names if n}, "step 5"
    flagged = set()
    for r in _get(results, "05", "drivers") or []:
        if isinstance(r, dict) and (r.get("control") is True or r.get("is_control") is True
                                    or str(r.get("role", "")).lower() == "control"):
            flagged.add(r.get("driver"))
    if flagged:
        return flagged, "step 5"
    return {d for d in drivers if d in CONTEXT_VARIABLES}, "context variables"


def levers(results: dict, k: int = 3) -> dict:
    """Levers vs controls from step 5, and whether any lever was found.

    Parameters
    ----------
    results : dict
        ``{step: results}``.
    k : int
        How many levers to list.

    Returns
    -------
    dict
        ``recorded`` (step 5 recorded drivers), ``found`` (bool), ``reason``
        (why no lever, one sentence), ``r2`` (dict or None), ``levers`` (list
        of dicts: driver, label, share, share_ci_low, share_ci_high, rank,
        effect, ci_low, ci_high, change), ``controls`` (list of dicts: driver,
        label, share), ``explained`` (the variation explained, in words).

    Notes
    -----
    A driver is a control when step 5 says so (``roles["controls"]``, or a
    driver row with ``role == "control"``); if step 5 records
    neither, contact-context variables (:data:`CONTEXT_VARIABLES`) are
    controls. No lever was found when step 5 recorded ``no_lever`` (flag
    and reason), or — for a step 5 that does not record it — when its focus
    list is empty or every lever's what-if interval covers zero.
    """
    drivers = [r for r in (_get(results, "05", "drivers") or _get(results, "05", "top_drivers") or []) if isinstance(r, dict)]
    out: dict[str, Any] = {"recorded": bool(drivers), "found": False, "reason": "", "r2": _get(results, "05", "r2"),
                           "levers": [], "controls": [], "explained": ""}
    if not drivers:
        out["reason"] = "Step 5 recorded no key-driver analysis in this run."
        return out
    names = [r.get("driver") for r in drivers]
    controls, _ = _controls(results, names)
    wi = {r.get("driver"): r for r in _get(results, "05", "what_if") or [] if isinstance(r, dict)}
    rows = sorted(drivers, key=lambda r: _num(r.get("rank")) if _finite(r.get("rank")) else 1e9)
    lever_rows, control_rows = [], []
    for r in rows:
        d = r.get("driver")
        item = {"driver": d, "label": fmt.label(d), "share": _num(r.get("share")),
                "share_ci_low": _num(r.get("share_ci_low")), "share_ci_high": _num(r.get("share_ci_high")),
                "rank": r.get("rank")}
        if d in controls:
            control_rows.append(item)
            continue
        w = wi.get(d) or {}
        item.update({"change": _num(w.get("change")), "effect": _num(w.get("effect")),
                     "ci_low": _num(w.get("ci_low")), "ci_high": _num(w.get("ci_high"))})
        lever_rows.append(item)
    out["controls"] = control_rows
    r2 = _get(results, "05", "r2") if isinstance(_get(results, "05", "r2"), dict) else {}
    r2v = _num(r2.get("r2"))
    lever_share = sum(x["share"] for x in lever_rows if _finite(x["share"]))
    if math.isfinite(r2v):
        what = metric_view(results)["short"]
        grain_txt = (f"individual {what} answers" if r2.get("grain", "contact") == "contact"
                     else f"{what} from period to period (daily aggregates; few periods make this uncertain)")
        out["explained"] = (f"Together the drivers explain {fmt.pct(r2v, base=1, digits=0)} of the variation in "
                            f"{grain_txt} (R² {r2v:.2f}); the levers carry "
                            f"{fmt.pct(lever_share, base=1, digits=0)} of that explained part"
                            + (" and contact context (" + ", ".join(c["label"] for c in control_rows) + ") "
                               + fmt.pct(sum(c["share"] for c in control_rows if _finite(c["share"])), base=1,
                                         digits=0) + " — context is controlled for, not a lever"
                               if control_rows else "")
                            + ".")
    nl = _get(results, "05", "no_lever")
    if isinstance(nl, dict):
        flag, reason = bool(nl.get("flag", nl.get("no_lever", nl.get("value", False)))), nl.get("reason") or ""
    elif isinstance(nl, bool):
        flag, reason = nl, ""
    else:
        flag, reason = None, ""
    if flag is None:  # older step 5: apply the rule to what it recorded
        focus = _get(results, "05", "focus")
        covers0 = [x for x in lever_rows if _finite(x["ci_low"], x["ci_high"])]
        if isinstance(focus, list) and not focus:
            flag, reason = True, "no driver qualified for step 5's focus list"
        elif covers0 and all(x["ci_low"] <= 0 <= x["ci_high"] for x in covers0):
            flag, reason = True, "every lever's what-if interval covers zero"
        elif not lever_rows:
            flag, reason = True, "every driver step 5 ranked is a control, not a lever"
        else:
            flag = False
    out["found"] = not flag
    out["reason"] = str(reason).rstrip(".")
    focus_order = [f.get("driver") for f in _get(results, "05", "focus") or [] if isinstance(f, dict)]
    if focus_order:  # step 5's focus order first (its priority), then the rest by importance
        lever_rows.sort(key=lambda x: (focus_order.index(x["driver"]) if x["driver"] in focus_order else 99,
                                       -x["share"] if _finite(x["share"]) else 0))
    out["levers"] = lever_rows[:k] if out["found"] else []
    return out


def focus_value(results: dict, currency: str = "USD") -> dict:
    """What moving the focus lever predicts: CX points, customers and money, each with its interval.

    Returns
    -------
    dict
        ``driver``, ``move`` ("raising first-contact resolution by 5 points"),
        ``cx``, ``customers``, ``money`` (texts, "" when not recorded) and
        ``sentence``.
    """
    fe = _get(results, "05", "focus_effect") if isinstance(_get(results, "05", "focus_effect"), dict) else {}
    chain = {r.get("link"): r for r in _get(results, "05", "value_of_change") or [] if isinstance(r, dict)}
    lead = _get(results, "05", "what_if_lead")
    if isinstance(lead, dict) and lead.get("driver"):  # step 5's structured what-if of the lead lever
        fe = {"driver": lead["driver"], "change": lead.get("change"), "effect": lead.get("effect"),
              "ci_low": lead.get("effect_ci_low"), "ci_high": lead.get("effect_ci_high")}
        chain = {"cx_change": {"estimate": lead.get("effect"), "ci_low": lead.get("effect_ci_low"),
                               "ci_high": lead.get("effect_ci_high")},
                 "customers_retained_per_year": {"estimate": lead.get("customers_per_year"),
                                                 "ci_low": lead.get("customers_ci_low"),
                                                 "ci_high": lead.get("customers_ci_high")},
                 "revenue_per_year": {"estimate": lead.get("revenue_per_year"), "ci_low": lead.get("revenue_ci_low"),
                                      "ci_high": lead.get("revenue_ci_high")}}
        if lead.get("currency") and len(str(lead["currency"])) == 3:
            currency = str(lead["currency"])
    if not fe.get("driver") or not _finite(fe.get("change")):
        return {"driver": None, "move": "", "cx": "", "customers": "", "money": "", "sentence": ""}
    move = fmt.lever_phrase(fe["driver"], fe.get("change", 0))
    cxr = chain.get("cx_change") or {}
    v, lo, hi = (cxr.get("estimate"), cxr.get("ci_low"), cxr.get("ci_high")) if cxr else \
        (fe.get("effect"), fe.get("ci_low"), fe.get("ci_high"))
    cx = cx_points(results, v, lo, hi) if _finite(v) else ""
    cust = chain.get("customers_retained_per_year") or {}
    customers = ""
    if _finite(cust.get("estimate")):
        e = _num(cust["estimate"])
        word = "kept" if e >= 0 else "lost"
        rng = fmt.ci(abs(_num(cust.get("ci_low"))), abs(_num(cust.get("ci_high"))), lambda x: fmt.number(_round2(x)))
        customers = f"about {fmt.number(_round2(abs(e)))} customers {word} a year {rng}".strip()
    money = ""
    rev = chain.get("revenue_per_year") or {}
    if _finite(rev.get("estimate")):
        money = fmt.money(rev["estimate"], rev.get("ci_low"), rev.get("ci_high"), currency=currency) + " of revenue a year"
    parts = [p for p in (cx, customers, money) if p]
    sentence = ""
    if parts:
        sentence = move[0].upper() + move[1:] + " predicts " + (
            parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]) + "."
    return {"driver": fe["driver"], "move": move, "cx": cx, "customers": customers, "money": money,
            "sentence": sentence}


def _round2(x: float) -> float:
    """Two significant digits (an "about" count)."""
    x = float(x)
    if not math.isfinite(x) or abs(x) < 10:
        return round(x)
    mag = 10 ** (int(math.floor(math.log10(abs(x)))) - 1)
    return round(x / mag) * mag


# ------------------------------------------------------------------ verdict
def pilot_start(results: dict):
    """The pilot's first day as step 6 recorded it (verdict, pilot record or params), or None."""
    for holder in (_get(results, "06", "verdict"), _get(results, "06", "pilot"), _get(results, "06", "params")):
        if isinstance(holder, dict):
            for key in ("pilot_start", "start_date", "start"):
                if holder.get(key):
                    return holder[key]
    return None


def _next_pilot(v: dict, results: dict) -> str:
    plan = v.get("next_pilot") if isinstance(v.get("next_pilot"), dict) else _get(results, "06", "next_pilot_plan")
    if not isinstance(plan, dict):
        return ""
    if plan.get("sentence"):
        return str(plan["sentence"])
    days = plan.get("duration_days") or plan.get("days")
    start = plan.get("start_date") or plan.get("start")
    unit = plan.get("unit", "")
    per_arm = plan.get("units_per_arm") or plan.get("clusters_per_arm") or None
    contacts = plan.get("contacts_per_arm") or plan.get("n_per_arm")
    size = (f"{fmt.number(per_arm)} {unit}s per arm" if per_arm and unit and unit != "contact" else
            f"{fmt.number(contacts)} surveyed contacts per arm" if _finite(contacts) else "")
    power = plan.get("power")
    bits = [f"a {fmt.number(days)}-day pilot" if _finite(days) else "a pilot"]
    if size:
        bits.append(f"with {size}")
    if start:
        bits.append(f"starting {fmt.date(start)}")
    out = "Next: " + " ".join(bits)
    if _finite(power):
        out += f", sized for {fmt.pct(power, base=1, digits=0)} power to detect the predicted effect"
    return out + "."


def verdict_view(results: dict) -> dict:
    """Step 6's verdict in the brief's vocabulary, read defensively.

    Returns
    -------
    dict
        ``kind`` (``held`` | ``did not hold`` | ``inconclusive`` |
        ``not read out`` | the recorded label when it is another one),
        ``label`` (as shown: "inconclusive — too small to tell"), ``reason``
        (one sentence), ``effect`` and ``prediction`` (texts), ``source``
        (of the prediction), ``next`` (the next pilot, when inconclusive or
        not held), ``recorded`` (bool).

    Notes
    -----
    The vocabulary (issue 18): *held* — the effect is consistent with the
    prediction and excludes zero; *did not hold* — the effect excludes the
    prediction, or an effect the size of the prediction is ruled out;
    *inconclusive — too small to tell* — neither. The brief shows step 6's
    label and reason; it does not re-derive a verdict.
    """
    v = _get(results, "06", "verdict")
    if not isinstance(v, dict) or not v.get("label"):
        why = next((s.get("missing") for s in _get(results, "06", "skipped") or [] if isinstance(s, dict)
                    and any(w in str(s.get("section", "")) for w in ("pilot", "verdict"))), None)
        reason = "The pilot was not read out in this run" + (f": {why}." if why else
                                                             " (step 6 recorded no verdict).")
        return {"kind": "not read out", "label": "not read out", "reason": reason, "effect": "", "prediction": "",
                "source": "", "next": _next_pilot({}, results), "recorded": False}
    label = str(v["label"]).strip()
    kind = next((k for k in _VERDICTS if label.lower().startswith(k)), label)
    shown = "inconclusive — too small to tell" if kind == "inconclusive" else label
    eff, lo, hi = (v.get("effect", v.get("observed")), v.get("ci_low", v.get("observed_ci_low")),
                   v.get("ci_high", v.get("observed_ci_high")))
    pred = v.get("prediction", v.get("predicted"))
    plo = v.get("prediction_ci_low", v.get("predicted_ci_low"))
    phi = v.get("prediction_ci_high", v.get("predicted_ci_high"))
    if isinstance(pred, dict):
        plo, phi = pred.get("ci_low"), pred.get("ci_high")
        pred = pred.get("effect", pred.get("value"))
    source = v.get("prediction_source") or (_get(results, "06", "prediction") or {}).get("source") or ""
    m = metric_view(results)
    effect = f"the pilot moved {m['short']} by {cx_points(results, eff, lo, hi)}" if _finite(eff) else ""
    prediction = f"predicted {cx_points(results, pred, plo, phi)}" if _finite(pred) else ""
    reason = v.get("reason") or v.get("sentence") or ""
    nxt = _next_pilot(v, results) if kind not in ("held", "did not hold") else ""
    inf = v.get("inference") or ""
    if isinstance(inf, dict):
        inf = "; ".join(str(inf[k]) for k in ("method", "why", "warning") if inf.get(k))
        inf = inf.replace("_", " ")
    return {"kind": kind, "label": shown, "reason": str(reason), "effect": effect, "prediction": prediction,
            "source": str(source), "next": nxt, "recorded": True, "inference": str(inf)}


# ------------------------------------------------------------------ caveat, summary
def nonresponse_caveat(results: dict) -> str:
    """Non-response in one sentence, saying which headline to use ("" when step 1 flagged nothing)."""
    nr = _get(results, "01", "nonresponse") or {}
    head = _get(results, "01", "headline") or {}
    if not nr.get("flagged") or not _finite(nr.get("weighted_value"), nr.get("raw_value")):
        return ""
    m = metric_view(results)
    w, r = _num(nr["weighted_value"]), _num(nr["raw_value"])
    outside = _finite(head.get("ci_low"), head.get("ci_high")) and not (
        _num(head["ci_low"]) <= w <= _num(head["ci_high"]))
    who = ", ".join(fmt.label(f) for f in nr["flagged"][:3])
    return (f"Customers who answer surveys differ from those who do not (on {who}): {m['level'](r)} describes "
            f"those who answered; reweighted to all handled contacts it is {m['level'](w)}"
            + (", outside the headline's interval — use the reweighted figure for the whole customer base, "
               "the headline for trends." if outside else ", within the headline's interval."))


def main_caveat(results: dict) -> str:
    """The one caveat that matters most.

    In order: a failed pilot check on the CX outcome; non-response that moves
    the headline outside its own interval; any other failed pilot check;
    otherwise that the drivers are associations.
    """
    checks = [c for c in _get(results, "06", "pilot_checks") or [] if isinstance(c, dict)]
    failed = [c for c in checks if c.get("passes") is False]

    def failed_text(items):
        names = sorted({f"{c.get('check')} on {fmt.label(c.get('outcome'))}" for c in items})
        return (f"{len(items)} of {len(checks)} pilot checks did not pass ({'; '.join(names)}): "
                "read the pilot's effect with care.")

    cx_failed = [c for c in failed if c.get("outcome") in ("cx_value", "cx")]
    if cx_failed:
        return failed_text(cx_failed)
    nr = nonresponse_caveat(results)
    if nr and "outside" in nr:
        return nr
    if failed:
        return failed_text(failed)
    if nr:
        return nr
    return ("Driver importances and what-ifs are associations in observational data; only a pilot tests "
            "whether moving a lever causes the predicted change.")


def summary_bullets(results: dict, *, currency: str = "USD", window: tuple | None = None) -> list[str]:
    """3–5 plain-language bullets computed from the recorded results.

    The CX headline and its trend; the lever to focus on with what moving it
    predicts (CX points, customers, money, with intervals) — or that no lever
    was found; the pilot verdict and the next step; the caveat that matters
    most. With no CX data at all the bullets say so and give the operational
    headline.
    """
    out = []
    m = metric_view(results)
    head = _get(results, "01", "headline") or {}
    ops = _get(results, "02", "headline") or {}
    p1 = _get(results, "01", "params") or {}
    if p1.get("window_start") and p1.get("window_end"):  # the window step 1 actually used
        window = (p1["window_start"], p1["window_end"])
    if _finite(head.get("value")):
        when = f" over {fmt.window(*window)}" if window else ""
        n = f", from {fmt.number(head.get('n'))} responses" if _finite(head.get("n")) else ""
        s = f"**{m['name']}: {m['level'](head['value'])}** {fmt.ci(head.get('ci_low'), head.get('ci_high'), m['bound'])}{when}{n}."
        weekly = [w for w in _get(results, "01", "weekly") or [] if isinstance(w, dict) and _finite(w.get("value"))]
        if len(weekly) >= 4:
            vals = [_num(w["value"]) for w in weekly]
            lo_i, hi_i = vals.index(min(vals)), vals.index(max(vals))
            s += (f" Week by week it ranged from {m['level'](vals[lo_i])} (week of {fmt.date(weekly[lo_i]['week'])})"
                  f" to {m['level'](vals[hi_i])} (week of {fmt.date(weekly[hi_i]['week'])}).")
        out.append(s)
    else:
        ops_txt = ""
        if ops:
            bits = [f"{fmt.label(k)} {fmt.value(k, ops[k])}" for k in ("service_level_pct", "aht_s", "fcr_pct")
                    if _finite(ops.get(k))]
            ops_txt = " Operations: " + ", ".join(bits) + "." if bits else ""
        why = next((str(x.get("missing", "")).rstrip(".") for x in _get(results, "01", "skipped") or []
                    if isinstance(x, dict) and x.get("missing")), "")
        period_cx = isinstance(_get(results, "05", "r2"), dict) and _get(results, "05", "r2").get("grain") == "period"
        if period_cx:
            out.append("**No survey responses in this run**" + (f" ({why})" if why else "")
                       + ": CX comes only from period aggregates, so the brief has no contact-level headline and "
                       "reads the levers at the period grain." + ops_txt)
        else:
            out.append("**No CX measure was recorded in this run**" + (f" ({why})" if why else "")
                       + ", so this brief shows the operational findings only." + ops_txt)
    lv = levers(results)
    if lv["recorded"]:
        if lv["found"] and lv["levers"]:
            fv = focus_value(results, currency)
            top = lv["levers"][0]
            if fv["sentence"] and fv["driver"] == top["driver"]:
                out.append(f"**Focus on {top['label']}.** {fv['sentence']}")
            else:
                out.append(f"**Focus on {top['label']}**, the lever that carries the largest share of the "
                           f"explained variation ({fmt.pct(top['share'], base=1, digits=0)}).")
        else:
            out.append(f"**No lever was found:** {lv['reason'] or 'the drivers explain too little of CX'}. "
                       "No lever is ranked and no what-if is shown.")
    vv = verdict_view(results)
    if vv["recorded"]:
        s = f"**Pilot: {vv['label']}.** " + (vv["reason"] or "")
        if not vv["reason"] and vv["effect"]:
            s += vv["effect"][0].upper() + vv["effect"][1:] + (f", against a {vv['prediction']}." if vv["prediction"] else ".")
        if vv["next"]:
            s += " " + vv["next"]
        out.append(s.strip())
    elif _step(results, "06") or _step(results, "05"):
        out.append(f"**Pilot: not read out.** {vv['reason']}" + (f" {vv['next']}" if vv["next"] else ""))
    if _finite(head.get("value")) or lv["recorded"]:
        out.append("**Caveat:** " + main_caveat(results))
    return out[:5]


# ------------------------------------------------------------------ KPI definitions aligned with CX (step 4)
_TREATMENTS = {"exclude_short": "short abandons left out", "ignore_abandons": "abandons left out",
               "abandons_within_t_met": "abandons within the threshold counted as met"}
_GRAIN_WORDS = {"period": "day by day", "contact": "contact by contact"}


def _definition_change(kpi: str, rec: str, conf: str) -> str:
    """How the recommended definition differs from the configured one, in words (from step 4's labels)."""
    import re

    if kpi == "service_level":
        pat = re.compile(r"T\s*=\s*([\d.]+)\s*s,\s*(\w+)")
        a, b = pat.search(rec), pat.search(conf)
        if a and b:
            bits = []
            if float(a[1]) != float(b[1]):
                bits.append(f"counted at {a[1]} s rather than the configured {b[1]} s")
            if a[2] != b[2]:
                bits.append(f"with {_TREATMENTS.get(a[2], a[2])} rather than {_TREATMENTS.get(b[2], b[2])}")
            if bits:
                return " and ".join(bits)
    if kpi == "fcr":
        pat = re.compile(r"W\s*=\s*(\d+)\s*d,\s*(\w+)")
        a, b = pat.search(rec), pat.search(conf)
        if a and b:
            bits = []
            if a[1] != b[1]:
                bits.append(f"a repeat is counted within {a[1]} day{'s' if a[1] != '1' else ''} rather than the "
                            f"configured {b[1]}")
            if a[2] != b[2]:
                bits.append("repeats on any channel count" if a[2] == "any" else
                            "only repeats on the same channel count")
            if bits:
                return " and ".join(bits)
    if kpi == "aht":
        if rec.startswith("without") and conf.startswith("with "):
            return "counted without hold time rather than with it, as configured"
        if rec.startswith("with ") and conf.startswith("without"):
            return "counted with hold time rather than without it, as configured"
    return f"defined as {rec} rather than the configured {conf}"


def alignment_advice(results: dict) -> list[str]:
    """Step 4's KPI-definition recommendations as plain sentences, one per KPI (empty when there is none).

    Parameters
    ----------
    results : dict
        ``{step: results}``; reads step 4's ``kpi_alignment`` (``table``: one
        row per KPI × definition × grain with ``score`` = |r| with CX,
        ``diff_vs_configured`` and its interval ``ci_low``/``ci_high``,
        ``recommended``, ``configured``).

    Returns
    -------
    list of str
        For each KPI with a ``recommended`` definition — one whose
        bootstrap interval of the difference to the configured definition
        lies above zero (:func:`cxlab.correlate.kpi_alignment`) — one
        sentence: "Service level tracks CSAT best, day by day, when counted at
        60 s rather than the configured 20 s (correlation 0.31 against 0.22: a
        difference of +0.09, +0.04 to +0.15); consider reporting it that
        way." Nothing is said when no definition is recommended.

    Notes
    -----
    When a KPI has a recommendation at both grains, the one whose interval's
    lower end is furthest above zero is shown (and both grains are named when
    they recommend the same definition).

    Examples
    --------
    >>> rows = [{"kpi": "service_level", "definition": d, "grain": "period", "score": s, "diff_vs_configured": s - 0.22,
    ...          "ci_low": lo, "ci_high": hi, "recommended": rec, "configured": conf}
    ...         for d, s, lo, hi, rec, conf in [("T = 20 s, exclude_short", 0.22, 0.0, 0.0, False, True),
    ...                                         ("T = 60 s, exclude_short", 0.31, 0.04, 0.15, True, False)]]
    >>> alignment_advice({"04_correlate": {"kpi_alignment": {"table": rows}}})[0]
    'Service level tracks CSAT best, day by day, when counted at 60 s rather than the configured 20 s (correlation 0.31 against 0.22: a difference of +0.09, +0.04 to +0.15); consider reporting it that way.'
    """
    rec = _get(results, "04", "kpi_alignment")
    table = rec.get("table") if isinstance(rec, dict) else rec
    rows = [r for r in table or [] if isinstance(r, dict)]
    short = metric_view(results)["short"]
    out = []
    for kpi in dict.fromkeys(r.get("kpi") for r in rows):
        recs = [r for r in rows if r.get("kpi") == kpi and r.get("recommended") is True
                and _finite(r.get("score"), r.get("diff_vs_configured"), r.get("ci_low"), r.get("ci_high"))
                and _num(r["ci_low"]) > 0]
        if not recs:
            continue
        best = max(recs, key=lambda r: _num(r["ci_low"]))
        conf = next((r for r in rows if r.get("kpi") == kpi and r.get("grain") == best.get("grain")
                     and r.get("configured") is True), None)
        if conf is None:
            continue
        grains = [r.get("grain") for r in recs if r.get("definition") == best.get("definition")]
        where = " and ".join(_GRAIN_WORDS.get(g, f"at the {g} grain") for g in sorted(grains, reverse=True))
        d, lo, hi = _num(best["diff_vs_configured"]), _num(best["ci_low"]), _num(best["ci_high"])
        digits = 2 if abs(lo) >= 0.01 else 3
        nums = (f"correlation {fmt.number(best['score'], digits)} against {fmt.number(conf.get('score'), digits)}: "
                f"a difference of {fmt.signed(d, digits)}, {fmt.signed(lo, digits)} to {fmt.signed(hi, digits)}")
        change = _definition_change(str(kpi), str(best.get("definition", "")), str(conf.get("definition", "")))
        out.append(f"{_cap(fmt.label(kpi))} tracks {short} best, {where}, when {change} ({nums}); "
                   "consider reporting it that way.")
    return out
