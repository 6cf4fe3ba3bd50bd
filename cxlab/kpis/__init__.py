"""Step 2 — operational KPIs under explicit definitions, and Erlang staffing models."""

from . import core
from .core import *  # noqa: F403

__all__ = [*core.__all__]
