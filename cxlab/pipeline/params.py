"""Notebook parameters: the common block every step declares, per-step overrides, validation.

Every notebook gets :data:`COMMON_PARAMETERS` plus its own from
``config.steps`` (keyed by stem ``"05_focus"`` or number ``"05"``). A
parameter a notebook does not declare is a :class:`~cxlab.errors.ParameterError`
before any kernel starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import RunConfig
from ..errors import ParameterError, suggest
from .discover import Step
from .manifest import CONFIG_COPY

__all__ = ["COMMON_PARAMETERS", "ParameterError"]

#: Parameters every step notebook declares, in this order (docs/DEVELOPING.md).
COMMON_PARAMETERS = ("config_path", "run_dir", "cx_metric", "window_start", "window_end", "grain", "seed")
#: Common parameters that only the run may set (config.steps cannot override them).
_RUN_OWNED = ("config_path", "run_dir")


def step_overrides(config: RunConfig, step: Step) -> dict:
    """Step-specific parameters from ``config.steps`` (number first, the stem wins)."""
    merged: dict[str, Any] = {}
    for key in (step.number, step.stem):
        merged.update(config.steps.get(key, {}) or {})
    return merged


def check_parameters(config: RunConfig, steps: list[Step], all_steps: list[Step]) -> None:
    """Fail before any kernel starts on a parameter a notebook cannot take."""
    known = {s.stem for s in all_steps} | {s.number for s in all_steps}
    problems = []
    for key in config.steps:
        if key not in known:
            problems.append(
                f"config steps: unknown step {key!r}{suggest(key, sorted(known))}; "
                f"steps: {[s.stem for s in all_steps]}"
            )
    for step in steps:
        declared = list(step.parameters)
        missing = [p for p in COMMON_PARAMETERS if p not in step.parameters]
        if missing:
            problems.append(
                f"{step.path.name}: the parameters cell does not declare the common parameter(s) "
                f"{missing}; it must start with the common block {list(COMMON_PARAMETERS)} (docs/DEVELOPING.md)"
            )
        for name in step_overrides(config, step):
            if name in _RUN_OWNED:
                problems.append(f"{step.path.name}: parameter {name!r} is set by the run and cannot be configured")
            elif name not in step.parameters:
                problems.append(
                    f"{step.path.name}: unknown parameter {name!r}{suggest(name, declared)}; "
                    f"the notebook declares {declared}"
                )
    if problems:
        raise ParameterError("notebook parameters are invalid:\n" + "\n".join(f"  {p}" for p in problems))


def step_parameters(config: RunConfig, step: Step, run_dir: Path, config_path: Path | None = None) -> dict:
    """The parameters injected into ``step``: the common block (``config_path`` = the run's config) plus overrides."""
    params = {
        "config_path": str(config_path or run_dir / CONFIG_COPY),
        "run_dir": str(run_dir),
        "cx_metric": config.cx_metric,
        "window_start": config.window.start.isoformat(),
        "window_end": config.window.end.isoformat(),
        "grain": config.window.grain,
        "seed": config.seed,
    }
    params.update(step_overrides(config, step))
    return params

