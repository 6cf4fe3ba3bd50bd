"""Runs: execute the step notebooks with papermill and render code-free HTML.

A run is a folder ``reports/<name>/<run-id>/`` holding, per step notebook,
the executed ``.ipynb`` and a code-free, self-contained ``.html``; the
``config.yaml`` the run used; ``manifest.json`` (versions, input hashes,
data summary, per-step status and timings); the step results
(``results/<step>.json``, see :mod:`cxlab.results`); and, when a step failed,
a ``FAILED`` marker. ``reports/<name>/latest`` (a symlink, plus a ``LATEST``
text file holding the run id) points at the newest *good* run and moves only
when a run succeeds, so a broken run never replaces a good report.

Steps are the notebooks ``notebooks/NN_<name>.ipynb``: adding a step is
adding a file. A notebook declares what it needs in its metadata,
``{"cxlab": {"depends_on": ["05"]}}`` (numbers or stems; ``"*"`` means
every lower-numbered step); the default is no dependency. Independent steps
run in parallel with ``jobs > 1``, each in its own kernel.

Every notebook gets the same common parameters (:data:`COMMON_PARAMETERS`)
plus its own from ``config.steps`` (keyed by stem ``"05_focus"`` or number
``"05"``). A parameter a notebook does not declare is an error before any
kernel starts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import glob
import hashlib
import html
import importlib.metadata
import json
import os
import platform
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import yaml

from .. import __version__
from .. import results as _results
from ..config import REPO_ROOT, RunConfig, cache_dir, load_config
from ..errors import (  # noqa: F401 (re-exported)
    ConfigError,
    CxlabError,
    DependencyError,
    ParameterError,
    RunFailed,
    RunNotFound,
    StepError,
    suggest,
)

__all__ = [
    "run",
    "demo",
    "make_notebooks",
    "discover",
    "render_html",
    "latest_run",
    "data_summary",
    "Step",
    "StepResult",
    "RunResult",
    "RunFailed",
    "ParameterError",
    "DependencyError",
    "RunNotFound",
    "COMMON_PARAMETERS",
]

#: Parameters every step notebook declares, in this order (docs/DEVELOPING.md).
COMMON_PARAMETERS = ("config_path", "run_dir", "cx_metric", "window_start", "window_end", "grain", "seed")
#: Common parameters that only the run may set (config.steps cannot override them).
_RUN_OWNED = ("config_path", "run_dir")

KERNEL_NAME = "python3"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TEMPLATE_FILE = "cxlab_report.html.j2"
BANNER_TAG = "cxlab-error-banner"
PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"
ERROR_ANCHOR = "papermill-error-cell"
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


# --------------------------------------------------------------------------- errors


# --------------------------------------------------------------------------- steps


@dataclasses.dataclass(frozen=True)
class Step:
    """One step notebook.

    Attributes
    ----------
    number : str
        The two-digit prefix, ``"05"``.
    stem : str
        The file name without suffix, ``"05_focus"``.
    path : pathlib.Path
        The notebook file.
    depends_on : tuple of str
        Stems of the steps that must succeed before this one runs.
    parameters : dict
        Declared parameters, name -> ``{"default", "help", "inferred_type_name"}``
        (from ``papermill.inspect_notebook``).
    """

    number: str
    stem: str
    path: Path
    depends_on: tuple[str, ...] = ()
    parameters: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)


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
        where = f"cell {e['cell']}" if e.get("cell") else "before any cell ran"
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


def _default_notebooks_dir() -> Path:
    return REPO_ROOT / "notebooks"


def _default_reports_dir() -> Path:
    return REPO_ROOT / "reports" if (REPO_ROOT / "notebooks").is_dir() else Path.cwd() / "reports"


def discover(notebooks_dir=None) -> list[Step]:
    """Find the step notebooks ``NN_*.ipynb`` and their dependencies.

    Parameters
    ----------
    notebooks_dir : path-like, optional
        Default: ``notebooks/`` at the repository root.

    Returns
    -------
    list of Step
        In a dependency-respecting order (by number where free to choose).

    Raises
    ------
    DependencyError
        Two notebooks share a number, ``depends_on`` names an unknown step,
        or the dependencies form a cycle.
    """
    import nbformat
    import papermill

    folder = Path(notebooks_dir) if notebooks_dir is not None else _default_notebooks_dir()
    if not folder.is_dir():
        raise FileNotFoundError(f"notebooks folder not found: {folder}")
    paths = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    numbers: dict[str, Path] = {}
    for p in paths:
        n = p.name[:2]
        if n in numbers:
            raise DependencyError(f"two notebooks share the step number {n}: {numbers[n].name} and {p.name}")
        numbers[n] = p
    stems = {p.stem: p.name[:2] for p in paths}
    by_number = {n: p.stem for n, p in numbers.items()}

    steps = []
    for p in paths:
        nb = nbformat.read(p, as_version=4)
        raw = nb.metadata.get("cxlab", {}).get("depends_on", [])
        if isinstance(raw, str):
            raw = [raw]
        deps: list[str] = []
        for token in raw:
            token = str(token)
            if token in ("*", "all"):
                deps.extend(s for s, n in stems.items() if n < p.name[:2])
            elif token in stems:
                deps.append(token)
            elif token in by_number:
                deps.append(by_number[token])
            else:
                raise DependencyError(
                    f"{p.name}: depends_on names unknown step {token!r}"
                    f"{suggest(token, list(stems) + list(by_number))}; steps: {sorted(stems)}"
                )
        deps = sorted(set(deps) - {p.stem})
        params = dict(papermill.inspect_notebook(str(p)))
        for name in _assigned_names(nb):  # lines papermill could not parse are still parameters
            params.setdefault(name, {"name": name, "inferred_type_name": "None", "default": "", "help": ""})
        steps.append(Step(p.name[:2], p.stem, p, tuple(deps), params))
    return _toposort(steps)


def _assigned_names(nb) -> list[str]:
    """Names assigned at top level in the notebook's ``parameters`` cell (via ``ast``)."""
    import ast

    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                return []
            names = []
            for node in tree.body:
                targets = node.targets if isinstance(node, ast.Assign) else (
                    [node.target] if isinstance(node, ast.AnnAssign) else [])
                names += [t.id for t in targets if isinstance(t, ast.Name)]
            return names
    return []


