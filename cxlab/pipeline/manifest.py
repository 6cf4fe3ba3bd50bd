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


def now_utc(precise: bool = False) -> str:
    """The current UTC time, ISO 8601 (``precise``: with microseconds, to order runs started together)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds" if precise else "seconds")


def _rel(path: Path | None, base: Path) -> str | None:
    if path is None:
        return None
    try:
        return Path(path).relative_to(base).as_posix()
    except ValueError:
        return str(path)


def _config_data(config: RunConfig, *, redact: bool) -> dict:
    """The config as the run records it: ``${NAME}`` references as written, secrets redacted."""
    from ..redact import redact_config

    data = config.model_dump(mode="json")
    for path, text in getattr(config, "env_refs", {}).items():
        node = data
        for key in path[:-1]:
            try:
                node = node[key]
            except (KeyError, IndexError, TypeError):
                node = None
                break
        if isinstance(node, dict) and path[-1] in node or isinstance(node, list) and path[-1] < len(node):
            node[path[-1]] = text
    return redact_config(data) if redact else data


def config_yaml(config: RunConfig, *, redact: bool = True) -> str:
    """The ``config.yaml`` copied into a run: the validated config, secrets redacted.

    Passwords in URLs / DSNs and ``password=``, ``token=``, ``secret``,
    ``api_key`` values in source queries, paths and options are replaced by
    ``***`` (:func:`cxlab.redact.redact_secrets`); ``${ENV}``
    references are kept as written, so secrets belong in environment
    variables. Reloading the copy gives the same config apart from the
    redacted values.
    """
    data = _config_data(config, redact=redact)
    # Relative source paths resolve against config_dir; keep them resolving
    # the same way when notebooks load the copy from the run folder.
    data["config_dir"] = config.config_dir or os.getcwd()
    header = (f"# cxlab {__version__} run config (the exact config this run used"
              f"{'; secrets redacted as ***' if redact else ''})\n")
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def private_config_path(run_dir) -> Path:
    """Where the run keeps the unredacted config its kernels load, outside the run folder.

    Only written when :func:`config_yaml` redacted something: the run folder
    (which may be zipped and emailed) holds the redacted copy, the kernels
    read this one (``<cache>/run-configs/<hash of the run folder>.yaml``,
    mode 0600).
    """
    from ..config import cache_dir

    key = hashlib.sha256(str(Path(run_dir).resolve()).encode()).hexdigest()[:24]
    return cache_dir() / "run-configs" / f"{key}.yaml"


def write_run_config(run_dir: Path, config: RunConfig) -> Path:
    """Write ``config.yaml`` (secrets redacted) into the run; return the path kernels should load.

    When nothing needed redacting that is the run's own copy; otherwise the
    unredacted config goes to :func:`private_config_path` (0600) and that
    path is returned.
    """
    text = config_yaml(config)
    atomic_write_text(run_dir / CONFIG_COPY, text)
    private = private_config_path(run_dir)
    if _config_data(config, redact=True) == _config_data(config, redact=False):
        # nothing was redacted: the kernels read the run's own copy
        private.unlink(missing_ok=True)
        return run_dir / CONFIG_COPY
    full = f"{_RUN_FOLDER_TAG}{Path(run_dir).resolve()}\n" + config_yaml(config, redact=False)
    private.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    prune_private_configs(private.parent)
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(full)
    return private


_RUN_FOLDER_TAG = "# run folder: "


def prune_private_configs(folder) -> list[Path]:
    """Delete the unredacted run configs whose run folder no longer exists; return what went.

    Each private copy starts with ``# run folder: <path>``; a copy whose run
    folder was deleted (or moved) can never be read by a re-run again, so it is
    removed instead of keeping credentials on disk. Copies without that line
    (written by older versions) are left alone.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "a.yaml").write_text(f"{_RUN_FOLDER_TAG}{d / 'gone'}\\nname: x\\n")
    >>> _ = (d / "b.yaml").write_text(f"{_RUN_FOLDER_TAG}{d}\\nname: y\\n")
    >>> [p.name for p in prune_private_configs(d)], sorted(p.name for p in d.iterdir())
    (['a.yaml'], ['b.yaml'])
    """
    gone = []
    for f in sorted(Path(folder).glob("*.yaml")):
        try:
            with f.open(encoding="utf-8") as fh:
                first = fh.readline().rstrip("\n")
        except OSError:
            continue
        if first.startswith(_RUN_FOLDER_TAG) and not Path(first[len(_RUN_FOLDER_TAG):]).is_dir():
            f.unlink(missing_ok=True)
            gone.append(f)
    return gone


def run_config_path(run_dir: Path) -> Path:
    """The config a run's kernels load: the private unredacted copy if the run has one, else ``config.yaml``."""
    private = private_config_path(run_dir)
    return private if private.is_file() else Path(run_dir) / CONFIG_COPY


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


