"""The embedded sample center: a seeded structural simulation with a known ground truth."""

from . import model, simulate, truth, write
from .model import *  # noqa: F403
from .simulate import *  # noqa: F403
from .truth import *  # noqa: F403
from .write import *  # noqa: F403

__all__ = [*model.__all__, *simulate.__all__, *truth.__all__, *write.__all__]
