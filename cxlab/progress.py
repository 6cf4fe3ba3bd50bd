"""Progress bars for long loads and KPI queries (``tqdm.auto``: a bar in a terminal, a widget in JupyterLab).

A bar is drawn only where a person watches and only for long work:

* ``CXLAB_PROGRESS=0`` (also ``false``, ``no``, ``off``) turns every bar
  off; ``cxlab run`` and ``make notebooks`` set it in the kernels they
  start, so an executed (papermill) or regression-tested (nbval) notebook
  never records a bar in its outputs;
* ``CXLAB_PROGRESS=1`` (``true``, ``yes``, ``on``) forces the bars on;
* otherwise a bar shows when stderr is a terminal, or in an interactive
  Jupyter kernel (an IPython ZMQ shell started by a Jupyter server, which
  sets ``JPY_SESSION_NAME``; papermill, nbclient and nbval kernels do not),
  and only after the work has lasted ``delay`` seconds (2 by default), so
  short loads and queries, and pytest's captured output, never show one.

The results never depend on the bars: a bar only observes.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading

__all__ = ["enabled", "bar", "tick", "watch_query", "DELAY_S"]

#: Seconds a piece of work must last before its bar is drawn.
DELAY_S = 2.0

_OFF = ("0", "false", "no", "off")
_ON = ("1", "true", "yes", "on")


def enabled() -> bool:
    """Whether bars may be drawn here (``CXLAB_PROGRESS``, else a terminal or an interactive Jupyter kernel).

    Examples
    --------
    >>> import os
    >>> saved = os.environ.get("CXLAB_PROGRESS")
    >>> os.environ["CXLAB_PROGRESS"] = "0"
    >>> enabled()
    False
    >>> os.environ["CXLAB_PROGRESS"] = "1"
    >>> enabled()
    True
    >>> _ = os.environ.pop("CXLAB_PROGRESS") if saved is None else os.environ.update(CXLAB_PROGRESS=saved)
    """
    env = os.environ.get("CXLAB_PROGRESS", "").strip().lower()
    if env in _OFF:
        return False
    if env in _ON:
        return True
    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stderr
        tty = False
    return tty or in_jupyter()


def in_jupyter() -> bool:
    """Whether this process is a kernel a person is working in, under a Jupyter server.

    An IPython ZMQ shell started by a Jupyter server (JupyterLab, Notebook,
    VS Code's server sets it too) has ``JPY_SESSION_NAME`` in its environment;
    kernels started headless by papermill, nbclient or nbval do not, so an
    executed or regression-tested notebook never records a bar.
    """
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return type(shell).__name__ == "ZMQInteractiveShell" and bool(os.environ.get("JPY_SESSION_NAME"))


def bar(total: float | None, *, desc: str, unit: str = "it", delay: float | None = None, file=None):
    """A tqdm bar (context manager) when :func:`enabled`, else a context yielding None.

    Parameters
    ----------
    total : float or None
        Steps of the work (None: unknown).
    desc, unit : str
        The bar's label and unit.
    delay : float, optional
        Seconds before the bar is first drawn (tqdm's ``delay``; default :data:`DELAY_S`).
    file : file-like, optional
        Where a terminal bar is written (default ``sys.stderr``).

    Returns
    -------
    context manager
        Yields the ``tqdm.auto.tqdm`` instance or None; use :func:`tick` to advance either.

    Examples
    --------
    >>> import os
    >>> saved = os.environ.get("CXLAB_PROGRESS")
    >>> os.environ["CXLAB_PROGRESS"] = "0"
    >>> with bar(3, desc="demo") as b:
    ...     tick(b)
    >>> b is None
    True
    >>> _ = os.environ.pop("CXLAB_PROGRESS") if saved is None else os.environ.update(CXLAB_PROGRESS=saved)
    """
    if not enabled():
        return contextlib.nullcontext(None)
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return contextlib.nullcontext(None)
    delay = DELAY_S if delay is None else delay
    return tqdm(total=total, desc=desc, unit=unit, delay=delay, leave=False, file=file or sys.stderr)


def tick(b, n: float = 1, what: str | None = None) -> None:
    """Advance bar ``b`` by ``n`` (a no-op when ``b`` is None), with ``what`` as its postfix."""
    if b is None:
        return
    if what is not None:
        b.set_postfix_str(what, refresh=False)
    b.update(n)


@contextlib.contextmanager
def watch_query(con, desc: str, *, interval: float = 0.1, delay: float | None = None, file=None):
    """Within the block, a thread polls DuckDB's ``con.query_progress()`` into a percent bar.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The connection whose running query is observed.
    desc : str
        The bar's label.
    interval : float, default 0.1
        Seconds between two polls.
    delay, file
        As for :func:`bar`.

    Notes
    -----
    ``query_progress()`` returns the percentage DuckDB estimates for the
    query running on the connection (-1 when none runs or it cannot tell);
    it is safe to call from another thread while ``execute`` runs. DuckDB
    tracks it only with ``enable_progress_bar`` on: the block turns it on
    (with ``enable_progress_bar_print`` off, so DuckDB prints nothing
    itself) and restores both settings after. Nothing
    starts when :func:`enabled` is false: the query runs exactly as without
    the block.

    Examples
    --------
    >>> import duckdb, os
    >>> saved = os.environ.get("CXLAB_PROGRESS")
    >>> os.environ["CXLAB_PROGRESS"] = "0"
    >>> con = duckdb.connect()
    >>> with watch_query(con, "demo"):
    ...     con.execute("SELECT 42").fetchall()
    [(42,)]
    >>> con.close()
    >>> _ = os.environ.pop("CXLAB_PROGRESS") if saved is None else os.environ.update(CXLAB_PROGRESS=saved)
    """
    if not enabled():
        yield None
        return
    saved = _progress_settings(con)
    stop = threading.Event()
    with bar(100, desc=desc, unit="%", delay=delay, file=file) as b:
        def poll():
            done = 0.0
            while not stop.wait(interval):
                try:
                    pct = float(con.query_progress())
                except Exception:  # the connection is busy closing, or this DuckDB cannot tell
                    continue
                if b is not None and pct > done:
                    b.update(min(pct, 100.0) - done)
                    done = min(pct, 100.0)

        thread = threading.Thread(target=poll, name="cxlab-query-progress", daemon=True)
        thread.start()
        try:
            yield b
        finally:
            stop.set()
            thread.join()
            _progress_settings(con, saved)


_SETTINGS = (("enable_progress_bar", "true"), ("enable_progress_bar_print", "false"))


def _progress_settings(con, restore: dict | None = None) -> dict:
    """Turn DuckDB's progress tracking on without its own printing (returns the old values), or restore them."""
    before: dict = {}
    for name, value in _SETTINGS:
        try:
            if restore is None:
                before[name] = con.execute(f"SELECT current_setting('{name}')").fetchall()[0][0]
                con.execute(f"SET {name} = {value}")
            elif name in restore:
                con.execute(f"SET {name} = {str(restore[name]).lower()}")
        except Exception:  # an older DuckDB without the setting: the bar just stays empty
            pass
    return before
