"""Benchmark the sample generator.

Usage::

    .venv/bin/python benchmarks/sample.py            # the default year, in memory (target < 15 s)
    .venv/bin/python benchmarks/sample.py --big      # also: 10M contacts written in chunks to a temp dir
                                                     #   (targets < 180 s wall, < 4 GB peak RSS)

Each measurement is printed with its ratio to the target (< 1.0 meets it). Peak RSS is
``resource.getrusage`` ``ru_maxrss`` of this process and of its children, so run the big
case in a fresh process (it is run in a child process here for that reason).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_TARGET_S = 15.0
BIG_TARGET_S = 180.0
BIG_TARGET_RSS_GB = 4.0


def _report(label: str, value: float, target: float, unit: str) -> None:
    print(f"{label:<34} {value:9.2f} {unit:<3} target < {target:g} {unit:<3} ratio {value / target:5.2f}")


def bench_default() -> None:
    from cxlab.sample import generate

    t0 = time.perf_counter()
    tables = generate()
    dt = time.perf_counter() - t0
    n = len(tables["interactions"])
    _report(f"default year generate ({n:,} contacts)", dt, DEFAULT_TARGET_S, "s")


def _big_child(contacts_per_day: int, days: int) -> None:
    from cxlab.sample import write_sample

    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        paths = write_sample(d, days=days, contacts_per_day=contacts_per_day)
        dt = time.perf_counter() - t0
        import pyarrow.parquet as pq

        n = pq.ParquetFile(paths["interactions"]).metadata.num_rows
        size = sum(p.stat().st_size for p in Path(d).iterdir()) / 1e9
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # kB -> GB (Linux)
    print(f"wrote {n:,} contacts ({size:.2f} GB on disk)")
    _report("big write wall time", dt, BIG_TARGET_S, "s")
    _report("big write peak RSS (self)", rss_gb, BIG_TARGET_RSS_GB, "GB")


def bench_big(contacts_per_day: int, days: int) -> None:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--child", str(contacts_per_day), str(days)], check=True)
    dt = time.perf_counter() - t0
    rss_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    _report("big total incl. start-up", dt, BIG_TARGET_S, "s")
    _report("big peak RSS (children)", rss_gb, BIG_TARGET_RSS_GB, "GB")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--big", action="store_true", help="also write 10M contacts in chunks")
    p.add_argument("--contacts-per-day", type=int, default=27_400, help="big case volume (27,400 x 365 = 10M)")
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        _big_child(*a.child)
        return
    bench_default()
    if a.big:
        bench_big(a.contacts_per_day, a.days)


if __name__ == "__main__":
    main()
