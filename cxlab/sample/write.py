"""The sample contact center's tables: a seeded year of contacts with a known structural CX model.

:func:`generate` simulates one year (by default 2025) of a five-queue, two-channel
contact center and returns every canonical table of :mod:`cxlab.schema`. The
customer-experience scores come from a documented structural model whose
coefficients, confounder, pilot effect and loyalty model are exported by
:func:`ground_truth`, so every analysis step can be tested against the truth.
``docs/sample.md`` explains the model; its coefficient table is checked
against :data:`LATENT_MODEL` by the tests.

The simulation is a pipeline of small vectorized steps (no per-contact Python
loops)::

    calendar -> arrival rates -> staffing (Erlang C plan + shortfalls)
    -> fresh arrivals -> [queueing -> handling -> resolution -> repeats]* (generations)
    -> is_repeat -> latent satisfaction -> churn (drops contacts after churn)
    -> surveys (non-response bias) -> revenue, QA scores, web series -> tables

Pandas conventions of the returned frames: timestamps ``datetime64[ns, UTC]``;
ids and categories ``str``; durations float seconds (whole seconds); flags
``bool``; DATE columns (``agents.hire_date``, ``customer_revenue.month``,
``series.date``) ``datetime64[ns]`` at midnight (stored as parquet ``date32``).

This module turns the simulation into Arrow/pandas tables and holds
:func:`generate`, :func:`write_sample`, :func:`load_sample`, :func:`ground_truth`
and the on-disk cache.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..config import cache_dir
from ..errors import check_option
from ..schema import TABLES
from .model import (
    CHANNELS,
    DAY_S,
    GENERATOR_VERSION,
    N_SLOTS,
    OPEN_S,
    QA,
    QUEUES,
    REASON_NAMES,
    RESOLUTION,
    SEGMENTS,
    SITES,
    SLOT_S,
    WEB,
    Agents,
    Calendar,
    Sim,
    check_size,
    stream_rng,
)
from .simulate import COMMENTS, revenue_months, run_simulation

__all__ = ['generate', 'write_sample', 'load_sample', 'ground_truth', 'main_sample']


# =========================================================================== 12. arrow tables
def fixed_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded ``numbers`` as an arrow string array (vectorized)."""
    numbers = np.asarray(numbers, dtype=np.int64)
    n = numbers.size
    p = prefix.encode()
    w = len(p) + width
    buf = np.empty((n, w), dtype=np.uint8)
    buf[:, : len(p)] = np.frombuffer(p, dtype=np.uint8)
    x = numbers.copy()
    for j in range(w - 1, len(p) - 1, -1):
        buf[:, j] = 48 + x % 10
        x //= 10
    offsets = (np.arange(n + 1, dtype=np.int32) * w)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(buf.tobytes()))


_TS = pa.timestamp("ns", tz="UTC")


def _ts(ns) -> pa.Array:
    return pa.array(np.asarray(ns, dtype=np.int64), type=pa.int64()).cast(_TS)


def _strings_by_code(names, codes, mask=None) -> pa.Array:
    """Look up ``names[codes]`` as arrow strings (null where ``mask`` is True)."""
    idx = pa.array(np.asarray(codes, dtype=np.int64), mask=mask)
    return pa.array(list(names), pa.string()).take(idx)


