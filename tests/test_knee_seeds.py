"""The wait knee and the SL threshold on the sample over five seeds (issue 19, "Must show").

The sample's structural model (cxlab.sample.LATENT_MODEL) lowers satisfaction by
``wait_excess * log1p(max(0, wait_s - 30) / 60)``: flat up to 30 s, then a concave fall.
The default sample is a small center whose waits are mostly 0 s or minutes; these tests
use ``center_contacts_per_day=10_000`` (the contacts are a 1-in-10 share of a large
center's pooled queues, same 80/20 plan), where many contacts wait 5-120 s.
Measured numbers are in docs/alignment.md.
"""

from __future__ import annotations

import hashlib
import time

import numpy as np
import pandas as pd
import pytest

from cxlab.correlate.alignment import kpi_alignment
from cxlab.correlate.curves import response_curve
from cxlab.sample import LATENT_MODEL, generate

TZ = "America/New_York"
SEEDS = (1, 2, 3, 4, 5)
DAYS, PER_DAY, CENTER = 120, 1000, 10_000
KNEES = np.arange(0.0, 151.0, 5.0)  # candidate knees every 5 s
SCALES = (30.0, 60.0, 120.0)  # candidate curvature scales of the concave segment (plus the straight hinge)


def _hash(tables) -> str:
    h = hashlib.sha256()
    for name in sorted(tables):
        df = tables[name]
        h.update(name.encode() + repr(list(df.columns)).encode() + repr([str(x) for x in df.dtypes]).encode())
        h.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
    return h.hexdigest()[:20]


def _frame(t) -> pd.DataFrame:
    f = t["surveys"][["interaction_id", "csat"]].merge(
        t["interactions"][["interaction_id", "wait_s", "resolved", "transferred", "arrived_at"]],
        on="interaction_id").dropna(subset=["csat"])
    f["cx_top2"] = (f["csat"] >= 4).astype(float)
    f["date"] = f["arrived_at"].dt.tz_convert(TZ).dt.date
    f[["resolved", "transferred"]] = f[["resolved", "transferred"]].astype(float)
    return f


@pytest.fixture(scope="module")
def busy():
    return {s: generate(seed=s, days=DAYS, contacts_per_day=PER_DAY, center_contacts_per_day=CENTER) for s in SEEDS}


def test_default_sample_is_unchanged():
    # hash of generate(seed=1, days=120, contacts_per_day=400) computed before center_contacts_per_day existed
    # (same helper, same pandas); the option at the sample's own size is the default path
    t = generate(seed=1, days=DAYS, contacts_per_day=400)
    assert _hash(t) == "a4f71b157d6ac9a943ef"
    assert _hash(generate(seed=1, days=DAYS, contacts_per_day=400, center_contacts_per_day=400)) == _hash(t)
    with pytest.raises(ValueError, match="at least contacts_per_day"):
        generate(days=7, contacts_per_day=100, center_contacts_per_day=50)


def test_busy_center_cache_and_truth(tmp_path, monkeypatch):
    from cxlab.sample import ground_truth, load_sample, write

    monkeypatch.setenv("CXLAB_CACHE", str(tmp_path))
    monkeypatch.setattr(write, "_MEMO", {})
    monkeypatch.setattr(write, "_TRUTH_MEMO", {})
    assert write._cache_path(1, 7, 100, 1000).name.endswith("-center1000")
    t = load_sample(seed=1, days=7, contacts_per_day=100, center_contacts_per_day=1000)
    assert _hash(t) == _hash(generate(seed=1, days=7, contacts_per_day=100, center_contacts_per_day=1000))
    assert ground_truth(seed=1, days=7, contacts_per_day=100, center_contacts_per_day=1000)[
        "center_contacts_per_day"] == 1000
    assert "center_contacts_per_day" not in ground_truth(seed=1, days=7, contacts_per_day=100)


def test_busy_center_populates_waits_of_5_to_120_s(busy):
    shares = []
    for t in busy.values():
        w = _frame(t)["wait_s"]
        shares.append(float(((w >= 5) & (w < 120)).mean()))
    default = _frame(generate(seed=1, days=DAYS, contacts_per_day=PER_DAY))["wait_s"]
    d = float(((default >= 5) & (default < 120)).mean())
    print(f"surveyed contacts waiting 5-120 s: busy center {np.round(shares, 3).tolist()}, default {d:.3f}")
    assert min(shares) > 2 * d  # measured: 0.136-0.156 against 0.057 (seeds 1-5, default seed 1)
    staffed = busy[1]["staffing"]["agents_staffed"]
    assert (staffed > 0).all() and not np.allclose(staffed, np.round(staffed))  # N / k: fractional agents


def test_wait_knee_covers_30s_over_five_seeds(busy):
    true_knee = LATENT_MODEL["wait_knee_s"]  # 30 s, the structural model's threshold
    rows = []
    t0 = time.time()
    for s, t in busy.items():
        c = response_curve(_frame(t), "wait_s", "cx_top2", covariates=["resolved", "transferred"], grid=KNEES,
                           shape="log", scales=SCALES, flat_below=True, n_boot=100, seed=s)
        rows.append({"seed": s, "knee": c.knee, "low": c.knee_low, "high": c.knee_high,
                     "width": c.knee_high - c.knee_low, "scale": c.scale, "p_knee": c.p_knee, "n": c.n})
    r = pd.DataFrame(rows)
    print(r.to_string(), f"\n{time.time() - t0:.1f} s")
    assert ((r["low"] <= true_knee) & (true_knee <= r["high"])).all()
    # measured (docs/alignment.md): widths 30, 33, 43, 78, 58 s over seeds 1-5 (median 43 s); the straight
    # hinge with a free slope below the knee gave about 4-200 s on the default sample
    assert r["width"].max() <= 80
    assert r["width"].median() <= 50


def test_sl_threshold_over_five_seeds(busy):
    rows = []
    for s, t in busy.items():
        a = kpi_alignment(t, timezone=TZ, thresholds=(10, 20, 30, 45, 60, 90), windows=(7,), grains=("contact",),
                          n_boot=50, seed=s)
        sl = a[a["kpi"] == "service_level"].copy()
        sl["T"] = sl["definition"].str.split(" ").str[2].astype(float)
        rows.append({"seed": s, "best_T": float(sl.loc[sl["best"], "T"].iloc[0]),
                     "lowest_T_tying_best": float(sl.loc[sl["ties_best"], "T"].min()),
                     "score_30": float(sl.loc[sl["T"] == 30, "score"].iloc[0]),
                     "score_best": float(sl["score"].max())})
        assert sl["best"].sum() == 1 and sl.loc[sl["best"], "ties_best"].all()
    r = pd.DataFrame(rows)
    print(r.to_string())
    # Honest negative result (docs/alignment.md): the correlation-best threshold is never below the knee
    # and is mostly well above it (a concave fall beyond 30 s makes "answered within a larger T" separate the
    # badly hurt contacts better), and even the lowest threshold that ties the best is not reliably 30 s.
    # "Which T tracks CX" is therefore not "where CX starts to fall"; the knee answers the latter.
    assert (r["best_T"] >= LATENT_MODEL["wait_knee_s"]).all()
