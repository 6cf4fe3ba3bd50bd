"""The brief's page: section helpers the notebook calls, HTML pieces, the footer and the brief's own record.

Each helper turns recorded results (``{step: results}``) into one sentence,
one small table of text or one HTML fragment; the story itself (levers,
verdict, summary) is in :mod:`cxlab.brief.compose`.
"""

from __future__ import annotations

import pandas as pd

from .. import fmt
from ._core import _and, _cap, _finite, _get, _num, cx_points, metric_view
from .compose import _controls, levers, summary_bullets, verdict_view
from .consistency import consistency_warnings

__all__ = [
    "skipped_notes", "operations_table", "inline_html", "html_list", "html_note", "verdict_html", "headline_sentence",
    "no_lever_sentence", "levers_table", "quadrant_frame", "lever_names", "what_if_table", "agent_sentence",
    "side_by_side", "health_sentence", "footer_text", "brief_record",
]


# ------------------------------------------------------------------ skipped, operations
_BUILDS_ON = "it builds on "


def _reason_parts(missing) -> list[str]:
    """A skip note's reasons, one phrase each, without the trailing details in parentheses."""
    import re

    parts = [re.sub(r"\s*\([^()]*(\([^()]*\)[^()]*)*\)\s*$", "", p.strip()).rstrip(".").strip()
             for p in str(missing or "").split("; ")]
    return [p for p in parts if p]


def _or(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _steps_text(steps: list[str]) -> str:
    nums = sorted({int(s[:2]) for s in steps if s[:2].isdigit()})
    if not nums:
        return ""
    return ("step " if len(nums) == 1 else "steps ") + _and([str(n) for n in nums])


def skipped_notes(results: dict, *, titles: int = 3) -> list[str]:
    """What the steps skipped, one short line per reason ("No surveys table in the window: drivers, … (steps 1, 5)").

    Parameters
    ----------
    results : dict
        ``{step: results}``; every step's ``skipped`` record (section, title,
        missing).
    titles : int
        How many section titles a line names before "and N more".

    Returns
    -------
    list of str
        One line per reason group, the largest group first. A section
        skipped because "it builds on" another skipped section joins that
        section's reasons; a section with several reasons goes to the one
        shared by the most sections (greedy). Details in parentheses are left
        to the step reports.

    Examples
    --------
    >>> res = {"01_cx_metric": {"skipped": [{"title": "Trend", "missing": "no surveys table in the window"}]},
    ...        "05_focus": {"skipped": [{"title": "Driver importance", "missing": "no surveys table in the window"},
    ...                                 {"title": "Dominance", "missing": "it builds on Driver importance, which is skipped"}]},
    ...        "06_validate": {"skipped": [{"title": "The pilot", "missing": "no pilot assignment is configured (set it)"}]}}
    >>> skipped_notes(res)
    ['No surveys table in the window: trend; driver importance; dominance (steps 1 and 5).', 'No pilot assignment is configured: the pilot (step 6).']
    """
    import re

    sections = []  # (step, title, reasons)
    for step, rec in sorted(results.items()):
        if not isinstance(rec, dict) or str(step).startswith("07"):
            continue
        for s in rec.get("skipped") or []:  # every step's framework key
            if isinstance(s, dict):
                sections.append([step, str(s.get("title") or s.get("section") or "?"), _reason_parts(s.get("missing"))])
    by_title = {(st, ti): rs for st, ti, rs in sections}
    for _ in range(len(sections)):  # resolve "it builds on …" (chains are short)
        changed = False
        for sec in sections:
            step, _t, reasons = sec
            deps = [r for r in reasons if r.startswith(_BUILDS_ON)]
            if not deps:
                continue
            inherited = [x for (st, ti), rs in by_title.items() if st == step and ti != sec[1]
                         and any(ti in d for d in deps) for x in rs if not x.startswith(_BUILDS_ON)]
            if inherited:
                sec[2] = list(dict.fromkeys([r for r in reasons if not r.startswith(_BUILDS_ON)] + inherited))
                by_title[(step, sec[1])] = sec[2]
                changed = True
        if not changed:
            break
    for sec in sections:
        if not sec[2]:
            sec[2] = ["not recorded why"]
        elif all(r.startswith(_BUILDS_ON) for r in sec[2]):
            sec[2] = ["it builds on a skipped analysis"]
    groups: list[tuple[str, list]] = []
    left = list(sections)
    while left:
        counts: dict[str, int] = {}
        for sec in left:
            for r in sec[2]:
                counts[r] = counts.get(r, 0) + 1
        reason = max(counts, key=lambda r: (counts[r], -list(counts).index(r)))
        members = [sec for sec in left if reason in sec[2]]
        groups.append((reason, members))
        left = [sec for sec in left if reason not in sec[2]]
    out = []
    for reason, members in groups:
        shared = [r for r in members[0][2] if all(r in m[2] for m in members)]  # includes ``reason``
        tables = [re.fullmatch(r"no (\w+) table in the window", r) for r in shared]
        if len(shared) > 1 and all(tables):
            reason = f"no {_or([m[1] for m in tables])} table in the window"
        elif len(shared) > 1:
            reason = _and(shared)
        names = list(dict.fromkeys(ti[:1].lower() + ti[1:] if ti[1:2].islower() else ti for _s, ti, _r in members))
        shown = "; ".join(names[:titles]) + (f" and {len(names) - titles} more" if len(names) > titles else "")
        steps = _steps_text([s for s, _t, _r in members])
        out.append(f"{_cap(reason)}: {shown}" + (f" ({steps})" if steps else "") + ".")
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
