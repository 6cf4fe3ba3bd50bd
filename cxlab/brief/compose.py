"""The brief's story: summary bullets, levers vs controls, the verdict, what changed, run consistency.

Every function reads only what the steps recorded (``{step: results}`` from
:func:`cxlab.results.load`) and returns plain sentences or small tables of
text formatted by :mod:`cxlab.fmt`. Records are read defensively: a step
that recorded nothing, or an older shape of a record, gives a sentence that
says so — never a number derived silently.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd

from .. import fmt

__all__ = [
    "CONTEXT_VARIABLES", "RESULT_DEPENDS", "STEP_NAMES", "metric_view", "cx_points", "levers", "verdict_view",
    "summary_bullets", "consistency_warnings", "changes_table", "skipped_notes", "focus_value",
    "main_caveat", "nonresponse_caveat", "lever_names", "operations_table", "pilot_start", "inline_html", "html_list", "html_note", "verdict_html",
    "headline_sentence", "no_lever_sentence", "levers_table", "quadrant_frame", "what_if_table", "agent_sentence", "load_results",
    "run_date", "side_by_side", "health_sentence", "footer_text", "brief_record",
]

#: Variables that describe the contact's context, not something the center can move: when step 5 does not
#: record which drivers are controls, these are treated as controls (never listed as levers).
CONTEXT_VARIABLES = frozenset({"contact_reason", "channel", "queue", "site", "segment", "direction", "team"})

#: Which step's results another step's results are computed from (``06`` reads ``05``'s what-if; the brief
#: reads all). A step recorded before one it depends on is stale.
RESULT_DEPENDS: dict[str, tuple[str, ...]] = {"06_validate": ("05_focus",)}

STEP_NAMES = {"01_cx_metric": "step 1 (CX metric)", "02_operational_kpis": "step 2 (operational KPIs)",
              "03_other_sources": "step 3 (other sources)", "04_correlate": "step 4 (correlations)",
              "05_focus": "step 5 (focus)", "06_validate": "step 6 (validation)", "07_brief": "the brief"}

_VERDICTS = ("held", "did not hold", "inconclusive")


def _step(results: dict, prefix: str) -> dict:
    for step, rec in results.items():
        if str(step).startswith(prefix) and isinstance(rec, dict):
            return rec
    return {}


def _get(results: dict, prefix: str, key: str, default=None):
    """One recorded result: step ``prefix``'s ``key`` (``tests/test_results_contract.py`` parses these calls)."""
    return _step(results, prefix).get(key, default)


def _num(v) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return float("nan")
    return x


def _finite(*vals) -> bool:
    return all(math.isfinite(_num(v)) for v in vals)


# ------------------------------------------------------------------ metric
def metric_view(results: dict) -> dict:
    """The CX metric as a reader sees it: name, how its level and its changes print.

    Returns
    -------
    dict
        ``metric`` (csat | nps | ces), ``name`` ("CSAT top-2-box"), ``short``
        ("CSAT"), ``level`` (callable: value → text, e.g. ``76.9%``),
        ``unit`` (of a change: "points", "points on the 1–7 scale").
    """
    meta = _get(results, "01", "metric") or {}
    params = _get(results, "01", "params") or {}
    metric = meta.get("metric") or params.get("cx_metric") or "csat"
    scale = meta.get("scale", "")
    short = {"csat": "CSAT", "nps": "NPS", "ces": "CES"}.get(metric, str(metric).upper())
    if metric == "csat" and scale != "mean":
        return {"metric": metric, "short": short, "name": "CSAT top-2-box (share of 4–5 answers)",
                "level": lambda v: fmt.pct(v, digits=1), "bound": lambda v: fmt.number(v, 1), "unit": "points"}
    if metric == "nps":
        return {"metric": metric, "short": short, "name": "NPS (promoters − detractors, points)",
                "level": lambda v: fmt.signed(v, 1), "bound": lambda v: fmt.signed(v, 1), "unit": "points"}
    if metric == "ces" and scale == "agree":
        return {"metric": metric, "short": short, "name": "CES (share who found it easy)",
                "level": lambda v: fmt.pct(v, digits=1), "bound": lambda v: fmt.number(v, 1), "unit": "points"}
    lo, hi = {"csat": (1, 5), "ces": (1, 7)}.get(metric, ("", ""))
    return {"metric": metric, "short": short, "name": f"{short} mean ({lo}–{hi} scale)",
            "level": lambda v: fmt.number(v, 2), "bound": lambda v: fmt.number(v, 2),
            "unit": f"points on the {lo}–{hi} scale"}


