"""Step 5 settings derived from the data, levers vs controls, and the plain readings of the model.

* :func:`resolve_settings` turns the notebook's parameters into the driver
  list, the controls, the targets and the what-if changes, deriving each
  empty one from the columns present (never from the sample);
* :func:`driver_table` puts beside each driver's share its role (lever or
  control) and its direct effect with the controls held fixed, and flags a
  lever whose share comes mostly from a control (handle time through
  contact reason);
* :func:`model_reading` gives the R² sentence and the ``no_lever`` flag;
* :func:`what_if_values` gives the what-if sentence's numbers as structured
  values for the brief.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .._utils import as_list
from ..errors import NotEnoughData, ParameterError, suggest

__all__ = ["DRIVER_CANDIDATES", "BENCHMARK_TARGETS", "STANDARD_CHANGES", "Settings", "resolve_settings",
           "driver_table", "model_reading", "what_if_values", "LOW_R2", "PERIOD_LEVERS", "period_drivers"]

#: Contact conditions considered as levers when no driver list is given, in display order.
DRIVER_CANDIDATES = ("resolved", "is_repeat", "transferred", "hold_s", "wait_s", "handle_s", "tenure_days")
#: Reference targets for levers (column units: 0-1 for flags, seconds), used for the levers present
#: when no targets are given: FCR 80%, repeat 20%, transfer 8%, hold 15 s, wait 10 s.
BENCHMARK_TARGETS: dict[str, float] = {"resolved": 0.80, "is_repeat": 0.20, "transferred": 0.08, "hold_s": 15.0,
                                       "wait_s": 10.0}
#: Standard what-if change per lever, in the better direction (flags: 2-5 points; seconds: -10 s).
STANDARD_CHANGES: dict[str, float] = {"resolved": 0.05, "is_repeat": -0.03, "transferred": -0.02, "hold_s": -10.0,
                                      "wait_s": -10.0}
#: Below this R² the model "explains little" and no lever is reported.
LOW_R2 = 0.02
#: Period-grain KPIs considered as levers when there are no contact-level data.
PERIOD_LEVERS = ("service_level_pct", "asa_s", "abandon_rate_pct", "aht_s", "fcr_pct", "transfer_rate_pct",
                 "hold_rate_pct")


def _varies(s: pd.Series) -> bool:
    return s.dropna().nunique() > 1


class Settings(dict):
    """Resolved step-5 settings: ``drivers`` (levers then controls), ``levers``, ``controls``,
    ``targets``, ``changes``, ``dropped`` ({column: why left out}) and ``derived`` (which were derived)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _names(value, name) -> list[str]:
    if isinstance(value, str):  # legacy comma strings
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in as_list(value, name)]


def _mapping(value, name) -> dict[str, float]:
    if isinstance(value, str):  # legacy "col:value,col:value"
        out = {}
        for kv in value.split(","):
            if kv.strip():
                k, _, v = kv.partition(":")
                out[k.strip()] = float(v)
        return out
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ParameterError(f"{name} must be a mapping of column -> number; got {type(value).__name__}")
    try:
        return {str(k): float(v) for k, v in value.items()}
    except (TypeError, ValueError):
        raise ParameterError(f"{name} values must be numbers; got {dict(value)!r}") from None


