"""What the delivery modules share: run-folder lookups, file names, the delivery error."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from ..errors import MailError  # noqa: F401 (re-exported)

BRIEF = "07_brief.html"
BRIEF_NB = "07_brief.ipynb"
BRIEF_PDF = "07_brief.pdf"
VALIDATE_RESULTS = Path("results") / "06_validate.json"
#: The HTML body must stay under this many bytes (Gmail clips bodies over ~102 KB).
BODY_LIMIT = 100_000
USER_ENV = "CXLAB_SMTP_USER"
PASSWORD_ENV = "CXLAB_SMTP_PASSWORD"
FROM_ENV = "CXLAB_SMTP_FROM"
_FIXED_ZIP_TIME = (2020, 1, 1, 0, 0, 0)
_BANNER_TAG = "cxlab-error-banner"  # the run's error banner cell (cxlab.pipeline._common.BANNER_TAG)
_NO_ALT = "No description has been provided for this image"  # nbconvert's placeholder

#: Folders of a run that hold raw rows.
RAW_DIRS = frozenset({"quarantine"})
#: File types that hold raw rows (data extracts); never zipped unless privacy.allow_raw_rows.
RAW_SUFFIXES = frozenset({
    ".parquet", ".csv", ".tsv", ".txt", ".feather", ".arrow", ".ipc", ".duckdb", ".db", ".sqlite",
    ".sqlite3", ".jsonl", ".ndjson", ".xlsx", ".xls", ".pkl", ".pickle", ".gz", ".zst",
})
#: Raw-row files that can be cleaned column by column (the others never leave).
_CLEANABLE = frozenset({".parquet", ".csv"})
#: Bookkeeping columns of a quarantine file (cxlab.data.quarantine), kept when raw rows may leave.
_QUARANTINE_META = frozenset({"source_row", "source_file", "reason", "all_reasons"})
#: Text files of a run re-redacted before they are zipped.
_REDACT_FILES = frozenset({"config.yaml", "manifest.json"})



# --------------------------------------------------------------------------------------------- helpers


def _run_folder(run: str | os.PathLike) -> Path:
    p = Path(run)
    if p.is_dir() and (p / "latest").exists() and not (p / BRIEF).exists() and not (p / BRIEF_NB).exists():
        p = p / "latest"
    p = p.resolve()  # 'latest' is a symlink: name the run by its id
    if not p.is_dir():
        raise MailError(f"run folder not found: {p}")
    return p


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _run_config(root: Path) -> dict:
    """The run's ``config.yaml`` as a plain dict ({} when absent or unreadable)."""
    path = root / "config.yaml"
    if not path.is_file():
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def _privacy(config: dict) -> dict:
    p = config.get("privacy") or {}
    p = p if isinstance(p, dict) else {}
    return {k: bool(p.get(k, False)) for k in ("allow_customer_ids", "allow_comments", "allow_raw_rows")}


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]")

def _run_meta(root: Path) -> dict:
    manifest = _read_json(root / "manifest.json")
    run = manifest.get("run") if isinstance(manifest.get("run"), dict) else manifest
    def line(v):
        return _CONTROL.sub(" ", str(v)).strip()

    return {"title": line(run.get("title") or "cxlab brief"), "name": line(run.get("name") or root.parent.name),
            "status": line(run.get("status", "ok"))}


