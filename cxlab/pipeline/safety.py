"""Runs that fail cleanly: signal handlers, kernel clean-up, atomic notebook writes, write errors.

A run interrupted by SIGTERM or SIGINT, or stopped by a write that cannot
succeed (disk full, read-only folder), must leave its folder marked failed
(manifest status ``"failed"`` and a ``FAILED`` marker), no truncated file and
``latest`` untouched. This module holds the pieces :func:`cxlab.pipeline.run`
uses for that:

* :func:`interrupts` installs SIGTERM / SIGINT handlers for the duration of a
  run; the first signal raises :class:`RunInterrupted` in the main thread,
  later ones are ignored while the run cleans up;
* every kernel the run starts is registered, so :func:`kill_kernels` can
  stop them all (serial or ``--jobs`` runs alike);
* papermill writes the executed notebook through :func:`atomic_output`
  (temporary file in the same folder, then ``os.replace``), so a notebook on
  disk is always a complete one;
* :func:`write_error` recognises an ``OSError`` that means "nothing more can
  be written here" and turns it into a one-line :class:`RunWriteError`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import threading
import weakref

from ..errors import CxlabError

__all__ = ["RunInterrupted", "RunWriteError"]

#: errno values that mean the run folder cannot take more writes.
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}

ATOMIC_SCHEME = "cxlab-atomic:"


class RunInterrupted(KeyboardInterrupt):
    """The run was stopped by a signal (SIGTERM or SIGINT).

    A ``KeyboardInterrupt`` so that code which lets Ctrl-C through lets it
    through too. ``signame`` is ``"SIGTERM"`` or ``"SIGINT"``; ``exit_code``
    the conventional ``128 + signal number`` (143, 130).
    """

    def __init__(self, signum: int):
        self.signum = int(signum)
        self.signame = signal.Signals(signum).name
        super().__init__(self.signame)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class RunWriteError(CxlabError, OSError):
    """A file of the run could not be written (disk full, read-only folder, no permission).

    The message is one line naming the file and the reason, e.g.
    ``cannot write reports/demo/<run>/05_focus.ipynb: No space left on device
    (ENOSPC)``. ``path`` is the file, ``errno`` the error number.
    """

    def __init__(self, path, exc: OSError):
        self.path = str(path) if path is not None else None
        reason = exc.strerror or str(exc)
        code = errno.errorcode.get(exc.errno, "") if exc.errno else ""
        where = f"cannot write {self.path}" if self.path else "cannot write the run folder"
        super().__init__(exc.errno, f"{where}: {reason}{f' ({code})' if code else ''}")
        self.errno = exc.errno

    def __str__(self) -> str:  # OSError's str would show "[Errno 28] ..."
        return self.strerror


def write_error(exc: BaseException, path=None) -> RunWriteError | None:
    """A :class:`RunWriteError` when ``exc`` (or an exception it wraps) means "cannot write here".

    Examples
    --------
    >>> import errno
    >>> str(write_error(OSError(errno.ENOSPC, "No space left on device"), "r/x.json"))
    'cannot write r/x.json: No space left on device (ENOSPC)'
    >>> write_error(ValueError("no")) is None
    True
    """
    seen = set()
    cur = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, RunWriteError):
            return cur
        if isinstance(cur, OSError) and cur.errno in WRITE_ERRNOS:
            return RunWriteError(path or cur.filename, cur)
        cur = cur.__cause__ or cur.__context__
    return None


# --------------------------------------------------------------------------- signals

_STATE = threading.local()
_INTERRUPTED: list[RunInterrupted] = []


def interrupted() -> RunInterrupted | None:
    """The signal that stopped the current run, if one did (any thread may ask)."""
    return _INTERRUPTED[-1] if _INTERRUPTED else None


_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def _signals_set(handler, *, reset=None):
    """Set ``handler`` for SIGTERM and SIGINT while the block runs, then restore the previous handlers.

    ``reset`` (if given) is called before the handler is set and again after
    the previous handlers are back. Outside the main thread (where Python
    cannot install handlers) this sets nothing and calls nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in _SIGNALS}
    if reset is not None:
        reset()
    for s in previous:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
        if reset is not None:
            reset()


