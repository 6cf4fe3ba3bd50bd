"""The run folder's record: manifest, step/run results, ``latest`` pointer, FAILED marker, environment.

A run is a folder ``reports/<name>/<run-id>/`` holding the executed
notebooks and their HTML, the ``config.yaml`` the run used, ``manifest.json``
(versions, input hashes, data summary, per-step status and timings), the
step results (``results/<step>.json``, see :mod:`cxlab.results`) and, when
a step failed, a ``FAILED`` marker. ``reports/<name>/latest`` (a symlink,
plus a ``LATEST`` text file holding the run id) points at the newest *good*
run and moves only when a run succeeds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import glob
import hashlib
import importlib.metadata
import json
import os
import platform
import secrets
from pathlib import Path
from typing import Any

import yaml

from .. import __version__
from .. import results as _results
from .._utils import atomic_write_text, sha256_file
from ..config import RunConfig
from ..errors import RunFailed, RunNotFound
from ._common import KERNEL_NAME, error_where

__all__ = ["latest_run", "data_summary", "StepResult", "RunResult", "RunFailed", "RunNotFound"]

MANIFEST = "manifest.json"
CONFIG_COPY = "config.yaml"
FAILED_MARKER = "FAILED"
LATEST_LINK = "latest"
LATEST_FILE = "LATEST"
RERUN_FAILED_DIR = "rerun-failed"
MANIFEST_SCHEMA = 1

#: Packages whose versions the manifest records (those installed).
KEY_PACKAGES = (
    "papermill", "nbconvert", "nbclient", "nbformat", "ipykernel", "numpy", "pandas", "scipy",
    "duckdb", "pyarrow", "statsmodels", "pingouin", "scikit-learn", "matplotlib", "seaborn", "pydantic",
)


@dataclasses.dataclass
class StepResult:
    """What happened to one step in a run.

    ``status`` is ``"ok"``, ``"failed"`` or ``"skipped"``; ``error`` (failed
    only) is ``{"cell", "source", "ename", "evalue"}`` with ``cell`` the
    1-based position of the failing cell in the notebook as written;
    ``skipped_because`` lists the failed or skipped steps it depends on.
    """

    step: str
    number: str
    status: str
    seconds: float = 0.0
    notebook: Path | None = None
    html: Path | None = None
    error: dict | None = None
    skipped_because: list[str] = dataclasses.field(default_factory=list)
    parameters: dict = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def error_summary(self) -> str:
        if self.status == "skipped":
            return f"skipped (depends on {', '.join(self.skipped_because)})"
        if not self.error:
            return self.status
        e = self.error
        where = error_where(e)
        src = f" `{e['source']}`" if e.get("source") else ""
        return f"{where}{src} raised {e['ename']}: {e['evalue']}".rstrip(": ")

    def to_manifest(self, run_dir: Path) -> dict:
        return {
            "step": self.step,
            "number": self.number,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "notebook": _rel(self.notebook, run_dir),
            "html": _rel(self.html, run_dir),
            "parameters": self.parameters,
            "error": self.error,
            "skipped_because": self.skipped_because,
        }


@dataclasses.dataclass
class RunResult:
    """The outcome of :func:`run`.

    Attributes
    ----------
    run_id : str
        Sortable id, ``YYYYmmddTHHMMSS.fffZ-xxxxxx`` (UTC, random suffix).
    run_dir : pathlib.Path
        ``reports/<name>/<run_id>``.
    status : str
        ``"ok"`` or ``"failed"``.
    steps : list of StepResult
        Every step of the run, in notebook order.
    wall_s : float
        Wall time of this call, seconds.
    """

    run_id: str
    run_dir: Path
    status: str
    steps: list[StepResult]
    wall_s: float

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def manifest_path(self) -> Path:
        return self.run_dir / MANIFEST

    @property
    def manifest(self) -> dict:
        return json.loads(self.manifest_path.read_text(encoding="utf-8"))

    def step(self, name: str) -> StepResult:
        for s in self.steps:
            if name in (s.step, s.number):
                return s
        raise KeyError(name)


def new_run_id() -> str:
    now = dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dT%H%M%S}.{now.microsecond // 1000:03d}Z-{secrets.token_hex(3)}"


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _rel(path: Path | None, base: Path) -> str | None:
    if path is None:
        return None
    try:
        return Path(path).relative_to(base).as_posix()
    except ValueError:
        return str(path)


def config_yaml(config: RunConfig) -> str:
    data = config.model_dump(mode="json")
    # Relative source paths resolve against config_dir; keep them resolving
    # the same way when notebooks load the copy from the run folder.
    data["config_dir"] = config.config_dir or os.getcwd()
    header = f"# cxlab {__version__} run config (the exact config this run used)\n"
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def latest_run(name_dir) -> Path | None:
    """The newest good run folder under ``reports/<name>/``, or None.

    Reads the ``latest`` symlink, falling back to the ``LATEST`` file.
    """
    name_dir = Path(name_dir)
    link = name_dir / LATEST_LINK
    if link.is_symlink() or link.is_dir():
        target = link.resolve()
        if target.is_dir():
            return target
    marker = name_dir / LATEST_FILE
    if marker.is_file():
        target = name_dir / marker.read_text(encoding="utf-8").strip()
        if target.is_dir():
            return target
    return None


def point_latest(name_dir: Path, run_id: str) -> None:
    """Move ``latest`` to ``run_id`` atomically (temp symlink, then os.replace)."""
    atomic_write_text(name_dir / LATEST_FILE, run_id + "\n")
    tmp = name_dir / f".{LATEST_LINK}.{secrets.token_hex(4)}.tmp"
    try:
        os.symlink(run_id, tmp, target_is_directory=True)
    except (OSError, NotImplementedError):  # no symlinks (e.g. Windows without privilege): LATEST only
        return
    try:
        os.replace(tmp, name_dir / LATEST_LINK)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def run_inputs(config: RunConfig) -> dict:
    """What the run read: sha256 of every configured source file, or the sample's parameters."""
    if config.uses_sample:
        return {"sample": config.sample.model_dump(mode="json")}
    sources = {}
    for table, src in sorted(config.sources.items()):
        entry: dict[str, Any] = {"format": src.format}
        if src.path:
            pattern = config.resolve(src.path)
            files = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
            entry["path"] = src.path
            entry["files"] = [
                {"path": f, "bytes": os.path.getsize(f), "sha256": sha256_file(Path(f))}
                for f in files
                if os.path.isfile(f)
            ]
            entry["missing"] = [f for f in files if not os.path.isfile(f)]
        if src.query:
            entry["query_sha256"] = hashlib.sha256(src.query.encode()).hexdigest()
        if src.table:
            entry["table"] = src.table
        sources[table] = entry
    return {"sources": sources}