def resolve_settings(frame: pd.DataFrame, *, drivers=(), controls=("contact_reason",), targets=None, changes=None,
                     candidates: Sequence[str] = DRIVER_CANDIDATES, min_levers: int = 1) -> Settings:
    """The drivers, controls, targets and what-if changes for this run's contact frame.

    Parameters
    ----------
    frame : DataFrame
        The contact frame (one row per response).
    drivers : list of str
        Levers to weigh; empty = derive: the ``candidates`` present that
        vary. Named columns that are absent raise a :class:`ParameterError`.
    controls : list of str
        Adjusted for but never levers (e.g. ``contact_reason``); a control
        that is absent or constant is left out (noted in ``dropped``).
    targets, changes : dict, optional
        Column → value. Empty = :data:`BENCHMARK_TARGETS` /
        :data:`STANDARD_CHANGES` for the levers present. Entries for
        columns that are not levers are left out (noted in ``dropped``).
    candidates : sequence of str
        Columns considered when deriving the levers.
    min_levers : int
        Fewest levers the step needs.

    Returns
    -------
    Settings

    Raises
    ------
    ParameterError
        A named driver is not a column of the frame.
    NotEnoughData
        Fewer than ``min_levers`` levers vary, or drivers and controls
        together are fewer than two (importance needs two players).

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"resolved": [1.0, 0, 1, 0], "wait_s": [5.0, 9, 30, 2], "transferred": [0.0] * 4,
    ...                   "contact_reason": ["a", "b", "a", "b"]})
    >>> s = resolve_settings(f)
    >>> s.levers, s.controls, s.changes
    (['resolved', 'wait_s'], ['contact_reason'], {'resolved': 0.05, 'wait_s': -10.0})
    >>> s.dropped
    {'transferred': 'does not vary in the analysed responses'}
    """
    given = _names(drivers, "drivers")
    ctrl_given = _names(controls, "controls")
    dropped: dict[str, str] = {}
    if given:
        bad = [d for d in given if d not in frame.columns]
        if bad:
            raise ParameterError(
                f"05_focus parameter drivers names column(s) {bad} that the contact frame does not have"
                f"{suggest(bad[0], list(frame.columns))}; columns: {sorted(map(str, frame.columns))}")
        pool = [d for d in given if d not in ctrl_given]
    else:
        pool = [c for c in candidates if c in frame.columns and c not in ctrl_given]
    levers = []
    for d in pool:
        if not _varies(frame[d]):
            dropped[d] = "does not vary in the analysed responses"
        elif frame[d].isna().mean() > 0.5 and not given:
            dropped[d] = f"missing for {frame[d].isna().mean():.0%} of responses"
        else:
            levers.append(d)
    ctrls = []
    for c in ctrl_given:
        if c not in frame.columns:
            dropped[c] = "not in the data"
        elif not _varies(frame[c]):
            dropped[c] = "does not vary in the analysed responses"
        else:
            ctrls.append(c)
    if len(levers) < min_levers:
        raise NotEnoughData(f"only {len(levers)} lever varies among the {len(frame):,} responses "
                            f"(considered: {', '.join(pool) or 'none'})")
    if len(levers) + len(ctrls) < 2:
        raise NotEnoughData(f"only one driver ({levers[0]}) varies among the {len(frame):,} responses; "
                            "shares need at least two")
    tmap, cmap = _mapping(targets, "targets"), _mapping(changes, "changes")
    derived = {"drivers": not given, "targets": not tmap, "changes": not cmap}
    tmap = tmap or {d: BENCHMARK_TARGETS[d] for d in levers if d in BENCHMARK_TARGETS}
    cmap = cmap or {d: STANDARD_CHANGES[d] for d in levers if d in STANDARD_CHANGES}
    for name, m in (("target", tmap), ("change", cmap)):
        for k in list(m):
            if k not in levers:
                dropped.setdefault(k, f"has a {name} but is not a lever in this run")
                del m[k]
    return Settings(drivers=levers + ctrls, levers=levers, controls=ctrls, targets=tmap, changes=cmap,
                    dropped=dropped, derived=derived)