def _toposort(steps: list[Step]) -> list[Step]:
    done: list[Step] = []
    names: set[str] = set()
    pending = list(steps)
    while pending:
        ready = [s for s in pending if set(s.depends_on) <= names]
        if not ready:
            cycle = ", ".join(f"{s.stem} -> {list(s.depends_on)}" for s in pending)
            raise DependencyError(f"the notebooks' depends_on form a cycle: {cycle}")
        s = ready[0]
        done.append(s)
        names.add(s.stem)
        pending.remove(s)
    return done


def _select(steps: list[Step], only) -> list[Step]:
    if only is None:
        return steps
    tokens = [t.strip() for t in only.split(",")] if isinstance(only, str) else [str(t) for t in only]
    chosen = []
    for t in tokens:
        match = [s for s in steps if t in (s.stem, s.number)]
        if not match:
            names = [s.stem for s in steps] + [s.number for s in steps]
            raise ParameterError(f"only: unknown step {t!r}{suggest(t, names)}; steps: {[s.stem for s in steps]}")
        chosen.append(match[0].stem)
    return [s for s in steps if s.stem in chosen]


# --------------------------------------------------------------------------- parameters


def _step_overrides(config: RunConfig, step: Step) -> dict:
    """Step-specific parameters from ``config.steps`` (number first, the stem wins)."""
    merged: dict[str, Any] = {}
    for key in (step.number, step.stem):
        merged.update(config.steps.get(key, {}) or {})
    return merged


def _check_parameters(config: RunConfig, steps: list[Step], all_steps: list[Step]) -> None:
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
        for name in _step_overrides(config, step):
            if name in _RUN_OWNED:
                problems.append(f"{step.path.name}: parameter {name!r} is set by the run and cannot be configured")
            elif name not in step.parameters:
                problems.append(
                    f"{step.path.name}: unknown parameter {name!r}{suggest(name, declared)}; "
                    f"the notebook declares {declared}"
                )
    if problems:
        raise ParameterError("notebook parameters are invalid:\n" + "\n".join(f"  {p}" for p in problems))


def _parameters(config: RunConfig, step: Step, run_dir: Path) -> dict:
    params = {
        "config_path": str(run_dir / CONFIG_COPY),
        "run_dir": str(run_dir),
        "cx_metric": config.cx_metric,
        "window_start": config.window.start.isoformat(),
        "window_end": config.window.end.isoformat(),
        "grain": config.window.grain,
        "seed": config.seed,
    }
    params.update(_step_overrides(config, step))
    return params


# --------------------------------------------------------------------------- run folder


