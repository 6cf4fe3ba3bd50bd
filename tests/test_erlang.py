"""Erlang B / C / A against published values, exact arithmetic, quadrature and simulation."""

from decimal import Decimal, getcontext

import numpy as np
import pytest
from scipy import integrate

from cxlab.kpis.erlang import (
    agents_needed,
    asa,
    erlang_a,
    erlang_b,
    erlang_c,
    occupancy,
    service_level,
    what_if,
)


def erlang_b_decimal(n: int, a: float, digits: int = 60) -> Decimal:
    """Reference: the Erlang B recursion B(k) = A B(k-1) / (k + A B(k-1)) in 60-digit decimals."""
    getcontext().prec = digits
    b, big_a = Decimal(1), Decimal(str(a))
    for k in range(1, n + 1):
        b = big_a * b / (k + big_a * b)
    return b


# ----------------------------------------------------------------------------- Erlang C


def test_erlang_c_worked_example():
    # KPI_DEFINITIONS.md "Erlang C (what-if)": A = 10 Erlangs, AHT 180 s, T = 20 s
    kw = dict(aht_s=180, t_s=20)
    # 13 agents: SL ≈ 0.7956
    assert service_level(13, 10, **kw) == pytest.approx(0.7956, abs=5e-5)
    # 14 agents: P(wait) ≈ 0.1741, SL ≈ 0.8884, ASA ≈ 7.84 s, occupancy ≈ 0.7143
    assert erlang_c(14, 10) == pytest.approx(0.1741, abs=5e-5)
    assert service_level(14, 10, **kw) == pytest.approx(0.8884, abs=5e-5)
    assert asa(14, 10, aht_s=180) == pytest.approx(7.84, abs=5e-3)
    assert occupancy(14, 10) == pytest.approx(0.7143, abs=5e-5)
    # 15 agents: SL ≈ 0.9415
    assert service_level(15, 10, **kw) == pytest.approx(0.9415, abs=5e-5)


def test_erlang_b_and_c_closed_form_small():
    # closed form, n = 2, A = 1: B = (1/2) / (1 + 1 + 1/2) = 0.2; C = B / (1 − ρ(1 − B)) = 0.2 / 0.6
    assert erlang_b(2, 1) == pytest.approx(0.2, rel=1e-14)
    assert erlang_c(2, 1) == pytest.approx(1 / 3, rel=1e-14)


@pytest.mark.parametrize("n, a", [(2000, 1950), (10, 1000), (10, 11), (1, 0.5), (300, 250.5), (50, 52)])
def test_erlang_b_matches_high_precision_recursion(n, a):
    # reference: 60-digit decimal recursion (no floating-point cancellation)
    ref = erlang_b_decimal(n, a)
    assert erlang_b(n, a) == pytest.approx(float(ref), rel=1e-10)


def test_erlang_c_stable_for_large_n():
    # N = 2,000 agents, A = 1,950 Erlangs: C = B / (1 − ρ(1 − B)) from the 60-digit B
    b = erlang_b_decimal(2000, 1950)
    rho = Decimal(1950) / Decimal(2000)
    ref = float(b / (1 - rho * (1 - b)))
    c = erlang_c(2000, 1950)
    assert np.isfinite(c) and 0 <= c <= 1
    assert c == pytest.approx(ref, rel=1e-10)
    sl = service_level(2000, 1950, aht_s=180, t_s=20)
    assert np.isfinite(sl) and 0 <= sl <= 1
    # closed form SL = 1 − C exp(−(N − A) T / AHT)
    assert sl == pytest.approx(1 - ref * np.exp(-50 * 20 / 180), rel=1e-10)


def test_erlang_b_fractional_agents_match_integral():
    # continuous Erlang B (Jagerman 1974): 1/B(n, A) = A ∫_0^∞ exp(−A t) (1 + t)^n dt; scipy quad
    for n, a in [(10.5, 8.0), (3.25, 6.0), (20.7, 19.0)]:
        inv, _ = integrate.quad(lambda t, a=a, n=n: a * np.exp(-a * t) * (1 + t) ** n, 0, np.inf)
        assert erlang_b(n, a) == pytest.approx(1 / inv, rel=1e-8)
    # and it lies between the neighbouring integers
    assert erlang_b(11, 8) < erlang_b(10.5, 8) < erlang_b(10, 8)


