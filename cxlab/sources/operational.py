"""Step-2 report helpers on top of the KPI tables: what is not measured, who has no customer id, the
window's headline sentence, and the Erlang comparison and busy-interval load.

They live here (above :mod:`cxlab.kpis`, which computes the tables) so the step-2 notebook's cells stay one
call each and adapt to the columns a run has: a KPI whose measure is absent reads *not measured*, never 0.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..errors import NotEnoughData

__all__ = [
    "not_measured_table",
    "customer_id_note",
    "kpi_headline_sentence",
    "erlang_expectation",
    "busy_interval",
]

_LABELS = {
    "service_level": "service level", "abandon_rate": "abandon rate", "asa": "ASA", "aht": "AHT",
    "att": "average talk time", "fcr": "FCR", "transfer_rate": "transfer rate", "hold_rate": "hold rate",
    "occupancy": "occupancy", "short_abandoned": "short abandons", "no_customer_id": "contacts without customer id",
    "ivr_only": "never-queued contacts", "handled": "handled",
}


def _num(row, col) -> float:
    v = row.get(col) if hasattr(row, "get") else None
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def not_measured_table(kpi_table: pd.DataFrame) -> pd.DataFrame:
    """The KPIs a run cannot measure, and why, from a KPI table's ``attrs["not_measured"]``.

    Parameters
    ----------
    kpi_table : DataFrame
        Output of :func:`cxlab.kpis.kpi_table` / ``kpi_table_from_aggregates``
        (or :func:`cxlab.sources.kpi_frame`).

    Returns
    -------
    DataFrame
        ``kpi``, ``label`` and ``reason``, one row per KPI not measured (empty
        when everything is).

    Examples
    --------
    >>> k = pd.DataFrame({"offered": [3]})
    >>> k.attrs["not_measured"] = {"transfer_rate": "column 'transferred' is not mapped"}
    >>> not_measured_table(k)
                 kpi          label                             reason
    0  transfer_rate  transfer rate  column 'transferred' is not mapped
    """
    nm = dict(kpi_table.attrs.get("not_measured", {}) or {})
    return pd.DataFrame([{"kpi": k, "label": _LABELS.get(k, k), "reason": v} for k, v in nm.items()],
                        columns=["kpi", "label", "reason"])


def customer_id_note(total: Mapping) -> str | None:
    """A sentence on contacts without a customer id and never-queued contacts, or None when there are none.

    Parameters
    ----------
    total : mapping or Series
        One row of a rolled-up KPI table (``no_customer_id``, ``fcr_den``,
        ``ivr_only``, ``offered``).

    Examples
    --------
    >>> customer_id_note({"no_customer_id": 19502, "fcr_den": 13564, "ivr_only": 0})
    '19,502 contacts have no customer id and are left out of repeat contacts and FCR; FCR is over the other 13,564 handled contacts.'
    >>> customer_id_note({"no_customer_id": 0, "ivr_only": 0}) is None
    True
    """
    parts = []
    unknown, fcr_den, ivr = (_num(total, c) for c in ("no_customer_id", "fcr_den", "ivr_only"))
    if unknown > 0:
        s = f"{unknown:,.0f} contacts have no customer id and are left out of repeat contacts and FCR"
        if fcr_den == fcr_den:
            s += f"; FCR is over the other {fcr_den:,.0f} handled contacts"
        parts.append(s + ".")
    if ivr > 0:
        parts.append(f"{ivr:,.0f} contacts never reached a queue (IVR / self-service) and are not counted as "
                     "offered or abandoned.")
    return " ".join(parts) or None


def kpi_headline_sentence(total: Mapping, options) -> str:
    """The window's KPI headline in one paragraph, each KPI only when it was measured.

    Parameters
    ----------
    total : mapping or Series
        The one-row roll-up of the KPI table (``offered``, ``service_level_pct``,
        ``abandon_rate_pct``, ``asa_s``, ``aht_s``, ``fcr_pct``).
    options : KpiOptions
        The definitions in force (threshold, short-abandon, FCR window).

    Examples
    --------
    >>> from cxlab.config import KpiOptions
    >>> kpi_headline_sentence({"offered": 1200, "service_level_pct": 81.0, "aht_s": float("nan")}, KpiOptions())
    'Over the window the center was offered **1,200** contacts; **81.0%** were answered within 20 s. Not measured: AHT.'
    """
    h = {c: _num(total, c) for c in ("offered", "service_level_pct", "abandon_rate_pct", "asa_s", "aht_s",
                                      "fcr_pct")}
    said = [f"Over the window the center was offered **{h['offered']:,.0f}** contacts"]
    missing = []
    if h["service_level_pct"] == h["service_level_pct"]:
        said.append(f"**{h['service_level_pct']:.1f}%** were answered within {options.sl_threshold_s:g} s")
    if h["abandon_rate_pct"] == h["abandon_rate_pct"]:
        said.append(f"{h['abandon_rate_pct']:.1f}% abandoned (after the first {options.short_abandon_s:g} s)")
    answered = []
    if h["asa_s"] == h["asa_s"]:
        answered.append(f"waited {h['asa_s']:.0f} s on average")
    if h["aht_s"] == h["aht_s"]:
        answered.append(f"were handled in {h['aht_s'] / 60:.1f} min")
    elif "aht_s" in total:
        missing.append("AHT")
    if answered:
        said.append("answered contacts " + " and ".join(answered))
    if h["fcr_pct"] == h["fcr_pct"]:
        said.append(f"{h['fcr_pct']:.1f}% of handled contacts had no repeat within {options.fcr_window_days} days")
    elif "fcr_pct" in total:
        missing.append("FCR")
    text = "; ".join(said) + "."
    if missing:
        text += " Not measured: " + ", ".join(missing) + "."
    return text


def erlang_expectation(check: pd.DataFrame, *, sl_target_pct: float = 80.0) -> dict:
    """Actual vs Erlang-expected service level over the intervals with contacts (contact-weighted).

    Parameters
    ----------
    check : DataFrame
        Output of :func:`cxlab.kpis.erlang_check` (per interval × queue:
        ``offered``, ``service_level_num`` / ``_den``, ``erlang_c_sl_pct``,
        ``erlang_a_sl_pct``).
    sl_target_pct : float
        Service-level target (percent).

    Returns
    -------
    dict
        ``actual`` (Σ num / Σ den × 100), ``erlang_c`` and ``erlang_a`` (each
        interval's expectation weighted by its offered contacts) and
        ``share_intervals_below_target`` (share of busy intervals whose Erlang C
        expectation is under the target).

    Raises
    ------
    cxlab.errors.NotEnoughData
        No interval has an offered contact.

    Examples
    --------
    >>> c = pd.DataFrame({"offered": [10, 30, 0], "service_level_num": [9, 15, 0], "service_level_den": [10, 30, 0],
    ...                   "erlang_c_sl_pct": [90.0, 50.0, 99.0], "erlang_a_sl_pct": [92.0, 60.0, 99.0]})
    >>> erlang_expectation(c)  # actual 24/40; C (10·90 + 30·50)/40; A (10·92 + 30·60)/40
    {'actual': 60.0, 'erlang_c': 60.0, 'erlang_a': 68.0, 'share_intervals_below_target': 0.5}
    """
    busy = check[check["offered"] > 0]
    if busy.empty or busy["service_level_den"].sum() <= 0:
        raise NotEnoughData(f"no staffed interval with offered contacts ({len(check):,} intervals)")
    w = busy["offered"].astype(float)
    return {"actual": float(busy["service_level_num"].sum() / busy["service_level_den"].sum() * 100),
            "erlang_c": float((busy["erlang_c_sl_pct"] * w).sum() / w.sum()),
            "erlang_a": float((busy["erlang_a_sl_pct"] * w).sum() / w.sum()),
            "share_intervals_below_target": float((busy["erlang_c_sl_pct"] < sl_target_pct).mean())}


def busy_interval(check: pd.DataFrame, *, quantile: float = 0.9) -> dict:
    """The load of a typical busy interval: the median among the busiest tenth.

    Returns
    -------
    dict
        ``load_erlangs`` (median load of intervals at or above the
        ``quantile`` of load), ``workload_s`` and ``patience_s``
        (offered-weighted over those intervals), ``agents_staffed_median``.

    Examples
    --------
    >>> c = pd.DataFrame({"offered": [10, 20], "load_erlangs": [2.0, 6.0], "workload_s": [300.0, 600.0],
    ...                   "patience_s": [60.0, 90.0], "agents_staffed": [3, 7]})
    >>> busy_interval(c, quantile=0.5)
    {'load_erlangs': 6.0, 'workload_s': 600.0, 'patience_s': 90.0, 'agents_staffed_median': 7.0}
    """
    busy = check[check["offered"] > 0]
    if busy.empty:
        raise NotEnoughData("no interval with offered contacts")
    peak = busy[busy["load_erlangs"] >= busy["load_erlangs"].quantile(quantile)]
    w = peak["offered"].astype(float)
    pat = peak["patience_s"].astype(float)
    ok = pat.notna()
    return {"load_erlangs": float(peak["load_erlangs"].median()),
            "workload_s": float((peak["workload_s"] * w).sum() / w.sum()),
            "patience_s": float((pat[ok] * w[ok]).sum() / w[ok].sum()) if ok.any() else np.nan,
            "agents_staffed_median": float(peak["agents_staffed"].median())}
