"""Sections of step 02_operational_kpis and what each needs (see :mod:`cxlab.plan`)."""

from __future__ import annotations

from . import Section

#: In notebook order; ``ctx.needs(key)`` in ``notebooks/02_operational_kpis.ipynb`` looks them up here.
SECTIONS: list[Section] = []
