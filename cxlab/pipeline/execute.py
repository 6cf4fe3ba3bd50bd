"""Executing the step notebooks with papermill: scheduling, ``--jobs``, re-runs, ``make notebooks``.

Independent steps run in parallel with ``jobs > 1``, each in its own
kernel; dependents of a failed step are skipped. ``only=`` re-runs steps
into an existing run folder; a good run stays good if the re-run fails.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from .. import __version__
from .. import results as _results
from .._utils import atomic_write_json, atomic_write_text, sha256_file
from ..config import RunConfig, cache_dir, load_config
from ..errors import ConfigError, RunFailed, RunNotFound, suggest
from . import manifest as _manifest
from . import preflight as _preflight
from ._common import BANNER_TAG, ERROR_ANCHOR, KERNEL_NAME, PAPERMILL_ERROR_TAG, error_where
from .discover import (
    Step,
    default_notebooks_dir,
    default_reports_dir,
    depends_transitively,
    discover,
    select_steps,
)
from .manifest import (
    CONFIG_COPY,
    FAILED_MARKER,
    MANIFEST,
    MANIFEST_SCHEMA,
    RERUN_FAILED_DIR,
    RunResult,
    StepResult,
    environment,
    latest_run,
    now_utc,
    run_inputs,
    safe_summary,
    step_from_manifest,
    write_failed_marker,
)
from .params import check_parameters, step_overrides, step_parameters
from .render import render_html, run_header_html
from .safety import (
    RunInterrupted,
    atomic_output,
    interrupted,
    interrupts,
    kill_kernels,
    register_kernel,
    shielded,
    write_error,
)

__all__ = ["run", "demo", "make_notebooks"]


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

    try:
        nb = nbformat.read(out, as_version=4)
    except Exception:  # not written yet (or, before atomic writes, a truncated file): start from the source
        nb = nbformat.read(source, as_version=4)
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
    where = error_where(error)
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
    try:
        atomic_write_text(out, nbformat.writes(nb) + "\n")
    except OSError as exc:
        raise (write_error(exc, out) or exc) from None
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
                env.setdefault("CXLAB_PROGRESS", "0")  # no load progress bars in the executed notebooks
                if interrupted() is not None:  # no new kernel once the run is stopping
                    raise RuntimeError("the run is being stopped")
                register_kernel(self)  # before the process starts: an interrupt mid-start still finds it
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
            atomic_output(out),  # every save: temporary file, then os.replace
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
    except OSError as exc:
        if (werr := write_error(exc, out)) is not None:  # disk full / read-only: the run cannot go on
            raise werr from None
        seconds = time.perf_counter() - t0
        return seconds, _mark_failure(out, step.path, type(exc).__name__, str(exc), add_output=True)
    except CellTimeoutError:
        seconds = time.perf_counter() - t0
        msg = f"the cell did not finish within the {timeout:g} s cell timeout"
        return seconds, _mark_failure(out, step.path, "CellTimeoutError", msg, add_output=True)
    except DeadKernelError:
        seconds = time.perf_counter() - t0
        if (sig := interrupted()) is not None:
            return seconds, _mark_failure(out, step.path, "RunInterrupted", _interrupt_message(sig), add_output=True)
        msg = "the kernel died while running the cell (killed, out of memory, or crashed)"
        return seconds, _mark_failure(out, step.path, "DeadKernelError", msg, add_output=True)
    except Exception as exc:  # kernel did not start, unreadable notebook, ...
        if (werr := write_error(exc, out)) is not None:
            raise werr from None
        seconds = time.perf_counter() - t0
        if (sig := interrupted()) is not None:
            return seconds, _mark_failure(out, step.path, "RunInterrupted", _interrupt_message(sig), add_output=True)
        return seconds, _mark_failure(out, step.path, type(exc).__name__, str(exc), add_output=True)


def _interrupt_message(sig: RunInterrupted) -> str:
    return f"the run was stopped by {sig.signame} while this step ran"


def _progress_bar(step: Step, quiet: bool):
    return False if quiet else {"desc": step.stem, "leave": False}


def _schedule(steps: list[Step], jobs: int, execute: Callable[[Step], StepResult],
              skip: Callable[[Step, list[str]], StepResult], report: Callable[[StepResult], None],
              done: dict[str, StepResult] | None = None) -> dict[str, StepResult]:
    """Run ``steps`` respecting ``depends_on``; dependents of a failure are skipped.

    ``done`` (filled as steps finish) lets the caller see the finished steps
    when the run is interrupted. On an interrupt or a fatal write error with
    ``jobs > 1``, queued steps are cancelled, the running kernels killed and
    the running steps given a moment to record their failure.
    """
    done = {} if done is None else done
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
            with shielded(), _quiet_papermill():  # nbclient would log "Kernel died ..." per killed kernel
                kill_kernels()
                finished, _ = wait(running, timeout=30)
                for fut in finished:
                    if not fut.cancelled() and fut.exception() is None:
                        done[running[fut].stem] = fut.result()
            raise
    return done


class _quiet_papermill:
    """Silence papermill's logger for a block (the worker threads' messages about the kernels we killed)."""

    def __enter__(self):
        import logging

        self.logger = logging.getLogger("papermill")
        self.level = self.logger.level
        self.logger.setLevel(logging.CRITICAL + 1)

    def __exit__(self, *exc):
        self.logger.setLevel(self.level)
        return False


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
    PreflightFailed
        The checks of ``cxlab validate`` failed (:mod:`cxlab.pipeline.preflight`:
        the interactions accept 0 rows, none falls in the window, the
        ``cx_metric`` has no value in the window, a column parameter names a
        column the data lacks); also before any kernel and any folder.
    SourceError
        A source cannot be read (the preflight loads the data first).
    RunFailed
        A step failed: its HTML shows the error at the top, dependents were
        skipped, the folder holds ``FAILED`` and ``latest`` did not move.
        ``exc.result`` is the :class:`RunResult`.
    RunInterrupted
        SIGTERM or SIGINT: kernels killed, the run marked failed (manifest
        ``status: failed``, ``interrupted``, the finished steps, ``not_run``;
        ``FAILED``), ``latest`` untouched.
    RunWriteError
        A file of the run could not be written (disk full, read-only): the
        run is marked failed as far as the disk allows (``FAILED`` is written
        when the run starts and removed only on success).

    Notes
    -----
    Every notebook (each papermill save), HTML, JSON and the manifest is
    written atomically: a temporary file in the same folder, then
    ``os.replace``. ``latest`` moves only to a run that started later than the
    run it points at. Re-runs (``only``) skip the preflight: they use the
    run's own config on data already checked.
    """
    t0 = time.perf_counter()
    cfg, explicit = _resolve_config(config, config_path)
    if int(jobs) < 1:
        raise ValueError(f"jobs must be at least 1; got {jobs!r}")
    nb_dir = Path(notebooks_dir) if notebooks_dir is not None else default_notebooks_dir()
    all_steps = discover(nb_dir)
    if not all_steps:
        raise FileNotFoundError(f"no step notebooks (NN_*.ipynb) in {nb_dir}")
    name_dir = Path(reports_dir if reports_dir is not None else default_reports_dir()) / cfg.name

    if only is not None:
        return _rerun(cfg, explicit, all_steps, select_steps(all_steps, only), name_dir, nb_dir,
                      run_id=run_id, jobs=int(jobs), timeout=timeout, quiet=quiet, t0=t0)

    check_parameters(cfg, all_steps, all_steps)
    with _load_progress(not quiet):
        checked = _preflight.check(cfg, all_steps)  # the plan; PreflightFailed before any kernel starts
    run_id = run_id or _manifest.new_run_id()
    run_dir = (name_dir / run_id).resolve()
    started = now_utc(precise=True)
    _create_run_dir(run_dir)
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "cxlab_version": __version__,
        "run": {
            "name": cfg.name, "title": cfg.title, "run_id": run_id, "status": "running",
            "started_at": started, "finished_at": None, "wall_s": None, "jobs": int(jobs), "timeout_s": timeout,
        },
        "environment": environment(),
        "config": {"file": CONFIG_COPY, "sha256": None},
        "inputs": run_inputs(cfg),
        "window": cfg.window.model_dump(mode="json"),
        "cx_metric": cfg.cx_metric,
        "kpis": cfg.kpis.model_dump(mode="json"),
        "plan": checked.plan_manifest(),
        "data_summary": {},
        "steps": [],
        "failed": [],
        "skipped": [],
        "reruns": [],
    }
    done: dict[str, StepResult] = {}
    running: dict[str, Path] = {}
    progress = _Progress(len(all_steps), quiet)
    try:
        with interrupts():
            _run_all(cfg, checked, manifest, all_steps, run_dir, nb_dir, run_id, started, jobs=int(jobs),
                     timeout=timeout, quiet=quiet, progress=progress, done=done, running=running, t0=t0)
    finally:
        _unstash(run_dir)
    return _finish(cfg, manifest, all_steps, run_dir, name_dir, run_id, started, done, progress, t0)