def test_overloaded_erlang_c_conventions():
    # N <= A: no steady state: P(wait) = 1, SL = 0, ASA = inf, occupancy = 1 (documented convention)
    assert erlang_c(10, 10) == 1.0 and erlang_c(9, 10) == 1.0
    assert service_level(10, 12, aht_s=180, t_s=20) == 0.0
    assert asa(10, 10, aht_s=180) == np.inf
    assert occupancy(8, 10) == 1.0
    # no load: nobody waits
    assert erlang_c(3, 0) == 0.0 and service_level(3, 0, aht_s=180, t_s=20) == 1.0


def test_vectorized_broadcasting():
    n = np.array([[13], [14], [15]])
    a = np.array([10.0, 9.0])
    sl = service_level(n, a, aht_s=180, t_s=20)
    assert sl.shape == (3, 2)
    assert sl[1, 0] == pytest.approx(service_level(14, 10, aht_s=180, t_s=20))
    assert np.isscalar(erlang_c(14, 10)) or np.ndim(erlang_c(14, 10)) == 0


def test_agents_needed():
    # from the worked example: 13 agents give SL 0.7956 < 0.80, 14 give 0.8884
    assert agents_needed(10, aht_s=180, t_s=20, target_sl=0.8) == 14
    # 14 give 0.8884 < 0.90, 15 give 0.9415
    assert agents_needed(10, aht_s=180, t_s=20, target_sl=0.9) == 15
    out = agents_needed(np.array([10.0, 1950.0]), aht_s=180, t_s=20, target_sl=0.8)
    assert out[0] == 14
    # the answer is the smallest such N
    assert service_level(out[1], 1950, aht_s=180, t_s=20) >= 0.8 > service_level(out[1] - 1, 1950, aht_s=180, t_s=20)


def test_bad_inputs():
    with pytest.raises(ValueError, match="n must be > 0"):
        erlang_c(0, 10)
    with pytest.raises(ValueError, match=r"target_sl must be a fraction in \(0, 1\)"):
        agents_needed(10, aht_s=180, t_s=20, target_sl=80)
    with pytest.raises(ValueError, match="patience_s must be > 0"):
        erlang_a(14, 10, aht_s=180, patience_s=0, t_s=20)


# ----------------------------------------------------------------------------- Erlang A


def birth_death_reference(n, a, aht, patience, k_max=4000):
    """Exact stationary M/M/n+M probabilities from the truncated birth-death chain (numerical)."""
    lam, mu, theta = a / aht, 1 / aht, 1 / patience
    logp = [0.0]
    for j in range(1, n + k_max):
        death = min(j, n) * mu + max(j - n, 0) * theta
        logp.append(logp[-1] + np.log(lam / death))
    p = np.exp(np.array(logp) - max(logp))
    p /= p.sum()
    j = np.arange(len(p))
    p_wait = p[j >= n].sum()  # PASTA: an arrival finds all n agents busy
    p_ab = theta * ((j - n).clip(0) * p).sum() / lam  # abandonment rate / arrival rate
    return p_wait, p_ab


@pytest.mark.parametrize("n, a, patience", [(3, 2.5, 120.0), (2, 3.0, 60.0), (14, 10.0, 300.0), (5, 4.0, 1e4)])
def test_erlang_a_matches_birth_death_chain(n, a, patience):
    p_wait, p_ab = birth_death_reference(n, a, 180.0, patience)
    r = erlang_a(n, a, aht_s=180, patience_s=patience, t_s=20).iloc[0]
    assert r["p_wait"] == pytest.approx(p_wait, rel=1e-8)
    assert r["p_abandon"] == pytest.approx(p_ab, rel=1e-7)
    # Little's law for the queue: E[W] = P(Ab) × mean patience
    assert r["avg_wait_s"] == pytest.approx(p_ab * patience, rel=1e-7)


