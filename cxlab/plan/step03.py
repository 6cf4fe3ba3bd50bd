"""Sections of step 03_other_sources and what each needs (see :mod:`cxlab.plan`)."""

from __future__ import annotations

from . import Section

#: In notebook order; ``ctx.needs(key)`` in ``notebooks/03_other_sources.ipynb`` looks them up here.
SECTIONS: list[Section] = []