def _run_all(cfg, checked, manifest, all_steps, run_dir, nb_dir, run_id, started, *, jobs, timeout, quiet,
             progress, done, running, t0) -> None:
    """The body of a new run: FAILED marker, config copy, manifest, the stash, the steps; aborts mark it failed."""
    try:
        # FAILED first, removed only when the run succeeds: a folder whose run was killed (SIGKILL,
        # power loss) or became read-only mid-run can never look good
        atomic_write_text(run_dir / FAILED_MARKER, f"run {run_id} started at {started} and has not finished "
                          "(still running, or stopped before it could clean up)\n")
        kernel_config = _manifest.write_run_config(run_dir, cfg)  # config.yaml, secrets redacted
        manifest["config"]["sha256"] = sha256_file(run_dir / CONFIG_COPY)
        manifest["config"]["redacted"] = kernel_config != run_dir / CONFIG_COPY
        atomic_write_json(run_dir / MANIFEST, manifest)
        for line in checked.skipped_lines():
            progress.note(line)
        t_stash = time.perf_counter()
        stashed = _stash_tables(cfg, checked, run_dir)
        t_stash = time.perf_counter() - t_stash
        _run_steps(cfg, all_steps, run_dir, nb_dir, run_id, jobs=jobs, timeout=timeout, quiet=quiet,
                   progress=progress, done=done, running=running, config_path=kernel_config)
        manifest["data_load"] = _manifest.stash_uses(run_dir, stashed, t_stash)
    except BaseException as exc:  # interrupted, or nothing more can be written: the folder must not look good
        with shielded():
            _unstash(run_dir)
            _abort(exc, manifest, run_dir, all_steps, done, running, t0)
        raise _why_stopped(exc, run_dir) from None


