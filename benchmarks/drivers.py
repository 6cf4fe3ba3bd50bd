"""Benchmark: exact relative importance (LMG) and its bootstrap.

Run from the repo root::

    .venv/bin/python benchmarks/drivers.py

Times, on seeded synthetic data with correlated drivers:

1. p = 14 drivers, n = 2,000: :func:`cxlab.focus.relative_importance`
   against ``pingouin.linear_regression(X, y, relimp=True)`` on the same
   data — checks the importances agree to 1e-10 and prints the speed-up
   (target: at least 50x);
2. p = 20 drivers (2^20 sub-models), n = 5,000: relative importance and the
   full dominance analysis (target: relative importance within 3 s);
3. :func:`cxlab.focus.bootstrap_importance`: 1,000 resamples, p = 10,
   n = 50,000 rows (target: within 30 s).

Each line prints the measured time, the target and the ratio
(target / time for the budgets, pingouin / cxlab for the speed-up).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

SEED = 20251


def frame(n: int, p: int, seed: int = SEED) -> pd.DataFrame:
    """n rows of p correlated drivers (shared factor) and an outcome with decreasing weights."""
    rng = np.random.default_rng(seed)
    common = rng.normal(size=(n, 1))
    X = 0.6 * common + rng.normal(size=(n, p))
    y = X @ np.linspace(1.0, 0.05, p) + rng.normal(scale=3.0, size=n)
    df = pd.DataFrame(X, columns=[f"kpi_{i:02d}" for i in range(p)])
    df["csat"] = y
    return df


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> int:
    import pingouin as pg

    from cxlab import focus as dr

    ok = True
    # 1. p = 14 vs pingouin
    df = frame(2000, 14)
    cols = [c for c in df.columns if c != "csat"]
    t_pg, lm = best_of(lambda: pg.linear_regression(df[cols], df["csat"], relimp=True), 1)
    t_cx, ri = best_of(lambda: dr.relative_importance(df, outcome="csat", drivers=cols), 5)
    ref = lm.set_index("names").loc[cols, "relimp"].to_numpy()
    got = ri.set_index("driver").loc[cols, "importance"].to_numpy()
    err = float(np.max(np.abs(ref - got)))
    speedup = t_pg / t_cx
    same = err < 1e-10
    ok &= same and speedup >= 50
    print(f"p=14 LMG vs pingouin relimp: pingouin {t_pg:.3f} s, cxlab {t_cx * 1000:.1f} ms -> "
          f"{speedup:.0f}x faster (target >= 50x; ratio to target {speedup / 50:.1f}); "
          f"max |difference| {err:.1e} ({'equal' if same else 'DIFFERENT'})")

    # 2. p = 20
    df = frame(5000, 20)
    cols = [c for c in df.columns if c != "csat"]
    t20, ri = best_of(lambda: dr.relative_importance(df, outcome="csat", drivers=cols), 2)
    ok &= t20 <= 3.0
    print(f"p=20 LMG (2^20 sub-models): {t20:.2f} s (target <= 3 s; target/time {3.0 / t20:.1f}x); "
          f"sum of parts - R^2 = {ri['importance'].sum() - ri['r2'].iloc[0]:.1e}")
    td, _ = best_of(lambda: dr.dominance(df, outcome="csat", drivers=cols), 1)
    print(f"p=20 full dominance analysis (complete/conditional/general, 190 pairs): {td:.2f} s")
    try:
        dr.relative_importance(frame(500, 22), outcome="csat", drivers=[f"kpi_{i:02d}" for i in range(21)])
    except ValueError as exc:
        print(f"p=21: ValueError as designed: {str(exc)[:90]}...")

    # 3. bootstrap
    df = frame(50_000, 10)
    cols = [c for c in df.columns if c != "csat"]
    tb, bi = best_of(lambda: dr.bootstrap_importance(df, outcome="csat", drivers=cols, n_boot=1000, seed=1), 1)
    ok &= tb <= 30.0
    top = bi.importance.iloc[0]
    print(f"bootstrap 1,000 resamples, p=10, n=50,000: {tb:.2f} s (target <= 30 s; target/time {30.0 / tb:.1f}x); "
          f"top driver {top['driver']} share {top['share']:.3f} "
          f"[{top['share_ci_low']:.3f}, {top['share_ci_high']:.3f}], P(rank 1) {top['p_rank1']:.2f}")
    print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
