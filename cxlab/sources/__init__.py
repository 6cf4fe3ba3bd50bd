"""Step 3 — other sources joined to contacts: agents, QA, events, series; analysis frames."""

from . import frames
from .frames import *  # noqa: F403

__all__ = [*frames.__all__]
