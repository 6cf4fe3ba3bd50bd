"""Exceptions that carry context: which file, table, column, rule, rows."""

from __future__ import annotations

import difflib

__all__ = [
    "CxlabError",
    "SourceError",
    "ConfigError",
    "DataError",
    "StepError",
    "check_option",
    "suggest",
]


class CxlabError(Exception):
    """Base class of every error cxlab raises on purpose."""


class ConfigError(CxlabError, ValueError):
    """The run config is invalid (unknown key, wrong type, bad value)."""


class SourceError(CxlabError, ValueError):
    """A source file or query cannot be loaded as a canonical table.

    Parameters
    ----------
    message : str
        What went wrong.
    path : str, optional
        The file, glob or query concerned (always shown in the message).
    table : str, optional
        The canonical table being loaded.
    """

    def __init__(self, message: str, *, path: str | None = None, table: str | None = None):
        self.path = path
        self.table = table
        where = []
        if table:
            where.append(f"table {table!r}")
        if path:
            where.append(f"source {path}")
        prefix = f"[{', '.join(where)}] " if where else ""
        super().__init__(prefix + message)


class DataError(CxlabError, ValueError):
    """The data cannot support the requested analysis (e.g. metric absent)."""


class StepError(CxlabError, RuntimeError):
    """A workbench step (notebook) failed; carries the notebook and cell."""

    def __init__(self, message: str, *, notebook: str | None = None, cell: int | None = None):
        self.notebook = notebook
        self.cell = cell
        super().__init__(message)


def suggest(name: str, choices) -> str:
    """Return a " (did you mean 'x'?)" hint, or an empty string."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_option(name: str, value, allowed) -> None:
    """Raise ValueError naming the option, the allowed values and what was passed.

    Examples
    --------
    >>> check_option("grain", "day", ("day", "week"))
    >>> check_option("grain", "month", ("day", "week"))
    Traceback (most recent call last):
    ...
    ValueError: grain must be one of ['day', 'week']; got 'month'
    """
    allowed = list(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}; got {value!r}{suggest(value, allowed)}")