def simulate_mmnm(n, lam, mu, theta, customers, seed):
    """Independent reference: event-by-event simulation of M/M/n+M (FCFS, exponential patience)."""
    rng = np.random.default_rng(seed)
    m = customers * 4
    expo, unif = rng.exponential(1.0, m), rng.random(m)
    t, busy, queue, arrived, i = 0.0, 0, [], 0, 0
    found_busy = np.zeros(customers, bool)
    answered = np.zeros(customers, bool)
    wait = np.zeros(customers)
    while arrived < customers or queue:
        ra = lam if arrived < customers else 0.0
        rs, rb = busy * mu, len(queue) * theta
        tot = ra + rs + rb
        t += expo[i] / tot
        u = unif[i] * tot
        i += 1
        if u < ra:  # arrival
            k, arrived = arrived, arrived + 1
            if busy < n:
                busy += 1
                answered[k] = True
            else:
                found_busy[k] = True
                queue.append((k, t))
        elif u < ra + rs:  # service completion: the head of the queue is answered
            if queue:
                k, ta = queue.pop(0)
                answered[k] = True
                wait[k] = t - ta
            else:
                busy -= 1
        else:  # one of the waiting customers (memoryless patience) abandons
            k, ta = queue.pop(min(int((u - ra - rs) / theta), len(queue) - 1))
            wait[k] = t - ta
    return found_busy, answered, wait


def test_erlang_a_matches_simulation():
    n, a, aht, patience, t_s = 3, 2.5, 180.0, 120.0, 20.0
    found_busy, answered, wait = simulate_mmnm(n, a / aht, 1 / aht, 1 / patience, 200_000, seed=7)
    warm = 5_000
    fb, ans, w = found_busy[warm:], answered[warm:], wait[warm:]
    batches = np.array_split(np.arange(len(fb)), 20)

    def batch_stat(f):
        vals = np.array([f(b) for b in batches])
        return vals.mean(), vals.std(ddof=1) / np.sqrt(len(vals))  # batch-means standard error

    est = {
        "p_wait": batch_stat(lambda b: fb[b].mean()),
        "p_abandon": batch_stat(lambda b: 1 - ans[b].mean()),
        "service_level": batch_stat(lambda b: (ans[b] & (w[b] <= t_s)).mean()),
        "asa_s": batch_stat(lambda b: w[b][ans[b]].mean()),
    }
    r = erlang_a(n, a, aht_s=aht, patience_s=patience, t_s=t_s).iloc[0]
    for key, (mean, se) in est.items():
        # tolerance: 4 Monte-Carlo standard errors (batch means over 20 batches of ~9,750 customers)
        assert abs(r[key] - mean) <= 4 * se, (key, r[key], mean, se)


def test_erlang_a_tends_to_erlang_c():
    # patience -> infinity: M/M/n+M -> M/M/n (Garnett, Mandelbaum & Reiman 2002)
    for n in (11, 14, 20):
        r = erlang_a(n, 10, aht_s=180, patience_s=1e12, t_s=20).iloc[0]
        assert r["p_wait"] == pytest.approx(erlang_c(n, 10), rel=1e-8)
        assert r["service_level"] == pytest.approx(service_level(n, 10, aht_s=180, t_s=20), rel=1e-8)
        # Erlang C ASA averages over all contacts; Erlang A's over answered ones (all are answered here)
        assert r["asa_s"] == pytest.approx(asa(n, 10, aht_s=180), rel=1e-7)
        assert r["p_abandon"] < 1e-8
    # the gap closes like 1/patience (a factor ~100 per two decades), it does not stall numerically
    gaps = [abs(erlang_a(11, 10, aht_s=180, patience_s=p, t_s=20)["service_level"].item()
                - service_level(11, 10, aht_s=180, t_s=20)) for p in (1e6, 1e8, 1e10)]
    assert gaps[1] < gaps[0] / 50 and gaps[2] < gaps[1] / 50


def test_erlang_a_overloaded_and_vectorized():
    r = erlang_a(np.array([5, 8, 10, 12]), 10, aht_s=180, patience_s=90, t_s=20)
    assert len(r) == 4
    cols = ["p_wait", "p_abandon", "service_level"]
    assert r[cols].apply(lambda s: s.between(0, 1)).all().all()
    assert np.isfinite(r["asa_s"]).all()
    # more agents: less waiting, fewer abandons, better service
    assert r["p_wait"].is_monotonic_decreasing and r["service_level"].is_monotonic_increasing


def test_what_if_table():
    w = what_if(10, aht_s=180, t_s=20, n=[13, 14, 15])
    # the worked example again
    assert w["service_level"].round(4).tolist() == [0.7956, 0.8884, 0.9415]
    assert w["meets_target"].tolist() == [False, True, True]
    d = what_if(10, aht_s=180, t_s=20, patience_s=300)
    assert d["n"].min() == 8 and d["n"].max() == 14 + 5
    assert {"p_abandon_erlang_a", "service_level_erlang_a", "asa_s_erlang_a"} <= set(d.columns)
