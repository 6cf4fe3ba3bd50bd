"""Sections of step 07_brief and what each needs (see :mod:`cxlab.plan`)."""

from __future__ import annotations

from . import Section

#: In notebook order; ``ctx.needs(key)`` in ``notebooks/07_brief.ipynb`` looks them up here.
SECTIONS: list[Section] = []
