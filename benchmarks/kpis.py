"""Benchmark: the day x queue KPI table (with the 7-day FCR window) on 10M contacts.

Run from the repo root::

    .venv/bin/python benchmarks/kpis.py            # 10M contacts (default)
    .venv/bin/python benchmarks/kpis.py --rows 1000000

It generates (once, cached under ``benchmarks/_data/``, git-ignored) an
interactions Parquet file with vectorized numpy, then times

1. :func:`cxlab.kpis.kpi_table` (DuckDB) on the Parquet path, and
2. a straightforward pandas implementation of the same KPIs (groupby +
   shift for the repeat window),

prints wall time and peak RSS against the targets (<= 3 s, <= 1.5 GB on 2
cores), the speed-up over pandas, and checks the two tables agree to 1e-9.
Each implementation runs in its own child process so peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
TZ = "America/New_York"
TARGET_S = 3.0
TARGET_RSS_GB = 1.5
QUEUES = np.array(["billing", "tech_support", "sales", "retention", "orders", "general"])
CHANNELS = np.array(["voice", "chat", "email", "messaging"])


def generate(rows: int, seed: int = 20251) -> Path:
    """Write (or reuse) a synthetic interactions Parquet file with ``rows`` contacts."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"interactions_{rows}_{seed}.parquet"
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    n_first = int(rows * 0.85)
    n_rep = rows - n_first
    n_cust = max(1, rows // 4)
    start = np.datetime64("2025-01-01T05:00:00", "us").astype(np.int64)
    year_us = 365 * 86_400 * 1_000_000
    # first contacts: uniform customers and times; repeats: a follow-up of an earlier contact
    cust = rng.integers(0, n_cust, rows)
    t_us = start + rng.integers(0, year_us, rows)
    parent = rng.integers(0, n_first, n_rep)
    cust[n_first:] = cust[parent]
    t_us[n_first:] = t_us[parent] + (rng.exponential(3.0, n_rep) * 86_400e6).astype(np.int64)
    order = np.argsort(t_us, kind="stable")
    cust, t_us = cust[order], t_us[order]

    queue_i = rng.integers(0, len(QUEUES), rows)
    chan_i = rng.choice(len(CHANNELS), rows, p=[0.6, 0.25, 0.1, 0.05])
    wait = np.round(rng.exponential(35.0, rows), 1)
    abandoned = rng.random(rows) < (0.02 + 0.25 * (1 - np.exp(-wait / 120)))
    talk = np.where(abandoned, 0.0, np.round(rng.gamma(2.0, 180.0, rows), 1))
    hold = np.where(abandoned | (rng.random(rows) < 0.7), 0.0, np.round(rng.exponential(45.0, rows), 1))
    acw = np.where(abandoned, 0.0, np.round(rng.exponential(40.0, rows), 1))
    transferred = ~abandoned & (rng.random(rows) < 0.08)
    agent = pc.binary_join_element_wise("A", pa.array(rng.integers(0, 400, rows)).cast(pa.string()), "")
    agent = pc.if_else(pa.array(abandoned), pa.scalar(None, pa.string()), agent)

    table = pa.table(
        {
            "interaction_id": pc.binary_join_element_wise(
                "I", pa.array(np.arange(rows)).cast(pa.string()), ""),
            "customer_id": pc.binary_join_element_wise("C", pa.array(cust).cast(pa.string()), ""),
            "channel": pa.array(CHANNELS[chan_i]),
            "direction": pa.array(np.full(rows, "inbound")),
            "queue": pa.array(QUEUES[queue_i]),
            "agent_id": agent,
            "arrived_at": pa.array(t_us, pa.timestamp("us", tz="UTC")),
            "wait_s": wait,
            "talk_s": talk,
            "hold_s": hold,
            "acw_s": acw,
            "abandoned": abandoned,
            "transferred": transferred,
        }
    )
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp, row_group_size=1_000_000)
    tmp.rename(path)
    return path


# ----------------------------------------------------------------------------- implementations


def run_duckdb(path: str):
    from cxlab.kpis import kpi_table

    return kpi_table(path, by=("day", "queue"), timezone=TZ)


