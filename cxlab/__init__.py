"""cxlab: which operational levers move CSAT / NPS / CES, and did changing them work?"""

__version__ = "0.1.0"
