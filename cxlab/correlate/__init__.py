"""Step 4 — how do KPIs, events and other sources correlate with CX?

Correlation done naively (daily series, dozens of KPIs, ``p < 0.05``)
produces confident nonsense:

* **daily series are autocorrelated**, so the usual ``p`` (which assumes
  independent rows) is far too small. Every period-grain test here reports,
  beside the naive ``p_val``, two autocorrelation-aware p-values, ``p_hac``
  (Newey–West regression) and ``p_neff`` (effective sample size), and acts
  on the more conservative of the two, ``p_ac``; confidence intervals come
  from a moving-block bootstrap.
* **many pairs are tested**, so ``p_adj`` (Benjamini–Hochberg) is given
  for every call, and a run-wide :class:`TestLog` collects every test of
  the run so the correction can span the whole run ("N hypotheses tried").
* **period-level correlations can reverse at the contact level**
  (ecological fallacy / Simpson's paradox): :func:`sign_disagreements`
  compares the two grains and warns with :class:`SignDisagreementWarning`.
* **confounders**: :func:`partial_correlations` and
  :func:`explain_confounder` show how much of a raw correlation is left
  once a confounder (e.g. contact reason) is controlled;
  :func:`within_agent` separates agent effects from contact effects.

Every function takes plain DataFrames (the period-grain and contact-grain
analysis frames built by :mod:`cxlab.sources`, or any frame with the named
columns), options keyword-only, and returns a tidy DataFrame.

The families, one module each:

* :mod:`~cxlab.correlate.testlog` – :class:`TestLog` and the FDR adjustment;
* :mod:`~cxlab.correlate.period` – period-grain correlations (HAC, effective
  n, moving-block bootstrap) and lags;
* :mod:`~cxlab.correlate.contact` – contact-grain, partial correlations,
  logit / ordinal odds ratios;
* :mod:`~cxlab.correlate.within` – within-agent repeated-measures correlation;
* :mod:`~cxlab.correlate.confounding` – sign disagreements across grains,
  :func:`explain_confounder` and :func:`direct_effect` (CR1, with an
  equivalence test for "no effect");
* :mod:`~cxlab.correlate.frames` – the frames and candidates this run's data
  support, and :func:`kpi_relations` (KPIs among themselves, no CX needed);
* :mod:`~cxlab.correlate.curves` – response curves with a knee (hinge
  regression, profile likelihood, day bootstrap) and :func:`curve_what_if`;
* :mod:`~cxlab.correlate.alignment` – which definition of service level, FCR
  and AHT tracks CX best (:func:`kpi_alignment`).
"""

from . import alignment, confounding, contact, curves, frames, period, testlog, within
from .alignment import *  # noqa: F403
from .confounding import *  # noqa: F403
from .contact import *  # noqa: F403
from .curves import *  # noqa: F403
from .frames import *  # noqa: F403
from .period import *  # noqa: F403
from .testlog import *  # noqa: F403
from .within import *  # noqa: F403

__all__ = [*testlog.__all__, *period.__all__, *contact.__all__, *within.__all__, *confounding.__all__,
           *frames.__all__, *curves.__all__, *alignment.__all__]