@contextlib.contextmanager
def interrupts():
    """Turn SIGTERM and SIGINT into :class:`RunInterrupted` while the block runs.

    Only the first signal raises; further ones are ignored so that the
    clean-up (killing kernels, writing the manifest) is not cut short. The
    previous handlers are restored on exit. Outside the main thread (where
    Python cannot install handlers) this does nothing.
    """

    def handler(signum, frame):
        for s in _SIGNALS:  # a second Ctrl-C must not interrupt the clean-up
            signal.signal(s, signal.SIG_IGN)
        # killed kernels make nbclient and asyncio log "Kernel died" / "Task exception was never retrieved"
        # with tracebacks while the run is torn down; the run prints its own one-line message instead
        import logging

        for name in ("asyncio", "nbclient", "papermill", "traitlets"):
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)
        exc = RunInterrupted(signum)
        _INTERRUPTED.append(exc)
        raise exc

    # cleared on exit too: the run has cleaned up, later runs in this process start afresh
    with _signals_set(handler, reset=_INTERRUPTED.clear):
        yield


@contextlib.contextmanager
def shielded():
    """Ignore SIGTERM / SIGINT during a short clean-up (main thread only), then restore."""
    with _signals_set(signal.SIG_IGN):
        yield


# --------------------------------------------------------------------------- kernels

_KERNELS: weakref.WeakSet = weakref.WeakSet()
_KERNELS_LOCK = threading.Lock()


def register_kernel(km) -> None:
    """Remember a started kernel manager so :func:`kill_kernels` can stop its kernel."""
    with _KERNELS_LOCK:
        _KERNELS.add(km)


def _kernel_process(km):
    prov = getattr(km, "provisioner", None)
    return getattr(prov, "process", None)


def kill_kernels() -> int:
    """Kill every kernel this process started that is still alive; return how many.

    Sends SIGKILL to the kernel process (a kernel busy in a cell ignores a
    polite shutdown) and removes its connection file. Worker threads waiting
    on a killed kernel see ``DeadKernelError`` and finish.
    """
    with _KERNELS_LOCK:
        managers = list(_KERNELS)
    n = 0
    for km in managers:
        proc = _kernel_process(km)
        if proc is None:
            continue
        try:
            if proc.poll() is None:
                proc.kill()
                n += 1
            proc.wait(timeout=5)
        except Exception:  # already gone, or not a Popen
            pass
        with contextlib.suppress(Exception):
            km.cleanup_connection_file()
    return n


# --------------------------------------------------------------------------- atomic notebook output


class _AtomicHandler:
    """papermill I/O handler: write ``cxlab-atomic:<path>`` atomically, read it as a local file."""

    @staticmethod
    def _path(path: str) -> str:
        return path[len(ATOMIC_SCHEME):]

    def read(self, path):
        with open(self._path(path), encoding="utf-8") as fh:
            return fh.read()

    def listdir(self, path):
        p = self._path(path)
        return [os.path.join(p, f) for f in os.listdir(p)]

    def write(self, buf, path):
        from .._utils import atomic_write_text

        atomic_write_text(self._path(path), buf)

    def pretty_path(self, path):
        return self._path(path)


_REGISTERED = False


def atomic_output(path) -> str:
    """The papermill output path that writes ``path`` atomically at every save.

    Papermill saves the output notebook after cells; each save goes through
    a temporary file in the same folder and ``os.replace``, so the notebook on
    disk is always complete, even after a signal or a failed write.
    """
    global _REGISTERED
    if not _REGISTERED:
        from papermill.iorw import papermill_io

        papermill_io.register(ATOMIC_SCHEME, _AtomicHandler())
        _REGISTERED = True
    return ATOMIC_SCHEME + str(path)


def temp_files(folder) -> list:
    """Leftover temporary files of atomic writes under ``folder`` (``.<name>.*.tmp``)."""
    from pathlib import Path

    return sorted(p for p in Path(folder).rglob(".*.tmp"))