def _finish(cfg, manifest, all_steps, run_dir, name_dir, run_id, started, done, progress, t0) -> RunResult:
    steps = [done[s.stem] for s in sorted(all_steps, key=lambda s: s.number)]
    status = "ok" if all(s.ok for s in steps) else "failed"
    wall = time.perf_counter() - t0
    manifest["run"].update(status=status, finished_at=now_utc(precise=True), wall_s=round(wall, 3))
    manifest["steps"] = [s.to_manifest(run_dir) for s in steps]
    manifest["failed"] = [s.step for s in steps if s.status == "failed"]
    manifest["skipped"] = [s.step for s in steps if s.status == "skipped"]
    manifest["data_summary"] = safe_summary(run_dir, cfg)
    result = RunResult(run_id, run_dir, status, steps, wall)
    try:
        if status != "ok":
            write_failed_marker(run_dir, steps)  # the marker first: a folder without it must be good
        atomic_write_json(run_dir / MANIFEST, manifest)
        if status == "ok":
            (run_dir / FAILED_MARKER).unlink(missing_ok=True)
    except OSError as exc:
        werr = write_error(exc) or exc
        _best_effort_failed(run_dir, manifest, f"the run could not record its result: {werr}")
        raise werr from None
    if status != "ok":
        raise RunFailed(result)
    moved = _manifest.point_latest_if_newer(name_dir, run_id, started)
    if not moved:
        progress.note(f"note: 'latest' stays at a run that started after this one ({latest_run(name_dir).name})")
    return result


def _stash_tables(cfg: RunConfig, checked, run_dir: Path) -> bool:
    """Validate and load the tables once for the run (:func:`cxlab.pipeline.manifest.stash_tables`)."""
    try:
        return _manifest.stash_tables(cfg, getattr(checked, "dataset", None) or _preflight._load(cfg), run_dir)
    except Exception as exc:  # the notebooks load the data themselves, as without a stash
        _manifest.unstash(run_dir)
        if (werr := write_error(exc, run_dir)) is not None:
            raise werr from None
        return False


_unstash = _manifest.unstash


