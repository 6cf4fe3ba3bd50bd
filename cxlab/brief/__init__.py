"""Step 7 — the leadership brief: report sections, privacy checks and the mailer."""

from . import sections
from .sections import *  # noqa: F403

__all__ = [*sections.__all__]
