"""Running the notebooks: discovery, parameters, preflight, execution, rendering, manifests, clean failure."""

from . import discover as _discover
from . import execute, manifest, params, preflight, render, safety  # noqa: F401 (submodules)
from .discover import *  # noqa: F403  (binds the function ``discover``, as before)
from .execute import *  # noqa: F403
from .manifest import *  # noqa: F403
from .params import *  # noqa: F403
from .preflight import Preflight, PreflightFailed, validate_command
from .render import *  # noqa: F403
from .safety import RunInterrupted, RunWriteError

__all__ = [*_discover.__all__, *params.__all__, *execute.__all__, *render.__all__, *manifest.__all__,
           "Preflight", "PreflightFailed", "validate_command", "RunInterrupted", "RunWriteError"]