def cx_points(results: dict, v, lo=None, hi=None) -> str:
    """A CX change in words with its interval: ``+1.9 CSAT points (1.9–2.0)``.

    Examples
    --------
    >>> cx_points({"01_cx_metric": {"metric": {"metric": "csat", "scale": "top2"}}}, 1.93, -0.31, 4.16)
    '+1.9 CSAT points (−0.3 to +4.2)'
    """
    m = metric_view(results)
    unit = m["unit"].replace("points", f"{m['short']} points", 1)
    digits = 1 if abs(_num(v)) >= 0.095 or not _finite(v) else 2
    while _finite(lo, hi) and digits < 3 and round(_num(lo), digits) == round(_num(hi), digits) != 0:
        digits += 1  # enough decimals that the interval's ends differ
    out = fmt.signed(v, digits, f" {unit}")
    if _finite(lo, hi):
        out += " " + fmt.ci(lo, hi, lambda x: fmt.signed(x, digits) if float(lo) < 0 else fmt.number(x, digits))
    return out


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


# ------------------------------------------------------------------ consistency, changes
def _params(results: dict) -> dict:
    return {s: r["params"] for s, r in results.items() if isinstance(r, dict) and isinstance(r.get("params"), dict)}


def _ts(s):
    try:
        return dt.datetime.fromisoformat(str(s).replace("Z", "+00:00"))
    except ValueError:
        return None


def consistency_warnings(results: dict, *, depends: dict | None = None, ignore=("07_brief",)) -> list[str]:
    """Warnings when steps disagree on metric, window or definitions, or a step is older than its input.

    Parameters
    ----------
    results : dict
        ``{step: results}``; each step's ``params`` record (:func:`cxlab.nb.run_params`).
    depends : dict, optional
        Step → steps whose results it is computed from (default
        :data:`RESULT_DEPENDS`).
    ignore : tuple of str
        Steps left out of the comparison (the brief itself).

    Returns
    -------
    list of str
        One sentence per disagreement (empty when the run is consistent).

    Examples
    --------
    >>> p = {"cx_metric": "csat", "window_start": "2025-01-01", "window_end": "2025-12-31", "definitions": {}}
    >>> res = {"01_cx_metric": {"params": p}, "04_correlate": {"params": {**p, "cx_metric": "nps"}},
    ...        "05_focus": {"params": p}}
    >>> consistency_warnings(res)
    ['Steps disagree on the CX metric: step 4 (correlations) used NPS while step 1 (CX metric) and step 5 (focus) used CSAT; numbers from different metrics are mixed on this page — re-run the whole run with one metric.']
    """
    depends = RESULT_DEPENDS if depends is None else depends
    params = {s: p for s, p in _params(results).items() if s not in ignore}
    out = []
    checks = [("the CX metric", lambda p: str(p.get("cx_metric", "")).upper() or None,
               "numbers from different metrics are mixed on this page — re-run the whole run with one metric"),
              ("the analysis window", lambda p: (fmt.window(p["window_start"], p["window_end"])
                                                 if p.get("window_start") else None),
               "their numbers cover different periods — re-run the whole run with one window"),
              ("the KPI definitions", lambda p: _defs_text(p.get("definitions")),
               "their KPIs are not computed the same way")]
    for what, key, consequence in checks:
        groups: dict[Any, list[str]] = {}
        for s, p in sorted(params.items()):
            k = key(p)
            if k is not None:
                groups.setdefault(k, []).append(s)
        if len(groups) > 1:
            ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[1]))
            majority = ordered[0]
            others = "; ".join(f"{_and([STEP_NAMES.get(s, s) for s in steps])} used {k}" for k, steps in ordered[1:])
            out.append(f"Steps disagree on {what}: {others} while "
                       f"{_and([STEP_NAMES.get(s, s) for s in majority[1]])} used {majority[0]}; {consequence}.")
    for step, deps in depends.items():
        if step not in params:
            continue
        t = _ts(params[step].get("recorded_at"))
        for d in deps:
            td = _ts((params.get(d) or {}).get("recorded_at"))
            if t and td and td > t:
                out.append(f"{_cap(STEP_NAMES.get(step, step))} is older than {STEP_NAMES.get(d, d)}, which "
                           f"it is computed from (recorded {_when(t)} vs {_when(td)}): re-run {STEP_NAMES.get(step, step)}.")
    return out


