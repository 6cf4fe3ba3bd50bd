"""Benchmark: load + validate interactions from Parquet through cxlab.io.load_table, at 1M and 10M rows.

Generates synthetic interactions with vectorized numpy (a few % of bad rows:
negative and missing waits, abandoned contacts with an agent, answered ones
without, unknown channels, duplicate ids, DST-ambiguous local times), writes
them to one Parquet file with *naive local* timestamps (the usual export, so
the time-zone localization and DST checks run), then, each in a fresh
process, times ``load_table`` (read, map, validate, quarantine, convert to
pandas) and ``cxlab validate``'s data-layer counts (``validate_command``,
counted in DuckDB without converting accepted rows to pandas). Prints rows/s
and the ratio to the target of 1.5M rows/s on 2 cores, CPU-seconds per 1M
rows and CPU time / wall time (about 2 when both cores work), the peak RSS
of each process and the load average (the machine may be shared: a load
average above the core count stretches the wall times, not the CPU times).

Run: ``.venv/bin/python benchmarks/io.py [--rows 1000000 10000000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import statistics
import subprocess
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

TARGET_ROWS_PER_S = 1_500_000


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


def _child(kind: str, path: str, repeat: int) -> dict:
    """Run one measurement in this (fresh) process; returns wall, CPU and peak RSS as a dict."""
    times, cpus, out = [], [], {}
    for _ in range(repeat):
        c, t = _cpu_s(), time.perf_counter()
        if kind == "load":
            res = load_table(Source(path=path, mapping=Mapping(timezone="America/New_York")), "interactions")
            if res.rows_read != len(res.accepted) + len(res.quarantined):
                raise SystemExit("accounting identity broken")
            out = {"rows_read": res.rows_read, "accepted": len(res.accepted), "quarantined": len(res.quarantined),
                   "counts": res.counts[["reason", "rows"]].values.tolist()}
            del res
        else:
            from cxlab.data.load import validate_command

            cfg = Path(path).with_suffix(".yaml")
            cfg.write_text(json.dumps({"timezone": "America/New_York",
                                       "sources": {"interactions": {"path": Path(path).name}}}))
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                code = validate_command(str(cfg))
            if code != 0:
                raise SystemExit(f"validate_command returned {code}")
            out = {"printed": buf.getvalue()}
        times.append(time.perf_counter() - t)
        cpus.append(_cpu_s() - c)
    out.update(times=times, cpus=cpus, peak_rss_gb=_peak_rss_gb())
    return out


def _peak_rss_gb() -> float:
    """This process's peak RSS: ``VmHWM`` (ru_maxrss of a child also counts the parent it was forked from)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1e6
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def _measure(kind: str, path: str, repeat: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", kind, path, "--repeat", str(repeat)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _report(kind: str, rows: int, m: dict, load_before: float, load_after: float) -> None:
    med, cpu = statistics.median(m["times"]), statistics.median(m["cpus"])
    rate = rows / med
    print(f"  {kind:8s} wall {', '.join(f'{x:.2f}' for x in m['times'])} s (median {med:.2f} s) -> "
          f"{rate / 1e6:.2f}M rows/s = {rate / TARGET_ROWS_PER_S:.2f} x the 1.5M rows/s target; "
          f"{cpu / rows * 1e6:.2f} CPU-s per 1M rows; CPU/wall {cpu / med:.2f} on {os.cpu_count()} cores; "
          f"peak RSS {m['peak_rss_gb']:.2f} GB; load average {load_before:.1f} before, {load_after:.1f} after")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child[0], args.child[1], args.repeat)))
        return 0

    for rows in args.rows:
        with tempfile.TemporaryDirectory(prefix="cxlab-bench-io-") as tmp:
            path = os.path.join(tmp, "interactions.parquet")
            t = time.perf_counter()
            table, info = synthetic_interactions(rows)
            pq.write_table(table, path, row_group_size=122_880)
            del table
            print(f"{rows:,} rows ({info['bad_rows_injected']:,} injected bad) generated in "
                  f"{time.perf_counter() - t:.1f} s; parquet {os.path.getsize(path) / 1e6:.1f} MB")
            load_before = os.getloadavg()[0]
            m = _measure("load", path, args.repeat)
            _report("load", rows, m, load_before, os.getloadavg()[0])
            print(f"  rows read {m['rows_read']:,}; accepted {m['accepted']:,}; quarantined {m['quarantined']:,}; "
                  + "; ".join(f"{r} {n:,}" for r, n in m["counts"]))
            load_before = os.getloadavg()[0]
            v = _measure("validate", path, args.repeat)
            _report("validate", rows, v, load_before, os.getloadavg()[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
