"""Step 6, verdict: did the pilot confirm the prediction of the driver model?

Scales a what-if prediction to the change a pilot achieved
(:func:`predicted_effect`) and labels the pilot "held", "held partly" or
"did not hold" (:func:`verdict`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._utils import require_columns

__all__ = ["predicted_effect", "Verdict", "verdict"]


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
        ``"held"``, ``"held partly"`` or ``"did not hold"``.
    sentence : str
        One plain-language sentence for the brief.
    observed, observed_ci_low, observed_ci_high : float
        The pilot's effect and its CI.
    predicted, predicted_ci_low, predicted_ci_high : float
        The prediction and its CI (NaN bounds when none was given).
    ratio : float
        observed / predicted.
    difference_ci_low, difference_ci_high : float
        CI of observed − predicted (combining both uncertainties).
    significant : bool
        The observed CI excludes 0.
    same_sign : bool
        Observed and predicted effects point the same way.
    consistent : bool
        The prediction is compatible with the observation (see Notes).
    """

    label: str
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
    significant: bool
    same_sign: bool
    consistent: bool

    def as_dict(self) -> dict:
        """JSON-able dict (NaN becomes None)."""
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in asdict(self).items()}


def verdict(
    observed_effect: float,
    observed_ci,
    predicted_effect: float,
    predicted_ci=None,
    *,
    what: str = "the effect",
    unit: str = "",
    digits: int = 1,
) -> Verdict:
    """Did the pilot confirm the predicted effect? "held" / "held partly" / "did not hold".

    Parameters
    ----------
    observed_effect : float
        The pilot's estimated effect (e.g. DiD on CSAT).
    observed_ci : (float, float)
        Its confidence interval.
    predicted_effect : float
        What the driver model predicted for the pilot's change in the driver.
    predicted_ci : (float, float), optional
        The prediction's interval, if known.
    what : str
        Names the effect in the sentence, e.g. ``"the CSAT effect"``.
    unit : str
        Unit appended to numbers in the sentence, e.g. ``" points"``.
    digits : int, default 1
        Decimals in the sentence.

    Returns
    -------
    Verdict
        Frozen dataclass (fields documented in :class:`Verdict`); ``as_dict()``
        gives a JSON-able record.

    Notes
    -----
    *significant*: the observed CI excludes 0. *consistent*: the observed CI
    covers the predicted value, or — when ``predicted_ci`` is given — the
    interval of the difference observed − predicted covers 0, with each SE
    read off its interval as width / (2·1.96) and
    :math:`SE_{diff} = \\sqrt{SE_o^2 + SE_p^2}`. The rule:

    * **held** — significant, same sign as predicted, and consistent;
    * **held partly** — significant and same sign, but not consistent (the
      effect is real but clearly smaller or larger than predicted);
    * **did not hold** — otherwise: not significant, or the opposite sign.
      When the CI is wide enough to cover both 0 and the prediction the
      sentence says the pilot was too small to tell.

    References
    ----------
    .. [1] Gelman, A. & Stern, H. (2006) The difference between
       "significant" and "not significant" is not itself statistically
       significant. *The American Statistician* 60, 328–331.

    Examples
    --------
    >>> v = verdict(2.8, (1.2, 4.4), 3.0, what="the CSAT effect", unit=" points")
    >>> v.label
    'held'
    >>> v.sentence
    'The pilot confirmed the prediction: the CSAT effect was +2.8 points (95% CI +1.2 to +4.4), in line with the predicted +3.0 points.'
    >>> verdict(1.0, (0.5, 1.5), 3.0).label
    'held partly'
    >>> verdict(0.4, (-1.0, 1.8), 3.0).label
    'did not hold'
    """
    try:
        lo, hi = (float(v) for v in observed_ci)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"observed_ci must be a pair of numbers; got {observed_ci!r}") from exc
    obs, pred = float(observed_effect), float(predicted_effect)
    if not all(np.isfinite([obs, lo, hi, pred])):
        raise ValueError("observed_effect, observed_ci and predicted_effect must be finite")
    if lo > hi:
        raise ValueError(f"observed_ci must be (low, high); got {observed_ci!r}")
    q = stats.norm.ppf(0.975)
    if predicted_ci is not None:
        plo, phi = (float(v) for v in predicted_ci)
        if plo > phi:
            raise ValueError(f"predicted_ci must be (low, high); got {predicted_ci!r}")
        se_diff = math.hypot((hi - lo) / (2 * q), (phi - plo) / (2 * q))
        dlo, dhi = obs - pred - q * se_diff, obs - pred + q * se_diff
        consistent = bool(dlo <= 0 <= dhi)
    else:
        plo = phi = np.nan
        dlo, dhi = obs - pred - (obs - lo), obs - pred + (hi - obs)
        consistent = bool(lo <= pred <= hi)
    significant = bool(lo > 0 or hi < 0)
    same_sign = bool(np.sign(obs) == np.sign(pred) and pred != 0)
    ratio = obs / pred if pred != 0 else np.nan

    def f(x):
        return f"{x:+.{digits}f}{unit}"

    ci = f"95% CI {lo:+.{digits}f} to {hi:+.{digits}f}"
    if significant and same_sign and consistent:
        label = "held"
        sentence = (f"The pilot confirmed the prediction: {what} was {f(obs)} ({ci}), "
                    f"in line with the predicted {f(pred)}.")
    elif significant and same_sign:
        label = "held partly"
        size = "smaller" if abs(obs) < abs(pred) else "larger"
        sentence = (f"The pilot confirmed the direction but not the size: {what} was {f(obs)} ({ci}), "
                    f"{size} than the predicted {f(pred)} (about {ratio:.0%} of it).")
    else:
        label = "did not hold"
        if significant:
            sentence = (f"The pilot contradicted the prediction: {what} was {f(obs)} ({ci}), "
                        f"the opposite of the predicted {f(pred)}.")
        elif lo <= pred <= hi:
            sentence = (f"The pilot was too small to tell: {what} was {f(obs)} ({ci}), an interval that "
                        f"covers both no effect and the predicted {f(pred)}.")
        else:
            sentence = (f"The pilot found no effect: {what} was {f(obs)} ({ci}), "
                        f"which rules out the predicted {f(pred)}.")
    return Verdict(label, sentence, obs, lo, hi, pred, plo, phi, ratio, dlo, dhi, significant, same_sign,
                   consistent)