def _new_run_id() -> str:
    now = dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dT%H%M%S}.{now.microsecond // 1000:03d}Z-{secrets.token_hex(3)}"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _rel(path: Path | None, base: Path) -> str | None:
    if path is None:
        return None
    try:
        return Path(path).relative_to(base).as_posix()
    except ValueError:
        return str(path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def _write_text_atomic(path: Path, text: str) -> None:
    """Write ``path`` via a temporary file and a rename (readers never see half a file)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; reports are shared files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_json(path: Path, data) -> None:
    _write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _config_yaml(config: RunConfig) -> str:
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


def _point_latest(name_dir: Path, run_id: str) -> None:
    """Move ``latest`` to ``run_id`` atomically (temp symlink, then os.replace)."""
    _write_text_atomic(name_dir / LATEST_FILE, run_id + "\n")
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


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _inputs(config: RunConfig) -> dict:
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
                {"path": f, "bytes": os.path.getsize(f), "sha256": _sha256(Path(f))}
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


def _environment() -> dict:
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


# --------------------------------------------------------------------------- executing one step


class _Progress:
    """The overall per-step lines, printed beside papermill's cell progress."""

    def __init__(self, total: int, quiet: bool, stream=None):
        self.total = total
        self.quiet = quiet
        self.stream = stream
        self.done = 0
        self.t0 = time.perf_counter()
        self.lock = threading.Lock()

    def report(self, result: StepResult) -> None:
        with self.lock:
            self.done += 1
            elapsed = time.perf_counter() - self.t0
            head = f"[{self.done}/{self.total}] {result.step} ..."
            if result.status == "ok":
                line = f"{head} ok in {result.seconds:.1f} s (elapsed {elapsed:.1f} s)"
            elif result.status == "failed":
                line = f"{head} FAILED in {result.seconds:.1f} s: {result.error_summary()} (elapsed {elapsed:.1f} s)"
            else:
                line = f"{head} {result.error_summary()}"
            if self.quiet and result.status == "ok":
                return
            if self.quiet and result.status == "skipped":
                return
            print(line, file=self.stream or sys.stderr, flush=True)

    def note(self, text: str) -> None:
        if not self.quiet:
            with self.lock:
                print(text, file=self.stream or sys.stderr, flush=True)


def _original_cell_number(nb, index: int) -> int:
    """1-based position of cell ``index`` among the notebook's own cells (not run-added ones)."""
    added = (PAPERMILL_ERROR_TAG, BANNER_TAG, "injected-parameters")
    n = 0
    for i, cell in enumerate(nb.cells):
        if any(t in cell.metadata.get("tags", []) for t in added):
            continue
        n += 1
        if i == index:
            return n
    return index + 1


def _first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= 80 else line[:77] + "..."
    return ""


def _failing_cell(nb) -> int | None:
    """Index of the cell that failed: papermill marked it, it holds an error, or it started last."""
    for i, cell in enumerate(nb.cells):
        if cell.get("metadata", {}).get("papermill", {}).get("status") == "failed":
            return i
    for i, cell in enumerate(nb.cells):
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return i
    started = [
        i for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and cell.get("metadata", {}).get("papermill", {}).get("start_time")
    ]
    return started[-1] if started else None


def _mark_failure(out: Path, source: Path, ename: str, evalue: str, add_output: bool) -> dict:
    """Rewrite the executed notebook so its failure is visible at the top and in place.

    Papermill already records a cell's exception as an error output; a dead
    kernel or a cell timeout leaves none, so one is added (``add_output``).
    Papermill's own top-of-notebook marker is replaced by a banner naming the
    cell and the exception. Returns the manifest's ``error`` dict.
    """
    import nbformat

    nb = nbformat.read(out if out.exists() else source, as_version=4)
    nb.cells = [c for c in nb.cells if BANNER_TAG not in c.metadata.get("tags", [])]
    if nb.cells and PAPERMILL_ERROR_TAG in nb.cells[0].metadata.get("tags", []) and "href" in nb.cells[0].source:
        nb.cells.pop(0)
    index = _failing_cell(nb)
    error: dict[str, Any] = {"cell": None, "source": "", "ename": ename, "evalue": evalue}
    if index is not None:
        cell = nb.cells[index]
        error["cell"] = _original_cell_number(nb, index)
        error["source"] = _first_line(cell.source)
        if add_output and cell.cell_type == "code":
            cell.setdefault("outputs", []).append(
                nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])
            )
        has_anchor = index > 0 and PAPERMILL_ERROR_TAG in nb.cells[index - 1].metadata.get("tags", [])
        if not has_anchor:
            anchor = nbformat.v4.new_markdown_cell(
                f'<span id="{ERROR_ANCHOR}" style="color:red; font-size:1.5em;">'
                "The run stopped here with an error:</span>"
            )
            anchor.metadata["tags"] = [PAPERMILL_ERROR_TAG]
            nb.cells.insert(index, anchor)
    where = f"cell {error['cell']}" if error["cell"] else "before any cell ran"
    src = f" (`{error['source']}`)" if error["source"] else ""
    banner = nbformat.v4.new_markdown_cell(
        f'<div style="color:#82071e; background:#ffebe9; border:2px solid #cf222e; padding:0.6em;">'
        f"<b>This step failed.</b> {html.escape(where)}{html.escape(src)} raised "
        f"<b>{html.escape(ename)}</b>: {html.escape(evalue)}. "
        f'<a href="#{ERROR_ANCHOR}">Go to the error</a>; results below it were not computed.</div>'
    )
    banner.metadata["tags"] = [BANNER_TAG]
    nb.cells.insert(0, banner)
    nb.metadata.setdefault("cxlab", {})["error"] = error
    nbformat.write(nb, out)
    return error


_KERNEL_MANAGER = None