def environment() -> dict:
    packages = {}
    for name in KEY_PACKAGES:
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {
        "cxlab": __version__,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "kernel": KERNEL_NAME,
        "packages": packages,
    }


def data_summary(run_dir, config: RunConfig) -> dict:
    """The manifest's ``data_summary``: row counts and what the data step recorded.

    A hook: the notebooks record row counts with :func:`cxlab.results.record`
    (by convention under the step ``"00_data"`` or under a ``"row_counts"``
    key of any step); this gathers them. For the sample it also states the
    expected size from its parameters.
    """
    out: dict[str, Any] = {}
    recorded = _results.load(run_dir)
    if "00_data" in recorded:
        out.update(recorded["00_data"])
    counts = {step: values["row_counts"] for step, values in recorded.items() if "row_counts" in values}
    if counts:
        out["row_counts_by_step"] = counts
    # rows read / accepted / quarantined per table, as the sources step recorded them
    health = next((values["data_health"] for _, values in sorted(recorded.items()) if "data_health" in values), None)
    if health is not None:
        out["row_counts"] = health
    if config.uses_sample:
        out["sample_contacts_expected"] = config.sample.days * config.sample.contacts_per_day
    return out


def safe_summary(run_dir: Path, cfg: RunConfig) -> dict:
    try:
        return data_summary(run_dir, cfg)
    except Exception as exc:  # a summary must never turn a good run into a failed one
        return {"error": f"{type(exc).__name__}: {exc}"}


def write_failed_marker(run_dir: Path, steps: list[StepResult]) -> None:
    lines = [f"{s.step}: {s.error_summary()}" for s in steps if s.status != "ok"]
    atomic_write_text(run_dir / FAILED_MARKER, "\n".join(lines) + "\n")


def step_from_manifest(e: dict, run_dir: Path) -> StepResult:
    return StepResult(
        e["step"], e["number"], e["status"], e.get("seconds", 0.0),
        run_dir / e["notebook"] if e.get("notebook") else None,
        run_dir / e["html"] if e.get("html") else None,
        e.get("error"), e.get("skipped_because", []), e.get("parameters", {}),
    )