@contextlib.contextmanager
def _load_progress(show: bool):
    """Within the block, data loads show no progress bar unless ``show`` (``CXLAB_PROGRESS``, cxlab.data.load)."""
    saved = os.environ.get("CXLAB_PROGRESS")
    if not show:
        os.environ["CXLAB_PROGRESS"] = "0"
    try:
        yield
    finally:
        if not show:
            os.environ.pop("CXLAB_PROGRESS", None) if saved is None else os.environ.update(CXLAB_PROGRESS=saved)


def _create_run_dir(run_dir: Path) -> None:
    try:
        run_dir.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise ConfigError(f"run folder {run_dir} exists already; choose another run id") from None
    except OSError as exc:
        raise (write_error(exc, run_dir) or exc) from None


def _why_stopped(exc: BaseException, run_dir: Path) -> BaseException:
    """The exception the caller sees: the signal, a one-line write error, or the original."""
    if isinstance(exc, RunInterrupted):
        return exc
    if isinstance(exc, KeyboardInterrupt):  # a SIGINT outside our handler (a thread, a library)
        return RunInterrupted(2)
    werr = write_error(exc)
    return werr if werr is not None else exc


def _abort(exc: BaseException, manifest: dict, run_dir: Path, all_steps: list[Step],
           done: dict[str, StepResult], running: dict[str, Path], t0: float) -> None:
    """Mark an interrupted or unwritable run failed: kernels killed, finished steps kept, FAILED written."""
    kill_kernels()
    sig = exc if isinstance(exc, RunInterrupted) else (RunInterrupted(2) if isinstance(exc, KeyboardInterrupt) else None)
    werr = write_error(exc)
    if sig is not None:
        why = f"run interrupted by {sig.signame}"
    elif werr is not None:
        why = f"run stopped: {werr}"
    else:
        why = f"run stopped: {type(exc).__name__}: {exc}"
    by_stem = {s.stem: s for s in all_steps}
    for stem, out in list(running.items()):  # the step(s) cut short (serial runs: the main thread was in it)
        if stem in done:
            continue
        step = by_stem[stem]
        error = {"cell": None, "source": "", "ename": type(sig or werr or exc).__name__, "evalue": why}
        if werr is None:
            try:
                error = _mark_failure(out, step.path, error["ename"], why, add_output=True)
            except Exception:
                pass
        done[stem] = StepResult(stem, step.number, "failed", 0.0, out if out.exists() else None, None, error)
    steps = [done[s.stem] for s in sorted(all_steps, key=lambda s: s.number) if s.stem in done]
    manifest["run"].update(status="failed", finished_at=now_utc(precise=True),
                           wall_s=round(time.perf_counter() - t0, 3), stopped=why)
    if sig is not None:
        manifest["run"]["interrupted"] = sig.signame
    manifest["steps"] = [s.to_manifest(run_dir) for s in steps]
    manifest["failed"] = [s.step for s in steps if s.status == "failed"]
    manifest["skipped"] = [s.step for s in steps if s.status == "skipped"]
    manifest["not_run"] = [s.stem for s in sorted(all_steps, key=lambda s: s.number) if s.stem not in done]
    lines = [why] + [f"{s.step}: {s.error_summary()}" for s in steps if s.status != "ok"]
    _best_effort_failed(run_dir, manifest, "\n".join(lines))


def _best_effort_failed(run_dir: Path, manifest: dict, text: str) -> None:
    """Write FAILED (first) and the failed manifest; on a full disk as much of it as fits."""
    manifest["run"]["status"] = "failed"
    try:
        atomic_write_text(run_dir / FAILED_MARKER, text.rstrip("\n") + "\n")
    except OSError:
        try:  # no room for a temporary file: a marker of zero bytes still says "failed"
            (run_dir / FAILED_MARKER).touch()
        except OSError:
            pass
    try:
        atomic_write_json(run_dir / MANIFEST, manifest)
    except OSError:
        pass  # the FAILED marker (or the missing "ok") already tells readers this run is not good