def _kernel_manager_class():
    """An AsyncKernelManager whose kernels draw with the inline backend.

    An ``MPLBACKEND`` in the caller's environment (``Agg`` is common on CI
    and under pytest) would otherwise reach the kernel and silently drop
    every figure from the report.
    """
    global _KERNEL_MANAGER
    if _KERNEL_MANAGER is None:
        from jupyter_client.manager import AsyncKernelManager

        class ReportKernelManager(AsyncKernelManager):
            async def start_kernel(self, **kw):
                env = dict(kw.pop("env", None) or os.environ)
                env.pop("MPLBACKEND", None)
                return await super().start_kernel(env=env, **kw)

        _KERNEL_MANAGER = ReportKernelManager
    return _KERNEL_MANAGER


def _execute(step: Step, params: dict | None, out: Path, cwd: Path, timeout: float, progress_bar) -> tuple[float, dict | None]:
    """Run one notebook with papermill; return (seconds, error or None)."""
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    t0 = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(step.path),
            str(out),
            parameters=params,
            kernel_name=KERNEL_NAME,
            progress_bar=progress_bar,
            log_output=False,
            execution_timeout=timeout,
            # the kernel's working directory, without os.chdir (threads share a cwd)
            resources={"metadata": {"path": str(cwd)}},
            # ipykernel's own log (a transport warning on every start, a "KeyboardInterrupt
            # caught" at some shutdowns) is noise on the console; cell errors reach us anyway
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
            kernel_manager_class=_kernel_manager_class(),
        )
        return time.perf_counter() - t0, None
    except PapermillExecutionError as exc:
        seconds = time.perf_counter() - t0
        return seconds, _mark_failure(out, step.path, exc.ename, str(exc.evalue), add_output=False)
    except CellTimeoutError:
        seconds = time.perf_counter() - t0
        msg = f"the cell did not finish within the {timeout:g} s cell timeout"
        return seconds, _mark_failure(out, step.path, "CellTimeoutError", msg, add_output=True)
    except DeadKernelError:
        seconds = time.perf_counter() - t0
        msg = "the kernel died while running the cell (killed, out of memory, or crashed)"
        return seconds, _mark_failure(out, step.path, "DeadKernelError", msg, add_output=True)
    except Exception as exc:  # kernel did not start, unreadable notebook, ...
        seconds = time.perf_counter() - t0
        return seconds, _mark_failure(out, step.path, type(exc).__name__, str(exc), add_output=True)


def _progress_bar(step: Step, quiet: bool):
    return False if quiet else {"desc": step.stem, "leave": False}


# --------------------------------------------------------------------------- HTML


def _definitions_html(config: RunConfig) -> str:
    try:  # the KPI module's own table, when it exists
        from ..kpis import definitions_table  # type: ignore[attr-defined]

        table = definitions_table(config.kpis)
        if hasattr(table, "to_html"):
            return table.to_html(index=False, border=0, classes="cxlab-definitions")
    except Exception:
        pass
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>"
        for k, v in config.kpis.model_dump(mode="json").items()
    )
    return f'<table class="cxlab-definitions"><tr><th>KPI option</th><th>value</th></tr>{rows}</table>'


def _header_html(config: RunConfig, *, run_id: str, step: str, status: str, error: dict | None) -> str:
    e = html.escape
    w = config.window
    data = (
        f"embedded sample (seed {config.sample.seed}, {config.sample.days} days, "
        f"{config.sample.contacts_per_day} contacts/day)"
        if config.uses_sample
        else ", ".join(sorted(config.sources))
    )
    parts = ['<header class="cxlab-header">']
    if status == "failed" and error:
        where = f"cell {error['cell']}" if error.get("cell") else "before any cell ran"
        src = f" (<code>{e(error['source'])}</code>)" if error.get("source") else ""
        parts.append(
            f'<div class="cxlab-error" id="cxlab-error"><b>This step failed.</b> {e(where)}{src} raised '
            f"<b>{e(error['ename'])}</b>: <code>{e(error['evalue'])}</code><br>"
            f'<a href="#{ERROR_ANCHOR}">Go to the error</a>. Output after it was not computed; '
            "steps that depend on this one were skipped.</div>"
        )
    parts.append(f"<h1>{e(config.title)}</h1>")
    rows = [
        ("run", f"{config.name} / {run_id}"),
        ("step", step),
        ("data window", f"{w.start.isoformat()} to {w.end.isoformat()} (by {w.grain}, {config.timezone})"),
        ("data", data),
        ("CX metric", config.cx_metric),
        ("segments", ", ".join(config.segments)),
        ("cxlab", __version__),
    ]
    parts.append("<table>" + "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows) + "</table>")
    parts.append(f"<details><summary>Definitions used</summary>{_definitions_html(config)}</details>")
    parts.append("</header>")
    return "\n".join(parts)


def _quiet_logger(name: str):
    import logging

    logger = logging.getLogger(name)
    logger.setLevel(logging.ERROR)
    return logger


def render_html(notebook, html_path, *, header_html: str = "") -> Path:
    """Render an executed notebook as a code-free, self-contained HTML report.

    Code cells' inputs and prompts are hidden, images stay embedded as
    ``data:`` URIs and the template (``cxlab/templates/cxlab_report.html.j2``)
    loads no script from the network, so the file opens offline.
    ``header_html`` is placed at the top of the body.
    """
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    nb = nbformat.read(str(notebook), as_version=4)
    exporter = HTMLExporter(
        template_name="lab",
        template_file=TEMPLATE_FILE,
        extra_template_paths=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        exclude_anchor_links=True,
        embed_images=True,
        # nbconvert warns per image without alt text (every matplotlib figure): not the reader's concern
        log=_quiet_logger("cxlab.run.nbconvert"),
    )
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={BANNER_TAG}), enabled=True)
    title = nb.metadata.get("title") or Path(notebook).stem
    body, _ = exporter.from_notebook_node(
        nb, resources={"metadata": {"name": title}, "cxlab_header": header_html}
    )
    html_path = Path(html_path)
    _write_text_atomic(html_path, body)
    return html_path


