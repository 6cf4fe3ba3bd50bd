"""Step 7 — the leadership brief: report sections, the brief's story, privacy checks and the mailer."""

from . import compose, sections
from .compose import *  # noqa: F403
from .sections import *  # noqa: F403

__all__ = [*sections.__all__, *compose.__all__]