def driver_table(frame: pd.DataFrame, importance: pd.DataFrame, *, outcome: str, levers, controls,
                 cluster: str | None = "agent_id", conf: float = 0.95, mostly: float = 0.5) -> pd.DataFrame:
    """Each driver's share beside its role and its direct effect with the controls held fixed.

    Parameters
    ----------
    frame : DataFrame
        The analysed responses.
    importance : DataFrame
        ``BootstrapImportance.importance``.
    outcome : str
        CX column (headline points per response).
    levers, controls : list of str
        From :func:`resolve_settings`.
    cluster : str or None
        Cluster for the CR1 standard errors (``agent_id`` when present;
        otherwise each response is its own cluster).
    conf : float
        Confidence level.
    mostly : float
        A lever is flagged when more than this share of its raw effect is
        accounted for by the controls.

    Returns
    -------
    DataFrame
        The importance rows in rank order plus ``role`` (``"lever"`` /
        ``"control"``), ``raw_effect`` (CX points per 1 SD of the lever,
        nothing held fixed), ``direct_effect``, ``direct_ci_low``,
        ``direct_ci_high`` (per 1 SD, controls held fixed, CR1),
        ``per_sd`` (1 SD in the lever's units), ``from_controls`` (share of
        the raw effect the controls account for, 1 − direct / raw, clipped
        to 0–1) and ``mostly_from_controls`` (bool: more than ``mostly`` of a
        raw effect whose interval excludes 0 — there is something to explain).

    Notes
    -----
    The direct effect is :func:`cxlab.correlate.direct_effect` with the
    controls only (the documented confounders, not the other levers), so
    a lever whose share is borrowed from the confounder (handle time
    through contact reason: complex reasons take longer *and* satisfy
    less) shows a direct effect near 0 and ``mostly_from_controls``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(4)
    >>> n = 3000
    >>> f = pd.DataFrame({"agent_id": rng.integers(0, 30, n).astype(str),
    ...                   "contact_reason": rng.choice(["billing", "tech"], n)})
    >>> tech = (f["contact_reason"] == "tech").to_numpy()
    >>> f["handle_s"] = 300 + 200 * tech + rng.normal(0, 50, n)
    >>> f["resolved"] = (rng.random(n) < 0.7).astype(float)
    >>> f["cx_value"] = 100.0 * (rng.random(n) < 0.5 + 0.3 * f["resolved"] - 0.25 * tech)
    >>> imp = pd.DataFrame({"driver": ["resolved", "contact_reason", "handle_s"], "share": [0.6, 0.25, 0.15]})
    >>> t = driver_table(f, imp, outcome="cx_value", levers=["resolved", "handle_s"], controls=["contact_reason"])
    >>> t[["driver", "role", "mostly_from_controls"]]
               driver     role  mostly_from_controls
    0        resolved    lever                 False
    1  contact_reason  control                 False
    2        handle_s    lever                  True
    """
    from ..correlate import direct_effect

    levers, controls = list(levers), list(controls)
    cl = cluster if cluster and cluster in frame.columns and frame[cluster].nunique() > 1 else None
    rows = []
    for d in importance["driver"]:
        row = {"driver": d, "role": "control" if d in controls else "lever", "raw_effect": np.nan,
               "direct_effect": np.nan, "direct_ci_low": np.nan, "direct_ci_high": np.nan, "per_sd": np.nan,
               "from_controls": np.nan, "mostly_from_controls": False}
        numeric = d in frame.columns and (pd.api.types.is_numeric_dtype(frame[d]) or
                                          pd.api.types.is_bool_dtype(frame[d]))
        if d in levers and numeric:
            try:
                raw = direct_effect(frame, cx=outcome, x=d, controls=(), cluster=cl, conf=conf).iloc[0]
                dirr = direct_effect(frame, cx=outcome, x=d, controls=controls, cluster=cl, conf=conf).iloc[0] \
                    if controls else raw
            except NotEnoughData:
                rows.append(row)
                continue
            share = np.nan
            if controls and raw["estimate"] != 0:
                share = float(np.clip(1.0 - dirr["estimate"] / raw["estimate"], 0.0, 1.0))
            row.update(raw_effect=float(raw["estimate"]), direct_effect=float(dirr["estimate"]),
                       direct_ci_low=float(dirr["ci_low"]), direct_ci_high=float(dirr["ci_high"]),
                       per_sd=float(dirr["per"]), from_controls=share,
                       mostly_from_controls=bool(np.isfinite(share) and share > mostly and raw["excludes_zero"]))
        rows.append(row)
    extra = pd.DataFrame(rows)
    return importance.reset_index(drop=True).merge(extra, on="driver", how="left", sort=False)