def run_pandas(path: str):
    """The same KPIs (default options: T=20 s, short abandons < 5 s excluded, W=7 any channel)."""
    import pandas as pd

    cols = ["interaction_id", "customer_id", "channel", "queue", "arrived_at", "wait_s",
            "talk_s", "hold_s", "acw_s", "abandoned", "transferred"]
    df = pd.read_parquet(path, columns=cols)
    df["day"] = df["arrived_at"].dt.tz_convert(TZ).dt.tz_localize(None).dt.normalize()
    ab = df["abandoned"].to_numpy()
    handled = ~ab
    wait = df["wait_s"].to_numpy()
    short = ab & (wait < 5)
    # repeat window: next contact by the same customer (any channel), ties broken by id
    df = df.sort_values(["customer_id", "arrived_at", "interaction_id"], kind="mergesort")
    nxt = df.groupby("customer_id", sort=False)["arrived_at"].shift(-1)
    gap = (nxt - df["arrived_at"]).dt.total_seconds()
    observed = (df["arrived_at"].max() - df["arrived_at"]).dt.total_seconds()
    w = 7 * 86400.0
    df = df.sort_index()
    gap, observed = gap.sort_index().to_numpy(), observed.sort_index().to_numpy()
    complete = observed >= w
    f = pd.DataFrame({"day": df["day"], "queue": df["queue"]})
    f["offered"] = 1
    f["handled"] = handled.astype(np.int64)
    f["abandoned"] = ab.astype(np.int64)
    f["short_abandoned"] = short.astype(np.int64)
    f["service_level_num"] = (handled & (wait <= 20)).astype(np.int64)
    f["service_level_den"] = (~short).astype(np.int64)
    f["abandon_rate_num"] = (ab & ~short).astype(np.int64)
    f["abandon_rate_den"] = (~short).astype(np.int64)
    f["asa_num"] = np.where(handled, wait, 0.0)
    f["asa_den"] = f["handled"]
    f["aht_num"] = np.where(handled, df["talk_s"] + df["hold_s"] + df["acw_s"], 0.0)
    f["aht_den"] = f["handled"]
    f["fcr_num"] = (handled & complete & ~(gap <= w)).astype(np.int64)
    f["fcr_den"] = (handled & complete).astype(np.int64)
    f["transfer_rate_num"] = (handled & df["transferred"].to_numpy()).astype(np.int64)
    f["transfer_rate_den"] = f["handled"]
    f["hold_rate_num"] = (handled & (df["hold_s"].to_numpy() > 0)).astype(np.int64)
    f["hold_rate_den"] = f["handled"]
    out = f.groupby(["day", "queue"], sort=True).sum().reset_index()
    for name, unit, scale in (("service_level", "pct", 100), ("abandon_rate", "pct", 100), ("asa", "s", 1),
                              ("aht", "s", 1), ("fcr", "pct", 100), ("transfer_rate", "pct", 100),
                              ("hold_rate", "pct", 100)):
        out[f"{name}_{unit}"] = scale * out[f"{name}_num"] / out[f"{name}_den"].where(out[f"{name}_den"] > 0)
    return out


def _peak_rss_gb() -> float:
    """Peak resident set size of this process (ru_maxrss, KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _child(which: str, path: str, conn) -> None:
    import duckdb  # noqa: F401  (imports are not part of the timing)
    import pandas  # noqa: F401

    import cxlab.kpis  # noqa: F401

    fn = run_duckdb if which == "duckdb" else run_pandas
    c0, t0 = _cpu_s(), time.perf_counter()
    out = fn(path)
    wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
    out.to_parquet(DATA / f"_result_{which}.parquet")
    conn.send({"wall_s": wall, "cpu_s": cpu, "peak_rss_gb": _peak_rss_gb(), "rows": len(out)})
    conn.close()


def _timed(which: str, path: str) -> dict:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    p = ctx.Process(target=_child, args=(which, path, child))
    p.start()
    res = parent.recv()
    p.join()
    return res


def main(argv=None) -> int:
    import pandas as pd

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--skip-pandas", action="store_true")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    # generate in a child: on Linux a child's ru_maxrss starts from its parent's peak (kept across exec)
    gen = mp.get_context("spawn").Process(target=generate, args=(args.rows,))
    gen.start()
    gen.join()
    if gen.exitcode:
        raise SystemExit(f"generating {args.rows:,} contacts failed (exit code {gen.exitcode})")
    path = str(generate(args.rows))  # cached now: returns the path
    print(f"data: {args.rows:,} contacts -> {Path(path).name} ({time.perf_counter() - t0:.1f} s incl. cache)")

    duck = _timed("duckdb", path)
    report = {"rows": args.rows, "duckdb": duck}
    print(f"cxlab.kpis (DuckDB): {duck['wall_s']:.2f} s wall (target {TARGET_S:.1f} s: "
          f"{duck['wall_s'] / TARGET_S:.2f}x of target), peak RSS {duck['peak_rss_gb']:.2f} GB "
          f"(target {TARGET_RSS_GB} GB: {duck['peak_rss_gb'] / TARGET_RSS_GB:.2f}x), CPU {duck['cpu_s']:.2f} s, "
          f"{duck['rows']} rows; machine load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    ok = True
    if not args.skip_pandas:
        pan = _timed("pandas", path)
        report["pandas"] = pan
        print(f"pandas reference:    {pan['wall_s']:.2f} s wall, peak RSS {pan['peak_rss_gb']:.2f} GB, "
              f"CPU {pan['cpu_s']:.2f} s")
        print(f"speed-up vs pandas:  {pan['wall_s'] / duck['wall_s']:.1f}x (expected >= 5x)")
        a = pd.read_parquet(DATA / "_result_duckdb.parquet")
        b = pd.read_parquet(DATA / "_result_pandas.parquet")
        a["day"] = pd.to_datetime(a["day"]).astype("datetime64[ns]")
        b["day"] = pd.to_datetime(b["day"]).astype("datetime64[ns]")
        cols = [c for c in b.columns if c not in ("day", "queue")]
        a = a.sort_values(["day", "queue"]).reset_index(drop=True)
        b = b.sort_values(["day", "queue"]).reset_index(drop=True)
        keys_equal = a[["day", "queue"]].equals(b[["day", "queue"]])
        diff = max(
            float(np.nanmax(np.abs(a[c].to_numpy(float) - b[c].to_numpy(float)) /
                            np.maximum(1.0, np.abs(b[c].to_numpy(float)))))
            for c in cols
        )
        nan_same = all((a[c].isna() == b[c].isna()).all() for c in cols)
        ok = keys_equal and nan_same and diff <= 1e-9
        report["max_rel_diff"] = diff
        print(f"results equal:       {ok} (keys {keys_equal}, max relative difference {diff:.2e}, tolerance 1e-9)")
    report["within_time_target"] = duck["wall_s"] <= TARGET_S
    report["within_rss_target"] = duck["peak_rss_gb"] <= TARGET_RSS_GB
    print(json.dumps(report, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
