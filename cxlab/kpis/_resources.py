"""Step 2 — DuckDB resource settings for every connection the KPI layer opens.

Three DuckDB settings bound what a KPI query may use: ``memory_limit`` (the
buffer manager spills to disk above it), ``temp_directory`` (where it spills,
and where :func:`cxlab.kpis.kpi_table` stages its out-of-core buckets) and
``threads``. Two more decide when :func:`cxlab.kpis.kpi_table` switches to
its out-of-core path (``out_of_core_rows``) and how many contacts go in one
repeat-window bucket (``bucket_rows``); see docs/scale.md.

Each setting is resolved as: :func:`configure` (the run config's
``engine.memory_limit`` / ``engine.temp_directory`` / ``engine.threads``),
then the environment variables ``CXLAB_DUCKDB_MEMORY_LIMIT``,
``CXLAB_DUCKDB_TEMP_DIR``, ``CXLAB_DUCKDB_THREADS``, then the machine
defaults: 25% of physical memory (or of the cgroup limit, if lower), a
``duckdb_tmp`` folder under :func:`cxlab.config.cache_dir`, and every core.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..config import cache_dir
from ..errors import ConfigError

__all__ = ["configure", "settings", "apply", "memory_limit_bytes"]

#: fraction of the machine's memory DuckDB may use by default
MEMORY_FRACTION = 0.25
#: default row count from which kpi_table stages the repeat window in buckets
OUT_OF_CORE_ROWS = 20_000_000
#: memory one contact takes in the repeat-window sort (hash key, time, payload, overhead), for the default
#: bucket size; 100M contacts ran in 6.1 GB peak RSS with a 6 GB limit (benchmarks/scale.py, docs/scale.md)
WINDOW_BYTES_PER_ROW = 50

_ENV = {"memory_limit": "CXLAB_DUCKDB_MEMORY_LIMIT", "temp_directory": "CXLAB_DUCKDB_TEMP_DIR",
        "threads": "CXLAB_DUCKDB_THREADS"}
_KEYS = ("memory_limit", "temp_directory", "threads", "out_of_core_rows", "bucket_rows")
_overrides: dict = {}
_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
          "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}


def memory_limit_bytes(value) -> int:
    """Parse a memory size: an int of bytes or a string such as ``"6GB"``, ``"512 MiB"``.

    Parameters
    ----------
    value : int or str
        Bytes, or a number with a unit (B, KB, MB, GB, TB: powers of 1000;
        KiB, MiB, GiB, TiB: powers of 1024), as DuckDB accepts.

    Returns
    -------
    int
        Bytes.

    Examples
    --------
    >>> memory_limit_bytes("6GB"), memory_limit_bytes("512 MiB"), memory_limit_bytes(2**30)
    (6000000000, 536870912, 1073741824)
    """
    if isinstance(value, bool):
        raise ConfigError(f"engine.memory_limit: expected bytes or a size such as '6GB'; got {value!r}")
    if isinstance(value, (int, float)):
        n = int(value)
    else:
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", str(value))
        if not m or m.group(2).lower() not in _UNITS:
            raise ConfigError(f"engine.memory_limit: cannot read {value!r} as a size; use e.g. '6GB' or '4096MiB'")
        n = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    if n < 64 * 1024**2:
        raise ConfigError(f"engine.memory_limit: {value!r} is below 64 MiB; DuckDB needs more to run a query")
    return n


def _machine_memory() -> int:
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for f in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(f).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def _check(key: str, value):
    if key not in _KEYS:
        raise ConfigError(f"unknown DuckDB resource setting {key!r}; settings: {list(_KEYS)}")
    if value is None:
        return None
    if key == "memory_limit":
        return memory_limit_bytes(value)
    if key == "temp_directory":
        return str(Path(os.fspath(value)).expanduser())
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if n < 1 or (isinstance(value, float) and value != n):
        raise ConfigError(f"engine.{key}: expected a positive integer; got {value!r}")
    return n


def configure(**values) -> dict:
    """Set DuckDB resource settings for the KPI layer (``None`` restores the default).

    Parameters
    ----------
    **values
        Any of ``memory_limit`` (bytes or e.g. ``"6GB"``), ``temp_directory``,
        ``threads``, ``out_of_core_rows``, ``bucket_rows``.

    Returns
    -------
    dict
        The resolved settings after the change (:func:`settings`).

    Raises
    ------
    cxlab.errors.ConfigError
        An unknown setting or a value that cannot be read.

    Examples
    --------
    >>> configure(threads=2)["threads"]
    2
    >>> configure(threads=None)["threads"] == (os.cpu_count() or 1)  # back to the default
    True
    """
    checked = {k: _check(k, v) for k, v in values.items()}
    for k, v in checked.items():
        if v is None:
            _overrides.pop(k, None)
        else:
            _overrides[k] = v
    return settings()


def settings() -> dict:
    """The resolved settings: :func:`configure`, else ``CXLAB_DUCKDB_*`` environment variables, else defaults.

    Returns
    -------
    dict
        ``memory_limit`` (bytes), ``temp_directory`` (str), ``threads``,
        ``out_of_core_rows``, ``bucket_rows``.

    Notes
    -----
    Default ``memory_limit`` = ``MEMORY_FRACTION`` (25%) x physical memory
    (the cgroup limit if lower), at least 1 GiB; default ``bucket_rows`` =
    ``memory_limit / WINDOW_BYTES_PER_ROW`` (at least 1M): the contacts whose
    repeat-window sort fits in the limit.

    Examples
    --------
    >>> sorted(settings())
    ['bucket_rows', 'memory_limit', 'out_of_core_rows', 'temp_directory', 'threads']
    """
    out = {}
    for key in _KEYS:
        if key in _overrides:
            out[key] = _overrides[key]
            continue
        env = os.environ.get(_ENV.get(key, ""), "").strip()
        if env:
            try:
                out[key] = _check(key, env)
            except ConfigError as e:
                raise ConfigError(f"environment variable {_ENV[key]}: {e}") from None
            continue
        out[key] = {
            "memory_limit": lambda: max(1024**3, int(MEMORY_FRACTION * _machine_memory())),
            "temp_directory": lambda: str(cache_dir() / "duckdb_tmp"),
            "threads": lambda: os.cpu_count() or 1,
            "out_of_core_rows": lambda: OUT_OF_CORE_ROWS,
            "bucket_rows": lambda: max(1_000_000, out["memory_limit"] // WINDOW_BYTES_PER_ROW),
        }[key]()
    return out


def apply(con) -> dict:
    """Apply :func:`settings` to a DuckDB connection; returns them.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A connection the KPI layer opened (never a caller's connection).

    Returns
    -------
    dict
        The settings applied.

    Examples
    --------
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> s = apply(con)
    >>> con.execute("SELECT current_setting('threads')").fetchone()[0] == s["threads"]
    True
    """
    s = settings()
    Path(s["temp_directory"]).mkdir(parents=True, exist_ok=True)
    con.execute(f"SET memory_limit = '{s['memory_limit'] // 1024**2}MiB'")
    con.execute("SET temp_directory = '" + s["temp_directory"].replace("'", "''") + "'")
    con.execute(f"SET threads = {int(s['threads'])}")
    return s
