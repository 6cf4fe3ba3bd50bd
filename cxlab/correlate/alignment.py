"""Step 4 — which definition of each KPI tracks customer experience best.

A KPI with definition options (service level threshold T and abandon
treatment, FCR repeat window W and channel scope, AHT with or without hold)
can be computed many ways; :func:`kpi_alignment` computes each KPI under each
candidate definition **through the KPI executor** (:func:`cxlab.kpis.kpi_table`
at the period grain, :func:`cxlab.kpis.contact_features` at the contact grain,
never a copy of the definitions' SQL) and measures how well it tracks CX:

* **period grain** — Spearman correlation of the daily KPI with the daily CX
  headline (responses placed on their contact's local day);
* **contact grain** — Pearson (point-biserial) correlation of the
  contact's own per-contact measure with its CX value, where the definition
  applies per contact: answered within T, no repeat within W days, handle
  seconds with or without hold. (Abandon treatment has no contact-grain
  version: surveyed contacts were answered.)

The score is :math:`|r|` (how strongly the KPI tracks CX, whatever the
sign). Each alternative is compared with the configured definition by a
seeded bootstrap of the difference of scores — moving blocks of days at the
period grain, whole days (contacts clustered by day) at the contact grain —
and is recommended only when that interval excludes zero in its favour.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from .._utils import local_time_keys
from ..config import KpiOptions
from ..errors import NotEnoughData
from ..kpis.definitions import contact_flags
from ..sources.frames import has_rows

__all__ = ["alignment_candidates", "kpi_alignment", "alignment_summary", "ALIGNMENT_KPIS"]

#: KPI -> (period-grain column of kpi_table, contact-grain measure: a contact_features column)
ALIGNMENT_KPIS: dict[str, tuple[str, str]] = {
    "service_level": ("service_level_pct", "answered_within_t"),
    "fcr": ("fcr_pct", "_no_repeat"),
    "aht": ("aht_s", "handle_s"),
}


def _label(kpi: str, o: KpiOptions) -> str:
    if kpi == "service_level":
        return f"T = {o.sl_threshold_s:g} s, {o.abandon_treatment}"
    if kpi == "fcr":
        return f"W = {o.fcr_window_days} d, {o.fcr_channel} channel"
    return "with hold" if o.aht_includes_hold else "without hold"


def alignment_candidates(options=None, *, thresholds: Sequence[float] = (10, 15, 20, 30, 45, 60),
                         windows: Sequence[int] = (1, 3, 7, 14)) -> pd.DataFrame:
    """The candidate definitions per KPI, each as a full set of KPI options.

    Parameters
    ----------
    options : KpiOptions or dict, optional
        The configured definitions (always among the candidates).
    thresholds : sequence of float
        Service-level thresholds T (seconds), crossed with the three abandon treatments.
    windows : sequence of int
        FCR repeat windows W (days), crossed with ``any`` / ``same`` channel.

    Returns
    -------
    DataFrame
        ``kpi``, ``definition`` (label), ``configured`` (bool), ``options``
        (:class:`~cxlab.config.KpiOptions`).

    Examples
    --------
    >>> c = alignment_candidates(thresholds=(20, 30), windows=(7,))
    >>> c.groupby("kpi").size().to_dict()
    {'aht': 2, 'fcr': 2, 'service_level': 6}
    >>> c.loc[c["configured"], "definition"].tolist()
    ['T = 20 s, exclude_short', 'W = 7 d, any channel', 'with hold']
    """
    base = options if isinstance(options, KpiOptions) else KpiOptions(**(options or {}))
    d = base.model_dump()
    sets = {
        "service_level": [{"sl_threshold_s": float(t), "abandon_treatment": a}
                          for t in sorted({*map(float, thresholds), float(base.sl_threshold_s)})
                          for a in ("exclude_short", "ignore_abandons", "abandons_within_t_met")],
        "fcr": [{"fcr_window_days": int(w), "fcr_channel": ch}
                for w in sorted({*map(int, windows), base.fcr_window_days}) for ch in ("any", "same")],
        "aht": [{"aht_includes_hold": True}, {"aht_includes_hold": False}],
    }
    rows = []
    for kpi, overrides in sets.items():
        for ov in overrides:
            o = KpiOptions(**{**d, **ov})
            rows.append({"kpi": kpi, "definition": _label(kpi, o), "configured": o == base, "options": o})
    return pd.DataFrame(rows)


def _contact_key(kpi: str, o: KpiOptions, base: KpiOptions):
    """Options that change the contact-grain measure (None: the same measure as another candidate's).

    Abandon treatment does not change a surveyed (answered) contact's flag: only the configured
    treatment gets a contact-grain row per threshold.
    """
    if kpi == "service_level":
        return ("sl", o.sl_threshold_s) if o.abandon_treatment == base.abandon_treatment else None
    if kpi == "fcr":
        return ("fcr", o.fcr_window_days, o.fcr_channel)
    return ("aht", o.aht_includes_hold)


def _mbb(n: int, block: int, rng) -> np.ndarray:
    starts = rng.integers(0, n - block + 1, size=int(np.ceil(n / block)))
    return (starts[:, None] + np.arange(block)[None, :]).ravel()[:n]


def _abs_spearman(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """|Spearman r| of each column of X with y (rows with NaN in a column left out for that column)."""
    # The same arithmetic as scipy.stats.spearmanr(x, y) (ranks, then np.corrcoef of the (n, 2) stack),
    # without its per-call overhead: the ranks of the fully observed columns and of y are computed once
    # (a bootstrap calls this ~200 times over ~30 columns). Equal to spearmanr bit for bit
    # (tests/test_alignment.py).
    out = np.full(X.shape[1], np.nan)
    fy = np.isfinite(y)
    full = np.isfinite(X).all(axis=0) & fy.all()
    rx_full = stats.rankdata(X[:, full], axis=0) if full.any() else None
    ry_full = stats.rankdata(y) if fy.all() else None
    col_of = np.cumsum(full) - 1
    for j in range(X.shape[1]):
        if full[j]:
            m, rx, ry = None, rx_full[:, col_of[j]], ry_full
            n_ok, spread = len(y), np.ptp(X[:, j])
        else:
            m = np.isfinite(X[:, j]) & fy
            n_ok = int(m.sum())
            spread = np.ptp(X[m, j]) if n_ok else 0.0
        if n_ok > 3 and spread > 0:
            if m is not None:
                rx, ry = stats.rankdata(X[m, j]), stats.rankdata(y[m])
            out[j] = abs(np.corrcoef(np.column_stack((rx, ry)), rowvar=False)[1, 0])
    return out


def _eval(con, sql: str) -> np.ndarray:
    """A per-contact SQL expression of the definitions over the registered surveyed contacts, as float."""
    out = con.execute(f"SELECT CAST({sql} AS DOUBLE) AS v FROM f").fetchnumpy()["v"]
    return np.asarray(out.filled(np.nan) if np.ma.isMaskedArray(out) else out, dtype=float)


def _cluster_boot_r(X: np.ndarray, y: np.ndarray, g: np.ndarray, n_boot: int, rng):
    """|Pearson r| of each column of X with y, and its cluster-bootstrap replicates (NaNs out per column).

    Per-cluster sums of 1, x, x², y, y², xy (over rows where the column is finite) make each replicate
    a weighted sum over clusters.
    """
    m = np.isfinite(X) & np.isfinite(y)[:, None]
    x0, y0 = np.where(m, X, 0.0), np.where(m, y[:, None], 0.0)
    G = int(g.max()) + 1
    parts = [m.astype(float), x0, x0**2, y0, y0**2, x0 * y0]
    sums = np.stack([np.stack([np.bincount(g, weights=p[:, j], minlength=G) for j in range(X.shape[1])], axis=1)
                     for p in parts])  # 6 x G x J

    def r_of(w):
        n, sx, sxx, sy, syy, sxy = np.einsum("g,kgj->kj", w, sums)
        with np.errstate(invalid="ignore", divide="ignore"):
            cov = sxy - sx * sy / n
            den = np.sqrt((sxx - sx**2 / n) * (syy - sy**2 / n))
            return np.abs(np.where(den > 0, cov / den, np.nan))

    score = r_of(np.ones(G))
    boot = np.array([r_of(rng.multinomial(G, np.full(G, 1.0 / G)).astype(float)) for _ in range(int(n_boot))])
    return score, boot


def kpi_alignment(
    tables: dict,
    *,
    cx_metric: str = "csat",
    options=None,
    timezone: str = "UTC",
    thresholds: Sequence[float] = (10, 15, 20, 30, 45, 60),
    windows: Sequence[int] = (1, 3, 7, 14),
    grains: Sequence[str] = ("period", "contact"),
    n_boot: int = 200,
    conf: float = 0.95,
    block: int = 7,
    seed: int = 0,
) -> pd.DataFrame:
    """Which definition of each KPI tracks CX best, at the period and the contact grain.

    Parameters
    ----------
    tables : dict of DataFrame
        Canonical tables with ``interactions`` and ``surveys``.
    cx_metric : {"csat", "nps", "ces"}
        CX headline: CSAT top-2-box, NPS points, CES mean (per response as in
        :func:`cxlab.sources.contact_frame`'s ``cx_value``).
    options : KpiOptions or dict, optional
        The configured definitions.
    timezone : str
        Local days.
    thresholds, windows
        Candidate SL thresholds and FCR windows (:func:`alignment_candidates`).
    grains : sequence of {"period", "contact"}
    n_boot : int
        Bootstrap replicates of the score differences.
    conf : float
        Interval level.
    block : int
        Moving-block length in days at the period grain.
    seed : int

    Returns
    -------
    DataFrame
        ``kpi, definition, grain, score, diff_vs_configured, ci_low, ci_high,
        recommended, configured, n, best, ties_best``: one row per KPI x definition x grain
        (a definition with no contact-grain version has no contact row).
        ``score`` = |r| (Spearman at the period grain, Pearson at the contact
        grain). ``recommended`` marks, per KPI and grain, the best-scoring
        alternative whose interval lies above zero (at most one).
        ``best`` marks the highest score per KPI and grain; ``ties_best``
        the definitions whose paired-bootstrap interval of the score minus the
        best score (simultaneous, as above) reaches zero: statistically as
        good as the best (the lowest SL threshold among them is the least
        demanding target that tracks CX as well as any).
        ``attrs["summary"]`` holds :func:`alignment_summary`.

    Raises
    ------
    cxlab.errors.NotEnoughData
        No interactions or survey responses, or fewer than 10 days with CX.

    Notes
    -----
    For definition :math:`d` and the configured :math:`c`,
    :math:`\\Delta_d = |r_d| - |r_c|`; the interval is the percentile
    interval of :math:`\\Delta_d^*` over bootstrap resamples shared by all
    definitions (paired), simultaneous over the :math:`m` alternatives of
    a KPI (Bonferroni: level :math:`1 - (1 - conf)/m`), so trying many
    definitions does not manufacture a recommendation. Days are resampled in moving blocks (period
    grain, Künsch 1989) or as clusters of contacts (contact grain).

    Examples
    --------
    >>> from cxlab.sample import load_sample
    >>> t = load_sample(days=30, contacts_per_day=100)
    >>> a = kpi_alignment(t, timezone="America/New_York", thresholds=(20, 60), windows=(7,), n_boot=20)
    >>> sorted(a["kpi"].unique()), sorted(a["grain"].unique())
    (['aht', 'fcr', 'service_level'], ['contact', 'period'])
    """
    from .. import kpis
    from .. import metric as cxm

    if not (has_rows(tables, "interactions") and has_rows(tables, "surveys")):
        raise NotEnoughData("KPI alignment needs interactions and survey responses")
    if not 0 < conf < 1:
        raise ValueError(f"conf must be between 0 and 1; got {conf!r}")
    base = options if isinstance(options, KpiOptions) else KpiOptions(**(options or {}))
    cand = alignment_candidates(base, thresholds=thresholds, windows=windows)
    inter, surveys = tables["interactions"], tables["surveys"]
    scored = cxm.score_responses(surveys, metric=cx_metric, csat="top2")
    scale = 100.0 if cx_metric in ("csat", "nps") else 1.0
    resp = pd.DataFrame({"interaction_id": surveys["interaction_id"].to_numpy(),
                         "cx": scored["value"].to_numpy() * scale}).dropna()
    resp = resp.drop_duplicates("interaction_id")
    if resp.empty:
        raise NotEnoughData(f"no {cx_metric} response names its contact ({len(surveys):,} responses)")
    rng = np.random.default_rng(seed)
    rows = []

    if "period" in grains:
        defs = [{**o.model_dump(), "label": f"{k}|{lab}"} for k, lab, o in
                cand[["kpi", "definition", "options"]].itertuples(index=False)]
        kt = kpis.kpi_table(inter, by=("day",), options=base, timezone=timezone, definitions=defs)
        loc = local_time_keys(inter["arrived_at"], ("day",), timezone)["day"]
        day_of = pd.Series(pd.to_datetime(loc).to_numpy(), index=inter["interaction_id"].to_numpy())
        r = resp.assign(day=day_of.reindex(resp["interaction_id"]).to_numpy()).dropna(subset=["day"])
        daily = r.groupby("day")["cx"].mean()
        kt["day"] = pd.to_datetime(kt["day"])
        cols = []
        for k, lab in cand[["kpi", "definition"]].itertuples(index=False):
            s = kt.loc[kt["definition"] == f"{k}|{lab}"].set_index("day")[ALIGNMENT_KPIS[k][0]]
            cols.append(s.reindex(daily.index).to_numpy(dtype=float))
        X, y = np.column_stack(cols), daily.to_numpy(dtype=float)
        if len(y) < 10:
            raise NotEnoughData(f"only {len(y)} days have CX responses (KPI alignment needs at least 10)")
        score = _abs_spearman(X, y)
        blk = max(1, min(int(block), len(y)))
        boot = np.array([_abs_spearman(X[i], y[i]) for i in (_mbb(len(y), blk, rng) for _ in range(n_boot))])
        rows += _rows(cand, score, boot, "period", len(y), conf)

    if "contact" in grains:
        # one feature scan for the configured options; T and hold only change a per-contact SQL
        # condition of the definitions (kpis.definitions.contact_flags), evaluated on the surveyed
        # contacts; the FCR windows / channel scopes are extra repeat flags of that same scan
        ids = resp["interaction_id"]  # only the surveyed contacts leave the engine (the window still sees all)
        fcr_opts = {}  # contact key -> options, for every FCR window / channel scope
        for k, o in cand[["kpi", "options"]].itertuples(index=False):
            if k == "fcr" and (key := _contact_key(k, o, base)) is not None:
                fcr_opts.setdefault(key, o)
        fcr_keys = list(fcr_opts)
        # all of them flagged in one scan (one window sort per channel scope, not one scan per definition)
        base_f = kpis.contact_features(inter, options=base, timezone=timezone, ids=ids,
                                       repeat_options=list(fcr_opts.values())).set_index("interaction_id")
        surveyed = base_f.reindex(resp["interaction_id"])
        con = duckdb.connect()
        try:
            con.register("f", surveyed[["wait_s", "talk_s", "hold_s", "acw_s", "abandoned", "reached_queue"]])
            keys, cols, idx = {}, [], []
            for i, (k, o) in enumerate(cand[["kpi", "options"]].itertuples(index=False)):
                key = _contact_key(k, o, base)
                if key is None:
                    continue
                if key not in keys:
                    flags = contact_flags(o)
                    if k == "fcr":
                        rep = surveyed[f"repeat_within_w_{fcr_keys.index(key)}"]
                        v = (~rep.astype("boolean")).astype("Float64").to_numpy(dtype=float, na_value=np.nan)
                    elif k == "service_level":
                        sql = f"COALESCE(reached_queue, TRUE) AND ({flags['answered_within_t']})"
                        v = _eval(con, sql)
                    else:
                        v = _eval(con, f"CASE WHEN {flags['handle_known']} THEN {flags['handle']} END")
                    keys[key] = len(cols)
                    cols.append(v)
                idx.append((i, keys[key]))
        finally:
            con.close()
        X = np.column_stack(cols)
        y = resp["cx"].to_numpy(dtype=float)
        g = pd.factorize(surveyed["date"].to_numpy())[0]
        score_u, boot_u = _cluster_boot_r(X, y, g, n_boot, rng)
        sub = cand.iloc[[i for i, _ in idx]].reset_index(drop=True)
        cj = [j for _, j in idx]
        rows += _rows(sub, score_u[cj], boot_u[:, cj], "contact", len(y), conf)

    out = pd.DataFrame(rows)
    out.attrs["summary"] = alignment_summary(out)
    return out


def _rows(cand: pd.DataFrame, score, boot, grain, n, conf) -> list[dict]:
    rows = []
    for kpi, idx in cand.groupby("kpi", sort=False).indices.items():
        m = max(1, len(idx) - 1)  # alternatives to the configured definition: Bonferroni-simultaneous intervals
        q = [(1 - conf) / (2 * m), 1 - (1 - conf) / (2 * m)]
        conf_i = [i for i in idx if cand["configured"].iloc[i]]
        ci0 = conf_i[0] if conf_i else None
        best, best_score = None, -np.inf
        krows = []
        for i in idx:
            if ci0 is None:
                d, lo, hi = np.nan, np.nan, np.nan
            else:
                diffs = boot[:, i] - boot[:, ci0]
                diffs = diffs[np.isfinite(diffs)]
                d = float(score[i] - score[ci0])
                lo, hi = (np.quantile(diffs, q) if len(diffs) else (np.nan, np.nan))
            row = {"kpi": kpi, "definition": cand["definition"].iloc[i], "grain": grain,
                   "score": float(score[i]), "diff_vs_configured": d, "ci_low": float(lo), "ci_high": float(hi),
                   "recommended": False, "configured": bool(cand["configured"].iloc[i]), "n": int(n)}
            if i != ci0 and lo > 0 and score[i] > best_score:
                best, best_score = len(krows), score[i]
            krows.append(row)
        if best is not None:
            krows[best]["recommended"] = True
        # ties with the best-scoring definition: the paired interval of (score - best score),
        # simultaneous over the KPI's definitions, reaches zero
        top = idx[int(np.nanargmax(np.where(np.isfinite(score[idx]), score[idx], -np.inf)))]
        for row, i in zip(krows, idx):
            gap = boot[:, i] - boot[:, top]
            gap = gap[np.isfinite(gap)]
            row["best"] = bool(i == top)
            row["ties_best"] = bool(i == top or (len(gap) and np.quantile(gap, q[1]) >= 0))
        rows += krows
    return rows


def alignment_summary(table: pd.DataFrame) -> str:
    """One sentence from a :func:`kpi_alignment` table.

    Examples
    --------
    >>> t = pd.DataFrame({"kpi": ["fcr", "fcr"], "definition": ["W = 7 d, any channel", "W = 3 d, any channel"],
    ...                   "grain": "contact", "score": [0.10, 0.15], "diff_vs_configured": [0.0, 0.05],
    ...                   "ci_low": [0.0, 0.01], "ci_high": [0.0, 0.09], "recommended": [False, True],
    ...                   "configured": [True, False]})
    >>> alignment_summary(t)
    'fcr tracks CX better as W = 3 d, any channel (contact grain: |r| 0.15 vs 0.10 configured, difference +0.05 [+0.01, +0.09]).'
    """
    if table is None or table.empty:
        return "KPI alignment could not be measured."
    parts = []
    for (kpi, grain), g in table.groupby(["kpi", "grain"], sort=False):
        rec = g.loc[g["recommended"]]
        if rec.empty:
            continue
        r = rec.iloc[0]
        c = g.loc[g["configured"], "score"]
        parts.append(f"{kpi} tracks CX better as {r['definition']} ({grain} grain: |r| {r['score']:.2f} vs "
                     f"{float(c.iloc[0]) if len(c) else float('nan'):.2f} configured, difference "
                     f"{r['diff_vs_configured']:+.2f} [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}])")
    if not parts:
        return ("No alternative definition tracks CX clearly better than the configured ones "
                "(every bootstrap interval of the difference includes zero).")
    return "; ".join(parts) + "."
