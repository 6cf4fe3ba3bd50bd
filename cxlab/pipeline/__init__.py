"""Running the notebooks: discovery, parameters, execution, rendering, manifests."""

from . import discover as _discover
from . import execute, manifest, params, render
from .discover import *  # noqa: F403  (binds the function ``discover``, as before)
from .execute import *  # noqa: F403
from .manifest import *  # noqa: F403
from .params import *  # noqa: F403
from .render import *  # noqa: F403

__all__ = [*_discover.__all__, *params.__all__, *execute.__all__, *render.__all__, *manifest.__all__]
