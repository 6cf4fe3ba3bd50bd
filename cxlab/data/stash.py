"""The run's stash of validated tables: load and validate once per run, read memory-mapped after.

``cxlab run`` validates every table once, in the pipeline process, and
:func:`save` writes the accepted tables, the quarantine and the row
accounting as uncompressed Arrow IPC files under ``<run_dir>/.tables/``
with a manifest holding the *key* of what produced them
(:func:`stash_key`: the sources config with resolved paths, the sample
options, the time zone, the size and mtime of every input file).
:func:`cxlab.nb.setup` calls :func:`restore`: when the key still matches,
each notebook reads the tables memory-mapped (well under a second on the
default sample) instead of loading and validating them again.

Privacy: the stash holds accepted rows, customer ids included. It lives
in the run folder, beside ``quarantine/`` (raw rows) that stays there too;
dot folders never enter the run's zip (:func:`cxlab.brief.attachments.zip_run`),
and the pipeline removes the stash when the run ends, whether it succeeds
or fails (:func:`remove`). Only a run killed outright (SIGKILL, power loss)
leaves it behind, still inside its own run folder on the same machine.

The same file format carries other frames computed once per run (the
contact frame: :func:`write_frame`, :func:`read_frame`).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pandas as pd

from .._utils import atomic_write_text, sha256_file
from ..config import RunConfig
from .load import Dataset

__all__ = ["STASH_DIR", "STASH_MANIFEST", "USES_LOG", "stash_key", "save", "restore", "remove", "write_frame", "read_frame",
           "frames_equal", "uses", "fingerprint", "cached_frame"]

#: The stash folder inside a run folder (a dot folder: never zipped).
STASH_DIR = ".tables"
#: The stash's manifest file (key, files, accounting metadata).
STASH_MANIFEST = "manifest.json"
#: One JSON line per notebook setup in the run: ``step``, ``from`` (stash / load / memory), ``seconds``.
USES_LOG = "uses.jsonl"
_FORMAT = 1


def _file_stats(pattern: str) -> list[list]:
    files = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
    out = []
    for f in files:
        try:
            st = os.stat(f)
        except OSError:
            out.append([os.path.abspath(f), None, None])
            continue
        out.append([os.path.abspath(f), st.st_size, st.st_mtime_ns])
    return out


def stash_key(config: RunConfig) -> dict:
    """What a loaded :class:`~cxlab.data.Dataset` depends on, as a JSON-able dict.

    Parameters
    ----------
    config : cxlab.config.RunConfig

    Returns
    -------
    dict
        ``format``, ``cxlab`` (version), ``timezone`` and either ``sample``
        (seed, days, contacts per day) or ``sources``: per table the source
        config with its path resolved to an absolute one, and ``files``
        (``[path, bytes, mtime_ns]`` of every file the path or glob matches
        now). Two configs with equal keys load equal datasets, as long as a
        query source's database did not change in between (its file's
        size and mtime are part of the key when it is a ``.duckdb`` path).

    Examples
    --------
    >>> from cxlab.config import default_config
    >>> key = stash_key(default_config(sample={"days": 7, "contacts_per_day": 50}))
    >>> key["sample"], key["timezone"]
    ({'seed': 20251, 'days': 7, 'contacts_per_day': 50}, 'America/New_York')
    """
    from .. import __version__

    key: dict[str, Any] = {"format": _FORMAT, "cxlab": __version__, "timezone": config.timezone}
    if config.sources is None:
        key["sample"] = {"seed": config.sample.seed, "days": config.sample.days,
                         "contacts_per_day": config.sample.contacts_per_day}
        return key
    sources = {}
    for name, src in sorted(config.sources.items()):
        entry = src.model_dump(mode="json")
        if src.path:
            path = os.path.abspath(config.resolve(src.path))
            entry["path"] = path
            entry["files"] = _file_stats(path)
        sources[name] = entry
    key["sources"] = sources
    return key


def _digest(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


# ----------------------------------------------------------------------------------------- frames


def write_frame(path, df: pd.DataFrame, meta: dict | None = None, *, verify: bool = True) -> bool:
    """Write ``df`` as an uncompressed Arrow IPC file (atomically); False when it cannot round-trip.

    Parameters
    ----------
    path : path-like
    df : pandas.DataFrame
    meta : dict, optional
        JSON-able metadata stored in the file's schema (``cxlab`` key).
    verify : bool
        Read the file back and compare (:func:`frames_equal`); a frame whose
        dtypes or values would not come back identical is not kept.

    Returns
    -------
    bool
        True when the file was written (and read back equal).

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> df = pd.DataFrame({"a": [1.5, None], "t": pd.to_datetime(["2025-01-01", None], utc=True)})
    >>> p = Path(tempfile.mkdtemp()) / "f.arrow"
    >>> write_frame(p, df, {"n": 2})
    True
    >>> back, meta = read_frame(p)
    >>> frames_equal(back, df), meta
    (True, {'n': 2})
    """
    import pyarrow as pa
    import pyarrow.ipc as ipc

    path = Path(path)
    plain = df.copy(deep=False)
    plain.attrs = {}  # attrs travel in ``meta`` (pandas' own attrs metadata is JSON only)
    try:
        table = pa.Table.from_pandas(plain, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError):
        return False
    schema_meta = dict(table.schema.metadata or {})
    schema_meta[b"cxlab"] = json.dumps(meta or {}).encode()
    table = table.replace_schema_metadata(schema_meta)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with pa.OSFile(str(tmp), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    if verify:
        back, _ = read_frame(path)
        if not frames_equal(back, df):
            path.unlink(missing_ok=True)
            return False
    return True


def read_frame(path) -> tuple[pd.DataFrame, dict]:
    """Read a file of :func:`write_frame` memory-mapped; return ``(frame, metadata)``."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    with pa.memory_map(str(path), "r") as source:
        table = ipc.open_file(source).read_all()
    meta = json.loads((table.schema.metadata or {}).get(b"cxlab", b"{}"))
    return table.to_pandas(), meta