def _cap(s: str) -> str:
    """First letter upper-cased, the rest untouched ("step 1 (CX metric)" → "Step 1 (CX metric)")."""
    return s[:1].upper() + s[1:]


def _defs_text(d) -> str | None:
    if not isinstance(d, dict) or not d:
        return None
    return ", ".join(f"{k}={v}" for k, v in sorted(d.items()))


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _when(t: dt.datetime) -> str:
    return f"{fmt.date(t)} {t:%H:%M} UTC"


def _arrow(change: float, margin: float) -> str:
    if not math.isfinite(change) or change == 0:
        return "→"
    return "↑" if change > 0 else "↓"


def changes_table(current: dict, previous: dict | None, *, currency: str = "USD") -> tuple[pd.DataFrame, list[str]]:
    """Previous vs now: headline, top levers, pilot effect, verdict — with arrows and beyond-noise marks.

    Parameters
    ----------
    current, previous : dict
        ``{step: results}`` of this run and of the previous good run (None: first run).

    Returns
    -------
    (DataFrame, list of str)
        Rows ``what``, ``previous``, ``now``, ``change`` (arrow and amount,
        "beyond noise" when it exceeds the combined margin), and warnings
        when the two runs differ in window, metric or definitions.

    Notes
    -----
    A change is beyond noise when |now − previous| > √(moe_prev² + moe_now²),
    each margin being half its 95% interval (independent estimates; runs over
    overlapping windows are positively correlated, so this is conservative).
    """
    cols = ["what", "previous", "now", "change"]
    if previous is None:
        return pd.DataFrame(columns=cols), []
    rows = []

    def moe(lo, hi):
        return (_num(hi) - _num(lo)) / 2 if _finite(lo, hi) else float("nan")

    def add(what, p, n, level, unit_fmt):
        pv, plo, phi = p
        nv, nlo, nhi = n
        if not (_finite(pv) or _finite(nv)):
            return
        ch = _num(nv) - _num(pv)
        margin = math.hypot(moe(plo, phi), moe(nlo, nhi))
        beyond = math.isfinite(ch) and math.isfinite(margin) and abs(ch) > margin
        change = "—" if not math.isfinite(ch) else f"{_arrow(ch, margin)} {unit_fmt(ch)}" + (
            " · beyond noise" if beyond else " · within noise" if math.isfinite(margin) else "")
        rows.append({"what": what, "previous": level(pv, plo, phi), "now": level(nv, nlo, nhi), "change": change})

    m = metric_view(current)
    h_now = _get(current, "01", "headline") or {}
    h_prev = _get(previous, "01", "headline") or {}
    def lvl(v, lo, hi):
        return ("—" if not _finite(v) else f"{m['level'](v)} {fmt.ci(lo, hi, m['bound'])}".strip())
    add(f"{m['short']} headline", (h_prev.get("value"), h_prev.get("ci_low"), h_prev.get("ci_high")),
        (h_now.get("value"), h_now.get("ci_low"), h_now.get("ci_high")), lvl, lambda c: fmt.signed(c, 1) + " points")
    lv_now, lv_prev = levers(current), levers(previous)
    top_now = [x["label"] for x in lv_now["levers"]] or (["no lever found"] if lv_now["recorded"] else [])
    top_prev = [x["label"] for x in lv_prev["levers"]] or (["no lever found"] if lv_prev["recorded"] else [])
    if top_now or top_prev:
        rows.append({"what": "top levers", "previous": ", ".join(top_prev) or "—", "now": ", ".join(top_now) or "—",
                     "change": "same" if top_now == top_prev else "changed"})
    v_now, v_prev = verdict_view(current), verdict_view(previous)

    def eff(res):
        v = _get(res, "06", "verdict") or {}
        return (v.get("effect", v.get("observed")), v.get("ci_low", v.get("observed_ci_low")),
                v.get("ci_high", v.get("observed_ci_high")))

    def plvl(v, lo, hi):
        return ("—" if not _finite(v) else
                f"{fmt.signed(v, 1)} {fmt.ci(lo, hi, lambda x: fmt.signed(x, 1))}".strip())
    add(f"pilot effect on {m['short']}", eff(previous), eff(current), plvl, lambda c: fmt.signed(c, 1) + " points")
    if v_now["recorded"] or v_prev["recorded"]:
        rows.append({"what": "pilot verdict", "previous": v_prev["label"], "now": v_now["label"],
                     "change": "same" if v_now["label"] == v_prev["label"] else "changed"})
    warns = []
    p_now, p_prev = _get(current, "01", "params") or {}, _get(previous, "01", "params") or {}
    if p_now and p_prev:
        if (p_now.get("window_start"), p_now.get("window_end")) != (p_prev.get("window_start"), p_prev.get("window_end")):
            warns.append(f"The two runs cover different windows ({fmt.window(p_prev.get('window_start'), p_prev.get('window_end'))} "
                         f"then {fmt.window(p_now.get('window_start'), p_now.get('window_end'))}): part of any change is the "
                         "different period.")
        if p_now.get("cx_metric") != p_prev.get("cx_metric"):
            warns.append(f"The two runs use different CX metrics ({str(p_prev.get('cx_metric')).upper()} then "
                         f"{str(p_now.get('cx_metric')).upper()}): their headlines are not comparable.")
        if _defs_text(p_now.get("definitions")) != _defs_text(p_prev.get("definitions")):
            a, b = p_prev.get("definitions") or {}, p_now.get("definitions") or {}
            diff = [f"{k} {a.get(k)} → {b.get(k)}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
            warns.append("The two runs use different KPI definitions (" + "; ".join(diff) + ").")
    return pd.DataFrame(rows, columns=cols), warns


# ------------------------------------------------------------------ skipped, operations
def skipped_notes(results: dict) -> list[str]:
    """What each step skipped and why, one line per step ("step 3 (other sources): QA scores — no agent_scores table")."""
    out = []
    for step, rec in sorted(results.items()):
        if not isinstance(rec, dict) or step.startswith("07"):
            continue
        items = [s for s in rec.get("skipped") or [] if isinstance(s, dict)]  # every step's framework key
        if items:
            out.append(f"{_cap(STEP_NAMES.get(step, step))}: " + "; ".join(
                f"{s.get('title', s.get('section'))} — {str(s.get('missing', '')).rstrip('.')}" for s in items) + ".")
    return out


def operations_table(results: dict) -> pd.DataFrame:
    """Step 2's headline KPIs in one base each (``KPI``, ``value``)."""
    head = _get(results, "02", "headline") or {}
    keys = ["offered", "service_level_pct", "asa_s", "abandon_rate_pct", "aht_s", "fcr_pct", "transfer_rate_pct",
            "hold_rate_pct", "occupancy_pct"]
    return pd.DataFrame([{"KPI": fmt.label(k), "value": fmt.value(k, head[k])} for k in keys if _finite(head.get(k))],
                        columns=["KPI", "value"])


# ------------------------------------------------------------------ html
def inline_html(text: str) -> str:
    """A computed sentence as safe HTML: everything escaped, then ``**bold**`` → ``<b>``.

    Examples
    --------
    >>> inline_html("**Focus** on queue <tech> & more")
    '<b>Focus</b> on queue &lt;tech&gt; &amp; more'
    """
    import html
    import re

    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(str(text), quote=False))