def _local_to_utc_ns(cal: Calendar, t_local_s: np.ndarray) -> np.ndarray:
    """Seconds since local midnight of day 0 -> UTC epoch ns, whole seconds (valid 07:00-22:00 local)."""
    day = np.clip((t_local_s // DAY_S).astype(np.int64), 0, cal.days - 1)
    return cal.day_base_utc_ns[day] + np.round(t_local_s - day * DAY_S).astype(np.int64) * 1_000_000_000


def _any_local_to_utc_ns(cal: Calendar, t_local_s: np.ndarray) -> np.ndarray:
    """Like :func:`_local_to_utc_ns` for any time (outside the period: nearest day's offset)."""
    day = (t_local_s // DAY_S).astype(np.int64)
    base = cal.day_base_utc_ns[np.clip(day, 0, cal.days - 1)] + (day - np.clip(day, 0, cal.days - 1)) * int(
        DAY_S * 1e9)
    return base + np.round(t_local_s - day * DAY_S).astype(np.int64) * 1_000_000_000


def _id_width(n: int, minimum: int = 8) -> int:
    return max(minimum, len(str(max(n, 1))))


def _interaction_ids(sim: Sim, idx: np.ndarray) -> pa.Array:
    """``I000000001``-style ids of the 0-based contact indices ``idx`` (one width for the whole sample)."""
    return fixed_ids("I", idx + 1, _id_width(sim.c["t"].size, 9))


def _customer_ids(sim: Sim, cust: np.ndarray) -> pa.Array:
    """``C0000001``-style ids of the 0-based customer indices ``cust`` (one width for the whole sample)."""
    return fixed_ids("C", cust.astype(np.int64) + 1, _id_width(sim.cust["segment"].size, 7))


def _interactions_table(sim: Sim, lo: int, hi: int) -> pa.Table:
    c, ag = sim.c, sim.ag
    sl = slice(lo, hi)
    ab = c["abandoned"][sl]
    agent = c["agent"][sl]
    return pa.table({
        "interaction_id": _interaction_ids(sim, np.arange(lo, hi)),
        "customer_id": _customer_ids(sim, c["cust"][sl]),
        "channel": _strings_by_code(CHANNELS, c["ch"][sl]),
        "direction": pa.array(np.full(hi - lo, "inbound"), pa.string()) if hi > lo else pa.array([], pa.string()),
        "queue": _strings_by_code(QUEUES, c["q"][sl]),
        "agent_id": _agent_ids(ag).take(pa.array(np.maximum(agent, 0).astype(np.int64), mask=ab)),
        "arrived_at": _ts(_local_to_utc_ns(sim.cal, c["t"][sl])),
        "wait_s": pa.array(c["wait"][sl].astype(np.float64)),
        "talk_s": pa.array(c["talk"][sl].astype(np.float64)),
        "hold_s": pa.array(c["hold"][sl].astype(np.float64)),
        "acw_s": pa.array(c["acw"][sl].astype(np.float64)),
        "abandoned": pa.array(ab),
        "transferred": pa.array(c["transferred"][sl]),
        "reached_queue": pa.array(np.ones(hi - lo, dtype=bool)),  # the sample simulates queued contacts only
        "contact_reason": _strings_by_code(REASON_NAMES, c["reason"][sl]),
        "resolved": pa.array(c["flag"][sl]),
        "site": _strings_by_code(SITES, ag.site[np.maximum(agent, 0)], mask=ab),
    })


def _agent_ids(ag: Agents) -> pa.Array:
    # ids follow the internal order (queue, then hire date)
    return fixed_ids("A", np.arange(ag.queue.size) + 1, 4)


def _surveys_table(sim: Sim, lo: int, hi: int) -> pa.Table:
    sv, c = sim.surveys, sim.c
    sl = slice(lo, hi)
    idx = sv["idx"][sl]
    com = sv["comment"][sl]
    return pa.table({
        "response_id": fixed_ids("R", np.arange(lo, hi) + 1, _id_width(sv["idx"].size, 8)),
        "interaction_id": _interaction_ids(sim, idx),
        "customer_id": _customer_ids(sim, c["cust"][idx]),
        "responded_at": _ts(_any_local_to_utc_ns(sim.cal, sv["t"][sl])),
        "csat": pa.array(sv["csat"][sl]),
        "nps": pa.array(sv["nps"][sl]),
        "ces": pa.array(sv["ces"][sl]),
        "resolved_self_report": pa.array(sv["self_report"][sl]),
        "comment": _strings_by_code(COMMENTS, np.maximum(com, 0), mask=com < 0),
    })


def _agents_table(sim: Sim) -> pa.Table:
    ag, cal = sim.ag, sim.cal
    hire = (np.datetime64(cal.start, "D") + ag.hire_day.astype("timedelta64[D]"))
    return pa.table({
        "agent_id": _agent_ids(ag),
        "hire_date": pa.array(hire, pa.date32()),
        "team": _strings_by_code(ag.team_names, ag.team),
        "site": _strings_by_code(SITES, ag.site),
    })


def _agent_scores_table(sim: Sim) -> pa.Table:
    """Monthly QA score per agent, on the 25th at 16:00 local, from the month after hire."""
    ag, cal = sim.ag, sim.cal
    rng = stream_rng(sim.seed, "qa")
    mdates = np.unique(cal.dates.astype("datetime64[M]"))
    day25 = ((mdates.astype("datetime64[D]") + 24) - cal.dates[0]).astype(np.int64)
    day25 = day25[(day25 >= 0) & (day25 < cal.days)]
    n_a = ag.queue.size
    skill_z = ag.skill / RESOLUTION["agent_skill_sd"]
    level = np.where(ag.qa_tracks, skill_z, rng.standard_normal(n_a))
    a_idx, d_idx = np.meshgrid(np.arange(n_a), day25, indexing="ij")
    a_idx, d_idx = a_idx.ravel(), d_idx.ravel()
    ok = ag.hire_day[a_idx] + 30 <= d_idx
    a_idx, d_idx = a_idx[ok], d_idx[ok]
    val = QA["mean"] + QA["sd_between"] * level[a_idx] + QA["sd_within"] * rng.standard_normal(a_idx.size)
    t = d_idx * DAY_S + 16 * 3600.0
    order = np.lexsort((a_idx, t))
    return pa.table({
        "agent_id": _agent_ids(ag).take(pa.array(a_idx[order])),
        "scored_at": _ts(_local_to_utc_ns(cal, t[order])),
        "metric": pa.array(np.full(order.size, "qa"), pa.string()) if order.size else pa.array([], pa.string()),
        "value": pa.array(np.round(np.clip(val[order], 0, 100), 1)),
    })


def _events_table(sim: Sim) -> pa.Table:
    cal = sim.cal
    ev = cal.events

    def ns(d):
        i = (dt.date.fromisoformat(d) - cal.start).days
        day = min(max(i, 0), cal.days - 1)
        return int(cal.day_base_utc_ns[day] + (i - day) * int(DAY_S * 1e9))

    return pa.table({
        "event_id": pa.array([f"E{i + 1:03d}" for i in range(len(ev))], pa.string()),
        "start": _ts([ns(e["start"]) for e in ev]),
        "end": _ts([ns(e["end"]) for e in ev]),
        "label": pa.array([e["label"] for e in ev], pa.string()),
        "kind": pa.array([e["kind"] for e in ev], pa.string()),
        "queue": pa.array([e["queue"] for e in ev], pa.string()),
    })


def _staffing_table(sim: Sim) -> pa.Table:
    cal = sim.cal
    d, q, s = np.meshgrid(np.arange(cal.days), np.arange(len(QUEUES)), np.arange(N_SLOTS), indexing="ij")
    d, q, s = d.ravel(), q.ravel(), s.ravel()
    order = np.lexsort((q, s, d))
    t = d * DAY_S + OPEN_S + s * SLOT_S
    return pa.table({
        "interval_start": _ts(_local_to_utc_ns(cal, t[order])),
        "queue": _strings_by_code(QUEUES, q[order]),
        "interval_s": pa.array(np.full(order.size, SLOT_S)),
        "agents_staffed": pa.array(sim.staffed.ravel()[(d * len(QUEUES) + q) * N_SLOTS + s][order]),
    })


def _customers_table(sim: Sim) -> pa.Table:
    cu, cal = sim.cust, sim.cal
    ids = cu["ids"]
    churn = cu["churn_t"][ids]
    churned = churn < cal.days * DAY_S
    return pa.table({
        "customer_id": _customer_ids(sim, ids),
        "segment": _strings_by_code(SEGMENTS, cu["segment"][ids]),
        "first_seen": _ts(_any_local_to_utc_ns(cal, cu["since_t"][ids])),
        "churned_at": pa.array(_any_local_to_utc_ns(cal, np.where(churned, churn, 0.0)), pa.int64(),
                               mask=~churned).cast(_TS),
    })


def _revenue_table(sim: Sim, rows: dict) -> pa.Table:
    return pa.table({
        "customer_id": _customer_ids(sim, rows["cust"]),
        "month": pa.array(rows["month"], pa.date32()),
        "revenue": pa.array(rows["revenue"]),
        "products_held": pa.array(rows["held"]),
        "products_offered": pa.array(rows["offered"]),
    })


def _series_table(sim: Sim) -> pa.Table:
    cal = sim.cal
    rng = stream_rng(sim.seed, "series")
    v = (WEB["visits_per_contact"] * sim.contacts_per_day * np.array(WEB["weekly"])[cal.dow]
         * np.where(cal.campaign, WEB["campaign_multiplier"], 1.0)
         * np.exp(WEB["noise_sigma"] * rng.standard_normal(cal.days)))
    return pa.table({
        "date": pa.array(cal.dates, pa.date32()),
        "name": pa.array(["web_visits"] * cal.days, pa.string()),
        "value": pa.array(np.round(v)),
        "segment": pa.nulls(cal.days, pa.string()),
    })


def _chunks(t: np.ndarray, boundaries: np.ndarray):
    """(lo, hi) row ranges of a time-sorted array split at ``boundaries``."""
    cuts = np.r_[0, np.searchsorted(t, boundaries), t.size]
    return [(int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:]) if b > a] or [(0, 0)]


def _month_boundaries(cal: Calendar) -> np.ndarray:
    mdates = np.unique(cal.dates.astype("datetime64[M]"))[1:]
    return (mdates.astype("datetime64[D]") - cal.dates[0]).astype(np.int64) * DAY_S


def _iter_tables(sim: Sim):
    """Yield (table name, arrow table chunk) for every canonical table; big tables by month."""
    bounds = _month_boundaries(sim.cal)
    for lo, hi in _chunks(sim.c["t"], bounds):
        yield "interactions", _interactions_table(sim, lo, hi)
    for lo, hi in _chunks(sim.surveys["t"], bounds):
        yield "surveys", _surveys_table(sim, lo, hi)
    yield "agents", _agents_table(sim)
    yield "agent_scores", _agent_scores_table(sim)
    yield "events", _events_table(sim)
    yield "staffing", _staffing_table(sim)
    yield "customers", _customers_table(sim)
    for _, rows in revenue_months(sim):
        yield "customer_revenue", _revenue_table(sim, rows)
    yield "series", _series_table(sim)


def _to_pandas(t: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas with the cxlab conventions (DATE columns as datetime64[ns])."""
    cols = {}
    for name, col in zip(t.column_names, t.columns):
        if pa.types.is_date32(col.type):
            cols[name] = pd.Series(col.cast(pa.timestamp("ns")).to_numpy(), name=name)
        else:
            cols[name] = col.to_pandas()
    df = pd.DataFrame(cols, columns=t.column_names)
    return df


# =========================================================================== public API
def _check(seed, days, contacts_per_day, center_contacts_per_day=None):
    for name, v in (("seed", seed), ("days", days), ("contacts_per_day", contacts_per_day)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an int; got {type(v).__name__}")
    check_size(days, contacts_per_day)
    c = center_contacts_per_day
    if c is not None:
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)):
            raise TypeError(f"center_contacts_per_day must be an int or None; got {type(c).__name__}")
        if c < contacts_per_day:
            raise ValueError(f"center_contacts_per_day must be at least contacts_per_day ({contacts_per_day}); "
                             f"got {c}")


def _center(contacts_per_day, center_contacts_per_day):
    """None when the center is the sample's own size (the default data path)."""
    c = center_contacts_per_day
    return None if c is None or int(c) == int(contacts_per_day) else int(c)


def generate(*, seed: int = 20251, days: int = 365, contacts_per_day: int = 1000,
             start: str = "2025-01-01", center_contacts_per_day: int | None = None) -> dict[str, pd.DataFrame]:
    """Simulate the sample contact center and return its canonical tables.

    Parameters
    ----------
    seed : int
        Seed of every random draw; the same seed gives the same data.
    days : int
        Length of the period in days, starting at ``start``.
    contacts_per_day : int
        Average offered contacts per day (fresh issues, repeats and call-backs).
    start : str
        First day (ISO date, local time America/New_York).
    center_contacts_per_day : int, optional
        Size of the center whose queues the contacts go through (default:
        ``contacts_per_day``, the default data). A larger value makes the
        tables a random 1-in-k share of a k-times-larger center's contacts
        (k = center / contacts_per_day): staffing is planned and waits are
        drawn for the large center's pooled queues (Erlang C, the same 80/20
        plan and shortfalls), so many contacts wait 5-120 s as in a large
        center, instead of mostly 0 s or minutes; ``agents_staffed`` is the
        large center's count / k. Used to study the wait knee
        (``docs/alignment.md``).

    Returns
    -------
    dict of str to DataFrame
        ``interactions``, ``surveys``, ``agents``, ``agent_scores``, ``events``,
        ``staffing``, ``customers``, ``customer_revenue``, ``series`` with the
        columns of :mod:`cxlab.schema` (see the module docstring for dtypes).

    Notes
    -----
    The structural model and every coefficient are in ``docs/sample.md`` and
    :func:`ground_truth`. Abandoned contacts have ``agent_id``/``site`` null,
    talk/hold/ACW 0, ``transferred`` False and ``resolved`` False.

    Examples
    --------
    >>> t = generate(days=7, contacts_per_day=100)
    >>> sorted(t) == sorted(['interactions', 'surveys', 'agents', 'agent_scores', 'events',
    ...                      'staffing', 'customers', 'customer_revenue', 'series'])
    True
    >>> str(t["interactions"]["arrived_at"].dtype)
    'datetime64[ns, UTC]'
    """
    _check(seed, days, contacts_per_day, center_contacts_per_day)
    sim = run_simulation(seed, days, contacts_per_day, start, _center(contacts_per_day, center_contacts_per_day))
    return _frames(sim)


def _frames(sim: Sim) -> dict[str, pd.DataFrame]:
    parts: dict[str, list] = {}
    for name, t in _iter_tables(sim):
        parts.setdefault(name, []).append(t)
    return {name: _to_pandas(pa.concat_tables(ts)) for name, ts in parts.items()}


def write_sample(out_dir, *, seed: int = 20251, days: int = 365, contacts_per_day: int = 1000,
                 format: str = "parquet", start: str = "2025-01-01",
                 center_contacts_per_day: int | None = None) -> dict[str, Path]:
    """Generate the sample and write every table plus ``ground_truth.json`` to ``out_dir``.

    Tables are written chunk by chunk (interactions, surveys and customer revenue
    one month at a time) with a pyarrow writer, so memory stays bounded for large
    samples. Parquet files carry no timestamps, so the same seed gives
    byte-identical files.

    Parameters
    ----------
    out_dir : path-like
        Folder to write into (created if needed).
    seed, days, contacts_per_day, start, center_contacts_per_day
        As in :func:`generate`.
    format : {"parquet", "csv"}
        File format; one file per table (``<table>.parquet`` or ``<table>.csv``).

    Returns
    -------
    dict of str to Path
        Table name (and ``ground_truth``) -> file written.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     paths = write_sample(d, days=7, contacts_per_day=100)
    ...     sorted(p.name for p in paths.values())[:3]
    ['agent_scores.parquet', 'agents.parquet', 'customer_revenue.parquet']
    """
    check_option("format", format, ("parquet", "csv"))
    _check(seed, days, contacts_per_day, center_contacts_per_day)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sim = run_simulation(seed, days, contacts_per_day, start, _center(contacts_per_day, center_contacts_per_day))
    paths: dict[str, Path] = {}
    writers: dict[str, object] = {}
    try:
        for name, t in _iter_tables(sim):
            if format == "csv":  # whole-second timestamps read better: 2025-01-01 12:00:00Z
                t = t.cast(pa.schema([f.with_type(pa.timestamp("s", tz="UTC")) if f.type == _TS else f
                                      for f in t.schema]))
            w = writers.get(name)
            if w is None:
                path = out / f"{name}.{format}"
                paths[name] = path
                if format == "parquet":
                    w = pq.ParquetWriter(path, t.schema, compression="zstd")
                else:
                    w = pacsv.CSVWriter(path, t.schema)
                writers[name] = w
            w.write_table(t)
    finally:
        for w in writers.values():
            w.close()
    gt = out / "ground_truth.json"
    truth = {**sim.truth, "code_fingerprint": _fingerprint()}
    gt.write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    paths["ground_truth"] = gt
    return paths


def _read_dir(path: Path) -> dict[str, pd.DataFrame]:
    return {name: _to_pandas(pq.read_table(path / f"{name}.parquet")) for name in TABLES
            if (path / f"{name}.parquet").exists()}  # the sample writes no aggregates table


_MEMO: dict[tuple, dict[str, pd.DataFrame]] = {}


_TRUTH_MEMO: dict[tuple, dict] = {}


def _cache_path(seed, days, contacts_per_day, center=None) -> Path:
    tail = "" if center is None else f"-center{center}"
    return cache_dir() / f"sample-v{GENERATOR_VERSION}-{seed}-{days}-{contacts_per_day}{tail}"


def _fingerprint() -> str:
    """Hash of every ``.py`` file of :mod:`cxlab.sample` (sorted by name): a cache written by other code is regenerated."""
    import hashlib

    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _cache_ok(path: Path) -> bool:
    done = path / "ground_truth.json"  # written last: its presence marks a complete folder
    if not done.is_file():
        return False
    try:
        return json.loads(done.read_text(encoding="utf-8")).get("code_fingerprint") == _fingerprint()
    except (OSError, ValueError):
        return False


def _ensure_cache(seed, days, contacts_per_day, center=None) -> Path:
    """Write the sample into the cache unless a complete, current copy is there."""
    path = _cache_path(seed, days, contacts_per_day, center)
    if _cache_ok(path):
        return path
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{path.name}-", dir=path.parent))
    os.chmod(tmp, 0o755)
    old = None
    try:
        write_sample(tmp, seed=seed, days=days, contacts_per_day=contacts_per_day, center_contacts_per_day=center)
        if path.exists():  # stale or incomplete: move it aside, then swap the new one in
            old = Path(tempfile.mkdtemp(prefix=f".old-{path.name}-", dir=path.parent))
            try:
                os.replace(path, old / "x")
            except OSError:
                pass
        try:
            os.rename(tmp, path)
        except OSError:
            if not _cache_ok(path):  # not another process winning the race
                raise
    finally:
        for d in (tmp, old):
            if d is not None and d.exists():
                shutil.rmtree(d, ignore_errors=True)
    return path


def load_sample(*, seed: int = 20251, days: int = 365, contacts_per_day: int = 1000,
                center_contacts_per_day: int | None = None) -> dict[str, pd.DataFrame]:
    """The sample center's canonical tables, cached on disk and in memory.

    The first call generates the sample and writes parquet into
    ``cache_dir() / "sample-v{GENERATOR_VERSION}-{seed}-{days}-{contacts_per_day}"``
    (through a temporary folder renamed into place, so an interrupted run never
    leaves a partial cache); later calls read it. Within a process the frames
    are memoized: each call returns shallow copies (copy-on-write, so changing
    a returned frame never changes the memo).

    Parameters
    ----------
    seed, days, contacts_per_day, center_contacts_per_day
        As in :func:`generate` (``start`` is 2025-01-01); a center size other
        than ``contacts_per_day`` gets its own cache folder (``-center<N>``).

    Returns
    -------
    dict of str to DataFrame
        The canonical tables, as returned by :func:`generate`.

    Examples
    --------
    >>> t = load_sample(days=7, contacts_per_day=100)
    >>> t["interactions"].shape[1]
    17
    """
    _check(seed, days, contacts_per_day, center_contacts_per_day)
    key = (int(seed), int(days), int(contacts_per_day), _center(contacts_per_day, center_contacts_per_day))
    if key not in _MEMO:
        _MEMO[key] = _read_dir(_ensure_cache(*key))
    return {k: v.copy(deep=False) for k, v in _MEMO[key].items()}


def ground_truth(*, seed: int = 20251, days: int = 365, contacts_per_day: int = 1000,
                 center_contacts_per_day: int | None = None) -> dict:
    """The ground truth of a sample (JSON-able dict), from the on-disk cache.

    Parameters
    ----------
    seed, days, contacts_per_day, center_contacts_per_day
        As in :func:`load_sample`.

    Returns
    -------
    dict
        Keys include ``latent_model``, ``measurement``, ``complexity_by_reason``,
        ``confounder``, ``resolution_model``, ``effects``, ``pilot``,
        ``driver_truth``, ``loyalty``, ``events``, ``nonresponse`` and
        ``observed`` (see ``docs/sample.md``).

    Examples
    --------
    >>> gt = ground_truth(days=7, contacts_per_day=100)
    >>> gt["latent_model"]["handle_time"]
    0.0
    """
    _check(seed, days, contacts_per_day, center_contacts_per_day)
    key = (int(seed), int(days), int(contacts_per_day), _center(contacts_per_day, center_contacts_per_day))
    if key not in _TRUTH_MEMO:
        path = _ensure_cache(*key) / "ground_truth.json"
        _TRUTH_MEMO[key] = json.loads(path.read_text(encoding="utf-8"))
    return json.loads(json.dumps(_TRUTH_MEMO[key]))


def main_sample(out, days: int = 365, contacts_per_day: int = 1000, seed: int = 20251,
                fmt: str = "parquet") -> dict[str, Path]:
    """Write the sample center to ``out`` and print what was written (for ``cxlab sample``).

    Returns
    -------
    dict of str to Path
        As :func:`write_sample`.
    """
    paths = write_sample(out, seed=seed, days=days, contacts_per_day=contacts_per_day, format=fmt)
    gt = json.loads(paths["ground_truth"].read_text(encoding="utf-8"))
    obs = gt["observed"]
    print(f"sample center: {obs['contacts']:,} contacts, {obs['surveys']:,} surveys, "
          f"{days} days from {gt['start']} (seed {seed})")
    for name, p in paths.items():
        print(f"  {name:<17} {p}")
    return paths


def __getattr__(name):
    if name == "GROUND_TRUTH":
        return ground_truth()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
