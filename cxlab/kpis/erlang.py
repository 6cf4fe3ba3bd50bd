"""Queueing models for staffing what-ifs: Erlang B, Erlang C and Erlang A.

All functions are vectorized: ``n`` (agents) and ``a`` (offered load in
Erlangs, ``A = lambda * AHT``) and the keyword arguments may be scalars or
arrays and broadcast against each other. Scalar inputs give scalar (numpy
float) results. ``n`` may be fractional (an average number of agents from a
staffing table): the continuous extension of Erlang B through the
incomplete gamma function is used throughout.

Numerical method
----------------
No factorials and no powers of ``A`` are formed. Erlang B is computed in
log space from the regularized incomplete gamma function,

.. math:: 1/B(n, A) = e^{A} A^{-n} \\Gamma(n+1, A)
          = Q(n+1, A)\\,/\\,\\mathrm{Poisson}(n; A),

with ``scipy.special.gammaincc`` and ``gammaln`` when ``A < n + 2`` and the
Lentz continued fraction of :math:`\\Gamma(n+1, A)` otherwise (where ``Q``
would underflow). Erlang C follows from B:
:math:`1/C = 1 + (1 - \\rho)(1/B - 1)`, :math:`\\rho = A/n`. This is exact
and stable for N = 2,000 agents and A = 1,950 Erlangs.

Erlang C conventions: for ``n <= a`` (no steady state) P(wait) = 1,
service level = 0, ASA = ``inf`` and occupancy = 1. Erlang A
(:func:`erlang_a`, M/M/n+M) has a steady state for every ``n`` and is the
better model when abandonment is material.

References
----------
.. [1] Cisco / Genesys Erlang C worked example quoted in
   ``docs/KPI_DEFINITIONS.md`` (A = 10, AHT 180 s, T = 20 s).
.. [2] Garnett, O., Mandelbaum, A. & Reiman, M. (2002). Designing a call
   center with impatient customers. *Manufacturing & Service Operations
   Management* 4(3), 208-227.
.. [3] Mandelbaum, A. & Zeltyn, S. (2007). The M/M/n+G queue: summary of
   performance measures. Technion technical note.
.. [4] Press, W. H. et al. *Numerical Recipes*, 3rd ed., section 6.2
   (continued fraction of the incomplete gamma function).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import digamma, gammainc, gammaln

from .._utils import erlang_c as _erlang_c
from .._utils import log_inv_erlang_b

__all__ = [
    "erlang_b",
    "erlang_c",
    "service_level",
    "asa",
    "occupancy",
    "agents_needed",
    "erlang_a",
    "what_if",
]

_EPS = 1e-16


# --------------------------------------------------------------------------- helpers


def _arr(x, name, *, positive=False, nonneg=False):
    arr = np.asarray(x, dtype=float)
    if np.isnan(arr).any():
        raise ValueError(f"{name} must not be NaN")
    if positive and (arr <= 0).any():
        raise ValueError(f"{name} must be > 0; got {x!r}")
    if nonneg and (arr < 0).any():
        raise ValueError(f"{name} must be >= 0; got {x!r}")
    return arr


def _load(n, a):
    """Agents ``n`` (> 0) and offered load ``a`` (Erlangs, >= 0) as checked float arrays."""
    return _arr(n, "n", positive=True), _arr(a, "a", nonneg=True)


def _queue(n, a, aht_s):
    """Checked ``n``, ``a``, ``aht`` and the Erlang C wait probability :math:`C(n, A)`."""
    n, a = _load(n, a)
    aht = _arr(aht_s, "aht_s", positive=True)
    return n, a, aht, np.asarray(erlang_c(n, a))


def _out(arr):
    """Return a 0-d result as a numpy float, arrays unchanged."""
    arr = np.asarray(arr)
    return arr[()] if arr.ndim == 0 else arr


def _log_kummer(s, z):
    """log A(s, z) with A(s, z) = sum_k z^k / ((s+1)...(s+k)) = s e^z z^-s gamma(s, z).

    Also returns d/ds log A(s, z). ``s > 0``, ``z >= 0``. Uses the
    regularized lower incomplete gamma where it does not underflow and the
    (then fast-converging, ratio z/s < 1) power series elsewhere.
    """
    s, z = np.broadcast_arrays(np.asarray(s, float), np.asarray(z, float))
    logA = np.empty(s.shape)
    dlogA = np.empty(s.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = gammainc(s, z)
    use_gamma = (z > 0) & (p > 1e-50)
    if use_gamma.any():
        sg, zg, pg = s[use_gamma], z[use_gamma], p[use_gamma]
        logA[use_gamma] = np.log(sg) + zg - sg * np.log(zg) + gammaln(sg) + np.log(pg)
        h = 1e-4 * np.maximum(1.0, np.sqrt(sg))
        dlogp = (np.log(gammainc(sg + h, zg)) - np.log(gammainc(sg - h, zg))) / (2 * h)
        dlogA[use_gamma] = 1.0 / sg - np.log(zg) + digamma(sg) + dlogp
    ser = ~use_gamma
    if ser.any():
        ss, zs = s[ser], z[ser]
        total = np.ones(ss.shape)
        dtotal = np.zeros(ss.shape)
        term = np.ones(ss.shape)
        harm = np.zeros(ss.shape)
        for k in range(1, 1_000_000):
            term = term * zs / (ss + k)
            harm = harm + 1.0 / (ss + k)
            total = total + term
            dtotal = dtotal - term * harm
            if np.all(term * (1.0 + harm * (ss + k)) <= _EPS * total):
                break
        logA[ser] = np.log(total)
        dlogA[ser] = dtotal / total
    return logA, dlogA


# --------------------------------------------------------------------------- Erlang B / C


def erlang_b(n, a):
    """Erlang B blocking probability of an M/M/n/n loss system.

    Parameters
    ----------
    n : float or array
        Number of servers (agents), > 0; may be fractional.
    a : float or array
        Offered load in Erlangs, >= 0.

    Returns
    -------
    float or ndarray
        B(n, a) in [0, 1].

    Notes
    -----
    :math:`B(n, A) = \\frac{A^n/n!}{\\sum_{k=0}^n A^k/k!}`, computed as
    ``exp(-log(1/B))`` with ``1/B = Q(n+1, A) / Poisson(n; A)`` (no
    factorials).

    Examples
    --------
    >>> round(float(erlang_b(2, 1)), 6)  # (1/2) / (1 + 1 + 1/2)
    0.2
    """
    n, a = _load(n, a)
    n, a = np.broadcast_arrays(n, a)
    out = np.zeros(n.shape)
    pos = a > 0
    if pos.any():
        with np.errstate(over="ignore"):
            out[pos] = np.exp(-log_inv_erlang_b(n[pos], a[pos]))
    return _out(out)


def erlang_c(n, a):
    """Erlang C: probability that a contact waits (M/M/n, infinite patience).

    Parameters
    ----------
    n : float or array
        Agents, > 0.
    a : float or array
        Offered load in Erlangs (arrival rate x AHT), >= 0.

    Returns
    -------
    float or ndarray
        P(wait) in [0, 1]; 1 where ``n <= a`` (the queue grows without bound).

    Notes
    -----
    :math:`C = B / (1 - \\rho (1 - B))` with :math:`\\rho = A/n`, evaluated as
    :math:`1/C = 1 + (1-\\rho)(1/B - 1)`.

    References
    ----------
    docs/KPI_DEFINITIONS.md, "Erlang C (what-if)".

    Examples
    --------
    >>> round(float(erlang_c(14, 10)), 4)
    0.1741
    """
    n, a = _load(n, a)
    return _out(_erlang_c(n, a))


def service_level(n, a, *, aht_s, t_s):
    """Erlang C service level: P(wait <= T).

    Parameters
    ----------
    n, a : float or array
        Agents and offered load (Erlangs).
    aht_s : float or array
        Average handle time, seconds.
    t_s : float or array
        Service-level threshold T, seconds.

    Returns
    -------
    float or ndarray
        :math:`SL = 1 - C(n, A) e^{-(n - A) T / AHT}`; 0 where ``n <= a``.

    Examples
    --------
    >>> round(float(service_level(14, 10, aht_s=180, t_s=20)), 4)
    0.8884
    """
    n, a, aht, c = _queue(n, a, aht_s)
    t = _arr(t_s, "t_s", nonneg=True)
    n, a, aht, t, c = np.broadcast_arrays(n, a, aht, t, c)
    stable = n > a
    with np.errstate(over="ignore", invalid="ignore"):
        sl = np.where(stable, 1.0 - c * np.exp(-(n - a) * t / aht), 0.0)
    return _out(sl)


def asa(n, a, *, aht_s):
    """Erlang C average speed of answer (mean wait of all contacts), seconds.

    Returns
    -------
    float or ndarray
        :math:`ASA = C(n, A) \\cdot AHT / (n - A)`; ``inf`` where ``n <= a``.

    Examples
    --------
    >>> round(float(asa(14, 10, aht_s=180)), 2)
    7.83
    """
    n, a, aht, c = _queue(n, a, aht_s)
    n, a, aht, c = np.broadcast_arrays(n, a, aht, c)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(n > a, c * aht / np.where(n > a, n - a, 1.0), np.inf)
    return _out(out)


def occupancy(n, a):
    """Expected agent occupancy ``min(A / n, 1)``.

    Examples
    --------
    >>> round(float(occupancy(14, 10)), 4)
    0.7143
    """
    n, a = _load(n, a)
    return _out(np.minimum(a / n, 1.0))


def agents_needed(a, *, aht_s, t_s, target_sl):
    """Smallest whole number of agents whose Erlang C service level reaches a target.

    Parameters
    ----------
    a : float or array
        Offered load, Erlangs.
    aht_s, t_s : float or array
        AHT and the service-level threshold, seconds.
    target_sl : float or array
        Target service level as a fraction in (0, 1), e.g. 0.8.

    Returns
    -------
    int or ndarray of int
        The smallest integer ``n > a`` with ``service_level(n, a) >= target_sl``.

    Examples
    --------
    >>> int(agents_needed(10, aht_s=180, t_s=20, target_sl=0.8))
    14
    """
    a = _arr(a, "a", nonneg=True)
    target = _arr(target_sl, "target_sl")
    if ((target <= 0) | (target >= 1)).any():
        raise ValueError(f"target_sl must be a fraction in (0, 1); got {target_sl!r}")
    a, aht, t, target = np.broadcast_arrays(a, _arr(aht_s, "aht_s", positive=True),
                                            _arr(t_s, "t_s", nonneg=True), target)
    n = np.floor(a) + 1.0
    for _ in range(10_000_000):
        short = np.asarray(service_level(n, a, aht_s=aht, t_s=t)) < target
        if not short.any():
            break
        n = n + short
    out = n.astype(np.int64)
    return int(out) if out.ndim == 0 else out


# --------------------------------------------------------------------------- Erlang A


def erlang_a(n, a, *, aht_s, patience_s, t_s):
    """Erlang A (M/M/n+M): Erlang C with exponentially impatient customers.

    Parameters
    ----------
    n : float or array
        Agents, > 0 (``n <= a`` is allowed: abandonment keeps the queue stable).
    a : float or array
        Offered load, Erlangs (arrival rate x AHT), > 0.
    aht_s : float or array
        Mean handle time 1/mu, seconds.
    patience_s : float or array
        Mean patience 1/theta, seconds (exponential).
    t_s : float or array
        Service-level threshold T, seconds.

    Returns
    -------
    DataFrame
        One row per broadcast element: ``n``, ``a``, ``aht_s``,
        ``patience_s``, ``t_s`` and

        * ``p_wait`` — P(an arrival finds every agent busy);
        * ``p_abandon`` — P(the contact abandons);
        * ``service_level`` — P(answered within T), over all offered contacts
          (abandons count against, as in the default SL treatment);
        * ``asa_s`` — mean wait of answered contacts, seconds;
        * ``avg_wait_s`` — mean time in queue of all contacts (answered and
          abandoned), seconds.

    Notes
    -----
    With :math:`\\mu = 1/AHT`, :math:`\\theta = 1/patience`,
    :math:`\\lambda = A\\mu`, :math:`x = n\\mu/\\theta`, :math:`y = \\lambda/\\theta`,
    :math:`\\rho = A/n`, :math:`E = B(n, A)` (Erlang B) and Kummer's
    function :math:`\\mathcal{A}(x, y) = \\sum_{k\\ge0} y^k/((x+1)\\cdots(x+k))
    = x e^y y^{-x} \\gamma(x, y)` ([2]_, [3]_):

    * :math:`P(W>0) = \\mathcal{A} E / (1 + (\\mathcal{A} - 1) E)`;
    * :math:`P(Ab) = P(W>0)\\,[1 - (1 - 1/\\mathcal{A})/\\rho]`;
      :math:`E[W] = P(Ab)/\\theta`;
    * offered wait :math:`V` given :math:`V > 0` has
      :math:`P(V > t \\mid V > 0) = \\gamma(x, y e^{-\\theta t})/\\gamma(x, y)`,
      so :math:`P(\\text{answered}, V \\le T \\mid V > 0) =
      [\\gamma(x+1, y) - \\gamma(x+1, y e^{-\\theta T})] / (y\\,\\gamma(x, y))`
      and SL = :math:`1 - P(W>0) + P(W>0)\\cdot` that;
    * ASA = :math:`E[V e^{-\\theta V}] / P(\\text{answered})` with
      :math:`E[V e^{-\\theta V} \\mid V>0] = P(\\text{ans} \\mid V>0)\\,
      \\theta^{-1} [1/(x+1) - \\partial_s \\log \\mathcal{A}(s, y)|_{s=x+1}]`
      (derivative of the Laplace transform of V).

    All terms are evaluated in log space or as ratios of :math:`\\mathcal{A}`,
    which is well scaled. As patience grows the results tend to Erlang C.

    References
    ----------
    .. [2] Garnett, Mandelbaum & Reiman (2002), MSOM 4(3) 208-227.
    .. [3] Mandelbaum & Zeltyn (2007), The M/M/n+G queue: summary of
       performance measures.

    Examples
    --------
    >>> r = erlang_a(14, 10, aht_s=180, patience_s=1e9, t_s=20)  # ~ Erlang C
    >>> round(float(r["p_wait"].iloc[0]), 4), round(float(r["service_level"].iloc[0]), 4)
    (0.1741, 0.8884)
    """
    n = _arr(n, "n", positive=True)
    a = _arr(a, "a", positive=True)
    aht = _arr(aht_s, "aht_s", positive=True)
    pat = _arr(patience_s, "patience_s", positive=True)
    t = _arr(t_s, "t_s", nonneg=True)
    n, a, aht, pat, t = (np.ravel(v) for v in np.broadcast_arrays(n, a, aht, pat, t))

    theta = 1.0 / pat
    x = n * pat / aht
    y = a * pat / aht
    log_a_x, _ = _log_kummer(x, y)
    log_a_x1, dlog_a_x1 = _log_kummer(x + 1.0, y)
    y_t = y * np.exp(-theta * t)
    log_a_x1_t, _ = _log_kummer(x + 1.0, y_t)
    log_inv_e = log_inv_erlang_b(n, a)

    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        # P(W>0) = 1 / (1 + (1/E - 1) / A)
        ratio = np.exp(log_inv_e - log_a_x) - np.exp(-log_a_x)
        p_wait = 1.0 / (1.0 + ratio)
        # P(answered | V > 0) = x A(x+1, y) / ((x+1) A(x, y))
        p_ans_w = x / (x + 1.0) * np.exp(log_a_x1 - log_a_x)
        p_ans_w = np.clip(p_ans_w, 0.0, 1.0)
        p_abandon = p_wait * (1.0 - p_ans_w)
        # P(answered within T | V > 0)
        log_tail = (log_a_x1_t - log_a_x1) - theta * t * (x + 1.0) + y * (-np.expm1(-theta * t))
        p_ans_t_w = p_ans_w * (1.0 - np.exp(log_tail))
        sl = (1.0 - p_wait) + p_wait * p_ans_t_w
        # E[V; answered] and ASA of answered contacts
        ev_ans = p_wait * p_ans_w * pat * (1.0 / (x + 1.0) - dlog_a_x1)
        p_ans = 1.0 - p_abandon
        asa_s = np.where(p_ans > 0, ev_ans / p_ans, np.nan)
    return pd.DataFrame(
        {
            "n": n,
            "a": a,
            "aht_s": aht,
            "patience_s": pat,
            "t_s": t,
            "p_wait": p_wait,
            "p_abandon": p_abandon,
            "service_level": sl,
            "asa_s": np.maximum(asa_s, 0.0),
            "avg_wait_s": p_abandon * pat,
        }
    )


def what_if(a, *, aht_s, t_s, n=None, patience_s=None, target_sl=0.8):
    """Staffing what-if table for one offered load over a range of agent counts.

    Parameters
    ----------
    a : float
        Offered load, Erlangs.
    aht_s, t_s : float
        AHT and service-level threshold, seconds.
    n : sequence of float, optional
        Agent counts to evaluate. Default: from ``floor(a) + 1`` (from
        ``max(1, floor(0.8 a))`` with ``patience_s``) up to five agents above
        the count that reaches ``target_sl``.
    patience_s : float, optional
        Mean patience; adds the Erlang A columns.
    target_sl : float
        Used only for the default range and the ``meets_target`` column.

    Returns
    -------
    DataFrame
        One row per ``n``: ``n``, ``a``, ``occupancy``, ``p_wait``,
        ``service_level``, ``asa_s`` (Erlang C), ``meets_target``, and with
        ``patience_s``: ``p_wait_erlang_a``, ``p_abandon_erlang_a``,
        ``service_level_erlang_a``, ``asa_s_erlang_a``.

    Examples
    --------
    >>> w = what_if(10, aht_s=180, t_s=20, n=[13, 14, 15])
    >>> w["service_level"].round(4).tolist()
    [0.7956, 0.8884, 0.9415]
    """
    a = float(a)
    if n is None:
        top = agents_needed(a, aht_s=aht_s, t_s=t_s, target_sl=target_sl) + 5
        start = max(1, int(np.floor(0.8 * a))) if patience_s is not None else int(np.floor(a)) + 1
        n = np.arange(start, top + 1, dtype=float)
    n = _arr(n, "n", positive=True).ravel()
    out = pd.DataFrame({"n": n, "a": a})
    out["occupancy"] = occupancy(n, a)
    out["p_wait"] = erlang_c(n, a)
    out["service_level"] = service_level(n, a, aht_s=aht_s, t_s=t_s)
    out["asa_s"] = asa(n, a, aht_s=aht_s)
    out["meets_target"] = out["service_level"] >= target_sl
    if patience_s is not None:
        ea = erlang_a(n, a, aht_s=aht_s, patience_s=patience_s, t_s=t_s)
        for col in ("p_wait", "p_abandon", "service_level", "asa_s"):
            out[f"{col}_erlang_a"] = ea[col].to_numpy()
    return out
