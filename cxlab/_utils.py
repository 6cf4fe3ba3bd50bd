"""Private toolbox shared by every cxlab package (one copy of each helper).

Nothing here is public API; packages import these names, notebooks do not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def isin(values: pd.Series, pool) -> np.ndarray:
    """``values.isin(pool)`` as a bool array; hashes through pyarrow (pandas 3 string isin is slow)."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = pa.array(values)
        ref = pa.array(pd.Series(pool).dropna()).unique()
        if arr.type != ref.type:
            ref = ref.cast(arr.type)
        return pc.is_in(arr, value_set=ref).fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
    except Exception:  # mixed or exotic types: fall back to pandas
        return values.isin(pd.Series(pool).dropna()).to_numpy(bool)


def as_list(value, name: str = "value", *, strings: bool = False) -> list:
    """``None`` → ``[]``, a string → ``[value]``, any other iterable → ``list(value)``.

    With ``strings=True`` every element must be a ``str`` (column names).
    """
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    try:
        out = list(value)
    except TypeError:
        raise TypeError(f"{name} must be a column name or a list of column names; got {value!r}") from None
    if strings and not all(isinstance(v, str) for v in out):
        raise TypeError(f"{name} must hold column names (str); got {out!r}")
    return out


def require_columns(frame, columns, *, what: str = "frame", table: str | None = None,
                    step: str | None = None) -> None:
    """Raise :class:`cxlab.errors.DataError` naming every column of ``columns`` missing from ``frame``.

    The message names what was being checked (``what``), the table and the
    step when given, a "did you mean" hint for the first missing column, and
    the columns the frame does have.
    """
    from .errors import DataError, suggest

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame; got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        where = "".join([f" (table {table!r})" if table else "", f" (step {step})" if step else ""])
        raise DataError(
            f"{what} column(s) {missing} not in the frame{where}{suggest(str(missing[0]), frame.columns)}; "
            f"columns are {list(frame.columns)}"
        )


def local_time_keys(ts: pd.Series, keys, timezone: str) -> dict[str, pd.Series]:
    """Local calendar day / week (Monday start) / month start of UTC (or naive-UTC) timestamps, tz-naive."""
    ts = pd.to_datetime(ts)
    if ts.dt.tz is None:
        ts = ts.dt.tz_localize("UTC")
    local = ts.dt.tz_convert(timezone).dt.tz_localize(None).dt.normalize()
    out = {}
    for key in keys:
        if key == "day":
            out[key] = local
        elif key == "week":
            out[key] = local - pd.to_timedelta(local.dt.day_of_week, unit="D")
        elif key == "month":
            out[key] = local.dt.to_period("M").dt.to_timestamp()
    return out


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``path`` via a temporary file in the same folder, fsync, then rename.

    Readers never see half a file; on any error (disk full, interrupt) the
    temporary file is removed and ``path`` keeps its previous content.
    """
    import os
    import tempfile
    from pathlib import Path

    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; reports are shared files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path, text: str) -> None:
    """:func:`atomic_write_bytes` of UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, data) -> None:
    """:func:`atomic_write_text` of ``json.dumps(data, indent=2)`` plus a newline."""
    import json

    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def sha256_file(path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
