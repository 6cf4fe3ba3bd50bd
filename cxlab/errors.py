"""Exceptions that carry context: which file, table, column, rule, rows."""

from __future__ import annotations

import difflib

__all__ = [
    "CxlabError",
    "SourceError",
    "ConfigError",
    "DataError",
    "NotEnoughData",
    "MailError",
    "StepError",
    "ParameterError",
    "DependencyError",
    "RunNotFound",
    "RunFailed",
    "ResultsMissing",
    "LeakageError",
    "SignDisagreementWarning",
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


class NotEnoughData(DataError):
    """This data cannot support one section of a step (a table, a column or variation is missing).

    Raised inside ``with ctx.guard(key):`` it becomes the section's skip note
    instead of a failed step. The message completes "Skipped — <section>: …",
    e.g. ``"only 3 teams have a pilot arm (needs at least 4)"``.
    """


class MailError(CxlabError, ValueError):
    """The email cannot be built or sent safely (a bad header, an unsafe transport, a refused login)."""


class StepError(CxlabError, RuntimeError):
    """A workbench step (notebook) failed; carries the notebook and cell."""

    def __init__(self, message: str, *, notebook: str | None = None, cell: int | None = None):
        self.notebook = notebook
        self.cell = cell
        super().__init__(message)


class ParameterError(ConfigError):
    """A notebook parameter in the config is unknown, or a notebook lacks the common block."""


class DependencyError(ConfigError):
    """A notebook's ``depends_on`` names an unknown step, or the steps form a cycle."""


class RunNotFound(CxlabError, FileNotFoundError):
    """No run folder to re-run a step into (no good run yet, or a wrong run id)."""


class RunFailed(StepError):
    """One or more steps failed; the run folder is marked failed.

    Attributes
    ----------
    result : RunResult
        The whole run (every step's status, the run folder, the manifest).
    failures : list of StepResult
        The failed steps, in the order they ran; ``notebook`` and ``cell``
        name the first one.
    """

    def __init__(self, result: RunResult):  # noqa: F821 (cxlab.pipeline.RunResult)
        self.result = result
        self.failures = [s for s in result.steps if s.status == "failed"]
        skipped = [s.step for s in result.steps if s.status == "skipped"]
        lines = [f"run {result.run_id} failed ({result.run_dir})"]
        for s in self.failures:
            lines.append(f"  {s.step}: {s.error_summary()}")
            lines.append(f"    see {s.html or s.notebook}")
        if skipped:
            lines.append(f"  skipped (depend on a failed step): {', '.join(skipped)}")
        first = self.failures[0] if self.failures else None
        super().__init__(
            "\n".join(lines),
            notebook=first.notebook.name if first and first.notebook else None,
            cell=(first.error or {}).get("cell") if first else None,
        )


class ResultsMissing(CxlabError, LookupError):
    """A step's results (or one key of them) were never recorded."""


class SignDisagreementWarning(UserWarning):
    """A correlation has opposite signs at the period and the contact grain.

    Raised (as a warning) by :func:`sign_disagreements`: the period-level
    association does not describe individual contacts (ecological fallacy,
    Simpson's paradox).
    """


class LeakageError(CxlabError, ValueError):
    """A feature measured after the CX response reached the contact frame."""


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