def frames_equal(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Whether two frames are equal in columns, dtypes and values (NaN equal to NaN; index ignored).

    Examples
    --------
    >>> import pandas as pd
    >>> frames_equal(pd.DataFrame({"x": [1.0]}), pd.DataFrame({"x": [1]}))
    False
    """
    if list(a.columns) != list(b.columns) or list(map(str, a.dtypes)) != list(map(str, b.dtypes)):
        return False
    return bool(a.reset_index(drop=True).equals(b.reset_index(drop=True)))


# ----------------------------------------------------------------------------------------- the stash


def save(dataset: Dataset, directory, config: RunConfig) -> Path | None:
    """Write ``dataset`` (as loaded from ``config``) to the stash folder ``directory``.

    Parameters
    ----------
    dataset : cxlab.data.Dataset
        The full loaded dataset (not cut to a window).
    directory : path-like
        Usually ``<run_dir>/.tables`` (:data:`STASH_DIR`); replaced if present.
    config : cxlab.config.RunConfig
        The config the dataset was loaded from (its :func:`stash_key` is stored).

    Returns
    -------
    pathlib.Path or None
        The manifest's path; None when some frame cannot be stored so that
        it reads back identical (then nothing is left, and notebooks load
        the data themselves as without a stash).

    Notes
    -----
    The manifest stores the SHA-256 of the key, not the key (a source query
    may hold a password). Every frame is written uncompressed (memory-mapped
    reads) and read back to check it equals the original: tables (accepted rows), quarantine
    (raw text), accounting and unknown counts. The key records the inputs'
    size and mtime first; then every input file's SHA-256 must still equal
    the one the load recorded (``dataset.source_hashes``), else nothing is
    stashed. So a file changed after the load either prevents the stash or
    makes :func:`restore` miss.
    """
    directory = Path(directory)
    key = stash_key(config)
    remove(directory)
    for path, digest in dataset.source_hashes.items():  # an input changed since it was loaded: no stash
        if os.path.isfile(path) and sha256_file(path) != digest:
            return None
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    files: dict[str, dict[str, str]] = {"tables": {}, "quarantine": {}}
    try:
        for group, frames in (("tables", dataset.tables), ("quarantine", dataset.quarantine)):
            for i, (name, df) in enumerate(frames.items()):
                fname = f"{group}-{i:02d}.arrow"
                if not isinstance(df, pd.DataFrame) or not write_frame(directory / fname, df):
                    remove(directory)
                    return None
                files[group][name] = fname
        for name in ("accounting", "unknown"):
            if not write_frame(directory / f"{name}.arrow", getattr(dataset, name)):
                remove(directory)
                return None
        manifest = {
            # only the key's digest: the key holds the sources config, whose queries may carry secrets
            "format": _FORMAT, "key_sha256": _digest(key), "created_at": time.time(),
            "files": files, "source_hashes": dataset.source_hashes, "timezone": dataset.timezone,
            "warnings": list(dataset.warnings),
        }
        atomic_write_text(directory / STASH_MANIFEST, json.dumps(manifest, indent=1))
    except BaseException:
        remove(directory)
        raise
    return directory / STASH_MANIFEST


def restore(directory, config: RunConfig) -> Dataset | None:
    """The stashed dataset when the stash in ``directory`` was made from what ``config`` loads now, else None.

    Parameters
    ----------
    directory : path-like
        The stash folder (``<run_dir>/.tables``).
    config : cxlab.config.RunConfig
        The notebook's config; its :func:`stash_key` must equal the stored one.

    Returns
    -------
    cxlab.data.Dataset or None
        None when there is no stash, the key differs (another config,
        sample, time zone, or an input file changed size or mtime), or a
        file is missing or unreadable: the caller loads as usual.
    """
    directory = Path(directory)
    try:
        manifest = json.loads((directory / STASH_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("format") != _FORMAT or manifest.get("key_sha256") != _digest(stash_key(config)):
        return None
    try:
        tables = {name: read_frame(directory / f)[0] for name, f in manifest["files"]["tables"].items()}
        quarantine = {name: read_frame(directory / f)[0] for name, f in manifest["files"]["quarantine"].items()}
        accounting = read_frame(directory / "accounting.arrow")[0]
        unknown = read_frame(directory / "unknown.arrow")[0]
    except (OSError, KeyError, ValueError):
        return None
    return Dataset(tables=tables, accounting=accounting, source_hashes=dict(manifest["source_hashes"]),
                   quarantine=quarantine, timezone=manifest["timezone"], warnings=tuple(manifest["warnings"]),
                   unknown=unknown)


def uses(directory) -> list[dict]:
    """The lines of ``<directory>/uses.jsonl`` (:data:`USES_LOG`): how each notebook of the run got its data."""
    try:
        text = (Path(directory) / USES_LOG).read_text(encoding="utf-8")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def remove(directory) -> None:
    """Delete the stash folder (nothing happens when it does not exist)."""
    shutil.rmtree(directory, ignore_errors=True)


# ----------------------------------------------------------------------------------------- fingerprints


def fingerprint(frames: dict, params: dict | None = None) -> str:
    """A content hash of named frames plus JSON-able parameters (the key of a frame computed from them).

    Parameters
    ----------
    frames : dict of str to pandas.DataFrame or None
        Input frames (None: absent). Each is hashed through Arrow: its
        column names, types and, per column, each chunk's offset, length
        and buffers (validity, offsets, values).
    params : dict, optional
        Parameters of the computation (sorted JSON).

    Returns
    -------
    str
        Hex BLAKE2b digest (32 bytes).

    Notes
    -----
    Equal digests mean equal inputs (up to a hash collision): the buffers,
    offsets and lengths determine every value. Equal inputs stored
    differently (another chunking, different bytes under a null) may give
    different digests; that only costs a recomputation.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"x": [1.0, 2.0], "s": ["a", None]})
    >>> fingerprint({"t": a}) == fingerprint({"t": a.copy()})
    True
    >>> fingerprint({"t": a}) == fingerprint({"t": a.iloc[1:]})
    False
    >>> fingerprint({"t": a}, {"w": 7}) == fingerprint({"t": a}, {"w": 14})
    False
    """
    import pyarrow as pa

    h = hashlib.blake2b(digest_size=32)
    h.update(json.dumps(params or {}, sort_keys=True, default=str).encode())
    for name in sorted(frames):
        df = frames[name]
        h.update(f"\x00frame:{name}".encode())
        if df is None:
            h.update(b"\x00none")
            continue
        h.update(json.dumps([[str(c), str(t)] for c, t in df.dtypes.items()]).encode())
        table = pa.Table.from_pandas(df, preserve_index=False)
        for col in table.columns:
            h.update(f"\x00col:{col.type}:{len(col)}".encode())
            for chunk in col.chunks:
                _hash_array(h, chunk)
    return h.hexdigest()


def _hash_array(h, arr) -> None:
    h.update(f"\x00arr:{arr.type}:{arr.offset}:{len(arr)}:{arr.null_count}".encode())
    for buf in arr.buffers():
        h.update(b"\x00buf" if buf is None else memoryview(buf))
    if hasattr(arr, "dictionary"):  # buffers() covers nested children, not a dictionary
        _hash_array(h, arr.dictionary)


def cached_frame(directory, name: str, key: str, compute):
    """``compute()`` once per ``key``: stored as ``<directory>/<name>-<key[:32]>.arrow``, read back after.

    Parameters
    ----------
    directory : path-like or None
        The cache folder (the run's stash); None computes without caching.
    name : str
        What the frame is (file name prefix).
    key : str
        :func:`fingerprint` of the inputs and parameters.
    compute : callable
        Returns a DataFrame whose ``attrs`` are JSON-able (stored in the
        file's metadata). A frame that would not read back identical
        (:func:`frames_equal`, attrs included) is returned but not cached.

    Returns
    -------
    (pandas.DataFrame, bool)
        The frame and whether it came from the cache.
    """
    if directory is None:
        return compute(), False
    path = Path(directory) / f"{name}-{key[:32]}.arrow"
    if path.is_file():
        try:
            df, meta = read_frame(path)
        except (OSError, ValueError):
            df = None
        if df is not None and meta.get("key") == key:
            df.attrs.update(_attrs_from_json(meta.get("attrs", {}), meta.get("attr_types", {})))
            return df, True
    out = compute()
    try:
        attrs, types = _attrs_to_json(out.attrs)
        if Path(directory).is_dir() and _attrs_from_json(attrs, types) == dict(out.attrs):
            write_frame(path, out, {"key": key, "attrs": attrs, "attr_types": types})
    except (TypeError, ValueError, OSError):
        path.unlink(missing_ok=True)
    return out, False


def _attrs_to_json(attrs: dict) -> tuple[dict, dict]:
    """Attrs as JSON (dataclass lists, e.g. the contact frame's coverage, by their class path)."""
    import dataclasses

    out, types = {}, {}
    for k, v in attrs.items():
        if isinstance(v, list) and v and all(dataclasses.is_dataclass(x) for x in v):
            cls = type(v[0])
            if any(type(x) is not cls for x in v):
                raise TypeError(f"attrs[{k!r}]: mixed classes")
            types[k] = f"{cls.__module__}:{cls.__qualname__}"
            v = [dataclasses.asdict(x) for x in v]
        out[k] = json.loads(json.dumps(v))
    return out, types


def _attrs_from_json(attrs: dict, types: dict) -> dict:
    import dataclasses
    import importlib

    out = {}
    for k, v in attrs.items():
        if k in types:
            mod, qual = types[k].split(":")
            if not mod.startswith("cxlab."):
                raise ValueError(f"attrs[{k!r}]: class {types[k]} is not cxlab's")
            cls = getattr(importlib.import_module(mod), qual)
            fields = {f.name: f for f in dataclasses.fields(cls)}
            v = [cls(**{n: tuple(x) if isinstance(x, list) and "tuple" in str(fields[n].type) else x
                        for n, x in d.items()}) for d in v]
        out[k] = v
    return out