# --------------------------------------------------------------------------- scheduling


def _schedule(steps: list[Step], jobs: int, execute: Callable[[Step], StepResult],
              skip: Callable[[Step, list[str]], StepResult], report: Callable[[StepResult], None]) -> dict[str, StepResult]:
    """Run ``steps`` respecting ``depends_on``; dependents of a failure are skipped."""
    done: dict[str, StepResult] = {}
    pending = list(steps)
    selected = {s.stem for s in steps}

    def settle() -> None:
        for s in list(pending):
            bad = [d for d in s.depends_on if d in done and done[d].status != "ok"]
            if bad:
                pending.remove(s)
                done[s.stem] = skip(s, bad)
                report(done[s.stem])

    def ready(s: Step) -> bool:
        return all(d in done or d not in selected for d in s.depends_on)

    if jobs <= 1:
        while pending:
            settle()
            if not pending:
                break
            s = next(x for x in pending if ready(x))
            pending.remove(s)
            done[s.stem] = execute(s)
            report(done[s.stem])
        return done

    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="cxlab-step") as pool:
        running = {}
        try:
            while pending or running:
                settle()
                for s in [x for x in pending if ready(x)]:
                    if len(running) >= jobs:
                        break
                    pending.remove(s)
                    running[pool.submit(execute, s)] = s
                if not running:
                    continue
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    s = running.pop(fut)
                    done[s.stem] = fut.result()
                    report(done[s.stem])
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return done


# --------------------------------------------------------------------------- run


def _resolve_config(config, config_path) -> tuple[RunConfig, bool]:
    if config is not None and config_path is not None:
        raise TypeError("pass either config or config_path, not both")
    if isinstance(config, RunConfig):
        return config, True
    if config is not None:
        return load_config(config), True
    if config_path not in (None, ""):
        return load_config(config_path), True
    return load_config(None), False


