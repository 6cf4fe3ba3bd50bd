"""Running the notebooks: discovery, parameters, execution, rendering, manifests."""

from . import core
from .core import *  # noqa: F403

__all__ = [*core.__all__]