def model_reading(r2: float, r2_ci: tuple[float, float], coef: pd.DataFrame, *, levers, cx_name: str = "CX",
                  between: str = "responses", low_r2: float = LOW_R2) -> dict:
    """The R² in words and whether any lever was found.

    Parameters
    ----------
    r2 : float
        Full-model R².
    r2_ci : (float, float)
        Its interval.
    coef : DataFrame
        ``BootstrapImportance.coef`` (``driver``, ``ci_low``, ``ci_high``).
    levers : list of str
        The levers (controls are never counted).
    cx_name : str
        Name of the outcome in the sentence ("CSAT top-2-box").
    between : str
        What the rows are ("responses"; "days" at the period grain).
    low_r2 : float
        Below it the model "explains little".

    Returns
    -------
    dict
        ``r2``, ``r2_ci_low``, ``r2_ci_high``, ``sentence``, ``no_lever``
        (bool), ``no_lever_reason`` (None when a lever was found),
        ``levers_clear`` (levers whose slope interval excludes 0).

    Examples
    --------
    >>> import pandas as pd
    >>> c = pd.DataFrame({"driver": ["resolved", "wait_s"], "ci_low": [20.0, -0.1], "ci_high": [30.0, 0.02]})
    >>> m = model_reading(0.07, (0.06, 0.08), c, levers=["resolved", "wait_s"], cx_name="CSAT top-2-box")
    >>> m["sentence"]
    'The drivers together account for 7.0% of the differences in CSAT top-2-box between responses (95% interval 6.0–8.0%): most of what moves CSAT top-2-box is not in these data.'
    >>> m["no_lever"], m["levers_clear"]
    (False, ['resolved'])
    >>> model_reading(0.0006, (0.0, 0.002), c, levers=["wait_s"])["no_lever_reason"]
    'the drivers explain only 0.06% of the differences in CX between responses (below 2%)'
    """
    lo, hi = (float(v) for v in r2_ci)
    c = coef.set_index("driver") if len(coef) else pd.DataFrame(columns=["ci_low", "ci_high"])
    clear = [d for d in levers if d in c.index and (c.loc[d, "ci_low"] > 0 or c.loc[d, "ci_high"] < 0)]
    dec = 0 if r2 >= 0.1 else 1 if r2 >= 0.001 else 2
    pct = lambda v: f"{100 * v:.{dec}f}%"  # noqa: E731 (one precision for the estimate and its interval)
    tail = (f"most of what moves {cx_name} is not in these data" if r2 < 0.3 else
            "the data capture much of what drives it")
    sentence = (f"The drivers together account for {pct(r2)} of the differences in {cx_name} between {between} "
                f"(95% interval {pct(lo).rstrip('%')}–{pct(hi)}): {tail}.")
    reason = None
    if r2 < low_r2:
        reason = (f"the drivers explain only {pct(r2)} of the differences in {cx_name} between {between} "
                  f"(below {low_r2:.0%})")
    elif not clear:
        reason = "no lever's effect interval excludes zero once the other drivers are held fixed"
    return {"r2": float(r2), "r2_ci_low": lo, "r2_ci_high": hi, "sentence": sentence, "no_lever": reason is not None,
            "no_lever_reason": reason, "levers_clear": clear}


