"""Sections of step 04_correlate and what each needs (see :mod:`cxlab.plan`)."""

from __future__ import annotations

from . import Section

#: In notebook order; ``ctx.needs(key)`` in ``notebooks/04_correlate.ipynb`` looks them up here.
SECTIONS: list[Section] = []
