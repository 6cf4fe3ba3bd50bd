"""Benchmark: the full demo (every real notebook on the embedded sample), serial and with 2 jobs.

    .venv/bin/python benchmarks/demo.py [--jobs 1 2] [--keep] [--no-stash]

Target: the serial demo finishes in at most 35 s on 2 cores. Prints the
load average (the machine may be shared: say so with the numbers), each
run's wall time, its ratio to the target, per step the time from the run's
manifest and the time of its setup cell (``nb.setup``: the papermill
duration of that cell in the executed notebook, imports included) with
the part of it spent getting the data (the run validates the tables once;
the notebooks read them from the run's stash: ``data_load`` in the
manifest), and the parallel speed-up. Runs land in a temporary
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

TARGET_SERIAL_S = 35.0


def setup_seconds(notebook) -> float | None:
    """Seconds the ``nb.setup(...)`` cell of an executed notebook took (papermill's cell duration)."""
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and "nb.setup(" in "".join(cell["source"]):
            return cell.get("metadata", {}).get("papermill", {}).get("duration")
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="job counts to time (default: 1 2)")
    parser.add_argument("--keep", action="store_true", help="keep the reports folder")
    parser.add_argument("--no-stash", action="store_true",
                        help="CXLAB_STASH=0: every notebook loads and validates the data itself (the old way)")
    args = parser.parse_args(argv)
    if args.no_stash:
        os.environ["CXLAB_STASH"] = "0"

    from cxlab.pipeline import RunFailed, demo

    reports = Path(tempfile.mkdtemp(prefix="cxlab-bench-"))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"cores: {os.cpu_count()}  load average: {load}  target (serial): <= {TARGET_SERIAL_S:.0f} s  "
          f"reports: {reports}")
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
            data_load = manifest.get("data_load", {})
            print(f"    tables validated once and stashed: {data_load.get('stashed')} "
                  f"({data_load.get('stash_s', float('nan')):.2f} s to write the stash)")
            print(f"    {'step':<24} {'total':>8}  {'setup cell':>10}  {'of it: data':>11}  data from")
            setups = []
            for step in manifest["steps"]:
                setup = setup_seconds(result.run_dir / step["notebook"]) if step.get("notebook") else None
                setups += [setup] if setup is not None else []
                use = data_load.get("steps", {}).get(step["step"], {})
                cell = f"{setup:8.2f} s" if setup is not None else "         ?"
                data = f"{use['seconds']:9.2f} s" if use.get("seconds") is not None else "          ?"
                print(f"    {step['step']:<24} {step['seconds']:6.1f} s  {cell}  {data}  {use.get('from', '?')}"
                      f"  {step['status']}")
            if setups:
                print(f"    setup cells: mean {sum(setups) / len(setups):.2f} s, max {max(setups):.2f} s; "
                      f"load average now {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
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
