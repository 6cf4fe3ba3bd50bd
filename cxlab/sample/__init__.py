"""The embedded sample center: a seeded structural simulation with a known ground truth."""

from . import core
from .core import *  # noqa: F403

__all__ = [*core.__all__]