def _run_steps(cfg: RunConfig, steps: list[Step], run_dir: Path, nb_dir: Path, run_id: str, *,
               jobs: int, timeout: float, quiet: bool, out_dir: Path | None = None,
               progress: _Progress | None = None, done: dict[str, StepResult] | None = None,
               running: dict[str, Path] | None = None, config_path: Path | None = None) -> dict[str, StepResult]:
    out_dir = out_dir or run_dir
    config_path = config_path or _manifest.run_config_path(run_dir)
    progress = progress or _Progress(len(steps), quiet)
    running = {} if running is None else running

    def execute(step: Step) -> StepResult:
        params = step_parameters(cfg, step, run_dir, config_path)
        out = out_dir / f"{step.stem}.ipynb"
        running[step.stem] = out
        seconds, error = _execute(step, params, out, nb_dir, timeout, _progress_bar(step, quiet))
        status = "failed" if error else "ok"
        html_path = out.with_suffix(".html")
        try:
            header = run_header_html(cfg, run_id=run_id, step=step.stem, status=status, error=error)
            render_html(out, html_path, header_html=header)
        except Exception as exc:  # rendering broke: the step is not deliverable
            if (werr := write_error(exc, html_path)) is not None:
                raise werr from None
            html_path = None
            if error is None:
                error = {"cell": None, "source": "", "ename": type(exc).__name__,
                         "evalue": f"HTML rendering failed: {exc}"}
                status = "failed"
        overrides = step_overrides(cfg, step)
        return StepResult(step.stem, step.number, status, seconds, out, html_path, error, [], overrides)

    def skip(step: Step, because: list[str]) -> StepResult:
        return StepResult(step.stem, step.number, "skipped", 0.0, None, None, None, because,
                          step_overrides(cfg, step))

    return _schedule(steps, jobs, execute, skip, progress.report, done=done)


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
    stored = load_config(_manifest.run_config_path(run_dir))  # the unredacted copy when the run has one
    if explicit and cfg.model_dump(exclude={"config_dir"}) != stored.model_dump(exclude={"config_dir"}):
        raise ConfigError(
            f"the config differs from the one run {run_id} used ({run_dir / CONFIG_COPY}); "
            "re-running a step must use the run's own config: start a new run instead"
        )
    check_parameters(stored, selected, all_steps)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    was_ok = manifest["run"].get("status") == "ok"
    started = now_utc()

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
    with interrupts():
        try:
            if len(selected) > 1:  # one load for the re-run steps (a single step loads by itself: cheaper)
                _stash_tables(stored, None, run_dir)
            done = _run_steps(stored, selected, run_dir, nb_dir, run_id, jobs=jobs, timeout=timeout, quiet=quiet,
                              progress=progress)
        except BaseException as exc:  # interrupted or unwritable: the run keeps what it had
            with shielded():
                _unstash(run_dir)
                kill_kernels()
                if backup:
                    _restore(backup, run_dir, selected)
            raise _why_stopped(exc, run_dir) from None
    _unstash(run_dir)
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
        if s.stem not in rerun_names and depends_transitively(s, rerun_names, all_steps)
    )
    manifest.setdefault("reruns", []).append({
        "steps": [s.stem for s in selected],
        "started_at": started,
        "finished_at": now_utc(),
        "wall_s": round(time.perf_counter() - t0, 3),
        "status": "failed" if failed else "ok",
        "failed": [r.step for r in failed],
        "kept_previous_artefacts": bool(was_ok and failed),
        "dependents_not_rerun": stale,
    })
    manifest["run"]["status"] = status
    manifest["data_summary"] = safe_summary(run_dir, stored)
    atomic_write_json(manifest_path, manifest)
    if stale and not failed:
        progress.note(f"note: steps that use these results were not re-run: {', '.join(stale)}")

    wall = time.perf_counter() - t0
    steps = [step_from_manifest(e, run_dir) for e in order]
    for r in results:  # report the attempt's own outcome for the re-run steps
        steps = [r if s.step == r.step else s for s in steps]
    if failed:
        result = RunResult(run_id, run_dir, "failed", steps, wall)
        if not was_ok:
            write_failed_marker(run_dir, steps)
        raise RunFailed(result)
    if status == "ok":
        (run_dir / FAILED_MARKER).unlink(missing_ok=True)
        _manifest.point_latest_if_newer(name_dir, run_id, manifest["run"].get("started_at"))
    else:
        write_failed_marker(run_dir, steps)
    return RunResult(run_id, run_dir, status, steps, wall)


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

    nb_dir = Path(notebooks_dir) if notebooks_dir is not None else default_notebooks_dir()
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
            text = nbformat.writes(nb)
            atomic_write_text(step.path, text if text.endswith("\n") else text + "\n")  # as nbformat.write
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