def what_if_values(value_chain: pd.DataFrame | None, *, driver: str, change: float, effect: float, ci_low: float,
                   ci_high: float, unit: str, cx_metric: str, currency: str | None = None,
                   sentence: str | None = None) -> dict:
    """The lead lever's what-if as structured values (for the brief), beside its sentence.

    Parameters
    ----------
    value_chain : DataFrame or None
        ``ValueOfChange.chain`` (``link``, ``estimate``, ``ci_low``,
        ``ci_high``), or None without customer data.
    driver, change : str, float
        The lever and its stated change (column units).
    effect, ci_low, ci_high : float
        Predicted CX change and interval (from the what-if model).
    unit, cx_metric : str
        Outcome unit and metric.
    currency : str, optional
        Currency code or symbol of the revenue.
    sentence : str, optional
        The plain sentence the step prints.

    Returns
    -------
    dict
        ``driver``, ``change``, ``cx_metric``, ``unit``, ``effect``,
        ``effect_ci_low``, ``effect_ci_high``, ``customers_per_year``,
        ``customers_ci_low``, ``customers_ci_high``, ``revenue_per_year``,
        ``revenue_ci_low``, ``revenue_ci_high``, ``currency``, ``sentence``
        (None where not measured). With a chain, the CX change is the
        chain's (the same joint bootstrap as the customers and money).

    Examples
    --------
    >>> ch = pd.DataFrame({"link": ["cx_change", "customers_retained_per_year", "revenue_per_year"],
    ...                    "estimate": [1.9, 410.0, 4.4e6], "ci_low": [1.6, 300.0, 3.8e6],
    ...                    "ci_high": [2.2, 520.0, 5.0e6]})
    >>> v = what_if_values(ch, driver="resolved", change=0.05, effect=1.8, ci_low=1.5, ci_high=2.1,
    ...                    unit="points of % top-2-box", cx_metric="csat", currency="USD")
    >>> v["effect"], v["customers_per_year"], v["revenue_per_year"], v["currency"]
    (1.9, 410.0, 4400000.0, 'USD')
    """
    out = {"driver": driver, "change": float(change), "cx_metric": cx_metric, "unit": unit,
           "effect": float(effect), "effect_ci_low": float(ci_low), "effect_ci_high": float(ci_high),
           "customers_per_year": None, "customers_ci_low": None, "customers_ci_high": None,
           "revenue_per_year": None, "revenue_ci_low": None, "revenue_ci_high": None,
           "currency": currency, "sentence": sentence}
    if value_chain is not None and len(value_chain):
        c = value_chain.set_index("link")

        def get(link):
            if link not in c.index or not np.isfinite(float(c.loc[link, "estimate"])):
                return None, None, None
            return tuple(float(c.loc[link, k]) for k in ("estimate", "ci_low", "ci_high"))

        e = get("cx_change")
        if e[0] is not None:
            out.update(effect=e[0], effect_ci_low=e[1], effect_ci_high=e[2])
        k = get("customers_retained_per_year")
        out.update(customers_per_year=k[0], customers_ci_low=k[1], customers_ci_high=k[2])
        m = get("revenue_per_year")
        out.update(revenue_per_year=m[0], revenue_ci_low=m[1], revenue_ci_high=m[2])
        if m[0] is None:
            out["currency"] = None
    return out


def period_drivers(periods: pd.DataFrame, *, candidates: Sequence[str] = PERIOD_LEVERS,
                   min_periods_per_driver: int = 5) -> list[str]:
    """The KPIs to weigh against CX at the period grain (no contact-level data, e.g. only aggregates).

    Parameters
    ----------
    periods : DataFrame
        Period frame (``cx_value`` and the KPI columns).
    candidates : sequence of str
        KPI columns considered, in order.
    min_periods_per_driver : int
        Periods with CX needed per driver (the model has one slope per driver).

    Returns
    -------
    list of str
        The candidates present that vary over the periods with CX (at most
        ``n / min_periods_per_driver`` of them, in order).

    Raises
    ------
    NotEnoughData
        No period has CX, or fewer than two KPIs vary.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> p = pd.DataFrame({"cx_value": np.linspace(70, 80, 30), "asa_s": np.arange(30.0),
    ...                   "aht_s": np.r_[np.ones(15), np.zeros(15)], "fcr_pct": 70.0})
    >>> period_drivers(p)
    ['asa_s', 'aht_s']
    """
    if "cx_value" not in periods or not periods["cx_value"].notna().any():
        raise NotEnoughData("no period has a CX value")
    with_cx = periods[periods["cx_value"].notna()]
    out = [c for c in candidates if c in with_cx.columns and with_cx[c].notna().mean() > 0.5 and _varies(with_cx[c])]
    out = out[: max(len(with_cx) // min_periods_per_driver, 0)]
    if len(out) < 2:
        raise NotEnoughData(f"only {len(out)} KPI varies over the {len(with_cx):,} periods with CX "
                            "(shares need at least two)")
    return out