def run(
    config: RunConfig | str | os.PathLike | None = None,
    *,
    config_path: str | os.PathLike | None = None,
    notebooks_dir: str | os.PathLike | None = None,
    reports_dir: str | os.PathLike | None = None,
    jobs: int = 1,
    only: str | Sequence[str] | None = None,
    run_id: str | None = None,
    timeout: float = 600,
    quiet: bool = False,
) -> RunResult:
    """Execute the step notebooks into a new run folder and render their HTML.

    Parameters
    ----------
    config : RunConfig, path-like or None
        The run config (or its YAML path). ``None`` with no ``config_path``
        uses the embedded sample (:func:`cxlab.config.default_config`).
    config_path : path-like, optional
        YAML config to load (alternative to ``config``).
    notebooks_dir : path-like, optional
        Where the ``NN_*.ipynb`` step notebooks are; default ``notebooks/``.
        Kernels run with this folder as working directory.
    reports_dir : path-like, optional
        Runs land in ``<reports_dir>/<config.name>/<run-id>/``; default ``reports/``.
    jobs : int
        Steps run at once (each in its own kernel), respecting dependencies.
    only : str or sequence of str, optional
        Re-run these steps (``"04"``, ``"04_correlate"``, ``"04,05"``) into an
        existing run folder: the latest good run, or ``run_id``. The run's own
        ``config.yaml`` is used. A failed re-run of a good run restores the
        step's previous artefacts (the failed ones go to ``rerun-failed/``).
    run_id : str, optional
        With ``only``: the run to re-run into. Otherwise the new run's id
        (default: UTC timestamp plus a random suffix).
    timeout : float
        Seconds one cell may run before the step fails.
    quiet : bool
        Print nothing but errors (no per-step lines, no cell progress bars).

    Returns
    -------
    RunResult
        Only when every step succeeded; ``latest`` then points at this run.

    Raises
    ------
    ParameterError, DependencyError, ConfigError
        Before any kernel starts and before the run folder is created.
    RunFailed
        A step failed: its HTML shows the error at the top, dependents were
        skipped, the folder holds ``FAILED`` and ``latest`` did not move.
        ``exc.result`` is the :class:`RunResult`.
    """
    t0 = time.perf_counter()
    cfg, explicit = _resolve_config(config, config_path)
    if int(jobs) < 1:
        raise ValueError(f"jobs must be at least 1; got {jobs!r}")
    nb_dir = Path(notebooks_dir) if notebooks_dir is not None else _default_notebooks_dir()
    all_steps = discover(nb_dir)
    if not all_steps:
        raise FileNotFoundError(f"no step notebooks (NN_*.ipynb) in {nb_dir}")
    name_dir = Path(reports_dir if reports_dir is not None else _default_reports_dir()) / cfg.name

    if only is not None:
        return _rerun(cfg, explicit, all_steps, _select(all_steps, only), name_dir, nb_dir,
                      run_id=run_id, jobs=int(jobs), timeout=timeout, quiet=quiet, t0=t0)

    _check_parameters(cfg, all_steps, all_steps)
    run_id = run_id or _new_run_id()
    run_dir = (name_dir / run_id).resolve()
    run_dir.mkdir(parents=True, exist_ok=False)
    _write_text_atomic(run_dir / CONFIG_COPY, _config_yaml(cfg))
    started = _now()
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "cxlab_version": __version__,
        "run": {
            "name": cfg.name, "title": cfg.title, "run_id": run_id, "status": "running",
            "started_at": started, "finished_at": None, "wall_s": None, "jobs": int(jobs), "timeout_s": timeout,
        },
        "environment": _environment(),
        "config": {"file": CONFIG_COPY, "sha256": _sha256(run_dir / CONFIG_COPY)},
        "inputs": _inputs(cfg),
        "window": cfg.window.model_dump(mode="json"),
        "cx_metric": cfg.cx_metric,
        "kpis": cfg.kpis.model_dump(mode="json"),
        "data_summary": {},
        "steps": [],
        "failed": [],
        "skipped": [],
        "reruns": [],
    }
    _write_json(run_dir / MANIFEST, manifest)

    try:
        done = _run_steps(cfg, all_steps, run_dir, nb_dir, run_id, jobs=int(jobs), timeout=timeout, quiet=quiet)
    except BaseException as exc:  # interrupted: the folder must not look good
        manifest["run"].update(status="failed", finished_at=_now(), wall_s=round(time.perf_counter() - t0, 3),
                               interrupted=type(exc).__name__)
        _write_json(run_dir / MANIFEST, manifest)
        _write_text_atomic(run_dir / FAILED_MARKER, f"run interrupted: {type(exc).__name__}\n")
        raise

    steps = [done[s.stem] for s in sorted(all_steps, key=lambda s: s.number)]
    status = "ok" if all(s.ok for s in steps) else "failed"
    wall = time.perf_counter() - t0
    manifest["run"].update(status=status, finished_at=_now(), wall_s=round(wall, 3))
    manifest["steps"] = [s.to_manifest(run_dir) for s in steps]
    manifest["failed"] = [s.step for s in steps if s.status == "failed"]
    manifest["skipped"] = [s.step for s in steps if s.status == "skipped"]
    manifest["data_summary"] = _safe_summary(run_dir, cfg)
    _write_json(run_dir / MANIFEST, manifest)
    result = RunResult(run_id, run_dir, status, steps, wall)
    if status != "ok":
        _write_failed_marker(run_dir, steps)
        raise RunFailed(result)
    _point_latest(name_dir, run_id)
    return result


def _safe_summary(run_dir: Path, cfg: RunConfig) -> dict:
    try:
        return data_summary(run_dir, cfg)
    except Exception as exc:  # a summary must never turn a good run into a failed one
        return {"error": f"{type(exc).__name__}: {exc}"}


def _write_failed_marker(run_dir: Path, steps: list[StepResult]) -> None:
    lines = [f"{s.step}: {s.error_summary()}" for s in steps if s.status != "ok"]
    _write_text_atomic(run_dir / FAILED_MARKER, "\n".join(lines) + "\n")


def _run_steps(cfg: RunConfig, steps: list[Step], run_dir: Path, nb_dir: Path, run_id: str, *,
               jobs: int, timeout: float, quiet: bool, out_dir: Path | None = None,
               progress: _Progress | None = None) -> dict[str, StepResult]:
    out_dir = out_dir or run_dir
    progress = progress or _Progress(len(steps), quiet)

    def execute(step: Step) -> StepResult:
        params = _parameters(cfg, step, run_dir)
        out = out_dir / f"{step.stem}.ipynb"
        seconds, error = _execute(step, params, out, nb_dir, timeout, _progress_bar(step, quiet))
        status = "failed" if error else "ok"
        html_path = out.with_suffix(".html")
        try:
            header = _header_html(cfg, run_id=run_id, step=step.stem, status=status, error=error)
            render_html(out, html_path, header_html=header)
        except Exception as exc:  # rendering broke: the step is not deliverable
            html_path = None
            if error is None:
                error = {"cell": None, "source": "", "ename": type(exc).__name__,
                         "evalue": f"HTML rendering failed: {exc}"}
                status = "failed"
        overrides = _step_overrides(cfg, step)
        return StepResult(step.stem, step.number, status, seconds, out, html_path, error, [], overrides)

    def skip(step: Step, because: list[str]) -> StepResult:
        return StepResult(step.stem, step.number, "skipped", 0.0, None, None, None, because,
                          _step_overrides(cfg, step))

    return _schedule(steps, jobs, execute, skip, progress.report)


