"""Step 5 — staffing what-if: CX points per added agent, through Erlang C.

:func:`agents_for_service_level` links the driver model to workforce
planning: Erlang C (:mod:`cxlab.kpis.erlang`) gives the service level an
interval reaches with N agents, and the full-model slope of the CX outcome on
service level (with its bootstrap replicates, as :func:`cxlab.focus.what_if`)
turns each added agent into CX points with a CI (formula and references in
the function's docstring).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._utils import as_list
from ..errors import NotEnoughData
from ._common import coef_boot, quantile_ci

__all__ = ["agents_for_service_level"]


def agents_for_service_level(frame: pd.DataFrame, *, outcome: str, drivers, load_erlangs: float,
                             aht_s: float, service_level: str = "service_level_pct", t_s: float = 20.0,
                             agents: int | None = None, added=(1, 2, 3), groups=None, weights=None,
                             n_boot: int = 1000, seed: int = 0, conf: float = 0.95) -> pd.DataFrame:
    """CX points per added agent: Erlang C service level × the CX slope of service level.

    Parameters
    ----------
    frame, outcome, drivers, groups, weights, n_boot, seed, conf
        As in :func:`cxlab.focus.what_if`; ``drivers`` must include ``service_level``.
    load_erlangs : float
        Offered load A = arrival rate × AHT of the interval considered.
    aht_s : float
        Average handle time (seconds).
    service_level : str
        The service-level driver column, in percent (0–100).
    t_s : float
        Service-level threshold T (seconds).
    agents : int, optional
        Current agents on the interval. Default: the fewest agents whose
        Erlang C service level reaches the frame's mean service level.
    added : sequence of int
        Agents added (negative values remove agents).

    Returns
    -------
    DataFrame
        One row per entry of ``added``:

        * ``added_agents``, ``agents`` (after the change);
        * ``service_level_pct`` — Erlang C service level with that staffing;
        * ``sl_change_pts`` — change from current staffing (points);
        * ``cx_change`` with ``ci_low``, ``ci_high`` — predicted outcome change
          (slope of ``service_level`` × ``sl_change_pts``) and its CI;
        * ``cx_per_agent`` — ``cx_change / added_agents``.

    Notes
    -----
    SL(N) = 1 − C(N, A) · exp(−(N − A) T / AHT) with C the Erlang C
    probability of waiting (:mod:`cxlab.kpis.erlang`); ΔCX = β_SL · 100 ·
    (SL(N + k) − SL(N)), β_SL from :func:`cxlab.focus.what_if`'s model and resamples.
    Erlang C ignores abandonment, so it overstates the service level when
    abandonment is material.

    References
    ----------
    Erlang, A. K. (1917). Solution of some problems in the theory of
    probabilities of significance in automatic telephone exchanges.
    *Elektroteknikeren* 13.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"service_level_pct": rng.uniform(60, 95, 400)})
    >>> df["csat"] = 50 + 0.2 * df["service_level_pct"] + rng.normal(0, 2, 400)
    >>> t = agents_for_service_level(df, outcome="csat", drivers=["service_level_pct"],
    ...                              load_erlangs=10, aht_s=180, agents=13, added=(1,), n_boot=200)
    >>> t[["agents", "service_level_pct", "sl_change_pts"]].round(1)
       agents  service_level_pct  sl_change_pts
    0      14               88.8            9.3
    """
    from ..kpis import erlang  # lazy: erlang is optional for the rest of this module

    if service_level not in as_list(drivers, "drivers"):
        raise ValueError(f"drivers must include the service-level column {service_level!r}")
    for name, value in (("average handle time", aht_s), ("offered load", load_erlangs)):
        if not (isinstance(value, (int, float, np.floating)) and np.isfinite(value) and value > 0):
            raise NotEnoughData(f"the {name} of the busiest queue is not measured (Erlang C needs it; "
                                "map talk, hold and after-contact work times)")
    design, b_hat, b_boot = coef_boot(frame, outcome=outcome, drivers=drivers, groups=groups,
                                       weights=weights, n_boot=n_boot, seed=seed)
    j = list(design.columns).index(service_level)

    def sl_pct(n):
        return 100.0 * float(erlang.service_level(int(n), float(load_erlangs), aht_s=aht_s, t_s=t_s))

    if agents is None:
        col = design.X[:, j]
        current = float(col.mean()) if design.w is None else float(design.w @ col / design.w.sum())
        agents = int(erlang.agents_needed(float(load_erlangs), aht_s=aht_s, t_s=t_s,
                                          target_sl=min(current / 100.0, 0.999)))
    base = sl_pct(agents)
    rows = []
    for k in as_list(added, "added"):
        k = int(k)
        n = agents + k
        if n <= load_erlangs:
            raise ValueError(f"{n} agents cannot carry a load of {load_erlangs} Erlangs (need N > A)")
        d_sl = sl_pct(n) - base
        eff_b = b_boot[:, j] * d_sl
        lo, hi = quantile_ci(eff_b, conf)
        eff = b_hat[j] * d_sl
        rows.append({"added_agents": k, "agents": n, "service_level_pct": sl_pct(n), "sl_change_pts": d_sl,
                     "cx_change": eff, "ci_low": lo, "ci_high": hi,
                     "cx_per_agent": eff / k if k else np.nan})
    return pd.DataFrame(rows)

