"""Step 6 — does the correlation hold in real life: holdout, natural experiments, pilots, verdict.

A relation found in history is a hypothesis until it predicts new data and
survives an intervention. The four checks of step 6:

* **out of time** — :mod:`.out_of_time` (:func:`holdout`, :func:`rank_stability`);
* **natural experiments** — :mod:`.natural` (:func:`natural_experiments`);
* **pilot design** — :mod:`.power` (:func:`pilot_design`, :func:`power_curve`,
  :func:`icc`, :func:`analysis_plan`);
* **pilot readout** — :mod:`.did` (:func:`pilot_frame`, :func:`pilot_readout`,
  :func:`pre_trends`, :func:`placebo`, :func:`aa_split`) and the verdict that
  compares the effect with the prediction, :mod:`.verdicts`
  (:func:`predicted_effect`, :func:`verdict`);
* **few clusters** — :mod:`.clusters` (:func:`wild_cluster_bootstrap`,
  :func:`randomization_inference`, :func:`choose_inference`) and
  **equivalence** — :mod:`.equivalence` (:func:`tost`);
* **defaults from the data** — :mod:`.defaults` (split date, drivers, pilot
  dates and assignment, the prediction).

Every function takes data first and options keyword-only and returns a
tidy DataFrame, a frozen dataclass of DataFrames, or (for the plan) a
JSON-able dict.
"""

from . import clusters, defaults, did, equivalence, natural, out_of_time, power, verdicts
from .clusters import *  # noqa: F403
from .defaults import *  # noqa: F403
from .did import *  # noqa: F403
from .equivalence import *  # noqa: F403
from .natural import *  # noqa: F403
from .out_of_time import *  # noqa: F403
from .power import *  # noqa: F403
from .verdicts import *  # noqa: F403

__all__ = [*out_of_time.__all__, *natural.__all__, *power.__all__, *did.__all__, *verdicts.__all__,
           *clusters.__all__, *equivalence.__all__, *defaults.__all__]