def html_list(items, cls: str = "cxlab-summary") -> str:
    """Bullets as ``<div class=…><ul><li>…</li></ul></div>`` (escaped; ``**bold**`` kept)."""
    lis = "".join(f"<li>{inline_html(i)}</li>" for i in items)
    return f'<div class="{cls}"><ul>{lis}</ul></div>'


def html_note(text: str, cls: str = "cxlab-warning") -> str:
    """One boxed paragraph (a warning)."""
    return f'<div class="{cls}"><p>{inline_html(text)}</p></div>'


def verdict_html(view: dict) -> str:
    """The verdict as a coloured label and its reason, the effect, the prediction with its source, the next pilot."""
    import html

    kind = view.get("kind", "")
    cls = {"held": "held", "did not hold": "did-not-hold", "inconclusive": "inconclusive",
           "not read out": "not-read-out"}.get(kind, "other")
    parts = [f'<p><span class="cxlab-verdict cxlab-verdict-{cls}">{html.escape(view.get("label", ""))}</span> '
             f'{inline_html(view.get("reason", ""))}</p>']
    facts = []
    if view.get("effect"):
        facts.append(view["effect"][0].upper() + view["effect"][1:])
    if view.get("prediction"):
        facts.append(f"{view['prediction'][0].upper() + view['prediction'][1:]}"
                     + (f" — from {view['source']}" if view.get("source") else ""))
    if view.get("inference"):
        facts.append(f"How it was read out: {view['inference']}")
    if facts:
        parts.append("<ul>" + "".join(f"<li>{inline_html(f)}</li>" for f in facts) + "</ul>")
    if view.get("next"):
        parts.append(f"<p>{inline_html(view['next'])}</p>")
    return "".join(parts)


