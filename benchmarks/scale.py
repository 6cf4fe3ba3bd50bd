"""Benchmark: the scaling curve of the day x queue KPI table (7-day FCR window), 1M -> 100M contacts.

Run from the repo root::

    .venv/bin/python benchmarks/scale.py                 # 1M, 10M, 30M, 100M
    .venv/bin/python benchmarks/scale.py --max 10000000  # stop at 10M
    .venv/bin/python benchmarks/scale.py --data /tmp/scale --delete

It writes (once, cached under ``benchmarks/_data/`` or ``--data``) a synthetic
interactions Parquet file per size with DuckDB itself (counter-based hashes of
the row number, so every size is reproducible and needs no numpy arrays:
~15% of contacts are repeats of an earlier one after an exponential 3-day
gap, a customer has ~4 contacts a year, rows ordered by arrival), then times
for each size, each in its own child process so the peak RSS is its own:

1. :func:`cxlab.kpis.kpi_table` on the Parquet path (the out-of-core bucketed
   repeat window above ``out_of_core_rows``, see docs/scale.md), with the
   :mod:`cxlab.kpis._resources` defaults, and
2. a plain hand-written DuckDB query of the same KPIs (``LEAD``/``LAG`` over
   ``PARTITION BY customer_id ORDER BY arrived_at`` and one ``GROUP BY``) on a
   default ``duckdb.connect()``,

prints wall time, CPU time and peak RSS, the ratio of the two, whether the
tables agree (integer counts equal, sums to 1e-9) and the load average, and
checks the targets: 10M <= 3 s, 100M <= 60 s and <= 8 GB on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TZ = "America/New_York"
SIZES = (1_000_000, 10_000_000, 30_000_000, 100_000_000)
TARGETS = {10_000_000: (3.0, None), 100_000_000: (60.0, 8.0)}
#: the sums compared between the two implementations (kpi_table's names)
COLUMNS = ("offered", "handled", "abandoned", "short_abandoned", "service_level_num", "service_level_den",
           "abandon_rate_num", "abandon_rate_den", "asa_num", "asa_den", "aht_num", "aht_den", "fcr_num",
           "fcr_den", "transfer_rate_num", "transfer_rate_den", "hold_rate_num", "hold_rate_den")


def _u(k: int) -> str:
    """A uniform (0, 1) double from the row number ``i`` and stream ``k`` (53 bits of DuckDB's hash)."""
    return f"((CAST(hash(i, {k}) >> 11 AS DOUBLE) + 0.5) * 1.1102230246251565e-16)"


def generate(rows: int, data: Path) -> Path:
    """Write (or reuse) ``interactions_<rows>.parquet`` under ``data``."""
    import duckdb

    data.mkdir(parents=True, exist_ok=True)
    path = data / f"interactions_{rows}.parquet"
    if path.exists():
        return path
    n_first, n_cust = int(rows * 0.85), max(1, rows // 4)
    start, year = 1_735_707_600_000_000, 365 * 86_400 * 1_000_000  # 2025-01-01 05:00 UTC, one year
    parent = f"(CASE WHEN i < {n_first} THEN i ELSE hash(i, 3) % {n_first} END)"
    t_us = (f"({start} + CAST(hash({parent}, 2) % {year} AS BIGINT) + CASE WHEN i < {n_first} THEN 0 "
            f"ELSE CAST(-ln({_u(4)}) * 3 * 86400e6 AS BIGINT) END)")
    sql = f"""
    COPY (
    WITH s AS (SELECT i, {t_us} AS t_us FROM range({rows}) r(i) ORDER BY t_us),
    c AS (
      SELECT i, t_us, CAST(hash({parent}, 1) % {n_cust} AS BIGINT) AS cust, round(-ln({_u(5)}) * 35, 1) AS wait_s,
        {_u(6)} AS ua, CAST(hash(i, 7) % 6 AS BIGINT) AS qi, {_u(8)} AS uc, {_u(9)} AS uh, {_u(10)} AS ut
      FROM s),
    d AS (SELECT *, ua < 0.02 + 0.25 * (1 - exp(-wait_s / 120)) AS abandoned FROM c)
    SELECT 'I' || i AS interaction_id, 'C' || cust AS customer_id,
      CASE WHEN uc < 0.6 THEN 'voice' WHEN uc < 0.85 THEN 'chat' WHEN uc < 0.95 THEN 'email' ELSE 'messaging' END
        AS channel,
      'inbound' AS direction,
      ['billing', 'tech_support', 'sales', 'retention', 'orders', 'general'][qi + 1] AS queue,
      CASE WHEN abandoned THEN NULL ELSE 'A' || (hash(i, 11) % 400) END AS agent_id,
      make_timestamptz(t_us) AS arrived_at, wait_s,
      CASE WHEN abandoned THEN 0.0 ELSE round(-180 * (ln({_u(12)}) + ln({_u(13)})), 1) END AS talk_s,
      CASE WHEN abandoned OR uh < 0.7 THEN 0.0 ELSE round(-ln({_u(14)}) * 45, 1) END AS hold_s,
      CASE WHEN abandoned THEN 0.0 ELSE round(-ln({_u(15)}) * 40, 1) END AS acw_s,
      abandoned, NOT abandoned AND ut < 0.08 AS transferred
    FROM d
    ) TO '{path}.tmp' (FORMAT parquet, ROW_GROUP_SIZE 1000000)
    """
    con = duckdb.connect()
    con.execute("SET memory_limit = '6GB'")
    con.execute(f"SET temp_directory = '{data / 'duckdb_tmp'}'")
    con.execute("SET enable_progress_bar = false")
    con.execute(sql)
    con.close()
    Path(f"{path}.tmp").rename(path)
    return path


def plain_sql(path: str) -> str:
    """The same KPIs (default options: T = 20 s, short abandons < 5 s excluded, W = 7 days any channel)."""
    w = 7 * 86_400 * 1_000_000
    return f"""
    WITH c AS (
      SELECT queue, CAST(timezone('{TZ}', arrived_at) AS DATE) AS day, abandoned, wait_s, talk_s, hold_s, acw_s,
        transferred, customer_id, epoch_us(arrived_at) AS t,
        LEAD(epoch_us(arrived_at)) OVER w AS nxt, LAG(epoch_us(arrived_at)) OVER w AS prv
      FROM read_parquet('{path}') WHERE COALESCE(direction, 'inbound') = 'inbound'
      WINDOW w AS (PARTITION BY customer_id ORDER BY arrived_at)),
    f AS (SELECT *, NOT abandoned AS h, abandoned AND wait_s < 5 AS sh,
            (SELECT MAX(epoch_us(arrived_at)) FROM read_parquet('{path}')) - t >= {w} AS complete,
            COALESCE(prv = t OR nxt = t OR nxt - t <= {w}, FALSE) AS rep FROM c)
    SELECT day, queue, COUNT(*) AS offered, COUNT(*) FILTER (WHERE h) AS handled,
      COUNT(*) FILTER (WHERE abandoned) AS abandoned, COUNT(*) FILTER (WHERE sh) AS short_abandoned,
      COUNT(*) FILTER (WHERE h AND wait_s <= 20) AS service_level_num, COUNT(*) FILTER (WHERE NOT sh) AS service_level_den,
      COUNT(*) FILTER (WHERE abandoned AND NOT sh) AS abandon_rate_num, COUNT(*) FILTER (WHERE NOT sh) AS abandon_rate_den,
      SUM(wait_s) FILTER (WHERE h) AS asa_num, COUNT(*) FILTER (WHERE h) AS asa_den,
      SUM(talk_s + hold_s + acw_s) FILTER (WHERE h) AS aht_num, COUNT(*) FILTER (WHERE h) AS aht_den,
      COUNT(*) FILTER (WHERE h AND customer_id IS NOT NULL AND complete AND NOT rep) AS fcr_num,
      COUNT(*) FILTER (WHERE h AND customer_id IS NOT NULL AND complete) AS fcr_den,
      COUNT(*) FILTER (WHERE h AND transferred) AS transfer_rate_num, COUNT(*) FILTER (WHERE h) AS transfer_rate_den,
      COUNT(*) FILTER (WHERE h AND hold_s > 0) AS hold_rate_num, COUNT(*) FILTER (WHERE h) AS hold_rate_den
    FROM f GROUP BY day, queue ORDER BY day, queue
    """


def _child(which: str, path: str, out: str) -> None:
    import duckdb
    import pandas  # noqa: F401  (imports are not part of the timing)

    from cxlab.kpis import kpi_table

    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    if which == "cxlab":
        table = kpi_table(path, by=("day", "queue"), timezone=TZ)
    else:
        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")
        table = con.execute(plain_sql(path)).df()
        con.close()
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    table[["day", "queue", *COLUMNS]].to_parquet(out)
    print(json.dumps({"wall_s": wall, "cpu_s": r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime,
                      "peak_rss_gb": r1.ru_maxrss / 1024**2, "rows": len(table)}))


def _timed(which: str, path: Path, out: Path) -> dict:
    run = subprocess.run([sys.executable, __file__, "--child", which, str(path), str(out)],
                         capture_output=True, text=True, check=False)
    if run.returncode:
        raise SystemExit(f"{which} on {path.name} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def _compare(a: Path, b: Path) -> tuple[bool, float]:
    import numpy as np
    import pandas as pd

    x, y = pd.read_parquet(a), pd.read_parquet(b)
    for d in (x, y):
        d["day"] = pd.to_datetime(d["day"]).astype("datetime64[ns]")
    x = x.sort_values(["day", "queue"]).reset_index(drop=True)
    y = y.sort_values(["day", "queue"]).reset_index(drop=True)
    if not x[["day", "queue"]].equals(y[["day", "queue"]]):
        return False, float("inf")
    ints = [c for c in COLUMNS if not c.startswith(("asa_num", "aht_num"))]
    same_ints = all((x[c].to_numpy(np.int64) == y[c].to_numpy(np.int64)).all() for c in ints)
    rel = max(float(np.max(np.abs(x[c] - y[c]) / np.maximum(1.0, np.abs(y[c])))) for c in ("asa_num", "aht_num"))
    return same_ints and rel <= 1e-9, rel


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max", type=int, default=SIZES[-1], help="largest size to run (rows)")
    ap.add_argument("--data", type=Path, default=HERE / "_data", help="folder for the generated Parquet files")
    ap.add_argument("--skip-plain", action="store_true", help="do not run the plain DuckDB query")
    ap.add_argument("--delete", action="store_true", help="delete each generated file after its size")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--generate", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.generate:
        generate(int(args.generate[0]), Path(args.generate[1]))
        return 0
    if args.child:
        _child(*args.child)
        return 0
    import cxlab.kpis._resources as res

    s = res.settings()
    print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"kpi_table: memory_limit {s['memory_limit'] / 1e9:.1f} GB, threads {s['threads']}, "
          f"out-of-core from {s['out_of_core_rows']:,} rows, {s['bucket_rows']:,} rows a bucket")
    print(f"{'contacts':>12} {'cxlab s':>8} {'CPU s':>6} {'RSS GB':>7} {'plain s':>8} {'RSS GB':>7} "
          f"{'ratio':>6} {'equal':>6} {'load':>5}")
    ok, report = True, []
    for rows in [n for n in SIZES if n <= args.max]:
        t0 = time.perf_counter()
        # in a child process: a child's ru_maxrss starts from its parent's peak on Linux (kept across exec)
        subprocess.run([sys.executable, __file__, "--generate", str(rows), str(args.data)], check=True)
        path = args.data / f"interactions_{rows}.parquet"
        gen_s = time.perf_counter() - t0
        a = _timed("cxlab", path, args.data / "_scale_cxlab.parquet")
        row = {"rows": rows, "generate_s": gen_s, "cxlab": a}
        line = f"{rows:>12,} {a['wall_s']:>8.2f} {a['cpu_s']:>6.1f} {a['peak_rss_gb']:>7.2f}"
        if not args.skip_plain:
            b = _timed("plain", path, args.data / "_scale_plain.parquet")
            equal, rel = _compare(args.data / "_scale_cxlab.parquet", args.data / "_scale_plain.parquet")
            row.update(plain=b, equal=equal, max_rel_diff=rel)
            ok &= equal
            line += (f" {b['wall_s']:>8.2f} {b['peak_rss_gb']:>7.2f} {b['wall_s'] / a['wall_s']:>5.2f}x "
                     f"{str(equal):>6}")
        else:
            line += f" {'':>8} {'':>7} {'':>6} {'':>6}"
        line += f" {os.getloadavg()[0]:>5.1f}"
        if rows in TARGETS:
            t_s, t_gb = TARGETS[rows]
            line += f"  target <= {t_s:g} s: {a['wall_s'] / t_s:.2f}x"
            if t_gb:
                line += f", <= {t_gb:g} GB: {a['peak_rss_gb'] / t_gb:.2f}x"
        print(line, flush=True)
        report.append(row)
        if args.delete:
            path.unlink()
    print(json.dumps(report, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
