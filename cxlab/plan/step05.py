"""Sections of step 05_focus and what each needs (see :mod:`cxlab.plan`)."""

from __future__ import annotations

from . import Section

#: In notebook order; ``ctx.needs(key)`` in ``notebooks/05_focus.ipynb`` looks them up here.
SECTIONS: list[Section] = []
