"""Step 6, verdict: did the pilot confirm the prediction of the driver model?

Scales a what-if prediction to the change a pilot achieved
(:func:`predicted_effect`), labels the pilot "held", "did not hold" or
"inconclusive — too small to tell" with a one-sentence reason
(:func:`verdict`), and assembles step 6's recorded verdict with the
inference used and, when inconclusive, the next pilot (:func:`verdict_record`,
:func:`next_pilot`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._utils import require_columns

__all__ = ["predicted_effect", "Verdict", "verdict", "LABELS", "next_pilot", "verdict_record"]

#: The verdict vocabulary (issue 18): what the brief may print.
LABELS = ("held", "did not hold", "inconclusive — too small to tell")


def predicted_effect(what_if: pd.DataFrame, *, driver: str, change: float) -> dict:
    """Scale a what-if prediction (step 5) to the driver change a pilot actually achieved.

    Parameters
    ----------
    what_if : DataFrame
        :func:`cxlab.focus.what_if` output (or step 5's recorded rows) with
        ``driver``, ``change``, ``coef``, ``effect``, ``ci_low``, ``ci_high``.
    driver : str
        The driver the pilot moved (a row of ``what_if``).
    change : float
        The achieved change, in the driver's units (e.g. the DiD on the
        resolution flag / 100 for a 0/1 driver).

    Returns
    -------
    dict
        ``driver``, ``change``, ``coef`` (outcome units per driver unit),
        ``effect`` (coef × change), ``ci_low``, ``ci_high`` (the what-if
        interval scaled to ``change``).

    Notes
    -----
    The model is linear in the driver, so the prediction for a change
    :math:`c` is :math:`\\hat\\beta c` and its interval is the stated
    change's interval times :math:`c/c_0` (bounds swap when the ratio is
    negative). The uncertainty of the achieved change itself is not added.

    References
    ----------
    .. [1] Efron, B. & Tibshirani, R.J. (1993) *An Introduction to the
       Bootstrap*, ch. 13 (percentile intervals are equivariant).

    Examples
    --------
    >>> wi = pd.DataFrame({"driver": ["resolved"], "change": [0.05], "coef": [38.0], "effect": [1.9],
    ...                    "ci_low": [1.8], "ci_high": [2.0]})
    >>> p = predicted_effect(wi, driver="resolved", change=0.075)
    >>> round(p["effect"], 3), round(p["ci_low"], 3), round(p["ci_high"], 3)
    (2.85, 2.7, 3.0)
    """
    require_columns(what_if, ["driver", "change", "coef", "effect", "ci_low", "ci_high"], what="what_if")
    rows = what_if[what_if["driver"] == driver]
    if rows.empty:
        raise ValueError(f"what_if has no row for driver {driver!r}; it has {list(what_if['driver'])}")
    row = rows.iloc[0]
    ratio = float(change) / float(row["change"])
    lo, hi = sorted((float(row["ci_low"]) * ratio, float(row["ci_high"]) * ratio))
    return {"driver": driver, "change": float(change), "coef": float(row["coef"]),
            "effect": float(row["coef"]) * float(change), "ci_low": lo, "ci_high": hi}


@dataclass(frozen=True)
class Verdict:
    """Result of :func:`verdict`.

    Attributes
    ----------
    label : str
        One of :data:`LABELS`: ``"held"``, ``"did not hold"`` or
        ``"inconclusive — too small to tell"``.
    reason : str
        One plain-language sentence saying why (for the brief).
    sentence : str
        The same sentence (kept for readers of earlier records).
    observed, observed_ci_low, observed_ci_high : float
        The pilot's effect and its CI (NaN bounds when the readout has none).
    predicted, predicted_ci_low, predicted_ci_high : float
        The prediction and its CI (NaN bounds when none was given).
    ratio : float
        observed / predicted.
    difference_ci_low, difference_ci_high : float
        CI of observed − predicted (combining both uncertainties).
    excludes_zero : bool
        The observed CI excludes 0.
    excludes_prediction : bool
        The observed effect is incompatible with the prediction (see Notes).
    ruled_out : bool
        An effect the size of the prediction is ruled out by the
        equivalence test (``equivalence_p < alpha``).
    same_sign : bool
        Observed and predicted effects point the same way.
    equivalence_p : float
        TOST p-value against ±|prediction| (NaN when not given).
    """

    label: str
    reason: str
    sentence: str
    observed: float
    observed_ci_low: float
    observed_ci_high: float
    predicted: float
    predicted_ci_low: float
    predicted_ci_high: float
    ratio: float
    difference_ci_low: float
    difference_ci_high: float
    excludes_zero: bool
    excludes_prediction: bool
    ruled_out: bool
    same_sign: bool
    equivalence_p: float

    def as_dict(self) -> dict:
        """JSON-able dict (NaN becomes None)."""
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in asdict(self).items()}


def verdict(
    observed_effect: float,
    observed_ci,
    predicted_effect: float,
    predicted_ci=None,
    *,
    equivalence_p: float | None = None,
    alpha: float = 0.05,
    what: str = "the effect",
    unit: str = "",
    digits: int = 1,
    no_interval_reason: str | None = None,
) -> Verdict:
    r"""Did the pilot confirm the predicted effect? "held" / "did not hold" / "inconclusive — too small to tell".

    Parameters
    ----------
    observed_effect : float
        The pilot's estimated effect (e.g. DiD on CSAT).
    observed_ci : (float, float)
        Its confidence interval; NaN bounds when the readout gives none
        (e.g. a single treated team): the verdict is then inconclusive.
    predicted_effect : float
        What the driver model predicted for the pilot's change in the driver.
    predicted_ci : (float, float), optional
        The prediction's interval, if known.
    equivalence_p : float, optional
        p-value of the equivalence test (TOST) of the observed effect
        against ±|predicted_effect| (e.g. ``p_equiv`` of
        :func:`cxlab.verify.pilot_readout` with ``margin=abs(prediction)``).
    alpha : float, default 0.05
        Level of the equivalence test.
    what : str
        Names the effect in the sentence, e.g. ``"the CSAT effect"``.
    unit : str
        Unit appended to numbers in the sentence, e.g. ``" points"``.
    digits : int, default 1
        Decimals in the sentence.
    no_interval_reason : str, optional
        Why the readout has no interval (a phrase), for the sentence.

    Returns
    -------
    Verdict
        Frozen dataclass (fields documented in :class:`Verdict`); ``as_dict()``
        gives a JSON-able record.

    Notes
    -----
    *excludes zero*: the observed CI excludes 0. *excludes the prediction*:
    the observed CI does not cover the predicted value, or — when
    ``predicted_ci`` is given — the interval of the difference observed −
    predicted excludes 0, with each SE read off its interval as
    width / (2·1.96) and :math:`SE_{diff} = \sqrt{SE_o^2 + SE_p^2}`.
    *ruled out*: TOST rejects :math:`|\theta| \ge |\hat\delta_{pred}|`
    at α, i.e. an effect as large as predicted is excluded. The rule:

    * **held** — excludes zero, same sign as predicted, and does not
      exclude the prediction;
    * **did not hold** — excludes the prediction (opposite sign, clearly
      smaller or larger), or an effect the size of the prediction is ruled
      out;
    * **inconclusive — too small to tell** — neither: the interval covers
      both no effect and the prediction (or there is no interval).

    References
    ----------
    .. [1] Gelman, A. & Stern, H. (2006) The difference between
       "significant" and "not significant" is not itself statistically
       significant. *The American Statistician* 60, 328–331.
    .. [2] Lakens, D. (2017) Equivalence tests: a practical primer.
       *Social Psychological and Personality Science* 8, 355–362.

    Examples
    --------
    >>> v = verdict(2.8, (1.2, 4.4), 3.0, what="the CSAT effect", unit=" points")
    >>> v.label
    'held'
    >>> v.reason
    'The pilot confirmed the prediction: the CSAT effect was +2.8 points (95% CI +1.2 to +4.4), in line with the predicted +3.0 points.'
    >>> verdict(1.0, (0.5, 1.5), 3.0).label
    'did not hold'
    >>> verdict(0.4, (-1.0, 3.8), 3.0).label
    'inconclusive — too small to tell'
    """
    try:
        lo, hi = (float(v) for v in observed_ci)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"observed_ci must be a pair of numbers; got {observed_ci!r}") from exc
    obs, pred = float(observed_effect), float(predicted_effect)
    if not all(np.isfinite([obs, pred])):
        raise ValueError("observed_effect and predicted_effect must be finite")
    has_ci = bool(np.isfinite(lo) and np.isfinite(hi))
    if has_ci and lo > hi:
        raise ValueError(f"observed_ci must be (low, high); got {observed_ci!r}")
    q = stats.norm.ppf(0.975)
    plo = phi = np.nan
    if predicted_ci is not None:
        plo, phi = (float(v) for v in predicted_ci)
        if plo > phi:
            raise ValueError(f"predicted_ci must be (low, high); got {predicted_ci!r}")
    if not has_ci:
        dlo = dhi = np.nan
        consistent = True
    elif predicted_ci is not None and np.isfinite(plo) and np.isfinite(phi):
        se_diff = math.hypot((hi - lo) / (2 * q), (phi - plo) / (2 * q))
        dlo, dhi = obs - pred - q * se_diff, obs - pred + q * se_diff
        consistent = bool(dlo <= 0 <= dhi)
    else:
        dlo, dhi = obs - pred - (obs - lo), obs - pred + (hi - obs)
        consistent = bool(lo <= pred <= hi)
    excludes_zero = bool(has_ci and (lo > 0 or hi < 0))
    p_eq = np.nan if equivalence_p is None else float(equivalence_p)
    ruled_out = bool(has_ci and np.isfinite(p_eq) and p_eq < alpha and pred != 0)
    same_sign = bool(np.sign(obs) == np.sign(pred) and pred != 0)
    ratio = obs / pred if pred != 0 else np.nan

    def f(x):
        return f"{x:+.{digits}f}{unit}"

    ci = f"95% CI {lo:+.{digits}f} to {hi:+.{digits}f}" if has_ci else "no interval"
    if not has_ci:
        label = LABELS[2]
        why = no_interval_reason or "the readout has no valid interval"
        reason = (f"The pilot cannot tell: {what} was {f(obs)}, but {why}, so it cannot be compared with the "
                  f"predicted {f(pred)}.")
    elif excludes_zero and same_sign and consistent:
        label = LABELS[0]
        reason = (f"The pilot confirmed the prediction: {what} was {f(obs)} ({ci}), "
                  f"in line with the predicted {f(pred)}.")
    elif not consistent:
        label = LABELS[1]
        if excludes_zero and not same_sign:
            reason = (f"The pilot contradicted the prediction: {what} was {f(obs)} ({ci}), "
                      f"the opposite of the predicted {f(pred)}.")
        elif excludes_zero:
            size = "smaller" if abs(obs) < abs(pred) else "larger"
            reason = (f"The effect was real but clearly {size} than predicted: {what} was {f(obs)} ({ci}), "
                      f"about {ratio:.0%} of the predicted {f(pred)}.")
        else:
            reason = (f"The pilot found no effect of the predicted size: {what} was {f(obs)} ({ci}), "
                      f"which rules out the predicted {f(pred)}.")
    elif ruled_out:
        label = LABELS[1]
        reason = (f"An effect the size of the prediction is ruled out: {what} was {f(obs)} ({ci}); the "
                  f"equivalence test puts it within ±{abs(pred):.{digits}f}{unit} (p = {p_eq:.3f}).")
    else:
        label = LABELS[2]
        reason = (f"The pilot was too small to tell: {what} was {f(obs)} ({ci}), an interval that "
                  f"covers both no effect and the predicted {f(pred)}.")
    return Verdict(label, reason, reason, obs, lo, hi, pred, plo, phi, ratio, dlo, dhi, excludes_zero,
                   not consistent, ruled_out, same_sign, p_eq)


def next_pilot(design: pd.DataFrame, *, start_date, unit: str = "team", days=None) -> dict:
    """The next pilot in three numbers (size, duration, start date) from :func:`pilot_design`.

    Parameters
    ----------
    design : DataFrame
        :func:`cxlab.verify.pilot_design` output (its ``"t"`` row is used).
    start_date : date-like
        Planned first day.
    unit : str, default "team"
        Unit of randomization (``"team"``, ``"agent"``, ``"contact"``).
    days : int, optional
        Planned length; default the design's ``days`` rounded up.

    Returns
    -------
    dict
        ``unit``, ``units_per_arm`` (clusters per arm rounded up, None
        for contact designs), ``contacts_per_arm`` (observations per arm,
        rounded up), ``days`` (int or None), ``start_date`` (ISO date),
        ``end_date`` (last day, inclusive; None without ``days``),
        ``power`` and ``effect`` (what it is sized for).

    Examples
    --------
    >>> d = pd.DataFrame({"method": ["t"], "clusters_per_arm": [5.2], "n_per_arm": [1200.4], "days": [88.1],
    ...                   "power": [0.8], "effect": [2.5]})
    >>> next_pilot(d, start_date="2026-02-02")["days"], next_pilot(d, start_date="2026-02-02")["end_date"]
    (89, '2026-05-01')
    """
    require_columns(design, ["method", "n_per_arm"], what="design")
    rows = design[design["method"] == "t"]
    row = (rows if len(rows) else design).iloc[-1]
    n_days = days if days is not None else row.get("days", np.nan)
    n_days = int(math.ceil(float(n_days))) if n_days is not None and np.isfinite(float(n_days)) else None
    start = pd.Timestamp(start_date).normalize()
    clusters = row.get("clusters_per_arm", np.nan)

    def up(x):
        return int(math.ceil(float(x))) if x is not None and np.isfinite(float(x)) else None

    return {"unit": unit, "units_per_arm": up(clusters) if unit != "contact" else None,
            "contacts_per_arm": up(row["n_per_arm"]), "days": n_days,
            "start_date": str(start.date()),
            "end_date": str((start + pd.Timedelta(days=n_days - 1)).date()) if n_days else None,
            "power": float(row["power"]) if "power" in row else None,
            "effect": float(row["effect"]) if "effect" in row else None}


def verdict_record(v: Verdict, *, prediction_source: str, inference: dict, next_pilot: dict | None = None,
                   **extra) -> dict:
    """Step 6's recorded ``verdict``: the verdict with its prediction's source, inference and next pilot.

    Parameters
    ----------
    v : Verdict
    prediction_source : str
        Where the prediction comes from, e.g. ``"step 05 what-if: resolved +5 pts"``.
    inference : dict
        ``method`` and ``why`` (and optionally ``warning``) of the readout
        behind the effect's interval.
    next_pilot : dict, optional
        :func:`next_pilot`; kept only when the verdict is inconclusive.
    **extra
        Further JSON-able fields (e.g. ``cx_metric``, ``unit``).

    Returns
    -------
    dict
        ``label``, ``reason``, ``sentence``, ``effect``, ``ci_low``,
        ``ci_high``, ``prediction``, ``prediction_ci_low``,
        ``prediction_ci_high``, ``prediction_source``, ``inference``,
        ``next_pilot`` (None unless inconclusive), the :class:`Verdict`
        fields, and ``extra``.

    Examples
    --------
    >>> v = verdict(0.4, (-1.0, 3.8), 3.0)
    >>> r = verdict_record(v, prediction_source="step 05 what-if: resolved +5 pts",
    ...                    inference={"method": "wild_bootstrap", "why": "12 clusters"},
    ...                    next_pilot={"units_per_arm": 6, "days": 120, "start_date": "2026-02-02"})
    >>> r["label"], r["next_pilot"]["days"], r["ci_high"]
    ('inconclusive — too small to tell', 120, 3.8)
    """
    d = v.as_dict()
    out = {"label": v.label, "reason": v.reason, "sentence": v.sentence,
           "effect": d["observed"], "ci_low": d["observed_ci_low"], "ci_high": d["observed_ci_high"],
           "prediction": d["predicted"], "prediction_ci_low": d["predicted_ci_low"],
           "prediction_ci_high": d["predicted_ci_high"], "prediction_source": prediction_source,
           "inference": dict(inference),
           "next_pilot": dict(next_pilot) if next_pilot and v.label == LABELS[2] else None}
    return {**d, **out, **extra}