def _started_at(run_dir: Path):
    """``run.started_at`` of a run folder's manifest as a datetime, or None when unreadable."""
    try:
        text = json.loads((run_dir / MANIFEST).read_text(encoding="utf-8"))["run"]["started_at"]
        return _parse_time(text)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _parse_time(text):
    if text is None:
        return None
    t = dt.datetime.fromisoformat(str(text))
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def point_latest_if_newer(name_dir: Path, run_id: str, started_at) -> bool:
    """Move ``latest`` to ``run_id`` only if it started later than the run ``latest`` points at.

    Two runs that overlap finish in any order; ``latest`` must end at the one
    that started last, never move back to an older run. The check and the
    move happen under an exclusive lock on ``<name_dir>/.latest.lock`` (POSIX
    ``flock``; without it, the check and move are still each atomic).

    Returns
    -------
    bool
        Whether ``latest`` now points at ``run_id``.
    """
    name_dir = Path(name_dir)
    mine = _parse_time(started_at)
    lock_path = name_dir / ".latest.lock"
    with open(lock_path, "a+b") as lock:
        try:
            import fcntl

            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        except (ImportError, OSError):
            pass
        current = latest_run(name_dir)
        if current is not None and current.name != run_id:
            theirs = _started_at(current)
            if theirs is not None and mine is not None and theirs > mine:
                return False
        point_latest(name_dir, run_id)
        return True


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



def stash_tables(config: RunConfig, dataset, run_dir: Path) -> bool:
    """Stash the run's validated tables in ``<run_dir>/.tables`` for its notebooks (:mod:`cxlab.data.stash`).

    The quarantine goes to ``<run_dir>/quarantine`` as each notebook's own
    load would write it. Returns False when the stash could not be written
    (a frame that does not read back identical): the notebooks then load
    the data themselves. The caller removes it with :func:`unstash` when
    the run ends, whatever its outcome: it holds customer ids.
    ``CXLAB_STASH=0`` in the environment turns the stash off (benchmarks:
    the notebooks then load the data themselves, as before the stash).
    """
    from ..data import stash
    from ..data.quarantine import write_quarantine

    if os.environ.get("CXLAB_STASH", "").strip() == "0":
        return False
    for name, frame in dataset.quarantine.items():
        write_quarantine(frame, Path(run_dir) / "quarantine", name)
    return stash.save(dataset, Path(run_dir) / stash.STASH_DIR, config) is not None


def stash_uses(run_dir: Path, stashed: bool, seconds: float) -> dict:
    """The manifest's ``data_load``: whether the run stashed its tables and how each step got its data.

    ``stashed`` (bool), ``stash_s`` (seconds to write the stash) and
    ``steps``: per step ``from`` (``stash``: read from the stash, ``load``:
    loaded and validated by the notebook) and ``seconds`` (in ``nb.setup``).
    """
    from ..data import stash

    steps = {u["step"]: {"from": u.get("from"), "seconds": u.get("seconds")}
             for u in stash.uses(Path(run_dir) / stash.STASH_DIR) if "step" in u}
    return {"stashed": bool(stashed), "stash_s": round(seconds, 3), "steps": steps}


def unstash(run_dir: Path) -> None:
    """Remove the run's stash of validated tables (and the frames cached beside it)."""
    from ..data import stash

    stash.remove(Path(run_dir) / stash.STASH_DIR)
