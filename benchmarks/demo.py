"""Benchmark: the full demo (every real notebook on the embedded sample), serial and with 2 jobs.

    .venv/bin/python benchmarks/demo.py [--jobs 1 2] [--keep]

Target: the serial demo finishes in at most 90 s on 2 cores. Prints each
run's wall time, its ratio to the target, the per-step timings from the
run's manifest, and the parallel speed-up. Runs land in a temporary
reports folder (``--keep`` prints its path and keeps it). Exits non-zero
when a run fails or the serial run misses the target.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

TARGET_SERIAL_S = 90.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="job counts to time (default: 1 2)")
    parser.add_argument("--keep", action="store_true", help="keep the reports folder")
    args = parser.parse_args(argv)

    from cxlab.pipeline import RunFailed, demo

    reports = Path(tempfile.mkdtemp(prefix="cxlab-bench-"))
    print(f"cores: {os.cpu_count()}  target (serial): <= {TARGET_SERIAL_S:.0f} s  reports: {reports}")
    walls: dict[int, float] = {}
    status = 0
    try:
        for jobs in args.jobs:
            t0 = time.perf_counter()
            try:
                result = demo(jobs=jobs, quiet=True, reports_dir=reports)
            except RunFailed as exc:
                print(f"jobs={jobs}: FAILED after {time.perf_counter() - t0:.1f} s\n{exc}", file=sys.stderr)
                status = 1
                continue
            wall = time.perf_counter() - t0
            walls[jobs] = wall
            manifest = json.loads(result.manifest_path.read_text())
            print(f"\njobs={jobs}: {wall:6.1f} s wall  ({wall / TARGET_SERIAL_S:.2f} x the {TARGET_SERIAL_S:.0f} s target)")
            for step in manifest["steps"]:
                print(f"    {step['step']:<24} {step['seconds']:6.1f} s  {step['status']}")
    finally:
        if args.keep:
            print(f"\nreports kept in {reports}")
        else:
            shutil.rmtree(reports, ignore_errors=True)

    if 1 in walls:
        verdict = "meets" if walls[1] <= TARGET_SERIAL_S else "MISSES"
        print(f"\nserial: {walls[1]:.1f} s {verdict} the {TARGET_SERIAL_S:.0f} s target")
        if walls[1] > TARGET_SERIAL_S:
            status = 1
        for jobs, wall in sorted(walls.items()):
            if jobs != 1:
                print(f"jobs={jobs}: speed-up {walls[1] / wall:.2f} x over serial")
    return status


if __name__ == "__main__":
    sys.exit(main())
