"""Benchmark: load + validate 1M interactions from Parquet through cxlab.io.load_table.

Generates synthetic interactions with vectorized numpy (a few % of bad rows:
negative and missing waits, abandoned contacts with an agent, answered ones
without, unknown channels, duplicate ids, DST-ambiguous local times), writes
them to one Parquet file with *naive local* timestamps (the usual export, so
the time-zone localization and DST checks run), then times ``load_table``
(read, map, validate, quarantine, convert to pandas) and prints rows/s and
the ratio to the target of 1M rows/s on 2 cores.

Run: ``.venv/bin/python benchmarks/io.py [--rows 1000000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cxlab.config import Mapping, Source  # noqa: E402
from cxlab.data import load_table  # noqa: E402

TARGET_ROWS_PER_S = 1_000_000


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def synthetic_interactions(n: int, seed: int = 20251) -> tuple[pa.Table, dict[str, int]]:
    """n interactions over 2025 in America/New_York local time, with injected bad rows."""
    rng = np.random.default_rng(seed)
    ids = np.char.add("I", np.arange(n).astype("U9"))
    customers = np.char.add("C", rng.integers(0, n // 4 + 1, n).astype("U9"))
    queues = np.array(["billing", "tech_support", "sales", "retention", "general"])[rng.integers(0, 5, n)]
    channel = np.where(rng.random(n) < 0.3, "chat", "voice").astype(object)
    abandoned = rng.random(n) < 0.06
    agent = np.char.add("A", rng.integers(0, 400, n).astype("U4")).astype(object)
    agent[abandoned] = None
    t0 = np.datetime64("2025-01-01T00:00:00", "s")
    arrived = t0 + rng.integers(0, 365 * 86_400, n).astype("timedelta64[s]")
    wait = rng.exponential(40.0, n).round()
    talk = np.where(abandoned, 0.0, rng.lognormal(5.5, 0.5, n).round())
    hold = np.where(abandoned | (rng.random(n) < 0.7), 0.0, rng.exponential(60.0, n).round())
    acw = np.where(abandoned, 0.0, rng.exponential(30.0, n).round())
    transferred = ~abandoned & (rng.random(n) < 0.08)

    bad = rng.choice(7, size=n, p=[0.97, 0.005, 0.005, 0.005, 0.005, 0.005, 0.005])
    wait[bad == 1] = -wait[bad == 1] - 1  # negative duration
    wait_mask = bad == 2  # missing wait
    flip = np.flatnonzero(bad == 3)  # abandoned with an agent
    abandoned[flip] = True
    talk[flip] = 0.0
    agent[flip] = "A1"
    channel[bad == 4] = "fax"  # not an allowed channel
    dup = np.flatnonzero(bad == 5)  # duplicate ids (of an earlier row)
    ids[dup] = ids[np.maximum(dup - 1000, 0)]
    amb = np.flatnonzero(bad == 6)  # 2025-11-02 01:00-01:59 is repeated in New York
    arrived[amb] = np.datetime64("2025-11-02T01:00:00", "s") + rng.integers(0, 3600, amb.size).astype(
        "timedelta64[s]")

    table = pa.table({
        "interaction_id": pa.array(ids),
        "customer_id": pa.array(customers),
        "channel": pa.array(channel, pa.string()),
        "queue": pa.array(queues),
        "agent_id": pa.array(agent, pa.string()),
        "arrived_at": pa.array(arrived.astype("datetime64[us]")),  # naive local time
        "wait_s": pa.array(wait, mask=wait_mask),
        "talk_s": pa.array(talk),
        "hold_s": pa.array(hold),
        "acw_s": pa.array(acw),
        "abandoned": pa.array(abandoned),
        "transferred": pa.array(transferred),
    })
    return table, {"bad_rows_injected": int((bad > 0).sum())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="cxlab-bench-io-") as tmp:
        path = os.path.join(tmp, "interactions.parquet")
        t = time.perf_counter()
        table, info = synthetic_interactions(args.rows)
        pq.write_table(table, path, row_group_size=122_880)
        gen_s = time.perf_counter() - t
        size_mb = os.path.getsize(path) / 1e6
        print(f"generated {args.rows:,} rows ({info['bad_rows_injected']:,} injected bad) in {gen_s:.2f} s; "
              f"parquet {size_mb:.1f} MB")

        src = Source(path=path, mapping=Mapping(timezone="America/New_York"))
        times, cpus = [], []
        res = None
        load_before = os.getloadavg()[0]
        for _ in range(args.repeat):
            res = None
            c, t = _cpu_s(), time.perf_counter()
            res = load_table(src, "interactions")
            times.append(time.perf_counter() - t)
            cpus.append(_cpu_s() - c)
        assert res is not None
        if res.rows_read != len(res.accepted) + len(res.quarantined):
            raise SystemExit("accounting identity broken")
        med = statistics.median(times)
        rate = args.rows / med
        cpu = statistics.median(cpus)
        print(f"load_table wall: {', '.join(f'{x:.2f}' for x in times)} s (median {med:.2f} s); "
              f"process CPU: {', '.join(f'{x:.2f}' for x in cpus)} s (median {cpu:.2f} s); "
              f"load average before: {load_before:.1f} on {os.cpu_count()} cores")
        print(f"rows read {res.rows_read:,}; accepted {len(res.accepted):,}; quarantined {len(res.quarantined):,}")
        print(res.counts.to_string(index=False))
        print(f"throughput: {rate:,.0f} rows/s = {rate / TARGET_ROWS_PER_S:.2f} x the 1M rows/s target "
              f"({os.cpu_count()} cores)")
        print(f"CPU cost: {cpu / args.rows * 1e6:.2f} CPU-s per 1M rows (the target allows "
              f"{os.cpu_count()} CPU-s per 1M rows on {os.cpu_count()} cores if perfectly parallel)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