# --------------------------------------------------------------------------- only: re-run steps


def _rerun(cfg: RunConfig, explicit: bool, all_steps: list[Step], selected: list[Step], name_dir: Path,
           nb_dir: Path, *, run_id: str | None, jobs: int, timeout: float, quiet: bool, t0: float) -> RunResult:
    if run_id:
        run_dir = name_dir / run_id
        if not run_dir.is_dir():
            runs = sorted(p.name for p in name_dir.iterdir() if p.is_dir()) if name_dir.is_dir() else []
            raise RunNotFound(f"no run {run_id!r} under {name_dir}{suggest(run_id, runs)}")
    else:
        found = latest_run(name_dir)
        if found is None:
            raise RunNotFound(f"no good run under {name_dir} to re-run a step into; run all steps first")
        run_dir = found
    run_dir = run_dir.resolve()
    run_id = run_dir.name
    manifest_path = run_dir / MANIFEST
    if not manifest_path.is_file() or not (run_dir / CONFIG_COPY).is_file():
        raise RunNotFound(f"{run_dir} is not a run folder (no {MANIFEST} or {CONFIG_COPY})")
    stored = load_config(run_dir / CONFIG_COPY)
    if explicit and cfg.model_dump(exclude={"config_dir"}) != stored.model_dump(exclude={"config_dir"}):
        raise ConfigError(
            f"the config differs from the one run {run_id} used ({run_dir / CONFIG_COPY}); "
            "re-running a step must use the run's own config: start a new run instead"
        )
    _check_parameters(stored, selected, all_steps)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    was_ok = manifest["run"].get("status") == "ok"
    started = _now()

    # A good run stays good: keep the steps' artefacts aside and restore them on failure.
    backup = Path(tempfile.mkdtemp(prefix=".rerun-backup-", dir=run_dir)) if was_ok else None
    if backup:
        for s in selected:
            for f in (run_dir / f"{s.stem}.ipynb", run_dir / f"{s.stem}.html",
                      run_dir / _results.RESULTS_DIR / f"{s.stem}.json"):
                if f.exists():
                    dest = backup / f.relative_to(run_dir)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(f, dest)

    progress = _Progress(len(selected), quiet)
    try:
        done = _run_steps(stored, selected, run_dir, nb_dir, run_id, jobs=jobs, timeout=timeout, quiet=quiet,
                          progress=progress)
    except BaseException:
        if backup:
            _restore(backup, run_dir, selected)
        raise
    results = [done[s.stem] for s in selected]
    failed = [r for r in results if r.status != "ok"]
    if backup:
        if failed:
            _restore(backup, run_dir, selected, failed_dir=run_dir / RERUN_FAILED_DIR)
        else:
            shutil.rmtree(backup, ignore_errors=True)
            shutil.rmtree(run_dir / RERUN_FAILED_DIR, ignore_errors=True)

    # Merge into the manifest: a good run keeps its good entries when the re-run failed.
    entries = {e["step"]: e for e in manifest.get("steps", [])}
    for r in results:
        if not (was_ok and failed):
            entries[r.step] = r.to_manifest(run_dir)
    order = sorted(entries.values(), key=lambda e: e["number"])
    manifest["steps"] = order
    status = "ok" if order and all(e["status"] == "ok" for e in order) and len(order) == len(all_steps) else "failed"
    if was_ok and failed:
        status = "ok"
    manifest["failed"] = [e["step"] for e in order if e["status"] == "failed"]
    manifest["skipped"] = [e["step"] for e in order if e["status"] == "skipped"]
    rerun_names = {s.stem for s in selected}
    stale = sorted(
        s.stem for s in all_steps
        if s.stem not in rerun_names and _depends_transitively(s, rerun_names, all_steps)
    )
    manifest.setdefault("reruns", []).append({
        "steps": [s.stem for s in selected],
        "started_at": started,
        "finished_at": _now(),
        "wall_s": round(time.perf_counter() - t0, 3),
        "status": "failed" if failed else "ok",
        "failed": [r.step for r in failed],
        "kept_previous_artefacts": bool(was_ok and failed),
        "dependents_not_rerun": stale,
    })
    manifest["run"]["status"] = status
    manifest["data_summary"] = _safe_summary(run_dir, stored)
    _write_json(manifest_path, manifest)
    if stale and not failed:
        progress.note(f"note: steps that use these results were not re-run: {', '.join(stale)}")

    wall = time.perf_counter() - t0
    steps = [_step_from_manifest(e, run_dir) for e in order]
    for r in results:  # report the attempt's own outcome for the re-run steps
        steps = [r if s.step == r.step else s for s in steps]
    if failed:
        result = RunResult(run_id, run_dir, "failed", steps, wall)
        if not was_ok:
            _write_failed_marker(run_dir, steps)
        raise RunFailed(result)
    if status == "ok":
        (run_dir / FAILED_MARKER).unlink(missing_ok=True)
        current = latest_run(name_dir)
        if current is None or current.name <= run_id:
            _point_latest(name_dir, run_id)
    else:
        _write_failed_marker(run_dir, steps)
    return RunResult(run_id, run_dir, status, steps, wall)


