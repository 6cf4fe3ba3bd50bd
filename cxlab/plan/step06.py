"""Sections of step 06_validate and what each needs (see :mod:`cxlab.plan`)."""

from __future__ import annotations

from . import Section

#: In notebook order; ``ctx.needs(key)`` in ``notebooks/06_validate.ipynb`` looks them up here.
SECTIONS: list[Section] = []