# ------------------------------------------------------------------ notebook helpers
def no_lever_sentence(lv: dict, results: dict) -> str:
    """Section 2 when no lever was found: say so plainly, with the model's reading; rank nothing."""
    explained = lv.get("explained", "").split(";")[0]
    return (f"**No lever was found** — {lv.get('reason') or 'the drivers explain too little of CX'}. "
            + (explained + ". " if explained else "")
            + "No lever is ranked and no what-if is shown: on this evidence, moving these KPIs is not expected to move "
            f"{metric_view(results)['short']}.")


def headline_sentence(results: dict) -> str:
    """Section 1's sentence: the headline with its interval, responses and response rate."""
    m = metric_view(results)
    head = _get(results, "01", "headline") or {}
    if not _finite(head.get("value")):
        return "Step 1 recorded no CX headline in this run."
    s = f"**{m['name']}: {m['level'](head['value'])}** {fmt.ci(head.get('ci_low'), head.get('ci_high'), m['bound'])}"
    if _finite(head.get("n")):
        s += f", from {fmt.number(head['n'])} survey responses"
        if _finite(head.get("response_rate")):
            s += f" ({fmt.pct(head['response_rate'], base=1)} of handled contacts answered)"
    rec = _get(results, "01", "recommended_metric")
    if rec and str(rec).lower() != m["metric"]:
        s += f". Step 1 recommends steering by **{str(rec).upper()}** instead: it predicts churn better"
    return s + "."


def levers_table(lv: dict, results: dict) -> pd.DataFrame:
    """The listed levers: label, share of the explained variation (interval), what a move predicts."""
    rows = []
    for i, x in enumerate(lv["levers"], 1):
        share = fmt.pct(x["share"], base=1, digits=0)
        if _finite(x["share_ci_low"], x["share_ci_high"]):
            share += f" ({100 * x['share_ci_low']:.0f}–{100 * x['share_ci_high']:.0f})"
        move = (f"{fmt.change(x['driver'], x['change'])} → {cx_points(results, x['effect'], x['ci_low'], x['ci_high'])}"
                if _finite(x.get("change"), x.get("effect")) else "—")
        rows.append({"#": str(i), "lever": x["label"], "share of explained variation": share,
                     "a move of … predicts": move})
    return pd.DataFrame(rows, columns=["#", "lever", "share of explained variation", "a move of … predicts"])


def quadrant_frame(results: dict) -> pd.DataFrame | None:
    """Step 5's importance-vs-performance record as a frame (None when not recorded)."""
    q = pd.DataFrame([r for r in _get(results, "05", "quadrant") or [] if isinstance(r, dict)])
    need = {"driver", "share", "performance", "target"}
    return q if len(q) and need <= set(q.columns) else None


def lever_names(results: dict) -> list[str]:
    """Every driver step 5 ranked that is not a control."""
    names = [r.get("driver") for r in _get(results, "05", "drivers") or _get(results, "05", "top_drivers") or [] if isinstance(r, dict)]
    controls, _ = _controls(results, names)
    return [n for n in names if n not in controls]


def what_if_table(results: dict, lv: dict) -> pd.DataFrame:
    """Every lever's recorded what-if, largest predicted gain first (controls and the combined row left out).

    Empty when no lever was found: a what-if is not shown as if it were a lever's.
    """
    if not lv.get("found"):
        return pd.DataFrame()
    names = set(lever_names(results))
    short = metric_view(results)["short"]
    rows = []
    for r in _get(results, "05", "what_if") or []:
        if not isinstance(r, dict) or r.get("driver") not in names or not _finite(r.get("change")):
            continue
        rows.append({"lever move": _cap(fmt.lever_phrase(r["driver"], r["change"])),
                     f"predicted {short} change": cx_points(results, r.get("effect"), r.get("ci_low"), r.get("ci_high")),
                     "_effect": _num(r.get("effect"))})
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    return df.sort_values("_effect", ascending=False, kind="stable").drop(columns="_effect").reset_index(drop=True)


