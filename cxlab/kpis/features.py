"""Step 2 — the contact grain: per-contact KPI flags and repeat-window fields.

:func:`contact_features` gives one row per interaction with the same SQL
conditions the KPI definitions sum (:func:`cxlab.kpis.kpi_definitions`) and
the repeat window behind FCR: whether the customer came back within W days,
whether this contact is itself a repeat, and when the next contact arrived.
"""

from __future__ import annotations

import pandas as pd

from ._common import (
    REQUIRED_COLUMNS,
    InteractionsInput,
    check_columns,
    check_timezone,
    coerce_options,
    contacts_sql,
    scan_meta,
    source_sql,
    sql_number,
    utc_offset_sql,
)
from .definitions import contact_flags, not_measured

__all__ = ["contact_features"]


def contact_features(interactions, *, options=None, timezone: str = "UTC", ids=None,
                     repeat_options=()) -> pd.DataFrame:
    """One row per interaction with the per-contact KPI flags and repeat-window fields.

    Parameters
    ----------
    interactions : DataFrame, str/path, duckdb.DuckDBPyRelation or engine source
        An engine source (:mod:`cxlab.kpis.engines`: a Spark DataFrame,
        :class:`~cxlab.kpis.engines.SparkSource`,
        :class:`~cxlab.kpis.engines.SqlSource`) computes the features in the
        engine; only the returned rows leave it.
    options : KpiOptions or dict, optional
        SL threshold T, short-abandon threshold S, repeat window W and its
        channel scope, AHT with or without hold.
    timezone : str
        Defines the local ``date``.
    ids : list-like of str, optional
        Return only these interactions (e.g. the surveyed ones). The repeat
        fields are still computed over every contact; the filter is a
        semi-join inside the engine (a temporary table of the ids), so only
        these rows come back. Unknown ids are ignored. ``None``: every
        interaction.
    repeat_options : sequence of KpiOptions or dict, optional
        Further FCR definitions (repeat window W and channel scope) to flag in
        the same scan: column ``repeat_within_w_<k>`` for the k-th, equal to
        ``repeat_within_w`` of ``contact_features(options=repeat_options[k])``
        (one window sort per channel scope instead of one scan per
        definition; used by :func:`cxlab.correlate.kpi_alignment`).

    Returns
    -------
    DataFrame
        Sorted by ``arrived_at, interaction_id``: ``interaction_id``,
        ``customer_id``, ``queue``, ``channel``, ``agent_id``, ``arrived_at``
        (UTC), ``date`` (local calendar day), ``wait_s``, ``handle_s`` (talk +
        hold + acw, or talk + acw per ``aht_includes_hold``; NaN when a part
        is not mapped), ``talk_s``, ``hold_s``, ``acw_s``, ``abandoned``,
        ``handled``, ``short_abandon`` (abandoned with wait < S),
        ``answered_within_t`` (answered with wait <= T), ``transferred``,
        ``held`` (hold > 0), ``reached_queue`` (False for contacts that
        ended in the IVR / self-service: they are not handled, not short
        abandons, not answered within T, and have ``<NA>`` repeat fields), and

        * ``repeat_within_w`` (nullable boolean) — the same customer came
          back (inbound, handled or abandoned; any or same channel per
          ``fcr_channel``) within W days **after** this contact; ``<NA>``
          when none was seen and the window runs past the end of the data;
        * ``is_repeat`` — this contact follows a previous contact by the same
          customer within W days (contacts in the first W days of the data
          may follow unseen earlier ones: left-censored);
        * ``next_contact_at`` — when the customer's next inbound contact
          (same scope) arrived, NaT if none (for leakage checks);
        * ``repeat_window_complete`` — the W-day window ends inside the data;

        plus ``direction``, ``site``, ``contact_reason``, ``resolved`` when
        present. Outbound contacts have ``<NA>`` repeat fields and are never
        repeats of inbound ones. Columns the source does not map
        (``customer_id``, ``channel``, ``hold_s``, ``acw_s``,
        ``transferred``) are null; flags derived from them (``transferred``,
        ``held``) are then nullable booleans (``<NA>``, never False).
        Contacts without a customer id have ``<NA>`` repeat fields (their
        repeats cannot be known).

        ``attrs["not_measured"]`` names the per-contact KPIs that are not
        measured and why (as :func:`cxlab.kpis.not_measured`).

    Notes
    -----
    The repeat fields come from DuckDB ``LEAD``/``LAG`` window functions
    over ``PARTITION BY customer_id[, channel] ORDER BY arrived_at``; the
    flags are the same SQL conditions the KPI definitions sum.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({
    ...     "interaction_id": ["1", "2"], "customer_id": "a", "channel": "voice", "queue": "q",
    ...     "arrived_at": pd.to_datetime(["2025-01-01 10:00", "2025-01-03 10:00"], utc=True),
    ...     "wait_s": 10.0, "talk_s": 100.0, "hold_s": 0.0, "acw_s": 0.0,
    ...     "abandoned": False, "transferred": False})
    >>> f = contact_features(df, options={"fcr_window_days": 3})
    >>> f["repeat_within_w"].tolist(), f["is_repeat"].tolist()
    ([True, <NA>], [False, True])
    >>> contact_features(df, options={"fcr_window_days": 3}, ids=["2"])[["interaction_id", "is_repeat"]]
      interaction_id  is_repeat
    0              2       True
    """
    check_timezone(timezone)
    o = coerce_options(options)
    f = contact_flags(o)
    scope = o.fcr_channel
    w = sql_number(o.fcr_window_days * 86400)
    extra = [contact_flags(coerce_options(r)) for r in repeat_options]
    scopes = {scope, *(coerce_options(r).fcr_channel for r in repeat_options)}
    src = InteractionsInput(interactions)
    try:
        check_columns(src.types)
        lo_us, hi_us, present = scan_meta(src)
        optional = [c for c in ("agent_id", "direction", "site", "contact_reason", "resolved") if c in src.types]
        always = ("customer_id", "channel", "hold_s", "acw_s", "transferred", "reached_queue")
        keep = sorted({*REQUIRED_COLUMNS, *always, *optional} - {"arrived_at"})
        contacts = contacts_sql(source_sql(src.types, keep, inbound_only=False), windows=scopes, end_us=hi_us,
                                 payload=None, split_inbound=True)
        offset = utc_offset_sql(timezone, lo_us, hi_us)
        queued = "COALESCE(reached_queue, TRUE)"
        known = "(_counted AND customer_id IS NOT NULL)"  # repeat fields only for counted, known customers
        cols = [
            "interaction_id", "customer_id", "queue", "channel",
            "agent_id" if "agent_id" in src.types else "CAST(NULL AS VARCHAR) AS agent_id",
            "_t_us AS arrived_at",
            f"DATE '1970-01-01' + CAST((_t_us + {offset}) // 86400000000 AS INTEGER) AS date",
            "CAST(wait_s AS DOUBLE) AS wait_s",
            f"CAST({f['handle']} AS DOUBLE) AS handle_s",
            "CAST(talk_s AS DOUBLE) AS talk_s", "CAST(hold_s AS DOUBLE) AS hold_s",
            "CAST(acw_s AS DOUBLE) AS acw_s",
            "abandoned", f"{queued} AND {f['handled']} AS handled",
            f"{queued} AND {f['short_abandon']} AS short_abandon",
            f"{queued} AND {f['answered_within_t']} AS answered_within_t",
            "transferred", "hold_s > 0 AS held", f"{queued} AS reached_queue",
            f"CASE WHEN NOT {known} THEN NULL WHEN {f['repeat_within_w']} THEN TRUE "
            f"WHEN {f['window_complete']} THEN FALSE ELSE NULL END AS repeat_within_w",
            f"CASE WHEN NOT {known} THEN NULL ELSE COALESCE(prev_{scope}_gap_s <= {w}, FALSE) END AS is_repeat",
            f"CASE WHEN {known} THEN _next_{scope}_us END AS next_contact_at",
            f"CASE WHEN {known} THEN {f['window_complete']} END AS repeat_window_complete",
            *[c for c in optional if c != "agent_id"],
            *[f"CASE WHEN NOT {known} THEN NULL WHEN {fk['repeat_within_w']} THEN TRUE "
              f"WHEN {fk['window_complete']} THEN FALSE ELSE NULL END AS repeat_within_w_{k}"
              for k, fk in enumerate(extra)],
        ]
        ids_table = None if ids is None else src.register_ids(_id_list(ids))
        where = ""
        if ids_table is not None:
            own = ("interaction_id" if src.types["interaction_id"].upper() == "VARCHAR"
                   else "CAST(interaction_id AS VARCHAR)")
            where = f" WHERE {own} IN (SELECT interaction_id FROM {ids_table})"
        sql = f"SELECT {', '.join(cols)} FROM ({contacts}){where} ORDER BY _t_us, interaction_id"
        out = src.fetch(sql)
        if ids is not None and ids_table is None:  # a DuckDB relation holds no id table: filter here
            out = out[out["interaction_id"].astype(str).isin(set(_id_list(ids)))].reset_index(drop=True)
    finally:
        src.close()
    for c in ("arrived_at", "next_contact_at"):  # epoch microseconds -> UTC timestamps
        out[c] = pd.to_datetime(out[c].astype("float64"), unit="us", utc=True).astype("datetime64[ns, UTC]")
    out["date"] = pd.to_datetime(out["date"]).astype("datetime64[ns]")
    for c in ("repeat_within_w", "is_repeat", "repeat_window_complete", *(f"repeat_within_w_{k}" for k in range(len(extra)))):
        out[c] = out[c].astype("boolean")
    for c in ("abandoned", "handled", "short_abandon", "answered_within_t", "reached_queue", "transferred", "held"):
        # a flag whose column is not mapped (or null on a row) stays <NA>: never read as False
        out[c] = out[c].astype("boolean") if out[c].isna().any() else out[c].astype(bool)
    out.attrs["not_measured"] = not_measured(present, options=o, staffing=False)
    out.attrs["not_measured"].pop("occupancy", None)
    return out


def _id_list(ids) -> list[str]:
    """Interaction ids as a list of distinct strings (nulls dropped)."""
    return list(dict.fromkeys(str(i) for i in pd.Series(ids, dtype=object).dropna()))
