"""Sections of step 01_cx_metric and what each needs (see :mod:`cxlab.plan`)."""

from __future__ import annotations

from . import Section

#: In notebook order; ``ctx.needs(key)`` in ``notebooks/01_cx_metric.ipynb`` looks them up here.
SECTIONS: list[Section] = []