def agent_sentence(results: dict) -> str:
    """Step 5's staffing what-if in one sentence ("" when not recorded or not a clear gain)."""
    ag = _get(results, "05", "agents_what_if")
    if not isinstance(ag, dict) or not _finite(ag.get("cx_change")):
        return ""
    q = ag.get("queue") or "the busiest queue"
    sl = ""
    if _finite(ag.get("sl_from_pct"), ag.get("sl_to_pct")):
        sl = f" (service level {fmt.pct(ag['sl_from_pct'], digits=0)} → {fmt.pct(ag['sl_to_pct'], digits=0)})"
    return (f"Staffing: one more agent in every half-hour in the {q} queue{sl} predicts "
            f"{cx_points(results, ag['cx_change'], ag.get('ci_low'), ag.get('ci_high'))}.")


def load_results(run_dir) -> dict:
    """All recorded results of a run folder (``{}`` when it has none)."""
    from .. import results as _results

    return _results.load(run_dir)


def run_date(run_dir) -> str:
    """A run's start as a human date (from its manifest; else its folder name)."""
    import json
    from pathlib import Path

    man = Path(run_dir) / "manifest.json"
    started = None
    if man.is_file():
        try:
            data = json.loads(man.read_text())
            started = (data.get("run") or {}).get("started_at") or data.get("started_at")
        except json.JSONDecodeError:
            started = None
    if started:
        t = _ts(started)
        return f"{fmt.date(t)}, {t:%H:%M} UTC" if t else str(started)
    return Path(run_dir).name


def side_by_side(df: pd.DataFrame) -> pd.DataFrame:
    """A long two-column table folded into four columns (half the height on paper)."""
    half = (len(df) + 1) // 2
    left, right = df.iloc[:half].reset_index(drop=True), df.iloc[half:].reset_index(drop=True)
    right.columns = [f"{c} " for c in right.columns]  # distinct headers, same text
    return pd.concat([left, right], axis=1).fillna("")


def health_sentence(results: dict) -> str:
    """Data health in one sentence: rows read, accepted and quarantined over all tables."""
    rows = [r for r in _get(results, "03", "data_health") or [] if isinstance(r, dict)]
    if not rows:
        return ""
    read = sum(_num(r.get("rows_read")) for r in rows if _finite(r.get("rows_read")))
    quar = sum(_num(r.get("rows_quarantined")) for r in rows if _finite(r.get("rows_quarantined")))
    accepted = (sum(_num(r.get("rows_accepted")) for r in rows if _finite(r.get("rows_accepted")))
                if all(_finite(r.get("rows_accepted")) for r in rows) else read - quar)
    excluded = read - accepted - quar  # rows a mapping filter excluded (read = accepted + quarantined + excluded)
    bad = [f"{r['table']} {fmt.number(r['rows_quarantined'])}" for r in rows if _num(r.get("rows_quarantined")) > 0]
    return (f"Data: {fmt.number(read)} rows read from {len(rows)} table{'s' if len(rows) != 1 else ''}; "
            f"{fmt.number(accepted)} accepted, "
            f"{fmt.number(quar)} quarantined" + (f" ({', '.join(bad)})" if bad else "")
            + (f", {fmt.number(excluded)} excluded by the mapping's filters" if excluded > 0 else "") + ".")


def footer_text(results: dict) -> str:
    """How the brief was made, and the KPI definitions, as one small paragraph."""
    defs = [d for d in _get(results, "02", "definitions") or [] if isinstance(d, dict)]
    want = ("service_level", "abandon_rate", "aht", "fcr", "transfer_rate")
    shown = [f"*{fmt.label(d['name'])}*: {d.get('definition', '')}" for d in defs if d.get("name") in want]
    out = ("Every number on this page was computed by the step notebooks of this run and recorded in the run "
           "folder; the brief only reads them. Intervals are 95%. Driver importances and what-ifs are associations "
           "in observational data; the pilot (step 6) tests causation.")
    if shown:
        out += " **Definitions:** " + "; ".join(shown) + "."
    return out


def brief_record(results: dict, *, currency: str = "USD", window: tuple | None = None) -> dict:
    """What the brief records for the next run's comparison and the mailer (headline, verdict, levers, summary)."""
    head = _get(results, "01", "headline") or {}
    lv = levers(results)
    vv = verdict_view(results)
    return {"headline": {k: head.get(k) for k in ("value", "ci_low", "ci_high", "n")},
            "metric": metric_view(results)["metric"], "verdict": vv["label"],
            "drivers": [x["driver"] for x in lv["levers"]], "no_lever": lv["recorded"] and not lv["found"],
            "summary": summary_bullets(results, currency=currency, window=window),
            "warnings": consistency_warnings(results)}
