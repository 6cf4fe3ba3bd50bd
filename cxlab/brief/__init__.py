"""Step 7 — the leadership brief: report sections, the brief's story, privacy checks and the mailer.

The story is split by concern: :mod:`~cxlab.brief._core` (reading results, the
metric), :mod:`~cxlab.brief.compose` (summary, levers, verdict, caveats),
:mod:`~cxlab.brief.consistency` (mixed runs, what changed) and
:mod:`~cxlab.brief.page` (the page's sentences, tables and HTML pieces).
"""

from . import _core, compose, consistency, page, sections
from ._core import *  # noqa: F403
from .compose import *  # noqa: F403
from .consistency import *  # noqa: F403
from .page import *  # noqa: F403
from .sections import *  # noqa: F403

__all__ = [*sections.__all__, *_core.__all__, *compose.__all__, *consistency.__all__, *page.__all__]