def _depends_transitively(step: Step, names: set[str], all_steps: list[Step]) -> bool:
    by_stem = {s.stem: s for s in all_steps}
    seen: set[str] = set()
    stack = list(step.depends_on)
    while stack:
        d = stack.pop()
        if d in names:
            return True
        if d in seen or d not in by_stem:
            continue
        seen.add(d)
        stack.extend(by_stem[d].depends_on)
    return False


def _restore(backup: Path, run_dir: Path, steps: Iterable[Step], failed_dir: Path | None = None) -> None:
    for s in steps:
        for name in (f"{s.stem}.ipynb", f"{s.stem}.html", f"{_results.RESULTS_DIR}/{s.stem}.json"):
            current, saved = run_dir / name, backup / name
            if failed_dir is not None and current.exists() and not name.startswith(_results.RESULTS_DIR):
                failed_dir.mkdir(exist_ok=True)
                shutil.copy2(current, failed_dir / Path(name).name)
            if saved.exists():
                os.replace(saved, current)
            elif current.exists():
                current.unlink()
    shutil.rmtree(backup, ignore_errors=True)


def _step_from_manifest(e: dict, run_dir: Path) -> StepResult:
    return StepResult(
        e["step"], e["number"], e["status"], e.get("seconds", 0.0),
        run_dir / e["notebook"] if e.get("notebook") else None,
        run_dir / e["html"] if e.get("html") else None,
        e.get("error"), e.get("skipped_because", []), e.get("parameters", {}),
    )


def demo(*, jobs: int = 1, quiet: bool = False, reports_dir=None) -> RunResult:
    """Run every notebook on the embedded sample center (the default config)."""
    return run(None, jobs=jobs, quiet=quiet, reports_dir=reports_dir)


# --------------------------------------------------------------------------- make notebooks


def _normalize(nb) -> None:
    """Drop what varies between executions of the same inputs (timings, run paths)."""
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            for out in cell.get("outputs", []):
                out.get("metadata", {}).pop("execution", None)


def make_notebooks(notebooks_dir=None, *, timeout: float = 600, quiet: bool = False) -> list[Path]:
    """Execute every step notebook in place with its default parameters (``make notebooks``).

    Each notebook runs with papermill (no injected parameters cell, cwd the
    notebooks folder, ``run_dir=""`` so results go to the scratch run), in
    dependency order. Papermill's and nbclient's timing metadata are
    stripped, so executing unchanged notebooks on unchanged inputs
    rewrites byte-identical files. A notebook that fails is left untouched
    on disk (the failed copy is kept in ``<cache>/runs/make-notebooks-failed/``)
    and :class:`RunFailed` is raised after the others ran.

    Returns
    -------
    list of pathlib.Path
        The notebooks rewritten.
    """
    import nbformat

    nb_dir = Path(notebooks_dir) if notebooks_dir is not None else _default_notebooks_dir()
    steps = discover(nb_dir)
    progress = _Progress(len(steps), quiet)
    failed_dir = cache_dir() / "runs" / "make-notebooks-failed"
    failed_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    t0 = time.perf_counter()

    def execute(step: Step) -> StepResult:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{step.stem}.", suffix=".ipynb", dir=nb_dir)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            seconds, error = _execute(step, None, tmp, nb_dir, timeout, _progress_bar(step, quiet))
            if error:
                failed_copy = failed_dir / f"{step.stem}.ipynb"
                os.replace(tmp, failed_copy)
                return StepResult(step.stem, step.number, "failed", seconds, failed_copy, None, error)
            nb = nbformat.read(tmp, as_version=4)
            _normalize(nb)
            nbformat.write(nb, tmp)
            shutil.copymode(step.path, tmp)
            os.replace(tmp, step.path)
            (failed_dir / f"{step.stem}.ipynb").unlink(missing_ok=True)
            written.append(step.path)
            return StepResult(step.stem, step.number, "ok", seconds, step.path)
        finally:
            tmp.unlink(missing_ok=True)

    def skip(step: Step, because: list[str]) -> StepResult:
        return StepResult(step.stem, step.number, "skipped", skipped_because=because)

    done = _schedule(steps, 1, execute, skip, progress.report)
    steps_out = [done[s.stem] for s in steps]
    if not all(s.ok for s in steps_out):
        raise RunFailed(RunResult("make-notebooks", nb_dir, "failed", steps_out, time.perf_counter() - t0))
    return written
